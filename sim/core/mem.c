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
	size_t align = bytes < HUGE_PAGE ? 64 : HUGE_PAGE;
	size_t rounded = bytes ? (bytes + align - 1) & ~(align - 1) : align;
	void *p = aligned_alloc(align, rounded);
	if (!p)
		return NULL;
	if (align == HUGE_PAGE)
		madvise(p, rounded, MADV_HUGEPAGE); /* a hint: fine if refused */
	memset(p, 0, rounded);
	return p;
}
