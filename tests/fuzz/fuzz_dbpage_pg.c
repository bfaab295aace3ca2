/* fuzz_dbpage_pg.c: the PostgreSQL page recogniser on any bytes (line pointers and tuple
 * headers are where a parser would read past the page), the TOAST chunk and pointer
 * readers on what it accepts, and the collector's scan over the same bytes fed in two
 * chunks; on btree pages the special space, metapage, high key and downlink readers and
 * the checksum's candidate blocks. Seeds: real pages PostgreSQL 15 wrote, with and
 * without data checksums, a TOAST page and a heap page of TOAST pointers, a btree
 * metapage and an internal btree page with a high key (tests/fuzz/corpus/dbpage_pg/). */
#include <stddef.h>
#include <stdint.h>

#include "salvage/dbpage_pg.h"
#include "salvage/dbpages.h"

static void chunk_seen(void *context, const struct pg_toast_chunk *chunk)
{
	*(unsigned *)context += chunk->size;
}

static void downlink_seen(void *context, uint32_t block, uint64_t high_key)
{
	*(unsigned *)context += block + (unsigned)high_key;
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
	struct pg_btree btree;
	uint32_t blocks[8];

	if (pg_page_parse(data, size, &page) == PG_PAGE && size >= PG_PAGE_SIZE) {
		(void)pg_page_checksum(data, page.block);
		if (page.kind == PG_HEAP) {
			(void)pg_toast_chunks(data, chunk_seen, &sum);
			(void)pg_toast_pointers(data, pointer_seen, &sum);
		}
		if (page.kind == PG_BTREE && pg_btree_read(data, &btree) == 0) {
			sum += (unsigned)pg_btree_high_key(data);
			sum += pg_btree_downlinks(data, downlink_seen, &sum);
			sum += pg_checksum_blocks(page.hash, page.checksum, btree.next | btree.prev,
			    blocks, 8);
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
