/* The MPI side of cluster.h: point-to-point messages on MPI_COMM_WORLD, one
 * thread of each rank calling MPI (MPI_THREAD_SERIALIZED: on rank 0 that
 * is the runner's dispatcher thread, not main).  Knows no runner. */
#include "cluster.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TAG_ASK 1
#define TAG_RUN 2
#define TAG_RESULT 3
#define TAG_TICK 4

bool cluster_launched(void)
{
	static const char *const vars[] = {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_RANK",
					   "PMI_SIZE", NULL};
	for (size_t i = 0; vars[i]; i++)
		if (getenv(vars[i]))
			return true;
	return false;
}

#ifdef COAPSIM_MPI
#include <mpi.h>

static int rank, size = 1, inited;

int cluster_init(int *argc, char ***argv, char *err, size_t errlen)
{
	int provided = 0;
	if (MPI_Init_thread(argc, argv, MPI_THREAD_SERIALIZED, &provided) != MPI_SUCCESS) {
		snprintf(err, errlen, "MPI_Init_thread failed");
		return -1;
	}
	inited = 1;
	if (provided < MPI_THREAD_SERIALIZED) {
		snprintf(err, errlen, "this MPI gives thread level %d, coapsim needs "
			 "MPI_THREAD_SERIALIZED", provided);
		return -1;
	}
	MPI_Comm_rank(MPI_COMM_WORLD, &rank);
	MPI_Comm_size(MPI_COMM_WORLD, &size);
	return 0;
}

bool cluster_active(void) { return inited && size > 1; }
int cluster_rank(void) { return rank; }
int cluster_size(void) { return size; }

void cluster_finalize(void)
{
	if (inited)
		MPI_Finalize();
	inited = 0;
}

void cluster_abort(int code)
{
	if (inited)
		MPI_Abort(MPI_COMM_WORLD, code);
	exit(code);
}

int cluster_bcast(void *blob, size_t len)
{
	return MPI_Bcast(blob, (int)len, MPI_BYTE, 0, MPI_COMM_WORLD) == MPI_SUCCESS ? 0 : -1;
}

int cluster_poll(enum cluster_kind *kind, int *from, void **buf, size_t *len)
{
	int flag = 0;
	MPI_Status st;
	if (MPI_Iprobe(MPI_ANY_SOURCE, MPI_ANY_TAG, MPI_COMM_WORLD, &flag, &st) != MPI_SUCCESS)
		return -1;
	if (!flag)
		return 0;
	*from = st.MPI_SOURCE;
	*buf = NULL;
	*len = 0;
	if (st.MPI_TAG == TAG_ASK) {
		char c;
		*kind = CLUSTER_ASK;
		return MPI_Recv(&c, 1, MPI_BYTE, st.MPI_SOURCE, TAG_ASK, MPI_COMM_WORLD,
				MPI_STATUS_IGNORE) == MPI_SUCCESS ? 1 : -1;
	}
	int n = 0;
	MPI_Get_count(&st, MPI_BYTE, &n);
	*kind = CLUSTER_RESULT;
	*buf = malloc(n ? (size_t)n : 1);
	if (!*buf)
		return -1;
	*len = (size_t)n;
	return MPI_Recv(*buf, n, MPI_BYTE, st.MPI_SOURCE, TAG_RESULT, MPI_COMM_WORLD,
			MPI_STATUS_IGNORE) == MPI_SUCCESS ? 1 : -1;
}

int cluster_assign(int to, uint64_t run)
{
	return MPI_Send(&run, 1, MPI_UINT64_T, to, TAG_RUN, MPI_COMM_WORLD) == MPI_SUCCESS ? 0 : -1;
}

int cluster_ask(void)
{
	static char c;
	return MPI_Send(&c, 1, MPI_BYTE, 0, TAG_ASK, MPI_COMM_WORLD) == MPI_SUCCESS ? 0 : -1;
}

int cluster_answer(uint64_t *run)
{
	int flag = 0;
	if (MPI_Iprobe(0, TAG_RUN, MPI_COMM_WORLD, &flag, MPI_STATUS_IGNORE) != MPI_SUCCESS)
		return -1;
	if (!flag)
		return 0;
	return MPI_Recv(run, 1, MPI_UINT64_T, 0, TAG_RUN, MPI_COMM_WORLD, MPI_STATUS_IGNORE) ==
		       MPI_SUCCESS ? 1 : -1;
}

int cluster_send_result(const void *buf, size_t len)
{
	return MPI_Send(buf, (int)len, MPI_BYTE, 0, TAG_RESULT, MPI_COMM_WORLD) == MPI_SUCCESS
		       ? 0 : -1;
}

int cluster_all_min(int v, int *min)
{
	return MPI_Allreduce(&v, min, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD) == MPI_SUCCESS ? 0 : -1;
}

/* Ticks on their way: a large one (a histogram past the eager limit)
 * leaves only when rank 0 receives it, once a second; a few may wait. */
#define TICKS_OUT 4
static MPI_Request tick_req[TICKS_OUT] = {MPI_REQUEST_NULL, MPI_REQUEST_NULL,
					  MPI_REQUEST_NULL, MPI_REQUEST_NULL};
static void *tick_buf[TICKS_OUT];

int cluster_send_tick(const void *buf, size_t len)
{
	int k, done;
	for (k = 0; k < TICKS_OUT; k++) {
		if (tick_req[k] != MPI_REQUEST_NULL &&
		    MPI_Test(&tick_req[k], &done, MPI_STATUS_IGNORE) != MPI_SUCCESS)
			return -1;
		if (tick_req[k] == MPI_REQUEST_NULL)
			break;
	}
	if (k == TICKS_OUT)
		return 1;
	free(tick_buf[k]);
	if (!(tick_buf[k] = malloc(len ? len : 1)))
		return -1;
	memcpy(tick_buf[k], buf, len);
	return MPI_Isend(tick_buf[k], (int)len, MPI_BYTE, 0, TAG_TICK, MPI_COMM_WORLD,
			 &tick_req[k]) == MPI_SUCCESS ? 0 : -1;
}

int cluster_tick_flush(void)
{
	int rc = MPI_Waitall(TICKS_OUT, tick_req, MPI_STATUSES_IGNORE) == MPI_SUCCESS ? 0 : -1;
	for (int k = 0; k < TICKS_OUT; k++) {
		free(tick_buf[k]);
		tick_buf[k] = NULL;
	}
	return rc;
}

/* Receive the message st describes into a malloc'd buffer. */
static int take(MPI_Status *st, void **buf, size_t *len)
{
	int n = 0;
	MPI_Get_count(st, MPI_BYTE, &n);
	if (!(*buf = malloc(n ? (size_t)n : 1)))
		return -1;
	*len = (size_t)n;
	return MPI_Recv(*buf, n, MPI_BYTE, st->MPI_SOURCE, st->MPI_TAG, MPI_COMM_WORLD,
			MPI_STATUS_IGNORE) == MPI_SUCCESS ? 1 : -1;
}

int cluster_poll_tick(int *from, void **buf, size_t *len)
{
	int flag = 0;
	MPI_Status st;
	if (MPI_Iprobe(MPI_ANY_SOURCE, TAG_TICK, MPI_COMM_WORLD, &flag, &st) != MPI_SUCCESS)
		return -1;
	if (!flag)
		return 0;
	*from = st.MPI_SOURCE;
	return take(&st, buf, len);
}

int cluster_recv_from(int from, enum cluster_kind *kind, void **buf, size_t *len)
{
	MPI_Status st;
	if (MPI_Probe(from, MPI_ANY_TAG, MPI_COMM_WORLD, &st) != MPI_SUCCESS)
		return -1;
	*kind = st.MPI_TAG == TAG_TICK ? CLUSTER_TICK : CLUSTER_RESULT;
	return take(&st, buf, len);
}

#else /* without MPI: one process */

int cluster_init(int *argc, char ***argv, char *err, size_t errlen)
{
	(void)argc;
	(void)argv;
	snprintf(err, errlen, "this coapsim is built without MPI: install Open MPI "
		 "(libopenmpi-dev, openmpi-bin: make deps) and rebuild");
	return -1;
}
bool cluster_active(void) { return false; }
int cluster_rank(void) { return 0; }
int cluster_size(void) { return 1; }
void cluster_finalize(void) {}
void cluster_abort(int code) { exit(code); }
int cluster_bcast(void *blob, size_t len) { (void)blob; (void)len; return 0; }
int cluster_poll(enum cluster_kind *kind, int *from, void **buf, size_t *len)
{
	(void)kind, (void)from, (void)buf, (void)len;
	return 0;
}
int cluster_assign(int to, uint64_t run) { (void)to, (void)run; return -1; }
int cluster_ask(void) { return -1; }
int cluster_answer(uint64_t *run) { (void)run; return -1; }
int cluster_send_result(const void *buf, size_t len) { (void)buf, (void)len; return -1; }
int cluster_all_min(int v, int *min) { *min = v; return 0; }
int cluster_send_tick(const void *buf, size_t len) { (void)buf, (void)len; return -1; }
int cluster_tick_flush(void) { return 0; }
int cluster_poll_tick(int *from, void **buf, size_t *len)
{
	(void)from, (void)buf, (void)len;
	return 0;
}
int cluster_recv_from(int from, enum cluster_kind *kind, void **buf, size_t *len)
{
	(void)from, (void)kind, (void)buf, (void)len;
	return -1;
}
#endif
