/* carve_db.c: a carve scan's windows fed to the database-page engine (carve_db.h). */
#include <stdio.h>

#include "salvage/carve_db.h"

/* The extents are walked from the start for each window: a window is megabytes, so even
 * a free-space map of a million extents costs little beside reading it. */
static int feed_window(void *context, const unsigned char *data, size_t size,
    uint64_t position, char *failure, size_t failure_size)
{
	const struct carve_db *db = context;
	const struct carve_scan *scan = db->scan;
	uint64_t extent_start = 0, end = position + size;

	for (size_t i = 0; i < scan->extent_count && extent_start < end; i++) {
		const struct carve_extent *extent = &scan->extents[i];
		uint64_t extent_end = extent_start + extent->length;
		uint64_t from = position > extent_start ? position : extent_start;
		uint64_t to = end < extent_end ? end : extent_end;

		if (from < to && dbpages_feed(db->pages, data + (from - position),
		    (size_t)(to - from), extent->source_position + (from - extent_start)) != 0) {
			snprintf(failure, failure_size, "out of memory for the index of database "
			    "pages");
			return -1;
		}
		extent_start = extent_end;
	}
	return 0;
}

void carve_db_observer(struct carve_db *db, struct carve_observer *observer)
{
	observer->window = feed_window;
	observer->context = db;
}
