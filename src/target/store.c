/* store.c: the scheme-independent half of store.h: picking the backend, keeping the last
 * error, and the reconnect sequence. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/err.h"

#include "target/store.h"
#include "target/target_ops.h"

extern const struct store_ops store_ops_file;
extern const struct store_ops store_ops_ssh;
extern const struct store_ops store_ops_nbd;
extern const struct store_ops store_ops_tcp;

/* The backends, one file each (store_SCHEME.c). A scheme without one is refused by name. */
static const struct store_ops *backend_for(enum target_scheme scheme)
{
	switch (scheme) {
	case TARGET_FILE: return &store_ops_file;
	case TARGET_NFS: return &store_ops_file;	/* a mounted share: netmount.h */
	case TARGET_SMB: return &store_ops_file;
	case TARGET_SSH: return &store_ops_ssh;
	case TARGET_NBD: return &store_ops_nbd;
	case TARGET_TCP: return &store_ops_tcp;
	}
	return NULL;
}

static int store_vfail(struct store *store, int transient, const char *format, va_list args)
{
	int length;

	length = snprintf(store->error, sizeof store->error, "%s: ", store->target.display);
	if (length < 0 || (size_t)length >= sizeof store->error)
		length = 0;
	vsnprintf(store->error + length, sizeof store->error - length, format, args);
	store->transient = transient;
	return -1;
}

int store_fail_permanent(struct store *store, const char *format, ...)
{
	va_list args;

	va_start(args, format);
	store_vfail(store, 0, format, args);
	va_end(args);
	return -1;
}

int store_fail_transient(struct store *store, const char *format, ...)
{
	va_list args;

	va_start(args, format);
	store_vfail(store, 1, format, args);
	va_end(args);
	return -1;
}

const char *store_error(const struct store *store)
{
	return store->error;
}

int store_transient(const struct store *store)
{
	return store->transient;
}

struct store *store_open(const struct target *target, const char *name, char *why,
    size_t why_size, int *transient)
{
	const struct store_ops *ops = backend_for(target->scheme);
	struct store *store;

	*transient = 0;
	if (!ops) {
		snprintf(why, why_size, "%s: %s:// targets cannot hold an image yet",
		    target->display, target_scheme_name(target->scheme));
		return NULL;
	}
	if (strlen(name) >= sizeof store->name || !name[0] || strchr(name, '/')) {
		snprintf(why, why_size, "%s: not a usable image name", name);
		return NULL;
	}
	store = calloc(1, sizeof *store);
	if (!store) {
		snprintf(why, why_size, "%s: %s", target->display, err_text(errno));
		return NULL;
	}
	store->ops = ops;
	store->target = *target;
	store_set_name(store, name);
	if (ops->connect(store) < 0) {
		snprintf(why, why_size, "%s", store->error);
		*transient = store->transient;
		store_close(store);
		return NULL;
	}
	return store;
}

void store_set_name(struct store *store, const char *name)
{
	snprintf(store->name, sizeof store->name, "%s", name);
	snprintf(store->image_name, sizeof store->image_name, "%s.img", store->name);
}

void store_close(struct store *store)
{
	if (!store)
		return;
	store->ops->disconnect(store);
	if (store->ops->release)
		store->ops->release(store);
	memset(store->target.password, 0, sizeof store->target.password);
	free(store);
}

int store_reconnect(struct store *store)
{
	uint64_t size;

	store->ops->disconnect(store);
	if (store->ops->connect(store) < 0)
		return -1;
	if (store->image_opened && store->ops->image_open(store, &size) < 0)
		return -1;
	return store->ops->resend ? store->ops->resend(store) : 0;
}

int store_image_open(struct store *store, uint64_t *size)
{
	if (store->ops->image_open(store, size) < 0)
		return -1;
	store->image_opened = 1;
	return 0;
}

int store_holds_files(const struct store *store)
{
	return store->ops == &store_ops_file || store->ops == &store_ops_ssh;
}

/* A path below the target directory: relative, without empty, "." or ".." parts. */
static int below_target(const char *path)
{
	const char *part = path;

	if (!path[0] || path[0] == '/')
		return 0;
	for (;;) {
		size_t length = strcspn(part, "/");

		if (length == 0 || (length == 1 && part[0] == '.')
		    || (length == 2 && part[0] == '.' && part[1] == '.'))
			return 0;
		if (!part[length])
			return 1;
		part += length + 1;
	}
}

int store_image_open_named(struct store *store, const char *file, uint64_t *size)
{
	if (!store_holds_files(store))
		return store_fail_permanent(store, "unable to write %s: %s:// holds one stream or one "
		    "image, not files", file, store->ops->scheme);
	if (strlen(file) >= sizeof store->image_name || !below_target(file))
		return store_fail_permanent(store, "unable to write %s: not a file name below the "
		    "target directory", file);
	if (store->image_opened && store_flush(store) != 0)
		return -1;
	snprintf(store->image_name, sizeof store->image_name, "%s", file);
	return store_image_open(store, size);
}

void store_image_done(struct store *store)
{
	store->image_opened = 0;
}

int store_pwrite(struct store *store, const void *data, size_t size, uint64_t position)
{
	return store->ops->pwrite(store, data, size, position);
}

ssize_t store_pread(struct store *store, void *data, size_t size, uint64_t position)
{
	return store->ops->pread(store, data, size, position);
}

int store_flush(struct store *store)
{
	return store->ops->flush(store);
}

int store_get(struct store *store, const char *name, char **data, size_t *size)
{
	return store->ops->get(store, name, data, size);
}

int store_get_pieces(struct store *store, const char *name, store_piece_fn *piece,
    void *context)
{
	char *data;
	size_t size;
	int rc;

	if (store->ops->get_pieces)
		return store->ops->get_pieces(store, name, piece, context);
	if ((rc = store->ops->get(store, name, &data, &size)) != 0)
		return rc;
	rc = piece(context, data, size) ? 2 : 0;
	free(data);
	return rc;
}

int store_replace(struct store *store, const char *name, const void *data, size_t size)
{
	return store->ops->replace(store, name, data, size);
}

size_t store_give_one_piece(void *context, const char **piece)
{
	struct store_one_piece *one = context;

	if (one->given++ || one->size == 0)
		return 0;
	*piece = one->data;
	return one->size;
}

/* The pieces in one buffer, for the schemes that write a file in one go. */
static int replace_gathered(struct store *store, const char *name, store_producer_fn *produce,
    void *context)
{
	char *whole = NULL, *bigger;
	const char *piece;
	size_t size = 0, length;
	int rc;

	while ((length = produce(context, &piece)) > 0) {
		if (!(bigger = realloc(whole, size + length))) {
			free(whole);
			return store_fail_permanent(store, "unable to write %s: out of memory", name);
		}
		whole = bigger;
		memcpy(whole + size, piece, length);
		size += length;
	}
	rc = store->ops->replace(store, name, whole ? whole : "", size);
	free(whole);
	return rc;
}

int store_replace_pieces(struct store *store, const char *name, store_producer_fn *produce,
    void *context)
{
	if (store->ops->replace_pieces)
		return store->ops->replace_pieces(store, name, produce, context);
	return replace_gathered(store, name, produce, context);
}

int store_can_write_at(const struct store *store)
{
	return store->ops->write_at != NULL;
}

int store_write_at(struct store *store, const char *name, const void *data, size_t size,
    uint64_t position)
{
	if (!store->ops->write_at)
		return store_fail_permanent(store, "unable to write into %s: %s:// holds no files",
		    name, store->ops->scheme);
	return store->ops->write_at(store, name, data, size, position);
}

int store_rename(struct store *store, const char *old_name, const char *new_name)
{
	if (!store->ops->rename)
		return store_fail_permanent(store, "unable to rename %s: %s:// holds no files",
		    old_name,
		    store->ops->scheme);
	return store->ops->rename(store, old_name, new_name);
}

int store_size_of(struct store *store, const char *name, uint64_t *size)
{
	if (!store->ops->size_of)
		return store_fail_permanent(store, "unable to look for %s: %s:// holds no files", name,
		    store->ops->scheme);
	return store->ops->size_of(store, name, size);
}

int store_mkdir(struct store *store, const char *name)
{
	if (!store->ops->mkdir)
		return store_fail_permanent(store, "unable to make the directory %s: %s:// holds no "
		    "files", name, store->ops->scheme);
	if (!below_target(name))
		return store_fail_permanent(store, "unable to make the directory %s: not below the "
		    "target directory", name);
	return store->ops->mkdir(store, name);
}

int store_free_space(struct store *store, uint64_t *bytes)
{
	return store->ops->free_space ? store->ops->free_space(store, bytes) : 1;
}

enum { BACKOFF_MAX_SECONDS = 30 };

static void pause_seconds(int seconds, const volatile sig_atomic_t *stop)
{
	struct timespec pause = { 1, 0 };

	while (seconds-- > 0 && !*stop)
		nanosleep(&pause, NULL);
}

int store_recover(struct store *store, int give_up, const volatile sig_atomic_t *stop,
    char *failure, size_t failure_size)
{
	time_t first = time(NULL);
	int attempt, pause = 1;

	for (attempt = 1;; attempt++) {
		if (!store_transient(store) || *stop) {
			snprintf(failure, failure_size, "%s", store_error(store));
			return -1;
		}
		if (give_up >= 0 && time(NULL) - first >= give_up) {
			snprintf(failure, failure_size, "%s (gave up after %ld s)",
			    store_error(store), (long)(time(NULL) - first));
			return -1;
		}
		/* The last pause ends when give_up does, not up to 30 s later. */
		if (give_up >= 0 && pause > give_up - (time(NULL) - first))
			pause = (int)(give_up - (time(NULL) - first));
		err_warnx("%s; reconnecting in %d s (attempt %d)", store_error(store), pause,
		    attempt);
		pause_seconds(pause, stop);
		pause = pause * 2 > BACKOFF_MAX_SECONDS ? BACKOFF_MAX_SECONDS : pause * 2;
		if (*stop)
			continue;
		if (store_reconnect(store) == 0) {
			err_warnx("%s: reconnected", store->target.display);
			return 0;
		}
	}
}
