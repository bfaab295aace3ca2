/* block.h: block devices as the kernel describes them under SYSFS/block.
 *
 * Every function takes the sysfs root as an argument so tests can point it at a fake tree;
 * block_sysfs_root() gives the real one ($RESCUE_SYSFS, else /sys).
 */
#ifndef RESCUE_BLOCK_H
#define RESCUE_BLOCK_H

#include <limits.h>

struct block_device {
	char name[NAME_MAX + 1];
	unsigned long long size_bytes;	/* 0 when the kernel knows no size (no medium, or failed) */
	int read_only;			/* the kernel's ro flag: 1, 0, or -1 when unreadable */
	int guarded;			/* 1 only when the guard attribute reads 1 */
	unsigned long long rejected_writes;	/* writes the guard refused */
	char model[64];			/* "" when the device does not say */
	int hardware;			/* 1 when backed by a device (not loop, nbd, dm, ...) */
};

/* Counts hardware-backed disks only: the loop, nbd and dm devices the
 * appliance makes for itself are deliberately unguarded. */
struct guard_summary {
	unsigned devices;
	unsigned guarded;
	unsigned long long rejected_writes;
};

const char *block_sysfs_root(void);
int block_names(const char *sysfs_root, char ***names);
void block_names_free(char **names, int count);
int block_device_read(const char *sysfs_root, const char *name, struct block_device *device);
int block_guard_summary(const char *sysfs_root, struct guard_summary *summary);

#endif
