/* loopdev.c: LOOP_CTL_GET_FREE for a free number, LOOP_CONFIGURE to attach in one step. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <linux/loop.h>

#include "disk/loopdev.h"

enum { LOOP_MAJOR_NUMBER = 7 };

static int free_loop_number(void)
{
	int control = open("/dev/loop-control", O_RDWR | O_CLOEXEC), number, saved;

	if (control < 0 && errno == ENOENT
	    && mknod("/dev/loop-control", S_IFCHR | 0600, makedev(10, 237)) == 0)
		control = open("/dev/loop-control", O_RDWR | O_CLOEXEC);
	if (control < 0)
		return -1;
	number = ioctl(control, LOOP_CTL_GET_FREE);
	saved = errno;
	close(control);
	errno = saved;
	return number;
}

/* mdev may not have made the node yet when we get there first. */
static int open_loop(int number, char *path, size_t size)
{
	int fd;

	snprintf(path, size, "/dev/loop%d", number);
	fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT
	    && mknod(path, S_IFBLK | 0600, makedev(LOOP_MAJOR_NUMBER, (unsigned)number)) == 0)
		fd = open(path, O_RDWR | O_CLOEXEC);
	return fd;
}

int loopdev_attach(const char *file, char *path, size_t size)
{
	struct loop_config config;
	int backing, loop = -1, number, attempt, saved;

	backing = open(file, O_RDWR | O_CLOEXEC);
	if (backing < 0)
		return -1;
	/* Another process may take the free number between the two calls: try again. */
	for (attempt = 0; attempt < 8; attempt++) {
		if ((number = free_loop_number()) < 0 || (loop = open_loop(number, path, size)) < 0)
			break;
		memset(&config, 0, sizeof config);
		config.fd = (unsigned)backing;
		config.info.lo_flags = LO_FLAGS_AUTOCLEAR;
		snprintf((char *)config.info.lo_file_name, sizeof config.info.lo_file_name, "%s",
		    file);
		if (ioctl(loop, LOOP_CONFIGURE, &config) == 0)
			break;
		saved = errno;
		close(loop);
		loop = -1;
		errno = saved;
		if (errno != EBUSY)
			break;
	}
	saved = errno;
	close(backing);
	errno = saved;
	return loop;
}

int loopdev_detach(const char *path)
{
	int fd = open(path, O_RDWR | O_CLOEXEC), rc, saved;

	if (fd < 0)
		return errno == ENOENT ? 0 : -1;
	rc = ioctl(fd, LOOP_CLR_FD, 0);
	saved = errno;
	close(fd);
	if (rc != 0 && saved == ENXIO)
		return 0;
	errno = saved;
	return rc;
}
