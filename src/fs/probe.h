/* probe.h: what a block device holds, read from its first and last sectors the way blkid
 * does, without mounting or writing anything.
 *
 * probe_device() opens PATH read-only and fills RESULT; type is "" when nothing known was
 * found ("unknown" is for the user to read, not for this struct). Known types:
 *   file systems: ext2 ext3 ext4 xfs btrfs vfat exfat ntfs iso9660 swap
 *   containers:   LVM2_member linux_raid_member crypto_LUKS
 *   partition tables (whole disks): gpt dos
 * label and uuid are "" when the format has none. mountable is 1 for the file systems the
 * kernel can mount read-only (mount and check use it), fs_kind groups ext2/3/4 as "ext".
 */
#ifndef RESCUE_PROBE_H
#define RESCUE_PROBE_H

struct probe_result {
	char type[24];		/* "ext4", "xfs", "crypto_LUKS", "gpt", ... or "" */
	char version[16];	/* "1.2" for md, "2" for LUKS2, "" when not applicable */
	char label[256];
	char uuid[64];
	int mountable;
	int needs_recovery;	/* ext3/4 journal or xfs log holds unreplayed changes: 1, else 0 */
};

int probe_device(const char *path, struct probe_result *result);

/* The same over a device's contents in memory, SIZE bytes of it (all of a small image, or
 * as much of its start as the caller has): never reads past SIZE. Always 0. */
int probe_buffer(const void *data, size_t size, struct probe_result *result);

#endif
