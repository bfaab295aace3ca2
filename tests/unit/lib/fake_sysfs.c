/* fake_sysfs.c: builds and removes the fake sysfs trees the tests read. */
#define _XOPEN_SOURCE 700
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "lib/fake_sysfs.h"

char *fake_sysfs_create(void)
{
	const char *tmp = getenv("TMPDIR");
	char *root = malloc(4096);

	if (root == NULL)
		abort();
	snprintf(root, 4096, "%s/rescue-sysfs-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (mkdtemp(root) == NULL)
		abort();
	return root;
}

/* Creates every directory on the way, as sysfs has them all. */
void fake_sysfs_write(const char *root, const char *path, const char *content)
{
	char full[4096], *slash;
	FILE *file;

	snprintf(full, sizeof full, "%s/%s", root, path);
	for (slash = strchr(full + strlen(root) + 1, '/'); slash; slash = strchr(slash + 1, '/')) {
		*slash = '\0';
		mkdir(full, 0755);
		*slash = '/';
	}
	file = fopen(full, "w");
	if (file == NULL)
		abort();
	fputs(content, file);
	fclose(file);
}

static int remove_one(const char *path, const struct stat *status, int type, struct FTW *walk)
{
	(void)status;
	(void)type;
	(void)walk;
	return remove(path);
}

void fake_sysfs_remove(char *root)
{
	nftw(root, remove_one, 16, FTW_DEPTH | FTW_PHYS);
	free(root);
}

char *fake_sysfs_with_disks(void)
{
	char *root = fake_sysfs_create();

	fake_sysfs_write(root, "block/sda/size", "2097152\n");
	fake_sysfs_write(root, "block/sda/ro", "1\n");
	fake_sysfs_write(root, "block/sda/guard", "1\n");
	fake_sysfs_write(root, "block/sda/rejected_writes", "5\n");
	fake_sysfs_write(root, "block/sda/device/model", "QEMU HARDDISK   \n");
	fake_sysfs_write(root, "block/sdb/size", "8\n");
	fake_sysfs_write(root, "block/sdb/ro", "0\n");
	fake_sysfs_write(root, "block/sdb/guard", "0\n");
	fake_sysfs_write(root, "block/sdb/rejected_writes", "2\n");
	fake_sysfs_write(root, "block/sdb/device/model", "DISK TWO\n");
	fake_sysfs_write(root, "block/vda/size", "0\n");
	fake_sysfs_write(root, "block/vda/device/vendor", "0x1af4\n");
	fake_sysfs_write(root, "block/loop0/guard", "1\n");
	fake_sysfs_write(root, "block/loop0/rejected_writes", "many\n");
	return root;
}
