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

struct map_extent {
	uint64_t position;
	uint64_t size;
	char state;
};

struct mapfile {
	uint64_t size;			/* of the source; the extents cover [0, size) exactly */
	struct map_extent *extents;
	size_t count;
	size_t capacity;
	uint64_t current_position;
	char current_status;		/* '?' copying, '*' trimming, '/' scraping, '-' retrying, '+' done */
	int current_pass;
};

struct map_totals {
	uint64_t non_tried, non_trimmed, non_scraped, bad, finished;
	size_t bad_areas;		/* runs of '-' */
};

int mapfile_init(struct mapfile *map, uint64_t size);
void mapfile_free(struct mapfile *map);
int mapfile_set(struct mapfile *map, uint64_t position, uint64_t size, char state);
const struct map_extent *mapfile_find(const struct mapfile *map, uint64_t from, char state);
void mapfile_totals(const struct mapfile *map, struct map_totals *totals);
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

#endif
