/* dm.h: device-mapper devices made with the kernel's ioctls on /dev/mapper/control (the
 * image has no dmsetup). Only what repair needs: one-target tables, status, removal.
 *
 * dm_create() makes /dev/mapper/NAME with the table "0 SECTORS TARGET PARAMS", activates it
 * and creates the device node itself (devtmpfs only makes /dev/dm-N).
 */
#ifndef RESCUE_DM_H
#define RESCUE_DM_H

#include <stddef.h>
#include <sys/types.h>

enum { DM_STATUS_MAX = 256 };

/* 0 with the new device's number in DEV; -1 with errno, nothing left behind. */
int dm_create(const char *name, const char *target, unsigned long long sectors,
    const char *params, dev_t *dev);
/* The status line of the device's target ("16/2048 16", "Invalid"), or -1 with errno
 * (ENXIO: no such device). */
int dm_status(const char *name, char *status, size_t size);
/* Removes the device and the node dm_create made; -1 with errno (EBUSY: still open). */
int dm_remove(const char *name);
/* The node's path: "/dev/mapper/NAME". */
void dm_path(const char *name, char *path, size_t size);

#endif
