/* fuzz_nbd_map: a map slot as a resume reads it from the tail of an nbd:// export (whatever
 * the export holds), through nbd_map_slot_parse, and a valid slot's text through the
 * mapfile reader, as the store hands it to imaging. */
#include "fuzz.h"
#include "salvage/mapfile.h"
#include "target/nbd_map.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct nbd_map_slot slot = { 0 };
	struct mapfile map;
	char why[256];

	nbd_map_slot_parse(data, size, &slot);
	if (slot.valid) {
		if (strlen(slot.name) >= sizeof slot.name || slot.length > size - NBD_MAP_HEADER)
			abort();
		if (mapfile_parse(slot.text, &map, why, sizeof why) == 0)
			mapfile_free(&map);
	}
	free(slot.text);
	return 0;
}
