/* shown.c: outside text made safe for a terminal (shown.h). */
#include "base/shown.h"

void shown_write(FILE *out, const char *text, size_t limit)
{
	unsigned char c;
	size_t i;

	for (i = 0; text[i] && i < limit; i++) {
		c = (unsigned char)text[i];
		if (c >= 0x80) {
			fputs("M-", out);
			c -= 0x80;
		}
		if (c < 0x20 || c == 0x7f) {
			putc('^', out);
			putc(c == 0x7f ? '?' : c + '@', out);
		} else {
			putc(c, out);
		}
	}
	if (text[i])
		fputs("...", out);
}
