/* menu: the numbered menu for serial consoles, VGA consoles and SSH
 *
 * usage: rescue menu
 *
 * Shows the host, its IPv4 addresses, how many disks are guarded, how many writes the guard
 * rejected and whether the SSH server runs, then a numbered list of actions. Type a number
 * and Enter; Enter alone shows the menu again; q or the end of input (Ctrl-D) leaves.
 * Before it runs, each action prints the command line that does the same ("$ poweroff"),
 * so a session can be repeated by hand.
 *
 * Each action runs in a child process: Ctrl-C stops the action and comes back here, and an
 * action that crashes never ends the menu. Reboot and power off ask for "yes" first.
 * rescue opens this menu when it runs without a command or as a login shell.
 *
 * Exit codes: 0 the user left or the input ended, 2 usage error, 3 no memory.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "base/err.h"
#include "base/journal.h"
#include "base/oom.h"
#include "base/paths.h"
#include "cli/command.h"
#include "cli/opt.h"
#include "cli/status.h"
#include "disk/block.h"
#include "usage/menu.h"

static int menu_main(int argc, char **argv);

const struct command command_menu = {
	.name = "menu",
	.summary = COMMAND_SUMMARY,
	.usage = COMMAND_USAGE,
	.menu_label = NULL,
	.not_journaled = 1,
	.run = menu_main,
};

enum { MENU_SIGNAL_COUNT = 4 };

struct menu_action;

struct menu_entry {
	const char *label;
	const char *command_line;	/* printed before the action: what to type to do the same */
	const char *question;		/* asked first when the action cannot be undone */
	int (*run)(const struct menu_action *action);	/* runs in the child; returns its exit code */
	const struct command *command;	/* the table command that run_table_command runs */
	char rescue_line[48];		/* "rescue NAME": the command line of a table command */
};

enum { MENU_OPERANDS_MAX = 16 };

/* One run of an action: the operands the user typed for it and the full command line. */
struct menu_action {
	const struct menu_entry *entry;
	char answer[256];		/* the operands as typed; words are cut out of it in place */
	char *operands[MENU_OPERANDS_MAX];
	int operand_count;
	char command_line[512];		/* printed first and written to the journal */
};

/* What the menu changed in its process, kept to be put back when it returns. */
struct menu_state {
	struct menu_entry *entries;
	size_t entry_count;
	int terminal;			/* stdin is a terminal and its modes are saved below */
	struct termios modes;
	struct sigaction saved_signals[MENU_SIGNAL_COUNT];
};

static const int menu_signals[MENU_SIGNAL_COUNT] = { SIGINT, SIGQUIT, SIGTSTP, SIGTTOU };

static int run_shell_line(const struct menu_action *action)
{
	execl(RESCUE_SHELL, "sh", "-c", action->entry->command_line, (char *)NULL);
	return err_fatal(EXIT_SYSTEM, "unable to run %s", RESCUE_SHELL);
}

/* The shell is started directly, not through `sh -c`, so the menu's child is the shell
 * itself and its end (exit code or signal) is what the menu reports. */
static int run_login_shell(const struct menu_action *action)
{
	(void)action;
	execl(RESCUE_SHELL, "sh", "-l", (char *)NULL);
	return err_fatal(EXIT_SYSTEM, "unable to run %s", RESCUE_SHELL);
}

static int run_table_command(const struct menu_action *action)
{
	char *argv[MENU_OPERANDS_MAX + 2] = { (char *)action->entry->command->name };
	int i;

	for (i = 0; i < action->operand_count; i++)
		argv[i + 1] = action->operands[i];
	return command_run(action->entry->command, action->operand_count + 1, argv);
}

static const struct menu_entry fixed_entries[] = {
	{ .label = "busybox shell (exit comes back)", .command_line = "sh -l",
	    .run = run_login_shell },
	{ .label = "kernel log, last 20 lines", .command_line = "dmesg | tail -n 20",
	    .run = run_shell_line },
	{ .label = "reboot", .command_line = "reboot", .run = run_shell_line,
	    .question = "Reboot now? Whatever is not saved on a target is lost." },
	{ .label = "power off", .command_line = "poweroff", .run = run_shell_line,
	    .question = "Power off now? Whatever is not saved on a target is lost." },
};

static int compare_rank(const void *a, const void *b)
{
	const struct command *const *left = a, *const *right = b;

	if ((*left)->menu_rank != (*right)->menu_rank)
		return (*left)->menu_rank < (*right)->menu_rank ? -1 : 1;
	return strcmp((*left)->name, (*right)->name);
}

/* Every table command that has a menu label comes first, by rank, so a command added to the
 * table shows up here without touching this file; the fixed actions follow. */
static int menu_build(struct menu_state *menu)
{
	size_t fixed = sizeof fixed_entries / sizeof fixed_entries[0], i;
	const struct command **ranked;
	struct menu_entry *entry;

	menu->entries = calloc(fixed + command_table_size, sizeof *menu->entries);
	ranked = calloc(command_table_size, sizeof *ranked);
	if (menu->entries == NULL || ranked == NULL) {
		free(ranked);
		return -1;
	}
	memcpy(ranked, command_table, command_table_size * sizeof *ranked);
	qsort(ranked, command_table_size, sizeof *ranked, compare_rank);
	menu->entry_count = 0;
	for (i = 0; i < command_table_size; i++) {
		if (ranked[i]->menu_label == NULL)
			continue;
		entry = &menu->entries[menu->entry_count++];
		entry->label = ranked[i]->menu_label;
		snprintf(entry->rescue_line, sizeof entry->rescue_line, "rescue %s",
		    ranked[i]->name);
		entry->command_line = entry->rescue_line;
		entry->run = run_table_command;
		entry->command = ranked[i];
	}
	free(ranked);
	memcpy(menu->entries + menu->entry_count, fixed_entries, sizeof fixed_entries);
	menu->entry_count += fixed;
	return 0;
}

/* Does nothing: catching SIGINT (not ignoring it) makes a read at the prompt return EINTR,
 * so Ctrl-C there gives a fresh prompt, and exec gives the children the default action. */
static void on_interrupt(int signal_number)
{
	(void)signal_number;
}

/* SIGTSTP stays ignored in the children too: the menu has no job control, so a stopped
 * action could never be resumed and the menu would wait for it forever. The busybox shell
 * does its own job control and is not affected. */
static void signals_take(struct menu_state *menu)
{
	struct sigaction action = { .sa_handler = SIG_IGN };
	size_t i;

	sigemptyset(&action.sa_mask);
	for (i = 0; i < MENU_SIGNAL_COUNT; i++) {
		action.sa_handler = menu_signals[i] == SIGINT ? on_interrupt : SIG_IGN;
		sigaction(menu_signals[i], &action, &menu->saved_signals[i]);
	}
}

static void signals_restore(const struct menu_state *menu)
{
	size_t i;

	for (i = 0; i < MENU_SIGNAL_COUNT; i++)
		sigaction(menu_signals[i], &menu->saved_signals[i], NULL);
}

static void signals_default_for_child(void)
{
	signal(SIGINT, SIG_DFL);
	signal(SIGQUIT, SIG_DFL);
	signal(SIGTTOU, SIG_DFL);
}

static void terminal_save(struct menu_state *menu)
{
	menu->terminal = isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &menu->modes) == 0;
}

/* An action may leave the terminal without echo, raw, or owned by its own process group (a
 * shell with job control that crashed); take it back before reading the next choice. The
 * menu ignores SIGTTOU, so it may do this from the background. */
static void terminal_restore(const struct menu_state *menu)
{
	if (!menu->terminal)
		return;
	tcsetpgrp(STDIN_FILENO, getpgrp());
	tcsetattr(STDIN_FILENO, TCSADRAIN, &menu->modes);
}

enum input { INPUT_LINE, INPUT_END, INPUT_INTERRUPTED };

/* Reads one byte at a time: a buffered read would swallow lines meant for the action that
 * runs next (the shell action reads the same input). A read error counts as the end of
 * input, because a terminal that hung up will not come back. */
static enum input read_line(char *line, size_t size)
{
	size_t length = 0;
	char byte;

	for (;;) {
		ssize_t got = read(STDIN_FILENO, &byte, 1);

		if (got < 0 && errno == EINTR)
			return INPUT_INTERRUPTED;
		if (got <= 0 && length == 0)
			return INPUT_END;
		if (got <= 0 || byte == '\n')
			break;
		if (length + 1 < size)
			line[length++] = byte;
	}
	line[length] = '\0';
	return INPUT_LINE;
}

/* Serial terminals may send "\r\n"; spaces around a choice mean nothing either. */
static char *trim(char *text)
{
	size_t length = strlen(text);

	while (length > 0 && strchr(" \t\r", text[length - 1]))
		text[--length] = '\0';
	return text + strspn(text, " \t");
}

/* Without a terminal nothing echoes what was read; echoing it keeps transcripts of piped
 * and serial sessions readable. */
static enum input read_answer(const struct menu_state *menu, char *line, size_t size)
{
	enum input input = read_line(line, size);

	if (input == INPUT_LINE && !menu->terminal)
		printf("%s\n", line);
	return input;
}

static int confirmed(const struct menu_state *menu, const char *question)
{
	char answer[16];

	printf("%s Type yes to go on: ", question);
	fflush(stdout);
	if (read_answer(menu, answer, sizeof answer) == INPUT_LINE
	    && strcmp(trim(answer), "yes") == 0)
		return 1;
	printf("Not done.\n");
	return 0;
}

/* Said in the menu and the journal when the kernel killed a command for want of memory:
 * what it finished is on its target, and the same command goes on from there. */
static const char oom_text[] = "killed by the kernel: out of memory; what it finished is "
    "on its target (a dump resumes from NAME.manifest.state, an image from NAME.map): run "
    "the same command again, with less else running";

static void report_status(int status, int out_of_memory)
{
	if (WIFEXITED(status))
		printf("[exit %d]\n", WEXITSTATUS(status));
	else if (out_of_memory)
		printf("[%s]\n", oom_text);
	else if (WIFSIGNALED(status))	/* after Ctrl-C the terminal shows "^C" on the line */
		printf("%s[stopped by signal %d: %s]\n", WTERMSIG(status) == SIGINT ? "\n" : "",
		    WTERMSIG(status), strsignal(WTERMSIG(status)));
}

/* A table command journals itself; when it dies of a signal it cannot, so the menu writes
 * the entry for it: the timeline must show the attempt. */
static void journal_death(const struct menu_action *action, int status, int out_of_memory,
    time_t started, const struct timespec *start)
{
	struct timespec now;
	char exit_text[16];

	if (action->entry->command == NULL || !WIFSIGNALED(status))
		return;
	clock_gettime(CLOCK_MONOTONIC, &now);
	snprintf(exit_text, sizeof exit_text, "signal %d", WTERMSIG(status));
	journal_append(action->command_line, started, (double)(now.tv_sec - start->tv_sec)
	    + (now.tv_nsec - start->tv_nsec) / 1e9, exit_text, out_of_memory ? oom_text
	    : strsignal(WTERMSIG(status)));
}

static void run_action(const struct menu_state *menu, const struct menu_action *action)
{
	struct timespec start;
	time_t started = time(NULL);
	pid_t child;
	int status, out_of_memory;

	printf("$ %s\n", action->command_line);
	fflush(stdout);
	clock_gettime(CLOCK_MONOTONIC, &start);
	child = fork();
	if (child < 0) {
		err_warn("unable to start %s", action->command_line);
		return;
	}
	if (child == 0) {
		signals_default_for_child();
		exit(action->entry->run(action));
	}
	while (waitpid(child, &status, 0) < 0) {
		if (errno != EINTR) {
			err_warn("unable to wait for %s", action->command_line);
			terminal_restore(menu);
			return;
		}
	}
	terminal_restore(menu);
	out_of_memory = WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL && oom_killed(child);
	journal_death(action, status, out_of_memory, started, &start);
	report_status(status, out_of_memory);
}

/* Splits the answer into words at blanks; the menu has no quoting, a runbook or the shell
 * is there for operands with spaces. Returns -1 when there are too many words. */
static int split_words(struct menu_action *action)
{
	char *word, *cursor = action->answer;

	action->operand_count = 0;
	while ((word = strtok_r(cursor, " \t\r", &cursor)) != NULL) {
		if (action->operand_count == MENU_OPERANDS_MAX)
			return -1;
		action->operands[action->operand_count++] = word;
	}
	return 0;
}

/* Asks for the operands a command needs; returns 0 when the action should run. */
static int prepare_action(const struct menu_state *menu, const struct menu_entry *entry,
    struct menu_action *action)
{
	size_t length;

	memset(action, 0, sizeof *action);
	action->entry = entry;
	snprintf(action->command_line, sizeof action->command_line, "%s", entry->command_line);
	if (entry->command == NULL || entry->command->menu_prompt == NULL)
		return 0;
	printf("%s (Enter alone goes back): ", entry->command->menu_prompt);
	fflush(stdout);
	if (read_answer(menu, action->answer, sizeof action->answer) != INPUT_LINE)
		return -1;
	if (split_words(action) != 0) {
		printf("More than %d words; use the shell for that.\n", MENU_OPERANDS_MAX);
		return -1;
	}
	if (action->operand_count == 0)
		return -1;
	length = strlen(action->command_line);
	action->command_line[length++] = ' ';
	journal_quote_command(action->operand_count, action->operands,
	    action->command_line + length, sizeof action->command_line - length);
	return 0;
}

/* Two columns, numbered down the left one first, so the header, the whole menu and the
 * prompt fit an 80x24 terminal; a label is at most MENU_LABEL_MAX characters (test_cli
 * checks every command's). No line reaches column 80, where some terminals wrap. */
static void show_menu(const struct menu_state *menu)
{
	size_t rows = (menu->entry_count + 1) / 2, row;
	const struct menu_entry *right;

	putchar('\n');
	status_print(stdout, block_sysfs_root(), RESCUE_SSH_PIDFILE);
	putchar('\n');
	for (row = 0; row < rows; row++) {
		right = row + rows < menu->entry_count ? &menu->entries[row + rows] : NULL;
		if (right == NULL) {
			printf("%2zu) %s\n", row + 1, menu->entries[row].label);
			continue;
		}
		printf("%2zu) %-*.*s  %2zu) %.*s\n", row + 1, MENU_LABEL_MAX, MENU_LABEL_MAX,
		    menu->entries[row].label, row + rows + 1, MENU_LABEL_MAX, right->label);
	}
	printf(" q) quit\n");
}

static const struct menu_entry *find_entry(const struct menu_state *menu, const char *choice)
{
	unsigned long number;
	char *end;

	if (choice[0] < '1' || choice[0] > '9')
		return NULL;
	number = strtoul(choice, &end, 10);
	if (*end != '\0' || number > menu->entry_count)
		return NULL;
	return &menu->entries[number - 1];
}

/* Returns when the user quits or the input ends; nothing an action does ends it. */
static int menu_loop(const struct menu_state *menu)
{
	const struct menu_entry *entry;
	struct menu_action action;
	char line[32], *choice;

	show_menu(menu);
	for (;;) {
		printf("\nChoose 1-%zu, q to quit, Enter for the menu: ", menu->entry_count);
		fflush(stdout);
		switch (read_answer(menu, line, sizeof line)) {
		case INPUT_END:
			putchar('\n');
			return EXIT_OK;
		case INPUT_INTERRUPTED:
			continue;
		case INPUT_LINE:
			break;
		}
		choice = trim(line);
		if (choice[0] == '\0') {
			show_menu(menu);
			continue;
		}
		if (strcmp(choice, "q") == 0)
			return EXIT_OK;
		entry = find_entry(menu, choice);
		if (entry == NULL)
			printf("There is no entry %s.\n", choice);
		else if (prepare_action(menu, entry, &action) != 0)
			printf("Not done.\n");
		else if (entry->question == NULL || confirmed(menu, entry->question))
			run_action(menu, &action);
	}
}

static int menu_main(int argc, char **argv)
{
	struct opt_parser opts = opt_parser(&command_menu, argc, argv, NULL, NULL);
	struct menu_state menu = { 0 };
	int code;

	if (opt_no_options(&opts, 0, 0) != 0)
		return opts.exit_code;
	if (menu_build(&menu) != 0)
		return err_fatal(EXIT_SYSTEM, "unable to build the menu");
	/* Everything started from here, and the entries the menu writes itself, say so. */
	setenv(RESCUE_ORIGIN_ENV, "menu", 1);
	terminal_save(&menu);
	signals_take(&menu);
	code = menu_loop(&menu);
	signals_restore(&menu);
	terminal_restore(&menu);
	free(menu.entries);
	fflush(stdout);
	return code;
}
