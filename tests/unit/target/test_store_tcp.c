/* test_store_tcp.c: the tcp:// store against a real listener on loopback (a child process
 * saving what it receives): the stream arrives whole and in order, the last flush waits
 * until the receiver has read everything, an out-of-order write and a dropped connection
 * are permanent refusals saying why, and the map goes to RAM only. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "target/store.h"
#include "target/target.h"

struct fixture {
	char dir[64];
	char received[128];
	unsigned port;
	pid_t receiver;
};

/* Accepts one connection and saves up to LIMIT bytes of it (0: all), then closes. */
static void receiver_start(struct fixture *fixture, size_t limit)
{
	struct sockaddr_in address = { .sin_family = AF_INET };
	socklen_t length = sizeof address;
	int server = socket(AF_INET, SOCK_STREAM, 0), one = 1;

	address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	setsockopt(server, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	assert_int_equal(bind(server, (struct sockaddr *)&address, sizeof address), 0);
	assert_int_equal(getsockname(server, (struct sockaddr *)&address, &length), 0);
	assert_int_equal(listen(server, 1), 0);
	fixture->port = ntohs(address.sin_port);
	fixture->receiver = fork();
	assert_true(fixture->receiver >= 0);
	if (fixture->receiver == 0) {
		char buffer[65536];
		size_t total = 0;
		ssize_t got;
		int connection = accept(server, NULL, NULL);
		int out = open(fixture->received, O_WRONLY | O_CREAT | O_TRUNC, 0600);

		while ((limit == 0 || total < limit) && (got = read(connection, buffer,
		    limit && limit - total < sizeof buffer ? limit - total : sizeof buffer)) > 0) {
			if (write(out, buffer, (size_t)got) != got)
				_exit(1);
			total += (size_t)got;
		}
		close(out);
		close(connection);
		_exit(0);
	}
	close(server);
}

static int setup(void **state)
{
	struct fixture *fixture = calloc(1, sizeof *fixture);

	snprintf(fixture->dir, sizeof fixture->dir, "/tmp/rescue-tcp-XXXXXX");
	assert_non_null(mkdtemp(fixture->dir));
	snprintf(fixture->received, sizeof fixture->received, "%s/received", fixture->dir);
	setenv("RESCUE_TCP_MAP_DIR", fixture->dir, 1);
	*state = fixture;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *fixture = *state;
	char command[128];

	if (fixture->receiver > 0) {
		kill(fixture->receiver, SIGKILL);
		waitpid(fixture->receiver, NULL, 0);
	}
	snprintf(command, sizeof command, "rm -rf '%s'", fixture->dir);
	if (system(command) != 0)
		return -1;
	free(fixture);
	return 0;
}

static struct store *open_stream(struct fixture *fixture)
{
	struct target target;
	char url[64], why[1200];
	int transient;
	struct store *store;

	snprintf(url, sizeof url, "tcp://127.0.0.1:%u", fixture->port);
	assert_int_equal(target_parse(url, &target, why, sizeof why), 0);
	store = store_open(&target, "vdb", why, sizeof why, &transient);
	if (!store)
		fail_msg("store_open: %s", why);
	return store;
}

static size_t file_read(const char *path, unsigned char *data, size_t size)
{
	FILE *file = fopen(path, "rb");
	size_t got;

	assert_non_null(file);
	got = fread(data, 1, size, file);
	fclose(file);
	return got;
}

static void test_the_stream_arrives_whole_and_the_last_flush_waits_for_the_receiver(void **state)
{
	struct fixture *fixture = *state;
	static unsigned char data[4 << 20], back[(4 << 20) + 1];
	struct store *store;
	uint64_t size, position;
	char *text;
	size_t i, length;

	for (i = 0; i < sizeof data; i++)
		data[i] = (unsigned char)(i * 7 + i / 4096);
	receiver_start(fixture, 0);
	store = open_stream(fixture);
	store->expected_size = sizeof data;
	assert_int_equal(store_image_open(store, &size), 0);
	assert_int_equal(size, 0);
	assert_int_equal(store_get(store, "vdb.map", &text, &length), 1);	/* never resumed */
	for (position = 0; position < sizeof data; position += 65536) {
		assert_int_equal(store_pwrite(store, data + position, 65536, position), 0);
		if (position == 1 << 20)
			assert_int_equal(store_flush(store), 0);	/* mid-stream: nothing to wait for */
	}
	assert_int_equal(store_flush(store), 0);
	/* the receiver closed after reading everything: its file is complete right now */
	assert_int_equal(file_read(fixture->received, back, sizeof back), sizeof data);
	assert_memory_equal(back, data, sizeof data);
	assert_int_equal(store_pread(store, back, 512, 0), -1);
	assert_non_null(strstr(store_error(store), "cannot be read back"));
	store_close(store);
}

static void test_a_write_out_of_order_is_refused_saying_why(void **state)
{
	struct fixture *fixture = *state;
	unsigned char data[4096] = { 1 };
	struct store *store;
	uint64_t size;

	receiver_start(fixture, 0);
	store = open_stream(fixture);
	assert_int_equal(store_image_open(store, &size), 0);
	assert_int_equal(store_pwrite(store, data, sizeof data, 0), 0);
	assert_int_equal(store_pwrite(store, data, sizeof data, 65536), -1);
	assert_int_equal(store_transient(store), 0);
	assert_non_null(strstr(store_error(store), "tcp://127.0.0.1:"));
	assert_non_null(strstr(store_error(store), "the next write is at byte 65536 after 4096 "
	    "bytes sent (a read error made imaging skip ahead"));
	assert_non_null(strstr(store_error(store), "ssh:// or nbd://"));
	store_close(store);
}

static void test_a_dropped_connection_is_permanent_and_not_reconnected(void **state)
{
	struct fixture *fixture = *state;
	static unsigned char data[1 << 20];
	struct store *store;
	uint64_t size, position;
	int rc = 0;

	receiver_start(fixture, 100000);	/* hangs up after 100000 bytes */
	store = open_stream(fixture);
	assert_int_equal(store_image_open(store, &size), 0);
	for (position = 0; rc == 0 && position < (64ULL << 20); position += sizeof data)
		rc = store_pwrite(store, data, sizeof data, position);
	assert_int_equal(rc, -1);
	assert_int_equal(store_transient(store), 0);
	assert_non_null(strstr(store_error(store), "the stream broke after"));
	assert_non_null(strstr(store_error(store), "cannot be resumed"));
	assert_int_equal(store_reconnect(store), -1);
	assert_int_equal(store_transient(store), 0);
	store_close(store);
}

static void test_the_map_stays_in_ram_with_its_backup(void **state)
{
	struct fixture *fixture = *state;
	unsigned char back[64];
	struct store *store;
	char path[160];

	receiver_start(fixture, 0);
	store = open_stream(fixture);
	assert_int_equal(store_replace(store, "vdb.map", "one\n", 4), 0);
	assert_int_equal(store_replace(store, "vdb.map", "two\n", 4), 0);
	snprintf(path, sizeof path, "%s/vdb.map", fixture->dir);
	assert_int_equal(file_read(path, back, sizeof back), 4);
	assert_memory_equal(back, "two\n", 4);
	snprintf(path, sizeof path, "%s/vdb.map.bak", fixture->dir);
	assert_int_equal(file_read(path, back, sizeof back), 4);
	assert_memory_equal(back, "one\n", 4);
	store_close(store);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
		    test_the_stream_arrives_whole_and_the_last_flush_waits_for_the_receiver, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_a_write_out_of_order_is_refused_saying_why, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_a_dropped_connection_is_permanent_and_not_reconnected, setup, teardown),
		cmocka_unit_test_setup_teardown(test_the_map_stays_in_ram_with_its_backup, setup,
		    teardown),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
