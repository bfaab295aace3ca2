/* fetch.c: files from http(s) URLs, verified by TLS or pinned by SHA-256 (fetch.h). */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "base/err.h"
#include "base/fetch.h"
#include "base/http.h"
#include "base/journal.h"
#include "base/paths.h"
#include "base/sha256.h"
#include "base/tls.h"

enum { REDIRECTS_MAX = 5, HEAD_ROOM = 32768, URL_MAX = 4096 };

static const char pin_marker[] = "#sha256=";

int fetch_url_pinned(const char *url)
{
	return strstr(url, pin_marker) != NULL;
}

/* The URL without its fragment into PLAIN, the pin (lowercase) into PIN or "" for none.
 * EXIT_OK, or EXIT_USAGE when the pin is not 64 hex digits. */
static int pin_split(const char *url, char *plain, size_t plain_size, char *pin,
    char *why, size_t why_size)
{
	const char *fragment = strchr(url, '#'), *hex;
	size_t i;

	pin[0] = '\0';
	snprintf(plain, plain_size, "%.*s", (int)(fragment ? (size_t)(fragment - url)
	    : strlen(url)), url);
	if (fragment == NULL)
		return EXIT_OK;
	if (strncmp(fragment, pin_marker, sizeof pin_marker - 1) != 0) {
		snprintf(why, why_size, "unable to fetch %s: the only fragment understood is "
		    "#sha256=HEX, not '%.40s'", plain, fragment);
		return EXIT_USAGE;
	}
	hex = fragment + sizeof pin_marker - 1;
	for (i = 0; i < SHA256_HEX_SIZE - 1 && isxdigit((unsigned char)hex[i]); i++)
		pin[i] = (char)tolower((unsigned char)hex[i]);
	pin[i] = '\0';
	if (i != SHA256_HEX_SIZE - 1 || hex[i] != '\0') {
		snprintf(why, why_size, "unable to fetch %s: the pin '%.80s' is not a SHA-256 "
		    "(64 hex digits)", plain, hex);
		pin[0] = '\0';
		return EXIT_USAGE;
	}
	return EXIT_OK;
}

static int pin_check(const char *plain, const char *pin, const char *data, size_t size,
    char *why, size_t why_size)
{
	unsigned char digest[SHA256_DIGEST_SIZE];
	char actual[SHA256_HEX_SIZE];
	struct sha256 context;

	sha256_init(&context);
	sha256_update(&context, data, size);
	sha256_final(&context, digest);
	sha256_hex(digest, actual);
	if (strcmp(actual, pin) == 0)
		return EXIT_OK;
	snprintf(why, why_size, "refused %s: its SHA-256 is %s, not the pinned %s (nothing of it "
	    "was used)", plain, actual, pin);
	return EXIT_SYSTEM;
}

static int param_is_one(const char *name)
{
	char path[256], value[8] = "";
	FILE *file;

	snprintf(path, sizeof path, "%s/%s", RESCUE_PARAM_DIR, name);
	file = fopen(path, "re");
	if (file == NULL)
		return 0;
	if (fgets(value, sizeof value, file) == NULL)
		value[0] = '\0';
	fclose(file);
	return strcmp(value, "1\n") == 0 || strcmp(value, "1") == 0;
}

void fetch_trust_default(struct fetch_trust *trust)
{
	memset(trust, 0, sizeof *trust);
	trust->ca_files[0] = RESCUE_CA_BUNDLE;
	trust->ca_files[1] = RESCUE_CONFIG_CA;
	trust->insecure_http = param_is_one("insecure_http");
}

/* The opt-in's warning goes where the operator may be looking: this command's error
 * output, every active console and the journal. */
static void warn_insecure(const char *plain)
{
	char path[512], names[256], *name, *cursor, message[1024];
	const char *sysfs = getenv(RESCUE_SYSFS_ENV);
	FILE *file;
	ssize_t written;
	int fd;

	snprintf(message, sizeof message, "rescue: WARNING: fetching %.800s over plain http without "
	    "a pin (rescue.insecure_http=1): anyone on the path can change what it says\n", plain);
	err_warnx("fetching %.800s over plain http without a pin (rescue.insecure_http=1): anyone "
	    "on the path can change what it says", plain);
	journal_append("fetch (insecure http)", time(NULL), 0, "warning", message);
	snprintf(path, sizeof path, "%s/class/tty/console/active", sysfs && *sysfs ? sysfs
	    : RESCUE_SYSFS_DEFAULT);
	file = fopen(path, "re");
	if (file == NULL)
		return;
	if (fgets(names, sizeof names, file) == NULL)
		names[0] = '\0';
	fclose(file);
	for (name = strtok_r(names, " \n", &cursor); name; name = strtok_r(NULL, " \n", &cursor)) {
		snprintf(path, sizeof path, "/dev/%s", name);
		fd = open(path, O_WRONLY | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
		if (fd < 0)
			continue;
		/* A console that takes nothing has no one to tell. */
		written = write(fd, message, strlen(message));
		(void)written;
		close(fd);
	}
}

/* Whether PLAIN may be fetched as asked: https always, http only pinned or opted in. */
static int scheme_allowed(const struct http_url *url, const char *plain, int pinned,
    const struct fetch_trust *trust, char *why, size_t why_size)
{
	if (url->tls || pinned)
		return EXIT_OK;
	if (trust->insecure_http) {
		warn_insecure(plain);
		return EXIT_OK;
	}
	snprintf(why, why_size, "refused %s: plain http can be changed by anyone on the path; use "
	    "https://, pin it (URL#sha256=HEX), or boot with rescue.insecure_http=1", plain);
	return EXIT_USAGE;
}

/* One connection, plain or TLS, with the fetch's deadline. */
struct connection {
	int fd;
	struct tls *tls;
	struct timespec deadline;
};

static int wait_until(const struct connection *connection, short events)
{
	struct pollfd poller = { .fd = connection->fd, .events = events };
	struct timespec now;
	long long left;
	int ready;

	do {
		clock_gettime(CLOCK_MONOTONIC, &now);
		left = (long long)(connection->deadline.tv_sec - now.tv_sec) * 1000
		    + (connection->deadline.tv_nsec - now.tv_nsec) / 1000000;
		if (left <= 0)
			return 0;
		ready = poll(&poller, 1, left > 60000 ? 60000 : (int)left);
	} while (ready == 0 || (ready < 0 && errno == EINTR));
	return 1;
}

static int connect_one(struct connection *connection, const struct addrinfo *address)
{
	int fd = socket(address->ai_family, address->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    address->ai_protocol), error = 0;
	socklen_t length = sizeof error;

	if (fd < 0)
		return -1;
	connection->fd = fd;
	if (connect(fd, address->ai_addr, address->ai_addrlen) == 0)
		return 0;
	if (errno != EINPROGRESS)
		goto fail;
	if (!wait_until(connection, POLLOUT)) {
		errno = ETIMEDOUT;
		goto fail;
	}
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length) == 0 && error == 0)
		return 0;
	errno = error ? error : EIO;
fail:
	error = errno;
	close(fd);
	connection->fd = -1;
	errno = error;
	return -1;
}

static int connection_open(struct connection *connection, const struct http_url *url,
    const struct fetch_trust *trust, char *why, size_t why_size)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *addresses, *address;
	char port[8];
	int code;

	connection->fd = -1;
	connection->tls = NULL;
	snprintf(port, sizeof port, "%u", url->port);
	code = getaddrinfo(url->host, port, &hints, &addresses);
	if (code != 0) {
		snprintf(why, why_size, "unable to find the address of %s: %s", url->host,
		    gai_strerror(code));
		return -1;
	}
	for (address = addresses; address; address = address->ai_next)
		if (connect_one(connection, address) == 0)
			break;
	freeaddrinfo(addresses);
	if (connection->fd < 0) {
		snprintf(why, why_size, "unable to connect to %s port %u: %s", url->host, url->port,
		    err_text(errno));
		return -1;
	}
	if (!url->tls)
		return 0;
	connection->tls = tls_open(connection->fd, url->host, trust->ca_files,
	    &connection->deadline, why, why_size);
	if (connection->tls != NULL)
		return 0;
	close(connection->fd);
	connection->fd = -1;
	return -1;
}

static void connection_close(struct connection *connection)
{
	tls_close(connection->tls);
	if (connection->fd >= 0)
		close(connection->fd);
}

static int plain_write_all(struct connection *connection, const char *data, size_t size,
    char *why, size_t why_size)
{
	ssize_t sent;

	while (size > 0) {
		if (!wait_until(connection, POLLOUT)) {
			snprintf(why, why_size, "sending the request timed out");
			return -1;
		}
		sent = send(connection->fd, data, size, MSG_NOSIGNAL);
		if (sent < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (sent < 0) {
			snprintf(why, why_size, "sending the request failed: %s", err_text(errno));
			return -1;
		}
		data += sent;
		size -= (size_t)sent;
	}
	return 0;
}

static ssize_t plain_read(struct connection *connection, char *buffer, size_t size,
    char *why, size_t why_size)
{
	ssize_t got;

	for (;;) {
		if (!wait_until(connection, POLLIN)) {
			snprintf(why, why_size, "the server sent nothing more within the time limit");
			return -1;
		}
		got = recv(connection->fd, buffer, size, 0);
		if (got >= 0)
			return got;
		if (errno != EINTR && errno != EAGAIN) {
			snprintf(why, why_size, "reading from the server failed: %s", err_text(errno));
			return -1;
		}
	}
}

/* The whole answer, until the server closes, into *BUFFER (malloc'd) and *LENGTH. */
static int answer_read(struct connection *connection, char **buffer, size_t *length,
    char *why, size_t why_size)
{
	size_t capacity = 65536, limit = FETCH_SIZE_MAX + HEAD_ROOM;
	char *grown;
	ssize_t got;

	*length = 0;
	*buffer = malloc(capacity + 1);
	for (;;) {
		if (*buffer == NULL) {
			snprintf(why, why_size, "out of memory for the answer");
			return -1;
		}
		got = connection->tls
		    ? tls_read(connection->tls, *buffer + *length, capacity - *length, why, why_size)
		    : plain_read(connection, *buffer + *length, capacity - *length, why, why_size);
		if (got <= 0)
			return (int)got;
		*length += (size_t)got;
		if (*length < capacity)
			continue;
		if (capacity >= limit) {
			snprintf(why, why_size, "the file is larger than %d MiB", FETCH_SIZE_MAX >> 20);
			return -1;
		}
		capacity = capacity * 2 > limit ? limit : capacity * 2;
		grown = realloc(*buffer, capacity + 1);
		if (grown == NULL)
			free(*buffer);
		*buffer = grown;
	}
}

/* One GET of URL: the parsed answer in RESPONSE over *ANSWER (malloc'd). */
static int get_once(const struct http_url *url, const struct fetch_trust *trust,
    const struct timespec *deadline, char **answer, struct http_response *response,
    char *why, size_t why_size)
{
	struct connection connection = { .deadline = *deadline };
	char request[HTTP_PATH_MAX + 512];
	size_t length = 0;
	int request_length = http_request_format(url, request, sizeof request), code = -1;

	*answer = NULL;
	if (request_length < 0) {
		snprintf(why, why_size, "the request does not fit");
		return -1;
	}
	if (connection_open(&connection, url, trust, why, why_size) != 0)
		return -1;
	if ((connection.tls ? tls_write_all(connection.tls, request, (size_t)request_length, why,
	    why_size) : plain_write_all(&connection, request, (size_t)request_length, why,
	    why_size)) == 0
	    && answer_read(&connection, answer, &length, why, why_size) == 0
	    && http_response_parse(*answer, length, response, why, why_size) == 0)
		code = 0;
	connection_close(&connection);
	return code;
}

/* A redirect's Location, absolute or from the root, as the next URL to fetch. */
static int redirect_target(const struct http_url *from, const char *location, char *next,
    size_t size)
{
	int literal = strchr(from->host, ':') != NULL;

	if (strncmp(location, "http://", 7) == 0 || strncmp(location, "https://", 8) == 0)
		return snprintf(next, size, "%s", location) < (int)size ? 0 : -1;
	if (location[0] != '/' || location[1] == '/')
		return -1;
	return snprintf(next, size, "%s://%s%s%s:%u%s", from->tls ? "https" : "http",
	    literal ? "[" : "", from->host, literal ? "]" : "", from->port, location)
	    < (int)size ? 0 : -1;
}

/* Follows redirects from PLAIN; the file's body in *ANSWER at RESPONSE's offset. */
static int get_following(char *plain, int pinned, const struct fetch_trust *trust,
    int timeout_seconds, char **answer, struct http_response *response, char *why,
    size_t why_size)
{
	struct timespec deadline;
	struct http_url url;
	char reason[768], next[URL_MAX];
	int hops, code;

	clock_gettime(CLOCK_MONOTONIC, &deadline);
	deadline.tv_sec += timeout_seconds;
	for (hops = 0;; hops++) {
		if (http_url_parse(plain, &url, reason, sizeof reason) != 0) {
			snprintf(why, why_size, "unable to fetch '%s': %s", plain, reason);
			return EXIT_USAGE;
		}
		code = scheme_allowed(&url, plain, pinned, trust, why, why_size);
		if (code != EXIT_OK)
			return code;
		if (get_once(&url, trust, &deadline, answer, response, reason, sizeof reason) != 0) {
			snprintf(why, why_size, "unable to fetch %s: %s", plain, reason);
			return EXIT_SYSTEM;
		}
		if (response->status < 300 || response->status > 399 || !response->location[0])
			return EXIT_OK;
		free(*answer);
		*answer = NULL;
		if (hops == REDIRECTS_MAX || redirect_target(&url, response->location, next,
		    sizeof next) != 0) {
			snprintf(why, why_size, "unable to fetch %s: %s to '%.200s'", plain,
			    hops == REDIRECTS_MAX ? "more than 5 redirects, the last" : "a redirect "
			    "that is not an http(s) URL or a path", response->location);
			return EXIT_SYSTEM;
		}
		snprintf(plain, URL_MAX, "%s", next);
	}
}

int fetch_url_trusting(const char *url, int timeout_seconds, const struct fetch_trust *trust,
    char **data, size_t *size, char *why, size_t why_size)
{
	char plain[URL_MAX], asked[URL_MAX], pin[SHA256_HEX_SIZE], *answer = NULL;
	struct http_response response;
	int code = pin_split(url, plain, sizeof plain, pin, why, why_size);

	*data = NULL;
	*size = 0;
	if (code != EXIT_OK)
		return code;
	snprintf(asked, sizeof asked, "%s", plain);
	code = get_following(plain, pin[0] != '\0', trust, timeout_seconds, &answer, &response,
	    why, why_size);
	if (code != EXIT_OK)
		goto out;
	code = EXIT_SYSTEM;
	if (response.status != 200) {
		snprintf(why, why_size, "unable to fetch %s: the server answered %d %s", asked,
		    response.status, response.reason);
		goto out;
	}
	if (pin[0] && pin_check(asked, pin, answer + response.body_offset, response.body_length,
	    why, why_size) != EXIT_OK)
		goto out;
	memmove(answer, answer + response.body_offset, response.body_length);
	answer[response.body_length] = '\0';
	*data = answer;
	*size = response.body_length;
	answer = NULL;
	code = EXIT_OK;
out:
	free(answer);
	return code;
}

int fetch_url(const char *url, int timeout_seconds, char **data, size_t *size, char *why,
    size_t why_size)
{
	struct fetch_trust trust;

	fetch_trust_default(&trust);
	return fetch_url_trusting(url, timeout_seconds, &trust, data, size, why, why_size);
}
