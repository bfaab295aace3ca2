/* test_nbd.c: the nbd:// store (nbd.h, store_nbd.c) against a real qemu-nbd on a
 * loopback port: the handshake (a named export and the default one), writes read back at
 * their positions, flush, the map in the
 * export's last 1 MiB, each refusal (export too small, unknown export), a server gone
 * (transient), and writes the dead server never received sent again after a reconnect. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "target/nbd_map.h"
#include "target/store.h"
#include "target/target.h"

enum { IMAGE = 4 << 20, TAIL = 1 << 20 };

struct fixture {
	char dir[64];
	char file[128];
	unsigned port;
	pid_t server;
};

static unsigned free_port(void)
{
	struct sockaddr_in address = { .sin_family = AF_INET };
	socklen_t length = sizeof address;
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || bind(fd, (struct sockaddr *)&address, sizeof address) != 0
	    || getsockname(fd, (struct sockaddr *)&address, &length) != 0)
		abort();
	close(fd);
	return ntohs(address.sin_port);
}

static int port_open(unsigned port)
{
	struct sockaddr_in address = { .sin_family = AF_INET, .sin_port = htons(port) };
	int fd = socket(AF_INET, SOCK_STREAM, 0), rc;

	address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	rc = connect(fd, (struct sockaddr *)&address, sizeof address);
	close(fd);
	return rc == 0;
}

/* qemu-nbd serving the file as export "disk", persistent (it outlives each client). */
static void server_start(struct fixture *fixture)
{
	char port[16];
	int tries;

	snprintf(port, sizeof port, "%u", fixture->port);
	fixture->server = fork();
	assert_true(fixture->server >= 0);
	if (fixture->server == 0) {
		char log[160];
		int fd;

		snprintf(log, sizeof log, "%s/qemu-nbd.log", fixture->dir);	/* probes' noise */
		fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0600);
		if (fd >= 0)
			dup2(fd, 2);
		execlp("qemu-nbd", "qemu-nbd", "-f", "raw", "-x", "disk", "-b", "127.0.0.1", "-p",
		    port, "-t", fixture->file, (char *)NULL);
		_exit(127);
	}
	for (tries = 0; tries < 100 && !port_open(fixture->port); tries++)
		usleep(50000);
	assert_true(port_open(fixture->port));
}

static void server_kill(struct fixture *fixture)
{
	kill(fixture->server, SIGKILL);
	waitpid(fixture->server, NULL, 0);
	fixture->server = -1;
}

static int setup(void **state)
{
	struct fixture *fixture = calloc(1, sizeof *fixture);
	int fd;

	snprintf(fixture->dir, sizeof fixture->dir, "/tmp/rescue-nbd-XXXXXX");
	assert_non_null(mkdtemp(fixture->dir));
	snprintf(fixture->file, sizeof fixture->file, "%s/export.raw", fixture->dir);
	fd = open(fixture->file, O_RDWR | O_CREAT, 0600);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, IMAGE + TAIL), 0);
	close(fd);
	fixture->port = free_port();
	server_start(fixture);
	*state = fixture;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *fixture = *state;
	char command[128];

	if (fixture->server > 0)
		server_kill(fixture);
	snprintf(command, sizeof command, "rm -rf '%s'", fixture->dir);
	if (system(command) != 0)
		return -1;
	free(fixture);
	return 0;
}

static struct store *open_as(struct fixture *fixture, const char *export, const char *name,
    char *why, size_t why_size, int *transient)
{
	struct target target;
	char url[128];

	snprintf(url, sizeof url, "nbd://127.0.0.1:%u/%s", fixture->port, export);
	assert_int_equal(target_parse(url, &target, why, why_size), 0);
	return store_open(&target, name, why, why_size, transient);
}

static struct store *open_disk(struct fixture *fixture)
{
	char why[1200];
	int transient;
	struct store *store = open_as(fixture, "disk", "vdb", why, sizeof why, &transient);

	if (!store)
		fail_msg("store_open: %s", why);
	return store;
}

static void file_read(const struct fixture *fixture, void *data, size_t size, off_t position)
{
	int fd = open(fixture->file, O_RDONLY);

	assert_true(fd >= 0);
	assert_int_equal(pread(fd, data, size, position), (ssize_t)size);
	close(fd);
}

static void fill(unsigned char *data, size_t size, unsigned seed)
{
	size_t i;

	for (i = 0; i < size; i++)
		data[i] = (unsigned char)(i * 31 + seed);
}

static void test_writes_land_at_their_positions_and_read_back(void **state)
{
	struct fixture *fixture = *state;
	struct store *store = open_disk(fixture);
	static unsigned char data[3 << 20], back[3 << 20], zeros[4096];
	uint64_t size;
	const uint64_t positions[] = { 0, (1 << 20) + 512, IMAGE - 4096 };
	const size_t sizes[] = { 512, 2 << 20, 4096 };	/* 2 MiB: two requests */
	size_t i;

	store->expected_size = IMAGE;
	assert_int_equal(store_image_open(store, &size), 0);
	assert_int_equal(size, IMAGE);	/* the export less its map area */
	for (i = 0; i < 3; i++) {
		fill(data, sizes[i], (unsigned)i + 1);
		assert_int_equal(store_pwrite(store, data, sizes[i], positions[i]), 0);
	}
	assert_int_equal(store_flush(store), 0);
	for (i = 0; i < 3; i++) {
		fill(data, sizes[i], (unsigned)i + 1);
		memset(back, 0, sizes[i]);
		assert_int_equal(store_pread(store, back, sizes[i], positions[i]), (ssize_t)sizes[i]);
		assert_memory_equal(back, data, sizes[i]);
		file_read(fixture, back, sizes[i], (off_t)positions[i]);
		assert_memory_equal(back, data, sizes[i]);
	}
	file_read(fixture, back, 4096, 8192);	/* between writes: untouched */
	assert_memory_equal(back, zeros, 4096);
	/* reading past the image ends there, as a file would */
	assert_int_equal(store_pread(store, back, 8192, IMAGE - 4096), 4096);
	store_close(store);
}

static void test_map_lives_in_the_tail_and_survives_a_new_connection(void **state)
{
	struct fixture *fixture = *state;
	struct store *store = open_disk(fixture), *other;
	char *text, why[1200], raw[8];
	uint64_t image_size;
	size_t size;
	int transient, fd;

	assert_int_equal(store_get(store, "vdb.map", &text, &size), 1);
	assert_int_equal(store_replace(store, "vdb.map", "first map\n", 10), 0);
	assert_int_equal(store_replace(store, "vdb.map", "second map\n", 11), 0);
	assert_int_equal(store_get(store, "vdb.map", &text, &size), 0);
	assert_string_equal(text, "second map\n");
	assert_int_equal(size, 11);
	free(text);
	assert_int_equal(store_get(store, "vdb.bak", &text, &size), 0);
	assert_string_equal(text, "first map\n");
	free(text);
	assert_int_equal(store_get(store, "notes.txt", &text, &size), -1);
	assert_non_null(strstr(store_error(store), "only the image and its map"));
	store_close(store);

	file_read(fixture, raw, 8, IMAGE);	/* slot 0 holds the first map */
	assert_memory_equal(raw, "RSCUEMAP", 8);
	store = open_disk(fixture);	/* a new connection reads it from the export */
	assert_int_equal(store_get(store, "vdb.map", &text, &size), 0);
	assert_string_equal(text, "second map\n");
	free(text);
	store_close(store);

	other = open_as(fixture, "disk", "sdc", why, sizeof why, &transient);
	assert_non_null(other);
	assert_int_equal(store_get(other, "sdc.map", &text, &size), 1);
	assert_int_equal(store_image_open(other, &image_size), -1);	/* never overwritten */
	assert_non_null(strstr(store_error(other), "holds the image of vdb"));
	assert_non_null(strstr(store_error(other), "use --name vdb"));
	assert_int_equal(store_transient(other), 0);
	assert_int_equal(store_replace(other, "sdc.map", "x\n", 2), -1);
	assert_non_null(strstr(store_error(other), "holds the image of vdb"));
	/* rescue verify looks for each device's map under the name it opened the store with */
	assert_int_equal(store_get(other, "vdb.map", &text, &size), 0);
	assert_string_equal(text, "second map\n");
	free(text);
	assert_int_equal(store_get(other, "sda.map", &text, &size), 1);
	store_close(other);

	/* a torn write of the newest map (slot 1): the one before it is the map again */
	fd = open(fixture->file, O_RDWR);
	assert_int_equal(pwrite(fd, "X", 1, IMAGE + TAIL / 2 + 512 + 2), 1);
	close(fd);
	store = open_disk(fixture);
	assert_int_equal(store_get(store, "vdb.map", &text, &size), 0);
	assert_string_equal(text, "first map\n");
	free(text);
	store_close(store);
}

static void test_an_export_too_small_is_refused_with_the_size_to_give_it(void **state)
{
	struct fixture *fixture = *state;
	struct store *store = open_disk(fixture);
	unsigned char data[1024] = { 1 };
	uint64_t size;

	store->expected_size = IMAGE + 1;
	assert_int_equal(store_image_open(store, &size), -1);
	assert_non_null(strstr(store_error(store), "is 5242880 bytes"));
	assert_non_null(strstr(store_error(store), "an image of 4194305 bytes"));
	assert_non_null(strstr(store_error(store), "at least 5242881 bytes"));
	assert_int_equal(store_transient(store), 0);
	store->expected_size = 0;	/* not told: the write into the map area is refused */
	assert_int_equal(store_image_open(store, &size), 0);
	assert_int_equal(store_pwrite(store, data, sizeof data, IMAGE - 512), -1);
	assert_non_null(strstr(store_error(store), "at most 4194304 bytes"));
	assert_int_equal(store_transient(store), 0);
	store_close(store);
}

static void test_an_unknown_export_is_refused_by_name(void **state)
{
	struct fixture *fixture = *state;
	char why[1200];
	int transient = -1;

	assert_null(open_as(fixture, "nosuch", "vdb", why, sizeof why, &transient));
	assert_non_null(strstr(why, "no export named 'nosuch'"));
	assert_non_null(strstr(why, "nbd://127.0.0.1:"));
	assert_int_equal(transient, 0);
}

/* nbd://HOST:PORT without a path: the server's default export ("", qemu-nbd without -x). */
static void test_no_export_name_opens_the_default_export(void **state)
{
	struct fixture *fixture = *state;
	unsigned char data[512], back[512];
	char port[16], url[64], why[1200];
	struct target target;
	struct store *store;
	uint64_t size;
	int transient, tries;
	unsigned other = free_port();
	pid_t server = fork();

	assert_true(server >= 0);
	if (server == 0) {
		snprintf(port, sizeof port, "%u", other);
		execlp("qemu-nbd", "qemu-nbd", "-f", "raw", "-b", "127.0.0.1", "-p", port, "-t",
		    fixture->file, (char *)NULL);
		_exit(127);
	}
	for (tries = 0; tries < 100 && !port_open(other); tries++)
		usleep(50000);
	snprintf(url, sizeof url, "nbd://127.0.0.1:%u", other);
	assert_int_equal(target_parse(url, &target, why, sizeof why), 0);
	store = store_open(&target, "vdb", why, sizeof why, &transient);
	if (!store) {
		kill(server, SIGKILL);
		waitpid(server, NULL, 0);
		fail_msg("store_open: %s", why);
	}
	assert_int_equal(store_image_open(store, &size), 0);
	fill(data, sizeof data, 9);
	assert_int_equal(store_pwrite(store, data, sizeof data, 4096), 0);
	assert_int_equal(store_flush(store), 0);
	store_close(store);
	kill(server, SIGKILL);
	waitpid(server, NULL, 0);
	file_read(fixture, back, sizeof back, 4096);
	assert_memory_equal(back, data, sizeof back);
}

static void test_a_server_gone_is_transient(void **state)
{
	struct fixture *fixture = *state;
	struct store *store = open_disk(fixture);
	unsigned char data[65536] = { 7 };
	char why[1200];
	uint64_t size;
	int transient = -1, rc;

	assert_int_equal(store_image_open(store, &size), 0);
	server_kill(fixture);
	rc = store_pwrite(store, data, sizeof data, 0);
	if (rc == 0)	/* taken before the loss was seen: the flush sees it */
		rc = store_flush(store);
	assert_int_equal(rc, -1);
	assert_int_equal(store_transient(store), 1);
	assert_int_equal(store_reconnect(store), -1);	/* nobody listens */
	assert_int_equal(store_transient(store), 1);
	assert_non_null(strstr(store_error(store), "unable to connect"));
	store_close(store);
	assert_null(open_as(fixture, "disk", "vdb", why, sizeof why, &transient));
	assert_int_equal(transient, 1);
}

/* Writes the server took into its socket but never processed (stopped, then killed) are
 * not in the file; after the reconnect they are. */
static void test_unacknowledged_writes_are_sent_again_after_a_reconnect(void **state)
{
	struct fixture *fixture = *state;
	struct store *store = open_disk(fixture);
	static unsigned char data[128 << 10], back[128 << 10], zeros[128 << 10];
	uint64_t size;

	assert_int_equal(store_image_open(store, &size), 0);
	kill(fixture->server, SIGSTOP);
	fill(data, sizeof data, 42);
	assert_int_equal(store_pwrite(store, data, sizeof data, 1 << 20), 0);
	server_kill(fixture);
	file_read(fixture, back, sizeof back, 1 << 20);
	assert_memory_equal(back, zeros, sizeof back);	/* lost with the server */
	assert_int_equal(store_flush(store), -1);
	assert_int_equal(store_transient(store), 1);
	server_start(fixture);
	assert_int_equal(store_reconnect(store), 0);
	assert_int_equal(store_flush(store), 0);
	file_read(fixture, back, sizeof back, 1 << 20);
	assert_memory_equal(back, data, sizeof back);
	store_close(store);
}

/* A slot as the export's tail holds it, read back from any number of its bytes (a read cut
 * short, a damaged export): whole, it parses to what was written; cut anywhere before the
 * end of its text, it is not valid, and nothing past the given bytes is read (each cut is
 * its own allocation of exactly that size, so the sanitizer build would stop). */
static void test_a_map_slot_cut_short_is_invalid_and_never_read_past(void **state)
{
	static const char text[] = "# Mapfile\n0x0 + 1\n0x0 0x200 +\n";
	unsigned char slot_bytes[NBD_MAP_HEADER + sizeof text];
	struct nbd_map_slot slot = { 0 };
	size_t size = NBD_MAP_HEADER + strlen(text), cut;
	unsigned char *exact;

	(void)state;
	nbd_map_slot_format(slot_bytes, "vda", 42, text, strlen(text));
	nbd_map_slot_parse(slot_bytes, size, &slot);
	assert_true(slot.valid);
	assert_string_equal(slot.name, "vda");
	assert_string_equal(slot.text, text);
	assert_int_equal(slot.sequence, 42);
	for (cut = 0; cut < size; cut++) {
		exact = malloc(cut ? cut : 1);
		assert_non_null(exact);
		memcpy(exact, slot_bytes, cut);
		nbd_map_slot_parse(exact, cut, &slot);
		assert_false(slot.valid);
		free(exact);
	}
	/* A text length that claims more than the slot holds. */
	slot_bytes[24] = 0x7f;
	nbd_map_slot_parse(slot_bytes, size, &slot);
	assert_false(slot.valid);
	free(slot.text);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_a_map_slot_cut_short_is_invalid_and_never_read_past),
		cmocka_unit_test_setup_teardown(test_writes_land_at_their_positions_and_read_back,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_map_lives_in_the_tail_and_survives_a_new_connection, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_an_export_too_small_is_refused_with_the_size_to_give_it, setup, teardown),
		cmocka_unit_test_setup_teardown(test_an_unknown_export_is_refused_by_name, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_no_export_name_opens_the_default_export, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_a_server_gone_is_transient, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_unacknowledged_writes_are_sent_again_after_a_reconnect, setup, teardown),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
