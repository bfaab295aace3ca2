/* dm.c: the device-mapper ioctl interface (linux/dm-ioctl.h), version 4.
 *
 * Every ioctl takes a struct dm_ioctl followed by its data in one buffer; data_start says
 * where the data begins, data_size how big the whole buffer is. A table load carries one
 * dm_target_spec followed by its parameter string; a status answer has the same shape.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <linux/dm-ioctl.h>

#include "disk/dm.h"

#define DM_CONTROL "/dev/mapper/control"

/* The buffer every call uses: the header, then room for a table or a status line. */
union dm_buffer {
	struct dm_ioctl header;
	unsigned char bytes[16384];
	uint64_t align;
};

/* devtmpfs has /dev/mapper/control only when the kernel made it before /dev was mounted;
 * it is the misc device 10:236 in any case. */
static int control_open(void)
{
	int fd = open(DM_CONTROL, O_RDWR | O_CLOEXEC);

	if (fd >= 0 || errno != ENOENT)
		return fd;
	mkdir("/dev/mapper", 0755);
	if (mknod(DM_CONTROL, S_IFCHR | 0600, makedev(10, 236)) != 0 && errno != EEXIST)
		return -1;
	return open(DM_CONTROL, O_RDWR | O_CLOEXEC);
}

static void buffer_init(union dm_buffer *buffer, const char *name)
{
	memset(buffer, 0, sizeof *buffer);
	buffer->header.version[0] = DM_VERSION_MAJOR;
	buffer->header.data_size = sizeof *buffer;
	buffer->header.data_start = sizeof buffer->header;
	snprintf(buffer->header.name, sizeof buffer->header.name, "%s", name);
}

static int dm_call(unsigned long request, union dm_buffer *buffer)
{
	int fd = control_open(), rc, saved;

	if (fd < 0)
		return -1;
	rc = ioctl(fd, request, buffer);
	saved = errno;
	close(fd);
	errno = saved;
	return rc < 0 ? -1 : 0;
}

void dm_path(const char *name, char *path, size_t size)
{
	snprintf(path, size, "/dev/mapper/%s", name);
}

static int load_table(const char *name, const char *target, unsigned long long sectors,
    const char *params)
{
	union dm_buffer buffer;
	struct dm_target_spec *spec;
	size_t room = sizeof buffer - sizeof buffer.header - sizeof *spec;

	buffer_init(&buffer, name);
	if (strlen(params) >= room || strlen(target) >= sizeof spec->target_type) {
		errno = E2BIG;
		return -1;
	}
	buffer.header.target_count = 1;
	spec = (struct dm_target_spec *)(buffer.bytes + buffer.header.data_start);
	spec->sector_start = 0;
	spec->length = sectors;
	snprintf(spec->target_type, sizeof spec->target_type, "%s", target);
	strcpy((char *)(spec + 1), params);
	return dm_call(DM_TABLE_LOAD, &buffer);
}

/* DM_DEV_SUSPEND without DM_SUSPEND_FLAG resumes: the loaded table becomes the live one. */
static int resume(const char *name)
{
	union dm_buffer buffer;

	buffer_init(&buffer, name);
	return dm_call(DM_DEV_SUSPEND, &buffer);
}

static int make_node(const char *name, dev_t dev)
{
	char path[128];

	dm_path(name, path, sizeof path);
	mkdir("/dev/mapper", 0755);
	unlink(path);
	return mknod(path, S_IFBLK | 0600, dev);
}

int dm_create(const char *name, const char *target, unsigned long long sectors,
    const char *params, dev_t *dev)
{
	union dm_buffer buffer;
	int saved;

	buffer_init(&buffer, name);
	if (dm_call(DM_DEV_CREATE, &buffer) != 0)
		return -1;
	/* The kernel encodes the number as the 32-bit new_encode_dev, which major() and
	 * minor() decode. */
	*dev = makedev(major((dev_t)buffer.header.dev), minor((dev_t)buffer.header.dev));
	if (load_table(name, target, sectors, params) == 0 && resume(name) == 0
	    && make_node(name, *dev) == 0)
		return 0;
	saved = errno;
	dm_remove(name);
	errno = saved;
	return -1;
}

int dm_status(const char *name, char *status, size_t size)
{
	union dm_buffer buffer;
	struct dm_target_spec *spec;

	buffer_init(&buffer, name);
	if (dm_call(DM_TABLE_STATUS, &buffer) != 0)
		return -1;
	if (buffer.header.target_count < 1 || (buffer.header.flags & DM_BUFFER_FULL_FLAG)) {
		errno = ENODATA;
		return -1;
	}
	spec = (struct dm_target_spec *)(buffer.bytes + buffer.header.data_start);
	snprintf(status, size, "%.*s", (int)(sizeof buffer - buffer.header.data_start
	    - sizeof *spec), (const char *)(spec + 1));
	return 0;
}

int dm_remove(const char *name)
{
	union dm_buffer buffer;
	char path[128];

	buffer_init(&buffer, name);
	if (dm_call(DM_DEV_REMOVE, &buffer) != 0)
		return -1;
	dm_path(name, path, sizeof path);
	unlink(path);
	return 0;
}
