/* carve_misc.c: validators of xz streams, mail (mbox and single RFC 822
 * messages), Berkeley DB and GDBM databases (see carve.h). None reads past SIZE. */
/* memmem is a GNU (and BSD) extension in glibc and musl alike. */
#define _GNU_SOURCE
#include <string.h>

#include <zlib.h>

#include "salvage/carve.h"

/* ------------------------------------------------------------------ xz */

/* The stream footer: CRC32 of backward size and flags, the flags of the header, "YZ",
 * and an index (indicator 0x00) where the backward size says. The first such footer
 * ends the stream. */
static int xz_validate(const struct carve_format *format, const unsigned char *data,
    size_t size, int at_end, struct carve_result *result)
{
	const unsigned char *yz;
	size_t at = 12;

	(void)format;
	if (size < 12 || crc32(0, data + 6, 2) != carve_le32(data + 8))
		return carve_not(result, "stream header CRC wrong");
	while (at + 2 <= size && (yz = memmem(data + at, size - at, "YZ", 2)) != NULL) {
		size_t end = (size_t)(yz - data) + 2, footer = end - 12;
		uint64_t index;

		at = end - 1;
		if (end < 24 || end % 4 || memcmp(data + footer + 8, data + 6, 2)
		    || crc32(0, data + footer + 4, 6) != carve_le32(data + footer))
			continue;
		index = ((uint64_t)carve_le32(data + footer + 4) + 1) * 4;
		if (index > footer - 12 || data[footer - index] != 0)
			continue;
		return carve_found(result, end, CARVE_VALIDATED, "stream footer with right CRC, "
		    "its index where it says");
	}
	return carve_ran_out(result, size, at_end, "data ended before the stream footer");
}

/* ------------------------------------------------------------------ mail */

/* Text runs to the first NUL or control byte a mail does not hold; where it ends is
 * where the mail is taken to end. */
static size_t text_end(const unsigned char *data, size_t size)
{
	size_t i;

	for (i = 0; i < size; i++)
		if (data[i] == 0 || (data[i] < 0x20 && data[i] != '\n' && data[i] != '\r'
		    && data[i] != '\t' && data[i] != '\f') || data[i] == 0x7f)
			return i;
	return size;
}

/* Header lines ("Name: value", continuations) up to a blank line. */
static int mail_headers(const unsigned char *data, size_t size, size_t at)
{
	int headers = 0;

	while (at < size) {
		const unsigned char *newline = memchr(data + at, '\n', size - at);
		size_t length = newline ? (size_t)(newline - data) - at : size - at, name = 0;

		if (length == 0 || (length == 1 && data[at] == '\r'))
			return headers >= 2;
		if (data[at] != ' ' && data[at] != '\t') {
			while (name < length && data[at + name] > 0x20 && data[at + name] < 0x7f
			    && data[at + name] != ':')
				name++;
			if (!name || name == length || data[at + name] != ':')
				return 0;
			headers++;
		}
		if (!newline)
			return 0;
		at += length + 1;
	}
	return 0;
}

static int mail_validate(const struct carve_format *format, const unsigned char *data,
    size_t size, int at_end, struct carve_result *result)
{
	size_t end = text_end(data, size), first = 0;
	int mbox = !memcmp(data, "From ", 5);

	if (mbox) {
		const unsigned char *newline = memchr(data, '\n', end < 1024 ? end : 1024);

		if (!newline)
			return carve_not(result, "no line after \"From \"");
		first = (size_t)(newline - data) + 1;
	}
	if (!mail_headers(data, end, first))
		return end == size && !at_end ? CARVE_MORE : carve_not(result, "no mail header "
		    "block");
	if (end == size && !at_end)
		return CARVE_MORE;
	result->type = result->ext = mbox ? "mbox" : format->type;
	return carve_found(result, end, CARVE_UNVALIDATED, "end of the text");
}

/* ------------------------------------------------------------------ Berkeley DB */

static const uint32_t BDB_MAGICS[] = { 0x00061561, 0x00053162, 0x00042253 };

/* The metadata page's magic at offset 12, in the byte order of the machine that wrote
 * it: that order is the file's. 1 little-endian, 2 big-endian, 0 neither. */
static int bdb_order(const unsigned char *data)
{
	size_t i;

	for (i = 0; i < 3; i++) {
		if (carve_le32(data + 12) == BDB_MAGICS[i])
			return 1;
		if (carve_be32(data + 12) == BDB_MAGICS[i])
			return 2;
	}
	return 0;
}

static int bdb_match(const struct carve_format *format, const unsigned char *data,
    size_t size)
{
	(void)format;
	return size >= 36 && bdb_order(data) && !(data[8] | data[9] | data[10] | data[11]);
}

static int bdb_validate(const struct carve_format *format, const unsigned char *data,
    size_t size, int at_end, struct carve_result *result)
{
	int big = bdb_order(data) == 2;
	uint32_t page = big ? carve_be32(data + 20) : carve_le32(data + 20);
	uint32_t last = big ? carve_be32(data + 32) : carve_le32(data + 32);

	(void)format, (void)size, (void)at_end;
	if (page < 512 || page > 65536 || (page & (page - 1)))
		return carve_not(result, "page size not a power of two from 512 to 65536");
	result->checked = 36;
	return carve_found(result, ((uint64_t)last + 1) * page, CARVE_VALIDATED,
	    "metadata page: (last page + 1) x page size");
}

/* ------------------------------------------------------------------ GDBM */

static int gdbm_match(const struct carve_format *format, const unsigned char *data,
    size_t size)
{
	uint32_t magic = size >= 4 ? carve_le32(data) : 0;

	(void)format;
	return magic >= 0x13579acd && magic <= 0x13579ad1;
}

/* The header's next_block is where the next block would be allocated: the file's end. */
static int gdbm_validate(const struct carve_format *format, const unsigned char *data,
    size_t size, int at_end, struct carve_result *result)
{
	uint32_t magic, block;
	uint64_t directory, next;
	int wide;

	(void)format, (void)at_end;
	if (size < 40)
		return carve_not(result, "shorter than a GDBM header");
	magic = carve_le32(data);
	wide = magic == 0x13579acf || magic == 0x13579ad1;
	block = carve_le32(data + 4);
	directory = wide ? (uint64_t)carve_le32(data + 12) << 32 | carve_le32(data + 8)
	    : carve_le32(data + 8);
	next = wide ? (uint64_t)carve_le32(data + 36) << 32 | carve_le32(data + 32)
	    : carve_le32(data + 28);
	if (block < 512 || block > (1u << 24) || (block & (block - 1)))
		return carve_not(result, "block size not a power of two");
	if (directory < block || directory >= next || next % block)
		return carve_not(result, "directory or next block outside the file");
	result->checked = 40;
	return carve_found(result, next, CARVE_VALIDATED, "header's next block");
}

static const unsigned char XZ_MAGIC[] = { 0xfd, '7', 'z', 'X', 'Z', 0 };

#define FORMAT(NAME, TYPE, DESCRIPTION, MAGIC, MAGIC_SIZE, MAX, VALIDATE) \
	const struct carve_format carve_format_##NAME = { \
		.type = TYPE, .ext = TYPE, .description = DESCRIPTION, \
		.magic = (const unsigned char *)(MAGIC), .magic_size = MAGIC_SIZE, \
		.max_size = MAX, .validate = VALIDATE, .builtin = 1, \
	}

FORMAT(xz, "xz", "xz stream", XZ_MAGIC, 6, 1ull << 36, xz_validate);
/* Four signatures, one type: --list shows it once. */
#define MAIL_DESCRIPTION "mail: an mbox, or one RFC 822 message (From, Received:, " \
    "Return-Path: or Delivered-To: first)"
FORMAT(mbox, "eml", MAIL_DESCRIPTION, "From ", 5,
    256u << 20, mail_validate);
FORMAT(mail_received, "eml", MAIL_DESCRIPTION,
    "Received: ", 10, 64u << 20, mail_validate);
FORMAT(mail_return, "eml", MAIL_DESCRIPTION,
    "Return-Path: ", 13, 64u << 20, mail_validate);
FORMAT(mail_delivered, "eml", MAIL_DESCRIPTION,
    "Delivered-To: ", 14, 64u << 20, mail_validate);

const struct carve_format carve_format_bdb = {
	.type = "db", .ext = "db", .description = "Berkeley DB (hash, btree, queue)",
	.max_size = 1ull << 40, .validate = bdb_validate, .match = bdb_match, .builtin = 1,
};

const struct carve_format carve_format_gdbm = {
	.type = "gdbm", .ext = "gdbm", .description = "GDBM database",
	.max_size = 1ull << 40, .validate = gdbm_validate, .match = gdbm_match, .builtin = 1,
};
