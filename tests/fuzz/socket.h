/* socket.h: a server's replies for the fuzz targets of the network clients: the input is
 * what the server says, waiting on one end of a socket pair whose other end the client
 * gets. Whatever the client sends stays unread in the pair (the inputs are small, the
 * socket buffers large), and once the input is used up the client sees end of file. */
#ifndef RESCUE_FUZZ_SOCKET_H
#define RESCUE_FUZZ_SOCKET_H

#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

/* The client's end, or -1. *SERVER is the other end, for fuzz_server_close. */
static inline int fuzz_server_says(const unsigned char *data, size_t size, int *server)
{
	int pair[2], buffer = 1 << 20;
	size_t done = 0;
	ssize_t wrote;

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, pair) != 0)
		return -1;
	setsockopt(pair[1], SOL_SOCKET, SO_SNDBUF, &buffer, sizeof buffer);
	setsockopt(pair[0], SOL_SOCKET, SO_RCVBUF, &buffer, sizeof buffer);
	while (done < size && (wrote = write(pair[1], data + done, size - done)) > 0)
		done += (size_t)wrote;
	if (done < size)
		abort();	/* the harness itself is broken: the input must all be there */
	shutdown(pair[1], SHUT_WR);
	*server = pair[1];
	return pair[0];
}

static inline void fuzz_server_close(int server)
{
	close(server);
}

#endif
