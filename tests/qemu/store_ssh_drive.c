/* store_ssh_drive.c: drives the real store.h (ssh:// through dbclient and SFTP) on the
 * host, the way `rescue image` does, for test_store_ssh.py: built from src/ with the host's
 * gcc and run against OpenSSH's sshd, through a proxy that cuts the connection.
 *
 *   store_ssh_drive key                      prints the client's public key line
 *   store_ssh_drive copy URL NAME SOURCE [N] writes SOURCE as NAME.img, 1 MiB blocks in a
 *                                            scattered order, flush + NAME.map every N MiB
 *                                            (default 4; 0: only at the end), then reads the
 *                                            image back through the store
 *   store_ssh_drive fail URL                 opens the store once: prints the error
 *
 * A transient failure is retried like the image command does (reconnect, the same call
 * again) and printed as "retry N: MESSAGE"; a permanent one ends with exit 3.
 * copy ends with "wrote BYTES bytes in SECONDS s" and exit 0 when the read-back matched.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "target/store.h"
#include "target/target.h"
#include "target/target_ops.h"

enum { BLOCK = 1 << 20, RETRIES_MAX = 200 };

static int retries;

static double now(void)
{
	struct timespec time;

	clock_gettime(CLOCK_MONOTONIC, &time);
	return (double)time.tv_sec + time.tv_nsec / 1e9;
}

/* After a failure: exit 3 when permanent, else reconnect until it works. */
static void recover(struct store *store)
{
	struct timespec pause = { 0, 200 * 1000 * 1000 };

	for (;;) {
		if (!store_transient(store)) {
			fprintf(stderr, "permanent: %s\n", store_error(store));
			exit(3);
		}
		if (++retries > RETRIES_MAX) {
			fprintf(stderr, "gave up: %s\n", store_error(store));
			exit(3);
		}
		fprintf(stderr, "retry %d: %s\n", retries, store_error(store));
		nanosleep(&pause, NULL);
		if (store_reconnect(store) == 0)
			return;
	}
}

static void save_map(struct store *store, const char *name, size_t blocks)
{
	char map[64], text[64];
	int length = snprintf(text, sizeof text, "blocks %zu\n", blocks);

	snprintf(map, sizeof map, "%s.map", name);
	while (store_flush(store) != 0 || store_replace(store, map, text, (size_t)length) != 0)
		recover(store);
}

static struct store *open_store(const char *url, const char *name)
{
	struct target target;
	struct store *store;
	char why[2048];
	int transient;

	if (target_parse(url, &target, why, sizeof why) != 0) {
		fprintf(stderr, "bad url: %s\n", why);
		exit(2);
	}
	store = store_open(&target, name, why, sizeof why, &transient);
	if (!store) {
		printf("%s (%s)\n", why, transient ? "transient" : "permanent");
		exit(3);
	}
	return store;
}

static unsigned char *slurp(const char *path, size_t *size)
{
	FILE *file = fopen(path, "rb");
	unsigned char *data;
	long length;

	if (!file || fseek(file, 0, SEEK_END) != 0 || (length = ftell(file)) < 0)
		exit(4);
	rewind(file);
	data = malloc((size_t)length + 1);
	if (!data || fread(data, 1, (size_t)length, file) != (size_t)length)
		exit(4);
	fclose(file);
	*size = (size_t)length;
	return data;
}

/* Every block once, in the order 0, 2, 4, ... then 1, 3, 5, ...: positions matter. */
static size_t block_at(size_t index, size_t count)
{
	size_t evens = (count + 1) / 2;

	return index < evens ? index * 2 : (index - evens) * 2 + 1;
}

static int verify(struct store *store, const char *name, const unsigned char *source,
    size_t size)
{
	unsigned char *back = malloc(size + 1);
	char map[64], *text;
	size_t map_size, done = 0;
	ssize_t got;

	while (done < size) {
		got = store_pread(store, back + done, size - done, done);
		if (got < 0) {
			recover(store);
			continue;
		}
		if (got == 0)
			break;
		done += (size_t)got;
	}
	snprintf(map, sizeof map, "%s.map", name);
	while (store_get(store, map, &text, &map_size) < 0)
		recover(store);
	printf("read back %zu bytes, map: %s", done, text);
	free(text);
	if (done != size || memcmp(back, source, size) != 0) {
		printf("read back differs\n");
		return 1;
	}
	free(back);
	return 0;
}

static int copy(const char *url, const char *name, const char *path, size_t map_every)
{
	size_t size, count, i, block, length;
	unsigned char *source = slurp(path, &size);
	struct store *store = open_store(url, name);
	uint64_t image_size, space;
	double start;
	int rc;

	while (store_image_open(store, &image_size) != 0)
		recover(store);
	if (store_free_space(store, &space) == 0)
		printf("free space %llu bytes\n", (unsigned long long)space);
	count = (size + BLOCK - 1) / BLOCK;
	start = now();
	for (i = 0; i < count; i++) {
		block = block_at(i, count);
		length = size - block * BLOCK < BLOCK ? size - block * BLOCK : BLOCK;
		while (store_pwrite(store, source + block * BLOCK, length, (uint64_t)block * BLOCK))
			recover(store);
		if (map_every && (i + 1) % map_every == 0)
			save_map(store, name, i + 1);
	}
	printf("sent %zu bytes in %.3f s\n", size, now() - start);
	save_map(store, name, count);
	printf("wrote %zu bytes in %.3f s with %d retries\n", size, now() - start, retries);
	rc = verify(store, name, source, size);
	store_close(store);
	free(source);
	return rc;
}

int main(int argc, char **argv)
{
	char key[4096], line[4096], why[1024];

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc == 2 && strcmp(argv[1], "key") == 0) {
		if (target_client_key(key, sizeof key, line, sizeof line, why, sizeof why) != 0) {
			fprintf(stderr, "%s\n", why);
			return 3;
		}
		printf("%s\n", line);
		return 0;
	}
	if ((argc == 5 || argc == 6) && strcmp(argv[1], "copy") == 0)
		return copy(argv[2], argv[3], argv[4], argc == 6 ? strtoul(argv[5], NULL, 10) : 4);
	if (argc == 3 && strcmp(argv[1], "fail") == 0) {
		store_close(open_store(argv[2], "probe"));
		printf("connected\n");
		return 0;
	}
	fprintf(stderr, "usage: store_ssh_drive key | copy URL NAME SOURCE [N] | fail URL\n");
	return 2;
}
