/* nbd_map.h: the two map slots in the tail of an nbd:// export (store_nbd.c explains the
 * layout). A slot is read back from whatever the export holds, so its parser takes the
 * bytes and their count and trusts no field it has not checked.
 *
 *   slot:    [ header: 512 bytes | the ddrescue map text ]
 *   header:  "RSCUEMAP", version (u32 = 1), 0 (u32), sequence (u64), text length (u64),
 *            FNV-1a 64 checksum of the header (checksum field zero) and the text (u64),
 *            NAME (256 bytes, NUL-padded): all big-endian, the rest zero.
 */
#ifndef RESCUE_NBD_MAP_H
#define RESCUE_NBD_MAP_H

#include <stddef.h>
#include <stdint.h>

enum {
	NBD_MAP_TAIL = 1 << 20,			/* both slots, at the end of the export */
	NBD_MAP_SLOT = NBD_MAP_TAIL / 2,
	NBD_MAP_HEADER = 512,
	NBD_MAP_NAME = 256,
};

struct nbd_map_slot {
	int valid;
	uint64_t sequence;
	char name[NBD_MAP_NAME];	/* NUL-terminated */
	char *text;			/* malloc'd, NUL-terminated */
	size_t length;
};

/* SLOT from the SIZE bytes at RAW: valid when magic, version, length and checksum agree.
 * Frees what SLOT held before. */
void nbd_map_slot_parse(const unsigned char *raw, size_t size, struct nbd_map_slot *slot);

/* The header and text into RAW, which has room for NBD_MAP_HEADER + LENGTH bytes. */
void nbd_map_slot_format(unsigned char *raw, const char *name, uint64_t sequence,
    const void *text, size_t length);

#endif
