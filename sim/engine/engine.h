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

/* One arming of a timer, in a bucket or the heap. */
struct sim_ent {
	sim_time when;
	uint64_t seq;
	struct sim_timer *t;
	uint32_t owner;
	uint8_t cls;   /* the hint class it was armed with */
};
struct sim_bucket {
	struct sim_ent *v;
	uint32_t n, cap;
};
#define SIM_WHEEL_BITS 12
#define SIM_WHEEL_SIZE (1u << SIM_WHEEL_BITS)
/* A level-0 bucket spans 2^shift ns: SIM_BUCKET_SHIFT unless
 * sim_engine_expect() widened it for a slow event rate. */
#ifndef SIM_BUCKET_SHIFT
#define SIM_BUCKET_SHIFT 16
#endif
#define SIM_BUCKET_SHIFT_MAX 24

/* An outside scheduler the engine's timers can run on instead of the heap
 * (the ns-3 shim).  It keeps now, len (armed timers) and events up to date,
 * clears t->slot before calling t->fn, and orders simultaneous timers by
 * arming order, as the heap does.  arm returns 0 or SIM_ERR_NOMEM. */
struct sim_sched {
	int (*arm)(void *ud, struct sim_timer *t, sim_time when);
	void (*cancel)(void *ud, struct sim_timer *t);
	void (*run)(void *ud, sim_time until);
	void (*stop)(void *ud);
	void *ud;
};

struct sim_engine {
	sim_time now;
	uint64_t seq;    /* arming counter: the tie-break */
	uint64_t events; /* callbacks run */
	struct sim_ent *heap; /* ready: entries due in buckets up to cur */
	uint32_t hlen, cap;
	bool sorted;     /* heap[] is sorted latest first (a few entries), not a heap */
	uint32_t len;    /* armed timers, wherever they wait */
	bool stop;
	int err;         /* SIM_ERR_NOMEM when a timer could not be moved down */
	uint64_t cur;    /* the wheel's current level-0 bucket */
	uint8_t shift;   /* a level-0 bucket spans 2^shift ns */
	/* The hint cursor: entry hi of level-0 bucket hb is the next to be
	 * hinted; every entry before it (buckets cur+1..hb, and the heap)
	 * has been.  lead counts hinted entries not yet popped. */
	uint64_t hb;
	uint32_t hi, lead;
	const struct sim_bucket *hbk; /* bucket hb while hb > cur, else NULL */
	uint32_t l1_last; /* entries of the latest level-1 bucket brought down, + 1/8 */
	struct sim_bucket *l0, *l1, far; /* l0 and l1: SIM_WHEEL_SIZE buckets each */
	uint64_t bm0[SIM_WHEEL_SIZE / 64], bm1[SIM_WHEEL_SIZE / 64]; /* non-empty buckets */
	const struct sim_sched *ext; /* NULL: the wheel above */
	/* A timer armed with sim_timer_arm_soon whose entry is still to be
	 * written (NULL if none), and its hint class. */
	struct sim_timer *soon_t;
	uint8_t soon_cls;
	/* Optional: told a timer's owner, the class the timer was armed
	 * with and the timer, some sixteen entries before the timer fires, to
	 * start fetching what that timer will touch beyond the timer's own
	 * line (which the engine fetches).  Without it, the engine fetches
	 * the line after the timer too. */
	void (*hint)(void *ud, uint32_t owner, uint8_t cls, const struct sim_timer *t);
	void *hint_ud;
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

/* Returns 0 or SIM_ERR_NOMEM. */
int sim_engine_init(struct sim_engine *e, size_t capacity_hint);
void sim_engine_free(struct sim_engine *e);

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
 * sim_engine_stop() is called.  Returns the number of events run; e->err
 * says whether the wheel ran out of memory on the way. */
uint64_t sim_engine_run(struct sim_engine *e, sim_time until);

/* Ask sim_engine_run to return after the current event. */
static inline void sim_engine_stop(struct sim_engine *e)
{
	e->stop = true;
	if (e->ext)
		e->ext->stop(e->ext->ud);
}

/* Time of the earliest armed timer, or SIM_TIME_NEVER (native engine
 * only: an outside scheduler keeps its own queue). */
sim_time sim_engine_next(struct sim_engine *e);

#define sim_container_of(ptr, type, member) \
	((type *)(void *)((char *)(ptr)-offsetof(type, member)))

#endif
