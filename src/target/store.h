/* store.h: a target as `rescue image` and `rescue verify` use it: one image written at
 * positions, and small whole files beside it (the map), whatever the scheme.
 *
 *   file://  (and nfs://, smb:// once mounted)  pwrite/pread in the target directory
 *   ssh://   SFTP, the subsystem of every stock OpenSSH server, through dbclient
 *   nbd://   the export is the image; the map lives in the export's last 1 MiB
 *   tcp://   a plain stream: positions must follow each other, nothing is read back
 *
 * The image is NAME.img and its map NAME.map in the target's directory.
 *
 * Writes may be asynchronous: store_pwrite returns once the store has taken the data; the
 * store keeps every write until the receiver acknowledged it and sends it again after a
 * reconnect. store_flush returns once everything written so far is acknowledged (and on
 * stable storage where the scheme can say so): only then may a map claiming those bytes
 * be saved. store_replace is atomic: the old content stays readable as NAME.bak, the new
 * one is written under a temporary name and renamed, so NAME is always whole.
 *
 * Failures return -1; store_error() then says what failed, naming the target in its
 * display form (never a password), and store_transient() whether reconnecting may help
 * (connection lost, timeout) or not (no such directory, permission, full, login refused).
 */
#ifndef RESCUE_STORE_H
#define RESCUE_STORE_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "target/target.h"

struct store;

/* One piece of a file being read: 0 to go on, nonzero to stop the reading. */
typedef int store_piece_fn(void *context, const char *data, size_t size);
/* The next piece of a file being written: its length with *PIECE pointing at it (valid
 * until the next call), 0 at the end. */
typedef size_t store_producer_fn(void *context, const char **piece);

struct store_ops {
	const char *scheme;
	/* Connects and checks the target's directory; 0 or -1 (store_fail called). */
	int (*connect)(struct store *store);
	/* Drops the connection without waiting for anything (after a failure). */
	void (*disconnect)(struct store *store);
	/* Opens NAME.img for reading and writing, created when missing; its size now. */
	int (*image_open)(struct store *store, uint64_t *size);
	int (*pwrite)(struct store *store, const void *data, size_t size, uint64_t position);
	ssize_t (*pread)(struct store *store, void *data, size_t size, uint64_t position);
	int (*flush)(struct store *store);
	/* The whole file NAME in the target directory: 0 with a malloc'd buffer (NUL added),
	 * 1 when it does not exist, -1. */
	int (*get)(struct store *store, const char *name, char **data, size_t *size);
	int (*replace)(struct store *store, const char *name, const void *data, size_t size);
	/* The file NAME handed to PIECE a bounded piece at a time, in order (store_get_pieces);
	 * NULL: the scheme's files are small (nbd:// keeps the map in 1 MiB), get is used. */
	int (*get_pieces)(struct store *store, const char *name, store_piece_fn *piece,
	    void *context);
	/* store_replace with the content made a piece at a time by PRODUCE; NULL: the pieces
	 * are gathered and replace is used. */
	int (*replace_pieces)(struct store *store, const char *name, store_producer_fn *produce,
	    void *context);
	/* Writes SIZE bytes at POSITION of the file NAME in the target directory (created
	 * when missing), synced; done again after a lost reply it writes the same bytes.
	 * file and ssh only: a log that grows (carve's page index). */
	int (*write_at)(struct store *store, const char *name, const void *data, size_t size,
	    uint64_t position);
	/* The size of the file NAME in the target directory: 0, 1 when it does not exist, -1.
	 * file and ssh only. */
	int (*size_of)(struct store *store, const char *name, uint64_t *size);
	/* Renames the file OLD in the target directory to NEW (which must not exist). Done
	 * again after a lost reply, it succeeds when OLD is gone and NEW is there. file and
	 * ssh only (store_image_open_named's schemes). */
	int (*rename)(struct store *store, const char *old_name, const char *new_name);
	/* Makes the directory NAME in the target directory; 0 also when it is there
	 * already. file and ssh only. */
	int (*mkdir)(struct store *store, const char *name);
	/* Free bytes where the image goes; 1 when the scheme cannot tell. */
	int (*free_space)(struct store *store, uint64_t *bytes);
	/* After a reconnect: sends again whatever was not acknowledged. */
	int (*resend)(struct store *store);
	void (*release)(struct store *store);	/* frees the backend's state */
};

struct store {
	const struct store_ops *ops;
	struct target target;
	char name[256];			/* NAME of NAME.img and NAME.map */
	char image_name[300];		/* the file the image_* calls write: NAME.img unless
					 * store_image_open_named said otherwise */
	void *backend;			/* the backend's own state */
	int image_opened;		/* store_reconnect opens it again */
	uint64_t expected_size;		/* the image's size when the caller knows it before
					 * store_image_open, else 0: nbd:// checks its export */
	char error[1024];
	int transient;
};

/* Parses nothing: TARGET is parsed already. Connects; NULL with WHY on failure
 * (and *TRANSIENT telling whether trying again later may help). */
struct store *store_open(const struct target *target, const char *name, char *why,
    size_t why_size, int *transient);
void store_close(struct store *store);
/* Names the store NAME after it was opened (before its image is): NAME.img, NAME.map. */
void store_set_name(struct store *store, const char *name);

/* One attempt: disconnect, connect, reopen the image, send again what was in flight. */
int store_reconnect(struct store *store);
/* After a failed call: a permanent failure stops at once; a transient one is retried
 * (store_reconnect) with a pause that doubles up to 30 s, until the target is back (0:
 * the caller tries its call again), GIVE_UP seconds have passed (negative: never), or
 * *STOP is set; then -1 with FAILURE saying why. Each attempt is announced on stderr. */
int store_recover(struct store *store, int give_up, const volatile sig_atomic_t *stop,
    char *failure, size_t failure_size);

int store_image_open(struct store *store, uint64_t *size);
/* Finishes the file written so far (store_flush) and opens FILE in the target directory
 * in its place, for writers of several files one after another (dump's volumes, carve's
 * files). FILE may name a file in a directory below (carve's "vda.carve/jpg/f0.jpg",
 * made with store_mkdir), never one above. Only the schemes that hold files (file, nfs,
 * smb, ssh) can; the others fail. */
int store_image_open_named(struct store *store, const char *file, uint64_t *size);
/* 1 for the schemes that hold files (file, nfs, smb, ssh): the image is a file, and
 * where nothing was written past its end it reads as zeros (a hole). */
int store_holds_files(const struct store *store);
/* The image is finished (flushed): a reconnect no longer opens it again. */
void store_image_done(struct store *store);
int store_pwrite(struct store *store, const void *data, size_t size, uint64_t position);
ssize_t store_pread(struct store *store, void *data, size_t size, uint64_t position);
int store_flush(struct store *store);
int store_get(struct store *store, const char *name, char **data, size_t *size);
/* The file NAME a piece at a time (so a map of a million areas is never held as text):
 * 0 when PIECE took it all, 1 when it does not exist, 2 when PIECE stopped the reading,
 * -1 when the store failed (store_error). */
int store_get_pieces(struct store *store, const char *name, store_piece_fn *piece,
    void *context);
int store_replace(struct store *store, const char *name, const void *data, size_t size);
/* The same, the content made by PRODUCE a piece at a time and written as it comes (file
 * and ssh; the others gather it first), so a map of a million areas is never held whole
 * as text. PRODUCE is called again from its start when this is called again. */
int store_replace_pieces(struct store *store, const char *name, store_producer_fn *produce,
    void *context);
int store_rename(struct store *store, const char *old_name, const char *new_name);
/* 1 when the scheme can write into a named file at a position (store_write_at). */
int store_can_write_at(const struct store *store);
int store_write_at(struct store *store, const char *name, const void *data, size_t size,
    uint64_t position);
int store_size_of(struct store *store, const char *name, uint64_t *size);
/* The directory NAME (a relative path, no "..") in the target directory. */
int store_mkdir(struct store *store, const char *name);
int store_free_space(struct store *store, uint64_t *bytes);

const char *store_error(const struct store *store);
int store_transient(const struct store *store);

/* For backends: record what failed ("TARGET: unable to ...") and return -1. A permanent
 * failure stays whatever is tried again (no such directory, permission, full, login
 * refused); a transient one may pass after store_reconnect (connection lost, timeout). */
/* For backends: a producer handing out DATA as one piece (replace over replace_pieces). */
struct store_one_piece {
	const char *data;
	size_t size;
	int given;
};
size_t store_give_one_piece(void *context, const char **piece);
int store_fail_permanent(struct store *store, const char *format, ...)
    __attribute__((format(printf, 2, 3)));
int store_fail_transient(struct store *store, const char *format, ...)
    __attribute__((format(printf, 2, 3)));

#endif
