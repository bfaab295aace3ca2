/* disks: every disk and partition: size, model, what is on it, guard state
 *
 * usage: rescue disks [--json] [DEV...]
 *
 * One line per disk: name, size, transport (virtio, sata, scsi, nvme, usb), ssd or hdd,
 * model and serial, whether the write guard is on, and how many writes it rejected. Below
 * it one line per partition: name, size, what it holds (ext2/3/4, xfs, btrfs, vfat, exfat,
 * ntfs, iso9660, swap, LVM2_member, linux_raid_member, crypto_LUKS, or unknown), label,
 * guard (its disk's) and its own rejected writes; under it the UUID, "needs recovery" for a
 * journal with changes not replayed (rescue mount does not replay them), where it is
 * mounted, and what is built on it. A file system on the whole disk shows on a "(disk)"
 * line. Every line fits 80 columns; labels show control characters as '?'. The RESCUECFG
 * disk is marked and is not offered for rescue. Devices the appliance made itself (loop,
 * nbd, device-mapper) are listed when they hold something.
 *
 * On a machine with less than 256 MiB of RAM a last line says so, with the memory
 * available and what each running rescue command holds (from /proc), one line each.
 *
 * Nothing is written: the content is read from the first sectors of each device.
 *
 *   --json   {"memory":{"total_bytes","available_bytes","low","commands":[{"pid",
 *            "command","rss_bytes","peak_bytes"}]},
 *            "disks":[{"name","path","size_bytes","model","serial","transport",
 *            "rotational","read_only","hardware","guarded","rejected_writes","config_disk",
 *            "busy","mounted","content":{"type","version","label","uuid","needs_recovery"},
 *            "partitions":[{"name","path","number","start_bytes","size_bytes","guarded",
 *            "rejected_writes","busy","mounted","content":{...}}]}]}
 *   DEV      only these disks (a partition names its disk)
 *
 * Exit codes: 0 listed, 2 usage error or no such disk, 3 /sys/block cannot be read.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/err.h"
#include "base/json.h"
#include "base/journal.h"
#include "base/memory.h"
#include "cli/command.h"
#include "cli/opt.h"
#include "disk/block.h"
#include "disk/inventory.h"
#include "usage/disks.h"

static int disks_main(int argc, char **argv);

const struct command command_disks = {
	.name = "disks",
	.summary = COMMAND_SUMMARY,
	.usage = COMMAND_USAGE,
	.menu_label = "disks: what is on each disk",
	.menu_rank = 10,
	.run = disks_main,
};

static const char *content_name(const struct probe_result *content, int probed)
{
	if (!probed)
		return "unreadable";
	return content->type[0] ? content->type : "unknown";
}

static const char *guard_text(const struct inventory_disk *disk)
{
	return !disk->guardable ? "n/a" : disk->guarded ? "on" : "off";
}

/* Labels may hold any byte: control characters show as '?' so they cannot move the cursor
 * or end the line (--json keeps them exactly). WIDTH < 0: no padding, no cut. */
static void print_clean(const char *text, int width)
{
	int shown = 0;

	for (; *text && (width < 0 || shown < width); text++, shown++)
		putchar((unsigned char)*text < 0x20 || *text == 0x7f ? '?' : *text);
	for (; shown < width; shown++)
		putchar(' ');
}

/* Appends "  LABEL TEXT" to the notes under a partition line. */
static void note(char *notes, size_t size, const char *label, const char *text)
{
	size_t used = strlen(notes);

	snprintf(notes + used, size - used, "%s%s%s", used ? "  " : "", label, text);
}

/* Two lines that fit 80 columns, the second only when there is something to say:
 * "  sda1       16.0 MiB  ext4         data             guard on      0 rejected"
 * "            uuid 2f6c...  needs recovery  mounted at /mnt/sda1" */
static void print_content(const char *name, unsigned long long size, const char *guard,
    unsigned long long rejected, const struct probe_result *content, int probed,
    const char *mounted, int busy, const char *holders)
{
	char size_text[16], notes[2 * PATH_MAX] = "";

	inventory_size_text(size, size_text, sizeof size_text);
	printf("  %-8s %9s  %-12s ", name, size_text, content_name(content, probed));
	print_clean(content->label[0] ? content->label : "-", 16);
	printf(" guard %-3s %5llu rejected\n", guard, rejected);
	if (content->uuid[0])
		note(notes, sizeof notes, "uuid ", content->uuid);
	if (content->needs_recovery)
		note(notes, sizeof notes, "needs recovery", "");
	if (mounted[0])
		note(notes, sizeof notes, "mounted at ", mounted);
	if (busy)
		note(notes, sizeof notes, "being rescued", "");
	if (holders[0])
		note(notes, sizeof notes, "used by ", holders);
	if (notes[0]) {
		printf("%12s", "");
		print_clean(notes, -1);
		putchar('\n');
	}
}

/* The partitions show a partition table; a "(disk)" line shows anything else on the whole
 * disk: a file system, LUKS, nothing known, or that it could not be read. */
static int whole_disk_content(const struct inventory_disk *disk)
{
	const char *type = disk->content.type;

	if (disk->part_count == 0)
		return 1;
	return disk->probed && type[0] && strcmp(type, "gpt") != 0 && strcmp(type, "dos") != 0;
}

static void print_disk(const struct inventory_disk *disk)
{
	char size_text[16], identity[160];
	size_t i;

	inventory_size_text(disk->size_bytes, size_text, sizeof size_text);
	snprintf(identity, sizeof identity, "%s%s%s", disk->model[0] ? disk->model : "-",
	    disk->serial[0] ? " #" : "", disk->serial);
	printf("%-10s %9s  %-7s %-3s ", disk->name, size_text, disk->transport,
	    disk->rotational < 0 ? "-" : disk->rotational ? "hdd" : "ssd");
	print_clean(identity, 23);
	printf(" guard %-3s %llu rejected\n", guard_text(disk), disk->rejected_writes);
	if (disk->config_disk)
		printf("  (the RESCUECFG config disk: not offered for rescue)\n");
	if (whole_disk_content(disk))
		print_content("(disk)", disk->size_bytes, guard_text(disk), disk->rejected_writes,
		    &disk->content, disk->probed, disk->mounted, disk->busy, disk->holders);
	for (i = 0; i < disk->part_count; i++)
		print_content(disk->parts[i].name, disk->parts[i].size_bytes, guard_text(disk),
		    disk->parts[i].rejected_writes, &disk->parts[i].content, disk->parts[i].probed,
		    disk->parts[i].mounted, disk->parts[i].busy, disk->parts[i].holders);
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

enum { COMMANDS_SHOWN = 16 };

struct memory_report {
	int known;			/* /proc/meminfo was read */
	struct memory_state state;
	struct memory_command commands[COMMANDS_SHOWN];
	size_t command_count;		/* running; those past COMMANDS_SHOWN are not listed */
};

static void memory_report_read(struct memory_report *report)
{
	memset(report, 0, sizeof *report);
	report->known = memory_read("/proc", &report->state) == 0;
	report->command_count = memory_commands("/proc", getpid(), report->commands,
	    COMMANDS_SHOWN);
}

/* Only when memory is short: a line that says how short, one per running command. */
static void memory_print(const struct memory_report *report)
{
	char total[32], available[32], rss[32], peak[32];
	size_t i;

	if (!report->known || report->state.total_bytes >= MEMORY_LOW_BYTES)
		return;
	memory_text(report->state.total_bytes, total, sizeof total);
	memory_text(report->state.available_bytes, available, sizeof available);
	printf("low memory: %s in all, %s available; rescue commands running: %zu\n", total,
	    available, report->command_count);
	for (i = 0; i < report->command_count && i < COMMANDS_SHOWN; i++) {
		memory_text(report->commands[i].rss_bytes, rss, sizeof rss);
		memory_text(report->commands[i].peak_bytes, peak, sizeof peak);
		printf("  pid %-7d %-18.18s uses %s (at most %s)\n", (int)report->commands[i].pid,
		    report->commands[i].command, rss, peak);
	}
}

static void memory_json(const struct memory_report *report)
{
	size_t i;

	printf("\"memory\":{\"total_bytes\":%llu,\"available_bytes\":%llu,\"low\":%s,"
	    "\"commands\":[", (unsigned long long)report->state.total_bytes,
	    (unsigned long long)report->state.available_bytes, report->known
	    && report->state.total_bytes < MEMORY_LOW_BYTES ? "true" : "false");
	for (i = 0; i < report->command_count && i < COMMANDS_SHOWN; i++) {
		printf("%s{\"pid\":%d,", i ? "," : "", (int)report->commands[i].pid);
		json_member_string(stdout, "command", report->commands[i].command, 0);
		printf(",\"rss_bytes\":%llu,\"peak_bytes\":%llu}",
		    (unsigned long long)report->commands[i].rss_bytes,
		    (unsigned long long)report->commands[i].peak_bytes);
	}
	printf("]}");
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
	struct memory_report memory;
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
	memory_report_read(&memory);
	if (code == EXIT_OK && json) {
		printf("{");
		memory_json(&memory);
		printf(",");
		inventory_json_disks(stdout, shown);
		printf("}\n");
	} else if (code == EXIT_OK) {
		for (i = 0; i < shown->count; i++)
			print_disk(&shown->disks[i]);
		memory_print(&memory);
	}
	if (code == EXIT_OK)
		summarise(shown);
	free(selected.disks);
	inventory_free(&all);
	return code;
}
