/* survey.h: a short look inside a mounted file system, bounded so it answers within
 * seconds even on a huge or damaged tree: usage, the top-level directories with their
 * sizes, and notable content found near the top (databases, mail, fstab, homes).
 *
 * The walk never follows symbolic links and never leaves the file system. When a budget
 * (entries or seconds) runs out, sizes are lower bounds and the flags say so.
 */
#ifndef RESCUE_SURVEY_H
#define RESCUE_SURVEY_H

#include <limits.h>

enum { SURVEY_TOP_MAX = 32, SURVEY_FINDS_MAX = 32 };

struct survey_limits {
	unsigned long long max_entries;	/* for the size walk, all directories together */
	double max_seconds;
	int max_depth;			/* for the search for notable content */
	unsigned long long max_search_entries;	/* a quarter of it for each top directory */
};

struct survey_top {
	char name[NAME_MAX + 1];
	unsigned long long bytes;	/* allocated, as du counts */
	unsigned long long files;
	int directory;
};

struct survey_find {
	char kind[24];			/* "postgresql", "mysql", "mail", "fstab", "home" */
	char path[PATH_MAX];		/* relative to the root: "var/lib/postgresql/15/main" */
	char detail[128];		/* "version 15", "3 mailboxes", ... */
};

struct survey {
	unsigned long long size, used, free, inodes, inodes_free;
	struct survey_top top[SURVEY_TOP_MAX];
	int top_count;
	int top_more;			/* more top-level entries than SURVEY_TOP_MAX */
	int sizes_complete;		/* 0: the budget ran out, sizes are "at least" */
	struct survey_find finds[SURVEY_FINDS_MAX];
	int find_count;
	int search_complete;
};

extern const struct survey_limits survey_default_limits;

/* 0 when ROOT could be read at all; -1 with errno. */
int survey_run(const char *root, const struct survey_limits *limits, struct survey *survey);

#endif
