/* carve_bzip2.c: bzip2 streams decoded to their end (see carve.h): every block's Huffman
 * tables, MTF and run-length codes, the Burrows-Wheeler transform undone, the block's
 * CRC checked, then the stream's combined CRC after the end-of-stream marker. Streams one
 * after another (as pbzip2 writes them) are one file. The decoder reads a buffer (the
 * validator) or, for a stream larger than that, the candidate piece by piece (the walk);
 * it never reads past either and holds one block (at most 900,000 entries of 4 bytes). */
#include <stdlib.h>
#include <string.h>

#include "salvage/carve.h"

enum { GROUP_SIZE = 50, GROUPS_MAX = 6, SELECTORS_MAX = 18002, ALPHA_MAX = 258,
	CODE_MAX = 20, CACHE = 65536 };

static const uint64_t BLOCK_MAGIC = 0x314159265359ull, END_MAGIC = 0x177245385090ull;

/* Where the bytes come from: DATA[0, SIZE), or READER a piece at a time. */
struct bz_input {
	const unsigned char *data;
	size_t size;
	struct carve_reader *reader;
	unsigned char *cache;
	uint64_t cache_start;
	size_t cache_size;
	uint64_t bit;			/* the next bit to read */
	int ran_out;
};

static int input_byte(struct bz_input *in, uint64_t at)
{
	if (in->data)
		return at < in->size ? in->data[at] : -1;
	if (at < in->cache_start || at - in->cache_start >= in->cache_size) {
		in->cache_start = at;
		in->cache_size = in->reader->read(in->reader, in->cache, CACHE, at);
		if (!in->cache_size)
			return -1;
	}
	return in->cache[at - in->cache_start];
}

/* COUNT (at most 32) bits, first bit highest; on running out, zeros and ran_out set. */
static uint32_t bits(struct bz_input *in, int count)
{
	uint32_t value = 0;
	int byte;

	while (count-- > 0) {
		if ((byte = input_byte(in, in->bit >> 3)) < 0) {
			in->ran_out = 1;
			byte = 0;
		}
		value = value << 1 | ((unsigned)byte >> (7 - (in->bit & 7)) & 1);
		in->bit++;
	}
	return value;
}

/* ------------------------------------------------------------------ one block */

struct huffman_group {
	int32_t limit[CODE_MAX + 2], base[CODE_MAX + 2];
	uint16_t perm[ALPHA_MAX];
	int min_length;
};

struct bz_block {
	uint32_t *tt;			/* the block: bytes, then the inverse BWT's links */
	uint32_t capacity;		/* level x 100,000 */
	unsigned char seq_to_unseq[256], selectors[SELECTORS_MAX];
	unsigned char lengths[GROUPS_MAX][ALPHA_MAX];
	struct huffman_group groups[GROUPS_MAX];
	int in_use, group_count;
	uint32_t selector_count;
};

static uint32_t crc_table[256];

static void crc_init(void)
{
	uint32_t i, crc;
	int k;

	if (crc_table[1])
		return;
	for (i = 0; i < 256; i++) {
		for (crc = i << 24, k = 0; k < 8; k++)
			crc = crc & 0x80000000u ? crc << 1 ^ 0x04c11db7u : crc << 1;
		crc_table[i] = crc;
	}
}

/* Canonical codes from the lengths, as bzip2's BZ2_hbCreateDecodeTables. */
static void make_group(struct huffman_group *group, const unsigned char *lengths, int alpha)
{
	int count[CODE_MAX + 2] = { 0 }, length, i, p = 0, code = 0;

	group->min_length = CODE_MAX;
	for (i = 0; i < alpha; i++) {
		count[lengths[i]]++;
		if (lengths[i] < group->min_length)
			group->min_length = lengths[i];
	}
	for (length = 1; length <= CODE_MAX; length++)
		for (i = 0; i < alpha; i++)
			if (lengths[i] == length)
				group->perm[p++] = (uint16_t)i;
	for (p = 0, length = 1; length <= CODE_MAX; length++) {
		group->base[length] = p - code;	/* perm index = code + base */
		code += count[length];
		p += count[length];
		group->limit[length] = count[length] ? code - 1 : -1;
		code <<= 1;
	}
}

static int decode_symbol(struct bz_input *in, const struct huffman_group *group, int alpha)
{
	int length = group->min_length;
	int32_t code = (int32_t)bits(in, length);

	for (;;) {
		if (group->limit[length] >= 0 && code <= group->limit[length]
		    && code + group->base[length] >= 0 && code + group->base[length] < alpha)
			return group->perm[code + group->base[length]];
		if (++length > CODE_MAX || in->ran_out)
			return -1;
		code = code << 1 | (int32_t)bits(in, 1);
	}
}

/* The symbol map, the Huffman groups and the selectors: 0, or -1 when broken. */
static int read_tables(struct bz_input *in, struct bz_block *block)
{
	unsigned char mtf[GROUPS_MAX];
	uint32_t used = bits(in, 16), i, j;
	int g, alpha, length;

	block->in_use = 0;
	for (i = 0; i < 16; i++)
		if (used >> (15 - i) & 1) {
			uint32_t some = bits(in, 16);

			for (j = 0; j < 16; j++)
				if (some >> (15 - j) & 1)
					block->seq_to_unseq[block->in_use++] = (unsigned char)(i * 16 + j);
		}
	block->group_count = (int)bits(in, 3);
	block->selector_count = bits(in, 15);
	if (!block->in_use || block->group_count < 2 || block->group_count > GROUPS_MAX
	    || !block->selector_count)
		return -1;
	for (g = 0; g < block->group_count; g++)
		mtf[g] = (unsigned char)g;
	for (i = 0; i < block->selector_count; i++) {
		unsigned char value;

		for (j = 0; bits(in, 1); j++)
			if ((int)j + 1 >= block->group_count || in->ran_out)
				return -1;
		value = mtf[j];
		memmove(mtf + 1, mtf, j);
		mtf[0] = value;
		if (i < SELECTORS_MAX)
			block->selectors[i] = value;
	}
	if (block->selector_count > SELECTORS_MAX)
		block->selector_count = SELECTORS_MAX;
	alpha = block->in_use + 2;
	for (g = 0; g < block->group_count; g++) {
		length = (int)bits(in, 5);
		for (i = 0; i < (uint32_t)alpha; i++) {
			for (;;) {
				if (length < 1 || length > CODE_MAX || in->ran_out)
					return -1;
				if (!bits(in, 1))
					break;
				length += bits(in, 1) ? -1 : 1;
			}
			block->lengths[g][i] = (unsigned char)length;
		}
		make_group(&block->groups[g], block->lengths[g], alpha);
	}
	return 0;
}

/* The MTF and run-length symbols up to EOB into tt: the block's length, or -1. */
static int64_t read_symbols(struct bz_input *in, struct bz_block *block)
{
	unsigned char mtf[256];
	uint32_t count = 0, run = 0, weight = 1, group_index = 0, left = 0;
	int alpha = block->in_use + 2, symbol, i, selector = 0;

	for (i = 0; i < 256; i++)
		mtf[i] = (unsigned char)i;
	for (;;) {
		if (!left) {
			if (group_index >= block->selector_count)
				return -1;
			selector = block->selectors[group_index++];
			left = GROUP_SIZE;
		}
		left--;
		if ((symbol = decode_symbol(in, &block->groups[selector], alpha)) < 0)
			return -1;
		if (symbol <= 1) {	/* RUNA, RUNB: a run of the front symbol */
			if (weight > block->capacity)
				return -1;
			run += weight << symbol;
			weight <<= 1;
			continue;
		}
		if (run) {
			if (run > block->capacity - count)
				return -1;
			while (run--)
				block->tt[count++] = block->seq_to_unseq[mtf[0]];
			run = 0;
		}
		weight = 1;
		if (symbol == alpha - 1)
			return count;	/* EOB */
		if (count >= block->capacity)
			return -1;
		{
			unsigned char value = mtf[symbol - 1];

			memmove(mtf + 1, mtf, (size_t)(symbol - 1));
			mtf[0] = value;
			block->tt[count++] = block->seq_to_unseq[value];
		}
	}
}

/* The BWT undone from ORIGIN and the initial run-length coding (4 equal bytes, then a
 * count) undone: the block's CRC. */
static uint32_t undo_block(struct bz_block *block, uint32_t length, uint32_t origin)
{
	uint32_t count[257] = { 0 }, i, position, crc = 0xffffffffu;
	int last = -1, same = 0;

	for (i = 0; i < length; i++)
		count[(block->tt[i] & 0xff) + 1]++;
	for (i = 1; i < 257; i++)
		count[i] += count[i - 1];
	for (i = 0; i < length; i++)
		block->tt[count[block->tt[i] & 0xff]++] |= i << 8;
	position = block->tt[origin] >> 8;
	for (i = 0; i < length; i++) {
		int byte;

		position = block->tt[position];
		byte = (int)(position & 0xff);
		position >>= 8;
		if (same == 4) {
			while (byte-- > 0)
				crc = crc << 8 ^ crc_table[(crc >> 24 ^ (uint32_t)last) & 0xff];
			same = 0;
			last = -1;
			continue;
		}
		crc = crc << 8 ^ crc_table[(crc >> 24 ^ (uint32_t)byte) & 0xff];
		same = byte == last ? same + 1 : 1;
		last = byte;
	}
	return ~crc;
}

/* One block after its magic: 1 decoded with its CRC right, 0 broken, -1 ran out. */
static int read_block(struct bz_input *in, struct bz_block *block, uint32_t *combined)
{
	uint32_t crc = bits(in, 32), origin;
	int64_t length;

	if (bits(in, 1))
		return in->ran_out ? -1 : 0;	/* randomised: bzip2 0.9.0's, not decoded */
	origin = bits(in, 24);
	if (read_tables(in, block) != 0 || (length = read_symbols(in, block)) < 0)
		return in->ran_out ? -1 : 0;
	if (in->ran_out)
		return -1;
	if (origin >= length || undo_block(block, (uint32_t)length, origin) != crc)
		return 0;
	*combined = (*combined << 1 | *combined >> 31) ^ crc;
	return 1;
}

/* ------------------------------------------------------------------ the stream */

/* Streams from bit 0 of IN: CARVE_FOUND (RESULT filled) or CARVE_NOT, or CARVE_MORE when
 * the data ran out inside a stream. */
static int decode_streams(struct bz_input *in, struct carve_result *result)
{
	struct bz_block block;
	uint64_t stream_end = 0, magic;
	uint32_t combined;
	int level, verdict, blocks = 0;

	crc_init();
	memset(&block, 0, sizeof block);
	for (;;) {
		in->bit = stream_end * 8;
		if (bits(in, 24) != 0x425a68 || (level = (int)bits(in, 8) - '0') < 1 || level > 9)
			break;	/* no further stream */
		if (block.capacity < (uint32_t)level * 100000) {
			free(block.tt);
			block.capacity = (uint32_t)level * 100000;
			if (!(block.tt = malloc(block.capacity * sizeof *block.tt)))
				return carve_found(result, 0, CARVE_TRUNCATED, "out of memory");
		}
		block.capacity = (uint32_t)level * 100000;
		combined = 0;
		while ((magic = (uint64_t)bits(in, 24) << 24 | bits(in, 24)) == BLOCK_MAGIC) {
			if ((verdict = read_block(in, &block, &combined)) <= 0)
				goto broken;
			blocks++;
		}
		if (in->ran_out)
			goto broken;
		if (magic != END_MAGIC || bits(in, 32) != combined || in->ran_out)
			goto broken;
		stream_end = (in->bit + 7) / 8;
	}
	free(block.tt);
	return stream_end ? carve_found(result, stream_end, CARVE_VALIDATED, "every block "
	    "decoded with its CRC right, to the end-of-stream marker and stream CRC")
	    : carve_not(result, "no bzip2 stream");
broken:
	free(block.tt);
	if (in->ran_out && !stream_end)
		return CARVE_MORE;
	if (stream_end)
		return carve_found(result, stream_end, CARVE_VALIDATED, "every block decoded with "
		    "its CRC right, to the end-of-stream marker and stream CRC");
	return blocks ? carve_found(result, (in->bit + 7) / 8, CARVE_TRUNCATED, "a block does "
	    "not decode or its CRC is wrong") : carve_not(result, "first block does not decode");
}

static int bzip2_validate(const struct carve_format *format, const unsigned char *data,
    size_t size, int at_end, struct carve_result *result)
{
	struct bz_input in = { 0 };
	int verdict;

	(void)format;
	if (size < 10 || data[3] < '1' || data[3] > '9' || carve_be32(data + 4) != 0x31415926)
		return carve_not(result, "no bzip2 block after the header");
	in.data = data;
	in.size = size;
	verdict = decode_streams(&in, result);
	if (verdict == CARVE_MORE)
		return carve_ran_out(result, size, at_end, "data ended inside the stream");
	return verdict;
}

static int bzip2_walk(const struct carve_format *format, struct carve_reader *reader,
    struct carve_result *result)
{
	struct bz_input in = { 0 };
	int verdict;

	(void)format;
	in.reader = reader;
	if (!(in.cache = malloc(CACHE)))
		return carve_found(result, 0, CARVE_TRUNCATED, "out of memory");
	verdict = decode_streams(&in, result);
	free(in.cache);
	if (verdict == CARVE_MORE)
		return carve_found(result, reader->available, CARVE_TRUNCATED, "the stream ended "
		    "inside it");
	return verdict;
}

const struct carve_format carve_format_bzip2 = {
	.type = "bz2", .ext = "bz2", .description = "bzip2 stream",
	.magic = (const unsigned char *)"BZh", .magic_size = 3, .magic_offset = 0,
	.max_size = 1ull << 36, .validate = bzip2_validate, .walk = bzip2_walk, .builtin = 1,
};
