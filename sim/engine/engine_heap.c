/* The engine's semantics in their plainest form: one binary heap of
 * (time, arming sequence, timer) entries, smallest first.  Built instead of
 * the timing wheel (engine.c) with `make SCHED=heap`; tests/test_engine.c
 * and the golden outputs run on both, so the wheel, with its levels,
 * hints and deferred entries, is checked against this at every scale.
 * Read this file to learn what the engine promises; read engine.c to see
 * how it is made fast.  Knows nothing of what timers are for.
 *
 * Entries are lazy, as the wheel's are: arming pushes one; cancelling or
 * re-arming only changes the timer, and an entry whose timer no longer
 * carries its sequence number is dropped when it reaches the top. */
#include <stdlib.h>

#include "engine_impl.h"

int sim_engine_init(struct sim_engine *e, size_t capacity_hint)
{
	*e = (struct sim_engine){0};
	e->cap = capacity_hint > 64 ? (uint32_t)(capacity_hint < 1u << 20 ? capacity_hint : 1u << 20)
				    : 64;
	e->heap = malloc(sizeof(*e->heap) * e->cap);
	if (!e->heap)
		return SIM_ERR_NOMEM;
	e->shift = SIM_BUCKET_SHIFT;
	return 0;
}

/* Nothing to size: the bucket width is kept only so that the engine's
 * tests read the same value from either implementation. */
void sim_engine_expect(struct sim_engine *e, double timers_per_s)
{
	if (e->seq || e->ext)
		return;
	unsigned shift = SIM_BUCKET_SHIFT;
	while (shift < SIM_BUCKET_SHIFT_MAX &&
	       timers_per_s * (double)(1ull << (shift + 1)) <= 4e9)
		shift++;
	e->shift = (uint8_t)shift;
}

void sim_engine_free(struct sim_engine *e)
{
	free(e->heap);
	*e = (struct sim_engine){0};
}

/* Earlier time first; for the same time, armed first. */
static bool before(const struct sim_ent *a, const struct sim_ent *b)
{
	return a->when < b->when || (a->when == b->when && a->seq < b->seq);
}

static int push(struct sim_engine *e, struct sim_ent x)
{
	if (e->hlen == e->cap) {
		uint32_t cap = e->cap * 2;
		struct sim_ent *h = realloc(e->heap, sizeof(*h) * cap);
		if (!h)
			return SIM_ERR_NOMEM;
		e->heap = h;
		e->cap = cap;
	}
	uint32_t i = e->hlen++;
	while (i > 0 && before(&x, &e->heap[(i - 1) / 2])) {
		e->heap[i] = e->heap[(i - 1) / 2];
		i = (i - 1) / 2;
	}
	e->heap[i] = x;
	return 0;
}

static void pop(struct sim_engine *e)
{
	struct sim_ent x = e->heap[--e->hlen];
	uint32_t i = 0;
	for (;;) {
		uint32_t c = 2 * i + 1;
		if (c >= e->hlen)
			break;
		if (c + 1 < e->hlen && before(&e->heap[c + 1], &e->heap[c]))
			c++;
		if (!before(&e->heap[c], &x))
			break;
		e->heap[i] = e->heap[c];
		i = c;
	}
	if (e->hlen)
		e->heap[i] = x;
}

/* An entry stands for its timer while the timer is armed with the
 * entry's sequence number. */
static bool live(const struct sim_ent *x)
{
	return x->t->slot && x->t->seq == x->seq;
}

static void drop_dead(struct sim_engine *e)
{
	while (e->hlen && !live(&e->heap[0]))
		pop(e);
}

int sim_timer_arm_as(struct sim_engine *e, struct sim_timer *t, sim_time when,
		     uint8_t cls)
{
	if (when < e->now)
		when = e->now;
	if (e->ext)
		return sim_engine_ext_arm(e, t, when);
	struct sim_ent x = {when, e->seq, t, t->owner, cls};
	if (push(e, x) < 0)
		return SIM_ERR_NOMEM;
	e->len += t->slot == 0;
	t->when = when;
	t->seq = e->seq++;
	t->slot = 1;
	return 0;
}

int sim_timer_arm(struct sim_engine *e, struct sim_timer *t, sim_time when)
{
	return sim_timer_arm_as(e, t, when, 0);
}

/* Deferred writing is a speed trick of the wheel's: here it is arming. */
int sim_timer_arm_soon(struct sim_engine *e, struct sim_timer *t, sim_time when,
		       uint8_t cls)
{
	return sim_timer_arm_as(e, t, when, cls);
}

void sim_timer_cancel(struct sim_engine *e, struct sim_timer *t)
{
	if (!t->slot)
		return;
	if (e->ext) {
		sim_engine_ext_cancel(e, t);
		return;
	}
	t->slot = 0; /* its entry is dropped when it comes up */
	e->len--;
	t->when = SIM_TIME_NEVER;
}

sim_time sim_engine_next(struct sim_engine *e)
{
	drop_dead(e);
	return e->hlen ? e->heap[0].when : SIM_TIME_NEVER;
}

uint64_t sim_engine_run(struct sim_engine *e, sim_time until)
{
	uint64_t n = 0;

	e->stop = false;
	if (e->ext)
		return sim_engine_ext_run(e, until);
	for (;;) {
		drop_dead(e);
		if (e->stop || !e->hlen || e->heap[0].when > until)
			break;
		struct sim_ent x = e->heap[0];
		pop(e);
		e->len--;
		x.t->slot = 0;
		e->now = x.when;
		x.t->fn(e, x.t);
		n++;
	}
	e->events += n;
	return n;
}
