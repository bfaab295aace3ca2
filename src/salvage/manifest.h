/* manifest.h: what `rescue dump` says arrived, in two files beside the archive volumes.
 *
 *   NAME.sha256          `sha256sum -c` lines for every regular file copied complete, with
 *                        its path as the archive holds it (GNU's escaped form for names
 *                        with a backslash or a newline), to be checked in the extracted tree
 *   NAME.manifest.json   every inode the walk reached: copied / partial (with the byte
 *                        ranges that could not be read, zeros in the archive) / failed /
 *                        skipped, each with its reason; then the volumes, the databases and
 *                        the totals
 *
 * Both are written as the run goes, never held whole in memory: an entry is formatted into
 * a pending buffer when its file is done, and the buffer is appended to NAME.manifest.json.part
 * and NAME.sha256.part once the volume holding those files is closed and on the target, so
 * the logs only ever claim what has arrived. After each append a small checkpoint,
 * NAME.manifest.state (replaced atomically), records how many bytes of each log are good
 * and which volumes are whole: a run cut short resumes from it. When a run finishes, the
 * trailer (volumes, databases, totals) ends the JSON and both logs are renamed into place.
 *
 * The JSON is written one entry per line, so it is read back line by line: a resumed dump
 * reads the earlier manifest (or the checkpointed log) twice, first to learn what is on the
 * target, then, once the tree is walked, to carry over the entries this run does not
 * replace. Each path appears once in what a run writes.
 *
 * Memory: the pending buffer (at most MANIFEST_PENDING_MAX, then the volume is closed),
 * the volumes and databases, the first problems of each kind for the summary, and for a
 * resumed run 16 bytes per entry of the earlier manifest (struct manifest_known) while
 * they fit in dump's resume_memory (beyond it dump.c matches the walk in chunks).
 */
#ifndef RESCUE_MANIFEST_H
#define RESCUE_MANIFEST_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

enum manifest_status { MANIFEST_COPIED, MANIFEST_PARTIAL, MANIFEST_FAILED, MANIFEST_SKIPPED };

/* Text waiting for its volume: appended to the logs when it passes this, at the latest
 * (dump closes the volume early for it). */
enum { MANIFEST_PENDING_MAX = 4 << 20, MANIFEST_LISTED = 20 };

struct manifest_range {
	uint64_t start, end;	/* [start, end) bytes of the file */
};

/* One entry, while it is being made or read: never kept once formatted. */
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
	size_t complete_pending;	/* ... whose volume is not whole yet */
};

struct manifest_totals {
	size_t copied, partial, failed, skipped;
	uint64_t bytes, missing_bytes;	/* of the regular files in the archive */
};

/* An entry of an earlier run, as much as resuming needs: 16 bytes. */
struct manifest_known {
	uint64_t path_hash;		/* FNV-1a of the path */
	uint32_t fingerprint;		/* of type, size and mtime: unchanged since? */
	uint32_t volume_flags;		/* volume << 8 | MANIFEST_KNOWN_* */
};
enum {
	MANIFEST_KNOWN_COPIED = 1,	/* copied whole (in a volume: see complete) */
	MANIFEST_KNOWN_SEEN = 2,	/* this run's tree has the path */
	MANIFEST_KNOWN_KEEP = 4,	/* ... unchanged, and on the target whole: not sent */
};

struct manifest_problem {
	char *path, *reason;
};

struct manifest {
	struct manifest_volume *volumes;
	size_t volume_count;
	struct manifest_database *databases;
	size_t database_count;
	char source[256];		/* what was read: fstree.h's description */
	char compress[8];		/* "zstd", "gzip", "none" */
	struct manifest_totals totals;	/* of every entry committed (each path once) */
	struct manifest_totals settled;	/* ... and appended to the logs: on the target */
	struct manifest_problem partial[MANIFEST_LISTED], failed[MANIFEST_LISTED];
	int resumed;			/* an earlier run's manifest was read */
	int databases_counted;		/* the run walked every database's files */
	int started;			/* the JSON's first line is written */
	size_t entries_written;
	/* The text not yet appended to the logs. */
	FILE *json, *sums;
	char *json_text, *sums_text;
	size_t json_size, sums_size;
	/* The earlier runs' entries, sorted by path_hash once read. */
	struct manifest_known *known;
	size_t known_count, known_capacity;
};

const char *manifest_status_name(enum manifest_status status);

int manifest_add_range(struct manifest_entry *entry, uint64_t start, uint64_t end);
int manifest_set_reason(struct manifest_entry *entry, const char *reason);
void manifest_entry_free(struct manifest_entry *entry);

struct manifest_volume *manifest_add_volume(struct manifest *manifest, unsigned number,
    const char *file);
/* The volume numbered NUMBER, or NULL. */
struct manifest_volume *manifest_volume(struct manifest *manifest, unsigned number);
void manifest_free(struct manifest *manifest);

/* Formats ENTRY (settled: its volume is whole on the target, or it has none, or will be
 * by the time the pending text is appended) into the pending text and counts it. 0 or -1
 * without memory. */
int manifest_commit(struct manifest *manifest, const struct manifest_entry *entry);
/* Bytes of pending text. */
size_t manifest_pending(const struct manifest *manifest);
/* The pending text, to append to the two logs; then manifest_clear_pending (once it is
 * on the target: what it counted is then settled). -1 without memory. */
int manifest_take_pending(struct manifest *manifest, const char **json, size_t *json_size,
    const char **sums, size_t *sums_size);
void manifest_clear_pending(struct manifest *manifest);
/* Adds the JSON's end (volumes, databases, totals) to the pending text: the last append. */
int manifest_finish(struct manifest *manifest);

/* The checkpoint's text: the logs' good lengths and the volumes. malloc'd; NULL. */
char *manifest_checkpoint(const struct manifest *manifest, const char *log, uint64_t log_bytes,
    const char *sums, uint64_t sums_bytes, size_t *size);
struct manifest_checkpoint {
	char log[320], sums[320];
	uint64_t log_bytes, sums_bytes;
};
/* Reads a checkpoint of LENGTH bytes: 0 with CHECKPOINT, -1 with WHY. Its volumes are
 * read by manifest_read_line like the manifest's. */
int manifest_parse_checkpoint(const char *text, size_t length,
    struct manifest_checkpoint *checkpoint, char *why, size_t why_size);

/* One line of a manifest or checkpoint (LENGTH bytes, no newline needed): 1 with ENTRY
 * filled (free with manifest_entry_free), 2 with VOLUME filled, 0 for any other line of the
 * format (the header, brackets, databases, totals), -1 when it cannot be read. */
int manifest_read_line(const char *line, size_t length, struct manifest_entry *entry,
    struct manifest_volume *volume);

/* Resuming: what an earlier run recorded, path by path. */
uint64_t manifest_path_hash(const char *path);
uint32_t manifest_fingerprint(const char *type, uint64_t size, int64_t mtime, long mtime_nsec);
int manifest_know(struct manifest *manifest, const struct manifest_entry *entry);
/* Sorts what manifest_know took and drops entries of volumes not whole: call once. */
void manifest_known_ready(struct manifest *manifest);
struct manifest_known *manifest_known_find(struct manifest *manifest, const char *path);

#endif
