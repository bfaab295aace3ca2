/* dbpage_innodb.h: recognising one InnoDB page in a buffer, as MariaDB 10.x and MySQL
 * 5.7/8.0 write them, for carving tablespaces back out of raw disk space.
 *
 * A page is accepted only when its checksum is valid in one of the three formats:
 *
 *   full_crc32  MariaDB 10.5+ default: the last 4 bytes are the CRC-32C of all bytes
 *               before them; bytes [size-8, size-4) repeat the low 32 bits of the LSN.
 *   crc32       MySQL 5.7+ and MariaDB before 10.5: bytes 0-3 (and again size-8) hold
 *               CRC-32C of [4, 26) xor CRC-32C of [38, size-8); the last 4 bytes repeat
 *               the LSN's low 32 bits.
 *   innodb      the legacy fold checksum in bytes 0-3, the old-style one (or the LSN)
 *               at size-8, the LSN's low 32 bits at size-4.
 *
 * The FIL header names the page: page number at offset 4, LSN at 16, type at 24, space id
 * at 34 (all big-endian). Page 0 of a tablespace also holds the FSP header: the space's
 * size in pages at 46 and its flags at 54, from which the page size follows.
 *
 * Page-compressed pages (MariaDB PAGE_COMPRESSED=1) are accepted as they are, never
 * decompressed into the output: in full_crc32 tablespaces when the CRC-32C over the
 * compressed length (from the type field) is valid and the zlib payload inflates to the
 * same page (page number and LSN), which gives the space id, type and index id (they are
 * compressed too); in older ones when the zlib payload inflates to a valid page with the
 * same space id, page number and LSN. Other algorithms (lz4, lzo, lzma, bzip2, snappy;
 * built into some MariaDB packages as provider plugins) and older compressed-and-encrypted
 * pages cannot be placed or verified: INNODB_UNVERIFIABLE. TYPE is the original page's.
 */
#ifndef RESCUE_DBPAGE_INNODB_H
#define RESCUE_DBPAGE_INNODB_H

#include <stddef.h>
#include <stdint.h>

enum innodb_checksum {
	INNODB_FULL_CRC32 = 1,
	INNODB_CRC32,
	INNODB_LEGACY,
};

/* Why a buffer is not a page. */
enum innodb_verdict {
	INNODB_PAGE = 0,		/* a valid page */
	INNODB_SHORT,			/* fewer bytes than the page size */
	INNODB_EMPTY,			/* all header fields zero: a freshly allocated page */
	INNODB_NO_HEADER,		/* the trailer does not repeat the LSN: not a page */
	INNODB_BAD_CHECKSUM,		/* looks like a page, but no checksum matches */
	INNODB_UNVERIFIABLE,		/* page-compressed with no checksum rescue can check */
};

struct innodb_page {
	uint32_t space_id;
	uint32_t page_number;
	uint64_t lsn;
	uint16_t type;			/* FIL_PAGE_INDEX 17855, FIL_PAGE_TYPE_FSP_HDR 8, ... */
	enum innodb_checksum checksum;
	int compressed;			/* a page-compressed page, kept as it is */
	/* Index pages (B-tree and R-tree) only, else 0 and 0: the index the page belongs to,
	 * unique in its server (another server's tablespace with the same space id has
	 * other index ids), and whether it is the index's root (no siblings). */
	uint64_t index_id;
	int index_root;
	/* Page 0 only (page_number 0): the FSP header. */
	uint32_t fsp_size;		/* the tablespace's size in pages */
	uint32_t fsp_flags;
	size_t fsp_page_size;		/* the page size the flags declare, 0 if they are invalid */
};

enum { INNODB_MIN_PAGE = 4096, INNODB_MAX_PAGE = 65536, INNODB_DEFAULT_PAGE = 16384 };

/* Looks at the PAGE_SIZE bytes at BUFFER (of LENGTH bytes; PAGE_SIZE a power of two from
 * 4 KiB to 64 KiB; a page-compressed page needs only its compressed bytes). INNODB_PAGE
 * with PAGE filled, or the reason it is not a page. Never reads past LENGTH. */
enum innodb_verdict innodb_page_parse(const unsigned char *buffer, size_t length,
    size_t page_size, struct innodb_page *page);

/* Whether page NUMBER of the tablespace whose page 0 (a valid page of PAGE_SIZE bytes) is
 * PAGE0 was never used or freed since: 1 when at or past FSP_FREE_LIMIT or marked free in
 * its extent descriptor, 0 when in use, -1 when page 0 does not describe it (past the
 * first page_size pages, which later descriptor pages cover). Free pages hold zeros or
 * stale bytes: not finding them loses nothing. */
int innodb_page_is_free(const unsigned char *page0, size_t page_size, uint32_t number);

/* The data dictionary of MariaDB (and MySQL before 8.0) is in the system tablespace
 * (space 0): SYS_TABLES, clustered index id 1, one record (REDUNDANT format) per table
 * with its name "db/table" and its space id. Calls FOUND for every record of a SYS_TABLES
 * leaf PAGE (a valid page of PAGE_SIZE bytes), delete-marked ones included (DELETED
 * set), and returns how many it found, or -1 when PAGE is not such a page or a record
 * does not parse. NAME is not NUL-terminated. */
typedef void innodb_table_found(void *context, const char *name, size_t name_length,
    uint32_t space_id, int deleted);
int innodb_sys_tables_records(const unsigned char *page, size_t page_size,
    innodb_table_found *found, void *context);

/* The system tablespace's doublewrite buffer: two runs of 64 pages holding copies of
 * other tablespaces' pages (found as those pages; never as space 0's). From the TRX_SYS
 * page (space 0, page 5, a valid page of PAGE_SIZE bytes): 0 with the first page of each
 * run, -1 when the page has no doublewrite header. */
enum { INNODB_DOUBLEWRITE_PAGES = 64 };
int innodb_doublewrite_blocks(const unsigned char *trx_sys, size_t page_size,
    uint32_t *block1, uint32_t *block2);

/* The page size FSP flags declare, full_crc32 or not: 4096 ... 65536, or 0. */
size_t innodb_flags_page_size(uint32_t flags);

/* A page-compressed page split on disk. MariaDB punches a hole behind each compressed
 * page, so the file holds only the file-system blocks (4 KiB on ext4) the compressed
 * bytes need; when a page is rewritten longer, the block it gains is allocated wherever
 * the file system finds one, often megabytes away. After a DROP the page's first blocks
 * lie together and its last one elsewhere. Both halves are found in the scan:
 *
 *   head  a full_crc32 page of 16 KiB, zlib, whose CRC over the compressed length fails
 *         but whose first PREFIX bytes (whole 4 KiB blocks) inflate to the start of the
 *         page the header names: TAIL bytes (the rest, CRC included) are elsewhere.
 *   tail  a 4 KiB block that ends in zeros after a 256-byte multiple, as the last block
 *         of every compressed page does: its TAIL bytes, the last 4 a CRC.
 *
 * They belong together when CRC-32C(head's PREFIX bytes, tail's TAIL - 4 bytes) is the
 * tail's stored CRC. CRC-32C being linear, each half gives a KEY of its own (the head's
 * CRC shifted over TAIL - 4 zero bytes; the tail's stored CRC xor the CRC of its bytes),
 * equal when they fit, so the halves are matched by sorting, and the page put together is
 * then checked whole (innodb_page_parse). A tail that fills its whole block (the
 * compressed length a multiple of 4 KiB) is not told from other data and not found. */
enum { INNODB_SPLIT_BLOCK = 4096 };
struct innodb_split {
	uint32_t key;
	uint32_t space_id;		/* head: from the inflated start */
	uint16_t prefix;		/* head: bytes here (whole blocks) */
	uint16_t tail;			/* bytes of the page in the tail block */
};

/* 1 when BUFFER (LENGTH bytes, at least the head's blocks) starts such a head of a
 * 16 KiB page, with SPLIT. */
int innodb_split_head(const unsigned char *buffer, size_t length, struct innodb_split *split);

/* 1 when the INNODB_SPLIT_BLOCK bytes at BLOCK may end a split page, with KEY and TAIL. */
int innodb_split_tail(const unsigned char *block, struct innodb_split *split);

/* The bytes a page-compressed page at BUFFER takes as MariaDB wrote it (either format;
 * the rest of its page is a punched hole, zeros): 0 when BUFFER does not start one, or
 * its length is past LENGTH. */
size_t innodb_compressed_length(const unsigned char *buffer, size_t length);

/* Whether the page's type is a page-compressed one (either format, or encrypted). */
int innodb_page_compressed(const unsigned char *page);

/* "full_crc32", "crc32", "innodb". */
const char *innodb_checksum_name(enum innodb_checksum checksum);
const char *innodb_verdict_name(enum innodb_verdict verdict);

#endif
