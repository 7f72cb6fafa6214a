/* Scenario value parsers: numbers with units, probabilities, distributions,
 * loss models and traffic patterns. */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "units.h"

#define ARG_BUF 256 /* longest distribution or loss text accepted */

static const struct scenario_unit time_u[] = {
    {"ns", 1.0},   {"us", 1e3},	  {"ms", 1e6}, {"s", 1e9},
    {"min", 60e9}, {"h", 3600e9}, {NULL, 0},
};
static const struct scenario_unit rate_u[] = {
    {"bps", 1.0}, {"kbps", 1e3}, {"Mbps", 1e6}, {"Gbps", 1e9}, {NULL, 0},
};
static const struct scenario_unit size_u[] = {
    {"B", 1.0},	     {"kB", 1e3},	 {"MB", 1e6},		{"GB", 1e9},
    {"KiB", 1024.0}, {"MiB", 1048576.0}, {"GiB", 1073741824.0}, {NULL, 0},
};
static const struct scenario_unit volt_u[] = {
    {"V", 1.0},
    {"mV", 1e-3},
    {NULL, 0},
};
static const struct scenario_unit current_u[] = {
    {"mA", 1.0},
    {"uA", 1e-3},
    {"A", 1e3},
    {NULL, 0},
};
static const struct scenario_unit charge_u[] = {
    {"mAh", 1.0},
    {"Ah", 1e3},
    {NULL, 0},
};
static const struct scenario_unit byterate_u[] = {
    {"B/s", 1.0},
    {NULL, 0},
};
static const struct scenario_unit plain_u[] = {
    {NULL, 0},
};

const struct scenario_unitset scenario_time_units = {time_u, 1e9, "time", "ns us ms s min h"};
const struct scenario_unitset scenario_rate_units = {rate_u, 1.0, "rate", "bps kbps Mbps Gbps"};
const struct scenario_unitset scenario_size_units = {size_u, 1.0, "size", "B kB MB GB KiB MiB GiB"};
const struct scenario_unitset scenario_volt_units = {volt_u, 1.0, "voltage", "V mV"};
const struct scenario_unitset scenario_current_units = {current_u, 1.0, "current", "mA uA A"};
const struct scenario_unitset scenario_charge_units = {charge_u, 1.0, "charge", "mAh Ah"};
const struct scenario_unitset scenario_byterate_units = {byterate_u, 1.0, "rate", "B/s"};
const struct scenario_unitset scenario_plain_units = {plain_u, 1.0, "number", NULL};

static const char *skip_space(const char *s)
{
	while (isspace((unsigned char)*s))
		s++;
	return s;
}

/* s is word followed only by white space. */
static bool is_word(const char *s, const char *word)
{
	size_t n = strlen(word);

	return !strncmp(s, word, n) && !*skip_space(s + n);
}

static void why_set(char *why, size_t whylen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void why_set(char *why, size_t whylen, const char *fmt, ...)
{
	va_list ap;

	if (!why || !whylen)
		return;
	va_start(ap, fmt);
	vsnprintf(why, whylen, fmt, ap);
	va_end(ap);
}

int scenario_number(const char *s, double *out, const char **end)
{
	const char *p;
	char *e;
	double v;

	if (!isdigit((unsigned char)*s) && *s != '.' && *s != '+' && *s != '-')
		return SIM_ERR_INVAL;
	errno = 0;
	v = strtod(s, &e);
	if (e == s || errno == ERANGE || !isfinite(v))
		return SIM_ERR_INVAL;
	for (p = s; p < e; p++)
		if (!isdigit((unsigned char)*p) && !strchr(".eE+-", *p))
			return SIM_ERR_INVAL;
	*out = v;
	*end = e;
	return 0;
}

int scenario_scaled(const char *s, const struct scenario_unitset *us, double *out)
{
	const struct scenario_unit *u;
	const char *p;
	double v;

	s = skip_space(s);
	if (scenario_number(s, &v, &p))
		return SIM_ERR_INVAL;
	p = skip_space(p);
	if (!*p) {
		*out = v * us->bare;
		return 0;
	}
	for (u = us->units; u->suffix; u++) {
		if (is_word(p, u->suffix)) {
			v *= u->factor;
			if (!isfinite(v))
				return SIM_ERR_INVAL;
			*out = v;
			return 0;
		}
	}
	return SIM_ERR_INVAL;
}

int scenario_parse_time(const char *s, sim_time *out)
{
	double ns;

	if (scenario_scaled(s, &scenario_time_units, &ns) || ns < 0 || ns > SCN_TIME_MAX)
		return SIM_ERR_INVAL;
	*out = (sim_time)llround(ns);
	return 0;
}

int scenario_parse_rate(const char *s, uint64_t *out_bps)
{
	double bps;

	if (scenario_scaled(s, &scenario_rate_units, &bps) || bps < 0 || bps > SCN_RATE_MAX)
		return SIM_ERR_INVAL;
	*out_bps = (uint64_t)llround(bps);
	return 0;
}

int scenario_parse_size(const char *s, uint64_t *out_bytes)
{
	double b;

	if (scenario_scaled(s, &scenario_size_units, &b) || b < 0 || b > SCN_SIZE_MAX)
		return SIM_ERR_INVAL;
	/* Whole bytes only ("0.5B" is an error), allowing decimal noise. */
	if (fabs(b - round(b)) > 1e-6)
		return SIM_ERR_INVAL;
	*out_bytes = (uint64_t)llround(b);
	return 0;
}

int scenario_parse_prob(const char *s, double *out)
{
	const char *p;
	double v;

	s = skip_space(s);
	if (scenario_number(s, &v, &p))
		return SIM_ERR_INVAL;
	p = skip_space(p);
	if (*p == '%') {
		v /= 100.0;
		p = skip_space(p + 1);
	}
	if (*p || !(v >= 0.0 && v <= 1.0))
		return SIM_ERR_INVAL;
	*out = v + 0.0; /* no -0 */
	return 0;
}

int scenario_parse_int(const char *s, long long *out)
{
	const char *p = s;
	char *e;
	long long v;

	if (*p == '+' || *p == '-')
		p++;
	if (!isdigit((unsigned char)*p))
		return SIM_ERR_INVAL;
	while (isdigit((unsigned char)*p))
		p++;
	if (*skip_space(p))
		return SIM_ERR_INVAL;
	errno = 0;
	v = strtoll(s, &e, 10);
	if (errno == ERANGE)
		return SIM_ERR_INVAL;
	*out = v;
	return 0;
}

int scenario_parse_u64(const char *s, uint64_t *out)
{
	const char *p = s;
	unsigned long long v;
	char *e;

	if (!isdigit((unsigned char)*p))
		return SIM_ERR_INVAL;
	while (isdigit((unsigned char)*p))
		p++;
	if (*skip_space(p))
		return SIM_ERR_INVAL;
	errno = 0;
	v = strtoull(s, &e, 10);
	if (errno == ERANGE)
		return SIM_ERR_INVAL;
	*out = v;
	return 0;
}

int scenario_parse_bool(const char *s, bool *out)
{
	static const char *const yes[] = {"yes", "true", "on", "1"};
	static const char *const no[] = {"no", "false", "off", "0"};
	size_t i;

	for (i = 0; i < SIM_ARRAY_LEN(yes); i++) {
		if (!strcasecmp(s, yes[i])) {
			*out = true;
			return 0;
		}
		if (!strcasecmp(s, no[i])) {
			*out = false;
			return 0;
		}
	}
	return SIM_ERR_INVAL;
}

/* Copy s without surrounding white space into buf. */
static int trim_copy(char *buf, size_t len, const char *s)
{
	size_t n;

	s = skip_space(s);
	n = strlen(s);
	while (n && isspace((unsigned char)s[n - 1]))
		n--;
	if (n >= len)
		return SIM_ERR_INVAL;
	memcpy(buf, s, n);
	buf[n] = '\0';
	return 0;
}

static char *trim_inplace(char *s)
{
	size_t n;

	while (isspace((unsigned char)*s))
		s++;
	n = strlen(s);
	while (n && isspace((unsigned char)s[n - 1]))
		s[--n] = '\0';
	return s;
}

/* Split a trimmed "name(args)" in place: 1 when buf is not a call, 0 with
 * *name and *args set (both trimmed), SIM_ERR_INVAL when malformed. */
static int split_call(char *buf, char **name, char **args)
{
	char *lp = strchr(buf, '(');
	size_t n = strlen(buf);

	if (!lp) {
		if (strchr(buf, ')'))
			return SIM_ERR_INVAL;
		return 1;
	}
	if (n == 0 || buf[n - 1] != ')')
		return SIM_ERR_INVAL;
	buf[n - 1] = '\0';
	*lp = '\0';
	if (strpbrk(lp + 1, "()"))
		return SIM_ERR_INVAL;
	*name = trim_inplace(buf);
	*args = trim_inplace(lp + 1);
	return 0;
}

/* Split args at commas in place into at most max pieces (trimmed); returns
 * the count, or max + 1 when there are more. */
static size_t split_args(char *args, char **v, size_t max)
{
	size_t n = 0;
	char *c;

	if (!*args)
		return 0;
	for (;;) {
		if (n == max)
			return max + 1;
		c = strchr(args, ',');
		if (c)
			*c = '\0';
		v[n++] = trim_inplace(args);
		if (!c)
			return n;
		args = c + 1;
	}
}

static int time_arg(const char *s, double *out, char *why, size_t whylen)
{
	sim_time t;

	if (scenario_parse_time(s, &t)) {
		why_set(why, whylen, "'%s' is not a time (units: %s)", s,
			scenario_time_units.help);
		return SIM_ERR_INVAL;
	}
	*out = (double)t;
	return 0;
}

int scenario_dist(const char *s, struct dist *out, char *why, size_t whylen)
{
	static const struct {
		const char *name;
		enum dist_kind kind;
		size_t n_args;
	} fns[] = {
	    {"const", SIM_DIST_CONST, 1},	{"uniform", SIM_DIST_UNIFORM, 2},
	    {"normal", SIM_DIST_NORMAL, 2}, {"exp", SIM_DIST_EXP, 1},
	    {"pareto", SIM_DIST_PARETO, 2},
	};
	char buf[ARG_BUF];
	char *name, *args, *argv[3];
	const char *end;
	struct dist d = {SIM_DIST_NONE, 0, 0};
	size_t i, n;
	int rc;

	if (trim_copy(buf, sizeof(buf), s)) {
		why_set(why, whylen, "too long");
		return SIM_ERR_INVAL;
	}
	if (!strcmp(buf, "none")) {
		*out = d;
		return 0;
	}
	rc = split_call(buf, &name, &args);
	if (rc == 1) {
		d.kind = SIM_DIST_CONST;
		if (time_arg(buf, &d.a, why, whylen))
			return SIM_ERR_INVAL;
		*out = d;
		return 0;
	}
	if (rc) {
		why_set(why, whylen, "unbalanced parentheses");
		return SIM_ERR_INVAL;
	}
	for (i = 0; i < SIM_ARRAY_LEN(fns); i++)
		if (!strcmp(name, fns[i].name))
			break;
	if (i == SIM_ARRAY_LEN(fns)) {
		why_set(why, whylen, "unknown distribution '%s'", name);
		return SIM_ERR_INVAL;
	}
	n = split_args(args, argv, 2);
	if (n != fns[i].n_args) {
		why_set(why, whylen, "%s() takes %zu argument%s", name, fns[i].n_args,
			fns[i].n_args == 1 ? "" : "s");
		return SIM_ERR_INVAL;
	}
	d.kind = fns[i].kind;
	if (d.kind == SIM_DIST_PARETO) {
		if (scenario_number(argv[0], &d.a, &end) || *end || !(d.a > 0)) {
			why_set(why, whylen,
				"pareto shape must be a plain number > 0, got '%s'",
				argv[0]);
			return SIM_ERR_INVAL;
		}
	} else if (time_arg(argv[0], &d.a, why, whylen)) {
		return SIM_ERR_INVAL;
	}
	if (n == 2 && time_arg(argv[1], &d.b, why, whylen))
		return SIM_ERR_INVAL;
	switch (d.kind) {
	case SIM_DIST_UNIFORM:
		if (d.a > d.b) {
			why_set(why, whylen, "uniform(a, b) needs a <= b");
			return SIM_ERR_INVAL;
		}
		break;
	case SIM_DIST_EXP:
		if (!(d.a > 0)) {
			why_set(why, whylen, "exp(mean) needs a mean > 0");
			return SIM_ERR_INVAL;
		}
		break;
	case SIM_DIST_PARETO:
		if (!(d.b > 0)) {
			why_set(why, whylen, "pareto scale must be > 0");
			return SIM_ERR_INVAL;
		}
		break;
	default: break;
	}
	*out = d;
	return 0;
}

int scenario_parse_dist(const char *s, struct dist *out)
{
	return scenario_dist(s, out, NULL, 0);
}

int scenario_loss(const char *s, struct loss_cfg *out, char *why, size_t whylen)
{
	static const char *const names[] = {"p", "r", "loss_good", "loss_bad"};
	char buf[ARG_BUF];
	char *name, *args, *argv[5], *eq, *an;
	double v[4] = {0, 0, 0, 1.0};
	bool seen[4] = {false, false, false, false};
	const char *sug;
	size_t i, j, n;
	int rc;

	if (trim_copy(buf, sizeof(buf), s)) {
		why_set(why, whylen, "too long");
		return SIM_ERR_INVAL;
	}
	rc = split_call(buf, &name, &args);
	if (rc == 1) {
		if (scenario_parse_prob(buf, &v[0])) {
			why_set(why, whylen,
				"expected a probability (5%% or 0.05) or gilbert(p=, r=, "
				"loss_good=, loss_bad=)");
			return SIM_ERR_INVAL;
		}
		memset(out, 0, sizeof(*out));
		out->kind = LOSS_BERNOULLI;
		out->p = v[0];
		return 0;
	}
	if (rc) {
		why_set(why, whylen, "unbalanced parentheses");
		return SIM_ERR_INVAL;
	}
	if (strcmp(name, "gilbert")) {
		why_set(why, whylen,
			"unknown loss model '%s' (a probability or gilbert(...))", name);
		return SIM_ERR_INVAL;
	}
	n = split_args(args, argv, 4);
	if (n > 4) {
		why_set(why, whylen, "gilbert() takes at most 4 arguments");
		return SIM_ERR_INVAL;
	}
	for (i = 0; i < n; i++) {
		eq = strchr(argv[i], '=');
		if (!eq) {
			why_set(why, whylen,
				"gilbert() arguments are named: p=, r=, loss_good=, "
				"loss_bad=");
			return SIM_ERR_INVAL;
		}
		*eq = '\0';
		an = trim_inplace(argv[i]);
		for (j = 0; j < SIM_ARRAY_LEN(names); j++)
			if (!strcmp(an, names[j]))
				break;
		if (j == SIM_ARRAY_LEN(names)) {
			sug = scenario_suggest(an, names, SIM_ARRAY_LEN(names));
			why_set(why, whylen, "unknown gilbert() argument '%s'%s%s%s", an,
				sug ? " (did you mean '" : "", sug ? sug : "",
				sug ? "'?)" : "");
			return SIM_ERR_INVAL;
		}
		if (seen[j]) {
			why_set(why, whylen, "gilbert() argument '%s' given twice", an);
			return SIM_ERR_INVAL;
		}
		seen[j] = true;
		if (scenario_parse_prob(trim_inplace(eq + 1), &v[j])) {
			why_set(why, whylen, "bad probability '%s' for '%s'",
				trim_inplace(eq + 1), an);
			return SIM_ERR_INVAL;
		}
	}
	if (!seen[0] || !seen[1]) {
		why_set(why, whylen, "gilbert() needs p= and r=");
		return SIM_ERR_INVAL;
	}
	memset(out, 0, sizeof(*out));
	out->kind = LOSS_GILBERT;
	out->ge_p = v[0];
	out->ge_r = v[1];
	out->loss_good = v[2];
	out->loss_bad = v[3];
	return 0;
}

int scenario_traffic(const char *s, enum traffic_kind *kind, sim_time *interval, char *why,
		size_t whylen)
{
	char buf[ARG_BUF];
	char *name, *args;
	enum traffic_kind k;
	sim_time t;
	int rc;

	if (trim_copy(buf, sizeof(buf), s)) {
		why_set(why, whylen, "too long");
		return SIM_ERR_INVAL;
	}
	if (!strcmp(buf, "once")) {
		*kind = TRAFFIC_ONCE;
		*interval = 0;
		return 0;
	}
	rc = split_call(buf, &name, &args);
	if (rc) {
		why_set(why, whylen,
			"expected periodic(interval), poisson(mean), observe(interval) or once");
		return SIM_ERR_INVAL;
	}
	if (!strcmp(name, "periodic")) {
		k = TRAFFIC_PERIODIC;
	} else if (!strcmp(name, "poisson")) {
		k = TRAFFIC_POISSON;
	} else if (!strcmp(name, "observe")) {
		k = TRAFFIC_OBSERVE;
	} else {
		why_set(
		    why, whylen,
		    "unknown traffic '%s' (periodic(interval), poisson(mean), "
		    "observe(interval) or once)",
		    name);
		return SIM_ERR_INVAL;
	}
	if (scenario_parse_time(args, &t)) {
		why_set(why, whylen, "'%s' is not a time (units: %s)", args,
			scenario_time_units.help);
		return SIM_ERR_INVAL;
	}
	if (t == 0) {
		why_set(why, whylen, "%s() needs an interval > 0", name);
		return SIM_ERR_INVAL;
	}
	*kind = k;
	*interval = t;
	return 0;
}

size_t scenario_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), i, j, row[65], prev, cur;

	if (la > 64 || lb > 64)
		return SIZE_MAX;
	for (j = 0; j <= lb; j++)
		row[j] = j;
	for (i = 1; i <= la; i++) {
		prev = row[0];
		row[0] = i;
		for (j = 1; j <= lb; j++) {
			cur = prev + (tolower((unsigned char)a[i - 1]) !=
				      tolower((unsigned char)b[j - 1]));
			if (row[j] + 1 < cur)
				cur = row[j] + 1;
			if (row[j - 1] + 1 < cur)
				cur = row[j - 1] + 1;
			prev = row[j];
			row[j] = cur;
		}
	}
	return row[lb];
}

const char *scenario_suggest(const char *word, const char *const *cands, size_t n)
{
	const char *best = NULL;
	size_t i, d, bd = SIZE_MAX, len = strlen(word);

	for (i = 0; i < n; i++) {
		d = scenario_distance(word, cands[i]);
		if (d < bd) {
			bd = d;
			best = cands[i];
		}
	}
	if (best && bd <= 2 && bd < len)
		return best;
	return NULL;
}
