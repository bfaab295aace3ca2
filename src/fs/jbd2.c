/* jbd2.c: the journal reader (jbd2.h). Layouts are those of the kernel's
 * include/linux/jbd2.h; every multi-byte field is big-endian. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fs/jbd2.h"

/* Superblock offsets. */
enum {
	SB_BLOCK_SIZE = 0x0c, SB_MAX_LENGTH = 0x10, SB_FIRST = 0x14, SB_SEQUENCE = 0x18,
	SB_START = 0x1c, SB_ERRNO = 0x20, SB_COMPAT = 0x24, SB_INCOMPAT = 0x28,
	SB_RO_COMPAT = 0x2c, SB_UUID = 0x30, SB_FAST_COMMIT_BLOCKS = 0x54, SB_CHECKSUM = 0xfc,
};

/* Commit block offsets: h_chksum[0], h_commit_sec, h_commit_nsec. */
enum { COMMIT_CHECKSUM = 16, COMMIT_SECONDS = 48, COMMIT_NANOSECONDS = 56, COMMIT_END = 60 };

enum {
	KNOWN_INCOMPAT = JBD2_INCOMPAT_REVOKE | JBD2_INCOMPAT_64BIT | JBD2_INCOMPAT_ASYNC_COMMIT
	    | JBD2_INCOMPAT_CSUM_V2 | JBD2_INCOMPAT_CSUM_V3 | JBD2_INCOMPAT_FAST_COMMIT,
	DEFAULT_FAST_COMMIT_BLOCKS = 256,
	TAIL_SIZE = 4,			/* jbd2_journal_block_tail: the block's checksum */
	REVOKE_HEADER_SIZE = 16,	/* the header and r_count */
	UUID_SIZE = 16,
};

static uint32_t be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint16_t be16(const unsigned char *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint64_t be64(const unsigned char *p)
{
	return (uint64_t)be32(p) << 32 | be32(p + 4);
}

/* ------------------------------------------------------------------ crc32c */

static uint32_t crc_table[256];

static void crc_table_fill(void)
{
	uint32_t value;
	unsigned i, bit;

	for (i = 0; i < 256; i++) {
		value = i;
		for (bit = 0; bit < 8; bit++)
			value = value & 1 ? value >> 1 ^ 0x82f63b78 : value >> 1;
		crc_table[i] = value;
	}
}

uint32_t jbd2_crc32c(uint32_t crc, const void *data, size_t size)
{
	const unsigned char *byte = data;

	if (!crc_table[1])
		crc_table_fill();
	while (size--)
		crc = crc_table[(crc ^ *byte++) & 0xff] ^ crc >> 8;
	return crc;
}

/* The crc32c of a block whose 4 bytes at AT are taken as zeros (the checksum's own
 * place), without copying the block. */
static uint32_t crc_without(uint32_t seed, const unsigned char *block, size_t size,
    size_t at)
{
	static const unsigned char zeros[4];
	uint32_t crc = jbd2_crc32c(seed, block, at);

	crc = jbd2_crc32c(crc, zeros, sizeof zeros);
	return jbd2_crc32c(crc, block + at + 4, size - at - 4);
}

/* ------------------------------------------------------------------ superblock */

enum jbd2_block_type jbd2_block_type(const void *buffer, size_t size, uint32_t *sequence)
{
	const unsigned char *block = buffer;
	uint32_t type;

	*sequence = 0;
	if (size < JBD2_HEADER_SIZE || be32(block) != JBD2_MAGIC)
		return JBD2_NONE;
	type = be32(block + 4);
	if (type < JBD2_DESCRIPTOR || type > JBD2_FAST_COMMIT)
		return JBD2_NONE;
	*sequence = be32(block + 8);
	return (enum jbd2_block_type)type;
}

static size_t tag_size(const struct jbd2_super *super)
{
	size_t size = 12;	/* t_blocknr, t_checksum (16 bits), t_flags, t_blocknr_high */

	if (super->incompat & JBD2_INCOMPAT_CSUM_V3)
		return 16;
	if (super->incompat & JBD2_INCOMPAT_CSUM_V2)
		size += 2;
	return super->incompat & JBD2_INCOMPAT_64BIT ? size : size - 4;
}

static void read_features(const unsigned char *block, struct jbd2_super *super)
{
	if (super->version < 2)
		return;
	super->compat = be32(block + SB_COMPAT);
	super->incompat = be32(block + SB_INCOMPAT);
	super->ro_compat = be32(block + SB_RO_COMPAT);
	memcpy(super->uuid, block + SB_UUID, sizeof super->uuid);
	super->fast_commit_blocks = be32(block + SB_FAST_COMMIT_BLOCKS);
	super->checksummed = (super->incompat & (JBD2_INCOMPAT_CSUM_V2
	    | JBD2_INCOMPAT_CSUM_V3)) != 0;
	super->checksum_seed = jbd2_crc32c(~0U, super->uuid, sizeof super->uuid);
}

/* The ring: [s_first, end), end before the fast-commit area. */
static int check_geometry(struct jbd2_super *super, char *why, size_t why_size)
{
	uint32_t fast = 0;

	if (super->incompat & JBD2_INCOMPAT_FAST_COMMIT)
		fast = super->fast_commit_blocks ? super->fast_commit_blocks
		    : DEFAULT_FAST_COMMIT_BLOCKS;
	if (super->first == 0 || super->first >= super->max_length
	    || fast >= super->max_length - super->first) {
		snprintf(why, why_size, "journal superblock: s_first %u, s_maxlen %u and %u "
		    "fast-commit blocks leave no log", super->first, super->max_length, fast);
		return -1;
	}
	super->end = super->max_length - fast;
	if (super->start && (super->start < super->first || super->start >= super->end)) {
		snprintf(why, why_size, "journal superblock: s_start %u outside the log [%u, %u)",
		    super->start, super->first, super->end);
		return -1;
	}
	return 0;
}

static int check_super_checksum(const unsigned char *block, const struct jbd2_super *super,
    char *why, size_t why_size)
{
	uint32_t stored, computed;

	if (!super->checksummed)
		return 0;
	stored = be32(block + SB_CHECKSUM);
	computed = crc_without(~0U, block, JBD2_SUPERBLOCK_SIZE, SB_CHECKSUM);
	if (stored == computed)
		return 0;
	snprintf(why, why_size, "journal superblock: checksum 0x%08x, computed 0x%08x", stored,
	    computed);
	return -1;
}

int jbd2_parse_super(const void *buffer, size_t size, struct jbd2_super *super, char *why,
    size_t why_size)
{
	const unsigned char *block = buffer;
	uint32_t sequence;
	enum jbd2_block_type type;

	memset(super, 0, sizeof *super);
	if (size < JBD2_SUPERBLOCK_SIZE || be32(block) != JBD2_MAGIC) {
		snprintf(why, why_size, "journal superblock: bad magic number 0x%08x (expected "
		    "0x%08x)", size >= 4 ? be32(block) : 0, JBD2_MAGIC);
		return -1;
	}
	type = jbd2_block_type(block, size, &sequence);
	if (type != JBD2_SUPERBLOCK_V1 && type != JBD2_SUPERBLOCK_V2) {
		snprintf(why, why_size, "journal superblock: block type %u is not a superblock",
		    be32(block + 4));
		return -1;
	}
	super->version = type == JBD2_SUPERBLOCK_V1 ? 1 : 2;
	super->block_size = be32(block + SB_BLOCK_SIZE);
	super->max_length = be32(block + SB_MAX_LENGTH);
	super->first = be32(block + SB_FIRST);
	super->sequence = be32(block + SB_SEQUENCE);
	super->start = be32(block + SB_START);
	super->error = (int32_t)be32(block + SB_ERRNO);
	if (super->block_size < 1024 || super->block_size > 65536
	    || (super->block_size & (super->block_size - 1))) {
		snprintf(why, why_size, "journal superblock: block size %u", super->block_size);
		return -1;
	}
	read_features(block, super);
	if (super->incompat & ~(uint32_t)KNOWN_INCOMPAT) {
		snprintf(why, why_size, "journal superblock: unknown incompatible features 0x%x",
		    super->incompat & ~(uint32_t)KNOWN_INCOMPAT);
		return -1;
	}
	super->tag_size = tag_size(super);
	if (check_geometry(super, why, why_size) != 0)
		return -1;
	return check_super_checksum(block, super, why, why_size);
}

/* ------------------------------------------------------------------ log blocks */

static int tail_checksum(const struct jbd2_super *super, const unsigned char *block,
    size_t size)
{
	if (!super->checksummed)
		return -1;
	return be32(block + size - TAIL_SIZE) == crc_without(super->checksum_seed, block, size,
	    size - TAIL_SIZE);
}

static void read_tag(const struct jbd2_super *super, const unsigned char *at,
    struct jbd2_tag *tag)
{
	int wide = (super->incompat & JBD2_INCOMPAT_64BIT) != 0;

	tag->block = be32(at);
	if (super->incompat & JBD2_INCOMPAT_CSUM_V3) {
		tag->flags = be32(at + 4);
		tag->checksum = be32(at + 12);
	} else {
		tag->checksum = be16(at + 4);
		tag->flags = be16(at + 6);
	}
	if (wide)
		tag->block |= (uint64_t)be32(at + 8) << 32;
}

int jbd2_parse_descriptor(const struct jbd2_super *super, const void *buffer, size_t size,
    struct jbd2_tag *tags, size_t max, size_t *count, int *checksum, char *why,
    size_t why_size)
{
	const unsigned char *block = buffer;
	size_t at = JBD2_HEADER_SIZE, limit;
	struct jbd2_tag tag;

	*count = 0;
	*checksum = -1;
	if (size != super->block_size || super->tag_size == 0) {
		snprintf(why, why_size, "descriptor block of %zu bytes, journal blocks have %u",
		    size, super->block_size);
		return -1;
	}
	limit = super->checksummed ? size - TAIL_SIZE : size;
	*checksum = tail_checksum(super, block, size);
	while (at + super->tag_size <= limit) {
		read_tag(super, block + at, &tag);
		at += super->tag_size;
		if (!(tag.flags & JBD2_TAG_SAME_UUID))
			at += UUID_SIZE;
		if (at > limit) {
			snprintf(why, why_size, "descriptor tag %zu runs past the block", *count);
			return -1;
		}
		if (*count == max) {
			snprintf(why, why_size, "descriptor holds more than %zu tags", max);
			return -1;
		}
		tags[(*count)++] = tag;
		if (tag.flags & JBD2_TAG_LAST)
			break;
	}
	return 0;
}

int jbd2_parse_commit(const struct jbd2_super *super, const void *buffer, size_t size,
    struct jbd2_commit *commit)
{
	const unsigned char *block = buffer;

	memset(commit, 0, sizeof *commit);
	if (size < COMMIT_END || size != super->block_size
	    || jbd2_block_type(block, size, &commit->sequence) != JBD2_COMMIT)
		return -1;
	commit->seconds = (int64_t)be64(block + COMMIT_SECONDS);
	commit->nanoseconds = be32(block + COMMIT_NANOSECONDS);
	commit->checksum = -1;
	if (super->checksummed)
		commit->checksum = be32(block + COMMIT_CHECKSUM) == crc_without(
		    super->checksum_seed, block, size, COMMIT_CHECKSUM);
	return 0;
}

int jbd2_parse_revoke(const struct jbd2_super *super, const void *buffer, size_t size,
    uint64_t *blocks, size_t max, size_t *count, int *checksum, char *why, size_t why_size)
{
	const unsigned char *block = buffer;
	size_t record = super->incompat & JBD2_INCOMPAT_64BIT ? 8 : 4, used, at;

	*count = 0;
	*checksum = -1;
	if (size != super->block_size || size < REVOKE_HEADER_SIZE + TAIL_SIZE) {
		snprintf(why, why_size, "revoke block of %zu bytes, journal blocks have %u", size,
		    super->block_size);
		return -1;
	}
	used = be32(block + JBD2_HEADER_SIZE);
	if (used < REVOKE_HEADER_SIZE || used > (super->checksummed ? size - TAIL_SIZE : size)
	    || (used - REVOKE_HEADER_SIZE) % record) {
		snprintf(why, why_size, "revoke block: r_count %zu does not fit a %zu-byte block "
		    "of %zu-byte records", used, size, record);
		return -1;
	}
	*checksum = tail_checksum(super, block, size);
	for (at = REVOKE_HEADER_SIZE; at < used; at += record) {
		if (*count == max) {
			snprintf(why, why_size, "revoke block holds more than %zu records", max);
			return -1;
		}
		blocks[(*count)++] = record == 8 ? be64(block + at) : be32(block + at);
	}
	return 0;
}

int jbd2_copy_checksum(const struct jbd2_super *super, const struct jbd2_tag *tag,
    uint32_t sequence, const void *data, size_t size)
{
	unsigned char number[4] = { sequence >> 24, sequence >> 16 & 0xff,
	    sequence >> 8 & 0xff, sequence & 0xff };
	uint32_t crc;

	if (!super->checksummed)
		return -1;
	crc = jbd2_crc32c(super->checksum_seed, number, sizeof number);
	crc = jbd2_crc32c(crc, data, size);
	if (super->incompat & JBD2_INCOMPAT_CSUM_V3)
		return tag->checksum == crc;
	return tag->checksum == (crc & 0xffff);
}

void jbd2_unescape(void *data, size_t size)
{
	unsigned char *block = data;

	if (size < 4)
		return;
	block[0] = JBD2_MAGIC >> 24;
	block[1] = JBD2_MAGIC >> 16 & 0xff;
	block[2] = JBD2_MAGIC >> 8 & 0xff;
	block[3] = JBD2_MAGIC & 0xff;
}

int jbd2_newer(uint32_t a, uint32_t b)
{
	return (int32_t)(a - b) > 0;
}
