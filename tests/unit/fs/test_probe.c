/* test_probe.c: what a device holds, checked against images made by the real mkfs tools and
 * against what util-linux's blkid (the reference) says about the same images. Formats whose
 * tools need device-mapper or md (LVM, md RAID) get their documented headers written here. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "fs/probe.h"
#include "lib/fake_sysfs.h"

static char *directory;

static int make_directory(void **state)
{
	(void)state;
	directory = fake_sysfs_create();
	return 0;
}

static int remove_directory(void **state)
{
	(void)state;
	fake_sysfs_remove(directory);
	return 0;
}

/* Runs a shell command in the test directory; 0 when it worked. */
static int sh(const char *format, const char *argument)
{
	char command[4096], body[3500];

	snprintf(body, sizeof body, format, argument);
	snprintf(command, sizeof command, "cd '%s' && (%s) >/dev/null 2>&1", directory, body);
	return system(command);
}

static char *blkid_value(const char *image, const char *key)
{
	static char value[256];
	char command[4096];
	FILE *pipe;

	snprintf(command, sizeof command, "blkid -p -s %s -o value '%s/%s' 2>/dev/null", key,
	    directory, image);
	value[0] = '\0';
	pipe = popen(command, "r");
	if (pipe && fgets(value, sizeof value, pipe))
		value[strcspn(value, "\n")] = '\0';
	if (pipe)
		pclose(pipe);
	return value;
}

static void probe_image(const char *image, struct probe_result *result)
{
	char path[4096];

	snprintf(path, sizeof path, "%s/%s", directory, image);
	assert_int_equal(probe_device(path, result), 0);
}

/* Makes IMAGE with MAKE (a shell command using %s for the file), then compares type, uuid
 * and, when WITH_LABEL, the label with blkid. Skipped loudly when the tool is missing. */
static void check_against_blkid(const char *image, const char *make, const char *type,
    int with_label, int mountable)
{
	struct probe_result result;

	if (sh(make, image) != 0) {
		fprintf(stderr, "SKIPPED %s: could not make it (%s)\n", image, make);
		return;
	}
	probe_image(image, &result);
	assert_string_equal(result.type, type);
	assert_string_equal(blkid_value(image, "TYPE"), type);
	assert_string_equal(result.uuid, blkid_value(image, "UUID"));
	if (with_label)
		assert_string_equal(result.label, blkid_value(image, "LABEL"));
	assert_int_equal(result.mountable, mountable);
}

static void test_file_systems_match_blkid(void **state)
{
	(void)state;
	check_against_blkid("ext2.img", "truncate -s 8M %1$s && mkfs.ext2 -q -F -L two %1$s",
	    "ext2", 1, 1);
	check_against_blkid("ext3.img", "truncate -s 8M %1$s && mkfs.ext3 -q -F -L three %1$s",
	    "ext3", 1, 1);
	check_against_blkid("ext4.img", "truncate -s 8M %1$s && mkfs.ext4 -q -F -L 'my data' %1$s",
	    "ext4", 1, 1);
	check_against_blkid("xfs.img", "truncate -s 300M %1$s && mkfs.xfs -q -L web1 %1$s",
	    "xfs", 1, 1);
	check_against_blkid("btrfs.img", "truncate -s 128M %1$s && mkfs.btrfs -q -L pool %1$s",
	    "btrfs", 1, 1);
	check_against_blkid("vfat.img", "truncate -s 16M %1$s && mkfs.vfat -n BOOT %1$s",
	    "vfat", 1, 1);
	check_against_blkid("fat32.img", "truncate -s 40M %1$s && mkfs.vfat -F 32 %1$s",
	    "vfat", 1, 1);
	check_against_blkid("exfat.img", "truncate -s 16M %1$s && mkfs.exfat -L x %1$s",
	    "exfat", 0, 1);
	check_against_blkid("ntfs.img", "truncate -s 16M %1$s && mkfs.ntfs -q -F -Q -L win %1$s",
	    "ntfs", 0, 1);
	check_against_blkid("swap.img", "truncate -s 8M %1$s && mkswap -L swp %1$s", "swap", 1, 0);
	check_against_blkid("luks.img", "truncate -s 32M %1$s && echo -n pw | cryptsetup "
	    "luksFormat --type luks2 --batch-mode --pbkdf pbkdf2 --pbkdf-force-iterations 1000 "
	    "--label vault %1$s -", "crypto_LUKS", 1, 0);
	check_against_blkid("iso.img", "mkdir -p iso && echo x > iso/f && xorriso -as mkisofs "
	    "-quiet -V DVD_1 -o %1$s iso", "iso9660", 1, 1);
}

static void test_partition_tables_and_recovery(void **state)
{
	struct probe_result result;

	(void)state;
	assert_int_equal(sh("truncate -s 8M %1$s && echo 'label: gpt' | sfdisk -q %1$s", "gpt.img"),
	    0);
	probe_image("gpt.img", &result);
	assert_string_equal(result.type, "gpt");
	assert_int_equal(sh("truncate -s 8M %1$s && echo ',,83' | sfdisk -q %1$s", "dos.img"), 0);
	probe_image("dos.img", &result);
	assert_string_equal(result.type, "dos");
	/* A blank device holds nothing known. */
	assert_int_equal(sh("truncate -s 1M %s", "blank.img"), 0);
	probe_image("blank.img", &result);
	assert_string_equal(result.type, "");
	/* needs_recovery: set the ext4 RECOVER flag (incompat bit 0x4 at 1024 + 0x60). */
	assert_int_equal(sh("truncate -s 8M %1$s && mkfs.ext4 -q -F %1$s && printf '\\006' | "
	    "dd of=%1$s bs=1 seek=1120 conv=notrunc", "dirty.img"), 0);
	probe_image("dirty.img", &result);
	assert_string_equal(result.type, "ext4");
	assert_int_equal(result.needs_recovery, 1);
}

/* LVM2: the label header in sector 1 (lib/label/label.h: "LABELONE", sector, crc, offset,
 * "LVM2 001"), then the PV header's 32-character UUID. */
static void test_lvm_and_md_headers(void **state)
{
	struct probe_result result;

	(void)state;
	assert_int_equal(sh("truncate -s 8M %1$s && printf 'LABELONE' | dd of=%1$s bs=1 seek=512 "
	    "conv=notrunc && printf 'LVM2 001abcdef0123456789ABCDEFGHIJKLMNOPQRS' | dd of=%1$s "
	    "bs=1 seek=536 conv=notrunc", "pv.img"), 0);
	probe_image("pv.img", &result);
	assert_string_equal(result.type, "LVM2_member");
	assert_string_equal(result.uuid, "abcdef-0123-4567-89AB-CDEF-GHIJ-KLMNOP");
	/* md 1.2: magic a92b4efc (little-endian) at 4 KiB, major version 1, set_uuid at +16,
	 * set_name at +32 (include/uapi/linux/raid/md_p.h, struct mdp_superblock_1). */
	assert_int_equal(sh("truncate -s 8M %1$s && printf '\\374\\116\\053\\251\\001\\000\\000\\000' "
	    "| dd of=%1$s bs=1 seek=4096 conv=notrunc && printf 'web1:0' | dd of=%1$s bs=1 "
	    "seek=4128 conv=notrunc", "md.img"), 0);
	probe_image("md.img", &result);
	assert_string_equal(result.type, "linux_raid_member");
	assert_string_equal(result.version, "1.2");
	assert_string_equal(result.label, "web1:0");
	assert_int_equal(result.mountable, 0);
	/* md 1.1: the same superblock at offset 0. */
	assert_int_equal(sh("truncate -s 8M %1$s && printf '\\374\\116\\053\\251\\001\\000\\000\\000' "
	    "| dd of=%1$s bs=1 conv=notrunc", "md11.img"), 0);
	probe_image("md11.img", &result);
	assert_string_equal(result.type, "linux_raid_member");
	assert_string_equal(result.version, "1.1");
	/* md 1.0 at the end of a RAID1 member that holds a whole ext4 at its start: the
	 * member wins, as in blkid. 8 MiB = 16384 sectors; mdadm puts it at
	 * ((sectors - 16) & ~7) * 512 = 8380416. */
	assert_int_equal(sh("truncate -s 8M %1$s && mkfs.ext4 -q -F %1$s && "
	    "printf '\\374\\116\\053\\251\\001\\000\\000\\000' | dd of=%1$s bs=1 seek=8380416 "
	    "conv=notrunc", "md10.img"), 0);
	probe_image("md10.img", &result);
	assert_string_equal(result.type, "linux_raid_member");
	assert_string_equal(result.version, "1.0");
	/* md 0.90 (struct mdp_superblock_s): at ((sectors & ~127) - 128) * 512 = 8323072,
	 * major_version 0 at +4, minor 90 at +8, set_uuid0 at +20 and set_uuid1..3 at +52. */
	assert_int_equal(sh("truncate -s 8M %1$s && printf '\\374\\116\\053\\251' | dd of=%1$s bs=1 "
	    "seek=8323072 conv=notrunc && printf '\\132' | dd of=%1$s bs=1 seek=8323080 "
	    "conv=notrunc && printf '\\001\\002\\003\\004' | dd of=%1$s bs=1 seek=8323092 conv=notrunc && "
	    "printf '\\005\\006\\007\\010\\011\\012\\013\\014\\015\\016\\017\\020' | dd of=%1$s "
	    "bs=1 seek=8323124 conv=notrunc", "md090.img"), 0);
	probe_image("md090.img", &result);
	assert_string_equal(result.type, "linux_raid_member");
	assert_string_equal(result.version, "0.90");
	assert_string_equal(result.uuid, "01020304-0506-0708-090a-0b0c0d0e0f10");
	/* A wrong major version is no md superblock. */
	assert_int_equal(sh("truncate -s 8M %1$s && printf '\\374\\116\\053\\251\\002' | dd of=%1$s "
	    "bs=1 seek=4096 conv=notrunc", "md-bad.img"), 0);
	probe_image("md-bad.img", &result);
	assert_string_equal(result.type, "");
}

/* Reads up to SIZE bytes of IMAGE (made by an earlier test of this group). */
static size_t read_head(const char *image, unsigned char *head, size_t size)
{
	char path[4096];
	FILE *file;
	size_t got;

	snprintf(path, sizeof path, "%s/%s", directory, image);
	file = fopen(path, "rb");
	assert_non_null(file);
	got = fread(head, 1, size, file);
	fclose(file);
	return got;
}

/* Probes the first LENGTH bytes of HEAD from a buffer of exactly that size, so the
 * sanitizer build stops at any read past it. */
static void probe_cut(const unsigned char *head, size_t length, struct probe_result *result)
{
	unsigned char *exact = malloc(length ? length : 1);

	assert_non_null(exact);
	memcpy(exact, head, length);
	assert_int_equal(probe_buffer(exact, length, result), 0);
	free(exact);
}

/* A device cut short anywhere (a truncated image, a tiny partition) is probed from the
 * bytes there are: a format whose fields are cut off is not reported with zeros for them,
 * and nothing past the end is read. Cut at every byte up to 4400 (every format's fields
 * but iso9660's and btrfs's end there), and across those two formats' superblocks. */
static void test_heads_cut_short_are_never_read_past(void **state)
{
	static const char *const images[] = { "ext2.img", "ext4.img", "xfs.img", "btrfs.img",
		"vfat.img", "fat32.img", "exfat.img", "ntfs.img", "swap.img", "luks.img", "iso.img",
		"gpt.img", "dos.img", "pv.img", "md.img" };
	static unsigned char head[72 * 1024];
	struct probe_result whole, cut;
	size_t i, size, length;

	(void)state;
	for (i = 0; i < sizeof images / sizeof images[0]; i++) {
		size = read_head(images[i], head, sizeof head);
		probe_cut(head, size, &whole);
		probe_image(images[i], &cut);
		assert_string_equal(whole.type, cut.type);
		assert_string_equal(whole.uuid, cut.uuid);
		for (length = 0; length <= 4400 && length <= size; length++)
			probe_cut(head, length, &cut);
		for (length = 32768; strcmp(whole.type, "iso9660") == 0 && length < 34816; length++)
			probe_cut(head, length, &cut);
		for (length = 65536; strcmp(whole.type, "btrfs") == 0 && length < 66700; length++) {
			probe_cut(head, length, &cut);
			assert_true(strcmp(cut.type, "btrfs") != 0 || strcmp(cut.label, whole.label) == 0);
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_file_systems_match_blkid),
		cmocka_unit_test(test_partition_tables_and_recovery),
		cmocka_unit_test(test_lvm_and_md_headers),
		cmocka_unit_test(test_heads_cut_short_are_never_read_past),
	};

	return cmocka_run_group_tests_name("probe", tests, make_directory, remove_directory);
}
