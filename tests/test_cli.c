/* The command line as users and CI scripts see it: exit statuses, one-line
 * errors naming file and line, and results that do not depend on --jobs. */
#include <criterion/criterion.h>

#include "helpers.h"
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define bin test_bin

static char tmpdir[64];

static void mk_tmp(void)
{
	strcpy(tmpdir, "/tmp/coapsim-cli-XXXXXX");
	cr_assert_not_null(mkdtemp(tmpdir));
}

static void rm_tmp(void)
{
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
	cr_assert_eq(system(cmd), 0);
}

static const char *write_file(const char *name, const char *text)
{
	static char path[4][256];
	static int k;
	char *p = path[k++ % 4];
	snprintf(p, 256, "%s/%s", tmpdir, name);
	FILE *f = fopen(p, "w");
	cr_assert_not_null(f);
	fputs(text, f);
	fclose(f);
	return p;
}

/* Run a shell command; return the exit status, stderr in err. */
static int run(const char *args, char *err, size_t errlen)
{
	char cmd[2048], errfile[128];
	snprintf(errfile, sizeof(errfile), "%s/stderr.txt", tmpdir);
	snprintf(cmd, sizeof(cmd), "%s %s >/dev/null 2>%s", bin(), args, errfile);
	int st = system(cmd);
	FILE *f = fopen(errfile, "r");
	size_t n = f ? fread(err, 1, errlen - 1, f) : 0;
	err[n] = 0;
	if (f)
		fclose(f);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static int count_lines(const char *s)
{
	int n = 0;
	for (; *s; s++)
		n += *s == '\n';
	return n;
}

static void expect_error(const char *ini, const char *want)
{
	char err[4096], args[512];
	mk_tmp();
	const char *p = write_file("bad.ini", ini);
	snprintf(args, sizeof(args), "validate %s", p);
	cr_assert_eq(run(args, err, sizeof(err)), 2, "stderr: %s", err);
	cr_assert_eq(count_lines(err), 1, "one line: %s", err);
	char full[512];
	snprintf(full, sizeof(full), "%s/bad.ini:%s", tmpdir, want);
	cr_assert_not_null(strstr(err, full), "want '%s' in '%s'", full, err);
	rm_tmp();
}

static const char good_group[] = "[group.s]\ncount = 10\n";

Test(cli, unknown_key_names_line_and_suggestion)
{
	char ini[256];
	snprintf(ini, sizeof(ini), "[link]\nlatency = 10ms\nlos = 5%%\n%s", good_group);
	expect_error(ini, "3: unknown key 'los' in [link] (did you mean 'loss'?)");
}

Test(cli, bad_unit)
{
	char ini[256];
	snprintf(ini, sizeof(ini), "[scenario]\n\nduration = 10xs\n%s", good_group);
	expect_error(ini, "3:");
}

Test(cli, negative_count)
{
	expect_error("[scenario]\nseed = 1\n[group.s]\ncount = -5\n", "4:");
}

Test(cli, tcp_retries_out_of_range)
{
	char ini[256];
	snprintf(ini, sizeof(ini), "[tcp]\nsyn_retries = 6\ndata_retries = 31\n%s",
		 good_group);
	expect_error(ini, "3: 'data_retries' in [tcp] must be between 1 and 30 (got '31')");
}

Test(cli, unbalanced_sweep)
{
	char ini[256];
	snprintf(ini, sizeof(ini), "[link]\nloss = ${1%%, 2%%\n%s", good_group);
	expect_error(ini, "2:");
}

Test(cli, missing_file)
{
	char err[4096];
	mk_tmp();
	cr_assert_eq(run("run /nonexistent/nope.ini", err, sizeof(err)), 2);
	cr_assert_eq(count_lines(err), 1, "%s", err);
	cr_assert_not_null(strstr(err, "/nonexistent/nope.ini"), "%s", err);
	rm_tmp();
}

Test(cli, usage_errors_exit_2)
{
	char err[4096];
	mk_tmp();
	cr_assert_eq(run("frobnicate", err, sizeof(err)), 2);
	cr_assert_eq(run("run", err, sizeof(err)), 2);
	cr_assert_eq(run("run x.ini --jobs 0", err, sizeof(err)), 2);
	cr_assert_eq(run("--version", err, sizeof(err)), 0);
	cr_assert_eq(run("--help", err, sizeof(err)), 0);
	cr_assert_eq(run("run --help", err, sizeof(err)), 0);
	rm_tmp();
}

static const char small[] =
	"[scenario]\nduration = 2min\nseed = 3\nreplications = 3\n"
	"[link]\nlatency = 80ms\njitter = uniform(0, 40ms)\nloss = ${5%, 25%}\n"
	"rate = 250kbps\nduplicate = 2%\n"
	"[bottleneck]\nrate = 1Mbps\nqueue = 20\n"
	"[group.s]\ncount = 300\ntraffic = poisson(20s)\nstart = uniform(0, 20s)\n"
	"[output]\npcap = no\n";

Test(cli, validate_prints_the_run_matrix)
{
	char args[512], out[4096];
	mk_tmp();
	const char *p = write_file("small.ini", small);
	snprintf(args, sizeof(args), "%s validate %s > %s/out.txt", bin(), p, tmpdir);
	cr_assert_eq(system(args), 0);
	snprintf(args, sizeof(args), "%s/out.txt", tmpdir);
	FILE *f = fopen(args, "r");
	size_t n = fread(out, 1, sizeof(out) - 1, f);
	out[n] = 0;
	fclose(f);
	cr_assert_not_null(strstr(out, "p0 link.loss=5%"), "%s", out);
	cr_assert_not_null(strstr(out, "p1 link.loss=25%"), "%s", out);
	rm_tmp();
}

static json_t *run_jobs(const char *ini, int jobs)
{
	char args[512], err[4096], path[256];
	snprintf(args, sizeof(args), "run %s --quiet --jobs %d --out %s/j%d", ini, jobs,
		 tmpdir, jobs);
	cr_assert_eq(run(args, err, sizeof(err)), 0, "%s", err);
	snprintf(path, sizeof(path), "%s/j%d/summary.json", tmpdir, jobs);
	json_error_t je;
	json_t *j = json_load_file(path, 0, &je);
	cr_assert_not_null(j, "%s", je.text);
	test_strip_timing(j);
	return j;
}

Test(cli, jobs_do_not_change_results, .timeout = 120)
{
	mk_tmp();
	const char *p = write_file("small.ini", small);
	json_t *a = run_jobs(p, 1), *b = run_jobs(p, 2);
	cr_assert(json_equal(a, b), "summary.json differs between --jobs 1 and 2");
	json_t *runs = json_object_get(a, "runs");
	cr_assert_eq(json_array_size(runs), 6, "2 points x 3 replications");
	json_t *pt = json_array_get(json_object_get(a, "points"), 0);
	json_t *dr = json_object_get(json_object_get(pt, "metrics"), "delivery_ratio");
	cr_assert(json_is_real(json_object_get(dr, "mean")));
	cr_assert(json_is_real(json_object_get(dr, "ci95")));
	json_decref(a);
	json_decref(b);
	rm_tmp();
}

Test(cli, unwritable_output_is_exit_3_without_summary)
{
	char args[512], err[4096], path[256];
	mk_tmp();
	const char *p = write_file("small.ini", small);
	/* A regular file where a folder should be: even root cannot write. */
	write_file("blocker", "x");
	snprintf(args, sizeof(args), "run %s --quiet --out %s/blocker/res", p, tmpdir);
	cr_assert_eq(run(args, err, sizeof(err)), 3, "%s", err);
	cr_assert_eq(count_lines(err), 1, "%s", err);
	snprintf(path, sizeof(path), "%s/blocker/res/summary.json", tmpdir);
	struct stat st;
	cr_assert_neq(stat(path, &st), 0);
	rm_tmp();
}

/* A result can be reproduced from its own folder: summary.json's
 * scenario_text and scenario.ini hold every --set in place (a run at 90%
 * loss once recorded the file's 5%), and scenario.ini validates to the
 * same run matrix. */
Test(cli, overrides_are_recorded_with_the_results, .timeout = 60)
{
	char err[4096], args[1024];
	mk_tmp();
	const char *ini = write_file("q.ini", "[scenario]\nduration = 10s\n[link]\nloss = 5%\n"
					      "[group.s]\ncount = 3\n[output]\npcap = no\n");
	snprintf(args, sizeof(args), "run %s --set link.loss=90%% --set 'coap.nstart=${1,2}' "
		 "--out %s/out", ini, tmpdir);
	cr_assert_eq(run(args, err, sizeof(err)), 0, "%s", err);
	char path[256];
	snprintf(path, sizeof(path), "%s/out/summary.json", tmpdir);
	json_error_t je;
	json_t *j = json_load_file(path, 0, &je);
	cr_assert_not_null(j, "%s", je.text);
	const char *text = json_string_value(json_object_get(j, "scenario_text"));
	cr_assert_not_null(text);
	cr_assert_not_null(strstr(text, "loss = 90%"), "%s", text);
	cr_assert_null(strstr(text, "loss = 5%"), "%s", text);
	cr_assert_not_null(strstr(text, "nstart = ${1,2}"), "%s", text);
	json_decref(j);
	snprintf(args, sizeof(args), "validate %s/out/scenario.ini", tmpdir);
	cr_assert_eq(run(args, err, sizeof(err)), 0, "%s", err);
	rm_tmp();
}

/* One rule for times: at most 277,777 h (1e18 ns), and past it the
 * message says out of range, not a bad unit. */
Test(cli, times_past_the_limit_are_out_of_range)
{
	expect_error("[scenario]\nduration = 876000h\n[group.s]\ncount = 1\n",
		     "2: 'duration' in [scenario] must be at most 277777h (got '876000h')");
	expect_error("[scenario]\nduration = 1min\n[coap]\nack_timeout = 1h\n"
		     "ack_random_factor = 100\nmax_retransmit = 20\n[group.s]\ncount = 1\n",
		     "6: the retransmission schedule");
}

static bool exists(const char *fmt, const char *a)
{
	char p[512];
	struct stat st;
	snprintf(p, sizeof(p), fmt, a);
	return stat(p, &st) == 0;
}

/* A results folder is published whole: a second run into it replaces it,
 * and a file only the first run wrote (point 1's CDF) does not survive
 * into the second run's set. */
Test(cli, a_new_run_leaves_no_stale_files, .timeout = 60)
{
	char err[4096], args[1024];
	mk_tmp();
	const char *ini = write_file("s.ini", "[scenario]\nduration = 5s\n[group.s]\ncount = 2\n"
					      "[output]\npcap = no\n");
	snprintf(args, sizeof(args), "run %s --set 'link.loss=${0%%,5%%}' --out %s/out", ini,
		 tmpdir);
	cr_assert_eq(run(args, err, sizeof(err)), 0, "%s", err);
	cr_assert(exists("%s/out/data/cdf-p1.csv", tmpdir));
	snprintf(args, sizeof(args), "run %s --out %s/out", ini, tmpdir);
	cr_assert_eq(run(args, err, sizeof(err)), 0, "%s", err);
	cr_assert(exists("%s/out/data/cdf-p0.csv", tmpdir));
	cr_assert_not(exists("%s/out/data/cdf-p1.csv", tmpdir), "a stale file survived");
	rm_tmp();
}

/* A folder coapsim did not write is never replaced. */
Test(cli, a_users_folder_is_refused)
{
	char err[4096], args[1024];
	mk_tmp();
	const char *ini = write_file("s.ini", "[group.s]\ncount = 1\n[output]\npcap = no\n");
	write_file("notes.txt", "mine\n");
	snprintf(args, sizeof(args), "run %s --out %s", ini, tmpdir);
	cr_assert_eq(run(args, err, sizeof(err)), 2, "%s", err);
	cr_assert_not_null(strstr(err, "is not a coapsim results folder"), "%s", err);
	cr_assert(exists("%s/notes.txt", tmpdir));
	rm_tmp();
}

/* Two runs into one folder: the second is refused at once (the first
 * holds the lock beside the folder; here the test holds it). */
Test(cli, a_second_run_into_the_same_folder_is_refused)
{
	char err[4096], args[1024], lock[256];
	mk_tmp();
	const char *ini = write_file("s.ini", "[group.s]\ncount = 1\n[output]\npcap = no\n");
	snprintf(lock, sizeof(lock), "%s/.out.lock", tmpdir);
	int fd = open(lock, O_RDWR | O_CREAT, 0666);
	cr_assert_geq(fd, 0);
	cr_assert_eq(flock(fd, LOCK_EX), 0);
	snprintf(args, sizeof(args), "run %s --out %s/out", ini, tmpdir);
	cr_assert_eq(run(args, err, sizeof(err)), 3, "%s", err);
	cr_assert_not_null(strstr(err, "another coapsim run is writing there"), "%s", err);
	cr_assert_not(exists("%s/out", tmpdir), "the refused run wrote");
	close(fd);
	rm_tmp();
}

/* SIGINT in the middle: exit 130, one line, and the previous results are
 * untouched (the interrupted run's summary never replaces them). */
Test(cli, sigint_keeps_the_previous_results, .timeout = 120)
{
	char err[4096], args[1024], cmd[2048];
	mk_tmp();
	const char *small_ini = write_file("a.ini", "[scenario]\nname = first\nduration = 5s\n"
						    "[group.s]\ncount = 2\n[output]\npcap = no\n");
	snprintf(args, sizeof(args), "run %s --out %s/out", small_ini, tmpdir);
	cr_assert_eq(run(args, err, sizeof(err)), 0, "%s", err);
	const char *big = write_file("b.ini", "[scenario]\nname = second\nduration = 30min\n"
					      "[group.s]\ncount = 300000\n[output]\npcap = no\n");
	snprintf(cmd, sizeof(cmd),
		 "%s run %s --out %s/out >/dev/null 2>%s/stderr.txt & pid=$!; sleep 0.5; "
		 "kill -INT $pid; wait $pid",
		 test_bin_path(), big, tmpdir, tmpdir);
	int st = system(cmd);
	cr_assert(WIFEXITED(st));
	cr_assert_eq(WEXITSTATUS(st), 130);
	char path[256];
	snprintf(path, sizeof(path), "%s/out/summary.json", tmpdir);
	json_error_t je;
	json_t *j = json_load_file(path, 0, &je);
	cr_assert_not_null(j, "%s", je.text);
	cr_assert_str_eq(json_string_value(json_object_get(j, "scenario")), "first");
	json_decref(j);
	rm_tmp();
}

/* validate judges [expect] as check does: a misspelled metric or group is
 * the same one-line error with exit 2 from both, before anything runs. */
Test(cli, validate_checks_expect_like_check)
{
	static const char *const bad[][2] = {
		{"[group.s]\ncount = 10\n[expect]\nsuccess_ratio = >= 0.9\n"
		 "succes_ratio = >= 0.9\n",
		 "5: unknown metric 'succes_ratio' in [expect] (did you mean "
		 "'success_ratio'?)\n"},
		{"[group.s]\ncount = 10\n[expect]\ngroup.z.delivery_ratio = >= 0.9\n",
		 "4: unknown group 'z' in [expect] 'group.z.delivery_ratio'"},
	};
	char err[4096], err2[4096], args[512];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		expect_error(bad[i][0], bad[i][1]);
		mk_tmp();
		const char *p = write_file("bad.ini", bad[i][0]);
		snprintf(args, sizeof(args), "validate %s", p);
		cr_assert_eq(run(args, err, sizeof(err)), 2, "%s", err);
		snprintf(args, sizeof(args), "check %s --out %s/res", p, tmpdir);
		cr_assert_eq(run(args, err2, sizeof(err2)), 2, "%s", err2);
		cr_assert_str_eq(err, err2, "validate and check say the same");
		rm_tmp();
	}
}

/* {name} is the only placeholder of output.dir and output.pcap_dir: any
 * other {...} is refused where it is written (a run once made a folder
 * literally named '{seed}'). */
Test(cli, output_dirs_refuse_unknown_placeholders)
{
	char err[4096], args[1024], path[256];
	struct stat st;

	expect_error("[group.s]\ncount = 1\n[output]\npcap = no\ndir = results/{seed}\n",
		     "5: unknown placeholder '{seed}' in 'dir' in [output] (placeholders: "
		     "{name})\n");
	expect_error("[group.s]\ncount = 1\n[output]\npcap_dir = pcap/{name}/{}\n",
		     "4: unknown placeholder '{}' in 'pcap_dir' in [output] (placeholders: "
		     "{name})\n");
	mk_tmp();
	const char *p = write_file("q.ini", "[scenario]\nduration = 10s\n[group.s]\ncount = 1\n"
					    "[output]\npcap = no\n");
	snprintf(args, sizeof(args), "validate %s --set 'output.dir=r/{run}'", p);
	cr_assert_eq(run(args, err, sizeof(err)), 2, "%s", err);
	cr_assert_eq(count_lines(err), 1, "%s", err);
	cr_assert_not_null(strstr(err, "--set output.dir=r/{run}: unknown placeholder '{run}' "
				       "in 'dir' in [output] (placeholders: {name})"), "%s", err);
	/* run refuses it too, and makes no folder. */
	snprintf(args, sizeof(args), "run %s --quiet --set 'output.dir=%s/{seed}'", p, tmpdir);
	cr_assert_eq(run(args, err, sizeof(err)), 2, "%s", err);
	snprintf(path, sizeof(path), "%s/{seed}", tmpdir);
	cr_assert_neq(stat(path, &st), 0, "%s was created", path);
	/* {name}, as often as wanted, and braces that hold no placeholder. */
	snprintf(args, sizeof(args), "validate %s --set 'output.dir=r/{name}-{name}' "
		 "--set 'output.pcap_dir=p/{name}{'", p);
	cr_assert_eq(run(args, err, sizeof(err)), 0, "%s", err);
	rm_tmp();
}

/* The table: "-" where a metric does not apply (latency of NON requests,
 * success of NON), no "nan"; columns line up whatever the parameter
 * names (a long swept key once pushed every cell after it to the right);
 * with replications the ratios carry their 95% half-width. */
Test(cli, the_table_is_aligned_and_says_what_does_not_apply, .timeout = 60)
{
	char cmd[1024], line[512], head[512] = "";
	mk_tmp();
	const char *ini = write_file("t.ini", "[scenario]\nduration = 10s\nreplications = 2\n"
					      "[group.a_rather_long_group_name]\ncount = 3\ntraffic = periodic(2s)\n"
					      "confirmable = ${yes, no}\n[output]\npcap = no\n");
	snprintf(cmd, sizeof(cmd), "%s run %s --out %s/out", bin(), ini, tmpdir);
	FILE *p = popen(cmd, "r");
	cr_assert_not_null(p);
	int rows = 0;
	size_t msg_end = 0;
	while (fgets(line, sizeof(line), p)) {
		cr_assert_null(strstr(line, "nan"), "%s", line);
		if (!strncmp(line, "point", 5)) {
			snprintf(head, sizeof(head), "%s", line);
			msg_end = (size_t)(strstr(head, "messages") - head) + strlen("messages");
			continue;
		}
		if (line[0] < '0' || line[0] > '9')
			continue;
		rows++;
		/* the messages column is right-aligned under its header */
		cr_assert(line[msg_end - 1] >= '0' && line[msg_end - 1] <= '9' &&
				  line[msg_end] == ' ',
			  "misaligned:\n%s%s", head, line);
		cr_assert_not_null(strstr(line, "+-"), "no interval: %s", line);
		if (strstr(line, "=no"))
			cr_assert_not_null(strstr(line, " - "), "NON row without '-': %s", line);
	}
	cr_assert_eq(pclose(p), 0);
	cr_assert_eq(rows, 2);
	rm_tmp();
}

/* What would not fit is refused before it starts, at the key that drives
 * the estimate: a message every nanosecond (the captures alone are
 * petabytes: 6e13 messages x more than 100 bytes), and a fleet over a
 * memory limit given on the command line (1,000 endpoints take more than
 * 1 MB: the endpoint structures alone are 448 bytes each).  validate
 * prints the estimate. */
Test(cli, runs_that_would_not_fit_are_refused_up_front)
{
	char err[4096], args[1024];
	mk_tmp();
	const char *ini = write_file("f.ini", "[scenario]\nduration = 60s\n"
					      "[group.s]\ncount = 1000\ntraffic = periodic(1ns)\n");
	snprintf(args, sizeof(args), "run %s --out %s/out", ini, tmpdir);
	cr_assert_eq(run(args, err, sizeof(err)), 2, "%s", err);
	cr_assert_eq(count_lines(err), 1, "%s", err);
	char want[512];
	snprintf(want, sizeof(want), "%s:5: the captures of", ini);
	cr_assert_not_null(strstr(err, want), "want '%s' in %s", want, err);
	cr_assert_not(exists("%s/out", tmpdir));
	const char *ini2 = write_file("m.ini", "[scenario]\nduration = 60s\n"
					       "[group.s]\ncount = 1000\n[output]\npcap = no\n");
	snprintf(args, sizeof(args), "run %s --max-memory 1MB --out %s/out", ini2, tmpdir);
	cr_assert_eq(run(args, err, sizeof(err)), 2, "%s", err);
	snprintf(want, sizeof(want), "%s:4: a run needs about", ini2);
	cr_assert_not_null(strstr(err, want), "want '%s' in %s", want, err);
	cr_assert_not_null(strstr(err, "--max-memory"), "%s", err);
	/* validate prints the estimate and refuses the same way */
	snprintf(args, sizeof(args), "validate %s --max-memory 1MB", ini2);
	cr_assert_eq(run(args, err, sizeof(err)), 2, "%s", err);
	char cmd[1024], out[4096] = "";
	snprintf(cmd, sizeof(cmd), "%s validate %s", bin(), ini2);
	FILE *p = popen(cmd, "r");
	size_t n = fread(out, 1, sizeof(out) - 1, p);
	out[n] = 0;
	cr_assert_eq(pclose(p), 0);
	cr_assert_not_null(strstr(out, "estimate: memory"), "%s", out);
	rm_tmp();
}

/* coapsim plot on a truncated or empty summary.json: exit 2 with the
 * reason, and the plots already drawn are kept. */
Test(cli, plot_refuses_a_broken_summary_and_keeps_the_plots, .timeout = 60)
{
	char err[4096], args[1024], path[256];
	mk_tmp();
	const char *ini = write_file("p.ini", "[scenario]\nduration = 10s\n[group.s]\ncount = 2\n"
					      "traffic = periodic(2s)\n[output]\npcap = no\n");
	snprintf(args, sizeof(args), "run %s --out %s/out", ini, tmpdir);
	cr_assert_eq(run(args, err, sizeof(err)), 0, "%s", err);
	snprintf(path, sizeof(path), "%s/out/data/report.json", tmpdir);
	remove(path);
	snprintf(path, sizeof(path), "%s/out/summary.json", tmpdir);
	FILE *f = fopen(path, "r+");
	cr_assert_not_null(f);
	cr_assert_eq(ftruncate(fileno(f), 40), 0);
	fclose(f);
	cr_assert(exists("%s/out/plots/energy_histogram-p0.png", tmpdir));
	snprintf(args, sizeof(args), "plot %s/out", tmpdir);
	cr_assert_eq(run(args, err, sizeof(err)), 2, "%s", err);
	cr_assert_eq(count_lines(err), 1, "%s", err);
	cr_assert_not_null(strstr(err, "summary.json"), "%s", err);
	cr_assert(exists("%s/out/plots/energy_histogram-p0.png", tmpdir), "a plot was removed");
	f = fopen(path, "w");
	fclose(f);
	cr_assert_eq(run(args, err, sizeof(err)), 2, "%s", err);
	rm_tmp();
}

/* A group whose first message can only come after duration sends
 * nothing: the run goes on (exit 0) but says so at the start key. */
Test(cli, a_start_after_duration_is_warned)
{
	char err[4096], args[1024], want[512];
	mk_tmp();
	const char *ini = write_file("w.ini", "[scenario]\nduration = 10s\n[group.s]\ncount = 2\n"
					      "start = const(20s)\n[output]\npcap = no\n");
	snprintf(args, sizeof(args), "validate %s", ini);
	cr_assert_eq(run(args, err, sizeof(err)), 0, "%s", err);
	snprintf(want, sizeof(want), "%s:5: warning: the first message of [group.s]", ini);
	cr_assert_not_null(strstr(err, want), "want '%s' in %s", want, err);
	rm_tmp();
}

/* A write that fails names its file and the reason (it once said
 * "cannot write: Success" for exchanges.csv): with files limited to 50 kB
 * (ulimit -f, SIGXFSZ ignored so write() fails with EFBIG), a run whose
 * exchanges.csv grows past that stops with exit 3, one line naming
 * exchanges and "File too large", and no results. */
Test(cli, a_failed_write_names_the_file_and_the_reason, .timeout = 60)
{
	char cmd[2048], path[256];
	mk_tmp();
	const char *ini = write_file("x.ini", "[scenario]\nduration = 10min\n[group.s]\ncount = 500\n"
					      "traffic = periodic(10s)\n[output]\npcap = no\n"
					      "exchanges = yes\n");
	snprintf(cmd, sizeof(cmd),
		 "trap '' XFSZ; ulimit -f 100; %s run %s --jobs 1 --out %s/out >/dev/null "
		 "2>%s/stderr.txt",
		 test_bin_path(), ini, tmpdir, tmpdir);
	int st = system(cmd);
	cr_assert(WIFEXITED(st));
	cr_assert_eq(WEXITSTATUS(st), 3);
	char err[4096];
	snprintf(path, sizeof(path), "%s/stderr.txt", tmpdir);
	FILE *f = fopen(path, "r");
	size_t n = fread(err, 1, sizeof(err) - 1, f);
	err[n] = 0;
	fclose(f);
	cr_assert_eq(count_lines(err), 1, "%s", err);
	cr_assert_not_null(strstr(err, "exchanges"), "%s", err);
	cr_assert_not_null(strstr(err, "File too large"), "%s", err);
	cr_assert_not(exists("%s/out/summary.json", tmpdir));
	rm_tmp();
}

/* The 95% half-width in summary.json is Student's: with three
 * replications t(0.975, 2) = 4.303, so half-width = 4.303 s / sqrt(3)
 * where s is the sample standard deviation of the three runs' values (a
 * normal 1.96 would be 2.2 times too narrow).  The runs' own values come
 * from summary.json's runs[]; the quantile is the table's, by hand. */
Test(cli, the_ci_is_students_t, .timeout = 60)
{
	char err[4096], args[1024], path[256];
	mk_tmp();
	const char *ini = write_file("t.ini", "[scenario]\nduration = 5min\nreplications = 3\n"
					      "[link]\nlatency = 50ms\nloss = 20%\n[group.s]\ncount = 40\n"
					      "traffic = periodic(10s)\n[output]\npcap = no\n");
	snprintf(args, sizeof(args), "run %s --out %s/out", ini, tmpdir);
	cr_assert_eq(run(args, err, sizeof(err)), 0, "%s", err);
	snprintf(path, sizeof(path), "%s/out/summary.json", tmpdir);
	json_error_t je;
	json_t *j = json_load_file(path, 0, &je);
	cr_assert_not_null(j, "%s", je.text);
	static const char *const metrics[] = {"retransmissions_per_message", "success_ratio",
					      "transmissions"};
	for (size_t m = 0; m < 3; m++) {
		double v[3], mean = 0, ss = 0;
		for (size_t k = 0; k < 3; k++) {
			json_t *r = json_array_get(json_object_get(j, "runs"), k);
			v[k] = json_number_value(json_object_get(json_object_get(r, "metrics"),
								 metrics[m]));
			mean += v[k] / 3;
		}
		for (size_t k = 0; k < 3; k++)
			ss += (v[k] - mean) * (v[k] - mean);
		double want = 4.303 * sqrt(ss / 2) / sqrt(3.0);
		json_t *pm = json_object_get(json_object_get(json_array_get(
						     json_object_get(j, "points"), 0), "metrics"),
					     metrics[m]);
		double got = json_number_value(json_object_get(pm, "ci95"));
		cr_assert_gt(want, 0, "%s: the runs differ", metrics[m]);
		cr_assert_leq(fabs(got - want), 1e-9 * want + 1e-12, "%s: ci95 %.12g, want %.12g",
			      metrics[m], got, want);
	}
	json_decref(j);
	rm_tmp();
}

/* --out naming a file of the user's: refused, the file intact (it was
 * swapped away and deleted once).  A link to a results folder: the folder
 * it names gets the results, the link stays a link.  A capture folder
 * inside the results folder keeps its captures (publishing the results
 * removed them once). */
Test(cli, output_targets_are_never_lost, .timeout = 60)
{
	char err[4096], args[1024], path[256];
	mk_tmp();
	const char *ini = write_file("s.ini", "[scenario]\nduration = 10s\n[group.s]\ncount = 2\n"
					      "traffic = periodic(2s)\n[output]\npcap = no\n");
	const char *notes = write_file("notes.txt", "mine\n");
	snprintf(args, sizeof(args), "run %s --out %s", ini, notes);
	cr_assert_eq(run(args, err, sizeof(err)), 2, "%s", err);
	FILE *f = fopen(notes, "r");
	cr_assert_not_null(f);
	char line[16] = "";
	cr_assert_not_null(fgets(line, sizeof(line), f));
	fclose(f);
	cr_assert_str_eq(line, "mine\n");

	snprintf(args, sizeof(args), "run %s --out %s/real", ini, tmpdir);
	cr_assert_eq(run(args, err, sizeof(err)), 0, "%s", err);
	char link_[256], target[256];
	snprintf(link_, sizeof(link_), "%s/link", tmpdir);
	snprintf(target, sizeof(target), "%s/real", tmpdir);
	cr_assert_eq(symlink(target, link_), 0);
	snprintf(args, sizeof(args), "run %s --out %s", ini, link_);
	cr_assert_eq(run(args, err, sizeof(err)), 0, "%s", err);
	struct stat sb;
	cr_assert_eq(lstat(link_, &sb), 0);
	cr_assert(S_ISLNK(sb.st_mode), "the link was replaced by a folder");
	cr_assert(exists("%s/real/summary.json", tmpdir));

	snprintf(args, sizeof(args), "run %s --set output.pcap=yes --set output.dir=%s/o "
		 "--set output.pcap_dir=%s/o/caps", ini, tmpdir, tmpdir);
	cr_assert_eq(run(args, err, sizeof(err)), 0, "%s", err);
	snprintf(path, sizeof(path), "%s/o/caps/p0-r0.pcap", tmpdir);
	cr_assert_eq(stat(path, &sb), 0, "the captures were lost");
	rm_tmp();
}
