/* test_busy.c: the busy file a reading command leaves for `rescue unguard` and `rescue
 * disks`: written with the command, its process and target, removed by its writer; a
 * living holder's file (another command's, a repair's) left alone, a dead one's replaced. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "disk/busy.h"

static char *read_text(const char *dir, const char *name)
{
	static char text[512];
	char path[256];
	size_t got;
	FILE *file;

	snprintf(path, sizeof path, "%s/%s", dir, name);
	if ((file = fopen(path, "r")) == NULL)
		return NULL;
	got = fread(text, 1, sizeof text - 1, file);
	text[got] = '\0';
	fclose(file);
	return text;
}

static void write_text(const char *dir, const char *name, const char *text)
{
	char path[256];
	FILE *file;

	snprintf(path, sizeof path, "%s/%s", dir, name);
	assert_non_null(file = fopen(path, "w"));
	fputs(text, file);
	assert_int_equal(fclose(file), 0);
}

/* A process id that no process has any more. */
static long dead_pid(void)
{
	pid_t child = fork();

	assert_true(child >= 0);
	if (child == 0)
		_exit(0);
	assert_int_equal(waitpid(child, NULL, 0), child);
	return (long)child;
}

static void test_busy_mark_and_holders(void **state)
{
	char top[] = "/tmp/rescue-busy-XXXXXX", dir[64], expected[128], other[64];
	struct busy_holder holder;

	(void)state;
	assert_non_null(mkdtemp(top));
	snprintf(dir, sizeof dir, "%s/run/busy", top);
	/* The folder is made on first use, the file names command, process and target. */
	assert_int_equal(busy_mark(dir, "vda", "carve", "ssh://h/x", &holder), 1);
	snprintf(expected, sizeof expected, "command=carve\npid=%ld\ntarget=ssh://h/x\n",
	    (long)getpid());
	assert_string_equal(read_text(dir, "vda"), expected);
	busy_unmark(dir, "vda");
	assert_null(read_text(dir, "vda"));
	/* A living process's file is left alone and named. */
	snprintf(other, sizeof other, "command=image\npid=%ld\ntarget=nbd://h\n", (long)getppid());
	write_text(dir, "vdb", other);
	assert_int_equal(busy_mark(dir, "vdb", "carve", "ssh://h/x", &holder), 0);
	assert_string_equal(holder.command, "image");
	assert_int_equal(holder.pid, (long)getppid());
	assert_string_equal(read_text(dir, "vdb"), other);
	/* A repair's file names no process: it outlives the command and is left alone. */
	write_text(dir, "vdc", "command=repair\nsnapshot=x\n");
	assert_int_equal(busy_mark(dir, "vdc", "carve", "t", &holder), 0);
	assert_string_equal(holder.command, "repair");
	assert_int_equal(holder.pid, 0);
	/* A dead process's file is stale: replaced. */
	snprintf(other, sizeof other, "command=image\npid=%ld\ntarget=t\n", dead_pid());
	write_text(dir, "vdd", other);
	assert_int_equal(busy_mark(dir, "vdd", "carve", "ssh://h/x", &holder), 1);
	snprintf(expected, sizeof expected, "command=carve\npid=%ld\ntarget=ssh://h/x\n",
	    (long)getpid());
	assert_string_equal(read_text(dir, "vdd"), expected);
	snprintf(expected, sizeof expected, "rm -rf '%s'", top);
	assert_int_equal(system(expected), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_busy_mark_and_holders),
	};

	return cmocka_run_group_tests_name("busy", tests, NULL, NULL);
}
