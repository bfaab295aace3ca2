/* disks: every disk and partition: size, model, what is on it, guard state
 *
 * usage: rescue disks [--json] [DEV...]
 *
 * One line per disk: name, size, transport (virtio, sata, scsi, nvme, usb), ssd or hdd,
 * model and serial, whether the write guard is on, and how many writes it rejected. Below
 * it one line per partition: name, size, what it holds (ext2/3/4, xfs, btrfs, vfat, exfat,
 * ntfs, iso9660, swap, LVM2_member, linux_raid_member, crypto_LUKS, or unknown), label,
 * UUID and where it is mounted. A file system on the whole disk shows on a line of its own.
 * "needs recovery" marks a journal with changes not replayed (rescue mount does not replay
 * them). The RESCUECFG disk is marked and is not offered for rescue. Devices the appliance
 * made itself (loop, nbd, device-mapper) are listed when they hold something.
 *
 * Nothing is written: the content is read from the first sectors of each device.
 *
 *   --json   {"disks":[{"name","path","size_bytes","model","serial","transport",
 *            "rotational","read_only","hardware","guarded","rejected_writes","config_disk",
 *            "busy","mounted","content":{"type","version","label","uuid","needs_recovery"},
 *            "partitions":[{"name","path","number","start_bytes","size_bytes",
 *            "rejected_writes","busy","mounted","content":{...}}]}]}
 *   DEV      only these disks (a partition names its disk)
 *
 * Exit codes: 0 listed, 2 usage error or no such disk, 3 /sys/block cannot be read.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "block.h"
#include "command.h"
#include "err.h"
#include "inventory.h"
#include "journal.h"
#include "opt.h"
#include "usage/disks.h"

static int disks_main(int argc, char **argv);

const struct command command_disks = {
	.name = "disks",
	.summary = COMMAND_SUMMARY,
	.usage = COMMAND_USAGE,
	.menu_label = "disks: what is on each disk, guard state",
	.menu_rank = 10,
	.run = disks_main,
};

static const char *content_name(const struct probe_result *content, int probed)
{
	if (!probed)
		return "unreadable";
	return content->type[0] ? content->type : "unknown";
}

static void print_content(const char *name, unsigned long long size,
    const struct probe_result *content, int probed, const char *mounted, int busy)
{
	char size_text[16], extra[PATH_MAX + 64] = "";

	inventory_size_text(size, size_text, sizeof size_text);
	if (mounted[0])
		snprintf(extra, sizeof extra, "  mounted at %s", mounted);
	else if (busy)
		snprintf(extra, sizeof extra, "  being rescued");
	printf("  %-9s %10s  %-17s %-16.16s %s%s%s\n", name, size_text,
	    content_name(content, probed), content->label[0] ? content->label : "-",
	    content->uuid[0] ? content->uuid : "-", content->needs_recovery ?
	    "  needs recovery" : "", extra);
}

static void print_disk(const struct inventory_disk *disk)
{
	char size_text[16], identity[160];
	size_t i;

	inventory_size_text(disk->size_bytes, size_text, sizeof size_text);
	snprintf(identity, sizeof identity, "%s%s%s", disk->model[0] ? disk->model : "-",
	    disk->serial[0] ? " #" : "", disk->serial);
	printf("%-11s %10s  %-7s %-3s %-26.26s guard %-3s %4llu rejected\n", disk->name, size_text,
	    disk->transport, disk->rotational < 0 ? "-" : disk->rotational ? "hdd" : "ssd",
	    identity, !disk->guardable ? "n/a" : disk->guarded ? "on" : "off",
	    disk->rejected_writes);
	if (disk->config_disk)
		printf("  (the RESCUECFG config disk: not offered for rescue)\n");
	if (disk->part_count == 0 || strcmp(disk->content.type, "gpt") != 0)
		if (disk->part_count == 0 || strcmp(disk->content.type, "dos") != 0)
			print_content("(disk)", disk->size_bytes, &disk->content, disk->probed,
			    disk->mounted, disk->busy);
	for (i = 0; i < disk->part_count; i++)
		print_content(disk->parts[i].name, disk->parts[i].size_bytes,
		    &disk->parts[i].content, disk->parts[i].probed, disk->parts[i].mounted,
		    disk->parts[i].busy);
}

/* The disks named on the command line (a partition selects its disk), in SELECTED, which
 * shares their partitions with ALL: only its array is freed. */
static int select_disks(const struct inventory *all, char **names, int count,
    struct inventory *selected)
{
	int i;

	selected->disks = calloc((size_t)count, sizeof *selected->disks);
	selected->count = 0;
	if (selected->disks == NULL)
		return err_fatal(EXIT_SYSTEM, "unable to list the disks");
	for (i = 0; i < count; i++) {
		const char *name = strncmp(names[i], "/dev/", 5) == 0 ? names[i] + 5 : names[i];
		const struct inventory_disk *disk = inventory_find(all, name, NULL);

		if (disk == NULL)
			return err_usage(command_disks.usage, "no such disk or partition: %s",
			    names[i]);
		selected->disks[selected->count++] = *disk;
	}
	return EXIT_OK;
}

static void summarise(const struct inventory *inventory)
{
	size_t i, parts = 0, guarded = 0;

	for (i = 0; i < inventory->count; i++) {
		parts += inventory->disks[i].part_count;
		guarded += inventory->disks[i].guarded;
	}
	journal_summary("%zu disks, %zu partitions, %zu guarded", inventory->count, parts,
	    guarded);
}

static int disks_main(int argc, char **argv)
{
	static const struct option long_options[] = { { "json", no_argument, NULL, 'j' }, { 0 } };
	struct opt_parser opts = opt_parser(&command_disks, argc, argv, "", long_options);
	struct inventory all, selected = { 0 }, *shown = &all;
	int option, json = 0, code = EXIT_OK;
	size_t i;

	while ((option = opt_next(&opts)) != OPT_DONE) {
		if (option == OPT_STOP)
			return opts.exit_code;
		json = 1;
	}
	if (inventory_read(block_sysfs_root(), &all) != 0)
		return err_fatal(EXIT_SYSTEM, "unable to list %s/block", block_sysfs_root());
	if (opts.operand_count > 0) {
		code = select_disks(&all, opts.operands, opts.operand_count, &selected);
		shown = &selected;
	}
	if (code == EXIT_OK && json)
		inventory_json(stdout, shown);
	else if (code == EXIT_OK)
		for (i = 0; i < shown->count; i++)
			print_disk(&shown->disks[i]);
	if (code == EXIT_OK)
		summarise(shown);
	free(selected.disks);
	inventory_free(&all);
	return code;
}
