/* store_tcp.c: the tcp:// backend of store.h: tcp://HOST:PORT, the image as one plain
 * stream of bytes, for a healthy source when nothing needs resuming; the receiver needs
 * nothing but a listener (`nc -l PORT > disk.img`, socat).
 *
 * A stream has no positions: the source's bytes must arrive strictly in order from byte 0,
 * with no gap. The first write anywhere else (a read error made imaging skip ahead, or
 * --input-position) stops the run with a refusal that says so, and so does a dropped
 * connection: a stream cannot be resumed, the receiver's half-written file cannot be told
 * where to continue. Both are permanent failures (no reconnect), and the message points
 * to ssh:// and nbd://, which write at positions and resume.
 *
 * The map goes to RAM only, RESCUE_TCP_MAP_DIR/NAME.map (/run/rescue/tcp), so the
 * appliance can show how far the stream got; it is never read back: every run sends the
 * stream from byte 0 again, to a new connection.
 *
 * flush has nothing in flight to wait for (a write returns once the kernel took the
 * bytes). Once the whole image is sent (store.expected_size bytes, when the caller gave
 * it), flush half-closes the connection and waits for the receiver to close its side,
 * so the run ends only when the receiver has read every byte.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/err.h"
#include "target/store.h"
#include "target/target_ops.h"

#define RESCUE_TCP_MAP_DIR "/run/rescue/tcp"
#define RESCUE_TCP_MAP_DIR_ENV "RESCUE_TCP_MAP_DIR"

enum { STALL = 60, CONNECT_TIMEOUT = 10 };

struct tcp_backend {
	int fd;
	int connections;	/* a second one means the first broke */
	uint64_t sent;		/* bytes of the stream so far */
	int finished;		/* half-closed, the receiver has everything */
};

static struct tcp_backend *backend(struct store *store)
{
	return store->backend;
}

static const char *map_dir(void)
{
	const char *dir = getenv(RESCUE_TCP_MAP_DIR_ENV);

	return dir && dir[0] ? dir : RESCUE_TCP_MAP_DIR;
}

/* A lost stream cannot be resumed: permanent, whatever the cause. */
static int broken(struct store *store, const char *why)
{
	return store_fail_permanent(store, "the stream broke after %" PRIu64 " bytes (%s); a "
	    "tcp:// stream cannot be resumed: run the same command again to send it from the "
	    "start, or image to ssh:// or nbd://, which resume after a lost connection",
	    backend(store)->sent, why);
}

static int tcp_connect(struct store *store)
{
	struct tcp_backend *state;
	char why[512];

	if (!store->backend) {
		if (!(store->backend = calloc(1, sizeof(struct tcp_backend))))
			return store_fail_permanent(store, "out of memory");
		backend(store)->fd = -1;
	}
	state = backend(store);
	if (state->connections++ > 0)
		return broken(store, "connection lost");
	state->fd = target_tcp_connect(store->target.host, target_port(&store->target),
	    CONNECT_TIMEOUT, why, sizeof why);
	if (state->fd < 0)
		return store_fail_transient(store, "unable to connect: %s", why);
	return 0;
}

static void tcp_disconnect(struct store *store)
{
	struct tcp_backend *state = backend(store);

	if (!state || state->fd < 0)
		return;
	shutdown(state->fd, SHUT_WR);
	close(state->fd);
	state->fd = -1;
}

static void tcp_release(struct store *store)
{
	free(store->backend);
	store->backend = NULL;
}

static int tcp_image_open(struct store *store, uint64_t *size)
{
	*size = backend(store)->sent;
	return 0;
}

static int wait_writable(int fd)
{
	struct pollfd poller = { fd, POLLOUT, 0 };
	int rc;

	do
		rc = poll(&poller, 1, STALL * 1000);
	while (rc < 0 && errno == EINTR);
	if (rc == 0)
		errno = ETIMEDOUT;
	return rc > 0 ? 0 : -1;
}

static int tcp_pwrite(struct store *store, const void *data, size_t size, uint64_t position)
{
	struct tcp_backend *state = backend(store);
	const unsigned char *bytes = data;
	ssize_t done;

	if (state->fd < 0 || state->finished)
		return broken(store, "not connected");
	if (position != state->sent)
		return store_fail_permanent(store, "a tcp:// stream takes the source's bytes in order "
		    "only, but the next write is at byte %" PRIu64 " after %" PRIu64 " bytes sent "
		    "(%s); image this source to ssh:// or nbd://, which take writes at any position "
		    "and resume", position, state->sent, position > state->sent
		    ? "a read error made imaging skip ahead, or --input-position" : "going back");
	while (size) {
		if (wait_writable(state->fd) != 0)
			return broken(store, err_text(errno));
		done = send(state->fd, bytes, size, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (done < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (done < 0)
			return broken(store, err_text(errno));
		bytes += done, size -= (size_t)done, state->sent += (uint64_t)done;
	}
	return 0;
}

/* The receiver closes its side once it read everything we half-closed after. */
static int wait_receiver(struct store *store)
{
	struct tcp_backend *state = backend(store);
	struct pollfd poller = { state->fd, POLLIN, 0 };
	char discard[512];
	ssize_t got;

	if (shutdown(state->fd, SHUT_WR) != 0)
		return broken(store, err_text(errno));
	for (;;) {
		int rc = poll(&poller, 1, STALL * 1000);

		if (rc < 0 && errno == EINTR)
			continue;
		if (rc <= 0)
			return broken(store, rc == 0 ? "the receiver did not close the connection "
			    "after the last byte" : err_text(errno));
		got = recv(state->fd, discard, sizeof discard, 0);
		if (got == 0)
			break;
		if (got < 0 && errno != EINTR)
			return broken(store, err_text(errno));
	}
	state->finished = 1;
	return 0;
}

static int tcp_flush(struct store *store)
{
	struct tcp_backend *state = backend(store);

	if (state->finished)
		return 0;
	if (state->fd < 0)
		return broken(store, "not connected");
	if (store->expected_size && state->sent == store->expected_size)
		return wait_receiver(store);
	return 0;
}

static ssize_t tcp_pread(struct store *store, void *data, size_t size, uint64_t position)
{
	(void)data, (void)size, (void)position;
	return store_fail_permanent(store, "a tcp:// stream cannot be read back");
}

/* Every run starts the stream from byte 0: no map is ever found. */
static int tcp_get(struct store *store, const char *name, char **data, size_t *size)
{
	(void)store, (void)name, (void)data, (void)size;
	return 1;
}

/* NAME in RAM, written to NAME.tmp and renamed, the old one kept as NAME.bak. */
static int tcp_replace(struct store *store, const char *name, const void *data, size_t size)
{
	char path[PATH_MAX], temporary[PATH_MAX + 8], backup[PATH_MAX + 8];
	const char *dir = map_dir();
	int fd;

	if (mkdir(dir, 0700) != 0 && errno != EEXIST)
		return store_fail_permanent(store, "unable to create %s for the map: %s", dir,
		    err_text(errno));
	snprintf(path, sizeof path, "%s/%s", dir, name);
	snprintf(temporary, sizeof temporary, "%s.tmp", path);
	snprintf(backup, sizeof backup, "%s.bak", path);
	fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return store_fail_permanent(store, "unable to write %s: %s", temporary,
		    err_text(errno));
	if (write(fd, data, size) != (ssize_t)size) {
		close(fd);
		return store_fail_permanent(store, "unable to write %s: %s", temporary,
		    err_text(errno));
	}
	close(fd);
	if (link(path, backup) != 0 && errno == EEXIST && unlink(backup) == 0)
		link(path, backup);
	if (rename(temporary, path) != 0)
		return store_fail_permanent(store, "unable to rename %s: %s", temporary,
		    err_text(errno));
	return 0;
}

const struct store_ops store_ops_tcp = {
	.scheme = "tcp",
	.connect = tcp_connect,
	.disconnect = tcp_disconnect,
	.image_open = tcp_image_open,
	.pwrite = tcp_pwrite,
	.pread = tcp_pread,
	.flush = tcp_flush,
	.get = tcp_get,
	.replace = tcp_replace,
	.release = tcp_release,
};
