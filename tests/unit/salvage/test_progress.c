/* test_progress.c: the pieces of the progress display: the block map, durations and the
 * status lines, which must fit 80 columns. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "salvage/mapfile.h"
#include "salvage/progress.h"

static void test_block_map_shows_the_worst_state_of_each_block(void **state)
{
	struct mapfile map;
	char blocks[9];

	(void)state;
	mapfile_init(&map, 8000);	/* 8 blocks of 1000 bytes */
	mapfile_set(&map, 0, 3000, '+');
	mapfile_set(&map, 1500, 1, '-');	/* one bad byte makes block 1 bad */
	mapfile_set(&map, 3000, 500, '*');
	mapfile_set(&map, 3500, 500, '+');
	mapfile_set(&map, 4000, 1000, '/');
	mapfile_set(&map, 7999, 1, '+');	/* block 7 is still mostly non-tried */
	progress_block_map(&map, blocks, 8);
	assert_string_equal(blocks, "+-+*/???");
	mapfile_set(&map, 0, 8000, '+');
	progress_block_map(&map, blocks, 8);
	assert_string_equal(blocks, "++++++++");
	mapfile_free(&map);
}

/* More blocks than bytes: every block still gets the state of the byte under it. */
static void test_block_map_of_a_tiny_source(void **state)
{
	struct mapfile map;
	char blocks[9];

	(void)state;
	mapfile_init(&map, 4);
	mapfile_set(&map, 1, 1, '-');
	mapfile_set(&map, 2, 2, '+');
	progress_block_map(&map, blocks, 8);
	assert_string_equal(blocks, "??" "--++++");
	mapfile_free(&map);
}

static void test_duration(void **state)
{
	char text[16];

	(void)state;
	progress_duration(0, text, sizeof text);
	assert_string_equal(text, "0:00:00");
	progress_duration(3725.4, text, sizeof text);
	assert_string_equal(text, "1:02:05");
	progress_duration(-3, text, sizeof text);
	assert_string_equal(text, "0:00:00");
}

static void test_status_lines_fit_80_columns(void **state)
{
	struct mapfile map;
	char text[1024], *line;

	(void)state;
	mapfile_init(&map, 67108864);
	mapfile_set(&map, 0, 16777216, '+');
	mapfile_set(&map, 16777216, 65536, '*');
	mapfile_set(&map, 20000000, 512, '-');
	mapfile_set(&map, 30000000, 1024, '-');
	map.current_position = 16777216;
	map.current_status = '?';
	map.current_pass = 1;
	progress_status_lines(&map, "copying", 2, 8388608, text, sizeof text);
	assert_non_null(strstr(text, "copying, pass 1   at 16.0 MiB   8.0 MiB/s   ETA 0:00:06"));
	assert_non_null(strstr(text, "rescued 16.0 MiB (25.0%)   bad 1.5 KiB in 2 areas\n"));
	assert_non_null(strstr(text, "non-tried 47.9 MiB   non-trimmed 64.0 KiB   non-scraped 0 B\n"));
	for (line = strtok(text, "\n"); line; line = strtok(NULL, "\n"))
		assert_true(strlen(line) < 80);
	/* Scraping has no useful ETA: it depends on how many sectors fail. */
	progress_status_lines(&map, "scraping", 2, 100, text, sizeof text);
	assert_non_null(strstr(text, "ETA ?"));
	mapfile_free(&map);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_block_map_shows_the_worst_state_of_each_block),
		cmocka_unit_test(test_block_map_of_a_tiny_source),
		cmocka_unit_test(test_duration),
		cmocka_unit_test(test_status_lines_fit_80_columns),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
