/* The run matrix: every point of a scenario's sweep, each `replications`
 * times, over `jobs` worker threads; then summary.json, runs.csv (and
 * exchanges.csv) in the results folder and a table on stdout.
 *
 * Results do not depend on the number of jobs: every run is independent,
 * seeded from (base seed + replication), and written in run order. */
#ifndef COAPSIM_RUNNER_H
#define COAPSIM_RUNNER_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "../scenario/scenario.h"
#include "metrics.h"

struct runner_opts {
	unsigned jobs;          /* >= 1 */
	bool have_seed;
	uint64_t seed;          /* --seed */
	uint32_t replications;  /* --replications, 0 = scenario's */
	const char *out_dir;    /* --out, NULL = output.dir */
	bool no_pcap;
	bool quiet;             /* no progress, no table */
	bool no_table;          /* progress only (coapsim check) */
	const char *command_line; /* recorded in summary.json */
	uint64_t max_memory;    /* --max-memory bytes, 0 = what the machine has available */
	uint64_t max_disk;      /* --max-disk bytes, 0 = free space where results go */
	bool allow_remote;      /* --allow-remote: a live target may be beyond loopback */
	bool resume;            /* --resume: keep the runs a killed sweep completed */
};

/* What a finished run matrix offers to its caller (coapsim check). */
struct runner_view;

/* Called once per point, in point order, when all its replications have
 * finished (the point's values are in the view only during the call).  A
 * return other than COAPSIM_EXIT_OK becomes runner_run's.  Optional. */
typedef int (*runner_done_fn)(void *ud, const struct runner_view *v);

/* Exit statuses of the contract. */
enum { COAPSIM_EXIT_OK = 0, COAPSIM_EXIT_EXPECT = 1, COAPSIM_EXIT_USAGE = 2, COAPSIM_EXIT_RUN = 3 };

/* Run everything and write the results.  Returns an exit status; on failure
 * a one-line message has gone to stderr.  Writes are atomic per file: a
 * failed run leaves no summary.json behind.  Memory does not grow with the
 * number of runs beyond a few dozen bytes each: results are written and
 * freed in run order as they finish. */
int runner_run(const struct scenario_src *src, const struct runner_opts *o,
	       runner_done_fn done, void *ud);

/* Before anything runs: estimate memory (the largest run, times the runs
 * at once), events, and disk (captures, exchanges.csv, per-run results)
 * for the whole matrix; print them when `print`; refuse what would not
 * fit the limits with one line naming the key that drives the estimate.
 * Returns COAPSIM_EXIT_OK or COAPSIM_EXIT_USAGE (message in err). */
int runner_preflight(const struct scenario_src *src, const struct runner_opts *o, bool print,
		     char *err, size_t errlen);

size_t runner_view_points(const struct runner_view *v);
size_t runner_view_point(const struct runner_view *v); /* the point at hand */
uint32_t runner_view_reps(const struct runner_view *v);
const char *runner_view_out_dir(const struct runner_view *v);

/* One metric ("delivery_ratio", "latency_ms.p99") of one group (NULL for
 * the whole run) over the replications of the point at hand: vals[k],
 * nulls[k] for k < reps.  Returns 0, or SIM_ERR_NOTFOUND for an unknown
 * metric or group, or another point. */
int runner_view_values(const struct runner_view *v, size_t point, const char *group,
		       const char *metric, double *vals, bool *nulls);

/* One metric as a flat name ("latency_ms.p99") and a value or null. */
struct metric_field {
	const char *name;
	double value;
	bool null;
	bool integer; /* a count: printed without decimals */
};
#define METRIC_FIELDS_MAX 80
/* Fill out[] with the contract's metrics (plus extras) of m: the rows of
 * metrics_table.h in their order, a latency row as its six values; returns
 * count.  channel_known: false for a group of a run with several. */
size_t metric_fields(const struct run_metrics *m, bool channel_known,
		     struct metric_field out[METRIC_FIELDS_MAX]);

/* Two-sided 95% Student t quantile for df degrees of freedom. */
double student_t95(unsigned df);

#endif
