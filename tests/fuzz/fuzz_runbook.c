/* fuzz_runbook: runbooks as they come from the RESCUECFG disk or a URL, through the parser
 * that checks every line before anything runs. */
#include <stdio.h>

#include "fuzz.h"
#include "base/err.h"
#include "cli/runbook_parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct runbook book = { .name = "fuzz" };
	int i, j;

	book.text = fuzz_text(data, size);
	if (book.text == NULL)
		return 0;
	book.length = size;
	if (runbook_parse(&book) == EXIT_OK)
		for (i = 0; i < book.line_count; i++)
			for (j = 0; j < book.lines[i].argc; j++)
				if (book.lines[i].command == NULL || book.lines[i].argv[j] == NULL)
					abort();
	free(book.lines);
	free(book.text);
	return 0;
}
