/* dbpage_pg.c: one PostgreSQL page recognised by its header (see dbpage_pg.h). */
#include <string.h>

#include "salvage/dbpage_pg.h"

/* Page header offsets, and the fields of a heap tuple header that matter here. */
enum {
	PD_CHECKSUM = 8, PD_FLAGS = 10, PD_LOWER = 12, PD_UPPER = 14, PD_SPECIAL = 16,
	PD_PAGESIZE_VERSION = 18, PAGE_HEADER_SIZE = 24,
	PD_VALID_FLAG_BITS = 0x0007, PAGESIZE_VERSION_4 = 0x2004,
	BTREE_SPECIAL_SIZE = 16,
	T_CTID = 12, T_INFOMASK2 = 18, T_INFOMASK = 20, T_HOFF = 22, HEAP_HEADER_MIN = 23,
	HEAP_NATTS_MASK = 0x07ff, HEAP_HASNULL = 0x0001,
	LP_NORMAL = 1,
};

enum { CHECKSUM_LANES = 32 };
static const uint32_t checksum_base_offsets[CHECKSUM_LANES] = {
	0x5B1F36E9, 0xB8525960, 0x02AB50AA, 0x1DE66D2A, 0x79FF467A, 0x9BB9F8A3, 0x217E7CD2,
	0x83E13D2C, 0xF8D4474F, 0xE39EB970, 0x42C6AE16, 0x993216FA, 0x7B093B5D, 0x98DAFF3C,
	0xF718902A, 0x0B1C9CDB, 0xE58F764B, 0x187636BC, 0x5D7B3BB1, 0xE73DE7DE, 0x92BEC979,
	0xCCA6C0B2, 0x304A0979, 0x85AA43D4, 0x783125BB, 0x6CA8EAA2, 0xE407EAC6, 0x4B5CFC3E,
	0x9FBF8C76, 0x15CA20BE, 0xF2CA9FD3, 0x959BD756,
};

static uint16_t read_le16(const unsigned char *bytes)
{
	return (uint16_t)(bytes[0] | bytes[1] << 8);
}

static uint32_t read_le32(const unsigned char *bytes)
{
	return (uint32_t)bytes[0] | (uint32_t)bytes[1] << 8 | (uint32_t)bytes[2] << 16
	    | (uint32_t)bytes[3] << 24;
}

static uint32_t checksum_mix(uint32_t sum, uint32_t value)
{
	uint32_t mixed = sum ^ value;

	return mixed * 16777619u ^ (mixed >> 17);
}

/* pg_checksum_block: 32 FNV-1a-like lanes over the page as 4-byte words, the checksum
 * field counted as zero, two rounds of zeros, the lanes xor-folded. */
static uint32_t page_hash(const unsigned char *page)
{
	uint32_t sums[CHECKSUM_LANES];
	uint32_t result = 0;

	memcpy(sums, checksum_base_offsets, sizeof sums);
	for (size_t row = 0; row < PG_PAGE_SIZE / (4 * CHECKSUM_LANES); row++)
		for (size_t lane = 0; lane < CHECKSUM_LANES; lane++) {
			size_t at = (row * CHECKSUM_LANES + lane) * 4;
			uint32_t word = read_le32(page + at);

			if (at == PD_CHECKSUM)	/* pd_checksum is its low half */
				word &= 0xffff0000u;
			sums[lane] = checksum_mix(sums[lane], word);
		}
	for (int round = 0; round < 2; round++)
		for (size_t lane = 0; lane < CHECKSUM_LANES; lane++)
			sums[lane] = checksum_mix(sums[lane], 0);
	for (size_t lane = 0; lane < CHECKSUM_LANES; lane++)
		result ^= sums[lane];
	return result;
}

uint16_t pg_page_checksum(const unsigned char *page, uint32_t block)
{
	return (uint16_t)(((page_hash(page) ^ block) % 65535) + 1);
}

/* Calls FOUND for every block number below PG_MAX_BLOCK whose checksum would be STORED,
 * in increasing order of (hash ^ block), and returns how many there are. Block numbers
 * below 2^24 change only the low 24 bits of hash ^ block, so the values to try are the
 * ones in that 2^24-wide window congruent to STORED - 1 modulo 65535. */
static unsigned checksum_candidates(uint32_t hash, uint16_t stored, uint32_t wanted,
    uint32_t *smallest, int *wanted_found)
{
	const uint64_t window = PG_MAX_BLOCK, modulus = 65535;
	uint64_t base = hash & ~(uint64_t)(window - 1);
	uint64_t value = base + ((stored - 1 + modulus - base % modulus) % modulus);
	unsigned count = 0;

	*smallest = PG_NO_BLOCK;
	*wanted_found = 0;
	for (; value < base + window; value += modulus, count++) {
		uint32_t block = (uint32_t)(value ^ hash) & (PG_MAX_BLOCK - 1);

		if (block < *smallest)
			*smallest = block;
		if (block == wanted)
			*wanted_found = 1;
	}
	return count;
}

/* The line pointer number INDEX: offset, flags, length (15, 2 and 15 bits). */
static void line_pointer(const unsigned char *page, unsigned index, unsigned *offset,
    unsigned *flags, unsigned *length)
{
	uint32_t word = read_le32(page + PAGE_HEADER_SIZE + 4 * index);

	*offset = word & 0x7fff;
	*flags = (word >> 15) & 3;
	*length = word >> 17;
}

static int header_valid(const unsigned char *page)
{
	unsigned lower = read_le16(page + PD_LOWER), upper = read_le16(page + PD_UPPER);
	unsigned special = read_le16(page + PD_SPECIAL);

	return (read_le16(page + PD_FLAGS) & ~PD_VALID_FLAG_BITS) == 0
	    && read_le16(page + PD_PAGESIZE_VERSION) == PAGESIZE_VERSION_4
	    && lower > PAGE_HEADER_SIZE && (lower - PAGE_HEADER_SIZE) % 4 == 0
	    && lower <= upper && upper <= special && special <= PG_PAGE_SIZE
	    && special % 8 == 0;
}

static enum pg_kind kind_of(const unsigned char *page)
{
	unsigned special = read_le16(page + PD_SPECIAL);

	if (special == PG_PAGE_SIZE)
		return PG_HEAP;
	return special == PG_PAGE_SIZE - BTREE_SPECIAL_SIZE ? PG_BTREE : PG_OTHER_INDEX;
}

/* TOAST chunk tuples: a 24-byte header (no null bitmap), chunk_id at 24, chunk_seq at
 * 28, chunk_data's varlena header at 32 (4-byte aligned already). No value is 1 GB or
 * more, so no chunk_seq reaches MAX_CHUNK_SEQ. */
enum { TOAST_HEADER = 24, TOAST_DATA = 32, TOAST_ATTRIBUTES = 3,
	MAX_CHUNK_SEQ = (1u << 30) / PG_TOAST_CHUNK + 1, FIRST_NORMAL_OID = 16384,
	VARTAG_ONDISK = 18, MAX_VALUE_SIZE = 1u << 30 };

/* The tuple of LENGTH bytes at TUPLE as a TOAST chunk: 1 with CHUNK filled; 0 when it has
 * a chunk's shape (3 attributes, no nulls, room for the first two) but its data is not a
 * chunk's; -1 when it does not. */
static int read_chunk(const unsigned char *tuple, unsigned length, struct pg_toast_chunk *chunk)
{
	unsigned header, header_size, size;

	if (length < TOAST_DATA + 1 || tuple[T_HOFF] != TOAST_HEADER
	    || (read_le16(tuple + T_INFOMASK2) & HEAP_NATTS_MASK) != TOAST_ATTRIBUTES
	    || (read_le16(tuple + T_INFOMASK) & HEAP_HASNULL))
		return -1;
	chunk->chunk_id = read_le32(tuple + TOAST_HEADER);
	chunk->seq = read_le32(tuple + TOAST_HEADER + 4);
	header = tuple[TOAST_DATA];
	if ((header & 3) == 0 && length >= TOAST_DATA + 4) {	/* 4 bytes, not compressed */
		header_size = 4;
		size = read_le32(tuple + TOAST_DATA) >> 2;
	} else if ((header & 1) && header != 1) {		/* 1 byte, short */
		header_size = 1;
		size = header >> 1;
	} else {
		return 0;
	}
	if (size < header_size || size - header_size > PG_TOAST_CHUNK
	    || TOAST_DATA + size != length || chunk->seq >= MAX_CHUNK_SEQ)
		return 0;
	chunk->size = size - header_size;
	return 1;
}

/* Heap tuples: the attribute count of the first, and the block most t_ctids name
 * (Boyer-Moore majority vote, confirmed by a second count). */
struct tuple_survey {
	unsigned normal;
	unsigned attributes;
	unsigned chunk_shaped, full_chunks;	/* tuples read_chunk takes, and full ones */
	uint32_t vote, votes;
	uint32_t xmin_low, xmin_high;
};

/* A tuple's t_ctid names its own block and line pointer until an UPDATE or DELETE points
 * it at a newer version (or marks it), perhaps in another block: only the tuples whose
 * t_ctid names their own line pointer (number INDEX + 1) vote for the block. */
static int points_at_itself(const unsigned char *tuple, unsigned index)
{
	return read_le16(tuple + T_CTID + 4) == index + 1;
}

static void note_xmin(struct tuple_survey *survey, uint32_t xmin)
{
	if (survey->xmin_high == 0 || xmin < survey->xmin_low)
		survey->xmin_low = xmin;
	if (xmin > survey->xmin_high)
		survey->xmin_high = xmin;
}

static void note_chunk(struct tuple_survey *survey, const unsigned char *tuple, unsigned length)
{
	struct pg_toast_chunk chunk;
	int read = read_chunk(tuple, length, &chunk);

	survey->chunk_shaped += read >= 0;
	survey->full_chunks += read == 1 && chunk.size == PG_TOAST_CHUNK;
}

static uint32_t ctid_block_of(const unsigned char *tuple)
{
	return (uint32_t)read_le16(tuple + T_CTID) << 16 | read_le16(tuple + T_CTID + 2);
}

/* Checks every used line pointer stays between pd_upper and pd_special; 0 or -1. */
static int survey_tuples(const unsigned char *page, struct pg_page *found,
    struct tuple_survey *survey)
{
	unsigned count = (read_le16(page + PD_LOWER) - PAGE_HEADER_SIZE) / 4;
	unsigned upper = read_le16(page + PD_UPPER), special = read_le16(page + PD_SPECIAL);

	memset(survey, 0, sizeof *survey);
	for (unsigned i = 0; i < count; i++) {
		unsigned offset, flags, length;

		line_pointer(page, i, &offset, &flags, &length);
		if (flags != LP_NORMAL)
			continue;
		if (length == 0 || offset < upper || offset + length > special)
			return -1;
		survey->normal++;
		if (found->kind != PG_HEAP || length < HEAP_HEADER_MIN
		    || page[offset + T_HOFF] < HEAP_HEADER_MIN || page[offset + T_HOFF] > length)
			continue;
		if (survey->attributes == 0)
			survey->attributes = read_le16(page + offset + T_INFOMASK2) & HEAP_NATTS_MASK;
		note_chunk(survey, page + offset, length);
		note_xmin(survey, read_le32(page + offset));
		if (!points_at_itself(page + offset, i))
			continue;
		if (survey->votes == 0)
			survey->vote = ctid_block_of(page + offset);
		survey->votes += survey->vote == ctid_block_of(page + offset) ? 1 : -1u;
	}
	return 0;
}

/* The vote's winner when more than half of the tuples that point at themselves agree. */
static uint32_t ctid_majority(const unsigned char *page, const struct tuple_survey *survey)
{
	unsigned count = (read_le16(page + PD_LOWER) - PAGE_HEADER_SIZE) / 4, agree = 0, all = 0;

	if (survey->votes == 0)
		return PG_NO_BLOCK;
	for (unsigned i = 0; i < count; i++) {
		unsigned offset, flags, length;

		line_pointer(page, i, &offset, &flags, &length);
		if (flags != LP_NORMAL || length < HEAP_HEADER_MIN
		    || page[offset + T_HOFF] < HEAP_HEADER_MIN || page[offset + T_HOFF] > length
		    || !points_at_itself(page + offset, i))
			continue;
		all++;
		agree += ctid_block_of(page + offset) == survey->vote;
	}
	return 2 * agree > all ? survey->vote : PG_NO_BLOCK;
}

static enum pg_verdict place_block(const unsigned char *page, struct pg_page *found)
{
	uint32_t smallest;
	int ctid_allowed;

	found->block = found->ctid_block;
	if (found->checksum == 0)
		return PG_PAGE;
	found->block_candidates = checksum_candidates(page_hash(page), found->checksum,
	    found->ctid_block, &smallest, &ctid_allowed);
	if (ctid_allowed)
		return PG_PAGE;
	if (found->ctid_block != PG_NO_BLOCK && found->ctid_block < PG_MAX_BLOCK)
		return PG_BAD_CHECKSUM;
	found->block = smallest;
	found->block_guessed = found->block_candidates > 1;
	return PG_PAGE;
}

enum pg_verdict pg_page_parse(const unsigned char *buffer, size_t length, struct pg_page *page)
{
	struct tuple_survey survey;

	if (length < PG_PAGE_SIZE)
		return PG_SHORT;
	if (read_le16(buffer + PD_UPPER) == 0)
		return PG_EMPTY;
	if (!header_valid(buffer))
		return PG_NO_HEADER;
	memset(page, 0, sizeof *page);
	page->lsn = (uint64_t)read_le32(buffer) << 32 | read_le32(buffer + 4);
	page->checksum = read_le16(buffer + PD_CHECKSUM);
	page->kind = kind_of(buffer);
	if (survey_tuples(buffer, page, &survey) != 0)
		return PG_BAD_LINE_POINTER;
	page->line_pointers = survey.normal;
	page->attributes = survey.attributes;
	page->ctid_block = ctid_majority(buffer, &survey);
	page->xmin_low = survey.xmin_low;
	page->xmin_high = survey.xmin_high;
	page->toast = page->kind == PG_HEAP && survey.normal > 0
	    && survey.chunk_shaped == survey.normal && survey.full_chunks > 0;
	return place_block(buffer, page);
}

/* Calls VISIT for each normal tuple of PAGE that has a heap tuple header. */
static void each_tuple(const unsigned char *page,
    void (*visit)(const unsigned char *tuple, unsigned length, void *context), void *context)
{
	unsigned count = (read_le16(page + PD_LOWER) - PAGE_HEADER_SIZE) / 4;
	unsigned upper = read_le16(page + PD_UPPER), special = read_le16(page + PD_SPECIAL);

	for (unsigned i = 0; i < count && PAGE_HEADER_SIZE + 4 * i + 4 <= PG_PAGE_SIZE; i++) {
		unsigned offset, flags, length;

		line_pointer(page, i, &offset, &flags, &length);
		if (flags != LP_NORMAL || length < HEAP_HEADER_MIN || offset < upper
		    || offset + length > special || special > PG_PAGE_SIZE
		    || page[offset + T_HOFF] < HEAP_HEADER_MIN || page[offset + T_HOFF] > length)
			continue;
		visit(page + offset, length, context);
	}
}

struct toast_visit {
	void (*chunk_found)(void *context, const struct pg_toast_chunk *chunk);
	void (*pointer_found)(void *context, const struct pg_toast_pointer *pointer);
	void *context;
	unsigned count;
};

static void visit_chunk(const unsigned char *tuple, unsigned length, void *context)
{
	struct toast_visit *visit = context;
	struct pg_toast_chunk chunk;

	if (read_chunk(tuple, length, &chunk) == 1)
		visit->chunk_found(visit->context, &chunk);
	else
		visit->count++;
}

unsigned pg_toast_chunks(const unsigned char *page,
    void (*found)(void *context, const struct pg_toast_chunk *chunk), void *context)
{
	struct toast_visit visit = { .chunk_found = found, .context = context };

	each_tuple(page, visit_chunk, &visit);
	return visit.count;
}

/* The 18 bytes at AT as an on-disk TOAST pointer whose sizes agree; 1 with POINTER. */
static int read_pointer(const unsigned char *at, struct pg_toast_pointer *pointer)
{
	uint32_t extinfo;

	if (at[0] != 0x01 || at[1] != VARTAG_ONDISK)
		return 0;
	pointer->rawsize = read_le32(at + 2);
	extinfo = read_le32(at + 6);
	pointer->extsize = extinfo & 0x3fffffffu;
	pointer->method = extinfo >> 30;
	pointer->value_id = read_le32(at + 10);
	pointer->toast_relid = read_le32(at + 14);
	pointer->compressed = pointer->extsize + 4 < pointer->rawsize;
	return pointer->rawsize > 4 && pointer->rawsize - 4 < MAX_VALUE_SIZE
	    && pointer->extsize > 0 && pointer->extsize + 4 <= pointer->rawsize
	    && pointer->method <= (pointer->compressed ? 1u : 0u)
	    && pointer->value_id >= FIRST_NORMAL_OID && pointer->toast_relid >= FIRST_NORMAL_OID;
}

static void visit_pointers(const unsigned char *tuple, unsigned length, void *context)
{
	struct toast_visit *visit = context;
	struct pg_toast_pointer pointer;

	for (unsigned at = tuple[T_HOFF]; at + PG_TOAST_POINTER_SIZE <= length; at++)
		if (read_pointer(tuple + at, &pointer)) {
			visit->pointer_found(visit->context, &pointer);
			visit->count++;
			at += PG_TOAST_POINTER_SIZE - 1;
		}
}

unsigned pg_toast_pointers(const unsigned char *page,
    void (*found)(void *context, const struct pg_toast_pointer *pointer), void *context)
{
	struct toast_visit visit = { .pointer_found = found, .context = context };

	each_tuple(page, visit_pointers, &visit);
	return visit.count;
}

static int same_tuple(const unsigned char *a, const unsigned char *b, unsigned index)
{
	unsigned a_offset, a_flags, a_length, b_offset, b_flags, b_length;

	line_pointer(a, index, &a_offset, &a_flags, &a_length);
	line_pointer(b, index, &b_offset, &b_flags, &b_length);
	return a_flags == LP_NORMAL && b_flags == LP_NORMAL && a_offset == b_offset
	    && a_length == b_length && a_length >= HEAP_HEADER_MIN
	    && memcmp(a + a_offset, b + b_offset, 4) == 0		/* t_xmin */
	    && memcmp(a + a_offset + T_CTID, b + b_offset + T_CTID, 6) == 0;
}

int pg_pages_share_tuple(const unsigned char *a, const unsigned char *b)
{
	unsigned a_count = (read_le16(a + PD_LOWER) - PAGE_HEADER_SIZE) / 4;
	unsigned b_count = (read_le16(b + PD_LOWER) - PAGE_HEADER_SIZE) / 4;

	for (unsigned i = 0; i < a_count && i < b_count; i++)
		if (same_tuple(a, b, i))
			return 1;
	return 0;
}

const char *pg_kind_name(enum pg_kind kind)
{
	switch (kind) {
	case PG_HEAP: return "heap";
	case PG_BTREE: return "btree";
	case PG_OTHER_INDEX: return "index";
	}
	return "unknown";
}

const char *pg_verdict_name(enum pg_verdict verdict)
{
	switch (verdict) {
	case PG_PAGE: return "page";
	case PG_SHORT: return "shorter than a page";
	case PG_EMPTY: return "new (empty) page";
	case PG_NO_HEADER: return "no page header";
	case PG_BAD_LINE_POINTER: return "line pointer past the end of the page";
	case PG_BAD_CHECKSUM: return "wrong checksum";
	}
	return "unknown";
}
