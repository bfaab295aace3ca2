/* status.h: the few facts an operator needs first: which machine, which addresses, whether
 * the disks are guarded, whether SSH is up. The menu shows them as its header; the boot's
 * "rescue: ready" line will print the same. */
#ifndef RESCUE_STATUS_H
#define RESCUE_STATUS_H

#include <stddef.h>
#include <stdio.h>
#include <sys/types.h>

struct ifaddrs;

pid_t ssh_server_pid(const char *pidfile);
void ipv4_addresses_format(const struct ifaddrs *interfaces, char *text, size_t size);
void status_print(FILE *out, const char *sysfs_root, const char *ssh_pidfile);

#endif
