/* run_ok.c: see run_ok.h. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "base/spawn.h"
#include "lib/run_ok.h"

void run_ok(char *const *argv)
{
	struct spawn_request request = { .argv = argv, .flags = SPAWN_STDERR };
	struct spawn_result result;

	assert_int_equal(spawn_run(&request, &result), 0);
	if (spawn_exit_code(&result) != 0)
		fail_msg("%s exited %d: %s", argv[0], spawn_exit_code(&result), result.output);
	spawn_result_free(&result);
}
