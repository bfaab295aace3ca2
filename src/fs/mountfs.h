/* mountfs.h: read-only mounts of the file systems a rescue meets.
 *
 * Every mount is MS_RDONLY | MS_NODEV | MS_NOSUID | MS_NOEXEC. Without replay the options
 * keep each file system from writing its journal or log into place even where the kernel
 * would otherwise do it on a read-only mount: ext2/3/4 noload, xfs norecovery, btrfs
 * rescue=nologreplay. With replay (a repair's snapshot) they are left out, so the kernel
 * replays the journal into the copy.
 */
#ifndef RESCUE_MOUNTFS_H
#define RESCUE_MOUNTFS_H

#include <sys/mount.h>

#define MOUNTFS_FLAGS (MS_RDONLY | MS_NODEV | MS_NOSUID | MS_NOEXEC)

struct mountfs_type {
	const char *type;	/* as probe.h names it: "ext4", "ntfs", ... */
	const char *driver;	/* the kernel's file system: "ext4", "ntfs3", ... */
	const char *no_replay;	/* the data options that stop journal or log replay */
};

/* The entry for TYPE, or NULL when we do not mount it. */
const struct mountfs_type *mountfs_lookup(const char *type);
/* mount(2) DEVICE on DIR (made when missing; *MADE_DIR says so), with EXTRA data options
 * (NULL or "sb=8193") after the type's own. -1 with errno. */
int mountfs_mount(const char *device, const char *dir, const struct mountfs_type *type,
    int replay, const char *extra, int *made_dir);

#endif
