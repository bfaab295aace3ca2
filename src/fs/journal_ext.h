/* journal_ext.h: the journal of an ext3/ext4 file system opened with libext2fs, as blocks
 * jbd2.h's reader can ask for.
 *
 * The journal inode's block map is read once (8 bytes per journal block); every read goes
 * to the device through libext2fs, which opened it read-only. An external journal device
 * is named in the answer and not read.
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
};

/* The internal journal of FS: 0, or -1 with WHY (no journal, an external one, a journal
 * inode whose blocks cannot be read). */
int ext_journal_open(struct struct_ext2_filsys *fs, struct ext_journal *journal, char *why,
    size_t why_size);
/* jbd2_read_fn over an ext_journal (the context). */
int ext_journal_read(void *context, uint32_t number, void *buffer);
void ext_journal_close(struct ext_journal *journal);

/* Opens the journal of FS and scans it into LOG, calling PROGRESS (or not, NULL) as
 * journal.progress says: 0, or -1 with WHY. */
int ext_journal_scan(struct struct_ext2_filsys *fs, struct ext_journal *journal,
    struct jbd2_log *log, void (*progress)(void *context, uint64_t block, uint64_t blocks),
    void *context, char *why, size_t why_size);

#endif
