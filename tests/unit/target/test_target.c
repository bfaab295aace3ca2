/* test_target.c: target URLs, good and bad, and storing a file on a file:// target. */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <limits.h>
#include <netinet/in.h>
#include <signal.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "lib/capture.h"
#include "lib/fake_sysfs.h"
#include "target/store.h"
#include "target/target.h"
#include "target/target_ops.h"

static struct target target;
static char why[512];

static void parse_ok(const char *url)
{
	if (target_parse(url, &target, why, sizeof why) != 0)
		fail_msg("%s refused: %s", url, why);
}

static void parse_bad(const char *url, const char *reason)
{
	if (target_parse(url, &target, why, sizeof why) == 0)
		fail_msg("%s accepted", url);
	if (strstr(why, reason) == NULL)
		fail_msg("%s: reason '%s' does not say '%s'", url, why, reason);
}

static void test_ssh_url_with_everything(void **state)
{
	(void)state;
	parse_ok("ssh://backup:s3cr%2Ft@host.example.org:2222/srv/rescue/");
	assert_int_equal(target.scheme, TARGET_SSH);
	assert_string_equal(target.user, "backup");
	assert_string_equal(target.password, "s3cr/t");
	assert_string_equal(target.host, "host.example.org");
	assert_int_equal(target.port, 2222);
	assert_string_equal(target.path, "/srv/rescue");
	assert_string_equal(target.display, "ssh://backup:***@host.example.org:2222/srv/rescue/");
	assert_null(strstr(target.display, "s3cr"));
}

static void test_defaults_and_percent_decoding(void **state)
{
	(void)state;
	parse_ok("ssh://10.0.2.2/dir%20with%20space");
	assert_string_equal(target.user, "");
	assert_string_equal(target.password, "");
	assert_int_equal(target.port, 0);
	assert_int_equal(target_port(&target), 22);
	assert_string_equal(target.path, "/dir with space");
	assert_string_equal(target.display, "ssh://10.0.2.2/dir%20with%20space");
	parse_ok("ssh://us%65r@h/");
	assert_string_equal(target.user, "user");
	assert_string_equal(target.path, "/");
}

static void test_ipv6_in_brackets(void **state)
{
	(void)state;
	parse_ok("ssh://root@[fd00::1]:2200/x");
	assert_string_equal(target.host, "fd00::1");
	assert_int_equal(target.port, 2200);
	parse_ok("nbd://[::1]/export");
	assert_string_equal(target.host, "::1");
	assert_string_equal(target.path, "export");
	assert_int_equal(target_port(&target), 10809);
	parse_bad("ssh://[fd00::1/x", "no ']'");
	parse_bad("ssh://[fd00::zz]/x", "bad IPv6");
	parse_bad("ssh://[fd00::1]x/x", "after ']'");
}

static void test_other_schemes(void **state)
{
	(void)state;
	parse_ok("file:///tmp/out");
	assert_int_equal(target.scheme, TARGET_FILE);
	assert_string_equal(target.path, "/tmp/out");
	parse_ok("tcp://10.0.0.1:9000");
	assert_int_equal(target.scheme, TARGET_TCP);
	assert_string_equal(target.path, "");
	parse_ok("nfs://nas/export/rescue");
	assert_string_equal(target.path, "/export/rescue");
	assert_int_equal(target_port(&target), 2049);
	parse_ok("smb://alice@fileserver/share/sub");
	assert_string_equal(target.user, "alice");
	assert_string_equal(target.path, "/share/sub");
	parse_ok("nbd://storage");
	assert_string_equal(target.path, "");
}

static void test_bad_urls_name_the_bad_part(void **state)
{
	(void)state;
	parse_bad("host:/dir", "no scheme");
	parse_bad("gopher://x/y", "unknown scheme 'gopher'");
	parse_bad("ssh:///dir", "no host");
	parse_bad("ssh://host", "no directory");
	parse_bad("ssh://host:abc/dir", "bad port 'abc'");
	parse_bad("ssh://host:0/dir", "bad port '0'");
	parse_bad("ssh://host:70000/dir", "bad port '70000'");
	parse_bad("ssh://host:/dir", "bad port ''");
	parse_bad("ssh://ho$t/dir", "bad host 'ho$t'");
	parse_bad("ssh://@host/dir", "empty user");
	parse_bad("ssh://user:@host/dir", "empty password");
	parse_bad("ssh://us%zzer@host/dir", "bad user name");
	parse_bad("ssh://user:pa%4@host/dir", "bad password");
	parse_bad("ssh://us%00er@host/dir", "bad user name");
	parse_bad("ssh://host/a b", "space");
	parse_bad("tcp://host", "no port");
	parse_bad("tcp://host:9000/path", "takes no path");
	parse_bad("nbd://user@host", "user is not allowed in nbd://");
	parse_bad("nfs://host", "no export");
	parse_bad("smb://host/", "no share");
	parse_bad("file://host/tmp", "no host");
	parse_bad("file:relative", "no scheme");
}

static void test_bad_password_never_echoed(void **state)
{
	(void)state;
	parse_bad("ssh://user:topsecret@ho$t/dir", "bad host");
	assert_null(strstr(why, "topsecret"));
	parse_bad("ssh://user:topsecret@host:x/dir", "bad port");
	assert_null(strstr(why, "topsecret"));
	parse_bad("ssh://user:topsecret@host", "no directory");
	assert_null(strstr(why, "topsecret"));
}

static char *temporary_dir(void)
{
	char *dir = malloc(64);

	snprintf(dir, 64, "/tmp/rescue-target-XXXXXX");
	if (dir == NULL || mkdtemp(dir) == NULL)
		abort();
	return dir;
}

static void remove_dir(const char *dir)
{
	char command[256];

	snprintf(command, sizeof command, "rm -rf '%s'", dir);
	if (system(command) != 0)
		fail_msg("cannot remove %s", dir);
}

static void test_default_target_and_config_password(void **state)
{
	char *dir = temporary_dir(), path[256];
	FILE *file;

	(void)state;
	setenv("RESCUE_PARAM_DIR", dir, 1);
	assert_null(target_default());
	snprintf(path, sizeof path, "%s/target", dir);
	file = fopen(path, "w");
	fputs("ssh://backup@192.0.2.5/srv/rescue\n", file);
	fclose(file);
	snprintf(path, sizeof path, "%s/target_password", dir);
	file = fopen(path, "w");
	fputs("from-conf\n", file);
	fclose(file);
	assert_string_equal(target_default(), "ssh://backup@192.0.2.5/srv/rescue");
	parse_ok(target_default());
	assert_string_equal(target.password, "from-conf");
	assert_null(strstr(target.display, "from-conf"));
	parse_ok("ssh://backup:own@192.0.2.5/srv");
	assert_string_equal(target.password, "own");
	parse_ok("file:///tmp");
	assert_string_equal(target.password, "");
	unsetenv("RESCUE_PARAM_DIR");
	remove_dir(dir);
	free(dir);
}

static int count_entries(const char *dir)
{
	DIR *listing = opendir(dir);
	struct dirent *entry;
	int count = 0;

	assert_non_null(listing);
	while ((entry = readdir(listing)))
		if (strcmp(entry->d_name, ".") && strcmp(entry->d_name, ".."))
			count++;
	closedir(listing);
	return count;
}

static void test_file_put_stores_exactly_and_leaves_no_temporary(void **state)
{
	char *dir = temporary_dir(), url[128], path[256], back[64] = "";
	static char big[3 << 20];
	FILE *file;
	size_t i;

	(void)state;
	snprintf(url, sizeof url, "file://%s", dir);
	parse_ok(url);
	assert_int_equal(target_put_file(&target, "report.txt", "hello\n", 6), 0);
	snprintf(path, sizeof path, "%s/report.txt", dir);
	file = fopen(path, "r");
	assert_non_null(file);
	assert_non_null(fgets(back, sizeof back, file));
	fclose(file);
	assert_string_equal(back, "hello\n");
	for (i = 0; i < sizeof big; i++)
		big[i] = (char)(i * 7 + (i >> 12));
	assert_int_equal(target_put_file(&target, "big.bin", big, sizeof big), 0);
	assert_int_equal(count_entries(dir), 2);
	/* A second put replaces the file whole. */
	assert_int_equal(target_put_file(&target, "report.txt", "bye\n", 4), 0);
	file = fopen(path, "r");
	assert_non_null(fgets(back, sizeof back, file));
	fclose(file);
	assert_string_equal(back, "bye\n");
	assert_int_equal(count_entries(dir), 2);
	remove_dir(dir);
	free(dir);
}

static void test_file_put_refuses_bad_names_and_missing_dirs(void **state)
{
	char *dir = temporary_dir(), url[128];

	(void)state;
	snprintf(url, sizeof url, "file://%s/missing", dir);
	parse_ok(url);
	assert_int_equal(target_put_file(&target, "x.txt", "x", 1), -1);
	snprintf(url, sizeof url, "file://%s", dir);
	parse_ok(url);
	assert_int_equal(target_put_file(&target, "../escape", "x", 1), -1);
	assert_int_equal(target_put_file(&target, ".hidden", "x", 1), -1);
	assert_int_equal(target_put_file(&target, "", "x", 1), -1);
	assert_int_equal(count_entries(dir), 0);
	parse_ok("tcp://host:1");
	assert_int_equal(target_put_file(&target, "x.txt", "x", 1), -1);
	remove_dir(dir);
	free(dir);
}

/* A write that fails (the file size limit here, a full disk on the appliance) is named
 * with the step and the temporary file it failed on, and leaves nothing behind. */
static void test_file_put_names_the_failed_write(void **state)
{
	char *dir = temporary_dir(), url[128], expected[256];
	static char big[64 << 10];
	struct rlimit saved, small;
	struct capture capture;
	int rc;

	(void)state;
	snprintf(url, sizeof url, "file://%s", dir);
	parse_ok(url);
	assert_int_equal(getrlimit(RLIMIT_FSIZE, &saved), 0);
	small = saved;
	small.rlim_cur = 4096;
	signal(SIGXFSZ, SIG_IGN);
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &small), 0);
	capture_start(&capture);
	rc = target_put_file(&target, "big.bin", big, sizeof big);
	capture_stop(&capture);
	setrlimit(RLIMIT_FSIZE, &saved);
	signal(SIGXFSZ, SIG_DFL);
	assert_int_equal(rc, -1);
	snprintf(expected, sizeof expected, "unable to store big.bin on file://%s (write %s/.big.bin.",
	    dir, dir);
	if (strstr(capture.err, expected) == NULL || strstr(capture.err, "File too large") == NULL)
		fail_msg("want '%s...: File too large', got: %s", expected, capture.err);
	assert_null(strstr(capture.err, "write write"));
	assert_int_equal(count_entries(dir), 0);
	capture_free(&capture);
	remove_dir(dir);
	free(dir);
}

/* The guard lookup goes from the directory's mount to /sys/dev/block/MAJ:MIN: a fake sysfs
 * that calls the temporary directory's device guarded must make the put fail. */
static void test_file_put_refused_on_a_guarded_device(void **state)
{
	char *dir = temporary_dir(), *sysfs = fake_sysfs_create(), url[128], node[128];
	char line[4096], point[4096], resolved[4096], best[4096] = "";
	unsigned major_number = 0, minor_number = 0, best_major = 0, best_minor = 0;
	FILE *mounts = fopen("/proc/self/mountinfo", "r");

	(void)state;
	assert_non_null(realpath(dir, resolved));
	while (fgets(line, sizeof line, mounts))
		if (sscanf(line, "%*u %*u %u:%u %*s %4095s", &major_number, &minor_number, point) == 3
		    && strncmp(resolved, point, strlen(point)) == 0 && strlen(point) >= strlen(best)) {
			snprintf(best, sizeof best, "%s", point);
			best_major = major_number;
			best_minor = minor_number;
		}
	fclose(mounts);
	snprintf(url, sizeof url, "file://%s", dir);
	parse_ok(url);
	setenv("RESCUE_SYSFS", sysfs, 1);
	snprintf(node, sizeof node, "dev/block/%u:%u/guard", best_major, best_minor);
	fake_sysfs_write(sysfs, node, "0\n");
	assert_int_equal(target_file_guard_check(dir, why, sizeof why), 0);
	/* Only when the source is not itself a block device node is MAJ:MIN the one used. */
	fake_sysfs_write(sysfs, node, "1\n");
	if (target_file_guard_check(dir, why, sizeof why) == 0)
		skip();
	assert_non_null(strstr(why, "guarded"));
	assert_int_equal(target_put_file(&target, "x.txt", "x", 1), -1);
	assert_int_equal(count_entries(dir), 0);
	unsetenv("RESCUE_SYSFS");
	fake_sysfs_remove(sysfs);
	remove_dir(dir);
	free(dir);
}

static void test_ssh_unreachable_is_named_before_anything_else(void **state)
{
	struct target_ssh_check check;

	(void)state;
	parse_ok("ssh://root@127.0.0.1:1/srv");
	assert_int_equal(target_ssh_check(&target, &check), TARGET_SSH_ERROR);
	assert_non_null(strstr(check.why, "host 127.0.0.1 port 1: Connection refused"));
	assert_int_equal(target_put_file(&target, "x.txt", "x", 1), -1);
}

static void test_shell_quote(void **state)
{
	char quoted[64];

	(void)state;
	target_shell_quote("/srv/it's here", quoted, sizeof quoted);
	assert_string_equal(quoted, "'/srv/it'\\''s here'");
	target_shell_quote("x", quoted, 3);
	assert_string_equal(quoted, "");
}

/* ---------------------------------------------------------------- ssh:// against sshd */

/* OpenSSH's sshd on a loopback port, reached with the appliance's own static dropbear
 * (from the package cache). Skipped when sshd or that build is missing, or without root. */
struct sshd {
	pid_t pid;
	char dir[64];
	unsigned port;
};

static struct sshd sshd;

static int dropbear_find(char *path, size_t size)
{
	const char *cache = getenv("RESCUE_CACHE"), *home = getenv("HOME");
	char pattern[512];
	glob_t found;
	int rc = -1;

	snprintf(pattern, sizeof pattern, "%s%s/build/dropbear-*/bin/dropbearmulti",
	    cache && *cache ? cache : home ? home : "/root", cache && *cache ? "" : "/.cache/rescue");
	if (glob(pattern, 0, NULL, &found) == 0 && found.gl_pathc > 0) {
		snprintf(path, size, "%s", found.gl_pathv[found.gl_pathc - 1]);
		rc = 0;
	}
	globfree(&found);
	return rc;
}

static unsigned free_port(void)
{
	struct sockaddr_in address = { .sin_family = AF_INET };
	socklen_t length = sizeof address;
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || bind(fd, (struct sockaddr *)&address, sizeof address) != 0
	    || getsockname(fd, (struct sockaddr *)&address, &length) != 0)
		abort();
	close(fd);
	return ntohs(address.sin_port);
}

static void file_write(const char *dir, const char *name, const char *content)
{
	char path[256];
	FILE *file;

	snprintf(path, sizeof path, "%s/%s", dir, name);
	file = fopen(path, "w");
	if (file == NULL)
		abort();
	fputs(content, file);
	fclose(file);
}

static void sshd_config(const char *public_line, int with_sftp)
{
	char config[4096], command[512];

	snprintf(config, sizeof config, "%s\n", public_line);
	file_write(sshd.dir, "authorized_keys", config);
	snprintf(command, sizeof command, "test -f %1$s/host_key || "
	    "ssh-keygen -q -t ed25519 -N '' -f %1$s/host_key", sshd.dir);
	if (system(command) != 0)
		abort();
	snprintf(config, sizeof config, "Port %u\nListenAddress 127.0.0.1\nHostKey %s/host_key\n"
	    "PidFile %s/sshd.pid\nAuthorizedKeysFile %s/authorized_keys\n"
	    "PermitRootLogin prohibit-password\nPasswordAuthentication no\n"
	    "KbdInteractiveAuthentication no\nUsePAM no\nStrictModes no\n%s", sshd.port,
	    sshd.dir, sshd.dir, sshd.dir, with_sftp ? "Subsystem sftp internal-sftp\n" : "");
	file_write(sshd.dir, "sshd_config", config);
}

static int sshd_wait(void)
{
	struct sockaddr_in address = { .sin_family = AF_INET, .sin_port = htons(sshd.port) };
	int tries, fd, connected = 0;

	address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	for (tries = 0; tries < 100 && !connected; tries++) {
		fd = socket(AF_INET, SOCK_STREAM, 0);
		connected = connect(fd, (struct sockaddr *)&address, sizeof address) == 0;
		close(fd);
		if (!connected)
			usleep(50000);
	}
	return connected ? 0 : -1;
}

static int sshd_start(void **state)
{
	char dropbear[512], path[256], link_path[1024], config[8192], key[4096], public_line[2048];
	static const char *const links[] = { "dbclient", "dropbearkey", "dropbearmulti" };
	size_t i;

	(void)state;
	if (geteuid() != 0 || access("/usr/sbin/sshd", X_OK) != 0
	    || dropbear_find(dropbear, sizeof dropbear) != 0)
		return 0;
	snprintf(sshd.dir, sizeof sshd.dir, "/tmp/rescue-sshd-XXXXXX");
	if (mkdtemp(sshd.dir) == NULL)
		abort();
	snprintf(path, sizeof path, "%s/bin", sshd.dir);
	mkdir(path, 0755);
	for (i = 0; i < sizeof links / sizeof links[0]; i++) {
		snprintf(link_path, sizeof link_path, "%s/%s", path, links[i]);
		if (symlink(dropbear, link_path) != 0)
			abort();
	}
	snprintf(config, sizeof config, "%s:%s", path, getenv("PATH"));
	setenv("PATH", config, 1);
	snprintf(path, sizeof path, "%s/client", sshd.dir);
	setenv("RESCUE_CLIENT_DIR", path, 1);
	snprintf(path, sizeof path, "%s/receive", sshd.dir);
	mkdir(path, 0755);
	if (target_client_key(key, sizeof key, public_line, sizeof public_line, why, sizeof why) != 0)
		fail_msg("no client key: %s", why);
	sshd.port = free_port();
	sshd_config(public_line, 1);
	mkdir("/run/sshd", 0755);
	sshd.pid = fork();
	if (sshd.pid == 0) {
		snprintf(path, sizeof path, "%s/sshd.log", sshd.dir);
		int log = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		dup2(log, STDERR_FILENO);
		snprintf(config, sizeof config, "%s/sshd_config", sshd.dir);
		execl("/usr/sbin/sshd", "/usr/sbin/sshd", "-D", "-e", "-f", config, (char *)NULL);
		_exit(127);
	}
	return sshd_wait();
}

static int sshd_stop(void **state)
{
	(void)state;
	if (sshd.pid > 0) {
		kill(sshd.pid, SIGTERM);
		waitpid(sshd.pid, NULL, 0);
		sshd.pid = 0;
	}
	if (sshd.dir[0])
		remove_dir(sshd.dir);
	unsetenv("RESCUE_CLIENT_DIR");
	return 0;
}

static void ssh_target(const char *user, const char *subdir)
{
	char url[256];

	snprintf(url, sizeof url, "ssh://%s@127.0.0.1:%u%s/receive%s", user, sshd.port, sshd.dir,
	    subdir);
	parse_ok(url);
}

static void test_ssh_put_file_is_atomic_and_exact(void **state)
{
	static char big[2 << 20];
	char path[512], receive[256];
	struct stat node;
	FILE *file;
	size_t i;

	(void)state;
	if (sshd.pid <= 0)
		skip();
	for (i = 0; i < sizeof big; i++)
		big[i] = (char)(i * 13 + (i >> 10));
	ssh_target("root", "");
	assert_int_equal(target_put_file(&target, "report.json", "{}\n", 3), 0);
	assert_int_equal(target_put_file(&target, "big.bin", big, sizeof big), 0);
	assert_int_equal(target_put_file(&target, "report.json", "{\"a\":1}\n", 8), 0);
	snprintf(receive, sizeof receive, "%s/receive", sshd.dir);
	assert_int_equal(count_entries(receive), 2);
	snprintf(path, sizeof path, "%s/big.bin", receive);
	assert_int_equal(stat(path, &node), 0);
	assert_int_equal(node.st_size, sizeof big);
	file = fopen(path, "r");
	for (i = 0; i < sizeof big; i++)
		if (fgetc(file) != (unsigned char)big[i])
			fail_msg("big.bin differs at byte %zu", i);
	fclose(file);
	/* A missing directory is an error, and nothing is created. */
	ssh_target("root", "/missing");
	assert_int_equal(target_put_file(&target, "x.txt", "x", 1), -1);
	assert_int_equal(count_entries(receive), 2);
}

static void test_ssh_check_names_host_key_and_refused_login(void **state)
{
	struct target_ssh_check check;

	(void)state;
	if (sshd.pid <= 0)
		skip();
	ssh_target("nosuchuser", "");
	assert_int_equal(target_ssh_check(&target, &check), TARGET_SSH_AUTH);
	assert_non_null(strstr(check.why, "user nosuchuser"));
	assert_int_equal(target_put_file(&target, "x.txt", "x", 1), -1);
	ssh_target("root", "");
	assert_int_equal(target_ssh_check(&target, &check), TARGET_SSH_OK);
	assert_non_null(strstr(check.hostkey, "matches"));
}


/* ---------------------------------------------------------------- the ssh:// store */

static struct store *store_for(const char *user, const char *subdir, unsigned port,
    char *why, size_t why_size, int *transient)
{
	char url[256];

	snprintf(url, sizeof url, "ssh://%s@127.0.0.1:%u%s/receive%s", user, port, sshd.dir,
	    subdir);
	parse_ok(url);
	return store_open(&target, "disk", why, why_size, transient);
}

/* sshd reads its configuration again on SIGHUP (it re-executes itself, same pid). */
static void sshd_reload(int with_sftp)
{
	char key[4096], public_line[2048];

	if (target_client_key(key, sizeof key, public_line, sizeof public_line, why, sizeof why) != 0)
		fail_msg("no client key: %s", why);
	sshd_config(public_line, with_sftp);
	kill(sshd.pid, SIGHUP);
	usleep(300000);
	assert_int_equal(sshd_wait(), 0);
}

/* A receiver whose sshd has no Subsystem line takes the login and then ignores the sftp
 * subsystem request (dbclient says nothing): named within seconds, with the line to add,
 * and not retried, instead of a stall of a minute. */
static void test_ssh_store_names_a_missing_sftp_subsystem(void **state)
{
	struct store *store;
	struct timespec start, end;
	int transient = 1;
	char why_open[1024];

	(void)state;
	if (sshd.pid <= 0)
		skip();
	sshd_reload(0);
	clock_gettime(CLOCK_MONOTONIC, &start);
	store = store_for("root", "", sshd.port, why_open, sizeof why_open, &transient);
	clock_gettime(CLOCK_MONOTONIC, &end);
	sshd_reload(1);
	assert_null(store);
	assert_int_equal(transient, 0);
	assert_non_null(strstr(why_open, "accepted the login but started no SFTP server"));
	assert_non_null(strstr(why_open, "add 'Subsystem sftp internal-sftp'"));
	assert_true(end.tv_sec - start.tv_sec < 30);
}

static void file_expect(const char *name, const void *content, size_t size)
{
	char path[512];
	unsigned char *actual = malloc(size + 1);
	FILE *file;

	snprintf(path, sizeof path, "%s/receive/%s", sshd.dir, name);
	file = fopen(path, "rb");
	if (!file)
		fail_msg("%s: %s", path, strerror(errno));
	assert_int_equal(fread(actual, 1, size + 1, file), size);
	fclose(file);
	assert_memory_equal(actual, content, size);
	free(actual);
}

static void test_ssh_store_writes_at_positions_and_replaces_the_map(void **state)
{
	static unsigned char image[3 << 20], back[sizeof image];
	struct store *store;
	uint64_t size, available;
	char why[1024], *map;
	size_t map_size, i;
	int transient;

	(void)state;
	if (sshd.pid <= 0)
		skip();
	store = store_for("root", "/missing", sshd.port, why, sizeof why, &transient);
	assert_null(store);
	assert_non_null(strstr(why, "no such directory"));
	assert_false(transient);
	store = store_for("nosuchuser", "", sshd.port, why, sizeof why, &transient);
	assert_null(store);
	assert_false(transient);
	store = store_for("root", "", sshd.port, why, sizeof why, &transient);
	if (!store)
		fail_msg("store_open: %s", why);
	assert_int_equal(store_get(store, "disk.map", &map, &map_size), 1);
	assert_int_equal(store_image_open(store, &size), 0);
	assert_int_equal(size, 0);
	/* The second MiB first, then the first, the third left a hole up to its last byte. */
	for (i = 0; i < sizeof image; i++)
		image[i] = i >= (2 << 20) && i < sizeof image - 1 ? 0 : (unsigned char)(i * 7 + 1);
	assert_int_equal(store_pwrite(store, image + (1 << 20), 1 << 20, 1 << 20), 0);
	assert_int_equal(store_pwrite(store, image, 1 << 20, 0), 0);
	assert_int_equal(store_pwrite(store, image + sizeof image - 1, 1, sizeof image - 1), 0);
	assert_int_equal(store_flush(store), 0);
	file_expect("disk.img", image, sizeof image);
	assert_int_equal(store_pread(store, back, sizeof back, 0), sizeof back);
	assert_memory_equal(back, image, sizeof image);
	assert_int_equal(store_pread(store, back, 100, sizeof image - 10), 10);
	assert_int_equal(store_replace(store, "disk.map", "first\n", 6), 0);
	assert_int_equal(store_replace(store, "disk.map", "second\n", 7), 0);
	file_expect("disk.map", "second\n", 7);
	file_expect("disk.map.bak", "first\n", 6);
	assert_int_equal(store_get(store, "disk.map", &map, &map_size), 0);
	assert_string_equal(map, "second\n");
	free(map);
	assert_int_equal(store_free_space(store, &available), 0);
	assert_true(available > 0);
	/* A dump volume: sized, renamed from .part, renamed again after a lost reply. */
	assert_int_equal(store_size_of(store, "disk.001.tar", &size), 1);
	assert_int_equal(store_image_open_named(store, "disk.001.tar.part", &size), 0);
	assert_int_equal(store_pwrite(store, "archive", 7, 0), 0);
	assert_int_equal(store_flush(store), 0);
	store_image_done(store);
	assert_int_equal(store_rename(store, "disk.001.tar.part", "disk.001.tar"), 0);
	assert_int_equal(store_rename(store, "disk.001.tar.part", "disk.001.tar"), 0);
	assert_int_equal(store_size_of(store, "disk.001.tar", &size), 0);
	assert_int_equal(size, 7);
	file_expect("disk.001.tar", "archive", 7);
	assert_int_equal(store_rename(store, "nothing", "disk.002.tar"), -1);
	store_close(store);
}

/* Whether PID is sshd or runs under it (internal-sftp runs in the session's process). */
static int under_sshd(long pid)
{
	char path[64], text[512], *close_paren;
	long parent;
	FILE *file;
	int depth;

	for (depth = 0; depth < 16 && pid > 1; depth++, pid = parent) {
		if (pid == (long)sshd.pid)
			return 1;
		snprintf(path, sizeof path, "/proc/%ld/stat", pid);
		if (!(file = fopen(path, "r")))
			return 0;
		parent = 0;
		if (!fgets(text, sizeof text, file) || !(close_paren = strrchr(text, ')'))
		    || sscanf(close_paren + 1, " %*c %ld", &parent) != 1)
			parent = 0;
		fclose(file);
	}
	return 0;
}

/* How many descriptors of sshd's processes are open on PATH: a handle the client left
 * open on the server shows here. */
static int server_descriptors_on(const char *path)
{
	char fd_dir[300], link_path[600], target_path[PATH_MAX];
	struct dirent *process, *fd;
	DIR *proc = opendir("/proc"), *fds;
	int count = 0;
	ssize_t got;

	assert_non_null(proc);
	while ((process = readdir(proc))) {
		if (process->d_name[0] < '1' || process->d_name[0] > '9'
		    || !under_sshd(atol(process->d_name)))
			continue;
		snprintf(fd_dir, sizeof fd_dir, "/proc/%s/fd", process->d_name);
		if (!(fds = opendir(fd_dir)))
			continue;
		while ((fd = readdir(fds))) {
			snprintf(link_path, sizeof link_path, "%s/%s", fd_dir, fd->d_name);
			got = readlink(link_path, target_path, sizeof target_path - 1);
			if (got > 0 && (target_path[got] = '\0', strcmp(target_path, path) == 0))
				count++;
		}
		closedir(fds);
	}
	closedir(proc);
	return count;
}

/* A map that cannot be read (a directory) or written (/dev/full): the call fails with the
 * server's reason, and the file it opened is closed again on the server. */
static void test_ssh_store_closes_what_a_failed_call_opened(void **state)
{
	char why[1024], link_path[512], *map;
	struct store *store;
	size_t map_size;
	int transient;

	(void)state;
	if (sshd.pid <= 0)
		skip();
	store = store_for("root", "", sshd.port, why, sizeof why, &transient);
	if (!store)
		fail_msg("store_open: %s", why);
	snprintf(link_path, sizeof link_path, "%s/receive/disk.map", sshd.dir);
	unlink(link_path);	/* the map an earlier test left */
	assert_int_equal(symlink(sshd.dir, link_path), 0);
	assert_int_equal(store_get(store, "disk.map", &map, &map_size), -1);
	assert_non_null(strstr(store_error(store), "unable to read"));
	assert_false(store_transient(store));
	assert_int_equal(server_descriptors_on(sshd.dir), 0);
	unlink(link_path);
	snprintf(link_path, sizeof link_path, "%s/receive/disk.map.tmp", sshd.dir);
	assert_int_equal(symlink("/dev/full", link_path), 0);
	assert_int_equal(store_replace(store, "disk.map", "map\n", 4), -1);
	assert_non_null(strstr(store_error(store), "unable to write"));
	assert_false(store_transient(store));
	assert_int_equal(server_descriptors_on("/dev/full"), 0);
	unlink(link_path);
	/* The connection is still good for the next call. */
	assert_int_equal(store_replace(store, "disk.map", "map\n", 4), 0);
	file_expect("disk.map", "map\n", 4);
	store_close(store);
	snprintf(link_path, sizeof link_path, "%s/receive/disk.map", sshd.dir);
	unlink(link_path);
}

/* A TCP proxy to sshd that cuts each connection after a random 200 KiB to 1.2 MiB sent
 * towards the server: the connection dies mid-transfer, as a flaky link does. */
static pid_t cutting_proxy(unsigned *port)
{
	struct sockaddr_in address = { .sin_family = AF_INET };
	socklen_t length = sizeof address;
	int listener = socket(AF_INET, SOCK_STREAM, 0), one = 1;
	pid_t pid;

	address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (bind(listener, (struct sockaddr *)&address, sizeof address) != 0
	    || listen(listener, 4) != 0
	    || getsockname(listener, (struct sockaddr *)&address, &length) != 0)
		abort();
	*port = ntohs(address.sin_port);
	pid = fork();
	if (pid != 0) {
		close(listener);
		return pid;
	}
	srand(4242);
	for (;;) {
		struct sockaddr_in server = { .sin_family = AF_INET, .sin_port = htons(sshd.port) };
		int client = accept(listener, NULL, NULL), upstream = socket(AF_INET, SOCK_STREAM, 0);
		long budget = (200 << 10) + rand() % (1 << 20), moved;
		char buffer[16384];
		struct pollfd both[2] = { { .fd = client, .events = POLLIN },
			{ .fd = upstream, .events = POLLIN } };

		server.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		if (client < 0 || connect(upstream, (struct sockaddr *)&server, sizeof server) != 0)
			_exit(1);
		both[1].fd = upstream;
		while (budget > 0 && poll(both, 2, -1) > 0) {
			if (both[0].revents) {
				moved = read(client, buffer, sizeof buffer);
				if (moved <= 0 || write(upstream, buffer, (size_t)moved) != moved)
					break;
				budget -= moved;
			}
			if (both[1].revents) {
				moved = read(upstream, buffer, sizeof buffer);
				if (moved <= 0 || write(client, buffer, (size_t)moved) != moved)
					break;
			}
		}
		close(client);
		close(upstream);
	}
}

/* Reconnects until it works (the proxy always lets a new connection in). */
static void reconnect(struct store *store, int *reconnects)
{
	int tries;

	if (!store_transient(store))
		fail_msg("a permanent failure: %s", store_error(store));
	for (tries = 0; store_reconnect(store) != 0; tries++)
		if (tries == 20 || !store_transient(store))
			fail_msg("no reconnect: %s", store_error(store));
	(*reconnects)++;
}

static void test_ssh_store_survives_cut_connections_byte_exact(void **state)
{
	enum { BLOCK = 256 << 10, BLOCKS = 40 };
	static unsigned char image[BLOCK * BLOCKS];
	struct store *store;
	char why[1024];
	uint64_t size;
	unsigned port;
	pid_t proxy;
	int transient, reconnects = 0;
	size_t i;

	(void)state;
	if (sshd.pid <= 0)
		skip();
	for (i = 0; i < sizeof image; i++)
		image[i] = (unsigned char)(i * 31 + (i >> 12));
	proxy = cutting_proxy(&port);
	store = store_for("root", "", port, why, sizeof why, &transient);
	if (!store)
		fail_msg("store_open through the proxy: %s", why);
	while (store_image_open(store, &size) != 0)
		reconnect(store, &reconnects);
	/* Blocks out of order, as imaging writes them after skips. */
	for (i = 0; i < BLOCKS; i++) {
		size_t block = (i * 7) % BLOCKS;

		while (store_pwrite(store, image + block * BLOCK, BLOCK, block * BLOCK) != 0)
			reconnect(store, &reconnects);
	}
	while (store_flush(store) != 0)
		reconnect(store, &reconnects);
	store_close(store);
	kill(proxy, SIGKILL);
	waitpid(proxy, NULL, 0);
	file_expect("disk.img", image, sizeof image);
	assert_true(reconnects >= 3);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ssh_url_with_everything),
		cmocka_unit_test(test_defaults_and_percent_decoding),
		cmocka_unit_test(test_ipv6_in_brackets),
		cmocka_unit_test(test_other_schemes),
		cmocka_unit_test(test_bad_urls_name_the_bad_part),
		cmocka_unit_test(test_bad_password_never_echoed),
		cmocka_unit_test(test_default_target_and_config_password),
		cmocka_unit_test(test_file_put_stores_exactly_and_leaves_no_temporary),
		cmocka_unit_test(test_file_put_refuses_bad_names_and_missing_dirs),
		cmocka_unit_test(test_file_put_names_the_failed_write),
		cmocka_unit_test(test_file_put_refused_on_a_guarded_device),
		cmocka_unit_test(test_ssh_unreachable_is_named_before_anything_else),
		cmocka_unit_test(test_shell_quote),
	};
	const struct CMUnitTest ssh_tests[] = {
		cmocka_unit_test(test_ssh_put_file_is_atomic_and_exact),
		cmocka_unit_test(test_ssh_check_names_host_key_and_refused_login),
		cmocka_unit_test(test_ssh_store_writes_at_positions_and_replaces_the_map),
		cmocka_unit_test(test_ssh_store_closes_what_a_failed_call_opened),
		cmocka_unit_test(test_ssh_store_survives_cut_connections_byte_exact),
		cmocka_unit_test(test_ssh_store_names_a_missing_sftp_subsystem),
	};

	return cmocka_run_group_tests_name("target", tests, NULL, NULL)
	    | cmocka_run_group_tests_name("target over ssh", ssh_tests, sshd_start, sshd_stop);
}
