/* test_session.c: what a report attests about the write guard, and what it leaves out. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "disk/session.h"
#include "lib/fake_sysfs.h"

static void test_disks_and_partitions_with_unguard_history(void **state)
{
	char *sysfs = fake_sysfs_with_disks(), unguarded[4096];
	struct attestation *list;
	size_t count;

	(void)state;
	fake_sysfs_write(sysfs, "block/sda/sda1/partition", "1\n");
	fake_sysfs_write(sysfs, "block/sda/sda1/rejected_writes", "3\n");
	fake_sysfs_write(sysfs, "block/sdb/sdb1/partition", "1\n");
	fake_sysfs_write(sysfs, "unguarded", "sdb 1700000000\n");
	snprintf(unguarded, sizeof unguarded, "%s/unguarded", sysfs);
	assert_int_equal(session_attestation(sysfs, unguarded, &list, &count), 0);
	/* sda, sda1, sdb, sdb1, vda; loop0 is the appliance's own device. */
	assert_int_equal(count, 5);
	assert_string_equal(list[0].name, "sda");
	assert_true(list[0].guarded_since_boot);
	assert_true(list[0].rejected_writes == 5);
	assert_string_equal(list[1].name, "sda1");
	assert_true(list[1].partition);
	assert_true(list[1].guarded_since_boot);
	assert_true(list[1].rejected_writes == 3);
	assert_string_equal(list[2].name, "sdb");
	assert_false(list[2].guarded_since_boot);
	assert_string_equal(list[2].unguarded_at, "2023-11-14T22:13:20Z");
	/* Partitions have no guard of their own: they follow their disk. */
	assert_string_equal(list[3].name, "sdb1");
	assert_false(list[3].guarded);
	assert_false(list[3].guarded_since_boot);
	assert_string_equal(list[3].unguarded_at, "2023-11-14T22:13:20Z");
	/* A kernel without the guard: never claimed as guarded. */
	assert_string_equal(list[4].name, "vda");
	assert_false(list[4].guarded_since_boot);
	free(list);
	fake_sysfs_remove(sysfs);
}

static void test_command_line_loses_keys_and_passwords(void **state)
{
	char text[512];

	(void)state;
	session_redact_command_line("console=ttyS0 rescue.ssh_key=c3NoLWVkMjU1MTkgQUFBQQ== "
	    "rescue.target=ssh://u:secret@h/d rescue.net=dhcp\n", text, sizeof text);
	assert_string_equal(text, "console=ttyS0 rescue.ssh_key=(key) "
	    "rescue.target=ssh://u:***@h/d rescue.net=dhcp");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_disks_and_partitions_with_unguard_history),
		cmocka_unit_test(test_command_line_loses_keys_and_passwords),
	};

	return cmocka_run_group_tests_name("session", tests, NULL, NULL);
}
