/* test_carve.c: the carving scan over a device in memory (reads of a bad sector fail with
 * EIO, as a disk's do) to a real file:// store: files found across window edges and larger
 * than the window, the names, manifest and sha256 lines on the target, a file crossing a
 * bad sector named with it, a run stopped mid-way and resumed without writing a file
 * twice; and the foremost/scalpel rules parser. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <cmocka.h>

#include <zlib.h>

#include "base/sha256.h"
#include "salvage/carve.h"
#include "salvage/carve_rules.h"
#include "salvage/carve_store.h"
#include "target/store.h"
#include "target/target.h"

enum { DEVICE_SIZE = 3 << 20 };

struct device {
	unsigned char *bytes;
	uint64_t bad;			/* a failing sector's position, or UINT64_MAX */
	size_t reads_of_bad;
};

static ssize_t device_read(void *context, void *buffer, size_t size, uint64_t position)
{
	struct device *device = context;

	if (position + size > DEVICE_SIZE)
		size = DEVICE_SIZE - position;
	if (device->bad < position + size && position < device->bad + 512) {
		device->reads_of_bad += size == 512;
		errno = EIO;
		return -1;
	}
	memcpy(buffer, device->bytes + position, size);
	return (ssize_t)size;
}

struct placed {
	uint64_t offset;
	size_t size;
	const char *path;		/* on the target, relative */
};

/* A gzip stream of SIZE bytes that hardly compress: larger than the test's window. */
static size_t put_gzip(unsigned char *at, size_t room, size_t size)
{
	unsigned char *text = malloc(size);
	z_stream stream;
	size_t i;

	assert_non_null(text);
	for (i = 0; i < size; i++)
		text[i] = (unsigned char)(i * 2654435761u >> 13);
	memset(&stream, 0, sizeof stream);
	assert_int_equal(deflateInit2(&stream, 6, Z_DEFLATED, 31, 8, Z_DEFAULT_STRATEGY), Z_OK);
	stream.next_in = text, stream.avail_in = (unsigned)size;
	stream.next_out = at, stream.avail_out = (unsigned)room;
	assert_int_equal(deflate(&stream, Z_FINISH), Z_STREAM_END);
	deflateEnd(&stream);
	free(text);
	return stream.total_out;
}

static size_t put_bmp(unsigned char *at, unsigned width, unsigned height)
{
	size_t row = (width * 3 + 3) / 4 * 4, size = 54 + row * height, i;

	memset(at, 0, 54);
	memcpy(at, "BM", 2);
	at[2] = (unsigned char)size, at[3] = (unsigned char)(size >> 8);
	at[4] = (unsigned char)(size >> 16);
	at[10] = 54, at[14] = 40, at[18] = (unsigned char)width, at[19] = (unsigned char)(width >> 8);
	at[22] = (unsigned char)height, at[23] = (unsigned char)(height >> 8), at[26] = 1;
	at[28] = 24;
	for (i = 54; i < size; i++)
		at[i] = (unsigned char)(i % 251);
	return size;
}

static const char NOTE[] = "NOTE-BEGIN what the admin wrote down NOTE-END";

/* Noise with a gzip larger than the window at 64 KiB, a BMP crossing the bad sector at
 * 1 MiB - 1 KiB, and a note (a rule's type) at an odd byte at 2 MiB + 37. */
static void make_device(struct device *device, struct placed *placed)
{
	size_t i;

	device->bytes = malloc(DEVICE_SIZE);
	assert_non_null(device->bytes);
	srand(5);
	for (i = 0; i < DEVICE_SIZE; i++)
		device->bytes[i] = (unsigned char)(rand() >> 7);
	placed[0] = (struct placed){ 65536, 0, "dev.carve/gz/f65536.gz" };
	placed[0].size = put_gzip(device->bytes + 65536, 900000, 600000);
	placed[1] = (struct placed){ (1 << 20) - 1024, 0, "dev.carve/bmp/f1047552.bmp" };
	placed[1].size = put_bmp(device->bytes + placed[1].offset, 300, 90);
	placed[2] = (struct placed){ (2 << 20) + 37, sizeof NOTE - 1, "dev.carve/note/f2097189.note" };
	memcpy(device->bytes + placed[2].offset, NOTE, sizeof NOTE - 1);
	device->bad = (1 << 20) + 4096;	/* inside the BMP's pixels */
}

static char *temporary_dir(void)
{
	char *dir = strdup("/tmp/rescue-carve-XXXXXX");

	assert_non_null(dir);
	assert_non_null(mkdtemp(dir));
	return dir;
}

static void remove_dir(char *dir)
{
	char command[256];

	snprintf(command, sizeof command, "rm -rf '%s'", dir);
	assert_int_equal(system(command), 0);
	free(dir);
}

static struct store *open_store(const char *dir)
{
	struct target target;
	char url[256], why[1024];
	struct store *store;
	int transient;

	snprintf(url, sizeof url, "file://%s", dir);
	assert_int_equal(target_parse(url, &target, why, sizeof why), 0);
	store = store_open(&target, "dev", why, sizeof why, &transient);
	if (!store)
		fail_msg("%s", why);
	return store;
}

static struct carve_rules rules;

static void formats(const struct carve_format **list, size_t *count)
{
	const struct carve_format *const *builtin = carve_builtin_formats(count);
	static const char text[] = "note n 4096 note-begin NOTE-END\n";
	char why[256];

	memcpy(list, builtin, *count * sizeof *list);
	if (!rules.count)
		assert_int_equal(carve_rules_parse(text, sizeof text - 1, "test", &rules, why,
		    sizeof why), 0);
	list[(*count)++] = &rules.rules[0].format;
}

struct stopper {
	volatile sig_atomic_t stop;
	int windows;			/* stop after this many progress calls; 0: never */
};

static void on_progress(void *context, uint64_t position, int force)
{
	struct stopper *stopper = context;

	(void)position, (void)force;
	if (stopper->windows && --stopper->windows == 0)
		stopper->stop = 1;
}

/* One run from wherever the state on DIR says; its return code and the store's count of
 * files written in it. */
static int carve_once(struct device *device, const char *dir, struct stopper *stopper,
    size_t *written, struct carve_store *out)
{
	const struct carve_format *list[32];
	struct carve_extent extent = { 0, DEVICE_SIZE };
	struct carve_options options = { 0 };
	struct carve_output output;
	struct carve_scan scan;
	struct store *store = open_store(dir);
	char why[256];
	int rc;

	formats(list, &options.format_count);
	options.formats = list;
	options.step = 64 << 10, options.lookahead = 128 << 10, options.validate_max = 1 << 20;
	assert_int_equal(carve_scan_init(&scan, &options, device_read, device, &extent, 1), 0);
	carve_store_init(out, store, "dev", "# rescue source: dev size 3145728 sector 512 model "
	    "\"\" serial \"\"", DEVICE_SIZE);
	assert_int_equal(carve_store_load(out, why, sizeof why), 0);
	scan.position = out->position;
	scan.stop = &stopper->stop;
	carve_store_output(out, &output);
	output.progress = on_progress;
	output.progress_context = stopper;
	rc = carve_run(&scan, &output);
	*written = out->written;
	carve_scan_free(&scan);
	store_close(store);
	return rc;
}

static void expect_file(const char *dir, const struct placed *placed,
    const unsigned char *bytes)
{
	char path[512];
	unsigned char *got = malloc(placed->size + 1);
	FILE *file;

	snprintf(path, sizeof path, "%s/%s", dir, placed->path);
	file = fopen(path, "rb");
	if (!file)
		fail_msg("%s was not carved", path);
	assert_int_equal(fread(got, 1, placed->size + 1, file), placed->size);
	fclose(file);
	assert_memory_equal(got, bytes, placed->size);
	free(got);
}

static void test_scan_to_file_store(void **state)
{
	struct device device = { 0 };
	struct placed placed[3];
	struct stopper stopper = { 0, 0 };
	struct carve_store out;
	unsigned char *expected;
	char *dir = temporary_dir(), *json, path[512];
	size_t written, i, size;

	(void)state;
	make_device(&device, placed);
	assert_int_equal(carve_once(&device, dir, &stopper, &written, &out), 0);
	assert_int_equal(out.count, 3);
	assert_int_equal(written, 3);
	expect_file(dir, &placed[0], device.bytes + placed[0].offset);
	expect_file(dir, &placed[2], device.bytes + placed[2].offset);
	/* The BMP has the bad sector as zeros, named; the sector was read alone once. */
	expected = malloc(placed[1].size);
	memcpy(expected, device.bytes + placed[1].offset, placed[1].size);
	memset(expected + (device.bad - placed[1].offset), 0, 512);
	expect_file(dir, &placed[1], expected);
	free(expected);
	assert_int_equal(device.reads_of_bad, 1);
	for (i = 0; i < out.count && out.files[i].source_position != placed[1].offset; i++)
		;
	assert_true(i < out.count);
	assert_int_equal(out.files[i].bad_bytes, 512);
	assert_string_equal(out.files[i].bad_ranges, "1052672+512");
	assert_string_equal(out.files[2].type, "note");
	assert_int_equal(out.files[2].status, CARVE_UNVALIDATED);
	json = carve_json_text(&out, DEVICE_SIZE, 1, &size);
	assert_non_null(strstr(json, "\"path\":\"dev.carve/note/f2097189.note\",\"offset\":2097189"));
	assert_non_null(strstr(json, "\"bad_ranges\":[[1052672,512]]"));
	free(json);
	snprintf(path, sizeof path, "cd %s && sha256sum -c --quiet dev.carve.sha256", dir);
	assert_int_equal(system(path), 0);
	carve_store_free(&out);
	free(device.bytes);
	remove_dir(dir);
}

/* Stopped after the first window: the state is saved there; the second run goes on from
 * it and writes only the files the first did not. */
static void test_stop_and_resume(void **state)
{
	struct device device = { 0 };
	struct placed placed[3];
	struct stopper stopper = { 0, 2 };	/* the gzip is in the second window */
	struct carve_store out;
	char *dir = temporary_dir();
	size_t written, first;

	(void)state;
	make_device(&device, placed);
	assert_int_equal(carve_once(&device, dir, &stopper, &written, &out), 1);
	first = written;
	assert_true(first >= 1 && first < 3);
	assert_true(out.position > 0 && out.position < DEVICE_SIZE);
	carve_store_free(&out);
	stopper = (struct stopper){ 0, 0 };
	assert_int_equal(carve_once(&device, dir, &stopper, &written, &out), 0);
	assert_true(out.position > 0);	/* it was loaded from the state */
	assert_int_equal(out.count, 3);
	assert_int_equal(written, 3 - first);
	expect_file(dir, &placed[2], device.bytes + placed[2].offset);
	carve_store_free(&out);
	free(device.bytes);
	remove_dir(dir);
}

/* A damaged SQLite header claiming more pages than the disk has does not hide the files
 * after it: the scan goes on after the header, not after the length it claims. */
static void test_false_length_hides_nothing(void **state)
{
	struct device device = { 0 };
	struct placed placed[3];
	struct stopper stopper = { 0, 0 };
	struct carve_store out;
	unsigned char *header;
	char *dir = temporary_dir();
	size_t written;

	(void)state;
	make_device(&device, placed);
	device.bad = UINT64_MAX;
	header = device.bytes + 32768;
	memset(header, 0, 100);
	memcpy(header, "SQLite format 3", 16);
	header[16] = 0x10, header[21] = 64, header[22] = 32, header[23] = 32;
	header[28] = 0x7f;	/* 2^31 pages of 4 KiB */
	header[100] = 0x0d;
	assert_int_equal(carve_once(&device, dir, &stopper, &written, &out), 0);
	assert_int_equal(out.count, 4);
	assert_string_equal(out.files[0].type, "sqlite");
	assert_int_equal(out.files[0].length, DEVICE_SIZE - 32768);
	expect_file(dir, &placed[2], device.bytes + placed[2].offset);
	carve_store_free(&out);
	free(device.bytes);
	remove_dir(dir);
}

static size_t put_tar(unsigned char *at, size_t member)
{
	unsigned sum = 0;
	size_t i, blocks = (member + 511) / 512;

	memset(at, 0, 512);
	strcpy((char *)at, "srv/backup/big.bin");
	memcpy(at + 100, "0000644", 8), memcpy(at + 108, "0000000", 8);
	memcpy(at + 116, "0000000", 8), memcpy(at + 136, "14540000000", 12);
	snprintf((char *)at + 124, 12, "%011zo", member);
	at[156] = '0';
	memcpy(at + 257, "ustar", 6), memcpy(at + 263, "00", 2);
	memset(at + 148, ' ', 8);
	for (i = 0; i < 512; i++)
		sum += at[i];
	snprintf((char *)at + 148, 8, "%06o", sum);
	memset(at + 512 + member, 0, blocks * 512 - member + 1024);
	return 512 + blocks * 512 + 1024;
}

static size_t put_mp4(unsigned char *at, size_t media)
{
	memset(at, 0, 24);
	at[3] = 24, memcpy(at + 4, "ftypisom", 8), memcpy(at + 16, "isomiso2", 8);
	at += 24;
	at[0] = (unsigned char)((media + 8) >> 24), at[1] = (unsigned char)((media + 8) >> 16);
	at[2] = (unsigned char)((media + 8) >> 8), at[3] = (unsigned char)(media + 8);
	memcpy(at + 4, "mdat", 4);
	at += 8 + media;
	memset(at, 0, 16);
	at[3] = 16, memcpy(at + 4, "moov", 4);
	return 24 + 8 + media + 16;
}

/* A tar and an MP4 larger than what a validator is given (validate_max, 1 MiB here) are
 * walked header by header to their exact ends. */
static void test_files_beyond_the_validators_buffer(void **state)
{
	struct device device = { 0 };
	struct placed placed[3];
	struct stopper stopper = { 0, 0 };
	struct carve_store out;
	char *dir = temporary_dir();
	size_t written, i;

	(void)state;
	make_device(&device, placed);
	device.bad = UINT64_MAX;
	placed[0] = (struct placed){ 65536, 0, "dev.carve/tar/f65536.tar" };
	placed[0].size = put_tar(device.bytes + 65536, 1600000);
	placed[1] = (struct placed){ 1835008, 0, "dev.carve/mp4/f1835008.mp4" };
	placed[1].size = put_mp4(device.bytes + 1835008, 1100000);
	assert_int_equal(carve_once(&device, dir, &stopper, &written, &out), 0);
	for (i = 0; i < 2; i++)
		expect_file(dir, &placed[i], device.bytes + placed[i].offset);
	assert_int_equal(out.files[0].status, CARVE_VALIDATED);
	assert_int_equal(out.files[1].status, CARVE_VALIDATED);
	carve_store_free(&out);
	free(device.bytes);
	remove_dir(dir);
}

struct seen {
	const unsigned char *device;
	uint64_t next;			/* where the last window shown ended */
	size_t windows;
	int note_seen;
};

static int saw_window(void *context, const unsigned char *data, size_t size,
    uint64_t position, char *failure, size_t failure_size)
{
	struct seen *seen = context;

	(void)failure, (void)failure_size;
	assert_true(position >= seen->next);
	assert_memory_equal(data, seen->device + position, size);
	seen->note_seen |= position <= (2 << 20) + 37 && (2 << 20) + 37 + 8 <= position + size;
	seen->next = position + size;
	seen->windows++;
	return 0;
}

/* An observer (the way a database-page detector plugs in) is shown the stream's bytes
 * window by window, in order, the bytes as they are on the device. */
static void test_observer_sees_the_windows(void **state)
{
	struct device device = { 0 };
	struct placed placed[3];
	struct seen seen = { 0 };
	struct carve_observer observer = { saw_window, &seen };
	struct carve_extent extent = { 0, DEVICE_SIZE };
	struct carve_options options = { 0 };
	struct carve_scan scan;

	(void)state;
	make_device(&device, placed);
	device.bad = UINT64_MAX;
	seen.device = device.bytes;
	options.observers = &observer;
	options.observer_count = 1;
	options.step = 64 << 10, options.lookahead = 128 << 10;
	assert_int_equal(carve_scan_init(&scan, &options, device_read, &device, &extent, 1), 0);
	{
		struct carve_output output = { 0 };
		struct stopper stopper = { 0, 0 };
		char *dir = temporary_dir();
		struct store *store = open_store(dir);
		struct carve_store out;

		carve_store_init(&out, store, "dev", "# rescue source: dev", DEVICE_SIZE);
		carve_store_output(&out, &output);
		output.progress = on_progress, output.progress_context = &stopper;
		assert_int_equal(carve_run(&scan, &output), 0);
		carve_store_free(&out);
		store_close(store);
		remove_dir(dir);
	}
	assert_true(seen.windows >= 30 && seen.note_seen);
	assert_int_equal(seen.next, DEVICE_SIZE);
	carve_scan_free(&scan);
	free(device.bytes);
}

/* ------------------------------------------------------------------ rules */

static const struct carve_format *rule_format(const char *text, char *why, size_t why_size)
{
	carve_rules_free(&rules);
	if (carve_rules_parse(text, strlen(text), "t.rules", &rules, why, why_size) != 0)
		return NULL;
	return rules.count ? &rules.rules[rules.count - 1].format : NULL;
}

static void expect_bad(const char *text, const char *message)
{
	char why[256];

	assert_null(rule_format(text, why, sizeof why));
	assert_string_equal(why, message);
	assert_int_equal(rules.count, 0);
}

static void test_rules_parse_and_refuse(void **state)
{
	const struct carve_format *format;
	char why[256];

	(void)state;
	format = rule_format("# foremost.conf\n\n\tdoc\ty\t12500000\t\\xd0\\xcf\\x11\\xe0\n"
	    "htm n 50000 <html </html>  # web pages\n", why, sizeof why);
	assert_non_null(format);
	assert_int_equal(rules.count, 2);
	assert_int_equal(rules.rules[0].header.size, 4);
	assert_int_equal(rules.rules[0].header.bytes[3], 0xe0);
	assert_int_equal(rules.rules[0].line, 3);
	assert_string_equal(format->type, "htm");
	assert_string_equal(format->description, "rule from t.rules line 4");
	expect_bad("a y 10 x\nb y 10\n", "line 2: 3 fields, a rule has 4 to 6 (extension, case, "
	    "size, header, [footer], [REVERSE|NEXT])");
	expect_bad("a maybe 10 x\n", "line 1: case field maybe: not y or n");
	expect_bad("a y -1 x\n", "line 1: size -1: not a number of bytes above 0");
	expect_bad("a y 10 \\xzz\n", "line 1: header: unknown escape \\xzz (\\xHH, \\n, \\r, \\t, "
	    "\\s, \\\\, \\?)");
	expect_bad("a y 10 ?bc\n", "line 1: header ?bc: must start with a fixed byte");
	expect_bad("a y 10 abc NEXT\n", "line 1: REVERSE or NEXT without a footer");
	expect_bad("a y 10 abc def SIDEWAYS\n", "line 1: SIDEWAYS: not REVERSE or NEXT");
	expect_bad("a/b y 10 abc\n", "line 1: extension a/b: letters, digits, _ and - only, at "
	    "most 15");
}

static void test_rules_lengths(void **state)
{
	static const unsigned char data[] = "HEAD-x-body-TAIL-more-TAIL-rest of the disk";
	const struct carve_format *format;
	struct carve_result result;
	char why[256];

	(void)state;
	format = rule_format("t y 1000 HEAD-? TAIL\n", why, sizeof why);
	assert_int_equal(carve_validate(format, data, sizeof data - 1, 1, &result), CARVE_FOUND);
	assert_int_equal(result.length, 16);
	format = rule_format("t y 1000 head-? TAIL REVERSE\n", why, sizeof why);
	assert_int_equal(carve_validate(format, data, sizeof data - 1, 1, &result), CARVE_NOT);
	format = rule_format("t n 1000 head-? TAIL REVERSE\n", why, sizeof why);
	assert_int_equal(carve_validate(format, data, sizeof data - 1, 0, &result), CARVE_MORE);
	assert_int_equal(carve_validate(format, data, sizeof data - 1, 1, &result), CARVE_FOUND);
	assert_int_equal(result.length, 26);
	format = rule_format("t y 1000 HEAD TAIL NEXT\n", why, sizeof why);
	assert_int_equal(carve_validate(format, data, sizeof data - 1, 1, &result), CARVE_FOUND);
	assert_int_equal(result.length, 12);
	format = rule_format("t y 10 HEAD\n", why, sizeof why);
	assert_int_equal(carve_validate(format, data, sizeof data - 1, 0, &result), CARVE_FOUND);
	assert_int_equal(result.length, 10);
	assert_int_equal(result.status, CARVE_UNVALIDATED);
	format = rule_format("t y 20 HEAD GONE\n", why, sizeof why);
	assert_int_equal(carve_validate(format, data, sizeof data - 1, 1, &result), CARVE_FOUND);
	assert_int_equal(result.length, 20);
	assert_int_equal(result.status, CARVE_TRUNCATED);
	carve_rules_free(&rules);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_scan_to_file_store),
		cmocka_unit_test(test_stop_and_resume),
		cmocka_unit_test(test_false_length_hides_nothing),
		cmocka_unit_test(test_files_beyond_the_validators_buffer),
		cmocka_unit_test(test_observer_sees_the_windows),
		cmocka_unit_test(test_rules_parse_and_refuse),
		cmocka_unit_test(test_rules_lengths),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
