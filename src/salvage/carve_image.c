/* carve_image.c: validators of picture formats: JPEG, PNG, GIF, BMP (see carve.h).
 * Each walks the file's own structure from its signature and never reads past SIZE. */
#include <string.h>

#include <zlib.h>

#include "salvage/carve.h"

/* A walk of a file too large for the validators' buffer reads this much at a time. */
enum { WALK_BUFFER = 65536 };

/* ------------------------------------------------------------------ JPEG */

/* Markers that stand alone, without a length: TEM, RST0-7 (SOI and EOI are handled by
 * the walk itself). */
static int standalone_marker(unsigned char marker)
{
	return marker == 0x01 || (marker >= 0xd0 && marker <= 0xd7);
}

/* Entropy-coded data after SOS runs to the next marker: 0xFF followed by neither 0x00
 * (a stuffed byte) nor a restart marker. Returns its position, or SIZE when it ran out. */
static size_t entropy_end(const unsigned char *data, size_t size, size_t at)
{
	for (;;) {
		const unsigned char *ff = memchr(data + at, 0xff, size - at);

		if (!ff || (size_t)(ff - data) + 1 >= size)
			return size;
		at = (size_t)(ff - data);
		if (data[at + 1] == 0x00 || (data[at + 1] >= 0xd0 && data[at + 1] <= 0xd7)
		    || data[at + 1] == 0xff) {
			at += data[at + 1] == 0xff ? 1 : 2;
			continue;
		}
		return at;
	}
}

/* Segments are skipped by their lengths, so an EXIF thumbnail (a whole JPEG inside APP1)
 * is never taken for the end of the picture. */
static int jpeg_validate(const struct carve_format *format, const unsigned char *data,
    size_t size, int at_end, struct carve_result *result)
{
	size_t at = 2;
	int scans = 0;

	(void)format;
	if (size < 4)
		return at_end ? carve_not(result, "shorter than a JPEG header") : CARVE_MORE;
	if (data[3] < 0xc0 || data[3] == 0xd8 || data[3] == 0xd9 || data[3] == 0xff)
		return carve_not(result, "no JPEG segment after SOI");
	while (at + 2 <= size) {
		unsigned char marker = data[at + 1];

		if (data[at] != 0xff)
			return scans ? carve_found(result, at, CARVE_TRUNCATED, "marker walk broke "
			    "off") : carve_not(result, "broken segment chain");
		if (marker == 0xff) {		/* fill bytes before a marker */
			at++;
			continue;
		}
		if (marker == 0xd9)
			return scans ? carve_found(result, at + 2, CARVE_VALIDATED, "EOI marker")
			    : carve_not(result, "EOI before any scan");
		if (marker == 0xd8 || marker == 0x00 || (marker >= 0x02 && marker < 0xc0))
			return scans ? carve_found(result, at, CARVE_TRUNCATED, "marker walk broke "
			    "off") : carve_not(result, "invalid marker");
		if (standalone_marker(marker)) {
			at += 2;
			continue;
		}
		if (at + 4 > size)
			break;
		if (carve_be16(data + at + 2) < 2)
			return carve_not(result, "segment length below 2");
		at += 2 + carve_be16(data + at + 2);
		if (marker == 0xda) {
			scans++;
			if (at > size)
				break;
			at = entropy_end(data, size, at);
		}
	}
	return carve_ran_out(result, size, at_end, "data ended before EOI");
}

/* The entropy-coded data from AT in a file too large for the validators' buffer: where
 * its next marker is, or UINT64_MAX when the data ran out first. */
static uint64_t entropy_end_walked(struct carve_reader *reader, uint64_t at,
    unsigned char *buffer, size_t size)
{
	size_t got, end;

	for (;;) {
		if ((got = reader->read(reader, buffer, size, at)) < 2)
			return UINT64_MAX;
		if ((end = entropy_end(buffer, got, 0)) < got)
			return at + end;
		at += got - 1;	/* the last byte may be a 0xFF whose follower decides */
	}
}

/* The marker walk of jpeg_validate for a file larger than the validators' buffer: the
 * segment headers read one by one, the entropy-coded data searched piece by piece. */
static int jpeg_walk(const struct carve_format *format, struct carve_reader *reader,
    struct carve_result *result)
{
	unsigned char head[4], buffer[WALK_BUFFER];
	uint64_t at = 2;
	int scans = 0;

	(void)format;
	for (;;) {
		size_t got = reader->read(reader, head, 4, at);

		if (got < 2)
			break;
		if (head[0] != 0xff || head[1] == 0xd8 || head[1] == 0x00
		    || (head[1] >= 0x02 && head[1] < 0xc0))
			return scans ? carve_found(result, at, CARVE_TRUNCATED, "marker walk broke "
			    "off") : carve_not(result, "broken segment chain");
		if (head[1] == 0xff || standalone_marker(head[1])) {
			at += head[1] == 0xff ? 1 : 2;
			continue;
		}
		if (head[1] == 0xd9)
			return scans ? carve_found(result, at + 2, CARVE_VALIDATED, "EOI marker")
			    : carve_not(result, "EOI before any scan");
		if (got < 4)
			break;
		if (carve_be16(head + 2) < 2)
			return carve_not(result, "segment length below 2");
		at += 2 + carve_be16(head + 2);
		if (head[1] == 0xda) {
			scans++;
			if ((at = entropy_end_walked(reader, at, buffer, sizeof buffer)) == UINT64_MAX)
				break;
		}
	}
	return carve_found(result, reader->available, CARVE_TRUNCATED, "data ended before EOI");
}

/* ------------------------------------------------------------------ PNG */

int carve_png_type_ok(const unsigned char *type)
{
	int i;

	for (i = 0; i < 4; i++)
		if (!((type[i] >= 'A' && type[i] <= 'Z') || (type[i] >= 'a' && type[i] <= 'z')))
			return 0;
	return 1;
}

/* Chunks walked to IEND, every CRC checked: a damaged or misplaced piece shows. */
static int png_validate(const struct carve_format *format, const unsigned char *data,
    size_t size, int at_end, struct carve_result *result)
{
	size_t at = 8;

	(void)format;
	if (size < 16 || carve_be32(data + 8) != 13 || memcmp(data + 12, "IHDR", 4) != 0)
		return carve_not(result, "no IHDR chunk first");
	while (at + 12 <= size) {
		uint32_t length = carve_be32(data + at);

		if (length > 0x7fffffff || !carve_png_type_ok(data + at + 4))
			return carve_found(result, at, CARVE_TRUNCATED, "chunk walk broke off");
		if (length > size - at - 12)
			break;
		if (crc32(crc32(0, NULL, 0), data + at + 4, length + 4)
		    != carve_be32(data + at + 8 + length))
			return at == 8 ? carve_not(result, "IHDR CRC wrong")
			    : carve_found(result, at, CARVE_TRUNCATED, "chunk CRC wrong");
		if (memcmp(data + at + 4, "IEND", 4) == 0)
			return carve_found(result, at + 12 + length, CARVE_VALIDATED,
			    "IEND chunk, every CRC right");
		at += 12 + length;
	}
	return carve_ran_out(result, size, at_end, "data ended before IEND");
}

/* The chunk walk of png_validate for a file larger than the validators' buffer: each
 * chunk's CRC computed piece by piece. */
static int png_walk(const struct carve_format *format, struct carve_reader *reader,
    struct carve_result *result)
{
	unsigned char head[8], buffer[WALK_BUFFER];
	uint64_t at = 8, done;
	uint32_t length, crc;
	size_t piece;

	(void)format;
	for (;;) {
		if (reader->read(reader, head, 8, at) != 8)
			break;
		length = carve_be32(head);
		if (length > 0x7fffffff || !carve_png_type_ok(head + 4))
			return carve_found(result, at, CARVE_TRUNCATED, "chunk walk broke off");
		crc = (uint32_t)crc32(crc32(0, NULL, 0), head + 4, 4);
		for (done = 0; done < length; done += piece) {
			piece = length - done < sizeof buffer ? (size_t)(length - done)
			    : sizeof buffer;
			if (reader->read(reader, buffer, piece, at + 8 + done) != piece)
				return carve_found(result, reader->available, CARVE_TRUNCATED, "data "
				    "ended before IEND");
			crc = (uint32_t)crc32(crc, buffer, (uInt)piece);
		}
		if (reader->read(reader, buffer, 4, at + 8 + length) != 4)
			break;
		if (crc != carve_be32(buffer))
			return at == 8 ? carve_not(result, "IHDR CRC wrong")
			    : carve_found(result, at, CARVE_TRUNCATED, "chunk CRC wrong");
		if (memcmp(head + 4, "IEND", 4) == 0)
			return carve_found(result, at + 12 + length, CARVE_VALIDATED,
			    "IEND chunk, every CRC right");
		at += 12 + length;
	}
	return carve_found(result, reader->available, CARVE_TRUNCATED, "data ended before IEND");
}

/* ------------------------------------------------------------------ GIF */

/* Data sub-blocks from AT: a size byte, that many bytes, up to a size of 0. The position
 * after the terminator, or 0 when they run past SIZE. */
static size_t gif_sub_blocks(const unsigned char *data, size_t size, size_t at)
{
	while (at < size) {
		if (data[at] == 0)
			return at + 1;
		at += 1 + (size_t)data[at];
	}
	return 0;
}

static size_t gif_color_table(unsigned char flags)
{
	return flags & 0x80 ? 3u << ((flags & 7) + 1) : 0;
}

static int gif_validate(const struct carve_format *format, const unsigned char *data,
    size_t size, int at_end, struct carve_result *result)
{
	size_t at = 13;
	int images = 0;

	(void)format;
	if (size < 13 || (data[4] != '7' && data[4] != '9') || data[5] != 'a')
		return carve_not(result, "not GIF87a or GIF89a");
	at += gif_color_table(data[10]);
	while (at < size) {
		if (data[at] == 0x3b)
			return images ? carve_found(result, at + 1, CARVE_VALIDATED, "trailer after "
			    "the last block") : carve_not(result, "trailer before any image");
		if (data[at] == 0x21 && at + 2 < size) {
			at = gif_sub_blocks(data, size, at + 2);
		} else if (data[at] == 0x2c && at + 10 < size) {
			at += 10 + gif_color_table(data[at + 9]) + 1;	/* + LZW code size */
			at = gif_sub_blocks(data, size, at);
			images++;
		} else if (data[at] == 0x21 || data[at] == 0x2c) {
			break;
		} else {
			return images ? carve_found(result, at, CARVE_TRUNCATED, "block walk broke "
			    "off") : carve_not(result, "no GIF block");
		}
		if (at == 0)
			break;
	}
	return carve_ran_out(result, size, at_end, "data ended before the trailer");
}

/* ------------------------------------------------------------------ BMP */

static int bmp_validate(const struct carve_format *format, const unsigned char *data,
    size_t size, int at_end, struct carve_result *result)
{
	uint32_t file_size, offset, header, width, height_field;
	uint16_t planes, bits;
	uint64_t row, pixels;

	(void)format, (void)at_end;
	if (size < 30)
		return carve_not(result, "shorter than a BMP header");
	file_size = carve_le32(data + 2);
	offset = carve_le32(data + 10);
	header = carve_le32(data + 14);
	if (header != 12 && header != 40 && header != 52 && header != 56 && header != 64
	    && header != 108 && header != 124)
		return carve_not(result, "unknown DIB header size");
	if (header == 12)
		return carve_not(result, "OS/2 1.x BMP not checked");
	width = carve_le32(data + 18);
	height_field = carve_le32(data + 22);
	planes = carve_le16(data + 26);
	bits = carve_le16(data + 28);
	if (planes != 1 || (bits != 1 && bits != 4 && bits != 8 && bits != 16 && bits != 24
	    && bits != 32) || width == 0 || width > 1u << 16)
		return carve_not(result, "implausible BMP geometry");
	if (offset < 14 + header || offset > file_size || file_size < 64)
		return carve_not(result, "pixel data offset outside the file");
	row = ((uint64_t)width * bits + 31) / 32 * 4;
	height_field = (int32_t)height_field < 0 ? (uint32_t)-(int32_t)height_field
	    : height_field;
	pixels = row * height_field;
	/* Uncompressed (BI_RGB, BI_BITFIELDS): the pixel array must fit the file's size. */
	if (size >= 34 && (carve_le32(data + 30) == 0 || carve_le32(data + 30) == 3)
	    && offset + pixels > file_size)
		return carve_not(result, "pixel array larger than the file size");
	result->checked = offset;
	return carve_found(result, file_size, CARVE_VALIDATED, "file size in the header, "
	    "checked against the pixel array");
}

static const unsigned char JPEG_MAGIC[] = { 0xff, 0xd8, 0xff };
static const unsigned char PNG_MAGIC[] = { 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n' };

const struct carve_format carve_format_jpeg = {
	.type = "jpg", .ext = "jpg", .description = "JPEG picture",
	.magic = JPEG_MAGIC, .magic_size = 3, .magic_offset = 0,
	.max_size = 256u << 20, .validate = jpeg_validate, .walk = jpeg_walk,
	.join = carve_join_jpeg,
	.builtin = 1,
};

const struct carve_format carve_format_png = {
	.type = "png", .ext = "png", .description = "PNG picture",
	.magic = PNG_MAGIC, .magic_size = 8, .magic_offset = 0,
	.max_size = 256u << 20, .validate = png_validate, .walk = png_walk,
	.join = carve_join_png,
	.builtin = 1,
};

const struct carve_format carve_format_gif = {
	.type = "gif", .ext = "gif", .description = "GIF picture",
	.magic = (const unsigned char *)"GIF8", .magic_size = 4, .magic_offset = 0,
	.max_size = 64u << 20, .validate = gif_validate, .builtin = 1,
};

const struct carve_format carve_format_bmp = {
	.type = "bmp", .ext = "bmp", .description = "BMP picture",
	.magic = (const unsigned char *)"BM", .magic_size = 2, .magic_offset = 0,
	.max_size = 256u << 20, .validate = bmp_validate, .builtin = 1,
};
