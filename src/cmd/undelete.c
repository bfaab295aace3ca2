/* undelete: deleted files of an ext3/ext4 file system, back from its journal
 *
 * usage: rescue undelete [options] DEV [TARGET]
 *
 * Without TARGET, lists the deleted files that the journal of DEV still knows: path, size,
 * modification and deletion times, and how much of each can be brought back: whole,
 * partial N% (some of its blocks belong to another file now), or name only. With TARGET,
 * recovers them into pax archives on TARGET as `rescue dump` writes them, with the same
 * NAME.manifest.json and NAME.sha256 (`sha256sum -c` lines of every file recovered whole),
 * and NAME.undelete.json, which says for each file where its inode and block map came from
 * (journal transaction N, committed at T) and where its name did.
 *
 * ext4 zeroes a deleted file's block map and wipes its directory entry; the journal keeps
 * older copies of both. Nothing is written to DEV and nothing is replayed: the journal is
 * read as it is, including transactions already written to their places.
 *
 *   --after TIME     only files deleted at TIME or later
 *   --before TIME    only files deleted at TIME or earlier
 *                    (TIME: 2026-12-05, "2026-12-05 22:10[:30]" in UTC, or @SECONDS)
 *   --path GLOB      only paths matching GLOB (repeatable; as dump's --include: a
 *                    directory takes everything below it)
 *   --name NAME      the files on TARGET are NAME.NNN.tar.zst, NAME.manifest.json,
 *                    NAME.sha256, NAME.undelete.json (default: DEV's name + "-undeleted")
 *   --give-up SECONDS  stop when TARGET stays unreachable this long (default: never)
 *   --json           the list as JSON lines; with TARGET, progress and summary as dump's
 *
 * Beyond the journal: a deleted file whose inode no journal copy holds any more has lost
 * its name and block map, but its blocks are free and still hold its bytes. So the blocks
 * that are free now and that no file above claims are carved as `rescue carve --free`
 * carves (every built-in type, candidates at block starts): with TARGET each file found
 * joins the same archives, manifest and sha256 lines as unnamed/carved-<offset>.<ext>
 * (<offset>: its first byte on DEV; NAME.undelete.json says its type and how its end was
 * found); without TARGET the list ends with how many there are. Carving reads all the
 * free space (carve's window in memory, no file data kept); --path, --after and --before
 * select by name and deletion time, which carved files do not have, so they carve
 * nothing.
 *
 *   --no-carve       only what the journal knows: the free blocks are not carved
 *
 * A journal on a device of its own (mke2fs -O journal_dev; mkfs.ext4 -J device=...) is
 * found by its UUID among the disks and partitions the kernel knows, or named:
 *
 *   --journal DEV    the external journal device (or an image file of it); read-only,
 *                    refused when its UUID is not the one the file system names,
 *                    or when the journal is inside the file system
 *
 * A file whose name did not survive is listed under unnamed/inode-N; one whose directory
 * did not, under unnamed/inode-N/NAME. Files deleted by a file system's earlier life on
 * the same inode number are found too (their deletion time is then unknown: 0).
 *
 * Exit codes: 0 every file listed or recovered is whole, 1 some are partial or name only
 * (or none was found), 2 usage error (also: DEV is not ext2/3/4, the selection matches
 * nothing), 3 DEV has no journal or it cannot be read, the target failed.
 */
#define _XOPEN_SOURCE 700	/* strptime */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/err.h"
#include "base/journal.h"
#include "base/json.h"
#include "cli/command.h"
#include "cli/opt.h"
#include "cli/stop.h"
#include "disk/block.h"
#include "disk/device.h"
#include "disk/inventory.h"
#include "salvage/dump.h"
#include "salvage/manifest.h"
#include "salvage/undelete.h"
#include "target/store.h"
#include "target/target.h"
#include "usage/undelete.h"

static int undelete_main(int argc, char **argv);

const struct command command_undelete = {
	.name = "undelete",
	.summary = COMMAND_SUMMARY,
	.usage = COMMAND_USAGE,
	.menu_label = "undelete files (ext3/ext4)",
	.menu_rank = 48,
	.menu_prompt = "device [target] (e.g. sda2, or sda2 ssh://user@host/dir)",
	.run = undelete_main,
};

enum { PATHS_MAX = 64, CANDIDATES_MAX = 256 };

struct undelete_command {
	struct undelete_options engine;
	const char *paths[PATHS_MAX + 1];
	const char *after_text, *before_text;
	int json, no_carve;
	long give_up;
	const char *source_operand, *target_url, *name_option, *journal_operand;
	char source[PATH_MAX], name[256], journal[PATH_MAX];
	char candidate_paths[CANDIDATES_MAX][48];	/* where an external journal may be */
	const char *candidates[CANDIDATES_MAX + 1];
	struct undelete undelete;
	struct target target;
	struct store *store;
	struct manifest manifest;
	char *json_text, *sums_text;	/* the manifest's two files, written whole at the end */
	size_t json_size, sums_size;
	char volume_file[300], manifest_name[300], sums_name[300], origins_name[300];
	char failure[1400];
	struct timespec started, shown;
	int tty, line_open;
};

/* ------------------------------------------------------------------ options */

/* "2026-12-05", "2026-12-05 22:10", "2026-12-05T22:10:30" (UTC) or "@SECONDS". */
static int parse_time(const char *text, int64_t *seconds)
{
	struct tm tm = { 0 };
	char *end;
	long long value;

	if (text[0] == '@') {
		errno = 0;
		value = strtoll(text + 1, &end, 10);
		if (errno || end == text + 1 || *end)
			return -1;
		*seconds = value;
		return 0;
	}
	end = strptime(text, "%Y-%m-%d", &tm);
	if (end && (*end == ' ' || *end == 'T')) {
		char *rest = strptime(end + 1, "%H:%M", &tm);

		if (rest && *rest == ':')
			rest = strptime(rest + 1, "%S", &tm);
		end = rest;
	}
	if (!end || *end)
		return -1;
	*seconds = (int64_t)timegm(&tm);
	return 0;
}

static int parse_option(int option, struct undelete_command *run)
{
	int count = 0, code;

	switch (option) {
	case 'a':
		run->after_text = optarg;
		if (parse_time(optarg, &run->engine.after) != 0)
			return err_usage(command_undelete.usage, "--after %s: not a time "
			    "(2026-12-05, \"2026-12-05 22:10:30\" UTC, or @SECONDS)", optarg);
		break;
	case 'b':
		run->before_text = optarg;
		if (parse_time(optarg, &run->engine.before) != 0)
			return err_usage(command_undelete.usage, "--before %s: not a time "
			    "(2026-12-05, \"2026-12-05 22:10:30\" UTC, or @SECONDS)", optarg);
		break;
	case 'p':
		while (run->paths[count])
			count++;
		if (count == PATHS_MAX)
			return err_usage(command_undelete.usage, "--path %s: at most %d", optarg,
			    PATHS_MAX);
		run->paths[count] = optarg;
		break;
	case 'n': run->name_option = optarg; break;
	case 'J': run->journal_operand = optarg; break;
	case 'j': run->json = 1; break;
	case 'C': run->no_carve = 1; break;
	case 'g':
		code = opt_seconds(&command_undelete, "--give-up", optarg, &run->give_up);
		return code ? code : -1;
	}
	return -1;
}

static int parse_options(int argc, char **argv, struct undelete_command *run)
{
	static const struct option long_options[] = {
		{ "after", required_argument, NULL, 'a' },
		{ "before", required_argument, NULL, 'b' },
		{ "path", required_argument, NULL, 'p' },
		{ "name", required_argument, NULL, 'n' },
		{ "json", no_argument, NULL, 'j' },
		{ "give-up", required_argument, NULL, 'g' },
		{ "no-carve", no_argument, NULL, 'C' },
		{ "journal", required_argument, NULL, 'J' },
		{ NULL, 0, NULL, 0 },
	};
	struct opt_parser opts = opt_parser(&command_undelete, argc, argv, "a:b:p:n:jg:",
	    long_options);
	int option, code;

	run->give_up = -1;
	while ((option = opt_next(&opts)) != OPT_DONE) {
		if (option == OPT_STOP)
			return opts.exit_code;
		if ((code = parse_option(option, run)) >= 0)
			return code;
	}
	if (opt_operands(&opts, 1, 2) != 0)
		return opts.exit_code;
	run->source_operand = opts.operands[0];
	run->target_url = opts.operand_count > 1 ? opts.operands[1] : NULL;
	if (run->engine.after && run->engine.before && run->engine.after > run->engine.before)
		return err_usage(command_undelete.usage, "--after %s is later than --before %s",
		    run->after_text, run->before_text);
	if (run->name_option
	    && (code = opt_file_name(&command_undelete, "--name", run->name_option)) != 0)
		return code;
	run->engine.paths = run->paths;
	return -1;
}

/* ------------------------------------------------------------------ the scan */

/* A device ("sda2", "/dev/sda2") or an image file (a copy made with `rescue image`). */
static int resolve_source(struct undelete_command *run)
{
	const char *operand = run->source_operand, *base;
	struct device device;
	struct stat st;

	if (stat(operand, &st) == 0 && S_ISREG(st.st_mode)) {
		snprintf(run->source, sizeof run->source, "%s", operand);
		base = strrchr(operand, '/') ? strrchr(operand, '/') + 1 : operand;
		snprintf(run->name, sizeof run->name, "%.200s-undeleted", base);
		return 0;
	}
	if (device_resolve(operand, &device) != 0)
		return err_fatalx(EXIT_USAGE, "unable to undelete from %s: %s", operand,
		    device_resolve_error(errno));
	snprintf(run->source, sizeof run->source, "%s", device.path);
	snprintf(run->name, sizeof run->name, "%.200s-undeleted", device.name);
	return 0;
}

/* --journal DEV: a device, or an image file of one. */
static int resolve_journal(struct undelete_command *run)
{
	const char *operand = run->journal_operand;
	struct device device;
	struct stat st;

	if (!operand)
		return 0;
	if (stat(operand, &st) == 0 && S_ISREG(st.st_mode)) {
		snprintf(run->journal, sizeof run->journal, "%s", operand);
	} else if (device_resolve(operand, &device) != 0) {
		return err_fatalx(EXIT_USAGE, "unable to read the journal device %s: %s", operand,
		    device_resolve_error(errno));
	} else {
		snprintf(run->journal, sizeof run->journal, "%s", device.path);
	}
	run->engine.journal_device = run->journal;
	return 0;
}

static void add_candidate(struct undelete_command *run, size_t *count, const char *name)
{
	if (*count == CANDIDATES_MAX)
		return;
	snprintf(run->candidate_paths[*count], sizeof run->candidate_paths[*count], "/dev/%.40s",
	    name);
	run->candidates[*count] = run->candidate_paths[*count];
	(*count)++;
}

/* Without --journal, an external journal is looked for by its UUID on every disk and
 * partition the kernel knows (each read at two places, read-only). */
static void find_candidates(struct undelete_command *run)
{
	const char *root = block_sysfs_root();
	char **names, partitions[4096], *name, *save;
	size_t count = 0;
	int total, i;

	if ((total = block_names(root, &names)) < 0)
		return;
	for (i = 0; i < total; i++) {
		add_candidate(run, &count, names[i]);
		device_partitions(root, names[i], partitions, sizeof partitions);
		for (name = strtok_r(partitions, " ", &save); name;
		    name = strtok_r(NULL, " ", &save))
			add_candidate(run, &count, name);
	}
	block_names_free(names, total);
	run->candidates[count] = NULL;
	run->engine.journal_candidates = run->candidates;
}

static void window_text(const struct undelete_command *run, char *text, size_t size)
{
	snprintf(text, size, "%s%s%s%s%s", run->after_text ? "--after " : "",
	    run->after_text ? run->after_text : "", run->after_text && run->before_text ? " "
	    : "", run->before_text ? "--before " : "", run->before_text ? run->before_text : "");
}

/* Nothing selected: a window or --path that matches none of what the journal holds is
 * the user's to change (2); a journal that holds nothing deleted is a loss (1). */
static int nothing_found(struct undelete_command *run)
{
	const struct undelete_counts *counts = &run->undelete.counts;
	char window[256];

	window_text(run, window, sizeof window);
	if (!counts->deleted_inodes)
		return err_fatalx(EXIT_LOSSES, "no deleted file of %s has a copy left in its "
		    "journal (%zu transactions, %zu block copies read)", run->source_operand,
		    counts->transactions, counts->copies);
	return err_fatalx(EXIT_USAGE, "%s%s%s selects none of the %zu deleted files the "
	    "journal of %s holds (%zu outside the window, %zu not matching --path)", window,
	    window[0] && run->paths[0] ? " and " : "", run->paths[0] ? "--path" : "",
	    counts->deleted_inodes, run->source_operand, counts->outside_window,
	    counts->not_matched);
}

/* The journal is read twice over (the ring, then the copies it indexes): the block number
 * says where in the ring the current pass is. */
static void scan_progress(void *context, uint64_t block, uint64_t blocks)
{
	struct undelete_command *run = context;

	if (run->json || seconds_since(&run->shown) < (run->tty ? 0.5 : 10.0))
		return;
	clock_gettime(CLOCK_MONOTONIC, &run->shown);
	fprintf(stderr, "%sreading the journal: block %" PRIu64 " of %" PRIu64 ", %.0f s%s",
	    run->tty ? "\r\033[K" : "", block, blocks, seconds_since(&run->started),
	    run->tty ? "" : "\n");
	run->line_open = run->tty;
}

static int scan(struct undelete_command *run)
{
	char why[1024];
	int code;

	run->tty = isatty(STDERR_FILENO);
	clock_gettime(CLOCK_MONOTONIC, &run->started);
	run->shown = run->started;
	run->engine.progress = scan_progress;
	run->engine.progress_context = run;

	if (!run->json)
		fprintf(stderr, "reading the journal of %s (read-only, nothing replayed)...\n",
		    run->source);
	if (undelete_scan(run->source, &run->engine, &run->undelete, why, sizeof why,
	    &code) != 0)
		return err_fatalx(code, "unable to undelete from %s", why);
	if (run->line_open)
		fputc('\n', stderr);
	run->line_open = 0;
	if (!run->json)
		fprintf(stderr, "%s: %zu block copies, %zu of inode tables, %zu of directories; "
		    "%zu deleted inodes\n", run->undelete.description, run->undelete.counts.copies,
		    run->undelete.counts.inode_copies, run->undelete.counts.directory_copies,
		    run->undelete.counts.deleted_inodes);
	return EXIT_OK;
}

static void carve_progress(void *context, uint64_t done, uint64_t total)
{
	struct undelete_command *run = context;
	char at[32], all[32];

	if (run->json || seconds_since(&run->shown) < (run->tty ? 0.5 : 10.0))
		return;
	clock_gettime(CLOCK_MONOTONIC, &run->shown);
	inventory_size_text(done, at, sizeof at);
	inventory_size_text(total, all, sizeof all);
	fprintf(stderr, "%scarving the free blocks: %s of %s, %.0f s%s", run->tty ? "\r\033[K"
	    : "", at, all, seconds_since(&run->started), run->tty ? "" : "\n");
	run->line_open = run->tty;
}

/* Beyond the journal: the free blocks no file found claims, carved (undelete_carve). A
 * selection by name or deletion time leaves carved files out: they have neither. */
static int carve_free_blocks(struct undelete_command *run)
{
	struct undelete_carve_options options = { carve_progress, run, &stop_requested };
	char why[1024];

	if (run->no_carve)
		return EXIT_OK;
	if (run->paths[0] || run->after_text || run->before_text) {
		if (!run->json)
			fprintf(stderr, "the free blocks are not carved: carved files have no name "
			    "or deletion time for --path, --after or --before to select\n");
		return EXIT_OK;
	}
	if (!run->json)
		fprintf(stderr, "carving the free blocks no file above claims (--no-carve "
		    "skips this)...\n");
	if (undelete_carve(&run->undelete, run->source, &options, why, sizeof why) != 0)
		return err_fatalx(EXIT_SYSTEM, "%s", why);
	if (run->line_open)
		fputc('\n', stderr);
	run->line_open = 0;
	if (!run->json)
		fprintf(stderr, "%zu files of known types in %" PRIu64 " free bytes\n",
		    run->undelete.counts.carved, run->undelete.counts.carved_bytes);
	return EXIT_OK;
}

static int verdict(const struct undelete *undelete)
{
	size_t i;

	for (i = 0; i < undelete->count; i++)
		if (undelete->files[i].state != UNDELETE_WHOLE)
			return EXIT_LOSSES;
	return EXIT_OK;
}

/* ------------------------------------------------------------------ the list */

static void time_text(int64_t seconds, char *text, size_t size)
{
	time_t value = (time_t)seconds;
	struct tm tm;

	if (!seconds || !gmtime_r(&value, &tm))
		snprintf(text, size, "-");
	else
		strftime(text, size, "%Y-%m-%d %H:%M:%S", &tm);
}

static const char *type_of(const struct undelete_file *file)
{
	return S_ISDIR(file->mode) ? "dir" : S_ISLNK(file->mode) ? "link" : "file";
}

static void print_origin(FILE *out, const struct undelete_file *file)
{
	if (file->carved) {
		fprintf(out, ",\"carved\":{\"offset\":%" PRIu64 ",", file->carved->offset);
		json_member_string(out, "type", file->carved->type, 0);
		json_member_string(out, "how", file->carved->how, 1);
		fputs("}", out);
		return;
	}
	fprintf(out, ",\"inode_from\":{\"transaction\":%u,\"committed\":%" PRId64 "}",
	    file->inode_transaction, file->inode_committed);
	fprintf(out, ",\"map_from\":\"%s\",\"map_transaction\":%u",
	    file->map_from_disk ? "inode and disk" : file->map_transaction ? "journal"
	    : "inode", file->map_transaction);
	fprintf(out, ",\"name_transaction\":%u", file->name_transaction);
}

static void print_json_file(FILE *out, const struct undelete_file *file)
{
	char state[32];

	undelete_state_text(file, state, sizeof state);
	fputs("{\"path\":", out);
	json_string(out, file->path);
	fprintf(out, ",\"type\":\"%s\",\"inode\":%u,\"size\":%" PRIu64 ",\"mtime\":%" PRId64
	    ",\"atime\":%" PRId64 ",\"ctime\":%" PRId64 ",\"deleted\":%" PRId64 ",\"state\":"
	    "\"%s\",\"recoverable\":%" PRIu64, type_of(file), file->inode, file->size,
	    file->mtime, file->atime, file->ctime, file->dtime, state, file->recoverable);
	print_origin(out, file);
	if (file->reason)
		json_member_string(out, "reason", file->reason, 1);
	fputs("}", out);
}

static void print_text_file(const struct undelete_file *file)
{
	char state[32], size[32], mtime[32], dtime[32];

	undelete_state_text(file, state, sizeof state);
	inventory_size_text(file->size, size, sizeof size);
	time_text(file->mtime, mtime, sizeof mtime);
	time_text(file->dtime, dtime, sizeof dtime);
	printf("%-11s %10s  %-19s  %-19s  %s%s%s%s\n", state, S_ISDIR(file->mode) ? "dir" : size,
	    mtime, dtime, file->path, S_ISDIR(file->mode) ? "/" : "", file->reason ? "  -- "
	    : "", undelete_reason(file));
}

static int list(struct undelete_command *run)
{
	size_t i;

	if (!run->json)
		printf("%-11s %10s  %-19s  %-19s  %s\n", "STATE", "SIZE", "MODIFIED (UTC)",
		    "DELETED (UTC)", "PATH");
	for (i = 0; i < run->undelete.count; i++) {
		if (run->undelete.files[i].carved)
			continue;	/* counted below */
		if (run->json) {
			print_json_file(stdout, &run->undelete.files[i]);
			putchar('\n');
		} else
			print_text_file(&run->undelete.files[i]);
	}
	if (run->json && run->undelete.counts.carved)
		printf("{\"event\":\"carved\",\"files\":%zu}\n", run->undelete.counts.carved);
	else if (run->undelete.counts.carved)
		printf("%zu more files of known types in the free blocks; recover with TARGET\n",
		    run->undelete.counts.carved);
	fflush(stdout);
	return verdict(&run->undelete);
}

/* ------------------------------------------------------------------ the sink */

static int recover(struct undelete_command *run)
{
	return store_recover(run->store, (int)run->give_up, &stop_requested, run->failure,
	    sizeof run->failure);
}

/* As dump's: FILE.part, renamed once whole; a file of the final name is never replaced. */
static int sink_begin_volume(void *context, const char *file, uint64_t *size)
{
	struct undelete_command *run = context;
	char part[sizeof run->volume_file + 8];
	int found;

	snprintf(run->volume_file, sizeof run->volume_file, "%s", file);
	snprintf(part, sizeof part, "%s.part", file);
	for (;;) {
		found = store_size_of(run->store, file, size);
		if (found == 0) {
			*size = *size ? *size : 1;
			return 0;
		}
		if (found == 1 && store_image_open_named(run->store, part, size) == 0)
			return 0;
		if (recover(run) != 0)
			return -1;
	}
}

static int sink_write(void *context, const void *data, size_t size, uint64_t position)
{
	struct undelete_command *run = context;

	while (store_pwrite(run->store, data, size, position) != 0)
		if (recover(run) != 0)
			return -1;
	return 0;
}

static int sink_end_volume(void *context, uint64_t size)
{
	struct undelete_command *run = context;
	char part[sizeof run->volume_file + 8];

	run->store->expected_size = size;
	while (store_flush(run->store) != 0)
		if (recover(run) != 0)
			return -1;
	store_image_done(run->store);
	snprintf(part, sizeof part, "%s.part", run->volume_file);
	while (store_rename(run->store, part, run->volume_file) != 0)
		if (recover(run) != 0)
			return -1;
	return 0;
}

static int replace(struct undelete_command *run, const char *name, const char *text,
    size_t size)
{
	while (store_replace(run->store, name, text, size) != 0)
		if (recover(run) != 0)
			return -1;
	return 0;
}

/* MORE at the end of *TEXT (malloc'd, grown). 0, or -1 without memory. */
static int text_append(char **text, size_t *size, const char *more, size_t length)
{
	char *grown = realloc(*text, *size + length + 1);

	if (!grown)
		return -1;
	memcpy(grown + *size, more, length);
	*size += length;
	grown[*size] = '\0';
	*text = grown;
	return 0;
}

/* The manifest's text is kept here until the run ends, and the two files are written
 * whole then: undelete is never resumed, and what it recovers is bounded by what the
 * journal holds, whose index is in memory already. */
static int sink_append(void *context, struct manifest *manifest)
{
	struct undelete_command *run = context;
	const char *json, *sums;
	size_t json_size, sums_size;

	if (manifest_take_pending(manifest, &json, &json_size, &sums, &sums_size) != 0
	    || text_append(&run->json_text, &run->json_size, json, json_size) != 0
	    || text_append(&run->sums_text, &run->sums_size, sums, sums_size) != 0) {
		snprintf(run->failure, sizeof run->failure, "out of memory for the manifest");
		return -1;
	}
	manifest_clear_pending(manifest);
	return 0;
}

static int sink_finish(void *context, struct manifest *manifest)
{
	struct undelete_command *run = context;

	if (sink_append(context, manifest) != 0)
		return -1;
	if (replace(run, run->sums_name, run->sums_text ? run->sums_text : "", run->sums_size)
	    != 0)
		return -1;
	return replace(run, run->manifest_name, run->json_text ? run->json_text : "",
	    run->json_size);
}

/* A recovery starts afresh: there is no earlier manifest to carry over. */
static int sink_read_earlier(void *context, int (*line)(void *arg, const char *text,
    size_t length), void *arg)
{
	(void)context;
	(void)line;
	(void)arg;
	return 0;
}

static void sink_progress(void *context, const struct dump_progress *progress)
{
	struct undelete_command *run = context;
	char done[32], total[32];
	double elapsed = seconds_since(&run->started);

	if (!progress->force && seconds_since(&run->shown) < (run->tty ? 0.5 : 10.0))
		return;
	clock_gettime(CLOCK_MONOTONIC, &run->shown);
	if (run->json) {
		printf("{\"event\":\"progress\",\"files\":%zu,\"files_total\":%zu,\"bytes\":%"
		    PRIu64 ",\"bytes_total\":%" PRIu64 ",\"missing\":%" PRIu64 ",\"elapsed\":%.1f}\n",
		    progress->files_done, progress->files_total, progress->bytes_done,
		    progress->bytes_total, progress->missing_bytes, elapsed);
		fflush(stdout);
		return;
	}
	inventory_size_text(progress->bytes_done, done, sizeof done);
	inventory_size_text(progress->bytes_total, total, sizeof total);
	fprintf(stderr, "%s%zu/%zu files  %s of %s  not recoverable %" PRIu64 " B  %.0f s%s",
	    run->tty ? "\r\033[K" : "", progress->files_done, progress->files_total, done, total,
	    progress->missing_bytes, elapsed, run->tty && !progress->force ? "" : "\n");
	run->line_open = run->tty && !progress->force;
}

static int sink_stop_requested(void *context)
{
	(void)context;
	return stop_requested;
}

/* ------------------------------------------------------------------ recovering */

static int open_target(struct undelete_command *run)
{
	char why[PATH_MAX + 256], shown[1024];
	int transient;

	if (target_parse(run->target_url, &run->target, why, sizeof why) != 0) {
		journal_redact(run->target_url, shown, sizeof shown);
		return err_usage(command_undelete.usage, "not a target URL: %s: %s", shown, why);
	}
	if (run->target.scheme == TARGET_NBD || run->target.scheme == TARGET_TCP)
		return err_fatalx(EXIT_USAGE, "unable to recover to %s: undelete writes archive "
		    "files and a manifest beside them; use ssh://, nfs://, smb:// or file://",
		    run->target.display);
	if (run->name_option)
		snprintf(run->name, sizeof run->name, "%s", run->name_option);
	snprintf(run->manifest_name, sizeof run->manifest_name, "%s.manifest.json", run->name);
	snprintf(run->sums_name, sizeof run->sums_name, "%s.sha256", run->name);
	snprintf(run->origins_name, sizeof run->origins_name, "%s.undelete.json", run->name);
	if (!(run->store = store_open(&run->target, run->name, why, sizeof why, &transient)))
		return err_fatalx(EXIT_SYSTEM, "unable to recover to %s", why);
	return EXIT_OK;
}

/* Where each file came from, beside the manifest (one JSON object a line). */
static int save_origins(struct undelete_command *run)
{
	char *text = NULL;
	size_t size = 0, i;
	FILE *out = open_memstream(&text, &size);
	int rc;

	if (!out)
		return -1;
	fputs("{\"format\":\"rescue-undelete-1\",", out);
	json_member_string(out, "source", run->undelete.description, 0);
	fputs(",\"files\":[", out);
	for (i = 0; i < run->undelete.count; i++) {
		fputs(i ? ",\n" : "\n", out);
		print_json_file(out, &run->undelete.files[i]);
	}
	fputs("\n]}\n", out);
	if (fclose(out) != 0 || !text) {
		free(text);
		return -1;
	}
	rc = replace(run, run->origins_name, text, size);
	free(text);
	return rc;
}

static int run_dump(struct undelete_command *run, struct fstree *tree)
{
	struct dump_options options = { .name = run->name, .compress = DUMP_ZSTD,
	    .volume_size = 1ULL << 30 };
	struct dump_sink sink = { run, sink_begin_volume, sink_write, sink_end_volume,
	    sink_read_earlier, sink_append, sink_finish, sink_progress, sink_stop_requested };
	struct sigaction saved[2];
	int rc;

	stop_signals_catch(saved);
	clock_gettime(CLOCK_MONOTONIC, &run->started);
	run->shown = run->started;
	run->tty = isatty(STDERR_FILENO);
	rc = dump_run(tree, &options, &sink, &run->manifest, run->failure, sizeof run->failure);
	stop_signals_restore(saved);
	if (run->line_open)
		fputc('\n', stderr);
	return rc;
}

static int summary(struct undelete_command *run, int rc)
{
	struct manifest_totals totals = run->manifest.settled;
	int code;

	code = rc != 0 ? EXIT_SYSTEM : totals.partial || totals.failed ? EXIT_LOSSES : EXIT_OK;
	if (run->json)
		printf("{\"event\":\"summary\",\"recovered\":%zu,\"partial\":%zu,\"failed\":%zu,"
		    "\"bytes\":%" PRIu64 ",\"missing_bytes\":%" PRIu64 ",\"exit\":%d}\n",
		    totals.copied, totals.partial, totals.failed, totals.bytes,
		    totals.missing_bytes, code);
	else
		printf("%s: %zu recovered whole, %zu partial (zeros where blocks are another "
		    "file's now), %zu not recoverable; on %s: %s, %s, %s\n", run->name,
		    totals.copied, totals.partial, totals.failed, run->target.display,
		    run->manifest_name, run->sums_name, run->origins_name);
	if (rc != 0)
		err_warnx("unable to finish recovering to %s: %s", run->target.display,
		    run->failure[0] ? run->failure : "the target failed");
	journal_summary("undelete of %s to %s: %zu whole, %zu partial, %zu failed%s",
	    run->source, run->target.display, totals.copied, totals.partial, totals.failed,
	    rc != 0 ? " (stopped before the end)" : "");
	return code;
}

static int recover_files(struct undelete_command *run)
{
	struct fstree *tree;
	int code, rc;

	if ((code = open_target(run)) != EXIT_OK)
		return code;
	if (!(tree = undelete_tree(&run->undelete)))
		return err_fatalx(EXIT_SYSTEM, "unable to recover: out of memory");
	if (!run->json)
		printf("recovering %zu deleted files of %s to %s\n", run->undelete.count,
		    run->source, run->target.display);
	fflush(stdout);
	rc = run_dump(run, tree);
	if (rc == 0 && save_origins(run) != 0) {
		if (!run->failure[0])
			snprintf(run->failure, sizeof run->failure, "unable to write %s",
			    run->origins_name);
		rc = -1;
	}
	fstree_release(tree);
	return summary(run, rc);
}

static int undelete_main(int argc, char **argv)
{
	struct undelete_command *run = calloc(1, sizeof *run);
	int code;

	if (!run)
		return err_fatal(EXIT_SYSTEM, "unable to start undelete");
	stop_requested = 0;
	if ((code = parse_options(argc, argv, run)) >= 0)
		goto out;
	if (!run->journal_operand)
		find_candidates(run);
	if ((code = resolve_source(run)) != EXIT_OK || (code = resolve_journal(run)) != EXIT_OK
	    || (code = scan(run)) != EXIT_OK
	    || (code = carve_free_blocks(run)) != EXIT_OK)
		goto out;
	if (!run->undelete.count) {
		code = nothing_found(run);
		goto out;
	}
	code = run->target_url ? recover_files(run) : list(run);
out:
	store_close(run->store);
	manifest_free(&run->manifest);
	free(run->json_text);
	free(run->sums_text);
	undelete_free(&run->undelete);
	free(run);
	return code;
}
