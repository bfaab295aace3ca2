/* memory.c: the machine's memory and the rescue commands' (memory.h). */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/memory.h"

/* The value in kB of the line "NAME:   123 kB" in TEXT[0, LENGTH), in bytes; 0 with FOUND
 * unset when there is no such line. */
static uint64_t kilobytes_of(const char *text, size_t length, const char *name, int *found)
{
	size_t name_length = strlen(name);
	const char *line = text, *end = text + length, *newline;
	char number[32];
	size_t size;

	*found = 0;
	for (; line < end; line = newline ? newline + 1 : end) {
		newline = memchr(line, '\n', (size_t)(end - line));
		size = (size_t)((newline ? newline : end) - line);
		if (size <= name_length || memcmp(line, name, name_length) != 0
		    || line[name_length] != ':')
			continue;
		size -= name_length + 1;
		snprintf(number, sizeof number, "%.*s", (int)(size < 31 ? size : 31),
		    line + name_length + 1);
		*found = 1;
		return strtoull(number, NULL, 10) * 1024;
	}
	return 0;
}

int memory_parse_meminfo(const char *text, size_t length, struct memory_state *state)
{
	int found;

	state->total_bytes = kilobytes_of(text, length, "MemTotal", &found);
	if (!found)
		return -1;
	state->available_bytes = kilobytes_of(text, length, "MemAvailable", &found);
	if (!found)
		state->available_bytes = kilobytes_of(text, length, "MemFree", &found);
	return 0;
}

/* Up to SIZE bytes of the file at PATH into TEXT: the length, or -1 with errno. */
static ssize_t read_small(const char *path, char *text, size_t size)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t got, total = 0;

	if (fd < 0)
		return -1;
	while ((size_t)total < size && (got = read(fd, text + total, size - (size_t)total)) > 0)
		total += got;
	close(fd);
	return total;
}

int memory_read(const char *proc_root, struct memory_state *state)
{
	char path[PATH_MAX], text[8192];
	ssize_t length;

	snprintf(path, sizeof path, "%s/meminfo", proc_root);
	if ((length = read_small(path, text, sizeof text)) < 0)
		return -1;
	if (memory_parse_meminfo(text, (size_t)length, state) != 0) {
		errno = EINVAL;
		return -1;
	}
	return 0;
}

/* "rescue CMD" from a command line, LENGTH bytes of NUL-separated arguments with a NUL
 * after them, whose program is rescue; else 0. The menu (no command, or "menu") and
 * options alone ("rescue --help") are no command. */
static int rescue_command(const char *cmdline, size_t length, char *command, size_t size)
{
	const char *slash = strrchr(cmdline, '/'), *argument;
	size_t first = strlen(cmdline);

	if (strcmp(slash ? slash + 1 : cmdline, "rescue") != 0 || first + 1 >= length)
		return 0;
	argument = cmdline + first + 1;
	if (!*argument || *argument == '-' || strcmp(argument, "menu") == 0)
		return 0;
	snprintf(command, size, "rescue %s", argument);
	return 1;
}

/* COMMAND's memory from PROC_ROOT/PID; 0, or -1 when it is no rescue command (or gone). */
static int command_of(const char *proc_root, pid_t pid, struct memory_command *command)
{
	char path[PATH_MAX], text[4096];
	ssize_t length;
	int found;

	snprintf(path, sizeof path, "%s/%d/cmdline", proc_root, (int)pid);
	if ((length = read_small(path, text, sizeof text - 1)) <= 0)
		return -1;
	text[length] = '\0';
	if (!rescue_command(text, (size_t)length, command->command, sizeof command->command))
		return -1;
	snprintf(path, sizeof path, "%s/%d/status", proc_root, (int)pid);
	if ((length = read_small(path, text, sizeof text)) < 0)
		return -1;
	command->pid = pid;
	command->rss_bytes = kilobytes_of(text, (size_t)length, "VmRSS", &found);
	command->peak_bytes = kilobytes_of(text, (size_t)length, "VmHWM", &found);
	return 0;
}

/* Inserted in pid order (readdir's order is the kernel's): at most MAX kept. */
static void keep(struct memory_command *commands, size_t kept, size_t max,
    const struct memory_command *command)
{
	size_t at = kept;

	while (at > 0 && commands[at - 1].pid > command->pid)
		at--;
	if (at >= max)
		return;
	memmove(&commands[at + 1], &commands[at], ((kept < max ? kept : max - 1) - at)
	    * sizeof *commands);
	commands[at] = *command;
}

size_t memory_commands(const char *proc_root, pid_t self, struct memory_command *commands,
    size_t max)
{
	struct memory_command command;
	struct dirent *entry;
	size_t found = 0;
	DIR *dir = opendir(proc_root);
	char *end;
	long pid;

	if (dir == NULL)
		return 0;
	while ((entry = readdir(dir)) != NULL) {
		if (!isdigit((unsigned char)entry->d_name[0]))
			continue;
		pid = strtol(entry->d_name, &end, 10);
		if (*end || pid <= 0 || pid > INT_MAX || (pid_t)pid == self
		    || command_of(proc_root, (pid_t)pid, &command) != 0)
			continue;
		keep(commands, found < max ? found : max, max, &command);
		found++;
	}
	closedir(dir);
	return found;
}

void memory_text(uint64_t bytes, char *text, size_t size)
{
	snprintf(text, size, "%.1f MiB", (double)bytes / (1 << 20));
}
