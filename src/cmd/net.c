/* net: show the network, or configure an interface by DHCP or by hand
 *
 * usage: rescue net [--json]
 *        rescue net dhcp [IFACE]
 *        rescue net static IFACE ADDR/PREFIX [GATEWAY [DNS]]
 *        rescue net down IFACE
 *
 * Without a subcommand: every interface with its link state (up, down, no-carrier), MAC
 * address and addresses, then the default route and the DNS servers.
 *
 * dhcp asks for a lease on IFACE (every wired interface when none is given) with busybox
 * udhcpc and the boot's own script, which sets the address, default route and DNS. The
 * lease is taken once (-q): it is not renewed, which suits a rescue session.
 * static replaces the interface's IPv4 addresses with ADDR/PREFIX (IPv4), and sets the
 * default route via GATEWAY and the DNS server DNS when given.
 * down removes the interface's IPv4 addresses and takes the link down.
 * dhcp, static and down first stop the DHCP client that boot left running on IFACE, so it
 * cannot undo the change at the next renewal.
 *
 * Options:
 *   -j, --json   print the state as JSON
 *
 * Exit codes: 0 done, 2 usage error (a bad interface, address, prefix or gateway is
 * named), 3 the change failed (no DHCP answer, ip refused it).
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/err.h"
#include "base/journal.h"
#include "base/json.h"
#include "base/spawn.h"
#include "cli/command.h"
#include "cli/opt.h"
#include "disk/block.h"
#include "usage/net.h"

static int net_main(int argc, char **argv);

const struct command command_net = {
	.name = "net",
	.summary = COMMAND_SUMMARY,
	.usage = COMMAND_USAGE,
	.menu_label = "network: addresses, route, DNS",
	.menu_rank = 50,
	.run = net_main,
};

#define UDHCPC_SCRIPT "/usr/share/udhcpc/default.script"	/* rootfs/ */
#define UDHCPC_PIDFILE "/run/udhcpc.%s.pid"			/* rootfs/lib/rescue/net.sh */
#define RESOLV_CONF "/etc/resolv.conf"

enum { INTERFACES_MAX = 32, ADDRESSES_MAX = 16 };

struct interface {
	char name[IF_NAMESIZE];
	char state[16];
	char mac[32];
	char addresses[ADDRESSES_MAX][INET6_ADDRSTRLEN + 16];
	int address_count;
};

struct net_state {
	struct interface interfaces[INTERFACES_MAX];
	int count;
	char gateway[INET_ADDRSTRLEN];	/* "" when there is no default route */
	char gateway_dev[IF_NAMESIZE];
	char dns[8][INET6_ADDRSTRLEN];
	int dns_count;
};

/* ---------------------------------------------------------------- reading the state */

static int sysfs_net_read(const char *name, const char *attribute, char *value, size_t size)
{
	char path[512];
	FILE *file;

	snprintf(path, sizeof path, "%s/class/net/%s/%s", block_sysfs_root(), name, attribute);
	value[0] = '\0';
	file = fopen(path, "re");
	if (file == NULL)
		return -1;
	if (fgets(value, (int)size, file) == NULL)
		value[0] = '\0';
	fclose(file);
	value[strcspn(value, "\n")] = '\0';
	return value[0] ? 0 : -1;
}

static void link_state(struct interface *interface)
{
	char flags[32], carrier[8];

	sysfs_net_read(interface->name, "flags", flags, sizeof flags);
	if (!(strtoul(flags, NULL, 16) & IFF_UP))
		snprintf(interface->state, sizeof interface->state, "down");
	else if (sysfs_net_read(interface->name, "carrier", carrier, sizeof carrier) == 0
	    && strcmp(carrier, "0") == 0)
		snprintf(interface->state, sizeof interface->state, "no-carrier");
	else
		snprintf(interface->state, sizeof interface->state, "up");
	if (sysfs_net_read(interface->name, "address", interface->mac, sizeof interface->mac) != 0)
		snprintf(interface->mac, sizeof interface->mac, "-");
}

static int name_compare(const void *a, const void *b)
{
	return strcmp(((const struct interface *)a)->name, ((const struct interface *)b)->name);
}

static int interfaces_read(struct net_state *state)
{
	char path[512];
	struct dirent *entry;
	DIR *dir;

	snprintf(path, sizeof path, "%s/class/net", block_sysfs_root());
	dir = opendir(path);
	if (dir == NULL)
		return -1;
	while ((entry = readdir(dir)) && state->count < INTERFACES_MAX) {
		struct interface *interface = &state->interfaces[state->count];

		if (entry->d_name[0] == '.' || strlen(entry->d_name) >= sizeof interface->name)
			continue;
		memcpy(interface->name, entry->d_name, strlen(entry->d_name) + 1);
		link_state(interface);
		state->count++;
	}
	closedir(dir);
	qsort(state->interfaces, (size_t)state->count, sizeof state->interfaces[0], name_compare);
	return 0;
}

static int prefix_length(const struct sockaddr *mask)
{
	const unsigned char *bytes;
	size_t size, i;
	int bits = 0;

	if (mask == NULL)
		return 0;
	if (mask->sa_family == AF_INET) {
		bytes = (const unsigned char *)&((const struct sockaddr_in *)mask)->sin_addr;
		size = 4;
	} else {
		bytes = (const unsigned char *)&((const struct sockaddr_in6 *)mask)->sin6_addr;
		size = 16;
	}
	for (i = 0; i < size; i++)
		bits += __builtin_popcount(bytes[i]);
	return bits;
}

static struct interface *interface_find(struct net_state *state, const char *name)
{
	int i;

	for (i = 0; i < state->count; i++)
		if (strcmp(state->interfaces[i].name, name) == 0)
			return &state->interfaces[i];
	return NULL;
}

static void addresses_read(struct net_state *state)
{
	struct ifaddrs *list, *entry;

	if (getifaddrs(&list) != 0)
		return;
	for (entry = list; entry; entry = entry->ifa_next) {
		struct interface *interface = interface_find(state, entry->ifa_name);
		const void *address;
		char text[INET6_ADDRSTRLEN];
		int family;

		if (interface == NULL || entry->ifa_addr == NULL
		    || interface->address_count >= ADDRESSES_MAX)
			continue;
		family = entry->ifa_addr->sa_family;
		if (family == AF_INET)
			address = &((struct sockaddr_in *)entry->ifa_addr)->sin_addr;
		else if (family == AF_INET6)
			address = &((struct sockaddr_in6 *)entry->ifa_addr)->sin6_addr;
		else
			continue;
		inet_ntop(family, address, text, sizeof text);
		snprintf(interface->addresses[interface->address_count++],
		    sizeof interface->addresses[0], "%s/%d", text, prefix_length(entry->ifa_netmask));
	}
	freeifaddrs(list);
}

/* /proc/net/route holds addresses as hex of the bytes in network order. */
static void route_read(struct net_state *state)
{
	FILE *routes = fopen("/proc/net/route", "re");
	char line[256], dev[IF_NAMESIZE];
	unsigned destination, gateway, flags, mask;

	if (routes == NULL)
		return;
	while (fgets(line, sizeof line, routes))
		if (sscanf(line, "%15s %x %x %x %*s %*s %*s %x", dev, &destination, &gateway, &flags,
		    &mask) == 5 && destination == 0 && mask == 0 && (flags & 0x2)) {
			struct in_addr address = { .s_addr = gateway };

			inet_ntop(AF_INET, &address, state->gateway, sizeof state->gateway);
			snprintf(state->gateway_dev, sizeof state->gateway_dev, "%s", dev);
			break;
		}
	fclose(routes);
}

static void dns_read(struct net_state *state)
{
	FILE *resolv = fopen(RESOLV_CONF, "re");
	char line[256], server[INET6_ADDRSTRLEN];

	if (resolv == NULL)
		return;
	while (fgets(line, sizeof line, resolv) && state->dns_count < 8)
		if (sscanf(line, "nameserver %45s", server) == 1)
			snprintf(state->dns[state->dns_count++], sizeof state->dns[0], "%s", server);
	fclose(resolv);
}

/* ---------------------------------------------------------------- showing it */

static void show_text(const struct net_state *state)
{
	int i, j;

	for (i = 0; i < state->count; i++) {
		const struct interface *interface = &state->interfaces[i];

		printf("%-10s %-10s %-17s", interface->name, interface->state, interface->mac);
		for (j = 0; j < interface->address_count; j++)
			printf(" %s", interface->addresses[j]);
		printf("%s\n", interface->address_count ? "" : " (no address)");
	}
	if (state->gateway[0])
		printf("default route via %s dev %s\n", state->gateway, state->gateway_dev);
	else
		printf("default route: none\n");
	printf("dns:");
	for (i = 0; i < state->dns_count; i++)
		printf(" %s", state->dns[i]);
	printf("%s\n", state->dns_count ? "" : " none");
}

static void show_json(const struct net_state *state)
{
	int i, j;

	printf("{\"interfaces\":[");
	for (i = 0; i < state->count; i++) {
		const struct interface *interface = &state->interfaces[i];

		printf("%s{", i ? "," : "");
		json_member_string(stdout, "name", interface->name, 0);
		json_member_string(stdout, "state", interface->state, 1);
		json_member_string(stdout, "mac", interface->mac, 1);
		printf(",\"addresses\":[");
		for (j = 0; j < interface->address_count; j++) {
			printf("%s", j ? "," : "");
			json_string(stdout, interface->addresses[j]);
		}
		printf("]}");
	}
	printf("],\"default_route\":");
	if (state->gateway[0]) {
		printf("{");
		json_member_string(stdout, "gateway", state->gateway, 0);
		json_member_string(stdout, "dev", state->gateway_dev, 1);
		printf("}");
	} else {
		printf("null");
	}
	printf(",\"dns\":[");
	for (i = 0; i < state->dns_count; i++) {
		printf("%s", i ? "," : "");
		json_string(stdout, state->dns[i]);
	}
	printf("]}\n");
}

static int show(int json)
{
	static struct net_state state;
	int i, addresses = 0;

	if (interfaces_read(&state) != 0)
		return err_fatal(EXIT_SYSTEM, "unable to list %s/class/net", block_sysfs_root());
	addresses_read(&state);
	route_read(&state);
	dns_read(&state);
	if (json)
		show_json(&state);
	else
		show_text(&state);
	for (i = 0; i < state.count; i++)
		addresses += state.interfaces[i].address_count;
	journal_summary("%d interfaces, %d addresses, default route %s", state.count, addresses,
	    state.gateway[0] ? state.gateway : "none");
	return EXIT_OK;
}

/* ---------------------------------------------------------------- changing it */

/* A name from the user is checked before it goes into a path or a command line. */
static int interface_check(const char *name)
{
	char value[32];
	const char *c;

	for (c = name; *c; c++)
		if (!isalnum((unsigned char)*c) && *c != '.' && *c != '-' && *c != '_')
			break;
	if (*c || name[0] == '\0' || strlen(name) >= IF_NAMESIZE
	    || sysfs_net_read(name, "flags", value, sizeof value) != 0)
		return err_fatalx(EXIT_USAGE, "unable to use interface '%s': no such network "
		    "interface (see `rescue net`)", name);
	return 0;
}

static int run(char *const *argv, int timeout, char *output, size_t size)
{
	struct spawn_request request = { .argv = argv, .flags = SPAWN_STDERR,
	    .timeout_seconds = timeout };
	struct spawn_result result;
	int code;

	if (spawn_run(&request, &result) != 0) {
		snprintf(output, size, "%s", err_text(errno));
		return -1;
	}
	code = result.timed_out ? -1 : spawn_exit_code(&result);
	snprintf(output, size, "%s", result.output);
	output[strcspn(output, "\n")] = '\0';
	spawn_result_free(&result);
	return code;
}

static int ip(char *const *argv, const char *what)
{
	char output[512];

	if (run(argv, 20, output, sizeof output) != 0)
		return err_fatalx(EXIT_SYSTEM, "unable to %s: ip: %s", what, output);
	return 0;
}

/* The udhcpc boot started (net.sh) would renew its lease over our change. */
static void dhcp_stop(const char *name)
{
	char path[64], comm[32] = "", proc[64];
	FILE *file;
	long pid = 0;

	snprintf(path, sizeof path, UDHCPC_PIDFILE, name);
	file = fopen(path, "re");
	if (file == NULL)
		return;
	if (fscanf(file, "%ld", &pid) != 1)
		pid = 0;
	fclose(file);
	snprintf(proc, sizeof proc, "/proc/%ld/comm", pid);
	file = pid > 0 ? fopen(proc, "re") : NULL;
	if (file) {
		if (fgets(comm, sizeof comm, file) && strncmp(comm, "udhcpc", 6) == 0)
			kill((pid_t)pid, SIGTERM);
		fclose(file);
	}
	unlink(path);
}

static int dhcp_one(const char *name)
{
	char output[1024];
	char *up[] = { "ip", "link", "set", (char *)name, "up", NULL };
	char *udhcpc[] = { "udhcpc", "-i", (char *)name, "-n", "-q", "-t", "4", "-T", "2",
	    "-x", "hostname:rescue", "-s", UDHCPC_SCRIPT, NULL };

	dhcp_stop(name);
	if (ip(up, "bring the link up") != 0)
		return EXIT_SYSTEM;
	printf("%s: asking for a DHCP lease...\n", name);
	fflush(stdout);
	if (run(udhcpc, 60, output, sizeof output) != 0) {
		err_warnx("unable to get a DHCP lease on %s: no answer after 4 tries", name);
		return EXIT_SYSTEM;
	}
	return EXIT_OK;
}

/* Wired interfaces: type 1 (Ethernet), not wireless, not loopback. */
static int dhcp(int count, char **names)
{
	static struct net_state state;
	int i, worst = EXIT_OK, tried = 0;

	if (count == 1) {
		if (interface_check(names[0]) != 0)
			return EXIT_USAGE;
		worst = dhcp_one(names[0]);
	} else {
		interfaces_read(&state);
		for (i = 0; i < state.count; i++) {
			char type[8], wireless[512];

			snprintf(wireless, sizeof wireless, "%s/class/net/%s/wireless", block_sysfs_root(),
			    state.interfaces[i].name);
			if (sysfs_net_read(state.interfaces[i].name, "type", type, sizeof type) != 0
			    || strcmp(type, "1") != 0 || access(wireless, F_OK) == 0)
				continue;
			tried++;
			if (dhcp_one(state.interfaces[i].name) != EXIT_OK)
				worst = EXIT_SYSTEM;
		}
		if (tried == 0)
			return err_fatalx(EXIT_SYSTEM, "unable to ask for DHCP: no wired interface");
	}
	show(0);
	journal_summary("dhcp on %s: %s", count ? names[0] : "every wired interface",
	    worst == EXIT_OK ? "lease obtained" : "no lease");
	return worst;
}

static int ipv4_check(const char *text, const char *what)
{
	struct in_addr address;

	if (inet_pton(AF_INET, text, &address) != 1)
		return err_fatalx(EXIT_USAGE, "unable to use %s '%s': not an IPv4 address", what, text);
	return 0;
}

static int address_check(const char *text)
{
	char address[INET_ADDRSTRLEN + 8], *slash, *end;
	long prefix;

	snprintf(address, sizeof address, "%s", text);
	slash = strchr(address, '/');
	if (slash == NULL || strlen(text) >= sizeof address)
		return err_fatalx(EXIT_USAGE, "unable to use address '%s': want ADDR/PREFIX, "
		    "e.g. 192.0.2.10/24", text);
	*slash = '\0';
	prefix = strtol(slash + 1, &end, 10);
	if (slash[1] == '\0' || *end != '\0' || prefix < 1 || prefix > 32)
		return err_fatalx(EXIT_USAGE, "unable to use prefix '%s' in '%s': want 1-32",
		    slash + 1, text);
	return ipv4_check(address, "address");
}

static int static_config(int count, char **operands)
{
	const char *name = operands[0], *address = operands[1];
	const char *gateway = count > 2 ? operands[2] : NULL, *dns = count > 3 ? operands[3] : NULL;
	char *up[] = { "ip", "link", "set", (char *)name, "up", NULL };
	char *flush[] = { "ip", "-4", "addr", "flush", "dev", (char *)name, NULL };
	char *add[] = { "ip", "addr", "add", (char *)address, "dev", (char *)name, NULL };
	char *route[] = { "ip", "route", "replace", "default", "via", (char *)gateway, "dev",
	    (char *)name, NULL };
	FILE *resolv;

	if (interface_check(name) != 0 || address_check(address) != 0
	    || (gateway && ipv4_check(gateway, "gateway") != 0) || (dns && ipv4_check(dns, "DNS server") != 0))
		return EXIT_USAGE;
	dhcp_stop(name);
	if (ip(up, "bring the link up") || ip(flush, "remove the old addresses")
	    || ip(add, "add the address") || (gateway && ip(route, "set the default route")))
		return EXIT_SYSTEM;
	if (dns) {
		resolv = fopen(RESOLV_CONF, "we");
		if (resolv == NULL || fprintf(resolv, "nameserver %s\n", dns) < 0 || fclose(resolv) != 0)
			return err_fatal(EXIT_SYSTEM, "unable to write %s", RESOLV_CONF);
	}
	show(0);
	journal_summary("%s set to %s%s%s%s%s", name, address, gateway ? " via " : "",
	    gateway ? gateway : "", dns ? " dns " : "", dns ? dns : "");
	return EXIT_OK;
}

static int down(const char *name)
{
	char *flush[] = { "ip", "-4", "addr", "flush", "dev", (char *)name, NULL };
	char *link[] = { "ip", "link", "set", (char *)name, "down", NULL };

	if (interface_check(name) != 0)
		return EXIT_USAGE;
	dhcp_stop(name);
	if (ip(flush, "remove the addresses") || ip(link, "take the link down"))
		return EXIT_SYSTEM;
	printf("%s: down, IPv4 addresses removed\n", name);
	journal_summary("%s down", name);
	return EXIT_OK;
}

static int net_main(int argc, char **argv)
{
	static const struct option long_options[] = {
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 },
	};
	struct opt_parser opts = opt_parser(&command_net, argc, argv, "j", long_options);
	const char *sub;
	int option, json = 0, count;

	while ((option = opt_next(&opts)) != OPT_DONE)
		switch (option) {
		case 'j': json = 1; break;
		case OPT_STOP: return opts.exit_code;
		}
	if (opt_operands(&opts, 0, 5) != 0)
		return opts.exit_code;
	if (opts.operand_count == 0)
		return show(json);
	sub = opts.operands[0];
	count = opts.operand_count - 1;
	if (strcmp(sub, "dhcp") == 0 && count <= 1)
		return dhcp(count, opts.operands + 1);
	if (strcmp(sub, "static") == 0 && count >= 2 && count <= 4)
		return static_config(count, opts.operands + 1);
	if (strcmp(sub, "down") == 0 && count == 1)
		return down(opts.operands[1]);
	if (strcmp(sub, "dhcp") == 0 || strcmp(sub, "static") == 0 || strcmp(sub, "down") == 0)
		return err_usage(command_net.usage, "wrong number of operands for '%s'", sub);
	return err_usage(command_net.usage, "unknown subcommand '%s' (want dhcp, static or down)",
	    sub);
}
