/* probe.c: recognises what a device holds by the signatures of each format at their
 * documented offsets (the kernel's fs/ headers, the formats' own specifications), reading
 * a few kilobytes and never writing. Containers come first: a LUKS or LVM header must win
 * over leftovers of a file system that was on the device before it. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <linux/fs.h>

#include "fs/probe.h"

enum { PROBE_HEAD = 72 * 1024 };	/* covers btrfs at 64 KiB and iso9660 at 32 KiB */

/* The features an ext3 may have (filetype, needs_recovery, meta_bg; sparse_super,
 * large_file, btree_dir): anything else is ext4's. */
#define EXT3_INCOMPAT_KNOWN (0x2UL | 0x4UL | 0x10UL)
#define EXT3_RO_COMPAT_KNOWN 0x7UL

/* The device's first bytes (HEAD_SIZE of them, fewer for a small device) and, for the
 * superblocks kept near its end, a way to read anywhere: from FD, or from WHOLE when the
 * caller handed over the device's contents in memory. */
struct probe_input {
	const unsigned char *head;
	size_t head_size;
	int fd;
	const unsigned char *whole;
	unsigned long long size;
};

static unsigned le16(const unsigned char *p)
{
	return p[0] | p[1] << 8;
}

static unsigned long le32(const unsigned char *p)
{
	return (unsigned long)p[0] | (unsigned long)p[1] << 8 | (unsigned long)p[2] << 16
	    | (unsigned long)p[3] << 24;
}

static int has(const struct probe_input *in, size_t offset, const void *magic, size_t length)
{
	return offset + length <= in->head_size && memcmp(in->head + offset, magic, length) == 0;
}

/* Whether the head holds the first END bytes: a format's magic alone does not say that its
 * fields after it were read (a device cut short, a tiny partition). */
static int holds(const struct probe_input *in, size_t end)
{
	return end <= in->head_size;
}

/* Copies a label of at most LENGTH bytes, without trailing spaces and NULs. */
static void text_field(char *out, size_t size, const unsigned char *field, size_t length)
{
	size_t used = 0;

	while (used < length && used + 1 < size && field[used] != '\0') {
		out[used] = (char)field[used];
		used++;
	}
	while (used > 0 && out[used - 1] == ' ')
		used--;
	out[used] = '\0';
}

static void uuid_field(char *out, size_t size, const unsigned char *u)
{
	snprintf(out, size, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
	    u[0], u[1], u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9], u[10], u[11], u[12], u[13],
	    u[14], u[15]);
}

static void found(struct probe_result *result, const char *type, int mountable)
{
	snprintf(result->type, sizeof result->type, "%s", type);
	result->mountable = mountable;
}

/* ext2/3/4: the superblock at 1 KiB; the generation is read off the feature flags the way
 * blkid does: a journal makes ext3, any ext4-only feature makes ext4. */
static int probe_ext(const struct probe_input *in, struct probe_result *result)
{
	const unsigned char *sb = in->head + 1024;
	unsigned long compat, incompat, ro_compat;

	if (!has(in, 1024 + 56, "\x53\xef", 2) || !holds(in, 1024 + 0x88))
		return 0;
	compat = le32(sb + 0x5c);
	incompat = le32(sb + 0x60);
	ro_compat = le32(sb + 0x64);
	if ((incompat & ~EXT3_INCOMPAT_KNOWN) || (ro_compat & ~EXT3_RO_COMPAT_KNOWN))
		found(result, "ext4", 1);
	else
		found(result, compat & 0x4 ? "ext3" : "ext2", 1);
	if (incompat & 0x8)	/* an external journal device, not a file system */
		found(result, "jbd", 0);
	result->needs_recovery = (incompat & 0x4) != 0;
	text_field(result->label, sizeof result->label, sb + 0x78, 16);
	uuid_field(result->uuid, sizeof result->uuid, sb + 0x68);
	return 1;
}

/* needs_recovery stays 0 for xfs: whether its log holds unreplayed changes is only known
 * by walking the log (xfs_logprint), not from the superblock. */
static int probe_xfs(const struct probe_input *in, struct probe_result *result)
{
	if (!has(in, 0, "XFSB", 4) || !holds(in, 120))
		return 0;
	found(result, "xfs", 1);
	text_field(result->label, sizeof result->label, in->head + 108, 12);
	uuid_field(result->uuid, sizeof result->uuid, in->head + 32);
	return 1;
}

static int probe_btrfs(const struct probe_input *in, struct probe_result *result)
{
	const unsigned char *sb = in->head + 65536;

	if (!has(in, 65536 + 0x40, "_BHRfS_M", 8) || !holds(in, 65536 + 0x12b + 256))
		return 0;
	found(result, "btrfs", 1);
	text_field(result->label, sizeof result->label, sb + 0x12b, 256);
	uuid_field(result->uuid, sizeof result->uuid, sb + 0x20);
	return 1;
}

static int probe_iso9660(const struct probe_input *in, struct probe_result *result)
{
	const char *date = (const char *)in->head + 32768 + 813;	/* volume creation */

	if (!has(in, 32769, "CD001", 5) || !holds(in, 32768 + 813 + 16))
		return 0;
	found(result, "iso9660", 1);
	text_field(result->label, sizeof result->label, in->head + 32768 + 40, 32);
	/* blkid's UUID for ISO images: the creation date, "YYYY-MM-DD-HH-MM-SS-cc". */
	if (date[0] >= '0' && date[0] <= '9')
		snprintf(result->uuid, sizeof result->uuid, "%.4s-%.2s-%.2s-%.2s-%.2s-%.2s-%.2s", date,
		    date + 4, date + 6, date + 8, date + 10, date + 12, date + 14);
	return 1;
}

static int probe_swap(const struct probe_input *in, struct probe_result *result)
{
	if (!has(in, 4096 - 10, "SWAPSPACE2", 10) && !has(in, 4096 - 10, "SWAP-SPACE", 10))
		return 0;
	found(result, "swap", 0);
	text_field(result->label, sizeof result->label, in->head + 1024 + 28, 16);
	uuid_field(result->uuid, sizeof result->uuid, in->head + 1024 + 12);
	return 1;
}

static int probe_luks(const struct probe_input *in, struct probe_result *result)
{
	unsigned version;

	if (!has(in, 0, "LUKS\xba\xbe", 6) || !holds(in, 168 + 40))
		return 0;
	version = in->head[6] << 8 | in->head[7];
	found(result, "crypto_LUKS", 0);
	snprintf(result->version, sizeof result->version, "%u", version);
	text_field(result->uuid, sizeof result->uuid, in->head + 168, 40);
	if (version == 2)
		text_field(result->label, sizeof result->label, in->head + 24, 48);
	return 1;
}

/* LVM2 PV: "LABELONE" in one of the first four sectors, the UUID 32 characters shown in
 * the 6-4-4-4-4-4-6 groups LVM uses. */
static int probe_lvm(const struct probe_input *in, struct probe_result *result)
{
	static const int groups[] = { 6, 4, 4, 4, 4, 4, 6 };
	const unsigned char *id;
	size_t sector, i, used = 0, at = 0;

	for (sector = 0; sector < 4; sector++)
		if (has(in, sector * 512, "LABELONE", 8) && has(in, sector * 512 + 24, "LVM2 001", 8)
		    && holds(in, sector * 512 + 64))
			break;
	if (sector == 4)
		return 0;
	found(result, "LVM2_member", 0);
	id = in->head + sector * 512 + 32;
	for (i = 0; i < 7; i++) {
		used += (size_t)snprintf(result->uuid + used, sizeof result->uuid - used, "%s%.*s",
		    i ? "-" : "", groups[i], (const char *)id + at);
		at += (size_t)groups[i];
	}
	return 1;
}

/* md: 1.1 at the start, 1.2 at 4 KiB, 1.0 and 0.90 near the end of the device
 * (include/uapi/linux/raid/md_p.h; mdadm super1.c and super0.c place them). */
static int read_at(const struct probe_input *in, unsigned long long offset, unsigned char *buffer,
    size_t size)
{
	if (in->whole == NULL)
		return pread(in->fd, buffer, size, (off_t)offset) == (ssize_t)size;
	if (offset > in->size || size > in->size - offset)
		return 0;
	memcpy(buffer, in->whole + offset, size);
	return 1;
}

static int md_at(const struct probe_input *in, unsigned long long offset, unsigned major,
    unsigned char *buffer)
{
	return read_at(in, offset, buffer, 256) && le32(buffer) == 0xa92b4efcUL
	    && le32(buffer + 4) == major;
}

/* 0.90 keeps its UUID in four words: set_uuid0 (word 5) and set_uuid1..3 (words 13-15). */
static void md090_uuid(const unsigned char *sb, char *uuid, size_t size)
{
	unsigned char bytes[16];

	memcpy(bytes, sb + 20, 4);
	memcpy(bytes + 4, sb + 52, 12);
	uuid_field(uuid, size, bytes);
}

static int probe_md(const struct probe_input *in, struct probe_result *result)
{
	unsigned long long sectors = in->size / 512, offsets[4];
	static const char *const versions[] = { "1.1", "1.2", "1.0", "0.90" };
	unsigned char sb[256];
	int i;

	offsets[0] = 0;
	offsets[1] = 4096;
	offsets[2] = sectors >= 16 ? ((sectors - 16) & ~7ULL) * 512 : 0;
	offsets[3] = sectors >= 128 ? ((sectors & ~127ULL) - 128) * 512 : 0;
	for (i = 0; i < 4; i++) {
		if ((i >= 2 && offsets[i] == 0) || !md_at(in, offsets[i], i < 3 ? 1 : 0, sb))
			continue;
		found(result, "linux_raid_member", 0);
		snprintf(result->version, sizeof result->version, "%s", versions[i]);
		if (i < 3) {
			uuid_field(result->uuid, sizeof result->uuid, sb + 16);
			text_field(result->label, sizeof result->label, sb + 32, 32);
		} else {
			md090_uuid(sb, result->uuid, sizeof result->uuid);
		}
		return 1;
	}
	return 0;
}

/* FAT: a BIOS parameter block with a sane sector size and the file system type string. */
static int probe_vfat(const struct probe_input *in, struct probe_result *result)
{
	unsigned sector_size;
	size_t label_at, serial_at;
	unsigned long serial;

	if (!has(in, 510, "\x55\xaa", 2))
		return 0;
	sector_size = le16(in->head + 11);
	if (sector_size != 512 && sector_size != 1024 && sector_size != 2048 && sector_size != 4096)
		return 0;
	if (has(in, 82, "FAT32   ", 8)) {
		label_at = 71, serial_at = 67;
	} else if (has(in, 54, "FAT1", 4)) {
		label_at = 43, serial_at = 39;
	} else {
		return 0;
	}
	found(result, "vfat", 1);
	text_field(result->label, sizeof result->label, in->head + label_at, 11);
	if (strcmp(result->label, "NO NAME") == 0)
		result->label[0] = '\0';
	serial = le32(in->head + serial_at);
	snprintf(result->uuid, sizeof result->uuid, "%04lX-%04lX", serial >> 16, serial & 0xffff);
	return 1;
}

static int probe_exfat_ntfs(const struct probe_input *in, struct probe_result *result)
{
	const unsigned char *serial;

	if (has(in, 3, "EXFAT   ", 8) && holds(in, 104)) {
		found(result, "exfat", 1);
		serial = in->head + 100;
		snprintf(result->uuid, sizeof result->uuid, "%02X%02X-%02X%02X", serial[3], serial[2],
		    serial[1], serial[0]);
		return 1;
	}
	if (has(in, 3, "NTFS    ", 8) && holds(in, 80)) {
		found(result, "ntfs", 1);
		serial = in->head + 72;
		snprintf(result->uuid, sizeof result->uuid, "%02X%02X%02X%02X%02X%02X%02X%02X",
		    serial[7], serial[6], serial[5], serial[4], serial[3], serial[2], serial[1],
		    serial[0]);
		return 1;
	}
	return 0;
}

/* Partition tables come after the file systems: FAT, exFAT and NTFS boot sectors end in
 * the same 0x55aa and may look like a table. */
static int probe_table(const struct probe_input *in, struct probe_result *result)
{
	int i;

	if (has(in, 512, "EFI PART", 8) && holds(in, 512 + 56 + 16)) {
		found(result, "gpt", 0);
		uuid_field(result->uuid, sizeof result->uuid, in->head + 512 + 56);
		return 1;
	}
	if (!has(in, 510, "\x55\xaa", 2))
		return 0;
	for (i = 0; i < 4; i++) {
		const unsigned char *entry = in->head + 446 + 16 * i;

		if ((entry[0] != 0 && entry[0] != 0x80))
			return 0;
	}
	for (i = 0; i < 4; i++)
		if (in->head[446 + 16 * i + 4] != 0) {
			found(result, "dos", 0);
			return 1;
		}
	return 0;
}

static void probe_all(const struct probe_input *in, struct probe_result *result)
{
	/* md comes before the file systems, as in blkid: a RAID1 member with a 1.0 or 0.90
	 * superblock at its end holds a whole file system at its start, and mounting the
	 * member instead of the array would show a stale half of a mirror. */
	int (*const probes[])(const struct probe_input *, struct probe_result *) = {
		probe_luks, probe_lvm, probe_md, probe_xfs, probe_btrfs, probe_ext, probe_iso9660,
		probe_swap, probe_vfat, probe_exfat_ntfs, probe_table,
	};
	size_t i;

	for (i = 0; i < sizeof probes / sizeof probes[0]; i++)
		if (probes[i](in, result))
			return;
}

int probe_buffer(const void *data, size_t size, struct probe_result *result)
{
	struct probe_input in = { .head = data, .head_size = size < PROBE_HEAD ? size : PROBE_HEAD,
		.fd = -1, .whole = data, .size = size };

	memset(result, 0, sizeof *result);
	probe_all(&in, result);
	return 0;
}

/* 0 when the device could be read (RESULT says what is on it, "" for nothing known),
 * -1 with errno when it could not be opened or read at all. */
int probe_device(const char *path, struct probe_result *result)
{
	static unsigned char head[PROBE_HEAD];
	struct probe_input in = { .head = head };
	struct stat status;
	ssize_t got;

	memset(result, 0, sizeof *result);
	in.fd = open(path, O_RDONLY | O_CLOEXEC);
	if (in.fd < 0)
		return -1;
	if (fstat(in.fd, &status) == 0 && S_ISBLK(status.st_mode))
		ioctl(in.fd, BLKGETSIZE64, &in.size);
	else
		in.size = (unsigned long long)status.st_size;
	got = pread(in.fd, head, sizeof head, 0);
	if (got < 0) {
		int saved = errno;

		close(in.fd);
		errno = saved;
		return -1;
	}
	in.head_size = (size_t)got;
	probe_all(&in, result);
	close(in.fd);
	return 0;
}
