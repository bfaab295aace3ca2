/* ssh: the SSH server: state, keys, a password, fingerprints, a reverse tunnel
 *
 * usage: rescue ssh [status] [--json]
 *        rescue ssh on | off
 *        rescue ssh add-key [LINE... | --url URL | --config]
 *        rescue ssh password [--stdin] | password --off
 *        rescue ssh fingerprints [--json]
 *        rescue ssh reverse ssh://USER@JUMPHOST[:PORT] [--remote-port N] | reverse --stop
 *
 * status shows whether the server (dropbear) runs, its port and pid, the authorised keys
 * with their fingerprints and comments, the host key fingerprints, the open sessions,
 * whether password logins are on and the reverse tunnel.
 *
 * on starts the server as boot does (host keys are made when missing); it needs an
 * authorised key or a root password. off stops it; open sessions stay connected.
 *
 * add-key adds public key lines to root's authorized_keys: the LINE given as operands
 * (the words are joined with blanks, so quoting is optional), the lines of an http(s) URL,
 * authorized_keys on the RESCUECFG disk, or else one line read from stdin. Each line must be
 * TYPE BASE64 [COMMENT] (options first are allowed) with base64 that decodes to a key of that
 * type; other lines are named and refused. Keys already there are not added twice. When the
 * server was off because no key existed, it is started.
 *
 * password asks twice for a new root password on the terminal (without echo; Ctrl-C leaves
 * the terminal as it was), stores its SHA-512 crypt hash in /etc/shadow and restarts the
 * server with password logins allowed. --stdin reads it from one line of stdin instead
 * (runbooks, tests). password --off removes the password: keys only again. The password
 * itself is never printed or journaled.
 *
 * fingerprints prints the host key fingerprints (SHA256, as ssh-keygen -l shows them), to
 * check on the first connection.
 *
 * reverse keeps a tunnel open from JUMPHOST's port N (default 2222, on its loopback) to
 * this machine's SSH server, for a machine behind NAT: on the jump host,
 * `ssh -p N root@localhost` reaches the appliance. It logs in as USER with the client key
 * (`rescue target key`; its public line is printed to authorise on the jump host), checks
 * the jump host's key like ssh:// targets do, then leaves a supervisor in the background
 * that reconnects with a growing pause (1 s to 60 s) when the link drops.
 * reverse --stop ends it.
 *
 * Options:
 *   -j, --json            status or fingerprints as JSON
 *       --url URL         add-key: fetch the lines from URL (busybox wget, which checks no
 *                         certificate: URL#sha256=HEX pins the file's SHA-256)
 *       --config          add-key: take authorized_keys from the RESCUECFG disk
 *       --stdin           password: read the password from one line of stdin
 *       --off             password: remove the password, keys only
 *       --remote-port N   reverse: the port on the jump host (default 2222)
 *       --stop            reverse: end the tunnel
 *
 * Exit codes: 0 done, 1 add-key added some lines but refused others, 2 usage error or bad
 * input (a junk key line, passwords that differ, a malformed URL), 3 the system failed
 * (dropbear did not start, the jump host refused, a file could not be written).
 */
#include <errno.h>
#include <fcntl.h>
#include <dirent.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "base/err.h"
#include "base/fetch.h"
#include "base/journal.h"
#include "base/json.h"
#include "base/paths.h"
#include "base/spawn.h"
#include "cli/command.h"
#include "cli/opt.h"
#include "cli/status.h"
#include "target/sshkey.h"
#include "target/target.h"
#include "target/target_ops.h"
#include "usage/ssh.h"

static int ssh_main(int argc, char **argv);

const struct command command_ssh = {
	.name = "ssh",
	.summary = COMMAND_SUMMARY,
	.usage = COMMAND_USAGE,
	.menu_label = "ssh: server, keys, tunnel",
	.menu_rank = 70,
	.menu_prompt = "status, on, off, add-key, password, fingerprints or reverse URL",
	.run = ssh_main,
};

#define SSH_PORT 22
#define AUTH_KEYS_DIR "/root/.ssh"
#define AUTH_KEYS "/root/.ssh/authorized_keys"
#define SHADOW "/etc/shadow"
#define HOST_KEY_FORMAT "/etc/dropbear/dropbear_%s_host_key"
#define SERVER_LOG "/run/rescue/ssh_server.log"
#define REVERSE_PIDFILE "/run/rescue/ssh_reverse.pid"
#define REVERSE_STATE "/run/rescue/ssh_reverse"
#define REVERSE_LOG "/run/rescue/ssh_reverse.log"

enum { KEYS_MAX = 64, REVERSE_DEFAULT_PORT = 2222, BACKOFF_MAX = 60, TUNNEL_SETTLE = 5 };

static const char *const host_key_types[] = { "ed25519", "ecdsa" };

struct options {
	int json, config, from_stdin, off, stop;
	const char *url;
	long remote_port;
};

/* ---------------------------------------------------------------- small helpers */

static int run_quiet(char *const *argv, const void *input, size_t input_size, char *output,
    size_t size, int timeout)
{
	struct spawn_request request = { .argv = argv, .input = input, .input_size = input_size,
	    .flags = SPAWN_STDERR, .timeout_seconds = timeout };
	struct spawn_result result;
	int code;

	if (spawn_run(&request, &result) != 0) {
		snprintf(output, size, "cannot run %s: %s", argv[0], strerror(errno));
		return -1;
	}
	code = result.timed_out ? -1 : spawn_exit_code(&result);
	snprintf(output, size, "%s", result.output);
	spawn_result_free(&result);
	return code;
}

static int file_exists(const char *path)
{
	struct stat node;

	return stat(path, &node) == 0 && node.st_size > 0;
}

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

static void wait_gone(long pid)
{
	int tries;

	for (tries = 0; tries < 50 && kill((pid_t)pid, 0) == 0; tries++)
		usleep(100000);
}

/* The environment a daemon must not inherit: the journal would file its children's
 * commands under this command, and SSH sessions would claim this one's origin. */
static void daemon_environment(void)
{
	unsetenv(RESCUE_NESTED_ENV);
	unsetenv(RESCUE_ORIGIN_ENV);
	unsetenv("SSH_CONNECTION");
	unsetenv("SSH_CLIENT");
	unsetenv("SSH_TTY");
}

/* ---------------------------------------------------------------- keys and fingerprints */

struct key_list {
	struct sshkey keys[KEYS_MAX];
	char fingerprints[KEYS_MAX][SSHKEY_FINGERPRINT_MAX];
	int count;
};

static void keys_read(struct key_list *list)
{
	FILE *file = fopen(AUTH_KEYS, "re");
	char line[SSHKEY_BLOB_MAX + 512], why[256];

	list->count = 0;
	if (file == NULL)
		return;
	while (list->count < KEYS_MAX && fgets(line, sizeof line, file))
		if (sshkey_parse(line, &list->keys[list->count], why, sizeof why) == 0) {
			sshkey_fingerprint(list->keys[list->count].blob, list->fingerprints[list->count],
			    sizeof list->fingerprints[0]);
			list->count++;
		}
	fclose(file);
}

struct host_key {
	const char *kind;		/* ED25519, ECDSA */
	char fingerprint[SSHKEY_FINGERPRINT_MAX];
};

/* dropbearkey -y prints the public line of a host key; its fingerprint is computed here
 * the way OpenSSH computes it, so the user compares like with like. */
static int host_key_read(const char *type, struct host_key *host_key)
{
	char path[128], output[4096], why[256], *line;
	static struct sshkey key;
	char *argv[] = { "dropbearkey", "-y", "-f", path, NULL };

	snprintf(path, sizeof path, HOST_KEY_FORMAT, type);
	if (!file_exists(path) || run_quiet(argv, NULL, 0, output, sizeof output, 30) != 0)
		return -1;
	line = strstr(output, "ssh-");
	if (line == NULL)
		line = strstr(output, "ecdsa-");
	if (line == NULL || sshkey_parse(strtok(line, "\n"), &key, why, sizeof why) != 0)
		return -1;
	host_key->kind = sshkey_kind(key.type);
	return sshkey_fingerprint(key.blob, host_key->fingerprint, sizeof host_key->fingerprint);
}

static int host_keys_read(struct host_key *host_keys)
{
	size_t i;
	int count = 0;

	for (i = 0; i < sizeof host_key_types / sizeof host_key_types[0]; i++)
		if (host_key_read(host_key_types[i], &host_keys[count]) == 0)
			count++;
	return count;
}

static int host_keys_make(void)
{
	char path[128], output[1024];
	size_t i;

	mkdir("/etc/dropbear", 0755);
	for (i = 0; i < sizeof host_key_types / sizeof host_key_types[0]; i++) {
		char *argv[] = { "dropbearkey", "-t", (char *)host_key_types[i], "-f", path, NULL };

		snprintf(path, sizeof path, HOST_KEY_FORMAT, host_key_types[i]);
		if (file_exists(path))
			continue;
		if (run_quiet(argv, NULL, 0, output, sizeof output, 60) != 0)
			return err_fatalx(EXIT_SYSTEM, "unable to make the host key %s: %s", path,
			    output);
	}
	return 0;
}

/* The menu's header reads the first line of this file. */
static void fingerprints_save(const struct host_key *host_keys, int count)
{
	FILE *file = fopen(RESCUE_SSH_FINGERPRINTS, "we");
	int i;

	if (file == NULL)
		return;
	for (i = 0; i < count; i++)
		fprintf(file, "%s %s\n", host_keys[i].kind, host_keys[i].fingerprint);
	fclose(file);
}

/* ---------------------------------------------------------------- the server */

static int password_on(void)
{
	return shadow_has_password(SHADOW, "root") == 1;
}

/* Sessions are the server's children: dropbear forks one per connection. */
static int sessions_count(long server)
{
	DIR *proc = opendir("/proc");
	struct dirent *entry;
	int count = 0;

	if (proc == NULL || server <= 0) {
		if (proc)
			closedir(proc);
		return 0;
	}
	while ((entry = readdir(proc)) != NULL) {
		char path[300], text[512], *close_paren;
		long parent = 0;
		FILE *file;

		if (entry->d_name[0] < '1' || entry->d_name[0] > '9')
			continue;
		snprintf(path, sizeof path, "/proc/%s/stat", entry->d_name);
		file = fopen(path, "re");
		if (file == NULL)
			continue;
		if (fgets(text, sizeof text, file) && (close_paren = strrchr(text, ')'))
		    && sscanf(close_paren + 1, " %*c %ld", &parent) == 1 && parent == server)
			count++;
		fclose(file);
	}
	closedir(proc);
	return count;
}

static void server_log_tail(char *text, size_t size)
{
	FILE *file = fopen(SERVER_LOG, "re");
	size_t got;

	text[0] = '\0';
	if (file == NULL)
		return;
	got = fread(text, 1, size - 1, file);
	text[got] = '\0';
	fclose(file);
	text[strcspn(text, "\n")] = '\0';
}

/* dropbear forks into the background and keeps the descriptors it was given: they must
 * not be our pipes, or whoever waits for our output would wait for the daemon. */
static pid_t server_spawn(int passwords)
{
	char port[16];
	pid_t child;

	snprintf(port, sizeof port, "%d", SSH_PORT);
	child = fork();
	if (child != 0)
		return child;
	char ed25519[128], ecdsa[128];
	char *argv[] = { "dropbear", "-p", port, "-P", RESCUE_SSH_PIDFILE, "-r", ed25519, "-r",
	    ecdsa, passwords ? NULL : "-s", NULL };
	int null = open("/dev/null", O_RDWR), log = open(SERVER_LOG,
	    O_WRONLY | O_CREAT | O_TRUNC, 0600);

	snprintf(ed25519, sizeof ed25519, HOST_KEY_FORMAT, "ed25519");
	snprintf(ecdsa, sizeof ecdsa, HOST_KEY_FORMAT, "ecdsa");
	dup2(null, STDIN_FILENO);
	dup2(log >= 0 ? log : null, STDOUT_FILENO);
	dup2(log >= 0 ? log : null, STDERR_FILENO);
	setsid();
	daemon_environment();
	execvp(argv[0], argv);
	_exit(127);
}

static int server_start(void)
{
	int status, tries, passwords = password_on();
	char why[512];
	pid_t child;

	if (host_keys_make() != 0)
		return EXIT_SYSTEM;
	mkdir("/run/dropbear", 0755);
	unlink(RESCUE_SSH_PIDFILE);
	child = server_spawn(passwords);
	if (child < 0)
		return err_fatal(EXIT_SYSTEM, "unable to start dropbear");
	while (waitpid(child, &status, 0) < 0 && errno == EINTR)
		;
	for (tries = 0; tries < 30 && ssh_server_pid(RESCUE_SSH_PIDFILE) <= 0; tries++)
		usleep(100000);
	if (ssh_server_pid(RESCUE_SSH_PIDFILE) <= 0) {
		server_log_tail(why, sizeof why);
		return err_fatalx(EXIT_SYSTEM, "unable to start dropbear on port %d: %s", SSH_PORT,
		    why[0] ? why : WIFEXITED(status) && WEXITSTATUS(status) == 127
		    ? "dropbear not found" : "it exited without a word");
	}
	return 0;
}

static void server_stop(void)
{
	long pid = ssh_server_pid(RESCUE_SSH_PIDFILE);

	if (pid <= 0)
		return;
	kill((pid_t)pid, SIGTERM);
	wait_gone(pid);
	unlink(RESCUE_SSH_PIDFILE);
}

static void print_host_keys(const char *prefix)
{
	struct host_key host_keys[2];
	int i, count = host_keys_read(host_keys);

	fingerprints_save(host_keys, count);
	for (i = 0; i < count; i++)
		printf("%s%s %s\n", prefix, host_keys[i].kind, host_keys[i].fingerprint);
}

/* Starts the server, or restarts it so a changed password setting takes effect. */
static int server_on(int restart, const char *why_started)
{
	static struct key_list keys;
	long pid = ssh_server_pid(RESCUE_SSH_PIDFILE);
	int code;

	if (pid > 0 && !restart) {
		printf("ssh server already running on port %d (pid %ld)\n", SSH_PORT, pid);
		return EXIT_OK;
	}
	keys_read(&keys);
	if (keys.count == 0 && !password_on())
		return err_fatalx(EXIT_SYSTEM, "unable to start the ssh server: no authorised key "
		    "and no password (rescue ssh add-key LINE, or rescue ssh password)");
	if (pid > 0)
		server_stop();
	code = server_start();
	if (code != 0)
		return code;
	printf("ssh server %s on port %d (pid %ld): %d authorised key%s, password logins %s%s\n",
	    pid > 0 ? "restarted" : "started", SSH_PORT, (long)ssh_server_pid(RESCUE_SSH_PIDFILE),
	    keys.count, keys.count == 1 ? "" : "s", password_on() ? "on" : "off",
	    why_started ? why_started : "");
	print_host_keys("host key ");
	return EXIT_OK;
}

/* ---------------------------------------------------------------- reverse tunnel state */

struct reverse_state {
	long pid;		/* the supervisor, 0 when none runs */
	char text[512];		/* "URL PORT: STATE" as the supervisor last wrote it */
};

static void reverse_read(struct reverse_state *state)
{
	FILE *file;

	state->text[0] = '\0';
	state->pid = pid_read(REVERSE_PIDFILE);
	if (state->pid == 0)
		return;
	file = fopen(REVERSE_STATE, "re");
	if (file == NULL)
		return;
	if (fgets(state->text, sizeof state->text, file) == NULL)
		state->text[0] = '\0';
	state->text[strcspn(state->text, "\n")] = '\0';
	fclose(file);
}

/* ---------------------------------------------------------------- status */

static void status_json(long pid, const struct key_list *keys, const struct host_key *host_keys,
    int host_count, const struct reverse_state *reverse)
{
	int i;

	printf("{\"server\":\"%s\",\"port\":%d,\"pid\":", pid > 0 ? "on" : "off", SSH_PORT);
	printf(pid > 0 ? "%ld" : "null", pid);
	printf(",\"sessions\":%d,\"password_logins\":%s,\"keys\":[", sessions_count(pid),
	    password_on() ? "true" : "false");
	for (i = 0; i < keys->count; i++) {
		printf("%s{", i ? "," : "");
		json_member_string(stdout, "type", keys->keys[i].type, 0);
		json_member_string(stdout, "fingerprint", keys->fingerprints[i], 1);
		json_member_string(stdout, "comment", keys->keys[i].comment, 1);
		printf("}");
	}
	printf("],\"host_keys\":[");
	for (i = 0; i < host_count; i++) {
		printf("%s{", i ? "," : "");
		json_member_string(stdout, "type", host_keys[i].kind, 0);
		json_member_string(stdout, "fingerprint", host_keys[i].fingerprint, 1);
		printf("}");
	}
	printf("],\"reverse\":");
	if (reverse->pid > 0) {
		printf("{\"pid\":%ld,", reverse->pid);
		json_member_string(stdout, "state", reverse->text, 0);
		printf("}");
	} else {
		printf("null");
	}
	printf("}\n");
}

static void status_text(long pid, const struct key_list *keys, const struct host_key *host_keys,
    int host_count, const struct reverse_state *reverse)
{
	int i;

	int sessions = sessions_count(pid);

	if (pid > 0)
		printf("server:    on, port %d, pid %ld, %d open session%s\n", SSH_PORT, pid,
		    sessions, sessions == 1 ? "" : "s");
	else
		printf("server:    off\n");
	printf("passwords: %s\n", password_on() ? "on (root has a password)" : "off (keys only)");
	printf("keys:      %d authorised\n", keys->count);
	for (i = 0; i < keys->count; i++)
		printf("  %s %s %s\n", sshkey_kind(keys->keys[i].type), keys->fingerprints[i],
		    keys->keys[i].comment[0] ? keys->keys[i].comment : "(no comment)");
	printf("host keys:%s\n", host_count ? "" : " none yet (made when the server starts)");
	for (i = 0; i < host_count; i++)
		printf("  %s %s\n", host_keys[i].kind, host_keys[i].fingerprint);
	if (reverse->pid > 0)
		printf("reverse:   %s (supervisor pid %ld)\n", reverse->text, reverse->pid);
	else
		printf("reverse:   off\n");
}

static int status(int json)
{
	static struct key_list keys;
	struct host_key host_keys[2];
	struct reverse_state reverse;
	long pid = ssh_server_pid(RESCUE_SSH_PIDFILE);
	int host_count;

	keys_read(&keys);
	host_count = host_keys_read(host_keys);
	reverse_read(&reverse);
	if (json)
		status_json(pid, &keys, host_keys, host_count, &reverse);
	else
		status_text(pid, &keys, host_keys, host_count, &reverse);
	journal_summary("server %s, %d keys, passwords %s, reverse %s", pid > 0 ? "on" : "off",
	    keys.count, password_on() ? "on" : "off", reverse.pid > 0 ? "on" : "off");
	return EXIT_OK;
}

static int fingerprints(int json)
{
	struct host_key host_keys[2];
	int i, count;

	count = host_keys_read(host_keys);
	if (count == 0)
		return err_fatalx(EXIT_SYSTEM, "unable to show host keys: none made yet "
		    "(rescue ssh on makes them)");
	for (i = 0; i < count; i++)
		printf(json ? "%s{\"type\":\"%s\",\"fingerprint\":\"%s\"}" : "%.0s%s %s\n",
		    json ? (i ? "," : "[") : "", host_keys[i].kind, host_keys[i].fingerprint);
	if (json)
		printf("]\n");
	journal_summary("%d host key fingerprints shown", count);
	return EXIT_OK;
}

/* ---------------------------------------------------------------- add-key */

struct add_result {
	int added, present, refused;
	char first[160];	/* the first new key: "ED25519 SHA256:..." */
};

static int key_known(const struct key_list *keys, const char *blob)
{
	int i;

	for (i = 0; i < keys->count; i++)
		if (strcmp(keys->keys[i].blob, blob) == 0)
			return 1;
	return 0;
}

static int key_append(const char *line)
{
	int fd;
	size_t length = strcspn(line, "\r\n");
	ssize_t written;
	char *copy;

	mkdir(AUTH_KEYS_DIR, 0700);
	fd = open(AUTH_KEYS, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
	copy = malloc(length + 2);
	if (fd < 0 || copy == NULL) {
		free(copy);
		if (fd >= 0)
			close(fd);
		return err_fatal(EXIT_SYSTEM, "unable to open %s", AUTH_KEYS);
	}
	memcpy(copy, line, length);
	copy[length] = '\n';
	written = write(fd, copy, length + 1);
	free(copy);
	if (written != (ssize_t)(length + 1) || close(fd) != 0)
		return err_fatal(EXIT_SYSTEM, "unable to write %s", AUTH_KEYS);
	return 0;
}

/* One line from SOURCE: refused with its number and text, already there, or appended. */
static int add_line(const char *source, int number, char *line, struct key_list *keys,
    struct add_result *result)
{
	static struct sshkey key;
	char why[256], fingerprint[SSHKEY_FINGERPRINT_MAX];

	line[strcspn(line, "\r\n")] = '\0';
	if (line[strspn(line, " \t")] == '\0' || line[strspn(line, " \t")] == '#')
		return 0;
	if (sshkey_parse(line, &key, why, sizeof why) != 0) {
		err_warnx("unable to add line %d of %s: %s: '%.60s%s'", number, source, why, line,
		    strlen(line) > 60 ? "..." : "");
		result->refused++;
		return 0;
	}
	sshkey_fingerprint(key.blob, fingerprint, sizeof fingerprint);
	if (key_known(keys, key.blob)) {
		printf("already authorised: %s %s %s\n", sshkey_kind(key.type), fingerprint, key.comment);
		result->present++;
		return 0;
	}
	if (key_append(line + strspn(line, " \t")) != 0)
		return -1;
	printf("added: %s %s %s\n", sshkey_kind(key.type), fingerprint, key.comment);
	if (result->added++ == 0)
		snprintf(result->first, sizeof result->first, "%s %s", sshkey_kind(key.type),
		    fingerprint);
	if (keys->count < KEYS_MAX) {
		keys->keys[keys->count] = key;
		snprintf(keys->fingerprints[keys->count++], sizeof keys->fingerprints[0], "%s",
		    fingerprint);
	}
	return 0;
}

static int add_text(const char *source, char *text, struct key_list *keys,
    struct add_result *result)
{
	char *line, *save = NULL;
	int number = 0;

	/* strtok_r would skip empty lines and shift the numbers. */
	for (line = text; line; line = save) {
		save = strchr(line, '\n');
		if (save)
			*save++ = '\0';
		number++;
		if (add_line(source, number, line, keys, result) != 0)
			return -1;
	}
	return 0;
}

/* Key lines over the network: checked against the URL's #sha256= pin when it has one.
 * NULL with *CODE (usage or system) when they cannot be had. */
static char *url_fetch(const char *url, int *code)
{
	char why[1024], *text;
	size_t size;

	*code = fetch_url(url, 60, &text, &size, why, sizeof why);
	if (*code != EXIT_OK) {
		err_fatalx(*code, "unable to add keys: %s", why);
		return NULL;
	}
	if (!fetch_url_pinned(url))
		err_warnx("the keys at %s are not pinned: busybox wget checks no certificate, so "
		    "whoever answered chose them (URL#sha256=HEX pins them)", url);
	return text;
}

static char *file_slurp(const char *path)
{
	FILE *file = fopen(path, "re");
	char *text = NULL;
	size_t size = 0;
	ssize_t got;

	if (file == NULL) {
		err_fatal(EXIT_SYSTEM, "unable to read %s (is a RESCUECFG disk there?)", path);
		return NULL;
	}
	got = getdelim(&text, &size, '\0', file);
	fclose(file);
	if (got < 0) {
		free(text);
		return strdup("");
	}
	return text;
}

/* One line from stdin: the menu's "paste the public key line". */
static char *stdin_line(void)
{
	char *line = NULL;
	size_t size = 0;

	if (isatty(STDIN_FILENO)) {
		printf("paste the public key line: ");
		fflush(stdout);
	}
	if (getline(&line, &size, stdin) < 0) {
		free(line);
		err_fatalx(EXIT_USAGE, "unable to add a key: no line on stdin");
		return NULL;
	}
	return line;
}

static char *words_join(char **words, int count)
{
	size_t length = 1;
	char *text;
	int i;

	for (i = 0; i < count; i++)
		length += strlen(words[i]) + 1;
	text = calloc(1, length);
	for (i = 0; text && i < count; i++) {
		strcat(text, words[i]);
		if (i + 1 < count)
			strcat(text, " ");
	}
	return text;
}

static int add_key(const struct options *options, char **words, int count)
{
	static struct key_list keys;
	struct add_result result = { 0 };
	const char *source = options->url ? options->url : options->config
	    ? RESCUE_CONFIG_MOUNT "/authorized_keys" : count ? "the command line" : "stdin";
	int was_off = ssh_server_pid(RESCUE_SSH_PIDFILE) <= 0, code;
	char *text;

	if ((options->url != NULL) + options->config + (count > 0) > 1)
		return err_usage(command_ssh.usage, "add-key takes one of LINE, --url or --config");
	if (options->url)
		text = url_fetch(options->url, &code);
	else if (options->config)
		text = file_slurp(RESCUE_CONFIG_MOUNT "/authorized_keys");
	else
		text = count ? words_join(words, count) : stdin_line();
	if (text == NULL)
		return options->url ? code
		    : count == 0 && !options->config ? EXIT_USAGE : EXIT_SYSTEM;
	keys_read(&keys);
	code = add_text(source, text, &keys, &result);
	free(text);
	if (code != 0)
		return EXIT_SYSTEM;
	journal_summary("%d key%s added%s%s, %d already there, %d lines refused", result.added,
	    result.added == 1 ? "" : "s", result.added ? " " : "", result.first, result.present,
	    result.refused);
	if (result.added + result.present == 0) {
		err_fatalx(EXIT_USAGE, "unable to add a key from %s: no public key line%s", source,
		    result.refused ? " (see above)" : " found");
		return EXIT_USAGE;
	}
	if (was_off && result.added > 0) {
		printf("the ssh server was off (no key): starting it\n");
		code = server_on(0, ", started because a key was added");
		if (code != EXIT_OK)
			return code;
	}
	return result.refused ? EXIT_LOSSES : EXIT_OK;
}

/* ---------------------------------------------------------------- password */

static volatile sig_atomic_t interrupted;

static void on_interrupt(int signal_number)
{
	(void)signal_number;
	interrupted = 1;
}

/* One line without echo. The terminal modes and the signal actions are put back on every
 * way out, Ctrl-C included: the handler only sets a flag, read() returns EINTR (no
 * SA_RESTART), and the restore below runs. */
static int read_secret(const char *prompt, char *secret, size_t size)
{
	static const int signals[] = { SIGINT, SIGTERM, SIGQUIT, SIGHUP };
	struct sigaction action = { .sa_handler = on_interrupt }, saved[4];
	struct termios modes, quiet;
	size_t length = 0, i;
	int rc = 0;
	char byte;

	if (tcgetattr(STDIN_FILENO, &modes) != 0)
		return -1;
	sigemptyset(&action.sa_mask);
	interrupted = 0;
	for (i = 0; i < 4; i++)
		sigaction(signals[i], &action, &saved[i]);
	quiet = modes;
	quiet.c_lflag &= ~(tcflag_t)(ECHO | ECHONL);
	quiet.c_lflag |= ICANON | ISIG;
	/* Echo goes off before the prompt shows, so nothing typed after it can echo. */
	tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
	fputs(prompt, stdout);
	fflush(stdout);
	for (;;) {
		ssize_t got = read(STDIN_FILENO, &byte, 1);

		if (got < 0 && errno == EINTR && !interrupted)
			continue;
		if (got <= 0 || interrupted) {
			rc = -1;
			break;
		}
		if (byte == '\n' || byte == '\r')
			break;
		if (length + 1 < size)
			secret[length++] = byte;
	}
	secret[length] = '\0';
	tcsetattr(STDIN_FILENO, TCSAFLUSH, &modes);
	for (i = 0; i < 4; i++)
		sigaction(signals[i], &saved[i], NULL);
	putchar('\n');
	return rc;
}

static int password_read(int from_stdin, char *password, size_t size)
{
	char again[256];
	int rc = 0;

	if (from_stdin) {
		if (fgets(password, (int)size, stdin) == NULL)
			return err_fatalx(EXIT_USAGE, "unable to set the password: no line on stdin");
		password[strcspn(password, "\r\n")] = '\0';
	} else if (!isatty(STDIN_FILENO)) {
		return err_fatalx(EXIT_USAGE, "unable to ask for a password: stdin is not a "
		    "terminal (--stdin reads it from one line)");
	} else if (read_secret("new root password: ", password, size) != 0
	    || read_secret("the same again: ", again, sizeof again) != 0) {
		rc = err_fatalx(EXIT_USAGE, "unable to set the password: %s", interrupted
		    ? "interrupted, nothing changed" : "the input ended, nothing changed");
	} else if (strcmp(password, again) != 0) {
		rc = err_fatalx(EXIT_USAGE, "unable to set the password: the two entries differ, "
		    "nothing changed");
	}
	explicit_bzero(again, sizeof again);
	if (rc == 0 && password[0] == '\0')
		rc = err_fatalx(EXIT_USAGE, "unable to set an empty password: nothing changed "
		    "(rescue ssh password --off turns passwords off)");
	return rc;
}

/* busybox cryptpw reads the password from stdin, so it never shows in ps; Debian's musl
 * has no crypt() for us to call. */
static int password_hash(const char *password, char *hash, size_t size)
{
	char *argv[] = { "cryptpw", "-m", "sha512", NULL };
	char input[258];
	int code;

	snprintf(input, sizeof input, "%s\n", password);
	code = run_quiet(argv, input, strlen(input), hash, size, 30);
	explicit_bzero(input, sizeof input);
	hash[strcspn(hash, "\n")] = '\0';
	if (code != 0 || strncmp(hash, "$6$", 3) != 0 || strlen(hash) < 60)
		return err_fatalx(EXIT_SYSTEM, "unable to hash the password with cryptpw: %.80s",
		    code == 0 ? "unexpected output" : hash);
	return 0;
}

static long today(void)
{
	return (long)(time(NULL) / 86400);
}

static int password(const struct options *options)
{
	char secret[256], hash[256], why[256];
	int running = ssh_server_pid(RESCUE_SSH_PIDFILE) > 0, code;

	if (options->off) {
		if (shadow_set_hash(SHADOW, "root", "*", today(), why, sizeof why) != 0)
			return err_fatalx(EXIT_SYSTEM, "unable to remove the password: %s", why);
		printf("root password removed: keys only\n");
		journal_summary("root password removed, password logins off");
		return running ? server_on(1, NULL) : EXIT_OK;
	}
	code = password_read(options->from_stdin, secret, sizeof secret);
	if (code == 0)
		code = password_hash(secret, hash, sizeof hash);
	explicit_bzero(secret, sizeof secret);
	if (code != 0)
		return code;
	if (shadow_set_hash(SHADOW, "root", hash, today(), why, sizeof why) != 0)
		return err_fatalx(EXIT_SYSTEM, "unable to store the password: %s", why);
	printf("root password set (SHA-512 crypt in %s): password logins on\n", SHADOW);
	journal_summary("root password set, password logins on");
	code = server_on(1, NULL);
	if (code == EXIT_OK)
		printf("rescue ssh password --off goes back to keys only\n");
	return code;
}

/* ---------------------------------------------------------------- reverse tunnel */

struct tunnel {
	struct target target;
	long remote_port;
	char key[PATH_MAX];
	char home[PATH_MAX];	/* dbclient's HOME: the known_hosts target_ssh_check wrote */
};

/* The same place as target_ssh.c's host_home(), so the jump host's key checked (or trusted
 * on first use) there is the one the tunnel's dbclient insists on. */
static void tunnel_home(struct tunnel *tunnel)
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

static void state_write(const struct tunnel *tunnel, const char *format, ...)
    __attribute__((format(printf, 2, 3)));
static void state_write(const struct tunnel *tunnel, const char *format, ...)
{
	FILE *file = fopen(REVERSE_STATE ".new", "we");
	char stamp[32];
	time_t now = time(NULL);
	va_list args;

	if (file == NULL)
		return;
	strftime(stamp, sizeof stamp, "%H:%M:%S", gmtime(&now));
	fprintf(file, "%s port %ld -> port %d: ", tunnel->target.display, tunnel->remote_port,
	    SSH_PORT);
	va_start(args, format);
	vfprintf(file, format, args);
	va_end(args);
	fprintf(file, " (%s UTC)\n", stamp);
	fclose(file);
	rename(REVERSE_STATE ".new", REVERSE_STATE);
}

/* dbclient's last complaint ("Connection refused", "host key mismatch"), so the state
 * says why the link is down. */
static void last_log_line(char *line, size_t size)
{
	char text[4096], *end, *start;
	FILE *file = fopen(REVERSE_LOG, "re");
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

static pid_t tunnel_connect(const struct tunnel *tunnel)
{
	char port[16], forward[64], home[PATH_MAX + 8];
	pid_t child = fork();

	if (child != 0)
		return child;
	snprintf(port, sizeof port, "%u", target_port(&tunnel->target));
	snprintf(forward, sizeof forward, "%ld:127.0.0.1:%d", tunnel->remote_port, SSH_PORT);
	snprintf(home, sizeof home, "HOME=%s", tunnel->home);
	putenv(home);
	signal(SIGTERM, SIG_DFL);
	char *argv[] = { "dbclient", "-N", "-K", "15", "-o", "ExitOnForwardFailure=yes", "-p",
	    port, "-i", (char *)tunnel->key, "-l", (char *)tunnel->target.user, "-R", forward,
	    (char *)tunnel->target.host, NULL };
	execvp(argv[0], argv);
	_exit(127);
}

/* The supervisor: dbclient again and again, the pause doubling after each quick failure
 * and starting over after a link that held for a while. */
static void tunnel_supervise(const struct tunnel *tunnel)
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
	unlink(REVERSE_PIDFILE);
	unlink(REVERSE_STATE);
	_exit(0);
}

static pid_t supervisor_start(const struct tunnel *tunnel)
{
	pid_t child = fork();
	FILE *file;
	int null, log;

	if (child != 0)
		return child;
	setsid();
	daemon_environment();
	null = open("/dev/null", O_RDWR);
	log = open(REVERSE_LOG, O_WRONLY | O_CREAT | O_APPEND, 0600);
	dup2(null, STDIN_FILENO);
	dup2(null, STDOUT_FILENO);
	dup2(log >= 0 ? log : null, STDERR_FILENO);
	file = fopen(REVERSE_PIDFILE, "we");
	if (file) {
		fprintf(file, "%ld\n", (long)getpid());
		fclose(file);
	}
	tunnel_supervise(tunnel);
	_exit(0);
}

static int tunnel_parse(const char *url, long remote_port, struct tunnel *tunnel)
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

static int reverse_stop(void)
{
	struct reverse_state state;

	reverse_read(&state);
	if (state.pid == 0) {
		printf("no reverse tunnel runs\n");
		journal_summary("reverse tunnel: none ran");
		return EXIT_OK;
	}
	kill((pid_t)state.pid, SIGTERM);
	wait_gone(state.pid);
	unlink(REVERSE_PIDFILE);
	unlink(REVERSE_STATE);
	printf("reverse tunnel stopped (%s)\n", state.text);
	journal_summary("reverse tunnel stopped");
	return EXIT_OK;
}

/* The first login is made in the foreground, so a refused key or an unknown host is told
 * now, with the key to authorise, instead of being retried in the background for ever. */
static int tunnel_check(struct tunnel *tunnel, const char *public_line)
{
	struct target_ssh_check check;

	printf("client key (authorise it on the jump host, in ~%s/.ssh/authorized_keys):\n%s\n",
	    tunnel->target.user, public_line);
	fflush(stdout);
	if (target_ssh_check(&tunnel->target, &check) != TARGET_SSH_OK)
		return err_fatalx(EXIT_SYSTEM, "unable to log in to the jump host %s: %s%s",
		    tunnel->target.display, check.why, check.state == TARGET_SSH_AUTH
		    ? " (authorise the client key above there, then run this again)" : "");
	printf("jump host %s: host key %s, login ok\n", tunnel->target.host, check.hostkey);
	return 0;
}

static int tunnel_settled(pid_t supervisor)
{
	struct reverse_state state;
	int waited;

	for (waited = 0; waited < TUNNEL_SETTLE * 10; waited++) {
		usleep(100000);
		if (waitpid(supervisor, NULL, WNOHANG) == supervisor)
			return 0;
	}
	reverse_read(&state);
	return strstr(state.text, ": up (") != NULL;
}

static int reverse(const struct options *options, const char *url)
{
	static struct tunnel tunnel;
	char public_line[1024], why[512];
	struct reverse_state state;
	pid_t supervisor;

	if (tunnel_parse(url, options->remote_port, &tunnel) != 0)
		return EXIT_USAGE;
	reverse_read(&state);
	if (state.pid > 0)
		return err_fatalx(EXIT_SYSTEM, "unable to start a second reverse tunnel: one runs "
		    "(%s); rescue ssh reverse --stop ends it", state.text);
	if (target_client_key(tunnel.key, sizeof tunnel.key, public_line, sizeof public_line, why,
	    sizeof why) != 0)
		return err_fatalx(EXIT_SYSTEM, "unable to get the client key: %s", why);
	if (ssh_server_pid(RESCUE_SSH_PIDFILE) <= 0)
		err_warnx("the ssh server is off: the tunnel leads nowhere until `rescue ssh on`");
	if (tunnel_check(&tunnel, public_line) != 0)
		return EXIT_SYSTEM;
	fflush(stdout);
	supervisor = supervisor_start(&tunnel);
	if (supervisor < 0)
		return err_fatal(EXIT_SYSTEM, "unable to start the tunnel supervisor");
	if (!tunnel_settled(supervisor))
		err_warnx("the tunnel did not hold for %d s (port %ld taken on the jump host, or "
		    "forwarding refused?); retrying in the background, see rescue ssh status and %s",
		    TUNNEL_SETTLE, tunnel.remote_port, REVERSE_LOG);
	printf("reverse tunnel: %s port %ld -> this machine's port %d (supervisor pid %ld)\n",
	    tunnel.target.display, tunnel.remote_port, SSH_PORT, (long)supervisor);
	printf("on the jump host: ssh -p %ld root@localhost\n", tunnel.remote_port);
	print_host_keys("check the host key: ");
	journal_summary("reverse tunnel to %s port %ld", tunnel.target.display, tunnel.remote_port);
	return EXIT_OK;
}

/* ---------------------------------------------------------------- the command */

static int options_parse(struct opt_parser *opts, struct options *options)
{
	static const struct option long_options[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "url", required_argument, NULL, 'u' },
		{ "config", no_argument, NULL, 'c' },
		{ "stdin", no_argument, NULL, 'i' },
		{ "off", no_argument, NULL, 'o' },
		{ "remote-port", required_argument, NULL, 'r' },
		{ "stop", no_argument, NULL, 's' },
		{ NULL, 0, NULL, 0 },
	};
	char *end;
	int option;

	*opts = opt_parser(&command_ssh, opts->argc, opts->argv, "j", long_options);
	memset(options, 0, sizeof *options);
	options->remote_port = REVERSE_DEFAULT_PORT;
	while ((option = opt_next(opts)) != OPT_DONE)
		switch (option) {
		case 'j': options->json = 1; break;
		case 'u': options->url = optarg; break;
		case 'c': options->config = 1; break;
		case 'i': options->from_stdin = 1; break;
		case 'o': options->off = 1; break;
		case 's': options->stop = 1; break;
		case 'r':
			options->remote_port = strtol(optarg, &end, 10);
			if (*end || end == optarg)
				options->remote_port = -1;
			break;
		case OPT_STOP: return -1;
		}
	return 0;
}

/* An option that belongs to another subcommand is a mistake worth naming. */
static int options_fit(const struct options *options, const char *sub)
{
	const char *stray = NULL;

	if (options->json && strcmp(sub, "status") && strcmp(sub, "fingerprints"))
		stray = "--json";
	else if ((options->url || options->config) && strcmp(sub, "add-key"))
		stray = options->url ? "--url" : "--config";
	else if ((options->from_stdin || options->off) && strcmp(sub, "password"))
		stray = options->off ? "--off" : "--stdin";
	else if ((options->stop || options->remote_port != REVERSE_DEFAULT_PORT)
	    && strcmp(sub, "reverse"))
		stray = options->stop ? "--stop" : "--remote-port";
	if (stray)
		return err_usage(command_ssh.usage, "%s does not go with '%s'", stray, sub);
	return 0;
}

static int run_sub(const struct options *options, const char *sub, char **rest, int count)
{
	if (strcmp(sub, "add-key") == 0)
		return add_key(options, rest, count);
	if (strcmp(sub, "reverse") == 0 && options->stop && count == 0)
		return reverse_stop();
	if (strcmp(sub, "reverse") == 0 && !options->stop && count == 1)
		return reverse(options, rest[0]);
	if (strcmp(sub, "reverse") == 0)
		return err_usage(command_ssh.usage, "reverse takes ssh://USER@HOST[:PORT] or --stop");
	if (count != 0)
		return err_usage(command_ssh.usage, "'%s' takes no operand, got '%s'", sub, rest[0]);
	if (strcmp(sub, "status") == 0)
		return status(options->json);
	if (strcmp(sub, "fingerprints") == 0)
		return fingerprints(options->json);
	if (strcmp(sub, "on") == 0) {
		journal_summary("ssh server on");
		return server_on(0, NULL);
	}
	if (strcmp(sub, "off") == 0) {
		long pid = ssh_server_pid(RESCUE_SSH_PIDFILE);
		int sessions = sessions_count(pid);

		server_stop();
		if (pid > 0)
			printf("ssh server stopped (%d open session%s stay%s connected)\n", sessions,
			    sessions == 1 ? "" : "s", sessions == 1 ? "s" : "");
		else
			printf("ssh server was not running\n");
		journal_summary("ssh server off");
		return EXIT_OK;
	}
	if (strcmp(sub, "password") == 0)
		return password(options);
	return err_usage(command_ssh.usage, "unknown subcommand '%s' (want status, on, off, "
	    "add-key, password, fingerprints or reverse)", sub);
}

static int ssh_main(int argc, char **argv)
{
	struct opt_parser opts = { .argc = argc, .argv = argv };
	struct options options;
	const char *sub;

	if (options_parse(&opts, &options) != 0)
		return opts.exit_code;
	if (opt_operands(&opts, 0, 64) != 0)
		return opts.exit_code;
	sub = opts.operand_count ? opts.operands[0] : "status";
	if (options.remote_port < 0)
		return err_usage(command_ssh.usage, "--remote-port wants a number 1-65535");
	if (options_fit(&options, sub) != 0)
		return EXIT_USAGE;
	return run_sub(&options, sub, opts.operands + (opts.operand_count > 0),
	    opts.operand_count > 0 ? opts.operand_count - 1 : 0);
}
