/* fstree_ext.c: an ext2/3/4 file system's tree read with libext2fs, never mounted
 * (fstree.h).
 *
 * libext2fs reads the metadata: inodes, directories, extent trees and block maps,
 * extended attributes. File data is read here, from the device with pread(2), once
 * libext2fs has said where each block lies: its block cache would blur which range a bad
 * sector failed, and the caller narrows a failed read down to the blocks that fail.
 *
 * What the contract leaves to the backend, chosen so:
 *   - A directory is read to its end before it is reported. When its blocks cannot all be
 *     read, its own node carries the problem (failed 0: its stat is good), and the entries
 *     read before the error follow it as usual. Its entries are visited in the order the
 *     directory holds them (its blocks in order, as e2fsck and debugfs list them), a
 *     window of them at a time (struct listing): a directory of a million entries costs
 *     the window's 2 MiB, not 25 MB, for a reading of it up to the end of each window.
 *   - failed is 1 when the node has no trustworthy stat: its inode cannot be read, holds
 *     no file type (cleared under a live entry), is a reserved inode (the journal...), or
 *     its name holds a '/' (the path then shows '?' for it).
 *   - A directory reached a second time (a loop or a hard-linked directory) is reported
 *     with its stat, failed 0, and not entered.
 *   - A symbolic link whose target cannot be read: link NULL, the problem set, failed 0.
 *   - File data whose block map cannot be read whole: the blocks outside what was read
 *     are asked of libext2fs one at a time (ext2fs_bmap2) and count as data for
 *     fstree_data(), so a block nobody can place fails its read with EIO.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <ext2fs/ext2_fs.h>
#include <ext2fs/ext2fs.h>

#include "base/err.h"
#include "base/sort.h"
#include "fs/extfs.h"
#include "fs/fstree.h"

/* Deeper than this no path fits in PATH_MAX even with one-byte names; a corrupt tree could
 * otherwise recurse until the stack runs out. */
enum { MAX_DEPTH = 2048 };

struct ext_tree {
	struct fstree tree;	/* first: the ops are handed &tree */
	ext2_filsys fs;
	int fd;			/* the device again, for file data */
	char *device;
};

static struct ext_tree *ext_of(struct fstree *tree)
{
	return (struct ext_tree *)tree;
}

/* Sets the tree's error; errno is kept for the caller. */
__attribute__((format(printf, 2, 3)))
static void set_error(struct ext_tree *ext, const char *format, ...)
{
	int saved = errno;
	va_list args;

	va_start(args, format);
	vsnprintf(ext->tree.error, sizeof ext->tree.error, format, args);
	va_end(args);
	errno = saved;
}

/* libext2fs passes system errors through as errno values and has its own codes above. */
static int errno_of(errcode_t code)
{
	if (code == EXT2_ET_NO_MEMORY)
		return ENOMEM;
	return code > 0 && code < 4096 ? (int)code : EIO;
}

static struct ext2_inode *small(struct ext2_inode_large *inode)
{
	return (struct ext2_inode *)inode;
}

/* The inode as large as the file system stores it; what it does not store reads as 0. */
static errcode_t read_inode(ext2_filsys fs, ext2_ino_t ino, struct ext2_inode_large *inode)
{
	memset(inode, 0, sizeof *inode);
	return ext2fs_read_inode_full(fs, ino, small(inode), sizeof *inode);
}

static int valid_inode_number(ext2_filsys fs, uint64_t ino)
{
	return ino >= 1 && ino <= fs->super->s_inodes_count;
}

/* ---- stat from an inode ---- */

/* Whether the large inode's extra part (i_extra_isize bytes) reaches FIELD. */
#define HAS_EXTRA(inode, field) ((size_t)EXT2_GOOD_OLD_INODE_SIZE + (inode)->i_extra_isize >= \
	offsetof(struct ext2_inode_large, field) + sizeof (inode)->field)

/* As the kernel decodes it: the 32-bit seconds are signed, the extra field's two low bits
 * extend them past 2038 and its other bits are the nanoseconds. */
static struct timespec inode_time(__u32 seconds, int has_extra, __u32 extra)
{
	struct timespec time = { .tv_sec = (int32_t)seconds };

	if (has_extra) {
		time.tv_sec += (int64_t)(extra & EXT4_EPOCH_MASK) << 32;
		time.tv_nsec = extra >> EXT4_EPOCH_BITS;
	}
	return time;
}

/* The kernel writes the old 8:8 encoding in i_block[0] when the numbers fit it, else 0
 * there and the new 12:20 encoding in i_block[1]. */
static dev_t inode_rdev(const struct ext2_inode_large *inode)
{
	__u32 old = inode->i_block[0], new = inode->i_block[1];

	if (old != 0)
		return makedev((old >> 8) & 0xff, old & 0xff);
	return makedev((new & 0xfff00) >> 8, (new & 0xff) | ((new >> 12) & 0xfff00));
}

static void fill_stat(ext2_filsys fs, ext2_ino_t ino, struct ext2_inode_large *inode,
    struct stat *st)
{
	memset(st, 0, sizeof *st);
	st->st_ino = ino;
	st->st_mode = inode->i_mode;
	st->st_nlink = inode->i_links_count;
	st->st_uid = inode_uid(*inode);
	st->st_gid = inode_gid(*inode);
	st->st_size = (off_t)EXT2_I_SIZE(inode);
	st->st_blksize = fs->blocksize;
	st->st_blocks = (blkcnt_t)ext2fs_get_stat_i_blocks(fs, small(inode));
	if (LINUX_S_ISCHR(inode->i_mode) || LINUX_S_ISBLK(inode->i_mode))
		st->st_rdev = inode_rdev(inode);
	st->st_atim = inode_time(inode->i_atime, HAS_EXTRA(inode, i_atime_extra),
	    inode->i_atime_extra);
	st->st_mtim = inode_time(inode->i_mtime, HAS_EXTRA(inode, i_mtime_extra),
	    inode->i_mtime_extra);
	st->st_ctim = inode_time(inode->i_ctime, HAS_EXTRA(inode, i_ctime_extra),
	    inode->i_ctime_extra);
}

static int has_file_type(__u16 mode)
{
	switch (mode & LINUX_S_IFMT) {
	case LINUX_S_IFREG: case LINUX_S_IFDIR: case LINUX_S_IFLNK: case LINUX_S_IFCHR:
	case LINUX_S_IFBLK: case LINUX_S_IFIFO: case LINUX_S_IFSOCK:
		return 1;
	}
	return 0;
}

/* ---- symbolic links ---- */

static errcode_t read_inline_link(ext2_filsys fs, ext2_ino_t ino,
    struct ext2_inode_large *inode, char *target, size_t size)
{
	size_t stored;
	char *buffer;
	errcode_t code = ext2fs_inline_data_size(fs, ino, &stored);

	if (code != 0)
		return code;
	if (stored < size)
		return EXT2_ET_INLINE_DATA_NO_SPACE;
	buffer = malloc(stored + 1);
	if (buffer == NULL)
		return EXT2_ET_NO_MEMORY;
	code = ext2fs_inline_data_get(fs, ino, small(inode), buffer, &stored);
	if (code == 0)
		memcpy(target, buffer, size);
	free(buffer);
	return code;
}

static errcode_t read_slow_link(ext2_filsys fs, ext2_ino_t ino,
    struct ext2_inode_large *inode, char *target, size_t size)
{
	ext2_file_t file;
	unsigned got = 0;
	errcode_t code = ext2fs_file_open2(fs, ino, small(inode), 0, &file);

	if (code != 0)
		return code;
	code = ext2fs_file_read(file, target, (unsigned)size, &got);
	ext2fs_file_close(file);
	if (code == 0 && got != size)
		code = EXT2_ET_SHORT_READ;
	return code;
}

/* TARGET holds SIZE + 1 bytes. A fast link keeps its target in i_block; an inline-data
 * one in the inode's data area; a slow one in a data block. */
static errcode_t read_link(ext2_filsys fs, ext2_ino_t ino, struct ext2_inode_large *inode,
    char *target, size_t size)
{
	errcode_t code = 0;

	if (inode->i_flags & EXT4_INLINE_DATA_FL)
		code = read_inline_link(fs, ino, inode, target, size);
	else if (ext2fs_is_fast_symlink(small(inode)))
		memcpy(target, inode->i_block, size);
	else
		code = read_slow_link(fs, ino, inode, target, size);
	target[size] = '\0';
	return code;
}

/* ---- the walk ---- */

struct path {
	char *text;
	size_t length, size;
};

/* The directories already reached, by inode number, with the path they were reached by:
 * open addressing, 0 marks a free slot (no inode has number 0). */
struct reached {
	ext2_ino_t ino;
	char *path;
};

struct reached_set {
	struct reached *slots;
	size_t size, used;
};

struct walk {
	struct ext_tree *ext;
	fstree_visit_fn *visit;
	void *context;
	struct path path;
	struct reached_set reached;
	unsigned depth;
};

/* A window of one directory's entries, packed: the inode number (4 bytes), the name's
 * length (1 byte), the name; at most window_bytes of them (one entry at least), whatever
 * the directory holds. The window is a stretch of the directory's own order: the SKIP
 * entries before it were visited already, and each reading of the directory after the
 * first stops once the window is full. The first reading goes on to the end, counting
 * (TOTAL) without keeping, so the directory's node can say how many entries it has read
 * when a block fails, as it did when the directory was held whole. */
struct listing {
	unsigned char *bytes;
	size_t length, size;
	unsigned entries;	/* in the window */
	unsigned long long seen;	/* met by this reading so far */
	unsigned long long skip;	/* before the window */
	unsigned long long total;	/* met by the first reading */
	int first;		/* this is the first reading: count on past the window */
	int full;		/* an entry did not fit: more follow the window */
	int no_memory;
};

static size_t window_bytes = FSTREE_EXT_WINDOW;
static struct fstree_ext_stats window_stats;

void fstree_ext_window(size_t bytes)
{
	window_bytes = bytes ? bytes : FSTREE_EXT_WINDOW;
}

void fstree_ext_stats(struct fstree_ext_stats *stats)
{
	*stats = window_stats;
	memset(&window_stats, 0, sizeof window_stats);
}

static int path_push(struct path *path, const char *name, size_t length)
{
	size_t need = path->length + length + 2;

	if (need > path->size) {
		size_t size = need > 2 * path->size ? need : 2 * path->size;
		char *bigger = realloc(path->text, size);

		if (bigger == NULL)
			return -1;
		path->text = bigger;
		path->size = size;
	}
	if (path->length > 0)
		path->text[path->length++] = '/';
	memcpy(path->text + path->length, name, length);
	path->length += length;
	path->text[path->length] = '\0';
	return 0;
}

static void path_pop(struct path *path, size_t length)
{
	path->length = length;
	path->text[length] = '\0';
}

static struct reached *reached_slot(struct reached *slots, size_t size, ext2_ino_t ino)
{
	size_t i = (ino * 2654435761u) & (size - 1);

	while (slots[i].ino != 0 && slots[i].ino != ino)
		i = (i + 1) & (size - 1);
	return &slots[i];
}

static int reached_grow(struct reached_set *set)
{
	size_t size = set->size ? 2 * set->size : 1024, i;
	struct reached *slots = calloc(size, sizeof *slots);

	if (slots == NULL)
		return -1;
	for (i = 0; i < set->size; i++)
		if (set->slots[i].ino != 0)
			*reached_slot(slots, size, set->slots[i].ino) = set->slots[i];
	free(set->slots);
	set->slots = slots;
	set->size = size;
	return 0;
}

static const char *reached_path(const struct reached_set *set, ext2_ino_t ino)
{
	if (set->size == 0)
		return NULL;
	return reached_slot(set->slots, set->size, ino)->path;
}

static int reached_add(struct reached_set *set, ext2_ino_t ino, const char *path)
{
	struct reached *slot;

	if (2 * (set->used + 1) > set->size && reached_grow(set) != 0)
		return -1;
	slot = reached_slot(set->slots, set->size, ino);
	slot->path = strdup(path);
	if (slot->path == NULL)
		return -1;
	slot->ino = ino;
	set->used++;
	return 0;
}

static void reached_free(struct reached_set *set)
{
	size_t i;

	for (i = 0; i < set->size; i++)
		free(set->slots[i].path);
	free(set->slots);
}

/* The buffer grows as entries come, up to the window and one entry more: a small
 * directory costs what it holds. */
static int listing_add(struct listing *listing, ext2_ino_t ino, const char *name,
    unsigned length)
{
	size_t need = listing->length + sizeof ino + 1 + length;

	if (need > listing->size) {
		size_t size = need > 2 * listing->size ? need + 4096 : 2 * listing->size;
		unsigned char *bigger;

		if (size > window_bytes + sizeof ino + 1 + 255)
			size = need > window_bytes ? need : window_bytes + sizeof ino + 1 + 255;
		if ((bigger = realloc(listing->bytes, size)) == NULL)
			return -1;
		listing->bytes = bigger;
		listing->size = size;
		if (size > window_stats.largest_buffer)
			window_stats.largest_buffer = size;
	}
	memcpy(listing->bytes + listing->length, &ino, sizeof ino);
	listing->bytes[listing->length + sizeof ino] = (unsigned char)length;
	memcpy(listing->bytes + listing->length + sizeof ino + 1, name, length);
	listing->length = need;
	listing->entries++;
	return 0;
}

/* "." and ".." are skipped by name, wherever a corrupt directory holds them. Entries
 * before the window are passed over; once one does not fit, a later reading stops and
 * the first counts on. */
static int list_entry(ext2_ino_t dir, int entry, struct ext2_dir_entry *dirent, int offset,
    int blocksize, char *buf, void *data)
{
	struct listing *listing = data;
	int length = ext2fs_dirent_name_len(dirent);

	(void)dir, (void)entry, (void)offset, (void)blocksize, (void)buf;
	if ((length == 1 && dirent->name[0] == '.')
	    || (length == 2 && dirent->name[0] == '.' && dirent->name[1] == '.'))
		return 0;
	if (++listing->seen <= listing->skip)
		return 0;
	if (!listing->full && listing->entries > 0
	    && listing->length + sizeof dirent->inode + 1 + (size_t)length > window_bytes)
		listing->full = 1;
	if (listing->full)
		return listing->first ? 0 : DIRENT_ABORT;
	if (listing_add(listing, dirent->inode, dirent->name, (unsigned)length) != 0) {
		listing->no_memory = 1;
		return DIRENT_ABORT;
	}
	return 0;
}

/* Without flags, entries of inode 0 (deleted) are left out and inline-data directories
 * are read too (DIRENT_FLAG_INCLUDE_INLINE_DATA is libext2fs's own, for its inline pass);
 * the iteration stops at the first block it cannot read or parse. Reads the window after
 * the SKIP entries visited already. */
static errcode_t list_directory(ext2_filsys fs, ext2_ino_t ino, struct listing *listing,
    unsigned long long skip)
{
	errcode_t code;

	listing->length = 0, listing->entries = 0, listing->seen = 0;
	listing->skip = skip, listing->full = 0, listing->first = skip == 0;
	code = ext2fs_dir_iterate2(fs, ino, 0, NULL, list_entry, listing);
	if (listing->first)
		listing->total = listing->seen;
	window_stats.readings++;
	return code;
}

static int out_of_memory(struct walk *walk)
{
	errno = ENOMEM;
	set_error(walk->ext, "unable to walk %s: out of memory", walk->path.text);
	return -1;
}

static int report(struct walk *walk, ext2_ino_t ino, struct ext2_inode_large *inode,
    const char *link, const char *problem)
{
	struct fstree_node node = { .path = walk->path.text, .link = link, .problem = problem };

	fill_stat(walk->ext->fs, ino, inode, &node.st);
	return walk->visit(walk->context, &node);
}

__attribute__((format(printf, 3, 4)))
static int report_failed(struct walk *walk, ext2_ino_t ino, const char *format, ...)
{
	struct fstree_node node = { .path = walk->path.text, .failed = 1 };
	char problem[256];
	va_list args;

	va_start(args, format);
	vsnprintf(problem, sizeof problem, format, args);
	va_end(args);
	node.problem = problem;
	node.st.st_ino = ino;
	return walk->visit(walk->context, &node);
}

static int report_directory(struct walk *walk, ext2_ino_t ino,
    struct ext2_inode_large *inode, const struct listing *listing, errcode_t code)
{
	char problem[256];

	if (code == 0)
		return report(walk, ino, inode, NULL, NULL);
	snprintf(problem, sizeof problem, "directory blocks unreadable, %llu entries read: %s",
	    listing->total, error_message(code));
	return report(walk, ino, inode, NULL, problem);
}

static int report_symlink(struct walk *walk, ext2_ino_t ino, struct ext2_inode_large *inode)
{
	uint64_t size = EXT2_I_SIZE(inode);
	char problem[256], *target;
	errcode_t code;
	int result;

	/* The kernel makes no target longer than a block. */
	if (size == 0 || size > walk->ext->fs->blocksize) {
		snprintf(problem, sizeof problem, "symbolic link target of %llu bytes: corrupt",
		    (unsigned long long)size);
		return report(walk, ino, inode, NULL, problem);
	}
	target = malloc(size + 1);
	if (target == NULL)
		return out_of_memory(walk);
	code = read_link(walk->ext->fs, ino, inode, target, size);
	if (code != 0)
		snprintf(problem, sizeof problem, "symbolic link target unreadable: %s",
		    error_message(code));
	result = report(walk, ino, inode, code ? NULL : target, code ? problem : NULL);
	free(target);
	return result;
}

static int walk_directory(struct walk *walk, ext2_ino_t ino, struct ext2_inode_large *inode);

/* The problems of a directory not entered; its own function so that the buffer is not on
 * the stack through the recursion. */
__attribute__((format(printf, 4, 5)))
static int report_not_entered(struct walk *walk, ext2_ino_t ino,
    struct ext2_inode_large *inode, const char *format, ...)
{
	char problem[PATH_MAX + 64];
	va_list args;

	va_start(args, format);
	vsnprintf(problem, sizeof problem, format, args);
	va_end(args);
	return report(walk, ino, inode, NULL, problem);
}

static int walk_subdirectory(struct walk *walk, ext2_ino_t ino,
    struct ext2_inode_large *inode)
{
	const char *first = reached_path(&walk->reached, ino);
	int result;

	if (first != NULL)
		return report_not_entered(walk, ino, inode, "directory loop: already reached as %s",
		    first[0] ? first : "the root");
	if (walk->depth >= MAX_DEPTH)
		return report_not_entered(walk, ino, inode, "directory nested %d deep: not entered",
		    MAX_DEPTH);
	if (reached_add(&walk->reached, ino, walk->path.text) != 0)
		return out_of_memory(walk);
	walk->depth++;
	result = walk_directory(walk, ino, inode);
	walk->depth--;
	return result;
}

static int walk_inode(struct walk *walk, ext2_ino_t ino)
{
	ext2_filsys fs = walk->ext->fs;
	struct ext2_inode_large inode;
	errcode_t code;

	/* Inodes 1 to 10 are the file system's own (the journal, resize, bad blocks...); the
	 * superblock's s_first_ino is not trusted for this, a corrupt one would hide all. */
	if (ino < EXT2_GOOD_OLD_FIRST_INO && ino != EXT2_ROOT_INO)
		return report_failed(walk, ino, "entry names reserved inode %u", ino);
	code = read_inode(fs, ino, &inode);
	if (code != 0)
		return report_failed(walk, ino, "inode %u unreadable: %s", ino,
		    error_message(code));
	if (!has_file_type(inode.i_mode))
		return report_failed(walk, ino, "inode %u holds no file type (mode 0%o)", ino,
		    inode.i_mode);
	if (LINUX_S_ISDIR(inode.i_mode))
		return walk_subdirectory(walk, ino, &inode);
	if (LINUX_S_ISLNK(inode.i_mode))
		return report_symlink(walk, ino, &inode);
	return report(walk, ino, &inode, NULL, NULL);
}

/* A name holding '/' or NUL cannot be part of a path: it is shown with '?' there. */
static int report_bad_name(struct walk *walk, ext2_ino_t ino, const char *name,
    unsigned length)
{
	char shown[256];
	unsigned i;

	for (i = 0; i < length; i++)
		shown[i] = name[i] == '/' || name[i] == '\0' ? '?' : name[i];
	if (path_push(&walk->path, shown, length) != 0)
		return out_of_memory(walk);
	return report_failed(walk, ino, "name holds a '/' or NUL byte: not walked");
}

static int walk_entry(struct walk *walk, ext2_ino_t ino, const char *name, unsigned length)
{
	size_t parent = walk->path.length;
	int result;

	if (memchr(name, '/', length) || memchr(name, '\0', length))
		result = report_bad_name(walk, ino, name, length);
	else if (path_push(&walk->path, name, length) != 0)
		result = out_of_memory(walk);
	else
		result = walk_inode(walk, ino);
	path_pop(&walk->path, parent);
	return result;
}

static int walk_listing(struct walk *walk, const struct listing *listing)
{
	const unsigned char *at = listing->bytes, *end = at + listing->length;
	int result = 0;

	while (result == 0 && at < end) {
		ext2_ino_t ino;
		unsigned length = at[sizeof ino];

		memcpy(&ino, at, sizeof ino);
		result = walk_entry(walk, ino, (const char *)at + sizeof ino + 1, length);
		at += sizeof ino + 1 + length;
	}
	return result;
}

/* The window after the one just visited (VISITED entries so far): a directory that read
 * as far once and now reads less stops the walk (its node was visited already and cannot
 * carry the problem), the tree's error saying which. */
static int next_window(struct walk *walk, ext2_ino_t ino, struct listing *listing,
    unsigned long long visited)
{
	errcode_t code = list_directory(walk->ext->fs, ino, listing, visited);

	if (listing->no_memory)
		return out_of_memory(walk);
	if (listing->full || visited + listing->entries >= listing->total)
		return 0;
	errno = errno_of(code ? code : EXT2_ET_SHORT_READ);
	set_error(walk->ext, "unable to read the directory %s (inode %u) again past entry %llu "
	    "of %llu: %s", walk->path.length ? walk->path.text : "/", ino, visited
	    + listing->entries, listing->total, error_message(code ? code : EXT2_ET_SHORT_READ));
	return -1;
}

static int walk_directory(struct walk *walk, ext2_ino_t ino, struct ext2_inode_large *inode)
{
	struct listing listing = { 0 };
	errcode_t code = list_directory(walk->ext->fs, ino, &listing, 0);
	unsigned long long visited = 0;
	int result;

	if (listing.no_memory)
		result = out_of_memory(walk);
	else
		result = report_directory(walk, ino, inode, &listing, code);
	while (result == 0) {
		result = walk_listing(walk, &listing);
		visited += listing.entries;
		if (result != 0 || !listing.full)
			break;
		result = next_window(walk, ino, &listing, visited);
	}
	free(listing.bytes);
	return result;
}

static int ext_walk(struct fstree *tree, fstree_visit_fn *visit, void *context)
{
	struct ext_tree *ext = ext_of(tree);
	struct walk walk = { .ext = ext, .visit = visit, .context = context };
	struct ext2_inode_large root;
	errcode_t code = read_inode(ext->fs, EXT2_ROOT_INO, &root);
	int result = -1;

	if (code != 0) {
		errno = errno_of(code);
		set_error(ext, "unable to read the root directory of %s (inode 2): %s",
		    ext->device, error_message(code));
		goto out;
	}
	if (!LINUX_S_ISDIR(root.i_mode)) {
		errno = ENOTDIR;
		set_error(ext, "unable to walk %s: its root inode 2 is no directory (mode 0%o)",
		    ext->device, root.i_mode);
		goto out;
	}
	if (path_push(&walk.path, "", 0) != 0
	    || reached_add(&walk.reached, EXT2_ROOT_INO, "") != 0) {
		result = out_of_memory(&walk);
		goto out;
	}
	result = walk_directory(&walk, EXT2_ROOT_INO, &root);
out:
	reached_free(&walk.reached);
	free(walk.path.text);
	return result;
}

/* ---- file data ---- */

/* Where a run of logical blocks lies on the device; unwritten (uninitialized) extents read
 * as zeros and count as holes. */
struct run {
	uint64_t logical, physical, blocks;
	int unwritten;
};

struct ext_file {
	struct ext_tree *ext;
	ext2_ino_t ino;
	struct ext2_inode_large inode;
	uint64_t size;
	struct run *runs;	/* by logical block */
	size_t count, capacity;
	int map_complete;	/* else blocks outside the runs are unknown, not holes */
	int no_memory;
	char *inline_data;	/* an inline-data file's bytes, inline_size of them */
	size_t inline_size;
};

enum segment_kind { SEGMENT_DATA, SEGMENT_HOLE, SEGMENT_UNKNOWN };

/* The blocks from one logical block on that are all of one kind. */
struct segment {
	enum segment_kind kind;
	uint64_t physical;	/* of the first block, for data */
	uint64_t blocks;
};

static struct ext_file *file_of(struct fstree_file *file)
{
	return (struct ext_file *)file;
}

static int runs_add(struct ext_file *file, uint64_t logical, uint64_t physical,
    uint64_t blocks, int unwritten)
{
	struct run *last = file->count ? &file->runs[file->count - 1] : NULL;

	if (last != NULL && last->unwritten == unwritten && last->logical + last->blocks == logical
	    && last->physical + last->blocks == physical) {
		last->blocks += blocks;
		return 0;
	}
	if (file->count == file->capacity) {
		size_t capacity = file->capacity ? 2 * file->capacity : 16;
		struct run *bigger = realloc(file->runs, capacity * sizeof *bigger);

		if (bigger == NULL) {
			file->no_memory = 1;
			return -1;
		}
		file->runs = bigger;
		file->capacity = capacity;
	}
	file->runs[file->count++] = (struct run){ logical, physical, blocks, unwritten };
	return 0;
}

static errcode_t map_extents(struct ext_file *file)
{
	ext2_extent_handle_t handle;
	struct ext2fs_extent extent;
	errcode_t code = ext2fs_extent_open2(file->ext->fs, file->ino, small(&file->inode),
	    &handle);

	if (code != 0)
		return code;
	code = ext2fs_extent_get(handle, EXT2_EXTENT_ROOT, &extent);
	while (code == 0) {
		if ((extent.e_flags & EXT2_EXTENT_FLAGS_LEAF) && extent.e_len > 0
		    && runs_add(file, extent.e_lblk, extent.e_pblk, extent.e_len,
		    (extent.e_flags & EXT2_EXTENT_FLAGS_UNINIT) != 0) != 0)
			break;
		code = ext2fs_extent_get(handle, EXT2_EXTENT_NEXT_LEAF, &extent);
	}
	ext2fs_extent_free(handle);
	return code == EXT2_ET_EXTENT_NO_NEXT ? 0 : code;
}

static int map_block(ext2_filsys fs, blk64_t *block, e2_blkcnt_t logical, blk64_t ref_block,
    int ref_offset, void *data)
{
	(void)fs, (void)ref_block, (void)ref_offset;
	if (logical < 0)
		return 0;
	return runs_add(data, (uint64_t)logical, *block, 1, 0) == 0 ? 0 : BLOCK_ABORT;
}

/* An indirect block that cannot be read is skipped by the iteration, which goes on and
 * returns the error at the end: the map is then incomplete. */
static errcode_t map_blocks(struct ext_file *file)
{
	return ext2fs_block_iterate3(file->ext->fs, file->ino,
	    BLOCK_FLAG_READ_ONLY | BLOCK_FLAG_DATA_ONLY, NULL, map_block, file);
}

static int by_logical(const void *a, const void *b)
{
	const struct run *left = a, *right = b;

	return (left->logical > right->logical) - (left->logical < right->logical);
}

static errcode_t map_file(struct ext_file *file)
{
	errcode_t code;

	if (file->inode.i_flags & EXT4_EXTENTS_FL)
		code = map_extents(file);
	else
		code = map_blocks(file);
	if (file->no_memory)
		return EXT2_ET_NO_MEMORY;
	/* A corrupt tree may list its extents out of order. */
	array_sort(file->runs, file->count, sizeof *file->runs, by_logical);
	file->map_complete = code == 0;
	return 0;
}

static errcode_t load_inline(struct ext_file *file)
{
	ext2_filsys fs = file->ext->fs;
	size_t size;
	errcode_t code = ext2fs_inline_data_size(fs, file->ino, &size);

	if (code != 0)
		return code;
	file->inline_data = malloc(size + 1);
	if (file->inline_data == NULL)
		return EXT2_ET_NO_MEMORY;
	code = ext2fs_inline_data_get(fs, file->ino, small(&file->inode), file->inline_data, &size);
	file->inline_size = size < file->size ? size : file->size;
	return code;
}

static void ext_close(struct fstree_file *handle)
{
	struct ext_file *file = file_of(handle);

	if (file == NULL)
		return;
	free(file->runs);
	free(file->inline_data);
	free(file);
}

/* 0 or a libext2fs code; EINVAL for an inode that is no regular file. */
static errcode_t load_file(struct ext_file *file)
{
	errcode_t code = read_inode(file->ext->fs, file->ino, &file->inode);

	if (code != 0)
		return code;
	if (!LINUX_S_ISREG(file->inode.i_mode))
		return EINVAL;
	file->size = EXT2_I_SIZE(&file->inode);
	if (file->inode.i_flags & EXT4_INLINE_DATA_FL)
		return load_inline(file);
	return map_file(file);
}

static struct fstree_file *ext_open(struct fstree *tree, const char *path, uint64_t inode)
{
	struct ext_tree *ext = ext_of(tree);
	struct ext_file *file = calloc(1, sizeof *file);
	errcode_t code = file ? EINVAL : EXT2_ET_NO_MEMORY;

	if (file != NULL && valid_inode_number(ext->fs, inode)) {
		file->ext = ext;
		file->ino = (ext2_ino_t)inode;
		code = load_file(file);
	}
	if (code == 0)
		return (struct fstree_file *)file;
	errno = errno_of(code);
	set_error(ext, "unable to open %s (inode %llu): %s", path, (unsigned long long)inode,
	    code == EINVAL ? "no regular file there" : error_message(code));
	ext_close((struct fstree_file *)file);
	return NULL;
}

static void segment_at(const struct ext_file *file, uint64_t logical, struct segment *segment)
{
	size_t low = 0, high = file->count;

	while (low < high) {
		size_t middle = low + (high - low) / 2;
		const struct run *run = &file->runs[middle];

		if (run->logical + run->blocks <= logical)
			low = middle + 1;
		else
			high = middle;
	}
	if (low < file->count && file->runs[low].logical <= logical) {
		const struct run *run = &file->runs[low];

		segment->kind = run->unwritten ? SEGMENT_HOLE : SEGMENT_DATA;
		segment->physical = run->physical + (logical - run->logical);
		segment->blocks = run->logical + run->blocks - logical;
		return;
	}
	segment->kind = file->map_complete ? SEGMENT_HOLE : SEGMENT_UNKNOWN;
	segment->physical = 0;
	segment->blocks = (low < file->count ? file->runs[low].logical : UINT64_MAX) - logical;
}

/* Past a map that could not be read whole each block is asked of libext2fs on its own:
 * another path through the extent tree may still lead to it. */
static int map_one_block(struct ext_file *file, uint64_t logical, struct segment *segment)
{
	blk64_t physical = 0;
	int flags = 0;
	errcode_t code = ext2fs_bmap2(file->ext->fs, file->ino, small(&file->inode), NULL, 0,
	    logical, &flags, &physical);

	if (code != 0) {
		errno = EIO;
		set_error(file->ext, "unable to locate block %llu of inode %u: %s",
		    (unsigned long long)logical, file->ino, error_message(code));
		return -1;
	}
	segment->kind = physical == 0 || (flags & BMAP_RET_UNINIT) ? SEGMENT_HOLE : SEGMENT_DATA;
	segment->physical = physical;
	segment->blocks = 1;
	return 0;
}

static ssize_t read_device(struct ext_tree *ext, char *buffer, size_t size, uint64_t block,
    uint64_t within)
{
	uint64_t block_size = ext->fs->blocksize;
	uint64_t last = block + (within + size - 1) / block_size;
	uint64_t position = block * block_size + within;
	size_t done = 0;

	if (last >= ext2fs_blocks_count(ext->fs->super) || last < block) {
		errno = EIO;
		set_error(ext, "unable to read block %llu: it lies outside the file system",
		    (unsigned long long)last);
		return -1;
	}
	while (done < size) {
		ssize_t got = pread(ext->fd, buffer + done, size - done, (off_t)(position + done));

		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0) {
			errno = got == 0 ? EIO : errno;
			set_error(ext, "unable to read %s at byte %llu: %s", ext->device,
			    (unsigned long long)(position + done), err_text(errno));
			return -1;
		}
		done += (size_t)got;
	}
	return (ssize_t)done;
}

/* Reads from OFFSET to the end of the segment there, at most SIZE bytes: how many were
 * read, or -1 with errno. */
static ssize_t read_segment(struct ext_file *file, char *buffer, size_t size, uint64_t offset)
{
	uint64_t block_size = file->ext->fs->blocksize;
	uint64_t logical = offset / block_size, within = offset % block_size;
	struct segment segment;

	segment_at(file, logical, &segment);
	if (segment.kind == SEGMENT_UNKNOWN && map_one_block(file, logical, &segment) != 0)
		return -1;
	if (segment.blocks < (within + size + block_size - 1) / block_size)
		size = (size_t)(segment.blocks * block_size - within);
	if (segment.kind == SEGMENT_HOLE) {
		memset(buffer, 0, size);
		return (ssize_t)size;
	}
	return read_device(file->ext, buffer, size, segment.physical, within);
}

/* Bytes past the inline data (a corrupt size) read as zeros, as a hole would. */
static ssize_t read_inline(struct ext_file *file, char *buffer, size_t size, uint64_t offset)
{
	size_t copied = 0;

	if (offset < file->inline_size) {
		copied = file->inline_size - (size_t)offset;
		copied = copied < size ? copied : size;
		memcpy(buffer, file->inline_data + offset, copied);
	}
	memset(buffer + copied, 0, size - copied);
	return (ssize_t)size;
}

static ssize_t ext_pread(struct fstree_file *handle, void *buffer, size_t size, uint64_t offset)
{
	struct ext_file *file = file_of(handle);
	size_t done = 0;

	if (offset >= file->size)
		return 0;
	if (size > file->size - offset)
		size = (size_t)(file->size - offset);
	if (size > SSIZE_MAX)
		size = SSIZE_MAX;
	if (file->inline_data != NULL)
		return read_inline(file, buffer, size, offset);
	while (done < size) {
		ssize_t got = read_segment(file, (char *)buffer + done, size - done, offset + done);

		if (got < 0)
			return -1;
		done += (size_t)got;
	}
	return (ssize_t)done;
}

/* Unknown blocks count as data: reading them is how they are found to fail. */
static int ext_data(struct fstree_file *handle, uint64_t offset, uint64_t *start,
    uint64_t *end)
{
	struct ext_file *file = file_of(handle);
	uint64_t block_size = file->ext->fs->blocksize, logical, last;
	struct segment segment;

	if (file->inline_data != NULL && offset < file->inline_size) {
		*start = offset;
		*end = file->inline_size;
		return 0;
	}
	if (offset >= file->size || file->inline_data != NULL)
		return 1;
	logical = offset / block_size;
	last = (file->size - 1) / block_size;
	for (segment_at(file, logical, &segment); segment.kind == SEGMENT_HOLE;
	    segment_at(file, logical, &segment)) {
		if (segment.blocks > last - logical)
			return 1;
		logical += segment.blocks;
	}
	*start = logical * block_size > offset ? logical * block_size : offset;
	for (; segment.kind != SEGMENT_HOLE; segment_at(file, logical, &segment)) {
		if (segment.blocks > last - logical) {
			*end = file->size;
			return 0;
		}
		logical += segment.blocks;
	}
	*end = logical * block_size;
	return 0;
}

/* ---- extended attributes ---- */

struct xattr_list {
	struct ext2_xattr_handle *handle;
	struct fstree_xattr *items;
	size_t count, capacity;
	errcode_t code;
};

static int is_acl(const char *name)
{
	return strcmp(name, "system.posix_acl_access") == 0
	    || strcmp(name, "system.posix_acl_default") == 0;
}

/* What the kernel lists: libext2fs also hands out the inline data ("system.data") and
 * prefixes it does not know (the encryption context) bare. */
static int kernel_lists(const char *name)
{
	return strncmp(name, "user.", 5) == 0 || strncmp(name, "trusted.", 8) == 0
	    || strncmp(name, "security.", 9) == 0 || is_acl(name);
}

static errcode_t xattr_add(struct xattr_list *list, const char *name, const void *value,
    size_t size)
{
	struct fstree_xattr *item;

	if (list->count == list->capacity) {
		size_t capacity = list->capacity ? 2 * list->capacity : 8;
		struct fstree_xattr *bigger = realloc(list->items, capacity * sizeof *bigger);

		if (bigger == NULL)
			return EXT2_ET_NO_MEMORY;
		list->items = bigger;
		list->capacity = capacity;
	}
	item = &list->items[list->count];
	item->name = strdup(name);
	item->value = malloc(size ? size : 1);
	item->size = size;
	list->count++;
	if (item->name == NULL || item->value == NULL)
		return EXT2_ET_NO_MEMORY;
	memcpy(item->value, value, size);
	return 0;
}

/* libext2fs gives 0 as the id of the entries that name nobody (the owner, the group
 * owner, the mask, others); the kernel gives ACL_UNDEFINED_ID, and the caller wants the
 * kernel's bytes. Entries are 8 bytes (tag, permissions, id) after a 4-byte version. */
static void undefined_acl_ids(unsigned char *value, size_t size)
{
	enum { TAG_USER = 0x02, TAG_GROUP = 0x08 };
	size_t at;

	for (at = 4; at + 8 <= size; at += 8) {
		unsigned tag = value[at] | (unsigned)value[at + 1] << 8;

		if (tag != TAG_USER && tag != TAG_GROUP)
			memset(value + at + 4, 0xff, 4);
	}
}

/* The iteration hands out values as stored; ACLs are stored in ext4's compact form, and
 * only ext2fs_xattr_get converts them to the kernel's (what lgetxattr returns). */
static int collect_xattr(char *name, char *value, size_t size, void *data)
{
	struct xattr_list *list = data;
	void *converted = NULL;
	size_t converted_size = 0;

	if (!kernel_lists(name))
		return 0;
	if (!is_acl(name)) {
		list->code = xattr_add(list, name, value, size);
		return list->code ? XATTR_ABORT : 0;
	}
	list->code = ext2fs_xattr_get(list->handle, name, &converted, &converted_size);
	if (list->code == 0) {
		undefined_acl_ids(converted, converted_size);
		list->code = xattr_add(list, name, converted, converted_size);
	}
	ext2fs_free_mem(&converted);
	return list->code ? XATTR_ABORT : 0;
}

static errcode_t read_xattrs(ext2_filsys fs, ext2_ino_t ino, struct xattr_list *list)
{
	errcode_t code = ext2fs_xattrs_open(fs, ino, &list->handle);

	/* A file system without the feature has no attributes to read. */
	if (code == EXT2_ET_MISSING_EA_FEATURE)
		return 0;
	if (code == 0)
		code = ext2fs_xattrs_read(list->handle);
	if (code == 0)
		code = ext2fs_xattrs_iterate(list->handle, collect_xattr, list);
	if (code == 0)
		code = list->code;
	if (list->handle != NULL)
		ext2fs_xattrs_close(&list->handle);
	return code;
}

static int ext_xattrs(struct fstree *tree, const char *path, uint64_t inode,
    struct fstree_xattr **items, size_t *count)
{
	struct ext_tree *ext = ext_of(tree);
	struct xattr_list list = { 0 };
	errcode_t code = EXT2_ET_BAD_INODE_NUM;

	*items = NULL;
	*count = 0;
	if (valid_inode_number(ext->fs, inode))
		code = read_xattrs(ext->fs, (ext2_ino_t)inode, &list);
	if (code != 0) {
		fstree_xattrs_free(list.items, list.count);
		errno = errno_of(code);
		set_error(ext, "unable to read the extended attributes of %s (inode %llu): %s",
		    path, (unsigned long long)inode, error_message(code));
		return -1;
	}
	*items = list.items;
	*count = list.count;
	return 0;
}

/* ---- opening and releasing ---- */

static void ext_release(struct fstree *tree)
{
	struct ext_tree *ext = ext_of(tree);

	if (ext->fd >= 0)
		close(ext->fd);
	if (ext->fs != NULL)
		ext2fs_close_free(&ext->fs);
	free(ext->device);
	free(ext);
}

static const struct fstree_ops ext_ops = {
	.walk = ext_walk,
	.open = ext_open,
	.pread = ext_pread,
	.data = ext_data,
	.close = ext_close,
	.xattrs = ext_xattrs,
	.release = ext_release,
};

static void describe(struct ext_tree *ext, unsigned long superblock)
{
	struct ext2_super_block *super = ext->fs->super;
	char backup[64] = "", journal[64] = "";

	if (superblock != 0)
		snprintf(backup, sizeof backup, " (backup superblock %lu)", superblock);
	if (super->s_feature_incompat & EXT3_FEATURE_INCOMPAT_RECOVER)
		snprintf(journal, sizeof journal, " (journal not replayed)");
	snprintf(ext->tree.description, sizeof ext->tree.description,
	    "%s on %s read directly with libext2fs%s%s", extfs_type(super), ext->device, backup,
	    journal);
}

struct fstree *fstree_ext_open(const char *device, char *why, size_t why_size)
{
	struct ext_tree *ext = calloc(1, sizeof *ext);
	unsigned long superblock;
	char primary[128] = "";

	if (ext != NULL)
		ext->fd = -1;
	if (ext == NULL || (ext->device = strdup(device)) == NULL) {
		snprintf(why, why_size, "unable to open %s: out of memory", device);
		goto fail;
	}
	if (extfs_open(device, &ext->fs, &superblock, primary, sizeof primary) != 0) {
		snprintf(why, why_size, "unable to open %s with libext2fs: its primary superblock "
		    "says: %s, and no backup superblock worked either", device, primary);
		goto fail;
	}
	ext->fd = open(device, O_RDONLY | O_CLOEXEC);
	if (ext->fd < 0) {
		snprintf(why, why_size, "unable to open %s: %s", device, err_text(errno));
		goto fail;
	}
	/* Readahead would stretch each read of a bad area into retries of its neighbours. */
	posix_fadvise(ext->fd, 0, 0, POSIX_FADV_RANDOM);
	ext->tree.ops = &ext_ops;
	ext->tree.block_size = ext->fs->blocksize;
	ext->tree.capacity = ext2fs_blocks_count(ext->fs->super) * (uint64_t)ext->fs->blocksize;
	describe(ext, superblock);
	return &ext->tree;
fail:
	if (ext != NULL)
		ext_release(&ext->tree);
	return NULL;
}
