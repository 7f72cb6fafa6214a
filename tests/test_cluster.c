/* Sweeps over MPI ranks and resuming a killed sweep: the results must be
 * those of one uninterrupted process (timing aside).  A live run split
 * over ranks against coapsim serve: its merged results must be those of
 * the union of the ranks' exchanges.  Skipped with a
 * message where Open MPI's mpirun is missing or coapsim is built without
 * it. */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <jansson.h>
#include <math.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "helpers.h"

/* LeakSanitizer off in the ranks (make asan): Open MPI's own allocations
 * at MPI_Init outlive MPI_Finalize, some in plugins already unloaded; our
 * code's leaks are checked by the runs without MPI here and everywhere. */
#define MPIRUN_N(n) "mpirun --allow-run-as-root --oversubscribe -x ASAN_OPTIONS=detect_leaks=0 -n " #n " "
#define MPIRUN MPIRUN_N(3)

/* 24 runs (3 loss rates x 2 protocols x 4 replications), captures and
 * exchange logs on, each run long enough that a sweep can be killed
 * halfway. */
static const char sweep_ini[] =
	"[scenario]\nduration = 10min\nreplications = 4\nseed = 7\n"
	"[link]\nlatency = 100ms\nloss = ${0%, 10%, 20%}\n"
	"[group.s]\ncount = 1500\nprotocol = ${coap, mqtt}\ntraffic = periodic(10s)\n"
	"payload = 16\nqos = 1\n[output]\npcap = yes\nexchanges = yes\n";

static char dir[64];

static int sh(const char *fmt, const char *a, const char *b)
{
	char cmd[2048];
	snprintf(cmd, sizeof(cmd), fmt, a, b);
	int st = system(cmd);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static bool mpi_ready(void)
{
	char cmd[1024];
	snprintf(cmd, sizeof(cmd), "command -v mpirun >/dev/null && ldd '%s' | grep -q libmpi",
		 test_bin_path());
	if (system(cmd) != 0) {
		cr_log_warn("mpirun or an MPI build of coapsim missing: MPI tests skipped");
		return false;
	}
	return true;
}

static void setup(void)
{
	strcpy(dir, "/tmp/coapsim-cluster-XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
	char path[128];
	snprintf(path, sizeof(path), "%s/s.ini", dir);
	FILE *f = fopen(path, "w");
	cr_assert_not_null(f);
	fputs(sweep_ini, f);
	fclose(f);
}

static void teardown(void)
{
	sh("rm -rf '%s'%s", dir, "");
}

/* runs.csv without its timing columns (wall_s, events_per_s) */
static void strip_timing(const char *in, const char *out)
{
	char cmd[1024];
	snprintf(cmd, sizeof(cmd),
		 "awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) skip[i] = $i == \"wall_s\" || "
		 "$i == \"events_per_s\" } { s = \"\"; for (i = 1; i <= NF; i++) if (!skip[i]) "
		 "s = s $i \",\"; print s }' '%s' > '%s'", in, out);
	cr_assert_eq(system(cmd), 0);
}

/* Results folder b holds what a holds, timing aside: runs.csv, summary.json,
 * exchanges.csv and every capture, byte for byte. */
static void same_results(const char *a, const char *b)
{
	char pa[256], pb[256], sa[256], sb[256];
	snprintf(pa, sizeof(pa), "%s/runs.csv", a);
	snprintf(pb, sizeof(pb), "%s/runs.csv", b);
	snprintf(sa, sizeof(sa), "%s.runs", a);
	snprintf(sb, sizeof(sb), "%s.runs", b);
	strip_timing(pa, sa);
	strip_timing(pb, sb);
	cr_assert_eq(sh("cmp -s '%s' '%s'", sa, sb), 0, "runs.csv differ");
	cr_assert_eq(sh("cmp -s '%s/exchanges.csv' '%s/exchanges.csv'", a, b), 0);
	cr_assert_eq(sh("diff -r -q '%s/pcap' '%s/pcap' >/dev/null", a, b), 0, "captures differ");
	cr_assert_eq(sh("test $(ls '%s/pcap' | wc -l) = 48 && ls '%s/pcap' >/dev/null", a, b), 0);
	snprintf(pa, sizeof(pa), "%s/summary.json", a);
	snprintf(pb, sizeof(pb), "%s/summary.json", b);
	json_t *ja = json_load_file(pa, 0, NULL), *jb = json_load_file(pb, 0, NULL);
	cr_assert(ja && jb);
	test_strip_timing(ja);
	test_strip_timing(jb);
	cr_assert(json_equal(ja, jb), "summary.json differ beyond timing");
	json_decref(ja);
	json_decref(jb);
}

/* One process, then 3 ranks (rank 0 hands out runs one at a time, 2 more
 * ranks take them): the same results. */
Test(cluster, mpi_sweep_equals_one_process, .init = setup, .fini = teardown, .timeout = 600)
{
	if (!mpi_ready())
		return;
	char one[128], three[128];
	snprintf(one, sizeof(one), "%s/one", dir);
	snprintf(three, sizeof(three), "%s/three", dir);
	cr_assert_eq(sh("'%s' run %s/s.ini --quiet --jobs 1 --out ", test_bin_path(), dir) , 2,
		     "--out needs a folder");
	char cmd[1024];
	snprintf(cmd, sizeof(cmd), "'%s' run %s/s.ini --quiet --jobs 1 --out %s", test_bin_path(),
		 dir, one);
	cr_assert_eq(system(cmd), 0);
	snprintf(cmd, sizeof(cmd), MPIRUN "'%s' run %s/s.ini --quiet --jobs 1 --out %s",
		 test_bin_path(), dir, three);
	cr_assert_eq(system(cmd), 0, "%s", cmd);
	same_results(one, three);
}

/* A rank killed mid-sweep: mpirun ends the job with a message naming the
 * rank, the results folder is not written, the journal keeps the runs
 * emitted so far; --resume (here in one process) runs only the others and
 * the results are those of an uninterrupted sweep; the journal and the
 * killed sweep's staging folder are gone afterwards. */
Test(cluster, killed_sweep_resumes_to_the_same_results, .init = setup, .fini = teardown,
     .timeout = 900)
{
	if (!mpi_ready())
		return;
	char ref[128], out[128], cmd[2048];
	snprintf(ref, sizeof(ref), "%s/ref", dir);
	snprintf(out, sizeof(out), "%s/out", dir);
	snprintf(cmd, sizeof(cmd), "'%s' run %s/s.ini --quiet --jobs 2 --out %s", test_bin_path(),
		 dir, ref);
	cr_assert_eq(system(cmd), 0);
	snprintf(cmd, sizeof(cmd),
		 "cd %s && (" MPIRUN "'%s' run s.ini --quiet --jobs 1 --out out > mpirun.log 2>&1; "
		 "echo $? > mpirun.rc) & i=0; "
		 "while [ $(ls %s/.out.runs/*.run 2>/dev/null | wc -l) -lt 6 ] && [ $i -lt 600 ]; "
		 "do sleep 0.1; i=$((i + 1)); done; "
		 "for p in $(pgrep -f 'coapsim run s.ini'); do "
		 "tr '\\0' '\\n' < /proc/$p/environ 2>/dev/null | grep -qx OMPI_COMM_WORLD_RANK=1 && "
		 "kill -9 $p; done; wait",
		 dir, test_bin_path(), dir);
	cr_assert_eq(system(cmd), 0);
	cr_assert_neq(sh("test \"$(cat %s/mpirun.rc)\" = 0%s", dir, ""), 0, "the job failed");
	cr_assert_eq(sh("grep -q 'rank 1' %s/mpirun.log%s", dir, ""), 0, "mpirun names the rank");
	cr_assert_neq(sh("test -e %s/summary.json%s", out, ""), 0, "no results written");
	int done = sh("exit $(ls %s/.out.runs/*.run | wc -l)%s", dir, "");
	cr_assert(done >= 6 && done < 24, "%d runs recorded", done);
	snprintf(cmd, sizeof(cmd), "'%s' run %s/s.ini --jobs 2 --out %s --resume > /dev/null 2> %s/resume.log",
		 test_bin_path(), dir, out, dir);
	int rc = system(cmd);
	if (rc)
		sh("cat %s/resume.log >&2%s", dir, "");
	cr_assert_eq(rc, 0, "%s", cmd);
	char want[64];
	snprintf(want, sizeof(want), "resuming: %d of 24 runs already done", done);
	cr_assert_eq(sh("grep -q '%s' %s/resume.log", want, dir), 0, "%s", want);
	same_results(ref, out);
	cr_assert_neq(sh("ls -d %s/.out.runs %s/.out.part-* 2>/dev/null | grep -q .", dir, dir), 0,
		      "journal and stale staging removed");
}

/* --resume against a journal of another study (a key changed) is refused
 * at once, exit 2, and the journal is left for the right command; a run
 * without --resume then starts afresh and cleans up. */
Test(cluster, resume_refuses_another_study, .init = setup, .fini = teardown, .timeout = 300)
{
	char cmd[2048];
	snprintf(cmd, sizeof(cmd),
		 "cd %s && ('%s' run s.ini --quiet --jobs 1 --out out & p=$!; i=0; "
		 "while [ $(ls .out.runs/*.run 2>/dev/null | wc -l) -lt 2 ] && [ $i -lt 600 ]; "
		 "do sleep 0.1; i=$((i + 1)); done; kill -9 $p; wait $p; true)",
		 dir, test_bin_path());
	cr_assert_eq(system(cmd), 0);
	snprintf(cmd, sizeof(cmd),
		 "cd %s && '%s' run s.ini --quiet --jobs 1 --out out --resume --set link.latency=50ms "
		 "2> err.txt",
		 dir, test_bin_path());
	int st = system(cmd);
	cr_assert_eq(WEXITSTATUS(st), 2);
	cr_assert_eq(sh("grep -q 'another study' %s/err.txt%s", dir, ""), 0);
	cr_assert_eq(sh("test -f %s/.out.runs/study%s", dir, ""), 0);
	/* a new sweep into the folder (no --resume) removes the killed one's
	 * staging folder, captures and all, and the stale journal */
	cr_assert_eq(sh("ls -d %s/.out.part-* >/dev/null 2>&1%s", dir, ""), 0, "left by the kill");
	snprintf(cmd, sizeof(cmd), "cd %s && '%s' run s.ini --quiet --jobs 2 --out out", dir,
		 test_bin_path());
	cr_assert_eq(system(cmd), 0);
	cr_assert_neq(sh("ls -d %s/.out.part-* %s/.out.runs 2>/dev/null | grep -q .", dir, dir), 0);
}

/* ---- a live run split over ranks ---- */

/* 31 endpoints (15 and 16 a rank), a GET each second for 6 s, from a
 * uniform start in the first second: 31 x 6 = 186 messages.  Loss makes
 * latencies spread over the backoff's plateaus. */
static const char live_ini[] =
	"[scenario]\nduration = 6s\nseed = 5\nbackend = live\n"
	"[live]\ntarget = coap://127.0.0.1:%d\n"
	"[link]\nlatency = 20ms\nloss = 15%%\n"
	"[group.s]\ncount = 31\nprotocol = coap\ntraffic = periodic(1s)\n"
	"start = uniform(0, 1s)\npath = /t\n"
	"[output]\nexchanges = yes\npcap = no\n";

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static double metric(json_t *m, const char *a, const char *b)
{
	json_t *v = json_object_get(m, a);
	if (b)
		v = json_object_get(v, b);
	cr_assert(json_is_number(v), "metric %s.%s", a, b ? b : "");
	return json_number_value(v);
}

/* Two ranks each load coapsim serve with a slice of the fleet; rank 0
 * merges.  Expected values: the scenario's message count, the slices
 * (floor(31 k / 2)), and the exchanges log itself: its rows are the union
 * of both ranks' messages, and the merged latency figures must be that
 * union's (mean and max exactly, percentiles within the histogram's 0.1%
 * resolution: the nearest-rank quantile of the rows). */
Test(cluster, live_run_split_over_two_ranks_against_coapsim_serve, .init = setup,
     .fini = teardown, .timeout = 180)
{
	if (!mpi_ready())
		return;
	int port = test_free_udp_port();
	char path[128], cmd[2048];
	snprintf(path, sizeof(path), "%s/live.ini", dir);
	FILE *f = fopen(path, "w");
	cr_assert_not_null(f);
	fprintf(f, live_ini, port);
	fclose(f);
	snprintf(cmd, sizeof(cmd),
		 "cd %s && (timeout 120 '%s' serve live.ini --listen coap://127.0.0.1:%d --for 100s "
		 "> serve.log 2>&1 & echo $! > serve.pid) && sleep 0.3 && "
		 "timeout 150 " MPIRUN_N(2) "'%s' run live.ini --out out > run.log 2>&1; rc=$?; "
		 "kill $(cat serve.pid) 2>/dev/null; exit $rc",
		 dir, test_bin_path(), port, test_bin_path());
	int st = system(cmd);
	if (st)
		sh("cat %s/run.log >&2%s", dir, "");
	cr_assert_eq(st, 0, "%s", cmd);
	/* every second of the run has its line, the ranks' added */
	cr_assert_eq(sh("grep -q 'live p0-r0:    3 s' %s/run.log%s", dir, ""), 0);
	cr_assert_eq(sh("grep -q 'rank 1: 16 endpoints' %s/run.log%s", dir, ""), 0);

	snprintf(path, sizeof(path), "%s/out/summary.json", dir);
	json_t *sum = json_load_file(path, 0, NULL);
	cr_assert_not_null(sum);
	json_t *run = json_array_get(json_object_get(sum, "runs"), 0);
	json_t *m = json_object_get(run, "metrics");
	double msgs = metric(m, "messages", NULL), done = metric(m, "completed", NULL);
	cr_assert_eq(msgs, 31 * 6);
	cr_assert_eq(done + metric(m, "failed", NULL), msgs);
	json_t *ranks = json_object_get(run, "ranks");
	cr_assert_eq(json_array_size(ranks), 2);
	double per[2];
	for (size_t k = 0; k < 2; k++) {
		json_t *rk = json_array_get(ranks, k);
		cr_assert_eq(json_integer_value(json_object_get(rk, "endpoints")), k ? 16 : 15);
		per[k] = (double)json_integer_value(json_object_get(rk, "messages"));
		cr_assert(json_is_number(json_object_get(json_object_get(rk, "generator_lag_ms"),
							  "p99")));
	}
	cr_assert_eq(per[0] + per[1], msgs);

	/* the exchanges log: one row a message, every endpoint of both
	 * slices by its place in the whole fleet, in order of their ends */
	snprintf(path, sizeof(path), "%s/out/exchanges.csv", dir);
	f = fopen(path, "r");
	cr_assert_not_null(f);
	char line[512];
	double lat[256], sum_ms = 0, max_ms = 0, last_end = 0;
	int n = 0, rows = 0, seen[31] = {0};
	cr_assert_not_null(fgets(line, sizeof(line), f)); /* header */
	while (fgets(line, sizeof(line), f)) {
		char *fld[9], *p = line;
		int nf = 0;
		/* strtok_r would skip the empty fields of failed rows */
		for (char *c = p; nf < 9; c++) {
			if (*c == ',' || *c == '\n' || !*c) {
				fld[nf++] = p;
				bool end = !*c || *c == '\n';
				*c = 0;
				p = c + 1;
				if (end)
					break;
			}
		}
		cr_assert_eq(nf, 9, "row %d", rows);
		int ep = atoi(fld[1]);
		cr_assert(ep >= 0 && ep < 31);
		seen[ep]++;
		double end = strtod(fld[8], NULL);
		cr_assert_geq(end, last_end, "rows in order of their ends");
		last_end = end;
		if (!strcmp(fld[4], "completed")) {
			cr_assert_lt(n, 256);
			lat[n] = strtod(fld[5], NULL);
			sum_ms += lat[n];
			if (lat[n] > max_ms)
				max_ms = lat[n];
			n++;
		}
		rows++;
	}
	fclose(f);
	cr_assert_eq(rows, msgs);
	cr_assert_eq(n, done);
	for (int i = 0; i < 31; i++)
		cr_assert_eq(seen[i], 6, "endpoint %d has %d rows", i, seen[i]);
	qsort(lat, (size_t)n, sizeof(double), cmp_double);
	cr_assert_float_eq(metric(m, "latency_ms", "mean"), sum_ms / n, 1e-5);
	cr_assert_float_eq(metric(m, "latency_ms", "max"), max_ms, 1e-5);
	static const double q[3] = {0.5, 0.9, 0.99};
	static const char *const qn[3] = {"p50", "p90", "p99"};
	for (int i = 0; i < 3; i++) {
		int r = (int)ceil(q[i] * n - 1e-9);
		double want = lat[r < 1 ? 0 : r - 1], got = metric(m, "latency_ms", qn[i]);
		cr_assert(fabs(got - want) <= 0.002 * want + 0.002, "%s: %.3f, rows %.3f", qn[i],
			  got, want);
	}
	json_decref(sum);
}

/* Refused before anything starts: a group with fewer endpoints than
 * ranks. */
Test(cluster, live_runs_over_ranks_refuse_what_cannot_split, .init = setup, .fini = teardown,
     .timeout = 120)
{
	if (!mpi_ready())
		return;
	char cmd[2048];
	snprintf(cmd, sizeof(cmd),
		 "cd %s && printf '[scenario]\nduration = 2s\nbackend = live\n[live]\n"
		 "target = coap://127.0.0.1:9\n[group.s]\ncount = 1\nprotocol = coap\n' > one.ini && "
		 MPIRUN_N(2) "'%s' run one.ini --out o1 2> err1.txt; echo $? > rc1",
		 dir, test_bin_path());
	cr_assert_eq(system(cmd), 0);
	cr_assert_eq(sh("grep -q 'at least one endpoint a rank' %s/err1.txt%s", dir, ""), 0);
	cr_assert_neq(sh("test \"$(cat %s/rc1)\" = 0%s", dir, ""), 0);
}
