/* test_mapfile.c: the rescue map, and that GNU ddrescue and we read each other's maps. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "lib/capture.h"
#include "lib/fake_sysfs.h"
#include "salvage/mapfile.h"

static void test_marking_splits_and_merges(void **state)
{
	struct mapfile map;
	struct map_totals totals;

	(void)state;
	assert_int_equal(mapfile_init(&map, 1000), 0);
	assert_int_equal(mapfile_set(&map, 0, 100, '+'), 0);
	assert_int_equal(mapfile_set(&map, 300, 50, '-'), 0);
	assert_int_equal(mapfile_set(&map, 100, 200, '+'), 0);	/* joins the first */
	assert_int_equal(map.count, 3);
	assert_true(map.extents[0].size == 300 && map.extents[0].state == '+');
	assert_true(map.extents[1].position == 300 && map.extents[1].state == '-');
	assert_true(map.extents[2].position == 350 && map.extents[2].size == 650);
	/* Past the end is clipped; a bad state is refused. */
	assert_int_equal(mapfile_set(&map, 990, 100, '*'), 0);
	assert_true(map.extents[map.count - 1].size == 10);
	assert_int_equal(mapfile_set(&map, 0, 1, 'x'), -1);
	mapfile_totals(&map, &totals);
	assert_true(totals.finished == 300 && totals.bad == 50 && totals.non_tried == 640);
	assert_true(totals.non_trimmed == 10 && totals.bad_areas == 1);
	assert_non_null(mapfile_find(&map, 0, '-'));
	assert_true(mapfile_find(&map, 400, '*')->position == 990);
	assert_null(mapfile_find(&map, 0, '/'));
	mapfile_free(&map);
}

static void test_format_then_parse_gives_the_same_map(void **state)
{
	struct mapfile map, again;
	char why[128], *text, *text2;

	(void)state;
	mapfile_init(&map, 0x10000000);
	mapfile_set(&map, 0x1000, 0x200, '-');
	mapfile_set(&map, 0x2000, 0x10000, '/');
	mapfile_set(&map, 0, 0x1000, '+');
	map.current_position = 0x2000;
	map.current_status = '/';
	map.current_pass = 1;
	text = mapfile_format(&map, "rescue test", NULL);
	assert_non_null(strstr(text, "\n0x00000000  0x00001000  +\n0x00001000  0x00000200  -\n"));
	assert_int_equal(mapfile_parse(text, &again, why, sizeof why), 0);
	assert_true(again.size == map.size && again.count == map.count);
	text2 = mapfile_format(&again, "rescue test", NULL);
	assert_string_equal(text, text2);
	free(text);
	free(text2);
	mapfile_free(&map);
	mapfile_free(&again);
}

static void test_bad_maps_are_refused_with_the_line(void **state)
{
	struct mapfile map;
	char why[128];

	(void)state;
	assert_int_equal(mapfile_parse("# nothing\n", &map, why, sizeof why), -1);
	assert_string_equal(why, "line 1: no status line: not a mapfile");
	mapfile_free(&map);
	assert_int_equal(mapfile_parse("0x0 ?\n0x0 0x100 +\n0x80 0x100 -\n", &map, why,
	    sizeof why), -1);
	assert_string_equal(why, "line 3: block overlaps the one before or is empty");
	mapfile_free(&map);
	assert_int_equal(mapfile_parse("0x0 ? 1\n0x0 0x100 x\n", &map, why, sizeof why), -1);
	assert_string_equal(why, "line 2: expected pos size status");
	mapfile_free(&map);
	/* The two-field status line of ddrescue before 1.20 is fine, and gaps are non-tried. */
	assert_int_equal(mapfile_parse("0x200 -\n0 512 +\n1024 512 -\n", &map, why, sizeof why), 0);
	assert_int_equal(map.count, 3);
	assert_true(map.extents[1].position == 512 && map.extents[1].state == '?');
	assert_int_equal(map.current_pass, 1);
	mapfile_free(&map);
	assert_int_equal(mapfile_parse("0 ?\n0 0x100 +\n0x100 0xFFFFFFFFFFFFFFFF -\n", &map, why,
	    sizeof why), -1);
	assert_string_equal(why, "line 3: block ends past 2^64 bytes");
	mapfile_free(&map);
	/* Ends that wrap past 2^64 to a small number, by a large position or by a size that
	 * strtoull would read from a negative number. */
	assert_int_equal(mapfile_parse("0 ?\n0xFFFFFFFFFFFFFF00 0x100 +\n", &map, why,
	    sizeof why), -1);
	assert_string_equal(why, "line 2: block ends past 2^64 bytes");
	mapfile_free(&map);
	assert_int_equal(mapfile_parse("0 ?\n0 0x8000000000000000 +\n"
	    "0x8000000000000000 0x8000000000000000 -\n", &map, why, sizeof why), -1);
	assert_string_equal(why, "line 3: block ends past 2^64 bytes");
	mapfile_free(&map);
	/* A negative number is not a position or a size, wherever the blanks before it are:
	 * strtoull would take " -1" as 2^64 - 1. */
	assert_int_equal(mapfile_parse("0 ?\n0 -1 +\n", &map, why, sizeof why), -1);
	assert_string_equal(why, "line 2: expected pos size status");
	mapfile_free(&map);
	assert_int_equal(mapfile_parse("0 ?\n0x100\t-0x100 +\n", &map, why, sizeof why), -1);
	assert_string_equal(why, "line 2: expected pos size status");
	mapfile_free(&map);
	assert_int_equal(mapfile_parse(" -5 ?\n0 0x100 +\n", &map, why, sizeof why), -1);
	assert_string_equal(why, "line 1: expected current_pos current_status");
	mapfile_free(&map);
}

/* A buffer and its length: the bytes after LENGTH are never looked at, and no NUL is
 * needed (the copy below has none: reading past it would go off the allocation). */
/* Random marks against a model of one state per sector: the extents cover the source
 * without gaps, neighbours always differ, and each sector has the state last set. */
static void test_random_marks_match_a_sector_model(void **state)
{
	enum { SECTORS = 512 };
	static const char states[] = "?*/-+";
	char model[SECTORS];
	struct mapfile map;
	uint64_t start, length, at;
	size_t i, e;
	int round;

	(void)state;
	srand(18);
	memset(model, '?', sizeof model);
	assert_int_equal(mapfile_init(&map, SECTORS * 512), 0);
	for (round = 0; round < 20000; round++) {
		start = (uint64_t)(rand() % SECTORS);
		length = 1 + (uint64_t)(rand() % 24);
		char mark = states[rand() % 5];

		assert_int_equal(mapfile_set(&map, start * 512, length * 512, mark), 0);
		for (i = start; i < start + length && i < SECTORS; i++)
			model[i] = mark;
		for (e = 0, at = 0; e < map.count; at += map.extents[e++].size) {
			assert_int_equal(map.extents[e].position, at);
			assert_true(e == 0 || map.extents[e].state != map.extents[e - 1].state);
			for (i = at / 512; i < (at + map.extents[e].size) / 512; i++)
				assert_int_equal(model[i], map.extents[e].state);
		}
		assert_int_equal(at, SECTORS * 512);
	}
	mapfile_free(&map);
}

static void test_parse_reads_only_the_given_length(void **state)
{
	static const char text[] = "0x0 + 1\n0 0x200 +\n0x200 0x200 -\n0x400 0x200 ?";
	size_t cut = strlen("0x0 + 1\n0 0x200 +\n0x200 0x200 -\n");
	char *exact = malloc(sizeof text - 1), why[128];
	struct mapfile map;

	(void)state;
	memcpy(exact, text, sizeof text - 1);
	assert_int_equal(mapfile_parse_buffer(exact, sizeof text - 1, &map, why, sizeof why), 0);
	assert_int_equal(map.size, 0x600);
	assert_int_equal(map.count, 3);
	mapfile_free(&map);
	/* Cut after the second extent: the third is not there. */
	assert_int_equal(mapfile_parse_buffer(exact, cut, &map, why, sizeof why), 0);
	assert_int_equal(map.size, 0x400);
	mapfile_free(&map);
	/* Cut inside a number: the line ends at the cut and is read as it stands. */
	assert_int_equal(mapfile_parse_buffer(exact, cut + 3, &map, why, sizeof why), -1);
	assert_string_equal(why, "line 4: expected pos size status");
	mapfile_free(&map);
	free(exact);
}

static char *run_output(const char *command)
{
	char buffer[65536];
	FILE *pipe = popen(command, "r");
	size_t got;

	if (pipe == NULL)
		return NULL;
	got = fread(buffer, 1, sizeof buffer - 1, pipe);
	buffer[got] = '\0';
	return pclose(pipe) == 0 ? strdup(buffer) : NULL;
}

/* GNU ddrescue copies part of a file; we read its map, write ours, and ddrescuelog reads
 * ours back with the same totals. */
static void test_round_trip_with_gnu_ddrescue(void **state)
{
	char *dir = fake_sysfs_create(), command[8192], *theirs, *ours, *totals_theirs, *totals_ours;
	struct mapfile map;
	char why[128], path[4096];
	FILE *out;

	(void)state;
	if (system("command -v ddrescue >/dev/null && command -v ddrescuelog >/dev/null") != 0) {
		fprintf(stderr, "SKIPPED: GNU ddrescue is not installed (package gddrescue)\n");
		fake_sysfs_remove(dir);
		skip();
	}
	snprintf(command, sizeof command, "cd %s && head -c 1048576 /dev/urandom > src && "
	    "ddrescue -q -s 300000 src dst theirs.map && ddrescue -q -i 700000 -s 100000 src dst "
	    "theirs.map && cat theirs.map", dir);
	theirs = run_output(command);
	assert_non_null(theirs);
	assert_int_equal(mapfile_parse(theirs, &map, why, sizeof why), 0);
	ours = mapfile_format(&map, "rescue test", NULL);
	snprintf(path, sizeof path, "%s/ours.map", dir);
	out = fopen(path, "w");
	fputs(ours, out);
	fclose(out);
	snprintf(command, sizeof command, "cd %s && ddrescuelog -t theirs.map | tail -n +2", dir);
	totals_theirs = run_output(command);
	snprintf(command, sizeof command, "cd %s && ddrescuelog -t ours.map | tail -n +2", dir);
	totals_ours = run_output(command);
	assert_non_null(totals_theirs);
	assert_non_null(totals_ours);
	assert_string_equal(totals_ours, totals_theirs);
	/* And ddrescue resumes from our map: it finishes the copy and the files agree. */
	snprintf(command, sizeof command, "cd %s && ddrescue -q src dst ours.map && cmp src dst && "
	    "ddrescuelog -D ours.map", dir);
	assert_int_equal(system(command), 0);
	free(theirs);
	free(ours);
	free(totals_theirs);
	free(totals_ours);
	mapfile_free(&map);
	fake_sysfs_remove(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_marking_splits_and_merges),
		cmocka_unit_test(test_format_then_parse_gives_the_same_map),
		cmocka_unit_test(test_bad_maps_are_refused_with_the_line),
		cmocka_unit_test(test_parse_reads_only_the_given_length),
		cmocka_unit_test(test_random_marks_match_a_sector_model),
		cmocka_unit_test(test_round_trip_with_gnu_ddrescue),
	};

	return cmocka_run_group_tests_name("mapfile", tests, NULL, NULL);
}
