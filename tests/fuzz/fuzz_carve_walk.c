/* fuzz_carve_walk.c: the walkers of files larger than the validators' buffer (salvage/
 * carve_*.c, format->walk) on any bytes. The first byte picks a format that has one; the
 * rest is the stream from the candidate on, read through a reader that ends exactly
 * there (AddressSanitizer catches a read past it). */
#include "fuzz_reader.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct carve_format *walking[64];
	const struct carve_format *const *formats;
	struct memory_reader memory;
	struct carve_result result;
	size_t count, walkers = 0, i;
	unsigned char *copy;
	int verdict;

	formats = carve_builtin_formats(&count);
	for (i = 0; i < count && walkers < 64; i++)
		if (formats[i]->walk)
			walking[walkers++] = formats[i];
	if (size < 2 || !walkers)
		return 0;
	if (!(copy = malloc(size - 1)))
		return 0;
	memcpy(copy, data + 1, size - 1);
	memory_reader_init(&memory, copy, size - 1);
	memset(&result, 0, sizeof result);
	verdict = walking[data[0] % walkers]->walk(walking[data[0] % walkers], &memory.reader,
	    &result);
	if (verdict == CARVE_FOUND && !result.delimited)
		abort();
	free(copy);
	return 0;
}
