/* fstree_dir.c: the mounted-directory backend of fstree.h, through the kernel.
 *
 * The walk stays on the file system it starts on: a directory where another one is mounted
 * is reported, with a problem saying so, and not entered (a dump of / must not wander into
 * /proc or into the target share). Each directory is read whole and closed before its
 * entries are visited, in name order, so the walk holds one descriptor at a time however
 * deep the tree is, and two dumps of one tree list it the same way. A directory that is
 * one of its own ancestors (a corrupt file system the kernel did not catch) is reported as
 * a loop and not entered.
 */
#define _GNU_SOURCE	/* O_NOATIME, SEEK_DATA */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "base/err.h"
#include "fs/fstree.h"

struct dir_tree {
	struct fstree tree;
	int root;		/* the directory, open */
	dev_t device;		/* its file system */
	char *root_path;	/* for the xattr calls, which want a path */
};

struct fstree_file {
	int fd;
};

static struct dir_tree *dir_tree(struct fstree *tree)
{
	return (struct dir_tree *)tree;
}

/* The names in directory PATH (relative to the root, "" for it), sorted; -1 with errno. */
static int read_names(struct dir_tree *dir, const char *path, char ***names, size_t *count)
{
	int fd = openat(dir->root, path[0] ? path : ".", O_RDONLY | O_DIRECTORY | O_NOFOLLOW
	    | O_CLOEXEC);
	struct dirent *entry;
	size_t capacity = 0;
	DIR *stream;
	int saved;

	*names = NULL, *count = 0;
	if (fd < 0 || !(stream = fdopendir(fd))) {
		saved = errno;
		if (fd >= 0)
			close(fd);
		errno = saved;
		return -1;
	}
	for (errno = 0; (entry = readdir(stream)); errno = 0) {
		if (!strcmp(entry->d_name, ".") || !strcmp(entry->d_name, ".."))
			continue;
		if (*count == capacity) {
			char **bigger = realloc(*names, (capacity = capacity ? capacity * 2 : 16)
			    * sizeof *bigger);

			if (!bigger)
				break;
			*names = bigger;
		}
		if (!((*names)[*count] = strdup(entry->d_name)))
			break;
		(*count)++;
	}
	saved = errno;
	closedir(stream);
	errno = saved;
	return saved ? -1 : 0;
}

static int compare_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void free_names(char **names, size_t count)
{
	while (count)
		free(names[--count]);
	free(names);
}

/* The directories from the root down to the one being listed. */
struct ancestor {
	ino_t inode;
	const char *path;
	const struct ancestor *up;
};

static int walk_path(struct dir_tree *dir, const char *path, const struct ancestor *up,
    fstree_visit_fn *visit, void *context);

/* Visits the entries of directory PATH, then its subdirectories' entries. */
static int walk_entries(struct dir_tree *dir, const struct ancestor *here, char **names,
    size_t count, fstree_visit_fn *visit, void *context)
{
	const char *path = here->path;
	char *child;
	size_t i;
	int rc = 0;

	qsort(names, count, sizeof *names, compare_names);
	for (i = 0; i < count && rc == 0; i++) {
		size_t length = strlen(path) + strlen(names[i]) + 2;

		if (!(child = malloc(length)))
			return -1;
		snprintf(child, length, "%s%s%s", path, path[0] ? "/" : "", names[i]);
		rc = walk_path(dir, child, here, visit, context);
		free(child);
	}
	return rc;
}

static const struct ancestor *loop_to(const struct ancestor *up, ino_t inode)
{
	while (up && up->inode != inode)
		up = up->up;
	return up;
}

/* A symbolic link, a leaf: its target's buffer lives here, not in every level of the walk. */
static int visit_link(struct dir_tree *dir, struct fstree_node *node, fstree_visit_fn *visit,
    void *context)
{
	char target[PATH_MAX + 1], problem[128];
	ssize_t length = readlinkat(dir->root, node->path, target, sizeof target - 1);

	if (length < 0) {
		snprintf(problem, sizeof problem, "unable to read the link: %s", err_text(errno));
		node->problem = problem, node->failed = 1;
	} else {
		target[length] = '\0';
		node->link = target;
	}
	return visit(context, node);
}

/* Reports PATH and, for a directory on the same file system, everything below it. */
static int walk_path(struct dir_tree *dir, const char *path, const struct ancestor *up,
    fstree_visit_fn *visit, void *context)
{
	struct fstree_node node = { .path = path };
	const struct ancestor *loop;
	struct ancestor here;
	char problem[512];
	char **names = NULL;
	size_t count = 0;
	int rc, listed = 0;

	if (fstatat(dir->root, path[0] ? path : ".", &node.st, AT_SYMLINK_NOFOLLOW) != 0) {
		snprintf(problem, sizeof problem, errno == ELOOP ? "directory loop: the kernel "
		    "refuses to enter it (%s)" : "unable to stat: %s", err_text(errno));
		node.problem = problem, node.failed = 1;
		return visit(context, &node);
	}
	if (S_ISLNK(node.st.st_mode))
		return visit_link(dir, &node, visit, context);
	if (S_ISDIR(node.st.st_mode) && node.st.st_dev != dir->device) {
		node.problem = "another file system is mounted here: not entered";
	} else if (S_ISDIR(node.st.st_mode) && (loop = loop_to(up, node.st.st_ino))) {
		snprintf(problem, sizeof problem, "directory loop: already reached as %s",
		    loop->path[0] ? loop->path : "the root");
		node.problem = problem;
	} else if (S_ISDIR(node.st.st_mode)) {
		if (read_names(dir, path, &names, &count) != 0)
			snprintf(problem, sizeof problem, "unable to read the directory (%zu "
			    "entries read): %s", count, err_text(errno)), node.problem = problem;
		listed = 1;
	}
	rc = visit(context, &node);
	here = (struct ancestor){ .inode = node.st.st_ino, .path = path, .up = up };
	if (rc == 0 && listed)
		rc = walk_entries(dir, &here, names, count, visit, context);
	free_names(names, count);
	return rc;
}

static int dir_walk(struct fstree *tree, fstree_visit_fn *visit, void *context)
{
	return walk_path(dir_tree(tree), "", NULL, visit, context);
}

static struct fstree_file *dir_open(struct fstree *tree, const char *path, uint64_t inode)
{
	struct fstree_file *file = malloc(sizeof *file);
	struct stat st;

	if (!file)
		return NULL;
	file->fd = openat(dir_tree(tree)->root, path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC
	    | O_NOATIME);
	if (file->fd < 0 && errno == EPERM)
		file->fd = openat(dir_tree(tree)->root, path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (file->fd >= 0 && fstat(file->fd, &st) == 0 && (uint64_t)st.st_ino != inode) {
		close(file->fd);
		file->fd = -1;
		errno = ESTALE;		/* replaced since the walk */
	}
	if (file->fd < 0) {
		free(file);
		return NULL;
	}
	return file;
}

static ssize_t dir_pread(struct fstree_file *file, void *buffer, size_t size, uint64_t offset)
{
	size_t done = 0;
	ssize_t got;

	while (done < size) {
		got = pread(file->fd, (char *)buffer + done, size - done, (off_t)(offset + done));
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0)
			return done ? (ssize_t)done : -1;
		if (got == 0)
			break;
		done += (size_t)got;
	}
	return (ssize_t)done;
}

/* SEEK_DATA where the file system has it; elsewhere the whole rest is data. */
static int dir_data(struct fstree_file *file, uint64_t offset, uint64_t *start, uint64_t *end)
{
	struct stat st;
	off_t data, hole;

	if (fstat(file->fd, &st) != 0)
		return -1;
	if (offset >= (uint64_t)st.st_size)
		return 1;
	data = lseek(file->fd, (off_t)offset, SEEK_DATA);
	if (data < 0 && errno == ENXIO)
		return 1;
	if (data < 0) {
		*start = offset, *end = (uint64_t)st.st_size;
		return 0;
	}
	hole = lseek(file->fd, data, SEEK_HOLE);
	*start = (uint64_t)data;
	*end = hole < 0 || hole > st.st_size ? (uint64_t)st.st_size : (uint64_t)hole;
	return 0;
}

static void dir_close(struct fstree_file *file)
{
	close(file->fd);
	free(file);
}

/* The attributes of the file open as FD or, with FD -1, of the path FULL (not followed). */
static ssize_t list_names(int fd, const char *full, char *names, size_t size)
{
	return fd >= 0 ? flistxattr(fd, names, size) : llistxattr(full, names, size);
}

static ssize_t get_value(int fd, const char *full, const char *name, void *value, size_t size)
{
	return fd >= 0 ? fgetxattr(fd, name, value, size) : lgetxattr(full, name, value, size);
}

/* Each list and value sized first, then read; one removed in between is left out, one
 * that grew in between fails the call (ERANGE), which the caller reports. */
static int read_xattrs(int fd, const char *full, struct fstree_xattr **list, size_t *count)
{
	char *names = NULL, *name;
	ssize_t size;
	int rc = -1;

	*list = NULL, *count = 0;
	size = list_names(fd, full, NULL, 0);
	if (size < 0 && (errno == ENOTSUP || errno == ENOSYS))
		return 0;
	if (size <= 0 || !(names = malloc((size_t)size)) ||
	    (size = list_names(fd, full, names, (size_t)size)) < 0) {
		rc = size == 0 ? 0 : -1;
		goto out;
	}
	for (name = names; name < names + size; name += strlen(name) + 1) {
		struct fstree_xattr *bigger = realloc(*list, (*count + 1) * sizeof *bigger);
		ssize_t value_size = get_value(fd, full, name, NULL, 0);

		if (!bigger)
			goto out;
		*list = bigger;
		if (value_size < 0)
			continue;	/* removed since listed */
		bigger[*count].name = strdup(name);
		bigger[*count].value = malloc(value_size ? (size_t)value_size : 1);
		bigger[*count].size = 0;
		(*count)++;
		if (!bigger[*count - 1].name || !bigger[*count - 1].value)
			goto out;
		value_size = get_value(fd, full, name, bigger[*count - 1].value,
		    (size_t)value_size);
		if (value_size < 0)
			goto out;
		bigger[*count - 1].size = (size_t)value_size;
	}
	rc = 0;
out:
	if (rc != 0) {
		fstree_xattrs_free(*list, *count);
		*list = NULL, *count = 0;
	}
	free(names);
	return rc;
}

static int dir_xattrs(struct fstree *tree, const char *path, uint64_t inode,
    struct fstree_xattr **list, size_t *count)
{
	struct dir_tree *dir = dir_tree(tree);
	size_t length = strlen(dir->root_path) + strlen(path) + 2;
	char *full = malloc(length);
	int rc;

	(void)inode;
	*list = NULL, *count = 0;
	if (!full)
		return -1;
	snprintf(full, length, "%s/%s", dir->root_path, path);
	rc = read_xattrs(-1, full, list, count);
	free(full);
	return rc;
}

/* Through the descriptor: no second walk of the path for every file. */
static int dir_file_xattrs(struct fstree_file *file, struct fstree_xattr **list, size_t *count)
{
	return read_xattrs(file->fd, NULL, list, count);
}

static void dir_release(struct fstree *tree)
{
	struct dir_tree *dir = dir_tree(tree);

	close(dir->root);
	free(dir->root_path);
	free(dir);
}

static const struct fstree_ops dir_ops = {
	.walk = dir_walk,
	.open = dir_open,
	.pread = dir_pread,
	.data = dir_data,
	.close = dir_close,
	.xattrs = dir_xattrs,
	.file_xattrs = dir_file_xattrs,
	.release = dir_release,
};

struct fstree *fstree_dir_open(const char *path, char *why, size_t why_size)
{
	struct dir_tree *dir = calloc(1, sizeof *dir);
	struct statvfs fs;
	struct stat st;

	if (!dir || !(dir->root_path = strdup(path))) {
		snprintf(why, why_size, "out of memory");
		free(dir);
		return NULL;
	}
	dir->root = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dir->root < 0 || fstat(dir->root, &st) != 0) {
		snprintf(why, why_size, "unable to open %s: %s", path, err_text(errno));
		if (dir->root >= 0)
			close(dir->root);
		free(dir->root_path);
		free(dir);
		return NULL;
	}
	dir->device = st.st_dev;
	dir->tree.ops = &dir_ops;
	dir->tree.block_size = 4096;	/* the page the kernel reads and fails at once */
	if (fstatvfs(dir->root, &fs) == 0)
		dir->tree.capacity = (uint64_t)fs.f_blocks * fs.f_frsize;
	snprintf(dir->tree.description, sizeof dir->tree.description, "%s (mounted)", path);
	return &dir->tree;
}
