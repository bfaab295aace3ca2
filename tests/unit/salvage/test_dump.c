/* test_dump.c: the dump engine over a real directory tree (fstree_dir), its volumes kept in
 * memory and read back with libarchive; the manifest written and parsed back; patterns. */
#include <archive.h>
#include <archive_entry.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "base/sha256.h"
#include "fs/fstree.h"
#include "salvage/dump.h"
#include "salvage/manifest.h"

struct volume {
	char file[300];
	unsigned char *data;
	size_t size;
};

struct memory_sink {
	struct volume volumes[8];
	int count;
	int manifest_saves;
	char *json;
};

static int begin_volume(void *context, const char *file, uint64_t *size)
{
	struct memory_sink *sink = context;

	assert_true(sink->count < 8);
	snprintf(sink->volumes[sink->count].file, sizeof sink->volumes[0].file, "%s", file);
	sink->volumes[sink->count].data = NULL;
	sink->volumes[sink->count].size = 0;
	sink->count++;
	*size = 0;
	return 0;
}

static int write_volume(void *context, const void *data, size_t size, uint64_t position)
{
	struct memory_sink *sink = context;
	struct volume *volume = &sink->volumes[sink->count - 1];

	assert_int_equal(position, volume->size);	/* the archive is one stream */
	volume->data = realloc(volume->data, volume->size + size);
	memcpy(volume->data + volume->size, data, size);
	volume->size += size;
	return 0;
}

static int end_volume(void *context, uint64_t size)
{
	struct memory_sink *sink = context;

	assert_int_equal(size, sink->volumes[sink->count - 1].size);
	return 0;
}

static int save_manifest(void *context, struct manifest *manifest)
{
	struct memory_sink *sink = context;
	size_t size;

	free(sink->json);
	sink->json = manifest_json(manifest, &size);
	assert_non_null(sink->json);
	sink->manifest_saves++;
	return 0;
}

static void progress(void *context, const struct dump_progress *progress)
{
	(void)context, (void)progress;
}

static int no_stop(void *context)
{
	(void)context;
	return 0;
}

static void put(const char *root, const char *name, const void *data, size_t size)
{
	char path[512], *slash;
	FILE *file;

	snprintf(path, sizeof path, "%s/%s", root, name);
	for (slash = strchr(path + strlen(root) + 1, '/'); slash; slash = strchr(slash + 1, '/')) {
		*slash = '\0';
		mkdir(path, 0755);
		*slash = '/';
	}
	file = fopen(path, "w");
	assert_non_null(file);
	assert_int_equal(fwrite(data, 1, size, file), size);
	fclose(file);
}

static void remove_tree(const char *root)
{
	char command[64];

	snprintf(command, sizeof command, "rm -rf %s", root);
	assert_int_equal(system(command), 0);
}

static const struct manifest_entry *entry_named(struct manifest *manifest, const char *path)
{
	const struct manifest_entry *entry = manifest_find(manifest, path);

	assert_non_null(entry);
	return entry;
}

/* Reads VOLUME with libarchive: the path and content of each entry, in order. */
static size_t read_volume(const struct volume *volume, char names[][64], size_t max,
    const char *wanted, char *content, size_t content_size)
{
	struct archive *archive = archive_read_new();
	struct archive_entry *entry;
	size_t count = 0;
	la_ssize_t got;

	archive_read_support_format_all(archive);
	archive_read_support_filter_all(archive);
	assert_int_equal(archive_read_open_memory(archive, volume->data, volume->size),
	    ARCHIVE_OK);
	while (archive_read_next_header(archive, &entry) == ARCHIVE_OK) {
		if (count < max)
			snprintf(names[count], 64, "%s", archive_entry_pathname(entry));
		count++;
		if (wanted && !strcmp(archive_entry_pathname(entry), wanted)) {
			got = archive_read_data(archive, content, content_size - 1);
			assert_true(got >= 0);
			content[got] = '\0';
		}
	}
	archive_read_free(archive);
	return count;
}

static void test_dump_orders_hashes_and_resumes(void **state)
{
	char root[] = "/tmp/test_dump.XXXXXX", why[256], failure[256], names[32][64],
	    content[64], hex[65];
	const char *first[] = { "notes", NULL }, *none[] = { NULL },
	    *exclude[] = { "*.tmp", NULL };
	struct dump_options options = { .name = "t", .compress = DUMP_ZSTD, .first = first,
	    .include = none, .exclude = exclude };
	struct memory_sink memory = { 0 };
	struct dump_sink sink = { &memory, begin_volume, write_volume, end_volume,
	    save_manifest, progress, no_stop };
	struct manifest manifest = { 0 }, parsed = { 0 };
	unsigned char digest[32];
	struct sha256 hash;
	struct fstree *tree;
	size_t count, i;

	(void)state;
	assert_non_null(mkdtemp(root));
	put(root, "a/plain.txt", "plain\n", 6);
	put(root, "notes/todo.txt", "first\n", 6);
	put(root, "db/PG_VERSION", "16\n", 3);
	put(root, "db/global/pg_control", "control", 7);
	put(root, "scratch.tmp", "x", 1);
	tree = fstree_dir_open(root, why, sizeof why);
	assert_non_null(tree);

	assert_int_equal(dump_run(tree, &options, &sink, &manifest, failure, sizeof failure), 0);
	assert_int_equal(memory.count, 1);
	assert_string_equal(memory.volumes[0].file, "t.001.tar.zst");
	count = read_volume(&memory.volumes[0], names, 32, "a/plain.txt", content,
	    sizeof content);
	assert_string_equal(content, "plain\n");
	/* --first, then the database, then the rest in name order. */
	assert_string_equal(names[0], "notes/");	/* pax names directories with a slash */
	assert_string_equal(names[1], "notes/todo.txt");
	assert_string_equal(names[2], "db/");
	for (i = 0; i < count; i++)
		assert_string_not_equal(names[i], "scratch.tmp");
	assert_int_equal(entry_named(&manifest, "scratch.tmp")->status, MANIFEST_SKIPPED);
	assert_non_null(strstr(entry_named(&manifest, "scratch.tmp")->reason, "*.tmp"));
	sha256_init(&hash);
	sha256_update(&hash, "plain\n", 6);
	sha256_final(&hash, digest);
	sha256_hex(digest, hex);
	assert_string_equal(entry_named(&manifest, "a/plain.txt")->sha256, hex);
	assert_int_equal(manifest.database_count, 1);
	assert_string_equal(manifest.databases[0].kind, "PostgreSQL");
	assert_string_equal(manifest.databases[0].version, "16");
	assert_int_equal(manifest.databases[0].complete, 2);

	/* What was saved parses back; a second run sends only the changed file. */
	assert_int_equal(manifest_parse(&parsed, memory.json, strlen(memory.json), why, sizeof why), 0);
	assert_int_equal(parsed.volume_count, 1);
	assert_true(parsed.volumes[0].complete);
	assert_string_equal(entry_named(&parsed, "a/plain.txt")->sha256, hex);
	sleep(1);	/* a visibly newer mtime even on coarse clocks */
	put(root, "a/plain.txt", "changed\n", 8);
	assert_int_equal(dump_run(tree, &options, &sink, &parsed, failure, sizeof failure), 0);
	assert_int_equal(memory.count, 2);
	assert_string_equal(memory.volumes[1].file, "t.002.tar.zst");
	count = read_volume(&memory.volumes[1], names, 32, "a/plain.txt", content,
	    sizeof content);
	assert_string_equal(content, "changed\n");
	/* The directories above it come first again, so that extracting this volume after
	 * the first leaves their times as they were. */
	assert_int_equal(count, 3);
	assert_string_equal(names[0], "./");
	assert_string_equal(names[1], "a/");
	assert_string_equal(names[2], "a/plain.txt");
	assert_int_equal(entry_named(&parsed, "a/plain.txt")->volume, 2);

	fstree_release(tree);
	manifest_free(&manifest);
	manifest_free(&parsed);
	for (i = 0; i < (size_t)memory.count; i++)
		free(memory.volumes[i].data);
	free(memory.json);
	remove_tree(root);
}

/* The archive entry of PATH in VOLUME: its times, through libarchive. */
static void entry_times(const struct volume *volume, const char *path, time_t *mtime,
    long *mtime_nsec, int *atime_set)
{
	struct archive *archive = archive_read_new();
	struct archive_entry *entry;
	int found = 0;

	archive_read_support_format_all(archive);
	archive_read_support_filter_all(archive);
	assert_int_equal(archive_read_open_memory(archive, volume->data, volume->size),
	    ARCHIVE_OK);
	while (!found && archive_read_next_header(archive, &entry) == ARCHIVE_OK)
		if (!strcmp(archive_entry_pathname(entry), path)) {
			*mtime = archive_entry_mtime(entry);
			*mtime_nsec = archive_entry_mtime_nsec(entry);
			*atime_set = archive_entry_atime_is_set(entry) != 0;
			found = 1;
		}
	archive_read_free(archive);
	assert_true(found);
}

/* By default a plain file gets a ustar header (mtime to the second, as tar writes it);
 * --exact-times gives every entry mtime and atime to the ns. The manifest keeps the ns. */
static void test_times_to_the_second_unless_exact(void **state)
{
	char root[] = "/tmp/test_dump.XXXXXX", path[64], why[256], failure[256];
	const char *none[] = { NULL };
	const struct timespec times[2] = { { 1600000000, 5 }, { 1700000000, 123456789 } };
	struct dump_options options = { .name = "t", .compress = DUMP_NONE, .first = none,
	    .include = none, .exclude = none };
	struct dump_sink sink;
	struct fstree *tree;
	time_t mtime;
	long nsec;
	int exact, atime_set;

	(void)state;
	assert_non_null(mkdtemp(root));
	put(root, "f", "data\n", 5);
	snprintf(path, sizeof path, "%s/f", root);
	assert_int_equal(utimensat(AT_FDCWD, path, times, 0), 0);
	for (exact = 0; exact <= 1; exact++) {
		struct memory_sink memory = { 0 };
		struct manifest manifest = { 0 };

		sink = (struct dump_sink){ &memory, begin_volume, write_volume, end_volume,
		    save_manifest, progress, no_stop };
		options.exact_times = exact;
		tree = fstree_dir_open(root, why, sizeof why);
		assert_non_null(tree);
		assert_int_equal(dump_run(tree, &options, &sink, &manifest, failure,
		    sizeof failure), 0);
		entry_times(&memory.volumes[0], "f", &mtime, &nsec, &atime_set);
		assert_int_equal(mtime, 1700000000);
		assert_int_equal(nsec, exact ? 123456789 : 0);
		assert_int_equal(atime_set, exact);
		/* two ustar headers, one data block and the end; full pax adds 1 KiB each */
		if (!exact)
			assert_int_equal(memory.volumes[0].size, 3 * 512 + 1024);
		assert_int_equal(entry_named(&manifest, "f")->mtime_nsec, 123456789);
		fstree_release(tree);
		manifest_free(&manifest);
		free(memory.volumes[0].data);
		free(memory.json);
	}
	remove_tree(root);
}

static void test_manifest_round_trip_and_sums(void **state)
{
	struct manifest manifest = { 0 }, parsed = { 0 };
	struct manifest_entry *entry;
	struct manifest_volume *volume;
	char *json, *sums, why[128];
	size_t size;

	(void)state;
	volume = manifest_add_volume(&manifest, 1, "x.001.tar.zst");
	volume->complete = 1;
	manifest_add_volume(&manifest, 2, "x.002.tar.zst");	/* not finished */
	entry = manifest_add(&manifest, "caf\xe9 \"quoted\"\nline\\");
	strcpy(entry->type, "file");
	entry->volume = 1;
	entry->size = 10;
	entry->mtime = -5;
	strcpy(entry->sha256, "ab");
	entry = manifest_add(&manifest, "bad.bin");
	strcpy(entry->type, "file");
	entry->status = MANIFEST_PARTIAL;
	entry->volume = 1;
	manifest_add_range(entry, 4096, 8192);
	manifest_add_range(entry, 8192, 12288);	/* merges */
	manifest_add_range(entry, 65536, 69632);
	manifest_set_reason(entry, "unreadable at byte 4096: I/O error");
	entry = manifest_add(&manifest, "in-flight");
	strcpy(entry->type, "file");
	entry->volume = 2;

	json = manifest_json(&manifest, &size);
	assert_non_null(json);
	assert_null(strstr(json, "in-flight"));		/* its volume is not on the target */
	assert_int_equal(manifest_parse(&parsed, json, size, why, sizeof why), 0);
	assert_int_equal(parsed.count, 2);
	assert_string_equal(parsed.entries[0].path, "caf\xe9 \"quoted\"\nline\\");
	assert_int_equal(parsed.entries[0].mtime, -5);
	assert_int_equal(parsed.entries[1].status, MANIFEST_PARTIAL);
	assert_int_equal(parsed.entries[1].missing_count, 2);
	assert_int_equal(parsed.entries[1].missing[0].end, 12288);
	assert_string_equal(parsed.entries[1].reason, "unreadable at byte 4096: I/O error");
	assert_int_equal(parsed.volume_count, 2);
	assert_false(parsed.volumes[1].complete);

	/* GNU sha256sum's escapes; partial files are not listed. */
	sums = manifest_sha256sum(&manifest, &size);
	assert_string_equal(sums, "\\ab  caf\xe9 \"quoted\"\\nline\\\\\n");
	assert_int_not_equal(manifest_parse(&parsed, "{\"format\":\"other\"}", 18, why, sizeof why), 0);
	manifest_free(&parsed);
	/* Only LENGTH bytes are read: cut inside the second entry, that line cannot be read. */
	memset(&parsed, 0, sizeof parsed);
	assert_int_equal(manifest_parse(&parsed, json, (size_t)(strstr(json, "bad.bin") - json),
	    why, sizeof why), -1);
	assert_non_null(strstr(why, "cannot be read"));
	free(json);
	free(sums);
	manifest_free(&manifest);
	manifest_free(&parsed);
}

static void test_patterns(void **state)
{
	(void)state;
	assert_true(dump_pattern_matches("*.log", "var/log/syslog.log"));
	assert_true(dump_pattern_matches("log", "var/log/syslog"));	/* a directory's name */
	assert_false(dump_pattern_matches("log", "var/catalog"));
	assert_true(dump_pattern_matches("var/lib/postgresql", "var/lib/postgresql/15/main/x"));
	assert_true(dump_pattern_matches("/srv/*/uploads", "srv/www/uploads/a.jpg"));
	assert_false(dump_pattern_matches("srv/www", "srv/www2/a"));
}

struct loop_walk {
	char problem[256];
	int entered;		/* a path below the loop was visited */
	size_t count;
};

static int note_loop(void *context, const struct fstree_node *node)
{
	struct loop_walk *walk = context;

	walk->count++;
	if (!strcmp(node->path, "a/b/up") && node->problem)
		snprintf(walk->problem, sizeof walk->problem, "%s", node->problem);
	if (!strncmp(node->path, "a/b/up/", 7))
		walk->entered = 1;
	return walk->count > 1000;	/* stops a walk that went round */
}

/* A directory mounted (bound) below itself: same device, an ancestor's inode. The kernel
 * lets this one through; the walk must not go round in it. Needs root, for the mount. */
static void test_a_bind_mount_loop_is_reported_not_entered(void **state)
{
	char root[] = "/tmp/test_dump.XXXXXX", path[64], up[64], why[256];
	struct loop_walk walk = { .count = 0 };
	struct fstree *tree;

	(void)state;
	assert_non_null(mkdtemp(root));
	put(root, "a/b/up/.keep", "", 0);
	snprintf(path, sizeof path, "%s/a", root);
	snprintf(up, sizeof up, "%s/a/b/up", root);
	if (mount(path, up, NULL, MS_BIND, NULL) != 0) {
		remove_tree(root);
		skip();
	}
	tree = fstree_dir_open(root, why, sizeof why);
	assert_non_null(tree);
	assert_int_equal(tree->ops->walk(tree, note_loop, &walk), 0);
	fstree_release(tree);
	umount2(up, MNT_DETACH);
	assert_string_equal(walk.problem, "directory loop: already reached as a");
	assert_false(walk.entered);
	assert_int_equal(walk.count, 4);	/* "", a, a/b, a/b/up */
	remove_tree(root);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dump_orders_hashes_and_resumes),
		cmocka_unit_test(test_times_to_the_second_unless_exact),
		cmocka_unit_test(test_manifest_round_trip_and_sums),
		cmocka_unit_test(test_patterns),
		cmocka_unit_test(test_a_bind_mount_loop_is_reported_not_entered),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
