/* e2fsck.h: running e2fsck on an ext2/3/4 device and reading what it said.
 *
 * e2fsck prints each problem it finds, then its question and the answer -n or -y gave
 * ("Clear? no", "Fix? yes"). e2fsck_summarise() cuts the output into those problems and
 * sorts each into a kind a user can act on ("inode bitmap differences", "directory entry
 * problems", ...), counting problems per kind, how many were answered yes (changed), and
 * for bitmap differences the blocks or inodes listed. `rescue check` (-fn) and
 * `rescue repair` (-fy, on a snapshot) print the same summary.
 */
#ifndef RESCUE_E2FSCK_H
#define RESCUE_E2FSCK_H

#include <stdio.h>

#include "base/spawn.h"

enum e2fsck_kind {
	KIND_JOURNAL_RECOVERY,
	KIND_JOURNAL,
	KIND_ORPHANS,
	KIND_SUPERBLOCK,
	KIND_GROUP_DESCRIPTORS,
	KIND_BLOCK_BITMAP,
	KIND_INODE_BITMAP,
	KIND_FREE_BLOCKS,
	KIND_FREE_INODES,
	KIND_DIRECTORIES_COUNT,
	KIND_DELETED_INODE,
	KIND_DIRECTORY_ENTRIES,
	KIND_UNATTACHED,
	KIND_REFERENCE_COUNTS,
	KIND_INODE_SIZE,
	KIND_BAD_BLOCKS,
	KIND_INODES,
	KIND_OTHER,
	KIND_COUNT
};

struct e2fsck_kind_total {
	unsigned problems;		/* questions e2fsck asked (or warnings it gave) of this kind */
	unsigned fixed;			/* of those, answered yes: the file system was changed */
	unsigned long long items;	/* bitmap differences: blocks or inodes listed; else = problems */
	char example[160];		/* the first problem of this kind, its first line */
};

struct e2fsck_summary {
	struct e2fsck_kind_total kinds[KIND_COUNT];
	unsigned problems;
	unsigned fixed;
	int aborted;		/* e2fsck stopped before its last pass ("e2fsck: aborted") */
	int modified;		/* "***** FILE SYSTEM WAS MODIFIED *****" */
	int still_errors;	/* "WARNING: Filesystem still has errors" */
	char usage[160];	/* "16/8192 files (0.0% non-contiguous), 32756/32768 blocks" */
};

const char *e2fsck_kind_name(enum e2fsck_kind kind);
enum e2fsck_kind e2fsck_classify(const char *problem);
unsigned long long e2fsck_bitmap_items(const char *line);
void e2fsck_summarise(const char *output, struct e2fsck_summary *summary);

/* Runs e2fsck -f with MODE ("-n" or "-y") on DEVICE, with -b SUPERBLOCK -B BLOCKSIZE when
 * SUPERBLOCK is not 0. Its stdout and stderr are collected in RESULT. */
int e2fsck_run(const char *device, const char *mode, unsigned long superblock,
    unsigned blocksize, struct spawn_result *result);

void e2fsck_print_kinds(FILE *out, const struct e2fsck_summary *summary, int changes);
void e2fsck_print_json(FILE *out, const struct e2fsck_summary *summary, int exit_code);

#endif
