/* cow.h: where a repair keeps the blocks it changes (the snapshot's copy-on-write store),
 * as given with --cow:
 *
 *   SIZE                  a file in RAM (tmpfs) of that size: 64K, 512M, 2G (K, M, G, T
 *                         are powers of 1024; a plain number is bytes)
 *   file:///path          a file there (a directory gets NAME.cow in it); as large as the
 *                         free space, or file:///path?size=SIZE
 *   nbd://host[:port][/export]   a network block device (busybox nbd-client)
 */
#ifndef RESCUE_COW_H
#define RESCUE_COW_H

#include <limits.h>
#include <stddef.h>

enum cow_kind { COW_RAM, COW_FILE, COW_NBD };

enum {
	COW_MIN_SIZE = 64 << 10,	/* 16 chunks of 4 KiB: less cannot hold an e2fsck run */
	COW_CHUNK_SIZE = 4096,
	NBD_DEFAULT_PORT = 10809,
};

#define COW_DEFAULT_CAP (4ULL << 30)	/* the default RAM store is at most this big */

struct cow_spec {
	enum cow_kind kind;
	unsigned long long size;	/* bytes; 0: the default for the kind */
	char path[PATH_MAX];		/* COW_FILE */
	char host[256];			/* COW_NBD */
	unsigned port;
	char export_name[256];
};

/* 0 when TEXT is a size; -1 otherwise. */
int size_parse(const char *text, unsigned long long *bytes);
/* "64.0 KiB", "2.0 GiB": sizes as the messages show them. */
void size_format(unsigned long long bytes, char *text, size_t size);
/* 0 when TEXT is one of the forms above; else -1 with WHY naming the problem. */
int cow_parse(const char *text, struct cow_spec *spec, char *why, size_t why_size);
/* The default RAM store: half the available memory, no more than the tmpfs holds (less a
 * margin for the rest of the appliance) and no more than COW_DEFAULT_CAP; 4 KiB-aligned. */
unsigned long long cow_default_size(unsigned long long mem_available,
    unsigned long long tmpfs_free);

#endif
