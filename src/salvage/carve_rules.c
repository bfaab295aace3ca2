/* carve_rules.c: foremost/scalpel rules parsed into carving formats (see carve_rules.h). */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "salvage/carve_rules.h"

enum { LINE_MAX_BYTES = 4096, FIELDS_MAX = 8 };

/* ------------------------------------------------------------------ matching */

static int byte_equal(unsigned char a, unsigned char b, int case_sensitive)
{
	return a == b || (!case_sensitive && tolower(a) == tolower(b));
}

int carve_pattern_matches(const struct carve_pattern *pattern, int case_sensitive,
    const unsigned char *data, size_t size)
{
	size_t i;

	if (size < pattern->size)
		return 0;
	for (i = 0; i < pattern->size; i++)
		if (!pattern->any[i] && !byte_equal(pattern->bytes[i], data[i], case_sensitive))
			return 0;
	return 1;
}

/* The first (or, with LAST, the last) place in DATA[FROM, SIZE) where PATTERN matches. */
static int64_t pattern_find(const struct carve_pattern *pattern, int case_sensitive,
    const unsigned char *data, size_t from, size_t size, int last)
{
	int64_t found = -1;
	size_t at;

	for (at = from; at + pattern->size <= size; at++)
		if (carve_pattern_matches(pattern, case_sensitive, data + at, size - at)) {
			found = (int64_t)at;
			if (!last)
				break;
		}
	return found;
}

static int rule_match(const struct carve_format *format, const unsigned char *data,
    size_t size)
{
	const struct carve_rule *rule = format->context;

	return carve_pattern_matches(&rule->header, rule->case_sensitive, data, size);
}

/* The length from the footer, or the rule's maximum, as foremost and scalpel choose it. */
static int rule_validate(const struct carve_format *format, const unsigned char *data,
    size_t size, int at_end, struct carve_result *result)
{
	const struct carve_rule *rule = format->context;
	size_t limit = rule->max_size < size ? (size_t)rule->max_size : size;
	int whole = at_end || rule->max_size <= size;	/* no more data would change it */
	int64_t footer;

	if (!rule->footer.size)
		return whole ? carve_found(result, limit, CARVE_UNVALIDATED, "the rule's maximum "
		    "size (no footer)") : CARVE_MORE;
	if (rule->search == RULE_REVERSE && !whole)
		return CARVE_MORE;
	footer = pattern_find(&rule->footer, rule->case_sensitive, data, rule->header.size,
	    limit, rule->search == RULE_REVERSE);
	if (footer >= 0)
		return carve_found(result, (uint64_t)footer + (rule->search == RULE_NEXT ? 0
		    : rule->footer.size), CARVE_UNVALIDATED, rule->search == RULE_NEXT
		    ? "the rule's footer (NEXT: before it)" : rule->search == RULE_REVERSE
		    ? "the rule's footer (REVERSE: the last)" : "the rule's footer");
	if (!whole)
		return CARVE_MORE;
	return carve_found(result, limit, CARVE_TRUNCATED, "no footer within the rule's "
	    "maximum size");
}

/* ------------------------------------------------------------------ parsing */

static int hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = (char)tolower((unsigned char)c);
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* One escape after a backslash at TEXT: the byte, and how many characters it took. */
static int unescape(const char *text, unsigned char *byte, size_t *used)
{
	static const char plain[] = "nrts\\?", meaning[] = "\n\r\t \\?";
	const char *known = *text ? strchr(plain, *text) : NULL;

	if (*text == 'x' && hex_digit(text[1]) >= 0 && hex_digit(text[2]) >= 0) {
		*byte = (unsigned char)(hex_digit(text[1]) * 16 + hex_digit(text[2]));
		*used = 3;
		return 0;
	}
	if (!known)
		return -1;
	*byte = (unsigned char)meaning[known - plain];
	*used = 1;
	return 0;
}

static int parse_pattern(const char *text, struct carve_pattern *pattern, char *why,
    size_t why_size, const char *what)
{
	size_t used;

	memset(pattern, 0, sizeof *pattern);
	while (*text) {
		if (pattern->size == CARVE_RULE_BYTES) {
			snprintf(why, why_size, "%s longer than %d bytes", what, CARVE_RULE_BYTES);
			return -1;
		}
		if (*text == '\\') {
			if (unescape(text + 1, &pattern->bytes[pattern->size], &used) != 0) {
				snprintf(why, why_size, "%s: unknown escape \\%.3s (\\xHH, \\n, \\r, \\t, "
				    "\\s, \\\\, \\?)", what, text + 1);
				return -1;
			}
			text += 1 + used;
		} else {
			pattern->any[pattern->size] = *text == '?';
			pattern->bytes[pattern->size] = (unsigned char)*text++;
		}
		pattern->size++;
	}
	return 0;
}

static int parse_case(const char *text, int *case_sensitive)
{
	static const char *const yes[] = { "y", "yes", "true", "1" };
	static const char *const no[] = { "n", "no", "false", "0" };
	size_t i;

	for (i = 0; i < 4; i++) {
		if (!strcasecmp(text, yes[i]))
			return *case_sensitive = 1, 0;
		if (!strcasecmp(text, no[i]))
			return *case_sensitive = 0, 0;
	}
	return -1;
}

static int parse_size(const char *text, uint64_t *size)
{
	unsigned long long value;
	char *end;

	errno = 0;
	value = strtoull(text, &end, 10);
	if (!isdigit((unsigned char)text[0]) || *end || errno || value == 0)
		return -1;
	*size = value;
	return 0;
}

static int parse_search(const char *text, enum carve_rule_search *search)
{
	if (!strcasecmp(text, "REVERSE"))
		*search = RULE_REVERSE;
	else if (!strcasecmp(text, "NEXT"))
		*search = RULE_NEXT;
	else
		return -1;
	return 0;
}

static int valid_extension(const char *text)
{
	size_t i, length = strlen(text);

	if (!length || length >= 16)
		return 0;
	for (i = 0; i < length; i++)
		if (!isalnum((unsigned char)text[i]) && text[i] != '_' && text[i] != '-')
			return 0;
	return 1;
}

/* The fields of a rule line: extension, case, size, header, [footer], [search]. */
static int parse_fields(char **field, int count, struct carve_rule *rule, char *why,
    size_t why_size)
{
	if (count < 4 || count > 6)
		return snprintf(why, why_size, "%d fields, a rule has 4 to 6 (extension, case, "
		    "size, header, [footer], [REVERSE|NEXT])", count), -1;
	if (!valid_extension(field[0]))
		return snprintf(why, why_size, "extension %s: letters, digits, _ and - only, at most "
		    "15", field[0]), -1;
	if (parse_case(field[1], &rule->case_sensitive) != 0)
		return snprintf(why, why_size, "case field %s: not y or n", field[1]), -1;
	if (parse_size(field[2], &rule->max_size) != 0)
		return snprintf(why, why_size, "size %s: not a number of bytes above 0", field[2]),
		    -1;
	if (parse_pattern(field[3], &rule->header, why, why_size, "header") != 0)
		return -1;
	if (!rule->header.size || rule->header.any[0])
		return snprintf(why, why_size, "header %s: must start with a fixed byte", field[3]),
		    -1;
	if (count == 6 || (count == 5 && parse_search(field[4], &rule->search) != 0)) {
		if (parse_pattern(field[4], &rule->footer, why, why_size, "footer") != 0)
			return -1;
		if (count == 6 && parse_search(field[5], &rule->search) != 0)
			return snprintf(why, why_size, "%s: not REVERSE or NEXT", field[5]), -1;
	}
	if (rule->search != RULE_FIRST && !rule->footer.size)
		return snprintf(why, why_size, "REVERSE or NEXT without a footer"), -1;
	return 0;
}

static void make_format(struct carve_rule *rule, const char *name)
{
	snprintf(rule->type, sizeof rule->type, "%s", !strcmp(rule->ext, "NONE") ? "none"
	    : rule->ext);
	snprintf(rule->description, sizeof rule->description, "rule from %.60s line %d", name,
	    rule->line);
	rule->format.type = rule->type;
	rule->format.ext = !strcmp(rule->ext, "NONE") ? "" : rule->ext;
	rule->format.description = rule->description;
	rule->format.byte_level = 1;
	rule->format.max_size = rule->max_size;
	rule->format.validate = rule_validate;
	rule->format.match = rule_match;
	rule->format.context = rule;
	rule->format.starts[0] = rule->header.bytes[0];
	rule->format.starts[1] = (unsigned char)(rule->case_sensitive ? rule->header.bytes[0]
	    : isupper(rule->header.bytes[0]) ? tolower(rule->header.bytes[0])
	    : toupper(rule->header.bytes[0]));
	rule->format.start_count = 2;
}

/* LINE (NUL-terminated, changed in place): 1 with RULE filled, 0 for a blank or comment
 * line, -1 with WHY. */
static int parse_line(char *line, struct carve_rule *rule, char *why, size_t why_size)
{
	char *field[FIELDS_MAX + 1], *cursor = NULL, *word;
	int count = 0;

	line[strcspn(line, "#")] = '\0';
	for (word = strtok_r(line, " \t\r", &cursor); word; word = strtok_r(NULL, " \t\r", &cursor))
		if (count <= FIELDS_MAX)
			field[count++] = word;
	if (count == 0)
		return 0;
	memset(rule, 0, sizeof *rule);
	if (parse_fields(field, count, rule, why, why_size) != 0)
		return -1;
	snprintf(rule->ext, sizeof rule->ext, "%s", field[0]);
	return 1;
}

static int add_rule(struct carve_rules *rules, const struct carve_rule *rule)
{
	struct carve_rule *bigger = realloc(rules->rules, (rules->count + 1) * sizeof *bigger);

	if (!bigger)
		return -1;
	rules->rules = bigger;
	rules->rules[rules->count++] = *rule;
	return 0;
}

int carve_rules_parse(const char *text, size_t size, const char *name,
    struct carve_rules *rules, char *why, size_t why_size)
{
	char line[LINE_MAX_BYTES + 1], reason[256];
	struct carve_rule rule;
	size_t at = 0, i;
	int number = 0, got;

	memset(rules, 0, sizeof *rules);
	while (at < size) {
		size_t length = 0;

		number++;
		while (at + length < size && text[at + length] != '\n')
			length++;
		if (length > LINE_MAX_BYTES || memchr(text + at, '\0', length)) {
			snprintf(why, why_size, "line %d: %s", number, length > LINE_MAX_BYTES
			    ? "longer than 4096 bytes" : "holds a NUL byte (not a text file)");
			goto fail;
		}
		memcpy(line, text + at, length);
		line[length] = '\0';
		at += length + 1;
		if ((got = parse_line(line, &rule, reason, sizeof reason)) < 0) {
			snprintf(why, why_size, "line %d: %s", number, reason);
			goto fail;
		}
		rule.line = number;
		if (got && add_rule(rules, &rule) != 0) {
			snprintf(why, why_size, "out of memory at line %d", number);
			goto fail;
		}
	}
	/* The formats point at their rules: only now has the array stopped moving. */
	for (i = 0; i < rules->count; i++)
		make_format(&rules->rules[i], name);
	return 0;
fail:
	carve_rules_free(rules);
	return -1;
}

void carve_rules_free(struct carve_rules *rules)
{
	free(rules->rules);
	rules->rules = NULL;
	rules->count = 0;
}
