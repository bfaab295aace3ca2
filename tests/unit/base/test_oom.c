/* test_oom.c: the OOM killer's line found in a kernel log, and only for its own pid. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "base/oom.h"

/* Lines as Linux 6.1 writes them (mm/oom_kill.c), in klogctl's form. */
static const char log_text[] =
    "<6>[   12.5] rescue: ready\n"
    "<6>[   80.1] oom-kill:constraint=CONSTRAINT_NONE,nodemask=(null),task=rescue,pid=412\n"
    "<3>[   80.1] Out of memory: Killed process 412 (rescue) total-vm:70312kB, "
    "anon-rss:66196kB, file-rss:4kB, shmem-rss:0kB, UID:0 pgtables:180kB oom_score_adj:0\n"
    "<3>[   95.0] Memory cgroup out of memory: Killed process 777 (tar) total-vm:1kB\n"
    "<6>[   99.0] Killed process 55 (x) for another reason\n";

static void test_the_victim_is_found_and_no_other(void **state)
{
	size_t length = sizeof log_text - 1;
	char *exact = malloc(length);

	(void)state;
	memcpy(exact, log_text, length);	/* no NUL after it */
	assert_true(oom_killed_in(exact, length, 412));
	assert_true(oom_killed_in(exact, length, 777));
	assert_false(oom_killed_in(exact, length, 41));	/* a prefix of 412 is not 412 */
	assert_false(oom_killed_in(exact, length, 55));	/* killed, not by the OOM killer */
	assert_false(oom_killed_in(exact, length, 1));
	/* Only LENGTH bytes: cut before pid 777's line, it is not there. */
	assert_false(oom_killed_in(exact, (size_t)(strstr(log_text, "<3>[   95.0]") - log_text),
	    777));
	free(exact);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_the_victim_is_found_and_no_other),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
