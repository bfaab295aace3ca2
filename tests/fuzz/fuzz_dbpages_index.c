/* fuzz_dbpages_index.c: dbpages_load on any bytes (a page index read back from the target
 * when `rescue carve --db` resumes: NAME.db.index could be truncated or damaged there),
 * then the loaded index fed the same bytes, which continues its carried tail. Seed: the
 * index a resumed carve kept of a MariaDB DROP DATABASE (tests/fuzz/corpus/dbpages_index/). */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "salvage/dbpages.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dbpages *pages = dbpages_open(DBPAGES_INNODB | DBPAGES_PG);
	uint64_t position = 0;

	/* The position a record must carry: the first record's, when there is one, so that
	 * the whole walk is reached (a wrong one walks every record and fails). */
	if (size >= 24)
		memcpy(&position, data + 16, sizeof position);
	if (pages == NULL)
		return 0;
	if (dbpages_load(pages, data, size, position) == 0) {
		(void)dbpages_found(pages);
		(void)dbpages_feed(pages, data, size, position);
	}
	dbpages_close(pages);
	return 0;
}
