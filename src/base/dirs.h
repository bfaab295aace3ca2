/* dirs.h: folders made with their parents, as `mkdir -p` does. */
#ifndef RESCUE_DIRS_H
#define RESCUE_DIRS_H

/* Makes DIR and the folders above it (mode 0755) that do not exist; what cannot be made
 * shows when DIR is used. */
void make_dirs(const char *dir);

#endif
