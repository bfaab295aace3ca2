/* progress.h: what `rescue image` shows while it works.
 *
 * On a terminal, a few lines redrawn in place twice a second: phase and pass, position,
 * rate, ETA, the bytes in each state of the map, and a block map of the whole source, one
 * character per block as ddrescueview draws it ('+' rescued, '?' non-tried, '*' non-trimmed,
 * '/' non-scraped, '-' bad; a block shows the worst state in it):
 *
 *	copying, pass 1   at 12.0 MiB   9.8 MiB/s   ETA 0:00:05   elapsed 0:00:01
 *	rescued 12.0 MiB (18.8%)   bad 0 B in 0 areas
 *	non-tried 52.0 MiB   non-trimmed 0 B   non-scraped 0 B
 *	|++++++++++++????????????????????????????????????????????????????????????|
 *	...
 *
 * Elsewhere (a serial console, a pipe) one plain line every few seconds, and with --json
 * one JSON object per line instead ({"event":"progress",...}, then {"event":"finished",...}).
 */
#ifndef RESCUE_PROGRESS_H
#define RESCUE_PROGRESS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include "salvage/mapfile.h"

enum { PROGRESS_MAP_WIDTH = 72, PROGRESS_MAP_ROWS = 4 };

struct progress {
	FILE *out;
	int tty;			/* redraw in place */
	int json;
	double interval;		/* seconds between updates */
	struct timespec started, shown;
	uint64_t finished_at_start;	/* resumed runs: the rate counts this run's bytes only */
	int lines_drawn;		/* on a terminal, to go back up over them */
};

void progress_start(struct progress *progress, FILE *out, int json, const struct mapfile *map);
/* Shows MAP when the interval has passed, or always with FORCE. */
void progress_update(struct progress *progress, const struct mapfile *map, const char *phase,
    int force);
/* The last state, then the block map, on every kind of output. */
void progress_finish(struct progress *progress, const struct mapfile *map, const char *phase);

/* The formatting pieces, for the tests. */
void progress_block_map(const struct mapfile *map, char *blocks, size_t count);
void progress_duration(double seconds, char *text, size_t size);
void progress_status_lines(const struct mapfile *map, const char *phase, double elapsed,
    double rate, char *text, size_t size);

#endif
