/* device.h: the block device a command was given ("sda1" or "/dev/sda1"), where it is
 * mounted, and the partitions of a whole disk.
 */
#ifndef RESCUE_DEVICE_H
#define RESCUE_DEVICE_H

#include <limits.h>
#include <stddef.h>
#include <sys/types.h>

struct device {
	char name[NAME_MAX + 1];	/* "sda1" */
	char path[PATH_MAX];		/* "/dev/sda1" */
	dev_t rdev;
	unsigned long long size_bytes;
};

/* 0 when OPERAND names a block device; else -1 with errno ENOENT (no such file), ENOTBLK
 * (exists but is no block device) or EINVAL (an empty name or a path outside /dev). */
int device_resolve(const char *operand, struct device *device);
/* The words for device_resolve's errno: "no such device", "not a block device", ... */
const char *device_resolve_error(int errnum);

/* 1 and DIR filled when the device RDEV is mounted (its first mount in mountinfo), 0 when
 * not, -1 when the mount table cannot be read. MOUNTINFO is the file to read (NULL:
 * /proc/self/mountinfo). */
int device_mount_point(const char *mountinfo, dev_t rdev, char *dir, size_t size);

/* 1 and RDEV filled when DIR is a mount point, 0 when not, -1 on error. */
int device_mounted_at(const char *mountinfo, const char *dir, dev_t *rdev);

/* Writes the names of the partitions of disk NAME, space-separated, into LIST (sysfs
 * SYSFS_ROOT); returns how many there are (0 for a partition or a disk without any). */
int device_partitions(const char *sysfs_root, const char *name, char *list, size_t size);



/* What a user can do with a device whose content (a probe.h type) cannot be mounted or
 * checked as a file system: "swap space holds no files", ... NULL for mountable types. */
const char *device_content_advice(const char *type);
#endif
