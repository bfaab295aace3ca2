/* imaging.c: the phases of the rescue engine (described in imaging.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "salvage/imaging.h"

struct run {
	const struct imaging_source *source;
	const struct imaging_sink *sink;
	const struct imaging_options *options;
	struct mapfile *map;
	unsigned char *buffer;
	uint64_t start, end;		/* the domain being rescued */
	struct timespec last_save;
	double save_cost;		/* seconds the last save took */
	const char *phase;
};

/* What reading one cluster or one sector came to. */
enum read_result {
	READ_STOP,		/* the sink failed or a stop was asked for: the run ends */
	READ_WHOLE,		/* every byte was read and stored */
	READ_ERROR,		/* the source failed somewhere: the rest is marked for later */
};

enum { DEFAULT_CLUSTER = 64 * 1024, DEFAULT_SKIP = 64 * 1024, DEFAULT_SAVE_SECONDS = 30,
	BURST_MAX = 1024 * 1024, SAVE_COST_FACTOR = 20 };

void imaging_defaults(struct imaging_options *options, uint64_t source_size)
{
	memset(options, 0, sizeof *options);
	options->cluster_size = DEFAULT_CLUSTER;
	options->burst_max = BURST_MAX;
	options->skip_size = DEFAULT_SKIP;
	options->max_skip_size = source_size / 100 > DEFAULT_SKIP ? source_size / 100 : DEFAULT_SKIP;
	if (options->max_skip_size > (1ull << 30))
		options->max_skip_size = 1ull << 30;
	options->save_seconds = DEFAULT_SAVE_SECONDS;
}

static uint64_t min_u64(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

static uint64_t max_u64(uint64_t a, uint64_t b)
{
	return a > b ? a : b;
}

static double seconds_between(const struct timespec *from, const struct timespec *to)
{
	return (double)(to->tv_sec - from->tv_sec) + (double)(to->tv_nsec - from->tv_nsec) / 1e9;
}

static int save(struct run *run)
{
	struct timespec done;
	int rc;

	clock_gettime(CLOCK_MONOTONIC, &run->last_save);
	rc = run->sink->save_map(run->sink->context, run->map);
	clock_gettime(CLOCK_MONOTONIC, &done);
	run->save_cost = seconds_between(&run->last_save, &done);
	return rc;
}

/* The map is saved when the interval has passed, and not before SAVE_COST_FACTOR times
 * what the last save took: a map of millions of extents is tens of MB of text, and saving
 * it every interval of a run whose length grows with the map would cost the square of it.
 * A failed save stops the run. */
static int checkpoint(struct run *run)
{
	struct timespec now;
	double since;

	if (run->sink->progress)
		run->sink->progress(run->sink->context, run->map, run->phase);
	clock_gettime(CLOCK_MONOTONIC, &now);
	since = seconds_between(&run->last_save, &now);
	if (since < run->options->save_seconds
	    || (run->options->save_seconds > 0 && since < SAVE_COST_FACTOR * run->save_cost))
		return 0;
	return save(run);
}

static int enter_phase(struct run *run, const char *phase, char status, int pass)
{
	run->phase = phase;
	run->map->current_status = status;
	run->map->current_pass = pass;
	return save(run);
}

/* Reads [position, position + size) and stores what was read. Returns the number of good
 * bytes from POSITION on (whole sectors), or -1 when the sink failed or the run is to stop.
 * A read that fails or comes back short leaves the rest for the caller to mark. */
static int64_t copy_range(struct run *run, uint64_t position, uint64_t size)
{
	ssize_t got;
	uint64_t sector = run->source->sector_size;

	if (run->options->stop && *run->options->stop)
		return -1;
	run->map->current_position = position;
	got = run->source->read(run->source->context, run->buffer, size, position);
	if (got <= 0)
		return 0;
	if ((uint64_t)got < size)
		got -= got % sector;
	if (got == 0)
		return 0;
	if (run->sink->write(run->sink->context, run->buffer, (size_t)got, position) != 0)
		return -1;
	if (mapfile_set(run->map, position, (uint64_t)got, MAP_FINISHED) != 0)
		return -1;
	return got;
}

/* One cluster while copying: on an error the unread rest is non-trimmed. */
static enum read_result copy_cluster(struct run *run, uint64_t position, uint64_t size)
{
	int64_t good = copy_range(run, position, size);

	if (good < 0)
		return READ_STOP;
	if ((uint64_t)good == size)
		return READ_WHOLE;
	if (mapfile_set(run->map, position + good, size - good, MAP_NON_TRIMMED) != 0)
		return READ_STOP;
	return READ_ERROR;
}

/* The non-tried extent at or after FROM, clipped to the domain; 0 when there is none. */
static int next_untried(struct run *run, uint64_t from, uint64_t *start, uint64_t *end)
{
	const struct map_extent *extent = mapfile_find(run->map, from, MAP_NON_TRIED);

	if (extent == NULL || extent->position >= run->end)
		return 0;
	*start = max_u64(from, extent->position);
	*end = min_u64(extent->position + extent->size, run->end);
	return *start < *end;
}

/* The non-tried extent that starts before BEFORE, clipped to [start, BEFORE); 0 when there
 * is none. Found by binary search and a walk back over the extents in between, which the
 * backward pass then leaves behind: the pass as a whole walks the map once. */
static int previous_untried(struct run *run, uint64_t before, uint64_t *start, uint64_t *end)
{
	const struct map_extent *extent = mapfile_find_before(run->map, before, MAP_NON_TRIED);

	if (extent == NULL || extent->position + extent->size <= run->start)
		return 0;
	*start = max_u64(extent->position, run->start);
	*end = min_u64(extent->position + extent->size, before);
	return *start < *end;
}

/* A healthy stretch is read in bursts that double after every good read up to burst_max:
 * fewer, larger requests are what a fast disk (and a virtual one) wants. A burst that fails
 * marks nothing bad: what it did not read stays non-tried and is read again cluster by
 * cluster, so errors are placed exactly as with cluster reads alone. Returns 1 when a
 * burst was read (good or not), 0 when this stretch goes cluster by cluster, -1 to stop. */
static int burst(struct run *run, uint64_t start, uint64_t end, uint64_t *size,
    uint64_t *position)
{
	int64_t good;

	if (*size <= run->options->cluster_size || run->options->burst_max == 0)
		return 0;
	*size = min_u64(*size, end - start);
	good = copy_range(run, start, *size);
	if (good < 0)
		return -1;
	*position = start + (uint64_t)good;
	if ((uint64_t)good == *size)
		*size = min_u64(*size * 2, run->options->burst_max);
	else
		*size = run->options->cluster_size;
	return checkpoint(run) != 0 ? -1 : 1;
}

/* Forward copying. With SKIPPING, an error jumps ahead by a skip that doubles while errors
 * go on and shrinks back after good reads, leaving the jumped area non-tried. */
static int copy_forward(struct run *run, int skipping)
{
	uint64_t position = run->start, start, end, skip = run->options->skip_size;
	uint64_t burst_size = run->options->cluster_size;
	enum read_result result;
	int bursted;

	while (next_untried(run, position, &start, &end)) {
		uint64_t size = min_u64(run->options->cluster_size, end - start);

		bursted = burst(run, start, end, &burst_size, &position);
		if (bursted < 0)
			return -1;
		if (bursted)
			continue;
		result = copy_cluster(run, start, size);
		if (result == READ_STOP)
			return -1;
		if (result == READ_WHOLE && burst_size < run->options->burst_max)
			burst_size = burst_size * 2;
		position = start + size;
		if (result == READ_ERROR && skipping) {
			position += skip;
			skip = min_u64(skip * 2, run->options->max_skip_size);
		} else if (result == READ_WHOLE) {
			skip = run->options->skip_size;
		}
		if (checkpoint(run) != 0)
			return -1;
	}
	return 0;
}

static int copy_backward(struct run *run, int skipping)
{
	uint64_t position = run->end, start, end, skip = run->options->skip_size;
	enum read_result result;

	while (previous_untried(run, position, &start, &end)) {
		uint64_t size = min_u64(run->options->cluster_size, end - start);

		result = copy_cluster(run, end - size, size);
		if (result == READ_STOP)
			return -1;
		position = end - size;
		if (result == READ_ERROR && skipping) {
			position = position > skip ? position - skip : 0;
			skip = min_u64(skip * 2, run->options->max_skip_size);
		} else if (result == READ_WHOLE) {
			skip = run->options->skip_size;
		}
		if (checkpoint(run) != 0)
			return -1;
	}
	return 0;
}

/* Reads one sector; marks it finished or STATE_ON_ERROR. */
static enum read_result sector(struct run *run, uint64_t position, char state_on_error)
{
	uint64_t size = min_u64(run->source->sector_size, run->end - position);
	int64_t good = copy_range(run, position, size);

	if (good < 0)
		return READ_STOP;
	if ((uint64_t)good == size)
		return READ_WHOLE;
	if (mapfile_set(run->map, position, size, state_on_error) != 0)
		return READ_STOP;
	return READ_ERROR;
}

/* The first extent in STATE inside the domain at or after FROM: its clipped bounds. */
static int next_in_state(struct run *run, uint64_t from, char state, uint64_t *start,
    uint64_t *end)
{
	const struct map_extent *extent = mapfile_find(run->map, from, state);

	if (extent == NULL || extent->position >= run->end)
		return 0;
	*start = max_u64(from, max_u64(extent->position, run->start));
	*end = min_u64(extent->position + extent->size, run->end);
	return *start < *end;
}

/* Reads a non-trimmed area from both ends inwards up to the first bad sector on each side;
 * what lies between the two bad sectors is left for scraping. */
static int trim_area(struct run *run, uint64_t start, uint64_t end)
{
	uint64_t sector_size = run->source->sector_size, low = start, high = end;
	enum read_result result = READ_WHOLE;

	while (low < high && (result = sector(run, low, MAP_BAD)) == READ_WHOLE)
		low += sector_size;
	if (result == READ_STOP)
		return -1;
	if (low >= high)
		return checkpoint(run);
	low += sector_size;	/* the bad sector that stopped us */
	while (high > low) {
		uint64_t last = high - sector_size > low ? high - sector_size : low;

		result = sector(run, last, MAP_BAD);
		if (result == READ_STOP)
			return -1;
		high = last;
		if (result == READ_ERROR)
			break;
	}
	if (high > low && mapfile_set(run->map, low, high - low, MAP_NON_SCRAPED) != 0)
		return -1;
	return checkpoint(run);
}

/* Each non-trimmed area once, in order: trimming leaves nothing non-trimmed before the
 * end of the area it trimmed, so the next search starts there (starting from the domain's
 * start each time walked every bad area behind, quadratic on a map of many). */
static int trim(struct run *run)
{
	uint64_t position = run->start, start, end;

	while (next_in_state(run, position, MAP_NON_TRIMMED, &start, &end)) {
		if (trim_area(run, start, end) != 0)
			return -1;
		position = end;
	}
	return 0;
}

/* Every sector of STATE's areas, once, in order; failures become bad sectors. */
static int sweep(struct run *run, char state)
{
	uint64_t position = run->start, start, end;

	while (next_in_state(run, position, state, &start, &end)) {
		for (position = start; position < end; position += run->source->sector_size)
			if (sector(run, position, MAP_BAD) == READ_STOP)
				return -1;
		if (checkpoint(run) != 0)
			return -1;
	}
	return 0;
}

/* Bad sectors again, from the end backwards; a sector read now is finished. */
static int sweep_backward(struct run *run)
{
	size_t i;
	uint64_t position;

	for (i = run->map->count; i-- > 0;) {
		struct map_extent extent;

		if (i >= run->map->count || mapfile_extent(run->map, i)->state != MAP_BAD)
			continue;
		extent = *mapfile_extent(run->map, i);
		for (position = extent.position + extent.size; position > extent.position;) {
			position -= run->source->sector_size;
			if (position >= run->start && position < run->end
			    && sector(run, position, MAP_BAD) == READ_STOP)
				return -1;
		}
		if (checkpoint(run) != 0)
			return -1;
	}
	return 0;
}

/* Whether the domain holds an area in STATE: a phase with nothing to do is not entered
 * (no map save for it, which on a healthy disk over ssh:// were five round trips each). */
static int has(struct run *run, char state)
{
	uint64_t start, end;

	return next_in_state(run, run->start, state, &start, &end);
}

static int phases(struct run *run)
{
	const struct imaging_options *options = run->options;
	int pass;

	if (enter_phase(run, "copying", '?', 1) != 0
	    || (options->reverse ? copy_backward(run, 1) : copy_forward(run, 1)) != 0)
		return -1;
	if (has(run, MAP_NON_TRIED) && (enter_phase(run, "copying", '?', 2) != 0
	    || (options->reverse ? copy_forward(run, 1) : copy_backward(run, 1)) != 0))
		return -1;
	if (has(run, MAP_NON_TRIED) && (enter_phase(run, "copying", '?', 3) != 0
	    || copy_forward(run, 0) != 0))
		return -1;
	if (options->no_trim) {
		/* Without trimming, non-trimmed areas go straight to scraping (or stay). */
	} else if (has(run, MAP_NON_TRIMMED) && (enter_phase(run, "trimming", '*', 1) != 0
	    || trim(run) != 0)) {
		return -1;
	}
	if (!options->no_scrape && (has(run, MAP_NON_TRIMMED) || has(run, MAP_NON_SCRAPED))
	    && (enter_phase(run, "scraping", '/', 1) != 0
	    || sweep(run, MAP_NON_TRIMMED) != 0 || sweep(run, MAP_NON_SCRAPED) != 0))
		return -1;
	for (pass = 1; pass <= options->retries && has(run, MAP_BAD); pass++)
		if (enter_phase(run, "retrying", '-', pass) != 0
		    || (pass % 2 ? sweep_backward(run) : sweep(run, MAP_BAD)) != 0)
			return -1;
	return enter_phase(run, "finished", '+', 1);
}

/* Runs every phase over the part of MAP that is not finished yet; MAP may come from an
 * earlier run (ours or GNU ddrescue's), which is how a run resumes. */
int imaging_run(const struct imaging_source *source, const struct imaging_sink *sink,
    const struct imaging_options *options, struct mapfile *map)
{
	struct run run = { .source = source, .sink = sink, .options = options, .map = map };
	int rc;

	run.start = min_u64(options->input_position, source->size);
	run.end = options->limit_size ? min_u64(run.start + options->limit_size, source->size)
	    : source->size;
	/* Aligned to a page, so a source opened with O_DIRECT can read into it directly. */
	if (posix_memalign((void **)&run.buffer, 4096,
	    max_u64(max_u64(options->cluster_size, options->burst_max), source->sector_size)) != 0)
		return IMAGING_NO_MEMORY;
	rc = phases(&run) == 0 ? IMAGING_DONE
	    : options->stop && *options->stop ? IMAGING_STOPPED : IMAGING_SINK_FAILED;
	free(run.buffer);
	return rc;
}
