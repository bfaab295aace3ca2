/* undelete_names.c: names and paths of deleted inodes, from the journal's copies of
 * directory blocks (undelete.h, step 4).
 *
 * A copy is taken for a directory block when its entries chain exactly over the block
 * with sane lengths and names. Its directory is known by its "." entry (the first block
 * of every directory), else by the block maps of the deleted directories, else by those
 * of the live ones (read only when some block is still unplaced). An inline-data
 * directory keeps its entries in its inode: every journal copy of one names too.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/sort.h"
#include "salvage/undelete_engine.h"

enum { PATH_DEPTH_MAX = 256, INLINE_I_BLOCK = 60 };

struct dir_copy {
	const struct jbd2_copy *copy;
	uint32_t owner;			/* the directory's inode; 0: not known yet */
};

struct dir_copies {
	struct dir_copy *list;
	size_t count, capacity;
};

struct owned_block {
	uint64_t block;
	uint32_t owner;
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

/* rec_len as ext4 stores it: blocks of 64 KiB and more keep the high bits in the low two. */
static size_t record_length(const unsigned char *entry, size_t block_size)
{
	size_t length = le16(entry + 4);

	if (block_size < 65536)
		return length;
	if (length == 65535 || length == 0)
		return block_size;
	return (length & 65532) | (length & 3) << 16;
}

/* Calls VISIT for each entry with an inode; -1 when BLOCK is not a directory block. */
typedef void entry_fn(void *context, uint32_t inode, const char *name, size_t length);

static int dir_entries(const unsigned char *block, size_t size, uint32_t inodes,
    entry_fn *visit, void *context)
{
	size_t at = 0, length, name_length, named = 0;
	uint32_t inode;

	while (at < size) {
		if (size - at < 12)
			return -1;
		inode = le32(block + at);
		length = record_length(block + at, size);
		name_length = block[at + 6];
		if (length < 12 || length % 4 || length > size - at || name_length > length - 8
		    || inode > inodes || (inode && !name_length)
		    || memchr(block + at + 8, '/', name_length)
		    || memchr(block + at + 8, '\0', name_length))
			return -1;
		if (inode && visit)
			visit(context, inode, (const char *)block + at + 8, name_length);
		named += inode != 0;
		at += length;
	}
	return named ? 0 : -1;
}

/* ------------------------------------------------------------------ the copies */

static int add_dir_copy(struct dir_copies *copies, const struct jbd2_copy *copy,
    uint32_t owner)
{
	struct dir_copy *bigger;

	if (copies->count == copies->capacity) {
		copies->capacity = copies->capacity ? copies->capacity * 2 : 256;
		if (!(bigger = realloc(copies->list, copies->capacity * sizeof *bigger)))
			return -1;
		copies->list = bigger;
	}
	copies->list[copies->count++] = (struct dir_copy){ copy, owner };
	return 0;
}

static int find_dir_copies(struct engine *engine, struct dir_copies *copies)
{
	const struct jbd2_log *log = &engine->log;
	uint32_t inodes = engine->fs->super->s_inodes_count, owner;
	size_t i;

	for (i = 0; i < log->copy_count; i++) {
		if (!log->copies[i].trusted || engine_in_inode_table(engine, log->copies[i].block)
		    || jbd2_log_read_copy(log, ext_journal_read, &engine->journal,
		    &log->copies[i], engine->block) != 0)
			continue;
		owner = 0;
		/* Only the first entry can be ".": the owner, when it is there. */
		if (dir_entries(engine->block, engine->fs->blocksize, inodes, NULL, NULL) != 0)
			continue;
		if (engine->block[6] == 1 && engine->block[8] == '.')
			owner = le32(engine->block);
		if (add_dir_copy(copies, &log->copies[i], owner) != 0)
			return -1;
	}
	return 0;
}

/* ------------------------------------------------------------------ owners */

static int by_block(const void *a, const void *b)
{
	const struct owned_block *left = a, *right = b;

	return left->block < right->block ? -1 : left->block > right->block;
}

static uint32_t owner_of(const struct owned_block *blocks, size_t count, uint64_t block)
{
	struct owned_block key = { block, 0 };
	const struct owned_block *found = bsearch(&key, blocks, count, sizeof key, by_block);

	return found ? found->owner : 0;
}

/* The blocks of the deleted directories, from their journal copies' block maps. */
static int deleted_dir_blocks(struct engine *engine, struct owned_block **blocks,
    size_t *count)
{
	struct undelete_file scratch;
	struct owned_block *bigger;
	struct candidate *candidate;
	size_t i, r, capacity = 0;
	uint32_t k;

	*blocks = NULL, *count = 0;
	for (i = 0; i < engine->count; i++) {
		candidate = &engine->candidates[i];
		if (!candidate->deleted || !candidate->has_copy
		    || !LINUX_S_ISDIR(candidate->copy.i_mode))
			continue;
		memset(&scratch, 0, sizeof scratch);
		scratch.size = EXT2_I_SIZE(&candidate->copy);
		if (engine_build_map(engine, candidate, &scratch) != 0) {
			engine_file_free(&scratch);
			return -1;
		}
		for (r = 0; r < scratch.run_count; r++)
			for (k = 0; k < scratch.runs[r].length; k++) {
				if (*count == capacity) {
					capacity = capacity ? capacity * 2 : 256;
					if (!(bigger = realloc(*blocks, capacity * sizeof *bigger))) {
						engine_file_free(&scratch);
						return -1;
					}
					*blocks = bigger;
				}
				(*blocks)[(*count)++] = (struct owned_block){
				    scratch.runs[r].physical + k, candidate->inode };
			}
		engine_file_free(&scratch);
	}
	array_sort(*blocks, *count, sizeof **blocks, by_block);
	return 0;
}

struct live_search {
	struct owned_block *wanted;	/* the unplaced blocks, owner 0 until found */
	size_t count, left;
	ext2_ino_t directory;
};

static int place_live_block(ext2_filsys fs, blk64_t *block, e2_blkcnt_t count,
    blk64_t ref_block, int ref_offset, void *context)
{
	struct live_search *search = context;
	struct owned_block key = { *block, 0 }, *found;

	(void)fs, (void)count, (void)ref_block, (void)ref_offset;
	found = bsearch(&key, search->wanted, search->count, sizeof key, by_block);
	if (found && !found->owner) {
		found->owner = search->directory;
		search->left--;
	}
	return search->left ? 0 : BLOCK_ABORT;
}

/* The live directories' blocks, for the copies still unplaced: one pass over the inode
 * table (as e2fsck's first pass), stopped once every block is placed. */
static int live_dir_blocks(struct engine *engine, struct live_search *search)
{
	struct ext2_inode inode;
	ext2_inode_scan scan;
	ext2_ino_t number;

	if (ext2fs_open_inode_scan(engine->fs, 0, &scan) != 0)
		return 0;	/* the names found so far still count */
	while (search->left && ext2fs_get_next_inode(scan, &number, &inode) == 0 && number) {
		if (!LINUX_S_ISDIR(inode.i_mode) || !inode.i_links_count)
			continue;
		search->directory = number;
		ext2fs_block_iterate3(engine->fs, number, BLOCK_FLAG_READ_ONLY
		    | BLOCK_FLAG_DATA_ONLY, NULL, place_live_block, search);
	}
	ext2fs_close_inode_scan(scan);
	return 0;
}

static int place_by_live_dirs(struct engine *engine, struct dir_copies *copies)
{
	struct live_search search = { 0 };
	size_t i;

	for (i = 0; i < copies->count; i++)
		search.count += !copies->list[i].owner;
	if (!search.count)
		return 0;
	if (!(search.wanted = calloc(search.count, sizeof *search.wanted)))
		return -1;
	for (i = 0; i < copies->count; i++)
		if (!copies->list[i].owner)
			search.wanted[search.left++].block = copies->list[i].copy->block;
	array_sort(search.wanted, search.count, sizeof *search.wanted, by_block);
	live_dir_blocks(engine, &search);
	for (i = 0; i < copies->count; i++)
		if (!copies->list[i].owner)
			copies->list[i].owner = owner_of(search.wanted, search.count,
			    copies->list[i].copy->block);
	free(search.wanted);
	return 0;
}

static int place_copies(struct engine *engine, struct dir_copies *copies)
{
	struct owned_block *blocks;
	size_t count, i;

	if (deleted_dir_blocks(engine, &blocks, &count) != 0)
		return -1;
	for (i = 0; i < copies->count; i++)
		if (!copies->list[i].owner)
			copies->list[i].owner = owner_of(blocks, count, copies->list[i].copy->block);
	free(blocks);
	return place_by_live_dirs(engine, copies);
}

/* ------------------------------------------------------------------ names */

struct naming {
	struct engine *engine;
	uint32_t owner, transaction;	/* the directory copy being read */
	int failed;
};

static void name_entry(void *context, uint32_t inode, const char *name, size_t length)
{
	struct naming *naming = context;
	uint32_t transaction = naming->transaction;
	struct candidate *candidate = engine_find(naming->engine, inode, transaction);
	char *copy;

	if (!candidate || !candidate->deleted || (length == 1 && name[0] == '.')
	    || (length == 2 && !memcmp(name, "..", 2)) || inode == naming->owner)
		return;
	if (candidate->named && !jbd2_newer(transaction, candidate->name_transaction))
		return;
	/* A reused number: names newer than the deleted file's last copy are the live
	 * file's. */
	if (candidate->reused && jbd2_newer(transaction, candidate->last_transaction))
		return;
	if (!(copy = strndup(name, length))) {
		naming->failed = 1;
		return;
	}
	free(candidate->name);
	candidate->name = copy;
	candidate->parent = naming->owner;
	candidate->name_transaction = transaction;
	candidate->named = 1;
}

/* An inline-data directory's entries: after the parent's number in i_block's 60 bytes,
 * then the system.data value; each part chains on its own. */
static void inline_dir_names(struct engine *engine, const struct inline_dir *dir,
    struct naming *naming)
{
	uint32_t inodes = engine->fs->super->s_inodes_count;

	naming->owner = dir->owner;
	naming->transaction = dir->transaction;
	if (dir->size < INLINE_I_BLOCK)
		return;
	dir_entries(dir->bytes + 4, INLINE_I_BLOCK - 4, inodes, name_entry, naming);
	if (dir->size > INLINE_I_BLOCK)
		dir_entries(dir->bytes + INLINE_I_BLOCK, dir->size - INLINE_I_BLOCK, inodes,
		    name_entry, naming);
}

int names_collect(struct engine *engine, struct undelete_counts *counts, char *why,
    size_t why_size)
{
	struct dir_copies copies = { 0 };
	struct naming naming = { engine, 0, 0, 0 };
	size_t i;
	int rc = -1;

	if (find_dir_copies(engine, &copies) != 0 || place_copies(engine, &copies) != 0)
		goto out;
	counts->directory_copies = copies.count;
	for (i = 0; i < copies.count && !naming.failed; i++) {
		if (!copies.list[i].owner || jbd2_log_read_copy(&engine->log, ext_journal_read,
		    &engine->journal, copies.list[i].copy, engine->block) != 0)
			continue;
		naming.owner = copies.list[i].owner;
		naming.transaction = copies.list[i].copy->transaction;
		dir_entries(engine->block, engine->fs->blocksize, engine->fs->super->s_inodes_count,
		    name_entry, &naming);
	}
	for (i = 0; i < engine->inline_dir_count && !naming.failed; i++)
		inline_dir_names(engine, &engine->inline_dirs[i], &naming);
	rc = naming.failed ? -1 : 0;
out:
	if (rc != 0)
		snprintf(why, why_size, "out of memory for the names of the deleted files");
	free(copies.list);
	return rc;
}

/* ------------------------------------------------------------------ paths */

static char *unnamed(uint32_t inode)
{
	char *path = malloc(32);

	if (path)
		snprintf(path, 32, "unnamed/inode-%u", inode);
	return path;
}

/* A live directory's path, from libext2fs ("" for the root); NULL when it has none (a
 * directory cut off from the root shows as "<N>"). */
static char *live_path(struct engine *engine, uint32_t inode)
{
	char *name = NULL, *path;

	if (inode == EXT2_ROOT_INO)
		return strdup("");
	if (ext2fs_get_pathname(engine->fs, inode, 0, &name) != 0 || !name || name[0] != '/'
	    || strchr(name, '<')) {
		ext2fs_free_mem(&name);
		return NULL;
	}
	path = strdup(name + 1);
	ext2fs_free_mem(&name);
	return path;
}

/* The directory INODE as an entry written in transaction AS_OF names it: a deleted
 * version with its own path, else the live directory. */
static char *parent_path(struct engine *engine, uint32_t inode, uint32_t as_of, int depth);

static char *path_of(struct engine *engine, const struct candidate *candidate, int depth)
{
	char *parent, *path;
	size_t length;

	if (!candidate->named || depth > PATH_DEPTH_MAX)
		return unnamed(candidate->inode);
	if (!(parent = parent_path(engine, candidate->parent, candidate->name_transaction,
	    depth + 1)))
		return NULL;
	length = strlen(parent) + strlen(candidate->name) + 2;
	if ((path = malloc(length)))
		snprintf(path, length, "%s%s%s", parent, parent[0] ? "/" : "", candidate->name);
	free(parent);
	return path;
}

static char *parent_path(struct engine *engine, uint32_t inode, uint32_t as_of, int depth)
{
	const struct candidate *version = engine_find(engine, inode, as_of);
	char *path;

	if (!version || !version->deleted || (version->reused
	    && jbd2_newer(as_of, version->last_transaction))) {
		path = live_path(engine, inode);
		return path ? path : unnamed(inode);
	}
	return path_of(engine, version, depth);
}

char *names_path(struct engine *engine, const struct candidate *candidate)
{
	return path_of(engine, candidate, 0);
}
