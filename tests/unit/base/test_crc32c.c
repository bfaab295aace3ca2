/* test_crc32c.c: CRC-32C against the check value of its catalogue entry and split input. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "base/crc32c.h"

static void test_check_value(void **state)
{
	(void)state;
	assert_int_equal(crc32c("123456789", 9), 0xe3069283u);
	assert_int_equal(crc32c("", 0), 0);
}

/* 32 bytes of zeros: the iSCSI (RFC 3720, B.4) example. */
static void test_rfc3720_zeros(void **state)
{
	unsigned char zeros[32] = {0};

	(void)state;
	assert_int_equal(crc32c(zeros, sizeof zeros), 0x8a9136aau);
}

static void test_update_in_pieces(void **state)
{
	const char *text = "The quick brown fox jumps over the lazy dog";
	size_t size = strlen(text);

	(void)state;
	for (size_t split = 0; split <= size; split++)
		assert_int_equal(crc32c_update(crc32c(text, split), text + split, size - split),
		    crc32c(text, size));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_check_value),
		cmocka_unit_test(test_rfc3720_zeros),
		cmocka_unit_test(test_update_in_pieces),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
