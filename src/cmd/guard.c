/* guard: show the write guard of every disk, or set it again on a released disk
 *
 * usage: rescue guard [DISK...]
 *
 * Without DISK: one line per disk: whether the kernel's write guard is on, since when it
 * was released if it was, and how many writes it rejected (partitions counted with their
 * disk). Every disk is guarded from the moment the kernel finds it; only `rescue unguard`
 * releases one, to use it as a target.
 *
 * With DISK: sets the guard again, so no write reaches that disk from now on. The guard
 * belongs to the whole disk: a partition name is refused with the name of its disk.
 *
 * Exit codes: 0 shown or set, 2 usage error (no such disk, a partition), 3 the guard cannot
 * be set (a kernel without it, or sysfs refused).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "base/err.h"
#include "base/journal.h"
#include "base/paths.h"
#include "cli/command.h"
#include "cli/opt.h"
#include "disk/block.h"
#include "disk/guard.h"
#include "disk/inventory.h"
#include "usage/guard.h"

static int guard_main(int argc, char **argv);

const struct command command_guard = {
	.name = "guard",
	.summary = COMMAND_SUMMARY,
	.usage = COMMAND_USAGE,
	.menu_label = "guard: write guard of each disk",
	.menu_rank = 80,
	.run = guard_main,
};

static void show(const struct inventory *inventory)
{
	char released[32];
	size_t i, j;

	printf("%-11s %-6s %-22s %s\n", "DISK", "GUARD", "RELEASED (UTC)", "WRITES REJECTED");
	for (i = 0; i < inventory->count; i++) {
		const struct inventory_disk *disk = &inventory->disks[i];
		unsigned long long rejected = disk->rejected_writes;

		if (!disk->hardware)
			continue;
		for (j = 0; j < disk->part_count; j++)
			rejected += disk->parts[j].rejected_writes;
		guard_released_at(RESCUE_UNGUARDED_FILE, disk->name, released, sizeof released);
		printf("%-11s %-6s %-22s %llu\n", disk->name,
		    !disk->guardable ? "n/a" : disk->guarded ? "on" : "off",
		    released[0] ? released : "-", rejected);
	}
}

static int set_again(const struct inventory *inventory, const char *operand)
{
	const char *name = strncmp(operand, "/dev/", 5) == 0 ? operand + 5 : operand;
	const struct inventory_part *part;
	const struct inventory_disk *disk = inventory_find(inventory, name, &part);

	if (disk == NULL)
		return err_usage(command_guard.usage, "no such disk: %s", operand);
	if (part != NULL)
		return err_usage(command_guard.usage, "%s is a partition; the guard belongs to its "
		    "disk: rescue guard %s", operand, disk->name);
	if (!disk->guardable)
		return err_fatalx(EXIT_SYSTEM, "unable to guard %s: this kernel has no write guard "
		    "for it", disk->name);
	if (guard_write(block_sysfs_root(), disk->name, 1) != 0)
		return err_fatal(EXIT_SYSTEM, "unable to guard %s", disk->name);
	printf("%s: write guard on; no write reaches it from now on\n", disk->name);
	journal_summary("guard set on %s", disk->name);
	return EXIT_OK;
}

static int guard_main(int argc, char **argv)
{
	struct opt_parser opts = opt_parser(&command_guard, argc, argv, NULL, NULL);
	struct inventory inventory;
	int i, code = EXIT_OK;

	if (opt_no_options(&opts, 0, 64) != 0)
		return opts.exit_code;
	if (inventory_read(block_sysfs_root(), &inventory) != 0)
		return err_fatal(EXIT_SYSTEM, "unable to list %s/block", block_sysfs_root());
	if (opts.operand_count == 0)
		show(&inventory);
	for (i = 0; i < opts.operand_count && code == EXIT_OK; i++)
		code = set_again(&inventory, opts.operands[i]);
	inventory_free(&inventory);
	return code;
}
