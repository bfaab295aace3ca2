/* source.h: the device `rescue image` reads and `rescue verify` compares against: opened
 * read-only, never written, with the identity that ties a map to it.
 *
 * A map names its source in a comment line that GNU ddrescue ignores:
 *
 *	# rescue source: vda size 67108864 sector 512 model "QEMU HARDDISK" serial "abc"
 *
 * (a partition adds `partition N`). A map is refused for a source when its size differs,
 * or when its identity line names another disk: another serial when both have one, another
 * model or partition, or, when there is no serial to compare, another name. A map without
 * the line (GNU ddrescue's) is checked by size alone.
 *
 * Reads go through the page cache unless --direct asks for O_DIRECT. Reads smaller than a
 * page (trimming and scraping, one sector at a time) always use O_DIRECT: the page cache
 * reads whole pages, so one bad sector would fail the seven good ones beside it.
 */
#ifndef RESCUE_SOURCE_H
#define RESCUE_SOURCE_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct source_identity {
	char name[NAME_MAX + 1];	/* "vda", "sda2" */
	uint64_t size;			/* bytes */
	unsigned sector_size;		/* logical sector size */
	char model[64], serial[64];	/* of the disk (of the disk holding a partition) */
	int partition;			/* the partition number, 0 for a whole disk */
};

struct source {
	struct source_identity identity;
	char path[PATH_MAX];		/* "/dev/vda" */
	char disk[NAME_MAX + 1];	/* the whole disk: "vda" for vda2 */
	dev_t rdev;
	int direct;			/* every read with O_DIRECT (--direct) */
	int fd;				/* for cluster reads: O_DIRECT with --direct */
	int direct_fd;			/* O_DIRECT, for sector reads; -1 when refused */
	void *bounce;			/* aligned buffer for O_DIRECT reads of unaligned requests */
	size_t bounce_size;
};

/* Opens OPERAND ("sda", "/dev/sda", "sda2") read-only; DIRECT: every read with O_DIRECT.
 * 0, or -1 with WHY naming the operand ("/tmp/x: not a block device"). */
int source_open(const char *operand, int direct, struct source *source, char *why,
    size_t why_size);
void source_close(struct source *source);

/* Reads SIZE bytes at POSITION; bytes read, or -1 with errno (EIO for a bad sector).
 * CONTEXT is the struct source: usable as imaging_source.read. */
ssize_t source_read(void *context, void *buffer, size_t size, uint64_t position);

/* How the identity line begins (a mapfile comment). */
#define SOURCE_IDENTITY_PREFIX "# rescue source: "

/* "# rescue source: vda size 67108864 sector 512 model \"...\" serial \"...\"" (no newline). */
void source_identity_line(const struct source_identity *identity, char *line, size_t size);

/* Finds the identity line in a map's TEXT: 1 and IDENTITY filled, 0 when there is none,
 * -1 when the line is there but malformed. */
int source_identity_parse(const char *text, struct source_identity *identity);

/* 0 when the map TEXT (of MAP_SIZE bytes of source) may resume imaging of IDENTITY; -1
 * with WHY naming both sides ("the map is of sdb (QEMU HARDDISK serial x), this is vda
 * ..."). */
int source_check_map(const struct source_identity *identity, const char *text,
    uint64_t map_size, char *why, size_t why_size);

/* A copy of the map text TEXT with the identity line of IDENTITY after its first line (any
 * older identity line dropped); malloc'd, NULL when out of memory. */
char *source_map_text(const struct source_identity *identity, const char *text,
    size_t *length);

/* 1 when the file system holding PATH lives on the same disk as SOURCE (writing an image
 * there would overwrite what is being rescued), with WHY; 0 when not or unknown. */
int source_holds_path(const struct source *source, const char *path, char *why,
    size_t why_size);

#endif
