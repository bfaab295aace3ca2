/* journal_ext.h: the journal of an ext3/ext4 file system opened with libext2fs, as blocks
 * jbd2.h's reader can ask for.
 *
 * The journal inode's block map is read once (8 bytes per journal block); every read goes
 * to the device through libext2fs, which opened it read-only.
 *
 * An external journal (mke2fs -O journal_dev) is a device of its own: an ext2 superblock
 * with the journal_dev feature and the file system's s_journal_uuid as its UUID, the
 * journal superblock in the block after it (block 1; block 2 with 1 KiB blocks), and the
 * log's block numbers counted from the device's start, as the kernel's jbd2 counts them
 * (jbd2_journal_bmap adds no offset without an inode). It is opened read-only (O_RDONLY),
 * from a path given or found by its UUID among candidate devices.
 */
#ifndef RESCUE_JOURNAL_EXT_H
#define RESCUE_JOURNAL_EXT_H

#include <stddef.h>
#include <stdint.h>

#include "fs/jbd2.h"

struct struct_ext2_filsys;

struct ext_journal {
	struct struct_ext2_filsys *fs;
	uint64_t *map;			/* journal block -> file-system block (0: a hole) */
	uint64_t blocks;
	uint32_t block_size;
	uint32_t inode;
	/* Called every few thousand reads with the block read and the journal's size, for a
	 * progress line while a large journal is scanned; NULL: none. */
	void (*progress)(void *context, uint64_t block, uint64_t blocks);
	void *progress_context;
	uint64_t reads;
	int fd;				/* an external journal device; -1: the inode's */
	uint32_t super_block;		/* its journal superblock's block on that device */
	char device[128];		/* its path, "" for the inode's */
};

/* Where to look for an external journal: DEVICE when given (it must be the journal the
 * file system names), else each of CANDIDATES (NULL-terminated paths, NULL: none) whose
 * UUID is the file system's s_journal_uuid. */
struct ext_journal_where {
	const char *device;
	const char *const *candidates;
};

/* The journal of FS, its inode's or an external device as WHERE says (NULL: the inode's
 * only): 0, or -1 with WHY (no journal, an external one not found or not the one named,
 * a journal inode whose blocks cannot be read). */
int ext_journal_open(struct struct_ext2_filsys *fs, const struct ext_journal_where *where,
    struct ext_journal *journal, char *why, size_t why_size);
/* jbd2_read_fn over an ext_journal (the context). */
int ext_journal_read(void *context, uint32_t number, void *buffer);
void ext_journal_close(struct ext_journal *journal);

/* Opens the journal of FS and scans it into LOG, calling PROGRESS (or not, NULL) as
 * journal.progress says: 0, or -1 with WHY. */
int ext_journal_scan(struct struct_ext2_filsys *fs, const struct ext_journal_where *where,
    struct ext_journal *journal,
    struct jbd2_log *log, void (*progress)(void *context, uint64_t block, uint64_t blocks),
    void *context, char *why, size_t why_size);

#endif
