#include "mem.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#define HUGE_PAGE ((size_t)2 << 20)

void *sim_calloc_big(size_t n, size_t size)
{
	if (size && n > SIZE_MAX / size)
		return NULL;
	size_t bytes = n * size;
	if (bytes < HUGE_PAGE)
		return calloc(n ? n : 1, size ? size : 1);
	size_t rounded = (bytes + HUGE_PAGE - 1) & ~(HUGE_PAGE - 1);
	void *p = aligned_alloc(HUGE_PAGE, rounded);
	if (!p)
		return NULL;
	madvise(p, rounded, MADV_HUGEPAGE); /* a hint: fine if refused */
	memset(p, 0, rounded);
	return p;
}
