/* dbpages_btree.c: PostgreSQL btree indexes put back together from their own links.
 *
 * A btree page does not name its block, and its checksum alone allows one block in 65535
 * (more past 65536 blocks): too many candidates to place a page by itself. Its links
 * do it, each end's checksum allowing the block the other end names:
 * - the metapage (its checksum allowing block 0) names the root: the page flagged
 *   BTP_ROOT of the level the metapage gives, alone on its level. Only a metapage and a
 *   root that match each other and nothing else are paired.
 * - a placed internal page's downlinks name the pages of the level below; the child a
 *   downlink names must have as its high key the pivot after that downlink (the parent's
 *   own high key after its last), byte for byte but the downlink field: the pivot is a
 *   copy of it. Indexes built alike have the same block numbers and the same chains of
 *   siblings; their keys tell them apart.
 * - a page whose parent was not found is placed by its siblings: btpo_next of a placed
 *   page names it and its btpo_prev names that page back, of the same level. Where
 *   pages of two indexes would both claim it that way, it is ambiguous.
 * Each link joins its ends into one index (union-find). A page no link places is left
 * out; a page placed at two blocks, a page the sibling links of two indexes claim, and
 * metapages and roots that do not match one to one are ambiguous: left out, named in the
 * report. Pages of one block of one index are versions of one page: the newest LSN is
 * written. Only clusters with data checksums: without them nothing checks a link's end
 * is the page it names.
 */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "salvage/dbpage_pg.h"
#include "salvage/dbpages_internal.h"

/* Block numbers past this are never searched: a relation of 16 GiB, 2^21 blocks. */
enum { MAX_LINKED_BLOCK = (1u << 21) - 1, MAX_PASSES = 32, MAX_INDEX_GROUPS = 0xffff };

struct candidate {
	uint32_t block;			/* first: lower_bound reads it */
	uint32_t page;
};

struct btree_index {
	uint32_t first_page;		/* first (lower_bound reads it): its member with
					 * the lowest source offset */
	int meta;
	uint32_t root, levels;
};

struct btree_place {
	struct btree_index *indexes;
	size_t index_count;
};

struct downlink {
	uint32_t block;
	uint64_t high_key;		/* what the child's must be (0: rightmost) */
};

struct placing {
	const struct btree_entry *pages;
	size_t count;
	uint32_t *block, *parent;
	uint8_t *conflict;
	struct candidate *candidates;
	size_t candidate_count;
	uint32_t *link_start;		/* downlinks of page i: links[link_start[i] ..
					 * link_start[i + 1]) */
	struct downlink *links;
	uint32_t *queue;		/* link_siblings' pages to extend from */
	size_t link_count, link_capacity;
	int changed, failed;
};

static uint32_t find(struct placing *p, uint32_t i)
{
	while (p->parent[i] != i) {
		p->parent[i] = p->parent[p->parent[i]];
		i = p->parent[i];
	}
	return i;
}

static void set_block(struct placing *p, uint32_t page, uint32_t block)
{
	if (p->block[page] == PG_NO_BLOCK) {
		p->block[page] = block;
		p->changed = 1;
	} else if (p->block[page] != block && !p->conflict[page]) {
		p->conflict[page] = 1;
		p->changed = 1;
	}
}

static void place_pair(struct placing *p, uint32_t a, uint32_t a_block, uint32_t b,
    uint32_t b_block)
{
	uint32_t ra, rb;

	set_block(p, a, a_block);
	set_block(p, b, b_block);
	ra = find(p, a);
	rb = find(p, b);
	if (ra != rb) {
		p->parent[ra < rb ? rb : ra] = ra < rb ? ra : rb;
		p->changed = 1;
	}
}

static int candidate_order(const void *left, const void *right)
{
	const struct candidate *a = left, *b = right;

	if (a->block != b->block)
		return a->block < b->block ? -1 : 1;
	return a->page < b->page ? -1 : a->page > b->page;
}

/* The first of COUNT records of STRIDE bytes at BASE, sorted by the uint32_t each
 * starts with, whose key is not below KEY; COUNT when none. */
static size_t lower_bound(const void *base, size_t count, size_t stride, uint32_t key)
{
	size_t low = 0, high = count;

	while (low < high) {
		size_t middle = low + (high - low) / 2;
		uint32_t at;

		memcpy(&at, (const unsigned char *)base + middle * stride, sizeof at);
		if (at < key)
			low = middle + 1;
		else
			high = middle;
	}
	return low;
}

/* The first candidate at BLOCK (the sorted table's index), or candidate_count. */
static size_t first_candidate(const struct placing *p, uint32_t block)
{
	return lower_bound(p->candidates, p->candidate_count, sizeof *p->candidates, block);
}

static void add_link(void *context, uint32_t block, uint64_t high_key)
{
	struct placing *p = context;

	if (p->failed)
		return;
	if (p->link_count == p->link_capacity) {
		size_t capacity = p->link_capacity ? 2 * p->link_capacity : 1024;
		struct downlink *grown = realloc(p->links, capacity * sizeof *grown);

		if (grown == NULL) {
			p->failed = 1;
			return;
		}
		p->links = grown;
		p->link_capacity = capacity;
	}
	p->links[p->link_count++] = (struct downlink){ block, high_key };
}

/* The downlinks of every internal page, read again from the source (a page that does not
 * read again as the page found has none). */
static int read_downlinks(struct writer *writer, struct placing *p)
{
	for (size_t i = 0; i < p->count; i++) {
		const struct btree_entry *entry = &p->pages[i];
		struct pg_page page;

		p->link_start[i] = (uint32_t)p->link_count;
		if (entry->meta || entry->level == 0 || writer->output->read(writer->output->source,
		    writer->buffer, PG_PAGE_SIZE, entry->offset) != PG_PAGE_SIZE
		    || pg_page_parse(writer->buffer, PG_PAGE_SIZE, &page) != PG_PAGE
		    || page.kind != PG_BTREE || page.lsn != entry->lsn || page.hash != entry->hash)
			continue;
		(void)pg_btree_downlinks(writer->buffer, add_link, p);
		if (p->failed)
			return -1;
	}
	p->link_start[p->count] = (uint32_t)p->link_count;
	return 0;
}

/* Every (block, page) the checksums allow up to the highest block any link names. */
static int list_candidates(struct placing *p)
{
	uint32_t limit = 0, blocks[64];
	size_t capacity = 0;

	for (size_t i = 0; i < p->count; i++) {
		const struct btree_entry *e = &p->pages[i];
		uint32_t most = e->prev > e->next ? e->prev : e->next;

		if (e->meta && e->root > most)
			most = e->root;
		if (most > limit)
			limit = most;
	}
	for (size_t i = 0; i < p->link_count; i++)
		if (p->links[i].block > limit)
			limit = p->links[i].block;
	if (limit > MAX_LINKED_BLOCK)
		limit = MAX_LINKED_BLOCK;
	for (size_t i = 0; i < p->count; i++) {
		unsigned n = pg_checksum_blocks(p->pages[i].hash, p->pages[i].checksum, limit,
		    blocks, sizeof blocks / sizeof blocks[0]);

		if (n > sizeof blocks / sizeof blocks[0])
			n = sizeof blocks / sizeof blocks[0];
		if (p->candidate_count + n > capacity) {
			size_t grown_capacity = 2 * capacity + n + 1024;
			struct candidate *grown = realloc(p->candidates,
			    grown_capacity * sizeof *grown);

			if (grown == NULL)
				return -1;
			p->candidates = grown;
			capacity = grown_capacity;
		}
		for (unsigned k = 0; k < n; k++)
			p->candidates[p->candidate_count++] = (struct candidate){ blocks[k],
			    (uint32_t)i };
	}
	if (p->candidate_count)
		qsort(p->candidates, p->candidate_count, sizeof *p->candidates, candidate_order);
	return 0;
}

static int allows(const struct btree_entry *e, uint32_t block)
{
	return pg_checksum_allows(e->hash, e->checksum, block);
}

static int root_of(const struct btree_entry *m, const struct btree_entry *r)
{
	return !r->meta && (r->flags & PG_BTP_ROOT) && r->level == m->root_level && r->prev == 0
	    && r->next == 0;
}

/* How many pages could be the root metapage M names; *LAST the last of them. */
static unsigned roots_named(const struct placing *p, const struct btree_entry *m,
    uint32_t *last)
{
	unsigned count = 0;

	for (size_t c = first_candidate(p, m->root); c < p->candidate_count
	    && p->candidates[c].block == m->root; c++)
		if (root_of(m, &p->pages[p->candidates[c].page])) {
			*last = p->candidates[c].page;
			count++;
		}
	return count;
}

static int meta_at_zero(const struct btree_entry *m)
{
	return m->meta && m->root != 0 && allows(m, 0);
}

/* Every root metapage M names placed at its block, each an index of its own. */
static void place_roots(struct placing *p, const struct btree_entry *m)
{
	for (size_t c = first_candidate(p, m->root); c < p->candidate_count
	    && p->candidates[c].block == m->root; c++)
		if (root_of(m, &p->pages[p->candidates[c].page]))
			set_block(p, p->candidates[c].page, m->root);
}

/* A metapage by the root it names. */
struct meta_key {
	uint32_t root, level, page;
};

static int meta_order(const void *left, const void *right)
{
	const struct meta_key *a = left, *b = right;

	if (a->root != b->root)
		return a->root < b->root ? -1 : 1;
	return a->level < b->level ? -1 : a->level > b->level;
}

/* The metapages at block 0 and the roots they name, one to one. Where two metapages
 * name the same block and level (two indexes of one height, built alike), or a
 * metapage names two roots, the metapages are ambiguous; each root still makes an index
 * of its own, whose keys place its pages, written without block 0. */
static int link_roots(struct placing *p)
{
	struct meta_key *metas = malloc((p->count + 1) * sizeof *metas);
	size_t count = 0;

	if (metas == NULL)
		return -1;
	for (size_t i = 0; i < p->count; i++)
		if (meta_at_zero(&p->pages[i]))
			metas[count++] = (struct meta_key){ p->pages[i].root, p->pages[i].root_level,
			    (uint32_t)i };
	if (count)
		qsort(metas, count, sizeof *metas, meta_order);
	for (size_t i = 0, end; i < count; i = end) {
		const struct btree_entry *m = &p->pages[metas[i].page];
		uint32_t root = 0;

		for (end = i + 1; end < count && meta_order(&metas[end], &metas[i]) == 0; end++)
			;
		if (end - i == 1 && roots_named(p, m, &root) == 1) {
			place_pair(p, metas[i].page, 0, root, m->root);
			continue;
		}
		for (size_t k = i; k < end; k++) {
			set_block(p, metas[k].page, 0);
			p->conflict[metas[k].page] = 1;
		}
		place_roots(p, m);
	}
	free(metas);
	return 0;
}

/* The child page J is the one the downlink LINK of a page of level LEVEL names. */
static int child_fits(const struct btree_entry *child, unsigned level, const struct downlink *link)
{
	if (child->meta || child->level + 1 != level)
		return 0;
	return link->high_key ? child->high_key == link->high_key
	    : child->next == 0 && child->high_key == 0;
}

/* The downlinks of placed internal pages. */
static void link_children(struct placing *p)
{
	for (size_t i = 0; i < p->count; i++) {
		const struct btree_entry *parent = &p->pages[i];

		if (p->block[i] == PG_NO_BLOCK || p->conflict[i] || parent->level == 0)
			continue;
		for (uint32_t l = p->link_start[i]; l < p->link_start[i + 1]; l++) {
			const struct downlink *link = &p->links[l];

			for (size_t c = first_candidate(p, link->block); c < p->candidate_count
			    && p->candidates[c].block == link->block; c++) {
				uint32_t j = p->candidates[c].page;

				if (j != i && child_fits(&p->pages[j], parent->level, link))
					place_pair(p, (uint32_t)i, p->block[i], j, link->block);
			}
		}
	}
}

/* Page J, not placed yet, as the sibling at BLOCK of the placed page FROM: placed and
 * joined, or, when another index's page claimed it already, ambiguous. */
static void claim_sibling(struct placing *p, uint32_t from, uint32_t j, uint32_t block,
    size_t *queued)
{
	if (p->block[j] == PG_NO_BLOCK) {
		place_pair(p, from, p->block[from], j, block);
		p->queue[(*queued)++] = j;
	} else if (!p->conflict[j] && (p->block[j] != block || find(p, j) != find(p, from))) {
		p->conflict[j] = 1;
		p->changed = 1;
	}
}

/* From every placed page along its level's chain to pages no downlink placed: both
 * links must agree, and both checksums allow the blocks. */
static void link_siblings(struct placing *p)
{
	size_t queued = 0;
	uint8_t *placed_before = calloc(p->count, 1);

	if (placed_before == NULL) {
		p->failed = 1;
		return;
	}
	for (size_t i = 0; i < p->count; i++)
		if (p->block[i] != PG_NO_BLOCK && !p->conflict[i] && !p->pages[i].meta) {
			p->queue[queued++] = (uint32_t)i;
			placed_before[i] = 1;
		}
	while (queued > 0) {
		uint32_t i = p->queue[--queued];
		const struct btree_entry *a = &p->pages[i];
		uint32_t at = p->block[i];

		if (p->conflict[i])
			continue;
		for (int side = 0; side < 2; side++) {
			uint32_t block = side ? a->prev : a->next;

			if (block == 0)
				continue;
			for (size_t c = first_candidate(p, block); c < p->candidate_count
			    && p->candidates[c].block == block; c++) {
				uint32_t j = p->candidates[c].page;
				const struct btree_entry *b = &p->pages[j];

				if (j == i || b->meta || b->level != a->level || placed_before[j]
				    || (side ? b->next : b->prev) != at)
					continue;
				claim_sibling(p, i, j, block, &queued);
			}
		}
	}
	free(placed_before);
}

/* Members of one index sorted by block: pages with one block and no conflict come first
 * by (index root, block). */
struct member {
	uint32_t root, block, page;
};

static int member_order(const void *left, const void *right)
{
	const struct member *a = left, *b = right;

	if (a->root != b->root)
		return a->root < b->root ? -1 : 1;
	if (a->block != b->block)
		return a->block < b->block ? -1 : 1;
	return a->page < b->page ? -1 : a->page > b->page;
}

static void note_ambiguous(struct writer *writer, size_t index, uint32_t block, int meta)
{
	size_t used = strlen(writer->ambiguous_text);
	char item[64];

	if (index == SIZE_MAX)		/* no page of that index is kept: no file */
		snprintf(item, sizeof item, "%s%s %" PRIu32, used ? "," : "",
		    meta ? "metapage at block" : "block", block);
	else if (index == 0)
		snprintf(item, sizeof item, "%spg-btree:%" PRIu32, used ? "," : "", block);
	else
		snprintf(item, sizeof item, "%spg-btree-%zu:%" PRIu32, used ? "," : "", index + 1,
		    block);
	if (used + strlen(item) + 5 < sizeof writer->ambiguous_text)
		memcpy(writer->ambiguous_text + used, item, strlen(item) + 1);
	else if (used < 3 || strcmp(writer->ambiguous_text + used - 3, "...") != 0)
		memcpy(writer->ambiguous_text + used, ",...", 5);
}

static int add_entries(struct dbpages *pages, size_t more)
{
	if (pages->count + more > pages->capacity) {
		size_t capacity = pages->count + more + 1024;
		struct page_entry *grown = realloc(pages->entries, capacity * sizeof *grown);

		if (grown == NULL)
			return -1;
		pages->entries = grown;
		pages->capacity = capacity;
	}
	return 0;
}

/* Which index (numbered by first_page order) the component ROOT became, or
 * index_count. */
static size_t index_of(const struct btree_place *place, uint32_t root)
{
	size_t low = lower_bound(place->indexes, place->index_count, sizeof *place->indexes, root);

	return low < place->index_count && place->indexes[low].first_page == root ? low
	    : place->index_count;
}

/* The placed pages into entries: the components in order of their first page found,
 * the ambiguous pages left out. */
static int emit(struct writer *writer, struct placing *p, struct member *members, size_t count)
{
	struct btree_place *place = writer->btree;
	uint8_t *keep = calloc(count + 1, 1);

	if (keep == NULL)
		return -1;
	/* The components: the union-find root is the lowest page index (pages come in
	 * scan order, so the lowest source offset of the first pass). Pages of one block
	 * of one index that no link disputes are versions of one page: written as
	 * copies, the highest LSN first, as heap pages are. */
	for (size_t i = 0; i < count; i++)
		keep[i] = !p->conflict[members[i].page];
	for (size_t i = 0; i < count; i++) {
		struct btree_index *grown;

		/* Members come sorted by root: each index starts where its root first
		 * has a kept page. */
		if (!keep[i] || (place->index_count
		    && place->indexes[place->index_count - 1].first_page == members[i].root))
			continue;
		if (place->index_count == MAX_INDEX_GROUPS)
			break;
		grown = realloc(place->indexes, (place->index_count + 1) * sizeof *grown);
		if (grown == NULL) {
			free(keep);
			return -1;
		}
		place->indexes = grown;
		place->indexes[place->index_count++] = (struct btree_index){ .first_page =
		    members[i].root };
	}
	if (add_entries(writer->pages, count) != 0) {
		free(keep);
		return -1;
	}
	for (size_t i = 0; i < count; i++) {
		const struct btree_entry *e = &p->pages[members[i].page];
		size_t index = index_of(place, members[i].root);

		if (!keep[i]) {
			writer->btree_ambiguous++;
			if (i == 0 || members[i - 1].root != members[i].root
			    || members[i - 1].block != members[i].block)
				note_ambiguous(writer, index < place->index_count ? index : SIZE_MAX,
				    members[i].block, e->meta);
			continue;
		}
		if (index == place->index_count) {
			writer->btree_unplaced++;
			continue;
		}
		if (e->meta && members[i].block == 0) {
			place->indexes[index].meta = 1;
			place->indexes[index].root = e->root;
			place->indexes[index].levels = e->root_level + 1;
		}
		writer->pages->entries[writer->pages->count++] = (struct page_entry){
		    .offset = e->offset, .lsn = e->lsn,
		    .group = PG_BTREE_GROUP + (uint32_t)index, .number = members[i].block,
		    .engine = DBPAGES_PG, .size_shift = 13 };
	}
	free(keep);
	return 0;
}

static void free_placing(struct placing *p)
{
	free(p->block);
	free(p->parent);
	free(p->conflict);
	free(p->candidates);
	free(p->link_start);
	free(p->links);
	free(p->queue);
}

int dbpages_btree_place(struct writer *writer)
{
	struct dbpages *pages = writer->pages;
	struct placing p = { .pages = pages->btree, .count = pages->btree_count };
	struct member *members = NULL;
	size_t member_count = 0;
	int result = -1;

	writer->btree = calloc(1, sizeof *writer->btree);
	if (writer->btree == NULL)
		return -1;
	if (p.count == 0)
		return 0;
	if (p.count >= UINT32_MAX)
		return -1;
	p.block = malloc(p.count * sizeof *p.block);
	p.parent = malloc(p.count * sizeof *p.parent);
	p.conflict = calloc(p.count, 1);
	p.link_start = malloc((p.count + 1) * sizeof *p.link_start);
	p.queue = malloc(p.count * sizeof *p.queue);
	members = malloc(p.count * sizeof *members);
	if (p.block == NULL || p.parent == NULL || p.conflict == NULL || p.link_start == NULL
	    || members == NULL || p.queue == NULL)
		goto out;
	for (size_t i = 0; i < p.count; i++) {
		p.block[i] = PG_NO_BLOCK;
		p.parent[i] = (uint32_t)i;
	}
	if (read_downlinks(writer, &p) != 0 || list_candidates(&p) != 0)
		goto out;
	if (link_roots(&p) != 0)
		goto out;
	for (int round = 0; round < MAX_PASSES; round++) {
		int changed = 0;

		for (int pass = 0; pass < MAX_PASSES; pass++) {
			p.changed = 0;
			link_children(&p);
			changed |= p.changed;
			if (!p.changed)
				break;
		}
		p.changed = 0;
		link_siblings(&p);
		if (p.failed)
			goto out;
		if (!p.changed && !changed)
			break;
	}
	for (size_t i = 0; i < p.count; i++) {
		if (p.block[i] == PG_NO_BLOCK) {
			writer->btree_unplaced++;
			continue;
		}
		members[member_count++] = (struct member){ find(&p, (uint32_t)i), p.block[i],
		    (uint32_t)i };
	}
	if (member_count)
		qsort(members, member_count, sizeof *members, member_order);
	result = emit(writer, &p, members, member_count);
out:
	free(members);
	free_placing(&p);
	return result;
}

void dbpages_btree_meta(const struct writer *writer, uint32_t group, struct btree_summary *out)
{
	const struct btree_place *place = writer->btree;
	size_t index = group - PG_BTREE_GROUP;

	memset(out, 0, sizeof *out);
	if (place == NULL || group < PG_BTREE_GROUP || index >= place->index_count)
		return;
	out->meta = place->indexes[index].meta;
	out->root = place->indexes[index].root;
	out->levels = place->indexes[index].levels;
}

void dbpages_btree_free(struct writer *writer)
{
	if (writer->btree)
		free(writer->btree->indexes);
	free(writer->btree);
	writer->btree = NULL;
}
