/* Whole runs against first principles (RFC 7252 §4.2 on a lossy channel).
 *
 * Independent loss p on both directions, constant latency, unlimited rate
 * and an immediate piggybacked response: one attempt succeeds (request and
 * ACK both arrive) with q = (1-p)^2, attempts are independent, and there are
 * at most N = MAX_RETRANSMIT + 1 of them, so
 *   P(success)         = 1 - (1-q)^N
 *   E[transmissions]   = sum_{k=1..N} P(T >= k) = (1 - (1-q)^N) / q
 *   P(delivered)       = 1 - p^N   (every transmission of the request lost)
 *   P(success at attempt k | success) = q (1-q)^k / P(success), k = 0..N-1,
 * and attempt k completes at (2^k - 1) T0 + RTT, T0 ~ U[2 s, 3 s]. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../sim/run/runner.h"
#include "../sim/run/world.h"
#include "../sim/scenario/scenario.h"

#define N_EP 50000
#define N_TX 5 /* MAX_RETRANSMIT 4 + 1 */

static void load_cfg(double p, struct scenario_cfg *cfg, struct scenario_src **src)
{
	char text[1024], err[SCN_ERR_LEN];
	snprintf(text, sizeof(text),
		 "[scenario]\nduration = 20s\nseed = 7\n"
		 "[link]\nlatency = 50ms\nloss = %g\n"
		 "[coap]\nmax_retransmit = 4\nack_timeout = 2s\nack_random_factor = 1.5\n"
		 "[group.s]\ncount = %d\ntraffic = once\nstart = uniform(0, 10s)\n"
		 "payload = 16\n[output]\npcap = no\n",
		 p, N_EP);
	cr_assert_eq(scenario_load_string(src, "closed.ini", text, NULL, 0, err,
					  sizeof(err)), 0, "%s", err);
	cr_assert_eq(scenario_point_cfg(*src, 0, cfg, err, sizeof(err)), 0, "%s", err);
}

static void within(double measured, double expected, double se, const char *what)
{
	cr_assert_leq(fabs(measured - expected), 4 * se,
		      "%s: measured %.6f expected %.6f (4 SE = %.6f)", what, measured,
		      expected, 4 * se);
}

static void check_loss(double p)
{
	struct scenario_cfg cfg;
	struct scenario_src *src;
	struct run_result res;
	FILE *ex = tmpfile();
	struct run_opts o = {.exchanges = ex, .run_id = "t"};

	cr_assert_not_null(ex);
	load_cfg(p, &cfg, &src);
	cr_assert_eq(world_run(&cfg, cfg.seed, &o, &res), 0);
	const struct run_metrics *m = &res.total;
	cr_assert_eq(m->messages, N_EP, "every endpoint sends once");
	cr_assert_eq(m->completed + m->failed, m->messages, "every exchange ends");

	double n = (double)m->messages;
	double q = (1 - p) * (1 - p);
	double ps = 1 - pow(1 - q, N_TX);
	within((double)m->completed / n, ps, sqrt(ps * (1 - ps) / n), "P(success)");

	double pd = 1 - pow(p, N_TX);
	within((double)m->delivered / n, pd, sqrt(pd * (1 - pd) / n), "P(delivered)");

	/* T: transmissions of one message, truncated geometric on 1..N. */
	double et = 0, et2 = 0;
	for (int k = 1; k <= N_TX; k++) {
		double pk = k < N_TX ? pow(1 - q, k - 1) * q : pow(1 - q, N_TX - 1);
		et += k * pk;
		et2 += (double)k * k * pk;
	}
	cr_assert_float_eq(et, (1 - pow(1 - q, N_TX)) / q, 1e-12);
	within((double)m->transmissions / n, et, sqrt((et2 - et * et) / n),
	       "E[transmissions]");
	cr_assert_eq(m->retransmissions, m->transmissions - m->messages);

	/* Latency plateaus from the exchange log. */
	uint64_t band[N_TX] = {0}, completed = 0;
	char line[256];
	rewind(ex);
	while (fgets(line, sizeof(line), ex)) {
		char *f[9];
		int nf = 0;
		char *rest = line, *tok;
		line[strcspn(line, "\n")] = 0;
		while ((tok = strsep(&rest, ",")) && nf < 9)
			f[nf++] = tok;
		cr_assert_eq(nf, 9); /* ... rto_ms, end_s */
		if (strcmp(f[4], "completed"))
			continue;
		double lat_s = atof(f[5]) / 1000, rtt = 0.1;
		int tx = atoi(f[6]);
		cr_assert(tx >= 1 && tx <= N_TX);
		int k = tx - 1;
		double lo = ((1 << k) - 1) * 2.0 + rtt, hi = ((1 << k) - 1) * 3.0 + rtt;
		cr_assert(lat_s >= lo - 1e-9 && lat_s <= hi + 1e-9,
			  "attempt %d completed at %.6f s, outside [%.3f, %.3f]", k, lat_s,
			  lo, hi);
		band[k]++;
		completed++;
	}
	cr_assert_eq(completed, m->completed);
	for (int k = 0; k < N_TX; k++) {
		double pk = q * pow(1 - q, k) / ps;
		double c = (double)completed;
		within((double)band[k] / c, pk, sqrt(pk * (1 - pk) / c), "plateau share");
	}
	/* First plateau is exactly one RTT: the median when q/ps > 1/2. */
	if (q / ps > 0.5)
		cr_assert_float_eq(m->latency.p50, 100.0, 0.1);

	fclose(ex);
	run_result_free(&res);
	scenario_cfg_free(&cfg);
	scenario_src_del(src);
}

Test(closed_form, loss_10_percent, .timeout = 120) { check_loss(0.10); }
Test(closed_form, loss_20_percent, .timeout = 120) { check_loss(0.20); }
Test(closed_form, loss_30_percent, .timeout = 120) { check_loss(0.30); }

Test(closed_form, same_seed_same_results, .timeout = 120)
{
	struct scenario_cfg cfg;
	struct scenario_src *src;
	struct run_result a, b;

	load_cfg(0.2, &cfg, &src);
	cfg.groups[0].count = 5000;
	cr_assert_eq(world_run(&cfg, 11, NULL, &a), 0);
	cr_assert_eq(world_run(&cfg, 11, NULL, &b), 0);
	run_result_free(&a);
	run_result_free(&b);
	struct metric_field fa[METRIC_FIELDS_MAX], fb[METRIC_FIELDS_MAX];
	size_t na = metric_fields(&a.total, true, fa), nb = metric_fields(&b.total, true, fb);
	cr_assert_eq(na, nb);
	for (size_t i = 0; i < na; i++) {
		if (!strcmp(fa[i].name, "wall_s") || !strcmp(fa[i].name, "events_per_s"))
			continue;
		cr_assert_eq(fa[i].null, fb[i].null, "%s", fa[i].name);
		cr_assert_eq(memcmp(&fa[i].value, &fb[i].value, sizeof(double)), 0,
			     "%s: %.17g vs %.17g", fa[i].name, fa[i].value, fb[i].value);
	}
	cr_assert_eq(world_run(&cfg, 12, NULL, &b), 0);
	run_result_free(&b);
	cr_assert_neq(a.total.transmissions == b.total.transmissions &&
			      a.total.latency.mean == b.total.latency.mean,
		      1, "another seed gives another sample");
	scenario_cfg_free(&cfg);
	scenario_src_del(src);
}

/* RFC 7252 §4.5: the server answers a duplicate CON again from its
 * duplicate-detection memory.  With every datagram to the client lost, no
 * ACK ever arrives, so each message is sent exactly N times (all within
 * MAX_TRANSMIT_SPAN, 45 s, well inside EXCHANGE_LIFETIME), and each copy
 * that reaches the server after an earlier one did is a dedup answer.
 * Uplink loss p per copy, independent: over the 2^N patterns of arrivals,
 * D = arrivals - 1 (0 when none arrives), whose mean and variance are
 * exact.  Half the messages start before the warmup and count in neither
 * retransmissions nor dedup_answers. */
static void check_dedup(double p)
{
	char text[1024], err[SCN_ERR_LEN];
	struct scenario_cfg cfg;
	struct scenario_src *src;
	struct run_result res;

	snprintf(text, sizeof(text),
		 "[scenario]\nduration = 20s\nwarmup = 5s\nseed = 9\n"
		 "[link]\nlatency = 50ms\n[link.up]\nloss = %g\n[link.down]\nloss = 1\n"
		 "[coap]\nmax_retransmit = 4\nack_timeout = 2s\nack_random_factor = 1.5\n"
		 "[group.s]\ncount = 20000\ntraffic = once\nstart = uniform(0, 10s)\n"
		 "payload = 16\n[output]\npcap = no\n",
		 p);
	cr_assert_eq(scenario_load_string(&src, "dedup.ini", text, NULL, 0, err, sizeof(err)),
		     0, "%s", err);
	cr_assert_eq(scenario_point_cfg(src, 0, &cfg, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(world_run(&cfg, cfg.seed, NULL, &res), 0);
	const struct run_metrics *m = &res.total;
	double n = (double)m->messages;

	cr_assert_gt(m->messages, 8000, "about half start after the warmup");
	cr_assert_lt(m->messages, 12000);
	cr_assert_eq(m->completed, 0, "no ACK comes back");
	cr_assert_eq(m->failed, m->messages);
	cr_assert_eq(m->retransmissions, (N_TX - 1) * m->messages, "every copy is sent");
	/* Spurious: the server already had the message when the copy was
	 * sent; a dedup answer also needs the copy to arrive. */
	cr_assert_leq(m->dedup_answers, m->spurious);
	if (p == 0) {
		cr_assert_eq(m->dedup_answers, m->retransmissions);
		cr_assert_eq(m->spurious, m->retransmissions);
	} else {
		double ed = 0, ed2 = 0;
		for (unsigned lost = 0; lost < 1u << N_TX; lost++) {
			int arrived = N_TX - __builtin_popcount(lost);
			double pr = pow(p, N_TX - arrived) * pow(1 - p, arrived);
			int d = arrived ? arrived - 1 : 0;
			ed += pr * d;
			ed2 += pr * d * d;
		}
		/* The same mean another way: copy k >= 2 arrives and one of the
		 * k - 1 before it did. */
		double sum = 0;
		for (int k = 2; k <= N_TX; k++)
			sum += (1 - p) * (1 - pow(p, k - 1));
		cr_assert_float_eq(ed, sum, 1e-12);
		within((double)m->dedup_answers / n, ed, sqrt((ed2 - ed * ed) / n),
		       "E[dedup answers per message]");
	}
	run_result_free(&res);
	scenario_cfg_free(&cfg);
	scenario_src_del(src);
}

Test(closed_form, dedup_answers_lossless_uplink, .timeout = 120) { check_dedup(0); }
Test(closed_form, dedup_answers_lossy_uplink, .timeout = 120) { check_dedup(0.3); }
