/* dump.h: the engine of `rescue dump`: every file of a tree into pax archive volumes, with
 * a manifest of what arrived.
 *
 * A run walks the whole tree first (metadata only), so it knows what there is before it
 * copies anything: it finds the databases (PostgreSQL, MySQL/MariaDB, SQLite), puts them
 * and the --first paths ahead of everything else, and skips what an earlier run already
 * put on the target (the manifest it is given says so). Then each file is read, hashed
 * (SHA-256 of the content as archived) and written; a read error is narrowed down to the
 * tree's block size, the bad blocks go into the archive as zeros and into the manifest as
 * missing ranges.
 *
 * The archive is split into volumes of about --volume-size bytes: each volume is a whole
 * archive of its own, closed, flushed to the target and only then named in the manifest.
 * A run cut short loses at most the volume it was writing; the next run sends those files
 * again in a new volume.
 */
#ifndef RESCUE_DUMP_H
#define RESCUE_DUMP_H

#include <stddef.h>
#include <stdint.h>

#include "fs/fstree.h"
#include "salvage/manifest.h"

enum dump_compress { DUMP_ZSTD, DUMP_GZIP, DUMP_NONE };

struct dump_options {
	const char *name;		/* volumes are NAME.NNN.tar[.zst|.gz] */
	enum dump_compress compress;
	uint64_t volume_size;		/* archive bytes (before compression) per volume;
					 * 0: one volume */
	const char **first, **include, **exclude;	/* NULL-terminated pattern lists */
	int exact_times;		/* every header with mtime, atime, ctime to the ns */
};

struct dump_progress {
	size_t files_total, files_done;		/* every node to archive in this run */
	uint64_t bytes_total, bytes_done;	/* their regular files' content */
	uint64_t missing_bytes;
	uint64_t sent;				/* archive bytes given to the target */
	const char *path;			/* the file being read */
	unsigned volume;
	int force;				/* the last call: show it whatever the time */
};

/* Where the volumes and the manifest go; every call returns 0 or -1 (the run stops; the
 * sink says why in its own words). */
struct dump_sink {
	void *context;
	/* Starts writing FILE; *SIZE is what it already holds (the run then takes another
	 * number: an earlier volume is never written over). */
	int (*begin_volume)(void *context, const char *file, uint64_t *size);
	int (*write)(void *context, const void *data, size_t size, uint64_t position);
	/* Returns once everything written to the volume is on the target. */
	int (*end_volume)(void *context, uint64_t size);
	int (*save_manifest)(void *context, struct manifest *manifest);
	void (*progress)(void *context, const struct dump_progress *progress);
	int (*stop_requested)(void *context);
	/* The first 100 bytes of a file, for the SQLite check, are read through the tree. */
};

/* Runs a dump of TREE. MANIFEST holds what earlier runs recorded (or nothing) and receives
 * this run's entries. 0 when the walk and every volume finished (files may still be
 * partial or failed: see the manifest); -1 with FAILURE when the run stopped (the target
 * failed, a signal, no memory). */
int dump_run(struct fstree *tree, const struct dump_options *options,
    const struct dump_sink *sink, struct manifest *manifest, char *failure,
    size_t failure_size);

/* Whether PATH (relative, as fstree.h gives it) matches PATTERN as --first, --include and
 * --exclude take it: a pattern with a '/' is matched against the path and each of its
 * ancestors (fnmatch, '*' crossing '/'), one without against each name in the path; so a
 * pattern naming a directory takes everything below it. */
int dump_pattern_matches(const char *pattern, const char *path);

#endif
