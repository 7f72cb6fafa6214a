/* What both engine implementations share: creation, the accessors that keep
 * struct sim_engine opaque, and the bookkeeping of an outside scheduler
 * (struct sim_sched).  Knows nothing of the wheel's or the heap's queue. */
#include <stdlib.h>

#include "engine_impl.h"

struct sim_engine *sim_engine_new(size_t capacity_hint, void *ud)
{
	struct sim_engine *e = malloc(sizeof(*e));
	if (!e)
		return NULL;
	if (sim_engine_init(e, capacity_hint) < 0) {
		free(e);
		return NULL;
	}
	e->ud = ud;
	return e;
}

void sim_engine_delete(struct sim_engine *e)
{
	if (!e)
		return;
	sim_engine_free(e);
	free(e);
}

void *sim_engine_ud(const struct sim_engine *e)
{
	return e->ud;
}

sim_time sim_engine_now(const struct sim_engine *e)
{
	return e->now;
}

uint32_t sim_engine_pending(const struct sim_engine *e)
{
	return e->len;
}

uint64_t sim_engine_events(const struct sim_engine *e)
{
	return e->events;
}

int sim_engine_error(const struct sim_engine *e)
{
	return e->err;
}

void sim_engine_set_hint(struct sim_engine *e, sim_hint_fn fn, void *ud)
{
	e->hint = fn;
	e->hint_ud = ud;
}

void sim_engine_set_sched(struct sim_engine *e, const struct sim_sched *s)
{
	e->ext = s;
	if (!s)
		e->len = 0;
}

void sim_engine_stop(struct sim_engine *e)
{
	e->stop = true;
	if (e->ext)
		e->ext->stop(e->ext->ud);
}

/* ---- an outside scheduler: the engine keeps time, sequence and counts ---- */

int sim_engine_ext_arm(struct sim_engine *e, struct sim_timer *t, sim_time when)
{
	bool was = t->slot != 0;
	t->when = when;
	t->seq = e->seq++;
	if (e->ext->arm(e->ext->ud, t) < 0)
		return SIM_ERR_NOMEM;
	e->len += !was;
	return 0;
}

void sim_engine_ext_cancel(struct sim_engine *e, struct sim_timer *t)
{
	e->ext->cancel(e->ext->ud, t);
	t->slot = 0;
	t->when = SIM_TIME_NEVER;
	e->len--;
}

uint64_t sim_engine_ext_run(struct sim_engine *e, sim_time until)
{
	uint64_t before = e->events;
	e->ext->run(e->ext->ud, until);
	return e->events - before;
}

void sim_engine_fire(struct sim_engine *e, struct sim_timer *t, sim_time now)
{
	t->slot = 0;
	e->len--;
	e->now = now;
	e->events++;
	t->fn(e, t);
}

void sim_engine_set_now(struct sim_engine *e, sim_time now)
{
	e->now = now;
}
