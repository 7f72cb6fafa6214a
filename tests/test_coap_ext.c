/* Observe, block-wise, multicast and CoCoA: unit checks by hand, whole runs
 * against closed forms, captures through tshark. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "../sim/coap/cocoa.h"
#include "../sim/run/check.h"
#include "../sim/run/runner.h"
#include "../sim/run/world.h"
#include "../sim/scenario/scenario.h"

/* ---- CoCoA estimator, by hand from the draft's rules ---- */

Test(cocoa, estimators_by_hand)
{
	struct cocoa c;
	cocoa_init(&c);
	cr_assert_eq(cocoa_rto(&c, 0), SIM_S(2), "blind RTO 2 s");
	/* Strong sample R = 1 s: SRTT 1, RTTVAR 0.5, RTO_s = 1 + 4 * 0.5 = 3;
	 * overall = (3 + 2) / 2 = 2.5 s. */
	cr_assert(cocoa_on_response(&c, SIM_S(10), SIM_S(1), 1));
	cr_assert_eq(c.rto_strong, SIM_S(3));
	cr_assert_eq(c.rto, SIM_MS(2500));
	/* Strong R = 0.5 s: RTTVAR = 3/4 * 0.5 + 1/4 * |1 - 0.5| = 0.5;
	 * SRTT = 7/8 * 1 + 1/8 * 0.5 = 0.9375; RTO_s = 0.9375 + 4 * 0.5 = 2.9375;
	 * overall = (2.9375 + 2.5) / 2 = 2.71875 s. */
	cocoa_on_response(&c, SIM_S(11), SIM_MS(500), 1);
	cr_assert_eq(c.rto_strong, SIM_US(2937500));
	cr_assert_eq(c.rto, SIM_US(2718750));
	/* Weak R = 4 s after one retransmission: SRTT 4, RTTVAR 2,
	 * RTO_w = 4 + 1 * 2 = 6; overall = (6 + 3 * 2.71875) / 4 = 3.5390625 s. */
	cocoa_on_response(&c, SIM_S(12), SIM_S(4), 2);
	cr_assert_eq(c.rto_weak, SIM_S(6));
	cr_assert_eq(c.rto, SIM_NS(3539062500));
	/* After three retransmissions the sample is not used. */
	cr_assert_not(cocoa_on_response(&c, SIM_S(13), SIM_S(9), 4));
	cr_assert_eq(c.rto, SIM_NS(3539062500));
}

Test(cocoa, variable_backoff_factor)
{
	cr_assert_eq(cocoa_vbf(SIM_MS(999)), 30);
	cr_assert_eq(cocoa_vbf(SIM_S(1)), 20);
	cr_assert_eq(cocoa_vbf(SIM_S(3)), 20);
	cr_assert_eq(cocoa_vbf(SIM_S(3) + 1), 15);
	cr_assert_eq(cocoa_backoff(SIM_S(2), 15), SIM_S(3));
	cr_assert_eq(cocoa_backoff(SIM_MS(500), 30), SIM_MS(1500));
}

Test(cocoa, aging)
{
	struct cocoa c;
	cocoa_init(&c);
	c.rto = SIM_MS(500);
	c.updated = 0;
	c.have_strong = 1;
	/* Below 1 s and unchanged for 16 x 0.5 s = 8 s: doubles to 1 s, then
	 * stays (1 s is not below 1 s). */
	cr_assert_eq(cocoa_rto(&c, SIM_S(8) - 1), SIM_MS(500));
	cr_assert_eq(cocoa_rto(&c, SIM_S(8)), SIM_S(1));
	cr_assert_eq(cocoa_rto(&c, SIM_S(1000)), SIM_S(1));
	/* Above 3 s: after 4 x 5 s = 20 s it becomes (2 + 5) / 2 = 3.5 s, after
	 * another 4 x 3.5 = 14 s (2 + 3.5) / 2 = 2.75 s, then stays. */
	c.rto = SIM_S(5);
	c.updated = 0;
	cr_assert_eq(cocoa_rto(&c, SIM_S(20)), SIM_MS(3500));
	cr_assert_eq(cocoa_rto(&c, SIM_S(34)), SIM_MS(2750));
	cr_assert_eq(cocoa_rto(&c, SIM_S(10000)), SIM_MS(2750));
}

Test(cocoa, blind_rto_scales_with_outstanding_exchanges)
{
	struct cocoa c;
	struct sim_rng r;
	uint8_t vbf;
	cocoa_init(&c);
	sim_rng_init(&r, 1, 1, RNG_COAP);
	for (int i = 0; i < 1000; i++) {
		sim_time t = cocoa_initial_timeout(&c, 0, 2, 1.5, &r, &vbf);
		cr_assert(t >= SIM_S(4) && t <= SIM_S(6));
		cr_assert_eq(vbf, 15, "a 4 s RTO backs off by 1.5");
	}
}

/* ---- whole runs ---- */

static void run_text(const char *text, struct run_result *res, FILE *ex)
{
	struct scenario_src *src;
	struct scenario_cfg cfg;
	char err[SCN_ERR_LEN];
	struct run_opts o = {.exchanges = ex, .run_id = "t"};
	cr_assert_eq(scenario_load_string(&src, "ext.ini", text, NULL, 0, err,
					  sizeof(err)), 0, "%s", err);
	cr_assert_eq(scenario_point_cfg(src, 0, &cfg, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(world_run(&cfg, cfg.seed, &o, res), 0);
	run_result_free(res); /* only the counters are used here */
	scenario_cfg_free(&cfg);
	scenario_src_del(src);
}

static void within(double measured, double expected, double se, const char *what)
{
	cr_assert_leq(fabs(measured - expected), 4 * se,
		      "%s: measured %.6f expected %.6f (4 SE = %.6f)", what, measured,
		      expected, 4 * se);
}

/* An n-block transfer is n independent CON exchanges: it succeeds with
 * (1 - P_fail)^n, P_fail = (1 - (1-p)^2)^(MAX_RETRANSMIT + 1). */
static void block_closed_form(const char *method)
{
	char text[1024];
	struct run_result res;
	const double p = 0.3, q = (1 - p) * (1 - p), pfail = pow(1 - q, 5);
	const int n_blocks = 4; /* 256 bytes in 64-byte blocks */
	snprintf(text, sizeof(text),
		 "[scenario]\nduration = 20s\nseed = 21\n"
		 "[link]\nlatency = 50ms\nloss = 30%%\n"
		 "[group.s]\ncount = 20000\ntraffic = once\nstart = uniform(0, 10s)\n"
		 "method = %s\npayload = 256\nblock_size = 64\n[output]\npcap = no\n",
		 method);
	run_text(text, &res, NULL);
	const struct run_metrics *m = &res.total;
	double n = (double)m->messages, ps = pow(1 - pfail, n_blocks);
	cr_assert_eq(m->messages, 20000, "a transfer counts as one message");
	cr_assert_eq(m->completed + m->failed, m->messages);
	within((double)m->completed / n, ps, sqrt(ps * (1 - ps) / n), "P(transfer)");
}

Test(blockwise, block1_closed_form, .timeout = 120) { block_closed_form("POST"); }
Test(blockwise, block2_closed_form, .timeout = 120) { block_closed_form("GET"); }

Test(blockwise, too_large_body_is_4_13)
{
	struct run_result res;
	run_text("[scenario]\nduration = 20s\n[server]\nmax_body = 128\n"
		 "[group.s]\ncount = 10\ntraffic = once\nstart = uniform(0, 10s)\n"
		 "method = PUT\npayload = 256\n"
		 "block_size = 64\n[output]\npcap = no\n", &res, NULL);
	cr_assert_eq(res.total.failed, 10, "4.13 ends the transfer");
	cr_assert_eq(res.total.delivered, 0);
}

Test(observe, non_notifications_over_loss, .timeout = 120)
{
	struct run_result res;
	/* NON notifications each arrive with probability 1 - p. */
	run_text("[scenario]\nduration = 10min\nseed = 3\n"
		 "[link]\nlatency = 100ms\n[link.down]\nloss = 20%\n"
		 "[group.s]\ncount = 1000\ntraffic = observe(10s)\nconfirmable = no\n"
		 "[output]\npcap = no\n", &res, NULL);
	const struct run_metrics *m = &res.total;
	double n = (double)m->notifications_sent;
	cr_assert_gt(n, 40000);
	within((double)m->notifications_received / n, 0.8, sqrt(0.8 * 0.2 / n),
	       "P(notification arrives)");
	cr_assert_eq(m->notifications_stale, 0, "constant latency: in order");
	cr_assert_eq(m->notifications_fresh, m->notifications_received);
}

Test(observe, reordering_makes_stale_notifications, .timeout = 120)
{
	struct run_result res;
	/* Jitter up to 30 s against a 10 s interval: notifications overtake
	 * each other, and the §3.4 rule marks the late ones stale. */
	run_text("[scenario]\nduration = 10min\nseed = 3\n"
		 "[link]\nlatency = 100ms\n[link.down]\njitter = uniform(0, 30s)\n"
		 "[group.s]\ncount = 200\ntraffic = observe(10s)\nconfirmable = no\n"
		 "[output]\npcap = no\n", &res, NULL);
	const struct run_metrics *m = &res.total;
	cr_assert_gt(m->notifications_stale, 0);
	cr_assert_eq(m->notifications_fresh + m->notifications_stale,
		     m->notifications_received);
	/* No loss; only those still in flight when the client deregisters at
	 * the end (up to 30 s of jitter) are not received. */
	cr_assert_leq(m->notifications_received, m->notifications_sent);
	cr_assert_gt(m->notifications_received, 0.9 * (double)m->notifications_sent);
}

Test(observe, dead_uplink_registers_nobody, .timeout = 120)
{
	struct run_result res;
	/* A sanity bound: with the uplink dead no registration arrives, so
	 * no notification is ever sent (the unit tests in test_coap_ep.c drive
	 * the CON-notification timeout that removes an observer). */
	run_text("[scenario]\nduration = 10min\nseed = 4\n"
		 "[link.up]\nloss = 100%\n"
		 "[group.s]\ncount = 50\ntraffic = observe(10s)\nconfirmable = yes\n"
		 "[output]\npcap = no\n", &res, NULL);
	cr_assert_eq(res.total.notifications_sent, 0);
	cr_assert_eq(res.total.delivered, 0);
	cr_assert_eq(res.total.failed, res.total.messages, "registrations time out");
}

Test(multicast, implosion_and_leisure, .timeout = 120)
{
	struct run_result lazy, bound, fast;
	const char *base = "[scenario]\nduration = 5min\nseed = 8\n"
			   "[link]\nlatency = 20ms\nrate = 250kbps\n"
			   "[bottleneck]\nrate = 250kbps\nqueue = 20\n"
			   "[group.g]\ncount = 300\nmulticast = yes\ntraffic = periodic(30s)\n"
			   "start = const(1s)\npayload = 16\n[output]\npcap = no\n";
	char text[1024];
	/* 300 answers of 73 IP bytes over 31,250 bytes/s take 0.7 s of the
	 * bottleneck.  Spread over 5 s (14% load) a 20-packet queue does not
	 * overflow; over the §8.2 bound (0.7 s, 100% load while it lasts) a
	 * little; squeezed into 50 ms (14x the capacity) most answers are lost. */
	snprintf(text, sizeof(text), "%s[coap]\ndefault_leisure = 5s\n", base);
	run_text(text, &lazy, NULL);
	snprintf(text, sizeof(text), "%s[coap]\ndefault_leisure = 0s\n", base);
	run_text(text, &bound, NULL);
	snprintf(text, sizeof(text), "%s[coap]\ndefault_leisure = 50ms\n", base);
	run_text(text, &fast, NULL);
	cr_assert_eq(lazy.total.messages, 10, "one request every 30 s from 1 s to 5 min");
	cr_assert_eq(lazy.total.mc_expected, 3000);
	cr_assert_eq(lazy.total.queue_drops, 0);
	cr_assert_eq(lazy.total.mc_responses, 3000, "no loss, no drops: every answer");
	cr_assert_gt(bound.total.mc_responses, 0.95 * 3000);
	cr_assert_gt(fast.total.queue_drops, 1000);
	cr_assert_lt(fast.total.mc_responses, 3000 / 2);
	cr_assert_eq(fast.total.mc_responses + fast.total.queue_drops, 3000,
		     "every answer either arrives or is dropped at the bottleneck");
}

/* ---- CoCoA against the default under congestion ---- */

#include "helpers.h"

#define bin test_bin

static void values(json_t *runs, int point, const char *metric, double *v, size_t *n)
{
	size_t i;
	json_t *r;
	*n = 0;
	json_array_foreach(runs, i, r) {
		if (json_integer_value(json_object_get(r, "point")) == point)
			v[(*n)++] = json_number_value(
				json_object_get(json_object_get(r, "metrics"), metric));
	}
}

Test(cocoa, beats_default_at_a_congested_bottleneck, .timeout = 300)
{
	char cmd[6000];
	char dir[] = "/tmp/coapsim-cocoa-XXXXXX";
	cr_assert_not_null(mkdtemp(dir));
	snprintf(cmd, sizeof(cmd), "%s run scenarios/cocoa-bottleneck.ini --quiet --out %s "
		 "--set output.exchanges=no", bin(), dir);
	cr_assert_eq(system(cmd), 0);
	char path[256];
	snprintf(path, sizeof(path), "%s/summary.json", dir);
	json_error_t je;
	json_t *j = json_load_file(path, 0, &je);
	cr_assert_not_null(j, "%s", je.text);
	json_t *runs = json_object_get(j, "runs");
	static const struct { const char *metric; int better; } cmp[] = {
		{"delivery_ratio", +1}, {"retransmissions_per_message", -1},
		{"spurious_retransmissions", -1},
	};
	for (size_t k = 0; k < 3; k++) {
		double d[16], c[16], t, df;
		size_t nd, nc;
		values(runs, 0, cmp[k].metric, d, &nd); /* default */
		values(runs, 1, cmp[k].metric, c, &nc); /* cocoa */
		cr_assert_eq(nd, 5);
		cr_assert(welch_t(c, nc, d, nd, &t, &df));
		/* CoCoA is better, significantly (Welch, 95%, one-sided enough). */
		cr_assert_gt(t * cmp[k].better, student_t95((unsigned)floor(df)),
			     "%s: t = %.2f, df = %.1f", cmp[k].metric, t, df);
	}
	json_decref(j);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	cr_assert_eq(system(cmd), 0);
}

/* ---- the example scenarios, read back with tshark ---- */

static long tshark_count(const char *file, const char *filter)
{
	return test_tshark_count(file, "", filter);
}

static json_t *run_scenario(const char *ini, const char *dir)
{
	char cmd[6000], path[256];
	json_error_t je;
	snprintf(cmd, sizeof(cmd), "%s run %s --quiet --jobs 1 --out %s", bin(), ini, dir);
	cr_assert_eq(system(cmd), 0, "%s", cmd);
	snprintf(path, sizeof(path), "%s/summary.json", dir);
	json_t *j = json_load_file(path, 0, &je);
	cr_assert_not_null(j, "%s", je.text);
	return j;
}

static long run_metric(json_t *j, const char *name)
{
	json_t *m = json_object_get(json_array_get(json_object_get(j, "runs"), 0), "metrics");
	return (long)json_integer_value(json_object_get(m, name));
}

Test(captures, observe_block_multicast_decode, .timeout = 300)
{
	char dir[] = "/tmp/coapsim-ext-XXXXXX", sub[128], f[256];
	cr_assert_not_null(mkdtemp(dir));

	/* Block-wise: firmware is POST 4000 bytes in 64-byte blocks (SZX 2),
	 * blocks 0..62, M set on all but the last, Size1 4000 on block 0;
	 * readings are GET 1000 bytes served in 256-byte blocks (SZX 4). */
	snprintf(sub, sizeof(sub), "%s/blk", dir);
	json_decref(run_scenario("scenarios/blockwise.ini", sub));
	snprintf(f, sizeof(f), "%s/pcap/p0-r0.pcap", sub);
	cr_assert_eq(tshark_count(f, "_ws.malformed || _ws.expert.severity == error"), 0);
	cr_assert_gt(tshark_count(f, "coap.code == 2 && coap.opt.block_number == 62 && "
				     "coap.opt.block_mflag == 0 && coap.opt.block_size == 2"), 0);
	cr_assert_eq(tshark_count(f, "coap.code == 2 && coap.opt.block_number == 63"), 0);
	cr_assert_eq(tshark_count(f, "coap.code == 2 && coap.opt.block_number < 62 && "
				     "coap.opt.block_mflag == 0"), 0, "M on every block but the last");
	cr_assert_eq(tshark_count(f, "coap.code == 2 && coap.opt.block_number == 0 && "
				     "!(coap.opt.size1 == 4000)"), 0, "Size1 on the first block");
	cr_assert_gt(tshark_count(f, "coap.code == 95"), 0, "2.31 Continue");
	cr_assert_gt(tshark_count(f, "coap.code == 69 && coap.opt.block_number == 3 && "
				     "coap.opt.block_mflag == 0 && coap.opt.block_size == 4"), 0);
	cr_assert_eq(tshark_count(f, "coap.code == 69 && coap.opt.block_number == 4"), 0);

	/* Observe: every notification carries the Observe option. */
	snprintf(sub, sizeof(sub), "%s/obs", dir);
	json_t *j = run_scenario("scenarios/observe.ini", sub);
	snprintf(f, sizeof(f), "%s/pcap/p0-r0.pcap", sub);
	cr_assert_eq(tshark_count(f, "_ws.malformed || _ws.expert.severity == error"), 0);
	long notes = tshark_count(f, "coap.code == 69 && coap.opt.observe && coap.type != 2");
	cr_assert_geq(notes, run_metric(j, "notifications_sent"));
	cr_assert_gt(tshark_count(f, "coap.code == 1 && coap.opt.observe == 0"), 0);
	cr_assert_gt(tshark_count(f, "coap.code == 1 && coap.opt.observe == 1"), 0,
		     "deregistration at the end");
	json_decref(j);

	/* Multicast: NON GETs to ff05::fd, unicast 2.05 answers. */
	snprintf(sub, sizeof(sub), "%s/mc", dir);
	j = run_scenario("scenarios/multicast.ini", sub);
	snprintf(f, sizeof(f), "%s/pcap/p0-r0.pcap", sub);
	cr_assert_eq(tshark_count(f, "_ws.malformed"), 0);
	cr_assert_eq(tshark_count(f, "ipv6.dst == ff05::fd && coap.type == 1 && coap.code == 1"),
		     run_metric(j, "messages"));
	cr_assert_eq(tshark_count(f, "ipv6.dst == ff05::fd && !(coap.type == 1)"), 0);
	cr_assert_eq(tshark_count(f, "coap.type == 3"), 0, "no RST to multicast");
	json_decref(j);

	snprintf(f, sizeof(f), "rm -rf %s", dir);
	cr_assert_eq(system(f), 0);
}
