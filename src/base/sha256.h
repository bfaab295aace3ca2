/* sha256.h: SHA-256 (FIPS 180-4), the hash `rescue dump` records for every file it archives.
 *
 *	struct sha256 ctx;
 *	unsigned char digest[32];
 *	char hex[65];
 *
 *	sha256_init(&ctx);
 *	sha256_update(&ctx, data, size);	as many times as there are pieces
 *	sha256_final(&ctx, digest);
 *	sha256_hex(digest, hex);		the text sha256sum prints
 *
 * The pieces may have any size and alignment; the digest depends only on the bytes fed in,
 * never on how they were split. Whole blocks are hashed straight from the caller's buffer,
 * so large reads are not copied. After sha256_final the context must be initialised again
 * before it is reused.
 */
#ifndef RESCUE_SHA256_H
#define RESCUE_SHA256_H

#include <stddef.h>
#include <stdint.h>

enum { SHA256_DIGEST_SIZE = 32, SHA256_HEX_SIZE = 65, SHA256_BLOCK_SIZE = 64 };

struct sha256 {
	uint32_t state[8];
	uint64_t length;		/* bytes fed in so far */
	unsigned char block[64];	/* a partial block waiting for more input */
	size_t used;			/* bytes of it in use, always below 64 */
};

void sha256_init(struct sha256 *ctx);
void sha256_update(struct sha256 *ctx, const void *data, size_t size);
void sha256_final(struct sha256 *ctx, unsigned char digest[32]);
void sha256_hex(const unsigned char digest[32], char hex[65]);	/* lowercase, NUL-terminated */

#endif
