/* repair: repair a copy-on-write copy of a device and mount the result read-only
 *
 * usage: rescue repair [--cow SIZE|file:///path|nbd://host[:port]/export] DEV
 *        rescue repair --release DEV
 *
 * Makes a device-mapper snapshot of DEV, /dev/mapper/rescue-NAME: reads come from DEV,
 * writes go to a copy-on-write store, so DEV itself is never written (the snapshot opens it
 * read-only; the write guard stays on). Then, for ext2/3/4, runs `e2fsck -fy` on the
 * snapshot, mounts the repaired snapshot read-only at /mnt/NAME-repaired and sums up what
 * e2fsck changed, by kind, and how much of the store it used.
 *
 * For xfs, btrfs and the others no checker is in the image: the snapshot is mounted
 * read-only but with journal or log replay allowed, so the kernel replays the log into the
 * copy. For xfs and btrfs that is the repair their own tools would start with; files the
 * log was about to change show their last committed state.
 *
 *   --cow SIZE     the store is a file in RAM of that size (K, M, G suffixes; at least 64K).
 *                  Default: half the available memory, at most 4G
 *   --cow file:///path[?size=SIZE]   a file on a target directory (not on a guarded disk);
 *                  a directory gets NAME.cow in it; default size: its free space
 *   --cow nbd://host[:port]/export   a network block device (port 10809 by default)
 *   --release      unmount the copy and remove the snapshot and its store
 *
 * When the store fills up the snapshot becomes invalid: repair says so, names the size and
 * removes everything; run it again with a bigger --cow. While the copy exists DEV counts as
 * busy (`rescue unguard` refuses it). DEV must not be mounted: `rescue umount DEV` first.
 *
 * Exit codes: 0 repaired (or nothing to repair) and mounted, 1 e2fsck could not fix
 * everything (the copy is mounted anyway), 2 usage error, 3 could not repair (no device,
 * the store was full, the kernel refused).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#include "base/dirs.h"
#include "base/err.h"
#include "base/journal.h"
#include "base/paths.h"
#include "base/spawn.h"
#include "cli/command.h"
#include "cli/opt.h"
#include "disk/block.h"
#include "disk/busy.h"
#include "disk/cow.h"
#include "disk/device.h"
#include "disk/dm.h"
#include "disk/loopdev.h"
#include "fs/e2fsck.h"
#include "fs/extfs.h"
#include "fs/mountfs.h"
#include "fs/probe.h"
#include "usage/repair.h"

#define COW_DIR "/run/rescue/cow"

static int repair_main(int argc, char **argv);

const struct command command_repair = {
	.name = "repair",
	.summary = COMMAND_SUMMARY,
	.usage = COMMAND_USAGE,
	.menu_label = "repair a copy, mount it",
	.menu_rank = 40,
	.menu_prompt = "device (e.g. sda1)",
	.run = repair_main,
};

struct repair_options {
	const char *cow_text;
	int release;
	const char *operand;
};

/* What a repair made, in the order it made it; the busy file records it for --release. */
struct repair {
	struct device device;
	struct probe_result probe;
	struct extfs_facts facts;	/* set when only a backup superblock identified ext */
	const struct mountfs_type *type;
	struct cow_spec cow;
	char cow_file[PATH_MAX];	/* the store's file, removed at the end ("" for nbd) */
	char cow_device[64];		/* /dev/loopN or /dev/nbdN */
	int cow_fd;			/* holds the autoclearing loop device until dm has it */
	unsigned long long cow_size;
	char snapshot[128];		/* "rescue-NAME" */
	char snapshot_path[128];
	char mount_dir[PATH_MAX];
	int mounted;
	struct spawn_result fsck;
	int fsck_exit;
	struct e2fsck_summary summary;
};

static int parse_options(int argc, char **argv, struct repair_options *options)
{
	static const struct option long_options[] = {
		{ "cow", required_argument, NULL, 'c' },
		{ "release", no_argument, NULL, 'r' },
		{ NULL, 0, NULL, 0 },
	};
	struct opt_parser opts = opt_parser(&command_repair, argc, argv, "c:r", long_options);
	int option;

	while ((option = opt_next(&opts)) != OPT_DONE)
		switch (option) {
		case 'c': options->cow_text = optarg; break;
		case 'r': options->release = 1; break;
		case OPT_STOP: return opts.exit_code;
		}
	if (opt_operands(&opts, 1, 1) != 0)
		return opts.exit_code;
	options->operand = opts.operands[0];
	if (options->release && options->cow_text)
		return err_usage(command_repair.usage, "--release takes no --cow: %s",
		    options->cow_text);
	return -1;
}

/* ------------------------------------------------------------------ the busy file */

/* "KEY=VALUE" lines: what --release has to undo, and for `unguard` that DEV is busy. */
static int busy_write(const struct repair *repair)
{
	char path[PATH_MAX];
	FILE *file;

	make_dirs(RESCUE_BUSY_DIR);
	busy_path(RESCUE_BUSY_DIR, repair->device.name, path, sizeof path);
	file = fopen(path, "we");
	if (file == NULL)
		return err_fatal(EXIT_SYSTEM, "unable to write %s", path);
	fprintf(file, "command=repair\nsnapshot=%s\ncow_device=%s\ncow_file=%s\ncow_kind=%s\n"
	    "mount=%s\n", repair->snapshot, repair->cow_device, repair->cow_file,
	    repair->cow.kind == COW_NBD ? "nbd" : "loop", repair->mount_dir);
	if (fclose(file) != 0)
		return err_fatal(EXIT_SYSTEM, "unable to write %s", path);
	return 0;
}

static int busy_value(const char *text, const char *key, char *value, size_t size)
{
	size_t length = strlen(key);
	const char *line;

	for (line = text; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL)
		if (strncmp(line, key, length) == 0 && line[length] == '=') {
			snprintf(value, size, "%.*s", (int)strcspn(line + length + 1, "\n"),
			    line + length + 1);
			return 0;
		}
	value[0] = '\0';
	return -1;
}

/* -------------------------------------------------------- the copy-on-write store */

static unsigned long long meminfo_available(void)
{
	FILE *file = fopen("/proc/meminfo", "re");
	unsigned long long kib = 0;
	char line[128];

	if (file == NULL)
		return 0;
	while (fgets(line, sizeof line, file))
		if (sscanf(line, "MemAvailable: %llu kB", &kib) == 1)
			break;
	fclose(file);
	return kib * 1024;
}

static unsigned long long free_space(const char *dir)
{
	struct statvfs fs;

	if (statvfs(dir, &fs) != 0)
		return 0;
	return (unsigned long long)fs.f_bavail * fs.f_frsize;
}

/* A store on a guarded disk would be a write to a disk we rescue: the guard would refuse
 * it anyway, but the user should hear why before anything starts. */
static int on_guarded_disk(const char *path)
{
	char attribute[128], value[4] = "";
	struct stat status;
	const char *const suffixes[] = { "guard", "../guard" };
	size_t i;

	if (stat(path, &status) != 0 || major(status.st_dev) == 0)
		return 0;
	for (i = 0; i < 2; i++) {
		int fd;

		snprintf(attribute, sizeof attribute, "%s/dev/block/%u:%u/%s", block_sysfs_root(),
		    major(status.st_dev), minor(status.st_dev), suffixes[i]);
		fd = open(attribute, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;
		if (read(fd, value, sizeof value - 1) > 0 && value[0] == '1') {
			close(fd);
			return 1;
		}
		close(fd);
	}
	return 0;
}

static int cow_ram_size(struct repair *repair)
{
	unsigned long long available = meminfo_available(), room = free_space(COW_DIR);
	char wanted[32], have[32];

	if (repair->cow.size == 0) {
		repair->cow_size = cow_default_size(available, room);
		size_format(available, have, sizeof have);
		if (repair->cow_size < COW_MIN_SIZE)
			return err_fatalx(EXIT_SYSTEM, "unable to make a copy-on-write store in RAM: "
			    "only %s of memory is available; use --cow file:///... or nbd://...",
			    have);
		return 0;
	}
	repair->cow_size = repair->cow.size;
	size_format(repair->cow_size, wanted, sizeof wanted);
	size_format(available < room ? available : room, have, sizeof have);
	if (repair->cow_size > available || repair->cow_size > room)
		return err_fatalx(EXIT_SYSTEM, "unable to make a copy-on-write store of %s in RAM: "
		    "only %s is free; give a smaller --cow or use file:///... or nbd://...",
		    wanted, have);
	return 0;
}

/* A sparse file: RAM (or disk) is used only for the blocks the repair changes. */
static int cow_file_make(struct repair *repair)
{
	int fd = open(repair->cow_file, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);

	if (fd < 0)
		return err_fatal(EXIT_SYSTEM, "unable to create the copy-on-write store %s",
		    repair->cow_file);
	if (ftruncate(fd, (off_t)repair->cow_size) != 0) {
		int code = err_fatal(EXIT_SYSTEM, "unable to size the copy-on-write store %s",
		    repair->cow_file);

		close(fd);
		unlink(repair->cow_file);
		repair->cow_file[0] = '\0';
		return code;
	}
	close(fd);
	repair->cow_fd = loopdev_attach(repair->cow_file, repair->cow_device,
	    sizeof repair->cow_device);
	if (repair->cow_fd < 0)
		return err_fatal(EXIT_SYSTEM, "unable to attach %s to a loop device",
		    repair->cow_file);
	return 0;
}

static int cow_file_path(struct repair *repair)
{
	struct stat status;
	const char *path = repair->cow.path;

	if (stat(path, &status) == 0 && S_ISDIR(status.st_mode))
		snprintf(repair->cow_file, sizeof repair->cow_file, "%.3800s/%.200s.cow", path,
		    repair->device.name);
	else
		snprintf(repair->cow_file, sizeof repair->cow_file, "%s", path);
	if (on_guarded_disk(path))
		return err_fatalx(EXIT_SYSTEM, "unable to put the copy-on-write store in %s: it is "
		    "on a guarded disk; use RAM, nbd:// or a disk released with `rescue unguard`",
		    path);
	repair->cow_size = repair->cow.size;
	if (repair->cow_size == 0) {
		char dir[PATH_MAX], *slash;

		snprintf(dir, sizeof dir, "%s", repair->cow_file);
		slash = strrchr(dir, '/');
		*(slash == dir ? slash + 1 : slash) = '\0';
		repair->cow_size = free_space(dir) / 100 * 95 / COW_CHUNK_SIZE * COW_CHUNK_SIZE;
		if (repair->cow_size < COW_MIN_SIZE)
			return err_fatalx(EXIT_SYSTEM, "unable to put the copy-on-write store in %s: "
			    "no free space there", dir);
	}
	return 0;
}

static int free_nbd_device(char *path, size_t size)
{
	char attribute[128];
	int number;

	for (number = 0; number < 16; number++) {
		snprintf(attribute, sizeof attribute, "%s/block/nbd%d/pid", block_sysfs_root(),
		    number);
		if (access(attribute, F_OK) == 0)
			continue;
		snprintf(path, size, "/dev/nbd%d", number);
		if (access(path, F_OK) == 0)
			return 0;
	}
	return -1;
}

static unsigned long long device_size(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	off_t end;

	if (fd < 0)
		return 0;
	end = lseek(fd, 0, SEEK_END);
	close(fd);
	return end > 0 ? (unsigned long long)end : 0;
}

/* busybox nbd-client daemonizes once the device is set up; the kernel then shows a pid
 * for the device and its size. */
static int attach_nbd(struct repair *repair)
{
	char port[16];
	/* 512-byte blocks: the snapshot takes the larger block size of origin and store, and
	 * ext with 1 KiB blocks does not mount on a 4 KiB-sector device. */
	char *argv[] = { "nbd-client", "-b", "512", "-N", repair->cow.export_name,
	    repair->cow.host, port, repair->cow_device, NULL };
	struct spawn_request request = { .argv = argv, .flags = SPAWN_STDERR,
	    .timeout_seconds = 30 };
	struct spawn_result result;
	int tries;

	if (free_nbd_device(repair->cow_device, sizeof repair->cow_device) != 0)
		return err_fatalx(EXIT_SYSTEM, "unable to find a free /dev/nbdN for nbd://%s:%u",
		    repair->cow.host, repair->cow.port);
	snprintf(port, sizeof port, "%u", repair->cow.port);
	if (spawn_run(&request, &result) != 0)
		return err_fatal(EXIT_SYSTEM, "unable to run nbd-client");
	if (spawn_exit_code(&result) != 0) {
		int code = err_fatalx(EXIT_SYSTEM, "unable to connect to nbd://%s:%u/%s: %s",
		    repair->cow.host, repair->cow.port, repair->cow.export_name,
		    result.output[0] ? result.output : "nbd-client failed");

		spawn_result_free(&result);
		repair->cow_device[0] = '\0';
		return code;
	}
	spawn_result_free(&result);
	for (tries = 0; tries < 100 && (repair->cow_size = device_size(repair->cow_device)) == 0;
	    tries++)
		usleep(100000);
	if (repair->cow_size < COW_MIN_SIZE)
		return err_fatalx(EXIT_SYSTEM, "unable to use nbd://%s:%u/%s: the export is %llu "
		    "bytes, less than 64K", repair->cow.host, repair->cow.port,
		    repair->cow.export_name, repair->cow_size);
	return 0;
}

/* nbd-client -d only asks for the disconnect; the device is free once the kernel drops
 * its pid attribute, which the next repair looks at. */
static void detach_nbd(const char *device)
{
	char *argv[] = { "nbd-client", "-d", (char *)device, NULL };
	struct spawn_request request = { .argv = argv, .flags = SPAWN_STDERR,
	    .timeout_seconds = 30 };
	struct spawn_result result;
	const char *name = strrchr(device, '/');
	char attribute[128];
	int tries;

	if (spawn_run(&request, &result) == 0)
		spawn_result_free(&result);
	snprintf(attribute, sizeof attribute, "%s/block/%s/pid", block_sysfs_root(),
	    name ? name + 1 : device);
	for (tries = 0; tries < 100 && access(attribute, F_OK) == 0; tries++)
		usleep(100000);
	if (access(attribute, F_OK) == 0)
		err_warnx("%s is still connected after nbd-client -d", device);
}

static int cow_create(struct repair *repair)
{
	int code;

	repair->cow_fd = -1;
	if (repair->cow.kind == COW_NBD)
		return attach_nbd(repair);
	if (repair->cow.kind == COW_FILE)
		code = cow_file_path(repair);
	else {
		make_dirs(COW_DIR);
		snprintf(repair->cow_file, sizeof repair->cow_file, "%s/%.200s.cow", COW_DIR,
		    repair->device.name);
		code = cow_ram_size(repair);
	}
	if (code != 0) {
		repair->cow_file[0] = '\0';
		return code;
	}
	return cow_file_make(repair);
}

/* The store's device goes first (it holds the file), then the file. */
static void cow_remove(const struct repair *repair)
{
	if (repair->cow_device[0] && repair->cow.kind == COW_NBD)
		detach_nbd(repair->cow_device);
	else if (repair->cow_device[0])
		loopdev_detach(repair->cow_device);
	if (repair->cow_file[0])
		unlink(repair->cow_file);
}

/* ------------------------------------------------------------------ the snapshot */

/* "N": a transient store (the copy lives as long as the snapshot); chunks of 8 sectors. */
static int snapshot_create(struct repair *repair)
{
	char params[256];
	struct stat store;
	dev_t dev;

	if (stat(repair->cow_device, &store) != 0)
		return err_fatal(EXIT_SYSTEM, "unable to find %s", repair->cow_device);
	snprintf(params, sizeof params, "%u:%u %u:%u N 8", major(repair->device.rdev),
	    minor(repair->device.rdev), major(store.st_rdev), minor(store.st_rdev));
	if (dm_create(repair->snapshot, "snapshot", repair->device.size_bytes / 512, params,
	    &dev) != 0)
		return err_fatal(EXIT_SYSTEM, "unable to create the snapshot %s of %s (table "
		    "\"0 %llu snapshot %s\")", repair->snapshot, repair->device.path,
		    repair->device.size_bytes / 512, params);
	dm_path(repair->snapshot, repair->snapshot_path, sizeof repair->snapshot_path);
	return 0;
}

/* The snapshot's status is "USED/TOTAL METADATA" in sectors, or "Invalid" once the store
 * overflowed: then the copy is lost and everything has to go. */
static int cow_usage(const char *snapshot, unsigned long long *used,
    unsigned long long *total)
{
	char status[DM_STATUS_MAX];

	if (dm_status(snapshot, status, sizeof status) != 0)
		return -1;
	if (sscanf(status, "%llu/%llu", used, total) != 2) {
		errno = ENOSPC;
		return -1;
	}
	*used *= 512;
	*total *= 512;
	return 0;
}

/* The suggestion is four times the store that overflowed, in MiB, at least 4M. */
static int cow_full_error(const struct repair *repair, const char *during)
{
	unsigned long long suggested_mib = (repair->cow_size * 4) >> 20;
	const char *where = repair->cow.kind == COW_NBD ? "nbd"
	    : repair->cow.kind == COW_FILE ? repair->cow_file : "RAM";
	char size[32];

	if (suggested_mib < 4)
		suggested_mib = 4;
	size_format(repair->cow_size, size, sizeof size);
	return err_fatalx(EXIT_SYSTEM, "unable to repair %s: the copy-on-write store (%s, %s) "
	    "filled up during %s and the copy is lost; give more room with --cow SIZE (e.g. "
	    "--cow %lluM), --cow file:///path or --cow nbd://host:port/export",
	    repair->device.name, size, where, during, suggested_mib);
}

static int cow_check(const struct repair *repair, const char *during)
{
	unsigned long long used, total;

	if (cow_usage(repair->snapshot, &used, &total) == 0)
		return 0;
	if (errno == ENOSPC)
		return cow_full_error(repair, during);
	return err_fatal(EXIT_SYSTEM, "unable to read the status of %s", repair->snapshot);
}

/* ------------------------------------------------------------------ steps */

static int refuse_busy(const struct repair *repair)
{
	char path[PATH_MAX], dir[PATH_MAX], partitions[512];

	if (device_partitions(block_sysfs_root(), repair->device.name, partitions,
	    sizeof partitions) > 0)
		return err_fatalx(EXIT_SYSTEM, "unable to repair %s: it is a whole disk with "
		    "partitions (%s); repair one of them", repair->device.name, partitions);
	busy_path(RESCUE_BUSY_DIR, repair->device.name, path, sizeof path);
	if (access(path, F_OK) == 0)
		return err_fatalx(EXIT_SYSTEM, "unable to repair %s: it is busy (%s); a repaired "
		    "copy may exist already: `rescue repair --release %s` removes it",
		    repair->device.name, path, repair->device.name);
	if (device_mount_point(NULL, repair->device.rdev, dir, sizeof dir) == 1)
		return err_fatalx(EXIT_SYSTEM, "unable to repair %s: it is mounted on %s; "
		    "`rescue umount %s` first", repair->device.name, dir, repair->device.name);
	return 0;
}

static int identify(struct repair *repair)
{
	const char *advice;

	if (probe_device(repair->device.path, &repair->probe) != 0)
		return err_fatal(EXIT_SYSTEM, "unable to read %s", repair->device.path);
	extfs_probe_backup(repair->device.path, &repair->probe, &repair->facts);
	repair->type = mountfs_lookup(repair->probe.type);
	if (repair->type)
		return 0;
	advice = device_content_advice(repair->probe.type);
	return err_fatalx(EXIT_SYSTEM, "unable to repair %s: it holds %s: %s",
	    repair->device.name, repair->probe.type[0] ? repair->probe.type : "nothing known",
	    advice ? advice : "not a file system we can mount");
}

static int run_fsck(struct repair *repair)
{
	printf("running e2fsck -fy on the copy %s ...\n", repair->snapshot_path);
	fflush(stdout);
	if (repair->facts.superblock)
		printf("the primary superblock is unreadable: e2fsck uses the backup at block %lu\n",
		    repair->facts.superblock);
	if (e2fsck_run(repair->snapshot_path, "-y", repair->facts.superblock,
	    repair->facts.blocksize, &repair->fsck) != 0)
		return err_fatal(EXIT_SYSTEM, "unable to run e2fsck on %s", repair->snapshot_path);
	repair->fsck_exit = spawn_exit_code(&repair->fsck);
	e2fsck_summarise(repair->fsck.output, &repair->summary);
	if (repair->fsck_exit == 127)
		return err_fatalx(EXIT_SYSTEM, "unable to run e2fsck: not found");
	return 0;
}

/* e2fsck -y exits 8 or more when it could not work at all (not merely left errors). */
static int fsck_failed(const struct repair *repair)
{
	if (repair->fsck_exit < 8)
		return 0;
	fputs(repair->fsck.output, stderr);
	return err_fatalx(EXIT_SYSTEM, "unable to repair %s: e2fsck -fy on the copy failed "
	    "(exit %d; its output is above)", repair->device.name, repair->fsck_exit);
}

static int mount_copy(struct repair *repair)
{
	int made_dir;

	snprintf(repair->mount_dir, sizeof repair->mount_dir, "/mnt/%s-repaired",
	    repair->device.name);
	mkdir("/mnt", 0755);
	if (mountfs_mount(repair->snapshot_path, repair->mount_dir, repair->type, 1, NULL,
	    &made_dir) != 0)
		return err_fatal(EXIT_SYSTEM, "unable to mount the repaired copy %s (%s) on %s",
		    repair->snapshot_path, repair->probe.type, repair->mount_dir);
	repair->mounted = 1;
	return 0;
}

static void print_result(const struct repair *repair)
{
	unsigned long long used = 0, total = 0;
	char used_text[32], total_text[32];
	int is_ext = strncmp(repair->probe.type, "ext", 3) == 0;

	cow_usage(repair->snapshot, &used, &total);
	size_format(used, used_text, sizeof used_text);
	size_format(repair->cow_size, total_text, sizeof total_text);
	if (is_ext && repair->summary.problems == 0)
		printf("e2fsck -fy found nothing to repair (exit %d)\n", repair->fsck_exit);
	else if (is_ext) {
		printf("e2fsck -fy changed the copy (exit %d): %u of %u problems fixed\n",
		    repair->fsck_exit, repair->summary.fixed, repair->summary.problems);
		e2fsck_print_kinds(stdout, &repair->summary, 1);
	} else {
		printf("%s has no checker in the image: the copy was mounted with journal/log "
		    "replay, so the kernel replayed it into the copy\n", repair->probe.type);
	}
	printf("copy-on-write store: %s of %s used (%s)\n", used_text, total_text,
	    repair->cow_device);
	printf("%s: repaired copy mounted read-only at %s; `rescue repair --release %s` "
	    "removes it; %s itself was not written\n", repair->device.name, repair->mount_dir,
	    repair->device.name, repair->device.path);
	journal_summary("repaired a copy of %s (%s) at %s: %u of %u problems fixed, %s of %s "
	    "store used", repair->device.name, repair->probe.type, repair->mount_dir,
	    repair->summary.fixed, repair->summary.problems, used_text, total_text);
}

/* Undoes what exists, newest first: the mount, the snapshot, the store, the busy file.
 * A failed repair and --release both end here. A mount or a snapshot that will not go
 * stops it, and the busy file stays for another `rescue repair --release`. 0 or the exit
 * code. */
static int teardown(struct repair *repair)
{
	int tries;

	if (repair->mounted && umount2(repair->mount_dir, 0) != 0 && errno != EINVAL
	    && errno != ENOENT)
		return err_fatal(EXIT_SYSTEM, "unable to unmount the repaired copy at %s",
		    repair->mount_dir);
	repair->mounted = 0;
	if (repair->mount_dir[0])
		rmdir(repair->mount_dir);
	for (tries = 0; repair->snapshot_path[0] && dm_remove(repair->snapshot) != 0
	    && errno != ENXIO; tries++) {
		if (tries == 20)
			return err_fatal(EXIT_SYSTEM, "unable to remove the snapshot %s",
			    repair->snapshot);
		usleep(100000);
	}
	repair->snapshot_path[0] = '\0';
	if (repair->cow_fd >= 0)
		close(repair->cow_fd);
	repair->cow_fd = -1;
	cow_remove(repair);
	if (repair->device.name[0]) {
		char path[PATH_MAX];

		busy_path(RESCUE_BUSY_DIR, repair->device.name, path, sizeof path);
		unlink(path);
	}
	return 0;
}

/* What busy_write recorded, back into REPAIR for teardown. */
static int busy_read(struct repair *repair)
{
	char path[PATH_MAX], text[4096] = "", kind[8];
	ssize_t got;
	int fd;

	busy_path(RESCUE_BUSY_DIR, repair->device.name, path, sizeof path);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return err_fatalx(EXIT_SYSTEM, "unable to release %s: it has no repaired copy "
		    "(no %s)", repair->device.name, path);
	got = read(fd, text, sizeof text - 1);
	close(fd);
	text[got > 0 ? got : 0] = '\0';
	busy_value(text, "snapshot", repair->snapshot, sizeof repair->snapshot);
	busy_value(text, "cow_device", repair->cow_device, sizeof repair->cow_device);
	busy_value(text, "cow_file", repair->cow_file, sizeof repair->cow_file);
	busy_value(text, "mount", repair->mount_dir, sizeof repair->mount_dir);
	busy_value(text, "cow_kind", kind, sizeof kind);
	/* "loop" stands for RAM and file stores alike: both are removed the same way. */
	repair->cow.kind = strcmp(kind, "nbd") == 0 ? COW_NBD : COW_FILE;
	repair->mounted = repair->mount_dir[0] != '\0';
	if (repair->snapshot[0])
		dm_path(repair->snapshot, repair->snapshot_path, sizeof repair->snapshot_path);
	return 0;
}

static int release(const char *operand)
{
	struct repair repair;
	int code;

	memset(&repair, 0, sizeof repair);
	repair.cow_fd = -1;
	if (device_resolve(operand, &repair.device) != 0)
		return err_fatalx(EXIT_SYSTEM, "unable to release %s: %s", operand,
		    device_resolve_error(errno));
	if ((code = busy_read(&repair)) != 0 || (code = teardown(&repair)) != 0)
		return code;
	printf("%s: repaired copy released: %s unmounted, %s removed, store %s%s%s freed\n",
	    repair.device.name, repair.mount_dir, repair.snapshot, repair.cow_device,
	    repair.cow_file[0] ? " and " : "", repair.cow_file);
	journal_summary("released the repaired copy of %s (%s, %s)", repair.device.name,
	    repair.snapshot, repair.cow_device);
	return EXIT_OK;
}

static int repair_main(int argc, char **argv)
{
	struct repair_options options = { 0 };
	struct repair repair;
	char why[160];
	int code;

	memset(&repair, 0, sizeof repair);
	repair.cow_fd = -1;
	if ((code = parse_options(argc, argv, &options)) >= 0)
		return code;
	if (options.release)
		return release(options.operand);
	if (options.cow_text && cow_parse(options.cow_text, &repair.cow, why, sizeof why) != 0)
		return err_usage(command_repair.usage, "bad --cow %s: %s", options.cow_text, why);
	if (device_resolve(options.operand, &repair.device) != 0)
		return err_fatalx(EXIT_SYSTEM, "unable to repair %s: %s", options.operand,
		    device_resolve_error(errno));
	snprintf(repair.snapshot, sizeof repair.snapshot, "rescue-%.100s", repair.device.name);
	if ((code = refuse_busy(&repair)) != 0 || (code = identify(&repair)) != 0)
		return code;
	if ((code = cow_create(&repair)) != 0 || (code = snapshot_create(&repair)) != 0)
		goto out;
	/* dm holds the loop device now; closing ours lets it detach when dm lets go. */
	close(repair.cow_fd);
	repair.cow_fd = -1;
	if ((code = busy_write(&repair)) != 0)
		goto out;
	if (strncmp(repair.probe.type, "ext", 3) == 0 && (code = run_fsck(&repair)) != 0)
		goto out;
	if ((code = cow_check(&repair, "e2fsck")) != 0 || (code = fsck_failed(&repair)) != 0
	    || (code = mount_copy(&repair)) != 0
	    || (code = busy_write(&repair)) != 0 || (code = cow_check(&repair, "the mount")) != 0)
		goto out;
	print_result(&repair);
	code = repair.fsck_exit & 4 ? EXIT_LOSSES : EXIT_OK;
	spawn_result_free(&repair.fsck);
	return code;
out:
	if (repair.fsck.output && repair.summary.problems)
		e2fsck_print_kinds(stderr, &repair.summary, 1);
	spawn_result_free(&repair.fsck);
	teardown(&repair);
	return code;
}
