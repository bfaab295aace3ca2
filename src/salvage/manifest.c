/* manifest.c: the dump manifest, written as the run goes and read back (formats and
 * memory in manifest.h). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/json.h"
#include "base/sort.h"
#include "salvage/manifest.h"

static const char *const status_names[] = { "copied", "partial", "failed", "skipped" };
static const char format_line[] = "{\"format\":\"rescue-dump-manifest-1\"";
static const char checkpoint_line[] = "{\"format\":\"rescue-dump-checkpoint-1\"";

const char *manifest_status_name(enum manifest_status status)
{
	return status_names[status];
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

void manifest_entry_free(struct manifest_entry *entry)
{
	free(entry->path);
	free(entry->reason);
	free(entry->link_to);
	free(entry->missing);
	memset(entry, 0, sizeof *entry);
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

struct manifest_volume *manifest_volume(struct manifest *manifest, unsigned number)
{
	size_t i;

	for (i = 0; i < manifest->volume_count; i++)
		if (manifest->volumes[i].number == number)
			return &manifest->volumes[i];
	return NULL;
}

static void close_pending(struct manifest *manifest)
{
	if (manifest->json)
		fclose(manifest->json);
	if (manifest->sums)
		fclose(manifest->sums);
	free(manifest->json_text);
	free(manifest->sums_text);
	manifest->json = manifest->sums = NULL;
	manifest->json_text = manifest->sums_text = NULL;
	manifest->json_size = manifest->sums_size = 0;
}

void manifest_free(struct manifest *manifest)
{
	size_t i;

	close_pending(manifest);
	for (i = 0; i < manifest->database_count; i++)
		free(manifest->databases[i].path);
	for (i = 0; i < MANIFEST_LISTED; i++) {
		free(manifest->partial[i].path), free(manifest->partial[i].reason);
		free(manifest->failed[i].path), free(manifest->failed[i].reason);
	}
	free(manifest->volumes);
	free(manifest->databases);
	free(manifest->known);
	memset(manifest, 0, sizeof *manifest);
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

static int open_pending(struct manifest *manifest)
{
	if (!manifest->json && !(manifest->json = open_memstream(&manifest->json_text,
	    &manifest->json_size)))
		return -1;
	if (!manifest->sums && !(manifest->sums = open_memstream(&manifest->sums_text,
	    &manifest->sums_size)))
		return -1;
	if (manifest->started)
		return 0;
	manifest->started = 1;
	fputs(format_line, manifest->json);
	json_member_string(manifest->json, "source", manifest->source, 1);
	json_member_string(manifest->json, "compress", manifest->compress, 1);
	fputs(",\n\"entries\":[", manifest->json);
	return 0;
}

/* The first MANIFEST_LISTED of a kind, for the summary. */
static void list_problem(struct manifest_problem *list, const struct manifest_entry *entry)
{
	size_t i;

	for (i = 0; i < MANIFEST_LISTED && list[i].path; i++)
		;
	if (i == MANIFEST_LISTED)
		return;
	list[i].path = strdup(entry->path);
	list[i].reason = strdup(entry->reason ? entry->reason : "");
}

static void count_entry(struct manifest *manifest, const struct manifest_entry *entry)
{
	struct manifest_totals *totals = &manifest->totals;
	size_t r;

	switch (entry->status) {
	case MANIFEST_COPIED: totals->copied++; break;
	case MANIFEST_PARTIAL: totals->partial++; list_problem(manifest->partial, entry); break;
	case MANIFEST_FAILED: totals->failed++; list_problem(manifest->failed, entry); break;
	case MANIFEST_SKIPPED: totals->skipped++; break;
	}
	if (strcmp(entry->type, "file") || entry->link_to || !entry->volume)
		return;
	totals->bytes += entry->size;
	for (r = 0; r < entry->missing_count; r++)
		totals->missing_bytes += entry->missing[r].end - entry->missing[r].start;
}

int manifest_commit(struct manifest *manifest, const struct manifest_entry *entry)
{
	if (open_pending(manifest) != 0)
		return -1;
	fputs(manifest->entries_written++ ? ",\n" : "\n", manifest->json);
	write_entry(manifest->json, entry);
	if (entry->status == MANIFEST_COPIED && entry->sha256[0] && !strcmp(entry->type, "file"))
		write_sum(manifest->sums, entry);
	count_entry(manifest, entry);
	return ferror(manifest->json) || ferror(manifest->sums) ? -1 : 0;
}

size_t manifest_pending(const struct manifest *manifest)
{
	/* A memstream's size is only brought up to date by fflush; ftell needs none. */
	long json = manifest->json ? ftell(manifest->json) : 0;
	long sums = manifest->sums ? ftell(manifest->sums) : 0;

	return (size_t)(json > 0 ? json : 0) + (size_t)(sums > 0 ? sums : 0);
}

int manifest_take_pending(struct manifest *manifest, const char **json, size_t *json_size,
    const char **sums, size_t *sums_size)
{
	if (open_pending(manifest) != 0 || fflush(manifest->json) != 0
	    || fflush(manifest->sums) != 0)
		return -1;
	*json = manifest->json_text ? manifest->json_text : "";
	*sums = manifest->sums_text ? manifest->sums_text : "";
	*json_size = manifest->json_size;
	*sums_size = manifest->sums_size;
	return 0;
}

void manifest_clear_pending(struct manifest *manifest)
{
	size_t d;

	close_pending(manifest);
	manifest->settled = manifest->totals;
	for (d = 0; d < manifest->database_count; d++) {
		manifest->databases[d].complete += manifest->databases[d].complete_pending;
		manifest->databases[d].complete_pending = 0;
	}
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

static void write_volume(FILE *out, const struct manifest_volume *volume)
{
	fprintf(out, "{\"number\":%u,\"file\":", volume->number);
	json_string(out, volume->file);
	fprintf(out, ",\"complete\":%s,\"bytes\":%" PRIu64 "}",
	    volume->complete ? "true" : "false", volume->bytes);
}

static void write_volumes(FILE *out, const struct manifest *manifest)
{
	size_t i;

	fputs("\"volumes\":[", out);
	for (i = 0; i < manifest->volume_count; i++) {
		fputs(i ? ",\n" : "\n", out);
		write_volume(out, &manifest->volumes[i]);
	}
	fputs("],\n", out);
}

int manifest_finish(struct manifest *manifest)
{
	const struct manifest_totals *totals = &manifest->totals;
	FILE *out;

	if (open_pending(manifest) != 0)
		return -1;
	out = manifest->json;
	fputs("\n],\n", out);
	write_volumes(out, manifest);
	write_databases(out, manifest);
	fprintf(out, "\"totals\":{\"copied\":%zu,\"partial\":%zu,\"failed\":%zu,"
	    "\"skipped\":%zu,\"bytes\":%" PRIu64 ",\"missing_bytes\":%" PRIu64 "}}\n",
	    totals->copied, totals->partial, totals->failed, totals->skipped, totals->bytes,
	    totals->missing_bytes);
	return ferror(out) ? -1 : 0;
}

char *manifest_checkpoint(const struct manifest *manifest, const char *log, uint64_t log_bytes,
    const char *sums, uint64_t sums_bytes, size_t *size)
{
	char *text = NULL;
	size_t i;
	FILE *out = open_memstream(&text, size);

	if (!out)
		return NULL;
	fputs(checkpoint_line, out);
	json_member_string(out, "log", log, 1);
	fprintf(out, ",\"log_bytes\":%" PRIu64, log_bytes);
	json_member_string(out, "sums", sums, 1);
	fprintf(out, ",\"sums_bytes\":%" PRIu64 "}\n", sums_bytes);
	for (i = 0; i < manifest->volume_count; i++) {
		write_volume(out, &manifest->volumes[i]);
		putc('\n', out);
	}
	if (fclose(out) != 0 || !text) {
		free(text);
		return NULL;
	}
	return text;
}

/* ------------------------------------------------------------------ resuming */

uint64_t manifest_path_hash(const char *path)
{
	uint64_t hash = 14695981039346656037ULL;

	while (*path)
		hash = (hash ^ (unsigned char)*path++) * 1099511628211ULL;
	return hash;
}

uint32_t manifest_fingerprint(const char *type, uint64_t size, int64_t mtime, long mtime_nsec)
{
	uint64_t hash = manifest_path_hash(type);

	hash = (hash ^ size) * 0x9e3779b97f4a7c15ULL;
	hash = (hash ^ (uint64_t)mtime) * 0x9e3779b97f4a7c15ULL;
	hash = (hash ^ (uint64_t)mtime_nsec) * 0x9e3779b97f4a7c15ULL;
	return (uint32_t)(hash >> 32);
}

int manifest_know(struct manifest *manifest, const struct manifest_entry *entry)
{
	struct manifest_known *bigger;
	size_t capacity;

	if (manifest->known_count == manifest->known_capacity) {
		capacity = manifest->known_capacity ? manifest->known_capacity * 2 : 1024;
		if (!(bigger = realloc(manifest->known, capacity * sizeof *bigger)))
			return -1;
		manifest->known = bigger;
		manifest->known_capacity = capacity;
	}
	manifest->known[manifest->known_count++] = (struct manifest_known){
		manifest_path_hash(entry->path),
		manifest_fingerprint(entry->type, entry->size, entry->mtime, entry->mtime_nsec),
		entry->volume << 8 | (entry->status == MANIFEST_COPIED ? MANIFEST_KNOWN_COPIED : 0)
	};
	return 0;
}

static int by_path_hash(const void *a, const void *b)
{
	uint64_t left = ((const struct manifest_known *)a)->path_hash;
	uint64_t right = ((const struct manifest_known *)b)->path_hash;

	return left < right ? -1 : left > right;
}

/* An entry of a volume that never became whole names nothing on the target. */
static int known_settled(struct manifest *manifest, const struct manifest_known *known)
{
	const struct manifest_volume *volume;
	unsigned number = known->volume_flags >> 8;

	if (!number)
		return 1;
	volume = manifest_volume(manifest, number);
	return volume && volume->complete;
}

void manifest_known_ready(struct manifest *manifest)
{
	size_t in, out = 0;
	struct manifest_known *smaller;

	for (in = 0; in < manifest->known_count; in++)
		if (known_settled(manifest, &manifest->known[in]))
			manifest->known[out++] = manifest->known[in];
	manifest->known_count = out;
	array_sort(manifest->known, out, sizeof *manifest->known, by_path_hash);
	/* The doubling's slack back: this array stays for the whole run. */
	if (out && (smaller = realloc(manifest->known, out * sizeof *smaller))) {
		manifest->known = smaller;
		manifest->known_capacity = out;
	}
}

struct manifest_known *manifest_known_find(struct manifest *manifest, const char *path)
{
	struct manifest_known key = { manifest_path_hash(path), 0, 0 };

	if (!manifest->known_count)
		return NULL;
	return bsearch(&key, manifest->known, manifest->known_count, sizeof key, by_path_hash);
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

/* ENTRY or VOLUME, whichever the line holds (see manifest.h). */
static int parse_line(const char *line, struct manifest_entry *entry,
    struct manifest_volume *volume)
{
	struct cursor cursor = { line, 0 };

	if (!strncmp(line, "{\"path\":", 8)) {
		cursor.at += 8;
		memset(entry, 0, sizeof *entry);
		if (!(entry->path = read_string(&cursor)))
			return -1;
		read_members(&cursor, entry, NULL);
		if (cursor.failed) {
			manifest_entry_free(entry);
			return -1;
		}
		return 1;
	}
	if (!strncmp(line, "{\"number\":", 10)) {
		cursor.at += 10;
		memset(volume, 0, sizeof *volume);
		volume->number = (unsigned)read_unsigned(&cursor);
		read_members(&cursor, NULL, volume);
		return cursor.failed ? -1 : 2;
	}
	return 0;
}

/* The line is copied (NUL-terminated) before it is read, so the reader never looks past
 * LENGTH, whatever the text holds. */
int manifest_read_line(const char *line, size_t length, struct manifest_entry *entry,
    struct manifest_volume *volume)
{
	char *copy;
	int rc;

	if (length && line[length - 1] == '\n')
		length--;
	if (!(copy = strndup(line, length)))
		return -1;
	/* Entries and volumes but the first in their list start with a comma. */
	rc = parse_line(copy[0] == ',' ? copy + 1 : copy, entry, volume);
	free(copy);
	return rc;
}

static uint64_t member_number(const char *text, const char *key)
{
	const char *at = strstr(text, key);

	return at ? strtoull(at + strlen(key), NULL, 10) : 0;
}

static void member_text(const char *text, const char *key, char *value, size_t size)
{
	struct cursor cursor = { strstr(text, key), 0 };
	char *found;

	value[0] = '\0';
	if (!cursor.at)
		return;
	cursor.at += strlen(key);
	if ((found = read_string(&cursor)) && strlen(found) < size)
		strcpy(value, found);
	free(found);
}

int manifest_parse_checkpoint(const char *text, size_t length,
    struct manifest_checkpoint *checkpoint, char *why, size_t why_size)
{
	const char *newline = memchr(text, '\n', length);
	char *first;

	memset(checkpoint, 0, sizeof *checkpoint);
	if (!newline || length < sizeof checkpoint_line - 1
	    || memcmp(text, checkpoint_line, sizeof checkpoint_line - 1) != 0) {
		snprintf(why, why_size, "not a checkpoint rescue dump wrote (line 1)");
		return -1;
	}
	if (!(first = strndup(text, (size_t)(newline - text)))) {
		snprintf(why, why_size, "out of memory");
		return -1;
	}
	member_text(first, "\"log\":", checkpoint->log, sizeof checkpoint->log);
	member_text(first, "\"sums\":", checkpoint->sums, sizeof checkpoint->sums);
	checkpoint->log_bytes = member_number(first, "\"log_bytes\":");
	checkpoint->sums_bytes = member_number(first, "\"sums_bytes\":");
	free(first);
	if (!checkpoint->log[0] || !checkpoint->sums[0]) {
		snprintf(why, why_size, "line 1 names no log");
		return -1;
	}
	return 0;
}
