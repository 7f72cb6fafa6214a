/* The discrete-event core: a hierarchical timing wheel of intrusive timers
 * in front of a small queue: the current bucket's entries, sorted when
 * there are a few (up to 16: SIM_SORTED_MAX in engine.c), else a 4-ary heap.
 *
 * A struct sim_timer lives inside whatever owns it (a packet, an endpoint).
 * A timer due in the current bucket (2^16 ns, about 66 us, by default;
 * see sim_engine_expect) waits in the ready heap; one due within 4,096
 * buckets (0.27 s) in a level-0 bucket; one due within 4,096 level-1
 * buckets (18 min) in a level-1 bucket; a later one in a far bucket
 * looked at every 18 min.  Buckets and heap hold (time, arming sequence,
 * timer) entries: arming appends one; cancelling marks the timer (and,
 * while its entry waits in level 1, the entry, which the cascade then
 * drops); an entry whose timer was cancelled or re-armed since is dropped
 * when it comes to the top of the heap.  So moving entries between
 * buckets and the heap never touches a timer (a timer is read once, when
 * it fires), a bucket enters the heap once, level-1 entries move down
 * once, and the heap holds a bucket's events and stays in cache however
 * many timers are armed (one heap of a million timers missed the cache on
 * every sift).
 *
 * Because of those lazy entries, a timer's storage must stay valid until
 * sim_engine_free() once it has been armed.
 * Events fire in (time, arming sequence) order: two events for the same
 * instant run in the order they were armed, every time. */
#ifndef COAPSIM_ENGINE_H
#define COAPSIM_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../core/sim.h"

struct sim_engine;
struct sim_timer;

/* Called when the timer fires; the timer is already disarmed and may be
 * re-armed from inside the callback. */
typedef void (*sim_timer_fn)(struct sim_engine *e, struct sim_timer *t);

struct sim_timer {
	sim_time when;
	uint64_t seq;  /* arming order: breaks ties between equal times */
	uint32_t slot; /* 0 when not armed; armed on the wheel, 1, or for an entry
			* placed in level 1 its index there + 2 (see bury() in
			* engine.c); an outside scheduler keeps its index + 1 */
	uint32_t owner; /* for the engine's hint (an endpoint index), or SIM_NO_OWNER */
	sim_timer_fn fn;
};

#define SIM_NO_OWNER UINT32_MAX

/* An outside scheduler the engine's timers can run on instead of its own
 * queue (a backend that keeps its own event list, such as ns-3).  The
 * engine keeps the bookkeeping (time, arming sequence, armed count,
 * events run); the scheduler only keeps the timers in order:
 *   arm:    t is due at t->when (t->seq set); t->slot is the scheduler's
 *           own (non-zero while armed, and non-zero on entry when t is
 *           re-armed while armed).  Returns 0 or SIM_ERR_NOMEM.
 *   cancel: t is armed; forget it and clear t->slot.
 *   run:    call sim_engine_fire() for each timer due up to `until`, in
 *           (when, seq) order, until sim_engine_stop() asks it to stop.
 *   stop:   return from run after the current event. */
struct sim_sched {
	int (*arm)(void *ud, struct sim_timer *t);
	void (*cancel)(void *ud, struct sim_timer *t);
	void (*run)(void *ud, sim_time until);
	void (*stop)(void *ud);
	void *ud;
};

/* Owner-side setup of a timer (no engine needed). */
static inline void sim_timer_init(struct sim_timer *t, sim_timer_fn fn)
{
	t->when = SIM_TIME_NEVER;
	t->slot = 0;
	t->owner = SIM_NO_OWNER;
	t->fn = fn;
}

static inline bool sim_timer_armed(const struct sim_timer *t)
{
	return t->slot != 0;
}

/* A new engine at time 0; ud is what sim_engine_ud() gives the timers'
 * callbacks.  Returns NULL when out of memory. */
struct sim_engine *sim_engine_new(size_t capacity_hint, void *ud);
void sim_engine_delete(struct sim_engine *e); /* harmless on NULL */

/* The owner's pointer given to sim_engine_new. */
void *sim_engine_ud(const struct sim_engine *e);
/* The current time: the firing timer's, between events the last one's. */
sim_time sim_engine_now(const struct sim_engine *e);
/* Armed timers, wherever they wait. */
uint32_t sim_engine_pending(const struct sim_engine *e);
/* Callbacks run so far. */
uint64_t sim_engine_events(const struct sim_engine *e);
/* 0, or SIM_ERR_NOMEM once a timer could not be kept (the run is void). */
int sim_engine_error(const struct sim_engine *e);

/* Optional: told a timer's owner, the class the timer was armed with and
 * the timer, some sixteen entries before the timer fires, to start
 * fetching what that timer will touch beyond the timer's own line (which
 * the engine fetches).  Without it, the engine fetches the line after the
 * timer too.  A speed hint only: it never changes what fires when. */
typedef void (*sim_hint_fn)(void *ud, uint32_t owner, uint8_t cls, const struct sim_timer *t);
void sim_engine_set_hint(struct sim_engine *e, sim_hint_fn fn, void *ud);

/* Run the timers on an outside scheduler from now on (NULL: back on the
 * engine's own queue, which must then be empty).  Before the first timer
 * is armed. */
void sim_engine_set_sched(struct sim_engine *e, const struct sim_sched *s);
/* For an outside scheduler: t (its slot already cleared) is due at now. */
void sim_engine_fire(struct sim_engine *e, struct sim_timer *t, sim_time now);
/* For an outside scheduler: one of its own events (a packet arriving)
 * happens at now, before it calls into the timers' owners. */
void sim_engine_set_now(struct sim_engine *e, sim_time now);

/* Size the wheel's buckets for about `timers_per_s` armings a simulated
 * second (an estimate), before the first timer is armed: a bucket of
 * 2^16 ns holds a few entries at a million endpoints, but at ten thousand
 * most buckets are empty and the run pays for walking past them.  The
 * width never changes when or in what order timers fire. */
void sim_engine_expect(struct sim_engine *e, double timers_per_s);

/* Arm (or re-arm) t to fire at `when` (clamped to now).  Re-arming gives the
 * timer a new sequence number.  Returns 0 or SIM_ERR_NOMEM. */
int sim_timer_arm(struct sim_engine *e, struct sim_timer *t, sim_time when);

/* The same, with a hint class for the engine's hint: the owner's own
 * small number saying what the timer will touch (0: the owner does not
 * say).  The class never changes when or in what order timers fire. */
int sim_timer_arm_as(struct sim_engine *e, struct sim_timer *t, sim_time when,
		     uint8_t cls);

/* The same, for a timer armed as the last thing its caller does with the
 * wheel for a while (a packet put on the channel): the timer is armed at
 * once (when, sequence, armed state), but its entry is written at the
 * engine's next call, its bucket's bookkeeping fetched in the meantime.
 * Order and results are those of sim_timer_arm_as.  Running out of memory
 * when the entry is written stops the run with e->err set. */
int sim_timer_arm_soon(struct sim_engine *e, struct sim_timer *t, sim_time when,
		       uint8_t cls);

/* Disarm; harmless on a timer that is not armed. */
void sim_timer_cancel(struct sim_engine *e, struct sim_timer *t);

/* Run events until none is left, one would fire after `until`, or
 * sim_engine_stop() is called.  Returns the number of events run;
 * sim_engine_error() says whether the wheel ran out of memory on the way. */
uint64_t sim_engine_run(struct sim_engine *e, sim_time until);

/* Ask sim_engine_run to return after the current event. */
void sim_engine_stop(struct sim_engine *e);

/* Time of the earliest armed timer, or SIM_TIME_NEVER (native engine
 * only: an outside scheduler keeps its own queue). */
sim_time sim_engine_next(struct sim_engine *e);

#define sim_container_of(ptr, type, member) \
	((type *)(void *)((char *)(ptr)-offsetof(type, member)))

#endif
