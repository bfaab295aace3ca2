/* sftp.c: the SFTP version 3 client of sftp.h. */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "base/err.h"
#include "target/sftp.h"

enum {
	FXP_INIT = 1, FXP_VERSION = 2, FXP_OPEN = 3, FXP_CLOSE = 4, FXP_READ = 5, FXP_WRITE = 6,
	FXP_FSTAT = 8, FXP_REMOVE = 13, FXP_MKDIR = 14, FXP_STAT = 17, FXP_RENAME = 18,
	FXP_STATUS = SFTP_REPLY_STATUS, FXP_HANDLE = SFTP_REPLY_HANDLE, FXP_DATA = SFTP_REPLY_DATA,
	FXP_ATTRS = SFTP_REPLY_ATTRS, FXP_EXTENDED = 200, FXP_EXTENDED_REPLY = SFTP_REPLY_EXTENDED,
};

enum { ATTR_SIZE = 1, ATTR_UIDGID = 2, ATTR_PERMISSIONS = 4, ATTR_ACMODTIME = 8 };

/* OpenSSH's sftp-server takes packets up to 256 KiB; a reply larger than this is bogus. */
enum { PACKET_MAX = 512 * 1024, EXTENSIONS_MAX = 16, IOV_BATCH = 64 };

/* Bytes [start, length) are the content: consuming moves START, and the content moves
 * down only once START passes half of it, so a long queue is not copied at every send. */
struct buffer {
	unsigned char *bytes;
	size_t start, length, capacity;
};

/* One request waiting to be sent: its own bytes, then (for a write) a payload the caller
 * keeps alive until the request is sent (sftp_send_write_ref) or that is copied. */
struct segment {
	unsigned char *owned;
	size_t owned_length;
	const unsigned char *payload;
	size_t payload_length;
	unsigned char *payload_copy;	/* set when the payload was copied */
	size_t sent;
};

struct sftp {
	int fd;
	int stall_seconds;
	sftp_reply_handler other;
	void *context;
	struct buffer build;		/* the request being put together */
	struct segment *queue;		/* queued, not yet sent: [head, head + count) */
	size_t head, count, capacity;
	size_t queued;			/* bytes in the queue */
	struct buffer in;		/* received, not yet parsed */
	struct buffer held;		/* the awaited reply's packet, for the caller */
	uint32_t next_id;
	size_t outstanding;		/* requests without their reply yet */
	int broken;
	char error[512];
	char extensions[EXTENSIONS_MAX][64];
	int extension_count;
};

/* ---------------------------------------------------------------- buffers */

static int reserve(struct buffer *buffer, size_t more)
{
	unsigned char *bigger;
	size_t capacity = buffer->capacity ? buffer->capacity : 4096;

	if (buffer->length + more <= buffer->capacity)
		return 0;
	while (capacity < buffer->length + more)
		capacity *= 2;
	bigger = realloc(buffer->bytes, capacity);
	if (!bigger)
		return -1;
	buffer->bytes = bigger;
	buffer->capacity = capacity;
	return 0;
}

static unsigned char *content(const struct buffer *buffer)
{
	return buffer->bytes + buffer->start;
}

static size_t used(const struct buffer *buffer)
{
	return buffer->length - buffer->start;
}

static void consume(struct buffer *buffer, size_t count)
{
	buffer->start += count;
	if (buffer->start == buffer->length) {
		buffer->start = buffer->length = 0;
	} else if (buffer->start >= 65536 && buffer->start * 2 >= buffer->length) {
		memmove(buffer->bytes, content(buffer), used(buffer));
		buffer->length -= buffer->start;
		buffer->start = 0;
	}
}

static void put_u32(unsigned char *at, uint32_t value)
{
	at[0] = value >> 24, at[1] = value >> 16, at[2] = value >> 8, at[3] = value;
}

static uint32_t get_u32(const unsigned char *at)
{
	return (uint32_t)at[0] << 24 | (uint32_t)at[1] << 16 | (uint32_t)at[2] << 8 | at[3];
}

/* A reader over a reply's payload; a short payload sets FAILED instead of overrunning. */
struct reader {
	const unsigned char *at;
	size_t left;
	int failed;
};

static uint32_t read_u32(struct reader *reader)
{
	uint32_t value;

	if (reader->left < 4) {
		reader->failed = 1;
		return 0;
	}
	value = get_u32(reader->at);
	reader->at += 4, reader->left -= 4;
	return value;
}

static uint64_t read_u64(struct reader *reader)
{
	uint64_t high = read_u32(reader);

	return high << 32 | read_u32(reader);
}

static const unsigned char *read_string(struct reader *reader, size_t *size)
{
	const unsigned char *start;
	uint32_t length = read_u32(reader);

	if (reader->failed || length > reader->left) {
		reader->failed = 1;
		*size = 0;
		return NULL;
	}
	start = reader->at;
	reader->at += length, reader->left -= length;
	*size = length;
	return start;
}

/* ---------------------------------------------------------------- failure */

static int breaks(struct sftp *sftp, const char *format, const char *detail)
{
	if (!sftp->broken) {
		snprintf(sftp->error, sizeof sftp->error, format, detail);
		sftp->broken = 1;
	}
	return -1;
}

int sftp_broken(const struct sftp *sftp)
{
	return sftp->broken;
}

const char *sftp_error(const struct sftp *sftp)
{
	return sftp->error;
}

/* ---------------------------------------------------------------- packets out */

/* A request is put together in BUILD, its length patched at the end, then queued. */
struct packet {
	struct sftp *sftp;
	int failed;
};

static void packet_bytes(struct packet *packet, const void *bytes, size_t size)
{
	struct buffer *out = &packet->sftp->build;

	if (packet->failed || reserve(out, size) != 0) {
		packet->failed = 1;
		return;
	}
	memcpy(out->bytes + out->length, bytes, size);
	out->length += size;
}

static void packet_u32(struct packet *packet, uint32_t value)
{
	unsigned char bytes[4];

	put_u32(bytes, value);
	packet_bytes(packet, bytes, 4);
}

static void packet_u64(struct packet *packet, uint64_t value)
{
	packet_u32(packet, (uint32_t)(value >> 32));
	packet_u32(packet, (uint32_t)value);
}

static void packet_string(struct packet *packet, const void *bytes, size_t size)
{
	packet_u32(packet, (uint32_t)size);
	packet_bytes(packet, bytes, size);
}

static void packet_text(struct packet *packet, const char *text)
{
	packet_string(packet, text, strlen(text));
}

/* Starts a request of TYPE with a fresh id (none for INIT). */
static uint32_t packet_begin(struct packet *packet, struct sftp *sftp, uint8_t type)
{
	uint32_t id = 0;

	packet->sftp = sftp;
	sftp->build.length = 0;
	packet->failed = sftp->broken;
	packet_u32(packet, 0);
	packet_bytes(packet, &type, 1);
	if (type != FXP_INIT) {
		id = ++sftp->next_id ? sftp->next_id : ++sftp->next_id;
		packet_u32(packet, id);
	}
	return id;
}

/* Queues the request, followed by PAYLOAD (not copied when BORROWED). */
static uint32_t packet_queue(struct packet *packet, uint32_t id, const void *payload,
    size_t payload_length, int borrowed)
{
	struct sftp *sftp = packet->sftp;
	struct segment *segment;

	if (!packet->failed && sftp->head + sftp->count == sftp->capacity) {
		if (sftp->head > 0) {
			memmove(sftp->queue, sftp->queue + sftp->head, sftp->count * sizeof *segment);
			sftp->head = 0;
		} else {
			size_t capacity = sftp->capacity ? sftp->capacity * 2 : 64;
			struct segment *bigger = realloc(sftp->queue, capacity * sizeof *bigger);

			if (!bigger)
				packet->failed = 1;
			else
				sftp->queue = bigger, sftp->capacity = capacity;
		}
	}
	if (packet->failed) {
		breaks(sftp, "%s", "out of memory for a request");
		return 0;
	}
	segment = &sftp->queue[sftp->head + sftp->count];
	memset(segment, 0, sizeof *segment);
	segment->owned = malloc(sftp->build.length);
	if (payload_length && !borrowed) {
		segment->payload_copy = malloc(payload_length);
		if (segment->payload_copy)
			memcpy(segment->payload_copy, payload, payload_length);
		payload = segment->payload_copy;
	}
	if (!segment->owned || (payload_length && !payload)) {
		free(segment->owned);
		free(segment->payload_copy);
		breaks(sftp, "%s", "out of memory for a request");
		return 0;
	}
	put_u32(sftp->build.bytes, (uint32_t)(sftp->build.length - 4 + payload_length));
	memcpy(segment->owned, sftp->build.bytes, sftp->build.length);
	segment->owned_length = sftp->build.length;
	segment->payload = payload;
	segment->payload_length = payload_length;
	sftp->count++;
	sftp->queued += segment->owned_length + payload_length;
	sftp->outstanding++;
	return id ? id : 1;
}

static uint32_t packet_end(struct packet *packet, uint32_t id)
{
	return packet_queue(packet, id, NULL, 0, 0);
}

/* ---------------------------------------------------------------- moving bytes */

static void segment_free(struct segment *segment)
{
	free(segment->owned);
	free(segment->payload_copy);
}

/* One sendmsg over the first queued requests; payloads go out from where they are. */
static int send_some(struct sftp *sftp)
{
	struct iovec vectors[IOV_BATCH];
	struct msghdr message = { .msg_iov = vectors };
	struct segment *segment;
	size_t i, skip, left;
	ssize_t sent;

	for (i = 0; i < sftp->count && message.msg_iovlen + 2 <= IOV_BATCH; i++) {
		segment = &sftp->queue[sftp->head + i];
		skip = segment->sent;
		if (skip < segment->owned_length) {
			vectors[message.msg_iovlen++] = (struct iovec){ segment->owned + skip,
			    segment->owned_length - skip };
			skip = 0;
		} else {
			skip -= segment->owned_length;
		}
		if (segment->payload_length > skip)
			vectors[message.msg_iovlen++] = (struct iovec){
			    (void *)(segment->payload + skip), segment->payload_length - skip };
	}
	sent = sendmsg(sftp->fd, &message, MSG_NOSIGNAL | MSG_DONTWAIT);
	if (sent < 0)
		return errno == EAGAIN || errno == EINTR ? 0
		    : breaks(sftp, "the connection is lost (%s)", err_text(errno));
	sftp->queued -= (size_t)sent;
	while (sent > 0) {
		segment = &sftp->queue[sftp->head];
		left = segment->owned_length + segment->payload_length - segment->sent;
		if ((size_t)sent < left) {
			segment->sent += (size_t)sent;
			break;
		}
		sent -= (ssize_t)left;
		segment_free(segment);
		sftp->head++;
		sftp->count--;
	}
	if (sftp->count == 0)
		sftp->head = 0;
	return 1;
}

static int receive_some(struct sftp *sftp)
{
	ssize_t got;

	if (reserve(&sftp->in, 65536) != 0)
		return breaks(sftp, "%s", "out of memory for a reply");
	got = recv(sftp->fd, sftp->in.bytes + sftp->in.length, sftp->in.capacity - sftp->in.length,
	    MSG_DONTWAIT);
	if (got == 0)
		return breaks(sftp, "%s", "the connection is lost (the server hung up)");
	if (got < 0)
		return errno == EAGAIN || errno == EINTR ? 0
		    : breaks(sftp, "the connection is lost (%s)", err_text(errno));
	sftp->in.length += (size_t)got;
	return 1;
}

/* One round of poll: up to TIMEOUT_MS for anything to move. 1 when bytes moved, 0 when
 * none did, -1 when the connection broke. */
static int pump(struct sftp *sftp, int timeout_ms)
{
	struct pollfd wait = { .fd = sftp->fd, .events = POLLIN };
	int moved = 0, rc;

	if (sftp->broken)
		return -1;
	if (sftp->count)
		wait.events |= POLLOUT;
	rc = poll(&wait, 1, timeout_ms);
	if (rc < 0)
		return errno == EINTR ? 0 : breaks(sftp, "poll: %s", err_text(errno));
	if (rc == 0)
		return 0;
	if (wait.revents & POLLOUT) {
		rc = send_some(sftp);
		if (rc < 0)
			return -1;
		moved |= rc;
	}
	if (wait.revents & (POLLIN | POLLHUP | POLLERR)) {
		rc = receive_some(sftp);
		if (rc < 0)
			return -1;
		moved |= rc;
	}
	return moved;
}

/* ---------------------------------------------------------------- packets in */

static void reply_decode(struct sftp_reply *reply, const unsigned char *packet, size_t size)
{
	struct reader reader = { packet + 5, size - 5, 0 };
	const unsigned char *message;
	size_t length;

	memset(reply, 0, sizeof *reply);
	reply->type = packet[4];
	reply->id = read_u32(&reader);
	reply->data = reader.at;
	reply->size = reader.left;
	if (reply->type != FXP_STATUS)
		return;
	reply->status = read_u32(&reader);
	message = read_string(&reader, &length);
	if (reader.failed)
		reply->status = SFTP_BAD_MESSAGE;
	else
		snprintf(reply->message, sizeof reply->message, "%.*s", (int)length, message);
}

/* The next whole packet in IN: its size (with the length field), 0 when incomplete, -1
 * when malformed. */
static long packet_ready(struct sftp *sftp)
{
	uint32_t length;

	if (used(&sftp->in) < 4)
		return 0;
	length = get_u32(content(&sftp->in));
	if (length < 5 || length > PACKET_MAX)
		return breaks(sftp, "%s", "the server sent a malformed packet");
	return used(&sftp->in) >= 4 + (size_t)length ? (long)(4 + length) : 0;
}

/* Hands out every parsed reply; 1 when the one to ID was found (copied to HELD, REPLY
 * filled), 0 when not yet, -1 when broken. */
static int dispatch(struct sftp *sftp, uint32_t id, struct sftp_reply *reply)
{
	struct sftp_reply other;
	long size;

	while ((size = packet_ready(sftp)) > 0) {
		if (size < 9)	/* type and id at least: only VERSION has no id */
			return breaks(sftp, "%s", "the server sent a reply without an id");
		if (sftp->outstanding)
			sftp->outstanding--;
		if (id && get_u32(content(&sftp->in) + 5) == id) {
			sftp->held.length = 0;
			if (reserve(&sftp->held, (size_t)size) != 0)
				return breaks(sftp, "%s", "out of memory for a reply");
			memcpy(sftp->held.bytes, content(&sftp->in), (size_t)size);
			sftp->held.length = (size_t)size;
			consume(&sftp->in, (size_t)size);
			reply_decode(reply, sftp->held.bytes, sftp->held.length);
			return 1;
		}
		reply_decode(&other, content(&sftp->in), (size_t)size);
		if (sftp->other)
			sftp->other(sftp->context, &other);
		consume(&sftp->in, (size_t)size);
	}
	return size < 0 ? -1 : 0;
}

static int stalled(const struct timespec *since, int seconds)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return now.tv_sec - since->tv_sec >= seconds;
}

int sftp_wait(struct sftp *sftp, uint32_t id, struct sftp_reply *reply)
{
	struct sftp_reply ignored;
	struct timespec progress;
	char seconds[32];
	int rc;

	if (!reply)
		reply = &ignored;
	clock_gettime(CLOCK_MONOTONIC, &progress);
	for (;;) {
		rc = dispatch(sftp, id, reply);
		if (rc != 0)
			return rc < 0 ? -1 : 0;
		if (id == 0 && sftp->count == 0 && sftp->outstanding == 0)
			return 0;
		rc = pump(sftp, 1000);
		if (rc < 0)
			return -1;
		if (rc > 0)
			clock_gettime(CLOCK_MONOTONIC, &progress);
		else if (stalled(&progress, sftp->stall_seconds)) {
			snprintf(seconds, sizeof seconds, "%d", sftp->stall_seconds);
			return breaks(sftp, "the connection stalled (nothing moved for %s s)", seconds);
		}
	}
}

int sftp_poll(struct sftp *sftp)
{
	struct sftp_reply unused;

	while (pump(sftp, 0) > 0)
		if (dispatch(sftp, 0, &unused) < 0)
			return -1;
	return sftp->broken ? -1 : dispatch(sftp, 0, &unused);
}

size_t sftp_queued(const struct sftp *sftp)
{
	return sftp->queued;
}

/* ---------------------------------------------------------------- start */

/* The greeting has its own, shorter limit: the clock starts before the SSH login, but a
 * server that takes the subsystem request answers VERSION at once, and one that refused it
 * (no Subsystem line in sshd_config) leaves the channel open and says nothing at all. */
static int version_read(struct sftp *sftp, char *why, size_t why_size)
{
	int limit = sftp->stall_seconds < SFTP_GREETING_SECONDS ? sftp->stall_seconds
	    : SFTP_GREETING_SECONDS;
	struct reader reader;
	const unsigned char *name;
	size_t length, name_length;
	long size;
	struct timespec start;

	clock_gettime(CLOCK_MONOTONIC, &start);
	while ((size = packet_ready(sftp)) == 0) {
		int rc = pump(sftp, 1000);

		if (rc < 0) {
			snprintf(why, why_size, "no SFTP server answered (%s)", sftp->error);
			return -1;
		}
		if (stalled(&start, limit)) {
			snprintf(why, why_size, "no SFTP server answered within %d s", limit);
			return -1;
		}
	}
	if (size < 0 || content(&sftp->in)[4] != FXP_VERSION) {
		snprintf(why, why_size, "%s", "the SFTP server's greeting is not SFTP");
		return -1;
	}
	reader = (struct reader){ content(&sftp->in) + 5, (size_t)size - 5, 0 };
	if (read_u32(&reader) < 3) {
		snprintf(why, why_size, "%s", "the SFTP server speaks a version older than 3");
		return -1;
	}
	while (reader.left && !reader.failed && sftp->extension_count < EXTENSIONS_MAX) {
		name = read_string(&reader, &name_length);
		read_string(&reader, &length);
		if (!reader.failed && name_length < sizeof sftp->extensions[0])
			snprintf(sftp->extensions[sftp->extension_count++], sizeof sftp->extensions[0],
			    "%.*s", (int)name_length, name);
	}
	consume(&sftp->in, (size_t)size);
	sftp->outstanding = 0;
	return 0;
}

struct sftp *sftp_start(int fd, int stall_seconds, sftp_reply_handler other, void *context,
    char *why, size_t why_size)
{
	struct sftp *sftp = calloc(1, sizeof *sftp);
	struct packet packet;

	if (!sftp) {
		snprintf(why, why_size, "%s", err_text(errno));
		close(fd);
		return NULL;
	}
	sftp->fd = fd;
	sftp->stall_seconds = stall_seconds > 0 ? stall_seconds : 60;
	sftp->other = other;
	sftp->context = context;
	packet_begin(&packet, sftp, FXP_INIT);
	packet_u32(&packet, 3);
	packet_end(&packet, 0);
	if (version_read(sftp, why, why_size) != 0) {
		sftp_free(sftp);
		return NULL;
	}
	return sftp;
}

void sftp_free(struct sftp *sftp)
{
	if (!sftp)
		return;
	close(sftp->fd);
	for (; sftp->count; sftp->count--)
		segment_free(&sftp->queue[sftp->head++]);
	free(sftp->queue);
	free(sftp->build.bytes);
	free(sftp->in.bytes);
	free(sftp->held.bytes);
	free(sftp);
}

int sftp_has_extension(const struct sftp *sftp, const char *name)
{
	int i;

	for (i = 0; i < sftp->extension_count; i++)
		if (strcmp(sftp->extensions[i], name) == 0)
			return 1;
	return 0;
}

/* ---------------------------------------------------------------- requests */

uint32_t sftp_send_open(struct sftp *sftp, const char *path, uint32_t flags)
{
	struct packet packet;
	uint32_t id = packet_begin(&packet, sftp, FXP_OPEN);

	packet_text(&packet, path);
	packet_u32(&packet, flags);
	packet_u32(&packet, ATTR_PERMISSIONS);	/* a new file is rw-r--r-- */
	packet_u32(&packet, 0644);
	return packet_end(&packet, id);
}

static uint32_t handle_request(struct sftp *sftp, uint8_t type, const char *handle,
    size_t handle_size)
{
	struct packet packet;
	uint32_t id = packet_begin(&packet, sftp, type);

	packet_string(&packet, handle, handle_size);
	return packet_end(&packet, id);
}

uint32_t sftp_send_close(struct sftp *sftp, const char *handle, size_t handle_size)
{
	return handle_request(sftp, FXP_CLOSE, handle, handle_size);
}

uint32_t sftp_send_fstat(struct sftp *sftp, const char *handle, size_t handle_size)
{
	return handle_request(sftp, FXP_FSTAT, handle, handle_size);
}

static uint32_t write_request(struct sftp *sftp, const char *handle, size_t handle_size,
    uint64_t offset, const void *data, size_t size, int borrowed)
{
	struct packet packet;
	uint32_t id = packet_begin(&packet, sftp, FXP_WRITE);

	packet_string(&packet, handle, handle_size);
	packet_u64(&packet, offset);
	packet_u32(&packet, (uint32_t)size);	/* the data string's length; the data follows */
	return packet_queue(&packet, id, data, size, borrowed);
}

uint32_t sftp_send_write(struct sftp *sftp, const char *handle, size_t handle_size,
    uint64_t offset, const void *data, size_t size)
{
	return write_request(sftp, handle, handle_size, offset, data, size, 0);
}

uint32_t sftp_send_write_ref(struct sftp *sftp, const char *handle, size_t handle_size,
    uint64_t offset, const void *data, size_t size)
{
	return write_request(sftp, handle, handle_size, offset, data, size, 1);
}

uint32_t sftp_send_read(struct sftp *sftp, const char *handle, size_t handle_size,
    uint64_t offset, uint32_t size)
{
	struct packet packet;
	uint32_t id = packet_begin(&packet, sftp, FXP_READ);

	packet_string(&packet, handle, handle_size);
	packet_u64(&packet, offset);
	packet_u32(&packet, size);
	return packet_end(&packet, id);
}

static uint32_t path_request(struct sftp *sftp, uint8_t type, const char *path)
{
	struct packet packet;
	uint32_t id = packet_begin(&packet, sftp, type);

	packet_text(&packet, path);
	return packet_end(&packet, id);
}

uint32_t sftp_send_stat(struct sftp *sftp, const char *path)
{
	return path_request(sftp, FXP_STAT, path);
}

uint32_t sftp_send_remove(struct sftp *sftp, const char *path)
{
	return path_request(sftp, FXP_REMOVE, path);
}

uint32_t sftp_send_mkdir(struct sftp *sftp, const char *path)
{
	struct packet packet;
	uint32_t id = packet_begin(&packet, sftp, FXP_MKDIR);

	packet_text(&packet, path);
	packet_u32(&packet, ATTR_PERMISSIONS);
	packet_u32(&packet, 0755);
	return packet_end(&packet, id);
}

static uint32_t two_paths(struct sftp *sftp, const char *extension, const char *old_path,
    const char *new_path)
{
	struct packet packet;
	uint32_t id = packet_begin(&packet, sftp, extension ? FXP_EXTENDED : FXP_RENAME);

	if (extension)
		packet_text(&packet, extension);
	packet_text(&packet, old_path);
	packet_text(&packet, new_path);
	return packet_end(&packet, id);
}

uint32_t sftp_send_rename(struct sftp *sftp, const char *old_path, const char *new_path)
{
	return two_paths(sftp, sftp_has_extension(sftp, "posix-rename@openssh.com")
	    ? "posix-rename@openssh.com" : NULL, old_path, new_path);
}

uint32_t sftp_send_hardlink(struct sftp *sftp, const char *old_path, const char *new_path)
{
	return two_paths(sftp, "hardlink@openssh.com", old_path, new_path);
}

uint32_t sftp_send_fsync(struct sftp *sftp, const char *handle, size_t handle_size)
{
	struct packet packet;
	uint32_t id = packet_begin(&packet, sftp, FXP_EXTENDED);

	packet_text(&packet, "fsync@openssh.com");
	packet_string(&packet, handle, handle_size);
	return packet_end(&packet, id);
}

uint32_t sftp_send_statvfs(struct sftp *sftp, const char *path)
{
	struct packet packet;
	uint32_t id = packet_begin(&packet, sftp, FXP_EXTENDED);

	packet_text(&packet, "statvfs@openssh.com");
	packet_text(&packet, path);
	return packet_end(&packet, id);
}

/* ---------------------------------------------------------------- replies */

int sftp_reply_handle(const struct sftp_reply *reply, char *handle, size_t *handle_size)
{
	struct reader reader = { reply->data, reply->size, 0 };
	const unsigned char *bytes;
	size_t size;

	if (reply->type != FXP_HANDLE)
		return -1;
	bytes = read_string(&reader, &size);
	if (reader.failed || size > SFTP_HANDLE_MAX)
		return -1;
	memcpy(handle, bytes, size);
	*handle_size = size;
	return 0;
}

int sftp_reply_attributes(const struct sftp_reply *reply, struct sftp_attributes *attributes)
{
	struct reader reader = { reply->data, reply->size, 0 };
	uint32_t flags;

	memset(attributes, 0, sizeof *attributes);
	if (reply->type != FXP_ATTRS)
		return -1;
	flags = read_u32(&reader);
	if (flags & ATTR_SIZE) {
		attributes->has_size = 1;
		attributes->size = read_u64(&reader);
	}
	if (flags & ATTR_UIDGID) {
		read_u32(&reader);
		read_u32(&reader);
	}
	if (flags & ATTR_PERMISSIONS) {
		attributes->has_permissions = 1;
		attributes->permissions = read_u32(&reader);
	}
	return reader.failed ? -1 : 0;
}

int sftp_reply_data(const struct sftp_reply *reply, const unsigned char **data, size_t *size)
{
	struct reader reader = { reply->data, reply->size, 0 };

	if (reply->type != FXP_DATA)
		return -1;
	*data = read_string(&reader, size);
	return reader.failed ? -1 : 0;
}

int sftp_reply_statvfs(const struct sftp_reply *reply, struct sftp_statvfs *statvfs)
{
	struct reader reader = { reply->data, reply->size, 0 };

	if (reply->type != FXP_EXTENDED_REPLY)
		return -1;
	read_u64(&reader);	/* f_bsize */
	statvfs->fragment_size = read_u64(&reader);
	statvfs->blocks = read_u64(&reader);
	statvfs->blocks_free = read_u64(&reader);
	statvfs->blocks_available = read_u64(&reader);
	return reader.failed ? -1 : 0;
}

const char *sftp_status_text(const struct sftp_reply *reply)
{
	static const char *const names[] = { "ok", "end of file", "no such file",
		"permission denied", "failure", "bad message", "no connection", "connection lost",
		"operation unsupported" };

	if (reply->type != FXP_STATUS)
		return "unexpected reply";
	if (reply->message[0])
		return reply->message;
	return reply->status < sizeof names / sizeof names[0] ? names[reply->status] : "error";
}
