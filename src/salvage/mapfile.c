/* mapfile.c: the rescue map (format in mapfile.h). The extents are a sorted array: maps
 * of failing disks have thousands of extents, not millions, and the array formats in order. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "salvage/mapfile.h"

static int valid_state(int state)
{
	return state && strchr("?*/-+", state) != NULL;
}

static int reserve(struct mapfile *map, size_t count)
{
	struct map_extent *grown;
	size_t capacity = map->capacity ? map->capacity : 16;

	while (capacity < count)
		capacity *= 2;
	if (capacity == map->capacity)
		return 0;
	grown = realloc(map->extents, capacity * sizeof *grown);
	if (grown == NULL)
		return -1;
	map->extents = grown;
	map->capacity = capacity;
	return 0;
}

int mapfile_init(struct mapfile *map, uint64_t size)
{
	memset(map, 0, sizeof *map);
	map->size = size;
	map->current_status = '?';
	map->current_pass = 1;
	if (size == 0)
		return 0;
	if (reserve(map, 1) != 0)
		return -1;
	map->extents[0] = (struct map_extent){ 0, size, MAP_NON_TRIED };
	map->count = 1;
	return 0;
}

void mapfile_free(struct mapfile *map)
{
	free(map->extents);
	memset(map, 0, sizeof *map);
}

/* The index of the extent holding POSITION; the extents cover [0, size) without gaps. */
static size_t extent_at(const struct mapfile *map, uint64_t position)
{
	size_t low = 0, high = map->count;

	while (high - low > 1) {
		size_t middle = low + (high - low) / 2;

		if (map->extents[middle].position <= position)
			low = middle;
		else
			high = middle;
	}
	return low;
}

/* Splits the extent holding POSITION so that one starts exactly there. */
static int split_at(struct mapfile *map, uint64_t position)
{
	size_t index;
	struct map_extent *extent;

	if (position == 0 || position >= map->size)
		return 0;
	index = extent_at(map, position);
	if (map->extents[index].position == position)
		return 0;
	if (reserve(map, map->count + 1) != 0)
		return -1;
	extent = &map->extents[index];
	memmove(extent + 2, extent + 1, (map->count - index - 1) * sizeof *extent);
	extent[1] = (struct map_extent){ position, extent->position + extent->size - position,
	    extent->state };
	extent->size = position - extent->position;
	map->count++;
	return 0;
}

static void merge_neighbours(struct mapfile *map)
{
	size_t in, out = 0;

	for (in = 1; in < map->count; in++) {
		if (map->extents[in].state == map->extents[out].state)
			map->extents[out].size += map->extents[in].size;
		else
			map->extents[++out] = map->extents[in];
	}
	if (map->count > 0)
		map->count = out + 1;
}

/* Extents [FIRST, LAST] become one, merged with a neighbour in the same state: only the
 * changed stretch is looked at, and the tail moves once (merging the whole array at every
 * change made a map of many bad areas quadratic). */
static void merge_around(struct mapfile *map, size_t first, size_t last)
{
	struct map_extent *extents = map->extents;
	uint64_t end = extents[last].position + extents[last].size;

	if (first > 0 && extents[first - 1].state == extents[first].state)
		first--;
	if (last + 1 < map->count && extents[last + 1].state == extents[first].state)
		last++, end = extents[last].position + extents[last].size;
	if (first == last)
		return;
	extents[first].size = end - extents[first].position;
	memmove(&extents[first + 1], &extents[last + 1],
	    (map->count - last - 1) * sizeof *extents);
	map->count -= last - first;
}

/* Marks [position, position + size) with STATE; the range is clipped to the source. */
int mapfile_set(struct mapfile *map, uint64_t position, uint64_t size, char state)
{
	uint64_t end;
	size_t first, last, i;

	if (!valid_state(state) || position >= map->size || size == 0)
		return valid_state(state) ? 0 : -1;
	end = size > map->size - position ? map->size : position + size;
	if (split_at(map, position) != 0 || split_at(map, end) != 0)
		return -1;
	first = extent_at(map, position);
	last = end == map->size ? map->count - 1 : extent_at(map, end) - 1;
	for (i = first; i <= last; i++)
		map->extents[i].state = state;
	merge_around(map, first, last);
	return 0;
}

/* The first extent in STATE that ends after FROM, or NULL. */
const struct map_extent *mapfile_find(const struct mapfile *map, uint64_t from, char state)
{
	size_t i = map->count ? extent_at(map, from) : 0;

	for (; i < map->count; i++)
		if (map->extents[i].state == state)
			return &map->extents[i];
	return NULL;
}

void mapfile_totals(const struct mapfile *map, struct map_totals *totals)
{
	size_t i;

	memset(totals, 0, sizeof *totals);
	for (i = 0; i < map->count; i++) {
		const struct map_extent *extent = &map->extents[i];

		switch (extent->state) {
		case MAP_NON_TRIED: totals->non_tried += extent->size; break;
		case MAP_NON_TRIMMED: totals->non_trimmed += extent->size; break;
		case MAP_NON_SCRAPED: totals->non_scraped += extent->size; break;
		case MAP_BAD: totals->bad += extent->size; totals->bad_areas++; break;
		case MAP_FINISHED: totals->finished += extent->size; break;
		}
	}
}

static int fail(char *why, size_t why_size, int line, const char *problem)
{
	snprintf(why, why_size, "line %d: %s", line, problem);
	return -1;
}

/* ddrescue writes hexadecimal with 0x; decimal is accepted too, as ddrescue itself does.
 * strtoull skips blanks and then takes a sign, turning " -1" into 2^64 - 1: the sign is
 * looked for after the blanks. */
static int parse_number(const char **cursor, uint64_t *value)
{
	const char *digits = *cursor + strspn(*cursor, " \t\r\v\f");
	char *end;

	if (*digits == '-' || *digits == '+')
		return -1;
	errno = 0;
	*value = strtoull(digits, &end, 0);
	if (end == digits || errno != 0)
		return -1;
	*cursor = end;
	return 0;
}

static int parse_status_line(const char *line, struct mapfile *map)
{
	char status;
	int pass = 1, fields;
	uint64_t position;
	const char *cursor = line;

	if (parse_number(&cursor, &position) != 0)
		return -1;
	fields = sscanf(cursor, " %c %d", &status, &pass);
	if (fields < 1 || !strchr("?*/-FG+", status))
		return -1;
	map->current_position = position;
	map->current_status = status;
	map->current_pass = fields == 2 ? pass : 1;
	return 0;
}

static int parse_extent_line(const char *line, struct map_extent *extent)
{
	const char *cursor = line;
	char state, rest;

	if (parse_number(&cursor, &extent->position) != 0
	    || parse_number(&cursor, &extent->size) != 0)
		return -1;
	if (sscanf(cursor, " %c %c", &state, &rest) != 1 || !valid_state(state))
		return -1;
	extent->state = state;
	return 0;
}

static int append_extent(struct mapfile *map, struct map_extent extent)
{
	if (reserve(map, map->count + 1) != 0)
		return -1;
	map->extents[map->count++] = extent;
	map->size = extent.position + extent.size;
	return 0;
}

/* Reads a mapfile of LENGTH bytes at TEXT (no NUL needed; one inside ends it); MAP gets
 * its extents and size (the end of the last extent). Extents must be in order without
 * overlap, as ddrescue writes them; gaps are non-tried. Each line is copied into a bounded
 * buffer before it is parsed, so nothing past LENGTH is ever read. */
int mapfile_parse_buffer(const char *text, size_t length, struct mapfile *map, char *why,
    size_t why_size)
{
	const char *line = text, *end = text + length, *newline;
	struct map_extent extent;
	int number = 0, have_status = 0;
	char copy[256];
	size_t size;

	mapfile_init(map, 0);
	if (memchr(text, '\0', length))
		end = memchr(text, '\0', length);
	for (; line < end; line = newline ? newline + 1 : end) {
		newline = memchr(line, '\n', (size_t)(end - line));
		size = (size_t)((newline ? newline : end) - line);
		number++;
		snprintf(copy, sizeof copy, "%.*s", (int)(size < 255 ? size : 255), line);
		if (copy[strspn(copy, " \t\r")] == '#' || copy[strspn(copy, " \t\r")] == '\0')
			continue;
		if (!have_status) {
			if (parse_status_line(copy, map) != 0)
				return fail(why, why_size, number, "expected current_pos current_status");
			have_status = 1;
			continue;
		}
		if (parse_extent_line(copy, &extent) != 0)
			return fail(why, why_size, number, "expected pos size status");
		if (extent.position < map->size || extent.size == 0)
			return fail(why, why_size, number, "block overlaps the one before or is empty");
		if (extent.size > UINT64_MAX - extent.position)
			return fail(why, why_size, number, "block ends past 2^64 bytes");
		if (extent.position > map->size && append_extent(map, (struct map_extent){
		    map->size, extent.position - map->size, MAP_NON_TRIED }) != 0)
			return fail(why, why_size, number, "out of memory");
		if (append_extent(map, extent) != 0)
			return fail(why, why_size, number, "out of memory");
	}
	if (!have_status)
		return fail(why, why_size, number, "no status line: not a mapfile");
	merge_neighbours(map);
	return 0;
}

int mapfile_parse(const char *text, struct mapfile *map, char *why, size_t why_size)
{
	return mapfile_parse_buffer(text, strlen(text), map, why, why_size);
}

/* Digits of VALUE in hexadecimal, at least 8 (as "0x%08X" prints it). */
static size_t hex_width(uint64_t value)
{
	size_t digits = 1;

	while (value >>= 4)
		digits++;
	return digits < 8 ? 8 : digits;
}

/* The text of MAP, malloc'ed, with COMMENT (a whole line, without its newline; NULL: none)
 * after the first; NULL when out of memory. It is measured first and allocated once, at
 * its exact size: a map of a million bad areas is some 50 MB of text, and a growing buffer
 * would need half as much again while it moves. */
char *mapfile_format_with(const struct mapfile *map, const char *creator, const char *comment,
    size_t *length)
{
	static const char columns[] = "# current_pos  current_status  current_pass\n";
	static const char heading[] = "#      pos        size  status\n";
	size_t size, i, at;
	char *text;

	size = strlen("# Mapfile. Created by \n") + strlen(creator)
	    + (comment ? strlen(comment) + 1 : 0) + strlen(columns) + 2 + hex_width(
	    map->current_position) + 64 + strlen(heading);
	for (i = 0; i < map->count; i++)
		size += 2 + hex_width(map->extents[i].position) + 4 + hex_width(map->extents[i].size)
		    + 4;
	if (!(text = malloc(size + 1)))
		return NULL;
	at = (size_t)sprintf(text, "# Mapfile. Created by %s\n%s%s%s0x%08" PRIX64 "     %c     "
	    "          %d\n%s", creator, comment ? comment : "", comment ? "\n" : "", columns,
	    map->current_position, map->current_status, map->current_pass, heading);
	for (i = 0; i < map->count; i++)
		at += (size_t)sprintf(text + at, "0x%08" PRIX64 "  0x%08" PRIX64 "  %c\n",
		    map->extents[i].position, map->extents[i].size, map->extents[i].state);
	if (length)
		*length = at;
	return text;
}

char *mapfile_format(const struct mapfile *map, const char *creator, size_t *length)
{
	return mapfile_format_with(map, creator, NULL, length);
}
