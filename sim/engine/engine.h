/* The discrete-event core: a 4-ary min-heap of intrusive timers.
 *
 * A struct sim_timer lives inside whatever owns it (a packet, an endpoint)
 * and remembers its heap slot, so arming, re-arming and cancelling are
 * O(log n) with no allocation, and "is it armed?" is one compare.  Events
 * fire in (time, arming sequence) order: two events for the same instant run
 * in the order they were armed, every time. */
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
	uint32_t slot; /* heap index + 1; 0 when not armed */
	sim_timer_fn fn;
};

/* 16 bytes: the sequence lives in the timer and is read only on ties. */
struct sim_heap_ent {
	sim_time when;
	struct sim_timer *t;
};

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
	struct sim_heap_ent *heap;
	uint32_t len, cap;
	bool stop;
	const struct sim_sched *ext; /* NULL: the heap above */
};

/* Owner-side setup of a timer (no engine needed). */
static inline void sim_timer_init(struct sim_timer *t, sim_timer_fn fn)
{
	t->when = SIM_TIME_NEVER;
	t->slot = 0;
	t->fn = fn;
}

static inline bool sim_timer_armed(const struct sim_timer *t)
{
	return t->slot != 0;
}

/* Returns 0 or SIM_ERR_NOMEM. */
int sim_engine_init(struct sim_engine *e, size_t capacity_hint);
void sim_engine_free(struct sim_engine *e);

/* Arm (or re-arm) t to fire at `when` (clamped to now).  Re-arming gives the
 * timer a new sequence number.  Returns 0 or SIM_ERR_NOMEM. */
int sim_timer_arm(struct sim_engine *e, struct sim_timer *t, sim_time when);

/* Disarm; harmless on a timer that is not armed. */
void sim_timer_cancel(struct sim_engine *e, struct sim_timer *t);

/* Run events until none is left, one would fire after `until`, or
 * sim_engine_stop() is called.  Returns the number of events run. */
uint64_t sim_engine_run(struct sim_engine *e, sim_time until);

/* Ask sim_engine_run to return after the current event. */
static inline void sim_engine_stop(struct sim_engine *e)
{
	e->stop = true;
	if (e->ext)
		e->ext->stop(e->ext->ud);
}

/* Time of the earliest armed timer, or SIM_TIME_NEVER. */
static inline sim_time sim_engine_next(const struct sim_engine *e)
{
	/* Native heap only: an outside scheduler keeps its own queue. */
	return e->len ? e->heap[0].when : SIM_TIME_NEVER;
}

#define sim_container_of(ptr, type, member) \
	((type *)(void *)((char *)(ptr)-offsetof(type, member)))

#endif
