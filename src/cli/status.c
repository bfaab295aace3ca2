/* status.c: the header lines of the menu, each fact read fresh when it is printed. */
#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/err.h"
#include "base/paths.h"
#include "disk/block.h"
#include "target/target.h"
#include "version.h"
#include "cli/status.h"

/* A pid file outlives a crashed server, so the process itself must still exist; EPERM
 * from kill means it exists but belongs to someone else, which still counts. */
pid_t ssh_server_pid(const char *pidfile)
{
	FILE *file = fopen(pidfile, "re");
	char text[32], *end;
	long pid = 0;

	if (file == NULL)
		return 0;
	if (fgets(text, sizeof text, file) != NULL) {
		errno = 0;
		pid = strtol(text, &end, 10);
		if (errno != 0 || end == text || (*end != '\n' && *end != '\0'))
			pid = 0;
	}
	fclose(file);
	if (pid <= 0 || (pid_t)pid != pid)
		return 0;
	if (kill((pid_t)pid, 0) != 0 && errno != EPERM)
		return 0;
	return (pid_t)pid;
}

static int prefix_length(const struct sockaddr *netmask)
{
	uint32_t mask;
	int bits = 0;

	if (netmask == NULL || netmask->sa_family != AF_INET)
		return 32;
	mask = ntohl(((const struct sockaddr_in *)(const void *)netmask)->sin_addr.s_addr);
	while (mask & 0x80000000u) {
		bits++;
		mask <<= 1;
	}
	return bits;
}

/* Appends ITEM with a separator, or " ..." once the line is full, so the header keeps to
 * one line of an 80-column console however many interfaces there are. Returns 0 when the
 * line is full. */
static int append_item(char *text, size_t size, const char *item)
{
	size_t used = strlen(text);
	const char *separator = used ? ", " : "";

	if (used + strlen(separator) + strlen(item) + strlen(" ...") >= size) {
		snprintf(text + used, size - used, " ...");
		return 0;
	}
	snprintf(text + used, size - used, "%s%s", separator, item);
	return 1;
}

/* Lists "IFACE ADDRESS/PREFIX" for every IPv4 address except loopback. */
void ipv4_addresses_format(const struct ifaddrs *interfaces, char *text, size_t size)
{
	const struct ifaddrs *interface;
	char address[INET_ADDRSTRLEN], item[IF_NAMESIZE + INET_ADDRSTRLEN + 16];
	int room = 1;

	text[0] = '\0';
	for (interface = interfaces; interface && room; interface = interface->ifa_next) {
		if (interface->ifa_addr == NULL || interface->ifa_addr->sa_family != AF_INET)
			continue;
		if (interface->ifa_flags & IFF_LOOPBACK)
			continue;
		inet_ntop(AF_INET,
		    &((const struct sockaddr_in *)(const void *)interface->ifa_addr)->sin_addr,
		    address, sizeof address);
		snprintf(item, sizeof item, "%.*s %s/%d", IF_NAMESIZE, interface->ifa_name,
		    address, prefix_length(interface->ifa_netmask));
		room = append_item(text, size, item);
	}
	if (text[0] == '\0')
		snprintf(text, size, "no IPv4 address");
}

static void print_network(FILE *out)
{
	struct ifaddrs *interfaces;
	char text[72];

	if (getifaddrs(&interfaces) != 0) {
		fprintf(out, "net:   unknown (unable to list interfaces: %s)\n", err_text(errno));
		return;
	}
	ipv4_addresses_format(interfaces, text, sizeof text);
	freeifaddrs(interfaces);
	fprintf(out, "net:   %s\n", text);
}

static void print_guard_and_ssh(FILE *out, const char *sysfs_root, const char *ssh_pidfile)
{
	struct guard_summary summary;
	pid_t ssh_pid = ssh_server_pid(ssh_pidfile);
	char ssh[32] = "off";

	if (ssh_pid > 0)
		snprintf(ssh, sizeof ssh, "running (pid %ld)", (long)ssh_pid);
	if (block_guard_summary(sysfs_root, &summary) != 0) {
		fprintf(out, "disks: unknown (unable to read %s/block: %s)\nssh:   %s\n",
		    sysfs_root, err_text(errno), ssh);
		return;
	}
	fprintf(out, "disks: %u guarded of %u, %llu writes rejected   ssh: %s\n",
	    summary.guarded, summary.devices, summary.rejected_writes, ssh);
}

/* The first host key fingerprint, so a remote colleague can be told what to expect. */
static void print_fingerprint(FILE *out, const char *ssh_pidfile)
{
	FILE *file;
	char line[160];

	if (ssh_server_pid(ssh_pidfile) <= 0)
		return;
	file = fopen(RESCUE_SSH_FINGERPRINTS, "re");
	if (file == NULL)
		return;
	if (fgets(line, sizeof line, file) != NULL && line[0] != '\n')
		fprintf(out, "host key: %s", line);
	fclose(file);
}

/* Credentials are not shown: the display form of the URL has none. */
static void print_target(FILE *out)
{
	const char *url = target_default();
	struct target target;
	char why[128];

	if (url == NULL)
		fprintf(out, "target: none set (rescue.target=URL)\n");
	else if (target_parse(url, &target, why, sizeof why) == 0)
		fprintf(out, "target: %.70s\n", target.display);
	else
		fprintf(out, "target: unusable (%s)\n", why);
}

void status_print(FILE *out, const char *sysfs_root, const char *ssh_pidfile)
{
	char host[256] = "(no host name)";

	if (gethostname(host, sizeof host - 1) != 0)
		snprintf(host, sizeof host, "(no host name)");
	fprintf(out, "rescue %s on %.60s\n", RESCUE_VERSION, host);
	print_network(out);
	print_guard_and_ssh(out, sysfs_root, ssh_pidfile);
	print_fingerprint(out, ssh_pidfile);
	print_target(out);
}
