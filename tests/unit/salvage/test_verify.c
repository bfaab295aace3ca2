/* test_verify.c: `rescue verify`'s comparison over real files: a regular file as the source
 * (read through source_read, as on the appliance), the image in a file:// store, a map
 * saying which ranges were rescued; and the command's refusals. */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "cli/command.h"
#include "lib/fake_sysfs.h"
#include "salvage/mapfile.h"
#include "salvage/source.h"
#include "salvage/verify.h"
#include "target/store.h"
#include "target/target.h"

enum { SIZE = 64 * 1024, CHUNK = 4096 };

struct fixture {
	char dir[64];
	char source_path[128];
	unsigned char data[SIZE];
	struct source source;
	struct store *store;
	struct mapfile map;
	struct verify_result result;
};

static void write_file(const char *path, const void *data, size_t size)
{
	FILE *file = fopen(path, "w");

	assert_non_null(file);
	assert_int_equal(fwrite(data, 1, size, file), size);
	assert_int_equal(fclose(file), 0);
}

static void patch_file(const char *path, const void *data, size_t size, off_t position)
{
	int fd = open(path, O_WRONLY);

	assert_true(fd >= 0);
	assert_int_equal(pwrite(fd, data, size, position), (ssize_t)size);
	close(fd);
}

static void open_source(struct fixture *fixture)
{
	memset(&fixture->source, 0, sizeof fixture->source);
	fixture->source.fd = open(fixture->source_path, O_RDONLY);
	fixture->source.direct_fd = -1;
	fixture->source.identity.size = SIZE;
	fixture->source.identity.sector_size = 512;
	assert_true(fixture->source.fd >= 0);
}

/* A source of SIZE pseudo-random bytes, its exact copy as vdb.img in a file:// store. */
static int setup(void **state)
{
	struct fixture *fixture = calloc(1, sizeof *fixture);
	char url[128], why[512], image[128];
	struct target target;
	uint64_t size;
	int transient, i;

	assert_non_null(fixture);
	snprintf(fixture->dir, sizeof fixture->dir, "/tmp/rescue-verify-XXXXXX");
	assert_non_null(mkdtemp(fixture->dir));
	for (i = 0; i < SIZE; i++)
		fixture->data[i] = (unsigned char)((i * 2654435761u) >> 13);
	snprintf(fixture->source_path, sizeof fixture->source_path, "%s/source", fixture->dir);
	write_file(fixture->source_path, fixture->data, SIZE);
	snprintf(image, sizeof image, "%s/vdb.img", fixture->dir);
	write_file(image, fixture->data, SIZE);
	open_source(fixture);
	snprintf(url, sizeof url, "file://%s", fixture->dir);
	assert_int_equal(target_parse(url, &target, why, sizeof why), 0);
	fixture->store = store_open(&target, "vdb", why, sizeof why, &transient);
	assert_non_null(fixture->store);
	assert_int_equal(store_image_open(fixture->store, &size), 0);
	assert_int_equal(size, SIZE);
	assert_int_equal(mapfile_init(&fixture->map, SIZE), 0);
	*state = fixture;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *fixture = *state;
	char command[128];

	verify_result_free(&fixture->result);
	mapfile_free(&fixture->map);
	store_close(fixture->store);
	source_close(&fixture->source);
	snprintf(command, sizeof command, "rm -rf '%s'", fixture->dir);
	assert_int_equal(system(command), 0);
	free(fixture);
	return 0;
}

static void run(struct fixture *fixture)
{
	struct verify_job job = {
		.read_source = source_read, .source = &fixture->source, .sector_size = 512,
		.store = fixture->store, .map = &fixture->map, .chunk_size = CHUNK,
	};

	verify_result_free(&fixture->result);
	assert_int_equal(verify_run(&job, &fixture->result), 0);
}

/* Inverts SIZE bytes of the image at POSITION, so each of them differs from the source. */
static void image_flip(struct fixture *fixture, size_t size, off_t position)
{
	unsigned char flipped[64];
	char path[128];
	size_t i;

	assert_true(size <= sizeof flipped);
	for (i = 0; i < size; i++)
		flipped[i] = fixture->data[position + i] ^ 0xFF;
	snprintf(path, sizeof path, "%s/vdb.img", fixture->dir);
	patch_file(path, flipped, size, position);
}

static void assert_range(const struct verify_ranges *ranges, size_t index, uint64_t position,
    uint64_t size)
{
	assert_true(index < ranges->count);
	assert_int_equal(ranges->items[index].position, position);
	assert_int_equal(ranges->items[index].size, size);
}

static void test_ranges_merge_when_they_touch_or_overlap(void **state)
{
	struct verify_ranges ranges = { 0 };

	(void)state;
	assert_int_equal(verify_ranges_add(&ranges, 100, 10), 0);
	assert_int_equal(verify_ranges_add(&ranges, 110, 5), 0);	/* touches */
	assert_int_equal(verify_ranges_add(&ranges, 112, 10), 0);	/* overlaps */
	assert_int_equal(verify_ranges_add(&ranges, 105, 2), 0);	/* inside */
	assert_int_equal(verify_ranges_add(&ranges, 123, 1), 0);	/* a gap of one byte */
	assert_int_equal(verify_ranges_add(&ranges, 200, 0), 0);	/* nothing */
	assert_int_equal(ranges.count, 2);
	assert_range(&ranges, 0, 100, 22);
	assert_range(&ranges, 1, 123, 1);
	assert_int_equal(ranges.bytes, 23);
	verify_ranges_free(&ranges);
}

static void test_byte_comparison_names_each_differing_run(void **state)
{
	const unsigned char a[] = "abcdefghij", b[] = "aXcdYZghiQ";
	struct verify_ranges ranges = { 0 };

	(void)state;
	assert_int_equal(verify_compare_bytes(a, b, 10, 1000, &ranges), 0);
	assert_int_equal(ranges.count, 3);
	assert_range(&ranges, 0, 1001, 1);
	assert_range(&ranges, 1, 1004, 2);
	assert_range(&ranges, 2, 1009, 1);
	verify_ranges_free(&ranges);
}

static void test_identical_rescued_ranges_match(void **state)
{
	struct fixture *fixture = *state;

	assert_int_equal(mapfile_set(&fixture->map, 0, 20000, MAP_FINISHED), 0);
	assert_int_equal(mapfile_set(&fixture->map, 20000, 512, MAP_BAD), 0);
	assert_int_equal(mapfile_set(&fixture->map, 20512, 30000, MAP_FINISHED), 0);
	run(fixture);
	assert_int_equal(fixture->result.rescued, 50000);
	assert_int_equal(fixture->result.rescued_ranges, 2);
	assert_int_equal(fixture->result.compared, 50000);
	assert_int_equal(fixture->result.differing.count, 0);
	assert_int_equal(fixture->result.unreadable.count, 0);
}

/* Bytes the map does not claim (bad, non-tried) may hold anything: they are not compared. */
static void test_bytes_outside_rescued_ranges_are_not_compared(void **state)
{
	struct fixture *fixture = *state;

	assert_int_equal(mapfile_set(&fixture->map, 0, 8192, MAP_FINISHED), 0);
	assert_int_equal(mapfile_set(&fixture->map, 8192, 512, MAP_BAD), 0);
	image_flip(fixture, 20, 8192);
	image_flip(fixture, 10, 40000);
	run(fixture);
	assert_int_equal(fixture->result.compared, 8192);
	assert_int_equal(fixture->result.differing.count, 0);
}

/* A change across a chunk boundary is one range; another far away is a second one. */
static void test_changed_bytes_are_named_exactly_and_merged(void **state)
{
	struct fixture *fixture = *state;

	assert_int_equal(mapfile_set(&fixture->map, 0, SIZE, MAP_FINISHED), 0);
	image_flip(fixture, 6, CHUNK - 3);
	image_flip(fixture, 1, 50001);
	run(fixture);
	assert_int_equal(fixture->result.differing.count, 2);
	assert_range(&fixture->result.differing, 0, CHUNK - 3, 6);
	assert_range(&fixture->result.differing, 1, 50001, 1);
	assert_int_equal(fixture->result.differing.bytes, 7);
	assert_int_equal(fixture->result.compared, SIZE);
}

/* An image shorter than what the map claims lacks those bytes: they differ. */
static void test_a_short_image_differs_where_it_ends(void **state)
{
	struct fixture *fixture = *state;
	char path[128];

	snprintf(path, sizeof path, "%s/vdb.img", fixture->dir);
	assert_int_equal(truncate(path, 30000), 0);
	assert_int_equal(mapfile_set(&fixture->map, 0, 40000, MAP_FINISHED), 0);
	run(fixture);
	assert_int_equal(fixture->result.differing.count, 1);
	assert_range(&fixture->result.differing, 0, 30000, 10000);
}

/* The source can no longer give some rescued sectors (here: it ends before them): those
 * sectors are named as unreadable, the rest of the chunk is still compared. */
static void test_sectors_the_source_cannot_read_are_named(void **state)
{
	struct fixture *fixture = *state;

	assert_int_equal(truncate(fixture->source_path, 33 * 1024 + 512), 0);
	assert_int_equal(mapfile_set(&fixture->map, 0, 36 * 1024, MAP_FINISHED), 0);
	image_flip(fixture, 7, 33 * 1024 + 2);
	run(fixture);
	assert_int_equal(fixture->result.unreadable.count, 1);
	assert_range(&fixture->result.unreadable, 0, 33 * 1024 + 512, 3 * 1024 - 512);
	assert_int_equal(fixture->result.differing.count, 1);
	assert_range(&fixture->result.differing, 0, 33 * 1024 + 2, 7);
	assert_int_equal(fixture->result.compared, 33 * 1024 + 512);
}

/* ------------------------------------------------------------------ the command */

static int run_verify(const char *sysfs, char *const *words)
{
	char *argv[8];
	int argc = 0;

	argv[argc++] = "verify";
	while (*words)
		argv[argc++] = *words++;
	argv[argc] = NULL;
	setenv("RESCUE_SYSFS", sysfs, 1);
	setenv("RESCUE_JOURNAL", "/dev/null", 1);
	return command_run(command_find("verify"), argc, argv);
}

static void test_command_refusals(void **state)
{
	struct fixture *fixture = *state;
	char *sysfs = fake_sysfs_create(), url[128], map_path[128];
	char *no_map[] = { url, NULL }, *bad_url[] = { "nowhere://x", NULL };
	char *not_device[] = { fixture->source_path, url, NULL };
	const char ddrescue_map[] = "# Mapfile. Created by GNU ddrescue version 1.27\n"
	    "# current_pos  current_status  current_pass\n0x00000000     +               1\n"
	    "#      pos        size  status\n0x00000000  0x00010000  +\n";
	const char our_map[] = "# Mapfile. Created by rescue\n# rescue source: vda size 65536 "
	    "sector 512 model \"QEMU HARDDISK\" serial \"gone\"\n"
	    "# current_pos  current_status  current_pass\n0x00000000     +               1\n"
	    "#      pos        size  status\n0x00000000  0x00010000  +\n";

	fake_sysfs_write(sysfs, "class/block/vda/dev", "254:0\n");
	fake_sysfs_write(sysfs, "class/block/vdb/dev", "254:16\n");
	snprintf(url, sizeof url, "file://%s", fixture->dir);
	assert_int_equal(run_verify(sysfs, (char *[]){ NULL }), 2);
	assert_int_equal(run_verify(sysfs, bad_url), 2);
	assert_int_equal(run_verify(sysfs, not_device), 3);
	assert_int_equal(run_verify(sysfs, no_map), 3);	/* no vda.map, no vdb.map */
	snprintf(map_path, sizeof map_path, "%s/vdb.map", fixture->dir);
	write_file(map_path, ddrescue_map, sizeof ddrescue_map - 1);
	assert_int_equal(run_verify(sysfs, no_map), 2);	/* found; names no source */
	write_file(map_path, our_map, sizeof our_map - 1);
	assert_int_equal(run_verify(sysfs, no_map), 3);	/* names a disk not here */
	snprintf(map_path, sizeof map_path, "%s/vda.map", fixture->dir);
	write_file(map_path, our_map, sizeof our_map - 1);
	assert_int_equal(run_verify(sysfs, no_map), 2);	/* two maps: which one? */
	fake_sysfs_remove(sysfs);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ranges_merge_when_they_touch_or_overlap),
		cmocka_unit_test(test_byte_comparison_names_each_differing_run),
		cmocka_unit_test_setup_teardown(test_identical_rescued_ranges_match, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bytes_outside_rescued_ranges_are_not_compared,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_changed_bytes_are_named_exactly_and_merged,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_a_short_image_differs_where_it_ends, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_sectors_the_source_cannot_read_are_named, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_command_refusals, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
