/* test_dbpage_innodb.c: InnoDB pages recognised in tablespaces MariaDB itself wrote, in
 * its default full_crc32 format and in the older crc32 one; damaged pages refused with
 * the reason. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "lib/dbfixture.h"
#include "salvage/dbpage_innodb.h"

enum { PAGE = 16384 };

/* Every page of the file is a valid page of one tablespace at its own position, or a
 * never-written (all-zero) one; page 0 declares the file's size and page size. */
static void check_tablespace(const char *name, enum innodb_checksum format, int compressed)
{
	size_t size, pages = 0, compressed_pages = 0;
	unsigned char *file = dbfixture_read("mariadb", name, &size);
	struct innodb_page first, page;

	if (file == NULL)
		skip();
	assert_int_equal(innodb_page_parse(file, size, PAGE, &first), INNODB_PAGE);
	assert_int_equal(first.page_number, 0);
	assert_int_equal((uint64_t)first.fsp_size * PAGE, size);
	assert_int_equal(first.fsp_page_size, PAGE);
	for (size_t at = 0; at < size; at += PAGE) {
		enum innodb_verdict verdict = innodb_page_parse(file + at, size - at, PAGE, &page);

		if (verdict == INNODB_EMPTY)
			continue;
		assert_int_equal(verdict, INNODB_PAGE);
		assert_int_equal(page.checksum, format);
		assert_int_equal(page.space_id, first.space_id);
		assert_int_equal(page.page_number, at / PAGE);
		assert_true(page.lsn > 0);
		assert_int_equal(page.compressed, innodb_page_compressed(file + at));
		compressed_pages += page.compressed;
		pages++;
	}
	assert_true(pages > 50);	/* 6000 rows fill about 95 pages */
	/* MariaDB leaves the FSP header and extent descriptors uncompressed. */
	if (compressed)
		assert_true(compressed_pages > 50 && compressed_pages < pages);
	else
		assert_int_equal(compressed_pages, 0);
	free(file);
}

static void test_full_crc32_tablespace(void **state)
{
	(void)state;
	check_tablespace("full.ibd", INNODB_FULL_CRC32, 0);
}

static void test_crc32_tablespace(void **state)
{
	(void)state;
	check_tablespace("crc32.ibd", INNODB_CRC32, 0);
}

/* PAGE_COMPRESSED=1 tables as MariaDB wrote them: in full_crc32 format the checksum
 * covers the compressed bytes; in the older one the zlib payload holds the original page
 * and its crc32 checksum. Both kept as they are. */
static void test_page_compressed_full_crc32_tablespace(void **state)
{
	(void)state;
	check_tablespace("compressed.ibd", INNODB_FULL_CRC32, 1);
}

static void test_page_compressed_crc32_tablespace(void **state)
{
	(void)state;
	check_tablespace("comp_crc32.ibd", INNODB_CRC32, 1);
}

/* The first page-compressed page of FILE past page 2, as an offset. */
static size_t first_compressed(const unsigned char *file, size_t size)
{
	for (size_t at = 3 * PAGE; at < size; at += PAGE)
		if (innodb_page_compressed(file + at))
			return at;
	fail_msg("no page-compressed page");
	return 0;
}

/* A changed byte in a compressed page's header or payload is a wrong checksum; an
 * algorithm other than zlib in the older format cannot be verified and is not a page.
 * A full_crc32 page counts as damaged only while its key version (bytes 0-3) is zero and
 * a zlib header starts its payload (see damaged_compressed): a hit there makes it
 * something that merely claims to be a compressed page. */
static void check_compressed_damage(const char *name, size_t payload_at)
{
	size_t size, at;
	unsigned char *file = dbfixture_read("mariadb", name, &size);
	struct innodb_page page;
	const size_t where[] = {4, 20, 36, payload_at + 2, payload_at + 100};

	if (file == NULL)
		skip();
	at = first_compressed(file, size);
	assert_int_equal(innodb_page_parse(file + at, PAGE, PAGE, &page), INNODB_PAGE);
	assert_true(page.compressed);
	for (size_t i = 0; i < sizeof where / sizeof where[0]; i++) {
		file[at + where[i]] ^= 0x20;
		assert_int_equal(innodb_page_parse(file + at, PAGE, PAGE, &page),
		    INNODB_BAD_CHECKSUM);
		file[at + where[i]] ^= 0x20;
	}
	if (file[at] == 0xde) {		/* the older format: algorithm 1 (zlib) at 26 */
		file[at + payload_at] ^= 0x20;	/* no zlib stream: nothing inflates */
		assert_int_equal(innodb_page_parse(file + at, PAGE, PAGE, &page),
		    INNODB_BAD_CHECKSUM);
		file[at + payload_at] ^= 0x20;
		file[at + 33] = 2;	/* lz4 */
		assert_int_equal(innodb_page_parse(file + at, PAGE, PAGE, &page),
		    INNODB_UNVERIFIABLE);
	} else {
		file[at + 100] ^= 0x20;
		file[at + payload_at] ^= 0x20;	/* and no zlib header */
		assert_int_equal(innodb_page_parse(file + at, PAGE, PAGE, &page),
		    INNODB_NO_HEADER);
		file[at + payload_at] ^= 0x20;
		file[at + 2] = 1;		/* and a key version: encrypted */
		assert_int_equal(innodb_page_parse(file + at, PAGE, PAGE, &page),
		    INNODB_NO_HEADER);
	}
	free(file);
}

static void test_damaged_compressed_page(void **state)
{
	(void)state;
	check_compressed_damage("compressed.ibd", 26);
	check_compressed_damage("comp_crc32.ibd", 40);
}

/* Bytes that are no page but have the type's top bit set claim a compressed length; when
 * the window's bytes past that length are zeros, as in the hole after every compressed
 * page, they once counted as a damaged page (the four "bad checksums" of a scan over two
 * page-compressed tablespaces and noise). The window here is what that scan found at a
 * 64 KiB page size: noise up to the claimed 0xe3 x 256 bytes, zeros after. */
static void test_noise_claiming_a_compressed_length(void **state)
{
	enum { WINDOW = 65536, CLAIM = 0xe3 << 8 };
	unsigned char *window = calloc(1, WINDOW);
	uint32_t seed = 2463534242u;
	struct innodb_page page;

	(void)state;
	assert_non_null(window);
	for (size_t i = 0; i < CLAIM; i++) {
		seed ^= seed << 13;
		seed ^= seed >> 17;
		seed ^= seed << 5;
		window[i] = (unsigned char)(seed >> 24);
	}
	window[0] |= 1;			/* a key version: never zero by chance */
	window[24] = 0x80;
	window[25] = 0xe3;
	window[23] |= 1;		/* the LSN's low word is not zero */
	assert_int_equal(innodb_page_parse(window, WINDOW, WINDOW, &page), INNODB_NO_HEADER);
	/* With what a compressed page must hold (key version zero, a zlib header), the same
	 * bytes are a page whose checksum is wrong. */
	memset(window, 0, 4);
	window[26] = 0x78;
	window[27] = 0x9c;
	assert_int_equal(innodb_page_parse(window, WINDOW, WINDOW, &page), INNODB_BAD_CHECKSUM);
	free(window);
}

/* A compressed page looked at with another page size is not a damaged page: its CRC is
 * valid (full_crc32) or its payload inflates (older format), only to a 16 KiB page. The
 * pages are copied into windows of exactly the size looked at, zeros past the page. */
static void check_compressed_at_other_sizes(const char *name)
{
	size_t size, tried = 0;
	unsigned char *file = dbfixture_read("mariadb", name, &size), *window;
	const size_t sizes[] = {4096, 8192, 32768, 65536};
	struct innodb_page page;

	if (file == NULL)
		skip();
	window = malloc(65536);
	assert_non_null(window);
	for (size_t at = 0; at + PAGE <= size; at += PAGE) {
		if (!innodb_page_compressed(file + at))
			continue;
		for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
			memset(window, 0, 65536);
			memcpy(window, file + at, sizes[i] < PAGE ? sizes[i] : PAGE);
			assert_int_equal(innodb_page_parse(window, sizes[i], sizes[i], &page),
			    INNODB_NO_HEADER);
		}
		tried++;
	}
	assert_true(tried > 50);
	free(window);
	free(file);
}

static void test_compressed_page_at_other_sizes(void **state)
{
	(void)state;
	check_compressed_at_other_sizes("compressed.ibd");
	check_compressed_at_other_sizes("comp_crc32.ibd");
}

/* One changed byte anywhere in the page makes it a wrong checksum, never a page. */
static void check_damage(const char *name)
{
	size_t size;
	unsigned char *file = dbfixture_read("mariadb", name, &size);
	struct innodb_page page;
	const size_t where[] = {4, 40, 200, PAGE / 2, PAGE - 9};

	if (file == NULL)
		skip();
	for (size_t i = 0; i < sizeof where / sizeof where[0]; i++) {
		file[3 * PAGE + where[i]] ^= 0x20;
		assert_int_equal(innodb_page_parse(file + 3 * PAGE, PAGE, PAGE, &page),
		    INNODB_BAD_CHECKSUM);
		file[3 * PAGE + where[i]] ^= 0x20;
	}
	assert_int_equal(innodb_page_parse(file + 3 * PAGE, PAGE, PAGE, &page), INNODB_PAGE);
	free(file);
}

static void test_damaged_page_is_a_wrong_checksum(void **state)
{
	(void)state;
	check_damage("full.ibd");
	check_damage("crc32.ibd");
}

/* A page read at another size, or cut short, is not taken; nothing past LENGTH is read
 * (the copy is exactly as long as the test says, so ASan would see an overread). */
static void test_wrong_size_and_short_buffer(void **state)
{
	size_t size;
	unsigned char *file = dbfixture_read("mariadb", "full.ibd", &size), *copy;
	struct innodb_page page;

	(void)state;
	if (file == NULL)
		skip();
	assert_int_not_equal(innodb_page_parse(file + 3 * PAGE, PAGE, 8192, &page), INNODB_PAGE);
	assert_int_not_equal(innodb_page_parse(file + 3 * PAGE, PAGE, 4096, &page), INNODB_PAGE);
	copy = malloc(PAGE - 1);
	assert_non_null(copy);
	memcpy(copy, file + 3 * PAGE, PAGE - 1);
	assert_int_equal(innodb_page_parse(copy, PAGE - 1, PAGE, &page), INNODB_SHORT);
	assert_int_equal(innodb_page_parse(copy, PAGE - 1, 12288, &page), INNODB_SHORT);
	free(copy);
	free(file);
}

struct names {
	char text[4096];
	int deleted;
};

static void collect_name(void *context, const char *name, size_t length, uint32_t space_id,
    int deleted)
{
	struct names *names = context;
	size_t used = strlen(names->text);

	snprintf(names->text + used, sizeof names->text - used, "%.*s=%u;", (int)length, name,
	    space_id);
	names->deleted += deleted;
}

/* The system tablespace MariaDB wrote names both tables with their space ids; no other
 * page of it, nor a table's page, parses as SYS_TABLES. */
static void test_sys_tables_names_the_tables(void **state)
{
	size_t size, full_size, pages = 0;
	unsigned char *system = dbfixture_read("mariadb", "ibdata1", &size);
	unsigned char *full = dbfixture_read("mariadb", "full.ibd", &full_size);
	struct innodb_page first;
	struct names names = {0};
	char expected[64];

	(void)state;
	if (system == NULL || full == NULL)
		skip();
	for (size_t at = 0; at + PAGE <= size; at += PAGE) {
		int found = innodb_sys_tables_records(system + at, PAGE, collect_name, &names);

		if (found >= 0) {
			assert_true(found >= 2);
			pages++;
		}
	}
	assert_true(pages >= 1);	/* page 8, and its copy in the doublewrite buffer */
	assert_int_equal(innodb_page_parse(full, full_size, PAGE, &first), INNODB_PAGE);
	snprintf(expected, sizeof expected, "fix/full=%u;", first.space_id);
	assert_non_null(strstr(names.text, expected));
	assert_non_null(strstr(names.text, "fix/crc32="));
	assert_int_equal(names.deleted, 0);
	{
		uint32_t block1, block2;

		assert_int_equal(innodb_doublewrite_blocks(system + 5 * PAGE, PAGE, &block1,
		    &block2), 0);
		assert_true(block1 > 5);
		assert_int_equal(block2, block1 + INNODB_DOUBLEWRITE_PAGES);
		assert_int_equal(innodb_doublewrite_blocks(system + 4 * PAGE, PAGE, &block1,
		    &block2), -1);
	}
	for (size_t at = 0; at < full_size; at += PAGE)
		assert_int_equal(innodb_sys_tables_records(full + at, PAGE, collect_name, &names), -1);
	free(system);
	free(full);
}

static void test_flags_page_size(void **state)
{
	(void)state;
	assert_int_equal(innodb_flags_page_size(0x15), 16384);	/* full_crc32, 16 KiB */
	assert_int_equal(innodb_flags_page_size(0x13), 4096);	/* full_crc32, 4 KiB */
	assert_int_equal(innodb_flags_page_size(0x17), 65536);
	assert_int_equal(innodb_flags_page_size(0x21), 16384);	/* MySQL 5.7 DYNAMIC, default */
	assert_int_equal(innodb_flags_page_size(4u << 6), 8192);
	assert_int_equal(innodb_flags_page_size(0x10), 0);	/* full_crc32, no size */
	assert_int_equal(innodb_flags_page_size(9u << 6), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_full_crc32_tablespace),
		cmocka_unit_test(test_crc32_tablespace),
		cmocka_unit_test(test_page_compressed_full_crc32_tablespace),
		cmocka_unit_test(test_page_compressed_crc32_tablespace),
		cmocka_unit_test(test_damaged_compressed_page),
		cmocka_unit_test(test_noise_claiming_a_compressed_length),
		cmocka_unit_test(test_compressed_page_at_other_sizes),
		cmocka_unit_test(test_damaged_page_is_a_wrong_checksum),
		cmocka_unit_test(test_wrong_size_and_short_buffer),
		cmocka_unit_test(test_sys_tables_names_the_tables),
		cmocka_unit_test(test_flags_page_size),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
