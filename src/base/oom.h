/* oom.h: whether the kernel's out-of-memory killer ended a process. A process killed for
 * want of memory dies of SIGKILL and cannot say so itself; the kernel's log can:
 * "Out of memory: Killed process 1234 (rescue) total-vm:...", or "Memory cgroup out of
 * memory: Killed process ..." (Linux 6.1, mm/oom_kill.c). */
#ifndef RESCUE_OOM_H
#define RESCUE_OOM_H

#include <stddef.h>
#include <sys/types.h>

/* 1 when the LENGTH bytes of kernel log at LOG (no NUL needed) say PID was killed for
 * want of memory, else 0. */
int oom_killed_in(const char *log, size_t length, pid_t pid);
/* The same, reading the kernel's log buffer (klogctl); 0 when it cannot be read. */
int oom_killed(pid_t pid);

#endif
