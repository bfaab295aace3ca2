/* loopdev.h: a file as a block device (the copy-on-write store of a repair). Loop devices
 * are exempt from the write guard: the appliance makes them for itself.
 */
#ifndef RESCUE_LOOPDEV_H
#define RESCUE_LOOPDEV_H

#include <stddef.h>

/* Attaches FILE read-write to a free loop device, writes its path ("/dev/loop0") to PATH
 * and returns an open descriptor of it: the device detaches by itself (autoclear) once the
 * last user closes it, so keep the descriptor until something else holds it. -1 with
 * errno on failure. */
int loopdev_attach(const char *file, char *path, size_t size);
/* Detaches PATH; 0 also when it was no longer attached. */
int loopdev_detach(const char *path);

#endif
