/* target.h: where rescued data goes (DESIGN section 6): parsing target URLs and the few
 * operations every command needs from a target, whatever its scheme.
 *
 *   ssh://[user[:password]@]host[:port]/path   dbclient; works against any stock OpenSSH
 *   nbd://host[:port][/export]  nfs://host/export[/path]  smb://[user@]host/share[/path]
 *   tcp://host:port             a plain stream: images of healthy sources, archives
 *   file:///path                RAM, or a disk released with `rescue unguard`
 *
 * Credentials never leave this module in clear: target->display is the URL with any
 * password replaced by "***", for messages, the journal and reports.
 */
#ifndef RESCUE_TARGET_H
#define RESCUE_TARGET_H

#include <limits.h>
#include <stddef.h>

enum target_scheme { TARGET_SSH, TARGET_NBD, TARGET_NFS, TARGET_SMB, TARGET_TCP, TARGET_FILE };

struct target {
	enum target_scheme scheme;
	char display[PATH_MAX + 512];	/* the URL without its password */
	char user[64];
	char password[128];		/* from the URL or rescue.conf; "" when none */
	char host[256];
	unsigned port;			/* 0: the scheme's default */
	char path[PATH_MAX];		/* directory on the target ("" for tcp and nbd) */
};

/* 0 when URL is a target URL; else -1 with WHY naming what is wrong ("no host", ...). */
int target_parse(const char *url, struct target *target, char *why, size_t why_size);

/* The default target (rescue.target= or rescue.conf), or NULL. */
const char *target_default(void);

/* Writes DATA as NAME in the target's directory: to a temporary name first, renamed when it
 * is complete and read back equal, so a half-written file never carries the final name.
 * Returns 0, or -1 after an err_warn naming the target (display form) and what failed.
 * Supported for ssh://, file://, nfs:// and smb:// (mounted by the kernel, netmount.h);
 * nbd:// and tcp:// are refused with a message. */
int target_put_file(const struct target *target, const char *name, const void *data,
    size_t size);

#endif
