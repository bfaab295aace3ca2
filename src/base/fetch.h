/* fetch.h: a file from an http:// or https:// URL (busybox wget), for runbooks and key
 * files, with an optional pin that needs no certificate authority:
 *
 *   URL#sha256=HEX    the bytes fetched must have this SHA-256 (64 hex digits); they are
 *                     checked before the caller gets a byte. The fragment is never sent.
 *
 * busybox wget does not verify TLS certificates: without a pin, an https:// fetch trusts
 * whoever answers, so a file that can unguard a disk or let a key in deserves one.
 */
#ifndef RESCUE_FETCH_H
#define RESCUE_FETCH_H

#include <stddef.h>

/* EXIT_OK with DATA (malloc'd, NUL-terminated) and SIZE; EXIT_USAGE for a URL that is not
 * http(s) or a malformed pin, EXIT_SYSTEM when the fetch failed or the pin did not match,
 * each with WHY naming the URL (its fragment left out) and what went wrong. */
int fetch_url(const char *url, int timeout_seconds, char **data, size_t *size, char *why,
    size_t why_size);

/* Whether URL carries a #sha256= pin. */
int fetch_url_pinned(const char *url);

#endif
