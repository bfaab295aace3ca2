/* crc32c.c: CRC-32C, reflected, polynomial 0x1EDC6F41 (0x82F63B78 reversed). The table is
 * filled on first use; rescue runs one thread, so no lock guards it. */
#include "base/crc32c.h"

static uint32_t crc_table[256];

static void crc_table_fill(void)
{
	for (uint32_t byte = 0; byte < 256; byte++) {
		uint32_t crc = byte;

		for (int bit = 0; bit < 8; bit++)
			crc = crc & 1 ? (crc >> 1) ^ 0x82F63B78u : crc >> 1;
		crc_table[byte] = crc;
	}
}

uint32_t crc32c_update(uint32_t crc, const void *data, size_t size)
{
	const unsigned char *bytes = data;

	if (crc_table[1] == 0)
		crc_table_fill();
	crc = ~crc;
	for (size_t i = 0; i < size; i++)
		crc = crc_table[(crc ^ bytes[i]) & 0xff] ^ (crc >> 8);
	return ~crc;
}

uint32_t crc32c(const void *data, size_t size)
{
	return crc32c_update(0, data, size);
}
