/* mapfile.c: the rescue map (format in mapfile.h), its extents in order in a gap buffer. */
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

/* Moves the hole so that it sits before the extent at INDEX (<= count); what moves is
 * the extents between the old place and the new. */
static void move_gap(struct mapfile *map, size_t index)
{
	size_t hole = map->capacity - map->count;

	if (index < map->gap)
		memmove(&map->slots[index + hole], &map->slots[index],
		    (map->gap - index) * sizeof *map->slots);
	else if (index > map->gap)
		memmove(&map->slots[map->gap], &map->slots[map->gap + hole],
		    (index - map->gap) * sizeof *map->slots);
	map->gap = index;
}

/* Room for COUNT extents; the ones after the hole move to the end of the larger array. */
static int reserve(struct mapfile *map, size_t count)
{
	struct map_extent *grown;
	size_t capacity = map->capacity ? map->capacity : 16, after = map->count - map->gap;

	while (capacity < count)
		capacity *= 2;
	if (capacity == map->capacity)
		return 0;
	grown = realloc(map->slots, capacity * sizeof *grown);
	if (grown == NULL)
		return -1;
	memmove(&grown[capacity - after], &grown[map->capacity - after], after * sizeof *grown);
	map->slots = grown;
	map->capacity = capacity;
	return 0;
}

/* EXTENT becomes the one at INDEX (<= count); those from INDEX on move up by one. */
static int insert_at(struct mapfile *map, size_t index, struct map_extent extent)
{
	if (reserve(map, map->count + 1) != 0)
		return -1;
	move_gap(map, index);
	map->slots[map->gap++] = extent;
	map->count++;
	return 0;
}

/* The extents [FIRST, END) go; those after move down. */
static void remove_range(struct mapfile *map, size_t first, size_t end)
{
	move_gap(map, end);
	map->gap = first;
	map->count -= end - first;
}

int mapfile_init(struct mapfile *map, uint64_t size)
{
	memset(map, 0, sizeof *map);
	map->size = size;
	map->current_status = '?';
	map->current_pass = 1;
	if (size == 0)
		return 0;
	return insert_at(map, 0, (struct map_extent){ 0, size, MAP_NON_TRIED });
}

void mapfile_free(struct mapfile *map)
{
	free(map->slots);
	memset(map, 0, sizeof *map);
}

/* The index of the extent holding POSITION; the extents cover [0, size) without gaps. */
size_t mapfile_index(const struct mapfile *map, uint64_t position)
{
	size_t low = 0, high = map->count;

	while (high - low > 1) {
		size_t middle = low + (high - low) / 2;

		if (mapfile_extent(map, middle)->position <= position)
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
	struct map_extent *extent, after;

	if (position == 0 || position >= map->size)
		return 0;
	index = mapfile_index(map, position);
	extent = mapfile_extent(map, index);
	if (extent->position == position)
		return 0;
	after = (struct map_extent){ position, extent->position + extent->size - position,
	    extent->state };
	extent->size = position - extent->position;
	if (insert_at(map, index + 1, after) == 0)
		return 0;
	extent->size += after.size;	/* as it was */
	return -1;
}

/* A parsed map's neighbours in the same state become one (the parser appends in order,
 * so the hole is at the end and the extents are one array). */
static void merge_neighbours(struct mapfile *map)
{
	size_t in, out = 0;

	move_gap(map, map->count);
	for (in = 1; in < map->count; in++) {
		if (map->slots[in].state == map->slots[out].state)
			map->slots[out].size += map->slots[in].size;
		else
			map->slots[++out] = map->slots[in];
	}
	if (map->count > 0)
		map->count = map->gap = out + 1;
}

/* Extents [FIRST, LAST] (all in one state now) become one, merged with a neighbour in
 * the same state: only the changed stretch is looked at. */
static void merge_around(struct mapfile *map, size_t first, size_t last)
{
	char state = mapfile_extent(map, first)->state;
	struct map_extent *tail;
	uint64_t end;

	if (first > 0 && mapfile_extent(map, first - 1)->state == state)
		first--;
	if (last + 1 < map->count && mapfile_extent(map, last + 1)->state == state)
		last++;
	if (first == last)
		return;
	tail = mapfile_extent(map, last);
	end = tail->position + tail->size;
	mapfile_extent(map, first)->size = end - mapfile_extent(map, first)->position;
	remove_range(map, first + 1, last + 1);
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
	first = mapfile_index(map, position);
	last = end == map->size ? map->count - 1 : mapfile_index(map, end) - 1;
	for (i = first; i <= last; i++)
		mapfile_extent(map, i)->state = state;
	merge_around(map, first, last);
	return 0;
}

/* The first extent in STATE that ends after FROM, or NULL. */
const struct map_extent *mapfile_find(const struct mapfile *map, uint64_t from, char state)
{
	size_t i = map->count ? mapfile_index(map, from) : 0;

	for (; i < map->count; i++)
		if (mapfile_extent(map, i)->state == state)
			return mapfile_extent(map, i);
	return NULL;
}

/* The last extent in STATE that starts before BEFORE, or NULL. */
const struct map_extent *mapfile_find_before(const struct mapfile *map, uint64_t before,
    char state)
{
	size_t i;

	if (map->count == 0 || before == 0)
		return NULL;
	for (i = mapfile_index(map, before - 1) + 1; i-- > 0;)
		if (mapfile_extent(map, i)->state == state)
			return mapfile_extent(map, i);
	return NULL;
}

void mapfile_totals(const struct mapfile *map, struct map_totals *totals)
{
	size_t i;

	memset(totals, 0, sizeof *totals);
	for (i = 0; i < map->count; i++) {
		const struct map_extent *extent = mapfile_extent(map, i);

		switch (extent->state) {
		case MAP_NON_TRIED: totals->non_tried += extent->size; break;
		case MAP_NON_TRIMMED: totals->non_trimmed += extent->size; break;
		case MAP_NON_SCRAPED: totals->non_scraped += extent->size; break;
		case MAP_BAD: totals->bad += extent->size; totals->bad_areas++; break;
		case MAP_FINISHED: totals->finished += extent->size; break;
		}
	}
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
	uint64_t position, size;
	char state, rest;

	if (parse_number(&cursor, &position) != 0 || parse_number(&cursor, &size) != 0)
		return -1;
	if (sscanf(cursor, " %c %c", &state, &rest) != 1 || !valid_state(state))
		return -1;
	*extent = (struct map_extent){ position, size, state };
	return 0;
}

static int append_extent(struct mapfile *map, struct map_extent extent)
{
	if (insert_at(map, map->count, extent) != 0)
		return -1;
	map->size = extent.position + extent.size;
	return 0;
}

void mapfile_reader_start(struct mapfile_reader *reader, struct mapfile *map,
    const char *keep_prefix)
{
	memset(reader, 0, sizeof *reader);
	reader->map = map;
	reader->keep_prefix = keep_prefix;
	mapfile_init(map, 0);
}

static int reader_fail(struct mapfile_reader *reader, const char *problem)
{
	snprintf(reader->why, sizeof reader->why, "line %d: %s", reader->number, problem);
	reader->failed = 1;
	return -1;
}

/* The first line that starts with the reader's KEEP_PREFIX is kept whole (a comment). */
static void keep_line(struct mapfile_reader *reader, const char *line)
{
	size_t prefix = reader->keep_prefix ? strlen(reader->keep_prefix) : 0;

	if (prefix && !reader->kept[0] && strncmp(line, reader->keep_prefix, prefix) == 0)
		snprintf(reader->kept, sizeof reader->kept, "%s", line);
}

/* One whole line (NUL-terminated, without its newline). Extents must be in order without
 * overlap, as ddrescue writes them; gaps are non-tried. */
static int reader_line(struct mapfile_reader *reader, const char *line)
{
	struct mapfile *map = reader->map;
	struct map_extent extent;
	char first = line[strspn(line, " \t\r")];

	if (first == '#' || first == '\0') {
		keep_line(reader, line);
		return 0;
	}
	if (!reader->have_status) {
		if (parse_status_line(line, map) != 0)
			return reader_fail(reader, "expected current_pos current_status");
		reader->have_status = 1;
		return 0;
	}
	if (parse_extent_line(line, &extent) != 0)
		return reader_fail(reader, "expected pos size status");
	if (extent.position < map->size || extent.size == 0)
		return reader_fail(reader, "block overlaps the one before or is empty");
	if (extent.size > UINT64_MAX - extent.position)
		return reader_fail(reader, "block ends past 2^64 bytes");
	if (extent.position > map->size && append_extent(map, (struct map_extent){
	    map->size, extent.position - map->size, MAP_NON_TRIED }) != 0)
		return reader_fail(reader, "out of memory");
	if (append_extent(map, extent) != 0)
		return reader_fail(reader, "out of memory");
	return 0;
}

/* The line held so far ends (at a newline or at the end of the text). */
static int reader_end_line(struct mapfile_reader *reader)
{
	int skipped = reader->skipping;

	reader->line[reader->length] = '\0';
	reader->length = 0;
	reader->skipping = 0;
	return skipped ? 0 : reader_line(reader, reader->line);
}

/* A line longer than the buffer: a comment is passed over (ddrescue's "# Command line:"
 * may be long), anything else can be no mapfile line. */
static int reader_overflow(struct mapfile_reader *reader)
{
	reader->line[reader->length] = '\0';
	if (reader->line[strspn(reader->line, " \t\r")] != '#') {
		snprintf(reader->why, sizeof reader->why, "line %d: longer than %d bytes, which "
		    "no mapfile line is", reader->number, MAPFILE_LINE_MAX);
		reader->failed = 1;
		return -1;
	}
	reader->skipping = 1;
	reader->length = 0;
	return 0;
}

int mapfile_reader_feed(struct mapfile_reader *reader, const char *data, size_t size)
{
	const char *end = data + size, *newline, *nul;
	size_t piece;

	if (reader->failed)
		return -1;
	if (reader->ended)
		return 0;
	if ((nul = memchr(data, '\0', size)) != NULL) {
		end = nul;	/* a NUL ends the text */
		reader->ended = 1;
	}
	for (; data < end; data += piece) {
		newline = memchr(data, '\n', (size_t)(end - data));
		piece = (size_t)((newline ? newline : end) - data);
		if (!reader->open)
			reader->number++;
		if (!reader->skipping) {
			size_t room = MAPFILE_LINE_MAX - reader->length;

			memcpy(reader->line + reader->length, data, piece < room ? piece : room);
			reader->length += piece < room ? piece : room;
			if (piece > room && reader_overflow(reader) != 0)
				return -1;
		}
		if (newline) {
			piece++;
			if (reader_end_line(reader) != 0)
				return -1;
		}
		reader->open = !newline;
	}
	return 0;
}

int mapfile_reader_finish(struct mapfile_reader *reader)
{
	if (reader->failed)
		return -1;
	if (reader->open && reader_end_line(reader) != 0)
		return -1;
	reader->open = 0;
	if (!reader->have_status)
		return reader_fail(reader, "no status line: not a mapfile");
	merge_neighbours(reader->map);
	return 0;
}

/* Reads a mapfile of LENGTH bytes at TEXT (no NUL needed; one inside ends it) through the
 * reader, a line at a time: nothing past LENGTH is ever read. */
int mapfile_parse_buffer(const char *text, size_t length, struct mapfile *map, char *why,
    size_t why_size)
{
	struct mapfile_reader reader;
	int rc;

	mapfile_reader_start(&reader, map, NULL);
	rc = mapfile_reader_feed(&reader, text, length);
	if (rc == 0)
		rc = mapfile_reader_finish(&reader);
	if (rc != 0)
		snprintf(why, why_size, "%s", reader.why);
	return rc;
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

static const char COLUMNS[] = "# current_pos  current_status  current_pass\n";
static const char HEADING[] = "#      pos        size  status\n";

/* The lines before the extents into TEXT (room for SIZE bytes, NUL included). */
static size_t format_heading(const struct mapfile *map, const char *creator,
    const char *comment, char *text, size_t size)
{
	int length = snprintf(text, size, "# Mapfile. Created by %s\n%s%s%s0x%08" PRIX64 "     %c"
	    "               %d\n%s", creator, comment ? comment : "", comment ? "\n" : "",
	    COLUMNS, map->current_position, map->current_status, map->current_pass, HEADING);

	return length < 0 ? 0 : (size_t)length < size ? (size_t)length : size - 1;
}

static size_t format_extent(const struct map_extent *extent, char *text)
{
	return (size_t)sprintf(text, "0x%08" PRIX64 "  0x%08" PRIX64 "  %c\n", extent->position,
	    extent->size, extent->state);
}

/* The text of MAP, malloc'ed, with COMMENT (a whole line, without its newline; NULL: none)
 * after the first; NULL when out of memory. It is measured first and allocated once, at
 * its exact size: a map of a million bad areas is some 50 MB of text, and a growing buffer
 * would need half as much again while it moves (the writer below holds 64 KiB of it). */
char *mapfile_format_with(const struct mapfile *map, const char *creator, const char *comment,
    size_t *length)
{
	size_t size, i, at;
	char *text;

	size = strlen("# Mapfile. Created by \n") + strlen(creator)
	    + (comment ? strlen(comment) + 1 : 0) + strlen(COLUMNS) + 2 + hex_width(
	    map->current_position) + 64 + strlen(HEADING);
	for (i = 0; i < map->count; i++)
		size += 2 + hex_width(mapfile_extent(map, i)->position) + 4
		    + hex_width(mapfile_extent(map, i)->size) + 4;
	if (!(text = malloc(size + 1)))
		return NULL;
	at = format_heading(map, creator, comment, text, size + 1);
	for (i = 0; i < map->count; i++)
		at += format_extent(mapfile_extent(map, i), text + at);
	if (length)
		*length = at;
	return text;
}

void mapfile_writer_start(struct mapfile_writer *writer, const struct mapfile *map,
    const char *creator, const char *comment)
{
	writer->map = map;
	writer->creator = creator;
	writer->comment = comment;
	writer->next = 0;
	writer->started = 0;
}

/* A line of an extent is at most 42 bytes ("0x" and 16 digits twice, the state). */
size_t mapfile_writer_next(struct mapfile_writer *writer, const char **piece)
{
	size_t at = 0;

	if (!writer->started) {
		at = format_heading(writer->map, writer->creator, writer->comment, writer->buffer,
		    sizeof writer->buffer);
		writer->started = 1;
	}
	while (writer->next < writer->map->count && sizeof writer->buffer - at > 64)
		at += format_extent(mapfile_extent(writer->map, writer->next++),
		    writer->buffer + at);
	*piece = writer->buffer;
	return at;
}

char *mapfile_format(const struct mapfile *map, const char *creator, size_t *length)
{
	return mapfile_format_with(map, creator, NULL, length);
}
