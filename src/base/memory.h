/* memory.h: how much memory the machine has and what the rescue commands running now use,
 * from /proc (meminfo, and VmRSS in each process's status). The appliance runs in whatever
 * RAM the broken server has: below MEMORY_LOW_BYTES the boot and `rescue disks` say so. */
#ifndef RESCUE_MEMORY_H
#define RESCUE_MEMORY_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Under this much RAM the boot warns: a dump of millions of files, the page cache and
 * the SSH client then compete for what is left. */
#define MEMORY_LOW_BYTES (256ULL << 20)

struct memory_state {
	uint64_t total_bytes;		/* MemTotal */
	uint64_t available_bytes;	/* MemAvailable: what can be had without swapping */
};

/* One running rescue command (not the menu, not the caller). */
struct memory_command {
	pid_t pid;
	char command[48];		/* "rescue dump", from its command line */
	uint64_t rss_bytes;		/* VmRSS now */
	uint64_t peak_bytes;		/* VmHWM: the most it has held */
};

/* Parses LENGTH bytes of /proc/meminfo text (no NUL needed): 0, or -1 when MemTotal is
 * not there. MemAvailable missing (kernels before 3.14) reads as MemFree. */
int memory_parse_meminfo(const char *text, size_t length, struct memory_state *state);
/* The same from PROC_ROOT/meminfo ("/proc" on the appliance): 0 or -1 with errno. */
int memory_read(const char *proc_root, struct memory_state *state);
/* The rescue commands running under PROC_ROOT, other than the process SELF and menus
 * ("rescue" alone or "rescue menu"), at most MAX of them in COMMANDS, in pid order:
 * how many were found (which may be more than MAX). A process reads one directory and
 * two small files, so this costs no memory per process beyond what it returns. */
size_t memory_commands(const char *proc_root, pid_t self, struct memory_command *commands,
    size_t max);
/* "123.4 MiB" */
void memory_text(uint64_t bytes, char *text, size_t size);

#endif
