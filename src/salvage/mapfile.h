/* mapfile.h: the rescue map of an image, in GNU ddrescue's mapfile format.
 *
 * The map covers [0, size) of the source with extents, each in one state:
 *   '?' non-tried   '*' non-trimmed   '/' non-scraped   '-' bad sector   '+' finished
 * and records where the run was (current_pos, current_status, current_pass), so a run can
 * resume from it, ours or GNU ddrescue's, and ddrescue or ddrescueview can read ours:
 *
 *	# Mapfile. Created by rescue VERSION
 *	# current_pos  current_status  current_pass
 *	0x00100000     ?               1
 *	#      pos        size  status
 *	0x00000000  0x00100000  +
 *	0x00100000  0x07F00000  ?
 *
 * Adjacent extents in the same state are always merged, so two maps of the same rescue
 * state format to the same text.
 *
 * The extents are kept in order in a gap buffer: an array with one hole, which sits where
 * the last change was. Imaging changes the map near where it changed it last (forwards
 * while copying, trimming and scraping, backwards in the reverse passes), so a change
 * costs the distance from the one before, not a move of every extent behind it: a dying
 * disk's map of a million bad areas is changed in time proportional to the changes, and
 * found by binary search. mapfile_extent() reads the I-th extent in order.
 */
#ifndef RESCUE_MAPFILE_H
#define RESCUE_MAPFILE_H

#include <stddef.h>
#include <stdint.h>

enum map_state {
	MAP_NON_TRIED = '?',
	MAP_NON_TRIMMED = '*',
	MAP_NON_SCRAPED = '/',
	MAP_BAD = '-',
	MAP_FINISHED = '+',
};

/* Packed: 17 bytes, not 24. A dying disk's map holds two extents a bad area (the bad
 * sectors and the good run after them), so a million bad areas cost 34 MB, not 48.
 * Nothing takes the address of a member (the compiler would say so). */
struct map_extent {
	uint64_t position;
	uint64_t size;
	char state;
} __attribute__((packed));

struct mapfile {
	uint64_t size;			/* of the source; the extents cover [0, size) exactly */
	struct map_extent *slots;	/* [0, gap) and [gap + capacity - count, capacity) */
	size_t count;			/* extents in use */
	size_t capacity;		/* slots allocated */
	size_t gap;			/* where the hole is: the index of the extent after it */
	uint64_t current_position;
	char current_status;		/* '?' copying, '*' trimming, '/' scraping, '-' retrying, '+' done */
	int current_pass;
};

struct map_totals {
	uint64_t non_tried, non_trimmed, non_scraped, bad, finished;
	size_t bad_areas;		/* runs of '-' */
};

/* The extent at INDEX (< count), in order of position. */
static inline struct map_extent *mapfile_extent(const struct mapfile *map, size_t index)
{
	return &map->slots[index < map->gap ? index : index + map->capacity - map->count];
}

int mapfile_init(struct mapfile *map, uint64_t size);
void mapfile_free(struct mapfile *map);
int mapfile_set(struct mapfile *map, uint64_t position, uint64_t size, char state);
/* The first extent in STATE that ends after FROM, or NULL: the extents between are
 * looked at one by one, so a caller going through the map passes increasing FROMs. */
const struct map_extent *mapfile_find(const struct mapfile *map, uint64_t from, char state);
/* The last extent in STATE that starts before BEFORE, or NULL (the same, backwards). */
const struct map_extent *mapfile_find_before(const struct mapfile *map, uint64_t before,
    char state);
/* The index of the extent holding POSITION (< size). */
size_t mapfile_index(const struct mapfile *map, uint64_t position);
void mapfile_totals(const struct mapfile *map, struct map_totals *totals);
/* A mapfile read a piece at a time, as it comes from the target, in a bounded buffer: the
 * map's extents are all that grows. Start, feed the pieces in order (a line may be split
 * anywhere), finish: 0, or -1 with WHY naming the line ("line 12: expected pos size
 * status"). A line longer than MAPFILE_LINE_MAX that is not a comment is refused; a
 * longer comment is passed over. The first line that starts with KEEP_PREFIX (NULL: none)
 * is kept in KEPT (the identity line rescue writes: "# rescue source: "). On failure the
 * map holds what was read: mapfile_free() it either way. */
enum { MAPFILE_LINE_MAX = 1024 };
struct mapfile_reader {
	struct mapfile *map;
	const char *keep_prefix;
	char kept[MAPFILE_LINE_MAX + 1];
	char line[MAPFILE_LINE_MAX + 1];
	size_t length;		/* of the line so far */
	int number;		/* of the line being read, from 1 */
	int open;		/* a line has begun and not ended */
	int skipping;		/* a long comment is being passed over */
	int have_status, ended, failed;
	char why[160];
};
void mapfile_reader_start(struct mapfile_reader *reader, struct mapfile *map,
    const char *keep_prefix);
int mapfile_reader_feed(struct mapfile_reader *reader, const char *data, size_t size);
int mapfile_reader_finish(struct mapfile_reader *reader);
/* Reads LENGTH bytes of mapfile text (no NUL needed): 0, or -1 with WHY naming the line. */
int mapfile_parse_buffer(const char *text, size_t length, struct mapfile *map, char *why,
    size_t why_size);
/* The same for a NUL-terminated TEXT (kept for callers that hold a string). */
int mapfile_parse(const char *text, struct mapfile *map, char *why, size_t why_size);
/* The map's text, malloc'd, at its exact size; COMMENT, a line of its own after the
 * first (the source's identity), or NULL. NULL when out of memory. */
char *mapfile_format_with(const struct mapfile *map, const char *creator, const char *comment,
    size_t *length);
char *mapfile_format(const struct mapfile *map, const char *creator, size_t *length);
/* The same text a piece at a time, for a writer that sends it as it comes: start, then
 * next until it returns 0; each piece lies in the writer's buffer, valid until the next
 * call. The pieces together are mapfile_format_with()'s text. */
struct mapfile_writer {
	const struct mapfile *map;
	const char *creator, *comment;
	size_t next;		/* the next extent */
	int started;		/* the heading is out */
	char buffer[65536];
};
void mapfile_writer_start(struct mapfile_writer *writer, const struct mapfile *map,
    const char *creator, const char *comment);
size_t mapfile_writer_next(struct mapfile_writer *writer, const char **piece);

#endif
