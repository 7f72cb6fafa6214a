/* Philox streams: repeatable, independent, and the distributions right. */
#include <criterion/criterion.h>
#include <signal.h>
#include <math.h>

#include <Random123/philox.h>

#include "../sim/engine/rng.h"

/* A stream is both words of Philox2x64-10 blocks (counter: block number,
 * stream id; key: seed), in order: checked against Random123 itself. */
Test(rng, stream_is_both_words_of_each_philox_block)
{
	struct sim_rng r;
	sim_rng_init(&r, 42, 7, RNG_COAP);
	for (uint64_t blk = 0; blk < 4; blk++) {
		philox2x64_ctr_t c = {{blk, r.id}};
		philox2x64_key_t k = {{42}};
		philox2x64_ctr_t w = philox2x64(c, k);
		cr_assert_eq(sim_rng_u64(&r), w.v[0], "block %lu word 0", (unsigned long)blk);
		cr_assert_eq(sim_rng_u64(&r), w.v[1], "block %lu word 1", (unsigned long)blk);
	}
	cr_assert_eq(r.ctr, 8, "ctr counts words");
}

Test(rng, repeatable_and_independent)
{
	struct sim_rng a, b, c;
	sim_rng_init(&a, 1, 5, RNG_APP);
	sim_rng_init(&b, 1, 5, RNG_APP);
	sim_rng_init(&c, 1, 6, RNG_APP);
	for (int i = 0; i < 1000; i++) {
		uint64_t x = sim_rng_u64(&a);
		cr_assert_eq(x, sim_rng_u64(&b));
		cr_assert_neq(x, sim_rng_u64(&c));
	}
	/* Drawing from another stream does not move this one: counter based. */
	struct sim_rng d, e;
	sim_rng_init(&d, 9, 1, RNG_LINK_UP);
	sim_rng_init(&e, 9, 1, RNG_LINK_UP);
	uint64_t first = sim_rng_u64(&d);
	struct sim_rng other;
	sim_rng_init(&other, 9, 2, RNG_LINK_UP);
	for (int i = 0; i < 100; i++)
		sim_rng_u64(&other);
	cr_assert_eq(sim_rng_u64(&e), first);
	/* p = 0 and p = 1 draw nothing */
	uint64_t ctr = d.ctr;
	cr_assert_not(sim_rng_bernoulli(&d, 0));
	cr_assert(sim_rng_bernoulli(&d, 1));
	cr_assert_eq(d.ctr, ctr);
}

static void moments(const struct dist *dd, int n, double *mean, double *var)
{
	struct sim_rng r;
	double s = 0, s2 = 0;
	sim_rng_init(&r, 3, 3, RNG_APP);
	for (int i = 0; i < n; i++) {
		double x = sim_rng_dist(&r, dd);
		s += x;
		s2 += x * x;
	}
	*mean = s / n;
	*var = s2 / n - *mean * *mean;
}

Test(rng, distributions_match_their_moments)
{
	const int n = 400000;
	double m, v;
	/* uniform(2, 6): mean 4, variance 16/12 */
	struct dist u = {SIM_DIST_UNIFORM, 2, 6};
	moments(&u, n, &m, &v);
	cr_assert_leq(fabs(m - 4), 4 * sqrt(16.0 / 12 / n));
	/* normal(100, 10): mean 100, sd 10 (no clamping this far from 0) */
	struct dist g = {SIM_DIST_NORMAL, 100, 10};
	moments(&g, n, &m, &v);
	cr_assert_leq(fabs(m - 100), 4 * 10 / sqrt(n));
	cr_assert_float_eq(sqrt(v), 10, 0.1);
	/* exp(mean 5): mean 5, variance 25 */
	struct dist x = {SIM_DIST_EXP, 5, 0};
	moments(&x, n, &m, &v);
	cr_assert_leq(fabs(m - 5), 4 * 5 / sqrt(n));
	/* pareto(shape 3, scale 2): mean 3*2/2 = 3, variance 2^2*3/(2^2*1) = 3 */
	struct dist p = {SIM_DIST_PARETO, 3, 2};
	moments(&p, n, &m, &v);
	cr_assert_leq(fabs(m - 3), 4 * sqrt(3.0 / n) * 3, "pareto mean %f", m);
	struct sim_rng r;
	sim_rng_init(&r, 4, 4, RNG_APP);
	for (int i = 0; i < 10000; i++)
		cr_assert_geq(sim_rng_dist(&r, &p), 2.0, "pareto >= scale");
	struct dist c = {SIM_DIST_CONST, 7, 0}, none = {SIM_DIST_NONE, 0, 0};
	cr_assert_eq(sim_rng_dist(&r, &c), 7);
	cr_assert_eq(sim_rng_dist(&r, &none), 0);
	/* unit in [0, 1) */
	for (int i = 0; i < 100000; i++) {
		double z = sim_rng_unit(&r);
		cr_assert(z >= 0 && z < 1);
	}
}

Test(rng, every_kind_has_a_name)
{
	cr_assert_str_eq(sim_rng_kind_name(RNG_APP), "app");
	cr_assert_str_eq(sim_rng_kind_name(RNG_TCP), "tcp");
	cr_assert_str_eq(sim_rng_kind_name((enum sim_rng_kind)99), "?");
}

#ifdef SIM_CHECKS
/* The debug check (make asan builds with it): one (owner, kind) pair taken
 * twice in a run's setup aborts; a view, or another kind, does not. */
Test(rng, a_stream_taken_twice_is_a_failed_check, .signal = SIGABRT)
{
	struct sim_rng a, b;
	cr_assert_eq(sim_rng_claims_begin(), 0);
	sim_rng_init(&a, 1, 7, RNG_COAP);
	sim_rng_view(&b, 1, 7, RNG_COAP);
	sim_rng_init(&b, 1, 7, RNG_TCP);
	sim_rng_init(&b, 1, 8, RNG_COAP);
	sim_rng_init(&b, 1, 7, RNG_COAP);
}
#endif
