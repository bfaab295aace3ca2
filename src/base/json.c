/* json.c: string escaping for --json output (rules in json.h). */
#include <stdio.h>
#include <string.h>

#include "base/json.h"

/* Length of the valid UTF-8 sequence at TEXT, or 0 when the bytes there are not one. */
static size_t utf8_sequence(const unsigned char *text)
{
	size_t length, i;
	unsigned lead = text[0];
	unsigned long code;

	if (lead < 0x80)
		return 1;
	if (lead >= 0xc2 && lead <= 0xdf)
		length = 2, code = lead & 0x1f;
	else if (lead >= 0xe0 && lead <= 0xef)
		length = 3, code = lead & 0x0f;
	else if (lead >= 0xf0 && lead <= 0xf4)
		length = 4, code = lead & 0x07;
	else
		return 0;
	for (i = 1; i < length; i++) {
		if ((text[i] & 0xc0) != 0x80)
			return 0;
		code = code << 6 | (text[i] & 0x3f);
	}
	/* Overlong forms, UTF-16 surrogates and code points past U+10FFFF are not UTF-8. */
	if ((length == 3 && code < 0x800) || (length == 4 && (code < 0x10000 || code > 0x10ffff))
	    || (code >= 0xd800 && code <= 0xdfff))
		return 0;
	return length;
}

void json_string(FILE *out, const char *text)
{
	const unsigned char *c = (const unsigned char *)(text ? text : "");
	size_t length;

	putc('"', out);
	while (*c) {
		length = utf8_sequence(c);
		if (length > 1) {
			fwrite(c, 1, length, out);
			c += length;
			continue;
		}
		if (*c == '"' || *c == '\\')
			fprintf(out, "\\%c", *c);
		else if (*c == '\n')
			fputs("\\n", out);
		else if (*c == '\t')
			fputs("\\t", out);
		else if (*c < 0x20 || *c >= 0x7f)
			fprintf(out, "\\u%04x", *c);
		else
			putc(*c, out);
		c++;
	}
	putc('"', out);
}

/* "name": "value" with a leading comma when COMMA is set. */
void json_member_string(FILE *out, const char *name, const char *value, int comma)
{
	if (comma)
		putc(',', out);
	json_string(out, name);
	putc(':', out);
	json_string(out, value);
}
