/* mountfs.c: the table of read-only mount options, and mount(2) itself. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fs/mountfs.h"

/* The ext4 driver mounts ext2 and ext3 as well (CONFIG_EXT4_USE_FOR_EXT2). */
static const struct mountfs_type types[] = {
	{ "ext2", "ext4", "noload" },
	{ "ext3", "ext4", "noload" },
	{ "ext4", "ext4", "noload" },
	{ "xfs", "xfs", "norecovery" },
	{ "btrfs", "btrfs", "rescue=nologreplay" },
	{ "vfat", "vfat", "" },
	{ "exfat", "exfat", "" },
	{ "ntfs", "ntfs3", "" },
	{ "iso9660", "iso9660", "" },
};

const struct mountfs_type *mountfs_lookup(const char *type)
{
	size_t i;

	for (i = 0; i < sizeof types / sizeof types[0]; i++)
		if (strcmp(types[i].type, type) == 0)
			return &types[i];
	return NULL;
}

int mountfs_mount(const char *device, const char *dir, const struct mountfs_type *type,
    int replay, const char *extra, int *made_dir)
{
	const char *options = replay ? "" : type->no_replay;
	char data[256];
	int saved;

	snprintf(data, sizeof data, "%s%s%s", options, options[0] && extra && extra[0] ? "," : "",
	    extra ? extra : "");
	*made_dir = 0;
	if (mkdir(dir, 0755) == 0)
		*made_dir = 1;
	else if (errno != EEXIST)
		return -1;
	if (mount(device, dir, type->driver, MOUNTFS_FLAGS, data) == 0)
		return 0;
	saved = errno;
	if (*made_dir)
		rmdir(dir);
	*made_dir = 0;
	errno = saved;
	return -1;
}
