/* journal.h: the session journal, a timeline of every rescue command for the post-mortem.
 *
 * One line per command, tab-separated, appended with one write(2) so that commands running
 * at the same time (menu, SSH, runbook) never interleave:
 *
 *	TIME<TAB>SECONDS<TAB>EXIT<TAB>ORIGIN<TAB>COMMAND LINE<TAB>SUMMARY
 *
 * TIME is UTC in ISO 8601 when the command started, SECONDS its duration, EXIT the exit code
 * or "signal N", ORIGIN where it came from (console, ssh, menu, runbook), COMMAND LINE the
 * words quoted for a shell with credentials in URLs replaced by "***", SUMMARY one line
 * the command chose (or its last error message). Tabs and newlines in fields become spaces.
 * The journal lives in RAM ($RESCUE_JOURNAL, else /run/rescue/journal.tsv); `rescue report`
 * ships it to a target.
 */
#ifndef RESCUE_JOURNAL_H
#define RESCUE_JOURNAL_H

#include <stddef.h>
#include <stdio.h>
#include <time.h>

enum { JOURNAL_FIELDS = 6, JOURNAL_LINE_MAX = 4096 };

struct journal_entry {
	char time[32];
	char seconds[16];
	char exit[16];
	char origin[16];
	char command_line[2048];
	char summary[1024];
};

const char *journal_path(void);
void journal_quote_command(int argc, char **argv, char *text, size_t size);
void journal_redact(const char *word, char *text, size_t size);
void journal_start(int argc, char **argv);
void journal_summary(const char *format, ...) __attribute__((format(printf, 1, 2)));
void journal_note_error(const char *message);
void journal_finish(int exit_code);
int journal_append(const char *command_line, time_t started, double seconds, const char *exit,
    const char *summary);
int journal_parse_line(char *line, struct journal_entry *entry);
void journal_entry_json(FILE *out, const struct journal_entry *entry);

#endif
