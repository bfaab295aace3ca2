/* test_spawn.c: running programs the way check, repair and the targets do. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "base/spawn.h"

#define ARGV(...) ((char *const[]){ __VA_ARGS__, NULL })

static void test_collects_stdout_and_exit_code(void **state)
{
	struct spawn_request request = { .argv = ARGV("sh", "-c", "echo out; echo err >&2; exit 4") };
	struct spawn_result result;

	(void)state;
	assert_int_equal(spawn_run(&request, &result), 0);
	assert_int_equal(spawn_exit_code(&result), 4);
	assert_string_equal(result.output, "out\n");
	spawn_result_free(&result);
	request.flags = SPAWN_STDERR;
	assert_int_equal(spawn_run(&request, &result), 0);
	assert_string_equal(result.output, "out\nerr\n");
	spawn_result_free(&result);
}

/* 1 MiB in and out at once: a program that answers while it reads must not deadlock. */
static void test_large_input_echoed_back(void **state)
{
	size_t size = 1 << 20;
	char *input = malloc(size);
	struct spawn_request request = { .argv = ARGV("cat"), .input_size = size };
	struct spawn_result result;

	(void)state;
	memset(input, 'x', size);
	request.input = input;
	assert_int_equal(spawn_run(&request, &result), 0);
	assert_int_equal(spawn_exit_code(&result), 0);
	assert_int_equal(result.output_size, size);
	assert_memory_equal(result.output, input, size);
	spawn_result_free(&result);
	free(input);
}

static void test_environment_reaches_only_the_child(void **state)
{
	struct spawn_request request = {
		.argv = ARGV("sh", "-c", "printf %s \"$SECRET_FOR_TEST\""),
		.environment = ARGV("SECRET_FOR_TEST=hunter2"),
	};
	struct spawn_result result;

	(void)state;
	assert_int_equal(spawn_run(&request, &result), 0);
	assert_string_equal(result.output, "hunter2");
	assert_null(getenv("SECRET_FOR_TEST"));
	spawn_result_free(&result);
}

static void test_missing_program_exits_127_and_timeout_kills(void **state)
{
	struct spawn_request request = { .argv = ARGV("/nonexistent/program") };
	struct spawn_result result;

	(void)state;
	assert_int_equal(spawn_run(&request, &result), 0);
	assert_int_equal(spawn_exit_code(&result), 127);
	spawn_result_free(&result);
	request.argv = ARGV("sleep", "30");
	request.timeout_seconds = 1;
	assert_int_equal(spawn_run(&request, &result), 0);
	assert_true(result.timed_out);
	assert_true(WIFSIGNALED(result.status));
	spawn_result_free(&result);
}

/* Started children run at once: a reader of a FIFO gets what a writer started after it
 * sends, and they can be finished in either order. Were spawn_start to wait for its child,
 * the reader would give up after its own timeout with nothing read. */
static void test_started_children_run_at_once(void **state)
{
	char dir[] = "/tmp/test_spawn.XXXXXX", fifo[64], read_it[128], write_it[128];
	struct spawn_request reader = { .argv = ARGV("timeout", "20", "sh", "-c", read_it),
	    .timeout_seconds = 30 };
	struct spawn_request writer = { .argv = ARGV("sh", "-c", write_it),
	    .timeout_seconds = 30 };
	struct spawn_child reading, writing;
	struct spawn_result result;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(fifo, sizeof fifo, "%s/fifo", dir);
	assert_int_equal(mkfifo(fifo, 0600), 0);
	snprintf(read_it, sizeof read_it, "read line <%s && echo \"got $line\"", fifo);
	snprintf(write_it, sizeof write_it, "echo hello >%s; echo sent", fifo);
	assert_int_equal(spawn_start(&reader, &reading), 0);
	assert_int_equal(spawn_start(&writer, &writing), 0);
	assert_int_equal(spawn_finish(&writer, &writing, &result), 0);
	assert_int_equal(spawn_exit_code(&result), 0);
	assert_string_equal(result.output, "sent\n");
	spawn_result_free(&result);
	assert_int_equal(spawn_finish(&reader, &reading, &result), 0);
	assert_int_equal(spawn_exit_code(&result), 0);
	assert_string_equal(result.output, "got hello\n");
	spawn_result_free(&result);
	unlink(fifo);
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_collects_stdout_and_exit_code),
		cmocka_unit_test(test_large_input_echoed_back),
		cmocka_unit_test(test_environment_reaches_only_the_child),
		cmocka_unit_test(test_missing_program_exits_127_and_timeout_kills),
		cmocka_unit_test(test_started_children_run_at_once),
	};

	return cmocka_run_group_tests_name("spawn", tests, NULL, NULL);
}
