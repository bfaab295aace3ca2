/* target_ops.h: the steps behind target.h, one at a time, for `rescue target test` (which
 * reports on each step) and `rescue target key`. Commands that only store files use
 * target.h alone.
 *
 * ssh:// runs dropbear's dbclient in a session of its own (setsid), so it can never open
 * the console as /dev/tty to ask a question: host keys come from known_hosts on the
 * config disk (strict) or are trusted on first use, passwords travel in DROPBEAR_PASSWORD
 * in the child's environment only. Each (host, port) has its own known_hosts in RAM.
 */
#ifndef RESCUE_TARGET_OPS_H
#define RESCUE_TARGET_OPS_H

#include <stddef.h>
#include <sys/types.h>

#include "target/target.h"

/* Where the client key and the per-host known_hosts live; RESCUE_CLIENT_DIR moves it
 * (tests). rootfs/lib/rescue/client.sh makes the key at boot in the same place. */
#define TARGET_CLIENT_DIR_DEFAULT "/run/rescue/client"
#define TARGET_CLIENT_DIR_ENV "RESCUE_CLIENT_DIR"

const char *target_scheme_name(enum target_scheme scheme);
unsigned target_port(const struct target *target);	/* the port, or the scheme's default */

/* A TCP connection to HOST:PORT within TIMEOUT seconds: the descriptor, or -1 with WHY. */
int target_tcp_connect(const char *host, unsigned port, int timeout_seconds, char *why,
    size_t why_size);

/* 0 when PATH (an existing directory) is not on a guarded block device; -1 with WHY
 * ("on vda1, part of guarded disk vda") when it is or cannot be resolved. */
int target_file_guard_check(const char *path, char *why, size_t why_size);

/* The client key: the private key file dbclient gets with -i and its public line.
 * A key from the config disk (converted) wins over the one made at boot; when neither
 * exists yet one is made now. 0, or -1 with WHY. */
int target_client_key(char *private_path, size_t path_size, char *public_line,
    size_t line_size, char *why, size_t why_size);

/* What the first connection to an ssh:// target found out. */
enum target_ssh_state {
	TARGET_SSH_OK = 0,
	TARGET_SSH_HOSTKEY = 1,		/* the host key is unknown (strict) or does not match */
	TARGET_SSH_AUTH = 2,		/* the server refused our key and password */
	TARGET_SSH_ERROR = 3,		/* anything else: no client, timeout, connection lost */
};

struct target_ssh_check {
	enum target_ssh_state state;
	char hostkey[256];	/* "SHA256:... trusted on first use", "known (config disk)", ... */
	char why[512];		/* what failed, from dbclient's own message */
};

/* Connects once and runs `echo` on the target, so host key and login are settled before
 * any data is sent. Always fills CHECK; returns its state. */
int target_ssh_check(const struct target *target, struct target_ssh_check *check);
/* 1 when a session may start without target_ssh_check: a check passed before (in this
 * process, or in an earlier one with the same known_hosts) and the port answers. A session
 * that then fails is explained by target_ssh_check. */
int target_ssh_ready(const struct target *target);

struct target_ssh_reply {
	int exit_code;		/* the remote command's (dbclient passes it on); 255 own failure */
	int timed_out;
	char *output;		/* stdout, NUL-terminated; free with target_ssh_reply_free */
	size_t output_size;
	char errors[1024];	/* the last lines of stderr (dbclient's and the remote command's) */
};

/* Runs COMMAND (for a POSIX sh on the target) with INPUT on its stdin; 0 when dbclient ran
 * (whatever the exit code), -1 with errno when it could not be started. */
int target_ssh_run(const struct target *target, const char *command, const void *input,
    size_t input_size, int timeout_seconds, struct target_ssh_reply *reply);
void target_ssh_reply_free(struct target_ssh_reply *reply);

/* A long-lived session with a subsystem ("sftp"): dbclient's stdin and stdout are the other
 * end of the socket *FD, its stderr is kept for the reason it ends. Call target_ssh_check
 * (or target_ssh_ready) first: the host key must be settled, so dbclient never asks
 * anything on the stream. 0, or -1 with WHY. */
struct target_ssh_session {
	pid_t pid;
	int errors;		/* a memory file with dbclient's stderr */
};
int target_ssh_subsystem(const struct target *target, const char *subsystem, int *fd,
    struct target_ssh_session *session, char *why, size_t why_size);
/* Ends the session (SIGTERM, then SIGKILL after 2 s) and gives dbclient's last lines. */
void target_ssh_end(struct target_ssh_session *session, char *errors, size_t size);

/* TEXT in single quotes for a POSIX shell; "" when it does not fit in SIZE. */
void target_shell_quote(const char *text, char *quoted, size_t size);

#endif
