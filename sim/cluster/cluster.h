/* Runs spread over the ranks of an MPI job (Open MPI), behind a narrow
 * interface: the runner hands out and takes back runs through it and
 * knows no MPI.  Built with MPI when Open MPI is installed (-DCOAPSIM_MPI);
 * otherwise every call says "one process, rank 0".  Knows no scenario,
 * world or output format: a result travels as opaque bytes. */
#ifndef COAPSIM_CLUSTER_H
#define COAPSIM_CLUSTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Whether this process was started by an MPI launcher (mpirun, srun):
 * the launchers' environment variables. */
bool cluster_launched(void);

/* Join the job (MPI_Init_thread).  Returns 0, or -1 with the reason in
 * err (MPI not built in, or its initialisation failed). */
int cluster_init(int *argc, char ***argv, char *err, size_t errlen);
bool cluster_active(void); /* cluster_init succeeded and the job has 2+ ranks */
int cluster_rank(void);    /* 0 without MPI */
int cluster_size(void);    /* 1 without MPI */
void cluster_finalize(void);
/* End the whole job at once (a rank that cannot go on). */
void cluster_abort(int code);

/* The start of a sweep, rank 0 to all: ok, then a blob (the staging
 * folders and flags the runner needs).  On the others blob is filled. */
int cluster_bcast(void *blob, size_t len);

/* The messages of a sweep.  Workers ask for a run, rank 0 answers with a
 * run index or CLUSTER_STOP; workers send a result back as one blob. */
#define CLUSTER_STOP UINT64_MAX
enum cluster_kind { CLUSTER_ASK, CLUSTER_RESULT, CLUSTER_TICK };

/* Rank 0: the next message from any worker, if one is waiting (poll).
 * *kind, *from; a result's bytes in a malloc'd *buf of *len (caller
 * frees).  Returns 1 (a message), 0 (none), -1 (MPI failed). */
int cluster_poll(enum cluster_kind *kind, int *from, void **buf, size_t *len);
int cluster_assign(int to, uint64_t run);

/* Workers: ask for a run (non-blocking), then poll for the answer. */
int cluster_ask(void);
int cluster_answer(uint64_t *run); /* 1 answered, 0 not yet, -1 failed */
int cluster_send_result(const void *buf, size_t len);

/* A live run split over the ranks (runner_split.c): every rank runs a
 * slice of the fleet, on the thread that runs it.  All ranks: the lowest
 * of their v (whether each could start).  Ranks 1..n-1: a second's
 * progress to rank 0 without waiting (dropped, returning 1, while the
 * last one is still on its way), then, at the end of the run, wait until
 * it left (cluster_tick_flush) and send the result (cluster_send_result).
 * Rank 0: the next tick waiting from any rank (1, 0: none, -1 failed),
 * and the next message from rank `from` (waiting for it), its kind
 * CLUSTER_TICK or CLUSTER_RESULT.  Buffers malloc'd, caller frees. */
int cluster_all_min(int v, int *min);
int cluster_send_tick(const void *buf, size_t len);
int cluster_tick_flush(void);
int cluster_poll_tick(int *from, void **buf, size_t *len);
int cluster_recv_from(int from, enum cluster_kind *kind, void **buf, size_t *len);

#endif
