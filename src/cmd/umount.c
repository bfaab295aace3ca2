/* umount: unmount a file system that `rescue mount` mounted
 *
 * usage: rescue umount DEV|DIR
 *
 * Unmounts the device DEV (sda1 or /dev/sda1) wherever it is mounted, or whatever is
 * mounted on the directory DIR, and removes the directory when it is an empty one under
 * /mnt (as `rescue mount` makes them). A repaired copy is removed with
 * `rescue repair --release DEV` instead.
 *
 * Exit codes: 0 unmounted, 2 usage error, 3 not unmounted (not mounted, or busy: a shell
 * or a program still has a file open there).
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/err.h"
#include "base/journal.h"
#include "cli/command.h"
#include "cli/opt.h"
#include "disk/device.h"
#include "usage/umount.h"

static int umount_main(int argc, char **argv);

const struct command command_umount = {
	.name = "umount",
	.summary = COMMAND_SUMMARY,
	.usage = COMMAND_USAGE,
	.menu_label = "unmount a file system",
	.menu_rank = 25,
	.menu_prompt = "device or directory (e.g. sda1)",
	.run = umount_main,
};

/* A directory operand names its mount; anything else must be a device that is mounted. */
static int find_mount(const char *operand, char *dir, size_t size)
{
	struct device device;
	struct stat status;
	dev_t rdev;

	if (operand[0] == '/' && stat(operand, &status) == 0 && S_ISDIR(status.st_mode)) {
		if (realpath(operand, dir) == NULL || strlen(dir) >= size)
			return err_fatal(EXIT_SYSTEM, "unable to unmount %s", operand);
		if (device_mounted_at(NULL, dir, &rdev) != 1)
			return err_fatalx(EXIT_SYSTEM, "unable to unmount %s: nothing is mounted "
			    "there", operand);
		return 0;
	}
	if (device_resolve(operand, &device) != 0)
		return err_fatalx(EXIT_SYSTEM, "unable to unmount %s: %s", operand,
		    device_resolve_error(errno));
	if (device_mount_point(NULL, device.rdev, dir, size) != 1)
		return err_fatalx(EXIT_SYSTEM, "unable to unmount %s: it is not mounted",
		    device.name);
	return 0;
}

static int umount_main(int argc, char **argv)
{
	struct opt_parser opts = opt_parser(&command_umount, argc, argv, NULL, NULL);
	char dir[PATH_MAX];
	int code, removed = 0;

	if (opt_no_options(&opts, 1, 1) != 0)
		return opts.exit_code;
	if ((code = find_mount(opts.operands[0], dir, sizeof dir)) != 0)
		return code;
	if (umount2(dir, 0) != 0) {
		if (errno == EBUSY)
			return err_fatal(EXIT_SYSTEM, "unable to unmount %s (a shell or program "
			    "still uses it: cd out of it, end the program)", dir);
		return err_fatal(EXIT_SYSTEM, "unable to unmount %s", dir);
	}
	/* rmdir removes only an empty directory: never anything a user put there. */
	if (strncmp(dir, "/mnt/", 5) == 0 && rmdir(dir) == 0)
		removed = 1;
	printf("unmounted %s%s\n", dir, removed ? " (and removed the empty directory)" : "");
	journal_summary("unmounted %s", dir);
	return EXIT_OK;
}
