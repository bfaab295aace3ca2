/* fuzz_ext_xattr.c: ext4's attribute entries, ACLs and inline data (src/fs/ext_xattr.h) on
 * arbitrary bytes, under libFuzzer with ASan and UBSan. The input is taken as an inode's
 * attribute area, as an attribute block, and its values as ACLs; its first 60 bytes as an
 * inline-data inode's i_block. Seeds in corpus/ext_xattr/ are the attribute area of an
 * inline-data inode and an attribute block with an ACL, as the kernel wrote them. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "fs/ext_xattr.h"
#include "fuzz.h"

static int visit(void *context, const struct ext_xattr_entry *entry)
{
	unsigned char acl[512];
	char name[300];
	size_t *seen = context;

	(*seen)++;
	ext_xattr_name(entry, name, sizeof name);
	if (entry->value)
		ext_acl_to_posix(entry->value, entry->value_size, acl, sizeof acl);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	unsigned char out[4096], i_block[60] = { 0 };
	size_t seen = 0;

	memcpy(i_block, data, size < sizeof i_block ? size : sizeof i_block);
	ext_xattr_ibody(data, size, visit, &seen);
	ext_xattr_block(data, size, visit, &seen);
	ext_inline_data(i_block, data, size, out, sizeof out);
	ext_inline_data(i_block, data, size, out, 10);
	return 0;
}
