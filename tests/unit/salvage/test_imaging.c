/* test_imaging.c: the rescue engine against a source with failing sectors, the way a
 * dying disk behaves: a read that touches a bad sector fails whole with EIO. (The QEMU
 * tests do the same with real failing sectors through blkdebug.) */
#include <errno.h>
#include <signal.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "salvage/imaging.h"

enum { SECTOR = 512, SECTORS = 4096, SIZE = SECTOR * SECTORS };

struct disk {
	unsigned char data[SIZE];
	unsigned char bad[SECTORS];
	unsigned long reads_of_finished;	/* reads that touched bytes already saved */
	const struct mapfile *saved;		/* the map of the run being resumed */
};

struct target {
	unsigned char image[SIZE];
	unsigned char written[SECTORS];
	int writes_left;			/* fail after this many writes; -1: never */
	int saves;
	struct mapfile last_saved;
};

static ssize_t disk_read(void *context, void *buffer, size_t size, uint64_t position)
{
	struct disk *disk = context;
	uint64_t s;

	if (disk->saved) {
		const struct map_extent *extent = mapfile_find(disk->saved, position, '+');

		if (extent && extent->position < position + size)
			disk->reads_of_finished++;
	}
	for (s = position / SECTOR; s < (position + size + SECTOR - 1) / SECTOR; s++)
		if (disk->bad[s]) {
			errno = EIO;
			return -1;
		}
	memcpy(buffer, disk->data + position, size);
	return (ssize_t)size;
}

static int target_write(void *context, const void *buffer, size_t size, uint64_t position)
{
	struct target *target = context;
	uint64_t s;

	if (target->writes_left == 0)
		return -1;
	if (target->writes_left > 0)
		target->writes_left--;
	memcpy(target->image + position, buffer, size);
	for (s = position / SECTOR; s < (position + size) / SECTOR; s++)
		target->written[s] = 1;
	return 0;
}

static int target_save(void *context, const struct mapfile *map)
{
	struct target *target = context;
	char why[64], *text = mapfile_format(map, "test", NULL);

	target->saves++;
	mapfile_free(&target->last_saved);
	assert_int_equal(mapfile_parse(text, &target->last_saved, why, sizeof why), 0);
	free(text);
	return 0;
}

static struct disk *make_disk(const int *bad, int count)
{
	struct disk *disk = calloc(1, sizeof *disk);
	int i;

	srand(7);
	for (i = 0; i < SIZE; i++)
		disk->data[i] = (unsigned char)rand();
	for (i = 0; i < count; i++)
		disk->bad[bad[i]] = 1;
	return disk;
}

static void run_engine(struct disk *disk, struct target *target, struct mapfile *map,
    int expected)
{
	struct imaging_source source = { disk_read, disk, SIZE, SECTOR };
	struct imaging_sink sink = { target_write, target_save, NULL, target };
	struct imaging_options options;

	imaging_defaults(&options, SIZE);
	options.save_seconds = 0;	/* save at every step: the resume test needs it */
	assert_int_equal(imaging_run(&source, &sink, &options, map), expected);
}

/* Every readable sector arrives; the bad areas of the map are exactly the bad sectors. */
static void check_result(const struct disk *disk, const struct target *target,
    const struct mapfile *map)
{
	int s;

	for (s = 0; s < SECTORS; s++) {
		const struct map_extent *extent = mapfile_find(map, (uint64_t)s * SECTOR, '-');
		int marked_bad = extent && extent->position <= (uint64_t)s * SECTOR;

		assert_int_equal(marked_bad, disk->bad[s]);
		if (!disk->bad[s])
			assert_memory_equal(target->image + s * SECTOR, disk->data + s * SECTOR, SECTOR);
	}
	assert_int_equal(map->current_status, '+');
}

static void test_scattered_and_clustered_bad_sectors(void **state)
{
	static const int bad[] = { 3, 700, 701, 702, 703, 1000, 2047, 2048, 3000, 3001, 3002,
	    3003, 3004, 3005, 3006, 3007, 3008, 3009, 3010, 3011, 3012, 3013, 3014, 3015, 4095 };
	struct disk *disk = make_disk(bad, sizeof bad / sizeof bad[0]);
	struct target *target = calloc(1, sizeof *target);
	struct mapfile map;
	struct map_totals totals;

	(void)state;
	target->writes_left = -1;
	mapfile_init(&map, SIZE);
	run_engine(disk, target, &map, IMAGING_DONE);
	check_result(disk, target, &map);
	mapfile_totals(&map, &totals);
	assert_true(totals.bad == sizeof bad / sizeof bad[0] * SECTOR);
	assert_true(totals.finished + totals.bad == SIZE);
	assert_true(target->saves > 3);
	mapfile_free(&map);
	mapfile_free(&target->last_saved);
	free(disk);
	free(target);
}

/* A disk that reads whole needs no trimming or scraping: those phases are not entered, and
 * the map is saved twice (when copying starts, and finished) instead of at every phase. */
static void test_healthy_disk_saves_the_map_at_start_and_end_only(void **state)
{
	struct disk *disk = make_disk(NULL, 0);
	struct target *target = calloc(1, sizeof *target);
	struct imaging_source source = { disk_read, disk, SIZE, SECTOR };
	struct imaging_sink sink = { target_write, target_save, NULL, target };
	struct imaging_options options;
	struct mapfile map;

	(void)state;
	target->writes_left = -1;
	mapfile_init(&map, SIZE);
	imaging_defaults(&options, SIZE);
	assert_int_equal(imaging_run(&source, &sink, &options, &map), IMAGING_DONE);
	check_result(disk, target, &map);
	assert_int_equal(target->saves, 2);
	assert_int_equal(target->last_saved.current_status, '+');
	assert_int_equal(target->last_saved.count, 1);
	assert_int_equal(mapfile_extent(&target->last_saved, 0)->state, '+');
	mapfile_free(&map);
	mapfile_free(&target->last_saved);
	free(disk);
	free(target);
}

/* The target fails mid-run; a second run from the last saved map finishes the job without
 * reading again what the first run had saved. */
static void test_resume_after_target_failure(void **state)
{
	static const int bad[] = { 10, 11, 2500 };
	struct disk *disk = make_disk(bad, 3);
	struct target *target = calloc(1, sizeof *target);
	struct mapfile map, resumed;

	(void)state;
	target->writes_left = 20;
	mapfile_init(&map, SIZE);
	run_engine(disk, target, &map, IMAGING_SINK_FAILED);
	mapfile_free(&map);
	resumed = target->last_saved;
	memset(&target->last_saved, 0, sizeof target->last_saved);
	assert_non_null(mapfile_find(&resumed, 0, '+'));
	disk->saved = &resumed;
	{
		struct mapfile saved_copy;
		char why[64], *text = mapfile_format(&resumed, "test", NULL);

		assert_int_equal(mapfile_parse(text, &saved_copy, why, sizeof why), 0);
		free(text);
		disk->saved = &saved_copy;
		target->writes_left = -1;
		run_engine(disk, target, &resumed, IMAGING_DONE);
		assert_int_equal(disk->reads_of_finished, 0);
		mapfile_free(&saved_copy);
	}
	check_result(disk, target, &resumed);
	mapfile_free(&resumed);
	mapfile_free(&target->last_saved);
	free(disk);
	free(target);
}

static volatile sig_atomic_t stop_flag;
static int writes_before_stop;
static uint64_t written_before_stop;

static int stopping_write(void *context, const void *buffer, size_t size, uint64_t position)
{
	if (writes_before_stop > 0)
		written_before_stop += size;
	if (--writes_before_stop == 0)
		stop_flag = 1;
	return target_write(context, buffer, size, position);
}

/* A stop (SIGINT in the command) ends the run before its next read with the map true so
 * far: the data of the last write is in it, and the run resumes to the same result. */
static void test_stop_flag_ends_the_run_and_it_resumes(void **state)
{
	static const int bad[] = { 700, 1500, 1501 };
	struct disk *disk = make_disk(bad, 3);
	struct target *target = calloc(1, sizeof *target);
	struct imaging_source source = { disk_read, disk, SIZE, SECTOR };
	struct imaging_sink sink = { stopping_write, target_save, NULL, target };
	struct imaging_options options;
	struct mapfile map;
	struct map_totals totals;

	(void)state;
	target->writes_left = -1;
	imaging_defaults(&options, SIZE);
	options.stop = &stop_flag;
	writes_before_stop = 5;
	mapfile_init(&map, SIZE);
	assert_int_equal(imaging_run(&source, &sink, &options, &map), IMAGING_STOPPED);
	mapfile_totals(&map, &totals);
	/* Reads grow in a healthy stretch (64 KiB, 128 KiB, ...): the map has what was written. */
	assert_true(written_before_stop > 5 * 65536);
	assert_true(totals.finished == written_before_stop);
	assert_true(totals.non_tried > 0);
	stop_flag = 0;
	assert_int_equal(imaging_run(&source, &sink, &options, &map), IMAGING_DONE);
	check_result(disk, target, &map);
	mapfile_free(&map);
	mapfile_free(&target->last_saved);
	free(disk);
	free(target);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_scattered_and_clustered_bad_sectors),
		cmocka_unit_test(test_healthy_disk_saves_the_map_at_start_and_end_only),
		cmocka_unit_test(test_resume_after_target_failure),
		cmocka_unit_test(test_stop_flag_ends_the_run_and_it_resumes),
	};

	return cmocka_run_group_tests_name("imaging", tests, NULL, NULL);
}
