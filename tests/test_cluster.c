/* Sweeps over MPI ranks and resuming a killed sweep: the results must be
 * those of one uninterrupted process (timing aside).  Skipped with a
 * message where Open MPI's mpirun is missing or coapsim is built without
 * it. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "helpers.h"

/* LeakSanitizer off in the ranks (make asan): Open MPI's own allocations
 * at MPI_Init outlive MPI_Finalize, some in plugins already unloaded; our
 * code's leaks are checked by the runs without MPI here and everywhere. */
#define MPIRUN "mpirun --allow-run-as-root --oversubscribe -x ASAN_OPTIONS=detect_leaks=0 -n 3 "

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
