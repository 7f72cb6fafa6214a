/* Where a run's endpoints are stored and what the engine's hint fetches
 * ahead of their events: a speed matter only, never a result.  Knows the
 * endpoint's layout (world_impl.h); knows no protocol's logic. */
#include "world_impl.h"

/* Start fetching `bytes` from p, a line at a time. */
static void prefetch_lines(const void *p, size_t bytes)
{
	for (size_t off = 0; off < bytes; off += 64)
		SIM_PREFETCH((const char *)p + off);
}

#define CLIENT_BYTES offsetof(struct endpoint, srv_t)
#define SERVER_BYTES (offsetof(struct endpoint, rng_app) - CLIENT_BYTES)

/* The prefetches below fetch whole lines: the client's three, then the
 * server's three, each side starting a line. */
_Static_assert(CLIENT_BYTES % 64 == 0 && CLIENT_BYTES == 3 * 64,
	       "the client's side of struct endpoint is its first three lines");
_Static_assert(SERVER_BYTES % 64 == 0 && SERVER_BYTES == 3 * 64,
	       "the server's side of struct endpoint is the next three lines");
_Static_assert(offsetof(struct endpoint, app_t) == 0,
	       "the application timer opens the client's first line");

/* The engine's hint, some sixteen events before one of the timers or
 * packets of the endpoint stored at i fires: fetch the lines that event
 * will touch, so the misses of coming events overlap instead of coming
 * one per event.  The exchange slot and the server's pending entry looked at
 * are the first ones (NSTART is 1 unless a scenario raises it). */
void world_prefetch(void *ud, uint32_t i, uint8_t cls,
			      const struct sim_timer *t)
{
	const struct world *w = ud;
	const char *ep = (const char *)&w->ep[i];
	size_t x = (size_t)i * w->cp.nstart;
	switch (cls) {
	case HINT_TIMER:
		/* The retransmission timer.  Cancelled ones are mostly buried
		 * in level 1 (engine.c) and never hinted, so one that is
		 * hinted mostly fires: it sends, as the application does. */
	case HINT_CLIENT_SEND:
		/* The application timer: its line is the client's first. */
		backend_prefetch(w->be, i);
		prefetch_lines(ep, CLIENT_BYTES);
		SIM_PREFETCH(&w->exch[x]);
		return;
	case HINT_CLIENT_RECV:
		/* A packet: its bytes follow its timer's line. */
		SIM_PREFETCH((const char *)t + 64);
		prefetch_lines(ep, CLIENT_BYTES);
		SIM_PREFETCH(&w->exch[x]);
		return;
	case HINT_SERVER:
		/* A packet (its bytes follow) or the session's timer. */
		SIM_PREFETCH((const char *)t + 64);
		prefetch_lines(ep + CLIENT_BYTES, SERVER_BYTES);
		if (w->pend_used)
			SIM_PREFETCH(&w->pend[x]);
		backend_prefetch(w->be, i);
		return;
	default: /* a timer armed without a class: everything hot */
		SIM_PREFETCH((const char *)t + 64);
		prefetch_lines(ep, CLIENT_BYTES + SERVER_BYTES);
		SIM_PREFETCH(&w->exch[x]);
		if (w->pend_used)
			SIM_PREFETCH(&w->pend[x]);
		backend_prefetch(w->be, i);
	}
}

/* Where each endpoint is stored.  Events run in time order, and the
 * endpoints of a periodic group send in the same order every period, so
 * a CoAP group stored in the order of its endpoints' first messages (each
 * group in its own range) turns the event loop's walk over endpoint,
 * exchange and channel state from random into nearly sequential, which
 * the memory system serves much faster at a million endpoints.  Only
 * storage moves: endpoint i keeps its identity (address, {id}, random
 * streams, rows in exchanges.csv) and its timers are armed in the order
 * of i as before, so results do not change.  Multicast groups (the
 * channel delivers a group request to a range of slots in order), MQTT
 * groups and backends that serve slots in identity order only (ns-3:
 * backend_ops.any_placement) stay so.  The order is a
 * counting sort on the first send time, quantised to one slot per
 * endpoint: ties and near-ties keep identity order. */
/* qsort_r order of endpoint numbers by key, then number (as the insertion
 * sort below leaves them). */
static int by_key(const void *a, const void *b, void *keys)
{
	const sim_time *key = keys;
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	if (key[x] != key[y])
		return key[x] < key[y] ? -1 : 1;
	return x < y ? -1 : x > y;
}

int world_place(struct world *w, uint64_t seed)
{
	const struct scenario_cfg *cfg = w->cfg;
	uint32_t first = 0;

	if (!w->bo->any_placement)
		return 0;
	for (size_t g = 0; g < cfg->n_groups; first += cfg->groups[g++].count) {
		const struct group_cfg *gc = &cfg->groups[g];
		uint32_t count = gc->count;
		if (gc->multicast || gc->protocol != PROTO_COAP || count < 2)
			continue;
		if (!w->slot_of) {
			w->slot_of = malloc(sizeof(*w->slot_of) * w->n_ep);
			if (!w->slot_of)
				return SIM_ERR_NOMEM;
			for (uint32_t i = 0; i < w->n_ep; i++)
				w->slot_of[i] = i;
		}
		sim_time *key = malloc(sizeof(*key) * count);
		uint32_t *q = malloc(sizeof(*q) * count);
		uint32_t *order = malloc(sizeof(*order) * count);
		uint32_t *at = calloc((size_t)count + 1, sizeof(*at));
		if (!key || !q || !order || !at) {
			free(key);
			free(q);
			free(order);
			free(at);
			return SIM_ERR_NOMEM;
		}
		sim_time lo = SIM_TIME_NEVER, hi = 0;
		for (uint32_t k = 0; k < count; k++) {
			/* The first draw of the endpoint's application stream,
			 * as build() in world.c draws it. */
			struct sim_rng r;
			sim_rng_view(&r, seed, first + k, RNG_APP);
			sim_time st = (sim_time)sim_rng_dist(&r, &gc->start);
			key[k] = st < cfg->duration ? st : cfg->duration;
			lo = key[k] < lo ? key[k] : lo;
			hi = key[k] > hi ? key[k] : hi;
		}
		/* Counting sort into count ranges of time, then insertion
		 * sort inside each (a handful of endpoints). */
		double scale = (double)count / ((double)(hi - lo) + 1);
		for (uint32_t k = 0; k < count; k++) {
			uint64_t b = (uint64_t)((double)(key[k] - lo) * scale);
			q[k] = b < count ? (uint32_t)b : count - 1;
			at[q[k] + 1]++;
		}
		for (uint32_t b = 0; b < count; b++)
			at[b + 1] += at[b];
		for (uint32_t k = 0; k < count; k++)
			order[at[q[k]]++] = k; /* at[b] ends as where range b ends */
		for (uint32_t b = 0, from = 0; b < count; from = at[b++]) {
			if (at[b] - from > 16) {
				/* A heavy-tailed start (pareto, say) can crowd
				 * most endpoints into a few ranges. */
				qsort_r(order + from, at[b] - from, sizeof(*order), by_key, key);
				continue;
			}
			for (uint32_t j = from + 1; j < at[b]; j++) {
				uint32_t k = order[j], m = j;
				for (; m > from && key[order[m - 1]] > key[k]; m--)
					order[m] = order[m - 1];
				order[m] = k;
			}
		}
		for (uint32_t j = 0; j < count; j++)
			w->slot_of[first + order[j]] = first + j;
		free(q);
		free(order);
		free(key);
		free(at);
	}
	return 0;
}
