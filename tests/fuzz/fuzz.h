/* fuzz.h: what the fuzz targets share. */
#ifndef RESCUE_FUZZ_H
#define RESCUE_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The input as a C string, as the text parsers take it (NUL bytes end it early, as they
 * would end a line read with fgets). NULL when out of memory. */
static inline char *fuzz_text(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1);

	if (text != NULL) {
		memcpy(text, data, size);
		text[size] = '\0';
	}
	return text;
}

#endif
