/* spawn.h: run another program (e2fsck, mount helpers, dbclient) and collect what it says.
 *
 * The program is started with execvp, never through a shell, so device names and URLs are
 * passed as they are. Its stdin is INPUT (or /dev/null), its stdout, and its stderr too when
 * asked, are collected into a buffer that grows as needed, up to SPAWN_OUTPUT_MAX; more is
 * read and dropped, so a chatty program never blocks. Extra environment entries
 * ("NAME=VALUE") are set in the child only: passwords travel this way, not on the command
 * line that `ps` shows.
 */
#ifndef RESCUE_SPAWN_H
#define RESCUE_SPAWN_H

#include <stddef.h>
#include <sys/types.h>

enum { SPAWN_OUTPUT_MAX = 4 << 20 };

enum spawn_flags {
	SPAWN_STDERR = 1,	/* collect stderr with stdout (else it goes to ours) */
	SPAWN_PASS = 2,		/* collect nothing: the child writes to our stdout */
};

struct spawn_request {
	char *const *argv;
	const void *input;		/* written to the child's stdin; NULL: /dev/null */
	size_t input_size;
	char *const *environment;	/* extra "NAME=VALUE" entries, NULL-terminated; or NULL */
	int flags;
	int timeout_seconds;		/* 0: none; else the child is killed after this long */
};

struct spawn_result {
	int status;		/* as from waitpid */
	int timed_out;
	char *output;		/* NUL-terminated; free() it */
	size_t output_size;
	int truncated;		/* the program said more than SPAWN_OUTPUT_MAX */
};

/* A program started and not yet finished: what spawn_finish needs. */
struct spawn_child {
	pid_t pid;
	int input;		/* our end of its stdin pipe, or -1 */
	int output;		/* our end of its stdout pipe, or -1 */
};

int spawn_run(const struct spawn_request *request, struct spawn_result *result);
/* spawn_run in two halves, so that several programs can run at once: spawn_start starts
 * the program (0, or -1 with errno and nothing left running); spawn_finish feeds its input,
 * collects its output and waits for it, as spawn_run does, with the timeout counted from
 * there. Children may be finished in any order: one whose output outgrows a pipe (64 KiB)
 * waits until its turn comes. REQUEST must be the same at both calls. */
int spawn_start(const struct spawn_request *request, struct spawn_child *child);
int spawn_finish(const struct spawn_request *request, struct spawn_child *child,
    struct spawn_result *result);
int spawn_exit_code(const struct spawn_result *result);
void spawn_result_free(struct spawn_result *result);

#endif
