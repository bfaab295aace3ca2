/* source.c: opening, reading and identifying the device being imaged (see source.h). */
/* O_DIRECT is a GNU extension in glibc and musl alike. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "base/err.h"
#include "disk/block.h"
#include "disk/inventory.h"
#include "salvage/source.h"

/* From linux/fs.h, which musl-gcc does not see without the kernel's headers. */
#define SOURCE_BLKSSZGET _IO(0x12, 104)
#define SOURCE_BLKGETSIZE64 _IOR(0x12, 114, size_t)

enum { DIRECT_ALIGNMENT = 4096 };

/* ------------------------------------------------------------------ sysfs facts */

static int read_line(const char *path, char *text, size_t size)
{
	FILE *file = fopen(path, "re");
	int ok;
	size_t length;

	text[0] = '\0';
	if (file == NULL)
		return -1;
	ok = fgets(text, (int)size, file) != NULL;
	fclose(file);
	if (!ok) {
		text[0] = '\0';
		return -1;
	}
	length = strcspn(text, "\n");
	while (length > 0 && text[length - 1] == ' ')
		length--;
	text[length] = '\0';
	return 0;
}

/* The sysfs directory of device RDEV, resolved ("/sys/devices/.../block/vda/vda2"). */
static int sysfs_directory(dev_t rdev, char *directory)
{
	char link[PATH_MAX];

	snprintf(link, sizeof link, "%s/dev/block/%u:%u", block_sysfs_root(), major(rdev),
	    minor(rdev));
	return realpath(link, directory) ? 0 : -1;
}

/* The kernel name of RDEV, and of the disk it belongs to (itself when it is a disk);
 * PARTITION gets the partition number. */
static int kernel_names(dev_t rdev, char *name, char *disk, int *partition, char *disk_dir)
{
	char directory[PATH_MAX], path[PATH_MAX + 16], number[16], *slash;

	if (sysfs_directory(rdev, directory) != 0)
		return -1;
	slash = strrchr(directory, '/');
	snprintf(name, NAME_MAX + 1, "%s", slash + 1);
	snprintf(path, sizeof path, "%s/partition", directory);
	*partition = read_line(path, number, sizeof number) == 0 ? atoi(number) : 0;
	if (*partition > 0)
		*slash = '\0';
	slash = strrchr(directory, '/');
	snprintf(disk, NAME_MAX + 1, "%s", slash + 1);
	snprintf(disk_dir, PATH_MAX, "%s", directory);
	return 0;
}

static void disk_facts(const char *disk_dir, struct source_identity *identity)
{
	char path[PATH_MAX + 32];

	snprintf(path, sizeof path, "%s/device/model", disk_dir);
	read_line(path, identity->model, sizeof identity->model);
	inventory_disk_serial(disk_dir, identity->serial, sizeof identity->serial);
}

/* ------------------------------------------------------------------ opening */

static int refuse(char *why, size_t why_size, const char *operand, const char *problem)
{
	snprintf(why, why_size, "%s: %s", operand, problem);
	return -1;
}

static int open_descriptors(struct source *source, int direct)
{
	int flags = O_RDONLY | O_CLOEXEC | O_NOCTTY;

	source->direct = direct;
	source->fd = open(source->path, flags | (direct ? O_DIRECT : 0));
	if (source->fd < 0 && direct && errno == EINVAL) {
		/* A device that refuses O_DIRECT is read through the page cache. */
		source->direct = direct = 0;
		source->fd = open(source->path, flags);
	}
	if (source->fd < 0)
		return -1;
	/* O_DIRECT may be refused (a loop device over tmpfs): sector reads then share fd. */
	source->direct_fd = direct ? -1 : open(source->path, flags | O_DIRECT);
	return 0;
}

static int read_geometry(struct source *source)
{
	uint64_t size = 0;
	int sector = 0;

	if (ioctl(source->fd, SOURCE_BLKGETSIZE64, &size) != 0
	    || ioctl(source->fd, SOURCE_BLKSSZGET, &sector) != 0)
		return -1;
	source->identity.size = size;
	source->identity.sector_size = sector > 0 ? (unsigned)sector : 512;
	return 0;
}

int source_open(const char *operand, int direct, struct source *source, char *why,
    size_t why_size)
{
	char disk_dir[PATH_MAX];
	struct stat status;

	memset(source, 0, sizeof *source);
	source->fd = source->direct_fd = -1;
	if (operand[0] == '\0')
		return refuse(why, why_size, "\"\"", "not a device name (give sda or /dev/sda)");
	if (snprintf(source->path, sizeof source->path, "%s%s", operand[0] == '/' ? "" : "/dev/",
	    operand) >= (int)sizeof source->path)
		return refuse(why, why_size, operand, "name too long");
	if (stat(source->path, &status) != 0)
		return refuse(why, why_size, operand, errno == ENOENT ? "no such device"
		    : err_text(errno));
	if (!S_ISBLK(status.st_mode))
		return refuse(why, why_size, operand, "not a block device (give a disk or a "
		    "partition, e.g. sda or /dev/sda2)");
	source->rdev = status.st_rdev;
	if (kernel_names(source->rdev, source->identity.name, source->disk,
	    &source->identity.partition, disk_dir) != 0)
		return refuse(why, why_size, operand, "the kernel does not list it in sysfs");
	disk_facts(disk_dir, &source->identity);
	if (open_descriptors(source, direct) != 0 || read_geometry(source) != 0) {
		snprintf(why, why_size, "%s: unable to open for reading: %s", source->path,
		    err_text(errno));
		source_close(source);
		return -1;
	}
	if (source->identity.size == 0) {
		source_close(source);
		return refuse(why, why_size, operand, "it has no medium (size 0)");
	}
	return 0;
}

void source_close(struct source *source)
{
	if (source->fd >= 0)
		close(source->fd);
	if (source->direct_fd >= 0)
		close(source->direct_fd);
	free(source->bounce);
	source->fd = source->direct_fd = -1;
	source->bounce = NULL;
	source->bounce_size = 0;
}

/* ------------------------------------------------------------------ reading */

static ssize_t read_full(int fd, void *buffer, size_t size, uint64_t position)
{
	size_t done = 0;

	while (done < size) {
		ssize_t got = pread(fd, (char *)buffer + done, size - done, (off_t)(position + done));

		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0)
			return done > 0 ? (ssize_t)done : -1;
		if (got == 0)
			break;
		done += (size_t)got;
	}
	return (ssize_t)done;
}

static int aligned(const void *buffer, size_t size, uint64_t position, unsigned sector)
{
	return (uintptr_t)buffer % DIRECT_ALIGNMENT == 0 && size % sector == 0
	    && position % sector == 0;
}

/* O_DIRECT needs the buffer aligned: an unaligned caller's request goes through ours. */
static ssize_t read_direct(struct source *source, int fd, void *buffer, size_t size,
    uint64_t position)
{
	ssize_t got;

	if (aligned(buffer, size, position, source->identity.sector_size))
		return read_full(fd, buffer, size, position);
	if (source->bounce_size < size) {
		void *bounce = NULL;

		if (posix_memalign(&bounce, DIRECT_ALIGNMENT, size) != 0) {
			errno = ENOMEM;
			return -1;
		}
		free(source->bounce);
		source->bounce = bounce;
		source->bounce_size = size;
	}
	got = read_full(fd, source->bounce, size, position);
	if (got > 0)
		memcpy(buffer, source->bounce, (size_t)got);
	return got;
}

ssize_t source_read(void *context, void *buffer, size_t size, uint64_t position)
{
	struct source *source = context;

	if (position >= source->identity.size)
		return 0;
	if (size > source->identity.size - position)
		size = (size_t)(source->identity.size - position);
	if (source->direct)
		return read_direct(source, source->fd, buffer, size, position);
	if (source->direct_fd >= 0 && size < DIRECT_ALIGNMENT)
		return read_direct(source, source->direct_fd, buffer, size, position);
	return read_full(source->fd, buffer, size, position);
}

/* ------------------------------------------------------------------ identity */

/* TEXT in double quotes with " and \ escaped. */
static void quote(const char *text, char *quoted, size_t size)
{
	size_t out = 0;

	if (size < 3) {
		if (size)
			quoted[0] = '\0';
		return;
	}
	quoted[out++] = '"';
	for (; *text && out + 3 < size; text++) {
		if (*text == '"' || *text == '\\')
			quoted[out++] = '\\';
		quoted[out++] = *text == '\n' ? ' ' : *text;
	}
	quoted[out++] = '"';
	quoted[out] = '\0';
}

void source_identity_line(const struct source_identity *identity, char *line, size_t size)
{
	char model[2 * sizeof identity->model + 3], serial[2 * sizeof identity->serial + 3];
	char partition[32] = "";

	quote(identity->model, model, sizeof model);
	quote(identity->serial, serial, sizeof serial);
	if (identity->partition > 0)
		snprintf(partition, sizeof partition, " partition %d", identity->partition);
	snprintf(line, size, "# rescue source: %s size %" PRIu64 " sector %u model %s serial %s%s",
	    identity->name, identity->size, identity->sector_size, model, serial, partition);
}

/* Reads a quoted word at *CURSOR into VALUE; -1 when there is none. */
static int unquote(const char **cursor, char *value, size_t size)
{
	const char *in = *cursor + strspn(*cursor, " ");
	size_t out = 0;

	if (*in++ != '"')
		return -1;
	while (*in && *in != '"' && *in != '\n') {
		if (*in == '\\' && in[1])
			in++;
		if (out + 1 < size)
			value[out++] = *in;
		in++;
	}
	if (*in != '"')
		return -1;
	value[out] = '\0';
	*cursor = in + 1;
	return 0;
}

static const char IDENTITY_PREFIX[] = SOURCE_IDENTITY_PREFIX;

static const char *identity_line_in(const char *text)
{
	const char *line = text;

	while (line && *line) {
		if (strncmp(line, IDENTITY_PREFIX, sizeof IDENTITY_PREFIX - 1) == 0)
			return line;
		line = strchr(line, '\n');
		if (line)
			line++;
	}
	return NULL;
}

int source_identity_parse(const char *text, struct source_identity *identity)
{
	const char *line = identity_line_in(text), *cursor;
	int consumed = 0;

	memset(identity, 0, sizeof *identity);
	if (line == NULL)
		return 0;
	cursor = line + sizeof IDENTITY_PREFIX - 1;
	if (sscanf(cursor, "%255s size %" SCNu64 " sector %u model%n", identity->name,
	    &identity->size, &identity->sector_size, &consumed) != 3 || consumed == 0)
		return -1;
	cursor += consumed;
	if (unquote(&cursor, identity->model, sizeof identity->model) != 0
	    || strncmp(cursor, " serial", 7) != 0)
		return -1;
	cursor += 7;
	if (unquote(&cursor, identity->serial, sizeof identity->serial) != 0)
		return -1;
	if (sscanf(cursor, " partition %d", &identity->partition) != 1)
		identity->partition = 0;
	return 1;
}

static void describe(const struct source_identity *identity, char *text, size_t size)
{
	snprintf(text, size, "%s (%" PRIu64 " bytes%s%s%s%s%s)", identity->name, identity->size,
	    identity->model[0] ? ", model " : "", identity->model,
	    identity->serial[0] ? ", serial " : "", identity->serial,
	    identity->serial[0] || identity->model[0] ? "" : ", no model or serial");
}

/* Another disk, by what both sides can tell: the serial when both have one, else names. */
static int same_disk(const struct source_identity *a, const struct source_identity *b)
{
	if (a->size != b->size || a->sector_size != b->sector_size
	    || a->partition != b->partition || strcmp(a->model, b->model) != 0)
		return 0;
	if (a->serial[0] && b->serial[0])
		return strcmp(a->serial, b->serial) == 0;
	return strcmp(a->name, b->name) == 0 && strcmp(a->serial, b->serial) == 0;
}

int source_check_map(const struct source_identity *identity, const char *text,
    uint64_t map_size, char *why, size_t why_size)
{
	struct source_identity recorded;
	char ours[512], theirs[512];
	int found = source_identity_parse(text, &recorded);

	describe(identity, ours, sizeof ours);
	if (found < 0) {
		snprintf(why, why_size, "its \"%s\" line is malformed", IDENTITY_PREFIX);
		return -1;
	}
	if (map_size != identity->size) {
		snprintf(why, why_size, "the map covers %" PRIu64 " bytes%s%s, the source %s has "
		    "%" PRIu64, map_size, found ? " of " : "", found ? recorded.name : "",
		    identity->name, identity->size);
		return -1;
	}
	if (found && !same_disk(identity, &recorded)) {
		describe(&recorded, theirs, sizeof theirs);
		snprintf(why, why_size, "the map is of %s, the source is %s", theirs, ours);
		return -1;
	}
	return 0;
}

/* TEXT without the line at SKIP (SKIP_LENGTH bytes), LINE inserted after the first. */
static char *splice_line(const char *text, const char *skip, size_t skip_length, const char *line,
    size_t *length)
{
	const char *first_end = strchr(text, '\n');
	size_t text_length = strlen(text), line_length = strlen(line);
	size_t head = first_end ? (size_t)(first_end + 1 - text) : text_length, in, out;
	char *result = malloc(text_length + line_length + 2);

	if (result == NULL)
		return NULL;
	memcpy(result, text, head);
	if (head && result[head - 1] != '\n')
		result[head++] = '\n';
	memcpy(result + head, line, line_length);
	out = head + line_length;
	result[out++] = '\n';
	for (in = first_end ? (size_t)(first_end + 1 - text) : text_length; in < text_length;) {
		if (skip && text + in == skip) {
			in += skip_length;
			continue;
		}
		result[out++] = text[in++];
	}
	result[out] = '\0';
	if (length)
		*length = out;
	return result;
}

char *source_map_text(const struct source_identity *identity, const char *text,
    size_t *length)
{
	char line[512];
	const char *old = identity_line_in(text);
	size_t old_length = 0;

	source_identity_line(identity, line, sizeof line);
	if (old) {
		old_length = strcspn(old, "\n");
		old_length += old[old_length] == '\n';
	}
	return splice_line(text, old, old_length, line, length);
}

/* ------------------------------------------------------------------ the target's disk */

int source_holds_path(const struct source *source, const char *path, char *why,
    size_t why_size)
{
	char name[NAME_MAX + 1], disk[NAME_MAX + 1], disk_dir[PATH_MAX];
	struct stat status;
	int partition;

	if (stat(path, &status) != 0 || major(status.st_dev) == 0)
		return 0;
	if (kernel_names(status.st_dev, name, disk, &partition, disk_dir) != 0)
		return 0;
	if (strcmp(disk, source->disk) != 0)
		return 0;
	snprintf(why, why_size, "%s is on %s, part of %s, the disk being imaged", path, name,
	    disk);
	return 1;
}
