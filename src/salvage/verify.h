/* verify.h: comparing a rescued image with its source, over the ranges its map says were
 * rescued ('+'), for `rescue verify`.
 *
 * The rescued ranges are read in chunks from both sides: the source through a read
 * function (source_read, or a plain file in the tests) and the image through the store,
 * and compared; a chunk that differs is walked byte by byte, so the result names exactly
 * the bytes that differ. Both copies are in memory here, so comparing them directly is
 * exact and costs nothing next to the reads, where SHA-256 digests of both (measured:
 * 29-40 MiB/s on the build host, 3-4 MiB/s under TCG) would be slower than a healthy
 * disk; digests pay only where the receiver computes its side itself, which no store
 * backend offers yet. A chunk the source
 * cannot read whole any more is read again one sector at a time: the sectors that still
 * read are compared, the others are recorded as unreadable. Both lists are merged ranges
 * in increasing order.
 */
#ifndef RESCUE_VERIFY_H
#define RESCUE_VERIFY_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "salvage/mapfile.h"
#include "target/store.h"

struct verify_range {
	uint64_t position;
	uint64_t size;
};

/* Ranges added in increasing order; one that touches or overlaps the last is merged. */
struct verify_ranges {
	struct verify_range *items;
	size_t count;
	size_t capacity;
	uint64_t bytes;			/* the sum of the sizes */
};

int verify_ranges_add(struct verify_ranges *ranges, uint64_t position, uint64_t size);
void verify_ranges_free(struct verify_ranges *ranges);

/* Adds to DIFFERING every run of bytes where A and B (SIZE bytes from POSITION) differ. */
int verify_compare_bytes(const unsigned char *a, const unsigned char *b, size_t size,
    uint64_t position, struct verify_ranges *differing);

struct verify_job {
	/* Reads SIZE bytes of the source at POSITION: bytes read, or -1 with errno. */
	ssize_t (*read_source)(void *context, void *buffer, size_t size, uint64_t position);
	void *source;
	unsigned sector_size;
	struct store *store;		/* NAME.img opened with store_image_open */
	const struct mapfile *map;
	size_t chunk_size;		/* 0: 1 MiB */
	/* Called after every chunk with the rescued bytes compared so far; may be NULL. */
	void (*progress)(void *context, uint64_t done, uint64_t total);
	void *progress_context;
};

struct verify_result {
	uint64_t rescued;		/* bytes the map says are rescued */
	size_t rescued_ranges;		/* '+' extents in the map */
	uint64_t compared;		/* bytes read from both sides and compared */
	struct verify_ranges differing;	/* the image differs from the source (or lacks them) */
	struct verify_ranges unreadable;	/* the source cannot be read there any more */
	int store_failed;		/* verify_run failed because the store did */
};

/* 0 when every rescued range was compared (whatever the outcome); -1 when the store
 * failed (store_failed set, store_error says how) or memory ran out. */
int verify_run(const struct verify_job *job, struct verify_result *result);
void verify_result_free(struct verify_result *result);

#endif
