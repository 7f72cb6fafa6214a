#include "engine.h"

#include <stdlib.h>

int sim_engine_init(struct sim_engine *e, size_t capacity_hint)
{
	*e = (struct sim_engine){0};
	e->cap = capacity_hint > 16 ? (uint32_t)capacity_hint : 16;
	e->heap = malloc(sizeof(*e->heap) * e->cap);
	return e->heap ? 0 : SIM_ERR_NOMEM;
}

void sim_engine_free(struct sim_engine *e)
{
	free(e->heap);
	e->heap = NULL;
	e->len = e->cap = 0;
}

static inline bool before(const struct sim_heap_ent *a,
			  const struct sim_heap_ent *b)
{
	return a->when < b->when || (a->when == b->when && a->t->seq < b->t->seq);
}

static inline void place(struct sim_engine *e, uint32_t i,
			 struct sim_heap_ent ent)
{
	e->heap[i] = ent;
	ent.t->slot = i + 1;
}

/* A 4-ary heap: half the depth of a binary one, and the four children of
 * a node share one or two cache lines. */
#define ARITY 4

static void sift_up(struct sim_engine *e, uint32_t i, struct sim_heap_ent ent)
{
	while (i > 0) {
		uint32_t parent = (i - 1) / ARITY;
		if (!before(&ent, &e->heap[parent]))
			break;
		place(e, i, e->heap[parent]);
		i = parent;
	}
	place(e, i, ent);
}

static void sift_down(struct sim_engine *e, uint32_t i, struct sim_heap_ent ent)
{
	for (;;) {
		uint32_t first = ARITY * i + 1, c = first;
		if (first >= e->len)
			break;
		uint32_t last = first + ARITY < e->len ? first + ARITY : e->len;
		for (uint32_t k = first + 1; k < last; k++)
			if (before(&e->heap[k], &e->heap[c]))
				c = k;
		if (!before(&e->heap[c], &ent))
			break;
		place(e, i, e->heap[c]);
		i = c;
	}
	place(e, i, ent);
}

static void remove_at(struct sim_engine *e, uint32_t i)
{
	struct sim_heap_ent last = e->heap[--e->len];

	if (i == e->len)
		return;
	if (i > 0 && before(&last, &e->heap[(i - 1) / ARITY]))
		sift_up(e, i, last);
	else
		sift_down(e, i, last);
}

int sim_timer_arm(struct sim_engine *e, struct sim_timer *t, sim_time when)
{
	if (when < e->now)
		when = e->now;
	if (__builtin_expect(e->ext != NULL, 0))
		return e->ext->arm(e->ext->ud, t, when);
	if (t->slot) {
		remove_at(e, t->slot - 1);
		t->slot = 0;
	}
	if (e->len == e->cap) {
		uint32_t ncap = e->cap * 2;
		struct sim_heap_ent *n = realloc(e->heap, sizeof(*n) * ncap);
		if (!n)
			return SIM_ERR_NOMEM;
		e->heap = n;
		e->cap = ncap;
	}
	t->when = when;
	t->seq = e->seq++;
	struct sim_heap_ent ent = {when, t};
	sift_up(e, e->len++, ent);
	return 0;
}

void sim_timer_cancel(struct sim_engine *e, struct sim_timer *t)
{
	if (!t->slot)
		return;
	if (e->ext) {
		e->ext->cancel(e->ext->ud, t);
		t->when = SIM_TIME_NEVER;
		return;
	}
	remove_at(e, t->slot - 1);
	t->slot = 0;
	t->when = SIM_TIME_NEVER;
}

uint64_t sim_engine_run(struct sim_engine *e, sim_time until)
{
	uint64_t n = 0;

	e->stop = false;
	if (e->ext) {
		uint64_t before = e->events;
		e->ext->run(e->ext->ud, until);
		return e->events - before;
	}
	while (e->len && !e->stop) {
		struct sim_heap_ent top = e->heap[0];
		if (top.when > until)
			break;
		remove_at(e, 0);
		top.t->slot = 0;
		e->now = top.when;
		top.t->fn(e, top.t);
		n++;
	}
	e->events += n;
	return n;
}
