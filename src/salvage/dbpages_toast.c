/* dbpages_toast.c: PostgreSQL TOAST relations linked to the heap relations that use them.
 *
 * A table's values too long for its pages are cut into chunks in its TOAST relation (see
 * dbpage_pg.h); the heap tuple keeps a pointer naming the chunks' value id and the TOAST
 * relation's OID. Neither page says which carved file holds the other, so while the
 * relations are written, the chunks on every TOAST page written and the pointers on every
 * heap page written are noted (16 bytes each: memory grows with the pages kept, not with
 * the disk). Then each heap relation's pointers, the OID most of them name, are looked up
 * among each TOAST relation's chunk ids: the TOAST relation holding most of them is the
 * table's (a value id found there is not a guess: value ids are unique OIDs, and any
 * bytes that merely look like a pointer name none). Each toasted value is complete (every
 * chunk its stored size needs, each of the right size), partial, or missing.
 *
 * RESTORE.md then gives the commands for a table with its TOAST relation: PostgreSQL
 * reads a toasted value from the relation whose OID the pointer names, so the table is
 * created in binary-upgrade mode (as pg_upgrade does) with its TOAST relation given that
 * OID. Checked against PostgreSQL 15 by tests/db/roundtrip.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "base/json.h"
#include "salvage/dbpages_internal.h"

struct chunk_note {
	uint32_t relation;		/* the TOAST relation's first report */
	uint32_t chunk_id, seq, size;
};

struct pointer_note {
	uint32_t relation;		/* the heap relation's first report */
	uint32_t value_id, toast_relid, extsize;
};

struct toast_links {
	struct chunk_note *chunks;
	size_t chunk_count, chunk_capacity;
	struct pointer_note *pointers;
	size_t pointer_count, pointer_capacity;
	uint64_t bad_chunks;		/* on the page at hand */
	uint32_t relation;
	int failed;
};

/* The OIDs RESTORE.md gives the new table's pg_type rows, pg_class rows and files: far
 * above the OIDs a cluster hands out (it counts from 16384), RESTORE_OID_STEP apart for
 * each table. */
#define RESTORE_OID_BASE 3000000000u
enum { RESTORE_OID_STEP = 10 };

static void *grow(void *array, size_t *capacity, size_t size)
{
	size_t wanted = *capacity ? 2 * *capacity : 1024;
	void *grown = realloc(array, wanted * size);

	if (grown != NULL)
		*capacity = wanted;
	return grown;
}

static void add_chunk(void *context, const struct pg_toast_chunk *chunk)
{
	struct toast_links *links = context;

	if (links->chunk_count == links->chunk_capacity) {
		struct chunk_note *grown = grow(links->chunks, &links->chunk_capacity,
		    sizeof *grown);

		if (grown == NULL) {
			links->failed = 1;
			return;
		}
		links->chunks = grown;
	}
	links->chunks[links->chunk_count++] = (struct chunk_note){ links->relation,
	    chunk->chunk_id, chunk->seq, chunk->size };
}

static void add_pointer(void *context, const struct pg_toast_pointer *pointer)
{
	struct toast_links *links = context;

	if (links->pointer_count == links->pointer_capacity) {
		struct pointer_note *grown = grow(links->pointers, &links->pointer_capacity,
		    sizeof *grown);

		if (grown == NULL) {
			links->failed = 1;
			return;
		}
		links->pointers = grown;
	}
	links->pointers[links->pointer_count++] = (struct pointer_note){ links->relation,
	    pointer->value_id, pointer->toast_relid, pointer->extsize };
}

int dbpages_toast_note(struct writer *writer, uint32_t group, const unsigned char *page)
{
	struct toast_links *links = writer->toast;

	if (links == NULL) {
		links = writer->toast = calloc(1, sizeof *links);
		if (links == NULL)
			return -1;
	}
	links->relation = (uint32_t)writer->relation_report;
	if (group == PG_TOAST_GROUP)
		writer->reports[writer->relation_report].toast.bad_chunks
		    += pg_toast_chunks(page, add_chunk, links);
	else
		(void)pg_toast_pointers(page, add_pointer, links);
	return links->failed ? -1 : 0;
}

void dbpages_toast_free(struct writer *writer)
{
	if (writer->toast == NULL)
		return;
	free(writer->toast->chunks);
	free(writer->toast->pointers);
	free(writer->toast);
	writer->toast = NULL;
}

static int chunk_order(const void *left, const void *right)
{
	const struct chunk_note *a = left, *b = right;

	if (a->relation != b->relation)
		return a->relation < b->relation ? -1 : 1;
	if (a->chunk_id != b->chunk_id)
		return a->chunk_id < b->chunk_id ? -1 : 1;
	return a->seq < b->seq ? -1 : a->seq > b->seq;
}

static int pointer_order(const void *left, const void *right)
{
	const struct pointer_note *a = left, *b = right;

	if (a->relation != b->relation)
		return a->relation < b->relation ? -1 : 1;
	if (a->toast_relid != b->toast_relid)
		return a->toast_relid < b->toast_relid ? -1 : 1;
	return a->value_id < b->value_id ? -1 : a->value_id > b->value_id;
}

/* The first chunk of RELATION's value VALUE_ID in the sorted chunks, or COUNT. */
static size_t find_value(const struct chunk_note *chunks, size_t count, uint32_t relation,
    uint32_t value_id)
{
	size_t low = 0, high = count;

	while (low < high) {
		size_t middle = low + (high - low) / 2;
		const struct chunk_note *at = &chunks[middle];

		if (at->relation < relation || (at->relation == relation && at->chunk_id < value_id))
			low = middle + 1;
		else
			high = middle;
	}
	return low < count && chunks[low].relation == relation && chunks[low].chunk_id == value_id
	    ? low : count;
}

/* A TOAST relation's own counts: values, chunks, values with a gap, chunks twice. */
static void count_toast_relation(struct writer *writer, const struct chunk_note *chunks,
    size_t count)
{
	struct toast_summary *toast = &writer->reports[chunks[0].relation].toast;

	toast->chunks = count;
	for (size_t i = 0, end; i < count; i = end) {
		uint32_t expected = 0;
		int gap = 0;

		for (end = i; end < count && chunks[end].chunk_id == chunks[i].chunk_id; end++) {
			if (end > i && chunks[end].seq == chunks[end - 1].seq) {
				toast->duplicates++;
				continue;
			}
			gap |= chunks[end].seq != expected;
			expected = chunks[end].seq + 1;
		}
		toast->values++;
		toast->gaps += gap;
	}
}

/* How many of the chunks value VALUE_ID needs (stored size EXTSIZE) RELATION holds,
 * each with the size it must have; NEEDED set. */
static uint32_t chunks_present(const struct toast_links *links, uint32_t relation,
    uint32_t value_id, uint32_t extsize, uint32_t *needed)
{
	size_t at = find_value(links->chunks, links->chunk_count, relation, value_id);
	uint32_t present = 0, next = 0;

	*needed = (extsize + PG_TOAST_CHUNK - 1) / PG_TOAST_CHUNK;
	for (; at < links->chunk_count && links->chunks[at].relation == relation
	    && links->chunks[at].chunk_id == value_id; at++) {
		const struct chunk_note *chunk = &links->chunks[at];
		uint32_t size = chunk->seq + 1 < *needed ? PG_TOAST_CHUNK
		    : extsize - (*needed - 1) * PG_TOAST_CHUNK;

		if (chunk->seq < next || chunk->seq >= *needed || chunk->size != size)
			continue;	/* a duplicate, or not this value's chunk */
		present++;
		next = chunk->seq + 1;
	}
	return present;
}

/* The distinct value ids of POINTERS [FROM, TO) (one heap relation, one OID, sorted)
 * found in the TOAST relation RELATION. */
static uint64_t matches_in(const struct toast_links *links, size_t from, size_t to,
    uint32_t relation)
{
	uint64_t found = 0;

	for (size_t i = from; i < to; i++)
		if ((i == from || links->pointers[i].value_id != links->pointers[i - 1].value_id)
		    && find_value(links->chunks, links->chunk_count, relation,
		    links->pointers[i].value_id) < links->chunk_count)
			found++;
	return found;
}

static uint64_t distinct_values(const struct pointer_note *pointers, size_t from, size_t to)
{
	uint64_t count = 0;

	for (size_t i = from; i < to; i++)
		count += i == from || pointers[i].value_id != pointers[i - 1].value_id;
	return count;
}

/* The TOAST relation (report index) holding most of the value ids of POINTERS [FROM,
 * TO); MATCHES set (0: none holds any, and the index returned means nothing). */
static size_t best_toast_relation(const struct writer *writer, size_t from, size_t to,
    uint64_t *matches)
{
	size_t best = 0;

	*matches = 0;
	for (size_t r = 0; r < writer->report_count; r++) {
		uint64_t found;

		if (writer->reports[r].engine != DBPAGES_PG || writer->reports[r].first != 0
		    || writer->reports[r].group != PG_TOAST_GROUP)
			continue;
		found = matches_in(writer->toast, from, to, (uint32_t)r);
		if (found > *matches) {
			*matches = found;
			best = r;
		}
	}
	return best;
}

/* The pointers of one heap relation ([FROM, TO), sorted by OID): the OID most of its
 * value ids are found under (or, none found, most of them name) is its TOAST relation;
 * its values classified, the others counted as bytes that only look like pointers. */
static void link_heap_relation(struct writer *writer, size_t from, size_t to)
{
	const struct pointer_note *pointers = writer->toast->pointers;
	struct toast_summary *toast = &writer->reports[pointers[from].relation].toast;
	size_t best_from = from, best_to = from, toast_file = 0;
	uint64_t best_matches = 0, best_count = 0, all = distinct_values(pointers, from, to);

	for (size_t i = from, end; i < to; i = end) {
		uint64_t matches, count;
		size_t file;

		for (end = i; end < to && pointers[end].toast_relid == pointers[i].toast_relid;)
			end++;
		file = best_toast_relation(writer, i, end, &matches);
		count = distinct_values(pointers, i, end);
		if (matches > best_matches || (matches == best_matches && count > best_count)) {
			best_matches = matches;
			best_count = count;
			best_from = i;
			best_to = end;
			toast_file = matches ? file + 1 : 0;
		}
	}
	toast->toast_relid = pointers[best_from].toast_relid;
	toast->toast_file = toast_file;
	toast->pointers = best_count;
	toast->other_pointers = all - best_count;
	if (toast_file)
		writer->reports[toast_file - 1].toast.used_by++;
	for (size_t i = best_from; i < best_to; i++) {
		uint32_t needed, present;

		if (i > best_from && pointers[i].value_id == pointers[i - 1].value_id)
			continue;
		present = toast_file == 0 ? 0 : chunks_present(writer->toast,
		    (uint32_t)(toast_file - 1), pointers[i].value_id, pointers[i].extsize, &needed);
		if (toast_file && present == needed)
			toast->complete++;
		else if (present > 0)
			toast->partial++;
		else
			toast->missing++;
	}
}

int dbpages_toast_link(struct writer *writer)
{
	struct toast_links *links = writer->toast;

	if (links == NULL)
		return 0;
	if (links->chunk_count)
		qsort(links->chunks, links->chunk_count, sizeof *links->chunks, chunk_order);
	if (links->pointer_count)
		qsort(links->pointers, links->pointer_count, sizeof *links->pointers, pointer_order);
	for (size_t i = 0, end; i < links->chunk_count; i = end) {
		for (end = i; end < links->chunk_count
		    && links->chunks[end].relation == links->chunks[i].relation;)
			end++;
		count_toast_relation(writer, links->chunks + i, end - i);
	}
	for (size_t i = 0, end; i < links->pointer_count; i = end) {
		for (end = i; end < links->pointer_count
		    && links->pointers[end].relation == links->pointers[i].relation;)
			end++;
		link_heap_relation(writer, i, end);
	}
	return 0;
}

/* ------------------------------------------------------------------ what is said */

/* The file name after the prefix's folder, as RESTORE.md (beside the files) names it. */
static const char *base_name(const char *name)
{
	const char *slash = strrchr(name, '/');

	return slash ? slash + 1 : name;
}

void dbpages_toast_json(FILE *out, const struct writer *writer, const struct file_report *report)
{
	const struct toast_summary *toast = &report->toast;

	if (report->engine != DBPAGES_PG || report->first != 0)
		return;
	if (report->group == PG_TOAST_GROUP) {
		fprintf(out, ", \"toast\": {\"values\": %" PRIu64 ", \"chunks\": %" PRIu64
		    ", \"values_with_gaps\": %" PRIu64 ", \"duplicate_chunks\": %" PRIu64
		    ", \"bad_chunks\": %" PRIu64 ", \"used_by\": %u}", toast->values, toast->chunks,
		    toast->gaps, toast->duplicates, toast->bad_chunks, toast->used_by);
		return;
	}
	if (toast->pointers == 0)
		return;
	fprintf(out, ", \"toasted\": {");
	json_member_string(out, "toast_file", toast->toast_file
	    ? writer->reports[toast->toast_file - 1].name : "", 0);
	fprintf(out, ", \"toast_relation_oid\": %" PRIu32 ", \"values\": %" PRIu64
	    ", \"complete\": %" PRIu64 ", \"partial\": %" PRIu64 ", \"missing\": %" PRIu64
	    ", \"other_pointers\": %" PRIu64 "}", toast->toast_relid, toast->pointers,
	    toast->complete, toast->partial, toast->missing, toast->other_pointers);
}

void dbpages_toast_text(FILE *out, const struct writer *writer, const struct file_report *report)
{
	const struct toast_summary *toast = &report->toast;

	if (report->engine != DBPAGES_PG || report->first != 0)
		return;
	if (report->group == PG_TOAST_GROUP) {
		fprintf(out, "    TOAST relation: %" PRIu64 " values in %" PRIu64 " chunks, used by %u "
		    "relation(s)\n", toast->values, toast->chunks, toast->used_by);
		if (toast->gaps || toast->duplicates || toast->bad_chunks)
			fprintf(out, "    values with a gap in chunk_seq %" PRIu64 ", chunks found "
			    "twice %" PRIu64 ", tuples that are not chunks (chunk_data longer than "
			    "the page allows, or compressed) %" PRIu64 "\n", toast->gaps,
			    toast->duplicates, toast->bad_chunks);
		return;
	}
	if (toast->pointers == 0)
		return;
	if (toast->toast_file)
		fprintf(out, "    toasted values %" PRIu64 " in %s (TOAST relation OID %" PRIu32
		    "): complete %" PRIu64 ", partial %" PRIu64 ", missing %" PRIu64 "\n",
		    toast->pointers, writer->reports[toast->toast_file - 1].name, toast->toast_relid,
		    toast->complete, toast->partial, toast->missing);
	else
		fprintf(out, "    toasted values %" PRIu64 ": their TOAST relation (OID %" PRIu32
		    ") was not found, no value id matches a chunk: missing %" PRIu64 "\n",
		    toast->pointers, toast->toast_relid, toast->missing);
	if (toast->other_pointers)
		fprintf(out, "    %" PRIu64 " byte strings that read as TOAST pointers to other "
		    "OIDs, matching no chunk found, not counted\n", toast->other_pointers);
}

static const char restore_toast[] =
"### `%s` with its TOAST relation `%s` (OID %" PRIu32 ")\n\n"
"Its long values are in `%s`: %" PRIu64 " complete, %" PRIu64 " partial, %" PRIu64
" missing.\n"
"PostgreSQL reads them from the relation with OID %" PRIu32 ", so the new table's TOAST\n"
"relation must get that OID. Binary-upgrade mode (what pg_upgrade uses) lets a session\n"
"choose the OIDs and file numbers of the next table it creates:\n\n"
"1. On a copy of the cluster (COPY), stopped: `pg_ctl -D COPY -o '-b' -w start`\n"
"2. In `psql` on the database the table goes into, create the table with its columns\n"
"   only (no PRIMARY KEY, UNIQUE, index, serial or identity yet):\n\n"
"       SELECT binary_upgrade_set_next_pg_type_oid(%" PRIu32 ");\n"
"       SELECT binary_upgrade_set_next_array_pg_type_oid(%" PRIu32 ");\n"
"       SELECT binary_upgrade_set_next_heap_pg_class_oid(%" PRIu32 ");\n"
"       SELECT binary_upgrade_set_next_heap_relfilenode(%" PRIu32 ");\n"
"       SELECT binary_upgrade_set_next_toast_pg_class_oid(%" PRIu32 ");\n"
"       SELECT binary_upgrade_set_next_toast_relfilenode(%" PRIu32 ");\n"
"       SELECT binary_upgrade_set_next_index_pg_class_oid(%" PRIu32 ");\n"
"       SELECT binary_upgrade_set_next_index_relfilenode(%" PRIu32 ");\n"
"       CREATE TABLE recovered (...);\n"
"       SELECT pg_relation_filepath('recovered');\n\n"
"   The last line gives `base/DB/%" PRIu32 "`. (Checked with PostgreSQL 15; 16 and 17 have\n"
"   the same functions. 12-14 have no `_relfilenode` ones: leave those two lines out, the\n"
"   files are then `base/DB/%" PRIu32 "` and `base/DB/%" PRIu32 "`; 12 and 13 also want\n"
"   `SELECT binary_upgrade_set_next_toast_pg_type_oid(N);` with another free N.)\n"
"3. `pg_ctl -D COPY -w stop`, then copy the files, owned by `postgres`:\n\n"
"       cp %s COPY/base/DB/%" PRIu32 "\n"
"       cp %s COPY/base/DB/%" PRIu32 "\n"
"       chown postgres COPY/base/DB/%" PRIu32 " COPY/base/DB/%" PRIu32 "\n\n"
"   (segments `.1`, `.2` ... beside them the same way).\n"
"4. `pg_ctl -D COPY -w start` (normally, without `-b`), then in `psql`:\n"
"   `REINDEX TABLE recovered;` (the TOAST relation's index is not carved: it is rebuilt\n"
"   from the chunks) and `SELECT count(*) FROM recovered;`. Add the primary key and the\n"
"   indexes left out in step 2.\n\n"
"The OIDs above are chosen far above the ones a cluster hands out; if one is taken\n"
"(`SELECT oid FROM pg_class WHERE oid = N` and the same on pg_type), pick others.\n"
"A partial or missing value fails with \"missing chunk number\" when read: select the\n"
"other columns of those rows.\n\n";

/* The commands for heap relation REPORT (linked to a TOAST relation), its OIDs counted
 * from BASE. */
static void restore_one(FILE *out, const struct writer *writer, const struct file_report *report,
    uint32_t base)
{
	const struct toast_summary *toast = &report->toast;
	const char *heap = base_name(report->name);
	const char *toast_name = base_name(writer->reports[toast->toast_file - 1].name);

	fprintf(out, restore_toast, heap, toast_name, toast->toast_relid, toast_name,
	    toast->complete, toast->partial, toast->missing, toast->toast_relid,
	    base + 1, base + 2, base + 3, base + 3, toast->toast_relid, base + 4, base + 5,
	    base + 5, base + 3, base + 3, toast->toast_relid, heap, base + 3, toast_name,
	    base + 4, base + 3, base + 4);
}

void dbpages_toast_restore(FILE *out, const struct writer *writer)
{
	uint32_t base = RESTORE_OID_BASE;
	int said = 0;

	for (size_t i = 0; i < writer->report_count; i++) {
		const struct file_report *report = &writer->reports[i];

		if (report->engine != DBPAGES_PG || report->first != 0
		    || report->group == PG_TOAST_GROUP || report->toast.pointers == 0)
			continue;
		if (!said)
			fputs("## PostgreSQL tables with TOASTed values\n\n", out);
		said = 1;
		if (report->toast.toast_file == 0) {
			fprintf(out, "`%s` has %" PRIu64 " values TOASTed in relation OID %" PRIu32
			    ", which was not found: read its other columns as above.\n\n",
			    base_name(report->name), report->toast.pointers, report->toast.toast_relid);
			continue;
		}
		restore_one(out, writer, report, base);
		base += RESTORE_OID_STEP;
	}
}
