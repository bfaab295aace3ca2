/* ssh_server.h: the appliance's own SSH server, dropbear: its host keys and their
 * fingerprints, root's authorised keys and password, the open sessions, starting and
 * stopping it. Boot starts it the same way (rootfs/lib/rescue/ssh.sh); `rescue ssh`
 * drives it from here. Failures are told with err.h and returned as exit codes.
 */
#ifndef RESCUE_SSH_SERVER_H
#define RESCUE_SSH_SERVER_H

#include <stddef.h>

#include "target/sshkey.h"

#define SSH_SERVER_PORT 22
#define SSH_AUTHORIZED_KEYS_DIR "/root/.ssh"
#define SSH_AUTHORIZED_KEYS "/root/.ssh/authorized_keys"
#define SSH_SHADOW "/etc/shadow"

enum { SSH_KEYS_MAX = 64, SSH_HOST_KEYS_MAX = 2 };

/* The keys in root's authorized_keys that parse, with their SHA256 fingerprints. */
struct ssh_key_list {
	struct sshkey keys[SSH_KEYS_MAX];
	char fingerprints[SSH_KEYS_MAX][SSHKEY_FINGERPRINT_MAX];
	int count;
};

struct ssh_host_key {
	const char *kind;		/* ED25519, ECDSA */
	char fingerprint[SSHKEY_FINGERPRINT_MAX];
};

void ssh_keys_read(struct ssh_key_list *list);
/* The host keys made so far (at most SSH_HOST_KEYS_MAX): their count. */
int ssh_host_keys_read(struct ssh_host_key *host_keys);
/* Prints "PREFIXKIND SHA256:..." per host key and saves them for the menu's header. */
void ssh_host_keys_print(const char *prefix);

/* 1 when root has a password (password logins are on). */
int ssh_password_on(void);
/* PASSWORD's SHA-512 crypt hash into HASH; 0 or an exit code (told). */
int ssh_password_hash(const char *password, char *hash, size_t size);

/* The server's open sessions: its children (dropbear forks one per connection). */
int ssh_sessions_count(long server);
/* Starts dropbear on SSH_SERVER_PORT (host keys made when missing), password logins
 * allowed when root has a password; 0 once its pid file names a live process, or an exit
 * code (told). */
int ssh_server_start(void);
/* Stops the server and waits until it is gone; open sessions stay connected. */
void ssh_server_stop(void);

/* For the server and the tunnel's supervisor: drops what a daemon must not inherit (the
 * journal's nesting, the SSH session's origin). */
void ssh_daemon_environment(void);
/* Waits up to 5 s for PID to end. */
void ssh_wait_gone(long pid);

#endif
