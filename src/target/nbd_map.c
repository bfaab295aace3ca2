/* nbd_map.c: the map slots of an nbd:// export's tail (nbd_map.h). */
#include <stdlib.h>
#include <string.h>

#include "target/nbd_map.h"

static const char slot_magic[8] = { 'R', 'S', 'C', 'U', 'E', 'M', 'A', 'P' };

static void put64(unsigned char *p, uint64_t v)
{
	int i;

	for (i = 7; i >= 0; i--, v >>= 8)
		p[i] = v & 0xff;
}

static uint64_t get64(const unsigned char *p)
{
	uint64_t v = 0;
	int i;

	for (i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

static uint64_t fnv1a(uint64_t hash, const unsigned char *data, size_t size)
{
	while (size--) {
		hash ^= *data++;
		hash *= 0x100000001b3ULL;
	}
	return hash;
}

/* The checksum of a slot (header with its checksum field zero, then the text). */
static uint64_t slot_checksum(const unsigned char *slot, size_t length)
{
	unsigned char header[NBD_MAP_HEADER];

	memcpy(header, slot, NBD_MAP_HEADER);
	memset(header + 32, 0, 8);
	return fnv1a(fnv1a(0xcbf29ce484222325ULL, header, NBD_MAP_HEADER), slot + NBD_MAP_HEADER,
	    length);
}

/* The text length is checked against the bytes there are before the checksum reads it. */
static int slot_good(const unsigned char *raw, size_t size, uint64_t length)
{
	return size >= NBD_MAP_HEADER && memcmp(raw, slot_magic, 8) == 0
	    && get64(raw + 8) == ((uint64_t)1 << 32) && length <= NBD_MAP_SLOT - NBD_MAP_HEADER
	    && length <= size - NBD_MAP_HEADER
	    && get64(raw + 32) == slot_checksum(raw, (size_t)length);
}

void nbd_map_slot_parse(const unsigned char *raw, size_t size, struct nbd_map_slot *slot)
{
	uint64_t length = size >= NBD_MAP_HEADER ? get64(raw + 24) : 0;

	free(slot->text);
	memset(slot, 0, sizeof *slot);
	if (!slot_good(raw, size, length))
		return;
	slot->text = malloc((size_t)length + 1);
	if (!slot->text)
		return;
	memcpy(slot->text, raw + NBD_MAP_HEADER, (size_t)length);
	slot->text[length] = '\0';
	slot->length = (size_t)length;
	slot->sequence = get64(raw + 16);
	memcpy(slot->name, raw + 40, NBD_MAP_NAME - 1);
	slot->valid = 1;
}

void nbd_map_slot_format(unsigned char *raw, const char *name, uint64_t sequence,
    const void *text, size_t length)
{
	memset(raw, 0, NBD_MAP_HEADER);
	memcpy(raw, slot_magic, 8);
	put64(raw + 8, (uint64_t)1 << 32);
	put64(raw + 16, sequence);
	put64(raw + 24, length);
	strncpy((char *)raw + 40, name, NBD_MAP_NAME - 1);
	memcpy(raw + NBD_MAP_HEADER, text, length);
	put64(raw + 32, slot_checksum(raw, length));
}
