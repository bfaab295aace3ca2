/* fuzz_dbpage_innodb.c: the InnoDB page recogniser on any bytes, at every page size, and
 * page 0's extent descriptors read for any page number, SYS_TABLES records walked, the
 * halves of split compressed pages looked for; also the collector's scan over the same
 * bytes fed in two chunks (its carry across buffer edges), at a 4 KiB-aligned offset one
 * time in two (where split halves are looked for). Seeds: real pages
 * MariaDB wrote (tests/fuzz/corpus/fuzz_dbpage_innodb/). */
#include <stddef.h>
#include <stdint.h>

#include "salvage/dbpage_innodb.h"
#include "salvage/dbpages.h"

static void ignore_name(void *context, const char *name, size_t length, uint32_t space_id,
    int deleted)
{
	(void)context;
	(void)name;
	(void)length;
	(void)space_id;
	(void)deleted;
}

static void parse_at_every_size(const uint8_t *data, size_t size)
{
	static const size_t page_sizes[] = { 4096, 8192, 16384, 32768, 65536 };
	struct innodb_page page;
	struct innodb_split split;
	uint32_t block1, block2;

	(void)innodb_split_head(data, size, &split);
	if (size >= INNODB_SPLIT_BLOCK)
		(void)innodb_split_tail(data, &split);

	for (size_t i = 0; i < sizeof page_sizes / sizeof page_sizes[0]; i++) {
		if (innodb_page_parse(data, size, page_sizes[i], &page) == INNODB_PAGE)
			(void)innodb_flags_page_size(page.fsp_flags);
		if (size >= page_sizes[i]) {
			for (uint32_t number = 0; number < 70000; number += 997)
				(void)innodb_page_is_free(data, page_sizes[i], number);
			(void)innodb_sys_tables_records(data, page_sizes[i], ignore_name, NULL);
			(void)innodb_doublewrite_blocks(data, page_sizes[i], &block1, &block2);
		}
	}
}

static void feed_in_two_chunks(const uint8_t *data, size_t size)
{
	struct dbpages *pages = dbpages_open(DBPAGES_INNODB);
	size_t split = size > 0 ? data[0] * size / 256 : 0;
	uint64_t start = size % 2 ? 4096 : 512;

	if (pages == NULL)
		return;
	(void)dbpages_feed(pages, data, split, start);
	(void)dbpages_feed(pages, data + split, size - split, start + split);
	dbpages_close(pages);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	parse_at_every_size(data, size);
	feed_in_two_chunks(data, size);
	return 0;
}
