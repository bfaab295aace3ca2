/* carve_join_jpeg.c: a JPEG in two pieces, joined where its Huffman-coded data decodes
 * on (see struct carve_join in carve.h), as PhotoRec does.
 *
 * The scan of a baseline JPEG is a fixed number of MCUs, each a fixed number of 8x8
 * blocks, each block Huffman codes that must exist in the file's tables and may not run
 * past 64 coefficients; a 0xFF in the data is followed by 0x00, and with a restart
 * interval the restart markers come in their order. Noise or another file breaks these
 * rules within a few hundred bytes. So the first piece is decoded from the scan's start
 * until it breaks: the split lies on a block boundary before that point. From the MCU
 * that started last before each such boundary, the decoding is tried again with the
 * bytes after the boundary taken from each block of the gap; a resume block from which
 * every remaining MCU decodes, and after which the whole file walks to its EOI, is the
 * join. Only the decoder's position is kept per block boundary (DC values do not change
 * which codes are valid), a bounded ring of them. */
#include <stdlib.h>
#include <string.h>

#include "salvage/carve.h"

enum { SPLITS_TRIED = 16, CACHE = 65536, GAP_SLACK = 65536 };

struct huffman {
	int32_t maxcode[18], mincode[17];
	int valptr[17];
	unsigned char values[256];
	int defined;
};

struct jpeg_scan {
	struct huffman dc[4], ac[4];
	int components;			/* in the scan */
	int blocks[4], dc_table[4], ac_table[4];	/* per component of the scan */
	uint64_t mcus;			/* in the scan */
	unsigned restart;		/* MCUs per restart interval; 0: none */
	uint64_t data;			/* where the entropy-coded data starts */
};

/* Where the decoder is: the next byte to read, the bits left of the last one, the MCU. */
struct position {
	uint64_t next;
	unsigned bits, count;
	uint64_t mcu;
};

struct decoder {
	const struct jpeg_scan *scan;
	struct carve_join *join;
	uint64_t split, resume;		/* bytes at and after SPLIT come from RESUME on */
	const unsigned char *gap;	/* candidate bytes [gap_start, +gap_size) in memory */
	uint64_t gap_start;
	size_t gap_size;
	unsigned char *cache;		/* others, read CACHE at a time */
	uint64_t cache_start;
	size_t cache_size;
	struct position at;
};

/* ------------------------------------------------------------------ reading */

static int byte_at(struct decoder *decoder, uint64_t logical)
{
	uint64_t offset = logical < decoder->split ? logical
	    : decoder->resume + (logical - decoder->split);
	struct carve_reader *reader = decoder->join->reader;

	if (offset >= decoder->gap_start && offset - decoder->gap_start < decoder->gap_size)
		return decoder->gap[offset - decoder->gap_start];
	if (offset < decoder->cache_start || offset - decoder->cache_start >= decoder->cache_size) {
		decoder->cache_start = offset;
		decoder->cache_size = reader->read(reader, decoder->cache, CACHE, offset);
		if (!decoder->cache_size)
			return -1;
	}
	return decoder->cache[offset - decoder->cache_start];
}

/* The next bit of entropy-coded data; -1 at a marker or the end of the data. */
static int next_bit(struct decoder *decoder)
{
	struct position *at = &decoder->at;
	int byte;

	if (!at->count) {
		if ((byte = byte_at(decoder, at->next)) < 0)
			return -1;
		if (byte == 0xff && byte_at(decoder, at->next + 1) != 0)
			return -1;
		at->next += byte == 0xff ? 2 : 1;
		at->bits = (unsigned)byte;
		at->count = 8;
	}
	return (int)(at->bits >> --at->count) & 1;
}

static int skip_bits(struct decoder *decoder, int count)
{
	while (count-- > 0)
		if (next_bit(decoder) < 0)
			return -1;
	return 0;
}

/* ------------------------------------------------------------------ decoding */

static int huffman_decode(struct decoder *decoder, const struct huffman *table)
{
	int32_t code = 0;
	int length, bit;

	for (length = 1; length <= 16; length++) {
		if ((bit = next_bit(decoder)) < 0)
			return -1;
		code = code << 1 | bit;
		if (code <= table->maxcode[length])
			return table->values[table->valptr[length] + code - table->mincode[length]];
	}
	return -1;
}

/* One 8x8 block: a DC difference, then AC run/size codes up to EOB or 63 coefficients. */
static int decode_block(struct decoder *decoder, const struct huffman *dc,
    const struct huffman *ac)
{
	int size = huffman_decode(decoder, dc), k, symbol;

	if (size < 0 || size > 11 || skip_bits(decoder, size) != 0)
		return -1;
	for (k = 1; k < 64;) {
		if ((symbol = huffman_decode(decoder, ac)) < 0)
			return -1;
		if ((symbol & 15) == 0) {
			if (symbol != 0xf0)
				return 0;	/* EOB */
			k += 16;
			continue;
		}
		k += symbol >> 4;
		if (k > 63 || (symbol & 15) > 10 || skip_bits(decoder, symbol & 15) != 0)
			return -1;
		k++;
	}
	return k > 64 ? -1 : 0;
}

/* At a restart interval's end: the bits left are padding, then RSTn in its order. */
static int restart(struct decoder *decoder)
{
	struct position *at = &decoder->at;
	unsigned expected = 0xd0 + (unsigned)((at->mcu / decoder->scan->restart - 1) % 8);

	at->count = 0;
	if (byte_at(decoder, at->next) != 0xff || byte_at(decoder, at->next + 1) != (int)expected)
		return -1;
	at->next += 2;
	return 0;
}

static int decode_mcu(struct decoder *decoder)
{
	const struct jpeg_scan *scan = decoder->scan;
	int c, b;

	if (scan->restart && decoder->at.mcu && decoder->at.mcu % scan->restart == 0
	    && restart(decoder) != 0)
		return -1;
	for (c = 0; c < scan->components; c++)
		for (b = 0; b < scan->blocks[c]; b++)
			if (decode_block(decoder, &scan->dc[scan->dc_table[c]],
			    &scan->ac[scan->ac_table[c]]) != 0)
				return -1;
	decoder->at.mcu++;
	return 0;
}

/* ------------------------------------------------------------------ the headers */

static int read_huffman(struct jpeg_scan *scan, const unsigned char *data, size_t size)
{
	size_t at = 0, total, i;
	int length, k, code;

	while (at + 17 <= size) {
		struct huffman *table;

		if ((data[at] >> 4) > 1 || (data[at] & 15) > 3)
			return -1;
		table = (data[at] >> 4) ? &scan->ac[data[at] & 15] : &scan->dc[data[at] & 15];
		for (total = 0, i = 1; i <= 16; i++)
			total += data[at + i];
		if (total > 256 || at + 17 + total > size)
			return -1;
		memcpy(table->values, data + at + 17, total);
		for (code = 0, k = 0, length = 1; length <= 16; length++) {
			table->valptr[length] = k;
			table->mincode[length] = code;
			code += data[at + length];
			k += data[at + length];
			table->maxcode[length] = data[at + length] ? code - 1 : -1;
			code <<= 1;
		}
		table->defined = 1;
		at += 17 + total;
	}
	return at == size ? 0 : -1;
}

struct frame {
	unsigned width, height, count, hmax, vmax;
	unsigned char id[4], h[4], v[4];
};

static int read_frame(struct frame *frame, const unsigned char *data, size_t size)
{
	unsigned i;

	if (size < 6 || data[0] != 8)
		return -1;	/* 12-bit samples: not decoded here */
	frame->height = carve_be16(data + 1);
	frame->width = carve_be16(data + 3);
	frame->count = data[5];
	if (!frame->height || !frame->width || !frame->count || frame->count > 4
	    || size < 6 + 3 * frame->count)
		return -1;
	for (i = 0; i < frame->count; i++) {
		frame->id[i] = data[6 + 3 * i];
		frame->h[i] = data[7 + 3 * i] >> 4;
		frame->v[i] = data[7 + 3 * i] & 15;
		if (frame->h[i] < 1 || frame->h[i] > 4 || frame->v[i] < 1 || frame->v[i] > 4)
			return -1;
		frame->hmax = frame->h[i] > frame->hmax ? frame->h[i] : frame->hmax;
		frame->vmax = frame->v[i] > frame->vmax ? frame->v[i] : frame->vmax;
	}
	return 0;
}

static uint64_t divide_up(uint64_t a, uint64_t b)
{
	return (a + b - 1) / b;
}

static int read_scan(struct jpeg_scan *scan, const struct frame *frame,
    const unsigned char *data, size_t size)
{
	unsigned i, c;

	if (size < 1 || !data[0] || data[0] > 4 || size < 1 + 2 * (size_t)data[0] + 3)
		return -1;
	scan->components = data[0];
	for (i = 0; i < data[0]; i++) {
		for (c = 0; c < frame->count && frame->id[c] != data[1 + 2 * i]; c++)
			;
		if (c == frame->count)
			return -1;
		scan->dc_table[i] = data[2 + 2 * i] >> 4;
		scan->ac_table[i] = data[2 + 2 * i] & 15;
		if (scan->dc_table[i] > 3 || scan->ac_table[i] > 3
		    || !scan->dc[scan->dc_table[i]].defined || !scan->ac[scan->ac_table[i]].defined)
			return -1;
		scan->blocks[i] = data[0] == 1 ? 1 : frame->h[c] * frame->v[c];
		if (data[0] == 1)
			scan->mcus = divide_up(divide_up((uint64_t)frame->width * frame->h[c],
			    frame->hmax), 8) * divide_up(divide_up((uint64_t)frame->height
			    * frame->v[c], frame->vmax), 8);
	}
	if (data[0] > 1)
		scan->mcus = divide_up(frame->width, 8 * frame->hmax)
		    * divide_up(frame->height, 8 * frame->vmax);
	return 0;
}

/* The segments up to the first scan: its tables, MCUs and where its data starts. Only a
 * baseline (or extended Huffman, 8-bit) frame is decoded. */
static int read_headers(struct carve_join *join, struct jpeg_scan *scan)
{
	unsigned char head[4], body[65536];
	struct frame frame = { 0 };
	uint64_t at = 2;
	size_t length;

	memset(scan, 0, sizeof *scan);
	for (;;) {
		if (join->reader->read(join->reader, head, 4, at) != 4 || head[0] != 0xff
		    || (length = carve_be16(head + 2)) < 2)
			return -1;
		if (join->reader->read(join->reader, body, length - 2, at + 4) != length - 2)
			return -1;
		if (head[1] == 0xc4 && read_huffman(scan, body, length - 2) != 0)
			return -1;
		if ((head[1] == 0xc0 || head[1] == 0xc1) && read_frame(&frame, body, length - 2))
			return -1;
		if (head[1] > 0xc1 && head[1] <= 0xcf && head[1] != 0xc4 && head[1] != 0xc8
		    && head[1] != 0xcc)
			return -1;	/* progressive, lossless, arithmetic: not decoded */
		if (head[1] == 0xdd && length >= 4)
			scan->restart = carve_be16(body);
		at += 2 + length;
		if (head[1] == 0xda) {
			scan->data = at;
			return frame.count ? read_scan(scan, &frame, body, length - 2) : -1;
		}
	}
}

/* ------------------------------------------------------------------ the join */

/* The decoder's place at the last MCU start before a block boundary. */
struct mark {
	uint64_t boundary;
	struct position at;
};

/* Decodes the first piece until it breaks: MARKS[] gets the last SPLITS_TRIED block
 * boundaries before the break with the MCU start before each. Returns how many, 0 when
 * the data does not break (nothing to join). */
static size_t first_piece(struct decoder *decoder, struct mark *marks)
{
	const struct jpeg_scan *scan = decoder->scan;
	unsigned block = decoder->join->block;
	uint64_t boundary = (scan->data / block + 1) * block;
	struct position start;
	size_t count = 0;
	int broke;

	do {
		start = decoder->at;
		if (start.mcu == scan->mcus)
			return 0;	/* whole: the break is elsewhere */
		broke = decode_mcu(decoder) != 0;
		/* Boundaries before the next MCU start (at the break: up to where it was
		 * read) are resumed from this MCU's start. */
		while (boundary < decoder->at.next || (broke && boundary == decoder->at.next)) {
			if (count == SPLITS_TRIED) {
				memmove(marks, marks + 1, (SPLITS_TRIED - 1) * sizeof *marks);
				count--;
			}
			marks[count].boundary = boundary;
			marks[count++].at = start;
			boundary += block;
		}
	} while (!broke);
	return count;
}

/* From the MCU start in MARK, with the bytes from its boundary on taken from RESUME:
 * whether every remaining MCU decodes. */
static int decodes_on(struct decoder *decoder, const struct mark *mark, uint64_t resume)
{
	decoder->split = mark->boundary;
	decoder->resume = resume;
	decoder->at = mark->at;
	while (decoder->at.mcu < decoder->scan->mcus)
		if (decode_mcu(decoder) != 0)
			return 0;
	return 1;
}

/* Every remaining block takes two bits at least (a DC size and an EOB code): the bytes
 * the rest of the data after MARK's boundary needs at least. */
static uint64_t least_rest(const struct decoder *decoder, const struct mark *mark)
{
	const struct jpeg_scan *scan = decoder->scan;
	uint64_t blocks = 0, bytes;
	int c;

	for (c = 0; c < scan->components; c++)
		blocks += (uint64_t)scan->blocks[c];
	bytes = (scan->mcus - mark->at.mcu) * blocks * 2 / 8;
	return bytes > mark->boundary - mark->at.next ? bytes - (mark->boundary - mark->at.next)
	    : 0;
}

/* Whether the LENGTH bytes at RESUME in the gap hold a marker (0xFF followed by neither
 * 0x00 nor, with restart intervals, RSTn): Huffman-coded data that long cannot start
 * there. A quick look before the decoder's bit by bit one. */
static int marker_within(const struct decoder *decoder, uint64_t resume, uint64_t length)
{
	const unsigned char *at, *end, *ff;

	if (resume < decoder->gap_start || resume - decoder->gap_start >= decoder->gap_size)
		return 0;
	at = decoder->gap + (resume - decoder->gap_start);
	end = decoder->gap + decoder->gap_size;
	if (length < (uint64_t)(end - at))
		end = at + length;
	for (; at + 1 < end && (ff = memchr(at, 0xff, (size_t)(end - at - 1))); at = ff + 1)
		if (ff[1] != 0 && !(decoder->scan->restart && ff[1] >= 0xd0 && ff[1] <= 0xd7))
			return 1;
	return 0;
}

static int try_marks(struct decoder *decoder, const struct mark *marks, size_t count)
{
	struct carve_join *join = decoder->join;
	uint64_t resume, least;
	size_t k;

	for (k = count; k-- > 0;)
		for (least = least_rest(decoder, &marks[k]), resume = marks[k].boundary
		    + join->block; resume <= marks[k].boundary + join->gap
		    && resume < join->reader->available; resume += join->block)
			if (!marker_within(decoder, resume, least)
			    && decodes_on(decoder, &marks[k], resume) && carve_join_try(join,
			    marks[k].boundary, resume, "Huffman-coded data decodes across the join"))
				return 1;
	return 0;
}

int carve_join_jpeg(struct carve_join *join)
{
	struct decoder decoder = { 0 };
	struct mark marks[SPLITS_TRIED];
	struct jpeg_scan *scan = malloc(sizeof *scan);
	unsigned char *gap = NULL;
	size_t count;
	int joined = 0;

	decoder.cache = malloc(CACHE);
	if (!scan || !decoder.cache || read_headers(join, scan) != 0 || !scan->mcus)
		goto out;
	decoder.scan = scan;
	decoder.join = join;
	decoder.split = UINT64_MAX;
	decoder.at.next = scan->data;
	if (!(count = first_piece(&decoder, marks)))
		goto out;
	decoder.gap_start = marks[0].boundary + join->block;
	decoder.gap_size = (size_t)(marks[count - 1].boundary + join->gap + GAP_SLACK
	    - decoder.gap_start);
	if (decoder.gap_start >= join->reader->available)
		goto out;
	if (decoder.gap_size > join->reader->available - decoder.gap_start)
		decoder.gap_size = (size_t)(join->reader->available - decoder.gap_start);
	if (!(gap = malloc(decoder.gap_size)))
		goto out;
	decoder.gap_size = join->reader->read(join->reader, gap, decoder.gap_size,
	    decoder.gap_start);
	decoder.gap = gap;
	decoder.cache_size = 0;
	joined = try_marks(&decoder, marks, count);
out:
	free(gap);
	free(decoder.cache);
	free(scan);
	return joined;
}
