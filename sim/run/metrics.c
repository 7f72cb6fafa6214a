/* Latency histograms and the code generated from metrics_table.h (totals,
 * null rules, the docs' table).  Knows no protocol and no file format. */
#include "metrics.h"

#include <stdlib.h>
#include <string.h>

static uint32_t bucket_of(uint64_t us)
{
	if (us < 2 * HIST_SUB)
		return (uint32_t)us;
	unsigned e = 63 - (unsigned)__builtin_clzll(us) - HIST_SUB_BITS; /* >= 1 */
	uint32_t idx = HIST_SUB * (e + 1) + (uint32_t)((us >> e) - HIST_SUB);
	return idx < HIST_BUCKETS ? idx : HIST_BUCKETS - 1;
}

/* Lowest value (us) in bucket idx, and the bucket's width. */
static void bucket_range(uint32_t idx, uint64_t *lo, uint64_t *width)
{
	if (idx < 2 * HIST_SUB) {
		*lo = idx;
		*width = 1;
		return;
	}
	unsigned e = idx / HIST_SUB - 1;
	*lo = ((uint64_t)(idx % HIST_SUB) + HIST_SUB) << e;
	*width = 1ull << e;
}

int hist_add(struct hist *h, sim_time v)
{
	if (!h->b) {
		h->b = calloc(HIST_BUCKETS, sizeof(*h->b));
		if (!h->b)
			return SIM_ERR_NOMEM;
	}
	h->b[bucket_of(v / 1000)]++;
	h->count++;
	h->sum_ns += (double)v;
	if (v > h->max)
		h->max = v;
	return 0;
}

void hist_free(struct hist *h)
{
	free(h->b);
	*h = (struct hist){0};
}

int hist_merge(struct hist *dst, const struct hist *src)
{
	if (!src->count)
		return 0;
	if (!dst->b) {
		dst->b = calloc(HIST_BUCKETS, sizeof(*dst->b));
		if (!dst->b)
			return SIM_ERR_NOMEM;
	}
	for (uint32_t i = 0; i < HIST_BUCKETS; i++)
		dst->b[i] += src->b[i];
	dst->count += src->count;
	dst->sum_ns += src->sum_ns;
	if (src->max > dst->max)
		dst->max = src->max;
	return 0;
}

/* count, sum_ns, max, the number of buckets, then (index, count) each */
#define HIST_HEAD (8 + 8 + 8 + 4)
#define HIST_PAIR (4 + 8)

size_t hist_pack(const struct hist *h, uint8_t *buf)
{
	uint32_t n = 0;
	uint8_t *at = buf ? buf + HIST_HEAD : NULL;
	for (uint32_t i = 0; h->b && i < HIST_BUCKETS; i++) {
		if (!h->b[i])
			continue;
		if (at) {
			memcpy(at, &i, 4);
			memcpy(at + 4, &h->b[i], 8);
			at += HIST_PAIR;
		}
		n++;
	}
	if (buf) {
		memcpy(buf, &h->count, 8);
		memcpy(buf + 8, &h->sum_ns, 8);
		memcpy(buf + 16, &h->max, 8);
		memcpy(buf + 24, &n, 4);
	}
	return HIST_HEAD + (size_t)n * HIST_PAIR;
}

long hist_unpack_add(struct hist *h, const uint8_t *buf, size_t len)
{
	struct hist x = {0};
	uint32_t n;
	if (len < HIST_HEAD)
		return -1;
	memcpy(&x.count, buf, 8);
	memcpy(&x.sum_ns, buf + 8, 8);
	memcpy(&x.max, buf + 16, 8);
	memcpy(&n, buf + 24, 4);
	if (n > HIST_BUCKETS || len < HIST_HEAD + (size_t)n * HIST_PAIR)
		return -1;
	if (n && !h->b && !(h->b = calloc(HIST_BUCKETS, sizeof(*h->b))))
		return -1;
	uint64_t total = 0;
	for (uint32_t k = 0; k < n; k++) {
		uint32_t i;
		uint64_t c;
		memcpy(&i, buf + HIST_HEAD + (size_t)k * HIST_PAIR, 4);
		memcpy(&c, buf + HIST_HEAD + (size_t)k * HIST_PAIR + 4, 8);
		if (i >= HIST_BUCKETS)
			return -1;
		h->b[i] += c;
		total += c;
	}
	if (total != x.count)
		return -1;
	h->count += x.count;
	h->sum_ns += x.sum_ns;
	if (x.max > h->max)
		h->max = x.max;
	return (long)(HIST_HEAD + (size_t)n * HIST_PAIR);
}

/* The rank (1..count) of the sample at quantile q. */
static uint64_t rank_of(const struct hist *h, double q)
{
	uint64_t rank = (uint64_t)(q * (double)h->count + 0.999999999);
	if (rank < 1)
		rank = 1;
	return rank > h->count ? h->count : rank;
}

/* One pass over the buckets for all n (a latency CDF asks for 201: a
 * pass each was most of a small run's reporting). */
void hist_quantiles(const struct hist *h, size_t n, const double *q, sim_time *out)
{
	size_t k = 0;
	uint64_t seen = 0;

	for (uint32_t i = 0; h->count && i < HIST_BUCKETS && k < n; i++) {
		seen += h->b[i];
		for (; k < n && seen >= rank_of(h, q[k]); k++) {
			uint64_t lo, w;
			bucket_range(i, &lo, &w);
			/* Midpoint of the bucket; exact for 1-us buckets. */
			sim_time v = lo * 1000 + (w > 1 ? w * 500 : 0);
			out[k] = v > h->max ? h->max : v;
		}
	}
	for (; k < n; k++)
		out[k] = h->count ? h->max : 0;
}

sim_time hist_quantile(const struct hist *h, double q)
{
	sim_time v;
	hist_quantiles(h, 1, &q, &v);
	return v;
}

void hist_summary(const struct hist *h, struct lat_summary *s)
{
	s->count = h->count;
	if (!h->count) {
		*s = (struct lat_summary){0};
		return;
	}
	static const double q[4] = {0.50, 0.90, 0.99, 0.999};
	sim_time v[4];
	hist_quantiles(h, 4, q, v);
	s->p50 = sim_time_to_ms(v[0]);
	s->p90 = sim_time_to_ms(v[1]);
	s->p99 = sim_time_to_ms(v[2]);
	s->p999 = sim_time_to_ms(v[3]);
	s->mean = h->sum_ns / (double)h->count / 1e6;
	s->max = sim_time_to_ms(h->max);
}

/* ---------------------------------------------------------------- the table */

void run_metrics_add(struct run_metrics *t, const struct run_metrics *g)
{
#define ADD_(name, field, ...) t->field += g->field;
#define OR_(field, doc) t->field |= g->field;
#define SUM_(field, doc) t->field += g->field;
#define SKIP_(...)
	RUN_METRICS(ADD_, SKIP_, SKIP_, SKIP_)
	RUN_METRICS_STATE(OR_, SUM_)
#undef ADD_
#undef OR_
#undef SUM_
#undef SKIP_
}

bool metric_is_null(enum metric_null why, const struct run_metrics *m, bool channel_known)
{
	switch (why) {
#define CASE_(id, cond, doc)                                                                  \
	case METRIC_NULL_##id:                                                                \
		return (cond);
		METRIC_NULLS(CASE_)
#undef CASE_
	}
	(void)channel_known;
	return false;
}

static const char *const null_docs[] = {
#define DOC_(id, cond, doc) doc,
	METRIC_NULLS(DOC_)
#undef DOC_
};

const char *const metric_stat_names[METRIC_N_STATS] = {
#define NAME_(id, member, arg) #member,
	METRIC_LAT_STATS(NAME_, )
#undef NAME_
};

const struct metric_info metric_table[] = {
#define ROW_(kind, name, nul, combine, better, cmp, doc)                                     \
	{name, kind, METRIC_NULL_##nul, METRIC_##better, cmp, combine, doc},
#define COUNT_(name, field, nul, better, cmp, doc)                                            \
	ROW_(METRIC_COUNT, name, nul, "sum", better, METRIC_CMP_##cmp, doc)
#define CHAN_(name, field, nul, better, cmp, doc)                                             \
	ROW_(METRIC_CHAN, name, nul, "whole run", better, METRIC_CMP_##cmp, doc)
#define REAL_(name, value, nul, combine, better, cmp, doc)                                    \
	ROW_(METRIC_REAL, name, nul, combine, better, METRIC_CMP_##cmp, doc)
#define LAT_(name, field, nul, better, cmp, doc)                                              \
	ROW_(METRIC_LAT, name, nul, "every sample", better, (cmp), doc)
	RUN_METRICS(COUNT_, CHAN_, REAL_, LAT_)
#undef ROW_
#undef COUNT_
#undef CHAN_
#undef REAL_
#undef LAT_
};
const size_t metric_table_len = SIM_ARRAY_LEN(metric_table);

void metric_table_markdown(FILE *f)
{
	static const char *const kind[] = {
		[METRIC_COUNT] = "integer", [METRIC_CHAN] = "integer",
		[METRIC_REAL] = "real", [METRIC_LAT] = "ms: `p50 p90 p99 p999 mean max`"};
	static const char *const better[] = {
		[METRIC_NEUTRAL] = "", [METRIC_HIGHER] = "higher", [METRIC_LOWER] = "lower"};

	fputs("| metric | type | run from groups | null when | better | meaning |\n"
	      "|---|---|---|---|---|---|\n",
	      f);
	for (size_t i = 0; i < metric_table_len; i++) {
		const struct metric_info *r = &metric_table[i];
		fprintf(f, "| `%s` | %s | %s | %s | %s", r->name, kind[r->kind], r->combine,
			r->null_when == METRIC_NULL_NEVER ? "" : null_docs[r->null_when],
			better[r->better]);
		if (r->baseline && r->kind == METRIC_LAT) {
			fputs(" (baseline:", f);
			for (int s = 0; s < METRIC_N_STATS; s++)
				if (r->baseline & 1u << s)
					fprintf(f, " %s", metric_stat_names[s]);
			fputs(")", f);
		} else if (r->baseline) {
			fputs(" (baseline)", f);
		}
		fprintf(f, " | %s |\n", r->doc);
	}
}
