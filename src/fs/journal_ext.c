/* journal_ext.c: the journal inode's blocks, read through libext2fs (journal_ext.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <ext2fs/ext2_fs.h>
#include <ext2fs/ext2fs.h>

#include "base/err.h"
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

static void uuid_text(const unsigned char *u, char *text, size_t size)
{
	snprintf(text, size, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
	    u[0], u[1], u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9], u[10], u[11], u[12], u[13],
	    u[14], u[15]);
}

/* The ext2 superblock of a journal device at byte 1024 of FD: 0, or -1 with WHY. */
static int read_device_super(int fd, const char *path, struct ext2_super_block *super,
    char *why, size_t why_size)
{
	ssize_t got = pread(fd, super, sizeof *super, 1024);

	if (got != (ssize_t)sizeof *super) {
		snprintf(why, why_size, "unable to read the superblock of %s: %s", path,
		    got < 0 ? err_text(errno) : "the device is too small");
		return -1;
	}
	if (super->s_magic != EXT2_SUPER_MAGIC
	    || !(super->s_feature_incompat & EXT3_FEATURE_INCOMPAT_JOURNAL_DEV)) {
		snprintf(why, why_size, "%s is not an external journal device (mke2fs -O "
		    "journal_dev)", path);
		return -1;
	}
	return 0;
}

/* Checks that SUPER (of the device PATH) is FS's journal, and takes its geometry. */
static int take_device(ext2_filsys fs, const struct ext2_super_block *super, const char *path,
    struct ext_journal *journal, char *why, size_t why_size)
{
	char wanted[40], found[40];
	uint64_t blocks = super->s_blocks_count;

	if (memcmp(super->s_uuid, fs->super->s_journal_uuid, sizeof super->s_uuid) != 0) {
		uuid_text(fs->super->s_journal_uuid, wanted, sizeof wanted);
		uuid_text(super->s_uuid, found, sizeof found);
		snprintf(why, why_size, "%s is the journal %s, not this file system's (%s)", path,
		    found, wanted);
		return -1;
	}
	if (super->s_log_block_size > 6 || 1024U << super->s_log_block_size != fs->blocksize) {
		snprintf(why, why_size, "the journal device %s has blocks of %u bytes, the file "
		    "system %u", path, super->s_log_block_size > 6 ? 0
		    : 1024U << super->s_log_block_size, fs->blocksize);
		return -1;
	}
	if (super->s_feature_incompat & EXT4_FEATURE_INCOMPAT_64BIT)
		blocks |= (uint64_t)super->s_blocks_count_hi << 32;
	if (blocks < 4 || blocks > JOURNAL_BLOCKS_MAX) {
		snprintf(why, why_size, "the journal device %s claims an implausible %llu "
		    "blocks", path, (unsigned long long)blocks);
		return -1;
	}
	journal->blocks = blocks;
	journal->super_block = 1024 / fs->blocksize + 1;
	snprintf(journal->device, sizeof journal->device, "%s", path);
	return 0;
}

/* PATH opened read-only as FS's external journal: 0, or -1 with WHY. */
static int open_device(ext2_filsys fs, const char *path, struct ext_journal *journal,
    char *why, size_t why_size)
{
	struct ext2_super_block super;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0) {
		snprintf(why, why_size, "unable to open the journal device %s: %s", path,
		    err_text(errno));
		return -1;
	}
	if (read_device_super(fd, path, &super, why, why_size) != 0
	    || take_device(fs, &super, path, journal, why, why_size) != 0) {
		close(fd);
		return -1;
	}
	journal->fd = fd;
	return 0;
}

/* The first of CANDIDATES that is FS's journal device. */
static int find_device(ext2_filsys fs, const char *const *candidates,
    struct ext_journal *journal, char *why, size_t why_size)
{
	const unsigned char *u = fs->super->s_journal_uuid;
	char ignored[256], uuid[40];
	size_t i, looked = 0;

	for (i = 0; candidates && candidates[i]; i++, looked++)
		if (open_device(fs, candidates[i], journal, ignored, sizeof ignored) == 0)
			return 0;
	uuid_text(u, uuid, sizeof uuid);
	snprintf(why, why_size, "the journal is on another device (UUID %s, device number "
	    "0x%x), not among the %zu devices looked at: name it with --journal DEV", uuid,
	    fs->super->s_journal_dev, looked);
	return -1;
}

static int open_external(ext2_filsys fs, const struct ext_journal_where *where,
    struct ext_journal *journal, char *why, size_t why_size)
{
	if (where && where->device)
		return open_device(fs, where->device, journal, why, why_size);
	return find_device(fs, where ? where->candidates : NULL, journal, why, why_size);
}

int ext_journal_open(ext2_filsys fs, const struct ext_journal_where *where,
    struct ext_journal *journal, char *why, size_t why_size)
{
	struct ext2_inode inode;
	errcode_t code;

	memset(journal, 0, sizeof *journal);
	journal->fs = fs;
	journal->block_size = fs->blocksize;
	journal->inode = fs->super->s_journal_inum;
	journal->fd = -1;
	if (!ext2fs_has_feature_journal(fs->super)) {
		snprintf(why, why_size, "the file system has no journal (ext2): nothing of a "
		    "deleted file survives there to read");
		return -1;
	}
	if (!journal->inode)
		return open_external(fs, where, journal, why, why_size);
	if (where && where->device) {
		snprintf(why, why_size, "the journal is inside the file system (inode %u), so %s "
		    "is not its journal", journal->inode, where->device);
		return -1;
	}
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

/* Block 0 of the log is its superblock, elsewhere on the device; every other number is
 * the device's own block. */
static int read_device_block(struct ext_journal *journal, uint32_t number, void *buffer)
{
	uint64_t block = number ? number : journal->super_block;
	ssize_t got;

	if (block >= journal->blocks) {
		errno = EINVAL;
		return -1;
	}
	got = pread(journal->fd, buffer, journal->block_size, (off_t)(block
	    * journal->block_size));
	if (got == (ssize_t)journal->block_size)
		return 0;
	if (got >= 0)
		errno = EIO;
	return -1;
}

int ext_journal_read(void *context, uint32_t number, void *buffer)
{
	struct ext_journal *journal = context;
	errcode_t code;

	if (journal->progress && ++journal->reads % PROGRESS_EVERY == 0)
		journal->progress(journal->progress_context, number, journal->blocks);
	if (journal->fd >= 0)
		return read_device_block(journal, number, buffer);
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
	if (journal->fd >= 0)
		close(journal->fd);
	journal->fd = -1;
}

int ext_journal_scan(ext2_filsys fs, const struct ext_journal_where *where,
    struct ext_journal *journal, struct jbd2_log *log,
    void (*progress)(void *context, uint64_t block, uint64_t blocks), void *context,
    char *why, size_t why_size)
{
	if (ext_journal_open(fs, where, journal, why, why_size) != 0)
		return -1;
	journal->progress = progress;
	journal->progress_context = context;
	if (jbd2_log_scan(log, ext_journal_read, journal, journal->blocks, journal->block_size,
	    why, why_size) == 0)
		return 0;
	ext_journal_close(journal);
	return -1;
}
