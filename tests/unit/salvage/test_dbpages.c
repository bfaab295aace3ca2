/* test_dbpages.c: tablespaces and relations rebuilt from a "disk" holding the pages of
 * files MariaDB and PostgreSQL wrote, cut into 4 KiB blocks, one page's blocks together
 * but the pages shuffled among noise, fed in chunks of any size, written to a file://
 * store, compared with the files the servers wrote. */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "lib/dbfixture.h"
#include "salvage/dbpage_innodb.h"
#include "salvage/dbpage_pg.h"
#include "salvage/dbpages.h"
#include "target/store.h"
#include "target/target.h"

enum { BLOCK = 4096, IBD_PAGE = 16384 };

static uint32_t next_random(uint32_t *seed)
{
	*seed ^= *seed << 13;
	*seed ^= *seed >> 17;
	*seed ^= *seed << 5;
	return *seed;
}

/* The disk: pieces (a page, or a block of noise) in shuffled order after 512 bytes of
 * noise, so that pages sit at 512-byte but not 4 KiB alignment. */
struct piece {
	const unsigned char *data;	/* NULL: noise */
	size_t size;
	uint64_t offset;		/* where write_disk put it */
};

struct disk {
	struct piece *pieces;
	size_t count, capacity;
	char dir[64];
	char path[128];
	int fd;
	uint64_t size;
};

static void add_piece(struct disk *disk, const unsigned char *data, size_t size)
{
	if (disk->count == disk->capacity) {
		disk->capacity = disk->capacity ? 2 * disk->capacity : 256;
		disk->pieces = realloc(disk->pieces, disk->capacity * sizeof *disk->pieces);
		assert_non_null(disk->pieces);
	}
	disk->pieces[disk->count++] = (struct piece){ data, size, 0 };
}

static int page_is_zero(const unsigned char *page, size_t size)
{
	for (size_t i = 0; i < size; i++)
		if (page[i])
			return 0;
	return 1;
}

/* Every page of FILE that is not all zeros, except pages [SKIP_FROM, SKIP_TO). */
static void add_pages(struct disk *disk, const unsigned char *file, size_t size,
    size_t page_size, size_t skip_from, size_t skip_to)
{
	for (size_t at = 0; at + page_size <= size; at += page_size)
		if (!page_is_zero(file + at, page_size)
		    && (at / page_size < skip_from || at / page_size >= skip_to))
			add_piece(disk, file + at, page_size);
}

static void write_disk(struct disk *disk, uint32_t seed, size_t noise_blocks)
{
	unsigned char noise[BLOCK];
	FILE *file;

	for (size_t i = 0; i < noise_blocks; i++)
		add_piece(disk, NULL, i % 3 ? BLOCK : 512 * (1 + i % 7));
	for (size_t i = disk->count; i > 1; i--) {
		size_t j = next_random(&seed) % i;
		struct piece swap = disk->pieces[i - 1];

		disk->pieces[i - 1] = disk->pieces[j];
		disk->pieces[j] = swap;
	}
	snprintf(disk->dir, sizeof disk->dir, "/tmp/rescue-dbpages-XXXXXX");
	assert_non_null(mkdtemp(disk->dir));
	snprintf(disk->path, sizeof disk->path, "%s/disk.img", disk->dir);
	file = fopen(disk->path, "w");
	assert_non_null(file);
	for (size_t i = 0; i < sizeof noise; i++)
		noise[i] = (unsigned char)(next_random(&seed) >> 24);
	assert_int_equal(fwrite(noise, 1, 512, file), 512);
	for (size_t i = 0; i < disk->count; i++) {
		const struct piece *piece = &disk->pieces[i];

		disk->pieces[i].offset = (uint64_t)ftell(file);
		if (piece->data == NULL)
			for (size_t b = 0; b < piece->size; b++)
				noise[b] = (unsigned char)(next_random(&seed) >> 24);
		assert_int_equal(fwrite(piece->data ? piece->data : noise, 1, piece->size, file),
		    piece->size);
	}
	disk->size = (uint64_t)ftell(file);
	assert_int_equal(fclose(file), 0);
	disk->fd = open(disk->path, O_RDONLY);
	assert_true(disk->fd >= 0);
}

static ssize_t read_disk(void *context, void *buffer, size_t size, uint64_t position)
{
	return pread(*(int *)context, buffer, size, (off_t)position);
}

static const struct piece *piece_of(const struct disk *disk, const unsigned char *data)
{
	for (size_t i = 0; i < disk->count; i++)
		if (disk->pieces[i].data == data)
			return &disk->pieces[i];
	fail_msg("no piece holds that page");
	return NULL;
}

static void remove_disk(struct disk *disk)
{
	char command[128];

	close(disk->fd);
	snprintf(command, sizeof command, "rm -rf '%s'", disk->dir);
	assert_int_equal(system(command), 0);
	free(disk->pieces);
}

/* The bytes [FROM, TO) of the disk fed in chunks of CHUNK bytes, or of sizes from 1 to
 * 70000 drawn from *SEED when CHUNK is 0. */
static void feed_range(struct disk *disk, struct dbpages *pages, uint64_t from, uint64_t to,
    size_t chunk, uint32_t *seed)
{
	enum { RANDOM_MAX = 70000 };
	unsigned char *buffer = malloc(chunk > RANDOM_MAX ? chunk : RANDOM_MAX);

	assert_non_null(buffer);
	for (uint64_t at = from; at < to;) {
		size_t want = chunk ? chunk : 1 + next_random(seed) % RANDOM_MAX;
		ssize_t got;

		if (want > to - at)
			want = (size_t)(to - at);
		got = read_disk(&disk->fd, buffer, want, at);
		assert_true(got > 0);
		assert_int_equal(dbpages_feed(pages, buffer, (size_t)got, at), 0);
		at += (uint64_t)got;
	}
	free(buffer);
}

/* RANGES (COUNT pairs of [from, to) offsets, in order) of the disk through dbpages, fed
 * in chunks of CHUNK bytes (0: random sizes), written to a file:// store in the disk's
 * folder; dbpages_write's result. */
static int rebuild_ranges(struct disk *disk, const uint64_t (*ranges)[2], size_t count,
    size_t chunk, struct dbpages_summary *summary)
{
	struct dbpages *pages = dbpages_open(DBPAGES_INNODB | DBPAGES_PG);
	struct target target;
	struct store *store;
	char url[128], why[512];
	int transient, result;
	uint32_t seed = 7;

	assert_non_null(pages);
	for (size_t i = 0; i < count; i++)
		feed_range(disk, pages, ranges[i][0], ranges[i][1], chunk, &seed);
	snprintf(url, sizeof url, "file://%s", disk->dir);
	assert_int_equal(target_parse(url, &target, why, sizeof why), 0);
	store = store_open(&target, "disk", why, sizeof why, &transient);
	assert_non_null(store);
	result = dbpages_write(pages, &(struct dbpages_output){ .read = read_disk,
	    .source = &disk->fd, .store = store, .prefix = "disk.db-", .give_up = 0 }, summary);
	store_close(store);
	dbpages_close(pages);
	return result;
}

/* The whole disk through dbpages in chunks of CHUNK bytes (0: random sizes). */
static int rebuild(struct disk *disk, size_t chunk, struct dbpages_summary *summary)
{
	const uint64_t whole[1][2] = { { 0, disk->size } };

	return rebuild_ranges(disk, whole, 1, chunk, summary);
}

static unsigned char *output_file(const struct disk *disk, const char *name, size_t *size)
{
	char path[256];
	FILE *file;
	unsigned char *data;
	long length;

	snprintf(path, sizeof path, "%s/disk.db-%s", disk->dir, name);
	file = fopen(path, "rb");
	if (file == NULL)
		fail_msg("%s was not written", path);
	assert_int_equal(fseek(file, 0, SEEK_END), 0);
	length = ftell(file);
	data = malloc(length > 0 ? (size_t)length + 1 : 1);
	assert_non_null(data);
	rewind(file);
	assert_int_equal(fread(data, 1, (size_t)length, file), (size_t)length);
	data[length] = '\0';
	fclose(file);
	*size = (size_t)length;
	return data;
}

/* Python's json module is the judge (python3 is a host package of the build). */
static void assert_json_valid(const struct disk *disk, const char *name)
{
	char command[512];

	snprintf(command, sizeof command, "python3 -c 'import json,sys; json.load(open(sys.argv[1]))' "
	    "'%s/disk.db-%s'", disk->dir, name);
	assert_int_equal(system(command), 0);
}

static uint32_t space_id_of(const unsigned char *file)
{
	struct innodb_page page;

	assert_int_equal(innodb_page_parse(file, IBD_PAGE, IBD_PAGE, &page), INNODB_PAGE);
	return page.space_id;
}

static void assert_same_file(const struct disk *disk, const char *name,
    const unsigned char *expected, size_t expected_size)
{
	size_t size;
	unsigned char *written = output_file(disk, name, &size);

	assert_int_equal(size, expected_size);
	assert_memory_equal(written, expected, size);
	free(written);
}

/* Two tablespaces (full_crc32 with an older copy of most pages, and crc32) and a
 * checksummed relation: each written back byte for byte equal to the server's file. */
static void check_whole_files(size_t chunk)
{
	size_t full_size, old_size, crc_size, rel_size, size;
	unsigned char *full = dbfixture_read("mariadb", "full.ibd", &full_size);
	unsigned char *old = dbfixture_read("mariadb", "full.v1.ibd", &old_size);
	unsigned char *crc = dbfixture_read("mariadb", "crc32.ibd", &crc_size);
	unsigned char *rel = dbfixture_read("pg", "checksummed.rel", &rel_size);
	struct disk disk = {0};
	struct dbpages_summary summary;
	char name[64], *report;

	if (full == NULL || old == NULL || crc == NULL || rel == NULL)
		skip();
	add_pages(&disk, full, full_size, IBD_PAGE, 0, 0);
	add_pages(&disk, old, old_size, IBD_PAGE, 0, 0);
	add_pages(&disk, crc, crc_size, IBD_PAGE, 0, 0);
	add_pages(&disk, rel, rel_size, PG_PAGE_SIZE, 0, 0);
	write_disk(&disk, 12345, 300);
	assert_int_equal(rebuild(&disk, chunk, &summary), 0);
	assert_int_equal(summary.tablespaces, 2);
	assert_int_equal(summary.relations, 1);
	assert_int_equal(summary.pages_missing, 0);
	assert_int_equal(summary.bad_checksums, 0);
	snprintf(name, sizeof name, "space-%u.ibd", space_id_of(full));
	assert_same_file(&disk, name, full, full_size);
	snprintf(name, sizeof name, "space-%u.ibd", space_id_of(crc));
	assert_same_file(&disk, name, crc, crc_size);
	assert_same_file(&disk, "pg-4atts", rel, rel_size);
	report = (char *)output_file(&disk, "report.json", &size);
	assert_non_null(strstr(report, "\"missing\": 0"));
	free(report);
	assert_json_valid(&disk, "report.json");
	report = (char *)output_file(&disk, "RESTORE.md", &size);
	assert_non_null(strstr(report, "IMPORT TABLESPACE"));
	assert_non_null(strstr(report, "pg_relation_filepath"));
	free(report);
	remove_disk(&disk);
	free(full);
	free(old);
	free(crc);
	free(rel);
}

static void test_whole_files_in_large_chunks(void **state)
{
	(void)state;
	check_whole_files(1 << 20);
}

/* Chunks smaller than a page and not aligned: pages are found across their edges. */
static void test_whole_files_in_odd_chunks(void **state)
{
	(void)state;
	check_whole_files(7000);
}

/* Chunks of random sizes from 1 byte to 70000. */
static void test_whole_files_in_random_chunks(void **state)
{
	(void)state;
	check_whole_files(0);
}

/* Only some ranges fed, as a scan of free space does: a page outside them, and one cut
 * by a range's end, are not found (never taken from bytes the scan did not give). */
static void test_only_the_ranges_fed(void **state)
{
	size_t full_size, size;
	unsigned char *full = dbfixture_read("mariadb", "full.ibd", &full_size), *written;
	struct disk disk = {0};
	struct dbpages_summary summary;
	const struct piece *skipped, *cut;
	char name[64], *report;

	(void)state;
	if (full == NULL)
		skip();
	add_pages(&disk, full, full_size, IBD_PAGE, 0, 0);
	write_disk(&disk, 8080, 30);
	skipped = piece_of(&disk, full + 10 * IBD_PAGE);
	cut = piece_of(&disk, full + 20 * IBD_PAGE);
	{
		/* The disk but page 10, and with a 4 KiB hole in the middle of page 20. */
		uint64_t a = skipped->offset, b = cut->offset;
		uint64_t first = a < b ? a : b, second = a < b ? b : a;
		uint64_t first_end = first == a ? a + IBD_PAGE : b + IBD_PAGE / 2;
		uint64_t second_end = second == a ? a + IBD_PAGE : b + IBD_PAGE / 2;
		const uint64_t ranges[3][2] = {
			{ 0, first }, { first_end + (first == b ? 4096 : 0), second },
			{ second_end + (second == b ? 4096 : 0), disk.size },
		};

		assert_int_equal(rebuild_ranges(&disk, ranges, 3, 0, &summary), 1);
	}
	assert_int_equal(summary.pages_missing, 2);
	snprintf(name, sizeof name, "space-%u.ibd", space_id_of(full));
	written = output_file(&disk, name, &size);
	assert_int_equal(size, full_size);
	assert_true(page_is_zero(written + 10 * IBD_PAGE, IBD_PAGE));
	assert_true(page_is_zero(written + 20 * IBD_PAGE, IBD_PAGE));
	assert_memory_equal(written, full, 10 * IBD_PAGE);
	free(written);
	report = (char *)output_file(&disk, "report.txt", &size);
	assert_non_null(strstr(report, "missing 2: 10,20"));
	free(report);
	remove_disk(&disk);
	free(full);
}

/* Pages lost from the disk are zeros in the file, named in the report, and make the
 * result "finished with losses"; a damaged copy of a page is counted, never used. */
static void test_missing_and_damaged_pages(void **state)
{
	size_t full_size, rel_size, size;
	unsigned char *full = dbfixture_read("mariadb", "full.ibd", &full_size);
	unsigned char *rel = dbfixture_read("pg", "checksummed.rel", &rel_size);
	unsigned char *damaged, *written;
	struct disk disk = {0};
	struct dbpages_summary summary;
	char name[64], *report;

	(void)state;
	if (full == NULL || rel == NULL)
		skip();
	add_pages(&disk, full, full_size, IBD_PAGE, 7, 9);
	add_pages(&disk, rel, rel_size, PG_PAGE_SIZE, 20, 21);
	damaged = malloc(IBD_PAGE);
	assert_non_null(damaged);
	memcpy(damaged, full + 7 * IBD_PAGE, IBD_PAGE);
	damaged[1000] ^= 0x40;
	add_piece(&disk, damaged, IBD_PAGE);
	write_disk(&disk, 777, 50);
	assert_int_equal(rebuild(&disk, 65536, &summary), 1);
	assert_int_equal(summary.bad_checksums, 1);
	snprintf(name, sizeof name, "space-%u.ibd", space_id_of(full));
	written = output_file(&disk, name, &size);
	assert_int_equal(size, full_size);
	assert_memory_equal(written, full, 7 * IBD_PAGE);
	assert_true(page_is_zero(written + 7 * IBD_PAGE, 2 * IBD_PAGE));
	assert_memory_equal(written + 9 * IBD_PAGE, full + 9 * IBD_PAGE,
	    full_size - 9 * IBD_PAGE);
	free(written);
	written = output_file(&disk, "pg-4atts", &size);
	assert_int_equal(size, rel_size);
	assert_true(page_is_zero(written + 20 * PG_PAGE_SIZE, PG_PAGE_SIZE));
	free(written);
	report = (char *)output_file(&disk, "report.txt", &size);
	assert_non_null(strstr(report, "missing 2: 7-8"));
	assert_non_null(strstr(report, "missing 1: 20"));
	assert_non_null(strstr(report, "wrong checksum 1"));
	free(report);
	remove_disk(&disk);
	free(damaged);
	free(full);
	free(rel);
}

/* The pages of FILE that are not zeros are in WRITTEN at the same place, and WRITTEN is as
 * long as FILE. */
static void assert_pages_of(const unsigned char *file, size_t file_size,
    const unsigned char *written, size_t size)
{
	assert_int_equal(size, file_size);
	for (size_t at = 0; at + IBD_PAGE <= size; at += IBD_PAGE)
		if (!page_is_zero(file + at, IBD_PAGE) && memcmp(written + at, file + at, IBD_PAGE))
			fail_msg("page %zu differs from the original's", at / IBD_PAGE);
}

/* Page 1 (the change buffer bitmap) is written when a tablespace is created and not
 * again, so both servers' copies lie below both tablespaces' LSN ranges, a hundred or so
 * apart in either order: no LSN rule can tell them apart, and which one each file gets
 * is a guess (1 run in 6 of make-fixtures made the guess wrong). It does not matter:
 * the copies differ only in their LSN and checksum. So each file must get one of the two
 * copies, not the same one, valid, and with the content both share. */
static void assert_page_1_one_each(const unsigned char *ours, const unsigned char *other,
    const unsigned char *first, const unsigned char *second)
{
	enum { CONTENT = 38, TRAILER = 8 };
	const unsigned char *a = ours + IBD_PAGE, *b = other + IBD_PAGE;
	const unsigned char *x = first + IBD_PAGE, *y = second + IBD_PAGE;
	struct innodb_page page;

	assert_memory_equal(a + CONTENT, b + CONTENT, IBD_PAGE - CONTENT - TRAILER);
	assert_true((memcmp(x, a, IBD_PAGE) == 0 && memcmp(y, b, IBD_PAGE) == 0)
	    || (memcmp(x, b, IBD_PAGE) == 0 && memcmp(y, a, IBD_PAGE) == 0));
	assert_int_equal(innodb_page_parse(x, IBD_PAGE, IBD_PAGE, &page), INNODB_PAGE);
	assert_int_equal(page.page_number, 1);
}

/* Another server's tablespace with the same space id, some of its index pages newer
 * than ours, its LSNs inside our range: both are written, each from its own pages (index
 * pages by their index ids, pages 0 and 2 by LSN, page 1 one copy each), each equal to
 * the file its server wrote, and the report names both. */
static void test_two_tablespaces_with_one_space_id(void **state)
{
	size_t ours_size, other_size, size, first_size, second_size;
	unsigned char *ours = dbfixture_read("mariadb", "full.v1.ibd", &ours_size);
	unsigned char *other = dbfixture_read("mariadb", "other.ibd", &other_size);
	unsigned char *first, *second;
	struct disk disk = {0};
	struct dbpages_summary summary;
	struct innodb_page page, theirs;
	char name[64], *report;
	int newer = 0;

	(void)state;
	if (ours == NULL || other == NULL)
		skip();
	assert_int_equal(space_id_of(ours), space_id_of(other));
	for (size_t at = 0; at + IBD_PAGE <= other_size; at += IBD_PAGE)
		newer |= innodb_page_parse(other + at, IBD_PAGE, IBD_PAGE, &theirs) == INNODB_PAGE
		    && theirs.index_id != 0
		    && innodb_page_parse(ours + at, IBD_PAGE, IBD_PAGE, &page) == INNODB_PAGE
		    && theirs.lsn > page.lsn;
	assert_true(newer);	/* else this test would not test the choice */
	add_pages(&disk, ours, ours_size, IBD_PAGE, 0, 0);
	add_pages(&disk, other, other_size, IBD_PAGE, 0, 0);
	write_disk(&disk, 31337, 100);
	assert_int_equal(rebuild(&disk, 1 << 20, &summary), 0);
	assert_int_equal(summary.tablespaces, 2);
	/* The newest index page is ours: ours keeps the plain name. */
	snprintf(name, sizeof name, "space-%u.ibd", space_id_of(ours));
	first = output_file(&disk, name, &first_size);
	snprintf(name, sizeof name, "space-%u-2.ibd", space_id_of(ours));
	second = output_file(&disk, name, &second_size);
	assert_true(first_size >= 2 * IBD_PAGE && second_size >= 2 * IBD_PAGE);
	assert_page_1_one_each(ours, other, first, second);
	memcpy(first + IBD_PAGE, ours + IBD_PAGE, IBD_PAGE);
	memcpy(second + IBD_PAGE, other + IBD_PAGE, IBD_PAGE);
	assert_pages_of(ours, ours_size, first, first_size);
	assert_pages_of(other, other_size, second, second_size);
	report = (char *)output_file(&disk, "report.txt", &size);
	snprintf(name, sizeof name, "space id %u is claimed by 2 tablespaces", space_id_of(ours));
	assert_non_null(strstr(report, name));
	assert_non_null(strstr(report, "this is number 2"));
	assert_null(strstr(report, "of another tablespace with space id"));
	free(report);
	assert_json_valid(&disk, "report.json");
	free(first);
	free(second);
	remove_disk(&disk);
	free(ours);
	free(other);
}

/* Two relations of the same shape (two tables of 4 attributes in one cluster, filled by
 * their own transactions) meet at blocks 0-20: told apart by their tuples' transaction
 * ids, each is written to a file of its own, equal to the one PostgreSQL wrote. */
static void check_two_relations(const char *main_name, const char *sibling_name)
{
	size_t a_size, b_size, first_size, second_size;
	unsigned char *a = dbfixture_read("pg", main_name, &a_size);
	unsigned char *b = dbfixture_read("pg", sibling_name, &b_size);
	unsigned char *first, *second;
	struct disk disk = {0};
	struct dbpages_summary summary;

	if (a == NULL || b == NULL)
		skip();
	assert_true(b_size < a_size);
	add_pages(&disk, a, a_size, PG_PAGE_SIZE, 0, 0);
	add_pages(&disk, b, b_size, PG_PAGE_SIZE, 0, 0);
	write_disk(&disk, 2024, 20);
	assert_int_equal(rebuild(&disk, 1 << 20, &summary), 0);
	assert_int_equal(summary.relations, 2);
	first = output_file(&disk, "pg-4atts", &first_size);
	second = output_file(&disk, "pg-4atts-2", &second_size);
	if (first_size == b_size) {	/* which one is first depends on the LSNs */
		assert_memory_equal(first, b, b_size);
		assert_int_equal(second_size, a_size);
		assert_memory_equal(second, a, a_size);
	} else {
		assert_int_equal(first_size, a_size);
		assert_memory_equal(first, a, a_size);
		assert_int_equal(second_size, b_size);
		assert_memory_equal(second, b, b_size);
	}
	free(first);
	free(second);
	remove_disk(&disk);
	free(a);
	free(b);
}

static void test_two_relations_of_one_shape(void **state)
{
	(void)state;
	check_two_relations("checksummed.rel", "checksummed.sibling.rel");
}

static void test_two_relations_of_one_shape_without_checksums(void **state)
{
	(void)state;
	check_two_relations("plain.rel", "plain.sibling.rel");
}

/* The system tablespace's pages on the disk too: its SYS_TABLES records name the file,
 * and its doublewrite buffer is not reported missing. */
static void test_tablespace_named_from_sys_tables(void **state)
{
	size_t full_size, system_size;
	unsigned char *full = dbfixture_read("mariadb", "full.ibd", &full_size);
	unsigned char *system = dbfixture_read("mariadb", "ibdata1", &system_size);
	struct disk disk = {0};
	struct dbpages_summary summary;
	char *report;
	size_t size;

	(void)state;
	if (full == NULL || system == NULL)
		skip();
	add_pages(&disk, full, full_size, IBD_PAGE, 0, 0);
	add_pages(&disk, system, system_size, IBD_PAGE, 0, 0);
	write_disk(&disk, 5150, 40);
	assert_true(rebuild(&disk, 1 << 20, &summary) >= 0);
	assert_same_file(&disk, "fix.full.ibd", full, full_size);
	report = (char *)output_file(&disk, "report.json", &size);
	assert_non_null(strstr(report, "\"table\":\"fix/full\""));
	free(report);
	/* Space 0's doublewrite pages hold other pages: not counted missing. */
	report = (char *)output_file(&disk, "report.txt", &size);
	assert_non_null(strstr(report, "doublewrite buffer (copies of other pages, nothing lost) 128"));
	free(report);
	assert_json_valid(&disk, "report.json");
	remove_disk(&disk);
	free(full);
	free(system);
}

/* A copy of the first full_crc32 compressed page of FILE shorter than 4 KiB with a byte of
 * its payload changed, followed by zeros to 64 KiB, as a damaged page in zeroed free space
 * looks: its CRC is wrong at every page size it is looked at with, one damaged page. */
static unsigned char *damaged_compressed_copy(const unsigned char *file, size_t size)
{
	unsigned char *copy = calloc(1, 65536);

	assert_non_null(copy);
	for (size_t at = 0; at < size; at += IBD_PAGE) {
		unsigned type = (unsigned)file[at + 24] << 8 | file[at + 25];

		if ((type & 0x8000) && (type & 0x7fff) << 8 < 4096) {
			memcpy(copy, file + at, IBD_PAGE);
			copy[100] ^= 0x20;
			return copy;
		}
	}
	fail_msg("no compressed page shorter than 4 KiB");
	return NULL;
}

/* The two page-compressed tablespaces (and DAMAGED, a 64 KiB piece, when not NULL) among
 * noise in the order SEED gives: written back byte for byte as MariaDB wrote them
 * (compressed pages are not decompressed), their compressed pages counted in the
 * reports; EXPECTED_BAD pages counted with wrong checksums. */
static void check_compressed_disk(const unsigned char *comp, size_t comp_size,
    const unsigned char *old, size_t old_size, const unsigned char *damaged, uint32_t seed,
    uint64_t expected_bad)
{
	size_t size, compressed = 0;
	struct disk disk = {0};
	struct dbpages_summary summary;
	char name[64], line[128], *report;

	for (size_t at = 0; at < comp_size; at += IBD_PAGE)
		compressed += (comp[at + 24] & 0x80) != 0;
	assert_true(compressed > 50);
	add_pages(&disk, comp, comp_size, IBD_PAGE, 0, 0);
	add_pages(&disk, old, old_size, IBD_PAGE, 0, 0);
	if (damaged != NULL)
		add_piece(&disk, damaged, 65536);
	write_disk(&disk, seed, 100);
	assert_int_equal(rebuild(&disk, 1 << 20, &summary), 0);
	assert_int_equal(summary.tablespaces, 2);
	assert_int_equal(summary.pages_missing, 0);
	assert_int_equal(summary.bad_checksums, expected_bad);
	snprintf(name, sizeof name, "space-%u.ibd", space_id_of(comp));
	assert_same_file(&disk, name, comp, comp_size);
	snprintf(name, sizeof name, "space-%u.ibd", space_id_of(old));
	assert_same_file(&disk, name, old, old_size);
	report = (char *)output_file(&disk, "report.txt", &size);
	snprintf(line, sizeof line, "page-compressed (kept as they are, MariaDB reads them) %zu\n",
	    compressed);
	assert_non_null(strstr(report, line));
	free(report);
	report = (char *)output_file(&disk, "report.json", &size);
	snprintf(line, sizeof line, "\"compressed\": %zu", compressed);
	assert_non_null(strstr(report, line));
	free(report);
	assert_json_valid(&disk, "report.json");
	remove_disk(&disk);
}

/* PAGE_COMPRESSED=1 tablespaces in both formats, in several shuffled orders: no page is
 * counted damaged. Noise or a page's payload whose type bytes claim a compressed length
 * ending in the zeros after another compressed page once counted as one, a few in every
 * order, so one order proves little. Then a really damaged page: counted once. */
static void test_page_compressed_tablespaces(void **state)
{
	size_t comp_size, old_size;
	unsigned char *comp = dbfixture_read("mariadb", "compressed.ibd", &comp_size);
	unsigned char *old = dbfixture_read("mariadb", "comp_crc32.ibd", &old_size);
	unsigned char *damaged;
	const uint32_t seeds[] = {4242, 1, 77, 31337, 9001, 123456};

	(void)state;
	if (comp == NULL || old == NULL)
		skip();
	for (size_t i = 0; i < sizeof seeds / sizeof seeds[0]; i++)
		check_compressed_disk(comp, comp_size, old, old_size, NULL, seeds[i], 0);
	damaged = damaged_compressed_copy(comp, comp_size);
	check_compressed_disk(comp, comp_size, old, old_size, damaged, 4242, 1);
	free(damaged);
	free(comp);
	free(old);
}

/* The first full_crc32 compressed page of FILE whose compressed length needs a second
 * 4 KiB block (and does not fill it), as an offset. */
static size_t two_block_page(const unsigned char *file, size_t size)
{
	for (size_t at = 0; at < size; at += IBD_PAGE) {
		unsigned type = (unsigned)file[at + 24] << 8 | file[at + 25];
		size_t length = (size_t)(type & 0x7fff) << 8;

		if ((type & 0x8000) && length > BLOCK && length < 2 * BLOCK)
			return at;
	}
	fail_msg("no compressed page longer than 4 KiB");
	return 0;
}

/* The tablespace as MariaDB wrote it, but one compressed page's second 4 KiB block is
 * elsewhere (after the file, among noise; where it was, noise), as ext4 leaves a page
 * rewritten longer behind a punched hole; WITH_TAIL 0 leaves that block out. */
static void write_split_disk(struct disk *disk, const unsigned char *file, size_t size,
    int with_tail)
{
	size_t page = two_block_page(file, size);
	unsigned char *bytes = calloc(1, size + 5 * BLOCK);
	uint32_t seed = 99;
	FILE *out;

	assert_non_null(bytes);
	memcpy(bytes, file, size);
	for (size_t i = page + BLOCK; i < page + IBD_PAGE; i++)
		bytes[i] = (unsigned char)(next_random(&seed) >> 24);
	for (size_t i = size; i < size + 5 * BLOCK; i++)
		bytes[i] = (unsigned char)(next_random(&seed) >> 24);
	if (with_tail) {
		size_t length = (size_t)((file[page + 24] << 8 | file[page + 25]) & 0x7fff) << 8;

		memset(bytes + size + 2 * BLOCK, 0, BLOCK);
		memcpy(bytes + size + 2 * BLOCK, file + page + BLOCK, length - BLOCK);
	}
	snprintf(disk->dir, sizeof disk->dir, "/tmp/rescue-dbpages-XXXXXX");
	assert_non_null(mkdtemp(disk->dir));
	snprintf(disk->path, sizeof disk->path, "%s/disk.img", disk->dir);
	out = fopen(disk->path, "w");
	assert_non_null(out);
	assert_int_equal(fwrite(bytes, 1, size + 5 * BLOCK, out), size + 5 * BLOCK);
	assert_int_equal(fclose(out), 0);
	disk->size = size + 5 * BLOCK;
	disk->fd = open(disk->path, O_RDONLY);
	assert_true(disk->fd >= 0);
	free(bytes);
}

/* A page-compressed page split on the disk is put back together from its two places:
 * the tablespace written byte for byte, the join named in the report, nothing counted
 * damaged. Without its second block the page is missing and its first counted damaged. */
static void test_split_compressed_page_joined(void **state)
{
	size_t comp_size, size;
	unsigned char *comp = dbfixture_read("mariadb", "compressed.ibd", &comp_size);
	struct disk disk = {0};
	struct dbpages_summary summary;
	char name[64], *report;

	(void)state;
	if (comp == NULL)
		skip();
	snprintf(name, sizeof name, "space-%u.ibd", space_id_of(comp));
	write_split_disk(&disk, comp, comp_size, 1);
	assert_int_equal(rebuild(&disk, 1 << 20, &summary), 0);
	assert_int_equal(summary.pages_missing, 0);
	assert_int_equal(summary.bad_checksums, 0);
	assert_same_file(&disk, name, comp, comp_size);
	report = (char *)output_file(&disk, "report.txt", &size);
	assert_non_null(strstr(report, "of them split on the disk and put back together 1\n"));
	free(report);
	report = (char *)output_file(&disk, "report.json", &size);
	assert_non_null(strstr(report, "\"joined\": 1"));
	free(report);
	assert_json_valid(&disk, "report.json");
	remove_disk(&disk);

	memset(&disk, 0, sizeof disk);
	write_split_disk(&disk, comp, comp_size, 0);
	assert_int_equal(rebuild(&disk, 1 << 20, &summary), 1);
	assert_int_equal(summary.pages_missing, 1);
	assert_int_equal(summary.bad_checksums, 1);
	remove_disk(&disk);
	free(comp);
}

/* Page-compressed pages at the end of a free extent, the blocks after them in use by
 * another file (not scanned): a page of one block whose 16 KiB reach past the extent,
 * and the head of a split page, are found all the same (MariaDB needs only the
 * compressed bytes; the rest of the page was a hole and is written as zeros). */
static void test_compressed_pages_at_extent_ends(void **state)
{
	size_t comp_size, small = 0, split;
	unsigned char *comp = dbfixture_read("mariadb", "compressed.ibd", &comp_size);
	struct disk disk = {0};
	struct dbpages_summary summary;
	uint64_t ranges[3][2];
	char name[64];

	(void)state;
	if (comp == NULL)
		skip();
	write_split_disk(&disk, comp, comp_size, 1);
	split = two_block_page(comp, comp_size);
	for (size_t at = 3 * IBD_PAGE; at < split && small == 0; at += IBD_PAGE) {
		unsigned type = (unsigned)comp[at + 24] << 8 | comp[at + 25];

		if ((type & 0x8000) && (size_t)(type & 0x7fff) << 8 <= BLOCK)
			small = at;
	}
	if (small == 0)
		fail_msg("no one-block compressed page before the split one");
	ranges[0][0] = 0;
	ranges[0][1] = small + BLOCK;
	ranges[1][0] = small + IBD_PAGE;
	ranges[1][1] = split + BLOCK;
	ranges[2][0] = split + IBD_PAGE;
	ranges[2][1] = disk.size;
	assert_int_equal(rebuild_ranges(&disk, (const uint64_t (*)[2])ranges, 3, 1 << 20,
	    &summary), 0);
	assert_int_equal(summary.pages_missing, 0);
	assert_int_equal(summary.bad_checksums, 0);
	snprintf(name, sizeof name, "space-%u.ibd", space_id_of(comp));
	assert_same_file(&disk, name, comp, comp_size);
	remove_disk(&disk);
	free(comp);
}

/* Without data checksums the blocks are placed by their tuples' t_ctid alone. */
static void test_relation_without_checksums(void **state)
{
	size_t rel_size;
	unsigned char *rel = dbfixture_read("pg", "plain.rel", &rel_size);
	struct disk disk = {0};
	struct dbpages_summary summary;

	(void)state;
	if (rel == NULL)
		skip();
	add_pages(&disk, rel, rel_size, PG_PAGE_SIZE, 0, 0);
	write_disk(&disk, 4242, 100);
	assert_int_equal(rebuild(&disk, 1 << 20, &summary), 0);
	assert_int_equal(summary.relations, 1);
	assert_same_file(&disk, "pg-4atts", rel, rel_size);
	remove_disk(&disk);
	free(rel);
}

/* The disk fed up to CUT1, the index saved whole (record A), fed on to CUT2, what is new
 * saved and appended (record B), as carve --db keeps NAME.db.index at two checkpoints;
 * then loaded at CUT2 and fed the rest, it writes the same files as one scan of
 * everything. Both cuts fall inside a page (the carried bytes are kept too). An index cut
 * short in its last record loads at the record before it, not at the last; a record
 * appended that does not follow (the whole index appended again), or damaged, is
 * refused. The second cut falls inside a btree index: its pages found before the cut come
 * back with the index. */
static void test_index_kept_and_loaded(void **state)
{
	size_t full_size, rel_size, pkey_size, a_size, b_size, whole_size;
	unsigned char *full = dbfixture_read("mariadb", "full.ibd", &full_size);
	unsigned char *rel = dbfixture_read("pg", "checksummed.rel", &rel_size);
	unsigned char *pkey = dbfixture_read("pg", "checksummed.pkey.idx", &pkey_size);
	struct dbpages *before, *after;
	struct dbpages_saved saved = { 0 }, none = { 0 };
	struct disk disk = {0};
	struct dbpages_summary summary;
	struct target target;
	struct store *store;
	char url[128], why[512], name[64];
	unsigned char *a, *b, *whole, *file;
	uint64_t cut1, cut2;
	uint32_t seed = 3;
	int transient;

	(void)state;
	if (full == NULL || rel == NULL || pkey == NULL)
		skip();
	add_pages(&disk, full, full_size, IBD_PAGE, 0, 0);
	add_pages(&disk, rel, rel_size, PG_PAGE_SIZE, 0, 0);
	add_pages(&disk, pkey, pkey_size, PG_PAGE_SIZE, 0, 0);
	write_disk(&disk, 2718, 80);
	cut1 = piece_of(&disk, full + 5 * IBD_PAGE)->offset + 1000;
	cut2 = piece_of(&disk, pkey + 7 * PG_PAGE_SIZE)->offset + 3000;
	if (cut2 < cut1) {
		uint64_t swap = cut1;

		cut1 = cut2;
		cut2 = swap;
	}
	before = dbpages_open(DBPAGES_INNODB | DBPAGES_PG);
	assert_non_null(before);
	feed_range(&disk, before, 0, cut1, 0, &seed);
	a = dbpages_save(before, cut1, &saved, &a_size);
	assert_non_null(a);
	dbpages_mark_saved(before, &saved, a_size);
	assert_int_equal(saved.bytes, a_size);
	feed_range(&disk, before, cut1, cut2, 0, &seed);
	assert_true(dbpages_found(before) > saved.entries);	/* B holds new pages */
	b = dbpages_save(before, cut2, &saved, &b_size);
	whole = dbpages_save(before, cut2, &none, &whole_size);
	assert_non_null(b);
	assert_non_null(whole);
	assert_true(b_size < whole_size);
	dbpages_close(before);
	file = malloc(a_size + whole_size);
	assert_non_null(file);
	memcpy(file, a, a_size);
	memcpy(file + a_size, b, b_size);

	/* Cut short in B: A still loads, B does not. */
	after = dbpages_open(DBPAGES_INNODB | DBPAGES_PG);
	assert_int_equal(dbpages_load(after, file, a_size + b_size - 1, cut2), -1);
	dbpages_close(after);
	after = dbpages_open(DBPAGES_INNODB | DBPAGES_PG);
	assert_int_equal(dbpages_load(after, file, a_size + b_size - 1, cut1), 0);
	dbpages_close(after);
	/* A byte of B changed, or A's first: refused. */
	file[a_size + b_size - 7] ^= 1;
	after = dbpages_open(DBPAGES_INNODB | DBPAGES_PG);
	assert_int_equal(dbpages_load(after, file, a_size + b_size, cut2), -1);
	dbpages_close(after);
	file[a_size + b_size - 7] ^= 1;
	file[0] ^= 1;
	after = dbpages_open(DBPAGES_INNODB | DBPAGES_PG);
	assert_int_equal(dbpages_load(after, file, a_size + b_size, cut1), -1);
	dbpages_close(after);
	file[0] ^= 1;
	/* The whole index appended after A does not follow it. */
	memcpy(file + a_size, whole, whole_size);
	after = dbpages_open(DBPAGES_INNODB | DBPAGES_PG);
	assert_int_equal(dbpages_load(after, file, a_size + whole_size, cut2), -1);
	dbpages_close(after);
	memcpy(file + a_size, b, b_size);

	after = dbpages_open(DBPAGES_INNODB | DBPAGES_PG);
	assert_non_null(after);
	assert_int_equal(dbpages_load(after, file, a_size + b_size, cut2), 0);
	feed_range(&disk, after, cut2, disk.size, 0, &seed);
	snprintf(url, sizeof url, "file://%s", disk.dir);
	assert_int_equal(target_parse(url, &target, why, sizeof why), 0);
	store = store_open(&target, "disk", why, sizeof why, &transient);
	assert_non_null(store);
	assert_int_equal(dbpages_write(after, &(struct dbpages_output){ .read = read_disk,
	    .source = &disk.fd, .store = store, .prefix = "disk.db-" }, &summary), 0);
	store_close(store);
	dbpages_close(after);
	snprintf(name, sizeof name, "space-%u.ibd", space_id_of(full));
	assert_same_file(&disk, name, full, full_size);
	assert_same_file(&disk, "pg-4atts", rel, rel_size);
	assert_same_file(&disk, "pg-btree", pkey, pkey_size);	/* btree entries kept too */
	remove_disk(&disk);
	free(file);
	free(whole);
	free(b);
	free(a);
	free(full);
	free(rel);
	free(pkey);
}

/* SIZE bytes of DATA after the disk's end: a page the disk's end cuts. */
static void append_to_disk(struct disk *disk, const unsigned char *data, size_t size)
{
	int fd = open(disk->path, O_WRONLY | O_APPEND);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, size), (ssize_t)size);
	assert_int_equal(close(fd), 0);
	disk->size += size;
}

/* A copy of one of the 8 KiB pages of FILE with a byte of its tuples changed, such that
 * the checksum refuses it (a few in a thousand such pages pass by chance: the first one
 * refused is taken). */
static unsigned char *pg_page_with_wrong_checksum(const unsigned char *file, size_t size)
{
	unsigned char *copy = malloc(PG_PAGE_SIZE);
	struct pg_page page;

	assert_non_null(copy);
	for (size_t at = 0; at + PG_PAGE_SIZE <= size; at += PG_PAGE_SIZE) {
		memcpy(copy, file + at, PG_PAGE_SIZE);
		copy[PG_PAGE_SIZE - 100] ^= 0x01;
		if (pg_page_parse(copy, PG_PAGE_SIZE, &page) == PG_BAD_CHECKSUM)
			return copy;
	}
	fail_msg("no page of the relation is refused with a changed byte");
	return NULL;
}

/* Bad input, each case named in the report: a run of three pages zero-filled and a page
 * cut by the disk's end (missing, listed by number), an InnoDB and a PostgreSQL page with
 * a valid header and a wrong checksum (counted, never used: the good copy of the InnoDB
 * page is written), a PostgreSQL page with a line pointer past its end (counted, never
 * used). No zero page is taken for a page of space 0. */
static void test_bad_input_named_in_the_report(void **state)
{
	static const unsigned char zeros[3 * IBD_PAGE];
	size_t full_size, plain_size, rel_size, size;
	unsigned char *full = dbfixture_read("mariadb", "full.ibd", &full_size);
	unsigned char *plain = dbfixture_read("pg", "plain.rel", &plain_size);
	unsigned char *rel = dbfixture_read("pg", "checksummed.rel", &rel_size);
	unsigned char *innodb_bad, *pg_bad = NULL, *written;
	struct disk disk = {0};
	struct dbpages_summary summary;
	struct pg_page page;
	char name[64], *report;

	(void)state;
	if (full == NULL || plain == NULL || rel == NULL)
		skip();
	add_pages(&disk, full, 30 * IBD_PAGE, IBD_PAGE, 7, 10);
	add_pages(&disk, full + 31 * IBD_PAGE, full_size - 31 * IBD_PAGE, IBD_PAGE, 0, 0);
	add_piece(&disk, zeros, sizeof zeros);
	innodb_bad = malloc(IBD_PAGE);
	assert_non_null(innodb_bad);
	memcpy(innodb_bad, full + 12 * IBD_PAGE, IBD_PAGE);
	innodb_bad[2000] ^= 0x10;
	add_piece(&disk, innodb_bad, IBD_PAGE);
	pg_bad = pg_page_with_wrong_checksum(rel, rel_size);
	add_piece(&disk, pg_bad, PG_PAGE_SIZE);
	plain[24 + 3] = 0xff;	/* the first line pointer's length: about 32 KiB */
	plain[24 + 2] |= 0xfe;
	assert_int_equal(pg_page_parse(plain, PG_PAGE_SIZE, &page), PG_BAD_LINE_POINTER);
	add_piece(&disk, plain, PG_PAGE_SIZE);
	write_disk(&disk, 4711, 60);
	append_to_disk(&disk, full + 30 * IBD_PAGE, IBD_PAGE / 2);

	assert_int_equal(rebuild(&disk, 0, &summary), 1);
	assert_int_equal(summary.tablespaces, 1);
	assert_int_equal(summary.relations, 0);
	assert_int_equal(summary.pages_missing, 4);
	assert_int_equal(summary.bad_checksums, 2);
	snprintf(name, sizeof name, "space-%u.ibd", space_id_of(full));
	written = output_file(&disk, name, &size);
	assert_int_equal(size, full_size);
	assert_memory_equal(written, full, 7 * IBD_PAGE);
	assert_true(page_is_zero(written + 7 * IBD_PAGE, 3 * IBD_PAGE));
	assert_memory_equal(written + 10 * IBD_PAGE, full + 10 * IBD_PAGE, 20 * IBD_PAGE);
	assert_true(page_is_zero(written + 30 * IBD_PAGE, IBD_PAGE));
	assert_memory_equal(written + 31 * IBD_PAGE, full + 31 * IBD_PAGE,
	    full_size - 31 * IBD_PAGE);
	free(written);
	report = (char *)output_file(&disk, "report.txt", &size);
	assert_non_null(strstr(report, "missing 4: 7-9,30"));
	assert_non_null(strstr(report, "wrong checksum 1"));	/* the InnoDB file's line */
	assert_non_null(strstr(report, "4 missing, 2 with a wrong checksum"));
	assert_non_null(strstr(report, "1 pages with a valid header and a line pointer past the "
	    "end of the page: damaged, never used"));
	free(report);
	report = (char *)output_file(&disk, "report.json", &size);
	assert_non_null(strstr(report, "\"pg_bad_line_pointers\": 1"));
	free(report);
	assert_json_valid(&disk, "report.json");
	remove_disk(&disk);
	free(innodb_bad);
	free(pg_bad);
	free(full);
	free(plain);
	free(rel);
}

/* A relation alone with a block lost: named missing, never "never used" (that is asked
 * of an InnoDB page 0 only), and the result says pages are missing. */
static void test_relation_block_missing(void **state)
{
	size_t rel_size, size;
	unsigned char *rel = dbfixture_read("pg", "plain.rel", &rel_size);
	struct disk disk = {0};
	struct dbpages_summary summary;
	char *report;

	(void)state;
	if (rel == NULL)
		skip();
	add_pages(&disk, rel, rel_size, PG_PAGE_SIZE, 5, 6);
	write_disk(&disk, 1234, 30);
	assert_int_equal(rebuild(&disk, 1 << 20, &summary), 1);
	assert_int_equal(summary.pages_missing, 1);
	report = (char *)output_file(&disk, "report.txt", &size);
	assert_non_null(strstr(report, "missing 1: 5"));
	assert_null(strstr(report, "never used"));
	free(report);
	remove_disk(&disk);
	free(rel);
}

/* A fixture's one number (NAME.toasted.values, .toastrelid). */
static unsigned long fixture_number(const char *name)
{
	size_t size;
	char *text = (char *)dbfixture_read("pg", name, &size);
	unsigned long value;

	assert_non_null(text);
	value = strtoul(text, NULL, 10);
	free(text);
	return value;
}

/* The report's line for the heap relation's toasted values, as a user reads it. */
static void assert_toasted_line(const struct disk *disk, unsigned long values,
    unsigned long relid, unsigned long complete, unsigned long partial, unsigned long missing)
{
	char line[256], *report;
	size_t size;

	snprintf(line, sizeof line, "toasted values %lu in disk.db-pg-toast (TOAST relation OID "
	    "%lu): complete %lu, partial %lu, missing %lu\n", values, relid, complete, partial,
	    missing);
	report = (char *)output_file(disk, "report.txt", &size);
	if (strstr(report, line) == NULL)
		fail_msg("no \"%s\" in:\n%s", line, report);
	free(report);
}

/* A table of 3 columns (the shape of a TOAST chunk) with values the server TOASTed, and
 * its TOAST relation, among noise: both written back byte for byte, told apart (pg-3atts
 * and pg-toast), linked by the value ids, every value complete; RESTORE.md gives the
 * binary-upgrade commands with the TOAST relation's OID. */
static void test_toast_relation_linked(void **state)
{
	size_t heap_size, toast_size, size;
	unsigned char *heap = dbfixture_read("pg", "checksummed.toasted.rel", &heap_size);
	unsigned char *toast = dbfixture_read("pg", "checksummed.toasted.toast.rel", &toast_size);
	unsigned long values, relid;
	struct disk disk = {0};
	struct dbpages_summary summary;
	char expected[128], *text;

	(void)state;
	if (heap == NULL || toast == NULL)
		skip();
	values = fixture_number("checksummed.toasted.values");
	relid = fixture_number("checksummed.toasted.toastrelid");
	add_pages(&disk, heap, heap_size, PG_PAGE_SIZE, 0, 0);
	add_pages(&disk, toast, toast_size, PG_PAGE_SIZE, 0, 0);
	write_disk(&disk, 2718, 100);
	assert_int_equal(rebuild(&disk, 0, &summary), 0);
	assert_int_equal(summary.relations, 2);
	assert_same_file(&disk, "pg-3atts", heap, heap_size);
	assert_same_file(&disk, "pg-toast", toast, toast_size);
	assert_toasted_line(&disk, values, relid, values, 0, 0);
	text = (char *)output_file(&disk, "report.txt", &size);
	snprintf(expected, sizeof expected, "TOAST relation: %lu values in ", values);
	assert_non_null(strstr(text, expected));
	assert_null(strstr(text, "chunks found twice"));
	free(text);
	assert_json_valid(&disk, "report.json");
	text = (char *)output_file(&disk, "report.json", &size);
	snprintf(expected, sizeof expected, "\"toast_relation_oid\": %lu, \"values\": %lu, "
	    "\"complete\": %lu, \"partial\": 0, \"missing\": 0", relid, values, values);
	assert_non_null(strstr(text, expected));
	free(text);
	text = (char *)output_file(&disk, "RESTORE.md", &size);
	snprintf(expected, sizeof expected, "binary_upgrade_set_next_toast_pg_class_oid(%lu);",
	    relid);
	assert_non_null(strstr(text, expected));
	assert_non_null(strstr(text, "cp disk.db-pg-toast COPY/base/DB/"));
	free(text);
	remove_disk(&disk);
	free(heap);
	free(toast);
}

/* Offset of the first tuple on PAGE (line pointer 1). */
static unsigned first_tuple(const unsigned char *page)
{
	return (page[24] | page[25] << 8) & 0x7fff;
}

/* Bad TOAST input, without checksums (so changed pages are still taken): a TOAST page
 * lost (its values partial, or missing when all their chunks were on it; a gap in
 * chunk_seq), a copy of a TOAST page whose tuples name another block (every chunk on it
 * found twice), a chunk whose chunk_data claims more than its tuple holds (not a chunk,
 * counted), a heap pointer whose value id names no chunk (missing). No crash, each
 * counted and named. */
static void test_toast_bad_input(void **state)
{
	size_t heap_size, toast_size, size;
	unsigned char *heap = dbfixture_read("pg", "plain.toasted.rel", &heap_size);
	unsigned char *toast = dbfixture_read("pg", "plain.toasted.toast.rel", &toast_size);
	unsigned char moved[PG_PAGE_SIZE];
	unsigned long values, relid;
	struct disk disk = {0};
	struct dbpages_summary summary;
	struct pg_page page;
	unsigned blocks, lost = 5, changed = 9, at;
	char *text;

	(void)state;
	if (heap == NULL || toast == NULL)
		skip();
	values = fixture_number("plain.toasted.values");
	relid = fixture_number("plain.toasted.toastrelid");
	blocks = (unsigned)(toast_size / PG_PAGE_SIZE);
	/* Block 9's first chunk claims 4000 bytes of data (its header says 4004). */
	at = first_tuple(toast + changed * PG_PAGE_SIZE) + 32;
	toast[changed * PG_PAGE_SIZE + at] = (4004 << 2) & 0xff;
	toast[changed * PG_PAGE_SIZE + at + 1] = (4004 << 2) >> 8;
	assert_int_equal(pg_page_parse(toast + changed * PG_PAGE_SIZE, PG_PAGE_SIZE, &page),
	    PG_PAGE);
	assert_true(page.toast);
	/* Block 20 again, its tuples saying block BLOCKS (past the end). */
	memcpy(moved, toast + 20 * PG_PAGE_SIZE, PG_PAGE_SIZE);
	for (unsigned i = 0; i < 4; i++) {
		unsigned offset = (moved[24 + 4 * i] | moved[25 + 4 * i] << 8) & 0x7fff;

		moved[offset + 12] = 0;
		moved[offset + 13] = 0;
		moved[offset + 14] = (unsigned char)blocks;
		moved[offset + 15] = (unsigned char)(blocks >> 8);
	}
	/* The heap's first pointer names value id 0x7ffffff0, which no chunk has. */
	for (at = first_tuple(heap); at + 18 < PG_PAGE_SIZE; at++)
		if (heap[at] == 0x01 && heap[at + 1] == 18)
			break;
	assert_true(at + 18 < PG_PAGE_SIZE);
	memcpy(heap + at + 10, "\xf0\xff\xff\x7f", 4);
	add_pages(&disk, heap, heap_size, PG_PAGE_SIZE, 0, 0);
	add_pages(&disk, toast, toast_size, PG_PAGE_SIZE, lost, lost + 1);
	add_piece(&disk, moved, PG_PAGE_SIZE);
	write_disk(&disk, 31337, 80);

	assert_int_equal(rebuild(&disk, 1 << 20, &summary), 1);
	assert_int_equal(summary.relations, 2);
	assert_int_equal(summary.pages_missing, 1);
	text = (char *)output_file(&disk, "report.txt", &size);
	assert_non_null(strstr(text, "chunks found twice 4, tuples that are not chunks (chunk_data "
	    "longer than the page allows, or compressed) 1\n"));
	assert_non_null(strstr(text, "values with a gap in chunk_seq "));
	free(text);
	text = (char *)output_file(&disk, "report.json", &size);
	assert_non_null(strstr(text, "\"duplicate_chunks\": 4, \"bad_chunks\": 1"));
	{
		unsigned long gaps = 0;

		assert_non_null(strstr(text, "\"values_with_gaps\": "));
		gaps = strtoul(strstr(text, "\"values_with_gaps\": ") + 20, NULL, 10);
		assert_true(gaps >= 1);	/* the lost block's values that go on past it */
	}
	{
		char *found = strstr(text, "\"toasted\": {");
		unsigned long complete, partial, missing, count, oid;

		assert_non_null(found);
		assert_int_equal(sscanf(strstr(found, "\"toast_relation_oid\""),
		    "\"toast_relation_oid\": %lu, \"values\": %lu, \"complete\": %lu, \"partial\": "
		    "%lu, \"missing\": %lu", &oid, &count, &complete, &partial, &missing), 5);
		assert_int_equal(oid, relid);
		assert_int_equal(count, values);	/* one value id changed for another */
		assert_true(missing >= 1);
		assert_true(partial >= 1);
		assert_int_equal(complete + partial + missing, values);
		assert_true(complete >= values - 10);
	}
	free(text);
	assert_json_valid(&disk, "report.json");
	remove_disk(&disk);
	free(heap);
	free(toast);
}

/* The btree special space's level and flags of block BLOCK of an index file. */
static unsigned btree_level(const unsigned char *file, size_t block, unsigned *flags)
{
	struct pg_btree btree;

	assert_int_equal(pg_btree_read(file + block * PG_PAGE_SIZE, &btree), 0);
	*flags = btree.flags;
	return btree.level;
}

/* Which of the written files pg-btree, pg-btree-2 is byte for byte EXPECTED (the other
 * must not be): its name, or fail. */
static const char *written_index(const struct disk *disk, const unsigned char *expected,
    size_t expected_size)
{
	static const char *names[] = { "pg-btree", "pg-btree-2" };
	const char *found = NULL;

	for (size_t i = 0; i < 2; i++) {
		size_t size;
		unsigned char *written = output_file(disk, names[i], &size);

		if (size == expected_size && memcmp(written, expected, size) == 0) {
			assert_null(found);
			found = names[i];
		}
		free(written);
	}
	if (found == NULL)
		fail_msg("no pg-btree file is the server's index file");
	return found;
}

static void assert_report_has(const struct disk *disk, const char *text)
{
	size_t size;
	char *report = (char *)output_file(disk, "report.txt", &size);

	if (strstr(report, text) == NULL)
		fail_msg("no \"%s\" in:\n%s", text, report);
	free(report);
}

/* A table with its primary key (2 levels) and an index on a text column (3 levels),
 * from a cluster with data checksums, among noise: both indexes written byte for byte
 * as the server wrote them, placed by their links alone (their first blocks have the
 * same numbers and sibling chains: the keys tell them apart), with root and levels from
 * the metapage; RESTORE.md says to rebuild them. The same indexes of the cluster without
 * checksums are counted, not written. */
static void test_btree_indexes_written(void **state)
{
	size_t rel_size, pkey_size, body_size, plain_size, size;
	unsigned char *rel = dbfixture_read("pg", "checksummed.rel", &rel_size);
	unsigned char *pkey = dbfixture_read("pg", "checksummed.pkey.idx", &pkey_size);
	unsigned char *body = dbfixture_read("pg", "checksummed.body.idx", &body_size);
	unsigned char *plain = dbfixture_read("pg", "plain.pkey.idx", &plain_size);
	struct disk disk = {0};
	struct dbpages_summary summary;
	struct pg_btree meta;
	char line[200], *restore;

	(void)state;
	if (rel == NULL || pkey == NULL || body == NULL || plain == NULL)
		skip();
	add_pages(&disk, rel, rel_size, PG_PAGE_SIZE, 0, 0);
	add_pages(&disk, pkey, pkey_size, PG_PAGE_SIZE, 0, 0);
	add_pages(&disk, body, body_size, PG_PAGE_SIZE, 0, 0);
	add_pages(&disk, plain, plain_size, PG_PAGE_SIZE, 0, 0);
	write_disk(&disk, 4711, 200);
	assert_int_equal(rebuild(&disk, 1 << 20, &summary), 0);
	assert_int_equal(summary.relations, 1);
	assert_int_equal(summary.indexes, 2);
	assert_int_equal(summary.pages_missing, 0);
	assert_same_file(&disk, "pg-4atts", rel, rel_size);
	assert_int_equal(pg_btree_read(pkey, &meta), 0);
	assert_true(meta.meta);
	snprintf(line, sizeof line, "disk.db-%s  postgresql btree index, 8192-byte pages: %zu of "
	    "%zu found, root %u, %u levels (metapage)", written_index(&disk, pkey, pkey_size),
	    pkey_size / PG_PAGE_SIZE, pkey_size / PG_PAGE_SIZE, meta.root, meta.root_level + 1);
	assert_report_has(&disk, line);
	assert_int_equal(pg_btree_read(body, &meta), 0);
	assert_int_equal(meta.root_level + 1, 3);
	snprintf(line, sizeof line, "disk.db-%s  postgresql btree index, 8192-byte pages: %zu of "
	    "%zu found, root %u, 3 levels (metapage)", written_index(&disk, body, body_size),
	    body_size / PG_PAGE_SIZE, body_size / PG_PAGE_SIZE, meta.root);
	assert_report_has(&disk, line);
	snprintf(line, sizeof line, "PostgreSQL: %zu index pages not written", plain_size
	    / PG_PAGE_SIZE);
	assert_report_has(&disk, line);
	assert_json_valid(&disk, "report.json");
	restore = (char *)output_file(&disk, "RESTORE.md", &size);
	assert_non_null(strstr(restore, "REINDEX"));
	assert_non_null(strstr(restore, "bt_page_items"));
	free(restore);
	remove_disk(&disk);
	free(rel);
	free(pkey);
	free(body);
	free(plain);
}

/* The 3-level index with a leaf and an internal page of level 1 (not the leftmost) lost:
 * the internal page's children placed by their siblings instead, the file as long as
 * the index, the two blocks zeros and named missing, every other block the server's.
 * An older version of a leaf (the same page with a lower LSN) is counted as an older
 * copy, not written. */
static void test_btree_block_lost(void **state)
{
	size_t body_size, blocks, internal = 0;
	unsigned char *body = dbfixture_read("pg", "checksummed.body.idx", &body_size);
	unsigned char *expected, older[PG_PAGE_SIZE];
	struct disk disk = {0};
	struct dbpages_summary summary;
	unsigned flags;
	uint16_t checksum;
	char line[100];

	(void)state;
	if (body == NULL)
		skip();
	blocks = body_size / PG_PAGE_SIZE;
	for (size_t b = 1; b < blocks && internal == 0; b++) {
		struct pg_btree btree;

		assert_int_equal(pg_btree_read(body + b * PG_PAGE_SIZE, &btree), 0);
		if (btree.level == 1 && btree.prev != 0)
			internal = b;
	}
	assert_true(internal > 5);
	assert_int_equal(btree_level(body, 5, &flags), 0);
	for (size_t b = 0; b < blocks; b++)
		if (b != 5 && b != internal)
			add_piece(&disk, body + b * PG_PAGE_SIZE, PG_PAGE_SIZE);
	/* Leaf 6 as it was before its last change: a lower LSN, its checksum made anew. */
	assert_int_equal(btree_level(body, 6, &flags), 0);
	memcpy(older, body + 6 * PG_PAGE_SIZE, PG_PAGE_SIZE);
	assert_true(older[4] >= 8);
	older[4] -= 8;
	checksum = pg_page_checksum(older, 6);
	older[8] = (unsigned char)checksum;
	older[9] = (unsigned char)(checksum >> 8);
	add_piece(&disk, older, PG_PAGE_SIZE);
	write_disk(&disk, 815, 100);
	/* Holes in an index lose no data (it is rebuilt from its table): exit 0. */
	assert_int_equal(rebuild(&disk, 1 << 20, &summary), 0);
	assert_int_equal(summary.indexes, 1);
	assert_int_equal(summary.pages_missing, 0);
	assert_int_equal(summary.index_pages_missing, 2);
	expected = malloc(body_size);
	assert_non_null(expected);
	memcpy(expected, body, body_size);
	memset(expected + 5 * PG_PAGE_SIZE, 0, PG_PAGE_SIZE);
	memset(expected + internal * PG_PAGE_SIZE, 0, PG_PAGE_SIZE);
	assert_same_file(&disk, "pg-btree", expected, body_size);
	snprintf(line, sizeof line, "    missing 2: 5,%zu\n", internal);
	assert_report_has(&disk, line);
	assert_report_has(&disk, "1 btree indexes (pg-btree ...): 2 blocks missing in them");
	assert_report_has(&disk, "    unreadable 0, copies 1\n");
	remove_disk(&disk);
	free(expected);
	free(body);
}

/* Noise alone: nothing written but the report saying so. */
static void test_nothing_found(void **state)
{
	struct disk disk = {0};
	struct dbpages_summary summary;
	size_t size;
	char *restore;

	(void)state;
	write_disk(&disk, 99, 200);
	assert_int_equal(rebuild(&disk, 1 << 20, &summary), 0);
	assert_int_equal(summary.tablespaces + summary.relations, 0);
	restore = (char *)output_file(&disk, "RESTORE.md", &size);
	assert_non_null(strstr(restore, "No database pages were found"));
	free(restore);
	remove_disk(&disk);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_whole_files_in_large_chunks),
		cmocka_unit_test(test_whole_files_in_odd_chunks),
		cmocka_unit_test(test_whole_files_in_random_chunks),
		cmocka_unit_test(test_only_the_ranges_fed),
		cmocka_unit_test(test_missing_and_damaged_pages),
		cmocka_unit_test(test_two_tablespaces_with_one_space_id),
		cmocka_unit_test(test_two_relations_of_one_shape),
		cmocka_unit_test(test_two_relations_of_one_shape_without_checksums),
		cmocka_unit_test(test_tablespace_named_from_sys_tables),
		cmocka_unit_test(test_page_compressed_tablespaces),
		cmocka_unit_test(test_split_compressed_page_joined),
		cmocka_unit_test(test_compressed_pages_at_extent_ends),
		cmocka_unit_test(test_relation_without_checksums),
		cmocka_unit_test(test_bad_input_named_in_the_report),
		cmocka_unit_test(test_index_kept_and_loaded),
		cmocka_unit_test(test_relation_block_missing),
		cmocka_unit_test(test_toast_relation_linked),
		cmocka_unit_test(test_toast_bad_input),
		cmocka_unit_test(test_btree_indexes_written),
		cmocka_unit_test(test_btree_block_lost),
		cmocka_unit_test(test_nothing_found),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
