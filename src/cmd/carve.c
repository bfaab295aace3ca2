/* carve: files found in raw sectors by their signatures and structure, to a target
 *
 * usage: rescue carve [options] SRC [TARGET]
 *        rescue carve --db [--free] [--types LIST] [options] SRC [TARGET]
 *        rescue carve --list [--rules FILE|URL]
 *
 * Reads SRC (a disk or a partition: sda, /dev/vdb2) read-only from start to end and writes
 * every file it can identify to the directory TARGET (the default target, rescue.target=,
 * when not given), whatever the file system left of it:
 *
 *   NAME.carve/TYPE/f<offset>.<ext>   each file; <offset> is its first byte in SRC
 *   NAME.carve.json                   every file: offset, length, type, how its end was
 *                                     found, validated / truncated / unvalidated, sha256,
 *                                     the unreadable bytes inside it
 *   NAME.carve.sha256                 `sha256sum -c NAME.carve.sha256` in TARGET checks them
 *   NAME.carve.state                  how far the scan got: the same command resumes there
 *
 * NAME is the source's kernel name (sda2) unless --name says otherwise. Candidates are
 * looked for at every 512-byte sector start; each is delimited by its own structure
 * (JPEG markers walked to EOI, PNG chunks with their CRCs, the last %%EOF of a PDF, a ZIP's
 * central directory, a gzip, bzip2 or zstd stream decoded to its end, ...), whatever its
 * size; what lies inside a file found (a thumbnail, a member) is not carved again.
 * `--list` names every type.
 *
 * A JPEG, PNG or ZIP whose structure breaks off is looked for in two pieces, as a nearly
 * full file system leaves a file: the rest may start at any 4 KiB block in the 8 MiB
 * after the first piece (noise or other files between, which are carved as well). It is
 * joined only when the structure confirms the join: the JPEG's Huffman-coded data
 * decodes across it, the PNG chunk's CRC or the ZIP member's CRC-32 is right over it,
 * and the joined file validates whole (up to 32 MiB). The manifest says "joined (...):
 * pieces at A+LENGTH and B+LENGTH"; a piece whose rest is not found stays "truncated".
 *
 * Unreadable sectors are read once, as zeros, and named in the manifest of every file
 * crossing them (such files count as losses). Files are written as .part and renamed once
 * whole; the state is saved at least every 10 seconds, after the files it names. Ctrl-C,
 * a lost connection given up or a reboot: run the same command again, it goes on from the
 * saved position and never writes a file twice. A lost connection is retried with a
 * growing pause (1, 2, 4 ... 30 s), forever unless --give-up bounds it.
 *
 *   --types LIST         only these types (comma-separated, as --list names them)
 *   --db                 database pages too (only them and SQLite files unless
 *                        --types names types): InnoDB and PostgreSQL pages, written
 *                        back as the files they came from under NAME.db/ (below)
 *   --rules FILE|URL     more types, in foremost's and scalpel's configuration syntax
 *                        (below); carve.rules on the RESCUECFG disk is read too; a URL
 *                        is https:// (verified) or pinned with #sha256=HEX
 *   --free               only the blocks an ext2/3/4 file system marks unused, carved as
 *                        one stream (a file split around used blocks comes back whole);
 *                        offsets stay those of SRC
 *   --input-position P   start at byte P of SRC (a multiple of 512)
 *   --size S             scan at most S bytes from there
 *   --name NAME          the files are NAME.carve, NAME.carve.json, ...
 *   --give-up SECONDS    stop when the target stays unreachable this long (default: never)
 *   --list               print the types known and exit
 *   --json               progress as JSON lines, then {"event":"summary",...}
 *
 * A rule is a line: extension, case-sensitive (y/n), maximum size, header, optional
 * footer, optional REVERSE (the last footer within the size) or NEXT (the file ends before
 * the footer); \xHH escapes a byte, \s is a space and ? matches any byte. `#` starts a
 * comment. Rules are looked for at every byte; a rule's file ends after its footer, or is
 * the maximum size long ("unvalidated" in the manifest). A bad line is named with its
 * number and nothing runs (exit 2).
 *
 *   doc  y  10000000  \xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1
 *   htm  n  50000     <html  </html>
 *
 * With --db every byte scanned is also searched for InnoDB pages (16 KiB, and 4 to 64
 * KiB) and PostgreSQL pages (8 KiB) at every 512-byte offset; after the scan each InnoDB
 * tablespace is written as NAME.db/space-N.ibd (DB.TABLE.ibd when the dictionary names
 * it; space-N-2.ibd ... when tablespaces of two servers claim one space id), each
 * PostgreSQL relation as NAME.db/pg-Aatts, pages never found left as zeros, with
 * NAME.db/report.txt, report.json and RESTORE.md (how to import them). SQLite files
 * are carved whole under NAME.carve/sqlite/, as found (pages overwritten since stay
 * so); RESTORE.md gives the sqlite3 commands (.recover) to run on the receiver. Memory
 * holds where the pages are, not the pages: they are read again from SRC when written.
 * Pages inside a file carved as another type, past the 4 MiB window it starts in, are
 * not seen. Where the pages lie is kept in NAME.db.index (40 bytes a page), written whole
 * at a run's first state save and then grown by what is new at each one: an interrupted
 * --db run resumes like any carve; without an index that goes with the state it scans
 * again from the start (files already written are not written again). MariaDB
 * page-compressed pages split on the disk (a block of the page elsewhere) are put back
 * together. NAME.db/ is written once a scan has reached the end.
 *
 * While it runs, SRC is marked busy (/run/rescue/busy/NAME): `rescue disks` shows it and
 * `rescue unguard` refuses it.
 *
 * Sizes are bytes, 0x hexadecimal, or with K, M, G, T. TARGET must be a directory that
 * exists (ssh://, nfs://, smb://, file://); one on a guarded disk or on SRC's disk is
 * refused.
 *
 * Exit codes: 0 the scan finished and every file found was read whole, 1 finished with
 * files that cross unreadable sectors or, with --db, pages missing from a tablespace or
 * relation (or unreadable when read again), 2 usage error (a bad type, --free on a file
 * system whose free-space map cannot be read), 3 the source or the target failed (also
 * while writing NAME.db/), or a signal stopped the run (the state is saved: the same
 * command resumes).
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/err.h"
#include "base/fetch.h"
#include "base/journal.h"
#include "base/json.h"
#include "base/paths.h"
#include "cli/command.h"
#include "cli/opt.h"
#include "cli/stop.h"
#include "disk/busy.h"
#include "disk/cow.h"
#include "disk/inventory.h"
#include "fs/extfs.h"
#include "salvage/carve.h"
#include "salvage/carve_db.h"
#include "salvage/carve_rules.h"
#include "salvage/carve_store.h"
#include "salvage/dbpages.h"
#include "salvage/progress.h"
#include "salvage/source.h"
#include "target/store.h"
#include "target/target.h"
#include "usage/carve.h"

static int carve_main(int argc, char **argv);

const struct command command_carve = {
	.name = "carve",
	.summary = COMMAND_SUMMARY,
	.usage = COMMAND_USAGE,
	.menu_label = "carve files from raw sectors",
	.menu_rank = 48,
	.menu_prompt = "source and target (e.g. sda2 ssh://user@host/dir)",
	.run = carve_main,
};

enum { FORMATS_MAX = 256, TYPES_SHOWN = 6, RULES_SIZE_MAX = 1 << 20 };

struct carve_command_options {
	const char *types, *position_text, *size_text, *name, *rules;
	const char *source_operand, *target_url;
	int free_space, list, json, db;
	long give_up;
};

struct carve_command {
	struct carve_command_options options;
	const struct carve_format *formats[FORMATS_MAX];
	size_t format_count;
	struct carve_rules config_rules, given_rules;	/* carve.rules, --rules */
	struct source source;
	struct target target;
	struct store *store;
	struct carve_store out;
	struct carve_extent *extents;
	size_t extent_count, extent_capacity;
	uint64_t input_position, size;
	char name[256];
	struct carve_scan scan;
	struct carve_db db;		/* --db: the page index, fed by the observer */
	struct carve_observer observer;
	struct dbpages_summary db_summary;
	int db_result;			/* dbpages_write's; -2 when it did not run */
	int db_resumed;			/* the page index was loaded: the scan goes on */
	struct dbpages_saved db_saved;	/* what this run wrote to NAME.db.index so far */
	char db_dir[300];		/* "NAME.db" */
	char db_index[300];		/* "NAME.db.index": the page index kept with the state */
	uint64_t position_at_start;
	struct timespec started, shown;
	int tty, line_open;
	int busy_written;		/* the source's busy file is ours to remove */
};

/* ------------------------------------------------------------------ options */

static int parse_option(int option, struct carve_command_options *options)
{
	switch (option) {
	case 't': options->types = optarg; break;
	case 'r': options->rules = optarg; break;
	case 'F': options->free_space = 1; break;
	case 'd': options->db = 1; break;
	case 'i': options->position_text = optarg; break;
	case 's': options->size_text = optarg; break;
	case 'm': options->name = optarg; break;
	case 'l': options->list = 1; break;
	case 'j': options->json = 1; break;
	case 'g': return opt_seconds(&command_carve, "--give-up", optarg, &options->give_up);
	}
	return 0;
}

static int parse_options(int argc, char **argv, struct carve_command_options *options)
{
	static const struct option long_options[] = {
		{ "types", required_argument, NULL, 't' },
		{ "rules", required_argument, NULL, 'r' },
		{ "free", no_argument, NULL, 'F' },
		{ "db", no_argument, NULL, 'd' },
		{ "input-position", required_argument, NULL, 'i' },
		{ "size", required_argument, NULL, 's' },
		{ "name", required_argument, NULL, 'm' },
		{ "give-up", required_argument, NULL, 'g' },
		{ "list", no_argument, NULL, 'l' },
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 },
	};
	struct opt_parser opts = opt_parser(&command_carve, argc, argv, "t:r:Fdi:s:m:g:lj",
	    long_options);
	int option, code;

	options->give_up = -1;
	while ((option = opt_next(&opts)) != OPT_DONE) {
		if (option == OPT_STOP)
			return opts.exit_code;
		if ((code = parse_option(option, options)) != 0)
			return code;
	}
	if (options->list)
		return opt_operands(&opts, 0, 0) != 0 ? opts.exit_code : -1;
	if ((code = opt_source_target(&opts, &options->source_operand,
	    &options->target_url)) != 0)
		return code;
	if (options->name && (code = opt_file_name(&command_carve, "--name", options->name)) != 0)
		return code;
	return -1;
}

/* ------------------------------------------------------------------ the types */

static void add_formats(struct carve_command *run, const struct carve_format *const *formats,
    size_t count)
{
	size_t i;

	for (i = 0; i < count && run->format_count < FORMATS_MAX; i++)
		run->formats[run->format_count++] = formats[i];
}

static int wanted(const char *types, const struct carve_format *format)
{
	char list[1024], needle[48];

	snprintf(list, sizeof list, ",%s,", types);
	snprintf(needle, sizeof needle, ",%s,", format->type);
	if (strstr(list, needle))
		return 1;
	snprintf(needle, sizeof needle, ",%s,", format->ext);
	return strstr(list, needle) != NULL;
}

/* Rules over the network, held to the rules of every fetch (base/fetch.h): https verified,
 * http only pinned or opted in. */
static int fetch_rules(const char *url, char **text, size_t *size)
{
	char why[1024];
	int code = fetch_url(url, 60, text, size, why, sizeof why);

	if (code != EXIT_OK)
		return err_fatalx(code, "unable to fetch the rules: %s", why);
	return 0;
}

/* 1 when PATH does not exist and MAY_BE_MISSING. */
static int read_rules(const char *path, int may_be_missing, char **text, size_t *size)
{
	FILE *file = fopen(path, "re");
	size_t got;

	if (!file && may_be_missing && errno == ENOENT)
		return 1;
	if (!file)
		return err_fatal(EXIT_USAGE, "unable to read the rules %s", path);
	*text = malloc(RULES_SIZE_MAX + 1);
	got = *text ? fread(*text, 1, RULES_SIZE_MAX + 1, file) : 0;
	fclose(file);
	if (!*text)
		return err_fatal(EXIT_SYSTEM, "unable to read the rules %s", path);
	if (got > RULES_SIZE_MAX)
		return err_fatalx(EXIT_USAGE, "unable to use the rules %s: larger than 1 MiB", path);
	*size = got;
	return 0;
}

/* Rules from SOURCE (a file, or an http(s) URL) appended to the formats; a bad line
 * stops everything before anything is read (exit 2). */
static int load_rules(struct carve_command *run, const char *source, int may_be_missing,
    struct carve_rules *rules)
{
	char *text = NULL, why[512];
	size_t size = 0, i;
	int code;

	if (!strncmp(source, "http://", 7) || !strncmp(source, "https://", 8))
		code = fetch_rules(source, &text, &size);
	else
		code = read_rules(source, may_be_missing, &text, &size);
	if (code != 0) {
		free(text);
		return code == 1 ? 0 : code;
	}
	code = carve_rules_parse(text, size, source, rules, why, sizeof why);
	free(text);
	if (code != 0)
		return err_fatalx(EXIT_USAGE, "unable to use the rules %s: %s; nothing was carved",
		    source, why);
	for (i = 0; i < rules->count && run->format_count < FORMATS_MAX; i++)
		run->formats[run->format_count++] = &rules->rules[i].format;
	return 0;
}

/* --types keeps the named ones, in the order of the table; an unknown one is named. */
static int choose_types(struct carve_command *run)
{
	char list[1024], *name, *cursor;
	size_t count = 0, i;

	if (!run->options.types) {
		if (run->options.db) {	/* database pages, and SQLite files whole */
			const struct carve_format *sqlite = carve_format_find(run->formats,
			    run->format_count, "sqlite");

			run->format_count = sqlite ? 1 : 0;
			run->formats[0] = sqlite;
		}
		return 0;
	}
	snprintf(list, sizeof list, "%s", run->options.types);
	for (name = strtok_r(list, ",", &cursor); name; name = strtok_r(NULL, ",", &cursor))
		if (!carve_format_find(run->formats, run->format_count, name))
			return err_usage(command_carve.usage, "--types %s: unknown type %s (`rescue "
			    "carve --list` names them)", run->options.types, name);
	for (i = 0; i < run->format_count; i++)
		if (wanted(run->options.types, run->formats[i]))
			run->formats[count++] = run->formats[i];
	run->format_count = count;
	if (!count)
		return err_usage(command_carve.usage, "--types %s: no type named",
		    run->options.types);
	return 0;
}

/* Whether a format before the Ith has its type and description: one type found by
 * several signatures (TIFF's two byte orders, mail's first lines) is listed once. */
static int listed_before(const struct carve_command *run, size_t i)
{
	size_t k;

	for (k = 0; k < i; k++)
		if (!strcmp(run->formats[k]->type, run->formats[i]->type)
		    && !strcmp(run->formats[k]->description, run->formats[i]->description))
			return 1;
	return 0;
}

static int list_types(struct carve_command *run)
{
	size_t i;

	for (i = 0; i < run->format_count; i++) {
		const struct carve_format *format = run->formats[i];

		if (listed_before(run, i))
			continue;
		if (run->options.json) {
			printf("{");
			json_member_string(stdout, "type", format->type, 0);
			json_member_string(stdout, "ext", format->ext, 1);
			json_member_string(stdout, "description", format->description, 1);
			printf(",\"builtin\":%s}\n", format->builtin ? "true" : "false");
		} else {
			printf("%-8s .%-7s %s%s\n", format->type, format->ext, format->description,
			    format->builtin ? "" : " (rule)");
		}
	}
	return EXIT_OK;
}

/* ------------------------------------------------------------------ the stream */

static int add_extent(void *context, unsigned long long position, unsigned long long length)
{
	struct carve_command *run = context;

	if (run->extent_count == run->extent_capacity) {
		size_t capacity = run->extent_capacity ? 2 * run->extent_capacity : 64;
		struct carve_extent *bigger = realloc(run->extents, capacity * sizeof *bigger);

		if (!bigger)
			return -1;
		run->extents = bigger;
		run->extent_capacity = capacity;
	}
	run->extents[run->extent_count++] = (struct carve_extent){ position, length };
	return 0;
}

/* --free: the unused blocks, cut to --input-position and --size. */
static int free_extents(struct carve_command *run)
{
	struct carve_command all = { 0 };
	uint64_t from = run->input_position, to = run->input_position + run->size;
	char why[512];
	size_t i;

	if (extfs_free_ranges(run->source.path, add_extent, &all, why, sizeof why) != 0) {
		free(all.extents);
		return err_usage(command_carve.usage, "--free: unable to read the free-space map "
		    "of %s: %s; carve the whole device instead (without --free)",
		    run->source.identity.name, why);
	}
	for (i = 0; i < all.extent_count; i++) {
		uint64_t start = all.extents[i].source_position;
		uint64_t end = start + all.extents[i].length;

		start = start < from ? from : start;
		end = end > to ? to : end;
		if (start < end && add_extent(run, start, end - start) != 0)
			break;
	}
	free(all.extents);
	return i < all.extent_count ? err_fatalx(EXIT_SYSTEM, "out of memory for the free "
	    "ranges") : 0;
}

static int parse_size(const char *option, const char *text, uint64_t *value)
{
	unsigned long long bytes;
	char *end;

	errno = 0;
	bytes = strtoull(text, &end, 0);
	if (!(text[0] >= '0' && text[0] <= '9' && *end == '\0' && errno == 0)
	    && size_parse(text, &bytes) != 0)
		return err_usage(command_carve.usage, "%s %s: not a size", option, text);
	*value = bytes;
	return 0;
}

static int choose_stream(struct carve_command *run)
{
	uint64_t size = run->source.identity.size;
	int code;

	if (run->options.position_text && ((code = parse_size("--input-position",
	    run->options.position_text, &run->input_position)) != 0))
		return code;
	if (run->input_position % 512 || run->input_position >= size)
		return err_usage(command_carve.usage, "--input-position %s: not a multiple of 512 "
		    "inside %s (%" PRIu64 " bytes)", run->options.position_text,
		    run->source.identity.name, size);
	run->size = size - run->input_position;
	if (run->options.size_text && (code = parse_size("--size", run->options.size_text,
	    &run->size)) != 0)
		return code;
	if (run->size == 0)
		return err_usage(command_carve.usage, "--size %s: nothing to scan",
		    run->options.size_text);
	if (run->size > size - run->input_position)
		run->size = size - run->input_position;
	if (run->options.free_space)
		return free_extents(run);
	return add_extent(run, run->input_position, run->size) == 0 ? 0
	    : err_fatalx(EXIT_SYSTEM, "out of memory");
}

/* ------------------------------------------------------------------ source and target */

static int open_source(struct carve_command *run)
{
	char why[PATH_MAX + 256];

	if (source_open(run->options.source_operand, 0, &run->source, why, sizeof why) != 0)
		return err_fatalx(EXIT_SYSTEM, "unable to carve %s", why);
	snprintf(run->name, sizeof run->name, "%s", run->options.name ? run->options.name
	    : run->source.identity.name);
	return 0;
}

static int choose_target(struct carve_command *run)
{
	char why[PATH_MAX + 256], shown[1024];

	if (target_parse(run->options.target_url, &run->target, why, sizeof why) != 0) {
		journal_redact(run->options.target_url, shown, sizeof shown);
		return err_usage(command_carve.usage, "not a target URL: %s: %s", shown, why);
	}
	if (run->target.scheme == TARGET_NBD || run->target.scheme == TARGET_TCP)
		return err_usage(command_carve.usage, "unable to carve to %s: carving writes many "
		    "files; use ssh://, nfs://, smb:// or file://", run->target.display);
	if (run->target.scheme == TARGET_FILE
	    && source_holds_path(&run->source, run->target.path, why, sizeof why))
		return err_fatalx(EXIT_SYSTEM, "unable to carve %s to %s: %s",
		    run->source.identity.name, run->target.display, why);
	return 0;
}

static int open_target(struct carve_command *run)
{
	char why[1400], identity[512];
	uint64_t stream_size = 0;
	int transient;
	size_t i;

	run->store = store_open(&run->target, run->name, why, sizeof why, &transient);
	if (!run->store)
		return err_fatalx(EXIT_SYSTEM, "unable to carve %s to %s", run->name, why);
	for (i = 0; i < run->extent_count; i++)
		stream_size += run->extents[i].length;
	source_identity_line(&run->source.identity, identity, sizeof identity);
	carve_store_init(&run->out, run->store, run->name, identity, stream_size);
	run->out.give_up = (int)run->options.give_up;
	run->out.stop = &stop_requested;
	if (carve_store_load(&run->out, why, sizeof why) != 0)
		return err_fatalx(EXIT_SYSTEM, "unable to resume from %s on %s: %s; it was left as "
		    "it is (use --name for a new carving)", run->out.state_name,
		    run->target.display, why);
	return 0;
}

/* The page index, written before each state (carve_store's before_save): the state
 * never names a position whose pages the index lacks. A run's first save replaces the
 * file with the whole index (whatever an earlier run left after its last good record is
 * gone with it); each later one appends what is new since (dbpages_save), where the
 * target can write into a file, instead of writing 40 bytes a page again each time. */
static int keep_pages_index(void *context, uint64_t position)
{
	struct carve_command *run = context;
	int append = run->db_saved.bytes > 0 && store_can_write_at(run->store);
	struct dbpages_saved since = append ? run->db_saved : (struct dbpages_saved){ 0 };
	size_t size;
	void *data = dbpages_save(run->db.pages, position, &since, &size);

	if (!data) {
		snprintf(run->out.failure, sizeof run->out.failure, "out of memory for %s",
		    run->db_index);
		return -1;
	}
	while ((append ? store_write_at(run->store, run->db_index, data, size, since.bytes)
	    : store_replace(run->store, run->db_index, data, size)) != 0)
		if (store_recover(run->store, (int)run->options.give_up, &stop_requested,
		    run->out.failure, sizeof run->out.failure) != 0) {
			free(data);
			return -1;
		}
	free(data);
	dbpages_mark_saved(run->db.pages, &since, size);
	run->db_saved = since;
	return 0;
}

/* A saved index that goes with the state loaded: the scan resumes at the state's
 * position with the pages seen before it. Any other (none, older, of another build) is
 * set aside and the scan starts again from the stream's start for the pages (the files
 * the state records are still not written again). 0, or an exit code. */
static int resume_pages(struct carve_command *run)
{
	char *data = NULL;
	size_t size = 0;
	int found;

	if (run->out.position == 0)
		return 0;
	while ((found = store_get(run->store, run->db_index, &data, &size)) < 0)
		if (store_recover(run->store, (int)run->options.give_up, &stop_requested,
		    run->out.failure, sizeof run->out.failure) != 0)
			return err_fatalx(EXIT_SYSTEM, "unable to read %s on %s: %s", run->db_index,
			    run->target.display, run->out.failure);
	if (found == 0 && dbpages_load(run->db.pages, data, size, run->out.position) == 0) {
		run->db_resumed = 1;
	} else {
		dbpages_close(run->db.pages);
		run->db.pages = dbpages_open(DBPAGES_INNODB | DBPAGES_PG);
	}
	free(data);
	return run->db.pages ? 0 : err_fatalx(EXIT_SYSTEM, "out of memory for the database pages");
}

/* --db: the page index, from the saved one when it goes with the state. */
static int open_pages(struct carve_command *run)
{
	run->db_result = -2;
	if (!run->options.db)
		return 0;
	run->db.pages = dbpages_open(DBPAGES_INNODB | DBPAGES_PG);
	if (!run->db.pages)
		return err_fatalx(EXIT_SYSTEM, "out of memory for the database pages");
	snprintf(run->db_dir, sizeof run->db_dir, "%s.db", run->name);
	snprintf(run->db_index, sizeof run->db_index, "%s.db.index", run->name);
	run->db.scan = &run->scan;
	carve_db_observer(&run->db, &run->observer);
	run->out.before_save = keep_pages_index;
	run->out.before_save_context = run;
	return resume_pages(run);
}

/* ------------------------------------------------------------------ progress */

struct type_count {
	const char *type;
	size_t count;
};

/* The types found so far with their counts, most first, into SEEN; how many there are. */
static size_t count_types(const struct carve_store *out, struct type_count *seen, size_t max)
{
	size_t kinds = 0, i, k;

	for (i = 0; i < out->count; i++) {
		for (k = 0; k < kinds && strcmp(seen[k].type, out->files[i].type); k++)
			;
		if (k == kinds && kinds < max)
			seen[kinds++] = (struct type_count){ out->files[i].type, 0 };
		if (k < kinds)
			seen[k].count++;
	}
	for (i = 0; i < kinds; i++)
		for (k = i + 1; k < kinds; k++)
			if (seen[k].count > seen[i].count) {
				struct type_count swap = seen[i];

				seen[i] = seen[k];
				seen[k] = swap;
			}
	return kinds;
}

/* "jpg 3, png 2, pdf 1" */
static void types_text(const struct carve_store *out, char *text, size_t size)
{
	struct type_count seen[64];
	size_t kinds = count_types(out, seen, 64), i, used = 0;

	text[0] = '\0';
	for (i = 0; i < kinds && i < TYPES_SHOWN && used < size; i++)
		used += (size_t)snprintf(text + used, size - used, "%s%s %zu", i ? ", " : "",
		    seen[i].type, seen[i].count);
	if (kinds > TYPES_SHOWN && used < size)
		snprintf(text + used, size - used, ", ...");
}

static void show_progress(struct carve_command *run, uint64_t position, int force)
{
	double elapsed = seconds_since(&run->started);
	double rate = elapsed > 0 ? (double)(position - run->position_at_start) / elapsed : 0;
	uint64_t total = run->out.stream_size;
	char at[32], all[32], speed[32], eta[32] = "?", types[256], pages[48] = "";

	clock_gettime(CLOCK_MONOTONIC, &run->shown);
	if (run->options.json) {
		printf("{\"event\":\"progress\",\"position\":%" PRIu64 ",\"size\":%" PRIu64
		    ",\"files\":%zu,", position, total, run->out.count);
		if (run->db.pages)
			printf("\"db_pages\":%" PRIu64 ",", dbpages_found(run->db.pages));
		printf("\"rate\":%.0f,\"elapsed\":%.1f}\n", rate, elapsed);
		fflush(stdout);
		return;
	}
	inventory_size_text(position, at, sizeof at);
	inventory_size_text(total, all, sizeof all);
	inventory_size_text((uint64_t)rate, speed, sizeof speed);
	if (rate >= 1)
		progress_duration((double)(total - position) / rate, eta, sizeof eta);
	types_text(&run->out, types, sizeof types);
	if (run->db.pages)
		snprintf(pages, sizeof pages, "  %" PRIu64 " database pages",
		    dbpages_found(run->db.pages));
	fprintf(stderr, "%sat %s of %s (%.1f%%)  %s/s  ETA %s  %zu files%s%s%s%s",
	    run->tty ? "\r\033[K" : "", at, all, total ? 100.0 * (double)position
	    / (double)total : 100.0, speed, eta, run->out.count, types[0] ? ": " : "", types,
	    pages, run->tty && !force ? "" : "\n");
	run->line_open = run->tty && !force;
}

static void progress(void *context, uint64_t position, int force)
{
	struct carve_command *run = context;

	if (!force && seconds_since(&run->shown) < (run->tty ? 0.5 : 5.0))
		return;
	show_progress(run, position, force);
}

/* ------------------------------------------------------------------ the run */

static int scan(struct carve_command *run)
{
	struct carve_options options = { 0 };
	struct carve_output output;

	options.formats = run->formats;
	options.format_count = run->format_count;
	options.observers = run->db.pages ? &run->observer : NULL;
	options.observer_count = run->db.pages ? 1 : 0;
	options.sector_size = 512;
	options.join_gap = CARVE_JOIN_GAP;
	if (carve_scan_init(&run->scan, &options, source_read, &run->source, run->extents,
	    run->extent_count) != 0)
		return err_fatalx(EXIT_SYSTEM, "out of memory for the scan");
	run->scan.position = run->position_at_start = run->db.pages && !run->db_resumed ? 0
	    : run->out.position;
	run->scan.stop = &stop_requested;
	carve_store_output(&run->out, &output);
	output.progress = progress;
	output.progress_context = run;
	clock_gettime(CLOCK_MONOTONIC, &run->started);
	run->shown = run->started;
	run->tty = !run->options.json && isatty(STDERR_FILENO);
	return carve_run(&run->scan, &output);
}

/* --db, after a whole scan: the tablespaces and relations under NAME.db/ (no file of the
 * store is open now, as dbpages_write needs). A stopped scan writes none: the next run
 * goes on from the index kept with the state. */
static void write_pages(struct carve_command *run)
{
	char prefix[sizeof run->db_dir + 1], sqlite_folder[sizeof run->out.dir + 8];
	struct dbpages_output output = {
		.read = source_read, .source = &run->source, .store = run->store,
		.prefix = prefix, .give_up = (int)run->options.give_up, .stop = &stop_requested,
		.log = run->options.json ? NULL : stderr,
	};

	/* RESTORE.md says how to recover the SQLite files carved beside the pages. */
	for (size_t i = 0; i < run->out.count; i++)
		if (!strcmp(run->out.files[i].type, "sqlite")) {
			snprintf(sqlite_folder, sizeof sqlite_folder, "%s/sqlite/", run->out.dir);
			output.sqlite_folder = sqlite_folder;
		}
	if (run->line_open)
		fputc('\n', stderr);
	run->line_open = 0;
	snprintf(prefix, sizeof prefix, "%s/", run->db_dir);
	while (store_mkdir(run->store, run->db_dir) != 0)
		if (store_recover(run->store, output.give_up, &stop_requested,
		    run->db_summary.failure, sizeof run->db_summary.failure) != 0) {
			run->db_result = -1;
			return;
		}
	run->db_result = dbpages_write(run->db.pages, &output, &run->db_summary);
}

/* ------------------------------------------------------------------ the result */

static uint64_t files_with_losses(const struct carve_store *out)
{
	uint64_t count = 0;
	size_t i;

	for (i = 0; i < out->count; i++)
		count += out->files[i].bad_bytes > 0;
	return count;
}

static void print_pages_json(const struct carve_command *run)
{
	const struct dbpages_summary *summary = &run->db_summary;

	printf(",\"db\":{");
	json_member_string(stdout, "dir", run->db_dir, 0);
	printf(",\"written\":%s,\"tablespaces\":%u,\"relations\":%u,\"btree_indexes\":%u,"
	    "\"pages\":%" PRIu64
	    ",\"missing\":%" PRIu64 ",\"bad_checksums\":%" PRIu64 ",\"unreadable\":%" PRIu64,
	    run->db_result >= 0 ? "true" : "false", summary->tablespaces, summary->relations,
	    summary->indexes, summary->pages_written, summary->pages_missing, summary->bad_checksums,
	    summary->unreadable);
	if (run->db_result == -1)
		json_member_string(stdout, "failure", summary->failure, 1);
	printf("}");
}

static void print_pages_text(const struct carve_command *run)
{
	const struct dbpages_summary *summary = &run->db_summary;

	if (run->db_result == -2) {
		printf("%s/: not written: the scan stopped before the end (the same command goes "
		    "on from %s)\n", run->db_dir, run->db_index);
		return;
	}
	printf("%s/: %u tablespaces, %u relations, %" PRIu64 " pages written, %" PRIu64
	    " missing, %" PRIu64 " with a wrong checksum, %" PRIu64 " unreadable again, %u "
	    "btree indexes; report.txt and RESTORE.md there%s%s\n", run->db_dir,
	    summary->tablespaces, summary->relations, summary->pages_written,
	    summary->pages_missing, summary->bad_checksums, summary->unreadable,
	    summary->indexes, run->db_result == -1
	    ? "; unable to finish: " : "", run->db_result == -1 ? summary->failure : "");
}

static void print_summary(struct carve_command *run, int code, int stopped)
{
	struct type_count seen[64];
	size_t kinds = count_types(&run->out, seen, 64), i, truncated = 0;
	char types[256];

	for (i = 0; i < run->out.count; i++)
		truncated += run->out.files[i].status == CARVE_TRUNCATED;
	if (run->options.json) {
		printf("{\"event\":\"summary\",");
		json_member_string(stdout, "source", run->source.identity.name, 0);
		json_member_string(stdout, "target", run->target.display, 1);
		json_member_string(stdout, "manifest", run->out.json_name, 1);
		printf(",\"scanned\":%" PRIu64 ",\"size\":%" PRIu64 ",\"complete\":%s,"
		    "\"files\":%zu,\"written\":%zu,\"truncated\":%zu,\"with_bad_sectors\":%"
		    PRIu64 ",\"types\":{", run->scan.position, run->out.stream_size,
		    stopped ? "false" : "true", run->out.count, run->out.written, truncated,
		    files_with_losses(&run->out));
		for (i = 0; i < kinds; i++) {
			printf("%s", i ? "," : "");
			json_string(stdout, seen[i].type);
			printf(":%zu", seen[i].count);
		}
		printf("}");
		if (run->db.pages)
			print_pages_json(run);
		printf(",\"exit\":%d}\n", code);
		return;
	}
	types_text(&run->out, types, sizeof types);
	printf("%s: %zu files%s%s (%zu written now, %zu truncated, %" PRIu64 " crossing "
	    "unreadable sectors)%s\n", run->name, run->out.count, types[0] ? ": " : "", types,
	    run->out.written, truncated, files_with_losses(&run->out), stopped
	    ? "; stopped before the end: the same command resumes" : "");
	if (run->db.pages)
		print_pages_text(run);
	printf("on %s: %s/, %s, %s%s%s\n", run->target.display, run->out.dir,
	    run->out.json_name, run->out.sums_name, run->db.pages ? ", " : "",
	    run->db.pages ? run->db_dir : "");
}

/* Exit code: 3 when the scan or the database files failed, 1 when a file crosses bad
 * sectors or database pages are missing, else 0. */
static int finish(struct carve_command *run, int rc)
{
	int code = rc != 0 || run->db_result == -1 ? EXIT_SYSTEM : files_with_losses(&run->out)
	    || run->db_result == 1 ? EXIT_LOSSES : EXIT_OK;
	char pages[160] = "";

	if (run->line_open)
		fputc('\n', stderr);
	if (rc < 0)
		err_warnx("unable to finish carving %s: %s; what is in the state file is safe (the "
		    "same command resumes)", run->name, run->out.failure[0] ? run->out.failure
		    : "the target failed");
	print_summary(run, code, rc != 0);
	if (run->db.pages)
		snprintf(pages, sizeof pages, ", %u tablespaces and %u relations (%" PRIu64
		    " database pages missing)", run->db_summary.tablespaces,
		    run->db_summary.relations, run->db_summary.pages_missing);
	journal_summary("carve of %s to %s: %zu files, %" PRIu64 " crossing bad sectors%s%s",
	    run->name, run->target.display, run->out.count, files_with_losses(&run->out), pages,
	    rc != 0 ? " (stopped before the end)" : "");
	return code;
}

/* The busy file tells `rescue unguard` and `rescue disks` that the source is being read;
 * made before the target is opened, removed after it is closed. */
static void mark_busy(struct carve_command *run)
{
	struct busy_holder holder;

	run->busy_written = busy_mark(RESCUE_BUSY_DIR, run->source.identity.name, "carve",
	    run->target.display, &holder);
}

static int prepare(struct carve_command *run)
{
	const struct carve_format *const *builtin;
	size_t count;
	int code;

	builtin = carve_builtin_formats(&count);
	add_formats(run, builtin, count);
	if ((code = load_rules(run, RESCUE_CONFIG_MOUNT "/carve.rules", 1,
	    &run->config_rules)) != 0 || (run->options.rules && (code = load_rules(run,
	    run->options.rules, 0, &run->given_rules)) != 0))
		return code;
	if ((code = choose_types(run)) != 0)
		return code;
	if (run->options.list)
		return list_types(run);
	if ((code = open_source(run)) != 0 || (code = choose_stream(run)) != 0
	    || (code = choose_target(run)) != 0)
		return code;
	mark_busy(run);
	if ((code = open_target(run)) != 0 || (code = open_pages(run)) != 0)
		return code;
	return -1;
}

static int carve_main(int argc, char **argv)
{
	struct carve_command *run = calloc(1, sizeof *run);
	struct sigaction saved[2];
	int code, rc;

	if (!run)
		return err_fatal(EXIT_SYSTEM, "unable to start carving");
	stop_requested = 0;
	run->source.fd = run->source.direct_fd = -1;
	if ((code = parse_options(argc, argv, &run->options)) >= 0
	    || (code = prepare(run)) >= 0)
		goto out;
	if (!run->options.json)
		printf("carving %s (%" PRIu64 " bytes%s) to %s%s\n", run->source.identity.name,
		    run->out.stream_size, run->options.free_space ? " of free blocks" : "",
		    run->target.display, !run->out.position ? "" : run->db.pages
		    && !run->db_resumed ? ", again from the start for the database pages (no "
		    "page index goes with the state; files already written are not written "
		    "again)" : ", resuming from its state");
	fflush(stdout);
	stop_signals_catch(saved);
	rc = scan(run);
	if (rc == 0 && run->db.pages)
		write_pages(run);
	stop_signals_restore(saved);
	code = finish(run, rc);
out:
	carve_scan_free(&run->scan);
	dbpages_close(run->db.pages);
	carve_store_free(&run->out);
	store_close(run->store);
	if (run->busy_written)
		busy_unmark(RESCUE_BUSY_DIR, run->source.identity.name);
	source_close(&run->source);
	free(run->extents);
	carve_rules_free(&run->config_rules);
	carve_rules_free(&run->given_rules);
	free(run);
	return code;
}
