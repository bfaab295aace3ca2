/* test_check.c: e2fsck's output as check and repair sum it up. The damaged file system is
 * made here, on the host, with mkfs.ext4 and debugfs -w; e2fsck's real output is parsed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "base/spawn.h"
#include "fs/e2fsck.h"
#include "fs/extfs.h"
#include "lib/run_ok.h"

struct fixture {
	char dir[64];
	char image[128];
};

static void write_file(const char *path, const char *text)
{
	FILE *file = fopen(path, "w");

	assert_non_null(file);
	fputs(text, file);
	fclose(file);
}

/* A 16 MiB ext4 with three files, then damaged the way a bad shutdown or a bad sector
 * would: an inode wiped under its directory entry (f2.txt, inode 13), another marked free
 * while in use, blocks marked free while in use, a wrong free-blocks count. */
static int make_damaged(void **state)
{
	struct fixture *fixture = calloc(1, sizeof *fixture);
	char root[128], path[192], debugfs_script[192];

	snprintf(fixture->dir, sizeof fixture->dir, "/tmp/test_check.XXXXXX");
	assert_non_null(mkdtemp(fixture->dir));
	snprintf(root, sizeof root, "%s/root", fixture->dir);
	mkdir(root, 0755);
	for (int i = 1; i <= 3; i++) {
		snprintf(path, sizeof path, "%s/f%d.txt", root, i);
		write_file(path, "hello\n");
	}
	snprintf(fixture->image, sizeof fixture->image, "%s/fs.img", fixture->dir);
	run_ok(ARGV("truncate", "-s", "16M", fixture->image));
	run_ok(ARGV("mkfs.ext4", "-q", "-F", "-b", "1024", "-d", root, fixture->image));
	snprintf(debugfs_script, sizeof debugfs_script, "%s/damage", fixture->dir);
	write_file(debugfs_script, "clri <13>\nfreei <12>\nfreeb 100 5\nssv free_blocks_count 12\n");
	run_ok(ARGV("debugfs", "-w", "-f", debugfs_script, fixture->image));
	*state = fixture;
	return 0;
}

static int remove_damaged(void **state)
{
	struct fixture *fixture = *state;
	char *argv[] = { "rm", "-rf", fixture->dir, NULL };
	struct spawn_request request = { .argv = argv };
	struct spawn_result result;

	spawn_run(&request, &result);
	spawn_result_free(&result);
	free(fixture);
	return 0;
}

static void fsck(const char *image, const char *mode, struct spawn_result *result,
    int expected_exit)
{
	assert_int_equal(e2fsck_run(image, mode, 0, 0, result), 0);
	if (spawn_exit_code(result) != expected_exit)
		fail_msg("e2fsck %s exited %d, not %d: %s", mode, spawn_exit_code(result),
		    expected_exit, result->output);
}

static void test_read_only_check_finds_each_kind(void **state)
{
	struct fixture *fixture = *state;
	struct spawn_result result;
	struct e2fsck_summary summary;

	fsck(fixture->image, "-n", &result, 4);
	e2fsck_summarise(result.output, &summary);
	assert_int_equal(summary.kinds[KIND_DELETED_INODE].problems, 1);
	assert_non_null(strstr(summary.kinds[KIND_DELETED_INODE].example,
	    "has deleted/unused inode 13"));
	assert_int_equal(summary.kinds[KIND_DIRECTORY_ENTRIES].problems, 1);	/* its filetype */
	/* The five blocks debugfs freed plus the wiped inode's block; inodes 12 and 13. */
	assert_int_equal(summary.kinds[KIND_BLOCK_BITMAP].items, 6);
	assert_int_equal(summary.kinds[KIND_INODE_BITMAP].items, 2);
	assert_true(summary.kinds[KIND_FREE_BLOCKS].problems >= 1);
	assert_int_equal(summary.kinds[KIND_OTHER].problems, 0);
	assert_int_equal(summary.problems, 8);
	assert_int_equal(summary.fixed, 0);
	assert_true(summary.still_errors);
	assert_false(summary.modified);
	assert_non_null(strstr(summary.usage, " files ("));
	spawn_result_free(&result);
}

static void test_repair_counts_fixes_then_clean(void **state)
{
	struct fixture *fixture = *state;
	struct spawn_result result;
	struct e2fsck_summary summary;

	fsck(fixture->image, "-y", &result, 1);
	e2fsck_summarise(result.output, &summary);
	/* Once the entry is cleared its wrong filetype is no longer asked about: 7, not 8. */
	assert_int_equal(summary.problems, 7);
	assert_int_equal(summary.fixed, summary.problems);
	assert_true(summary.modified);
	assert_int_equal(summary.kinds[KIND_DELETED_INODE].fixed, 1);
	spawn_result_free(&result);
	fsck(fixture->image, "-n", &result, 0);
	e2fsck_summarise(result.output, &summary);
	assert_int_equal(summary.problems, 0);
	spawn_result_free(&result);
}

static void test_superblock_facts_and_backup(void **state)
{
	struct fixture *fixture = *state;
	struct extfs_facts facts;
	char why[128];
	FILE *image;
	char zeros[1024] = { 0 };

	assert_int_equal(extfs_read(fixture->image, &facts, why, sizeof why), 0);
	assert_string_equal(facts.type, "ext4");
	assert_int_equal(facts.superblock, 0);
	assert_int_equal(facts.free_blocks, 12);	/* what debugfs set */
	/* Wipe the primary superblock: the backup in group 1 (block 8193) must be found. */
	image = fopen(fixture->image, "r+");
	assert_non_null(image);
	fseek(image, 1024, SEEK_SET);
	fwrite(zeros, 1, sizeof zeros, image);
	fclose(image);
	assert_int_equal(extfs_read(fixture->image, &facts, why, sizeof why), 0);
	assert_int_equal(facts.superblock, 8193);
	assert_int_equal(facts.blocksize, 1024);
	assert_non_null(strstr(facts.primary_error, "magic"));
}

static void test_not_ext_is_refused_with_the_reason(void **state)
{
	struct extfs_facts facts;
	char why[128];

	(void)state;
	assert_int_equal(extfs_read("/dev/null", &facts, why, sizeof why), -1);
	assert_true(why[0] != '\0');
}

static void test_classify_lines_e2fsck_prints(void **state)
{
	static const struct {
		const char *line;
		enum e2fsck_kind kind;
	} cases[] = {
		{ "Warning: skipping journal recovery because doing a read-only filesystem check.",
		    KIND_JOURNAL_RECOVERY },
		{ "Superblock has an invalid journal (inode 8).\nClear? no", KIND_JOURNAL },
		{ "Clearing orphaned inode 17 (uid=0, gid=0, mode=0100644, size=0)", KIND_ORPHANS },
		{ "Inode 12 ref count is 2, should be 1.  Fix? no", KIND_REFERENCE_COUNTS },
		{ "Directory inode 12, block #0, offset 0: directory corrupted\nSalvage? no",
		    KIND_DIRECTORY_ENTRIES },
		{ "Unattached inode 15\nConnect to /lost+found? no", KIND_UNATTACHED },
		{ "Inode 14, i_blocks is 8, should be 2.  Fix? no", KIND_INODE_SIZE },
		{ "Directories count wrong for group #0 (3, counted=2).\nFix? no",
		    KIND_DIRECTORIES_COUNT },
		{ "Inode 16 has illegal block(s).  Clear? no", KIND_BAD_BLOCKS },
		{ "Inode 16 has INLINE_DATA_FL flag but extended attribute not found.", KIND_INODES },
		{ "Something e2fsck may say one day.  Fix? no", KIND_OTHER },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof cases / sizeof cases[0]; i++)
		if (e2fsck_classify(cases[i].line) != cases[i].kind)
			fail_msg("\"%s\" classified as %s, not %s", cases[i].line,
			    e2fsck_kind_name(e2fsck_classify(cases[i].line)),
			    e2fsck_kind_name(cases[i].kind));
}

/* -y replays the journal without a question: that counts as a change. "Warning! ... is in
 * use" is about the device, not the file system. */
static void test_journal_replay_is_a_fix_and_in_use_is_no_damage(void **state)
{
	struct e2fsck_summary summary;

	(void)state;
	e2fsck_summarise("Warning!  /dev/vda is in use.\n/dev/mapper/rescue-vdb: recovering journal\n"
	    "Pass 1: Checking inodes, blocks, and sizes\n", &summary);
	assert_int_equal(summary.problems, 1);
	assert_int_equal(summary.kinds[KIND_JOURNAL_RECOVERY].fixed, 1);
	assert_int_equal(summary.kinds[KIND_OTHER].problems, 0);
}

static void test_bitmap_ranges_are_counted(void **state)
{
	(void)state;
	assert_int_equal(e2fsck_bitmap_items("Block bitmap differences:  +(100--104) -2330"), 6);
	assert_int_equal(e2fsck_bitmap_items("Inode bitmap differences:  +13 -14"), 2);
	assert_int_equal(e2fsck_bitmap_items("Block bitmap differences:  -(8193--8449)"), 257);
	assert_int_equal(e2fsck_bitmap_items("no colon"), 0);
}

/* The output of an e2fsck that gave up: the problems before it still count. */
static void test_aborted_run_keeps_what_it_found(void **state)
{
	struct e2fsck_summary summary;

	(void)state;
	e2fsck_summarise("e2fsck 1.47.0 (5-Feb-2023)\nPass 1: Checking inodes, blocks, and sizes\n"
	    "Pass 2: Checking directory structure\n"
	    "Directory inode 12, block #0, offset 0: directory corrupted\nSalvage? no\n\n\n"
	    "c.img: ********** WARNING: Filesystem still has errors **********\n\n"
	    "e2fsck: aborted\n", &summary);
	assert_int_equal(summary.problems, 1);
	assert_int_equal(summary.kinds[KIND_DIRECTORY_ENTRIES].problems, 1);
	assert_string_equal(summary.kinds[KIND_DIRECTORY_ENTRIES].example,
	    "Directory inode 12, block #0, offset 0: directory corrupted");
	assert_true(summary.aborted);
	assert_true(summary.still_errors);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_read_only_check_finds_each_kind, make_damaged,
		    remove_damaged),
		cmocka_unit_test_setup_teardown(test_repair_counts_fixes_then_clean, make_damaged,
		    remove_damaged),
		cmocka_unit_test_setup_teardown(test_superblock_facts_and_backup, make_damaged,
		    remove_damaged),
		cmocka_unit_test(test_not_ext_is_refused_with_the_reason),
		cmocka_unit_test(test_classify_lines_e2fsck_prints),
		cmocka_unit_test(test_journal_replay_is_a_fix_and_in_use_is_no_damage),
		cmocka_unit_test(test_bitmap_ranges_are_counted),
		cmocka_unit_test(test_aborted_run_keeps_what_it_found),
	};

	return cmocka_run_group_tests_name("check", tests, NULL, NULL);
}
