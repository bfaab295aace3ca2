/* block.c: reads SYSFS/block/NAME/{size,ro,guard,rejected_writes,device/model}.
 *
 * The guard and rejected_writes attributes come from our kernel patch. A kernel without it
 * has neither, and then a device is reported as unguarded with no rejected writes: the
 * menu must never claim protection that it could not read.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/paths.h"
#include "disk/block.h"

const char *block_sysfs_root(void)
{
	const char *root = getenv(RESCUE_SYSFS_ENV);

	return root && *root ? root : RESCUE_SYSFS_DEFAULT;
}

/* Reads the first line of a sysfs attribute without its trailing newline and padding. */
static int read_attribute(const char *root, const char *name, const char *attribute,
    char *value, size_t size)
{
	char path[PATH_MAX];
	FILE *file;
	size_t length;
	int result = -1;

	if ((size_t)snprintf(path, sizeof path, "%s/block/%s/%s", root, name, attribute)
	    >= sizeof path) {
		errno = ENAMETOOLONG;
		return -1;
	}
	file = fopen(path, "re");
	if (file == NULL)
		return -1;
	if (fgets(value, (int)size, file) == NULL)
		goto out;
	length = strcspn(value, "\n");
	while (length > 0 && value[length - 1] == ' ')
		length--;
	value[length] = '\0';
	result = 0;
out:
	fclose(file);
	return result;
}

/* Only hardware-backed disks have a "device" link in sysfs. */
static int attribute_exists(const char *root, const char *name, const char *attribute)
{
	char path[PATH_MAX];

	if ((size_t)snprintf(path, sizeof path, "%s/block/%s/%s", root, name, attribute)
	    >= sizeof path)
		return 0;
	return access(path, F_OK) == 0;
}

static int read_number(const char *root, const char *name, const char *attribute,
    unsigned long long *number)
{
	char value[32], *end;

	if (read_attribute(root, name, attribute, value, sizeof value) != 0)
		return -1;
	errno = 0;
	*number = strtoull(value, &end, 10);
	if (errno != 0 || end == value || *end != '\0' || value[0] == '-') {
		errno = EINVAL;
		return -1;
	}
	return 0;
}

/* Missing or unreadable attributes leave the safe default: unguarded, size unknown. */
int block_device_read(const char *root, const char *name, struct block_device *device)
{
	size_t length = strlen(name);
	unsigned long long number;

	memset(device, 0, sizeof *device);
	if (length >= sizeof device->name) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(device->name, name, length + 1);
	if (read_number(root, name, "size", &number) == 0)
		device->size_bytes = number * 512;	/* sysfs counts 512-byte sectors */
	device->read_only = read_number(root, name, "ro", &number) == 0 ? number != 0 : -1;
	device->guarded = read_number(root, name, "guard", &number) == 0 && number == 1;
	if (read_number(root, name, "rejected_writes", &number) == 0)
		device->rejected_writes = number;
	if (read_attribute(root, name, "device/model", device->model, sizeof device->model) != 0)
		device->model[0] = '\0';
	device->hardware = attribute_exists(root, name, "device");
	return 0;
}

static int is_visible(const struct dirent *entry)
{
	return entry->d_name[0] != '.';
}

static char **copy_names(struct dirent **entries, int count)
{
	char **names = calloc((size_t)count + 1, sizeof *names);
	int i;

	for (i = 0; names && i < count; i++) {
		names[i] = strdup(entries[i]->d_name);
		if (names[i] == NULL) {
			block_names_free(names, i);
			return NULL;
		}
	}
	return names;
}

/* Returns the number of devices, sorted by name, or -1 with errno when SYSFS/block
 * cannot be read. */
int block_names(const char *root, char ***names)
{
	char path[PATH_MAX];
	struct dirent **entries;
	int count, i;

	if ((size_t)snprintf(path, sizeof path, "%s/block", root) >= sizeof path) {
		errno = ENAMETOOLONG;
		return -1;
	}
	count = scandir(path, &entries, is_visible, alphasort);
	if (count < 0)
		return -1;
	*names = copy_names(entries, count);
	for (i = 0; i < count; i++)
		free(entries[i]);
	free(entries);
	if (*names == NULL) {
		errno = ENOMEM;
		return -1;
	}
	return count;
}

void block_names_free(char **names, int count)
{
	int i;

	for (i = 0; i < count; i++)
		free(names[i]);
	free(names);
}

int block_guard_summary(const char *root, struct guard_summary *summary)
{
	struct block_device device;
	char **names;
	int count, i;

	memset(summary, 0, sizeof *summary);
	count = block_names(root, &names);
	if (count < 0)
		return -1;
	for (i = 0; i < count; i++) {
		if (block_device_read(root, names[i], &device) != 0 || !device.hardware)
			continue;
		summary->devices++;
		summary->guarded += device.guarded;
		summary->rejected_writes += device.rejected_writes;
	}
	block_names_free(names, count);
	return 0;
}
