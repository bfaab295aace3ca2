/* fuzz_jbd2.c: the journal reader (src/fs/jbd2.h) on arbitrary bytes, under libFuzzer with
 * ASan and UBSan. The input is taken as a journal of 1 KiB blocks: its first block is
 * parsed as a superblock, every block as a descriptor, commit and revoke block; then the
 * whole log is scanned, with s_maxlen clamped to the input (and the superblock's checksum
 * made right again) so that the scan goes past the superblock check. Seeds in
 * corpus/jbd2/ are the heads of journals the kernel wrote. */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fs/jbd2.h"

enum { BLOCK = 1024, TAGS_MAX = BLOCK / 8 + 1, REVOKED_MAX = BLOCK / 4 + 1 };

struct memory {
	unsigned char *data;
	size_t blocks;
};

static int memory_read(void *context, uint32_t number, void *buffer)
{
	struct memory *memory = context;

	if (number >= memory->blocks) {
		errno = EINVAL;
		return -1;
	}
	memcpy(buffer, memory->data + (size_t)number * BLOCK, BLOCK);
	return 0;
}

static void put32(unsigned char *at, uint32_t value)
{
	at[0] = value >> 24, at[1] = value >> 16 & 0xff, at[2] = value >> 8 & 0xff;
	at[3] = value & 0xff;
}

static void parse_blocks(const struct jbd2_super *super, const uint8_t *data, size_t blocks)
{
	static struct jbd2_tag tags[TAGS_MAX];
	static uint64_t revoked[REVOKED_MAX];
	struct jbd2_commit commit;
	size_t i, count;
	uint32_t sequence;
	int checksum;
	char why[256];

	for (i = 1; i < blocks; i++) {
		const uint8_t *block = data + i * BLOCK;

		jbd2_block_type(block, BLOCK, &sequence);
		jbd2_parse_descriptor(super, block, BLOCK, tags, TAGS_MAX, &count, &checksum, why,
		    sizeof why);
		if (count)
			jbd2_copy_checksum(super, &tags[0], sequence, block, BLOCK);
		jbd2_parse_commit(super, block, BLOCK, &commit);
		jbd2_parse_revoke(super, block, BLOCK, revoked, REVOKED_MAX, &count, &checksum,
		    why, sizeof why);
	}
}

/* A copy whose s_maxlen fits the input, its checksum recomputed when it has one. */
static void scan_clamped(const uint8_t *data, size_t blocks)
{
	struct memory memory = { malloc(blocks * BLOCK), blocks };
	struct jbd2_log log;
	struct jbd2_super super;
	char why[256];
	size_t i, count;

	if (!memory.data)
		return;
	memcpy(memory.data, data, blocks * BLOCK);
	put32(memory.data + 0x10, (uint32_t)blocks);
	put32(memory.data + 0xfc, 0);
	put32(memory.data + 0xfc, jbd2_crc32c(~0U, memory.data, BLOCK));
	if (jbd2_parse_super(memory.data, BLOCK, &super, why, sizeof why) == 0 && jbd2_log_scan(
	    &log, memory_read, &memory, blocks, BLOCK, why, sizeof why) == 0) {
		for (i = 0; i < log.copy_count; i++)
			jbd2_log_copies(&log, log.copies[i].block, &count);
		for (i = 0; i < log.transaction_count; i++)
			jbd2_log_transaction(&log, log.transactions[i].sequence);
		jbd2_log_free(&log);
	}
	free(memory.data);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct jbd2_super super;
	char why[256];
	size_t blocks = size / BLOCK;

	if (jbd2_parse_super(data, size, &super, why, sizeof why) == 0 && super.block_size == BLOCK)
		parse_blocks(&super, data, blocks);
	if (blocks >= 2)
		scan_clamped(data, blocks);
	return 0;
}
