/* test_status.c: the menu header's facts: SSH state from the pid file, IPv4 addresses, and
 * the guard line read from a fake sysfs. */
#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "cli/status.h"
#include "lib/fake_sysfs.h"

static char *write_pidfile(const char *content)
{
	char *root = fake_sysfs_create();

	fake_sysfs_write(root, "dropbear.pid", content);
	return root;
}

static pid_t pid_from(const char *root)
{
	char path[4096];

	snprintf(path, sizeof path, "%s/dropbear.pid", root);
	return ssh_server_pid(path);
}

static void test_ssh_runs_when_the_pid_is_alive(void **state)
{
	char content[32], *root;

	(void)state;
	snprintf(content, sizeof content, "%ld\n", (long)getpid());
	root = write_pidfile(content);
	assert_int_equal(pid_from(root), getpid());
	fake_sysfs_remove(root);
}

static void test_ssh_is_off_for_a_stale_or_bad_pid_file(void **state)
{
	char content[32], *root;
	pid_t child = fork();

	(void)state;
	if (child == 0)
		_exit(0);
	waitpid(child, NULL, 0);	/* reaped: the pid names no process now */
	snprintf(content, sizeof content, "%ld\n", (long)child);
	root = write_pidfile(content);
	assert_int_equal(pid_from(root), 0);
	fake_sysfs_remove(root);
	root = write_pidfile("dropbear\n");
	assert_int_equal(pid_from(root), 0);
	fake_sysfs_remove(root);
	root = write_pidfile("-1\n");
	assert_int_equal(pid_from(root), 0);
	fake_sysfs_remove(root);
	assert_int_equal(ssh_server_pid("/nonexistent/dropbear.pid"), 0);
}

struct fake_interface {
	struct ifaddrs entry;
	struct sockaddr_in address, netmask;
};

static void fake_interface(struct fake_interface *fake, const char *name, const char *address,
    const char *netmask, unsigned flags, struct fake_interface *next)
{
	memset(fake, 0, sizeof *fake);
	fake->entry.ifa_name = (char *)name;
	fake->entry.ifa_flags = flags;
	fake->entry.ifa_addr = (struct sockaddr *)&fake->address;
	fake->entry.ifa_netmask = (struct sockaddr *)&fake->netmask;
	fake->entry.ifa_next = next ? &next->entry : NULL;
	fake->address.sin_family = AF_INET;
	fake->netmask.sin_family = AF_INET;
	inet_pton(AF_INET, address, &fake->address.sin_addr);
	inet_pton(AF_INET, netmask, &fake->netmask.sin_addr);
}

static void test_addresses_skip_loopback_and_show_prefix(void **state)
{
	struct fake_interface lo, eth0, eth1;
	char text[72];

	(void)state;
	fake_interface(&eth1, "eth1", "192.168.7.9", "255.255.0.0", IFF_UP, NULL);
	fake_interface(&eth0, "eth0", "10.0.2.15", "255.255.255.0", IFF_UP, &eth1);
	fake_interface(&lo, "lo", "127.0.0.1", "255.0.0.0", IFF_UP | IFF_LOOPBACK, &eth0);
	ipv4_addresses_format(&lo.entry, text, sizeof text);
	assert_string_equal(text, "eth0 10.0.2.15/24, eth1 192.168.7.9/16");
}

static void test_no_address_is_said_plainly(void **state)
{
	struct fake_interface lo;
	char text[72];

	(void)state;
	fake_interface(&lo, "lo", "127.0.0.1", "255.0.0.0", IFF_LOOPBACK, NULL);
	ipv4_addresses_format(&lo.entry, text, sizeof text);
	assert_string_equal(text, "no IPv4 address");
	ipv4_addresses_format(NULL, text, sizeof text);
	assert_string_equal(text, "no IPv4 address");
}

static void test_many_addresses_fit_one_console_line(void **state)
{
	struct fake_interface interfaces[8];
	char text[72];
	int i;

	(void)state;
	for (i = 7; i >= 0; i--)
		fake_interface(&interfaces[i], "enp0s31f6", "203.0.113.200", "255.255.255.0",
		    IFF_UP, i < 7 ? &interfaces[i + 1] : NULL);
	ipv4_addresses_format(&interfaces[0].entry, text, sizeof text);
	assert_true(strlen(text) < sizeof text);
	assert_true(strncmp(text, "enp0s31f6 203.0.113.200/24, ", 28) == 0);
	assert_non_null(strstr(text, " ..."));
}

/* The status header for sysfs ROOT, with no SSH server running. */
static void print_status(const char *root, char *text, size_t size)
{
	FILE *out = tmpfile();
	size_t length;

	assert_non_null(out);
	status_print(out, root, "/nonexistent/dropbear.pid");
	rewind(out);
	length = fread(text, 1, size - 1, out);
	text[length] = '\0';
	fclose(out);
}

static void test_status_shows_guard_counts_from_sysfs(void **state)
{
	char *root = fake_sysfs_with_disks(), text[4096];

	(void)state;
	print_status(root, text, sizeof text);
	assert_true(strncmp(text, "rescue ", 7) == 0);
	assert_non_null(strstr(text, "\nnet:   "));
	assert_non_null(strstr(text, "\ndisks: 1 guarded of 3, 7 writes rejected   ssh: off\n"));
	fake_sysfs_remove(root);
}

static void test_status_says_when_sysfs_is_unreadable(void **state)
{
	char *root = fake_sysfs_create(), line[4096];

	(void)state;
	print_status(root, line, sizeof line);
	assert_non_null(strstr(line, "\ndisks: unknown (unable to read "));
	assert_null(strstr(line, "guarded"));
	fake_sysfs_remove(root);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ssh_runs_when_the_pid_is_alive),
		cmocka_unit_test(test_ssh_is_off_for_a_stale_or_bad_pid_file),
		cmocka_unit_test(test_addresses_skip_loopback_and_show_prefix),
		cmocka_unit_test(test_no_address_is_said_plainly),
		cmocka_unit_test(test_many_addresses_fit_one_console_line),
		cmocka_unit_test(test_status_shows_guard_counts_from_sysfs),
		cmocka_unit_test(test_status_says_when_sysfs_is_unreadable),
	};

	return cmocka_run_group_tests_name("status", tests, NULL, NULL);
}
