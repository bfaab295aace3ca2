/* fuzz_dbpages_index.c: dbpages_load on any bytes (a page index read back from the target
 * when `rescue carve --db` resumes: NAME.db.index could be truncated or damaged there),
 * then the loaded index fed the same bytes, which continues its carried tail. Seed: the
 * index a resumed carve kept of a MariaDB DROP DATABASE (tests/fuzz/corpus/dbpages_index/). */
#include <stddef.h>
#include <stdint.h>

#include "salvage/dbpages.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dbpages *pages = dbpages_open(DBPAGES_INNODB | DBPAGES_PG);
	uint64_t position;

	if (pages == NULL)
		return 0;
	if (dbpages_load(pages, data, size, &position) == 0) {
		(void)dbpages_found(pages);
		(void)dbpages_feed(pages, data, size, position);
	}
	dbpages_close(pages);
	return 0;
}
