/* test_sftp.c: the SFTP client against OpenSSH's real sftp-server, run locally over a
 * socket pair (it serves our own file system, as it would for a login over SSH). */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "target/sftp.h"

#define SFTP_SERVER "/usr/lib/openssh/sftp-server"

struct fixture {
	char dir[64];
	pid_t server;
	struct sftp *sftp;
	int acks, failures;	/* write replies the handler saw */
};

static void count_reply(void *context, const struct sftp_reply *reply)
{
	struct fixture *fixture = context;

	if (reply->type == SFTP_REPLY_STATUS && reply->status == SFTP_OK)
		fixture->acks++;
	else
		fixture->failures++;
}

/* The server runs as UID (0: as we are), as sftp-server runs as the user who logged in. */
static int start(void **state, uid_t uid)
{
	struct fixture *fixture = calloc(1, sizeof *fixture);
	char why[256];
	int pair[2];

	snprintf(fixture->dir, sizeof fixture->dir, "/tmp/rescue-sftp-XXXXXX");
	assert_non_null(mkdtemp(fixture->dir));
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair), 0);
	fixture->server = fork();
	assert_true(fixture->server >= 0);
	if (fixture->server == 0) {
		dup2(pair[1], 0);
		dup2(pair[1], 1);
		if (uid && (setgid(uid) != 0 || setuid(uid) != 0))
			_exit(126);
		execl(SFTP_SERVER, "sftp-server", (char *)NULL);
		_exit(127);
	}
	close(pair[1]);
	fixture->sftp = sftp_start(pair[0], 10, count_reply, fixture, why, sizeof why);
	if (!fixture->sftp)
		fail_msg("sftp_start: %s", why);
	*state = fixture;
	return 0;
}

static int setup(void **state)
{
	return start(state, 0);
}

enum { NOBODY = 65534 };

static int setup_as_nobody(void **state)
{
	return start(state, geteuid() == 0 ? NOBODY : 0);
}

static int teardown(void **state)
{
	struct fixture *fixture = *state;
	char command[128];

	sftp_free(fixture->sftp);
	kill(fixture->server, SIGTERM);
	waitpid(fixture->server, NULL, 0);
	snprintf(command, sizeof command, "rm -rf %s", fixture->dir);
	assert_int_equal(system(command), 0);
	free(fixture);
	return 0;
}

static void path_in(const struct fixture *fixture, const char *name, char *path, size_t size)
{
	snprintf(path, size, "%s/%s", fixture->dir, name);
}

static void open_handle(struct fixture *fixture, const char *name, uint32_t flags, char *handle,
    size_t *handle_size)
{
	struct sftp_reply reply;
	char path[128];

	path_in(fixture, name, path, sizeof path);
	assert_int_equal(sftp_wait(fixture->sftp, sftp_send_open(fixture->sftp, path, flags),
	    &reply), 0);
	if (sftp_reply_handle(&reply, handle, handle_size) != 0)
		fail_msg("open %s: %s", path, sftp_status_text(&reply));
}

#define expect_status(fixture, id, status) expect_status_at(fixture, id, status, __LINE__)

static void expect_status_at(struct fixture *fixture, uint32_t id, uint32_t status, int line)
{
	struct sftp_reply reply;

	assert_int_equal(sftp_wait(fixture->sftp, id, &reply), 0);
	if (reply.type != SFTP_REPLY_STATUS)
		fail_msg("line %d: reply type %u, want a status", line, reply.type);
	if (reply.status != status)
		fail_msg("status %u (%s), want %u", reply.status, sftp_status_text(&reply), status);
}

static void test_the_server_announces_the_openssh_extensions(void **state)
{
	struct fixture *fixture = *state;

	assert_true(sftp_has_extension(fixture->sftp, "posix-rename@openssh.com"));
	assert_true(sftp_has_extension(fixture->sftp, "fsync@openssh.com"));
	assert_true(sftp_has_extension(fixture->sftp, "statvfs@openssh.com"));
	assert_false(sftp_has_extension(fixture->sftp, "no-such@example.com"));
}

/* Many writes in flight at scattered positions, acknowledged through the handler; the
 * file holds each at its place and nothing between them. */
static void test_pipelined_writes_land_at_their_positions(void **state)
{
	struct fixture *fixture = *state;
	static unsigned char expected[4 << 20], block[SFTP_WRITE_MAX];
	char handle[SFTP_HANDLE_MAX], path[128];
	size_t handle_size, i, count = 0;
	struct sftp_attributes attributes;
	struct sftp_reply reply;
	FILE *file;
	static unsigned char actual[sizeof expected];

	open_handle(fixture, "image", SFTP_WRITE | SFTP_READ | SFTP_CREAT, handle, &handle_size);
	/* Every other 64 KiB block, backwards: a hole at every odd block. */
	for (i = sizeof expected / sizeof block; i-- > 0;) {
		if (i % 2)
			continue;
		memset(block, (int)(i + 1), sizeof block);
		memcpy(expected + i * sizeof block, block, sizeof block);
		assert_int_not_equal(sftp_send_write(fixture->sftp, handle, handle_size,
		    i * sizeof block, block, sizeof block), 0);
		count++;
		assert_int_equal(sftp_poll(fixture->sftp), 0);
	}
	assert_int_equal(sftp_wait(fixture->sftp, 0, NULL), 0);
	assert_int_equal(fixture->acks, (int)count);
	assert_int_equal(fixture->failures, 0);
	expect_status(fixture, sftp_send_fsync(fixture->sftp, handle, handle_size), SFTP_OK);
	assert_int_equal(sftp_wait(fixture->sftp, sftp_send_fstat(fixture->sftp, handle,
	    handle_size), &reply), 0);
	assert_int_equal(sftp_reply_attributes(&reply, &attributes), 0);
	assert_true(attributes.has_size);
	/* The last block written is block 62 (of 64): the file ends there. */
	/* The file ends after the last block written: the last even one. */
	assert_int_equal(attributes.size, (sizeof expected / sizeof block - 1) * sizeof block);
	expect_status(fixture, sftp_send_close(fixture->sftp, handle, handle_size), SFTP_OK);
	path_in(fixture, "image", path, sizeof path);
	file = fopen(path, "rb");
	assert_non_null(file);
	assert_int_equal(fread(actual, 1, sizeof actual, file), sizeof expected - sizeof block);
	fclose(file);
	assert_memory_equal(actual, expected, sizeof expected - sizeof block);
}

static void test_read_back_and_end_of_file(void **state)
{
	struct fixture *fixture = *state;
	char handle[SFTP_HANDLE_MAX];
	size_t handle_size, size;
	const unsigned char *data;
	struct sftp_reply reply;

	open_handle(fixture, "small", SFTP_WRITE | SFTP_READ | SFTP_CREAT, handle, &handle_size);
	sftp_send_write(fixture->sftp, handle, handle_size, 3, "abc", 3);
	assert_int_equal(sftp_wait(fixture->sftp, 0, NULL), 0);
	assert_int_equal(sftp_wait(fixture->sftp, sftp_send_read(fixture->sftp, handle,
	    handle_size, 0, 100), &reply), 0);
	assert_int_equal(sftp_reply_data(&reply, &data, &size), 0);
	assert_int_equal(size, 6);
	assert_memory_equal(data, "\0\0\0abc", 6);
	expect_status(fixture, sftp_send_read(fixture->sftp, handle, handle_size, 6, 100),
	    SFTP_EOF);
}

static void test_rename_replaces_and_errors_name_the_cause(void **state)
{
	struct fixture *fixture = *state;
	char handle[SFTP_HANDLE_MAX], a[128], b[128], missing[128];
	size_t handle_size;
	struct sftp_reply reply;
	struct sftp_attributes attributes;
	struct sftp_statvfs space;

	open_handle(fixture, "a", SFTP_WRITE | SFTP_CREAT, handle, &handle_size);
	expect_status(fixture, sftp_send_close(fixture->sftp, handle, handle_size), SFTP_OK);
	open_handle(fixture, "b", SFTP_WRITE | SFTP_CREAT, handle, &handle_size);
	expect_status(fixture, sftp_send_close(fixture->sftp, handle, handle_size), SFTP_OK);
	path_in(fixture, "a", a, sizeof a);
	path_in(fixture, "b", b, sizeof b);
	path_in(fixture, "no/such/dir", missing, sizeof missing);
	expect_status(fixture, sftp_send_rename(fixture->sftp, a, b), SFTP_OK);
	expect_status(fixture, sftp_send_stat(fixture->sftp, a), SFTP_NO_SUCH_FILE);
	expect_status(fixture, sftp_send_open(fixture->sftp, missing, SFTP_WRITE | SFTP_CREAT),
	    SFTP_NO_SUCH_FILE);
	assert_int_equal(sftp_wait(fixture->sftp, sftp_send_stat(fixture->sftp, fixture->dir),
	    &reply), 0);
	assert_int_equal(sftp_reply_attributes(&reply, &attributes), 0);
	assert_true(S_ISDIR(attributes.permissions));
	assert_int_equal(sftp_wait(fixture->sftp, sftp_send_statvfs(fixture->sftp, fixture->dir),
	    &reply), 0);
	assert_int_equal(sftp_reply_statvfs(&reply, &space), 0);
	assert_true(space.blocks_available > 0 && space.fragment_size > 0);
	expect_status(fixture, sftp_send_hardlink(fixture->sftp, b, a), SFTP_OK);
	expect_status(fixture, sftp_send_remove(fixture->sftp, b), SFTP_OK);
	assert_int_equal(sftp_wait(fixture->sftp, sftp_send_stat(fixture->sftp, a), &reply), 0);
	assert_int_equal(sftp_reply_attributes(&reply, &attributes), 0);
	assert_true(S_ISREG(attributes.permissions));
}

/* 16 MiB queued before a single byte is read back: the outgoing buffer is sent from its
 * front in pieces while more is queued behind, and every byte lands where it belongs. */
static void test_a_large_burst_goes_out_whole_and_in_order(void **state)
{
	struct fixture *fixture = *state;
	enum { BLOCKS = 256 };
	static unsigned char block[SFTP_WRITE_MAX], actual[SFTP_WRITE_MAX];
	char handle[SFTP_HANDLE_MAX], path[128];
	size_t handle_size, i, j;
	FILE *file;

	open_handle(fixture, "burst", SFTP_WRITE | SFTP_CREAT, handle, &handle_size);
	for (i = 0; i < BLOCKS; i++) {
		for (j = 0; j < sizeof block; j += 8)
			memcpy(block + j, &(uint64_t){ i * sizeof block + j }, 8);
		assert_int_not_equal(sftp_send_write(fixture->sftp, handle, handle_size,
		    i * sizeof block, block, sizeof block), 0);
		if (i % 16 == 0)
			assert_int_equal(sftp_poll(fixture->sftp), 0);
	}
	assert_int_equal(sftp_wait(fixture->sftp, 0, NULL), 0);
	assert_int_equal(sftp_queued(fixture->sftp), 0);
	assert_int_equal(fixture->acks, BLOCKS);
	assert_int_equal(fixture->failures, 0);
	expect_status(fixture, sftp_send_close(fixture->sftp, handle, handle_size), SFTP_OK);
	path_in(fixture, "burst", path, sizeof path);
	file = fopen(path, "rb");
	assert_non_null(file);
	for (i = 0; i < BLOCKS; i++) {
		assert_int_equal(fread(actual, 1, sizeof actual, file), sizeof actual);
		for (j = 0; j < sizeof actual; j += 8)
			memcpy(block + j, &(uint64_t){ i * sizeof block + j }, 8);
		if (memcmp(actual, block, sizeof block) != 0)
			fail_msg("block %zu differs", i);
	}
	fclose(file);
}

/* A directory the server's user may not write: the open is refused as permission denied
 * (what store_ssh reports as permanent), reading stays allowed. */
static void test_permission_denied_is_told_apart(void **state)
{
	struct fixture *fixture = *state;
	struct sftp_reply reply;
	char locked[128], inside[160];

	if (geteuid() != 0)
		skip();	/* the server runs as we do: it may write our directory */
	path_in(fixture, "locked", locked, sizeof locked);
	assert_int_equal(mkdir(locked, 0755), 0);
	assert_int_equal(chmod(fixture->dir, 0755), 0);
	snprintf(inside, sizeof inside, "%s/image", locked);
	assert_int_equal(sftp_wait(fixture->sftp, sftp_send_open(fixture->sftp, inside,
	    SFTP_WRITE | SFTP_CREAT), &reply), 0);
	assert_int_equal(reply.type, SFTP_REPLY_STATUS);
	assert_int_equal(reply.status, SFTP_PERMISSION_DENIED);
	assert_string_equal(sftp_status_text(&reply), "Permission denied");
	expect_status(fixture, sftp_send_remove(fixture->sftp, locked), SFTP_PERMISSION_DENIED);
	assert_int_equal(sftp_wait(fixture->sftp, sftp_send_stat(fixture->sftp, locked), &reply), 0);
	assert_int_equal(reply.type, SFTP_REPLY_ATTRS);
}

/* The server gone: the connection says so, every later call fails at once. */
static void test_a_dead_server_breaks_the_connection(void **state)
{
	struct fixture *fixture = *state;
	char path[128];

	kill(fixture->server, SIGKILL);
	waitpid(fixture->server, NULL, 0);
	path_in(fixture, "x", path, sizeof path);
	assert_int_equal(sftp_wait(fixture->sftp, sftp_send_stat(fixture->sftp, path), NULL), -1);
	assert_true(sftp_broken(fixture->sftp));
	assert_non_null(strstr(sftp_error(fixture->sftp), "the connection is lost"));
	assert_int_equal(sftp_send_stat(fixture->sftp, path), 0);
	assert_int_equal(sftp_wait(fixture->sftp, 0, NULL), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_the_server_announces_the_openssh_extensions,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_pipelined_writes_land_at_their_positions,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_read_back_and_end_of_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rename_replaces_and_errors_name_the_cause,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_a_dead_server_breaks_the_connection, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_a_large_burst_goes_out_whole_and_in_order,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_permission_denied_is_told_apart,
		    setup_as_nobody, teardown),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
