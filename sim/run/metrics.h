/* Per-run statistics: counters and latency histograms.
 *
 * Latencies go into a log-linear histogram (HdrHistogram-style) with 1 us
 * resolution below 2.048 ms and 1/1024 relative resolution above, so
 * percentiles are within 0.1% at any scale and memory stays fixed however
 * many messages a run has. Mean and max are exact. */
#ifndef COAPSIM_METRICS_H
#define COAPSIM_METRICS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "../core/sim.h"
#include "metrics_table.h"

#define HIST_SUB_BITS 10
#define HIST_SUB (1u << HIST_SUB_BITS)
#define HIST_BUCKETS (HIST_SUB * 2 + HIST_SUB * 40)

struct hist {
	uint64_t count;
	double sum_ns;
	sim_time max;
	uint64_t *b; /* HIST_BUCKETS counters, or NULL when never used */
};

/* Returns 0 or SIM_ERR_NOMEM. */
int hist_add(struct hist *h, sim_time v);
void hist_free(struct hist *h);
/* Add every sample of src to dst (for totals over groups). */
int hist_merge(struct hist *dst, const struct hist *src);
/* A histogram as bytes, its non-empty buckets only (a live run's slices
 * travel to rank 0 over MPI): hist_pack writes to buf (NULL: only counts)
 * and returns the length; hist_unpack_add adds what buf holds to h and
 * returns the bytes it read, or -1 (not a histogram, or out of memory). */
size_t hist_pack(const struct hist *h, uint8_t *buf);
long hist_unpack_add(struct hist *h, const uint8_t *buf, size_t len);
/* Value at quantile q in [0,1], ns (bucket midpoint, clipped to max). */
sim_time hist_quantile(const struct hist *h, double q);
/* The same for n quantiles in ascending order, in one pass. */
void hist_quantiles(const struct hist *h, size_t n, const double *q, sim_time *out);

/* Latency summary in milliseconds; valid only when count > 0. */
struct lat_summary {
	uint64_t count;
	double p50, p90, p99, p999, mean, max;
};
void hist_summary(const struct hist *h, struct lat_summary *s);

/* The fixed metrics of one run (or one group of a run): the counters and
 * latency summaries of the rows of metrics_table.h, the state beside them,
 * and what is measured apart (energy, wall time). */
#define RUN_METRICS_U64_(name, field, ...) uint64_t field;
#define RUN_METRICS_LAT_(name, field, ...) struct lat_summary field;
#define RUN_METRICS_NONE_(...)
#define RUN_METRICS_FLAG_(field, doc) bool field;
#define RUN_METRICS_TALLY_(field, doc) uint64_t field;
struct run_metrics {
	RUN_METRICS(RUN_METRICS_U64_, RUN_METRICS_U64_, RUN_METRICS_NONE_, RUN_METRICS_LAT_)
	RUN_METRICS_STATE(RUN_METRICS_FLAG_, RUN_METRICS_TALLY_)
	struct {
		bool valid;
		double total, per_node_mean, per_node_max; /* mJ */
		double lifetime_days;
	} energy;
	double wall_s;
};
#undef RUN_METRICS_U64_
#undef RUN_METRICS_LAT_
#undef RUN_METRICS_NONE_
#undef RUN_METRICS_FLAG_
#undef RUN_METRICS_TALLY_

/* Add a group's counters into the run's total: sum the counters, OR the
 * flags (the CHAN, REAL and LAT rows come about otherwise: see the table). */
void run_metrics_add(struct run_metrics *total, const struct run_metrics *group);

/* a / b, or 0 when b is 0 (the metric is then null). */
static inline double metric_ratio(double a, double b)
{
	return b != 0 ? a / b : 0;
}

/* Why a metric can be null: the ids of METRIC_NULLS. */
enum metric_null {
#define METRIC_NULL_ID_(id, cond, doc) METRIC_NULL_##id,
	METRIC_NULLS(METRIC_NULL_ID_)
#undef METRIC_NULL_ID_
};
bool metric_is_null(enum metric_null why, const struct run_metrics *m, bool channel_known);

/* A row's cmp: BASELINE or NO (a LAT row has a mask of METRIC_STAT_*). */
#define METRIC_CMP_BASELINE 1u
#define METRIC_CMP_NO 0u

enum metric_kind { METRIC_COUNT, METRIC_CHAN, METRIC_REAL, METRIC_LAT };
enum metric_better { METRIC_NEUTRAL, METRIC_HIGHER, METRIC_LOWER };

/* The values of a LAT row and the bits naming them. */
enum {
#define METRIC_STAT_BIT_(id, member, arg) METRIC_STAT_BIT_##id,
	METRIC_LAT_STATS(METRIC_STAT_BIT_, )
#undef METRIC_STAT_BIT_
	METRIC_N_STATS
};
#define METRIC_STAT_(id, member, arg) METRIC_STAT_##id = 1u << METRIC_STAT_BIT_##id,
enum { METRIC_LAT_STATS(METRIC_STAT_, ) };
#undef METRIC_STAT_
extern const char *const metric_stat_names[METRIC_N_STATS]; /* "p50" ... */

/* One row of the table, for whatever lists or judges metrics. */
struct metric_info {
	const char *name;       /* "delivery_ratio"; a LAT row's prefix "latency_ms" */
	enum metric_kind kind;
	enum metric_null null_when;
	enum metric_better better;
	unsigned baseline;      /* compared with a baseline: 1, or METRIC_STAT_* of a LAT row */
	const char *combine;    /* how a run's total comes from its groups */
	const char *doc;
};
extern const struct metric_info metric_table[];
extern const size_t metric_table_len;

/* The docs' metrics table (README.md), in Markdown. */
void metric_table_markdown(FILE *f);

#endif
