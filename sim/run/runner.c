/* The run matrix: points x replications on threads, the staging folder,
 * runs.csv, summary.json, the table.  Knows no backend and no protocol:
 * one run is world_run(). */
#include "runner.h"

#include <dirent.h>
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
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
#include "../cluster/cluster.h"
#include "../backend/backend.h"
#include "../trace/trace.h"
#include "report.h"
#include "runner_impl.h"
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

#define ONE_(...) +1
#define STATS_(...) +METRIC_N_STATS
_Static_assert(0 RUN_METRICS(ONE_, ONE_, ONE_, STATS_) <= METRIC_FIELDS_MAX,
	       "metrics_table.h has more fields than METRIC_FIELDS_MAX");
#undef ONE_
#undef STATS_

size_t metric_fields(const struct run_metrics *m, bool channel_known,
		     struct metric_field f[METRIC_FIELDS_MAX])
{
	size_t n = 0;

	/* The rows of metrics_table.h, in their order. */
#define NUL_(nul) metric_is_null(METRIC_NULL_##nul, m, channel_known)
#define COUNT_(name, field, nul, ...)                                                         \
	f[n++] = (struct metric_field){name, (double)m->field, NUL_(nul), true};
#define REAL_(name, value, nul, ...) f[n++] = (struct metric_field){name, (value), NUL_(nul), false};
	/* A LAT row becomes its six values, named "name.p50" ... */
#define LAT_(name, field, nul, ...)                                                           \
	{                                                                                     \
		const struct lat_summary *lat = &m->field;                                    \
		bool lat_null = NUL_(nul);                                                    \
		METRIC_LAT_STATS(LAT_STAT_, name)                                             \
	}
#define LAT_STAT_(id, member, name)                                                           \
	f[n++] = (struct metric_field){name "." #member, lat->member, lat_null, false};
	RUN_METRICS(COUNT_, COUNT_, REAL_, LAT_)
#undef NUL_
#undef COUNT_
#undef REAL_
#undef LAT_
#undef LAT_STAT_
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


static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---------------------------------------------------------------- runs
 *
 * Workers take runs in order; the main thread emits finished runs in the
 * same order (runs.csv row, summary.json entry, exchange log) and frees
 * them, aggregating one point at a time.  A worker does not start a run more
 * than `window` runs ahead of the last one emitted, so memory stays bounded
 * however many points and replications there are, and the output does not
 * depend on the number of jobs. */

struct runner_view {
	struct runner *r;
	size_t point;
};

size_t runner_view_points(const struct runner_view *v) { return v->r->n_points; }
uint32_t runner_view_reps(const struct runner_view *v) { return v->r->reps; }
size_t runner_view_point(const struct runner_view *v) { return v->point; }
const char *runner_view_out_dir(const struct runner_view *v) { return v->r->out_dir; }

int runner_view_values(const struct runner_view *v, size_t point, const char *group,
		       const char *metric, double *vals, bool *nulls)
{
	const struct point_acc *a = &v->r->acc;
	size_t g = 0, j;

	if (point != a->point)
		return SIM_ERR_NOTFOUND;
	if (group) {
		for (g = 0; g < a->n_groups && strcmp(a->names[g], group); g++)
			;
		if (g == a->n_groups)
			return SIM_ERR_NOTFOUND;
		/* A single group is the whole run. */
		g = a->n_groups == 1 ? 0 : g + 1;
	}
	for (j = 0; j < a->n_fields && strcmp(a->fields[j], metric); j++)
		;
	if (j == a->n_fields)
		return SIM_ERR_NOTFOUND;
	for (uint32_t k = 0; k < v->r->reps; k++) {
		size_t at = (g * v->r->reps + k) * a->n_fields + j;
		vals[k] = a->vals[at];
		nulls[k] = a->nulls[at];
	}
	return 0;
}

void runner_exchanges_tmp_path(const struct runner *r, const struct run_slot *s, char *buf,
			       size_t len)
{
	snprintf(buf, len, "%s/.exchanges-%s.csv", r->out_dir, s->id);
}

static void set_err(struct run_slot *s, const char *fmt, const char *a, const char *b)
{
	char buf[2 * RUN_PATH];
	snprintf(buf, sizeof(buf), fmt, a, b);
	free(s->err);
	s->err = strdup(buf);
}

/* SIGINT or SIGTERM: every run stops at its next step, nothing is
 * published.  Holds the signal number. */
static _Atomic int runner_stop;

int runner_stopped(void)
{
	return atomic_load(&runner_stop);
}

/* A run in real time, once a second: one line on stderr. */
void runner_live_tick(void *ud, const struct run_tick *t)
{
	const struct run_slot *s = ud;
	static _Thread_local uint64_t last;
	if (t->t_s <= 1)
		last = 0;
	fprintf(stderr,
		"live %s: %4.0f s, %6" PRIu64 " requests/s, %" PRIu64 " sent, %" PRIu64
		" completed, %" PRIu64 " failed, p99 %.1f ms, lag p99 %.3f ms\n",
		s->id, t->t_s, t->messages - last, t->messages, t->completed, t->failed,
		t->p99_ms, t->lag_p99_ms);
	last = t->messages;
}

void runner_do_run(struct runner *r, struct run_slot *s)
{
	struct scenario_cfg cfg;
	struct run_opts ro = {.run_id = s->id, .progress_ns = &s->progress_ns,
			      .stop = &runner_stop};
	FILE *ex = NULL;
	char path[RUN_PATH], kpath[RUN_PATH + 80], err[RUN_PATH + 512];

	s->rc = scenario_point_cfg(r->src, s->point, &cfg, err, sizeof(err));
	if (s->rc < 0) {
		set_err(s, "%s%s", err, "");
		return;
	}
	cfg.live.allow_remote = r->o->allow_remote;
	/* A live run over MPI ranks: this rank's slice (runner_split.c). */
	struct runner_split sp = {0};
	bool ran = false;
	if (r->split)
		runner_split_begin(r, s, &cfg, &ro, &sp);
	s->res = calloc(1, sizeof(*s->res));
	if (!s->res) {
		s->rc = SIM_ERR_NOMEM;
		goto out;
	}
	if (r->exchanges) {
		runner_split_exchanges_path(r, s, r->split ? cluster_rank() : 0, path, sizeof(path));
		ex = fopen(path, "w");
		if (!ex) {
			set_err(s, "%s: cannot write: %s", path, strerror(errno));
			s->rc = SIM_ERR_IO;
			goto out;
		}
		ro.exchanges = ex;
	}
	if (r->pcap) {
		char tid[sizeof(s->id) + sizeof(sp.suffix)];
		snprintf(tid, sizeof(tid), "%s%s", s->id, sp.suffix);
		struct trace_cfg tc = {
			.dir = r->pcap_dir, .run_id = tid, .mtu_up = cfg.up.mtu,
			.mtu_down = cfg.down.mtu, .max_bytes = cfg.output.pcap_max,
			.port = 5683,
		};
		for (size_t g = 0; g < cfg.n_groups; g++)
			tc.dtls |= cfg.groups[g].security == SECURITY_DTLS;
		/* The tun transport's packets are the captures' own: the
		 * endpoints' simulated addresses, port as the target's, and the
		 * target's address. */
		uint8_t target[16];
		if (cfg.backend == BACKEND_LIVE && cfg.live.transport == LIVE_TUN &&
		    cfg.live.host[0] && inet_pton(AF_INET6, cfg.live.host, target) == 1) {
			tc.server = target;
			tc.port = cfg.live.port;
		}
		s->rc = trace_open(&ro.trace, &tc, err, sizeof(err));
		if (s->rc < 0) {
			set_err(s, "%s%s", err, "");
			goto out;
		}
		if (cfg.output.keylog) {
			snprintf(kpath, sizeof(kpath), "%s/%s%s.keys", r->pcap_dir, s->id, sp.suffix);
			if (!(ro.keylog = fopen(kpath, "w"))) {
				set_err(s, "%s: cannot write: %s", kpath, strerror(errno));
				s->rc = SIM_ERR_IO;
				goto out;
			}
		}
	}
	char why[512] = "";
	if (!r->o->quiet && !r->split) { /* split: runner_split_begin's */
		ro.tick = runner_live_tick;
		ro.tick_ud = s;
	}
	ro.err = why;
	ro.errlen = sizeof(why);
	ran = true;
	s->rc = world_run(&cfg, s->seed, &ro, s->res);
	if (s->rc < 0 && why[0])
		set_err(s, "%s%s", why, "");
	/* An I/O error names its file and the reason: a capture's (trace_close
	 * says which), or exchanges.csv's (flushing again gives the errno). */
	if (ro.trace) {
		int trc = trace_close(ro.trace, err, sizeof(err));
		if (trc < 0 && (s->rc == 0 || s->rc == SIM_ERR_IO)) {
			s->rc = trc;
			set_err(s, "%s%s", err, "");
		}
	}
	if (s->rc == SIM_ERR_IO && !s->err && ex) {
		errno = 0;
		bool bad = ferror(ex) | (fflush(ex) != 0);
		set_err(s, "%s: cannot write: %s", path,
			bad && errno ? strerror(errno) : "write error");
	}
	if (s->rc < 0 && !s->err)
		set_err(s, "run %s: %s", s->id, sim_strerror(s->rc));
out:
	if (ro.keylog && fclose(ro.keylog) != 0 && s->rc == 0) {
		set_err(s, "%s: cannot write: %s", kpath, strerror(errno));
		s->rc = SIM_ERR_IO;
	}
	if (ex) {
		errno = 0;
		if (fclose(ex) != 0 && s->rc == 0) {
			set_err(s, "%s: cannot write: %s", path,
				errno ? strerror(errno) : "write error");
			s->rc = SIM_ERR_IO;
		}
	}
	if (r->split) {
		/* failed before its world ran: the other ranks still wait to
		 * hear whether it could start */
		if (!ran)
			ro.ready(ro.ready_ud, s->rc < 0 ? s->rc : SIM_ERR_IO);
		runner_split_end(r, s, &cfg, &sp);
	}
	scenario_cfg_free(&cfg);
}

/* Publishing replaces the target folder whole, so it must be one that
 * coapsim wrote: absent, empty, or holding only what a results folder
 * (summary.json there) or a capture folder (*.pcap files) holds.  A user's
 * own folder given by mistake (--out .) is refused, not replaced. */
static bool replaceable(const char *dir, bool captures)
{
	char probe[4400];
	struct stat sb;
	if (lstat(dir, &sb) == 0 && !S_ISDIR(sb.st_mode))
		return false; /* a file (or a link) of the user's: never replaced */
	DIR *d = opendir(dir);
	if (!d)
		return true; /* absent: created; unreadable: creating it says why */
	snprintf(probe, sizeof(probe), "%s/summary.json", dir);
	bool ok = !captures && access(probe, F_OK) == 0;
	bool empty = true;
	struct dirent *e;
	while ((e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		empty = false;
		size_t n = strlen(e->d_name);
		if (captures && (n < 5 || strcmp(e->d_name + n - 5, ".pcap")))
			break;
	}
	ok |= empty || (captures && !e);
	closedir(d);
	return ok;
}


static void on_signal(int sig)
{
	atomic_store(&runner_stop, sig);
}

static void *worker(void *arg)
{
	struct runner *r = arg;

	for (;;) {
		size_t i = atomic_fetch_add(&r->next, 1);
		if (i >= r->n_runs)
			break;
		if (r->runs[i].resumed)
			continue; /* from the journal */
		pthread_mutex_lock(&r->mu);
		while (i >= r->emitted + r->window && !atomic_load(&r->failed))
			pthread_cond_wait(&r->cv, &r->mu);
		pthread_mutex_unlock(&r->mu);
		if (atomic_load(&r->failed))
			break;
		runner_do_run(r, &r->runs[i]);
		if (r->runs[i].rc < 0)
			atomic_store(&r->failed, 1);
		pthread_mutex_lock(&r->mu);
		atomic_store(&r->runs[i].done, 1);
		pthread_cond_broadcast(&r->cv);
		pthread_mutex_unlock(&r->mu);
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

/* ---------------------------------------------------------------- output */

/* Every output file is written under a temporary name and renamed into
 * place only when the whole run matrix succeeded. */
static FILE *open_tmp(const struct runner *r, const char *name)
{
	char path[RUN_PATH];
	snprintf(path, sizeof(path), "%s/.%s.tmp", r->out_dir, name);
	return fopen(path, "w+");
}

static void tmp_path(const struct runner *r, const char *name, char *buf, size_t len)
{
	snprintf(buf, len, "%s/.%s.tmp", r->out_dir, name);
}

static void csv_value(FILE *f, const struct metric_field *m)
{
	if (m->null)
		fputs(",", f);
	else if (m->integer)
		fprintf(f, ",%.0f", m->value);
	else
		fprintf(f, ",%.10g", m->value);
}

static void emit_csv_row(struct runner *r, const struct run_slot *s,
			 const struct metric_field *mf, size_t n)
{
	size_t np = scenario_n_params(r->src);
	FILE *f = r->runs_csv;

	if (s == r->runs) {
		fputs("id,point,replication,seed", f);
		for (size_t i = 0; i < np; i++)
			fprintf(f, ",%s", scenario_param_key(r->src, i));
		for (size_t j = 0; j < n; j++)
			fprintf(f, ",%s", mf[j].name);
		fputc('\n', f);
	}
	fprintf(f, "%s,%zu,%u,%" PRIu64, s->id, s->point, s->rep, s->seed);
	for (size_t i = 0; i < np; i++) {
		const char *v = scenario_param_value(r->src, s->point, i);
		fprintf(f, strpbrk(v, ",\"") ? ",\"%s\"" : ",%s", v);
	}
	for (size_t j = 0; j < n; j++)
		csv_value(f, &mf[j]);
	fputc('\n', f);
}

static void emit_json_run(struct runner *r, const struct run_slot *s,
			  const struct scenario_cfg *pc)
{
	json_t *run = json_object();
	json_object_set_new(run, "id", json_string(s->id));
	json_object_set_new(run, "point", json_integer((json_int_t)s->point));
	json_object_set_new(run, "replication", json_integer(s->rep));
	json_object_set_new(run, "seed", json_integer((json_int_t)s->seed));
	json_object_set_new(run, "params", params_json(r->src, s->point));
	json_object_set_new(run, "metrics", metrics_json(&s->res->total, true));
	/* A real-time run is trustworthy while its generator kept up. */
	const struct lat_summary *lag = &s->res->total.generator_lag;
	if (lag->count)
		json_object_set_new(run, "trustworthy",
				    json_boolean(lag->p99 <= sim_time_to_ms(pc->live.lag_limit)));
	if (s->ranks)
		json_object_set(run, "ranks", s->ranks);
	if (s->res->n_groups > 1) {
		json_t *groups = json_object();
		for (size_t g = 0; g < s->res->n_groups; g++)
			json_object_set_new(groups, pc->groups[g].name,
					    metrics_json(&s->res->groups[g], false));
		json_object_set_new(run, "groups", groups);
	}
	if (s != r->runs)
		fputs(",\n", r->runs_json);
	json_dumpf(run, r->runs_json, JSON_INDENT(2) | JSON_PRESERVE_ORDER |
				       JSON_REAL_PRECISION(12));
	json_decref(run);
}

static void append_exchanges(struct runner *r, const struct run_slot *s)
{
	char part[RUN_PATH], buf[65536];
	size_t n;

	runner_exchanges_tmp_path(r, s, part, sizeof(part));
	FILE *in = fopen(part, "r");
	if (!in)
		return;
	while ((n = fread(buf, 1, sizeof(buf), in)) > 0)
		fwrite(buf, 1, n, r->exch);
	fclose(in);
	remove(part);
}

/* A new data/NAME-pP.csv for one point's plot data (path: its name, for
 * the error), or NULL. */
static FILE *open_plot_file(const struct runner *r, const char *name, size_t point,
			    char *path, size_t len)
{
	snprintf(path, len, "%s/data/%s-p%zu.csv", r->out_dir, name, point);
	return fopen(path, "w");
}

/* Plot data of a point's first replication: its latency CDF, the
 * per-endpoint energy histogram and the time series, one file each per
 * point (the report draws any point's, not only point 0's). */
static int emit_plot_data(struct runner *r, const struct run_slot *s, char *err,
			  size_t errlen)
{
	char path[RUN_PATH], label[256];
	const struct run_result *res = s->res;
	FILE *f;

	point_label_csv(r->src, s->point, label, sizeof(label));
	if (!(f = open_plot_file(r, "cdf", s->point, path, sizeof(path))))
		goto fail;
	fputs("q,latency_ms,label\n", f);
	if (res->total.latency.count)
		for (int i = 0; i < RUN_CDF_POINTS; i++)
			fprintf(f, "%.4f,%.6g,%s\n", (double)i / (RUN_CDF_POINTS - 1),
				res->cdf_ms[i], label);
	if (fclose(f) != 0)
		goto fail;
	/* bin centre and count; the bins cover [ehist_min, ehist_max] */
	if (!(f = open_plot_file(r, "energy", s->point, path, sizeof(path))))
		goto fail;
	fputs("mJ,endpoints\n", f);
	double w = (res->ehist_max - res->ehist_min) / RUN_EHIST_BINS;
	for (int i = 0; i < RUN_EHIST_BINS && w > 0; i++)
		fprintf(f, "%.6g,%u\n", res->ehist_min + (i + 0.5) * w, res->ehist[i]);
	if (fclose(f) != 0)
		goto fail;
	if (!(f = open_plot_file(r, "series", s->point, path, sizeof(path))))
		goto fail;
	fputs("t_s,in_flight,queue_drops,completed\n", f);
	for (size_t i = 0; i < res->n_series; i++) {
		const struct run_sample *a = &res->series[i], *b = i ? a - 1 : NULL;
		fprintf(f, "%.3f,%u,%llu,%llu\n", a->t_s, a->in_flight,
			(unsigned long long)(a->queue_drops - (b ? b->queue_drops : 0)),
			(unsigned long long)(a->completed - (b ? b->completed : 0)));
	}
	if (fclose(f) != 0)
		goto fail;
	return 0;
fail:
	snprintf(err, errlen, "%s: cannot write: %s", path, strerror(errno));
	return SIM_ERR_IO;
}

static const char *const table_cols[7] = {
	"messages", "delivery_ratio", "success_ratio", "retransmissions_per_message",
	"latency_ms.p50", "latency_ms.p99", "wall_s"};

static const char *const plot_cols[7] = {
	"delivery_ratio", "success_ratio", "retransmissions_per_message",
	"energy_mj.per_message", "bytes_per_message", "latency_ms.p50",
	"latency_ms.p99"};

/* All replications of a point are in: aggregate, write, judge. */
static void finish_point(struct runner *r)
{
	struct point_acc *a = &r->acc;
	size_t p = a->point;
	struct agg agg[METRIC_FIELDS_MAX];
	json_t *pt = json_object(), *m = json_object();

	for (size_t j = 0; j < a->n_fields; j++) {
		double v[r->reps];
		bool nul[r->reps];
		for (uint32_t k = 0; k < r->reps; k++) {
			v[k] = a->vals[k * a->n_fields + j];
			nul[k] = a->nulls[k * a->n_fields + j];
		}
		aggregate(v, nul, r->reps, &agg[j]);
		json_t *o = json_object();
		json_object_set_new(o, "mean", agg[j].n ? json_real(agg[j].mean) : json_null());
		json_object_set_new(o, "ci95", isfinite(agg[j].ci95) ? json_real(agg[j].ci95)
								      : json_null());
		json_set_path(m, a->fields[j], o);
	}
	json_object_set_new(pt, "point", json_integer((json_int_t)p));
	json_object_set_new(pt, "params", params_json(r->src, p));
	json_object_set_new(pt, "replications", json_integer(r->reps));
	json_object_set_new(pt, "metrics", m);
	if (p)
		fputs(",\n", r->points_json);
	json_dumpf(pt, r->points_json, JSON_INDENT(2) | JSON_PRESERVE_ORDER |
					   JSON_REAL_PRECISION(12));
	json_decref(pt);

	/* points.csv for the plots, and the table row */
	char label[256];
	bool num;
	double x = param_x(r->src, p, &num);
	r->xlabel_numeric &= num;
	point_label_csv(r->src, p, label, sizeof(label));
	fprintf(r->points_csv, "%zu,%.10g,%s", p, x, label);
	for (size_t c = 0; c < 7; c++) {
		size_t j;
		for (j = 0; j < a->n_fields && strcmp(a->fields[j], plot_cols[c]); j++)
			;
		if (j < a->n_fields && agg[j].n)
			fprintf(r->points_csv, ",%.10g,%.10g", agg[j].mean,
				isfinite(agg[j].ci95) ? agg[j].ci95 : 0.0);
		else
			fputs(",,", r->points_csv);
	}
	/* the series a point belongs to: every swept parameter but the first,
	 * as key=value (the report chooses its own axes; see report.c) */
	char series[256] = "";
	size_t sl = 0;
	for (size_t i = 1; i < scenario_n_params(r->src) && sl < sizeof(series) - 1; i++)
		sl += (size_t)snprintf(series + sl, sizeof(series) - sl, "%s%s=%s", i > 1 ? " " : "",
				       scenario_param_key(r->src, i),
				       scenario_param_value(r->src, p, i));
	for (char *ch = series; *ch; ch++)
		if (*ch == ',' || *ch == '"')
			*ch = ';';
	fprintf(r->points_csv, ",%s\n", series[0] ? series : "all");
	for (size_t c = 0; c < 7; c++) {
		r->rows[p].v[c] = r->rows[p].ci[c] = NAN;
		for (size_t j = 0; j < a->n_fields; j++)
			if (!strcmp(a->fields[j], table_cols[c]) && agg[j].n) {
				r->rows[p].v[c] = agg[j].mean;
				r->rows[p].ci[c] = agg[j].ci95;
			}
	}
	if (r->on_point && r->cb_status == COAPSIM_EXIT_OK) {
		struct runner_view v = {r, p};
		r->cb_status = r->on_point(r->ud, &v);
	}
	free(a->vals);
	free(a->nulls);
	a->vals = NULL;
	a->nulls = NULL;
}

static int emit(struct runner *r, struct run_slot *s, char *err, size_t errlen)
{
	struct metric_field mf[METRIC_FIELDS_MAX];
	struct point_acc *a = &r->acc;
	struct scenario_cfg pc;

	if (scenario_point_cfg(r->src, s->point, &pc, err, errlen) < 0)
		return SIM_ERR_NOMEM;
	size_t n = metric_fields(&s->res->total, true, mf);
	emit_csv_row(r, s, mf, n);
	emit_json_run(r, s, &pc);
	const struct lat_summary *lag = &s->res->total.generator_lag;
	if (lag->count && lag->p99 > sim_time_to_ms(pc.live.lag_limit)) {
		if (!r->untrusted)
			r->untrusted = json_array();
		json_array_append_new(r->untrusted, json_string(s->id));
	}
	if (lag->count && lag->p99 > sim_time_to_ms(pc.live.lag_limit))
		fprintf(stderr,
			"coapsim: run %s: the generator fell behind (lag p99 %.3f ms > "
			"live.lag_limit %.3f ms): its latencies are not trustworthy\n",
			s->id, lag->p99, sim_time_to_ms(pc.live.lag_limit));
	if (r->exchanges)
		append_exchanges(r, s);
	if (s->rep == 0) {
		a->point = s->point;
		a->n_groups = pc.n_groups;
		for (size_t g = 0; g < pc.n_groups; g++)
			snprintf(a->names[g], sizeof(a->names[g]), "%s", pc.groups[g].name);
		a->n_fields = n;
		for (size_t j = 0; j < n; j++)
			a->fields[j] = mf[j].name;
		size_t cells = (1 + pc.n_groups) * r->reps * n;
		a->vals = calloc(cells, sizeof(double));
		a->nulls = calloc(cells, sizeof(bool));
		if (!a->vals || !a->nulls) {
			scenario_cfg_free(&pc);
			snprintf(err, errlen, "out of memory");
			return SIM_ERR_NOMEM;
		}
		if (emit_plot_data(r, s, err, errlen) < 0) {
			scenario_cfg_free(&pc);
			return SIM_ERR_IO;
		}
	}
	for (size_t g = 0; g <= pc.n_groups; g++) {
		const struct run_metrics *m = g ? &s->res->groups[g - 1] : &s->res->total;
		struct metric_field gf[METRIC_FIELDS_MAX];
		size_t gn = metric_fields(m, g == 0 || pc.n_groups == 1, gf);
		for (size_t j = 0; j < gn && j < n; j++) {
			size_t at = ((g * r->reps) + s->rep) * n + j;
			a->vals[at] = gf[j].value;
			a->nulls[at] = gf[j].null;
		}
	}
	scenario_cfg_free(&pc);
	if (s->rep + 1 == r->reps)
		finish_point(r);
	return 0;
}

/* Copy a temporary file's content into f. */
static void copy_into(FILE *f, FILE *from)
{
	char buf[65536];
	size_t n;
	rewind(from);
	while ((n = fread(buf, 1, sizeof(buf), from)) > 0)
		fwrite(buf, 1, n, f);
}

/* summary.json, and data/report.json (the same without runs[]: what the
 * report needs, small however many runs there were). */
static int write_json(struct runner *r, const char *name, bool with_runs, char *err,
		      size_t errlen)
{
	char tmp[RUN_PATH], final[RUN_PATH];
	struct scenario_cfg cfg;
	json_t *head = json_object();

	if (scenario_point_cfg(r->src, 0, &cfg, err, errlen) < 0)
		return SIM_ERR_NOMEM;
	json_object_set_new(head, "scenario", json_string(cfg.name));
	json_object_set_new(head, "version", json_string(COAPSIM_VERSION));
	json_object_set_new(head, "command",
			    json_string(r->o->command_line ? r->o->command_line : ""));
	/* The scenario as run (every --set in place), so a result can be
	 * reproduced from its own folder; the file as written next to it. */
	char *eff = scenario_effective_text(r->src);
	if (!eff) {
		json_decref(head);
		scenario_cfg_free(&cfg);
		return SIM_ERR_NOMEM;
	}
	json_object_set_new(head, "scenario_text", json_string(eff));
	json_object_set_new(head, "scenario_file_text", json_string(scenario_text(r->src)));
	free(eff);
	json_object_set_new(head, "xlabel",
			    json_string(r->xlabel_numeric ? scenario_param_key(r->src, 0)
							  : "point"));
	/* Live runs whose generator fell behind: the report says so. */
	if (r->untrusted)
		json_object_set(head, "untrustworthy_runs", r->untrusted);
	scenario_cfg_free(&cfg);
	char *h = json_dumps(head, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	json_decref(head);
	if (!h)
		return SIM_ERR_NOMEM;
	/* {"scenario": ..., "xlabel": ...} -> drop the closing brace and
	 * append the streamed arrays. */
	*strrchr(h, '}') = 0;
	snprintf(tmp, sizeof(tmp), "%s/.%s.tmp", r->out_dir, strrchr(name, '/') ? strrchr(name, '/') + 1 : name);
	snprintf(final, sizeof(final), "%s/%s", r->out_dir, name);
	FILE *f = fopen(tmp, "w");
	if (!f) {
		free(h);
		snprintf(err, errlen, "%s: cannot write: %s", tmp, strerror(errno));
		return SIM_ERR_IO;
	}
	fputs(h, f);
	free(h);
	if (with_runs) {
		fputs(",\n  \"runs\": [\n", f);
		copy_into(f, r->runs_json);
		fputs("\n  ]", f);
	}
	fputs(",\n  \"points\": [\n", f);
	copy_into(f, r->points_json);
	fputs("\n  ]\n}\n", f);
	if (ferror(f) | (fclose(f) != 0)) {
		snprintf(err, errlen, "%s: cannot write: %s", tmp, strerror(errno));
		remove(tmp);
		return SIM_ERR_IO;
	}
	return fs_commit(tmp, final, err, errlen);
}

/* scenario.ini: the scenario as run, to run again from this folder. */
static int write_effective(struct runner *r, char *err, size_t errlen)
{
	char tmp[RUN_PATH], final[RUN_PATH];
	char *eff = scenario_effective_text(r->src);
	if (!eff) {
		snprintf(err, errlen, "out of memory");
		return SIM_ERR_NOMEM;
	}
	tmp_path(r, "scenario.ini", tmp, sizeof(tmp));
	snprintf(final, sizeof(final), "%s/scenario.ini", r->out_dir);
	FILE *f = fopen(tmp, "w");
	int bad = !f || fputs(eff, f) < 0;
	int e = errno;
	bad |= f && fclose(f) != 0;
	free(eff);
	if (bad) {
		snprintf(err, errlen, "%s: cannot write: %s", tmp, strerror(e ? e : errno));
		remove(tmp);
		return SIM_ERR_IO;
	}
	return fs_commit(tmp, final, err, errlen);
}

/* Close a temporary and rename it to `name` in the results folder. */
static int commit_tmp(struct runner *r, FILE **f, const char *tmpname, const char *name,
		      char *err, size_t errlen)
{
	char tmp[RUN_PATH], final[RUN_PATH];
	tmp_path(r, tmpname, tmp, sizeof(tmp));
	snprintf(final, sizeof(final), "%s/%s", r->out_dir, name);
	int bad = ferror(*f) | (fclose(*f) != 0);
	*f = NULL;
	if (bad) {
		snprintf(err, errlen, "%s: cannot write: %s", tmp, strerror(errno));
		remove(tmp);
		return SIM_ERR_IO;
	}
	return fs_commit(tmp, final, err, errlen);
}

static void drop_tmp(struct runner *r, FILE **f, const char *tmpname)
{
	char tmp[RUN_PATH];
	if (*f)
		fclose(*f);
	*f = NULL;
	tmp_path(r, tmpname, tmp, sizeof(tmp));
	remove(tmp);
}

/* One cell: the value in its format, "-" where the metric does not apply,
 * and for the ratios "+-ci" when replications give an interval. */
static void cell(char *buf, size_t len, double v, double ci, const char *fmt, bool with_ci)
{
	if (!isfinite(v)) {
		snprintf(buf, len, "-");
		return;
	}
	int n = snprintf(buf, len, fmt, v);
	if (with_ci && isfinite(ci) && n > 0 && (size_t)n < len)
		snprintf(buf + n, len - (size_t)n, " +-%.4f", ci);
}

/* The table on stdout: columns as wide as their widest cell, whatever the
 * parameter names; the 95% half-width of the ratios with replications. */
static void print_table(struct runner *r)
{
	static const char *const head[8] = {"point", "params", "messages", "delivery",
					    "success", "retx/msg", "p50 ms", "p99 ms"};
	static const char *const fmt[6] = {"%.0f", "%.5f", "%.5f", "%.4f", "%.1f", "%.1f"};
	size_t np = scenario_n_params(r->src), w[9];
	bool ci = r->reps > 1;
	char (*cells)[9][160] = calloc(r->n_points + 1, sizeof(*cells));
	if (!cells)
		return;
	for (size_t c = 0; c < 8; c++)
		snprintf(cells[0][c], sizeof(cells[0][c]), "%s", head[c]);
	snprintf(cells[0][8], sizeof(cells[0][8]), "wall s");
	for (size_t p = 0; p < r->n_points; p++) {
		char (*row)[160] = cells[p + 1];
		size_t len = 0;
		snprintf(row[0], sizeof(row[0]), "%zu", p);
		snprintf(row[1], sizeof(row[1]), "-");
		for (size_t i = 0; i < np && len < sizeof(row[1]) - 1; i++)
			len += (size_t)snprintf(row[1] + len, sizeof(row[1]) - len, "%s%s=%s",
						i ? " " : "", scenario_param_key(r->src, i),
						scenario_param_value(r->src, p, i));
		const struct table_row *t = &r->rows[p];
		for (size_t c = 0; c < 6; c++)
			cell(row[c + 2], sizeof(row[c + 2]), t->v[c], t->ci[c], fmt[c],
			     ci && (c == 1 || c == 2));
		cell(row[8], sizeof(row[8]), t->v[6], NAN, "%.2f", false);
	}
	for (size_t c = 0; c < 9; c++) {
		w[c] = 0;
		for (size_t p = 0; p <= r->n_points; p++)
			w[c] = strlen(cells[p][c]) > w[c] ? strlen(cells[p][c]) : w[c];
	}
	for (size_t p = 0; p <= r->n_points; p++) {
		for (size_t c = 0; c < 9; c++)
			printf(c < 2 ? "%-*s  " : c < 8 ? "%*s  " : "%*s\n", (int)w[c], cells[p][c]);
	}
	if (ci)
		printf("(+- : 95%% confidence half-width over %u replications)\n", r->reps);
	free(cells);
}

static const char *human(double bytes, char *buf, size_t len)
{
	static const char *const unit[] = {"B", "kB", "MB", "GB", "TB", "PB"};
	int u = 0;
	while (bytes >= 1000 && u < 5) {
		bytes /= 1000;
		u++;
	}
	snprintf(buf, len, u ? "%.1f %s" : "%.0f %s", bytes, unit[u]);
	return buf;
}

/* MemAvailable from /proc/meminfo, bytes (0 when unknown). */
static double mem_available(void)
{
	FILE *f = fopen("/proc/meminfo", "r");
	char line[256];
	double kb = 0;
	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "MemAvailable: %lf kB", &kb) == 1)
			break;
	if (f)
		fclose(f);
	return kb * 1024;
}

/* Free bytes for an unprivileged writer on the file system that holds
 * path, or its nearest existing ancestor (0 when unknown). */
static double disk_free(const char *path)
{
	char p[4096];
	struct statvfs sv;
	snprintf(p, sizeof(p), "%s", path);
	for (;;) {
		if (statvfs(p, &sv) == 0)
			return (double)sv.f_bavail * (double)sv.f_frsize;
		char *slash = strrchr(p, '/');
		if (!slash)
			return statvfs(".", &sv) == 0 ? (double)sv.f_bavail * (double)sv.f_frsize : 0;
		if (slash == p) {
			p[1] = 0;
			return statvfs(p, &sv) == 0 ? (double)sv.f_bavail * (double)sv.f_frsize : 0;
		}
		*slash = 0;
	}
}

int runner_preflight(const struct scenario_src *src, const struct runner_opts *o, bool print,
		     char *err, size_t errlen)
{
	struct scenario_cfg cfg, worst_cfg = {0};
	struct run_estimate e, worst = {0};
	double messages = 0, events = 0, cap = 0, exch = 0;
	size_t n_points = scenario_n_points(src);
	char a[32], b[32];

	if (scenario_point_cfg(src, 0, &cfg, err, errlen) < 0)
		return COAPSIM_EXIT_USAGE;
	uint32_t reps = o->replications ? o->replications : cfg.replications;
	const char *out = o->out_dir ? o->out_dir : cfg.output.dir;
	char out_copy[SCN_PATH_LEN + 64];
	snprintf(out_copy, sizeof(out_copy), "%s", out);
	scenario_cfg_free(&cfg);
	for (size_t p = 0; p < n_points; p++) {
		if (scenario_point_cfg(src, p, &cfg, err, errlen) < 0) {
			scenario_cfg_free(&worst_cfg);
			return COAPSIM_EXIT_USAGE;
		}
		if (o->no_pcap)
			cfg.output.pcap = false;
		world_estimate(&cfg, &e);
		/* A group whose first message can only come after the traffic
		 * stops sends nothing: say so (once, at point 0). */
		for (size_t g = 0; !p && g < cfg.n_groups; g++) {
			const struct dist *d = &cfg.groups[g].start;
			double lo = d->kind == SIM_DIST_CONST || d->kind == SIM_DIST_UNIFORM ? d->a
				    : d->kind == SIM_DIST_PARETO			 ? d->b
										 : 0;
			if (lo >= (double)cfg.duration && !cfg.groups[g].multicast) {
				char section[SCN_NAME_LEN + 8], msg[SCN_ERR_LEN];
				snprintf(section, sizeof(section), "group.%s", cfg.groups[g].name);
				scenario_key_error(src, section, "start", msg, sizeof(msg),
						   "warning: the first message of [%s] comes at or "
						   "after 'duration' (%gs): the group sends nothing",
						   section, sim_time_to_s(cfg.duration));
				fprintf(stderr, "%s\n", msg);
			}
		}
		messages += e.messages * reps;
		events += e.events * reps;
		cap += e.capture_bytes * reps;
		exch += e.exchanges_bytes * reps;
		if (e.memory > worst.memory || !p) {
			worst = e;
			scenario_cfg_free(&worst_cfg);
			worst_cfg = cfg;
		} else {
			scenario_cfg_free(&cfg);
		}
	}
	double runs = (double)n_points * reps;
	double jobs = o->jobs ? o->jobs : 1;
	jobs = jobs < runs ? jobs : runs;
	/* Per run held by the runner (its slot) and written (runs.csv,
	 * runs.json, summary.json rows); per point, the plot data. */
	double per_run_mem = sizeof(struct run_slot) + 64, per_run_disk = 4000;
	double memory = worst.memory * jobs + runs * per_run_mem;
	double disk = cap + exch + runs * per_run_disk + (double)n_points * 8000;
	double mem_limit = o->max_memory ? (double)o->max_memory : mem_available();
	double disk_limit = o->max_disk ? (double)o->max_disk : disk_free(out_copy);
	if (print) {
		char c[32], d[32];
		printf("estimate: memory %s at the peak (%g run%s at once), disk %s (captures %s, "
		       "exchanges.csv %s), %.3g messages, %.3g events\n",
		       human(memory, a, sizeof(a)), jobs, jobs == 1 ? "" : "s",
		       human(disk, b, sizeof(b)), human(cap, c, sizeof(c)),
		       human(exch, d, sizeof(d)), messages, events);
		printf("limits:   memory %s%s, disk %s%s\n", human(mem_limit, a, sizeof(a)),
		       o->max_memory ? " (--max-memory)" : " available",
		       human(disk_limit, b, sizeof(b)), o->max_disk ? " (--max-disk)" : " free");
	}
	int rc = COAPSIM_EXIT_OK;
	if (mem_limit > 0 && memory > mem_limit) {
		char section[SCN_NAME_LEN + 8];
		if (runs * per_run_mem > worst.memory * jobs)
			scenario_key_error(src, "scenario", "replications", err, errlen,
					   "%.3g runs need about %s of memory; %s %s "
					   "(--max-memory to raise the limit)",
					   runs, human(memory, a, sizeof(a)),
					   human(mem_limit, b, sizeof(b)),
					   o->max_memory ? "allowed" : "available");
		else {
			snprintf(section, sizeof(section), "group.%s",
				 worst_cfg.groups[worst.mem_group].name);
			scenario_key_error(src, section, "count", err, errlen,
					   "a run needs about %s of memory (%g at once), most of it "
					   "for the %u endpoints of [%s]; %s %s (--max-memory to "
					   "raise the limit)",
					   human(memory, a, sizeof(a)), jobs,
					   worst_cfg.groups[worst.mem_group].count, section,
					   human(mem_limit, b, sizeof(b)),
					   o->max_memory ? "allowed" : "available");
		}
		rc = COAPSIM_EXIT_USAGE;
	} else if (disk_limit > 0 && disk > disk_limit) {
		char section[SCN_NAME_LEN + 8];
		snprintf(section, sizeof(section), "group.%s", worst_cfg.groups[worst.msg_group].name);
		if (cap >= exch && cap >= runs * per_run_disk)
			scenario_key_error(src, section, "traffic", err, errlen,
					   "the captures of %.3g messages need about %s of disk; %s %s "
					   "(set [output] pcap = no, or --max-disk)",
					   messages, human(cap, a, sizeof(a)),
					   human(disk_limit, b, sizeof(b)),
					   o->max_disk ? "allowed" : "free");
		else if (exch >= runs * per_run_disk)
			scenario_key_error(src, "output", "exchanges", err, errlen,
					   "exchanges.csv for %.3g messages needs about %s of disk; "
					   "%s %s (--max-disk to raise the limit)",
					   messages, human(exch, a, sizeof(a)),
					   human(disk_limit, b, sizeof(b)),
					   o->max_disk ? "allowed" : "free");
		else
			scenario_key_error(src, "scenario", "replications", err, errlen,
					   "the results of %.3g runs need about %s of disk; %s %s "
					   "(--max-disk to raise the limit)",
					   runs, human(disk, a, sizeof(a)),
					   human(disk_limit, b, sizeof(b)),
					   o->max_disk ? "allowed" : "free");
		rc = COAPSIM_EXIT_USAGE;
	}
	scenario_cfg_free(&worst_cfg);
	return rc;
}

static int run_matrix(const struct scenario_src *src, const struct runner_opts *o,
		      runner_done_fn on_point, void *ud, bool *announced);

/* With MPI, ranks other than 0 run what rank 0 hands out; rank 0 runs the
 * matrix and tells them first whether it starts (runner_dist.c). */
int runner_run(const struct scenario_src *src, const struct runner_opts *o,
	       runner_done_fn on_point, void *ud)
{
	if (cluster_active() && cluster_rank() > 0)
		return runner_remote(src, o);
	bool announced = false;
	int rc = run_matrix(src, o, on_point, ud, &announced);
	if (!announced)
		runner_announce(NULL, false);
	return rc;
}

static int run_matrix(const struct scenario_src *src, const struct runner_opts *o,
		      runner_done_fn on_point, void *ud, bool *announced)
{
	struct runner r = {.src = src, .o = o, .on_point = on_point, .ud = ud};
	struct scenario_cfg cfg;
	char err[RUN_PATH + 512], path[RUN_PATH];
	int status = COAPSIM_EXIT_OK;

	if (scenario_point_cfg(src, 0, &cfg, err, sizeof(err)) < 0) {
		fprintf(stderr, "coapsim: %s\n", err);
		return COAPSIM_EXIT_RUN;
	}
	int pre = runner_preflight(src, o, false, err, sizeof(err));
	if (pre != COAPSIM_EXIT_OK) {
		fprintf(stderr, "%s\n", err);
		scenario_cfg_free(&cfg);
		return pre;
	}
	if (cfg.backend == BACKEND_LIVE && cluster_active()) {
		/* Every rank loads the target with a slice of the fleet. */
		const char *why = NULL;
		for (size_t g = 0; g < cfg.n_groups; g++)
			if (cfg.groups[g].count < (uint32_t)cluster_size())
				why = "every group needs at least one endpoint a rank";
		if (cfg.live.transport == LIVE_TUN)
			why = "the tun transport is one host's (a device and its routes): "
			      "use live.transport = udp, or run without mpirun";
		if (why) {
			fprintf(stderr, "coapsim: %s: a live run over %d MPI ranks: %s\n", cfg.file,
				cluster_size(), why);
			scenario_cfg_free(&cfg);
			return COAPSIM_EXIT_USAGE;
		}
		r.split = true;
		r.split_ticks = !o->quiet;
	}
	const struct backend_ops *bo = backend_lookup(cfg.backend);
	if (!bo) {
		fprintf(stderr, "coapsim: %s: backend '%s' is not built into this coapsim; %s\n",
			cfg.file, backend_name(cfg.backend), backend_missing_hint(cfg.backend));
		scenario_cfg_free(&cfg);
		return COAPSIM_EXIT_RUN;
	}
	r.n_points = scenario_n_points(src);
	r.reps = o->replications ? o->replications : cfg.replications;
	uint64_t base = o->have_seed ? o->seed : cfg.seed;
	const char *final_out = o->out_dir ? o->out_dir : cfg.output.dir;
	/* A link to a results folder: the folder it names is the one replaced
	 * (and locked), the link stays. */
	char resolved[PATH_MAX];
	struct stat lsb;
	if (lstat(final_out, &lsb) == 0 && S_ISLNK(lsb.st_mode) && realpath(final_out, resolved))
		final_out = resolved;
	r.pcap = cfg.output.pcap && !o->no_pcap;
	/* A capture folder inside the results folder is written inside its
	 * staging folder, at the same place: published with it, not before
	 * it (publishing the results would then remove it). */
	size_t fo = strlen(final_out);
	while (fo > 1 && final_out[fo - 1] == '/')
		fo--;
	const char *pcap_rel = !o->out_dir && !strncmp(cfg.output.pcap_dir, final_out, fo) &&
				       cfg.output.pcap_dir[fo] == '/'
				   ? cfg.output.pcap_dir + fo + 1
				   : NULL;
	/* Everything goes to a staging folder beside the target, published
	 * whole when complete: a failed or interrupted run leaves the
	 * previous results as they were, and nothing stale survives into a
	 * new set.  A second run into the same folder is refused at once. */
	const char *refuse = !replaceable(final_out, false) ? final_out
			     : r.pcap && !o->out_dir && !pcap_rel &&
					   !replaceable(cfg.output.pcap_dir, true)
				 ? cfg.output.pcap_dir
				 : NULL;
	if (refuse) {
		fprintf(stderr, "coapsim: %s exists and is not a coapsim %s folder; a run "
			"replaces its folder whole: choose another one\n", refuse,
			refuse == final_out ? "results" : "capture");
		scenario_cfg_free(&cfg);
		return COAPSIM_EXIT_USAGE;
	}
	int src_rc = fs_stage_begin(&r.out_st, final_out, err, sizeof(err));
	if (src_rc < 0) {
		fprintf(stderr, "coapsim: %s\n", err);
		scenario_cfg_free(&cfg);
		return COAPSIM_EXIT_RUN;
	}
	snprintf(r.out_dir, sizeof(r.out_dir), "%s", r.out_st.part);
	if (o->out_dir || !r.pcap || pcap_rel) {
		snprintf(r.pcap_dir, sizeof(r.pcap_dir), "%s/%s", r.out_dir,
			 pcap_rel ? pcap_rel : "pcap");
	} else {
		if (fs_stage_begin(&r.pcap_st, cfg.output.pcap_dir, err, sizeof(err)) < 0) {
			fprintf(stderr, "coapsim: %s\n", err);
			fs_stage_abort(&r.out_st);
			scenario_cfg_free(&cfg);
			return COAPSIM_EXIT_RUN;
		}
		r.pcap_staged = true;
		snprintf(r.pcap_dir, sizeof(r.pcap_dir), "%s", r.pcap_st.part);
	}
	r.exchanges = cfg.output.exchanges;
	r.xlabel_numeric = scenario_n_params(src) > 0;
	sim_time per_run = cfg.duration;
	scenario_cfg_free(&cfg);

	snprintf(path, sizeof(path), "%s/data", r.out_dir);
	if (fs_mkdir_p(r.out_dir, err, sizeof(err)) < 0 ||
	    fs_mkdir_p(path, err, sizeof(err)) < 0) {
		fprintf(stderr, "coapsim: %s\n", err);
		fs_stage_abort(&r.out_st);
		if (r.pcap_staged)
			fs_stage_abort(&r.pcap_st);
		return COAPSIM_EXIT_RUN;
	}
	r.n_runs = r.n_points * r.reps;
	r.runs = calloc(r.n_runs, sizeof(*r.runs));
	r.rows = calloc(r.n_points, sizeof(*r.rows));
	r.runs_csv = open_tmp(&r, "runs.csv");
	r.runs_json = open_tmp(&r, "runs.json");
	r.points_json = open_tmp(&r, "points.json");
	r.points_csv = open_tmp(&r, "points.csv");
	r.exch = r.exchanges ? open_tmp(&r, "exchanges.csv") : NULL;
	if (!r.runs || !r.rows || !r.runs_csv || !r.runs_json || !r.points_json ||
	    !r.points_csv || (r.exchanges && !r.exch)) {
		fprintf(stderr, "coapsim: %s: cannot write results: %s\n", r.out_dir,
			strerror(errno));
		status = COAPSIM_EXIT_RUN;
		goto cleanup;
	}
	fputs("point,x,label", r.points_csv);
	for (size_t c = 0; c < 7; c++)
		fprintf(r.points_csv, ",%s,%s_ci95", plot_cols[c], plot_cols[c]);
	fputs(",series\n", r.points_csv);
	if (r.exch)
		fprintf(r.exch, "%s\n", world_exchanges_header);
	for (size_t p = 0, k = 0; p < r.n_points; p++)
		for (uint32_t rep = 0; rep < r.reps; rep++, k++) {
			struct run_slot *s = &r.runs[k];
			s->point = p;
			s->rep = rep;
			s->seed = base + rep;
			snprintf(s->id, sizeof(s->id), "p%zu-r%u", p, rep);
		}
	int jrc = runner_journal_open(&r, r.out_st.final, o->resume, err, sizeof(err));
	if (jrc < 0) {
		fprintf(stderr, "coapsim: %s\n", err);
		status = jrc == SIM_ERR_INVAL ? COAPSIM_EXIT_USAGE : COAPSIM_EXIT_RUN;
		goto cleanup;
	}

	struct sigaction sa = {.sa_handler = on_signal}, old_int, old_term;
	sigemptyset(&sa.sa_mask);
	atomic_store(&runner_stop, 0);
	sigaction(SIGINT, &sa, &old_int);
	sigaction(SIGTERM, &sa, &old_term);
	unsigned jobs = o->jobs ? o->jobs : 1;
	if (bo->one_at_a_time)
		jobs = 1; /* e.g. ns-3: one simulator per process, runs take turns */
	if (jobs > r.n_runs)
		jobs = (unsigned)r.n_runs;
	r.ranks = cluster_active() ? cluster_size() : 1;
	r.window = 4 * (size_t)jobs * (size_t)r.ranks + 4;
	pthread_mutex_init(&r.mu, NULL);
	pthread_cond_init(&r.cv, NULL);
	runner_announce(&r, true);
	*announced = true;
	if (r.ranks > 1 && !r.split && pthread_create(&r.dispatcher, NULL, runner_dispatch, &r) == 0)
		r.dispatching = true;
	pthread_t *th = calloc(jobs, sizeof(*th));
	bool tty = !o->quiet && isatty(STDERR_FILENO);
	double t0 = now_s(), last_bar = 0;
	unsigned started = 0;
	for (; th && started < jobs; started++)
		if (pthread_create(&th[started], NULL, worker, &r) != 0)
			break;
	if (started == 0)
		worker(&r); /* no threads at all: run in this one */

	/* Emit runs in order as they finish. */
	for (size_t k = 0; k < r.n_runs && status == COAPSIM_EXIT_OK; k++) {
		struct run_slot *s = &r.runs[k];
		pthread_mutex_lock(&r.mu);
		while (!atomic_load(&s->done) && !atomic_load(&r.failed) &&
		       !atomic_load(&runner_stop)) {
			struct timespec ts;
			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_nsec += 200 * 1000 * 1000;
			if (ts.tv_nsec >= 1000000000) {
				ts.tv_sec++;
				ts.tv_nsec -= 1000000000;
			}
			pthread_cond_timedwait(&r.cv, &r.mu, &ts);
			if (tty && now_s() - last_bar > 0.2) {
				pthread_mutex_unlock(&r.mu);
				progress(&r, per_run, now_s() - t0, false);
				last_bar = now_s();
				pthread_mutex_lock(&r.mu);
			}
		}
		pthread_mutex_unlock(&r.mu);
		if (atomic_load(&runner_stop)) {
			status = atomic_load(&runner_stop) == SIGINT ? 130 : 143;
			break;
		}
		if (!atomic_load(&s->done) || s->rc < 0) {
			/* this run or an earlier-started one failed */
			for (size_t i = k; i < r.n_runs; i++)
				if (atomic_load(&r.runs[i].done) && r.runs[i].rc < 0) {
					s = &r.runs[i];
					break;
				}
			fprintf(stderr, "coapsim: %s\n", s->err ? s->err : sim_strerror(s->rc));
			status = COAPSIM_EXIT_RUN;
			break;
		}
		if (runner_journal_record(&r, s, k, err, sizeof(err)) < 0 ||
		    emit(&r, s, err, sizeof(err)) < 0) {
			fprintf(stderr, "coapsim: %s\n", err);
			status = COAPSIM_EXIT_RUN;
		}
		run_result_free(s->res);
		free(s->res);
		s->res = NULL;
		pthread_mutex_lock(&r.mu);
		r.emitted++;
		pthread_cond_broadcast(&r.cv);
		pthread_mutex_unlock(&r.mu);
	}
	if (status != COAPSIM_EXIT_OK) {
		pthread_mutex_lock(&r.mu);
		atomic_store(&r.failed, 1);
		pthread_cond_broadcast(&r.cv);
		pthread_mutex_unlock(&r.mu);
	}
	for (unsigned i = 0; i < started; i++)
		pthread_join(th[i], NULL);
	if (r.dispatching)
		pthread_join(r.dispatcher, NULL); /* the other ranks have stopped */
	if (r.split)
		runner_split_stop(); /* the other ranks wait for a run or this */
	free(th);
	pthread_cond_destroy(&r.cv);
	pthread_mutex_destroy(&r.mu);
	if (tty)
		progress(&r, per_run, now_s() - t0, true);

	if (status == COAPSIM_EXIT_OK) {
		if (write_effective(&r, err, sizeof(err)) < 0 ||
		    write_json(&r, "data/report.json", false, err, sizeof(err)) < 0 ||
		    write_json(&r, "summary.json", true, err, sizeof(err)) < 0 ||
		    commit_tmp(&r, &r.runs_csv, "runs.csv", "runs.csv", err, sizeof(err)) < 0 ||
		    commit_tmp(&r, &r.points_csv, "points.csv", "data/points.csv", err,
			       sizeof(err)) < 0 ||
		    (r.exch && commit_tmp(&r, &r.exch, "exchanges.csv", "exchanges.csv", err,
					  sizeof(err)) < 0) ||
		    report_build(r.out_dir, err, sizeof(err)) < 0) {
			fprintf(stderr, "coapsim: %s\n", err);
			status = COAPSIM_EXIT_RUN;
		}
	}
	if (status == COAPSIM_EXIT_OK && atomic_load(&runner_stop))
		status = atomic_load(&runner_stop) == SIGINT ? 130 : 143;
	if (status == COAPSIM_EXIT_OK) {
		/* Results and captures together: both new, or both as they were. */
		struct fs_stage *both[2] = {&r.out_st, &r.pcap_st};
		if (fs_stage_publish(both, r.pcap_staged ? 2 : 1, err, sizeof(err)) < 0) {
			fprintf(stderr, "coapsim: %s\n", err);
			status = COAPSIM_EXIT_RUN;
		}
		r.pcap_staged = false;
		snprintf(r.out_dir, sizeof(r.out_dir), "%s", r.out_st.final);
		if (status == COAPSIM_EXIT_OK)
			runner_journal_done(&r);
	}
	if (status == 130 || status == 143)
		fprintf(stderr, "coapsim: stopped by %s: no results written (%s is as it was)\n",
			status == 130 ? "SIGINT" : "SIGTERM", r.out_st.final);
	if (status == COAPSIM_EXIT_OK && r.cb_status != COAPSIM_EXIT_OK)
		status = r.cb_status;
	if (status == COAPSIM_EXIT_OK && !o->quiet && !o->no_table) {
		print_table(&r);
		printf("results: %s/summary.json\nreport:  %s/report.html\n", r.out_dir,
		       r.out_dir);
	}
	sigaction(SIGINT, &old_int, NULL);
	sigaction(SIGTERM, &old_term, NULL);
	/* A signal that came after the runs ended (publishing, the table) is
	 * not swallowed: the results stand, and the process stops as asked. */
	if (status == COAPSIM_EXIT_OK && atomic_load(&runner_stop))
		raise(atomic_load(&runner_stop));
cleanup:
	/* Leave nothing half-done behind. */
	drop_tmp(&r, &r.runs_csv, "runs.csv");
	drop_tmp(&r, &r.points_csv, "points.csv");
	drop_tmp(&r, &r.runs_json, "runs.json");
	drop_tmp(&r, &r.points_json, "points.json");
	drop_tmp(&r, &r.exch, "exchanges.csv");
	for (size_t i = 0; r.runs && i < r.n_runs; i++) {
		char part[RUN_PATH];
		if (r.exchanges) {
			runner_exchanges_tmp_path(&r, &r.runs[i], part, sizeof(part));
			remove(part);
		}
		if (r.runs[i].res) {
			run_result_free(r.runs[i].res);
			free(r.runs[i].res);
		}
		free(r.runs[i].err);
		json_decref(r.runs[i].ranks);
	}
	free(r.acc.vals);
	free(r.acc.nulls);
	free(r.runs);
	free(r.rows);
	json_decref(r.untrusted);
	if (status != COAPSIM_EXIT_OK && status != COAPSIM_EXIT_EXPECT) {
		fs_stage_abort(&r.out_st);
		if (r.pcap_staged)
			fs_stage_abort(&r.pcap_st);
	}
	return status;
}
