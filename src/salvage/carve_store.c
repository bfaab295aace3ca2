/* carve_store.c: carved files, their manifest and the resume state on a store (see
 * carve_store.h). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/json.h"
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

void carve_store_free(struct carve_store *out)
{
	free(out->files);
	out->files = NULL;
	out->count = out->capacity = 0;
}

void carve_file_path(const struct carve_store *out, const struct carve_file *file,
    char *path, size_t size)
{
	snprintf(path, size, "%s/%s/f%" PRIu64 ".%s", out->dir, file->type,
	    file->source_position, file->ext);
}

static int add_file(struct carve_store *out, const struct carve_file *file)
{
	if (out->count == out->capacity) {
		size_t capacity = out->capacity ? 2 * out->capacity : 256;
		struct carve_file *bigger = realloc(out->files, capacity * sizeof *bigger);

		if (!bigger)
			return -1;
		out->files = bigger;
		out->capacity = capacity;
	}
	out->files[out->count++] = *file;
	return 0;
}

/* ------------------------------------------------------------------ the state */

static FILE *text_open(char **text, size_t *size)
{
	*text = NULL;
	*size = 0;
	return open_memstream(text, size);
}

static char *text_close(FILE *stream, char **text, size_t *size)
{
	if (fclose(stream) != 0) {
		free(*text);
		return NULL;
	}
	(void)size;
	return *text;
}

char *carve_state_text(const struct carve_store *out, uint64_t position, int complete,
    size_t *size)
{
	char *text;
	FILE *stream = text_open(&text, size);
	size_t i;

	if (!stream)
		return NULL;
	fprintf(stream, "%s%s\nstream %" PRIu64 "\nposition %" PRIu64 "%s\n", STATE_HEADER,
	    out->identity, out->stream_size, position, complete ? " complete" : "");
	for (i = 0; i < out->count; i++) {
		const struct carve_file *f = &out->files[i];

		fprintf(stream, "file %" PRIu64 " %" PRIu64 " %" PRIu64 " %s %s %s %s %" PRIu64
		    " %s %s\n", f->stream_position, f->source_position, f->length, f->type, f->ext,
		    carve_status_name(f->status), f->sha256, f->bad_bytes,
		    f->bad_ranges[0] ? f->bad_ranges : "-", f->delimited);
	}
	return text_close(stream, &text, size);
}

static int parse_file_line(const char *line, struct carve_file *file)
{
	char status[16], ranges[sizeof file->bad_ranges];
	int consumed = 0;

	memset(file, 0, sizeof *file);
	if (sscanf(line, "file %" SCNu64 " %" SCNu64 " %" SCNu64 " %23s %15s %15s %64s %"
	    SCNu64 " %159s %n", &file->stream_position, &file->source_position, &file->length,
	    file->type, file->ext, status, file->sha256, &file->bad_bytes, ranges,
	    &consumed) != 9 || consumed == 0 || status_parse(status, &file->status) != 0
	    || strlen(file->sha256) != 64)
		return -1;
	snprintf(file->bad_ranges, sizeof file->bad_ranges, "%s", strcmp(ranges, "-") ? ranges
	    : "");
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

char *carve_json_text(const struct carve_store *out, uint64_t position, int complete,
    size_t *size)
{
	char *text, path[700];
	FILE *stream = text_open(&text, size);
	size_t i;

	if (!stream)
		return NULL;
	fputs("{", stream);
	json_member_string(stream, "source", out->identity + strlen("# rescue source: "), 0);
	fprintf(stream, ",\"scanned\":%" PRIu64 ",\"stream_size\":%" PRIu64 ",\"complete\":%s,"
	    "\"files\":[", position, out->stream_size, complete ? "true" : "false");
	for (i = 0; i < out->count; i++) {
		const struct carve_file *f = &out->files[i];

		carve_file_path(out, f, path, sizeof path);
		fprintf(stream, "%s\n{", i ? "," : "");
		json_member_string(stream, "path", path, 0);
		fprintf(stream, ",\"offset\":%" PRIu64 ",\"stream_offset\":%" PRIu64 ",\"length\":%"
		    PRIu64, f->source_position, f->stream_position, f->length);
		json_member_string(stream, "type", f->type, 1);
		json_member_string(stream, "status", carve_status_name(f->status), 1);
		json_member_string(stream, "delimited", f->delimited, 1);
		json_member_string(stream, "sha256", f->sha256, 1);
		fprintf(stream, ",\"bad_bytes\":%" PRIu64, f->bad_bytes);
		json_bad_ranges(stream, f->bad_ranges);
		fputs("}", stream);
	}
	fputs("\n]}\n", stream);
	return text_close(stream, &text, size);
}

char *carve_sums_text(const struct carve_store *out, size_t *size)
{
	char *text, path[700];
	FILE *stream = text_open(&text, size);
	size_t i;

	if (!stream)
		return NULL;
	for (i = 0; i < out->count; i++) {
		carve_file_path(out, &out->files[i], path, sizeof path);
		fprintf(stream, "%s  %s\n", out->files[i].sha256, path);
	}
	return text_close(stream, &text, size);
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

static int replace(struct carve_store *out, const char *name, char *text, size_t size)
{
	int rc = 0;

	if (!text) {
		snprintf(out->failure, sizeof out->failure, "out of memory for %s", name);
		return -1;
	}
	while (store_replace(out->store, name, text, size) != 0)
		if ((rc = recover(out)) != 0)
			break;
	free(text);
	return rc;
}

int carve_store_save(struct carve_store *out, uint64_t position, int complete)
{
	size_t size;
	char *text;

	/* The state last: it must never name files the manifest does not. */
	text = carve_sums_text(out, &size);
	if (replace(out, out->sums_name, text, size) != 0)
		return -1;
	text = carve_json_text(out, position, complete, &size);
	if (replace(out, out->json_name, text, size) != 0)
		return -1;
	text = carve_state_text(out, position, complete, &size);
	if (replace(out, out->state_name, text, size) != 0)
		return -1;
	out->position = position;
	out->complete = complete;
	return 0;
}

static const struct carve_file *recorded(const struct carve_store *out, uint64_t position)
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
	const struct carve_file *known = recorded(out, file->stream_position);
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
