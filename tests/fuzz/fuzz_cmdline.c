/* fuzz_cmdline: the kernel command line (any boot loader, any user) as `rescue report`
 * writes it, keys and passwords taken out, through session_redact_command_line, into a
 * roomy and a tight buffer. */
#include "fuzz.h"
#include "disk/session.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *line = fuzz_text(data, size), shown[4096], tight[16];

	if (line == NULL)
		return 0;
	session_redact_command_line(line, shown, sizeof shown);
	if (strlen(shown) >= sizeof shown)
		abort();
	session_redact_command_line(line, tight, sizeof tight);
	free(line);
	return 0;
}
