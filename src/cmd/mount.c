/* mount: mount a file system read-only without journal replay, and look inside
 *
 * usage: rescue mount [--json] DEV [DIR]
 *
 * Mounts DEV read-only at DIR (default /mnt/NAME) so that nothing is written to it, not
 * even the journal replay a read-only mount normally does: ext2/3/4 with noload, xfs with
 * norecovery, btrfs with rescue=nologreplay; vfat, exfat, ntfs (ntfs3) and iso9660
 * read-only. Always nodev, nosuid, noexec. Files the journal was about to change show their
 * last state written in place; `rescue repair DEV` shows them with the journal replayed.
 *
 * Then a short look inside: size, used and free space and inodes; the top-level entries
 * with their sizes; and what it holds that people come to rescue: PostgreSQL data
 * directories (with their version), MySQL/MariaDB data directories, mail spools and
 * Maildirs, an /etc/fstab, home directories. The look is bounded (a few seconds, a few
 * levels down): sizes then read "at least".
 *
 *   --json   print {"device","type","dir","usage":{...},"top":[...],"found":[...]}
 *
 * DEV is a partition or a whole disk holding a file system: sda1 or /dev/sda1. Refused
 * with the reason: no such device, a disk with partitions (they are named), content that
 * is not a file system (swap, LUKS, LVM, md member: what to do instead), already mounted.
 * `rescue umount DEV` unmounts it.
 *
 * Exit codes: 0 mounted, 2 usage error, 3 not mounted (the reason is printed).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/err.h"
#include "base/journal.h"
#include "base/json.h"
#include "base/paths.h"
#include "cli/command.h"
#include "cli/opt.h"
#include "disk/block.h"
#include "disk/cow.h"
#include "disk/device.h"
#include "fs/extfs.h"
#include "fs/mountfs.h"
#include "fs/probe.h"
#include "fs/survey.h"
#include "usage/mount.h"

static int mount_main(int argc, char **argv);

const struct command command_mount = {
	.name = "mount",
	.summary = COMMAND_SUMMARY,
	.usage = COMMAND_USAGE,
	.menu_label = "mount read-only, look inside",
	.menu_rank = 20,
	.menu_prompt = "device (e.g. sda1)",
	.run = mount_main,
};

struct mount_options {
	int json;
	const char *operand;
	const char *dir;
};

static int parse_options(int argc, char **argv, struct mount_options *options)
{
	static const struct option long_options[] = {
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 },
	};
	struct opt_parser opts = opt_parser(&command_mount, argc, argv, "j", long_options);
	int option;

	while ((option = opt_next(&opts)) != OPT_DONE)
		switch (option) {
		case 'j': options->json = 1; break;
		case OPT_STOP: return opts.exit_code;
		}
	if (opt_operands(&opts, 1, 2) != 0)
		return opts.exit_code;
	options->operand = opts.operands[0];
	options->dir = opts.operand_count > 1 ? opts.operands[1] : NULL;
	if (options->dir && options->dir[0] != '/')
		return err_usage(command_mount.usage, "DIR must be an absolute path: %s",
		    options->dir);
	return -1;
}

static int refuse_unmountable(const struct device *device)
{
	char partitions[512], dir[4096];

	if (device_partitions(block_sysfs_root(), device->name, partitions, sizeof partitions) > 0)
		return err_fatalx(EXIT_SYSTEM, "unable to mount %s: it is a whole disk with "
		    "partitions (%s); mount one of them", device->name, partitions);
	if (device_mount_point(NULL, device->rdev, dir, sizeof dir) == 1)
		return err_fatalx(EXIT_SYSTEM, "unable to mount %s: it is already mounted on %s",
		    device->name, dir);
	/* A repair's snapshot holds the device exclusively: mount(2) would only say EBUSY. */
	snprintf(dir, sizeof dir, "%s/%s", RESCUE_BUSY_DIR, device->name);
	if (access(dir, F_OK) == 0)
		return err_fatalx(EXIT_SYSTEM, "unable to mount %s: it is busy (%s): a repaired "
		    "copy is at /mnt/%s-repaired; `rescue repair --release %s` ends that",
		    device->name, dir, device->name, device->name);
	return 0;
}

/* An ext file system whose primary superblock is gone mounts from a backup: ext4's sb=
 * counts in 1 KiB units whatever the block size. */
static int identify(const struct device *device, struct probe_result *probe,
    const struct mountfs_type **type, char *extra, size_t extra_size)
{
	struct extfs_facts facts;
	const char *advice;

	if (probe_device(device->path, probe) != 0)
		return err_fatal(EXIT_SYSTEM, "unable to read %s", device->path);
	extra[0] = '\0';
	if (extfs_probe_backup(device->path, probe, &facts) && facts.superblock)
		snprintf(extra, extra_size, "sb=%lu", facts.superblock * (facts.blocksize / 1024));
	*type = mountfs_lookup(probe->type);
	if (*type)
		return 0;
	advice = device_content_advice(probe->type);
	return err_fatalx(EXIT_SYSTEM, "unable to mount %s: it holds %s: %s", device->name,
	    probe->type[0] ? probe->type : "no file system we know",
	    advice ? advice : "the kernel cannot mount it here");
}

static int mount_device(const struct device *device, const struct mountfs_type *type,
    const char *dir, const char *extra)
{
	dev_t other;
	int made_dir;

	mkdir("/mnt", 0755);
	if (device_mounted_at(NULL, dir, &other) == 1)
		return err_fatalx(EXIT_SYSTEM, "unable to mount %s on %s: something else is "
		    "mounted there", device->name, dir);
	if (mountfs_mount(device->path, dir, type, 0, extra, &made_dir) == 0)
		return 0;
	if (errno == EINVAL || errno == EUCLEAN || errno == EIO)
		return err_fatal(EXIT_SYSTEM, "unable to mount %s (%s, read-only, %s) on %s: the "
		    "file system may be damaged; `rescue check %s` says more", device->name,
		    type->type, type->no_replay[0] ? type->no_replay : "no options", dir,
		    device->name);
	return err_fatal(EXIT_SYSTEM, "unable to mount %s (%s) on %s", device->name, type->type,
	    dir);
}

static void print_usage(const struct survey *survey)
{
	char size[32], used[32], free[32];

	size_format(survey->size, size, sizeof size);
	size_format(survey->used, used, sizeof used);
	size_format(survey->free, free, sizeof free);
	printf("  size %s, used %s, free %s; inodes %llu, %llu free\n", size, used, free,
	    survey->inodes, survey->inodes_free);
}

static void print_text(const struct survey *survey)
{
	char bytes[32];
	int i;

	print_usage(survey);
	printf("  top level%s:\n", survey->sizes_complete ? "" : " (the look ran out of time: "
	    "sizes are at least)");
	for (i = 0; i < survey->top_count; i++) {
		const struct survey_top *top = &survey->top[i];

		size_format(top->bytes, bytes, sizeof bytes);
		printf("    %s%-24s %s%12s  %llu entries\n", top->name, top->directory ? "/" : " ",
		    survey->sizes_complete ? "" : ">=", bytes, top->files);
	}
	if (survey->top_more)
		printf("    ... and more (only the first %d are shown)\n", SURVEY_TOP_MAX);
	for (i = 0; i < survey->find_count; i++)
		printf("  found: %-10s /%s: %s\n", survey->finds[i].kind,
		    strcmp(survey->finds[i].path, ".") == 0 ? "" : survey->finds[i].path,
		    survey->finds[i].detail);
	if (!survey->search_complete)
		printf("  (the search for databases and mail stopped early: there may be more)\n");
}

static void print_json(const struct device *device, const char *type, const char *dir,
    const struct survey *survey)
{
	int i;

	printf("{");
	json_member_string(stdout, "device", device->name, 0);
	json_member_string(stdout, "type", type, 1);
	json_member_string(stdout, "dir", dir, 1);
	printf(",\"usage\":{\"size\":%llu,\"used\":%llu,\"free\":%llu,\"inodes\":%llu,"
	    "\"inodes_free\":%llu},\"sizes_complete\":%s,\"top\":[", survey->size, survey->used,
	    survey->free, survey->inodes, survey->inodes_free,
	    survey->sizes_complete ? "true" : "false");
	for (i = 0; i < survey->top_count; i++) {
		printf("%s{", i ? "," : "");
		json_member_string(stdout, "name", survey->top[i].name, 0);
		printf(",\"directory\":%s,\"bytes\":%llu,\"entries\":%llu}",
		    survey->top[i].directory ? "true" : "false", survey->top[i].bytes,
		    survey->top[i].files);
	}
	printf("],\"search_complete\":%s,\"found\":[", survey->search_complete ? "true" : "false");
	for (i = 0; i < survey->find_count; i++) {
		printf("%s{", i ? "," : "");
		json_member_string(stdout, "kind", survey->finds[i].kind, 0);
		json_member_string(stdout, "path", survey->finds[i].path, 1);
		json_member_string(stdout, "detail", survey->finds[i].detail, 1);
		printf("}");
	}
	printf("]}\n");
}

/* "used 12.0 MiB of 32.0 MiB; postgresql 15 at /var/lib/postgresql/15/main" */
static void record_summary(const struct device *device, const struct mountfs_type *type,
    const char *dir, const struct survey *survey)
{
	char used[32], size[32], found[256] = "";
	size_t length = 0;
	int i;

	size_format(survey->used, used, sizeof used);
	size_format(survey->size, size, sizeof size);
	for (i = 0; i < survey->find_count && length < sizeof found; i++)
		length += (size_t)snprintf(found + length, sizeof found - length, "; %s /%s",
		    survey->finds[i].kind, survey->finds[i].path);
	journal_summary("mounted %s (%s) read-only at %s: used %s of %s%s", device->name,
	    type->type, dir, used, size, found);
}

static int mount_main(int argc, char **argv)
{
	struct mount_options options = { 0 };
	const struct mountfs_type *type;
	struct probe_result probe;
	struct device device;
	struct survey survey;
	char dir[PATH_MAX], extra[32];
	int code;

	if ((code = parse_options(argc, argv, &options)) >= 0)
		return code;
	if (device_resolve(options.operand, &device) != 0)
		return err_fatalx(EXIT_SYSTEM, "unable to mount %s: %s", options.operand,
		    device_resolve_error(errno));
	if ((code = refuse_unmountable(&device)) != 0
	    || (code = identify(&device, &probe, &type, extra, sizeof extra)) != 0)
		return code;
	if (options.dir)
		snprintf(dir, sizeof dir, "%s", options.dir);
	else
		snprintf(dir, sizeof dir, "/mnt/%s", device.name);
	if ((code = mount_device(&device, type, dir, extra)) != 0)
		return code;
	if (!options.json)
		printf("%s: %s mounted read-only at %s (%s%s%s%s)\n", device.name, probe.type, dir,
		    type->no_replay[0] ? type->no_replay : "ro", extra[0] ? ", backup superblock "
		    : "", extra,
		    probe.needs_recovery ? "; its journal holds changes not replayed" : "");
	if (survey_run(dir, &survey_default_limits, &survey) != 0)
		err_warn("unable to look inside %s", dir);
	if (options.json)
		print_json(&device, probe.type, dir, &survey);
	else
		print_text(&survey);
	record_summary(&device, type, dir, &survey);
	return EXIT_OK;
}
