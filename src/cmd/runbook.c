/* runbook: run a runbook, rescue commands one a line, without anyone at the console
 *
 * usage: rescue runbook [--check] FILE|URL
 *
 * FILE is a path, or the name of a file on the RESCUECFG disk (how `rescue.run=NAME` on the
 * kernel command line names it at boot); URL is https://, whose server must show a
 * certificate from a CA in the image's bundle or in ca.pem on RESCUECFG. URL#sha256=HEX
 * pins the runbook to the SHA-256 of its bytes, checked before a line of it is read (a
 * runbook can unguard disks); plain http:// needs such a pin, or rescue.insecure_http=1 on
 * the kernel command line, which warns on every console and in the journal.
 *
 * Each line is one rescue command, with or without the word "rescue" in front. Words are
 * separated by blanks; '...' and "..." group words; '#' starts a comment; blank lines are
 * skipped. A line that starts with '-' goes on whatever its exit code, as in make.
 *
 * Before anything runs every line is checked: a runbook with an unknown command, broken
 * quoting or a line that would start the menu or another runbook runs nothing, and each
 * problem is named with its line number (exit 2). Then the lines run in order, each as its
 * own process with no input (so commands that ask, like unguard, need --yes), and each in
 * the journal. The runbook goes on after exit 0 or 1 (done, or done with losses) and stops
 * at the first worse exit. It prints "rescue: runbook NAME line N: COMMAND" before each
 * line, "rescue: runbook NAME line N exit C" after it (so a watcher knows each line's exit
 * even for a last line, such as a report, that ships the journal before its own entry is
 * in it) and, at the end, "rescue: runbook NAME exit N".
 *
 *   --check    check the runbook only, run nothing
 *
 * Exit codes: N from the last line: the exit of the line that stopped the runbook, else the
 * worst of 0 and 1 seen; 2 the runbook does not parse; 3 it cannot be read.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/err.h"
#include "base/fetch.h"
#include "base/journal.h"
#include "base/paths.h"
#include "base/spawn.h"
#include "cli/command.h"
#include "cli/opt.h"
#include "cli/runbook_parse.h"
#include "usage/runbook.h"

static int runbook_main(int argc, char **argv);

const struct command command_runbook = {
	.name = "runbook",
	.summary = COMMAND_SUMMARY,
	.usage = COMMAND_USAGE,
	.menu_label = "runbook: commands from a file",
	.menu_rank = 92,
	.menu_prompt = "runbook file, name on RESCUECFG, or URL",
	.run = runbook_main,
};

enum { RUNBOOK_SIZE_MAX = 1 << 20, FETCH_SECONDS = 60 };

static int is_url(const char *source)
{
	return strncmp(source, "http://", 7) == 0 || strncmp(source, "https://", 8) == 0;
}

/* The runbook over the network: from a verified https server or checked against its
 * #sha256= pin (base/fetch.h), before a line of it is parsed. */
static int fetch_runbook(const char *url, char **text, size_t *length)
{
	char why[1024];
	int code = fetch_url(url, FETCH_SECONDS, text, length, why, sizeof why);

	if (code != EXIT_OK)
		return err_fatalx(code, "%s", why);
	return EXIT_OK;
}

/* A bare name that is not a file here is looked for on the config disk. */
static void resolve_file(const char *source, char *path, size_t size)
{
	struct stat status;

	if (strchr(source, '/') == NULL && stat(source, &status) != 0)
		snprintf(path, size, "%s/%s", RESCUE_CONFIG_MOUNT, source);
	else
		snprintf(path, size, "%s", source);
}

static int read_file(const char *source, char **text, size_t *length)
{
	char path[4096];
	FILE *file;
	size_t got;

	resolve_file(source, path, sizeof path);
	file = fopen(path, "re");
	if (file == NULL)
		return err_fatal(EXIT_SYSTEM, "unable to read the runbook %s", path);
	*text = malloc(RUNBOOK_SIZE_MAX + 1);
	if (*text == NULL) {
		fclose(file);
		return err_fatal(EXIT_SYSTEM, "unable to read the runbook %s", path);
	}
	got = fread(*text, 1, RUNBOOK_SIZE_MAX + 1, file);
	fclose(file);
	if (got > RUNBOOK_SIZE_MAX)
		return err_fatalx(EXIT_SYSTEM, "the runbook %s is larger than 1 MiB", path);
	(*text)[got] = '\0';
	*length = got;
	return EXIT_OK;
}

/* The line's command runs in a child as if typed, so it journals itself as a runbook line
 * and a crash in it cannot end the runbook. */
static int run_line(const struct runbook_line *line)
{
	int status, null;
	pid_t child;

	fflush(NULL);
	child = fork();
	if (child < 0)
		return err_fatal(EXIT_SYSTEM, "unable to start line %d", line->number);
	if (child == 0) {
		null = open("/dev/null", O_RDONLY);
		dup2(null, STDIN_FILENO);
		unsetenv(RESCUE_NESTED_ENV);
		setenv(RESCUE_ORIGIN_ENV, "runbook", 1);
		_exit(command_run(line->command, line->argc, (char **)line->argv));
	}
	while (waitpid(child, &status, 0) < 0)
		if (errno != EINTR)
			return err_fatal(EXIT_SYSTEM, "unable to wait for line %d", line->number);
	if (WIFSIGNALED(status)) {
		err_warnx("runbook line %d: %s stopped by signal %d", line->number,
		    line->argv[0], WTERMSIG(status));
		return 128 + WTERMSIG(status);
	}
	return WEXITSTATUS(status);
}

static int run_lines(const struct runbook *book, int *lines_run)
{
	char quoted[1024];
	int i, code, worst = EXIT_OK;

	for (i = 0; i < book->line_count; i++) {
		const struct runbook_line *line = &book->lines[i];

		journal_quote_command(line->argc, (char **)line->argv, quoted, sizeof quoted);
		printf("rescue: runbook %s line %d: rescue %s\n", book->name, line->number, quoted);
		code = run_line(line);
		printf("rescue: runbook %s line %d exit %d\n", book->name, line->number, code);
		(*lines_run)++;
		if (code > EXIT_LOSSES && !line->ignore_failure)
			return code;
		if (code == EXIT_LOSSES && worst == EXIT_OK)
			worst = EXIT_LOSSES;
	}
	return worst;
}

/* The runbook's name in messages: the last part of its path or URL, without a #sha256=
 * pin. */
static const char *base_name(const char *source)
{
	static char name[4096];
	char *slash;

	snprintf(name, sizeof name, "%.*s", (int)strcspn(source, "#"), source);
	slash = strrchr(name, '/');
	return slash && slash[1] ? slash + 1 : name;
}

static int runbook_main(int argc, char **argv)
{
	static const struct option long_options[] = {
		{ "check", no_argument, NULL, 'c' },
		{ 0 },
	};
	struct opt_parser opts = opt_parser(&command_runbook, argc, argv, "", long_options);
	struct runbook book = { 0 };
	int option, check_only = 0, lines_run = 0, code;

	while ((option = opt_next(&opts)) != OPT_DONE) {
		if (option == OPT_STOP)
			return opts.exit_code;
		check_only = 1;
	}
	if (opt_operands(&opts, 1, 1) != 0)
		return opts.exit_code;
	book.name = base_name(opts.operands[0]);
	code = is_url(opts.operands[0]) ? fetch_runbook(opts.operands[0], &book.text, &book.length)
	    : read_file(opts.operands[0], &book.text, &book.length);
	if (code == EXIT_OK)
		code = runbook_parse(&book);
	if (code == EXIT_OK && check_only) {
		printf("runbook %s: %d command%s, all known\n", book.name, book.line_count,
		    book.line_count == 1 ? "" : "s");
	} else if (code == EXIT_OK) {
		code = run_lines(&book, &lines_run);
		journal_summary("runbook %s: %d of %d lines run, exit %d", book.name, lines_run,
		    book.line_count, code);
	}
	if (!check_only)
		printf("rescue: runbook %s exit %d\n", book.name, code);
	free(book.lines);
	free(book.text);
	return code;
}
