/* target: check a target step by step, or print the SSH client key
 *
 * usage: rescue target test [--json] [URL]
 *        rescue target [--json] URL
 *        rescue target key
 *
 * test checks URL (the default target, rescue.target=, when URL is omitted) one step at a
 * time and prints one line per step: the step, ok, FAILED or skipped, and what it found.
 * Steps after a failed one are skipped. Nothing is created on the target except the probe
 * file, which is removed again; a missing directory is reported, not made.
 *
 *   parse           the URL is well formed (a password shows as ***)
 *   reachable       a TCP connection to the host and port within 10 s
 *   host key        ssh://: the key in known_hosts on the config disk, or trusted on
 *                   first use (its fingerprint is shown and journaled)
 *   authentication  ssh://: the client key (or a password) is accepted; when the key is
 *                   refused and the URL has no password, a password is asked for on a
 *                   terminal (Enter alone skips it); never without a terminal
 *   directory       the directory exists (ssh://: and the user may write there)
 *   mount           nfs://, smb://: the kernel mounts the export or share (NFS 4.0, SMB 3;
 *                   a user and password from the URL or rescue.conf), under
 *                   /run/rescue/targets; from here on the steps are those of file://
 *   guard           file://: the directory is not on a guarded disk (RAM is fine)
 *   free space      at least 1 MiB available (df -Pk on the target)
 *   write           1 MiB of random data written, read back equal, removed
 *
 * nbd:// also checks the server's NBD greeting; nbd:// and tcp:// are checked for
 * reachability only (nbd:// images are written by `rescue image`; tcp:// is a stream).
 *
 * key prints the public line of the SSH client key, for ~/.ssh/authorized_keys on the
 * receiver: id_ed25519 or id_rsa from the config disk when there, else the key made at boot.
 *
 * Options:
 *   -j, --json   print the steps as JSON
 *
 * Exit codes: 0 every step ok, 2 usage error or malformed URL, 3 a step failed.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <signal.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/err.h"
#include "base/journal.h"
#include "base/json.h"
#include "cli/command.h"
#include "cli/opt.h"
#include "target/netmount.h"
#include "target/target.h"
#include "target/target_ops.h"
#include "usage/target.h"

static int target_main(int argc, char **argv);

const struct command command_target = {
	.name = "target",
	.summary = COMMAND_SUMMARY,
	.usage = COMMAND_USAGE,
	.menu_label = "test a target: login, space, write",
	.menu_rank = 60,
	.menu_prompt = "target URL (e.g. ssh://user@host/dir)",
	.run = target_main,
};

enum { PROBE_SIZE = 1 << 20, CONNECT_TIMEOUT = 10, STEPS_MAX = 10 };

struct step {
	const char *name;
	const char *status;	/* "ok", "FAILED", "skipped" */
	char detail[768];
};

/* The steps so far; text lines are printed as each step ends, JSON once at the end. */
struct check {
	struct target *target;		/* a password asked for is added to it */
	int json;
	int failed;		/* a step failed: the rest are skipped */
	struct step steps[STEPS_MAX];
	int count;
	char hostkey[256];	/* a fingerprint trusted on first use, for the journal */
};

static int step(struct check *check, const char *name, const char *status, const char *format,
    ...) __attribute__((format(printf, 4, 5)));

static int step(struct check *check, const char *name, const char *status, const char *format,
    ...)
{
	struct step *entry = &check->steps[check->count < STEPS_MAX ? check->count++ : STEPS_MAX - 1];
	va_list args;

	entry->name = name;
	entry->status = status;
	va_start(args, format);
	vsnprintf(entry->detail, sizeof entry->detail, format, args);
	va_end(args);
	if (strcmp(status, "FAILED") == 0)
		check->failed = 1;
	if (!check->json) {
		printf("%-15s %-7s %s\n", name, status, entry->detail);
		fflush(stdout);
	}
	return strcmp(status, "ok") == 0 ? 0 : -1;
}

static void skip_rest(struct check *check, const char *const *names, const char *why)
{
	for (; *names; names++)
		step(check, *names, "skipped", "%s", why);
}

static int probe_fill(char *probe, size_t size)
{
	size_t done = 0;

	while (done < size) {
		ssize_t got = getrandom(probe + done, size - done, 0);

		if (got < 0 && errno != EINTR)
			return -1;
		if (got > 0)
			done += (size_t)got;
	}
	return 0;
}

static void free_space_step(struct check *check, unsigned long long available_kib,
    const char *where)
{
	if (available_kib < PROBE_SIZE / 1024)
		step(check, "free space", "FAILED", "%llu KiB available in %s: less than the 1 MiB probe",
		    available_kib, where);
	else
		step(check, "free space", "ok", "%.1f MiB available in %s", available_kib / 1024.0, where);
}

/* ---------------------------------------------------------------- network steps */

static int reachable_step(struct check *check)
{
	const struct target *target = check->target;
	char why[512];
	struct timespec start;
	int fd;

	clock_gettime(CLOCK_MONOTONIC, &start);
	fd = target_tcp_connect(target->host, target_port(target), CONNECT_TIMEOUT, why, sizeof why);
	if (fd < 0)
		return step(check, "reachable", "FAILED", "%s", why);
	close(fd);
	return step(check, "reachable", "ok", "host %s port %u (%.2f s)", target->host,
	    target_port(target), seconds_since(&start));
}

/* An NBD server greets with "NBDMAGIC" and then "IHAVEOPT" (newstyle) or the old magic. */
static int nbd_step(struct check *check)
{
	const struct target *target = check->target;
	char why[512], greeting[16];
	size_t got = 0;
	int fd = target_tcp_connect(target->host, target_port(target), CONNECT_TIMEOUT, why, sizeof why);

	if (fd < 0)
		return step(check, "nbd greeting", "FAILED", "%s", why);
	while (got < sizeof greeting) {
		ssize_t n = read(fd, greeting + got, sizeof greeting - got);

		if (n <= 0)
			break;
		got += (size_t)n;
	}
	close(fd);
	if (got < sizeof greeting || memcmp(greeting, "NBDMAGIC", 8) != 0)
		return step(check, "nbd greeting", "FAILED", "host %s port %u does not speak NBD",
		    target->host, target_port(target));
	return step(check, "nbd greeting", "ok", "%s NBD server",
	    memcmp(greeting + 8, "IHAVEOPT", 8) == 0 ? "newstyle" : "oldstyle");
}

/* ---------------------------------------------------------------- ssh:// */

static struct termios terminal_modes;

/* Ctrl-C at the password prompt must not leave the terminal without echo. */
static void terminal_restore_and_die(int signal_number)
{
	tcsetattr(STDIN_FILENO, TCSAFLUSH, &terminal_modes);
	signal(signal_number, SIG_DFL);
	raise(signal_number);
}

/* Passwords are asked for (DESIGN section 6), but only on a terminal and only once the
 * key was refused: runbooks and `ssh HOST rescue target test` never wait for an answer.
 * Echo is off; the answer goes into the target and from there to dbclient's environment. */
static int password_ask(struct target *target)
{
	char line[sizeof target->password];
	struct termios quiet;
	int answered;

	if (target->password[0] || !isatty(STDIN_FILENO)
	    || tcgetattr(STDIN_FILENO, &terminal_modes) != 0)
		return -1;
	/* Echo goes off before the prompt shows, so an answer typed the moment it appears is
	 * never echoed. */
	quiet = terminal_modes;
	quiet.c_lflag &= ~(tcflag_t)ECHO;
	signal(SIGINT, terminal_restore_and_die);
	tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
	printf("password for %s@%s (Enter alone: none): ", target->user[0] ? target->user : "root",
	    target->host);
	fflush(stdout);
	answered = fgets(line, sizeof line, stdin) != NULL;
	tcsetattr(STDIN_FILENO, TCSAFLUSH, &terminal_modes);
	signal(SIGINT, SIG_DFL);
	putchar('\n');
	line[answered ? strcspn(line, "\r\n") : 0] = '\0';
	snprintf(target->password, sizeof target->password, "%s", line);
	explicit_bzero(line, sizeof line);
	return target->password[0] ? 0 : -1;
}

static int login_steps(struct check *check)
{
	struct target_ssh_check login;
	char first_use[sizeof login.hostkey] = "";

	target_ssh_check(check->target, &login);
	if (login.state == TARGET_SSH_AUTH && password_ask(check->target) == 0) {
		if (strstr(login.hostkey, "fingerprint"))
			snprintf(first_use, sizeof first_use, "%s", login.hostkey);
		target_ssh_check(check->target, &login);
		if (first_use[0] && login.state != TARGET_SSH_HOSTKEY)
			snprintf(login.hostkey, sizeof login.hostkey, "%s", first_use);
	}
	switch (login.state) {
	case TARGET_SSH_HOSTKEY:
		step(check, "host key", "FAILED", "%s", login.why);
		step(check, "authentication", "skipped", "the host key was not accepted");
		return -1;
	case TARGET_SSH_ERROR:
		step(check, "host key", "skipped", "no SSH session");
		return step(check, "authentication", "FAILED", "%s", login.why);
	case TARGET_SSH_AUTH:
	case TARGET_SSH_OK:
		break;
	}
	if (strstr(login.hostkey, "fingerprint"))	/* only a key seen for the first time */
		snprintf(check->hostkey, sizeof check->hostkey, "%s", login.hostkey);
	step(check, "host key", "ok", "%s", login.hostkey);
	if (login.state == TARGET_SSH_AUTH)
		return step(check, "authentication", "FAILED", "%s", login.why);
	return step(check, "authentication", "ok", "user %s",
	    check->target->user[0] ? check->target->user : "root");
}

/* One session: does the directory exist, may we write, how much room is there. */
static int ssh_directory_steps(struct check *check)
{
	const struct target *target = check->target;
	struct target_ssh_reply reply;
	char dir[PATH_MAX * 4 + 8], command[PATH_MAX * 4 + 256], *df;
	unsigned long long available = 0;

	target_shell_quote(target->path, dir, sizeof dir);
	snprintf(command, sizeof command, "cd %s 2>/dev/null || { echo missing; exit 0; }; "
	    "if [ -w . ]; then echo writable; else echo read-only; fi; df -Pk . | tail -n 1", dir);
	if (target_ssh_run(target, command, NULL, 0, 45, &reply) != 0 || reply.exit_code != 0) {
		step(check, "directory", "FAILED", "cannot look at %s on %s: %s", target->path,
		    target->host, reply.timed_out ? "timed out" : reply.errors);
		target_ssh_reply_free(&reply);
		return -1;
	}
	if (strncmp(reply.output, "missing", 7) == 0)
		step(check, "directory", "FAILED", "%s does not exist on %s (create it there; "
		    "rescue does not)", target->path, target->host);
	else if (strncmp(reply.output, "read-only", 9) == 0)
		step(check, "directory", "FAILED", "%s on %s is not writable for user %s", target->path,
		    target->host, target->user[0] ? target->user : "root");
	else
		step(check, "directory", "ok", "%s exists and is writable", target->path);
	df = strchr(reply.output, '\n');
	if (check->failed)
		step(check, "free space", "skipped", "no usable directory");
	else if (df == NULL || sscanf(df + 1, "%*s %*s %*s %llu", &available) != 1)
		step(check, "free space", "FAILED", "cannot read df -Pk output from %s", target->host);
	else
		free_space_step(check, available, target->path);
	target_ssh_reply_free(&reply);
	return check->failed ? -1 : 0;
}

/* Up, back and away in three sessions; as in target_put_file, the bytes that come back
 * decide, since dbclient now and then misses the end of a session after a large transfer
 * and is stopped by the timeout. */
static int ssh_write_step(struct check *check, const char *probe)
{
	const struct target *target = check->target;
	struct target_ssh_reply reply;
	char dir[PATH_MAX * 4 + 8], command[PATH_MAX * 4 + 256], file[64];
	struct timespec start;
	int rc;

	target_shell_quote(target->path, dir, sizeof dir);
	snprintf(file, sizeof file, ".rescue-probe.%ld", (long)getpid());
	snprintf(command, sizeof command, "cd %s || exit 3; cat > %s || { rm -f %s; exit 4; }", dir,
	    file, file);
	clock_gettime(CLOCK_MONOTONIC, &start);
	if (target_ssh_run(target, command, probe, PROBE_SIZE, 90, &reply) != 0)
		return step(check, "write", "FAILED", "cannot run dbclient: %s", reply.errors);
	if (!reply.timed_out && reply.exit_code != 0) {
		rc = step(check, "write", "FAILED", "writing the probe into %s on %s failed: %s",
		    target->path, target->host, reply.errors);
		target_ssh_reply_free(&reply);
		return rc;
	}
	target_ssh_reply_free(&reply);
	snprintf(command, sizeof command, "cd %s && cat %s", dir, file);
	target_ssh_run(target, command, NULL, 0, 90, &reply);
	if (reply.output_size != PROBE_SIZE || memcmp(reply.output, probe, PROBE_SIZE) != 0)
		rc = step(check, "write", "FAILED", "the 1 MiB probe read back from %s differs "
		    "(%zu bytes came back) %s", target->path, reply.output_size, reply.errors);
	else
		rc = 0;
	target_ssh_reply_free(&reply);
	snprintf(command, sizeof command, "cd %s && rm -f %s && [ ! -e %s ]", dir, file, file);
	if (target_ssh_run(target, command, NULL, 0, 30, &reply) != 0 || reply.exit_code != 0) {
		if (rc == 0)
			rc = step(check, "write", "FAILED", "removing the probe %s/%s on %s failed: %s",
			    target->path, file, target->host, reply.errors);
	} else if (rc == 0) {
		rc = step(check, "write", "ok", "1 MiB written, read back equal, removed (%.1f s)",
		    seconds_since(&start));
	}
	target_ssh_reply_free(&reply);
	return rc;
}

static void ssh_steps(struct check *check, const char *probe)
{
	static const char *const after_reach[] = { "host key", "authentication", "directory",
	    "free space", "write", NULL };

	if (reachable_step(check) != 0) {
		skip_rest(check, after_reach, "not reachable");
		return;
	}
	if (login_steps(check) != 0) {
		skip_rest(check, after_reach + 2, "not logged in");
		return;
	}
	if (ssh_directory_steps(check) != 0) {
		skip_rest(check, after_reach + 4, "no usable directory or no room");
		return;
	}
	ssh_write_step(check, probe);
}

/* ---------------------------------------------------------------- file:// */

static int file_probe(const char *dir, const char *probe, char *why, size_t why_size)
{
	char path[PATH_MAX + 64];
	static char back[PROBE_SIZE];
	const char *what = "create";
	int fd, rc = -1;

	snprintf(path, sizeof path, "%s/.rescue-probe.%ld", dir, (long)getpid());
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		goto out;
	what = "write";
	if (write(fd, probe, PROBE_SIZE) != PROBE_SIZE || fsync(fd) != 0)
		goto out;
	close(fd);
	what = "read back";
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || read(fd, back, PROBE_SIZE) != PROBE_SIZE)
		goto out;
	errno = EIO;
	if (memcmp(back, probe, PROBE_SIZE) != 0)
		goto out;
	what = "remove";
	if (unlink(path) != 0)
		goto out;
	rc = 0;
out:
	if (rc != 0) {
		snprintf(why, why_size, "%s %s: %s", what, path, err_text(errno));
		unlink(path);
	}
	if (fd >= 0)
		close(fd);
	return rc;
}

/* The guard comes before any write: a read-only mount of a guarded disk must be named as
 * such, not merely as a directory we cannot write to. */
static void file_steps(struct check *check, const char *probe)
{
	static const char *const after_dir[] = { "guard", "free space", "write", NULL };
	const char *path = check->target->path;
	struct statvfs space;
	struct stat node;
	char why[PATH_MAX + 256];
	struct timespec start;
	int found = stat(path, &node) == 0;

	if (!found || !S_ISDIR(node.st_mode)) {
		step(check, "directory", "FAILED", "%s %s", path,
		    found ? "is not a directory" : "does not exist");
		skip_rest(check, after_dir, "no usable directory");
		return;
	}
	step(check, "directory", "ok", "%s exists", path);
	if (target_file_guard_check(path, why, sizeof why) != 0) {
		step(check, "guard", "FAILED", "%s", why);
		skip_rest(check, after_dir + 1, "refused");
		return;
	}
	step(check, "guard", "ok", "not on a guarded disk");
	if (statvfs(path, &space) != 0) {
		step(check, "free space", "FAILED", "statvfs %s: %s", path, err_text(errno));
		skip_rest(check, after_dir + 2, "free space unknown");
		return;
	}
	free_space_step(check, (unsigned long long)space.f_bavail * space.f_frsize / 1024, path);
	if (check->failed) {
		skip_rest(check, after_dir + 2, "no room");
		return;
	}
	clock_gettime(CLOCK_MONOTONIC, &start);
	if (file_probe(path, probe, why, sizeof why) != 0)
		step(check, "write", "FAILED", "%s", why);
	else
		step(check, "write", "ok", "1 MiB written, read back equal, removed (%.2f s)",
		    seconds_since(&start));
}

/* ---------------------------------------------------------------- nfs://, smb:// */

/* The kernel mounts the share (netmount.h); from there on it is a directory like file://. */
static void share_steps(struct check *check, const char *probe)
{
	static const char *const after_mount[] = { "directory", "guard", "free space", "write",
		NULL };
	struct target *target = check->target;
	char dir[PATH_MAX], why[PATH_MAX + 256];

	if (reachable_step(check) != 0) {
		skip_rest(check, after_mount, "unreachable");
		return;
	}
	if (netmount_dir(target, dir, sizeof dir, why, sizeof why) != 0) {
		step(check, "mount", "FAILED", "%s", why);
		skip_rest(check, after_mount, "not mounted");
		return;
	}
	step(check, "mount", "ok", "%s mounted at %s", target->path, dir);
	snprintf(target->path, sizeof target->path, "%s", dir);
	file_steps(check, probe);
}

/* ---------------------------------------------------------------- the command */

static void print_json(const struct check *check)
{
	int i;

	printf("{");
	json_member_string(stdout, "target", check->target->display, 0);
	printf(",\"ok\":%s,\"steps\":[", check->failed ? "false" : "true");
	for (i = 0; i < check->count; i++) {
		printf("%s{", i ? "," : "");
		json_member_string(stdout, "step", check->steps[i].name, 0);
		json_member_string(stdout, "status", check->steps[i].status, 1);
		json_member_string(stdout, "detail", check->steps[i].detail, 1);
		printf("}");
	}
	printf("]}\n");
}

static const struct step *failed_step(const struct check *check)
{
	int i;

	for (i = 0; i < check->count; i++)
		if (strcmp(check->steps[i].status, "FAILED") == 0)
			return &check->steps[i];
	return NULL;
}

static int finish(struct check *check, int code)
{
	const struct step *failed = failed_step(check);

	if (check->json)
		print_json(check);
	/* A host key trusted on first use is journaled whatever happened next. */
	if (failed)
		journal_summary("%s: %s failed: %s%s%s", check->target->display, failed->name,
		    failed->detail, check->hostkey[0] ? "; host key " : "", check->hostkey);
	else
		journal_summary("%s: every step ok%s%s", check->target->display,
		    check->hostkey[0] ? "; host key " : "", check->hostkey);
	return failed ? code : EXIT_OK;
}

static int test_run(const char *url, int json)
{
	static char probe[PROBE_SIZE];
	struct target target;
	struct check check = { .target = &target, .json = json };
	char why[512];

	if (url == NULL && (url = target_default()) == NULL)
		return err_fatalx(EXIT_USAGE, "unable to test the default target: none is set "
		    "(rescue.target= or target= in rescue.conf); give a URL");
	if (target_parse(url, &target, why, sizeof why) != 0) {
		journal_redact(url, target.display, sizeof target.display);
		step(&check, "parse", "FAILED", "%s", why);
		return finish(&check, EXIT_USAGE);
	}
	step(&check, "parse", "ok", "%s", target.display);
	if (probe_fill(probe, sizeof probe) != 0)
		return err_fatal(EXIT_SYSTEM, "unable to make random probe data");
	if (target.scheme == TARGET_SSH) {
		ssh_steps(&check, probe);
	} else if (target.scheme == TARGET_FILE) {
		file_steps(&check, probe);
	} else if (target.scheme == TARGET_NFS || target.scheme == TARGET_SMB) {
		share_steps(&check, probe);
	} else if (reachable_step(&check) == 0 && (target.scheme != TARGET_NBD
	    || nbd_step(&check) == 0)) {
		step(&check, "write", "skipped", "%s:// is checked for reachability only; "
		    "writing arrives with the imaging commands", target_scheme_name(target.scheme));
	}
	if (!json)
		printf("verdict         %s\n", check.failed ? "FAILED" : "ok");
	return finish(&check, EXIT_SYSTEM);
}

static int key_run(void)
{
	char path[PATH_MAX], line[2048], why[1024];

	if (target_client_key(path, sizeof path, line, sizeof line, why, sizeof why) != 0)
		return err_fatalx(EXIT_SYSTEM, "unable to get the client key: %s", why);
	printf("%s\n", line);
	journal_summary("client key %.60s... (%s)", line, path);
	return EXIT_OK;
}

static int target_main(int argc, char **argv)
{
	static const struct option long_options[] = {
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 },
	};
	struct opt_parser opts = opt_parser(&command_target, argc, argv, "j", long_options);
	const char *first;
	int option, json = 0;

	while ((option = opt_next(&opts)) != OPT_DONE)
		switch (option) {
		case 'j': json = 1; break;
		case OPT_STOP: return opts.exit_code;
		}
	if (opt_operands(&opts, 1, 2) != 0)
		return opts.exit_code;
	first = opts.operands[0];
	if (strcmp(first, "key") == 0) {
		if (opts.operand_count != 1)
			return err_usage(command_target.usage, "key takes no operand, got '%s'",
			    opts.operands[1]);
		return key_run();
	}
	if (strcmp(first, "test") == 0)
		return test_run(opts.operand_count == 2 ? opts.operands[1] : NULL, json);
	if (opts.operand_count == 1 && strstr(first, "://"))
		return test_run(first, json);
	return err_usage(command_target.usage, "unknown subcommand '%s' (want test or key)", first);
}
