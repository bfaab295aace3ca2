/* device.c: device operands and the mount table. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "base/err.h"
#include "disk/device.h"

int device_resolve(const char *operand, struct device *device)
{
	const char *name = operand;
	struct stat status;
	int fd;

	memset(device, 0, sizeof *device);
	if (strncmp(name, "/dev/", 5) == 0)
		name += 5;
	/* /dev/mapper/x is a name too; anything else with a slash or empty is not. */
	if (name[0] == '\0' || strlen(name) > NAME_MAX || strstr(name, "..")
	    || (strchr(name, '/') && strncmp(name, "mapper/", 7) != 0)) {
		errno = EINVAL;
		return -1;
	}
	snprintf(device->name, sizeof device->name, "%s", name);
	snprintf(device->path, sizeof device->path, "/dev/%s", name);
	if (stat(device->path, &status) != 0)
		return -1;
	if (!S_ISBLK(status.st_mode)) {
		errno = ENOTBLK;
		return -1;
	}
	device->rdev = status.st_rdev;
	fd = open(device->path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		off_t end = lseek(fd, 0, SEEK_END);

		device->size_bytes = end > 0 ? (unsigned long long)end : 0;
		close(fd);
	}
	return 0;
}

const char *device_resolve_error(int errnum)
{
	switch (errnum) {
	case ENOENT: return "no such device";
	case ENOTBLK: return "not a block device";
	case EINVAL: return "not a device name (give sda1 or /dev/sda1)";
	}
	return err_text(errnum);
}

/* mountinfo escapes space, tab, newline and backslash as \ooo. */
static void unescape(char *text)
{
	char *from = text, *to = text;

	while (*from) {
		if (from[0] == '\\' && from[1] >= '0' && from[1] <= '3' && from[2] && from[3]) {
			*to++ = (char)((from[1] - '0') * 64 + (from[2] - '0') * 8 + (from[3] - '0'));
			from += 4;
		} else {
			*to++ = *from++;
		}
	}
	*to = '\0';
}

/* The device a mount shows in mountinfo is the file system's own number; btrfs gives
 * every mount an anonymous one (0:N), so the source after " - TYPE " counts too. */
static dev_t source_device(const char *line, dev_t shown)
{
	const char *separator = strstr(line, " - ");
	char source[4096];
	struct stat status;

	if (major(shown) != 0 || separator == NULL
	    || sscanf(separator + 3, "%*s %4095s", source) != 1)
		return shown;
	unescape(source);
	if (stat(source, &status) == 0 && S_ISBLK(status.st_mode))
		return status.st_rdev;
	return shown;
}

/* Calls MATCH for each mount as (device, mount point) until it returns 1. */
static int mountinfo_each(const char *mountinfo, int (*match)(dev_t, const char *, void *),
    void *context)
{
	FILE *file = fopen(mountinfo ? mountinfo : "/proc/self/mountinfo", "re");
	char line[4096], point[4096];
	unsigned major_number, minor_number;
	int found = 0;

	if (file == NULL)
		return -1;
	while (!found && fgets(line, sizeof line, file)) {
		if (sscanf(line, "%*s %*s %u:%u %*s %4095s", &major_number, &minor_number,
		    point) != 3)
			continue;
		unescape(point);
		found = match(source_device(line, makedev(major_number, minor_number)), point,
		    context);
	}
	fclose(file);
	return found;
}

struct mount_query {
	dev_t rdev;
	const char *dir;
	char *found_dir;
	size_t size;
};

static int match_device(dev_t rdev, const char *point, void *context)
{
	struct mount_query *query = context;

	if (rdev != query->rdev)
		return 0;
	snprintf(query->found_dir, query->size, "%s", point);
	return 1;
}

int device_mount_point(const char *mountinfo, dev_t rdev, char *dir, size_t size)
{
	struct mount_query query = { .rdev = rdev, .found_dir = dir, .size = size };

	return mountinfo_each(mountinfo, match_device, &query);
}

static int match_dir(dev_t rdev, const char *point, void *context)
{
	struct mount_query *query = context;

	if (strcmp(point, query->dir) != 0)
		return 0;
	query->rdev = rdev;
	return 1;
}

int device_mounted_at(const char *mountinfo, const char *dir, dev_t *rdev)
{
	struct mount_query query = { .dir = dir };
	int found = mountinfo_each(mountinfo, match_dir, &query);

	if (found == 1)
		*rdev = query.rdev;
	return found;
}

int device_partitions(const char *sysfs_root, const char *name, char *list, size_t size)
{
	char path[PATH_MAX];
	struct dirent *entry;
	DIR *directory;
	int count = 0;
	size_t used = 0;

	list[0] = '\0';
	snprintf(path, sizeof path, "%s/block/%s", sysfs_root, name);
	directory = opendir(path);
	if (directory == NULL)
		return 0;
	while ((entry = readdir(directory)) != NULL) {
		char partition[PATH_MAX + NAME_MAX + 16];

		if (strncmp(entry->d_name, name, strlen(name)) != 0)
			continue;
		snprintf(partition, sizeof partition, "%s/%s/partition", path, entry->d_name);
		if (access(partition, F_OK) != 0)
			continue;
		used += (size_t)snprintf(list + used, used < size ? size - used : 0, "%s%s",
		    count ? " " : "", entry->d_name);
		count++;
	}
	closedir(directory);
	return count;
}

const char *device_content_advice(const char *type)
{
	static const struct {
		const char *type, *advice;
	} advice[] = {
		{ "swap", "swap space holds no files" },
		{ "crypto_LUKS", "LUKS-encrypted: it has to be unlocked with its passphrase first; "
		    "image it with `rescue image` and open the copy elsewhere" },
		{ "LVM2_member", "an LVM physical volume: its logical volumes have to be activated "
		    "first; image the disk with `rescue image` and activate the copy elsewhere" },
		{ "linux_raid_member", "an md RAID member: assemble the array read-only "
		    "(mdadm --assemble --readonly) and use the md device" },
		{ "gpt", "a whole disk with a partition table: use one of its partitions" },
		{ "dos", "a whole disk with a partition table: use one of its partitions" },
		{ "", "no file system or known content was found on it; copy it whole with "
		    "`rescue image`, so that files can be carved from the copy by their signatures" },
	};
	size_t i;

	for (i = 0; i < sizeof advice / sizeof advice[0]; i++)
		if (strcmp(type, advice[i].type) == 0)
			return advice[i].advice;
	return NULL;
}
