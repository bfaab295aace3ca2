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
	assert_true(mapfile_extent(&map, 0)->size == 300
	    && mapfile_extent(&map, 0)->state == '+');
	assert_true(mapfile_extent(&map, 1)->position == 300
	    && mapfile_extent(&map, 1)->state == '-');
	assert_true(mapfile_extent(&map, 2)->position == 350
	    && mapfile_extent(&map, 2)->size == 650);
	/* Past the end is clipped; a bad state is refused. */
	assert_int_equal(mapfile_set(&map, 990, 100, '*'), 0);
	assert_true(mapfile_extent(&map, map.count - 1)->size == 10);
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
	assert_true(mapfile_extent(&map, 1)->position == 512
	    && mapfile_extent(&map, 1)->state == '?');
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
/* The extents of MAP against MODEL (one state per sector): they cover the source without
 * gaps, neighbours differ, each sector has the state last set. */
static void assert_map_matches(const struct mapfile *map, const char *model, size_t sectors)
{
	const struct map_extent *extent;
	uint64_t at;
	size_t i, e;

	for (e = 0, at = 0; e < map->count; at += extent->size, e++) {
		extent = mapfile_extent(map, e);
		assert_int_equal(extent->position, at);
		assert_true(e == 0 || extent->state != mapfile_extent(map, e - 1)->state);
		for (i = at / 512; i < (at + extent->size) / 512; i++)
			assert_int_equal(model[i], extent->state);
	}
	assert_int_equal(at, sectors * 512);
}

/* mapfile_find and mapfile_find_before from sector FROM against the model: the nearest
 * sector in STATE after (at or from FROM on) and before FROM. */
static void assert_finds_match(const struct mapfile *map, const char *model, size_t sectors,
    size_t from, char state)
{
	const struct map_extent *after = mapfile_find(map, from * 512, state);
	const struct map_extent *before = mapfile_find_before(map, from * 512, state);
	size_t i;

	for (i = from; i < sectors && model[i] != state; i++)
		;
	if (i == sectors)
		assert_null(after);
	else
		assert_true(after && after->position <= i * 512
		    && after->position + after->size > i * 512);
	for (i = from; i > 0 && model[i - 1] != state; i--)
		;
	if (i == 0)
		assert_null(before);
	else
		assert_true(before && before->position <= (i - 1) * 512
		    && before->position + before->size > (i - 1) * 512);
}

/* Random marks against a model of one state per sector, the gap buffer's hole moving to
 * each: the map always matches, and finding forwards and backwards agrees with it. */
static void test_random_marks_match_a_sector_model(void **state)
{
	enum { SECTORS = 512 };
	static const char states[] = "?*/-+";
	char model[SECTORS];
	struct mapfile map;
	uint64_t start, length;
	size_t i;
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
		assert_map_matches(&map, model, SECTORS);
		assert_finds_match(&map, model, SECTORS, (size_t)(rand() % SECTORS),
		    states[rand() % 5]);
	}
	mapfile_free(&map);
}

/* A map grown to many extents one sector at a time, forwards and then backwards (as
 * trimming and the reverse passes do), formats and parses back to the same text. */
static void test_many_extents_both_ways(void **state)
{
	enum { AREAS = 20000 };
	struct mapfile map, again;
	char *text, *text_again, why[128];
	size_t i, length;

	(void)state;
	assert_int_equal(mapfile_init(&map, (uint64_t)AREAS * 4 * 512), 0);
	for (i = 0; i < AREAS; i++)
		assert_int_equal(mapfile_set(&map, i * 4 * 512, 512, MAP_BAD), 0);
	for (i = AREAS; i-- > 0;)
		assert_int_equal(mapfile_set(&map, (i * 4 + 2) * 512, 512, MAP_FINISHED), 0);
	assert_int_equal(map.count, AREAS * 4);
	assert_int_equal(mapfile_extent(&map, AREAS * 2 + 2)->position, (AREAS / 2 * 4 + 2) * 512);
	assert_int_equal(mapfile_extent(&map, AREAS * 2 + 2)->state, MAP_FINISHED);
	assert_non_null(text = mapfile_format(&map, "test", &length));
	assert_int_equal(mapfile_parse(text, &again, why, sizeof why), 0);
	assert_non_null(text_again = mapfile_format(&again, "test", NULL));
	assert_string_equal(text, text_again);
	free(text_again);
	free(text);
	mapfile_free(&again);
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

/* TEXT through a reader in pieces of STEP bytes: 0 or -1 with WHY, the map formatted. */
static int read_in_pieces(const char *text, size_t step, char **formatted, char *kept,
    char *why, size_t why_size)
{
	struct mapfile_reader *reader = malloc(sizeof *reader);
	struct mapfile map;
	size_t length = strlen(text), at, piece;
	int rc = 0;

	assert_non_null(reader);
	mapfile_reader_start(reader, &map, "# rescue source: ");
	for (at = 0; at < length && rc == 0; at += piece) {
		piece = length - at < step ? length - at : step;
		rc = mapfile_reader_feed(reader, text + at, piece);
	}
	if (rc == 0)
		rc = mapfile_reader_finish(reader);
	snprintf(why, why_size, "%s", rc ? reader->why : "");
	if (kept)
		strcpy(kept, reader->kept);
	*formatted = rc ? NULL : mapfile_format(&map, "test", NULL);
	mapfile_free(&map);
	free(reader);
	return rc;
}

/* A map of 20,000 areas (some 600 KB, hundreds of reader buffers) read a piece at a time,
 * lines split anywhere, gives the map a reading of the whole text does; the identity
 * line is kept whatever the pieces. */
static void test_a_map_larger_than_the_buffer_reads_the_same_in_pieces(void **state)
{
	static const size_t steps[] = { 1, 7, 4096, 1 << 20 };
	struct mapfile map, whole;
	char why[160], *text, *expected, *got, kept[MAPFILE_LINE_MAX + 1];
	size_t i, length;

	(void)state;
	mapfile_init(&map, (uint64_t)40000 * 4096);
	for (i = 0; i < 20000; i++)
		mapfile_set(&map, (uint64_t)i * 8192, 4096, i % 3 ? '-' : '/');
	text = mapfile_format_with(&map, "test", "# rescue source: vdb size 163840000 sector 512 "
	    "model \"M\" serial \"S\"", &length);
	assert_true(length > 100 * MAPFILE_LINE_MAX);
	assert_int_equal(mapfile_parse(text, &whole, why, sizeof why), 0);
	expected = mapfile_format(&whole, "test", NULL);
	for (i = 0; i < sizeof steps / sizeof *steps; i++) {
		assert_int_equal(read_in_pieces(text, steps[i], &got, kept, why, sizeof why), 0);
		assert_string_equal(got, expected);
		assert_string_equal(kept, "# rescue source: vdb size 163840000 sector 512 model "
		    "\"M\" serial \"S\"");
		free(got);
	}
	assert_int_equal(whole.count, 40000);
	/* Written a piece at a time, the map is the same text as formatted whole. */
	{
		struct mapfile_writer *writer = malloc(sizeof *writer);
		const char *piece;
		size_t at = 0, piece_length, pieces = 0;

		assert_non_null(writer);
		mapfile_writer_start(writer, &map, "test", "# rescue source: vdb size 163840000 "
		    "sector 512 model \"M\" serial \"S\"");
		while ((piece_length = mapfile_writer_next(writer, &piece)) > 0) {
			assert_true(at + piece_length <= length);
			assert_memory_equal(piece, text + at, piece_length);
			at += piece_length, pieces++;
		}
		assert_int_equal(at, length);
		assert_true(pieces > 1);
		free(writer);
	}
	free(expected);
	free(text);
	mapfile_free(&whole);
	mapfile_free(&map);
}

/* A line longer than any mapfile line is refused by its number, however it comes; a long
 * comment (ddrescue's command line may be one) is passed over. */
static void test_a_line_longer_than_any_valid_one_is_refused(void **state)
{
	static const size_t steps[] = { 1, 100, 1 << 20 };
	size_t size = 3 * MAPFILE_LINE_MAX, i, at;
	char *text = malloc(2 * size + 200), *got, why[160];
	struct mapfile map;

	(void)state;
	assert_non_null(text);
	at = (size_t)sprintf(text, "# ");
	memset(text + at, 'c', size), at += size;
	at += (size_t)sprintf(text + at, "\n0 +\n0 0x200 +\n0x200 ");
	memset(text + at, '0', size), at += size;
	sprintf(text + at, "200 -\n");
	for (i = 0; i < sizeof steps / sizeof *steps; i++) {
		assert_int_equal(read_in_pieces(text, steps[i], &got, NULL, why, sizeof why), -1);
		assert_string_equal(why, "line 4: longer than 1024 bytes, which no mapfile line is");
	}
	assert_int_equal(mapfile_parse(text, &map, why, sizeof why), -1);
	assert_string_equal(why, "line 4: longer than 1024 bytes, which no mapfile line is");
	mapfile_free(&map);
	/* The same line at the longest a line may be is read (0200, octal, as strtoull and
	 * ddrescue take it). */
	memmove(text + at - size + MAPFILE_LINE_MAX - 11, text + at, strlen(text + at) + 1);
	assert_int_equal(read_in_pieces(text, 100, &got, NULL, why, sizeof why), 0);
	assert_non_null(strstr(got, "0x00000200  0x00000080  -\n"));
	free(got);
	free(text);
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
		cmocka_unit_test(test_a_map_larger_than_the_buffer_reads_the_same_in_pieces),
		cmocka_unit_test(test_a_line_longer_than_any_valid_one_is_refused),
		cmocka_unit_test(test_random_marks_match_a_sector_model),
		cmocka_unit_test(test_many_extents_both_ways),
		cmocka_unit_test(test_round_trip_with_gnu_ddrescue),
	};

	return cmocka_run_group_tests_name("mapfile", tests, NULL, NULL);
}
