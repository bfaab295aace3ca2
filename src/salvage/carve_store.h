/* carve_store.h: where `rescue carve` puts what it finds: a store (store.h) directory.
 *
 *	NAME.carve/TYPE/f<offset>.<ext>	each file, <offset> its first byte in the source;
 *					written as .part and renamed once whole
 *	NAME.carve.state		the scan position and every file recorded: the
 *					resume point, saved after the files it names
 *	NAME.carve.json			every file: offset, length, type, how it was
 *					delimited, validated / truncated / unvalidated,
 *					sha256, the bad sectors it crosses
 *	NAME.carve.sha256		`sha256sum -c` lines, run in the target directory
 *
 * A file already recorded, or already whole on the target under its name (written after
 * the last save, before an interruption), is never written again.
 */
#ifndef RESCUE_CARVE_STORE_H
#define RESCUE_CARVE_STORE_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "salvage/carve.h"

struct store;

/* One file in the index of what was found (the state's line, the manifest's record): 104
 * bytes on 64-bit, the sha256 as bytes; its texts are interned in the store's arena, so
 * a type, an extension or a note that many files share is held once. */
struct carve_record {
	uint64_t stream_position, source_position, length, bad_bytes;
	const char *type, *ext;
	const char *delimited;		/* "" when none */
	const char *bad_ranges;		/* "START+LENGTH,..." source positions, or "" */
	unsigned char sha256[32];
	enum carve_status status;
};

/* Distinct strings held once, in 64 KiB blocks, found again by a hash. */
struct carve_strings {
	const char **slots;		/* open addressing, a power of two */
	size_t slot_count, used;
	char *block;			/* the newest block; each starts with the previous one */
	size_t block_used, block_size;
};

struct carve_store {
	struct store *store;
	char name[256];
	char dir[300], state_name[300], json_name[300], sums_name[300];
	char identity[512];		/* the source's identity line (source.h) */
	uint64_t stream_size;		/* a state of another stream is refused */
	uint64_t position;		/* the state saved last: where the scan goes on */
	int complete;			/* it is of a finished scan */
	struct carve_record *files;	/* recorded, by stream position */
	struct carve_strings strings;	/* their texts */
	size_t count, capacity;
	size_t written, rehashed;	/* this run: files written, found whole already */
	char made[64][sizeof ((struct carve_file *)0)->type];	/* type folders made */
	size_t made_count;
	char writing[600];		/* the file being written, its final name */
	int open;
	/* Called with the position before each state is saved (the database pages'
	 * index is kept first, so that a state never names a position it lacks); a
	 * nonzero return stops the scan with out->failure set. May be NULL. */
	int (*before_save)(void *context, uint64_t position);
	void *before_save_context;
	int give_up;			/* store_recover's */
	const volatile sig_atomic_t *stop;
	char failure[1400];
};

/* NAME's file names; nothing is read or written yet. */
void carve_store_init(struct carve_store *out, struct store *store, const char *name,
    const char *identity, uint64_t stream_size);
void carve_store_free(struct carve_store *out);
/* Reads NAME.carve.state when there is one: 0 (out->position and the files set), or -1
 * with WHY (a state of another source or stream, a malformed one). */
int carve_store_load(struct carve_store *out, char *why, size_t why_size);
/* The callbacks of carve.h's output, progress left to the caller. */
void carve_store_output(struct carve_store *out, struct carve_output *output);
/* Saves the state, the JSON and the sha256 lines for everything up to POSITION. */
int carve_store_save(struct carve_store *out, uint64_t position, int complete);

/* The texts, for the tests: malloc'd, NULL when out of memory. */
char *carve_state_text(const struct carve_store *out, uint64_t position, int complete,
    size_t *size);
int carve_state_parse(struct carve_store *out, const char *text, char *why, size_t why_size);
char *carve_json_text(const struct carve_store *out, uint64_t position, int complete,
    size_t *size);
char *carve_sums_text(const struct carve_store *out, size_t *size);
/* "NAME.carve/TYPE/f<offset>.<ext>" */
void carve_file_path(const struct carve_store *out, const struct carve_file *file,
    char *path, size_t size);
void carve_record_path(const struct carve_store *out, const struct carve_record *file,
    char *path, size_t size);
const char *carve_status_name(enum carve_status status);

#endif
