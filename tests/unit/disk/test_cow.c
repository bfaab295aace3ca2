/* test_cow.c: the --cow option of repair and the sizes it takes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "disk/cow.h"

static void test_sizes_with_suffixes(void **state)
{
	unsigned long long bytes;

	(void)state;
	assert_int_equal(size_parse("64K", &bytes), 0);
	assert_int_equal(bytes, 65536);
	assert_int_equal(size_parse("512m", &bytes), 0);
	assert_int_equal(bytes, 512ULL << 20);
	assert_int_equal(size_parse("2GiB", &bytes), 0);
	assert_int_equal(bytes, 2ULL << 30);
	assert_int_equal(size_parse("3GB", &bytes), 0);
	assert_int_equal(bytes, 3ULL << 30);
	assert_int_equal(size_parse("1T", &bytes), 0);
	assert_int_equal(bytes, 1ULL << 40);
	assert_int_equal(size_parse("4096", &bytes), 0);
	assert_int_equal(bytes, 4096);
}

static void test_bad_sizes(void **state)
{
	static const char *const bad[] = { "", "G", "-1G", "0", "1X", "1GG", "1.5G", "99999999999T",
	    "12 M" };
	unsigned long long bytes;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof bad / sizeof bad[0]; i++)
		if (size_parse(bad[i], &bytes) == 0)
			fail_msg("\"%s\" was taken as %llu bytes", bad[i], bytes);
}

static void test_cow_ram_size(void **state)
{
	struct cow_spec spec;
	char why[128];

	(void)state;
	assert_int_equal(cow_parse("256M", &spec, why, sizeof why), 0);
	assert_int_equal(spec.kind, COW_RAM);
	assert_int_equal(spec.size, 256ULL << 20);
	assert_int_equal(cow_parse("4K", &spec, why, sizeof why), -1);
	assert_non_null(strstr(why, "64K"));
	assert_int_equal(cow_parse("lots", &spec, why, sizeof why), -1);
	assert_non_null(strstr(why, "not a size"));
}

static void test_cow_file(void **state)
{
	struct cow_spec spec;
	char why[128];

	(void)state;
	assert_int_equal(cow_parse("file:///srv/cow", &spec, why, sizeof why), 0);
	assert_int_equal(spec.kind, COW_FILE);
	assert_string_equal(spec.path, "/srv/cow");
	assert_int_equal(spec.size, 0);
	assert_int_equal(cow_parse("file:///srv/x.cow?size=1G", &spec, why, sizeof why), 0);
	assert_string_equal(spec.path, "/srv/x.cow");
	assert_int_equal(spec.size, 1ULL << 30);
	assert_int_equal(cow_parse("file://relative", &spec, why, sizeof why), -1);
	assert_int_equal(cow_parse("file:///x?size=big", &spec, why, sizeof why), -1);
}

static void test_cow_nbd(void **state)
{
	struct cow_spec spec;
	char why[128];

	(void)state;
	assert_int_equal(cow_parse("nbd://10.0.2.2:10900/scratch", &spec, why, sizeof why), 0);
	assert_int_equal(spec.kind, COW_NBD);
	assert_string_equal(spec.host, "10.0.2.2");
	assert_int_equal(spec.port, 10900);
	assert_string_equal(spec.export_name, "scratch");
	assert_int_equal(cow_parse("nbd://backup", &spec, why, sizeof why), 0);
	assert_int_equal(spec.port, NBD_DEFAULT_PORT);
	assert_string_equal(spec.export_name, "");
	assert_int_equal(cow_parse("nbd://host:0/x", &spec, why, sizeof why), -1);
	assert_int_equal(cow_parse("nbd://host:99999", &spec, why, sizeof why), -1);
	assert_int_equal(cow_parse("nbd://:10809/x", &spec, why, sizeof why), -1);
	assert_int_equal(cow_parse("ssh://host/x", &spec, why, sizeof why), -1);
	assert_non_null(strstr(why, "file:// and nbd://"));
}

static void test_default_size_fits_memory_and_tmpfs(void **state)
{
	(void)state;
	/* Half the available memory, 4 KiB-aligned. */
	assert_int_equal(cow_default_size(1000ULL << 20, 8ULL << 30), 500ULL << 20);
	/* Never more than the tmpfs holds, less 32 MiB for the rest of the appliance. */
	assert_int_equal(cow_default_size(1ULL << 30, 200ULL << 20), 168ULL << 20);
	/* Capped. */
	assert_int_equal(cow_default_size(64ULL << 30, 64ULL << 30), COW_DEFAULT_CAP);
	/* No room at all. */
	assert_int_equal(cow_default_size(1ULL << 30, 16ULL << 20), 0);
}

static void test_size_format(void **state)
{
	char text[32];

	(void)state;
	size_format(65536, text, sizeof text);
	assert_string_equal(text, "64.0 KiB");
	size_format(3ULL << 30, text, sizeof text);
	assert_string_equal(text, "3.0 GiB");
	size_format(100, text, sizeof text);
	assert_string_equal(text, "100 bytes");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sizes_with_suffixes),
		cmocka_unit_test(test_bad_sizes),
		cmocka_unit_test(test_cow_ram_size),
		cmocka_unit_test(test_cow_file),
		cmocka_unit_test(test_cow_nbd),
		cmocka_unit_test(test_default_size_fits_memory_and_tmpfs),
		cmocka_unit_test(test_size_format),
	};

	return cmocka_run_group_tests_name("cow", tests, NULL, NULL);
}
