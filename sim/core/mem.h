/* Large zeroed arrays backed by huge pages where the kernel allows
 * (transparent huge pages in "madvise" mode, Debian's default).  At
 * 100,000 endpoints the per-endpoint arrays span tens of megabytes; with
 * 4 KiB pages nearly every endpoint's first touch also misses the TLB. */
#ifndef COAPSIM_MEM_H
#define COAPSIM_MEM_H

#include <stdbool.h>
#include <stddef.h>

/* Like calloc(n, size), aligned to a cache line at least; free with
 * sim_free_big(), given the same n and size.  NULL when out of memory. */
void *sim_calloc_big(size_t n, size_t size);
void sim_free_big(void *p, size_t n, size_t size);

#endif
