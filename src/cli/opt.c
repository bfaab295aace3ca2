/* opt.c: getopt_long wrapped so every command treats --help and mistakes alike. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "cli/opt.h"
#include "target/target.h"

/* Both musl and glibc restart getopt from scratch when optind is 0, which the menu and the
 * tests need: they parse several command lines in one process. A command with more long
 * options than the parser holds is a programming error: it aborts at its first run, before
 * it could silently lose an option. */
struct opt_parser opt_parser(const struct command *command, int argc, char **argv,
    const char *short_options, const struct option *long_options)
{
	struct opt_parser opts = { .command = command, .argc = argc, .argv = argv };
	const struct option help = { "help", no_argument, NULL, OPT_HELP };
	int count = 0;

	snprintf(opts.short_options, sizeof opts.short_options, ":%s",
	    short_options ? short_options : "");
	while (long_options && long_options[count].name) {
		if (count == OPT_MAX_LONG)
			abort();
		opts.long_options[count] = long_options[count];
		count++;
	}
	opts.long_options[count] = help;
	optind = 0;
	opterr = 0;
	return opts;
}

/* True when WORD ("--name" or "--name=value") is the long form of the option VALUE. */
static int is_long_form(const struct opt_parser *opts, const char *word, int value)
{
	const struct option *option;

	if (strncmp(word, "--", 2) != 0)
		return 0;
	for (option = opts->long_options; option->name; option++)
		if (option->val == value && strncmp(word + 2, option->name, strlen(option->name)) == 0)
			return 1;
	return 0;
}

/* getopt keeps a bad letter in optopt, sets optopt to 0 for an unknown long option, and to
 * the option's value for a long option used wrongly; for long options it has already
 * stepped past the word, so argv[optind - 1] is what the user typed. */
static int opt_reject(struct opt_parser *opts, const char *problem)
{
	const char *previous = opts->argv[optind - 1];
	char letter[3] = { '-', (char)optopt, '\0' };
	const char *given = letter;

	if (optopt == 0 || is_long_form(opts, previous, optopt))
		given = previous;
	opts->exit_code = err_usage(opts->command->usage, "%s: %s", problem, given);
	return OPT_STOP;
}

int opt_next(struct opt_parser *opts)
{
	int option = getopt_long(opts->argc, opts->argv, opts->short_options,
	    opts->long_options, NULL);

	switch (option) {
	case -1:
		opts->operands = opts->argv + optind;
		opts->operand_count = opts->argc - optind;
		return OPT_DONE;
	case OPT_HELP:
		fputs(opts->command->usage, stdout);
		opts->exit_code = EXIT_OK;
		return OPT_STOP;
	case '?':
		return opt_reject(opts, "unknown option");
	case ':':
		return opt_reject(opts, "option needs a value");
	}
	return option;
}

int opt_operands(struct opt_parser *opts, int min, int max)
{
	if (opts->operand_count < min) {
		opts->exit_code = err_usage(opts->command->usage, "missing operand after %s",
		    opts->argc > 0 ? opts->argv[opts->argc - 1] : opts->command->name);
		return -1;
	}
	if (max >= 0 && opts->operand_count > max) {
		opts->exit_code = err_usage(opts->command->usage, "unexpected operand: %s",
		    opts->operands[max]);
		return -1;
	}
	return 0;
}

/* For commands that take no options of their own; any option a command did not declare
 * comes back from getopt as an error, so the loop only sees OPT_STOP or OPT_DONE. */
int opt_no_options(struct opt_parser *opts, int min_operands, int max_operands)
{
	int option;

	while ((option = opt_next(opts)) != OPT_DONE)
		if (option == OPT_STOP)
			return -1;
	return opt_operands(opts, min_operands, max_operands);
}

int opt_seconds(const struct command *command, const char *option, const char *text,
    long *seconds)
{
	char *end;

	*seconds = strtol(text, &end, 10);
	if (*end || end == text || *seconds < 0)
		return err_usage(command->usage, "%s %s: not a number of seconds", option, text);
	return 0;
}

int opt_file_name(const struct command *command, const char *option, const char *name)
{
	if (!name[0] || strchr(name, '/') || strlen(name) > 200)
		return err_usage(command->usage, "%s %s: not a plain file name", option, name);
	return 0;
}

int opt_source_target(struct opt_parser *opts, const char **source, const char **target)
{
	if (opt_operands(opts, 1, 2) != 0)
		return opts->exit_code;
	*source = opts->operands[0];
	*target = opts->operand_count > 1 ? opts->operands[1] : target_default();
	if (*target == NULL)
		return err_usage(opts->command->usage, "no TARGET given and no default target "
		    "(rescue.target=) set");
	return 0;
}
