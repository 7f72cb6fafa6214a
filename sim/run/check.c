/* coapsim check: expectations and baselines evaluated over a run matrix,
 * the table and the JUnit file.  Knows results, not how they were made. */
#include "check.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "../core/fsutil.h"
#include "../scenario/units.h"

struct check_case {
	char suite[SCN_NAME_LEN];
	char name[512];
	char msg[640];
	bool pass;
};

struct check_suite {
	struct check_opts o;
	struct check_case *cases;
	size_t n, cap;
	json_t *baseline;
	bool oom;
};

struct check_suite *check_suite_new(const struct check_opts *o)
{
	struct check_suite *s = calloc(1, sizeof(*s));
	if (s)
		s->o = *o;
	return s;
}

void check_suite_del(struct check_suite *s)
{
	if (!s)
		return;
	json_decref(s->baseline);
	free(s->cases);
	free(s);
}

static void add_case(struct check_suite *s, const char *suite, const char *name,
		     bool pass, const char *msg)
{
	if (s->n == s->cap) {
		size_t nc = s->cap ? 2 * s->cap : 64;
		struct check_case *c = realloc(s->cases, nc * sizeof(*c));
		if (!c) {
			s->oom = true;
			return;
		}
		s->cases = c;
		s->cap = nc;
	}
	struct check_case *c = &s->cases[s->n++];
	snprintf(c->suite, sizeof(c->suite), "%s", suite);
	snprintf(c->name, sizeof(c->name), "%s", name);
	snprintf(c->msg, sizeof(c->msg), "%s", msg);
	c->pass = pass;
	if (!s->o.tap)
		printf("%s %s: %s: %s\n", pass ? "PASS" : "FAIL", suite, name, msg);
}

/* ---------------------------------------------------------------- names */

static size_t metric_names(const char *names[METRIC_FIELDS_MAX])
{
	struct run_metrics m = {0};
	struct metric_field f[METRIC_FIELDS_MAX];
	size_t n = metric_fields(&m, true, f);
	for (size_t i = 0; i < n; i++)
		names[i] = f[i].name;
	return n;
}

/* Split "group.NAME.metric" into group and metric; plain names have no group. */
static const char *split_metric(const char *full, char *group, size_t glen)
{
	group[0] = 0;
	if (strncmp(full, "group.", 6))
		return full;
	const char *name = full + 6, *dot = strchr(name, '.');
	if (!dot)
		return NULL;
	snprintf(group, glen, "%.*s", (int)(dot - name), name);
	return dot + 1;
}

int check_validate(const struct scenario_src *src)
{
	struct scenario_cfg cfg;
	char err[SCN_ERR_LEN];
	const char *names[METRIC_FIELDS_MAX];
	size_t nn = metric_names(names);
	int rc = COAPSIM_EXIT_OK;

	if (scenario_point_cfg(src, 0, &cfg, err, sizeof(err)) < 0) {
		fprintf(stderr, "%s\n", err);
		return COAPSIM_EXIT_RUN;
	}
	for (size_t i = 0; i < cfg.n_expect && rc == COAPSIM_EXIT_OK; i++) {
		const struct expect_cfg *x = &cfg.expect[i];
		char group[SCN_NAME_LEN], dym[128] = "";
		const char *metric = split_metric(x->metric, group, sizeof(group));
		bool known = false;

		if (group[0]) {
			const char *gn[SIM_MAX_GROUPS];
			bool found = false;
			for (size_t g = 0; g < cfg.n_groups; g++) {
				gn[g] = cfg.groups[g].name;
				found |= !strcmp(gn[g], group);
			}
			if (!found) {
				const char *sug = scenario_suggest(group, gn, cfg.n_groups);
				if (sug)
					snprintf(dym, sizeof(dym), " (did you mean '%s'?)", sug);
				fprintf(stderr, "%s:%d: unknown group '%s' in [expect] '%s'%s\n",
					cfg.file, x->line, group, x->metric, dym);
				rc = COAPSIM_EXIT_USAGE;
				break;
			}
		}
		for (size_t k = 0; metric && k < nn; k++)
			known |= !strcmp(names[k], metric);
		if (!known) {
			const char *sug = metric ? scenario_suggest(metric, names, nn) : NULL;
			if (sug)
				snprintf(dym, sizeof(dym), " (did you mean '%s%s%s'?)",
					 group[0] ? "group." : "", group[0] ? group : "", sug);
			if (sug && group[0]) /* "group.NAME" + ".metric" */
				snprintf(dym, sizeof(dym), " (did you mean 'group.%s.%s'?)",
					 group, sug);
			fprintf(stderr, "%s:%d: unknown metric '%s' in [expect]%s\n", cfg.file,
				x->line, x->metric, dym);
			rc = COAPSIM_EXIT_USAGE;
		}
	}
	scenario_cfg_free(&cfg);
	return rc;
}

/* ---------------------------------------------------------------- stats */

struct sample {
	unsigned n;
	double mean, sd, ci95;
};

static void describe(const double *v, const bool *nul, uint32_t k, struct sample *s)
{
	double sum = 0, ss = 0;
	s->n = 0;
	for (uint32_t i = 0; i < k; i++)
		if (!nul[i]) {
			sum += v[i];
			s->n++;
		}
	s->mean = s->n ? sum / s->n : NAN;
	for (uint32_t i = 0; i < k; i++)
		if (!nul[i])
			ss += (v[i] - s->mean) * (v[i] - s->mean);
	s->sd = s->n >= 2 ? sqrt(ss / (s->n - 1)) : 0;
	s->ci95 = s->n >= 2 ? student_t95(s->n - 1) * s->sd / sqrt(s->n) : 0;
}

bool welch_t(const double *a, size_t na, const double *b, size_t nb, double *t,
	     double *df)
{
	double ma = 0, mb = 0, va = 0, vb = 0;
	if (na < 2 || nb < 2)
		return false;
	for (size_t i = 0; i < na; i++)
		ma += a[i];
	for (size_t i = 0; i < nb; i++)
		mb += b[i];
	ma /= (double)na;
	mb /= (double)nb;
	for (size_t i = 0; i < na; i++)
		va += (a[i] - ma) * (a[i] - ma);
	for (size_t i = 0; i < nb; i++)
		vb += (b[i] - mb) * (b[i] - mb);
	va /= (double)(na - 1);
	vb /= (double)(nb - 1);
	double sa = va / (double)na, sb = vb / (double)nb;
	if (sa + sb <= 0)
		return false;
	*t = (ma - mb) / sqrt(sa + sb);
	/* Welch-Satterthwaite */
	*df = (sa + sb) * (sa + sb) /
	      (sa * sa / (double)(na - 1) + sb * sb / (double)(nb - 1));
	return true;
}

static const char *op_str(enum expect_op op)
{
	switch (op) {
	case EXPECT_LT: return "<";
	case EXPECT_LE: return "<=";
	case EXPECT_GT: return ">";
	case EXPECT_GE: return ">=";
	case EXPECT_EQ: return "==";
	}
	return "?";
}

static bool holds(double v, enum expect_op op, double bound)
{
	switch (op) {
	case EXPECT_LT: return v < bound;
	case EXPECT_LE: return v <= bound;
	case EXPECT_GT: return v > bound;
	case EXPECT_GE: return v >= bound;
	case EXPECT_EQ: return v == bound;
	}
	return false;
}

/* ---------------------------------------------------------------- runs */

struct eval_ctx {
	struct check_suite *s;
	const struct scenario_src *src;
	struct scenario_cfg cfg;
};

static void point_label(const struct scenario_src *src, size_t p, char *buf, size_t len)
{
	size_t n = (size_t)snprintf(buf, len, "p%zu", p);
	for (size_t i = 0; i < scenario_n_params(src) && n < len; i++)
		n += (size_t)snprintf(buf + n, len - n, "%s%s=%s", i ? " " : " [",
				      scenario_param_key(src, i),
				      scenario_param_value(src, p, i));
	if (scenario_n_params(src) && n < len)
		snprintf(buf + n, len - n, "]");
}

static int eval_expect(struct eval_ctx *c, const struct runner_view *v, size_t p,
		       const struct expect_cfg *x, double *vals, bool *nul)
{
	uint32_t reps = runner_view_reps(v);
	char group[SCN_NAME_LEN], label[256], name[512], msg[640];
	const char *metric = split_metric(x->metric, group, sizeof(group));
	struct sample sm;

	point_label(c->src, p, label, sizeof(label));
	snprintf(name, sizeof(name), "%s %s %s %s", label, x->metric, op_str(x->op), x->text);
	if (!metric || runner_view_values(v, p, group[0] ? group : NULL, metric, vals,
					  nul) < 0) {
		add_case(c->s, c->cfg.name, name, false, "no such metric");
		return 0;
	}
	describe(vals, nul, reps, &sm);
	const char *unit = strstr(metric, "_ms") ? " ms" : "";
	if (sm.n == 0) {
		add_case(c->s, c->cfg.name, name, false,
			 "not measured (null: the metric does not apply to this run)");
		return 0;
	}
	if (sm.n == 1) {
		bool ok = holds(sm.mean, x->op, x->value);
		snprintf(msg, sizeof(msg), "measured %.6g%s (single run, no interval), bound %s %.6g%s",
			 sm.mean, unit, op_str(x->op), x->value, unit);
		add_case(c->s, c->cfg.name, name, ok, msg);
		return 0;
	}
	/* With replications the verdict uses the end of the 95% confidence
	 * interval that is hardest on the expectation, so a lucky mean does
	 * not pass and an unlucky one does not fail. */
	double lo = sm.mean - sm.ci95, hi = sm.mean + sm.ci95, used;
	const char *which;
	bool ok;
	switch (x->op) {
	case EXPECT_GT: case EXPECT_GE:
		used = lo;
		which = "lower";
		ok = holds(lo, x->op, x->value);
		break;
	case EXPECT_LT: case EXPECT_LE:
		used = hi;
		which = "upper";
		ok = holds(hi, x->op, x->value);
		break;
	default:
		used = x->value;
		which = "interval contains the value:";
		ok = lo <= x->value && x->value <= hi;
		break;
	}
	if (x->op == EXPECT_EQ)
		snprintf(msg, sizeof(msg),
			 "measured %.6g%s, 95%% CI [%.6g, %.6g] over %u runs; %s %s",
			 sm.mean, unit, lo, hi, sm.n, which, ok ? "yes" : "no");
	else
		snprintf(msg, sizeof(msg),
			 "measured %.6g%s, 95%% CI [%.6g, %.6g] over %u runs; %s bound %.6g "
			 "compared: %s %.6g%s",
			 sm.mean, unit, lo, hi, sm.n, which, used, op_str(x->op), x->value,
			 unit);
	add_case(c->s, c->cfg.name, name, ok, msg);
	return 0;
}

/* Metrics compared with a baseline (the rows of metrics_table.h that say
 * so, in their order), and which direction is better. */
struct quality {
	char name[64];
	int better; /* +1 higher is better, -1 lower is better */
};

static size_t quality_metrics(struct quality q[METRIC_FIELDS_MAX])
{
	size_t n = 0;
	for (size_t i = 0; i < metric_table_len; i++) {
		const struct metric_info *r = &metric_table[i];
		int better = r->better == METRIC_HIGHER ? +1 : r->better == METRIC_LOWER ? -1 : 0;
		if (!better || !r->baseline)
			continue;
		if (r->kind != METRIC_LAT) {
			snprintf(q[n].name, sizeof(q[n].name), "%s", r->name);
			q[n++].better = better;
			continue;
		}
		for (int s = 0; s < METRIC_N_STATS; s++) {
			if (!(r->baseline & 1u << s))
				continue;
			snprintf(q[n].name, sizeof(q[n].name), "%s.%s", r->name,
				 metric_stat_names[s]);
			q[n++].better = better;
		}
	}
	return n;
}

static json_t *json_path(json_t *o, const char *name)
{
	char buf[128];
	snprintf(buf, sizeof(buf), "%.127s", name);
	for (char *tok = strtok(buf, "."); tok && o; tok = strtok(NULL, "."))
		o = json_object_get(o, tok);
	return o;
}

/* summary.json keeps 12 significant digits (runner.c writes its runs with
 * JSON_REAL_PRECISION(12)): a value of this run, rounded the same way,
 * equals the baseline's when the runs were the same. */
static double as_stored(double v)
{
	char buf[32];
	snprintf(buf, sizeof(buf), "%.12g", v);
	return strtod(buf, NULL);
}

/* Every one of n values the same: no variance, whatever rounding says. */
static bool constant(const double *v, size_t n)
{
	for (size_t i = 1; i < n; i++)
		if (v[i] != v[0])
			return false;
	return true;
}

static void eval_baseline(struct eval_ctx *c, const struct runner_view *v, size_t p,
			  double *vals, bool *nul)
{
	json_t *base = c->s->baseline, *bp = NULL, *params = json_object();
	char label[256], name[512], msg[640];
	uint32_t reps = runner_view_reps(v);
	size_t i;
	json_t *pt;

	for (i = 0; i < scenario_n_params(c->src); i++)
		json_object_set_new(params, scenario_param_key(c->src, i),
				    json_string(scenario_param_value(c->src, p, i)));
	json_array_foreach(json_object_get(base, "points"), i, pt)
		if (json_equal(json_object_get(pt, "params"), params))
			bp = pt;
	json_decref(params);
	point_label(c->src, p, label, sizeof(label));
	if (!bp) {
		snprintf(name, sizeof(name), "%s baseline", label);
		add_case(c->s, c->cfg.name, name, false,
			 "the baseline has no point with these parameters");
		return;
	}
	json_int_t bpn = json_integer_value(json_object_get(bp, "point"));
	struct quality quality[METRIC_FIELDS_MAX];
	size_t n_quality = quality_metrics(quality);
	for (size_t q = 0; q < n_quality; q++) {
		double *bv = calloc(json_array_size(json_object_get(base, "runs")) + 1,
				    sizeof(double));
		size_t nb = 0, na = 0, k;
		json_t *run;
		if (!bv) {
			c->s->oom = true;
			return;
		}
		json_array_foreach(json_object_get(base, "runs"), k, run) {
			json_t *val = json_path(json_object_get(run, "metrics"), quality[q].name);
			if (json_integer_value(json_object_get(run, "point")) == bpn &&
			    json_is_number(val))
				bv[nb++] = json_number_value(val);
		}
		if (runner_view_values(v, p, NULL, quality[q].name, vals, nul) < 0 || nb == 0) {
			free(bv);
			continue;
		}
		for (uint32_t r = 0; r < reps; r++)
			if (!nul[r])
				vals[na++] = as_stored(vals[r]);
		if (na == 0) {
			free(bv);
			continue;
		}
		double ma = 0, mb = 0;
		for (size_t r = 0; r < na; r++)
			ma += vals[r];
		for (size_t r = 0; r < nb; r++)
			mb += bv[r];
		ma /= (double)na;
		mb /= (double)nb;
		/* The same value in every run on both sides: the values themselves
		 * are compared (equal is unchanged, else a change the tolerance
		 * judges); Welch's test only where there is variance. */
		bool few = na < 2 || nb < 2, flat = !few && constant(vals, na) &&
						       constant(bv, nb);
		if (flat) {
			ma = vals[0];
			mb = bv[0];
		}
		double diff = ma - mb;
		double rel = fabs(diff) / (fabs(mb) > 1e-12 ? fabs(mb) : 1e-12);
		double pct = 100 * diff / (mb != 0 ? fabs(mb) : 1);
		double t = 0, df = 0;
		bool tested = !few && !flat && welch_t(vals, na, bv, nb, &t, &df);
		bool significant = tested ? fabs(t) > student_t95((unsigned)floor(df))
					  : diff != 0;
		bool worse = diff * quality[q].better < 0;
		bool fail = significant && worse && rel > c->cfg.baseline_tolerance;
		snprintf(name, sizeof(name), "%s baseline %.63s", label, quality[q].name);
		if (tested)
			snprintf(msg, sizeof(msg),
				 "%.6g now vs %.6g in the baseline (%+.2f%%); Welch t = %.2f, "
				 "df = %.1f: %s; tolerance %.3g%%",
				 ma, mb, pct, t, df,
				 significant ? "significant at 95%" : "not significant",
				 100 * c->cfg.baseline_tolerance);
		else if (few)
			snprintf(msg, sizeof(msg),
				 "%.6g now vs %.6g in the baseline (%+.2f%%); %zu run%s now, %zu "
				 "in the baseline: fewer than 2 on a side, tolerance %.3g%% "
				 "alone decides",
				 ma, mb, pct, na, na == 1 ? "" : "s", nb,
				 100 * c->cfg.baseline_tolerance);
		else if (diff == 0)
			snprintf(msg, sizeof(msg),
				 "%.6g now and in the baseline, no variance in %zu and %zu "
				 "runs: unchanged",
				 ma, na, nb);
		else
			snprintf(msg, sizeof(msg),
				 "%.6g now vs %.6g in the baseline (%+.2f%%), no variance in %zu "
				 "and %zu runs: a change, tolerance %.3g%% decides",
				 ma, mb, pct, na, nb, 100 * c->cfg.baseline_tolerance);
		add_case(c->s, c->cfg.name, name, !fail, msg);
		free(bv);
	}
}

static int on_point(void *ud, const struct runner_view *v)
{
	struct eval_ctx *c = ud;
	uint32_t reps = runner_view_reps(v);
	size_t p = runner_view_point(v);
	double *vals = calloc(reps, sizeof(double));
	bool *nul = calloc(reps, sizeof(bool));

	if (!vals || !nul) {
		free(vals);
		free(nul);
		return COAPSIM_EXIT_RUN;
	}
	if (p == 0 && !c->cfg.n_expect && !c->s->baseline && !c->s->o.tap)
		printf("---- %s: no [expect] section, nothing to check\n", c->cfg.name);
	for (size_t i = 0; i < c->cfg.n_expect; i++)
		eval_expect(c, v, p, &c->cfg.expect[i], vals, nul);
	if (c->s->baseline)
		eval_baseline(c, v, p, vals, nul);
	free(vals);
	free(nul);
	return c->s->oom ? COAPSIM_EXIT_RUN : COAPSIM_EXIT_OK;
}

int check_scenario(struct check_suite *s, const struct scenario_src *src,
		   const struct runner_opts *ro)
{
	struct eval_ctx c = {.s = s, .src = src};
	char err[SCN_ERR_LEN];
	int rc = check_validate(src);

	if (rc != COAPSIM_EXIT_OK)
		return rc;
	if (s->o.baseline && !s->baseline) {
		json_error_t je;
		s->baseline = json_load_file(s->o.baseline, 0, &je);
		if (!s->baseline) {
			fprintf(stderr, "%s:%d: cannot read baseline: %s\n", s->o.baseline,
				je.line, je.text);
			return COAPSIM_EXIT_USAGE;
		}
	}
	if (scenario_point_cfg(src, 0, &c.cfg, err, sizeof(err)) < 0) {
		fprintf(stderr, "%s\n", err);
		return COAPSIM_EXIT_RUN;
	}
	rc = runner_run(src, ro, on_point, &c);
	scenario_cfg_free(&c.cfg);
	return rc;
}

/* ---------------------------------------------------------------- output */


static int write_junit(struct check_suite *s, size_t failures)
{
	char tmp[4096], err[4200];
	FILE *f;

	snprintf(tmp, sizeof(tmp), "%s.tmp", s->o.junit);
	f = fopen(tmp, "w");
	if (!f) {
		fprintf(stderr, "coapsim: %s: cannot write: %s\n", s->o.junit, strerror(errno));
		return COAPSIM_EXIT_RUN;
	}
	fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
	fprintf(f, "<testsuites name=\"coapsim check\" tests=\"%zu\" failures=\"%zu\">\n",
		s->n, failures);
	for (size_t i = 0; i < s->n;) {
		size_t j = i, nf = 0;
		while (j < s->n && !strcmp(s->cases[j].suite, s->cases[i].suite)) {
			nf += !s->cases[j].pass;
			j++;
		}
		fputs("  <testsuite name=\"", f);
		fs_put_markup(f, s->cases[i].suite);
		fprintf(f, "\" tests=\"%zu\" failures=\"%zu\">\n", j - i, nf);
		for (size_t k = i; k < j; k++) {
			const struct check_case *c = &s->cases[k];
			fputs("    <testcase classname=\"coapsim.", f);
			fs_put_markup(f, c->suite);
			fputs("\" name=\"", f);
			fs_put_markup(f, c->name);
			fputs("\">\n", f);
			if (!c->pass) {
				fputs("      <failure message=\"", f);
				fs_put_markup(f, c->msg);
				fputs("\" type=\"expectation\">", f);
				fs_put_markup(f, c->msg);
				fputs("</failure>\n", f);
			} else {
				fputs("      <system-out>", f);
				fs_put_markup(f, c->msg);
				fputs("</system-out>\n", f);
			}
			fputs("    </testcase>\n", f);
		}
		fputs("  </testsuite>\n", f);
		i = j;
	}
	fputs("</testsuites>\n", f);
	if (ferror(f) | (fclose(f) != 0)) {
		fprintf(stderr, "coapsim: %s: cannot write: %s\n", tmp, strerror(errno));
		remove(tmp);
		return COAPSIM_EXIT_RUN;
	}
	if (fs_commit(tmp, s->o.junit, err, sizeof(err)) < 0) {
		fprintf(stderr, "coapsim: %s\n", err);
		return COAPSIM_EXIT_RUN;
	}
	return COAPSIM_EXIT_OK;
}

int check_finish(struct check_suite *s)
{
	size_t failures = 0;
	int rc;

	for (size_t i = 0; i < s->n; i++)
		failures += !s->cases[i].pass;
	if (s->o.tap) {
		printf("TAP version 13\n1..%zu\n", s->n);
		for (size_t i = 0; i < s->n; i++) {
			const struct check_case *c = &s->cases[i];
			printf("%sok %zu - %s: %s\n", c->pass ? "" : "not ", i + 1, c->suite,
			       c->name);
			printf("  ---\n  message: \"%s\"\n  ...\n", c->msg);
		}
	} else {
		printf("%zu expectation%s checked: %zu passed, %zu failed\n", s->n,
		       s->n == 1 ? "" : "s", s->n - failures, failures);
	}
	fflush(stdout);
	if (s->o.junit && (rc = write_junit(s, failures)) != COAPSIM_EXIT_OK)
		return rc;
	return failures ? COAPSIM_EXIT_EXPECT : COAPSIM_EXIT_OK;
}
