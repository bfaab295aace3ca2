/* test_journal.c: the session journal as a post-mortem reads it, and the JSON it feeds. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "base/err.h"
#include "base/journal.h"
#include "base/json.h"
#include "base/paths.h"
#include "lib/capture.h"

static char journal_file[4096];

static int use_temporary_journal(void **state)
{
	int fd;

	(void)state;
	snprintf(journal_file, sizeof journal_file, "/tmp/rescue-journal-XXXXXX");
	fd = mkstemp(journal_file);
	assert_true(fd >= 0);
	close(fd);
	unlink(journal_file);
	setenv(RESCUE_JOURNAL_ENV, journal_file, 1);
	setenv(RESCUE_ORIGIN_ENV, "console", 1);
	unsetenv(RESCUE_NESTED_ENV);
	return 0;
}

static int remove_journal(void **state)
{
	(void)state;
	unlink(journal_file);
	return 0;
}

static void test_passwords_in_urls_are_redacted(void **state)
{
	char text[256];

	(void)state;
	journal_redact("ssh://backup:s3cret@host/dir", text, sizeof text);
	assert_string_equal(text, "ssh://backup:***@host/dir");
	journal_redact("smb://user:pa:ss@nas/share", text, sizeof text);
	assert_string_equal(text, "smb://user:***@nas/share");
	/* No password: nothing to hide, and a port is not a password. */
	journal_redact("ssh://backup@host:2222/dir", text, sizeof text);
	assert_string_equal(text, "ssh://backup@host:2222/dir");
	journal_redact("file:///tmp/a:b@c", text, sizeof text);
	assert_string_equal(text, "file:///tmp/a:b@c");
}

static void test_command_lines_are_quoted_for_a_shell(void **state)
{
	char *argv[] = { "mount", "sda1", "/mnt/my disk", "it's", NULL };
	char text[256];

	(void)state;
	journal_quote_command(4, argv, text, sizeof text);
	assert_string_equal(text, "mount sda1 '/mnt/my disk' 'it'\\''s'");
}

static void test_a_command_leaves_one_line_with_its_summary_or_error(void **state)
{
	char *argv[] = { "image", "sda", "ssh://u:pw@h/d", NULL };
	struct journal_entry entry;
	struct capture capture;
	char *text, *second;

	(void)state;
	journal_start(3, argv);
	journal_summary("copied %d bytes", 42);
	journal_finish(0);
	journal_start(1, argv);
	capture_start(&capture);
	err_set_command("image");
	err_fatalx(3, "unable to reach %s", "host");
	capture_stop(&capture);
	capture_free(&capture);
	journal_finish(3);
	text = read_whole_file(journal_file);
	assert_non_null(text);
	second = strchr(text, '\n') + 1;
	assert_int_equal(journal_parse_line(text, &entry), 0);
	/* Quoted: *** would be a glob to a shell. */
	assert_string_equal(entry.command_line, "rescue image sda 'ssh://u:***@h/d'");
	assert_string_equal(entry.exit, "0");
	assert_string_equal(entry.origin, "console");
	assert_string_equal(entry.summary, "copied 42 bytes");
	assert_int_equal(journal_parse_line(second, &entry), 0);
	assert_string_equal(entry.exit, "3");
	assert_string_equal(entry.summary, "rescue image: fatal: unable to reach host");
	assert_null(strstr(second, "pw"));
	free(text);
}

/* A summary with a tab or newline must not split an entry. */
static void test_separators_in_fields_cannot_break_the_format(void **state)
{
	struct journal_entry entry;
	char *text;

	(void)state;
	assert_int_equal(journal_append("rescue x", 0, 1.5, "signal 11", "two\nlines\tand tab"), 0);
	text = read_whole_file(journal_file);
	assert_int_equal(journal_parse_line(text, &entry), 0);
	assert_string_equal(entry.summary, "two lines and tab");
	assert_string_equal(entry.exit, "signal 11");
	assert_string_equal(entry.seconds, "1.5");
	free(text);
}

/* A command run by another rescue command is part of that command's entry. */
static void test_nested_commands_are_not_journaled_twice(void **state)
{
	char *argv[] = { "disks", NULL };
	char *text;

	(void)state;
	setenv(RESCUE_NESTED_ENV, "1", 1);
	journal_start(1, argv);
	journal_finish(0);
	unsetenv(RESCUE_NESTED_ENV);
	text = read_whole_file(journal_file);
	assert_true(text == NULL || text[0] == '\0');
	free(text);
}

static void test_json_strings_are_escaped_and_always_valid_utf8(void **state)
{
	char *data = NULL;
	size_t size = 0;
	FILE *out = open_memstream(&data, &size);

	(void)state;
	json_string(out, "a\"b\\c\n\t\x01 caf\xc3\xa9 \xff\xc3(");
	fclose(out);
	assert_string_equal(data, "\"a\\\"b\\\\c\\n\\t\\u0001 caf\xc3\xa9 \\u00ff\\u00c3(\"");
	free(data);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_passwords_in_urls_are_redacted),
		cmocka_unit_test(test_command_lines_are_quoted_for_a_shell),
		cmocka_unit_test_setup_teardown(test_a_command_leaves_one_line_with_its_summary_or_error,
		    use_temporary_journal, remove_journal),
		cmocka_unit_test_setup_teardown(test_separators_in_fields_cannot_break_the_format,
		    use_temporary_journal, remove_journal),
		cmocka_unit_test_setup_teardown(test_nested_commands_are_not_journaled_twice,
		    use_temporary_journal, remove_journal),
		cmocka_unit_test(test_json_strings_are_escaped_and_always_valid_utf8),
	};

	return cmocka_run_group_tests_name("journal", tests, NULL, NULL);
}
