/* The live backend's clock and run loop, shared by its transports: timers
 * fire when real time passes their due time and run at that due time, so a
 * message's latency counts from when the traffic model meant to send it
 * (open loop: a slow server or a busy generator shows as latency, not as
 * fewer requests); how late each fired is the generator's lag.  Knows no
 * socket, device or protocol. */
#include <sys/epoll.h>

#include "../core/epoll_ns.h"

#include "live_rt.h"

#define LIVE_EVENTS 32

sim_time live_rt_now(const struct live_rt *rt)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (sim_time)((t.tv_sec - rt->t0.tv_sec) * 1000000000ll +
			  (t.tv_nsec - rt->t0.tv_nsec));
}

void live_rt_arrived(const struct live_rt *rt, struct sim_engine *eng)
{
	sim_time now = live_rt_now(rt);
	if (now > sim_engine_now(eng))
		sim_engine_set_now(eng, now);
}

static void lag_add(struct live_rt *rt, sim_time lag)
{
	int k = 0;
	while (k < LIVE_LAG_BUCKETS - 1 && lag >> (k + 1))
		k++;
	rt->lag_hist[k]++;
	rt->st.lag_count++;
	rt->st.lag_sum_ns += (double)lag;
	if (lag > rt->st.lag_max_ns)
		rt->st.lag_max_ns = lag;
}

uint64_t live_rt_run(struct live_rt *rt, struct sim_engine *eng, const struct backend_cb *cb,
		     int epfd, sim_time until, void (*ready)(void *ud, uint32_t tag), void *ud,
		     int *err)
{
	uint64_t before = sim_engine_events(eng);
	struct epoll_event ev[LIVE_EVENTS];

	/* Time 0 is when the load begins: after the probe and the fleet's
	 * setup, which would otherwise count as the first timers' lag. */
	if (!rt->started) {
		clock_gettime(CLOCK_MONOTONIC, &rt->t0);
		rt->started = true;
	}
	for (;;) {
		sim_time now = live_rt_now(rt), next;
		while ((next = sim_engine_next(eng)) <= now && next <= until && !*err) {
			lag_add(rt, now - next);
			if (cb->lag)
				cb->lag(cb->ud, now - next);
			sim_engine_run(eng, next);
			if (sim_engine_error(eng))
				*err = sim_engine_error(eng);
		}
		if (*err || now >= until || !sim_engine_pending(eng))
			break;
		sim_time wake = next < until ? next : until;
		int n = sim_epoll_wait(epfd, ev, LIVE_EVENTS, wake - now);
		for (int i = 0; i < n; i++)
			ready(ud, ev[i].data.u32);
	}
	return sim_engine_events(eng) - before;
}

/* The lag at quantile q (ns): the upper edge of its bucket, clipped to the
 * largest seen. */
static sim_time lag_quantile(const struct live_rt *rt, double q)
{
	if (!rt->st.lag_count)
		return 0;
	uint64_t want = (uint64_t)(q * (double)rt->st.lag_count), seen = 0;
	for (int k = 0; k < LIVE_LAG_BUCKETS; k++) {
		seen += rt->lag_hist[k];
		if (seen > want || seen == rt->st.lag_count) {
			sim_time edge = (sim_time)2 << k;
			return edge < rt->st.lag_max_ns ? edge : rt->st.lag_max_ns;
		}
	}
	return rt->st.lag_max_ns;
}

const struct backend_gen_stats *live_rt_stats(struct live_rt *rt)
{
	rt->st.lag_p50_ns = lag_quantile(rt, 0.5);
	rt->st.lag_p99_ns = lag_quantile(rt, 0.99);
	return &rt->st;
}
