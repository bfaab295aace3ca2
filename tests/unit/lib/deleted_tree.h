/* deleted_tree.h: an ext2/3/4 image in which the host's own kernel wrote and then deleted
 * a tree (tests/fixtures/make-deleted-tree), for the journal and undelete tests. */
#ifndef TEST_DELETED_TREE_H
#define TEST_DELETED_TREE_H

#include <stddef.h>

struct deleted_tree {
	char dir[64];		/* a temporary directory holding the rest */
	char image[128];
	char expected[128];	/* the deleted files' bytes at their relative paths */
	char journal[128];	/* with --external-journal: the journal device's image */
	long before, after;	/* the deletion happened between these (seconds) */
};

/* Makes one with mkfs OPTIONS (NULL-terminated; "-t", "ext3" first for mkfs.ext3; the
 * script's --wrap, --fill, ..., when wanted, before them; --external-journal without its
 * path, which is TREE->journal): 0, or
 * 1 when this host cannot (not root: the caller skips, saying why). The test fails when
 * the script itself fails. */
int deleted_tree_make(struct deleted_tree *tree, const char *const *options);
void deleted_tree_remove(struct deleted_tree *tree);

/* The whole content of FILE into a malloc'd buffer and *SIZE; NULL when it cannot be
 * read. */
unsigned char *deleted_tree_read(const char *file, size_t *size);

#endif
