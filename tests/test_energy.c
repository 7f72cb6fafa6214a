/* The radio energy model against a hand computation. */
#include <criterion/criterion.h>
#include <stdio.h>

#include "../sim/energy/energy.h"
#include "../sim/run/world.h"
#include "../sim/scenario/scenario.h"

Test(energy, airtime)
{
	/* 83 IP bytes + 17 bytes of 802.15.4 framing = 800 bits at 250 kbps */
	cr_assert_eq(energy_airtime(83, 1, 250000), SIM_US(3200));
	/* two fragments carry the overhead twice */
	cr_assert_eq(energy_airtime(1000, 2, 250000), SIM_NS((1000 + 34) * 8 * 4000));
}

/* One sensor, one CON POST at t = 1 s, no loss, 100 ms each way, the
 * CC2420 preset (3 V; TX 17.4 mA, RX 18.8 mA, idle 0.426 mA, sleep
 * 0.02 mA; 250 kbps), a 10 s run.
 *   request: 4 header + 4 token + 1+7 "sensors" + 1+1 "0" + 1 marker
 *            + 16 payload = 35 bytes; IPv6+UDP 83; +17 framing = 100 B
 *            -> TX 800 bits / 250 kbps = 3.2 ms
 *   answer:  ACK 2.04 with the token, 8 bytes; 56 IP; 73 framed
 *            -> RX 584 bits = 2.336 ms
 *   awake waiting from 1.0 s to 1.2 s: 200 ms, of which listening
 *            200 - 3.2 - 2.336 = 194.464 ms
 *   asleep   10 s - 200 ms = 9.8 s
 * listen = idle:
 *   E = 3 V x (17.4 x 0.0032 + 18.8 x 0.002336 + 0.426 x 0.194464
 *              + 0.02 x 9.8) mA s
 *     = 3 x (0.05568 + 0.0439168 + 0.082841664 + 0.196) = 1.135315392 mJ
 * listen = rx (the default): the 194.464 ms at 18.8 mA instead,
 *     = 3 x (0.05568 + 0.0439168 + 3.6559232 + 0.196) = 11.85456 mJ
 * lifetime over the steady state (0 to duration, 10 s): mean current
 *     E / 3 V / 10 s; 2400 mAh / that / 24 h. */
static void one_exchange(const char *listen, double want_mj)
{
	char text[512];
	snprintf(text, sizeof(text),
		 "[scenario]\nduration = 10s\n"
		 "[link]\nlatency = 100ms\n"
		 "[group.s]\ncount = 1\ntraffic = once\nstart = const(1s)\n"
		 "payload = 16\n[energy]\nradio = cc2420\n%s[output]\npcap = no\n", listen);
	struct scenario_src *src;
	struct scenario_cfg cfg;
	struct run_result res;
	char err[SCN_ERR_LEN];
	cr_assert_eq(scenario_load_string(&src, "e.ini", text, NULL, 0, err, sizeof(err)), 0,
		     "%s", err);
	cr_assert_eq(scenario_point_cfg(src, 0, &cfg, err, sizeof(err)), 0);
	cr_assert_eq(world_run(&cfg, 1, NULL, &res), 0);
	cr_assert_eq(res.total.completed, 1);
	cr_assert(res.total.energy.valid);
	cr_assert_float_eq(res.total.energy.total, want_mj, 1e-9);
	cr_assert_float_eq(res.total.energy.per_node_max, want_mj, 1e-9);
	cr_assert_float_eq(res.total.energy.lifetime_days, 2400.0 / (want_mj / 3 / 10) / 24,
			   1e-6);
	run_result_free(&res);
	scenario_cfg_free(&cfg);
	scenario_src_del(src);
}

Test(energy, one_con_exchange_by_hand)
{
	one_exchange("", 11.85456);
	one_exchange("listen = rx\n", 11.85456);
	one_exchange("listen = idle\n", 1.135315392);
}

/* Lifetime comes from the traffic's steady state (warmup to duration),
 * not from the drain after it: a sensor that sends once at 1 s into a
 * 20 s run with a 10 s warmup has only sleep in its window:
 * 0.02 mA -> 2400 / 0.02 / 24 = 5000 days, whatever the exchange cost. */
Test(energy, lifetime_from_the_steady_window)
{
	const char *text = "[scenario]\nduration = 20s\nwarmup = 10s\n"
			   "[link]\nlatency = 100ms\n"
			   "[group.s]\ncount = 1\ntraffic = once\nstart = const(1s)\n"
			   "[energy]\nradio = cc2420\n[output]\npcap = no\n";
	struct scenario_src *src;
	struct scenario_cfg cfg;
	struct run_result res;
	char err[SCN_ERR_LEN];
	cr_assert_eq(scenario_load_string(&src, "e.ini", text, NULL, 0, err, sizeof(err)), 0,
		     "%s", err);
	cr_assert_eq(scenario_point_cfg(src, 0, &cfg, err, sizeof(err)), 0);
	cr_assert_eq(world_run(&cfg, 1, NULL, &res), 0);
	cr_assert_float_eq(res.total.energy.lifetime_days, 5000.0, 1e-6);
	run_result_free(&res);
	scenario_cfg_free(&cfg);
	scenario_src_del(src);
}
