/* A live run split over the ranks of an MPI job: each rank generates the
 * load of a slice of the fleet (its share of every group) against the one
 * target, from its own sockets; no rank begins unless every one could, and
 * they begin together.  Rank 0 prints each second the progress of all of
 * them, then adds the slices' parts (counters, latency histograms bucket
 * by bucket, energies) and makes the run's results from the sum exactly as
 * one process makes them from its own; it merges the exchange logs by
 * time and reports each rank's generator lag apart.  Knows no MPI (only
 * cluster.h), no socket and no output format but the exchange log's. */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../cluster/cluster.h"
#include "runner_impl.h"

/* ---- bytes: a growable buffer and a reader ---- */

struct wbuf {
	uint8_t *p;
	size_t len, cap;
	bool bad;
};

static void put(struct wbuf *b, const void *x, size_t n)
{
	if (b->len + n > b->cap) {
		size_t cap = (b->cap ? 2 * b->cap : 4096) + n;
		uint8_t *p = realloc(b->p, cap);
		if (!p) {
			b->bad = true;
			return;
		}
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->len, x, n);
	b->len += n;
}

static void put_hist(struct wbuf *b, const struct hist *h)
{
	size_t n = hist_pack(h, NULL);
	uint8_t *tmp = malloc(n);
	if (!tmp) {
		b->bad = true;
		return;
	}
	hist_pack(h, tmp);
	put(b, tmp, n);
	free(tmp);
}

struct rbuf {
	const uint8_t *p;
	size_t len, at;
	bool bad;
};

static void get(struct rbuf *b, void *x, size_t n)
{
	if (b->bad || b->len - b->at < n) {
		b->bad = true;
		memset(x, 0, n);
		return;
	}
	memcpy(x, b->p + b->at, n);
	b->at += n;
}

static void get_hist(struct rbuf *b, struct hist *h)
{
	long n = b->bad ? -1 : hist_unpack_add(h, b->p + b->at, b->len - b->at);
	if (n < 0)
		b->bad = true;
	else
		b->at += (size_t)n;
}

/* ---- a slice's parts as bytes ---- */

/* The fixed part: the counters, sizes and figures as this binary lays
 * them out (every rank runs the same binary). */
struct parts_head {
	uint64_t n_groups, n_series;
	struct run_metrics m[SIM_MAX_GROUPS];
	uint32_t n_ep[SIM_MAX_GROUPS];
	double steady_mj[2][SIM_MAX_GROUPS];
	struct net_stats net;
	uint64_t events, refused;
	double wall_s;
};

static void *pack_parts(const struct run_parts *p, const struct run_sample *series,
			size_t n_series, size_t *len)
{
	struct wbuf b = {0};
	struct parts_head *h = calloc(1, sizeof(*h)); /* zeroed: padding travels */
	if (!h)
		return NULL;
	h->n_groups = p->n_groups;
	h->n_series = n_series;
	memcpy(h->m, p->m, sizeof(h->m));
	memcpy(h->n_ep, p->n_ep, sizeof(h->n_ep));
	memcpy(h->steady_mj, p->steady_mj, sizeof(h->steady_mj));
	h->net = p->net;
	h->events = p->events;
	h->refused = p->refused;
	h->wall_s = p->wall_s;
	put(&b, h, sizeof(*h));
	free(h);
	put(&b, series, n_series * sizeof(*series));
	for (size_t g = 0; g < p->n_groups; g++) {
		put_hist(&b, &p->lat[g]);
		put_hist(&b, &p->dlat[g]);
		put_hist(&b, &p->hs[g]);
		put(&b, p->energy[g], p->n_ep[g] * sizeof(double));
	}
	put_hist(&b, &p->lag);
	if (b.bad) {
		free(b.p);
		return NULL;
	}
	*len = b.len;
	return b.p;
}

static int unpack_parts(struct run_parts *p, const void *buf, size_t len)
{
	struct rbuf b = {.p = buf, .len = len};
	struct parts_head *h = malloc(sizeof(*h));
	if (!h)
		return -1;
	get(&b, h, sizeof(*h));
	*p = (struct run_parts){0};
	if (b.bad || h->n_groups > SIM_MAX_GROUPS || h->n_series > RUN_SERIES_MAX) {
		free(h);
		return -1;
	}
	p->n_groups = h->n_groups;
	memcpy(p->m, h->m, sizeof(p->m));
	memcpy(p->n_ep, h->n_ep, sizeof(p->n_ep));
	memcpy(p->steady_mj, h->steady_mj, sizeof(p->steady_mj));
	p->net = h->net;
	p->events = h->events;
	p->refused = h->refused;
	p->wall_s = h->wall_s;
	p->n_series = h->n_series;
	free(h);
	if (p->n_series && !(p->series = malloc(p->n_series * sizeof(*p->series))))
		return -1;
	get(&b, p->series, p->n_series * sizeof(*p->series));
	for (size_t g = 0; g < p->n_groups && !b.bad; g++) {
		get_hist(&b, &p->lat[g]);
		get_hist(&b, &p->dlat[g]);
		get_hist(&b, &p->hs[g]);
		if (p->n_ep[g] > (b.len - b.at) / sizeof(double) ||
		    !(p->energy[g] = malloc((p->n_ep[g] ? p->n_ep[g] : 1) * sizeof(double)))) {
			b.bad = true;
			break;
		}
		get(&b, p->energy[g], p->n_ep[g] * sizeof(double));
	}
	get_hist(&b, &p->lag);
	if (b.bad || b.at != b.len) {
		run_parts_free(p);
		return -1;
	}
	return 0;
}

/* ---- the slice and the start ---- */

void runner_split_exchanges_path(const struct runner *r, const struct run_slot *s, int rank,
				 char *buf, size_t len)
{
	if (rank == 0)
		runner_exchanges_tmp_path(r, s, buf, len);
	else
		snprintf(buf, len, "%s/.exchanges-%s.rank%d.csv", r->out_dir, s->id, rank);
}

/* Every rank says whether it could build its slice; the lowest status
 * wins, so all begin or none does. */
static int split_ready(void *ud, int rc)
{
	struct runner_split *sp = ud;
	int min = rc;
	if (cluster_all_min(rc, &min) < 0)
		cluster_abort(3);
	if (rc == 0 && min < 0)
		sp->other_failed = true; /* its error comes with its result */
	return min < 0 ? min : rc;
}

/* A second of a rank's run as bytes: its time, counters, latency and lag
 * histograms. */
static void *pack_tick(const struct run_tick *t, size_t *len)
{
	struct wbuf b = {0};
	put(&b, &t->t_s, sizeof(t->t_s));
	put(&b, &t->messages, 8);
	put(&b, &t->completed, 8);
	put(&b, &t->failed, 8);
	put_hist(&b, t->lat);
	put_hist(&b, t->lag);
	if (b.bad) {
		free(b.p);
		return NULL;
	}
	*len = b.len;
	return b.p;
}

static double tick_time(const void *buf)
{
	double t;
	memcpy(&t, buf, sizeof(t));
	return t;
}

/* Rank 0 keeps each rank's last three seconds. */
static void keep_tick(struct runner_split *sp, int k, void *buf, size_t len)
{
	free(sp->tick[k][2]);
	memmove(&sp->tick[k][1], &sp->tick[k][0], 2 * sizeof(sp->tick[k][0]));
	memmove(&sp->tick_len[k][1], &sp->tick_len[k][0], 2 * sizeof(sp->tick_len[k][0]));
	sp->tick[k][0] = buf;
	sp->tick_len[k][0] = len;
}

/* A second of the run.  Ranks 1..n-1 send theirs to rank 0 without
 * waiting; rank 0 prints, two seconds late, the whole job's second: every
 * rank's counters and histograms added. */
static void split_tick(void *ud, const struct run_tick *t)
{
	struct runner_split *sp = ud;
	int n = cluster_size(), from, got;
	size_t len;
	void *buf = pack_tick(t, &len);
	if (!buf)
		return; /* out of memory: no progress line, the run goes on */
	if (cluster_rank() > 0) {
		if (cluster_send_tick(buf, len) < 0)
			cluster_abort(3);
		free(buf);
		return;
	}
	keep_tick(sp, 0, buf, len);
	while ((got = cluster_poll_tick(&from, &buf, &len)) > 0) {
		if (from > 0 && from < n)
			keep_tick(sp, from, buf, len);
		else
			free(buf);
	}
	if (got < 0)
		cluster_abort(3);
	/* Two seconds back: a second's bytes past MPI's eager limit leave its
	 * rank at its next call into MPI (its next second), and are read here
	 * at this rank's next; a rank later than that skips a line. */
	double at = tick_time(sp->tick[0][0]) - 2;
	struct run_tick all = {.t_s = at};
	struct hist lat = {0}, lag = {0};
	bool ok = true;
	for (int k = 0; k < n && ok; k++) {
		int j = 0;
		while (j < 2 && (!sp->tick[k][j] || tick_time(sp->tick[k][j]) > at))
			j++;
		if (!sp->tick[k][j] || tick_time(sp->tick[k][j]) != at) {
			ok = false; /* a rank skipped that second */
			break;
		}
		struct rbuf rb = {.p = sp->tick[k][j], .len = sp->tick_len[k][j]};
		double ts;
		uint64_t c[3];
		get(&rb, &ts, sizeof(ts));
		get(&rb, c, sizeof(c));
		get_hist(&rb, &lat);
		get_hist(&rb, &lag);
		ok = !rb.bad;
		all.messages += c[0];
		all.completed += c[1];
		all.failed += c[2];
	}
	if (ok && at > sp->printed) {
		sp->printed = at;
		all.p99_ms = lat.count ? sim_time_to_ms(hist_quantile(&lat, 0.99)) : 0;
		all.lag_p99_ms = lag.count ? sim_time_to_ms(hist_quantile(&lag, 0.99)) : 0;
		all.lat = &lat;
		all.lag = &lag;
		runner_live_tick(sp->s, &all);
	}
	hist_free(&lat);
	hist_free(&lag);
}

void runner_split_begin(struct runner *r, struct run_slot *s, struct scenario_cfg *cfg,
			struct run_opts *ro, struct runner_split *sp)
{
	int rank = cluster_rank(), n = cluster_size();
	*sp = (struct runner_split){.r = r, .s = s};
	if (rank == 0) {
		uint64_t idx = (uint64_t)(s - r->runs);
		if (cluster_bcast(&idx, sizeof(idx)) < 0)
			cluster_abort(3);
		sp->tick = calloc((size_t)n, sizeof(*sp->tick));
		sp->tick_len = calloc((size_t)n, sizeof(*sp->tick_len));
		if (!sp->tick || !sp->tick_len) {
			fprintf(stderr, "coapsim: out of memory\n");
			cluster_abort(3);
		}
	} else {
		snprintf(sp->suffix, sizeof(sp->suffix), ".rank%d", rank);
	}
	/* Rank k's share of each group: endpoints [count k/n, count (k+1)/n). */
	uint64_t first = 0;
	for (size_t g = 0; g < cfg->n_groups; g++) {
		uint64_t c = cfg->groups[g].count;
		uint64_t lo = c * (uint64_t)rank / (uint64_t)n, hi = c * (uint64_t)(rank + 1) / (uint64_t)n;
		sp->id_first[g] = (uint32_t)(first + lo);
		cfg->groups[g].count = (uint32_t)(hi - lo);
		first += c;
	}
	ro->id_first = sp->id_first;
	ro->n_fleet = (uint32_t)first;
	ro->ready = split_ready;
	ro->ready_ud = sp;
	ro->parts = &sp->parts;
	if (r->split_ticks) {
		ro->tick = split_tick;
		ro->tick_ud = sp;
	}
}

/* ---- the end: the slices back to rank 0 ---- */

/* Merge the ranks' exchange logs into rank 0's, by the time each row's
 * message ended (its last field; every log is in that order already),
 * rank order among equals. */
static int merge_logs(struct runner *r, struct run_slot *s, char *err, size_t errlen)
{
	int n = cluster_size(), rc = 0;
	char out[RUN_PATH + 8], path[RUN_PATH];
	FILE **in = calloc((size_t)n, sizeof(FILE *));
	char **line = calloc((size_t)n, sizeof(char *));
	size_t *cap = calloc((size_t)n, sizeof(size_t));
	double *end = calloc((size_t)n, sizeof(double));
	runner_split_exchanges_path(r, s, 0, path, sizeof(path));
	snprintf(out, sizeof(out), "%s.all", path);
	FILE *o = fopen(out, "w");
	if (!in || !line || !cap || !end || !o) {
		snprintf(err, errlen, "%s: cannot write: %s", out, strerror(errno));
		rc = SIM_ERR_IO;
		goto done;
	}
	for (int k = 0; k < n; k++) {
		runner_split_exchanges_path(r, s, k, path, sizeof(path));
		if (!(in[k] = fopen(path, "r"))) {
			snprintf(err, errlen, "%s: cannot read rank %d's exchanges (is the results "
				 "folder on a file system every rank shares?): %s", path, k,
				 strerror(errno));
			rc = SIM_ERR_IO;
			goto done;
		}
	}
	for (;;) {
		int best = -1;
		for (int k = 0; k < n; k++) {
			/* a line waits in line[k] until written (then emptied) */
			while (in[k] && (!line[k] || !line[k][0] || line[k][0] == '\n'))
				if (getline(&line[k], &cap[k], in[k]) < 0) {
					fclose(in[k]);
					in[k] = NULL;
				}
			if (!in[k])
				continue;
			const char *c = strrchr(line[k], ',');
			end[k] = c ? strtod(c + 1, NULL) : 0;
			if (best < 0 || end[k] < end[best])
				best = k;
		}
		if (best < 0)
			break;
		if (fputs(line[best], o) < 0)
			rc = SIM_ERR_IO;
		line[best][0] = 0;
	}
	if (fclose(o) != 0)
		rc = SIM_ERR_IO;
	o = NULL;
	runner_split_exchanges_path(r, s, 0, path, sizeof(path));
	if (rc == 0 && rename(out, path) != 0)
		rc = SIM_ERR_IO;
	if (rc < 0)
		snprintf(err, errlen, "%s: cannot write: %s", out, strerror(errno));
	for (int k = 1; k < n; k++) {
		runner_split_exchanges_path(r, s, k, path, sizeof(path));
		remove(path);
	}
done:
	if (o)
		fclose(o);
	remove(out);
	for (int k = 0; in && line && k < n; k++) {
		if (in[k])
			fclose(in[k]);
		free(line[k]);
	}
	free(in);
	free(line);
	free(cap);
	free(end);
	return rc;
}

/* Rank 0's record of rank k's slice: summary.json's "ranks" and a line. */
static void rank_report(struct runner_split *sp, int k, const struct run_parts *p)
{
	uint64_t n = 0, msgs = 0, done = 0, failed = 0;
	for (size_t g = 0; g < p->n_groups; g++) {
		n += p->n_ep[g];
		msgs += p->m[g].messages;
		done += p->m[g].completed;
		failed += p->m[g].failed;
	}
	struct lat_summary lag;
	hist_summary(&p->lag, &lag);
	json_t *o = json_object(), *l = json_object();
	json_object_set_new(o, "rank", json_integer(k));
	json_object_set_new(o, "endpoints", json_integer((json_int_t)n));
	json_object_set_new(o, "messages", json_integer((json_int_t)msgs));
	json_object_set_new(o, "completed", json_integer((json_int_t)done));
	json_object_set_new(o, "failed", json_integer((json_int_t)failed));
	json_object_set_new(l, "p50", json_real(lag.p50));
	json_object_set_new(l, "p99", json_real(lag.p99));
	json_object_set_new(l, "max", json_real(lag.max));
	json_object_set_new(o, "generator_lag_ms", l);
	json_array_append_new(sp->s->ranks, o);
	if (!sp->r->o->quiet)
		fprintf(stderr,
			"live %s: rank %d: %" PRIu64 " endpoints, %" PRIu64 " messages, %" PRIu64
			" completed, %" PRIu64 " failed, lag p50 %.3f ms, p99 %.3f ms\n",
			sp->s->id, k, n, msgs, done, failed, lag.p50, lag.p99);
}

static void set_err(struct run_slot *s, int rc, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void set_err(struct run_slot *s, int rc, const char *fmt, ...)
{
	char buf[RUN_PATH + 600];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	free(s->err);
	s->err = strdup(buf);
	s->rc = rc;
}

void runner_split_end(struct runner *r, struct run_slot *s, const struct scenario_cfg *cfg,
		      struct runner_split *sp)
{
	size_t idx = (size_t)(s - r->runs);
	int n = cluster_size();
	struct run_sample *series = s->res ? s->res->series : NULL;
	size_t n_series = s->res ? s->res->n_series : 0;

	if (cluster_rank() > 0) {
		size_t l1 = 0, l2 = 0;
		void *b1 = runner_pack(s, idx, &l1);
		void *b2 = pack_parts(&sp->parts, series, n_series, &l2);
		if (!b1 || !b2 || cluster_tick_flush() < 0 || cluster_send_result(b1, l1) < 0 ||
		    cluster_send_result(b2, l2) < 0)
			cluster_abort(3);
		free(b1);
		free(b2);
		run_parts_free(&sp->parts);
		return;
	}
	/* Rank 0: its own slice first, then each rank's in rank order (the
	 * order of identity).  Every rank's result is taken, failed or not. */
	struct run_parts *all = &sp->parts;
	if (s->res) {
		all->series = series;
		all->n_series = n_series;
		s->res->series = NULL;
		s->res->n_series = 0;
	}
	s->ranks = json_array();
	if (s->rc >= 0)
		rank_report(sp, 0, all);
	bool other_err = sp->other_failed;
	for (int k = 1; k < n; k++) {
		void *buf[2] = {0};
		size_t len[2] = {0};
		for (int got = 0; got < 2;) {
			enum cluster_kind kind;
			void *b;
			size_t l;
			if (cluster_recv_from(k, &kind, &b, &l) < 0)
				cluster_abort(3);
			if (kind == CLUSTER_TICK) {
				free(b); /* a last second's progress: the run is over */
				continue;
			}
			buf[got] = b;
			len[got++] = l;
		}
		struct run_slot theirs = {0};
		struct run_parts p;
		if (runner_unpack_slot(&theirs, idx, buf[0], len[0]) < 0 ||
		    unpack_parts(&p, buf[1], len[1]) < 0) {
			fprintf(stderr, "coapsim: rank %d sent a result this rank cannot read "
				"(is it the same coapsim binary?)\n", k);
			cluster_abort(3);
		}
		free(buf[0]);
		free(buf[1]);
		if (theirs.rc < 0 && (s->rc >= 0 || other_err)) {
			set_err(s, theirs.rc, "rank %d: %s", k,
				theirs.err ? theirs.err : sim_strerror(theirs.rc));
			other_err = false;
		} else if (theirs.rc >= 0) {
			rank_report(sp, k, &p);
			if (s->rc >= 0 && run_parts_add(all, &p) < 0)
				set_err(s, SIM_ERR_NOMEM, "run %s: out of memory", s->id);
		}
		if (theirs.res) {
			run_result_free(theirs.res);
			free(theirs.res);
		}
		free(theirs.err);
		run_parts_free(&p);
	}
	if (s->rc >= 0 && s->res) {
		if (run_parts_finish(cfg, all, s->res) < 0) {
			set_err(s, SIM_ERR_NOMEM, "run %s: out of memory", s->id);
		} else {
			s->res->series = all->series;
			s->res->n_series = all->n_series;
			all->series = NULL;
		}
	}
	char err[RUN_PATH + 512];
	if (s->rc >= 0 && r->exchanges && merge_logs(r, s, err, sizeof(err)) < 0)
		set_err(s, SIM_ERR_IO, "%s", err);
	run_parts_free(all);
	for (int k = 0; k < n; k++)
		for (int j = 0; j < 3; j++)
			free(sp->tick[k][j]);
	free(sp->tick);
	free(sp->tick_len);
}

/* ---- the run loop of ranks 1..n-1, and its end ---- */

void runner_split_follow(struct runner *r)
{
	for (;;) {
		uint64_t idx = CLUSTER_STOP;
		if (cluster_bcast(&idx, sizeof(idx)) < 0)
			cluster_abort(3);
		if (idx == CLUSTER_STOP)
			return;
		if (idx >= r->n_runs)
			cluster_abort(3);
		struct run_slot *s = &r->runs[idx];
		runner_do_run(r, s);
		if (s->res) {
			run_result_free(s->res);
			free(s->res);
			s->res = NULL;
		}
	}
}

void runner_split_stop(void)
{
	uint64_t idx = CLUSTER_STOP;
	if (cluster_bcast(&idx, sizeof(idx)) < 0)
		cluster_abort(3);
}
