/* fuzz_mapfile: GNU ddrescue mapfiles as a resume finds them on a target (ours, ddrescue's,
 * or damaged), through mapfile_parse, and a parsed map formatted back; the same text read
 * a piece at a time (as it comes from a target) must give the same map or the same
 * refusal. */
#include "fuzz.h"
#include "salvage/mapfile.h"

/* TEXT through a reader in pieces of STEP bytes; the reader's why on failure. */
static int read_in_pieces(const char *text, size_t length, size_t step, struct mapfile *map,
    struct mapfile_reader *reader)
{
	size_t at, piece;
	int rc = 0;

	mapfile_reader_start(reader, map, "# rescue source: ");
	for (at = 0; at < length && rc == 0; at += piece) {
		piece = length - at < step ? length - at : step;
		rc = mapfile_reader_feed(reader, text + at, piece);
	}
	return rc == 0 ? mapfile_reader_finish(reader) : rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = fuzz_text(data, size), *formatted = NULL, *again, why[256];
	struct mapfile map, pieces;
	struct mapfile_reader *reader = malloc(sizeof *reader);
	struct map_totals totals;
	int rc;

	if (text == NULL || reader == NULL) {
		free(text);
		free(reader);
		return 0;
	}
	rc = mapfile_parse(text, &map, why, sizeof why);
	if (rc == 0) {
		mapfile_totals(&map, &totals);
		formatted = mapfile_format(&map, "fuzz", NULL);
	}
	if (read_in_pieces(text, strlen(text), size ? data[0] % 13 + 1 : 1, &pieces, reader)
	    != rc)
		abort();
	if (rc != 0 && strcmp(reader->why, why) != 0)
		abort();
	if (rc == 0 && formatted) {
		again = mapfile_format(&pieces, "fuzz", NULL);
		if (again && strcmp(again, formatted) != 0)
			abort();
		free(again);
	}
	free(formatted);
	mapfile_free(&pieces);
	mapfile_free(&map);
	free(reader);
	free(text);
	return 0;
}
