/* fstree.c: what both fstree.h backends share. */
#include <stdlib.h>

#include "fstree.h"

void fstree_xattrs_free(struct fstree_xattr *list, size_t count)
{
	while (count--) {
		free(list[count].name);
		free(list[count].value);
	}
	free(list);
}

void fstree_release(struct fstree *tree)
{
	if (tree)
		tree->ops->release(tree);
}
