/* test_fetch.c: runbooks and key files over http, pinned by SHA-256, fetched by the
 * appliance's own busybox wget (from the package build; the host's wget when there is none)
 * from a small HTTP server in a child process on loopback. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <arpa/inet.h>
#include <glob.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "base/err.h"
#include "base/fetch.h"
#include "lib/fake_sysfs.h"

static const char body[] = "version\ndisks\n";
/* sha256sum of BODY. */
static const char body_sha[] = "4d9797059ce19cd60e2866278c6513480a0cbef86a56714cdef6ab73da4705fd";

static struct {
	char *dir;
	pid_t pid;
	unsigned port;
	char requests[4200];	/* the request lines the server saw, one a line */
} server;

/* Answers every connection: BODY for any path but /missing (404). */
static void serve(int listener)
{
	char request[4096], line[512];
	FILE *log;
	ssize_t got;
	int client;

	for (;;) {
		client = accept(listener, NULL, NULL);
		if (client < 0)
			continue;
		got = read(client, request, sizeof request - 1);
		request[got > 0 ? got : 0] = '\0';
		request[strcspn(request, "\r\n")] = '\0';
		log = fopen(server.requests, "a");
		fprintf(log, "%s\n", request);
		fclose(log);
		if (strstr(request, " /missing "))
			snprintf(line, sizeof line, "HTTP/1.0 404 Not Found\r\nContent-Length: 0\r\n\r\n");
		else
			snprintf(line, sizeof line, "HTTP/1.0 200 OK\r\nContent-Length: %zu\r\n\r\n%s",
			    sizeof body - 1, body);
		if (write(client, line, strlen(line)) < 0)
			_exit(1);
		close(client);
	}
}

/* busybox from the package build, as wget on PATH; else the host's wget. */
static void busybox_wget(void)
{
	char pattern[512], link[4200], path[8400];
	const char *cache = getenv("RESCUE_CACHE"), *home = getenv("HOME");
	glob_t found;

	snprintf(pattern, sizeof pattern, "%s%s/build/busybox-*/bin/busybox",
	    cache && *cache ? cache : home ? home : "/root", cache && *cache ? "" : "/.cache/rescue");
	if (glob(pattern, 0, NULL, &found) != 0 || found.gl_pathc == 0)
		return;
	snprintf(link, sizeof link, "%s/wget", server.dir);
	if (symlink(found.gl_pathv[found.gl_pathc - 1], link) != 0)
		fail_msg("symlink %s", link);
	globfree(&found);
	snprintf(path, sizeof path, "%s:%s", server.dir, getenv("PATH"));
	setenv("PATH", path, 1);
}

static int server_start(void **state)
{
	struct sockaddr_in address = { .sin_family = AF_INET };
	socklen_t length = sizeof address;
	int listener = socket(AF_INET, SOCK_STREAM, 0);

	(void)state;
	server.dir = fake_sysfs_create();
	snprintf(server.requests, sizeof server.requests, "%s/requests", server.dir);
	address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (listener < 0 || bind(listener, (struct sockaddr *)&address, sizeof address) != 0
	    || listen(listener, 8) != 0
	    || getsockname(listener, (struct sockaddr *)&address, &length) != 0)
		return -1;
	server.port = ntohs(address.sin_port);
	server.pid = fork();
	if (server.pid == 0)
		serve(listener);
	close(listener);
	busybox_wget();
	return 0;
}

static int server_stop(void **state)
{
	(void)state;
	kill(server.pid, SIGKILL);
	waitpid(server.pid, NULL, 0);
	fake_sysfs_remove(server.dir);
	return 0;
}

static int fetch(const char *path_and_fragment, char **data, size_t *size, char *why)
{
	char url[512];

	snprintf(url, sizeof url, "http://127.0.0.1:%u%s", server.port, path_and_fragment);
	return fetch_url(url, 20, data, size, why, 1024);
}

static int requests_seen(void)
{
	struct stat status;

	return stat(server.requests, &status) == 0 ? (int)status.st_size : 0;
}

static void test_unpinned_and_pinned_fetches_give_the_bytes(void **state)
{
	char why[1024], fragment[128], *data, upper[65];
	size_t size, i;

	(void)state;
	assert_int_equal(fetch("/book.run", &data, &size, why), EXIT_OK);
	assert_int_equal(size, sizeof body - 1);
	assert_string_equal(data, body);
	free(data);
	/* A pin in capitals is the same pin; the fragment never reaches the server. */
	for (i = 0; i < 64; i++)
		upper[i] = (char)(body_sha[i] >= 'a' ? body_sha[i] - 32 : body_sha[i]);
	upper[64] = '\0';
	snprintf(fragment, sizeof fragment, "/book.run#sha256=%s", upper);
	assert_int_equal(fetch(fragment, &data, &size, why), EXIT_OK);
	assert_string_equal(data, body);
	free(data);
	assert_true(fetch_url_pinned(fragment));
	assert_false(fetch_url_pinned("/book.run"));
}

static void test_a_pin_that_does_not_match_gives_nothing(void **state)
{
	char why[1024], fragment[128], *data = (char *)"untouched";
	size_t size = 7;

	(void)state;
	snprintf(fragment, sizeof fragment, "/book.run#sha256=%.63s0", body_sha);
	assert_int_equal(fetch(fragment, &data, &size, why), EXIT_SYSTEM);
	assert_null(data);
	assert_int_equal(size, 0);
	assert_non_null(strstr(why, "its SHA-256 is 4d979705"));
	assert_non_null(strstr(why, "not the pinned 4d979705"));
	assert_non_null(strstr(why, "nothing of it was used"));
	assert_null(strstr(why, "#sha256"));
}

static void test_bad_pins_and_urls_are_refused_before_any_request(void **state)
{
	char why[1024], *data;
	size_t size;
	int before = requests_seen();

	(void)state;
	assert_int_equal(fetch("/book.run#sha256=abc", &data, &size, why), EXIT_USAGE);
	assert_non_null(strstr(why, "the pin 'abc' is not a SHA-256 (64 hex digits)"));
	assert_int_equal(fetch("/book.run#top", &data, &size, why), EXIT_USAGE);
	assert_non_null(strstr(why, "the only fragment understood is #sha256=HEX"));
	assert_int_equal(fetch_url("ftp://127.0.0.1/book.run", 20, &data, &size, why, sizeof why),
	    EXIT_USAGE);
	assert_non_null(strstr(why, "'ftp://127.0.0.1/book.run': want an http:// or https:// URL"));
	assert_int_equal(requests_seen(), before);
	/* A server that has no such file. */
	assert_int_equal(fetch("/missing", &data, &size, why), EXIT_SYSTEM);
	assert_non_null(strstr(why, "wget failed"));
	assert_null(data);
}

static void test_the_server_never_sees_the_fragment(void **state)
{
	FILE *log = fopen(server.requests, "r");
	char line[512];
	int lines = 0;

	(void)state;
	assert_non_null(log);
	while (fgets(line, sizeof line, log)) {
		lines++;
		assert_null(strchr(line, '#'));
		assert_non_null(strstr(line, "GET /"));
	}
	fclose(log);
	assert_true(lines >= 3);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_unpinned_and_pinned_fetches_give_the_bytes),
		cmocka_unit_test(test_a_pin_that_does_not_match_gives_nothing),
		cmocka_unit_test(test_bad_pins_and_urls_are_refused_before_any_request),
		cmocka_unit_test(test_the_server_never_sees_the_fragment),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests_name("fetch", tests, server_start, server_stop);
}
