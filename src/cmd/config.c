/* config: read a rescue.conf and show what the appliance makes of it
 *
 * usage: rescue config [--raw] [FILE]
 *
 * Reads FILE (default: rescue.conf on the RESCUECFG disk) as the boot scripts do, and prints
 * one line per setting or problem, in file order:
 *
 *   N NAME=VALUE        line N sets NAME (a leading "rescue." dropped); control and
 *                       non-ASCII bytes in cat -v's notation (^[ for ESC, M-x for high
 *                       bytes), so a file of noise cannot drive the terminal
 *   N !PROBLEM          line N is not used, and why; its text shown the same way, cut
 *                       after 60 bytes
 *
 *   --raw    settings as the file has them (any byte but NUL and newline): the boot
 *            scripts read this (rootfs/lib/rescue/params.sh) and escape what they show
 * Syntax: '#' starts a comment,
 * blanks around the line and around the first '=' are dropped, blank lines are skipped.
 * Whether a NAME is known is checked at boot, where unknown ones are named on the console.
 *
 * Exit codes: 0 every line used, 1 some lines were not (each printed with '!'), 2 usage
 * error, 3 the file cannot be read or is larger than 1 MiB.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/paths.h"
#include "base/shown.h"
#include "cli/command.h"
#include "cli/conf_parse.h"
#include "cli/opt.h"
#include "usage/config.h"

static int config_main(int argc, char **argv);

const struct command command_config = {
	.name = "config",
	.summary = COMMAND_SUMMARY,
	.usage = COMMAND_USAGE,
	.run = config_main,
};

enum { SHOWN_MAX = 60 };

static void print_entry(void *context, int line, const char *name, const char *value,
    const char *problem)
{
	const int *raw = context;

	if (problem == NULL && *raw) {
		printf("%d %s=%s\n", line, name, value);
		return;
	}
	if (problem == NULL) {
		printf("%d ", line);
		shown_write(stdout, name, SHOWN_UNCUT);
		putchar('=');
		shown_write(stdout, value, SHOWN_UNCUT);
		putchar('\n');
		return;
	}
	printf("%d !%s", line, problem);
	if (name) {
		fputs(", got '", stdout);
		shown_write(stdout, name, SHOWN_MAX);
		putchar('\'');
	}
	fputs(" (ignored)\n", stdout);
}

static int read_whole(const char *path, char **text, size_t *length)
{
	FILE *file = fopen(path, "re");

	if (file == NULL)
		return err_fatal(EXIT_SYSTEM, "unable to read %s", path);
	*text = malloc(CONF_SIZE_MAX + 1);
	*length = *text ? fread(*text, 1, CONF_SIZE_MAX + 1, file) : 0;
	fclose(file);
	if (*text == NULL)
		return err_fatal(EXIT_SYSTEM, "unable to read %s", path);
	if (*length > CONF_SIZE_MAX)
		return err_fatalx(EXIT_SYSTEM, "unable to use %s: larger than 1 MiB", path);
	return EXIT_OK;
}

static int config_main(int argc, char **argv)
{
	static const struct option long_options[] = { { "raw", no_argument, NULL, 'r' }, { 0 } };
	struct opt_parser opts = opt_parser(&command_config, argc, argv, "", long_options);
	const char *path = RESCUE_CONFIG_MOUNT "/rescue.conf";
	char *text = NULL;
	size_t length = 0;
	int code, problems, raw = 0, option;

	while ((option = opt_next(&opts)) != OPT_DONE) {
		if (option == OPT_STOP)
			return opts.exit_code;
		raw = 1;
	}
	if (opt_operands(&opts, 0, 1) != 0)
		return opts.exit_code;
	if (opts.operand_count == 1)
		path = opts.operands[0];
	code = read_whole(path, &text, &length);
	if (code != EXIT_OK) {
		free(text);
		return code;
	}
	problems = conf_parse(text, length, print_entry, &raw);
	free(text);
	if (problems < 0)
		return err_fatalx(EXIT_SYSTEM, "unable to read %s: out of memory", path);
	return problems ? EXIT_LOSSES : EXIT_OK;
}
