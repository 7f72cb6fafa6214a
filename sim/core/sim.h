/* coapsim: the few types and conventions every module shares.
 *
 * Time is one integer type in nanoseconds; seconds as double exist only at
 * the edges (parsing, printing).  Errors are negative SIM_ERR_* values, 0 or a
 * count means success. */
#ifndef COAPSIM_SIM_H
#define COAPSIM_SIM_H

#include <stddef.h>
#include <stdint.h>

typedef uint64_t sim_time;

#define SIM_TIME_NEVER UINT64_MAX
#define SIM_NS(x) ((sim_time)(x))
#define SIM_US(x) ((sim_time)(x) * 1000ull)
#define SIM_US(x) ((sim_time)(x) * 1000ull)
#define SIM_MS(x) ((sim_time)(x) * 1000000ull)
#define SIM_S(x) ((sim_time)(x) * 1000000000ull)

enum sim_err {
	SIM_OK = 0,
	SIM_ERR_NOMEM = -1,    /* allocation failed */
	SIM_ERR_INVAL = -2,    /* invalid argument or value */
	SIM_ERR_MALFORMED = -3,/* a packet or message violates its format */
	SIM_ERR_NOSPACE = -4,  /* caller buffer too small */
	SIM_ERR_IO = -5,       /* file or stream I/O failed */
	SIM_ERR_NOTFOUND = -6, /* lookup failed */
	SIM_ERR_BUSY = -7,     /* resource limit reached (NSTART, queue) */
	SIM_ERR_UNSUPPORTED = -8,
	SIM_ERR_STOPPED = -9,  /* stopped on request (a signal) */
};

/* Human-readable text for a SIM_ERR_* value (static storage). */
const char *sim_strerror(int err);

/* Print helpers at the edges. */
static inline double sim_time_to_s(sim_time t) { return (double)t / 1e9; }
static inline double sim_time_to_ms(sim_time t) { return (double)t / 1e6; }

#define SIM_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* Debug checks of invariants the code relies on but that cost a little on
 * every event (which random streams exist, identity against storage
 * slot): built in with -DSIM_CHECKS (make asan, make test-nohints), no-ops
 * otherwise.  A failed check is a bug: it aborts with where it was. */
#ifdef SIM_CHECKS
void sim_check_failed(const char *what, const char *file, int line);
#define SIM_CHECK(cond, what) \
	((cond) ? (void)0 : sim_check_failed(what, __FILE__, __LINE__))
#else
#define SIM_CHECK(cond, what) ((void)0)
#endif

/* Start a struct member on a cache line (the C++ shim sees these too). */
#ifdef __cplusplus
#define SIM_LINE_ALIGNED alignas(64)
#else
#define SIM_LINE_ALIGNED _Alignas(64)
#endif

#endif
