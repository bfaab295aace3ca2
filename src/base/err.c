/* err.c: the one place that formats error messages and names the exit codes' meaning.
 *
 * A message is built whole in a buffer and written with one write(2), so lines from a
 * command and from the menu that forked it never interleave mid-line.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "base/err.h"
#include "base/journal.h"

/* NULL until a command starts; messages then say "rescue" alone. */
static const char *current_command;

void err_set_command(const char *name)
{
	current_command = name;
}

const char *err_text(int errnum)
{
	if (errnum == EUCLEAN)
		return "Structure needs cleaning (the file system's metadata is corrupt)";
	if (errnum == EBADMSG)
		return "Bad message (a file system metadata checksum does not match)";
	return strerror(errnum);
}

static void write_all(int fd, const char *text, size_t length)
{
	while (length > 0) {
		ssize_t written = write(fd, text, length);
		if (written < 0 && errno == EINTR)
			continue;
		if (written <= 0)
			return;
		text += written;
		length -= (size_t)written;
	}
}

/* The message is cut, never dropped, when it does not fit: the start names what failed. */
static void err_print(const char *tag, const char *reason, const char *format, va_list args)
{
	char message[1024];
	size_t used;

	snprintf(message, sizeof message, "rescue%s%s: %s: ",
	    current_command ? " " : "", current_command ? current_command : "", tag);
	used = strlen(message);
	vsnprintf(message + used, sizeof message - used, format, args);
	used = strlen(message);
	if (reason)
		snprintf(message + used, sizeof message - used, ": %s", reason);
	used = strlen(message);
	if (used == sizeof message - 1)
		used--;
	journal_note_error(message);
	message[used++] = '\n';
	write_all(STDERR_FILENO, message, used);
}

int err_fatal(int code, const char *format, ...)
{
	const char *reason = err_text(errno);
	va_list args;

	va_start(args, format);
	err_print("fatal", reason, format, args);
	va_end(args);
	return code;
}

int err_fatalx(int code, const char *format, ...)
{
	va_list args;

	va_start(args, format);
	err_print("fatal", NULL, format, args);
	va_end(args);
	return code;
}

void err_warn(const char *format, ...)
{
	const char *reason = err_text(errno);
	va_list args;

	va_start(args, format);
	err_print("warning", reason, format, args);
	va_end(args);
}

void err_warnx(const char *format, ...)
{
	va_list args;

	va_start(args, format);
	err_print("warning", NULL, format, args);
	va_end(args);
}

/* A usage error repeats the bad value, then shows the synopsis (the usage text up to its
 * first empty line) so the fix is on screen without scrolling a 24-line console away. */
int err_usage(const char *usage, const char *format, ...)
{
	const char *end = strstr(usage, "\n\n");
	char hint[128];
	va_list args;

	va_start(args, format);
	err_print("fatal", NULL, format, args);
	va_end(args);
	write_all(STDERR_FILENO, usage, end ? (size_t)(end - usage) + 1 : strlen(usage));
	snprintf(hint, sizeof hint, "Run 'rescue%s%s --help' for more.\n",
	    current_command ? " " : "", current_command ? current_command : "");
	write_all(STDERR_FILENO, hint, strlen(hint));
	return EXIT_USAGE;
}
