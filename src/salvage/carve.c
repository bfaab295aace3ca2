/* carve.c: the scan loop of signature carving (see carve.h). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/clock.h"
#include "base/sha256.h"
#include "salvage/carve.h"

enum { COPY_CHUNK = 1 << 20, CHECKPOINT_SECONDS = 10 };

static void note_starts(struct carve_scan *scan);

/* ------------------------------------------------------------------ validator helpers */

int carve_not(struct carve_result *result, const char *reason)
{
	snprintf(result->reason, sizeof result->reason, "%s", reason);
	return CARVE_NOT;
}

int carve_found(struct carve_result *result, uint64_t length, enum carve_status status,
    const char *delimited)
{
	result->length = length;
	result->status = status;
	result->delimited = delimited;
	return CARVE_FOUND;
}

int carve_ran_out(struct carve_result *result, size_t size, int at_end, const char *delimited)
{
	if (!at_end)
		return CARVE_MORE;
	return carve_found(result, size, CARVE_TRUNCATED, delimited);
}

int carve_matches(const struct carve_format *format, const unsigned char *data, size_t size)
{
	if (format->match)
		return format->match(format, data, size);
	return size >= format->magic_offset + format->magic_size
	    && memcmp(data + format->magic_offset, format->magic, format->magic_size) == 0;
}

int carve_validate(const struct carve_format *format, const unsigned char *data, size_t size,
    int at_end, struct carve_result *result)
{
	memset(result, 0, sizeof *result);
	if (!carve_matches(format, data, size))
		return carve_not(result, "no signature");
	return format->validate(format, data, size, at_end, result);
}

const struct carve_format *carve_format_find(const struct carve_format *const *formats,
    size_t count, const char *name)
{
	size_t i;

	for (i = 0; i < count; i++)
		if (!strcmp(formats[i]->type, name) || !strcmp(formats[i]->ext, name))
			return formats[i];
	return NULL;
}

/* ------------------------------------------------------------------ set-up */

int carve_scan_init(struct carve_scan *scan, const struct carve_options *options,
    carve_read_fn read, void *read_context, const struct carve_extent *extents,
    size_t extent_count)
{
	size_t i;

	memset(scan, 0, sizeof *scan);
	scan->options = *options;
	if (!scan->options.sector_size)
		scan->options.sector_size = 512;
	if (!scan->options.step)
		scan->options.step = CARVE_STEP;
	if (!scan->options.lookahead)
		scan->options.lookahead = CARVE_LOOKAHEAD;
	if (!scan->options.validate_max)
		scan->options.validate_max = CARVE_VALIDATE_MAX;
	if (!scan->options.checkpoint_seconds)
		scan->options.checkpoint_seconds = CHECKPOINT_SECONDS;
	scan->read = read;
	scan->read_context = read_context;
	scan->extents = extents;
	scan->extent_count = extent_count;
	for (i = 0; i < extent_count; i++)
		scan->stream_size += extents[i].length;
	scan->found_by_format = calloc(options->format_count + 1, sizeof *scan->found_by_format);
	scan->sector = malloc(scan->options.sector_size);
	note_starts(scan);
	return scan->found_by_format && scan->sector ? 0 : -1;
}

void carve_scan_free(struct carve_scan *scan)
{
	free(scan->bad);
	free(scan->found_by_format);
	free(scan->sector);
	scan->sector = NULL;
	scan->bad = NULL;
	scan->found_by_format = NULL;
}

/* ------------------------------------------------------------------ reading */

uint64_t carve_source_position(const struct carve_scan *scan, uint64_t position)
{
	size_t i;

	for (i = 0; i < scan->extent_count; i++) {
		if (position < scan->extents[i].length)
			return scan->extents[i].source_position + position;
		position -= scan->extents[i].length;
	}
	return UINT64_MAX;
}

static int known_bad(const struct carve_scan *scan, uint64_t position, uint64_t length)
{
	size_t i;

	for (i = 0; i < scan->bad_count; i++)
		if (scan->bad[i].position < position + length
		    && position < scan->bad[i].position + scan->bad[i].length)
			return 1;
	return 0;
}

static void remember_bad(struct carve_scan *scan, uint64_t position, uint64_t length)
{
	struct carve_bad *last = scan->bad_count ? &scan->bad[scan->bad_count - 1] : NULL;

	if (last && last->position + last->length == position) {
		last->length += length;
		return;
	}
	if (scan->bad_count == scan->bad_capacity) {
		size_t capacity = scan->bad_capacity ? 2 * scan->bad_capacity : 64;
		struct carve_bad *bigger = realloc(scan->bad, capacity * sizeof *bigger);

		if (!bigger)
			return;	/* the zeros are still there; only the naming is lost */
		scan->bad = bigger;
		scan->bad_capacity = capacity;
	}
	scan->bad[scan->bad_count++] = (struct carve_bad){ position, length };
}

/* One whole sector at a time, each read once: a known bad one is zeros without a read.
 * Whole sectors, because a device opened for direct I/O refuses a read of part of one
 * (a walker or joiner asks for a few header bytes anywhere). */
static void read_sectors(struct carve_scan *scan, unsigned char *buffer, size_t size,
    uint64_t position)
{
	size_t sector = scan->options.sector_size, done, piece, skip;
	unsigned char *whole = scan->sector;
	uint64_t start;

	for (done = 0; done < size; done += piece) {
		start = (position + done) / sector * sector;
		skip = (size_t)(position + done - start);
		piece = sector - skip < size - done ? sector - skip : size - done;
		if (!known_bad(scan, start, sector)
		    && scan->read(scan->read_context, whole, sector, start) == (ssize_t)sector) {
			memcpy(buffer + done, whole + skip, piece);
			continue;
		}
		memset(buffer + done, 0, piece);
		if (!known_bad(scan, start, sector))
			remember_bad(scan, start, sector);
	}
}

/* SIZE source bytes at POSITION; unreadable sectors become zeros and are remembered. */
static void read_source(struct carve_scan *scan, unsigned char *buffer, size_t size,
    uint64_t position)
{
	scan->bytes_read += size;
	if (!known_bad(scan, position, size)
	    && scan->read(scan->read_context, buffer, size, position) == (ssize_t)size)
		return;
	read_sectors(scan, buffer, size, position);
}

/* SIZE stream bytes at POSITION (the caller keeps inside the stream). */
static void read_stream(struct carve_scan *scan, unsigned char *buffer, size_t size,
    uint64_t position)
{
	size_t i, piece;

	for (i = 0; i < scan->extent_count && size > 0; i++) {
		const struct carve_extent *extent = &scan->extents[i];

		if (position >= extent->length) {
			position -= extent->length;
			continue;
		}
		piece = extent->length - position < size ? (size_t)(extent->length - position)
		    : size;
		read_source(scan, buffer, piece, extent->source_position + position);
		buffer += piece;
		size -= piece;
		position = 0;
	}
}

/* ------------------------------------------------------------------ one file */

/* The source ranges of stream [POSITION, +LEFT) that are known bad, added to FILE's. */
static void describe_bad_range(const struct carve_scan *scan, struct carve_file *file,
    uint64_t position, uint64_t left)
{
	size_t i, b, used = strlen(file->bad_ranges);

	for (i = 0; i < scan->extent_count && left > 0; i++) {
		const struct carve_extent *extent = &scan->extents[i];
		uint64_t start, piece;

		if (position >= extent->length) {
			position -= extent->length;
			continue;
		}
		start = extent->source_position + position;
		piece = extent->length - position < left ? extent->length - position : left;
		for (b = 0; b < scan->bad_count; b++) {
			uint64_t from = scan->bad[b].position, to = from + scan->bad[b].length;

			from = from < start ? start : from;
			to = to > start + piece ? start + piece : to;
			if (from >= to)
				continue;
			file->bad_bytes += to - from;
			if (used + 44 < sizeof file->bad_ranges)
				used += (size_t)snprintf(file->bad_ranges + used,
				    sizeof file->bad_ranges - used, "%s%" PRIu64 "+%" PRIu64,
				    used ? "," : "", from, to - from);
			else if (used + 4 < sizeof file->bad_ranges && !strstr(file->bad_ranges, "..."))
				used += (size_t)snprintf(file->bad_ranges + used,
				    sizeof file->bad_ranges - used, ",...");
		}
		left -= piece;
		position = 0;
	}
}

static void describe_bad(const struct carve_scan *scan, struct carve_file *file)
{
	if (!file->first_length) {
		describe_bad_range(scan, file, file->stream_position, file->length);
		return;
	}
	describe_bad_range(scan, file, file->stream_position, file->first_length);
	describe_bad_range(scan, file, file->second_position, file->length - file->first_length);
}

/* The stream position of byte DONE of FILE, and how many bytes from there are in the
 * same piece. */
static uint64_t file_byte(const struct carve_file *file, uint64_t done, uint64_t *in_piece)
{
	if (!file->first_length || done >= file->first_length) {
		*in_piece = file->length - done;
		return file->first_length ? file->second_position + (done - file->first_length)
		    : file->stream_position + done;
	}
	*in_piece = file->first_length - done;
	return file->stream_position + done;
}

/* Copies stream [FILE's position, +length) to the output (unless HASH_ONLY), hashing it;
 * bytes inside the window come from it, the rest is read again piece by piece. */
static int copy_file(struct carve_scan *scan, struct carve_output *output,
    struct carve_file *file, const unsigned char *window, uint64_t window_position,
    size_t window_size, unsigned char *spare, int hash_only)
{
	unsigned char digest[SHA256_DIGEST_SIZE];
	struct sha256 hash;
	uint64_t done;

	sha256_init(&hash);
	for (done = 0; done < file->length;) {
		uint64_t in_piece, at = file_byte(file, done, &in_piece);
		size_t piece = in_piece < COPY_CHUNK ? (size_t)in_piece : COPY_CHUNK;
		const unsigned char *data;

		if (at >= window_position && at + piece <= window_position + window_size) {
			data = window + (at - window_position);
		} else {
			read_stream(scan, spare, piece, at);
			data = spare;
		}
		sha256_update(&hash, data, piece);
		if (!hash_only && output->write(output->context, data, piece, done) != 0)
			return -1;
		done += piece;
	}
	sha256_final(&hash, digest);
	sha256_hex(digest, file->sha256);
	describe_bad(scan, file);
	return 0;
}

static int emit(struct carve_scan *scan, struct carve_output *output,
    struct carve_file *file, const unsigned char *window, uint64_t window_position,
    size_t window_size, unsigned char *spare)
{
	int skip = 0;

	file->source_position = carve_source_position(scan, file->stream_position);
	if (output->begin(output->context, file, &skip) != 0)
		return -1;
	if (skip == 1)
		return 0;	/* recorded whole by an earlier run */
	if (copy_file(scan, output, file, window, window_position, window_size, spare,
	    skip == 2) != 0)
		return -1;
	return output->end(output->context, file);
}

/* ------------------------------------------------------------------ validating */

struct stream_reader {
	struct carve_reader reader;
	struct carve_scan *scan;
	uint64_t position;		/* the candidate's, in the stream */
};

static size_t read_candidate(struct carve_reader *reader, void *buffer, size_t size,
    uint64_t offset)
{
	struct stream_reader *stream = (struct stream_reader *)reader;

	if (offset >= reader->available)
		return 0;
	if (size > reader->available - offset)
		size = (size_t)(reader->available - offset);
	read_stream(stream->scan, buffer, size, stream->position + offset);
	return size;
}

/* A candidate larger than validate_max, walked by its format's headers. */
static int walk_at(struct carve_scan *scan, const struct carve_format *format,
    uint64_t position, struct carve_result *result)
{
	struct stream_reader stream = { { read_candidate, scan->stream_size - position }, scan,
	    position };
	int verdict;

	/* A walk reads no further than the format's largest file. */
	if (format->max_size && stream.reader.available > format->max_size)
		stream.reader.available = format->max_size;
	memset(result, 0, sizeof *result);
	verdict = format->walk(format, &stream.reader, result);
	if (verdict == CARVE_MORE)
		return carve_found(result, stream.reader.available, CARVE_TRUNCATED, "the stream "
		    "ended inside it");
	return verdict;
}

/* The candidate at stream POSITION, DATA[0, SIZE) of it in the window. When its structure
 * runs past the window, it is read again into BIG (validate_max bytes) and tried once
 * more; what is still open there is truncated. */
static int validate_at(struct carve_scan *scan, const struct carve_format *format,
    const unsigned char *data, size_t size, uint64_t position, unsigned char *big,
    struct carve_result *result)
{
	uint64_t left = scan->stream_size - position;
	size_t more;
	int verdict;

	verdict = carve_validate(format, data, size, size >= left, result);
	if (verdict != CARVE_MORE)
		return verdict;
	more = left < scan->options.validate_max ? (size_t)left : scan->options.validate_max;
	if (format->max_size && more > format->max_size)
		more = (size_t)format->max_size;
	if (more <= size) {
		/* The window holds as much as the buffer would: walk on from here. */
		verdict = carve_validate(format, data, size, size >= left || !format->walk
		    || (format->max_size && size >= format->max_size), result);
		return verdict == CARVE_MORE ? walk_at(scan, format, position, result) : verdict;
	}
	read_stream(scan, big, more, position);
	verdict = carve_validate(format, big, more, more >= left || !format->walk, result);
	if (verdict != CARVE_MORE)
		return verdict;
	return walk_at(scan, format, position, result);
}

/* The largest power of two up to CARVE_JOIN_BLOCK that POSITION is a multiple of (and
 * at least the sector): a file system's blocks, where a file's pieces start. */
static unsigned join_block(const struct carve_scan *scan, uint64_t position)
{
	unsigned block = CARVE_JOIN_BLOCK;

	while (block > scan->options.sector_size && position % block)
		block /= 2;
	return block;
}

/* A truncated candidate at stream POSITION: its rest looked for past where it broke off;
 * when found, RESULT becomes the joined file. BIG is free for the joined file's bytes. */
static void try_join(struct carve_scan *scan, const struct carve_format *format,
    uint64_t position, unsigned char *big, struct carve_result *result)
{
	struct stream_reader stream = { { read_candidate, scan->stream_size - position }, scan,
	    position };
	struct carve_join join;

	memset(&join, 0, sizeof join);
	join.format = format;
	join.reader = &stream.reader;
	join.broke_at = result->length;
	join.block = join_block(scan, position);
	join.gap = scan->options.join_gap;
	join.scratch = big;
	join.scratch_size = scan->options.validate_max;
	if (!format->join(&join))
		return;
	result->length = join.length;
	result->status = CARVE_VALIDATED;
	result->first_length = join.first_length;
	result->second_offset = join.second_offset;
	result->delimited = join.how;
	result->checked = 0;
	if (join.type)
		result->type = join.type, result->ext = join.ext;
}

/* The first format (of the sector-level ones when SECTOR_START, else only of the
 * byte-level ones) that takes DATA as a file: its index, or -1. */
static int try_formats(struct carve_scan *scan, const unsigned char *data, size_t size,
    uint64_t position, int sector_start, unsigned char *big, struct carve_result *result)
{
	size_t i;

	for (i = 0; i < scan->options.format_count; i++) {
		const struct carve_format *format = scan->options.formats[i];

		if ((!format->byte_level && !sector_start) || !carve_matches(format, data, size))
			continue;
		if (validate_at(scan, format, data, size, position, big, result) != CARVE_FOUND
		    || result->length == 0)
			continue;
		if (result->status == CARVE_TRUNCATED && format->join && scan->options.join_gap)
			try_join(scan, format, position, big, result);
		return (int)i;
	}
	return -1;
}

struct window {
	unsigned char *data, *big, *spare;
	uint64_t position;		/* stream position of data[0] */
	size_t size;			/* bytes in it */
};

/* Which bytes can start a byte-level candidate: between sector starts, the scan skips
 * the others without trying any format. */
static void note_starts(struct carve_scan *scan)
{
	size_t i, k;

	for (i = 0; i < scan->options.format_count; i++) {
		const struct carve_format *format = scan->options.formats[i];

		if (!format->byte_level)
			continue;
		scan->byte_level = 1;
		for (k = 0; k < format->start_count; k++)
			scan->may_start[format->starts[k]] = 1;
		if (!format->start_count && format->magic_size && !format->magic_offset)
			scan->may_start[format->magic[0]] = 1;
		if (!format->start_count && (!format->magic_size || format->magic_offset))
			memset(scan->may_start, 1, sizeof scan->may_start);
	}
}

/* The next position after one where nothing was found. */
static uint64_t next_position(const struct carve_scan *scan, const struct window *window,
    uint64_t position, uint64_t end)
{
	unsigned sector = scan->options.sector_size;

	if (!scan->byte_level)
		return position + sector - position % sector;
	for (position++; position < end && position % sector; position++)
		if (scan->may_start[window->data[position - window->position]])
			break;
	return position;
}

/* ------------------------------------------------------------------ the loop */

static void fill_window(struct carve_scan *scan, struct window *window, uint64_t position)
{
	uint64_t left = scan->stream_size - position;
	size_t want = scan->options.step + scan->options.lookahead;

	window->position = position;
	window->size = left < want ? (size_t)left : want;
	read_stream(scan, window->data, window->size, position);
}

static void record(struct carve_scan *scan, struct carve_file *file,
    const struct carve_format *format, const struct carve_result *result, uint64_t position)
{
	memset(file, 0, sizeof *file);
	file->stream_position = position;
	file->length = result->length;
	if (format->max_size && file->length > format->max_size)
		file->length = format->max_size;
	if (file->length > scan->stream_size - position)
		file->length = scan->stream_size - position;
	snprintf(file->type, sizeof file->type, "%s", result->type ? result->type : format->type);
	snprintf(file->ext, sizeof file->ext, "%s", result->ext ? result->ext : format->ext);
	file->status = result->status;
	snprintf(file->delimited, sizeof file->delimited, "%s", result->delimited
	    ? result->delimited : "");
	if (!result->first_length)
		return;
	file->first_length = result->first_length;
	file->second_position = position + result->second_offset;
	snprintf(file->delimited, sizeof file->delimited, "joined (%s): pieces at %" PRIu64 "+%"
	    PRIu64 " and %" PRIu64 "+%" PRIu64, result->delimited, carve_source_position(scan,
	    position), file->first_length, carve_source_position(scan, file->second_position),
	    file->length - file->first_length);
}

/* The second piece of a joined file is not scanned again for files of its own. */
static void claim(struct carve_scan *scan, const struct carve_file *file)
{
	size_t i, kept = 0;

	for (i = 0; i < scan->claimed_count; i++)
		if (scan->claimed[i].position + scan->claimed[i].length > file->stream_position)
			scan->claimed[kept++] = scan->claimed[i];
	scan->claimed_count = kept;
	if (kept < sizeof scan->claimed / sizeof scan->claimed[0])
		scan->claimed[scan->claimed_count++] = (struct carve_bad){ file->second_position,
		    file->length - file->first_length };
}

/* Where the scan goes on from POSITION: past a claimed second piece it is in. */
static uint64_t skip_claimed(const struct carve_scan *scan, uint64_t position)
{
	size_t i;

	for (i = 0; i < scan->claimed_count; i++)
		if (position >= scan->claimed[i].position
		    && position < scan->claimed[i].position + scan->claimed[i].length)
			position = scan->claimed[i].position + scan->claimed[i].length;
	return position;
}

/* Scans the window from POSITION to its step's end; returns where the scan goes on (past
 * the last file found, which may lie beyond the window), or -1 when the output failed. */
static int64_t scan_window(struct carve_scan *scan, struct carve_output *output,
    struct window *window, uint64_t position, uint64_t end)
{
	unsigned sector = scan->options.sector_size;
	struct carve_result result;
	struct carve_file file;

	while (position < end) {
		size_t offset;
		int found;

		uint64_t past = scan->claimed_count ? skip_claimed(scan, position) : position;

		if (past != position) {
			position = past + (sector - past % sector) % sector;
			continue;
		}
		offset = (size_t)(position - window->position);
		found = try_formats(scan, window->data + offset, window->size - offset, position,
		    position % sector == 0, window->big, &result);

		if (found < 0) {
			position = next_position(scan, window, position, end);
			continue;
		}
		record(scan, &file, scan->options.formats[found], &result, position);
		if (emit(scan, output, &file, window->data, window->position, window->size,
		    window->spare) != 0)
			return -1;
		scan->found_by_format[found]++;
		scan->files++;
		scan->truncated += file.status == CARVE_TRUNCATED;
		scan->joined += file.first_length != 0;
		/* What a file holds (a thumbnail, a member) is not carved again on its own,
		 * when its structure vouches for its length; after a joined file's first piece
		 * comes the gap, which may hold other files. */
		if (file.first_length)
			claim(scan, &file);
		position += file.first_length ? file.first_length : result.checked
		    && result.checked < file.length ? result.checked : file.length;
		if (position % sector)
			position += sector - position % sector;
	}
	return (int64_t)position;
}

static int checkpoint(struct carve_scan *scan, struct carve_output *output,
    struct timespec *last, int force)
{
	if (!force && seconds_since(last) < scan->options.checkpoint_seconds)
		return 0;
	clock_gettime(CLOCK_MONOTONIC, last);
	return output->checkpoint(output->context, scan->position);
}

static int observe(struct carve_scan *scan, const struct window *window, uint64_t end)
{
	size_t i;

	for (i = 0; i < scan->options.observer_count; i++) {
		const struct carve_observer *observer = &scan->options.observers[i];

		if (observer->window(observer->context, window->data, (size_t)(end
		    - window->position), window->position, scan->failure,
		    sizeof scan->failure) != 0)
			return -1;
	}
	return 0;
}

static int scan_stream(struct carve_scan *scan, struct carve_output *output,
    struct window *window)
{
	struct timespec saved;
	int64_t next;

	clock_gettime(CLOCK_MONOTONIC, &saved);
	while (scan->position < scan->stream_size) {
		uint64_t end;

		if (scan->stop && *scan->stop)
			return checkpoint(scan, output, &saved, 1) == 0 ? 1 : -1;
		fill_window(scan, window, scan->position);
		end = scan->position + scan->options.step;
		end = end > scan->stream_size ? scan->stream_size : end;
		if (observe(scan, window, end) != 0)
			return -1;
		if ((next = scan_window(scan, output, window, scan->position, end)) < 0)
			return -1;
		scan->position = (uint64_t)next > scan->stream_size ? scan->stream_size
		    : (uint64_t)next;
		output->progress(output->progress_context, scan->position, 0);
		if (checkpoint(scan, output, &saved, 0) != 0)
			return -1;
	}
	output->progress(output->progress_context, scan->position, 1);
	return checkpoint(scan, output, &saved, 1);
}

int carve_run(struct carve_scan *scan, struct carve_output *output)
{
	struct window window = { 0 };
	int rc = -1;

	window.data = malloc(scan->options.step + scan->options.lookahead);
	window.big = malloc(scan->options.validate_max);
	window.spare = malloc(COPY_CHUNK);
	if (!window.data || !window.big || !window.spare) {
		snprintf(scan->failure, sizeof scan->failure, "out of memory for the scan window");
		goto out;
	}
	rc = scan_stream(scan, output, &window);
out:
	free(window.spare);
	free(window.big);
	free(window.data);
	return rc;
}
