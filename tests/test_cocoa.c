/* CoCoA (draft-ietf-core-cocoa-03): the draft's worked examples (its
 * Appendix C, "Example A.1", "A.2" and "B") and Appendix D, then each rule on
 * its own.  Every expected value is worked out by hand in the comment next
 * to it from the draft's formulas; none was copied from a run. */
#include <criterion/criterion.h>
#include <string.h>

#include "../sim/coap/cocoa.h"

/* Default G of 1 ms is assumed where a value depends on it. */
#define G SIM_US(COCOA_CLOCK_G_US)

/* A state that has been measured (so no blind RTO) with this overall RTO,
 * last changed at `at`. */
static void measured(struct cocoa *c, sim_time rto, sim_time at)
{
	cocoa_init(c);
	c->have_strong = 1;
	c->rto = rto;
	c->updated = at;
}

static bool same_state(const struct cocoa *a, const struct cocoa *b)
{
	return a->rto == b->rto && a->rto_strong == b->rto_strong &&
	       a->rto_weak == b->rto_weak && a->updated == b->updated &&
	       a->srtt_strong == b->srtt_strong &&
	       a->rttvar_strong == b->rttvar_strong &&
	       a->srtt_weak == b->srtt_weak && a->rttvar_weak == b->rttvar_weak &&
	       a->have_strong == b->have_strong && a->have_weak == b->have_weak;
}

/* ---- the draft's examples ---- */

Test(cocoa_draft, example_a1_weak_rtts)
{
	struct cocoa c;
	struct sim_rng r;
	uint8_t vbf;

	/* Strong RTT 1.1 s, RTTVAR 0.1 s: E_strong = 1.1 + 4 * 0.1 = 1.5 s,
	 * and the node's overall RTO is 1.5 s. */
	measured(&c, SIM_MS(1500), 0);
	c.srtt_strong = 1100000;
	c.rttvar_strong = 100000;
	c.rto_strong = SIM_MS(1500);
	/* Between 1 and 3 s nothing ages, whatever the idle time. */
	cr_assert_eq(cocoa_rto(&c, SIM_S(20)), SIM_MS(1500));

	/* The exchange starts at 1.5 s x [1, 1.5] with binary backoff. */
	sim_rng_init(&r, 7, 1, RNG_COAP);
	sim_time t = cocoa_initial_timeout(&c, SIM_S(100), 1, 1.5, &r, &vbf);
	cr_assert(t >= SIM_MS(1500) && t <= SIM_MS(2250));
	cr_assert_eq(vbf, 20);

	/* The real RTT is now 2 s: first transmission at 100 s, retransmission
	 * at 101.5 s, ACK at 102 s, timed from the first: a weak 2 s sample.
	 * First weak sample: SRTT 2, RTTVAR 1, E_weak = 2 + 1 * 1 = 3 s;
	 * RTO = 0.25 * 3 + 0.75 * 1.5 = 1.875 s (the draft's figure). */
	cr_assert(cocoa_on_response(&c, SIM_S(102), SIM_S(2), 2));
	cr_assert_eq(c.rto_weak, SIM_S(3));
	cr_assert_eq(c.rto, SIM_MS(1875));
	cr_assert_eq(c.rto_strong, SIM_MS(1500), "the strong estimator is untouched");

	/* Another weak 2 s sample through RFC 6298: RTTVAR = 0.75 * 1 +
	 * 0.25 * |2 - 2| = 0.75, SRTT 2, E_weak = 2.75 s; RTO = 0.25 * 2.75 +
	 * 0.75 * 1.875 = 0.6875 + 1.40625 = 2.09375 s. */
	cr_assert(cocoa_on_response(&c, SIM_S(110), SIM_S(2), 2));
	cr_assert_eq(c.rto_weak, SIM_MS(2750));
	cr_assert_eq(c.rto, SIM_US(2093750));

	/* The draft's "2.156 s" keeps E_weak at 3 s ("the same RTT/RTTVAR
	 * values"): 0.25 * 3 + 0.75 * 1.875 = 0.75 + 1.40625 = 2.15625 s.
	 * That is a weak estimator whose state reads SRTT 2, RTTVAR 1 after
	 * the sample, e.g. a fresh one fed 2 s. */
	struct cocoa d;
	measured(&d, SIM_MS(1875), 0);
	cr_assert(cocoa_on_response(&d, SIM_S(110), SIM_S(2), 3));
	cr_assert_eq(d.rto_weak, SIM_S(3));
	cr_assert_eq(d.rto, SIM_US(2156250));
}

Test(cocoa_draft, example_a2_vbf_and_aging)
{
	struct cocoa c;
	struct sim_rng r;
	uint8_t vbf;

	/* The RTO has reached 4 s, last updated at 50 s. */
	measured(&c, SIM_S(4), SIM_S(50));
	sim_rng_init(&r, 7, 2, RNG_COAP);
	sim_time t = cocoa_initial_timeout(&c, SIM_S(50), 1, 1.5, &r, &vbf);
	cr_assert(t >= SIM_S(4) && t <= SIM_S(6));
	/* "no longer a binary backoff": 1.5 above 3 s.  From 4 s: 6, 9, 13.5,
	 * 20.25, 30.375, then 45.5625 truncated to 32 s. */
	cr_assert_eq(vbf, 15);
	sim_time want[] = {SIM_S(6), SIM_S(9), SIM_MS(13500), SIM_MS(20250),
			   SIM_MS(30375), SIM_S(32), SIM_S(32)};
	t = SIM_S(4);
	for (size_t i = 0; i < SIM_ARRAY_LEN(want); i++) {
		t = cocoa_backoff(t, vbf);
		cr_assert_eq(t, want[i], "step %zu", i);
	}
	/* "with an RTO of 4 s, after 16 s the RTO would be shifted to 3 s":
	 * 4 x 4 s = 16 s after the update, RTO = 1 + 0.5 * 4 = 3 s; 3 s is
	 * not above 3 s, so it then stays. */
	cr_assert_eq(cocoa_rto(&c, SIM_S(66) - 1), SIM_S(4));
	cr_assert_eq(cocoa_rto(&c, SIM_S(66)), SIM_S(3));
	cr_assert_eq(cocoa_rto(&c, SIM_S(100000)), SIM_S(3));
}

Test(cocoa_draft, example_b_vbf_and_aging)
{
	struct cocoa c, once;

	/* 4G: RTO 0.3 s, below 1 s, so the backoff factor is 3: "0.9 s first
	 * retry, 2.7 s second retry, etc.", then 8.1, 24.3, and 72.9 is
	 * truncated to 32 s. */
	measured(&c, SIM_MS(300), 0);
	cr_assert_eq(cocoa_vbf(cocoa_rto(&c, 0)), 30);
	sim_time want[] = {SIM_MS(900), SIM_MS(2700), SIM_MS(8100), SIM_MS(24300),
			   SIM_S(32)};
	sim_time t = SIM_MS(300);
	for (size_t i = 0; i < SIM_ARRAY_LEN(want); i++) {
		t = cocoa_backoff(t, 30);
		cr_assert_eq(t, want[i], "step %zu", i);
	}
	/* Aging doubles it after 16 * 0.3 s = 4.8 s (the draft prints "3.8 s"
	 * next to "(16 * 0.3 s)"), to 0.6 s; then after 16 * 0.6 = 9.6 s more,
	 * at 14.4 s, to 1.2 s, which no longer ages. */
	once = c;
	cr_assert_eq(cocoa_rto(&c, SIM_MS(4800) - 1), SIM_MS(300));
	cr_assert_eq(cocoa_rto(&c, SIM_MS(4800)), SIM_MS(600));
	cr_assert_eq(cocoa_rto(&c, SIM_MS(14400) - 1), SIM_MS(600));
	cr_assert_eq(cocoa_rto(&c, SIM_MS(14400)), SIM_MS(1200));
	cr_assert_eq(cocoa_rto(&c, SIM_S(1000)), SIM_MS(1200));
	/* Read once, cumulatively: the same value and the same clock. */
	cr_assert_eq(cocoa_rto(&once, SIM_S(1000)), SIM_MS(1200));
	cr_assert_eq(once.updated, SIM_MS(14400));
}

Test(cocoa_draft, appendix_d_strong_vs_weak)
{
	struct cocoa c;

	/* Static RTT R' = 100 ms.  First strong sample: SRTT 100 ms, RTTVAR
	 * 50 ms; SRTT then stays (7 * R' + R') / 8 = R' and RTTVAR shrinks by
	 * 3/4 per sample: 4 * RTTVAR < G = 1 ms from the 19th on (50 ms *
	 * 0.75^18 = 0.28 ms, 0.75^19 -> 0.21 ms), and reaches 0 well before
	 * 60.  So E_strong = R' + max(G, 0) = R' + G = 101 ms.  Once E_strong
	 * is constant the distance of the overall RTO to it halves (rounded
	 * down) per sample; from under 2^22 ns it is 0 after 22 more. */
	cocoa_init(&c);
	for (int i = 0; i < 60; i++)
		cocoa_on_response(&c, SIM_S(10 + i), SIM_MS(100), 1);
	cr_assert_eq(c.srtt_strong, 100000);
	cr_assert_eq(c.rto_strong, SIM_MS(100) + G);
	cr_assert_eq(c.rto, SIM_MS(101));

	/* One loss (at 70 s, 1 s after the last sample: too soon for aging,
	 * 16 * 101 ms): the retransmission goes at RTO = R' + G and is
	 * answered R' later, so RW' = R' + G + R' = 201 ms from the first
	 * transmission.
	 * E_weak = RW' + max(G, RW' / 2) = 201 + 100.5 = 301.5 ms, the
	 * draft's "3 * R'" plus 1.5 G.  RTO = 0.25 * 301.5 + 0.75 * 101 =
	 * 75.375 + 75.75 = 151.125 ms. */
	cr_assert(cocoa_on_response(&c, SIM_S(70), 2 * SIM_MS(100) + G, 2));
	cr_assert_eq(c.rto_weak, SIM_US(301500));
	cr_assert_eq(c.rto, SIM_US(151125));
}

/* ---- which samples count, and how ---- */

Test(cocoa_samples, strong_k4_weak_k1_and_weights)
{
	struct cocoa s, w;

	/* The same 1 s sample: strong SRTT 1, RTTVAR 0.5, E = 1 + 4 * 0.5 =
	 * 3 s, RTO = 0.5 * 3 + 0.5 * 2 = 2.5 s; weak E = 1 + 1 * 0.5 = 1.5 s,
	 * RTO = 0.25 * 1.5 + 0.75 * 2 = 1.875 s. */
	cocoa_init(&s);
	cocoa_init(&w);
	cr_assert(cocoa_on_response(&s, SIM_S(5), SIM_S(1), 1));
	cr_assert(cocoa_on_response(&w, SIM_S(5), SIM_S(1), 2));
	cr_assert_eq(s.rto_strong, SIM_S(3));
	cr_assert_eq(s.rto, SIM_MS(2500));
	cr_assert_eq(w.rto_weak, SIM_MS(1500));
	cr_assert_eq(w.rto, SIM_MS(1875));
	/* Each leaves the other estimator at its initial 2 s. */
	cr_assert_eq(cocoa_rto_weak(&s), SIM_S(2));
	cr_assert_eq(cocoa_rto_strong(&w), SIM_S(2));
	cr_assert_not(s.have_weak);
	cr_assert_not(w.have_strong);
	cr_assert_eq(s.updated, SIM_S(5));

	/* A second strong sample, 2 s: RTTVAR = 0.75 * 0.5 + 0.25 * |1 - 2| =
	 * 0.625, SRTT = 7/8 * 1 + 1/8 * 2 = 1.125, E = 1.125 + 4 * 0.625 =
	 * 3.625 s; RTO = (3.625 + 2.5) / 2 = 3.0625 s. */
	cr_assert(cocoa_on_response(&s, SIM_S(6), SIM_S(2), 1));
	cr_assert_eq(s.srtt_strong, 1125000);
	cr_assert_eq(s.rttvar_strong, 625000);
	cr_assert_eq(cocoa_rto_strong(&s), SIM_US(3625000));
	cr_assert_eq(s.rto, SIM_US(3062500));
}

Test(cocoa_samples, transmissions_select_the_estimator)
{
	struct cocoa c, before;

	cocoa_init(&c);
	/* 1 transmission: strong.  2 and 3 (one or two retransmissions):
	 * weak.  4 or more ("after the third retransmission") and 0: none. */
	cr_assert(cocoa_on_response(&c, SIM_S(1), SIM_MS(200), 1));
	cr_assert(c.have_strong && !c.have_weak);
	cr_assert(cocoa_on_response(&c, SIM_S(2), SIM_MS(800), 2));
	cr_assert(c.have_weak);
	/* Weak first sample 0.8 s: E_weak = 0.8 + 0.4 = 1.2 s. */
	cr_assert_eq(c.rto_weak, SIM_MS(1200));
	/* 3 transmissions: RTTVAR = 0.75 * 0.4 + 0.25 * |0.8 - 1.6| = 0.5,
	 * SRTT = 0.7 + 0.2 = 0.9, E_weak = 1.4 s. */
	cr_assert(cocoa_on_response(&c, SIM_S(3), SIM_MS(1600), 3));
	cr_assert_eq(c.rto_weak, SIM_MS(1400));
	before = c;
	cr_assert_not(cocoa_on_response(&c, SIM_S(4), SIM_MS(100), 4));
	cr_assert_not(cocoa_on_response(&c, SIM_S(4), SIM_MS(100), 5));
	cr_assert_not(cocoa_on_response(&c, SIM_S(4), SIM_MS(100), 0));
	cr_assert(same_state(&c, &before), "ignored samples change nothing");
}

Test(cocoa_samples, weak_sample_timed_from_first_transmission)
{
	struct cocoa c;

	/* First transmission at 10 s, retransmission at 12 s, ACK at 12.5 s:
	 * the weak sample is 2.5 s (not 0.5 s from the retransmission).
	 * E_weak = 2.5 + 1.25 = 3.75 s; RTO = 0.25 * 3.75 + 0.75 * 2 =
	 * 0.9375 + 1.5 = 2.4375 s. */
	cocoa_init(&c);
	cr_assert(cocoa_on_response(&c, SIM_MS(12500), SIM_MS(12500) - SIM_S(10), 2));
	cr_assert_eq(c.rto_weak, SIM_MS(3750));
	cr_assert_eq(c.rto, SIM_US(2437500));
}

Test(cocoa_samples, blends_with_the_aged_rto)
{
	struct cocoa c;

	/* RTO 0.5 s since 0; at 8 s = 16 * 0.5 s it has aged to 1 s, so a
	 * weak 1 s sample (E_weak = 1 + 0.5 = 1.5 s) gives 0.25 * 1.5 +
	 * 0.75 * 1 = 1.125 s (not 0.25 * 1.5 + 0.75 * 0.5 = 0.75 s). */
	measured(&c, SIM_MS(500), 0);
	cr_assert(cocoa_on_response(&c, SIM_S(8), SIM_S(1), 2));
	cr_assert_eq(c.rto, SIM_MS(1125));
	cr_assert_eq(c.updated, SIM_S(8));
}

/* ---- variable backoff factor ---- */

Test(cocoa_vbf, boundaries)
{
	/* §4.2.1 / B.3: 3 below 1 s, 1.5 above 3 s, 2 in between (1 s and 3 s
	 * included). */
	cr_assert_eq(cocoa_vbf(0), 30);
	cr_assert_eq(cocoa_vbf(SIM_S(1) - 1), 30);
	cr_assert_eq(cocoa_vbf(SIM_S(1)), 20);
	cr_assert_eq(cocoa_vbf(SIM_S(2)), 20);
	cr_assert_eq(cocoa_vbf(SIM_S(3)), 20);
	cr_assert_eq(cocoa_vbf(SIM_S(3) + 1), 15);
	cr_assert_eq(cocoa_vbf(COCOA_RTO_MAX), 15);
}

Test(cocoa_vbf, backoff_and_truncation)
{
	/* prev * factor: 1 s * 2, 0.5 s * 3, 4 s * 1.5. */
	cr_assert_eq(cocoa_backoff(SIM_S(1), 20), SIM_S(2));
	cr_assert_eq(cocoa_backoff(SIM_MS(500), 30), SIM_MS(1500));
	cr_assert_eq(cocoa_backoff(SIM_S(4), 15), SIM_S(6));
	/* Truncated at 32 s: 16 * 2 = 32 exactly, 20 * 2 = 40 -> 32,
	 * 30 * 1.5 = 45 -> 32, 32 * 3 -> 32; a 40 s timeout (a large initial
	 * one) is kept, not shortened. */
	cr_assert_eq(cocoa_backoff(SIM_S(16), 20), SIM_S(32));
	cr_assert_eq(cocoa_backoff(SIM_S(20), 20), SIM_S(32));
	cr_assert_eq(cocoa_backoff(SIM_S(30), 15), SIM_S(32));
	cr_assert_eq(cocoa_backoff(SIM_S(32), 30), SIM_S(32));
	cr_assert_eq(cocoa_backoff(SIM_S(40), 15), SIM_S(40));
}

Test(cocoa_vbf, chosen_from_the_undithered_rto)
{
	struct cocoa c;
	struct sim_rng r;
	uint8_t vbf;
	int above_1s = 0;

	/* RTO 0.9 s: timeouts are drawn in [0.9, 1.35] s, and even those above
	 * 1 s back off by 3, the factor of the RTO estimate. */
	measured(&c, SIM_MS(900), 0);
	sim_rng_init(&r, 3, 3, RNG_COAP);
	for (int i = 0; i < 200; i++) {
		sim_time t = cocoa_initial_timeout(&c, 0, 1, 1.5, &r, &vbf);
		cr_assert(t >= SIM_MS(900) && t <= SIM_MS(1350));
		cr_assert_eq(vbf, 30);
		above_1s += t > SIM_S(1);
	}
	cr_assert_gt(above_1s, 0);
}

/* ---- aging ---- */

Test(cocoa_aging, doubles_below_1s)
{
	struct cocoa c;

	/* From 1 ms: doublings after 16, 32, ..., 16 * 512 ms, i.e. at
	 * 16 * (1 + 2 + ... + 512) = 16 * 1023 = 16368 ms, it reaches
	 * 1024 ms and stops (not below 1 s). */
	measured(&c, SIM_MS(1), 0);
	cr_assert_eq(cocoa_rto(&c, SIM_MS(16) - 1), SIM_MS(1));
	cr_assert_eq(cocoa_rto(&c, SIM_MS(16)), SIM_MS(2));
	cr_assert_eq(cocoa_rto(&c, SIM_MS(16368) - 1), SIM_MS(512));
	cr_assert_eq(cocoa_rto(&c, SIM_MS(16368)), SIM_MS(1024));
	cr_assert_eq(cocoa_rto(&c, SIM_S(1000000)), SIM_MS(1024));
}

Test(cocoa_aging, decays_above_3s)
{
	struct cocoa c;

	/* From 60 s: after 4 * 60 = 240 s, 1 + 30 = 31 s; +124 s (364 s)
	 * 16.5 s; +66 s (430 s) 9.25 s; +37 s (467 s) 5.625 s; +22.5 s
	 * (489.5 s) 3.8125 s; +15.25 s (504.75 s) 1 + 1.90625 = 2.90625 s,
	 * which stays. */
	measured(&c, SIM_S(60), 0);
	cr_assert_eq(cocoa_rto(&c, SIM_S(240) - 1), SIM_S(60));
	cr_assert_eq(cocoa_rto(&c, SIM_S(240)), SIM_S(31));
	cr_assert_eq(cocoa_rto(&c, SIM_S(430)), SIM_MS(9250));
	cr_assert_eq(cocoa_rto(&c, SIM_MS(504750) - 1), SIM_US(3812500));
	cr_assert_eq(cocoa_rto(&c, SIM_MS(504750)), SIM_US(2906250));
	cr_assert_eq(cocoa_rto(&c, SIM_S(1000000)), SIM_US(2906250));
}

Test(cocoa_aging, not_between_1_and_3s)
{
	struct cocoa c;
	sim_time v[] = {SIM_S(1), SIM_MS(2200), SIM_S(3)};

	for (size_t i = 0; i < SIM_ARRAY_LEN(v); i++) {
		measured(&c, v[i], 0);
		cr_assert_eq(cocoa_rto(&c, SIM_S(1000000)), v[i]);
	}
}

Test(cocoa_aging, lazy_equals_eager)
{
	struct cocoa eager, lazy;

	/* Reading every 100 ms or only at the end gives the same state. */
	measured(&eager, SIM_S(60), 0);
	measured(&lazy, SIM_S(60), 0);
	for (sim_time t = 0; t <= SIM_S(600); t += SIM_MS(100))
		cocoa_rto(&eager, t);
	cocoa_rto(&lazy, SIM_S(600));
	cr_assert(same_state(&eager, &lazy));
}

Test(cocoa_aging, measurement_restarts_the_clock)
{
	struct cocoa c;

	/* RTO 0.5 s since 0.  At 7 s (before 8 s) a first strong 0.1 s sample:
	 * E_strong = 0.1 + 4 * 0.05 = 0.3 s, RTO = (0.3 + 0.5) / 2 = 0.4 s.
	 * It next doubles 16 * 0.4 = 6.4 s later, at 13.4 s, not at 8 s. */
	measured(&c, SIM_MS(500), 0);
	c.have_strong = 0;
	c.have_weak = 1;
	cr_assert(cocoa_on_response(&c, SIM_S(7), SIM_MS(100), 1));
	cr_assert_eq(c.rto, SIM_MS(400));
	cr_assert_eq(cocoa_rto(&c, SIM_S(8)), SIM_MS(400));
	cr_assert_eq(cocoa_rto(&c, SIM_MS(13400) - 1), SIM_MS(400));
	cr_assert_eq(cocoa_rto(&c, SIM_MS(13400)), SIM_MS(800));
}

Test(cocoa_aging, time_before_the_last_update)
{
	struct cocoa c;

	measured(&c, SIM_MS(500), SIM_S(100));
	cr_assert_eq(cocoa_rto(&c, SIM_S(50)), SIM_MS(500));
	cr_assert_eq(c.updated, SIM_S(100));
}

/* ---- blind RTO and the initial timeout ---- */

Test(cocoa_blind, scales_with_parallel_exchanges)
{
	struct cocoa c;

	/* §4.1: 2 s times the exchanges in parallel, counting the new one:
	 * "if two exchanges are already running, the initial RTO estimate for
	 * an additional exchange is 6 seconds".  Capped at 60 s. */
	cocoa_init(&c);
	cr_assert_eq(cocoa_initial_rto(&c, 0, 0), SIM_S(2));
	cr_assert_eq(cocoa_initial_rto(&c, 0, 1), SIM_S(2));
	cr_assert_eq(cocoa_initial_rto(&c, 0, 2), SIM_S(4));
	cr_assert_eq(cocoa_initial_rto(&c, 0, 3), SIM_S(6));
	cr_assert_eq(cocoa_initial_rto(&c, 0, 30), SIM_S(60));
	cr_assert_eq(cocoa_initial_rto(&c, 0, 31), COCOA_RTO_MAX);
	cr_assert_eq(cocoa_initial_rto(&c, 0, UINT32_MAX), COCOA_RTO_MAX);
	cr_assert_eq(cocoa_vbf(cocoa_initial_rto(&c, 0, 3)), 15);
}

Test(cocoa_blind, gone_after_any_measurement)
{
	struct cocoa s, w;

	/* Strong 1 s: RTO 2.5 s; weak 1 s: RTO 1.875 s (see
	 * cocoa_samples/strong_k4_weak_k1_and_weights); either way the number
	 * of exchanges no longer matters. */
	cocoa_init(&s);
	cocoa_init(&w);
	cocoa_on_response(&s, SIM_S(1), SIM_S(1), 1);
	cocoa_on_response(&w, SIM_S(1), SIM_S(1), 3);
	cr_assert_eq(cocoa_initial_rto(&s, SIM_S(1), 3), SIM_MS(2500));
	cr_assert_eq(cocoa_initial_rto(&w, SIM_S(1), 3), SIM_MS(1875));
}

Test(cocoa_blind, dithering_and_one_draw)
{
	struct cocoa c;
	struct sim_rng r;
	uint8_t vbf;

	cocoa_init(&c);
	sim_rng_init(&r, 11, 4, RNG_COAP);
	for (int i = 0; i < 500; i++) {
		uint64_t ctr = r.ctr;
		sim_time t = cocoa_initial_timeout(&c, 0, 1, 1.5, &r, &vbf);
		/* RFC 7252's [ACK_TIMEOUT, ACK_TIMEOUT * 1.5] around 2 s. */
		cr_assert(t >= SIM_S(2) && t <= SIM_S(3));
		cr_assert_eq(r.ctr, ctr + 1, "exactly one draw");
	}
	/* A factor of 1 (or a bad one below 1) means no dithering, but the
	 * draw is still made so the stream does not depend on it. */
	uint64_t ctr = r.ctr;
	cr_assert_eq(cocoa_initial_timeout(&c, 0, 2, 1.0, &r, NULL), SIM_S(4));
	cr_assert_eq(cocoa_initial_timeout(&c, 0, 2, 0.5, &r, NULL), SIM_S(4));
	cr_assert_eq(r.ctr, ctr + 2);
}

/* ---- bounds ---- */

Test(cocoa_bounds, extreme_samples)
{
	struct cocoa c;

	/* Zero RTTs: E_strong = 0 + max(G, 0) = G.  The overall RTO halves its
	 * distance to G per sample, so after 40 samples (2 s < 2^31 ns) it is
	 * G = 1 ms, and never below. */
	cocoa_init(&c);
	for (int i = 0; i < 40; i++) {
		cocoa_on_response(&c, SIM_MS(i), 0, 1);
		cr_assert_geq(c.rto, COCOA_RTO_MIN);
	}
	cr_assert_eq(c.rto_strong, G);
	cr_assert_eq(c.rto, G);
	/* From there aging terminates at 1.024 s (see doubles_below_1s). */
	cr_assert_eq(cocoa_rto(&c, SIM_S(1000000)), SIM_MS(1024));

	/* An absurd 1000 s sample counts as 60 s: E_strong = 60 + 4 * 30,
	 * capped at 60 s; RTO = (60 + 2) / 2 = 31 s. */
	cocoa_init(&c);
	cocoa_on_response(&c, SIM_S(1), SIM_S(1000), 1);
	cr_assert_eq(c.rto_strong, COCOA_RTO_MAX);
	cr_assert_eq(c.rto, SIM_S(31));
	/* Weak, twice: E_weak = 60 + 30 -> 60 s, RTO = (60 + 3 * 31) / 4 =
	 * 38.25 s; then RTTVAR 22.5, E_weak 60 s, RTO = (60 + 3 * 38.25) / 4 =
	 * 43.6875 s. */
	cocoa_on_response(&c, SIM_S(2), SIM_S(1000), 2);
	cr_assert_eq(c.rto, SIM_MS(38250));
	cocoa_on_response(&c, SIM_S(3), SIM_S(1000), 2);
	cr_assert_eq(c.rto, SIM_US(43687500));
}

Test(cocoa_bounds, random_walk_stays_in_bounds)
{
	struct cocoa c;
	struct sim_rng r, d;
	sim_time now = 0;

	cocoa_init(&c);
	sim_rng_init(&r, 99, 5, RNG_APP);
	sim_rng_init(&d, 99, 6, RNG_COAP);
	for (int i = 0; i < 50000; i++) {
		uint64_t x = sim_rng_u64(&r);
		/* Times from 0 to ~300 s on a log scale, idle gaps up to ~1000 s. */
		sim_time rtt = (sim_time)(sim_rng_unit(&r) * (double)(SIM_US(1) << (x % 29)));
		now += (sim_time)(sim_rng_unit(&r) * (double)(SIM_US(1) << ((x >> 8) % 31)));
		cocoa_on_response(&c, now, rtt, (unsigned)((x >> 16) % 7));

		sim_time rto = cocoa_rto(&c, now);
		cr_assert(rto >= COCOA_RTO_MIN && rto <= COCOA_RTO_MAX, "%d: %lu", i,
			  (unsigned long)rto);
		cr_assert(c.rto_strong >= COCOA_RTO_MIN && c.rto_strong <= COCOA_RTO_MAX);
		cr_assert(c.rto_weak >= COCOA_RTO_MIN && c.rto_weak <= COCOA_RTO_MAX);

		uint8_t vbf;
		uint32_t n = (uint32_t)((x >> 24) % 5);
		sim_time base = cocoa_initial_rto(&c, now, n);
		sim_time t = cocoa_initial_timeout(&c, now, n, 1.5, &d, &vbf);
		cr_assert(base >= COCOA_RTO_MIN && base <= COCOA_RTO_MAX);
		cr_assert(t >= base && t <= base + base / 2);
		cr_assert_eq(vbf, cocoa_vbf(base));
		for (int k = 0; k < 4; k++) {
			sim_time next = cocoa_backoff(t, vbf);
			cr_assert(next >= t);
			cr_assert(next <= (t > COCOA_BACKOFF_MAX ? t : COCOA_BACKOFF_MAX));
			t = next;
		}
	}
}

Test(cocoa_bounds, state_is_small)
{
	cr_assert_leq(sizeof(struct cocoa), 64);
}

/* ---- determinism ---- */

static void script(uint64_t seed, sim_time *out, size_t n, struct cocoa *c)
{
	struct sim_rng r;

	cocoa_init(c);
	sim_rng_init(&r, seed, 42, RNG_COAP);
	for (size_t i = 0; i < n; i++) {
		sim_time now = SIM_S(10) * i;
		out[i] = cocoa_initial_timeout(c, now, (uint32_t)(i % 3) + 1, 1.5, &r, NULL);
		cocoa_on_response(c, now + SIM_MS(300), SIM_MS(100) * (i % 7 + 1),
				  (unsigned)(i % 5));
	}
}

Test(cocoa_determinism, same_seed_same_run)
{
	sim_time a[64], b[64], o[64];
	struct cocoa ca, cb, co;

	script(1, a, 64, &ca);
	script(1, b, 64, &cb);
	script(2, o, 64, &co);
	cr_assert_eq(memcmp(a, b, sizeof(a)), 0);
	cr_assert(same_state(&ca, &cb));
	/* The estimator ignores the draws, so only the dithering differs. */
	cr_assert(same_state(&ca, &co));
	cr_assert_neq(memcmp(a, o, sizeof(a)), 0);
}
