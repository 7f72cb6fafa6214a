#include "runner.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "../core/fsutil.h"
#include "../core/version.h"
#include "../trace/trace.h"
#include "report.h"
#include "world.h"

/* ---------------------------------------------------------------- metrics */

double student_t95(unsigned df)
{
	/* Two-sided 95% quantiles t(0.975, df), df = 1..30, then a few more. */
	static const double t[] = {
		0, 12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306,
		2.262, 2.228, 2.201, 2.179, 2.160, 2.145, 2.131, 2.120, 2.110,
		2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056,
		2.052, 2.048, 2.045, 2.042,
	};
	if (df == 0)
		return NAN;
	if (df < SIM_ARRAY_LEN(t))
		return t[df];
	if (df <= 40) return 2.021;
	if (df <= 60) return 2.000;
	if (df <= 120) return 1.980;
	return 1.960;
}

static size_t add_lat(struct metric_field *f, size_t n, const char *const names[6],
		      const struct lat_summary *s)
{
	const double v[6] = {s->p50, s->p90, s->p99, s->p999, s->mean, s->max};
	for (int i = 0; i < 6; i++)
		f[n++] = (struct metric_field){names[i], v[i], s->count == 0, false};
	return n;
}

size_t metric_fields(const struct run_metrics *m, bool channel_known,
		     struct metric_field f[METRIC_FIELDS_MAX])
{
	static const char *const lat[6] = {
		"latency_ms.p50", "latency_ms.p90", "latency_ms.p99",
		"latency_ms.p999", "latency_ms.mean", "latency_ms.max"};
	static const char *const dlat[6] = {
		"delivery_latency_ms.p50", "delivery_latency_ms.p90",
		"delivery_latency_ms.p99", "delivery_latency_ms.p999",
		"delivery_latency_ms.mean", "delivery_latency_ms.max"};
	double msgs = (double)m->messages;
	size_t n = 0;

#define INT(name, v, isnull) f[n++] = (struct metric_field){name, (double)(v), isnull, true}
#define REAL(name, v, isnull) f[n++] = (struct metric_field){name, (v), isnull, false}
	INT("messages", m->messages, false);
	INT("delivered", m->delivered, false);
	INT("completed", m->completed, !m->confirmable);
	INT("failed", m->failed, false);
	REAL("delivery_ratio", m->messages ? (double)m->delivered / msgs : 0, !m->messages);
	REAL("success_ratio", m->messages ? (double)m->completed / msgs : 0,
	     !m->messages || !m->confirmable);
	INT("transmissions", m->transmissions, false);
	INT("retransmissions", m->retransmissions, false);
	REAL("retransmissions_per_message",
	     m->messages ? (double)m->retransmissions / msgs : 0, !m->messages);
	INT("spurious_retransmissions", m->spurious, false);
	n = add_lat(f, n, lat, &m->latency);
	n = add_lat(f, n, dlat, &m->delivery_latency);
	INT("packets_sent", m->packets_sent, !channel_known);
	INT("packets_lost", m->packets_lost, !channel_known);
	INT("bytes_sent", m->bytes_sent, !channel_known);
	REAL("bytes_per_message",
	     m->delivered ? (double)m->bytes_sent / (double)m->delivered : 0,
	     !channel_known || !m->delivered);
	bool ev = m->energy.valid;
	REAL("energy_mj.total", m->energy.total, !ev);
	REAL("energy_mj.per_message",
	     m->delivered ? m->energy.total / (double)m->delivered : 0, !ev || !m->delivered);
	REAL("energy_mj.per_node_mean", m->energy.per_node_mean, !ev);
	REAL("energy_mj.per_node_max", m->energy.per_node_max, !ev);
	REAL("lifetime_days", m->energy.lifetime_days, !ev || m->energy.lifetime_days <= 0);
	INT("notifications_sent", m->notifications_sent, !m->observe);
	INT("notifications_received", m->notifications_received, !m->observe);
	INT("notifications_fresh", m->notifications_fresh, !m->observe);
	INT("notifications_stale", m->notifications_stale, !m->observe);
	INT("observers_lost", m->observers_lost, !m->observe);
	INT("multicast_responses", m->mc_responses, !m->multicast);
	REAL("multicast_response_ratio",
	     m->mc_expected ? (double)m->mc_responses / (double)m->mc_expected : 0,
	     !m->multicast || !m->mc_expected);
	INT("queue_drops", m->queue_drops, !channel_known);
	INT("duplicates", m->duplicates, !channel_known);
	INT("events", m->events, !channel_known);
	REAL("wall_s", m->wall_s, !channel_known);
	REAL("events_per_s", m->wall_s > 0 ? (double)m->events / m->wall_s : 0,
	     !channel_known || m->wall_s <= 0);
#undef INT
#undef REAL
	return n;
}

/* Set a flat "a.b" name inside a JSON object, creating the inner object. */
static void json_set_path(json_t *obj, const char *name, json_t *v)
{
	const char *dot = strchr(name, '.');
	if (!dot) {
		json_object_set_new(obj, name, v);
		return;
	}
	char head[64];
	size_t hl = (size_t)(dot - name) < sizeof(head) - 1 ? (size_t)(dot - name)
							  : sizeof(head) - 1;
	memcpy(head, name, hl);
	head[hl] = 0;
	json_t *inner = json_object_get(obj, head);
	if (!inner) {
		inner = json_object();
		json_object_set_new(obj, head, inner);
	}
	json_set_path(inner, dot + 1, v);
}

static json_t *metrics_json(const struct run_metrics *m, bool channel_known)
{
	struct metric_field f[METRIC_FIELDS_MAX];
	size_t n = metric_fields(m, channel_known, f);
	json_t *o = json_object();

	for (size_t i = 0; i < n; i++) {
		json_t *v = f[i].null ? json_null()
			    : f[i].integer ? json_integer((json_int_t)f[i].value)
					   : json_real(f[i].value);
		json_set_path(o, f[i].name, v);
	}
	return o;
}

/* ---------------------------------------------------------------- runs */

struct run_slot {
	size_t point;
	uint32_t rep;
	uint64_t seed;
	char id[48];
	struct run_result res;
	int rc;
	char err[512];
	_Atomic uint64_t progress_ns;
	_Atomic int done;
	sim_time duration;
};

struct runner {
	const struct scenario_src *src;
	const struct runner_opts *o;
	struct run_slot *runs;
	size_t n_runs;
	_Atomic size_t next;
	char out_dir[SCN_PATH_LEN + 64];
	char pcap_dir[SCN_PATH_LEN + 64];
	bool pcap;
	bool exchanges;
	bool xlabel_numeric;
	_Atomic int failed;
};

static void exchanges_tmp_path(const struct runner *r, const struct run_slot *s,
			       char *buf, size_t len)
{
	snprintf(buf, len, "%s/.exchanges-%s.csv", r->out_dir, s->id);
}

static void do_run(struct runner *r, struct run_slot *s)
{
	struct scenario_cfg cfg;
	struct run_opts ro = {.run_id = s->id, .progress_ns = &s->progress_ns};
	FILE *ex = NULL;
	char path[SCN_PATH_LEN + 128];

	s->rc = scenario_point_cfg(r->src, s->point, &cfg, s->err, sizeof(s->err));
	if (s->rc < 0)
		return;
	s->duration = cfg.duration;
	if (r->exchanges) {
		exchanges_tmp_path(r, s, path, sizeof(path));
		ex = fopen(path, "w");
		if (!ex) {
			snprintf(s->err, sizeof(s->err), "%s: cannot write: %s", path,
				 strerror(errno));
			s->rc = SIM_ERR_IO;
			goto out;
		}
		ro.exchanges = ex;
	}
	if (r->pcap) {
		struct trace_cfg tc = {
			.dir = r->pcap_dir, .run_id = s->id, .mtu_up = cfg.up.mtu,
			.mtu_down = cfg.down.mtu, .max_bytes = cfg.output.pcap_max,
			.port = 5683,
		};
		s->rc = trace_open(&ro.trace, &tc, s->err, sizeof(s->err));
		if (s->rc < 0)
			goto out;
	}
	s->rc = world_run(&cfg, s->seed, &ro, &s->res);
	if (s->rc < 0 && !s->err[0])
		snprintf(s->err, sizeof(s->err), "run %s: %s", s->id, sim_strerror(s->rc));
	if (ro.trace) {
		char terr[512];
		int trc = trace_close(ro.trace, terr, sizeof(terr));
		if (trc < 0 && s->rc == 0) {
			s->rc = trc;
			snprintf(s->err, sizeof(s->err), "%s", terr);
		}
	}
out:
	if (ex && (fclose(ex) != 0) && s->rc == 0) {
		snprintf(s->err, sizeof(s->err), "%s: cannot write: %s", path,
			 strerror(errno));
		s->rc = SIM_ERR_IO;
	}
	scenario_cfg_free(&cfg);
}

static void *worker(void *arg)
{
	struct runner *r = arg;

	for (;;) {
		size_t i = atomic_fetch_add(&r->next, 1);
		if (i >= r->n_runs || atomic_load(&r->failed))
			break;
		do_run(r, &r->runs[i]);
		if (r->runs[i].rc < 0)
			atomic_store(&r->failed, 1);
		atomic_store(&r->runs[i].done, 1);
	}
	return NULL;
}

static void progress(struct runner *r, sim_time per_run, double elapsed, bool final)
{
	double total = (double)per_run * (double)r->n_runs, done = 0;
	size_t n_done = 0;

	for (size_t i = 0; i < r->n_runs; i++) {
		if (atomic_load(&r->runs[i].done)) {
			done += (double)per_run;
			n_done++;
		} else {
			done += (double)atomic_load_explicit(&r->runs[i].progress_ns,
							     memory_order_relaxed);
		}
	}
	double frac = total > 0 ? done / total : 1;
	if (frac > 1)
		frac = 1;
	int width = 30, fill = (int)(frac * width);
	char bar[64];
	for (int i = 0; i < width; i++)
		bar[i] = i < fill ? '#' : '.';
	bar[width] = 0;
	double eta = frac > 0.001 ? elapsed * (1 - frac) / frac : 0;
	fprintf(stderr, "\r[%s] %5.1f%%  runs %zu/%zu  sim %.0fs  elapsed %.1fs  ETA %.0fs ",
		bar, 100 * frac, n_done, r->n_runs, done / 1e9, elapsed, eta);
	if (final)
		fputc('\n', stderr);
	fflush(stderr);
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---------------------------------------------------------------- output */

static json_t *params_json(const struct scenario_src *src, size_t point)
{
	json_t *p = json_object();
	for (size_t i = 0; i < scenario_n_params(src); i++)
		json_object_set_new(p, scenario_param_key(src, i),
				    json_string(scenario_param_value(src, point, i)));
	return p;
}

/* Mean and 95% CI half-width (Student t) over the non-null replications. */
struct agg { double mean, ci95; unsigned n; };

static void aggregate(const double *v, const bool *isnull, size_t k, struct agg *a)
{
	double sum = 0, ss = 0;
	a->n = 0;
	for (size_t i = 0; i < k; i++)
		if (!isnull[i]) {
			sum += v[i];
			a->n++;
		}
	a->mean = a->n ? sum / a->n : 0;
	for (size_t i = 0; i < k; i++)
		if (!isnull[i])
			ss += (v[i] - a->mean) * (v[i] - a->mean);
	a->ci95 = a->n >= 2 ? student_t95(a->n - 1) * sqrt(ss / (a->n - 1)) / sqrt(a->n)
			    : NAN;
}

struct point_stats {
	size_t n_fields;
	const char *names[METRIC_FIELDS_MAX];
	struct agg agg[METRIC_FIELDS_MAX];
};

static void point_stats(struct runner *r, size_t first, size_t reps,
			struct point_stats *ps)
{
	double v[METRIC_FIELDS_MAX][64];
	bool isnull[METRIC_FIELDS_MAX][64];
	double *vh[METRIC_FIELDS_MAX];
	bool *nh[METRIC_FIELDS_MAX];
	bool heap = reps > 64;

	for (size_t j = 0; j < METRIC_FIELDS_MAX; j++) {
		vh[j] = heap ? calloc(reps, sizeof(double)) : v[j];
		nh[j] = heap ? calloc(reps, sizeof(bool)) : isnull[j];
	}
	ps->n_fields = 0;
	for (size_t k = 0; k < reps; k++) {
		struct metric_field f[METRIC_FIELDS_MAX];
		size_t n = metric_fields(&r->runs[first + k].res.total, true, f);
		ps->n_fields = n;
		for (size_t j = 0; j < n; j++) {
			ps->names[j] = f[j].name;
			if (vh[j] && nh[j]) {
				vh[j][k] = f[j].value;
				nh[j][k] = f[j].null;
			}
		}
	}
	for (size_t j = 0; j < ps->n_fields; j++) {
		if (vh[j] && nh[j])
			aggregate(vh[j], nh[j], reps, &ps->agg[j]);
		else
			ps->agg[j] = (struct agg){NAN, NAN, 0};
	}
	if (heap)
		for (size_t j = 0; j < METRIC_FIELDS_MAX; j++) {
			free(vh[j]);
			free(nh[j]);
		}
}

static json_t *num_or_null(double v)
{
	return isfinite(v) ? json_real(v) : json_null();
}

static int write_summary(struct runner *r, size_t n_points, uint32_t reps,
			 char *err, size_t errlen)
{
	json_t *root = json_object(), *runs = json_array(), *points = json_array();
	char tmp[SCN_PATH_LEN + 128], final[SCN_PATH_LEN + 128];
	struct scenario_cfg cfg;

	if (scenario_point_cfg(r->src, 0, &cfg, err, errlen) < 0)
		return SIM_ERR_NOMEM;
	json_object_set_new(root, "scenario", json_string(cfg.name));
	json_object_set_new(root, "version", json_string(COAPSIM_VERSION));
	json_object_set_new(root, "command", json_string(r->o->command_line ? r->o->command_line : ""));
	json_object_set_new(root, "scenario_text", json_string(scenario_text(r->src)));
	json_object_set_new(root, "xlabel", json_string(r->xlabel_numeric
							     ? scenario_param_key(r->src, 0)
							     : "point"));
	for (size_t i = 0; i < r->n_runs; i++) {
		struct run_slot *s = &r->runs[i];
		json_t *run = json_object();
		json_object_set_new(run, "id", json_string(s->id));
		json_object_set_new(run, "point", json_integer((json_int_t)s->point));
		json_object_set_new(run, "replication", json_integer(s->rep));
		json_object_set_new(run, "seed", json_integer((json_int_t)s->seed));
		json_object_set_new(run, "params", params_json(r->src, s->point));
		json_object_set_new(run, "metrics", metrics_json(&s->res.total, true));
		if (s->res.n_groups > 1) {
			struct scenario_cfg pc;
			json_t *groups = json_object();
			if (scenario_point_cfg(r->src, s->point, &pc, err, errlen) == 0) {
				for (size_t g = 0; g < s->res.n_groups; g++)
					json_object_set_new(groups, pc.groups[g].name,
							    metrics_json(&s->res.groups[g], false));
				scenario_cfg_free(&pc);
			}
			json_object_set_new(run, "groups", groups);
		}
		json_array_append_new(runs, run);
	}
	for (size_t p = 0; p < n_points; p++) {
		struct point_stats ps;
		json_t *pt = json_object(), *m = json_object();
		point_stats(r, p * reps, reps, &ps);
		json_object_set_new(pt, "point", json_integer((json_int_t)p));
		json_object_set_new(pt, "params", params_json(r->src, p));
		json_object_set_new(pt, "replications", json_integer(reps));
		for (size_t j = 0; j < ps.n_fields; j++) {
			json_t *a = json_object();
			json_object_set_new(a, "mean", ps.agg[j].n ? json_real(ps.agg[j].mean)
								   : json_null());
			json_object_set_new(a, "ci95", num_or_null(ps.agg[j].ci95));
			json_set_path(m, ps.names[j], a);
		}
		json_object_set_new(pt, "metrics", m);
		json_array_append_new(points, pt);
	}
	json_object_set_new(root, "runs", runs);
	json_object_set_new(root, "points", points);
	scenario_cfg_free(&cfg);

	snprintf(tmp, sizeof(tmp), "%s/.summary.json.tmp", r->out_dir);
	snprintf(final, sizeof(final), "%s/summary.json", r->out_dir);
	int rc = json_dump_file(root, tmp, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(12));
	json_decref(root);
	if (rc < 0) {
		snprintf(err, errlen, "%s: cannot write: %s", tmp, strerror(errno));
		remove(tmp);
		return SIM_ERR_IO;
	}
	return fs_commit(tmp, final, err, errlen);
}

static int write_runs_csv(struct runner *r, char *err, size_t errlen)
{
	char tmp[SCN_PATH_LEN + 128], final[SCN_PATH_LEN + 128];
	size_t np = scenario_n_params(r->src);
	FILE *f;

	snprintf(tmp, sizeof(tmp), "%s/.runs.csv.tmp", r->out_dir);
	snprintf(final, sizeof(final), "%s/runs.csv", r->out_dir);
	f = fopen(tmp, "w");
	if (!f) {
		snprintf(err, errlen, "%s: cannot write: %s", tmp, strerror(errno));
		return SIM_ERR_IO;
	}
	fputs("id,point,replication,seed", f);
	for (size_t i = 0; i < np; i++)
		fprintf(f, ",%s", scenario_param_key(r->src, i));
	for (size_t k = 0; k < r->n_runs; k++) {
		struct run_slot *s = &r->runs[k];
		struct metric_field mf[METRIC_FIELDS_MAX];
		size_t n = metric_fields(&s->res.total, true, mf);
		if (k == 0) {
			for (size_t j = 0; j < n; j++)
				fprintf(f, ",%s", mf[j].name);
			fputc('\n', f);
		}
		fprintf(f, "%s,%zu,%u,%" PRIu64, s->id, s->point, s->rep, s->seed);
		for (size_t i = 0; i < np; i++) {
			const char *v = scenario_param_value(r->src, s->point, i);
			/* Quote values that hold commas (distributions). */
			if (strpbrk(v, ",\""))
				fprintf(f, ",\"%s\"", v);
			else
				fprintf(f, ",%s", v);
		}
		for (size_t j = 0; j < n; j++) {
			if (mf[j].null)
				fputs(",", f);
			else if (mf[j].integer)
				fprintf(f, ",%.0f", mf[j].value);
			else
				fprintf(f, ",%.10g", mf[j].value);
		}
		fputc('\n', f);
	}
	if (ferror(f) | (fclose(f) != 0)) {
		snprintf(err, errlen, "%s: cannot write: %s", tmp, strerror(errno));
		remove(tmp);
		return SIM_ERR_IO;
	}
	return fs_commit(tmp, final, err, errlen);
}

static int write_exchanges(struct runner *r, char *err, size_t errlen)
{
	char tmp[SCN_PATH_LEN + 128], final[SCN_PATH_LEN + 128], part[SCN_PATH_LEN + 128];
	char buf[65536];
	FILE *f;
	int rc = 0;

	snprintf(tmp, sizeof(tmp), "%s/.exchanges.csv.tmp", r->out_dir);
	snprintf(final, sizeof(final), "%s/exchanges.csv", r->out_dir);
	f = fopen(tmp, "w");
	if (!f) {
		snprintf(err, errlen, "%s: cannot write: %s", tmp, strerror(errno));
		return SIM_ERR_IO;
	}
	fprintf(f, "%s\n", world_exchanges_header);
	for (size_t k = 0; k < r->n_runs; k++) {
		exchanges_tmp_path(r, &r->runs[k], part, sizeof(part));
		FILE *in = fopen(part, "r");
		if (!in)
			continue;
		size_t n;
		while ((n = fread(buf, 1, sizeof(buf), in)) > 0)
			fwrite(buf, 1, n, f);
		fclose(in);
		remove(part);
	}
	if (ferror(f) | (fclose(f) != 0)) {
		snprintf(err, errlen, "%s: cannot write: %s", tmp, strerror(errno));
		remove(tmp);
		return SIM_ERR_IO;
	}
	if (rc == 0)
		rc = fs_commit(tmp, final, err, errlen);
	return rc;
}

/* The first swept parameter as a number, if it is one. */
static double param_x(const struct scenario_src *src, size_t p, bool *numeric)
{
	char *end;
	if (!scenario_n_params(src)) {
		*numeric = false;
		return (double)p;
	}
	const char *v = scenario_param_value(src, p, 0);
	double x = strtod(v, &end);
	*numeric = end != v;
	return *numeric ? x : (double)p;
}

static void point_label_csv(const struct scenario_src *src, size_t p, char *buf, size_t len)
{
	size_t n = 0;
	buf[0] = 0;
	for (size_t i = 0; i < scenario_n_params(src) && n < len; i++)
		n += (size_t)snprintf(buf + n, len - n, "%s%s=%s", i ? " " : "",
				      scenario_param_key(src, i), scenario_param_value(src, p, i));
	if (!buf[0])
		snprintf(buf, len, "p%zu", p);
	for (char *c = buf; *c; c++)
		if (*c == ',' || *c == '"')
			*c = ';';
}

/* CSV files the gnuplot scripts in analysis/ read (replication 0 of each
 * point for the per-run ones). */
static int write_plot_data(struct runner *r, size_t n_points, uint32_t reps, char *err,
			   size_t errlen)
{
	char dir[SCN_PATH_LEN + 128], path[SCN_PATH_LEN + 160], label[256];
	static const char *const cols[] = {
		"delivery_ratio", "success_ratio", "retransmissions_per_message",
		"energy_mj.per_message", "bytes_per_message", "latency_ms.p50",
		"latency_ms.p99"};
	FILE *f;
	bool numeric = true;

	snprintf(dir, sizeof(dir), "%s/data", r->out_dir);
	if (fs_mkdir_p(dir, err, errlen) < 0)
		return SIM_ERR_IO;
	snprintf(path, sizeof(path), "%s/points.csv", dir);
	if (!(f = fopen(path, "w")))
		goto fail;
	fputs("point,x,label", f);
	for (size_t c = 0; c < SIM_ARRAY_LEN(cols); c++)
		fprintf(f, ",%s,%s_ci95", cols[c], cols[c]);
	fputc('\n', f);
	for (size_t p = 0; p < n_points; p++) {
		struct point_stats ps;
		bool num;
		double x = param_x(r->src, p, &num);
		numeric &= num;
		point_stats(r, p * reps, reps, &ps);
		point_label_csv(r->src, p, label, sizeof(label));
		fprintf(f, "%zu,%.10g,%s", p, x, label);
		for (size_t c = 0; c < SIM_ARRAY_LEN(cols); c++) {
			size_t j;
			for (j = 0; j < ps.n_fields && strcmp(ps.names[j], cols[c]); j++)
				;
			if (j < ps.n_fields && ps.agg[j].n)
				fprintf(f, ",%.10g,%.10g", ps.agg[j].mean,
					isfinite(ps.agg[j].ci95) ? ps.agg[j].ci95 : 0.0);
			else
				fputs(",,", f);
		}
		fputc('\n', f);
	}
	if (fclose(f) != 0)
		goto fail;
	for (size_t p = 0; p < n_points; p++) {
		const struct run_result *res = &r->runs[p * reps].res;
		point_label_csv(r->src, p, label, sizeof(label));
		snprintf(path, sizeof(path), "%s/cdf-p%zu.csv", dir, p);
		if (!(f = fopen(path, "w")))
			goto fail;
		fputs("q,latency_ms,label\n", f);
		if (res->total.latency.count)
			for (int i = 0; i < RUN_CDF_POINTS; i++)
				fprintf(f, "%.4f,%.6g,%s\n", (double)i / (RUN_CDF_POINTS - 1),
					res->cdf_ms[i], label);
		if (fclose(f) != 0)
			goto fail;
		if (p)
			continue;
		snprintf(path, sizeof(path), "%s/energy-p0.csv", dir);
		if (!(f = fopen(path, "w")))
			goto fail;
		fputs("mJ,endpoints\n", f);
		double w = (res->ehist_max - res->ehist_min) / RUN_EHIST_BINS;
		for (int i = 0; i < RUN_EHIST_BINS && w > 0; i++)
			fprintf(f, "%.6g,%u\n", res->ehist_min + (i + 0.5) * w, res->ehist[i]);
		if (fclose(f) != 0)
			goto fail;
		snprintf(path, sizeof(path), "%s/series-p0.csv", dir);
		if (!(f = fopen(path, "w")))
			goto fail;
		fputs("t_s,in_flight,queue_drops,completed\n", f);
		for (size_t i = 0; i < res->n_series; i++) {
			const struct run_sample *a = &res->series[i];
			const struct run_sample *b = i ? &res->series[i - 1] : NULL;
			fprintf(f, "%.3f,%u,%llu,%llu\n", a->t_s, a->in_flight,
				(unsigned long long)(a->queue_drops - (b ? b->queue_drops : 0)),
				(unsigned long long)(a->completed - (b ? b->completed : 0)));
		}
		if (fclose(f) != 0)
			goto fail;
	}
	r->xlabel_numeric = numeric && scenario_n_params(r->src);
	return 0;
fail:
	snprintf(err, errlen, "%s: cannot write: %s", path, strerror(errno));
	return SIM_ERR_IO;
}

static void print_table(struct runner *r, size_t n_points, uint32_t reps)
{
	size_t np = scenario_n_params(r->src);

	printf("%-5s %-28s %10s %9s %9s %9s %10s %10s %9s\n", "point", "params",
	       "messages", "delivery", "success", "retx/msg", "p50 ms", "p99 ms",
	       "wall s");
	for (size_t p = 0; p < n_points; p++) {
		struct point_stats ps;
		char params[256] = "-";
		size_t len = 0;
		point_stats(r, p * reps, reps, &ps);
		for (size_t i = 0; i < np && len < sizeof(params) - 1; i++)
			len += (size_t)snprintf(params + len, sizeof(params) - len, "%s%s=%s",
						i ? " " : "", scenario_param_key(r->src, i),
						scenario_param_value(r->src, p, i));
		double v[7] = {NAN, NAN, NAN, NAN, NAN, NAN, NAN};
		static const char *const want[7] = {
			"messages", "delivery_ratio", "success_ratio",
			"retransmissions_per_message", "latency_ms.p50",
			"latency_ms.p99", "wall_s"};
		for (size_t j = 0; j < ps.n_fields; j++)
			for (int k = 0; k < 7; k++)
				if (!strcmp(ps.names[j], want[k]) && ps.agg[j].n)
					v[k] = ps.agg[j].mean;
		printf("%-5zu %-28s %10.0f %9.5f %9.5f %9.4f %10.1f %10.1f %9.2f\n", p,
		       params, v[0], v[1], v[2], v[3], v[4], v[5], v[6]);
	}
}

struct runner_view {
	struct runner *r;
	size_t n_points;
	uint32_t reps;
};

size_t runner_view_points(const struct runner_view *v) { return v->n_points; }
uint32_t runner_view_reps(const struct runner_view *v) { return v->reps; }
const char *runner_view_out_dir(const struct runner_view *v) { return v->r->out_dir; }

int runner_view_values(const struct runner_view *v, size_t point, const char *group,
		       const char *metric, double *vals, bool *nulls)
{
	int gi = -1;

	if (group) {
		struct scenario_cfg pc;
		char err[SCN_ERR_LEN];
		if (scenario_point_cfg(v->r->src, point, &pc, err, sizeof(err)) < 0)
			return SIM_ERR_NOMEM;
		for (size_t g = 0; g < pc.n_groups; g++)
			if (!strcmp(pc.groups[g].name, group))
				gi = (int)g;
		scenario_cfg_free(&pc);
		if (gi < 0)
			return SIM_ERR_NOTFOUND;
	}
	for (uint32_t k = 0; k < v->reps; k++) {
		const struct run_result *res = &v->r->runs[point * v->reps + k].res;
		struct metric_field f[METRIC_FIELDS_MAX];
		/* A single group is the whole run; several have their own
		 * counters but share the channel. */
		bool single = res->n_groups == 1;
		const struct run_metrics *m = gi < 0 || single ? &res->total : &res->groups[gi];
		size_t n = metric_fields(m, gi < 0 || single, f), j;
		for (j = 0; j < n && strcmp(f[j].name, metric); j++)
			;
		if (j == n)
			return SIM_ERR_NOTFOUND;
		vals[k] = f[j].value;
		nulls[k] = f[j].null;
	}
	return 0;
}

int runner_run(const struct scenario_src *src, const struct runner_opts *o,
	       runner_done_fn done, void *ud)
{
	struct runner r = {.src = src, .o = o};
	struct scenario_cfg cfg;
	char err[1024];
	int status = EXIT_OK;

	if (scenario_point_cfg(src, 0, &cfg, err, sizeof(err)) < 0) {
		fprintf(stderr, "coapsim: %s\n", err);
		return EXIT_RUN;
	}
	if (cfg.backend == BACKEND_NS3) {
		fprintf(stderr, "coapsim: %s: backend 'ns3' is not built into this coapsim; "
			"install it with: apt-get install libns3-dev libgsl-dev, then rebuild\n",
			cfg.file);
		scenario_cfg_free(&cfg);
		return EXIT_RUN;
	}
	size_t n_points = scenario_n_points(src);
	for (size_t p = 0; p < n_points; p++) {
		struct scenario_cfg pc;
		const char *missing = NULL;
		if (scenario_point_cfg(src, p, &pc, err, sizeof(err)) < 0)
			break;
		for (size_t g = 0; g < pc.n_groups && !missing; g++)
			if (pc.groups[g].protocol == PROTO_MQTT)
				missing = "protocol = mqtt (the MQTT baseline)";
		scenario_cfg_free(&pc);
		if (missing) {
			fprintf(stderr, "coapsim: %s: %s is not implemented in coapsim %s yet\n",
				cfg.file, missing, COAPSIM_VERSION);
			scenario_cfg_free(&cfg);
			return EXIT_RUN;
		}
	}
	uint32_t reps = o->replications ? o->replications : cfg.replications;
	uint64_t base = o->have_seed ? o->seed : cfg.seed;
	snprintf(r.out_dir, sizeof(r.out_dir), "%s", o->out_dir ? o->out_dir : cfg.output.dir);
	if (o->out_dir)
		snprintf(r.pcap_dir, sizeof(r.pcap_dir), "%s/pcap", o->out_dir);
	else
		snprintf(r.pcap_dir, sizeof(r.pcap_dir), "%s", cfg.output.pcap_dir);
	r.pcap = cfg.output.pcap && !o->no_pcap;
	r.exchanges = cfg.output.exchanges;
	sim_time per_run = cfg.duration;
	scenario_cfg_free(&cfg);

	if (fs_mkdir_p(r.out_dir, err, sizeof(err)) < 0) {
		fprintf(stderr, "coapsim: %s\n", err);
		return EXIT_RUN;
	}
	r.n_runs = n_points * reps;
	r.runs = calloc(r.n_runs, sizeof(*r.runs));
	if (!r.runs) {
		fprintf(stderr, "coapsim: out of memory for %zu runs\n", r.n_runs);
		return EXIT_RUN;
	}
	for (size_t p = 0, k = 0; p < n_points; p++)
		for (uint32_t rep = 0; rep < reps; rep++, k++) {
			struct run_slot *s = &r.runs[k];
			s->point = p;
			s->rep = rep;
			s->seed = base + rep;
			snprintf(s->id, sizeof(s->id), "p%zu-r%u", p, rep);
		}

	unsigned jobs = o->jobs ? o->jobs : 1;
	if (jobs > r.n_runs)
		jobs = (unsigned)r.n_runs;
	pthread_t *th = calloc(jobs, sizeof(*th));
	bool tty = !o->quiet && isatty(STDERR_FILENO);
	double t0 = now_s();
	unsigned started = 0;
	for (; th && started < jobs; started++)
		if (pthread_create(&th[started], NULL, worker, &r) != 0)
			break;
	if (started == 0) {
		/* No threads at all: run in this one. */
		worker(&r);
	}
	if (tty) {
		for (;;) {
			size_t finished = 0;
			for (size_t i = 0; i < r.n_runs; i++)
				finished += (size_t)atomic_load(&r.runs[i].done);
			if (finished == r.n_runs || atomic_load(&r.failed))
				break;
			progress(&r, per_run, now_s() - t0, false);
			struct timespec ts = {0, 200 * 1000 * 1000};
			nanosleep(&ts, NULL);
		}
	}
	for (unsigned i = 0; i < started; i++)
		pthread_join(th[i], NULL);
	free(th);
	if (tty)
		progress(&r, per_run, now_s() - t0, true);

	for (size_t i = 0; i < r.n_runs; i++) {
		if (r.runs[i].rc < 0) {
			fprintf(stderr, "coapsim: %s\n", r.runs[i].err[0] ? r.runs[i].err
									   : sim_strerror(r.runs[i].rc));
			status = EXIT_RUN;
			break;
		}
	}
	if (status == EXIT_OK) {
		if ((r.exchanges && write_exchanges(&r, err, sizeof(err)) < 0) ||
		    write_runs_csv(&r, err, sizeof(err)) < 0 ||
		    write_plot_data(&r, n_points, reps, err, sizeof(err)) < 0 ||
		    write_summary(&r, n_points, reps, err, sizeof(err)) < 0 ||
		    report_build(r.out_dir, err, sizeof(err)) < 0) {
			fprintf(stderr, "coapsim: %s\n", err);
			status = EXIT_RUN;
		}
	} else {
		/* Leave nothing half-done: drop per-run exchange parts. */
		char part[SCN_PATH_LEN + 128];
		for (size_t k = 0; k < r.n_runs; k++) {
			exchanges_tmp_path(&r, &r.runs[k], part, sizeof(part));
			remove(part);
		}
	}
	if (status == EXIT_OK && !o->quiet && !o->no_table) {
		print_table(&r, n_points, reps);
		printf("results: %s/summary.json\nreport:  %s/report.html\n", r.out_dir,
		       r.out_dir);
	}
	if (status == EXIT_OK && done) {
		struct runner_view v = {&r, n_points, reps};
		status = done(ud, &v);
	}
	for (size_t i = 0; i < r.n_runs; i++)
		run_result_free(&r.runs[i].res);
	free(r.runs);
	return status;
}
