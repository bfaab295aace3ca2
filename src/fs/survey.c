/* survey.c: two bounded walks over a mounted tree: one sums the top-level entries' sizes,
 * one looks a few levels down for content people come to rescue. */
#define _GNU_SOURCE	/* O_DIRECTORY, O_NOFOLLOW with fdopendir */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include "base/clock.h"
#include "fs/survey.h"

const struct survey_limits survey_default_limits = {
	.max_entries = 200000, .max_seconds = 4.0, .max_depth = 6,
	.max_search_entries = 60000,
};

struct walk {
	const struct survey_limits *limits;
	dev_t device;
	unsigned long long entries;
	struct timespec start;
	int out_of_budget;
};

static int budget_left(struct walk *walk, unsigned long long max_entries)
{
	if (walk->out_of_budget)
		return 0;
	/* The clock is read every 256 entries: cheap enough, and still on time. */
	if (++walk->entries > max_entries || ((walk->entries & 255) == 0
	    && seconds_since(&walk->start) > walk->limits->max_seconds))
		walk->out_of_budget = 1;
	return !walk->out_of_budget;
}

static DIR *open_dir_at(int parent, const char *name)
{
	int fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	DIR *dir;

	if (fd < 0)
		return NULL;
	dir = fdopendir(fd);
	if (dir == NULL)
		close(fd);
	return dir;
}

static int is_dot(const char *name)
{
	return strcmp(name, ".") == 0 || strcmp(name, "..") == 0;
}

/* Adds the sizes below directory NAME (in PARENT) to TOP. */
static void size_tree(struct walk *walk, int parent, const char *name, struct survey_top *top)
{
	DIR *dir = open_dir_at(parent, name);
	struct dirent *entry;
	struct stat status;

	if (dir == NULL)
		return;
	while ((entry = readdir(dir)) != NULL && budget_left(walk, walk->limits->max_entries)) {
		if (is_dot(entry->d_name)
		    || fstatat(dirfd(dir), entry->d_name, &status, AT_SYMLINK_NOFOLLOW) != 0)
			continue;
		top->bytes += (unsigned long long)status.st_blocks * 512;
		top->files++;
		if (S_ISDIR(status.st_mode) && status.st_dev == walk->device)
			size_tree(walk, dirfd(dir), entry->d_name, top);
	}
	closedir(dir);
}

static int compare_top(const void *a, const void *b)
{
	const struct survey_top *left = a, *right = b;

	return strcmp(left->name, right->name);
}

static void survey_sizes(int root, struct walk *walk, struct survey *survey)
{
	DIR *dir = open_dir_at(root, ".");
	struct dirent *entry;
	struct stat status;

	if (dir == NULL)
		return;
	while ((entry = readdir(dir)) != NULL) {
		struct survey_top *top;

		if (is_dot(entry->d_name)
		    || fstatat(dirfd(dir), entry->d_name, &status, AT_SYMLINK_NOFOLLOW) != 0)
			continue;
		if (survey->top_count == SURVEY_TOP_MAX) {
			survey->top_more = 1;
			continue;
		}
		top = &survey->top[survey->top_count++];
		snprintf(top->name, sizeof top->name, "%s", entry->d_name);
		top->bytes = (unsigned long long)status.st_blocks * 512;
		top->files = 1;
		top->directory = S_ISDIR(status.st_mode);
		if (top->directory && status.st_dev == walk->device)
			size_tree(walk, dirfd(dir), entry->d_name, top);
	}
	closedir(dir);
	qsort(survey->top, (size_t)survey->top_count, sizeof survey->top[0], compare_top);
	survey->sizes_complete = !walk->out_of_budget;
}

static void add_find(struct survey *survey, const char *kind, const char *path,
    const char *detail)
{
	struct survey_find *find;

	if (survey->find_count == SURVEY_FINDS_MAX)
		return;
	find = &survey->finds[survey->find_count++];
	snprintf(find->kind, sizeof find->kind, "%s", kind);
	snprintf(find->path, sizeof find->path, "%s", path[0] ? path : ".");
	snprintf(find->detail, sizeof find->detail, "%s", detail);
}

static int exists_at(int dir, const char *path)
{
	struct stat status;

	return fstatat(dir, path, &status, AT_SYMLINK_NOFOLLOW) == 0;
}

static int count_entries(int parent, const char *name)
{
	DIR *dir = open_dir_at(parent, name);
	struct dirent *entry;
	int count = 0;

	if (dir == NULL)
		return -1;
	while ((entry = readdir(dir)) != NULL)
		count += !is_dot(entry->d_name);
	closedir(dir);
	return count;
}

/* PG_VERSION holds the major version ("15\n"); global/pg_control makes it a data dir. */
static void look_postgresql(int dir, const char *path, struct survey *survey)
{
	char version[32] = "", detail[96];
	int fd;
	ssize_t got;

	if (!exists_at(dir, "PG_VERSION") || !exists_at(dir, "global/pg_control"))
		return;
	fd = openat(dir, "PG_VERSION", O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd >= 0) {
		got = read(fd, version, sizeof version - 1);
		version[got > 0 ? got : 0] = '\0';
		version[strcspn(version, "\r\n")] = '\0';
		close(fd);
	}
	snprintf(detail, sizeof detail, "PostgreSQL data directory, version %s",
	    version[0] ? version : "unknown");
	add_find(survey, "postgresql", path, detail);
}

static void look_mysql(int dir, const char *path, struct survey *survey)
{
	if (exists_at(dir, "ibdata1"))
		add_find(survey, "mysql", path, "MySQL/MariaDB data directory (ibdata1)");
	else if (exists_at(dir, "mysql") && (exists_at(dir, "mysql.ibd")
	    || exists_at(dir, "ib_logfile0") || exists_at(dir, "aria_log_control")))
		add_find(survey, "mysql", path, "MySQL/MariaDB data directory (mysql/)");
}

static int ends_with(const char *path, const char *suffix)
{
	size_t length = strlen(path), suffix_length = strlen(suffix);

	return length >= suffix_length && strcmp(path + length - suffix_length, suffix) == 0
	    && (length == suffix_length || path[length - suffix_length - 1] == '/');
}

static void look_mail(int parent, const char *name, const char *path, struct survey *survey)
{
	char detail[64];
	int count;

	if (!ends_with(path, "var/mail") && !ends_with(path, "var/spool/mail")
	    && strcmp(name, "Maildir") != 0)
		return;
	count = count_entries(parent, name);
	snprintf(detail, sizeof detail, strcmp(name, "Maildir") == 0 ? "Maildir mailbox"
	    : "mail spool, %d mailboxes", count);
	add_find(survey, "mail", path, detail);
}

static void look_home(int parent, const char *name, const char *path, struct survey *survey)
{
	DIR *dir;
	struct dirent *entry;
	char detail[128];
	size_t used;

	if (strcmp(path, "home") != 0 || (dir = open_dir_at(parent, name)) == NULL)
		return;
	used = (size_t)snprintf(detail, sizeof detail, "home directories:");
	while ((entry = readdir(dir)) != NULL && used < sizeof detail)
		if (!is_dot(entry->d_name) && strcmp(entry->d_name, "lost+found") != 0)
			used += (size_t)snprintf(detail + used, sizeof detail - used, " %s",
			    entry->d_name);
	closedir(dir);
	add_find(survey, "home", path, detail);
}

/* Visits directory NAME in PARENT at PATH (relative to the root), DEPTH levels down. */
static void search(struct walk *walk, int parent, const char *name, const char *path,
    int depth, struct survey *survey)
{
	DIR *dir = open_dir_at(parent, name);
	struct dirent *entry;
	struct stat status;

	if (dir == NULL)
		return;
	look_postgresql(dirfd(dir), path, survey);
	look_mysql(dirfd(dir), path, survey);
	while (depth < walk->limits->max_depth && (entry = readdir(dir)) != NULL
	    && budget_left(walk, walk->limits->max_search_entries / 4)) {
		char child[PATH_MAX];

		if (is_dot(entry->d_name)
		    || fstatat(dirfd(dir), entry->d_name, &status, AT_SYMLINK_NOFOLLOW) != 0
		    || !S_ISDIR(status.st_mode) || status.st_dev != walk->device)
			continue;
		snprintf(child, sizeof child, "%s%s%s", path, path[0] ? "/" : "", entry->d_name);
		look_mail(dirfd(dir), entry->d_name, child, survey);
		look_home(dirfd(dir), entry->d_name, child, survey);
		search(walk, dirfd(dir), entry->d_name, child, depth + 1, survey);
	}
	closedir(dir);
}

/* Where data usually lives comes first, so a big /usr cannot use up the time before /var
 * is seen; then the rest by name. */
static int search_priority(const char *name)
{
	static const char *const first[] = { "var", "srv", "home", "data", "opt", "root",
	    "mysql", "postgresql", "pgsql", "mail", NULL };
	int i;

	for (i = 0; first[i]; i++)
		if (strcmp(name, first[i]) == 0)
			return i;
	return i;
}

/* Each top-level directory gets a quarter of the entry budget on its own; the time budget
 * is shared. The root itself may be the data directory (a partition mounted as one). */
static void search_top(struct walk *walk, int root, struct survey *survey)
{
	int order[SURVEY_TOP_MAX], count = 0, i, j;

	look_postgresql(root, "", survey);
	look_mysql(root, "", survey);
	for (i = 0; i < survey->top_count; i++)
		if (survey->top[i].directory)
			order[count++] = i;
	for (i = 1; i < count; i++)
		for (j = i; j > 0 && search_priority(survey->top[order[j]].name)
		    < search_priority(survey->top[order[j - 1]].name); j--) {
			int swap = order[j];

			order[j] = order[j - 1];
			order[j - 1] = swap;
		}
	survey->search_complete = 1;
	for (i = 0; i < count; i++) {
		const char *name = survey->top[order[i]].name;

		if (seconds_since(&walk->start) > walk->limits->max_seconds) {
			survey->search_complete = 0;
			break;
		}
		walk->entries = 0;
		walk->out_of_budget = 0;
		look_mail(root, name, name, survey);
		look_home(root, name, name, survey);
		search(walk, root, name, name, 1, survey);
		if (walk->out_of_budget)
			survey->search_complete = 0;
	}
}

static void survey_usage(int root, struct survey *survey)
{
	struct statvfs fs;

	if (fstatvfs(root, &fs) != 0)
		return;
	survey->size = (unsigned long long)fs.f_blocks * fs.f_frsize;
	survey->free = (unsigned long long)fs.f_bavail * fs.f_frsize;
	survey->used = (unsigned long long)(fs.f_blocks - fs.f_bfree) * fs.f_frsize;
	survey->inodes = fs.f_files;
	survey->inodes_free = fs.f_ffree;
}

int survey_run(const char *root_path, const struct survey_limits *limits, struct survey *survey)
{
	struct walk walk = { .limits = limits };
	struct stat status;
	int root;

	memset(survey, 0, sizeof *survey);
	root = open(root_path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (root < 0)
		return -1;
	if (fstat(root, &status) != 0) {
		close(root);
		return -1;
	}
	walk.device = status.st_dev;
	survey_usage(root, survey);
	clock_gettime(CLOCK_MONOTONIC, &walk.start);
	survey_sizes(root, &walk, survey);
	if (exists_at(root, "etc/fstab"))
		add_find(survey, "fstab", "etc/fstab", "an /etc/fstab: this was a root file system");
	clock_gettime(CLOCK_MONOTONIC, &walk.start);
	search_top(&walk, root, survey);
	close(root);
	return 0;
}
