/* busy.h: the busy file of a device being read (RESCUE_BUSY_DIR/NAME), which tells
 * `rescue unguard` and `rescue disks` that a command holds it. */
#ifndef RESCUE_BUSY_H
#define RESCUE_BUSY_H

#include <stddef.h>

/* Who holds a device: the command named in its busy file and its process (0: none named,
 * as a repair's file, which outlives the command that wrote it). */
struct busy_holder {
	char command[32];
	long pid;
};

/* Marks NAME busy for COMMAND (this process) writing to TARGET, unless a live holder's
 * file is there (a repair's, or another running command's): that one is left alone and
 * described in HOLDER. Returns 1 when the file was written (busy_unmark removes it), 0
 * when not: the mark is a hint to other commands and never stops the work. */
int busy_mark(const char *dir, const char *name, const char *command, const char *target,
    struct busy_holder *holder);
void busy_unmark(const char *dir, const char *name);
/* The busy file of NAME in DIR. */
void busy_path(const char *dir, const char *name, char *path, size_t size);

#endif
