/* journal.c: appends one line per command to the session journal (format in journal.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/journal.h"
#include "base/json.h"
#include "base/paths.h"

/* What the running command has told the journal so far. */
static struct {
	int active;
	char command_line[2048];
	struct timespec started;
	time_t started_wall;
	char summary[1024];
	char last_error[1024];
} current;

const char *journal_path(void)
{
	const char *path = getenv(RESCUE_JOURNAL_ENV);

	return path && *path ? path : RESCUE_JOURNAL_DEFAULT;
}

/* A URL's password ("ssh://user:secret@host") must never reach the journal, a report or a
 * screen that someone photographs; the user name stays, it helps the post-mortem. */
void journal_redact(const char *word, char *text, size_t size)
{
	const char *scheme_end = strstr(word, "://"), *at, *colon;

	snprintf(text, size, "%s", word);
	if (scheme_end == NULL)
		return;
	at = strchr(scheme_end + 3, '@');
	colon = strchr(scheme_end + 3, ':');
	if (at == NULL || colon == NULL || colon > at || strchr(scheme_end + 3, '/') < at)
		return;
	snprintf(text, size, "%.*s:***%s", (int)(colon - word), word, at);
}

static int needs_quotes(const char *word)
{
	return *word == '\0' || strpbrk(word, " \t\n'\"\\$`*?[]{}()<>|&;#~!") != NULL;
}

/* Quotes each word so the line can be pasted into a shell or a runbook as it is. */
void journal_quote_command(int argc, char **argv, char *text, size_t size)
{
	char word[1024];
	size_t used = 0;
	const char *c;
	int i;

	text[0] = '\0';
	for (i = 0; i < argc && used + 1 < size; i++) {
		journal_redact(argv[i], word, sizeof word);
		if (i > 0)
			text[used++] = ' ';
		if (!needs_quotes(word)) {
			used += (size_t)snprintf(text + used, size - used, "%s", word);
		} else {
			text[used++] = '\'';
			for (c = word; *c && used + 5 < size; c++)
				used += (size_t)snprintf(text + used, size - used,
				    *c == '\'' ? "'\\''" : "%c", *c);
			if (used + 1 < size)
				text[used++] = '\'';
		}
		if (used >= size)
			used = size - 1;
		text[used] = '\0';
	}
}

static const char *origin(void)
{
	const char *given = getenv(RESCUE_ORIGIN_ENV);

	if (given && *given)
		return given;
	return getenv("SSH_CONNECTION") ? "ssh" : "console";
}

/* Fields are separated by tabs and entries by newlines, so neither may appear inside one. */
static void flatten(char *text)
{
	for (; *text; text++)
		if (*text == '\t' || *text == '\n' || *text == '\r')
			*text = ' ';
}

int journal_append(const char *command_line, time_t started, double seconds, const char *exit,
    const char *summary)
{
	char line[JOURNAL_LINE_MAX], when[32], fields[2][2048];
	struct tm tm;
	int fd, length, saved = errno;
	ssize_t written;

	gmtime_r(&started, &tm);
	strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
	snprintf(fields[0], sizeof fields[0], "%s", command_line);
	snprintf(fields[1], sizeof fields[1], "%s", summary ? summary : "");
	flatten(fields[0]);
	flatten(fields[1]);
	length = snprintf(line, sizeof line, "%s\t%.1f\t%s\t%s\t%s\t%s", when, seconds, exit,
	    origin(), fields[0], fields[1]);
	if (length < 0)
		return -1;
	if ((size_t)length >= sizeof line - 1)
		length = sizeof line - 2;
	line[length++] = '\n';
	fd = open(journal_path(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0) {
		errno = saved;
		return -1;
	}
	written = write(fd, line, (size_t)length);
	close(fd);
	errno = saved;
	return written == length ? 0 : -1;
}

/* Commands that rescue runs for itself (report asking disks for its inventory) are part of
 * the command that started them, not entries of their own. */
void journal_start(int argc, char **argv)
{
	if (getenv(RESCUE_NESTED_ENV) != NULL)
		return;
	memset(&current, 0, sizeof current);
	current.active = 1;
	strcpy(current.command_line, "rescue ");
	journal_quote_command(argc, argv, current.command_line + 7,
	    sizeof current.command_line - 7);
	clock_gettime(CLOCK_MONOTONIC, &current.started);
	current.started_wall = time(NULL);
	setenv(RESCUE_NESTED_ENV, "1", 1);
}

void journal_summary(const char *format, ...)
{
	va_list args;

	va_start(args, format);
	vsnprintf(current.summary, sizeof current.summary, format, args);
	va_end(args);
}

/* err.c hands over every message, so a command that failed is summarised by its error. */
void journal_note_error(const char *message)
{
	snprintf(current.last_error, sizeof current.last_error, "%s", message);
}

void journal_finish(int exit_code)
{
	struct timespec now;
	char exit_text[16];
	const char *summary;

	if (!current.active)
		return;
	current.active = 0;
	unsetenv(RESCUE_NESTED_ENV);
	clock_gettime(CLOCK_MONOTONIC, &now);
	snprintf(exit_text, sizeof exit_text, "%d", exit_code);
	summary = current.summary[0] ? current.summary : current.last_error;
	journal_append(current.command_line, current.started_wall,
	    (double)(now.tv_sec - current.started.tv_sec)
	    + (now.tv_nsec - current.started.tv_nsec) / 1e9, exit_text, summary);
}

/* Splits LINE in place; returns 0 when it has all six fields. */
int journal_parse_line(char *line, struct journal_entry *entry)
{
	char *field[JOURNAL_FIELDS], *cursor = line;
	int i;

	line[strcspn(line, "\n")] = '\0';
	for (i = 0; i < JOURNAL_FIELDS; i++) {
		field[i] = cursor;
		cursor = strchr(cursor, '\t');
		if (cursor == NULL && i < JOURNAL_FIELDS - 1)
			return -1;
		if (cursor)
			*cursor++ = '\0';
	}
	snprintf(entry->time, sizeof entry->time, "%s", field[0]);
	snprintf(entry->seconds, sizeof entry->seconds, "%s", field[1]);
	snprintf(entry->exit, sizeof entry->exit, "%s", field[2]);
	snprintf(entry->origin, sizeof entry->origin, "%s", field[3]);
	snprintf(entry->command_line, sizeof entry->command_line, "%s", field[4]);
	snprintf(entry->summary, sizeof entry->summary, "%s", field[5]);
	return 0;
}

/* One entry as a JSON object; exit is a number, or a string ("signal 11") for a crash. */
void journal_entry_json(FILE *out, const struct journal_entry *entry)
{
	fputc('{', out);
	json_member_string(out, "time", entry->time, 0);
	fprintf(out, ",\"seconds\":%s", entry->seconds[0] ? entry->seconds : "0");
	if (entry->exit[0] && strspn(entry->exit, "0123456789") == strlen(entry->exit))
		fprintf(out, ",\"exit\":%s", entry->exit);
	else
		json_member_string(out, "exit", entry->exit, 1);
	json_member_string(out, "origin", entry->origin, 1);
	json_member_string(out, "command", entry->command_line, 1);
	json_member_string(out, "summary", entry->summary, 1);
	fputc('}', out);
}
