/* test_opt.c: every command parses options the same way: what it accepts, what it prints
 * and which exit code it returns for --help and for each kind of mistake. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
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

/* What the shared checks of salvaging commands return and say, captured like a parse. */
static void file_name(const char *name, struct parse_result *result)
{
	memset(result, 0, sizeof *result);
	err_set_command("fake");
	capture_start(&result->capture);
	result->exit_code = opt_file_name(&command_fake, "--name", name);
	capture_stop(&result->capture);
}

static void source_target(int argc, char **argv, const char **source, const char **target,
    struct parse_result *result)
{
	struct opt_parser opts;

	memset(result, 0, sizeof *result);
	*source = *target = NULL;
	err_set_command("fake");
	capture_start(&result->capture);
	opts = opt_parser(&command_fake, argc, argv, "jt:", fake_long_options);
	while (opt_next(&opts) >= 0)
		;
	result->exit_code = opt_source_target(&opts, source, target);
	capture_stop(&result->capture);
}

#define SOURCE_TARGET(source, target, result, ...) \
	source_target((int)(sizeof (char *[]){ "fake", __VA_ARGS__ } / sizeof (char *)), \
	    (char *[]){ "fake", __VA_ARGS__, NULL }, source, target, result)

/* A --name names files on the target: one plain name, no path, not empty, not huge. */
static void test_file_name_is_one_plain_name(void **state)
{
	char long_name[202];
	struct parse_result result;

	(void)state;
	file_name("nightly", &result);
	assert_int_equal(result.exit_code, 0);
	assert_string_equal(result.capture.err, "");
	capture_free(&result.capture);
	file_name("a/b", &result);
	assert_usage_error(&result, "--name a/b: not a plain file name");
	file_name("", &result);
	assert_usage_error(&result, "--name : not a plain file name");
	memset(long_name, 'n', 201);
	long_name[201] = '\0';
	file_name(long_name + 1, &result);
	assert_int_equal(result.exit_code, 0);
	capture_free(&result.capture);
	file_name(long_name, &result);
	assert_int_equal(result.exit_code, EXIT_USAGE);
	assert_non_null(strstr(result.capture.err, ": not a plain file name\n"));
	capture_free(&result.capture);
}

/* SOURCE [TARGET]: TARGET given wins, else the boot's rescue.target=, else a usage error. */
static void test_source_and_target_or_the_default_target(void **state)
{
	char dir[] = "/tmp/test_opt.XXXXXX", path[64];
	const char *source, *target;
	struct parse_result result;
	FILE *file;

	(void)state;
	assert_non_null(mkdtemp(dir));
	setenv("RESCUE_PARAM_DIR", dir, 1);
	SOURCE_TARGET(&source, &target, &result, "-j", "sda", "ssh://h/x");
	assert_int_equal(result.exit_code, 0);
	assert_string_equal(source, "sda");
	assert_string_equal(target, "ssh://h/x");
	capture_free(&result.capture);
	SOURCE_TARGET(&source, &target, &result, "sda");
	assert_usage_error(&result, "no TARGET given and no default target (rescue.target=) set");
	SOURCE_TARGET(&source, &target, &result, "-j");
	assert_usage_error(&result, "missing operand after -j");
	SOURCE_TARGET(&source, &target, &result, "sda", "ssh://h/x", "more");
	assert_usage_error(&result, "unexpected operand: more");
	snprintf(path, sizeof path, "%s/target", dir);
	file = fopen(path, "w");
	assert_non_null(file);
	fputs("nfs://server/export\n", file);
	fclose(file);
	SOURCE_TARGET(&source, &target, &result, "sda");
	assert_int_equal(result.exit_code, 0);
	assert_string_equal(target, "nfs://server/export");
	capture_free(&result.capture);
	unlink(path);
	rmdir(dir);
	unsetenv("RESCUE_PARAM_DIR");
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
		cmocka_unit_test(test_file_name_is_one_plain_name),
		cmocka_unit_test(test_source_and_target_or_the_default_target),
	};

	return cmocka_run_group_tests_name("opt", tests, NULL, NULL);
}
