#include "metrics.h"

#include <stdlib.h>

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
