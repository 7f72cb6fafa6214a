/* The speed tricks, in one place: cache prefetches, stores around the
 * cache, branch weights and out-of-line cold paths.  None of them may
 * change a result, only when memory is touched: building with
 * -DSIM_NO_HINTS turns the prefetches, the engine's hints and deferred
 * arming, and the non-temporal stores into plain code, and the golden
 * outputs must come out the same (make test-nohints).  Knows nothing of
 * the simulator. */
#ifndef COAPSIM_HW_H
#define COAPSIM_HW_H

#include <stdint.h>

#if defined(__x86_64__) && !defined(SIM_NO_HINTS)
#include <immintrin.h> /* _mm_stream_si64 */
#endif

#ifdef SIM_NO_HINTS
#define SIM_HINTS 0
#define SIM_PREFETCH(p) ((void)(p))
#define SIM_PREFETCH_W(p) ((void)(p))
#else
#define SIM_HINTS 1
/* Start fetching the line at p, to read / to write. */
#define SIM_PREFETCH(p) __builtin_prefetch(p)
#define SIM_PREFETCH_W(p) __builtin_prefetch((p), 1)
#endif

#define SIM_LIKELY(x) __builtin_expect(!!(x), 1)
#define SIM_UNLIKELY(x) __builtin_expect(!!(x), 0)
#define SIM_NOINLINE __attribute__((noinline))
/* Inline wherever called: a hot step whose inlining the compiler's
 * heuristics drop once it has more callers (each backend's run loop). */
#define SIM_ALWAYS_INLINE inline __attribute__((always_inline))

/* Store a 64-bit word at p around the cache where the machine can (a
 * line read again much later need not be read in first, nor push out
 * hotter ones); a plain store elsewhere and with SIM_NO_HINTS.  The
 * bytes are the same either way. */
static inline void sim_store_nt64(void *p, uint64_t v)
{
#if defined(__x86_64__) && !defined(SIM_NO_HINTS)
	_mm_stream_si64((long long *)p, (long long)v);
#else
	*(uint64_t *)p = v;
#endif
}

#endif
