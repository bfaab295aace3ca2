/* manifest.c: the dump manifest, written and read back (formats in manifest.h). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/json.h"
#include "salvage/manifest.h"

static const char *const status_names[] = { "copied", "partial", "failed", "skipped" };

const char *manifest_status_name(enum manifest_status status)
{
	return status_names[status];
}

static size_t index_slot(const struct manifest *manifest, const char *path);

struct manifest_entry *manifest_add(struct manifest *manifest, const char *path)
{
	struct manifest_entry *entry, *entries_before = manifest->entries;

	if (manifest->count == manifest->capacity) {
		size_t capacity = manifest->capacity ? manifest->capacity * 2 : 256;
		struct manifest_entry *bigger = realloc(manifest->entries,
		    capacity * sizeof *bigger);

		if (!bigger)
			return NULL;
		manifest->entries = bigger;
		manifest->capacity = capacity;
	}
	entry = &manifest->entries[manifest->count];
	memset(entry, 0, sizeof *entry);
	if (!(entry->path = strdup(path)))
		return NULL;
	manifest->count++;
	/* The entries moved or grew: the index is rebuilt, or takes the new one. */
	if (manifest->index && manifest->count * 2 < manifest->index_size
	    && manifest->entries == entries_before)
		manifest->index[index_slot(manifest, path)] = manifest->count;
	else {
		free(manifest->index);
		manifest->index = NULL;
	}
	return entry;
}

/* Adjacent ranges merge, so a run of bad blocks reads as one range. */
int manifest_add_range(struct manifest_entry *entry, uint64_t start, uint64_t end)
{
	struct manifest_range *bigger;

	if (entry->missing_count && entry->missing[entry->missing_count - 1].end == start) {
		entry->missing[entry->missing_count - 1].end = end;
		return 0;
	}
	bigger = realloc(entry->missing, (entry->missing_count + 1) * sizeof *bigger);
	if (!bigger)
		return -1;
	entry->missing = bigger;
	entry->missing[entry->missing_count++] = (struct manifest_range){ start, end };
	return 0;
}

int manifest_set_reason(struct manifest_entry *entry, const char *reason)
{
	char *copy = strdup(reason);

	if (!copy)
		return -1;
	free(entry->reason);
	entry->reason = copy;
	return 0;
}

struct manifest_volume *manifest_add_volume(struct manifest *manifest, unsigned number,
    const char *file)
{
	struct manifest_volume *bigger = realloc(manifest->volumes,
	    (manifest->volume_count + 1) * sizeof *bigger);

	if (!bigger)
		return NULL;
	manifest->volumes = bigger;
	bigger += manifest->volume_count++;
	memset(bigger, 0, sizeof *bigger);
	bigger->number = number;
	snprintf(bigger->file, sizeof bigger->file, "%s", file);
	return bigger;
}

static void entry_free(struct manifest_entry *entry)
{
	free(entry->path);
	free(entry->reason);
	free(entry->link_to);
	free(entry->missing);
}

void manifest_free(struct manifest *manifest)
{
	size_t i;

	for (i = 0; i < manifest->count; i++)
		entry_free(&manifest->entries[i]);
	for (i = 0; i < manifest->database_count; i++)
		free(manifest->databases[i].path);
	free(manifest->entries);
	free(manifest->index);
	free(manifest->volumes);
	free(manifest->databases);
	memset(manifest, 0, sizeof *manifest);
}

static size_t path_hash(const char *path)
{
	size_t hash = 14695981039346656037ULL;

	while (*path)
		hash = (hash ^ (unsigned char)*path++) * 1099511628211ULL;
	return hash;
}

/* The slot of PATH in the index: where it is, or the free one where it would go. */
static size_t index_slot(const struct manifest *manifest, const char *path)
{
	size_t mask = manifest->index_size - 1, slot = path_hash(path) & mask;

	while (manifest->index[slot]
	    && strcmp(manifest->entries[manifest->index[slot] - 1].path, path) != 0)
		slot = (slot + 1) & mask;
	return slot;
}

/* Kept at most half full; entries added later replace earlier ones of the same path. */
static int index_update(struct manifest *manifest)
{
	size_t i, size = 1024;

	if (manifest->index && manifest->count * 2 < manifest->index_size)
		return 0;
	while (size < manifest->count * 4)
		size *= 2;
	free(manifest->index);
	if (!(manifest->index = calloc(size, sizeof *manifest->index)))
		return manifest->index_size = 0, -1;
	manifest->index_size = size;
	for (i = 0; i < manifest->count; i++)
		manifest->index[index_slot(manifest, manifest->entries[i].path)] = i + 1;
	return 0;
}

struct manifest_entry *manifest_find(struct manifest *manifest, const char *path)
{
	size_t slot;

	if (index_update(manifest) != 0)
		return NULL;
	slot = index_slot(manifest, path);
	return manifest->index[slot] ? &manifest->entries[manifest->index[slot] - 1] : NULL;
}

struct manifest_volume *manifest_volume(struct manifest *manifest, unsigned number)
{
	size_t i;

	for (i = 0; i < manifest->volume_count; i++)
		if (manifest->volumes[i].number == number)
			return &manifest->volumes[i];
	return NULL;
}

/* An entry the files may name: in no volume, or in one on the target whole. */
static int entry_settled(struct manifest *manifest, const struct manifest_entry *entry)
{
	const struct manifest_volume *volume = manifest_volume(manifest, entry->volume);

	return entry->volume == 0 || (volume && volume->complete);
}

/* Whether the files name ENTRY: settled, and not replaced by a later settled entry of the
 * same path (a file sent again by a resumed run after it changed or was partial). */
static int entry_current(struct manifest *manifest, const struct manifest_entry *entry)
{
	const struct manifest_entry *latest = manifest_find(manifest, entry->path);

	if (!entry_settled(manifest, entry))
		return 0;
	return !latest || latest == entry || !entry_settled(manifest, latest);
}

struct manifest_entry *manifest_current(struct manifest *manifest, const char *path)
{
	struct manifest_entry *latest = manifest_find(manifest, path);
	size_t i;

	if (!latest || entry_settled(manifest, latest))
		return latest;
	for (i = (size_t)(latest - manifest->entries); i-- > 0;)
		if (!strcmp(manifest->entries[i].path, path)
		    && entry_settled(manifest, &manifest->entries[i]))
			return &manifest->entries[i];
	return NULL;
}

void manifest_totals(struct manifest *manifest, struct manifest_totals *totals)
{
	const struct manifest_entry *entry;
	size_t i, r;

	memset(totals, 0, sizeof *totals);
	for (i = 0; i < manifest->count; i++) {
		entry = &manifest->entries[i];
		if (!entry_current(manifest, entry))
			continue;
		switch (entry->status) {
		case MANIFEST_COPIED: totals->copied++; break;
		case MANIFEST_PARTIAL: totals->partial++; break;
		case MANIFEST_FAILED: totals->failed++; break;
		case MANIFEST_SKIPPED: totals->skipped++; break;
		}
		if (strcmp(entry->type, "file") || entry->link_to || !entry->volume)
			continue;
		totals->bytes += entry->size;
		for (r = 0; r < entry->missing_count; r++)
			totals->missing_bytes += entry->missing[r].end - entry->missing[r].start;
	}
}

/* ------------------------------------------------------------------ writing */

static void write_entry(FILE *out, const struct manifest_entry *entry)
{
	size_t r;

	fputs("{\"path\":", out);
	json_string(out, entry->path);
	fprintf(out, ",\"type\":\"%s\",\"status\":\"%s\",\"size\":%" PRIu64 ",\"mtime\":%"
	    PRId64 ",\"mtime_nsec\":%ld,\"inode\":%" PRIu64 ",\"volume\":%u", entry->type,
	    manifest_status_name(entry->status), entry->size, entry->mtime, entry->mtime_nsec,
	    entry->inode, entry->volume);
	if (entry->sha256[0])
		fprintf(out, ",\"sha256\":\"%s\"", entry->sha256);
	if (entry->link_to) {
		fputs(",\"link_to\":", out);
		json_string(out, entry->link_to);
	}
	if (entry->missing_count) {
		fputs(",\"missing\":[", out);
		for (r = 0; r < entry->missing_count; r++)
			fprintf(out, "%s[%" PRIu64 ",%" PRIu64 "]", r ? "," : "",
			    entry->missing[r].start, entry->missing[r].end);
		putc(']', out);
	}
	if (entry->reason) {
		fputs(",\"reason\":", out);
		json_string(out, entry->reason);
	}
	putc('}', out);
}

static void write_databases(FILE *out, const struct manifest *manifest)
{
	const struct manifest_database *database;
	size_t i;

	fputs("\"databases\":[", out);
	for (i = 0; i < manifest->database_count; i++) {
		database = &manifest->databases[i];
		fprintf(out, "%s\n{", i ? "," : "");
		json_member_string(out, "kind", database->kind, 0);
		json_member_string(out, "version", database->version, 1);
		json_member_string(out, "path", database->path, 1);
		fprintf(out, ",\"files\":%zu,\"complete\":%zu}", database->files,
		    database->complete);
	}
	fputs("],\n", out);
}

static void write_volumes(FILE *out, const struct manifest *manifest)
{
	const struct manifest_volume *volume;
	size_t i;

	fputs("\"volumes\":[", out);
	for (i = 0; i < manifest->volume_count; i++) {
		volume = &manifest->volumes[i];
		fprintf(out, "%s\n{\"number\":%u,\"file\":", i ? "," : "", volume->number);
		json_string(out, volume->file);
		fprintf(out, ",\"complete\":%s,\"bytes\":%" PRIu64 "}",
		    volume->complete ? "true" : "false", volume->bytes);
	}
	fputs("],\n", out);
}

char *manifest_json(struct manifest *manifest, size_t *size)
{
	struct manifest_totals totals;
	char *text = NULL;
	size_t i, written = 0;
	FILE *out = open_memstream(&text, size);

	if (!out)
		return NULL;
	manifest_totals(manifest, &totals);
	fputs("{\"format\":\"rescue-dump-manifest-1\",", out);
	json_member_string(out, "source", manifest->source, 0);
	json_member_string(out, "compress", manifest->compress, 1);
	fprintf(out, ",\n\"totals\":{\"copied\":%zu,\"partial\":%zu,\"failed\":%zu,"
	    "\"skipped\":%zu,\"bytes\":%" PRIu64 ",\"missing_bytes\":%" PRIu64 "},\n",
	    totals.copied, totals.partial, totals.failed, totals.skipped, totals.bytes,
	    totals.missing_bytes);
	write_volumes(out, manifest);
	write_databases(out, manifest);
	fputs("\"entries\":[", out);
	for (i = 0; i < manifest->count; i++) {
		if (!entry_current(manifest, &manifest->entries[i]))
			continue;
		fputs(written++ ? ",\n" : "\n", out);
		write_entry(out, &manifest->entries[i]);
	}
	fputs("\n]}\n", out);
	if (fclose(out) != 0 || !text) {
		free(text);
		return NULL;
	}
	return text;
}

/* GNU sha256sum's form: a name with a backslash or a newline gets a leading backslash on
 * its line and those two escaped, so `sha256sum -c` reads back the exact bytes. */
static void write_sum(FILE *out, const struct manifest_entry *entry)
{
	const char *c;

	if (!strpbrk(entry->path, "\\\n")) {
		fprintf(out, "%s  %s\n", entry->sha256, entry->path);
		return;
	}
	fprintf(out, "\\%s  ", entry->sha256);
	for (c = entry->path; *c; c++)
		if (*c == '\\')
			fputs("\\\\", out);
		else if (*c == '\n')
			fputs("\\n", out);
		else
			putc(*c, out);
	putc('\n', out);
}

char *manifest_sha256sum(struct manifest *manifest, size_t *size)
{
	const struct manifest_entry *entry;
	char *text = NULL;
	size_t i;
	FILE *out = open_memstream(&text, size);

	if (!out)
		return NULL;
	for (i = 0; i < manifest->count; i++) {
		entry = &manifest->entries[i];
		if (entry->status == MANIFEST_COPIED && entry->sha256[0]
		    && !strcmp(entry->type, "file") && entry_current(manifest, entry))
			write_sum(out, entry);
	}
	if (fclose(out) != 0 || !text) {
		free(text);
		return NULL;
	}
	return text;
}

/* ------------------------------------------------------------------ reading */

/* A reader for the one-line objects manifest_json writes: strings (with json.h's \u00XX
 * bytes), integers, booleans, and arrays of pairs of integers. */
struct cursor {
	const char *at;
	int failed;
};

static void skip_space(struct cursor *cursor)
{
	while (*cursor->at == ' ' || *cursor->at == '\t')
		cursor->at++;
}

static int expect(struct cursor *cursor, char c)
{
	skip_space(cursor);
	if (*cursor->at != c)
		return cursor->failed = 1, -1;
	cursor->at++;
	return 0;
}

static int hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static const char *unescape(char c)
{
	switch (c) {
	case 'n': return "\n";
	case 't': return "\t";
	case 'r': return "\r";
	case 'b': return "\b";
	case 'f': return "\f";
	case '/': return "/";
	case '"': return "\"";
	case '\\': return "\\";
	}
	return NULL;
}

/* A JSON string into a malloc'd buffer; \u00XX gives the byte XX (json.h). */
static char *read_string(struct cursor *cursor)
{
	size_t length = 0;
	const char *c;
	char *text;
	int i, digit;
	unsigned code;

	if (expect(cursor, '"') != 0 || !(text = malloc(strlen(cursor->at) + 1)))
		return cursor->failed = 1, NULL;
	for (c = cursor->at; *c && *c != '"'; c++) {
		if (*c != '\\') {
			text[length++] = *c;
			continue;
		}
		if (c[1] == 'u') {
			for (code = 0, i = 2; i < 6; i++) {
				if ((digit = hex_digit(c[i])) < 0)
					goto bad;
				code = code << 4 | (unsigned)digit;
			}
			if (code == 0 || code > 0xff)
				goto bad;	/* json_string writes no others */
			text[length++] = (char)code;
			c += 5;
		} else if (c[1] && unescape(c[1])) {
			text[length++] = *unescape(c[1]);
			c++;
		} else {
			goto bad;
		}
	}
	if (*c != '"')
		goto bad;
	text[length] = '\0';
	cursor->at = c + 1;
	return text;
bad:
	free(text);
	cursor->failed = 1;
	return NULL;
}

static uint64_t read_number(struct cursor *cursor, int *negative)
{
	uint64_t value = 0;

	skip_space(cursor);
	*negative = *cursor->at == '-';
	if (*negative)
		cursor->at++;
	if (*cursor->at < '0' || *cursor->at > '9')
		return cursor->failed = 1, 0;
	while (*cursor->at >= '0' && *cursor->at <= '9')
		value = value * 10 + (uint64_t)(*cursor->at++ - '0');
	return value;
}

static uint64_t read_unsigned(struct cursor *cursor)
{
	int negative;
	uint64_t value = read_number(cursor, &negative);

	if (negative)
		cursor->failed = 1;
	return value;
}

static int read_bool(struct cursor *cursor)
{
	skip_space(cursor);
	if (!strncmp(cursor->at, "true", 4))
		return cursor->at += 4, 1;
	if (!strncmp(cursor->at, "false", 5))
		return cursor->at += 5, 0;
	return cursor->failed = 1, 0;
}

static void read_ranges(struct cursor *cursor, struct manifest_entry *entry)
{
	uint64_t start, end;

	if (expect(cursor, '[') != 0)
		return;
	skip_space(cursor);
	while (*cursor->at == '[' && !cursor->failed) {
		cursor->at++;
		start = read_unsigned(cursor);
		expect(cursor, ',');
		end = read_unsigned(cursor);
		expect(cursor, ']');
		if (!cursor->failed && manifest_add_range(entry, start, end) != 0)
			cursor->failed = 1;
		skip_space(cursor);
		if (*cursor->at == ',')
			cursor->at++, skip_space(cursor);
	}
	expect(cursor, ']');
}

static void copy_text(char *to, size_t size, char *from)
{
	if (from && strlen(from) < size)
		strcpy(to, from);
	free(from);
}

static enum manifest_status status_named(const char *name, struct cursor *cursor)
{
	size_t i;

	for (i = 0; i < sizeof status_names / sizeof *status_names; i++)
		if (name && !strcmp(name, status_names[i]))
			return (enum manifest_status)i;
	cursor->failed = 1;
	return MANIFEST_FAILED;
}

static void read_entry_member(struct cursor *cursor, const char *key,
    struct manifest_entry *entry)
{
	int negative;
	char *text;

	if (!strcmp(key, "type"))
		copy_text(entry->type, sizeof entry->type, read_string(cursor));
	else if (!strcmp(key, "status")) {
		text = read_string(cursor);
		entry->status = status_named(text, cursor);
		free(text);
	} else if (!strcmp(key, "size"))
		entry->size = read_unsigned(cursor);
	else if (!strcmp(key, "mtime")) {
		entry->mtime = (int64_t)read_number(cursor, &negative);
		if (negative)
			entry->mtime = -entry->mtime;
	} else if (!strcmp(key, "mtime_nsec"))
		entry->mtime_nsec = (long)read_unsigned(cursor);
	else if (!strcmp(key, "inode"))
		entry->inode = read_unsigned(cursor);
	else if (!strcmp(key, "volume"))
		entry->volume = (unsigned)read_unsigned(cursor);
	else if (!strcmp(key, "sha256"))
		copy_text(entry->sha256, sizeof entry->sha256, read_string(cursor));
	else if (!strcmp(key, "link_to"))
		entry->link_to = read_string(cursor);
	else if (!strcmp(key, "reason"))
		entry->reason = read_string(cursor);
	else if (!strcmp(key, "missing"))
		read_ranges(cursor, entry);
	else
		cursor->failed = 1;
}

static void read_volume_member(struct cursor *cursor, const char *key,
    struct manifest_volume *volume)
{
	if (!strcmp(key, "number"))
		volume->number = (unsigned)read_unsigned(cursor);
	else if (!strcmp(key, "file"))
		copy_text(volume->file, sizeof volume->file, read_string(cursor));
	else if (!strcmp(key, "complete"))
		volume->complete = read_bool(cursor);
	else if (!strcmp(key, "bytes"))
		volume->bytes = read_unsigned(cursor);
	else
		cursor->failed = 1;
}

/* The members after the first of one object, up to its closing brace. */
static void read_members(struct cursor *cursor, struct manifest_entry *entry,
    struct manifest_volume *volume)
{
	char *key;

	skip_space(cursor);
	while (*cursor->at == ',' && !cursor->failed) {
		cursor->at++;
		if (!(key = read_string(cursor)))
			return;
		if (expect(cursor, ':') == 0) {
			if (entry)
				read_entry_member(cursor, key, entry);
			else
				read_volume_member(cursor, key, volume);
		}
		free(key);
		skip_space(cursor);
	}
	expect(cursor, '}');
}

static int parse_line(struct manifest *manifest, const char *line)
{
	struct cursor cursor = { line, 0 };
	struct manifest_entry *entry;
	struct manifest_volume volume = { 0 };
	char *path;

	if (!strncmp(line, "{\"path\":", 8)) {
		cursor.at += 8;
		if (!(path = read_string(&cursor)) || !(entry = manifest_add(manifest, path))) {
			free(path);
			return -1;
		}
		free(path);
		read_members(&cursor, entry, NULL);
	} else if (!strncmp(line, "{\"number\":", 10)) {
		cursor.at += 10;
		volume.number = (unsigned)read_unsigned(&cursor);
		read_members(&cursor, NULL, &volume);
		if (!cursor.failed && !manifest_add_volume(manifest, volume.number, volume.file))
			return -1;
		if (!cursor.failed) {
			manifest->volumes[manifest->volume_count - 1] = volume;
		}
	}
	return cursor.failed ? -1 : 0;
}

/* Each line is copied (NUL-terminated) before it is read, so the reader never looks past
 * LENGTH, whatever the text holds. */
int manifest_parse(struct manifest *manifest, const char *text, size_t length, char *why,
    size_t why_size)
{
	static const char format[] = "{\"format\":\"rescue-dump-manifest-1\"";
	const char *line = text, *end = text + length, *newline;
	char *copy;
	size_t number = 1;
	int rc;

	if (length < sizeof format - 1 || memcmp(text, format, sizeof format - 1) != 0) {
		snprintf(why, why_size, "not a manifest rescue dump wrote (line 1)");
		return -1;
	}
	for (; line < end; line = newline ? newline + 1 : end, number++) {
		newline = memchr(line, '\n', (size_t)(end - line));
		if (!(copy = strndup(line, (size_t)((newline ? newline : end) - line)))) {
			snprintf(why, why_size, "out of memory");
			return -1;
		}
		/* Entries and volumes but the first in their list start with a comma. */
		rc = parse_line(manifest, copy[0] == ',' ? copy + 1 : copy);
		free(copy);
		if (rc != 0) {
			snprintf(why, why_size, "line %zu cannot be read", number);
			return -1;
		}
	}
	return 0;
}
