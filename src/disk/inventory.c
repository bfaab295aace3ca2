/* inventory.c: gathers the disks, partitions and their content (see inventory.h). */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "base/json.h"
#include "base/paths.h"
#include "disk/block.h"
#include "disk/device.h"
#include "disk/inventory.h"

static int read_line(const char *path, char *text, size_t size)
{
	FILE *file = fopen(path, "re");
	int ok;

	text[0] = '\0';
	if (file == NULL)
		return -1;
	ok = fgets(text, (int)size, file) != NULL;
	fclose(file);
	text[strcspn(text, "\n")] = '\0';
	while (*text && text[strlen(text) - 1] == ' ')
		text[strlen(text) - 1] = '\0';
	return ok ? 0 : -1;
}

static unsigned long long read_value(const char *directory, const char *file, int *found)
{
	char path[2 * PATH_MAX], text[64];

	snprintf(path, sizeof path, "%s/%s", directory, file);
	*found = read_line(path, text, sizeof text) == 0;
	return *found ? strtoull(text, NULL, 10) : 0;
}

void inventory_size_text(unsigned long long bytes, char *text, size_t size)
{
	static const char units[][4] = { "B", "KiB", "MiB", "GiB", "TiB", "PiB" };
	double value = (double)bytes;
	size_t unit = 0;

	while (value >= 1024 && unit + 1 < sizeof units / sizeof units[0]) {
		value /= 1024;
		unit++;
	}
	snprintf(text, size, unit ? "%.1f %s" : "%.0f %s", value, units[unit]);
}

/* The bus the disk hangs on, from where its device link points in sysfs. */
static void transport_of(const char *directory, const struct block_device *device, char *text,
    size_t size)
{
	static const struct { const char *marker, *name; } buses[] = {
		{ "/usb", "usb" }, { "/nvme", "nvme" }, { "/virtio", "virtio" }, { "/ata", "sata" },
		{ "/host", "scsi" }, { "/mmc", "mmc" },
	};
	char link[2 * PATH_MAX], target[PATH_MAX];
	size_t i;

	snprintf(text, size, "%s", device->hardware ? "other" : "virtual");
	snprintf(link, sizeof link, "%s/device", directory);
	if (realpath(link, target) == NULL)
		return;
	for (i = 0; i < sizeof buses / sizeof buses[0]; i++)
		if (strstr(target, buses[i].marker)) {
			snprintf(text, size, "%s", buses[i].name);
			return;
		}
}

/* SATA and SCSI disks give their serial in VPD page 0x80: a 4-byte header (the length in
 * bytes 2-3), then the serial, space-padded. */
static void vpd_serial(const char *directory, char *serial, size_t size)
{
	char path[2 * PATH_MAX];
	unsigned char page[256];
	size_t got, length, start = 0;
	FILE *file;

	serial[0] = '\0';
	snprintf(path, sizeof path, "%s/device/vpd_pg80", directory);
	file = fopen(path, "re");
	if (file == NULL)
		return;
	got = fread(page, 1, sizeof page, file);
	fclose(file);
	if (got < 4 || page[1] != 0x80)
		return;
	length = (size_t)(page[2] << 8 | page[3]);
	if (length > got - 4)
		length = got - 4;
	while (start < length && page[4 + start] == ' ')
		start++;
	while (length > start && (page[4 + length - 1] == ' ' || page[4 + length - 1] == '\0'))
		length--;
	if (length - start >= size)
		length = start + size - 1;
	memcpy(serial, page + 4 + start, length - start);
	serial[length - start] = '\0';
}

void inventory_disk_serial(const char *directory, char *serial, size_t size)
{
	char path[2 * PATH_MAX];

	snprintf(path, sizeof path, "%s/serial", directory);
	if (read_line(path, serial, size) == 0)
		return;
	snprintf(path, sizeof path, "%s/device/serial", directory);
	if (read_line(path, serial, size) == 0)
		return;
	vpd_serial(directory, serial, size);
}

static dev_t device_number(const char *directory)
{
	char path[2 * PATH_MAX], text[32];
	unsigned major_number, minor_number;

	snprintf(path, sizeof path, "%s/dev", directory);
	if (read_line(path, text, sizeof text) != 0
	    || sscanf(text, "%u:%u", &major_number, &minor_number) != 2)
		return 0;
	return makedev(major_number, minor_number);
}

/* The device-mapper and md devices built on a device: DIRECTORY/holders/. */
static void holders_of(const char *directory, char *holders, size_t size)
{
	char path[2 * PATH_MAX];
	struct dirent *entry;
	size_t used = 0;
	DIR *dir;

	holders[0] = '\0';
	snprintf(path, sizeof path, "%s/holders", directory);
	dir = opendir(path);
	if (dir == NULL)
		return;
	while ((entry = readdir(dir)) != NULL && used + 1 < size)
		if (entry->d_name[0] != '.')
			used += (size_t)snprintf(holders + used, size - used, "%s%s", used ? " " : "",
			    entry->d_name);
	closedir(dir);
}

static void usage_of(const char *directory, const char *name, char *mounted, size_t size,
    int *busy, char *holders, size_t holders_size)
{
	char path[PATH_MAX];
	dev_t number = device_number(directory);

	mounted[0] = '\0';
	if (number != 0 && device_mount_point(NULL, number, mounted, size) != 1)
		mounted[0] = '\0';
	snprintf(path, sizeof path, "%s/%s", RESCUE_BUSY_DIR, name);
	*busy = access(path, F_OK) == 0;
	holders_of(directory, holders, holders_size);
}

/* Reads /dev/NAME only when it is the device sysfs describes (the same major:minor), so a
 * stale or foreign node is never probed in its place. */
static void probe_of(const char *directory, const char *name, struct probe_result *content,
    int *probed)
{
	char path[PATH_MAX];
	struct stat status;

	*probed = 0;
	memset(content, 0, sizeof *content);
	snprintf(path, sizeof path, "/dev/%s", name);
	if (stat(path, &status) != 0 || !S_ISBLK(status.st_mode)
	    || status.st_rdev != device_number(directory))
		return;
	*probed = probe_device(path, content) == 0;
}

static int compare_number(const void *a, const void *b)
{
	const struct inventory_part *left = a, *right = b;

	return (left->number > right->number) - (left->number < right->number);
}

/* Partitions in the order of their numbers, whatever order sysfs lists them in. */
static int read_parts(const char *root, const char *directory, struct inventory_disk *disk)
{
	char list[4096], *name, *cursor = list, part_directory[2 * PATH_MAX];
	int count = device_partitions(root, disk->name, list, sizeof list), found;
	struct inventory_part *part;

	if (count <= 0)
		return 0;
	disk->parts = calloc((size_t)count, sizeof *disk->parts);
	if (disk->parts == NULL)
		return -1;
	while ((name = strtok_r(cursor, " ", &cursor)) != NULL && disk->part_count < (size_t)count) {
		part = &disk->parts[disk->part_count++];
		snprintf(part->name, sizeof part->name, "%s", name);
		snprintf(part_directory, sizeof part_directory, "%s/%s", directory, name);
		part->number = (int)read_value(part_directory, "partition", &found);
		part->start_bytes = read_value(part_directory, "start", &found) * 512;
		part->size_bytes = read_value(part_directory, "size", &found) * 512;
		part->rejected_writes = read_value(part_directory, "rejected_writes", &found);
		usage_of(part_directory, name, part->mounted, sizeof part->mounted, &part->busy,
		    part->holders, sizeof part->holders);
		probe_of(part_directory, name, &part->content, &part->probed);
	}
	qsort(disk->parts, disk->part_count, sizeof *disk->parts, compare_number);
	return 0;
}

/* The config disk is recorded by its device path, which may be a partition. */
static int holds_config(const struct inventory_disk *disk)
{
	char config[PATH_MAX], *name;
	size_t i;

	if (read_line(RESCUE_CONFIG_DEVICE_FILE, config, sizeof config) != 0)
		return 0;
	name = strncmp(config, "/dev/", 5) == 0 ? config + 5 : config;
	if (strcmp(name, disk->name) == 0)
		return 1;
	for (i = 0; i < disk->part_count; i++)
		if (strcmp(name, disk->parts[i].name) == 0)
			return 1;
	return 0;
}

static int read_disk(const char *root, const char *name, struct inventory_disk *disk)
{
	char directory[PATH_MAX];
	struct block_device device;
	int found;

	if (block_device_read(root, name, &device) != 0)
		return -1;
	snprintf(directory, sizeof directory, "%s/block/%s", root, name);
	snprintf(disk->name, sizeof disk->name, "%s", name);
	disk->size_bytes = device.size_bytes;
	snprintf(disk->model, sizeof disk->model, "%s", device.model);
	disk->read_only = device.read_only;
	disk->guarded = device.guarded;
	disk->rejected_writes = device.rejected_writes;
	disk->hardware = device.hardware;
	read_value(directory, "guard", &disk->guardable);
	inventory_disk_serial(directory, disk->serial, sizeof disk->serial);
	disk->rotational = (int)read_value(directory, "queue/rotational", &found);
	if (!found)
		disk->rotational = -1;
	transport_of(directory, &device, disk->transport, sizeof disk->transport);
	usage_of(directory, name, disk->mounted, sizeof disk->mounted, &disk->busy,
	    disk->holders, sizeof disk->holders);
	probe_of(directory, name, &disk->content, &disk->probed);
	if (read_parts(root, directory, disk) != 0)
		return -1;
	disk->config_disk = holds_config(disk);
	return 0;
}

/* Hardware disks, and the devices the appliance made (loop, nbd, dm) when they hold
 * something: an empty loop or nbd slot is not a disk. */
int inventory_read(const char *sysfs_root, struct inventory *inventory)
{
	char **names;
	int count, i;

	memset(inventory, 0, sizeof *inventory);
	count = block_names(sysfs_root, &names);
	if (count < 0)
		return -1;
	inventory->disks = calloc((size_t)count + 1, sizeof *inventory->disks);
	if (inventory->disks == NULL) {
		block_names_free(names, count);
		return -1;
	}
	for (i = 0; i < count; i++) {
		struct inventory_disk *disk = &inventory->disks[inventory->count];

		if (read_disk(sysfs_root, names[i], disk) != 0)
			continue;
		if (!disk->hardware && disk->size_bytes == 0) {
			free(disk->parts);
			memset(disk, 0, sizeof *disk);
			continue;
		}
		inventory->count++;
	}
	block_names_free(names, count);
	return 0;
}

void inventory_free(struct inventory *inventory)
{
	size_t i;

	for (i = 0; i < inventory->count; i++)
		free(inventory->disks[i].parts);
	free(inventory->disks);
	memset(inventory, 0, sizeof *inventory);
}

/* The disk named NAME, or the disk of partition NAME (then *PART points to it). */
const struct inventory_disk *inventory_find(const struct inventory *inventory, const char *name,
    const struct inventory_part **part)
{
	size_t i, j;

	if (part)
		*part = NULL;
	for (i = 0; i < inventory->count; i++) {
		const struct inventory_disk *disk = &inventory->disks[i];

		if (strcmp(disk->name, name) == 0)
			return disk;
		for (j = 0; j < disk->part_count; j++)
			if (strcmp(disk->parts[j].name, name) == 0) {
				if (part)
					*part = &disk->parts[j];
				return disk;
			}
	}
	return NULL;
}

/* 1 with WHY filled when the disk or one of its partitions is mounted or being rescued. */
int inventory_disk_in_use(const struct inventory_disk *disk, char *why, size_t size)
{
	size_t i;

	if (disk->mounted[0])
		return snprintf(why, size, "%s is mounted at %s", disk->name, disk->mounted), 1;
	if (disk->busy)
		return snprintf(why, size, "%s is being rescued (a repair copy, an image or a carve)",
		    disk->name), 1;
	if (disk->holders[0])
		return snprintf(why, size, "%s is used by %s", disk->name, disk->holders), 1;
	for (i = 0; i < disk->part_count; i++) {
		const struct inventory_part *part = &disk->parts[i];

		if (part->mounted[0])
			return snprintf(why, size, "its partition %s is mounted at %s", part->name,
			    part->mounted), 1;
		if (part->busy)
			return snprintf(why, size, "its partition %s is being rescued (a repair copy "
			    "or an image)", part->name), 1;
		if (part->holders[0])
			return snprintf(why, size, "its partition %s is used by %s", part->name,
			    part->holders), 1;
	}
	return 0;
}

static void content_json(FILE *out, const struct probe_result *content, int probed)
{
	fputs("{", out);
	json_member_string(out, "type", probed ? content->type : "unreadable", 0);
	json_member_string(out, "version", content->version, 1);
	json_member_string(out, "label", content->label, 1);
	json_member_string(out, "uuid", content->uuid, 1);
	fprintf(out, ",\"needs_recovery\":%s}", content->needs_recovery ? "true" : "false");
}

static void mounted_json(FILE *out, const char *mounted)
{
	fputs(",\"mounted\":", out);
	if (mounted[0])
		json_string(out, mounted);
	else
		fputs("null", out);
}

/* The name comes from sysfs, so the path is escaped like any string from outside. */
static void device_path_json(FILE *out, const char *name)
{
	char path[300];

	snprintf(path, sizeof path, "/dev/%s", name);
	json_member_string(out, "path", path, 1);
}

/* A partition's guard is its disk's: the kernel keeps one per disk. */
static void part_json(FILE *out, const struct inventory_part *part, int guarded, int first)
{
	fprintf(out, "%s{", first ? "" : ",");
	json_member_string(out, "name", part->name, 0);
	device_path_json(out, part->name);
	fprintf(out, ",\"number\":%d,\"start_bytes\":%llu,"
	    "\"size_bytes\":%llu,\"guarded\":%s,\"rejected_writes\":%llu,\"busy\":%s",
	    part->number, part->start_bytes, part->size_bytes,
	    guarded ? "true" : "false", part->rejected_writes, part->busy ? "true" : "false");
	mounted_json(out, part->mounted);
	fputs(",\"content\":", out);
	content_json(out, &part->content, part->probed);
	fputs("}", out);
}

static void disk_json(FILE *out, const struct inventory_disk *disk, int first)
{
	size_t i;

	fprintf(out, "%s\n{", first ? "" : ",");
	json_member_string(out, "name", disk->name, 0);
	device_path_json(out, disk->name);
	fprintf(out, ",\"size_bytes\":%llu", disk->size_bytes);
	json_member_string(out, "model", disk->model, 1);
	json_member_string(out, "serial", disk->serial, 1);
	json_member_string(out, "transport", disk->transport, 1);
	fprintf(out, ",\"rotational\":%s,\"read_only\":%s,\"hardware\":%s,\"guarded\":%s,"
	    "\"rejected_writes\":%llu,\"config_disk\":%s,\"busy\":%s",
	    disk->rotational < 0 ? "null" : disk->rotational ? "true" : "false",
	    disk->read_only > 0 ? "true" : "false", disk->hardware ? "true" : "false",
	    disk->guarded ? "true" : "false", disk->rejected_writes,
	    disk->config_disk ? "true" : "false", disk->busy ? "true" : "false");
	mounted_json(out, disk->mounted);
	fputs(",\"content\":", out);
	content_json(out, &disk->content, disk->probed);
	fputs(",\"partitions\":[", out);
	for (i = 0; i < disk->part_count; i++)
		part_json(out, &disk->parts[i], disk->guarded, i == 0);
	fputs("]}", out);
}

void inventory_json(FILE *out, const struct inventory *inventory)
{
	size_t i;

	fputs("{\"disks\":[", out);
	for (i = 0; i < inventory->count; i++)
		disk_json(out, &inventory->disks[i], i == 0);
	fputs("]}\n", out);
}
