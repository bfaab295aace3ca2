/* runbook_parse.c: a runbook's text cut into checked command lines (runbook_parse.h). */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "cli/runbook_parse.h"

enum { SHOWN_MAX = 64 };

/* A word or line of the runbook as a message shows it: bytes that are not printable
 * ASCII as \xHH, cut short with "..." (a binary file must not reach the console raw). */
static void shown_text(const char *text, char *out, size_t size)
{
	size_t used = 0;

	for (; *text && used + 8 < size; text++) {
		unsigned char c = (unsigned char)*text;

		used += (size_t)snprintf(out + used, size - used, isprint(c) ? "%c" : "\\x%02x", c);
	}
	snprintf(out + used, size - used, "%s", *text ? "..." : "");
}

/* Cuts the words of one line out of it in place. Returns NULL on success, else what is
 * wrong with the line. */
static const char *split_line(char *line, struct runbook_line *parsed)
{
	char *in = line, *out = line, quote;

	parsed->argc = 0;
	for (;;) {
		while (*in == ' ' || *in == '\t' || *in == '\r')
			in++;
		if (*in == '\0' || *in == '#')
			break;
		if (parsed->argc == RUNBOOK_WORDS_MAX)
			return "too many words";
		parsed->argv[parsed->argc++] = out;
		while (*in && !strchr(" \t\r", *in)) {
			if (*in == '\'' || *in == '"') {
				quote = *in++;
				while (*in && *in != quote) {
					if (quote == '"' && *in == '\\' && (in[1] == '"' || in[1] == '\\'))
						in++;
					*out++ = *in++;
				}
				if (*in != quote)
					return "a quote is not closed";
				in++;
			} else {
				*out++ = *in++;
			}
		}
		if (*in)
			in++;
		*out++ = '\0';
	}
	parsed->argv[parsed->argc] = NULL;
	return NULL;
}

/* Finds the command of a parsed line; NULL and a message when there is none. */
static const char *line_command(struct runbook_line *line)
{
	if (line->argc > 0 && strcmp(line->argv[0], "rescue") == 0) {
		memmove(line->argv, line->argv + 1, line->argc * sizeof line->argv[0]);
		line->argc--;
	}
	if (line->argc == 0)
		return "'rescue' without a command";
	line->command = command_find(line->argv[0]);
	if (line->command == NULL)
		return "unknown command";
	if (line->command->not_journaled || strcmp(line->command->name, "runbook") == 0)
		return "not allowed in a runbook";
	return NULL;
}

static void parse_one(struct runbook *book, char *text, int number, int *problems)
{
	struct runbook_line *line = &book->lines[book->line_count];
	const char *problem;
	char shown[SHOWN_MAX];

	memset(line, 0, sizeof *line);
	line->number = number;
	text += strspn(text, " \t");
	if (*text == '-') {
		line->ignore_failure = 1;
		text++;
	}
	problem = split_line(text, line);
	if (problem == NULL && line->argc == 0 && !line->ignore_failure)
		return;
	if (problem == NULL)
		problem = line_command(line);
	if (problem != NULL) {
		shown_text(line->argc > 0 ? line->argv[0] : text, shown, sizeof shown);
		err_warnx("runbook %s line %d: %s: %s", book->name, number, problem, shown);
		(*problems)++;
		return;
	}
	book->line_count++;
}

static int count_lines(const char *text, size_t length)
{
	const char *newline;
	int count = 1;

	while ((newline = memchr(text, '\n', length)) != NULL) {
		count++;
		length -= (size_t)(newline + 1 - text);
		text = newline + 1;
	}
	return count;
}

int runbook_parse(struct runbook *book)
{
	char *cursor = book->text, *end = book->text + book->length, *line_end;
	int number = 0, problems = 0;

	book->lines = calloc((size_t)count_lines(book->text, book->length), sizeof *book->lines);
	if (book->lines == NULL)
		return err_fatal(EXIT_SYSTEM, "unable to parse the runbook %s", book->name);
	while (cursor < end) {
		line_end = memchr(cursor, '\n', (size_t)(end - cursor));
		if (line_end == NULL)
			line_end = end;
		*line_end = '\0';
		number++;
		if (strlen(cursor) < (size_t)(line_end - cursor)) {
			err_warnx("runbook %s line %d: a NUL byte (not a text file?)", book->name, number);
			problems++;
		} else {
			parse_one(book, cursor, number, &problems);
		}
		cursor = line_end + 1;
	}
	if (problems > 0)
		return err_fatalx(EXIT_USAGE, "runbook %s: %d line%s to fix, nothing was run",
		    book->name, problems, problems == 1 ? "" : "s");
	return EXIT_OK;
}
