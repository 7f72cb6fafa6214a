/* Runs spread over the ranks of an MPI job (sim/cluster): rank 0 owns the run
 * matrix and the output, hands runs out one at a time to whichever rank
 * asks (runs differ in cost by orders of magnitude: no static split) and
 * takes the results back as the same records the threads fill; the other
 * ranks run what they are given on their own threads.  Knows no MPI (only
 * cluster.h) and no output format (only run slots). */
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../cluster/cluster.h"
#include "../scenario/scenario.h"
#include "runner_impl.h"

/* A packed run: this header, the run_result's bytes, its series, the
 * error text. */
struct packed {
	uint64_t idx;
	int32_t rc;
	uint32_t err_len;
	uint64_t n_series;
	struct run_result res;
};

void *runner_pack(const struct run_slot *s, size_t idx, size_t *len)
{
	size_t ns = s->res ? s->res->n_series : 0, el = s->err ? strlen(s->err) : 0;
	size_t n = sizeof(struct packed) + ns * sizeof(struct run_sample) + el;
	struct packed *p = calloc(1, n);
	if (!p)
		return NULL;
	p->idx = idx;
	p->rc = s->rc;
	p->err_len = (uint32_t)el;
	p->n_series = ns;
	if (s->res)
		p->res = *s->res;
	p->res.series = NULL;
	char *tail = (char *)(p + 1);
	if (ns)
		memcpy(tail, s->res->series, ns * sizeof(struct run_sample));
	memcpy(tail + ns * sizeof(struct run_sample), s->err ? s->err : "", el);
	*len = n;
	return p;
}

/* The header of a packed run, checked against its length: its run, or -1. */
static long packed_head(struct packed *p, const void *buf, size_t len)
{
	if (len < sizeof(*p))
		return -1;
	memcpy(p, buf, sizeof(*p));
	if (p->n_series > len / sizeof(struct run_sample) ||
	    sizeof(*p) + p->n_series * sizeof(struct run_sample) + p->err_len != len)
		return -1;
	return (long)p->idx;
}

int runner_unpack(struct runner *r, const void *buf, size_t len)
{
	struct packed p;
	long idx = packed_head(&p, buf, len);
	if (idx < 0 || (size_t)idx >= r->n_runs)
		return -1;
	return runner_unpack_slot(&r->runs[idx], (size_t)idx, buf, len) < 0 ? -1 : (int)idx;
}

int runner_unpack_slot(struct run_slot *s, size_t idx, const void *buf, size_t len)
{
	struct packed p;
	if (packed_head(&p, buf, len) != (long)idx)
		return -1;
	const char *tail = (const char *)buf + sizeof(p);
	s->rc = p.rc;
	if (p.err_len) {
		free(s->err);
		s->err = strndup(tail + p.n_series * sizeof(struct run_sample), p.err_len);
	}
	if (p.rc >= 0) {
		s->res = malloc(sizeof(*s->res));
		if (!s->res)
			return -1;
		*s->res = p.res;
		s->res->series = NULL;
		if (p.n_series) {
			s->res->series = malloc(p.n_series * sizeof(struct run_sample));
			if (!s->res->series)
				return -1;
			memcpy(s->res->series, tail, p.n_series * sizeof(struct run_sample));
		}
	}
	return 0;
}

/* ---- rank 0 ---- */

struct start {
	int32_t ok;
	uint8_t pcap, exchanges, split, split_ticks;
	uint32_t reps;
	uint64_t n_runs, base;
	char out_dir[sizeof(((struct runner *)0)->out_dir)];
	char pcap_dir[sizeof(((struct runner *)0)->pcap_dir)];
};

void runner_announce(struct runner *r, bool ok)
{
	if (!cluster_active() || cluster_rank() != 0 || (r && r->announced))
		return;
	struct start *st = calloc(1, sizeof(*st));
	if (!st)
		cluster_abort(3);
	st->ok = ok;
	if (ok) {
		st->pcap = r->pcap;
		st->exchanges = r->exchanges;
		st->split = r->split;
		st->split_ticks = r->split_ticks;
		st->reps = r->reps;
		st->n_runs = r->n_runs;
		st->base = r->runs[0].seed;
		memcpy(st->out_dir, r->out_dir, sizeof(st->out_dir));
		memcpy(st->pcap_dir, r->pcap_dir, sizeof(st->pcap_dir));
	}
	if (cluster_bcast(st, sizeof(*st)) < 0)
		cluster_abort(3);
	free(st);
	if (r)
		r->announced = true;
}

/* Idle polling backs off from 0.1 ms to 2 ms: quick answers while runs
 * are short and many, and, while they are long, few wake-ups to take the
 * core from a run (at 0.2 ms throughout, two ranks on this machine's two
 * cores ran each run 25% slower than two threads did). */
static void nap(long *us)
{
	struct timespec ts = {0, *us * 1000};
	nanosleep(&ts, NULL);
	*us = *us * 2 > 2000 ? 2000 : *us * 2;
}

/* The next run for a rank that asked, or CLUSTER_STOP, or NOT_YET (the
 * emission window is full). */
#define NOT_YET (UINT64_MAX - 1)
static uint64_t next_run(struct runner *r, uint64_t *held)
{
	if (atomic_load(&r->failed) || runner_stopped())
		return CLUSTER_STOP;
	while (*held == UINT64_MAX) {
		size_t i = atomic_fetch_add(&r->next, 1);
		if (i >= r->n_runs)
			return CLUSTER_STOP;
		if (!r->runs[i].resumed) /* else from the journal */
			*held = i;
	}
	pthread_mutex_lock(&r->mu);
	bool room = *held < r->emitted + r->window;
	pthread_mutex_unlock(&r->mu);
	if (!room)
		return NOT_YET;
	uint64_t i = *held;
	*held = UINT64_MAX;
	return i;
}

void *runner_dispatch(void *arg)
{
	struct runner *r = arg;
	int n = cluster_size();
	/* per rank: asked and waiting, the run kept for it, runs out, stopped */
	bool *waiting = calloc((size_t)n, sizeof(bool)), *stopped = calloc((size_t)n, sizeof(bool));
	uint64_t *held = malloc((size_t)n * sizeof(uint64_t));
	size_t *out = calloc((size_t)n, sizeof(size_t));
	if (!waiting || !stopped || !held || !out)
		cluster_abort(3);
	for (int k = 0; k < n; k++)
		held[k] = UINT64_MAX;
	long idle_us = 100;
	size_t handed = 0;
	int live = n - 1; /* ranks not yet told to stop */
	size_t outstanding = 0;
	while (live > 0 || outstanding > 0) {
		enum cluster_kind kind;
		int from;
		void *buf;
		size_t len;
		int got = cluster_poll(&kind, &from, &buf, &len);
		if (got < 0)
			cluster_abort(3);
		if (got && kind == CLUSTER_ASK) {
			waiting[from] = true;
		} else if (got) {
			int idx = runner_unpack(r, buf, len);
			free(buf);
			if (idx < 0) {
				fprintf(stderr, "coapsim: rank %d sent a result this rank cannot read "
					"(is it the same coapsim binary?)\n", from);
				cluster_abort(3);
			}
			out[from]--;
			outstanding--;
			if (r->runs[idx].rc < 0)
				atomic_store(&r->failed, 1);
			pthread_mutex_lock(&r->mu);
			atomic_store(&r->runs[idx].done, 1);
			pthread_cond_broadcast(&r->cv);
			pthread_mutex_unlock(&r->mu);
		}
		bool busy = got;
		for (int k = 1; k < n; k++) {
			if (!waiting[k])
				continue;
			uint64_t i = next_run(r, &held[k]);
			if (i == NOT_YET)
				continue;
			if (cluster_assign(k, i) < 0)
				cluster_abort(3);
			waiting[k] = false;
			busy = true;
			if (i == CLUSTER_STOP) {
				if (!stopped[k])
					live--;
				stopped[k] = true;
			} else {
				out[k]++;
				outstanding++;
				handed++;
			}
		}
		if (!busy)
			nap(&idle_us);
		else
			idle_us = 100;
	}
	/* What coordinating cost this rank: the dispatcher's own CPU time. */
	struct timespec cpu;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &cpu);
	if (!r->o->quiet && handed)
		fprintf(stderr, "coapsim: MPI: %zu of %zu runs went to %d other ranks; handing "
			"them out took %.3f ms of rank 0's CPU a run\n", handed, r->n_runs, n - 1,
			((double)cpu.tv_sec * 1e3 + (double)cpu.tv_nsec / 1e6) / (double)handed);
	free(waiting);
	free(stopped);
	free(held);
	free(out);
	return NULL;
}

/* ---- ranks 1..n-1 ---- */

/* Runs shorter than this (s) are asked for one ahead, so that the round
 * trip to rank 0 overlaps a run; longer ones are asked for when a thread
 * is free, so that no run waits behind another while a rank idles. */
#define SHORT_RUN 0.05

struct remote {
	struct runner *r;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	uint64_t *queued; /* runs handed out, not started */
	size_t n_queued, idle;
	bool stop;
	bool short_runs; /* the last run took under SHORT_RUN: ask ahead */
	void **done_buf; /* packed results to send */
	size_t *done_len, n_done;
};

static void *remote_worker(void *arg)
{
	struct remote *m = arg;
	for (;;) {
		pthread_mutex_lock(&m->mu);
		m->idle++;
		pthread_cond_broadcast(&m->cv);
		while (!m->n_queued && !m->stop)
			pthread_cond_wait(&m->cv, &m->mu);
		if (!m->n_queued) {
			pthread_mutex_unlock(&m->mu);
			return NULL;
		}
		uint64_t i = m->queued[--m->n_queued];
		m->idle--;
		pthread_mutex_unlock(&m->mu);
		struct run_slot *s = &m->r->runs[i];
		struct timespec t0, t1;
		clock_gettime(CLOCK_MONOTONIC, &t0);
		runner_do_run(m->r, s);
		clock_gettime(CLOCK_MONOTONIC, &t1);
		double took = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
		size_t len = 0;
		void *p = runner_pack(s, i, &len);
		if (!p)
			cluster_abort(3);
		run_result_free(s->res);
		free(s->res);
		s->res = NULL;
		pthread_mutex_lock(&m->mu);
		m->short_runs = took < SHORT_RUN;
		m->done_buf[m->n_done] = p;
		m->done_len[m->n_done++] = len;
		pthread_cond_broadcast(&m->cv);
		pthread_mutex_unlock(&m->mu);
	}
}

int runner_remote(const struct scenario_src *src, const struct runner_opts *o)
{
	struct start *st = calloc(1, sizeof(*st));
	if (!st || cluster_bcast(st, sizeof(*st)) < 0)
		cluster_abort(3);
	if (!st->ok) {
		free(st);
		return COAPSIM_EXIT_RUN; /* rank 0 says why */
	}
	struct runner r = {.src = src, .o = o, .n_runs = st->n_runs, .reps = st->reps,
			   .pcap = st->pcap, .exchanges = st->exchanges, .split = st->split,
			   .split_ticks = st->split_ticks};
	memcpy(r.out_dir, st->out_dir, sizeof(r.out_dir));
	memcpy(r.pcap_dir, st->pcap_dir, sizeof(r.pcap_dir));
	r.runs = calloc(r.n_runs, sizeof(*r.runs));
	unsigned jobs = o->jobs ? o->jobs : 1;
	struct remote m = {.r = &r};
	m.queued = calloc(2 * (size_t)jobs, sizeof(*m.queued)); /* ask-ahead: up to 2 a thread */
	m.done_buf = calloc(jobs, sizeof(void *));
	m.done_len = calloc(jobs, sizeof(size_t));
	pthread_t *th = calloc(jobs, sizeof(*th));
	if (!r.runs || !m.queued || !m.done_buf || !m.done_len || !th)
		cluster_abort(3);
	for (size_t k = 0; k < r.n_runs; k++) {
		struct run_slot *s = &r.runs[k];
		s->point = k / r.reps;
		s->rep = (uint32_t)(k % r.reps);
		s->seed = st->base + s->rep;
		snprintf(s->id, sizeof(s->id), "p%zu-r%u", s->point, s->rep);
	}
	free(st);
	if (r.split) {
		/* a live run: a slice of each, on this thread */
		runner_split_follow(&r);
		goto out;
	}
	pthread_mutex_init(&m.mu, NULL);
	pthread_cond_init(&m.cv, NULL);
	unsigned started = 0;
	for (; started < jobs; started++)
		if (pthread_create(&th[started], NULL, remote_worker, &m) != 0)
			break;
	if (!started)
		cluster_abort(3);
	bool asked = false, stop = false;
	long idle_us = 100;
	for (;;) {
		bool busy = false;
		pthread_mutex_lock(&m.mu);
		/* results first: rank 0 may be waiting for them to hand out more */
		while (m.n_done) {
			void *p = m.done_buf[--m.n_done];
			size_t len = m.done_len[m.n_done];
			pthread_mutex_unlock(&m.mu);
			if (cluster_send_result(p, len) < 0)
				cluster_abort(3);
			free(p);
			busy = true;
			pthread_mutex_lock(&m.mu);
		}
		bool want = !stop && !asked &&
			    (m.idle > m.n_queued || (m.short_runs && m.n_queued < started));
		bool all_idle = m.idle == started && !m.n_queued;
		pthread_mutex_unlock(&m.mu);
		if (stop && all_idle)
			break;
		if (want) {
			if (cluster_ask() < 0)
				cluster_abort(3);
			asked = busy = true;
		}
		uint64_t i;
		int got = asked ? cluster_answer(&i) : 0;
		if (got < 0)
			cluster_abort(3);
		if (got) {
			asked = false;
			busy = true;
			pthread_mutex_lock(&m.mu);
			if (i == CLUSTER_STOP)
				stop = m.stop = true;
			else
				m.queued[m.n_queued++] = i;
			pthread_cond_broadcast(&m.cv);
			pthread_mutex_unlock(&m.mu);
		}
		if (busy) {
			idle_us = 100;
		} else if (asked) {
			nap(&idle_us); /* an answer comes over MPI: poll */
		} else {
			/* nothing to ask for until a run ends: a worker wakes us */
			pthread_mutex_lock(&m.mu);
			while (!m.n_done && !(m.idle > m.n_queued && !stop) &&
			       !(m.short_runs && m.n_queued < started && !stop) &&
			       !(stop && m.idle == started && !m.n_queued))
				pthread_cond_wait(&m.cv, &m.mu);
			pthread_mutex_unlock(&m.mu);
		}
	}
	for (unsigned k = 0; k < started; k++)
		pthread_join(th[k], NULL);
	pthread_cond_destroy(&m.cv);
	pthread_mutex_destroy(&m.mu);
out:
	for (size_t k = 0; k < r.n_runs; k++)
		free(r.runs[k].err);
	free(r.runs);
	free(m.queued);
	free(m.done_buf);
	free(m.done_len);
	free(th);
	return COAPSIM_EXIT_OK;
}

/* ---- resume: the journal of completed runs ----
 *
 * Beside the results folder, ".NAME.runs" holds a record of each run as
 * it is emitted (its packed result) with hard links to its exchange log
 * and captures, and "study": a fingerprint of the effective scenario,
 * replications, seed and outputs.  A sweep killed (a lost node: MPI jobs
 * die whole) leaves it; `--resume` loads the records of the same study,
 * links their files into the new staging folder and runs only the rest;
 * a publish removes it.  Without --resume an old journal is dropped. */

static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
	const unsigned char *b = p;
	for (size_t i = 0; i < n; i++)
		h = (h ^ b[i]) * 0x100000001b3ull;
	return h;
}

static void journal_path(const char *final, char *buf, size_t len)
{
	const char *slash = strrchr(final, '/');
	if (slash)
		snprintf(buf, len, "%.*s/.%s.runs", (int)(slash - final), final, slash + 1);
	else
		snprintf(buf, len, ".%s.runs", final);
}

/* Link (or, across file systems, copy) from/NAME to to/NAME for every
 * NAME beginning with prefix. */
static int carry(const char *from, const char *to, const char *prefix)
{
	DIR *d = opendir(from);
	if (!d)
		return 0;
	struct dirent *e;
	int rc = 0;
	size_t pl = strlen(prefix);
	while ((e = readdir(d))) {
		if (strncmp(e->d_name, prefix, pl))
			continue;
		char a[RUN_PATH], b[RUN_PATH];
		snprintf(a, sizeof(a), "%s/%s", from, e->d_name);
		snprintf(b, sizeof(b), "%s/%s", to, e->d_name);
		remove(b);
		if (link(a, b) == 0)
			continue;
		FILE *in = fopen(a, "rb"), *out = in ? fopen(b, "wb") : NULL;
		char buf[65536];
		size_t n;
		while (out && (n = fread(buf, 1, sizeof(buf), in)) > 0)
			if (fwrite(buf, 1, n, out) != n)
				rc = -1;
		if (!in || !out || (out && fclose(out) != 0))
			rc = -1;
		if (in)
			fclose(in);
	}
	closedir(d);
	return rc;
}

/* The staging folders killed sweeps left beside the results folder
 * (".NAME.part-PID"; we hold the lock, so none is being written): their
 * completed runs' files are linked in the journal, if it is kept. */
static void drop_stale_parts(const struct runner *r)
{
	char dir[RUN_PATH], pre[RUN_PATH];
	const char *final = r->out_st.final, *slash = strrchr(final, '/');
	snprintf(dir, sizeof(dir), "%.*s", slash ? (int)(slash - final) : 1, slash ? final : ".");
	snprintf(pre, sizeof(pre), ".%s.part-", slash ? slash + 1 : final);
	const char *mine = strrchr(r->out_st.part, '/');
	mine = mine ? mine + 1 : r->out_st.part;
	DIR *d = opendir(dir);
	struct dirent *e;
	while (d && (e = readdir(d))) {
		if (strncmp(e->d_name, pre, strlen(pre)) || !strcmp(e->d_name, mine))
			continue;
		char path[2 * RUN_PATH];
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		fs_remove_tree(path);
	}
	if (d)
		closedir(d);
}

int runner_journal_open(struct runner *r, const char *final, bool resume, char *err,
			size_t errlen)
{
	char study[64], path[RUN_PATH], sub[RUN_PATH];
	char *eff = scenario_effective_text(r->src);
	if (!eff) {
		snprintf(err, errlen, "out of memory");
		return SIM_ERR_NOMEM;
	}
	/* The keys and values, not the comments (the first names the file as
	 * it was given: the same study may be resumed from another folder). */
	uint64_t h = 0xcbf29ce484222325ull;
	for (char *line = eff, *nl; *line; line = nl ? nl + 1 : line + strlen(line)) {
		nl = strchr(line, '\n');
		size_t n = nl ? (size_t)(nl - line) : strlen(line);
		if (n && line[0] != ';' && line[0] != '#')
			h = fnv(h, line, n + (nl != NULL));
	}
	free(eff);
	char extra[128];
	int n = snprintf(extra, sizeof(extra), "reps=%u seed=%llu pcap=%d exchanges=%d", r->reps,
			 (unsigned long long)r->runs[0].seed, r->pcap, r->exchanges);
	h = fnv(h, extra, (size_t)n);
	snprintf(study, sizeof(study), "%016llx\n", (unsigned long long)h);
	journal_path(final, r->journal, sizeof(r->journal));
	snprintf(path, sizeof(path), "%s/study", r->journal);
	size_t loaded = 0;
	if (resume) {
		char have[64] = "";
		FILE *f = fopen(path, "r");
		if (f) {
			if (!fgets(have, sizeof(have), f))
				have[0] = 0;
			fclose(f);
		}
		if (f && strcmp(have, study)) {
			snprintf(err, errlen, "%s: --resume: the runs recorded there are of another "
				 "study (scenario, replications, seed or outputs differ); run without "
				 "--resume to start afresh", final);
			return SIM_ERR_INVAL;
		}
		if (f && r->pcap && fs_mkdir_p(r->pcap_dir, err, errlen) < 0)
			return SIM_ERR_IO;
		for (size_t k = 0; f && k < r->n_runs; k++) {
			struct run_slot *s = &r->runs[k];
			snprintf(path, sizeof(path), "%s/%s.run", r->journal, s->id);
			FILE *rf = fopen(path, "rb");
			if (!rf)
				continue;
			fseek(rf, 0, SEEK_END);
			long len = ftell(rf);
			rewind(rf);
			void *buf = len > 0 ? malloc((size_t)len) : NULL;
			bool ok = buf && fread(buf, 1, (size_t)len, rf) == (size_t)len &&
				  runner_unpack(r, buf, (size_t)len) == (int)k && s->rc >= 0;
			fclose(rf);
			free(buf);
			if (!ok) { /* unreadable or failed: it runs again */
				if (s->res) {
					run_result_free(s->res);
					free(s->res);
					s->res = NULL;
				}
				continue;
			}
			char pre[64];
			snprintf(pre, sizeof(pre), "%s.", s->id);
			snprintf(sub, sizeof(sub), "%s/pcap", r->journal);
			char ex[RUN_PATH];
			runner_exchanges_tmp_path(r, s, ex, sizeof(ex));
			snprintf(path, sizeof(path), "%s/.exchanges-%s.csv", r->journal, s->id);
			if ((r->pcap && carry(sub, r->pcap_dir, pre) < 0) ||
			    (r->exchanges && link(path, ex) < 0 && errno != ENOENT)) {
				snprintf(err, errlen, "%s: cannot bring back run %s's files: %s",
					 r->journal, s->id, strerror(errno));
				return SIM_ERR_IO;
			}
			s->resumed = true;
			atomic_store(&s->done, 1);
			loaded++;
		}
		if (!r->o->quiet)
			fprintf(stderr, "coapsim: resuming: %zu of %zu runs already done\n", loaded,
				r->n_runs);
	}
	drop_stale_parts(r); /* with or without --resume: nothing else will use them */
	if (!loaded) {
		fs_remove_tree(r->journal);
	}
	snprintf(sub, sizeof(sub), "%s/pcap", r->journal);
	if (fs_mkdir_p(sub, err, errlen) < 0)
		return SIM_ERR_IO;
	snprintf(path, sizeof(path), "%s/study", r->journal);
	FILE *f = fopen(path, "w");
	if (!f || fputs(study, f) < 0 || fclose(f) != 0) {
		snprintf(err, errlen, "%s: cannot write: %s", path, strerror(errno));
		return SIM_ERR_IO;
	}
	return 0;
}

int runner_journal_record(struct runner *r, const struct run_slot *s, size_t idx, char *err,
			  size_t errlen)
{
	if (!r->journal[0] || s->resumed)
		return 0;
	char path[RUN_PATH], tmp[RUN_PATH], sub[RUN_PATH], pre[64];
	snprintf(pre, sizeof(pre), "%s.", s->id);
	snprintf(sub, sizeof(sub), "%s/pcap", r->journal);
	if (r->pcap && carry(r->pcap_dir, sub, pre) < 0)
		goto fail;
	if (r->exchanges) {
		runner_exchanges_tmp_path(r, s, tmp, sizeof(tmp));
		snprintf(path, sizeof(path), "%s/.exchanges-%s.csv", r->journal, s->id);
		remove(path);
		if (link(tmp, path) < 0 && errno != ENOENT)
			goto fail;
	}
	size_t len;
	void *p = runner_pack(s, idx, &len);
	snprintf(path, sizeof(path), "%s/%s.run", r->journal, s->id);
	snprintf(tmp, sizeof(tmp), "%s/%s.run.tmp", r->journal, s->id);
	FILE *f = p ? fopen(tmp, "wb") : NULL;
	bool ok = f && fwrite(p, 1, len, f) == len;
	ok &= f && fclose(f) == 0;
	free(p);
	if (ok && rename(tmp, path) == 0)
		return 0;
fail:
	snprintf(err, errlen, "%s: cannot record run %s: %s", r->journal, s->id, strerror(errno));
	return SIM_ERR_IO;
}

void runner_journal_done(struct runner *r)
{
	if (r->journal[0])
		fs_remove_tree(r->journal);
}
