/* test_dbpage_pg.c: PostgreSQL heap pages recognised in relations PostgreSQL 15 itself
 * wrote, with data checksums (block numbers from the checksum) and without (block numbers
 * from t_ctid); damaged pages refused with the reason. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "lib/dbfixture.h"
#include "salvage/dbpage_pg.h"

enum { PAGE = PG_PAGE_SIZE };

static void check_relation(const char *name, int checksums)
{
	size_t size;
	unsigned char *file = dbfixture_read("pg", name, &size);
	struct pg_page page;

	if (file == NULL)
		skip();
	assert_true(size >= 100 * PAGE);
	for (size_t at = 0; at + PAGE <= size; at += PAGE) {
		uint32_t block = (uint32_t)(at / PAGE);

		assert_int_equal(pg_page_parse(file + at, size - at, &page), PG_PAGE);
		assert_int_equal(page.kind, PG_HEAP);
		assert_int_equal(page.attributes, 4);	/* id, name, amount, body */
		assert_true(page.line_pointers > 0);
		assert_int_equal(page.block, block);
		assert_int_equal(page.ctid_block, block);
		assert_false(page.block_guessed);
		if (checksums) {
			assert_int_equal(page.checksum, pg_page_checksum(file + at, block));
			assert_int_not_equal(page.checksum, pg_page_checksum(file + at, block + 1));
			assert_true(page.block_candidates > 0);
		} else {
			assert_int_equal(page.checksum, 0);
		}
	}
	free(file);
}

static void test_checksummed_relation(void **state)
{
	(void)state;
	check_relation("checksummed.rel", 1);
}

static void test_plain_relation(void **state)
{
	(void)state;
	check_relation("plain.rel", 0);
}

/* A changed tuple byte: the checksum no longer allows the block the tuples name. Each page
 * still has about 256 candidate blocks below 2^24, so a few in a thousand may pass by
 * chance; nearly all must be refused. */
static void test_damaged_pages_are_wrong_checksums(void **state)
{
	size_t size, pages = 0, refused = 0;
	unsigned char *file = dbfixture_read("pg", "checksummed.rel", &size);
	struct pg_page page;

	(void)state;
	if (file == NULL)
		skip();
	for (size_t at = 0; at + PAGE <= size; at += PAGE, pages++) {
		file[at + PAGE - 100] ^= 0x01;
		refused += pg_page_parse(file + at, PAGE, &page) == PG_BAD_CHECKSUM;
	}
	assert_true(refused * 10 >= pages * 9);
	free(file);
}

/* A line pointer whose tuple would end past the page: refused, not read. */
static void test_line_pointer_past_the_end(void **state)
{
	size_t size;
	unsigned char *file = dbfixture_read("pg", "plain.rel", &size);
	struct pg_page page;
	unsigned char *pointer;

	(void)state;
	if (file == NULL)
		skip();
	pointer = file + 24;	/* the first line pointer: offset 15 bits, flags 2, length 15 */
	pointer[3] = 0xff;	/* length about 32 KiB */
	pointer[2] |= 0xfe;
	assert_int_equal(pg_page_parse(file, PAGE, &page), PG_BAD_LINE_POINTER);
	free(file);
}

static void test_not_pages(void **state)
{
	static unsigned char zeros[PAGE], text[PAGE];
	size_t size;
	unsigned char *file = dbfixture_read("pg", "plain.rel", &size), *copy;
	struct pg_page page;

	(void)state;
	assert_int_equal(pg_page_parse(zeros, PAGE, &page), PG_EMPTY);
	memset(text, 'a', sizeof text);
	assert_int_equal(pg_page_parse(text, PAGE, &page), PG_NO_HEADER);
	if (file == NULL)
		skip();
	copy = malloc(PAGE - 1);
	assert_non_null(copy);
	memcpy(copy, file, PAGE - 1);
	assert_int_equal(pg_page_parse(copy, PAGE - 1, &page), PG_SHORT);
	free(copy);
	file[18] = 0x00;	/* pd_pagesize_version: 8192, version 4 -> 8192, version 0 */
	file[19] = 0x20;
	assert_int_equal(pg_page_parse(file, PAGE, &page), PG_NO_HEADER);
	free(file);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_checksummed_relation),
		cmocka_unit_test(test_plain_relation),
		cmocka_unit_test(test_damaged_pages_are_wrong_checksums),
		cmocka_unit_test(test_line_pointer_past_the_end),
		cmocka_unit_test(test_not_pages),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
