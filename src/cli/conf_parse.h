/* conf_parse.h: rescue.conf, NAME=VALUE lines from the RESCUECFG disk (README: Config disk).
 * The file comes from a disk someone else prepared, or that is damaged: the parser takes it
 * with its length and never reads past it, and each line it cannot use is a problem with
 * its number, not the end of the file.
 *
 * Syntax, as the boot scripts always read it: '#' starts a comment (there is no quoting, so
 * a value holds no '#'); blanks around the line and around the first '=' are dropped; blank
 * lines are skipped; a leading "rescue." on the name is dropped, so kernel command line
 * words can be pasted. Which names are known, and what values they take, is the boot
 * scripts' business (rootfs/lib/rescue/params.sh).
 */
#ifndef RESCUE_CONF_PARSE_H
#define RESCUE_CONF_PARSE_H

#include <stddef.h>

enum { CONF_LINE_MAX = 8192, CONF_SIZE_MAX = 1 << 20 };

/* One setting (PROBLEM NULL) or one problem on line LINE (from 1). For a problem NAME is
 * the line's text without its comment and blanks (any bytes but NUL: show it escaped), or
 * NULL when the line is not shown (a NUL byte, too long); VALUE is NULL. */
typedef void conf_visit_fn(void *context, int line, const char *name, const char *value,
    const char *problem);

/* Calls VISIT for each setting and each problem, in file order: a line without '=', an
 * empty name, a NUL byte, a line longer than CONF_LINE_MAX. Returns the number of problems
 * (0 for a clean file), or -1 when out of memory. */
int conf_parse(const char *text, size_t length, conf_visit_fn *visit, void *context);

#endif
