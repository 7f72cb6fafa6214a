/* The latency histogram's quantiles, against hand computation; the metrics
 * table (sim/run/metrics_table.h) against what is generated from it and
 * against the docs. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "helpers.h"
#include "../sim/run/metrics.h"
#include "../sim/run/runner.h"

/* 1,000 samples of 1..1000 us: below 2,048 us a bucket is 1 us wide, so
 * quantile q is the sample of rank ceil(q * 1000), exactly. */
Test(metrics, quantiles_of_exact_buckets)
{
	struct hist h = {0};
	for (sim_time us = 1000; us >= 1; us--)
		cr_assert_eq(hist_add(&h, us * 1000), 0);
	static const double q[6] = {0, 0.001, 0.5, 0.9, 0.999, 1};
	static const sim_time want_us[6] = {1, 1, 500, 900, 999, 1000};
	sim_time v[6];
	hist_quantiles(&h, 6, q, v);
	for (int i = 0; i < 6; i++) {
		cr_expect_eq(v[i], want_us[i] * 1000, "q=%g: %llu ns", q[i],
			     (unsigned long long)v[i]);
		cr_expect_eq(hist_quantile(&h, q[i]), v[i]);
	}
	hist_free(&h);
}

/* Above 2,048 us buckets widen: with 1,024 sub-buckets an octave,
 * [4096, 8192) us has buckets 4 us wide, so 4,101 us is in [4100, 4104)
 * and reads as its midpoint, 4,102 us.  9,000 us is in [9000, 9008) (8 us
 * wide): its midpoint, 9,004 us, is above the largest sample, so the
 * largest is the answer. */
Test(metrics, quantiles_of_wide_buckets_are_midpoints_clipped_to_max)
{
	struct hist h = {0};
	cr_assert_eq(hist_add(&h, 4101000), 0);
	cr_assert_eq(hist_add(&h, 4101000), 0);
	cr_assert_eq(hist_add(&h, 9000000), 0);
	static const double q[3] = {0.3, 0.6, 1};
	sim_time v[3];
	hist_quantiles(&h, 3, q, v);
	cr_expect_eq(v[0], 4102000);
	cr_expect_eq(v[1], 4102000);
	cr_expect_eq(v[2], 9000000);
	hist_free(&h);
}

Test(metrics, quantiles_of_nothing_are_zero)
{
	struct hist h = {0};
	static const double q[2] = {0.5, 1};
	sim_time v[2] = {1, 1};
	hist_quantiles(&h, 2, q, v);
	cr_expect_eq(v[0], 0);
	cr_expect_eq(v[1], 0);
}

/* Every row of the table is a field of metric_fields(), in the table's
 * order (a LAT row as its six values), and nothing else is. */
Test(metrics_table, fields_are_the_rows_in_order)
{
	struct run_metrics m = {0};
	struct metric_field f[METRIC_FIELDS_MAX];
	size_t n = metric_fields(&m, true, f), k = 0;
	char want[128];

	for (size_t i = 0; i < metric_table_len; i++) {
		const struct metric_info *r = &metric_table[i];
		for (int s = 0; s < (r->kind == METRIC_LAT ? METRIC_N_STATS : 1); s++) {
			if (r->kind == METRIC_LAT)
				snprintf(want, sizeof(want), "%s.%s", r->name, metric_stat_names[s]);
			else
				snprintf(want, sizeof(want), "%s", r->name);
			cr_assert_lt(k, n, "%s: more rows than fields", want);
			cr_assert_str_eq(f[k].name, want);
			cr_assert_eq(f[k].integer, r->kind == METRIC_COUNT || r->kind == METRIC_CHAN,
				     "%s", want);
			k++;
		}
	}
	cr_assert_eq(k, n, "fields without a row");
}

/* run_metrics_add sums every COUNT row and tally and ORs the flags; the
 * rows counted for the whole run (CHAN) are left to the caller. */
Test(metrics_table, add_sums_the_counters_and_ors_the_flags)
{
	struct run_metrics t = {0}, g = {0};
	uint64_t v = 1;
#define SET_(name, field, ...) g.field = v++;
#define SKIP_(...)
	RUN_METRICS(SET_, SKIP_, SKIP_, SKIP_)
#undef SET_
	g.mc_expected = 1000;
	g.observe = true;
	run_metrics_add(&t, &g);
	run_metrics_add(&t, &g);
	v = 1;
#define CHECK_(name, field, ...)                                                              \
	cr_assert_eq(t.field, 2 * v, "%s", name);                                             \
	v++;
	RUN_METRICS(CHECK_, SKIP_, SKIP_, SKIP_)
#undef CHECK_
	cr_assert_eq(t.mc_expected, 2000);
	cr_assert(t.observe && !t.confirmable && !t.multicast && !t.mqtt);

	g = (struct run_metrics){.packets_sent = 5, .events = 7};
	run_metrics_add(&t, &g);
	cr_assert_eq(t.packets_sent, 0);
	cr_assert_eq(t.events, 0);
#undef SKIP_
}

/* The metrics coapsim check compares with a baseline, and their directions. */
Test(metrics_table, baseline_metrics)
{
	static const char *const want[] = {
		"-failed", "+delivery_ratio", "+success_ratio", "-retransmissions_per_message",
		"-latency_ms.p50", "-latency_ms.p90", "-latency_ms.p99", "-latency_ms.mean",
		"-delivery_latency_ms.p50", "-delivery_latency_ms.p99", "-bytes_per_message",
		"-energy_mj.per_message", "+lifetime_days", "-handshake_ms.p50",
		"-handshake_ms.p90", "-handshake_ms.p99"};
	size_t k = 0;
	char got[128];

	for (size_t i = 0; i < metric_table_len; i++) {
		const struct metric_info *r = &metric_table[i];
		char sign = r->better == METRIC_HIGHER ? '+' : '-';
		if (!r->baseline)
			continue;
		cr_assert_neq(r->better, METRIC_NEUTRAL, "%s: a baseline needs a direction", r->name);
		for (int s = 0; s < (r->kind == METRIC_LAT ? METRIC_N_STATS : 1); s++) {
			if (r->kind == METRIC_LAT && !(r->baseline & 1u << s))
				continue;
			if (r->kind == METRIC_LAT)
				snprintf(got, sizeof(got), "%c%s.%s", sign, r->name,
					 metric_stat_names[s]);
			else
				snprintf(got, sizeof(got), "%c%s", sign, r->name);
			cr_assert_lt(k, sizeof(want) / sizeof(want[0]), "extra: %s", got);
			cr_assert_str_eq(got, want[k]);
			k++;
		}
	}
	cr_assert_eq(k, sizeof(want) / sizeof(want[0]));
}

/* Everything f holds, NUL-terminated (NULL when it cannot be read). */
static char *slurp(FILE *f)
{
	size_t n = 0, cap = 1 << 16;
	char *buf = malloc(cap);
	size_t r;
	while (buf && (r = fread(buf + n, 1, cap - n - 1, f)) > 0) {
		n += r;
		if (n + 1 == cap)
			buf = realloc(buf, cap *= 2);
	}
	if (buf)
		buf[n] = 0;
	return buf;
}

/* The docs' table is the command's output, between its markers. */
Test(metrics_table, docs_table_is_the_commands_output)
{
	char cmd[4096];
	snprintf(cmd, sizeof(cmd), "%s metrics --markdown", test_bin());
	FILE *p = popen(cmd, "r");
	cr_assert_not_null(p);
	char *table = slurp(p);
	cr_assert_eq(pclose(p), 0, "%s failed", cmd);
	cr_assert_not_null(table);
	cr_assert_gt(strlen(table), 0);

	FILE *f = fopen("docs/metrics.md", "r");
	cr_assert_not_null(f, "docs/metrics.md: run the tests from the repository's top");
	char *doc = slurp(f);
	fclose(f);
	cr_assert_not_null(doc);
	const char *begin = strstr(doc, "<!-- metrics:begin");
	cr_assert_not_null(begin, "docs/metrics.md has no <!-- metrics:begin --> marker");
	begin = strchr(begin, '\n');
	cr_assert_not_null(begin);
	begin++;
	char *end = strstr(begin, "<!-- metrics:end -->");
	cr_assert_not_null(end, "docs/metrics.md has no <!-- metrics:end --> marker");
	*end = 0;
	cr_assert_str_eq(begin, table,
			 "docs/metrics.md's table differs from `coapsim metrics --markdown`: "
			 "paste the command's output between the markers");
	free(table);
	free(doc);
}
