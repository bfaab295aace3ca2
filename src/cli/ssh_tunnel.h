/* ssh_tunnel.h: the reverse tunnel. A supervisor in the background keeps
 * `dbclient -R PORT:127.0.0.1:22` open to a jump host, so a machine behind NAT can be
 * reached from there, and starts it again with a growing pause (1 s to 60 s) when the
 * link drops. Its pid and its state ("URL port N -> port 22: up ...") are files in
 * /run/rescue, read by `rescue ssh status`.
 */
#ifndef RESCUE_SSH_TUNNEL_H
#define RESCUE_SSH_TUNNEL_H

#include <limits.h>
#include <sys/types.h>

#include "target/target.h"

#define SSH_TUNNEL_LOG "/run/rescue/ssh_reverse.log"

enum { SSH_TUNNEL_DEFAULT_PORT = 2222, SSH_TUNNEL_SETTLE_SECONDS = 5 };

struct ssh_tunnel {
	struct target target;		/* the jump host, ssh://USER@HOST[:PORT] */
	long remote_port;
	char key[PATH_MAX];		/* the client key's file */
	char home[PATH_MAX];		/* dbclient's HOME: the known_hosts target_ssh_check wrote */
};

struct ssh_tunnel_state {
	long pid;			/* the supervisor, 0 when none runs */
	char text[512];			/* "URL PORT: STATE" as the supervisor last wrote it */
};

/* URL (ssh://USER@HOST[:PORT], no path) and REMOTE_PORT into TUNNEL; 0 or EXIT_USAGE
 * (told). The client key is the caller's to fill in. */
int ssh_tunnel_parse(const char *url, long remote_port, struct ssh_tunnel *tunnel);
void ssh_tunnel_state_read(struct ssh_tunnel_state *state);
/* Leaves the supervisor in the background: its pid, or -1. */
pid_t ssh_tunnel_start(const struct ssh_tunnel *tunnel);
/* Whether the link is up after SSH_TUNNEL_SETTLE_SECONDS (and the supervisor alive). */
int ssh_tunnel_settled(pid_t supervisor);
/* Ends the supervisor STATE names (and its dbclient) and removes its files. */
void ssh_tunnel_stop(const struct ssh_tunnel_state *state);

#endif
