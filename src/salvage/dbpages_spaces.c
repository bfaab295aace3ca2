/* dbpages_spaces.c: InnoDB tablespaces that claim one space id, told apart.
 *
 * Space ids count from the same start in every new data directory, so a disk that held
 * two servers, or a data directory made anew, holds pages of two tablespaces with one
 * space id and the same page numbers. Their index pages say which is which: index ids
 * are unique within a server, and every file-per-table tablespace has its clustered
 * index's root at page 3. Each distinct index id found on a page-3 root starts a
 * tablespace (a "lane"). The other index ids (secondary indexes) join the tablespace
 * whose pages' LSNs are nearest to theirs, by a vote of their pages. Pages without an
 * index id (page 0's FSP header, the bitmaps, BLOB pages) are kept apart by LSN range:
 * the copies of one page number go one to each tablespace, the way that leaves the least
 * LSN distance outside the tablespaces' ranges (from their clustered index pages' LSNs),
 * ties going in order of age; more copies than tablespaces join the nearest one (the
 * newest copy a tablespace gets is the one written).
 *
 * A heuristic where LSN ranges overlap (two fresh servers both count from the same LSN):
 * the report names every tablespace so split and its LSN range.
 */
#include <stdlib.h>
#include <string.h>

#include "salvage/dbpages_internal.h"

/* Up to MAX_SMALL tablespaces with one space id, pages without an index id are assigned
 * by trying every way; past it, by nearest LSN alone. */
enum { MAX_SPACES = 255, MAX_SMALL = 6 };

struct space_lanes {
	uint32_t roots[MAX_SPACES];	/* the clustered index id of each lane */
	size_t count;
	uint64_t *lsns[MAX_SPACES];	/* each lane's index pages' LSNs, sorted */
	size_t lsn_count[MAX_SPACES];
};

static int lsn_order(const void *left, const void *right)
{
	uint64_t a = *(const uint64_t *)left, b = *(const uint64_t *)right;

	return a < b ? -1 : a > b;
}

/* How far LSN lies from the nearest LSN of LANE's index pages. */
static uint64_t lsn_distance(const struct space_lanes *lanes, size_t lane, uint64_t lsn)
{
	const uint64_t *sorted = lanes->lsns[lane];
	size_t low = 0, high = lanes->lsn_count[lane];
	uint64_t best = UINT64_MAX;

	while (low < high) {
		size_t middle = low + (high - low) / 2;

		if (sorted[middle] < lsn)
			low = middle + 1;
		else
			high = middle;
	}
	if (low < lanes->lsn_count[lane])
		best = sorted[low] - lsn;
	if (low > 0 && lsn - sorted[low - 1] < best)
		best = lsn - sorted[low - 1];
	return best;
}

static size_t nearest_lane(const struct space_lanes *lanes, uint64_t lsn)
{
	size_t best = 0;

	for (size_t lane = 1; lane < lanes->count; lane++)
		if (lsn_distance(lanes, lane, lsn) < lsn_distance(lanes, best, lsn))
			best = lane;
	return best;
}

static size_t lane_of_root(const struct space_lanes *lanes, uint32_t index_id)
{
	for (size_t lane = 0; lane < lanes->count; lane++)
		if (lanes->roots[lane] == index_id)
			return lane;
	return lanes->count;
}

static void find_roots(struct space_lanes *lanes, const struct page_entry *entries,
    size_t count)
{
	for (size_t i = 0; i < count && lanes->count < MAX_SPACES; i++)
		if (entries[i].number == 3 && entries[i].index_root && entries[i].index_id != 0
		    && lane_of_root(lanes, entries[i].index_id) == lanes->count)
			lanes->roots[lanes->count++] = entries[i].index_id;
}

/* Each lane's clustered index pages' LSNs, sorted; 0 or -1. */
static int collect_lsns(struct space_lanes *lanes, const struct page_entry *entries,
    size_t count)
{
	for (size_t i = 0; i < count; i++) {
		size_t lane = entries[i].index_id ? lane_of_root(lanes, entries[i].index_id)
		    : lanes->count;

		if (lane < lanes->count)
			lanes->lsn_count[lane]++;
	}
	for (size_t lane = 0; lane < lanes->count; lane++) {
		lanes->lsns[lane] = malloc(lanes->lsn_count[lane] * sizeof (uint64_t) + 1);
		if (lanes->lsns[lane] == NULL)
			return -1;
		lanes->lsn_count[lane] = 0;
	}
	for (size_t i = 0; i < count; i++) {
		size_t lane = entries[i].index_id ? lane_of_root(lanes, entries[i].index_id)
		    : lanes->count;

		if (lane < lanes->count)
			lanes->lsns[lane][lanes->lsn_count[lane]++] = entries[i].lsn;
	}
	for (size_t lane = 0; lane < lanes->count; lane++)
		qsort(lanes->lsns[lane], lanes->lsn_count[lane], sizeof (uint64_t), lsn_order);
	return 0;
}

/* The lane of index INDEX_ID that is no lane's root: its pages vote for the lane with
 * the nearest LSN. */
static size_t vote_for_index(const struct space_lanes *lanes, const struct page_entry *entries,
    size_t count, uint32_t index_id)
{
	size_t votes[MAX_SPACES] = { 0 }, best = 0;

	for (size_t i = 0; i < count; i++)
		if (entries[i].index_id == index_id)
			votes[nearest_lane(lanes, entries[i].lsn)]++;
	for (size_t lane = 1; lane < lanes->count; lane++)
		if (votes[lane] > votes[best])
			best = lane;
	return best;
}

/* Index pages go to the lane whose root they share; the pages of an index that is no
 * lane's root (a secondary index) all go where its pages' vote sends them. DECIDED
 * remembers the votes taken; past its size each page goes to its own nearest lane. */
static void place_index_pages(const struct space_lanes *lanes, struct page_entry *entries,
    size_t count)
{
	enum { DECIDED_MAX = 1024 };
	struct { uint32_t index_id; uint8_t lane; } decided[DECIDED_MAX];
	size_t decided_count = 0;

	for (size_t i = 0; i < count; i++) {
		size_t lane, known;

		if (entries[i].index_id == 0)
			continue;
		lane = lane_of_root(lanes, entries[i].index_id);
		for (known = 0; lane == lanes->count && known < decided_count; known++)
			if (decided[known].index_id == entries[i].index_id)
				lane = decided[known].lane;
		if (lane == lanes->count && decided_count < DECIDED_MAX) {
			lane = vote_for_index(lanes, entries, count, entries[i].index_id);
			decided[decided_count].index_id = entries[i].index_id;
			decided[decided_count++].lane = (uint8_t)lane;
		} else if (lane == lanes->count) {
			lane = nearest_lane(lanes, entries[i].lsn);
		}
		entries[i].lane = (uint8_t)lane;
	}
}

/* How far LSN lies outside LANE's range (its index pages' lowest to highest LSN). */
static uint64_t range_distance(const struct space_lanes *lanes, size_t lane, uint64_t lsn)
{
	uint64_t low = lanes->lsns[lane][0], high = lanes->lsns[lane][lanes->lsn_count[lane] - 1];

	return lsn < low ? low - lsn : lsn > high ? lsn - high : 0;
}

/* Where a page without an index id sits among copies and lanes: the copies of a page
 * number are ranked by LSN, the lanes by their lowest LSN (the tablespace created
 * first). */
struct assignment {
	const struct space_lanes *lanes;
	struct page_entry **copies;
	size_t count;
	size_t lane_rank[MAX_SPACES];
	size_t chosen[MAX_SMALL], best[MAX_SMALL];
	uint64_t best_cost, best_order;
	unsigned char taken[MAX_SMALL];
};

/* Every way to give copies [AT, count) distinct lanes, the one with the least distance
 * outside the lanes' LSN ranges kept, ties broken by keeping the order (the older copy
 * to the older tablespace): page 1 is written when a tablespace is created and rarely
 * again, so two tablespaces' page 1 copies both lie below both ranges. */
static void try_assignments(struct assignment *a, size_t at, uint64_t cost, uint64_t order)
{
	if (at == a->count) {
		if (cost < a->best_cost || (cost == a->best_cost && order < a->best_order)) {
			a->best_cost = cost;
			a->best_order = order;
			memcpy(a->best, a->chosen, sizeof a->best);
		}
		return;
	}
	for (size_t lane = 0; lane < a->lanes->count; lane++) {
		uint64_t rank = at, lane_rank = a->lane_rank[lane];

		if (a->taken[lane])
			continue;
		a->taken[lane] = 1;
		a->chosen[at] = lane;
		try_assignments(a, at + 1, cost + range_distance(a->lanes, lane,
		    a->copies[at]->lsn), order + (rank > lane_rank ? rank - lane_rank
		    : lane_rank - rank));
		a->taken[lane] = 0;
	}
}

static int copy_order(const void *left, const void *right)
{
	const struct page_entry *a = *(struct page_entry *const *)left;
	const struct page_entry *b = *(struct page_entry *const *)right;

	return a->lsn < b->lsn ? -1 : a->lsn > b->lsn;
}

/* The COUNT copies of one page number without an index id: when there are no more of
 * them than lanes (and both are few), the best assignment of distinct lanes; otherwise
 * each joins the lane whose index pages' LSNs are nearest. */
static void place_other_copies(const struct space_lanes *lanes, struct page_entry **copies,
    size_t count)
{
	struct assignment a = { .lanes = lanes, .copies = copies, .count = count,
	    .best_cost = UINT64_MAX, .best_order = UINT64_MAX };

	if (count > lanes->count || lanes->count > MAX_SMALL) {
		for (size_t i = 0; i < count; i++)
			copies[i]->lane = (uint8_t)nearest_lane(lanes, copies[i]->lsn);
		return;
	}
	qsort(copies, count, sizeof *copies, copy_order);
	for (size_t lane = 0; lane < lanes->count; lane++)
		for (size_t other = 0; other < lanes->count; other++)
			a.lane_rank[lane] += lanes->lsns[other][0] < lanes->lsns[lane][0]
			    || (lanes->lsns[other][0] == lanes->lsns[lane][0] && other < lane);
	try_assignments(&a, 0, 0, 0);
	for (size_t i = 0; i < count; i++)
		copies[i]->lane = (uint8_t)a.best[i];
}

/* The copies of one page number (ENTRIES, COUNT) that have no index id. */
static void place_page_number(const struct space_lanes *lanes, struct page_entry *entries,
    size_t count)
{
	struct page_entry *others[MAX_SPACES];
	size_t other_count = 0;

	for (size_t i = 0; i < count; i++) {
		if (entries[i].index_id != 0)
			continue;
		if (other_count == MAX_SPACES)
			entries[i].lane = (uint8_t)nearest_lane(lanes, entries[i].lsn);
		else
			others[other_count++] = &entries[i];
	}
	if (other_count > 0)
		place_other_copies(lanes, others, other_count);
}

/* Lane 0 is the tablespace whose newest index page is newest: it keeps the plain name. */
static void order_lanes(struct space_lanes *lanes, struct page_entry *entries, size_t count)
{
	size_t newest = 0;
	uint64_t newest_lsn = 0;

	for (size_t lane = 0; lane < lanes->count; lane++)
		if (lanes->lsn_count[lane] && lanes->lsns[lane][lanes->lsn_count[lane] - 1]
		    > newest_lsn) {
			newest_lsn = lanes->lsns[lane][lanes->lsn_count[lane] - 1];
			newest = lane;
		}
	for (size_t i = 0; i < count && newest != 0; i++)
		if (entries[i].lane == 0 || entries[i].lane == newest)
			entries[i].lane = entries[i].lane == 0 ? (uint8_t)newest : 0;
}

unsigned dbpages_split_tablespaces(struct page_entry *entries, size_t count)
{
	struct space_lanes lanes;
	unsigned result = 0;

	memset(&lanes, 0, sizeof lanes);
	for (size_t i = 0; i < count; i++)
		entries[i].lane = 0;
	find_roots(&lanes, entries, count);
	if (lanes.count < 2)
		return 1;
	if (collect_lsns(&lanes, entries, count) != 0)
		goto out;
	place_index_pages(&lanes, entries, count);
	for (size_t i = 0, copies; i < count; i += copies) {
		for (copies = 1; i + copies < count && entries[i + copies].number == entries[i].number;)
			copies++;
		place_page_number(&lanes, entries + i, copies);
	}
	order_lanes(&lanes, entries, count);
	result = (unsigned)lanes.count;
out:
	for (size_t lane = 0; lane < lanes.count; lane++)
		free(lanes.lsns[lane]);
	return result;
}
