/* test_opt.c: every command parses options the same way: what it accepts, what it prints
 * and which exit code it returns for --help and for each kind of mistake. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "base/err.h"
#include "cli/opt.h"
#include "lib/capture.h"

static const struct command command_fake = {
	.name = "fake",
	.summary = "a command for these tests",
	.usage = "usage: rescue fake [-j] [-t TARGET] SRC [DEST]\n\nDetails.\n",
};

static const struct option fake_long_options[] = {
	{ "json", no_argument, NULL, 'j' },
	{ "target", required_argument, NULL, 't' },
	{ NULL, 0, NULL, 0 },
};

/* What one parse produced, as the command would see it. */
struct parse_result {
	int json;
	const char *target;
	int stopped;		/* opt_next returned OPT_STOP */
	int operands_rejected;	/* opt_operands failed */
	int exit_code;
	int operand_count;
	char **operands;
	struct capture capture;
};

static void parse(int argc, char **argv, struct parse_result *result)
{
	struct opt_parser opts;
	int option;

	memset(result, 0, sizeof *result);
	err_set_command("fake");
	capture_start(&result->capture);
	opts = opt_parser(&command_fake, argc, argv, "jt:", fake_long_options);
	while (!result->stopped && (option = opt_next(&opts)) != OPT_DONE) {
		if (option == 'j')
			result->json = 1;
		else if (option == 't')
			result->target = optarg;
		else if (option == OPT_STOP)
			result->stopped = 1;
	}
	if (!result->stopped)
		result->operands_rejected = opt_operands(&opts, 1, 2) != 0;
	capture_stop(&result->capture);
	result->exit_code = opts.exit_code;
	result->operand_count = opts.operand_count;
	result->operands = opts.operands;
}

/* The compound literal lives as long as the test function, so result->operands, which
 * points into it, stays valid. */
#define PARSE(result, ...) \
	parse((int)(sizeof (char *[]){ "fake", __VA_ARGS__ } / sizeof (char *)), \
	    (char *[]){ "fake", __VA_ARGS__, NULL }, result)

static void test_options_and_operands_in_any_order(void **state)
{
	struct parse_result result;

	(void)state;
	PARSE(&result, "/dev/sda", "--json", "-t", "ssh://host/x", "out");
	assert_false(result.stopped);
	assert_false(result.operands_rejected);
	assert_true(result.json);
	assert_string_equal(result.target, "ssh://host/x");
	assert_int_equal(result.operand_count, 2);
	assert_string_equal(result.operands[0], "/dev/sda");
	assert_string_equal(result.operands[1], "out");
	assert_string_equal(result.capture.err, "");
	capture_free(&result.capture);
}

static void test_help_prints_usage_on_stdout_and_exits_0(void **state)
{
	struct parse_result result;

	(void)state;
	PARSE(&result, "--help");
	assert_true(result.stopped);
	assert_int_equal(result.exit_code, EXIT_OK);
	assert_string_equal(result.capture.out, command_fake.usage);
	assert_string_equal(result.capture.err, "");
	capture_free(&result.capture);
}

static void assert_usage_error(struct parse_result *result, const char *message)
{
	char expected[512];

	snprintf(expected, sizeof expected,
	    "rescue fake: fatal: %s\nusage: rescue fake [-j] [-t TARGET] SRC [DEST]\n"
	    "Run 'rescue fake --help' for more.\n", message);
	assert_int_equal(result->exit_code, EXIT_USAGE);
	assert_string_equal(result->capture.err, expected);
	assert_string_equal(result->capture.out, "");
	capture_free(&result->capture);
}

static void test_unknown_long_option_is_named(void **state)
{
	struct parse_result result;

	(void)state;
	PARSE(&result, "/dev/sda", "--jsn");
	assert_true(result.stopped);
	assert_usage_error(&result, "unknown option: --jsn");
}

static void test_unknown_letter_in_a_bundle_is_named_alone(void **state)
{
	struct parse_result result;

	(void)state;
	PARSE(&result, "--json", "-jx", "/dev/sda");
	assert_true(result.stopped);
	assert_usage_error(&result, "unknown option: -x");
}

static void test_missing_value_is_named_short_and_long(void **state)
{
	struct parse_result result;

	(void)state;
	PARSE(&result, "/dev/sda", "-t");
	assert_usage_error(&result, "option needs a value: -t");
	PARSE(&result, "/dev/sda", "--target");
	assert_usage_error(&result, "option needs a value: --target");
}

static void test_operand_count_is_checked(void **state)
{
	struct parse_result result;

	(void)state;
	PARSE(&result, "--json");
	assert_true(result.operands_rejected);
	assert_usage_error(&result, "missing operand after --json");
	PARSE(&result, "a", "b", "c");
	assert_true(result.operands_rejected);
	assert_usage_error(&result, "unexpected operand: c");
}

/* "--" ends the options, so a file named like an option can still be given. */
static void test_double_dash_ends_options(void **state)
{
	struct parse_result result;

	(void)state;
	PARSE(&result, "--", "--json");
	assert_false(result.stopped);
	assert_false(result.json);
	assert_int_equal(result.operand_count, 1);
	assert_string_equal(result.operands[0], "--json");
	capture_free(&result.capture);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_options_and_operands_in_any_order),
		cmocka_unit_test(test_help_prints_usage_on_stdout_and_exits_0),
		cmocka_unit_test(test_unknown_long_option_is_named),
		cmocka_unit_test(test_unknown_letter_in_a_bundle_is_named_alone),
		cmocka_unit_test(test_missing_value_is_named_short_and_long),
		cmocka_unit_test(test_operand_count_is_checked),
		cmocka_unit_test(test_double_dash_ends_options),
	};

	return cmocka_run_group_tests_name("opt", tests, NULL, NULL);
}
