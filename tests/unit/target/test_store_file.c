/* test_store_file.c: the file:// store: the image written at positions and read back, the
 * map replaced with its backup kept, and each refusal naming what is wrong. */
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
#include <dirent.h>
#include <cmocka.h>

#include "lib/fake_sysfs.h"
#include "target/store.h"
#include "target/target.h"

static char *temporary_dir(void)
{
	char *dir = malloc(64);

	if (dir == NULL)
		abort();
	snprintf(dir, 64, "/tmp/rescue-store-XXXXXX");
	if (mkdtemp(dir) == NULL)
		abort();
	return dir;
}

static void remove_dir(char *dir)
{
	char command[256];

	snprintf(command, sizeof command, "rm -rf '%s'", dir);
	if (system(command) != 0)
		fail_msg("cannot remove %s", dir);
	free(dir);
}

static struct store *open_store(const char *dir, char *why, size_t why_size, int *transient)
{
	struct target target;
	char url[256];

	snprintf(url, sizeof url, "file://%s", dir);
	assert_int_equal(target_parse(url, &target, why, why_size), 0);
	return store_open(&target, "vdb", why, why_size, transient);
}

static char *file_text(const char *dir, const char *name)
{
	char path[256], *text = calloc(1, 4096);
	FILE *file;

	snprintf(path, sizeof path, "%s/%s", dir, name);
	file = fopen(path, "r");
	if (file == NULL) {
		free(text);
		return NULL;
	}
	if (fread(text, 1, 4095, file) == 0)
		text[0] = '\0';
	fclose(file);
	return text;
}

static int entries(const char *dir)
{
	DIR *directory = opendir(dir);
	struct dirent *entry;
	int count = 0;

	while ((entry = readdir(directory)) != NULL)
		count += entry->d_name[0] != '.' || strlen(entry->d_name) > 2;
	closedir(directory);
	return count;
}

static void test_image_written_at_positions_and_read_back(void **state)
{
	char *dir = temporary_dir(), why[512], data[8] = { 0 };
	int transient = 1;
	uint64_t size = 1, free_bytes = 0;
	struct store *store = open_store(dir, why, sizeof why, &transient);

	(void)state;
	assert_non_null(store);
	assert_int_equal(store_image_open(store, &size), 0);
	assert_true(size == 0);
	assert_int_equal(store_pwrite(store, "later", 5, 4096), 0);
	assert_int_equal(store_pwrite(store, "first", 5, 0), 0);
	assert_int_equal(store_flush(store), 0);
	assert_int_equal(store_pread(store, data, 5, 4096), 5);
	assert_string_equal(data, "later");
	/* A reconnect opens the same image again: the bytes are still there. */
	assert_int_equal(store_reconnect(store), 0);
	assert_int_equal(store_pread(store, data, 5, 0), 5);
	assert_string_equal(data, "first");
	assert_int_equal(store_free_space(store, &free_bytes), 0);
	assert_true(free_bytes > 0);
	store_close(store);
	store = open_store(dir, why, sizeof why, &transient);
	assert_int_equal(store_image_open(store, &size), 0);
	assert_true(size == 4101);
	store_close(store);
	remove_dir(dir);
}

static void test_map_replaced_with_the_old_one_kept(void **state)
{
	char *dir = temporary_dir(), why[512], *data = NULL, *text;
	int transient;
	size_t size = 0;
	struct store *store = open_store(dir, why, sizeof why, &transient);

	(void)state;
	assert_int_equal(store_get(store, "vdb.map", &data, &size), 1);
	assert_int_equal(store_replace(store, "vdb.map", "one\n", 4), 0);
	assert_int_equal(store_replace(store, "vdb.map", "two\n", 4), 0);
	assert_int_equal(store_get(store, "vdb.map", &data, &size), 0);
	assert_string_equal(data, "two\n");
	assert_true(size == 4);
	free(data);
	text = file_text(dir, "vdb.map.bak");
	assert_string_equal(text, "one\n");
	free(text);
	/* No temporary file is left behind: the map and its backup only. */
	assert_int_equal(entries(dir), 2);
	store_close(store);
	remove_dir(dir);
}

/* Pieces of "line N\n" for N up to 5, each handed out on its own. */
static size_t produce_lines(void *context, const char **piece)
{
	static char line[16];
	int *next = context;

	if (*next > 5)
		return 0;
	*piece = line;
	return (size_t)snprintf(line, sizeof line, "line %d\n", (*next)++);
}

static int gather_piece(void *context, const char *data, size_t size)
{
	strncat(context, data, size);
	return 0;
}

/* A file written a piece at a time and read back a piece at a time: the pieces in order,
 * the old file kept as .bak, nothing else left; a missing file is 1. */
static void test_files_written_and_read_a_piece_at_a_time(void **state)
{
	char *dir = temporary_dir(), why[512], got[256] = "", *text;
	int transient, next = 1;
	struct store *store = open_store(dir, why, sizeof why, &transient);

	(void)state;
	assert_int_equal(store_get_pieces(store, "vdb.map", gather_piece, got), 1);
	assert_int_equal(store_replace(store, "vdb.map", "old\n", 4), 0);
	assert_int_equal(store_replace_pieces(store, "vdb.map", produce_lines, &next), 0);
	assert_int_equal(store_get_pieces(store, "vdb.map", gather_piece, got), 0);
	assert_string_equal(got, "line 1\nline 2\nline 3\nline 4\nline 5\n");
	text = file_text(dir, "vdb.map.bak");
	assert_string_equal(text, "old\n");
	free(text);
	assert_int_equal(entries(dir), 2);
	store_close(store);
	remove_dir(dir);
}

/* A dump volume: written as .part under its own name, then renamed; done again (a reply
 * lost in a reconnect), the rename still succeeds; nbd-like schemes are not asked. */
static void test_named_file_sized_and_renamed(void **state)
{
	char *dir = temporary_dir(), why[512], *text;
	int transient;
	uint64_t size = 7;
	struct store *store = open_store(dir, why, sizeof why, &transient);

	(void)state;
	assert_int_equal(store_size_of(store, "v.001.tar", &size), 1);
	assert_int_equal(store_image_open_named(store, "v.001.tar.part", &size), 0);
	assert_int_equal(store_pwrite(store, "archive", 7, 0), 0);
	assert_int_equal(store_flush(store), 0);
	assert_int_equal(store_size_of(store, "v.001.tar.part", &size), 0);
	assert_true(size == 7);
	store_image_done(store);
	assert_int_equal(store_rename(store, "v.001.tar.part", "v.001.tar"), 0);
	assert_int_equal(store_rename(store, "v.001.tar.part", "v.001.tar"), 0);
	assert_int_equal(store_size_of(store, "v.001.tar.part", &size), 1);
	text = file_text(dir, "v.001.tar");
	assert_string_equal(text, "archive");
	free(text);
	assert_int_equal(store_rename(store, "nothing", "v.002.tar"), -1);
	assert_non_null(strstr(store_error(store), "unable to rename"));
	store_close(store);
	remove_dir(dir);
}

static void test_missing_directory_is_a_permanent_error_naming_it(void **state)
{
	char *dir = temporary_dir(), missing[128], why[512];
	int transient = 1;

	(void)state;
	snprintf(missing, sizeof missing, "%s/nope", dir);
	assert_null(open_store(missing, why, sizeof why, &transient));
	assert_int_equal(transient, 0);
	assert_non_null(strstr(why, missing));
	assert_non_null(strstr(why, "no such directory"));
	remove_dir(dir);
}

/* /dev/full answers every write with ENOSPC, as a full file system does. */
static void test_full_target_is_named_full(void **state)
{
	char *dir = temporary_dir(), path[256], why[512];
	int transient;
	uint64_t size;
	struct store *store;

	(void)state;
	snprintf(path, sizeof path, "%s/vdb.img", dir);
	assert_int_equal(symlink("/dev/full", path), 0);
	store = open_store(dir, why, sizeof why, &transient);
	assert_int_equal(store_image_open(store, &size), 0);
	assert_int_equal(store_pwrite(store, "x", 1, 0), -1);
	assert_int_equal(store_transient(store), 0);
	assert_non_null(strstr(store_error(store), "target full"));
	assert_non_null(strstr(store_error(store), "vdb.img"));
	assert_non_null(strstr(store_error(store), "file://"));
	store_close(store);
	remove_dir(dir);
}

/* The directory's mount is looked up in /sys/dev/block/MAJ:MIN: a fake sysfs that calls
 * it guarded must make the store refuse it. */
static void test_guarded_disk_refused(void **state)
{
	char *dir = temporary_dir(), *sysfs = fake_sysfs_create(), node[128], why[512];
	int transient;
	struct stat status;
	struct store *store;

	(void)state;
	assert_int_equal(stat(dir, &status), 0);
	if (major(status.st_dev) == 0)
		skip();
	setenv("RESCUE_SYSFS", sysfs, 1);
	snprintf(node, sizeof node, "dev/block/%u:%u/guard", major(status.st_dev),
	    minor(status.st_dev));
	fake_sysfs_write(sysfs, node, "1\n");
	store = open_store(dir, why, sizeof why, &transient);
	unsetenv("RESCUE_SYSFS");
	fake_sysfs_remove(sysfs);
	if (store) {
		/* /tmp is a bind or overlay mount whose MAJ:MIN is not the stat one. */
		store_close(store);
		remove_dir(dir);
		skip();
	}
	assert_non_null(strstr(why, "guarded"));
	assert_int_equal(transient, 0);
	remove_dir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_image_written_at_positions_and_read_back),
		cmocka_unit_test(test_map_replaced_with_the_old_one_kept),
		cmocka_unit_test(test_files_written_and_read_a_piece_at_a_time),
		cmocka_unit_test(test_named_file_sized_and_renamed),
		cmocka_unit_test(test_missing_directory_is_a_permanent_error_naming_it),
		cmocka_unit_test(test_full_target_is_named_full),
		cmocka_unit_test(test_guarded_disk_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
