/* guard.h: the kernel's write guard of a disk (/sys/block/DISK/guard) and the record of
 * its releases, which the report's attestation reads. */
#ifndef RESCUE_GUARD_H
#define RESCUE_GUARD_H

#include <stddef.h>

int guard_write(const char *sysfs_root, const char *disk, int on);
int guard_record_release(const char *disk);
/* RECORD is RESCUE_UNGUARDED_FILE, or another file in tests. */
void guard_released_at(const char *record, const char *disk, char *text, size_t size);

#endif
