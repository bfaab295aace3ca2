/* test_shown.c: outside text on a terminal (file names of a damaged vfat seen in
 * test_damaged_fs.py held tabs and high bytes, and reached the console raw). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "base/shown.h"

static char *shown(const char *text, size_t limit)
{
	static char buffer[512];
	FILE *out;

	memset(buffer, 0, sizeof buffer);	/* fmemopen writes no NUL when nothing is written */
	out = fmemopen(buffer, sizeof buffer, "w");

	assert_non_null(out);
	shown_write(out, text, limit);
	fclose(out);
	return buffer;
}

static void test_control_and_high_bytes_are_escaped(void **state)
{
	(void)state;
	assert_string_equal(shown("dir2/sub/\x1b[2J\t\xff\x80.txt\x7f", SHOWN_UNCUT),
	    "dir2/sub/^[[2J^IM-^?M-^@.txt^?");
	assert_string_equal(shown("plain name.txt", SHOWN_UNCUT), "plain name.txt");
	assert_string_equal(shown("", SHOWN_UNCUT), "");
}

static void test_long_text_is_cut(void **state)
{
	(void)state;
	assert_string_equal(shown("abcdef", 3), "abc...");
	assert_string_equal(shown("abc", 3), "abc");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_control_and_high_bytes_are_escaped),
		cmocka_unit_test(test_long_text_is_cut),
	};

	return cmocka_run_group_tests_name("shown", tests, NULL, NULL);
}
