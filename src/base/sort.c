/* sort.c: qsort for arrays that may be empty (sort.h). */
#include <stdlib.h>

#include "base/sort.h"

void array_sort(void *base, size_t count, size_t size,
    int (*compare)(const void *, const void *))
{
	if (count > 1)
		qsort(base, count, size, compare);
}
