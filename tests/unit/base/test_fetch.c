/* test_fetch.c: runbooks and key files over https and http, by our own client, against real
 * servers on loopback (tests/lib/tls_server.py: Python's ssl and http.server) holding
 * certificates from a test CA made for the run: a good one, an expired one, one for another
 * name and a self-signed one; pins by SHA-256; plain http refused unless pinned or opted in. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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
	unsigned http, good, expired, wrongname, selfsigned;
	char ca[4200], journal[4200];
	struct fetch_trust trust;
} server;

static void write_file(const char *path, const char *text)
{
	FILE *file = fopen(path, "w");

	assert_non_null(file);
	fputs(text, file);
	fclose(file);
}

static int ports_read(void)
{
	char path[4200], kind[32];
	unsigned port;
	FILE *file;

	snprintf(path, sizeof path, "%s/ports", server.dir);
	file = fopen(path, "r");
	if (file == NULL)
		return -1;
	while (fscanf(file, "%31s %u", kind, &port) == 2) {
		unsigned *slot = !strcmp(kind, "http") ? &server.http : !strcmp(kind, "good")
		    ? &server.good : !strcmp(kind, "expired") ? &server.expired
		    : !strcmp(kind, "wrongname") ? &server.wrongname : &server.selfsigned;
		*slot = port;
	}
	fclose(file);
	return 0;
}

static int server_start(void **state)
{
	char path[4200];
	int tries;

	(void)state;
	server.dir = fake_sysfs_create();
	server.pid = fork();
	if (server.pid == 0) {
		execlp("python3", "python3", RESCUE_TEST_LIB "/tls_server.py", server.dir,
		    (char *)NULL);
		_exit(127);
	}
	for (tries = 0; tries < 600 && ports_read() != 0; tries++)
		usleep(100000);
	if (server.good == 0)
		return -1;
	snprintf(path, sizeof path, "%s/www/book.run", server.dir);
	write_file(path, body);
	snprintf(server.ca, sizeof server.ca, "%s/ca.pem", server.dir);
	server.trust.ca_files[0] = server.ca;
	/* The journal and the consoles of the opt-in's warning are the test's own. */
	snprintf(server.journal, sizeof server.journal, "%s/journal.tsv", server.dir);
	setenv("RESCUE_JOURNAL", server.journal, 1);
	setenv("RESCUE_SYSFS", server.dir, 1);
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

/* Fetches SCHEME://HOST:PORT/PATH with TRUST; the bytes checked and freed when it worked. */
static int fetch(const char *scheme, const char *host, unsigned port, const char *path,
    const struct fetch_trust *trust, char *why)
{
	char url[512], *data = (char *)"untouched";
	size_t size = 7;
	int code;

	snprintf(url, sizeof url, "%s://%s:%u%s", scheme, host, port, path);
	code = fetch_url_trusting(url, 20, trust, &data, &size, why, 1024);
	if (code == EXIT_OK) {
		assert_int_equal(size, sizeof body - 1);
		assert_string_equal(data, body);
		free(data);
	} else {
		assert_null(data);
		assert_int_equal(size, 0);
	}
	return code;
}

static void test_https_from_a_known_ca_gives_the_bytes(void **state)
{
	char why[1024], fragment[128];

	(void)state;
	assert_int_equal(fetch("https", "localhost", server.good, "/book.run", &server.trust,
	    why), EXIT_OK);
	/* By address: mbedTLS checks DNS names only, the IP entry is checked by tls.c. */
	assert_int_equal(fetch("https", "127.0.0.1", server.good, "/book.run", &server.trust,
	    why), EXIT_OK);
	assert_int_equal(fetch("https", "localhost", server.good, "/chunked/book.run",
	    &server.trust, why), EXIT_OK);
	assert_int_equal(fetch("https", "localhost", server.good, "/redirect/book.run",
	    &server.trust, why), EXIT_OK);
	snprintf(fragment, sizeof fragment, "/book.run#sha256=%s", body_sha);
	assert_int_equal(fetch("https", "localhost", server.good, fragment, &server.trust, why),
	    EXIT_OK);
}

static void test_bad_certificates_are_refused_with_their_reason(void **state)
{
	const struct fetch_trust bundle_only = { .ca_files = { "/etc/ssl/certs/ca-certificates.crt" } };
	char why[1024];

	(void)state;
	assert_int_equal(fetch("https", "localhost", server.expired, "/book.run", &server.trust,
	    why), EXIT_SYSTEM);
	assert_non_null(strstr(why, "refused localhost: the server's certificate has expired"));
	assert_int_equal(fetch("https", "localhost", server.wrongname, "/book.run",
	    &server.trust, why), EXIT_SYSTEM);
	assert_non_null(strstr(why, "certificate is for another name, not localhost"));
	assert_int_equal(fetch("https", "127.0.0.1", server.wrongname, "/book.run",
	    &server.trust, why), EXIT_SYSTEM);
	assert_non_null(strstr(why, "certificate is for another name, not 127.0.0.1"));
	assert_int_equal(fetch("https", "localhost", server.selfsigned, "/book.run",
	    &server.trust, why), EXIT_SYSTEM);
	assert_non_null(strstr(why, "is not signed by a trusted authority (self-signed"));
	assert_non_null(strstr(why, "unable to fetch https://localhost:"));
	/* The good server is unknown to anyone who does not have the test CA. */
	if (access(bundle_only.ca_files[0], R_OK) == 0) {
		assert_int_equal(fetch("https", "localhost", server.good, "/book.run", &bundle_only,
		    why), EXIT_SYSTEM);
		assert_non_null(strstr(why, "is not signed by a trusted authority"));
	}
}

static void test_a_pin_that_does_not_match_gives_nothing(void **state)
{
	char why[1024], fragment[128];

	(void)state;
	snprintf(fragment, sizeof fragment, "/book.run#sha256=%.63s0", body_sha);
	assert_int_equal(fetch("https", "localhost", server.good, fragment, &server.trust, why),
	    EXIT_SYSTEM);
	assert_non_null(strstr(why, "its SHA-256 is 4d979705"));
	assert_non_null(strstr(why, "not the pinned 4d979705"));
	assert_non_null(strstr(why, "nothing of it was used"));
	assert_null(strstr(why, "#sha256"));
	assert_int_equal(fetch("http", "127.0.0.1", server.http, fragment, &server.trust, why),
	    EXIT_SYSTEM);
	assert_non_null(strstr(why, "not the pinned 4d979705"));
}

static int journal_mentions(const char *text)
{
	char line[4096];
	FILE *file = fopen(server.journal, "r");
	int found = 0;

	if (file == NULL)
		return 0;
	while (!found && fgets(line, sizeof line, file))
		found = strstr(line, text) != NULL;
	fclose(file);
	return found;
}

static void test_plain_http_needs_a_pin_or_the_opt_in(void **state)
{
	struct fetch_trust insecure = server.trust;
	char why[1024], fragment[128], url[256];

	(void)state;
	assert_int_equal(fetch("http", "127.0.0.1", server.http, "/book.run", &server.trust, why),
	    EXIT_USAGE);
	assert_non_null(strstr(why, "plain http can be changed by anyone on the path"));
	assert_non_null(strstr(why, "rescue.insecure_http=1"));
	snprintf(fragment, sizeof fragment, "/book.run#sha256=%s", body_sha);
	assert_int_equal(fetch("http", "127.0.0.1", server.http, fragment, &server.trust, why),
	    EXIT_OK);
	/* An https server that sends the client to http is held to the same rule. */
	assert_int_equal(fetch("https", "localhost", server.good, "/redirect-http/book.run",
	    &server.trust, why), EXIT_USAGE);
	snprintf(url, sizeof url, "refused http://127.0.0.1:%u/book.run: plain http", server.http);
	assert_non_null(strstr(why, url));
	/* The opt-in fetches, and says so in the journal each time. */
	insecure.insecure_http = 1;
	assert_false(journal_mentions("fetch (insecure http)"));
	assert_int_equal(fetch("http", "127.0.0.1", server.http, "/book.run", &insecure, why),
	    EXIT_OK);
	assert_true(journal_mentions("fetch (insecure http)"));
	snprintf(url, sizeof url, "WARNING: fetching http://127.0.0.1:%u/book.run over plain http",
	    server.http);
	assert_true(journal_mentions(url));
}

static void test_bad_pins_and_urls_are_refused_before_any_request(void **state)
{
	char why[1024], *data;
	size_t size;

	(void)state;
	assert_int_equal(fetch("https", "localhost", server.good, "/book.run#sha256=abc",
	    &server.trust, why), EXIT_USAGE);
	assert_non_null(strstr(why, "the pin 'abc' is not a SHA-256 (64 hex digits)"));
	assert_int_equal(fetch("https", "localhost", server.good, "/book.run#top", &server.trust,
	    why), EXIT_USAGE);
	assert_non_null(strstr(why, "the only fragment understood is #sha256=HEX"));
	assert_int_equal(fetch_url("ftp://127.0.0.1/book.run", 20, &data, &size, why, sizeof why),
	    EXIT_USAGE);
	assert_non_null(strstr(why, "'ftp://127.0.0.1/book.run': want an http:// or https:// URL"));
	assert_int_equal(fetch_url("https://user:secret@localhost/book.run", 20, &data, &size,
	    why, sizeof why), EXIT_USAGE);
	assert_non_null(strstr(why, "user:password@ in a URL is not supported"));
}

static void test_missing_and_cut_files_are_named(void **state)
{
	char why[1024];

	(void)state;
	assert_int_equal(fetch("https", "localhost", server.good, "/missing", &server.trust, why),
	    EXIT_SYSTEM);
	assert_non_null(strstr(why, "the server answered 404"));
	assert_int_equal(fetch("https", "localhost", server.good, "/cut/book.run", &server.trust,
	    why), EXIT_SYSTEM);
	assert_non_null(strstr(why, "the transfer was cut short: 14 of 114 bytes"));
	/* Nobody listens on the port of a server that was stopped: a named connect failure. */
	assert_int_equal(fetch("https", "127.0.0.1", 1, "/book.run", &server.trust, why),
	    EXIT_SYSTEM);
	assert_non_null(strstr(why, "unable to connect to 127.0.0.1 port 1: Connection refused"));
}

static void test_ca_files_must_hold_certificates(void **state)
{
	struct fetch_trust junk = { .ca_files = { NULL } }, none = { .ca_files = { "/nonexistent" } };
	char why[1024], path[4200];

	(void)state;
	snprintf(path, sizeof path, "%s/www/book.run", server.dir);
	junk.ca_files[0] = path;
	assert_int_equal(fetch("https", "localhost", server.good, "/book.run", &junk, why),
	    EXIT_SYSTEM);
	assert_non_null(strstr(why, "unable to read the CA certificates in"));
	assert_non_null(strstr(why, "book.run: not PEM certificates"));
	assert_int_equal(fetch("https", "localhost", server.good, "/book.run", &none, why),
	    EXIT_SYSTEM);
	assert_non_null(strstr(why, "no CA certificates to check https servers against"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_https_from_a_known_ca_gives_the_bytes),
		cmocka_unit_test(test_bad_certificates_are_refused_with_their_reason),
		cmocka_unit_test(test_a_pin_that_does_not_match_gives_nothing),
		cmocka_unit_test(test_plain_http_needs_a_pin_or_the_opt_in),
		cmocka_unit_test(test_bad_pins_and_urls_are_refused_before_any_request),
		cmocka_unit_test(test_missing_and_cut_files_are_named),
		cmocka_unit_test(test_ca_files_must_hold_certificates),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests_name("fetch", tests, server_start, server_stop);
}
