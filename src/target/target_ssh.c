/* target_ssh.c: ssh:// targets through dropbear's dbclient, and the client key.
 *
 * Only POSIX tools run on the target (sh, cat, df, mv, rm, test), so any stock OpenSSH
 * server will do. dbclient asks its questions on /dev/tty, or on stdin when there is no
 * terminal; it runs in a session of its own (setsid) so it never finds the console, and the
 * one question it may ask (an unknown host key) is answered on its stdin: "y" when the host
 * is trusted on first use, "n" when known_hosts from the config disk is the authority.
 */
#define _GNU_SOURCE	/* memfd_create */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/err.h"
#include "base/paths.h"
#include "base/spawn.h"
#include "target/target.h"
#include "target/target_ops.h"

#define CHECK_MARKER "rescue-target-ok"
enum { CHECK_TIMEOUT = 45, CONNECT_TIMEOUT = 10 };

/* snprintf for messages: cutting a long path short is fine, the start names the problem. */
static void message(char *out, size_t size, const char *format, ...)
    __attribute__((format(printf, 3, 4)));
static void message(char *out, size_t size, const char *format, ...)
{
	va_list args;

	va_start(args, format);
	vsnprintf(out, size, format, args);
	va_end(args);
}

static const char *client_dir(void)
{
	const char *dir = getenv(TARGET_CLIENT_DIR_ENV);

	return dir && *dir ? dir : TARGET_CLIENT_DIR_DEFAULT;
}

/* mkdir -p, private: known_hosts and keys live below. */
static int dir_make(const char *path)
{
	char partial[PATH_MAX], *slash;

	snprintf(partial, sizeof partial, "%s", path);
	for (slash = strchr(partial + 1, '/'); slash; slash = strchr(slash + 1, '/')) {
		*slash = '\0';
		if (mkdir(partial, 0700) != 0 && errno != EEXIST)
			return -1;
		*slash = '/';
	}
	return mkdir(partial, 0700) != 0 && errno != EEXIST ? -1 : 0;
}

static int file_exists(const char *path)
{
	struct stat node;

	return stat(path, &node) == 0 && S_ISREG(node.st_mode) && node.st_size > 0;
}

void target_shell_quote(const char *text, char *quoted, size_t size)
{
	size_t used = 0;

	if (size < 3)
		goto overflow;
	quoted[used++] = '\'';
	for (; *text; text++) {
		const char *piece = *text == '\'' ? "'\\''" : NULL;
		size_t length = piece ? 4 : 1;

		if (used + length + 2 > size)
			goto overflow;
		memcpy(quoted + used, piece ? piece : text, length);
		used += length;
	}
	quoted[used++] = '\'';
	quoted[used] = '\0';
	return;
overflow:
	if (size)
		quoted[0] = '\0';
}

/* The last lines of TEXT, joined by "; ", without the prompt dbclient writes. */
static void last_lines(const char *text, char *out, size_t size, int wanted)
{
	const char *end = text + strlen(text), *start = end;
	int lines = 0;
	size_t used = 0;
	char *c;

	while (start > text && lines <= wanted) {
		start--;
		if (*start == '\n' && start + 1 < end && start[1] != '\n')
			lines++;
	}
	if (lines > wanted)
		start++;
	while (*start == '\n')
		start++;
	out[0] = '\0';
	for (; *start && used + 3 < size; start++) {
		if (*start == '\r')
			continue;
		if (*start == '\n') {
			if (start[1] != '\0' && start[1] != '\n' && used > 0)
				used += (size_t)snprintf(out + used, size - used, "; ");
			continue;
		}
		out[used++] = *start;
		out[used] = '\0';
	}
	c = strstr(out, "Do you want to continue connecting? (y/n) ");
	if (c)
		memmove(c, c + 42, strlen(c + 42) + 1);
	/* "dbclient: Connection to USER@HOST:PORT exited: REASON": the reason says it all. */
	c = strstr(out, " exited: ");
	if (c && strstr(out, "dbclient: Connection to "))
		memmove(out, c + 9, strlen(c + 9) + 1);
}

/* Runs ARGV, its output (stdout and stderr) into OUTPUT; 0 when it exited 0. */
static int run_tool(char *const *argv, char *output, size_t size)
{
	struct spawn_request request = { .argv = argv, .flags = SPAWN_STDERR, .timeout_seconds = 30 };
	struct spawn_result result;
	int rc;

	if (spawn_run(&request, &result) != 0) {
		message(output, size, "cannot run %s: %s", argv[0], err_text(errno));
		return -1;
	}
	rc = spawn_exit_code(&result);
	last_lines(result.output, output, size, 2);
	if (rc == 127)
		message(output, size, "%s not found", argv[0]);
	spawn_result_free(&result);
	return rc == 0 ? 0 : -1;
}

/* OpenSSH-format keys on the config disk are converted once into dropbear's format. */
static int config_key(const char *dir, char *path, size_t path_size, char *why, size_t why_size)
{
	static const char *const names[] = { "id_ed25519", "id_rsa" };
	char source[PATH_MAX], output[512];
	size_t i;

	for (i = 0; i < sizeof names / sizeof names[0]; i++) {
		snprintf(source, sizeof source, "%s/%s", RESCUE_CONFIG_MOUNT, names[i]);
		if (!file_exists(source))
			continue;
		snprintf(path, path_size, "%s/id_config", dir);
		if (file_exists(path))
			return 1;
		char *argv[] = { "dropbearmulti", "dropbearconvert", "openssh", "dropbear", source,
		    path, NULL };
		if (run_tool(argv, output, sizeof output) != 0) {
			message(why, why_size, "cannot convert %s (an OpenSSH key without passphrase?): %s",
			    source, output);
			unlink(path);
			return -1;
		}
		return 1;
	}
	return 0;
}

static int public_line(const char *key, char *line, size_t size, char *why, size_t why_size)
{
	char output[2048], *start;
	char *argv[] = { "dropbearkey", "-y", "-f", (char *)key, NULL };

	if (run_tool(argv, output, sizeof output) != 0) {
		message(why, why_size, "cannot read the public key of %s: %s", key, output);
		return -1;
	}
	start = strstr(output, "ssh-");
	if (start == NULL)
		start = strstr(output, "ecdsa-");
	if (start == NULL) {
		message(why, why_size, "no public key line from dropbearkey -y -f %s", key);
		return -1;
	}
	snprintf(line, size, "%.*s", (int)strcspn(start, ";\n"), start);
	return 0;
}

int target_client_key(char *private_path, size_t path_size, char *public, size_t line_size,
    char *why, size_t why_size)
{
	const char *dir = client_dir();
	char output[512];
	int from_config;

	if (dir_make(dir) != 0) {
		message(why, why_size, "cannot create %s: %s", dir, err_text(errno));
		return -1;
	}
	from_config = config_key(dir, private_path, path_size, why, why_size);
	if (from_config < 0)
		return -1;
	if (from_config == 0) {
		snprintf(private_path, path_size, "%s/id_ed25519", dir);
		if (!file_exists(private_path)) {
			char *argv[] = { "dropbearkey", "-t", "ed25519", "-f", private_path, NULL };

			if (run_tool(argv, output, sizeof output) != 0) {
				message(why, why_size, "cannot make a client key %s: %s", private_path, output);
				return -1;
			}
		}
	}
	return public_line(private_path, public, line_size, why, why_size);
}

/* ---------------------------------------------------------------- host keys */

/* Each (host, port) has a home of its own, so that two servers on one address (tests run
 * several on 10.0.2.2) do not share dbclient's known_hosts, which names hosts only. */
static void host_home(const struct target *target, char *home, size_t size)
{
	char host[sizeof target->host];
	char *c;

	snprintf(host, sizeof host, "%s", target->host);
	for (c = host; *c; c++)
		if (*c == ':' || *c == '%' || *c == '/')
			*c = '_';
	snprintf(home, size, "%s/hosts/%s_%u", client_dir(), host, target_port(target));
}

/* OpenSSH host patterns know '*' and '?' only: '[' is literal ("[host]:port"), so
 * fnmatch would misread it. */
static int pattern_match(const char *pattern, const char *text)
{
	if (*pattern == '\0')
		return *text == '\0';
	if (*pattern == '*')
		return pattern_match(pattern + 1, text) || (*text && pattern_match(pattern, text + 1));
	if (*text && (*pattern == '?' || *pattern == *text))
		return pattern_match(pattern + 1, text + 1);
	return 0;
}

/* 1 when a pattern of the comma-separated HOSTS names the target; hashed (|1|) and
 * negated patterns are not understood and never match. */
static int hosts_match(char *hosts, const struct target *target)
{
	char bracketed[sizeof target->host + 16], *pattern, *save = NULL;

	snprintf(bracketed, sizeof bracketed, "[%s]:%u", target->host, target_port(target));
	for (pattern = strtok_r(hosts, ",", &save); pattern; pattern = strtok_r(NULL, ",", &save)) {
		if (pattern[0] == '|' || pattern[0] == '!')
			continue;
		if (pattern_match(pattern, bracketed))
			return 1;
		if (target_port(target) == 22 && pattern_match(pattern, target->host))
			return 1;
	}
	return 0;
}

/* known_hosts on the config disk, rewritten into dbclient's form for this one host.
 * 1: written (strict checking), 0: there is no such file (trust on first use), -1: the
 * file exists but names no key of this host (WHY says so). */
static int known_hosts_from_config(const struct target *target, const char *destination,
    char *why, size_t why_size)
{
	char source[PATH_MAX], line[8192];
	FILE *in, *out;
	int matched = 0;

	snprintf(source, sizeof source, "%s/known_hosts", RESCUE_CONFIG_MOUNT);
	in = fopen(source, "re");
	if (in == NULL)
		return 0;
	out = fopen(destination, "we");
	if (out == NULL) {
		message(why, why_size, "cannot write %s: %s", destination, err_text(errno));
		fclose(in);
		return -1;
	}
	while (fgets(line, sizeof line, in)) {
		char *save = NULL, *hosts = strtok_r(line, " \t\r\n", &save);
		char *type = strtok_r(NULL, " \t\r\n", &save), *blob = strtok_r(NULL, " \t\r\n", &save);

		if (hosts == NULL || hosts[0] == '#' || hosts[0] == '@' || blob == NULL)
			continue;
		if (hosts_match(hosts, target)) {
			fprintf(out, "%s %s %s\n", target->host, type, blob);
			matched++;
		}
	}
	fclose(in);
	if (fclose(out) != 0 || matched == 0) {
		message(why, why_size, "no key for %s port %u in %s (hashed entries are not read; "
		    "add a line '[%s]:%u TYPE KEY')", target->host, target_port(target), source,
		    target->host, target_port(target));
		return -1;
	}
	return 1;
}

/* ---------------------------------------------------------------- running dbclient */

static void port_text(const struct target *target, char *text, size_t size)
{
	snprintf(text, size, "%u", target_port(target));
}

/* stderr of the child goes to a memory file: spawn collects stdout alone, and the file
 * content must stay apart from dbclient's messages. */
static int stderr_capture(int *saved)
{
	int memory = memfd_create("rescue-ssh-stderr", MFD_CLOEXEC);

	if (memory < 0)
		return -1;
	fflush(stderr);
	*saved = dup(STDERR_FILENO);
	if (*saved < 0 || dup2(memory, STDERR_FILENO) < 0) {
		close(memory);
		if (*saved >= 0)
			close(*saved);
		return -1;
	}
	return memory;
}

static void stderr_restore(int memory, int saved, char *text, size_t size)
{
	static char all[65536];
	ssize_t got;
	off_t length;

	dup2(saved, STDERR_FILENO);
	close(saved);
	length = lseek(memory, 0, SEEK_END);
	if (length > (off_t)sizeof all - 1)
		lseek(memory, length - (off_t)sizeof all + 1, SEEK_SET);
	else
		lseek(memory, 0, SEEK_SET);
	got = read(memory, all, sizeof all - 1);
	all[got > 0 ? got : 0] = '\0';
	close(memory);
	snprintf(text, size, "%s", all);
}

static int ssh_spawn(const struct target *target, const char *command, const void *input,
    size_t input_size, int timeout, struct spawn_result *result, char *errors, size_t size)
{
	char key[PATH_MAX], public[1024], why[512], home[PATH_MAX], port[16];
	char home_entry[PATH_MAX + 8], password_entry[sizeof target->password + 24];
	char *environment[3] = { home_entry, NULL, NULL };
	int memory, saved, rc;

	if (target_client_key(key, sizeof key, public, sizeof public, why, sizeof why) != 0) {
		message(errors, size, "%s", why);
		errno = ENOENT;
		return -1;
	}
	host_home(target, home, sizeof home);
	port_text(target, port, sizeof port);
	snprintf(home_entry, sizeof home_entry, "HOME=%s", home);
	if (target->password[0]) {
		snprintf(password_entry, sizeof password_entry, "DROPBEAR_PASSWORD=%s", target->password);
		environment[1] = password_entry;
	}
	/* -K 5: a keepalive every 5 s wakes a session whose close both ends missed (see
	 * target.c's ssh_put); without it such a session sat until the timeout. */
	char *argv[] = { "setsid", "dbclient", "-K", "5", "-p", port, "-i", key, "-l",
	    (char *)(target->user[0] ? target->user : "root"), (char *)target->host, (char *)command,
	    NULL };
	struct spawn_request request = { .argv = argv, .input = input, .input_size = input_size,
	    .environment = environment, .timeout_seconds = timeout };
	memory = stderr_capture(&saved);
	if (memory < 0)
		return -1;
	rc = spawn_run(&request, result);
	stderr_restore(memory, saved, errors, size);
	explicit_bzero(password_entry, sizeof password_entry);
	return rc;
}

int target_ssh_run(const struct target *target, const char *command, const void *input,
    size_t input_size, int timeout_seconds, struct target_ssh_reply *reply)
{
	static char errors[65536];
	struct spawn_result result;

	memset(reply, 0, sizeof *reply);
	if (ssh_spawn(target, command, input, input_size, timeout_seconds, &result, errors,
	    sizeof errors) != 0) {
		last_lines(errors, reply->errors, sizeof reply->errors, 3);
		return -1;
	}
	reply->exit_code = spawn_exit_code(&result);
	reply->timed_out = result.timed_out;
	reply->output = result.output;
	reply->output_size = result.output_size;
	last_lines(errors, reply->errors, sizeof reply->errors, 3);
	if (reply->exit_code == 127 && strstr(errors, "dbclient") == NULL)
		snprintf(reply->errors, sizeof reply->errors, "setsid or dbclient not found");
	return 0;
}

void target_ssh_reply_free(struct target_ssh_reply *reply)
{
	free(reply->output);
	reply->output = NULL;
	reply->output_size = 0;
}

/* ---------------------------------------------------------------- sessions */

static void session_child(const struct target *target, const char *subsystem, int stream,
    int errors, const char *key)
{
	char home[PATH_MAX], port[16];
	char *argv[] = { "dbclient", "-K", "5", "-p", port, "-i", (char *)key, "-l",
	    (char *)(target->user[0] ? target->user : "root"), "-s", (char *)target->host,
	    (char *)subsystem, NULL };

	setsid();
	if (dup2(stream, STDIN_FILENO) < 0 || dup2(stream, STDOUT_FILENO) < 0
	    || dup2(errors, STDERR_FILENO) < 0)
		_exit(127);
	host_home(target, home, sizeof home);
	port_text(target, port, sizeof port);
	setenv("HOME", home, 1);
	if (target->password[0])
		setenv("DROPBEAR_PASSWORD", target->password, 1);
	execvp(argv[0], argv);
	fprintf(stderr, "dbclient: %s\n", err_text(errno));
	_exit(127);
}

int target_ssh_subsystem(const struct target *target, const char *subsystem, int *fd,
    struct target_ssh_session *session, char *why, size_t why_size)
{
	char key[PATH_MAX], public[1024];
	int pair[2];

	session->pid = -1;
	session->errors = -1;
	if (target_client_key(key, sizeof key, public, sizeof public, why, why_size) != 0)
		return -1;
	session->errors = memfd_create("rescue-ssh-session", MFD_CLOEXEC);
	if (session->errors < 0 || socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) != 0) {
		message(why, why_size, "cannot start dbclient: %s", err_text(errno));
		if (session->errors >= 0)
			close(session->errors);
		return -1;
	}
	session->pid = fork();
	if (session->pid == 0)
		session_child(target, subsystem, pair[1], session->errors, key);
	close(pair[1]);
	if (session->pid < 0) {
		message(why, why_size, "cannot start dbclient: %s", err_text(errno));
		close(pair[0]);
		close(session->errors);
		return -1;
	}
	/* Room for a whole batch of requests in one send (the default is about 200 KiB). */
	setsockopt(pair[0], SOL_SOCKET, SO_SNDBUF, &(int){ 2 << 20 }, sizeof(int));
	*fd = pair[0];
	return 0;
}

void target_ssh_end(struct target_ssh_session *session, char *errors, size_t size)
{
	static char all[16384];
	int waited, status;
	ssize_t got;
	off_t length;

	if (size)
		errors[0] = '\0';
	if (session->pid > 0) {
		kill(session->pid, SIGTERM);
		for (waited = 0; waited < 400; waited++) {
			if (waitpid(session->pid, &status, WNOHANG) == session->pid)
				break;
			usleep(5000);
		}
		if (waited == 400) {
			kill(session->pid, SIGKILL);
			waitpid(session->pid, &status, 0);
		}
		session->pid = -1;
	}
	if (session->errors < 0)
		return;
	length = lseek(session->errors, 0, SEEK_END);
	lseek(session->errors, length > (off_t)sizeof all - 1 ? length - (off_t)sizeof all + 1 : 0,
	    SEEK_SET);
	got = read(session->errors, all, sizeof all - 1);
	all[got > 0 ? got : 0] = '\0';
	last_lines(all, errors, size, 2);
	close(session->errors);
	session->errors = -1;
}

/* ---------------------------------------------------------------- the first connection */

/* The fingerprint dbclient names in "(ssh-ed25519 fingerprint SHA256:...)". */
static void fingerprint_find(const char *errors, const char *after, char *out, size_t size)
{
	const char *start = strstr(errors, after), *open;

	out[0] = '\0';
	if (start == NULL)
		return;
	open = start;
	while (open > errors && *open != '(')
		open--;
	if (*open == '(' && strncmp(after, "fingerprint ", 12) == 0) {
		snprintf(out, size, "%.*s", (int)strcspn(open + 1, ")\n"), open + 1);
		return;
	}
	start += strlen(after);
	snprintf(out, size, "%.*s", (int)strcspn(start, " \n"), start);
}

static int check_classify(const struct target *target, const struct target_ssh_reply *reply,
    const char *errors, struct target_ssh_check *check)
{
	char fingerprint[160];

	if (strstr(errors, "host key mismatch")) {
		fingerprint_find(errors, "Fingerprint is ", fingerprint, sizeof fingerprint);
		message(check->why, sizeof check->why, "the host key of %s port %u changed (now %s)",
		    target->host, target_port(target), fingerprint);
		return check->state = TARGET_SSH_HOSTKEY;
	}
	if (strstr(errors, "Didn't validate host key")) {
		fingerprint_find(errors, "fingerprint ", fingerprint, sizeof fingerprint);
		message(check->why, sizeof check->why, "the host key of %s port %u (%s) is not in "
		    "known_hosts on the config disk", target->host, target_port(target), fingerprint);
		return check->state = TARGET_SSH_HOSTKEY;
	}
	if (reply->timed_out) {
		message(check->why, sizeof check->why, "no answer from %s port %u within %d s",
		    target->host, target_port(target), CHECK_TIMEOUT);
		return check->state = TARGET_SSH_ERROR;
	}
	if (reply->exit_code == 0 && reply->output && strstr(reply->output, CHECK_MARKER))
		return check->state = TARGET_SSH_OK;
	if (strstr(errors, "auth") || strstr(errors, "Auth") || strstr(errors, "denied")) {
		message(check->why, sizeof check->why, "user %s at %s port %u: %s",
		    target->user[0] ? target->user : "root", target->host, target_port(target),
		    reply->errors);
		return check->state = TARGET_SSH_AUTH;
	}
	message(check->why, sizeof check->why, "%s port %u: %s", target->host,
	    target_port(target), reply->errors[0] ? reply->errors : "dbclient failed");
	return check->state = TARGET_SSH_ERROR;
}

static void hostkey_describe(const char *errors, int strict, struct target_ssh_check *check)
{
	char fingerprint[160];

	if (strstr(errors, "is not in the trusted hosts file")) {
		fingerprint_find(errors, "fingerprint ", fingerprint, sizeof fingerprint);
		snprintf(check->hostkey, sizeof check->hostkey, "%s trusted on first use", fingerprint);
	} else {
		snprintf(check->hostkey, sizeof check->hostkey, "%s", strict
		    ? "matches known_hosts on the config disk" : "matches the key trusted on first use");
	}
}

/* The last check that succeeded in this process, and for which target. */
static char checked[sizeof ((struct target *)0)->display + 16];
static struct target_ssh_check last;

static void check_identity(const struct target *target, char *identity, size_t size)
{
	snprintf(identity, size, "%s %u", target->display, target_port(target));
}

/* dbclient's known_hosts for TARGET, and the stamp a check leaves there when it passed,
 * under the host's own HOME (made when missing). 0, or -1 with WHY. */
static int host_files(const struct target *target, char *known, char *stamp, size_t size,
    char *why, size_t why_size)
{
	char home[PATH_MAX];

	host_home(target, home, sizeof home);
	snprintf(known, size, "%s/.ssh", home);
	if (dir_make(known) != 0) {
		message(why, why_size, "cannot create %s: %s", known, err_text(errno));
		return -1;
	}
	snprintf(known, size, "%s/.ssh/known_hosts", home);
	snprintf(stamp, size, "%s/.ssh/checked", home);
	return 0;
}

/* The host's known_hosts is prepared (from the config disk, or left for trust on first use),
 * then one connection settles host key and login. The answer is remembered for the rest
 * of this process, so storing several files logs in once more per file only. */
int target_ssh_check(const struct target *target, struct target_ssh_check *check)
{
	static char errors[65536];
	char known[PATH_MAX + 32], stamp[PATH_MAX + 32], identity[sizeof checked];
	struct target_ssh_reply reply;
	struct spawn_result result;
	int strict, known_before, fd;

	check_identity(target, identity, sizeof identity);
	if (last.state == TARGET_SSH_OK && strcmp(checked, identity) == 0) {
		*check = last;
		return TARGET_SSH_OK;
	}
	memset(check, 0, sizeof *check);
	/* An unreachable host is named as such, before known_hosts or dbclient have a say. */
	fd = target_tcp_connect(target->host, target_port(target), CONNECT_TIMEOUT, check->why,
	    sizeof check->why);
	if (fd < 0)
		return check->state = TARGET_SSH_ERROR;
	close(fd);
	if (host_files(target, known, stamp, sizeof known, check->why, sizeof check->why) != 0)
		return check->state = TARGET_SSH_ERROR;
	unlink(stamp);
	strict = known_hosts_from_config(target, known, check->why, sizeof check->why);
	if (strict < 0)
		return check->state = TARGET_SSH_HOSTKEY;
	known_before = file_exists(known);
	memset(&reply, 0, sizeof reply);
	if (ssh_spawn(target, "echo " CHECK_MARKER, known_before ? "n\n" : "y\n", 2, CHECK_TIMEOUT,
	    &result, errors, sizeof errors) != 0) {
		last_lines(errors, check->why, sizeof check->why, 2);
		return check->state = TARGET_SSH_ERROR;
	}
	reply.exit_code = spawn_exit_code(&result);
	reply.timed_out = result.timed_out;
	reply.output = result.output;
	last_lines(errors, reply.errors, sizeof reply.errors, 2);
	hostkey_describe(errors, strict, check);
	check_classify(target, &reply, errors, check);
	spawn_result_free(&result);
	if (check->state == TARGET_SSH_OK) {
		last = *check;
		hostkey_describe("", strict, &last);	/* next time it is a known key */
		snprintf(checked, sizeof checked, "%s", identity);
		fd = open(stamp, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
		if (fd >= 0)
			close(fd);
	}
	return check->state;
}

/* A session may start without a check of its own when this process checked the target
 * already, or when a check in an earlier process passed (its stamp beside known_hosts,
 * which holds the key dbclient was shown then) and the port answers: dbclient then never
 * asks on the stream. Should it ask anyway (the server dropped that key type since), it
 * reads the stream and refuses; the session fails after STALL and the caller's check
 * explains why. */
int target_ssh_ready(const struct target *target)
{
	char known[PATH_MAX + 32], stamp[PATH_MAX + 32], identity[sizeof checked], why[256];
	int fd;

	check_identity(target, identity, sizeof identity);
	if (last.state == TARGET_SSH_OK && strcmp(checked, identity) == 0)
		return 1;
	if (host_files(target, known, stamp, sizeof known, why, sizeof why) != 0
	    || !file_exists(stamp)
	    || known_hosts_from_config(target, known, why, sizeof why) < 0 || !file_exists(known))
		return 0;
	fd = target_tcp_connect(target->host, target_port(target), CONNECT_TIMEOUT, why,
	    sizeof why);
	if (fd < 0)
		return 0;
	close(fd);
	return 1;
}
