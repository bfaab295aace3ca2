/* test_sha256.c: the digests `rescue dump` records, checked against the FIPS 180-4 example
 * vectors and against the host's sha256sum, however the input is split into pieces. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "base/sha256.h"
#include "base/spawn.h"

/* A fixed xorshift generator: the "random" splits and data are the same on every run, so a
 * failure can be repeated. */
static uint32_t next_random(uint32_t *seed)
{
	*seed ^= *seed << 13;
	*seed ^= *seed >> 17;
	*seed ^= *seed << 5;
	return *seed;
}

static unsigned char *random_bytes(size_t size, uint32_t seed)
{
	unsigned char *bytes = malloc(size ? size : 1);

	assert_non_null(bytes);
	for (size_t i = 0; i < size; i++)
		bytes[i] = (unsigned char)(next_random(&seed) >> 24);
	return bytes;
}

static void hash_hex(const void *data, size_t size, char hex[65])
{
	struct sha256 ctx;
	unsigned char digest[32];

	sha256_init(&ctx);
	sha256_update(&ctx, data, size);
	sha256_final(&ctx, digest);
	sha256_hex(digest, hex);
}

/* Feeds DATA in pieces of PIECE bytes, the last one shorter. */
static void hash_hex_in_pieces(const unsigned char *data, size_t size, size_t piece, char hex[65])
{
	struct sha256 ctx;
	unsigned char digest[32];

	sha256_init(&ctx);
	for (size_t done = 0; done < size; done += piece)
		sha256_update(&ctx, data + done, size - done < piece ? size - done : piece);
	sha256_final(&ctx, digest);
	sha256_hex(digest, hex);
}

/* What the host's sha256sum says of FILE, or of INPUT on its stdin when FILE is NULL. */
static void sha256sum_hex(const char *file, const void *input, size_t size, char hex[65])
{
	char *const with_file[] = { "sha256sum", (char *)file, NULL };
	char *const with_stdin[] = { "sha256sum", NULL };
	struct spawn_request request = {
		.argv = file ? with_file : with_stdin,
		.input = file ? NULL : input,
		.input_size = size,
	};
	struct spawn_result result;

	assert_int_equal(spawn_run(&request, &result), 0);
	if (spawn_exit_code(&result) != 0 || result.output_size < 64)
		fail_msg("sha256sum exited %d: %s", spawn_exit_code(&result), result.output);
	memcpy(hex, result.output, 64);
	hex[64] = '\0';
	spawn_result_free(&result);
}

static void test_fips_180_example_messages(void **state)
{
	static const struct { const char *message, *digest; } examples[] = {
		{ "", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" },
		{ "abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad" },
		{ "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
		    "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1" },
		{ "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmno"
		    "ijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu",
		    "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1" },
	};
	char hex[65];

	(void)state;
	for (size_t i = 0; i < sizeof examples / sizeof examples[0]; i++) {
		hash_hex(examples[i].message, strlen(examples[i].message), hex);
		assert_string_equal(hex, examples[i].digest);
	}
}

static void test_one_million_a(void **state)
{
	static const char expected[] =
	    "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0";
	unsigned char *a = malloc(1000000);
	char hex[65];

	(void)state;
	assert_non_null(a);
	memset(a, 'a', 1000000);
	hash_hex(a, 1000000, hex);
	assert_string_equal(hex, expected);
	hash_hex_in_pieces(a, 1000000, 1000, hex);
	assert_string_equal(hex, expected);
	free(a);
}

static void test_pieces_around_the_block_size_give_the_one_shot_digest(void **state)
{
	static const size_t pieces[] = { 1, 63, 64, 65 };
	enum { SIZE = 64 * 40 + 37 };
	unsigned char *data = random_bytes(SIZE, 1);
	char whole[65], split[65];

	(void)state;
	hash_hex(data, SIZE, whole);
	for (size_t i = 0; i < sizeof pieces / sizeof pieces[0]; i++) {
		hash_hex_in_pieces(data, SIZE, pieces[i], split);
		assert_string_equal(split, whole);
	}
	free(data);
}

/* Random cuts put pieces at every alignment, so whole blocks are also hashed straight from
 * odd addresses; empty pieces, with and without a pointer, change nothing. */
static void test_random_splits_give_the_one_shot_digest(void **state)
{
	enum { SIZE = 20000 };
	unsigned char *data = random_bytes(SIZE, 2);
	uint32_t seed = 3;
	char whole[65], split[65];

	(void)state;
	hash_hex(data, SIZE, whole);
	for (int trial = 0; trial < 200; trial++) {
		struct sha256 ctx;
		unsigned char digest[32];
		size_t limit = trial % 2 ? 200 : 3000;

		sha256_init(&ctx);
		sha256_update(&ctx, NULL, 0);
		for (size_t done = 0, piece; done < SIZE; done += piece) {
			piece = next_random(&seed) % limit;
			piece = SIZE - done < piece ? SIZE - done : piece;
			sha256_update(&ctx, data + done, piece);
		}
		sha256_final(&ctx, digest);
		sha256_hex(digest, split);
		if (strcmp(split, whole) != 0)
			fail_msg("trial %d: %s, not %s", trial, split, whole);
	}
	free(data);
}

/* The padding takes one block or two depending on the length modulo 64; every length up to
 * and past two blocks is compared with sha256sum. */
static void test_every_length_up_to_130_bytes_matches_sha256sum(void **state)
{
	unsigned char *data = random_bytes(130, 4);
	char ours[65], theirs[65];

	(void)state;
	for (size_t size = 0; size <= 130; size++) {
		hash_hex(data, size, ours);
		sha256sum_hex(NULL, data, size, theirs);
		if (strcmp(ours, theirs) != 0)
			fail_msg("%zu bytes: %s, sha256sum says %s", size, ours, theirs);
	}
	free(data);
}

static void test_a_file_of_some_mebibytes_matches_sha256sum(void **state)
{
	enum { SIZE = (3 << 20) + 4093 };
	unsigned char *data = random_bytes(SIZE, 5);
	char path[] = "/tmp/test_sha256.XXXXXX", ours[65], theirs[65];
	int fd = mkstemp(path);

	(void)state;
	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, SIZE), SIZE);
	close(fd);
	sha256sum_hex(path, NULL, 0, theirs);
	unlink(path);
	hash_hex_in_pieces(data, SIZE, 65536 + 7, ours);
	assert_string_equal(ours, theirs);
	free(data);
}

static void test_hex_is_lowercase_and_terminated(void **state)
{
	unsigned char digest[32];
	char hex[66];

	(void)state;
	for (int i = 0; i < 32; i++)
		digest[i] = (unsigned char)(i * 8 + 7);
	memset(hex, 'x', sizeof hex);
	sha256_hex(digest, hex);
	assert_string_equal(hex, "070f171f272f373f474f575f676f777f878f979fa7afb7bfc7cfd7dfe7eff7ff");
	assert_int_equal(hex[65], 'x');
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fips_180_example_messages),
		cmocka_unit_test(test_one_million_a),
		cmocka_unit_test(test_pieces_around_the_block_size_give_the_one_shot_digest),
		cmocka_unit_test(test_random_splits_give_the_one_shot_digest),
		cmocka_unit_test(test_every_length_up_to_130_bytes_matches_sha256sum),
		cmocka_unit_test(test_a_file_of_some_mebibytes_matches_sha256sum),
		cmocka_unit_test(test_hex_is_lowercase_and_terminated),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
