/* dirs.c: folders made with their parents (see dirs.h). */
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "base/dirs.h"

void make_dirs(const char *dir)
{
	char path[PATH_MAX], *slash;

	snprintf(path, sizeof path, "%s", dir);
	for (slash = path + 1; (slash = strchr(slash, '/')) != NULL; slash++) {
		*slash = '\0';
		mkdir(path, 0755);
		*slash = '/';
	}
	mkdir(path, 0755);
}
