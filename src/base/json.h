/* json.h: the little JSON that --json output needs, written straight to a stream.
 *
 * Strings are escaped per RFC 8259; bytes that are not valid UTF-8 (file names and labels
 * may hold any) are written as \u00XX of the byte, so the output is always valid JSON and
 * the original bytes can be recovered by a reader that knows this rule.
 */
#ifndef RESCUE_JSON_H
#define RESCUE_JSON_H

#include <stdio.h>

void json_string(FILE *out, const char *text);
void json_member_string(FILE *out, const char *name, const char *value, int comma);

#endif
