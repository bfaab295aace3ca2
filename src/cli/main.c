/* main.c: the entry of the rescue multi-call program.
 *
 * How rescue was started decides what it does:
 *   rescue -c 'COMMAND LINE'   run the line with /bin/sh, as sshd does with a login shell
 *                              for `ssh root@HOST 'rescue disks --json'`
 *   rescue                     open the menu; likewise as a login shell (argv[0] "-rescue")
 *   rescue --help | --version  the same as `rescue help` and `rescue version`
 *   rescue COMMAND [ARG...]    run COMMAND from the table
 *
 * Exit codes: those of the command that ran; 2 for an unknown command or option; 3 when
 * /bin/sh cannot be started for -c.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "base/err.h"
#include "base/paths.h"
#include "cli/command.h"

static const char top_usage[] =
    "usage: rescue [COMMAND [ARG...]]\n"
    "       rescue -c 'COMMAND LINE'\n";

/* POSIX gives `sh -c` the words after the line as $0, $1, ...; they pass through. */
static int run_shell_line(int argc, char **argv)
{
	if (argc < 3)
		return err_usage(top_usage, "-c needs a command line");
	argv[0] = "sh";
	execv(RESCUE_SHELL, argv);
	return err_fatal(EXIT_SYSTEM, "unable to run %s", RESCUE_SHELL);
}

/* login(1), getty and dropbear start a login shell with a '-' before its name. */
static int is_login_shell(const char *program)
{
	return program != NULL && program[0] == '-';
}

/* The top level's own options are spelled out, so they cannot collide with a command's. */
static const char *command_name_for(const char *word)
{
	if (strcmp(word, "--help") == 0)
		return "help";
	if (strcmp(word, "--version") == 0)
		return "version";
	return word;
}

static int run_named_command(int argc, char **argv)
{
	const char *name = command_name_for(argv[0]);
	const struct command *command = command_find(name);

	if (command == NULL && name[0] == '-')
		return err_usage(top_usage, "unknown option: %s", name);
	if (command == NULL)
		return err_usage(top_usage, "unknown command: %s", name);
	argv[0] = (char *)command->name;
	return command_run(command, argc, argv);
}

static int open_menu(void)
{
	char *menu_argv[] = { "menu", NULL };

	return command_run(command_find("menu"), 1, menu_argv);
}

int main(int argc, char **argv)
{
	if (argc >= 2 && strcmp(argv[1], "-c") == 0)
		return run_shell_line(argc, argv);
	if (argc < 2 || is_login_shell(argv[0]))
		return open_menu();
	return run_named_command(argc - 1, argv + 1);
}
