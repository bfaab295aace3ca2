/* store_nbd.c: the nbd:// backend of store.h: nbd://HOST[:PORT][/EXPORT] (port 10809, ""
 * the server's default export), spoken by our own client (nbd.h) over TCP. Any NBD server
 * works: qemu-nbd, nbd-server, nbdkit.
 *
 * The export IS the image: byte N of the source goes to byte N of the export. Its map
 * lives in the export's last 1 MiB (the tail), so one export of the source's size + 1 MiB
 * carries the image and its map together, and a resume after a reboot finds both:
 *
 *   export:  [ image: the source's bytes ... | unused | tail: 1 MiB ]
 *   tail:    [ slot 0: 512 KiB | slot 1: 512 KiB ]
 *   slot:    [ header: 512 bytes | the ddrescue map text ]
 *   header:  "RSCUEMAP", version (u32 = 1), 0 (u32), sequence (u64), text length (u64),
 *            FNV-1a 64 checksum of the header (checksum field zero) and the text (u64),
 *            NAME (256 bytes, NUL-padded): all big-endian, the rest zero.
 *
 * A map is written to the slot not holding the newest one, then flushed; the newest slot
 * whose header and checksum are right is NAME.map, the other NAME.bak, so a write torn by
 * a crash leaves the previous map whole (store.h's atomic replace). A map text longer than
 * a slot (about 13000 areas) is refused. An export holding the map of another NAME is
 * refused (--name picks it). An export smaller than the image + 1 MiB is refused with the
 * size to give it (qemu-img resize, truncate -s).
 *
 * Image writes are pipelined: up to IN_FLIGHT bytes of WRITE requests travel at once, each
 * kept here until its reply came; after a lost connection (a transient failure) and
 * store_reconnect they are sent again. flush waits for every reply, then sends
 * NBD_CMD_FLUSH when the server offers it. A write the server answers with an error
 * (ENOSPC, EIO, EPERM) is permanent. Once the export was open, any failure to open it again
 * is transient, even an answer that is no NBD at all: a restarting server, or a relay in
 * between (an SSH tunnel, QEMU's guestfwd) that answers before the server is back.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "target/nbd.h"
#include "target/nbd_map.h"
#include "target/store.h"
#include "target/target_ops.h"

enum {
	TAIL = NBD_MAP_TAIL, SLOT = NBD_MAP_SLOT, HEADER = NBD_MAP_HEADER, NAME_SIZE = NBD_MAP_NAME,
	IN_FLIGHT = 16 << 20, STALL = 60, CONNECT_TIMEOUT = 10,
};

struct pending {
	uint64_t handle;
	uint64_t offset;
	size_t size;
	unsigned char *data;
};

struct nbd_backend {
	struct nbd *nbd;
	uint64_t export_size;
	uint64_t next_handle;
	struct pending *pending;
	size_t count, capacity, bytes;
	char refused[512];		/* a write the server refused: permanent */
	int opened_once;		/* reconnecting: every failure may pass */
	int tail_loaded;
	struct nbd_map_slot slots[2];
};

static struct nbd_backend *backend(struct store *store)
{
	return store->backend;
}

static uint64_t usable_size(const struct nbd_backend *state)
{
	return state->export_size - TAIL;
}

/* ---------------------------------------------------------------- failures */

static int lost(struct store *store)
{
	struct nbd_backend *state = backend(store);

	return store_fail_transient(store, "%s",
	    state->nbd ? nbd_error(state->nbd) : "not connected");
}

static int refused(struct store *store)
{
	return store_fail_permanent(store, "%s", backend(store)->refused);
}

/* ---------------------------------------------------------------- replies */

static struct pending *pending_find(struct nbd_backend *state, uint64_t handle)
{
	size_t i;

	for (i = 0; i < state->count; i++)
		if (state->pending[i].handle == handle)
			return &state->pending[i];
	return NULL;
}

static void pending_drop(struct nbd_backend *state, struct pending *entry)
{
	state->bytes -= entry->size;
	free(entry->data);
	*entry = state->pending[--state->count];
}

/* A WRITE's reply: acknowledged (dropped) or refused (remembered, dropped). */
static void write_replied(struct nbd_backend *state, const struct nbd_reply *reply)
{
	struct pending *entry = pending_find(state, reply->handle);

	if (!entry)
		return;
	if (reply->error && !state->refused[0])
		snprintf(state->refused, sizeof state->refused, "the server refused %zu bytes at "
		    "offset %" PRIu64 ": %s", entry->size, entry->offset, err_text((int)reply->error));
	pending_drop(state, entry);
}

/* Reads replies until the one for HANDLE (its error in *ERROR); others are writes'. */
static int wait_handle(struct store *store, uint64_t handle, uint32_t *error)
{
	struct nbd_backend *state = backend(store);
	struct nbd_reply reply;

	for (;;) {
		if (nbd_receive(state->nbd, &reply) != 0)
			return lost(store);
		if (reply.handle == handle) {
			*error = reply.error;
			return 0;
		}
		write_replied(state, &reply);
	}
}

/* Takes the replies already there, then waits until at most LIMIT bytes are in flight. */
static int drain(struct store *store, size_t limit)
{
	struct nbd_backend *state = backend(store);
	struct nbd_reply reply;
	int ready;

	while ((ready = nbd_ready(state->nbd)) == 1 && state->count) {
		if (nbd_receive(state->nbd, &reply) != 0)
			return lost(store);
		write_replied(state, &reply);
	}
	if (ready < 0)
		return lost(store);
	while (state->bytes > limit) {
		if (nbd_receive(state->nbd, &reply) != 0)
			return lost(store);
		write_replied(state, &reply);
	}
	return 0;
}

/* ---------------------------------------------------------------- connecting */

static int nbd_store_connect(struct store *store)
{
	struct nbd_backend *state;
	char why[512];
	int fd, transient;

	if (!store->backend && !(store->backend = calloc(1, sizeof(struct nbd_backend))))
		return store_fail_permanent(store, "out of memory");
	state = backend(store);
	fd = target_tcp_connect(store->target.host, target_port(&store->target), CONNECT_TIMEOUT,
	    why, sizeof why);
	if (fd < 0)
		return store_fail_transient(store, "unable to connect: %s", why);
	state->nbd = nbd_open(fd, store->target.path, STALL, why, sizeof why, &transient);
	if (!state->nbd)
		/* Once the export was opened, it is known to exist: whatever fails now may pass. */
		return transient || state->opened_once ? store_fail_transient(store, "%s", why)
		    : store_fail_permanent(store, "%s", why);
	if (state->opened_once && nbd_size(state->nbd) != state->export_size)
		return store_fail_permanent(store, "the export '%s' changed size from %" PRIu64 " to %"
		    PRIu64 " bytes while imaging", store->target.path, state->export_size,
		    nbd_size(state->nbd));
	state->export_size = nbd_size(state->nbd);
	if (nbd_flags(state->nbd) & NBD_FLAG_READ_ONLY)
		return store_fail_permanent(store, "the export '%s' is read-only (qemu-nbd without -r, "
		    "nbd-server with readonly = false)", store->target.path);
	if (state->export_size < (uint64_t)TAIL + HEADER)
		return store_fail_permanent(store, "the export '%s' is %" PRIu64 " bytes: too small "
		    "even for the map in its last 1 MiB", store->target.path, state->export_size);
	state->opened_once = 1;
	return 0;
}

static void nbd_store_disconnect(struct store *store)
{
	struct nbd_backend *state = backend(store);

	if (!state)
		return;
	nbd_close(state->nbd);
	state->nbd = NULL;
}

static void nbd_store_release(struct store *store)
{
	struct nbd_backend *state = backend(store);

	if (!state)
		return;
	while (state->count)
		pending_drop(state, &state->pending[0]);
	free(state->pending);
	free(state->slots[0].text);
	free(state->slots[1].text);
	free(state);
	store->backend = NULL;
}

/* ---------------------------------------------------------------- reading */

/* SIZE bytes at POSITION of the export, one request at a time once every write is in. */
static int read_export(struct store *store, void *data, size_t size, uint64_t position)
{
	struct nbd_backend *state = backend(store);
	size_t done = 0, chunk;
	uint32_t error;

	if (drain(store, 0) != 0)
		return -1;
	while (done < size) {
		uint64_t handle = state->next_handle++;

		chunk = size - done < NBD_REQUEST_MAX ? size - done : NBD_REQUEST_MAX;
		if (nbd_send(state->nbd, NBD_CMD_READ, handle, position + done, (uint32_t)chunk,
		    NULL) != 0 || wait_handle(store, handle, &error) != 0)
			return lost(store);
		if (error)
			return store_fail_permanent(store, "unable to read %zu bytes at offset %" PRIu64
			    " of the export: %s", chunk, position + done, err_text((int)error));
		if (nbd_data(state->nbd, (unsigned char *)data + done, chunk) != 0)
			return lost(store);
		done += chunk;
	}
	return 0;
}

static ssize_t nbd_store_pread(struct store *store, void *data, size_t size,
    uint64_t position)
{
	struct nbd_backend *state = backend(store);
	uint64_t end = usable_size(state);

	if (!state->nbd || nbd_broken(state->nbd))
		return lost(store);
	if (position >= end)
		return 0;
	if (size > end - position)
		size = (size_t)(end - position);
	return read_export(store, data, size, position) == 0 ? (ssize_t)size : -1;
}

/* ---------------------------------------------------------------- the image */

static int load_tail(struct store *store);
static int newest(const struct nbd_backend *state);
static int other_image(struct store *store, const struct nbd_map_slot *slot);

/* The image's room: the export less its tail. An export holding another NAME's map is
 * refused here, before anything is written (the name counts from here on, store.h). */
static int nbd_store_image_open(struct store *store, uint64_t *size)
{
	struct nbd_backend *state = backend(store);
	uint64_t wanted = store->expected_size;
	int current;

	if (load_tail(store) != 0)
		return -1;
	current = newest(state);
	if (current >= 0 && strcmp(state->slots[current].name, store->name) != 0)
		return other_image(store, &state->slots[current]);
	if (wanted && wanted > usable_size(state))
		return store_fail_permanent(store, "the export '%s' is %" PRIu64 " bytes, too "
		    "small for an image of %" PRIu64 " bytes and its map (the export's last 1 MiB): "
		    "make it at least %" PRIu64 " bytes (the image + 1048576)", store->target.path,
		    state->export_size, wanted, wanted + TAIL);
	*size = usable_size(state);
	return 0;
}

static int send_write(struct nbd_backend *state, struct pending *entry)
{
	entry->handle = state->next_handle++;
	return nbd_send(state->nbd, NBD_CMD_WRITE, entry->handle, entry->offset,
	    (uint32_t)entry->size, entry->data);
}

static struct pending *pending_add(struct nbd_backend *state, const void *data, size_t size,
    uint64_t position)
{
	struct pending *entry;

	if (state->count == state->capacity) {
		size_t capacity = state->capacity ? state->capacity * 2 : 64;
		struct pending *bigger = realloc(state->pending, capacity * sizeof *bigger);

		if (!bigger)
			return NULL;
		state->pending = bigger;
		state->capacity = capacity;
	}
	entry = &state->pending[state->count];
	entry->data = malloc(size);
	if (!entry->data)
		return NULL;
	memcpy(entry->data, data, size);
	entry->offset = position;
	entry->size = size;
	state->count++;
	state->bytes += size;
	return entry;
}

/* The data is copied and kept until acknowledged: 0 means taken, even if the connection
 * broke while sending (store_reconnect sends it again). */
static int nbd_store_pwrite(struct store *store, const void *data, size_t size,
    uint64_t position)
{
	struct nbd_backend *state = backend(store);
	const unsigned char *bytes = data;
	struct pending *entry;
	size_t chunk;

	if (!state->nbd || nbd_broken(state->nbd))
		return lost(store);
	if (state->refused[0])
		return refused(store);
	if (position + size > usable_size(state))
		return store_fail_permanent(store, "the export '%s' is %" PRIu64 " bytes: it holds an "
		    "image of at most %" PRIu64 " bytes before its map (its last 1 MiB), unable "
		    "to write up to byte %" PRIu64 "; make it the source's size + 1048576 bytes",
		    store->target.path, state->export_size, usable_size(state), position + size);
	while (size) {
		chunk = size < NBD_REQUEST_MAX ? size : NBD_REQUEST_MAX;
		entry = pending_add(state, bytes, chunk, position);
		if (!entry)
			return store_fail_permanent(store, "out of memory for writes in flight");
		send_write(state, entry);
		bytes += chunk, position += chunk, size -= chunk;
	}
	if (drain(store, IN_FLIGHT) != 0)
		return nbd_broken(state->nbd) ? 0 : -1;
	return state->refused[0] ? refused(store) : 0;
}

static int nbd_store_resend(struct store *store)
{
	struct nbd_backend *state = backend(store);
	size_t i;

	for (i = 0; i < state->count; i++)
		if (send_write(state, &state->pending[i]) != 0)
			return lost(store);
	return drain(store, IN_FLIGHT);
}

/* Every write acknowledged, then NBD_CMD_FLUSH when the server has it. */
static int nbd_store_flush(struct store *store)
{
	struct nbd_backend *state = backend(store);
	uint64_t handle;
	uint32_t error;

	if (!state->nbd || nbd_broken(state->nbd))
		return lost(store);
	if (drain(store, 0) != 0)
		return -1;
	if (state->refused[0])
		return refused(store);
	if (!(nbd_flags(state->nbd) & NBD_FLAG_SEND_FLUSH))
		return 0;
	handle = state->next_handle++;
	if (nbd_send(state->nbd, NBD_CMD_FLUSH, handle, 0, 0, NULL) != 0
	    || wait_handle(store, handle, &error) != 0)
		return lost(store);
	if (error)
		return store_fail_permanent(store, "the server could not flush the export: %s",
		    err_text((int)error));
	return 0;
}

/* Nothing fits past the image: the export's size is fixed. */
static int nbd_store_free_space(struct store *store, uint64_t *bytes)
{
	(void)store;
	*bytes = 0;
	return 0;
}

/* ---------------------------------------------------------------- the map in the tail */

/* The newest good slot (0 or 1), or -1 when neither is. */
static int newest(const struct nbd_backend *state)
{
	const struct nbd_map_slot *slots = state->slots;

	if (slots[0].valid && (!slots[1].valid || slots[0].sequence > slots[1].sequence))
		return 0;
	return slots[1].valid ? 1 : -1;
}

/* Reads both slots, once: afterwards they change only through nbd_store_replace. */
static int load_tail(struct store *store)
{
	struct nbd_backend *state = backend(store);
	unsigned char *raw;

	if (!state->tail_loaded) {
		raw = malloc(TAIL);
		if (!raw)
			return store_fail_permanent(store, "out of memory");
		if (read_export(store, raw, TAIL, state->export_size - TAIL) != 0) {
			free(raw);
			return -1;
		}
		nbd_map_slot_parse(raw, SLOT, &state->slots[0]);
		nbd_map_slot_parse(raw + SLOT, SLOT, &state->slots[1]);
		free(raw);
		state->tail_loaded = 1;
	}
	return 0;
}

/* The export holds the image of another NAME than ours: never overwritten. */
static int other_image(struct store *store, const struct nbd_map_slot *slot)
{
	return store_fail_permanent(store, "the export '%s' holds the image of %s (its map in the "
	    "export's last 1 MiB says so): use --name %s to resume it, or another export",
	    store->target.path, slot->name, slot->name);
}

/* Which slot FILE is: 0 for BASE.map, 1 for BASE.bak (BASE copied out), -1 (failed) for
 * anything else. */
static int which_file(struct store *store, const char *file, char *base, size_t base_size)
{
	size_t length = strlen(file);
	int slot = length > 4 && strcmp(file + length - 4, ".map") == 0 ? 0
	    : length > 4 && strcmp(file + length - 4, ".bak") == 0 ? 1 : -1;

	if (slot < 0 || length - 4 >= base_size)
		return store_fail_permanent(store, "unable to keep %s: an nbd:// export holds only the "
		    "image and its map", file);
	memcpy(base, file, length - 4);
	base[length - 4] = '\0';
	return slot;
}

/* BASE.map or BASE.bak, whatever NAME the store was opened with (rescue verify opens it
 * once and looks for each device's map); a map of another NAME is "none". */
static int nbd_store_get(struct store *store, const char *name, char **data, size_t *size)
{
	struct nbd_backend *state = backend(store);
	char base[NAME_SIZE];
	int file = which_file(store, name, base, sizeof base), current;
	const struct nbd_map_slot *slot;

	if (file < 0)
		return -1;
	if (!state->nbd || nbd_broken(state->nbd))
		return lost(store);
	if (load_tail(store) != 0)
		return -1;
	current = newest(state);
	if (current < 0)
		return 1;
	if (strcmp(state->slots[current].name, base) != 0)
		return 1;
	slot = &state->slots[file == 0 ? current : !current];
	if (!slot->valid || strcmp(slot->name, base) != 0)
		return 1;
	*data = malloc(slot->length + 1);
	if (!*data)
		return store_fail_permanent(store, "out of memory");
	memcpy(*data, slot->text, slot->length + 1);
	*size = slot->length;
	return 0;
}

/* Into the slot not holding the newest map, flushed before it counts. */
static int nbd_store_replace(struct store *store, const char *name, const void *data,
    size_t size)
{
	struct nbd_backend *state = backend(store);
	int current, target;
	uint64_t handle, sequence;
	unsigned char *raw;
	size_t length;
	uint32_t error;
	char base[NAME_SIZE];
	int file = which_file(store, name, base, sizeof base);

	if (file < 0)
		return -1;
	if (file != 0 || strcmp(base, store->name) != 0)
		return store_fail_permanent(store, "unable to replace %s: the export holds %s.map only "
		    "(and keeps its backup itself)", name, store->name);
	if (size > SLOT - HEADER)
		return store_fail_permanent(store, "the map (%zu bytes) does not fit in the export's "
		    "map area (%d bytes)", size, SLOT - HEADER);
	if (!state->nbd || nbd_broken(state->nbd))
		return lost(store);
	if (load_tail(store) != 0)
		return -1;
	current = newest(state);
	if (current >= 0 && strcmp(state->slots[current].name, store->name) != 0)
		return other_image(store, &state->slots[current]);
	target = current == 0 ? 1 : 0;
	sequence = current < 0 ? 1 : state->slots[current].sequence + 1;
	length = (HEADER + size + 511) / 512 * 512;
	raw = calloc(1, length);
	if (!raw)
		return store_fail_permanent(store, "out of memory");
	nbd_map_slot_format(raw, store->name, sequence, data, size);
	handle = state->next_handle++;
	if (nbd_send(state->nbd, NBD_CMD_WRITE, handle, state->export_size - TAIL
	    + (uint64_t)target * SLOT, (uint32_t)length, raw) != 0
	    || wait_handle(store, handle, &error) != 0) {
		free(raw);
		return lost(store);
	}
	if (error) {
		free(raw);
		return store_fail_permanent(store, "the server refused the map's write: %s",
		    err_text((int)error));
	}
	if (nbd_store_flush(store) != 0) {
		free(raw);
		return -1;
	}
	nbd_map_slot_parse(raw, length, &state->slots[target]);
	free(raw);
	return 0;
}

const struct store_ops store_ops_nbd = {
	.scheme = "nbd",
	.connect = nbd_store_connect,
	.disconnect = nbd_store_disconnect,
	.image_open = nbd_store_image_open,
	.pwrite = nbd_store_pwrite,
	.pread = nbd_store_pread,
	.flush = nbd_store_flush,
	.get = nbd_store_get,
	.replace = nbd_store_replace,
	.free_space = nbd_store_free_space,
	.resend = nbd_store_resend,
	.release = nbd_store_release,
};
