/* fuzz_carve_gdbm.c: the gdbm validator (salvage/) on any bytes; see fuzz_carve.h. */
#include "fuzz_carve.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_validator("gdbm", data, size, 1);
	return 0;
}
