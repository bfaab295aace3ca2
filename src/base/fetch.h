/* fetch.h: a file from an http:// or https:// URL, for runbooks, key files and carving
 * rules, fetched by our own HTTP client (http.h) over TLS (tls.h).
 *
 *   https://...       the server's certificate must chain to a CA in the image's bundle
 *                     (Debian's ca-certificates) or in ca.pem on the RESCUECFG disk, and
 *                     name the host; otherwise nothing is fetched and the reason is named.
 *   URL#sha256=HEX    the bytes fetched must have this SHA-256 (64 hex digits); they are
 *                     checked before the caller gets a byte. The fragment is never sent.
 *   http://...        only with a pin, or when the operator opted in with
 *                     rescue.insecure_http=1, and then with a warning on every console and
 *                     in the journal for each fetch.
 *
 * Redirects are followed (at most 5), each new URL held to the same rules.
 */
#ifndef RESCUE_FETCH_H
#define RESCUE_FETCH_H

#include <stddef.h>

enum { FETCH_SIZE_MAX = 8 << 20, FETCH_CA_FILES_MAX = 4 };

/* What an unpinned fetch may trust. */
struct fetch_trust {
	const char *ca_files[FETCH_CA_FILES_MAX + 1];	/* NULL-terminated */
	int insecure_http;				/* unpinned http:// allowed, loudly */
};

/* The appliance's: the image's CA bundle, ca.pem on RESCUECFG, rescue.insecure_http. */
void fetch_trust_default(struct fetch_trust *trust);

/* EXIT_OK with DATA (malloc'd, NUL-terminated) and SIZE; EXIT_USAGE for a URL that is not
 * http(s), a malformed pin or unpinned http:// without the opt-in; EXIT_SYSTEM when the
 * fetch failed, the certificate was refused or the pin did not match; each with WHY naming
 * the URL (its fragment left out) and what went wrong. */
int fetch_url_trusting(const char *url, int timeout_seconds, const struct fetch_trust *trust,
    char **data, size_t *size, char *why, size_t why_size);

/* fetch_url_trusting with fetch_trust_default. */
int fetch_url(const char *url, int timeout_seconds, char **data, size_t *size, char *why,
    size_t why_size);

/* Whether URL carries a #sha256= pin. */
int fetch_url_pinned(const char *url);

#endif
