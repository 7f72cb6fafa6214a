/* The engine's insides, shared by its two implementations (the timing
 * wheel, engine.c, and the plain heap, engine_heap.c) and by the engine's
 * own white-box tests.  Nothing outside sim/engine/ and tests/test_engine.c
 * includes this: to everyone else struct sim_engine is opaque. */
#ifndef COAPSIM_ENGINE_IMPL_H
#define COAPSIM_ENGINE_IMPL_H

#include "engine.h"

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
	sim_hint_fn hint; /* see sim_engine_set_hint */
	void *hint_ud;
	void *ud;         /* the owner's: sim_engine_ud */
};

/* Each implementation's own (sim_engine_new and _delete call them). */
int sim_engine_init(struct sim_engine *e, size_t capacity_hint);
void sim_engine_free(struct sim_engine *e);

/* An outside scheduler's side of arming, cancelling and running
 * (engine_common.c): the implementations call them while e->ext is set. */
int sim_engine_ext_arm(struct sim_engine *e, struct sim_timer *t, sim_time when);
void sim_engine_ext_cancel(struct sim_engine *e, struct sim_timer *t);
uint64_t sim_engine_ext_run(struct sim_engine *e, sim_time until);

#endif
