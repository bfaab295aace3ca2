/* test_carve_media.c: the validators of media, streams, mail and databases: Ogg Vorbis
 * that Debian ships (sound-theme-freedesktop), WebP, xz and bzip2 made by their own tools
 * (cwebp, xz, bzip2), and TIFF, WAV, MP4, WebM, MP3, mail, Berkeley DB and GDBM laid out
 * here by their specifications. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include <zlib.h>

#include "lib/carve_expect.h"
#include "salvage/carve.h"

#define SHIPPED_OGG "/usr/share/sounds/freedesktop/stereo/complete.oga"
#define SHIPPED_PNG "/usr/share/doc/syslinux-common/logo/syslinux-100.png"

static void test_ogg_shipped(void **state)
{
	struct blob ogg = read_file(SHIPPED_OGG);
	struct carve_result result;

	(void)state;
	expect_whole("ogg", ogg, "ogg");
	expect_cut("ogg", ogg);
	ogg.data[200] ^= 0x55;	/* inside the first pages: that page's CRC fails */
	assert_int_equal(carve_validate(format_named("ogg"), ogg.data, ogg.size, 1, &result),
	    CARVE_FOUND);
	assert_int_equal(result.status, CARVE_TRUNCATED);
	assert_true(result.length <= 200);
	free(ogg.data);
}

static void test_streams_by_their_tools(void **state)
{
	struct blob blob;

	(void)state;
	blob = command_output("cwebp -quiet " SHIPPED_PNG " -o -");
	expect_whole("riff", blob, "webp");
	free(blob.data);
	blob = command_output("seq 1 20000 | xz -c");
	expect_whole("xz", blob, NULL);
	expect_cut("xz", blob);
	free(blob.data);
	blob = command_output("seq 1 20000 | bzip2 -c");
	expect_whole("bz2", blob, NULL);
	expect_cut("bz2", blob);
	free(blob.data);
}

/* bzip2 streams decoded block by block: many blocks (level 1, 100 kB each), long runs
 * of one byte (the initial run-length coding), two streams one after the other (pbzip2's
 * way), noise after; a flipped bit inside a block is caught by its CRC, where the old
 * search for the end marker called the stream whole. */
static void test_bzip2_decoded_to_its_end(void **state)
{
	struct blob blob, two;
	struct carve_result result;
	const struct carve_format *format = format_named("bz2");
	size_t half;

	(void)state;
	blob = command_output("{ seq 1 200000; head -c 300000 /dev/zero; seq 5 7 90000; } "
	    "| bzip2 -1 -c");
	assert_true(blob.size > 100000);
	expect_whole("bz2", blob, NULL);
	expect_cut("bz2", blob);
	assert_int_equal(carve_validate(format, blob.data, blob.size, 1, &result), CARVE_FOUND);
	assert_string_equal(result.delimited, "every block decoded with its CRC right, to the "
	    "end-of-stream marker and stream CRC");
	/* Two streams: one file. */
	two.size = 2 * blob.size;
	two.data = malloc(two.size);
	assert_non_null(two.data);
	memcpy(two.data, blob.data, blob.size);
	memcpy(two.data + blob.size, blob.data, blob.size);
	expect_whole("bz2", two, NULL);
	/* One flipped bit in a later block's data: the blocks before it stay, the file is
	 * truncated inside that one. */
	half = blob.size / 2;
	blob.data[half] ^= 0x10;
	assert_int_equal(carve_validate(format, blob.data, blob.size, 1, &result), CARVE_FOUND);
	assert_int_equal(result.status, CARVE_TRUNCATED);
	assert_true(result.length > 10 && result.length < blob.size);
	/* In the first block: not a stream at all. */
	blob.data[half] ^= 0x10;
	blob.data[40] ^= 0x01;
	assert_int_equal(carve_validate(format, blob.data, blob.size, 1, &result), CARVE_NOT);
	free(two.data);
	free(blob.data);
}

static void put_le16(unsigned char *p, unsigned v)
{
	p[0] = (unsigned char)v, p[1] = (unsigned char)(v >> 8);
}

static void put_le32(unsigned char *p, uint32_t v)
{
	put_le16(p, v & 0xffff), put_le16(p + 2, v >> 16);
}

static void put_be32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)(v >> 24), p[1] = (unsigned char)(v >> 16);
	p[2] = (unsigned char)(v >> 8), p[3] = (unsigned char)v;
}

/* A little-endian TIFF: header, one IFD of 4 entries, a 600-byte strip after it. */
static void test_tiff_strips(void **state)
{
	unsigned char tiff[8 + 2 + 4 * 12 + 4 + 600];
	static const uint16_t tags[4] = { 256, 257, 273, 279 };
	static const uint32_t values[4] = { 20, 10, 62, 600 };
	struct carve_result result;
	size_t i;

	(void)state;
	memset(tiff, 0x33, sizeof tiff);
	memcpy(tiff, "II*\0", 4);
	put_le32(tiff + 4, 8);
	put_le16(tiff + 8, 4);
	for (i = 0; i < 4; i++) {
		unsigned char *entry = tiff + 10 + i * 12;

		put_le16(entry, tags[i]);
		put_le16(entry + 2, 4);	/* LONG */
		put_le32(entry + 4, 1);
		put_le32(entry + 8, values[i]);
	}
	put_le32(tiff + 58, 0);
	expect_whole("tif", (struct blob){ tiff, sizeof tiff }, NULL);
	assert_int_equal(carve_validate(format_named("tif"), tiff, 300, 0, &result), CARVE_MORE);
}

static void test_wav_mp4_webm(void **state)
{
	unsigned char wav[44 + 1000], mp4[24 + 16 + 108], webm[64];
	size_t at;

	(void)state;
	memset(wav, 0, sizeof wav);
	memcpy(wav, "RIFF", 4), put_le32(wav + 4, sizeof wav - 8), memcpy(wav + 8, "WAVEfmt ", 8);
	put_le32(wav + 16, 16), put_le16(wav + 20, 1), put_le16(wav + 22, 1);
	put_le32(wav + 24, 8000), put_le32(wav + 28, 16000), put_le16(wav + 32, 2);
	put_le16(wav + 34, 16), memcpy(wav + 36, "data", 4), put_le32(wav + 40, 1000);
	expect_whole("riff", (struct blob){ wav, sizeof wav }, "wav");

	memset(mp4, 0, sizeof mp4);
	put_be32(mp4, 24), memcpy(mp4 + 4, "ftypisom", 8), memcpy(mp4 + 16, "isomiso2", 8);
	put_be32(mp4 + 24, 16), memcpy(mp4 + 28, "mdat", 4);
	put_be32(mp4 + 40, 108), memcpy(mp4 + 44, "moov", 4);
	expect_whole("mp4", (struct blob){ mp4, sizeof mp4 }, "mp4");

	/* EBML header (DocType webm), then a Segment of 20 bytes. */
	at = 0;
	memcpy(webm, "\x1a\x45\xdf\xa3\x87\x42\x82\x84webm", 12), at = 12;
	memcpy(webm + at, "\x18\x53\x80\x67\x94", 5), at += 5;
	memset(webm + at, 0xec, 20);
	expect_whole("mkv", (struct blob){ webm, at + 20 }, "webm");
}

/* An ID3v2 tag, then six MPEG-1 Layer III frames of 128 kbit/s at 44.1 kHz (417 bytes). */
static void test_mp3_frames(void **state)
{
	unsigned char mp3[20 + 6 * 417];
	size_t i;

	(void)state;
	memset(mp3, 0, sizeof mp3);
	memcpy(mp3, "ID3\x03\x00\x00\x00\x00\x00\x0a", 10);
	for (i = 0; i < 6; i++)
		memcpy(mp3 + 20 + i * 417, "\xff\xfb\x90\x00", 4);
	expect_whole("mp3", (struct blob){ mp3, sizeof mp3 }, NULL);
}

static void test_mail(void **state)
{
	static const char mbox[] = "From alice@example.org Mon Jan  1 00:00:00 2024\n"
	    "From: alice@example.org\nTo: bob@example.org\nSubject: keys\n\nThe key is here.\n\n"
	    "From bob@example.org Mon Jan  1 00:01:00 2024\nFrom: bob@example.org\n"
	    "Subject: re: keys\n\nThanks.\n";
	unsigned char data[sizeof mbox + 16];
	struct carve_result result;

	(void)state;
	memcpy(data, mbox, sizeof mbox - 1);
	memcpy(data + sizeof mbox - 1, "\0\x01\x02 binary after", 16);
	assert_int_equal(carve_validate(format_named("eml"), data, sizeof data, 1, &result),
	    CARVE_FOUND);
	assert_int_equal(result.length, sizeof mbox - 1);
	assert_string_equal(result.type, "mbox");
	assert_int_equal(result.status, CARVE_UNVALIDATED);
	assert_int_equal(carve_validate(format_named("eml"), (const unsigned char *)
	    "From here to there is a long way\n\0", 34, 1, &result), CARVE_NOT);
}

static void test_berkeley_db_and_gdbm(void **state)
{
	unsigned char page[64];
	struct carve_result result;
	const struct carve_format *db = format_named("db"), *gdbm = format_named("gdbm");

	(void)state;
	memset(page, 0, sizeof page);
	put_le32(page + 12, 0x00061561);	/* hash */
	put_le32(page + 20, 4096);
	put_le32(page + 32, 9);			/* last page: 10 pages */
	assert_true(carve_matches(db, page, sizeof page));
	assert_int_equal(carve_validate(db, page, sizeof page, 1, &result), CARVE_FOUND);
	assert_int_equal(result.length, 10 * 4096);
	put_be32(page + 12, 0x00053162);	/* a big-endian btree */
	put_be32(page + 20, 8192), put_be32(page + 32, 1);
	assert_int_equal(carve_validate(db, page, sizeof page, 1, &result), CARVE_FOUND);
	assert_int_equal(result.length, 2 * 8192);

	memset(page, 0, sizeof page);
	put_le32(page, 0x13579acf);		/* 64-bit offsets */
	put_le32(page + 4, 4096), put_le32(page + 8, 4096), put_le32(page + 32, 5 * 4096);
	assert_int_equal(carve_validate(gdbm, page, sizeof page, 1, &result), CARVE_FOUND);
	assert_int_equal(result.length, 5 * 4096);
	put_le32(page + 32, 5 * 4096 + 7);
	assert_int_equal(carve_validate(gdbm, page, sizeof page, 1, &result), CARVE_NOT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bzip2_decoded_to_its_end),
		cmocka_unit_test(test_ogg_shipped),
		cmocka_unit_test(test_streams_by_their_tools),
		cmocka_unit_test(test_tiff_strips),
		cmocka_unit_test(test_wav_mp4_webm),
		cmocka_unit_test(test_mp3_frames),
		cmocka_unit_test(test_mail),
		cmocka_unit_test(test_berkeley_db_and_gdbm),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
