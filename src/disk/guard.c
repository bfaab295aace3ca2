/* guard.c: sets the write guard and keeps the record of releases (see guard.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/paths.h"
#include "disk/guard.h"

/* Writes the guard, then reads it back: only a value that stuck counts as done. */
int guard_write(const char *sysfs_root, const char *disk, int on)
{
	char path[4096], now[8] = "";
	int fd, saved;
	ssize_t written, got;

	snprintf(path, sizeof path, "%s/block/%s/guard", sysfs_root, disk);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	written = write(fd, on ? "1\n" : "0\n", 2);
	saved = errno;
	close(fd);
	errno = saved;
	if (written != 2)
		return -1;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	got = read(fd, now, sizeof now - 1);
	close(fd);
	if (got < 1 || now[0] != (on ? '1' : '0')) {
		errno = EIO;
		return -1;
	}
	return 0;
}

/* One line "DISK EPOCH_SECONDS" per release, appended in one write. */
int guard_record_release(const char *disk)
{
	char line[128];
	int fd = open(RESCUE_UNGUARDED_FILE, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
	int length = snprintf(line, sizeof line, "%s %lld\n", disk, (long long)time(NULL));
	ssize_t written;

	if (fd < 0)
		return -1;
	written = write(fd, line, (size_t)length);
	close(fd);
	return written == length ? 0 : -1;
}

/* The UTC time of DISK's last release, or "" when it was never released. */
void guard_released_at(const char *record, const char *disk, char *text, size_t size)
{
	FILE *file = fopen(record, "re");
	char line[256], name[128];
	long long seconds;
	time_t when;
	struct tm tm;

	text[0] = '\0';
	if (file == NULL)
		return;
	while (fgets(line, sizeof line, file) != NULL) {
		if (sscanf(line, "%127s %lld", name, &seconds) != 2 || strcmp(name, disk) != 0)
			continue;
		when = (time_t)seconds;
		gmtime_r(&when, &tm);
		strftime(text, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
	}
	fclose(file);
}
