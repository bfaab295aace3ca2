/* ext_xattr.h: extended attributes and inline data as ext4 stores them, parsed from
 * buffers: `rescue undelete` has a deleted inode only as a journal copy of its inode table
 * block, so libext2fs's readers (which go through the live inode) cannot be used.
 *
 * An inode larger than 128 bytes keeps attributes after its i_extra_isize bytes: a magic
 * number, then entries whose values sit after them (offsets counted from the first
 * entry). An attribute block has a 32-byte header, then entries whose value offsets are
 * counted from the block's start. Entries are 16 bytes plus the name, padded to 4; a zero
 * word ends them. With the inline_data feature, a small file's bytes are the 60 bytes of
 * i_block followed by the value of "system.data" in the inode.
 *
 * Every offset and size is checked against the buffer before it is used.
 */
#ifndef RESCUE_EXT_XATTR_H
#define RESCUE_EXT_XATTR_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

enum { EXT_XATTR_MAGIC = 0xea020000, EXT_XATTR_INDEX_SYSTEM = 7 };

struct ext_xattr_entry {
	uint8_t index;			/* 1 user, 2/3 POSIX ACLs, 4 trusted, 6 security, 7 system */
	const char *name;		/* not terminated: NAME_LENGTH bytes */
	size_t name_length;
	const unsigned char *value;	/* NULL when it lives in an inode of its own (ea_inode) */
	size_t value_size;
};

/* Returns nonzero to stop the walk (that value is returned). */
typedef int ext_xattr_fn(void *context, const struct ext_xattr_entry *entry);

/* The attributes in AREA, an inode's bytes after 128 + i_extra_isize (SIZE of them): 0
 * (none is fine: no magic, no entries), VISIT's nonzero, or -1 when an entry runs past the
 * area. */
int ext_xattr_ibody(const unsigned char *area, size_t size, ext_xattr_fn *visit,
    void *context);
/* The attributes of the attribute block BLOCK (SIZE bytes): as ext_xattr_ibody, and -1
 * when the header's magic is not there. */
int ext_xattr_block(const unsigned char *block, size_t size, ext_xattr_fn *visit,
    void *context);

/* ENTRY's full name ("user.comment") into NAME: 0, or -1 for a prefix index this reader
 * does not know or a name that does not fit. */
int ext_xattr_name(const struct ext_xattr_entry *entry, char *name, size_t size);

/* An ACL in ext4's compact form (version 1; 4 bytes for the owner, group, mask and other
 * entries, 8 with an id) as the kernel's system.posix_acl_* value (version 2, 8 bytes an
 * entry): bytes written into OUT, or -1 when VALUE is not such an ACL or OUT too small. */
ssize_t ext_acl_to_posix(const unsigned char *value, size_t size, unsigned char *out,
    size_t out_size);

/* An inline-data inode's bytes: the 60 bytes of I_BLOCK then system.data from AREA (as
 * ext_xattr_ibody's), into OUT (up to OUT_SIZE): how many there are, or -1 when AREA's
 * entries are damaged. */
ssize_t ext_inline_data(const unsigned char *i_block, const unsigned char *area,
    size_t area_size, unsigned char *out, size_t out_size);

#endif
