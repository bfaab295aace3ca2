/* dump.h: the engine of `rescue dump`: every file of a tree into pax archive volumes, with
 * a manifest of what arrived.
 *
 * A run walks the tree first (metadata only) to count the work and find the databases
 * (PostgreSQL, MySQL/MariaDB, SQLite); then it walks it again for each priority (--first
 * paths, the databases, the rest), archiving the nodes of that priority as it meets them,
 * and skips what an earlier run already put on the target (manifest.h). Each file is read,
 * hashed (SHA-256 of the content as archived) and written; a read error is narrowed down
 * to the tree's block size, the bad blocks go into the archive as zeros and into the
 * manifest as missing ranges.
 *
 * Nothing is kept per file of the tree: a walk keeps the directories above the node it is
 * at, the manifest's entries go to the target as their volumes close. What is kept grows
 * with other things, each small: when resuming, 16 bytes per entry of an earlier run while
 * they fit in resume_memory (manifest.h), past that about 1.3 bytes per file and the
 * resume_memory itself (dump.c's bounded join), about 100 bytes plus the path per inode
 * with more than one link (hard-link
 * detection: the first path archived and its hash), 8 bytes per directory --include needs
 * although it does not match, and the databases found.
 *
 * The archive is split into volumes of about --volume-size bytes, and also closed when the
 * manifest text waiting for it reaches MANIFEST_PENDING_MAX: each volume is a whole archive
 * of its own, closed, flushed to the target and only then named in the manifest. A run cut
 * short loses at most the volume it was writing; the next run sends those files again in a
 * new volume.
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
	size_t pending_max;		/* manifest text held before it is appended;
					 * 0: MANIFEST_PENDING_MAX */
	size_t resume_memory;		/* bytes for matching an earlier manifest: its set
					 * of entries while it fits (16 bytes each), else a
					 * chunk of the walk at a time; 0: 16 MiB */
	int manifest_apart;		/* the sink's logs are not where the volumes go
					 * (tcp://): appended whenever the text piles up, not
					 * only between volumes */
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
	/* Calls LINE for each line of the earlier runs' manifest (nothing when there is
	 * none); the run reads it twice. LINE's nonzero return stops and is returned. */
	int (*read_earlier)(void *context, int (*line)(void *arg, const char *text,
	    size_t length), void *arg);
	/* Appends the manifest's pending text to the logs and records a checkpoint; never
	 * called while a volume is open unless options->manifest_apart. */
	int (*append)(void *context, struct manifest *manifest);
	/* The pending text holds the JSON's end: append it and put the logs in place. */
	int (*finish)(void *context, struct manifest *manifest);
	void (*progress)(void *context, const struct dump_progress *progress);
	int (*stop_requested)(void *context);
	/* The first 100 bytes of a file, for the SQLite check, are read through the tree. */
};

/* Runs a dump of TREE. MANIFEST starts empty (but for its source and compress) and ends
 * with this run's totals, volumes and databases; the entries go through the sink. 0 when the walk and every volume finished (files may still be
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
