/* undelete_carve.c: beyond the journal (undelete.h). A deleted file whose inode no journal
 * copy holds any more has lost its size and block map for good, but its data blocks are
 * free and still hold its bytes: carving the free blocks finds the files whose format
 * says where they end, as ext4magic's "magic" stage does.
 *
 * The stream is the free blocks in device order minus those of the files the journal gave
 * back already (a file must not come back twice, once by name and once as unnamed), so a
 * file split around a block in use still comes back whole. Candidates are tried at block
 * starts only: ext4 starts every file's data at one. What is found is kept as an index
 * (its offset, length and blocks); the dump engine reads it back through undelete_read
 * like any deleted file.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/err.h"
#include "base/sort.h"
#include "salvage/carve.h"
#include "salvage/carve_store.h"
#include "salvage/undelete_engine.h"

struct claimed {
	uint64_t start, end;		/* blocks [start, end) a recovered file reads */
};

struct carving {
	struct undelete *undelete;
	uint64_t block_size;
	struct claimed *claimed;	/* sorted by start */
	size_t claimed_count;
	struct carve_extent *extents;	/* the stream, bytes of the device */
	uint64_t *extent_starts;	/* each extent's first stream byte */
	size_t extent_count, extent_capacity;
	uint64_t stream_size;
	struct undelete_file *found;
	size_t found_count, found_capacity;
	const struct undelete_carve_options *options;
	int fd;
	char failure[256];
};

/* ------------------------------------------------------------------ the stream */

static int by_claimed_start(const void *a, const void *b)
{
	const struct claimed *left = a, *right = b;

	return left->start < right->start ? -1 : left->start > right->start;
}

/* The blocks every file found so far reads (their runs), sorted. */
static int collect_claimed(struct carving *carving)
{
	const struct undelete *undelete = carving->undelete;
	size_t i, r, count = 0;

	for (i = 0; i < undelete->count; i++)
		count += undelete->files[i].run_count;
	if (!(carving->claimed = calloc(count ? count : 1, sizeof *carving->claimed)))
		return -1;
	for (i = 0; i < undelete->count; i++)
		for (r = 0; r < undelete->files[i].run_count; r++)
			if (!undelete->files[i].runs[r].unwritten)
				carving->claimed[carving->claimed_count++] = (struct claimed){
				    undelete->files[i].runs[r].physical,
				    undelete->files[i].runs[r].physical
				    + undelete->files[i].runs[r].length };
	array_sort(carving->claimed, carving->claimed_count, sizeof *carving->claimed,
	    by_claimed_start);
	return 0;
}

static int add_extent(struct carving *carving, uint64_t start, uint64_t end)
{
	size_t n = carving->extent_count;

	if (n == carving->extent_capacity) {
		size_t capacity = n ? 2 * n : 256;
		struct carve_extent *extents = realloc(carving->extents, capacity
		    * sizeof *extents);
		uint64_t *starts;

		if (!extents)
			return -1;
		carving->extents = extents;
		if (!(starts = realloc(carving->extent_starts, capacity * sizeof *starts)))
			return -1;
		carving->extent_starts = starts;
		carving->extent_capacity = capacity;
	}
	carving->extents[n] = (struct carve_extent){ start * carving->block_size,
	    (end - start) * carving->block_size };
	carving->extent_starts[n] = carving->stream_size;
	carving->stream_size += carving->extents[n].length;
	carving->extent_count++;
	return 0;
}

/* The free run [START, END) minus the claimed blocks; *NEXT: the first claimed range that
 * may still overlap a later run (both lists are in block order). */
static int add_free_run(struct carving *carving, uint64_t start, uint64_t end, size_t *next)
{
	const struct claimed *claimed = carving->claimed;

	while (*next < carving->claimed_count && claimed[*next].end <= start)
		(*next)++;
	for (size_t i = *next; i < carving->claimed_count && claimed[i].start < end; i++) {
		if (claimed[i].start > start && add_extent(carving, start, claimed[i].start) != 0)
			return -1;
		if (claimed[i].end > start)
			start = claimed[i].end;
	}
	return start < end ? add_extent(carving, start, end) : 0;
}

/* Runs of clear bits in the live block bitmap, found a word at a time by libext2fs. */
static int build_stream(struct carving *carving, ext2_filsys fs)
{
	blk64_t last = ext2fs_blocks_count(fs->super) - 1, start, end;
	blk64_t at = fs->super->s_first_data_block;
	size_t next = 0;

	while (at <= last) {
		if (ext2fs_find_first_zero_block_bitmap2(fs->block_map, at, last, &start) != 0)
			break;
		if (ext2fs_find_first_set_block_bitmap2(fs->block_map, start, last, &end) != 0)
			end = last + 1;
		if (add_free_run(carving, start, end, &next) != 0)
			return -1;
		at = end + 1;
	}
	return 0;
}

/* ------------------------------------------------------------------ the files found */

/* The extent holding stream byte POSITION. */
static size_t extent_at(const struct carving *carving, uint64_t position)
{
	size_t low = 0, high = carving->extent_count;

	while (high - low > 1) {
		size_t middle = low + (high - low) / 2;

		if (carving->extent_starts[middle] <= position)
			low = middle;
		else
			high = middle;
	}
	return low;
}

/* FILE's runs: its stream bytes [POSITION, +SIZE) cut where the stream's extents are. */
static int map_carved(const struct carving *carving, struct undelete_file *file,
    uint64_t position)
{
	uint64_t blocks = (file->size + carving->block_size - 1) / carving->block_size;
	uint64_t logical = 0, within, length;
	size_t e = extent_at(carving, position), capacity = 0;
	struct undelete_run *runs;

	for (; logical < blocks && e < carving->extent_count; e++) {
		within = (position + logical * carving->block_size - carving->extent_starts[e])
		    / carving->block_size;
		length = carving->extents[e].length / carving->block_size - within;
		if (length > blocks - logical)
			length = blocks - logical;
		if (length > UINT32_MAX)
			length = UINT32_MAX;
		if (file->run_count == capacity) {
			capacity = capacity ? 2 * capacity : 4;
			if (!(runs = realloc(file->runs, capacity * sizeof *runs)))
				return -1;
			file->runs = runs;
		}
		file->runs[file->run_count++] = (struct undelete_run){ logical,
		    carving->extents[e].source_position / carving->block_size + within,
		    (uint32_t)length, 0 };
		logical += length;
		if (within + length < carving->extents[e].length / carving->block_size)
			e--;	/* cut by UINT32_MAX: the same extent goes on */
	}
	return 0;
}

static int note_found(struct carving *carving, const struct carve_file *carved)
{
	struct undelete_file *file, *bigger;
	char path[96];

	if (carving->found_count == carving->found_capacity) {
		size_t capacity = carving->found_capacity ? 2 * carving->found_capacity : 16;

		if (!(bigger = realloc(carving->found, capacity * sizeof *bigger)))
			return -1;
		carving->found = bigger;
		carving->found_capacity = capacity;
	}
	file = &carving->found[carving->found_count];
	memset(file, 0, sizeof *file);
	snprintf(path, sizeof path, "unnamed/carved-%" PRIu64 ".%s", carved->source_position,
	    carved->ext);
	if (!(file->path = strdup(path)))
		return -1;
	carving->found_count++;
	file->mode = S_IFREG | 0644;
	file->size = file->recoverable = carved->length;
	file->state = UNDELETE_WHOLE;
	if (!(file->carved = malloc(sizeof *file->carved)))
		return -1;
	file->carved->offset = carved->source_position;
	snprintf(file->carved->type, sizeof file->carved->type, "%s", carved->type);
	snprintf(file->carved->how, sizeof file->carved->how, "%s (%.80s)",
	    carve_status_name(carved->status), carved->delimited);
	return map_carved(carving, file, carved->stream_position);
}

/* The scan's output: each file is noted, never copied (SKIP 1): the dump reads it later. */
static int output_begin(void *context, const struct carve_file *file, int *skip)
{
	struct carving *carving = context;

	*skip = 1;
	/* Only a file whose structure confirms its end is called whole: a truncated or
	 * unvalidated one is left to `rescue carve --free`, which names it so. */
	if (file->status != CARVE_VALIDATED)
		return 0;
	if (note_found(carving, file) != 0) {
		snprintf(carving->failure, sizeof carving->failure, "out of memory for the files "
		    "carved");
		return -1;
	}
	return 0;
}

/* Nothing to save: undelete is never resumed. */
static int output_checkpoint(void *context, uint64_t position)
{
	(void)context, (void)position;
	return 0;
}

static void output_progress(void *context, uint64_t position, int force)
{
	struct carving *carving = context;

	(void)force;
	if (carving->options->progress)
		carving->options->progress(carving->options->progress_context, position,
		    carving->stream_size);
}

static ssize_t read_device(void *context, void *buffer, size_t size, uint64_t position)
{
	struct carving *carving = context;

	return pread(carving->fd, buffer, size, (off_t)position);
}

static int by_path(const void *a, const void *b)
{
	return strcmp(((const struct undelete_file *)a)->path,
	    ((const struct undelete_file *)b)->path);
}

/* The files found join UNDELETE's, sorted by path again (undelete_tree looks them up). */
static int merge_found(struct carving *carving)
{
	struct undelete *undelete = carving->undelete;
	struct undelete_file *files;

	if (!carving->found_count)
		return 0;
	files = realloc(undelete->files, (undelete->count + carving->found_count)
	    * sizeof *files);
	if (!files)
		return -1;
	memcpy(files + undelete->count, carving->found, carving->found_count * sizeof *files);
	undelete->files = files;
	undelete->count += carving->found_count;
	undelete->counts.carved += carving->found_count;
	carving->found_count = 0;	/* owned by UNDELETE now */
	qsort(undelete->files, undelete->count, sizeof *files, by_path);
	return 0;
}

static int scan_stream(struct carving *carving)
{
	struct carve_options options = { 0 };
	struct carve_output output = { 0 };
	struct carve_scan scan;
	int rc;

	options.formats = carve_builtin_formats(&options.format_count);
	options.sector_size = (unsigned)carving->block_size;
	if (carve_scan_init(&scan, &options, read_device, carving, carving->extents,
	    carving->extent_count) != 0) {
		snprintf(carving->failure, sizeof carving->failure, "out of memory for the scan");
		return -1;
	}
	scan.stop = carving->options->stop;
	output.context = carving;
	output.begin = output_begin;
	output.checkpoint = output_checkpoint;
	output.progress = output_progress;
	output.progress_context = carving;
	rc = carve_run(&scan, &output);
	carving->undelete->counts.carved_bytes += scan.position;
	carve_scan_free(&scan);
	return rc < 0 ? -1 : 0;
}

static void carving_free(struct carving *carving)
{
	size_t i;

	for (i = 0; i < carving->found_count; i++) {
		free(carving->found[i].path);
		free(carving->found[i].runs);
		free(carving->found[i].carved);
	}
	free(carving->found);
	free(carving->claimed);
	free(carving->extents);
	free(carving->extent_starts);
	if (carving->fd >= 0)
		close(carving->fd);
}

int undelete_carve(struct undelete *undelete, const char *device,
    const struct undelete_carve_options *options, char *why, size_t why_size)
{
	struct engine *engine = undelete->state;
	struct carving carving = { .undelete = undelete, .options = options, .fd = -1 };
	int rc = -1;

	carving.block_size = engine->fs->blocksize;
	if (collect_claimed(&carving) != 0 || build_stream(&carving, engine->fs) != 0) {
		snprintf(why, why_size, "out of memory for the free blocks of %s", device);
		goto out;
	}
	if (!carving.extent_count) {
		rc = 0;
		goto out;
	}
	if ((carving.fd = open(device, O_RDONLY | O_CLOEXEC)) < 0) {
		snprintf(why, why_size, "unable to open %s: %s", device, err_text(errno));
		goto out;
	}
	if (scan_stream(&carving) != 0) {
		snprintf(why, why_size, "unable to carve the free blocks of %s: %s", device,
		    carving.failure[0] ? carving.failure : "the scan failed");
		goto out;
	}
	if (merge_found(&carving) != 0) {
		snprintf(why, why_size, "out of memory for the files carved");
		goto out;
	}
	rc = 0;
out:
	carving_free(&carving);
	return rc;
}
