/* ssh_tunnel.c: the reverse tunnel's supervisor (described in ssh_tunnel.h). */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/err.h"
#include "cli/ssh_server.h"
#include "cli/ssh_tunnel.h"
#include "target/target_ops.h"

#define PIDFILE "/run/rescue/ssh_reverse.pid"
#define STATE "/run/rescue/ssh_reverse"

enum { BACKOFF_MAX = 60 };

static long pid_read(const char *path)
{
	FILE *file = fopen(path, "re");
	long pid = 0;

	if (file == NULL)
		return 0;
	if (fscanf(file, "%ld", &pid) != 1 || pid <= 0)
		pid = 0;
	fclose(file);
	return pid > 0 && (kill((pid_t)pid, 0) == 0 || errno == EPERM) ? pid : 0;
}

void ssh_tunnel_state_read(struct ssh_tunnel_state *state)
{
	FILE *file;

	state->text[0] = '\0';
	state->pid = pid_read(PIDFILE);
	if (state->pid == 0)
		return;
	file = fopen(STATE, "re");
	if (file == NULL)
		return;
	if (fgets(state->text, sizeof state->text, file) == NULL)
		state->text[0] = '\0';
	state->text[strcspn(state->text, "\n")] = '\0';
	fclose(file);
}

/* ---------------------------------------------------------------- the supervisor */

static void state_write(const struct ssh_tunnel *tunnel, const char *format, ...)
    __attribute__((format(printf, 2, 3)));
static void state_write(const struct ssh_tunnel *tunnel, const char *format, ...)
{
	FILE *file = fopen(STATE ".new", "we");
	char stamp[32];
	time_t now = time(NULL);
	va_list args;

	if (file == NULL)
		return;
	strftime(stamp, sizeof stamp, "%H:%M:%S", gmtime(&now));
	fprintf(file, "%s port %ld -> port %d: ", tunnel->target.display, tunnel->remote_port,
	    SSH_SERVER_PORT);
	va_start(args, format);
	vfprintf(file, format, args);
	va_end(args);
	fprintf(file, " (%s UTC)\n", stamp);
	fclose(file);
	rename(STATE ".new", STATE);
}

/* dbclient's last complaint ("Connection refused", "host key mismatch"), so the state
 * says why the link is down. */
static void last_log_line(char *line, size_t size)
{
	char text[4096], *end, *start;
	FILE *file = fopen(SSH_TUNNEL_LOG, "re");
	size_t got = 0;

	line[0] = '\0';
	if (file == NULL)
		return;
	if (fseek(file, -(long)(sizeof text - 1), SEEK_END) != 0)
		rewind(file);
	got = fread(text, 1, sizeof text - 1, file);
	fclose(file);
	text[got] = '\0';
	for (end = text + got; end > text && (end[-1] == '\n' || end[-1] == '\r'); end--)
		*(end - 1) = '\0';
	start = strrchr(text, '\n');
	start = start ? start + 1 : text;
	got = strlen(start) < size - 1 ? strlen(start) : size - 1;
	memcpy(line, start, got);
	line[got] = '\0';
}

static volatile sig_atomic_t tunnel_stop;
static volatile pid_t tunnel_client;

static void on_tunnel_stop(int signal_number)
{
	(void)signal_number;
	tunnel_stop = 1;
	if (tunnel_client > 0)
		kill(tunnel_client, SIGTERM);
}

static pid_t tunnel_connect(const struct ssh_tunnel *tunnel)
{
	char port[16], forward[64], home[PATH_MAX + 8];
	pid_t child = fork();

	if (child != 0)
		return child;
	snprintf(port, sizeof port, "%u", target_port(&tunnel->target));
	snprintf(forward, sizeof forward, "%ld:127.0.0.1:%d", tunnel->remote_port,
	    SSH_SERVER_PORT);
	snprintf(home, sizeof home, "HOME=%s", tunnel->home);
	putenv(home);
	signal(SIGTERM, SIG_DFL);
	char *argv[] = { "dbclient", "-N", "-K", "15", "-o", "ExitOnForwardFailure=yes", "-p",
	    port, "-i", (char *)tunnel->key, "-l", (char *)tunnel->target.user, "-R", forward,
	    (char *)tunnel->target.host, NULL };
	execvp(argv[0], argv);
	_exit(127);
}

/* dbclient again and again, the pause doubling after each quick failure and starting over
 * after a link that held for a while. */
static void tunnel_supervise(const struct ssh_tunnel *tunnel)
{
	int pause = 1, status;
	char why[256];
	time_t started;

	signal(SIGTERM, on_tunnel_stop);
	signal(SIGINT, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	while (!tunnel_stop) {
		state_write(tunnel, "connecting");
		started = time(NULL);
		tunnel_client = tunnel_connect(tunnel);
		if (tunnel_client > 0) {
			state_write(tunnel, "up (dbclient pid %ld)", (long)tunnel_client);
			while (waitpid(tunnel_client, &status, 0) < 0 && errno == EINTR)
				;
		}
		tunnel_client = 0;
		if (tunnel_stop)
			break;
		if (time(NULL) - started > BACKOFF_MAX)
			pause = 1;
		last_log_line(why, sizeof why);
		state_write(tunnel, "link lost%s%.200s%s, retrying in %d s", why[0] ? " (" : "", why,
		    why[0] ? ")" : "", pause);
		sleep((unsigned)pause);
		pause = pause * 2 > BACKOFF_MAX ? BACKOFF_MAX : pause * 2;
	}
	unlink(PIDFILE);
	unlink(STATE);
	_exit(0);
}

pid_t ssh_tunnel_start(const struct ssh_tunnel *tunnel)
{
	pid_t child = fork();
	FILE *file;
	int null, log;

	if (child != 0)
		return child;
	setsid();
	ssh_daemon_environment();
	null = open("/dev/null", O_RDWR);
	log = open(SSH_TUNNEL_LOG, O_WRONLY | O_CREAT | O_APPEND, 0600);
	dup2(null, STDIN_FILENO);
	dup2(null, STDOUT_FILENO);
	dup2(log >= 0 ? log : null, STDERR_FILENO);
	file = fopen(PIDFILE, "we");
	if (file) {
		fprintf(file, "%ld\n", (long)getpid());
		fclose(file);
	}
	tunnel_supervise(tunnel);
	_exit(0);
}

int ssh_tunnel_settled(pid_t supervisor)
{
	struct ssh_tunnel_state state;
	int waited;

	for (waited = 0; waited < SSH_TUNNEL_SETTLE_SECONDS * 10; waited++) {
		usleep(100000);
		if (waitpid(supervisor, NULL, WNOHANG) == supervisor)
			return 0;
	}
	ssh_tunnel_state_read(&state);
	return strstr(state.text, ": up (") != NULL;
}

void ssh_tunnel_stop(const struct ssh_tunnel_state *state)
{
	kill((pid_t)state->pid, SIGTERM);
	ssh_wait_gone(state->pid);
	unlink(PIDFILE);
	unlink(STATE);
}

/* ---------------------------------------------------------------- the jump host */

/* The same place as target_ssh.c's host_home(), so the jump host's key checked (or trusted
 * on first use) there is the one the tunnel's dbclient insists on. */
static void tunnel_home(struct ssh_tunnel *tunnel)
{
	const char *dir = getenv(TARGET_CLIENT_DIR_ENV);
	char host[sizeof tunnel->target.host], *c;

	snprintf(host, sizeof host, "%s", tunnel->target.host);
	for (c = host; *c; c++)
		if (*c == ':' || *c == '%' || *c == '/')
			*c = '_';
	snprintf(tunnel->home, sizeof tunnel->home, "%s/hosts/%s_%u",
	    dir && *dir ? dir : TARGET_CLIENT_DIR_DEFAULT, host, target_port(&tunnel->target));
}

int ssh_tunnel_parse(const char *url, long remote_port, struct ssh_tunnel *tunnel)
{
	char with_path[1024], why[256];
	const char *rest = strncmp(url, "ssh://", 6) == 0 ? url + 6 : NULL;
	size_t length;

	if (rest == NULL)
		return err_fatalx(EXIT_USAGE, "unable to use '%s' as a jump host: want "
		    "ssh://USER@HOST[:PORT]", url);
	snprintf(with_path, sizeof with_path, "%s%s", url, strchr(rest, '/') ? "" : "/");
	if (target_parse(with_path, &tunnel->target, why, sizeof why) != 0)
		return err_fatalx(EXIT_USAGE, "unable to use '%s' as a jump host: %s", url, why);
	length = strlen(tunnel->target.display);
	if (!strchr(rest, '/') && length && tunnel->target.display[length - 1] == '/')
		tunnel->target.display[length - 1] = '\0';	/* the "/" added above */
	if (tunnel->target.user[0] == '\0')
		snprintf(tunnel->target.user, sizeof tunnel->target.user, "root");
	if (remote_port < 1 || remote_port > 65535)
		return err_fatalx(EXIT_USAGE, "unable to use remote port '%ld': want 1-65535",
		    remote_port);
	tunnel->remote_port = remote_port;
	tunnel_home(tunnel);
	return 0;
}
