/* fake_sysfs.h: a temporary directory laid out like /sys, for tests of sysfs readers. */
#ifndef TEST_FAKE_SYSFS_H
#define TEST_FAKE_SYSFS_H

char *fake_sysfs_create(void);
void fake_sysfs_write(const char *root, const char *path, const char *content);
void fake_sysfs_remove(char *root);

/* Four devices: sda (guarded, 5 rejected, ro, model), sdb (unguarded, 2 rejected), vda
 * (a kernel without the guard patch: no attributes), loop0 (guarded, unreadable count). */
char *fake_sysfs_with_disks(void);

#endif
