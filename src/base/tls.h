/* tls.h: a TLS client (mbedTLS) over a connected socket, for https:// fetches. The server's
 * certificate must chain to one of the given CA files and name the host; a refusal says
 * which of those it failed (expired, not yet valid, another name, an unknown or
 * self-signed issuer) in words.
 */
#ifndef RESCUE_TLS_H
#define RESCUE_TLS_H

#include <stddef.h>
#include <sys/types.h>
#include <time.h>

struct tls;

/* The handshake on FD (connected, owned by the caller) for HOST (a name or an IP address),
 * trusting the certificates in CA_FILES (NULL-terminated; files that do not exist are
 * skipped, one that exists but holds no certificate is an error), before DEADLINE
 * (CLOCK_MONOTONIC). The session, or NULL with WHY. */
struct tls *tls_open(int fd, const char *host, const char *const *ca_files,
    const struct timespec *deadline, char *why, size_t why_size);

/* 0 when all of DATA went out, else -1 with WHY. */
int tls_write_all(struct tls *tls, const void *data, size_t size, char *why, size_t why_size);

/* Bytes read, 0 at the end of the stream (the server's close_notify or its closing the
 * connection), -1 with WHY. */
ssize_t tls_read(struct tls *tls, void *buffer, size_t size, char *why, size_t why_size);

/* Ends the session (close_notify sent when possible) and frees it; FD stays open. */
void tls_close(struct tls *tls);

#endif
