/* unguard: release the write guard of a disk, to use it as a target
 *
 * usage: rescue unguard [--yes] DISK
 *
 * Every disk is read-only from the moment the kernel finds it. To write rescued data to a
 * local disk (file:///...), that disk must be released first, and only that disk. This asks
 * you to type the disk's name back (or takes --yes, for runbooks) and then releases it and
 * its partitions; `rescue guard DISK` sets the guard again. The release is recorded with its
 * time, and `rescue report` says for every disk whether it stayed guarded since boot.
 *
 * Refused, with the reason: a disk that does not exist; a partition (the guard belongs to
 * the whole disk: the message names it); a disk that is mounted, or one of whose partitions
 * is; a disk being rescued (a repair copy, an image or a carve uses it); a disk that a
 * device-mapper or md device is built on; the RESCUECFG disk.
 *
 *   --yes   do not ask (a runbook has nobody to ask)
 *
 * Exit codes: 0 released (or it was not guarded), 2 usage error, refused, or not
 * confirmed, 3 the kernel refused or has no guard.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "base/err.h"
#include "base/journal.h"
#include "base/paths.h"
#include "cli/command.h"
#include "cli/opt.h"
#include "disk/block.h"
#include "disk/guard.h"
#include "disk/inventory.h"
#include "usage/unguard.h"

static int unguard_main(int argc, char **argv);

const struct command command_unguard = {
	.name = "unguard",
	.summary = COMMAND_SUMMARY,
	.usage = COMMAND_USAGE,
	.menu_label = "unguard: release a disk",
	.menu_rank = 85,
	.menu_prompt = "disk to release as a target (e.g. sdb)",
	.run = unguard_main,
};

/* 0 when the disk may be released; else a usage error naming why not. */
static int refuse_reason(const struct inventory_disk *disk, const struct inventory_part *part,
    const char *operand)
{
	char why[PATH_MAX + 128];

	if (part != NULL)
		return err_usage(command_unguard.usage, "%s is a partition; the guard belongs to "
		    "its disk: rescue unguard %s", operand, disk->name);
	if (disk->config_disk)
		return err_usage(command_unguard.usage, "%s is the RESCUECFG config disk: it is "
		    "never written", disk->name);
	if (inventory_disk_in_use(disk, why, sizeof why))
		return err_usage(command_unguard.usage, "%s is in use: %s", disk->name, why);
	if (!disk->guardable)
		return err_fatalx(EXIT_SYSTEM, "unable to release %s: this kernel has no write "
		    "guard for it", disk->name);
	return EXIT_OK;
}

/* The user types the disk's name back: "yes" is typed too easily at 3 a.m. */
static int confirmed(const struct inventory_disk *disk)
{
	char size[16], answer[64];
	ssize_t got;

	if (!isatty(STDIN_FILENO))
		return err_usage(command_unguard.usage, "releasing %s needs a confirmation typed on "
		    "a terminal, or --yes", disk->name), 0;
	inventory_size_text(disk->size_bytes, size, sizeof size);
	printf("Release the write guard of %s (%s, %s)? Then anything may write to it.\n"
	    "Type %s to release it: ", disk->name, size, disk->model[0] ? disk->model : "no model",
	    disk->name);
	fflush(stdout);
	got = read(STDIN_FILENO, answer, sizeof answer - 1);
	answer[got > 0 ? got : 0] = '\0';
	answer[strcspn(answer, "\r\n")] = '\0';
	if (strcmp(answer, disk->name) == 0)
		return 1;
	printf("Not released.\n");
	return 0;
}

/* The record comes first: when it cannot be written the guard stays on, so `rescue report`
 * never attests as guarded since boot a disk that was released. */
static int release(const struct inventory_disk *disk)
{
	if (guard_record_release(disk->name) != 0)
		return err_fatal(EXIT_SYSTEM, "unable to release %s: the release cannot be recorded "
		    "for the report in %s", disk->name, RESCUE_UNGUARDED_FILE);
	if (guard_write(block_sysfs_root(), disk->name, 0) != 0)
		return err_fatal(EXIT_SYSTEM, "unable to release the guard of %s", disk->name);
	printf("%s: write guard released; writes to it are possible now. "
	    "`rescue guard %s` sets it again.\n", disk->name, disk->name);
	journal_summary("write guard of %s released", disk->name);
	return EXIT_OK;
}

static int unguard_main(int argc, char **argv)
{
	static const struct option long_options[] = { { "yes", no_argument, NULL, 'y' }, { 0 } };
	struct opt_parser opts = opt_parser(&command_unguard, argc, argv, "", long_options);
	const struct inventory_part *part;
	const struct inventory_disk *disk;
	struct inventory inventory;
	int option, yes = 0, code;
	const char *name;

	while ((option = opt_next(&opts)) != OPT_DONE) {
		if (option == OPT_STOP)
			return opts.exit_code;
		yes = 1;
	}
	if (opt_operands(&opts, 1, 1) != 0)
		return opts.exit_code;
	if (inventory_read(block_sysfs_root(), &inventory) != 0)
		return err_fatal(EXIT_SYSTEM, "unable to list %s/block", block_sysfs_root());
	name = strncmp(opts.operands[0], "/dev/", 5) == 0 ? opts.operands[0] + 5 : opts.operands[0];
	disk = inventory_find(&inventory, name, &part);
	if (disk == NULL)
		code = err_usage(command_unguard.usage, "no such disk: %s", opts.operands[0]);
	else if ((code = refuse_reason(disk, part, opts.operands[0])) != EXIT_OK)
		;
	else if (!disk->guarded)
		printf("%s is not guarded: nothing to do\n", disk->name);
	else if (yes || confirmed(disk))
		code = release(disk);
	else
		code = EXIT_USAGE;
	inventory_free(&inventory);
	return code;
}
