/* test_jbd2.c: the journal reader on journals the host's kernel wrote (an ext4 with
 * mke2fs's defaults: 64bit, metadata_csum, so CSUM_V3 tags; one without metadata_csum;
 * ext3's 32-bit tags; 4 KiB blocks), checked against what debugfs's own logdump reads in
 * them; then damaged copies of those journals, and hand-made blocks for the tag formats
 * the kernel no longer writes (CSUM_V2) and for lengths that lie. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <ext2fs/ext2_fs.h>
#include <ext2fs/ext2fs.h>

#include "base/spawn.h"
#include "fs/extfs.h"
#include "fs/jbd2.h"
#include "fs/journal_ext.h"
#include "lib/deleted_tree.h"
#include "lib/run_ok.h"

/* A journal read whole into memory, so a test can damage it. */
struct memory_journal {
	unsigned char *data;
	uint64_t blocks;
	uint32_t block_size;
};

static int memory_read(void *context, uint32_t number, void *buffer)
{
	struct memory_journal *journal = context;

	if (number >= journal->blocks) {
		errno = EINVAL;
		return -1;
	}
	memcpy(buffer, journal->data + (size_t)number * journal->block_size,
	    journal->block_size);
	return 0;
}

static void load_journal(const char *image, struct memory_journal *memory)
{
	struct ext_journal journal;
	unsigned long superblock;
	ext2_filsys fs;
	char why[256];
	uint32_t i;

	assert_int_equal(extfs_open(image, &fs, &superblock, why, sizeof why), 0);
	assert_int_equal(ext_journal_open(fs, NULL, &journal, why, sizeof why), 0);
	memory->blocks = journal.blocks;
	memory->block_size = journal.block_size;
	memory->data = malloc(journal.blocks * journal.block_size);
	assert_non_null(memory->data);
	for (i = 0; i < journal.blocks; i++)
		assert_int_equal(ext_journal_read(&journal, i, memory->data
		    + (size_t)i * journal.block_size), 0);
	ext_journal_close(&journal);
	ext2fs_close_free(&fs);
}

static void scan_memory(struct memory_journal *memory, struct jbd2_log *log)
{
	char why[256] = "";

	if (jbd2_log_scan(log, memory_read, memory, memory->blocks, memory->block_size, why,
	    sizeof why) != 0)
		fail_msg("scan failed: %s", why);
}

/* ------------------------------------------------------------------ debugfs's view */

struct logged {
	uint64_t block;
	uint32_t position;
};

/* "FS block 262 logged at journal block 2" and "sequence 2, type 2 (commit block)"
 * lines of `logdump -a -O`, which reads the old, checkpointed transactions too. Only its
 * stdout is read: debugfs's own "short read" complaints on stderr used to land in the
 * middle of a line now and then and hide one copy from the count. */
static size_t debugfs_logged(const char *image, struct logged *logged, size_t max,
    uint32_t *commits, size_t *commit_count)
{
	struct spawn_request request = { .argv = ARGV("debugfs", "-R", "logdump -a -O",
	    (char *)image) };
	struct spawn_result result;
	unsigned long long block;
	unsigned position, sequence;
	char *line, *rest;
	size_t count = 0;

	*commit_count = 0;
	assert_int_equal(spawn_run(&request, &result), 0);
	for (line = strtok_r(result.output, "\n", &rest); line;
	    line = strtok_r(NULL, "\n", &rest)) {
		if (sscanf(line, " FS block %llu logged at journal block %u", &block, &position)
		    == 2 && count < max)
			logged[count++] = (struct logged){ block, position };
		else if (sscanf(line, "Found expected sequence %u, type 2", &sequence) == 1)
			commits[(*commit_count)++] = sequence;
	}
	spawn_result_free(&result);
	return count;
}

static int copy_listed(const struct jbd2_log *log, const struct logged *logged)
{
	size_t count, i;
	const struct jbd2_copy *copies = jbd2_log_copies(log, logged->block, &count);

	for (i = 0; i < count; i++)
		if (copies[i].position == logged->position)
			return 1;
	return 0;
}

/* Every copy debugfs names is found, trusted, and nothing more; every transaction debugfs
 * saw commit is committed, with a time inside the fixture's run. */
static void check_against_debugfs(const struct deleted_tree *tree, const char *features)
{
	struct memory_journal memory;
	static struct logged logged[8192];
	uint32_t commits[256];
	size_t count, commit_count, i;
	const struct jbd2_transaction *transaction;
	struct jbd2_log log;

	load_journal(tree->image, &memory);
	scan_memory(&memory, &log);
	count = debugfs_logged(tree->image, logged, 8192, commits, &commit_count);
	assert_true(count >= 20);
	assert_int_equal(log.copy_count, count);
	for (i = 0; i < count; i++) {
		if (!copy_listed(&log, &logged[i]))
			fail_msg("%s: block %llu at %u not found", features,
			    (unsigned long long)logged[i].block, logged[i].position);
	}
	for (i = 0; i < log.copy_count; i++)
		assert_true(log.copies[i].trusted);
	assert_true(commit_count >= 2);
	for (i = 0; i < commit_count; i++) {
		transaction = jbd2_log_transaction(&log, commits[i]);
		assert_non_null(transaction);
		assert_true(transaction->committed);
		if (transaction->commit_seconds < tree->before - 600
		    || transaction->commit_seconds > tree->after)
			fail_msg("%s: commit time %lld outside [%ld, %ld]", features,
			    (long long)transaction->commit_seconds, tree->before - 600, tree->after);
	}
	assert_int_equal(log.bad_descriptors + log.bad_commits + log.bad_copies, 0);
	jbd2_log_free(&log);
	free(memory.data);
}

static void with_tree(const char *const *options, const char *features,
    void (*check)(const struct deleted_tree *tree, const char *features))
{
	struct deleted_tree tree = { 0 };

	if (deleted_tree_make(&tree, options) != 0)
		skip();		/* not root: the kernel cannot be asked to write a journal */
	check(&tree, features);
	deleted_tree_remove(&tree);
}

static void check_v3_super(const struct deleted_tree *tree, const char *features)
{
	struct memory_journal memory;
	struct jbd2_super super;
	char why[256] = "";

	(void)features;
	load_journal(tree->image, &memory);
	assert_int_equal(jbd2_parse_super(memory.data, memory.block_size, &super, why,
	    sizeof why), 0);
	assert_int_equal(super.version, 2);
	assert_true(super.incompat & JBD2_INCOMPAT_CSUM_V3);
	assert_true(super.incompat & JBD2_INCOMPAT_64BIT);
	assert_int_equal(super.tag_size, 16);
	assert_int_equal(super.block_size, memory.block_size);
	assert_int_equal(super.max_length, memory.blocks);
	/* One bit of the checksummed area changed: refused, the checksum named. */
	memory.data[0x40] ^= 1;
	assert_int_equal(jbd2_parse_super(memory.data, memory.block_size, &super, why,
	    sizeof why), -1);
	assert_non_null(strstr(why, "checksum"));
	free(memory.data);
}

static void test_csum_v3_journal(void **state)
{
	(void)state;
	with_tree(NULL, "64bit,metadata_csum", check_against_debugfs);
	with_tree(NULL, "superblock", check_v3_super);
}

static void test_csum_v3_journal_4k(void **state)
{
	static const char *const options[] = { "-b", "4096", NULL };

	(void)state;
	with_tree(options, "4 KiB blocks", check_against_debugfs);
}

static void check_no_csum(const struct deleted_tree *tree, const char *features)
{
	struct memory_journal memory;
	struct jbd2_super super;
	char why[256];

	load_journal(tree->image, &memory);
	assert_int_equal(jbd2_parse_super(memory.data, memory.block_size, &super, why,
	    sizeof why), 0);
	assert_false(super.checksummed);
	assert_int_equal(super.tag_size, strstr(features, "ext3") ? 8 : 12);
	free(memory.data);
	check_against_debugfs(tree, features);
}

static void test_journal_without_checksums(void **state)
{
	static const char *const no_csum[] = { "-O", "^metadata_csum", NULL };
	static const char *const ext3[] = { "-t", "ext3", NULL };

	(void)state;
	with_tree(no_csum, "64bit, no metadata_csum", check_no_csum);
	with_tree(ext3, "ext3", check_no_csum);
}

/* A copy changed after its transaction wrote it (a newer wrap over part of it) fails its
 * tag's checksum: it is counted and no longer trusted; the other copies still are. */
static void check_damaged_copy(const struct deleted_tree *tree, const char *features)
{
	struct memory_journal memory;
	struct jbd2_log log;
	uint32_t position;
	size_t i, untrusted = 0;

	(void)features;
	load_journal(tree->image, &memory);
	scan_memory(&memory, &log);
	position = log.copies[0].position;
	jbd2_log_free(&log);
	memory.data[(size_t)position * memory.block_size + 100] ^= 0x55;
	scan_memory(&memory, &log);
	assert_int_equal(log.bad_copies, 1);
	for (i = 0; i < log.copy_count; i++)
		untrusted += !log.copies[i].trusted;
	assert_int_equal(untrusted, 1);
	jbd2_log_free(&log);
	free(memory.data);
}

/* A commit block damaged: its transaction is no longer committed, so none of its copies is
 * trusted; a descriptor damaged: its copies are not even indexed. */
static void check_damaged_headers(const struct deleted_tree *tree, const char *features)
{
	struct memory_journal memory;
	struct jbd2_log log;
	uint32_t sequence, position, found = 0;
	size_t before, i;

	(void)features;
	load_journal(tree->image, &memory);
	scan_memory(&memory, &log);
	before = log.copy_count;
	jbd2_log_free(&log);
	for (position = 1; position < memory.blocks && !found; position++)
		if (jbd2_block_type(memory.data + (size_t)position * memory.block_size,
		    memory.block_size, &sequence) == JBD2_COMMIT)
			found = position;
	assert_true(found);
	memory.data[(size_t)found * memory.block_size + 60] ^= 1;
	scan_memory(&memory, &log);
	assert_int_equal(log.bad_commits, 1);
	for (i = 0; i < log.copy_count; i++)
		if (log.copies[i].transaction == sequence)
			assert_false(log.copies[i].trusted);
	jbd2_log_free(&log);
	/* The first descriptor is block s_first (1 here: no wrap yet). */
	memory.data[(size_t)1 * memory.block_size + 20] ^= 1;
	scan_memory(&memory, &log);
	assert_int_equal(log.bad_descriptors, 1);
	assert_true(log.copy_count < before);
	jbd2_log_free(&log);
	free(memory.data);
}

static void test_damaged_journal(void **state)
{
	(void)state;
	with_tree(NULL, "a copy", check_damaged_copy);
	with_tree(NULL, "headers", check_damaged_headers);
}

/* ------------------------------------------------------------------ hand-made blocks */

static void put32(unsigned char *at, uint32_t value)
{
	at[0] = value >> 24, at[1] = value >> 16 & 0xff, at[2] = value >> 8 & 0xff;
	at[3] = value & 0xff;
}

static void put16(unsigned char *at, uint16_t value)
{
	at[0] = value >> 8, at[1] = value & 0xff;
}

static void make_super(unsigned char *block, uint32_t incompat, uint32_t max_length)
{
	memset(block, 0, 1024);
	put32(block, JBD2_MAGIC);
	put32(block + 4, JBD2_SUPERBLOCK_V2);
	put32(block + 0x0c, 1024);
	put32(block + 0x10, max_length);
	put32(block + 0x14, 1);
	put32(block + 0x28, incompat);
	if (incompat & (JBD2_INCOMPAT_CSUM_V2 | JBD2_INCOMPAT_CSUM_V3)) {
		uint32_t crc = jbd2_crc32c(~0U, block, 1024);	/* s_checksum is 0 here */

		put32(block + 0xfc, crc);
	}
}

static void test_super_bounds(void **state)
{
	unsigned char block[1024];
	struct jbd2_super super;
	char why[256];

	(void)state;
	/* crc32c("123456789") is 0xe3069283 once inverted before and after. */
	assert_int_equal(~jbd2_crc32c(~0U, "123456789", 9), 0xe3069283);
	make_super(block, JBD2_INCOMPAT_REVOKE, 1024);
	assert_int_equal(jbd2_parse_super(block, sizeof block, &super, why, sizeof why), 0);
	assert_int_equal(super.tag_size, 8);
	assert_int_equal(jbd2_parse_super(block, 512, &super, why, sizeof why), -1);
	make_super(block, JBD2_INCOMPAT_REVOKE | 0x100, 1024);
	assert_int_equal(jbd2_parse_super(block, sizeof block, &super, why, sizeof why), -1);
	assert_non_null(strstr(why, "0x100"));
	make_super(block, 0, 1);	/* s_first 1 of s_maxlen 1: no room for a log */
	assert_int_equal(jbd2_parse_super(block, sizeof block, &super, why, sizeof why), -1);
	assert_non_null(strstr(why, "s_maxlen 1"));
	make_super(block, JBD2_INCOMPAT_FAST_COMMIT, 200);	/* 256 fast-commit blocks */
	assert_int_equal(jbd2_parse_super(block, sizeof block, &super, why, sizeof why), -1);
	make_super(block, 0, 1024);
	put32(block + 0x0c, 1000);
	assert_int_equal(jbd2_parse_super(block, sizeof block, &super, why, sizeof why), -1);
	assert_non_null(strstr(why, "block size 1000"));
	make_super(block, JBD2_INCOMPAT_CSUM_V2, 1024);
	assert_int_equal(jbd2_parse_super(block, sizeof block, &super, why, sizeof why), 0);
	assert_int_equal(super.tag_size, 10);
	make_super(block, JBD2_INCOMPAT_CSUM_V2 | JBD2_INCOMPAT_64BIT, 1024);
	assert_int_equal(jbd2_parse_super(block, sizeof block, &super, why, sizeof why), 0);
	assert_int_equal(super.tag_size, 14);
}

/* A CSUM_V2 descriptor: 14-byte tags (64bit), a 16-bit checksum of the copy, the block's
 * checksum in its tail. */
static void test_csum_v2_descriptor(void **state)
{
	unsigned char super_block[1024], block[1024], data[1024];
	struct jbd2_super super;
	struct jbd2_tag tags[4];
	size_t count;
	int checksum;
	uint32_t crc;
	char why[256];

	(void)state;
	make_super(super_block, JBD2_INCOMPAT_CSUM_V2 | JBD2_INCOMPAT_64BIT, 1024);
	assert_int_equal(jbd2_parse_super(super_block, 1024, &super, why, sizeof why), 0);
	memset(data, 0x5a, sizeof data);
	memset(block, 0, sizeof block);
	put32(block, JBD2_MAGIC);
	put32(block + 4, JBD2_DESCRIPTOR);
	put32(block + 8, 77);
	put32(block + 12, 0x1234);			/* t_blocknr */
	crc = jbd2_crc32c(super.checksum_seed, (unsigned char[]){ 0, 0, 0, 77 }, 4);
	put16(block + 16, (uint16_t)jbd2_crc32c(crc, data, sizeof data));
	put16(block + 18, JBD2_TAG_LAST);		/* t_flags; a uuid follows */
	put32(block + 20, 0x2);				/* t_blocknr_high */
	put32(block + 1020, jbd2_crc32c(super.checksum_seed, block, 1024));
	assert_int_equal(jbd2_parse_descriptor(&super, block, 1024, tags, 4, &count, &checksum,
	    why, sizeof why), 0);
	assert_int_equal(count, 1);
	assert_int_equal(checksum, 1);
	assert_int_equal(tags[0].block, 0x200001234ULL);
	assert_int_equal(jbd2_copy_checksum(&super, &tags[0], 77, data, sizeof data), 1);
	assert_int_equal(jbd2_copy_checksum(&super, &tags[0], 78, data, sizeof data), 0);
	block[30] ^= 1;
	assert_int_equal(jbd2_parse_descriptor(&super, block, 1024, tags, 4, &count, &checksum,
	    why, sizeof why), 0);
	assert_int_equal(checksum, 0);
}

/* Tags that never say LAST fill the block: the last one's uuid would run past it. A
 * revoke block whose r_count lies is refused, whatever it claims. */
static void test_lengths_that_lie(void **state)
{
	unsigned char super_block[1024], block[1024];
	struct jbd2_super super;
	struct jbd2_tag tags[200];
	uint64_t revoked[300];
	size_t count;
	int checksum;
	char why[256];

	(void)state;
	make_super(super_block, JBD2_INCOMPAT_REVOKE, 1024);
	assert_int_equal(jbd2_parse_super(super_block, 1024, &super, why, sizeof why), 0);
	memset(block, 0, sizeof block);
	put32(block, JBD2_MAGIC);
	put32(block + 4, JBD2_DESCRIPTOR);
	/* 8-byte tags: the first with SAME_UUID, the others followed by a 16-byte uuid: the
	 * 43rd tag starts at byte 1004, and its uuid would end at 1028. */
	put16(block + 12 + 6, JBD2_TAG_SAME_UUID);
	assert_int_equal(jbd2_parse_descriptor(&super, block, 1024, tags, 200, &count, &checksum,
	    why, sizeof why), -1);
	assert_non_null(strstr(why, "runs past"));
	assert_int_equal(jbd2_parse_descriptor(&super, block, 1024, tags, 3, &count, &checksum,
	    why, sizeof why), -1);
	assert_int_equal(jbd2_parse_descriptor(&super, block, 1000, tags, 200, &count,
	    &checksum, why, sizeof why), -1);
	put32(block + 4, JBD2_REVOKE);
	put32(block + 12, 0xffffff00);
	assert_int_equal(jbd2_parse_revoke(&super, block, 1024, revoked, 300, &count, &checksum,
	    why, sizeof why), -1);
	put32(block + 12, 18);	/* not a whole record */
	assert_int_equal(jbd2_parse_revoke(&super, block, 1024, revoked, 300, &count, &checksum,
	    why, sizeof why), -1);
	put32(block + 12, 24);
	put32(block + 16, 7);
	put32(block + 20, 9);
	assert_int_equal(jbd2_parse_revoke(&super, block, 1024, revoked, 300, &count, &checksum,
	    why, sizeof why), 0);
	assert_int_equal(count, 2);
	assert_int_equal(revoked[1], 9);
	assert_int_equal(jbd2_block_type(block, 8, &(uint32_t){ 0 }), JBD2_NONE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_super_bounds),
		cmocka_unit_test(test_csum_v2_descriptor),
		cmocka_unit_test(test_lengths_that_lie),
		cmocka_unit_test(test_csum_v3_journal),
		cmocka_unit_test(test_csum_v3_journal_4k),
		cmocka_unit_test(test_journal_without_checksums),
		cmocka_unit_test(test_damaged_journal),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
