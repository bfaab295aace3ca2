/* e2fsck.c: e2fsck's output cut into problems and sorted into kinds.
 *
 * A problem is the text e2fsck prints before a question ("... Clear? no") or a warning that
 * stands alone until a blank line ("Warning: skipping journal recovery ..."). Progress lines
 * ("Pass 2: ...") and the closing lines are not problems; they set the summary's flags.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/json.h"
#include "fs/e2fsck.h"

struct kind_rule {
	enum e2fsck_kind kind;
	const char *name;
	const char *needles[8];	/* the problem is of this kind when its text holds one */
};

/* Checked in order, first match wins: the specific kinds come before the general ones
 * ("Inode bitmap differences" before anything that mentions an inode). */
static const struct kind_rule kind_rules[KIND_COUNT] = {
	{ KIND_JOURNAL_RECOVERY, "journal needs recovery", { "skipping journal recovery",
	    "needs_recovery flag", "recovering journal", "Run journal anyway" } },
	{ KIND_JOURNAL, "journal problems", { "journal", "Journal" } },
	{ KIND_ORPHANS, "orphaned inodes", { "orphan", "Orphan" } },
	{ KIND_SUPERBLOCK, "superblock problems", { "superblock", "super-block", "Superblock",
	    "The filesystem size" } },
	{ KIND_GROUP_DESCRIPTORS, "group descriptor problems", { "group descriptor",
	    "descriptor checksum" } },
	{ KIND_BLOCK_BITMAP, "block bitmap differences", { "Block bitmap differences",
	    "Padding at end of block bitmap" } },
	{ KIND_INODE_BITMAP, "inode bitmap differences", { "Inode bitmap differences",
	    "Padding at end of inode bitmap" } },
	{ KIND_FREE_BLOCKS, "free blocks count wrong", { "Free blocks count wrong" } },
	{ KIND_FREE_INODES, "free inodes count wrong", { "Free inodes count wrong" } },
	{ KIND_DIRECTORIES_COUNT, "directories count wrong", { "Directories count wrong" } },
	{ KIND_DELETED_INODE, "deleted/unused inode", { "deleted/unused inode",
	    "has zero dtime" } },
	{ KIND_DIRECTORY_ENTRIES, "directory entry problems", { "Entry '", "directory corrupted",
	    "HTREE", "Directory inode", "Missing '.'", "Missing '..'", "directory entry" } },
	{ KIND_UNATTACHED, "unattached inodes", { "Unattached", "Unconnected", "lost+found" } },
	{ KIND_REFERENCE_COUNTS, "reference counts wrong", { "ref count is" } },
	{ KIND_INODE_SIZE, "inode size or block count wrong", { "i_size is", "i_blocks is",
	    "i_size", "extent tree" } },
	{ KIND_BAD_BLOCKS, "illegal or multiply-claimed blocks", { "illegal block",
	    "Multiply-claimed", "bad block", "Duplicate" } },
	{ KIND_INODES, "inode problems", { "Inode ", "inode " } },
	{ KIND_OTHER, "other problems", { NULL } },
};

const char *e2fsck_kind_name(enum e2fsck_kind kind)
{
	return kind < KIND_COUNT ? kind_rules[kind].name : "?";
}

enum e2fsck_kind e2fsck_classify(const char *problem)
{
	size_t rule, needle;

	for (rule = 0; rule < KIND_OTHER; rule++)
		for (needle = 0; kind_rules[rule].needles[needle]; needle++)
			if (strstr(problem, kind_rules[rule].needles[needle]))
				return kind_rules[rule].kind;
	return KIND_OTHER;
}

/* "Block bitmap differences:  +(100--104) -2330" lists 6 blocks: a range counts its ends
 * and everything between. */
unsigned long long e2fsck_bitmap_items(const char *line)
{
	const char *cursor = strchr(line, ':');
	unsigned long long items = 0, first, last;
	char *end;

	if (cursor == NULL)
		return 0;
	while (*++cursor) {
		if (*cursor != '+' && *cursor != '-')
			continue;
		if (cursor[1] == '(') {
			first = strtoull(cursor + 2, &end, 10);
			last = strncmp(end, "--", 2) == 0 ? strtoull(end + 2, &end, 10) : first;
			items += last >= first ? last - first + 1 : 1;
		} else if (isdigit((unsigned char)cursor[1])) {
			strtoull(cursor + 1, &end, 10);
			items++;
		} else {
			continue;
		}
		cursor = end - 1;
	}
	return items;
}

/* Lines that are progress or the closing report, never part of a problem. */
static int is_progress(const char *line)
{
	static const char *const prefixes[] = { "Pass ", "e2fsck ", "Restarting e2fsck",
	    "Running additional passes", "Checking ", "Adding dirhash hint", NULL };
	size_t i;

	for (i = 0; prefixes[i]; i++)
		if (strncmp(line, prefixes[i], strlen(prefixes[i])) == 0)
			return 1;
	/* "Warning!  /dev/vda is in use." (a snapshot holds it) or "... is mounted." tell
	 * about the device, not about damage. */
	if (strncmp(line, "Warning!  ", 10) == 0
	    && (strstr(line, " is in use") || strstr(line, " is mounted")))
		return 1;
	return strstr(line, "*****") != NULL || strstr(line, " files (") != NULL;
}

static void note_closing(const char *line, struct e2fsck_summary *summary)
{
	const char *files = strstr(line, " files (");

	if (strstr(line, "FILE SYSTEM WAS MODIFIED"))
		summary->modified = 1;
	if (strstr(line, "still has errors"))
		summary->still_errors = 1;
	if (strcmp(line, "e2fsck: aborted") == 0)
		summary->aborted = 1;
	if (files) {
		/* "NAME: 16/8192 files (...), 32756/32768 blocks": keep what follows "NAME: ". */
		while (files > line && files[-1] != ' ')
			files--;
		snprintf(summary->usage, sizeof summary->usage, "%.159s", files);
	}
}

/* The answer at the end of a question line: 1 yes, 0 no, -1 not a question. */
static int question_answer(const char *line)
{
	size_t length = strlen(line);

	while (length > 0 && isspace((unsigned char)line[length - 1]))
		length--;
	if (length >= 5 && strncmp(line + length - 5, "? yes", 5) == 0)
		return strstr(line, "Abort?") ? 0 : 1;
	if (length >= 4 && strncmp(line + length - 4, "? no", 4) == 0)
		return 0;
	return -1;
}

/* The problem's first line without its question ("  Clear? no"): the answer was -n's or
 * -y's, not the user's, and the summary says which. */
static void example_of(char *example, size_t size, const char *text, size_t length)
{
	const char *question = memchr(text, '?', length);

	if (question && question + 5 >= text + length) {
		while (question > text && question[-1] != ' ')
			question--;
		while (question > text && question[-1] == ' ')
			question--;
		if (question > text)
			length = (size_t)(question - text);
	}
	snprintf(example, size, "%.*s", (int)length, text);
}

static void count_problem(struct e2fsck_summary *summary, const char *text, int answer)
{
	enum e2fsck_kind kind = e2fsck_classify(text);
	struct e2fsck_kind_total *total = &summary->kinds[kind];
	size_t first_line = strcspn(text, "\n");
	unsigned long long items;

	if (total->problems == 0)
		example_of(total->example, sizeof total->example, text, first_line);
	total->problems++;
	items = kind == KIND_BLOCK_BITMAP || kind == KIND_INODE_BITMAP
	    ? e2fsck_bitmap_items(text) : 0;
	total->items += items > 0 ? items : 1;
	summary->problems++;
	/* -y replays the journal without asking; -n says it skips it. */
	if (kind == KIND_JOURNAL_RECOVERY && strstr(text, "recovering journal"))
		answer = 1;
	if (answer == 1) {
		total->fixed++;
		summary->fixed++;
	}
}

/* A problem's text is kept whole (its lines joined) so the kind rules can see all of it. */
struct problem_text {
	char text[2048];
	size_t length;
};

static void problem_add(struct problem_text *problem, const char *line)
{
	int written = snprintf(problem->text + problem->length,
	    sizeof problem->text - problem->length, "%s%s", problem->length ? "\n" : "", line);

	if (written > 0)
		problem->length += (size_t)written;
	if (problem->length >= sizeof problem->text)
		problem->length = sizeof problem->text - 1;
}

static void problem_flush(struct problem_text *problem, struct e2fsck_summary *summary,
    int answer)
{
	if (problem->length > 0)
		count_problem(summary, problem->text, answer);
	problem->length = 0;
	problem->text[0] = '\0';
}

void e2fsck_summarise(const char *output, struct e2fsck_summary *summary)
{
	struct problem_text problem = { .length = 0 };
	const char *cursor = output;
	char line[1024];

	memset(summary, 0, sizeof *summary);
	while (*cursor) {
		size_t length = strcspn(cursor, "\n");
		int answer;

		snprintf(line, sizeof line, "%.*s", (int)length, cursor);
		cursor += length + (cursor[length] == '\n');
		note_closing(line, summary);
		if (line[0] == '\0' || is_progress(line) || strcmp(line, "e2fsck: aborted") == 0) {
			problem_flush(&problem, summary, -1);
			continue;
		}
		problem_add(&problem, line);
		answer = question_answer(line);
		if (answer >= 0)
			problem_flush(&problem, summary, answer);
	}
	problem_flush(&problem, summary, -1);
}

/* The appliance has /sbin/e2fsck; PATH over SSH (dropbear's default) may lack /sbin. */
static const char *e2fsck_program(void)
{
	return access("/sbin/e2fsck", X_OK) == 0 ? "/sbin/e2fsck" : "e2fsck";
}

int e2fsck_run(const char *device, const char *mode, unsigned long superblock,
    unsigned blocksize, struct spawn_result *result)
{
	char superblock_text[32], blocksize_text[32];
	char *argv[] = { (char *)e2fsck_program(), "-f", (char *)mode, (char *)device,
	    NULL, NULL, NULL, NULL, NULL };
	char *environment[] = { "E2FSCK_CONFIG=/dev/null", NULL };
	struct spawn_request request = { .argv = argv, .environment = environment,
	    .flags = SPAWN_STDERR };

	if (superblock != 0) {
		snprintf(superblock_text, sizeof superblock_text, "%lu", superblock);
		snprintf(blocksize_text, sizeof blocksize_text, "%u", blocksize);
		argv[3] = "-b";
		argv[4] = superblock_text;
		argv[5] = "-B";
		argv[6] = blocksize_text;
		argv[7] = (char *)device;
	}
	return spawn_run(&request, result);
}

void e2fsck_print_kinds(FILE *out, const struct e2fsck_summary *summary, int changes)
{
	size_t kind;

	for (kind = 0; kind < KIND_COUNT; kind++) {
		const struct e2fsck_kind_total *total = &summary->kinds[kind];

		if (total->problems == 0)
			continue;
		fprintf(out, "  %6llu  %s", total->items, kind_rules[kind].name);
		if (changes && total->fixed == total->problems)
			fprintf(out, " (fixed)");
		else if (changes && total->fixed == 0)
			fprintf(out, " (not fixed)");
		else if (changes)
			fprintf(out, " (%u of %u fixed)", total->fixed, total->problems);
		fprintf(out, "\n          e.g. %s\n", total->example);
	}
}

void e2fsck_print_json(FILE *out, const struct e2fsck_summary *summary, int exit_code)
{
	size_t kind;
	int first = 1;

	fprintf(out, "{\"exit\":%d,\"problems\":%u,\"fixed\":%u,\"aborted\":%s,"
	    "\"modified\":%s,", exit_code, summary->problems, summary->fixed,
	    summary->aborted ? "true" : "false", summary->modified ? "true" : "false");
	json_member_string(out, "usage", summary->usage, 0);
	fputs(",\"kinds\":[", out);
	for (kind = 0; kind < KIND_COUNT; kind++) {
		const struct e2fsck_kind_total *total = &summary->kinds[kind];

		if (total->problems == 0)
			continue;
		fprintf(out, "%s{", first ? "" : ",");
		json_member_string(out, "kind", kind_rules[kind].name, 0);
		fprintf(out, ",\"count\":%llu,\"problems\":%u,\"fixed\":%u", total->items,
		    total->problems, total->fixed);
		json_member_string(out, "example", total->example, 1);
		fputc('}', out);
		first = 0;
	}
	fputs("]}", out);
}
