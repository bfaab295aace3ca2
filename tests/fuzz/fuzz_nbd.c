/* fuzz_nbd: an NBD server's bytes (any nbd:// receiver) through the client: the newstyle
 * greeting, the option replies to GO (or the old EXPORT_NAME answer), then simple replies
 * to a READ with their data. */
#include <signal.h>

#include "fuzz.h"
#include "socket.h"
#include "target/nbd.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static unsigned char block[4096];
	char why[256];
	int server, transient, fd = fuzz_server_says(data, size, &server);
	struct nbd_reply reply;
	struct nbd *nbd;

	signal(SIGPIPE, SIG_IGN);
	if (fd < 0)
		return 0;
	nbd = nbd_open(fd, "image", 5, why, sizeof why, &transient);
	if (nbd != NULL) {
		nbd_size(nbd);
		nbd_flags(nbd);
		if (nbd_send(nbd, NBD_CMD_READ, 7, 0, sizeof block, NULL) == 0)
			while (nbd_receive(nbd, &reply) == 0)
				if (reply.error == 0 && nbd_data(nbd, block, sizeof block) != 0)
					break;
		nbd_close(nbd);
	}
	fuzz_server_close(server);
	return 0;
}
