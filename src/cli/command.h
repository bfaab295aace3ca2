/* command.h: what every rescue command exports, and the one table of them.
 *
 * Each command lives in cmd/NAME.c and exports `const struct command command_NAME`.
 * The build lists the files in cmd/ into the table (commands.inc), so adding a file there
 * adds the command to the CLI, to `rescue help` and, when it has a menu label, to the
 * menu: the three can never disagree.
 */
#ifndef RESCUE_COMMAND_H
#define RESCUE_COMMAND_H

#include <stddef.h>

/* The widest menu label: 4 + 34 + 2 + 4 + 34 = 78 columns for two entries side by side. */
enum { MENU_LABEL_MAX = 34 };

struct command {
	const char *name;	/* what the user types after "rescue" */
	const char *summary;	/* one line for `rescue help` */
	const char *usage;	/* the full text printed by --help, from the file's top comment */
	const char *menu_label;	/* the menu offers the command under this label (at most
				 * MENU_LABEL_MAX characters: two columns fit 80); NULL: not offered */
	int menu_rank;		/* the menu lists commands by rank, lowest first */
	const char *menu_prompt;	/* asked before the menu runs it ("device (e.g. sda1)");
				 * the answer's words become the operands; NULL: none asked */
	int not_journaled;	/* 1 for the menu: its actions are journaled one by one */
	int (*run)(int argc, char **argv);	/* argv[0] is the command name; returns an exit code */
};

/* The table is sorted by name, so lookups can use bsearch. */
extern const struct command *const command_table[];
extern const size_t command_table_size;

const struct command *command_find(const char *name);
int command_run(const struct command *command, int argc, char **argv);
int command_run_program(int argc, char **argv);

#endif
