/* jbd2_log.c: every block of the journal's ring classified, into an index of the copies it
 * holds (jbd2.h, "the whole log"). Memory is a few dozen bytes per copy and per ring
 * block, never the copies' content. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/sort.h"
#include "fs/jbd2.h"

struct scan {
	struct jbd2_log *log;
	jbd2_read_fn *read;
	void *context;
	unsigned char *block, *data;
	struct jbd2_tag *tags;
	size_t tag_max;
	uint64_t *revoked;
	size_t revoked_max;
	struct jbd2_commit *commits;
	size_t commit_count, commit_capacity;
	size_t copy_capacity, revoked_capacity, transaction_capacity;
	char *why;
	size_t why_size;
};

static int grow(void **array, size_t *capacity, size_t count, size_t size)
{
	size_t bigger = *capacity ? *capacity * 2 : 256;
	void *moved;

	if (count < *capacity)
		return 0;
	if (!(moved = realloc(*array, bigger * size)))
		return -1;
	*array = moved;
	*capacity = bigger;
	return 0;
}

static int out_of_memory(struct scan *scan)
{
	snprintf(scan->why, scan->why_size, "out of memory for the journal's index");
	return -1;
}

/* The ring block COUNT places after POSITION. */
static uint32_t ring_after(const struct jbd2_super *super, uint32_t position, uint64_t count)
{
	uint64_t length = super->end - super->first;

	return super->first + (uint32_t)(((uint64_t)(position - super->first) + count) % length);
}

/* The newest transaction that wrote ring block POSITION owns it. */
static void claim(struct jbd2_log *log, uint32_t position, uint32_t sequence)
{
	if (!log->claimed[position] || jbd2_newer(sequence, log->owner[position]))
		log->owner[position] = sequence;
	log->claimed[position] = 1;
}

static int add_copy(struct scan *scan, const struct jbd2_tag *tag, uint32_t position,
    uint32_t sequence)
{
	struct jbd2_log *log = scan->log;
	const struct jbd2_super *super = &log->super;
	struct jbd2_copy *copy;
	int checksum = -1;

	claim(log, position, sequence);
	if (super->checksummed) {
		if (scan->read(scan->context, position, scan->data) != 0)
			checksum = 0;	/* unreadable: not to be trusted */
		else
			checksum = jbd2_copy_checksum(super, tag, sequence, scan->data,
			    super->block_size);
	}
	if (grow((void **)&log->copies, &scan->copy_capacity, log->copy_count, sizeof *copy))
		return out_of_memory(scan);
	copy = &log->copies[log->copy_count++];
	*copy = (struct jbd2_copy){ tag->block, position, sequence,
	    (tag->flags & JBD2_TAG_ESCAPED) != 0, (int8_t)checksum, 0 };
	return 0;
}

/* A descriptor block whose own checksum fails is stale or damaged: its tags say nothing
 * trustworthy, so its copies are not indexed. */
static int scan_descriptor(struct scan *scan, uint32_t position, uint32_t sequence)
{
	struct jbd2_log *log = scan->log;
	size_t count, i;
	int checksum;
	char why[160];

	if (jbd2_parse_descriptor(&log->super, scan->block, log->super.block_size, scan->tags,
	    scan->tag_max, &count, &checksum, why, sizeof why) != 0 || checksum == 0) {
		log->bad_descriptors++;
		return 0;
	}
	claim(log, position, sequence);
	for (i = 0; i < count; i++)
		if (add_copy(scan, &scan->tags[i], ring_after(&log->super, position, i + 1),
		    sequence) != 0)
			return -1;
	return 0;
}

static int scan_commit(struct scan *scan, uint32_t position)
{
	struct jbd2_log *log = scan->log;
	struct jbd2_commit commit;

	if (jbd2_parse_commit(&log->super, scan->block, log->super.block_size, &commit) != 0)
		return 0;
	if (commit.checksum == 0) {
		log->bad_commits++;
		return 0;
	}
	claim(log, position, commit.sequence);
	if (grow((void **)&scan->commits, &scan->commit_capacity, scan->commit_count,
	    sizeof commit))
		return out_of_memory(scan);
	scan->commits[scan->commit_count++] = commit;
	return 0;
}

static int scan_revoke(struct scan *scan, uint32_t position, uint32_t sequence)
{
	struct jbd2_log *log = scan->log;
	size_t count, i;
	int checksum;
	char why[160];

	if (jbd2_parse_revoke(&log->super, scan->block, log->super.block_size, scan->revoked,
	    scan->revoked_max, &count, &checksum, why, sizeof why) != 0 || checksum == 0) {
		log->bad_revokes++;
		return 0;
	}
	claim(log, position, sequence);
	for (i = 0; i < count; i++) {
		if (grow((void **)&log->revoked, &scan->revoked_capacity, log->revoked_count,
		    sizeof *log->revoked))
			return out_of_memory(scan);
		log->revoked[log->revoked_count++] = (struct jbd2_revoked){ scan->revoked[i],
		    sequence };
	}
	return 0;
}

/* A ring block that cannot be read is skipped: whatever it held is lost, the rest not. */
static int scan_block(struct scan *scan, uint32_t position)
{
	uint32_t sequence;

	if (scan->read(scan->context, position, scan->block) != 0)
		return 0;
	switch (jbd2_block_type(scan->block, scan->log->super.block_size, &sequence)) {
	case JBD2_DESCRIPTOR:
		return scan_descriptor(scan, position, sequence);
	case JBD2_COMMIT:
		return scan_commit(scan, position);
	case JBD2_REVOKE:
		return scan_revoke(scan, position, sequence);
	default:
		return 0;
	}
}

/* ------------------------------------------------------------------ the index */

static int by_sequence(const void *a, const void *b)
{
	uint32_t left = ((const struct jbd2_transaction *)a)->sequence;
	uint32_t right = ((const struct jbd2_transaction *)b)->sequence;

	return left == right ? 0 : jbd2_newer(left, right) ? 1 : -1;
}

static int by_block(const void *a, const void *b)
{
	const struct jbd2_copy *left = a, *right = b;

	if (left->block != right->block)
		return left->block < right->block ? -1 : 1;
	if (left->transaction != right->transaction)
		return jbd2_newer(left->transaction, right->transaction) ? 1 : -1;
	return left->position < right->position ? -1 : left->position > right->position;
}

static struct jbd2_transaction *transaction_for(struct scan *scan, uint32_t sequence)
{
	struct jbd2_log *log = scan->log;
	struct jbd2_transaction *found;
	size_t i;

	/* Called while building, before the sort: transactions are few next to copies. */
	for (i = log->transaction_count; i-- > 0;)
		if (log->transactions[i].sequence == sequence)
			return &log->transactions[i];
	if (grow((void **)&log->transactions, &scan->transaction_capacity,
	    log->transaction_count, sizeof *found))
		return NULL;
	found = &log->transactions[log->transaction_count++];
	memset(found, 0, sizeof *found);
	found->sequence = sequence;
	return found;
}

static int build_transactions(struct scan *scan)
{
	struct jbd2_log *log = scan->log;
	struct jbd2_transaction *transaction;
	size_t i;

	for (i = 0; i < log->copy_count; i++) {
		if (!(transaction = transaction_for(scan, log->copies[i].transaction)))
			return out_of_memory(scan);
		transaction->copies++;
	}
	for (i = 0; i < log->revoked_count; i++) {
		if (!(transaction = transaction_for(scan, log->revoked[i].transaction)))
			return out_of_memory(scan);
		transaction->revokes++;
	}
	for (i = 0; i < scan->commit_count; i++) {
		if (!(transaction = transaction_for(scan, scan->commits[i].sequence)))
			return out_of_memory(scan);
		transaction->committed = 1;
		transaction->commit_seconds = scan->commits[i].seconds;
		transaction->commit_nanoseconds = scan->commits[i].nanoseconds;
	}
	array_sort(log->transactions, log->transaction_count, sizeof *log->transactions,
	    by_sequence);
	return 0;
}

/* A copy counts when its transaction committed and the ring block still holds what that
 * transaction wrote: its checksum says so, or, without checksums, no newer transaction
 * claims the place. */
static void judge_copies(struct jbd2_log *log)
{
	const struct jbd2_transaction *transaction;
	struct jbd2_copy *copy;
	size_t i;

	for (i = 0; i < log->copy_count; i++) {
		copy = &log->copies[i];
		transaction = jbd2_log_transaction(log, copy->transaction);
		if (copy->checksum == 0)
			log->bad_copies++;
		copy->trusted = transaction && transaction->committed && (copy->checksum == 1
		    || (copy->checksum == -1 && log->owner[copy->position] == copy->transaction));
	}
	array_sort(log->copies, log->copy_count, sizeof *log->copies, by_block);
}

static int scan_setup(struct scan *scan, uint64_t blocks)
{
	struct jbd2_log *log = scan->log;
	size_t size = log->super.block_size;

	if (log->super.max_length > blocks) {
		snprintf(scan->why, scan->why_size, "journal superblock: s_maxlen %u blocks, the "
		    "journal has %llu", log->super.max_length, (unsigned long long)blocks);
		return -1;
	}
	scan->tag_max = size / 8 + 1;		/* the smallest tag is 8 bytes */
	scan->revoked_max = size / 4 + 1;
	scan->block = malloc(size);
	scan->data = malloc(size);
	scan->tags = malloc(scan->tag_max * sizeof *scan->tags);
	scan->revoked = malloc(scan->revoked_max * sizeof *scan->revoked);
	log->owner = calloc(log->super.max_length, sizeof *log->owner);
	log->claimed = calloc(log->super.max_length, 1);
	if (!scan->block || !scan->data || !scan->tags || !scan->revoked || !log->owner
	    || !log->claimed)
		return out_of_memory(scan);
	return 0;
}

static int read_super(struct scan *scan, uint32_t block_size)
{
	unsigned char *block = malloc(block_size);
	int rc = -1;

	if (!block)
		return out_of_memory(scan);
	if (scan->read(scan->context, 0, block) != 0)
		snprintf(scan->why, scan->why_size, "unable to read the journal superblock: %s",
		    err_text(errno));
	else if (jbd2_parse_super(block, block_size, &scan->log->super, scan->why,
	    scan->why_size) == 0)
		rc = 0;
	free(block);
	if (rc == 0 && scan->log->super.block_size != block_size) {
		snprintf(scan->why, scan->why_size, "journal superblock: block size %u, the file "
		    "system's is %u", scan->log->super.block_size, block_size);
		rc = -1;
	}
	return rc;
}

int jbd2_log_scan(struct jbd2_log *log, jbd2_read_fn *read, void *context, uint64_t blocks,
    uint32_t block_size, char *why, size_t why_size)
{
	struct scan scan = { .log = log, .read = read, .context = context, .why = why,
	    .why_size = why_size };
	uint32_t position;
	int rc = -1;

	memset(log, 0, sizeof *log);
	if (read_super(&scan, block_size) != 0 || scan_setup(&scan, blocks) != 0)
		goto out;
	for (position = log->super.first; position < log->super.end; position++)
		if (scan_block(&scan, position) != 0)
			goto out;
	if (build_transactions(&scan) != 0)
		goto out;
	judge_copies(log);
	rc = 0;
out:
	free(scan.block);
	free(scan.data);
	free(scan.tags);
	free(scan.revoked);
	free(scan.commits);
	if (rc != 0)
		jbd2_log_free(log);
	return rc;
}

void jbd2_log_free(struct jbd2_log *log)
{
	free(log->copies);
	free(log->transactions);
	free(log->revoked);
	free(log->owner);
	free(log->claimed);
	memset(log, 0, sizeof *log);
}

const struct jbd2_copy *jbd2_log_copies(const struct jbd2_log *log, uint64_t block,
    size_t *count)
{
	size_t low = 0, high = log->copy_count, middle, end;

	while (low < high) {	/* the first copy of BLOCK or after it */
		middle = low + (high - low) / 2;
		if (log->copies[middle].block < block)
			low = middle + 1;
		else
			high = middle;
	}
	for (end = low; end < log->copy_count && log->copies[end].block == block; end++)
		;
	*count = end - low;
	return *count ? &log->copies[low] : NULL;
}

const struct jbd2_transaction *jbd2_log_transaction(const struct jbd2_log *log,
    uint32_t sequence)
{
	struct jbd2_transaction key = { .sequence = sequence };

	if (!log->transaction_count)
		return NULL;
	return bsearch(&key, log->transactions, log->transaction_count,
	    sizeof *log->transactions, by_sequence);
}

int jbd2_log_read_copy(const struct jbd2_log *log, jbd2_read_fn *read, void *context,
    const struct jbd2_copy *copy, void *buffer)
{
	if (read(context, copy->position, buffer) != 0)
		return -1;
	if (copy->escaped)
		jbd2_unescape(buffer, log->super.block_size);
	return 0;
}
