/* test_memory.c: the machine's memory from meminfo text, and the running rescue commands
 * with their memory from a /proc laid out in a temporary directory. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "base/memory.h"
#include "lib/fake_sysfs.h"

static const char meminfo[] =
    "MemTotal:         124788 kB\n"
    "MemFree:           61200 kB\n"
    "MemAvailable:      80104 kB\n"
    "Buffers:            1024 kB\n";

static void test_meminfo_is_read_within_its_length(void **state)
{
	struct memory_state memory;
	size_t length = sizeof meminfo - 1;
	char *exact = malloc(length);

	(void)state;
	memcpy(exact, meminfo, length);		/* no NUL after it */
	assert_int_equal(memory_parse_meminfo(exact, length, &memory), 0);
	assert_true(memory.total_bytes == 124788ULL * 1024);
	assert_true(memory.available_bytes == 80104ULL * 1024);
	assert_true(memory.total_bytes < MEMORY_LOW_BYTES);
	/* Cut before MemAvailable: MemFree stands in. */
	assert_int_equal(memory_parse_meminfo(exact, (size_t)(strstr(meminfo, "MemAvailable")
	    - meminfo), &memory), 0);
	assert_true(memory.available_bytes == 61200ULL * 1024);
	/* No MemTotal: not meminfo. */
	assert_int_equal(memory_parse_meminfo(exact + 28, length - 28, &memory), -1);
	assert_int_equal(memory_parse_meminfo("MemTotalish: 5 kB\n", 18, &memory), -1);
	free(exact);
}

/* PROC/PID/cmdline (LENGTH bytes, NULs inside) and a status with RSS_KB. */
static void process(const char *proc, int pid, const char *cmdline, size_t length, int rss_kb)
{
	char path[4096], status[128];
	FILE *file;

	snprintf(status, sizeof status, "Name:\tx\nVmHWM:\t%8d kB\nVmRSS:\t%8d kB\n", rss_kb * 2,
	    rss_kb);
	snprintf(path, sizeof path, "%d/status", pid);
	fake_sysfs_write(proc, path, status);
	snprintf(path, sizeof path, "%s/%d/cmdline", proc, pid);
	file = fopen(path, "w");
	assert_non_null(file);
	fwrite(cmdline, 1, length, file);
	fclose(file);
}

#define PROCESS(proc, pid, literal, rss) process(proc, pid, literal, sizeof literal, rss)

static void test_the_running_commands_and_no_others(void **state)
{
	char *proc = fake_sysfs_create();
	struct memory_command commands[4];
	struct memory_state memory;

	(void)state;
	fake_sysfs_write(proc, "meminfo", meminfo);
	PROCESS(proc, 412, "rescue\0dump\0vda\0ssh://h/x", 52000);
	PROCESS(proc, 77, "/usr/bin/rescue\0image\0vdb\0file:///x", 9000);
	PROCESS(proc, 5, "rescue", 3000);		/* the menu */
	PROCESS(proc, 6, "rescue\0menu", 3000);
	PROCESS(proc, 7, "rescue\0--help", 3000);
	PROCESS(proc, 8, "/bin/sh\0-c\0rescue dump vda", 300);
	PROCESS(proc, 9, "rescuer\0dump", 300);
	PROCESS(proc, 900, "rescue\0disks", 2000);	/* the caller itself */
	fake_sysfs_write(proc, "self", "not a process\n");
	assert_int_equal(memory_read(proc, &memory), 0);
	assert_true(memory.available_bytes == 80104ULL * 1024);
	assert_int_equal(memory_commands(proc, 900, commands, 4), 2);
	assert_int_equal(commands[0].pid, 77);
	assert_string_equal(commands[0].command, "rescue image");
	assert_true(commands[0].rss_bytes == 9000ULL * 1024);
	assert_int_equal(commands[1].pid, 412);
	assert_string_equal(commands[1].command, "rescue dump");
	assert_true(commands[1].rss_bytes == 52000ULL * 1024);
	assert_true(commands[1].peak_bytes == 104000ULL * 1024);
	/* Room for one: the lowest pid is kept, the count says how many there are. */
	assert_int_equal(memory_commands(proc, 900, commands, 1), 2);
	assert_int_equal(commands[0].pid, 77);
	fake_sysfs_remove(proc);
}

static void test_no_proc_is_an_error(void **state)
{
	struct memory_state memory;
	struct memory_command command;

	(void)state;
	assert_int_equal(memory_read("/nonexistent-proc", &memory), -1);
	assert_int_equal(memory_commands("/nonexistent-proc", 1, &command, 1), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_meminfo_is_read_within_its_length),
		cmocka_unit_test(test_the_running_commands_and_no_others),
		cmocka_unit_test(test_no_proc_is_an_error),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
