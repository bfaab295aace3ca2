/* test_block.c: guard state and rejected writes as read from a fake sysfs tree. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "disk/block.h"
#include "lib/fake_sysfs.h"

static int make_disks(void **state)
{
	*state = fake_sysfs_with_disks();
	return 0;
}

static int remove_tree(void **state)
{
	fake_sysfs_remove(*state);
	return 0;
}

static void test_summary_counts_guarded_disks_and_rejected_writes(void **state)
{
	struct guard_summary summary;

	assert_int_equal(block_guard_summary(*state, &summary), 0);
	assert_int_equal(summary.devices, 3);		/* loop0 is the appliance's own */
	assert_int_equal(summary.guarded, 1);		/* sda */
	assert_int_equal(summary.rejected_writes, 7);	/* sda 5 + sdb 2 */
}

static void test_only_exactly_1_means_guarded(void **state)
{
	struct guard_summary summary;

	fake_sysfs_write(*state, "block/sdb/guard", "2\n");
	fake_sysfs_write(*state, "block/vda/guard", "on\n");
	assert_int_equal(block_guard_summary(*state, &summary), 0);
	assert_int_equal(summary.guarded, 1);
	fake_sysfs_write(*state, "block/vda/guard", "1");	/* no newline is still 1 */
	assert_int_equal(block_guard_summary(*state, &summary), 0);
	assert_int_equal(summary.guarded, 2);
}

static void test_device_attributes_are_read_and_trimmed(void **state)
{
	struct block_device device;

	assert_int_equal(block_device_read(*state, "sda", &device), 0);
	assert_string_equal(device.name, "sda");
	assert_true(device.size_bytes == 2097152ull * 512);
	assert_int_equal(device.read_only, 1);
	assert_int_equal(device.guarded, 1);
	assert_true(device.rejected_writes == 5);
	assert_string_equal(device.model, "QEMU HARDDISK");
}

/* A kernel without the guard patch: the device must read as unguarded, never as guarded. */
static void test_missing_attributes_read_as_unguarded_and_unknown(void **state)
{
	struct block_device device;

	assert_int_equal(block_device_read(*state, "vda", &device), 0);
	assert_int_equal(device.guarded, 0);
	assert_true(device.rejected_writes == 0);
	assert_int_equal(device.read_only, -1);
	assert_true(device.size_bytes == 0);
	assert_string_equal(device.model, "");
}

static void test_names_are_sorted(void **state)
{
	char **names;
	int count = block_names(*state, &names);

	assert_int_equal(count, 4);
	assert_string_equal(names[0], "loop0");
	assert_string_equal(names[1], "sda");
	assert_string_equal(names[2], "sdb");
	assert_string_equal(names[3], "vda");
	block_names_free(names, count);
}

static void test_empty_block_directory_counts_nothing(void **state)
{
	char *root = fake_sysfs_create();
	struct guard_summary summary;

	(void)state;
	fake_sysfs_write(root, "block/.keep", "");
	assert_int_equal(block_guard_summary(root, &summary), 0);
	assert_int_equal(summary.devices, 0);
	assert_int_equal(summary.guarded, 0);
	fake_sysfs_remove(root);
}

static void test_missing_sysfs_is_an_error_not_zero(void **state)
{
	char *root = fake_sysfs_create();
	struct guard_summary summary;

	(void)state;
	errno = 0;
	assert_int_equal(block_guard_summary(root, &summary), -1);
	assert_int_equal(errno, ENOENT);
	fake_sysfs_remove(root);
}

static void test_sysfs_root_comes_from_the_environment(void **state)
{
	(void)state;
	unsetenv("RESCUE_SYSFS");
	assert_string_equal(block_sysfs_root(), "/sys");
	setenv("RESCUE_SYSFS", "/tmp/fake", 1);
	assert_string_equal(block_sysfs_root(), "/tmp/fake");
	setenv("RESCUE_SYSFS", "", 1);
	assert_string_equal(block_sysfs_root(), "/sys");
	unsetenv("RESCUE_SYSFS");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_summary_counts_guarded_disks_and_rejected_writes,
		    make_disks, remove_tree),
		cmocka_unit_test_setup_teardown(test_only_exactly_1_means_guarded,
		    make_disks, remove_tree),
		cmocka_unit_test_setup_teardown(test_device_attributes_are_read_and_trimmed,
		    make_disks, remove_tree),
		cmocka_unit_test_setup_teardown(test_missing_attributes_read_as_unguarded_and_unknown,
		    make_disks, remove_tree),
		cmocka_unit_test_setup_teardown(test_names_are_sorted, make_disks, remove_tree),
		cmocka_unit_test(test_empty_block_directory_counts_nothing),
		cmocka_unit_test(test_missing_sysfs_is_an_error_not_zero),
		cmocka_unit_test(test_sysfs_root_comes_from_the_environment),
	};

	return cmocka_run_group_tests_name("block", tests, NULL, NULL);
}
