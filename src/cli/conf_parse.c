/* conf_parse.c: rescue.conf lines into settings and problems (conf_parse.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/conf_parse.h"

static int is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

/* Drops blanks at both ends of [*START, *END). */
static void trim(char **start, char **end)
{
	while (*start < *end && is_blank(**start))
		(*start)++;
	while (*end > *start && is_blank((*end)[-1]))
		(*end)--;
}

/* One line of LENGTH bytes, copied into LINE (CONF_LINE_MAX + 1 bytes) first. */
static int line_parse(const char *text, size_t length, int number, char *line,
    conf_visit_fn *visit, void *context)
{
	char *start = line, *end, *equals, *name_end, *value;

	if (memchr(text, '\0', length)) {
		visit(context, number, NULL, NULL, "holds a NUL byte: not text");
		return 1;
	}
	if (length > CONF_LINE_MAX) {
		visit(context, number, NULL, NULL, "longer than 8192 bytes");
		return 1;
	}
	memcpy(line, text, length);
	line[length] = '\0';
	end = line + strcspn(line, "#");
	trim(&start, &end);
	if (start == end)
		return 0;
	*end = '\0';
	equals = strchr(start, '=');
	if (equals == NULL) {
		visit(context, number, start, NULL, "expected NAME=VALUE");
		return 1;
	}
	name_end = equals;
	value = equals + 1;
	trim(&start, &name_end);
	trim(&value, &end);
	if (name_end == start) {
		visit(context, number, start, NULL, "no name before '='");
		return 1;
	}
	*name_end = '\0';
	*end = '\0';
	if (strncmp(start, "rescue.", 7) == 0 && start[7] != '\0')
		start += 7;
	visit(context, number, start, value, NULL);
	return 0;
}

int conf_parse(const char *text, size_t length, conf_visit_fn *visit, void *context)
{
	const char *cursor = text, *end = text + length, *newline;
	char *line = malloc(CONF_LINE_MAX + 1);
	int number = 0, problems = 0;

	if (line == NULL)
		return -1;
	while (cursor < end) {
		newline = memchr(cursor, '\n', (size_t)(end - cursor));
		problems += line_parse(cursor, (size_t)((newline ? newline : end) - cursor),
		    ++number, line, visit, context);
		cursor = newline ? newline + 1 : end;
	}
	free(line);
	return problems;
}
