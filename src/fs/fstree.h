/* fstree.h: a file system's tree as `rescue dump` walks and reads it, from either of two
 * places:
 *
 *   fstree_dir.c  a mounted directory, through the kernel (any file system it mounts)
 *   fstree_ext.c  an ext2/3/4 device read directly with libext2fs, never mounted: for a
 *                 file system the kernel refuses, including through a backup superblock
 *
 * Both read only; neither writes to the device in any way (no journal replay, no atime).
 *
 * The walk reports every inode it reaches, each directory before its entries, with the
 * path relative to the root ("" is the root itself; "etc/passwd"; never a leading '/').
 * Names are bytes: any byte but '/' and NUL, valid UTF-8 or not. A hard-linked inode is
 * reported once per name, with the same st_ino. What the walk cannot reach is reported
 * too, as a node with `problem` set, and the walk goes on: a directory whose blocks cannot
 * be read (the entries read before the error are still reported), an inode that cannot be
 * read, a directory reached a second time through a corrupt tree (a loop: not descended).
 *
 * File data is read by position; a read that fails returns -1 with errno (EIO for a bad
 * sector), and the caller narrows it down by reading smaller pieces. Holes are found with
 * fstree_data(): the caller reads only the data regions and records the rest as sparse.
 */
#ifndef RESCUE_FSTREE_H
#define RESCUE_FSTREE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

struct fstree;

struct fstree_node {
	const char *path;	/* relative to the root, see above */
	struct stat st;		/* st_ino (the inode number, for hard links), st_mode, st_nlink,
				 * st_uid, st_gid, st_rdev, st_size, st_atim, st_mtim, st_ctim */
	const char *link;	/* a symbolic link's target, else NULL */
	const char *problem;	/* why this node could not be (fully) walked, else NULL */
	int failed;		/* with problem: nothing of the node could be read (its stat
				 * is not to be trusted), versus a directory read in part or a
				 * loop that was not entered */
};

struct fstree_xattr {
	char *name;		/* full name: "user.comment", "security.selinux",
				 * "system.posix_acl_access" (the kernel's binary form) */
	void *value;
	size_t size;
};

struct fstree_file;

/* Calls VISIT for every node; a nonzero return from VISIT stops the walk and is returned.
 * The node and its strings are valid during the call only. 0, the VISIT's return, or -1
 * (with fstree_error) when the walk could not start at all. */
typedef int fstree_visit_fn(void *context, const struct fstree_node *node);

struct fstree_ops {
	int (*walk)(struct fstree *tree, fstree_visit_fn *visit, void *context);
	/* Opens the regular file PATH whose inode is INODE (the node's st_ino). */
	struct fstree_file *(*open)(struct fstree *tree, const char *path, uint64_t inode);
	ssize_t (*pread)(struct fstree_file *file, void *buffer, size_t size, uint64_t offset);
	/* The first data region at or after OFFSET: 0 with [*START, *END), 1 when there is
	 * none before the end of the file, -1 with errno. */
	int (*data)(struct fstree_file *file, uint64_t offset, uint64_t *start, uint64_t *end);
	void (*close)(struct fstree_file *file);
	/* The extended attributes of PATH / INODE: 0 with a malloc'd list (fstree_xattrs_free),
	 * -1 with errno. */
	int (*xattrs)(struct fstree *tree, const char *path, uint64_t inode,
	    struct fstree_xattr **list, size_t *count);
	/* The same for a file open already, where that is cheaper; NULL: use xattrs. */
	int (*file_xattrs)(struct fstree_file *file, struct fstree_xattr **list, size_t *count);
	void (*release)(struct fstree *tree);
};

struct fstree {
	const struct fstree_ops *ops;
	char description[256];	/* for the summary: "ext4 on /dev/vdb read directly with
				 * libext2fs (backup superblock 32768)", "/mnt/x (mounted)" */
	char error[512];	/* why the last call failed */
	unsigned block_size;	/* the granularity bad ranges are narrowed down to */
	uint64_t capacity;	/* bytes the file system can hold (0: unknown): no file
				 * holds more data, so a record that says it does is damaged */
};

/* A mounted directory. NULL with WHY when DIR cannot be opened. */
struct fstree *fstree_dir_open(const char *dir, char *why, size_t why_size);
/* The names a directory walk holds of one directory at a time (fstree_dir.c); 0: the
 * default. Tests make it small to walk large directories in many windows. */
enum { FSTREE_DIR_WINDOW = 65536 };
void fstree_dir_window(size_t names);
/* The bytes of entries (5 bytes and the name each) a direct walk holds of one directory at
 * a time (fstree_ext.c); 0: the default. Tests make it small to walk large directories in
 * many windows; fstree_ext_stats() says what the walks since the last call held at most
 * and how often they read a directory, and starts counting again. */
enum { FSTREE_EXT_WINDOW = 2 << 20 };
struct fstree_ext_stats {
	size_t largest_buffer;		/* bytes of the largest window buffer allocated */
	unsigned long long readings;	/* directory readings (one per window) */
};
void fstree_ext_window(size_t bytes);
void fstree_ext_stats(struct fstree_ext_stats *stats);
/* An ext2/3/4 file system on DEVICE (or an image file), opened read-only with libext2fs:
 * the primary superblock first, then the backups (as extfs.h does). NULL with WHY, naming
 * what libext2fs said of each superblock tried, when none works. */
struct fstree *fstree_ext_open(const char *device, char *why, size_t why_size);

void fstree_xattrs_free(struct fstree_xattr *list, size_t count);
void fstree_release(struct fstree *tree);

#endif
