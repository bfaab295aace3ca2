/* netmount.h: nfs:// and smb:// targets as directories. The kernel's own NFS or CIFS client
 * mounts the share once under RESCUE_TARGET_MOUNTS, and from then on the target is a
 * directory that the file:// code writes into like any other.
 *
 *   nfs://host[:port]/export[/path]   NFS version 4.0 over TCP (our kernel has no 4.1);
 *                                      `host:/export/path` mounted as it is (NFSv4 mounts
 *                                      a directory below an export);
 *                                      hard, so a server that goes away and comes back
 *                                      stalls the writer instead of failing it
 *   smb://[user[:password]@]host[:port]/share[/path]   SMB 3 through the kernel's cifs;
 *                                      without a user, a guest login
 *
 * The host is resolved and reached here (a TCP connection within 10 s), so an unreachable
 * server is named as such instead of leaving a mount hanging. The password travels in the
 * mount(2) data only: never on a command line, and cifs leaves it out of /proc/mounts.
 */
#ifndef RESCUE_NETMOUNT_H
#define RESCUE_NETMOUNT_H

#include <stddef.h>

#include "target/target.h"

#define RESCUE_TARGET_MOUNTS "/run/rescue/targets"

/* The local directory that is TARGET's path, mounted now or by an earlier command: 0, or
 * -1 with WHY ("login refused by 10.0.2.2 port 445", "no such export ..."). */
int netmount_dir(const struct target *target, char *dir, size_t dir_size, char *why,
    size_t why_size);

/* The mount(2) data for TARGET reached at ADDRESS (numeric): "vers=4.0,addr=...". -1 when
 * it does not fit. Exposed for the unit tests. */
int netmount_options(const struct target *target, const char *address, char *data,
    size_t data_size);

#endif
