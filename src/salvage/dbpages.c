/* dbpages.c: the index of database pages found by a scan (see dbpages.h); the files are
 * written by dbpages_write.c. */
#include <stdlib.h>
#include <string.h>

#include "base/crc32c.h"
#include "salvage/dbpage_innodb.h"
#include "salvage/dbpage_pg.h"
#include "salvage/dbpages_internal.h"

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
	free(pages->btree);
	free(pages->heads);
	free(pages->tails);
	free(pages->joins);
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

static int add_btree(struct dbpages *pages, const struct btree_entry *entry)
{
	if (pages->btree_count == pages->btree_capacity) {
		size_t capacity = pages->btree_capacity ? 2 * pages->btree_capacity : 256;
		struct btree_entry *grown = realloc(pages->btree, capacity * sizeof *grown);

		if (grown == NULL)
			return -1;
		pages->btree = grown;
		pages->btree_capacity = capacity;
	}
	pages->btree[pages->btree_count++] = *entry;
	return 0;
}

/* A btree page with a checksum: kept with its links for dbpages_btree.c. Deleted and
 * half-dead pages are out of their level's chain: counted as index pages. */
static int look_btree(struct dbpages *pages, const unsigned char *at, const struct pg_page *page,
    uint64_t offset)
{
	struct pg_btree btree;
	struct btree_entry entry;

	if (page->checksum == 0 || pg_btree_read(at, &btree) != 0
	    || (btree.flags & (PG_BTP_DELETED | PG_BTP_HALF_DEAD))) {
		pages->pg_index_pages++;
		return 0;
	}
	memset(&entry, 0, sizeof entry);
	entry.offset = offset;
	entry.lsn = page->lsn;
	entry.hash = page->hash;
	entry.checksum = page->checksum;
	entry.prev = btree.prev;
	entry.next = btree.next;
	entry.level = btree.level;
	entry.flags = (uint16_t)btree.flags;
	entry.meta = (uint8_t)btree.meta;
	entry.root = btree.root;
	entry.root_level = btree.root_level;
	entry.high_key = pg_btree_high_key(at);
	return add_btree(pages, &entry);
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

static struct page_entry innodb_entry(const struct innodb_page *page, uint64_t offset,
    size_t size)
{
	struct page_entry entry = { .offset = offset, .lsn = page->lsn, .group = page->space_id,
	    .number = page->page_number, .engine = DBPAGES_INNODB, .size_shift = shift_of(size) };

	entry.index_id = (uint32_t)page->index_id;
	entry.index_root = page->index_id != 0 && page->index_root;
	return entry;
}

static int add_part(struct split_part **parts, size_t *count, size_t *capacity,
    const struct split_part *part)
{
	if (*count == *capacity) {
		size_t grown_capacity = *capacity ? 2 * *capacity : 256;
		struct split_part *grown = realloc(*parts, grown_capacity * sizeof *grown);

		if (grown == NULL)
			return -1;
		*parts = grown;
		*capacity = grown_capacity;
	}
	(*parts)[(*count)++] = *part;
	return 0;
}

/* An InnoDB page at any of the sizes, the usual 16 KiB first; 0 or -1 (no memory). A
 * wrong checksum is counted once for the position, and only when no size finds a page
 * there: a damaged page looked at with several sizes is one damaged page, and a page of
 * another tablespace's page size is not damaged at all. */
static int look_innodb(struct dbpages *pages, const unsigned char *at, size_t length,
    uint64_t offset)
{
	int damaged = 0;

	for (size_t i = 0; i < sizeof innodb_sizes / sizeof innodb_sizes[0]; i++) {
		struct innodb_page page;
		enum innodb_verdict verdict = innodb_page_parse(at, length, innodb_sizes[i], &page);

		if (verdict == INNODB_BAD_CHECKSUM) {
			damaged = 1;
		} else if (verdict == INNODB_PAGE) {
			struct page_entry entry = innodb_entry(&page, offset, innodb_sizes[i]);

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
	/* The first blocks of a page whose last one is elsewhere: matched after the scan,
	 * counted damaged only if nothing completes it. */
	if (offset % INNODB_SPLIT_BLOCK == 0) {
		struct split_part head = { .offset = offset };

		if (innodb_split_head(at, length, &head.split))
			return add_part(&pages->heads, &pages->head_count, &pages->head_capacity,
			    &head);
	}
	/* Only the header looked right: the space id is a claim, not a fact. */
	if (damaged)
		count_bad(pages, DBPAGES_INNODB, (uint32_t)at[34] << 24 | (uint32_t)at[35] << 16
		    | (uint32_t)at[36] << 8 | at[37]);
	return 0;
}

static int look_pg(struct dbpages *pages, const unsigned char *at, size_t length,
    uint64_t offset)
{
	struct pg_page page;
	enum pg_verdict verdict = pg_page_parse(at, length, &page);
	struct page_entry entry;

	if (verdict == PG_BAD_CHECKSUM)
		count_bad(pages, DBPAGES_PG, pg_group_of(&page));
	if (verdict == PG_BAD_LINE_POINTER)
		pages->pg_bad_line_pointers++;
	if (verdict != PG_PAGE)
		return 0;
	if (page.kind == PG_BTREE)
		return look_btree(pages, at, &page, offset);
	if (page.kind != PG_HEAP) {
		pages->pg_index_pages++;
		return 0;
	}
	if (page.block == PG_NO_BLOCK) {
		pages->pg_unplaced++;
		return 0;
	}
	pages->pg_guessed += page.block_guessed != 0;
	entry = (struct page_entry){ .offset = offset, .lsn = page.lsn, .group = pg_group_of(&page),
	    .number = page.block, .xmin_low = page.xmin_low, .xmin_high = page.xmin_high,
	    .engine = DBPAGES_PG, .size_shift = shift_of(PG_PAGE_SIZE) };
	return add_entry(pages, &entry);
}

/* A block that may end a split page-compressed page (see innodb_split_tail). */
static int look_tail(struct dbpages *pages, const unsigned char *at, size_t length,
    uint64_t offset)
{
	struct split_part tail = { .offset = offset };

	if (offset % INNODB_SPLIT_BLOCK != 0 || length < INNODB_SPLIT_BLOCK
	    || !innodb_split_tail(at, &tail.split))
		return 0;
	return add_part(&pages->tails, &pages->tail_count, &pages->tail_capacity, &tail);
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
		if ((pages->engines & DBPAGES_INNODB) && look_tail(pages, region + at,
		    length - at, offset + at) != 0)
			return (size_t)-1;
		if ((pages->engines & DBPAGES_PG)
		    && look_pg(pages, region + at, length - at, offset + at) != 0)
			return (size_t)-1;
	}
	return at < length ? at : length;
}

/* The carried tail, looked at with whatever length it has: the source ends there, or the
 * next buffer does not continue it. */
int dbpages_finish_scan(struct dbpages *pages)
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
			carried = dbpages_finish_scan(pages);
		if (carried != 0)
			return carried < 0 ? -1 : 0;
	}
	done = scan_region(pages, buffer, length, source_offset, length, 0);
	if (done == (size_t)-1)
		return -1;
	keep_tail(pages, buffer, length, source_offset, done);
	return 0;
}

/* ------------------------------------------------------------------ split pages */

int dbpages_read_source(const struct dbpages_output *output, unsigned char *buffer,
    size_t size, uint64_t offset)
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

/* Tails by (bytes of the page they hold, key): the order heads are looked up in. */
static int part_order(const void *left, const void *right)
{
	const struct innodb_split *a = &((const struct split_part *)left)->split;
	const struct innodb_split *b = &((const struct split_part *)right)->split;

	if (a->tail != b->tail)
		return a->tail < b->tail ? -1 : 1;
	return a->key < b->key ? -1 : a->key > b->key;
}

static int join_order(const void *left, const void *right)
{
	uint64_t a = ((const struct joined_page *)left)->head;
	uint64_t b = ((const struct joined_page *)right)->head;

	return a < b ? -1 : a > b;
}

/* The first tail not ordered before KEY (part_order), or TAIL_COUNT. */
static size_t first_tail(const struct dbpages *pages, const struct split_part *key)
{
	size_t low = 0, high = pages->tail_count;

	while (low < high) {
		size_t middle = low + (high - low) / 2;

		if (part_order(&pages->tails[middle], key) < 0)
			low = middle + 1;
		else
			high = middle;
	}
	return low;
}

/* The 16 KiB page JOIN describes, read into BUFFER: 0 or -1. */
static int read_pair(const struct dbpages_output *output, const struct joined_page *join,
    unsigned char *buffer)
{
	memset(buffer, 0, INNODB_DEFAULT_PAGE);
	if (dbpages_read_source(output, buffer, join->prefix, join->head) != 0
	    || dbpages_read_source(output, buffer + join->prefix, join->length, join->tail) != 0)
		return -1;
	return 0;
}

/* HEAD completed by the first tail with its key that makes a valid page: 1 (added), 0
 * (none did), -1 (no memory). */
static int join_head(struct dbpages *pages, const struct dbpages_output *output,
    const struct split_part *head, unsigned char *buffer)
{
	for (size_t i = first_tail(pages, head); i < pages->tail_count
	    && part_order(&pages->tails[i], head) == 0; i++) {
		struct joined_page join = { .head = head->offset, .tail = pages->tails[i].offset,
		    .prefix = head->split.prefix, .length = head->split.tail };
		struct innodb_page page;
		struct page_entry entry;

		if (read_pair(output, &join, buffer) != 0 || innodb_page_parse(buffer,
		    INNODB_DEFAULT_PAGE, INNODB_DEFAULT_PAGE, &page) != INNODB_PAGE)
			continue;
		entry = innodb_entry(&page, head->offset, INNODB_DEFAULT_PAGE);
		entry.joined = 1;
		if (add_entry(pages, &entry) != 0)
			return -1;
		pages->joins[pages->join_count++] = join;
		return 1;
	}
	return 0;
}

int dbpages_join_splits(struct dbpages *pages, const struct dbpages_output *output)
{
	unsigned char *buffer;
	int result = 0;

	if (pages->head_count == 0 || pages->joins != NULL)
		return 0;	/* nothing to join, or joined already */
	buffer = malloc(INNODB_DEFAULT_PAGE);
	pages->joins = malloc(pages->head_count * sizeof *pages->joins);
	if (buffer == NULL || pages->joins == NULL) {
		free(buffer);
		return -1;
	}
	if (pages->tail_count)
		qsort(pages->tails, pages->tail_count, sizeof *pages->tails, part_order);
	for (size_t i = 0; i < pages->head_count && result >= 0; i++) {
		result = join_head(pages, output, &pages->heads[i], buffer);
		if (result == 0)
			count_bad(pages, DBPAGES_INNODB, pages->heads[i].split.space_id);
	}
	if (pages->join_count)
		qsort(pages->joins, pages->join_count, sizeof *pages->joins, join_order);
	free(buffer);
	return result < 0 ? -1 : 0;
}

int dbpages_read_joined(const struct dbpages *pages, const struct dbpages_output *output,
    const struct page_entry *entry, unsigned char *buffer, size_t size)
{
	struct joined_page key = { .head = entry->offset };
	const struct joined_page *join = pages->join_count ? bsearch(&key, pages->joins,
	    pages->join_count, sizeof key, join_order) : NULL;

	if (join == NULL || size != INNODB_DEFAULT_PAGE)
		return -1;
	return read_pair(output, join, buffer);
}

/* ------------------------------------------------------------------ keeping the index */

/* The index file is a run of records, each this header and then the entries, split
 * halves (heads, tails) fed since the record before, and the state that changes in place
 * (bad counts, names, carried bytes). A record's FIRST_* say how many of each came
 * before it, so a record appended to another file, or twice, does not load; its CRC
 * covers header and payload, so a record cut short (the rescue machine lost power while
 * appending) or damaged ends the file there. A run's first save replaces the file with
 * one record holding everything; the saves after it append. */
struct saved_record {
	char magic[16];
	uint64_t position, first_entry, entry_count, first_head, head_count, first_tail,
	    tail_count, first_btree, btree_count, bad_groups, bad_elsewhere, pg_index_pages, pg_unplaced, pg_guessed,
	    pg_bad_line_pointers, name_count, carry_length, carry_offset, engines, max_page;
	uint32_t crc, unused;
};
static const char saved_magic[16] = "rescue-dbindex4";

/* The payload's parts, in order: where they are in PAGES and how many bytes. */
static void record_parts(const struct dbpages *pages, const struct dbpages_saved *since,
    const void *sources[7], size_t sizes[7])
{
	sources[0] = pages->entries + since->entries;
	sizes[0] = (pages->count - since->entries) * sizeof *pages->entries;
	sources[1] = pages->heads + since->heads;
	sizes[1] = (pages->head_count - since->heads) * sizeof *pages->heads;
	sources[2] = pages->tails + since->tails;
	sizes[2] = (pages->tail_count - since->tails) * sizeof *pages->tails;
	sources[3] = pages->btree + since->btree;
	sizes[3] = (pages->btree_count - since->btree) * sizeof *pages->btree;
	sources[4] = pages->bad;
	sizes[4] = pages->bad_groups * sizeof *pages->bad;
	sources[5] = pages->names;
	sizes[5] = pages->name_count * sizeof *pages->names;
	sources[6] = pages->carry;
	sizes[6] = pages->carry_length;
}

void *dbpages_save(const struct dbpages *pages, uint64_t position,
    const struct dbpages_saved *since, size_t *size)
{
	struct saved_record header = { .position = position, .first_entry = since->entries,
	    .entry_count = pages->count - since->entries, .first_head = since->heads,
	    .head_count = pages->head_count - since->heads, .first_tail = since->tails,
	    .tail_count = pages->tail_count - since->tails, .first_btree = since->btree,
	    .btree_count = pages->btree_count - since->btree, .bad_groups = pages->bad_groups,
	    .bad_elsewhere = pages->bad_elsewhere, .pg_index_pages = pages->pg_index_pages,
	    .pg_unplaced = pages->pg_unplaced, .pg_guessed = pages->pg_guessed,
	    .pg_bad_line_pointers = pages->pg_bad_line_pointers,
	    .name_count = pages->name_count, .carry_length = pages->carry_length,
	    .carry_offset = pages->carry_offset, .engines = pages->engines,
	    .max_page = pages->max_page };
	const void *sources[7];
	size_t sizes[7];
	unsigned char *data, *at;

	record_parts(pages, since, sources, sizes);
	memcpy(header.magic, saved_magic, sizeof header.magic);
	*size = sizeof header;
	for (int i = 0; i < 7; i++)
		*size += sizes[i];
	data = malloc(*size);
	if (data == NULL)
		return NULL;
	at = data + sizeof header;
	for (int i = 0; i < 7; i++) {
		if (sizes[i])
			memcpy(at, sources[i], sizes[i]);
		at += sizes[i];
	}
	header.crc = crc32c_update(crc32c(&header, sizeof header), data + sizeof header,
	    *size - sizeof header);
	memcpy(data, &header, sizeof header);
	return data;
}

void dbpages_mark_saved(const struct dbpages *pages, struct dbpages_saved *saved,
    size_t size)
{
	saved->bytes += size;
	saved->entries = pages->count;
	saved->heads = pages->head_count;
	saved->tails = pages->tail_count;
	saved->btree = pages->btree_count;
}

/* 0 with the payload's length in *LENGTH when the header's counts fit this build's
 * bounds, the REST bytes after it, and follow what PAGES holds so far; else -1. */
static int check_record(const struct dbpages *pages, const struct saved_record *header,
    size_t rest, size_t *length)
{
	if (memcmp(header->magic, saved_magic, sizeof header->magic) != 0
	    || header->engines != pages->engines || header->max_page != pages->max_page
	    || header->bad_groups > MAX_BAD_GROUPS || header->carry_length > 2 * pages->max_page
	    || header->first_entry != pages->count || header->first_head != pages->head_count
	    || header->first_tail != pages->tail_count || header->first_btree != pages->btree_count
	    || header->entry_count > rest / sizeof *pages->entries
	    || header->name_count > rest / sizeof *pages->names
	    || header->head_count > rest / sizeof *pages->heads
	    || header->tail_count > rest / sizeof *pages->tails
	    || header->btree_count > rest / sizeof *pages->btree)
		return -1;
	*length = header->entry_count * sizeof *pages->entries
	    + (header->head_count + header->tail_count) * sizeof *pages->heads
	    + header->btree_count * sizeof *pages->btree
	    + header->bad_groups * sizeof *pages->bad + header->name_count * sizeof *pages->names
	    + header->carry_length;
	return *length <= rest ? 0 : -1;
}

/* Makes room for COUNT more items of SIZE bytes in *ITEMS (holding *USED of *CAPACITY). */
static int make_room(void **items, size_t *used, size_t *capacity, size_t count, size_t size)
{
	void *grown;

	if (*used + count <= *capacity)
		return 0;
	grown = realloc(*items, (*used + count) * size + 1);
	if (grown == NULL)
		return -1;
	*items = grown;
	*capacity = *used + count;
	return 0;
}

static int append_items(void **items, size_t *used, size_t *capacity, size_t count,
    size_t size, const unsigned char **at)
{
	if (make_room(items, used, capacity, count, size) != 0)
		return -1;
	if (count)
		memcpy((unsigned char *)*items + *used * size, *at, count * size);
	*used += count;
	*at += count * size;
	return 0;
}

/* The record's payload at AT (checked) added to PAGES; 0 or -1 (no memory). */
static int load_record(struct dbpages *pages, const struct saved_record *header,
    const unsigned char *at)
{
	size_t names = (size_t)header->name_count * sizeof *pages->names;

	if (append_items((void **)&pages->entries, &pages->count, &pages->capacity,
	    (size_t)header->entry_count, sizeof *pages->entries, &at) != 0
	    || append_items((void **)&pages->heads, &pages->head_count, &pages->head_capacity,
	    (size_t)header->head_count, sizeof *pages->heads, &at) != 0
	    || append_items((void **)&pages->tails, &pages->tail_count, &pages->tail_capacity,
	    (size_t)header->tail_count, sizeof *pages->tails, &at) != 0
	    || append_items((void **)&pages->btree, &pages->btree_count, &pages->btree_capacity,
	    (size_t)header->btree_count, sizeof *pages->btree, &at) != 0)
		return -1;
	memcpy(pages->bad, at, (size_t)header->bad_groups * sizeof *pages->bad);
	at += header->bad_groups * sizeof *pages->bad;
	pages->name_count = 0;
	if (make_room((void **)&pages->names, &pages->name_count, &pages->name_capacity,
	    (size_t)header->name_count, sizeof *pages->names) != 0)
		return -1;
	if (names)	/* NAMES may still be NULL when there are none */
		memcpy(pages->names, at, names);
	at += names;
	memcpy(pages->carry, at, (size_t)header->carry_length);
	for (size_t i = 0; i < header->name_count; i++)
		pages->names[i].name[sizeof pages->names[i].name - 1] = '\0';
	pages->name_count = (size_t)header->name_count;
	pages->bad_groups = (size_t)header->bad_groups;
	pages->bad_elsewhere = header->bad_elsewhere;
	pages->pg_index_pages = header->pg_index_pages;
	pages->pg_unplaced = header->pg_unplaced;
	pages->pg_guessed = header->pg_guessed;
	pages->pg_bad_line_pointers = header->pg_bad_line_pointers;
	pages->carry_length = (size_t)header->carry_length;
	pages->carry_offset = header->carry_offset;
	return 0;
}

int dbpages_load(struct dbpages *pages, const void *data, size_t size, uint64_t position)
{
	const unsigned char *bytes = data;
	size_t at = 0, length;

	while (size - at >= sizeof (struct saved_record)) {
		struct saved_record header;
		uint32_t crc;

		memcpy(&header, bytes + at, sizeof header);
		crc = header.crc;
		header.crc = 0;
		if (check_record(pages, &header, size - at - sizeof header, &length) != 0
		    || crc32c_update(crc32c(&header, sizeof header), bytes + at + sizeof header,
		    length) != crc)
			return -1;	/* cut short, damaged, or not a record that follows */
		if (load_record(pages, &header, bytes + at + sizeof header) != 0)
			return -1;
		if (header.position == position)
			return 0;
		at += sizeof header + length;
	}
	return -1;
}
