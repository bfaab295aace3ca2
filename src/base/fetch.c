/* fetch.c: files from http(s) URLs, pinned by SHA-256 when the URL says so (fetch.h). */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/fetch.h"
#include "base/sha256.h"
#include "base/spawn.h"

static const char pin_marker[] = "#sha256=";

int fetch_url_pinned(const char *url)
{
	return strstr(url, pin_marker) != NULL;
}

/* The URL without its fragment into PLAIN, the pin (lowercase) into PIN or "" for none.
 * EXIT_OK, or EXIT_USAGE when the pin is not 64 hex digits. */
static int pin_split(const char *url, char *plain, size_t plain_size, char *pin,
    char *why, size_t why_size)
{
	const char *fragment = strchr(url, '#'), *hex;
	size_t i;

	pin[0] = '\0';
	snprintf(plain, plain_size, "%.*s", (int)(fragment ? (size_t)(fragment - url)
	    : strlen(url)), url);
	if (fragment == NULL)
		return EXIT_OK;
	if (strncmp(fragment, pin_marker, sizeof pin_marker - 1) != 0) {
		snprintf(why, why_size, "unable to fetch %s: the only fragment understood is "
		    "#sha256=HEX, not '%.40s'", plain, fragment);
		return EXIT_USAGE;
	}
	hex = fragment + sizeof pin_marker - 1;
	for (i = 0; i < SHA256_HEX_SIZE - 1 && isxdigit((unsigned char)hex[i]); i++)
		pin[i] = (char)tolower((unsigned char)hex[i]);
	pin[i] = '\0';
	if (i != SHA256_HEX_SIZE - 1 || hex[i] != '\0') {
		snprintf(why, why_size, "unable to fetch %s: the pin '%.80s' is not a SHA-256 "
		    "(64 hex digits)", plain, hex);
		pin[0] = '\0';
		return EXIT_USAGE;
	}
	return EXIT_OK;
}

static int pin_check(const char *plain, const char *pin, const char *data, size_t size,
    char *why, size_t why_size)
{
	unsigned char digest[SHA256_DIGEST_SIZE];
	char actual[SHA256_HEX_SIZE];
	struct sha256 context;

	sha256_init(&context);
	sha256_update(&context, data, size);
	sha256_final(&context, digest);
	sha256_hex(digest, actual);
	if (strcmp(actual, pin) == 0)
		return EXIT_OK;
	snprintf(why, why_size, "refused %s: its SHA-256 is %s, not the pinned %s (nothing of it "
	    "was used)", plain, actual, pin);
	return EXIT_SYSTEM;
}

int fetch_url(const char *url, int timeout_seconds, char **data, size_t *size, char *why,
    size_t why_size)
{
	char plain[4096], pin[SHA256_HEX_SIZE], timeout[16];
	char *argv[] = { "wget", "-q", "-T", timeout, "-O", "-", plain, NULL };
	struct spawn_request request = { .argv = argv, .timeout_seconds = timeout_seconds };
	struct spawn_result result;
	int code = pin_split(url, plain, sizeof plain, pin, why, why_size);

	*data = NULL;
	*size = 0;
	if (code != EXIT_OK)
		return code;
	if (strncmp(plain, "http://", 7) != 0 && strncmp(plain, "https://", 8) != 0) {
		snprintf(why, why_size, "unable to fetch '%s': want an http:// or https:// URL", plain);
		return EXIT_USAGE;
	}
	snprintf(timeout, sizeof timeout, "%d", timeout_seconds > 10 ? timeout_seconds - 5 : 5);
	if (spawn_run(&request, &result) != 0) {
		snprintf(why, why_size, "unable to run wget for %s", plain);
		return EXIT_SYSTEM;
	}
	if (result.timed_out || spawn_exit_code(&result) != 0 || result.truncated) {
		snprintf(why, why_size, "unable to fetch %s: wget %s", plain, result.timed_out
		    ? "timed out" : result.truncated ? "got more than it can keep"
		    : "failed (no such file, or no route to the server)");
		spawn_result_free(&result);
		return EXIT_SYSTEM;
	}
	if (pin[0] && pin_check(plain, pin, result.output, result.output_size, why,
	    why_size) != EXIT_OK) {
		spawn_result_free(&result);
		return EXIT_SYSTEM;
	}
	*data = result.output;
	*size = result.output_size;
	return EXIT_OK;
}
