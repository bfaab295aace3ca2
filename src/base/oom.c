/* oom.c: the OOM killer's verdict on a process, from the kernel log (oom.h). */
#define _GNU_SOURCE	/* memmem */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/klog.h>

#include "base/oom.h"

enum { SYSLOG_ACTION_READ_ALL = 3, SYSLOG_ACTION_SIZE_BUFFER = 10 };

/* "Out of memory: Killed process PID (" or, from a memory cgroup, "... out of memory:
 * Killed process PID (": the same words after the first letter. */
int oom_killed_in(const char *log, size_t length, pid_t pid)
{
	char wanted[64];
	int wanted_length = snprintf(wanted, sizeof wanted, "ut of memory: Killed process %ld (",
	    (long)pid);

	return wanted_length > 0 && memmem(log, length, wanted, (size_t)wanted_length) != NULL;
}

int oom_killed(pid_t pid)
{
	int size = klogctl(SYSLOG_ACTION_SIZE_BUFFER, NULL, 0), got, killed;
	char *log;

	if (size <= 0 || !(log = malloc((size_t)size)))
		return 0;
	got = klogctl(SYSLOG_ACTION_READ_ALL, log, size);
	killed = got > 0 && oom_killed_in(log, (size_t)got, pid);
	free(log);
	return killed;
}
