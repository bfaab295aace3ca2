/* err.h: exit codes and the one error grammar of rescue.
 *
 * Every message reads "PROG: TAG: WHAT COULD NOT BE DONE TO WHICH VALUE[: REASON]", where PROG is
 * "rescue" or "rescue COMMAND", TAG is "fatal" when the program or command gives up and
 * "warning" when it goes on, and REASON is err_text(errno) for the functions without an x
 * (as in OpenBSD's err/errx).
 */
#ifndef RESCUE_ERR_H
#define RESCUE_ERR_H

/* The exit codes every command documents (DESIGN section 5). */
enum exit_code {
	EXIT_OK = 0,		/* everything was done and verified */
	EXIT_LOSSES = 1,	/* finished, but some data could not be saved (bad sectors, partial files) */
	EXIT_USAGE = 2,		/* the command line was wrong; nothing was done */
	EXIT_SYSTEM = 3,	/* the environment failed: no memory, no device, no target */
};

void err_set_command(const char *name);

/* strerror(ERRNUM), with words for what the kernel's file systems return on damaged
 * metadata: EUCLEAN (their EFSCORRUPTED, which musl has no text for) and EBADMSG (their
 * EFSBADCRC). Use it for every REASON shown to a user. */
const char *err_text(int errnum);

int err_fatal(int code, const char *format, ...) __attribute__((format(printf, 2, 3)));
int err_fatalx(int code, const char *format, ...) __attribute__((format(printf, 2, 3)));
void err_warn(const char *format, ...) __attribute__((format(printf, 1, 2)));
void err_warnx(const char *format, ...) __attribute__((format(printf, 1, 2)));
int err_usage(const char *usage, const char *format, ...) __attribute__((format(printf, 2, 3)));

#endif
