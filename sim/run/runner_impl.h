/* The runner's own structures, shared by runner.c (threads, output) and
 * runner_dist.c (runs over MPI ranks, resume).  Private to sim/run. */
#ifndef COAPSIM_RUNNER_IMPL_H
#define COAPSIM_RUNNER_IMPL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>

#include <jansson.h>

#include "../core/fsutil.h"
#include "../core/sim.h"
#include "metrics.h"
#include "runner.h"
#include "world.h"

struct run_slot {
	size_t point;
	uint32_t rep;
	uint64_t seed;
	char id[48];
	struct run_result *res; /* from the worker until emitted */
	int rc;
	char *err;              /* on failure */
	_Atomic uint64_t progress_ns;
	_Atomic int done;
	bool resumed;           /* done before this sweep: from the journal */
	json_t *ranks;          /* a live run split over MPI ranks: each one's slice */
};

/* The replications of the point being emitted: flat metric values of the
 * whole run ([0]) and of each group ([1 + g]). */
struct point_acc {
	size_t point;
	size_t n_groups;
	char names[SIM_MAX_GROUPS][SCN_NAME_LEN];
	size_t n_fields;
	const char *fields[METRIC_FIELDS_MAX];
	double *vals;   /* [1 + n_groups][reps][n_fields] */
	bool *nulls;
};

/* A path in the results or capture folder: the staging folder's, plus a
 * file name. */
#define RUN_PATH 4608

struct table_row {
	double v[7], ci[7]; /* NAN: does not apply */
};

struct runner {
	const struct scenario_src *src;
	const struct runner_opts *o;
	struct run_slot *runs;
	size_t n_runs, n_points;
	uint32_t reps;
	_Atomic size_t next;
	char out_dir[4300];  /* where results are written: the staging folder */
	char pcap_dir[4400];  /* (an fs_stage's part path fits both) */
	struct fs_stage out_st, pcap_st; /* published whole at the end */
	bool pcap_staged;
	bool pcap;
	bool exchanges;
	bool xlabel_numeric;
	_Atomic int failed;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	size_t emitted, window;
	FILE *runs_csv, *runs_json, *points_json, *points_csv, *exch;
	struct point_acc acc;
	struct table_row *rows;
	runner_done_fn on_point;
	void *ud;
	int cb_status;
	json_t *untrusted; /* ids of runs whose generator fell behind, or NULL */
	/* runner_dist.c */
	int ranks;            /* MPI ranks taking runs, this one included */
	bool announced;       /* the others know whether the sweep starts */
	pthread_t dispatcher; /* rank 0's thread serving the other ranks */
	bool dispatching;
	char journal[4400];   /* resume: the completed runs' records */
	bool split;           /* live runs: every rank runs a slice of each (runner_split.c) */
	bool split_ticks;     /* ... and rank 0 prints their progress every second */
};

/* Run slot s of r (its world_run, exchange log and captures), on the
 * calling thread. */
void runner_do_run(struct runner *r, struct run_slot *s);

/* Where a run's exchange log waits to be merged. */
void runner_exchanges_tmp_path(const struct runner *r, const struct run_slot *s, char *buf,
			       size_t len);

/* Set when SIGINT or SIGTERM arrived (the signal number). */
int runner_stopped(void);

/* A live run's progress line, once a second (ud: its run slot). */
void runner_live_tick(void *ud, const struct run_tick *t);

/* ---- runner_dist.c ---- */

/* A finished run as bytes (its result, status and error) and back; the
 * ranks run the same binary, so the result's own layout travels. */
void *runner_pack(const struct run_slot *s, size_t idx, size_t *len);
int runner_unpack(struct runner *r, const void *buf, size_t len);
/* The same into slot s, for run idx only: 0, or -1 (not that run's). */
int runner_unpack_slot(struct run_slot *s, size_t idx, const void *buf, size_t len);

/* Rank 0 of an MPI job: hand runs to the other ranks and take their
 * results back, until every run is done or the sweep failed and every
 * rank has been told to stop.  Started as a thread by runner_run. */
void *runner_dispatch(void *arg);

/* Ranks 1..n-1: run what rank 0 hands out, with o->jobs threads. */
int runner_remote(const struct scenario_src *src, const struct runner_opts *o);

/* The start of a sweep, rank 0 to the others: whether it starts and
 * where results go (r NULL: it does not).  Once per sweep, on every path:
 * the others wait for it. */
void runner_announce(struct runner *r, bool ok);

/* Resume (runner_dist.c): open the journal beside `final` (with resume,
 * load the runs it holds: marked done and resumed, their files linked
 * into the staging folders), record an emitted run, drop it once the
 * results are published. */
int runner_journal_open(struct runner *r, const char *final, bool resume, char *err,
			size_t errlen);
int runner_journal_record(struct runner *r, const struct run_slot *s, size_t idx, char *err,
			  size_t errlen);
void runner_journal_done(struct runner *r);

/* ---- runner_split.c: a live run over MPI ranks ---- */

/* One run's slice on this rank. */
struct runner_split {
	struct runner *r;
	struct run_slot *s;
	uint32_t id_first[SIM_MAX_GROUPS];
	struct run_parts parts;
	char suffix[24];       /* its files' names: "" on rank 0, ".rank1", ... */
	bool other_failed;     /* another rank could not start the run */
	void *(*tick)[3];      /* rank 0: each rank's last three seconds, as sent */
	size_t (*tick_len)[3];
	double printed;        /* the last second printed */
};

/* Before world_run: on rank 0 tell the others which run; make cfg this
 * rank's slice and ro its options (start together, progress, parts). */
void runner_split_begin(struct runner *r, struct run_slot *s, struct scenario_cfg *cfg,
			struct run_opts *ro, struct runner_split *sp);
/* After it: ranks 1..n-1 send their slice; rank 0 takes every rank's,
 * makes the run's results from the sum and merges the exchange logs. */
void runner_split_end(struct runner *r, struct run_slot *s, const struct scenario_cfg *cfg,
		      struct runner_split *sp);
/* Rank k's exchange log of run s. */
void runner_split_exchanges_path(const struct runner *r, const struct run_slot *s, int rank,
				 char *buf, size_t len);
/* Ranks 1..n-1: run the runs rank 0 names until it says stop; rank 0,
 * when no run is left: stop. */
void runner_split_follow(struct runner *r);
void runner_split_stop(void);

#endif
