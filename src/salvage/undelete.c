/* undelete.c: the undelete engine (undelete.h): inodes from the journal's inode table
 * copies, their block maps, what of them is recoverable, and reading them back.
 *
 * Inodes are read as the x86 machines this runs on hold them (little-endian, as on disk).
 */
#include <errno.h>
#include <fnmatch.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/sort.h"
#include "fs/ext_xattr.h"
#include "fs/extfs.h"
#include "salvage/dump.h"
#include "salvage/undelete_engine.h"

enum {
	EXTENT_MAGIC = 0xf30a,
	EXTENT_DEPTH_MAX = 5,		/* the kernel's own limit */
	UNWRITTEN_BASE = 32768,		/* ee_len above this: an unwritten extent */
	DIRECT_BLOCKS = 12,
	RUNS_MAX = 1 << 20,		/* a corrupt map is not followed further */
};

static uint16_t le16(const unsigned char *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t le32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16
	    | (uint32_t)p[3] << 24;
}

/* ------------------------------------------------------------------ the inode index */

static size_t hash_slot(const struct engine *engine, uint32_t inode)
{
	size_t mask = engine->index_size - 1, slot = (size_t)(inode * 0x9e3779b97f4a7c15ULL)
	    & mask;

	while (engine->index[slot] && engine->candidates[engine->index[slot] - 1].inode != inode)
		slot = (slot + 1) & mask;
	return slot;
}

/* The first version of INODE, or NULL. */
static struct candidate *first_version(struct engine *engine, uint32_t inode)
{
	size_t slot;

	if (!engine->index_size)
		return NULL;
	slot = hash_slot(engine, inode);
	return engine->index[slot] ? &engine->candidates[engine->index[slot] - 1] : NULL;
}

static struct candidate *next_version(struct engine *engine, const struct candidate *version)
{
	return version->next ? &engine->candidates[version->next - 1] : NULL;
}

struct candidate *engine_find(struct engine *engine, uint32_t inode, uint32_t as_of)
{
	struct candidate *version = first_version(engine, inode), *best = NULL, *oldest;

	for (oldest = version; version; version = next_version(engine, version)) {
		if (jbd2_newer(oldest->first_transaction, version->first_transaction))
			oldest = version;
		if (!jbd2_newer(version->first_transaction, as_of) && (!best
		    || jbd2_newer(version->first_transaction, best->first_transaction)))
			best = version;
	}
	return best ? best : oldest;
}

/* The index holds the first version of each number; the others hang from it. */
static int index_grow(struct engine *engine)
{
	size_t size = engine->index_size ? engine->index_size * 2 : 1024, i, slot;

	free(engine->index);
	if (!(engine->index = calloc(size, sizeof *engine->index)))
		return -1;
	engine->index_size = size;
	for (i = 0; i < engine->count; i++) {
		slot = hash_slot(engine, engine->candidates[i].inode);
		if (!engine->index[slot])
			engine->index[slot] = i + 1;
	}
	return 0;
}

static struct candidate *candidate_add(struct engine *engine, uint32_t inode)
{
	struct candidate *bigger;

	if (engine->count == engine->capacity) {
		engine->capacity = engine->capacity ? engine->capacity * 2 : 256;
		if (!(bigger = realloc(engine->candidates, engine->capacity * sizeof *bigger)))
			return NULL;
		engine->candidates = bigger;
	}
	memset(&engine->candidates[engine->count], 0, sizeof *engine->candidates);
	engine->candidates[engine->count].inode = inode;
	engine->count++;
	if ((engine->count * 2 > engine->index_size && index_grow(engine) != 0))
		return NULL;
	if (!engine->index[hash_slot(engine, inode)])
		engine->index[hash_slot(engine, inode)] = engine->count;
	return &engine->candidates[engine->count - 1];
}

static void read_live(struct engine *engine, struct candidate *version)
{
	struct ext2_inode_large live;

	memset(&live, 0, sizeof live);
	if (ext2fs_read_inode_full(engine->fs, version->inode, (struct ext2_inode *)&live,
	    sizeof live) != 0)
		return;		/* unreadable: every version counts as deleted */
	version->live_links = live.i_links_count;
	version->live_generation = live.i_generation;
	version->live_dtime = live.i_dtime;
}

static void inherit_live(struct candidate *version, const struct candidate *from)
{
	version->live_links = from->live_links;
	version->live_generation = from->live_generation;
	version->live_dtime = from->live_dtime;
}

/* The version GENERATION of INODE, made on first sight (the live inode read once per
 * number). Versions are linked by index: adding one may move them all. */
static struct candidate *version_for(struct engine *engine, uint32_t inode,
    uint32_t generation, uint32_t transaction)
{
	struct candidate *version = first_version(engine, inode);
	size_t first = 0, last = 0;

	for (; version; version = next_version(engine, version)) {
		if (version->generation == generation)
			return version;
		last = (size_t)(version - engine->candidates) + 1;
		first = first ? first : last;
	}
	if (!(version = candidate_add(engine, inode)))
		return NULL;
	version->generation = generation;
	version->first_transaction = version->last_transaction = transaction;
	if (last) {
		engine->candidates[last - 1].next = engine->count;
		inherit_live(version, &engine->candidates[first - 1]);
	} else
		read_live(engine, version);
	version->deleted = !version->live_links || version->live_generation != generation;
	version->reused = version->deleted && version->live_links;
	if (!version->live_links && version->live_generation == generation)
		version->dtime = version->live_dtime;
	return version;
}

/* ------------------------------------------------------------------ inode tables */

static int by_start(const void *a, const void *b)
{
	const struct table_span *left = a, *right = b;

	return left->start < right->start ? -1 : left->start > right->start;
}

static int find_tables(struct engine *engine)
{
	dgrp_t group;

	engine->table_count = engine->fs->group_desc_count;
	if (!(engine->tables = calloc(engine->table_count, sizeof *engine->tables)))
		return -1;
	for (group = 0; group < engine->fs->group_desc_count; group++)
		engine->tables[group] = (struct table_span){ ext2fs_inode_table_loc(engine->fs,
		    group), group };
	array_sort(engine->tables, engine->table_count, sizeof *engine->tables, by_start);
	return 0;
}

/* The group whose inode table holds BLOCK, or -1. */
static long table_group(const struct engine *engine, uint64_t block)
{
	size_t low = 0, high = engine->table_count, middle;
	const struct table_span *span;

	while (low < high) {	/* the last table starting at or before BLOCK */
		middle = low + (high - low) / 2;
		if (engine->tables[middle].start <= block)
			low = middle + 1;
		else
			high = middle;
	}
	if (!low)
		return -1;
	span = &engine->tables[low - 1];
	if (!span->start || block >= span->start + engine->fs->inode_blocks_per_group)
		return -1;
	return span->group;
}

int engine_in_inode_table(const struct engine *engine, uint64_t block)
{
	return table_group(engine, block) >= 0;
}

/* ------------------------------------------------------------------ the copies */

static int has_extents(const struct ext2_inode_large *inode)
{
	return (inode->i_flags & EXT4_EXTENTS_FL) != 0;
}

/* Whether a copy holds what is needed to read the file back: a block map with something
 * in it (or nothing to map: empty, a fast symbolic link). */
static int copy_usable(const struct ext2_inode_large *inode)
{
	const unsigned char *map = (const unsigned char *)inode->i_block;
	size_t i;

	if (inode->i_links_count == 0 || !inode->i_mode)
		return 0;
	if (!LINUX_S_ISREG(inode->i_mode) && !LINUX_S_ISDIR(inode->i_mode)
	    && !LINUX_S_ISLNK(inode->i_mode))
		return 0;
	if (EXT2_I_SIZE(inode) == 0 || (LINUX_S_ISLNK(inode->i_mode) && inode->i_blocks == 0)
	    || (inode->i_flags & EXT4_INLINE_DATA_FL))
		return 1;
	if (has_extents(inode))
		return le16(map) == EXTENT_MAGIC && le16(map + 2) > 0;
	for (i = 0; i < EXT2_N_BLOCKS; i++)
		if (inode->i_block[i])
			return 1;
	return 0;
}

/* The raw inode's bytes after 128 + i_extra_isize into *AREA (malloc'd), *SIZE of them;
 * none for a 128-byte inode or a bad i_extra_isize. 0, or -1 without memory. */
static int xattr_area_of(const unsigned char *raw, size_t inode_size,
    const struct ext2_inode_large *inode, unsigned char **area, uint16_t *size)
{
	size_t start = EXT2_GOOD_OLD_INODE_SIZE + inode->i_extra_isize;

	*area = NULL, *size = 0;
	if (inode_size <= EXT2_GOOD_OLD_INODE_SIZE || inode->i_extra_isize % 4
	    || start >= inode_size || inode_size - start > UINT16_MAX)
		return 0;
	if (!(*area = malloc(inode_size - start)))
		return -1;
	memcpy(*area, raw + start, inode_size - start);
	*size = (uint16_t)(inode_size - start);
	return 0;
}

/* An inline-data directory's entries live in its inode: every copy of one (deleted or
 * live) is kept for the names (undelete_names.c). 0, or -1 without memory. */
static int note_inline_dir(struct engine *engine, const unsigned char *raw, size_t size,
    const struct ext2_inode_large *inode, uint32_t number, uint32_t transaction)
{
	struct inline_dir *dir, *bigger;
	unsigned char *area;
	uint16_t area_size;
	ssize_t length;

	if (!LINUX_S_ISDIR(inode->i_mode) || !(inode->i_flags & EXT4_INLINE_DATA_FL)
	    || !inode->i_links_count)
		return 0;
	if (xattr_area_of(raw, size, inode, &area, &area_size) != 0)
		return -1;
	if (engine->inline_dir_count == engine->inline_dir_capacity) {
		engine->inline_dir_capacity = engine->inline_dir_capacity * 2 + 16;
		if (!(bigger = realloc(engine->inline_dirs, engine->inline_dir_capacity
		    * sizeof *bigger))) {
			free(area);
			return -1;
		}
		engine->inline_dirs = bigger;
	}
	dir = &engine->inline_dirs[engine->inline_dir_count];
	*dir = (struct inline_dir){ number, transaction, malloc(size + 64), 0 };
	length = dir->bytes ? ext_inline_data((const unsigned char *)inode->i_block, area,
	    area_size, dir->bytes, size + 64) : -1;
	free(area);
	if (!dir->bytes)
		return -1;
	if (length < 0 || (size_t)length > size + 64) {
		free(dir->bytes);	/* damaged attributes: no names from this copy */
		return 0;
	}
	dir->size = (size_t)length;
	engine->inline_dir_count++;
	return 0;
}

/* 0, or -1 without memory. */
static int take_copy(struct engine *engine, const struct jbd2_copy *copy,
    const unsigned char *block, size_t offset, uint32_t inode)
{
	size_t size = EXT2_INODE_SIZE(engine->fs->super);
	struct ext2_inode_large parsed;
	struct candidate *candidate;

	memset(&parsed, 0, sizeof parsed);
	memcpy(&parsed, block + offset, size < sizeof parsed ? size : sizeof parsed);
	if (size <= EXT2_GOOD_OLD_INODE_SIZE)
		parsed.i_extra_isize = 0;
	if (!parsed.i_mode || (inode < EXT2_FIRST_INODE(engine->fs->super)
	    && inode != EXT2_ROOT_INO))
		return 0;
	if (!(candidate = version_for(engine, inode, parsed.i_generation, copy->transaction)))
		return -1;
	if (jbd2_newer(candidate->first_transaction, copy->transaction))
		candidate->first_transaction = copy->transaction;
	if (jbd2_newer(copy->transaction, candidate->last_transaction))
		candidate->last_transaction = copy->transaction;
	if (note_inline_dir(engine, block + offset, size, &parsed, inode, copy->transaction))
		return -1;
	if (!candidate->deleted || !copy_usable(&parsed) || (candidate->has_copy
	    && !jbd2_newer(copy->transaction, candidate->transaction)))
		return 0;
	candidate->has_copy = 1;
	candidate->transaction = copy->transaction;
	candidate->copy = parsed;
	free(candidate->xattr_area);
	return xattr_area_of(block + offset, size, &parsed, &candidate->xattr_area,
	    &candidate->xattr_area_size);
}

static int read_inode_copies(struct engine *engine, struct undelete_counts *counts)
{
	const struct jbd2_log *log = &engine->log;
	const struct jbd2_copy *copy;
	uint32_t per_group = EXT2_INODES_PER_GROUP(engine->fs->super), first;
	size_t i, offset, size = EXT2_INODE_SIZE(engine->fs->super);
	long group;

	for (i = 0; i < log->copy_count; i++) {
		copy = &log->copies[i];
		if (!copy->trusted || (group = table_group(engine, copy->block)) < 0)
			continue;
		counts->inode_copies++;
		if (jbd2_log_read_copy(log, ext_journal_read, &engine->journal, copy,
		    engine->block) != 0)
			continue;
		first = (uint32_t)group * per_group + 1 + (uint32_t)(copy->block
		    - ext2fs_inode_table_loc(engine->fs, (dgrp_t)group))
		    * (uint32_t)(engine->fs->blocksize / size);
		for (offset = 0; offset + size <= engine->fs->blocksize; offset += size)
			if (take_copy(engine, copy, engine->block, offset,
			    first + (uint32_t)(offset / size)) != 0)
				return -1;
	}
	return 0;
}

int engine_read_as_of(struct engine *engine, uint64_t block, uint32_t as_of, void *buffer,
    uint32_t *from)
{
	size_t count, i;
	const struct jbd2_copy *copies = jbd2_log_copies(&engine->log, block, &count);

	for (i = count; i-- > 0;) {
		if (!copies[i].trusted || jbd2_newer(copies[i].transaction, as_of))
			continue;
		if (jbd2_log_read_copy(&engine->log, ext_journal_read, &engine->journal,
		    &copies[i], buffer) == 0) {
			*from = copies[i].transaction;
			return 0;
		}
	}
	*from = 0;
	if (block >= ext2fs_blocks_count(engine->fs->super))
		return -1;
	return io_channel_read_blk64(engine->fs->io, block, 1, buffer) == 0 ? 0 : -1;
}

/* ------------------------------------------------------------------ block maps */

struct mapping {
	struct engine *engine;
	struct undelete_file *file;
	uint64_t blocks;		/* the file's size in blocks: nothing past it is mapped */
	uint32_t as_of;
	int incomplete;
	char problem[120];
};

static void map_problem(struct mapping *mapping, const char *format, uint64_t block)
{
	mapping->incomplete = 1;
	if (!mapping->problem[0])
		snprintf(mapping->problem, sizeof mapping->problem, format,
		    (unsigned long long)block);
}

static int add_run(struct mapping *mapping, uint64_t logical, uint64_t physical,
    uint64_t length, int unwritten)
{
	struct undelete_file *file = mapping->file;
	struct undelete_run *last = file->run_count ? &file->runs[file->run_count - 1] : NULL;
	struct undelete_run *bigger;

	if (logical >= mapping->blocks || !length)
		return 0;
	if (length > mapping->blocks - logical)
		length = mapping->blocks - logical;
	if (last && last->logical + last->length == logical && last->physical + last->length
	    == physical && last->unwritten == unwritten && last->length + length < UINT32_MAX) {
		last->length += (uint32_t)length;
		return 0;
	}
	if (file->run_count >= RUNS_MAX)
		return 0;
	if (!(file->run_count & (file->run_count + 1)) || !file->runs) {
		bigger = realloc(file->runs, (file->run_count + 1) * 2 * sizeof *bigger);
		if (!bigger)
			return -1;
		file->runs = bigger;
	}
	file->runs[file->run_count++] = (struct undelete_run){ logical, physical,
	    (uint32_t)length, (uint8_t)unwritten };
	return 0;
}

static int map_extent_node(struct mapping *mapping, const unsigned char *node, size_t size,
    int level);

static int map_extent_child(struct mapping *mapping, uint64_t block, int level)
{
	struct engine *engine = mapping->engine;
	unsigned char *buffer = malloc(engine->fs->blocksize);
	uint32_t from;
	int rc = 0;

	if (!buffer)
		return -1;
	if (engine_read_as_of(engine, block, mapping->as_of, buffer, &from) != 0)
		map_problem(mapping, "extent tree block %llu cannot be read", block);
	else {
		if (from && jbd2_newer(from, mapping->file->map_transaction))
			mapping->file->map_transaction = from;
		if (!from)
			mapping->file->map_from_disk = 1;
		rc = map_extent_node(mapping, buffer, engine->fs->blocksize, level + 1);
		if (rc == 1)
			map_problem(mapping, "extent tree block %llu was emptied by the deletion "
			    "and no older copy is in the journal", block);
	}
	free(buffer);
	return rc < 0 ? -1 : 0;
}

/* 0, -1 without memory, 1 when NODE is not an extent node with entries. */
static int map_extent_node(struct mapping *mapping, const unsigned char *node, size_t size,
    int level)
{
	unsigned entries = le16(node + 2), max = le16(node + 4), depth = le16(node + 6), i;
	const unsigned char *entry;
	uint64_t physical;
	unsigned length;

	if (size < 12 || le16(node) != EXTENT_MAGIC || entries == 0 || entries > max
	    || 12 + (size_t)entries * 12 > size || depth > EXTENT_DEPTH_MAX
	    || level > EXTENT_DEPTH_MAX)
		return 1;
	for (i = 0; i < entries; i++) {
		entry = node + 12 + i * 12;
		if (depth > 0) {
			physical = le32(entry + 4) | (uint64_t)le16(entry + 8) << 32;
			if (map_extent_child(mapping, physical, level) != 0)
				return -1;
			continue;
		}
		length = le16(entry + 4);
		physical = le32(entry + 8) | (uint64_t)le16(entry + 6) << 32;
		if (add_run(mapping, le32(entry), physical, length > UNWRITTEN_BASE ? length
		    - UNWRITTEN_BASE : length, length > UNWRITTEN_BASE) != 0)
			return -1;
	}
	return 0;
}

/* One pointer of an ext2/3 map at LEVEL (0: a data block; 1: an indirect block ...),
 * covering the blocks from *LOGICAL on. */
static int map_pointer(struct mapping *mapping, uint32_t pointer, int level,
    uint64_t *logical)
{
	struct engine *engine = mapping->engine;
	uint64_t per = engine->fs->blocksize / 4, span = 1;
	unsigned char *buffer;
	uint32_t from;
	uint64_t i;
	int k, rc = 0;

	for (k = 0; k < level; k++)
		span *= per;
	if (!pointer || *logical >= mapping->blocks) {
		*logical += span;
		return 0;
	}
	if (level == 0) {
		rc = add_run(mapping, *logical, pointer, 1, 0);
		*logical += 1;
		return rc;
	}
	if (!(buffer = malloc(engine->fs->blocksize)))
		return -1;
	if (engine_read_as_of(engine, pointer, mapping->as_of, buffer, &from) != 0) {
		map_problem(mapping, "indirect block %llu cannot be read", pointer);
		*logical += span;
	} else {
		if (!from)
			mapping->file->map_from_disk = 1;
		else if (jbd2_newer(from, mapping->file->map_transaction))
			mapping->file->map_transaction = from;
		for (i = 0; i < per && rc == 0; i++)
			rc = map_pointer(mapping, le32(buffer + i * 4), level - 1, logical);
	}
	free(buffer);
	return rc;
}

static int map_indirect(struct mapping *mapping, const struct ext2_inode_large *inode)
{
	uint64_t logical = 0;
	int i, rc = 0;

	for (i = 0; i < DIRECT_BLOCKS && rc == 0; i++)
		rc = map_pointer(mapping, inode->i_block[i], 0, &logical);
	for (i = 0; i < 3 && rc == 0; i++)
		rc = map_pointer(mapping, inode->i_block[DIRECT_BLOCKS + i], i + 1, &logical);
	return rc;
}

/* ------------------------------------------------------------------ recoverability */

static int block_free(struct engine *engine, uint64_t block)
{
	return block >= engine->fs->super->s_first_data_block
	    && block < ext2fs_blocks_count(engine->fs->super)
	    && !ext2fs_test_block_bitmap2(engine->fs->block_map, block);
}

static int block_taken(const struct undelete_file *file, uint64_t block)
{
	size_t i;

	for (i = 0; i < file->taken_count; i++)
		if (block >= file->taken[i].start && block < file->taken[i].end)
			return 1;
	return 0;
}

/* The run holding LOGICAL, or NULL (a hole). */
static const struct undelete_run *run_at(const struct undelete_file *file, uint64_t logical)
{
	size_t low = 0, high = file->run_count, middle;

	while (low < high) {
		middle = low + (high - low) / 2;
		if (file->runs[middle].logical + file->runs[middle].length <= logical)
			low = middle + 1;
		else
			high = middle;
	}
	if (low < file->run_count && file->runs[low].logical <= logical)
		return &file->runs[low];
	return NULL;
}

static int by_logical(const void *a, const void *b)
{
	const struct undelete_run *left = a, *right = b;

	return left->logical < right->logical ? -1 : left->logical > right->logical;
}

static int give_up_range(struct undelete_file *file, uint64_t start, uint64_t end);

/* ------------------------------------------------------------------ bitmap history */

/* A block the file had, that a journal copy of its group's bitmap shows free and a newer
 * one in use again, went to another file after the deletion, even when the live bitmap
 * says it is free again (that file was deleted too, maybe before the journal kept its
 * inode). The copies of one group's bitmap newer than the file's inode copy are read
 * once per group. */
struct bitmap_history {
	dgrp_t group;
	int loaded;
	unsigned char *copies;		/* count blocks, oldest first */
	size_t count;
};

static int load_history(struct engine *engine, struct bitmap_history *history,
    dgrp_t group, uint32_t since)
{
	size_t count, i, size = engine->fs->blocksize;
	const struct jbd2_copy *copies = jbd2_log_copies(&engine->log,
	    ext2fs_block_bitmap_loc(engine->fs, group), &count);
	unsigned char *bigger;

	history->group = group;
	history->loaded = 1;
	history->count = 0;
	for (i = 0; i < count; i++) {
		if (!copies[i].trusted || !jbd2_newer(copies[i].transaction, since))
			continue;
		if (!(bigger = realloc(history->copies, (history->count + 1) * size)))
			return -1;
		history->copies = bigger;
		if (jbd2_log_read_copy(&engine->log, ext_journal_read, &engine->journal,
		    &copies[i], history->copies + history->count * size) == 0)
			history->count++;
	}
	return 0;
}

static int reused_since(struct engine *engine, struct bitmap_history *history,
    uint64_t block, uint32_t since)
{
	dgrp_t group = ext2fs_group_of_blk2(engine->fs, block);
	uint64_t bit = (block - ext2fs_group_first_block2(engine->fs, group))
	    >> engine->fs->cluster_ratio_bits;
	size_t i, size = engine->fs->blocksize;
	int freed = 0, set;

	if ((!history->loaded || history->group != group)
	    && load_history(engine, history, group, since) != 0)
		return -1;
	if (bit / 8 >= size)
		return 0;
	for (i = 0; i < history->count; i++) {
		set = history->copies[i * size + bit / 8] >> (bit % 8) & 1;
		if (!set)
			freed = 1;
		else if (freed)
			return 1;
	}
	return 0;
}

static int note_reused(struct engine *engine, struct undelete_file *file)
{
	struct bitmap_history history = { 0 };
	const struct undelete_run *run;
	uint64_t block, start = 0;
	size_t r;
	int rc = 0, reused, open = 0;

	for (r = 0; r < file->run_count && rc == 0; r++) {
		run = &file->runs[r];
		for (block = run->physical; !run->unwritten && rc == 0
		    && block < run->physical + run->length; block++) {
			if (block >= ext2fs_blocks_count(engine->fs->super)
			    || (reused = reused_since(engine, &history, block,
			    file->inode_transaction)) < 0) {
				rc = block >= ext2fs_blocks_count(engine->fs->super) ? 0 : -1;
				break;
			}
			if (reused && !open)
				start = block, open = 1;
			if (!reused && open) {
				rc = give_up_range(file, start, block);
				open = 0;
			}
		}
		if (open && rc == 0)
			rc = give_up_range(file, start, run->physical + run->length);
		open = 0;
	}
	free(history.copies);
	return rc;
}

struct verdict {
	uint64_t in_use, taken, first_in_use, first_taken;
};

static void count_block(struct engine *engine, struct undelete_file *file, uint64_t block,
    uint64_t bytes, struct verdict *verdict)
{
	if (!block_free(engine, block)) {
		if (!verdict->in_use++)
			verdict->first_in_use = block;
	} else if (block_taken(file, block)) {
		if (!verdict->taken++)
			verdict->first_taken = block;
	} else
		file->recoverable += bytes;
}

/* Said when there was no memory for the reason itself (never freed). */
static char no_memory_for_reason[] = "(no memory left to say why)";

const char *undelete_reason(const struct undelete_file *file)
{
	return file->reason ? file->reason : "";
}

/* FILE's reason becomes TEXT ("": none). Most files are whole: they carry no text. */
static void set_reason(struct undelete_file *file, const char *text)
{
	if (file->reason != no_memory_for_reason)
		free(file->reason);
	file->reason = NULL;
	if (text[0] && !(file->reason = strdup(text)))
		file->reason = no_memory_for_reason;
}

static void explain(struct undelete_file *file, const struct verdict *verdict)
{
	char reason[160] = "";
	size_t used = 0;

	if (file->map_incomplete)
		return;		/* the lost map says more */
	if (verdict->in_use)
		used = (size_t)snprintf(reason, sizeof reason, "%" PRIu64 " of its "
		    "blocks are in use again since the deletion (the first: block %" PRIu64 ")",
		    verdict->in_use, verdict->first_in_use);
	if (verdict->taken && used < sizeof reason)
		snprintf(reason + used, sizeof reason - used, "%s%" PRIu64 " of its "
		    "blocks were another file's after the deletion, a file deleted since (the "
		    "first: block %" PRIu64 ")",
		    used ? "; " : "", verdict->taken, verdict->first_taken);
	set_reason(file, reason);
}

static void judge(struct engine *engine, struct undelete_file *file)
{
	uint64_t size = engine->fs->blocksize, logical, bytes;
	const struct undelete_run *run;
	struct verdict verdict = { 0 };

	file->recoverable = 0;
	for (logical = 0; logical * size < file->size; logical++) {
		bytes = file->size - logical * size < size ? file->size - logical * size : size;
		run = run_at(file, logical);
		if (!run)
			file->recoverable += file->map_incomplete ? 0 : bytes;	/* a hole */
		else if (run->unwritten)
			file->recoverable += bytes;
		else
			count_block(engine, file, run->physical + (logical - run->logical), bytes,
			    &verdict);
	}
	explain(file, &verdict);
	file->state = file->recoverable == file->size && !file->map_incomplete
	    ? UNDELETE_WHOLE : file->recoverable > 0 ? UNDELETE_PARTIAL : UNDELETE_NAME_ONLY;
}

static int fast_link(struct undelete_file *file, const struct ext2_inode_large *inode)
{
	size_t length = (size_t)EXT2_I_SIZE(inode);

	if (length >= sizeof inode->i_block)
		return 0;
	if (!(file->link = strndup((const char *)inode->i_block, length)))
		return -1;
	file->state = UNDELETE_WHOLE;
	file->recoverable = file->size;
	return 1;
}

static int read_block(struct engine *engine, const struct undelete_file *file,
    uint64_t logical, unsigned char *buffer);

/* A target too long for the inode is in the link's one data block. Not whole: no target,
 * which the tree reports as a failed node. */
static int slow_link(struct engine *engine, struct undelete_file *file)
{
	if (file->state != UNDELETE_WHOLE || !file->size || file->size >= engine->fs->blocksize
	    || read_block(engine, file, 0, engine->block) != 0)
		return 0;
	if (!(file->link = strndup((const char *)engine->block, (size_t)file->size)))
		return -1;
	return 0;
}

/* An inline-data file: its bytes are the copy's i_block and system.data, whole when they
 * hold all of its size. A directory's are entries, read for names, not here. */
static int inline_file(const struct candidate *candidate, struct undelete_file *file)
{
	const struct ext2_inode_large *inode = &candidate->copy;
	size_t size = (size_t)file->size;
	ssize_t length;

	if (LINUX_S_ISDIR(inode->i_mode) || !size)
		return 0;
	if (!(file->inline_data = malloc(size + 1)))
		return -1;
	length = ext_inline_data((const unsigned char *)inode->i_block, candidate->xattr_area,
	    candidate->xattr_area_size, file->inline_data, size);
	if (length < 0 || (size_t)length < size) {
		free(file->inline_data);
		file->inline_data = NULL;
		file->state = UNDELETE_NAME_ONLY;
		set_reason(file, length < 0 ? "its data was inline in the inode, and the copy "
		    "holds damaged attributes" : "its data was inline in the inode, and the copy "
		    "holds less of it");
		return 0;
	}
	file->inline_data[size] = '\0';
	file->state = UNDELETE_WHOLE;
	file->recoverable = file->size;
	if (LINUX_S_ISLNK(inode->i_mode)
	    && !(file->link = strndup((const char *)file->inline_data, size)))
		return -1;
	return 0;
}

int engine_build_map(struct engine *engine, struct candidate *candidate,
    struct undelete_file *file)
{
	const struct ext2_inode_large *inode = &candidate->copy;
	struct mapping mapping = { engine, file, 0, candidate->transaction, 0, "" };
	int rc = 0;

	if (LINUX_S_ISLNK(inode->i_mode) && (rc = fast_link(file, inode)) != 0)
		return rc < 0 ? -1 : 0;
	mapping.blocks = (file->size + engine->fs->blocksize - 1) / engine->fs->blocksize;
	if (inode->i_flags & EXT4_INLINE_DATA_FL)
		return inline_file(candidate, file);
	if (has_extents(inode))
		rc = map_extent_node(&mapping, (const unsigned char *)inode->i_block,
		    sizeof inode->i_block, 0);
	else
		rc = map_indirect(&mapping, inode);
	if (rc < 0)
		return -1;
	array_sort(file->runs, file->run_count, sizeof *file->runs, by_logical);
	if (!LINUX_S_ISDIR(inode->i_mode) && note_reused(engine, file) != 0)
		return -1;
	file->map_incomplete = mapping.incomplete;
	if (mapping.problem[0])
		set_reason(file, mapping.problem);
	judge(engine, file);
	return LINUX_S_ISLNK(inode->i_mode) ? slow_link(engine, file) : 0;
}

/* ------------------------------------------------------------------ the files */

static int64_t seconds_of(uint32_t low)
{
	return (int64_t)(int32_t)low;
}

static void fill_stat(struct undelete_file *file, const struct candidate *candidate)
{
	const struct ext2_inode_large *inode = &candidate->copy;
	int large = inode->i_extra_isize >= 24;	/* i_mtime_extra is there */

	file->inode = candidate->inode;
	file->mode = inode->i_mode;
	file->uid = inode->i_uid | (uint32_t)inode->osd2.linux2.l_i_uid_high << 16;
	file->gid = inode->i_gid | (uint32_t)inode->osd2.linux2.l_i_gid_high << 16;
	file->size = LINUX_S_ISDIR(inode->i_mode) ? 0 : EXT2_I_SIZE(inode);
	file->atime = seconds_of(inode->i_atime);
	file->mtime = seconds_of(inode->i_mtime);
	file->ctime = seconds_of(inode->i_ctime);
	if (large) {
		file->mtime += (int64_t)(inode->i_mtime_extra & 3) << 32;
		file->mtime_nsec = (long)(inode->i_mtime_extra >> 2);
	}
	file->dtime = candidate->dtime;
	file->inode_transaction = candidate->transaction;
}

static int wanted(const struct undelete_options *options, const struct undelete_file *file,
    struct undelete_counts *counts)
{
	const char **pattern;

	if ((options->after && file->dtime < options->after)
	    || (options->before && file->dtime > options->before)) {
		counts->outside_window++;
		return 0;
	}
	if (!options->paths || !options->paths[0])
		return 1;
	for (pattern = options->paths; *pattern; pattern++)
		if (dump_pattern_matches(*pattern, file->path))
			return 1;
	counts->not_matched++;
	return 0;
}

static int add_file(struct engine *engine, struct undelete *undelete,
    struct candidate *candidate)
{
	struct undelete_file *file = &undelete->files[undelete->count];
	const struct jbd2_transaction *transaction;

	memset(file, 0, sizeof *file);
	fill_stat(file, candidate);
	transaction = jbd2_log_transaction(&engine->log, candidate->transaction);
	file->inode_committed = transaction ? transaction->commit_seconds : 0;
	file->name_transaction = candidate->name_transaction;
	file->xattr_block = candidate->copy.i_file_acl
	    | (uint64_t)candidate->copy.osd2.linux2.l_i_file_acl_high << 32;
	if (candidate->xattr_area_size) {
		if (!(file->xattr_area = malloc(candidate->xattr_area_size)))
			return -1;
		memcpy(file->xattr_area, candidate->xattr_area, candidate->xattr_area_size);
		file->xattr_area_size = candidate->xattr_area_size;
	}
	if (!(file->path = names_path(engine, candidate)))
		return -1;
	undelete->count++;
	if (LINUX_S_ISDIR(file->mode)) {
		file->state = UNDELETE_WHOLE;
		return 0;
	}
	return engine_build_map(engine, candidate, file);
}

void engine_file_free(struct undelete_file *file)
{
	free(file->path);
	free(file->link);
	free(file->runs);
	free(file->taken);
	free(file->inline_data);
	free(file->xattr_area);
	set_reason(file, "");
	free(file->carved);
}

/* Only the wanted files stay (after the shared blocks were judged among all of them). */
static void select_files(struct undelete *undelete, const struct undelete_options *options)
{
	size_t i, kept = 0;

	for (i = 0; i < undelete->count; i++) {
		if (wanted(options, &undelete->files[i], &undelete->counts))
			undelete->files[kept++] = undelete->files[i];
		else
			engine_file_free(&undelete->files[i]);
	}
	undelete->count = kept;
}

/* ------------------------------------------------------------------ shared blocks */

/* A block two deleted files claim was freed by the one and allocated by the other: it
 * holds the content of the one whose inode copy is newer. */
struct span {
	uint64_t start, end;
	size_t file;
};

static int by_start_block(const void *a, const void *b)
{
	const struct span *left = a, *right = b;

	return left->start < right->start ? -1 : left->start > right->start;
}

static int give_up_range(struct undelete_file *file, uint64_t start, uint64_t end)
{
	struct undelete_range *bigger = realloc(file->taken, (file->taken_count + 1)
	    * sizeof *bigger);

	if (!bigger)
		return -1;
	file->taken = bigger;
	file->taken[file->taken_count++] = (struct undelete_range){ start, end };
	return 0;
}

static int collect_spans(struct undelete *undelete, struct span **spans, size_t *count)
{
	const struct undelete_file *file;
	size_t i, r, capacity = 0;
	struct span *bigger;

	*spans = NULL, *count = 0;
	for (i = 0; i < undelete->count; i++) {
		file = &undelete->files[i];
		for (r = 0; r < file->run_count; r++) {
			if (file->runs[r].unwritten)
				continue;
			if (*count == capacity) {
				capacity = capacity ? capacity * 2 : 256;
				if (!(bigger = realloc(*spans, capacity * sizeof *bigger)))
					return -1;
				*spans = bigger;
			}
			(*spans)[(*count)++] = (struct span){ file->runs[r].physical,
			    file->runs[r].physical + file->runs[r].length, i };
		}
	}
	array_sort(*spans, *count, sizeof **spans, by_start_block);
	return 0;
}

static int resolve_shared_blocks(struct engine *engine, struct undelete *undelete)
{
	struct undelete_file *left, *right, *loser;
	struct span *spans;
	size_t count, a, b;
	int rc = 0;

	if (collect_spans(undelete, &spans, &count) != 0)
		return -1;
	for (a = 0; a < count && rc == 0; a++)
		for (b = a + 1; b < count && spans[b].start < spans[a].end && rc == 0; b++) {
			left = &undelete->files[spans[a].file];
			right = &undelete->files[spans[b].file];
			if (left == right || left->inode_transaction == right->inode_transaction)
				continue;
			loser = jbd2_newer(left->inode_transaction, right->inode_transaction)
			    ? right : left;
			rc = give_up_range(loser, spans[b].start, spans[b].end < spans[a].end
			    ? spans[b].end : spans[a].end);
		}
	free(spans);
	for (a = 0; a < undelete->count && rc == 0; a++)
		if (undelete->files[a].taken_count)
			judge(engine, &undelete->files[a]);
	return rc;
}

static int by_path(const void *a, const void *b)
{
	return strcmp(((const struct undelete_file *)a)->path,
	    ((const struct undelete_file *)b)->path);
}

/* Two deleted files at one path (a file saved anew, then deleted again): the newer keeps
 * it, the older becomes PATH.undeleted-INODE-TRANSACTION. */
static int rename_duplicates(struct undelete *undelete)
{
	struct undelete_file *older;
	size_t i, length, renamed = 0;
	char *path;

	for (i = 1; i < undelete->count; i++) {
		if (strcmp(undelete->files[i - 1].path, undelete->files[i].path) != 0)
			continue;
		older = jbd2_newer(undelete->files[i].inode_transaction,
		    undelete->files[i - 1].inode_transaction) ? &undelete->files[i - 1]
		    : &undelete->files[i];
		length = strlen(older->path) + 40;
		if (!(path = malloc(length)))
			return -1;
		snprintf(path, length, "%s.undeleted-%u-%u", older->path, older->inode,
		    older->inode_transaction);
		free(older->path);
		older->path = path;
		renamed++;
	}
	if (renamed)
		qsort(undelete->files, undelete->count, sizeof *undelete->files, by_path);
	return 0;
}

static int make_files(struct engine *engine, struct undelete *undelete,
    const struct undelete_options *options)
{
	size_t i, deleted = 0;

	for (i = 0; i < engine->count; i++)
		deleted += engine->candidates[i].deleted && engine->candidates[i].has_copy;
	undelete->counts.deleted_inodes = deleted;
	if (!(undelete->files = calloc(deleted ? deleted : 1, sizeof *undelete->files)))
		return -1;
	for (i = 0; i < engine->count; i++)
		if (engine->candidates[i].deleted && engine->candidates[i].has_copy
		    && add_file(engine, undelete, &engine->candidates[i]) != 0)
			return -1;
	if (resolve_shared_blocks(engine, undelete) != 0)
		return -1;
	select_files(undelete, options);
	array_sort(undelete->files, undelete->count, sizeof *undelete->files, by_path);
	return rename_duplicates(undelete);
}

/* ------------------------------------------------------------------ the scan */

static int open_fs(struct engine *engine, const char *device, char *why, size_t why_size,
    int *code)
{
	unsigned long superblock;
	char said[256];
	errcode_t error;

	if (extfs_open(device, &engine->fs, &superblock, said, sizeof said) != 0) {
		*code = 2;
		snprintf(why, why_size, "%s is not an ext2/3/4 file system: %s", device, said);
		return -1;
	}
	if ((error = ext2fs_read_block_bitmap(engine->fs)) != 0) {
		snprintf(why, why_size, "unable to read the block bitmap of %s: %s", device,
		    error_message(error));
		return -1;
	}
	if (!(engine->block = malloc(engine->fs->blocksize)) || find_tables(engine) != 0) {
		snprintf(why, why_size, "out of memory");
		return -1;
	}
	return 0;
}

/* What was read, and what of the journal had to be left out (a damaged or stale block is
 * skipped, never trusted: the user sees how many). */
static void describe(struct engine *engine, struct undelete *undelete, const char *device)
{
	const struct jbd2_super *super = &engine->log.super;
	const struct jbd2_log *log = &engine->log;
	char where[160] = "", damage[160] = "";

	undelete->block_size = engine->fs->blocksize;
	if (engine->journal.device[0])
		snprintf(where, sizeof where, " on the external device %.100s",
		    engine->journal.device);
	if (log->bad_descriptors || log->bad_commits || log->bad_copies || log->bad_revokes)
		snprintf(damage, sizeof damage, "; left out as damaged or stale: %zu descriptor, "
		    "%zu commit, %zu revoke blocks, %zu copies", log->bad_descriptors,
		    log->bad_commits, log->bad_revokes, log->bad_copies);
	snprintf(undelete->description, sizeof undelete->description, "%s on %.100s, journal "
	    "of %u blocks%s (%s), %zu transactions%s", extfs_type(engine->fs->super), device,
	    super->max_length, where, super->incompat & JBD2_INCOMPAT_CSUM_V3 ? "CSUM_V3"
	    : super->incompat & JBD2_INCOMPAT_CSUM_V2 ? "CSUM_V2" : "no checksums",
	    log->transaction_count, damage);
}

int undelete_scan(const char *device, const struct undelete_options *options,
    struct undelete *undelete, char *why, size_t why_size, int *code)
{
	struct engine *engine = calloc(1, sizeof *engine);
	struct ext_journal_where where = { options->journal_device,
	    options->journal_candidates };
	char said[512];

	memset(undelete, 0, sizeof *undelete);
	*code = 3;
	if (!engine) {
		snprintf(why, why_size, "out of memory");
		return -1;
	}
	undelete->state = engine;
	engine->journal.fd = -1;
	if (open_fs(engine, device, why, why_size, code) != 0)
		return -1;
	if (ext_journal_scan(engine->fs, &where, &engine->journal, &engine->log, options->progress,
	    options->progress_context, said, sizeof said) != 0) {
		snprintf(why, why_size, "unable to read the journal of %s: %s", device, said);
		return -1;
	}
	undelete->counts.transactions = engine->log.transaction_count;
	undelete->counts.copies = engine->log.copy_count;
	describe(engine, undelete, device);
	if (read_inode_copies(engine, &undelete->counts) != 0
	    || names_collect(engine, &undelete->counts, why, why_size) != 0
	    || make_files(engine, undelete, options) != 0) {
		if (!why[0])
			snprintf(why, why_size, "out of memory for the index of %s", device);
		return -1;
	}
	return 0;
}

void undelete_free(struct undelete *undelete)
{
	struct engine *engine = undelete->state;
	size_t i;

	for (i = 0; i < undelete->count; i++)
		engine_file_free(&undelete->files[i]);
	free(undelete->files);
	if (engine) {
		for (i = 0; i < engine->count; i++) {
			free(engine->candidates[i].name);
			free(engine->candidates[i].xattr_area);
		}
		for (i = 0; i < engine->inline_dir_count; i++)
			free(engine->inline_dirs[i].bytes);
		free(engine->inline_dirs);
		free(engine->candidates);
		free(engine->index);
		free(engine->tables);
		free(engine->block);
		jbd2_log_free(&engine->log);
		ext_journal_close(&engine->journal);
		if (engine->fs)
			ext2fs_close_free(&engine->fs);
		free(engine);
	}
	memset(undelete, 0, sizeof *undelete);
}

/* ------------------------------------------------------------------ reading */

static int read_block(struct engine *engine, const struct undelete_file *file,
    uint64_t logical, unsigned char *buffer)
{
	const struct undelete_run *run = run_at(file, logical);
	uint64_t physical;

	if (!run || run->unwritten) {
		memset(buffer, 0, engine->fs->blocksize);
		return 0;
	}
	physical = run->physical + (logical - run->logical);
	if (!block_free(engine, physical) || block_taken(file, physical)) {
		errno = ENODATA;	/* another file's now */
		return -1;
	}
	if (io_channel_read_blk64(engine->fs->io, physical, 1, buffer) != 0) {
		errno = EIO;
		return -1;
	}
	return 0;
}

ssize_t undelete_read(struct undelete *undelete, const struct undelete_file *file,
    void *buffer, size_t size, uint64_t offset)
{
	struct engine *engine = undelete->state;
	uint64_t block_size = engine->fs->blocksize, within;
	unsigned char *out = buffer;
	size_t done = 0, piece;

	if (offset >= file->size)
		return 0;
	if (size > file->size - offset)
		size = (size_t)(file->size - offset);
	if (file->inline_data) {
		memcpy(out, file->inline_data + offset, size);
		return (ssize_t)size;
	}
	while (done < size) {
		within = (offset + done) % block_size;
		piece = block_size - within < size - done ? (size_t)(block_size - within)
		    : size - done;
		if (read_block(engine, file, (offset + done) / block_size, engine->block) != 0)
			return -1;
		memcpy(out + done, engine->block + within, piece);
		done += piece;
	}
	return (ssize_t)done;
}

/* ------------------------------------------------------------------ attributes */

struct xattr_list {
	struct fstree_xattr *list;
	size_t count, capacity;
	int failed;
};

static int xattr_add(struct xattr_list *xattrs, const char *name, const void *value,
    size_t size)
{
	struct fstree_xattr *bigger, *entry;

	if (xattrs->count == xattrs->capacity) {
		xattrs->capacity = xattrs->capacity * 2 + 8;
		if (!(bigger = realloc(xattrs->list, xattrs->capacity * sizeof *bigger)))
			return -1;
		xattrs->list = bigger;
	}
	entry = &xattrs->list[xattrs->count];
	entry->name = strdup(name);
	entry->value = malloc(size ? size : 1);
	entry->size = size;
	if (!entry->name || !entry->value) {
		free(entry->name);
		free(entry->value);
		return -1;
	}
	memcpy(entry->value, value, size);
	xattrs->count++;
	return 0;
}

/* One attribute as the kernel would list it: ACLs turned into its form, system.data
 * (inline data), unknown prefixes and values in an inode of their own left out. */
static int take_xattr(void *context, const struct ext_xattr_entry *entry)
{
	struct xattr_list *xattrs = context;
	unsigned char acl[1024];
	char name[300];
	ssize_t size;

	if (!entry->value || ext_xattr_name(entry, name, sizeof name) != 0
	    || !strcmp(name, "system.data"))
		return 0;
	if (entry->index == 2 || entry->index == 3) {
		if ((size = ext_acl_to_posix(entry->value, entry->value_size, acl, sizeof acl)) < 0)
			return 0;
		xattrs->failed |= xattr_add(xattrs, name, acl, (size_t)size) != 0;
		return xattrs->failed;
	}
	xattrs->failed |= xattr_add(xattrs, name, entry->value, entry->value_size) != 0;
	return xattrs->failed;
}

/* The attribute block as of the inode copy's transaction: the journal's copy, or the
 * disk's while the block is free (nothing took it since) or shared (the deletion only
 * dropped a reference). */
static void block_xattrs(struct engine *engine, const struct undelete_file *file,
    struct xattr_list *xattrs)
{
	uint32_t from;

	if (!file->xattr_block || file->xattr_block >= ext2fs_blocks_count(engine->fs->super)
	    || engine_read_as_of(engine, file->xattr_block, file->inode_transaction,
	    engine->block, &from) != 0)
		return;
	if (!from && !block_free(engine, file->xattr_block) && le32(engine->block + 4) < 2)
		return;
	ext_xattr_block(engine->block, engine->fs->blocksize, take_xattr, xattrs);
}

int undelete_xattrs(struct undelete *undelete, const struct undelete_file *file,
    struct fstree_xattr **list, size_t *count)
{
	struct xattr_list xattrs = { NULL, 0, 0, 0 };

	*list = NULL, *count = 0;
	if (file->carved)
		return 0;
	if (file->xattr_area)
		ext_xattr_ibody(file->xattr_area, file->xattr_area_size, take_xattr, &xattrs);
	if (!xattrs.failed)
		block_xattrs(undelete->state, file, &xattrs);
	if (xattrs.failed) {
		fstree_xattrs_free(xattrs.list, xattrs.count);
		errno = ENOMEM;
		return -1;
	}
	*list = xattrs.list;
	*count = xattrs.count;
	return 0;
}

void undelete_state_text(const struct undelete_file *file, char *text, size_t size)
{
	if (file->state == UNDELETE_WHOLE)
		snprintf(text, size, "whole");
	else if (file->state == UNDELETE_NAME_ONLY)
		snprintf(text, size, "name only");
	else
		snprintf(text, size, "partial %u%%", file->size ? (unsigned)(file->recoverable
		    * 100 / file->size) : 0);
}
