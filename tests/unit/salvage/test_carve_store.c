/* test_carve_store.c: NAME.carve.sha256, NAME.carve.json and NAME.carve.state are written a
 * file's line or record at a time (store_replace_pieces) to a real file:// store; their
 * bytes are compared with the whole-text formatting they had before (kept below as the
 * reference, formatted from the test's own records) for a few hundred files whose name,
 * source identity and notes need escaping in JSON; and the state read back gives the same
 * files and the same bytes when saved again (a resume). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "base/json.h"
#include "base/sha256.h"
#include "salvage/carve.h"
#include "salvage/carve_store.h"
#include "target/store.h"
#include "target/target.h"

enum { FILES = 300 };

static const char NAME[] = "dev \"q\" \\ \xc3\xa9";
static const char IDENTITY[] = "# rescue source: dev size 3 model \"A\\B\" serial \"\x02\t\"";
static const uint64_t STREAM_SIZE = 1ull << 40;

/* ------------------------------------------------------------ the reference texts */

static void reference_path(const struct carve_file *file, char *path, size_t size)
{
	snprintf(path, size, "%s.carve/%s/f%" PRIu64 ".%s", NAME, file->type,
	    file->source_position, file->ext);
}

static char *reference_state(const struct carve_file *files, size_t count, uint64_t position,
    int complete, size_t *size)
{
	char *text = NULL;
	FILE *stream = open_memstream(&text, size);

	fprintf(stream, "# rescue carve state 1\n%s\nstream %" PRIu64 "\nposition %" PRIu64 "%s\n",
	    IDENTITY, STREAM_SIZE, position, complete ? " complete" : "");
	for (size_t i = 0; i < count; i++) {
		const struct carve_file *f = &files[i];

		fprintf(stream, "file %" PRIu64 " %" PRIu64 " %" PRIu64 " %s %s %s %s %" PRIu64
		    " %s %s\n", f->stream_position, f->source_position, f->length, f->type, f->ext,
		    carve_status_name(f->status), f->sha256, f->bad_bytes,
		    f->bad_ranges[0] ? f->bad_ranges : "-", f->delimited);
	}
	fclose(stream);
	return text;
}

static char *reference_json(const struct carve_file *files, size_t count, uint64_t position,
    int complete, size_t *size)
{
	char *text = NULL, path[700];
	FILE *stream = open_memstream(&text, size);

	fputs("{", stream);
	json_member_string(stream, "source", IDENTITY + strlen("# rescue source: "), 0);
	fprintf(stream, ",\"scanned\":%" PRIu64 ",\"stream_size\":%" PRIu64 ",\"complete\":%s,"
	    "\"files\":[", position, STREAM_SIZE, complete ? "true" : "false");
	for (size_t i = 0; i < count; i++) {
		const struct carve_file *f = &files[i];
		uint64_t start, length;
		const char *at = f->bad_ranges;
		int first = 1;

		reference_path(f, path, sizeof path);
		fprintf(stream, "%s\n{", i ? "," : "");
		json_member_string(stream, "path", path, 0);
		fprintf(stream, ",\"offset\":%" PRIu64 ",\"stream_offset\":%" PRIu64 ",\"length\":%"
		    PRIu64, f->source_position, f->stream_position, f->length);
		json_member_string(stream, "type", f->type, 1);
		json_member_string(stream, "status", carve_status_name(f->status), 1);
		json_member_string(stream, "delimited", f->delimited, 1);
		json_member_string(stream, "sha256", f->sha256, 1);
		fprintf(stream, ",\"bad_bytes\":%" PRIu64, f->bad_bytes);
		fputs(",\"bad_ranges\":[", stream);
		while (*at && sscanf(at, "%" SCNu64 "+%" SCNu64, &start, &length) == 2) {
			fprintf(stream, "%s[%" PRIu64 ",%" PRIu64 "]", first ? "" : ",", start,
			    length);
			first = 0;
			at += strcspn(at, ",");
			at += *at == ',';
		}
		fprintf(stream, "],\"bad_ranges_cut\":%s", strstr(f->bad_ranges, "...") ? "true"
		    : "false");
		fputs("}", stream);
	}
	fputs("\n]}\n", stream);
	fclose(stream);
	return text;
}

static char *reference_sums(const struct carve_file *files, size_t count, size_t *size)
{
	char *text = NULL, path[700];
	FILE *stream = open_memstream(&text, size);

	for (size_t i = 0; i < count; i++) {
		reference_path(&files[i], path, sizeof path);
		fprintf(stream, "%s  %s\n", files[i].sha256, path);
	}
	fclose(stream);
	return text;
}

/* ------------------------------------------------------------ the records */

static void make_files(struct carve_file *files, size_t count)
{
	static const char *types[] = { "jpg", "png", "sqlite", "pdf" };
	static const char *notes[] = {
		"footer \"IEND\" and its CRC",
		"header's length field: 4096 bytes",
		"to the end of the window \\ cut at C:\\tmp",
		"\x01 control \x1f bytes, a tab\tand \xc3\xa9\xe2\x82\xac UTF-8",
		"",
	};
	static const char *ranges[] = { "", "1052672+512", "4096+512,8192+1024",
		"1+1,3+1,5+1,7+1,..." };
	enum carve_status statuses[] = { CARVE_VALIDATED, CARVE_TRUNCATED, CARVE_UNVALIDATED };

	memset(files, 0, count * sizeof *files);
	for (size_t i = 0; i < count; i++) {
		struct carve_file *f = &files[i];

		f->stream_position = 4096 * (uint64_t)i + 512 * (i % 3);
		f->source_position = f->stream_position + (i % 2 ? 1ull << 33 : 0);
		f->length = 1 + 7919 * (uint64_t)i;
		snprintf(f->type, sizeof f->type, "%s", types[i % 4]);
		snprintf(f->ext, sizeof f->ext, "%s", i % 5 == 0 ? "jpeg" : types[i % 4]);
		f->status = statuses[i % 3];
		snprintf(f->delimited, sizeof f->delimited, "%s", notes[i % 5]);
		for (size_t k = 0; k < 64; k++)
			f->sha256[k] = "0123456789abcdef"[(i * 7 + k * 13) % 16];
		snprintf(f->bad_ranges, sizeof f->bad_ranges, "%s", ranges[i % 4]);
		f->bad_bytes = f->bad_ranges[0] ? 512 * (1 + i % 4) : 0;
	}
}

static struct store *open_store(const char *dir)
{
	struct target target;
	char url[256], why[1024];
	struct store *store;
	int transient;

	snprintf(url, sizeof url, "file://%s", dir);
	assert_int_equal(target_parse(url, &target, why, sizeof why), 0);
	store = store_open(&target, NAME, why, sizeof why, &transient);
	if (!store)
		fail_msg("%s", why);
	return store;
}

static void expect_file(const char *dir, const char *name, const char *expected, size_t size)
{
	char path[1024], *got = malloc(size + 2);
	FILE *file;

	snprintf(path, sizeof path, "%s/%s", dir, name);
	file = fopen(path, "rb");
	if (!file)
		fail_msg("%s was not written", path);
	if (fread(got, 1, size + 1, file) != size || memcmp(got, expected, size) != 0)
		fail_msg("%s differs from the whole-text formatting", path);
	fclose(file);
	free(got);
}

static void expect_saved(const char *dir, const struct carve_store *out,
    const struct carve_file *files, size_t count, uint64_t position, int complete)
{
	size_t size, got_size;
	char *text, *got;

	text = reference_sums(files, count, &size);
	expect_file(dir, out->sums_name, text, size);
	got = carve_sums_text(out, &got_size);
	assert_int_equal(got_size, size);
	assert_memory_equal(got, text, size);
	free(got), free(text);
	text = reference_json(files, count, position, complete, &size);
	expect_file(dir, out->json_name, text, size);
	got = carve_json_text(out, position, complete, &got_size);
	assert_int_equal(got_size, size);
	assert_memory_equal(got, text, size);
	free(got), free(text);
	text = reference_state(files, count, position, complete, &size);
	expect_file(dir, out->state_name, text, size);
	got = carve_state_text(out, position, complete, &got_size);
	assert_int_equal(got_size, size);
	assert_memory_equal(got, text, size);
	free(got), free(text);
}

/* Saved at checkpoints as the files come, at 0, 1 and 300 files; then read back. */
static void test_pieces_match_whole_text(void **state)
{
	char dir[] = "/tmp/rescue-carve-store-XXXXXX", command[128];
	struct carve_file *files = malloc(FILES * sizeof *files);
	struct carve_store out, again;
	struct carve_output output;
	struct store *store;
	char why[256], sha256[65];
	size_t i;

	(void)state;
	assert_non_null(mkdtemp(dir));
	make_files(files, FILES);
	store = open_store(dir);
	carve_store_init(&out, store, NAME, IDENTITY, STREAM_SIZE);
	carve_store_output(&out, &output);
	assert_int_equal(carve_store_save(&out, 0, 0), 0);
	expect_saved(dir, &out, files, 0, 0, 0);
	for (i = 0; i < FILES; i++) {
		assert_int_equal(output.end(output.context, &files[i]), 0);
		if (i == 0)
			assert_int_equal(output.checkpoint(output.context, 4096), 0),
			expect_saved(dir, &out, files, 1, 4096, 0);
	}
	assert_int_equal(carve_store_save(&out, STREAM_SIZE, 1), 0);
	expect_saved(dir, &out, files, FILES, STREAM_SIZE, 1);

	/* A resume: the state read back names the same files, saved again byte for byte. */
	carve_store_init(&again, store, NAME, IDENTITY, STREAM_SIZE);
	assert_int_equal(carve_store_load(&again, why, sizeof why), 0);
	assert_int_equal(again.count, FILES);
	assert_int_equal(again.position, STREAM_SIZE);
	assert_int_equal(again.complete, 1);
	for (i = 0; i < FILES; i++) {
		assert_int_equal(again.files[i].stream_position, files[i].stream_position);
		assert_int_equal(again.files[i].source_position, files[i].source_position);
		assert_int_equal(again.files[i].length, files[i].length);
		assert_int_equal(again.files[i].status, files[i].status);
		assert_int_equal(again.files[i].bad_bytes, files[i].bad_bytes);
		assert_string_equal(again.files[i].type, files[i].type);
		assert_string_equal(again.files[i].ext, files[i].ext);
		sha256_hex(again.files[i].sha256, sha256);
		assert_string_equal(sha256, files[i].sha256);
		assert_string_equal(again.files[i].delimited, files[i].delimited);
		assert_string_equal(again.files[i].bad_ranges, files[i].bad_ranges);
	}
	assert_int_equal(carve_store_save(&again, STREAM_SIZE, 1), 0);
	expect_saved(dir, &again, files, FILES, STREAM_SIZE, 1);
	carve_store_free(&again);
	carve_store_free(&out);
	store_close(store);
	free(files);
	snprintf(command, sizeof command, "rm -rf %s", dir);
	assert_int_equal(system(command), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pieces_match_whole_text),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
