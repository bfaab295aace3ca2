/* opt.h: option parsing that every command shares, so --help, a bad option and a wrong
 * number of operands behave the same everywhere: --help prints the usage to stdout (exit 0),
 * anything wrong names the bad value and prints the usage to stderr (exit 2).
 *
 * A command loops on opt_next() and returns opts.exit_code when it sees OPT_STOP:
 *
 *	struct opt_parser opts = opt_parser(&command_disks, argc, argv, "j", long_options);
 *	while ((option = opt_next(&opts)) != OPT_DONE)
 *		switch (option) {
 *		case 'j': json = 1; break;
 *		case OPT_STOP: return opts.exit_code;
 *		}
 *	if (opt_operands(&opts, 1, 1) != 0)
 *		return opts.exit_code;
 */
#ifndef RESCUE_OPT_H
#define RESCUE_OPT_H

#include <getopt.h>

#include "cli/command.h"

enum {
	OPT_DONE = -1,		/* options are over; opts.operands holds the rest */
	OPT_STOP = -2,		/* --help or a bad option: return opts.exit_code now */
	OPT_HELP = 0x100,	/* internal: the value getopt_long returns for --help */
	OPT_MAX_LONG = 16,	/* long options a command may have, --help not counted */
};

struct opt_parser {
	const struct command *command;
	int argc;
	char **argv;
	int exit_code;		/* set when opt_next returns OPT_STOP or opt_operands fails */
	char **operands;	/* set when opt_next returns OPT_DONE */
	int operand_count;
	char short_options[64];	/* ":" (so we report missing values ourselves) + the command's */
	struct option long_options[OPT_MAX_LONG + 2];	/* the command's, --help, terminator */
};

struct opt_parser opt_parser(const struct command *command, int argc, char **argv,
    const char *short_options, const struct option *long_options);
int opt_next(struct opt_parser *opts);
int opt_operands(struct opt_parser *opts, int min, int max);
int opt_no_options(struct opt_parser *opts, int min_operands, int max_operands);
/* TEXT, the value of OPTION, as a whole number of seconds into *SECONDS: 0, or the usage
 * error's exit code (naming OPTION and TEXT) when it is not one. */
int opt_seconds(const struct command *command, const char *option, const char *text,
    long *seconds);
/* NAME, the value of OPTION, as the name of a command's files on the target: 0, or the
 * usage error's exit code when it is empty, holds a '/' or is longer than 200 bytes. */
int opt_file_name(const struct command *command, const char *option, const char *name);
/* The operands SOURCE [TARGET] of a command that writes to a target; TARGET is by default
 * the one set at boot (rescue.target=). 0, or the usage error's exit code: too few or too
 * many operands, or no TARGET and no default. */
int opt_source_target(struct opt_parser *opts, const char **source, const char **target);

#endif
