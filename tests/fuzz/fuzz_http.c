/* fuzz_http: what an http(s) server, or whoever sits on the path, sends back to a runbook or
 * key file fetch (base/http.c): the whole answer through http_response_parse, in a buffer of
 * its exact size so a read past it is caught; and the same bytes as a URL (a Location a
 * redirect hands over), through http_url_parse and http_request_format. */
#include "fuzz.h"
#include "base/http.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *copy = malloc(size ? size : 1), *text = fuzz_text(data, size), why[256];
	char request[HTTP_PATH_MAX + 512];
	struct http_response response;
	struct http_url url;

	if (copy == NULL || text == NULL)
		goto out;
	memcpy(copy, data, size);
	if (http_response_parse(copy, size, &response, why, sizeof why) == 0
	    && (response.body_offset > size || response.body_length > size - response.body_offset))
		abort();	/* a body said to lie outside the answer */
	if (http_url_parse(text, &url, why, sizeof why) == 0)
		http_request_format(&url, request, sizeof request);
out:
	free(copy);
	free(text);
	return 0;
}
