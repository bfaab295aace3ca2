/* test_carve_formats.c: each built-in validator on real files (Debian's pictures, this
 * test program's own ELF, archives and streams made here by libarchive, zlib and zstd):
 * the whole file is found with its exact length, a cut one is asked for more or named
 * truncated, noise after it changes nothing, and damage is seen. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <archive.h>
#include <archive_entry.h>
#include <zlib.h>
#include <zstd.h>

#include "lib/carve_expect.h"
#include "salvage/carve.h"

/* syslinux-common (tools/host-packages: isolinux, syslinux-common) ships it. */
#define SHIPPED_JPEG "/usr/share/doc/syslinux-common/examples/syslinux_splash.jpg"
/* ------------------------------------------------------------------ pictures */

static void test_jpeg_shipped_cut_and_thumbnail(void **state)
{
	struct blob jpeg = read_file(SHIPPED_JPEG), outer;
	struct carve_result result;
	size_t segment = jpeg.size + 2 + 6;

	(void)state;
	expect_whole("jpg", jpeg, NULL);
	expect_cut("jpg", jpeg);
	/* The same picture with itself inside an APP1 (EXIF-like) segment as a thumbnail: the
	 * walk skips the segment, so the end is the outer EOI, not the thumbnail's. */
	assert_true(segment < 65536);
	outer.size = jpeg.size + segment;
	outer.data = malloc(outer.size);
	assert_non_null(outer.data);
	memcpy(outer.data, jpeg.data, 2);
	outer.data[2] = 0xff, outer.data[3] = 0xe1;
	outer.data[4] = (unsigned char)((segment - 2) >> 8);
	outer.data[5] = (unsigned char)((segment - 2) & 0xff);
	memcpy(outer.data + 6, "Exif\0\0", 6);
	memcpy(outer.data + 12, jpeg.data, jpeg.size);
	memcpy(outer.data + 2 + segment, jpeg.data + 2, jpeg.size - 2);
	assert_int_equal(carve_validate(format_named("jpg"), outer.data, outer.size, 1, &result),
	    CARVE_FOUND);
	assert_int_equal(result.length, outer.size);
	assert_int_equal(result.status, CARVE_VALIDATED);
	free(outer.data);
	free(jpeg.data);
}

static void put_be32(unsigned char *at, uint32_t value)
{
	at[0] = (unsigned char)(value >> 24), at[1] = (unsigned char)(value >> 16);
	at[2] = (unsigned char)(value >> 8), at[3] = (unsigned char)value;
}

static size_t png_chunk(unsigned char *at, const char *type, const void *data, uint32_t size)
{
	put_be32(at, size);
	memcpy(at + 4, type, 4);
	memcpy(at + 8, data, size);
	put_be32(at + 8 + size, (uint32_t)crc32(crc32(0, NULL, 0), at + 4, size + 4));
	return 12 + size;
}

/* A 16x16 grey PNG, its IDAT made with zlib as every PNG writer does. */
static struct blob make_png(void)
{
	static const unsigned char ihdr[13] = { 0, 0, 0, 16, 0, 0, 0, 16, 8, 0, 0, 0, 0 };
	unsigned char raw[16 * 17], idat[512];
	uLongf idat_size = sizeof idat;
	struct blob png = { malloc(1024), 0 };
	size_t i;

	for (i = 0; i < sizeof raw; i++)
		raw[i] = i % 17 ? (unsigned char)(i * 3) : 0;
	assert_int_equal(compress(idat, &idat_size, raw, sizeof raw), Z_OK);
	memcpy(png.data, "\x89PNG\r\n\x1a\n", 8);
	png.size = 8;
	png.size += png_chunk(png.data + png.size, "IHDR", ihdr, 13);
	png.size += png_chunk(png.data + png.size, "IDAT", idat, (uint32_t)idat_size);
	png.size += png_chunk(png.data + png.size, "IEND", "", 0);
	return png;
}

static void test_png_crcs(void **state)
{
	struct blob png = make_png();
	struct carve_result result;

	(void)state;
	expect_whole("png", png, NULL);
	expect_cut("png", png);
	png.data[8 + 25 + 10] ^= 1;	/* a byte inside IDAT */
	assert_int_equal(carve_validate(format_named("png"), png.data, png.size, 1, &result),
	    CARVE_FOUND);
	assert_int_equal(result.status, CARVE_TRUNCATED);
	assert_int_equal(result.length, 8 + 25);
	assert_string_equal(result.delimited, "chunk CRC wrong");
	free(png.data);
}

static void test_gif_and_bmp(void **state)
{
	/* The classic 1x1 transparent GIF89a that web servers send. */
	static const unsigned char gif[] = "GIF89a\x01\x00\x01\x00\x80\x00\x00\xff\xff\xff\x00\x00"
	    "\x00\x21\xf9\x04\x01\x00\x00\x00\x00\x2c\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02"
	    "\x44\x01\x00\x3b";
	unsigned char bmp[54 + 4 * 3];
	struct blob blob = { (unsigned char *)gif, sizeof gif - 1 };
	struct carve_result result;

	(void)state;
	expect_whole("gif", blob, NULL);
	memset(bmp, 0, sizeof bmp);
	memcpy(bmp, "BM", 2);
	bmp[2] = sizeof bmp, bmp[10] = 54, bmp[14] = 40, bmp[18] = 1, bmp[22] = 3, bmp[26] = 1;
	bmp[28] = 24;
	blob = (struct blob){ bmp, sizeof bmp };
	expect_whole("bmp", blob, NULL);
	bmp[22] = 200;	/* 200 rows do not fit in the file's size */
	assert_int_equal(carve_validate(format_named("bmp"), bmp, sizeof bmp, 1, &result),
	    CARVE_NOT);
}

/* ------------------------------------------------------------------ documents */

static const char PDF_BASE[] = "%PDF-1.4\n1 0 obj\n<< /Type /Catalog >>\nendobj\n"
    "xref\n0 2\n0000000000 65535 f \n0000000009 00000 n \ntrailer\n<< /Size 2 /Root 1 0 R >>\n"
    "startxref\n45\n%%EOF\n";
static const char PDF_UPDATE[] = "2 0 obj\n<< /Type /Info >>\nendobj\nxref\n0 1\n"
    "0000000000 65535 f \ntrailer\n<< /Size 3 /Prev 45 >>\nstartxref\n150\n%%EOF\n";

/* An incremental update's %%EOF belongs to the file; a later PDF's does not. */
static void test_pdf_incremental_update(void **state)
{
	char text[2048];
	struct carve_result result;
	struct blob blob;
	size_t whole;

	(void)state;
	whole = (size_t)snprintf(text, sizeof text, "%s%s", PDF_BASE, PDF_UPDATE);
	blob = (struct blob){ (unsigned char *)text, whole };
	expect_whole("pdf", blob, NULL);
	snprintf(text + whole, sizeof text - whole, "junk that follows\n%%%%EOF\nstartxref\n"
	    "%%%%EOF\n");
	assert_int_equal(carve_validate(format_named("pdf"), (unsigned char *)text,
	    strlen(text), 1, &result), CARVE_FOUND);
	assert_int_equal(result.length, whole);
	assert_int_equal(carve_validate(format_named("pdf"), (unsigned char *)text,
	    strlen(PDF_BASE) - 3, 1, &result), CARVE_FOUND);
	assert_int_equal(result.status, CARVE_TRUNCATED);
}

static void test_sqlite_header(void **state)
{
	unsigned char page[4 * 1024];
	struct carve_result result;

	(void)state;
	memset(page, 0, sizeof page);
	memcpy(page, "SQLite format 3", 16);
	page[16] = 4, page[17] = 0;		/* 1024-byte pages */
	page[18] = page[19] = 1;
	page[21] = 64, page[22] = 32, page[23] = 32;
	page[27] = 5, page[95] = 5;		/* change counter = version-valid-for */
	page[31] = 4;				/* 4 pages */
	page[100] = 0x0d;			/* the schema's root: a table leaf */
	assert_int_equal(carve_validate(format_named("sqlite"), page, sizeof page, 1, &result),
	    CARVE_FOUND);
	assert_int_equal(result.length, 4096);
	page[95] = 6;	/* a legacy writer's header: the size field cannot be trusted */
	assert_int_equal(carve_validate(format_named("sqlite"), page, sizeof page, 1, &result),
	    CARVE_NOT);
}

static void test_elf_of_this_program(void **state)
{
	struct blob elf = read_file("/proc/self/exe");
	struct carve_result result;

	(void)state;
	expect_whole("elf", elf, NULL);
	assert_int_equal(carve_validate(format_named("elf"), elf.data, 4096, 0, &result),
	    CARVE_MORE);
	free(elf.data);
}

/* ------------------------------------------------------------------ archives, streams */

struct memory_archive {
	unsigned char buffer[1 << 20];
	size_t used;
};

static void add_entry(struct archive *archive, const char *name, const void *data,
    size_t size)
{
	struct archive_entry *entry = archive_entry_new();

	archive_entry_set_pathname(entry, name);
	archive_entry_set_size(entry, (la_int64_t)size);
	archive_entry_set_filetype(entry, AE_IFREG);
	archive_entry_set_perm(entry, 0644);
	archive_entry_set_mtime(entry, 1700000000, 0);
	assert_int_equal(archive_write_header(archive, entry), ARCHIVE_OK);
	assert_int_equal(archive_write_data(archive, data, size), (la_ssize_t)size);
	archive_entry_free(entry);
}

/* An archive by libarchive: FORMAT "zip" or "ustar"; MIMETYPE first, stored, when given. */
static struct blob make_archive(const char *format, const char *mimetype, const char **names,
    size_t count)
{
	struct archive *archive = archive_write_new();
	static struct memory_archive memory;
	char text[4000];
	size_t i;

	memset(text, 'a', sizeof text);
	assert_int_equal(archive_write_set_format_by_name(archive, format), ARCHIVE_OK);
	/* ODF wants its mimetype stored: libarchive stores every member then, each with
	 * its sizes after the data, as a writer that cannot seek does. */
	if (mimetype)
		assert_int_equal(archive_write_set_format_option(archive, "zip", "compression",
		    "store"), ARCHIVE_OK);
	assert_int_equal(archive_write_open_memory(archive, memory.buffer, sizeof memory.buffer,
	    &memory.used), ARCHIVE_OK);
	if (mimetype)
		add_entry(archive, "mimetype", mimetype, strlen(mimetype));
	for (i = 0; i < count; i++) {
		snprintf(text, 64, "member %zu of the archive, ", i);
		add_entry(archive, names[i], text, sizeof text);
	}
	assert_int_equal(archive_write_close(archive), ARCHIVE_OK);
	archive_write_free(archive);
	return (struct blob){ memory.buffer, memory.used };
}

static void test_zip_named_by_content(void **state)
{
	const char *plain[] = { "a.txt", "dir/b.txt" };
	const char *docx[] = { "[Content_Types].xml", "word/document.xml" };
	const char *odt[] = { "content.xml" };
	const char *jar[] = { "META-INF/MANIFEST.MF", "a/B.class" };
	struct blob blob;

	(void)state;
	blob = make_archive("zip", NULL, plain, 2);	/* deflated, sizes after the data */
	expect_whole("zip", blob, "zip");
	expect_cut("zip", blob);
	expect_whole("zip", make_archive("zip", NULL, docx, 2), "docx");
	expect_whole("zip", make_archive("zip", "application/vnd.oasis.opendocument.text", odt,
	    1), "odt");
	expect_whole("zip", make_archive("zip", NULL, jar, 2), "jar");
}

static void test_tar_checksums(void **state)
{
	const char *names[] = { "etc/a.conf", "etc/b.conf", "var/c" };
	struct blob blob = make_archive("ustar", NULL, names, 3);
	struct carve_result result;

	(void)state;
	expect_whole("tar", blob, NULL);
	blob.data[512 * 9 + 100] ^= 1;	/* inside the second header (4000 bytes of data before) */
	assert_int_equal(carve_validate(format_named("tar"), blob.data, blob.size, 1, &result),
	    CARVE_FOUND);
	assert_int_equal(result.status, CARVE_TRUNCATED);
	assert_int_equal(result.length, 512 * 9);
}

static size_t gzip_member(unsigned char *out, size_t room, const void *data, size_t size)
{
	z_stream stream;

	memset(&stream, 0, sizeof stream);
	assert_int_equal(deflateInit2(&stream, 9, Z_DEFLATED, 31, 8, Z_DEFAULT_STRATEGY), Z_OK);
	stream.next_in = (unsigned char *)data;
	stream.avail_in = (unsigned)size;
	stream.next_out = out;
	stream.avail_out = (unsigned)room;
	assert_int_equal(deflate(&stream, Z_FINISH), Z_STREAM_END);
	deflateEnd(&stream);
	return stream.total_out;
}

static void test_gzip_members_and_zstd(void **state)
{
	static unsigned char text[20000], packed[40000];
	struct blob blob = { packed, 0 };
	size_t i, frame;

	(void)state;
	for (i = 0; i < sizeof text; i++)
		text[i] = (unsigned char)("a log line\n"[i % 11] + (i / 997) % 3);
	blob.size = gzip_member(packed, sizeof packed, text, sizeof text);
	expect_whole("gz", blob, NULL);
	expect_cut("gz", blob);
	blob.size += gzip_member(packed + blob.size, sizeof packed - blob.size, text, 5000);
	expect_whole("gz", blob, NULL);	/* `cat a.gz b.gz`: one file */
	frame = ZSTD_compress(packed, sizeof packed, text, sizeof text, 3);
	assert_false(ZSTD_isError(frame));
	blob.size = frame;
	expect_whole("zst", blob, NULL);
	expect_cut("zst", blob);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_jpeg_shipped_cut_and_thumbnail),
		cmocka_unit_test(test_png_crcs),
		cmocka_unit_test(test_gif_and_bmp),
		cmocka_unit_test(test_pdf_incremental_update),
		cmocka_unit_test(test_sqlite_header),
		cmocka_unit_test(test_elf_of_this_program),
		cmocka_unit_test(test_zip_named_by_content),
		cmocka_unit_test(test_tar_checksums),
		cmocka_unit_test(test_gzip_members_and_zstd),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
