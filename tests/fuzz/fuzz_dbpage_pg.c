/* fuzz_dbpage_pg.c: the PostgreSQL page recogniser on any bytes (line pointers and tuple
 * headers are where a parser would read past the page), the TOAST chunk and pointer
 * readers on what it accepts, and the collector's scan over the same bytes fed in two
 * chunks. Seeds: real pages PostgreSQL 15 wrote, with and without data checksums, a TOAST
 * page and a heap page of TOAST pointers (tests/fuzz/corpus/dbpage_pg/). */
#include <stddef.h>
#include <stdint.h>

#include "salvage/dbpage_pg.h"
#include "salvage/dbpages.h"

static void chunk_seen(void *context, const struct pg_toast_chunk *chunk)
{
	*(unsigned *)context += chunk->size;
}

static void pointer_seen(void *context, const struct pg_toast_pointer *pointer)
{
	*(unsigned *)context += pointer->extsize;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pg_page page;
	struct dbpages *pages;
	size_t split = size > 0 ? data[0] * size / 256 : 0;
	unsigned sum = 0;

	if (pg_page_parse(data, size, &page) == PG_PAGE && size >= PG_PAGE_SIZE) {
		(void)pg_page_checksum(data, page.block);
		if (page.kind == PG_HEAP) {
			(void)pg_toast_chunks(data, chunk_seen, &sum);
			(void)pg_toast_pointers(data, pointer_seen, &sum);
		}
	}
	pages = dbpages_open(DBPAGES_PG);
	if (pages == NULL)
		return 0;
	(void)dbpages_feed(pages, data, split, 0);
	(void)dbpages_feed(pages, data + split, size - split, split);
	dbpages_close(pages);
	return 0;
}
