/* dbpage_pg.h: recognising one PostgreSQL page (8 KiB, page layout version 4: PostgreSQL
 * 8.3 and later, so 12-17) in a buffer, for carving relations back out of raw disk space.
 *
 * The page header (24 bytes, little-endian on the machines we rescue): LSN (8), checksum
 * (2), flags (2), pd_lower (2), pd_upper (2), pd_special (2), size and version (2), prune
 * xid (4), then 4-byte line pointers up to pd_lower and tuples from pd_upper. A page is
 * accepted when it passes the invariants PostgreSQL's own PageIsVerified checks (known
 * flag bits only, pd_lower <= pd_upper <= pd_special <= 8192, pd_special aligned) with
 * size 8192 and version 4, has at least one line pointer, and every used line pointer
 * stays inside the page.
 *
 * Its block number is not on the page. With data checksums (initdb -k) the checksum
 * mixes it in: pg_checksum_page(page, blkno) = ((H ^ blkno) mod 65535) + 1 with H the
 * FNV-1a-based hash of the page with its checksum field zeroed, so every block number
 * below PG_MAX_BLOCK that gives the stored value is a candidate. Heap tuples name their
 * own block and line pointer in t_ctid (until an UPDATE points it at the new version), so
 * the block most of the tuples that name their own line pointer name picks among the
 * candidates, or stands alone without checksums. A page whose
 * tuples name no block gets the smallest candidate, marked as a guess. Below 2^24 every
 * stored value has candidates, so a checksum alone cannot prove a page wrong; a heap page
 * whose tuples name a block the checksum does not allow is taken as corrupt.
 */
#ifndef RESCUE_DBPAGE_PG_H
#define RESCUE_DBPAGE_PG_H

#include <stddef.h>
#include <stdint.h>

enum { PG_PAGE_SIZE = 8192 };
/* Candidate block numbers are searched below this: 128 GiB of relation. */
#define PG_MAX_BLOCK (1u << 24)
#define PG_NO_BLOCK UINT32_MAX

enum pg_kind {
	PG_HEAP = 1,			/* heap or TOAST: no special space */
	PG_BTREE,			/* btree index: a 16-byte special space */
	PG_OTHER_INDEX,			/* another special space size (hash, gist, gin, ...) */
};

enum pg_verdict {
	PG_PAGE = 0,
	PG_SHORT,			/* fewer than 8192 bytes */
	PG_EMPTY,			/* a new page: all zeros, nothing to keep */
	PG_NO_HEADER,			/* the header invariants fail: not a page */
	PG_BAD_LINE_POINTER,		/* a line pointer past the end of the page */
	PG_BAD_CHECKSUM,		/* its tuples name a block its checksum does not allow */
};

struct pg_page {
	uint64_t lsn;
	enum pg_kind kind;
	uint16_t checksum;		/* as stored; 0 when the cluster has no data checksums */
	unsigned line_pointers;		/* used ones (normal tuples) */
	unsigned attributes;		/* heap: the attribute count of its first tuple */
	uint32_t block;			/* the block number, PG_NO_BLOCK when unknown */
	int block_guessed;		/* the smallest of several checksum candidates */
	uint32_t ctid_block;		/* the block most self-naming tuples' t_ctid name, or
					 * PG_NO_BLOCK */
	unsigned block_candidates;	/* block numbers the checksum allows (0 without) */
	/* Heap: the lowest and highest t_xmin of its tuples (0 and 0 without tuples). The
	 * transactions that filled a table leave their ids on its pages: two tables of one
	 * shape are told apart by these ranges. */
	uint32_t xmin_low, xmin_high;
	/* Heap: every tuple is a TOAST chunk (see pg_toast_chunks) and at least one holds
	 * a full TOAST_MAX_CHUNK_SIZE of data, as the first chunks of every value more than
	 * one chunk long do: a page of a TOAST relation, not of a table of 3 columns. */
	int toast;
};

/* Looks at the 8192 bytes at BUFFER (of LENGTH bytes). PG_PAGE with PAGE filled, or the
 * reason it is not a page. Never reads past LENGTH. */
enum pg_verdict pg_page_parse(const unsigned char *buffer, size_t length, struct pg_page *page);

/* 1 when the pages A and B (both accepted by pg_page_parse) hold one same tuple: a line
 * pointer with the same offset and length on both, and the same t_xmin and t_ctid. Two
 * copies of one block from different times share tuples; pages of two relations that
 * happen to have the same block number and shape do not. */
int pg_pages_share_tuple(const unsigned char *a, const unsigned char *b);

/* PostgreSQL's pg_checksum_page: the checksum of the 8192-byte PAGE as block BLOCK. */
uint16_t pg_page_checksum(const unsigned char *page, uint32_t block);

/* TOAST. A value moved out of line is cut into chunks of PG_TOAST_CHUNK bytes (the last
 * shorter), each a tuple (chunk_id oid, chunk_seq int4, chunk_data bytea) of the table's
 * TOAST relation, chunk_seq counting from 0. The heap tuple keeps an 18-byte pointer in
 * place of the value: a 1-byte varlena header 0x01, the tag 18 (VARTAG_ONDISK), then
 * va_rawsize, va_extinfo (the stored size in its low 30 bits, the compression method in
 * the top 2), va_valueid (the chunk_id) and va_toastrelid (the TOAST relation's OID). */
enum { PG_TOAST_CHUNK = 1996, PG_TOAST_POINTER_SIZE = 18 };

struct pg_toast_chunk {
	uint32_t chunk_id;
	uint32_t seq;
	unsigned size;			/* bytes of data */
};

struct pg_toast_pointer {
	uint32_t rawsize;		/* the value's size with its 4-byte header */
	uint32_t extsize;		/* the bytes stored in chunks */
	int compressed;			/* extsize below rawsize less the header */
	unsigned method;		/* compressed: 0 pglz, 1 lz4 */
	uint32_t value_id;
	uint32_t toast_relid;
};

/* Calls FOUND for every chunk on the 8192-byte PAGE (accepted by pg_page_parse with
 * toast set); returns how many tuples were not chunks: a chunk_data longer than its tuple
 * or than PG_TOAST_CHUNK, a compressed or external varlena, a chunk_seq past what a 1 GB
 * value needs. Those are not passed to FOUND. */
unsigned pg_toast_chunks(const unsigned char *page,
    void (*found)(void *context, const struct pg_toast_chunk *chunk), void *context);

/* Calls FOUND for every byte string in the tuple data of the heap PAGE (accepted by
 * pg_page_parse) that reads as an on-disk TOAST pointer whose sizes agree (the stored
 * size at most the raw one, equal to it less the header when not compressed, under 1 GB;
 * a value id and a relation OID past the bootstrap range). Any bytes can look like one:
 * a caller confirms them by the chunks their value ids name. Returns how many. */
unsigned pg_toast_pointers(const unsigned char *page,
    void (*found)(void *context, const struct pg_toast_pointer *pointer), void *context);

const char *pg_kind_name(enum pg_kind kind);
const char *pg_verdict_name(enum pg_verdict verdict);

#endif
