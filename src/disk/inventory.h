/* inventory.h: every disk the machine has, its partitions and what is on each, gathered
 * from sysfs, the devices' first sectors (probe.h) and the mount table. Memory: about
 * 0.9 KB per disk or partition (a mount point is held only when there is one), and the
 * time is linear in the devices: a box of a thousand LUNs lists in a few MB. `rescue disks`
 * prints it, guard and unguard check against it, `rescue report` embeds it. */
#ifndef RESCUE_INVENTORY_H
#define RESCUE_INVENTORY_H

#include <limits.h>
#include <stddef.h>
#include <stdio.h>

#include "fs/probe.h"

struct inventory_part {
	char name[NAME_MAX + 1];
	int number;
	unsigned long long start_bytes, size_bytes;
	unsigned long long rejected_writes;
	char *mounted;			/* "" when not mounted; malloc'd otherwise */
	int busy;			/* a repair (later image, dump) holds it */
	char holders[128];		/* dm or md devices built on it ("dm-0"), "" for none */
	struct probe_result content;
	int probed;			/* 0 when the device could not be read */
};

struct inventory_disk {
	char name[NAME_MAX + 1];
	unsigned long long size_bytes;
	char model[64], serial[64], transport[16];
	int rotational;			/* 1 spinning, 0 solid state, -1 unknown */
	int read_only;
	int guardable;			/* the kernel has the guard for it */
	int guarded;
	int hardware;			/* a real disk, not a loop, nbd, dm or md device */
	int config_disk;		/* the RESCUECFG disk, or the disk holding it */
	unsigned long long rejected_writes;
	char *mounted;			/* the same */
	int busy;
	char holders[128];
	struct probe_result content;	/* of the whole disk: a table, or a file system */
	int probed;
	struct inventory_part *parts;
	size_t part_count;
};

struct inventory {
	struct inventory_disk *disks;
	size_t count;
};

int inventory_read(const char *sysfs_root, struct inventory *inventory);
void inventory_free(struct inventory *inventory);
const struct inventory_disk *inventory_find(const struct inventory *inventory, const char *name,
    const struct inventory_part **part);
int inventory_disk_in_use(const struct inventory_disk *disk, char *why, size_t size);
void inventory_json(FILE *out, const struct inventory *inventory);
/* The "disks":[...] member alone, for a caller that adds members of its own. */
void inventory_json_disks(FILE *out, const struct inventory *inventory);
/* The serial of the disk whose sysfs directory is DIRECTORY: its serial attribute (NVMe,
 * virtio), device/serial, or VPD page 0x80 (SATA, SCSI); "" when none says. */
void inventory_disk_serial(const char *directory, char *serial, size_t size);
void inventory_size_text(unsigned long long bytes, char *text, size_t size);

#endif
