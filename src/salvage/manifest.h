/* manifest.h: what `rescue dump` says arrived, in two files beside the archive volumes.
 *
 *   NAME.sha256          `sha256sum -c` lines for every regular file copied complete, with
 *                        its path as the archive holds it (GNU's escaped form for names
 *                        with a backslash or a newline), to be checked in the extracted tree
 *   NAME.manifest.json   every inode the walk reached: copied / partial (with the byte
 *                        ranges that could not be read, zeros in the archive) / failed /
 *                        skipped, each with its reason; the volumes; the databases; totals
 *
 * The JSON is written one entry per line, so it can be read back line by line: a resumed
 * dump reads it to skip what the target already holds. Only entries of volumes that were
 * closed and flushed are in it: the manifest never claims what may not have arrived.
 */
#ifndef RESCUE_MANIFEST_H
#define RESCUE_MANIFEST_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

enum manifest_status { MANIFEST_COPIED, MANIFEST_PARTIAL, MANIFEST_FAILED, MANIFEST_SKIPPED };

struct manifest_range {
	uint64_t start, end;	/* [start, end) bytes of the file */
};

struct manifest_entry {
	char *path;
	char type[8];			/* "file", "dir", "link", "char", "block", "fifo",
					 * "socket", "unknown" */
	enum manifest_status status;
	char *reason;			/* NULL when copied */
	uint64_t size;
	int64_t mtime;			/* seconds */
	long mtime_nsec;
	uint64_t inode;
	char sha256[65];		/* of the archived content ("" when none) */
	char *link_to;			/* a hard link: the path archived with the data */
	struct manifest_range *missing;
	size_t missing_count;
	unsigned volume;		/* 0: in no volume (failed, skipped) */
};

struct manifest_volume {
	unsigned number;
	char file[300];
	int complete;			/* closed and flushed: its entries are on the target */
	uint64_t bytes;			/* archive bytes, as sent */
};

struct manifest_database {
	char kind[16];			/* "PostgreSQL", "MySQL/MariaDB", "SQLite" */
	char version[64];		/* "15", "10.11.6-MariaDB", "3.40.1", or "" */
	char *path;			/* its data directory, or the SQLite file */
	size_t files, complete;		/* regular files below it, and those copied whole */
};

struct manifest {
	struct manifest_entry *entries;
	size_t count, capacity;
	struct manifest_volume *volumes;
	size_t volume_count;
	struct manifest_database *databases;
	size_t database_count;
	size_t *index;			/* manifest_find's hash of paths: entry + 1, 0 free */
	size_t index_size;
	char source[256];		/* what was read: fstree.h's description */
	char compress[8];		/* "zstd", "gzip", "none" */
};

const char *manifest_status_name(enum manifest_status status);

/* A new entry at the end (PATH copied); NULL without memory. */
struct manifest_entry *manifest_add(struct manifest *manifest, const char *path);
int manifest_add_range(struct manifest_entry *entry, uint64_t start, uint64_t end);
int manifest_set_reason(struct manifest_entry *entry, const char *reason);
struct manifest_volume *manifest_add_volume(struct manifest *manifest, unsigned number,
    const char *file);
/* The volume numbered NUMBER, or NULL. */
struct manifest_volume *manifest_volume(struct manifest *manifest, unsigned number);
void manifest_free(struct manifest *manifest);

/* The entry last added for PATH, or NULL (a hash index built on first use). */
struct manifest_entry *manifest_find(struct manifest *manifest, const char *path);
/* The entry for PATH that the files on the target show: the last one in a finished volume
 * (or one with no data), or NULL. */
struct manifest_entry *manifest_current(struct manifest *manifest, const char *path);

struct manifest_totals {
	size_t copied, partial, failed, skipped;
	uint64_t bytes, missing_bytes;	/* of the regular files in the archive */
};
void manifest_totals(struct manifest *manifest, struct manifest_totals *totals);

/* The two files' text: malloc'd, with *SIZE; NULL without memory. Entries in a volume
 * not complete are left out of both. */
char *manifest_json(struct manifest *manifest, size_t *size);
char *manifest_sha256sum(struct manifest *manifest, size_t *size);

/* Reads back what manifest_json wrote (entries and volumes), LENGTH bytes at TEXT (no NUL
 * needed): 0, or -1 with WHY naming the line. */
int manifest_parse(struct manifest *manifest, const char *text, size_t length, char *why,
    size_t why_size);

#endif
