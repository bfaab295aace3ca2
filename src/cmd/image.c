/* image: copy a failing disk to an image on a target, with a map to resume from
 *
 * usage: rescue image [options] SRC [TARGET]
 *
 * Reads SRC (a disk or a partition: sda, /dev/sda2) read-only and writes what it can read
 * to NAME.img in the directory TARGET (the default target, rescue.target=, when not given),
 * recording the fate of every byte in NAME.map beside it, in GNU ddrescue's mapfile format.
 * NAME is the source's kernel name (sda, vdb2) unless --name says otherwise. The easy data
 * comes first, as with GNU ddrescue: copying in clusters, skipping ahead past errors (pass
 * 1 forwards, 2 backwards, 3 without skips); trimming the edges of each failed cluster;
 * scraping what is left sector by sector; then --retries passes over the bad sectors.
 *
 * The map is saved on the target at every phase change, at least every 30 seconds and at
 * the end, each time only after the image data it claims is on the target. Running the same
 * command again resumes from NAME.map (ours or GNU ddrescue's), after checking that it is a
 * map of this disk: a map of another size or of another disk is refused and left as it is.
 * Ctrl-C (SIGINT) or SIGTERM stops at the next read, saves the map and exits. A lost
 * connection is retried with a growing pause (1, 2, 4 ... 30 s), forever unless --give-up
 * bounds it; the first connection failing is not retried.
 *
 *   --retries N          read the bad sectors again N times (default 0)
 *   --no-trim            skip trimming: failed clusters go to scraping whole
 *   --no-scrape          skip scraping: leave non-scraped areas for a later run
 *   --reverse            copy pass 1 from the end backwards
 *   --direct             read with O_DIRECT, bypassing the page cache: the default, kept
 *                        for ddrescue's users (readahead through the cache turns one bad
 *                        sector into many slow failed reads; a disk that refuses O_DIRECT
 *                        is read through the cache)
 *   --cached             read through the page cache (single sectors still bypass it)
 *   --no-sparse          send zeros too: by default, 64 KiB pieces of zeros past the end
 *                        the image had are left as holes in the file (as GNU ddrescue's
 *                        --sparse, accepted here too), so a disk's free space costs
 *                        reading only; nbd:// and tcp:// always get every byte
 *   --cluster-size N     sectors read at once while copying (default 128: 64 KiB, read in
 *                        bursts of up to 1 MiB while the disk reads well; given, exactly N)
 *   --skip-size S[,MAX]  first skip after a read error, and its limit (default 64K, 1% of SRC)
 *   --input-position P   start at byte P of SRC (the image keeps the same offsets)
 *   --size S             image at most S bytes from there
 *   --name NAME          the files are NAME.img and NAME.map
 *   --give-up SECONDS    stop when the target stays unreachable this long (default: never)
 *   --json               progress as JSON lines ({"event":"progress",...}), then
 *                        {"event":"finished",...} and {"event":"summary",...}
 *
 * Sizes are bytes, 0x hexadecimal, or with K, M, G, T (powers of 1024); positions and sizes
 * must be whole sectors. TARGET must be a directory that exists; a target on a guarded disk,
 * or on the disk being imaged, is refused.
 *
 * Exit codes: 0 every byte rescued and the final map saved, 1 finished with bad areas (the
 * map lists them as '-'), 2 usage error, 3 the source, the target or the map failed (a map
 * of another disk, a full target, a connection given up), or the run was stopped by a
 * signal (the map is saved: the same command resumes).
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/err.h"
#include "base/journal.h"
#include "base/json.h"
#include "base/paths.h"
#include "base/sha256.h"
#include "cli/command.h"
#include "cli/opt.h"
#include "cli/stop.h"
#include "disk/busy.h"
#include "disk/cow.h"
#include "disk/inventory.h"
#include "salvage/imaging.h"
#include "salvage/mapfile.h"
#include "salvage/progress.h"
#include "salvage/source.h"
#include "target/store.h"
#include "target/target.h"
#include "usage/image.h"
#include "version.h"

static int image_main(int argc, char **argv);

const struct command command_image = {
	.name = "image",
	.summary = COMMAND_SUMMARY,
	.usage = COMMAND_USAGE,
	.menu_label = "image a disk to a target",
	.menu_rank = 45,
	.menu_prompt = "source and target (e.g. sda ssh://user@host/dir)",
	.run = image_main,
};

enum { MAX_CLUSTER_SECTORS = 131072 };

struct image_options {
	struct imaging_options engine;
	const char *skip_text, *position_text, *size_text, *cluster_text;
	int direct;
	int no_sparse;
	int json;
	long give_up;			/* seconds; -1: never */
	const char *name;
	const char *source_operand, *target_url;
};

struct image_run {
	struct image_options options;
	struct source source;
	struct target target;
	struct store *store;
	char name[256];			/* NAME of NAME.img and NAME.map */
	char map_name[264];
	struct mapfile map;
	int resumed;
	uint64_t image_size;		/* the image file's end, as far as we know */
	uint64_t sparse_from;		/* zeros from here on are left as holes (--sparse) */
	uint64_t zeros_end;		/* the end of the last zeros left out */
	uint64_t holes;			/* bytes of zeros left out in this run */
	struct progress progress;
	char failure[1200];		/* why the run stopped early */
	int map_saved;			/* the final map is on the target */
	char map_failure[1200];		/* why it is not */
	int busy_written;
	unsigned char saved_map[32];	/* SHA-256 of the map text last saved (all zero:
					 * none), and whether image data */
	int written_since_save;		/* was written after it */
};

/* ------------------------------------------------------------------ options */

/* A byte count: a plain number (0x for hexadecimal) or one with a K/M/G/T suffix. */
static int parse_bytes(const char *text, uint64_t *bytes)
{
	unsigned long long value;
	char *end;

	errno = 0;
	value = strtoull(text, &end, 0);
	if (text[0] >= '0' && text[0] <= '9' && *end == '\0' && errno == 0) {
		*bytes = value;
		return 0;
	}
	if (size_parse(text, &value) != 0)
		return -1;
	*bytes = value;
	return 0;
}

static int parse_options(int argc, char **argv, struct image_options *options)
{
	static const struct option long_options[] = {
		{ "retries", required_argument, NULL, 'r' },
		{ "no-trim", no_argument, NULL, 'N' },
		{ "no-scrape", no_argument, NULL, 'n' },
		{ "reverse", no_argument, NULL, 'R' },
		{ "direct", no_argument, NULL, 'd' },
		{ "idirect", no_argument, NULL, 'd' },
		{ "cached", no_argument, NULL, 'C' },
		{ "sparse", no_argument, NULL, 'S' },
		{ "no-sparse", no_argument, NULL, 'Z' },
		{ "cluster-size", required_argument, NULL, 'c' },
		{ "skip-size", required_argument, NULL, 'K' },
		{ "input-position", required_argument, NULL, 'i' },
		{ "size", required_argument, NULL, 's' },
		{ "name", required_argument, NULL, 'm' },
		{ "give-up", required_argument, NULL, 'g' },
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 },
	};
	struct opt_parser opts = opt_parser(&command_image, argc, argv, "r:NnRdCSZc:K:i:s:m:g:j",
	    long_options);
	char *end;
	int option, code;

	options->give_up = -1;
	options->direct = 1;
	while ((option = opt_next(&opts)) != OPT_DONE)
		switch (option) {
		case 'r':
			options->engine.retries = (int)strtol(optarg, &end, 10);
			if (*end || end == optarg || options->engine.retries < 0)
				return err_usage(command_image.usage, "--retries %s: not a number of "
				    "passes", optarg);
			break;
		case 'N': options->engine.no_trim = 1; break;
		case 'n': options->engine.no_scrape = 1; break;
		case 'R': options->engine.reverse = 1; break;
		case 'd': options->direct = 1; break;
		case 'C': options->direct = 0; break;
		case 'S': options->no_sparse = 0; break;
		case 'Z': options->no_sparse = 1; break;
		case 'c': options->cluster_text = optarg; break;
		case 'K': options->skip_text = optarg; break;
		case 'i': options->position_text = optarg; break;
		case 's': options->size_text = optarg; break;
		case 'm': options->name = optarg; break;
		case 'g':
			if ((code = opt_seconds(&command_image, "--give-up", optarg,
			    &options->give_up)) != 0)
				return code;
			break;
		case 'j': options->json = 1; break;
		case OPT_STOP: return opts.exit_code;
		}
	if ((code = opt_source_target(&opts, &options->source_operand,
	    &options->target_url)) != 0)
		return code;
	return -1;
}

static int bad_size(const char *option, const char *text, const char *why)
{
	return err_usage(command_image.usage, "%s %s: %s", option, text, why);
}

/* The sizes can only be checked against the source's sector size once it is open. */
static int apply_sizes(struct image_run *run)
{
	struct image_options *options = &run->options;
	struct imaging_options *engine = &options->engine;
	unsigned sector = run->source.identity.sector_size;
	uint64_t value, max;
	char *comma;

	if (options->cluster_text) {
		if (parse_bytes(options->cluster_text, &value) != 0 || value == 0
		    || value > MAX_CLUSTER_SECTORS)
			return bad_size("--cluster-size", options->cluster_text, "not a number of "
			    "sectors from 1 to 131072");
		engine->cluster_size = value * sector;
		engine->burst_max = 0;	/* the reads are exactly the size asked for */
	}
	if (options->skip_text) {
		char first[64];

		snprintf(first, sizeof first, "%.*s", (int)strcspn(options->skip_text, ","),
		    options->skip_text);
		comma = strchr(options->skip_text, ',');
		if (parse_bytes(first, &value) != 0 || value == 0 || value % sector
		    || (comma && (parse_bytes(comma + 1, &max) != 0 || max < value || max % sector)))
			return bad_size("--skip-size", options->skip_text, "not SIZE[,MAX] in whole "
			    "sectors, MAX at least SIZE");
		engine->skip_size = value;
		if (comma)
			engine->max_skip_size = max;
		else if (engine->max_skip_size < value)
			engine->max_skip_size = value;
	}
	if (options->position_text && (parse_bytes(options->position_text,
	    &engine->input_position) != 0 || engine->input_position % sector
	    || engine->input_position >= run->source.identity.size))
		return bad_size("--input-position", options->position_text, "not a position in "
		    "whole sectors inside the source");
	if (options->size_text && (parse_bytes(options->size_text, &engine->limit_size) != 0
	    || engine->limit_size == 0 || engine->limit_size % sector))
		return bad_size("--size", options->size_text, "not a size in whole sectors");
	return 0;
}

/* ------------------------------------------------------------------ setting up */

static int apply_defaults(struct image_run *run);

static int open_source(struct image_run *run)
{
	char why[PATH_MAX + 256];

	if (source_open(run->options.source_operand, run->options.direct, &run->source, why,
	    sizeof why) != 0)
		return err_fatalx(EXIT_SYSTEM, "unable to image %s", why);
	return apply_defaults(run);
}

static int apply_defaults(struct image_run *run)
{
	struct imaging_options parsed = run->options.engine;

	/* The defaults depend on the source's size; the flags parsed before are kept. */
	imaging_defaults(&run->options.engine, run->source.identity.size);
	run->options.engine.retries = parsed.retries;
	run->options.engine.no_trim = parsed.no_trim;
	run->options.engine.no_scrape = parsed.no_scrape;
	run->options.engine.reverse = parsed.reverse;
	snprintf(run->name, sizeof run->name, "%s", run->options.name ? run->options.name
	    : run->source.identity.name);
	snprintf(run->map_name, sizeof run->map_name, "%s.map", run->name);
	return 0;
}

static int choose_target(struct image_run *run)
{
	char why[PATH_MAX + 256], shown[1024];

	if (target_parse(run->options.target_url, &run->target, why, sizeof why) != 0) {
		journal_redact(run->options.target_url, shown, sizeof shown);
		return err_usage(command_image.usage, "not a target URL: %s: %s", shown, why);
	}
	/* Writing the image onto the disk it comes from would destroy what is being saved. */
	if (run->target.scheme == TARGET_FILE
	    && source_holds_path(&run->source, run->target.path, why, sizeof why))
		return err_fatalx(EXIT_SYSTEM, "unable to image %s to %s: %s",
		    run->source.identity.name, run->target.display, why);
	return 0;
}

/* The busy file tells `rescue unguard` and `rescue disks` that the source is being read,
 * and a second `rescue image` of the same source that one runs already. A repair's busy
 * file is left alone: reading the disk does not disturb its snapshot. */
static int mark_busy(struct image_run *run)
{
	struct busy_holder holder;

	run->busy_written = busy_mark(RESCUE_BUSY_DIR, run->source.identity.name, "image",
	    run->target.display, &holder);
	if (!run->busy_written && holder.pid && !strcmp(holder.command, "image"))
		return err_fatalx(EXIT_SYSTEM, "unable to image %s: it is being imaged "
		    "already (process %ld)", run->source.identity.name, holder.pid);
	return 0;
}

static void unmark_busy(struct image_run *run)
{
	if (run->busy_written)
		busy_unmark(RESCUE_BUSY_DIR, run->source.identity.name);
}

/* The end of the part being imaged: the image keeps the source's offsets, so this is the
 * size the image has once done. */
static uint64_t image_end(const struct image_run *run)
{
	const struct imaging_options *engine = &run->options.engine;
	uint64_t end = run->source.identity.size;

	if (engine->limit_size && engine->input_position + engine->limit_size < end)
		end = engine->input_position + engine->limit_size;
	return end;
}

static int open_store(struct image_run *run)
{
	char why[1200];
	int transient;

	run->store = store_open(&run->target, run->name, why, sizeof why, &transient);
	if (run->store == NULL)
		return err_fatalx(EXIT_SYSTEM, "unable to image %s to %s",
		    run->source.identity.name, why);
	/* nbd:// checks its export against it, tcp:// knows when the stream is whole. */
	run->store->expected_size = image_end(run);
	return 0;
}

static int feed_map(void *context, const char *data, size_t size)
{
	return mapfile_reader_feed(context, data, size);
}

/* The map on the target, when there is one, after checking it belongs to this source;
 * a new map otherwise. A map that cannot be used is refused and never touched. It is
 * parsed as it is read, a piece at a time: a million bad areas are some 40 MB of text. */
static int load_map(struct image_run *run)
{
	struct mapfile_reader *reader = malloc(sizeof *reader);
	char why[1024];
	int found;

	if (reader == NULL)
		return err_fatalx(EXIT_SYSTEM, "unable to read the map: out of memory");
	mapfile_reader_start(reader, &run->map, SOURCE_IDENTITY_PREFIX);
	found = store_get_pieces(run->store, run->map_name, feed_map, reader);
	if (found == 0)
		found = mapfile_reader_finish(reader) == 0 ? 0 : 2;
	if (found < 0 || found == 1)
		mapfile_free(&run->map);
	if (found < 0) {
		free(reader);
		return err_fatalx(EXIT_SYSTEM, "unable to read the map: %s", store_error(run->store));
	}
	if (found == 1) {
		free(reader);
		mapfile_init(&run->map, run->source.identity.size);
		run->map.current_status = MAP_NON_TRIED;
		run->map.current_pass = 1;
		return 0;
	}
	if (found == 2) {
		snprintf(why, sizeof why, "%s", reader->why);
		free(reader);
		return err_fatalx(EXIT_SYSTEM, "unable to resume from %s on %s: not a mapfile (%s); "
		    "it was left as it is", run->map_name, run->target.display, why);
	}
	found = source_check_map(&run->source.identity, reader->kept, run->map.size, why,
	    sizeof why);
	free(reader);
	if (found != 0)
		return err_fatalx(EXIT_SYSTEM, "unable to resume from %s on %s: %s; it was left as "
		    "it is (use --name for a new image of this disk)", run->map_name,
		    run->target.display, why);
	run->resumed = 1;
	return 0;
}

/* A map that claims bytes past the end of the image describes another image. */
static int open_image(struct image_run *run)
{
	const struct map_extent *last = NULL;
	size_t i;

	if (store_image_open(run->store, &run->image_size) != 0)
		return err_fatalx(EXIT_SYSTEM, "unable to open the image: %s",
		    store_error(run->store));
	run->sparse_from = !run->options.no_sparse && store_holds_files(run->store)
	    ? run->image_size : UINT64_MAX;
	for (i = 0; i < run->map.count; i++)
		if (mapfile_extent(&run->map, i)->state == MAP_FINISHED)
			last = mapfile_extent(&run->map, i);
	if (last && last->position + last->size > run->image_size)
		return err_fatalx(EXIT_SYSTEM, "unable to resume from %s on %s: it says %" PRIu64
		    " bytes were rescued up to byte %" PRIu64 ", but %s.img holds only %" PRIu64
		    " bytes; it was left as it is", run->map_name, run->target.display,
		    last->position + last->size, last->position + last->size, run->name,
		    run->image_size);
	return 0;
}

/* Bytes still to be written inside the part being imaged, from byte FROM on. */
static uint64_t bytes_to_write(const struct image_run *run, uint64_t from)
{
	uint64_t start = run->options.engine.input_position, end = image_end(run), total = 0;
	size_t i;

	if (from > start)
		start = from;
	for (i = 0; i < run->map.count; i++) {
		const struct map_extent *extent = mapfile_extent(&run->map, i);
		uint64_t low = extent->position > start ? extent->position : start;
		uint64_t high = extent->position + extent->size < end ? extent->position + extent->size
		    : end;

		if (extent->state != MAP_FINISHED && extent->state != MAP_BAD && low < high)
			total += high - low;
	}
	return total;
}

/* What is left to write past the image's end must fit; inside it the space is taken
 * already (after a run stopped by a full target, that is most of it). */
static int check_space(struct image_run *run)
{
	uint64_t free_bytes, needed = bytes_to_write(run, run->image_size);
	char have[32], need[32];

	if (store_free_space(run->store, &free_bytes) != 0 || free_bytes >= needed)
		return 0;
	inventory_size_text(free_bytes, have, sizeof have);
	inventory_size_text(needed, need, sizeof need);
	return err_fatalx(EXIT_SYSTEM, "unable to image %s to %s: target full: it has %s (%" PRIu64
	    " bytes) free, the image needs up to %s (%" PRIu64 " bytes) more; free space there, "
	    "or image a part with --input-position and --size", run->source.identity.name,
	    run->target.display, have, free_bytes, need, needed);
}

/* ------------------------------------------------------------------ the sink */

static int recover(struct image_run *run)
{
	return store_recover(run->store, run->options.give_up, &stop_requested, run->failure,
	    sizeof run->failure);
}

/* Every byte given is written (a lost target is recovered); the image's known end and
 * "written since the map was saved" follow. */
static int write_image(struct image_run *run, const void *buffer, size_t size,
    uint64_t position)
{
	while (store_pwrite(run->store, buffer, size, position) != 0)
		if (recover(run) != 0)
			return -1;
	if (position + size > run->image_size)
		run->image_size = position + size;
	run->written_since_save = 1;
	return 0;
}

static int all_zero(const unsigned char *bytes, size_t size)
{
	uint64_t words[8], any = 0;
	size_t i = 0, j;

	for (; i + sizeof words <= size && any == 0; i += sizeof words) {
		memcpy(words, bytes + i, sizeof words);
		for (j = 0; j < 8; j++)
			any |= words[j];
	}
	for (; i < size && any == 0; i++)
		any |= bytes[i];
	return any == 0;
}

/* Past the end the image had when it was opened, pieces of SPARSE_PIECE zeros are not
 * sent: the file reads as zeros there anyway (GNU ddrescue's --sparse). A free area of a
 * disk then costs reading only. What was left out at the image's end is covered by the
 * map's next save (cover_zeros), so the file is never shorter than what the map claims. */
enum { SPARSE_PIECE = 64 * 1024 };

static int sink_write(void *context, const void *buffer, size_t size, uint64_t position)
{
	struct image_run *run = context;
	const unsigned char *bytes = buffer;
	size_t done = 0, run_start = 0, piece;

	if (position + size <= run->sparse_from)
		return write_image(run, buffer, size, position);
	while (done < size) {
		piece = size - done < SPARSE_PIECE ? size - done : SPARSE_PIECE;
		if (position + done >= run->sparse_from && all_zero(bytes + done, piece)) {
			if (run_start < done && write_image(run, bytes + run_start, done - run_start,
			    position + run_start) != 0)
				return -1;
			run->holes += piece;
			if (position + done + piece > run->zeros_end)
				run->zeros_end = position + done + piece;
			run_start = done + piece;
		}
		done += piece;
	}
	if (run_start < size)
		return write_image(run, bytes + run_start, size - run_start, position + run_start);
	return 0;
}

/* One zero sector at POSITION, written (never left out as a hole). */
static int zero_sector(struct image_run *run, uint64_t position)
{
	char *zeros = calloc(1, run->source.identity.sector_size);
	int rc;

	if (zeros == NULL)
		return -1;
	rc = write_image(run, zeros, run->source.identity.sector_size, position);
	free(zeros);
	return rc;
}

/* Zeros left out at the image's end: one zero sector written at their end gives the file
 * its length, so a resumed run finds the image as long as the map says. */
static int cover_zeros(struct image_run *run)
{
	if (run->zeros_end <= run->image_size)
		return 0;
	return zero_sector(run, run->zeros_end - run->source.identity.sector_size);
}

static size_t produce_map(void *context, const char **piece)
{
	return mapfile_writer_next(context, piece);
}

/* The sha256 of the text WRITER makes. */
static void hash_map(struct mapfile_writer *writer, unsigned char digest[32])
{
	struct sha256 hash;
	const char *piece;
	size_t length;

	sha256_init(&hash);
	while ((length = mapfile_writer_next(writer, &piece)) > 0)
		sha256_update(&hash, piece, length);
	sha256_final(&hash, digest);
}

/* The map is written only once the image data it claims is on the target. A map the
 * target already holds, with nothing written since, is not sent again. The text is made
 * a piece at a time, once for its hash and once as it is written: a map of a million bad
 * areas is some 50 MB of text, never held. */
static int save_map(struct image_run *run, const struct mapfile *map)
{
	static const unsigned char none[32];
	unsigned char digest[32];
	struct mapfile_writer *writer = malloc(sizeof *writer);
	char identity[512];
	int rc = -1;

	if (writer == NULL) {
		snprintf(run->failure, sizeof run->failure, "out of memory for the map");
		return -1;
	}
	source_identity_line(&run->source.identity, identity, sizeof identity);
	if (cover_zeros(run) != 0)
		goto out;
	mapfile_writer_start(writer, map, "rescue " RESCUE_VERSION, identity);
	hash_map(writer, digest);
	if (memcmp(run->saved_map, none, sizeof none) && !run->written_since_save
	    && !memcmp(digest, run->saved_map, sizeof digest)) {
		rc = 0;
		goto out;
	}
	for (;;) {
		mapfile_writer_start(writer, map, "rescue " RESCUE_VERSION, identity);
		if (store_flush(run->store) == 0
		    && store_replace_pieces(run->store, run->map_name, produce_map, writer) == 0) {
			memcpy(run->saved_map, digest, sizeof digest);
			run->written_since_save = 0;
			rc = 0;
			break;
		}
		if (recover(run) != 0)
			break;
	}
out:
	free(writer);
	return rc;
}

static int sink_save_map(void *context, const struct mapfile *map)
{
	return save_map(context, map);
}

static void sink_progress(void *context, const struct mapfile *map, const char *phase)
{
	struct image_run *run = context;

	progress_update(&run->progress, map, phase, 0);
}

/* ------------------------------------------------------------------ running */

/* An image ending in bad sectors would be shorter than the source: a zero sector at the
 * very end (where nothing was rescued) gives it the source's size, so it can be mounted. */
static int pad_image(struct image_run *run)
{
	uint64_t end = image_end(run);

	if (run->image_size >= end)
		return 0;
	return zero_sector(run, end - run->source.identity.sector_size);
}

/* The map in memory is true whatever stopped the run (a failed write is never marked), so
 * it is saved in every case; after a target failure that may fail too, and the map on the
 * target is then the one saved last, older but just as true. */
static int final_save(struct image_run *run, int result)
{
	char cause[sizeof run->failure];

	snprintf(cause, sizeof cause, "%s", run->failure);
	if (save_map(run, &run->map) == 0) {
		run->map_saved = 1;
	} else {
		snprintf(run->map_failure, sizeof run->map_failure, "%s", run->failure);
		result = IMAGING_SINK_FAILED;
	}
	if (cause[0])
		snprintf(run->failure, sizeof run->failure, "%s", cause);
	return result;
}

static int run_engine(struct image_run *run)
{
	struct imaging_source source = { source_read, &run->source, run->source.identity.size,
	    run->source.identity.sector_size };
	struct imaging_sink sink = { sink_write, sink_save_map, sink_progress, run };
	struct sigaction saved[2];
	int result;

	run->options.engine.stop = &stop_requested;
	progress_start(&run->progress, stdout, run->options.json, &run->map);
	if (!run->options.json)
		printf("imaging %s (%" PRIu64 " bytes) to %s/%s.img%s\n", run->source.identity.name,
		    run->source.identity.size, run->target.display, run->name, run->resumed
		    ? ", resuming from its map" : "");
	stop_signals_catch(saved);
	result = imaging_run(&source, &sink, &run->options.engine, &run->map);
	if (result == IMAGING_DONE && pad_image(run) != 0)
		result = IMAGING_SINK_FAILED;
	if (result != IMAGING_NO_MEMORY)
		result = final_save(run, result);
	stop_signals_restore(saved);
	return result;
}

/* ------------------------------------------------------------------ the result */

static int verdict(const struct image_run *run, int result)
{
	struct map_totals totals;

	if (result != IMAGING_DONE)
		return EXIT_SYSTEM;
	mapfile_totals(&run->map, &totals);
	return bytes_to_write(run, 0) == 0 && totals.bad == 0 ? EXIT_OK : EXIT_LOSSES;
}

static const char *phase_name(char status)
{
	switch (status) {
	case MAP_NON_TRIED: return "copying";
	case MAP_NON_TRIMMED: return "trimming";
	case MAP_NON_SCRAPED: return "scraping";
	case MAP_BAD: return "retrying";
	}
	return "finished";
}

static void print_summary(const struct image_run *run, int code, int result)
{
	struct map_totals totals;
	char image[sizeof run->name + 8];

	mapfile_totals(&run->map, &totals);
	if (run->options.json) {
		printf("{\"event\":\"summary\",");
		json_member_string(stdout, "source", run->source.identity.name, 0);
		json_member_string(stdout, "target", run->target.display, 1);
		snprintf(image, sizeof image, "%s.img", run->name);
		json_member_string(stdout, "image", image, 1);
		json_member_string(stdout, "map", run->map_name, 1);
		printf(",\"size\":%" PRIu64 ",\"rescued\":%" PRIu64 ",\"bad\":%" PRIu64
		    ",\"bad_areas\":%zu,\"holes\":%" PRIu64 ",\"stopped\":%s,\"exit\":%d}\n",
		    run->map.size, (uint64_t)totals.finished,
		    (uint64_t)totals.bad, totals.bad_areas, run->holes,
		    result == IMAGING_STOPPED ? "true" : "false", code);
		return;
	}
	printf("%s: %" PRIu64 " of %" PRIu64 " bytes rescued (%.2f%%), %" PRIu64 " bytes bad in "
	    "%zu area%s; image %s/%s.img, map %s\n", run->source.identity.name,
	    (uint64_t)totals.finished, run->map.size,
	    run->map.size ? 100.0 * (double)totals.finished / (double)run->map.size : 100.0,
	    (uint64_t)totals.bad, totals.bad_areas, totals.bad_areas == 1 ? "" : "s",
	    run->target.display, run->name, run->map_name);
	if (run->holes)
		printf("%" PRIu64 " bytes of zeros were not sent: they are holes in the image, "
		    "which read as zeros (--no-sparse sends them)\n", run->holes);
	if (result == IMAGING_STOPPED)
		printf("stopped by a signal; the map is saved: the same command resumes\n");
}

static int finish(struct image_run *run, int result)
{
	struct map_totals totals;
	int code = verdict(run, result);

	progress_finish(&run->progress, &run->map, phase_name(run->map.current_status));
	print_summary(run, code, result);
	mapfile_totals(&run->map, &totals);
	if (result == IMAGING_SINK_FAILED && run->map_saved)
		err_warnx("unable to finish imaging %s: %s; the map is saved with everything "
		    "rescued so far (the same command resumes)", run->source.identity.name,
		    run->failure[0] ? run->failure : "the target failed");
	else if (result == IMAGING_SINK_FAILED)
		err_warnx("unable to finish imaging %s: %s; the map could not be saved either "
		    "(%s): the one on the target is from the last save, older but true (the same "
		    "command resumes from it)", run->source.identity.name,
		    run->failure[0] ? run->failure : "the target failed", run->map_failure);
	else if (result == IMAGING_NO_MEMORY)
		err_warnx("unable to image %s: out of memory", run->source.identity.name);
	journal_summary("%s to %s/%s.img: %" PRIu64 " bytes rescued, %" PRIu64 " bad in %zu "
	    "areas%s", run->source.identity.name, run->target.display, run->name,
	    (uint64_t)totals.finished, (uint64_t)totals.bad, totals.bad_areas,
	    result == IMAGING_STOPPED ? " (stopped by a signal, map saved)"
	    : result != IMAGING_DONE ? " (stopped: the target failed)" : "");
	return code;
}

static int image_main(int argc, char **argv)
{
	struct image_run *run = calloc(1, sizeof *run);
	int code, result;

	if (run == NULL)
		return err_fatal(EXIT_SYSTEM, "unable to start imaging");
	run->source.fd = run->source.direct_fd = -1;
	stop_requested = 0;
	code = parse_options(argc, argv, &run->options);
	if (code >= 0)
		goto out;
	if ((code = open_source(run)) != 0 || (code = apply_sizes(run)) != 0
	    || (code = choose_target(run)) != 0 || (code = mark_busy(run)) != 0
	    || (code = open_store(run)) != 0 || (code = load_map(run)) != 0
	    || (code = open_image(run)) != 0 || (code = check_space(run)) != 0)
		goto out;
	result = run_engine(run);
	code = finish(run, result);
out:
	/* In reverse order of setting up: the busy mark, made before the store was opened,
	 * goes after it is closed, so no other command sees the source free while this run
	 * still holds its target. */
	mapfile_free(&run->map);
	store_close(run->store);
	unmark_busy(run);
	source_close(&run->source);
	free(run);
	return code;
}
