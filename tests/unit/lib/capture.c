/* capture.c: swaps fds 0, 1 and 2 for /dev/null and two temporary files, and back.
 *
 * stdin becomes /dev/null so a command under test that wrongly waits for input (the menu)
 * sees the end of input at once instead of hanging the test run.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "lib/capture.h"

static char *read_all(int fd)
{
	size_t size = 0, capacity = 4096;
	char *text = malloc(capacity);
	ssize_t got;

	if (text == NULL)
		abort();
	lseek(fd, 0, SEEK_SET);
	while ((got = read(fd, text + size, capacity - size - 1)) > 0) {
		size += (size_t)got;
		if (capacity - size < 2) {
			char *bigger = realloc(text, capacity *= 2);

			if (bigger == NULL)
				abort();
			text = bigger;
		}
	}
	text[size] = '\0';
	return text;
}

char *read_whole_file(const char *path)
{
	int fd = open(path, O_RDONLY);
	char *text;

	if (fd < 0)
		return NULL;
	text = read_all(fd);
	close(fd);
	return text;
}

static void redirect(int fd, int to)
{
	if (dup2(to, fd) < 0)
		abort();
	close(to);
}

void capture_start(struct capture *capture)
{
	FILE *out = tmpfile(), *err = tmpfile();

	if (out == NULL || err == NULL)
		abort();
	fflush(stdout);
	fflush(stderr);
	capture->saved_stdin = dup(STDIN_FILENO);
	capture->saved_stdout = dup(STDOUT_FILENO);
	capture->saved_stderr = dup(STDERR_FILENO);
	redirect(STDIN_FILENO, open("/dev/null", O_RDONLY));
	redirect(STDOUT_FILENO, dup(fileno(out)));
	redirect(STDERR_FILENO, dup(fileno(err)));
	fclose(out);
	fclose(err);
}

void capture_stop(struct capture *capture)
{
	fflush(stdout);
	fflush(stderr);
	capture->out = read_all(STDOUT_FILENO);
	capture->err = read_all(STDERR_FILENO);
	redirect(STDIN_FILENO, capture->saved_stdin);
	redirect(STDOUT_FILENO, capture->saved_stdout);
	redirect(STDERR_FILENO, capture->saved_stderr);
}

void capture_free(struct capture *capture)
{
	free(capture->out);
	free(capture->err);
}
