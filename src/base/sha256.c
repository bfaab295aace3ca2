/* sha256.c: SHA-256 as FIPS 180-4 specifies it (see sha256.h).
 *
 * Words are loaded and stored big-endian with byte shifts, so the code runs unchanged on
 * any byte order and reads input at any alignment; compilers turn the shifts into one load
 * and a byte swap where the machine has them.
 */
#include <string.h>

#include "base/sha256.h"

static const uint32_t round_constants[64] = {
	0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
	0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
	0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
	0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
	0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
	0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
	0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
	0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

/* A macro rather than a function: at -Os gcc declines to inline a function into the large
 * unrolled compress_blocks, and a call per word costs more than the word's hashing. */
#define LOAD_BE32(bytes) ((uint32_t)(bytes)[0] << 24 | (uint32_t)(bytes)[1] << 16 | \
	(uint32_t)(bytes)[2] << 8 | (uint32_t)(bytes)[3])

static void store_be32(unsigned char *bytes, uint32_t word)
{
	bytes[0] = (unsigned char)(word >> 24);
	bytes[1] = (unsigned char)(word >> 16);
	bytes[2] = (unsigned char)(word >> 8);
	bytes[3] = (unsigned char)word;
}

/* The functions of FIPS 180-4 section 4.1.2, in equivalent forms that take fewer
 * operations: CHOOSE with one operation fewer; the two SIGMAs as nested rotations, the same
 * three rotations summed but with no copy of x kept aside on two-operand machines; and
 * MAJORITY(a, b, c) as b ^ ((a ^ b) & (b ^ c)), where a ^ b is the next round's b ^ c, so
 * each round computes one exclusive or of the two instead of two. */
#define ROTATE(x, n)	((x) >> (n) | (x) << (32 - (n)))
#define CHOOSE(x, y, z)	((z) ^ ((x) & ((y) ^ (z))))
#define SIGMA0(x)	ROTATE(ROTATE(ROTATE(x, 9) ^ (x), 11) ^ (x), 2)
#define SIGMA1(x)	ROTATE(ROTATE(ROTATE(x, 14) ^ (x), 5) ^ (x), 6)
#define SCHEDULE0(x)	(ROTATE(x, 7) ^ ROTATE(x, 18) ^ (x) >> 3)
#define SCHEDULE1(x)	(ROTATE(x, 17) ^ ROTATE(x, 19) ^ (x) >> 10)

/* The message schedule is kept as a window of its last sixteen words: word t replaces word
 * t - 16, after reading t - 2, t - 7 and t - 15. */
#define WORD(t)		schedule[(t) & 15]
#define LOADED(t)	(WORD(t) = LOAD_BE32(data + 4 * (t)))
#define EXPANDED(t)	(WORD(t) += SCHEDULE1(WORD((t) + 14)) + WORD((t) + 9) + \
			    SCHEDULE0(WORD((t) + 1)))

/* One round, with the working variables renamed instead of moved: where the standard shifts
 * h <- g <- ... <- a, the next ROUND is passed the same variables one place along. Only d
 * and h change. */
#define ROUND(a, b, c, d, e, f, g, h, t, word) do { \
	uint32_t sum = h + SIGMA1(e) + CHOOSE(e, f, g) + round_constants[t] + (word); \
	uint32_t a_xor_b = a ^ b; \
	d += sum; \
	h = sum + SIGMA0(a) + (b ^ (a_xor_b & b_xor_c)); \
	b_xor_c = a_xor_b; \
} while (0)

/* Eight rounds bring the names back to where they started. */
#define EIGHT_ROUNDS(t, FETCH) do { \
	ROUND(a, b, c, d, e, f, g, h, (t) + 0, FETCH((t) + 0)); \
	ROUND(h, a, b, c, d, e, f, g, (t) + 1, FETCH((t) + 1)); \
	ROUND(g, h, a, b, c, d, e, f, (t) + 2, FETCH((t) + 2)); \
	ROUND(f, g, h, a, b, c, d, e, (t) + 3, FETCH((t) + 3)); \
	ROUND(e, f, g, h, a, b, c, d, (t) + 4, FETCH((t) + 4)); \
	ROUND(d, e, f, g, h, a, b, c, (t) + 5, FETCH((t) + 5)); \
	ROUND(c, d, e, f, g, h, a, b, (t) + 6, FETCH((t) + 6)); \
	ROUND(b, c, d, e, f, g, h, a, (t) + 7, FETCH((t) + 7)); \
} while (0)

/* All 64 rounds are unrolled, so every schedule index and round constant is a constant in
 * the code: about 10 KiB of it, bought for some 20% fewer instructions per block than a
 * loop over sixteen unrolled rounds, which counts under emulation. */
static void compress_blocks(uint32_t state[8], const unsigned char *data, size_t blocks)
{
	uint32_t schedule[16];

	for (; blocks > 0; blocks--, data += 64) {
		uint32_t a = state[0], b = state[1], c = state[2], d = state[3];
		uint32_t e = state[4], f = state[5], g = state[6], h = state[7];
		uint32_t b_xor_c = b ^ c;

		EIGHT_ROUNDS(0, LOADED);
		EIGHT_ROUNDS(8, LOADED);
		EIGHT_ROUNDS(16, EXPANDED);
		EIGHT_ROUNDS(24, EXPANDED);
		EIGHT_ROUNDS(32, EXPANDED);
		EIGHT_ROUNDS(40, EXPANDED);
		EIGHT_ROUNDS(48, EXPANDED);
		EIGHT_ROUNDS(56, EXPANDED);
		state[0] += a;
		state[1] += b;
		state[2] += c;
		state[3] += d;
		state[4] += e;
		state[5] += f;
		state[6] += g;
		state[7] += h;
	}
}

void sha256_init(struct sha256 *ctx)
{
	static const uint32_t initial[8] = {
		0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
		0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
	};

	memcpy(ctx->state, initial, sizeof initial);
	ctx->length = 0;
	ctx->used = 0;
}

void sha256_update(struct sha256 *ctx, const void *data, size_t size)
{
	const unsigned char *bytes = data;

	if (size == 0)
		return;		/* data may be NULL then, which memcpy does not allow */
	ctx->length += size;
	if (ctx->used > 0) {
		size_t take = 64 - ctx->used < size ? 64 - ctx->used : size;

		memcpy(ctx->block + ctx->used, bytes, take);
		ctx->used += take;
		bytes += take;
		size -= take;
		if (ctx->used < 64)
			return;
		compress_blocks(ctx->state, ctx->block, 1);
		ctx->used = 0;
	}
	compress_blocks(ctx->state, bytes, size / 64);
	bytes += size - size % 64;
	size %= 64;
	memcpy(ctx->block, bytes, size);
	ctx->used = size;
}

/* Padding is a 1 bit, zeros up to 8 bytes short of a block boundary, then the message's
 * length in bits, big-endian: it takes a second block when fewer than 9 bytes are free. */
void sha256_final(struct sha256 *ctx, unsigned char digest[32])
{
	uint64_t bits = ctx->length * 8;

	ctx->block[ctx->used++] = 0x80;
	if (ctx->used > 56) {
		memset(ctx->block + ctx->used, 0, 64 - ctx->used);
		compress_blocks(ctx->state, ctx->block, 1);
		ctx->used = 0;
	}
	memset(ctx->block + ctx->used, 0, 56 - ctx->used);
	store_be32(ctx->block + 56, (uint32_t)(bits >> 32));
	store_be32(ctx->block + 60, (uint32_t)bits);
	compress_blocks(ctx->state, ctx->block, 1);
	for (int i = 0; i < 8; i++)
		store_be32(digest + 4 * i, ctx->state[i]);
	memset(ctx, 0, sizeof *ctx);
}

void sha256_hex(const unsigned char digest[32], char hex[65])
{
	static const char digits[] = "0123456789abcdef";

	for (int i = 0; i < 32; i++) {
		hex[2 * i] = digits[digest[i] >> 4];
		hex[2 * i + 1] = digits[digest[i] & 15];
	}
	hex[64] = '\0';
}
