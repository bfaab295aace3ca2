/* dbpages_internal.h: what the collector's files share (dbpages.c: the index and the
 * scan; dbpages_write.c: the files written from it; dbpages_report.c: the reports and
 * RESTORE.md). Not for use outside them: dbpages.h is the interface. */
#ifndef RESCUE_DBPAGES_INTERNAL_H
#define RESCUE_DBPAGES_INTERNAL_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "salvage/dbpage_innodb.h"
#include "salvage/dbpage_pg.h"
#include "salvage/dbpages.h"

/* The group of TOAST relations' pages: past every attribute count (at most 1600), so
 * TOAST relations sort after the heap relations and are written as pg-toast, pg-toast-2
 * ... (dbpages_toast.c says which table uses which). */
enum { PG_TOAST_GROUP = 0x10000 };

/* Btree indexes written from their links (dbpages_btree.c): groups past the TOAST group,
 * one a group, written as pg-btree, pg-btree-2 ... */
enum { PG_BTREE_GROUP = 0x20000 };

static inline uint32_t pg_group_of(const struct pg_page *page)
{
	return page->toast ? PG_TOAST_GROUP : page->attributes;
}

/* One page found: where it is and what it claims to be. GROUP is the InnoDB space id or
 * the PostgreSQL attribute count; NUMBER the page or block number. */
struct page_entry {
	uint64_t offset;
	uint64_t lsn;
	uint32_t group;
	uint32_t number;
	union {
		struct {		/* PostgreSQL: its tuples' transaction ids */
			uint32_t xmin_low, xmin_high;
		};
		struct {		/* InnoDB index pages: the low 32 bits of the
					 * index id and whether it is the root; 0 on
					 * other pages */
			uint32_t index_id, index_root;
		};
	};
	uint8_t engine;
	uint8_t size_shift;		/* the page size is 1 << size_shift */
	uint8_t written;		/* the copy dbpages_write chose and wrote */
	uint8_t lane;			/* which file of its group: PostgreSQL relations of
					 * one shape, InnoDB tablespaces of one space id */
	uint8_t joined;			/* InnoDB: put together from two places (joins) */
	uint8_t unused[3];
};

/* A PostgreSQL btree page of a cluster with data checksums, found by the scan: where it
 * is and its links. Its block number comes from the links (dbpages_btree.c). */
struct btree_entry {
	uint64_t offset;
	uint64_t lsn;
	uint32_t hash;			/* pg_page.hash */
	uint32_t prev, next, level;
	uint32_t root, root_level;	/* the metapage's; 0 on other pages */
	uint64_t high_key;		/* pg_btree_high_key */
	uint16_t checksum, flags;
	uint8_t meta;
	uint8_t unused[3];
};

/* Pages with a header but a wrong checksum, counted by the group they claim. The garbage
 * of a disk can claim any number of groups: past MAX_BAD_GROUPS they are only summed. */
struct bad_count {
	uint32_t group;
	uint8_t engine;
	uint64_t count;
};
enum { MAX_BAD_GROUPS = 1024 };

/* A table's name as a SYS_TABLES record gives it ("db/table"), from the newest page. */
struct table_name {
	uint32_t space_id;
	int deleted;
	uint64_t lsn;
	char name[200];
};

/* One half of a page-compressed page split on disk (innodb_split_head, _tail): where it
 * lies and what dbpages_join_splits matches it by. */
struct split_part {
	uint64_t offset;
	struct innodb_split split;
};

/* A page put together from two places: PREFIX bytes at HEAD, the rest at TAIL. */
struct joined_page {
	uint64_t head, tail;
	uint16_t prefix, length;
	uint8_t unused[4];
};

struct dbpages {
	unsigned engines;
	struct page_entry *entries;
	size_t count, capacity;
	struct bad_count bad[MAX_BAD_GROUPS];
	size_t bad_groups;
	uint64_t bad_elsewhere;		/* wrong checksums past MAX_BAD_GROUPS groups */
	uint64_t pg_index_pages;	/* PostgreSQL index pages but btree ones of
					 * clusters with data checksums: counted, not written */
	struct btree_entry *btree;	/* those btree pages */
	size_t btree_count, btree_capacity;
	uint64_t pg_bad_line_pointers;	/* PostgreSQL pages with a valid header and a line
					 * pointer past the page's end: refused */
	uint64_t pg_unplaced;		/* heap pages whose block number nothing tells */
	uint64_t pg_guessed;		/* heap pages placed at a guessed block number */
	struct table_name *names;	/* from SYS_TABLES pages found, by space id */
	size_t name_count, name_capacity;
	uint64_t names_lsn;		/* the LSN of the page being read for names */
	int names_failed;		/* out of memory while adding one */
	/* Halves of split page-compressed pages found by the scan, in the order found; the
	 * pages put together from them after it (entries marked joined), by head. */
	struct split_part *heads, *tails;
	size_t head_count, head_capacity, tail_count, tail_capacity;
	struct joined_page *joins;
	size_t join_count;
	/* The tail of the last buffer, whose pages may end in the next one. */
	unsigned char *carry;
	size_t carry_length;
	uint64_t carry_offset;
	size_t max_page;
};

enum { MISSING_TEXT = 512, PG_SEGMENT_BLOCKS = 131072, MAX_INDEXES = 64,
	READ_BACK_CHUNK = 1 << 20 };

/* TOAST, in the report of a relation's first segment (dbpages_toast.c). A TOAST
 * relation: the values (chunk ids) its chunks make, how many of them miss a chunk_seq
 * between 0 and their highest, chunks found twice, tuples of chunk shape whose data is
 * not a chunk's. A heap relation: the TOAST relation its pointers' value ids were found
 * in (TOAST_FILE, the report's index + 1, 0 when none) and the OID they name, and its
 * toasted values by what was found of their chunks. */
struct toast_summary {
	uint64_t values, chunks, gaps, duplicates, bad_chunks;
	size_t toast_file;
	uint32_t toast_relid;
	uint64_t pointers, complete, partial, missing, other_pointers;
	unsigned used_by;		/* TOAST relation: heap relations linked to it */
};

/* A btree index written (dbpages_btree.c), in the report of its file: what its
 * metapage says (META 0 when the metapage was not found). */
struct btree_summary {
	int meta;
	uint32_t root, levels;
};

/* What the reports say about one file written. */
struct file_report {
	char name[300];
	char table[200];		/* InnoDB: "db/table" from SYS_TABLES, or "" */
	unsigned engine;
	uint32_t group;
	size_t page_size;
	uint64_t declared;		/* InnoDB: FSP_SIZE of page 0; 0 when page 0 is missing */
	uint64_t first, end;		/* the page numbers the file holds: [first, end) */
	uint64_t found, missing, superseded, unreadable, other_size, bad;
	uint64_t free_pages;		/* InnoDB: not found, but page 0 says never used */
	uint64_t joined;		/* InnoDB: of COMPRESSED, put together from two
					 * places on the source (split pages) */
	uint64_t compressed;		/* InnoDB: of FOUND, page-compressed pages (kept as
					 * they are: MariaDB decompresses them on reading) */
	uint64_t doublewrite;		/* space 0: the doublewrite buffer's pages, not found
					 * as such (they hold other pages' copies) */
	uint64_t foreign;		/* pages of another tablespace with this space id
					 * (other index ids), or of another relation of this
					 * shape (no tuple in common), not written */
	uint64_t lsn_min, lsn_max;
	unsigned lane, lanes;		/* InnoDB: this file is lane + 1 of LANES
					 * tablespaces claiming its space id */
	char missing_text[MISSING_TEXT];	/* "3-5,9,..." */
	uint64_t missing_first, missing_last;	/* the range not yet in the text */
	struct toast_summary toast;
	struct btree_summary btree;
};

struct toast_links;

struct writer {
	struct dbpages *pages;
	const struct dbpages_output *output;
	struct dbpages_summary *summary;
	unsigned char *buffer;		/* one page of the largest size */
	unsigned char *chosen;		/* the PostgreSQL page written for the block at hand */
	unsigned char *readback;	/* READ_BACK_CHUNK bytes of a file written, read back */
	unsigned char *page0;		/* the tablespace's page 0 while it is written, or NULL */
	uint32_t doublewrite[2];	/* space 0: the doublewrite runs' first pages, or 0 */
	/* The tablespace's own indexes while it is written: the ids on its root pages.
	 * None known (page 3 not found): every index page is taken. */
	uint64_t index_ids[MAX_INDEXES];
	size_t index_count;
	struct file_report *reports;
	size_t report_count, report_capacity;
	size_t relation_report;		/* the first segment's report of the relation at hand */
	struct toast_links *toast;	/* what dbpages_toast.c gathers; NULL until needed */
	struct btree_place *btree;	/* dbpages_btree.c's placements; NULL until needed */
	/* Btree pages left out: placed by no link, or where two pages (two indexes, or two
	 * copies of one page) claim one block of one index (those blocks' numbers in
	 * AMBIGUOUS_TEXT, "pg-btree 5,pg-btree 9,..."). */
	uint64_t btree_unplaced, btree_ambiguous;
	char ambiguous_text[MISSING_TEXT];
};

/* dbpages_btree.c: the btree pages placed by their links and grouped into indexes,
 * appended to pages->entries (groups PG_BTREE_GROUP + n, n from 0); 0 or -1 (no memory).
 * dbpages_btree_meta fills a report's btree summary for GROUP; dbpages_btree_free frees
 * what they keep. */
int dbpages_btree_place(struct writer *writer);
void dbpages_btree_meta(const struct writer *writer, uint32_t group, struct btree_summary *out);
void dbpages_btree_free(struct writer *writer);

/* dbpages_spaces.c: ENTRIES (COUNT, one InnoDB space id, sorted by page number, the
 * highest LSN first) told apart into the tablespaces that claim the space id: sets each
 * entry's lane and returns how many tablespaces there are (1 when nothing tells two
 * apart), or 0 when out of memory. */
unsigned dbpages_split_tablespaces(struct page_entry *entries, size_t count);

/* dbpages.c: SIZE bytes of the source at OFFSET, read whole; 0 or -1. */
int dbpages_read_source(const struct dbpages_output *output, unsigned char *buffer,
    size_t size, uint64_t offset);

/* dbpages.c: the split pages' halves matched (read again from the source and checked
 * whole) and added as entries marked joined; heads left over counted damaged. 0, or -1
 * when out of memory. */
int dbpages_join_splits(struct dbpages *pages, const struct dbpages_output *output);

/* dbpages.c: the page of a joined ENTRY, put together from its two places into BUFFER
 * (SIZE bytes); 0, or -1 when the source could not be read. */
int dbpages_read_joined(const struct dbpages *pages, const struct dbpages_output *output,
    const struct page_entry *entry, unsigned char *buffer, size_t size);

/* dbpages.c: looks at the tail of the last buffer fed, whatever its length; 0 or -1. */
int dbpages_finish_scan(struct dbpages *pages);

/* dbpages_toast.c: the chunks or TOAST pointers on the PostgreSQL PAGE of GROUP just
 * written for writer->relation_report, noted (0, or -1 when out of memory); then, after
 * the last file, each heap relation linked to the TOAST relation its value ids are in,
 * the reports' toast members filled (0 or -1); the notes freed. The texts for the
 * reports and RESTORE.md, written to OUT. */
int dbpages_toast_note(struct writer *writer, uint32_t group, const unsigned char *page);
int dbpages_toast_link(struct writer *writer);
void dbpages_toast_free(struct writer *writer);
void dbpages_toast_json(FILE *out, const struct writer *writer, const struct file_report *report);
void dbpages_toast_text(FILE *out, const struct writer *writer, const struct file_report *report);
void dbpages_toast_restore(FILE *out, const struct writer *writer);

/* dbpages_report.c: the texts written beside the files, malloc'd; NULL when out of
 * memory. */
char *dbpages_json_report(const struct writer *writer, size_t *size);
char *dbpages_text_report(const struct writer *writer, size_t *size);
char *dbpages_restore_text(const struct writer *writer, size_t *size);

#endif
