/* What a run counts: messages delivered once, the exchanges log, the
 * energy at the steady state's marks, and the run's results from the
 * per-group tallies.  Knows no backend and no protocol's logic. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
	if (fprintf(f, "%s,%" PRIu32 ",%s,%.9f,%s,%s,%u,%s,%.9f\n", w->opts->run_id, fleet_id(w, ep),
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

void run_parts_free(struct run_parts *p)
{
	for (size_t g = 0; g < SIM_MAX_GROUPS; g++) {
		hist_free(&p->lat[g]);
		hist_free(&p->dlat[g]);
		hist_free(&p->hs[g]);
		free(p->energy[g]);
	}
	hist_free(&p->lag);
	free(p->series);
	*p = (struct run_parts){0};
}

int run_parts_add(struct run_parts *d, const struct run_parts *s)
{
	if (s->n_groups > d->n_groups)
		d->n_groups = s->n_groups;
	for (size_t g = 0; g < s->n_groups; g++) {
		run_metrics_add(&d->m[g], &s->m[g]);
		if (hist_merge(&d->lat[g], &s->lat[g]) < 0 ||
		    hist_merge(&d->dlat[g], &s->dlat[g]) < 0 || hist_merge(&d->hs[g], &s->hs[g]) < 0)
			return SIM_ERR_NOMEM;
		if (s->n_ep[g]) {
			double *e = realloc(d->energy[g], (size_t)(d->n_ep[g] + s->n_ep[g]) * sizeof(*e));
			if (!e)
				return SIM_ERR_NOMEM;
			memcpy(e + d->n_ep[g], s->energy[g], s->n_ep[g] * sizeof(*e));
			d->energy[g] = e;
			d->n_ep[g] += s->n_ep[g];
		}
		d->steady_mj[0][g] += s->steady_mj[0][g];
		d->steady_mj[1][g] += s->steady_mj[1][g];
	}
	d->net.packets_sent += s->net.packets_sent;
	d->net.packets_lost += s->net.packets_lost;
	d->net.bytes_sent += s->net.bytes_sent;
	d->net.queue_drops += s->net.queue_drops;
	d->net.duplicates += s->net.duplicates;
	d->events += s->events;
	d->refused += s->refused;
	if (hist_merge(&d->lag, &s->lag) < 0)
		return SIM_ERR_NOMEM;
	if (s->wall_s > d->wall_s)
		d->wall_s = s->wall_s;
	/* The series: the slices sample at the same instants (every second
	 * from the start) and end apart; one that ended counts on with its
	 * last cumulative figures and nothing in flight. */
	size_t n = s->n_series > d->n_series ? s->n_series : d->n_series;
	if (n > d->n_series) {
		struct run_sample *x = realloc(d->series, n * sizeof(*x));
		if (!x)
			return SIM_ERR_NOMEM;
		for (size_t k = d->n_series; k < n; k++) {
			x[k] = d->n_series ? x[d->n_series - 1] : (struct run_sample){0};
			x[k].in_flight = 0;
			x[k].t_s = s->series[k].t_s;
			x[k].t_ns = s->series[k].t_ns;
		}
		d->series = x;
		d->n_series = n;
	}
	for (size_t k = 0; k < n && s->n_series; k++) {
		const struct run_sample *y = &s->series[k < s->n_series ? k : s->n_series - 1];
		struct run_sample *x = &d->series[k];
		if (k < s->n_series) {
			x->in_flight += y->in_flight;
			if (y->t_ns > x->t_ns) {
				x->t_ns = y->t_ns;
				x->t_s = y->t_s;
			}
		}
		x->queue_drops += y->queue_drops;
		x->completed += y->completed;
		x->in_flight_s += y->in_flight_s;
	}
	return 0;
}

/* Energy of every endpoint and its histogram over endpoints; the steady
 * state's lifetime from the energy spent between warmup and duration over
 * that window, not over the drain after it (when the fleet only finishes
 * what it started). */
static void finish_energy(const struct scenario_cfg *cfg, const struct run_parts *p,
			  struct run_result *res)
{
	double all_sum = 0, all_max = 0, steady_all = 0;
	uint32_t n_all = 0;

	/* In the order of identity: sums of doubles depend on their order. */
	for (size_t g = 0; g < p->n_groups; g++) {
		struct run_metrics *m = &res->groups[g];
		double node_sum = 0;
		for (uint32_t k = 0; k < p->n_ep[g]; k++) {
			double e = p->energy[g][k];
			node_sum += e;
			if (e > m->energy.per_node_max)
				m->energy.per_node_max = e;
			if (e > all_max)
				all_max = e;
			all_sum += e;
		}
		n_all += p->n_ep[g];
		double steady = p->steady_mj[1][g] - p->steady_mj[0][g];
		steady_all += steady;
		m->energy.valid = true;
		m->energy.total = node_sum;
		m->energy.per_node_mean = p->n_ep[g] ? node_sum / p->n_ep[g] : 0;
		m->energy.lifetime_days = energy_lifetime_days(
			p->n_ep[g] ? steady / p->n_ep[g] : 0, cfg->duration - cfg->warmup, &cfg->energy);
	}
	double lo = 0, hi = all_max;
	res->ehist_min = lo;
	res->ehist_max = hi;
	for (size_t g = 0; g < p->n_groups && hi > lo; g++)
		for (uint32_t k = 0; k < p->n_ep[g]; k++) {
			int b = (int)((p->energy[g][k] - lo) / (hi - lo) * RUN_EHIST_BINS);
			res->ehist[b >= RUN_EHIST_BINS ? RUN_EHIST_BINS - 1 : b]++;
		}
	struct run_metrics *t = &res->total;
	t->energy.valid = n_all > 0;
	t->energy.total = all_sum;
	t->energy.per_node_mean = n_all ? all_sum / n_all : 0;
	t->energy.per_node_max = all_max;
	t->energy.lifetime_days = energy_lifetime_days(n_all ? steady_all / n_all : 0,
						       cfg->duration - cfg->warmup, &cfg->energy);
}

int run_parts_finish(const struct scenario_cfg *cfg, const struct run_parts *p,
		     struct run_result *res)
{
	struct hist lat = {0}, dlat = {0}, hs = {0};
	struct run_metrics *t = &res->total;
	int rc = 0;

	*res = (struct run_result){0};
	res->n_groups = p->n_groups;
	for (size_t g = 0; g < p->n_groups; g++) {
		struct run_metrics *m = &res->groups[g];
		*m = p->m[g];
		finish_metrics(m, &p->lat[g], &p->dlat[g], &p->hs[g]);
		if (hist_merge(&lat, &p->lat[g]) < 0 || hist_merge(&dlat, &p->dlat[g]) < 0 ||
		    hist_merge(&hs, &p->hs[g]) < 0)
			rc = SIM_ERR_NOMEM;
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
	finish_energy(cfg, p, res);
	hist_free(&lat);
	hist_free(&dlat);
	hist_free(&hs);
	t->packets_sent = p->net.packets_sent;
	t->packets_lost = p->net.packets_lost;
	t->bytes_sent = p->net.bytes_sent;
	t->queue_drops = p->net.queue_drops;
	t->duplicates = p->net.duplicates;
	t->events = p->events;
	hist_summary(&p->lag, &t->generator_lag); /* the run's, not a group's */
	t->port_unreachable = p->refused;
	t->wall_s = p->wall_s;
	if (p->n_groups == 1) {
		struct run_metrics *m = &res->groups[0];
		m->packets_sent = t->packets_sent;
		m->packets_lost = t->packets_lost;
		m->bytes_sent = t->bytes_sent;
		m->queue_drops = t->queue_drops;
		m->duplicates = t->duplicates;
		m->generator_lag = t->generator_lag;
		m->port_unreachable = t->port_unreachable;
	}
	return rc;
}

/* The run's parts from the world: the histograms lent (moved when the
 * caller keeps the parts), the energies computed.  Traffic stops at
 * duration, so the energy's period is the duration, or longer if
 * exchanges ran on after it. */
void world_collect(struct world *w, struct run_result *res, double wall)
{
	const struct scenario_cfg *cfg = w->cfg;
	struct run_parts p = {.n_groups = cfg->n_groups};
	sim_time period = now_of(w) > cfg->duration ? now_of(w) : cfg->duration;
	bool ok = true;

	for (size_t g = 0; g < cfg->n_groups; g++) {
		p.m[g] = w->acc[g].m;
		p.lat[g] = w->acc[g].lat;
		p.dlat[g] = w->acc[g].dlat;
		p.hs[g] = w->acc[g].hs;
		p.n_ep[g] = cfg->groups[g].count;
		p.steady_mj[0][g] = w->steady_mj[0][g];
		p.steady_mj[1][g] = w->steady_mj[1][g];
		if (!(p.energy[g] = malloc((p.n_ep[g] ? p.n_ep[g] : 1) * sizeof(double))))
			ok = false;
	}
	/* Groups hold consecutive identities, in order. */
	for (uint32_t i = 0, g = 0, k = 0; i < w->n_ep && ok; i++, k++) {
		if (w->slot_of && i + 16 < w->n_ep)
			SIM_PREFETCH(&w->ep[w->slot_of[i + 16]].radio);
		struct endpoint *ep = ep_by_id(w, i);
		if (ep->group != g) {
			g = ep->group;
			k = 0;
		}
		p.energy[g][k] = energy_mj(&ep->radio, period, &cfg->energy);
	}
	p.net = *w->bo->stats(w->be);
	p.events = sim_engine_events(w->eng);
	p.lag = w->lag;
	p.refused = w->bo->gen_stats ? w->bo->gen_stats(w->be)->refused : 0;
	p.wall_s = wall;
	if (!ok || run_parts_finish(cfg, &p, res) < 0)
		w->err = SIM_ERR_NOMEM;
	if (w->opts->parts) {
		/* moved: the world no longer frees them */
		*w->opts->parts = p;
		for (size_t g = 0; g < cfg->n_groups; g++)
			w->acc[g].lat = w->acc[g].dlat = w->acc[g].hs = (struct hist){0};
		w->lag = (struct hist){0};
	} else {
		for (size_t g = 0; g < cfg->n_groups; g++)
			free(p.energy[g]);
	}
}
