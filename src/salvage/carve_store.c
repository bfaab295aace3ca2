/* carve_store.c: carved files, their manifest and the resume state on a store (see
 * carve_store.h). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/json.h"
#include "base/sha256.h"
#include "salvage/carve_store.h"
#include "target/store.h"

static const char STATE_HEADER[] = "# rescue carve state 1\n";

const char *carve_status_name(enum carve_status status)
{
	switch (status) {
	case CARVE_VALIDATED: return "validated";
	case CARVE_TRUNCATED: return "truncated";
	case CARVE_UNVALIDATED: return "unvalidated";
	}
	return "unknown";
}

static int status_parse(const char *text, enum carve_status *status)
{
	enum carve_status all[] = { CARVE_VALIDATED, CARVE_TRUNCATED, CARVE_UNVALIDATED };
	size_t i;

	for (i = 0; i < 3; i++)
		if (!strcmp(text, carve_status_name(all[i]))) {
			*status = all[i];
			return 0;
		}
	return -1;
}

void carve_store_init(struct carve_store *out, struct store *store, const char *name,
    const char *identity, uint64_t stream_size)
{
	memset(out, 0, sizeof *out);
	out->store = store;
	out->give_up = -1;
	snprintf(out->name, sizeof out->name, "%s", name);
	snprintf(out->dir, sizeof out->dir, "%s.carve", name);
	snprintf(out->state_name, sizeof out->state_name, "%s.carve.state", name);
	snprintf(out->json_name, sizeof out->json_name, "%s.carve.json", name);
	snprintf(out->sums_name, sizeof out->sums_name, "%s.carve.sha256", name);
	snprintf(out->identity, sizeof out->identity, "%s", identity);
	out->stream_size = stream_size;
}

/* ------------------------------------------------------------------ the index */

static uint64_t string_hash(const char *text)
{
	uint64_t hash = 14695981039346656037ull;	/* FNV-1a */

	for (; *text; text++)
		hash = (hash ^ (unsigned char)*text) * 1099511628211ull;
	return hash;
}

/* TEXT's copy in the arena, the same one for the same text; NULL when out of memory. */
static const char *intern(struct carve_strings *strings, const char *text)
{
	size_t length = strlen(text) + 1, i;
	char *copy;

	if (length == 1)
		return "";
	if (2 * (strings->used + 1) > strings->slot_count) {
		size_t count = strings->slot_count ? 2 * strings->slot_count : 1024;
		const char **slots = calloc(count, sizeof *slots);

		if (!slots)
			return NULL;
		for (i = 0; i < strings->slot_count; i++) {
			size_t k;

			if (!strings->slots[i])
				continue;
			for (k = string_hash(strings->slots[i]) & (count - 1); slots[k];
			    k = (k + 1) & (count - 1))
				;
			slots[k] = strings->slots[i];
		}
		free(strings->slots);
		strings->slots = slots;
		strings->slot_count = count;
	}
	for (i = string_hash(text) & (strings->slot_count - 1); strings->slots[i];
	    i = (i + 1) & (strings->slot_count - 1))
		if (!strcmp(strings->slots[i], text))
			return strings->slots[i];
	if (!strings->block || strings->block_used + length > strings->block_size) {
		size_t size = sizeof (char *) + length > 65536 ? sizeof (char *) + length : 65536;
		char *block = malloc(size);

		if (!block)
			return NULL;
		memcpy(block, &strings->block, sizeof (char *));
		strings->block = block;
		strings->block_used = sizeof (char *);
		strings->block_size = size;
	}
	copy = strings->block + strings->block_used;
	memcpy(copy, text, length);
	strings->block_used += length;
	strings->slots[i] = copy;
	strings->used++;
	return copy;
}

static void strings_free(struct carve_strings *strings)
{
	while (strings->block) {
		char *previous;

		memcpy(&previous, strings->block, sizeof previous);
		free(strings->block);
		strings->block = previous;
	}
	free(strings->slots);
	memset(strings, 0, sizeof *strings);
}

static int hex_digit(char c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* The 64 lowercase hex digits as bytes: 0, or -1 when they are not that. */
static int sha256_bytes(const char *hex, unsigned char bytes[32])
{
	for (size_t i = 0; i < 32; i++) {
		int high = hex_digit(hex[2 * i]), low = high < 0 ? -1 : hex_digit(hex[2 * i + 1]);

		if (low < 0)
			return -1;
		bytes[i] = (unsigned char)(high << 4 | low);
	}
	return hex[64] ? -1 : 0;
}

void carve_store_free(struct carve_store *out)
{
	free(out->files);
	out->files = NULL;
	out->count = out->capacity = 0;
	strings_free(&out->strings);
}

static void path_of(const struct carve_store *out, const char *type, uint64_t position,
    const char *ext, char *path, size_t size)
{
	snprintf(path, size, "%s/%s/f%" PRIu64 ".%s", out->dir, type, position, ext);
}

void carve_file_path(const struct carve_store *out, const struct carve_file *file,
    char *path, size_t size)
{
	path_of(out, file->type, file->source_position, file->ext, path, size);
}

void carve_record_path(const struct carve_store *out, const struct carve_record *file,
    char *path, size_t size)
{
	path_of(out, file->type, file->source_position, file->ext, path, size);
}

/* FILE into the index: 0, or -1 when out of memory or its sha256 is not 64 hex digits. */
static int add_file(struct carve_store *out, const struct carve_file *file)
{
	struct carve_record record = {
		.stream_position = file->stream_position,
		.source_position = file->source_position,
		.length = file->length,
		.bad_bytes = file->bad_bytes,
		.status = file->status,
	};

	if (sha256_bytes(file->sha256, record.sha256) != 0
	    || !(record.type = intern(&out->strings, file->type))
	    || !(record.ext = intern(&out->strings, file->ext))
	    || !(record.delimited = intern(&out->strings, file->delimited))
	    || !(record.bad_ranges = intern(&out->strings, file->bad_ranges)))
		return -1;
	if (out->count == out->capacity) {
		size_t capacity = out->capacity ? 2 * out->capacity : 256;
		struct carve_record *bigger = realloc(out->files, capacity * sizeof *bigger);

		if (!bigger)
			return -1;
		out->files = bigger;
		out->capacity = capacity;
	}
	out->files[out->count++] = record;
	return 0;
}

/* ------------------------------------------------------------------ the texts */

/* The state, the JSON and the sha256 lines are made a file's line or record at a time
 * into a 64 KiB buffer handed to store_replace_pieces whenever it is nearly full, so no
 * whole text is ever held: the head (record 0), each file (1..count), the tail
 * (count + 1). */
enum text_kind { TEXT_SUMS, TEXT_JSON, TEXT_STATE };

/* The most one piece takes: a JSON record's fields escaped (\u00XX) take < 6,000 bytes,
 * the JSON head's identity < 3,200. */
enum { RECORD_MAX = 8192 };

struct text_pieces {
	const struct carve_store *out;
	enum text_kind kind;
	uint64_t position;
	int complete;
	size_t next;
	int overflow;			/* a piece did not fit */
	FILE *stream;			/* over buffer */
	char buffer[65536];
};

static void state_piece(FILE *stream, const struct text_pieces *text, size_t i)
{
	const struct carve_store *out = text->out;
	const struct carve_record *f;
	char sha256[65];

	if (i == 0) {
		fprintf(stream, "%s%s\nstream %" PRIu64 "\nposition %" PRIu64 "%s\n",
		    STATE_HEADER, out->identity, out->stream_size, text->position,
		    text->complete ? " complete" : "");
		return;
	}
	if (i > out->count)
		return;
	f = &out->files[i - 1];
	sha256_hex(f->sha256, sha256);
	fprintf(stream, "file %" PRIu64 " %" PRIu64 " %" PRIu64 " %s %s %s %s %" PRIu64
	    " %s %s\n", f->stream_position, f->source_position, f->length, f->type, f->ext,
	    carve_status_name(f->status), sha256, f->bad_bytes,
	    f->bad_ranges[0] ? f->bad_ranges : "-", f->delimited);
}


static int parse_file_line(const char *line, struct carve_file *file)
{
	char status[16], ranges[sizeof file->bad_ranges];
	int consumed = 0;

	memset(file, 0, sizeof *file);
	if (sscanf(line, "file %" SCNu64 " %" SCNu64 " %" SCNu64 " %23s %15s %15s %64s %"
	    SCNu64 " %159s%n", &file->stream_position, &file->source_position, &file->length,
	    file->type, file->ext, status, file->sha256, &file->bad_bytes, ranges,
	    &consumed) != 9 || consumed == 0 || status_parse(status, &file->status) != 0
	    || strlen(file->sha256) != 64)
		return -1;
	snprintf(file->bad_ranges, sizeof file->bad_ranges, "%s", strcmp(ranges, "-") ? ranges
	    : "");
	/* One space, then the rest of this line (" %n" would run on into the next line
	 * when the note is empty). */
	consumed += line[consumed] == ' ';
	snprintf(file->delimited, sizeof file->delimited, "%.*s",
	    (int)strcspn(line + consumed, "\n"), line + consumed);
	return 0;
}

static int state_line(struct carve_store *out, const char *line, int number, char *why,
    size_t why_size)
{
	struct carve_file file;
	uint64_t value;
	char word[16] = "";

	if (!strncmp(line, "# rescue source: ", 17)) {
		if (strncmp(line, out->identity, strcspn(line, "\n")) != 0
		    || strlen(out->identity) != strcspn(line, "\n")) {
			snprintf(why, why_size, "it is of another source: %.*s",
			    (int)strcspn(line + 17, "\n"), line + 17);
			return -1;
		}
		return 0;
	}
	if (line[0] == '#' || line[0] == '\n' || !line[0])
		return 0;
	if (sscanf(line, "stream %" SCNu64, &value) == 1) {
		if (value == out->stream_size)
			return 0;
		snprintf(why, why_size, "it is of a scan of %" PRIu64 " bytes, this one has %"
		    PRIu64 " (other --free, --input-position or --size)", value,
		    out->stream_size);
		return -1;
	}
	if (sscanf(line, "position %" SCNu64 " %15s", &value, word) >= 1) {
		out->position = value;
		out->complete = !strcmp(word, "complete");
		return 0;
	}
	if (parse_file_line(line, &file) == 0 && add_file(out, &file) == 0)
		return 0;
	snprintf(why, why_size, "line %d is malformed", number);
	return -1;
}

int carve_state_parse(struct carve_store *out, const char *text, char *why, size_t why_size)
{
	const char *line = text;
	int number = 1;

	if (strncmp(text, STATE_HEADER, sizeof STATE_HEADER - 1) != 0) {
		snprintf(why, why_size, "it does not start with \"%.*s\"",
		    (int)sizeof STATE_HEADER - 2, STATE_HEADER);
		return -1;
	}
	for (; line && *line; number++) {
		if (state_line(out, line, number, why, why_size) != 0)
			return -1;
		line = strchr(line, '\n');
		line = line ? line + 1 : NULL;
	}
	if (out->position > out->stream_size) {
		snprintf(why, why_size, "its position is past the stream's end");
		return -1;
	}
	return 0;
}

/* ------------------------------------------------------------------ the manifest */

static void json_bad_ranges(FILE *stream, const char *ranges)
{
	uint64_t start, length;
	const char *at = ranges;
	int first = 1;

	fputs(",\"bad_ranges\":[", stream);
	while (*at && sscanf(at, "%" SCNu64 "+%" SCNu64, &start, &length) == 2) {
		fprintf(stream, "%s[%" PRIu64 ",%" PRIu64 "]", first ? "" : ",", start, length);
		first = 0;
		at += strcspn(at, ",");
		at += *at == ',';
	}
	fprintf(stream, "],\"bad_ranges_cut\":%s", strstr(ranges, "...") ? "true" : "false");
}

static void json_piece(FILE *stream, const struct text_pieces *text, size_t i)
{
	const struct carve_store *out = text->out;
	const struct carve_record *f;
	char path[700], sha256[65];

	if (i == 0) {
		fputs("{", stream);
		json_member_string(stream, "source", out->identity + strlen("# rescue source: "),
		    0);
		fprintf(stream, ",\"scanned\":%" PRIu64 ",\"stream_size\":%" PRIu64
		    ",\"complete\":%s,\"files\":[", text->position, out->stream_size,
		    text->complete ? "true" : "false");
		return;
	}
	if (i > out->count) {
		fputs("\n]}\n", stream);
		return;
	}
	f = &out->files[i - 1];
	carve_record_path(out, f, path, sizeof path);
	sha256_hex(f->sha256, sha256);
	fprintf(stream, "%s\n{", i > 1 ? "," : "");
	json_member_string(stream, "path", path, 0);
	fprintf(stream, ",\"offset\":%" PRIu64 ",\"stream_offset\":%" PRIu64 ",\"length\":%"
	    PRIu64, f->source_position, f->stream_position, f->length);
	json_member_string(stream, "type", f->type, 1);
	json_member_string(stream, "status", carve_status_name(f->status), 1);
	json_member_string(stream, "delimited", f->delimited, 1);
	json_member_string(stream, "sha256", sha256, 1);
	fprintf(stream, ",\"bad_bytes\":%" PRIu64, f->bad_bytes);
	json_bad_ranges(stream, f->bad_ranges);
	fputs("}", stream);
}

static void sums_piece(FILE *stream, const struct text_pieces *text, size_t i)
{
	char path[700], sha256[65];

	if (i == 0 || i > text->out->count)
		return;
	carve_record_path(text->out, &text->out->files[i - 1], path, sizeof path);
	sha256_hex(text->out->files[i - 1].sha256, sha256);
	fprintf(stream, "%s  %s\n", sha256, path);
}

/* store_producer_fn: the next records, as many as fill the buffer (a write or an SFTP
 * packet each, not one per file), 0 after the tail. */
static size_t text_produce(void *context, const char **piece)
{
	struct text_pieces *text = context;
	long size = 0;

	rewind(text->stream);
	while (!text->overflow && text->next <= text->out->count + 1
	    && (size_t)size <= sizeof text->buffer - RECORD_MAX) {
		if (text->kind == TEXT_STATE)
			state_piece(text->stream, text, text->next);
		else if (text->kind == TEXT_JSON)
			json_piece(text->stream, text, text->next);
		else
			sums_piece(text->stream, text, text->next);
		text->next++;
		size = fflush(text->stream) == 0 ? ftell(text->stream) : -1;
		if (size < 0 || (size_t)size >= sizeof text->buffer - 1)
			text->overflow = 1;	/* bounded fields: never, in fact */
	}
	if (text->overflow || size <= 0)
		return 0;
	*piece = text->buffer;
	return (size_t)size;
}

/* 0, or -1 when out of memory. */
static int text_begin(struct text_pieces *text, const struct carve_store *out,
    enum text_kind kind, uint64_t position, int complete)
{
	text->out = out;
	text->kind = kind;
	text->position = position;
	text->complete = complete;
	text->next = 0;
	text->overflow = 0;
	text->stream = fmemopen(text->buffer, sizeof text->buffer, "w");
	return text->stream ? 0 : -1;
}

static void text_end(struct text_pieces *text)
{
	if (text->stream)
		fclose(text->stream);
	text->stream = NULL;
}

/* The pieces gathered (the tests read the texts whole). */
static char *text_whole(const struct carve_store *out, enum text_kind kind,
    uint64_t position, int complete, size_t *size)
{
	struct text_pieces *text = malloc(sizeof *text);
	const char *piece;
	char *whole = NULL;
	size_t length;
	FILE *stream;

	*size = 0;
	if (!text || !(stream = open_memstream(&whole, size))) {
		free(text);
		return NULL;
	}
	if (text_begin(text, out, kind, position, complete) != 0)
		text->overflow = 1;
	while ((length = text_produce(text, &piece)) > 0)
		fwrite(piece, 1, length, stream);
	if (fclose(stream) != 0 || text->overflow) {
		free(whole);
		whole = NULL;
	}
	text_end(text);
	free(text);
	return whole;
}

char *carve_state_text(const struct carve_store *out, uint64_t position, int complete,
    size_t *size)
{
	return text_whole(out, TEXT_STATE, position, complete, size);
}

char *carve_json_text(const struct carve_store *out, uint64_t position, int complete,
    size_t *size)
{
	return text_whole(out, TEXT_JSON, position, complete, size);
}

char *carve_sums_text(const struct carve_store *out, size_t *size)
{
	return text_whole(out, TEXT_SUMS, 0, 0, size);
}

/* ------------------------------------------------------------------ on the store */

static int recover(struct carve_store *out)
{
	static const volatile sig_atomic_t never;

	return store_recover(out->store, out->give_up, out->stop ? out->stop : &never,
	    out->failure, sizeof out->failure);
}

int carve_store_load(struct carve_store *out, char *why, size_t why_size)
{
	char *text = NULL;
	size_t size;
	int found, rc;

	while ((found = store_get(out->store, out->state_name, &text, &size)) < 0)
		if (recover(out) != 0) {
			snprintf(why, why_size, "%s", out->failure);
			return -1;
		}
	if (found == 1)
		return 0;
	rc = carve_state_parse(out, text, why, why_size);
	free(text);
	return rc;
}

/* NAME made by TEXT's pieces as they are written, again from its start when the store
 * is recovered. */
static int replace(struct carve_store *out, const char *name, struct text_pieces *text)
{
	int rc;

	for (;;) {
		text->next = 0;
		text->overflow = 0;
		rc = store_replace_pieces(out->store, name, text_produce, text);
		if (text->overflow) {
			snprintf(out->failure, sizeof out->failure, "a record of %s does not fit in "
			    "%zu bytes (or out of memory)", name, sizeof text->buffer);
			return -1;
		}
		if (rc == 0)
			return 0;
		if (recover(out) != 0)
			return -1;
	}
}

/* One of the three texts made and written; -1 with out->failure set. */
static int save_text(struct carve_store *out, struct text_pieces *text, const char *name,
    enum text_kind kind, uint64_t position, int complete)
{
	int rc;

	if (text_begin(text, out, kind, position, complete) != 0) {
		snprintf(out->failure, sizeof out->failure, "out of memory for %s", name);
		return -1;
	}
	rc = replace(out, name, text);
	text_end(text);
	return rc;
}

int carve_store_save(struct carve_store *out, uint64_t position, int complete)
{
	struct text_pieces *text = malloc(sizeof *text);
	int rc;

	if (!text) {
		snprintf(out->failure, sizeof out->failure, "out of memory for %s", out->state_name);
		return -1;
	}
	/* The state last: it must never name files the manifest does not. */
	rc = save_text(out, text, out->sums_name, TEXT_SUMS, position, complete) != 0
	    || save_text(out, text, out->json_name, TEXT_JSON, position, complete) != 0
	    || save_text(out, text, out->state_name, TEXT_STATE, position, complete) != 0
	    ? -1 : 0;
	free(text);
	if (rc == 0) {
		out->position = position;
		out->complete = complete;
	}
	return rc;
}

static const struct carve_record *recorded(const struct carve_store *out, uint64_t position)
{
	size_t low = 0, high = out->count;

	while (low < high) {
		size_t middle = (low + high) / 2;

		if (out->files[middle].stream_position < position)
			low = middle + 1;
		else
			high = middle;
	}
	return low < out->count && out->files[low].stream_position == position
	    ? &out->files[low] : NULL;
}

static int make_folder(struct carve_store *out, const char *type)
{
	char path[sizeof out->dir + sizeof out->made[0] + 2];
	size_t i;

	for (i = 0; i < out->made_count; i++)
		if (!strcmp(out->made[i], type))
			return 0;
	while (store_mkdir(out->store, out->dir) != 0)
		if (recover(out) != 0)
			return -1;
	snprintf(path, sizeof path, "%s/%s", out->dir, type);
	while (store_mkdir(out->store, path) != 0)
		if (recover(out) != 0)
			return -1;
	if (out->made_count < sizeof out->made / sizeof out->made[0])
		snprintf(out->made[out->made_count++], sizeof out->made[0], "%s", type);
	return 0;
}

static int output_begin(void *context, const struct carve_file *file, int *skip)
{
	struct carve_store *out = context;
	const struct carve_record *known = recorded(out, file->stream_position);
	char part[sizeof out->writing + 8];
	uint64_t size = 0;
	int found;

	*skip = 0;
	out->open = 0;
	if (known && known->length == file->length) {
		*skip = 1;
		return 0;
	}
	if (make_folder(out, file->type) != 0)
		return -1;
	carve_file_path(out, file, out->writing, sizeof out->writing);
	while ((found = store_size_of(out->store, out->writing, &size)) < 0)
		if (recover(out) != 0)
			return -1;
	if (found == 0 && size == file->length) {
		*skip = 2;	/* written whole before an interruption: hashed, not sent */
		return 0;
	}
	snprintf(part, sizeof part, "%s.part", out->writing);
	while (store_image_open_named(out->store, part, &size) != 0)
		if (recover(out) != 0)
			return -1;
	out->open = 1;
	return 0;
}

static int output_write(void *context, const void *data, size_t size, uint64_t offset)
{
	struct carve_store *out = context;

	while (store_pwrite(out->store, data, size, offset) != 0)
		if (recover(out) != 0)
			return -1;
	return 0;
}

static int output_end(void *context, const struct carve_file *file)
{
	struct carve_store *out = context;
	char part[sizeof out->writing + 8];

	if (out->open) {
		while (store_flush(out->store) != 0)
			if (recover(out) != 0)
				return -1;
		store_image_done(out->store);
		snprintf(part, sizeof part, "%s.part", out->writing);
		while (store_rename(out->store, part, out->writing) != 0)
			if (recover(out) != 0)
				return -1;
		out->open = 0;
		out->written++;
	} else {
		out->rehashed++;
	}
	if (add_file(out, file) != 0) {
		snprintf(out->failure, sizeof out->failure, "out of memory for the file index");
		return -1;
	}
	return 0;
}

static int output_checkpoint(void *context, uint64_t position)
{
	struct carve_store *out = context;

	if (out->before_save && out->before_save(out->before_save_context, position) != 0)
		return -1;
	return carve_store_save(out, position, position >= out->stream_size);
}

void carve_store_output(struct carve_store *out, struct carve_output *output)
{
	output->context = out;
	output->begin = output_begin;
	output->write = output_write;
	output->end = output_end;
	output->checkpoint = output_checkpoint;
}
