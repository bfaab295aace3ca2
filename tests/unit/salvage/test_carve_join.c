/* test_carve_join.c: files in two pieces, and files larger than the validators' buffer.
 * Files in two pieces, as a nearly full file system leaves them, found by the whole scan: Debian's PNG split at a block with noise or another file (a JPEG)
 * between, a ZIP (deflated and stored members, written here with zlib as zip does) split
 * inside a member: each comes back byte for byte, validated, its manifest naming both
 * pieces; the file between is found too. A piece whose rest is missing, or lies beyond
 * the gap searched, stays truncated: nothing is glued without the structure's word.
 * Files larger than the validators' buffer are walked piece by piece to their end (a
 * 40 MiB gzip with the default buffer of 32 MiB; PNG, JPEG, ZIP, PDF, gzip, bzip2 with
 * a buffer of 32 KiB): whole, validated, byte for byte. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <zlib.h>

#include "base/sha256.h"
#include "lib/carve_expect.h"
#include "salvage/carve.h"

#define SHIPPED_PNG "/usr/share/doc/syslinux-common/logo/syslinux-100.png"
#define SHIPPED_JPEG "/usr/share/doc/syslinux-common/examples/syslinux_splash.jpg"

enum { DEVICE_SIZE = 48 << 20, FILES_MAX = 16, BLOCK = 4096 };

struct device {
	unsigned char *bytes;
	int direct;		/* refuses reads of part of a sector, as O_DIRECT does */
};

static ssize_t device_read(void *context, void *buffer, size_t size, uint64_t position)
{
	struct device *device = context;

	if (device->direct && (position % 512 || size % 512)) {
		errno = EINVAL;
		return -1;
	}
	if (position >= DEVICE_SIZE)
		return 0;
	if (position + size > DEVICE_SIZE)
		size = DEVICE_SIZE - position;
	memcpy(buffer, device->bytes + position, size);
	return (ssize_t)size;
}

/* The files the scan found, their bytes kept. */
struct found {
	struct carve_file file;
	unsigned char *data;
};

struct capture {
	struct found files[FILES_MAX];
	size_t count;
	unsigned char *current;
};

static int capture_begin(void *context, const struct carve_file *file, int *skip)
{
	struct capture *capture = context;

	*skip = 0;
	assert_true(capture->count < FILES_MAX);
	capture->current = calloc(1, (size_t)file->length + 1);
	assert_non_null(capture->current);
	return 0;
}

static int capture_write(void *context, const void *data, size_t size, uint64_t offset)
{
	struct capture *capture = context;

	memcpy(capture->current + offset, data, size);
	return 0;
}

static int capture_end(void *context, const struct carve_file *file)
{
	struct capture *capture = context;

	capture->files[capture->count].file = *file;
	capture->files[capture->count++].data = capture->current;
	capture->current = NULL;
	return 0;
}

static int capture_checkpoint(void *context, uint64_t position)
{
	(void)context, (void)position;
	return 0;
}

static void capture_progress(void *context, uint64_t position, int force)
{
	(void)context, (void)position, (void)force;
}

static void noise(struct device *device)
{
	size_t i;

	device->bytes = malloc(DEVICE_SIZE);
	device->direct = 0;
	assert_non_null(device->bytes);
	srand(17);
	for (i = 0; i < DEVICE_SIZE; i++)
		device->bytes[i] = (unsigned char)(rand() >> 7);
}

/* BLOB's first SPLIT bytes at AT, the rest at RESUME. */
static void place_split(struct device *device, struct blob blob, size_t at, size_t split,
    size_t resume)
{
	memcpy(device->bytes + at, blob.data, split);
	memcpy(device->bytes + resume, blob.data + split, blob.size - split);
}

static void carve_with(struct device *device, struct capture *capture,
    struct carve_options options)
{
	const struct carve_format *const *builtin;
	struct carve_extent extent = { 0, DEVICE_SIZE };
	struct carve_output output = { capture, capture_begin, capture_write, capture_end,
	    capture_checkpoint, capture_progress, NULL };
	struct carve_scan scan;

	memset(capture, 0, sizeof *capture);
	builtin = carve_builtin_formats(&options.format_count);
	options.formats = builtin;
	assert_int_equal(carve_scan_init(&scan, &options, device_read, device, &extent, 1), 0);
	assert_int_equal(carve_run(&scan, &output), 0);
	carve_scan_free(&scan);
}

static void carve_device(struct device *device, struct capture *capture, uint64_t join_gap)
{
	struct carve_options options = { 0 };

	options.join_gap = join_gap;
	carve_with(device, capture, options);
}

static const struct found *found_at(const struct capture *capture, uint64_t position)
{
	size_t i;

	for (i = 0; i < capture->count; i++)
		if (capture->files[i].file.source_position == position)
			return &capture->files[i];
	fail_msg("nothing carved at %llu", (unsigned long long)position);
	return NULL;
}

static void capture_free(struct capture *capture)
{
	size_t i;

	for (i = 0; i < capture->count; i++)
		free(capture->files[i].data);
}

/* FOUND is BLOB, validated, joined from pieces at AT+SPLIT and RESUME+the rest. */
static void expect_joined(const struct found *found, struct blob blob, size_t at, size_t split,
    size_t resume, const char *how)
{
	char delimited[160];

	assert_int_equal(found->file.length, blob.size);
	assert_memory_equal(found->data, blob.data, blob.size);
	assert_int_equal(found->file.status, CARVE_VALIDATED);
	assert_int_equal(found->file.bad_bytes, 0);
	snprintf(delimited, sizeof delimited, "joined (%s): pieces at %zu+%zu and %zu+%zu", how,
	    at, split, resume, blob.size - split);
	assert_string_equal(found->file.delimited, delimited);
}

static void test_png_split_with_noise_or_a_jpeg_between(void **state)
{
	struct blob png = read_file(SHIPPED_PNG), jpeg = read_file(SHIPPED_JPEG);
	size_t at = 1 << 20, split = 16 * BLOCK, resume = at + split + 10 * BLOCK;
	struct capture capture;
	struct device device;

	(void)state;
	noise(&device);
	/* Noise between: the split falls inside the eighth IDAT chunk. */
	place_split(&device, png, at, split, resume);
	/* Another file between, in the blocks right after the first piece. */
	place_split(&device, png, 4 << 20, 3 * BLOCK, (4 << 20) + 3 * BLOCK + 15 * BLOCK);
	memcpy(device.bytes + (4 << 20) + 3 * BLOCK, jpeg.data, jpeg.size);
	carve_device(&device, &capture, CARVE_JOIN_GAP);
	expect_joined(found_at(&capture, at), png, at, split, resume,
	    "chunk CRC across the join");
	expect_joined(found_at(&capture, 4 << 20), png, 4 << 20, 3 * BLOCK,
	    (4 << 20) + 18 * BLOCK, "chunk CRC across the join");
	assert_int_equal(found_at(&capture, (4 << 20) + 3 * BLOCK)->file.length, jpeg.size);
	assert_int_equal(capture.count, 3);
	capture_free(&capture);
	free(device.bytes);
	free(png.data);
	free(jpeg.data);
}

static void test_png_rest_missing_or_too_far_stays_truncated(void **state)
{
	struct blob png = read_file(SHIPPED_PNG);
	size_t at = 1 << 20, split = 16 * BLOCK;
	struct capture capture;
	struct device device;
	const struct found *found;

	(void)state;
	noise(&device);
	memcpy(device.bytes + at, png.data, split);	/* the rest is gone */
	/* The rest 12 MiB further on: beyond the gap searched. */
	place_split(&device, png, 8 << 20, split, (8 << 20) + split + (12 << 20));
	carve_device(&device, &capture, CARVE_JOIN_GAP);
	found = found_at(&capture, at);
	assert_int_equal(found->file.status, CARVE_TRUNCATED);
	assert_true(found->file.length < split);
	assert_string_equal(found->file.delimited, "chunk CRC wrong");
	found = found_at(&capture, 8 << 20);
	assert_int_equal(found->file.status, CARVE_TRUNCATED);
	assert_int_equal(found->file.first_length, 0);
	capture_free(&capture);
	/* Without joining (as `rescue undelete` scans), the same split file is truncated. */
	memset(device.bytes + (8 << 20), 0, split);
	place_split(&device, png, at, split, at + split + 4 * BLOCK);
	carve_device(&device, &capture, 0);
	assert_int_equal(found_at(&capture, at)->file.status, CARVE_TRUNCATED);
	capture_free(&capture);
	free(device.bytes);
	free(png.data);
}

/* ------------------------------------------------------------------ JPEG */

static void test_jpeg_split_with_noise_or_a_png_between(void **state)
{
	struct blob jpeg = read_file(SHIPPED_JPEG), png = read_file(SHIPPED_PNG);
	size_t at = 1 << 20, split = 5 * BLOCK, resume = at + split + 100 * BLOCK;
	size_t at2 = 5 << 20, split2 = 11 * BLOCK, resume2 = at2 + split2 + 40 * BLOCK;
	struct capture capture;
	struct device device;
	const struct found *found;

	(void)state;
	noise(&device);
	device.direct = 1;	/* the joiner's small reads go through whole sectors */
	place_split(&device, jpeg, at, split, resume);
	place_split(&device, jpeg, at2, split2, resume2);
	memcpy(device.bytes + at2 + split2, png.data, png.size);
	carve_device(&device, &capture, CARVE_JOIN_GAP);
	expect_joined(found_at(&capture, at), jpeg, at, split, resume,
	    "Huffman-coded data decodes across the join");
	expect_joined(found_at(&capture, at2), jpeg, at2, split2, resume2,
	    "Huffman-coded data decodes across the join");
	assert_int_equal(found_at(&capture, at2 + split2)->file.length, png.size);
	assert_int_equal(capture.count, 3);
	capture_free(&capture);
	/* The rest gone: the first piece stays truncated. */
	memset(device.bytes + resume, 0x5a, jpeg.size - split);
	memset(device.bytes + resume2, 0x5a, jpeg.size - split2);
	carve_device(&device, &capture, CARVE_JOIN_GAP);
	found = found_at(&capture, at);
	assert_int_equal(found->file.status, CARVE_TRUNCATED);
	assert_int_equal(found->file.first_length, 0);
	assert_int_equal(found_at(&capture, at2)->file.status, CARVE_TRUNCATED);
	capture_free(&capture);
	free(device.bytes);
	free(png.data);
	free(jpeg.data);
}

/* ------------------------------------------------------------------ ZIP */

static void put_le16(unsigned char *at, unsigned value)
{
	at[0] = (unsigned char)value, at[1] = (unsigned char)(value >> 8);
}

static void put_le32(unsigned char *at, uint32_t value)
{
	put_le16(at, value & 0xffff);
	put_le16(at + 2, value >> 16);
}

/* Words that compress about as text does, different for each SEED. */
static size_t make_text(unsigned char *text, size_t size, unsigned seed)
{
	static const char *words[] = { "backup", "restore", "disk", "sector", "mail", "spool",
	    "server", "database", "page", "journal", "the", "of", "a", "night", "admin" };
	size_t used = 0;

	srand(seed);
	while (used + 12 < size)
		used += (size_t)sprintf((char *)text + used, "%s%c", words[rand() % 15],
		    rand() % 9 ? ' ' : '\n');
	return used;
}

/* A ZIP as zip(1) writes it: sizes and CRC in each local header, a central directory,
 * the end record. Members: METHODS[i] (0 stored, 8 deflated), text of TEXT_SIZE each. */
static struct blob make_zip(const int *methods, size_t members, size_t text_size)
{
	struct blob zip = { malloc(members * (text_size + 200) + 100), 0 };
	unsigned char *central = malloc(members * 80), *text = malloc(text_size);
	size_t i, central_size = 0;

	assert_non_null(zip.data);
	assert_non_null(central);
	assert_non_null(text);
	for (i = 0; i < members; i++) {
		size_t length = make_text(text, text_size, (unsigned)i + 1), stored;
		uint32_t crc = (uint32_t)crc32(crc32(0, NULL, 0), text, (uInt)length);
		unsigned char *header = zip.data + zip.size;
		char name[32];
		z_stream stream;

		snprintf(name, sizeof name, "notes/%zu.txt", i);
		memset(header, 0, 30);
		put_le32(header, 0x04034b50);
		put_le16(header + 4, 20);
		put_le16(header + 8, (unsigned)methods[i]);
		put_le32(header + 14, crc);
		put_le32(header + 22, (uint32_t)length);
		put_le16(header + 26, (unsigned)strlen(name));
		memcpy(header + 30, name, strlen(name));
		if (methods[i] == 0) {
			memcpy(header + 30 + strlen(name), text, length);
			stored = length;
		} else {
			memset(&stream, 0, sizeof stream);
			assert_int_equal(deflateInit2(&stream, 9, Z_DEFLATED, -15, 8,
			    Z_DEFAULT_STRATEGY), Z_OK);
			stream.next_in = text, stream.avail_in = (uInt)length;
			stream.next_out = header + 30 + strlen(name);
			stream.avail_out = (uInt)(text_size + 100);
			assert_int_equal(deflate(&stream, Z_FINISH), Z_STREAM_END);
			stored = stream.total_out;
			deflateEnd(&stream);
		}
		put_le32(header + 18, (uint32_t)stored);
		memset(central + central_size, 0, 46);
		put_le32(central + central_size, 0x02014b50);
		memcpy(central + central_size + 6, header + 4, 26);
		put_le32(central + central_size + 42, (uint32_t)zip.size);
		memcpy(central + central_size + 46, name, strlen(name));
		central_size += 46 + strlen(name);
		zip.size += 30 + strlen(name) + stored;
	}
	memcpy(zip.data + zip.size, central, central_size);
	memset(zip.data + zip.size + central_size, 0, 22);
	put_le32(zip.data + zip.size + central_size, 0x06054b50);
	put_le16(zip.data + zip.size + central_size + 8, (unsigned)members);
	put_le16(zip.data + zip.size + central_size + 10, (unsigned)members);
	put_le32(zip.data + zip.size + central_size + 12, (uint32_t)central_size);
	put_le32(zip.data + zip.size + central_size + 16, (uint32_t)zip.size);
	zip.size += central_size + 22;
	free(text);
	free(central);
	return zip;
}

static void test_zip_split_inside_deflated_and_stored_members(void **state)
{
	static const int methods[] = { 8, 8, 0, 8 };
	struct blob zip = make_zip(methods, 4, 40000);
	size_t at = 2 << 20, split = 3 * BLOCK, resume = at + split + 33 * BLOCK;
	size_t at2 = 6 << 20, split2 = 9 * BLOCK, resume2 = at2 + split2 + 2 * BLOCK;
	struct capture capture;
	struct device device;

	(void)state;
	expect_whole("zip", zip, NULL);
	/* Split inside the second member (deflated, [6880, 13706)), and inside the third
	 * (stored, [13747, 53739)). */
	assert_true(zip.size > 14 * BLOCK);
	noise(&device);
	device.direct = 1;
	place_split(&device, zip, at, split, resume);
	place_split(&device, zip, at2, split2, resume2);
	carve_device(&device, &capture, CARVE_JOIN_GAP);
	expect_joined(found_at(&capture, at), zip, at, split, resume,
	    "member CRC-32 across the join");
	expect_joined(found_at(&capture, at2), zip, at2, split2, resume2,
	    "member CRC-32 across the join");
	assert_int_equal(capture.count, 2);
	capture_free(&capture);
	free(device.bytes);
	free(zip.data);
}

/* ------------------------------------------------------------------ large files */

/* FOUND is BLOB whole, validated by its structure. */
static void expect_whole_file(const struct found *found, struct blob blob)
{
	assert_int_equal(found->file.length, blob.size);
	assert_memory_equal(found->data, blob.data, blob.size);
	assert_int_equal(found->file.status, CARVE_VALIDATED);
}

/* A gzip stream of SIZE pseudo-random bytes (it hardly compresses). */
static struct blob make_gzip(size_t size)
{
	unsigned char *text = malloc(size);
	struct blob gz = { malloc(size + size / 100 + 1024), 0 };
	z_stream stream;
	size_t i;
	uint32_t x = 7;

	assert_non_null(text);
	assert_non_null(gz.data);
	for (i = 0; i < size; i++) {
		x = x * 1103515245u + 12345u;
		text[i] = (unsigned char)(x >> 23);
	}
	memset(&stream, 0, sizeof stream);
	assert_int_equal(deflateInit2(&stream, 1, Z_DEFLATED, 31, 8, Z_DEFAULT_STRATEGY), Z_OK);
	stream.next_in = text, stream.avail_in = (uInt)size;
	stream.next_out = gz.data, stream.avail_out = (uInt)(size + size / 100 + 1024);
	assert_int_equal(deflate(&stream, Z_FINISH), Z_STREAM_END);
	gz.size = stream.total_out;
	deflateEnd(&stream);
	free(text);
	return gz;
}

static void test_gzip_larger_than_the_buffer(void **state)
{
	struct blob gz = make_gzip(40 << 20);
	struct capture capture;
	struct device device;

	(void)state;
	assert_true(gz.size > CARVE_VALIDATE_MAX && gz.size < DEVICE_SIZE - BLOCK);
	noise(&device);
	memcpy(device.bytes + BLOCK, gz.data, gz.size);
	carve_device(&device, &capture, CARVE_JOIN_GAP);
	expect_whole_file(found_at(&capture, BLOCK), gz);
	assert_string_equal(found_at(&capture, BLOCK)->file.delimited, "deflate stream decoded "
	    "to its end, CRC right");
	capture_free(&capture);
	free(device.bytes);
	free(gz.data);
}

#define SHIPPED_PDF "/usr/share/doc/shared-mime-info/shared-mime-info-spec.pdf"

static void test_walked_piece_by_piece(void **state)
{
	static const int methods[] = { 8, 0, 8 };
	struct blob files[6];
	struct carve_options options = { 0 };
	struct capture capture;
	struct device device;
	size_t i;

	(void)state;
	files[0] = read_file(SHIPPED_PNG);
	files[1] = read_file(SHIPPED_JPEG);
	files[2] = make_zip(methods, 3, 60000);
	files[3] = read_file(SHIPPED_PDF);
	files[4] = make_gzip(300000);
	files[5] = command_output("seq 1 300000 | bzip2 -c");
	noise(&device);
	for (i = 0; i < 6; i++) {
		assert_true(files[i].size > 40000);
		memcpy(device.bytes + (i + 1) * (1 << 20), files[i].data, files[i].size);
	}
	/* A buffer smaller than each file: every one is walked. */
	options.step = 16 << 10, options.lookahead = 16 << 10, options.validate_max = 32 << 10;
	carve_with(&device, &capture, options);
	for (i = 0; i < 6; i++)
		expect_whole_file(found_at(&capture, (i + 1) * (1 << 20)), files[i]);
	capture_free(&capture);
	for (i = 0; i < 6; i++)
		free(files[i].data);
	free(device.bytes);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_png_split_with_noise_or_a_jpeg_between),
		cmocka_unit_test(test_png_rest_missing_or_too_far_stays_truncated),
		cmocka_unit_test(test_jpeg_split_with_noise_or_a_png_between),
		cmocka_unit_test(test_zip_split_inside_deflated_and_stored_members),
		cmocka_unit_test(test_gzip_larger_than_the_buffer),
		cmocka_unit_test(test_walked_piece_by_piece),
	};

	return cmocka_run_group_tests_name("carve_join", tests, NULL, NULL);
}
