/* fuzz_reader.h: a carve_reader over the fuzz input, ending exactly where it does, for
 * the targets that drive a walker or joiner (AddressSanitizer catches a read past it). */
#ifndef RESCUE_FUZZ_READER_H
#define RESCUE_FUZZ_READER_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "salvage/carve.h"

struct memory_reader {
	struct carve_reader reader;
	const unsigned char *data;
};

static size_t memory_read(struct carve_reader *reader, void *buffer, size_t size,
    uint64_t offset)
{
	struct memory_reader *memory = (struct memory_reader *)reader;

	if (offset >= reader->available)
		return 0;
	if (size > reader->available - offset)
		size = (size_t)(reader->available - offset);
	memcpy(buffer, memory->data + offset, size);
	return size;
}

static void memory_reader_init(struct memory_reader *memory, const unsigned char *data,
    size_t size)
{
	memory->reader.read = memory_read;
	memory->reader.available = size;
	memory->data = data;
}

#endif
