/* carve_document.c: validators of documents and containers: PDF, SQLite, ELF, tar (see
 * carve.h; ZIP has carve_zip.c). None reads past SIZE. */
/* memmem is a GNU (and BSD) extension in glibc and musl alike. */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>

#include "salvage/carve.h"

/* ------------------------------------------------------------------ PDF */

static const unsigned char *find(const unsigned char *data, size_t size, size_t from,
    const char *text)
{
	size_t length = strlen(text);

	if (from >= size)
		return NULL;
	return memmem(data + from, size - from, text, length);
}

static int is_space(unsigned char c)
{
	return c == ' ' || c == '\r' || c == '\n' || c == '\t' || c == '\f' || c == 0;
}

/* After a %%EOF, an incremental update (or a linearized file's main part) goes on with
 * objects or a cross-reference section; anything else is not this file any more. */
static int pdf_continues(const unsigned char *data, size_t size, size_t at)
{
	size_t digits = 0;

	while (at < size && is_space(data[at]))
		at++;
	if (at + 4 <= size && !memcmp(data + at, "xref", 4))
		return 1;
	while (at + digits < size && data[at + digits] >= '0' && data[at + digits] <= '9')
		digits++;
	if (!digits || at + digits + 16 > size)
		return 0;
	return memmem(data + at + digits, 16, " obj", 4) != NULL;
}

/* A %%EOF belongs to the file when a startxref with a plausible offset precedes it. */
static int pdf_startxref_before(const unsigned char *data, size_t eof)
{
	size_t from = eof > 1024 ? eof - 1024 : 0;
	const unsigned char *s = memmem(data + from, eof - from, "startxref", 9);

	return s != NULL;
}

static size_t skip_eol(const unsigned char *data, size_t size, size_t at)
{
	if (at < size && data[at] == '\r')
		at++;
	if (at < size && data[at] == '\n')
		at++;
	return at;
}

static int pdf_validate(const struct carve_format *format, const unsigned char *data,
    size_t size, int at_end, struct carve_result *result)
{
	const unsigned char *eof;
	size_t at = 8, end = 0;

	(void)format;
	if (size < 8 || data[5] < '1' || data[5] > '2' || data[6] != '.')
		return carve_not(result, "no %PDF-1.x or 2.x version");
	while ((eof = find(data, size, at, "%%EOF")) != NULL) {
		at = (size_t)(eof - data) + 5;
		if (!pdf_startxref_before(data, (size_t)(eof - data)))
			continue;
		end = skip_eol(data, size, at);
		if (end + 32 > size && !at_end)
			return CARVE_MORE;	/* what follows decides */
		if (!pdf_continues(data, size, end))
			return carve_found(result, end, CARVE_VALIDATED, "last %%EOF after a "
			    "startxref, no update after it");
	}
	if (end)
		return carve_ran_out(result, end, at_end, "last %%EOF seen before the data ended");
	return carve_ran_out(result, size, at_end, "data ended before %%EOF");
}

/* pdf_validate's search for a file larger than the validators' buffer: the data read a
 * piece at a time, with the KiB before it (where the startxref must be) and a little
 * after it (what follows a %%EOF). */
static int pdf_walk(const struct carve_format *format, struct carve_reader *reader,
    struct carve_result *result)
{
	enum { PIECE = 1 << 20, BEFORE = 1024, AFTER = 64 };
	unsigned char *buffer = malloc(BEFORE + PIECE + AFTER);
	uint64_t piece_at = 8, base, end = 0;
	const unsigned char *eof;
	size_t got, from, at, stop, local;
	int at_end, verdict = -1;

	(void)format;
	if (!buffer)
		return carve_found(result, 0, CARVE_TRUNCATED, "out of memory");
	for (at_end = 0; !at_end && verdict < 0; piece_at += PIECE) {
		base = piece_at > BEFORE ? piece_at - BEFORE : 0;
		from = (size_t)(piece_at - base);
		got = reader->read(reader, buffer, from + PIECE + AFTER, base);
		at_end = base + got >= reader->available;
		if (got <= from)
			break;
		stop = got < from + PIECE + 4 ? got : from + PIECE + 4;
		for (at = from; verdict < 0 && (eof = memmem(buffer + at, stop - at, "%%EOF", 5));) {
			at = (size_t)(eof - buffer) + 5;
			if (!pdf_startxref_before(buffer, (size_t)(eof - buffer)))
				continue;
			local = skip_eol(buffer, got, at);
			end = base + local;
			if (!pdf_continues(buffer, got, local))
				verdict = carve_found(result, end, CARVE_VALIDATED, "last %%EOF after a "
				    "startxref, no update after it");
		}
	}
	free(buffer);
	if (verdict >= 0)
		return verdict;
	return carve_found(result, end ? end : reader->available, CARVE_TRUNCATED, end
	    ? "last %%EOF seen before the data ended" : "data ended before %%EOF");
}

/* ------------------------------------------------------------------ SQLite */

static int sqlite_validate(const struct carve_format *format, const unsigned char *data,
    size_t size, int at_end, struct carve_result *result)
{
	uint32_t page_size, pages;

	(void)format, (void)at_end;
	if (size < 100)
		return carve_not(result, "shorter than an SQLite header");
	page_size = carve_be16(data + 16);
	page_size = page_size == 1 ? 65536 : page_size;
	if (page_size < 512 || (page_size & (page_size - 1)))
		return carve_not(result, "page size not a power of two from 512 to 65536");
	if (data[21] != 64 || data[22] != 32 || data[23] != 32)
		return carve_not(result, "payload fractions not 64, 32, 32");
	/* Page 1 holds the schema table's b-tree root after the header: a leaf or an
	 * interior table page. */
	if (size > 100 && data[100] != 0x0d && data[100] != 0x05)
		return carve_not(result, "page 1 is not a table b-tree page");
	pages = carve_be32(data + 28);
	/* The in-header size is only valid when the change counter matches version-valid-for
	 * (written by SQLite 3.7.0 and later). */
	if (carve_be32(data + 24) != carve_be32(data + 92) || pages == 0)
		return carve_not(result, "in-header database size not valid (older SQLite)");
	result->checked = 100;
	return carve_found(result, (uint64_t)pages * page_size, CARVE_VALIDATED,
	    "header page count x page size");
}

/* ------------------------------------------------------------------ ELF */

struct elf_reader {
	const unsigned char *data;
	int is64, big;
};

static uint64_t elf_get(const struct elf_reader *elf, size_t at, int width)
{
	const unsigned char *p = elf->data + at;
	uint64_t value = 0;
	int i;

	for (i = 0; i < width; i++)
		value |= (uint64_t)p[elf->big ? width - 1 - i : i] << (8 * i);
	return value;
}

/* The end of the tables at OFFSET (COUNT entries of ENTRY bytes) and of what their entries
 * point at (offset and size fields at OFFSET_FIELD, SIZE_FIELD); 0 when they are not all in
 * SIZE bytes. */
static uint64_t elf_extent(const struct elf_reader *elf, size_t size, uint64_t offset,
    uint64_t count, uint64_t entry, size_t offset_field, size_t size_field, int sections)
{
	uint64_t end, i;
	int width = elf->is64 ? 8 : 4;

	if (count == 0)
		return 0;
	/* Each entry must hold the fields read from it, and the table the entries. */
	if (entry < size_field + width || offset > size || count * entry > size - offset)
		return UINT64_MAX;
	end = offset + count * entry;
	for (i = 0; i < count; i++) {
		size_t at = (size_t)(offset + i * entry);
		uint64_t piece_end = elf_get(elf, at + offset_field, width)
		    + elf_get(elf, at + size_field, width);

		if (sections && elf_get(elf, at + 4, 4) == 8)	/* SHT_NOBITS: no bytes */
			continue;
		end = piece_end > end ? piece_end : end;
	}
	return end;
}

static int elf_validate(const struct carve_format *format, const unsigned char *data,
    size_t size, int at_end, struct carve_result *result)
{
	struct elf_reader elf = { data, 0, 0 };
	uint64_t sections, segments, end;

	if (size < 64)
		return at_end ? carve_not(result, "shorter than an ELF header") : CARVE_MORE;
	if ((data[4] != 1 && data[4] != 2) || (data[5] != 1 && data[5] != 2) || data[6] != 1)
		return carve_not(result, "ELF class, data or version invalid");
	elf.is64 = data[4] == 2;
	elf.big = data[5] == 2;
	if (elf.is64)
		sections = elf_extent(&elf, size, elf_get(&elf, 0x28, 8), elf_get(&elf, 0x3c, 2),
		    elf_get(&elf, 0x3a, 2), 0x18, 0x20, 1),
		segments = elf_extent(&elf, size, elf_get(&elf, 0x20, 8), elf_get(&elf, 0x38, 2),
		    elf_get(&elf, 0x36, 2), 0x08, 0x20, 0);
	else
		sections = elf_extent(&elf, size, elf_get(&elf, 0x20, 4), elf_get(&elf, 0x30, 2),
		    elf_get(&elf, 0x2e, 2), 0x10, 0x14, 1),
		segments = elf_extent(&elf, size, elf_get(&elf, 0x1c, 4), elf_get(&elf, 0x2c, 2),
		    elf_get(&elf, 0x2a, 2), 0x04, 0x10, 0);
	if (sections == UINT64_MAX || segments == UINT64_MAX)
		return at_end ? carve_not(result, "ELF tables outside the data") : CARVE_MORE;
	end = sections > segments ? sections : segments;
	if (end > format->max_size)
		return carve_not(result, "ELF tables point past 4 GiB");
	if (end < 64)
		return carve_not(result, "ELF without sections or segments");
	result->checked = 64;	/* the tables' offsets are trusted, not walked */
	return carve_found(result, end, CARVE_VALIDATED, "end of the last section or segment");
}

/* ------------------------------------------------------------------ tar */

/* An octal field, or GNU's base-256 one; -1 when it is neither. */
static int64_t tar_number(const unsigned char *field, size_t width)
{
	int64_t value = 0;
	size_t i = 0;

	if (field[0] & 0x80) {
		for (i = 1; i < width; i++)
			value = value << 8 | field[i];
		return value < 0 ? -1 : value;
	}
	while (i < width && field[i] == ' ')
		i++;
	for (; i < width && field[i] >= '0' && field[i] <= '7'; i++)
		value = value * 8 + (field[i] - '0');
	if (i < width && field[i] != ' ' && field[i] != 0)
		return -1;
	return value;
}

static int tar_checksum_ok(const unsigned char *header)
{
	int64_t stored = tar_number(header + 148, 8);
	uint64_t sum = 0;
	size_t i;

	for (i = 0; i < 512; i++)
		sum += i >= 148 && i < 156 ? ' ' : header[i];
	return stored >= 0 && (uint64_t)stored == sum;
}

static int all_zero(const unsigned char *block, size_t size)
{
	size_t i;

	for (i = 0; i < size; i++)
		if (block[i])
			return 0;
	return 1;
}

/* Headers walked with their checksums to the two zero blocks; the zeros after them up to
 * the end of tar's 10 KiB record are part of the file. */
static int tar_validate(const struct carve_format *format, const unsigned char *data,
    size_t size, int at_end, struct carve_result *result)
{
	size_t at = 0, headers = 0;

	(void)format;
	while (at + 1024 <= size) {
		int64_t length;

		if (all_zero(data + at, 1024)) {
			at += 1024;
			while (at % 10240 && at + 512 <= size && all_zero(data + at, 512))
				at += 512;
			return headers ? carve_found(result, at, CARVE_VALIDATED, "two zero blocks "
			    "after headers with right checksums") : carve_not(result, "empty");
		}
		if (!tar_checksum_ok(data + at) || (length = tar_number(data + at + 124, 12)) < 0)
			return headers ? carve_found(result, at, CARVE_TRUNCATED, "header checksum "
			    "wrong") : carve_not(result, "header checksum wrong");
		headers++;
		if ((uint64_t)length > size)
			break;
		at += 512 + ((size_t)length + 511) / 512 * 512;
	}
	return carve_ran_out(result, at < size ? at : size, at_end, "data ended before the "
	    "end blocks");
}

/* The same walk for a tar larger than the validators' buffer, one header at a time. */
static int tar_walk(const struct carve_format *format, struct carve_reader *reader,
    struct carve_result *result)
{
	unsigned char header[1024];
	uint64_t at = 0;
	size_t headers = 0;
	int64_t length;

	(void)format;
	while (reader->read(reader, header, sizeof header, at) == sizeof header) {
		if (all_zero(header, sizeof header))
			return carve_found(result, at + 1024, CARVE_VALIDATED, "two zero blocks after "
			    "headers with right checksums");
		if (!tar_checksum_ok(header) || (length = tar_number(header + 124, 12)) < 0)
			return headers ? carve_found(result, at, CARVE_TRUNCATED, "header checksum "
			    "wrong") : carve_not(result, "header checksum wrong");
		headers++;
		at += 512 + ((uint64_t)length + 511) / 512 * 512;
	}
	if (!headers)
		return carve_not(result, "no tar header");
	return carve_found(result, at < reader->available ? at : reader->available,
	    CARVE_TRUNCATED, "data ended before the end blocks");
}

static const unsigned char ELF_MAGIC[] = { 0x7f, 'E', 'L', 'F' };

const struct carve_format carve_format_pdf = {
	.type = "pdf", .ext = "pdf", .description = "PDF document",
	.magic = (const unsigned char *)"%PDF-", .magic_size = 5, .magic_offset = 0,
	.max_size = 1ull << 30, .validate = pdf_validate, .walk = pdf_walk, .builtin = 1,
};

const struct carve_format carve_format_sqlite = {
	.type = "sqlite", .ext = "sqlite", .description = "SQLite 3 database",
	.magic = (const unsigned char *)"SQLite format 3", .magic_size = 16, .magic_offset = 0,
	.max_size = 1ull << 40, .validate = sqlite_validate, .builtin = 1,
};

const struct carve_format carve_format_elf = {
	.type = "elf", .ext = "elf", .description = "ELF executable or library",
	.magic = ELF_MAGIC, .magic_size = 4, .magic_offset = 0,
	.max_size = 1ull << 32, .validate = elf_validate, .builtin = 1,
};

const struct carve_format carve_format_tar = {
	.type = "tar", .ext = "tar", .description = "tar archive (ustar, GNU, pax)",
	.magic = (const unsigned char *)"ustar", .magic_size = 5, .magic_offset = 257,
	.max_size = 1ull << 40, .validate = tar_validate, .walk = tar_walk, .builtin = 1,
};
