/* fuzz_carve_zip.c: the zip validator (salvage/) on any bytes; see fuzz_carve.h. */
#include "fuzz_carve.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_validator("zip", data, size, 0);
	return 0;
}
