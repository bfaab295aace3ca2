/* dump.c: the dump engine (dump.h): walk, order, read, hash, archive, record. */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/sha256.h"
#include "base/sort.h"
#include "salvage/dump.h"

enum { CHUNK = 1 << 20, OUTPUT_BLOCK = 128 << 10 };

/* Priorities, each a walk of its own: --first, then databases, then the rest. */
enum { PRIORITY_FIRST, PRIORITY_DATABASE, PRIORITY_REST, PRIORITIES };

/* The node the walk is at, with what this run decided about it; gone after the visit. */
struct dump_node {
	const char *path;
	struct stat st;
	const char *link;
	const char *problem;
	int failed;
	unsigned char priority;
	const char *skip;		/* why it is not archived, or NULL */
	const char *skip_pattern;
};

/* A directory above the node the walk is at: its path is the first LENGTH bytes of the
 * ancestry's path. */
struct frame {
	size_t length;
	struct stat st;
	unsigned char priority;
	unsigned char usable;		/* neither skipped nor failed */
	unsigned char not_included;	/* skipped only for want of an --include match */
	unsigned char needed;		/* ... but something below it is included */
	unsigned written_in;		/* the volume its header last went into, 0: none */
};

/* The directories from the root down to the node the walk is at: depth x 170 bytes, and
 * the deepest path. */
struct ancestry {
	char *path;
	size_t path_capacity;
	struct frame *frames;
	size_t depth, capacity;
};

/* Hard links: an inode with more than one link, and its first archived path (NULL until
 * one is archived, by this run or an earlier one). 88 bytes and the path. */
struct link_slot {
	uint64_t inode;
	char *path;
	char sha256[65];
	unsigned char status, used;
};

/* What the counting walk finds of the databases, confirmed when it is over. */
struct candidate {
	char *dir;
	uint64_t inode;			/* of PG_VERSION, mysql_upgrade_info; 0: none */
	char version[32];		/* an SQLite file's */
};

struct candidates {
	struct candidate *list;
	size_t count;
};

struct dump {
	struct fstree *tree;
	const struct dump_options *options;
	const struct dump_sink *sink;
	struct manifest *manifest;
	struct manifest_entry entry;	/* the one being made; path NULL: none */
	int pass;			/* the priority being archived, -1 while counting */
	int databases_counted;		/* the database pass walked the whole tree */
	unsigned last_written;		/* the volume the node just handled went into */
	struct ancestry ancestry;
	struct link_slot *links;
	size_t link_size, link_used;
	uint64_t *needed;		/* sorted path hashes of the directories --include
					 * needs for what is below them */
	size_t needed_count, needed_capacity;
	struct candidates pg_versions, pg_controls, mysql_dirs, mysql_infos, sqlite;
	struct archive *archive;
	unsigned volume;		/* the number being written, 0: none open */
	uint64_t position;		/* bytes of it sent */
	uint64_t volume_input;		/* archive bytes before compression */
	struct dump_progress progress;
	unsigned char *buffer;
	const unsigned char *zeros;
	char *failure;
	size_t failure_size;
	int sink_failed;		/* a write to the target failed: FAILURE holds why */
};

static int fail(struct dump *dump, const char *format, const char *detail)
{
	if (dump->sink_failed)
		return -1;	/* the sink said why, in FAILURE: libarchive only knows it failed */
	snprintf(dump->failure, dump->failure_size, format, detail);
	return -1;
}

static size_t pending_max(const struct dump *dump)
{
	return dump->options->pending_max ? dump->options->pending_max : MANIFEST_PENDING_MAX;
}

static const char *path_or_dot(const char *path)
{
	return path[0] ? path : ".";
}

/* ------------------------------------------------------------------ patterns */

static int matches_prefixes(const char *pattern, const char *path)
{
	char *copy = strdup(path), *slash;
	int matched = 0;

	if (!copy)
		return 0;
	for (;;) {
		if (fnmatch(pattern, copy, 0) == 0) {
			matched = 1;
			break;
		}
		if (!(slash = strrchr(copy, '/')))
			break;
		*slash = '\0';
	}
	free(copy);
	return matched;
}

static int matches_names(const char *pattern, const char *path)
{
	const char *name = path, *end;
	char component[256];

	for (; *name; name = *end ? end + 1 : end) {
		end = strchr(name, '/');
		if (!end)
			end = name + strlen(name);
		if ((size_t)(end - name) >= sizeof component)
			continue;
		memcpy(component, name, (size_t)(end - name));
		component[end - name] = '\0';
		if (fnmatch(pattern, component, 0) == 0)
			return 1;
	}
	return 0;
}

int dump_pattern_matches(const char *pattern, const char *path)
{
	while (pattern[0] == '/')
		pattern++;
	while (path[0] == '/')
		path++;
	if (!pattern[0])
		return 1;
	return strchr(pattern, '/') ? matches_prefixes(pattern, path)
	    : matches_names(pattern, path);
}

static const char *first_match(const char **patterns, const char *path)
{
	for (; patterns && *patterns; patterns++)
		if (dump_pattern_matches(*patterns, path))
			return *patterns;
	return NULL;
}

/* ------------------------------------------------------------------ the ancestry */

/* Whether FRAME's directory is above PATH. */
static int frame_above(const struct ancestry *ancestry, const struct frame *frame,
    const char *path)
{
	if (frame->length == 0)
		return path[0] != '\0';
	return !strncmp(path, ancestry->path, frame->length) && path[frame->length] == '/';
}

/* Leaves the directories that are not above PATH (the walk reports a directory before
 * everything below it, so the frames left are exactly PATH's ancestors). */
static void ancestry_reach(struct ancestry *ancestry, const char *path)
{
	while (ancestry->depth
	    && !frame_above(ancestry, &ancestry->frames[ancestry->depth - 1], path))
		ancestry->depth--;
}

static struct frame *ancestry_push(struct ancestry *ancestry, const struct dump_node *node)
{
	size_t length = strlen(node->path), capacity;
	struct frame *frames, *frame;
	char *path;

	if (ancestry->depth == ancestry->capacity) {
		capacity = ancestry->capacity ? ancestry->capacity * 2 : 64;
		if (!(frames = realloc(ancestry->frames, capacity * sizeof *frames)))
			return NULL;
		ancestry->frames = frames;
		ancestry->capacity = capacity;
	}
	if (length + 1 > ancestry->path_capacity) {
		if (!(path = realloc(ancestry->path, length + 256)))
			return NULL;
		ancestry->path = path;
		ancestry->path_capacity = length + 256;
	}
	memcpy(ancestry->path, node->path, length + 1);
	frame = &ancestry->frames[ancestry->depth++];
	memset(frame, 0, sizeof *frame);
	frame->length = length;
	frame->st = node->st;
	frame->priority = node->priority;
	frame->usable = !node->skip && !node->failed;
	return frame;
}

static void ancestry_free(struct ancestry *ancestry)
{
	free(ancestry->path);
	free(ancestry->frames);
	memset(ancestry, 0, sizeof *ancestry);
}

/* ------------------------------------------------------------------ selection */

static const char not_included[] = "not matched by --include";

static int by_hash(const void *a, const void *b)
{
	uint64_t left = *(const uint64_t *)a, right = *(const uint64_t *)b;

	return left < right ? -1 : left > right;
}

/* Sorted once the counting walk, which fills it, is over. */
static int is_needed(const struct dump *dump, const char *path)
{
	uint64_t hash = manifest_path_hash(path);

	return dump->pass >= 0 && dump->needed_count && bsearch(&hash, dump->needed, dump->needed_count,
	    sizeof hash, by_hash);
}

static void choose(struct dump *dump, struct dump_node *node)
{
	const struct dump_options *options = dump->options;

	node->skip = node->skip_pattern = NULL;
	if ((node->skip_pattern = first_match(options->exclude, node->path)))
		node->skip = "excluded by --exclude";
	else if (options->include && options->include[0] && node->path[0]
	    && !first_match(options->include, node->path) && !is_needed(dump, node->path))
		node->skip = not_included;
	else if (S_ISSOCK(node->st.st_mode))
		node->skip = "a socket: tar has no type for it, its program makes it anew";
}

/* Directories above a selected node are archived too, so its owner and mode arrive: the
 * counting walk records them, deepest first, until one that is selected anyway. */
static int need_ancestors(struct dump *dump)
{
	struct ancestry *ancestry = &dump->ancestry;
	struct frame *frame;
	uint64_t *bigger;
	size_t i, capacity;
	char saved;

	for (i = ancestry->depth; i-- > 0;) {
		frame = &ancestry->frames[i];
		if (!frame->not_included || frame->needed)
			break;
		if (dump->needed_count == dump->needed_capacity) {
			capacity = dump->needed_capacity ? dump->needed_capacity * 2 : 64;
			if (!(bigger = realloc(dump->needed, capacity * sizeof *bigger)))
				return fail(dump, "out of memory for the %s", "--include selection");
			dump->needed = bigger;
			dump->needed_capacity = capacity;
		}
		saved = ancestry->path[frame->length];
		ancestry->path[frame->length] = '\0';
		dump->needed[dump->needed_count++] = manifest_path_hash(ancestry->path);
		ancestry->path[frame->length] = saved;
		frame->needed = 1;
	}
	return 0;
}

/* ------------------------------------------------------------------ databases */

static const char *base_name(const char *path)
{
	const char *slash = strrchr(path, '/');

	return slash ? slash + 1 : path;
}

static char *parent_of(const char *path)
{
	const char *slash = strrchr(path, '/');

	return strndup(path, slash ? (size_t)(slash - path) : 0);
}

/* The first SIZE bytes of the regular file PATH; how many were read, or -1. */
static ssize_t read_head(struct dump *dump, const char *path, uint64_t inode, void *buffer,
    size_t size)
{
	struct fstree_file *file = dump->tree->ops->open(dump->tree, path, inode);
	ssize_t got;

	if (!file)
		return -1;
	got = dump->tree->ops->pread(file, buffer, size, 0);
	dump->tree->ops->close(file);
	return got;
}

static void trim_line(char *text)
{
	size_t length = strlen(text);

	while (length && (text[length - 1] == '\n' || text[length - 1] == '\r'
	    || text[length - 1] == ' ' || text[length - 1] == '\0'))
		text[--length] = '\0';
}

static int add_database(struct dump *dump, const char *kind, const char *path,
    const char *version)
{
	struct manifest *manifest = dump->manifest;
	struct manifest_database *bigger;
	size_t i;

	for (i = 0; i < manifest->database_count; i++)
		if (!strcmp(manifest->databases[i].path, path))
			return 0;
	bigger = realloc(manifest->databases, (manifest->database_count + 1) * sizeof *bigger);
	if (!bigger)
		return -1;
	manifest->databases = bigger;
	bigger += manifest->database_count;
	memset(bigger, 0, sizeof *bigger);
	snprintf(bigger->kind, sizeof bigger->kind, "%s", kind);
	snprintf(bigger->version, sizeof bigger->version, "%s", version);
	if (!(bigger->path = strdup(path)))
		return -1;
	manifest->database_count++;
	return 0;
}

static int inside(const char *path, const char *dir)
{
	size_t length = strlen(dir);

	if (!length)
		return 1;
	return !strncmp(path, dir, length) && (path[length] == '\0' || path[length] == '/');
}

/* A SQLite database's journal, WAL and shared-memory files belong with it. */
static int sqlite_companion(const char *path, const char *database)
{
	size_t length = strlen(database);

	return !strncmp(path, database, length) && (!strcmp(path + length, "-wal")
	    || !strcmp(path + length, "-shm") || !strcmp(path + length, "-journal"));
}

static int candidate_add(struct candidates *candidates, const char *dir, uint64_t inode)
{
	struct candidate *bigger = realloc(candidates->list,
	    (candidates->count + 1) * sizeof *bigger);

	if (!bigger)
		return -1;
	candidates->list = bigger;
	if (!(bigger[candidates->count].dir = strdup(dir)))
		return -1;
	bigger[candidates->count++].inode = inode;
	return 0;
}

static const struct candidate *candidate_in(const struct candidates *candidates,
    const char *dir)
{
	size_t i;

	for (i = 0; i < candidates->count; i++)
		if (!strcmp(candidates->list[i].dir, dir))
			return &candidates->list[i];
	return NULL;
}

static int candidate_inside(const struct candidates *candidates, const char *path)
{
	size_t i;

	for (i = 0; i < candidates->count; i++)
		if (inside(path, candidates->list[i].dir))
			return 1;
	return 0;
}

static void candidates_free(struct candidates *candidates)
{
	size_t i;

	for (i = 0; i < candidates->count; i++)
		free(candidates->list[i].dir);
	free(candidates->list);
	memset(candidates, 0, sizeof *candidates);
}

/* The small text file found as CANDIDATE (PG_VERSION, mysql_upgrade_info) into VERSION,
 * or "". */
static void read_version(struct dump *dump, const struct candidate *candidate,
    const char *name, char *version, size_t size)
{
	char path[4200];
	ssize_t got;

	version[0] = '\0';
	if (!candidate)
		return;
	snprintf(path, sizeof path, "%s%s%s", candidate->dir, candidate->dir[0] ? "/" : "", name);
	if ((got = read_head(dump, path, candidate->inode, version, size - 1)) > 0) {
		version[got] = '\0';
		trim_line(version);
	}
}

/* An SQLite database: its 100-byte header starts "SQLite format 3\0" and ends with the
 * version of the library that last wrote it; its size is a whole number of pages. */
static int detect_sqlite(struct dump *dump, const struct dump_node *node)
{
	unsigned char header[100];
	unsigned long number;
	char version[32];

	if (node->st.st_size < 512 || node->st.st_size % 512
	    || read_head(dump, node->path, node->st.st_ino, header, sizeof header)
	    != (ssize_t)sizeof header || memcmp(header, "SQLite format 3", 16) != 0)
		return 0;
	number = (unsigned long)header[96] << 24 | (unsigned long)header[97] << 16
	    | (unsigned long)header[98] << 8 | header[99];
	snprintf(version, sizeof version, "%lu.%lu.%lu", number / 1000000, number / 1000 % 1000,
	    number % 1000);
	if (candidate_add(&dump->sqlite, node->path, 0) != 0)
		return -1;
	snprintf(dump->sqlite.list[dump->sqlite.count - 1].version,
	    sizeof dump->sqlite.list[0].version, "%s", version);
	return 0;
}

/* What the counting walk notes of NODE for the databases: a PostgreSQL data directory
 * has PG_VERSION and global/pg_control (the PG_VERSION files in each database's directory
 * below base/ have no global/ beside them); a MySQL or MariaDB one holds ibdata1, and
 * mysql_upgrade_info names the server version that last upgraded it. */
static int note_database(struct dump *dump, const struct dump_node *node)
{
	const char *name = base_name(node->path);
	char *dir;
	int rc = 0;

	if (!S_ISREG(node->st.st_mode) || node->skip || node->failed)
		return 0;
	if (!strcmp(name, "PG_VERSION") || !strcmp(name, "ibdata1")
	    || !strcmp(name, "mysql_upgrade_info") || !strcmp(name, "pg_control")) {
		if (!(dir = parent_of(node->path)))
			return -1;
		if (!strcmp(name, "PG_VERSION"))
			rc = candidate_add(&dump->pg_versions, dir, node->st.st_ino);
		else if (!strcmp(name, "ibdata1"))
			rc = candidate_add(&dump->mysql_dirs, dir, 0);
		else if (!strcmp(name, "mysql_upgrade_info"))
			rc = candidate_add(&dump->mysql_infos, dir, node->st.st_ino);
		else if (!strcmp(base_name(dir), "global")) {
			dir[strlen(dir) - strlen("global") - (strchr(dir, '/') ? 1 : 0)] = '\0';
			rc = candidate_add(&dump->pg_controls, dir, 0);
		}
		free(dir);
		return rc;
	}
	if (candidate_inside(&dump->pg_versions, node->path)
	    || candidate_inside(&dump->mysql_dirs, node->path))
		return 0;	/* no SQLite inside a server's directory: not worth the reads */
	return detect_sqlite(dump, node);
}

/* The databases, once the counting walk is over: servers in walk order, then SQLite files
 * outside them. */
static int confirm_databases(struct dump *dump)
{
	const struct candidate *candidate;
	const char *path;
	char version[64];
	size_t i, d;

	for (i = 0; i < dump->pg_versions.count; i++) {
		candidate = &dump->pg_versions.list[i];
		if (!candidate_in(&dump->pg_controls, candidate->dir))
			continue;
		read_version(dump, candidate, "PG_VERSION", version, sizeof version);
		if (add_database(dump, "PostgreSQL", candidate->dir, version) != 0)
			return -1;
	}
	for (i = 0; i < dump->mysql_dirs.count; i++) {
		candidate = &dump->mysql_dirs.list[i];
		read_version(dump, candidate_in(&dump->mysql_infos, candidate->dir),
		    "mysql_upgrade_info", version, sizeof version);
		if (add_database(dump, "MySQL/MariaDB", candidate->dir, version) != 0)
			return -1;
	}
	for (i = 0; i < dump->sqlite.count; i++) {
		path = dump->sqlite.list[i].dir;
		for (d = 0; d < dump->manifest->database_count; d++)
			if (inside(path, dump->manifest->databases[d].path))
				break;
		if (d == dump->manifest->database_count
		    && add_database(dump, "SQLite", path, dump->sqlite.list[i].version) != 0)
			return -1;
	}
	return 0;
}

static unsigned char priority_of(const struct dump *dump, const char *path)
{
	const struct manifest *manifest = dump->manifest;
	size_t d;

	if (first_match(dump->options->first, path))
		return PRIORITY_FIRST;
	for (d = 0; d < manifest->database_count; d++)
		if (inside(path, manifest->databases[d].path)
		    || sqlite_companion(path, manifest->databases[d].path))
			return PRIORITY_DATABASE;
	return PRIORITY_REST;
}

static int in_database(const struct dump *dump, const struct manifest_database *database,
    const struct dump_node *node)
{
	(void)dump;
	return S_ISREG(node->st.st_mode) && node->priority != PRIORITY_REST
	    && (inside(node->path, database->path)
	    || sqlite_companion(node->path, database->path));
}

/* The database pass meets every node: it counts the files of each database. */
static void count_database_files(struct dump *dump, const struct dump_node *node)
{
	size_t d;

	for (d = 0; d < dump->manifest->database_count; d++)
		if (in_database(dump, &dump->manifest->databases[d], node))
			dump->manifest->databases[d].files++;
}

/* A database file copied whole (by this run, or an earlier one): counted once its volume
 * is whole (manifest_clear_pending). */
static void count_database_copy(struct dump *dump, const struct dump_node *node)
{
	size_t d;

	for (d = 0; d < dump->manifest->database_count; d++)
		if (in_database(dump, &dump->manifest->databases[d], node))
			dump->manifest->databases[d].complete_pending++;
}

/* ------------------------------------------------------------------ hard links */

/* The slot of INODE in the table, or the free one where it would go. */
static size_t link_find(const struct dump *dump, uint64_t inode)
{
	size_t mask = dump->link_size - 1, slot = (size_t)(inode * 0x9e3779b97f4a7c15ULL) & mask;

	while (dump->links[slot].used && dump->links[slot].inode != inode)
		slot = (slot + 1) & mask;
	return slot;
}

/* Kept at most half full. */
static int link_grow(struct dump *dump)
{
	struct link_slot *old = dump->links;
	size_t i, old_size = dump->link_size;

	if ((dump->link_used + 1) * 2 <= dump->link_size)
		return 0;
	dump->link_size = old_size ? old_size * 2 : 256;
	if (!(dump->links = calloc(dump->link_size, sizeof *dump->links))) {
		dump->links = old, dump->link_size = old_size;
		return -1;
	}
	for (i = 0; i < old_size; i++)
		if (old[i].used)
			dump->links[link_find(dump, old[i].inode)] = old[i];
	free(old);
	return 0;
}

/* The slot of INODE; with ADD, made when missing (NULL without memory). */
static struct link_slot *link_slot(struct dump *dump, uint64_t inode, int add)
{
	struct link_slot *slot;

	if (add && link_grow(dump) != 0)
		return NULL;
	if (!dump->link_size)
		return NULL;
	slot = &dump->links[link_find(dump, inode)];
	if (slot->used || !add)
		return slot->used ? slot : NULL;
	slot->used = 1;
	slot->inode = inode;
	dump->link_used++;
	return slot;
}

/* ENTRY holds the data of its inode: later names of it become hard links to it. */
static int link_record(struct dump *dump, uint64_t inode, const struct manifest_entry *entry)
{
	struct link_slot *slot = link_slot(dump, inode, 1);

	if (!slot || (!slot->path && !(slot->path = strdup(entry->path))))
		return fail(dump, "out of memory for the %s", "hard links");
	slot->status = (unsigned char)entry->status;
	memcpy(slot->sha256, entry->sha256, sizeof slot->sha256);
	return 0;
}

static void links_free(struct dump *dump)
{
	size_t i;

	for (i = 0; i < dump->link_size; i++)
		free(dump->links[i].path);
	free(dump->links);
}

/* ------------------------------------------------------------------ volumes */

static ssize_t archive_output(struct archive *archive, void *context, const void *data,
    size_t size)
{
	struct dump *dump = context;

	(void)archive;
	if (dump->sink->write(dump->sink->context, data, size, dump->position) != 0) {
		dump->sink_failed = 1;
		return -1;
	}
	dump->position += size;
	dump->progress.sent += size;
	return (ssize_t)size;
}

static const char *volume_suffix(enum dump_compress compress)
{
	return compress == DUMP_ZSTD ? ".tar.zst" : compress == DUMP_GZIP ? ".tar.gz" : ".tar";
}

static unsigned last_volume(const struct manifest *manifest)
{
	unsigned last = 0;
	size_t i;

	for (i = 0; i < manifest->volume_count; i++)
		if (manifest->volumes[i].number > last)
			last = manifest->volumes[i].number;
	return last;
}

static int archive_setup(struct dump *dump)
{
	struct archive *archive = archive_write_new();
	int rc;

	if (!archive)
		return fail(dump, "out of memory for the %s", "archive");
	dump->archive = archive;
	/* Restricted pax (bsdtar's default): a plain ustar header, mtime in seconds as GNU
	 * tar's default format keeps it, unless the entry needs more (a long or non-ASCII
	 * name, large ids or size, xattrs, holes), and then mtime to the ns as well. Full pax
	 * gives every entry a second header with mtime, atime and ctime to the ns, 1 KiB more
	 * per file: for small files half again the bytes to send. The manifest keeps mtime
	 * to the ns either way. */
	rc = dump->options->exact_times ? archive_write_set_format_pax(archive)
	    : archive_write_set_format_pax_restricted(archive);
	if (rc == ARCHIVE_OK && dump->options->compress == DUMP_ZSTD)
		rc = archive_write_add_filter_zstd(archive);
	else if (rc == ARCHIVE_OK && dump->options->compress == DUMP_GZIP)
		rc = archive_write_add_filter_gzip(archive);
	/* Blocks of 128 KiB reach the target (libarchive's 10 KiB made one SFTP request
	 * each); the stream ends where the archive does: no padding of the last block. */
	if (rc == ARCHIVE_OK)
		rc = archive_write_set_bytes_per_block(archive, OUTPUT_BLOCK);
	if (rc == ARCHIVE_OK)
		rc = archive_write_set_bytes_in_last_block(archive, 1);
	if (rc == ARCHIVE_OK)
		rc = archive_write_open2(archive, dump, NULL, archive_output, NULL, NULL);
	if (rc != ARCHIVE_OK)
		return fail(dump, "unable to start the archive: %s", archive_error_string(archive));
	return 0;
}

static int append(struct dump *dump);

/* The next free number; the checkpoint names the volume (not complete) before any byte of
 * it is sent, so a later run never takes its number again and says its .part is not
 * needed. */
static int volume_begin(struct dump *dump)
{
	char file[300];
	uint64_t size;
	unsigned number = last_volume(dump->manifest);

	do {
		number++;
		snprintf(file, sizeof file, "%s.%03u%s", dump->options->name, number,
		    volume_suffix(dump->options->compress));
		if (dump->sink->begin_volume(dump->sink->context, file, &size) != 0)
			return -1;
	} while (size > 0);
	if (!manifest_add_volume(dump->manifest, number, file))
		return fail(dump, "out of memory for the %s", "manifest");
	if (append(dump) != 0)
		return -1;
	dump->volume = number;
	dump->position = 0;
	dump->volume_input = 0;
	dump->progress.volume = number;
	return archive_setup(dump);
}

/* Closed, on the target, then its entries appended to the manifest's logs. */
static int volume_end(struct dump *dump)
{
	struct manifest_volume *volume;
	int rc = archive_write_close(dump->archive);

	if (rc != ARCHIVE_OK)
		fail(dump, "unable to finish the archive: %s", archive_error_string(dump->archive));
	archive_write_free(dump->archive);
	dump->archive = NULL;
	if (rc != ARCHIVE_OK || dump->sink->end_volume(dump->sink->context, dump->position) != 0)
		return -1;
	volume = manifest_volume(dump->manifest, dump->volume);
	volume->complete = 1;
	volume->bytes = dump->position;
	dump->volume = 0;
	return append(dump);
}

/* ------------------------------------------------------------------ one node */

static const char *type_name(mode_t mode)
{
	switch (mode & S_IFMT) {
	case S_IFREG: return "file";
	case S_IFDIR: return "dir";
	case S_IFLNK: return "link";
	case S_IFCHR: return "char";
	case S_IFBLK: return "block";
	case S_IFIFO: return "fifo";
	case S_IFSOCK: return "socket";
	}
	return "unknown";
}

/* ------------------------------------------------------------------ entries */

static struct manifest_entry *entry_for(struct dump *dump, const struct dump_node *node)
{
	struct manifest_entry *entry = &dump->entry;

	manifest_entry_free(entry);
	if (!(entry->path = strdup(path_or_dot(node->path)))) {
		fail(dump, "out of memory for the %s", "manifest");
		return NULL;
	}
	snprintf(entry->type, sizeof entry->type, "%s", type_name(node->st.st_mode));
	entry->size = S_ISREG(node->st.st_mode) ? (uint64_t)node->st.st_size : 0;
	entry->mtime = node->st.st_mtim.tv_sec;
	entry->mtime_nsec = node->st.st_mtim.tv_nsec;
	entry->inode = node->st.st_ino;
	return entry;
}

static int record(struct dump *dump, const struct dump_node *node,
    enum manifest_status status, const char *reason)
{
	struct manifest_entry *entry = entry_for(dump, node);

	if (!entry)
		return -1;
	entry->status = status;
	if (reason && manifest_set_reason(entry, reason) != 0)
		return fail(dump, "out of memory for the %s", "manifest");
	return 0;
}

/* The entry made for the node just handled goes into the pending text. */
static int commit(struct dump *dump)
{
	int rc = 0;

	if (!dump->entry.path)
		return 0;
	if (manifest_commit(dump->manifest, &dump->entry) != 0)
		rc = fail(dump, "out of memory for the %s", "manifest");
	manifest_entry_free(&dump->entry);
	return rc;
}

/* The pending text to the logs (no volume is open, or the logs are elsewhere). */
static int append(struct dump *dump)
{
	if (dump->sink->append(dump->sink->context, dump->manifest) != 0)
		return -1;
	manifest_clear_pending(dump->manifest);
	return 0;
}

/* FILE: the node open already (a regular file), or NULL. */
static void add_xattrs(struct dump *dump, const struct dump_node *node,
    struct fstree_file *file, struct archive_entry *header, struct manifest_entry *entry)
{
	const struct fstree_ops *ops = dump->tree->ops;
	struct fstree_xattr *list;
	size_t count, i;
	char reason[160];
	int rc;

	rc = file && ops->file_xattrs ? ops->file_xattrs(file, &list, &count)
	    : ops->xattrs(dump->tree, node->path, node->st.st_ino, &list, &count);
	if (rc != 0) {
		snprintf(reason, sizeof reason, "extended attributes unreadable: %s",
		    err_text(errno));
		entry->status = MANIFEST_PARTIAL;
		manifest_set_reason(entry, reason);
		return;
	}
	for (i = 0; i < count; i++)
		archive_entry_xattr_add_entry(header, list[i].name, list[i].value, list[i].size);
	fstree_xattrs_free(list, count);
}

static struct archive_entry *header_for(const struct dump_node *node)
{
	struct archive_entry *header = archive_entry_new();

	if (!header)
		return NULL;
	archive_entry_copy_pathname(header, node->path[0] ? node->path : ".");
	archive_entry_set_mode(header, node->st.st_mode);
	archive_entry_set_uid(header, node->st.st_uid);
	archive_entry_set_gid(header, node->st.st_gid);
	archive_entry_set_mtime(header, node->st.st_mtim.tv_sec, node->st.st_mtim.tv_nsec);
	archive_entry_set_atime(header, node->st.st_atim.tv_sec, node->st.st_atim.tv_nsec);
	archive_entry_set_ctime(header, node->st.st_ctim.tv_sec, node->st.st_ctim.tv_nsec);
	if (S_ISCHR(node->st.st_mode) || S_ISBLK(node->st.st_mode))
		archive_entry_set_rdev(header, node->st.st_rdev);
	if (S_ISLNK(node->st.st_mode))
		archive_entry_copy_symlink(header, node->link ? node->link : "");
	if (S_ISREG(node->st.st_mode))
		archive_entry_set_size(header, node->st.st_size);
	else
		archive_entry_set_size(header, 0);
	return header;
}

/* 0 written, 1 this entry refused (the archive goes on; ENTRY says why), -1 the archive
 * failed. */
static int write_header(struct dump *dump, struct archive_entry *header,
    struct manifest_entry *entry)
{
	char reason[300];
	int rc = archive_write_header(dump->archive, header);

	/* A name that is not UTF-8 warns: the entry is written with hdrcharset=BINARY, the
	 * name's bytes as they are, which tar extracts as they were. */
	if (rc == ARCHIVE_OK || rc == ARCHIVE_WARN)
		return 0;
	if (rc == ARCHIVE_FAILED && entry) {
		snprintf(reason, sizeof reason, "not archivable: %s",
		    archive_error_string(dump->archive));
		entry->status = MANIFEST_FAILED;
		entry->volume = 0;
		entry->sha256[0] = '\0';
		manifest_set_reason(entry, reason);
		return 1;
	}
	return fail(dump, "unable to write to the archive: %s",
	    archive_error_string(dump->archive));
}

static int write_data(struct dump *dump, const void *data, size_t size, struct sha256 *hash)
{
	sha256_update(hash, data, size);
	dump->volume_input += size;
	if (archive_write_data(dump->archive, data, size) == (la_ssize_t)size)
		return 0;
	return fail(dump, "unable to write to the archive: %s",
	    archive_error_string(dump->archive));
}

/* Reads [OFFSET, OFFSET + SIZE) into the buffer; what cannot be read, block by block,
 * becomes zeros and a missing range. */
static void read_chunk(struct dump *dump, struct fstree_file *file, uint64_t offset,
    size_t size, struct manifest_entry *entry, char *reason, size_t reason_size)
{
	size_t block = dump->tree->block_size ? dump->tree->block_size : 4096, done, piece;
	ssize_t got = dump->tree->ops->pread(file, dump->buffer, size, offset);

	if (got == (ssize_t)size)
		return;
	for (done = 0; done < size; done += piece) {
		piece = block - (offset + done) % block;
		if (piece > size - done)
			piece = size - done;
		got = dump->tree->ops->pread(file, dump->buffer + done, piece, offset + done);
		if (got == (ssize_t)piece)
			continue;
		if (!reason[0])
			snprintf(reason, reason_size, got < 0 ? "unreadable at byte %llu: %s"
			    : "ends at byte %llu, before its size%s", (unsigned long long)(offset
			    + done + (got > 0 ? (size_t)got : 0)), got < 0 ? err_text(errno) : "");
		if (got < 0)
			got = 0;
		memset(dump->buffer + done + got, 0, piece - (size_t)got);
		manifest_add_range(entry, offset + done + (uint64_t)got, offset + done + piece);
		dump->progress.missing_bytes += piece - (size_t)got;
	}
}

struct region {
	uint64_t start, end;
};

/* The file's data regions (all of it, when it has no holes). A file with as many blocks as
 * bytes has no holes to look for: most files, asked for none (two lseeks each, which count
 * on a tree of small files). */
static int data_regions(struct dump *dump, const struct dump_node *node,
    struct fstree_file *file, struct region **regions, size_t *count)
{
	uint64_t size = (uint64_t)node->st.st_size, offset = 0, start, end;
	struct region *bigger;
	int rc;

	*regions = NULL, *count = 0;
	if (size > 0 && (uint64_t)node->st.st_blocks * 512 >= size) {
		if (!(*regions = malloc(sizeof **regions)))
			return -1;
		(*regions)[0] = (struct region){ 0, size };
		*count = 1;
		return 0;
	}
	while (offset < size) {
		rc = dump->tree->ops->data(file, offset, &start, &end);
		if (rc == 1)
			break;
		if (rc < 0)
			start = offset, end = size;	/* unknown: read it all */
		if (end > size)
			end = size;
		if (!(bigger = realloc(*regions, (*count + 1) * sizeof *bigger)))
			return -1;
		*regions = bigger;
		bigger[(*count)++] = (struct region){ start, end };
		if (end <= offset)
			break;
		offset = end;
	}
	return 0;
}

/* No file holds more data than its file system: when the regions add up to more, the
 * file's record is damaged (a directory entry with a wild size), and reading on would
 * only fail, block by block, for as long as the wild size says. The regions are cut
 * where the data reaches the capacity; the new end of the file is returned, and REASON
 * says why, for the missing range from there to the size claimed. */
static uint64_t regions_cap(const struct dump *dump, struct region *regions, size_t *count,
    uint64_t size, char *reason, size_t reason_size)
{
	uint64_t capacity = dump->tree->capacity, data = 0;
	size_t i;

	for (i = 0; capacity && i < *count; i++) {
		if (regions[i].end - regions[i].start <= capacity - data) {
			data += regions[i].end - regions[i].start;
			continue;
		}
		regions[i].end = regions[i].start + (capacity - data);
		*count = regions[i].end > regions[i].start ? i + 1 : i;
		snprintf(reason, reason_size, "its size, %llu bytes, is more than its whole file "
		    "system holds (%llu bytes): its record is damaged; archived up to byte %llu",
		    (unsigned long long)size, (unsigned long long)capacity,
		    (unsigned long long)regions[i].end);
		return regions[i].end;
	}
	return size;
}

static void sparse_map(struct archive_entry *header, const struct region *regions,
    size_t count, uint64_t size)
{
	size_t i;

	if (count == 1 && regions[0].start == 0 && regions[0].end == size)
		return;
	for (i = 0; i < count; i++)
		archive_entry_sparse_add_entry(header, (la_int64_t)regions[i].start,
		    (la_int64_t)(regions[i].end - regions[i].start));
	/* A file that ends in a hole needs a last entry of length 0 at its end. */
	if (!count || regions[count - 1].end < size)
		archive_entry_sparse_add_entry(header, (la_int64_t)size, 0);
}

static int write_zeros(struct dump *dump, uint64_t length, struct sha256 *hash)
{
	size_t piece;

	for (; length; length -= piece) {
		piece = length < CHUNK ? (size_t)length : CHUNK;
		if (write_data(dump, dump->zeros, piece, hash) != 0)
			return -1;
		dump->progress.bytes_done += piece;
	}
	return 0;
}

static int copy_region(struct dump *dump, struct fstree_file *file,
    const struct region *region, struct manifest_entry *entry, struct sha256 *hash,
    char *reason, size_t reason_size)
{
	uint64_t offset;
	size_t piece;

	for (offset = region->start; offset < region->end; offset += piece) {
		if (dump->sink->stop_requested(dump->sink->context))
			return fail(dump, "stopped by a %s", "signal");
		piece = region->end - offset < CHUNK ? (size_t)(region->end - offset) : CHUNK;
		read_chunk(dump, file, offset, piece, entry, reason, reason_size);
		if (write_data(dump, dump->buffer, piece, hash) != 0)
			return -1;
		dump->progress.bytes_done += piece;
		dump->sink->progress(dump->sink->context, &dump->progress);
	}
	return 0;
}

static int copy_content(struct dump *dump, struct fstree_file *file,
    const struct region *regions, size_t count, uint64_t size,
    struct manifest_entry *entry, struct sha256 *hash)
{
	char reason[256] = "";
	uint64_t at = 0;
	size_t i;

	for (i = 0; i < count; i++) {
		if (write_zeros(dump, regions[i].start - at, hash) != 0
		    || copy_region(dump, file, &regions[i], entry, hash, reason, sizeof reason)
		    != 0)
			return -1;
		at = regions[i].end;
	}
	if (write_zeros(dump, size - at, hash) != 0)
		return -1;
	if (entry->missing_count) {
		entry->status = MANIFEST_PARTIAL;
		manifest_set_reason(entry, reason);
	}
	return 0;
}

static void finish_hash(struct sha256 *hash, struct manifest_entry *entry)
{
	unsigned char digest[32];

	sha256_final(hash, digest);
	sha256_hex(digest, entry->sha256);
}

/* A second name of an inode already archived: a hard link, no data. */
static int archive_link(struct dump *dump, const struct dump_node *node,
    struct archive_entry *header, const struct link_slot *first)
{
	struct manifest_entry *entry;
	int rc;

	archive_entry_copy_hardlink(header, first->path);
	archive_entry_set_size(header, 0);
	if (!(entry = entry_for(dump, node)))
		return -1;
	entry->volume = dump->volume;
	if ((rc = write_header(dump, header, entry)) != 0)
		return rc;
	entry->status = first->status == MANIFEST_COPIED ? MANIFEST_COPIED : MANIFEST_PARTIAL;
	memcpy(entry->sha256, first->sha256, sizeof entry->sha256);
	if (!(entry->link_to = strdup(first->path)))
		return fail(dump, "out of memory for the %s", "manifest");
	if (entry->status != MANIFEST_COPIED)
		manifest_set_reason(entry, "a hard link to a file not copied whole");
	dump->progress.bytes_done += (uint64_t)node->st.st_size;	/* counted in the total */
	return 0;
}

static int archive_file(struct dump *dump, const struct dump_node *node,
    struct archive_entry *header)
{
	uint64_t size = (uint64_t)node->st.st_size;
	struct manifest_entry *entry = NULL;
	struct region *regions = NULL;
	struct fstree_file *file;
	struct sha256 hash;
	size_t count = 0;
	char reason[256], cut[256] = "";
	int rc = -1;

	if (!(file = dump->tree->ops->open(dump->tree, node->path, node->st.st_ino))) {
		snprintf(reason, sizeof reason, "unable to open: %s", err_text(errno));
		dump->progress.bytes_done += size;
		return record(dump, node, MANIFEST_FAILED, reason);
	}
	if (data_regions(dump, node, file, &regions, &count) != 0) {
		fail(dump, "out of memory for the %s", "map of a sparse file");
		goto out;
	}
	size = regions_cap(dump, regions, &count, size, cut, sizeof cut);
	archive_entry_set_size(header, (la_int64_t)size);
	sparse_map(header, regions, count, size);
	if (!(entry = entry_for(dump, node)))
		goto out;
	entry->volume = dump->volume;
	add_xattrs(dump, node, file, header, entry);
	if ((rc = write_header(dump, header, entry)) != 0) {
		rc = rc > 0 ? 1 : -1;
		goto out;
	}
	rc = -1;
	sha256_init(&hash);
	if (copy_content(dump, file, regions, count, size, entry, &hash) != 0)
		goto out;
	if (cut[0]) {
		manifest_add_range(entry, size, (uint64_t)node->st.st_size);
		entry->status = MANIFEST_PARTIAL;
		manifest_set_reason(entry, cut);
		dump->progress.missing_bytes += (uint64_t)node->st.st_size - size;
		dump->progress.bytes_done += (uint64_t)node->st.st_size - size;
	}
	finish_hash(&hash, entry);
	if (node->st.st_nlink > 1 && link_record(dump, node->st.st_ino, entry) != 0)
		goto out;
	rc = 0;
out:
	free(regions);
	dump->tree->ops->close(file);
	return rc;
}

static int archive_other(struct dump *dump, const struct dump_node *node,
    struct archive_entry *header)
{
	struct manifest_entry *entry = entry_for(dump, node);

	if (!entry)
		return -1;
	entry->volume = dump->volume;
	if (node->problem) {
		entry->status = MANIFEST_PARTIAL;
		manifest_set_reason(entry, node->problem);
	}
	add_xattrs(dump, node, NULL, header, entry);
	return write_header(dump, header, entry);
}

/* A header for the directory of FRAME (restated, not in the manifest). */
static int restate(struct dump *dump, struct frame *frame)
{
	struct ancestry *ancestry = &dump->ancestry;
	struct dump_node above = { .path = ancestry->path, .st = frame->st };
	struct archive_entry *header;
	char saved = ancestry->path[frame->length];
	int rc;

	ancestry->path[frame->length] = '\0';
	header = header_for(&above);
	ancestry->path[frame->length] = saved;
	if (!header)
		return fail(dump, "out of memory for the %s", "archive");
	if ((rc = write_header(dump, header, NULL)) == 0
	    && archive_write_finish_entry(dump->archive) != ARCHIVE_OK)
		rc = fail(dump, "unable to write to the archive: %s",
		    archive_error_string(dump->archive));
	archive_entry_free(header);
	frame->written_in = dump->volume;
	return rc;
}

/* GNU tar sets a directory's owner, mode and times once it has extracted the archive that
 * holds the directory's entry; extracting a later volume that puts files into it changes
 * its times again. So each volume first restates the directories above what it holds
 * (those handled already, in this pass or an earlier one: the others come later, in this
 * volume or a later one, and are set then). Not in the manifest: the directory's entry is
 * its first archiving. */
static int restate_ancestors(struct dump *dump)
{
	struct frame *frame;
	size_t i;

	for (i = 0; i < dump->ancestry.depth; i++) {
		frame = &dump->ancestry.frames[i];
		if (frame->usable && frame->priority <= dump->pass
		    && frame->written_in != dump->volume && restate(dump, frame) != 0)
			return -1;
	}
	return 0;
}

static int archive_node(struct dump *dump, const struct dump_node *node)
{
	struct archive_entry *header;
	struct link_slot *first;
	int rc;

	if (!dump->volume && volume_begin(dump) != 0)
		return -1;
	if (restate_ancestors(dump) != 0)
		return -1;
	dump->last_written = dump->volume;
	if (!(header = header_for(node)))
		return fail(dump, "out of memory for the %s", "archive");
	first = S_ISREG(node->st.st_mode) && node->st.st_nlink > 1
	    ? link_slot(dump, node->st.st_ino, 0) : NULL;
	if (first && first->path)
		rc = archive_link(dump, node, header, first);
	else if (S_ISREG(node->st.st_mode))
		rc = archive_file(dump, node, header);
	else
		rc = archive_other(dump, node, header);
	archive_entry_free(header);
	if (rc > 0)
		return 0;	/* refused: recorded, nothing to finish */
	if (rc == 0 && archive_write_finish_entry(dump->archive) != ARCHIVE_OK)
		rc = fail(dump, "unable to write to the archive: %s",
		    archive_error_string(dump->archive));
	return rc;
}

/* ------------------------------------------------------------------ resuming */

static uint32_t node_fingerprint(const struct dump_node *node)
{
	return manifest_fingerprint(type_name(node->st.st_mode), S_ISREG(node->st.st_mode)
	    ? (uint64_t)node->st.st_size : 0, node->st.st_mtim.tv_sec, node->st.st_mtim.tv_nsec);
}

/* What an earlier run put on the target whole, unchanged since: not sent again. */
static int already_there(struct dump *dump, const struct dump_node *node)
{
	const struct manifest_known *known = manifest_known_find(dump->manifest,
	    path_or_dot(node->path));

	return known && (known->volume_flags & MANIFEST_KNOWN_KEEP)
	    && known->fingerprint == node_fingerprint(node);
}

/* The counting walk marks what the earlier runs recorded of NODE: SEEN (this run decides
 * anew) and, when it is copied whole and unchanged, KEEP (not sent, its entry carried). */
static void mark_known(struct dump *dump, const struct dump_node *node)
{
	struct manifest_known *known = manifest_known_find(dump->manifest,
	    path_or_dot(node->path));

	if (!known)
		return;
	known->volume_flags |= MANIFEST_KNOWN_SEEN;
	if (!node->skip && !node->failed && (known->volume_flags & MANIFEST_KNOWN_COPIED)
	    && known->volume_flags >> 8 && known->fingerprint == node_fingerprint(node))
		known->volume_flags |= MANIFEST_KNOWN_KEEP;
}

static int read_line_failed(struct dump *dump)
{
	snprintf(dump->failure, dump->failure_size, "the earlier manifest on the target has a "
	    "line that cannot be read: it was left as it is (use --name for a new dump)");
	return -1;
}

/* The first reading: the volumes, and every settled entry in 16 bytes. */
static int know_line(void *context, const char *text, size_t length)
{
	struct dump *dump = context;
	struct manifest_volume volume, *known;
	struct manifest_entry entry;
	int rc = manifest_read_line(text, length, &entry, &volume);

	if (rc < 0)
		return read_line_failed(dump);
	dump->manifest->resumed = 1;
	if (rc == 2) {
		if (!(known = manifest_volume(dump->manifest, volume.number))
		    && !(known = manifest_add_volume(dump->manifest, volume.number, volume.file)))
			return fail(dump, "out of memory for the %s", "earlier manifest");
		*known = volume;
	} else if (rc == 1) {
		rc = manifest_know(dump->manifest, &entry);
		manifest_entry_free(&entry);
		if (rc != 0)
			return fail(dump, "out of memory for the %s", "earlier manifest");
	}
	return 0;
}

static int entry_settled(struct manifest *manifest, const struct manifest_entry *entry)
{
	const struct manifest_volume *volume = manifest_volume(manifest, entry->volume);

	return entry->volume == 0 || (volume && volume->complete);
}

/* The second reading, after the counting walk: the entries this run does not replace go
 * into the new manifest as they are (and those with data are what later names of their
 * inode link to). */
static int carry_line(void *context, const char *text, size_t length)
{
	struct dump *dump = context;
	struct manifest_volume volume;
	struct manifest_entry entry;
	const struct manifest_known *known;
	struct link_slot *slot;
	int rc = manifest_read_line(text, length, &entry, &volume);

	if (rc < 0)
		return read_line_failed(dump);
	if (rc != 1)
		return 0;
	known = manifest_known_find(dump->manifest, entry.path);
	rc = 0;
	if (entry_settled(dump->manifest, &entry) && (!known
	    || !(known->volume_flags & MANIFEST_KNOWN_SEEN)
	    || (known->volume_flags & MANIFEST_KNOWN_KEEP))) {
		if (!strcmp(entry.type, "file") && !entry.link_to && entry.volume
		    && entry.status != MANIFEST_FAILED
		    && (slot = link_slot(dump, entry.inode, 0)) && !slot->path)
			rc = link_record(dump, entry.inode, &entry);
		if (rc == 0 && manifest_commit(dump->manifest, &entry) != 0)
			rc = fail(dump, "out of memory for the %s", "manifest");
	}
	manifest_entry_free(&entry);
	if (rc == 0 && manifest_pending(dump->manifest) >= pending_max(dump))
		rc = append(dump);
	return rc;
}

/* ------------------------------------------------------------------ the walks */

static void node_from(struct dump_node *node, const struct fstree_node *walked)
{
	memset(node, 0, sizeof *node);
	node->path = walked->path;
	node->st = walked->st;
	node->link = walked->link;
	node->problem = walked->problem;
	node->failed = walked->failed;
	node->priority = PRIORITY_REST;
}

/* The first walk: the work to do, the databases, what --include needs, what the earlier
 * runs' entries become. */
static int count_visit(void *context, const struct fstree_node *walked)
{
	struct dump *dump = context;
	struct dump_node node;
	struct frame *frame;

	node_from(&node, walked);
	ancestry_reach(&dump->ancestry, node.path);
	choose(dump, &node);
	if (!node.skip && need_ancestors(dump) != 0)
		return -1;
	if (!node.skip && !node.failed) {
		dump->progress.files_total++;
		if (S_ISREG(node.st.st_mode))
			dump->progress.bytes_total += (uint64_t)node.st.st_size;
	}
	if (!node.skip && !node.failed && S_ISREG(node.st.st_mode) && node.st.st_nlink > 1
	    && !link_slot(dump, node.st.st_ino, 1))
		return fail(dump, "out of memory for the %s", "hard links");
	mark_known(dump, &node);
	if (note_database(dump, &node) != 0)
		return fail(dump, "out of memory for the %s", "databases");
	if (S_ISDIR(node.st.st_mode)) {
		if (!(frame = ancestry_push(&dump->ancestry, &node)))
			return fail(dump, "out of memory for the %s", "walk");
		frame->not_included = node.skip == not_included;
	}
	return 0;
}

/* When the pending text is full: the volume closes (its entries are then settled), or,
 * with no volume open or the logs elsewhere, the text goes to the logs at once. */
static int after_node(struct dump *dump)
{
	if (dump->volume && dump->options->volume_size
	    && dump->volume_input >= dump->options->volume_size)
		return volume_end(dump);
	if (manifest_pending(dump->manifest) < pending_max(dump))
		return 0;
	if (dump->volume && !dump->options->manifest_apart)
		return volume_end(dump);
	return append(dump);
}

static int dump_one(struct dump *dump, struct dump_node *node)
{
	char reason[320];
	int rc;

	dump->progress.path = node->path;
	if (node->skip && !node->skip_pattern)
		rc = record(dump, node, MANIFEST_SKIPPED, node->skip);
	else if (node->skip) {
		snprintf(reason, sizeof reason, "%s %s", node->skip, node->skip_pattern);
		rc = record(dump, node, MANIFEST_SKIPPED, reason);
	} else if (node->failed) {	/* not in files_total either */
		rc = record(dump, node, MANIFEST_FAILED, node->problem);
	} else {
		dump->progress.files_done++;
		if (already_there(dump, node)) {
			if (S_ISREG(node->st.st_mode))
				dump->progress.bytes_done += (uint64_t)node->st.st_size;
			count_database_copy(dump, node);
			return 0;
		}
		rc = archive_node(dump, node);
		if (rc == 0 && dump->entry.status == MANIFEST_COPIED)
			count_database_copy(dump, node);
	}
	if (rc == 0)
		rc = commit(dump);
	return rc == 0 ? after_node(dump) : rc;
}

/* A walk for one priority: the nodes of the others are passed by. */
static int archive_visit(void *context, const struct fstree_node *walked)
{
	struct dump *dump = context;
	struct dump_node node;
	struct frame *frame;
	int rc = 0;

	node_from(&node, walked);
	ancestry_reach(&dump->ancestry, node.path);
	choose(dump, &node);
	node.priority = priority_of(dump, node.path);
	if (dump->pass == PRIORITY_DATABASE)
		count_database_files(dump, &node);
	dump->last_written = 0;
	if (node.priority == dump->pass)
		rc = dump_one(dump, &node);
	if (rc != 0)
		return rc;
	if (S_ISDIR(node.st.st_mode)) {
		if (!(frame = ancestry_push(&dump->ancestry, &node)))
			return fail(dump, "out of memory for the %s", "walk");
		frame->written_in = dump->last_written;
	}
	return 0;
}

static int walk(struct dump *dump, fstree_visit_fn *visit)
{
	dump->ancestry.depth = 0;
	if (dump->tree->ops->walk(dump->tree, visit, dump) == 0)
		return 0;
	if (!dump->failure[0])
		fail(dump, "unable to walk the tree: %s", dump->tree->error);
	return -1;
}

static int read_earlier(struct dump *dump, int (*line)(void *, const char *, size_t))
{
	if (dump->sink->read_earlier(dump->sink->context, line, dump) == 0)
		return 0;
	if (!dump->failure[0])
		fail(dump, "unable to read the earlier %s", "manifest");
	return -1;
}

/* Before anything is archived: what is on the target, what the tree holds, and the
 * entries kept from the earlier runs written into the new manifest. */
static int prepare(struct dump *dump)
{
	dump->pass = -1;
	if (read_earlier(dump, know_line) != 0)
		return -1;
	manifest_known_ready(dump->manifest);
	if (walk(dump, count_visit) != 0)
		return -1;
	array_sort(dump->needed, dump->needed_count, sizeof *dump->needed, by_hash);
	if (confirm_databases(dump) != 0)
		return fail(dump, "out of memory for the %s", "databases");
	if (read_earlier(dump, carry_line) != 0)
		return -1;
	return append(dump);
}

static int archive_passes(struct dump *dump)
{
	int pass;

	for (pass = PRIORITY_FIRST; pass < PRIORITIES; pass++) {
		if (pass == PRIORITY_FIRST && !(dump->options->first && dump->options->first[0]))
			continue;
		if (pass == PRIORITY_DATABASE && !dump->manifest->database_count)
			continue;
		dump->pass = pass;
		if (walk(dump, archive_visit) != 0)
			return -1;
		if (pass == PRIORITY_DATABASE)
			dump->databases_counted = 1;
	}
	return 0;
}

static void dump_free(struct dump *dump)
{
	if (dump->archive) {
		archive_write_fail(dump->archive);
		archive_write_free(dump->archive);
	}
	manifest_entry_free(&dump->entry);
	ancestry_free(&dump->ancestry);
	links_free(dump);
	free(dump->needed);
	candidates_free(&dump->pg_versions);
	candidates_free(&dump->pg_controls);
	candidates_free(&dump->mysql_dirs);
	candidates_free(&dump->mysql_infos);
	candidates_free(&dump->sqlite);
	free(dump->buffer);
	free((void *)dump->zeros);
}

int dump_run(struct fstree *tree, const struct dump_options *options,
    const struct dump_sink *sink, struct manifest *manifest, char *failure,
    size_t failure_size)
{
	struct dump dump = { .tree = tree, .options = options, .sink = sink,
	    .manifest = manifest, .failure = failure, .failure_size = failure_size };
	int rc = -1;

	failure[0] = '\0';
	snprintf(manifest->source, sizeof manifest->source, "%s", tree->description);
	snprintf(manifest->compress, sizeof manifest->compress, "%s",
	    options->compress == DUMP_ZSTD ? "zstd" : options->compress == DUMP_GZIP ? "gzip"
	    : "none");
	dump.buffer = malloc(CHUNK);
	dump.zeros = calloc(1, CHUNK);
	if (!dump.buffer || !dump.zeros) {
		fail(&dump, "out of memory for the %s", "read buffer");
		goto out;
	}
	if (prepare(&dump) != 0 || archive_passes(&dump) != 0)
		goto out;
	if (dump.volume && volume_end(&dump) != 0)
		goto out;
	if (manifest_finish(manifest) != 0) {
		fail(&dump, "out of memory for the %s", "manifest");
		goto out;
	}
	if (sink->finish(sink->context, manifest) != 0)
		goto out;
	manifest_clear_pending(manifest);
	dump.progress.path = NULL;
	dump.progress.force = 1;
	sink->progress(sink->context, &dump.progress);
	rc = 0;
out:
	manifest->databases_counted = dump.databases_counted || !manifest->database_count;
	dump_free(&dump);
	return rc;
}
