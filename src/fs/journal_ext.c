/* journal_ext.c: the journal inode's blocks, read through libext2fs (journal_ext.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ext2fs/ext2_fs.h>
#include <ext2fs/ext2fs.h>

#include "fs/journal_ext.h"

/* A journal larger than this is not one mke2fs or tune2fs would make: the map would
 * otherwise follow a corrupt i_size. */
enum { JOURNAL_BLOCKS_MAX = 1U << 24, PROGRESS_EVERY = 4096 };

static int map_block(ext2_filsys fs, blk64_t *block, e2_blkcnt_t count, blk64_t ref_block,
    int ref_offset, void *context)
{
	struct ext_journal *journal = context;

	(void)fs, (void)ref_block, (void)ref_offset;
	if (count >= 0 && (uint64_t)count < journal->blocks)
		journal->map[count] = *block;
	return 0;
}

static int describe_external(ext2_filsys fs, char *why, size_t why_size)
{
	const unsigned char *u = fs->super->s_journal_uuid;

	snprintf(why, why_size, "the journal is on another device (UUID %02x%02x%02x%02x-"
	    "%02x%02x-..., device number 0x%x): external journals are not read yet", u[0], u[1],
	    u[2], u[3], u[4], u[5], fs->super->s_journal_dev);
	return -1;
}

int ext_journal_open(ext2_filsys fs, struct ext_journal *journal, char *why,
    size_t why_size)
{
	struct ext2_inode inode;
	errcode_t code;

	memset(journal, 0, sizeof *journal);
	journal->fs = fs;
	journal->block_size = fs->blocksize;
	journal->inode = fs->super->s_journal_inum;
	if (!ext2fs_has_feature_journal(fs->super)) {
		snprintf(why, why_size, "the file system has no journal (ext2): nothing of a "
		    "deleted file survives there to read");
		return -1;
	}
	if (!journal->inode)
		return describe_external(fs, why, why_size);
	if ((code = ext2fs_read_inode(fs, journal->inode, &inode)) != 0) {
		snprintf(why, why_size, "unable to read the journal inode %u: %s", journal->inode,
		    error_message(code));
		return -1;
	}
	journal->blocks = EXT2_I_SIZE(&inode) / fs->blocksize;
	if (journal->blocks < 2 || journal->blocks > JOURNAL_BLOCKS_MAX) {
		snprintf(why, why_size, "the journal inode %u has an implausible size of %llu "
		    "bytes", journal->inode, (unsigned long long)EXT2_I_SIZE(&inode));
		return -1;
	}
	if (!(journal->map = calloc(journal->blocks, sizeof *journal->map))) {
		snprintf(why, why_size, "out of memory for the journal's block map");
		return -1;
	}
	code = ext2fs_block_iterate3(fs, journal->inode, BLOCK_FLAG_READ_ONLY
	    | BLOCK_FLAG_DATA_ONLY, NULL, map_block, journal);
	if (code != 0) {
		snprintf(why, why_size, "unable to read the block map of the journal inode %u: %s",
		    journal->inode, error_message(code));
		ext_journal_close(journal);
		return -1;
	}
	return 0;
}

int ext_journal_read(void *context, uint32_t number, void *buffer)
{
	struct ext_journal *journal = context;
	errcode_t code;

	if (journal->progress && ++journal->reads % PROGRESS_EVERY == 0)
		journal->progress(journal->progress_context, number, journal->blocks);
	if (number >= journal->blocks || !journal->map[number]) {
		errno = EINVAL;
		return -1;
	}
	code = io_channel_read_blk64(journal->fs->io, journal->map[number], 1, buffer);
	if (code != 0) {
		errno = code > 0 && code < 4096 ? (int)code : EIO;
		return -1;
	}
	return 0;
}

void ext_journal_close(struct ext_journal *journal)
{
	free(journal->map);
	journal->map = NULL;
}

int ext_journal_scan(ext2_filsys fs, struct ext_journal *journal, struct jbd2_log *log,
    void (*progress)(void *context, uint64_t block, uint64_t blocks), void *context,
    char *why, size_t why_size)
{
	if (ext_journal_open(fs, journal, why, why_size) != 0)
		return -1;
	journal->progress = progress;
	journal->progress_context = context;
	if (jbd2_log_scan(log, ext_journal_read, journal, journal->blocks, journal->block_size,
	    why, why_size) == 0)
		return 0;
	ext_journal_close(journal);
	return -1;
}
