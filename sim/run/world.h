/* One run: a scenario point with one seed, on the native engine.
 *
 * world_run() builds the endpoints, the server sessions and the channel,
 * runs the engine until traffic has stopped (at scenario.duration) and every
 * exchange has finished, and fills in the run's metrics.  It touches no
 * global state, so runs on several threads are independent. */
#ifndef COAPSIM_WORLD_H
#define COAPSIM_WORLD_H

#include <stdatomic.h>
#include <stdio.h>

#include "../scenario/scenario.h"
#include "metrics.h"

struct trace;

/* Where a run in real time stands, once a second (backends with a
 * generator: live): counted messages so far, their outcomes, latency p99
 * so far (ms), the generator's lag p99 so far (ms). */
struct run_tick {
	double t_s;
	uint64_t messages, completed, failed;
	double p99_ms, lag_p99_ms;
};

struct run_opts {
	FILE *exchanges;        /* one CSV row per message, or NULL */
	const char *run_id;     /* "p0-r0", for the exchanges rows */
	struct trace *trace;    /* packet capture, or NULL */
	FILE *keylog;           /* NSS key log of the run's DTLS/TLS sessions, or NULL */
	_Atomic uint64_t *progress_ns; /* simulated time done, updated as it runs */
	_Atomic int *stop;      /* set: end the run at its next step (SIM_ERR_STOPPED) */
	char *err;              /* when the run fails for a reason it can name: one line */
	size_t errlen;
	/* Optional: told each second of a run in real time. */
	void (*tick)(void *ud, const struct run_tick *t);
	void *tick_ud;
};

#define RUN_CDF_POINTS 201  /* latency quantiles 0, 0.5%, ... 100% */
#define RUN_EHIST_BINS 40    /* per-endpoint energy histogram */

/* Samples of a run's time series at most: once a second (or 3,600 over
 * the traffic when it is longer than an hour), and when a long drain
 * fills them, every other one is dropped and the step doubles. */
#define RUN_SERIES_MAX 8192

/* One sample of the run's time series. */
struct run_sample {
	double t_s;           /* simulated time */
	sim_time t_ns;        /* the same, exactly */
	uint32_t in_flight;   /* exchanges awaiting an answer */
	uint64_t queue_drops; /* so far */
	uint64_t completed;   /* so far */
	double in_flight_s;   /* the in-flight count's exact integral so far, s */
};

struct run_result {
	struct run_metrics total;
	size_t n_groups;
	struct run_metrics groups[SIM_MAX_GROUPS];
	/* For plots: latency quantiles (ms) of all completed messages, the
	 * distribution of energy over endpoints, and a time series. */
	double cdf_ms[RUN_CDF_POINTS];
	double ehist_min, ehist_max; /* mJ */
	uint32_t ehist[RUN_EHIST_BINS];
	struct run_sample *series;   /* heap; free with run_result_free */
	size_t n_series;
};

void run_result_free(struct run_result *r);

/* Returns 0, SIM_ERR_NOMEM, SIM_ERR_IO (exchange log or capture failed),
 * or SIM_ERR_STOPPED (opts->stop was set). */
int world_run(const struct scenario_cfg *cfg, uint64_t seed,
	      const struct run_opts *opts, struct run_result *res);

/* What one run of a scenario point will need, estimated before it runs
 * from the scenario alone: `coapsim validate` prints it and `run` refuses
 * what would not fit.  Sizes are the structures' own plus per-packet and
 * per-message costs; the queued packets are bounded by the links' queues. */
struct run_estimate {
	double memory;          /* bytes at the peak */
	double messages;        /* application messages */
	double events;          /* engine events */
	double capture_bytes;   /* pcap files, when captures are on */
	double exchanges_bytes; /* exchanges.csv rows, when on */
	int mem_group;          /* the group that needs the most memory */
	int msg_group;          /* the group that sends the most */
};
void world_estimate(const struct scenario_cfg *cfg, struct run_estimate *e);

/* Header line of the exchanges CSV (no newline). */
extern const char *const world_exchanges_header;

#endif
