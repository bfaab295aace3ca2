/* test_ext_xattr.c: ext4 attribute entries, ACLs and inline data from buffers: the seeds
 * libext2fs wrote (tests/fuzz/corpus/ext_xattr, recorded by make-seeds), and the same cut
 * or damaged, which must be refused without reading past the buffer. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "fs/ext_xattr.h"
#include "lib/deleted_tree.h"

static const char SEEDS[] = "../tests/fuzz/corpus/ext_xattr/";

struct seen {
	char names[8][64];
	size_t sizes[8];
	size_t count;
};

static int remember(void *context, const struct ext_xattr_entry *entry)
{
	struct seen *seen = context;

	if (seen->count < 8) {
		if (ext_xattr_name(entry, seen->names[seen->count], 64) != 0)
			snprintf(seen->names[seen->count], 64, "?%u", entry->index);
		seen->sizes[seen->count] = entry->value_size;
	}
	seen->count++;
	return 0;
}

static unsigned char *seed(const char *name, size_t *size)
{
	char path[256];
	unsigned char *data;

	snprintf(path, sizeof path, "%s%s", SEEDS, name);
	assert_non_null(data = deleted_tree_read(path, size));
	return data;
}

/* An inline-data inode's area: system.data (the file's bytes past i_block's 60) and
 * user.origin; cut anywhere inside an entry, the walk says so; the inline bytes join. */
static void test_inode_area(void **state)
{
	unsigned char i_block[60], out[256];
	struct seen seen = { 0 };
	size_t size, cut;
	unsigned char *area = seed("inline-inode-area", &size);
	ssize_t length;

	(void)state;
	assert_int_equal(ext_xattr_ibody(area, size, remember, &seen), 0);
	assert_int_equal(seen.count, 2);
	assert_string_equal(seen.names[0], "system.data");
	assert_int_equal(seen.sizes[0], 29);
	assert_string_equal(seen.names[1], "user.origin");
	memset(i_block, 'i', sizeof i_block);
	length = ext_inline_data(i_block, area, size, out, sizeof out);
	assert_int_equal(length, 89);
	assert_memory_equal(out + 60, "em.data. xxxxxxxxxxxxxxxxxxxx", 29);
	for (cut = 8; cut < 93; cut++) {	/* system.data ends at 93 */
		memset(&seen, 0, sizeof seen);
		assert_int_equal(ext_xattr_ibody(area, cut, remember, &seen), -1);
	}
	area[3] = 0;		/* no magic: no attributes, inline bytes are i_block's */
	assert_int_equal(ext_xattr_ibody(area, size, remember, &seen), 0);
	assert_int_equal(ext_inline_data(i_block, area, size, out, sizeof out), 60);
	free(area);
}

/* An attribute block: its entries found; a value offset past the block refused; a block
 * without the magic refused. */
static void test_attribute_block(void **state)
{
	struct seen seen = { 0 };
	size_t size;
	unsigned char *block = seed("attribute-block", &size);

	(void)state;
	assert_int_equal(ext_xattr_block(block, size, remember, &seen), 0);
	assert_true(seen.count >= 1);
	assert_string_equal(seen.names[0], "user.big");
	assert_int_equal(seen.sizes[0], 300);
	block[34] = 0xff, block[35] = 0xff;	/* the first value's offset: 65535 */
	assert_int_equal(ext_xattr_block(block, size, remember, &seen), -1);
	block[3] = 0;
	assert_int_equal(ext_xattr_block(block, size, remember, &seen), -1);
	free(block);
}

/* ext4's short and long ACL entries become the kernel's 8-byte ones; a bad version, a cut
 * entry or an unknown tag is refused; too small an output too. */
static void test_acl(void **state)
{
	static const unsigned char ext4[] = { 1, 0, 0, 0, 1, 0, 6, 0, 2, 0, 4, 0, 0xe8, 3, 0,
	    0, 4, 0, 4, 0, 16, 0, 4, 0, 32, 0, 0, 0 };
	static const unsigned char posix[] = { 2, 0, 0, 0, 1, 0, 6, 0, 0xff, 0xff, 0xff, 0xff,
	    2, 0, 4, 0, 0xe8, 3, 0, 0, 4, 0, 4, 0, 0xff, 0xff, 0xff, 0xff, 16, 0, 4, 0, 0xff,
	    0xff, 0xff, 0xff, 32, 0, 0, 0, 0xff, 0xff, 0xff, 0xff };
	unsigned char out[128], bad[sizeof ext4];

	(void)state;
	assert_int_equal(ext_acl_to_posix(ext4, sizeof ext4, out, sizeof out), sizeof posix);
	assert_memory_equal(out, posix, sizeof posix);
	assert_int_equal(ext_acl_to_posix(ext4, sizeof ext4 - 2, out, sizeof out), -1);
	assert_int_equal(ext_acl_to_posix(ext4, sizeof ext4, out, 20), -1);
	memcpy(bad, ext4, sizeof bad);
	bad[0] = 2;
	assert_int_equal(ext_acl_to_posix(bad, sizeof bad, out, sizeof out), -1);
	memcpy(bad, ext4, sizeof bad);
	bad[4] = 64;
	assert_int_equal(ext_acl_to_posix(bad, sizeof bad, out, sizeof out), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_inode_area),
		cmocka_unit_test(test_attribute_block),
		cmocka_unit_test(test_acl),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
