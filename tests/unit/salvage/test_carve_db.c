/* test_carve_db.c: `rescue carve --db`'s engine: a carve scan whose windows go to the
 * database-page engine through the observer hook, then dbpages_write into NAME.db/ of a
 * file:// store. The pages are those of a tablespace a real MariaDB wrote (tests/db's
 * fixtures), laid on a "disk" between blocks of noise; the scan's stream is the whole
 * disk, or the disk with a block left out as --free leaves out used blocks, so stream
 * positions differ from source offsets after it. */
#include <fcntl.h>
#include <signal.h>
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
#include "salvage/carve.h"
#include "salvage/carve_db.h"
#include "salvage/carve_store.h"
#include "salvage/dbpage_innodb.h"
#include "salvage/dbpages.h"
#include "target/store.h"
#include "target/target.h"

enum { IBD_PAGE = 16384, NOISE = 4096 };

struct disk {
	char dir[64], path[128];
	int fd;
	uint64_t size;
	uint64_t gap;		/* a noise block in the middle, NOISE bytes */
};

static int page_is_zero(const unsigned char *page)
{
	for (size_t i = 0; i < IBD_PAGE; i++)
		if (page[i])
			return 0;
	return 1;
}

/* 512 bytes of noise, then each page of FILE that is not zeros after a block of noise
 * (of 4096 bytes, or 1536 every third page, so that pages sit at 512-byte alignment). */
static void write_disk(struct disk *disk, const unsigned char *file, size_t size)
{
	unsigned char noise[NOISE];
	uint32_t seed = 99;
	size_t pages = 0;
	FILE *out;

	snprintf(disk->dir, sizeof disk->dir, "/tmp/rescue-carve-db-XXXXXX");
	assert_non_null(mkdtemp(disk->dir));
	snprintf(disk->path, sizeof disk->path, "%s/disk.img", disk->dir);
	out = fopen(disk->path, "w");
	assert_non_null(out);
	for (size_t i = 0; i < sizeof noise; i++) {
		seed = seed * 1103515245 + 12345;
		noise[i] = (unsigned char)(seed >> 16);
	}
	assert_int_equal(fwrite(noise, 1, 512, out), 512);
	for (size_t at = 0; at + IBD_PAGE <= size; at += IBD_PAGE) {
		size_t gap = pages % 3 == 2 ? 1536 : NOISE;

		if (page_is_zero(file + at))
			continue;
		if (pages++ == 40 && gap == NOISE)
			disk->gap = (uint64_t)ftell(out);
		assert_int_equal(fwrite(noise, 1, gap, out), gap);
		assert_int_equal(fwrite(file + at, 1, IBD_PAGE, out), IBD_PAGE);
	}
	assert_int_equal(fwrite(noise, 1, sizeof noise, out), sizeof noise);
	disk->size = (uint64_t)ftell(out);
	assert_int_equal(fclose(out), 0);
	assert_true(disk->gap > 0);
	disk->fd = open(disk->path, O_RDONLY);
	assert_true(disk->fd >= 0);
}

static void remove_disk(struct disk *disk)
{
	char command[128];

	close(disk->fd);
	snprintf(command, sizeof command, "rm -rf '%s'", disk->dir);
	assert_int_equal(system(command), 0);
}

static ssize_t read_disk(void *context, void *buffer, size_t size, uint64_t position)
{
	return pread(*(int *)context, buffer, size, (off_t)position);
}

static void no_progress(void *context, uint64_t position, int force)
{
	(void)context, (void)position, (void)force;
}

/* The disk's EXTENTS scanned with no file type and the page observer, in windows of 96
 * KiB (pages cross their edges), then written under disk.db/: dbpages_write's result. */
static int carve_pages(struct disk *disk, const struct carve_extent *extents, size_t count,
    struct dbpages_summary *summary)
{
	struct carve_db db = { .pages = dbpages_open(DBPAGES_INNODB | DBPAGES_PG) };
	struct carve_observer observer;
	struct carve_options options = { .observers = &observer, .observer_count = 1,
	    .sector_size = 512, .step = 96 << 10, .lookahead = 1 << 20 };
	struct carve_scan scan;
	struct carve_store out;
	struct carve_output output;
	struct target target;
	struct store *store;
	char url[128], why[512];
	int transient, result;

	assert_non_null(db.pages);
	snprintf(url, sizeof url, "file://%s", disk->dir);
	assert_int_equal(target_parse(url, &target, why, sizeof why), 0);
	store = store_open(&target, "disk", why, sizeof why, &transient);
	assert_non_null(store);
	assert_int_equal(carve_scan_init(&scan, &options, read_disk, &disk->fd, extents, count),
	    0);
	db.scan = &scan;
	carve_db_observer(&db, &observer);
	carve_store_init(&out, store, "disk", "# rescue source: disk", scan.stream_size);
	carve_store_output(&out, &output);
	output.progress = no_progress;
	assert_int_equal(carve_run(&scan, &output), 0);
	assert_true(dbpages_found(db.pages) > 0);
	assert_int_equal(store_mkdir(store, "disk.db"), 0);
	result = dbpages_write(db.pages, &(struct dbpages_output){ .read = read_disk,
	    .source = &disk->fd, .store = store, .prefix = "disk.db/", .give_up = 0 }, summary);
	carve_store_free(&out);
	carve_scan_free(&scan);
	store_close(store);
	dbpages_close(db.pages);
	return result;
}

static char *output_file(const struct disk *disk, const char *name, size_t *size)
{
	char path[256];
	FILE *file;
	char *data;
	long length;

	snprintf(path, sizeof path, "%s/disk.db/%s", disk->dir, name);
	file = fopen(path, "rb");
	if (file == NULL)
		fail_msg("%s was not written", path);
	assert_int_equal(fseek(file, 0, SEEK_END), 0);
	length = ftell(file);
	data = malloc((size_t)length + 1);
	assert_non_null(data);
	rewind(file);
	assert_int_equal(fread(data, 1, (size_t)length, file), (size_t)length);
	data[length] = '\0';
	fclose(file);
	*size = (size_t)length;
	return data;
}

/* The tablespace written under disk.db/ is the server's file byte for byte, and the
 * reports lie beside it. */
static void check_tablespace(const struct disk *disk, const unsigned char *full,
    size_t full_size)
{
	struct innodb_page page;
	char name[64], *written;
	size_t size;

	assert_int_equal(innodb_page_parse(full, IBD_PAGE, IBD_PAGE, &page), INNODB_PAGE);
	snprintf(name, sizeof name, "space-%u.ibd", page.space_id);
	written = output_file(disk, name, &size);
	assert_int_equal(size, full_size);
	assert_memory_equal(written, full, size);
	free(written);
	written = output_file(disk, "report.txt", &size);
	assert_non_null(strstr(written, "disk.db/space-"));
	free(written);
	written = output_file(disk, "RESTORE.md", &size);
	assert_non_null(strstr(written, "in `report.txt`"));
	free(written);
}

static void test_whole_disk(void **state)
{
	size_t full_size;
	unsigned char *full = dbfixture_read("mariadb", "full.ibd", &full_size);
	struct dbpages_summary summary;
	struct disk disk = { 0 };
	struct carve_extent whole;

	(void)state;
	if (full == NULL)
		skip();
	write_disk(&disk, full, full_size);
	whole = (struct carve_extent){ 0, disk.size };
	assert_int_equal(carve_pages(&disk, &whole, 1, &summary), 0);
	assert_int_equal(summary.tablespaces, 1);
	assert_int_equal(summary.pages_missing, 0);
	assert_int_equal(summary.unreadable, 0);
	check_tablespace(&disk, full, full_size);
	remove_disk(&disk);
	free(full);
}

/* A block left out of the stream: the pages after it are fed at their source offsets
 * (a stream position there names other bytes), read again there and written whole. */
static void test_stream_with_a_gap(void **state)
{
	size_t full_size;
	unsigned char *full = dbfixture_read("mariadb", "full.ibd", &full_size);
	struct dbpages_summary summary;
	struct disk disk = { 0 };
	struct carve_extent pieces[2];

	(void)state;
	if (full == NULL)
		skip();
	write_disk(&disk, full, full_size);
	pieces[0] = (struct carve_extent){ 0, disk.gap };
	pieces[1] = (struct carve_extent){ disk.gap + NOISE, disk.size - disk.gap - NOISE };
	assert_int_equal(carve_pages(&disk, pieces, 2, &summary), 0);
	assert_int_equal(summary.tablespaces, 1);
	assert_int_equal(summary.pages_missing, 0);
	assert_int_equal(summary.unreadable, 0);
	check_tablespace(&disk, full, full_size);
	remove_disk(&disk);
	free(full);
}

/* A --db carve stopped halfway (its page index kept by carve_store's before_save hook,
 * as rescue carve keeps NAME.db.index) and resumed from the saved state with the index
 * loaded: the tablespace is written whole, byte for byte, as by one scan. */
struct kept_index {
	struct carve_db *db;
	unsigned char *data;	/* the index file: a record, then the ones appended */
	size_t size;
	struct dbpages_saved saved;
	int saves;
};

/* As rescue carve does: a run's first save replaces the file, the later ones append. */
static int keep_index(void *context, uint64_t position)
{
	struct kept_index *kept = context;
	size_t size;
	unsigned char *record = dbpages_save(kept->db->pages, position, &kept->saved, &size);
	unsigned char *grown;

	if (record == NULL)
		return -1;
	if (kept->saved.bytes == 0)
		kept->size = 0;
	grown = realloc(kept->data, kept->size + size);
	if (grown == NULL) {
		free(record);
		return -1;
	}
	memcpy(grown + kept->size, record, size);
	kept->data = grown;
	kept->size += size;
	free(record);
	dbpages_mark_saved(kept->db->pages, &kept->saved, size);
	kept->saves++;
	return 0;
}

static volatile sig_atomic_t stop_halfway;
static uint64_t halfway;

static void stop_at_half(void *context, uint64_t position, int force)
{
	(void)context, (void)force;
	if (position >= halfway)
		stop_halfway = 1;
}

/* One run of the carve over EXTENTS: stopped halfway when STOP is set, resuming from
 * the state and KEPT's index when there is a state. The scan's result. */
static int carve_run_once(struct disk *disk, const struct carve_extent *extents, size_t count,
    struct carve_db *db, struct kept_index *kept, struct store *store, int stop)
{
	struct carve_observer observer;
	struct carve_options options = { .observers = &observer, .observer_count = 1,
	    .sector_size = 512, .step = 96 << 10, .lookahead = 1 << 20,
	    .checkpoint_seconds = 1e-9 };	/* a state saved at every step */
	struct carve_scan scan;
	struct carve_store out;
	struct carve_output output;
	char why[512];
	int result;

	assert_int_equal(carve_scan_init(&scan, &options, read_disk, &disk->fd, extents, count),
	    0);
	db->scan = &scan;
	carve_db_observer(db, &observer);
	carve_store_init(&out, store, "disk", "# rescue source: disk", scan.stream_size);
	assert_int_equal(carve_store_load(&out, why, sizeof why), 0);
	if (out.position > 0) {
		assert_int_equal(dbpages_load(db->pages, kept->data, kept->size, out.position), 0);
		kept->saved = (struct dbpages_saved){ 0 };	/* a new run: replaced first */
		scan.position = out.position;
	}
	out.before_save = keep_index;
	out.before_save_context = kept;
	carve_store_output(&out, &output);
	output.progress = stop ? stop_at_half : no_progress;
	stop_halfway = 0;
	halfway = scan.stream_size / 2;
	scan.stop = &stop_halfway;
	result = carve_run(&scan, &output);
	carve_store_free(&out);
	carve_scan_free(&scan);
	return result;
}

static void test_stopped_and_resumed(void **state)
{
	size_t full_size;
	unsigned char *full = dbfixture_read("mariadb", "full.ibd", &full_size);
	struct dbpages_summary summary;
	struct disk disk = { 0 };
	struct carve_extent pieces[2];
	struct carve_db db;
	struct kept_index kept = { .db = &db };
	struct target target;
	struct store *store;
	char url[128], why[512];
	uint64_t pages_then;
	int transient;

	(void)state;
	if (full == NULL)
		skip();
	write_disk(&disk, full, full_size);
	pieces[0] = (struct carve_extent){ 0, disk.gap };
	pieces[1] = (struct carve_extent){ disk.gap + NOISE, disk.size - disk.gap - NOISE };
	snprintf(url, sizeof url, "file://%s", disk.dir);
	assert_int_equal(target_parse(url, &target, why, sizeof why), 0);
	store = store_open(&target, "disk", why, sizeof why, &transient);
	assert_non_null(store);
	db.pages = dbpages_open(DBPAGES_INNODB | DBPAGES_PG);
	assert_int_equal(carve_run_once(&disk, pieces, 2, &db, &kept, store, 1), 1);
	assert_true(kept.saves >= 3);	/* records appended, not only the first */
	pages_then = dbpages_found(db.pages);
	assert_true(pages_then > 0);
	dbpages_close(db.pages);	/* the machine rebooted */
	db.pages = dbpages_open(DBPAGES_INNODB | DBPAGES_PG);
	assert_int_equal(carve_run_once(&disk, pieces, 2, &db, &kept, store, 0), 0);
	assert_true(dbpages_found(db.pages) > pages_then);
	assert_int_equal(store_mkdir(store, "disk.db"), 0);
	assert_int_equal(dbpages_write(db.pages, &(struct dbpages_output){ .read = read_disk,
	    .source = &disk.fd, .store = store, .prefix = "disk.db/" }, &summary), 0);
	assert_int_equal(summary.pages_missing, 0);
	check_tablespace(&disk, full, full_size);
	store_close(store);
	dbpages_close(db.pages);
	free(kept.data);
	remove_disk(&disk);
	free(full);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_whole_disk),
		cmocka_unit_test(test_stream_with_a_gap),
		cmocka_unit_test(test_stopped_and_resumed),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
