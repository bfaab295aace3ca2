/* dbpages.c: the index of database pages found by a scan, and the files written from it
 * (see dbpages.h). */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "base/json.h"
#include "salvage/dbpage_innodb.h"
#include "salvage/dbpage_pg.h"
#include "salvage/dbpages.h"

/* One page found: where it is and what it claims to be. GROUP is the InnoDB space id or
 * the PostgreSQL attribute count; NUMBER the page or block number. */
struct page_entry {
	uint64_t offset;
	uint64_t lsn;
	uint32_t group;
	uint32_t number;
	uint32_t xmin_low, xmin_high;	/* PostgreSQL: its tuples' transaction ids */
	uint8_t engine;
	uint8_t size_shift;		/* the page size is 1 << size_shift */
	uint8_t written;		/* the copy dbpages_write chose and wrote */
	uint8_t lane;			/* PostgreSQL: which relation of its group */
	uint8_t unused[4];
};

/* Pages with a header but a wrong checksum, counted by the group they claim. The garbage
 * of a disk can claim any number of groups: past MAX_BAD_GROUPS they are only summed. */
struct bad_count {
	uint32_t group;
	uint8_t engine;
	uint64_t count;
};
enum { MAX_BAD_GROUPS = 1024 };

/* A table's name as a SYS_TABLES record gives it ("db/table"), from the newest page. */
struct table_name {
	uint32_t space_id;
	int deleted;
	uint64_t lsn;
	char name[200];
};

struct dbpages {
	unsigned engines;
	struct page_entry *entries;
	size_t count, capacity;
	struct bad_count bad[MAX_BAD_GROUPS];
	size_t bad_groups;
	uint64_t bad_elsewhere;		/* wrong checksums past MAX_BAD_GROUPS groups */
	uint64_t pg_index_pages;	/* PostgreSQL index pages: counted, not written */
	uint64_t pg_unplaced;		/* heap pages whose block number nothing tells */
	uint64_t pg_guessed;		/* heap pages placed at a guessed block number */
	struct table_name *names;	/* from SYS_TABLES pages found, by space id */
	size_t name_count, name_capacity;
	uint64_t names_lsn;		/* the LSN of the page being read for names */
	int names_failed;		/* out of memory while adding one */
	/* The tail of the last buffer, whose pages may end in the next one. */
	unsigned char *carry;
	size_t carry_length;
	uint64_t carry_offset;
	size_t max_page;
};

static const size_t innodb_sizes[] = { 16384, 4096, 8192, 32768, 65536 };

struct dbpages *dbpages_open(unsigned engines)
{
	struct dbpages *pages = calloc(1, sizeof *pages);

	if (pages == NULL)
		return NULL;
	pages->engines = engines;
	pages->max_page = engines & DBPAGES_INNODB ? INNODB_MAX_PAGE : PG_PAGE_SIZE;
	pages->carry = malloc(2 * pages->max_page);
	if (pages->carry == NULL) {
		free(pages);
		return NULL;
	}
	return pages;
}

void dbpages_close(struct dbpages *pages)
{
	if (pages == NULL)
		return;
	free(pages->entries);
	free(pages->names);
	free(pages->carry);
	free(pages);
}

uint64_t dbpages_found(const struct dbpages *pages)
{
	return pages->count;
}

static int add_entry(struct dbpages *pages, const struct page_entry *entry)
{
	if (pages->count == pages->capacity) {
		size_t capacity = pages->capacity ? 2 * pages->capacity : 1024;
		struct page_entry *grown = realloc(pages->entries, capacity * sizeof *grown);

		if (grown == NULL)
			return -1;
		pages->entries = grown;
		pages->capacity = capacity;
	}
	pages->entries[pages->count++] = *entry;
	return 0;
}

static void count_bad(struct dbpages *pages, unsigned engine, uint32_t group)
{
	for (size_t i = 0; i < pages->bad_groups; i++)
		if (pages->bad[i].group == group && pages->bad[i].engine == engine) {
			pages->bad[i].count++;
			return;
		}
	if (pages->bad_groups == MAX_BAD_GROUPS) {
		pages->bad_elsewhere++;
		return;
	}
	pages->bad[pages->bad_groups++] = (struct bad_count){ group, (uint8_t)engine, 1 };
}

static uint8_t shift_of(size_t size)
{
	uint8_t shift = 0;

	while (((size_t)1 << shift) < size)
		shift++;
	return shift;
}

static struct table_name *name_slot(struct dbpages *pages, uint32_t space_id)
{
	for (size_t i = 0; i < pages->name_count; i++)
		if (pages->names[i].space_id == space_id)
			return &pages->names[i];
	if (pages->name_count == pages->name_capacity) {
		size_t capacity = pages->name_capacity ? 2 * pages->name_capacity : 64;
		struct table_name *grown = realloc(pages->names, capacity * sizeof *grown);

		if (grown == NULL)
			return NULL;
		pages->names = grown;
		pages->name_capacity = capacity;
	}
	memset(&pages->names[pages->name_count], 0, sizeof pages->names[0]);
	pages->names[pages->name_count].space_id = space_id;
	return &pages->names[pages->name_count++];
}

/* A SYS_TABLES record: kept when its page is newer than the one that named the space
 * before, or as new and not delete-marked. Space 0 is the system tablespace itself. */
static void add_table_name(void *context, const char *name, size_t length, uint32_t space_id,
    int deleted)
{
	struct dbpages *pages = context;
	struct table_name *slot;

	if (space_id == 0 || length >= sizeof slot->name)
		return;
	slot = name_slot(pages, space_id);
	if (slot == NULL) {
		pages->names_failed = 1;
		return;
	}
	if (slot->name[0] && (slot->lsn > pages->names_lsn
	    || (slot->lsn == pages->names_lsn && !slot->deleted)))
		return;
	memcpy(slot->name, name, length);
	slot->name[length] = '\0';
	slot->lsn = pages->names_lsn;
	slot->deleted = deleted;
}

/* An InnoDB page at any of the sizes, the usual 16 KiB first; 0 or -1 (no memory). */
static int look_innodb(struct dbpages *pages, const unsigned char *at, size_t length,
    uint64_t offset)
{
	for (size_t i = 0; i < sizeof innodb_sizes / sizeof innodb_sizes[0]; i++) {
		struct innodb_page page;
		enum innodb_verdict verdict = innodb_page_parse(at, length, innodb_sizes[i], &page);

		if (verdict == INNODB_BAD_CHECKSUM) {
			/* Only the trailer matched: the space id is a claim, not a fact. */
			count_bad(pages, DBPAGES_INNODB, (uint32_t)at[34] << 24 | (uint32_t)at[35] << 16
			    | (uint32_t)at[36] << 8 | at[37]);
		} else if (verdict == INNODB_PAGE) {
			struct page_entry entry = { .offset = offset, .lsn = page.lsn,
			    .group = page.space_id, .number = page.page_number,
			    .engine = DBPAGES_INNODB, .size_shift = shift_of(innodb_sizes[i]) };

			if (page.space_id == 0 && page.index_id != 0) {
				pages->names_lsn = page.lsn;
				(void)innodb_sys_tables_records(at, innodb_sizes[i], add_table_name,
				    pages);
				if (pages->names_failed)
					return -1;
			}
			return add_entry(pages, &entry);
		}
	}
	return 0;
}

static int look_pg(struct dbpages *pages, const unsigned char *at, size_t length,
    uint64_t offset)
{
	struct pg_page page;
	enum pg_verdict verdict = pg_page_parse(at, length, &page);
	struct page_entry entry;

	if (verdict == PG_BAD_CHECKSUM)
		count_bad(pages, DBPAGES_PG, page.attributes);
	if (verdict != PG_PAGE)
		return 0;
	if (page.kind != PG_HEAP) {
		pages->pg_index_pages++;
		return 0;
	}
	if (page.block == PG_NO_BLOCK) {
		pages->pg_unplaced++;
		return 0;
	}
	pages->pg_guessed += page.block_guessed != 0;
	entry = (struct page_entry){ .offset = offset, .lsn = page.lsn, .group = page.attributes,
	    .number = page.block, .xmin_low = page.xmin_low, .xmin_high = page.xmin_high,
	    .engine = DBPAGES_PG, .size_shift = shift_of(PG_PAGE_SIZE) };
	return add_entry(pages, &entry);
}

/* Looks at the aligned positions of REGION (LENGTH bytes from source offset OFFSET) from
 * FROM on, and before STOP, whose largest page fits; at every position when FINAL. Returns
 * the first position not looked at, or (size_t)-1 when out of memory. */
static size_t scan_region(struct dbpages *pages, const unsigned char *region, size_t length,
    uint64_t offset, size_t stop, int final)
{
	size_t at = (size_t)((DBPAGES_ALIGN - offset % DBPAGES_ALIGN) % DBPAGES_ALIGN);

	for (; at < stop && at < length && (final || length - at >= pages->max_page);
	    at += DBPAGES_ALIGN) {
		if ((pages->engines & DBPAGES_INNODB)
		    && look_innodb(pages, region + at, length - at, offset + at) != 0)
			return (size_t)-1;
		if ((pages->engines & DBPAGES_PG)
		    && look_pg(pages, region + at, length - at, offset + at) != 0)
			return (size_t)-1;
	}
	return at < length ? at : length;
}

/* The carried tail, looked at with whatever length it has: the source ends there, or the
 * next buffer does not continue it. */
static int finish_carry(struct dbpages *pages)
{
	size_t done = pages->carry_length ? scan_region(pages, pages->carry, pages->carry_length,
	    pages->carry_offset, pages->carry_length, 1) : 0;

	pages->carry_length = 0;
	return done == (size_t)-1 ? -1 : 0;
}

static void keep_tail(struct dbpages *pages, const unsigned char *region, size_t length,
    uint64_t offset, size_t from)
{
	memmove(pages->carry, region + from, length - from);
	pages->carry_length = length - from;
	pages->carry_offset = offset + from;
}

/* The carried tail joined with the start of BUFFER: the positions in the tail are looked
 * at now. Returns 1 when BUFFER was short enough to be carried whole, 0, or -1. */
static int continue_carry(struct dbpages *pages, const unsigned char *buffer, size_t length)
{
	size_t head = length < pages->max_page ? length : pages->max_page;
	size_t old_length = pages->carry_length, done;

	memcpy(pages->carry + old_length, buffer, head);
	pages->carry_length += head;
	done = scan_region(pages, pages->carry, pages->carry_length, pages->carry_offset,
	    head == length ? pages->carry_length : old_length, 0);
	if (done == (size_t)-1)
		return -1;
	if (head == length) {
		keep_tail(pages, pages->carry, pages->carry_length, pages->carry_offset, done);
		return 1;
	}
	pages->carry_length = 0;
	return 0;
}

int dbpages_feed(struct dbpages *pages, const unsigned char *buffer, size_t length,
    uint64_t source_offset)
{
	size_t done;
	int carried = 0;

	if (pages->carry_length) {
		if (pages->carry_offset + pages->carry_length == source_offset)
			carried = continue_carry(pages, buffer, length);
		else
			carried = finish_carry(pages);
		if (carried != 0)
			return carried < 0 ? -1 : 0;
	}
	done = scan_region(pages, buffer, length, source_offset, length, 0);
	if (done == (size_t)-1)
		return -1;
	keep_tail(pages, buffer, length, source_offset, done);
	return 0;
}

/* Writing. Entries are sorted so that each group's pages come together, by page number,
 * the highest LSN first: the first readable copy of a number is the one written. */
static int entry_order(const void *left, const void *right)
{
	const struct page_entry *a = left, *b = right;

	if (a->engine != b->engine)
		return a->engine < b->engine ? -1 : 1;
	if (a->group != b->group)
		return a->group < b->group ? -1 : 1;
	if (a->lane != b->lane)
		return a->lane < b->lane ? -1 : 1;
	if (a->number != b->number)
		return a->number < b->number ? -1 : 1;
	if (a->lsn != b->lsn)
		return a->lsn > b->lsn ? -1 : 1;
	return a->offset < b->offset ? -1 : a->offset > b->offset;
}

enum { MISSING_TEXT = 512, PG_SEGMENT_BLOCKS = 131072, MAX_INDEXES = 64 };

/* What the reports say about one file written. */
struct file_report {
	char name[300];
	char table[200];		/* InnoDB: "db/table" from SYS_TABLES, or "" */
	unsigned engine;
	uint32_t group;
	size_t page_size;
	uint64_t declared;		/* InnoDB: FSP_SIZE of page 0; 0 when page 0 is missing */
	uint64_t first, end;		/* the page numbers the file holds: [first, end) */
	uint64_t found, missing, superseded, unreadable, other_size, bad;
	uint64_t free_pages;		/* InnoDB: not found, but page 0 says never used */
	uint64_t foreign;		/* pages of another tablespace with this space id
					 * (other index ids), or of another relation of this
					 * shape (no tuple in common), not written */
	uint64_t lsn_min, lsn_max;
	char missing_text[MISSING_TEXT];	/* "3-5,9,..." */
	uint64_t missing_first, missing_last;	/* the range not yet in the text */
};

struct writer {
	struct dbpages *pages;
	const struct dbpages_output *output;
	struct dbpages_summary *summary;
	unsigned char *buffer;		/* one page of the largest size */
	unsigned char *chosen;		/* the PostgreSQL page written for the block at hand */
	unsigned char *page0;		/* the tablespace's page 0 while it is written, or NULL */
	/* The tablespace's own indexes while it is written: the ids on its root pages.
	 * None known (page 3 not found): every index page is taken. */
	uint64_t index_ids[MAX_INDEXES];
	size_t index_count;
	struct file_report *reports;
	size_t report_count, report_capacity;
};

static const volatile sig_atomic_t never_stop;

static int recover(struct writer *writer)
{
	const struct dbpages_output *output = writer->output;

	return store_recover(output->store, output->give_up,
	    output->stop ? output->stop : &never_stop, writer->summary->failure,
	    sizeof writer->summary->failure);
}

static int write_at(struct writer *writer, const void *data, size_t size, uint64_t position)
{
	while (store_pwrite(writer->output->store, data, size, position) != 0)
		if (recover(writer) != 0)
			return -1;
	return 0;
}

static int flush_file(struct writer *writer)
{
	while (store_flush(writer->output->store) != 0)
		if (recover(writer) != 0)
			return -1;
	return 0;
}

static int open_file(struct writer *writer, const char *name, uint64_t *size)
{
	while (store_image_open_named(writer->output->store, name, size) != 0)
		if (recover(writer) != 0)
			return -1;
	return 0;
}

/* Reads SIZE bytes of the source at OFFSET whole; 0 or -1. */
static int read_source(const struct dbpages_output *output, unsigned char *buffer, size_t size,
    uint64_t offset)
{
	size_t done = 0;

	while (done < size) {
		ssize_t got = output->read(output->source, buffer + done, size - done, offset + done);

		if (got <= 0)
			return -1;
		done += (size_t)got;
	}
	return 0;
}

/* The page in BUFFER is still the one ENTRY recorded (the source may have changed, or
 * read differently, since the scan). */
static int page_matches(const struct page_entry *entry, const unsigned char *buffer,
    size_t size)
{
	if (entry->engine == DBPAGES_INNODB) {
		struct innodb_page page;

		return innodb_page_parse(buffer, size, size, &page) == INNODB_PAGE
		    && page.space_id == entry->group && page.page_number == entry->number
		    && page.lsn == entry->lsn;
	} else {
		struct pg_page page;

		return pg_page_parse(buffer, size, &page) == PG_PAGE && page.kind == PG_HEAP
		    && page.attributes == entry->group && page.block == entry->number
		    && page.lsn == entry->lsn;
	}
}

/* The missing range kept open in MISSING_FIRST..MISSING_LAST, added to the text ("3-5,9");
 * past MISSING_TEXT the text ends with "...". */
static void close_missing_range(struct file_report *report)
{
	size_t used = strlen(report->missing_text);
	char range[48];

	if (report->missing_first == report->missing_last)
		snprintf(range, sizeof range, "%s%" PRIu64, used ? "," : "", report->missing_first);
	else
		snprintf(range, sizeof range, "%s%" PRIu64 "-%" PRIu64, used ? "," : "",
		    report->missing_first, report->missing_last);
	if (used + strlen(range) + 5 < MISSING_TEXT)
		memcpy(report->missing_text + used, range, strlen(range) + 1);
	else if (used < 3 || strcmp(report->missing_text + used - 3, "...") != 0)
		memcpy(report->missing_text + used, ",...", 5);
}

/* Page NUMBER was not found (numbers come in increasing order). */
static void add_missing(struct file_report *report, uint64_t number)
{
	if (report->missing > 0 && number == report->missing_last + 1) {
		report->missing++;
		report->missing_last = number;
		return;
	}
	if (report->missing > 0)
		close_missing_range(report);
	report->missing++;
	report->missing_first = report->missing_last = number;
}

static uint64_t bad_count_of(const struct dbpages *pages, unsigned engine, uint32_t group)
{
	for (size_t i = 0; i < pages->bad_groups; i++)
		if (pages->bad[i].engine == engine && pages->bad[i].group == group)
			return pages->bad[i].count;
	return 0;
}

/* Missing pages [FROM, TO): recorded, and written as zeros where the file existed before
 * (an older run's bytes must not stay) or where the file must reach its full length. */
static int write_gap(struct writer *writer, struct file_report *report, uint64_t from,
    uint64_t to, uint64_t existing)
{
	static const unsigned char zeros[INNODB_MAX_PAGE];

	for (uint64_t number = from; number < to; number++) {
		uint64_t position = (number - report->first) * report->page_size;

		if (writer->page0 && innodb_page_is_free(writer->page0, report->page_size,
		    (uint32_t)number) == 1)
			report->free_pages++;
		else
			add_missing(report, number);

		if ((position < existing || number + 1 == report->end)
		    && write_at(writer, zeros, report->page_size, position) != 0)
			return -1;
	}
	return 0;
}

/* An index page whose index is not one of the tablespace's own (a root's id): another
 * tablespace's, with the same space id. Needs the page in WRITER->buffer. */
static int foreign_index_page(const struct writer *writer, size_t size)
{
	struct innodb_page page;

	if (writer->index_count == 0
	    || innodb_page_parse(writer->buffer, size, size, &page) != INNODB_PAGE
	    || page.index_id == 0)
		return 0;
	for (size_t i = 0; i < writer->index_count; i++)
		if (writer->index_ids[i] == page.index_id)
			return 0;
	return 1;
}

/* The copies of a page older than the one written: superseded, or, for PostgreSQL, pages
 * of another relation of the same shape when they share no tuple with it. */
static void count_older_copies(struct writer *writer, struct file_report *report,
    const struct page_entry *entries, size_t count)
{
	for (size_t i = 0; i < count; i++) {
		int other = 0;

		if (entries[i].engine == DBPAGES_PG
		    && read_source(writer->output, writer->buffer, PG_PAGE_SIZE,
		    entries[i].offset) == 0 && page_matches(&entries[i], writer->buffer, PG_PAGE_SIZE))
			other = !pg_pages_share_tuple(writer->chosen, writer->buffer);
		if (other)
			report->foreign++;
		else
			report->superseded++;
	}
}

/* The first copy of ENTRIES[0].number (COUNT copies, highest LSN first) that reads again
 * as the same page, and is not another tablespace's index page: written, and the others
 * counted as superseded. 1 when one was written, 0 when none could be (counted as
 * unreadable when a copy did not read again), -1 when the store failed. */
static int write_best_copy(struct writer *writer, struct file_report *report,
    struct page_entry *entries, size_t count)
{
	size_t size = report->page_size;
	int failed = 0;

	for (size_t i = 0; i < count; i++) {
		struct page_entry *entry = &entries[i];

		if (((size_t)1 << entry->size_shift) != size) {
			report->other_size++;
		} else if (read_source(writer->output, writer->buffer, size, entry->offset) != 0
		    || !page_matches(entry, writer->buffer, size)) {
			failed = 1;
		} else if (entry->engine == DBPAGES_INNODB && foreign_index_page(writer, size)) {
			report->foreign++;
		} else {
			if (write_at(writer, writer->buffer, size,
			    (entry->number - report->first) * size) != 0)
				return -1;
			entry->written = 1;
			report->found++;
			if (entry->engine == DBPAGES_PG)
				memcpy(writer->chosen, writer->buffer, size);
			count_older_copies(writer, report, entries + i + 1, count - i - 1);
			if (report->found == 1 || entry->lsn < report->lsn_min)
				report->lsn_min = entry->lsn;
			if (entry->lsn > report->lsn_max)
				report->lsn_max = entry->lsn;
			return 1;
		}
	}
	report->unreadable += failed;
	return 0;
}

/* Every page written is read back from the store and must be the page it was. */
static int read_back(struct writer *writer, const struct file_report *report,
    const struct page_entry *entries, size_t count)
{
	for (size_t i = 0; i < count; i++) {
		uint64_t position = (entries[i].number - report->first) * report->page_size;
		ssize_t got;

		if (!entries[i].written)
			continue;
		while ((got = store_pread(writer->output->store, writer->buffer, report->page_size,
		    position)) < 0)
			if (recover(writer) != 0)
				return -1;
		if ((size_t)got != report->page_size
		    || !page_matches(&entries[i], writer->buffer, report->page_size)) {
			snprintf(writer->summary->failure, sizeof writer->summary->failure,
			    "%s: page %" PRIu32 " read back from the target differs from the "
			    "page written", report->name, entries[i].number);
			return -1;
		}
	}
	return 0;
}

/* Writes the file REPORT describes from ENTRIES (COUNT, sorted, page numbers in
 * [report->first, report->end)). 0 or -1. */
static int write_file(struct writer *writer, struct file_report *report,
    struct page_entry *entries, size_t count)
{
	uint64_t existing, next = report->first;
	size_t i = 0;

	if (open_file(writer, report->name, &existing) != 0)
		return -1;
	while (i < count) {
		size_t copies = 1;
		int written;

		while (i + copies < count && entries[i + copies].number == entries[i].number)
			copies++;
		if (write_gap(writer, report, next, entries[i].number, existing) != 0)
			return -1;
		written = write_best_copy(writer, report, entries + i, copies);
		if (written < 0)
			return -1;
		if (written == 0) {
			if (write_gap(writer, report, entries[i].number, entries[i].number + 1,
			    existing) != 0)
				return -1;
		}
		next = entries[i].number + 1;
		i += copies;
	}
	if (write_gap(writer, report, next, report->end, existing) != 0 || flush_file(writer) != 0
	    || read_back(writer, report, entries, count) != 0)
		return -1;
	store_image_done(writer->output->store);
	if (report->missing > 0)
		close_missing_range(report);
	if (writer->output->log)
		fprintf(writer->output->log, "%s: %" PRIu64 " of %" PRIu64 " pages found\n",
		    report->name, report->found, report->end - report->first);
	return 0;
}

static struct file_report *new_report(struct writer *writer, unsigned engine, uint32_t group)
{
	struct file_report *report;

	if (writer->report_count == writer->report_capacity) {
		size_t capacity = writer->report_capacity ? 2 * writer->report_capacity : 16;
		struct file_report *grown = realloc(writer->reports, capacity * sizeof *grown);

		if (grown == NULL)
			return NULL;
		writer->reports = grown;
		writer->report_capacity = capacity;
	}
	report = &writer->reports[writer->report_count++];
	memset(report, 0, sizeof *report);
	report->engine = engine;
	report->group = group;
	report->bad = bad_count_of(writer->pages, engine, group);
	return report;
}

static int out_of_memory(struct writer *writer)
{
	snprintf(writer->summary->failure, sizeof writer->summary->failure, "out of memory");
	return -1;
}

/* Page 0's FSP header, from the first of its copies that reads again. */
static int read_fsp_header(struct writer *writer, const struct page_entry *entries,
    size_t count, struct innodb_page *first)
{
	for (size_t i = 0; i < count && entries[i].number == 0; i++) {
		size_t size = (size_t)1 << entries[i].size_shift;

		if (read_source(writer->output, writer->buffer, size, entries[i].offset) == 0
		    && innodb_page_parse(writer->buffer, size, size, first) == INNODB_PAGE
		    && first->space_id == entries[i].group && first->page_number == 0
		    && first->fsp_page_size == size)
			return 0;
	}
	return -1;
}

static int name_taken(const struct writer *writer, const struct file_report *report)
{
	for (size_t i = 0; i < writer->report_count; i++)
		if (&writer->reports[i] != report && strcmp(writer->reports[i].name, report->name) == 0)
			return 1;
	return 0;
}

/* DB.TABLE.ibd when a SYS_TABLES record named the space ("db/table": the store writes
 * plain file names, so the folder becomes a dot; MariaDB already encodes other bytes as
 * @XXXX, anything else unexpected becomes _), else space-N.ibd. */
static void name_tablespace(struct writer *writer, struct file_report *report)
{
	const struct dbpages *pages = writer->pages;
	const char *prefix = writer->output->prefix;

	snprintf(report->name, sizeof report->name, "%sspace-%" PRIu32 ".ibd", prefix,
	    report->group);
	for (size_t i = 0; i < pages->name_count; i++) {
		const char *table = pages->names[i].name;
		size_t at = strlen(prefix);

		if (pages->names[i].space_id != report->group)
			continue;
		snprintf(report->table, sizeof report->table, "%s", table);
		if (at + strlen(table) + 5 > sizeof report->name)
			return;
		memcpy(report->name, prefix, at);
		for (const char *c = table; *c; c++)
			report->name[at++] = *c == '/' ? '.' : (isalnum((unsigned char)*c)
			    || strchr("@$_-", *c)) ? *c : '_';
		memcpy(report->name + at, ".ibd", 5);
		if (name_taken(writer, report))
			snprintf(report->name + at, sizeof report->name - at, ".space-%" PRIu32
			    ".ibd", report->group);
		return;
	}
}

/* The ids of the tablespace's indexes: file-per-table tablespaces hold the clustered
 * index's root at page 3 and the secondary ones' right after it. The newest copy of each
 * root that reads again counts. */
static void find_index_roots(struct writer *writer, const struct page_entry *entries,
    size_t count)
{
	uint32_t wanted = 3;

	writer->index_count = 0;
	for (size_t i = 0; i < count && writer->index_count < MAX_INDEXES; i++) {
		size_t size = (size_t)1 << entries[i].size_shift;
		struct innodb_page page;

		if (entries[i].number < wanted)
			continue;
		if (entries[i].number > wanted)
			return;
		if (read_source(writer->output, writer->buffer, size, entries[i].offset) != 0
		    || innodb_page_parse(writer->buffer, size, size, &page) != INNODB_PAGE
		    || page.lsn != entries[i].lsn)
			continue;
		if (!page.index_root)
			return;
		writer->index_ids[writer->index_count++] = page.index_id;
		wanted++;
	}
}

/* One tablespace: as long as its page 0 declares, or up to its highest page found when
 * page 0 is lost. Pages past the declared size belong to an older life of the space id
 * (page 0 is rewritten whenever the file grows) and are counted, not written. */
static int write_tablespace(struct writer *writer, struct page_entry *entries, size_t count)
{
	struct file_report *report = new_report(writer, DBPAGES_INNODB, entries[0].group);
	struct innodb_page first;
	size_t inside = count;
	unsigned char *saved;
	int page0_known = 0, result;

	if (report == NULL)
		return out_of_memory(writer);
	name_tablespace(writer, report);
	if (read_fsp_header(writer, entries, count, &first) == 0) {
		report->page_size = first.fsp_page_size;
		report->declared = first.fsp_size;
		report->end = first.fsp_size;
		while (inside > 0 && entries[inside - 1].number >= report->end)
			inside--;
		report->superseded += count - inside;
		memcpy(writer->page0, writer->buffer, report->page_size);
		page0_known = 1;
	} else {
		report->page_size = (size_t)1 << entries[0].size_shift;
		report->end = (uint64_t)entries[count - 1].number + 1;
	}
	writer->summary->tablespaces++;
	find_index_roots(writer, entries, inside);
	/* write_gap asks page 0 which pages were never used. */
	saved = writer->page0;
	writer->page0 = page0_known ? saved : NULL;
	result = write_file(writer, report, entries, inside);
	writer->page0 = saved;
	writer->index_count = 0;
	return result;
}

/* pg-Aatts for the first relation of A attributes, pg-Aatts-2 ... for the others; the
 * segments after the first get .1, .2 ... as in PostgreSQL. */
static void relation_name(struct file_report *report, const char *prefix,
    const struct page_entry *entry, uint64_t segment)
{
	int used = snprintf(report->name, sizeof report->name, "%spg-%" PRIu32 "atts", prefix,
	    entry->group);

	if (used > 0 && entry->lane > 0 && (size_t)used < sizeof report->name)
		used += snprintf(report->name + used, sizeof report->name - (size_t)used, "-%u",
		    entry->lane + 1);
	if (used > 0 && segment > 0 && (size_t)used < sizeof report->name)
		snprintf(report->name + used, sizeof report->name - (size_t)used, ".%" PRIu64,
		    segment);
}

/* One PostgreSQL relation, in 1 GiB segments named as PostgreSQL names them. */
static int write_relation(struct writer *writer, struct page_entry *entries, size_t count)
{
	uint64_t end = (uint64_t)entries[count - 1].number + 1;
	size_t i = 0;

	writer->summary->relations++;
	for (uint64_t segment = 0; segment * PG_SEGMENT_BLOCKS < end; segment++) {
		struct file_report *report = new_report(writer, DBPAGES_PG, entries[0].group);
		size_t from = i;

		if (report == NULL)
			return out_of_memory(writer);
		relation_name(report, writer->output->prefix, &entries[0], segment);
		report->page_size = PG_PAGE_SIZE;
		report->bad = segment ? 0 : report->bad;	/* counted once per relation */
		report->first = segment * PG_SEGMENT_BLOCKS;
		report->end = end < report->first + PG_SEGMENT_BLOCKS ? end
		    : report->first + PG_SEGMENT_BLOCKS;
		while (i < count && entries[i].number < report->end)
			i++;
		if (write_file(writer, report, entries + from, i - from) != 0)
			return -1;
	}
	return 0;
}

/* Reports. */
static const char *engine_name(unsigned engine)
{
	return engine == DBPAGES_INNODB ? "innodb" : "postgresql";
}

/* json_member_string puts the comma before a member: every member after the first
 * passes 1. */
static void json_report(FILE *out, const struct file_report *report, int comma)
{
	fprintf(out, "    {");
	json_member_string(out, "file", report->name, 0);
	json_member_string(out, "engine", engine_name(report->engine), 1);
	if (report->table[0])
		json_member_string(out, "table", report->table, 1);
	fprintf(out, ", \"%s\": %" PRIu32 ", \"page_size\": %zu, \"declared_pages\": %" PRIu64
	    ", \"first_page\": %" PRIu64 ", \"pages\": %" PRIu64 ", \"found\": %" PRIu64
	    ", \"missing\": %" PRIu64 ", \"never_used\": %" PRIu64, report->engine == DBPAGES_INNODB
	    ? "space_id" : "attributes", report->group, report->page_size, report->declared,
	    report->first, report->end - report->first, report->found, report->missing,
	    report->free_pages);
	json_member_string(out, "missing_pages", report->missing_text, 1);
	fprintf(out, ", \"unreadable\": %" PRIu64 ", \"superseded\": %" PRIu64
	    ", \"other_size\": %" PRIu64 ", \"other_origin\": %" PRIu64 ", \"bad_checksum\": %"
	    PRIu64 ", \"lsn_min\": %" PRIu64 ", \"lsn_max\": %" PRIu64 "}%s\n", report->unreadable,
	    report->superseded, report->other_size, report->foreign, report->bad,
	    report->lsn_min, report->lsn_max, comma ? "," : "");
}

static char *json_text(const struct writer *writer, size_t *size)
{
	const struct dbpages *pages = writer->pages;
	const struct dbpages_summary *summary = writer->summary;
	char *text = NULL;
	FILE *out = open_memstream(&text, size);

	if (out == NULL)
		return NULL;
	fprintf(out, "{\n  \"files\": [\n");
	for (size_t i = 0; i < writer->report_count; i++)
		json_report(out, &writer->reports[i], i + 1 < writer->report_count);
	fprintf(out, "  ],\n  \"tablespaces\": %u, \"relations\": %u, \"pages_written\": %" PRIu64
	    ", \"pages_missing\": %" PRIu64 ", \"bad_checksum\": %" PRIu64 ", \"unreadable\": %"
	    PRIu64 ",\n  \"pg_index_pages\": %" PRIu64 ", \"pg_unplaced\": %" PRIu64
	    ", \"pg_guessed\": %" PRIu64 "\n}\n", summary->tablespaces, summary->relations,
	    summary->pages_written, summary->pages_missing, summary->bad_checksums,
	    summary->unreadable, pages->pg_index_pages, pages->pg_unplaced, pages->pg_guessed);
	return fclose(out) == 0 ? text : (free(text), NULL);
}

static void text_report(FILE *out, const struct file_report *report)
{
	fprintf(out, "%s  %s %s %" PRIu32 ", %zu-byte pages: %" PRIu64 " of %" PRIu64 " found",
	    report->name, engine_name(report->engine), report->engine == DBPAGES_INNODB
	    ? "space id" : "tuples of attributes", report->group, report->page_size,
	    report->found, report->end - report->first);
	if (report->table[0])
		fprintf(out, ", table %s", report->table);
	if (report->engine == DBPAGES_INNODB)
		fprintf(out, report->declared ? " (page 0 declares %" PRIu64 ")"
		    : " (page 0 not found: length from the highest page)", report->declared);
	fprintf(out, ", LSN %" PRIu64 "-%" PRIu64 "\n", report->lsn_min, report->lsn_max);
	if (report->free_pages)
		fprintf(out, "    never used (zeros, nothing lost) %" PRIu64 "\n", report->free_pages);
	if (report->missing)
		fprintf(out, "    missing %" PRIu64 ": %s\n", report->missing, report->missing_text);
	if (report->foreign && report->engine == DBPAGES_INNODB)
		fprintf(out, "    %" PRIu64 " index pages of another tablespace with space id %"
		    PRIu32 " (other index ids), not written\n", report->foreign, report->group);
	if (report->foreign && report->engine == DBPAGES_PG)
		fprintf(out, "    %" PRIu64 " pages of another relation with %" PRIu32 " attributes"
		    " at the same block numbers (no tuple in common), not written\n",
		    report->foreign, report->group);
	if (report->unreadable || report->bad || report->superseded || report->other_size)
		fprintf(out, "    unreadable %" PRIu64 ", wrong checksum %" PRIu64 ", older copies %"
		    PRIu64 ", other page size %" PRIu64 "\n", report->unreadable, report->bad,
		    report->superseded, report->other_size);
}

static char *plain_text(const struct writer *writer, size_t *size)
{
	const struct dbpages *pages = writer->pages;
	char *text = NULL;
	FILE *out = open_memstream(&text, size);

	if (out == NULL)
		return NULL;
	for (size_t i = 0; i < writer->report_count; i++)
		text_report(out, &writer->reports[i]);
	fprintf(out, "%u tablespaces, %u relations: %" PRIu64 " pages written, %" PRIu64
	    " missing, %" PRIu64 " with a wrong checksum\n", writer->summary->tablespaces,
	    writer->summary->relations, writer->summary->pages_written,
	    writer->summary->pages_missing, writer->summary->bad_checksums);
	if (pages->pg_index_pages || pages->pg_unplaced || pages->pg_guessed)
		fprintf(out, "PostgreSQL: %" PRIu64 " index pages not written (rebuild indexes "
		    "with REINDEX), %" PRIu64 " heap pages without a block number not written, %"
		    PRIu64 " heap pages placed at a guessed block number\n", pages->pg_index_pages,
		    pages->pg_unplaced, pages->pg_guessed);
	return fclose(out) == 0 ? text : (free(text), NULL);
}

static const char restore_innodb[] =
"## InnoDB tablespaces (`space-N.ibd`)\n\n"
"Each file is one tablespace (one table with its indexes) named by its space id. On a\n"
"MariaDB or MySQL server of the same major version, started with the same character set:\n\n"
"1. Create the table with its original definition (the same columns, types, ROW_FORMAT and\n"
"   primary key) in any database: `CREATE TABLE recovered.t (...);`. If the import\n"
"   complains about indexes, create it without its secondary indexes.\n"
"2. `ALTER TABLE recovered.t DISCARD TABLESPACE;`\n"
"3. Copy `space-N.ibd` into the server's data directory as `recovered/t.ibd`, owned by the\n"
"   server's user (`chown mysql:mysql`).\n"
"4. `ALTER TABLE recovered.t IMPORT TABLESPACE;` (a warning that no `.cfg` file was found\n"
"   is expected), then `CHECK TABLE recovered.t;` and `SELECT COUNT(*)`.\n"
"5. Add back the secondary indexes left out in step 1 (`ALTER TABLE ... ADD INDEX`).\n\n"
"Which table a space id was: the report lists the page counts; `strings space-N.ibd`\n"
"shows the text of its rows. Missing pages are zeros: the import may then refuse the\n"
"file or later report the index as corrupt; `innodb_force_recovery=1` and\n"
"`SELECT ... INTO OUTFILE` get out what is readable.\n\n";

static const char restore_pg[] =
"## PostgreSQL relations (`pg-Aatts`, `.1`, `.2` ... past 1 GiB)\n\n"
"Each file holds the heap pages whose tuples have A attributes, at their block numbers.\n"
"Tuples are visible only to the cluster that wrote them (their transaction ids must be\n"
"known to it): use the same cluster, a copy of it, or one restored from `rescue dump`.\n\n"
"1. `CREATE TABLE recovered (...);` with the original columns, types and order.\n"
"2. `SELECT pg_relation_filepath('recovered');` gives `base/DB/FILENODE`.\n"
"3. Stop the server (`pg_ctl stop`). Copy `pg-Aatts` over `base/DB/FILENODE` (and each\n"
"   `pg-Aatts.N` to `base/DB/FILENODE.N`), owned by `postgres`; remove\n"
"   `FILENODE_fsm` and `FILENODE_vm` if they exist.\n"
"4. Start the server, then `SELECT count(*) FROM recovered;`.\n\n"
"Values TOASTed out of line point at the dropped table's TOAST relation and cannot be\n"
"read this way yet (\"missing chunk number\"); select the other columns. Blocks never\n"
"found are zeros, which PostgreSQL reads as empty pages. Tables with the same number of\n"
"attributes are told apart by their transaction ids (`pg-Aatts`, `pg-Aatts-2`, ...):\n"
"look at a few rows of each (`SELECT * ... LIMIT 5`) to see which table it is. A file\n"
"of 3 attributes is most likely a TOAST relation.\n\n";

static char *restore_text(const struct writer *writer, size_t *size)
{
	char *text = NULL;
	FILE *out = open_memstream(&text, size);
	int innodb = 0, pg = 0;

	if (out == NULL)
		return NULL;
	for (size_t i = 0; i < writer->report_count; i++) {
		innodb |= writer->reports[i].engine == DBPAGES_INNODB;
		pg |= writer->reports[i].engine == DBPAGES_PG;
	}
	fprintf(out, "# Bringing the recovered database files back\n\n"
	    "What was found and what is missing is in `%sreport.txt` (and `.json`).\n\n",
	    writer->output->prefix);
	if (innodb)
		fputs(restore_innodb, out);
	if (pg)
		fputs(restore_pg, out);
	if (!innodb && !pg)
		fputs("No database pages were found.\n", out);
	return fclose(out) == 0 ? text : (free(text), NULL);
}

/* NAME (after the prefix) replaced atomically with the text MAKE builds. */
static int write_text(struct writer *writer, const char *name,
    char *(*make)(const struct writer *writer, size_t *size))
{
	char file[300];
	size_t size;
	char *text = make(writer, &size);

	if (text == NULL)
		return out_of_memory(writer);
	snprintf(file, sizeof file, "%s%s", writer->output->prefix, name);
	while (store_replace(writer->output->store, file, text, size) != 0)
		if (recover(writer) != 0) {
			free(text);
			return -1;
		}
	free(text);
	return 0;
}

/* The entries of one group: [begin, returned). */
static size_t group_end(const struct dbpages *pages, size_t begin)
{
	size_t end = begin + 1;

	while (end < pages->count && pages->entries[end].engine == pages->entries[begin].engine
	    && pages->entries[end].group == pages->entries[begin].group
	    && pages->entries[end].lane == pages->entries[begin].lane)
		end++;
	return end;
}

static void add_up(struct writer *writer)
{
	struct dbpages_summary *summary = writer->summary;

	for (size_t i = 0; i < writer->report_count; i++) {
		summary->pages_written += writer->reports[i].found;
		summary->pages_missing += writer->reports[i].missing;
		summary->unreadable += writer->reports[i].unreadable;
	}
	summary->bad_checksums = writer->pages->bad_elsewhere;
	for (size_t i = 0; i < writer->pages->bad_groups; i++)
		summary->bad_checksums += writer->pages->bad[i].count;
}

/* Telling apart the tables of one shape. Copies of a block whose transaction id ranges
 * overlap are one page at different times (the highest LSN is written); copies that do
 * not are pages of different tables, each an "origin". Lanes are the relations: walking
 * the blocks in order, each origin joins the lane without this block whose range of
 * transaction ids is nearest to its own, or starts a new lane when every lane has the
 * block. One table alone never has two origins at a block, so it stays in one lane. */
struct lane {
	uint32_t xmin_low, xmin_high;
	uint32_t last_block;		/* the block it got last: blocks come in order */
};
enum { MAX_LANES = 255 };

/* A page without tuples (xmin_high 0) tells nothing: near every lane, overlapping every
 * copy. */
static uint64_t xmin_distance(const struct lane *lane, const struct page_entry *entry)
{
	if (entry->xmin_high == 0)
		return 0;
	if (entry->xmin_high < lane->xmin_low)
		return (uint64_t)lane->xmin_low - entry->xmin_high;
	if (entry->xmin_low > lane->xmin_high)
		return (uint64_t)entry->xmin_low - lane->xmin_high;
	return 0;
}

static int xmins_overlap(const struct page_entry *a, const struct page_entry *b)
{
	return a->xmin_high == 0 || b->xmin_high == 0
	    || (a->xmin_low <= b->xmin_high && b->xmin_low <= a->xmin_high);
}

static uint8_t choose_lane(struct lane *lanes, size_t *lane_count, const struct page_entry *origin)
{
	size_t best = *lane_count;

	for (size_t i = 0; i < *lane_count; i++)
		if (lanes[i].last_block != origin->number && (best == *lane_count
		    || xmin_distance(&lanes[i], origin) < xmin_distance(&lanes[best], origin)))
			best = i;
	if (best == *lane_count) {
		if (*lane_count == MAX_LANES)
			return MAX_LANES - 1;	/* past 255 tables of one shape, the last lane */
		lanes[(*lane_count)++] = (struct lane){ origin->xmin_low, origin->xmin_high,
		    origin->number };
		return (uint8_t)best;
	}
	if (origin->xmin_high == 0) {
		lanes[best].last_block = origin->number;
		return (uint8_t)best;
	}
	if (origin->xmin_low < lanes[best].xmin_low)
		lanes[best].xmin_low = origin->xmin_low;
	if (origin->xmin_high > lanes[best].xmin_high)
		lanes[best].xmin_high = origin->xmin_high;
	lanes[best].last_block = origin->number;
	return (uint8_t)best;
}

/* The copies of one block (ENTRIES, COUNT, highest LSN first): each takes the lane of the
 * first newer copy whose transaction ids overlap its own, or is an origin. */
static void assign_block(struct lane *lanes, size_t *lane_count, struct page_entry *entries,
    size_t count)
{
	for (size_t i = 0; i < count; i++) {
		size_t same = i;

		for (size_t j = 0; j < i && same == i; j++)
			if (xmins_overlap(&entries[j], &entries[i]))
				same = j;
		entries[i].lane = same < i ? entries[same].lane
		    : choose_lane(lanes, lane_count, &entries[i]);
	}
}

/* ENTRIES (COUNT, one PostgreSQL group sorted by block) get their lanes. */
static void assign_lanes(struct page_entry *entries, size_t count)
{
	struct lane lanes[MAX_LANES];
	size_t lane_count = 0;

	for (size_t i = 0, copies; i < count; i += copies) {
		for (copies = 1; i + copies < count && entries[i + copies].number == entries[i].number;)
			copies++;
		assign_block(lanes, &lane_count, entries + i, copies);
	}
}

static void split_relations(struct dbpages *pages)
{
	for (size_t begin = 0, end; begin < pages->count; begin = end) {
		end = group_end(pages, begin);
		if (pages->entries[begin].engine == DBPAGES_PG)
			assign_lanes(pages->entries + begin, end - begin);
	}
	qsort(pages->entries, pages->count, sizeof *pages->entries, entry_order);
}

static int write_groups(struct writer *writer)
{
	struct dbpages *pages = writer->pages;

	if (pages->count == 0)
		return 0;	/* entries may be NULL: qsort must not see it */
	qsort(pages->entries, pages->count, sizeof *pages->entries, entry_order);
	split_relations(pages);
	for (size_t begin = 0, end; begin < pages->count; begin = end) {
		end = group_end(pages, begin);
		if ((pages->entries[begin].engine == DBPAGES_INNODB
		    ? write_tablespace : write_relation)(writer, pages->entries + begin,
		    end - begin) != 0)
			return -1;
	}
	return 0;
}

int dbpages_write(struct dbpages *pages, const struct dbpages_output *output,
    struct dbpages_summary *summary)
{
	struct writer writer = { .pages = pages, .output = output, .summary = summary };
	int result = -1;

	memset(summary, 0, sizeof *summary);
	writer.buffer = malloc(INNODB_MAX_PAGE);
	writer.page0 = malloc(INNODB_MAX_PAGE);
	writer.chosen = malloc(PG_PAGE_SIZE);
	if (writer.buffer == NULL || writer.page0 == NULL || writer.chosen == NULL
	    || finish_carry(pages) != 0) {
		out_of_memory(&writer);
		goto out;
	}
	if (write_groups(&writer) != 0)
		goto out;
	add_up(&writer);
	if (write_text(&writer, "report.json", json_text) != 0
	    || write_text(&writer, "report.txt", plain_text) != 0
	    || write_text(&writer, "RESTORE.md", restore_text) != 0)
		goto out;
	result = summary->pages_missing || summary->unreadable ? 1 : 0;
out:
	free(writer.reports);
	free(writer.chosen);
	free(writer.page0);
	free(writer.buffer);
	return result;
}
