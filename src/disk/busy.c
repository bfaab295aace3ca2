/* busy.c: the busy file of a device being read (see busy.h). */
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "base/dirs.h"
#include "disk/busy.h"

void busy_path(const char *dir, const char *name, char *path, size_t size)
{
	snprintf(path, size, "%s/%s", dir, name);
}

/* The holder named in the busy file at PATH: 1 when there is one that still counts (a
 * file without a process, or one whose process lives), 0 when there is none or it died. */
static int read_holder(const char *path, struct busy_holder *holder)
{
	char text[256] = "";
	const char *pid;
	size_t got;
	FILE *file;

	memset(holder, 0, sizeof *holder);
	if ((file = fopen(path, "re")) == NULL)
		return 0;
	got = fread(text, 1, sizeof text - 1, file);
	text[got] = '\0';
	fclose(file);
	if (sscanf(text, "command=%31[^\n]", holder->command) != 1)
		return 0;
	if ((pid = strstr(text, "\npid=")) == NULL)
		return 1;
	if (sscanf(pid + 5, "%ld", &holder->pid) != 1 || holder->pid <= 0)
		return 0;
	return holder->pid != (long)getpid() && kill((pid_t)holder->pid, 0) == 0;
}

int busy_mark(const char *dir, const char *name, const char *command, const char *target,
    struct busy_holder *holder)
{
	char path[PATH_MAX];
	FILE *file;

	busy_path(dir, name, path, sizeof path);
	if (read_holder(path, holder))
		return 0;
	make_dirs(dir);
	if ((file = fopen(path, "we")) == NULL)
		return 0;
	fprintf(file, "command=%s\npid=%ld\ntarget=%s\n", command, (long)getpid(), target);
	return fclose(file) == 0;
}

void busy_unmark(const char *dir, const char *name)
{
	char path[PATH_MAX];

	busy_path(dir, name, path, sizeof path);
	unlink(path);
}
