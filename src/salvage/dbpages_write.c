/* dbpages_write.c: the tablespaces and relations written from the index of pages found
 * (see dbpages.h): each page read again from the source, checked, written through the
 * store and read back. */
#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "salvage/dbpage_innodb.h"
#include "salvage/dbpage_pg.h"
#include "salvage/dbpages_internal.h"

/* Entries are sorted so that each group's pages (each relation's, within a group) come
 * together, by page number, the highest LSN first: the first readable copy of a number
 * is the one written. */
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

static const volatile sig_atomic_t never_stop;

static int out_of_memory(struct writer *writer);

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

/* ENTRY's page read again from the source into BUFFER (SIZE bytes); 0 or -1. Past a
 * page-compressed page's compressed bytes MariaDB left a punched hole: zeros, whatever
 * the source holds there now (at the end of a free extent, another file's data). */
static int read_entry(const struct writer *writer, const struct page_entry *entry,
    unsigned char *buffer, size_t size)
{
	size_t used;

	if (entry->joined)
		return dbpages_read_joined(writer->pages, writer->output, entry, buffer, size);
	if (dbpages_read_source(writer->output, buffer, size, entry->offset) != 0)
		return -1;
	if (entry->engine == DBPAGES_INNODB && innodb_page_compressed(buffer)
	    && (used = innodb_compressed_length(buffer, size)) != 0)
		memset(buffer + used, 0, size - used);
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
	} else if (entry->group >= PG_BTREE_GROUP) {
		struct pg_page page;

		/* Placed by its links: the checksum must still allow its block. */
		return pg_page_parse(buffer, size, &page) == PG_PAGE && page.kind == PG_BTREE
		    && pg_checksum_allows(page.hash, page.checksum, entry->number)
		    && page.lsn == entry->lsn;
	} else {
		struct pg_page page;

		return pg_page_parse(buffer, size, &page) == PG_PAGE && page.kind == PG_HEAP
		    && pg_group_of(&page) == entry->group && page.block == entry->number
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

static int in_doublewrite(const struct writer *writer, uint64_t number)
{
	for (int i = 0; i < 2; i++)
		if (writer->doublewrite[i] && number >= writer->doublewrite[i]
		    && number < (uint64_t)writer->doublewrite[i] + INNODB_DOUBLEWRITE_PAGES)
			return 1;
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

		/* Only a tablespace has a page 0 to ask (the buffer stays allocated for the
		 * relations written after one). */
		if (report->engine == DBPAGES_INNODB && writer->page0
		    && innodb_page_is_free(writer->page0, report->page_size, (uint32_t)number) == 1)
			report->free_pages++;
		else if (in_doublewrite(writer, number))
			report->doublewrite++;
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

		if (entries[i].engine == DBPAGES_PG && entries[i].group < PG_BTREE_GROUP
		    && read_entry(writer, &entries[i], writer->buffer, PG_PAGE_SIZE) == 0
		    && page_matches(&entries[i], writer->buffer, PG_PAGE_SIZE))
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
		} else if (read_entry(writer, entry, writer->buffer, size) != 0
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
			if (entry->engine == DBPAGES_INNODB && innodb_page_compressed(writer->buffer))
				report->compressed++;
			report->joined += entry->joined;
			if (entry->engine == DBPAGES_PG && entry->group < PG_BTREE_GROUP) {
				memcpy(writer->chosen, writer->buffer, size);
				if (dbpages_toast_note(writer, entry->group, writer->buffer) != 0)
					return out_of_memory(writer);
			}
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

/* Reads LENGTH bytes of the file being written at POSITION whole into WRITER->readback;
 * 0, 1 when the file is shorter, -1 when the store failed. */
static int read_written(struct writer *writer, size_t length, uint64_t position)
{
	size_t done = 0;

	while (done < length) {
		ssize_t got = store_pread(writer->output->store, writer->readback + done,
		    length - done, position + done);

		if (got < 0) {
			if (recover(writer) != 0)
				return -1;
			continue;
		}
		if (got == 0)
			return 1;
		done += (size_t)got;
	}
	return 0;
}

/* Every page written is read back from the store and must be the page it was. The pages
 * are read in runs of up to READ_BACK_CHUNK bytes: over ssh:// a read is a round trip,
 * and one a page made reading back cost minutes under emulation. */
static int read_back(struct writer *writer, const struct file_report *report,
    const struct page_entry *entries, size_t count)
{
	size_t size = report->page_size, i = 0, j;

	while (i < count) {
		uint64_t start = (entries[i].number - report->first) * size, end = start;
		int code;

		if (!entries[i].written) {
			i++;
			continue;
		}
		for (j = i; j < count; j++) {
			uint64_t page_end = (entries[j].number - report->first) * size + size;

			if (entries[j].written && page_end - start > READ_BACK_CHUNK)
				break;
			if (entries[j].written)
				end = page_end;
		}
		code = read_written(writer, (size_t)(end - start), start);
		if (code < 0)
			return -1;
		for (; i < j; i++) {
			uint64_t position = (entries[i].number - report->first) * size;

			if (entries[i].written && (code != 0
			    || !page_matches(&entries[i], writer->readback + (position - start), size))) {
				snprintf(writer->summary->failure, sizeof writer->summary->failure,
				    "%s: page %" PRIu32 " read back from the target differs from the "
				    "page written", report->name, entries[i].number);
				return -1;
			}
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

		if (read_entry(writer, &entries[i], writer->buffer, size) == 0
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

	if (report->lanes > 1) {
		/* Which of them the dictionary named is not known: no name from it. */
		if (report->lane == 0)
			snprintf(report->name, sizeof report->name, "%sspace-%" PRIu32 ".ibd", prefix,
			    report->group);
		else
			snprintf(report->name, sizeof report->name, "%sspace-%" PRIu32 "-%u.ibd",
			    prefix, report->group, report->lane + 1);
		return;
	}
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
		if (read_entry(writer, &entries[i], writer->buffer, size) != 0
		    || innodb_page_parse(writer->buffer, size, size, &page) != INNODB_PAGE
		    || page.lsn != entries[i].lsn)
			continue;
		if (!page.index_root)
			return;
		writer->index_ids[writer->index_count++] = page.index_id;
		wanted++;
	}
}

/* Space 0's doublewrite runs, from the newest copy of its TRX_SYS page (5) that reads
 * again. */
static void find_doublewrite(struct writer *writer, const struct page_entry *entries,
    size_t count)
{
	for (size_t i = 0; i < count && entries[0].group == 0; i++) {
		size_t size = (size_t)1 << entries[i].size_shift;
		struct innodb_page page;

		if (entries[i].number != 5)
			continue;
		if (read_entry(writer, &entries[i], writer->buffer, size) == 0
		    && innodb_page_parse(writer->buffer, size, size, &page) == INNODB_PAGE
		    && page.space_id == 0 && page.page_number == 5
		    && innodb_doublewrite_blocks(writer->buffer, size, &writer->doublewrite[0],
		    &writer->doublewrite[1]) == 0)
			return;
	}
}

/* One tablespace: as long as its page 0 declares, or up to its highest page found when
 * page 0 is lost. Pages past the declared size belong to an older life of the space id
 * (page 0 is rewritten whenever the file grows) and are counted, not written. */
static int write_tablespace(struct writer *writer, struct page_entry *entries, size_t count,
    unsigned lanes)
{
	struct file_report *report = new_report(writer, DBPAGES_INNODB, entries[0].group);
	struct innodb_page first;
	size_t inside = count;
	unsigned char *saved;
	int page0_known = 0, result;

	if (report == NULL)
		return out_of_memory(writer);
	report->lane = entries[0].lane;
	report->lanes = lanes;
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
	find_doublewrite(writer, entries, inside);
	/* write_gap asks page 0 which pages were never used. */
	saved = writer->page0;
	writer->page0 = page0_known ? saved : NULL;
	result = write_file(writer, report, entries, inside);
	writer->page0 = saved;
	writer->index_count = 0;
	writer->doublewrite[0] = writer->doublewrite[1] = 0;
	return result;
}

/* pg-Aatts for the first relation of A attributes, pg-Aatts-2 ... for the others,
 * pg-toast, pg-toast-2 ... for TOAST relations, pg-btree, pg-btree-2 ... for btree
 * indexes; the segments after the first get .1, .2 ... as in PostgreSQL. */
static void relation_name(struct file_report *report, const char *prefix,
    const struct page_entry *entry, uint64_t segment)
{
	int used = entry->group >= PG_BTREE_GROUP
	    ? entry->group == PG_BTREE_GROUP
	    ? snprintf(report->name, sizeof report->name, "%spg-btree", prefix)
	    : snprintf(report->name, sizeof report->name, "%spg-btree-%" PRIu32, prefix,
	    entry->group - PG_BTREE_GROUP + 1)
	    : entry->group == PG_TOAST_GROUP
	    ? snprintf(report->name, sizeof report->name, "%spg-toast", prefix)
	    : snprintf(report->name, sizeof report->name, "%spg-%" PRIu32 "atts", prefix,
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

	if (entries[0].group >= PG_BTREE_GROUP)
		writer->summary->indexes++;
	else
		writer->summary->relations++;
	writer->relation_report = writer->report_count;
	for (uint64_t segment = 0; segment * PG_SEGMENT_BLOCKS < end; segment++) {
		struct file_report *report = new_report(writer, DBPAGES_PG, entries[0].group);
		size_t from = i;

		if (report == NULL)
			return out_of_memory(writer);
		relation_name(report, writer->output->prefix, &entries[0], segment);
		dbpages_btree_meta(writer, entries[0].group, &report->btree);
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
		if (writer->reports[i].engine == DBPAGES_PG
		    && writer->reports[i].group >= PG_BTREE_GROUP)
			summary->index_pages_missing += writer->reports[i].missing;
		else
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

/* Each group split into its files: the relations of one shape, the tablespaces of one
 * space id (dbpages_spaces.c). Entries come sorted by group and number, all in lane 0. */
static int split_groups(struct dbpages *pages)
{
	for (size_t begin = 0, end; begin < pages->count; begin = end) {
		end = group_end(pages, begin);
		/* A btree group is one index already (dbpages_btree.c). */
		if (pages->entries[begin].engine == DBPAGES_PG
		    && pages->entries[begin].group < PG_BTREE_GROUP)
			assign_lanes(pages->entries + begin, end - begin);
		else if (dbpages_split_tablespaces(pages->entries + begin, end - begin) == 0)
			return -1;
	}
	qsort(pages->entries, pages->count, sizeof *pages->entries, entry_order);
	return 0;
}

/* How many files the group of ENTRIES[BEGIN] was split into: its last entry's lane + 1
 * (entries are sorted by lane within a group). */
static unsigned lanes_of_group(const struct dbpages *pages, size_t begin)
{
	size_t last = begin;

	while (last + 1 < pages->count && pages->entries[last + 1].engine
	    == pages->entries[begin].engine && pages->entries[last + 1].group
	    == pages->entries[begin].group)
		last++;
	return (unsigned)pages->entries[last].lane + 1;
}

static int write_groups(struct writer *writer)
{
	struct dbpages *pages = writer->pages;

	if (dbpages_btree_place(writer) != 0)
		return out_of_memory(writer);
	if (pages->count == 0)
		return 0;	/* entries may be NULL: qsort must not see it */
	qsort(pages->entries, pages->count, sizeof *pages->entries, entry_order);
	if (split_groups(pages) != 0)
		return out_of_memory(writer);
	for (size_t begin = 0, end, lanes = 0; begin < pages->count; begin = end) {
		end = group_end(pages, begin);
		if (pages->entries[begin].lane == 0)
			lanes = lanes_of_group(pages, begin);
		if (pages->entries[begin].engine == DBPAGES_INNODB
		    ? write_tablespace(writer, pages->entries + begin, end - begin,
		    (unsigned)lanes) != 0
		    : write_relation(writer, pages->entries + begin, end - begin) != 0)
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
	writer.readback = malloc(READ_BACK_CHUNK);
	if (writer.buffer == NULL || writer.page0 == NULL || writer.chosen == NULL
	    || writer.readback == NULL
	    || dbpages_finish_scan(pages) != 0 || dbpages_join_splits(pages, output) != 0) {
		out_of_memory(&writer);
		goto out;
	}
	if (write_groups(&writer) != 0)
		goto out;
	if (dbpages_toast_link(&writer) != 0) {
		out_of_memory(&writer);
		goto out;
	}
	add_up(&writer);
	if (write_text(&writer, "report.json", dbpages_json_report) != 0
	    || write_text(&writer, "report.txt", dbpages_text_report) != 0
	    || write_text(&writer, "RESTORE.md", dbpages_restore_text) != 0)
		goto out;
	result = summary->pages_missing || summary->unreadable ? 1 : 0;
out:
	dbpages_toast_free(&writer);
	dbpages_btree_free(&writer);
	free(writer.reports);
	free(writer.readback);
	free(writer.chosen);
	free(writer.page0);
	free(writer.buffer);
	return result;
}
