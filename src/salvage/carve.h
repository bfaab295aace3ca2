/* carve.h: signature carving: files found in raw bytes by their own structure.
 *
 * The scan reads a stream (a device range, or the free blocks of a file system laid end to
 * end) in large reads through a window: STEP bytes are searched for signatures, LOOKAHEAD
 * more are there so that a candidate can be validated without reading again. Each
 * candidate goes to its format's validator, which takes a buffer and its length and says
 * where the file ends and how it knows (a marker, a length field, a table), or why it is
 * not one. The scan keeps the window and the index of files found, never file data beyond
 * the window: a file is copied to the output by reading its bytes from the source again,
 * piece by piece, whatever its size.
 *
 * Unreadable sectors read as zeros; each is read once (a failed large read is split into
 * sectors), remembered, never read again, and named in every file that crosses it.
 *
 * Detectors are a list of struct carve_format: the built-in validators and the rules
 * loaded at run time (carve_rules.c) share it, and another detector (database pages)
 * plugs in the same way: it is handed the window, a buffer at a stream position.
 */
#ifndef RESCUE_CARVE_H
#define RESCUE_CARVE_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

enum carve_verdict {
	CARVE_NOT = 0,		/* not a file of this format (result.reason says why) */
	CARVE_FOUND = 1,	/* result.length and result.status say what was found */
	CARVE_MORE = 2,		/* the structure goes on past the buffer: give more bytes */
};

enum carve_status {
	CARVE_VALIDATED,	/* the structure says where the file ends (walked to its end
				 * marker, or a header length checked against the rest) */
	CARVE_TRUNCATED,	/* the structure breaks off (end of the data, a bad field) */
	CARVE_UNVALIDATED,	/* the length was chosen without the structure (a rule's
				 * footer or maximum size) */
};

struct carve_result {
	uint64_t length;		/* bytes of the file from its first */
	enum carve_status status;
	const char *delimited;		/* how the end was chosen: "EOI marker" */
	const char *type, *ext;		/* set by a validator that names the format by its
					 * content (a ZIP that is a .docx); else the format's */
	uint64_t checked;		/* when the length comes from a header: the bytes
					 * whose structure was checked (0: all of them). The
					 * scan looks for more files after these only, so a
					 * false header cannot hide the rest of the disk */
	char reason[96];		/* CARVE_NOT: why */
	/* A file joined from two pieces (carve_join.c): the first piece's bytes, and where
	 * the second starts, from the candidate; 0 for a file in one piece. */
	uint64_t first_length, second_offset;
};

struct carve_format;
struct carve_join;
/* Looks for the rest of a candidate whose structure broke off (see struct carve_join):
 * 1 when found and confirmed by the structure (the join's results filled), else 0. */
typedef int (*carve_joiner)(struct carve_join *join);

/* A candidate too large for the validators' buffer, read piece by piece: SIZE bytes at
 * OFFSET from its start into BUFFER; returns the bytes read, fewer at the stream's end. */
struct carve_reader {
	size_t (*read)(struct carve_reader *reader, void *buffer, size_t size, uint64_t offset);
	uint64_t available;		/* bytes from the candidate to the stream's end */
};
/* Walks a large candidate's structure by reading its headers only (each into a buffer
 * of its own): CARVE_FOUND or CARVE_NOT, as a validator at the end of the data. */
typedef int (*carve_walker)(const struct carve_format *format, struct carve_reader *reader,
    struct carve_result *result);

/* DATA[0, SIZE) starts at a candidate; AT_END: nothing follows in the stream (the data
 * cannot grow). Reads DATA[0, SIZE) only. */
typedef int (*carve_validator)(const struct carve_format *format, const unsigned char *data,
    size_t size, int at_end, struct carve_result *result);

struct carve_format {
	const char *type;		/* the folder on the target and the name in --types */
	const char *ext;		/* the file name's extension */
	const char *description;
	const unsigned char *magic;	/* at MAGIC_OFFSET of a candidate */
	size_t magic_size, magic_offset;
	int byte_level;			/* tried at every byte, not only at sector starts */
	uint64_t max_size;		/* a longer file is cut here (truncated) */
	carve_validator validate;
	/* When set, says whether DATA[0, SIZE) starts a candidate, instead of MAGIC. */
	int (*match)(const struct carve_format *format, const unsigned char *data, size_t size);
	/* For a file that is still open at the end of validate_max bytes: its headers
	 * walked to the end (tar, ISO BMFF); NULL: such a file is truncated there. */
	carve_walker walk;
	/* For a truncated candidate: finds where its rest continues (a file in two pieces);
	 * NULL: such a file stays truncated. */
	carve_joiner join;
	const void *context;		/* the rule, for rule formats */
	int builtin;
	/* A byte-level format without a MAGIC at offset 0: the bytes its candidates may
	 * start with (a rule's first byte in both cases); none: any byte. */
	unsigned char starts[2];
	size_t start_count;
};

/* A file in two pieces, as a nearly full file system leaves one: its first piece ends
 * where its structure broke off, the rest starts at a block boundary a little further on,
 * after noise or another file. A joiner walks the first piece to learn where the split
 * may lie, looks through the gap for a block whose bytes continue the structure (a CRC
 * over the join, Huffman-coded data that decodes on), and hands each such pair of split
 * and resume to carve_join_try, which reads the two pieces as one file and runs the
 * format's own validator over it: only a file that validates whole is joined. */
struct carve_join {
	const struct carve_format *format;
	struct carve_reader *reader;	/* the candidate from its first byte */
	uint64_t broke_at;		/* where the walk of the first piece broke off */
	unsigned block;			/* pieces start at multiples of this from the candidate */
	uint64_t gap;			/* the second piece starts at most this far after the
					 * first one's end */
	unsigned char *scratch;		/* the joined file is read into this to be validated */
	size_t scratch_size;		/* (so a joined file is at most this long) */
	/* When joined: */
	uint64_t first_length, second_offset, length;
	const char *how;		/* what confirmed the join */
	const char *type, *ext;		/* the validator's naming by content */
	unsigned tries;			/* joined files read and validated */
};

/* Reads the candidate's [0, SPLIT) and [RESUME, ...) as one file and validates it: 1 and
 * the join's results filled when it validates to an end past SPLIT, else 0. */
int carve_join_try(struct carve_join *join, uint64_t split, uint64_t resume, const char *how);
int carve_join_png(struct carve_join *join);
/* Whether a PNG chunk's type is four ASCII letters. */
int carve_png_type_ok(const unsigned char *type);
int carve_join_zip(struct carve_join *join);
int carve_join_jpeg(struct carve_join *join);

/* Every built-in format, in the order they are tried; *COUNT gets how many. */
const struct carve_format *const *carve_builtin_formats(size_t *count);

/* A piece of the stream: LENGTH bytes at SOURCE_POSITION of the device. */
struct carve_extent {
	uint64_t source_position, length;
};

struct carve_bad {
	uint64_t position, length;	/* source bytes */
};

struct carve_file {
	uint64_t stream_position;	/* where it starts in the stream */
	uint64_t source_position;	/* and in the source: its name, f<this>.<ext> */
	uint64_t length;
	char type[24], ext[16];
	enum carve_status status;
	char delimited[160];
	/* Joined from two pieces: the first's bytes, and the stream position of the second
	 * (which holds the rest); first_length 0 for a file in one piece. */
	uint64_t first_length, second_position;
	char sha256[65];
	uint64_t bad_bytes;		/* unreadable bytes inside it (zeros in the file) */
	char bad_ranges[160];		/* "START+LENGTH,..." source positions, cut with "..." */
};

/* Where found files go; every call returns 0, or -1 to stop the scan (WHY filled). */
struct carve_output {
	void *context;
	/* A file begins: nonzero SKIP when it is on the output already (resume). */
	int (*begin)(void *context, const struct carve_file *file, int *skip);
	int (*write)(void *context, const void *data, size_t size, uint64_t offset);
	/* FILE is whole (its sha256 and bad ranges are filled). */
	int (*end)(void *context, const struct carve_file *file);
	/* Everything before stream POSITION is carved and the output holds it. */
	int (*checkpoint)(void *context, uint64_t position);
	void (*progress)(void *context, uint64_t position, int force);
	void *progress_context;
};

typedef ssize_t (*carve_read_fn)(void *context, void *buffer, size_t size, uint64_t position);

/* Another detector that wants the raw bytes rather than files (database pages): it is
 * handed each window's part the scan is responsible for, in stream order, before the
 * formats look at it. Bytes inside a file carved past the window's end are not shown.
 * Returns 0, or -1 to stop the scan (FAILURE filled). */
struct carve_observer {
	int (*window)(void *context, const unsigned char *data, size_t size, uint64_t position,
	    char *failure, size_t failure_size);
	void *context;
};

struct carve_options {
	const struct carve_format *const *formats;	/* the detectors in use */
	size_t format_count;
	const struct carve_observer *observers;		/* and those of raw bytes */
	size_t observer_count;
	unsigned sector_size;		/* candidates start at multiples of this */
	size_t step, lookahead;		/* the window; 0: the defaults */
	size_t validate_max;		/* bytes a walking validator may be given at most */
	double checkpoint_seconds;	/* 0: the default */
	uint64_t join_gap;		/* how far after a truncated file's first piece its rest
					 * is looked for; 0: files are not joined */
};

struct carve_scan {
	struct carve_options options;
	carve_read_fn read;
	void *read_context;
	const struct carve_extent *extents;	/* the stream, in order */
	size_t extent_count;
	uint64_t stream_size;
	uint64_t position;		/* scanned up to here */
	struct carve_bad *bad;		/* unreadable source ranges, in order of finding */
	size_t bad_count, bad_capacity;
	size_t *found_by_format;	/* files found, per entry of options.formats */
	unsigned char *sector;		/* one sector, for reads of part of one */
	unsigned char may_start[256];	/* a byte-level candidate may start with this byte */
	int byte_level;			/* some format is tried at every byte */
	size_t files, truncated, joined;
	/* Second pieces of joined files still ahead: the scan jumps over them. */
	struct carve_bad claimed[16];
	size_t claimed_count;
	uint64_t bytes_read;
	const volatile sig_atomic_t *stop;
	char failure[512];
};

enum { CARVE_STEP = 4 << 20, CARVE_LOOKAHEAD = 8 << 20, CARVE_VALIDATE_MAX = 32 << 20,
	CARVE_JOIN_GAP = 8 << 20, CARVE_JOIN_BLOCK = 4096 };

/* Prepares a scan of the stream EXTENTS through READ. 0, or -1 (out of memory). */
int carve_scan_init(struct carve_scan *scan, const struct carve_options *options,
    carve_read_fn read, void *read_context, const struct carve_extent *extents,
    size_t extent_count);
void carve_scan_free(struct carve_scan *scan);
/* Scans from scan->position to the end: 0 done, 1 stopped by *STOP (position saved by
 * checkpoint), -1 the output failed (scan->failure). */
int carve_run(struct carve_scan *scan, struct carve_output *output);

/* The source position of stream position POSITION. */
uint64_t carve_source_position(const struct carve_scan *scan, uint64_t position);

/* Whether DATA[0, SIZE) starts with FORMAT's signature. */
int carve_matches(const struct carve_format *format, const unsigned char *data, size_t size);
/* A candidate's validation, as the scan does it: for the tests and the fuzzers. */
int carve_validate(const struct carve_format *format, const unsigned char *data, size_t size,
    int at_end, struct carve_result *result);

/* Looks a format up by type or extension in FORMATS; NULL when none has it. */
const struct carve_format *carve_format_find(const struct carve_format *const *formats,
    size_t count, const char *name);

/* Helpers for the validators. */
static inline uint32_t carve_be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
static inline uint16_t carve_be16(const unsigned char *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}
static inline uint32_t carve_le32(const unsigned char *p)
{
	return (uint32_t)p[3] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[1] << 8 | p[0];
}
static inline uint16_t carve_le16(const unsigned char *p)
{
	return (uint16_t)(p[1] << 8 | p[0]);
}
int carve_not(struct carve_result *result, const char *reason);
int carve_found(struct carve_result *result, uint64_t length, enum carve_status status,
    const char *delimited);
/* The data ran out inside the structure: more when there may be more, else truncated. */
int carve_ran_out(struct carve_result *result, size_t size, int at_end, const char *delimited);

#endif
