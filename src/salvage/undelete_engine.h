/* undelete_engine.h: what undelete.c, undelete_names.c and undelete_tree.c share inside
 * the engine (undelete.h is the interface). */
#ifndef RESCUE_UNDELETE_ENGINE_H
#define RESCUE_UNDELETE_ENGINE_H

#include <stddef.h>
#include <stdint.h>

#include <ext2fs/ext2_fs.h>
#include <ext2fs/ext2fs.h>

#include "fs/jbd2.h"
#include "fs/journal_ext.h"
#include "salvage/undelete.h"

/* An inode the journal holds a copy of. Live ones are kept too (deleted 0), so the live
 * inode is read once. */
struct candidate {
	uint32_t inode;
	uint8_t deleted;		/* the live inode has no links, or is another file's
					 * now (REUSED) */
	uint8_t reused;			/* the number is a live file's again: COPY is of an
					 * earlier one (another i_generation) */
	uint32_t live_generation;
	uint8_t has_copy;		/* COPY holds a version with links and a block map */
	uint8_t named;
	uint32_t transaction;		/* COPY's */
	struct ext2_inode_large copy;
	int64_t dtime;			/* the live inode's deletion time */
	uint32_t parent;		/* the directory naming it, with NAME */
	char *name;
	uint32_t name_transaction;
	size_t file;			/* its entry in undelete->files + 1; 0: none */
};

struct engine {
	ext2_filsys fs;
	struct ext_journal journal;
	struct jbd2_log log;
	struct candidate *candidates;
	size_t count, capacity;
	size_t *index;			/* inode hash: candidate + 1, 0 free */
	size_t index_size;
	unsigned char *block;		/* one file-system block, scratch */
	struct table_span { uint64_t start; uint32_t group; } *tables;
	size_t table_count;		/* inode tables, sorted by start */
};

struct candidate *engine_find(struct engine *engine, uint32_t inode);
/* The content of BLOCK as of transaction AS_OF: the newest trusted journal copy from it or
 * before, else the disk. 0 (*FROM: the copy's transaction, 0 for the disk), -1. */
int engine_read_as_of(struct engine *engine, uint64_t block, uint32_t as_of, void *buffer,
    uint32_t *from);
/* FILE's runs, state, recoverable bytes and reason, from CANDIDATE's copy (FILE->size
 * set): 0, or -1 without memory. */
int engine_build_map(struct engine *engine, struct candidate *candidate,
    struct undelete_file *file);
/* Whether BLOCK lies in an inode table. */
int engine_in_inode_table(const struct engine *engine, uint64_t block);

/* undelete_names.c: names the deleted candidates from the journal's directory blocks. */
int names_collect(struct engine *engine, struct undelete_counts *counts, char *why,
    size_t why_size);
/* The path of INODE, malloc'd (NULL without memory). */
char *names_path(struct engine *engine, uint32_t inode);

#endif
