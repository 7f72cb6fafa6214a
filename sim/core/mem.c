/* Big zeroed arrays (mmap for the fleet's per-endpoint state).  Knows
 * nothing of what is stored in them. */
#include "mem.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#define HUGE_PAGE ((size_t)2 << 20)

/* The bytes an array takes: a small one is rounded to cache lines, a
 * large one to huge pages (and is a mapping of its own). */
static size_t rounded_bytes(size_t n, size_t size, bool *mapped)
{
	size_t bytes = n * size;
	*mapped = bytes >= HUGE_PAGE;
	size_t align = *mapped ? HUGE_PAGE : 64;
	return bytes ? (bytes + align - 1) & ~(align - 1) : align;
}

void *sim_calloc_big(size_t n, size_t size)
{
	bool mapped;
	if (size && n > (SIZE_MAX - 2 * HUGE_PAGE) / size)
		return NULL;
	size_t rounded = rounded_bytes(n, size, &mapped);
	if (!mapped) {
		void *p = aligned_alloc(64, rounded);
		if (p)
			memset(p, 0, rounded);
		return p;
	}
	/* A fresh anonymous mapping reads as zeros, page by page as it is
	 * first touched: no pass over a million endpoints' worth of memory
	 * to clear it.  Mapped with a huge page of slack, then trimmed to
	 * start on a huge-page boundary. */
	char *base = mmap(NULL, rounded + HUGE_PAGE, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (base == MAP_FAILED)
		return NULL;
	char *p = (char *)(((uintptr_t)base + HUGE_PAGE - 1) & ~(uintptr_t)(HUGE_PAGE - 1));
	size_t head = (size_t)(p - base); /* < HUGE_PAGE: the rest is the tail */
	if (head)
		munmap(base, head);
	munmap(p + rounded, HUGE_PAGE - head);
	madvise(p, rounded, MADV_HUGEPAGE); /* a hint: fine if refused */
	return p;
}

void sim_free_big(void *p, size_t n, size_t size)
{
	bool mapped;
	if (!p)
		return;
	size_t rounded = rounded_bytes(n, size, &mapped);
	if (mapped)
		munmap(p, rounded);
	else
		free(p);
}
