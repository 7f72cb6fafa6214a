/* The latency histogram's quantiles, against hand computation. */
#include <criterion/criterion.h>

#include "../sim/run/metrics.h"

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
