/* fuzz_carve.h: what every carving validator's fuzz target does: hand the input to the
 * validator as a buffer of exactly its size (AddressSanitizer catches a read past it),
 * once as data that could grow and once as data that ends there, and check the answer. */
#ifndef RESCUE_FUZZ_CARVE_H
#define RESCUE_FUZZ_CARVE_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "salvage/carve.h"

/* HEADER_LENGTH: the format may give a length from its header, past the data. Every
 * built-in format of TYPE gets the input (TIFF has two, one per byte order). */
static void fuzz_validator(const char *type, const uint8_t *data, size_t size,
    int header_length)
{
	size_t count, i;
	const struct carve_format *const *formats = carve_builtin_formats(&count);
	unsigned char *copy = malloc(size ? size : 1);
	struct carve_result result;
	int at_end, verdict, tried = 0;

	if (!copy)
		return;
	memcpy(copy, data, size);
	for (i = 0; i < count; i++) {
		if (strcmp(formats[i]->type, type))
			continue;
		tried = 1;
		for (at_end = 0; at_end <= 1; at_end++) {
			verdict = carve_validate(formats[i], copy, size, at_end, &result);
			if (verdict == CARVE_MORE && at_end)
				abort();	/* nothing more will come: it must decide */
			if (verdict == CARVE_FOUND && !header_length && result.length > size)
				abort();	/* a walk cannot end past what it saw */
			if (verdict == CARVE_FOUND && !result.delimited)
				abort();
		}
	}
	free(copy);
	if (!tried)
		abort();	/* no such type: the target is out of date */
}

#endif
