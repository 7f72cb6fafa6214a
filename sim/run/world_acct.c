/* What a run counts: messages delivered once, the exchanges log, the
 * energy at the steady state's marks, and the run's results from the
 * per-group tallies.  Knows no backend and no protocol's logic. */
#include <inttypes.h>
#include <stdio.h>

#include "world_impl.h"

void run_result_free(struct run_result *r)
{
	free(r->series);
	r->series = NULL;
	r->n_series = 0;
}

/* Count token tok as delivered; false when it was already. */
bool world_dlv_first(struct endpoint *ep, uint32_t tok)
{
	int32_t ahead = (int32_t)(tok - ep->dlv_top);
	uint32_t seen = ep->dlv_seen;
	if (!seen || ahead > 0) {
		seen = !seen || ahead >= DLV_BITS ? 1 : seen << ahead | 1;
		ep->dlv_seen = seen & ((1u << DLV_BITS) - 1);
		ep->dlv_top = tok;
		return true;
	}
	if (ahead <= -DLV_BITS || seen >> -ahead & 1)
		return false;
	ep->dlv_seen = seen | 1u << -ahead;
	return true;
}

/* The same for MQTT packet ids (16 bits). */
bool world_dlv_first16(struct endpoint *ep, uint16_t pid)
{
	int16_t ahead = (int16_t)(pid - (uint16_t)ep->dlv_top);
	return world_dlv_first(ep, ep->dlv_top + (uint32_t)(int32_t)ahead);
}

/* One row of exchanges.csv: latency SIM_TIME_NEVER and rto_ms < 0 leave
 * theirs empty. */
void world_log_message(struct world *w, const struct endpoint *ep, sim_time first_tx,
		       const char *outcome, sim_time latency, unsigned tx, double rto_ms,
		       sim_time now)
{
	FILE *f = w->opts ? w->opts->exchanges : NULL;
	if (!f)
		return;
	char lat[32] = "", rto[32] = "";
	if (latency != SIM_TIME_NEVER)
		snprintf(lat, sizeof(lat), "%.6f", sim_time_to_ms(latency));
	if (rto_ms >= 0)
		snprintf(rto, sizeof(rto), "%.3f", rto_ms);
	if (fprintf(f, "%s,%" PRIu32 ",%s,%.9f,%s,%s,%u,%s,%.9f\n", w->opts->run_id, ep->id,
		    w->cfg->groups[ep->group].name, sim_time_to_s(first_tx), outcome, lat, tx,
		    rto, sim_time_to_s(now)) < 0)
		w->err = SIM_ERR_IO;
}

void world_log_exchange(struct world *w, struct endpoint *ep,
			 const struct coap_exch *x, const char *outcome,
			 sim_time now)
{
	if (!w->opts || !w->opts->exchanges)
		return;
	world_log_message(w, ep, x->first_tx, outcome,
			  !strcmp(outcome, "completed") ? now - x->first_tx : SIM_TIME_NEVER, x->total_tx,
			  x->rto0_us / 1000.0, now);
}

/* Every endpoint's energy so far, per group, at warmup (row 0) or at
 * duration (row 1), after the events of that instant.  In the order of
 * identity: sums of doubles depend on their order. */
void world_steady_snapshot(struct world *w, int row)
{
	const struct scenario_cfg *cfg = w->cfg;
	sim_time at = row ? cfg->duration : cfg->warmup;
	for (uint32_t i = 0; i < w->n_ep; i++) {
		const struct endpoint *ep = ep_by_id(w, i);
		w->steady_mj[row][ep->group] += energy_mj(&ep->radio, at, &cfg->energy);
	}
}

static void finish_metrics(struct run_metrics *m, const struct hist *lat,
			   const struct hist *dlat, const struct hist *hs)
{
	hist_summary(lat, &m->latency);
	hist_summary(dlat, &m->delivery_latency);
	hist_summary(hs, &m->handshake);
}

/* Energy of every endpoint over the run: traffic stops at duration, so the
 * period is the duration, or longer if exchanges ran on after it. */
static void collect_energy(struct world *w, struct run_result *res)
{
	const struct scenario_cfg *cfg = w->cfg;
	sim_time period = now_of(w) > cfg->duration ? now_of(w) : cfg->duration;
	double node_sum[SIM_MAX_GROUPS] = {0}, all_sum = 0, all_max = 0;

	/* In the order of identity: sums of doubles depend on their order. */
	for (uint32_t i = 0; i < w->n_ep; i++) {
		if (w->slot_of && i + 16 < w->n_ep)
			SIM_PREFETCH(&w->ep[w->slot_of[i + 16]].radio);
		struct endpoint *ep = ep_by_id(w, i);
		double e = energy_mj(&ep->radio, period, &cfg->energy);
		struct run_metrics *g = &res->groups[ep->group];
		node_sum[ep->group] += e;
		if (e > g->energy.per_node_max)
			g->energy.per_node_max = e;
		if (e > all_max)
			all_max = e;
		all_sum += e;
	}
	/* Lifetime from the traffic's steady state: the energy spent between
	 * warmup and duration over that window, not over the drain after it
	 * (when the fleet only finishes what it started). */
	sim_time window = cfg->duration - cfg->warmup;
	double steady_all = 0;
	for (size_t g = 0; g < cfg->n_groups; g++) {
		struct run_metrics *m = &res->groups[g];
		double steady = w->steady_mj[1][g] - w->steady_mj[0][g];
		steady_all += steady;
		m->energy.valid = true;
		m->energy.total = node_sum[g];
		m->energy.per_node_mean = node_sum[g] / cfg->groups[g].count;
		m->energy.lifetime_days =
			energy_lifetime_days(steady / cfg->groups[g].count, window, &cfg->energy);
	}
	/* Histogram of energy per endpoint. */
	double lo = 0, hi = all_max;
	res->ehist_min = lo;
	res->ehist_max = hi;
	for (uint32_t i = 0; i < w->n_ep && hi > lo; i++) {
		double e = energy_mj(&w->ep[i].radio, period, &cfg->energy);
		int b = (int)((e - lo) / (hi - lo) * RUN_EHIST_BINS);
		res->ehist[b >= RUN_EHIST_BINS ? RUN_EHIST_BINS - 1 : b]++;
	}
	struct run_metrics *t = &res->total;
	t->energy.valid = w->n_ep > 0;
	t->energy.total = all_sum;
	t->energy.per_node_mean = w->n_ep ? all_sum / w->n_ep : 0;
	t->energy.per_node_max = all_max;
	t->energy.lifetime_days =
		energy_lifetime_days(w->n_ep ? steady_all / w->n_ep : 0, window, &cfg->energy);
}

void world_collect(struct world *w, struct run_result *res, double wall)
{
	const struct scenario_cfg *cfg = w->cfg;
	struct hist lat = {0}, dlat = {0}, hs = {0};
	struct run_metrics *t = &res->total;

	*res = (struct run_result){0};
	res->n_groups = cfg->n_groups;
	for (size_t g = 0; g < cfg->n_groups; g++) {
		struct group_acc *a = &w->acc[g];
		struct run_metrics *m = &res->groups[g];
		*m = a->m;
		finish_metrics(m, &a->lat, &a->dlat, &a->hs);
		if (hist_merge(&lat, &a->lat) < 0 || hist_merge(&dlat, &a->dlat) < 0 ||
		    hist_merge(&hs, &a->hs) < 0)
			w->err = SIM_ERR_NOMEM;
		run_metrics_add(t, m);
	}
	finish_metrics(t, &lat, &dlat, &hs);
	double q[RUN_CDF_POINTS];
	sim_time v[RUN_CDF_POINTS];
	for (int i = 0; i < RUN_CDF_POINTS; i++)
		q[i] = (double)i / (RUN_CDF_POINTS - 1);
	hist_quantiles(&lat, RUN_CDF_POINTS, q, v);
	for (int i = 0; i < RUN_CDF_POINTS; i++)
		res->cdf_ms[i] = sim_time_to_ms(v[i]);
	collect_energy(w, res);
	hist_free(&lat);
	hist_free(&dlat);
	hist_free(&hs);
	const struct net_stats *st = w->bo->stats(w->be);
	t->packets_sent = st->packets_sent;
	t->packets_lost = st->packets_lost;
	t->bytes_sent = st->bytes_sent;
	t->queue_drops = st->queue_drops;
	t->duplicates = st->duplicates;
	t->events = sim_engine_events(w->eng);
	hist_summary(&w->lag, &t->generator_lag); /* the run's, not a group's */
	if (w->bo->gen_stats)
		t->port_unreachable = w->bo->gen_stats(w->be)->refused;
	t->wall_s = wall;
	if (cfg->n_groups == 1) {
		struct run_metrics *m = &res->groups[0];
		m->packets_sent = t->packets_sent;
		m->packets_lost = t->packets_lost;
		m->bytes_sent = t->bytes_sent;
		m->queue_drops = t->queue_drops;
		m->duplicates = t->duplicates;
		m->generator_lag = t->generator_lag;
		m->port_unreachable = t->port_unreachable;
	}
}
