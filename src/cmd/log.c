/* log: show the session journal, the timeline of every rescue command run since boot
 *
 * usage: rescue log [--json] [--tail N]
 *
 * Every rescue command, typed on a console, run over SSH, picked from the menu or read from
 * a runbook, leaves one entry when it ends: when it started (UTC), how long it took, its exit
 * code, where it came from, the command line (passwords in URLs shown as ***) and a one-line
 * summary of what it did or why it failed. `rescue report TARGET` ships the same timeline.
 *
 *   --json     print {"entries":[{"time","seconds","exit","origin","command","summary"}]};
 *              exit is a number, or a string like "signal 11" for a command that crashed
 *   --tail N   only the last N entries
 *
 * The journal lives in RAM (/run/rescue/journal.tsv) and is lost at power off: send it to a
 * target with `rescue report` before that.
 *
 * Exit codes: 0 shown (also when the journal is still empty), 2 usage error, 3 the journal
 * cannot be read.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/journal.h"
#include "cli/command.h"
#include "cli/opt.h"
#include "usage/log.h"

static int log_main(int argc, char **argv);

const struct command command_log = {
	.name = "log",
	.summary = COMMAND_SUMMARY,
	.usage = COMMAND_USAGE,
	.menu_label = "log: the timeline of this session",
	.menu_rank = 90,
	.run = log_main,
};

struct log_options {
	int stop;		/* --help was shown or the command line was wrong: exit now */
	int json;
	long tail;		/* 0: everything */
};

static void print_text(const struct journal_entry *entry)
{
	printf("%.10s %.9s %-8s %5ss  exit %-3s %s\n", entry->time, entry->time + 11,
	    entry->origin, entry->seconds, entry->exit, entry->command_line);
	if (entry->summary[0])
		printf("    %s\n", entry->summary);
}

static void print_json(const struct journal_entry *entry, int first)
{
	printf("%s\n", first ? "" : ",");
	journal_entry_json(stdout, entry);
}

static long count_entries(FILE *journal)
{
	char line[JOURNAL_LINE_MAX];
	long count = 0;

	while (fgets(line, sizeof line, journal) != NULL)
		count++;
	rewind(journal);
	return count;
}

/* Lines that do not parse (a journal cut by a full RAM disk) are skipped, not fatal. */
static void print_entries(FILE *journal, const struct log_options *options)
{
	char line[JOURNAL_LINE_MAX];
	struct journal_entry entry;
	long skip = 0, index = 0;
	int first = 1;

	if (options->tail > 0)
		skip = count_entries(journal) - options->tail;
	while (fgets(line, sizeof line, journal) != NULL) {
		if (index++ < skip || journal_parse_line(line, &entry) != 0)
			continue;
		if (options->json)
			print_json(&entry, first);
		else
			print_text(&entry);
		first = 0;
	}
}

static int parse_options(int argc, char **argv, struct log_options *options)
{
	static const struct option long_options[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "tail", required_argument, NULL, 't' },
		{ 0 },
	};
	struct opt_parser opts = opt_parser(&command_log, argc, argv, "", long_options);
	char *end;
	int option;

	while ((option = opt_next(&opts)) != OPT_DONE) {
		switch (option) {
		case 'j':
			options->json = 1;
			break;
		case 't':
			options->tail = strtol(optarg, &end, 10);
			if (*end != '\0' || options->tail <= 0) {
				options->stop = 1;
				return err_usage(command_log.usage,
				    "--tail needs a positive number, not %s", optarg);
			}
			break;
		case OPT_STOP:
			options->stop = 1;
			return opts.exit_code;
		}
	}
	options->stop = opt_operands(&opts, 0, 0) != 0;
	return opts.exit_code;
}

static int log_main(int argc, char **argv)
{
	struct log_options options = { 0 };
	FILE *journal;
	int code = parse_options(argc, argv, &options);

	if (options.stop)
		return code;
	journal = fopen(journal_path(), "re");
	if (journal == NULL && errno != ENOENT)
		return err_fatal(EXIT_SYSTEM, "unable to read the journal %s", journal_path());
	if (options.json)
		printf("{\"entries\":[");
	if (journal != NULL) {
		print_entries(journal, &options);
		fclose(journal);
	} else if (!options.json) {
		printf("The journal is empty: no rescue command has run yet.\n");
	}
	if (options.json)
		printf("]}\n");
	return EXIT_OK;
}
