/* verify: compare a rescued image with its source, range by range
 *
 * usage: rescue verify [--name NAME] [--json] [SRC] TARGET
 *
 * Reads NAME.map in TARGET (the map `rescue image` or GNU ddrescue wrote beside NAME.img)
 * and, for every range it says was rescued, reads the source and the image again and
 * compares them in 1 MiB chunks (a chunk that differs is walked byte by byte).
 * Prints exactly which byte ranges of the image differ from the source, and which ranges
 * the source cannot be read in any more, then the totals. The source is only read, and
 * so is the target (a missing NAME.img is reported, and left behind as an empty file:
 * the target is opened the way rescue image opens it).
 *
 * SRC is the disk or partition that was imaged (sda, /dev/sda2). Without SRC the source
 * is the one the map names in its "# rescue source:" line, found by name or, when the
 * kernel named it differently this time, by model, serial and size; a map without that
 * line (GNU ddrescue's) needs SRC. NAME is SRC's kernel name unless --name says; with
 * neither, TARGET is searched for the map of any disk or partition this machine has.
 * A map whose size or identity names another disk than SRC is refused.
 *
 *   --name NAME   the files are NAME.img and NAME.map (as given to rescue image --name)
 *   --json        print the result as one JSON object: {"source", "target", "name",
 *                 "rescued_bytes", "rescued_ranges", "compared_bytes", "image_size",
 *                 "differing_bytes", "differing": [{"position", "size"}],
 *                 "unreadable_bytes", "unreadable": [...], "match"}
 *
 * Progress goes to stderr every few seconds. Ranges are printed as ddrescue does, hex
 * position and size, with the first and last byte in decimal.
 *
 * Exit codes: 0 every rescued byte matches the source, 1 some differ or the source can
 * no longer be read there (the ranges are listed), 2 usage error, 3 the source, the target
 * or the map could not be used (missing, unreadable, another disk's).
 */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/err.h"
#include "base/journal.h"
#include "base/json.h"
#include "cli/command.h"
#include "cli/opt.h"
#include "disk/block.h"
#include "salvage/mapfile.h"
#include "salvage/source.h"
#include "salvage/verify.h"
#include "target/store.h"
#include "target/target.h"
#include "usage/verify.h"

static int verify_main(int argc, char **argv);

const struct command command_verify = {
	.name = "verify",
	.summary = COMMAND_SUMMARY,
	.usage = COMMAND_USAGE,
	.menu_label = "verify an image against its disk",
	.menu_rank = 47,
	.menu_prompt = "target URL, or disk and target URL",
	.run = verify_main,
};

struct verify_options {
	const char *name;
	int json;
	const char *source;		/* NULL: the one the map names */
	const char *url;
};

/* What one verification holds, released in reverse by release_run(). */
struct verify_state {
	struct target target;
	struct store *store;
	char name[256];
	char identity[MAPFILE_LINE_MAX + 1];	/* the map's "# rescue source:" line, or "" */
	struct mapfile map;
	int map_parsed;
	char map_why[160];		/* why the map could not be read, or "" */
	struct source source;
	int source_open;
	uint64_t image_size;
	struct verify_result result;
	struct timespec started, shown;
};

static int parse_options(int argc, char **argv, struct verify_options *options)
{
	static const struct option long_options[] = {
		{ "name", required_argument, NULL, 'n' },
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 },
	};
	struct opt_parser opts = opt_parser(&command_verify, argc, argv, "", long_options);
	int option;

	while ((option = opt_next(&opts)) != OPT_DONE)
		switch (option) {
		case 'n': options->name = optarg; break;
		case 'j': options->json = 1; break;
		case OPT_STOP: return opts.exit_code;
		}
	if (opt_operands(&opts, 1, 2) != 0)
		return opts.exit_code;
	options->source = opts.operand_count == 2 ? opts.operands[0] : NULL;
	options->url = opts.operands[opts.operand_count - 1];
	if (options->name && (!options->name[0] || strchr(options->name, '/')))
		return err_usage(command_verify.usage, "not a usable image name: %s",
		    options->name);
	return -1;
}

static int parse_target(const char *url, struct target *target)
{
	char why[256], shown[1024];

	if (target_parse(url, target, why, sizeof why) == 0)
		return EXIT_OK;
	journal_redact(url, shown, sizeof shown);
	return err_usage(command_verify.usage, "not a target URL: %s: %s", shown, why);
}

static int open_source(const char *operand, struct verify_state *state)
{
	char why[512];

	if (source_open(operand, 0, &state->source, why, sizeof why) != 0)
		return err_fatalx(EXIT_SYSTEM, "unable to open the source %s", why);
	state->source_open = 1;
	return EXIT_OK;
}

static int open_store(struct verify_state *state, const char *name)
{
	char why[1200];
	int transient;

	state->store = store_open(&state->target, name, why, sizeof why, &transient);
	if (state->store == NULL)
		return err_fatalx(EXIT_SYSTEM, "unable to use the target %s", why);
	return EXIT_OK;
}

/* A map read from the target, parsed as it comes (a million bad areas are some 40 MB of
 * text, never held): the extents, the identity line, why it could not be parsed. */
struct map_read {
	struct mapfile map;
	char identity[MAPFILE_LINE_MAX + 1];
	char why[160];
};

static int feed_map(void *context, const char *data, size_t size)
{
	return mapfile_reader_feed(context, data, size);
}

/* NAME.map into READ: 0 (READ->why says whether it parsed), 1 when the target has none,
 * -1 after a message. READ->map is to be freed on 0. */
static int fetch_map(struct verify_state *state, const char *name, struct map_read *read)
{
	struct mapfile_reader *reader = malloc(sizeof *reader);
	char file[300];
	int found;

	snprintf(file, sizeof file, "%s.map", name);
	if (reader == NULL)
		return err_fatalx(EXIT_SYSTEM, "unable to read %s: out of memory", file), -1;
	mapfile_reader_start(reader, &read->map, SOURCE_IDENTITY_PREFIX);
	found = store_get_pieces(state->store, file, feed_map, reader);
	if (found == 0 && mapfile_reader_finish(reader) != 0)
		found = 2;
	snprintf(read->why, sizeof read->why, "%s", found == 2 ? reader->why : "");
	snprintf(read->identity, sizeof read->identity, "%s", reader->kept);
	free(reader);
	if (found < 0)
		err_fatalx(EXIT_SYSTEM, "unable to read %s: %s", file, store_error(state->store));
	if (found == 0 || found == 2)
		return 0;
	mapfile_free(&read->map);
	return found;
}

/* READ becomes the map being verified. */
static void take_map(struct verify_state *state, struct map_read *read)
{
	state->map = read->map;
	state->map_parsed = 1;
	snprintf(state->identity, sizeof state->identity, "%s", read->identity);
	snprintf(state->map_why, sizeof state->map_why, "%s", read->why);
}

/* Every block device this machine has, disks and partitions: the names a map may have. */
static int device_names(char ***names)
{
	char path[PATH_MAX];
	struct dirent **entries;
	int count, i;

	snprintf(path, sizeof path, "%s/class/block", block_sysfs_root());
	count = scandir(path, &entries, NULL, alphasort);
	if (count < 0)
		return -1;
	*names = calloc((size_t)count + 1, sizeof **names);
	for (i = 0; i < count; i++) {
		if (*names && entries[i]->d_name[0] != '.')
			(*names)[i] = strdup(entries[i]->d_name);
		free(entries[i]);
	}
	free(entries);
	return *names ? count : -1;
}

static void free_names(char **names, int count)
{
	int i;

	for (i = 0; i < count; i++)
		free(names[i]);
	free(names);
}

/* Notes one map found while searching: the first is kept, later ones only named. */
static void note_found(struct verify_state *state, const char *name, struct map_read *read,
    int *matches, char *found, size_t found_size)
{
	size_t used = strlen(found);

	if ((*matches)++ == 0) {
		take_map(state, read);
		snprintf(state->name, sizeof state->name, "%s", name);
	} else {
		mapfile_free(&read->map);
	}
	snprintf(found + used, found_size - used, "%s%s.map", used ? ", " : "", name);
}

/* Neither SRC nor --name: the one map in TARGET named after a device of this machine. The
 * store is opened under the first device's name and takes the found one before its image
 * is opened (store.h: the name is only used from image_open on). */
static int search_map(struct verify_state *state)
{
	char **names, found[1024] = "";
	struct map_read *read = malloc(sizeof *read);
	int count, i, got, matches = 0, code = EXIT_SYSTEM;

	if (read == NULL)
		return err_fatalx(EXIT_SYSTEM, "unable to search for a map: out of memory");

	count = device_names(&names);
	if (count < 0) {
		free(read);
		return err_fatal(EXIT_SYSTEM, "unable to list the block devices in %s/class/block",
		    block_sysfs_root());
	}
	for (i = 0; i < count; i++) {
		if (names[i] == NULL)
			continue;
		if (state->store == NULL && open_store(state, names[i]) != EXIT_OK)
			goto out;
		got = fetch_map(state, names[i], read);
		if (got < 0)
			goto out;
		if (got == 0)
			note_found(state, names[i], read, &matches, found, sizeof found);
	}
	if (matches == 1) {
		store_set_name(state->store, state->name);
		code = EXIT_OK;
	} else if (matches == 0) {
		err_fatalx(EXIT_SYSTEM, "unable to find a map in %s: no NAME.map there for any "
		    "device of this machine (give SRC, or --name NAME)", state->target.display);
	} else {
		code = err_usage(command_verify.usage, "%s holds maps of several devices (%s): "
		    "give SRC or --name", state->target.display, found);
	}
out:
	free(read);
	free_names(names, count);
	return code;
}

static int load_map(struct verify_state *state, const struct verify_options *options)
{
	struct map_read *read;
	int got, code;

	if (options->name || options->source) {
		snprintf(state->name, sizeof state->name, "%s", options->name ? options->name
		    : state->source.identity.name);
		if (open_store(state, state->name) != EXIT_OK)
			return EXIT_SYSTEM;
		if (!(read = malloc(sizeof *read)))
			return err_fatalx(EXIT_SYSTEM, "unable to verify: out of memory");
		got = fetch_map(state, state->name, read);
		if (got == 0)
			take_map(state, read);
		free(read);
		if (got < 0)
			return EXIT_SYSTEM;
		if (got > 0)
			return err_fatalx(EXIT_SYSTEM, "unable to verify: %s has no %s.map",
			    state->target.display, state->name);
	} else if ((code = search_map(state)) != EXIT_OK) {
		return code;
	}
	if (state->map_why[0])
		return err_fatalx(EXIT_SYSTEM, "unable to read %s.map in %s: %s", state->name,
		    state->target.display, state->map_why);
	return EXIT_OK;
}

/* The device the map's identity line names: by its name first; when the kernel named the
 * disks differently this boot, the device whose model, serial and size match. */
static int find_source(struct verify_state *state)
{
	struct source_identity recorded;
	char why[512], **names;
	int count, i;

	if (source_identity_parse(state->identity, &recorded) != 1)
		return err_usage(command_verify.usage, "%s.map in %s does not name its source "
		    "(no \"# rescue source:\" line, as in a map of GNU ddrescue): give SRC",
		    state->name, state->target.display);
	if (source_open(recorded.name, 0, &state->source, why, sizeof why) == 0
	    && source_check_map(&state->source.identity, state->identity, state->map.size,
	    why, sizeof why) == 0)
		return state->source_open = 1, EXIT_OK;
	source_close(&state->source);
	count = device_names(&names);
	for (i = 0; i < count; i++) {
		if (names[i] == NULL || source_open(names[i], 0, &state->source, why,
		    sizeof why) != 0)
			continue;
		if (source_check_map(&state->source.identity, state->identity, state->map.size,
		    why, sizeof why) == 0) {
			free_names(names, count);
			return state->source_open = 1, EXIT_OK;
		}
		source_close(&state->source);
	}
	if (count >= 0)
		free_names(names, count);
	return err_fatalx(EXIT_SYSTEM, "unable to find the source of %s.map: no device of "
	    "this machine is %s (%" PRIu64 " bytes%s%s%s%s); give SRC", state->name,
	    recorded.name, recorded.size, recorded.model[0] ? ", model " : "", recorded.model,
	    recorded.serial[0] ? ", serial " : "", recorded.serial);
}

static int check_map(struct verify_state *state)
{
	char why[1024];

	if (source_check_map(&state->source.identity, state->identity, state->map.size, why,
	    sizeof why) == 0)
		return EXIT_OK;
	return err_fatalx(EXIT_SYSTEM, "refusing to verify %s.map in %s against %s: %s",
	    state->name, state->target.display, state->source.path, why);
}

/* An image that is not there at all is a target problem (another directory, a deleted
 * file), not a difference: it is said so, instead of every rescued byte listed as differing. */
static int open_image(struct verify_state *state)
{
	struct map_totals totals;

	if (store_image_open(state->store, &state->image_size) != 0)
		return err_fatalx(EXIT_SYSTEM, "unable to open %s.img: %s", state->name,
		    store_error(state->store));
	mapfile_totals(&state->map, &totals);
	if (state->image_size == 0 && totals.finished > 0)
		return err_fatalx(EXIT_SYSTEM, "unable to verify %s.img in %s: it is missing or "
		    "empty, but %s.map says %" PRIu64 " bytes were rescued", state->name,
		    state->target.display, state->name, (uint64_t)totals.finished);
	return EXIT_OK;
}

static void show_progress(void *context, uint64_t done, uint64_t total)
{
	struct verify_state *state = context;
	double elapsed = seconds_since(&state->started);

	if (seconds_since(&state->shown) < 5 || done == total)
		return;
	clock_gettime(CLOCK_MONOTONIC, &state->shown);
	fprintf(stderr, "rescue verify: compared %" PRIu64 " of %" PRIu64 " bytes (%.1f%%), "
	    "%.1f MiB/s\n", done, total, 100.0 * (double)done / (double)total,
	    elapsed > 0 ? (double)done / elapsed / 1048576.0 : 0.0);
}

static int compare(struct verify_state *state)
{
	struct verify_job job = {
		.read_source = source_read, .source = &state->source,
		.sector_size = state->source.identity.sector_size, .store = state->store,
		.map = &state->map, .progress = show_progress, .progress_context = state,
	};

	clock_gettime(CLOCK_MONOTONIC, &state->started);
	state->shown = state->started;
	if (verify_run(&job, &state->result) == 0)
		return EXIT_OK;
	if (state->result.store_failed)
		return err_fatalx(EXIT_SYSTEM, "unable to read %s.img: %s", state->name,
		    store_error(state->store));
	return err_fatal(EXIT_SYSTEM, "unable to verify %s.img", state->name);
}

/* ------------------------------------------------------------------ output */

static void print_ranges(const char *label, const struct verify_ranges *ranges)
{
	size_t i;

	for (i = 0; i < ranges->count; i++) {
		const struct verify_range *range = &ranges->items[i];

		printf("%-11s 0x%08" PRIX64 "  0x%08" PRIX64 "  bytes %" PRIu64 " to %" PRIu64 "\n",
		    label, range->position, range->size, range->position,
		    range->position + range->size - 1);
	}
}

static const char *plural(size_t count, const char *one, const char *many)
{
	return count == 1 ? one : many;
}

static void print_text(const struct verify_state *state)
{
	const struct verify_result *result = &state->result;

	printf("%s.img in %s against %s: %" PRIu64 " rescued bytes in %zu %s\n", state->name,
	    state->target.display, state->source.path, result->rescued, result->rescued_ranges,
	    plural(result->rescued_ranges, "range", "ranges"));
	print_ranges("differs", &result->differing);
	print_ranges("unreadable", &result->unreadable);
	if (state->image_size < state->map.size && result->differing.bytes)
		printf("note: %s.img holds %" PRIu64 " bytes; the map covers %" PRIu64 "\n",
		    state->name, state->image_size, state->map.size);
	if (!result->differing.count && !result->unreadable.count) {
		printf("all %" PRIu64 " rescued bytes match the source\n", result->rescued);
		return;
	}
	printf("%" PRIu64 " bytes in %zu %s differ from the source; %" PRIu64 " bytes in %zu "
	    "%s can no longer be read from the source; %" PRIu64 " bytes compared\n",
	    result->differing.bytes, result->differing.count,
	    plural(result->differing.count, "range", "ranges"), result->unreadable.bytes,
	    result->unreadable.count, plural(result->unreadable.count, "range", "ranges"),
	    result->compared);
}

static void json_ranges(const char *name, const struct verify_ranges *ranges)
{
	size_t i;

	printf(",\"%s_bytes\":%" PRIu64 ",\"%s\":[", name, ranges->bytes, name);
	for (i = 0; i < ranges->count; i++)
		printf("%s{\"position\":%" PRIu64 ",\"size\":%" PRIu64 "}", i ? "," : "",
		    ranges->items[i].position, ranges->items[i].size);
	printf("]");
}

static void print_json(const struct verify_state *state)
{
	const struct verify_result *result = &state->result;

	printf("{");
	json_member_string(stdout, "source", state->source.identity.name, 0);
	json_member_string(stdout, "target", state->target.display, 1);
	json_member_string(stdout, "name", state->name, 1);
	printf(",\"rescued_bytes\":%" PRIu64 ",\"rescued_ranges\":%zu,\"compared_bytes\":%"
	    PRIu64 ",\"image_size\":%" PRIu64, result->rescued, result->rescued_ranges,
	    result->compared, state->image_size);
	json_ranges("differing", &result->differing);
	json_ranges("unreadable", &result->unreadable);
	printf(",\"match\":%s}\n", result->differing.count || result->unreadable.count
	    ? "false" : "true");
}

static int conclude(const struct verify_state *state, const struct verify_options *options)
{
	const struct verify_result *result = &state->result;

	if (options->json)
		print_json(state);
	else
		print_text(state);
	journal_summary("%s.img in %s against %s: %" PRIu64 " rescued bytes, %" PRIu64
	    " differ in %zu ranges, %" PRIu64 " unreadable on the source", state->name,
	    state->target.display, state->source.identity.name, result->rescued,
	    result->differing.bytes, result->differing.count, result->unreadable.bytes);
	return result->differing.count || result->unreadable.count ? EXIT_LOSSES : EXIT_OK;
}

static void release_run(struct verify_state *state)
{
	verify_result_free(&state->result);
	if (state->source_open)
		source_close(&state->source);
	if (state->map_parsed)
		mapfile_free(&state->map);
	store_close(state->store);
}

static int verify_main(int argc, char **argv)
{
	struct verify_options options = { 0 };
	struct verify_state state;
	int code;

	memset(&state, 0, sizeof state);
	code = parse_options(argc, argv, &options);
	if (code >= 0)
		return code;
	code = parse_target(options.url, &state.target);
	if (code == EXIT_OK && options.source)
		code = open_source(options.source, &state);
	if (code == EXIT_OK)
		code = load_map(&state, &options);
	if (code == EXIT_OK)
		code = options.source ? check_map(&state) : find_source(&state);
	if (code == EXIT_OK)
		code = open_image(&state);
	if (code == EXIT_OK)
		code = compare(&state);
	if (code == EXIT_OK)
		code = conclude(&state, &options);
	release_run(&state);
	return code;
}
