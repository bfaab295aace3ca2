/* help: list the commands, or show the usage of one
 *
 * usage: rescue [COMMAND [ARG...]]
 *        rescue -c 'COMMAND LINE'
 *        rescue help [COMMAND]
 *
 * Without a command, rescue opens the menu (also when it runs as a login shell). With -c it
 * runs the line with /bin/sh, as `ssh root@HOST 'rescue disks --json'` needs. `rescue help`
 * lists the commands; `rescue help COMMAND` is the same as `rescue COMMAND --help`.
 *
 * Exit codes of every command: 0 ok, 1 finished with losses (bad sectors, partial files),
 * 2 usage error, 3 environment or system error.
 */
#include <stdio.h>

#include "base/err.h"
#include "cli/command.h"
#include "cli/opt.h"
#include "usage/help.h"

static int help_main(int argc, char **argv);

const struct command command_help = {
	.name = "help",
	.summary = COMMAND_SUMMARY,
	.usage = COMMAND_USAGE,
	.menu_label = NULL,
	.run = help_main,
};

static void list_commands(void)
{
	size_t i;

	fputs(command_help.usage, stdout);
	fputs("\nCommands:\n", stdout);
	for (i = 0; i < command_table_size; i++)
		printf("  %-10s %s\n", command_table[i]->name, command_table[i]->summary);
	fputs("\nRun 'rescue COMMAND --help' for the usage of one command.\n", stdout);
}

static int help_main(int argc, char **argv)
{
	struct opt_parser opts = opt_parser(&command_help, argc, argv, NULL, NULL);
	const struct command *command;

	if (opt_no_options(&opts, 0, 1) != 0)
		return opts.exit_code;
	if (opts.operand_count == 0) {
		list_commands();
		return EXIT_OK;
	}
	command = command_find(opts.operands[0]);
	if (command == NULL)
		return err_usage(command_help.usage, "unknown command: %s", opts.operands[0]);
	fputs(command->usage, stdout);
	return EXIT_OK;
}
