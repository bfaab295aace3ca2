/* carve_zip.c: ZIP archives and the formats built on them (ODF, OOXML, EPUB, JAR, APK),
 * named by what they hold; and gzip and zstd streams, decoded to their end (see carve.h).
 * Nothing here reads past SIZE. */
/* memmem is a GNU (and BSD) extension in glibc and musl alike. */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>

#include <zlib.h>
#include <zstd.h>
#include <zstd_errors.h>

#include "salvage/carve.h"

/* A walk of a file too large for the validators' buffer reads this much at a time. */
enum { WALK_BUFFER = 65536 };

enum { ZIP_LOCAL = 0x04034b50, ZIP_CENTRAL = 0x02014b50, ZIP_END = 0x06054b50,
	ZIP_DESCRIPTOR = 0x08074b50, ZIP64_END = 0x06064b50, ZIP64_LOCATOR = 0x07064b50 };

/* Inflates raw deflate data (zlib's WINDOW_BITS: -15 raw, 31 gzip) from DATA[0, SIZE):
 * the bytes it took up to the stream's end, -1 when it is not deflate data, -2 when the
 * data ran out first. */
static int64_t inflate_length(const unsigned char *data, size_t size, int window_bits)
{
	unsigned char scratch[32768];
	z_stream stream;
	int64_t length = -1;
	int rc;

	memset(&stream, 0, sizeof stream);
	if (inflateInit2(&stream, window_bits) != Z_OK)
		return -1;
	stream.next_in = (unsigned char *)data;
	stream.avail_in = size > 0x7fffffff ? 0x7fffffff : (unsigned)size;
	do {
		stream.next_out = scratch;
		stream.avail_out = sizeof scratch;
		rc = inflate(&stream, Z_NO_FLUSH);
	} while (rc == Z_OK && stream.avail_in > 0);
	if (rc == Z_STREAM_END)
		length = (int64_t)stream.total_in;
	else if (rc == Z_OK || rc == Z_BUF_ERROR)
		length = -2;
	inflateEnd(&stream);
	return length;
}

/* ------------------------------------------------------------------ naming */

struct zip_walk {
	size_t locals, centrals;
	uint64_t central_start;
	int content_types, word, xl, ppt, manifest, android;
	const char *mimetype_type;
};

static int has_prefix(const unsigned char *name, size_t length, const char *prefix)
{
	size_t n = strlen(prefix);

	return length >= n && memcmp(name, prefix, n) == 0;
}

static int named(const unsigned char *name, size_t length, const char *text)
{
	return length == strlen(text) && memcmp(name, text, length) == 0;
}

static void note_name(struct zip_walk *walk, const unsigned char *name, size_t length)
{
	walk->content_types |= named(name, length, "[Content_Types].xml");
	walk->word |= has_prefix(name, length, "word/");
	walk->xl |= has_prefix(name, length, "xl/");
	walk->ppt |= has_prefix(name, length, "ppt/");
	walk->manifest |= named(name, length, "META-INF/MANIFEST.MF");
	walk->android |= named(name, length, "AndroidManifest.xml");
}

/* ODF and EPUB say what they are in a first, stored member called mimetype. */
static void note_mimetype(struct zip_walk *walk, const unsigned char *text, size_t length)
{
	static const struct { const char *mime, *type; } kinds[] = {
		{ "application/vnd.oasis.opendocument.text", "odt" },
		{ "application/vnd.oasis.opendocument.spreadsheet", "ods" },
		{ "application/vnd.oasis.opendocument.presentation", "odp" },
		{ "application/vnd.oasis.opendocument.graphics", "odg" },
		{ "application/epub+zip", "epub" },
	};
	size_t i;

	for (i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
		if (named(text, length, kinds[i].mime))
			walk->mimetype_type = kinds[i].type;
}

static void name_by_content(const struct zip_walk *walk, struct carve_result *result)
{
	const char *type = walk->mimetype_type;

	if (!type && walk->content_types)
		type = walk->word ? "docx" : walk->xl ? "xlsx" : walk->ppt ? "pptx" : NULL;
	if (!type && walk->android)
		type = "apk";
	if (!type && walk->manifest)
		type = "jar";
	if (type)
		result->type = result->ext = type;
}

/* ------------------------------------------------------------------ the walk */

/* A stored member written without its sizes in the header: its data ends where a data
 * descriptor (with its signature) gives the distance from START as compressed size. */
static int64_t stored_member_end(const unsigned char *data, size_t size, uint64_t start,
    struct zip_walk *walk, size_t at, uint16_t name_length)
{
	static const unsigned char signature[] = { 'P', 'K', 7, 8 };
	const unsigned char *found;
	size_t from = (size_t)start;

	while (from + 16 <= size && (found = memmem(data + from, size - from, signature, 4))) {
		size_t here = (size_t)(found - data);

		if (here + 16 <= size && carve_le32(found + 8) == here - start
		    && carve_le32(found + 12) == here - start) {
			if (walk->locals == 0 && named(data + at + 30, name_length, "mimetype"))
				note_mimetype(walk, data + start, here - (size_t)start);
			return (int64_t)(here + 16);
		}
		from = here + 1;
	}
	return 0;
}

/* A local header at AT and its data: where the next record starts, 0 when the data ran
 * out, -1 when the member is broken. */
static int64_t zip_member(const unsigned char *data, size_t size, size_t at,
    struct zip_walk *walk)
{
	uint16_t flags, method, name_length;
	uint64_t start, compressed;
	int64_t length;

	if (at + 30 > size)
		return 0;
	flags = carve_le16(data + at + 6);
	method = carve_le16(data + at + 8);
	compressed = carve_le32(data + at + 18);
	name_length = carve_le16(data + at + 26);
	start = at + 30 + name_length + carve_le16(data + at + 28);
	if (start > size)
		return 0;
	note_name(walk, data + at + 30, name_length);
	if (!(flags & 8)) {
		if (compressed == 0xffffffff)
			return -1;	/* ZIP64 sizes are in the extra field: not walked */
		if (walk->locals == 0 && method == 0 && named(data + at + 30, name_length,
		    "mimetype") && start + compressed <= size)
			note_mimetype(walk, data + start, (size_t)compressed);
		return start + compressed > size ? 0 : (int64_t)(start + compressed);
	}
	/* Sizes follow the data (streamed): deflate's own end tells where it is; stored data
	 * ends at the descriptor that counts it. */
	if (method == 0)
		return stored_member_end(data, size, start, walk, at, name_length);
	if (method != 8)
		return -1;
	length = inflate_length(data + start, size - start, -15);
	if (length == -2)
		return 0;
	if (length < 0)
		return -1;
	start += (uint64_t)length;
	if (start + 4 <= size && carve_le32(data + start) == ZIP_DESCRIPTOR)
		start += 4;
	start += 12;
	return start > size ? 0 : (int64_t)start;
}

/* The end-of-central-directory record at AT closes the archive when it counts the
 * members seen and points at the central directory where it was. */
static int zip_end(const unsigned char *data, size_t size, size_t at, struct zip_walk *walk,
    int at_end, struct carve_result *result)
{
	uint64_t end;

	if (at + 22 > size)
		return carve_ran_out(result, size, at_end, "data ended in the end record");
	end = at + 22 + carve_le16(data + at + 20);
	if (carve_le16(data + at + 10) != walk->centrals
	    && carve_le16(data + at + 10) != 0xffff)
		return carve_found(result, at, CARVE_TRUNCATED, "end record counts other members");
	if (carve_le32(data + at + 16) != walk->central_start
	    && carve_le32(data + at + 16) != 0xffffffff)
		return carve_found(result, at, CARVE_TRUNCATED, "end record points elsewhere");
	if (end > size)
		return carve_ran_out(result, size, at_end, "data ended in the archive comment");
	name_by_content(walk, result);
	return carve_found(result, end, CARVE_VALIDATED, "local headers, central directory "
	    "and end record agree");
}

static int zip_broken(size_t at, const struct zip_walk *walk, struct carve_result *result,
    const char *why)
{
	if (!walk->locals)
		return carve_not(result, why);
	name_by_content(walk, result);
	return carve_found(result, at, CARVE_TRUNCATED, why);
}

static int zip_validate(const struct carve_format *format, const unsigned char *data,
    size_t size, int at_end, struct carve_result *result)
{
	struct zip_walk walk = { 0 };
	size_t at = 0;
	int64_t next;

	(void)format;
	while (at + 4 <= size) {
		uint32_t signature = carve_le32(data + at);

		if (signature == ZIP_LOCAL && !walk.centrals) {
			if ((next = zip_member(data, size, at, &walk)) == 0)
				break;
			if (next < 0)
				return zip_broken(at, &walk, result, "member not walkable");
			walk.locals++;
			at = (size_t)next;
		} else if (signature == ZIP_CENTRAL) {
			if (!walk.centrals)
				walk.central_start = at;
			if (at + 46 > size)
				break;
			walk.centrals++;
			at += 46 + carve_le16(data + at + 28) + carve_le16(data + at + 30)
			    + carve_le16(data + at + 32);
		} else if (signature == ZIP64_END && at + 12 <= size) {
			at += 12 + (size_t)(carve_le32(data + at + 4));
		} else if (signature == ZIP64_LOCATOR) {
			at += 20;
		} else if (signature == ZIP_END) {
			return zip_end(data, size, at, &walk, at_end, result);
		} else {
			return zip_broken(at, &walk, result, "record chain broke off");
		}
	}
	if (!at_end)
		return CARVE_MORE;
	return zip_broken(at < size ? at : size, &walk, result, "data ended before the end "
	    "record");
}

/* Inflates from AT through READER (WINDOW_BITS as inflate_length's): the bytes it took up
 * to the stream's end, -1 when it is not deflate data, -2 when the data ran out first. */
static int64_t inflate_walked(struct carve_reader *reader, uint64_t at, int window_bits)
{
	unsigned char in[WALK_BUFFER], out[WALK_BUFFER];
	int64_t length = -1;
	z_stream stream;
	size_t got;
	int rc = Z_OK;

	memset(&stream, 0, sizeof stream);
	if (inflateInit2(&stream, window_bits) != Z_OK)
		return -1;
	while (rc == Z_OK || rc == Z_BUF_ERROR) {
		if (!stream.avail_in) {
			if (!(got = reader->read(reader, in, sizeof in, at))) {
				length = -2;
				break;
			}
			at += got;
			stream.next_in = in;
			stream.avail_in = (uInt)got;
		}
		stream.next_out = out;
		stream.avail_out = sizeof out;
		rc = inflate(&stream, Z_NO_FLUSH);
	}
	if (rc == Z_STREAM_END)
		length = (int64_t)stream.total_in;
	inflateEnd(&stream);
	return length;
}

/* A local header at AT read through READER, for zip_walk: where the next record starts,
 * 0 when the data ran out, -1 when the member is broken or not walkable. */
static int64_t zip_member_walked(struct carve_reader *reader, uint64_t at,
    const unsigned char *head, struct zip_walk *walk)
{
	unsigned char text[256];
	uint16_t flags = carve_le16(head + 6), method = carve_le16(head + 8);
	uint16_t name_length = carve_le16(head + 26);
	uint64_t compressed = carve_le32(head + 18);
	uint64_t start = at + 30 + name_length + carve_le16(head + 28);
	unsigned char *name = malloc(name_length + 1u);
	int64_t length;

	if (!name || reader->read(reader, name, name_length, at + 30) != name_length) {
		free(name);
		return name ? 0 : -1;
	}
	note_name(walk, name, name_length);
	if (walk->locals == 0 && method == 0 && !(flags & 8) && compressed < sizeof text
	    && named(name, name_length, "mimetype")
	    && reader->read(reader, text, (size_t)compressed, start) == compressed)
		note_mimetype(walk, text, (size_t)compressed);
	free(name);
	if (!(flags & 8))
		return compressed == 0xffffffff ? -1 : (int64_t)(start + compressed);
	if (method != 8)
		return -1;	/* stored and streamed: not walked piece by piece */
	if ((length = inflate_walked(reader, start, -15)) < 0)
		return length == -2 ? 0 : -1;
	start += (uint64_t)length;
	if (reader->read(reader, text, 4, start) == 4 && carve_le32(text) == ZIP_DESCRIPTOR)
		start += 4;
	return (int64_t)(start + 12);
}

/* zip_validate's walk for an archive larger than the validators' buffer: the records'
 * headers read one by one, streamed members inflated piece by piece. */
static int zip_walk_large(const struct carve_format *format, struct carve_reader *reader,
    struct carve_result *result)
{
	struct zip_walk walk = { 0 };
	unsigned char head[46];
	uint64_t at = 0;
	int64_t next;
	size_t got;
	int verdict;

	(void)format;
	while (at < reader->available && (got = reader->read(reader, head, 46, at)) >= 4) {
		uint32_t signature = carve_le32(head);

		if (signature == ZIP_LOCAL && !walk.centrals) {
			if (got < 30 || (next = zip_member_walked(reader, at, head, &walk)) == 0)
				break;
			if (next < 0)
				return zip_broken(at, &walk, result, "member not walkable");
			walk.locals++;
			at = (uint64_t)next;
		} else if (signature == ZIP_CENTRAL) {
			if (got < 46)
				break;
			if (!walk.centrals)
				walk.central_start = at;
			walk.centrals++;
			at += 46u + carve_le16(head + 28) + carve_le16(head + 30) + carve_le16(head + 32);
		} else if (signature == ZIP64_END && got >= 12) {
			at += 12 + (uint64_t)carve_le32(head + 4);
		} else if (signature == ZIP64_LOCATOR) {
			at += 20;
		} else if (signature == ZIP_END) {
			if (got < 22 || at + 22 + carve_le16(head + 20) > reader->available)
				break;
			verdict = zip_end(head, 22u + carve_le16(head + 20), 0, &walk, 1, result);
			result->length += at;
			return verdict;
		} else {
			return zip_broken((size_t)at, &walk, result, "record chain broke off");
		}
	}
	return zip_broken((size_t)(at < reader->available ? at : reader->available), &walk,
	    result, "data ended before the end record");
}

/* ------------------------------------------------------------------ gzip, zstd */

/* Members one after another (as `cat a.gz b.gz` makes) are one file. */
static int gzip_validate(const struct carve_format *format, const unsigned char *data,
    size_t size, int at_end, struct carve_result *result)
{
	size_t at = 0;
	int64_t length;

	(void)format;
	if (size < 10 || (data[3] & 0xe0))
		return carve_not(result, "gzip header flags invalid");
	while (at + 3 <= size && data[at] == 0x1f && data[at + 1] == 0x8b && data[at + 2] == 8) {
		length = inflate_length(data + at, size - at, 31);
		if (length == -2)
			return at ? carve_found(result, at, CARVE_VALIDATED, "deflate stream decoded "
			    "to its end, CRC right") : carve_ran_out(result, size, at_end,
			    "data ended inside the deflate stream");
		if (length < 0)
			return at ? carve_found(result, at, CARVE_VALIDATED, "deflate stream decoded "
			    "to its end, CRC right") : carve_not(result, "not a deflate stream");
		at += (size_t)length;
	}
	return carve_found(result, at, CARVE_VALIDATED, "deflate stream decoded to its end, "
	    "CRC right");
}

/* gzip_validate's walk for a stream larger than the validators' buffer. */
static int gzip_walk(const struct carve_format *format, struct carve_reader *reader,
    struct carve_result *result)
{
	unsigned char head[3];
	uint64_t at = 0;
	int64_t length;

	(void)format;
	while (reader->read(reader, head, 3, at) == 3 && head[0] == 0x1f && head[1] == 0x8b
	    && head[2] == 8) {
		length = inflate_walked(reader, at, 31);
		if (length == -2 && !at)
			return carve_found(result, reader->available, CARVE_TRUNCATED, "the stream "
			    "ended inside the deflate stream");
		if (length < 0 && !at)
			return carve_not(result, "not a deflate stream");
		if (length < 0)
			break;
		at += (uint64_t)length;
	}
	return carve_found(result, at, CARVE_VALIDATED, "deflate stream decoded to its end, "
	    "CRC right");
}

/* zstd knows a frame's compressed size from its block headers alone. */
static int zstd_validate(const struct carve_format *format, const unsigned char *data,
    size_t size, int at_end, struct carve_result *result)
{
	size_t length = ZSTD_findFrameCompressedSize(data, size);

	(void)format;
	if (!ZSTD_isError(length))
		return carve_found(result, length, CARVE_VALIDATED, "frame's blocks walked to "
		    "the last one");
	if (ZSTD_getErrorCode(length) == ZSTD_error_srcSize_wrong)
		return carve_ran_out(result, size, at_end, "data ended inside the frame");
	return carve_not(result, "not a zstd frame");
}

static const unsigned char ZIP_MAGIC[] = { 'P', 'K', 3, 4 };
static const unsigned char GZIP_MAGIC[] = { 0x1f, 0x8b, 8 };
static const unsigned char ZSTD_MAGIC[] = { 0x28, 0xb5, 0x2f, 0xfd };

const struct carve_format carve_format_zip = {
	.type = "zip", .ext = "zip", .description = "ZIP archive (and ODF, OOXML, EPUB, JAR, APK by content)",
	.magic = ZIP_MAGIC, .magic_size = 4, .magic_offset = 0,
	.max_size = 4ull << 30, .validate = zip_validate, .walk = zip_walk_large,
	.join = carve_join_zip,
	.builtin = 1,
};

const struct carve_format carve_format_gzip = {
	.type = "gz", .ext = "gz", .description = "gzip stream",
	.magic = GZIP_MAGIC, .magic_size = 3, .magic_offset = 0,
	.max_size = 4ull << 30, .validate = gzip_validate, .walk = gzip_walk, .builtin = 1,
};

const struct carve_format carve_format_zstd = {
	.type = "zst", .ext = "zst", .description = "zstd frame",
	.magic = ZSTD_MAGIC, .magic_size = 4, .magic_offset = 0,
	.max_size = 4ull << 30, .validate = zstd_validate, .builtin = 1,
};
