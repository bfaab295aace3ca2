/* ext_xattr.c: ext4's attribute entries and inline data from buffers (ext_xattr.h). */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "fs/ext_xattr.h"

enum { ENTRY_SIZE = 16, BLOCK_HEADER = 32, I_BLOCK_SIZE = 60 };

static uint16_t le16(const unsigned char *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t le32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16
	    | (uint32_t)p[3] << 24;
}

/* Entries from FIRST in BASE[0, SIZE); values at offsets from VALUES_FROM. */
static int walk_entries(const unsigned char *base, size_t size, size_t first,
    size_t values_from, ext_xattr_fn *visit, void *context)
{
	struct ext_xattr_entry entry;
	size_t at = first, offset, length;
	int rc;

	while (at + 4 <= size && le32(base + at) != 0) {
		if (size - at < ENTRY_SIZE || base[at] > size - at - ENTRY_SIZE)
			return -1;
		entry.name_length = base[at];
		entry.index = base[at + 1];
		entry.name = (const char *)base + at + ENTRY_SIZE;
		entry.value_size = le32(base + at + 8);
		entry.value = NULL;
		offset = values_from + le16(base + at + 2);
		if (le32(base + at + 4) == 0) {		/* not in an ea_inode */
			if (offset > size || entry.value_size > size - offset)
				return -1;
			entry.value = base + offset;
		}
		if ((rc = visit(context, &entry)) != 0)
			return rc;
		length = (ENTRY_SIZE + entry.name_length + 3) & ~(size_t)3;
		at += length;
	}
	return 0;
}

int ext_xattr_ibody(const unsigned char *area, size_t size, ext_xattr_fn *visit,
    void *context)
{
	if (size < 4 || le32(area) != EXT_XATTR_MAGIC)
		return 0;
	return walk_entries(area, size, 4, 4, visit, context);
}

int ext_xattr_block(const unsigned char *block, size_t size, ext_xattr_fn *visit,
    void *context)
{
	if (size < BLOCK_HEADER || le32(block) != EXT_XATTR_MAGIC)
		return -1;
	return walk_entries(block, size, BLOCK_HEADER, 0, visit, context);
}

int ext_xattr_name(const struct ext_xattr_entry *entry, char *name, size_t size)
{
	static const char *const prefixes[] = { NULL, "user.", "system.posix_acl_access",
	    "system.posix_acl_default", "trusted.", NULL, "security.", "system.",
	    "system.richacl" };
	const char *prefix;
	int length;

	if (entry->index >= sizeof prefixes / sizeof *prefixes
	    || !(prefix = prefixes[entry->index]))
		return -1;
	length = snprintf(name, size, "%s%.*s", prefix, (int)entry->name_length, entry->name);
	return length < 0 || (size_t)length >= size ? -1 : 0;
}

/* ext4's ACL tags; the kernel's posix_acl_xattr uses the same numbers. */
enum { ACL_USER_OBJ = 1, ACL_USER = 2, ACL_GROUP_OBJ = 4, ACL_GROUP = 8, ACL_MASK = 16,
	ACL_OTHER = 32 };

static void put16(unsigned char *p, uint16_t v)
{
	p[0] = (unsigned char)v;
	p[1] = (unsigned char)(v >> 8);
}

static void put32(unsigned char *p, uint32_t v)
{
	put16(p, (uint16_t)v);
	put16(p + 2, (uint16_t)(v >> 16));
}

ssize_t ext_acl_to_posix(const unsigned char *value, size_t size, unsigned char *out,
    size_t out_size)
{
	size_t at = 4, written = 4, step;
	uint16_t tag;

	if (size < 4 || le32(value) != 1 || out_size < 4)
		return -1;
	put32(out, 2);
	while (at < size) {
		if (size - at < 4 || out_size - written < 8)
			return -1;
		tag = le16(value + at);
		step = tag == ACL_USER || tag == ACL_GROUP ? 8 : 4;
		if (size - at < step || !(tag & (ACL_USER_OBJ | ACL_USER | ACL_GROUP_OBJ
		    | ACL_GROUP | ACL_MASK | ACL_OTHER)))
			return -1;
		put16(out + written, tag);
		put16(out + written + 2, le16(value + at + 2));
		put32(out + written + 4, step == 8 ? le32(value + at + 4) : 0xffffffffU);
		written += 8;
		at += step;
	}
	return (ssize_t)written;
}

struct inline_search {
	const unsigned char *value;
	size_t size;
	int found;
};

static int find_data(void *context, const struct ext_xattr_entry *entry)
{
	struct inline_search *search = context;

	if (entry->index != EXT_XATTR_INDEX_SYSTEM || entry->name_length != 4
	    || memcmp(entry->name, "data", 4) != 0 || !entry->value)
		return 0;
	search->value = entry->value;
	search->size = entry->value_size;
	search->found = 1;
	return 1;
}

ssize_t ext_inline_data(const unsigned char *i_block, const unsigned char *area,
    size_t area_size, unsigned char *out, size_t out_size)
{
	struct inline_search search = { NULL, 0, 0 };
	size_t first = out_size < I_BLOCK_SIZE ? out_size : I_BLOCK_SIZE, more;

	if (ext_xattr_ibody(area, area_size, find_data, &search) < 0)
		return -1;
	memcpy(out, i_block, first);
	more = search.size < out_size - first ? search.size : out_size - first;
	if (search.found && more)
		memcpy(out + first, search.value, more);
	return (ssize_t)(I_BLOCK_SIZE + search.size);
}
