/* store_file.c: the file:// backend of store.h: the image and its map as files in a local
 * directory (RAM, a disk released with `rescue unguard`), and of nfs:// and smb://, whose
 * share the kernel mounts (netmount.h) so that it is a directory like any other.
 *
 * Writes are synchronous pwrite(2)s, so nothing is ever in flight and resend has nothing
 * to do; flush is fdatasync(2), after which the bytes are on the target's storage. Local
 * failures do not pass with time: every error here is permanent.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "base/err.h"
#include "target/netmount.h"
#include "target/store.h"
#include "target/target_ops.h"

struct file_backend {
	int image_fd;
	char dir[PATH_MAX];		/* the target's directory here (a share's mount) */
};

static struct file_backend *backend(struct store *store)
{
	return store->backend;
}

/* DIRECTORY/NAME, or -1 (with a permanent error) when it does not fit. */
static int path_of(struct store *store, const char *name, char *path, size_t size)
{
	if (snprintf(path, size, "%s/%s", backend(store)->dir, name) < (int)size)
		return 0;
	return store_fail_permanent(store, "the path %s/%s is too long", backend(store)->dir, name);
}

/* A share is mounted (or found mounted) first; a failure there may pass (the server is
 * down), so it is transient, while every local failure is permanent. */
static int find_directory(struct store *store)
{
	struct file_backend *state = backend(store);
	char why[PATH_MAX + 256];

	if (store->target.scheme == TARGET_FILE) {
		snprintf(state->dir, sizeof state->dir, "%s", store->target.path);
		return 0;
	}
	if (netmount_dir(&store->target, state->dir, sizeof state->dir, why, sizeof why) != 0)
		return store_fail_transient(store, "unable to mount: %s", why);
	return 0;
}

static int file_connect(struct store *store)
{
	struct stat status;
	char why[PATH_MAX + 256];
	const char *dir;

	if (!store->backend) {
		store->backend = calloc(1, sizeof(struct file_backend));
		if (!store->backend)
			return store_fail_permanent(store, "out of memory");
		backend(store)->image_fd = -1;
	}
	if (find_directory(store) != 0)
		return -1;
	dir = backend(store)->dir;
	if (stat(dir, &status) != 0)
		return store_fail_permanent(store, "unable to use the directory %s: %s", dir,
		    errno == ENOENT ? "no such directory (create it first)" : err_text(errno));
	if (!S_ISDIR(status.st_mode))
		return store_fail_permanent(store, "unable to use %s: not a directory", dir);
	if (target_file_guard_check(dir, why, sizeof why) != 0)
		return store_fail_permanent(store, "refused: %s", why);
	if (access(dir, W_OK) != 0)
		return store_fail_permanent(store, "unable to write into %s: %s", dir, err_text(errno));
	return 0;
}

static void file_disconnect(struct store *store)
{
	if (store->backend && backend(store)->image_fd >= 0) {
		close(backend(store)->image_fd);
		backend(store)->image_fd = -1;
	}
}

static int file_image_open(struct store *store, uint64_t *size)
{
	char path[PATH_MAX];
	struct stat status;
	int fd;

	if (path_of(store, store->image_name, path, sizeof path) != 0)
		return -1;
	file_disconnect(store);
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0)
		return store_fail_permanent(store, "unable to open %s: %s", path, err_text(errno));
	if (fstat(fd, &status) != 0) {
		close(fd);
		return store_fail_permanent(store, "unable to stat %s: %s", path, err_text(errno));
	}
	backend(store)->image_fd = fd;
	*size = (uint64_t)status.st_size;
	return 0;
}

/* A full target is named as such: it is the one failure the user can act on at once. */
static int write_failed(struct store *store, const char *file, uint64_t position, size_t size)
{
	if (errno == ENOSPC || errno == EDQUOT || errno == EFBIG)
		return store_fail_permanent(store, "target full: unable to write %zu bytes of %s at %"
		    PRIu64 ": %s", size, file, position, err_text(errno));
	return store_fail_permanent(store, "unable to write %zu bytes of %s at %" PRIu64 ": %s",
	    size,
	    file, position, err_text(errno));
}

static int file_pwrite(struct store *store, const void *data, size_t size, uint64_t position)
{
	const char *bytes = data;
	size_t done = 0;

	while (done < size) {
		ssize_t wrote = pwrite(backend(store)->image_fd, bytes + done, size - done,
		    (off_t)(position + done));

		if (wrote < 0 && errno == EINTR)
			continue;
		if (wrote <= 0) {
			if (wrote == 0)
				errno = ENOSPC;
			return write_failed(store, store->image_name, position + done,
			    size - done);
		}
		done += (size_t)wrote;
	}
	return 0;
}

static ssize_t file_pread(struct store *store, void *data, size_t size, uint64_t position)
{
	ssize_t got;

	do
		got = pread(backend(store)->image_fd, data, size, (off_t)position);
	while (got < 0 && errno == EINTR);
	if (got < 0)
		return store_fail_permanent(store, "unable to read %s at %" PRIu64 ": %s",
		    store->image_name,
		    position, err_text(errno));
	return got;
}

static int file_flush(struct store *store)
{
	if (fdatasync(backend(store)->image_fd) != 0)
		return store_fail_permanent(store, "unable to flush %s to storage: %s",
		    store->image_name,
		    err_text(errno));
	return 0;
}

static int read_whole(int fd, char **data, size_t *size)
{
	char *buffer = NULL;
	size_t used = 0, capacity = 0;
	ssize_t got;

	do {
		if (used + 4096 + 1 > capacity) {
			char *bigger = realloc(buffer, capacity = 2 * capacity + 8192);

			if (!bigger) {
				free(buffer);
				errno = ENOMEM;
				return -1;
			}
			buffer = bigger;
		}
		got = read(fd, buffer + used, capacity - used - 1);
		if (got > 0)
			used += (size_t)got;
	} while (got > 0 || (got < 0 && errno == EINTR));
	if (got < 0) {
		free(buffer);
		return -1;
	}
	buffer[used] = '\0';
	*data = buffer;
	*size = used;
	return 0;
}

static int file_get(struct store *store, const char *name, char **data, size_t *size)
{
	char path[PATH_MAX];
	int fd;

	if (path_of(store, name, path, sizeof path) != 0)
		return -1;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT)
		return 1;
	if (fd < 0 || read_whole(fd, data, size) != 0) {
		store_fail_permanent(store, "unable to read %s: %s", path, err_text(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

static int file_get_pieces(struct store *store, const char *name, store_piece_fn *piece,
    void *context)
{
	char path[PATH_MAX], buffer[65536];
	ssize_t got;
	int fd, rc = 0;

	if (path_of(store, name, path, sizeof path) != 0)
		return -1;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT)
		return 1;
	if (fd < 0)
		return store_fail_permanent(store, "unable to read %s: %s", path, err_text(errno));
	while (rc == 0 && ((got = read(fd, buffer, sizeof buffer)) > 0
	    || (got < 0 && errno == EINTR)))
		if (got > 0 && piece(context, buffer, (size_t)got) != 0)
			rc = 2;
	if (rc == 0 && got < 0)
		rc = store_fail_permanent(store, "unable to read %s: %s", path, err_text(errno));
	close(fd);
	return rc;
}

/* Writes SIZE bytes of DATA to FD at its position: 0, or -1 with errno. */
static int write_all(int fd, const char *data, size_t size, size_t *done)
{
	size_t at = 0;

	while (at < size) {
		ssize_t wrote = write(fd, data + at, size - at);

		if (wrote < 0 && errno == EINTR)
			continue;
		if (wrote == 0)
			errno = ENOSPC;
		if (wrote <= 0)
			return -1;
		at += (size_t)wrote;
		*done += (size_t)wrote;
	}
	return 0;
}

static int write_temporary(struct store *store, const char *name, store_producer_fn *produce,
    void *context, char *temporary, size_t temporary_size)
{
	const char *slash = strrchr(name, '/'), *piece;
	int folder = slash ? (int)(slash - name + 1) : 0, failed = 0;
	size_t done = 0, length = 0;
	int fd;

	/* Beside NAME, in its folder when it has one ("vda.db/report.json"), so that the
	 * rename stays within one directory. */
	if (snprintf(temporary, temporary_size, "%s/%.*s.%s.XXXXXX", backend(store)->dir, folder,
	    name, name + folder) >= (int)temporary_size)
		return store_fail_permanent(store, "the path %s/%s is too long", backend(store)->dir,
		    name);
	fd = mkstemp(temporary);
	if (fd < 0)
		return write_failed(store, temporary, 0, 0);
	fchmod(fd, 0644);
	while (!failed && (length = produce(context, &piece)) > 0)
		failed = write_all(fd, piece, length, &done) != 0;
	if (failed || fsync(fd) != 0) {
		write_failed(store, temporary, done, failed ? length : 0);
		close(fd);
		unlink(temporary);
		return -1;
	}
	close(fd);
	return 0;
}

static void sync_directory(struct store *store)
{
	int directory = open(backend(store)->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (directory >= 0) {
		fsync(directory);
		close(directory);
	}
}

/* NAME.bak becomes what NAME is now. A hard link keeps NAME in place all along; where the
 * file system has none (vfat, SMB) NAME is renamed, and for a moment only NAME.bak holds
 * the previous content: still a whole map. */
static int keep_backup(struct store *store, const char *path)
{
	char backup[PATH_MAX + 8];

	snprintf(backup, sizeof backup, "%s.bak", path);
	if (access(path, F_OK) != 0)
		return 0;
	if (unlink(backup) != 0 && errno != ENOENT)
		return store_fail_permanent(store, "unable to remove %s: %s", backup, err_text(errno));
	if (link(path, backup) == 0 || rename(path, backup) == 0)
		return 0;
	return store_fail_permanent(store, "unable to keep %s as %s: %s", path, backup,
	    err_text(errno));
}

static int file_replace_pieces(struct store *store, const char *name, store_producer_fn *produce,
    void *context)
{
	char path[PATH_MAX], temporary[PATH_MAX];

	if (path_of(store, name, path, sizeof path) != 0
	    || write_temporary(store, name, produce, context, temporary, sizeof temporary) != 0)
		return -1;
	if (keep_backup(store, path) != 0) {
		unlink(temporary);
		return -1;
	}
	if (rename(temporary, path) != 0) {
		store_fail_permanent(store, "unable to rename %s to %s: %s", temporary, path,
		    err_text(errno));
		unlink(temporary);
		return -1;
	}
	/* The rename itself is only durable once the directory is on storage too. */
	sync_directory(store);
	return 0;
}

static int file_replace(struct store *store, const char *name, const void *data, size_t size)
{
	struct store_one_piece one = { data, size, 0 };

	return file_replace_pieces(store, name, store_give_one_piece, &one);
}

static int file_write_at(struct store *store, const char *name, const void *data, size_t size,
    uint64_t position)
{
	char path[PATH_MAX];
	const char *bytes = data;
	size_t done = 0;
	int fd;

	if (path_of(store, name, path, sizeof path) != 0)
		return -1;
	fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0)
		return write_failed(store, path, position, size);
	while (done < size) {
		ssize_t wrote = pwrite(fd, bytes + done, size - done, (off_t)(position + done));

		if (wrote < 0 && errno == EINTR)
			continue;
		if (wrote == 0)
			errno = ENOSPC;
		if (wrote <= 0)
			break;
		done += (size_t)wrote;
	}
	if (done < size || fsync(fd) != 0) {
		write_failed(store, path, position + done, size - done);
		close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

static int file_size_of(struct store *store, const char *name, uint64_t *size)
{
	char path[PATH_MAX];
	struct stat status;

	if (path_of(store, name, path, sizeof path) != 0)
		return -1;
	if (stat(path, &status) != 0)
		return errno == ENOENT ? 1 : store_fail_permanent(store, "unable to stat %s: %s", path,
		    err_text(errno));
	*size = (uint64_t)status.st_size;
	return 0;
}

static int file_rename(struct store *store, const char *old_name, const char *new_name)
{
	char old_path[PATH_MAX], new_path[PATH_MAX];

	if (path_of(store, old_name, old_path, sizeof old_path) != 0
	    || path_of(store, new_name, new_path, sizeof new_path) != 0)
		return -1;
	if (rename(old_path, new_path) != 0 && !(errno == ENOENT && access(new_path, F_OK) == 0))
		return store_fail_permanent(store, "unable to rename %s to %s: %s", old_path, new_path,
		    err_text(errno));
	sync_directory(store);
	return 0;
}

static int file_mkdir(struct store *store, const char *name)
{
	char path[PATH_MAX];

	if (path_of(store, name, path, sizeof path) != 0)
		return -1;
	if (mkdir(path, 0755) != 0 && errno != EEXIST)
		return store_fail_permanent(store, "unable to make the directory %s: %s", path,
		    err_text(errno));
	return 0;
}

static int file_free_space(struct store *store, uint64_t *bytes)
{
	struct statvfs status;

	if (statvfs(backend(store)->dir, &status) != 0)
		return store_fail_permanent(store, "unable to read the free space of %s: %s",
		    backend(store)->dir, err_text(errno));
	*bytes = (uint64_t)status.f_bavail * status.f_frsize;
	return 0;
}

static void file_release(struct store *store)
{
	free(store->backend);
	store->backend = NULL;
}

const struct store_ops store_ops_file = {
	.scheme = "file",
	.connect = file_connect,
	.disconnect = file_disconnect,
	.image_open = file_image_open,
	.pwrite = file_pwrite,
	.pread = file_pread,
	.flush = file_flush,
	.get = file_get,
	.get_pieces = file_get_pieces,
	.replace_pieces = file_replace_pieces,
	.replace = file_replace,
	.write_at = file_write_at,
	.size_of = file_size_of,
	.rename = file_rename,
	.mkdir = file_mkdir,
	.free_space = file_free_space,
	.resend = NULL,
	.release = file_release,
};
