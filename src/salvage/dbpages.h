/* dbpages.h: database pages collected from a scan of raw disk space and written back as
 * the files they came from: InnoDB tablespaces (.ibd) and PostgreSQL relation files.
 *
 * The scan (rescue carve) hands every buffer it reads to dbpages_feed, in any chunking;
 * pages are looked for at every 512-byte-aligned source offset (file systems place file
 * blocks at least that aligned), InnoDB at 16 KiB first and then 4, 8, 32 and 64 KiB,
 * PostgreSQL at 8 KiB. A page that starts in one buffer and ends in the next is found when
 * the next buffer continues at the following offset (the last 64 KiB are kept for that);
 * dbpages_write looks at what is left at the end.
 *
 * Memory holds an index of where the pages are (engine, space id or tuple shape, page
 * number, LSN, source offset: 40 bytes a page), never the pages: dbpages_write reads each
 * chosen page again from the source by its offset, checks it again, writes it, and reads
 * the written file back to check every page it claims.
 *
 * What is written, with PREFIX put before every name (the caller's folder or name):
 *
 *   InnoDB      space-N.ibd, or DB.TABLE.ibd when a SYS_TABLES page found in the same
 *               scan names space N: every page of space id N at page number x page
 *               size, the copy with the highest LSN where there are several (but never
 *               an index page of another tablespace with the same space id: its index
 *               ids differ from the roots', page 3 on), as long as page 0's FSP header
 *               declares (up to the highest page found when page 0 is missing), pages
 *               never found left as zeros; pages page 0 calls never used are not
 *               counted missing.
 *   PostgreSQL  pg-Aatts, pg-Aatts-2, ... (.1, .2, ... past 1 GiB, as PostgreSQL names
 *               segments): heap pages grouped by the attribute count A of their tuples,
 *               at their block number, the highest-LSN copy of each block; blocks never
 *               found are left as zeros (PostgreSQL reads those as empty pages). Tables
 *               of the same shape are told apart by their tuples' transaction ids: copies
 *               of a block whose xmin ranges do not overlap are different tables' pages,
 *               each joined to the relation (-2, -3 ...) whose xmin range is nearest (a
 *               heuristic: tables filled by interleaved transactions may be mixed); an
 *               older copy with no tuple in common with the page written is counted as
 *               another relation's, not written. TOAST pages (every tuple a chunk,
 *               one at least full: dbpage_pg.h) are their own group, pg-toast,
 *               pg-toast-2 ..., each heap relation linked to the one holding the value
 *               ids its TOAST pointers name (dbpages_toast.c). Btree index pages of
 *               clusters with data checksums are placed by their links (metapage to
 *               root, downlinks checked by high keys, agreeing sibling links) and
 *               written as pg-btree, pg-btree-2 ... (dbpages_btree.c); other index
 *               pages are counted, not written (rebuild the indexes).
 *   report.json, report.txt   per tablespace or relation: pages found against declared,
 *               the missing page numbers, the LSN range, wrong-checksum pages, copies
 *               superseded by a higher LSN.
 *   RESTORE.md  how to bring each one back into a server, and the SQLite files the
 *               same scan carved (output->sqlite_folder) with the sqlite3 shell.
 */
#ifndef RESCUE_DBPAGES_H
#define RESCUE_DBPAGES_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "target/store.h"

enum dbpages_engine {
	DBPAGES_INNODB = 1,
	DBPAGES_PG = 2,
};

/* Where pages are looked for: every this many bytes of source offset. */
enum { DBPAGES_ALIGN = 512 };

struct dbpages;

/* ENGINES: DBPAGES_INNODB, DBPAGES_PG or both. NULL when out of memory. */
struct dbpages *dbpages_open(unsigned engines);
void dbpages_close(struct dbpages *pages);

/* Looks for pages in the LENGTH bytes at BUFFER, which are the source's bytes from
 * SOURCE_OFFSET on. 0, or -1 when out of memory (the index could not grow). */
int dbpages_feed(struct dbpages *pages, const unsigned char *buffer, size_t length,
    uint64_t source_offset);

/* How many valid pages the index holds so far (for progress lines). */
uint64_t dbpages_found(const struct dbpages *pages);

/* The index kept beside a scan's state so that an interrupted scan goes on where it
 * stopped, as records in one file on the target: a run's first save writes the whole
 * index as one record (the file replaced), each later save only what is new since (the
 * pages found, a few counters and the carried bytes), appended. SAVED says what the file
 * holds: zeroed before a run's first save, updated by dbpages_mark_saved once a record
 * is on the target. The layout is this build's own: only the same program reads it. */
struct dbpages_saved {
	uint64_t entries, heads, tails, btree;	/* what the file's records cover */
	uint64_t bytes;			/* the file's length: where the next record goes */
};

/* The record to write for everything fed so far, with POSITION (the caller's resume
 * point, matched on loading): the whole index when SAVED is zeroed (replace the file),
 * else what is new since SAVED (append at SAVED->bytes). Malloc'd (SIZE set), NULL when
 * out of memory. */
void *dbpages_save(const struct dbpages *pages, uint64_t position,
    const struct dbpages_saved *since, size_t *size);

/* The record of SIZE bytes dbpages_save made is on the target: SAVED follows it. */
void dbpages_mark_saved(const struct dbpages *pages, struct dbpages_saved *saved,
    size_t size);

/* Fills PAGES (just opened, nothing fed) from an index file: its records in order up to
 * the one saved at POSITION (later ones are ignored), 0; -1 when no record at POSITION is
 * reached whole (DATA, SIZE bytes, is never trusted: a record cut short, damaged, or not
 * following the one before ends the file there). After -1 close PAGES. */
int dbpages_load(struct dbpages *pages, const void *data, size_t size, uint64_t position);

/* Reads SIZE bytes of the source at POSITION: bytes read, or -1 with errno. source_read
 * fits. */
typedef ssize_t (*dbpages_read_fn)(void *context, void *buffer, size_t size, uint64_t position);

struct dbpages_output {
	dbpages_read_fn read;		/* the source the pages were fed from */
	void *source;
	struct store *store;		/* a store that holds files (store_holds_files) */
	const char *prefix;		/* put before every file name: "vda.db-" */
	int give_up;			/* seconds store_recover retries; negative: never */
	const volatile sig_atomic_t *stop;	/* may be NULL */
	FILE *log;			/* one line per file written; may be NULL */
	const char *sqlite_folder;	/* where the same scan put whole SQLite files
					 * ("vda.carve/sqlite/"): RESTORE.md says how to
					 * recover them; NULL when it found none */
};

struct dbpages_summary {
	unsigned tablespaces;		/* InnoDB files written */
	unsigned relations;		/* PostgreSQL files written (segments not counted) */
	unsigned indexes;		/* PostgreSQL btree indexes written (pg-btree ...) */
	uint64_t pages_written;		/* pages found, re-read, written and read back */
	uint64_t pages_missing;		/* declared (or below the highest found) but never found */
	uint64_t index_pages_missing;	/* the same in btree indexes: not in pages_missing
					 * (nor the exit status): indexes are rebuilt */
	uint64_t bad_checksums;		/* pages with a header and a wrong checksum, never used */
	uint64_t unreadable;		/* pages the source could not read again at write time */
	char failure[1024];		/* why dbpages_write returned -1 */
};

/* Writes every tablespace and relation found, then the reports and RESTORE.md. Call it
 * once, after the last dbpages_feed, when the caller has no file of the store open: it
 * opens each file in turn with store_image_open_named (the schemes that hold files:
 * file, nfs, smb, ssh; others fail with the store's message) and leaves none open. A
 * transient store failure is retried with store_recover (GIVE_UP, STOP). 0 when every
 * file is complete, 1 when pages are missing (or could not be read again; holes in btree
 * indexes are not counted: index_pages_missing), -1 when the
 * store failed or memory ran out (SUMMARY->failure says how). */
int dbpages_write(struct dbpages *pages, const struct dbpages_output *output,
    struct dbpages_summary *summary);

#endif
