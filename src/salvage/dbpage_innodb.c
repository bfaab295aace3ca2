/* dbpage_innodb.c: one InnoDB page recognised by its checksum (see dbpage_innodb.h). */
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "base/crc32c.h"
#include "salvage/dbpage_innodb.h"

/* Offsets in the FIL header and trailer, and in the FSP header of page 0. */
enum {
	FIL_CHECKSUM = 0, FIL_PAGE_NUMBER = 4, FIL_PREV = 8, FIL_NEXT = 12, FIL_LSN = 16,
	FIL_TYPE = 24,
	FIL_FLUSH_LSN = 26, FIL_SPACE_ID = 34, FIL_DATA = 38, FIL_TRAILER = 8,
	FSP_SIZE = FIL_DATA + 8, FSP_FREE_LIMIT = FIL_DATA + 12, FSP_FLAGS = FIL_DATA + 16,
	PAGE_INDEX_ID = FIL_DATA + 28, FIL_TYPE_INDEX = 17855, FIL_TYPE_RTREE = 17854,
	FIL_NULL = 0xffffffff,
	XDES_ARRAY = FIL_DATA + 112, XDES_STATE = 20, XDES_BITMAP = 24, XDES_STATE_FREE = 1,
};

/* MariaDB's page compression (fil0pagecompress.cc, buf_page_full_crc32_size).
 *
 * full_crc32 tablespaces: the type's top bit marks a compressed page, its other bits the
 * compressed page's length in 256-byte units; the CRC-32C of that length's bytes but the
 * last 4 is stored in those 4 (the rest of the page is zeros or a punched hole), and
 * there is no LSN trailer. From byte 26 on (space id included) the whole original page is
 * compressed; the algorithm is in the tablespace's flags, not the page (zlib, the
 * default, is told by its stream header).
 *
 * Older tablespaces: type 34354, 0xdeadbeef (BUF_NO_CHECKSUM_MAGIC) where the checksum
 * was, the algorithm as 8 bytes at 26, the compressed length as 2 bytes at 38, and from
 * 40 on the whole original page compressed, its own checksum inside: MariaDB checks it
 * after decompression only. Type 37401 (compressed, then encrypted) carries no checksum
 * at all that could be verified without the key. */
enum {
	FIL_TYPE_COMPRESSED_FCRC32 = 0x8000, FIL_TYPE_PAGE_COMPRESSED = 34354,
	FIL_TYPE_PAGE_COMPRESSED_ENCRYPTED = 37401, COMPRESSED_ALGO = 26,
	COMPRESSED_SIZE = FIL_DATA, COMPRESSED_DATA = FIL_DATA + 2, COMPRESSION_ZLIB = 1,
	NO_CHECKSUM_MAGIC = 0xdeadbeef,
};

static uint32_t read_be32(const unsigned char *bytes)
{
	return (uint32_t)bytes[0] << 24 | (uint32_t)bytes[1] << 16 | (uint32_t)bytes[2] << 8
	    | bytes[3];
}

static uint16_t read_be16(const unsigned char *bytes)
{
	return (uint16_t)(bytes[0] << 8 | bytes[1]);
}

/* InnoDB's ut_fold_binary, the legacy hash: its low 32 bits depend only on the low 32
 * bits of every step, so 32-bit arithmetic gives what 64-bit servers stored. */
static uint32_t legacy_fold(const unsigned char *bytes, size_t size)
{
	const uint32_t mask = 1463735687u, mask2 = 1653893711u;
	uint32_t fold = 0;

	for (size_t i = 0; i < size; i++)
		fold = ((((fold ^ bytes[i] ^ mask2) << 8) + fold) ^ mask) + bytes[i];
	return fold;
}

static int full_crc32_valid(const unsigned char *page, size_t size)
{
	if (read_be16(page + FIL_TYPE) & FIL_TYPE_COMPRESSED_FCRC32)
		return 0;
	return crc32c(page, size - 4) == read_be32(page + size - 4);
}

static int crc32_valid(const unsigned char *page, size_t size)
{
	uint32_t crc = crc32c(page + FIL_PAGE_NUMBER, FIL_FLUSH_LSN - FIL_PAGE_NUMBER)
	    ^ crc32c(page + FIL_DATA, size - FIL_DATA - FIL_TRAILER);

	return crc == read_be32(page + FIL_CHECKSUM);
}

/* The old-style field at size-8 held the LSN's low word before InnoDB 4.0.14. */
static int legacy_valid(const unsigned char *page, size_t size)
{
	uint32_t new_style = legacy_fold(page + FIL_PAGE_NUMBER, FIL_FLUSH_LSN - FIL_PAGE_NUMBER)
	    + legacy_fold(page + FIL_DATA, size - FIL_DATA - FIL_TRAILER);
	uint32_t old_field = read_be32(page + size - FIL_TRAILER);

	if (new_style != read_be32(page + FIL_CHECKSUM))
		return 0;
	return old_field == legacy_fold(page, FIL_FLUSH_LSN)
	    || old_field == read_be32(page + FIL_LSN + 4);
}

size_t innodb_flags_page_size(uint32_t flags)
{
	/* full_crc32 flags: marker bit 4, page size shift in bits 0-3. Older flags: page
	 * size shift in bits 6-9, 0 meaning the 16 KiB default. */
	unsigned shift = flags & 0x10 ? flags & 0xf : (flags >> 6) & 0xf;

	if (!(flags & 0x10) && shift == 0)
		return INNODB_DEFAULT_PAGE;
	if (shift < 3 || shift > 7)
		return 0;
	return (size_t)512 << shift;
}

/* The uncompressed page types MariaDB and MySQL write (fil0fil.h): a header claiming
 * another type is not counted as a damaged page, so that data is not taken for one. The
 * page-compressed types are looked at before (compressed_parse). */
static int known_type(uint16_t type)
{
	return type <= 20 || (type >= 17852 && type <= 17855);
}

static int all_zero(const unsigned char *bytes, size_t size)
{
	for (size_t i = 0; i < size; i++)
		if (bytes[i])
			return 0;
	return 1;
}

static void fill(const unsigned char *buffer, size_t page_size, enum innodb_checksum checksum,
    struct innodb_page *page)
{
	memset(page, 0, sizeof *page);
	page->space_id = read_be32(buffer + FIL_SPACE_ID);
	page->page_number = read_be32(buffer + FIL_PAGE_NUMBER);
	page->lsn = (uint64_t)read_be32(buffer + FIL_LSN) << 32 | read_be32(buffer + FIL_LSN + 4);
	page->type = read_be16(buffer + FIL_TYPE);
	page->checksum = checksum;
	if (page->type == FIL_TYPE_INDEX || page->type == FIL_TYPE_RTREE) {
		page->index_id = (uint64_t)read_be32(buffer + PAGE_INDEX_ID) << 32
		    | read_be32(buffer + PAGE_INDEX_ID + 4);
		page->index_root = read_be32(buffer + FIL_PREV) == FIL_NULL
		    && read_be32(buffer + FIL_NEXT) == FIL_NULL;
	}
	if (page->page_number == 0 && page_size >= FSP_FLAGS + 4) {
		page->fsp_size = read_be32(buffer + FSP_SIZE);
		page->fsp_flags = read_be32(buffer + FSP_FLAGS);
		page->fsp_page_size = innodb_flags_page_size(page->fsp_flags);
	}
}

size_t innodb_compressed_length(const unsigned char *buffer, size_t length)
{
	uint16_t type;
	size_t size;

	if (length < COMPRESSED_DATA)
		return 0;
	type = read_be16(buffer + FIL_TYPE);
	if (type == FIL_TYPE_PAGE_COMPRESSED)
		size = COMPRESSED_DATA + read_be16(buffer + COMPRESSED_SIZE);
	else if ((type & FIL_TYPE_COMPRESSED_FCRC32) && type != FIL_TYPE_PAGE_COMPRESSED_ENCRYPTED)
		size = (size_t)(type & ~FIL_TYPE_COMPRESSED_FCRC32) << 8;
	else
		return 0;
	return size >= COMPRESSED_DATA && size <= length ? size : 0;
}

int innodb_page_compressed(const unsigned char *page)
{
	uint16_t type = read_be16(page + FIL_TYPE);

	return (type & FIL_TYPE_COMPRESSED_FCRC32) || type == FIL_TYPE_PAGE_COMPRESSED
	    || type == FIL_TYPE_PAGE_COMPRESSED_ENCRYPTED;
}

/* The page compressed with zlib in the COMPRESSED bytes at SOURCE, inflated to PAGE_SIZE
 * bytes (malloc'ed, in *INFLATED): INNODB_PAGE; INNODB_NO_HEADER when the stream holds a
 * page of another size (more or fewer bytes: the page is one of another tablespace's page
 * size, looked at with the wrong one); INNODB_BAD_CHECKSUM when it does not inflate. */
static enum innodb_verdict inflate_page(const unsigned char *source, size_t compressed,
    size_t page_size, unsigned char **inflated)
{
	uLongf inflated_size = (uLongf)page_size;
	uLong source_size = (uLong)compressed;
	int result;

	*inflated = malloc(page_size);
	if (*inflated == NULL)
		return INNODB_BAD_CHECKSUM;
	result = uncompress2(*inflated, &inflated_size, source, &source_size);
	if (result == Z_OK && inflated_size == page_size)
		return INNODB_PAGE;
	free(*inflated);
	*inflated = NULL;
	return result == Z_OK || result == Z_BUF_ERROR ? INNODB_NO_HEADER : INNODB_BAD_CHECKSUM;
}

/* Whether INFLATED, from the compressed page BUFFER, is the same page: page number and
 * LSN (outside the compressed bytes) equal, and not itself compressed. */
static int same_page(const unsigned char *inflated, const unsigned char *buffer)
{
	return !innodb_page_compressed(inflated)
	    && memcmp(inflated + FIL_PAGE_NUMBER, buffer + FIL_PAGE_NUMBER, 4) == 0
	    && memcmp(inflated + FIL_LSN, buffer + FIL_LSN, 8) == 0;
}

/* Whether a full_crc32 compressed page whose CRC does not match is a damaged page rather
 * than bytes that only happen to look like one. The type's length claim is weak evidence
 * (random bytes make one within 64 KiB one time in 256), and the zeros MariaDB leaves after
 * the compressed length are no better: every compressed page ends in such a run, often
 * 12 KiB long, and a claim from noise or from another page's payload lands in one often
 * enough to count a few "damaged" pages in every scan. So a page is taken for damaged only
 * when what it must hold is there too: the key version (bytes 0-3) zero, as on every page
 * MariaDB did not encrypt, and a zlib stream header at 26 (0x78 and the header's check
 * bits). A damaged page of another algorithm, or one whose first bytes were hit, is then
 * not counted; it could not have been used either way. */
static int damaged_compressed(const unsigned char *buffer, size_t size, size_t available)
{
	return all_zero(buffer + FIL_CHECKSUM, 4) && buffer[COMPRESSED_ALGO] == 0x78
	    && read_be16(buffer + COMPRESSED_ALGO) % 31 == 0
	    && all_zero(buffer + size, available - size);
}

/* A full_crc32 compressed page: its CRC-32C over the compressed length, then (the space
 * id and the original type being compressed too) its zlib payload from 26 on inflated to
 * the original page. That page's own checksum was never computed: the outer one is the
 * page's. A valid CRC over a payload that does not inflate to PAGE_SIZE bytes is a page of
 * another size (a 4 KiB tablespace's page looked at as 16 KiB), not a damaged one. Other
 * algorithms leave the space id unknown: INNODB_UNVERIFIABLE. */
static enum innodb_verdict fcrc32_compressed_parse(const unsigned char *buffer,
    size_t available, size_t page_size, struct innodb_page *page)
{
	size_t size = (size_t)(read_be16(buffer + FIL_TYPE) & ~FIL_TYPE_COMPRESSED_FCRC32) << 8;
	unsigned char *inflated;
	enum innodb_verdict verdict;

	if (size < FIL_DATA + 4 || size >= page_size || size > available)
		return INNODB_NO_HEADER;
	if (crc32c(buffer, size - 4) != read_be32(buffer + size - 4))
		return damaged_compressed(buffer, size, available) ? INNODB_BAD_CHECKSUM
		    : INNODB_NO_HEADER;
	if (buffer[COMPRESSED_ALGO] != 0x78)	/* a zlib stream's first byte */
		return INNODB_UNVERIFIABLE;
	verdict = inflate_page(buffer + COMPRESSED_ALGO, size - 4 - COMPRESSED_ALGO, page_size,
	    &inflated);
	if (verdict != INNODB_PAGE)
		return verdict;
	verdict = INNODB_BAD_CHECKSUM;
	if (same_page(inflated, buffer)) {
		fill(inflated, page_size, INNODB_FULL_CRC32, page);
		page->compressed = 1;
		verdict = INNODB_PAGE;
	}
	free(inflated);
	return verdict;
}

/* The CRC register of CRC-32C advanced over SIZE zero bytes from VALUE, without the
 * initial and final inversions: crc32c(A || B) = zero_shift(crc32c(A), |B|) ^ crc32c(B). */
static uint32_t zero_shift(uint32_t value, size_t size)
{
	static const unsigned char zeros[INNODB_SPLIT_BLOCK];

	return crc32c_update(value, zeros, size) ^ crc32c_update(0, zeros, size);
}

/* Whether the zlib stream of SIZE bytes at SOURCE, not ended there, inflates to at least
 * the FIL header of a page whose page number and LSN are HEADER's; its space id then. */
static int starts_page(const unsigned char *source, size_t size, const unsigned char *header,
    uint32_t *space_id)
{
	unsigned char start[FIL_DATA];
	z_stream stream;
	int result;

	memset(&stream, 0, sizeof stream);
	if (inflateInit(&stream) != Z_OK)
		return 0;
	stream.next_in = (unsigned char *)source;
	stream.avail_in = (uInt)size;
	stream.next_out = start;
	stream.avail_out = sizeof start;
	result = inflate(&stream, Z_SYNC_FLUSH);
	inflateEnd(&stream);
	if ((result != Z_OK && result != Z_BUF_ERROR) || stream.avail_out != 0
	    || memcmp(start + FIL_PAGE_NUMBER, header + FIL_PAGE_NUMBER, 4) != 0
	    || memcmp(start + FIL_LSN, header + FIL_LSN, 8) != 0)
		return 0;
	*space_id = read_be32(start + FIL_SPACE_ID);
	return 1;
}

int innodb_split_head(const unsigned char *buffer, size_t length, struct innodb_split *split)
{
	uint16_t type;
	size_t size, prefix;

	if (length < INNODB_SPLIT_BLOCK)
		return 0;
	type = read_be16(buffer + FIL_TYPE);
	size = (size_t)(type & ~FIL_TYPE_COMPRESSED_FCRC32) << 8;
	if (!(type & FIL_TYPE_COMPRESSED_FCRC32) || type == FIL_TYPE_PAGE_COMPRESSED
	    || type == FIL_TYPE_PAGE_COMPRESSED_ENCRYPTED || size <= INNODB_SPLIT_BLOCK
	    || size >= INNODB_DEFAULT_PAGE || size % INNODB_SPLIT_BLOCK == 0
	    || all_zero(buffer + FIL_LSN + 4, 4) || !all_zero(buffer + FIL_CHECKSUM, 4)
	    || buffer[COMPRESSED_ALGO] != 0x78 || read_be16(buffer + COMPRESSED_ALGO) % 31 != 0
	    || (size <= length && crc32c(buffer, size - 4) == read_be32(buffer + size - 4)))
		return 0;
	prefix = size / INNODB_SPLIT_BLOCK * INNODB_SPLIT_BLOCK;
	if (prefix > length)
		return 0;
	if (!starts_page(buffer + COMPRESSED_ALGO, prefix - COMPRESSED_ALGO, buffer,
	    &split->space_id))
		return 0;
	split->prefix = (uint16_t)prefix;
	split->tail = (uint16_t)(size - prefix);
	split->key = zero_shift(crc32c(buffer, prefix), split->tail - 4);
	return 1;
}

int innodb_split_tail(const unsigned char *block, struct innodb_split *split)
{
	size_t last = INNODB_SPLIT_BLOCK - 1, end;

	if (block[last] != 0)
		return 0;
	while (last > 0 && block[last] == 0)
		last--;
	end = (last + 256) / 256 * 256;	/* the CRC's last non-zero byte is in [end-4, end) */
	if (last < end - 4)
		return 0;
	memset(split, 0, sizeof *split);
	split->tail = (uint16_t)end;
	split->key = read_be32(block + end - 4) ^ crc32c(block, end - 4);
	return 1;
}

/* An older-format compressed page: its zlib payload inflated to the original page, which
 * must be a valid page with the outer header's space id, page number and LSN. */
static enum innodb_verdict inflated_parse(const unsigned char *buffer, size_t page_size,
    struct innodb_page *page)
{
	size_t compressed = read_be16(buffer + COMPRESSED_SIZE);
	unsigned char *inflated;
	enum innodb_verdict verdict;

	if (compressed == 0)
		return INNODB_BAD_CHECKSUM;
	if (compressed > page_size - COMPRESSED_DATA)	/* a larger page's */
		return INNODB_NO_HEADER;
	verdict = inflate_page(buffer + COMPRESSED_DATA, compressed, page_size, &inflated);
	if (verdict != INNODB_PAGE)
		return verdict;
	verdict = INNODB_BAD_CHECKSUM;
	if (same_page(inflated, buffer)
	    && innodb_page_parse(inflated, page_size, page_size, page) == INNODB_PAGE
	    && page->space_id == read_be32(buffer + FIL_SPACE_ID)) {
		page->compressed = 1;
		verdict = INNODB_PAGE;
	}
	free(inflated);
	return verdict;
}

/* A page-compressed page in either format (see above), or INNODB_NO_HEADER when the type
 * is not a compressed one. The older types have the top bit set too, but claim a
 * full_crc32 length (0x632 or 0x1219 x 256 bytes) past any page size. */
static enum innodb_verdict compressed_parse(const unsigned char *buffer, size_t available,
    size_t page_size, struct innodb_page *page)
{
	uint16_t type = read_be16(buffer + FIL_TYPE);

	if (type != FIL_TYPE_PAGE_COMPRESSED && type != FIL_TYPE_PAGE_COMPRESSED_ENCRYPTED)
		return fcrc32_compressed_parse(buffer, available, page_size, page);
	if (read_be32(buffer + FIL_CHECKSUM) != NO_CHECKSUM_MAGIC)
		return INNODB_NO_HEADER;
	if (type == FIL_TYPE_PAGE_COMPRESSED_ENCRYPTED
	    || read_be32(buffer + COMPRESSED_ALGO) != 0
	    || read_be32(buffer + COMPRESSED_ALGO + 4) != COMPRESSION_ZLIB)
		return INNODB_UNVERIFIABLE;
	return inflated_parse(buffer, page_size, page);
}

enum innodb_verdict innodb_page_parse(const unsigned char *buffer, size_t length,
    size_t page_size, struct innodb_page *page)
{
	const unsigned char *lsn_low = buffer + FIL_LSN + 4;
	int full_form, old_form;

	if (page_size < INNODB_MIN_PAGE || page_size > INNODB_MAX_PAGE
	    || (page_size & (page_size - 1)))
		return INNODB_SHORT;
	/* A page-compressed page needs only its compressed bytes: the rest of its page was a
	 * punched hole, and at the end of a free extent the blocks after it may belong to
	 * another file by now. */
	if (length < page_size && innodb_compressed_length(buffer, length) == 0)
		return INNODB_SHORT;
	if (all_zero(buffer, FIL_DATA))
		return INNODB_EMPTY;
	/* A compressed page has no LSN trailer; its page number and space id must still be
	 * plausible before any checksum is computed: a full_crc32 one has a length within
	 * the page, an older one the magic value where the checksum was. */
	if (innodb_page_compressed(buffer) && !all_zero(lsn_low, 4))
		return compressed_parse(buffer, length < page_size ? length : page_size, page_size,
		    page);
	if (length < page_size)
		return INNODB_SHORT;
	/* The trailer repeats the LSN's low word, which is not zero (an LSN ending in 32
	 * zero bits is lost, one page in 4 billion), and the type is one InnoDB writes:
	 * cheap tests that reject almost every position of a scan before any
	 * checksum is computed. */
	full_form = memcmp(buffer + page_size - 8, lsn_low, 4) == 0;
	old_form = memcmp(buffer + page_size - 4, lsn_low, 4) == 0;
	if ((!full_form && !old_form) || all_zero(lsn_low, 4)
	    || !known_type(read_be16(buffer + FIL_TYPE)))
		return INNODB_NO_HEADER;
	if (full_form && full_crc32_valid(buffer, page_size))
		fill(buffer, page_size, INNODB_FULL_CRC32, page);
	else if (old_form && crc32_valid(buffer, page_size))
		fill(buffer, page_size, INNODB_CRC32, page);
	else if (old_form && legacy_valid(buffer, page_size))
		fill(buffer, page_size, INNODB_LEGACY, page);
	else
		return INNODB_BAD_CHECKSUM;
	return INNODB_PAGE;
}

/* Extents are 1 MiB up to 16 KiB pages, 64 pages above. */
static size_t extent_pages(size_t page_size)
{
	return page_size <= 16384 ? 1048576 / page_size : 64;
}

int innodb_page_is_free(const unsigned char *page0, size_t page_size, uint32_t number)
{
	size_t extent = extent_pages(page_size);
	size_t descriptor = XDES_ARRAY + (number / extent) * (XDES_BITMAP + extent / 4);
	unsigned bit = (unsigned)(number % extent) * 2;

	if (number >= read_be32(page0 + FSP_FREE_LIMIT))
		return 1;
	if (number >= page_size || descriptor + XDES_BITMAP + extent / 4 > page_size - FIL_TRAILER)
		return -1;
	if (read_be32(page0 + descriptor + XDES_STATE) == XDES_STATE_FREE)
		return 1;
	return (page0[descriptor + XDES_BITMAP + bit / 8] >> (bit % 8)) & 1;
}

/* SYS_TABLES leaf records in the REDUNDANT format: 6 header bytes before the record's
 * origin (info bits, heap number, field count, whether field ends take 1 or 2 bytes, the
 * next record's page offset), the fields' end offsets stored backwards before them. */
enum {
	PAGE_LEVEL = FIL_DATA + 26, PAGE_INFIMUM = FIL_DATA + 56 + 7,
	PAGE_SUPREMUM = FIL_DATA + 56 + 2 + 12 + 8, RECORD_EXTRA = 6,
	SYS_TABLES_INDEX_ID = 1, SYS_TABLES_FIELDS = 10, SYS_TABLES_NAME = 0,
	SYS_TABLES_SPACE = 9, RECORD_DELETED = 0x20,
};

/* Field I of the record at ORIGIN: its start and length, or -1 when it is NULL or does
 * not fit in the page. */
static int record_field(const unsigned char *page, size_t page_size, size_t origin,
    unsigned field, size_t *start, size_t *length)
{
	int short_ends = page[origin - 3] & 1;
	size_t width = short_ends ? 1 : 2, end, begin = 0;
	size_t at = origin - RECORD_EXTRA - width * (field + 1);

	if (at < FIL_DATA)
		return -1;
	end = short_ends ? page[at] : read_be16(page + at);
	if (end & (short_ends ? 0x80 : 0x8000))
		return -1;
	end &= short_ends ? 0x7f : 0x3fff;
	if (field > 0) {
		begin = short_ends ? page[at + 1] & 0x7f : read_be16(page + at + 2) & 0x3fff;
	}
	if (begin > end || origin + end > page_size - FIL_TRAILER)
		return -1;
	*start = origin + begin;
	*length = end - begin;
	return 0;
}

static int sys_tables_record(const unsigned char *page, size_t page_size, size_t origin,
    innodb_table_found *found, void *context)
{
	size_t name_at, name_length, space_at, space_length;

	if (((read_be16(page + origin - 4) >> 1) & 0x3ff) != SYS_TABLES_FIELDS
	    || record_field(page, page_size, origin, SYS_TABLES_NAME, &name_at, &name_length)
	    || record_field(page, page_size, origin, SYS_TABLES_SPACE, &space_at, &space_length)
	    || space_length != 4 || name_length == 0)
		return -1;
	found(context, (const char *)page + name_at, name_length, read_be32(page + space_at),
	    (page[origin - RECORD_EXTRA] & RECORD_DELETED) != 0);
	return 0;
}

int innodb_sys_tables_records(const unsigned char *page, size_t page_size,
    innodb_table_found *found, void *context)
{
	size_t origin = PAGE_INFIMUM, limit = page_size / RECORD_EXTRA;
	int count = 0;

	if (read_be16(page + FIL_TYPE) != FIL_TYPE_INDEX || read_be32(page + FIL_SPACE_ID) != 0
	    || read_be32(page + PAGE_INDEX_ID) != 0
	    || read_be32(page + PAGE_INDEX_ID + 4) != SYS_TABLES_INDEX_ID
	    || read_be16(page + PAGE_LEVEL) != 0)
		return -1;
	/* Redundant records link by absolute offsets, infimum to supremum; a loop or an
	 * offset outside the page ends the walk as a parse failure. */
	while (limit-- > 0) {
		origin = read_be16(page + origin - 2);
		if (origin == PAGE_SUPREMUM)
			return count;
		if (origin < PAGE_SUPREMUM || origin >= page_size - FIL_TRAILER
		    || sys_tables_record(page, page_size, origin, found, context) != 0)
			return -1;
		count++;
	}
	return -1;
}

int innodb_doublewrite_blocks(const unsigned char *trx_sys, size_t page_size,
    uint32_t *block1, uint32_t *block2)
{
	/* TRX_SYS_DOUBLEWRITE: 200 bytes before the page's end, after a segment header. */
	const unsigned char *header = trx_sys + page_size - 200 + 10;

	if (read_be16(trx_sys + FIL_TYPE) != 7 || read_be32(header) != 536853855u)
		return -1;
	*block1 = read_be32(header + 4);
	*block2 = read_be32(header + 8);
	return 0;
}

const char *innodb_checksum_name(enum innodb_checksum checksum)
{
	switch (checksum) {
	case INNODB_FULL_CRC32: return "full_crc32";
	case INNODB_CRC32: return "crc32";
	case INNODB_LEGACY: return "innodb";
	}
	return "none";
}

const char *innodb_verdict_name(enum innodb_verdict verdict)
{
	switch (verdict) {
	case INNODB_PAGE: return "page";
	case INNODB_SHORT: return "shorter than a page";
	case INNODB_EMPTY: return "empty page";
	case INNODB_NO_HEADER: return "no page header";
	case INNODB_BAD_CHECKSUM: return "wrong checksum";
	case INNODB_UNVERIFIABLE: return "page-compressed with an algorithm other than zlib";
	}
	return "unknown";
}
