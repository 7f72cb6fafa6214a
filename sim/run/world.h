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

#include "../net/net.h"
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
	const struct hist *lat, *lag; /* where the p99s come from (during the call) */
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
	/* Optional: told once the fleet is built (rc 0) or could not be,
	 * before the first event; returns rc, or < 0 to stop the run there
	 * (a live run over MPI ranks: they all begin together, or none). */
	int (*ready)(void *ud, int rc);
	void *ready_ud;
	/* A slice of a fleet split over MPI ranks (the scenario's counts are
	 * the slice's): group g's endpoints are the whole fleet's from
	 * id_first[g] on, of n_fleet in all.  Who an endpoint is (random
	 * streams, {id}, MQTT client id, exchanges rows, [live] ramp) is its
	 * place in the whole fleet.  NULL: the fleet is whole. */
	const uint32_t *id_first;
	uint32_t n_fleet;
	/* Optional: filled with what the results are made from (the caller
	 * frees it with run_parts_free), for adding slices together. */
	struct run_parts *parts;
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

/* What a run's results are made from: per group the counters as counted
 * and the latency histograms, each endpoint's energy; the channel's, the
 * engine's and the generator's figures.  world_run makes its results from
 * its own; a run split over MPI ranks adds its slices' (run_parts_add)
 * and makes the whole run's results from the sum the same way. */
struct run_parts {
	size_t n_groups;
	struct run_metrics m[SIM_MAX_GROUPS]; /* counters; no summaries yet */
	struct hist lat[SIM_MAX_GROUPS], dlat[SIM_MAX_GROUPS], hs[SIM_MAX_GROUPS];
	double *energy[SIM_MAX_GROUPS]; /* mJ, per endpoint in the order of identity */
	uint32_t n_ep[SIM_MAX_GROUPS];
	double steady_mj[2][SIM_MAX_GROUPS]; /* at warmup, at duration */
	struct net_stats net;
	uint64_t events, refused;
	struct hist lag;
	double wall_s;
	struct run_sample *series; /* NULL in world_run's; see run_parts_add */
	size_t n_series;
};
void run_parts_free(struct run_parts *p);
/* dst += src: counters and histograms added, src's endpoints after dst's
 * (slices in rank order keep the order of identity), the longest wall
 * time, the series added sample by sample.  0 or SIM_ERR_NOMEM. */
int run_parts_add(struct run_parts *dst, const struct run_parts *src);
/* The run's results from its parts (res->series untouched).  0 or
 * SIM_ERR_NOMEM. */
int run_parts_finish(const struct scenario_cfg *cfg, const struct run_parts *p,
		     struct run_result *res);

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
