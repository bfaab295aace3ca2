/* jbd2.h: a read-only reader of the ext3/ext4 journal (jbd2), for `rescue undelete`.
 *
 * libext2fs replays a journal but exposes no reader of its history, and replaying is the
 * one thing a rescue must not do. This reader never writes or replays anything: it tells
 * which copies of which file-system blocks the journal still holds, from which transaction,
 * committed when, and whether each copy is still the one that transaction wrote.
 *
 * The journal is a ring of blocks [s_first, end) after its superblock (block 0); end is
 * s_maxlen, less the fast-commit area when there is one. Every transaction is a descriptor
 * block (a header and one tag per file-system block that follows it in the ring), the
 * copies, maybe more descriptors and revoke blocks, then a commit block with the time.
 * Copies whose first four bytes happened to be the journal's magic number are written with
 * those bytes zeroed (the tag says "escaped"), so no copy ever looks like a header: every
 * block of the ring can be classified on its own, which is how transactions older than
 * s_start (already checkpointed, or from before a clean unmount) are still found.
 *
 * A copy is trusted only when its transaction has a commit block and, with the CSUM_V2 or
 * CSUM_V3 feature, its tag's checksum matches the block (a later transaction may have
 * written over part of an older one). Without checksums a copy is trusted when no newer
 * transaction claims its place in the ring.
 *
 * The parsers take a buffer and its length and never read past it; every count and offset
 * read from the journal is checked against the block before it is used. All fields are
 * big-endian on disk.
 */
#ifndef RESCUE_JBD2_H
#define RESCUE_JBD2_H

#include <stddef.h>
#include <stdint.h>

enum {
	JBD2_MAGIC = 0xc03b3998,
	JBD2_SUPERBLOCK_SIZE = 1024,
	JBD2_HEADER_SIZE = 12,
};

enum jbd2_block_type {
	JBD2_NONE = 0,			/* not a header: a copy, or never written */
	JBD2_DESCRIPTOR = 1,
	JBD2_COMMIT = 2,
	JBD2_SUPERBLOCK_V1 = 3,
	JBD2_SUPERBLOCK_V2 = 4,
	JBD2_REVOKE = 5,
	JBD2_FAST_COMMIT = 6,
};

/* Feature bits of the version 2 superblock. */
enum {
	JBD2_COMPAT_CHECKSUM = 0x1,
	JBD2_INCOMPAT_REVOKE = 0x1,
	JBD2_INCOMPAT_64BIT = 0x2,
	JBD2_INCOMPAT_ASYNC_COMMIT = 0x4,
	JBD2_INCOMPAT_CSUM_V2 = 0x8,
	JBD2_INCOMPAT_CSUM_V3 = 0x10,
	JBD2_INCOMPAT_FAST_COMMIT = 0x20,
};

/* Tag flags. */
enum {
	JBD2_TAG_ESCAPED = 0x1,
	JBD2_TAG_SAME_UUID = 0x2,
	JBD2_TAG_DELETED = 0x4,
	JBD2_TAG_LAST = 0x8,
};

struct jbd2_super {
	int version;			/* 1 or 2 */
	uint32_t block_size;
	uint32_t max_length;		/* s_maxlen: blocks in the journal, superblock included */
	uint32_t first;			/* s_first: the ring's first block */
	uint32_t sequence;		/* s_sequence: the first transaction expected in the log */
	uint32_t start;			/* s_start: where it is; 0: the journal is empty (clean) */
	int32_t error;			/* s_errno */
	uint32_t compat, incompat, ro_compat;
	unsigned char uuid[16];
	uint32_t fast_commit_blocks;	/* s_num_fc_blks (0: the default when the feature is on) */
	uint32_t end;			/* the ring ends before this block */
	uint32_t checksum_seed;		/* crc32c of the uuid, for CSUM_V2/V3 */
	int checksummed;		/* CSUM_V2 or CSUM_V3 */
	size_t tag_size;		/* bytes of one tag, without the uuid that may follow */
};

struct jbd2_tag {
	uint64_t block;			/* the file-system block the copy belongs at */
	uint32_t flags;
	uint32_t checksum;		/* CSUM_V3: 32 bits; CSUM_V2: the low 16 */
};

struct jbd2_commit {
	uint32_t sequence;
	int64_t seconds;		/* h_commit_sec (0 on journals written before jbd2) */
	uint32_t nanoseconds;
	int checksum;			/* 1 matches, 0 does not, -1 none to check */
};

/* crc32c as the kernel's jbd2 and ext4 use it: no inversion before or after. */
uint32_t jbd2_crc32c(uint32_t crc, const void *data, size_t size);

/* The journal superblock in BUFFER (at least JBD2_SUPERBLOCK_SIZE bytes): 0, or -1 with WHY
 * naming the bad value (magic, block type, block size, s_first / s_maxlen, an unknown
 * incompatible feature, the checksum). */
int jbd2_parse_super(const void *buffer, size_t size, struct jbd2_super *super, char *why,
    size_t why_size);

/* The header of a log block: its type (JBD2_NONE when the magic is not there or the type
 * unknown) and *SEQUENCE. */
enum jbd2_block_type jbd2_block_type(const void *buffer, size_t size, uint32_t *sequence);

/* The tags of the descriptor block BUFFER (SIZE must be the journal's block size): up to
 * MAX of them into TAGS, *COUNT how many. *CHECKSUM: 1, 0 or -1 as jbd2_commit's. 0, or -1
 * with WHY (a tag running past the block, more tags than MAX). */
int jbd2_parse_descriptor(const struct jbd2_super *super, const void *buffer, size_t size,
    struct jbd2_tag *tags, size_t max, size_t *count, int *checksum, char *why,
    size_t why_size);

/* The commit block BUFFER: 0, or -1 when it is not one. */
int jbd2_parse_commit(const struct jbd2_super *super, const void *buffer, size_t size,
    struct jbd2_commit *commit);

/* The revoked block numbers of BUFFER: up to MAX into BLOCKS. 0, or -1 with WHY (r_count
 * past the block, not a whole number of records). *CHECKSUM as above. */
int jbd2_parse_revoke(const struct jbd2_super *super, const void *buffer, size_t size,
    uint64_t *blocks, size_t max, size_t *count, int *checksum, char *why, size_t why_size);

/* Whether DATA (a copy as the journal holds it, still escaped) is what TAG of transaction
 * SEQUENCE described: 1 yes, 0 no, -1 the journal has no block checksums. */
int jbd2_copy_checksum(const struct jbd2_super *super, const struct jbd2_tag *tag,
    uint32_t sequence, const void *data, size_t size);

/* Puts back the magic number an escaped copy had in its first four bytes. */
void jbd2_unescape(void *data, size_t size);

/* ------------------------------------------------------------------ the whole log */

/* One copy of a file-system block that the journal holds. */
struct jbd2_copy {
	uint64_t block;			/* file-system block */
	uint32_t position;		/* journal block holding it */
	uint32_t transaction;
	uint8_t escaped;
	int8_t checksum;		/* 1, 0, -1 as above */
	uint8_t trusted;		/* committed, and still what its transaction wrote */
};

struct jbd2_transaction {
	uint32_t sequence;
	int committed;
	int64_t commit_seconds;
	uint32_t commit_nanoseconds;
	size_t copies, revokes;
};

struct jbd2_revoked {
	uint64_t block;
	uint32_t transaction;
};

struct jbd2_log {
	struct jbd2_super super;
	struct jbd2_copy *copies;		/* sorted by block, then by transaction (oldest
						 * first, as the ring's order says) */
	size_t copy_count;
	struct jbd2_transaction *transactions;	/* sorted, oldest first */
	size_t transaction_count;
	struct jbd2_revoked *revoked;
	size_t revoked_count;
	size_t bad_descriptors, bad_commits, bad_copies;	/* checksums that failed */
	size_t bad_revokes;		/* a count past the block, or a checksum that failed */
	uint32_t *owner;			/* newest transaction claiming each ring block */
	unsigned char *claimed;
};

/* Reads journal block NUMBER (0 holds the superblock) into BUFFER, a whole block of the
 * size given to jbd2_log_scan: 0, or -1 with errno. */
typedef int jbd2_read_fn(void *context, uint32_t number, void *buffer);

/* Reads the superblock and classifies every block of the ring into LOG (jbd2_log_free it).
 * BLOCKS is how many blocks of BLOCK_SIZE bytes the journal has (its inode's size): a
 * superblock claiming more, or another block size, is refused. A ring block that cannot be
 * read is skipped. 0, or -1 with WHY (a bad superblock, no memory). */
int jbd2_log_scan(struct jbd2_log *log, jbd2_read_fn *read, void *context, uint64_t blocks,
    uint32_t block_size, char *why, size_t why_size);
void jbd2_log_free(struct jbd2_log *log);

/* The copies of BLOCK, oldest first: a pointer into log->copies and *COUNT (0: none). */
const struct jbd2_copy *jbd2_log_copies(const struct jbd2_log *log, uint64_t block,
    size_t *count);
/* The transaction SEQUENCE, or NULL. */
const struct jbd2_transaction *jbd2_log_transaction(const struct jbd2_log *log,
    uint32_t sequence);
/* Reads COPY's content, unescaped, into BUFFER (block_size bytes): 0 or -1 with errno. */
int jbd2_log_read_copy(const struct jbd2_log *log, jbd2_read_fn *read, void *context,
    const struct jbd2_copy *copy, void *buffer);
/* Whether transaction A is newer than B (sequence numbers wrap). */
int jbd2_newer(uint32_t a, uint32_t b);

#endif
