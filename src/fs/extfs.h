/* extfs.h: what an ext2/3/4 superblock says about the file system's state, read with
 * libext2fs from a device opened read-only.
 *
 * extfs_open() and extfs_read() try the primary superblock first; when that cannot be read
 * they try the first backup for each block size (group 1: block 8193 with 1 KiB blocks,
 * 8 x the block size otherwise) and say which one worked, so e2fsck can be pointed at it
 * (-b, -B).
 */
#ifndef RESCUE_EXTFS_H
#define RESCUE_EXTFS_H

#include <stddef.h>
#include <time.h>

struct extfs_facts {
	char type[8];			/* "ext2", "ext3" or "ext4" */
	unsigned long superblock;	/* 0: the primary; else the backup's block number */
	unsigned blocksize;
	char primary_error[128];	/* why the primary could not be read, when it could not */
	char label[17];
	char last_mounted_on[65];
	int valid;			/* state: cleanly unmounted or checked */
	int errors;			/* state: the kernel recorded errors */
	int needs_recovery;		/* the journal holds changes not written to their place */
	unsigned error_count;
	time_t first_error_time, last_error_time;
	char last_error_function[33];
	time_t last_mount_time, last_write_time, last_check_time;
	unsigned mount_count;
	unsigned long long blocks, free_blocks;
	unsigned inodes, free_inodes;
};

struct struct_ext2_filsys;
struct ext2_super_block;

/* Opens DEVICE read-only with libext2fs, the primary superblock first, then the backups.
 * 0 with *FS (ext2fs_close_free it) and *SUPERBLOCK (0: the primary, else the backup's
 * block number); -1 when none opens. WHY gets what libext2fs said of the primary whenever
 * the primary did not open, a backup then opening or not. */
int extfs_open(const char *device, struct struct_ext2_filsys **fs, unsigned long *superblock,
    char *why, size_t why_size);
/* 0 when a superblock was read; else -1 with WHY saying what libext2fs said of the
 * primary (a device that is not ext at all gives "Bad magic number in super-block"). */
int extfs_read(const char *device, struct extfs_facts *facts, char *why, size_t why_size);
/* "ext2", "ext3" or "ext4", by the features SUPER names. */
const char *extfs_type(const struct ext2_super_block *super);
const char *extfs_state(const struct extfs_facts *facts);

/* The blocks the block bitmap marks unused, as byte ranges of DEVICE in order, each
 * handed to EACH (which returns 0, or -1 to stop). 0, or -1 with WHY (no ext file system,
 * a bitmap that cannot be read). */
typedef int (*extfs_range_fn)(void *context, unsigned long long position,
    unsigned long long length);
int extfs_free_ranges(const char *device, extfs_range_fn each, void *context, char *why,
    size_t why_size);

struct probe_result;
/* The probe reads only the primary superblock; when it found nothing, libext2fs may still
 * find an ext file system by a backup superblock. Then PROBE gets its type, FACTS says which
 * superblock worked, and 1 is returned; else 0 and nothing changes. */
int extfs_probe_backup(const char *device, struct probe_result *probe,
    struct extfs_facts *facts);

#endif
