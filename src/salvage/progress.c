/* progress.c: the progress display of `rescue image` (see progress.h). */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/json.h"
#include "disk/inventory.h"
#include "salvage/progress.h"

void progress_start(struct progress *progress, FILE *out, int json, const struct mapfile *map)
{
	struct map_totals totals;

	memset(progress, 0, sizeof *progress);
	progress->out = out;
	progress->json = json;
	progress->tty = !json && isatty(fileno(out));
	progress->interval = progress->tty ? 0.5 : 5;
	clock_gettime(CLOCK_MONOTONIC, &progress->started);
	progress->shown = progress->started;
	mapfile_totals(map, &totals);
	progress->finished_at_start = totals.finished;
}

/* The worst state wins a block: one bad sector in a block of a gigabyte must show. */
static int severity(char state)
{
	switch (state) {
	case MAP_BAD: return 4;
	case MAP_NON_SCRAPED: return 3;
	case MAP_NON_TRIMMED: return 2;
	case MAP_NON_TRIED: return 1;
	}
	return 0;
}

void progress_block_map(const struct mapfile *map, char *blocks, size_t count)
{
	size_t block, i = 0;

	for (block = 0; block < count; block++) {
		/* Block BLOCK covers [start, end) of the source; at least one byte each. */
		uint64_t start = map->size * block / count, end = map->size * (block + 1) / count;
		char worst = MAP_FINISHED;

		if (end <= start)
			end = start + 1;
		while (i > 0 && mapfile_extent(map, i)->position > start)
			i--;
		for (; i < map->count && mapfile_extent(map, i)->position < end; i++) {
			const struct map_extent *extent = mapfile_extent(map, i);

			if (extent->position + extent->size <= start)
				continue;
			if (severity(extent->state) > severity(worst))
				worst = extent->state;
		}
		if (i > 0)
			i--;	/* the last extent may reach into the next block */
		blocks[block] = map->size ? worst : ' ';
	}
	blocks[count] = '\0';
}

void progress_duration(double seconds, char *text, size_t size)
{
	unsigned long total = seconds > 0 ? (unsigned long)(seconds + 0.5) : 0;

	snprintf(text, size, "%lu:%02lu:%02lu", total / 3600, total / 60 % 60, total % 60);
}

static void size_text(uint64_t bytes, char *text, size_t size)
{
	inventory_size_text(bytes, text, size);
}

/* Three lines, none wider than 79 columns: where the run is, what is safe, what is left. */
void progress_status_lines(const struct mapfile *map, const char *phase, double elapsed,
    double rate, char *text, size_t size)
{
	struct map_totals totals;
	char position[24], speed[24], eta[24], spent[24], rescued[24], bad[24], untried[24];
	char untrimmed[24], unscraped[24];
	uint64_t left;

	mapfile_totals(map, &totals);
	left = totals.non_tried + totals.non_trimmed + totals.non_scraped;
	size_text(map->current_position, position, sizeof position);
	size_text((uint64_t)rate, speed, sizeof speed);
	if (rate >= 1 && strcmp(phase, "copying") == 0)
		progress_duration((double)left / rate, eta, sizeof eta);
	else
		snprintf(eta, sizeof eta, "%s", left ? "?" : "0:00:00");
	progress_duration(elapsed, spent, sizeof spent);
	size_text(totals.finished, rescued, sizeof rescued);
	size_text(totals.bad, bad, sizeof bad);
	size_text(totals.non_tried, untried, sizeof untried);
	size_text(totals.non_trimmed, untrimmed, sizeof untrimmed);
	size_text(totals.non_scraped, unscraped, sizeof unscraped);
	snprintf(text, size, "%s, pass %d   at %s   %s/s   ETA %s   elapsed %s\n"
	    "rescued %s (%.1f%%)   bad %s in %zu area%s\n"
	    "non-tried %s   non-trimmed %s   non-scraped %s\n", phase, map->current_pass,
	    position, speed, eta, spent, rescued,
	    map->size ? 100.0 * (double)totals.finished / (double)map->size : 100.0, bad,
	    totals.bad_areas, totals.bad_areas == 1 ? "" : "s", untried, untrimmed, unscraped);
}

static double rate_of(const struct progress *progress, const struct mapfile *map,
    double elapsed)
{
	struct map_totals totals;

	mapfile_totals(map, &totals);
	if (elapsed <= 0 || totals.finished < progress->finished_at_start)
		return 0;
	return (double)(totals.finished - progress->finished_at_start) / elapsed;
}

static void show_json(struct progress *progress, const struct mapfile *map, const char *phase,
    const char *event, double elapsed, double rate)
{
	struct map_totals totals;

	mapfile_totals(map, &totals);
	fprintf(progress->out, "{\"event\":\"%s\",", event);
	json_member_string(progress->out, "phase", phase, 0);
	fprintf(progress->out, ",\"pass\":%d,\"position\":%llu,\"size\":%llu,\"rescued\":%llu,"
	    "\"non_tried\":%llu,\"non_trimmed\":%llu,\"non_scraped\":%llu,\"bad\":%llu,"
	    "\"bad_areas\":%zu,\"rate\":%.0f,\"elapsed\":%.1f}\n", map->current_pass,
	    (unsigned long long)map->current_position, (unsigned long long)map->size,
	    (unsigned long long)totals.finished, (unsigned long long)totals.non_tried,
	    (unsigned long long)totals.non_trimmed, (unsigned long long)totals.non_scraped,
	    (unsigned long long)totals.bad, totals.bad_areas, rate, elapsed);
}

/* The block map in rows of PROGRESS_MAP_WIDTH between bars. */
static int show_block_map(FILE *out, const struct mapfile *map)
{
	char blocks[PROGRESS_MAP_WIDTH * PROGRESS_MAP_ROWS + 1];
	int row;

	progress_block_map(map, blocks, sizeof blocks - 1);
	for (row = 0; row < PROGRESS_MAP_ROWS; row++)
		fprintf(out, "|%.*s|\n", PROGRESS_MAP_WIDTH, blocks + row * PROGRESS_MAP_WIDTH);
	return PROGRESS_MAP_ROWS;
}

static void show(struct progress *progress, const struct mapfile *map, const char *phase,
    const char *event)
{
	double elapsed = seconds_since(&progress->started), rate = rate_of(progress, map, elapsed);
	char text[1024];

	clock_gettime(CLOCK_MONOTONIC, &progress->shown);
	if (progress->json) {
		show_json(progress, map, phase, event, elapsed, rate);
	} else {
		progress_status_lines(map, phase, elapsed, rate, text, sizeof text);
		if (progress->tty && progress->lines_drawn)
			fprintf(progress->out, "\033[%dA\033[J", progress->lines_drawn);
		fputs(text, progress->out);
		progress->lines_drawn = 3;
		if (progress->tty)
			progress->lines_drawn += show_block_map(progress->out, map);
	}
	fflush(progress->out);
}

void progress_update(struct progress *progress, const struct mapfile *map, const char *phase,
    int force)
{
	if (!force && seconds_since(&progress->shown) < progress->interval)
		return;
	show(progress, map, phase, "progress");
}

void progress_finish(struct progress *progress, const struct mapfile *map, const char *phase)
{
	show(progress, map, phase, "finished");
	if (!progress->json && !progress->tty)
		show_block_map(progress->out, map);
	progress->lines_drawn = 0;
}
