/* What the live backend's transports share: the engine run in real time
 * (CLOCK_MONOTONIC, time 0 when the load begins) and the generator's lag,
 * how late its timers fired.  Knows no socket, device or protocol. */
#ifndef COAPSIM_LIVE_RT_H
#define COAPSIM_LIVE_RT_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "backend.h"

/* Generator lag: a log2 histogram of ns (bucket k: [2^k, 2^(k+1))). */
#define LIVE_LAG_BUCKETS 48

struct live_rt {
	struct timespec t0;
	bool started; /* t0 is set: the load began */
	struct backend_gen_stats st;
	uint64_t lag_hist[LIVE_LAG_BUCKETS];
};

/* Real time since the load began, ns. */
sim_time live_rt_now(const struct live_rt *rt);

/* Something arrived: the engine's clock moves up to real time, so that
 * what it starts is stamped when it came. */
void live_rt_arrived(const struct live_rt *rt, struct sim_engine *eng);

/* Fire what is due by now (each instant's lateness counted as lag and
 * reported through cb->lag), then wait on epoll descriptor epfd until the
 * next timer, `until` or an event, and hand each event's data.u32 to
 * ready(ud, tag); until real time reaches `until`, nothing is pending or
 * *err is set.  Returns the events run. */
uint64_t live_rt_run(struct live_rt *rt, struct sim_engine *eng, const struct backend_cb *cb,
		     int epfd, sim_time until, void (*ready)(void *ud, uint32_t tag), void *ud,
		     int *err);

/* The stats with the lag's p50 and p99 filled in. */
const struct backend_gen_stats *live_rt_stats(struct live_rt *rt);

#endif
