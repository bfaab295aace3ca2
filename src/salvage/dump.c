/* dump.c: the dump engine (dump.h): walk, order, read, hash, archive, record. */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/sha256.h"
#include "salvage/dump.h"

enum { CHUNK = 1 << 20, OUTPUT_BLOCK = 128 << 10 };

/* Priorities: --first, then databases, then the rest, each in walk order. */
enum { PRIORITY_FIRST, PRIORITY_DATABASE, PRIORITY_REST };

struct dump_node {
	char *path;
	struct stat st;
	char *link;
	char *problem;
	int failed;
	unsigned char priority;
	const char *skip;		/* why it is not archived, or NULL */
	const char *skip_pattern;
	int handled;			/* archived by this run, or on the target before */
	unsigned written_in;		/* the volume its header last went into, 0: none */
};

/* Hard links: the inode's first archived path. */
struct inode_slot {
	uint64_t inode;
	size_t entry;			/* manifest entry + 1; 0: free */
};

struct dump {
	struct fstree *tree;
	const struct dump_options *options;
	const struct dump_sink *sink;
	struct manifest *manifest;
	struct dump_node *nodes;
	size_t count, capacity;
	size_t *order;
	struct dump_node **sorted;	/* by path: selection, databases, restated directories */
	struct inode_slot *inodes;
	size_t inode_size, inode_used;
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

/* ------------------------------------------------------------------ the walk */

static char *copy_or_null(const char *text, int *failed)
{
	char *copy;

	if (!text)
		return NULL;
	if (!(copy = strdup(text)))
		*failed = 1;
	return copy;
}

static int collect(void *context, const struct fstree_node *node)
{
	struct dump *dump = context;
	struct dump_node *copy;
	int failed = 0;

	if (dump->count == dump->capacity) {
		size_t capacity = dump->capacity ? dump->capacity * 2 : 1024;
		struct dump_node *bigger = realloc(dump->nodes, capacity * sizeof *bigger);

		if (!bigger)
			return fail(dump, "out of memory for the %s walk", "tree's");
		dump->nodes = bigger;
		dump->capacity = capacity;
	}
	copy = &dump->nodes[dump->count];
	memset(copy, 0, sizeof *copy);
	copy->path = copy_or_null(node->path, &failed);
	copy->link = copy_or_null(node->link, &failed);
	copy->problem = copy_or_null(node->problem, &failed);
	copy->st = node->st;
	copy->failed = node->failed;
	copy->priority = PRIORITY_REST;
	dump->count++;
	if (failed)
		return fail(dump, "out of memory for the %s walk", "tree's");
	return 0;
}

/* ------------------------------------------------------------------ selection */

static int by_path(const void *a, const void *b)
{
	return strcmp((*(struct dump_node *const *)a)->path, (*(struct dump_node *const *)b)->path);
}

/* The node at PATH, through the sorted index built for the databases and --include. */
static struct dump_node *node_at(struct dump *dump, const char *path)
{
	struct dump_node key = { .path = (char *)path }, *wanted = &key, **found;

	found = bsearch(&wanted, dump->sorted, dump->count, sizeof *dump->sorted, by_path);
	return found ? *found : NULL;
}

static const char not_included[] = "not matched by --include";

/* Directories above a selected node are archived too, so its owner and mode arrive. */
static void select_ancestors(struct dump *dump, const char *path)
{
	char *copy = strdup(path), *slash;
	struct dump_node *parent;

	while (copy && (slash = strrchr(copy, '/'))) {
		*slash = '\0';
		parent = node_at(dump, copy);
		if (!parent || parent->skip != not_included)
			break;
		parent->skip = NULL;
	}
	free(copy);
}

static void select_nodes(struct dump *dump)
{
	const struct dump_options *options = dump->options;
	struct dump_node *node;
	size_t i;

	for (i = 0; i < dump->count; i++) {
		node = &dump->nodes[i];
		if ((node->skip_pattern = first_match(options->exclude, node->path)))
			node->skip = "excluded by --exclude";
		else if (options->include && options->include[0] && node->path[0]
		    && !first_match(options->include, node->path))
			node->skip = not_included;
		else if (S_ISSOCK(node->st.st_mode))
			node->skip = "a socket: tar has no type for it, its program makes it anew";
	}
	if (!options->include || !options->include[0])
		return;
	for (i = 0; i < dump->count; i++)
		if (!dump->nodes[i].skip)
			select_ancestors(dump, dump->nodes[i].path);
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

static char *joined(const char *dir, const char *name)
{
	size_t length = strlen(dir) + strlen(name) + 2;
	char *path = malloc(length);

	if (path)
		snprintf(path, length, "%s%s%s", dir, dir[0] ? "/" : "", name);
	return path;
}

/* The first SIZE bytes of a regular file node; how many were read, or -1. */
static ssize_t read_head(struct dump *dump, const struct dump_node *node, void *buffer,
    size_t size)
{
	struct fstree_file *file = dump->tree->ops->open(dump->tree, node->path,
	    node->st.st_ino);
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

/* The small text file DIR/NAME (PG_VERSION, mysql_upgrade_info) into VERSION, or "". */
static void read_version(struct dump *dump, const char *dir, const char *name,
    char *version, size_t size)
{
	char *path = joined(dir, name);
	struct dump_node *node = path ? node_at(dump, path) : NULL;
	ssize_t got;

	version[0] = '\0';
	if (node && S_ISREG(node->st.st_mode)
	    && (got = read_head(dump, node, version, size - 1)) > 0) {
		version[got] = '\0';
		trim_line(version);
	}
	free(path);
}

/* A PostgreSQL data directory has PG_VERSION and global/pg_control (the PG_VERSION files
 * in each database's directory below base/ have no global/ beside them). */
static int detect_postgresql(struct dump *dump, const struct dump_node *node)
{
	char *dir = parent_of(node->path), *control = dir ? joined(dir, "global/pg_control")
	    : NULL, version[64];
	int rc = 0;

	if (control && node_at(dump, control)) {
		read_version(dump, dir, "PG_VERSION", version, sizeof version);
		rc = add_database(dump, "PostgreSQL", dir, version);
	}
	free(control);
	free(dir);
	return rc;
}

/* A MySQL or MariaDB data directory holds the InnoDB system tablespace, ibdata1;
 * mysql_upgrade_info, where present, names the server version that last upgraded it. */
static int detect_mysql(struct dump *dump, const struct dump_node *node)
{
	char *dir = parent_of(node->path), version[64];
	int rc = -1;

	if (dir) {
		read_version(dump, dir, "mysql_upgrade_info", version, sizeof version);
		rc = add_database(dump, "MySQL/MariaDB", dir, version);
	}
	free(dir);
	return rc;
}

/* An SQLite database: its 100-byte header starts "SQLite format 3\0" and ends with the
 * version of the library that last wrote it; its size is a whole number of pages. */
static int detect_sqlite(struct dump *dump, const struct dump_node *node)
{
	unsigned char header[100];
	unsigned long number;
	char version[32];

	if (node->st.st_size < 512 || node->st.st_size % 512
	    || read_head(dump, node, header, sizeof header) != (ssize_t)sizeof header
	    || memcmp(header, "SQLite format 3", 16) != 0)
		return 0;
	number = (unsigned long)header[96] << 24 | (unsigned long)header[97] << 16
	    | (unsigned long)header[98] << 8 | header[99];
	snprintf(version, sizeof version, "%lu.%lu.%lu", number / 1000000, number / 1000 % 1000,
	    number % 1000);
	return add_database(dump, "SQLite", node->path, version);
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

static int detect_databases(struct dump *dump)
{
	const struct dump_node *node;
	size_t i, d;
	int rc = 0;

	for (i = 0; i < dump->count && rc == 0; i++) {
		node = &dump->nodes[i];
		if (!S_ISREG(node->st.st_mode) || node->skip)
			continue;
		if (!strcmp(base_name(node->path), "PG_VERSION"))
			rc = detect_postgresql(dump, node);
		else if (!strcmp(base_name(node->path), "ibdata1"))
			rc = detect_mysql(dump, node);
	}
	for (i = 0; i < dump->count && rc == 0; i++) {
		node = &dump->nodes[i];
		for (d = 0; d < dump->manifest->database_count; d++)
			if (inside(node->path, dump->manifest->databases[d].path))
				break;
		if (d == dump->manifest->database_count && S_ISREG(node->st.st_mode)
		    && !node->skip)
			rc = detect_sqlite(dump, node);
	}
	return rc;
}

static void set_priorities(struct dump *dump)
{
	const struct manifest *manifest = dump->manifest;
	struct dump_node *node;
	size_t i, d;

	for (i = 0; i < dump->count; i++) {
		node = &dump->nodes[i];
		if (first_match(dump->options->first, node->path)) {
			node->priority = PRIORITY_FIRST;
			continue;
		}
		for (d = 0; d < manifest->database_count; d++)
			if (inside(node->path, manifest->databases[d].path)
			    || sqlite_companion(node->path, manifest->databases[d].path))
				node->priority = PRIORITY_DATABASE;
	}
}

/* A stable order: priority, then the walk's. */
static struct dump *sort_dump;

static int compare_nodes(const void *a, const void *b)
{
	size_t left = *(const size_t *)a, right = *(const size_t *)b;
	int difference = sort_dump->nodes[left].priority - sort_dump->nodes[right].priority;

	if (difference)
		return difference;
	return left < right ? -1 : left > right;
}

static int order_nodes(struct dump *dump)
{
	size_t i;

	if (!(dump->order = malloc((dump->count ? dump->count : 1) * sizeof *dump->order)))
		return fail(dump, "out of memory for the %s", "order of the files");
	for (i = 0; i < dump->count; i++)
		dump->order[i] = i;
	sort_dump = dump;
	qsort(dump->order, dump->count, sizeof *dump->order, compare_nodes);
	sort_dump = NULL;
	return 0;
}

/* ------------------------------------------------------------------ hard links */

static size_t inode_find(const struct dump *dump, uint64_t inode)
{
	size_t mask = dump->inode_size - 1, slot = (size_t)(inode * 0x9e3779b97f4a7c15ULL) & mask;

	while (dump->inodes[slot].entry && dump->inodes[slot].inode != inode)
		slot = (slot + 1) & mask;
	return slot;
}

static int inode_put(struct dump *dump, uint64_t inode, size_t entry)
{
	struct inode_slot *old = dump->inodes;
	size_t i, old_size = dump->inode_size;

	if ((dump->inode_used + 1) * 2 > dump->inode_size) {
		dump->inode_size = old_size ? old_size * 2 : 256;
		if (!(dump->inodes = calloc(dump->inode_size, sizeof *dump->inodes))) {
			dump->inodes = old, dump->inode_size = old_size;
			return -1;
		}
		for (i = 0; i < old_size; i++)
			if (old[i].entry)
				dump->inodes[inode_find(dump, old[i].inode)] = old[i];
		free(old);
	}
	i = inode_find(dump, inode);
	if (!dump->inodes[i].entry)
		dump->inode_used++;
	dump->inodes[i] = (struct inode_slot){ inode, entry + 1 };
	return 0;
}

/* The manifest entry that holds the data of INODE, or NULL. */
static struct manifest_entry *inode_entry(struct dump *dump, uint64_t inode)
{
	size_t slot;

	if (!dump->inode_size)
		return NULL;
	slot = inode_find(dump, inode);
	return dump->inodes[slot].entry ? &dump->manifest->entries[dump->inodes[slot].entry - 1]
	    : NULL;
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

/* The next free number; the manifest names the volume (not complete) before any byte of
 * it is sent, so a later run never takes its number again. */
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
	if (dump->sink->save_manifest(dump->sink->context, dump->manifest) != 0)
		return -1;
	dump->volume = number;
	dump->position = 0;
	dump->volume_input = 0;
	dump->progress.volume = number;
	return archive_setup(dump);
}

/* Closed, on the target, then in the manifest with everything archived in it (saved
 * with SAVE; the last volume's is saved once the database counts are in too). */
static int volume_end(struct dump *dump, int save)
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
	return save ? dump->sink->save_manifest(dump->sink->context, dump->manifest) : 0;
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

static struct manifest_entry *entry_for(struct dump *dump, const struct dump_node *node)
{
	struct manifest_entry *entry = manifest_add(dump->manifest, node->path[0] ? node->path
	    : ".");

	if (!entry) {
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
		    strerror(errno));
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
			    + done + (got > 0 ? (size_t)got : 0)), got < 0 ? strerror(errno) : "");
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
    struct archive_entry *header, struct manifest_entry *first)
{
	struct manifest_entry *entry;
	size_t first_index = (size_t)(first - dump->manifest->entries);
	int rc;

	archive_entry_copy_hardlink(header, first->path);
	archive_entry_set_size(header, 0);
	if (!(entry = entry_for(dump, node)))
		return -1;
	entry->volume = dump->volume;
	if ((rc = write_header(dump, header, entry)) != 0)
		return rc;
	first = &dump->manifest->entries[first_index];	/* the entries may have moved */
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
	char reason[256];
	int rc = -1;

	if (!(file = dump->tree->ops->open(dump->tree, node->path, node->st.st_ino))) {
		snprintf(reason, sizeof reason, "unable to open: %s", strerror(errno));
		dump->progress.bytes_done += size;
		return record(dump, node, MANIFEST_FAILED, reason);
	}
	if (data_regions(dump, node, file, &regions, &count) != 0) {
		fail(dump, "out of memory for the %s", "map of a sparse file");
		goto out;
	}
	sparse_map(header, regions, count, size);
	if (!(entry = entry_for(dump, node)))
		goto out;
	entry->volume = dump->volume;
	add_xattrs(dump, node, file, header, entry);
	if ((rc = write_header(dump, header, entry)) != 0) {
		rc = rc > 0 ? 1 : -1;
		goto out;
	}
	sha256_init(&hash);
	if (copy_content(dump, file, regions, count, size, entry, &hash) != 0)
		goto out;
	finish_hash(&hash, entry);
	if (node->st.st_nlink > 1
	    && inode_put(dump, node->st.st_ino, (size_t)(entry - dump->manifest->entries)) != 0) {
		fail(dump, "out of memory for the %s", "hard links");
		goto out;
	}
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

/* GNU tar sets a directory's owner, mode and times once it has extracted the archive that
 * holds the directory's entry; extracting a later volume that puts files into it changes
 * its times again. So each volume first restates the directories above what it holds
 * (those handled already, by this run or an earlier one: the others come later in the
 * order, in this volume or a later one, and are set then). Not in the manifest: the
 * directory's entry is its first archiving. */
static int restate_ancestors(struct dump *dump, const struct dump_node *node)
{
	size_t length = strlen(node->path), i;
	char *path = malloc(length + 1);
	struct archive_entry *header;
	struct dump_node *above;
	int rc = 0;

	if (!path)
		return fail(dump, "out of memory for the %s", "archive");
	/* The root (""), then each prefix ending before a '/': top down. */
	for (i = 0; rc == 0 && i < length; i++) {
		if (i != 0 && node->path[i] != '/')
			continue;
		memcpy(path, node->path, i);
		path[i] = '\0';
		above = node_at(dump, path);
		if (!above || !S_ISDIR(above->st.st_mode) || !above->handled || above->skip
		    || above->failed || above->written_in == dump->volume)
			continue;
		if (!(header = header_for(above)))
			rc = fail(dump, "out of memory for the %s", "archive");
		else if ((rc = write_header(dump, header, NULL)) == 0
		    && archive_write_finish_entry(dump->archive) != ARCHIVE_OK)
			rc = fail(dump, "unable to write to the archive: %s",
			    archive_error_string(dump->archive));
		archive_entry_free(header);
		above->written_in = dump->volume;
	}
	free(path);
	return rc;
}

static int archive_node(struct dump *dump, struct dump_node *node)
{
	struct archive_entry *header;
	struct manifest_entry *first;
	int rc;

	if (!dump->volume && volume_begin(dump) != 0)
		return -1;
	if (restate_ancestors(dump, node) != 0)
		return -1;
	node->written_in = dump->volume;
	if (!(header = header_for(node)))
		return fail(dump, "out of memory for the %s", "archive");
	first = S_ISREG(node->st.st_mode) && node->st.st_nlink > 1
	    ? inode_entry(dump, node->st.st_ino) : NULL;
	if (first)
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

/* What an earlier run put on the target whole, unchanged since: not sent again. */
static int already_there(struct dump *dump, const struct dump_node *node)
{
	struct manifest_entry *entry = manifest_find(dump->manifest,
	    node->path[0] ? node->path : ".");
	struct manifest_volume *volume;

	if (!entry || entry->status != MANIFEST_COPIED || !entry->volume)
		return 0;
	volume = manifest_volume(dump->manifest, entry->volume);
	return volume && volume->complete && !strcmp(entry->type, type_name(node->st.st_mode))
	    && entry->size == (S_ISREG(node->st.st_mode) ? (uint64_t)node->st.st_size : 0)
	    && entry->mtime == node->st.st_mtim.tv_sec
	    && entry->mtime_nsec == node->st.st_mtim.tv_nsec;
}

/* The earlier runs' inodes with data, for hard links to them. */
static int seed_inodes(struct dump *dump)
{
	struct manifest_entry *entry;
	size_t i;

	for (i = 0; i < dump->manifest->count; i++) {
		entry = &dump->manifest->entries[i];
		if (!strcmp(entry->type, "file") && !entry->link_to && entry->volume
		    && entry->status != MANIFEST_FAILED && entry->inode
		    && inode_put(dump, entry->inode, i) != 0)
			return fail(dump, "out of memory for the %s", "hard links");
	}
	return 0;
}

/* ------------------------------------------------------------------ the run */

static void count_work(struct dump *dump)
{
	const struct dump_node *node;
	size_t i;

	for (i = 0; i < dump->count; i++) {
		node = &dump->nodes[i];
		if (node->skip || node->failed)
			continue;
		dump->progress.files_total++;
		if (S_ISREG(node->st.st_mode))
			dump->progress.bytes_total += (uint64_t)node->st.st_size;
	}
}

static int dump_one(struct dump *dump, struct dump_node *node)
{
	char reason[320];

	dump->progress.path = node->path;
	if (node->skip) {
		if (!node->skip_pattern)
			return record(dump, node, MANIFEST_SKIPPED, node->skip);
		snprintf(reason, sizeof reason, "%s %s", node->skip, node->skip_pattern);
		return record(dump, node, MANIFEST_SKIPPED, reason);
	}
	if (node->failed)	/* not in files_total either */
		return record(dump, node, MANIFEST_FAILED, node->problem);
	dump->progress.files_done++;
	node->handled = 1;
	if (already_there(dump, node)) {
		if (S_ISREG(node->st.st_mode))
			dump->progress.bytes_done += (uint64_t)node->st.st_size;
		return 0;
	}
	if (archive_node(dump, node) != 0)
		return -1;
	if (dump->options->volume_size && dump->volume_input >= dump->options->volume_size)
		return volume_end(dump, 1);
	return 0;
}

/* How many regular files each database has, and how many of them are on the target whole
 * (this run's or an earlier one's copy, in a finished volume). */
static void count_database_files(struct dump *dump)
{
	struct manifest_database *database;
	struct manifest_entry *entry;
	const struct dump_node *node;
	size_t i, d;

	for (d = 0; d < dump->manifest->database_count; d++) {
		database = &dump->manifest->databases[d];
		database->files = database->complete = 0;
		for (i = 0; i < dump->count; i++) {
			node = &dump->nodes[i];
			if (!S_ISREG(node->st.st_mode) || (!inside(node->path, database->path)
			    && !sqlite_companion(node->path, database->path)))
				continue;
			database->files++;
			entry = manifest_current(dump->manifest, node->path);
			if (entry && entry->status == MANIFEST_COPIED)
				database->complete++;
		}
	}
}

/* The nodes sorted by path, for node_at (the walk is complete: they no longer move). */
static int index_nodes(struct dump *dump)
{
	size_t i;

	if (!(dump->sorted = calloc(dump->count ? dump->count : 1, sizeof *dump->sorted)))
		return fail(dump, "out of memory for the %s", "index of the tree");
	for (i = 0; i < dump->count; i++)
		dump->sorted[i] = &dump->nodes[i];
	qsort(dump->sorted, dump->count, sizeof *dump->sorted, by_path);
	return 0;
}

static int prepare(struct dump *dump)
{
	int rc = -1;

	if (dump->tree->ops->walk(dump->tree, collect, dump) != 0) {
		if (!dump->failure[0])
			fail(dump, "unable to walk the tree: %s", dump->tree->error);
		goto out;
	}
	if (index_nodes(dump) != 0)
		goto out;
	select_nodes(dump);
	if (detect_databases(dump) != 0) {
		fail(dump, "out of memory for the %s", "databases");
		goto out;
	}
	set_priorities(dump);
	count_work(dump);
	rc = order_nodes(dump) == 0 && seed_inodes(dump) == 0 ? 0 : -1;
out:
	return rc;
}

static void dump_free(struct dump *dump)
{
	size_t i;

	if (dump->archive) {
		archive_write_fail(dump->archive);
		archive_write_free(dump->archive);
	}
	for (i = 0; i < dump->count; i++) {
		free(dump->nodes[i].path);
		free(dump->nodes[i].link);
		free(dump->nodes[i].problem);
	}
	free(dump->nodes);
	free(dump->sorted);
	free(dump->order);
	free(dump->inodes);
	free(dump->buffer);
	free((void *)dump->zeros);
}

int dump_run(struct fstree *tree, const struct dump_options *options,
    const struct dump_sink *sink, struct manifest *manifest, char *failure,
    size_t failure_size)
{
	struct dump dump = { .tree = tree, .options = options, .sink = sink,
	    .manifest = manifest, .failure = failure, .failure_size = failure_size };
	size_t i;
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
	if (prepare(&dump) != 0)
		goto out;
	for (i = 0; i < dump.count; i++)
		if (dump_one(&dump, &dump.nodes[dump.order[i]]) != 0)
			goto out;
	if (dump.volume && volume_end(&dump, 0) != 0)
		goto out;
	count_database_files(&dump);
	if (sink->save_manifest(sink->context, manifest) != 0)
		goto out;
	dump.progress.path = NULL;
	dump.progress.force = 1;
	sink->progress(sink->context, &dump.progress);
	rc = 0;
out:
	if (rc != 0 && dump.order)
		count_database_files(&dump);	/* for the summary of what did arrive */
	dump_free(&dump);
	return rc;
}
