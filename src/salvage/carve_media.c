/* carve_media.c: validators of media containers: TIFF, RIFF (WebP, WAV, AVI), ISO BMFF
 * (MP4, MOV, HEIC), Matroska/WebM, Ogg, MP3 with an ID3v2 tag (see carve.h). None reads
 * past SIZE. */
/* memmem is a GNU (and BSD) extension in glibc and musl alike. */
#define _GNU_SOURCE
#include <string.h>

#include "salvage/carve.h"

static int printable_fourcc(const unsigned char *p)
{
	int i;

	for (i = 0; i < 4; i++)
		if (p[i] < 0x20 || p[i] > 0x7e)
			return 0;
	return 1;
}

/* ------------------------------------------------------------------ TIFF */

struct tiff {
	const unsigned char *data;
	size_t size;
	int big;			/* "MM": big-endian */
	uint64_t end;			/* the furthest byte any structure reaches */
	int out_of_data;		/* a structure lies past SIZE */
};

static uint32_t tiff_u32(const struct tiff *t, size_t at)
{
	return t->big ? carve_be32(t->data + at) : carve_le32(t->data + at);
}

static uint32_t tiff_u16(const struct tiff *t, size_t at)
{
	return t->big ? carve_be16(t->data + at) : carve_le16(t->data + at);
}

static void tiff_reach(struct tiff *t, uint64_t end)
{
	if (end > t->end)
		t->end = end;
}

/* Entry N of an offsets or byte counts array (SHORT or LONG) of an IFD entry at AT. */
static uint64_t tiff_array(struct tiff *t, size_t at, uint32_t n)
{
	uint32_t type = tiff_u16(t, at + 2), count = tiff_u32(t, at + 4);
	size_t width = type == 3 ? 2 : 4;
	uint64_t place = count * width <= 4 ? at + 8 : tiff_u32(t, at + 8);

	place += (uint64_t)n * width;
	if (place + width > t->size) {
		t->out_of_data = 1;
		return 0;
	}
	return width == 2 ? tiff_u16(t, (size_t)place) : tiff_u32(t, (size_t)place);
}

/* Strips (273/279) or tiles (324/325): every piece's end counts. */
static void tiff_pieces(struct tiff *t, size_t offsets, size_t counts)
{
	uint32_t n = tiff_u32(t, offsets + 4), i;

	if (n != tiff_u32(t, counts + 4) || n > 1000000)
		return;
	for (i = 0; i < n && !t->out_of_data; i++)
		tiff_reach(t, tiff_array(t, offsets, i) + tiff_array(t, counts, i));
}

static const unsigned TIFF_TYPE_SIZE[13] = { 0, 1, 1, 2, 4, 8, 1, 1, 2, 4, 8, 4, 8 };

/* One IFD at AT: its entries, their out-of-line values and its pieces; the next IFD's
 * offset, 0 at the last, or -1 when it is broken. */
static int64_t tiff_ifd(struct tiff *t, size_t at)
{
	size_t strips[2] = { 0, 0 }, tiles[2] = { 0, 0 }, entry, i, count;

	if (at + 2 > t->size)
		return t->out_of_data = 1, -1;
	count = tiff_u16(t, at);
	if (count == 0 || at + 2 + count * 12 + 4 > t->size)
		return count ? (t->out_of_data = 1, -1) : -1;
	for (i = 0; i < count; i++) {
		uint32_t tag, type, n;
		uint64_t bytes;

		entry = at + 2 + i * 12;
		tag = tiff_u16(t, entry), type = tiff_u16(t, entry + 2), n = tiff_u32(t, entry + 4);
		if (type == 0 || type > 12)
			continue;	/* unknown types are skipped, as readers do */
		bytes = (uint64_t)n * TIFF_TYPE_SIZE[type];
		if (bytes > 4)
			tiff_reach(t, tiff_u32(t, entry + 8) + bytes);
		if (tag == 273 || tag == 279)
			strips[tag == 279] = entry;
		if (tag == 324 || tag == 325)
			tiles[tag == 325] = entry;
	}
	tiff_reach(t, at + 2 + count * 12 + 4);
	if (strips[0] && strips[1])
		tiff_pieces(t, strips[0], strips[1]);
	if (tiles[0] && tiles[1])
		tiff_pieces(t, tiles[0], tiles[1]);
	return tiff_u32(t, at + 2 + count * 12);
}

static int tiff_validate(const struct carve_format *format, const unsigned char *data,
    size_t size, int at_end, struct carve_result *result)
{
	struct tiff t = { data, size, data[0] == 'M', 8, 0 };
	int64_t next;
	int ifds = 0;

	(void)format;
	if (size < 8 || (data[0] == 'M') != (data[1] == 'M') || tiff_u16(&t, 2) != 42)
		return carve_not(result, "not a TIFF header");
	for (next = tiff_u32(&t, 4); next > 0 && ifds < 64; ifds++) {
		if ((next = tiff_ifd(&t, (size_t)next)) < 0)
			break;
	}
	if (t.out_of_data)
		return at_end ? carve_found(result, size, CARVE_TRUNCATED, "data ended inside the "
		    "image") : CARVE_MORE;
	if (!ifds || next < 0)
		return carve_not(result, "no readable IFD");
	if (t.end > size && !at_end)
		return CARVE_MORE;
	return carve_found(result, t.end, t.end > size ? CARVE_TRUNCATED : CARVE_VALIDATED,
	    "end of the furthest IFD, value or strip");
}

/* ------------------------------------------------------------------ RIFF */

static int riff_validate(const struct carve_format *format, const unsigned char *data,
    size_t size, int at_end, struct carve_result *result)
{
	uint64_t length, at = 12;
	int chunks = 0;

	(void)format, (void)at_end;
	if (size < 20)
		return at_end ? carve_not(result, "shorter than a RIFF header") : CARVE_MORE;
	length = 8 + (uint64_t)carve_le32(data + 4);
	if (!memcmp(data + 8, "WEBP", 4))
		result->type = result->ext = "webp";
	else if (!memcmp(data + 8, "WAVE", 4))
		result->type = result->ext = "wav";
	else if (!memcmp(data + 8, "AVI ", 4))
		result->type = result->ext = "avi";
	else if (!printable_fourcc(data + 8))
		return carve_not(result, "RIFF form type not printable");
	/* The chunks seen must chain up inside the declared size. */
	while (at + 8 <= size && at + 8 <= length) {
		uint64_t chunk = 8 + (uint64_t)carve_le32(data + at + 4);

		if (!printable_fourcc(data + at))
			return carve_not(result, "RIFF chunk id not printable");
		chunks++;
		at += chunk + (chunk & 1);
	}
	if (!chunks || at > length + 1)
		return carve_not(result, "RIFF chunks do not fit its size");
	result->checked = at < size ? at : size;
	return carve_found(result, length, CARVE_VALIDATED, "RIFF size, chunks chained");
}

/* ------------------------------------------------------------------ ISO BMFF */

/* Larger boxes are not believed (and positions cannot wrap around). */
#define BMFF_BOX_MAX (1ull << 40)

static const char *const BMFF_BOXES[] = { "ftyp", "moov", "mdat", "free", "skip", "wide",
	"uuid", "meta", "moof", "mfra", "pdin", "styp", "sidx", "emsg", "prft", "udta", "jumb",
};

static int bmff_known(const unsigned char *type)
{
	size_t i;

	for (i = 0; i < sizeof BMFF_BOXES / sizeof BMFF_BOXES[0]; i++)
		if (!memcmp(type, BMFF_BOXES[i], 4))
			return 1;
	return 0;
}

static void bmff_name(const unsigned char *brand, struct carve_result *result)
{
	if (!memcmp(brand, "qt  ", 4))
		result->type = result->ext = "mov";
	else if (!memcmp(brand, "heic", 4) || !memcmp(brand, "heix", 4)
	    || !memcmp(brand, "mif1", 4))
		result->type = result->ext = "heic";
	else if (!memcmp(brand, "avif", 4))
		result->type = result->ext = "avif";
	else if (!memcmp(brand, "M4A ", 4))
		result->type = result->ext = "m4a";
	else if (!memcmp(brand, "3gp", 3))
		result->type = result->ext = "3gp";
}

/* Top-level boxes walked while their types are known ones; media (moov) must be seen. */
static int bmff_validate(const struct carve_format *format, const unsigned char *data,
    size_t size, int at_end, struct carve_result *result)
{
	uint64_t at = 0, box;
	int media = 0;

	(void)format;
	if (size < 16 || carve_be32(data) < 16 || carve_be32(data) > 4096)
		return carve_not(result, "ftyp box size implausible");
	bmff_name(data + 8, result);
	while (at + 8 <= size) {
		if (!bmff_known(data + at + 4))
			break;
		box = carve_be32(data + at);
		if (box == 1 && at + 16 <= size)
			box = (uint64_t)carve_be32(data + at + 8) << 32 | carve_be32(data + at + 12);
		else if (box == 1 || box == 0)
			return carve_ran_out(result, size, at_end, "a box runs to the end of the data");
		if (box < 8 || box > BMFF_BOX_MAX)
			break;
		media |= !memcmp(data + at + 4, "moov", 4) || !memcmp(data + at + 4, "moof", 4)
		    || !memcmp(data + at + 4, "meta", 4);
		at += box;
	}
	if (at + 8 > size && !at_end)
		return CARVE_MORE;
	if (!media)
		return carve_not(result, "no moov, moof or meta box");
	if (at > size)
		return carve_found(result, at, CARVE_TRUNCATED, "the last box runs past the data");
	return carve_found(result, at, CARVE_VALIDATED, "top-level boxes walked");
}

/* The same walk for a file larger than the validators' buffer, one box header at a
 * time (an mdat of gigabytes is skipped, not read). */
static int bmff_walk(const struct carve_format *format, struct carve_reader *reader,
    struct carve_result *result)
{
	unsigned char header[16];
	uint64_t at = 0, box;
	int media = 0;

	(void)format;
	if (reader->read(reader, header, 16, 0) == 16)
		bmff_name(header + 8, result);
	while (reader->read(reader, header, 16, at) >= 8 && bmff_known(header + 4)) {
		box = carve_be32(header);
		if (box == 1)
			box = (uint64_t)carve_be32(header + 8) << 32 | carve_be32(header + 12);
		if (box < 8 || box > BMFF_BOX_MAX)
			break;
		media |= !memcmp(header + 4, "moov", 4) || !memcmp(header + 4, "moof", 4)
		    || !memcmp(header + 4, "meta", 4);
		at += box;
	}
	if (!media)
		return carve_not(result, "no moov, moof or meta box");
	if (at > reader->available)
		return carve_found(result, reader->available, CARVE_TRUNCATED, "the last box runs "
		    "past the data");
	return carve_found(result, at, CARVE_VALIDATED, "top-level boxes walked");
}

/* ------------------------------------------------------------------ Matroska */

/* An EBML variable-length integer at *AT: its value (with MARKER kept for IDs), -1 when
 * malformed or past SIZE; all ones in a size means "unknown" (-2). */
static int64_t ebml_number(const unsigned char *data, size_t size, size_t *at, int keep)
{
	unsigned char first;
	int length = 1, i, ones;
	uint64_t value;

	if (*at >= size || !(first = data[*at]))
		return -1;
	while (!(first & (0x80 >> (length - 1))))
		length++;
	if (*at + (size_t)length > size)
		return -1;
	value = keep ? first : first & (0xff >> length);
	ones = value == (uint64_t)(0xff >> length);
	for (i = 1; i < length; i++) {
		ones &= data[*at + i] == 0xff;
		value = value << 8 | data[*at + i];
	}
	*at += (size_t)length;
	return !keep && ones ? -2 : (int64_t)value;
}

static int matroska_validate(const struct carve_format *format, const unsigned char *data,
    size_t size, int at_end, struct carve_result *result)
{
	size_t at = 4, header_end;
	int64_t header, id, segment;

	(void)format;
	header = ebml_number(data, size, &at, 0);
	if (header < 0 || header > 4096 || at + (size_t)header > size)
		return at_end || header > 4096 ? carve_not(result, "EBML header malformed")
		    : CARVE_MORE;
	header_end = at + (size_t)header;
	if (memmem(data + at, (size_t)header, "webm", 4))
		result->type = result->ext = "webm";
	else if (!memmem(data + at, (size_t)header, "matroska", 8))
		return carve_not(result, "EBML DocType neither matroska nor webm");
	at = header_end;
	id = ebml_number(data, size, &at, 1);
	if (id != 0x18538067)
		return id < 0 && !at_end ? CARVE_MORE : carve_not(result, "no Segment after the "
		    "EBML header");
	segment = ebml_number(data, size, &at, 0);
	if (segment == -2)
		return carve_ran_out(result, size, at_end, "Segment of unknown size");
	if (segment < 0)
		return carve_not(result, "Segment size malformed");
	result->checked = at;
	return carve_found(result, at + (uint64_t)segment, CARVE_VALIDATED, "EBML header and "
	    "Segment size");
}

/* ------------------------------------------------------------------ Ogg */

/* Ogg's CRC-32: polynomial 0x04c11db7, not reflected, starting at 0. */
static uint32_t ogg_crc(uint32_t crc, const unsigned char *data, size_t size)
{
	size_t i;
	int bit;

	for (i = 0; i < size; i++) {
		crc ^= (uint32_t)data[i] << 24;
		for (bit = 0; bit < 8; bit++)
			crc = crc & 0x80000000u ? crc << 1 ^ 0x04c11db7u : crc << 1;
	}
	return crc;
}

/* The page at AT: its length, 0 when it runs past SIZE, -1 when it is not a page (its
 * CRC, computed with the CRC field as zeros, wrong). */
static int64_t ogg_page(const unsigned char *data, size_t size, size_t at)
{
	unsigned char header[27 + 255];
	size_t segments, length, i;

	if (at + 27 > size)
		return 0;
	if (memcmp(data + at, "OggS", 4) || data[at + 4] != 0)
		return -1;
	segments = data[at + 26];
	if (at + 27 + segments > size)
		return 0;
	length = 27 + segments;
	for (i = 0; i < segments; i++)
		length += data[at + 27 + i];
	if (at + length > size)
		return 0;
	memcpy(header, data + at, 27 + segments);
	memset(header + 22, 0, 4);
	if (ogg_crc(ogg_crc(0, header, 27 + segments), data + at + 27 + segments,
	    length - 27 - segments) != carve_le32(data + at + 22))
		return -1;
	return (int64_t)length;
}

static void ogg_name(const unsigned char *packet, size_t size, struct carve_result *result)
{
	if (size >= 8 && !memcmp(packet, "OpusHead", 8))
		result->type = result->ext = "opus";
	else if (size >= 7 && !memcmp(packet, "\x80theora", 7))
		result->type = result->ext = "ogv";
	else if (size >= 5 && !memcmp(packet, "\x7f" "FLAC", 5))
		result->type = result->ext = "oga";
}

/* Pages walked with their CRCs until a page is not the next one. */
static int ogg_validate(const struct carve_format *format, const unsigned char *data,
    size_t size, int at_end, struct carve_result *result)
{
	size_t at = 0;
	int64_t page;
	int pages = 0;

	(void)format;
	while ((page = ogg_page(data, size, at)) > 0) {
		if (!pages && size > 28 + (size_t)data[26])
			ogg_name(data + 27 + data[26], size - 27 - data[26], result);
		pages++;
		at += (size_t)page;
		if (data[at - (size_t)page + 5] & 4 && (at + 4 > size || memcmp(data + at, "OggS",
		    4)))
			return carve_found(result, at, CARVE_VALIDATED, "pages with right CRCs up to "
			    "the end-of-stream page");
	}
	if (!pages)
		return page == 0 && !at_end ? CARVE_MORE : carve_not(result, "first page CRC wrong");
	if (page == 0)
		return carve_ran_out(result, at, at_end, "data ended inside a page");
	return carve_found(result, at, CARVE_TRUNCATED, "pages with right CRCs, no end-of-stream "
	    "page");
}

/* ------------------------------------------------------------------ MP3 */

/* An MPEG audio frame header at P: its length, or 0 when it is not one. */
static size_t mpeg_frame(const unsigned char *p)
{
	static const unsigned short rates[2][16] = {
		{ 0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 0 },
		{ 0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160, 0 },
	};
	static const unsigned short samples[3] = { 44100, 48000, 32000 };
	int version, mpeg1, bitrate, rate, padding;

	if (p[0] != 0xff || (p[1] & 0xe0) != 0xe0 || (p[1] & 0x06) != 0x02)
		return 0;	/* sync, and Layer III only */
	version = (p[1] >> 3) & 3;
	if (version == 1)
		return 0;
	mpeg1 = version == 3;
	bitrate = rates[!mpeg1][p[2] >> 4];
	rate = (p[2] >> 2) & 3;
	if (!bitrate || rate == 3)
		return 0;
	padding = (p[2] >> 1) & 1;
	rate = samples[rate] >> (version == 3 ? 0 : version == 2 ? 1 : 2);
	return (size_t)((mpeg1 ? 144000 : 72000) * bitrate / rate + padding);
}

/* ID3v2 tag, then Layer III frames back to back, then an optional ID3v1 TAG. */
static int mp3_validate(const struct carve_format *format, const unsigned char *data,
    size_t size, int at_end, struct carve_result *result)
{
	size_t at, frame;
	int frames = 0;

	(void)format;
	if (size < 10 || data[3] > 4 || (data[6] | data[7] | data[8] | data[9]) & 0x80)
		return carve_not(result, "ID3v2 header malformed");
	at = 10 + ((size_t)data[6] << 21 | (size_t)data[7] << 14 | (size_t)data[8] << 7 | data[9]);
	at += data[5] & 0x10 ? 10 : 0;	/* a footer */
	while (at + 4 <= size && (frame = mpeg_frame(data + at)) > 0) {
		frames++;
		at += frame;
	}
	if (at + 4 > size && !at_end)
		return CARVE_MORE;
	if (frames < 4)
		return carve_not(result, "fewer than 4 MPEG frames after the ID3 tag");
	if (at > size)
		return carve_found(result, size, CARVE_TRUNCATED, "data ended inside a frame");
	if (at + 128 <= size && !memcmp(data + at, "TAG", 3))
		at += 128;
	return carve_found(result, at, CARVE_VALIDATED, "ID3v2 tag and MPEG frames walked");
}

static const unsigned char MKV_MAGIC[] = { 0x1a, 0x45, 0xdf, 0xa3 };

#define FORMAT(NAME, TYPE, DESCRIPTION, MAGIC, MAGIC_SIZE, MAGIC_OFFSET, MAX, VALIDATE) \
	const struct carve_format carve_format_##NAME = { \
		.type = TYPE, .ext = TYPE, .description = DESCRIPTION, \
		.magic = (const unsigned char *)(MAGIC), .magic_size = MAGIC_SIZE, \
		.magic_offset = MAGIC_OFFSET, .max_size = MAX, .validate = VALIDATE, \
		.builtin = 1, \
	}

/* Two signatures, one type: --list shows it once. */
#define TIFF_DESCRIPTION "TIFF picture (little- or big-endian)"
FORMAT(tiff_le, "tif", TIFF_DESCRIPTION, "II*\0", 4, 0, 1ull << 32,
    tiff_validate);
FORMAT(tiff_be, "tif", TIFF_DESCRIPTION, "MM\0*", 4, 0, 1ull << 32,
    tiff_validate);
FORMAT(riff, "riff", "RIFF: WebP, WAV, AVI by their form", "RIFF", 4, 0, 1ull << 32,
    riff_validate);
const struct carve_format carve_format_bmff = {
	.type = "mp4", .ext = "mp4", .description = "ISO BMFF: MP4, MOV, HEIC, AVIF, M4A by brand",
	.magic = (const unsigned char *)"ftyp", .magic_size = 4, .magic_offset = 4,
	.max_size = 1ull << 36, .validate = bmff_validate, .walk = bmff_walk, .builtin = 1,
};
FORMAT(matroska, "mkv", "Matroska, WebM", MKV_MAGIC, 4, 0, 1ull << 36, matroska_validate);
FORMAT(ogg, "ogg", "Ogg: Vorbis, Opus, FLAC, Theora by their first packet", "OggS", 4, 0,
    1ull << 32, ogg_validate);
FORMAT(mp3, "mp3", "MP3 with an ID3v2 tag", "ID3", 3, 0, 1ull << 30, mp3_validate);
