/* crc32c.h: CRC-32C (Castagnoli), the checksum InnoDB's crc32 and full_crc32 page formats
 * use. Table-driven, one byte at a time: a 16 KiB page costs tens of microseconds, far
 * below the time it took to read it.
 */
#ifndef RESCUE_CRC32C_H
#define RESCUE_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/* The CRC-32C of SIZE bytes at DATA ("123456789" gives 0xe3069283). */
uint32_t crc32c(const void *data, size_t size);

/* Continues CRC (a previous crc32c result, 0 to start) over SIZE more bytes. */
uint32_t crc32c_update(uint32_t crc, const void *data, size_t size);

#endif
