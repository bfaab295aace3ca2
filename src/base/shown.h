/* shown.h: outside text (file names from a damaged disk, lines of a config file) written
 * to a terminal without letting it drive the terminal: control and non-ASCII bytes in
 * cat -v's notation (^[ for ESC, ^I for a tab, M-x for a byte with the high bit set). */
#ifndef RESCUE_SHOWN_H
#define RESCUE_SHOWN_H

#include <stddef.h>
#include <stdio.h>

enum { SHOWN_UNCUT = (size_t)-1 };

/* TEXT to OUT as above; after LIMIT bytes of TEXT it stops and writes "...". */
void shown_write(FILE *out, const char *text, size_t limit);

#endif
