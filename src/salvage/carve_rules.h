/* carve_rules.h: signatures added at run time, in the configuration syntax of foremost and
 * scalpel, so a missing type is a line of text and not a new image:
 *
 *	# extension  case  max-size  header                  [footer]      [REVERSE|NEXT]
 *	doc          y     12500000  \xd0\xcf\x11\xe0\xa1\xb1
 *	htm          n     50000     <html                   </html>
 *	pdf          y     5000000   %PDF                    %EOF\x0d      REVERSE
 *
 * Fields are separated by blanks; `#` starts a comment. The case field is y (or yes,
 * true, 1) for a case-sensitive match, n otherwise. In header and footer, \xHH is a byte,
 * \n \r \t \s \\ \? are newline, return, tab, space, backslash and a plain question mark,
 * and ? alone matches any byte. Without a footer a file is max-size bytes long; with one it
 * ends after the first footer (NEXT: just before it; REVERSE: after the last one within
 * max-size); no footer within max-size cuts the file at max-size. Extension NONE gives
 * files no extension. Headers are looked for at every byte, as those tools do.
 *
 * A file is one rule per line; a line that is wrong is named with its number and why, and
 * nothing is taken from the file.
 */
#ifndef RESCUE_CARVE_RULES_H
#define RESCUE_CARVE_RULES_H

#include <stddef.h>
#include <stdint.h>

#include "salvage/carve.h"

enum { CARVE_RULE_BYTES = 256 };

enum carve_rule_search { RULE_FIRST, RULE_NEXT, RULE_REVERSE };

struct carve_pattern {
	unsigned char bytes[CARVE_RULE_BYTES];
	unsigned char any[CARVE_RULE_BYTES];	/* 1: a ? that matches every byte */
	size_t size;
};

struct carve_rule {
	struct carve_format format;	/* the detector the scan uses; context: this rule */
	char type[24], ext[16], description[96];
	int case_sensitive;
	uint64_t max_size;
	struct carve_pattern header, footer;
	enum carve_rule_search search;
	int line;
};

struct carve_rules {
	struct carve_rule *rules;
	size_t count;
};

/* Parses TEXT[0, SIZE) (NAME in descriptions): 0, or -1 with WHY ("line 3: ...") and no
 * rule kept. */
int carve_rules_parse(const char *text, size_t size, const char *name,
    struct carve_rules *rules, char *why, size_t why_size);
void carve_rules_free(struct carve_rules *rules);

/* Whether PATTERN matches DATA[0, SIZE) at its start. */
int carve_pattern_matches(const struct carve_pattern *pattern, int case_sensitive,
    const unsigned char *data, size_t size);

#endif
