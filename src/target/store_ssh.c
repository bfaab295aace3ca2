/* store_ssh.c: the ssh:// backend of store.h: SFTP (sftp.h), the subsystem every stock
 * OpenSSH server has, spoken through `dbclient -s HOST sftp`. Nothing else is needed on
 * the receiver.
 *
 * Image writes are pipelined: up to IN_FLIGHT bytes travel unacknowledged, each kept here
 * until the server's status for it arrived. A lost connection (dbclient gone, the stream
 * closed, nothing moving for STALL seconds) is transient: after store_reconnect the kept
 * writes go out again, so no byte is skipped; writing the same bytes twice at the same
 * place is harmless. A write the server refuses (full, permission) is permanent.
 *
 * The map is replaced as store.h asks: NAME.tmp written, synced and closed, the old NAME
 * hard-linked to NAME.bak (hardlink@openssh.com), then NAME.tmp renamed over NAME
 * (posix-rename@openssh.com, atomic), so NAME is whole at every moment.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>

#include "target/sftp.h"
#include "target/store.h"
#include "target/target_ops.h"

enum { IN_FLIGHT = 16 << 20, STALL = 60, READ_AHEAD = 32,
	SPARES = IN_FLIGHT / SFTP_WRITE_MAX + 1 };

struct pending {
	uint32_t id;
	uint64_t offset;
	size_t size;
	unsigned char *data;
};

struct ssh_backend {
	struct sftp *sftp;
	struct target_ssh_session session;
	char handle[SFTP_HANDLE_MAX];
	size_t handle_size;
	int image_open;
	int unsynced;			/* written since the image's last fsync */
	struct pending *pending;
	size_t count, capacity, bytes;
	char refused[512];		/* a write the server refused: permanent */
	/* Whole-size write buffers kept for the next writes: one of SFTP_WRITE_MAX bytes is
	 * above musl's mmap threshold, so each malloc and free was an mmap, a munmap and a
	 * page fault per 4 KiB of image. */
	unsigned char *spare[SPARES];
	size_t spares;
};

static struct ssh_backend *backend(struct store *store)
{
	return store->backend;
}

/* DIRECTORY/NAME on the target, or -1 (permanent) when it does not fit. */
static int remote_path(struct store *store, const char *name, char *path, size_t size)
{
	if (snprintf(path, size, "%s/%s", store->target.path, name) < (int)size)
		return 0;
	return store_fail_permanent(store, "the path %s/%s is too long", store->target.path, name);
}

/* ---------------------------------------------------------------- pending writes */

static struct pending *pending_find(struct ssh_backend *ssh, uint32_t id)
{
	size_t i;

	for (i = 0; i < ssh->count; i++)
		if (ssh->pending[i].id == id)
			return &ssh->pending[i];
	return NULL;
}

/* The kept writes stay in the order they were written: drain waits for the oldest (a
 * late one there would empty the pipeline each time), and resend repeats them in order, so
 * overlapping writes land as they did the first time. Replies come in order: the entry is
 * almost always the first, and the move is short. */
static void pending_drop(struct ssh_backend *ssh, struct pending *entry)
{
	size_t index = (size_t)(entry - ssh->pending);

	ssh->bytes -= entry->size;
	if (entry->size == SFTP_WRITE_MAX && ssh->spares < SPARES)
		ssh->spare[ssh->spares++] = entry->data;
	else
		free(entry->data);
	memmove(entry, entry + 1, (ssh->count - index - 1) * sizeof *entry);
	ssh->count--;
}

/* A write's status, whether awaited or not. */
static void write_replied(struct ssh_backend *ssh, const struct sftp_reply *reply)
{
	struct pending *entry = pending_find(ssh, reply->id);

	if (!entry)
		return;
	if (reply->type == SFTP_REPLY_STATUS && reply->status == SFTP_OK) {
		pending_drop(ssh, entry);
		return;
	}
	if (!ssh->refused[0])
		snprintf(ssh->refused, sizeof ssh->refused, "the server refused %zu bytes at offset "
		    "%llu: %s", entry->size, (unsigned long long)entry->offset,
		    sftp_status_text(reply));
}

static void on_reply(void *context, const struct sftp_reply *reply)
{
	write_replied(context, reply);
}

/* ---------------------------------------------------------------- failures */

/* The connection is gone: why, with dbclient's own last words when it has ended. */
static int lost(struct store *store)
{
	struct ssh_backend *ssh = backend(store);
	char errors[512] = "";

	if (ssh->session.pid > 0 && ssh->sftp && sftp_broken(ssh->sftp))
		target_ssh_end(&ssh->session, errors, sizeof errors);
	return store_fail_transient(store, "%s%s%s", ssh->sftp ? sftp_error(ssh->sftp)
	    : "not connected", errors[0] ? ": " : "", errors);
}

/* A write the server refused: "full" when the file system says so. */
static int refused(struct store *store)
{
	struct ssh_backend *ssh = backend(store);
	uint64_t available;

	if (store->ops->free_space(store, &available) == 0 && available < (1 << 20))
		return store_fail_permanent(store, "the target is full (%s)", ssh->refused);
	return store_fail_permanent(store, "%s", ssh->refused);
}

/* Waits for the reply to ID; -1 (transient) when the connection broke. */
static int call(struct store *store, uint32_t id, struct sftp_reply *reply)
{
	struct ssh_backend *ssh = backend(store);

	if (id == 0 || sftp_wait(ssh->sftp, id, reply) != 0)
		return lost(store);
	return 0;
}

/* ---------------------------------------------------------------- connecting */

static int directory_check(struct store *store)
{
	struct ssh_backend *ssh = backend(store);
	struct sftp_attributes attributes;
	struct sftp_reply reply;

	if (call(store, sftp_send_stat(ssh->sftp, store->target.path), &reply) != 0)
		return -1;
	if (sftp_reply_attributes(&reply, &attributes) != 0)
		return store_fail_permanent(store, "unable to use the directory %s: %s",
		    store->target.path, reply.status == SFTP_NO_SUCH_FILE
		    ? "no such directory (create it first)" : sftp_status_text(&reply));
	if (attributes.has_permissions && !S_ISDIR(attributes.permissions))
		return store_fail_permanent(store, "unable to use %s: not a directory",
		    store->target.path);
	return 0;
}

/* target_ssh_check's verdict: an error on the way (no route, a timeout) may pass, a
 * refusal (the login, the host key) does not. */
static int check_failed(struct store *store, const struct target_ssh_check *check)
{
	if (check->state == TARGET_SSH_ERROR)
		return store_fail_transient(store, "%s", check->why);
	return store_fail_permanent(store, "%s", check->why);
}

/* A login that works and is quick (a command run over it within a few seconds) while the
 * SFTP session stayed silent for SFTP_GREETING_SECONDS: sshd took the login and refused
 * the subsystem. A slow login leaves the doubt to a retry. */
static int login_is_quick(const struct target *target)
{
	struct target_ssh_check check;
	struct timespec start, end;

	clock_gettime(CLOCK_MONOTONIC, &start);
	if (target_ssh_check(target, &check) != TARGET_SSH_OK)
		return 0;
	clock_gettime(CLOCK_MONOTONIC, &end);
	return end.tv_sec - start.tv_sec < SFTP_GREETING_SECONDS / 3;
}

/* OpenSSH refuses a subsystem it has no Subsystem line for, and dbclient says nothing. */
static int no_subsystem(struct store *store)
{
	return store_fail_permanent(store, "%s accepted the login but started no SFTP "
	    "server within %d s: its sshd refused the sftp subsystem; add 'Subsystem sftp internal-sftp' (or the "
	    "path of sftp-server) to its sshd_config and reload sshd", store->target.host,
	    SFTP_GREETING_SECONDS);
}

/* A target checked before (target_ssh_ready) gets its session at once; the check's own
 * login, a whole SSH handshake (0.4-0.6 s of every run under TCG), is made only to explain
 * a session that did not start. */
static int ssh_connect(struct store *store)
{
	struct target_ssh_check check;
	struct ssh_backend *ssh;
	char why[512], errors[512];
	int fd, ready;

	if (!store->backend && !(store->backend = calloc(1, sizeof(struct ssh_backend))))
		return store_fail_permanent(store, "out of memory");
	ssh = backend(store);
	ssh->session.pid = -1;
	ssh->session.errors = -1;
	ready = target_ssh_ready(&store->target);
	if (!ready && target_ssh_check(&store->target, &check) != TARGET_SSH_OK)
		return check_failed(store, &check);
	if (target_ssh_subsystem(&store->target, "sftp", &fd, &ssh->session, why,
	    sizeof why) != 0)
		return store_fail_permanent(store, "%s", why);
	ssh->sftp = sftp_start(fd, STALL, on_reply, ssh, why, sizeof why);
	if (!ssh->sftp) {
		target_ssh_end(&ssh->session, errors, sizeof errors);
		if (ready && target_ssh_check(&store->target, &check) != TARGET_SSH_OK)
			return check_failed(store, &check);
		/* Silence till the greeting's limit, not a connection that broke. */
		if (strstr(why, "answered within") && login_is_quick(&store->target))
			return no_subsystem(store);
		/* A host key that changed since the first connection is no outage: trying again
		 * would keep sending the image towards whoever answers now. dbclient's last lines
		 * are "Fingerprint is SHA256:...; Expected SHA256:...". */
		if (strstr(errors, "mismatch") || (strstr(errors, "Fingerprint is ")
		    && strstr(errors, "Expected ")))
			return store_fail_permanent(store, "the host key of %s changed since the first "
			    "connection (%s)", store->target.host, errors);
		return store_fail_transient(store, "%s%s%s", why, errors[0] ? ": " : "", errors);
	}
	return directory_check(store);
}

static void ssh_disconnect(struct store *store)
{
	struct ssh_backend *ssh = backend(store);
	char errors[512];

	if (!ssh)
		return;
	sftp_free(ssh->sftp);
	ssh->sftp = NULL;
	ssh->image_open = 0;
	target_ssh_end(&ssh->session, errors, sizeof errors);
}

static void ssh_release(struct store *store)
{
	struct ssh_backend *ssh = backend(store);

	if (!ssh)
		return;
	while (ssh->count)
		pending_drop(ssh, &ssh->pending[ssh->count - 1]);
	while (ssh->spares)
		free(ssh->spare[--ssh->spares]);
	free(ssh->pending);
	free(ssh);
	store->backend = NULL;
}

/* ---------------------------------------------------------------- the image */

static int close_handle(struct store *store, const char *handle, size_t handle_size);

static int ssh_image_open(struct store *store, uint64_t *size)
{
	struct ssh_backend *ssh = backend(store);
	struct sftp_attributes attributes;
	struct sftp_reply reply;
	char path[PATH_MAX];

	if (ssh->image_open) {
		ssh->image_open = 0;
		if (close_handle(store, ssh->handle, ssh->handle_size) != 0)
			return -1;
	}
	if (remote_path(store, store->image_name, path, sizeof path) != 0)
		return -1;
	if (call(store, sftp_send_open(ssh->sftp, path, SFTP_READ | SFTP_WRITE | SFTP_CREAT),
	    &reply) != 0)
		return -1;
	if (sftp_reply_handle(&reply, ssh->handle, &ssh->handle_size) != 0)
		return store_fail_permanent(store, "unable to open %s: %s", path,
		    sftp_status_text(&reply));
	if (call(store, sftp_send_fstat(ssh->sftp, ssh->handle, ssh->handle_size), &reply) != 0)
		return -1;
	if (sftp_reply_attributes(&reply, &attributes) != 0 || !attributes.has_size)
		return store_fail_permanent(store, "unable to learn the size of %s: %s", path,
		    sftp_status_text(&reply));
	*size = attributes.size;
	ssh->image_open = 1;
	return 0;
}

/* Until at most LIMIT bytes are unacknowledged; -1 when the connection broke. */
static int drain(struct store *store, size_t limit)
{
	struct ssh_backend *ssh = backend(store);
	struct sftp_reply reply;

	if (sftp_poll(ssh->sftp) != 0)
		return lost(store);
	while (ssh->bytes > limit && !ssh->refused[0]) {
		if (sftp_wait(ssh->sftp, ssh->pending[0].id, &reply) != 0)
			return lost(store);
		write_replied(ssh, &reply);
	}
	return 0;
}

static int send_write(struct ssh_backend *ssh, struct pending *entry)
{
	/* The entry keeps its data until the write is acknowledged: no copy needed. */
	entry->id = sftp_send_write_ref(ssh->sftp, ssh->handle, ssh->handle_size, entry->offset,
	    entry->data, entry->size);
	return entry->id ? 0 : -1;
}

/* The data is copied and kept until acknowledged; 0 means taken (even if the connection
 * breaks right after: store_reconnect sends it again). */
static int ssh_pwrite(struct store *store, const void *data, size_t size, uint64_t position)
{
	struct ssh_backend *ssh = backend(store);
	const unsigned char *bytes = data;
	struct pending *entry;
	size_t chunk;

	if (!ssh->sftp || sftp_broken(ssh->sftp) || !ssh->image_open)
		return lost(store);
	if (ssh->refused[0])
		return refused(store);
	while (size) {
		chunk = size < SFTP_WRITE_MAX ? size : SFTP_WRITE_MAX;
		if (ssh->count == ssh->capacity) {
			size_t capacity = ssh->capacity ? ssh->capacity * 2 : 64;
			struct pending *bigger = realloc(ssh->pending, capacity * sizeof *bigger);

			if (!bigger)
				return store_fail_permanent(store, "out of memory for writes in flight");
			ssh->pending = bigger;
			ssh->capacity = capacity;
		}
		entry = &ssh->pending[ssh->count];
		entry->data = chunk == SFTP_WRITE_MAX && ssh->spares ? ssh->spare[--ssh->spares]
		    : malloc(chunk);
		if (!entry->data)
			return store_fail_permanent(store, "out of memory for writes in flight");
		memcpy(entry->data, bytes, chunk);
		entry->offset = position;
		entry->size = chunk;
		ssh->count++;
		ssh->bytes += chunk;
		ssh->unsynced = 1;
		send_write(ssh, entry);
		bytes += chunk, position += chunk, size -= chunk;
	}
	if (drain(store, IN_FLIGHT) != 0)
		return sftp_broken(ssh->sftp) ? 0 : -1;
	return ssh->refused[0] ? refused(store) : 0;
}

static int ssh_resend(struct store *store)
{
	struct ssh_backend *ssh = backend(store);
	size_t i;

	for (i = 0; i < ssh->count; i++)
		send_write(ssh, &ssh->pending[i]);
	return drain(store, IN_FLIGHT);
}

static int ssh_flush(struct store *store)
{
	struct ssh_backend *ssh = backend(store);
	struct sftp_reply reply;

	if (!ssh->sftp || sftp_broken(ssh->sftp))
		return lost(store);
	if (drain(store, 0) != 0)
		return -1;
	if (ssh->refused[0])
		return refused(store);
	if (!ssh->image_open || !ssh->unsynced
	    || !sftp_has_extension(ssh->sftp, "fsync@openssh.com"))
		return 0;
	if (call(store, sftp_send_fsync(ssh->sftp, ssh->handle, ssh->handle_size), &reply) != 0)
		return -1;
	if (reply.status != SFTP_OK)
		return store_fail_permanent(store, "the server could not sync %s: %s",
		    store->image_name, sftp_status_text(&reply));
	ssh->unsynced = 0;
	return 0;
}

/* Up to READ_AHEAD requests in flight; the bytes that arrived in one piece from POSITION.
 * Replies to requests left behind (after a short read) reach on_reply, which ignores them. */
static ssize_t ssh_pread(struct store *store, void *data, size_t size, uint64_t position)
{
	struct ssh_backend *ssh = backend(store);
	uint32_t ids[READ_AHEAD];
	size_t lengths[READ_AHEAD], done = 0, asked, length, i, count;
	const unsigned char *got;
	struct sftp_reply reply;

	if (!ssh->sftp || sftp_broken(ssh->sftp) || !ssh->image_open)
		return lost(store);
	while (done < size) {
		for (count = 0, asked = done; count < READ_AHEAD && asked < size; count++) {
			lengths[count] = size - asked < SFTP_WRITE_MAX ? size - asked : SFTP_WRITE_MAX;
			ids[count] = sftp_send_read(ssh->sftp, ssh->handle, ssh->handle_size,
			    position + asked, (uint32_t)lengths[count]);
			asked += lengths[count];
		}
		for (i = 0; i < count; i++) {
			if (call(store, ids[i], &reply) != 0)
				return -1;
			if (sftp_reply_data(&reply, &got, &length) != 0) {
				if (reply.status != SFTP_EOF)
					return store_fail_permanent(store, "unable to read %s at %llu: %s",
					    store->image_name, (unsigned long long)(position + done),
					    sftp_status_text(&reply));
				return (ssize_t)done;	/* the file ends here */
			}
			if (length > lengths[i])
				length = lengths[i];
			memcpy((unsigned char *)data + done, got, length);
			done += length;
			if (length < lengths[i])
				break;	/* a short read: ask again from here */
		}
	}
	return (ssize_t)done;
}

/* ---------------------------------------------------------------- small whole files */

static int close_handle(struct store *store, const char *handle, size_t handle_size)
{
	struct sftp_reply reply;

	if (call(store, sftp_send_close(backend(store)->sftp, handle, handle_size), &reply) != 0)
		return -1;
	return reply.status == SFTP_OK ? 0 : store_fail_permanent(store, "close failed: %s",
	    sftp_status_text(&reply));
}

/* Closes HANDLE after a failure: the failure already recorded stays the one reported, and
 * over a broken connection there is nothing left to close. */
static void close_after_failure(struct store *store, const char *handle, size_t handle_size)
{
	struct ssh_backend *ssh = backend(store);
	char error[sizeof store->error];
	int transient = store->transient;

	if (!ssh->sftp || sftp_broken(ssh->sftp))
		return;
	memcpy(error, store->error, sizeof error);
	close_handle(store, handle, handle_size);
	memcpy(store->error, error, sizeof error);
	store->transient = transient;
}

/* The file behind HANDLE from its start, handed to PIECE a read reply at a time: 0, -1,
 * or 2 when PIECE stopped it. */
static int read_pieces(struct store *store, const char *path, const char *handle,
    size_t handle_size, store_piece_fn *piece, void *context)
{
	struct ssh_backend *ssh = backend(store);
	const unsigned char *got;
	struct sftp_reply reply;
	uint64_t offset = 0;
	size_t length;

	for (;;) {
		if (call(store, sftp_send_read(ssh->sftp, handle, handle_size, offset, SFTP_WRITE_MAX),
		    &reply) != 0)
			return -1;
		if (sftp_reply_data(&reply, &got, &length) != 0)
			break;
		if (piece(context, (const char *)got, length) != 0)
			return 2;
		offset += length;
	}
	if (reply.status != SFTP_EOF)
		return store_fail_permanent(store, "unable to read %s: %s", path,
		    sftp_status_text(&reply));
	return 0;
}

struct whole {
	char *buffer;
	size_t used;
};

static int append_piece(void *context, const char *data, size_t size)
{
	struct whole *whole = context;
	char *bigger = realloc(whole->buffer, whole->used + size + 1);

	if (!bigger)
		return -1;
	whole->buffer = bigger;
	memcpy(whole->buffer + whole->used, data, size);
	whole->used += size;
	return 0;
}

/* The file behind HANDLE from its start, into a malloc'd *BUFFER (NUL added). */
static int read_whole(struct store *store, const char *path, const char *handle,
    size_t handle_size, char **buffer, size_t *used)
{
	struct whole whole = { NULL, 0 };
	int rc = read_pieces(store, path, handle, handle_size, append_piece, &whole);

	if (rc == 0 && !whole.buffer && !(whole.buffer = malloc(1)))
		rc = 2;
	if (rc == 2)
		rc = store_fail_permanent(store, "out of memory reading %s", path);
	if (rc == 0)
		whole.buffer[whole.used] = '\0';
	*buffer = whole.buffer;
	*used = whole.used;
	return rc;
}

/* The file NAME opened for reading (PATH and HANDLE set): 0, 1 when it does not exist,
 * -1 (store_error). */
static int open_for_reading(struct store *store, const char *name, char path[PATH_MAX],
    char handle[SFTP_HANDLE_MAX], size_t *handle_size)
{
	struct ssh_backend *ssh = backend(store);
	struct sftp_reply reply;

	if (!ssh->sftp || sftp_broken(ssh->sftp))
		return lost(store);
	if (remote_path(store, name, path, PATH_MAX) != 0
	    || call(store, sftp_send_open(ssh->sftp, path, SFTP_READ), &reply) != 0)
		return -1;
	if (sftp_reply_handle(&reply, handle, handle_size) != 0)
		return reply.status == SFTP_NO_SUCH_FILE ? 1
		    : store_fail_permanent(store, "unable to read %s: %s", path,
		    sftp_status_text(&reply));
	return 0;
}

static int ssh_get(struct store *store, const char *name, char **data, size_t *size)
{
	char path[PATH_MAX], handle[SFTP_HANDLE_MAX], *buffer = NULL;
	size_t handle_size, used = 0;
	int rc = open_for_reading(store, name, path, handle, &handle_size);

	if (rc != 0)
		return rc;
	rc = read_whole(store, path, handle, handle_size, &buffer, &used);
	if (rc == 0)
		rc = close_handle(store, handle, handle_size);
	else
		close_after_failure(store, handle, handle_size);
	if (rc != 0) {
		free(buffer);
		return -1;
	}
	*data = buffer;
	*size = used;
	return 0;
}

static int ssh_get_pieces(struct store *store, const char *name, store_piece_fn *piece,
    void *context)
{
	char path[PATH_MAX], handle[SFTP_HANDLE_MAX];
	size_t handle_size;
	int rc = open_for_reading(store, name, path, handle, &handle_size);

	if (rc != 0)
		return rc;
	rc = read_pieces(store, path, handle, handle_size, piece, context);
	if (rc == 0)
		return close_handle(store, handle, handle_size);
	close_after_failure(store, handle, handle_size);
	return rc;
}

/* Every write of DATA to HANDLE, all sent before the first reply is awaited (a manifest of
 * 100k files is some 30 MB: one round trip per 128 KiB cost seconds). OpenSSH's
 * sftp-server answers in order, so the replies are taken in the order the requests went.
 * DATA stays as it is until this returns: the requests refer to it, uncopied. */
static int write_all_at_once(struct store *store, const char *path, const char *handle,
    size_t handle_size, uint64_t at, const void *data, size_t size)
{
	struct ssh_backend *ssh = backend(store);
	size_t done, chunk, count, i, refused;
	struct sftp_reply reply;
	uint32_t *ids;

	if (!(ids = malloc((size / SFTP_WRITE_MAX + 1) * sizeof *ids)))
		return store_fail_permanent(store, "unable to write %s: out of memory", path);
	for (done = 0, count = 0; done < size; done += chunk) {
		chunk = size - done < SFTP_WRITE_MAX ? size - done : SFTP_WRITE_MAX;
		ids[count++] = sftp_send_write_ref(ssh->sftp, handle, handle_size, at + done,
		    (const char *)data + done, chunk);
	}
	/* Every reply is awaited, even after a refusal: no request may outlive DATA. */
	for (i = 0, refused = 0; i < count; i++) {
		if (call(store, ids[i], &reply) != 0) {
			free(ids);
			return -1;	/* broken: the queue is dropped with the connection */
		}
		if (reply.status != SFTP_OK && !refused++)
			store_fail_permanent(store, "unable to write %s: %s", path,
			    sftp_status_text(&reply));
	}
	free(ids);
	return refused ? -1 : 0;
}

static int sync_handle(struct store *store, const char *path, const char *handle,
    size_t handle_size)
{
	struct ssh_backend *ssh = backend(store);
	struct sftp_reply reply;

	if (!sftp_has_extension(ssh->sftp, "fsync@openssh.com"))
		return 0;
	if (call(store, sftp_send_fsync(ssh->sftp, handle, handle_size), &reply) != 0)
		return -1;
	if (reply.status != SFTP_OK)
		return store_fail_permanent(store, "unable to sync %s: %s", path,
		    sftp_status_text(&reply));
	return 0;
}

/* PATH created (or emptied) and written with what PRODUCE makes, a piece at a time. */
static int write_produced(struct store *store, const char *path, store_producer_fn *produce,
    void *context)
{
	struct ssh_backend *ssh = backend(store);
	char handle[SFTP_HANDLE_MAX];
	struct sftp_reply reply;
	size_t handle_size, length;
	const char *piece;
	uint64_t at = 0;
	int rc = 0;

	if (call(store, sftp_send_open(ssh->sftp, path, SFTP_WRITE | SFTP_CREAT | SFTP_TRUNC),
	    &reply) != 0)
		return -1;
	if (sftp_reply_handle(&reply, handle, &handle_size) != 0)
		return store_fail_permanent(store, "unable to create %s: %s", path,
		    sftp_status_text(&reply));
	while (rc == 0 && (length = produce(context, &piece)) > 0) {
		rc = write_all_at_once(store, path, handle, handle_size, at, piece, length);
		at += length;
	}
	if (rc != 0 || sync_handle(store, path, handle, handle_size) != 0) {
		close_after_failure(store, handle, handle_size);
		return -1;
	}
	return close_handle(store, handle, handle_size);
}

static int ssh_write_at(struct store *store, const char *name, const void *data, size_t size,
    uint64_t position)
{
	struct ssh_backend *ssh = backend(store);
	char path[PATH_MAX], handle[SFTP_HANDLE_MAX];
	struct sftp_reply reply;
	size_t handle_size;

	if (!ssh->sftp || sftp_broken(ssh->sftp))
		return lost(store);
	if (remote_path(store, name, path, sizeof path) != 0)
		return -1;
	if (call(store, sftp_send_open(ssh->sftp, path, SFTP_WRITE | SFTP_CREAT), &reply) != 0)
		return -1;
	if (sftp_reply_handle(&reply, handle, &handle_size) != 0)
		return store_fail_permanent(store, "unable to open %s: %s", path,
		    sftp_status_text(&reply));
	if (write_all_at_once(store, path, handle, handle_size, position, data, size) != 0
	    || sync_handle(store, path, handle, handle_size) != 0) {
		close_after_failure(store, handle, handle_size);
		return -1;
	}
	return close_handle(store, handle, handle_size);
}

/* One request whose status must be OK (or, with MISSING_OK, "no such file"). */
static int status_call(struct store *store, uint32_t id, int missing_ok, const char *what,
    const char *path)
{
	struct sftp_reply reply;

	if (call(store, id, &reply) != 0)
		return -1;
	if (reply.status == SFTP_OK || (missing_ok && reply.status == SFTP_NO_SUCH_FILE))
		return 0;
	return store_fail_permanent(store, "unable to %s %s: %s", what, path,
	    sftp_status_text(&reply));
}

static int ssh_replace_pieces(struct store *store, const char *name, store_producer_fn *produce,
    void *context)
{
	struct ssh_backend *ssh = backend(store);
	char path[PATH_MAX], temporary[PATH_MAX + 8], backup[PATH_MAX + 8];

	if (!ssh->sftp || sftp_broken(ssh->sftp))
		return lost(store);
	if (remote_path(store, name, path, sizeof path) != 0)
		return -1;
	snprintf(temporary, sizeof temporary, "%s.tmp", path);
	snprintf(backup, sizeof backup, "%s.bak", path);
	if (write_produced(store, temporary, produce, context) != 0)
		return -1;
	if (sftp_has_extension(ssh->sftp, "posix-rename@openssh.com")) {
		if (sftp_has_extension(ssh->sftp, "hardlink@openssh.com")
		    && (status_call(store, sftp_send_remove(ssh->sftp, backup), 1, "remove",
		    backup) != 0 || status_call(store, sftp_send_hardlink(ssh->sftp, path, backup),
		    1, "keep a backup of", path) != 0))
			return -1;
	} else {
		/* Plain SFTP renames refuse to replace: move the old one aside first. */
		if (status_call(store, sftp_send_remove(ssh->sftp, backup), 1, "remove", backup) != 0
		    || status_call(store, sftp_send_rename(ssh->sftp, path, backup), 1,
		    "keep a backup of", path) != 0)
			return -1;
	}
	return status_call(store, sftp_send_rename(ssh->sftp, temporary, path), 0, "rename into",
	    path);
}

static int ssh_replace(struct store *store, const char *name, const void *data, size_t size)
{
	struct store_one_piece one = { data, size, 0 };

	return ssh_replace_pieces(store, name, store_give_one_piece, &one);
}

static int ssh_size_of(struct store *store, const char *name, uint64_t *size)
{
	struct ssh_backend *ssh = backend(store);
	struct sftp_attributes attributes;
	struct sftp_reply reply;
	char path[PATH_MAX];

	if (!ssh->sftp || sftp_broken(ssh->sftp))
		return lost(store);
	if (remote_path(store, name, path, sizeof path) != 0)
		return -1;
	if (call(store, sftp_send_stat(ssh->sftp, path), &reply) != 0)
		return -1;
	if (sftp_reply_attributes(&reply, &attributes) == 0 && attributes.has_size) {
		*size = attributes.size;
		return 0;
	}
	if (reply.status == SFTP_NO_SUCH_FILE)
		return 1;
	return store_fail_permanent(store, "unable to stat %s: %s", path, sftp_status_text(&reply));
}

static int ssh_rename(struct store *store, const char *old_name, const char *new_name)
{
	struct ssh_backend *ssh = backend(store);
	char old_path[PATH_MAX], new_path[PATH_MAX];
	struct sftp_reply reply;
	uint64_t size;
	int there;

	if (!ssh->sftp || sftp_broken(ssh->sftp))
		return lost(store);
	if (remote_path(store, old_name, old_path, sizeof old_path) != 0
	    || remote_path(store, new_name, new_path, sizeof new_path) != 0)
		return -1;
	if (call(store, sftp_send_rename(ssh->sftp, old_path, new_path), &reply) != 0)
		return -1;
	if (reply.status == SFTP_OK)
		return 0;
	/* Done before a reconnect, its reply lost: OLD is gone and NEW is there (0), or the
	 * look failed (-1). */
	if (reply.status == SFTP_NO_SUCH_FILE
	    && (there = ssh_size_of(store, new_name, &size)) != 1)
		return there;
	return store_fail_permanent(store, "unable to rename %s to %s: %s", old_path, new_path,
	    sftp_status_text(&reply));
}

static int ssh_mkdir(struct store *store, const char *name)
{
	struct ssh_backend *ssh = backend(store);
	struct sftp_attributes attributes;
	struct sftp_reply reply;
	char path[PATH_MAX];

	if (!ssh->sftp || sftp_broken(ssh->sftp))
		return lost(store);
	if (remote_path(store, name, path, sizeof path) != 0)
		return -1;
	if (call(store, sftp_send_mkdir(ssh->sftp, path), &reply) != 0)
		return -1;
	if (reply.status == SFTP_OK)
		return 0;
	/* SFTP 3 has no "exists" status: a directory already there is looked at. */
	if (call(store, sftp_send_stat(ssh->sftp, path), &reply) != 0)
		return -1;
	if (sftp_reply_attributes(&reply, &attributes) == 0 && attributes.has_permissions
	    && S_ISDIR(attributes.permissions))
		return 0;
	return store_fail_permanent(store, "unable to make the directory %s", path);
}

static int ssh_free_space(struct store *store, uint64_t *bytes)
{
	struct ssh_backend *ssh = backend(store);
	struct sftp_statvfs space;
	struct sftp_reply reply;

	if (!ssh->sftp || sftp_broken(ssh->sftp))
		return lost(store);
	if (!sftp_has_extension(ssh->sftp, "statvfs@openssh.com"))
		return 1;
	if (call(store, sftp_send_statvfs(ssh->sftp, store->target.path), &reply) != 0)
		return -1;
	if (sftp_reply_statvfs(&reply, &space) != 0)
		return 1;
	*bytes = space.blocks_available * space.fragment_size;
	return 0;
}

const struct store_ops store_ops_ssh = {
	.scheme = "ssh",
	.connect = ssh_connect,
	.disconnect = ssh_disconnect,
	.image_open = ssh_image_open,
	.pwrite = ssh_pwrite,
	.pread = ssh_pread,
	.flush = ssh_flush,
	.get = ssh_get,
	.get_pieces = ssh_get_pieces,
	.replace_pieces = ssh_replace_pieces,
	.replace = ssh_replace,
	.write_at = ssh_write_at,
	.size_of = ssh_size_of,
	.rename = ssh_rename,
	.mkdir = ssh_mkdir,
	.free_space = ssh_free_space,
	.resend = ssh_resend,
	.release = ssh_release,
};
