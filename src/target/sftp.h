/* sftp.h: an SFTP version 3 client (draft-ietf-secsh-filexfer-02, the version OpenSSH's
 * sftp-server speaks) over one stream socket: in rescue the stdin and stdout of
 * `dbclient -s HOST sftp`, in the unit tests a local sftp-server.
 *
 * Requests are pipelined: sftp_send_* queue a request and return its id at once, and
 * sftp_wait() moves bytes both ways until the reply to one id is there, handing every
 * other reply to the callback given to sftp_start (the store uses it for write
 * acknowledgements). Nothing here blocks for long: a server that sends nothing for
 * STALL seconds while a reply is awaited counts as a lost connection.
 *
 * A failure of the transport (the peer gone, a malformed packet, a stall) makes the
 * connection broken: every later call fails at once with the same message.
 */
#ifndef RESCUE_SFTP_H
#define RESCUE_SFTP_H

#include <stddef.h>
#include <stdint.h>

enum sftp_status {
	SFTP_OK = 0, SFTP_EOF = 1, SFTP_NO_SUCH_FILE = 2, SFTP_PERMISSION_DENIED = 3,
	SFTP_FAILURE = 4, SFTP_BAD_MESSAGE = 5, SFTP_NO_CONNECTION = 6,
	SFTP_CONNECTION_LOST = 7, SFTP_OP_UNSUPPORTED = 8,
};

enum sftp_open_flags {
	SFTP_READ = 1, SFTP_WRITE = 2, SFTP_APPEND = 4, SFTP_CREAT = 8, SFTP_TRUNC = 16,
	SFTP_EXCL = 32,
};

/* The packet types of replies (SSH_FXP_STATUS ... SSH_FXP_EXTENDED_REPLY in the draft). */
enum sftp_reply_type {
	SFTP_REPLY_STATUS = 101, SFTP_REPLY_HANDLE = 102, SFTP_REPLY_DATA = 103,
	SFTP_REPLY_ATTRS = 105, SFTP_REPLY_EXTENDED = 201,
};

/* A reply as it came: TYPE is the packet type (enum sftp_reply_type); for a status, STATUS
 * and MESSAGE are filled. DATA points into the connection's buffer: valid until the next
 * call. */
struct sftp_reply {
	uint8_t type;
	uint32_t id;
	uint32_t status;
	char message[256];
	const unsigned char *data;	/* the payload after the id */
	size_t size;
};

struct sftp_attributes {
	int has_size, has_permissions;
	uint64_t size;
	uint32_t permissions;	/* st_mode bits */
};

struct sftp_statvfs {
	uint64_t fragment_size, blocks, blocks_free, blocks_available;
};

struct sftp;
typedef void (*sftp_reply_handler)(void *context, const struct sftp_reply *reply);

/* Sends INIT over FD (which the connection now owns) and reads the server's VERSION and
 * extensions, waiting SFTP_GREETING_SECONDS at most (STALL when shorter). NULL with WHY on
 * failure. OTHER receives replies no sftp_wait asked for. */
enum { SFTP_GREETING_SECONDS = 10 };
struct sftp *sftp_start(int fd, int stall_seconds, sftp_reply_handler other, void *context,
    char *why, size_t why_size);
void sftp_free(struct sftp *sftp);

int sftp_broken(const struct sftp *sftp);
const char *sftp_error(const struct sftp *sftp);	/* why it broke */
int sftp_has_extension(const struct sftp *sftp, const char *name);	/* "fsync@openssh.com" */

/* Queue a request; return its id (0 when the connection is broken). */
uint32_t sftp_send_open(struct sftp *sftp, const char *path, uint32_t flags);
uint32_t sftp_send_close(struct sftp *sftp, const char *handle, size_t handle_size);
uint32_t sftp_send_write(struct sftp *sftp, const char *handle, size_t handle_size,
    uint64_t offset, const void *data, size_t size);
/* The same without a copy: DATA must stay as it is until the request is sent (until its
 * reply arrives, or the connection is freed). */
uint32_t sftp_send_write_ref(struct sftp *sftp, const char *handle, size_t handle_size,
    uint64_t offset, const void *data, size_t size);
uint32_t sftp_send_read(struct sftp *sftp, const char *handle, size_t handle_size,
    uint64_t offset, uint32_t size);
uint32_t sftp_send_stat(struct sftp *sftp, const char *path);
uint32_t sftp_send_fstat(struct sftp *sftp, const char *handle, size_t handle_size);
uint32_t sftp_send_remove(struct sftp *sftp, const char *path);
uint32_t sftp_send_mkdir(struct sftp *sftp, const char *path);	/* rwxr-xr-x */
/* posix-rename@openssh.com when offered (replaces NEW), else SFTP's own rename. */
uint32_t sftp_send_rename(struct sftp *sftp, const char *old_path, const char *new_path);
uint32_t sftp_send_hardlink(struct sftp *sftp, const char *old_path, const char *new_path);
uint32_t sftp_send_fsync(struct sftp *sftp, const char *handle, size_t handle_size);
uint32_t sftp_send_statvfs(struct sftp *sftp, const char *path);

/* Moves bytes until the reply to ID is there: 0 with REPLY, or -1 when the connection
 * broke. ID 0 waits until everything queued is sent and nothing is awaited any more. */
int sftp_wait(struct sftp *sftp, uint32_t id, struct sftp_reply *reply);
/* Moves whatever can move without waiting (replies go to the handler); -1 when broken. */
int sftp_poll(struct sftp *sftp);
size_t sftp_queued(const struct sftp *sftp);	/* bytes queued, not yet sent */

/* Reply decoding: 0, or -1 when the reply is not of that kind (a status instead). */
int sftp_reply_handle(const struct sftp_reply *reply, char *handle, size_t *handle_size);
int sftp_reply_attributes(const struct sftp_reply *reply, struct sftp_attributes *attributes);
int sftp_reply_data(const struct sftp_reply *reply, const unsigned char **data, size_t *size);
int sftp_reply_statvfs(const struct sftp_reply *reply, struct sftp_statvfs *statvfs);

/* "No such file" or the server's own message for a status reply. */
const char *sftp_status_text(const struct sftp_reply *reply);

/* OpenSSH's sftp-server takes requests of up to 256 KiB and answers reads of up to about as
 * much: 128 KiB per request halves the replies (each its own SSH packet) of 64 KiB. */
enum { SFTP_HANDLE_MAX = 256, SFTP_WRITE_MAX = 128 * 1024 };

#endif
