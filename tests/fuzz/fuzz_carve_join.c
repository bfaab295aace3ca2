/* fuzz_carve_join.c: the joiners of files in two pieces (salvage/carve_join*.c) on any
 * bytes. The first byte picks the format (PNG, JPEG, ZIP); the rest is the stream from
 * the candidate on, read through a reader that ends exactly there (AddressSanitizer
 * catches a read past it). A candidate its validator calls truncated goes to the joiner
 * with 512-byte blocks and a 64 KiB gap; a join must lie inside the data. */
#include "fuzz_reader.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *types[] = { "png", "jpg", "zip" };
	size_t count, i;
	const struct carve_format *const *formats = carve_builtin_formats(&count);
	const struct carve_format *format = NULL;
	struct memory_reader memory;
	struct carve_result result;
	struct carve_join join;
	unsigned char *copy;

	if (size < 2)
		return 0;
	for (i = 0; i < count; i++)
		if (!strcmp(formats[i]->type, types[data[0] % 3]))
			format = formats[i];
	if (!format || !format->join)
		abort();
	size--;
	if (!(copy = malloc(size)))
		return 0;
	memcpy(copy, data + 1, size);
	if (carve_validate(format, copy, size, 1, &result) == CARVE_FOUND
	    && result.status == CARVE_TRUNCATED) {
		memset(&join, 0, sizeof join);
		memory_reader_init(&memory, copy, size);
		join.format = format;
		join.reader = &memory.reader;
		join.broke_at = result.length;
		join.block = 512;
		join.gap = 65536;
		join.scratch_size = size;
		join.scratch = malloc(size);
		if (join.scratch && format->join(&join) && (join.length > size
		    || join.second_offset < join.first_length + join.block
		    || join.second_offset + (join.length - join.first_length) > size))
			abort();	/* a join outside the data it was given */
		free(join.scratch);
	}
	free(copy);
	return 0;
}
