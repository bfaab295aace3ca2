/* carve_db.h: database pages (dbpages.h) looked for in the bytes a carve scan reads.
 *
 * The scan shows every window to its observers at stream positions; with --free the
 * stream is the unused blocks laid end to end, while dbpages needs source offsets (it
 * reads each page again from the source when it writes). The observer here cuts each
 * window at the extents' edges and feeds every piece at its source offset, so a page is
 * only found where its bytes lie together on the source.
 */
#ifndef RESCUE_CARVE_DB_H
#define RESCUE_CARVE_DB_H

#include "salvage/carve.h"
#include "salvage/dbpages.h"

struct carve_db {
	struct dbpages *pages;
	const struct carve_scan *scan;	/* its extents map the stream to the source */
};

/* OBSERVER feeds the windows of DB->scan to DB->pages (set both before carve_run). */
void carve_db_observer(struct carve_db *db, struct carve_observer *observer);

#endif
