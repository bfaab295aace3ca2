/* fuzz_carve_rules.c: the foremost/scalpel rules parser (salvage/carve_rules.c) on any
 * text, then every rule it took on the same bytes as data. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "salvage/carve_rules.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct carve_rules rules;
	struct carve_result result;
	char why[256], *text = malloc(size ? size : 1);
	size_t i;

	if (!text)
		return 0;
	memcpy(text, data, size);
	if (carve_rules_parse(text, size, "fuzz", &rules, why, sizeof why) == 0) {
		for (i = 0; i < rules.count; i++)
			if (carve_validate(&rules.rules[i].format, (const unsigned char *)text, size, 1,
			    &result) == CARVE_FOUND && result.length > size)
				abort();
		carve_rules_free(&rules);
	} else if (!strstr(why, "line ") && !strstr(why, "out of memory")) {
		abort();	/* every refusal names its line */
	}
	free(text);
	return 0;
}
