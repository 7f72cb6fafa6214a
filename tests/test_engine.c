/* The event queue: (time, arming sequence) order, cancel, re-arm, across
 * the wheel's levels. */
#include <criterion/criterion.h>
#include <stdlib.h>

/* White-box: the engine's own tests see its insides. */
#include "../sim/engine/engine_impl.h"

#define N_T 64
struct rec {
	struct sim_timer t;
	int id;
};
static int order[4096], n_order;
static struct rec recs[N_T];

static void fire(struct sim_engine *e, struct sim_timer *t)
{
	(void)e;
	order[n_order++] = sim_container_of(t, struct rec, t)->id;
}

static void setup_recs(void)
{
	n_order = 0;
	for (int i = 0; i < N_T; i++) {
		recs[i].id = i;
		sim_timer_init(&recs[i].t, fire);
	}
}

Test(engine, time_order_then_arming_order)
{
	struct sim_engine e;
	setup_recs();
	cr_assert_eq(sim_engine_init(&e, 4), 0);
	sim_timer_arm(&e, &recs[0].t, 30);
	sim_timer_arm(&e, &recs[1].t, 10);
	sim_timer_arm(&e, &recs[2].t, 20);
	sim_timer_arm(&e, &recs[3].t, 10); /* same time as 1, armed later */
	sim_timer_arm(&e, &recs[4].t, 10);
	cr_assert_eq(sim_engine_run(&e, SIM_TIME_NEVER), 5);
	const int want[] = {1, 3, 4, 2, 0};
	cr_assert_arr_eq(order, want, sizeof(want));
	cr_assert_eq(e.now, 30);
	cr_assert_eq(e.events, 5);
	sim_engine_free(&e);
}

Test(engine, rearm_gets_a_new_sequence_and_cancel_removes)
{
	struct sim_engine e;
	setup_recs();
	sim_engine_init(&e, 4);
	sim_timer_arm(&e, &recs[0].t, 10);
	sim_timer_arm(&e, &recs[1].t, 10);
	sim_timer_arm(&e, &recs[0].t, 10); /* re-armed: now after 1 */
	sim_timer_arm(&e, &recs[2].t, 5);
	sim_timer_cancel(&e, &recs[2].t);
	cr_assert_not(sim_timer_armed(&recs[2].t));
	sim_timer_cancel(&e, &recs[2].t); /* harmless twice */
	cr_assert(sim_timer_armed(&recs[0].t));
	sim_engine_run(&e, SIM_TIME_NEVER);
	const int want[] = {1, 0};
	cr_assert_eq(n_order, 2);
	cr_assert_arr_eq(order, want, sizeof(want));
	sim_engine_free(&e);
}

Test(engine, run_until_and_past_times)
{
	struct sim_engine e;
	setup_recs();
	sim_engine_init(&e, 4);
	sim_timer_arm(&e, &recs[0].t, 100);
	sim_timer_arm(&e, &recs[1].t, 200);
	cr_assert_eq(sim_engine_run(&e, 150), 1);
	cr_assert_eq(e.now, 100);
	cr_assert_eq(sim_engine_next(&e), 200);
	/* Arming in the past clamps to now. */
	sim_timer_arm(&e, &recs[2].t, 50);
	cr_assert_eq(recs[2].t.when, 100);
	sim_engine_run(&e, SIM_TIME_NEVER);
	const int want[] = {0, 2, 1};
	cr_assert_arr_eq(order, want, sizeof(want));
	sim_engine_free(&e);
}

static struct sim_engine *self_e;
static void rearm_self(struct sim_engine *e, struct sim_timer *t)
{
	struct rec *r = sim_container_of(t, struct rec, t);
	order[n_order++] = r->id;
	if (n_order < 5)
		sim_timer_arm(e, t, e->now + 7);
	else
		sim_engine_stop(self_e);
}

Test(engine, rearm_from_callback_and_stop)
{
	struct sim_engine e;
	setup_recs();
	self_e = &e;
	sim_engine_init(&e, 4);
	sim_timer_init(&recs[0].t, rearm_self);
	sim_timer_arm(&e, &recs[0].t, 1);
	sim_timer_arm(&e, &recs[1].t, 1000);
	cr_assert_eq(sim_engine_run(&e, SIM_TIME_NEVER), 5, "stopped after the 5th");
	cr_assert_eq(e.now, 1 + 4 * 7);
	cr_assert(sim_timer_armed(&recs[1].t));
	sim_engine_free(&e);
}

/* Against a reference: a plain array sorted by (time, sequence). */
/* Events ids[0..n) ran in (time, arming sequence) order, by the
 * reference times and sequences of each id. */
static void assert_in_order(const int *ids, int n, const sim_time *when, const uint64_t *seq)
{
	for (int k = 1; k < n; k++) {
		int a = ids[k - 1], b = ids[k];
		cr_assert(when[a] < when[b] || (when[a] == when[b] && seq[a] < seq[b]),
			  "event %d (t=%llu) ran before %d (t=%llu)", a,
			  (unsigned long long)when[a], b, (unsigned long long)when[b]);
	}
}

Test(engine, random_operations_match_a_reference)
{
	struct sim_engine e;
	static struct rec many[2000];
	static sim_time ref_when[2000];
	static uint64_t ref_seq[2000];
	static int ref_armed[2000];
	uint64_t seq = 0;
	unsigned r = 12345;

	n_order = 0;
	sim_engine_init(&e, 8); /* grows well past the hint */
	for (int i = 0; i < 2000; i++) {
		many[i].id = i;
		sim_timer_init(&many[i].t, fire);
	}
	for (int op = 0; op < 100000; op++) {
		r = r * 1103515245u + 12345u;
		int i = (int)((r >> 8) % 2000);
		if ((r >> 4) % 4 == 0) {
			sim_timer_cancel(&e, &many[i].t);
			ref_armed[i] = 0;
		} else {
			sim_time t = (r >> 12) % 1000;
			sim_timer_arm(&e, &many[i].t, t);
			ref_when[i] = t;
			ref_seq[i] = seq++;
			ref_armed[i] = 1;
		}
	}
	int expect = 0;
	for (int i = 0; i < 2000; i++)
		expect += ref_armed[i];
	static int got[4096];
	n_order = 0;
	sim_engine_run(&e, SIM_TIME_NEVER);
	cr_assert_eq(n_order, expect);
	for (int k = 0; k < n_order; k++)
		got[k] = order[k];
	assert_in_order(got, n_order, ref_when, ref_seq);
	sim_engine_free(&e);
}

/* The wheel's levels: times from nanoseconds to days (the same bucket,
 * level 0 below 0.27 s, level 1 below 18 min, the far bucket beyond),
 * armed, re-armed and cancelled while the clock moves, in several
 * run-until steps and from inside callbacks, against a reference order.
 * Each firing re-arms a quarter of the timers at a random distance. */
#define N_W 3000
static struct wrec {
	struct sim_timer t;
	int id;
} wrecs[N_W];
static sim_time w_when[N_W];
static uint64_t w_seq[N_W];
static int w_armed[N_W];
static uint64_t w_ref_seq;
static unsigned w_r = 777;
static sim_time w_last_when;
static uint64_t w_last_seq;
static int w_fired, w_bad;

static sim_time w_dist(void)
{
	w_r = w_r * 1103515245u + 12345u;
	switch ((w_r >> 8) % 5) {
	case 0: return (w_r >> 12) % 1000;                    /* same bucket */
	case 1: return (sim_time)((w_r >> 12) % 250) * 1000000; /* level 0 */
	case 2: return (sim_time)((w_r >> 12) % 1000) * 1000000000; /* level 1 */
	case 3: return (sim_time)((w_r >> 12) % 48) * 3600 * 1000000000ull; /* far */
	default: return 0;                                     /* now */
	}
}

static int w_soon; /* arm about half the timers with sim_timer_arm_soon */

static void w_arm(struct sim_engine *e, int i, sim_time when)
{
	if (when < e->now)
		when = e->now;
	if (w_soon && ((w_r = w_r * 1103515245u + 12345u) >> 16) % 2)
		cr_assert_eq(sim_timer_arm_soon(e, &wrecs[i].t, when, 0), 0);
	else
		cr_assert_eq(sim_timer_arm(e, &wrecs[i].t, when), 0);
	w_when[i] = when;
	w_seq[i] = w_ref_seq++;
	w_armed[i] = 1;
}

static void w_fire(struct sim_engine *e, struct sim_timer *t)
{
	int id = sim_container_of(t, struct wrec, t)->id;
	/* Fired in (time, arming) order, at its time, while armed. */
	if (!w_armed[id] || e->now != w_when[id] ||
	    (w_fired && (w_when[id] < w_last_when ||
			 (w_when[id] == w_last_when && w_seq[id] < w_last_seq))))
		w_bad++;
	w_last_when = w_when[id];
	w_last_seq = w_seq[id];
	w_armed[id] = 0;
	w_fired++;
	w_r = w_r * 1103515245u + 12345u;
	if ((w_r >> 4) % 4 == 0) {
		int j = (int)((w_r >> 8) % N_W);
		if ((w_r >> 20) % 3 == 0) {
			sim_timer_cancel(e, &wrecs[j].t);
			w_armed[j] = 0;
		} else {
			w_arm(e, j, e->now + w_dist());
		}
	}
}

static void wheel_levels(double timers_per_s, unsigned shift)
{
	struct sim_engine e;

	cr_assert_eq(sim_engine_init(&e, 8), 0);
	sim_engine_expect(&e, timers_per_s);
	cr_assert_eq(e.shift, shift);
	for (int i = 0; i < N_W; i++) {
		wrecs[i].id = i;
		sim_timer_init(&wrecs[i].t, w_fire);
		w_arm(&e, i, w_dist());
	}
	/* Cancel and re-arm some before anything runs. */
	for (int i = 0; i < N_W; i += 7) {
		sim_timer_cancel(&e, &wrecs[i].t);
		w_armed[i] = 0;
	}
	for (int i = 3; i < N_W; i += 11)
		w_arm(&e, i, w_dist());
	/* Run in uneven steps, as a run publishes progress. */
	for (sim_time until = 0; e.len; until += 1234567890123ull / 97) {
		sim_engine_run(&e, until);
		cr_assert(e.now <= until);
		uint32_t armed = 0;
		for (int i = 0; i < N_W; i++)
			armed += (uint32_t)w_armed[i];
		cr_assert_eq(e.len, armed, "armed timers %u, engine says %u", armed, e.len);
	}
	cr_assert_eq(w_bad, 0, "%d events out of order or stale", w_bad);
	cr_assert_gt(w_fired, N_W / 2);
	sim_engine_free(&e);
}

/* At the default width, buckets of 2^16 ns. */
Test(engine, wheel_levels_match_a_reference, .timeout = 60)
{
	wheel_levels(1e6, SIM_BUCKET_SHIFT);
}

/* Wider buckets for a slow run, the widest that holds at most four
 * entries on average: at 1,000 timers a second, 2^21 ns (2.1 ms: 2.1
 * entries; 2^22 would hold 4.2); at one a second, the widest, 2^24.  The
 * same order, whatever the width. */
Test(engine, wider_buckets_keep_the_order, .timeout = 60)
{
	wheel_levels(1000, 21);
}

Test(engine, widest_buckets_keep_the_order, .timeout = 60)
{
	wheel_levels(1, SIM_BUCKET_SHIFT_MAX);
}

/* An entry written at the engine's next call (sim_timer_arm_soon) fires
 * in the same order as one written at once, through cancels and re-arms
 * before it is written, and is counted as armed meanwhile. */
Test(engine, armed_soon_keeps_the_order, .timeout = 60)
{
	w_soon = 1;
	wheel_levels(1e6, SIM_BUCKET_SHIFT);
	w_soon = 0;
}

/* Once a timer is armed the width stays: its entry's bucket is fixed. */
Test(engine, expect_after_arming_changes_nothing)
{
	struct sim_engine e;
	struct sim_timer t;

	cr_assert_eq(sim_engine_init(&e, 8), 0);
	sim_timer_init(&t, NULL);
	cr_assert_eq(sim_timer_arm(&e, &t, 5), 0);
	sim_engine_expect(&e, 1);
	cr_assert_eq(e.shift, SIM_BUCKET_SHIFT);
	sim_engine_free(&e);
}

/* A bucket of a few entries runs as a sorted array; events armed into the
 * current bucket while it runs are inserted in order, and past sixteen
 * the array turns back into a heap.  Three events wait in the 66 us
 * bucket that holds 1 ms.  The first arms six more inside that bucket
 * (the array stays sorted), landing before, between and level with the
 * two still waiting; one of those six arms 54 more (the array becomes a
 * heap part way). */
#define N_G 63
static struct rec grow_recs[N_G];
static sim_time grow_when[N_G];
static uint64_t grow_seq[N_G];
static int grow_order[N_G], n_grow;
static uint64_t grow_next_seq;

static void grow_arm(struct sim_engine *e, int from, int to, sim_time span)
{
	for (int k = from; k < to; k++) {
		/* Scattered over span; every fifth level with a waiting one. */
		sim_time off = k % 5 ? (sim_time)(k * 7919) % span : k % 2 ? 19000 : 29000;
		grow_when[k] = e->now + off;
		grow_seq[k] = grow_next_seq++;
		cr_assert_eq(sim_timer_arm(e, &grow_recs[k].t, grow_when[k]), 0);
	}
}

static void grow_fire(struct sim_engine *e, struct sim_timer *t)
{
	int id = sim_container_of(t, struct rec, t)->id;
	grow_order[n_grow++] = id;
	cr_assert_eq(e->now, grow_when[id]);
	if (id == 0)
		grow_arm(e, 3, 9, 48000);
	else if (id == 4) /* at 1,031,676 ns: 16 us of the bucket left */
		grow_arm(e, 9, N_G, 16000);
}

Test(engine, a_small_bucket_that_grows_stays_in_order)
{
	struct sim_engine e;
	/* Bucket 15 spans 983,040 to 1,048,575 ns. */
	static const sim_time first[3] = {1000000, 1029000, 1019000};

	cr_assert_eq(sim_engine_init(&e, 8), 0);
	n_grow = 0;
	grow_next_seq = 0;
	for (int i = 0; i < N_G; i++) {
		grow_recs[i].id = i;
		sim_timer_init(&grow_recs[i].t, grow_fire);
	}
	for (int i = 0; i < 3; i++) {
		grow_when[i] = first[i];
		grow_seq[i] = grow_next_seq++;
		cr_assert_eq(sim_timer_arm(&e, &grow_recs[i].t, grow_when[i]), 0);
	}
	sim_engine_run(&e, SIM_TIME_NEVER);
	cr_assert_eq(n_grow, N_G);
	assert_in_order(grow_order, n_grow, grow_when, grow_seq);
	sim_engine_free(&e);
}

#ifndef SIM_SCHED_HEAP /* the wheel's own bookkeeping: level-1 entries */
/* Buried entries.  A timer armed straight into a level-1 bucket and then
 * cancelled, or re-armed, while that bucket waits has its entry marked
 * dead in place, so the cascade drops it.  64 timers 1..64 s ahead (level
 * 1 at the default width: beyond 0.27 s); every third cancelled, every
 * third re-armed 1 ms later than it was; the rest left alone.  Exactly
 * the cancelled and re-armed timers' first entries are buried, and every
 * live timer fires once, at its time, in order. */
#define N_B 64
static struct rec bury_recs[N_B];
static int bury_fired[N_B], bury_bad;
static sim_time bury_when[N_B], bury_last;

static void bury_fire(struct sim_engine *e, struct sim_timer *t)
{
	int id = sim_container_of(t, struct rec, t)->id;
	if (e->now != bury_when[id] || e->now < bury_last)
		bury_bad++;
	bury_last = e->now;
	bury_fired[id]++;
}


Test(engine, cancelled_level1_entries_are_buried)
{
	struct sim_engine e;

	cr_assert_eq(sim_engine_init(&e, 8), 0);
	for (int i = 0; i < N_B; i++) {
		bury_recs[i].id = i;
		sim_timer_init(&bury_recs[i].t, bury_fire);
		bury_when[i] = (sim_time)(i + 1) * 1000000000ull;
		cr_assert_eq(sim_timer_arm(&e, &bury_recs[i].t, bury_when[i]), 0);
		/* Straight into level 1: the slot names the entry. */
		uint32_t slot = bury_recs[i].t.slot;
		cr_assert_geq(slot, 2);
		uint64_t blk = (bury_when[i] >> e.shift) >> SIM_WHEEL_BITS;
		const struct sim_ent *x = &e.l1[blk & (SIM_WHEEL_SIZE - 1)].v[slot - 2];
		cr_assert_eq(x->t, &bury_recs[i].t);
		cr_assert_eq(x->seq, bury_recs[i].t.seq);
	}
	for (int i = 0; i < N_B; i++) {
		if (i % 3 == 0) {
			sim_timer_cancel(&e, &bury_recs[i].t);
			bury_when[i] = SIM_TIME_NEVER;
		} else if (i % 3 == 1) {
			bury_when[i] += 1000000;
			cr_assert_eq(sim_timer_arm(&e, &bury_recs[i].t, bury_when[i]), 0);
		}
	}
	/* Find each first arming (sequence i) in its bucket: arrays may
	 * have moved since (a re-arm can grow a bucket), indices have not. */
	for (int i = 0; i < N_B; i++) {
		uint64_t blk = ((sim_time)(i + 1) * 1000000000ull >> e.shift) >> SIM_WHEEL_BITS;
		const struct sim_bucket *b = &e.l1[blk & (SIM_WHEEL_SIZE - 1)];
		const struct sim_ent *x = NULL;
		for (uint32_t k = 0; k < b->n; k++)
			if (b->v[k].seq == (uint64_t)i) /* the first arming: seq i */
				x = &b->v[k];
		cr_assert_not_null(x);
		if (i % 3 == 2)
			cr_assert_eq(x->t, &bury_recs[i].t, "timer %d: buried but live", i);
		else
			cr_assert_null(x->t, "timer %d: cancelled or re-armed, not buried", i);
	}
	sim_engine_run(&e, SIM_TIME_NEVER);
	cr_assert_eq(bury_bad, 0);
	cr_assert_eq(e.len, 0);
	for (int i = 0; i < N_B; i++)
		cr_assert_eq(bury_fired[i], i % 3 == 0 ? 0 : 1, "timer %d fired %d times", i,
			     bury_fired[i]);
	sim_engine_free(&e);
}
#endif
