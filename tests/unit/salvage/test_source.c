/* test_source.c: the identity line that ties a map to its source disk, and the refusals
 * of things that are not block devices. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "salvage/mapfile.h"
#include "salvage/source.h"

static const struct source_identity VDA = {
	.name = "vda", .size = 67108864, .sector_size = 512, .model = "QEMU \"HD\"",
	.serial = "abc",
};

static char *map_text_for(const struct source_identity *identity, uint64_t size)
{
	struct mapfile map;
	char *text, *with_identity;

	mapfile_init(&map, size);
	map.current_status = '?';
	map.current_pass = 1;
	text = mapfile_format(&map, "rescue test", NULL);
	with_identity = identity ? source_map_text(identity, text, NULL) : strdup(text);
	free(text);
	mapfile_free(&map);
	return with_identity;
}

static void test_identity_line_round_trips(void **state)
{
	char line[512];
	struct source_identity parsed, partition = VDA;

	(void)state;
	source_identity_line(&VDA, line, sizeof line);
	assert_string_equal(line, "# rescue source: vda size 67108864 sector 512 model "
	    "\"QEMU \\\"HD\\\"\" serial \"abc\"");
	assert_int_equal(source_identity_parse(line, &parsed), 1);
	assert_string_equal(parsed.name, "vda");
	assert_string_equal(parsed.model, "QEMU \"HD\"");
	assert_string_equal(parsed.serial, "abc");
	assert_true(parsed.size == VDA.size && parsed.sector_size == 512 && parsed.partition == 0);
	snprintf(partition.name, sizeof partition.name, "vda2");
	partition.partition = 2;
	source_identity_line(&partition, line, sizeof line);
	assert_int_equal(source_identity_parse(line, &parsed), 1);
	assert_int_equal(parsed.partition, 2);
	assert_int_equal(source_identity_parse("# Mapfile\n0x0 ? 1\n", &parsed), 0);
	assert_int_equal(source_identity_parse("# rescue source: vda size x\n", &parsed), -1);
}

/* The line goes after the first one, replaces an older one, and the map still parses. */
static void test_map_text_carries_one_identity_line(void **state)
{
	char *text = map_text_for(&VDA, VDA.size), *again, why[128];
	struct source_identity other = VDA;
	struct mapfile map;

	(void)state;
	assert_non_null(strstr(text, "# Mapfile. Created by rescue test\n# rescue source: vda "));
	snprintf(other.name, sizeof other.name, "vdb");
	again = source_map_text(&other, text, NULL);
	assert_null(strstr(again, "source: vda "));
	assert_non_null(strstr(again, "source: vdb "));
	assert_int_equal(mapfile_parse(again, &map, why, sizeof why), 0);
	assert_true(map.size == VDA.size);
	mapfile_free(&map);
	free(again);
	free(text);
}

static void test_check_refuses_another_disk(void **state)
{
	char *ours = map_text_for(&VDA, VDA.size), *ddrescue = map_text_for(NULL, VDA.size);
	char why[512];
	struct source_identity other = VDA, renamed = VDA, no_serial = VDA;

	(void)state;
	assert_int_equal(source_check_map(&VDA, ours, VDA.size, why, sizeof why), 0);
	/* GNU ddrescue's map: only the size can be compared. */
	assert_int_equal(source_check_map(&VDA, ddrescue, VDA.size, why, sizeof why), 0);
	assert_int_equal(source_check_map(&VDA, ddrescue, VDA.size / 2, why, sizeof why), -1);
	assert_non_null(strstr(why, "33554432"));
	assert_non_null(strstr(why, "67108864"));
	/* Another serial is another disk, whatever its name; the same serial under another
	 * name (sdb became sdc after a reboot) is the same disk. */
	snprintf(other.serial, sizeof other.serial, "xyz");
	assert_int_equal(source_check_map(&other, ours, VDA.size, why, sizeof why), -1);
	assert_non_null(strstr(why, "serial abc"));
	assert_non_null(strstr(why, "serial xyz"));
	snprintf(renamed.name, sizeof renamed.name, "vdc");
	assert_int_equal(source_check_map(&renamed, ours, VDA.size, why, sizeof why), 0);
	/* Without serials the name is all there is. */
	no_serial.serial[0] = '\0';
	free(ours);
	ours = map_text_for(&no_serial, VDA.size);
	snprintf(no_serial.name, sizeof no_serial.name, "vdb");
	assert_int_equal(source_check_map(&no_serial, ours, VDA.size, why, sizeof why), -1);
	assert_non_null(strstr(why, "vda"));
	assert_non_null(strstr(why, "vdb"));
	free(ours);
	free(ddrescue);
}

static void test_open_refuses_what_is_no_block_device(void **state)
{
	struct source source;
	char why[256];

	(void)state;
	assert_int_equal(source_open("/dev/null", 0, &source, why, sizeof why), -1);
	assert_string_equal(why, "/dev/null: not a block device (give a disk or a partition, "
	    "e.g. sda or /dev/sda2)");
	assert_int_equal(source_open("no-such-disk-9", 0, &source, why, sizeof why), -1);
	assert_string_equal(why, "no-such-disk-9: no such device");
	assert_int_equal(source_open("/tmp", 0, &source, why, sizeof why), -1);
	assert_non_null(strstr(why, "/tmp: not a block device"));
}

/* GNU ddrescuelog reads a map carrying our identity line: the line is a comment to it. */
static void test_gnu_ddrescue_reads_a_map_with_the_identity_line(void **state)
{
	struct mapfile map;
	char path[] = "/tmp/rescue-source-XXXXXX", command[256], listed[64] = "";
	char *plain, *text;
	FILE *file, *out;
	int fd;
	size_t got;

	(void)state;
	if (system("command -v ddrescuelog >/dev/null") != 0) {
		fprintf(stderr, "SKIPPED: GNU ddrescue is not installed (package gddrescue)\n");
		skip();
	}
	mapfile_init(&map, 4096);
	mapfile_set(&map, 0, 2048, '+');
	mapfile_set(&map, 2048, 1024, '-');
	map.current_status = '+';
	map.current_pass = 1;
	plain = mapfile_format(&map, "rescue test", NULL);
	text = source_map_text(&VDA, plain, NULL);
	fd = mkstemp(path);
	assert_true(fd >= 0);
	file = fdopen(fd, "w");
	fputs(text, file);
	fclose(file);
	snprintf(command, sizeof command, "ddrescuelog -b 512 --list-blocks=- %s", path);
	out = popen(command, "r");
	got = fread(listed, 1, sizeof listed - 1, out);
	listed[got] = '\0';
	assert_int_equal(pclose(out), 0);
	assert_string_equal(listed, "4\n5\n");
	unlink(path);
	free(text);
	free(plain);
	mapfile_free(&map);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_identity_line_round_trips),
		cmocka_unit_test(test_map_text_carries_one_identity_line),
		cmocka_unit_test(test_check_refuses_another_disk),
		cmocka_unit_test(test_open_refuses_what_is_no_block_device),
		cmocka_unit_test(test_gnu_ddrescue_reads_a_map_with_the_identity_line),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
