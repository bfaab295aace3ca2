/* dump: every readable file of a file system to a target, as archives, with a manifest
 *
 * usage: rescue dump [options] SRC [TARGET]
 *
 * Copies every file of SRC into pax archives (zstd-compressed by default) in the directory
 * TARGET (the default target, rescue.target=, when not given), and writes beside them what
 * arrived: NAME.sha256, `sha256sum -c` lines for every file copied whole, and
 * NAME.manifest.json, naming every inode reached as copied, partial (with the byte ranges
 * that could not be read: zeros in the archive), failed or skipped, with the reason. Nothing
 * is left out silently. NAME is the source's kernel name (sda2) unless --name says
 * otherwise.
 *
 * SRC is a device (sda2, /dev/vdb), mounted read-only here without journal replay (or read
 * through its mount when it is mounted already), or a directory. An ext2/3/4 file system
 * that the kernel will not mount is read directly with libext2fs instead, through a backup
 * superblock when the primary is damaged; --direct does that from the start.
 *
 * Databases go first: PostgreSQL data directories (PG_VERSION, global/pg_control), MySQL
 * and MariaDB ones (ibdata1) and SQLite files (by their header); the summary names them,
 * with their version and whether all their files arrived whole. --first puts other paths
 * ahead of them. Metadata kept: owners, modes, modification times (to the second, as GNU
 * tar keeps them; to the ns with --exact-times, and always in the manifest), symbolic and
 * hard links, device nodes, fifos, extended attributes (ACLs among them, as
 * system.posix_acl_* attributes), holes of sparse files.
 *
 * The archive is cut into volumes, NAME.001.tar.zst, NAME.002.tar.zst, ..., each a whole
 * archive, written as NAME.NNN.tar.zst.part and renamed, and named in the manifest, once
 * all of it is on the target (a .part left by an interrupted run is never needed). Running
 * the same command again sends only what the target does not hold whole yet (a file
 * changed since, partial or failed before, or in a volume an interrupted run did not
 * finish), as a new volume. A lost connection is retried with a growing pause (1, 2, 4 ...
 * 30 s), forever unless --give-up bounds it; nothing is lost or sent twice within a volume.
 *
 * The manifest and the sums are written as the run goes, never held whole in memory: each
 * volume's entries go to NAME.manifest.json.part and NAME.sha256.part once it is on the
 * target, NAME.manifest.state records how much of them is good, and both are renamed into
 * place when the run finishes; a run cut short resumes from them. Memory does not grow
 * with the number of files beyond about 90 bytes and the path per inode with several
 * links; a volume also closes once its files' manifest text reaches 4 MiB. Resuming, the
 * earlier manifest is held as 16 bytes per entry while that fits in --resume-memory;
 * past it, the walk is matched against it a chunk at a time (one more reading of the
 * earlier manifest per chunk of --resume-memory / 16 files), keeping about 1.3 bytes per
 * file: ten million files resume in about 50 MiB.
 *
 * On the receiver, extract the volumes in order and check:
 *
 *   mkdir tree && for v in NAME.[0-9]*.tar.zst; do tar -xpf "$v" -C tree; done
 *   cd tree && sha256sum -c ../NAME.sha256
 *
 *   --direct             read an ext2/3/4 file system with libext2fs, without mounting
 *   --metadata           send an e2image of the ext2/3/4 file system's metadata instead
 *                        (NAME.e2image.zst: `zstd -d` gives a raw image, sparse, for
 *                        debugfs, dumpe2fs and e2fsck -n)
 *   --compress KIND      zstd (default), gzip or none
 *   --first PATTERN      dump matching paths first (repeatable)
 *   --include PATTERN    dump only matching paths (repeatable); the rest is skipped
 *   --exclude PATTERN    skip matching paths (repeatable)
 *   --volume-size SIZE   start a new volume after this much (default 1G; 0: one volume)
 *   --exact-times        every entry with its mtime, atime and ctime to the nanosecond
 *                        (a pax header of 1 KiB more per file); by default a file that
 *                        needs no pax header for anything else gets a plain ustar one
 *                        with mtime to the second, as tar and bsdtar write by default
 *   --name NAME          the files are NAME.NNN.tar.zst, NAME.sha256, NAME.manifest.json
 *   --resume-memory SIZE memory for matching an earlier run's manifest (default 16M):
 *                        less means more readings of it from the target
 *   --give-up SECONDS    stop when the target stays unreachable this long (default: never)
 *   --json               progress as JSON lines, then {"event":"summary",...}
 *
 * A PATTERN with a '/' is matched against the path from the file system's root and each
 * directory above it ('*' matches across '/'); one without, against each name in the path:
 * `--exclude '*.log' --exclude var/cache --first srv/www/uploads`. A directory that
 * matches takes everything below it.
 *
 * Targets: ssh://, nfs://, smb://, file:// hold the volumes and the manifest; tcp:// takes
 * one volume as a plain stream (`nc -l PORT > NAME.tar.zst` on the receiver; the manifest
 * stays in RAM on this machine, in /run/rescue/tcp); nbd:// holds a disk image, not files.
 *
 * Exit codes: 0 every file copied whole, 1 finished with partial or failed files (the
 * manifest names them), 2 usage error, 3 the source could not be read at all, the target
 * failed (what is in the finished volumes is safe: the same command resumes), or a signal
 * stopped the run.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>

#include "base/clock.h"
#include "base/err.h"
#include "base/journal.h"
#include "base/json.h"
#include "base/shown.h"
#include "cli/command.h"
#include "cli/opt.h"
#include "cli/stop.h"
#include "disk/cow.h"
#include "disk/device.h"
#include "disk/inventory.h"
#include "fs/extfs.h"
#include "fs/mountfs.h"
#include "fs/probe.h"
#include "salvage/dump.h"
#include "salvage/progress.h"
#include "target/store.h"
#include "target/target.h"
#include "usage/dump.h"

static int dump_main(int argc, char **argv);

const struct command command_dump = {
	.name = "dump",
	.summary = COMMAND_SUMMARY,
	.usage = COMMAND_USAGE,
	.menu_label = "dump files to a target",
	.menu_rank = 46,
	.menu_prompt = "source and target (e.g. sda2 ssh://user@host/dir)",
	.run = dump_main,
};

#define DUMP_MOUNT_DIR "/run/rescue/dump"
enum { PATTERNS_MAX = 64, LISTED_MAX = 20 };

struct dump_command_options {
	struct dump_options engine;
	const char *first[PATTERNS_MAX + 1], *include[PATTERNS_MAX + 1],
	    *exclude[PATTERNS_MAX + 1];
	int direct, metadata, json;
	long give_up;
	const char *source_operand, *target_url, *name;
};

struct dump_command {
	struct dump_command_options options;
	struct target target;
	struct store *store;
	struct fstree *tree;
	struct device device;
	int is_device;
	char name[256];
	char mounted_at[PATH_MAX];	/* where we mounted it, to unmount */
	char manifest_name[300], sums_name[300];
	char manifest_part[310], sums_part[310], state_name[310], manifest_prev[310];
	char volume_file[300];		/* the volume being written, as NAME.NNN.tar.zst.part */
	/* The manifest's logs go where the volumes go, or for tcp:// to a file store in RAM;
	 * one file is open on a store at a time, the one named here. */
	struct store *log_store;
	char opened[310], log_opened[310];
	uint64_t log_bytes, sums_bytes;	/* of the logs written so far */
	int logs_started;
	/* What the earlier runs left: SOURCE's first SOURCE_BYTES, and the checkpoint's
	 * volumes. */
	char source[320];
	uint64_t source_bytes;
	char *checkpoint_text;
	size_t checkpoint_size;
	struct manifest manifest;
	char failure[1400];
	struct timespec started, shown;
	int line_open;			/* a progress line without its newline yet */
	int tty;			/* stderr is a terminal: the line is redrawn */
};

/* ------------------------------------------------------------------ options */

static int add_pattern(const char **list, const char *pattern, const char *option)
{
	int count = 0;

	while (list[count])
		count++;
	if (count == PATTERNS_MAX)
		return err_usage(command_dump.usage, "%s %s: at most %d patterns", option, pattern,
		    PATTERNS_MAX);
	list[count] = pattern;
	return -1;
}

static int parse_compress(const char *text, enum dump_compress *compress)
{
	if (!strcmp(text, "zstd"))
		*compress = DUMP_ZSTD;
	else if (!strcmp(text, "gzip"))
		*compress = DUMP_GZIP;
	else if (!strcmp(text, "none"))
		*compress = DUMP_NONE;
	else
		return err_usage(command_dump.usage, "--compress %s: not zstd, gzip or none", text);
	return -1;
}

static int parse_option(int option, struct dump_command_options *options)
{
	unsigned long long bytes;
	int code;

	switch (option) {
	case 'd': options->direct = 1; break;
	case 'M': options->metadata = 1; break;
	case 'c': return parse_compress(optarg, &options->engine.compress);
	case 'f': return add_pattern(options->first, optarg, "--first");
	case 'I': return add_pattern(options->include, optarg, "--include");
	case 'x': return add_pattern(options->exclude, optarg, "--exclude");
	case 'v':
		if (size_parse(optarg, &bytes) != 0)
			return err_usage(command_dump.usage, "--volume-size %s: not a size", optarg);
		options->engine.volume_size = bytes;
		break;
	case 'm': options->name = optarg; break;
	case 'r':
		if (size_parse(optarg, &bytes) != 0 || bytes < 4096 || bytes > SIZE_MAX)
			return err_usage(command_dump.usage, "--resume-memory %s: not a size of 4K or "
			    "more", optarg);
		options->engine.resume_memory = (size_t)bytes;
		break;
	case 'g':
		code = opt_seconds(&command_dump, "--give-up", optarg, &options->give_up);
		return code ? code : -1;
	case 'j': options->json = 1; break;
	case 't': options->engine.exact_times = 1; break;
	}
	return -1;
}

static int parse_options(int argc, char **argv, struct dump_command_options *options)
{
	static const struct option long_options[] = {
		{ "direct", no_argument, NULL, 'd' },
		{ "metadata", no_argument, NULL, 'M' },
		{ "compress", required_argument, NULL, 'c' },
		{ "first", required_argument, NULL, 'f' },
		{ "include", required_argument, NULL, 'I' },
		{ "exclude", required_argument, NULL, 'x' },
		{ "volume-size", required_argument, NULL, 'v' },
		{ "name", required_argument, NULL, 'm' },
		{ "resume-memory", required_argument, NULL, 'r' },
		{ "give-up", required_argument, NULL, 'g' },
		{ "json", no_argument, NULL, 'j' },
		{ "exact-times", no_argument, NULL, 't' },
		{ NULL, 0, NULL, 0 },
	};
	struct opt_parser opts = opt_parser(&command_dump, argc, argv, "dMc:f:I:x:v:m:r:g:jt",
	    long_options);
	int option, code;

	options->give_up = -1;
	options->engine.volume_size = 1ULL << 30;
	while ((option = opt_next(&opts)) != OPT_DONE) {
		if (option == OPT_STOP)
			return opts.exit_code;
		if ((code = parse_option(option, options)) >= 0)
			return code;
	}
	if ((code = opt_source_target(&opts, &options->source_operand,
	    &options->target_url)) != 0)
		return code;
	if (options->name && (code = opt_file_name(&command_dump, "--name", options->name)) != 0)
		return code;
	options->engine.first = options->first;
	options->engine.include = options->include;
	options->engine.exclude = options->exclude;
	return -1;
}

/* ------------------------------------------------------------------ the source */

static int open_direct(struct dump_command *run, const char *why_mount)
{
	char why[1024];

	run->tree = fstree_ext_open(run->device.path, why, sizeof why);
	if (run->tree)
		return 0;
	if (why_mount)
		return err_fatalx(EXIT_SYSTEM, "unable to read %s: %s; and read directly: %s",
		    run->device.name, why_mount, why);
	return err_fatalx(EXIT_SYSTEM, "unable to read %s directly: %s", run->device.name, why);
}

static int is_ext(const char *type)
{
	return !strcmp(type, "ext2") || !strcmp(type, "ext3") || !strcmp(type, "ext4");
}

static int open_mounted(struct dump_command *run, const char *dir)
{
	char why[1024];

	if (!(run->tree = fstree_dir_open(dir, why, sizeof why)))
		return err_fatalx(EXIT_SYSTEM, "unable to read %s: %s", run->device.name, why);
	return 0;
}

/* Mounted read-only without replay; an ext file system the kernel refuses is read
 * directly instead. */
static int mount_source(struct dump_command *run)
{
	const struct mountfs_type *type;
	struct extfs_facts facts;
	struct probe_result probe;
	char dir[PATH_MAX], extra[32] = "", why[512];
	int made_dir;

	if (probe_device(run->device.path, &probe) != 0)
		return err_fatal(EXIT_SYSTEM, "unable to read %s", run->device.path);
	if (extfs_probe_backup(run->device.path, &probe, &facts) && facts.superblock)
		snprintf(extra, sizeof extra, "sb=%lu", facts.superblock * (facts.blocksize / 1024));
	if (!(type = mountfs_lookup(probe.type))) {
		const char *advice = device_content_advice(probe.type);

		return err_fatalx(EXIT_SYSTEM, "unable to dump %s: it holds %s%s%s", run->device.name,
		    probe.type[0] ? probe.type : "no file system we know", advice ? ": " : "",
		    advice ? advice : " (`rescue image` copies it whole)");
	}
	mkdir("/run/rescue", 0755);
	mkdir(DUMP_MOUNT_DIR, 0755);
	snprintf(dir, sizeof dir, "%s/%s", DUMP_MOUNT_DIR, run->device.name);
	if (mountfs_mount(run->device.path, dir, type, 0, extra, &made_dir) == 0) {
		snprintf(run->mounted_at, sizeof run->mounted_at, "%s", dir);
		if (open_mounted(run, dir) != 0)
			return EXIT_SYSTEM;
		snprintf(run->tree->description, sizeof run->tree->description,
		    "%s on %.100s, mounted read-only (%s%s%s)", probe.type, run->device.path,
		    type->no_replay[0] ? type->no_replay : "ro", extra[0] ? ", " : "", extra);
		return 0;
	}
	snprintf(why, sizeof why, "the kernel will not mount it (%s): %s", probe.type,
	    err_text(errno));
	if (made_dir)
		rmdir(dir);
	if (!is_ext(probe.type))
		return err_fatalx(EXIT_SYSTEM, "unable to dump %s: %s; `rescue check %s` says more",
		    run->device.name, why, run->device.name);
	err_warnx("%s: %s; reading it directly with libext2fs", run->device.name, why);
	return open_direct(run, why);
}

static int open_source(struct dump_command *run)
{
	const char *operand = run->options.source_operand, *base;
	char dir[PATH_MAX], why[1024];
	struct stat st;

	if (stat(operand, &st) == 0 && S_ISDIR(st.st_mode)) {
		if (run->options.direct || run->options.metadata)
			return err_usage(command_dump.usage, "%s is a directory: --direct and "
			    "--metadata read a device", operand);
		if (!(run->tree = fstree_dir_open(operand, why, sizeof why)))
			return err_fatalx(EXIT_SYSTEM, "unable to dump %s", why);
		base = strrchr(operand, '/') && strrchr(operand, '/')[1] ? strrchr(operand, '/') + 1
		    : operand;
		snprintf(run->name, sizeof run->name, "%s", strcmp(base, "/") && base[0] != '/'
		    ? base : "root");
		return 0;
	}
	if (device_resolve(operand, &run->device) != 0)
		return err_fatalx(EXIT_SYSTEM, "unable to dump %s: %s", operand,
		    device_resolve_error(errno));
	run->is_device = 1;
	snprintf(run->name, sizeof run->name, "%s", run->device.name);
	if (run->options.metadata)
		return 0;
	if (run->options.direct)
		return open_direct(run, NULL);
	if (device_mount_point(NULL, run->device.rdev, dir, sizeof dir) == 1) {
		if (open_mounted(run, dir) != 0)
			return EXIT_SYSTEM;
		snprintf(run->tree->description, sizeof run->tree->description,
		    "%.100s, through its mount on %.120s", run->device.path, dir);
		return 0;
	}
	return mount_source(run);
}

static void close_source(struct dump_command *run)
{
	fstree_release(run->tree);
	run->tree = NULL;
	if (!run->mounted_at[0])
		return;
	if (umount2(run->mounted_at, 0) != 0)
		err_warn("unable to unmount %s", run->mounted_at);
	else
		rmdir(run->mounted_at);
}

/* ------------------------------------------------------------------ the target */

static int choose_target(struct dump_command *run)
{
	char why[PATH_MAX + 256], shown[1024];

	if (target_parse(run->options.target_url, &run->target, why, sizeof why) != 0) {
		journal_redact(run->options.target_url, shown, sizeof shown);
		return err_usage(command_dump.usage, "not a target URL: %s: %s", shown, why);
	}
	if (run->target.scheme == TARGET_NBD)
		return err_fatalx(EXIT_SYSTEM, "unable to dump %s to %s: nbd:// holds one disk "
		    "image, not archive files; dump to ssh://, nfs://, smb://, file:// or tcp://, "
		    "or use `rescue image`", run->name, run->target.display);
	if (run->target.scheme == TARGET_TCP && !run->options.metadata)
		run->options.engine.volume_size = 0;	/* a stream is one volume */
	if (run->options.name)
		snprintf(run->name, sizeof run->name, "%s", run->options.name);
	run->options.engine.name = run->name;
	snprintf(run->manifest_name, sizeof run->manifest_name, "%s.manifest.json", run->name);
	snprintf(run->sums_name, sizeof run->sums_name, "%s.sha256", run->name);
	snprintf(run->manifest_part, sizeof run->manifest_part, "%s.part", run->manifest_name);
	snprintf(run->manifest_prev, sizeof run->manifest_prev, "%s.prev", run->manifest_name);
	snprintf(run->sums_part, sizeof run->sums_part, "%s.part", run->sums_name);
	snprintf(run->state_name, sizeof run->state_name, "%s.manifest.state", run->name);
	return 0;
}

/* tcp:// carries the volume only: the manifest's logs go to RAM, /run/rescue/tcp (or
 * $RESCUE_TCP_MAP_DIR, as the tcp store's map). */
static int open_ram_store(struct dump_command *run)
{
	const char *dir = getenv("RESCUE_TCP_MAP_DIR");
	char url[PATH_MAX + 16], why[1200];
	struct target ram;
	int transient;

	dir = dir && dir[0] ? dir : "/run/rescue/tcp";
	mkdir("/run/rescue", 0755);
	mkdir(dir, 0700);
	snprintf(url, sizeof url, "file://%s", dir);
	if (target_parse(url, &ram, why, sizeof why) != 0
	    || !(run->log_store = store_open(&ram, run->name, why, sizeof why, &transient)))
		return err_fatalx(EXIT_SYSTEM, "unable to keep the manifest in %s: %s", dir, why);
	run->options.engine.manifest_apart = 1;
	return 0;
}

static int open_store(struct dump_command *run)
{
	char why[1200];
	int transient;

	run->store = store_open(&run->target, run->name, why, sizeof why, &transient);
	if (!run->store)
		return err_fatalx(EXIT_SYSTEM, "unable to dump %s to %s", run->name, why);
	run->log_store = run->store;
	if (run->target.scheme == TARGET_TCP && !run->options.metadata)
		return open_ram_store(run);
	return 0;
}

/* ------------------------------------------------------------------ the sink */

static int recover(struct dump_command *run)
{
	return store_recover(run->store, (int)run->options.give_up, &stop_requested,
	    run->failure, sizeof run->failure);
}

/* The same for the manifest's store when it is not the target (tcp://: RAM). */
static int recover_on(struct dump_command *run, struct store *store)
{
	if (store == run->store)
		return recover(run);
	snprintf(run->failure, sizeof run->failure, "%s", store_error(store));
	return -1;
}

/* NAME becomes the file open on STORE (the one before is flushed); *SIZE, when given,
 * is its size, and then it is opened even when it is open already. */
static int switch_to(struct dump_command *run, struct store *store, const char *name,
    uint64_t *size)
{
	char *opened = store == run->store ? run->opened : run->log_opened;
	uint64_t ignored;

	if (!size && !strcmp(opened, name))
		return 0;
	while (store_image_open_named(store, name, size ? size : &ignored) != 0)
		if (recover_on(run, store) != 0)
			return -1;
	snprintf(opened, sizeof run->opened, "%s", name);
	return 0;
}

static int replace_on(struct dump_command *run, struct store *store, const char *name,
    const char *text, size_t size)
{
	while (store_replace(store, name, text, size) != 0)
		if (recover_on(run, store) != 0)
			return -1;
	return 0;
}

static int rename_on(struct dump_command *run, struct store *store, const char *from,
    const char *to)
{
	if (store == run->store ? !strcmp(run->opened, from) : !strcmp(run->log_opened, from)) {
		store_image_done(store);	/* a reconnect must not make FROM anew */
		(store == run->store ? run->opened : run->log_opened)[0] = '\0';
	}
	while (store_rename(store, from, to) != 0)
		if (recover_on(run, store) != 0)
			return -1;
	return 0;
}

/* A checkpoint left by an interrupted run names its log, which this run is about to
 * write anew: that log is kept as .prev, and the checkpoint says so. */
static int keep_interrupted_log(struct dump_command *run, struct manifest_checkpoint *point)
{
	char *text;
	size_t size;
	int rc;

	if (strcmp(point->log, run->manifest_part))
		return 0;
	if (rename_on(run, run->store, run->manifest_part, run->manifest_prev) != 0)
		return -1;
	snprintf(point->log, sizeof point->log, "%s", run->manifest_prev);
	/* The volumes are the checkpoint's lines after the first. */
	text = memchr(run->checkpoint_text, '\n', run->checkpoint_size);
	size = run->checkpoint_size - (size_t)(text ? text + 1 - run->checkpoint_text : 0);
	snprintf(run->failure, sizeof run->failure, "{\"format\":\"rescue-dump-checkpoint-1\","
	    "\"log\":\"%s\",\"log_bytes\":%" PRIu64 ",\"sums\":\"%s\",\"sums_bytes\":0}\n",
	    point->log, point->log_bytes, run->sums_part);
	if (!(text = malloc(strlen(run->failure) + size + 1)))
		return err_fatal(EXIT_SYSTEM, "unable to read the checkpoint");
	memcpy(text, run->failure, strlen(run->failure));
	memcpy(text + strlen(run->failure), run->checkpoint_text + run->checkpoint_size - size, size);
	size += strlen(run->failure);
	run->failure[0] = '\0';
	rc = replace_on(run, run->store, run->state_name, text, size);
	free(run->checkpoint_text);
	run->checkpoint_text = text;
	run->checkpoint_size = size;
	return rc;
}

/* The checkpoint, when it is there and its log is as long as it says. */
static int use_checkpoint(struct dump_command *run)
{
	struct manifest_checkpoint point;
	char why[256];
	uint64_t size;
	int found = store_get(run->store, run->state_name, &run->checkpoint_text,
	    &run->checkpoint_size);

	if (found < 0)
		return err_fatalx(EXIT_SYSTEM, "unable to read %s: %s", run->state_name,
		    store_error(run->store));
	if (found == 1)
		return 1;
	if (manifest_parse_checkpoint(run->checkpoint_text, run->checkpoint_size, &point, why,
	    sizeof why) != 0)
		return err_fatalx(EXIT_SYSTEM, "unable to resume from %s on %s: %s; it was left as "
		    "it is (use --name for a new dump)", run->state_name, run->target.display, why);
	if (store_size_of(run->store, point.log, &size) != 0 || size < point.log_bytes) {
		free(run->checkpoint_text);
		run->checkpoint_text = NULL;
		return 1;	/* its log is gone (renamed into place since): the manifest */
	}
	if (keep_interrupted_log(run, &point) != 0)
		return EXIT_SYSTEM;
	snprintf(run->source, sizeof run->source, "%s", point.log);
	run->source_bytes = point.log_bytes;
	return 0;
}

/* What earlier runs recorded: the checkpoint's log, or the manifest; nothing for tcp://
 * (every stream starts anew). */
static int load_manifest(struct dump_command *run)
{
	uint64_t size;
	int found;

	if (run->target.scheme == TARGET_TCP)
		return 0;
	if ((found = use_checkpoint(run)) != 1)
		return found;
	found = store_size_of(run->store, run->manifest_name, &size);
	if (found < 0)
		return err_fatalx(EXIT_SYSTEM, "unable to read %s: %s", run->manifest_name,
		    store_error(run->store));
	if (found == 0) {
		snprintf(run->source, sizeof run->source, "%s", run->manifest_name);
		run->source_bytes = size;
	}
	return 0;
}

typedef int line_fn(void *arg, const char *text, size_t length);

/* The whole lines of BUFFER[0, *HAVE) to LINE; what is left moves to the front. */
static int whole_lines(char *buffer, size_t *have, line_fn *line, void *arg)
{
	char *start = buffer, *newline;
	int rc = 0;

	while (rc == 0 && (newline = memchr(start, '\n', (size_t)(buffer + *have - start)))) {
		rc = line(arg, start, (size_t)(newline - start));
		start = newline + 1;
	}
	*have -= (size_t)(start - buffer);
	memmove(buffer, start, *have);
	return rc;
}

/* The first BYTES of NAME on the target to LINE, line by line, in pieces: the earlier
 * manifest is never in memory whole. */
static int stream_lines(struct dump_command *run, const char *name, uint64_t bytes,
    line_fn *line, void *arg)
{
	enum { PIECE = 256 << 10, LONGEST = 64 << 20 };
	size_t have = 0, capacity = 0, want;
	uint64_t at = 0;
	char *buffer = NULL, *bigger;
	ssize_t got;
	int rc = 0;

	while (rc == 0 && at < bytes) {
		want = bytes - at < PIECE ? (size_t)(bytes - at) : PIECE;
		if (have + want > capacity) {
			capacity = have + want;
			if (capacity > LONGEST || !(bigger = realloc(buffer, capacity))) {
				snprintf(run->failure, sizeof run->failure, "%s: a line longer than "
				    "64 MiB, or no memory for it", name);
				rc = -1;
				break;
			}
			buffer = bigger;
		}
		if ((rc = switch_to(run, run->store, name, NULL)) != 0)
			break;
		while ((got = store_pread(run->store, buffer + have, want, at)) < 0)
			if ((rc = recover(run)) != 0)
				break;
		if (rc != 0 || got == 0)
			break;
		have += (size_t)got, at += (uint64_t)got;
		rc = whole_lines(buffer, &have, line, arg);
	}
	if (rc == 0 && have)
		rc = line(arg, buffer, have);	/* the last entry of a log ends without one */
	free(buffer);
	return rc;
}

static int sink_read_earlier(void *context, line_fn *line, void *arg)
{
	struct dump_command *run = context;
	size_t have;
	int rc = 0;

	if (!run->source[0])
		return 0;
	if (run->checkpoint_text) {
		have = run->checkpoint_size;
		rc = whole_lines(run->checkpoint_text, &have, line, arg);
		/* whole_lines moved what was left to the front: read the text again next time */
		free(run->checkpoint_text);
		run->checkpoint_text = NULL;
		if (rc == 0 && store_get(run->store, run->state_name, &run->checkpoint_text,
		    &run->checkpoint_size) != 0)
			rc = -1;
	}
	return rc == 0 ? stream_lines(run, run->source, run->source_bytes, line, arg) : rc;
}

/* DATA at POSITION of the file open on STORE, in pieces a write request takes. */
static int write_on(struct dump_command *run, struct store *store, const char *data,
    size_t size, uint64_t position)
{
	size_t piece, done;

	for (done = 0; done < size; done += piece) {
		piece = size - done < (128 << 10) ? size - done : 128 << 10;
		while (store_pwrite(store, data + done, piece, position + done) != 0)
			if (recover_on(run, store) != 0)
				return -1;
	}
	return 0;
}

/* Each run writes its logs from the start. */
static int start_logs(struct dump_command *run)
{
	if (run->logs_started)
		return 0;
	if (replace_on(run, run->log_store, run->manifest_part, "", 0) != 0
	    || replace_on(run, run->log_store, run->sums_part, "", 0) != 0)
		return -1;
	run->logs_started = 1;
	run->log_bytes = run->sums_bytes = 0;
	return 0;
}

static int append_logs(struct dump_command *run, const char *json, size_t json_size,
    const char *sums, size_t sums_size)
{
	if (json_size && (switch_to(run, run->log_store, run->manifest_part, NULL) != 0
	    || write_on(run, run->log_store, json, json_size, run->log_bytes) != 0))
		return -1;
	run->log_bytes += json_size;
	if (sums_size && (switch_to(run, run->log_store, run->sums_part, NULL) != 0
	    || write_on(run, run->log_store, sums, sums_size, run->sums_bytes) != 0))
		return -1;
	run->sums_bytes += sums_size;
	while (store_flush(run->log_store) != 0)
		if (recover_on(run, run->log_store) != 0)
			return -1;
	return 0;
}

static int save_checkpoint(struct dump_command *run, struct manifest *manifest,
    const char *log, const char *sums)
{
	size_t size;
	char *text = manifest_checkpoint(manifest, log, run->log_bytes, sums, run->sums_bytes,
	    &size);
	int rc;

	if (!text) {
		snprintf(run->failure, sizeof run->failure, "out of memory for the manifest");
		return -1;
	}
	rc = replace_on(run, run->log_store, run->state_name, text, size);
	free(text);
	return rc;
}

/* The pending text onto the logs, flushed, then the checkpoint that counts it in. */
static int sink_append(void *context, struct manifest *manifest)
{
	struct dump_command *run = context;
	const char *json, *sums;
	size_t json_size, sums_size;

	if (manifest_take_pending(manifest, &json, &json_size, &sums, &sums_size) != 0) {
		snprintf(run->failure, sizeof run->failure, "out of memory for the manifest");
		return -1;
	}
	if (start_logs(run) != 0 || append_logs(run, json, json_size, sums, sums_size) != 0)
		return -1;
	return save_checkpoint(run, manifest, run->manifest_part, run->sums_part);
}

/* The JSON's end appended, both logs renamed into place, and the checkpoint pointing at
 * them, which the next run reads. */
static int sink_finish(void *context, struct manifest *manifest)
{
	struct dump_command *run = context;

	if (sink_append(context, manifest) != 0
	    || rename_on(run, run->log_store, run->sums_part, run->sums_name) != 0
	    || rename_on(run, run->log_store, run->manifest_part, run->manifest_name) != 0)
		return -1;
	return save_checkpoint(run, manifest, run->manifest_name, run->sums_name);
}

/* A volume is written as FILE.part and renamed to FILE once it is whole and flushed, so a
 * file of the final name is always a whole archive; an interrupted one stays .part. *SIZE:
 * how much is there already under either name (more than 0: the number is taken). */
static int sink_begin_volume(void *context, const char *file, uint64_t *size)
{
	struct dump_command *run = context;
	char part[sizeof run->volume_file + 8];
	int found;

	if (run->target.scheme == TARGET_TCP) {
		*size = 0;
		return store_image_open(run->store, size) == 0 ? 0 : recover(run) == 0 ? 0 : -1;
	}
	snprintf(run->volume_file, sizeof run->volume_file, "%s", file);
	snprintf(part, sizeof part, "%s.part", file);
	for (;;) {
		found = store_size_of(run->store, file, size);
		if (found == 0) {
			*size = *size ? *size : 1;	/* even empty, it is not ours to replace */
			return 0;
		}
		if (found == 1 && store_image_open_named(run->store, part, size) == 0) {
			snprintf(run->opened, sizeof run->opened, "%s", part);
			return 0;
		}
		if (recover(run) != 0)
			return -1;
	}
}

/* The manifest's logs may have been open on the store since the last write. */
static int sink_write(void *context, const void *data, size_t size, uint64_t position)
{
	struct dump_command *run = context;
	char part[sizeof run->volume_file + 8];

	snprintf(part, sizeof part, "%s.part", run->volume_file);
	if (run->target.scheme != TARGET_TCP && switch_to(run, run->store, part, NULL) != 0)
		return -1;
	while (store_pwrite(run->store, data, size, position) != 0)
		if (recover(run) != 0)
			return -1;
	return 0;
}

static int sink_end_volume(void *context, uint64_t size)
{
	struct dump_command *run = context;
	char part[sizeof run->volume_file + 8];

	snprintf(part, sizeof part, "%s.part", run->volume_file);
	if (run->target.scheme != TARGET_TCP && switch_to(run, run->store, part, NULL) != 0)
		return -1;
	run->store->expected_size = size;	/* tcp:// closes the stream once it is whole */
	while (store_flush(run->store) != 0)
		if (recover(run) != 0)
			return -1;
	if (run->target.scheme == TARGET_TCP)
		return 0;
	store_image_done(run->store);	/* a reconnect must not make a new, empty .part */
	run->opened[0] = '\0';
	snprintf(part, sizeof part, "%s.part", run->volume_file);
	while (store_rename(run->store, part, run->volume_file) != 0)
		if (recover(run) != 0)
			return -1;
	return 0;
}

static void show_json(const struct dump_progress *progress, double elapsed)
{
	printf("{\"event\":\"progress\",\"files\":%zu,\"files_total\":%zu,\"bytes\":%" PRIu64
	    ",\"bytes_total\":%" PRIu64 ",\"missing\":%" PRIu64 ",\"sent\":%" PRIu64
	    ",\"volume\":%u,\"elapsed\":%.1f}\n", progress->files_done, progress->files_total,
	    progress->bytes_done, progress->bytes_total, progress->missing_bytes, progress->sent,
	    progress->volume, elapsed);
	fflush(stdout);
}

static void show_line(const struct dump_progress *progress, double elapsed, int tty)
{
	char done[32], total[32], rate[32], eta[32] = "", sent[32];
	double speed = elapsed > 0 ? (double)progress->bytes_done / elapsed : 0;

	inventory_size_text(progress->bytes_done, done, sizeof done);
	inventory_size_text(progress->bytes_total, total, sizeof total);
	inventory_size_text((uint64_t)speed, rate, sizeof rate);
	inventory_size_text(progress->sent, sent, sizeof sent);
	if (speed > 0 && progress->bytes_total > progress->bytes_done) {
		strcpy(eta, "  ETA ");
		progress_duration((double)(progress->bytes_total - progress->bytes_done) / speed,
		    eta + 6, sizeof eta - 6);
	}
	fprintf(stderr, "%s%zu/%zu files  %s of %s  %s/s%s  sent %s  unreadable %" PRIu64
	    " B%s", tty ? "\r\033[K" : "", progress->files_done, progress->files_total, done,
	    total, rate, eta, sent, progress->missing_bytes, tty && !progress->force ? "" : "\n");
}

static void sink_progress(void *context, const struct dump_progress *progress)
{
	struct dump_command *run = context;
	int tty = run->tty;
	double since = seconds_since(&run->shown);

	if (!progress->force && since < (run->options.json ? 1.0 : tty ? 0.5 : 10.0))
		return;
	clock_gettime(CLOCK_MONOTONIC, &run->shown);
	if (run->options.json)
		show_json(progress, seconds_since(&run->started));
	else
		show_line(progress, seconds_since(&run->started), tty);
	run->line_open = !run->options.json && tty && !progress->force;
}

static int sink_stop_requested(void *context)
{
	(void)context;
	return stop_requested;
}

/* ------------------------------------------------------------------ metadata */

struct metadata_stream {
	struct dump_command *run;
	uint64_t position;
};


static ssize_t metadata_output(struct archive *archive, void *context, const void *data,
    size_t size)
{
	struct metadata_stream *stream = context;

	(void)archive;
	if (sink_write(stream->run, data, size, stream->position) != 0)
		return -1;
	stream->position += size;
	return (ssize_t)size;
}

/* e2image's output, read from PIPE, through zstd to the target. */
static int compress_metadata(struct dump_command *run, int pipe, struct archive *archive,
    struct metadata_stream *stream)
{
	struct archive_entry *entry = archive_entry_new();
	char buffer[1 << 16];
	ssize_t got;
	int rc = -1;

	if (!entry || archive_write_set_format_raw(archive) != ARCHIVE_OK
	    || archive_write_add_filter_zstd(archive) != ARCHIVE_OK
	    || archive_write_set_bytes_in_last_block(archive, 1) != ARCHIVE_OK
	    || archive_write_open2(archive, stream, NULL, metadata_output, NULL, NULL)
	    != ARCHIVE_OK)
		goto out;
	archive_entry_set_filetype(entry, AE_IFREG);
	archive_entry_set_pathname(entry, "e2image");
	if (archive_write_header(archive, entry) != ARCHIVE_OK)
		goto out;
	while ((got = read(pipe, buffer, sizeof buffer)) > 0 || (got < 0 && errno == EINTR))
		if (got > 0 && archive_write_data(archive, buffer, (size_t)got) != got)
			goto out;
	rc = got == 0 && archive_write_close(archive) == ARCHIVE_OK ? 0 : -1;
out:
	if (rc != 0 && !run->failure[0])
		snprintf(run->failure, sizeof run->failure, "%s", archive_error_string(archive)
		    ? archive_error_string(archive) : "unable to read e2image's output");
	archive_entry_free(entry);
	return rc;
}

/* Runs ARGV (e2image writing to stdout) and sends its output as NAME.e2image.zst. */
static int stream_metadata(struct dump_command *run, char **argv)
{
	struct metadata_stream stream = { run, 0 };
	struct archive *archive = archive_write_new();
	char file[300], size_text[32];
	int pipe_fds[2], status = 0, rc = -1;
	uint64_t size;
	pid_t child = -1;

	snprintf(file, sizeof file, "%s.e2image.zst", run->name);
	if (!archive || pipe(pipe_fds) != 0)
		return err_fatal(EXIT_SYSTEM, "unable to start e2image");
	size = 0;
	if (sink_begin_volume(run, file, &size) == 0 && size == 0 && (child = fork()) == 0) {
		dup2(pipe_fds[1], STDOUT_FILENO);
		close(pipe_fds[0]), close(pipe_fds[1]);
		execvp(argv[0], argv);
		_exit(127);
	}
	close(pipe_fds[1]);
	if (child < 0 && size > 0)
		snprintf(run->failure, sizeof run->failure, "it holds %s already (%" PRIu64 " bytes): "
		    "remove it there, or use --name", file, size);
	if (child > 0)
		rc = compress_metadata(run, pipe_fds[0], archive, &stream);
	close(pipe_fds[0]);
	if (child > 0)
		waitpid(child, &status, 0);
	archive_write_free(archive);
	if (child > 0 && (!WIFEXITED(status) || WEXITSTATUS(status)))
		return err_fatalx(EXIT_SYSTEM, "unable to send the metadata of %s: e2image failed "
		    "(%s %d); %s/%s.part is incomplete", run->device.name, WIFEXITED(status) ? "exit"
		    : "signal", WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status),
		    run->target.display, file);
	if (rc != 0 || sink_end_volume(run, stream.position) != 0)
		return err_fatalx(EXIT_SYSTEM, "unable to send the metadata of %s to %s/%s: %s",
		    run->device.name, run->target.display, file, run->failure);
	inventory_size_text(stream.position, size_text, sizeof size_text);
	printf("%s: metadata image %s/%s (%s, zstd; `zstd -d` gives a raw image for debugfs, "
	    "dumpe2fs, e2fsck -n)\n", run->device.name, run->target.display, file, size_text);
	journal_summary("metadata of %s to %s/%s (%" PRIu64 " bytes)", run->device.name,
	    run->target.display, file, stream.position);
	return EXIT_OK;
}

/* e2image -r writes the metadata blocks at their places and zeros between them:
 * compressed, a file system of any size shrinks to about the size of its metadata. A
 * damaged primary superblock is read past with a backup (-b, -B), as extfs.h finds it;
 * the image keeps the damaged one, as it is on the disk. */
static int send_metadata(struct dump_command *run)
{
	char superblock[32], block_size[32], why[256];
	char *argv[] = { "e2image", "-r", run->device.path, "-", NULL, NULL, NULL, NULL, NULL };
	struct extfs_facts facts;

	if (extfs_read(run->device.path, &facts, why, sizeof why) != 0)
		return err_fatalx(EXIT_SYSTEM, "unable to send the metadata of %s: no ext2/3/4 "
		    "superblock found: %s", run->device.name, why);
	if (facts.superblock) {
		snprintf(superblock, sizeof superblock, "%lu", facts.superblock);
		snprintf(block_size, sizeof block_size, "%u", facts.blocksize);
		argv[1] = "-b", argv[2] = superblock, argv[3] = "-B", argv[4] = block_size;
		argv[5] = "-r", argv[6] = run->device.path, argv[7] = "-";
	}
	return stream_metadata(run, argv);
}

/* ------------------------------------------------------------------ the result */

static void list_problems(const struct manifest_problem *list, size_t total,
    const char *heading)
{
	size_t i;

	/* Names and reasons come from the disk, damaged ones too: shown, never raw. */
	for (i = 0; i < MANIFEST_LISTED && i < total && list[i].path; i++) {
		printf("%s%s  ", i ? "" : heading, i ? "" : ":\n");
		shown_write(stdout, list[i].path, SHOWN_UNCUT);
		fputs(": ", stdout);
		shown_write(stdout, list[i].reason, SHOWN_UNCUT);
		putchar('\n');
	}
	if (total > MANIFEST_LISTED)
		printf("  ... and %zu more (%s lists them all)\n", total - MANIFEST_LISTED,
		    "the manifest");
}

static void print_databases(const struct manifest *manifest)
{
	const struct manifest_database *database;
	size_t i;

	for (i = 0; i < manifest->database_count; i++) {
		database = &manifest->databases[i];
		printf("database: %s%s%s at %s: %zu file%s, %s\n", database->kind,
		    database->version[0] ? " " : "", database->version,
		    database->path[0] ? database->path : "/", database->files,
		    database->files == 1 ? "" : "s", !manifest->databases_counted
		    ? "not all reached (the run stopped first)" : database->complete
		    == database->files ? "all copied whole" : "NOT all copied whole");
	}
}

/* The whole volumes, and the .part files of interrupted ones: a later run sends what they
 * held again, in a volume of its own, so they are never needed. */
static void print_volumes(struct dump_command *run)
{
	const struct manifest_volume *volume, *last = NULL;
	size_t i, whole = 0;

	for (i = 0; i < run->manifest.volume_count; i++) {
		volume = &run->manifest.volumes[i];
		if (!volume->complete)
			continue;
		last = volume;
		if (++whole <= 3)
			printf("%s %s", whole > 1 ? "," : "volumes:", volume->file);
	}
	if (whole > 3)
		printf("%s %s (%zu in all)", whole > 4 ? ", ..." : ",", last->file, whole);
	if (whole)
		printf("\n");
	for (i = 0; i < run->manifest.volume_count; i++) {
		volume = &run->manifest.volumes[i];
		if (!volume->complete && run->target.scheme != TARGET_TCP)
			printf("%s.part: an interrupted volume, not needed (what it held is sent "
			    "again in a later one): it can be deleted\n", volume->file);
	}
}

static void print_summary(struct dump_command *run, int code)
{
	struct manifest_totals totals = run->manifest.settled;
	char bytes[32], missing[32];

	if (run->options.json) {
		printf("{\"event\":\"summary\",");
		json_member_string(stdout, "source", run->manifest.source, 0);
		json_member_string(stdout, "target", run->target.display, 1);
		json_member_string(stdout, "manifest", run->manifest_name, 1);
		printf(",\"copied\":%zu,\"partial\":%zu,\"failed\":%zu,\"skipped\":%zu,\"bytes\":%"
		    PRIu64 ",\"missing_bytes\":%" PRIu64 ",\"volumes\":%zu,\"databases\":%zu,"
		    "\"exit\":%d}\n", totals.copied, totals.partial, totals.failed, totals.skipped,
		    totals.bytes, totals.missing_bytes, run->manifest.volume_count,
		    run->manifest.database_count, code);
		return;
	}
	inventory_size_text(totals.bytes, bytes, sizeof bytes);
	inventory_size_text(totals.missing_bytes, missing, sizeof missing);
	printf("%s: %zu copied, %zu partial, %zu failed, %zu skipped; %s of file data, %s of it "
	    "unreadable (zeros in the archive)\n", run->name, totals.copied, totals.partial,
	    totals.failed, totals.skipped, bytes, missing);
	print_databases(&run->manifest);
	list_problems(run->manifest.partial, totals.partial, "partial (the missing ranges are "
	    "in the manifest)");
	list_problems(run->manifest.failed, totals.failed, "failed");
	print_volumes(run);
	if (code == EXIT_SYSTEM)	/* the logs as far as the checkpoint counts them */
		printf("on %s: %s and %s up to the checkpoint %s%s\n", run->target.display,
		    run->manifest_part, run->sums_part, run->state_name,
		    run->target.scheme == TARGET_TCP ? " (in RAM here: /run/rescue/tcp)" : "");
	else
		printf("on %s: %s, %s%s\n", run->target.display, run->manifest_name,
		    run->sums_name, run->target.scheme == TARGET_TCP
		    ? " (in RAM here: /run/rescue/tcp)" : "");
}

static int verdict(struct dump_command *run, int rc)
{
	struct manifest_totals totals = run->manifest.settled;

	if (rc != 0)
		return EXIT_SYSTEM;
	return totals.partial || totals.failed ? EXIT_LOSSES : EXIT_OK;
}

static int finish(struct dump_command *run, int rc)
{
	struct manifest_totals totals = run->manifest.settled;
	int code;

	if (run->line_open)
		fputc('\n', stderr);
	code = verdict(run, rc);
	print_summary(run, code);
	if (rc != 0)
		err_warnx("unable to finish the dump of %s: %s; the finished volumes are on the "
		    "target, what they hold in %s up to the checkpoint %s (the same command "
		    "resumes; %s is written when a run finishes)", run->name, run->failure[0]
		    ? run->failure : "the target failed", run->manifest_part, run->state_name,
		    run->manifest_name);
	journal_summary("dump of %s to %s: %zu copied, %zu partial, %zu failed, %zu skipped%s",
	    run->name, run->target.display, totals.copied, totals.partial, totals.failed,
	    totals.skipped, rc != 0 ? " (stopped before the end)" : "");
	return code;
}

static int run_engine(struct dump_command *run)
{
	struct dump_sink sink = { run, sink_begin_volume, sink_write, sink_end_volume,
	    sink_read_earlier, sink_append, sink_finish, sink_progress, sink_stop_requested };
	struct sigaction saved[2];
	int rc;

	stop_signals_catch(saved);
	clock_gettime(CLOCK_MONOTONIC, &run->started);
	run->tty = isatty(STDERR_FILENO);
	run->shown = run->started;
	if (!run->options.json)
		printf("dumping %s (%s) to %s%s\n", run->name, run->tree->description,
		    run->target.display, run->source[0] ? ", resuming from its manifest" : "");
	fflush(stdout);
	rc = dump_run(run->tree, &run->options.engine, &sink, &run->manifest, run->failure,
	    sizeof run->failure);
	stop_signals_restore(saved);
	return rc;
}

static int dump_main(int argc, char **argv)
{
	struct dump_command *run = calloc(1, sizeof *run);
	int code;

	if (!run)
		return err_fatal(EXIT_SYSTEM, "unable to start the dump");
	stop_requested = 0;
	if ((code = parse_options(argc, argv, &run->options)) >= 0)
		goto out;
	if ((code = open_source(run)) != 0 || (code = choose_target(run)) != 0
	    || (code = open_store(run)) != 0)
		goto out;
	if (run->options.metadata) {
		code = send_metadata(run);
		goto out;
	}
	if ((code = load_manifest(run)) != 0)
		goto out;
	code = finish(run, run_engine(run));
out:
	if (run->log_store != run->store)
		store_close(run->log_store);
	store_close(run->store);
	free(run->checkpoint_text);
	close_source(run);
	manifest_free(&run->manifest);
	free(run);
	return code;
}
