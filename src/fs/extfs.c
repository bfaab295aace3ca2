/* extfs.c: the superblock facts `rescue check` reports, from libext2fs, and the read-only
 * opening `rescue dump --direct` shares.
 *
 * The device is opened without EXT2_FLAG_RW, so libext2fs opens it O_RDONLY; the flags let
 * a damaged file system open anyway (bad checksums, bad group descriptors): its callers
 * read on and report what fails rather than read nothing.
 */
#include <stdio.h>
#include <string.h>

#include <ext2fs/ext2_fs.h>
#include <ext2fs/ext2fs.h>

#include "fs/extfs.h"
#include "fs/probe.h"

enum {
	OPEN_FLAGS = EXT2_FLAG_64BITS | EXT2_FLAG_IGNORE_CSUM_ERRORS | EXT2_FLAG_IGNORE_SB_ERRORS
	    | EXT2_FLAG_SOFTSUPP_FEATURES | EXT2_FLAG_JOURNAL_DEV_OK,
};

const char *extfs_type(const struct ext2_super_block *super)
{
	if (super->s_feature_incompat & (EXT3_FEATURE_INCOMPAT_EXTENTS
	    | EXT4_FEATURE_INCOMPAT_64BIT | EXT4_FEATURE_INCOMPAT_FLEX_BG)
	    || super->s_feature_ro_compat & (EXT4_FEATURE_RO_COMPAT_HUGE_FILE
	    | EXT4_FEATURE_RO_COMPAT_METADATA_CSUM | EXT4_FEATURE_RO_COMPAT_GDT_CSUM))
		return "ext4";
	if (super->s_feature_compat & EXT3_FEATURE_COMPAT_HAS_JOURNAL)
		return "ext3";
	return "ext2";
}

/* The superblock's fixed-size strings need not end in a NUL. */
static void copy_field(char *to, size_t size, const void *from, size_t length)
{
	size_t used = strnlen(from, length);

	if (used >= size)
		used = size - 1;
	memcpy(to, from, used);
	to[used] = '\0';
}

static void fill_facts(ext2_filsys fs, struct extfs_facts *facts)
{
	struct ext2_super_block *super = fs->super;

	snprintf(facts->type, sizeof facts->type, "%s", extfs_type(super));
	facts->blocksize = fs->blocksize;
	copy_field(facts->label, sizeof facts->label, super->s_volume_name,
	    sizeof super->s_volume_name);
	copy_field(facts->last_mounted_on, sizeof facts->last_mounted_on, super->s_last_mounted,
	    sizeof super->s_last_mounted);
	copy_field(facts->last_error_function, sizeof facts->last_error_function,
	    super->s_last_error_func, sizeof super->s_last_error_func);
	facts->valid = (super->s_state & EXT2_VALID_FS) != 0;
	facts->errors = (super->s_state & EXT2_ERROR_FS) != 0;
	facts->needs_recovery = (super->s_feature_incompat & EXT3_FEATURE_INCOMPAT_RECOVER) != 0;
	facts->error_count = super->s_error_count;
	facts->first_error_time = super->s_first_error_time;
	facts->last_error_time = super->s_last_error_time;
	facts->last_mount_time = super->s_mtime;
	facts->last_write_time = super->s_wtime;
	facts->last_check_time = super->s_lastcheck;
	facts->mount_count = super->s_mnt_count;
	facts->blocks = ext2fs_blocks_count(super);
	facts->free_blocks = ext2fs_free_blocks_count(super);
	facts->inodes = super->s_inodes_count;
	facts->free_inodes = super->s_free_inodes_count;
}

/* Group 1 starts 8 x blocksize blocks in (block 8193 with 1 KiB blocks, whose block 0 is
 * the boot block). */
static unsigned long backup_superblock(unsigned blocksize)
{
	return blocksize == 1024 ? 8193 : 8UL * blocksize;
}

static errcode_t open_at(const char *device, unsigned long superblock, unsigned blocksize,
    ext2_filsys *fs)
{
	return ext2fs_open2(device, NULL, OPEN_FLAGS, (int)superblock, blocksize, unix_io_manager,
	    fs);
}

int extfs_open(const char *device, ext2_filsys *fs, unsigned long *superblock, char *why,
    size_t why_size)
{
	static const unsigned blocksizes[] = { 1024, 2048, 4096, 8192, 16384, 32768, 65536 };
	errcode_t code;
	size_t i;

	initialize_ext2_error_table();
	*superblock = 0;
	code = open_at(device, 0, 0, fs);
	if (code == 0)
		return 0;
	snprintf(why, why_size, "%s", error_message(code));
	/* Backups only help when the device is ext at all: a backup with a good magic number is
	 * what tells us so. */
	for (i = 0; i < sizeof blocksizes / sizeof blocksizes[0]; i++) {
		*superblock = backup_superblock(blocksizes[i]);
		if (open_at(device, *superblock, blocksizes[i], fs) == 0)
			return 0;
	}
	*superblock = 0;
	return -1;
}

int extfs_read(const char *device, struct extfs_facts *facts, char *why, size_t why_size)
{
	ext2_filsys fs;

	memset(facts, 0, sizeof *facts);
	if (extfs_open(device, &fs, &facts->superblock, facts->primary_error,
	    sizeof facts->primary_error) != 0) {
		snprintf(why, why_size, "%s", facts->primary_error);
		return -1;
	}
	fill_facts(fs, facts);
	ext2fs_close_free(&fs);
	return 0;
}

const char *extfs_state(const struct extfs_facts *facts)
{
	if (facts->errors)
		return "errors";
	return facts->valid ? "clean" : "not clean";
}

int extfs_probe_backup(const char *device, struct probe_result *probe,
    struct extfs_facts *facts)
{
	char why[128];

	if (probe->type[0] != '\0' || extfs_read(device, facts, why, sizeof why) != 0)
		return 0;
	snprintf(probe->type, sizeof probe->type, "%s", facts->type);
	probe->mountable = 1;
	probe->needs_recovery = facts->needs_recovery;
	return 1;
}

/* Runs of clear bits in the block bitmap, each handed over once it ends. */
static int each_free_run(ext2_filsys fs, extfs_range_fn each, void *context)
{
	blk64_t block, start = 0, end = ext2fs_blocks_count(fs->super);
	uint64_t size = fs->blocksize;
	int in_run = 0;

	for (block = fs->super->s_first_data_block; block < end; block++) {
		int used = ext2fs_test_block_bitmap2(fs->block_map, block);

		if (!used && !in_run) {
			start = block;
			in_run = 1;
		} else if (used && in_run) {
			in_run = 0;
			if (each(context, start * size, (block - start) * size) != 0)
				return -1;
		}
	}
	if (in_run && each(context, start * size, (end - start) * size) != 0)
		return -1;
	return 0;
}

int extfs_free_ranges(const char *device, extfs_range_fn each, void *context, char *why,
    size_t why_size)
{
	unsigned long superblock;
	errcode_t code;
	ext2_filsys fs;
	int rc;

	if (extfs_open(device, &fs, &superblock, why, why_size) != 0)
		return -1;
	if ((code = ext2fs_read_block_bitmap(fs)) != 0) {
		snprintf(why, why_size, "unable to read the block bitmap: %s", error_message(code));
		ext2fs_close_free(&fs);
		return -1;
	}
	rc = each_free_run(fs, each, context);
	if (rc != 0)
		snprintf(why, why_size, "out of memory for the free ranges");
	ext2fs_close_free(&fs);
	return rc;
}
