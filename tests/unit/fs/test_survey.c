/* test_survey.c: the look inside a mounted file system, and the mount table and partition
 * lookups mount, umount, check and repair rely on. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>
#include <cmocka.h>

#include "disk/device.h"
#include "fs/survey.h"
#include "lib/fake_sysfs.h"

static void make_file(const char *root, const char *path, const char *content)
{
	char full[512], *slash;
	FILE *file;

	snprintf(full, sizeof full, "%s/%s", root, path);
	for (slash = full + strlen(root) + 1; (slash = strchr(slash, '/')) != NULL; slash++) {
		*slash = '\0';
		mkdir(full, 0755);
		*slash = '/';
	}
	file = fopen(full, "w");
	assert_non_null(file);
	fputs(content, file);
	fclose(file);
}

/* A root file system as a server leaves it: a PostgreSQL 15 cluster where Debian puts it,
 * MariaDB, a mail spool with two mailboxes, a Maildir, two homes, an fstab. */
static int make_tree(void **state)
{
	char *root = strdup("/tmp/test_survey.XXXXXX");

	assert_non_null(mkdtemp(root));
	make_file(root, "etc/fstab", "/dev/sda1 / ext4 defaults 0 1\n");
	make_file(root, "var/lib/postgresql/15/main/PG_VERSION", "15\n");
	make_file(root, "var/lib/postgresql/15/main/global/pg_control", "x");
	make_file(root, "var/lib/postgresql/14/old/PG_VERSION", "14\n");	/* no pg_control */
	make_file(root, "var/lib/mysql/ibdata1", "x");
	make_file(root, "var/mail/alice", "From x\n");
	make_file(root, "var/mail/bob", "From y\n");
	make_file(root, "home/alice/Maildir/cur/1", "mail");
	make_file(root, "home/bob/notes.txt", "n");
	*state = root;
	return 0;
}

static int remove_tree(void **state)
{
	char command[128];

	snprintf(command, sizeof command, "rm -rf %s", (char *)*state);
	assert_int_equal(system(command), 0);
	free(*state);
	return 0;
}

static const struct survey_find *find_kind(const struct survey *survey, const char *kind,
    const char *path)
{
	int i;

	for (i = 0; i < survey->find_count; i++)
		if (strcmp(survey->finds[i].kind, kind) == 0
		    && strcmp(survey->finds[i].path, path) == 0)
			return &survey->finds[i];
	return NULL;
}

static void test_finds_databases_mail_homes_fstab(void **state)
{
	struct survey survey;
	const struct survey_find *find;

	assert_int_equal(survey_run(*state, &survey_default_limits, &survey), 0);
	find = find_kind(&survey, "postgresql", "var/lib/postgresql/15/main");
	assert_non_null(find);
	assert_non_null(strstr(find->detail, "version 15"));
	assert_null(find_kind(&survey, "postgresql", "var/lib/postgresql/14/old"));
	assert_non_null(find_kind(&survey, "mysql", "var/lib/mysql"));
	find = find_kind(&survey, "mail", "var/mail");
	assert_non_null(find);
	assert_non_null(strstr(find->detail, "2 mailboxes"));
	assert_non_null(find_kind(&survey, "mail", "home/alice/Maildir"));
	find = find_kind(&survey, "home", "home");
	assert_non_null(find);
	assert_non_null(strstr(find->detail, "alice"));
	assert_non_null(strstr(find->detail, "bob"));
	assert_non_null(find_kind(&survey, "fstab", "etc/fstab"));
	assert_true(survey.search_complete);
}

static void test_top_level_sizes_sorted_and_complete(void **state)
{
	struct survey survey;

	assert_int_equal(survey_run(*state, &survey_default_limits, &survey), 0);
	assert_int_equal(survey.top_count, 3);
	assert_string_equal(survey.top[0].name, "etc");
	assert_string_equal(survey.top[1].name, "home");
	assert_string_equal(survey.top[2].name, "var");
	assert_true(survey.top[2].directory);
	/* var itself and the 15 directories and files below it. */
	assert_int_equal(survey.top[2].files, 16);
	assert_true(survey.sizes_complete);
	assert_true(survey.size > 0 && survey.used > 0 && survey.inodes > 0);
}

static void test_budget_gives_at_least(void **state)
{
	struct survey_limits limits = survey_default_limits;
	struct survey survey;

	limits.max_entries = 3;
	limits.max_depth = 1;
	assert_int_equal(survey_run(*state, &limits, &survey), 0);
	assert_false(survey.sizes_complete);
	assert_null(find_kind(&survey, "postgresql", "var/lib/postgresql/15/main"));
}

static void test_missing_root_is_an_error(void **state)
{
	struct survey survey;

	(void)state;
	assert_int_equal(survey_run("/nonexistent/rescue", &survey_default_limits, &survey), -1);
}

/* mountinfo as the kernel writes it, with a space in a mount point escaped as \040. */
static void test_mount_table_lookups(void **state)
{
	char path[] = "/tmp/test_mountinfo.XXXXXX", dir[256];
	int fd = mkstemp(path);
	FILE *file = fdopen(fd, "w");
	dev_t rdev;

	(void)state;
	fputs("22 1 0:20 / /run rw,nosuid - tmpfs tmpfs rw\n"
	    "40 22 253:1 / /mnt/vda1 ro,nodev - ext4 /dev/vda1 ro,noload\n"
	    "41 22 8:17 / /mnt/my\\040disk ro - vfat /dev/sdb1 ro\n", file);
	fclose(file);
	assert_int_equal(device_mount_point(path, makedev(253, 1), dir, sizeof dir), 1);
	assert_string_equal(dir, "/mnt/vda1");
	assert_int_equal(device_mount_point(path, makedev(8, 17), dir, sizeof dir), 1);
	assert_string_equal(dir, "/mnt/my disk");
	assert_int_equal(device_mount_point(path, makedev(8, 1), dir, sizeof dir), 0);
	assert_int_equal(device_mounted_at(path, "/mnt/my disk", &rdev), 1);
	assert_int_equal(rdev, makedev(8, 17));
	assert_int_equal(device_mounted_at(path, "/mnt", &rdev), 0);
	unlink(path);
	assert_int_equal(device_mount_point(path, makedev(8, 1), dir, sizeof dir), -1);
}

/* btrfs shows an anonymous device number (0:N): the mount source names the device. */
static void test_btrfs_mount_found_by_its_source(void **state)
{
	char path[] = "/tmp/test_mountinfo.XXXXXX", dir[256];
	int fd = mkstemp(path);
	FILE *file = fdopen(fd, "w");
	struct stat loop;

	(void)state;
	if (stat("/dev/loop0", &loop) != 0 || !S_ISBLK(loop.st_mode))
		skip();
	fputs("42 22 0:45 / /mnt/b ro,nosuid - btrfs /dev/loop0 ro,rescue=nologreplay\n", file);
	fclose(file);
	assert_int_equal(device_mount_point(path, loop.st_rdev, dir, sizeof dir), 1);
	assert_string_equal(dir, "/mnt/b");
	unlink(path);
}

static void test_partitions_of_a_disk(void **state)
{
	char *root = fake_sysfs_create(), list[128];

	(void)state;
	fake_sysfs_write(root, "block/vda/size", "65536\n");
	fake_sysfs_write(root, "block/vda/vda1/partition", "1\n");
	fake_sysfs_write(root, "block/vda/vda2/partition", "2\n");
	fake_sysfs_write(root, "block/vdb/size", "65536\n");
	assert_int_equal(device_partitions(root, "vda", list, sizeof list), 2);
	assert_true(strcmp(list, "vda1 vda2") == 0 || strcmp(list, "vda2 vda1") == 0);
	assert_int_equal(device_partitions(root, "vdb", list, sizeof list), 0);
	assert_int_equal(device_partitions(root, "vda1", list, sizeof list), 0);
	fake_sysfs_remove(root);
}

static void test_device_names(void **state)
{
	struct device device;

	(void)state;
	assert_int_equal(device_resolve("/dev/null", &device), -1);
	assert_string_equal(device_resolve_error(errno), "not a block device");
	assert_int_equal(device_resolve("nosuchdisk9", &device), -1);
	assert_string_equal(device_resolve_error(errno), "no such device");
	assert_int_equal(device_resolve("../etc/passwd", &device), -1);
	assert_int_equal(device_resolve("", &device), -1);
	assert_non_null(device_content_advice("swap"));
	assert_non_null(strstr(device_content_advice("linux_raid_member"), "mdadm"));
	assert_null(device_content_advice("ext4"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_finds_databases_mail_homes_fstab, make_tree,
		    remove_tree),
		cmocka_unit_test_setup_teardown(test_top_level_sizes_sorted_and_complete, make_tree,
		    remove_tree),
		cmocka_unit_test_setup_teardown(test_budget_gives_at_least, make_tree, remove_tree),
		cmocka_unit_test(test_missing_root_is_an_error),
		cmocka_unit_test(test_mount_table_lookups),
		cmocka_unit_test(test_btrfs_mount_found_by_its_source),
		cmocka_unit_test(test_partitions_of_a_disk),
		cmocka_unit_test(test_device_names),
	};

	return cmocka_run_group_tests_name("survey", tests, NULL, NULL);
}
