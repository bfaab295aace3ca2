/* tls.c: the https:// client side, on mbedTLS (tls.h).
 *
 * mbedTLS 2.28 checks a certificate's DNS names but not its IP address entries, so for a
 * URL that names the server by address the name check is ours: after the chain is
 * verified, the address must be one of the certificate's iPAddress names (or, with no
 * alternative names at all, its common name). No SNI is sent for an address (RFC 6066).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/error.h>
#include <mbedtls/net_sockets.h>
#include <mbedtls/oid.h>
#include <mbedtls/ssl.h>
#include <mbedtls/x509_crt.h>

#include "base/err.h"
#include "base/tls.h"

struct tls {
	int fd;
	struct timespec deadline;
	int timed_out;
	mbedtls_entropy_context entropy;
	mbedtls_ctr_drbg_context random;
	mbedtls_x509_crt authorities;
	mbedtls_ssl_config config;
	mbedtls_ssl_context ssl;
};

static int milliseconds_left(const struct timespec *deadline)
{
	struct timespec now;
	long long left;

	clock_gettime(CLOCK_MONOTONIC, &now);
	left = (long long)(deadline->tv_sec - now.tv_sec) * 1000
	    + (deadline->tv_nsec - now.tv_nsec) / 1000000;
	return left <= 0 ? 0 : left > 60000 ? 60000 : (int)left;
}

/* Waits for EVENTS on the session's socket until its deadline: 1 ready, 0 timed out. */
static int wait_for(struct tls *tls, short events)
{
	struct pollfd poller = { .fd = tls->fd, .events = events };
	int left, ready;

	for (;;) {
		left = milliseconds_left(&tls->deadline);
		if (left == 0)
			break;
		ready = poll(&poller, 1, left);
		if (ready > 0)
			return 1;
		if (ready < 0 && errno != EINTR)
			return 1;	/* the send or recv that follows reports the error */
	}
	tls->timed_out = 1;
	return 0;
}

static int bio_send(void *context, const unsigned char *data, size_t size)
{
	struct tls *tls = context;
	ssize_t sent;

	if (!wait_for(tls, POLLOUT))
		return MBEDTLS_ERR_SSL_TIMEOUT;
	sent = send(tls->fd, data, size, MSG_NOSIGNAL);
	if (sent >= 0)
		return (int)sent;
	return errno == EINTR || errno == EAGAIN ? MBEDTLS_ERR_SSL_WANT_WRITE
	    : MBEDTLS_ERR_NET_SEND_FAILED;
}

static int bio_recv(void *context, unsigned char *buffer, size_t size)
{
	struct tls *tls = context;
	ssize_t got;

	if (!wait_for(tls, POLLIN))
		return MBEDTLS_ERR_SSL_TIMEOUT;
	got = recv(tls->fd, buffer, size, 0);
	if (got >= 0)
		return (int)got;
	return errno == EINTR || errno == EAGAIN ? MBEDTLS_ERR_SSL_WANT_READ
	    : errno == ECONNRESET ? MBEDTLS_ERR_NET_CONN_RESET : MBEDTLS_ERR_NET_RECV_FAILED;
}

/* The reasons in FLAGS, in words, after "the server's certificate ". */
static void verify_reasons(uint32_t flags, const char *host, char *text, size_t size)
{
	static const struct {
		uint32_t flag;
		const char *words;
	} reasons[] = {
		{ MBEDTLS_X509_BADCERT_EXPIRED, "has expired" },
		{ MBEDTLS_X509_BADCERT_FUTURE, "is not valid yet (or this machine's clock is "
		    "wrong)" },
		{ MBEDTLS_X509_BADCERT_CN_MISMATCH, "is for another name, not %s" },
		{ MBEDTLS_X509_BADCERT_NOT_TRUSTED, "is not signed by a trusted authority "
		    "(self-signed, or its CA is neither in the image's bundle nor in ca.pem on "
		    "RESCUECFG)" },
		{ MBEDTLS_X509_BADCERT_REVOKED, "was revoked" },
		{ MBEDTLS_X509_BADCERT_KEY_USAGE | MBEDTLS_X509_BADCERT_EXT_KEY_USAGE,
		    "is not for TLS servers (key usage)" },
		{ MBEDTLS_X509_BADCERT_BAD_MD | MBEDTLS_X509_BADCERT_BAD_PK
		    | MBEDTLS_X509_BADCERT_BAD_KEY, "uses a weak or unsupported signature or key" },
	};
	size_t i, used = 0;
	char part[256];

	text[0] = '\0';
	for (i = 0; i < sizeof reasons / sizeof reasons[0]; i++) {
		if (!(flags & reasons[i].flag))
			continue;
		snprintf(part, sizeof part, reasons[i].words, host);
		used += (size_t)snprintf(text + used, used < size ? size - used : 0, "%s%s",
		    used ? ", and " : "", part);
		if (used >= size)
			return;
	}
	if (used == 0)
		snprintf(text, size, "failed verification (mbedTLS flags 0x%x)", (unsigned)flags);
}

static void describe_error(struct tls *tls, int code, const char *host, const char *doing,
    char *why, size_t why_size)
{
	char words[512];

	if (tls->timed_out) {
		snprintf(why, why_size, "%s %s timed out", doing, host);
		return;
	}
	if (code == MBEDTLS_ERR_X509_CERT_VERIFY_FAILED) {
		verify_reasons(mbedtls_ssl_get_verify_result(&tls->ssl), host, words, sizeof words);
		snprintf(why, why_size, "refused %s: the server's certificate %s", host, words);
		return;
	}
	mbedtls_strerror(code, words, sizeof words);
	snprintf(why, why_size, "%s %s failed: %s", doing, host, words);
}

/* Each CA file that exists; at least one certificate in all. */
static int authorities_load(mbedtls_x509_crt *authorities, const char *const *ca_files,
    char *why, size_t why_size)
{
	struct stat status;
	int loaded = 0, code;

	for (; *ca_files; ca_files++) {
		if (stat(*ca_files, &status) != 0)
			continue;
		code = mbedtls_x509_crt_parse_file(authorities, *ca_files);
		if (code < 0) {
			snprintf(why, why_size, "unable to read the CA certificates in %s: not PEM "
			    "certificates", *ca_files);
			return -1;
		}
		loaded = 1;
	}
	if (!loaded || authorities->raw.len == 0) {
		snprintf(why, why_size, "no CA certificates to check https servers against (none "
		    "of the CA files exists)");
		return -1;
	}
	return 0;
}

/* An address in HOST must be one of the certificate's iPAddress names (see the top). */
static int address_matches(const mbedtls_x509_crt *certificate, const char *host)
{
	unsigned char address[16];
	size_t length = inet_pton(AF_INET, host, address) == 1 ? 4 : 16;
	const mbedtls_x509_sequence *name;
	const mbedtls_x509_name *subject;

	if (length == 16 && inet_pton(AF_INET6, host, address) != 1)
		return 0;
	if (certificate->ext_types & MBEDTLS_X509_EXT_SUBJECT_ALT_NAME) {
		for (name = &certificate->subject_alt_names; name; name = name->next)
			if ((name->buf.tag & MBEDTLS_ASN1_TAG_VALUE_MASK) == MBEDTLS_X509_SAN_IP_ADDRESS
			    && name->buf.len == length && memcmp(name->buf.p, address, length) == 0)
				return 1;
		return 0;
	}
	for (subject = &certificate->subject; subject; subject = subject->next)
		if (MBEDTLS_OID_CMP(MBEDTLS_OID_AT_CN, &subject->oid) == 0
		    && subject->val.len == strlen(host)
		    && memcmp(subject->val.p, host, subject->val.len) == 0)
			return 1;
	return 0;
}

static int is_address(const char *host)
{
	unsigned char address[16];

	return inet_pton(AF_INET, host, address) == 1 || inet_pton(AF_INET6, host, address) == 1;
}

static int session_setup(struct tls *tls, const char *host, const char *const *ca_files,
    char *why, size_t why_size)
{
	static const char personal[] = "rescue fetch";
	int code;

	if (authorities_load(&tls->authorities, ca_files, why, why_size) != 0)
		return -1;
	code = mbedtls_ctr_drbg_seed(&tls->random, mbedtls_entropy_func, &tls->entropy,
	    (const unsigned char *)personal, sizeof personal - 1);
	if (code == 0)
		code = mbedtls_ssl_config_defaults(&tls->config, MBEDTLS_SSL_IS_CLIENT,
		    MBEDTLS_SSL_TRANSPORT_STREAM, MBEDTLS_SSL_PRESET_DEFAULT);
	if (code != 0) {
		describe_error(tls, code, host, "setting up TLS for", why, why_size);
		return -1;
	}
	mbedtls_ssl_conf_authmode(&tls->config, MBEDTLS_SSL_VERIFY_REQUIRED);
	mbedtls_ssl_conf_ca_chain(&tls->config, &tls->authorities, NULL);
	mbedtls_ssl_conf_rng(&tls->config, mbedtls_ctr_drbg_random, &tls->random);
	mbedtls_ssl_conf_min_version(&tls->config, MBEDTLS_SSL_MAJOR_VERSION_3,
	    MBEDTLS_SSL_MINOR_VERSION_3);
	code = mbedtls_ssl_setup(&tls->ssl, &tls->config);
	if (code == 0)
		code = mbedtls_ssl_set_hostname(&tls->ssl, is_address(host) ? NULL : host);
	if (code != 0) {
		describe_error(tls, code, host, "setting up TLS for", why, why_size);
		return -1;
	}
	mbedtls_ssl_set_bio(&tls->ssl, tls, bio_send, bio_recv, NULL);
	return 0;
}

struct tls *tls_open(int fd, const char *host, const char *const *ca_files,
    const struct timespec *deadline, char *why, size_t why_size)
{
	struct tls *tls = calloc(1, sizeof *tls);
	int code;

	if (tls == NULL) {
		snprintf(why, why_size, "unable to set up TLS for %s: %s", host, err_text(errno));
		return NULL;
	}
	tls->fd = fd;
	tls->deadline = *deadline;
	mbedtls_entropy_init(&tls->entropy);
	mbedtls_ctr_drbg_init(&tls->random);
	mbedtls_x509_crt_init(&tls->authorities);
	mbedtls_ssl_config_init(&tls->config);
	mbedtls_ssl_init(&tls->ssl);
	if (session_setup(tls, host, ca_files, why, why_size) != 0)
		goto fail;
	do
		code = mbedtls_ssl_handshake(&tls->ssl);
	while (code == MBEDTLS_ERR_SSL_WANT_READ || code == MBEDTLS_ERR_SSL_WANT_WRITE);
	if (code != 0) {
		describe_error(tls, code, host, "the TLS handshake with", why, why_size);
		goto fail;
	}
	if (is_address(host) && !address_matches(mbedtls_ssl_get_peer_cert(&tls->ssl), host)) {
		snprintf(why, why_size, "refused %s: the server's certificate is for another name, "
		    "not %s", host, host);
		goto fail;
	}
	return tls;
fail:
	tls_close(tls);
	return NULL;
}

int tls_write_all(struct tls *tls, const void *data, size_t size, char *why, size_t why_size)
{
	const unsigned char *bytes = data;
	int code;

	while (size > 0) {
		code = mbedtls_ssl_write(&tls->ssl, bytes, size);
		if (code == MBEDTLS_ERR_SSL_WANT_READ || code == MBEDTLS_ERR_SSL_WANT_WRITE)
			continue;
		if (code < 0) {
			describe_error(tls, code, "the server", "sending to", why, why_size);
			return -1;
		}
		bytes += code;
		size -= (size_t)code;
	}
	return 0;
}

ssize_t tls_read(struct tls *tls, void *buffer, size_t size, char *why, size_t why_size)
{
	int code;

	for (;;) {
		code = mbedtls_ssl_read(&tls->ssl, buffer, size);
		if (code >= 0)
			return code;
		/* A server that closes without close_notify ends the stream too: the HTTP
		 * framing above tells a whole body from a cut one. */
		if (code == MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY || code == MBEDTLS_ERR_SSL_CONN_EOF)
			return 0;
		if (code != MBEDTLS_ERR_SSL_WANT_READ && code != MBEDTLS_ERR_SSL_WANT_WRITE)
			break;
	}
	describe_error(tls, code, "the server", "reading from", why, why_size);
	return -1;
}

void tls_close(struct tls *tls)
{
	if (tls == NULL)
		return;
	if (milliseconds_left(&tls->deadline) > 0)
		mbedtls_ssl_close_notify(&tls->ssl);
	mbedtls_ssl_free(&tls->ssl);
	mbedtls_ssl_config_free(&tls->config);
	mbedtls_x509_crt_free(&tls->authorities);
	mbedtls_ctr_drbg_free(&tls->random);
	mbedtls_entropy_free(&tls->entropy);
	free(tls);
}
