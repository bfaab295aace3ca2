/* carve_join.c: files in two pieces, joined where their structure confirms the join (see
 * struct carve_join in carve.h): PNG by the CRC of the chunk the split falls in, ZIP by
 * the CRC-32 of the member it falls in (carve_join_jpeg.c: JPEG by its Huffman-coded
 * data). Every join is a pair (split, resume) on block boundaries with resume at most
 * join->gap past the split; the bytes between are read once, into a buffer of their own. */
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "salvage/carve.h"

/* A chunk or member longer than MEMBER_MAX is not joined; GAP_SLACK more bytes are read
 * after the gap, so that what follows the split piece there can be checked. */
enum { MEMBER_MAX = 16 << 20, GAP_SLACK = 1 << 20, INFLATE_OUT = 32768 };

/* ------------------------------------------------------------------ shared */

/* The second piece is read FIRST_READ at a time first, four times more each time the
 * validator asks for more: most files are small, and the scratch buffer is touched only
 * as far as one needs. */
enum { FIRST_READ = 256 << 10 };

int carve_join_try(struct carve_join *join, uint64_t split, uint64_t resume, const char *how)
{
	struct carve_reader *reader = join->reader;
	struct carve_result result;
	size_t room, have = 0, want = FIRST_READ, ask, got;
	int verdict, end;

	if (split >= join->scratch_size || resume < split + join->block
	    || resume >= reader->available)
		return 0;
	join->tries++;
	if (reader->read(reader, join->scratch, (size_t)split, 0) != split)
		return 0;
	room = join->scratch_size - (size_t)split;
	if (room > reader->available - resume)
		room = (size_t)(reader->available - resume);
	do {
		want = want < room ? want : room;
		ask = want - have;
		got = reader->read(reader, join->scratch + split + have, ask, resume + have);
		have += got;
		end = have == room || got < ask;
		memset(&result, 0, sizeof result);
		verdict = join->format->validate(join->format, join->scratch, (size_t)split + have,
		    end, &result);
		want *= 4;
	} while (verdict == CARVE_MORE && !end);
	if (verdict != CARVE_FOUND || result.status != CARVE_VALIDATED || result.length <= split)
		return 0;
	join->first_length = split;
	join->second_offset = resume;
	join->length = result.length;
	join->how = how;
	join->type = result.type;
	join->ext = result.ext;
	return 1;
}

/* The candidate's bytes [start, start + size) (fewer at the stream's end), read once. */
struct gap {
	unsigned char *data;
	uint64_t start;
	size_t size;
};

static int gap_load(const struct carve_join *join, struct gap *gap, uint64_t start,
    uint64_t end)
{
	struct carve_reader *reader = join->reader;

	gap->data = NULL;
	if (end > reader->available)
		end = reader->available;
	if (start >= end)
		return -1;
	gap->start = start;
	gap->size = (size_t)(end - start);
	if (!(gap->data = malloc(gap->size)))
		return -1;
	gap->size = reader->read(reader, gap->data, gap->size, start);
	return 0;
}

static const unsigned char *gap_at(const struct gap *gap, uint64_t position, size_t size)
{
	if (position < gap->start || position - gap->start > gap->size
	    || gap->size - (position - gap->start) < size)
		return NULL;
	return gap->data + (position - gap->start);
}

static uint64_t round_up(uint64_t value, unsigned block)
{
	return (value + block - 1) / block * block;
}

/* CRC-32 of [A-bytes][B-bytes] from the CRCs of each and B's length. */
static uint32_t crc_join(uint32_t first, uint32_t second, uint64_t second_length)
{
	return (uint32_t)crc32_combine(first, second, (z_off_t)second_length);
}

/* The CRC-32 of the candidate's bytes from FROM up to each split FIRST + k * BLOCK, up
 * to LAST, into PREFIX[k]; read piece by piece. */
static int crc_prefixes(struct carve_join *join, uint64_t from, uint64_t first, uint64_t last,
    uint32_t *prefix)
{
	unsigned char buffer[65536];
	uint64_t at = from, boundary = first;
	uint32_t crc = (uint32_t)crc32(0, NULL, 0);
	size_t k = 0, piece;

	for (;;) {
		if (at == boundary) {
			prefix[k++] = crc;
			if (boundary == last)
				return 0;
			boundary += join->block;
		}
		piece = boundary - at < sizeof buffer ? (size_t)(boundary - at) : sizeof buffer;
		if (join->reader->read(join->reader, buffer, piece, at) != piece)
			return -1;
		crc = (uint32_t)crc32(crc, buffer, (uInt)piece);
		at += piece;
	}
}

/* ------------------------------------------------------------------ PNG */

/* A chunk at POSITION in the gap: its header sane and, when it is whole there, its CRC
 * right. */
static int png_chunk_at(const struct gap *gap, uint64_t position)
{
	const unsigned char *header = gap_at(gap, position, 8), *chunk;
	uint32_t length;

	if (!header || !carve_png_type_ok(header + 4) || (length = carve_be32(header)) > MEMBER_MAX)
		return 0;
	if (!(chunk = gap_at(gap, position, 12 + (size_t)length)))
		return 1;
	return (uint32_t)crc32(crc32(0, NULL, 0), chunk + 4, length + 4)
	    == carve_be32(chunk + 8 + length);
}

/* A CRC-32 over [the first piece's part, S) + [resume, NEXT - TAIL), where the piece
 * split at S ends at END in the file and its rest in the gap is followed by a record at
 * NEXT: each split S tried, from LAST down to FIRST (PREFIX[k]: the CRC up to FIRST + k
 * blocks). WANT is the CRC to match; with TAIL 4, the CRC stored just before NEXT. */
static int crc_try_splits(struct carve_join *join, const struct gap *gap, uint64_t end,
    uint64_t first, uint64_t last, const uint32_t *prefix, uint64_t next, unsigned tail,
    uint32_t want, const char *how)
{
	uint32_t suffix = (uint32_t)crc32(0, NULL, 0);
	uint64_t split, resume, length;
	const unsigned char *bytes;

	if (tail && !(bytes = gap_at(gap, next - tail, 4)))
		return 0;
	if (tail)
		want = carve_be32(bytes);
	for (split = last;; split -= join->block) {
		resume = next - (end - split);
		length = next - tail - resume;
		if (split == last) {
			if (!(bytes = gap_at(gap, resume, (size_t)length)))
				return 0;
			suffix = (uint32_t)crc32(suffix, bytes, (uInt)length);
		} else {
			if (!(bytes = gap_at(gap, resume, join->block)))
				return 0;
			suffix = crc_join((uint32_t)crc32(crc32(0, NULL, 0), bytes, join->block),
			    suffix, length - join->block);
		}
		if (crc_join(prefix[(split - first) / join->block], suffix, length) == want
		    && carve_join_try(join, split, resume, how))
			return 1;
		if (split == first)
			return 0;
	}
}

int carve_join_png(struct carve_join *join)
{
	unsigned char header[8];
	uint64_t at = join->broke_at, end, first, last, next;
	uint32_t length, *prefix = NULL;
	struct gap gap = { 0 };
	int joined = 0;

	if (join->reader->read(join->reader, header, 8, at) != 8 || !carve_png_type_ok(header + 4)
	    || (length = carve_be32(header)) > MEMBER_MAX)
		return 0;	/* the split is in the header: not found here */
	end = at + 12 + length;
	first = round_up(at + 8, join->block);
	if (end < 5 + first)
		return 0;
	last = (end - 5) / join->block * join->block;
	prefix = malloc(((last - first) / join->block + 1) * sizeof *prefix);
	if (!prefix || crc_prefixes(join, at + 4, first, last, prefix) != 0
	    || gap_load(join, &gap, first + join->block, end + join->gap + GAP_SLACK) != 0)
		goto out;
	for (next = end + join->block; next <= end + join->gap && !joined; next += join->block)
		if (png_chunk_at(&gap, next))
			joined = crc_try_splits(join, &gap, end, first, last, prefix, next, 4, 0,
			    "chunk CRC across the join");
out:
	free(gap.data);
	free(prefix);
	return joined;
}

/* ------------------------------------------------------------------ ZIP */

struct zip_member {
	uint64_t data, end;		/* its data, in the candidate */
	uint32_t crc, size;		/* of the uncompressed data, from its header */
	int method;
};

/* The member whose data runs up to where the walk broke off (the next record was not
 * there): local headers walked from the start, sizes in them. -1 when the walk does not
 * land there, or the member is one this cannot check (streamed, encrypted, ZIP64). */
static int zip_broken_member(struct carve_join *join, struct zip_member *member)
{
	unsigned char header[30];
	uint64_t at = 0;
	uint16_t flags;

	for (;;) {
		if (join->reader->read(join->reader, header, 30, at) != 30
		    || carve_le32(header) != 0x04034b50)
			return -1;
		flags = carve_le16(header + 6);
		member->method = carve_le16(header + 8);
		member->crc = carve_le32(header + 14);
		member->size = carve_le32(header + 22);
		member->data = at + 30 + carve_le16(header + 26) + carve_le16(header + 28);
		member->end = member->data + carve_le32(header + 18);
		if ((flags & 9) || carve_le32(header + 18) == 0xffffffff
		    || (member->method != 0 && member->method != 8))
			return -1;
		if (member->end >= join->broke_at)
			return member->end == join->broke_at ? 0 : -1;
		at = member->end;
	}
}

/* Where the next record may start in the gap: a local header or the central directory. */
static size_t zip_next_records(const struct carve_join *join, const struct gap *gap,
    uint64_t end, uint64_t *next, size_t room)
{
	const unsigned char *at;
	uint64_t position;
	size_t count = 0;

	for (position = end + join->block; position <= end + join->gap && count < room;
	    position += join->block)
		if ((at = gap_at(gap, position, 4)) && at[0] == 'P' && at[1] == 'K'
		    && ((at[2] == 3 && at[3] == 4) || (at[2] == 1 && at[3] == 2)))
			next[count++] = position;
	return count;
}

/* Inflates DATA[0, SIZE) into nothing, the output's CRC-32 into *CRC: zlib's verdict
 * (Z_OK: it wants more input). */
static int inflate_feed(z_stream *stream, const unsigned char *data, size_t size,
    uint32_t *crc)
{
	unsigned char out[INFLATE_OUT];
	int rc;

	stream->next_in = (unsigned char *)data;
	stream->avail_in = (uInt)size;
	do {
		stream->next_out = out;
		stream->avail_out = sizeof out;
		rc = inflate(stream, Z_NO_FLUSH);
		*crc = (uint32_t)crc32(*crc, out, (uInt)(sizeof out - stream->avail_out));
	} while (rc == Z_OK && (stream->avail_in > 0 || stream->avail_out == 0));
	return rc == Z_BUF_ERROR && stream->avail_in == 0 ? Z_OK : rc;
}

/* The broken member's deflate data split at S = FIRST, FIRST + block, ...: the first
 * piece inflated once up to each S, and from there each candidate second piece. */
static int zip_try_deflate(struct carve_join *join, const struct zip_member *member,
    const struct gap *gap, uint64_t first, uint64_t last, const uint64_t *next, size_t count)
{
	unsigned char buffer[65536];
	z_stream main, trial;
	uint64_t split, at = member->data, resume;
	uint32_t crc = (uint32_t)crc32(0, NULL, 0), trial_crc;
	const unsigned char *bytes;
	int joined = 0, rc;
	size_t i, piece;

	memset(&main, 0, sizeof main);
	if (inflateInit2(&main, -15) != Z_OK)
		return 0;
	for (split = first; split <= last && !joined; split += join->block) {
		for (rc = Z_OK; at < split && rc == Z_OK; at += piece) {
			piece = split - at < sizeof buffer ? (size_t)(split - at) : sizeof buffer;
			if (join->reader->read(join->reader, buffer, piece, at) != piece)
				goto out;
			rc = inflate_feed(&main, buffer, piece, &crc);
		}
		if (rc != Z_OK)
			break;	/* the first piece does not inflate up to this split */
		for (i = 0; i < count && !joined; i++) {
			resume = next[i] - (member->end - split);
			if (!(bytes = gap_at(gap, resume, (size_t)(next[i] - resume)))
			    || inflateCopy(&trial, &main) != Z_OK)
				continue;
			trial_crc = crc;
			rc = inflate_feed(&trial, bytes, (size_t)(next[i] - resume), &trial_crc);
			joined = rc == Z_STREAM_END && trial.avail_in == 0 && trial_crc == member->crc
			    && trial.total_out == member->size && carve_join_try(join, split, resume,
			    "member CRC-32 across the join");
			inflateEnd(&trial);
		}
	}
out:
	inflateEnd(&main);
	return joined;
}

/* A stored member: its CRC-32 over [data, S) + [resume, next), as PNG's chunks. */
static int zip_try_stored(struct carve_join *join, const struct zip_member *member,
    const struct gap *gap, uint64_t first, uint64_t last, const uint64_t *next, size_t count)
{
	uint32_t *prefix = malloc(((last - first) / join->block + 1) * sizeof *prefix);
	int joined = 0;
	size_t i;

	if (!prefix || crc_prefixes(join, member->data, first, last, prefix) != 0)
		goto out;
	for (i = 0; i < count && !joined; i++)
		joined = crc_try_splits(join, gap, member->end, first, last, prefix, next[i], 0,
		    member->crc, "member CRC-32 across the join");
out:
	free(prefix);
	return joined;
}

int carve_join_zip(struct carve_join *join)
{
	struct zip_member member;
	struct gap gap = { 0 };
	uint64_t first, last, *next = NULL;
	size_t count, room = (size_t)(join->gap / join->block) + 1;
	int joined = 0;

	if (zip_broken_member(join, &member) != 0 || member.end - member.data > MEMBER_MAX)
		return 0;
	first = round_up(member.data + 1, join->block);
	if (member.end <= first)
		return 0;
	last = (member.end - 1) / join->block * join->block;
	if (!(next = malloc(room * sizeof *next))
	    || gap_load(join, &gap, first + join->block, member.end + join->gap + 4) != 0)
		goto out;
	count = zip_next_records(join, &gap, member.end, next, room);
	if (count)
		joined = member.method == 8 ? zip_try_deflate(join, &member, &gap, first, last,
		    next, count) : zip_try_stored(join, &member, &gap, first, last, next, count);
out:
	free(gap.data);
	free(next);
	return joined;
}
