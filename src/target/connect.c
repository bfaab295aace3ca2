/* connect.c: a TCP connection to a target's host, bounded in time. The ssh://, nbd://,
 * tcp:// and network-mount code all reach their servers through it.
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/err.h"
#include "target/target_ops.h"

/* A non-blocking connect, so an address that drops packets costs TIMEOUT, not minutes. */
static int connect_one(const struct addrinfo *address, int timeout_seconds)
{
	struct pollfd wait = { .events = POLLOUT };
	int fd = socket(address->ai_family, address->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    address->ai_protocol), error = 0;
	socklen_t length = sizeof error;

	if (fd < 0)
		return -1;
	if (connect(fd, address->ai_addr, address->ai_addrlen) == 0)
		goto connected;
	if (errno != EINPROGRESS)
		goto fail;
	wait.fd = fd;
	if (poll(&wait, 1, timeout_seconds * 1000) == 0) {
		errno = ETIMEDOUT;
		goto fail;
	}
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length) != 0)
		goto fail;
	if (error != 0) {
		errno = error;
		goto fail;
	}
connected:
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
	return fd;
fail:
	error = errno;
	close(fd);
	errno = error;
	return -1;
}

int target_tcp_connect(const char *host, unsigned port, int timeout_seconds, char *why,
    size_t why_size)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *addresses, *address;
	char service[16];
	int fd = -1, rc;

	snprintf(service, sizeof service, "%u", port);
	rc = getaddrinfo(host, service, &hints, &addresses);
	if (rc != 0) {
		snprintf(why, why_size, "cannot resolve host %s: %s", host, gai_strerror(rc));
		return -1;
	}
	for (address = addresses; address && fd < 0; address = address->ai_next)
		fd = connect_one(address, timeout_seconds);
	if (fd < 0)
		snprintf(why, why_size, "host %s port %u: %s", host, port, err_text(errno));
	freeaddrinfo(addresses);
	return fd;
}
