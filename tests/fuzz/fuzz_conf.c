/* fuzz_conf: rescue.conf from a RESCUECFG disk someone else prepared, or that is damaged
 * (cli/conf_parse.c), in a buffer of its exact size; every setting handed over must be a
 * string inside the line it came from. */
#include "fuzz.h"
#include "cli/conf_parse.h"

static void visit(void *context, int line, const char *name, const char *value,
    const char *problem)
{
	size_t *seen = context;

	if (line <= 0 || (problem == NULL && (name == NULL || value == NULL)))
		abort();
	*seen += (name ? strlen(name) : 0) + (value ? strlen(value) : 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *copy = malloc(size ? size : 1);
	size_t seen = 0;

	if (copy == NULL)
		return 0;
	memcpy(copy, data, size);
	conf_parse(copy, size, visit, &seen);
	free(copy);
	return 0;
}
