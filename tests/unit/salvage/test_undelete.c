/* test_undelete.c: the undelete engine on file systems where the host's kernel wrote a
 * tree and deleted it (tests/fixtures/make-deleted-tree): every deleted file comes back
 * at its path, byte-exact, on ext4 with mke2fs's defaults (1 KiB blocks at this size),
 * 4 KiB blocks, without metadata_csum, ext3 (indirect blocks), a small journal that
 * has wrapped, a journal on an external device (named, or found by its UUID), and
 * inline_data (contents and directory entries in the inode) with extended attributes; after the freed blocks were all taken again nothing comes back whole; the
 * time window and --path select; an ext2 and something that is not ext are refused; a
 * PNG and a gzip file whose inodes the journal no longer holds come back by carving the
 * free blocks, under unnamed/. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "base/spawn.h"
#include "fs/fstree.h"
#include "salvage/undelete.h"
#include "lib/deleted_tree.h"
#include "lib/run_ok.h"

/* The fixture's deleted files (make-deleted-tree's TREE and ALONE). */
static const char *const DELETED[] = {
	"notes.txt", "srv/app/README", "srv/app/config/app.yml", "srv/app/config/secrets.env",
	"srv/app/data/big.bin", "srv/app/data/db.sqlite", "srv/app/empty",
	"srv/app/lib/deep/er/still/leaf.txt", "srv/app/lib/module.py", "srv/app/logs/app.log",
};
enum { DELETED_COUNT = sizeof DELETED / sizeof *DELETED };

static const struct undelete_file *find(const struct undelete *undelete, const char *path)
{
	size_t i;

	for (i = 0; i < undelete->count; i++)
		if (!strcmp(undelete->files[i].path, path))
			return &undelete->files[i];
	return NULL;
}

static void scan(const struct deleted_tree *tree, const struct undelete_options *options,
    struct undelete *undelete)
{
	struct undelete_options with_journal = *options;
	char why[512] = "";
	int code;

	if (tree->journal[0] && !with_journal.journal_device)
		with_journal.journal_device = tree->journal;
	if (undelete_scan(tree->image, &with_journal, undelete, why, sizeof why, &code) != 0)
		fail_msg("scan of %s failed (%d): %s", tree->image, code, why);
}

static void check_content(struct undelete *undelete, const struct undelete_file *file,
    const struct deleted_tree *tree, const char *path)
{
	char expected_path[512];
	unsigned char *expected, *got;
	size_t size;

	snprintf(expected_path, sizeof expected_path, "%s/%s", tree->expected, path);
	expected = deleted_tree_read(expected_path, &size);
	assert_non_null(expected);
	assert_int_equal(file->size, size);
	got = malloc(size + 1);
	assert_non_null(got);
	assert_int_equal(undelete_read(undelete, file, got, size + 1, 0), (ssize_t)size);
	if (memcmp(got, expected, size) != 0)
		fail_msg("%s: content differs", path);
	free(got);
	free(expected);
}

/* Every deleted file whole at its path, with its content; the deleted directories too;
 * the kept file not. */
static void check_everything_back(const struct deleted_tree *tree)
{
	struct undelete_options options = { 0 };
	struct undelete undelete;
	const struct undelete_file *file;
	size_t i;

	scan(tree, &options, &undelete);
	for (i = 0; i < DELETED_COUNT; i++) {
		if (!(file = find(&undelete, DELETED[i])))
			fail_msg("%s not found (%s)", DELETED[i], undelete.description);
		if (file->state != UNDELETE_WHOLE)
			fail_msg("%s: not whole: %s", DELETED[i], undelete_reason(file));
		assert_true(S_ISREG(file->mode));
		assert_true(file->dtime >= tree->before && file->dtime <= tree->after);
		assert_true(file->inode_transaction != 0);
		assert_true(file->inode_committed >= tree->before - 600
		    && file->inode_committed <= tree->after);
		check_content(&undelete, file, tree, DELETED[i]);
	}
	assert_non_null(file = find(&undelete, "srv/app/current"));
	assert_true(S_ISLNK(file->mode));
	assert_string_equal(file->link, "lib/module.py");
	assert_non_null(file = find(&undelete, "srv/app/config/long-link"));
	assert_true(S_ISLNK(file->mode) && file->link && strlen(file->link) > 60);
	assert_int_equal(file->state, UNDELETE_WHOLE);
	assert_non_null(file = find(&undelete, "srv/app/lib/deep/er"));
	assert_true(S_ISDIR(file->mode));
	assert_null(find(&undelete, "srv/kept.txt"));
	assert_null(find(&undelete, "srv"));
	undelete_free(&undelete);
}

static void with_tree(const char *flag, const char *const *options,
    void (*check)(const struct deleted_tree *tree))
{
	const char *all[16] = { 0 };
	struct deleted_tree tree = { 0 };
	size_t i = 0, k;

	if (flag)
		all[i++] = flag;
	for (k = 0; options && options[k]; k++)
		all[i++] = options[k];
	if (deleted_tree_make(&tree, all) != 0)
		skip();		/* not root: the kernel cannot be asked to write a journal */
	check(&tree);
	deleted_tree_remove(&tree);
}

static void test_ext4_defaults(void **state)
{
	(void)state;
	with_tree(NULL, NULL, check_everything_back);
}

static void test_ext4_4k_blocks(void **state)
{
	static const char *const options[] = { "-b", "4096", NULL };

	(void)state;
	with_tree(NULL, options, check_everything_back);
}

static void test_ext4_without_metadata_csum(void **state)
{
	static const char *const options[] = { "-O", "^metadata_csum", NULL };

	(void)state;
	with_tree(NULL, options, check_everything_back);
}

static void test_ext3(void **state)
{
	static const char *const options[] = { "-t", "ext3", NULL };

	(void)state;
	with_tree(NULL, options, check_everything_back);
}

static void test_wrapped_journal(void **state)
{
	static const char *const options[] = { "-J", "size=1", NULL };

	(void)state;
	with_tree("--wrap", options, check_everything_back);
}

/* The journal on a device of its own (mke2fs -O journal_dev), named as --journal names
 * it: everything back, the description naming the device. */
static void check_external_journal(const struct deleted_tree *tree)
{
	struct undelete_options options = { 0 };
	struct undelete undelete;

	check_everything_back(tree);
	scan(tree, &options, &undelete);
	assert_non_null(strstr(undelete.description, "on the external device"));
	assert_non_null(strstr(undelete.description, tree->journal));
	undelete_free(&undelete);
}

/* Found by its UUID among candidates that are not it (the file system itself, a missing
 * path) and it; without it among them, refused with the UUID and the way to name it;
 * another journal device (not this file system's) named is refused with both UUIDs. */
static void check_external_journal_found(const struct deleted_tree *tree)
{
	char missing[160], other[160], why[512];
	const char *candidates[] = { tree->image, missing, tree->journal, NULL };
	struct undelete_options options = { .journal_candidates = candidates };
	struct undelete undelete;
	int code;

	snprintf(missing, sizeof missing, "%s/no-such-device", tree->dir);
	assert_int_equal(undelete_scan(tree->image, &options, &undelete, why, sizeof why, &code),
	    0);
	assert_true(undelete.counts.deleted_inodes >= DELETED_COUNT);
	undelete_free(&undelete);
	candidates[2] = NULL;
	assert_int_equal(undelete_scan(tree->image, &options, &undelete, why, sizeof why, &code),
	    -1);
	assert_int_equal(code, 3);
	assert_non_null(strstr(why, "--journal DEV"));
	undelete_free(&undelete);
	snprintf(other, sizeof other, "%s/other-journal", tree->dir);
	run_ok(ARGV("truncate", "-s", "8M", other));
	run_ok(ARGV("mke2fs", "-q", "-F", "-O", "journal_dev", "-b", "4096", other));
	options.journal_device = other;
	assert_int_equal(undelete_scan(tree->image, &options, &undelete, why, sizeof why, &code),
	    -1);
	assert_non_null(strstr(why, "not this file system's"));
	undelete_free(&undelete);
	options.journal_device = tree->image;
	assert_int_equal(undelete_scan(tree->image, &options, &undelete, why, sizeof why, &code),
	    -1);
	assert_non_null(strstr(why, "is not an external journal device"));
	undelete_free(&undelete);
}

/* --journal for a file system whose journal is its inode 8: refused, not ignored. */
static void check_journal_named_needlessly(const struct deleted_tree *tree)
{
	struct undelete_options options = { .journal_device = tree->image };
	struct undelete undelete;
	char why[512];
	int code;

	assert_int_equal(undelete_scan(tree->image, &options, &undelete, why, sizeof why, &code),
	    -1);
	assert_non_null(strstr(why, "the journal is inside the file system (inode 8)"));
	undelete_free(&undelete);
}

static void test_external_journal(void **state)
{
	static const char *const options[] = { "--external-journal", NULL };

	(void)state;
	with_tree(NULL, options, check_external_journal);
	with_tree(NULL, options, check_external_journal_found);
	with_tree(NULL, NULL, check_journal_named_needlessly);
}

static void test_external_journal_1k(void **state)
{
	static const char *const options[] = { "--external-journal", "-b", "1024", NULL };

	(void)state;
	with_tree(NULL, options, check_external_journal);
}

static const struct fstree_xattr *find_xattr(const struct fstree_xattr *list, size_t count,
    const char *name)
{
	size_t i;

	for (i = 0; i < count; i++)
		if (!strcmp(list[i].name, name))
			return &list[i];
	return NULL;
}

static void check_xattr(struct undelete *undelete, const char *path, const char *name,
    const void *value, size_t size)
{
	const struct undelete_file *file = find(undelete, path);
	const struct fstree_xattr *found;
	struct fstree_xattr *list;
	size_t count;

	assert_non_null(file);
	assert_int_equal(undelete_xattrs(undelete, file, &list, &count), 0);
	if (!(found = find_xattr(list, count, name)))
		fail_msg("%s: no %s among %zu attributes", path, name, count);
	assert_int_equal(found->size, size);
	assert_memory_equal(found->value, value, size);
	assert_null(find_xattr(list, count, "system.data"));
	fstree_xattrs_free(list, count);
}

/* ext4 with inline_data: the small files (secrets.env, 90 bytes: i_block and system.data;
 * leaf.txt, 33: i_block alone) and the long link come back with their bytes, and the
 * directories, whose entries are in their inodes, give every path; the attributes set
 * before the deletion (make-deleted-tree --xattrs) come back: in the inode, in an
 * attribute block (user.big, 300 bytes), a POSIX ACL in the kernel's form. */
static void check_inline_and_xattrs(const struct deleted_tree *tree)
{
	static const unsigned char acl[] = { 2, 0, 0, 0, 1, 0, 6, 0, 0xff, 0xff, 0xff, 0xff,
	    2, 0, 4, 0, 0xe8, 3, 0, 0, 4, 0, 4, 0, 0xff, 0xff, 0xff, 0xff, 16, 0, 4, 0, 0xff,
	    0xff, 0xff, 0xff, 32, 0, 0, 0, 0xff, 0xff, 0xff, 0xff };
	struct undelete_options options = { 0 };
	struct undelete undelete;
	unsigned char big[300];
	size_t i;

	check_everything_back(tree);
	for (i = 0; i < 256; i++)
		big[i] = (unsigned char)i;
	memset(big + 256, 'x', 44);
	scan(tree, &options, &undelete);
	assert_non_null(find(&undelete, "srv/app/config/secrets.env")->inline_data);
	assert_string_equal(find(&undelete, "srv/app/config/long-link")->link,
	    "/srv/shared/a-rather-long-directory-name/a-rather-long-directory-name/"
	    "a-rather-long-directory-name/a-rather-long-directory-name/x");
	check_xattr(&undelete, "notes.txt", "user.comment", "kept with the file", 18);
	check_xattr(&undelete, "srv/app/README", "user.origin", "deploy-2026", 11);
	check_xattr(&undelete, "srv/app/README", "user.big", big, sizeof big);
	check_xattr(&undelete, "srv/app/config/secrets.env", "system.posix_acl_access", acl,
	    sizeof acl);
	undelete_free(&undelete);
}

static void test_inline_data_and_xattrs(void **state)
{
	static const char *const options[] = { "--xattrs", "-O", "inline_data", NULL };

	(void)state;
	with_tree(NULL, options, check_inline_and_xattrs);
}

/* Without inline_data the same attributes come back (the files' bytes in blocks). */
static void check_xattrs(const struct deleted_tree *tree)
{
	struct undelete_options options = { 0 };
	struct undelete undelete;

	check_everything_back(tree);
	scan(tree, &options, &undelete);
	check_xattr(&undelete, "notes.txt", "user.comment", "kept with the file", 18);
	check_xattr(&undelete, "srv/app/README", "user.origin", "deploy-2026", 11);
	undelete_free(&undelete);
}

static void test_xattrs_4k(void **state)
{
	static const char *const options[] = { "--xattrs", "-b", "4096", NULL };

	(void)state;
	with_tree(NULL, options, check_xattrs);
}

/* The freed blocks taken again by a new file (all but a few hundred): what is still whole
 * reads back byte-exact; what is not says why, and its blocks that are another file's now
 * are refused, never read as this one's. */
static void check_overwritten(const struct deleted_tree *tree)
{
	struct undelete_options options = { 0 };
	struct undelete undelete;
	const struct undelete_file *file;
	unsigned char *buffer;
	size_t i, not_whole = 0;

	scan(tree, &options, &undelete);
	for (i = 0; i < DELETED_COUNT; i++) {
		if (!(file = find(&undelete, DELETED[i])))
			fail_msg("%s not found", DELETED[i]);
		if (file->state == UNDELETE_WHOLE) {
			check_content(&undelete, file, tree, DELETED[i]);
			continue;
		}
		not_whole++;
		assert_non_null(strstr(undelete_reason(file), "in use again"));
		assert_non_null(buffer = malloc(file->size));
		errno = 0;
		assert_int_equal(undelete_read(&undelete, file, buffer, file->size, 0), -1);
		assert_int_equal(errno, ENODATA);
		free(buffer);
	}
	assert_true(not_whole >= 3);	/* big.bin, db.sqlite, app.log at least */
	assert_int_equal(find(&undelete, "srv/app/data/big.bin")->state, UNDELETE_NAME_ONLY);
	undelete_free(&undelete);
}

static void test_overwritten_blocks(void **state)
{
	(void)state;
	with_tree("--fill", NULL, check_overwritten);
}

/* later.bin, written into the tree's freed blocks after the deletion and deleted too,
 * comes back whole; the tree's files whose blocks it took are not whole, and what is
 * whole is byte-exact. */
static void check_reused(const struct deleted_tree *tree)
{
	struct undelete_options options = { 0 };
	struct undelete undelete;
	const struct undelete_file *file;
	size_t i, taken = 0;

	scan(tree, &options, &undelete);
	assert_non_null(file = find(&undelete, "later.bin"));
	assert_int_equal(file->state, UNDELETE_WHOLE);
	check_content(&undelete, file, tree, "later.bin");
	for (i = 0; i < DELETED_COUNT; i++) {
		assert_non_null(file = find(&undelete, DELETED[i]));
		if (file->state == UNDELETE_WHOLE)
			check_content(&undelete, file, tree, DELETED[i]);
		else
			taken += strstr(undelete_reason(file), "another file's after the deletion") != NULL;
	}
	assert_true(taken >= 1);
	undelete_free(&undelete);
}

static void test_blocks_of_a_file_deleted_later(void **state)
{
	(void)state;
	with_tree("--reuse", NULL, check_reused);
}

static void check_selection(const struct deleted_tree *tree)
{
	const char *paths[] = { "srv/app/config", NULL };
	struct undelete_options options = { .paths = paths };
	struct undelete undelete;

	scan(tree, &options, &undelete);
	assert_int_equal(undelete.count, 4);	/* the directory, two files and a link */
	assert_non_null(find(&undelete, "srv/app/config/app.yml"));
	assert_non_null(find(&undelete, "srv/app/config/secrets.env"));
	undelete_free(&undelete);
	options.paths = NULL;
	options.after = tree->after + 1;
	scan(tree, &options, &undelete);
	assert_int_equal(undelete.count, 0);
	assert_true(undelete.counts.outside_window >= DELETED_COUNT);
	undelete_free(&undelete);
	options.after = tree->before;
	options.before = tree->after;
	scan(tree, &options, &undelete);
	assert_true(undelete.count >= DELETED_COUNT);
	undelete_free(&undelete);
}

static void test_window_and_paths(void **state)
{
	(void)state;
	with_tree(NULL, NULL, check_selection);
}

/* The journal superblock's magic wiped (e2fsprogs' j_corrupt_sb_magic is the model): a
 * message naming it, no crash; nothing written (the image's bytes are compared). */
static void check_corrupt_journal(const struct deleted_tree *tree)
{
	struct spawn_request request = { .argv = ARGV("debugfs", "-R", "bmap <8> 0",
	    (char *)tree->image), .flags = 0 };
	struct undelete_options options = { 0 };
	struct spawn_result result;
	struct undelete undelete;
	unsigned char *before, *after;
	size_t size_before, size_after;
	unsigned long block;
	char why[512];
	FILE *image;
	int code;

	assert_int_equal(spawn_run(&request, &result), 0);
	block = strtoul(result.output, NULL, 10);
	spawn_result_free(&result);
	assert_true(block > 0);
	assert_non_null(image = fopen(tree->image, "r+b"));
	assert_int_equal(fseek(image, (long)(block * 1024), SEEK_SET), 0);
	assert_int_equal(fwrite("\0\0\0\0", 1, 4, image), 4);
	fclose(image);
	before = deleted_tree_read(tree->image, &size_before);
	assert_int_equal(undelete_scan(tree->image, &options, &undelete, why, sizeof why, &code),
	    -1);
	assert_int_equal(code, 3);
	assert_non_null(strstr(why, "bad magic number"));
	undelete_free(&undelete);
	after = deleted_tree_read(tree->image, &size_after);
	assert_int_equal(size_before, size_after);
	assert_memory_equal(before, after, size_before);
	free(before);
	free(after);
}

static void test_corrupt_journal(void **state)
{
	(void)state;
	with_tree(NULL, NULL, check_corrupt_journal);
}

/* The carved file of EXT among UNDELETE's: under unnamed/, found by carving. */
static const struct undelete_file *find_carved(const struct undelete *undelete,
    const char *ext)
{
	const struct undelete_file *file;
	size_t i, length = strlen(ext);

	for (i = 0; i < undelete->count; i++) {
		file = &undelete->files[i];
		if (!strncmp(file->path, "unnamed/carved-", 15) && strlen(file->path) > length
		    && !strcmp(file->path + strlen(file->path) - length, ext))
			return file;
	}
	return NULL;
}

/* The journal went round many times after the deletion (empty files created and deleted,
 * which take no blocks): no copy of the PNG's or the gzip file's inode is left, so by the
 * journal alone they are lost; their blocks are free and untouched, and carving them
 * gives both back byte-exact, as unnamed/carved-<offset>.<ext>, whole. */
static void check_beyond_the_journal(const struct deleted_tree *tree)
{
	struct undelete_options options = { 0 };
	struct undelete_carve_options carve = { 0 };
	struct undelete undelete;
	const struct undelete_file *file;
	char why[512] = "";
	size_t before;

	scan(tree, &options, &undelete);
	assert_null(find(&undelete, "srv/app/media/photo.png"));
	assert_null(find(&undelete, "srv/app/media/backup.gz"));
	assert_null(find_carved(&undelete, ".png"));
	before = undelete.count;
	if (undelete_carve(&undelete, tree->image, &carve, why, sizeof why) != 0)
		fail_msg("carving %s failed: %s", tree->image, why);
	assert_int_equal(undelete.count, before + undelete.counts.carved);
	assert_true(undelete.counts.carved >= 2);
	assert_non_null(file = find_carved(&undelete, ".png"));
	assert_non_null(file->carved);
	assert_string_equal(file->carved->type, "png");
	assert_int_equal(file->state, UNDELETE_WHOLE);
	assert_int_equal(file->carved->offset % undelete.block_size, 0);
	check_content(&undelete, file, tree, "srv/app/media/photo.png");
	assert_non_null(file = find_carved(&undelete, ".gz"));
	assert_string_equal(file->carved->type, "gz");
	check_content(&undelete, file, tree, "srv/app/media/backup.gz");
	for (size_t i = 1; i < undelete.count; i++)	/* sorted still: the tree looks up */
		assert_true(strcmp(undelete.files[i - 1].path, undelete.files[i].path) < 0);
	undelete_free(&undelete);
}

static void test_beyond_the_journal(void **state)
{
	static const char *const options[] = { "-J", "size=1", NULL };

	(void)state;
	with_tree("--lost", options, check_beyond_the_journal);
}

/* Files the journal gives back are never carved a second time: their blocks are left out
 * of the stream, so nothing carved overlaps them. (The journal is large enough here that
 * the churn after the deletion does not go round it.) */
static void check_not_carved_twice(const struct deleted_tree *tree)
{
	struct undelete_options options = { 0 };
	struct undelete_carve_options carve = { 0 };
	struct undelete undelete;
	const struct undelete_file *png;
	char why[512] = "";

	scan(tree, &options, &undelete);
	assert_non_null(find(&undelete, "srv/app/media/photo.png"));
	if (undelete_carve(&undelete, tree->image, &carve, why, sizeof why) != 0)
		fail_msg("carving %s failed: %s", tree->image, why);
	assert_null(find_carved(&undelete, ".png"));
	assert_null(find_carved(&undelete, ".gz"));
	assert_non_null(png = find(&undelete, "srv/app/media/photo.png"));
	check_content(&undelete, png, tree, "srv/app/media/photo.png");
	undelete_free(&undelete);
}

static void test_not_carved_twice(void **state)
{
	static const char *const options[] = { "-J", "size=8", NULL };

	(void)state;
	with_tree("--lost", options, check_not_carved_twice);
}

static void test_refusals(void **state)
{
	struct undelete_options options = { 0 };
	struct undelete undelete;
	char dir[] = "/tmp/rescue-undelete.XXXXXX", image[128], why[512];
	FILE *out;
	int code;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(image, sizeof image, "%s/zeros", dir);
	assert_non_null(out = fopen(image, "w"));
	assert_int_equal(ftruncate(fileno(out), 4 << 20), 0);
	fclose(out);
	assert_int_equal(undelete_scan(image, &options, &undelete, why, sizeof why, &code), -1);
	assert_int_equal(code, 2);
	assert_non_null(strstr(why, "not an ext2/3/4"));
	assert_non_null(strstr(why, image));
	undelete_free(&undelete);
	run_ok(ARGV("mkfs.ext2", "-q", "-F", image));
	assert_int_equal(undelete_scan(image, &options, &undelete, why, sizeof why, &code), -1);
	assert_int_equal(code, 3);
	assert_non_null(strstr(why, "no journal"));
	undelete_free(&undelete);
	run_ok(ARGV("rm", "-rf", dir));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_corrupt_journal),
		cmocka_unit_test(test_ext4_defaults),
		cmocka_unit_test(test_ext4_4k_blocks),
		cmocka_unit_test(test_ext4_without_metadata_csum),
		cmocka_unit_test(test_ext3),
		cmocka_unit_test(test_external_journal),
		cmocka_unit_test(test_external_journal_1k),
		cmocka_unit_test(test_inline_data_and_xattrs),
		cmocka_unit_test(test_xattrs_4k),
		cmocka_unit_test(test_wrapped_journal),
		cmocka_unit_test(test_overwritten_blocks),
		cmocka_unit_test(test_blocks_of_a_file_deleted_later),
		cmocka_unit_test(test_window_and_paths),
		cmocka_unit_test(test_beyond_the_journal),
		cmocka_unit_test(test_not_carved_twice),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
