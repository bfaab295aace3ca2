/* deleted_tree.c: runs tests/fixtures/make-deleted-tree (deleted_tree.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "base/spawn.h"
#include "lib/deleted_tree.h"

/* The tests run from src/, and this file is compiled as ../tests/unit/lib/deleted_tree.c:
 * the script's place follows from it. */
static const char SCRIPT[] = "../tests/fixtures/make-deleted-tree";

static long number_after(const char *text, const char *key)
{
	const char *at = strstr(text, key);

	return at ? strtol(at + strlen(key), NULL, 10) : -1;
}

static void read_times(struct deleted_tree *tree)
{
	char path[160];
	size_t size;
	char *json;

	snprintf(path, sizeof path, "%s/deleted.json", tree->dir);
	json = (char *)deleted_tree_read(path, &size);
	assert_non_null(json);
	tree->before = number_after(json, "\"before\": ");
	tree->after = number_after(json, "\"after\": ");
	free(json);
}

int deleted_tree_make(struct deleted_tree *tree, const char *const *options)
{
	char *argv[24] = { (char *)SCRIPT };
	struct spawn_request request = { .argv = argv, .flags = SPAWN_STDERR };
	struct spawn_result result;
	size_t i = 0, used = 1;

	if (geteuid() != 0)
		return 1;
	snprintf(tree->dir, sizeof tree->dir, "/tmp/rescue-deleted.XXXXXX");
	assert_non_null(mkdtemp(tree->dir));
	snprintf(tree->image, sizeof tree->image, "%s/image", tree->dir);
	snprintf(tree->expected, sizeof tree->expected, "%s/expected", tree->dir);
	/* The script's own flags come before the image, mkfs's options after. */
	for (; options && options[i] && !strncmp(options[i], "--", 2); i++) {
		argv[used++] = (char *)options[i];
		if (strcmp(options[i], "--external-journal") != 0)
			continue;
		snprintf(tree->journal, sizeof tree->journal, "%s/journal", tree->dir);
		argv[used++] = tree->journal;
	}
	argv[used++] = tree->image;
	argv[used++] = tree->expected;
	for (; options && options[i] && used + 1 < sizeof argv / sizeof *argv; i++)
		argv[used++] = (char *)options[i];
	assert_int_equal(spawn_run(&request, &result), 0);
	if (spawn_exit_code(&result) != 0)
		fail_msg("%s failed: %s", SCRIPT, result.output);
	spawn_result_free(&result);
	read_times(tree);
	return 0;
}

void deleted_tree_remove(struct deleted_tree *tree)
{
	char *argv[] = { "rm", "-rf", tree->dir, NULL };
	struct spawn_request request = { .argv = argv, .flags = SPAWN_STDERR };
	struct spawn_result result;

	if (!tree->dir[0] || spawn_run(&request, &result) != 0)
		return;
	spawn_result_free(&result);
}

unsigned char *deleted_tree_read(const char *file, size_t *size)
{
	FILE *in = fopen(file, "rb");
	unsigned char *data = NULL;
	long length;

	if (!in)
		return NULL;
	if (fseek(in, 0, SEEK_END) == 0 && (length = ftell(in)) >= 0 && fseek(in, 0, SEEK_SET)
	    == 0 && (data = malloc((size_t)length + 1))
	    && fread(data, 1, (size_t)length, in) == (size_t)length) {
		data[length] = '\0';
		*size = (size_t)length;
	} else {
		free(data);
		data = NULL;
	}
	fclose(in);
	return data;
}
