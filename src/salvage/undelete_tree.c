/* undelete_tree.c: the files an undelete scan found, as a tree `rescue dump`'s engine
 * archives (undelete.h, fstree.h), so recovered files get the same archives, manifest and
 * sha256sum lines as dumped ones.
 *
 * The walk reports the deleted directories and files in path order (a directory before
 * what it holds); the live directories above them are not reported (tar makes them). A
 * file of which nothing can be read is a failed node with the reason; a block of a
 * partial file that is another file's now fails its read with ENODATA, which the dump
 * engine turns into zeros and a missing range.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "salvage/undelete.h"

struct undelete_tree {
	struct fstree tree;		/* first: the ops are handed &tree */
	struct undelete *undelete;
};

struct fstree_file {
	struct undelete_tree *owner;
	const struct undelete_file *file;
};

static struct undelete_tree *tree_of(struct fstree *tree)
{
	return (struct undelete_tree *)tree;
}

static void stat_of(const struct undelete_file *file, struct stat *st)
{
	memset(st, 0, sizeof *st);
	st->st_ino = file->inode;
	st->st_mode = file->mode;	/* ext's mode bits are the kernel's */
	st->st_nlink = 1;		/* one name each: no hard links to restore */
	st->st_uid = file->uid;
	st->st_gid = file->gid;
	st->st_size = (off_t)file->size;
	st->st_blocks = (blkcnt_t)((file->size + 511) / 512);
	st->st_atim.tv_sec = file->atime;
	st->st_mtim.tv_sec = file->mtime;
	st->st_mtim.tv_nsec = file->mtime_nsec;
	st->st_ctim.tv_sec = file->ctime;
}

static int walk(struct fstree *tree, fstree_visit_fn *visit, void *context)
{
	struct undelete *undelete = tree_of(tree)->undelete;
	const struct undelete_file *file;
	struct fstree_node node;
	size_t i;
	int rc;

	for (i = 0; i < undelete->count; i++) {
		file = &undelete->files[i];
		memset(&node, 0, sizeof node);
		node.path = file->path;
		stat_of(file, &node.st);
		node.link = file->link;
		if ((file->state == UNDELETE_NAME_ONLY && !S_ISDIR(file->mode))
		    || (S_ISLNK(file->mode) && !file->link)) {
			node.problem = file->reason ? file->reason
			    : "no block of it can be read back";
			node.failed = 1;
		}
		if ((rc = visit(context, &node)) != 0)
			return rc;
	}
	return 0;
}

static int by_path(const void *key, const void *member)
{
	return strcmp(key, ((const struct undelete_file *)member)->path);
}

static struct fstree_file *open_file(struct fstree *tree, const char *path, uint64_t inode)
{
	struct undelete *undelete = tree_of(tree)->undelete;
	const struct undelete_file *file = bsearch(path, undelete->files, undelete->count,
	    sizeof *undelete->files, by_path);
	struct fstree_file *open;

	if (!file || file->inode != inode) {
		errno = ENOENT;
		return NULL;
	}
	if (!(open = malloc(sizeof *open)))
		return NULL;
	open->owner = tree_of(tree);
	open->file = file;
	return open;
}

static ssize_t read_file(struct fstree_file *file, void *buffer, size_t size,
    uint64_t offset)
{
	return undelete_read(file->owner->undelete, file->file, buffer, size, offset);
}

/* Holes read as zeros: the whole file is one data region. */
static int data(struct fstree_file *file, uint64_t offset, uint64_t *start, uint64_t *end)
{
	if (offset >= file->file->size)
		return 1;
	*start = offset;
	*end = file->file->size;
	return 0;
}

static void close_file(struct fstree_file *file)
{
	free(file);
}

/* Extended attributes come from the inode copy and the attribute block as the journal
 * (or the free block) holds them (undelete_xattrs); files are found by path, which is
 * unique in the sorted list. */
static int xattrs(struct fstree *tree, const char *path, uint64_t inode,
    struct fstree_xattr **list, size_t *count)
{
	struct undelete *undelete = tree_of(tree)->undelete;
	const struct undelete_file *file = bsearch(path, undelete->files, undelete->count,
	    sizeof *undelete->files, by_path);

	*list = NULL;
	*count = 0;
	if (!file || file->inode != inode)
		return 0;
	return undelete_xattrs(undelete, file, list, count);
}

static void release(struct fstree *tree)
{
	free(tree);
}

static const struct fstree_ops undelete_ops = {
	.walk = walk,
	.open = open_file,
	.pread = read_file,
	.data = data,
	.close = close_file,
	.xattrs = xattrs,
	.release = release,
};

struct fstree *undelete_tree(struct undelete *undelete)
{
	struct undelete_tree *tree = calloc(1, sizeof *tree);

	if (!tree)
		return NULL;
	tree->tree.ops = &undelete_ops;
	tree->undelete = undelete;
	tree->tree.block_size = undelete->block_size;	/* a failed read is narrowed to it */
	snprintf(tree->tree.description, sizeof tree->tree.description, "deleted files of %.200s",
	    undelete->description);
	return &tree->tree;
}
