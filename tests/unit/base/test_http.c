/* test_http.c: the HTTP parsers of fetch (base/http.c) on answers a hostile server could
 * send: lengths that overflow or disagree, chunks that lie, headers without end; and URLs
 * that must not reach the network as written. Each buffer is allocated at its exact size,
 * so the sanitizer build catches a read past it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "base/http.h"

static char why[256];

/* Parses TEXT from an exact-size copy; the body, when there is one, into BODY. */
static int parse(const char *text, struct http_response *response, char *body, size_t size)
{
	size_t length = strlen(text);
	char *copy = malloc(length ? length : 1);
	int code;

	assert_non_null(copy);
	memcpy(copy, text, length);
	code = http_response_parse(copy, length, response, why, sizeof why);
	if (code == 0 && body) {
		assert_true(response->body_length < size);
		memcpy(body, copy + response->body_offset, response->body_length);
		body[response->body_length] = '\0';
	}
	free(copy);
	return code;
}

static void test_framed_answers_give_their_body(void **state)
{
	struct http_response response;
	char body[64];

	(void)state;
	assert_int_equal(parse("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", &response,
	    body, sizeof body), 0);
	assert_int_equal(response.status, 200);
	assert_string_equal(response.reason, "OK");
	assert_string_equal(body, "hello");
	/* Bare newlines, header names in any case, bytes after the length ignored. */
	assert_int_equal(parse("HTTP/1.0 200 OK\ncontent-length:3\n\nabcdef", &response, body,
	    sizeof body), 0);
	assert_string_equal(body, "abc");
	assert_int_equal(parse("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
	    "3;ext=1\r\nabc\r\nA\r\n0123456789\r\n0\r\nTrailer: x\r\n\r\n", &response, body,
	    sizeof body), 0);
	assert_string_equal(body, "abc0123456789");
	assert_int_equal(parse("HTTP/1.1 302 Found\r\nLocation: /elsewhere\r\n\r\n", &response,
	    NULL, 0), 0);
	assert_int_equal(response.status, 302);
	assert_string_equal(response.location, "/elsewhere");
	/* A 404 needs no framing: only its status is used. */
	assert_int_equal(parse("HTTP/1.1 404 Not Found\r\n\r\n<html>", &response, NULL, 0), 0);
	assert_int_equal(response.status, 404);
}

static void test_lengths_that_lie_are_refused(void **state)
{
	struct http_response response;

	(void)state;
	assert_int_equal(parse("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhello", &response,
	    NULL, 0), -1);
	assert_string_equal(why, "the transfer was cut short: 5 of 10 bytes");
	assert_int_equal(parse("HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999999\r\n"
	    "\r\nx", &response, NULL, 0), -1);
	assert_string_equal(why, "a Content-Length that is not one number");
	assert_int_equal(parse("HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n"
	    "\r\nxy", &response, NULL, 0), -1);
	assert_string_equal(why, "a Content-Length that is not one number");
	assert_int_equal(parse("HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\nxy", &response,
	    NULL, 0), -1);
	assert_int_equal(parse("HTTP/1.1 200 OK\r\n\r\nunframed", &response, NULL, 0), -1);
	assert_non_null(strstr(why, "did not say how long the file is"));
	/* Chunks: a size past the answer, a size that overflows, a chunk without its end. */
	assert_int_equal(parse("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
	    "ff\r\nabc\r\n0\r\n\r\n", &response, NULL, 0), -1);
	assert_string_equal(why, "the transfer was cut short (inside a chunk)");
	assert_int_equal(parse("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
	    "10000000000000003\r\nabc\r\n0\r\n\r\n", &response, NULL, 0), -1);
	assert_string_equal(why, "a chunk size that is not hexadecimal");
	assert_int_equal(parse("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
	    "3\r\nabcX\r\n0\r\n\r\n", &response, NULL, 0), -1);
	assert_string_equal(why, "a chunk not followed by its line end");
	assert_int_equal(parse("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n",
	    &response, NULL, 0), -1);
	assert_string_equal(why, "the transfer was cut short (inside a chunk header)");
	assert_int_equal(parse("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
	    &response, NULL, 0), -1);
	assert_string_equal(why, "a Transfer-Encoding other than chunked");
}

static void test_answers_that_are_not_http_are_named(void **state)
{
	struct http_response response;
	char *long_head;

	(void)state;
	assert_int_equal(parse("", &response, NULL, 0), -1);
	assert_string_equal(why, "the server closed the connection without an answer");
	assert_int_equal(parse("SSH-2.0-OpenSSH_9.2\r\n", &response, NULL, 0), -1);
	assert_string_equal(why, "the answer is not HTTP/1.x");
	assert_int_equal(parse("HTTP/1.1 2x0 OK\r\n\r\n", &response, NULL, 0), -1);
	assert_int_equal(parse("HTTP/1.1 200 OK\r\nContent-Length: 1\r\n", &response, NULL, 0),
	    -1);
	assert_string_equal(why, "the answer ends inside its headers");
	assert_int_equal(parse("HTTP/1.1 200 OK\r\nno colon here\r\n\r\n", &response, NULL, 0),
	    -1);
	assert_string_equal(why, "a header line without 'NAME:'");
	/* A reason with control bytes comes back printable. */
	assert_int_equal(parse("HTTP/1.1 500 \x1b[2Jgone\r\n\r\n", &response, NULL, 0), 0);
	assert_string_equal(response.reason, "?[2Jgone");
	long_head = malloc(20001);
	assert_non_null(long_head);
	strcpy(long_head, "HTTP/1.1 200 OK\r\nX: ");
	memset(long_head + 20, 'a', 19980);
	long_head[20000] = '\0';
	assert_int_equal(parse(long_head, &response, NULL, 0), -1);
	assert_string_equal(why, "headers longer than 16 KiB");
	free(long_head);
}

static void test_urls_are_split_or_refused(void **state)
{
	struct http_url url;
	char request[4096];

	(void)state;
	assert_int_equal(http_url_parse("https://example.org/a/b.run?x=1", &url, why, sizeof why),
	    0);
	assert_true(url.tls && url.port == 443);
	assert_string_equal(url.host, "example.org");
	assert_string_equal(url.path, "/a/b.run?x=1");
	assert_int_equal(http_url_parse("http://[2001:db8::1]:8080", &url, why, sizeof why), 0);
	assert_true(!url.tls && url.port == 8080);
	assert_string_equal(url.host, "2001:db8::1");
	assert_string_equal(url.path, "/");
	assert_true(http_request_format(&url, request, sizeof request) > 0);
	assert_string_equal(request, "GET / HTTP/1.1\r\nHost: [2001:db8::1]:8080\r\n"
	    "User-Agent: rescue\r\nAccept: */*\r\nConnection: close\r\n\r\n");
	assert_int_equal(http_url_parse("https://host?q", &url, why, sizeof why), 0);
	assert_string_equal(url.path, "/?q");
	assert_int_equal(http_url_parse("https://u:p@host/", &url, why, sizeof why), -1);
	assert_non_null(strstr(why, "user:password@"));
	assert_int_equal(http_url_parse("https://host:0/", &url, why, sizeof why), -1);
	assert_int_equal(http_url_parse("https://host:65536/", &url, why, sizeof why), -1);
	assert_int_equal(http_url_parse("https://host:99999999999999999999/", &url, why,
	    sizeof why), -1);
	assert_string_equal(why, "a port that is not a number from 1 to 65535");
	assert_int_equal(http_url_parse("https://ho st/", &url, why, sizeof why), -1);
	assert_int_equal(http_url_parse("https://host/\r\nX-Injected: 1", &url, why, sizeof why),
	    -1);
	assert_string_equal(why, "a URL with blanks, control bytes or non-ASCII bytes");
	assert_int_equal(http_url_parse("https:///path", &url, why, sizeof why), -1);
	assert_string_equal(why, "no host name");
	assert_int_equal(http_url_parse("https://[::1/", &url, why, sizeof why), -1);
	assert_int_equal(http_url_parse("ftp://host/", &url, why, sizeof why), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_framed_answers_give_their_body),
		cmocka_unit_test(test_lengths_that_lie_are_refused),
		cmocka_unit_test(test_answers_that_are_not_http_are_named),
		cmocka_unit_test(test_urls_are_split_or_refused),
	};

	return cmocka_run_group_tests_name("http", tests, NULL, NULL);
}
