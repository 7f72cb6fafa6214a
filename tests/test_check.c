/* coapsim check: verdicts from confidence intervals, exit statuses, JUnit,
 * TAP and baselines, through the real binary. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "../sim/run/check.h"

#include "helpers.h"

#define bin test_bin

static char dir[64];

static void mk(void)
{
	strcpy(dir, "/tmp/coapsim-check-XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
}

static void rm(void)
{
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	cr_assert_eq(system(cmd), 0);
}

static void put(const char *name, const char *text)
{
	char p[256];
	snprintf(p, sizeof(p), "%s/%s", dir, name);
	FILE *f = fopen(p, "w");
	cr_assert_not_null(f);
	fputs(text, f);
	fclose(f);
}

/* Run `coapsim ARGS` in dir; stdout to out.txt; returns the exit status. */
static int sim(const char *fmt, ...)
{
	char args[1024], cmd[6000];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(args, sizeof(args), fmt, ap);
	va_end(ap);
	snprintf(cmd, sizeof(cmd), "cd %s && %s %s >out.txt 2>err.txt", dir, bin(), args);
	int st = system(cmd);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static char *slurp(const char *name)
{
	static char buf[65536];
	char p[256];
	snprintf(p, sizeof(p), "%s/%s", dir, name);
	FILE *f = fopen(p, "r");
	cr_assert_not_null(f, "%s", p);
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = 0;
	fclose(f);
	return buf;
}

static const char base[] =
	"[scenario]\nduration = 5min\nreplications = 5\nseed = 9\n"
	"[link]\nlatency = 100ms\nloss = 10%\n"
	"[group.sensors]\ncount = 400\n"
	"[output]\npcap = no\n";

static void scenario_with(const char *name, const char *expect)
{
	char text[2048];
	snprintf(text, sizeof(text), "%s[expect]\n%s", base, expect);
	put(name, text);
}

Test(check, passes_then_fails_with_set_and_writes_junit, .timeout = 120)
{
	mk();
	scenario_with("s.ini", "delivery_ratio = >= 0.999\nsuccess_ratio = >= 0.99\n");
	cr_assert_eq(sim("check s.ini --out res --junit ok.xml"), 0, "%s", slurp("err.txt"));
	cr_assert_not_null(strstr(slurp("out.txt"), "2 passed, 0 failed"));
	/* One retransmission only: 1 - 0.19^2 = 0.964 success, 1 - 0.1^2 = 0.99
	 * delivery: both expectations now fail. */
	cr_assert_eq(sim("check s.ini --out res --junit bad.xml --set coap.max_retransmit=1"), 1);
	char *out = slurp("out.txt");
	cr_assert_not_null(strstr(out, "FAIL s: p0 delivery_ratio >= 0.999"), "%s", out);
	char cmd[256];
	snprintf(cmd, sizeof(cmd), "xmllint --noout %s/ok.xml %s/bad.xml", dir, dir);
	cr_assert_eq(system(cmd), 0, "JUnit files are well-formed XML");
	char *x = slurp("bad.xml");
	cr_assert_not_null(strstr(x, "tests=\"2\" failures=\"2\""), "%s", x);
	cr_assert_not_null(strstr(x, "<failure message=\"measured 0.9"), "%s", x);
	x = slurp("ok.xml");
	cr_assert_not_null(strstr(x, "tests=\"2\" failures=\"0\""), "%s", x);
	cr_assert_not_null(strstr(x, "name=\"p0 success_ratio &gt;= 0.99\""), "%s", x);
	rm();
}

/* Mean and CI of a metric of point 0, from a run's summary.json. */
static void point_stats(const char *summary, const char *metric, double *mean, double *ci)
{
	char p[256];
	json_error_t je;
	snprintf(p, sizeof(p), "%s/%s", dir, summary);
	json_t *j = json_load_file(p, 0, &je);
	cr_assert_not_null(j, "%s", je.text);
	json_t *m = json_object_get(json_object_get(
		json_array_get(json_object_get(j, "points"), 0), "metrics"), metric);
	*mean = json_real_value(json_object_get(m, "mean"));
	*ci = json_real_value(json_object_get(m, "ci95"));
	json_decref(j);
	cr_assert_gt(*ci, 0);
}

Test(check, verdict_follows_the_interval_not_the_mean, .timeout = 120)
{
	double mean, ci;
	char exp[512];
	mk();
	put("s.ini", base);
	cr_assert_eq(sim("run s.ini --quiet --out r0"), 0);
	point_stats("r0/summary.json", "retransmissions_per_message", &mean, &ci);
	/* A bound between the lower end of the interval and the mean: the mean
	 * satisfies ">=", the interval does not, so it fails. */
	snprintf(exp, sizeof(exp),
		 "retransmissions_per_message = >= %.9f\n"
		 "retransmissions_per_message = <= %.9f\n",
		 mean - ci / 2, mean + ci / 2);
	scenario_with("near.ini", exp);
	cr_assert_eq(sim("check near.ini --out r1"), 1);
	char *out = slurp("out.txt");
	cr_assert_not_null(strstr(out, "0 passed, 2 failed"), "%s", out);
	cr_assert_not_null(strstr(out, "lower bound"), "%s", out);
	cr_assert_not_null(strstr(out, "upper bound"), "%s", out);
	/* Bounds outside the interval: both hold. */
	snprintf(exp, sizeof(exp),
		 "retransmissions_per_message = >= %.9f\n"
		 "retransmissions_per_message = <= %.9f\n",
		 mean - 2 * ci, mean + 2 * ci);
	scenario_with("far.ini", exp);
	cr_assert_eq(sim("check far.ini --out r2"), 0, "%s", slurp("out.txt"));
	rm();
}

Test(check, tap_output, .timeout = 120)
{
	mk();
	scenario_with("s.ini", "delivery_ratio = >= 0.9\nfailed = == 12345\n");
	cr_assert_eq(sim("check s.ini --out r --tap"), 1);
	char *out = slurp("out.txt");
	cr_assert_not_null(strstr(out, "TAP version 13\n1..2\n"), "%s", out);
	cr_assert_not_null(strstr(out, "\nok 1 - s: p0 delivery_ratio >= 0.9"), "%s", out);
	cr_assert_not_null(strstr(out, "\nnot ok 2 - s: p0 failed == 12345"), "%s", out);
	rm();
}

Test(check, baseline_comparison, .timeout = 120)
{
	mk();
	put("s.ini", base);
	cr_assert_eq(sim("run s.ini --quiet --out old"), 0);
	/* Same scenario, same seeds: nothing changed. */
	cr_assert_eq(sim("check s.ini --out new --baseline old/summary.json"), 0,
		     "%s", slurp("out.txt"));
	/* Fewer retransmissions: delivery and success drop significantly. */
	cr_assert_eq(sim("check s.ini --out new --baseline old/summary.json "
			 "--set coap.max_retransmit=1"), 1);
	char *out = slurp("out.txt");
	cr_assert_not_null(strstr(out, "FAIL s: p0 baseline success_ratio"), "%s", out);
	cr_assert_not_null(strstr(out, "significant at 95%"), "%s", out);
	/* Latency improved (no long backoffs): a change, but not a failure. */
	cr_assert_not_null(strstr(out, "PASS s: p0 baseline latency_ms.p99"), "%s", out);
	rm();
}

Test(check, unknown_metric_is_exit_2_with_line)
{
	mk();
	scenario_with("s.ini", "delivery_ratio = >= 0.9\ndelivery_ration = >= 0.9\n");
	cr_assert_eq(sim("check s.ini --out r"), 2);
	char *err = slurp("err.txt");
	cr_assert_not_null(strstr(err, "s.ini:14: unknown metric 'delivery_ration' in "
				       "[expect] (did you mean 'delivery_ratio'?)"), "%s", err);
	scenario_with("g.ini", "group.sensor.delivery_ratio = >= 0.9\n");
	cr_assert_eq(sim("check g.ini --out r"), 2);
	err = slurp("err.txt");
	cr_assert_not_null(strstr(err, "unknown group 'sensor'"), "%s", err);
	rm();
}

Test(check, welch_by_hand)
{
	/* a = 1 2 3 4: mean 2.5, variance 5/3; b = 2 4 6 8: mean 5, variance 20/3.
	 * s_a = 5/12, s_b = 5/3, t = -2.5 / sqrt(25/12) = -1.7320508,
	 * df = (25/12)^2 / ((5/12)^2/3 + (5/3)^2/3) = 4.3402778 / 0.9837963 = 4.4117647 */
	const double a[] = {1, 2, 3, 4}, b[] = {2, 4, 6, 8};
	double t, df;
	cr_assert(welch_t(a, 4, b, 4, &t, &df));
	cr_assert_float_eq(t, -1.7320508, 1e-6);
	cr_assert_float_eq(df, 4.4117647, 1e-6);
	const double c[] = {3, 3, 3};
	cr_assert_not(welch_t(c, 3, c, 3, &t, &df), "no variance: no test");
	cr_assert_not(welch_t(a, 1, b, 4, &t, &df), "one sample of one");
}

/* Nothing random: no loss, no jitter, every endpoint starts at 0 and sends
 * every 10 s, so each of the 5 replications is the same run and every
 * metric has one value on each side of a --baseline comparison. */
static const char steady[] =
	"[scenario]\nduration = 2min\nreplications = 5\nseed = 4\n"
	"[link]\nlatency = 50ms\n"
	"[group.s]\ncount = 20\ntraffic = periodic(10s)\nstart = 0\n"
	"[output]\npcap = no\n";

Test(check, baseline_without_variance_compares_the_values, .timeout = 120)
{
	mk();
	put("s.ini", steady);
	cr_assert_eq(sim("run s.ini --quiet --out A"), 0, "%s", slurp("err.txt"));
	/* The same runs again: 5 runs a side, each metric unchanged (the
	 * message once said "fewer than 2 runs on a side", and the lifetime,
	 * rounded to 12 digits in summary.json, came out "significant"). */
	cr_assert_eq(sim("check s.ini --out B --baseline A/summary.json"), 0, "%s",
		     slurp("out.txt"));
	char *out = slurp("out.txt");
	cr_assert_not_null(strstr(out, "PASS s: p0 baseline delivery_ratio: 1 now and in the "
				       "baseline, no variance in 5 and 5 runs: unchanged"),
			   "%s", out);
	cr_assert_not_null(strstr(out, "PASS s: p0 baseline lifetime_days:"), "%s", out);
	cr_assert_null(strstr(out, "fewer than 2"), "%s", out);
	cr_assert_null(strstr(out, "significant"), "%s", out);
	cr_assert_not_null(strstr(out, "13 expectations checked: 13 passed, 0 failed"), "%s",
			   out);
	/* 60 ms a way: a request and its piggybacked response take 2 x 60 =
	 * 120 ms in every run instead of 2 x 50 = 100, +20%, worse, and past
	 * the 1% tolerance. */
	cr_assert_eq(sim("check s.ini --out C --baseline A/summary.json "
			 "--set link.latency=60ms"), 1);
	out = slurp("out.txt");
	cr_assert_not_null(strstr(out, "FAIL s: p0 baseline latency_ms.p50: 120 now vs 100 in the "
				       "baseline (+20.00%), no variance in 5 and 5 runs: a "
				       "change, tolerance 1% decides"),
			   "%s", out);
	cr_assert_not_null(strstr(out, "FAIL s: p0 baseline delivery_latency_ms.p50: 60 now vs "
				       "50 in the baseline (+20.00%)"),
			   "%s", out);
	/* Within a 25% tolerance the same change passes. */
	sim("check s.ini --out C --baseline A/summary.json --set link.latency=60ms "
	    "--set expect.tolerance=25%%");
	out = slurp("out.txt");
	cr_assert_not_null(strstr(out, "PASS s: p0 baseline latency_ms.p50: 120 now vs 100"),
			   "%s", out);
	rm();
}
