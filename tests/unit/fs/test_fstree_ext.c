/* test_fstree_ext.c: an ext4 image made here from a directory tree (mke2fs -d), read back
 * through fstree_ext without mounting it: every path with its stat, link targets, file
 * bytes, holes, extended attributes; then the image damaged (primary superblock wiped, a
 * directory loop, a directory block and an inode wiped) and something that is not ext. */
#define _XOPEN_SOURCE 700	/* nftw */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <ftw.h>
#include <unistd.h>
#include <cmocka.h>

#include "base/spawn.h"
#include "fs/fstree.h"
#include "lib/run_ok.h"

enum {
	SPARSE_AT = 5 << 20,	/* where the sparse file's second piece is written */
	BIG_SIZE = 300000,
	FRAGMENTS = 300,	/* one byte every FRAGMENT_STEP: an extent tree of depth 1 */
	FRAGMENT_STEP = 8192,
	MANY = 60,		/* entries of "many", ten 1 KiB directory blocks */
};

static const char LONG_TARGET[] = "a/target/longer/than/the/sixty/bytes/i_block/holds/so/it/"
    "lives/in/a/data/block/of/its/own";
/* The ACL as the kernel hands it out: version 2, then tag, permissions, id. */
static const unsigned char ACL[] = {
	2, 0, 0, 0,
	0x01, 0, 6, 0, 0xff, 0xff, 0xff, 0xff,	/* owner rw */
	0x02, 0, 4, 0, 0xe8, 0x03, 0, 0,	/* user 1000 r */
	0x04, 0, 4, 0, 0xff, 0xff, 0xff, 0xff,	/* group r */
	0x10, 0, 4, 0, 0xff, 0xff, 0xff, 0xff,	/* mask r */
	0x20, 0, 4, 0, 0xff, 0xff, 0xff, 0xff,	/* others r */
};

static struct {
	char dir[64];
	char source[128];
	char image[128];	/* ext4: extents, unwritten extents, a time past 2038 */
	char ext2[128];		/* block maps, indirect blocks */
	char inline_data[128];	/* small files and directories inside their inodes */
	char long_name[256];
} made;

struct seen {
	char *path;
	struct stat st;
	char *link;
	char *problem;
	int failed;
};

struct walked {
	struct seen *nodes;
	size_t count;
	size_t stop_after;	/* 0: never stop */
};

/* What debugfs -R COMMAND prints on stdout, as a number. */
static unsigned long debugfs_number(const char *image, const char *command)
{
	struct spawn_request request = { .argv = ARGV("debugfs", "-R", (char *)command,
	    (char *)image), .flags = SPAWN_STDERR };
	struct spawn_result result;
	unsigned long number = 0;
	char *line, *rest;

	/* The line that is a number, not the banner debugfs prints on stderr. */
	assert_int_equal(spawn_run(&request, &result), 0);
	for (line = strtok_r(result.output, "\n", &rest); line != NULL;
	    line = strtok_r(NULL, "\n", &rest))
		if (line[0] >= '0' && line[0] <= '9')
			number = strtoul(line, NULL, 10);
	spawn_result_free(&result);
	return number;
}

/* Two at a time, for link(2). */
static const char *in_source(const char *path)
{
	static char full[2][512];
	static int next;

	next = !next;
	snprintf(full[next], sizeof full[next], "%s/%s", made.source, path);
	return full[next];
}

static void write_at(const char *path, const void *data, size_t size, off_t offset)
{
	int fd = open(in_source(path), O_WRONLY | O_CREAT, 0644);

	assert_true(fd >= 0);
	assert_int_equal(pwrite(fd, data, size, offset), (ssize_t)size);
	close(fd);
}

static unsigned char big_byte(size_t i)
{
	return (unsigned char)(i * 7 + i / 251);
}

static void make_files(void)
{
	unsigned char big[BIG_SIZE];
	size_t i;

	write_at("hello.txt", "hello, world\n", 13, 0);
	write_at("empty", "", 0, 0);
	write_at("sparse", "head", 4, 0);
	write_at("sparse", "tail", 4, SPARSE_AT);
	for (i = 0; i < sizeof big; i++)
		big[i] = big_byte(i);
	write_at("big", big, sizeof big, 0);
	for (i = 0; i < FRAGMENTS; i++)
		write_at("fragmented", "abcdefghijklmnopqrstuvwxyz" + i % 26, 1,
		    (off_t)(i * FRAGMENT_STEP));
	write_at("prealloc", "", 0, 0);
	assert_int_equal(truncate(in_source("prealloc"), 64 * 1024), 0);
	write_at("future", "later\n", 6, 0);
	write_at("acl", "x", 1, 0);
	write_at("\xff\xfe", "not utf-8\n", 10, 0);
	memset(made.long_name, 'n', 255);
	write_at(made.long_name, "long name\n", 10, 0);
}

static void make_special(void)
{
	struct timespec times[2] = { { 1577934245, 0 }, { 1577934245, 0 } };

	assert_int_equal(mkdir(in_source("dir1"), 0750), 0);
	assert_int_equal(mkdir(in_source("dir1/sub"), 0755), 0);
	assert_int_equal(mkdir(in_source("dir1/sub/deep"), 0700), 0);
	write_at("dir1/sub/deep/file", "deep\n", 5, 0);
	assert_int_equal(link(in_source("hello.txt"), in_source("dir1/hard")), 0);
	assert_int_equal(symlink("../hello.txt", in_source("dir1/short")), 0);
	assert_int_equal(symlink(LONG_TARGET, in_source("longlink")), 0);
	assert_int_equal(mkfifo(in_source("fifo"), 0600), 0);
	assert_int_equal(mknod(in_source("null"), S_IFCHR | 0666, makedev(1, 3)), 0);
	assert_int_equal(mknod(in_source("bigdev"), S_IFBLK | 0600, makedev(300, 70000)), 0);
	assert_int_equal(chown(in_source("hello.txt"), 70000, 80000), 0);
	assert_int_equal(utimensat(AT_FDCWD, in_source("hello.txt"), times, 0), 0);
	assert_int_equal(setxattr(in_source("hello.txt"), "user.comment", "kept", 4, 0), 0);
	assert_int_equal(setxattr(in_source("acl"), "system.posix_acl_access", ACL, sizeof ACL,
	    0), 0);
}

static void make_many(void)
{
	char name[192];
	int i;

	assert_int_equal(mkdir(in_source("many"), 0755), 0);
	for (i = 0; i < MANY; i++) {
		snprintf(name, sizeof name, "many/%03d%0150d", i, 0);
		write_at(name, "", 0, 0);
	}
}

/* mke2fs -d copies the tree, hard links, holes and xattrs; 64 MiB means 1 KiB blocks.
 * debugfs then adds what mke2fs cannot: unwritten extents, a time past 2038 with
 * nanoseconds (epoch bit 1, 123456789 ns). The ext2 and inline-data images are the same
 * tree stored the other ways. */
static int make_image(void **state)
{
	(void)state;
	snprintf(made.dir, sizeof made.dir, "/tmp/test_fstree_ext.XXXXXX");
	assert_non_null(mkdtemp(made.dir));
	snprintf(made.source, sizeof made.source, "%s/source", made.dir);
	snprintf(made.image, sizeof made.image, "%s/fs.img", made.dir);
	snprintf(made.ext2, sizeof made.ext2, "%s/ext2.img", made.dir);
	snprintf(made.inline_data, sizeof made.inline_data, "%s/inline.img", made.dir);
	assert_int_equal(mkdir(made.source, 0755), 0);
	make_files();
	make_special();
	make_many();
	run_ok(ARGV("mke2fs", "-q", "-t", "ext4", "-d", made.source, "-F", made.image, "64M"));
	run_ok(ARGV("debugfs", "-w", "-R", "fallocate /prealloc 0 9", made.image));
	run_ok(ARGV("debugfs", "-w", "-R", "sif /future mtime_extra 493827157", made.image));
	run_ok(ARGV("mke2fs", "-q", "-t", "ext2", "-d", made.source, "-F", made.ext2, "64M"));
	run_ok(ARGV("mke2fs", "-q", "-t", "ext4", "-O", "inline_data", "-d", made.source, "-F",
	    made.inline_data, "64M"));
	return 0;
}

static int remove_image(void **state)
{
	(void)state;
	run_ok(ARGV("rm", "-rf", made.dir));
	return 0;
}

/* A copy of the image to damage, named NAME in the test directory. */
static const char *copy_image(const char *name)
{
	static char copy[192];

	snprintf(copy, sizeof copy, "%s/%s", made.dir, name);
	run_ok(ARGV("cp", "--sparse=always", made.image, copy));
	return copy;
}

static char *copy_text(const char *text)
{
	return text ? strdup(text) : NULL;
}

static int collect(void *context, const struct fstree_node *node)
{
	struct walked *walked = context;
	struct seen *seen;

	walked->nodes = realloc(walked->nodes, (walked->count + 1) * sizeof *walked->nodes);
	assert_non_null(walked->nodes);
	seen = &walked->nodes[walked->count++];
	seen->path = strdup(node->path);
	seen->st = node->st;
	seen->link = copy_text(node->link);
	seen->problem = copy_text(node->problem);
	seen->failed = node->failed;
	return walked->count == walked->stop_after ? 7 : 0;
}

static void walked_free(struct walked *walked)
{
	size_t i;

	for (i = 0; i < walked->count; i++) {
		free(walked->nodes[i].path);
		free(walked->nodes[i].link);
		free(walked->nodes[i].problem);
	}
	free(walked->nodes);
}

static const struct seen *find(const struct walked *walked, const char *path)
{
	size_t i;

	for (i = 0; i < walked->count; i++)
		if (strcmp(walked->nodes[i].path, path) == 0)
			return &walked->nodes[i];
	fail_msg("the walk did not report \"%s\"", path);
	return NULL;
}

static struct fstree *open_tree(const char *image)
{
	char why[512];
	struct fstree *tree = fstree_ext_open(image, why, sizeof why);

	if (tree == NULL)
		fail_msg("fstree_ext_open %s: %s", image, why);
	return tree;
}

static void walk_image(const char *image, struct walked *walked)
{
	struct fstree *tree = open_tree(image);

	memset(walked, 0, sizeof *walked);
	assert_int_equal(tree->ops->walk(tree, collect, walked), 0);
	fstree_release(tree);
}

/* ---- the whole tree as the source has it ---- */

static struct walked *compared;
static size_t compared_count;

static void compare_with_source(const char *path, const struct stat *source)
{
	const struct seen *seen = find(compared, path);

	assert_null(seen->problem);
	assert_int_equal(seen->st.st_mode, source->st_mode);
	assert_int_equal(seen->st.st_uid, source->st_uid);
	assert_int_equal(seen->st.st_gid, source->st_gid);
	/* The image's root holds lost+found besides. */
	if (path[0] != '\0')
		assert_int_equal(seen->st.st_nlink, source->st_nlink);
	if (!S_ISDIR(source->st_mode))
		assert_int_equal(seen->st.st_size, source->st_size);
	if (S_ISCHR(source->st_mode) || S_ISBLK(source->st_mode))
		assert_int_equal(seen->st.st_rdev, source->st_rdev);
	/* mke2fs -d gives the root the time it ran, not the source directory's: the two
	 * differ when mke2fs starts in a later second. "future" is changed by debugfs. */
	if (path[0] != '\0' && strcmp(path, "future") != 0)
		assert_int_equal(seen->st.st_mtim.tv_sec, source->st_mtim.tv_sec);
	if (S_ISLNK(source->st_mode)) {
		char target[256];
		ssize_t length = readlink(in_source(path), target, sizeof target - 1);

		assert_true(length > 0);
		target[length] = '\0';
		assert_non_null(seen->link);
		assert_string_equal(seen->link, target);
	}
}

static int visit_source(const char *full, const struct stat *st, int type, struct FTW *ftw)
{
	const char *path = full + strlen(made.source);

	(void)type, (void)ftw;
	compare_with_source(path[0] == '/' ? path + 1 : path, st);
	compared_count++;
	return 0;
}

static void walk_matches_the_source(const char *image)
{
	struct walked walked;
	size_t i;

	walk_image(image, &walked);
	compared = &walked;
	compared_count = 0;
	assert_int_equal(nftw(made.source, visit_source, 16, FTW_PHYS), 0);
	/* The source's paths, and lost+found, each once. */
	assert_int_equal(walked.count, compared_count + 1);
	assert_true(S_ISDIR(find(&walked, "lost+found")->st.st_mode));
	/* Each directory before its entries: the root first, every parent earlier. */
	assert_string_equal(walked.nodes[0].path, "");
	for (i = 1; i < walked.count; i++) {
		char parent[512], *slash;
		size_t j;

		snprintf(parent, sizeof parent, "%s", walked.nodes[i].path);
		slash = strrchr(parent, '/');
		*(slash ? slash : parent) = '\0';
		for (j = 0; j < i && strcmp(walked.nodes[j].path, parent) != 0; j++)
			;
		assert_true(j < i);
	}
	walked_free(&walked);
}

static void test_walk_reports_every_path_as_the_source_has_it(void **state)
{
	(void)state;
	walk_matches_the_source(made.image);
	walk_matches_the_source(made.ext2);
	walk_matches_the_source(made.inline_data);
}

static void test_links_devices_and_times(void **state)
{
	struct walked walked;
	const struct seen *future;

	(void)state;
	walk_image(made.image, &walked);
	assert_int_equal(find(&walked, "dir1/hard")->st.st_ino,
	    find(&walked, "hello.txt")->st.st_ino);
	assert_int_equal(find(&walked, "hello.txt")->st.st_nlink, 2);
	assert_string_equal(find(&walked, "dir1/short")->link, "../hello.txt");
	assert_string_equal(find(&walked, "longlink")->link, LONG_TARGET);
	assert_null(find(&walked, "hello.txt")->link);
	assert_int_equal(major(find(&walked, "bigdev")->st.st_rdev), 300);
	assert_int_equal(minor(find(&walked, "bigdev")->st.st_rdev), 70000);
	assert_int_equal(find(&walked, "hello.txt")->st.st_uid, 70000);
	future = find(&walked, "future");
	assert_int_equal(future->st.st_mtim.tv_nsec, 123456789);
	assert_true(future->st.st_mtim.tv_sec > (time_t)1 << 32);
	find(&walked, "\xff\xfe");
	find(&walked, made.long_name);
	walked_free(&walked);
}

static void test_a_nonzero_visit_stops_the_walk(void **state)
{
	struct fstree *tree = open_tree(made.image);
	struct walked walked = { .stop_after = 3 };

	(void)state;
	assert_int_equal(tree->ops->walk(tree, collect, &walked), 7);
	assert_int_equal(walked.count, 3);
	walked_free(&walked);
	fstree_release(tree);
}

/* ---- file data ---- */

static unsigned char *read_all(struct fstree *tree, const char *path, uint64_t ino,
    size_t size)
{
	struct fstree_file *file = tree->ops->open(tree, path, ino);
	unsigned char *data = malloc(size + 7000);
	size_t done = 0;

	if (file == NULL)
		fail_msg("open %s: %s", path, tree->error);
	/* An odd piece size, so that reads start and end inside blocks. */
	while (done < size) {
		ssize_t got = tree->ops->pread(file, data + done, 7000, done);

		assert_true(got > 0);
		done += (size_t)got;
	}
	assert_int_equal(done, size);
	assert_int_equal(tree->ops->pread(file, data, 7000, size), 0);
	tree->ops->close(file);
	return data;
}

static void compare_file(struct fstree *tree, const struct seen *seen)
{
	const char *source_path = in_source(seen->path);
	size_t size = (size_t)seen->st.st_size;
	unsigned char *data = read_all(tree, seen->path, seen->st.st_ino, size);
	unsigned char *expected = malloc(size + 1);
	FILE *source = fopen(source_path, "r");

	assert_non_null(source);
	assert_int_equal(fread(expected, 1, size + 1, source), size);
	fclose(source);
	if (memcmp(data, expected, size) != 0)
		fail_msg("%s: the bytes read differ from the source's", seen->path);
	free(expected);
	free(data);
}

/* The unwritten extents of "prealloc" read as the zeros of the source's hole. */
static void files_read_back(const char *image)
{
	struct fstree *tree = open_tree(image);
	struct walked walked;
	size_t i, files = 0;

	memset(&walked, 0, sizeof walked);
	assert_int_equal(tree->ops->walk(tree, collect, &walked), 0);
	for (i = 0; i < walked.count; i++) {
		if (!S_ISREG(walked.nodes[i].st.st_mode))
			continue;
		compare_file(tree, &walked.nodes[i]);
		files++;
	}
	assert_true(files >= MANY + 10);
	walked_free(&walked);
	fstree_release(tree);
}

static void test_every_file_reads_back_as_the_source(void **state)
{
	(void)state;
	files_read_back(made.image);
	files_read_back(made.ext2);
	files_read_back(made.inline_data);
}

static void test_reads_past_the_end_are_clamped(void **state)
{
	struct fstree *tree = open_tree(made.image);
	struct walked walked;
	const struct seen *hello;
	struct fstree_file *file;
	char buffer[64];

	(void)state;
	walk_image(made.image, &walked);
	hello = find(&walked, "hello.txt");
	file = tree->ops->open(tree, "hello.txt", hello->st.st_ino);
	assert_non_null(file);
	assert_int_equal(tree->ops->pread(file, buffer, sizeof buffer, 7), 6);
	assert_memory_equal(buffer, "world\n", 6);
	assert_int_equal(tree->ops->pread(file, buffer, sizeof buffer, 1 << 30), 0);
	tree->ops->close(file);
	assert_null(tree->ops->open(tree, "dir1", find(&walked, "dir1")->st.st_ino));
	walked_free(&walked);
	fstree_release(tree);
}

static struct fstree_file *open_found(struct fstree *tree, const struct walked *walked,
    const char *path)
{
	struct fstree_file *file = tree->ops->open(tree, path, find(walked, path)->st.st_ino);

	if (file == NULL)
		fail_msg("open %s: %s", path, tree->error);
	return file;
}

/* Block maps and extents alike. */
static void holes_found(const char *image)
{
	struct fstree *tree = open_tree(image);
	struct walked walked;
	struct fstree_file *file;
	uint64_t start, end, offset = 0;
	char buffer[4096];
	int regions = 0;

	walk_image(image, &walked);
	file = open_found(tree, &walked, "sparse");
	assert_int_equal(tree->ops->data(file, 0, &start, &end), 0);
	assert_int_equal(start, 0);
	assert_int_equal(end, 1024);
	assert_int_equal(tree->ops->data(file, 1024, &start, &end), 0);
	assert_int_equal(start, SPARSE_AT);
	assert_int_equal(end, SPARSE_AT + 4);
	assert_int_equal(tree->ops->data(file, SPARSE_AT + 4, &start, &end), 1);
	assert_int_equal(tree->ops->pread(file, buffer, sizeof buffer, 4096), sizeof buffer);
	assert_int_equal(buffer[0] | buffer[4095], 0);
	tree->ops->close(file);

	file = open_found(tree, &walked, "fragmented");
	while (tree->ops->data(file, offset, &start, &end) == 0) {
		assert_int_equal(start, (uint64_t)regions * FRAGMENT_STEP);
		regions++;
		offset = end;
	}
	assert_int_equal(regions, FRAGMENTS);
	tree->ops->close(file);
	walked_free(&walked);
	fstree_release(tree);
}

static void test_data_regions_show_the_holes(void **state)
{
	struct fstree *tree = open_tree(made.image);
	struct walked walked;
	struct fstree_file *file;
	uint64_t start, end;
	char buffer[4096];

	(void)state;
	holes_found(made.image);
	holes_found(made.ext2);
	walk_image(made.image, &walked);
	/* Unwritten extents are holes, and read as zeros. */
	file = open_found(tree, &walked, "prealloc");
	assert_int_equal(tree->ops->data(file, 0, &start, &end), 1);
	memset(buffer, 'x', sizeof buffer);
	assert_int_equal(tree->ops->pread(file, buffer, sizeof buffer, 0), sizeof buffer);
	assert_int_equal(buffer[0] | buffer[4095], 0);
	tree->ops->close(file);

	file = open_found(tree, &walked, "empty");
	assert_int_equal(tree->ops->data(file, 0, &start, &end), 1);
	tree->ops->close(file);
	walked_free(&walked);
	fstree_release(tree);
}

/* ---- extended attributes ---- */

static const struct fstree_xattr *find_xattr(const struct fstree_xattr *list, size_t count,
    const char *name)
{
	size_t i;

	for (i = 0; i < count; i++)
		if (strcmp(list[i].name, name) == 0)
			return &list[i];
	fail_msg("no extended attribute %s", name);
	return NULL;
}

static void test_xattrs_and_acls_as_the_kernel_gives_them(void **state)
{
	struct fstree *tree = open_tree(made.image);
	struct walked walked;
	struct fstree_xattr *list;
	const struct fstree_xattr *found;
	unsigned char kernel[sizeof ACL];
	size_t count;

	(void)state;
	walk_image(made.image, &walked);
	assert_int_equal(tree->ops->xattrs(tree, "hello.txt", find(&walked, "hello.txt")->st.st_ino,
	    &list, &count), 0);
	found = find_xattr(list, count, "user.comment");
	assert_int_equal(found->size, 4);
	assert_memory_equal(found->value, "kept", 4);
	fstree_xattrs_free(list, count);

	assert_int_equal(lgetxattr(in_source("acl"), "system.posix_acl_access", kernel,
	    sizeof kernel), sizeof kernel);
	assert_int_equal(tree->ops->xattrs(tree, "acl", find(&walked, "acl")->st.st_ino, &list,
	    &count), 0);
	found = find_xattr(list, count, "system.posix_acl_access");
	assert_int_equal(found->size, sizeof kernel);
	assert_memory_equal(found->value, kernel, sizeof kernel);
	fstree_xattrs_free(list, count);

	assert_int_equal(tree->ops->xattrs(tree, "empty", find(&walked, "empty")->st.st_ino,
	    &list, &count), 0);
	assert_int_equal(count, 0);
	fstree_xattrs_free(list, count);
	walked_free(&walked);
	fstree_release(tree);
}

/* ---- damage ---- */

static void test_a_wiped_primary_superblock_opens_by_a_backup(void **state)
{
	const char *image = copy_image("nosuper.img");
	char zeros[1024] = { 0 }, why[512];
	struct fstree *tree;
	struct walked walked;
	int fd = open(image, O_WRONLY);

	(void)state;
	assert_true(fd >= 0);
	assert_int_equal(pwrite(fd, zeros, sizeof zeros, 1024), sizeof zeros);
	close(fd);
	tree = fstree_ext_open(image, why, sizeof why);
	if (tree == NULL)
		fail_msg("%s", why);
	assert_non_null(strstr(tree->description, "ext4 on "));
	assert_non_null(strstr(tree->description, " read directly with libext2fs "
	    "(backup superblock 8193)"));
	assert_int_equal(tree->block_size, 1024);
	memset(&walked, 0, sizeof walked);
	assert_int_equal(tree->ops->walk(tree, collect, &walked), 0);
	assert_null(find(&walked, "dir1/sub/deep/file")->problem);
	walked_free(&walked);
	fstree_release(tree);
}

static void test_a_directory_loop_is_reported_not_entered(void **state)
{
	const char *image = copy_image("loop.img");
	struct walked walked;
	const struct seen *loop;
	size_t i;

	(void)state;
	run_ok(ARGV("debugfs", "-w", "-R", "link dir1 dir1/sub/loop", (char *)image));
	walk_image(image, &walked);
	loop = find(&walked, "dir1/sub/loop");
	assert_string_equal(loop->problem, "directory loop: already reached as dir1");
	assert_false(loop->failed);
	assert_int_equal(loop->st.st_ino, find(&walked, "dir1")->st.st_ino);
	for (i = 0; i < walked.count; i++)
		assert_true(strncmp(walked.nodes[i].path, "dir1/sub/loop/", 14) != 0);
	walked_free(&walked);
}

/* A directory block of zeros cannot be parsed: the directory is reported with the problem
 * and the entries of the blocks before it; a wiped inode is a node that failed. */
static void test_a_wiped_directory_block_and_inode_are_problems(void **state)
{
	const char *image = copy_image("wiped.img");
	unsigned long block = debugfs_number(image, "bmap /many 3");
	char zeros[1024] = { 0 };
	struct walked walked;
	const struct seen *many, *wiped;
	unsigned reported = 0, counted;
	size_t i;
	int fd = open(image, O_WRONLY);

	(void)state;
	assert_true(block > 0);
	assert_true(fd >= 0);
	assert_int_equal(pwrite(fd, zeros, sizeof zeros, (off_t)block * 1024), sizeof zeros);
	close(fd);
	run_ok(ARGV("debugfs", "-w", "-R", "clri /dir1/sub/deep/file", (char *)image));
	walk_image(image, &walked);
	many = find(&walked, "many");
	assert_non_null(many->problem);
	assert_false(many->failed);
	assert_true(S_ISDIR(many->st.st_mode));
	assert_int_equal(sscanf(many->problem, "directory blocks unreadable, %u entries read",
	    &counted), 1);
	for (i = 0; i < walked.count; i++)
		reported += strncmp(walked.nodes[i].path, "many/", 5) == 0;
	assert_int_equal(reported, counted);
	assert_true(reported > 0 && reported < MANY);
	wiped = find(&walked, "dir1/sub/deep/file");
	assert_true(wiped->failed);
	assert_non_null(strstr(wiped->problem, "no file type"));
	assert_null(find(&walked, "hello.txt")->problem);
	walked_free(&walked);
}

/* The first leaf of "fragmented"'s extent tree, from debugfs's "ex": the index line
 * " 0/ 1   1/  4     0 -   663  4393            664". */
static unsigned long first_extent_leaf(const char *image)
{
	struct spawn_request request = { .argv = ARGV("debugfs", "-R", "ex /fragmented",
	    (char *)image), .flags = SPAWN_STDERR };
	struct spawn_result result;
	unsigned long leaf = 0;
	const char *line;

	assert_int_equal(spawn_run(&request, &result), 0);
	line = strstr(result.output, " 0/ 1   1/");
	assert_non_null(line);
	assert_int_equal(sscanf(line, " 0/ 1 1/ %*u %*u - %*u %lu", &leaf), 1);
	spawn_result_free(&result);
	return leaf;
}

/* A wiped leaf loses where its blocks are: reading them fails with EIO, and the blocks of
 * the other leaves are still found and read. */
static void test_a_wiped_extent_leaf_fails_only_its_blocks(void **state)
{
	const char *image = copy_image("leaf.img");
	unsigned long leaf = first_extent_leaf(image);
	char zeros[1024] = { 0 }, byte = 0;
	struct fstree *tree;
	struct fstree_file *file;
	struct walked walked;
	uint64_t start, end, last = (FRAGMENTS - 1) * FRAGMENT_STEP;
	int fd = open(image, O_WRONLY);

	(void)state;
	assert_true(leaf > 0);
	assert_true(fd >= 0);
	assert_int_equal(pwrite(fd, zeros, sizeof zeros, (off_t)leaf * 1024), sizeof zeros);
	close(fd);
	walk_image(image, &walked);
	tree = open_tree(image);
	file = open_found(tree, &walked, "fragmented");
	errno = 0;
	assert_int_equal(tree->ops->pread(file, &byte, 1, 0), -1);
	assert_int_equal(errno, EIO);
	assert_non_null(strstr(tree->error, "block 0"));
	assert_int_equal(tree->ops->pread(file, &byte, 1, last), 1);
	assert_int_equal(byte, "abcdefghijklmnopqrstuvwxyz"[(FRAGMENTS - 1) % 26]);
	/* What cannot be placed counts as data, for the caller to try. */
	assert_int_equal(tree->ops->data(file, 0, &start, &end), 0);
	assert_int_equal(start, 0);
	assert_true(end > FRAGMENT_STEP);
	tree->ops->close(file);
	walked_free(&walked);
	fstree_release(tree);
}

/* ---- a directory larger than the window ---- */

enum {
	HUGE = 200000,		/* entries of huge/, named e000000 to e199999 */
	HUGE_SUBDIR = 20000,	/* every so many entries one is a directory with one file */
	HUGE_ENTRY = 4 + 1 + 7,	/* bytes an entry takes in a window */
	SMALL_WINDOW = 64 << 10,
};

struct paths {
	char **paths;
	size_t count, capacity;
};

static int collect_path(void *context, const struct fstree_node *node)
{
	struct paths *paths = context;

	if (paths->count == paths->capacity) {
		paths->capacity = paths->capacity ? 2 * paths->capacity : 1024;
		paths->paths = realloc(paths->paths, paths->capacity * sizeof *paths->paths);
		assert_non_null(paths->paths);
	}
	assert_null(node->problem);
	assert_non_null(paths->paths[paths->count++] = strdup(node->path));
	return 0;
}

static void paths_free(struct paths *paths)
{
	while (paths->count)
		free(paths->paths[--paths->count]);
	free(paths->paths);
}

/* The walk of IMAGE with a window of WINDOW bytes (0: the default), and what it held. */
static void walk_windowed(const char *image, size_t window, struct paths *paths,
    struct fstree_ext_stats *stats)
{
	struct fstree *tree = open_tree(image);

	memset(paths, 0, sizeof *paths);
	fstree_ext_window(window);
	fstree_ext_stats(stats);	/* counts from here */
	assert_int_equal(tree->ops->walk(tree, collect_path, paths), 0);
	fstree_ext_stats(stats);
	fstree_ext_window(0);
	fstree_release(tree);
}

/* 0 when COMMAND ran and exited 0. */
static int run_quietly(char *const *argv)
{
	struct spawn_request request = { .argv = argv, .flags = SPAWN_STDERR };
	struct spawn_result result;
	int code = spawn_run(&request, &result) == 0 ? spawn_exit_code(&result) : -1;

	if (code != 0)
		print_message("%s: %s\n", argv[0], result.output ? result.output : "did not run");
	spawn_result_free(&result);
	return code;
}

/* The entries are made by the kernel through a loop mount: mke2fs -d adds each name
 * after a scan of the whole directory (minutes for 200,000); NULL without root. */
static const char *make_huge(void)
{
	static char image[192];
	char mounted[192], path[256];
	unsigned i;
	int fd;

	snprintf(mounted, sizeof mounted, "%s/huge-mount", made.dir);
	snprintf(image, sizeof image, "%s/huge.img", made.dir);
	assert_int_equal(mkdir(mounted, 0755), 0);
	run_ok(ARGV("mke2fs", "-q", "-t", "ext4", "-N", "210000", "-F", image, "128M"));
	if (run_quietly(ARGV("mount", "-o", "loop", image, mounted)) != 0)
		return NULL;
	snprintf(path, sizeof path, "%s/huge", mounted);
	assert_int_equal(mkdir(path, 0755), 0);
	for (i = 0; i < HUGE; i++) {
		snprintf(path, sizeof path, "%s/huge/e%06u", mounted, i);
		if (i % HUGE_SUBDIR == HUGE_SUBDIR / 2) {
			assert_int_equal(mkdir(path, 0755), 0);
			snprintf(path, sizeof path, "%s/huge/e%06u/inner", mounted, i);
		}
		fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0644);
		assert_true(fd >= 0);
		close(fd);
	}
	run_ok(ARGV("umount", mounted));
	return image;
}

/* Each of huge/'s entries once (and the files in its subdirectories, right after them). */
static void each_entry_once(const struct paths *paths)
{
	unsigned char *seen = calloc(HUGE, 1);
	unsigned number, inner = 0, i;
	char rest[16];

	assert_non_null(seen);
	for (i = 0; i < paths->count; i++) {
		if (sscanf(paths->paths[i], "huge/e%6u%15s", &number, rest) == 2) {
			assert_string_equal(rest, "/inner");
			assert_int_equal(number % HUGE_SUBDIR, HUGE_SUBDIR / 2);
			assert_true(i > 0 && strncmp(paths->paths[i - 1], paths->paths[i], 12) == 0);
			inner++;
		} else if (sscanf(paths->paths[i], "huge/e%6u", &number) == 1) {
			assert_true(number < HUGE);
			assert_int_equal(seen[number]++, 0);
		}
	}
	for (number = 0; number < HUGE; number++)
		assert_int_equal(seen[number], 1);
	assert_int_equal(inner, HUGE / HUGE_SUBDIR);
	free(seen);
}

/* A directory of 200,000 entries walked a window at a time visits what a walk holding it
 * whole does, in the same order, each entry once, while the walker's window buffer never
 * passes the window (and one entry); held whole, it is the directory's size. The kernel
 * makes an indexed (htree) directory of it: its blocks are read in order, not by hash. */
static void test_a_huge_directory_is_walked_a_window_at_a_time(void **state)
{
	const char *image = make_huge();
	struct paths whole, small, standard;
	struct fstree_ext_stats whole_stats, small_stats, standard_stats;
	size_t i;

	(void)state;
	if (image == NULL)
		skip();		/* no loop mount: not root */
	walk_windowed(image, (size_t)1 << 30, &whole, &whole_stats);
	walk_windowed(image, SMALL_WINDOW, &small, &small_stats);
	walk_windowed(image, 0, &standard, &standard_stats);
	/* The root, lost+found, huge, its entries and the files in its subdirectories. */
	assert_int_equal(whole.count, 3 + HUGE + HUGE / HUGE_SUBDIR);
	assert_int_equal(small.count, whole.count);
	assert_int_equal(standard.count, whole.count);
	for (i = 0; i < whole.count; i++) {
		assert_string_equal(small.paths[i], whole.paths[i]);
		assert_string_equal(standard.paths[i], whole.paths[i]);
	}
	each_entry_once(&small);
	assert_true(whole_stats.largest_buffer >= (size_t)HUGE * HUGE_ENTRY);
	assert_true(small_stats.largest_buffer <= SMALL_WINDOW + 4 + 1 + 255);
	assert_true(standard_stats.largest_buffer <= FSTREE_EXT_WINDOW + 4 + 1 + 255);
	/* One reading a directory when it fits, one a window of huge/ when it does not. */
	assert_int_equal(whole_stats.readings, 3 + HUGE / HUGE_SUBDIR);
	assert_true(small_stats.readings >= whole_stats.readings - 1
	    + (unsigned long long)HUGE * HUGE_ENTRY / SMALL_WINDOW);
	assert_true(small_stats.readings <= whole_stats.readings - 1
	    + (unsigned long long)HUGE * HUGE_ENTRY / (SMALL_WINDOW - 4 - 1 - 255) + 1);
	paths_free(&whole);
	paths_free(&small);
	paths_free(&standard);
}

static void test_what_is_not_ext_is_refused_naming_it(void **state)
{
	char path[192], why[512];
	char text[65536];

	(void)state;
	snprintf(path, sizeof path, "%s/not-ext", made.dir);
	memset(text, 'z', sizeof text);
	write_at("../not-ext", text, sizeof text, 0);
	assert_null(fstree_ext_open(path, why, sizeof why));
	assert_non_null(strstr(why, path));
	assert_non_null(strstr(why, "Bad magic number in super-block"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_walk_reports_every_path_as_the_source_has_it),
		cmocka_unit_test(test_links_devices_and_times),
		cmocka_unit_test(test_a_nonzero_visit_stops_the_walk),
		cmocka_unit_test(test_every_file_reads_back_as_the_source),
		cmocka_unit_test(test_reads_past_the_end_are_clamped),
		cmocka_unit_test(test_data_regions_show_the_holes),
		cmocka_unit_test(test_xattrs_and_acls_as_the_kernel_gives_them),
		cmocka_unit_test(test_a_wiped_primary_superblock_opens_by_a_backup),
		cmocka_unit_test(test_a_directory_loop_is_reported_not_entered),
		cmocka_unit_test(test_a_wiped_directory_block_and_inode_are_problems),
		cmocka_unit_test(test_a_wiped_extent_leaf_fails_only_its_blocks),
		cmocka_unit_test(test_what_is_not_ext_is_refused_naming_it),
		cmocka_unit_test(test_a_huge_directory_is_walked_a_window_at_a_time),
	};

	return cmocka_run_group_tests_name("fstree_ext", tests, make_image, remove_image);
}
