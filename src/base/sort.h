/* sort.h: qsort for arrays that may be empty. An empty array is often still NULL (nothing
 * was ever allocated), and qsort's contract does not allow NULL even with a count of 0
 * (UndefinedBehaviorSanitizer says so), so every caller would need the same guard. */
#ifndef RESCUE_SORT_H
#define RESCUE_SORT_H

#include <stddef.h>

/* Sorts the COUNT elements of SIZE bytes at BASE as qsort does; nothing to do when COUNT
 * is below 2, and BASE is not looked at then. */
void array_sort(void *base, size_t count, size_t size,
    int (*compare)(const void *, const void *));

#endif
