/* ssh_server.c: dropbear as the appliance's SSH server (described in ssh_server.h). */
#include <errno.h>
#include <fcntl.h>
#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/err.h"
#include "base/paths.h"
#include "base/spawn.h"
#include "cli/ssh_server.h"
#include "cli/status.h"

#define HOST_KEY_FORMAT "/etc/dropbear/dropbear_%s_host_key"
#define SERVER_LOG "/run/rescue/ssh_server.log"

static const char *const host_key_types[SSH_HOST_KEYS_MAX] = { "ed25519", "ecdsa" };

/* ---------------------------------------------------------------- small helpers */

static int run_quiet(char *const *argv, const void *input, size_t input_size, char *output,
    size_t size, int timeout)
{
	struct spawn_request request = { .argv = argv, .input = input, .input_size = input_size,
	    .flags = SPAWN_STDERR, .timeout_seconds = timeout };
	struct spawn_result result;
	int code;

	if (spawn_run(&request, &result) != 0) {
		snprintf(output, size, "cannot run %s: %s", argv[0], err_text(errno));
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

void ssh_wait_gone(long pid)
{
	int tries;

	for (tries = 0; tries < 50 && kill((pid_t)pid, 0) == 0; tries++)
		usleep(100000);
}

/* The journal would file a daemon's children's commands under this command, and SSH
 * sessions would claim this one's origin. */
void ssh_daemon_environment(void)
{
	unsetenv(RESCUE_NESTED_ENV);
	unsetenv(RESCUE_ORIGIN_ENV);
	unsetenv("SSH_CONNECTION");
	unsetenv("SSH_CLIENT");
	unsetenv("SSH_TTY");
}

/* ---------------------------------------------------------------- keys and fingerprints */

void ssh_keys_read(struct ssh_key_list *list)
{
	FILE *file = fopen(SSH_AUTHORIZED_KEYS, "re");
	char line[SSHKEY_BLOB_MAX + 512], why[256];

	list->count = 0;
	if (file == NULL)
		return;
	while (list->count < SSH_KEYS_MAX && fgets(line, sizeof line, file))
		if (sshkey_parse(line, &list->keys[list->count], why, sizeof why) == 0) {
			sshkey_fingerprint(list->keys[list->count].blob, list->fingerprints[list->count],
			    sizeof list->fingerprints[0]);
			list->count++;
		}
	fclose(file);
}

/* dropbearkey -y prints the public line of a host key; its fingerprint is computed here
 * the way OpenSSH computes it, so the user compares like with like. */
static int host_key_read(const char *type, struct ssh_host_key *host_key)
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

int ssh_host_keys_read(struct ssh_host_key *host_keys)
{
	size_t i;
	int count = 0;

	for (i = 0; i < SSH_HOST_KEYS_MAX; i++)
		if (host_key_read(host_key_types[i], &host_keys[count]) == 0)
			count++;
	return count;
}

/* One dropbearkey per missing host key, all started at once: each is a few tenths of a
 * second of CPU under emulation, on the boot's path to `rescue: ready` when SSH is on.
 * Every one is waited for before the server starts, so it never reads a key half written;
 * the first failure in type order is told, with what dropbearkey said. */
struct host_key_maker {
	char path[128];
	char *argv[6];
	struct spawn_request request;
	struct spawn_child child;
	int started;		/* 1 running, 0 the key was there, -1 not started (errno) */
	int error;
};

static void host_key_maker_start(struct host_key_maker *maker, const char *type)
{
	snprintf(maker->path, sizeof maker->path, HOST_KEY_FORMAT, type);
	maker->started = 0;
	if (file_exists(maker->path))
		return;
	maker->argv[0] = "dropbearkey";
	maker->argv[1] = "-t";
	maker->argv[2] = (char *)type;
	maker->argv[3] = "-f";
	maker->argv[4] = maker->path;
	maker->argv[5] = NULL;
	maker->request = (struct spawn_request){ .argv = maker->argv, .flags = SPAWN_STDERR,
	    .timeout_seconds = 60 };
	maker->started = spawn_start(&maker->request, &maker->child) == 0 ? 1 : -1;
	maker->error = errno;
}

/* 0 when the key is there (made now or before), else -1 with the reason in WHY. */
static int host_key_maker_finish(struct host_key_maker *maker, char *why, size_t size)
{
	struct spawn_result result;
	int code;

	if (maker->started == 0)
		return 0;
	if (maker->started < 0) {
		snprintf(why, size, "cannot run dropbearkey: %s", err_text(maker->error));
		return -1;
	}
	if (spawn_finish(&maker->request, &maker->child, &result) != 0) {
		snprintf(why, size, "cannot run dropbearkey: %s", err_text(errno));
		spawn_result_free(&result);
		return -1;
	}
	code = result.timed_out ? -1 : spawn_exit_code(&result);
	snprintf(why, size, "%s", result.output);
	spawn_result_free(&result);
	return code == 0 ? 0 : -1;
}

static int host_keys_make(void)
{
	struct host_key_maker makers[SSH_HOST_KEYS_MAX];
	char why[SSH_HOST_KEYS_MAX][1024];
	int failed = -1;
	size_t i;

	mkdir("/etc/dropbear", 0755);
	for (i = 0; i < SSH_HOST_KEYS_MAX; i++)
		host_key_maker_start(&makers[i], host_key_types[i]);
	for (i = 0; i < SSH_HOST_KEYS_MAX; i++)
		if (host_key_maker_finish(&makers[i], why[i], sizeof why[i]) != 0 && failed < 0)
			failed = (int)i;
	if (failed >= 0)
		return err_fatalx(EXIT_SYSTEM, "unable to make the host key %s: %s",
		    makers[failed].path, why[failed]);
	return 0;
}

/* The menu's header reads the first line of this file. */
static void fingerprints_save(const struct ssh_host_key *host_keys, int count)
{
	FILE *file = fopen(RESCUE_SSH_FINGERPRINTS, "we");
	int i;

	if (file == NULL)
		return;
	for (i = 0; i < count; i++)
		fprintf(file, "%s %s\n", host_keys[i].kind, host_keys[i].fingerprint);
	fclose(file);
}

void ssh_host_keys_print(const char *prefix)
{
	struct ssh_host_key host_keys[SSH_HOST_KEYS_MAX];
	int i, count = ssh_host_keys_read(host_keys);

	fingerprints_save(host_keys, count);
	for (i = 0; i < count; i++)
		printf("%s%s %s\n", prefix, host_keys[i].kind, host_keys[i].fingerprint);
}

/* ---------------------------------------------------------------- the password */

int ssh_password_on(void)
{
	return shadow_has_password(SSH_SHADOW, "root") == 1;
}

/* busybox cryptpw reads the password from stdin, so it never shows in ps; Debian's musl
 * has no crypt() for us to call. */
int ssh_password_hash(const char *password, char *hash, size_t size)
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

/* ---------------------------------------------------------------- the server */

int ssh_sessions_count(long server)
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

	snprintf(port, sizeof port, "%d", SSH_SERVER_PORT);
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
	ssh_daemon_environment();
	execvp(argv[0], argv);
	_exit(127);
}

int ssh_server_start(void)
{
	int status, tries, passwords = ssh_password_on();
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
		return err_fatalx(EXIT_SYSTEM, "unable to start dropbear on port %d: %s",
		    SSH_SERVER_PORT, why[0] ? why : WIFEXITED(status) && WEXITSTATUS(status) == 127
		    ? "dropbear not found" : "it exited without a word");
	}
	return 0;
}

void ssh_server_stop(void)
{
	long pid = ssh_server_pid(RESCUE_SSH_PIDFILE);

	if (pid <= 0)
		return;
	kill((pid_t)pid, SIGTERM);
	ssh_wait_gone(pid);
	unlink(RESCUE_SSH_PIDFILE);
}
