/* verify.c: the comparison behind `rescue verify` (see verify.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "salvage/verify.h"

enum { DEFAULT_CHUNK = 1 << 20 };

int verify_ranges_add(struct verify_ranges *ranges, uint64_t position, uint64_t size)
{
	struct verify_range *last = ranges->count ? &ranges->items[ranges->count - 1] : NULL;

	if (size == 0)
		return 0;
	if (last && position <= last->position + last->size) {
		uint64_t end = position + size;

		if (end > last->position + last->size) {
			ranges->bytes += end - (last->position + last->size);
			last->size = end - last->position;
		}
		return 0;
	}
	if (ranges->count == ranges->capacity) {
		size_t capacity = ranges->capacity ? 2 * ranges->capacity : 16;
		struct verify_range *items = realloc(ranges->items, capacity * sizeof *items);

		if (items == NULL)
			return -1;
		ranges->items = items;
		ranges->capacity = capacity;
	}
	ranges->items[ranges->count++] = (struct verify_range){ position, size };
	ranges->bytes += size;
	return 0;
}

void verify_ranges_free(struct verify_ranges *ranges)
{
	free(ranges->items);
	memset(ranges, 0, sizeof *ranges);
}

int verify_compare_bytes(const unsigned char *a, const unsigned char *b, size_t size,
    uint64_t position, struct verify_ranges *differing)
{
	size_t i = 0, start;

	while (i < size) {
		if (a[i] == b[i]) {
			i++;
			continue;
		}
		for (start = i; i < size && a[i] != b[i]; i++)
			;
		if (verify_ranges_add(differing, position + start, i - start) != 0)
			return -1;
	}
	return 0;
}

/* The image's bytes at POSITION: how many it has (fewer at its end), or -1. */
static ssize_t read_image(struct store *store, unsigned char *buffer, size_t size,
    uint64_t position)
{
	size_t done = 0;

	while (done < size) {
		ssize_t got = store_pread(store, buffer + done, size - done, position + done);

		if (got < 0)
			return -1;
		if (got == 0)
			break;
		done += (size_t)got;
	}
	return (ssize_t)done;
}

/* Compares SIZE source bytes with the IMAGE_SIZE bytes the image had there: what the image
 * lacks differs too, since the map claims it. */
static int compare_piece(const unsigned char *source, const unsigned char *image, size_t size,
    size_t image_size, uint64_t position, struct verify_result *result)
{
	size_t common = image_size < size ? image_size : size;

	result->compared += size;
	if (common == size && memcmp(source, image, size) == 0)
		return 0;
	if (verify_compare_bytes(source, image, common, position, &result->differing) != 0)
		return -1;
	return verify_ranges_add(&result->differing, position + common, size - common);
}

/* The source failed somewhere in the chunk: sector by sector, so that what still reads is
 * compared and exactly the sectors that do not are named. */
static int compare_by_sector(const struct verify_job *job, unsigned char *source,
    const unsigned char *image, size_t size, size_t image_size, uint64_t position,
    struct verify_result *result)
{
	size_t offset = 0, piece;

	for (; offset < size; offset += piece) {
		uint64_t at = position + offset;
		ssize_t got;

		piece = job->sector_size - (size_t)(at % job->sector_size);
		if (piece > size - offset)
			piece = size - offset;
		got = job->read_source(job->source, source + offset, piece, at);
		if (got != (ssize_t)piece) {
			if (verify_ranges_add(&result->unreadable, at, piece) != 0)
				return -1;
			continue;
		}
		if (compare_piece(source + offset, image + offset, piece,
		    image_size > offset ? image_size - offset : 0, at, result) != 0)
			return -1;
	}
	return 0;
}

static int compare_chunk(const struct verify_job *job, unsigned char *source,
    unsigned char *image, size_t size, uint64_t position, struct verify_result *result)
{
	ssize_t image_size = read_image(job->store, image, size, position), got;

	if (image_size < 0) {
		result->store_failed = 1;
		return -1;
	}
	got = job->read_source(job->source, source, size, position);
	if (got == (ssize_t)size)
		return compare_piece(source, image, size, (size_t)image_size, position, result);
	return compare_by_sector(job, source, image, size, (size_t)image_size, position, result);
}

/* Chunks start at multiples of the chunk size, so reads stay aligned whatever the map. */
static int compare_extent(const struct verify_job *job, const struct map_extent *extent,
    unsigned char *source, unsigned char *image, size_t chunk, uint64_t *done,
    struct verify_result *result)
{
	uint64_t position = extent->position, end = extent->position + extent->size;

	while (position < end) {
		size_t size = chunk - (size_t)(position % chunk);

		if (size > end - position)
			size = (size_t)(end - position);
		if (compare_chunk(job, source, image, size, position, result) != 0)
			return -1;
		position += size;
		*done += size;
		if (job->progress)
			job->progress(job->progress_context, *done, result->rescued);
	}
	return 0;
}

static void count_rescued(const struct mapfile *map, struct verify_result *result)
{
	size_t i;

	for (i = 0; i < map->count; i++)
		if (mapfile_extent(map, i)->state == MAP_FINISHED) {
			result->rescued += mapfile_extent(map, i)->size;
			result->rescued_ranges++;
		}
}

int verify_run(const struct verify_job *job, struct verify_result *result)
{
	size_t chunk = job->chunk_size ? job->chunk_size : DEFAULT_CHUNK, i;
	unsigned char *source = NULL, *image = NULL;
	uint64_t done = 0;
	int status = -1;

	memset(result, 0, sizeof *result);
	count_rescued(job->map, result);
	/* Page-aligned, so a source opened with O_DIRECT reads straight into it. */
	if (posix_memalign((void **)&source, 4096, chunk) != 0
	    || posix_memalign((void **)&image, 4096, chunk) != 0) {
		errno = ENOMEM;
		goto out;
	}
	for (i = 0; i < job->map->count; i++)
		if (mapfile_extent(job->map, i)->state == MAP_FINISHED
		    && compare_extent(job, mapfile_extent(job->map, i), source, image, chunk, &done,
		    result) != 0)
			goto out;
	status = 0;
out:
	free(image);
	free(source);
	return status;
}

void verify_result_free(struct verify_result *result)
{
	verify_ranges_free(&result->differing);
	verify_ranges_free(&result->unreadable);
}
