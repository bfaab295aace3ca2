/* nbd.c: the NBD client of nbd.h: handshake, then requests and simple replies. */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/err.h"
#include "target/nbd.h"

#define NBD_MAGIC 0x4e42444d41474943ULL		/* "NBDMAGIC" */
#define NBD_IHAVEOPT 0x49484156454F5054ULL	/* "IHAVEOPT" */
#define NBD_OLDSTYLE 0x0000420281861253ULL
#define NBD_REPLY_MAGIC 0x0003e889045565a9ULL
#define NBD_REQUEST_MAGIC 0x25609513U
#define NBD_SIMPLE_REPLY_MAGIC 0x67446698U

enum {
	FLAG_FIXED_NEWSTYLE = 1, FLAG_NO_ZEROES = 2,
	OPT_EXPORT_NAME = 1, OPT_GO = 7,
	REP_ACK = 1, REP_INFO = 3, INFO_EXPORT = 0,
	REP_ERR_UNSUP = 0x80000001U, REP_ERR_POLICY = 0x80000002U,
	REP_ERR_UNKNOWN = 0x80000006U, REP_ERR_SHUTDOWN = 0x80000007U,
};

struct nbd {
	int fd;
	int stall;		/* seconds */
	int broken;
	int no_zeroes;
	uint64_t size;
	uint16_t flags;
	char error[256];
};

/* ---------------------------------------------------------------- bytes */

static void put16(unsigned char *p, uint16_t v) { p[0] = v >> 8; p[1] = v & 0xff; }

static void put32(unsigned char *p, uint32_t v)
{
	put16(p, v >> 16);
	put16(p + 2, v & 0xffff);
}

static void put64(unsigned char *p, uint64_t v)
{
	put32(p, v >> 32);
	put32(p + 4, v & 0xffffffffU);
}

static uint16_t get16(const unsigned char *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static uint32_t get32(const unsigned char *p) { return (uint32_t)get16(p) << 16 | get16(p + 2); }
static uint64_t get64(const unsigned char *p) { return (uint64_t)get32(p) << 32 | get32(p + 4); }

static int broke(struct nbd *nbd, const char *what)
{
	if (!nbd->broken)
		snprintf(nbd->error, sizeof nbd->error, "%s", what);
	nbd->broken = 1;
	return -1;
}

/* Waits until FD is ready for EVENTS, at most STALL seconds. */
static int wait_for(struct nbd *nbd, short events)
{
	struct pollfd poller = { nbd->fd, events, 0 };
	int rc;

	do
		rc = poll(&poller, 1, nbd->stall * 1000);
	while (rc < 0 && errno == EINTR);
	if (rc == 0)
		return broke(nbd, "the server did not answer for too long");
	if (rc < 0)
		return broke(nbd, err_text(errno));
	return 0;
}

static int write_all(struct nbd *nbd, const void *data, size_t size)
{
	const unsigned char *bytes = data;
	ssize_t done;

	while (size) {
		if (wait_for(nbd, POLLOUT) != 0)
			return -1;
		done = send(nbd->fd, bytes, size, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (done < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (done < 0) {
			char why[160];

			snprintf(why, sizeof why, "the connection broke: %s", err_text(errno));
			return broke(nbd, why);
		}
		bytes += done, size -= (size_t)done;
	}
	return 0;
}

static int read_all(struct nbd *nbd, void *data, size_t size)
{
	unsigned char *bytes = data;
	ssize_t done;

	while (size) {
		if (wait_for(nbd, POLLIN) != 0)
			return -1;
		done = recv(nbd->fd, bytes, size, MSG_DONTWAIT);
		if (done < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (done == 0)
			return broke(nbd, "the server closed the connection");
		if (done < 0) {
			char why[160];

			snprintf(why, sizeof why, "the connection broke: %s", err_text(errno));
			return broke(nbd, why);
		}
		bytes += done, size -= (size_t)done;
	}
	return 0;
}

/* ---------------------------------------------------------------- handshake */

static int send_option(struct nbd *nbd, uint32_t option, const void *data, uint32_t length)
{
	unsigned char header[16];

	put64(header, NBD_IHAVEOPT);
	put32(header + 8, option);
	put32(header + 12, length);
	if (write_all(nbd, header, sizeof header) != 0)
		return -1;
	return length ? write_all(nbd, data, length) : 0;
}

struct option_reply {
	uint32_t type;
	uint32_t length;
	unsigned char data[1024];	/* the first bytes; the rest is skipped */
};

static int read_option_reply(struct nbd *nbd, uint32_t option, struct option_reply *reply)
{
	unsigned char header[20], skip[256];
	uint32_t left;

	if (read_all(nbd, header, sizeof header) != 0)
		return -1;
	if (get64(header) != NBD_REPLY_MAGIC || get32(header + 8) != option)
		return broke(nbd, "the server's option reply makes no sense (not an NBD server?)");
	reply->type = get32(header + 12);
	reply->length = get32(header + 16);
	left = reply->length;
	if (read_all(nbd, reply->data, left < sizeof reply->data ? left : sizeof reply->data) != 0)
		return -1;
	for (left -= left < sizeof reply->data ? left : sizeof reply->data; left; ) {
		uint32_t chunk = left < sizeof skip ? left : sizeof skip;

		if (read_all(nbd, skip, chunk) != 0)
			return -1;
		left -= chunk;
	}
	return 0;
}

/* The message an error reply may carry, for the user. */
static const char *reply_text(struct option_reply *reply)
{
	size_t length = reply->length < sizeof reply->data ? reply->length : sizeof reply->data - 1;

	reply->data[length] = '\0';
	return (const char *)reply->data;
}

/* 1 when the server does not know GO (the caller falls back), 0 when the export is open,
 * -1 with WHY. */
static int option_go(struct nbd *nbd, const char *name, char *why, size_t why_size,
    int *transient)
{
	size_t name_length = strlen(name);
	unsigned char *data = malloc(name_length + 6);
	struct option_reply reply;
	int rc, have_info = 0;

	if (!data)
		return snprintf(why, why_size, "out of memory"), -1;
	put32(data, (uint32_t)name_length);
	memcpy(data + 4, name, name_length);
	put16(data + 4 + name_length, 0);	/* no information requests */
	rc = send_option(nbd, OPT_GO, data, (uint32_t)(name_length + 6));
	free(data);
	while (rc == 0 && read_option_reply(nbd, OPT_GO, &reply) == 0) {
		if (reply.type == REP_INFO && reply.length >= 12 && get16(reply.data) == INFO_EXPORT) {
			nbd->size = get64(reply.data + 2);
			nbd->flags = get16(reply.data + 10);
			have_info = 1;
		} else if (reply.type == REP_ACK) {
			if (have_info)
				return 0;
			snprintf(why, why_size, "the server did not say the export's size");
			return -1;
		} else if (reply.type == REP_ERR_UNSUP) {
			return 1;
		} else if (reply.type == REP_ERR_UNKNOWN) {
			snprintf(why, why_size, "no export named '%s' on the server%s%s", name,
			    reply.length ? ": " : "", reply_text(&reply));
			return -1;
		} else if (reply.type & 0x80000000U) {
			*transient = reply.type == REP_ERR_SHUTDOWN;
			snprintf(why, why_size, "the server refused the export '%s' (NBD error %#x)%s%s",
			    name, reply.type, reply.length ? ": " : "", reply_text(&reply));
			return -1;
		}
	}
	*transient = 1;
	snprintf(why, why_size, "%s", nbd->error);
	return -1;
}

/* The old way: no error reply, a server that does not know the name hangs up. */
static int option_export_name(struct nbd *nbd, const char *name, char *why, size_t why_size,
    int *transient)
{
	unsigned char reply[10 + 124];

	if (send_option(nbd, OPT_EXPORT_NAME, name, (uint32_t)strlen(name)) != 0
	    || read_all(nbd, reply, nbd->no_zeroes ? 10 : sizeof reply) != 0) {
		snprintf(why, why_size, "the server closed the connection when asked for the export "
		    "'%s' (no such export?)", name);
		*transient = 0;
		return -1;
	}
	nbd->size = get64(reply);
	nbd->flags = get16(reply + 8);
	return 0;
}

static int greeting(struct nbd *nbd, char *why, size_t why_size, int *transient)
{
	unsigned char hello[18], client[4];
	uint16_t flags;

	if (read_all(nbd, hello, 16) != 0) {
		*transient = 1;
		return snprintf(why, why_size, "no NBD greeting: %s", nbd->error), -1;
	}
	if (get64(hello) != NBD_MAGIC)
		return snprintf(why, why_size, "not an NBD server (no NBDMAGIC)"), -1;
	if (get64(hello + 8) == NBD_OLDSTYLE)
		return snprintf(why, why_size, "the server speaks the old-style NBD handshake only "
		    "(start it with named exports: qemu-nbd or nbd-server 3.x)"), -1;
	if (get64(hello + 8) != NBD_IHAVEOPT || read_all(nbd, hello + 16, 2) != 0)
		return snprintf(why, why_size, "not a newstyle NBD server"), -1;
	flags = get16(hello + 16);
	if (!(flags & FLAG_FIXED_NEWSTYLE))
		return snprintf(why, why_size, "the server lacks the fixed newstyle handshake"), -1;
	nbd->no_zeroes = (flags & FLAG_NO_ZEROES) != 0;
	put32(client, FLAG_FIXED_NEWSTYLE | (nbd->no_zeroes ? FLAG_NO_ZEROES : 0));
	if (write_all(nbd, client, sizeof client) != 0) {
		*transient = 1;
		return snprintf(why, why_size, "%s", nbd->error), -1;
	}
	return 0;
}

struct nbd *nbd_open(int fd, const char *export_name, int stall_seconds, char *why,
    size_t why_size, int *transient)
{
	struct nbd *nbd = calloc(1, sizeof *nbd);
	int rc;

	*transient = 0;
	if (!nbd) {
		close(fd);
		snprintf(why, why_size, "out of memory");
		return NULL;
	}
	nbd->fd = fd;
	nbd->stall = stall_seconds;
	if (greeting(nbd, why, why_size, transient) != 0)
		goto fail;
	rc = option_go(nbd, export_name, why, why_size, transient);
	if (rc == 1)
		rc = option_export_name(nbd, export_name, why, why_size, transient);
	if (rc != 0)
		goto fail;
	return nbd;
fail:
	close(nbd->fd);
	free(nbd);
	return NULL;
}

uint64_t nbd_size(const struct nbd *nbd)
{
	return nbd->size;
}

uint16_t nbd_flags(const struct nbd *nbd)
{
	return nbd->flags;
}

/* ---------------------------------------------------------------- transmission */

int nbd_send(struct nbd *nbd, enum nbd_command type, uint64_t handle, uint64_t offset,
    uint32_t length, const void *data)
{
	unsigned char header[28];

	if (nbd->broken)
		return -1;
	put32(header, NBD_REQUEST_MAGIC);
	put16(header + 4, 0);
	put16(header + 6, (uint16_t)type);
	put64(header + 8, handle);
	put64(header + 16, offset);
	put32(header + 24, length);
	if (write_all(nbd, header, sizeof header) != 0)
		return -1;
	return type == NBD_CMD_WRITE ? write_all(nbd, data, length) : 0;
}

int nbd_ready(struct nbd *nbd)
{
	struct pollfd poller = { nbd->fd, POLLIN, 0 };

	if (nbd->broken)
		return -1;
	if (poll(&poller, 1, 0) < 0)
		return errno == EINTR ? 0 : broke(nbd, err_text(errno));
	return (poller.revents & (POLLIN | POLLHUP | POLLERR)) != 0;
}

int nbd_receive(struct nbd *nbd, struct nbd_reply *reply)
{
	unsigned char header[16];

	if (nbd->broken || read_all(nbd, header, sizeof header) != 0)
		return -1;
	if (get32(header) != NBD_SIMPLE_REPLY_MAGIC)
		return broke(nbd, "the server's reply makes no sense (bad magic)");
	reply->error = get32(header + 4);
	reply->handle = get64(header + 8);
	return 0;
}

int nbd_data(struct nbd *nbd, void *data, size_t length)
{
	return nbd->broken ? -1 : read_all(nbd, data, length);
}

int nbd_broken(const struct nbd *nbd)
{
	return nbd->broken;
}

const char *nbd_error(const struct nbd *nbd)
{
	return nbd->error;
}

void nbd_close(struct nbd *nbd)
{
	if (!nbd)
		return;
	if (!nbd->broken) {
		nbd->stall = 2;	/* a goodbye is not worth waiting long for */
		nbd_send(nbd, NBD_CMD_DISC, 0, 0, 0, NULL);
	}
	close(nbd->fd);
	free(nbd);
}
