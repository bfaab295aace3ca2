/* fstree.c: what both tree backends share (fstree.h). */
#include <stdlib.h>

#include "fs/fstree.h"

void fstree_xattrs_free(struct fstree_xattr *list, size_t count)
{
	size_t i;

	for (i = 0; i < count; i++) {
		free(list[i].name);
		free(list[i].value);
	}
	free(list);
}

void fstree_release(struct fstree *tree)
{
	if (tree != NULL)
		tree->ops->release(tree);
}
