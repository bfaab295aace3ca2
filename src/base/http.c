/* http.c: URL, request and response parsing for file fetches (http.h). */
#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "base/http.h"

enum { HEADERS_MAX = 16384 };

static int fail(char *why, size_t why_size, const char *message)
{
	snprintf(why, why_size, "%s", message);
	return -1;
}

/* Bytes a URL may hold: no blanks, no control bytes, nothing above ASCII. */
static int url_bytes_ok(const char *url)
{
	for (; *url; url++)
		if ((unsigned char)*url <= ' ' || (unsigned char)*url >= 0x7f)
			return 0;
	return 1;
}

static int host_char_ok(char c, int literal)
{
	if (literal)
		return isxdigit((unsigned char)c) || c == ':' || c == '.';
	return isalnum((unsigned char)c) || c == '-' || c == '.' || c == '_';
}

/* "[::1]:8443" or "example.org:8443" or "example.org" into OUT's host and port. */
static int authority_parse(const char *start, size_t length, struct http_url *out,
    char *why, size_t why_size)
{
	const char *host = start, *end = start + length, *host_end, *colon;
	int literal = length > 0 && *start == '[';
	unsigned long port = 0;

	if (memchr(start, '@', length))
		return fail(why, why_size, "user:password@ in a URL is not supported (it would go "
		    "to the server as written)");
	if (literal) {
		host++;
		host_end = memchr(host, ']', (size_t)(end - host));
		if (host_end == NULL)
			return fail(why, why_size, "an IPv6 address without its closing ']'");
		colon = host_end + 1 < end ? host_end + 1 : NULL;
		if (colon && *colon != ':')
			return fail(why, why_size, "text after the IPv6 address's ']'");
	} else {
		colon = memchr(start, ':', length);
		host_end = colon ? colon : end;
	}
	if (host_end == host)
		return fail(why, why_size, "no host name");
	if ((size_t)(host_end - host) >= sizeof out->host)
		return fail(why, why_size, "a host name longer than 255 bytes");
	for (const char *c = host; c < host_end; c++)
		if (!host_char_ok(*c, literal))
			return fail(why, why_size, "a host name with a byte no host name has");
	memcpy(out->host, host, (size_t)(host_end - host));
	out->host[host_end - host] = '\0';
	out->port = out->tls ? 443 : 80;
	if (colon == NULL)
		return 0;
	for (const char *c = colon + 1; c < end; c++) {
		if (!isdigit((unsigned char)*c) || port > 65535)
			return fail(why, why_size, "a port that is not a number from 1 to 65535");
		port = port * 10 + (unsigned long)(*c - '0');
	}
	if (port == 0 || port > 65535)
		return fail(why, why_size, "a port that is not a number from 1 to 65535");
	out->port = (unsigned)port;
	return 0;
}

int http_url_parse(const char *url, struct http_url *out, char *why, size_t why_size)
{
	const char *authority, *rest;

	memset(out, 0, sizeof *out);
	if (strncmp(url, "https://", 8) == 0)
		out->tls = 1;
	else if (strncmp(url, "http://", 7) != 0)
		return fail(why, why_size, "want an http:// or https:// URL");
	if (!url_bytes_ok(url))
		return fail(why, why_size, "a URL with blanks, control bytes or non-ASCII bytes");
	authority = url + (out->tls ? 8 : 7);
	rest = authority + strcspn(authority, "/?");
	if (authority_parse(authority, (size_t)(rest - authority), out, why, why_size) != 0)
		return -1;
	if (strlen(rest) + 2 > sizeof out->path)
		return fail(why, why_size, "a path longer than 2 KiB");
	snprintf(out->path, sizeof out->path, "%s%s", *rest == '/' ? "" : "/", rest);
	return 0;
}

int http_request_format(const struct http_url *url, char *buffer, size_t size)
{
	int default_port = url->port == (url->tls ? 443u : 80u);
	int literal = strchr(url->host, ':') != NULL;
	char port[8] = "";
	int length;

	if (!default_port)
		snprintf(port, sizeof port, ":%u", url->port);
	length = snprintf(buffer, size, "GET %s HTTP/1.1\r\nHost: %s%s%s%s\r\n"
	    "User-Agent: rescue\r\nAccept: */*\r\nConnection: close\r\n\r\n", url->path,
	    literal ? "[" : "", url->host, literal ? "]" : "", port);
	return length < 0 || (size_t)length >= size ? -1 : length;
}

/* The end of the line starting at LINE (its '\n'), or NULL when there is none before END. */
static const char *line_end(const char *line, const char *end)
{
	return memchr(line, '\n', (size_t)(end - line));
}

/* Length of LINE without its "\r\n" or "\n". */
static size_t line_length(const char *line, const char *newline)
{
	size_t length = (size_t)(newline - line);

	return length > 0 && line[length - 1] == '\r' ? length - 1 : length;
}

static int status_parse(const char *line, size_t length, struct http_response *out)
{
	size_t i, used = 0;

	if (length < 12 || memcmp(line, "HTTP/1.", 7) != 0 || !isdigit((unsigned char)line[7])
	    || line[8] != ' ')
		return -1;
	for (i = 9; i < 12; i++) {
		if (!isdigit((unsigned char)line[i]))
			return -1;
		out->status = out->status * 10 + (line[i] - '0');
	}
	if (length > 12 && line[12] != ' ')
		return -1;
	for (i = 13; i < length && used < sizeof out->reason - 1; i++)
		out->reason[used++] = isprint((unsigned char)line[i]) ? line[i] : '?';
	out->reason[used] = '\0';
	return out->status >= 100 ? 0 : -1;
}

/* A decimal length, refused when it is empty, has other bytes or does not fit. */
static int decimal_parse(const char *text, size_t length, size_t *value)
{
	size_t i, result = 0;

	if (length == 0)
		return -1;
	for (i = 0; i < length; i++) {
		if (!isdigit((unsigned char)text[i]) || result > (SIZE_MAX - 9) / 10)
			return -1;
		result = result * 10 + (size_t)(text[i] - '0');
	}
	*value = result;
	return 0;
}

struct framing {
	int has_length, chunked;
	size_t length;
};

/* One header line NAME: VALUE (value trimmed) into OUT or FRAMING. */
static int header_parse(const char *line, size_t length, struct http_response *out,
    struct framing *framing, char *why, size_t why_size)
{
	const char *colon = memchr(line, ':', length), *value;
	size_t name_length, value_length, number;

	if (colon == NULL || colon == line)
		return fail(why, why_size, "a header line without 'NAME:'");
	name_length = (size_t)(colon - line);
	value = colon + 1;
	value_length = length - name_length - 1;
	while (value_length > 0 && (*value == ' ' || *value == '\t'))
		value++, value_length--;
	while (value_length > 0 && (value[value_length - 1] == ' '
	    || value[value_length - 1] == '\t'))
		value_length--;
	if (name_length == 14 && strncasecmp(line, "Content-Length", 14) == 0) {
		if (decimal_parse(value, value_length, &number) != 0
		    || (framing->has_length && framing->length != number))
			return fail(why, why_size, "a Content-Length that is not one number");
		framing->has_length = 1;
		framing->length = number;
	} else if (name_length == 17 && strncasecmp(line, "Transfer-Encoding", 17) == 0) {
		if (value_length != 7 || strncasecmp(value, "chunked", 7) != 0)
			return fail(why, why_size, "a Transfer-Encoding other than chunked");
		framing->chunked = 1;
	} else if (name_length == 8 && strncasecmp(line, "Location", 8) == 0) {
		if (value_length >= sizeof out->location)
			return fail(why, why_size, "a Location longer than 2 KiB");
		memcpy(out->location, value, value_length);
		out->location[value_length] = '\0';
	}
	return 0;
}

/* The status line and headers; sets OUT->body_offset. */
static int head_parse(const char *buffer, size_t length, struct http_response *out,
    struct framing *framing, char *why, size_t why_size)
{
	const char *end = buffer + (length < HEADERS_MAX ? length : HEADERS_MAX);
	const char *line = buffer, *newline = line_end(line, end);
	size_t line_bytes;

	if (newline == NULL || status_parse(line, line_length(line, newline), out) != 0)
		return fail(why, why_size, length == 0 ? "the server closed the connection without "
		    "an answer" : "the answer is not HTTP/1.x");
	for (;;) {
		line = newline + 1;
		newline = line_end(line, end);
		if (newline == NULL)
			return fail(why, why_size, length >= HEADERS_MAX ? "headers longer than 16 KiB"
			    : "the answer ends inside its headers");
		line_bytes = line_length(line, newline);
		if (line_bytes == 0)
			break;
		if (header_parse(line, line_bytes, out, framing, why, why_size) != 0)
			return -1;
	}
	out->body_offset = (size_t)(newline + 1 - buffer);
	return 0;
}

/* One hexadecimal chunk size, ended by ';' (extensions, ignored) or the line's end. */
static int chunk_size_parse(const char *line, size_t length, size_t *size)
{
	size_t i, value = 0;
	int digits = 0;

	for (i = 0; i < length && line[i] != ';'; i++) {
		if (!isxdigit((unsigned char)line[i]) || value > (SIZE_MAX >> 4))
			return -1;
		value = value * 16 + (size_t)(isdigit((unsigned char)line[i]) ? line[i] - '0'
		    : tolower((unsigned char)line[i]) - 'a' + 10);
		digits++;
	}
	*size = value;
	return digits > 0 ? 0 : -1;
}

/* Joins the chunks from BODY on in place; the trailer after the last chunk is ignored. */
static int chunks_join(char *body, size_t available, size_t *joined, char *why,
    size_t why_size)
{
	const char *end = body + available, *newline;
	char *cursor = body, *write = body;
	size_t size;

	for (;;) {
		newline = line_end(cursor, end);
		if (newline == NULL || chunk_size_parse(cursor, line_length(cursor, newline),
		    &size) != 0)
			return fail(why, why_size, newline == NULL ? "the transfer was cut short "
			    "(inside a chunk header)" : "a chunk size that is not hexadecimal");
		cursor = (char *)newline + 1;
		if (size == 0)
			break;
		if (size > (size_t)(end - cursor))
			return fail(why, why_size, "the transfer was cut short (inside a chunk)");
		memmove(write, cursor, size);
		write += size;
		cursor += size;
		if (end - cursor >= 2 && cursor[0] == '\r' && cursor[1] == '\n')
			cursor += 2;
		else if (end - cursor >= 1 && cursor[0] == '\n')
			cursor += 1;
		else
			return fail(why, why_size, "a chunk not followed by its line end");
	}
	*joined = (size_t)(write - body);
	return 0;
}

int http_response_parse(char *buffer, size_t length, struct http_response *out, char *why,
    size_t why_size)
{
	struct framing framing = { 0 };
	size_t available;

	memset(out, 0, sizeof *out);
	if (head_parse(buffer, length, out, &framing, why, why_size) != 0)
		return -1;
	available = length - out->body_offset;
	/* Only a file's bytes need their end proven; other answers are read for their status. */
	if (out->status < 200 || out->status > 299 || out->status == 204)
		return 0;
	if (framing.chunked)
		return chunks_join(buffer + out->body_offset, available, &out->body_length, why,
		    why_size);
	if (!framing.has_length)
		return fail(why, why_size, "the server did not say how long the file is (no "
		    "Content-Length, not chunked), so a cut transfer could not be told from a whole "
		    "one");
	if (framing.length > available) {
		snprintf(why, why_size, "the transfer was cut short: %zu of %zu bytes", available,
		    framing.length);
		return -1;
	}
	out->body_length = framing.length;
	return 0;
}
