/* test_cli.c: the rescue binary as a user starts it: from a shell, over `ssh host 'cmd'`
 * (-c), as a login shell, and the menu driven through a pipe the way a serial console or
 * a test harness drives it.
 *
 * The binary under test is $RESCUE_BINARY, else the host build; `make check` runs this
 * file against both the host build and the static musl build.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "lib/capture.h"
#include "lib/fake_sysfs.h"
#include "version.h"

#ifndef RESCUE_HOST_BINARY
#define RESCUE_HOST_BINARY "rescue"
#endif

enum { TIMEOUT_SECONDS = 20 };

/* One exchange with the menu: write INPUT, then wait until the output shows WAIT_FOR. */
struct step {
	const char *input;
	const char *wait_for;
};

struct run {
	int status;	/* from waitpid */
	char *out;
	char *err;
	char out_path[4096];
	char err_path[4096];
};

static const char *binary_under_test(void)
{
	const char *binary = getenv("RESCUE_BINARY");

	return binary && *binary ? binary : RESCUE_HOST_BINARY;
}

static void temporary_path(char *path, size_t size, const char *name)
{
	int fd;

	snprintf(path, size, "%s/rescue-%s-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp",
	    name);
	fd = mkstemp(path);
	assert_true(fd >= 0);
	close(fd);
}

/* The child gets its own process group, so `kill -INT 0` in it reaches the menu and the
 * action the way Ctrl-C on a terminal does, and never this test program. */
static pid_t start(struct run *run, const int input[2], char *const argv[], const char *sysfs,
    const char *path)
{
	pid_t child = fork();

	assert_true(child >= 0);
	if (child > 0)
		return child;
	setpgid(0, 0);
	dup2(input[0], STDIN_FILENO);
	close(input[0]);
	close(input[1]);	/* or the input would never end */
	if (!freopen(run->out_path, "w", stdout) || !freopen(run->err_path, "w", stderr))
		_exit(126);
	if (sysfs)
		setenv("RESCUE_SYSFS", sysfs, 1);
	if (path)
		setenv("PATH", path, 1);
	execv(binary_under_test(), argv);
	_exit(127);
}

static int output_shows(const struct run *run, const char *text, size_t *offset)
{
	char *out = read_whole_file(run->out_path);
	char *found = out ? strstr(out + *offset, text) : NULL;

	if (found)
		*offset = (size_t)(found - out) + strlen(text);
	free(out);
	return found != NULL;
}

static int wait_until(pid_t child, int *status, const struct run *run, const char *text,
    size_t *offset)
{
	time_t deadline = time(NULL) + TIMEOUT_SECONDS;
	struct timespec pause = { 0, 20000000L };	/* 20 ms */

	while (time(NULL) < deadline) {
		if (text && output_shows(run, text, offset))
			return 0;
		if (!text && waitpid(child, status, WNOHANG) == child)
			return 0;
		nanosleep(&pause, NULL);
	}
	kill(-child, SIGKILL);
	waitpid(child, status, 0);
	return -1;
}

/* The output files go away before any assertion, so a failing test leaves nothing behind. */
static void collect(struct run *run)
{
	run->out = read_whole_file(run->out_path);
	run->err = read_whole_file(run->err_path);
	unlink(run->out_path);
	unlink(run->err_path);
}

/* Runs the binary with ARGV, feeding STEPS one by one; the input ends after the last. */
static void run_steps(struct run *run, char *const argv[], const struct step *steps,
    const char *sysfs, const char *path)
{
	const char *missing = NULL;
	int pipe_fds[2];
	size_t offset = 0;
	pid_t child;

	memset(run, 0, sizeof *run);
	temporary_path(run->out_path, sizeof run->out_path, "out");
	temporary_path(run->err_path, sizeof run->err_path, "err");
	signal(SIGPIPE, SIG_IGN);
	assert_int_equal(pipe(pipe_fds), 0);
	child = start(run, pipe_fds, argv, sysfs, path);
	close(pipe_fds[0]);
	for (; steps && steps->input && !missing; steps++) {
		assert_true(write(pipe_fds[1], steps->input, strlen(steps->input)) >= 0);
		if (steps->wait_for && wait_until(child, &run->status, run, steps->wait_for,
		    &offset) != 0)
			missing = steps->wait_for;
	}
	close(pipe_fds[1]);
	if (!missing && wait_until(child, &run->status, run, NULL, &offset) != 0)
		missing = "the end of rescue";
	collect(run);
	if (missing)
		fail_msg("no \"%s\" within %d s in:\n%s", missing, TIMEOUT_SECONDS, run->out);
}

static void run_simple(struct run *run, char *const argv[], const char *input)
{
	const struct step steps[] = { { input, NULL }, { NULL, NULL } };

	run_steps(run, argv, steps, NULL, NULL);
}

static void run_free(struct run *run)
{
	free(run->out);
	free(run->err);
}

static int exit_code(const struct run *run)
{
	return WIFEXITED(run->status) ? WEXITSTATUS(run->status) : 128 + WTERMSIG(run->status);
}

#define ARGV(...) ((char *const[]){ (char *)binary_under_test(), __VA_ARGS__, NULL })

static void test_help_lists_the_commands(void **state)
{
	struct run run;

	(void)state;
	run_simple(&run, ARGV("--help"), "");
	assert_int_equal(exit_code(&run), 0);
	assert_non_null(strstr(run.out, "\n  menu "));
	assert_non_null(strstr(run.out, "\n  version "));
	assert_non_null(strstr(run.out, "\n  help "));
	run_free(&run);
}

static void test_unknown_command_is_a_usage_error_naming_it(void **state)
{
	struct run run;

	(void)state;
	run_simple(&run, ARGV("nosuch", "--json"), "");
	assert_int_equal(exit_code(&run), 2);
	assert_true(strncmp(run.err, "rescue: fatal: unknown command: nosuch\nusage: rescue", 52)
	    == 0);
	assert_string_equal(run.out, "");
	run_free(&run);
	run_simple(&run, ARGV("-x"), "");
	assert_int_equal(exit_code(&run), 2);
	assert_true(strncmp(run.err, "rescue: fatal: unknown option: -x\n", 34) == 0);
	run_free(&run);
}

static void test_version_and_command_help(void **state)
{
	struct run run;

	(void)state;
	run_simple(&run, ARGV("version"), "");
	assert_int_equal(exit_code(&run), 0);
	assert_string_equal(run.out, "rescue " RESCUE_VERSION "\n");
	run_free(&run);
	run_simple(&run, ARGV("version", "--help"), "");
	assert_int_equal(exit_code(&run), 0);
	assert_true(strncmp(run.out, "usage: rescue version\n", 22) == 0);
	run_free(&run);
	run_simple(&run, ARGV("--version"), "");
	assert_string_equal(run.out, "rescue " RESCUE_VERSION "\n");
	run_free(&run);
}

/* Every type once, whatever the number of signatures that find it (TIFF's two byte
 * orders, mail's four first lines). */
static void test_carve_list_names_each_type_once(void **state)
{
	char seen[4096] = ",", type[32], needle[40];
	const char *line;
	struct run run;
	int types = 0;

	(void)state;
	run_simple(&run, ARGV("carve", "--list"), "");
	assert_int_equal(exit_code(&run), 0);
	for (line = run.out; *line; line = strchr(line, '\n') + 1) {
		assert_int_equal(sscanf(line, "%31s", type), 1);
		snprintf(needle, sizeof needle, ",%s,", type);
		if (strstr(seen, needle))
			fail_msg("carve --list names %s twice:\n%s", type, run.out);
		strcat(seen, type);
		strcat(seen, ",");
		types++;
		assert_non_null(strchr(line, '\n'));
	}
	assert_non_null(strstr(seen, ",tif,"));
	assert_non_null(strstr(seen, ",eml,"));
	assert_true(types > 20);
	run_free(&run);
}

/* What sshd does for `ssh root@host 'rescue disks --json'` when rescue is the login shell. */
static void test_dash_c_runs_the_line_with_the_shell(void **state)
{
	struct run run;

	(void)state;
	run_simple(&run, ARGV("-c", "echo \"$0 $1\"; exit 7", "name", "arg"), "");
	assert_int_equal(exit_code(&run), 7);
	assert_string_equal(run.out, "name arg\n");
	run_free(&run);
	run_simple(&run, ARGV("-c"), "");
	assert_int_equal(exit_code(&run), 2);
	assert_true(strncmp(run.err, "rescue: fatal: -c needs a command line\n", 39) == 0);
	run_free(&run);
}

/* The number of a menu entry, as the menu shows it (table commands come first, by rank). */
static const char *entry_number(const char *label)
{
	/* A ring of answers rather than strdup: the steps of one test may hold several, and
	 * the sanitizer build fails on leaks, tests' own included. */
	static char numbers[8][8];
	static unsigned next;
	char *number = numbers[next++ % 8];
	struct run run;
	char pattern[128], *found;

	run_simple(&run, ARGV("menu"), "");
	/* Either column: the label ends the line or the left column's padding follows. */
	snprintf(pattern, sizeof pattern, ") %s", label);
	found = strstr(run.out, pattern);
	assert_non_null(found);
	assert_true(found[strlen(pattern)] == '\n' || found[strlen(pattern)] == ' ');
	while (found > run.out && isdigit((unsigned char)found[-1]))
		found--;
	snprintf(number, sizeof numbers[0], "%ld\n", strtol(found, NULL, 10));
	run_free(&run);
	return number;
}

static void test_no_arguments_and_login_shell_open_the_menu(void **state)
{
	char *const login[] = { "-rescue", NULL };
	struct run run;

	(void)state;
	run_simple(&run, ARGV(NULL), "");
	assert_int_equal(exit_code(&run), 0);
	assert_non_null(strstr(run.out, ") disks: what is on each disk "));
	assert_non_null(strstr(run.out, "\n q) quit\n"));
	run_free(&run);
	memset(&run, 0, sizeof run);
	run_steps(&run, login, NULL, NULL, NULL);
	assert_int_equal(exit_code(&run), 0);
	assert_non_null(strstr(run.out, ") disks: what is on each disk "));
	run_free(&run);
}

static void test_menu_lists_disks_from_sysfs_with_the_command_line(void **state)
{
	char *sysfs = fake_sysfs_with_disks();
	const struct step steps[] = {
		{ entry_number("disks: what is on each disk"), NULL }, { NULL, NULL } };
	struct run run;

	(void)state;
	run_steps(&run, ARGV("menu"), steps, sysfs, NULL);
	assert_int_equal(exit_code(&run), 0);
	assert_non_null(strstr(run.out, "\ndisks: 1 guarded of 3, 7 writes rejected   ssh: off\n"));
	assert_non_null(strstr(run.out, "$ rescue disks\n"));
	/* Every line fits 80 columns; a partition shows its disk's guard and its own count. */
	assert_non_null(strstr(run.out, "\nsda          1.0 GiB  other   -   QEMU HARDDISK           "
	    "guard on  5 rejected\n"));
	assert_non_null(strstr(run.out, "\nsdb          4.0 KiB  other   -   DISK TWO                "
	    "guard off 2 rejected\n  (disk)     4.0 KiB  unreadable   -                "
	    "guard off     2 rejected\n"));
	/* loop0 is the appliance's own, unused device: not listed. */
	assert_null(strstr(run.out, "\nloop0 "));
	assert_non_null(strstr(run.out, "[exit 0]"));
	fake_sysfs_remove(sysfs);
	run_free(&run);
}

/* unguard refuses with the reason before it asks anything, and changes nothing: a partition,
 * an unknown name, a disk a device-mapper device is built on (a repair's snapshot), one whose
 * partition is, and a disk this kernel has no guard for. */
static void test_unguard_refusals(void **state)
{
	static const struct {
		const char *device;
		int code;
		const char *message;
	} refusals[] = {
		{ "sda1", 2, "sda1 is a partition; the guard belongs to its disk: rescue unguard sda" },
		{ "/dev/sdz", 2, "no such disk: /dev/sdz" },
		{ "sda", 2, "sda is in use: its partition sda1 is used by dm-0" },
		{ "sdb", 2, "sdb is in use: sdb is used by md0" },
		{ "vda", 3, "unable to release vda: this kernel has no write guard for it" },
	};
	char *sysfs = fake_sysfs_with_disks(), *text, path[4200];
	struct run run;
	size_t i;

	(void)state;
	fake_sysfs_write(sysfs, "block/sda/sda1/partition", "1\n");
	fake_sysfs_write(sysfs, "block/sda/sda1/holders/dm-0", "");
	fake_sysfs_write(sysfs, "block/sdb/holders/md0", "");
	fake_sysfs_write(sysfs, "block/vda/size", "2048\n");
	setenv("RESCUE_SYSFS", sysfs, 1);
	for (i = 0; i < sizeof refusals / sizeof refusals[0]; i++) {
		run_simple(&run, ARGV("unguard", "--yes", (char *)refusals[i].device), "");
		if (exit_code(&run) != refusals[i].code || !strstr(run.err, refusals[i].message))
			fail_msg("unguard %s: exit %d, stderr: %s", refusals[i].device,
			    exit_code(&run), run.err);
		run_free(&run);
	}
	unsetenv("RESCUE_SYSFS");
	snprintf(path, sizeof path, "%s/block/sda/guard", sysfs);
	text = read_whole_file(path);
	assert_string_equal(text, "1\n");
	free(text);
	fake_sysfs_remove(sysfs);
}

/* rescue ssh picks its subcommand from a table: each wrong line is a usage error that
 * names the bad word, before anything is started or written. */
static void test_ssh_subcommand_usage_errors(void **state)
{
	static const struct {
		char *words[4];
		const char *message;
	} mistakes[] = {
		{ { "frobnicate" }, "unknown subcommand 'frobnicate' (want status, on, off, add-key, "
		    "password, fingerprints or reverse)" },
		{ { "status", "--url", "http://x/keys" }, "--url does not go with 'status'" },
		{ { "on", "--json" }, "--json does not go with 'on'" },
		{ { "password", "--stop" }, "--stop does not go with 'password'" },
		{ { "status", "--remote-port", "2222" }, "--remote-port does not go with 'status'" },
		{ { "fingerprints", "--off" }, "--off does not go with 'fingerprints'" },
		{ { "off", "now" }, "'off' takes no operand, got 'now'" },
		{ { "reverse" }, "reverse takes ssh://USER@HOST[:PORT] or --stop" },
		{ { "reverse", "--stop", "ssh://a@b" }, "reverse takes ssh://USER@HOST[:PORT] or --stop" },
		{ { "reverse", "--remote-port", "22x", "ssh://a@b" },
		    "--remote-port wants a number 1-65535" },
		{ { "add-key", "--url", "http://x/keys", "--config" },
		    "add-key takes one of LINE, --url or --config" },
	};
	struct run run;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof mistakes / sizeof mistakes[0]; i++) {
		char *const *words = mistakes[i].words;

		run_simple(&run, ARGV("ssh", words[0], words[1], words[2], words[3]), "");
		if (exit_code(&run) != 2 || !strstr(run.err, mistakes[i].message)
		    || strncmp(run.err, "rescue ssh: fatal: ", 19) != 0)
			fail_msg("ssh %s %s: exit %d, stderr: %s", words[0], words[1] ? words[1] : "",
			    exit_code(&run), run.err);
		run_free(&run);
	}
}

/* guard sets the guard again and reads it back; a partition names its disk. */
static void test_guard_sets_and_reads_back(void **state)
{
	char *sysfs = fake_sysfs_with_disks(), *text, path[4200];
	struct run run;

	(void)state;
	fake_sysfs_write(sysfs, "block/sdb/sdb1/partition", "1\n");
	setenv("RESCUE_SYSFS", sysfs, 1);
	run_simple(&run, ARGV("guard", "sdb"), "");
	assert_int_equal(exit_code(&run), 0);
	assert_non_null(strstr(run.out, "sdb: write guard on; no write reaches it from now on\n"));
	run_free(&run);
	snprintf(path, sizeof path, "%s/block/sdb/guard", sysfs);
	text = read_whole_file(path);
	assert_string_equal(text, "1\n");
	free(text);
	run_simple(&run, ARGV("guard", "sdb1"), "");
	assert_int_equal(exit_code(&run), 2);
	assert_non_null(strstr(run.err, "sdb1 is a partition; the guard belongs to its disk: "
	    "rescue guard sdb"));
	run_free(&run);
	unsetenv("RESCUE_SYSFS");
	fake_sysfs_remove(sysfs);
}

static void test_menu_rejects_unknown_entries_and_goes_on(void **state)
{
	struct run run;

	(void)state;
	run_simple(&run, ARGV("menu"), "42\nfoo\nq\n");
	assert_int_equal(exit_code(&run), 0);
	assert_non_null(strstr(run.out, "There is no entry 42.\n"));
	assert_non_null(strstr(run.out, "There is no entry foo.\n"));
	run_free(&run);
}

static void test_menu_runs_table_commands_as_rescue_command_lines(void **state)
{
	struct run run;

	(void)state;
	run_simple(&run, ARGV("menu"), entry_number("show the rescue version"));
	assert_int_equal(exit_code(&run), 0);
	assert_non_null(strstr(run.out, "$ rescue version\nrescue " RESCUE_VERSION "\n[exit 0]\n"));
	run_free(&run);
}

/* The shell reads the very lines that follow its menu choice: the menu must not have
 * buffered them away. */
static void test_menu_shell_gets_the_following_input(void **state)
{
	const struct step steps[] = {
		{ entry_number("busybox shell (exit comes back)"), "$ sh -l\n" },
		{ "echo inside-shell\nexit 3\n", "[exit 3]\n" },
		{ NULL, NULL },
	};
	struct run run;

	(void)state;
	run_steps(&run, ARGV("menu"), steps, NULL, NULL);
	assert_int_equal(exit_code(&run), 0);
	assert_non_null(strstr(run.out, "inside-shell\n[exit 3]\n\nChoose 1-"));
	run_free(&run);
}

static void test_menu_survives_a_crashing_action(void **state)
{
	const struct step steps[] = {
		{ entry_number("busybox shell (exit comes back)"), "$ sh -l\n" },
		{ "kill -SEGV $$\n", "[stopped by signal 11: " },
		{ entry_number("show the rescue version"), "[exit 0]" },
		{ NULL, NULL },
	};
	struct run run;

	(void)state;
	run_steps(&run, ARGV("menu"), steps, NULL, NULL);
	assert_int_equal(exit_code(&run), 0);
	assert_non_null(strstr(run.out, "$ rescue version\nrescue " RESCUE_VERSION "\n"));
	run_free(&run);
}

/* `kill -INT 0` signals the whole process group, as Ctrl-C on a terminal does. */
static void test_ctrl_c_stops_the_action_not_the_menu(void **state)
{
	const struct step steps[] = {
		{ entry_number("busybox shell (exit comes back)"), "$ sh -l\n" },
		{ "kill -INT 0\n", "[stopped by signal 2: " },
		{ entry_number("show the rescue version"), "[exit 0]" },
		{ NULL, NULL },
	};
	struct run run;

	(void)state;
	run_steps(&run, ARGV("menu"), steps, NULL, NULL);
	assert_int_equal(exit_code(&run), 0);
	assert_non_null(strstr(run.out, "$ rescue version\nrescue " RESCUE_VERSION "\n"));
	run_free(&run);
}

/* PATH holds only fake reboot and poweroff programs, so a mistake here can never reach
 * the real ones. */
static char *fake_power_tools(void)
{
	char *bin = fake_sysfs_create(), path[4096];

	fake_sysfs_write(bin, "reboot", "#!/bin/sh\necho fake reboot ran\n");
	fake_sysfs_write(bin, "poweroff", "#!/bin/sh\necho fake poweroff ran\n");
	snprintf(path, sizeof path, "%s/reboot", bin);
	chmod(path, 0755);
	snprintf(path, sizeof path, "%s/poweroff", bin);
	chmod(path, 0755);
	return bin;
}

static void test_reboot_and_power_off_need_yes(void **state)
{
	const char *reboot = entry_number("reboot"), *power_off = entry_number("power off");
	const struct step refuse[] = {
		{ reboot, NULL }, { "no\n", NULL }, { power_off, NULL }, { "\n", NULL },
		{ NULL, NULL } };
	const struct step accept[] = {
		{ reboot, NULL }, { "yes\n", NULL }, { power_off, NULL }, { "yes\n", NULL },
		{ NULL, NULL } };
	char *bin = fake_power_tools();
	struct run run;

	(void)state;
	run_steps(&run, ARGV("menu"), refuse, NULL, bin);
	assert_int_equal(exit_code(&run), 0);
	assert_null(strstr(run.out, "fake"));
	assert_non_null(strstr(run.out, "Reboot now?"));
	assert_non_null(strstr(run.out, "Power off now?"));
	run_free(&run);
	run_steps(&run, ARGV("menu"), accept, NULL, bin);
	assert_int_equal(exit_code(&run), 0);
	assert_non_null(strstr(run.out, "$ reboot\nfake reboot ran\n[exit 0]\n"));
	assert_non_null(strstr(run.out, "$ poweroff\nfake poweroff ran\n[exit 0]\n"));
	run_free(&run);
	fake_sysfs_remove(bin);
}

/* A runbook file in a temporary directory; the journal goes beside it. */
static char *runbook_fixture(const char *text, char *journal, size_t size)
{
	char *dir = fake_sysfs_create();

	fake_sysfs_write(dir, "book", text);
	snprintf(journal, size, "%s/journal.tsv", dir);
	setenv("RESCUE_JOURNAL", journal, 1);
	unsetenv("RESCUE_NESTED");
	return dir;
}

static void test_runbook_goes_on_after_losses_and_stops_at_worse(void **state)
{
	char journal[4096], book[4096], *dir, *text;
	struct run run;

	(void)state;
	dir = runbook_fixture("# nightly\nrescue version\n- log --bogus\n"
	    "log --tail x   # exit 2 stops here\nversion\n", journal, sizeof journal);
	snprintf(book, sizeof book, "%s/book", dir);
	run_simple(&run, ARGV("runbook", book), "");
	assert_int_equal(exit_code(&run), 2);
	assert_non_null(strstr(run.out, "rescue: runbook book line 2: rescue version\nrescue "));
	assert_non_null(strstr(run.out, "rescue: runbook book line 3: rescue log --bogus\n"));
	assert_non_null(strstr(run.out, "rescue: runbook book line 4: rescue log --tail x\n"));
	/* Each line's exit is printed after it, the one that stopped the runbook too. */
	assert_non_null(strstr(run.out, "\nrescue: runbook book line 2 exit 0\n"));
	assert_non_null(strstr(run.out, "\nrescue: runbook book line 3 exit 2\n"));
	assert_non_null(strstr(run.out, "\nrescue: runbook book line 4 exit 2\n"));
	assert_null(strstr(run.out, "line 5"));
	assert_non_null(strstr(run.out, "\nrescue: runbook book exit 2\n"));
	run_free(&run);
	text = read_whole_file(journal);
	assert_non_null(strstr(text, "\t0\trunbook\trescue version\t"));
	assert_non_null(strstr(text, "\t2\trunbook\trescue log --bogus\t"));
	assert_non_null(strstr(text, "runbook book: 3 of 4 lines run, exit 2"));
	free(text);
	fake_sysfs_remove(dir);
}

/* Nothing of a runbook runs when any line is wrong, and each wrong line is named. */
static void test_runbook_with_unknown_commands_runs_nothing(void **state)
{
	char journal[4096], book[4096], *dir;
	struct run run;

	(void)state;
	dir = runbook_fixture("version\nfrobnicate sda\nmenu\nlog \"unclosed\n", journal,
	    sizeof journal);
	snprintf(book, sizeof book, "%s/book", dir);
	run_simple(&run, ARGV("runbook", book), "");
	assert_int_equal(exit_code(&run), 2);
	assert_null(strstr(run.out, "rescue " RESCUE_VERSION));
	assert_non_null(strstr(run.err, "runbook book line 2: unknown command: frobnicate\n"));
	assert_non_null(strstr(run.err, "runbook book line 3: not allowed in a runbook: menu\n"));
	assert_non_null(strstr(run.err, "runbook book line 4: a quote is not closed: log\n"));
	assert_non_null(strstr(run.out, "rescue: runbook book exit 2\n"));
	run_free(&run);
	run_simple(&run, ARGV("runbook", "/nonexistent/book"), "");
	assert_int_equal(exit_code(&run), 3);
	assert_non_null(strstr(run.err, "unable to read the runbook /nonexistent/book: No such file"));
	run_free(&run);
	fake_sysfs_remove(dir);
}

/* A runbook that is not text (a binary file named by mistake, a damaged download) runs
 * nothing: a NUL byte is named with its line, not taken as the end of the runbook, and
 * the bad bytes of a word are shown escaped and cut short, never sent raw to the console. */
static void test_binary_runbook_runs_nothing_and_is_shown_escaped(void **state)
{
	static const char text[] = "version\n\033[2Jfrob\007nicate\nversion\0disks\n"
	    "\001\002\003\004\005\006\007\010\016\017\020\021\022\023\024\025\026\027\n";
	char journal[4096], book[4096], *dir;
	struct run run;
	FILE *file;

	(void)state;
	dir = runbook_fixture("", journal, sizeof journal);
	snprintf(book, sizeof book, "%s/book", dir);
	file = fopen(book, "wb");
	assert_non_null(file);
	assert_int_equal(fwrite(text, 1, sizeof text - 1, file), sizeof text - 1);
	fclose(file);
	run_simple(&run, ARGV("runbook", book), "");
	assert_int_equal(exit_code(&run), 2);
	assert_null(strstr(run.out, "rescue " RESCUE_VERSION));
	assert_non_null(strstr(run.err, "runbook book line 2: unknown command: "
	    "\\x1b[2Jfrob\\x07nicate\n"));
	assert_non_null(strstr(run.err, "runbook book line 3: a NUL byte (not a text file?)\n"));
	assert_non_null(strstr(run.err, "runbook book line 4: unknown command: "
	    "\\x01\\x02\\x03\\x04\\x05\\x06\\x07\\x08\\x0e\\x0f\\x10\\x11\\x12\\x13...\n"));
	assert_non_null(strstr(run.err, "runbook book: 3 lines to fix, nothing was run"));
	assert_null(strchr(run.err, '\033'));
	run_free(&run);
	fake_sysfs_remove(dir);
}

/* The --name of `rescue image` is the user's: any bytes, quotes and backslashes included.
 * The JSON summary must stay JSON. The source is a read-only loop device over a small file
 * (the host's kernel makes it; make test runs as root). */
static void test_image_json_summary_escapes_the_name(void **state)
{
	char journal[4096], source[4200], target[4200], loop[64] = "", command[4400];
	char *dir, *line;
	struct run run;
	FILE *pipe;

	(void)state;
	dir = runbook_fixture("", journal, sizeof journal);
	snprintf(source, sizeof source, "%s/source", dir);
	snprintf(target, sizeof target, "file://%s", dir);
	pipe = fopen(source, "w");
	assert_non_null(pipe);
	fclose(pipe);
	assert_int_equal(truncate(source, 65536), 0);
	snprintf(command, sizeof command, "losetup -f -r --show '%s'", source);
	pipe = popen(command, "r");
	assert_non_null(pipe);
	if (fgets(loop, sizeof loop, pipe) == NULL)
		loop[0] = '\0';
	pclose(pipe);
	loop[strcspn(loop, "\n")] = '\0';
	if (loop[0] == '\0')
		fail_msg("losetup could not make a loop device of %s", source);
	run_simple(&run, ARGV("image", "--json", "--name", "we\"b\\1", loop, target), "");
	snprintf(command, sizeof command, "losetup -d %s", loop);
	assert_int_equal(system(command), 0);
	assert_int_equal(exit_code(&run), 0);
	line = strstr(run.out, "{\"event\":\"summary\"");
	assert_non_null(line);
	assert_non_null(strstr(line, ",\"image\":\"we\\\"b\\\\1.img\",\"map\":\"we\\\"b\\\\1.map\","));
	run_free(&run);
	fake_sysfs_remove(dir);
}

/* Names come from sysfs: whatever they hold, `rescue disks --json` stays JSON. */
static void test_disks_json_escapes_device_names(void **state)
{
	char *root = fake_sysfs_create();
	struct run run;

	(void)state;
	fake_sysfs_write(root, "block/we\"ird/size", "2048\n");
	fake_sysfs_write(root, "block/we\"ird/guard", "1\n");
	fake_sysfs_write(root, "block/we\"ird/device/model", "M\n");
	setenv("RESCUE_SYSFS", root, 1);
	run_simple(&run, ARGV("disks", "--json"), "");
	unsetenv("RESCUE_SYSFS");
	assert_int_equal(exit_code(&run), 0);
	assert_non_null(strstr(run.out, "{\"name\":\"we\\\"ird\",\"path\":\"/dev/we\\\"ird\","));
	run_free(&run);
	fake_sysfs_remove(root);
}

/* A report lands complete under its final names, with the journal and the attestation. */
static void test_report_to_a_directory(void **state)
{
	char journal[4096], url[4200], *dir, *sysfs = fake_sysfs_with_disks(), *text;
	struct run run;

	(void)state;
	dir = runbook_fixture("", journal, sizeof journal);
	snprintf(url, sizeof url, "file://%s", dir);
	setenv("RESCUE_SYSFS", sysfs, 1);
	run_simple(&run, ARGV("version"), "");
	run_free(&run);
	run_simple(&run, ARGV("report", url), "");
	unsetenv("RESCUE_SYSFS");
	assert_int_equal(exit_code(&run), 0);
	assert_non_null(strstr(run.out, "wrote file://"));
	assert_non_null(strstr(run.out, ".json ("));
	run_free(&run);
	run_simple(&run, ARGV("-c", "cat \"$0\"/rescue-report-*.json", dir), "");
	text = run.out;
	assert_non_null(strstr(text, "\"command\":\"rescue version\""));
	assert_non_null(strstr(text, "{\"device\":\"sda\",\"partition\":false,"
	    "\"guarded_since_boot\":true,\"guarded\":true,\"rejected_writes\":5,"));
	run_free(&run);
	/* The two reports, and no temporary file left beside them. */
	run_simple(&run, ARGV("-c", "ls -A \"$0\" | grep -v -e '^book$' -e '^journal.tsv$'", dir),
	    "");
	assert_int_equal(exit_code(&run), 0);
	assert_non_null(strstr(run.out, ".txt\n"));
	assert_int_equal(strchr(strchr(run.out, '\n') + 1, '\n')[1], '\0');
	run_free(&run);
	run_simple(&run, ARGV("report", "gopher://x"), "");
	assert_int_equal(exit_code(&run), 2);
	assert_non_null(strstr(run.err, "not a target URL: gopher://x"));
	run_free(&run);
	fake_sysfs_remove(sysfs);
	fake_sysfs_remove(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_help_lists_the_commands),
		cmocka_unit_test(test_unknown_command_is_a_usage_error_naming_it),
		cmocka_unit_test(test_version_and_command_help),
		cmocka_unit_test(test_carve_list_names_each_type_once),
		cmocka_unit_test(test_dash_c_runs_the_line_with_the_shell),
		cmocka_unit_test(test_no_arguments_and_login_shell_open_the_menu),
		cmocka_unit_test(test_menu_lists_disks_from_sysfs_with_the_command_line),
		cmocka_unit_test(test_unguard_refusals),
		cmocka_unit_test(test_ssh_subcommand_usage_errors),
		cmocka_unit_test(test_guard_sets_and_reads_back),
		cmocka_unit_test(test_menu_rejects_unknown_entries_and_goes_on),
		cmocka_unit_test(test_menu_runs_table_commands_as_rescue_command_lines),
		cmocka_unit_test(test_menu_shell_gets_the_following_input),
		cmocka_unit_test(test_menu_survives_a_crashing_action),
		cmocka_unit_test(test_ctrl_c_stops_the_action_not_the_menu),
		cmocka_unit_test(test_reboot_and_power_off_need_yes),
		cmocka_unit_test(test_runbook_goes_on_after_losses_and_stops_at_worse),
		cmocka_unit_test(test_runbook_with_unknown_commands_runs_nothing),
		cmocka_unit_test(test_binary_runbook_runs_nothing_and_is_shown_escaped),
		cmocka_unit_test(test_report_to_a_directory),
		cmocka_unit_test(test_image_json_summary_escapes_the_name),
		cmocka_unit_test(test_disks_json_escapes_device_names),
	};

	printf("binary under test: %s\n", binary_under_test());
	return cmocka_run_group_tests_name("cli", tests, NULL, NULL);
}
