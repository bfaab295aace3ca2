/* undelete.h: the engine of `rescue undelete`: deleted files of an ext3/ext4 file system
 * found from what its journal still holds, read-only.
 *
 * When ext4 deletes a file it zeroes the inode's block map and size and (on recent
 * kernels) wipes the directory entry; the journal keeps older copies of the inode table
 * blocks and directory blocks. So:
 *
 *   1. every trusted journal copy of an inode table block is read; an inode that is
 *      deleted now (no links) takes its newest copy with links and a block map;
 *   2. its block map comes from that copy: the extent tree (index and leaf blocks from
 *      the journal, as of that transaction, when they were journaled; else from the
 *      disk) or ext2/3 direct and indirect blocks;
 *   3. each data block is recoverable when the live block bitmap says it is free: a block
 *      allocated again belongs to someone else now, and is never returned as this file's;
 *   4. names come from journal copies of directory blocks (the newest naming the inode),
 *      the directory being known by its "." entry, by a deleted directory's block map or
 *      by a live directory's; a parent that still lives gives its live path.
 *
 * Memory holds an index of inodes, names and block runs, never file data. Nothing is
 * written to the device: libext2fs opens it read-only and nothing is replayed.
 */
#ifndef RESCUE_UNDELETE_H
#define RESCUE_UNDELETE_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "fs/fstree.h"

enum undelete_state { UNDELETE_WHOLE, UNDELETE_PARTIAL, UNDELETE_NAME_ONLY };

/* A run of the file's blocks: LENGTH blocks from logical block LOGICAL at PHYSICAL. */
struct undelete_run {
	uint64_t logical, physical;
	uint32_t length;
	uint8_t unwritten;		/* an unwritten extent: reads as zeros */
};

/* Physical blocks [start, end). */
struct undelete_range {
	uint64_t start, end;
};

struct undelete_file {
	char *path;			/* relative, no leading '/'; "unnamed/inode-N" when no
					 * name survives */
	uint32_t inode;
	uint16_t mode;
	uint32_t uid, gid;
	uint64_t size;
	int64_t atime, mtime, ctime, dtime;	/* dtime: the deletion, from the live inode */
	long mtime_nsec;
	char *link;			/* a symbolic link's target */
	enum undelete_state state;
	uint64_t recoverable;		/* bytes of it that can be read back */
	char *reason;			/* why it is not whole (malloc'd), NULL when it is:
					 * read it with undelete_reason() */
	uint32_t inode_transaction;	/* the journal transaction its inode copy is from */
	int64_t inode_committed;	/* that transaction's commit time */
	uint32_t map_transaction;	/* where its block map's newest tree block came from;
					 * 0: the inode alone, or blocks read from the disk */
	int map_from_disk;		/* some tree block was read from the disk */
	uint32_t name_transaction;	/* the directory copy its name is from */
	struct undelete_run *runs;
	size_t run_count;
	struct undelete_range *taken;	/* its blocks that a file deleted later had since:
					 * that file's content now, never this one's */
	size_t taken_count;
	int map_incomplete;		/* part of the block map is lost (REASON says how) */
	unsigned char *inline_data;	/* an inline-data file's bytes (SIZE of them), or NULL */
	unsigned char *xattr_area;	/* its inode's attribute area, as the copy held it */
	size_t xattr_area_size;
	uint64_t xattr_block;		/* its attribute block (i_file_acl), 0: none */
	struct undelete_carved *carved;	/* NULL for the journal's files */
};

/* A file found by carving the free blocks (undelete_carve), not in the journal: its
 * first byte on the device, its type and how its end was found. Kept apart from struct
 * undelete_file, as the reason is, so that a file of the journal costs no text it does
 * not need: tens of thousands of files must fit a rescue boot's memory. */
struct undelete_carved {
	uint64_t offset;
	char type[24];
	char how[100];			/* "validated (IEND chunk)" */
};

struct undelete_options {
	int64_t after, before;		/* deletion window, seconds; 0: open */
	const char **paths;		/* NULL-terminated --path globs; NULL or empty: all */
	/* While the journal is read: the journal block just read and how many there are. */
	void (*progress)(void *context, uint64_t block, uint64_t blocks);
	void *progress_context;
	/* An external journal (journal_ext.h): the device named by --journal, else the
	 * first of the candidates (NULL-terminated) with the file system's journal UUID. */
	const char *journal_device;
	const char *const *journal_candidates;
};

struct undelete_counts {
	size_t transactions, copies, inode_copies, directory_copies;
	size_t deleted_inodes;		/* deleted now, with a copy in the journal */
	size_t outside_window, not_matched;
	size_t carved;			/* files undelete_carve added */
	uint64_t carved_bytes;		/* free bytes it scanned */
};

struct undelete {
	struct undelete_file *files;	/* sorted by path */
	size_t count;
	struct undelete_counts counts;
	char description[600];		/* "ext4 on /dev/vdb, journal of 4096 blocks (CSUM_V3)",
					 * the external journal device, checksums that failed */
	unsigned block_size;		/* the file system's */
	void *state;			/* the engine's own (file system, journal index) */
};

/* Scans DEVICE (a block device or an image file). 0, or -1 with WHY and *CODE: 2 when
 * DEVICE is not ext2/3/4 at all, 3 for everything else (no journal, a bad journal). */
int undelete_scan(const char *device, const struct undelete_options *options,
    struct undelete *undelete, char *why, size_t why_size, int *code);
void undelete_free(struct undelete *undelete);

/* Reads FILE's content at OFFSET: bytes read (short at its end), or -1 with errno ENODATA
 * when a block of it is not recoverable (in use again), EIO when the device fails. */
ssize_t undelete_read(struct undelete *undelete, const struct undelete_file *file,
    void *buffer, size_t size, uint64_t offset);

struct undelete_carve_options {
	/* While the free blocks are carved: bytes scanned of how many. */
	void (*progress)(void *context, uint64_t done, uint64_t total);
	void *progress_context;
	const volatile sig_atomic_t *stop;	/* nonzero: stop early (what was found stays) */
};

/* Beyond the journal (undelete_carve.c): carves the blocks of the file system that are
 * free now and that none of UNDELETE's files claims, laid end to end as `rescue carve
 * --free` does, with every built-in format, candidates at block starts (where ext4
 * starts a file's data). Each file found joins UNDELETE->files (kept sorted by path) as
 * unnamed/carved-<offset>.<ext>, whole, its blocks as its runs: undelete_read and
 * undelete_tree treat it as any other. Only the index is kept, never file data; the scan
 * reads through carve's window. DEVICE is the one scanned. 0, or -1 with WHY. */
int undelete_carve(struct undelete *undelete, const char *device,
    const struct undelete_carve_options *options, char *why, size_t why_size);

/* FILE's extended attributes: those in its inode copy, and those of its attribute block
 * when the journal holds the block as of the inode's transaction, or the disk does while
 * the block is free or still shared (h_refcount > 1). The inline data (system.data) is
 * not one. 0 with a malloc'd LIST (fstree_xattrs_free), or -1 without memory. */
int undelete_xattrs(struct undelete *undelete, const struct undelete_file *file,
    struct fstree_xattr **list, size_t *count);

/* "whole", "partial 37%", "name only" into TEXT. */
void undelete_state_text(const struct undelete_file *file, char *text, size_t size);
/* Why FILE is not whole, "" when it is. */
const char *undelete_reason(const struct undelete_file *file);

/* The recoverable files as a tree that `rescue dump`'s engine archives (fstree.h): the
 * deleted directories and every file with a name or not; a name-only file is a failed
 * node saying why. NULL without memory. Valid while UNDELETE is. */
struct fstree *undelete_tree(struct undelete *undelete);

#endif
