/* check: read-only file system check of a device, summarised
 *
 * usage: rescue check [--json] [--verbose] DEV
 *
 * For ext2/3/4: reads the superblock (state, recorded errors, last mount and check, whether
 * the journal needs recovery) and runs `e2fsck -fn`, which opens DEV read-only and answers
 * no to every question, then sums up what it found by kind: clean, or how many inode bitmap
 * differences, directory entry problems, orphaned inodes and so on. When the primary
 * superblock cannot be read the backups are tried and the one that worked is named.
 * Nothing is written to DEV; `rescue repair DEV` repairs a copy-on-write copy instead.
 *
 * Other file systems cannot be checked read-only here (xfs_repair, btrfs check and
 * fsck.vfat are not in the image): check says so and what to do instead.
 *
 *   --json       print the facts and the summary as one JSON object
 *   --verbose    also print e2fsck's own output, whole
 *
 * DEV is a partition or a whole disk holding a file system: sda1 or /dev/sda1.
 *
 * Exit codes: 0 clean, 1 damage found, 2 usage error, 3 could not check (no such device,
 * not ext, unreadable).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "base/err.h"
#include "base/journal.h"
#include "base/json.h"
#include "cli/command.h"
#include "cli/opt.h"
#include "disk/block.h"
#include "disk/device.h"
#include "fs/e2fsck.h"
#include "fs/extfs.h"
#include "fs/probe.h"
#include "usage/check.h"

static int check_main(int argc, char **argv);

const struct command command_check = {
	.name = "check",
	.summary = COMMAND_SUMMARY,
	.usage = COMMAND_USAGE,
	.menu_label = "check a file system (read-only)",
	.menu_rank = 30,
	.menu_prompt = "device (e.g. sda1)",
	.run = check_main,
};

struct check_options {
	int json;
	int verbose;
	const char *operand;
};

struct check_run {
	struct device device;
	struct probe_result probe;
	struct extfs_facts facts;
	struct spawn_result fsck;
	int fsck_exit;
	struct e2fsck_summary summary;
};

static int parse_options(int argc, char **argv, struct check_options *options)
{
	static const struct option long_options[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "verbose", no_argument, NULL, 'v' },
		{ NULL, 0, NULL, 0 },
	};
	struct opt_parser opts = opt_parser(&command_check, argc, argv, "jv", long_options);
	int option;

	while ((option = opt_next(&opts)) != OPT_DONE)
		switch (option) {
		case 'j': options->json = 1; break;
		case 'v': options->verbose = 1; break;
		case OPT_STOP: return opts.exit_code;
		}
	if (opt_operands(&opts, 1, 1) != 0)
		return opts.exit_code;
	options->operand = opts.operands[0];
	return -1;
}

static int resolve(const char *operand, struct device *device)
{
	char partitions[512];

	if (device_resolve(operand, device) != 0)
		return err_fatalx(EXIT_SYSTEM, "unable to check %s: %s", operand,
		    device_resolve_error(errno));
	if (device_partitions(block_sysfs_root(), device->name, partitions, sizeof partitions) > 0)
		return err_fatalx(EXIT_SYSTEM, "unable to check %s: it is a whole disk with "
		    "partitions (%s); check one of them", device->name, partitions);
	return 0;
}

/* Only ext can be checked; everything else gets a sentence saying what it is instead. The
 * probe is a hint: when it sees nothing, libext2fs still gets its chance (backups). */
static int refuse_other_content(const struct check_run *run)
{
	const char *type = run->probe.type, *advice = device_content_advice(type);

	if (type[0] == '\0' || strncmp(type, "ext", 3) == 0)
		return 0;
	if (advice)
		return err_fatalx(EXIT_SYSTEM, "unable to check %s: %s holds %s: %s",
		    run->device.name, run->device.name, type, advice);
	if (strcmp(type, "xfs") == 0)
		return err_fatalx(EXIT_SYSTEM, "unable to check %s: xfs cannot be checked read-only "
		    "here (xfs_repair is not in the image); `rescue mount %s` shows the files "
		    "without log recovery, `rescue repair %s` replays the log on a copy",
		    run->device.name, run->device.name, run->device.name);
	return err_fatalx(EXIT_SYSTEM, "unable to check %s: %s cannot be checked read-only here "
	    "(no %s checker in the image); `rescue mount %s` shows the files read-only%s",
	    run->device.name, type, type, run->device.name,
	    strcmp(type, "btrfs") == 0 ? ", `rescue repair` mounts a copy with log replay" : "");
}

static int read_superblock(struct check_run *run)
{
	char why[128];

	if (extfs_read(run->device.path, &run->facts, why, sizeof why) == 0)
		return 0;
	if (strncmp(run->probe.type, "ext", 3) == 0)
		return err_fatalx(EXIT_SYSTEM, "unable to read any superblock of %s (%s): the "
		    "primary says: %s, and no backup superblock could be read either",
		    run->device.name, run->probe.type, why);
	return err_fatalx(EXIT_SYSTEM, "unable to check %s: no ext2/3/4 file system on it (%s), "
	    "and no other file system was recognised", run->device.name, why);
}

static void format_time(time_t when, char *text, size_t size)
{
	struct tm tm;

	if (when == 0 || gmtime_r(&when, &tm) == NULL)
		snprintf(text, size, "never");
	else
		strftime(text, size, "%Y-%m-%d %H:%M:%S UTC", &tm);
}

static void print_facts(const struct check_run *run)
{
	const struct extfs_facts *facts = &run->facts;
	char mounted[40], written[40], checked[40], error[40];

	format_time(facts->last_mount_time, mounted, sizeof mounted);
	format_time(facts->last_write_time, written, sizeof written);
	format_time(facts->last_check_time, checked, sizeof checked);
	format_time(facts->last_error_time, error, sizeof error);
	printf("%s: %s", run->device.name, facts->type);
	if (facts->label[0])
		printf(" \"%s\"", facts->label);
	printf(", %llu blocks of %u bytes, %llu free; %u inodes, %u free\n", facts->blocks,
	    facts->blocksize, facts->free_blocks, facts->inodes, facts->free_inodes);
	if (facts->superblock)
		printf("  superblock: the primary is unreadable (%s); using the backup at block "
		    "%lu (block size %u)\n", facts->primary_error, facts->superblock,
		    facts->blocksize);
	printf("  state: %s; errors recorded by the kernel: %u", extfs_state(facts),
	    facts->error_count);
	if (facts->error_count)
		printf(", last %s in %s", error, facts->last_error_function[0]
		    ? facts->last_error_function : "?");
	printf("\n  last mounted: %s%s%s; last written: %s; last checked: %s\n", mounted,
	    facts->last_mounted_on[0] ? " on " : "", facts->last_mounted_on, written, checked);
	printf("  journal needs recovery: %s\n", facts->needs_recovery ? "yes (not replayed: "
	    "read-only)" : "no");
}

/* e2fsck -b reads the backup and never mentions that the primary is gone: that is damage
 * too, and the first thing e2fsck -y would write. */
static void note_lost_primary(struct check_run *run)
{
	struct e2fsck_kind_total *total = &run->summary.kinds[KIND_SUPERBLOCK];

	if (run->facts.superblock == 0)
		return;
	if (total->problems++ == 0)
		snprintf(total->example, sizeof total->example, "the primary superblock is "
		    "unreadable: %.100s", run->facts.primary_error);
	total->items++;
	run->summary.problems++;
	if (run->fsck_exit == 0)
		run->fsck_exit = 4;
}

static int kinds_found(const struct e2fsck_summary *summary)
{
	int kind, count = 0;

	for (kind = 0; kind < KIND_COUNT; kind++)
		count += summary->kinds[kind].problems > 0;
	return count;
}

/* e2fsck -n exits 0 when clean (a journal waiting for replay is no damage: a crash leaves
 * one), 4 when it left errors, 8 (or 12) when it could not go on. */
static int verdict(const struct check_run *run)
{
	if (run->fsck_exit == 0)
		return EXIT_OK;
	if ((run->fsck_exit & 4) || run->summary.problems > 0)
		return EXIT_LOSSES;
	return EXIT_SYSTEM;
}

static void print_summary(const struct check_run *run, int verbose)
{
	const struct e2fsck_summary *summary = &run->summary;
	int code = verdict(run);

	if (verbose)
		printf("--- e2fsck -fn %s (exit %d) ---\n%s--- end of e2fsck output ---\n",
		    run->device.path, run->fsck_exit, run->fsck.output);
	if (code == EXIT_OK) {
		if (summary->kinds[KIND_JOURNAL_RECOVERY].problems)
			printf("note: the journal holds changes not yet written to their place (left "
			    "by a crash or power loss): `rescue mount` shows the files without them, "
			    "`rescue repair` replays them on a copy\n");
		printf("%s: clean (e2fsck -fn found no damage%s%s)\n", run->device.name,
		    summary->usage[0] ? ": " : "", summary->usage);
		return;
	}
	if (code == EXIT_SYSTEM) {
		printf("%s: e2fsck -fn could not check it (exit %d); its output:\n%s",
		    run->device.name, run->fsck_exit, run->fsck.output);
		return;
	}
	printf("e2fsck -fn found %u problems of %d kinds (nothing was changed):\n",
	    summary->problems, kinds_found(summary));
	e2fsck_print_kinds(stdout, summary, 0);
	if (summary->aborted)
		printf("  e2fsck stopped early (it cannot go on without fixing): there may be "
		    "more damage than this\n");
	printf("%s: damaged; `rescue repair %s` repairs a copy-on-write copy and mounts it\n",
	    run->device.name, run->device.name);
}

static void print_json(const struct check_run *run)
{
	const struct extfs_facts *facts = &run->facts;
	static const char *const verdicts[] = { "clean", "damaged", "", "unchecked" };

	printf("{");
	json_member_string(stdout, "device", run->device.name, 0);
	json_member_string(stdout, "type", facts->type, 1);
	json_member_string(stdout, "label", facts->label, 1);
	json_member_string(stdout, "verdict", verdicts[verdict(run)], 1);
	printf(",\"superblock\":{\"block\":%lu,\"blocksize\":%u,", facts->superblock,
	    facts->blocksize);
	json_member_string(stdout, "state", extfs_state(facts), 0);
	printf(",\"error_count\":%u,\"last_error_time\":%lld,", facts->error_count,
	    (long long)facts->last_error_time);
	json_member_string(stdout, "last_error_function", facts->last_error_function, 0);
	printf(",\"last_mount_time\":%lld,\"last_write_time\":%lld,\"last_check_time\":%lld,"
	    "\"needs_recovery\":%s,\"blocks\":%llu,\"free_blocks\":%llu,\"inodes\":%u,"
	    "\"free_inodes\":%u},\"e2fsck\":", (long long)facts->last_mount_time,
	    (long long)facts->last_write_time, (long long)facts->last_check_time,
	    facts->needs_recovery ? "true" : "false", facts->blocks, facts->free_blocks,
	    facts->inodes, facts->free_inodes);
	e2fsck_print_json(stdout, &run->summary, run->fsck_exit);
	printf("}\n");
}

static void record_summary(const struct check_run *run)
{
	int code = verdict(run);

	if (code == EXIT_OK)
		journal_summary("%s (%s) clean", run->device.name, run->facts.type);
	else if (code == EXIT_LOSSES)
		journal_summary("%s (%s) damaged: %u problems of %d kinds%s", run->device.name,
		    run->facts.type, run->summary.problems, kinds_found(&run->summary),
		    run->summary.aborted ? ", e2fsck stopped early" : "");
	else
		journal_summary("%s (%s) could not be checked: e2fsck exit %d", run->device.name,
		    run->facts.type, run->fsck_exit);
}

static int check_main(int argc, char **argv)
{
	struct check_options options = { 0 };
	struct check_run run;
	int code;

	memset(&run, 0, sizeof run);
	code = parse_options(argc, argv, &options);
	if (code >= 0)
		return code;
	if ((code = resolve(options.operand, &run.device)) != 0)
		return code;
	if (probe_device(run.device.path, &run.probe) != 0)
		run.probe.type[0] = '\0';
	if ((code = refuse_other_content(&run)) != 0 || (code = read_superblock(&run)) != 0)
		return code;
	if (e2fsck_run(run.device.path, "-n", run.facts.superblock, run.facts.blocksize,
	    &run.fsck) != 0)
		return err_fatal(EXIT_SYSTEM, "unable to run e2fsck on %s", run.device.path);
	run.fsck_exit = spawn_exit_code(&run.fsck);
	if (run.fsck_exit == 127)
		code = err_fatalx(EXIT_SYSTEM, "unable to run e2fsck on %s: e2fsck not found",
		    run.device.path);
	else {
		e2fsck_summarise(run.fsck.output, &run.summary);
		note_lost_primary(&run);
		if (options.json)
			print_json(&run);
		else {
			print_facts(&run);
			print_summary(&run, options.verbose);
		}
		record_summary(&run);
		code = verdict(&run);
	}
	spawn_result_free(&run.fsck);
	return code;
}
