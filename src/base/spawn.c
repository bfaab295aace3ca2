/* spawn.c: runs a program with a pipe on each side and a poll loop between them, so a
 * program that writes a lot while it still reads its input cannot deadlock with us. */
#define _GNU_SOURCE	/* pipe2 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/spawn.h"

struct pipes {
	int input[2];
	int output[2];
};

static void pipes_close(struct pipes *pipes)
{
	int *fds = (int *)pipes, i;

	for (i = 0; i < 4; i++)
		if (fds[i] >= 0)
			close(fds[i]);
}

/* Only async-signal-safe calls between fork and exec. */
static void child_exec(const struct spawn_request *request, struct pipes *pipes)
{
	int null = open("/dev/null", O_RDONLY);
	char *const *entry;

	dup2(request->input ? pipes->input[0] : null, STDIN_FILENO);
	if (!(request->flags & SPAWN_PASS)) {
		dup2(pipes->output[1], STDOUT_FILENO);
		if (request->flags & SPAWN_STDERR)
			dup2(pipes->output[1], STDERR_FILENO);
	}
	for (entry = request->environment; entry && *entry; entry++)
		putenv(*entry);
	signal(SIGPIPE, SIG_DFL);
	execvp(request->argv[0], request->argv);
	_exit(127);
}

static int output_append(struct spawn_result *result, const char *data, size_t size)
{
	char *grown;

	if (result->output_size + size > SPAWN_OUTPUT_MAX) {
		result->truncated = 1;
		size = SPAWN_OUTPUT_MAX - result->output_size;
	}
	grown = realloc(result->output, result->output_size + size + 1);
	if (grown == NULL)
		return -1;
	result->output = grown;
	memcpy(result->output + result->output_size, data, size);
	result->output_size += size;
	result->output[result->output_size] = '\0';
	return 0;
}

/* -1 for no limit; else the whole seconds left, 0 once the time is up. Past the limit the
 * difference goes below 0 (whole seconds of two clock readings: 1.01 s can count as 2), and
 * a negative count must not read as "no limit". */
static int seconds_left(const struct spawn_request *request, const struct timespec *start)
{
	struct timespec now;
	int left;

	if (request->timeout_seconds <= 0)
		return -1;
	clock_gettime(CLOCK_MONOTONIC, &now);
	left = request->timeout_seconds - (int)(now.tv_sec - start->tv_sec);
	return left > 0 ? left : 0;
}

/* Feeds the input and drains the output until the child closes its output. */
static int exchange(const struct spawn_request *request, struct pipes *pipes,
    struct spawn_result *result)
{
	size_t sent = 0;
	struct timespec start;
	char buffer[65536];

	clock_gettime(CLOCK_MONOTONIC, &start);
	while (pipes->output[0] >= 0) {
		struct pollfd fds[2] = {
			{ .fd = pipes->output[0], .events = POLLIN },
			{ .fd = pipes->input[1], .events = POLLOUT },
		};
		int left = seconds_left(request, &start), ready;
		ssize_t got;

		if (left == 0) {
			result->timed_out = 1;
			return 0;
		}
		ready = poll(fds, 2, left < 0 ? -1 : 1000);
		if (ready < 0 && errno == EINTR)
			continue;
		if (ready < 0)
			return -1;
		if (fds[1].revents & (POLLOUT | POLLERR | POLLHUP)) {
			got = write(pipes->input[1], (const char *)request->input + sent,
			    request->input_size - sent);
			if (got > 0)
				sent += (size_t)got;
			if ((got < 0 && errno != EAGAIN && errno != EINTR)
			    || sent == request->input_size) {
				close(pipes->input[1]);
				pipes->input[1] = -1;
			}
		}
		if (fds[0].revents & (POLLIN | POLLERR | POLLHUP)) {
			got = read(pipes->output[0], buffer, sizeof buffer);
			if (got < 0 && errno == EINTR)
				continue;
			if (got <= 0) {
				close(pipes->output[0]);
				pipes->output[0] = -1;
			} else if (!result->truncated && output_append(result, buffer, (size_t)got) != 0) {
				return -1;
			}
		}
	}
	return 0;
}

/* Returns 0 with the child running, or -1 with errno and nothing started. */
int spawn_start(const struct spawn_request *request, struct spawn_child *child)
{
	struct pipes pipes = { { -1, -1 }, { -1, -1 } };
	int saved;

	child->pid = -1;
	child->input = child->output = -1;
	if ((request->input && pipe2(pipes.input, O_CLOEXEC) != 0)
	    || (!(request->flags & SPAWN_PASS) && pipe2(pipes.output, O_CLOEXEC) != 0))
		goto fail;
	child->pid = fork();
	if (child->pid < 0)
		goto fail;
	if (child->pid == 0)
		child_exec(request, &pipes);
	close(pipes.input[0]);
	close(pipes.output[1]);
	/* A blocking write of the whole input would wait for the child, which may itself be
	 * waiting for us to read its output. */
	if (pipes.input[1] >= 0)
		fcntl(pipes.input[1], F_SETFL, O_NONBLOCK);
	child->input = pipes.input[1];
	child->output = pipes.output[0];
	return 0;
fail:
	saved = errno;
	pipes_close(&pipes);
	errno = saved;
	return -1;
}

/* Returns 0 when the program ran (whatever its exit status), -1 with errno when it could
 * not be watched; the child is waited for either way. */
int spawn_finish(const struct spawn_request *request, struct spawn_child *child,
    struct spawn_result *result)
{
	struct pipes pipes = { { -1, child->input }, { child->output, -1 } };
	int saved, rc;

	memset(result, 0, sizeof *result);
	rc = output_append(result, "", 0);
	if (rc == 0)
		rc = exchange(request, &pipes, result);
	if (rc != 0 || result->timed_out)
		kill(child->pid, SIGKILL);
	while (waitpid(child->pid, &result->status, 0) < 0)
		if (errno != EINTR) {
			rc = -1;
			break;
		}
	saved = errno;
	pipes_close(&pipes);
	child->input = child->output = -1;
	errno = saved;
	return rc;
}

/* Returns 0 when the program ran (whatever its exit status), -1 with errno when it could
 * not be started or watched. A program that is not found exits 127, as in a shell. */
int spawn_run(const struct spawn_request *request, struct spawn_result *result)
{
	struct spawn_child child;

	if (spawn_start(request, &child) != 0) {
		memset(result, 0, sizeof *result);
		return -1;
	}
	return spawn_finish(request, &child, result);
}

/* The exit code a shell would show: 128 + N for a signal. */
int spawn_exit_code(const struct spawn_result *result)
{
	if (WIFEXITED(result->status))
		return WEXITSTATUS(result->status);
	if (WIFSIGNALED(result->status))
		return 128 + WTERMSIG(result->status);
	return -1;
}

void spawn_result_free(struct spawn_result *result)
{
	free(result->output);
	result->output = NULL;
	result->output_size = 0;
}
