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

/* One version of an inode the journal holds copies of: a number given to several files in
 * turn has one version per i_generation. The live file's version is kept too (deleted 0),
 * so the live inode is read once and directory entries are told apart. */
struct candidate {
	uint32_t inode;
	uint32_t generation;
	uint8_t deleted;		/* not the live file: the live inode has no links, or
					 * another generation */
	uint8_t reused;			/* deleted, and the number is a live file's now */
	uint8_t has_copy;		/* COPY holds a version with links and a block map */
	uint8_t named;
	uint32_t first_transaction, last_transaction;	/* of every copy of this version */
	uint32_t transaction;		/* COPY's */
	struct ext2_inode_large copy;
	int64_t dtime;			/* the deletion time, when the live inode says it */
	uint32_t parent;		/* the directory naming it, with NAME */
	char *name;
	uint32_t name_transaction;
	size_t next;			/* the next version of the number + 1; 0: none */
	unsigned char *xattr_area;	/* COPY's bytes after 128 + i_extra_isize (ibody
					 * attributes, inline data), malloc'd */
	uint16_t xattr_area_size;
	uint16_t live_links;		/* the live inode's */
	uint32_t live_generation;
	int64_t live_dtime;
};

/* A journal copy of an inline-data directory (its entries are in the inode): the
 * directory, the transaction, and its inline bytes (the parent's number, then entries). */
struct inline_dir {
	uint32_t owner, transaction;
	unsigned char *bytes;
	size_t size;
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
	struct inline_dir *inline_dirs;
	size_t inline_dir_count, inline_dir_capacity;
};

/* The version of INODE a directory entry written in transaction AS_OF names: the newest
 * whose first copy is not newer than AS_OF, else the oldest; NULL when none. */
struct candidate *engine_find(struct engine *engine, uint32_t inode, uint32_t as_of);
/* The content of BLOCK as of transaction AS_OF: the newest trusted journal copy from it or
 * before, else the disk. 0 (*FROM: the copy's transaction, 0 for the disk), -1. */
int engine_read_as_of(struct engine *engine, uint64_t block, uint32_t as_of, void *buffer,
    uint32_t *from);
/* FILE's runs, state, recoverable bytes and reason, from CANDIDATE's copy (FILE->size
 * set): 0, or -1 without memory. */
int engine_build_map(struct engine *engine, struct candidate *candidate,
    struct undelete_file *file);
/* Frees what FILE holds (its path, map, reason, ...), not FILE itself. */
void engine_file_free(struct undelete_file *file);
/* Whether BLOCK lies in an inode table. */
int engine_in_inode_table(const struct engine *engine, uint64_t block);

/* undelete_names.c: names the deleted candidates from the journal's directory blocks. */
int names_collect(struct engine *engine, struct undelete_counts *counts, char *why,
    size_t why_size);
/* The path of CANDIDATE, malloc'd (NULL without memory). */
char *names_path(struct engine *engine, const struct candidate *candidate);

#endif
