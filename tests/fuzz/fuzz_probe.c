/* fuzz_probe: the first sectors of a disk or partition (any disk plugged into the rescue
 * machine, however damaged) through the signature probe of file systems, containers and
 * partition tables. The input is the whole device. */
#include "fuzz.h"
#include "fs/probe.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct probe_result result;

	probe_buffer(data, size, &result);
	if (strlen(result.type) >= sizeof result.type || strlen(result.label) >= sizeof result.label
	    || strlen(result.uuid) >= sizeof result.uuid)
		abort();
	return 0;
}
