/* test_command.c: the command table and the promises every command in it keeps, checked
 * for all commands at once so a new command is covered the day it is added. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "base/err.h"
#include "cli/command.h"
#include "lib/capture.h"
#include "version.h"

/* bsearch in command_find relies on this order; names must also be unique. */
static void test_table_is_sorted_and_complete(void **state)
{
	size_t i;

	(void)state;
	assert_true(command_table_size >= 3);
	for (i = 0; i < command_table_size; i++) {
		assert_non_null(command_table[i]->name);
		assert_non_null(command_table[i]->summary);
		assert_true(strlen(command_table[i]->summary) > 0);
		assert_non_null(command_table[i]->run);
		if (i > 0)
			assert_true(strcmp(command_table[i - 1]->name, command_table[i]->name) < 0);
		/* Two menu columns fit 80: a longer label would be cut. */
		if (command_table[i]->menu_label)
			assert_in_range(strlen(command_table[i]->menu_label), 1, MENU_LABEL_MAX);
	}
}

static void test_find_known_commands(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < command_table_size; i++)
		assert_ptr_equal(command_find(command_table[i]->name), command_table[i]);
	assert_string_equal(command_find("menu")->name, "menu");
	assert_string_equal(command_find("version")->name, "version");
	assert_string_equal(command_find("help")->name, "help");
}

static void test_find_rejects_unknown_prefix_and_case(void **state)
{
	(void)state;
	assert_null(command_find("nosuch"));
	assert_null(command_find("ver"));	/* no guessing from a prefix */
	assert_null(command_find("versions"));
	assert_null(command_find("VERSION"));
	assert_null(command_find(""));
	assert_null(command_find(NULL));
}

static int run_captured(const struct command *command, const char *option,
    struct capture *capture)
{
	char *argv[] = { (char *)command->name, (char *)option, NULL };
	int code;

	capture_start(capture);
	code = command_run(command, 2, argv);
	capture_stop(capture);
	return code;
}

static void test_every_command_prints_its_usage_for_help(void **state)
{
	struct capture capture;
	size_t i;

	(void)state;
	for (i = 0; i < command_table_size; i++) {
		assert_int_equal(run_captured(command_table[i], "--help", &capture), EXIT_OK);
		assert_string_equal(capture.out, command_table[i]->usage);
		assert_non_null(strstr(capture.out, "usage: rescue"));
		assert_non_null(strstr(capture.out, "Exit codes"));
		assert_string_equal(capture.err, "");
		capture_free(&capture);
	}
}

static void test_every_command_rejects_a_bad_option_with_exit_2(void **state)
{
	struct capture capture;
	char expected[128];
	size_t i;

	(void)state;
	for (i = 0; i < command_table_size; i++) {
		assert_int_equal(run_captured(command_table[i], "--bogus", &capture), EXIT_USAGE);
		snprintf(expected, sizeof expected, "rescue %s: fatal: unknown option: --bogus\n",
		    command_table[i]->name);
		assert_true(strncmp(capture.err, expected, strlen(expected)) == 0);
		assert_non_null(strstr(capture.err, "usage: rescue"));
		assert_string_equal(capture.out, "");
		capture_free(&capture);
	}
}

static void test_version_prints_the_build_version(void **state)
{
	struct capture capture;
	char *argv[] = { "version", NULL };

	(void)state;
	capture_start(&capture);
	assert_int_equal(command_run(command_find("version"), 1, argv), EXIT_OK);
	capture_stop(&capture);
	assert_string_equal(capture.out, "rescue " RESCUE_VERSION "\n");
	capture_free(&capture);
}

static void test_help_lists_every_command_and_shows_one(void **state)
{
	struct capture capture;
	char *list[] = { "help", NULL }, *one[] = { "help", "version", NULL };
	size_t i;

	(void)state;
	capture_start(&capture);
	assert_int_equal(command_run(command_find("help"), 1, list), EXIT_OK);
	capture_stop(&capture);
	for (i = 0; i < command_table_size; i++) {
		assert_non_null(strstr(capture.out, command_table[i]->name));
		assert_non_null(strstr(capture.out, command_table[i]->summary));
	}
	capture_free(&capture);
	capture_start(&capture);
	assert_int_equal(command_run(command_find("help"), 2, one), EXIT_OK);
	capture_stop(&capture);
	assert_string_equal(capture.out, command_find("version")->usage);
	capture_free(&capture);
}

static void test_help_names_an_unknown_command(void **state)
{
	struct capture capture;
	char *argv[] = { "help", "nosuch", NULL };

	(void)state;
	capture_start(&capture);
	assert_int_equal(command_run(command_find("help"), 2, argv), EXIT_USAGE);
	capture_stop(&capture);
	assert_true(strncmp(capture.err, "rescue help: fatal: unknown command: nosuch\n", 44) == 0);
	capture_free(&capture);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table_is_sorted_and_complete),
		cmocka_unit_test(test_find_known_commands),
		cmocka_unit_test(test_find_rejects_unknown_prefix_and_case),
		cmocka_unit_test(test_every_command_prints_its_usage_for_help),
		cmocka_unit_test(test_every_command_rejects_a_bad_option_with_exit_2),
		cmocka_unit_test(test_version_prints_the_build_version),
		cmocka_unit_test(test_help_lists_every_command_and_shows_one),
		cmocka_unit_test(test_help_names_an_unknown_command),
	};

	return cmocka_run_group_tests_name("command", tests, NULL, NULL);
}
