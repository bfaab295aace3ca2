/* test_conf_parse.c: rescue.conf as a damaged or hostile RESCUECFG disk may hold it: each
 * line a setting or a named problem, nothing read past the length, a NUL byte or an endless
 * line confined to its own line. Buffers are allocated at their exact size. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "cli/conf_parse.h"

/* Everything the parser reported, one "N NAME=VALUE" or "N !PROBLEM [TEXT]" a line. */
static char seen[65536];

static void record(void *context, int line, const char *name, const char *value,
    const char *problem)
{
	size_t used = strlen(seen);

	(void)context;
	if (problem)
		snprintf(seen + used, sizeof seen - used, "%d !%s [%s]\n", line, problem,
		    name ? name : "-");
	else
		snprintf(seen + used, sizeof seen - used, "%d %s=%s\n", line, name, value);
}

static int parse(const char *text, size_t length)
{
	char *copy = malloc(length ? length : 1);
	int problems;

	assert_non_null(copy);
	memcpy(copy, text, length);
	seen[0] = '\0';
	problems = conf_parse(copy, length, record, NULL);
	free(copy);
	return problems;
}

static void test_settings_as_the_boot_scripts_read_them(void **state)
{
	static const char text[] = "# the site's defaults\nnet=none\n  rescue.target = "
	    "ssh://backup@192.0.2.5/srv   # our NAS\r\n\n\t\nssh_key=ssh-ed25519 AAAA= x@y\n"
	    "target_password=a=b";

	(void)state;
	assert_int_equal(parse(text, sizeof text - 1), 0);
	assert_string_equal(seen, "2 net=none\n3 target=ssh://backup@192.0.2.5/srv\n"
	    "6 ssh_key=ssh-ed25519 AAAA= x@y\n7 target_password=a=b\n");
}

static void test_bad_lines_are_named_and_the_rest_used(void **state)
{
	static const char text[] = "junk line\n=value\nnul\0here=1\nnet=dhcp\nempty=\n"
	    "\x1b[2J\x07=x\n";

	(void)state;
	assert_int_equal(parse(text, sizeof text - 1), 3);
	assert_string_equal(seen, "1 !expected NAME=VALUE [junk line]\n"
	    "2 !no name before '=' [=value]\n3 !holds a NUL byte: not text [-]\n"
	    "4 net=dhcp\n5 empty=\n6 \x1b[2J\x07=x\n");
}

static void test_an_endless_line_is_one_problem(void **state)
{
	size_t length = CONF_LINE_MAX + 100;
	char *text = malloc(length + 9);

	(void)state;
	assert_non_null(text);
	memset(text, 'a', length);
	memcpy(text + length, "\nnet=none", 9);
	assert_int_equal(parse(text, length + 9), 1);
	assert_string_equal(seen, "1 !longer than 8192 bytes [-]\n2 net=none\n");
	free(text);
}

/* The last line needs no newline, and a cut anywhere in it is still read only up to the
 * cut: every prefix of the file parses without reading past its length. */
static void test_every_prefix_reads_only_its_length(void **state)
{
	static const char text[] = "net=none\ntarget=ssh://a@b/c # x\nrescue.run=nightly.run";
	size_t cut;

	(void)state;
	for (cut = 0; cut <= sizeof text - 1; cut++)
		assert_true(parse(text, cut) >= 0);
	assert_string_equal(seen, "1 net=none\n2 target=ssh://a@b/c\n3 run=nightly.run\n");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_settings_as_the_boot_scripts_read_them),
		cmocka_unit_test(test_bad_lines_are_named_and_the_rest_used),
		cmocka_unit_test(test_an_endless_line_is_one_problem),
		cmocka_unit_test(test_every_prefix_reads_only_its_length),
	};

	return cmocka_run_group_tests_name("conf_parse", tests, NULL, NULL);
}
