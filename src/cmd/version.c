/* version: print the version of this rescue build
 *
 * usage: rescue version
 *
 * Prints "rescue VERSION" on one line. The version is fixed when the appliance is built, so
 * a bug report can name the exact image.
 *
 * Exit codes: 0 printed, 2 usage error.
 */
#include <stdio.h>

#include "base/err.h"
#include "cli/command.h"
#include "cli/opt.h"
#include "version.h"
#include "usage/version.h"

static int version_main(int argc, char **argv);

const struct command command_version = {
	.name = "version",
	.summary = COMMAND_SUMMARY,
	.usage = COMMAND_USAGE,
	.menu_label = "show the rescue version",
	.menu_rank = 99,
	.run = version_main,
};

static int version_main(int argc, char **argv)
{
	struct opt_parser opts = opt_parser(&command_version, argc, argv, NULL, NULL);

	if (opt_no_options(&opts, 0, 0) != 0)
		return opts.exit_code;
	printf("rescue %s\n", RESCUE_VERSION);
	return EXIT_OK;
}
