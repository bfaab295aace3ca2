/* fuzz_mapfile: GNU ddrescue mapfiles as a resume finds them on a target (ours, ddrescue's,
 * or damaged), through mapfile_parse, and a parsed map formatted back. */
#include "fuzz.h"
#include "salvage/mapfile.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = fuzz_text(data, size), *formatted, why[256];
	struct mapfile map;
	struct map_totals totals;

	if (text == NULL)
		return 0;
	if (mapfile_parse(text, &map, why, sizeof why) == 0) {
		mapfile_totals(&map, &totals);
		formatted = mapfile_format(&map, "fuzz", NULL);
		free(formatted);
	}
	mapfile_free(&map);
	free(text);
	return 0;
}
