/* http.h: the parts of HTTP/1.1 a file fetch needs, as parsers of buffers (fetch.c does
 * the network). Everything here reads bytes a server, or whoever sits on the path, chose:
 * each function takes a length, never reads past it, and checks every number it is given.
 */
#ifndef RESCUE_HTTP_H
#define RESCUE_HTTP_H

#include <stddef.h>

enum { HTTP_HOST_MAX = 256, HTTP_PATH_MAX = 2048 };

struct http_url {
	int tls;			/* https:// */
	char host[HTTP_HOST_MAX];	/* without the brackets of an IPv6 literal */
	unsigned port;
	char path[HTTP_PATH_MAX];	/* from the first '/', "/" when the URL has none */
};

/* Splits an http:// or https:// URL (without a fragment). 0, or -1 with WHY naming what
 * is wrong with it: another scheme, user:password@ (never sent in the clear), a bad port,
 * spaces or control bytes, or a part too long. */
int http_url_parse(const char *url, struct http_url *out, char *why, size_t why_size);

struct http_response {
	int status;			/* 200, 404, ... */
	char reason[64];		/* the server's words after the status, printable only */
	char location[HTTP_PATH_MAX];	/* Location: of a redirect, else "" */
	size_t body_offset;		/* where the body starts in the buffer */
	size_t body_length;		/* its length, chunks joined (see http_response_parse) */
};

/* Parses a whole response (status line, headers, body) read until the server closed the
 * connection. The body must be framed by Content-Length or chunked transfer coding, so a
 * transfer cut short is told from a whole one; a chunked body is joined in place (BUFFER
 * is rewritten from body_offset on). 0, or -1 with WHY: not HTTP, headers too long or
 * malformed, a length that does not match what arrived, a bad chunk. */
int http_response_parse(char *buffer, size_t length, struct http_response *out, char *why,
    size_t why_size);

/* The request for URL into BUFFER: GET, Host, Connection: close, no credentials. Its
 * length, or -1 when it does not fit. */
int http_request_format(const struct http_url *url, char *buffer, size_t size);

#endif
