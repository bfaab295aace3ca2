/* imaging.h: the rescue engine of `rescue image`: reads a failing source in the phases GNU
 * ddrescue documents and records every byte's fate in a mapfile.
 *
 *   copying   non-tried areas in clusters, the easy data first: a read error marks the
 *             cluster non-trimmed and skips ahead (the skip doubles while errors go on), so a
 *             damaged region costs little time until everything healthy is safe; pass 1
 *             forwards, pass 2 backwards over what was skipped, pass 3 forwards without
 *             skipping
 *   trimming  each non-trimmed area is read sector by sector from both ends inwards until
 *             the first error on each side; the middle becomes non-scraped
 *   scraping  each non-scraped area is read one sector at a time; failures are bad sectors
 *   retrying  bad sectors are read again, RETRIES passes, alternating direction
 *
 * The engine does not know where the data goes: it calls the sink for every good range and
 * asks it to save the map at every phase change, at least every SAVE_SECONDS, and at the end.
 * The map is only ever updated after the sink accepted the data, so a resumed run never
 * skips a byte that did not arrive. The read buffer is aligned for O_DIRECT.
 */
#ifndef RESCUE_IMAGING_H
#define RESCUE_IMAGING_H

#include <signal.h>
#include <stdint.h>
#include <sys/types.h>

#include "salvage/mapfile.h"

struct imaging_source {
	/* Reads SIZE bytes at POSITION into BUFFER; returns bytes read, or -1 with errno. */
	ssize_t (*read)(void *context, void *buffer, size_t size, uint64_t position);
	void *context;
	uint64_t size;
	unsigned sector_size;
};

struct imaging_sink {
	/* Stores SIZE good bytes at POSITION; 0, or -1 when the target failed (the run stops). */
	int (*write)(void *context, const void *buffer, size_t size, uint64_t position);
	/* Saves the map; 0, or -1 when the target failed (the run stops). */
	int (*save_map)(void *context, const struct mapfile *map);
	/* Called after every read with the map as it is now, for progress displays; may be NULL. */
	void (*progress)(void *context, const struct mapfile *map, const char *phase);
	void *context;
};

struct imaging_options {
	uint64_t cluster_size;		/* bytes read at once while copying (default 64 KiB) */
	uint64_t burst_max;		/* healthy stretches are read in bursts growing up to
					 * this (default 1 MiB); 0: cluster by cluster */
	uint64_t skip_size;		/* first skip after an error (default 64 KiB) */
	uint64_t max_skip_size;		/* skips never grow past this (default 1% of size) */
	int retries;			/* passes over bad sectors (default 0) */
	int no_trim;
	int no_scrape;
	int reverse;			/* copy pass 1 backwards */
	uint64_t input_position;	/* the part of the source to rescue: [position, +size) */
	uint64_t limit_size;		/* 0: up to the end of the source */
	int save_seconds;		/* how often the map is saved (default 30) */
	/* When set (by a signal handler), the run stops before its next read: whatever was
	 * read before is in the map, nothing after. NULL: never. */
	const volatile sig_atomic_t *stop;
};

enum imaging_result {
	IMAGING_DONE = 0, IMAGING_SINK_FAILED = -1, IMAGING_NO_MEMORY = -2, IMAGING_STOPPED = -3,
};

void imaging_defaults(struct imaging_options *options, uint64_t source_size);
int imaging_run(const struct imaging_source *source, const struct imaging_sink *sink,
    const struct imaging_options *options, struct mapfile *map);

#endif
