/* test_fstree_dir.c: a directory walk in windows of names visits what one whole reading
 * does, in the same order: every path once, in name order, subdirectories entered between
 * windows. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <cmocka.h>

#include "fs/fstree.h"
#include "lib/fake_sysfs.h"

struct walked {
	char **paths;
	size_t count, capacity;
};

static int collect(void *context, const struct fstree_node *node)
{
	struct walked *walked = context;

	if (walked->count == walked->capacity) {
		walked->capacity = walked->capacity ? walked->capacity * 2 : 256;
		walked->paths = realloc(walked->paths, walked->capacity * sizeof *walked->paths);
		assert_non_null(walked->paths);
	}
	assert_null(node->problem);
	walked->paths[walked->count++] = strdup(node->path);
	return 0;
}

static void walked_free(struct walked *walked)
{
	while (walked->count)
		free(walked->paths[--walked->count]);
	free(walked->paths);
	memset(walked, 0, sizeof *walked);
}

static void walk(const char *root, size_t window, struct walked *walked)
{
	char why[256];
	struct fstree *tree = fstree_dir_open(root, why, sizeof why);

	assert_non_null(tree);
	fstree_dir_window(window);
	assert_int_equal(tree->ops->walk(tree, collect, walked), 0);
	fstree_dir_window(0);
	fstree_release(tree);
}

/* 600 names made in a scrambled order, some of them directories with names below. */
static char *make_tree(void)
{
	char *root = fake_sysfs_create(), path[512];
	unsigned i, n;

	for (i = 0; i < 600; i++) {
		n = (i * 7919) % 600;
		if (n % 50 == 0) {
			snprintf(path, sizeof path, "big/n%04u/inner%u", n, n % 3);
			fake_sysfs_write(root, path, "x");
		} else {
			snprintf(path, sizeof path, "big/n%04u", n);
			fake_sysfs_write(root, path, "x");
		}
	}
	fake_sysfs_write(root, "after/last", "x");
	return root;
}

static void test_windows_walk_as_one_reading_does(void **state)
{
	char *root = make_tree();
	struct walked whole = { 0 }, windows = { 0 }, one = { 0 };
	size_t i;

	(void)state;
	walk(root, 0, &whole);
	assert_int_equal(whole.count, 1 + 1 + 600 + 12 + 1 + 1);	/* ., big, names, inner, after */
	for (i = 1; i < whole.count; i++)	/* preorder in name order: each path after the one
					 * before, as strcmp sorts whole paths with '/' low */
		assert_true(strcmp(whole.paths[i - 1], whole.paths[i]) < 0);
	walk(root, 7, &windows);
	walk(root, 1, &one);
	assert_int_equal(windows.count, whole.count);
	assert_int_equal(one.count, whole.count);
	for (i = 0; i < whole.count; i++) {
		assert_string_equal(windows.paths[i], whole.paths[i]);
		assert_string_equal(one.paths[i], whole.paths[i]);
	}
	walked_free(&whole);
	walked_free(&windows);
	walked_free(&one);
	fake_sysfs_remove(root);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_windows_walk_as_one_reading_does),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
