/* fuzz_sftp: an SFTP server's replies (any receiver of an ssh:// target) through the
 * client: the VERSION greeting and its extensions, then the replies to a session's
 * requests (open, read, fstat, stat, statvfs, write, close), each decoded as every kind. */
#include <signal.h>

#include "fuzz.h"
#include "socket.h"
#include "target/sftp.h"

static void decode(const struct sftp_reply *reply)
{
	char handle[SFTP_HANDLE_MAX];
	size_t handle_size;
	struct sftp_attributes attributes;
	struct sftp_statvfs statvfs;
	const unsigned char *data;
	size_t size;

	sftp_reply_handle(reply, handle, &handle_size);
	sftp_reply_attributes(reply, &attributes);
	if (sftp_reply_data(reply, &data, &size) == 0 && size > 0)
		(void)*(volatile const unsigned char *)&data[size - 1];	/* inside the packet */
	sftp_reply_statvfs(reply, &statvfs);
	sftp_status_text(reply);
}

static void other_reply(void *context, const struct sftp_reply *reply)
{
	(void)context;
	decode(reply);
}

/* Sends one request and decodes its reply; 0 when the connection still works. */
static int ask(struct sftp *sftp, uint32_t id, char *handle, size_t *handle_size)
{
	struct sftp_reply reply;

	if (id == 0 || sftp_wait(sftp, id, &reply) != 0)
		return -1;
	decode(&reply);
	if (handle != NULL && sftp_reply_handle(&reply, handle, handle_size) != 0)
		memcpy(handle, "h", *handle_size = 1);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char handle[SFTP_HANDLE_MAX], why[256];
	size_t handle_size = 0;
	int server, fd = fuzz_server_says(data, size, &server);
	struct sftp *sftp;

	signal(SIGPIPE, SIG_IGN);
	if (fd < 0)
		return 0;
	sftp = sftp_start(fd, 5, other_reply, NULL, why, sizeof why);
	if (sftp != NULL) {
		sftp_has_extension(sftp, "posix-rename@openssh.com");
		if (ask(sftp, sftp_send_open(sftp, "/srv/f", SFTP_READ), handle, &handle_size) == 0
		    && ask(sftp, sftp_send_read(sftp, handle, handle_size, 0, 4096), NULL, NULL) == 0
		    && ask(sftp, sftp_send_fstat(sftp, handle, handle_size), NULL, NULL) == 0
		    && ask(sftp, sftp_send_stat(sftp, "/srv"), NULL, NULL) == 0
		    && ask(sftp, sftp_send_statvfs(sftp, "/srv"), NULL, NULL) == 0
		    && ask(sftp, sftp_send_write(sftp, handle, handle_size, 0, "data", 4), NULL, NULL) == 0)
			ask(sftp, sftp_send_close(sftp, handle, handle_size), NULL, NULL);
		sftp_free(sftp);
	}
	fuzz_server_close(server);
	return 0;
}
