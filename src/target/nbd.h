/* nbd.h: a small client of the Network Block Device protocol (the NBD project's
 * doc/proto.md), enough to write an image into an export of qemu-nbd or nbd-server:
 *
 *   - the fixed newstyle handshake, NBD_OPT_GO for the export by name ("" = the server's
 *     default export), falling back to NBD_OPT_EXPORT_NAME for servers without GO;
 *   - simple replies only (no structured replies): READ, WRITE, FLUSH, DISC, each request
 *     carrying a handle that its reply names, so requests can be pipelined.
 *
 * The caller owns the socket's pacing: nbd_send writes one whole request (blocking), and
 * nbd_receive reads one reply header; a READ's data follows and is read with nbd_data.
 * Every wait is bounded by the STALL seconds given to nbd_open: a server that says nothing
 * for that long counts as gone. After any -1 from a transmission call the connection is
 * broken (nbd_broken) and only nbd_close is left.
 */
#ifndef RESCUE_NBD_H
#define RESCUE_NBD_H

#include <stddef.h>
#include <stdint.h>

enum nbd_command { NBD_CMD_READ = 0, NBD_CMD_WRITE = 1, NBD_CMD_DISC = 2, NBD_CMD_FLUSH = 3 };

enum {
	NBD_FLAG_HAS_FLAGS = 1 << 0,
	NBD_FLAG_READ_ONLY = 1 << 1,
	NBD_FLAG_SEND_FLUSH = 1 << 2,
	NBD_REQUEST_MAX = 1 << 20,	/* bytes per request we send (servers take >= 32 MiB) */
};

struct nbd;

struct nbd_reply {
	uint32_t error;		/* 0, or an errno value as the protocol defines them */
	uint64_t handle;
};

/* The handshake on FD (connected; taken over, closed by nbd_close even on failure).
 * NULL with WHY on failure; *TRANSIENT says whether it may pass (the connection dropped)
 * or not (no such export, the server refused the options). */
struct nbd *nbd_open(int fd, const char *export_name, int stall_seconds, char *why,
    size_t why_size, int *transient);

uint64_t nbd_size(const struct nbd *nbd);
uint16_t nbd_flags(const struct nbd *nbd);

/* One request; DATA (LENGTH bytes) only for WRITE. 0, or -1 when the connection broke. */
int nbd_send(struct nbd *nbd, enum nbd_command type, uint64_t handle, uint64_t offset,
    uint32_t length, const void *data);

/* 1 when a reply can be read without waiting, 0 when not, -1 when the connection broke. */
int nbd_ready(struct nbd *nbd);

/* The next reply's header (waiting up to STALL seconds); 0 or -1 (broken). */
int nbd_receive(struct nbd *nbd, struct nbd_reply *reply);

/* The LENGTH bytes of data that follow a successful READ's reply; 0 or -1 (broken). */
int nbd_data(struct nbd *nbd, void *data, size_t length);

int nbd_broken(const struct nbd *nbd);
const char *nbd_error(const struct nbd *nbd);	/* why it broke */

/* Says goodbye (NBD_CMD_DISC) when the connection still works, then closes. */
void nbd_close(struct nbd *nbd);

#endif
