/* fuzz_url: target URLs as they come from rescue.target=, rescue.conf, a runbook or the
 * menu's prompt, through target_parse. */
#include "fuzz.h"
#include "target/target.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct target target;
	char *url = fuzz_text(data, size), why[256];

	if (url == NULL)
		return 0;
	/* The password may come from the parameter folder: none here. */
	setenv("RESCUE_PARAM_DIR", "/nonexistent", 1);
	target_parse(url, &target, why, sizeof why);
	free(url);
	return 0;
}
