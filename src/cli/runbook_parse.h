/* runbook_parse.h: a runbook's text, checked and cut into command lines before anything
 * runs (cmd/runbook.c has the syntax). The text comes from a disk or a URL: the parser takes
 * it with its length, and a line holding a NUL byte is a problem like any other, not the
 * silent end of the runbook.
 */
#ifndef RESCUE_RUNBOOK_PARSE_H
#define RESCUE_RUNBOOK_PARSE_H

#include <stddef.h>

#include "cli/command.h"

enum { RUNBOOK_WORDS_MAX = 64 };

struct runbook_line {
	int number;			/* in the file, from 1 */
	int ignore_failure;		/* the line started with '-' */
	int argc;
	char *argv[RUNBOOK_WORDS_MAX + 1];
	const struct command *command;
};

struct runbook {
	const char *name;		/* as the user gave it, for messages */
	char *text;			/* LENGTH bytes and a NUL after them; words point into it */
	size_t length;
	struct runbook_line *lines;	/* malloc'd; free() it */
	int line_count;
};

/* Cuts BOOK's text into LINES in place. EXIT_OK; EXIT_USAGE after a warning naming each bad
 * line (unknown command, broken quoting, a NUL byte, the menu or another runbook), so
 * nothing runs; EXIT_SYSTEM when out of memory. */
int runbook_parse(struct runbook *book);

#endif
