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
 *       --url URL         add-key: fetch the lines from URL: https:// with a certificate
 *                         from a known CA (or ca.pem on RESCUECFG); URL#sha256=HEX pins
 *                         the file's SHA-256; plain http:// only pinned (or with
 *                         rescue.insecure_http=1, warned)
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
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
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
#include "cli/ssh_server.h"
#include "cli/ssh_tunnel.h"
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

/* The options given, as bits: a subcommand names those it takes. */
enum option_given {
	GIVEN_JSON = 1 << 0, GIVEN_URL = 1 << 1, GIVEN_CONFIG = 1 << 2, GIVEN_OFF = 1 << 3,
	GIVEN_STDIN = 1 << 4, GIVEN_STOP = 1 << 5, GIVEN_REMOTE_PORT = 1 << 6,
};

struct options {
	int json, config, from_stdin, off, stop;
	const char *url;
	long remote_port;
	unsigned given;
};

/* ---------------------------------------------------------------- the server */

/* Starts the server, or restarts it so a changed password setting takes effect. */
static int server_on(int restart, const char *why_started)
{
	static struct ssh_key_list keys;
	long pid = ssh_server_pid(RESCUE_SSH_PIDFILE);
	int code;

	if (pid > 0 && !restart) {
		printf("ssh server already running on port %d (pid %ld)\n", SSH_SERVER_PORT, pid);
		return EXIT_OK;
	}
	ssh_keys_read(&keys);
	if (keys.count == 0 && !ssh_password_on())
		return err_fatalx(EXIT_SYSTEM, "unable to start the ssh server: no authorised key "
		    "and no password (rescue ssh add-key LINE, or rescue ssh password)");
	if (pid > 0)
		ssh_server_stop();
	code = ssh_server_start();
	if (code != 0)
		return code;
	printf("ssh server %s on port %d (pid %ld): %d authorised key%s, password logins %s%s\n",
	    pid > 0 ? "restarted" : "started", SSH_SERVER_PORT,
	    (long)ssh_server_pid(RESCUE_SSH_PIDFILE), keys.count, keys.count == 1 ? "" : "s",
	    ssh_password_on() ? "on" : "off", why_started ? why_started : "");
	ssh_host_keys_print("host key ");
	return EXIT_OK;
}

static int switch_on(const struct options *options, char **operands, int count)
{
	(void)options, (void)operands, (void)count;
	journal_summary("ssh server on");
	return server_on(0, NULL);
}

static int switch_off(const struct options *options, char **operands, int count)
{
	long pid = ssh_server_pid(RESCUE_SSH_PIDFILE);
	int sessions = ssh_sessions_count(pid);

	(void)options, (void)operands, (void)count;
	ssh_server_stop();
	if (pid > 0)
		printf("ssh server stopped (%d open session%s stay%s connected)\n", sessions,
		    sessions == 1 ? "" : "s", sessions == 1 ? "s" : "");
	else
		printf("ssh server was not running\n");
	journal_summary("ssh server off");
	return EXIT_OK;
}

/* ---------------------------------------------------------------- status */

static void status_json(long pid, const struct ssh_key_list *keys,
    const struct ssh_host_key *host_keys, int host_count,
    const struct ssh_tunnel_state *reverse)
{
	int i;

	printf("{\"server\":\"%s\",\"port\":%d,\"pid\":", pid > 0 ? "on" : "off",
	    SSH_SERVER_PORT);
	printf(pid > 0 ? "%ld" : "null", pid);
	printf(",\"sessions\":%d,\"password_logins\":%s,\"keys\":[", ssh_sessions_count(pid),
	    ssh_password_on() ? "true" : "false");
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

static void status_text(long pid, const struct ssh_key_list *keys,
    const struct ssh_host_key *host_keys, int host_count,
    const struct ssh_tunnel_state *reverse)
{
	int i;

	int sessions = ssh_sessions_count(pid);

	if (pid > 0)
		printf("server:    on, port %d, pid %ld, %d open session%s\n", SSH_SERVER_PORT, pid,
		    sessions, sessions == 1 ? "" : "s");
	else
		printf("server:    off\n");
	printf("passwords: %s\n",
	    ssh_password_on() ? "on (root has a password)" : "off (keys only)");
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

static int status(const struct options *options, char **operands, int count)
{
	static struct ssh_key_list keys;
	struct ssh_host_key host_keys[SSH_HOST_KEYS_MAX];
	struct ssh_tunnel_state reverse;
	long pid = ssh_server_pid(RESCUE_SSH_PIDFILE);
	int host_count;

	ssh_keys_read(&keys);
	(void)operands, (void)count;
	host_count = ssh_host_keys_read(host_keys);
	ssh_tunnel_state_read(&reverse);
	if (options->json)
		status_json(pid, &keys, host_keys, host_count, &reverse);
	else
		status_text(pid, &keys, host_keys, host_count, &reverse);
	journal_summary("server %s, %d keys, passwords %s, reverse %s", pid > 0 ? "on" : "off",
	    keys.count, ssh_password_on() ? "on" : "off", reverse.pid > 0 ? "on" : "off");
	return EXIT_OK;
}

static int fingerprints(const struct options *options, char **operands, int operand_count)
{
	struct ssh_host_key host_keys[SSH_HOST_KEYS_MAX];
	int i, count, json = options->json;

	(void)operands, (void)operand_count;
	count = ssh_host_keys_read(host_keys);
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

static int key_known(const struct ssh_key_list *keys, const char *blob)
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

	mkdir(SSH_AUTHORIZED_KEYS_DIR, 0700);
	fd = open(SSH_AUTHORIZED_KEYS, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
	copy = malloc(length + 2);
	if (fd < 0 || copy == NULL) {
		free(copy);
		if (fd >= 0)
			close(fd);
		return err_fatal(EXIT_SYSTEM, "unable to open %s", SSH_AUTHORIZED_KEYS);
	}
	memcpy(copy, line, length);
	copy[length] = '\n';
	written = write(fd, copy, length + 1);
	free(copy);
	if (written != (ssize_t)(length + 1) || close(fd) != 0)
		return err_fatal(EXIT_SYSTEM, "unable to write %s", SSH_AUTHORIZED_KEYS);
	return 0;
}

/* One line from SOURCE: refused with its number and text, already there, or appended. */
static int add_line(const char *source, int number, char *line, struct ssh_key_list *keys,
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
	if (keys->count < SSH_KEYS_MAX) {
		keys->keys[keys->count] = key;
		snprintf(keys->fingerprints[keys->count++], sizeof keys->fingerprints[0], "%s",
		    fingerprint);
	}
	return 0;
}

static int add_text(const char *source, char *text, struct ssh_key_list *keys,
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

/* Key lines over the network, from a verified https server or checked against the URL's
 * #sha256= pin (base/fetch.h). NULL with *CODE (usage or system) when they cannot be had. */
static char *url_fetch(const char *url, int *code)
{
	char why[1024], *text;
	size_t size;

	*code = fetch_url(url, 60, &text, &size, why, sizeof why);
	if (*code != EXIT_OK) {
		err_fatalx(*code, "unable to add keys: %s", why);
		return NULL;
	}
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
	static struct ssh_key_list keys;
	struct add_result result = { 0 };
	const char *source = options->url ? options->url : options->config
	    ? RESCUE_CONFIG_MOUNT "/authorized_keys" : count ? "the command line" : "stdin";
	int was_off = ssh_server_pid(RESCUE_SSH_PIDFILE) <= 0, code = EXIT_SYSTEM;
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
	ssh_keys_read(&keys);
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

static long today(void)
{
	return (long)(time(NULL) / 86400);
}

static int password(const struct options *options, char **operands, int count)
{
	char secret[256], hash[256], why[256];
	int running = ssh_server_pid(RESCUE_SSH_PIDFILE) > 0, code;

	(void)operands, (void)count;
	if (options->off) {
		if (shadow_set_hash(SSH_SHADOW, "root", "*", today(), why, sizeof why) != 0)
			return err_fatalx(EXIT_SYSTEM, "unable to remove the password: %s", why);
		printf("root password removed: keys only\n");
		journal_summary("root password removed, password logins off");
		return running ? server_on(1, NULL) : EXIT_OK;
	}
	code = password_read(options->from_stdin, secret, sizeof secret);
	if (code == 0)
		code = ssh_password_hash(secret, hash, sizeof hash);
	explicit_bzero(secret, sizeof secret);
	if (code != 0)
		return code;
	if (shadow_set_hash(SSH_SHADOW, "root", hash, today(), why, sizeof why) != 0)
		return err_fatalx(EXIT_SYSTEM, "unable to store the password: %s", why);
	printf("root password set (SHA-512 crypt in %s): password logins on\n", SSH_SHADOW);
	journal_summary("root password set, password logins on");
	code = server_on(1, NULL);
	if (code == EXIT_OK)
		printf("rescue ssh password --off goes back to keys only\n");
	return code;
}

/* ---------------------------------------------------------------- reverse tunnel */

static int reverse_stop(void)
{
	struct ssh_tunnel_state state;

	ssh_tunnel_state_read(&state);
	if (state.pid == 0) {
		printf("no reverse tunnel runs\n");
		journal_summary("reverse tunnel: none ran");
		return EXIT_OK;
	}
	ssh_tunnel_stop(&state);
	printf("reverse tunnel stopped (%s)\n", state.text);
	journal_summary("reverse tunnel stopped");
	return EXIT_OK;
}

/* The first login is made in the foreground, so a refused key or an unknown host is told
 * now, with the key to authorise, instead of being retried in the background for ever. */
static int tunnel_check(struct ssh_tunnel *tunnel, const char *public_line)
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

static int reverse_start(const struct options *options, const char *url)
{
	static struct ssh_tunnel tunnel;
	char public_line[1024], why[512];
	struct ssh_tunnel_state state;
	pid_t supervisor;

	if (ssh_tunnel_parse(url, options->remote_port, &tunnel) != 0)
		return EXIT_USAGE;
	ssh_tunnel_state_read(&state);
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
	supervisor = ssh_tunnel_start(&tunnel);
	if (supervisor < 0)
		return err_fatal(EXIT_SYSTEM, "unable to start the tunnel supervisor");
	if (!ssh_tunnel_settled(supervisor))
		err_warnx("the tunnel did not hold for %d s (port %ld taken on the jump host, or "
		    "forwarding refused?); retrying in the background, see rescue ssh status and %s",
		    SSH_TUNNEL_SETTLE_SECONDS, tunnel.remote_port, SSH_TUNNEL_LOG);
	printf("reverse tunnel: %s port %ld -> this machine's port %d (supervisor pid %ld)\n",
	    tunnel.target.display, tunnel.remote_port, SSH_SERVER_PORT, (long)supervisor);
	printf("on the jump host: ssh -p %ld root@localhost\n", tunnel.remote_port);
	ssh_host_keys_print("check the host key: ");
	journal_summary("reverse tunnel to %s port %ld", tunnel.target.display, tunnel.remote_port);
	return EXIT_OK;
}

/* reverse URL starts the tunnel, reverse --stop ends it. */
static int reverse(const struct options *options, char **operands, int count)
{
	if (options->stop && count == 0)
		return reverse_stop();
	if (!options->stop && count == 1)
		return reverse_start(options, operands[0]);
	return err_usage(command_ssh.usage, "reverse takes ssh://USER@HOST[:PORT] or --stop");
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
	options->remote_port = SSH_TUNNEL_DEFAULT_PORT;
	while ((option = opt_next(opts)) != OPT_DONE)
		switch (option) {
		case 'j': options->json = 1, options->given |= GIVEN_JSON; break;
		case 'u': options->url = optarg, options->given |= GIVEN_URL; break;
		case 'c': options->config = 1, options->given |= GIVEN_CONFIG; break;
		case 'i': options->from_stdin = 1, options->given |= GIVEN_STDIN; break;
		case 'o': options->off = 1, options->given |= GIVEN_OFF; break;
		case 's': options->stop = 1, options->given |= GIVEN_STOP; break;
		case 'r':
			options->given |= GIVEN_REMOTE_PORT;
			options->remote_port = strtol(optarg, &end, 10);
			if (*end || end == optarg)
				options->remote_port = -1;
			break;
		case OPT_STOP: return -1;
		}
	return 0;
}

typedef int subcommand_run(const struct options *options, char **operands, int count);

struct subcommand {
	const char *name;
	subcommand_run *run;
	unsigned options;	/* the GIVEN_* bits it takes */
	int operands;		/* 0: none; else run checks its operands itself */
};

/* In the order the usage lists them; the first is what `rescue ssh` alone runs. */
static const struct subcommand subcommands[] = {
	{ "status", status, GIVEN_JSON, 0 },
	{ "on", switch_on, 0, 0 },
	{ "off", switch_off, 0, 0 },
	{ "add-key", add_key, GIVEN_URL | GIVEN_CONFIG, 1 },
	{ "password", password, GIVEN_STDIN | GIVEN_OFF, 0 },
	{ "fingerprints", fingerprints, GIVEN_JSON, 0 },
	{ "reverse", reverse, GIVEN_STOP | GIVEN_REMOTE_PORT, 1 },
};

enum { SUBCOMMANDS = sizeof subcommands / sizeof subcommands[0] };

/* In the order a stray one is named when several are. */
static const struct {
	unsigned given;
	const char *name;
} option_names[] = {
	{ GIVEN_JSON, "--json" }, { GIVEN_URL, "--url" }, { GIVEN_CONFIG, "--config" },
	{ GIVEN_OFF, "--off" }, { GIVEN_STDIN, "--stdin" }, { GIVEN_STOP, "--stop" },
	{ GIVEN_REMOTE_PORT, "--remote-port" },
};

/* The subcommand called NAME; NULL after a usage error listing the table's names. */
static const struct subcommand *subcommand_find(const char *name)
{
	char names[160] = "";
	size_t i;

	for (i = 0; i < SUBCOMMANDS; i++)
		if (strcmp(subcommands[i].name, name) == 0)
			return &subcommands[i];
	for (i = 0; i < SUBCOMMANDS; i++)
		snprintf(names + strlen(names), sizeof names - strlen(names), "%s%s",
		    i == 0 ? "" : i + 1 == SUBCOMMANDS ? " or " : ", ", subcommands[i].name);
	err_usage(command_ssh.usage, "unknown subcommand '%s' (want %s)", name, names);
	return NULL;
}

/* An option or an operand that does not go with the subcommand is a mistake worth naming. */
static int subcommand_fit(const struct subcommand *sub, const struct options *options,
    char **operands, int count)
{
	size_t i;

	for (i = 0; i < sizeof option_names / sizeof option_names[0]; i++)
		if (options->given & option_names[i].given & ~sub->options)
			return err_usage(command_ssh.usage, "%s does not go with '%s'",
			    option_names[i].name, sub->name);
	if (!sub->operands && count != 0)
		return err_usage(command_ssh.usage, "'%s' takes no operand, got '%s'", sub->name,
		    operands[0]);
	return 0;
}

static int ssh_main(int argc, char **argv)
{
	struct opt_parser opts = { .argc = argc, .argv = argv };
	const struct subcommand *sub;
	struct options options;
	char **operands;
	int count;

	if (options_parse(&opts, &options) != 0)
		return opts.exit_code;
	if (opt_operands(&opts, 0, 64) != 0)
		return opts.exit_code;
	if (options.remote_port < 0)
		return err_usage(command_ssh.usage, "--remote-port wants a number 1-65535");
	sub = opts.operand_count ? subcommand_find(opts.operands[0]) : &subcommands[0];
	if (sub == NULL)
		return EXIT_USAGE;
	operands = opts.operands + (opts.operand_count > 0);
	count = opts.operand_count > 0 ? opts.operand_count - 1 : 0;
	if (subcommand_fit(sub, &options, operands, count) != 0)
		return EXIT_USAGE;
	return sub->run(&options, operands, count);
}
