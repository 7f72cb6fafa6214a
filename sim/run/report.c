/* Plots (gnuplot) and report.html from a results folder.  Knows the
 * results' files, not the simulator that wrote them. */
#include "report.h"

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <dirent.h>
#include <unistd.h>

#include <jansson.h>

#include "../core/fsutil.h"
#include "../core/sim.h"
#include "../core/version.h"
#include "runner.h"

/* Where the gnuplot scripts are: $COAPSIM_ANALYSIS, next to the binary
 * (build/coapsim -> analysis/), or the current folder.  Returns the folder
 * that holds analysis/ (scripts load "analysis/common.gp"). */
static int find_root(char *root, size_t len)
{
	const char *env = getenv("COAPSIM_ANALYSIS");
	char exe[PATH_MAX], probe[PATH_MAX + 32];
	struct stat st;

	if (env && *env) {
		snprintf(root, len, "%s/..", env);
		return 0;
	}
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n > 0) {
		exe[n] = 0;
		char *d = dirname(exe);
		snprintf(probe, sizeof(probe), "%s/../analysis/common.gp", d);
		if (stat(probe, &st) == 0) {
			snprintf(root, len, "%s/..", d);
			return 0;
		}
	}
	if (stat("analysis/common.gp", &st) == 0) {
		snprintf(root, len, ".");
		return 0;
	}
	return SIM_ERR_NOTFOUND;
}

/* ---------------------------------------------------------------- axes
 *
 * --x KEY and --by KEY[,KEY...] of `coapsim run` and `coapsim plot`.  A
 * key is named in full ("coap.ack_timeout") or by its last part when that
 * is unique ("ack_timeout"). */

static char *opt_x, *opt_by;

void report_set_axes(const char *x, const char *by)
{
	free(opt_x);
	free(opt_by);
	opt_x = x && *x ? strdup(x) : NULL;
	opt_by = by && *by ? strdup(by) : NULL;
}

/* Index of the swept key `name` names, or -1 (none) or -2 (several). */
static int find_key(const char *name, const char *const *keys, size_t n)
{
	int hit = -1;
	size_t len = strlen(name);

	for (size_t i = 0; i < n; i++)
		if (!strcmp(keys[i], name))
			return (int)i;
	for (size_t i = 0; i < n; i++) {
		size_t kl = strlen(keys[i]);
		if (kl > len && keys[i][kl - len - 1] == '.' && !strcmp(keys[i] + kl - len, name)) {
			if (hit >= 0)
				return -2;
			hit = (int)i;
		}
	}
	return hit;
}

static void list_keys(char *buf, size_t len, const char *const *keys, size_t n)
{
	size_t l = 0;
	buf[0] = 0;
	for (size_t i = 0; i < n && l < len; i++)
		l += (size_t)snprintf(buf + l, len - l, "%s%s", i ? ", " : "", keys[i]);
	if (!n)
		snprintf(buf, len, "none");
}

/* Resolve x and by against the swept keys: *x is a key index or -1 (not
 * chosen), by[] the chosen grouping keys (n_by of them). */
static int resolve_axes(const char *xname, const char *byname, const char *const *keys,
			size_t n, int *x, size_t *by, size_t *n_by, char *err, size_t errlen)
{
	char list[1024];

	*x = -1;
	*n_by = 0;
	list_keys(list, sizeof(list), keys, n);
	if (xname) {
		*x = find_key(xname, keys, n);
		if (*x < 0) {
			snprintf(err, errlen, "--x %s: %s swept key (swept: %s)", xname,
				 *x == -2 ? "more than one" : "not a", list);
			return SIM_ERR_INVAL;
		}
	}
	for (const char *s = byname; s && *s;) {
		const char *e = strchr(s, ',');
		size_t l = e ? (size_t)(e - s) : strlen(s);
		char name[256];
		snprintf(name, sizeof(name), "%.*s", (int)(l < 255 ? l : 255), s);
		int k = find_key(name, keys, n);
		if (k < 0) {
			snprintf(err, errlen, "--by %s: %s swept key (swept: %s)", name,
				 k == -2 ? "more than one" : "not a", list);
			return SIM_ERR_INVAL;
		}
		if (k == *x) {
			snprintf(err, errlen, "--by %s: already the x axis (--x)", name);
			return SIM_ERR_INVAL;
		}
		bool dup = false;
		for (size_t i = 0; i < *n_by; i++)
			dup |= by[i] == (size_t)k;
		if (!dup)
			by[(*n_by)++] = (size_t)k;
		s = e ? e + 1 : NULL;
	}
	return 0;
}

int report_check_axes(const char *const *keys, size_t n, char *err, size_t errlen)
{
	int x;
	size_t n_by, *by = calloc(n + 1, sizeof(*by));
	if (!by)
		return SIM_ERR_NOMEM;
	int rc = resolve_axes(opt_x, opt_by, keys, n, &x, by, &n_by, err, errlen);
	free(by);
	return rc;
}

/* ---------------------------------------------------------------- values
 *
 * Swept values are numbers with units as written ("5%", "2s", "250kbps")
 * or words ("coap", "POST", "uniform(0, 20ms)").  A key whose values are
 * all numbers of one kind is drawn on a numeric axis in the unit its
 * values use; any other key as categories, by name. */

enum ufam { U_NONE, U_PCT, U_TIME, U_RATE, U_SIZE, U_CURRENT, U_VOLT, U_CHARGE, U_BRATE };

struct unit_def {
	const char *suffix;
	enum ufam fam;
	double factor; /* to the family's base: %, s, bps, B, mA, V, mAh, B/s */
};

static const struct unit_def unit_defs[] = {
	{"%", U_PCT, 1},	  {"ns", U_TIME, 1e-9},	 {"us", U_TIME, 1e-6},
	{"ms", U_TIME, 1e-3},	  {"s", U_TIME, 1},	 {"min", U_TIME, 60},
	{"h", U_TIME, 3600},	  {"bps", U_RATE, 1},	 {"kbps", U_RATE, 1e3},
	{"Mbps", U_RATE, 1e6},	  {"Gbps", U_RATE, 1e9}, {"B", U_SIZE, 1},
	{"kB", U_SIZE, 1e3},	  {"MB", U_SIZE, 1e6},	 {"GB", U_SIZE, 1e9},
	{"KiB", U_SIZE, 1024.0},  {"MiB", U_SIZE, 1048576.0},
	{"GiB", U_SIZE, 1073741824.0},			 {"mA", U_CURRENT, 1},
	{"uA", U_CURRENT, 1e-3},  {"A", U_CURRENT, 1e3}, {"V", U_VOLT, 1},
	{"mV", U_VOLT, 1e-3},	  {"mAh", U_CHARGE, 1},	 {"Ah", U_CHARGE, 1e3},
	{"B/s", U_BRATE, 1},
};

/* The base unit's name, for a value written without a unit. */
static const char *const fam_base[] = {"", "%", "s", "bps", "B", "mA", "V", "mAh", "B/s"};

/* "12.5ms" -> 12.5 and the unit (NULL: none).  Decimal numbers only. */
static bool parse_value(const char *s, double *v, const struct unit_def **u)
{
	const char *p = s, *q;
	char num[64], *end;

	while (*p == ' ')
		p++;
	for (q = p; *q && strchr("0123456789.eE+-", *q); q++)
		;
	if (q == p || (size_t)(q - p) >= sizeof(num))
		return false;
	memcpy(num, p, (size_t)(q - p));
	num[q - p] = 0;
	*v = strtod(num, &end);
	if (*end || end == num || !isfinite(*v))
		return false;
	while (*q == ' ')
		q++;
	size_t l = strlen(q);
	while (l && q[l - 1] == ' ')
		l--;
	*u = NULL;
	if (!l)
		return true;
	for (size_t i = 0; i < SIM_ARRAY_LEN(unit_defs); i++)
		if (strlen(unit_defs[i].suffix) == l && !strncmp(unit_defs[i].suffix, q, l)) {
			*u = &unit_defs[i];
			return true;
		}
	return false;
}

/* A swept key: its distinct values in the order the sweep first reaches
 * them, and how to draw them. */
struct skey {
	const char *name;
	const char **val;
	double *num;  /* numeric keys: each value in `unit` */
	size_t n;
	bool numeric; /* else categories, by name */
	bool logx;    /* a geometric series over a decade or more */
	char unit[8]; /* "%", "s", "kbps"; "" for plain numbers */
};

static bool ends_with(const char *s, const char *tail)
{
	size_t a = strlen(s), b = strlen(tail);
	return a >= b && !strcmp(s + a - b, tail);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static void classify(struct skey *k)
{
	const struct unit_def **u = calloc(k->n + 1, sizeof(*u)), *first = NULL, *smallest = NULL;
	double *v = calloc(k->n + 1, sizeof(*v));
	enum ufam fam = U_NONE;
	bool same = true, bare = false;

	k->numeric = k->n > 0 && u && v && k->num;
	for (size_t i = 0; k->numeric && i < k->n; i++) {
		if (!parse_value(k->val[i], &v[i], &u[i])) {
			k->numeric = false;
		} else if (u[i]) {
			if (fam != U_NONE && u[i]->fam != fam)
				k->numeric = false;
			fam = u[i]->fam;
			if (first && first != u[i])
				same = false;
			if (!first)
				first = u[i];
			if (!smallest || u[i]->factor < smallest->factor)
				smallest = u[i];
		} else {
			bare = true;
		}
	}
	if (k->numeric) {
		bool prob = fam == U_NONE && (ends_with(k->name, ".loss") ||
					      ends_with(k->name, ".duplicate"));
		for (size_t i = 0; prob && i < k->n; i++)
			prob = v[i] >= 0 && v[i] <= 1;
		/* a bare probability is a fraction; elsewhere a bare number is in
		 * the family's base unit */
		double bare_f = fam == U_PCT || prob ? 100 : 1;
		const struct unit_def *show = same && !bare ? first : smallest;
		for (size_t i = 0; i < k->n; i++)
			k->num[i] = (u[i] ? v[i] * u[i]->factor : v[i] * bare_f) /
				    (show ? show->factor : 1);
		snprintf(k->unit, sizeof(k->unit), "%s",
			 show ? show->suffix : prob ? "%" : fam_base[fam]);
		/* 1, 10, 100 or 1s, 4s, 16s, 64s (a geometric series over a
		 * decade or more): evenly spread on a log axis */
		double *s = v, rmin = INFINITY, rmax = 0;
		memcpy(s, k->num, k->n * sizeof(*s));
		qsort(s, k->n, sizeof(*s), cmp_double);
		k->logx = k->n >= 3 && s[0] > 0 && s[k->n - 1] / s[0] >= 10;
		for (size_t i = 1; k->logx && i < k->n; i++) {
			rmin = fmin(rmin, s[i] / s[i - 1]);
			rmax = fmax(rmax, s[i] / s[i - 1]);
		}
		k->logx = k->logx && rmin >= 1.5 && rmax <= 1.5 * rmin;
	}
	free(u);
	free(v);
}

/* ---------------------------------------------------------------- sweep
 *
 * The points of a results folder, the key along x and the keys whose
 * values make the lines (by), each line a colour.  When there are too
 * many lines for one plot, the first by key splits them into panels
 * (small multiples, one per value) and the colours stand for the other
 * by keys, the same in every panel. */

#define MAX_COLOURS 8 /* distinct colours in one plot; more: a gradient */

struct sweep {
	size_t n_pts, n_keys;
	json_t **pt;
	size_t *vi;  /* [p * n_keys + k]: index of the point's value in key[k].val */
	struct skey *key;
	const char **names;
	int x;       /* the key along x, -1 when nothing is swept */
	size_t nx;   /* its values */
	size_t *xrank; /* [value index]: place along x (sorted, or first seen) */
	size_t *by, n_by;
	bool facet;  /* by[0] splits the lines into panels */
	size_t n_lines, n_panels, n_colours;
	size_t *line;     /* [p] */
	size_t *line_pt;  /* [line]: one of its points */
	size_t *panel;    /* [line] */
	size_t *colour;   /* [line] */
	size_t *colour_line; /* [colour]: a line of that colour */
	long reps;
};

static const char *pval(const struct sweep *s, size_t p, size_t k)
{
	return s->key[k].val[s->vi[p * s->n_keys + k]];
}

/* qsort_r context: compare points by their values of by[from..n_by). */
struct by_cmp {
	const struct sweep *s;
	size_t from;
};

static int cmp_by(const void *a, const void *b, void *ctx)
{
	const struct by_cmp *c = ctx;
	size_t p = *(const size_t *)a, q = *(const size_t *)b;
	for (size_t i = c->from; i < c->s->n_by; i++) {
		size_t k = c->s->by[i];
		size_t vp = c->s->vi[p * c->s->n_keys + k], vq = c->s->vi[q * c->s->n_keys + k];
		if (vp != vq)
			return vp < vq ? -1 : 1;
	}
	return p < q ? -1 : p > q;
}

/* Number points by their values of by[from..]: id[p], returns how many
 * distinct; rep[id] is one point of each. */
static size_t number_by(const struct sweep *s, size_t from, size_t *id, size_t *rep)
{
	size_t *ord = calloc(s->n_pts, sizeof(*ord)), n = 0;
	struct by_cmp c = {s, from};
	if (!ord)
		return 0;
	for (size_t p = 0; p < s->n_pts; p++)
		ord[p] = p;
	qsort_r(ord, s->n_pts, sizeof(*ord), cmp_by, &c);
	for (size_t i = 0; i < s->n_pts; i++) {
		bool same = false;
		if (i) {
			same = true;
			for (size_t j = from; j < s->n_by; j++)
				same &= s->vi[ord[i] * s->n_keys + s->by[j]] ==
					s->vi[ord[i - 1] * s->n_keys + s->by[j]];
		}
		if (!same) {
			if (rep)
				rep[n] = ord[i];
			n++;
		}
		id[ord[i]] = n - 1;
	}
	free(ord);
	return n;
}

static void sweep_free(struct sweep *s)
{
	for (size_t k = 0; s->key && k < s->n_keys; k++) {
		free(s->key[k].val);
		free(s->key[k].num);
	}
	free(s->key);
	free(s->names);
	free(s->pt);
	free(s->vi);
	free(s->xrank);
	free(s->by);
	free(s->line);
	free(s->line_pt);
	free(s->panel);
	free(s->colour);
	free(s->colour_line);
	memset(s, 0, sizeof(*s));
}

/* The axes: --x/--by when given, else the numeric key with the most values
 * along x (a text key when there is no numeric one) and every other key
 * making the lines. */
static int sweep_axes(struct sweep *s, const char *xname, const char *byname, char *err,
		      size_t errlen)
{
	int rc = resolve_axes(xname, byname, s->names, s->n_keys, &s->x, s->by, &s->n_by, err,
			      errlen);
	if (rc < 0)
		return rc;
	if (s->x < 0) {
		for (int pass = 0; pass < 2 && s->x < 0; pass++)
			for (size_t k = 0; k < s->n_keys; k++) {
				bool used = false;
				for (size_t i = 0; i < s->n_by; i++)
					used |= s->by[i] == k;
				if (used || (pass == 0 && !s->key[k].numeric))
					continue;
				if (s->x < 0 || s->key[k].n > s->key[s->x].n)
					s->x = (int)k;
			}
	}
	for (size_t k = 0; k < s->n_keys; k++) {
		bool used = (int)k == s->x;
		for (size_t i = 0; i < s->n_by; i++)
			used |= s->by[i] == k;
		if (!used)
			s->by[s->n_by++] = k;
	}
	return 0;
}

static int sweep_load(struct sweep *s, json_t *points, const char *xname, const char *byname,
		      char *err, size_t errlen)
{
	json_t *p0 = json_array_get(points, 0), *v;
	const char *k;

	memset(s, 0, sizeof(*s));
	s->x = -1;
	s->n_pts = json_array_size(points);
	if (!s->n_pts) {
		snprintf(err, errlen, "no points");
		return SIM_ERR_INVAL;
	}
	s->n_keys = json_object_size(json_object_get(p0, "params"));
	s->reps = (long)json_integer_value(json_object_get(p0, "replications"));
	s->pt = calloc(s->n_pts, sizeof(*s->pt));
	s->vi = calloc(s->n_pts * (s->n_keys + 1), sizeof(*s->vi));
	s->key = calloc(s->n_keys + 1, sizeof(*s->key));
	s->names = calloc(s->n_keys + 1, sizeof(*s->names));
	s->by = calloc(s->n_keys + 1, sizeof(*s->by));
	s->line = calloc(s->n_pts, sizeof(size_t));
	s->line_pt = calloc(s->n_pts, sizeof(size_t));
	s->panel = calloc(s->n_pts, sizeof(size_t));
	s->colour = calloc(s->n_pts, sizeof(size_t));
	s->colour_line = calloc(s->n_pts, sizeof(size_t));
	if (!s->pt || !s->vi || !s->key || !s->names || !s->by || !s->line || !s->line_pt ||
	    !s->panel || !s->colour || !s->colour_line)
		goto nomem;
	size_t i = 0;
	json_object_foreach(json_object_get(p0, "params"), k, v) {
		s->names[i] = s->key[i].name = k;
		s->key[i].val = calloc(s->n_pts, sizeof(char *));
		s->key[i].num = calloc(s->n_pts, sizeof(double));
		if (!s->key[i].val || !s->key[i].num)
			goto nomem;
		i++;
	}
	for (size_t p = 0; p < s->n_pts; p++) {
		s->pt[p] = json_array_get(points, p);
		json_t *params = json_object_get(s->pt[p], "params");
		for (size_t j = 0; j < s->n_keys; j++) {
			struct skey *key = &s->key[j];
			const char *val = json_string_value(json_object_get(params, key->name));
			size_t at;
			if (!val)
				val = "";
			for (at = 0; at < key->n && strcmp(key->val[at], val); at++)
				;
			if (at == key->n)
				key->val[key->n++] = val;
			s->vi[p * s->n_keys + j] = at;
		}
	}
	for (size_t j = 0; j < s->n_keys; j++)
		classify(&s->key[j]);
	int rc = sweep_axes(s, xname, byname, err, errlen);
	if (rc < 0) {
		sweep_free(s);
		return rc;
	}
	/* places along x: numbers sorted, words as first seen */
	s->nx = s->x >= 0 ? s->key[s->x].n : 1;
	s->xrank = calloc(s->nx, sizeof(*s->xrank));
	if (!s->xrank)
		goto nomem;
	for (size_t a = 0; a < s->nx; a++) {
		s->xrank[a] = a;
		if (s->x >= 0 && s->key[s->x].numeric) {
			const double *num = s->key[s->x].num;
			s->xrank[a] = 0;
			for (size_t b = 0; b < s->nx; b++)
				s->xrank[a] += num[b] < num[a] || (num[b] == num[a] && b < a);
		}
	}
	/* lines; too many for one plot: panels by the by key that leaves at
	 * most MAX_COLOURS lines in each (the one with the fewest values), */
	s->n_lines = number_by(s, 0, s->line, s->line_pt);
	if (s->n_lines > MAX_COLOURS && s->n_by >= 2) {
		size_t best = SIZE_MAX, most = 0;
		for (size_t b = 0; b < s->n_by; b++) {
			size_t nv = s->key[s->by[b]].n, per = (s->n_lines + nv - 1) / nv;
			if (per <= MAX_COLOURS && (best == SIZE_MAX || nv < s->key[s->by[best]].n))
				best = b;
			if (nv > s->key[s->by[most]].n)
				most = b;
		}
		if (best == SIZE_MAX)
			best = most; /* none does: the most panels */
		size_t f = s->by[best];
		memmove(s->by + 1, s->by, best * sizeof(*s->by));
		s->by[0] = f;
		s->facet = true;
		s->n_lines = number_by(s, 0, s->line, s->line_pt);
	}
	if (s->facet) {
		size_t *rest = calloc(s->n_pts, sizeof(*rest));
		if (!rest)
			goto nomem;
		s->n_colours = number_by(s, 1, rest, NULL);
		size_t fk = s->by[0];
		for (size_t l = 0; l < s->n_lines; l++) {
			size_t p = s->line_pt[l];
			s->colour[l] = rest[p];
			s->colour_line[rest[p]] = l;
			/* lines sort by the facet key first: its values are runs */
			s->panel[l] = l == 0 ? 0
				     : s->panel[l - 1] + (s->vi[p * s->n_keys + fk] !=
							  s->vi[s->line_pt[l - 1] * s->n_keys + fk]);
		}
		s->n_panels = s->panel[s->n_lines - 1] + 1;
		free(rest);
	} else {
		for (size_t l = 0; l < s->n_lines; l++) {
			s->colour[l] = l;
			s->colour_line[l] = l;
		}
		s->n_colours = s->n_lines;
		s->n_panels = 1;
	}
	return 0;
nomem:
	sweep_free(s);
	snprintf(err, errlen, "out of memory");
	return SIM_ERR_NOMEM;
}

/* ---------------------------------------------------------------- plot inputs
 *
 * report_build writes what the scripts in analysis/ draw: data/plot-sweep.csv
 * (the sweep metrics, one block per line, bars already clipped) and
 * data/plot-layout.gp (titles, axes, colours, panels and per-point files:
 * every text comes from here, and the scripts draw it literally). */

static double metric(json_t *pt, const char *a, const char *b, double *ci)
{
	json_t *m = json_object_get(json_object_get(pt, "metrics"), a);
	if (b)
		m = json_object_get(m, b);
	json_t *jm = json_object_get(m, "mean"), *jc = json_object_get(m, "ci95");
	if (ci)
		*ci = json_is_number(jc) ? json_number_value(jc) : NAN;
	return json_is_number(jm) ? json_number_value(jm) : NAN;
}

/* The columns of plot-sweep.csv after x: mean, low and high end of each. */
static const char *const sweep_metric[7][2] = {
	{"delivery_ratio", NULL},     {"success_ratio", NULL},
	{"retransmissions_per_message", NULL}, {"energy_mj", "per_message"},
	{"bytes_per_message", NULL},  {"latency_ms", "p50"},
	{"latency_ms", "p99"},
};

enum fig_kind { F_RATIO, F_NONNEG, F_LOG };

struct fig {
	const char *name, *heading, *title, *ylabel;
	int m1, m2;         /* sweep_metric columns; m2 -1: one metric */
	const char *n1, *n2; /* their names in the legend */
	enum fig_kind kind;
	const char *absent; /* what it means when no point has a value */
};

static const struct fig figs[] = {
	{"delivery_ratio", "Delivery and success ratio",
	 "Delivery ratio (delivered / sent) and success ratio (confirmed / sent)",
	 "fraction of messages", 0, 1, "delivery ratio", "success ratio", F_RATIO,
	 "no messages were sent"},
	{"retransmissions", "Retransmissions per message", "Retransmissions per message",
	 "retransmissions per message", 2, -1, NULL, NULL, F_NONNEG, "no messages were sent"},
	{"latency", "Latency percentiles",
	 "Latency from first transmission to confirmation: p50 and p99",
	 "latency (ms, log scale)", 5, 6, "p50 (median)", "p99", F_LOG,
	 "no message was confirmed (CoAP NON, MQTT QoS 0), so there is no latency to "
	 "confirmation"},
	{"energy_per_message", "Energy per delivered message",
	 "Radio energy per delivered message", "energy per delivered message (mJ)", 3, -1,
	 NULL, NULL, F_NONNEG, "no message was delivered or energy was not modelled"},
	{"bytes_per_message", "Bytes per delivered message",
	 "Bytes on the channel per delivered message", "bytes per delivered message (B)", 4,
	 -1, NULL, NULL, F_NONNEG, "no message was delivered"},
};

struct fig_range {
	bool has, clipped;
	double ymin, ymax;
};

static double nice_num(double v, bool up)
{
	static const double m[] = {1, 1.5, 2, 3, 5, 7, 10};
	double e = pow(10, floor(log10(v)));
	if (up) {
		for (size_t i = 0; i < SIM_ARRAY_LEN(m); i++)
			if (m[i] * e >= v * (1 - 1e-12))
				return m[i] * e;
		return 10 * e;
	}
	for (size_t i = SIM_ARRAY_LEN(m); i-- > 0;)
		if (m[i] * e <= v * (1 + 1e-12))
			return m[i] * e;
	return e;
}

/* A point's bar for one metric: mean +- ci95, inside what the metric can
 * be (a ratio in [0, 1], counts >= 0) and, on a log axis, inside the
 * axis, so the lower end stays positive. */
static void bar(const struct fig *f, const struct fig_range *r, double mean, double ci,
		double *lo, double *hi)
{
	*lo = *hi = mean;
	if (isfinite(ci)) {
		*lo = mean - ci;
		*hi = mean + ci;
	}
	if (f->kind == F_RATIO) {
		*lo = *lo < 0 ? 0 : *lo;
		*hi = *hi > 1 ? 1 : *hi;
	}
	if (f->kind == F_NONNEG && *lo < 0)
		*lo = 0;
	if (f->kind == F_LOG && r) {
		*lo = *lo < r->ymin ? r->ymin : *lo;
		*hi = *hi > r->ymax ? r->ymax : *hi;
	}
}

/* Each point's bars of figure f, in turn: returns false at the end. */
static bool next_bar(const struct sweep *s, const struct fig *f, size_t *at, double *mean,
		     double *lo, double *hi)
{
	for (; *at < 2 * s->n_pts; (*at)++) {
		int m = *at % 2 ? f->m2 : f->m1;
		double ci;
		if (m < 0)
			continue;
		*mean = metric(s->pt[*at / 2], sweep_metric[m][0], sweep_metric[m][1], &ci);
		if (!isfinite(*mean) || (f->kind == F_LOG && *mean <= 0))
			continue;
		bar(f, NULL, *mean, ci, lo, hi);
		(*at)++;
		return true;
	}
	return false;
}

static void fig_range(const struct sweep *s, const struct fig *f, struct fig_range *r)
{
	double lo_all = INFINITY, hi_all = -INFINITY, mean, lo, hi;
	size_t at = 0;

	memset(r, 0, sizeof(*r));
	while (next_bar(s, f, &at, &mean, &lo, &hi)) {
		r->has = true;
		/* on a log axis a bar counts for the range up to a factor of 3
		 * from its mean; beyond, the axis cuts it */
		if (f->kind == F_LOG) {
			lo = fmax(lo, mean / 3);
			hi = fmin(hi, mean * 3);
		}
		lo_all = fmin(lo_all, lo);
		hi_all = fmax(hi_all, hi);
	}
	if (!r->has)
		return;
	if (f->kind == F_LOG) {
		r->ymin = nice_num(lo_all / 1.15, false);
		r->ymax = nice_num(hi_all * 1.15, true);
	} else {
		/* a ratio over at least 0.01 (all 1.0 shows as 0.99-1) */
		if (f->kind == F_RATIO && hi_all - lo_all < 0.01)
			lo_all = hi_all - 0.01;
		/* amounts from 0: a small difference looks small */
		if (f->kind == F_NONNEG || lo_all < 0)
			lo_all = fmin(lo_all, 0);
		double span = hi_all - lo_all;
		if (span <= 0)
			span = fabs(hi_all) > 0 ? fabs(hi_all) : 1;
		r->ymin = lo_all == 0 ? 0 : lo_all - 0.06 * span;
		r->ymax = hi_all + 0.06 * span;
		if (f->kind == F_RATIO) /* no tic above 1 */
			r->ymax = fmin(r->ymax, hi_all + 0.01 * span);
	}
	for (at = 0; next_bar(s, f, &at, &mean, &lo, &hi);)
		r->clipped |= lo < r->ymin || hi > r->ymax;
}

/* Text in a gnuplot single-quoted string: no escapes but '' for '. */
static void gp_str(FILE *f, const char *s)
{
	fputc('\'', f);
	for (; *s; s++) {
		if (*s == '\'')
			fputc('\'', f);
		if ((unsigned char)*s >= 32)
			fputc(*s, f);
	}
	fputc('\'', f);
}

static void gp_strs(FILE *f, const char *name, const char *const *v, size_t n)
{
	fprintf(f, "array %s[%zu] = [", name, n ? n : 1);
	for (size_t i = 0; i < n; i++) {
		if (i)
			fputs(", ", f);
		gp_str(f, v[i]);
	}
	fputs(n ? "]\n" : "'']\n", f);
}

static void gp_nums(FILE *f, const char *name, const double *v, size_t n)
{
	fprintf(f, "array %s[%zu] = [", name, n ? n : 1);
	for (size_t i = 0; i < n; i++)
		fprintf(f, "%s%.10g", i ? ", " : "", v[i]);
	fputs(n ? "]\n" : "0]\n", f);
}

/* Keys joined: "link.loss, coap.ack_timeout"; values of point p likewise. */
static void join_keys(const struct sweep *s, size_t from, char *buf, size_t len)
{
	size_t l = 0;
	buf[0] = 0;
	for (size_t i = from; i < s->n_by && l < len; i++)
		l += (size_t)snprintf(buf + l, len - l, "%s%s", i > from ? ", " : "",
				      s->key[s->by[i]].name);
}

static void join_values(const struct sweep *s, size_t p, size_t from, char *buf, size_t len)
{
	size_t l = 0;
	buf[0] = 0;
	for (size_t i = from; i < s->n_by && l < len; i++)
		l += (size_t)snprintf(buf + l, len - l, "%s%s", i > from ? ", " : "",
				      pval(s, p, s->by[i]));
}

/* "link.loss=5% coap.ack_timeout=1s", or "the only point" */
static void point_label(const struct sweep *s, size_t p, char *buf, size_t len)
{
	size_t l = 0;
	buf[0] = 0;
	for (size_t k = 0; k < s->n_keys && l < len; k++)
		l += (size_t)snprintf(buf + l, len - l, "%s%s=%s", k ? " " : "", s->key[k].name,
				      pval(s, p, k));
	if (!s->n_keys)
		snprintf(buf, len, "the only point");
}

static const char *const cat_colour[MAX_COLOURS] = {
	"#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf"};
static const int cat_pt[6] = {7, 5, 9, 11, 13, 15}; /* filled; pt - 1 is the open one */

/* Colour i of n: distinct colours up to MAX_COLOURS, a dark-to-light
 * gradient (in the order of the values) beyond. */
static void colour(size_t i, size_t n, char out[8])
{
	static const double g[4][3] = {
		{0x0d, 0x08, 0x87}, {0x7e, 0x03, 0xa8}, {0xcc, 0x47, 0x78}, {0xf0, 0x90, 0x30}};
	if (n <= MAX_COLOURS) {
		snprintf(out, 8, "%s", cat_colour[i % MAX_COLOURS]);
		return;
	}
	double t = n > 1 ? (double)i / (double)(n - 1) * 3 : 0;
	size_t a = t >= 3 ? 2 : (size_t)t;
	double u = t - (double)a;
	int c[3];
	for (int j = 0; j < 3; j++)
		c[j] = (int)lround(g[a][j] + (g[a + 1][j] - g[a][j]) * u);
	snprintf(out, 8, "#%02x%02x%02x", c[0], c[1], c[2]);
}

/* Figure size and panel places (fractions of the figure) for n panels
 * and a legend of n_leg entries below them, as PRE_w, PRE_h, PRE_ox[]...
 * The legend takes as many columns as its longest entry allows. */
static void geometry(FILE *f, const char *pre, size_t n, size_t n_leg, size_t maxlen,
		     bool key_title, int single_h)
{
	const int w = 900, top = 44;
	int colw = (int)maxlen * 8 + 90; /* gnuplot's own estimate is generous */
	int lcols = colw > 0 ? 860 / colw : 1;
	if (lcols < 1)
		lcols = 1;
	if ((size_t)lcols > n_leg)
		lcols = n_leg ? (int)n_leg : 1;
	int lrows = n_leg ? (int)((n_leg + (size_t)lcols - 1) / (size_t)lcols) : 0;
	int legh = n_leg ? lrows * 19 + (key_title ? 24 : 0) + 16 : 0;
	int cols = n <= 1 ? 1 : n <= 4 ? 2 : 3;
	int rows = (int)((n + (size_t)cols - 1) / (size_t)cols);
	int ph = n <= 1 ? single_h : cols == 2 ? 300 : 260;
	int h = top + rows * ph + legh;
	double ox[n + 1], oy[n + 1], sx[n + 1], sy[n + 1], xl[n + 1], yl[n + 1];

	for (size_t p = 0; p < n; p++) {
		int r = (int)(p / (size_t)cols), c = (int)(p % (size_t)cols);
		ox[p] = (double)c / cols;
		oy[p] = (double)(legh + (rows - 1 - r) * ph) / h;
		sx[p] = 1.0 / cols;
		sy[p] = (double)ph / h;
		xl[p] = p + (size_t)cols >= n; /* nothing below it */
		yl[p] = c == 0;
	}
	fprintf(f, "%s_n = %zu\n%s_w = %d\n%s_h = %d\n%s_legh = %.6f\n%s_legrows = %d\n",
		pre, n, pre, w, pre, h, pre, (double)legh / h, pre, lrows ? lrows : 1);
	char name[32];
	const double *arr[6] = {ox, oy, sx, sy, xl, yl};
	static const char *const what[6] = {"ox", "oy", "sx", "sy", "xl", "yl"};
	for (int i = 0; i < 6; i++) {
		snprintf(name, sizeof(name), "%s_%s", pre, what[i]);
		gp_nums(f, name, arr[i], n);
	}
}

/* What the per-point files of replication 0 hold, for their plots. */
struct point_files {
	bool cdf, energy, series;
	double cdf_min, cdf_max; /* positive latencies, ms */
	double e_min, e_max, e_w; /* x range of the histogram, bin width, mJ */
	double t_end, dt;         /* time series: end and sampling interval, s */
	bool in_flight, counted;  /* the series counts CoAP client exchanges:
				   * some in flight; any count at all */
};

static void read_point_files(const char *dir, size_t p, struct point_files *pf)
{
	char path[PATH_MAX + 64], line[1024];
	FILE *f;
	double a, b, first = NAN, last = NAN, c0 = NAN, c1 = NAN;

	memset(pf, 0, sizeof(*pf));
	pf->cdf_min = INFINITY;
	pf->cdf_max = 0;
	snprintf(path, sizeof(path), "%s/data/cdf-p%zu.csv", dir, p);
	if ((f = fopen(path, "r"))) {
		while (fgets(line, sizeof(line), f))
			if (sscanf(line, "%lf,%lf", &a, &b) == 2 && b > 0) {
				pf->cdf = true;
				pf->cdf_min = fmin(pf->cdf_min, b);
				pf->cdf_max = fmax(pf->cdf_max, b);
			}
		fclose(f);
	}
	snprintf(path, sizeof(path), "%s/data/energy-p%zu.csv", dir, p);
	if ((f = fopen(path, "r"))) {
		size_t rows = 0;
		while (fgets(line, sizeof(line), f))
			if (sscanf(line, "%lf,%lf", &a, &b) == 2) {
				if (rows == 0)
					c0 = a;
				if (rows == 1)
					c1 = a;
				rows++;
				if (b > 0) {
					if (!pf->energy)
						first = a;
					last = a;
					pf->energy = true;
				}
			}
		fclose(f);
		/* bins are [lo + i w, lo + (i + 1) w), centres written */
		pf->e_w = rows > 1 ? c1 - c0 : 2 * c0;
		if (pf->energy && pf->e_w > 0) {
			double lo = first - pf->e_w / 2, hi = last + pf->e_w / 2;
			/* from 0 when the data starts near it, else at the data */
			pf->e_min = lo < 0.35 * hi ? 0 : lo - pf->e_w;
			pf->e_max = hi + pf->e_w;
		} else {
			pf->energy = false;
		}
	}
	snprintf(path, sizeof(path), "%s/data/series-p%zu.csv", dir, p);
	if ((f = fopen(path, "r"))) {
		size_t rows = 0;
		double drops, done;
		while (fgets(line, sizeof(line), f))
			if (sscanf(line, "%lf,%lf,%lf,%lf", &a, &b, &drops, &done) == 4) {
				pf->in_flight |= b > 0;
				pf->counted |= b > 0 || drops > 0 || done > 0;
				if (rows == 0)
					pf->dt = a;
				if (rows == 1)
					pf->dt = a - pf->t_end;
				pf->t_end = a;
				rows++;
			}
		fclose(f);
		pf->series = rows > 0 && pf->dt > 0 && pf->counted;
	}
}

/* What report.html shows, besides the plots' files. */
struct drawn {
	struct fig_range range[SIM_ARRAY_LEN(figs)];
	struct point_files *pf; /* [n_pts] */
	bool any_cdf;
	size_t cdf_shown, cdf_points;
};

static int write_sweep_csv(const char *dir, const struct sweep *s, const struct drawn *d,
			   char *err, size_t errlen)
{
	char path[PATH_MAX + 64];
	size_t *cell = calloc(s->n_lines * s->nx + 1, sizeof(*cell));
	FILE *f;

	snprintf(path, sizeof(path), "%s/data/plot-sweep.csv", dir);
	if (!cell || !(f = fopen(path, "w"))) {
		free(cell);
		snprintf(err, errlen, "%s: cannot write: %s", path, strerror(errno));
		return SIM_ERR_IO;
	}
	for (size_t i = 0; i < s->n_lines * s->nx; i++)
		cell[i] = SIZE_MAX;
	for (size_t p = 0; p < s->n_pts; p++)
		cell[s->line[p] * s->nx + (s->x >= 0 ? s->xrank[s->vi[p * s->n_keys + s->x]] : 0)] = p;
	fputs("# x", f);
	for (size_t m = 0; m < 7; m++)
		fprintf(f, ",%s%s%s,low,high", sweep_metric[m][0], sweep_metric[m][1] ? "." : "",
			sweep_metric[m][1] ? sweep_metric[m][1] : "");
	fputs("\n# one block per line (gnuplot index), in plot-layout.gp's order\n", f);
	bool cat = s->x < 0 || !s->key[s->x].numeric;
	for (size_t l = 0; l < s->n_lines; l++) {
		if (l)
			fputs("\n\n", f);
		double step = fmin(0.1, 0.6 / (double)s->n_colours);
		double dodge = ((double)s->colour[l] - (double)(s->n_colours - 1) / 2) * step;
		for (size_t r = 0; r < s->nx; r++) {
			size_t p = cell[l * s->nx + r];
			if (p == SIZE_MAX)
				continue;
			double x = cat ? (double)r + dodge
				       : s->key[s->x].num[s->vi[p * s->n_keys + s->x]];
			fprintf(f, "%.10g", x);
			for (size_t m = 0; m < 7; m++) {
				const struct fig *fg = NULL;
				const struct fig_range *rg = NULL;
				for (size_t g = 0; g < SIM_ARRAY_LEN(figs); g++)
					if (figs[g].m1 == (int)m || figs[g].m2 == (int)m) {
						fg = &figs[g];
						rg = &d->range[g];
					}
				double ci, lo, hi;
				double mean = metric(s->pt[p], sweep_metric[m][0], sweep_metric[m][1], &ci);
				if (!isfinite(mean) || (fg->kind == F_LOG && mean <= 0)) {
					fputs(",NaN,NaN,NaN", f);
					continue;
				}
				bar(fg, rg, mean, ci, &lo, &hi);
				fprintf(f, ",%.10g,%.10g,%.10g", mean, lo, hi);
			}
			fputc('\n', f);
		}
	}
	free(cell);
	if (ferror(f) | (fclose(f) != 0)) {
		snprintf(err, errlen, "%s: cannot write: %s", path, strerror(errno));
		return SIM_ERR_IO;
	}
	return 0;
}

/* x axis: label with unit, range, tics (and categories by name). */
static void write_x_axis(FILE *f, const struct sweep *s)
{
	const struct skey *k = s->x >= 0 ? &s->key[s->x] : NULL;
	char label[300];
	size_t n = s->nx;
	const char *lab[n + 1];
	double pos[n + 1];
	char (*num)[32] = calloc(n + 1, sizeof(*num));

	if (!k)
		snprintf(label, sizeof(label), "%s", "");
	else if (k->numeric && k->unit[0])
		snprintf(label, sizeof(label), "%s (%s%s)", k->name, k->unit,
			 k->logx ? ", log scale" : "");
	else
		snprintf(label, sizeof(label), "%s%s", k->name, k->logx ? " (log scale)" : "");
	fputs("xlabel = ", f);
	gp_str(f, label);
	bool cat = !k || !k->numeric;
	double lo = 0, hi = 0;
	for (size_t v = 0; v < n; v++) {
		size_t r = s->xrank[v];
		if (cat) {
			lab[r] = k ? k->val[v] : "";
			pos[r] = (double)r;
			continue;
		}
		double x = k->num[v];
		lo = v == 0 || x < lo ? x : lo;
		hi = v == 0 || x > hi ? x : hi;
		if (num)
			snprintf(num[r], sizeof(num[r]), "%g", x);
		lab[r] = num ? num[r] : "";
		pos[r] = x;
	}
	if (cat) {
		lo = -0.5;
		hi = (double)n - 0.5;
	} else if (k->logx) {
		lo /= 1.25;
		hi *= 1.25;
	} else {
		double pad = hi > lo ? (hi - lo) * 0.05 : (lo != 0 ? fabs(lo) * 0.1 : 1);
		lo -= pad;
		hi += pad;
	}
	/* tics at the swept values, unless there are too many to read */
	size_t nt = cat || n <= 12 ? n : 0;
	fprintf(f, "\nxcat = %d\nlogx = %d\nxmin = %.10g\nxmax = %.10g\nnxt = %zu\n", cat,
		k && k->logx, lo, hi, nt);
	gp_strs(f, "xt_lab", lab, nt);
	gp_nums(f, "xt_pos", pos, nt);
	free(num);
}

/* Texts for a gnuplot array, each cut at TEXT_LEN. */
#define TEXT_LEN 320
typedef char text_t[TEXT_LEN];

static void gp_texts(FILE *f, const char *name, const text_t *v, size_t n)
{
	fprintf(f, "array %s[%zu] = [", name, n ? n : 1);
	for (size_t i = 0; i < n; i++) {
		if (i)
			fputs(", ", f);
		gp_str(f, v[i]);
	}
	fputs(n ? "]\n" : "'']\n", f);
}

/* Heap arrays of a layout section, freed together. */
struct arrays {
	void *p[16];
	size_t n;
	bool failed;
};

static void *arr(struct arrays *a, size_t n, size_t size)
{
	void *p = calloc(n + 1, size);
	if (!p || a->n == SIM_ARRAY_LEN(a->p)) {
		free(p);
		a->failed = true;
		return NULL;
	}
	return a->p[a->n++] = p;
}

static int arrays_free(struct arrays *a)
{
	for (size_t i = 0; i < a->n; i++)
		free(a->p[i]);
	return a->failed ? SIM_ERR_NOMEM : 0;
}

/* The sweep figures: what each shows, and the lines, panels and legend. */
static int layout_sweep(FILE *f, const struct sweep *s, const struct drawn *d)
{
	struct arrays a = {0};
	size_t nf = SIM_ARRAY_LEN(figs), nl = s->n_lines, nc = s->n_colours, np = s->n_panels;
	text_t *fname = arr(&a, nf, sizeof(text_t)), *ftitle = arr(&a, nf, sizeof(text_t)),
	       *fsub = arr(&a, nf, sizeof(text_t)), *fylabel = arr(&a, nf, sizeof(text_t)),
	       *fn1 = arr(&a, nf, sizeof(text_t)), *fn2 = arr(&a, nf, sizeof(text_t));
	double *fv = arr(&a, 7 * nf, sizeof(double)), *phas = arr(&a, nf * np, sizeof(double));
	text_t *lcol = arr(&a, nl, sizeof(text_t)), *ptitle = arr(&a, np, sizeof(text_t)),
	       *legt = arr(&a, nc, sizeof(text_t)), *legc = arr(&a, nc, sizeof(text_t));
	double *lv = arr(&a, 2 * nl, sizeof(double)), *pv = arr(&a, 2 * np, sizeof(double)),
	       *legv = arr(&a, 2 * nc, sizeof(double));
	char buf[TEXT_LEN];

	if (a.failed)
		return arrays_free(&a);
	for (size_t g = 0; g < nf; g++) {
		const struct fig *fg = &figs[g];
		const struct fig_range *r = &d->range[g];
		snprintf(fname[g], TEXT_LEN, "%s", fg->name);
		snprintf(ftitle[g], TEXT_LEN, "%s", fg->title);
		snprintf(fylabel[g], TEXT_LEN, "%s", fg->ylabel);
		snprintf(fn1[g], TEXT_LEN, "%s", fg->n1 ? fg->n1 : "");
		snprintf(fn2[g], TEXT_LEN, "%s", fg->n2 ? fg->n2 : "");
		if (s->reps > 1)
			snprintf(fsub[g], TEXT_LEN,
				 "mean and 95%% confidence interval over %ld replications%s", s->reps,
				 r->clipped ? "; bars beyond the axis are cut at its edge" : "");
		else
			snprintf(fsub[g], TEXT_LEN, "one replication: no confidence interval");
		double *v = fv + 7 * g;
		v[0] = fg->m1;
		v[1] = fg->m2;
		v[2] = fg->kind == F_LOG;
		v[3] = r->ymin;
		v[4] = r->ymax;
		v[5] = r->has && s->n_keys > 0; /* one point: the table has it */
		/* panels where the figure has something to show */
		for (size_t p = 0; p < s->n_pts; p++)
			for (int i = 0; i < 2; i++) {
				int m = i ? fg->m2 : fg->m1;
				double ci, x = m < 0 ? NAN
						     : metric(s->pt[p], sweep_metric[m][0],
							      sweep_metric[m][1], &ci);
				if (isfinite(x) && (fg->kind != F_LOG || x > 0))
					phas[g * np + s->panel[s->line[p]]] = 1;
			}
	}
	static const char *const fnum[6] = {"fm1", "fm2", "flog", "fymin", "fymax", "fhas"};
	fprintf(f, "nfig = %zu\nbars = %d\n", nf, s->reps > 1);
	gp_texts(f, "fname", fname, nf);
	gp_texts(f, "ftitle", ftitle, nf);
	gp_texts(f, "fsub", fsub, nf);
	gp_texts(f, "fylabel", fylabel, nf);
	gp_texts(f, "fn1", fn1, nf);
	gp_texts(f, "fn2", fn2, nf);
	for (size_t i = 0; i < 6; i++) {
		double v[nf];
		for (size_t g = 0; g < nf; g++)
			v[g] = fv[7 * g + i];
		gp_nums(f, fnum[i], v, nf);
	}
	gp_nums(f, "phas", phas, nf * np);

	/* the legend: one entry per colour, with a few lines the first ones
	 * wider (lines that coincide show as nested stripes, not as the last) */
	size_t maxlen = 0;
	for (size_t c = 0; c < nc; c++) {
		colour(c, nc, legc[c]);
		join_values(s, s->line_pt[s->colour_line[c]], s->facet ? 1 : 0, legt[c], TEXT_LEN);
		legv[c] = nc > MAX_COLOURS ? 7 : cat_pt[c % 6];
		legv[nc + c] = nc <= 5 ? 1.5 + 0.5 * (double)(nc - 1 - c) : 1.5;
		maxlen = strlen(legt[c]) > maxlen ? strlen(legt[c]) : maxlen;
	}
	for (size_t l = 0; l < nl; l++) {
		snprintf(lcol[l], TEXT_LEN, "%s", legc[s->colour[l]]);
		lv[l] = legv[s->colour[l]];
		lv[nl + l] = legv[nc + s->colour[l]];
		/* lines are in panel order: each panel a run of them */
		size_t p = s->panel[l];
		if (!pv[p])
			pv[p] = (double)l + 1;
		pv[np + p] = (double)l + 1;
		if (s->facet)
			snprintf(ptitle[p], TEXT_LEN, "%s = %s", s->key[s->by[0]].name,
				 pval(s, s->line_pt[l], s->by[0]));
	}
	/* one line and nothing to tell apart: no entry for it */
	size_t nleg = s->n_by ? nc : 0;
	fprintf(f, "nlines = %zu\nnleg = %zu\n", nl, nleg);
	gp_texts(f, "lcol", lcol, nl);
	gp_nums(f, "lpt", lv, nl);
	gp_nums(f, "llw", lv + nl, nl);
	gp_nums(f, "pfirst", pv, np);
	gp_nums(f, "plast", pv + np, np);
	gp_texts(f, "ptitle", ptitle, np);
	gp_texts(f, "legt", legt, nleg);
	gp_texts(f, "legc", legc, nleg);
	gp_nums(f, "legp", legv, nleg);
	gp_nums(f, "leglw", legv + nc, nleg);
	join_keys(s, s->facet ? 1 : 0, buf, sizeof(buf));
	fputs("legtitle = ", f);
	gp_str(f, buf);
	fputc('\n', f);
	/* room for the two metrics' entries too ("p50 (median) (solid)") */
	geometry(f, "s", np, nleg + 2, maxlen > 21 ? maxlen : 21, nleg > 0, 440);
	return arrays_free(&a);
}

/* Latency CDFs of replication 0: every point in one plot when there are
 * few, else a panel per value of the x key (at most nine, spread) with a
 * line per line of the sweep plots. */
static int layout_cdf(FILE *f, const struct sweep *s, struct drawn *d)
{
	struct arrays a = {0};
	size_t n = 0, np = s->n_pts, nl = s->n_lines;
	for (size_t p = 0; p < np; p++)
		n += d->pf[p].cdf;
	d->cdf_points = n;
	d->any_cdf = n > 0;
	bool one = n <= 4 || s->x < 0 || s->n_by == 0;
	size_t npan = !n ? 0 : one ? 1 : s->nx < 9 ? s->nx : 9, nleg = one ? n : nl;
	text_t *file = arr(&a, n, sizeof(text_t)), *col = arr(&a, n, sizeof(text_t)),
	       *ptitle = arr(&a, npan, sizeof(text_t)), *legt = arr(&a, nleg, sizeof(text_t)),
	       *legc = arr(&a, nleg, sizeof(text_t));
	double *lw = arr(&a, n, sizeof(double)), *first = arr(&a, npan, sizeof(double)),
	       *last = arr(&a, npan, sizeof(double));
	char buf[TEXT_LEN];
	double lo = INFINITY, hi = 0;
	size_t k = 0, maxlen = 0;

	if (a.failed)
		return arrays_free(&a);
	for (size_t pan = 0; pan < npan; pan++) {
		/* panels: x ranks 0, ..., nx - 1, or nine spread over them */
		size_t rank = npan == s->nx ? pan : (size_t)lround((double)pan * (double)(s->nx - 1) / 8);
		first[pan] = (double)k + 1;
		for (size_t v = 0; !one && v < s->nx; v++)
			if (s->xrank[v] == rank)
				snprintf(ptitle[pan], TEXT_LEN, "%s = %s", s->key[s->x].name,
					 s->key[s->x].val[v]);
		for (size_t l = 0; l < (one ? 1 : nl); l++)
			for (size_t p = 0; p < np; p++) {
				size_t xv = s->x >= 0 ? s->vi[p * s->n_keys + (size_t)s->x] : 0;
				if (!d->pf[p].cdf ||
				    (!one && (s->line[p] != l || s->xrank[xv] != rank)))
					continue;
				snprintf(file[k], TEXT_LEN, "cdf-p%zu.csv", p); /* in datadir */
				colour(one ? k : l, one ? n : nl, col[k]);
				lw[k] = one && n <= 5 ? 1.5 + 0.8 * (double)(n - 1 - k) : 1.8;
				if (one) { /* the point's values: x's, then by's */
					size_t tl = 0;
					if (s->x >= 0)
						tl = (size_t)snprintf(legt[k], TEXT_LEN, "%s%s",
								      pval(s, p, (size_t)s->x),
								      s->n_by ? ", " : "");
					join_values(s, p, 0, legt[k] + tl, TEXT_LEN - tl);
					snprintf(legc[k], TEXT_LEN, "%s", col[k]);
				}
				lo = fmin(lo, d->pf[p].cdf_min);
				hi = fmax(hi, d->pf[p].cdf_max);
				k++;
			}
		last[pan] = (double)k;
	}
	for (size_t l = 0; !one && l < nl; l++) {
		join_values(s, s->line_pt[l], 0, legt[l], TEXT_LEN);
		colour(l, nl, legc[l]);
	}
	if (!s->n_keys)
		nleg = 0;
	for (size_t i = 0; i < nleg; i++)
		maxlen = strlen(legt[i]) > maxlen ? strlen(legt[i]) : maxlen;
	d->cdf_shown = k;
	fprintf(f, "c_entries = %zu\nc_nleg = %zu\nc_xmin = %.10g\nc_xmax = %.10g\n", k, nleg,
		k ? nice_num(lo / 1.3, false) : 1, k ? nice_num(hi * 1.05, true) : 10);
	gp_texts(f, "c_file", file, k);
	gp_texts(f, "c_col", col, k);
	gp_nums(f, "c_lw", lw, k);
	gp_nums(f, "c_first", first, npan);
	gp_nums(f, "c_last", last, npan);
	gp_texts(f, "c_ptitle", ptitle, npan);
	gp_texts(f, "c_legt", legt, nleg);
	gp_texts(f, "c_legc", legc, nleg);
	size_t bl = 0;
	buf[0] = 0;
	if (one && s->x >= 0)
		bl = (size_t)snprintf(buf, sizeof(buf), "%s%s", s->key[s->x].name,
				      s->n_by ? ", " : "");
	join_keys(s, 0, buf + bl, sizeof(buf) - bl);
	fputs("c_legtitle = ", f);
	gp_str(f, buf);
	buf[0] = 0;
	if (!one && s->nx > npan)
		snprintf(buf, sizeof(buf), "%zu of the %zu values of %s", npan, s->nx,
			 s->key[s->x].name);
	fputs("\nc_sub = ", f);
	gp_str(f, buf);
	fputc('\n', f);
	geometry(f, "c", npan, nleg, maxlen, nleg > 0, 440);
	return arrays_free(&a);
}

/* Each point's energy histogram and time series (replication 0). */
static int layout_points(FILE *f, const struct sweep *s, const struct drawn *d)
{
	static const char *const names[8] = {"e_has", "e_xmin", "e_xmax", "e_w",
					     "t_has", "t_end", "t_dt", "t_fl"};
	struct arrays a = {0};
	size_t np = s->n_pts;
	text_t *label = arr(&a, np, sizeof(text_t));
	double *v = arr(&a, 8 * np, sizeof(double));

	if (a.failed)
		return arrays_free(&a);
	for (size_t p = 0; p < np; p++) {
		const struct point_files *pf = &d->pf[p];
		point_label(s, p, label[p], TEXT_LEN);
		const double x[8] = {pf->energy, pf->e_min, pf->e_max, pf->e_w,
				     pf->series, pf->t_end, pf->dt, pf->in_flight};
		for (size_t i = 0; i < 8; i++)
			v[i * np + p] = x[i];
	}
	fprintf(f, "npts = %zu\n", np);
	gp_texts(f, "ptlab", label, np);
	for (size_t i = 0; i < 8; i++)
		gp_nums(f, names[i], v + i * np, np);
	return arrays_free(&a);
}

static int write_layout(const char *dir, const char *scenario, const struct sweep *s,
			struct drawn *d, char *err, size_t errlen)
{
	char path[PATH_MAX + 64];
	FILE *f;

	snprintf(path, sizeof(path), "%s/data/plot-layout.gp", dir);
	if (!(f = fopen(path, "w"))) {
		snprintf(err, errlen, "%s: cannot write: %s", path, strerror(errno));
		return SIM_ERR_IO;
	}
	fputs("# Written by coapsim (report.c) for this results folder; the scripts in\n"
	      "# analysis/ load it.  Every text is drawn as is (noenhanced).\n", f);
	fputs("scenario = ", f);
	gp_str(f, scenario);
	fputc('\n', f);
	write_x_axis(f, s);
	int rc = layout_sweep(f, s, d);
	if (rc == 0)
		rc = layout_cdf(f, s, d);
	if (rc == 0)
		rc = layout_points(f, s, d);
	if (rc < 0)
		snprintf(err, errlen, "out of memory");
	if ((ferror(f) | (fclose(f) != 0)) && rc == 0) {
		snprintf(err, errlen, "%s: cannot write: %s", path, strerror(errno));
		rc = SIM_ERR_IO;
	}
	return rc;
}

/* ---------------------------------------------------------------- drawing */

static const char *const scripts[] = {"sweep", "latency_cdf", "energy_hist", "timeseries"};

/* Plots this report draws; older ones of the same names go first, so a
 * plot that no longer applies is not shown from an earlier drawing. */
static void clear_plots(const char *plotdir)
{
	static const char *const ours[] = {
		"delivery_ratio.", "retransmissions.", "latency.", "latency_cdf.",
		"energy_per_message.", "bytes_per_message.", "energy_histogram",
		"timeseries"};
	char path[PATH_MAX + 300];
	DIR *d = opendir(plotdir);
	struct dirent *e;

	if (!d)
		return;
	while ((e = readdir(d))) {
		size_t l = strlen(e->d_name);
		if (l < 5 || (strcmp(e->d_name + l - 4, ".png") && strcmp(e->d_name + l - 4, ".svg")))
			continue;
		for (size_t i = 0; i < SIM_ARRAY_LEN(ours); i++)
			if (!strncmp(e->d_name, ours[i], strlen(ours[i]))) {
				snprintf(path, sizeof(path), "%s/%s", plotdir, e->d_name);
				unlink(path);
				break;
			}
	}
	closedir(d);
}

/* Run every script, all at once, each its own gnuplot process (a sweep
 * of four one-second runs took 0.56-0.62 s in all with the scripts one
 * after another, 0.37-0.43 s with them side by side on two cores);
 * returns how many failed (0 when all drew). */
static int draw(const char *dir)
{
	char root[PATH_MAX + 8], absdir[PATH_MAX], cmd[6 * PATH_MAX], plotdir[PATH_MAX + 8];
	pid_t pid[SIM_ARRAY_LEN(scripts)];
	int failed = 0;

	if (find_root(root, sizeof(root)) < 0 || !realpath(dir, absdir))
		return (int)SIM_ARRAY_LEN(scripts);
	snprintf(plotdir, sizeof(plotdir), "%s/plots", absdir);
	mkdir(plotdir, 0777);
	clear_plots(plotdir);
	for (size_t i = 0; i < SIM_ARRAY_LEN(scripts); i++) {
		snprintf(cmd, sizeof(cmd),
			 "cd '%s' && exec gnuplot -e \"datadir='%s/data'; outdir='%s'\" "
			 "analysis/%s.gp >/dev/null 2>'%s/plots/.%s.log'",
			 root, absdir, plotdir, scripts[i], absdir, scripts[i]);
		char *argv[] = {"sh", "-c", cmd, NULL};
		if (posix_spawn(&pid[i], "/bin/sh", NULL, NULL, argv, environ) != 0)
			pid[i] = -1;
	}
	for (size_t i = 0; i < SIM_ARRAY_LEN(scripts); i++) {
		int st;
		pid_t r;
		if (pid[i] < 0) {
			failed++;
			continue;
		}
		while ((r = waitpid(pid[i], &st, 0)) < 0 && errno == EINTR)
			;
		if (r < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
			failed++;
	}
	return failed;
}

/* Embed a PNG as a data URI (base64, RFC 4648), a block of 3 KiB in and
 * 4 KiB out at a time, not a character at a time through stdio. */
static int embed_png(FILE *out, const char *path)
{
	static const char b64[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	FILE *in = fopen(path, "rb");
	unsigned char buf[3072];
	char enc[4096];
	size_t n;

	if (!in)
		return -1;
	fputs("data:image/png;base64,", out);
	/* fread fills the block but at the end of the file, so only the
	 * last group of three may be short. */
	while ((n = fread(buf, 1, sizeof(buf), in)) > 0) {
		size_t k = 0;
		for (size_t i = 0; i < n; i += 3) {
			size_t m = n - i < 3 ? n - i : 3;
			unsigned v = (unsigned)buf[i] << 16 | (m > 1 ? buf[i + 1] << 8 : 0) |
				     (m > 2 ? buf[i + 2] : 0);
			enc[k++] = b64[v >> 18 & 63];
			enc[k++] = b64[v >> 12 & 63];
			enc[k++] = m > 1 ? b64[v >> 6 & 63] : '=';
			enc[k++] = m > 2 ? b64[v & 63] : '=';
		}
		fwrite(enc, 1, k, out);
	}
	fclose(in);
	return 0;
}

/* <img> of plots/NAME.png when it was drawn; returns whether it was. */
static bool figure(FILE *f, const char *dir, const char *name, const char *alt)
{
	char path[PATH_MAX + 64];
	struct stat st;

	snprintf(path, sizeof(path), "%s/plots/%s.png", dir, name);
	if (stat(path, &st) != 0)
		return false;
	fputs("<img alt=\"", f);
	fs_put_markup(f, alt);
	fputs("\" src=\"", f);
	embed_png(f, path);
	fputs("\">\n", f);
	return true;
}

static void cell(FILE *f, json_t *metrics, const char *a, const char *b, const char *fmt)
{
	json_t *m = json_object_get(metrics, a);
	if (b)
		m = json_object_get(m, b);
	json_t *mean = json_object_get(m, "mean"), *ci = json_object_get(m, "ci95");
	fputs("<td>", f);
	if (json_is_number(mean)) {
		fprintf(f, fmt, json_number_value(mean));
		if (json_is_number(ci)) {
			fputs(" &plusmn; ", f);
			fprintf(f, fmt, json_number_value(ci));
		}
	} else {
		fputs("&ndash;", f);
	}
	fputs("</td>", f);
}

/* ---- the tutorial's CoAP-vs-MQTT table, measured ----
 *
 * Each row compares the two protocols case by case (a case: the same
 * values of every other swept key) and counts who is ahead, and where
 * neither is.  With replications a difference counts only when a
 * two-sided Welch t-test at 5% finds it (the standard error of a mean is
 * its 95% half-width over t(0.975, n - 1)); with one replication only
 * exactly equal values are a tie.  The explanation of a verdict is given
 * only when that verdict is the one measured. */

enum side { SIDE_NA, SIDE_COAP, SIDE_MQTT, SIDE_TIE, SIDE_NSD };

struct stat2 {
	double c, cci, m, mci; /* means and 95% half-widths (NAN: none) */
	long n;                /* replications */
};

static void stat2_get(struct stat2 *s, json_t *cp, json_t *mp, const char *a, const char *b)
{
	s->c = metric(cp, a, b, &s->cci);
	s->m = metric(mp, a, b, &s->mci);
	long nc = (long)json_integer_value(json_object_get(cp, "replications"));
	long nm = (long)json_integer_value(json_object_get(mp, "replications"));
	s->n = nc < nm ? nc : nm;
}

/* Whose value is lower: SIDE_COAP, SIDE_MQTT, SIDE_TIE (equal),
 * SIDE_NSD (not significant) or SIDE_NA (a value is missing). */
static enum side lower(const struct stat2 *s)
{
	if (!isfinite(s->c) || !isfinite(s->m))
		return SIDE_NA;
	if (s->c == s->m)
		return SIDE_TIE;
	if (s->n >= 2 && isfinite(s->cci) && isfinite(s->mci)) {
		double t = student_t95((unsigned)(s->n - 1));
		double sc = s->cci / t, sm = s->mci / t, v = sc * sc + sm * sm;
		if (v > 0) {
			double df = v * v / ((sc * sc * sc * sc + sm * sm * sm * sm) / (double)(s->n - 1));
			unsigned d = df < 1 ? 1 : (unsigned)floor(df);
			if (fabs(s->c - s->m) / sqrt(v) <= student_t95(d))
				return SIDE_NSD;
		}
	}
	return s->c < s->m ? SIDE_COAP : SIDE_MQTT;
}

/* The two values as shown: with enough decimals that different values
 * look different (1.0000 vs 0.99996), "± ci" with replications. */
static void show_pair(char *buf, size_t len, const struct stat2 *s, int decimals,
		      const char *unit)
{
	char a[64], b[64];
	int d = decimals;
	for (; d < decimals + 8; d++) {
		snprintf(a, sizeof(a), "%.*f", d, s->c);
		snprintf(b, sizeof(b), "%.*f", d, s->m);
		if (s->c == s->m || strcmp(a, b))
			break;
	}
	size_t l = (size_t)snprintf(buf, len, "CoAP %.*f", d, s->c);
	if (s->n >= 2 && isfinite(s->cci))
		l += (size_t)snprintf(buf + l, len - l, " &plusmn; %.*f", d, s->cci);
	l += (size_t)snprintf(buf + l, len - l, "%s, MQTT %.*f", unit, d, s->m);
	if (s->n >= 2 && isfinite(s->mci))
		l += (size_t)snprintf(buf + l, len - l, " &plusmn; %.*f", d, s->mci);
	snprintf(buf + l, len - l, "%s", unit);
}

struct tally {
	int coap, mqtt, tie, nsd, na, n;
};

/* One row: what it compares and how the outcome of a case reads. */
struct row {
	const char *a, *b;      /* metric */
	bool higher_is_better;  /* else lower: from metrics_table.h */
	int decimals;
	const char *unit;       /* after each value: " mJ" */
	const char *coap_ahead, *mqtt_ahead; /* "CoAP delivered more" */
	char text[4096];        /* the cases, one line each */
	size_t len;
	struct tally t;
	enum side *out;         /* [case]: who is ahead */
};

/* Is a higher value of metric a (member b) better?  From metrics_table.h,
 * as coapsim check judges it. */
static bool higher_is_better(const char *a, const char *b)
{
	char flat[128];
	if (b)
		snprintf(flat, sizeof(flat), "%s.%s", a, b);
	else
		snprintf(flat, sizeof(flat), "%s", a);
	for (size_t i = 0; i < metric_table_len; i++) {
		const struct metric_info *m = &metric_table[i];
		if (!strcmp(m->name, m->kind == METRIC_LAT ? a : flat))
			return m->better == METRIC_HIGHER;
	}
	return false;
}

static void row_case(struct row *r, const char *where, json_t *cp, json_t *mp, size_t i)
{
	struct stat2 s;
	char vals[256];
	stat2_get(&s, cp, mp, r->a, r->b);
	enum side lo = lower(&s), ahead = lo;
	if (r->higher_is_better && (lo == SIDE_COAP || lo == SIDE_MQTT))
		ahead = lo == SIDE_COAP ? SIDE_MQTT : SIDE_COAP;
	r->out[i] = ahead;
	r->t.n++;
	const char *what;
	switch (ahead) {
	case SIDE_COAP: r->t.coap++; what = r->coap_ahead; break;
	case SIDE_MQTT: r->t.mqtt++; what = r->mqtt_ahead; break;
	case SIDE_TIE: r->t.tie++; what = "tie"; break;
	case SIDE_NSD: r->t.nsd++; what = "no significant difference"; break;
	default: r->t.na++; what = NULL; break;
	}
	if (what)
		show_pair(vals, sizeof(vals), &s, r->decimals, r->unit);
	else
		snprintf(vals, sizeof(vals), "%s", !isfinite(s.c) && !isfinite(s.m)
			 ? "does not apply to either"
			 : !isfinite(s.c) ? "does not apply to CoAP" : "does not apply to MQTT");
	if (r->len < sizeof(r->text))
		r->len += (size_t)snprintf(r->text + r->len, sizeof(r->text) - r->len,
					   "%s: %s%s%s<br>", where, vals, what ? ": " : "",
					   what ? what : "");
}

/* "Holds: MQTT delivered more in 4 of 4 cases. (why)" from the counts
 * alone; claim_coap: the tutorial has CoAP ahead on this row. */
static void verdict(char *buf, size_t len, const struct row *r, bool claim_coap,
		    const char *why)
{
	const struct tally *t = &r->t;
	int app = t->n - t->na, yes = claim_coap ? t->coap : t->mqtt,
	    no = claim_coap ? t->mqtt : t->coap;
	const char *word = app == 0 ? "Not measured"
			   : yes == app ? "Holds"
			   : no == app ? "Does not hold"
			   : yes && no ? "Mixed"
			   : yes ? "Holds in part"
			   : no ? "Does not hold in part"
			   : "No difference measured";
	size_t l = (size_t)snprintf(buf, len, "%s: ", word);
	if (app == 0) {
		snprintf(buf + l, len - l, "the metric does not apply here.");
		return;
	}
	l += (size_t)snprintf(buf + l, len - l, "%s in %d of %d case%s, %s in %d",
			      claim_coap ? r->coap_ahead : r->mqtt_ahead, yes, t->n,
			      t->n == 1 ? "" : "s",
			      claim_coap ? r->mqtt_ahead : r->coap_ahead, no);
	if (t->tie)
		l += (size_t)snprintf(buf + l, len - l, ", tied in %d", t->tie);
	if (t->nsd)
		l += (size_t)snprintf(buf + l, len - l, ", no significant difference in %d", t->nsd);
	if (t->na)
		l += (size_t)snprintf(buf + l, len - l, ", not applicable in %d", t->na);
	l += (size_t)snprintf(buf + l, len - l, ".");
	if (why && yes == app)
		snprintf(buf + l, len - l, " %s", why);
}

/* The point with this protocol at this value of the other parameters. */
static json_t *find_point(json_t *points, const char *proto_key, const char *proto,
			  json_t *like)
{
	size_t i;
	json_t *pt;
	json_array_foreach(points, i, pt) {
		json_t *params = json_object_get(pt, "params");
		const char *k;
		json_t *v;
		bool same = true;
		json_object_foreach(params, k, v) {
			const char *want = strcmp(k, proto_key)
						   ? json_string_value(json_object_get(like, k))
						   : proto;
			if (!want || strcmp(want, json_string_value(v)))
				same = false;
		}
		if (same)
			return pt;
	}
	return NULL;
}

static void claim_row(FILE *f, const char *feature, const char *tut_mqtt,
		      const char *tut_coap, const char *measured, const char *verdict_)
{
	fprintf(f, "<tr><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td></tr>\n",
		feature, tut_mqtt, tut_coap, measured, verdict_);
}

/* Does the lead change with the loss rate: MQTT ahead at every case with
 * less loss than every case where CoAP is ahead (or the other way)? */
static const char *flip_with_loss(const double *loss, const enum side *out, size_t n)
{
	double mq_max = -INFINITY, mq_min = INFINITY, co_max = -INFINITY, co_min = INFINITY;
	bool mq = false, co = false;
	for (size_t i = 0; i < n; i++) {
		if (!isfinite(loss[i]))
			return NULL;
		if (out[i] == SIDE_MQTT) {
			mq = true;
			mq_max = fmax(mq_max, loss[i]);
			mq_min = fmin(mq_min, loss[i]);
		}
		if (out[i] == SIDE_COAP) {
			co = true;
			co_max = fmax(co_max, loss[i]);
			co_min = fmin(co_min, loss[i]);
		}
	}
	if (!mq || !co)
		return NULL;
	if (mq_max < co_min)
		return "mqtt-low";
	if (co_max < mq_min)
		return "coap-low";
	return NULL;
}

/* s with & < > " escaped, into buf. */
static void markup(char *buf, size_t len, const char *s)
{
	size_t l = 0;
	buf[0] = 0;
	for (; *s && l + 7 < len; s++) {
		const char *e = *s == '&' ? "&amp;" : *s == '<' ? "&lt;" : *s == '>' ? "&gt;"
			      : *s == '"' ? "&quot;" : NULL;
		if (e)
			l += (size_t)snprintf(buf + l, len - l, "%s", e);
		else
			buf[l++] = *s;
	}
	buf[l] = 0;
}

/* When the sweep runs both protocols, compare them point by point. */
/* Rows of the claims table: delivery, energy, latency p50 and p99, bytes,
 * handshake time, security's share of the bytes. */
#define CLAIM_ROWS 7

static void claims(FILE *f, json_t *j)
{
	json_t *points = json_object_get(j, "points"), *p0 = json_array_get(points, 0);
	const char *proto_key = NULL, *loss_key = NULL, *k;
	json_t *v;

	json_object_foreach(json_object_get(p0, "params"), k, v) {
		if (strstr(k, ".protocol"))
			proto_key = k;
		if (ends_with(k, ".loss"))
			loss_key = k;
	}
	if (!proto_key)
		return;
	size_t n_pts = json_array_size(points);
	static const struct row proto[CLAIM_ROWS] = {
		{.a = "delivery_ratio", .decimals = 5, .unit = "",
		 .coap_ahead = "CoAP delivered more", .mqtt_ahead = "MQTT delivered more"},
		{.a = "energy_mj", .b = "per_message", .decimals = 3, .unit = " mJ",
		 .coap_ahead = "CoAP spent less energy", .mqtt_ahead = "MQTT spent less energy"},
		{.a = "latency_ms", .b = "p50", .decimals = 1, .unit = " ms", .coap_ahead = "CoAP lower",
		 .mqtt_ahead = "MQTT lower"},
		{.a = "latency_ms", .b = "p99", .decimals = 1, .unit = " ms", .coap_ahead = "CoAP lower",
		 .mqtt_ahead = "MQTT lower"},
		{.a = "bytes_per_message", .decimals = 1, .unit = " B", .coap_ahead = "CoAP needed fewer bytes",
		 .mqtt_ahead = "MQTT needed fewer bytes"},
		{.a = "handshake_ms", .b = "p50", .decimals = 0, .unit = " ms",
		 .coap_ahead = "CoAP's DTLS handshake quicker", .mqtt_ahead = "MQTT's TLS handshake quicker"},
		{.a = "security_share", .decimals = 3, .unit = "",
		 .coap_ahead = "DTLS a smaller share of CoAP's bytes",
		 .mqtt_ahead = "TLS a smaller share of MQTT's bytes"},
	};
	struct row rows[CLAIM_ROWS];
	memcpy(rows, proto, sizeof(rows));
	double *loss = calloc(n_pts + 1, sizeof(double));
	for (int r = 0; r < CLAIM_ROWS; r++) {
		rows[r].higher_is_better = higher_is_better(rows[r].a, rows[r].b);
		rows[r].out = calloc(n_pts + 1, sizeof(enum side));
	}
	bool coap_con = false, ok = loss != NULL;
	for (int r = 0; r < CLAIM_ROWS; r++)
		ok &= rows[r].out != NULL;
	size_t n_cases = 0, i;
	json_t *pt;
	json_array_foreach(points, i, pt) {
		json_t *params = json_object_get(pt, "params");
		if (!ok || strcmp(json_string_value(json_object_get(params, proto_key)) ?: "", "coap"))
			continue;
		json_t *mq = find_point(points, proto_key, "mqtt", params);
		if (!mq)
			continue;
		char where[512] = "";
		size_t wl = 0;
		json_object_foreach(params, k, v)
			if (strcmp(k, proto_key) && wl < sizeof(where) - 1)
				wl += (size_t)snprintf(where + wl, sizeof(where) - wl, "%s%s",
						       wl ? " " : "", json_string_value(v));
		if (!where[0])
			snprintf(where, sizeof(where), "all");
		char safe[1024];
		markup(safe, sizeof(safe), where);
		double lv;
		const struct unit_def *u;
		const char *ls = loss_key ? json_string_value(json_object_get(params, loss_key)) : NULL;
		loss[n_cases] = ls && parse_value(ls, &lv, &u) ? (u ? lv / 100 : lv) : NAN;
		coap_con |= isfinite(metric(pt, "success_ratio", NULL, NULL));
		for (int r = 0; r < CLAIM_ROWS; r++)
			row_case(&rows[r], safe, pt, mq, n_cases);
		n_cases++;
	}
	if (!n_cases) {
		free(loss);
		for (int r = 0; r < CLAIM_ROWS; r++)
			free(rows[r].out);
		return;
	}
	char vr[768], vp[768], vl[2048], v50[768], v99[1024], vc[768];
	verdict(vr, sizeof(vr), &rows[0], false,
		coap_con ? "(MQTT's TCP retransmits a lost segment up to 15 times and the "
			   "session resends after a reconnection; CoAP gives up after "
			   "MAX_RETRANSMIT.)"
			 : "(CoAP NON messages are sent once; MQTT's TCP retransmits lost "
			   "segments.)");
	verdict(vp, sizeof(vp), &rows[1], true,
		"(No connection, no TCP acknowledgements or keepalives.)");
	const char *flip = flip_with_loss(loss, rows[3].out, n_cases);
	verdict(v50, sizeof(v50), &rows[2], true, NULL);
	verdict(v99, sizeof(v99), &rows[3], true, NULL);
	if (flip && !strcmp(flip, "mqtt-low")) {
		size_t l = strlen(v99);
		snprintf(v99 + l, sizeof(v99) - l,
			 " The lead flips with the loss rate: MQTT is lower at the lower loss "
			 "rates, CoAP at the higher ones (TCP's learned RTO beats CoAP's fixed "
			 "first timeout on a good link; its backoff loses on a bad one).");
	} else if (flip) {
		size_t l = strlen(v99);
		snprintf(v99 + l, sizeof(v99) - l,
			 " The lead flips with the loss rate: CoAP is lower at the lower loss "
			 "rates, MQTT at the higher ones.");
	}
	const char *lat_text = rows[2].text;
	if (rows[2].t.na == rows[2].t.n && rows[3].t.na == rows[3].t.n) {
		lat_text = "not applicable";
		snprintf(vl, sizeof(vl), "Does not apply: latency is measured to the "
			 "confirmation of a message, and %s.",
			 coap_con ? "MQTT's messages (QoS 0) are not confirmed"
				  : "these messages (CoAP NON, MQTT QoS 0) are not confirmed");
	} else {
		snprintf(vl, sizeof(vl), "Median (p50): %s<br>Tail (p99): %s", v50, v99);
	}
	char lat[2 * sizeof(rows[2].text) + 32];
	if (lat_text == rows[2].text) {
		/* the two percentiles side by side, case by case */
		snprintf(lat, sizeof(lat), "p50: <br>%sp99: <br>%s", rows[2].text, rows[3].text);
		lat_text = lat;
	}
	verdict(vc, sizeof(vc), &rows[4], false,
		NULL);
	if (rows[4].t.coap == rows[4].t.n - rows[4].t.na && rows[4].t.coap) {
		size_t l = strlen(vc);
		snprintf(vc + l, sizeof(vc) - l, " On a shared channel fewer bytes per message "
			 "means the same link carries more CoAP devices.");
	} else if (rows[4].t.mqtt == rows[4].t.n - rows[4].t.na && rows[4].t.mqtt) {
		size_t l = strlen(vc);
		snprintf(vc + l, sizeof(vc) - l, " On a shared channel fewer bytes per message "
			 "means the same link carries more MQTT devices.");
	}
	fputs("<h2>Claims, measured</h2>\n<p>The table from the tutorial this project grew "
	      "from, row by row, against this run (CoAP value first, then MQTT). A case is "
	      "one value of the other swept keys. ", f);
	long reps = (long)json_integer_value(json_object_get(p0, "replications"));
	if (reps >= 2)
		fprintf(f, "With %ld replications a difference counts when a two-sided Welch "
			"t-test at the 5%% level finds it (&plusmn; is the 95%% confidence "
			"interval); else it is &ldquo;no significant difference&rdquo;.</p>\n", reps);
	else
		fputs("With one replication there is no test: only exactly equal values are a "
		      "tie.</p>\n", f);
	fputs("<table class=\"claims\"><tr><th>feature</th><th>tutorial: MQTT</th>"
	      "<th>tutorial: CoAP</th><th>measured here</th><th>verdict</th></tr>\n", f);
	char m[sizeof(lat) + 128];
	snprintf(m, sizeof(m), "delivery ratio (delivered / sent):<br>%s", rows[0].text);
	claim_row(f, "Reliability", "High", "Medium", m, vr);
	snprintf(m, sizeof(m), "radio energy per delivered message:<br>%s", rows[1].text);
	claim_row(f, "Power usage", "Higher", "Lower", m, vp);
	snprintf(m, sizeof(m), "latency from first transmission to confirmation, %s", lat_text);
	claim_row(f, "Latency", "Medium", "Low", m, vl);
	snprintf(m, sizeof(m), "bytes on the channel per delivered message:<br>%s", rows[4].text);
	claim_row(f, "Scalability", "High", "Medium", m, vc);
	claim_row(f, "Multicast", "Limited", "Supported", "not in this scenario",
		  "CoAP has group requests (scenarios/multicast.ini measures one request "
		  "reaching 300 members and their answers); MQTT's broker sends one copy per "
		  "subscriber. Not a like-for-like measurement here.");
	claim_row(f, "QoS levels", "3 levels", "basic", "&ndash;",
		  "Definitions, not measurements: MQTT QoS 0/1/2; CoAP NON/CON.");
	/* Security: what the handshakes and records cost each, where the
	 * scenario secures both (`security = on`). */
	const struct tally *hs = &rows[5].t;
	char vs[1024], ms[2 * sizeof(rows[5].text) + 512];
	if (hs->n == hs->na) {
		snprintf(ms, sizeof(ms), "not in this scenario (plaintext)");
		snprintf(vs, sizeof(vs),
			 "Not measured here: <code>security = on</code> runs CoAP over DTLS 1.2 and MQTT over "
			 "TLS 1.2 (PSK, AES-128-CCM-8); scenarios/security.ini measures both.");
	} else {
		snprintf(ms, sizeof(ms),
			 "handshake time (p50), CoAP over DTLS 1.2 against MQTT over TLS 1.2:<br>%s"
			 "share of the bytes that are handshakes and record overhead:<br>%s",
			 rows[5].text, rows[6].text);
		snprintf(vs, sizeof(vs),
			 "Both secured here, both with PSK and AES-128-CCM-8. DTLS's handshake was "
			 "quicker in %d and TLS's in %d of %d cases (%d without a difference). "
			 "DTLS pays a cookie round trip and its own retransmission timer; TLS "
			 "needs TCP's handshake first and rides on TCP's retransmissions. Energy "
			 "and bytes, handshakes included, are in the rows above.",
			 hs->coap, hs->mqtt, hs->n - hs->na, hs->tie + hs->nsd);
	}
	claim_row(f, "Security", "SSL/TLS", "DTLS", ms, vs);
	fputs("</table>\n", f);
	free(loss);
	for (int r = 0; r < CLAIM_ROWS; r++)
		free(rows[r].out);
}

/* The sweep plots' inputs, with the axes of --x/--by, or of an earlier
 * `coapsim plot --x/--by` (data/plot-axes.json), or the defaults. */
static int plot_inputs(const char *dir, json_t *j, struct sweep *s, struct drawn *d,
		       char *err, size_t errlen)
{
	char path[PATH_MAX + 64];
	json_t *points = json_object_get(j, "points"), *saved = NULL;
	const char *xn = opt_x, *bn = opt_by;

	snprintf(path, sizeof(path), "%s/data/plot-axes.json", dir);
	if (!xn && !bn && (saved = json_load_file(path, 0, NULL))) {
		xn = json_string_value(json_object_get(saved, "x"));
		bn = json_string_value(json_object_get(saved, "by"));
	}
	int rc = sweep_load(s, points, xn, bn, err, errlen);
	if (rc < 0 && saved) /* keys no longer there: the defaults */
		rc = sweep_load(s, points, NULL, NULL, err, errlen);
	json_decref(saved);
	if (rc < 0)
		return rc;
	if (opt_x || opt_by) {
		json_t *a = json_object();
		if (opt_x)
			json_object_set_new(a, "x", json_string(opt_x));
		if (opt_by)
			json_object_set_new(a, "by", json_string(opt_by));
		json_dump_file(a, path, JSON_INDENT(2));
		json_decref(a);
	}
	d->pf = calloc(s->n_pts, sizeof(*d->pf));
	if (!d->pf) {
		snprintf(err, errlen, "out of memory");
		return SIM_ERR_NOMEM;
	}
	for (size_t p = 0; p < s->n_pts; p++)
		read_point_files(dir, p, &d->pf[p]);
	for (size_t g = 0; g < SIM_ARRAY_LEN(figs); g++)
		fig_range(s, &figs[g], &d->range[g]);
	const char *name = json_string_value(json_object_get(j, "scenario"));
	if ((rc = write_sweep_csv(dir, s, d, err, errlen)) < 0 ||
	    (rc = write_layout(dir, name ? name : "", s, d, err, errlen)) < 0)
		return rc;
	return 0;
}

/* The plots section: the sweep figures, the latency CDF, and each
 * point's energy histogram and time series (all when there are few
 * points, else one at a time with a selector). */
static void plots_html(FILE *f, const char *dir, const struct sweep *s, const struct drawn *d,
		       int failed)
{
	static const char *const order[] = {"delivery_ratio", "retransmissions", "latency",
					    "latency_cdf", "energy_per_message",
					    "bytes_per_message"};
	char name[64], label[512];

	fputs("<h2>Plots</h2>\n", f);
	if (failed)
		fprintf(f, "<p>%d of %zu plot scripts could not run (is gnuplot installed? "
			"see plots/.*.log); <code>coapsim plot DIR</code> draws them again.</p>\n",
			failed, SIM_ARRAY_LEN(scripts));
	if (s->x >= 0) {
		fputs("<p class=\"meta\">x axis: <code>", f);
		fs_put_markup(f, s->key[s->x].name);
		fputs("</code>", f);
		if (s->n_by) {
			fputs("; lines: <code>", f);
			join_keys(s, 0, label, sizeof(label));
			fs_put_markup(f, label);
			fputs("</code>", f);
			if (s->facet) {
				fputs(" (one panel per <code>", f);
				fs_put_markup(f, s->key[s->by[0]].name);
				fputs("</code>)", f);
			}
		}
		fputs(". Choose others with <code>coapsim plot DIR --x KEY --by KEY</code>.</p>\n", f);
	}
	if (!s->n_keys)
		fputs("<p>Nothing is swept, so there is one point and its numbers are in the "
		      "summary table; sweep a key (<code>--set 'link.loss=${1%, 5%, 10%}'</code>) "
		      "to plot the metrics against it.</p>\n", f);
	for (size_t i = 0; i < SIM_ARRAY_LEN(order); i++) {
		const struct fig *fg = NULL;
		const struct fig_range *r = NULL;
		for (size_t g = 0; g < SIM_ARRAY_LEN(figs); g++)
			if (!strcmp(figs[g].name, order[i])) {
				fg = &figs[g];
				r = &d->range[g];
			}
		if (fg && !s->n_keys)
			continue;
		const char *heading = fg ? fg->heading : "Latency CDF";
		fprintf(f, "<h3>%s</h3>\n", heading);
		bool has = fg ? r->has : d->any_cdf;
		if (!has) {
			fprintf(f, "<p>Not drawn: %s.</p>\n",
				fg ? fg->absent
				   : "no message was confirmed (CoAP NON, MQTT QoS 0), so there is "
				     "no latency to confirmation");
			continue;
		}
		if (!fg && d->cdf_shown < s->n_pts)
			fprintf(f, "<p class=\"meta\">Replication 0 of %zu of the %zu points%s.</p>\n",
				d->cdf_shown, s->n_pts,
				d->cdf_points < s->n_pts ? " (the others have no confirmed message)" : "");
		else if (!fg)
			fputs("<p class=\"meta\">Replication 0 of each point.</p>\n", f);
		figure(f, dir, order[i], heading);
	}

	fputs("<h3>Energy per endpoint and messages in flight, per point</h3>\n"
	      "<p class=\"meta\">Replication 0 of each point.</p>\n", f);
	bool pick = s->n_pts > 3;
	if (pick) {
		fputs("<p><label>point: <select id=\"point\" onchange=\"showPoint(this.value)\">\n", f);
		for (size_t p = 0; p < s->n_pts; p++) {
			point_label(s, p, label, sizeof(label));
			fprintf(f, "<option value=\"%zu\">p%zu: ", p, p);
			fs_put_markup(f, label);
			fputs("</option>\n", f);
		}
		fputs("</select></label></p>\n", f);
	}
	for (size_t p = 0; p < s->n_pts; p++) {
		point_label(s, p, label, sizeof(label));
		fprintf(f, "<div class=\"point\" data-point=\"%zu\"%s>\n", p,
			pick && p ? " style=\"display:none\"" : "");
		if (!pick) {
			fprintf(f, "<h4>p%zu: ", p);
			fs_put_markup(f, label);
			fputs("</h4>\n", f);
		}
		snprintf(name, sizeof(name), "energy_histogram-p%zu", p);
		if (!d->pf[p].energy || !figure(f, dir, name, "Energy per endpoint"))
			fputs("<p>No energy histogram for this point.</p>\n", f);
		snprintf(name, sizeof(name), "timeseries-p%zu", p);
		if (!d->pf[p].series || !figure(f, dir, name, "Messages in flight"))
			fputs("<p>No time series for this point: it counts CoAP requests (in "
			      "flight, completed) and queue drops, and this point has none.</p>\n", f);
		fputs("</div>\n", f);
	}
	if (pick)
		fputs("<script>\nfunction showPoint(p) {\n"
		      "  document.querySelectorAll('div.point').forEach(function (d) {\n"
		      "    d.style.display = d.dataset.point === p ? '' : 'none';\n  });\n}\n"
		      "</script>\n", f);
}

int report_build(const char *dir, char *err, size_t errlen)
{
	char path[PATH_MAX + 64], tmp[PATH_MAX + 64];
	json_error_t je;
	json_t *j;

	/* data/report.json is summary.json without the runs: small. */
	snprintf(path, sizeof(path), "%s/data/report.json", dir);
	j = json_load_file(path, 0, &je);
	if (!j) {
		snprintf(path, sizeof(path), "%s/summary.json", dir);
		j = json_load_file(path, 0, &je);
	}
	if (!j) {
		/* A truncated or empty summary (or none) is not a result set:
		 * bad input, and the plots already there stay as they are. */
		bool there = access(path, R_OK) == 0 || errno != EACCES;
		snprintf(err, errlen, "%s: %s%s", path, je.text,
			 there ? " (not a complete coapsim result; plots left as they were)" : "");
		return there ? SIM_ERR_INVAL : SIM_ERR_IO;
	}
	struct sweep s;
	struct drawn d = {0};
	int rc = plot_inputs(dir, j, &s, &d, err, errlen);
	if (rc < 0) {
		json_decref(j);
		free(d.pf);
		return rc;
	}
	int failed = draw(dir);

	snprintf(tmp, sizeof(tmp), "%s/.report.html.tmp", dir);
	FILE *f = fopen(tmp, "w");
	if (!f) {
		snprintf(err, errlen, "%s: cannot write: %s", tmp, strerror(errno));
		sweep_free(&s);
		free(d.pf);
		json_decref(j);
		return SIM_ERR_IO;
	}
	const char *name = json_string_value(json_object_get(j, "scenario"));
	fputs("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n<title>coapsim: ", f);
	fs_put_markup(f, name ? name : "");
	fputs("</title>\n<style>\nbody{font-family:sans-serif;max-width:1000px;margin:2em auto;"
	      "padding:0 1em;color:#222}\ntable{border-collapse:collapse;font-size:14px}\n"
	      "td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}\n"
	      "th{background:#f3f3f3}\ntd:first-child,th:first-child,td:nth-child(2),th:nth-child(2){text-align:left}\n"
	      "img{max-width:100%;border:1px solid #eee;margin:0.5em 0}\n"
	      "pre{background:#f7f7f7;padding:1em;overflow-x:auto;font-size:13px}\n"
	      ".meta{color:#666;font-size:14px}\n"
	      "table.claims td,table.claims th{text-align:left;vertical-align:top}\n"
	      "table.claims td:nth-child(4){width:45%;font-size:13px}\nselect{font-size:14px;max-width:100%}\n</style></head><body>\n", f);
	fputs("<h1>coapsim report: ", f);
	fs_put_markup(f, name ? name : "");
	fputs("</h1>\n<p class=\"meta\">coapsim ", f);
	fs_put_markup(f, json_string_value(json_object_get(j, "version")) ?: "");
	fputs(" &middot; <code>", f);
	fs_put_markup(f, json_string_value(json_object_get(j, "command")) ?: "");
	fputs("</code></p>\n", f);
	json_t *bad = json_object_get(j, "untrustworthy_runs");
	if (json_array_size(bad)) {
		size_t k;
		json_t *id;
		fputs("<p style=\"color:#a00\"><strong>Not trustworthy:</strong> in run", f);
		fputs(json_array_size(bad) > 1 ? "s" : "", f);
		json_array_foreach(bad, k, id) {
			fputs(k ? ", " : " ", f);
			fs_put_markup(f, json_string_value(id) ?: "");
		}
		fputs(" the load generator fell behind (<code>generator_lag_ms</code> p99 above "
		      "<code>live.lag_limit</code>): their latencies include its own lag.</p>\n",
		      f);
	}

	/* The summary table: one row per point, mean ± 95% CI. */
	fputs("<h2>Summary</h2>\n<table><tr><th>point</th><th>parameters</th><th>runs</th>"
	      "<th>messages</th><th>delivery ratio</th><th>success ratio</th>"
	      "<th>retransmissions / msg</th><th>latency p50 (ms)</th>"
	      "<th>latency p99 (ms)</th><th>energy / msg (mJ)</th><th>lifetime (days)</th></tr>\n",
	      f);
	size_t i;
	json_t *pt;
	json_array_foreach(json_object_get(j, "points"), i, pt) {
		json_t *m = json_object_get(pt, "metrics"), *params = json_object_get(pt, "params");
		const char *k;
		json_t *v;
		fprintf(f, "<tr><td>%zu</td><td>", i);
		json_object_foreach(params, k, v) {
			fs_put_markup(f, k);
			fputs("=", f);
			fs_put_markup(f, json_string_value(v) ?: "");
			fputs(" ", f);
		}
		fprintf(f, "</td><td>%lld</td>",
			(long long)json_integer_value(json_object_get(pt, "replications")));
		cell(f, m, "messages", NULL, "%.0f");
		cell(f, m, "delivery_ratio", NULL, "%.5f");
		cell(f, m, "success_ratio", NULL, "%.5f");
		cell(f, m, "retransmissions_per_message", NULL, "%.4f");
		cell(f, m, "latency_ms", "p50", "%.1f");
		cell(f, m, "latency_ms", "p99", "%.1f");
		cell(f, m, "energy_mj", "per_message", "%.3f");
		cell(f, m, "lifetime_days", NULL, "%.0f");
		fputs("</tr>\n", f);
	}
	fputs("</table>\n<p class=\"meta\">&plusmn; is the half-width of the 95% confidence "
	      "interval (Student t) over the replications of a point. Every metric of every "
	      "run is in <code>summary.json</code> and <code>runs.csv</code>.</p>\n", f);

	claims(f, j);
	plots_html(f, dir, &s, &d, failed);
	fputs("<h2>Scenario</h2>\n<pre>", f);
	fs_put_markup(f, json_string_value(json_object_get(j, "scenario_text")) ?: "");
	fputs("</pre>\n</body></html>\n", f);
	json_decref(j);
	sweep_free(&s);
	free(d.pf);
	if (ferror(f) | (fclose(f) != 0)) {
		snprintf(err, errlen, "%s: cannot write: %s", tmp, strerror(errno));
		remove(tmp);
		return SIM_ERR_IO;
	}
	snprintf(path, sizeof(path), "%s/report.html", dir);
	return fs_commit(tmp, path, err, errlen);
}
