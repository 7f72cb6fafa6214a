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

struct run_opts {
	FILE *exchanges;        /* one CSV row per message, or NULL */
	const char *run_id;     /* "p0-r0", for the exchanges rows */
	struct trace *trace;    /* packet capture, or NULL */
	_Atomic uint64_t *progress_ns; /* simulated time done, updated as it runs */
};

struct run_result {
	struct run_metrics total;
	size_t n_groups;
	struct run_metrics groups[SIM_MAX_GROUPS];
};

/* Returns 0, SIM_ERR_NOMEM, or SIM_ERR_IO (exchange log or capture failed). */
int world_run(const struct scenario_cfg *cfg, uint64_t seed,
	      const struct run_opts *opts, struct run_result *res);

/* Header line of the exchanges CSV (no newline). */
extern const char *const world_exchanges_header;

#endif
