/* carve_expect.c: see carve_expect.h. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "lib/carve_expect.h"

struct blob read_file(const char *path)
{
	struct blob blob = { NULL, 0 };
	FILE *file = fopen(path, "rb");

	if (!file)
		fail_msg("cannot read %s (its package is in tools/host-packages)", path);
	fseek(file, 0, SEEK_END);
	blob.size = (size_t)ftell(file);
	rewind(file);
	blob.data = malloc(blob.size + 4096);
	assert_non_null(blob.data);
	assert_int_equal(fread(blob.data, 1, blob.size, file), blob.size);
	fclose(file);
	return blob;
}

const struct carve_format *format_named(const char *type)
{
	size_t count, i;
	const struct carve_format *const *formats = carve_builtin_formats(&count);

	for (i = 0; i < count; i++)
		if (!strcmp(formats[i]->type, type))
			return formats[i];
	fail_msg("no built-in format %s", type);
	return NULL;
}

/* BLOB is found whole, VALIDATED, with noise after it too; cut in half it is MORE, or
 * truncated at the end of the data. */
void expect_whole(const char *type, struct blob blob, const char *named_type)
{
	const struct carve_format *format = format_named(type);
	struct carve_result result;
	unsigned char *padded = malloc(blob.size + 4096);
	size_t i;

	assert_non_null(padded);
	assert_int_equal(carve_validate(format, blob.data, blob.size, 1, &result), CARVE_FOUND);
	assert_int_equal(result.length, blob.size);
	assert_int_equal(result.status, CARVE_VALIDATED);
	if (named_type)
		assert_string_equal(result.type ? result.type : format->type, named_type);
	memcpy(padded, blob.data, blob.size);
	srand(7);
	for (i = blob.size; i < blob.size + 4096; i++)
		padded[i] = (unsigned char)rand();
	assert_int_equal(carve_validate(format, padded, blob.size + 4096, 0, &result),
	    CARVE_FOUND);
	assert_int_equal(result.length, blob.size);
	free(padded);
}

void expect_cut(const char *type, struct blob blob)
{
	const struct carve_format *format = format_named(type);
	struct carve_result result;
	size_t half = blob.size / 2;

	assert_int_equal(carve_validate(format, blob.data, half, 0, &result), CARVE_MORE);
	assert_int_equal(carve_validate(format, blob.data, half, 1, &result), CARVE_FOUND);
	assert_int_equal(result.status, CARVE_TRUNCATED);
	assert_true(result.length <= half);
}


struct blob command_output(const char *command)
{
	struct blob blob = { malloc(1 << 22), 0 };
	FILE *pipe = popen(command, "r");
	size_t got;

	assert_non_null(blob.data);
	if (!pipe)
		fail_msg("cannot run %s", command);
	while ((got = fread(blob.data + blob.size, 1, (1 << 22) - blob.size, pipe)) > 0)
		blob.size += got;
	if (pclose(pipe) != 0)
		fail_msg("%s failed (its package is in tools/host-packages)", command);
	return blob;
}
