/* Scenario parser: unit parsers, defaults, merging, sweeps, --set and the
 * exact text of every kind of error. */
#include <criterion/criterion.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../sim/scenario/scenario.h"

#define F "scenarios/t.ini"
#define GROUP "[group.sensors]\n"

static struct scenario_src *load_sets(const char *text, const char *const *sets, size_t n)
{
	struct scenario_src *src = NULL;
	char err[SCN_ERR_LEN] = "";
	int rc = scenario_load_string(&src, F, text, sets, n, err, sizeof(err));

	cr_assert_eq(rc, 0, "load failed: %s", err);
	cr_assert_not_null(src);
	return src;
}

static struct scenario_src *load(const char *text)
{
	return load_sets(text, NULL, 0);
}

/* Load and compile point `point`. */
static void cfg_at(const char *text, const char *const *sets, size_t n, size_t point,
		   struct scenario_cfg *cfg)
{
	struct scenario_src *src = load_sets(text, sets, n);
	char err[SCN_ERR_LEN] = "";

	cr_assert_eq(scenario_point_cfg(src, point, cfg, err, sizeof(err)), 0, "%s", err);
	scenario_src_del(src);
}

static void cfg_of(const char *text, struct scenario_cfg *cfg)
{
	cfg_at(text, NULL, 0, 0, cfg);
}

static void err_sets(const char *text, const char *const *sets, size_t n,
		     const char *want)
{
	struct scenario_src *src = (void *)1;
	char err[SCN_ERR_LEN] = "";
	int rc = scenario_load_string(&src, F, text, sets, n, err, sizeof(err));

	cr_assert_eq(rc, SIM_ERR_INVAL, "rc %d for: %s", rc, text);
	cr_assert_null(src);
	cr_assert_str_eq(err, want);
	cr_assert_null(strchr(err, '\n'));
}

static void err_is(const char *text, const char *want)
{
	err_sets(text, NULL, 0, want);
}

/* ------------------------------------------------------------------ */

Test(scenario_units, time_good)
{
	static const struct {
		const char *s;
		sim_time ns;
	} t[] = {
	    {"0", 0},
	    {"7ns", 7},
	    {"250us", 250000},
	    {"10ms", 10000000},
	    {"10 ms", 10000000},
	    {"1.5s", 1500000000},
	    {"2", 2000000000}, /* bare = seconds */
	    {"0.1s", 100000000},
	    {"2min", 120000000000ull},
	    {"1h", 3600000000000ull},
	    {"1e3ms", 1000000000},
	    {".5ms", 500000},
	};
	size_t i;

	for (i = 0; i < SIM_ARRAY_LEN(t); i++) {
		sim_time v = 42;

		cr_assert_eq(scenario_parse_time(t[i].s, &v), 0, "%s", t[i].s);
		cr_assert_eq(v, t[i].ns, "%s -> %llu", t[i].s, (unsigned long long)v);
	}
}

Test(scenario_units, time_bad)
{
	static const char *const bad[] = {
	    "",	   "10xs", "5xs",    "ms",    "-1s",   "10m", "1s2",  "nan",
	    "inf", "-inf", "1e400s", "0x10s", "1e19s", "s10", "1,5s", "10 m s",
	};
	size_t i;

	for (i = 0; i < SIM_ARRAY_LEN(bad); i++) {
		sim_time v = 42;

		cr_assert_eq(scenario_parse_time(bad[i], &v), SIM_ERR_INVAL, "%s", bad[i]);
		cr_assert_eq(v, 42, "%s changed the output", bad[i]);
	}
}

Test(scenario_units, rate)
{
	static const struct {
		const char *s;
		uint64_t bps;
	} t[] = {
	    {"0", 0},	       {"100bps", 100},	   {"250kbps", 250000},
	    {"1.5kbps", 1500}, {"1Mbps", 1000000}, {"2Gbps", 2000000000ull},
	    {"9600", 9600},
	};
	static const char *const bad[] = {
	    "", "10kbit", "-1kbps", "1Tbps", "1KBps", "fast", "1e16",
	};
	uint64_t v;
	size_t i;

	for (i = 0; i < SIM_ARRAY_LEN(t); i++) {
		cr_assert_eq(scenario_parse_rate(t[i].s, &v), 0, "%s", t[i].s);
		cr_assert_eq(v, t[i].bps, "%s", t[i].s);
	}
	for (i = 0; i < SIM_ARRAY_LEN(bad); i++)
		cr_assert_eq(scenario_parse_rate(bad[i], &v), SIM_ERR_INVAL, "%s", bad[i]);
}

Test(scenario_units, size)
{
	static const struct {
		const char *s;
		uint64_t b;
	} t[] = {
	    {"16", 16},	     {"100B", 100},	{"1kB", 1000},
	    {"1.5kB", 1500}, {"2MB", 2000000},	{"1GB", 1000000000},
	    {"1KiB", 1024},  {"1MiB", 1048576}, {"0", 0},
	};
	static const char *const bad[] = {
	    "", "0.5B", "1kb", "1KB", "-1", "1.0001B", "lots", "2TB",
	};
	uint64_t v;
	size_t i;

	for (i = 0; i < SIM_ARRAY_LEN(t); i++) {
		cr_assert_eq(scenario_parse_size(t[i].s, &v), 0, "%s", t[i].s);
		cr_assert_eq(v, t[i].b, "%s", t[i].s);
	}
	for (i = 0; i < SIM_ARRAY_LEN(bad); i++)
		cr_assert_eq(scenario_parse_size(bad[i], &v), SIM_ERR_INVAL, "%s", bad[i]);
}

Test(scenario_units, prob)
{
	static const struct {
		const char *s;
		double p;
	} t[] = {
	    {"5%", 0.05},  {"0.05", 0.05}, {"0", 0},	     {"0%", 0},
	    {"100%", 1.0}, {"1", 1.0},	   {"12.5%", 0.125}, {"5 %", 0.05},
	};
	static const char *const bad[] = {
	    "", "150%", "1.5", "-1%", "-0.1", "5%%", "x", "nan", "5%x", "%", "1e999%",
	};
	double v;
	size_t i;

	for (i = 0; i < SIM_ARRAY_LEN(t); i++) {
		cr_assert_eq(scenario_parse_prob(t[i].s, &v), 0, "%s", t[i].s);
		cr_assert_float_eq(v, t[i].p, 1e-12, "%s", t[i].s);
	}
	for (i = 0; i < SIM_ARRAY_LEN(bad); i++)
		cr_assert_eq(scenario_parse_prob(bad[i], &v), SIM_ERR_INVAL, "%s", bad[i]);
}

Test(scenario_units, dist_good)
{
	struct dist d;

	cr_assert_eq(scenario_parse_dist("none", &d), 0);
	cr_assert_eq(d.kind, SIM_DIST_NONE);
	cr_assert_eq(scenario_parse_dist("const(5ms)", &d), 0);
	cr_assert_eq(d.kind, SIM_DIST_CONST);
	cr_assert_float_eq(d.a, 5e6, 1e-6);
	cr_assert_eq(scenario_parse_dist("20ms", &d), 0);
	cr_assert_eq(d.kind, SIM_DIST_CONST);
	cr_assert_float_eq(d.a, 2e7, 1e-6);
	cr_assert_eq(scenario_parse_dist("0", &d), 0);
	cr_assert_eq(d.kind, SIM_DIST_CONST);
	cr_assert_float_eq(d.a, 0, 1e-6);
	cr_assert_eq(scenario_parse_dist("uniform(0, 20ms)", &d), 0);
	cr_assert_eq(d.kind, SIM_DIST_UNIFORM);
	cr_assert_float_eq(d.a, 0, 1e-6);
	cr_assert_float_eq(d.b, 2e7, 1e-6);
	cr_assert_eq(scenario_parse_dist("  uniform( 1ms ,1ms )  ", &d), 0);
	cr_assert_float_eq(d.a, 1e6, 1e-6);
	cr_assert_float_eq(d.b, 1e6, 1e-6);
	cr_assert_eq(scenario_parse_dist("normal(10ms, 2ms)", &d), 0);
	cr_assert_eq(d.kind, SIM_DIST_NORMAL);
	cr_assert_float_eq(d.a, 1e7, 1e-6);
	cr_assert_float_eq(d.b, 2e6, 1e-6);
	cr_assert_eq(scenario_parse_dist("exp(100ms)", &d), 0);
	cr_assert_eq(d.kind, SIM_DIST_EXP);
	cr_assert_float_eq(d.a, 1e8, 1e-6);
	cr_assert_eq(scenario_parse_dist("pareto(1.5, 10ms)", &d), 0);
	cr_assert_eq(d.kind, SIM_DIST_PARETO);
	cr_assert_float_eq(d.a, 1.5, 1e-12);
	cr_assert_float_eq(d.b, 1e7, 1e-6);
}

Test(scenario_units, dist_bad)
{
	static const char *const bad[] = {
	    "",
	    "uniform(5ms, 1ms)",
	    "exp(0)",
	    "pareto(0, 1s)",
	    "pareto(1s, 1s)",
	    "pareto(2, 0)",
	    "foo(1)",
	    "uniform(1)",
	    "uniform(1, 2, 3)",
	    "uniform(1, 2",
	    "uniform 1, 2)",
	    "1xs",
	    "normal(1, -1)",
	    "const()",
	    "uniform(,1)",
	    "None",
	    "uniform((1), 2)",
	    "-5ms",
	};
	struct dist d;
	size_t i;

	for (i = 0; i < SIM_ARRAY_LEN(bad); i++)
		cr_assert_eq(scenario_parse_dist(bad[i], &d), SIM_ERR_INVAL, "%s", bad[i]);
}

Test(scenario_units, integers_and_bools_in_files)
{
	struct scenario_cfg c;

	cfg_of("[scenario]\nseed = 18446744073709551615\nreplications = +3\n" GROUP
	       "confirmable = off\ncount = 1000\n",
	       &c);
	cr_assert_eq(c.seed, UINT64_MAX);
	cr_assert_eq(c.replications, 3);
	cr_assert_eq(c.groups[0].confirmable, false);
	cr_assert_eq(c.groups[0].count, 1000);
	scenario_cfg_free(&c);

	cfg_of(GROUP "confirmable = TRUE\n", &c);
	cr_assert_eq(c.groups[0].confirmable, true);
	scenario_cfg_free(&c);

	err_is(GROUP "confirmable = maybe\n",
	       F ":2: bad boolean 'maybe' for 'confirmable' in [group.sensors] (yes/no, "
		 "true/false, on/off, 1/0)");
	err_is("[scenario]\nseed = 18446744073709551616\n" GROUP,
	       F ":2: bad integer '18446744073709551616' for 'seed' in [scenario] (0 to "
		 "18446744073709551615)");
	err_is(GROUP "count = 1.5\n",
	       F ":2: bad integer '1.5' for 'count' in [group.sensors]");
	err_is(GROUP "count = 99999999999999999999\n",
	       F ":2: bad integer '99999999999999999999' for 'count' in [group.sensors]");
}

/* ------------------------------------------------------------------ */

Test(scenario_defaults, everything)
{
	struct scenario_src *src = NULL;
	struct scenario_cfg c;
	char err[SCN_ERR_LEN];
	const struct group_cfg *g;
	int i;

	cr_assert_eq(scenario_load_string(&src, "dir/sub/my-test.ini", GROUP, NULL, 0,
					  err, sizeof(err)),
		     0, "%s", err);
	cr_assert_eq(scenario_n_points(src), 1);
	cr_assert_eq(scenario_n_params(src), 0);
	cr_assert_str_eq(scenario_text(src), GROUP);
	cr_assert_eq(scenario_point_cfg(src, 0, &c, err, sizeof(err)), 0);
	cr_assert_eq(scenario_point_cfg(src, 1, &c, err, sizeof(err)), SIM_ERR_INVAL);
	cr_assert_eq(scenario_point_cfg(src, 0, &c, err, sizeof(err)), 0);
	scenario_src_del(src);

	cr_assert_str_eq(c.name, "my-test");
	cr_assert_str_eq(c.file, "dir/sub/my-test.ini");
	cr_assert_eq(c.duration, SIM_S(60));
	cr_assert_eq(c.warmup, 0);
	cr_assert_eq(c.seed, 1);
	cr_assert_eq(c.replications, 1);
	cr_assert_eq(c.backend, BACKEND_NATIVE);
	for (i = 0; i < 2; i++) {
		const struct link_cfg *l = i ? &c.down : &c.up;

		cr_assert_eq(l->latency, 0);
		cr_assert_eq(l->jitter.kind, SIM_DIST_NONE);
		cr_assert_eq(l->loss.kind, LOSS_BERNOULLI);
		cr_assert_eq(l->loss.p, 0);
		cr_assert_eq(l->rate_bps, 0);
		cr_assert_eq(l->queue, 64);
		cr_assert_eq(l->mtu, 1280);
		cr_assert_eq(l->duplicate, 0);
	}
	cr_assert_eq(c.bottleneck.present, false);
	cr_assert_eq(c.n_groups, 1);
	g = &c.groups[0];
	cr_assert_str_eq(g->name, "sensors");
	cr_assert_eq(g->count, 1);
	cr_assert_eq(g->protocol, PROTO_COAP);
	cr_assert_eq(g->traffic, TRAFFIC_PERIODIC);
	cr_assert_eq(g->interval, SIM_S(60));
	cr_assert_eq(g->start.kind, SIM_DIST_UNIFORM);
	cr_assert_float_eq(g->start.a, 0, 1e-9);
	cr_assert_float_eq(g->start.b, 60e9, 1e-3);
	cr_assert_eq(g->payload, 16);
	cr_assert_eq(g->method, 2);
	cr_assert_eq(g->confirmable, true);
	cr_assert_str_eq(g->path, "/sensors/{id}");
	cr_assert_eq(g->qos, 1);
	cr_assert_str_eq(g->topic, "sensors/{id}");
	cr_assert_eq(c.server.processing.kind, SIM_DIST_CONST);
	cr_assert_eq(c.server.processing.a, 0);
	cr_assert_eq(c.server.separate_after, SIM_S(1));
	cr_assert_eq(c.coap.ack_timeout, SIM_S(2));
	cr_assert_float_eq(c.coap.ack_random_factor, 1.5, 1e-12);
	cr_assert_eq(c.coap.max_retransmit, 4);
	cr_assert_eq(c.coap.nstart, 1);
	cr_assert_eq(c.coap.default_leisure, SIM_S(5));
	cr_assert_eq(c.coap.congestion, COAP_CC_DEFAULT);
	cr_assert_eq(c.mqtt.keepalive, SIM_S(60));
	cr_assert_eq(c.mqtt.clean_session, true);
	cr_assert_eq(c.tcp.rto_initial, SIM_S(1));
	cr_assert_eq(c.tcp.rto_min, SIM_S(1));
	cr_assert_eq(c.tcp.rto_max, SIM_S(60));
	cr_assert_eq(c.tcp.mss, 536);
	cr_assert_eq(c.tcp.delayed_ack, 0);
	cr_assert_eq(c.tcp.syn_retries, 6);
	cr_assert_eq(c.tcp.data_retries, 15);
	cr_assert_eq(c.baseline_tolerance, 0.01);
	cr_assert_str_eq(c.energy.radio, "cc2420");
	cr_assert_float_eq(c.energy.voltage_v, 3.0, 1e-12);
	cr_assert_float_eq(c.energy.tx_ma, 17.4, 1e-12);
	cr_assert_float_eq(c.energy.rx_ma, 18.8, 1e-12);
	cr_assert_float_eq(c.energy.idle_ma, 0.426, 1e-12);
	cr_assert_float_eq(c.energy.sleep_ma, 0.02, 1e-12);
	cr_assert_eq(c.energy.bitrate_bps, 250000);
	cr_assert_float_eq(c.energy.battery_mah, 2400, 1e-9);
	cr_assert_eq(c.output.pcap, true);
	cr_assert_str_eq(c.output.dir, "results/my-test");
	cr_assert_str_eq(c.output.pcap_dir, "pcap/my-test");
	cr_assert_eq(c.output.exchanges, false);
	cr_assert_eq(c.output.pcap_max, 0);
	cr_assert_eq(c.n_expect, 0);
	cr_assert_null(c.expect);
	scenario_cfg_free(&c);
}

Test(scenario_defaults, start_follows_traffic)
{
	struct scenario_cfg c;

	cfg_of("[group.a]\ntraffic = periodic(10s)\n"
	       "[group.b]\ntraffic = once\n"
	       "[group.c]\ntraffic = poisson(2min)\nstart = const(1s)\n"
	       "[group.d]\nstart = exp(1s)\ntraffic = periodic(1s)\n",
	       &c);
	cr_assert_eq(c.n_groups, 4);
	cr_assert_str_eq(c.groups[0].name, "a");
	cr_assert_eq(c.groups[0].traffic, TRAFFIC_PERIODIC);
	cr_assert_eq(c.groups[0].interval, SIM_S(10));
	cr_assert_eq(c.groups[0].start.kind, SIM_DIST_UNIFORM);
	cr_assert_float_eq(c.groups[0].start.b, 10e9, 1e-3);
	cr_assert_eq(c.groups[1].traffic, TRAFFIC_ONCE);
	cr_assert_eq(c.groups[1].interval, 0);
	cr_assert_float_eq(c.groups[1].start.b, 60e9, 1e-3);
	cr_assert_eq(c.groups[2].traffic, TRAFFIC_POISSON);
	cr_assert_eq(c.groups[2].interval, SIM_S(120));
	cr_assert_eq(c.groups[2].start.kind, SIM_DIST_CONST);
	cr_assert_float_eq(c.groups[2].start.a, 1e9, 1e-3);
	cr_assert_eq(c.groups[3].start.kind, SIM_DIST_EXP);
	scenario_cfg_free(&c);
}

Test(scenario_parse, full_example)
{
	static const char text[] = "\xEF\xBB\xBF; the contract's example, trimmed\n"
				   "[scenario]\n"
				   "name = quickstart          ; default: the file name\n"
				   "duration = 1h              ; simulated time\n"
				   "warmup = 30s\n"
				   "seed = 7\n"
				   "replications = 3\n"
				   "backend = native\n"
				   "\n"
				   "[link]\r\n"
				   "latency = 100ms\r\n"
				   "jitter = uniform(0, 20ms)\n"
				   "loss = 5%\n"
				   "rate = 250kbps\n"
				   "queue = 32\n"
				   "mtu = 1500\n"
				   "duplicate = 1%\n"
				   "[bottleneck]\n"
				   "rate = 1Mbps\n"
				   "queue = 100\n"
				   "latency = 2ms\n"
				   "[group.sensors]\n"
				   "  count = 1000\n"
				   "protocol = mqtt\n"
				   "payload = 1kB\n"
				   "method = put\n"
				   "confirmable = no\n"
				   "path = /s/{id}/t\n"
				   "qos = 2\n"
				   "topic = a/b/{id}\n"
				   "[server]\n"
				   "processing = normal(5ms, 1ms)\n"
				   "separate_after = 500ms\n"
				   "[coap]\n"
				   "ack_timeout = 3s\n"
				   "ack_random_factor = 1.25\n"
				   "max_retransmit = 20\n"
				   "nstart = 8\n"
				   "default_leisure = 2s\n"
				   "congestion = cocoa\n"
				   "[mqtt]\n"
				   "keepalive = 2min\n"
				   "clean_session = false\n"
				   "[tcp]\n"
				   "rto_initial = 3s\n"
				   "rto_min = 200ms\n"
				   "rto_max = 2min\n"
				   "mss = 1220\n"
				   "delayed_ack = 40ms\n"
				   "[output]\n"
				   "pcap = no\n"
				   "dir = out/{name}/x-{name}\n"
				   "pcap_dir = /tmp/p\n"
				   "exchanges = yes\n"
				   "pcap_max = 1GB\n";
	struct scenario_cfg c;
	const struct group_cfg *g;

	cfg_of(text, &c);
	cr_assert_str_eq(c.name, "quickstart");
	cr_assert_eq(c.duration, SIM_S(3600));
	cr_assert_eq(c.warmup, SIM_S(30));
	cr_assert_eq(c.seed, 7);
	cr_assert_eq(c.replications, 3);
	cr_assert_eq(c.backend, BACKEND_NATIVE);
	cr_assert_eq(c.up.latency, SIM_MS(100));
	cr_assert_eq(c.down.latency, SIM_MS(100));
	cr_assert_eq(c.up.jitter.kind, SIM_DIST_UNIFORM);
	cr_assert_float_eq(c.down.jitter.b, 2e7, 1e-3);
	cr_assert_float_eq(c.up.loss.p, 0.05, 1e-12);
	cr_assert_eq(c.up.rate_bps, 250000);
	cr_assert_eq(c.up.queue, 32);
	cr_assert_eq(c.up.mtu, 1500);
	cr_assert_float_eq(c.up.duplicate, 0.01, 1e-12);
	cr_assert(c.bottleneck.present);
	cr_assert_eq(c.bottleneck.rate_bps, 1000000);
	cr_assert_eq(c.bottleneck.queue, 100);
	cr_assert_eq(c.bottleneck.latency, SIM_MS(2));
	g = &c.groups[0];
	cr_assert_eq(g->count, 1000);
	cr_assert_eq(g->protocol, PROTO_MQTT);
	cr_assert_eq(g->payload, 1000);
	cr_assert_eq(g->method, 3);
	cr_assert_eq(g->confirmable, false);
	cr_assert_str_eq(g->path, "/s/{id}/t");
	cr_assert_eq(g->qos, 2);
	cr_assert_str_eq(g->topic, "a/b/{id}");
	cr_assert_eq(c.server.processing.kind, SIM_DIST_NORMAL);
	cr_assert_eq(c.server.separate_after, SIM_MS(500));
	cr_assert_eq(c.coap.ack_timeout, SIM_S(3));
	cr_assert_float_eq(c.coap.ack_random_factor, 1.25, 1e-12);
	cr_assert_eq(c.coap.max_retransmit, 20);
	cr_assert_eq(c.coap.nstart, 8);
	cr_assert_eq(c.coap.default_leisure, SIM_S(2));
	cr_assert_eq(c.coap.congestion, COAP_CC_COCOA);
	cr_assert_eq(c.mqtt.keepalive, SIM_S(120));
	cr_assert_eq(c.mqtt.clean_session, false);
	cr_assert_eq(c.tcp.rto_initial, SIM_S(3));
	cr_assert_eq(c.tcp.rto_min, SIM_MS(200));
	cr_assert_eq(c.tcp.rto_max, SIM_S(120));
	cr_assert_eq(c.tcp.mss, 1220);
	cr_assert_eq(c.tcp.delayed_ack, SIM_MS(40));
	cr_assert_eq(c.output.pcap, false);
	cr_assert_str_eq(c.output.dir, "out/quickstart/x-quickstart");
	cr_assert_str_eq(c.output.pcap_dir, "/tmp/p");
	cr_assert_eq(c.output.exchanges, true);
	cr_assert_eq(c.output.pcap_max, 1000000000ull);
	scenario_cfg_free(&c);
}

Test(scenario_parse, link_up_down_merge)
{
	struct scenario_cfg c;

	/* [link.up] before [link] in the file still wins for its keys. */
	cfg_of("[link.up]\nlatency = 10ms\nrate = 1Mbps\n"
	       "[link]\nlatency = 100ms\nloss = 5%\nrate = 250kbps\n"
	       "[link.down]\nloss = gilbert(p=1%, r=25%)\n" GROUP,
	       &c);
	cr_assert_eq(c.up.latency, SIM_MS(10));
	cr_assert_eq(c.up.rate_bps, 1000000);
	cr_assert_float_eq(c.up.loss.p, 0.05, 1e-12);
	cr_assert_eq(c.up.loss.kind, LOSS_BERNOULLI);
	cr_assert_eq(c.down.latency, SIM_MS(100));
	cr_assert_eq(c.down.rate_bps, 250000);
	cr_assert_eq(c.down.loss.kind, LOSS_GILBERT);
	scenario_cfg_free(&c);
}

Test(scenario_parse, gilbert)
{
	struct scenario_cfg c;

	cfg_of("[link]\nloss = gilbert(p=1%, r=25%)\n" GROUP, &c);
	cr_assert_eq(c.up.loss.kind, LOSS_GILBERT);
	cr_assert_float_eq(c.up.loss.ge_p, 0.01, 1e-12);
	cr_assert_float_eq(c.up.loss.ge_r, 0.25, 1e-12);
	cr_assert_float_eq(c.up.loss.loss_good, 0, 1e-12);
	cr_assert_float_eq(c.up.loss.loss_bad, 1.0, 1e-12);
	scenario_cfg_free(&c);

	cfg_of("[link]\nloss = gilbert( loss_bad = 50%, r=0.3,loss_good=1%, p=0.02 "
	       ")\n" GROUP,
	       &c);
	cr_assert_float_eq(c.down.loss.ge_p, 0.02, 1e-12);
	cr_assert_float_eq(c.down.loss.ge_r, 0.3, 1e-12);
	cr_assert_float_eq(c.down.loss.loss_good, 0.01, 1e-12);
	cr_assert_float_eq(c.down.loss.loss_bad, 0.5, 1e-12);
	scenario_cfg_free(&c);

	err_is("[link]\nloss = gilbert(p=1%)\n" GROUP,
	       F ":2: bad loss 'gilbert(p=1%)' for 'loss' in [link]: gilbert() needs p= "
		 "and r=");
	err_is("[link]\nloss = gilbert(p=1%, r=2%, los_bad=3%)\n" GROUP,
	       F ":2: bad loss 'gilbert(p=1%, r=2%, los_bad=3%)' for 'loss' in [link]: "
		 "unknown gilbert() argument 'los_bad' (did you mean 'loss_bad'?)");
	err_is("[link]\nloss = gilbert(p=1%, r=2%, p=3%)\n" GROUP,
	       F ":2: bad loss 'gilbert(p=1%, r=2%, p=3%)' for 'loss' in [link]: "
		 "gilbert() argument 'p' given twice");
	err_is("[link]\nloss = gilbert(1%, 25%)\n" GROUP,
	       F ":2: bad loss 'gilbert(1%, 25%)' for 'loss' in [link]: gilbert() "
		 "arguments are named: p=, r=, loss_good=, loss_bad=");
	err_is("[link]\nloss = gilbert(p=1%, r=250%)\n" GROUP,
	       F ":2: bad loss 'gilbert(p=1%, r=250%)' for 'loss' in [link]: bad "
		 "probability '250%' for 'r'");
	err_is("[link]\nloss = markov(p=1%)\n" GROUP,
	       F ":2: bad loss 'markov(p=1%)' for 'loss' in [link]: unknown loss model "
		 "'markov' (a probability or gilbert(...))");
	err_is("[link]\nloss = 150%\n" GROUP,
	       F ":2: bad loss '150%' for 'loss' in [link]: expected a probability (5% "
		 "or 0.05) or gilbert(p=, r=, loss_good=, loss_bad=)");
}

Test(scenario_parse, energy_presets)
{
	struct scenario_cfg c;

	/* Explicit keys override the preset whatever their order. */
	cfg_of("[energy]\ntx = 30mA\nradio = cc2538\nsleep = 5uA\nbattery = 1.2Ah\n"
	       "voltage = 3300mV\n" GROUP,
	       &c);
	cr_assert_str_eq(c.energy.radio, "cc2538");
	cr_assert_float_eq(c.energy.tx_ma, 30, 1e-12);
	cr_assert_float_eq(c.energy.rx_ma, 20, 1e-12);
	cr_assert_float_eq(c.energy.sleep_ma, 0.005, 1e-12);
	cr_assert_float_eq(c.energy.battery_mah, 1200, 1e-9);
	cr_assert_float_eq(c.energy.voltage_v, 3.3, 1e-12);
	scenario_cfg_free(&c);

	cfg_of("[energy]\nradio = nrf52840\n" GROUP, &c);
	cr_assert_str_eq(c.energy.radio, "nrf52840");
	cr_assert_float_eq(c.energy.tx_ma, 4.8, 1e-12);
	cr_assert_eq(c.energy.bitrate_bps, 250000);
	cr_assert_float_eq(c.energy.battery_mah, 2400, 1e-9);
	scenario_cfg_free(&c);

	err_is("[energy]\nradio = cc2421\n" GROUP,
	       F ":2: unknown radio 'cc2421' in [energy] (presets: cc2420 cc2538 "
		 "nrf52840) (did you mean 'cc2420'?)");
	err_is("[energy]\ntx = 17.4mW\n" GROUP,
	       F ":2: bad current '17.4mW' for 'tx' in [energy] (units: mA uA A)");
	err_is("[energy]\nbattery = 0mAh\n" GROUP,
	       F ":2: 'battery' in [energy] must be greater than 0 (got '0mAh')");
}

Test(scenario_parse, expect)
{
	struct scenario_cfg c, d;

	cfg_of(GROUP "[expect]\ndelivery_ratio = >= 0.999\n"
		     "latency_ms.p99 = <= 5s\n"
		     "group.sensors.success_ratio = > 99%\n"
		     "retransmissions = == 0\n"
		     "latency_ms.max = < 250\n"
		     "wall_s = <2min\n",
	       &c);
	cr_assert_eq(c.n_expect, 6);
	cr_assert_str_eq(c.expect[0].metric, "delivery_ratio");
	cr_assert_eq(c.expect[0].op, EXPECT_GE);
	cr_assert_float_eq(c.expect[0].value, 0.999, 1e-12);
	cr_assert_str_eq(c.expect[0].text, "0.999");
	cr_assert_eq(c.expect[0].line, 3);
	cr_assert_str_eq(c.expect[1].metric, "latency_ms.p99");
	cr_assert_eq(c.expect[1].op, EXPECT_LE);
	cr_assert_float_eq(c.expect[1].value, 5000, 1e-9);
	cr_assert_str_eq(c.expect[1].text, "5s");
	cr_assert_eq(c.expect[2].op, EXPECT_GT);
	cr_assert_float_eq(c.expect[2].value, 0.99, 1e-12);
	cr_assert_eq(c.expect[3].op, EXPECT_EQ);
	cr_assert_float_eq(c.expect[3].value, 0, 1e-12);
	cr_assert_eq(c.expect[4].op, EXPECT_LT);
	cr_assert_float_eq(c.expect[4].value, 250, 1e-12);
	cr_assert_float_eq(c.expect[5].value, 120, 1e-9); /* seconds */
	cr_assert_eq(c.expect[5].line, 8);

	cr_assert_eq(scenario_cfg_copy(&d, &c), 0);
	cr_assert_neq(d.expect, c.expect);
	cr_assert_eq(d.n_expect, 6);
	cr_assert_str_eq(d.expect[5].metric, "wall_s");
	scenario_cfg_free(&c);
	scenario_cfg_free(&d);
	cr_assert_null(d.expect);
	cr_assert_eq(d.n_expect, 0);

	err_is(GROUP "[expect]\ndelivery_ratio = 0.999\n",
	       F ":3: bad expectation '0.999' for 'delivery_ratio' in [expect] (write OP "
		 "VALUE with OP one of < <= > >= ==)");
	err_is(GROUP "[expect]\ndelivery_ratio = >= lots\n",
	       F ":3: bad value 'lots' for 'delivery_ratio' in [expect] (a number, a "
		 "percentage or a time)");
	err_is(GROUP "[expect]\ndelivery_ratio = >=\n",
	       F ":3: missing value after '>=' for 'delivery_ratio' in [expect]");
	err_is(GROUP "[expect]\ndelivery ratio = >= 1\n",
	       F ":3: bad metric name 'delivery ratio' in [expect] (letters, digits, "
		 "'_', '-' and dots; write 'metric = OP VALUE')");
	err_is(GROUP "[expect]\nlatency_ms..p99 = >= 1\n",
	       F ":3: bad metric name 'latency_ms..p99' in [expect] (letters, digits, "
		 "'_', '-' and dots; write 'metric = OP VALUE')");
}

Test(scenario_parse, comments_blank_lines_and_line_numbers)
{
	struct scenario_cfg c;

	cfg_of("# comment\n; another\n\n   \n[scenario] ; trailing\n"
	       "duration = 10s\t; tab before the comment\n"
	       "\t  warmup = 1s    \n" GROUP,
	       &c);
	cr_assert_eq(c.duration, SIM_S(10));
	cr_assert_eq(c.warmup, SIM_S(1));
	scenario_cfg_free(&c);
	err_is("; one\n\n# three\n[link]\n\n; six\nlatency = 1x\n" GROUP,
	       F ":7: bad time '1x' for 'latency' in [link] (units: ns us ms s min h)");
}

Test(scenario_parse, inline_comment_needs_space)
{
	/* ';' glued to the value is part of it, as in inih. */
	err_is("[scenario]\nduration = 10s;x\n" GROUP,
	       F ":2: bad time '10s;x' for 'duration' in [scenario] (units: ns us ms s "
		 "min h)");
}

Test(scenario_parse, long_comment_lines_are_fine)
{
	char text[1024];
	struct scenario_cfg c;

	snprintf(text, sizeof(text), ";%0500d\n" GROUP "count = 2 ; %0400d\n", 0, 0);
	cfg_of(text, &c);
	cr_assert_eq(c.groups[0].count, 2);
	scenario_cfg_free(&c);
}

Test(scenario_parse, colon_separator_and_case)
{
	struct scenario_cfg c;

	cfg_of(GROUP "count: 3\nprotocol = MQTT\nmethod = Delete\n", &c);
	cr_assert_eq(c.groups[0].count, 3);
	cr_assert_eq(c.groups[0].protocol, PROTO_MQTT);
	cr_assert_eq(c.groups[0].method, 4);
	scenario_cfg_free(&c);
}

Test(scenario_parse, bottleneck_and_groups)
{
	struct scenario_cfg c;

	cfg_of("[bottleneck]\n[group.a]\n[group.b_2]\ncount = 4\n[group.a]\ncount = 9\n",
	       &c);
	cr_assert(c.bottleneck.present);
	cr_assert_eq(c.bottleneck.rate_bps, 0);
	cr_assert_eq(c.bottleneck.queue, 64);
	cr_assert_eq(c.n_groups, 2);
	cr_assert_str_eq(c.groups[0].name, "a");
	cr_assert_eq(c.groups[0].count, 9);
	cr_assert_str_eq(c.groups[1].name, "b_2");
	cr_assert_eq(c.groups[1].count, 4);
	scenario_cfg_free(&c);
}

/* ------------------------------------------------------------------ */

Test(scenario_sweep, list_order_and_params)
{
	struct scenario_src *src =
	    load("[link]\nloss = ${0%, 5%, 10%}\n" GROUP "protocol = ${coap, mqtt}\n"
		 "[link.up]\nlatency = ${1ms, 2ms}\n");
	struct scenario_cfg c;
	char err[SCN_ERR_LEN];
	size_t p;

	cr_assert_eq(scenario_n_points(src), 12);
	cr_assert_eq(scenario_n_params(src), 3);
	cr_assert_str_eq(scenario_param_key(src, 0), "link.loss");
	cr_assert_str_eq(scenario_param_key(src, 1), "group.sensors.protocol");
	cr_assert_str_eq(scenario_param_key(src, 2), "link.up.latency");
	cr_assert_null(scenario_param_key(src, 3));
	/* The first sweep in file order varies slowest. */
	cr_assert_str_eq(scenario_param_value(src, 0, 0), "0%");
	cr_assert_str_eq(scenario_param_value(src, 0, 1), "coap");
	cr_assert_str_eq(scenario_param_value(src, 0, 2), "1ms");
	cr_assert_str_eq(scenario_param_value(src, 1, 2), "2ms");
	cr_assert_str_eq(scenario_param_value(src, 2, 1), "mqtt");
	cr_assert_str_eq(scenario_param_value(src, 2, 2), "1ms");
	cr_assert_str_eq(scenario_param_value(src, 4, 0), "5%");
	cr_assert_str_eq(scenario_param_value(src, 11, 0), "10%");
	cr_assert_str_eq(scenario_param_value(src, 11, 1), "mqtt");
	cr_assert_str_eq(scenario_param_value(src, 11, 2), "2ms");
	cr_assert_null(scenario_param_value(src, 12, 0));
	for (p = 0; p < 12; p++) {
		cr_assert_eq(scenario_point_cfg(src, p, &c, err, sizeof(err)), 0);
		cr_assert_float_eq(c.up.loss.p, 0.05 * (double)(p / 4), 1e-12);
		cr_assert_eq(c.groups[0].protocol, (p / 2) % 2 ? PROTO_MQTT : PROTO_COAP);
		cr_assert_eq(c.up.latency, SIM_MS(1 + p % 2));
		cr_assert_eq(c.down.latency, 0);
		scenario_cfg_free(&c);
	}
	scenario_src_del(src);
}

Test(scenario_sweep, range_percent)
{
	static const char *const want[] = {"0%", "5%", "10%", "15%", "20%", "25%", "30%"};
	struct scenario_src *src = load("[link]\nloss = ${0%..30% step 5%}\n" GROUP);
	struct scenario_cfg c;
	char err[SCN_ERR_LEN];
	size_t i;

	cr_assert_eq(scenario_n_points(src), 7);
	for (i = 0; i < 7; i++) {
		cr_assert_str_eq(scenario_param_value(src, i, 0), want[i]);
		cr_assert_eq(scenario_point_cfg(src, i, &c, err, sizeof(err)), 0);
		cr_assert_float_eq(c.up.loss.p, 0.05 * (double)i, 1e-12);
		scenario_cfg_free(&c);
	}
	scenario_src_del(src);
}

Test(scenario_sweep, range_float_drift)
{
	struct scenario_src *src = load("[link]\nduplicate = ${0.1..0.3 step 0.1}\n"
					"latency = ${0..1 step 0.25}\n" GROUP
					"count = ${1000..1000000 step 999000}\n");

	/* 0.1 + 2 * 0.1 > 0.3 in doubles: 0.3 is still included. */
	cr_assert_eq(scenario_n_points(src), 3 * 5 * 2);
	cr_assert_str_eq(scenario_param_value(src, 0, 0), "0.1");
	cr_assert_str_eq(scenario_param_value(src, 10, 0), "0.2");
	cr_assert_str_eq(scenario_param_value(src, 20, 0), "0.3");
	cr_assert_str_eq(scenario_param_value(src, 8, 1), "1");
	cr_assert_str_eq(scenario_param_value(src, 2, 1), "0.25");
	/* Large integers stay integers ("1000000", not "1e+06"). */
	cr_assert_str_eq(scenario_param_value(src, 1, 2), "1000000");
	scenario_src_del(src);
}

Test(scenario_sweep, range_with_unit_and_single_value)
{
	struct scenario_src *src = load("[link]\nlatency = ${10ms..30ms step 10ms}\n"
					"rate = ${5kbps..5kbps step 1kbps}\n" GROUP);

	cr_assert_eq(scenario_n_points(src), 3);
	cr_assert_str_eq(scenario_param_value(src, 0, 0), "10ms");
	cr_assert_str_eq(scenario_param_value(src, 2, 0), "30ms");
	cr_assert_str_eq(scenario_param_value(src, 2, 1), "5kbps");
	scenario_src_del(src);
}

Test(scenario_sweep, inside_a_value)
{
	struct scenario_src *src =
	    load("[link]\njitter = uniform(0, ${10ms, 20ms})\n" GROUP
		 "start = ${uniform(0, 1s), none, exp(1s)}\n"
		 "path = ${/a/{id}, /b}\n");
	struct scenario_cfg c;
	char err[SCN_ERR_LEN];

	cr_assert_eq(scenario_n_points(src), 12);
	cr_assert_str_eq(scenario_param_value(src, 0, 0), "uniform(0, 10ms)");
	cr_assert_str_eq(scenario_param_value(src, 6, 0), "uniform(0, 20ms)");
	cr_assert_str_eq(scenario_param_value(src, 0, 1), "uniform(0, 1s)");
	cr_assert_str_eq(scenario_param_value(src, 2, 1), "none");
	cr_assert_str_eq(scenario_param_value(src, 0, 2), "/a/{id}");
	cr_assert_str_eq(scenario_param_value(src, 1, 2), "/b");
	cr_assert_eq(scenario_point_cfg(src, 7, &c, err, sizeof(err)), 0);
	cr_assert_float_eq(c.up.jitter.b, 2e7, 1e-3);
	cr_assert_eq(c.groups[0].start.kind, SIM_DIST_UNIFORM);
	cr_assert_str_eq(c.groups[0].path, "/b");
	scenario_cfg_free(&c);
	scenario_src_del(src);
}

Test(scenario_sweep, errors)
{
	err_is("[link]\nloss = ${0%, 5%\n" GROUP,
	       F ":2: unbalanced '${' in the value of 'loss' in [link]");
	err_is(GROUP "count = 1\n[link]\nloss = ${}\n",
	       F ":4: empty sweep '${}' for 'loss' in [link]");
	err_is("[link]\nloss = ${1%,,2%}\n" GROUP,
	       F ":2: empty value in the sweep for 'loss' in [link]");
	err_is("[link]\nloss = ${0%..30% step 0%}\n" GROUP,
	       F ":2: range for 'loss' in [link] needs a step > 0");
	err_is("[link]\nloss = ${0%..30% step -5%}\n" GROUP,
	       F ":2: range for 'loss' in [link] needs a step > 0");
	err_is("[link]\nloss = ${30%..0% step 5%}\n" GROUP,
	       F ":2: range for 'loss' in [link] goes down (FROM > TO)");
	err_is("[link]\nlatency = ${1ms..1s step 1ms}\n" GROUP,
	       F ":2: range for 'latency' in [link] mixes units ('ms', 's', 'ms'): write "
		 "FROM, TO and STEP with the same unit");
	err_is("[link]\nloss = ${0%..30%}\n" GROUP,
	       F ":2: range for 'loss' in [link] needs a step: ${FROM..TO step STEP}");
	err_is("[link]\nloss = ${a..b step c}\n" GROUP,
	       F ":2: bad range '${a..b step c}' for 'loss' in [link] (expected "
		 "${FROM..TO step STEP} with numbers)");
	err_is("[link]\njitter = uniform(${1ms, 2ms}, ${3ms, 4ms})\n" GROUP,
	       F ":2: more than one ${...} in the value of 'jitter' in [link]");
	err_is("[link]\njitter = ${1ms, ${2ms}}\n" GROUP,
	       F ":2: nested ${...} in the value of 'jitter' in [link]");
	/* The runs' seeds are the sweep's: sweeping them would do nothing. */
	err_is("[scenario]\nseed = ${1, 2}\n" GROUP,
	       F ":2: 'seed' in [scenario] cannot be swept: every point runs replications "
		 "with seeds seed, seed + 1, ... (set replications instead)");
	err_is("[scenario]\nduration = 1min\nreplications = ${1..3 step 1}\n" GROUP,
	       F ":3: 'replications' in [scenario] cannot be swept: every point runs "
		 "replications with seeds seed, seed + 1, ... (set replications instead)");
	err_is("[link]\nlatency = ${0..1 step 0.000001}\n" GROUP,
	       F ":2: range for 'latency' in [link] has more than 100000 values");
	err_is("[link]\nlatency = ${1..1000 step 1}\nrate = ${1..1000 step 1}\n" GROUP,
	       F ":3: the sweeps make more than 100000 points");
	/* An invalid value inside a sweep names the key's line. */
	err_is("[scenario]\nseed = 1\n[link]\nloss = ${5%, 150%}\n" GROUP,
	       F ":4: bad loss '150%' for 'loss' in [link]: expected a probability (5% "
		 "or 0.05) or gilbert(p=, r=, loss_good=, loss_bad=)");
	/* Combinations are checked too: warmup 2min with duration 1min. */
	err_is("[scenario]\nduration = ${1min, 5min}\nwarmup = ${30s, 2min}\n" GROUP, F
	       ":3: 'warmup' (120s) must be shorter than 'duration' (60s) in [scenario]");
}

/* ------------------------------------------------------------------ */

Test(scenario_set, override_add_and_sweep)
{
	static const char text[] =
	    "[link]\nloss = ${1%, 2%}\nlatency = 5ms\n" GROUP "count = 10\n";
	const char *sets[] = {
	    "link.latency=20ms",
	    " group.sensors.count = 5000 ",
	    "coap.max_retransmit=6",
	    "scenario.duration=1h",
	    "link.up.rate=${1Mbps, 2Mbps, 3Mbps}",
	    "expect.latency_ms.p99=<= 2s",
	    "bottleneck.rate=1Mbps",
	};
	struct scenario_src *src = load_sets(text, sets, SIM_ARRAY_LEN(sets));
	struct scenario_cfg c;
	char err[SCN_ERR_LEN];

	cr_assert_eq(scenario_n_points(src), 6);
	cr_assert_str_eq(scenario_param_key(src, 0), "link.loss");
	cr_assert_str_eq(scenario_param_key(src, 1), "link.up.rate");
	cr_assert_str_eq(scenario_param_value(src, 1, 1), "2Mbps");
	cr_assert_str_eq(scenario_param_value(src, 3, 0), "2%");
	cr_assert_str_eq(scenario_text(src), text);
	cr_assert_eq(scenario_point_cfg(src, 5, &c, err, sizeof(err)), 0);
	cr_assert_eq(c.up.latency, SIM_MS(20));
	cr_assert_eq(c.down.latency, SIM_MS(20));
	cr_assert_eq(c.groups[0].count, 5000);
	cr_assert_eq(c.coap.max_retransmit, 6);
	cr_assert_eq(c.duration, SIM_S(3600));
	cr_assert_eq(c.up.rate_bps, 3000000);
	cr_assert_eq(c.down.rate_bps, 0);
	cr_assert_float_eq(c.up.loss.p, 0.02, 1e-12);
	cr_assert(c.bottleneck.present);
	cr_assert_eq(c.bottleneck.rate_bps, 1000000);
	cr_assert_eq(c.n_expect, 1);
	cr_assert_str_eq(c.expect[0].metric, "latency_ms.p99");
	cr_assert_float_eq(c.expect[0].value, 2000, 1e-9);
	scenario_cfg_free(&c);
	scenario_src_del(src);
}

Test(scenario_set, replaces_a_file_sweep_and_orders_after_file)
{
	const char *sets[] = {"group.sensors.protocol=${coap, mqtt}", "link.loss=7%"};
	struct scenario_src *src = load_sets("[link]\nloss = ${1%, 2%, 3%}\n" GROUP
					     "protocol = coap\npayload = ${10, 20}\n",
					     sets, 2);
	struct scenario_cfg c;
	char err[SCN_ERR_LEN];

	cr_assert_eq(scenario_n_points(src), 4);
	cr_assert_eq(scenario_n_params(src), 2);
	cr_assert_str_eq(scenario_param_key(src, 0), "group.sensors.payload");
	cr_assert_str_eq(scenario_param_key(src, 1), "group.sensors.protocol");
	cr_assert_str_eq(scenario_param_value(src, 1, 1), "mqtt");
	cr_assert_str_eq(scenario_param_value(src, 2, 0), "20");
	cr_assert_eq(scenario_point_cfg(src, 3, &c, err, sizeof(err)), 0);
	cr_assert_float_eq(c.up.loss.p, 0.07, 1e-12);
	cr_assert_eq(c.groups[0].payload, 20);
	cr_assert_eq(c.groups[0].protocol, PROTO_MQTT);
	scenario_cfg_free(&c);
	scenario_src_del(src);
}

Test(scenario_set, later_set_wins)
{
	const char *sets[] = {"link.loss=1%", "link.loss=3%"};
	struct scenario_cfg c;

	cfg_at("[link]\nloss = 2%\n" GROUP, sets, 2, 0, &c);
	cr_assert_float_eq(c.up.loss.p, 0.03, 1e-12);
	scenario_cfg_free(&c);
}

Test(scenario_set, errors)
{
	const char *s1[] = {"link.los=20%"};
	const char *s2[] = {"lnk.loss=20%"};
	const char *s3[] = {"loss=20%"};
	const char *s4[] = {"link.loss"};
	const char *s5[] = {"group.sensrs.count=5"};
	const char *s6[] = {"link.loss=120%"};
	const char *s7[] = {"link.loss="};
	const char *s8[] = {"group.count=5"};
	const char *s9[] = {"link.loss=${1%, 2%"};
	const char *s10[] = {"=5"};

	err_sets(
	    GROUP, s1, 1,
	    "--set link.los=20%: unknown key 'los' in [link] (did you mean 'loss'?)");
	err_sets(GROUP, s2, 1,
		 "--set lnk.loss=20%: unknown section [lnk] (did you mean 'link'?)");
	err_sets(GROUP, s3, 1,
		 "--set loss=20%: KEY must be section.key (e.g. link.loss)");
	err_sets(GROUP, s4, 1, "--set link.loss: expected KEY=VALUE");
	err_sets(GROUP, s5, 1,
		 "--set group.sensrs.count=5: unknown group 'sensrs': the file has no "
		 "[group.sensrs] (did you mean 'sensors'?)");
	err_sets(GROUP, s6, 1,
		 "--set link.loss=120%: bad loss '120%' for 'loss' in [link]: expected a "
		 "probability (5% or 0.05) or gilbert(p=, r=, loss_good=, loss_bad=)");
	err_sets(GROUP, s7, 1, "--set link.loss=: missing value for 'loss' in [link]");
	err_sets(GROUP, s8, 1, "--set group.count=5: [group] needs a name: [group.NAME]");
	err_sets(
	    GROUP, s9, 1,
	    "--set link.loss=${1%, 2%: unbalanced '${' in the value of 'loss' in [link]");
	err_sets(GROUP, s10, 1, "--set =5: KEY must be section.key (e.g. link.loss)");
}

/* ------------------------------------------------------------------ */

Test(scenario_errors, unknown_section_and_key)
{
	err_is("[lnk]\nloss = 5%\n" GROUP,
	       F ":1: unknown section [lnk] (did you mean 'link'?)");
	err_is(GROUP "[link.upp]\n",
	       F ":2: unknown section [link.upp] (did you mean 'link.up'?)");
	err_is("[grop.sensors]\n",
	       F ":1: unknown section [grop.sensors] (did you mean 'group.sensors'?)");
	err_is(GROUP "[physics]\n", F ":2: unknown section [physics]");
	err_is("[group]\n", F ":1: [group] needs a name: [group.NAME]");
	err_is("[group.]\n", F ":1: bad group name '' (a letter or '_', then letters, "
			       "digits, '_' or '-', at most 32)");
	err_is("[group.9lives]\n", F ":1: bad group name '9lives' (a letter or '_', then "
				     "letters, digits, '_' or '-', at most 32)");
	err_is(GROUP "[link]\n\nlos = 20%\n",
	       F ":4: unknown key 'los' in [link] (did you mean 'loss'?)");
	err_is(GROUP "colour = blue\n", F ":2: unknown key 'colour' in [group.sensors]");
	err_is("[]\n", F ":1: empty section name");
}

Test(scenario_errors, syntax)
{
	err_is(GROUP "[link\n", F ":2: missing ']' in section header");
	err_is(GROUP "[link] x\n", F ":2: unexpected text after ']'");
	err_is(GROUP "count\n", F ":2: expected 'key = value' or '[section]'");
	err_is(GROUP "= 5\n", F ":2: missing key before '='");
	err_is("count = 5\n" GROUP, F ":1: key 'count' outside any section");
	err_is(GROUP "count =\n", F ":2: missing value for 'count' in [group.sensors]");
	/* Indented lines are not continuation lines. */
	err_is(GROUP "count = 5\n  6\n", F ":3: expected 'key = value' or '[section]'");
}

/* A long line is normal (a sweep of many values, a long Uri-Path): a
 * 61-value sweep on one 300-odd character line loads, where lines past
 * 197 characters were refused. */
Test(scenario, long_lines_load)
{
	char text[1024], err[SCN_ERR_LEN];
	size_t n = (size_t)snprintf(text, sizeof(text), "%s[link]\nloss = ${", GROUP);
	for (int i = 0; i <= 60; i++)
		n += (size_t)snprintf(text + n, sizeof(text) - n, "%s%d%%", i ? ", " : "", i);
	snprintf(text + n, sizeof(text) - n, "}\n");
	cr_assert_gt(strlen(text), 300);
	struct scenario_src *src;
	cr_assert_eq(scenario_load_string(&src, "long.ini", text, NULL, 0, err, sizeof(err)), 0,
		     "%s", err);
	cr_assert_eq(scenario_n_points(src), 61);
	scenario_src_del(src);
}

Test(scenario_errors, duplicate_key)
{
	err_is(GROUP "count = 1\n\ncount = 2\n",
	       F ":4: duplicate key 'count' in [group.sensors] (first set on line 2)");
	err_is("[link]\nloss = 1%\n[link]\nloss = 2%\n" GROUP,
	       F ":4: duplicate key 'loss' in [link] (first set on line 2)");
}

Test(scenario_errors, bad_units)
{
	err_is(
	    "[scenario]\nname = x\n\n\n\n\nduration = 10xs\n" GROUP, F
	    ":7: bad time '10xs' for 'duration' in [scenario] (units: ns us ms s min h)");
	err_is("[link]\nrate = 250kbit\n" GROUP, F
	       ":2: bad rate '250kbit' for 'rate' in [link] (units: bps kbps Mbps Gbps)");
	err_is(GROUP "payload = 16 bytes\n",
	       F ":2: bad size '16 bytes' for 'payload' in [group.sensors] (units: B kB "
		 "MB GB KiB MiB GiB)");
	err_is("[link]\nduplicate = 2\n" GROUP,
	       F ":2: bad probability '2' for 'duplicate' in [link] (a fraction in [0, "
		 "1] or a percentage like 5%)");
	err_is("[link]\njitter = uniform(20ms, 0)\n" GROUP,
	       F ":2: bad distribution 'uniform(20ms, 0)' for 'jitter' in [link]: "
		 "uniform(a, b) needs a <= b");
	err_is("[server]\nprocessing = gamma(1ms)\n" GROUP,
	       F ":2: bad distribution 'gamma(1ms)' for 'processing' in [server]: "
		 "unknown distribution 'gamma'");
	err_is(GROUP "traffic = periodic(0)\n",
	       F ":2: bad traffic 'periodic(0)' for 'traffic' in [group.sensors]: "
		 "periodic() needs an interval > 0");
	err_is(GROUP "traffic = burst(1s)\n",
	       F ":2: bad traffic 'burst(1s)' for 'traffic' in [group.sensors]: unknown "
		 "traffic 'burst' (periodic(interval), poisson(mean), observe(interval) or once)");
	err_is(GROUP "protocol = coapp\n",
	       F ":2: bad value 'coapp' for 'protocol' in [group.sensors] (coap | mqtt) "
		 "(did you mean 'coap'?)");
	err_is("[scenario]\nbackend = ns2\n" GROUP,
	       F ":2: bad value 'ns2' for 'backend' in [scenario] (native | ns3 | live) (did "
		 "you mean 'ns3'?)");
	err_is("[coap]\nack_random_factor = 1.5x\n" GROUP,
	       F ":2: bad number '1.5x' for 'ack_random_factor' in [coap]");
}

Test(scenario_errors, out_of_range)
{
	err_is(GROUP "count = 0\n", F
	       ":2: 'count' in [group.sensors] must be between 1 and 10000000 (got '0')");
	err_is(
	    GROUP "count = -5\n",
	    F ":2: 'count' in [group.sensors] must be between 1 and 10000000 (got '-5')");
	err_is(
	    "[scenario]\nreplications = 0\n" GROUP,
	    F ":2: 'replications' in [scenario] must be between 1 and 1000000 (got '0')");
	err_is("[link]\nmtu = 1000\n" GROUP,
	       F ":2: 'mtu' in [link] must be between 1280 and 65535 (got '1000')");
	err_is("[link.down]\nqueue = 0\n" GROUP,
	       F ":2: 'queue' in [link.down] must be between 1 and 1000000 (got '0')");
	err_is("[coap]\nack_random_factor = 0.5\n" GROUP, F
	       ":2: 'ack_random_factor' in [coap] must be between 1 and 100 (got '0.5')");
	err_is("[coap]\nmax_retransmit = 21\n" GROUP,
	       F ":2: 'max_retransmit' in [coap] must be between 0 and 20 (got '21')");
	err_is("[coap]\nnstart = 9\n" GROUP,
	       F ":2: 'nstart' in [coap] must be between 1 and 8 (got '9')");
	err_is("[coap]\nnstart = 0\n" GROUP,
	       F ":2: 'nstart' in [coap] must be between 1 and 8 (got '0')");
	err_is("[coap]\nack_timeout = 0\n" GROUP,
	       F ":2: 'ack_timeout' in [coap] must be greater than 0 and at most 1h (got "
		 "'0')");
	/* Removed keys are unknown: probing_rate (RFC 7252 4.7) was never
	 * modelled, nor was a broker processing delay. */
	err_is("[coap]\nprobing_rate = 1\n" GROUP,
	       F ":2: unknown key 'probing_rate' in [coap]");
	err_is(GROUP "qos = 3\n",
	       F ":2: 'qos' in [group.sensors] must be 0, 1 or 2 (got '3')");
	err_is(
	    GROUP "payload = 1MB\n",
	    F ":2: 'payload' in [group.sensors] must be at most 65000 bytes (got '1MB')");
	err_is("[scenario]\nduration = 0\n" GROUP,
	       F ":2: 'duration' in [scenario] must be greater than 0 (got '0')");
	err_is("[mqtt]\nkeepalive = 1.5s\n" GROUP,
	       F ":2: 'keepalive' in [mqtt] must be whole seconds");
	err_is("[mqtt]\nkeepalive = 19h\n" GROUP,
	       F ":2: 'keepalive' in [mqtt] must be at most 65535s (got '19h')");
	err_is("[tcp]\nsyn_retries = 0\n" GROUP,
	       F ":2: 'syn_retries' in [tcp] must be between 1 and 10 (got '0')");
	err_is("[tcp]\nsyn_retries = 11\n" GROUP,
	       F ":2: 'syn_retries' in [tcp] must be between 1 and 10 (got '11')");
	err_is("[tcp]\nmss = 1000\ndata_retries = 31\n" GROUP,
	       F ":3: 'data_retries' in [tcp] must be between 1 and 30 (got '31')");
	err_is("[tcp]\ndata_retries = 0\n" GROUP,
	       F ":2: 'data_retries' in [tcp] must be between 1 and 30 (got '0')");
	/* [live]: the target's form, the source's prefix, what live carries. */
	err_is("[live]\ntarget = http://[::1]:5683\n" GROUP,
	       F ":2: bad target 'http://[::1]:5683' in [live] (coap://HOST[:PORT], "
		 "coaps://HOST[:PORT] for DTLS, mqtt://HOST[:PORT], or mqtts://HOST[:PORT] for "
		 "TLS, an IPv6 address in brackets: coap://[::1]:5683)");
	/* [security]: a key is hex bytes; DTLS is for CoAP unicast groups, and a
	 * live target's scheme says whether it speaks it. */
	err_is("[security]\npsk = 0x1234\n" GROUP,
	       F ":2: bad key '0x1234' for 'psk' in [security] (hex digits, two a byte, 1 to 64 "
		 "bytes)");
	err_is("[security]\nserver_psk = abc\n" GROUP,
	       F ":2: bad key 'abc' for 'server_psk' in [security] (hex digits, two a byte, 1 "
		 "to 64 bytes)");
	err_is("[group.g]\nprotocol = mqtt\nsecurity = dtls\n",
	       F ":3: group 'g': security = dtls is for CoAP unicast groups (DTLS does not "
		 "protect multicast, RFC 7252 §9.1; MQTT takes tls)");
	err_is("[group.g]\nsecurity = tls\n",
	       F ":2: group 'g': security = tls is for MQTT groups (CoAP takes dtls)");
	err_is("[scenario]\nbackend = live\n[live]\ntarget = coap://[::1]:5684\n"
	       "[group.g]\nsecurity = dtls\n",
	       F ":4: group 'g' has security = dtls but the live target is coap://: coaps:// or "
		 "mqtts:// for DTLS or TLS, coap:// or mqtt:// without");
	err_is("[dtls]\ntimeout_initial = 10s\ntimeout_max = 5s\n" GROUP,
	       F ":2: 'timeout_initial' (10s) must not exceed 'timeout_max' (5s) in [dtls]");
	err_is("[live]\nsource = 127.0.0.0/4\n" GROUP,
	       F ":2: bad source '127.0.0.0/4' in [live] (an address or ADDRESS/PREFIX "
		 "with 1 to 24 host bits, e.g. 127.0.0.0/24)");
	err_is("[scenario]\nbackend = live\n" GROUP,
	       F ":2: backend = live needs the server: set 'target' in [live] (e.g. "
		 "--set live.target=coap://[::1]:5683)");
	err_is("[scenario]\nbackend = live\n[live]\ntarget = coap://[::1]\n" GROUP
	       "protocol = mqtt\n",
	       F ":6: group 'sensors': MQTT on backend = live needs 'transport = tun' in "
		 "[live] (udp carries CoAP only)");
	err_is("[tcp]\ndata_retries = 2.5\n" GROUP,
	       F ":2: bad integer '2.5' for 'data_retries' in [tcp]");
	err_is("[tcp]\nrto_min = 2min\n" GROUP,
	       F ":2: 'rto_min' (120s) must not exceed 'rto_max' (60s) in [tcp]");
	err_is("[scenario]\nwarmup = 2min\n" GROUP, F
	       ":2: 'warmup' (120s) must be shorter than 'duration' (60s) in [scenario]");
}

Test(scenario_errors, strings)
{
	err_is(GROUP "path = sensors\n",
	       F ":2: bad path 'sensors' for 'path' in [group.sensors] (starts with '/', "
		 "no spaces, '?' or '#')");
	err_is(GROUP "path = /s/{nam}\n",
	       F ":2: bad path '/s/{nam}' for 'path' in [group.sensors] (the only "
		 "placeholder is {id})");
	err_is(GROUP "topic = a/+/b\n",
	       F ":2: bad topic 'a/+/b' for 'topic' in [group.sensors] (no wildcards '+' "
		 "'#', not starting with '$')");
	err_is(
	    GROUP
	    "path = /0123456789012345678901234567890123456789012345678901234567890123\n",
	    F ":2: 'path' in [group.sensors] is too long (max 63 bytes)");
	/* 59 + 8 digits for 10000000 endpoints do not fit in 63 bytes. */
	err_is(
	    GROUP
	    "path = /1234567890123456789012345678901234567890123456789012345{id}\ncount "
	    "= 10000000\n",
	    F ":2: 'path' in [group.sensors] is too long with 10000000 endpoints (max 63 "
	      "bytes once {id} is replaced)");
	err_is("[scenario]\nname = a/b\n" GROUP,
	       F ":2: bad name 'a/b' in [scenario]: no '/', '\\' or control characters");
}

Test(scenario_errors, groups)
{
	char text[1024];
	size_t i, n = 0;

	err_is("[scenario]\nseed = 1\n", F ": no [group.NAME] section: a scenario needs "
					   "at least one group of endpoints");
	for (i = 0; i <= SIM_MAX_GROUPS; i++)
		n += (size_t)snprintf(text + n, sizeof(text) - n, "[group.g%zu]\n", i);
	err_is(text, F ":17: too many groups (at most 16)");
}

Test(scenario_errors, default_name_unusable)
{
	struct scenario_src *src = NULL;
	char err[SCN_ERR_LEN];
	struct scenario_cfg c;

	cr_assert_eq(
	    scenario_load_string(&src, "dir/.ini", GROUP, NULL, 0, err, sizeof(err)), 0);
	cr_assert_eq(scenario_point_cfg(src, 0, &c, err, sizeof(err)), 0);
	cr_assert_str_eq(c.name, ".ini"); /* only ".ini" itself is kept */
	scenario_cfg_free(&c);
	scenario_src_del(src);
	cr_assert_eq(
	    scenario_load_string(&src, "dir/..", GROUP, NULL, 0, err, sizeof(err)),
	    SIM_ERR_INVAL);
	cr_assert_str_eq(err, "dir/..: cannot use the file name '..' as the scenario "
			      "name (not '.' or '..'): set 'name' in [scenario]");
	cr_assert_eq(scenario_load_string(&src, "dir/..", "[scenario]\nname = ok\n" GROUP,
					  NULL, 0, err, sizeof(err)),
		     0);
	scenario_src_del(src);
}

Test(scenario_errors, control_characters_stay_on_one_line)
{
	const char *sets[] = {"link.loss=5\r\n%"};
	struct scenario_src *src = NULL;
	char err[SCN_ERR_LEN];

	cr_assert_eq(
	    scenario_load_string(&src, "a\nb.ini", GROUP, sets, 1, err, sizeof(err)),
	    SIM_ERR_INVAL);
	cr_assert_null(strchr(err, '\n'));
	cr_assert_null(strchr(err, '\r'));
	/* A short buffer is cut, never overrun. */
	cr_assert_eq(scenario_load_string(&src, F, "[x]\n", NULL, 0, err, 8),
		     SIM_ERR_INVAL);
	cr_assert_str_eq(err, "scenari");
}

Test(scenario_parse, no_final_newline_and_swept_name)
{
	struct scenario_src *src;
	struct scenario_cfg c;
	char err[SCN_ERR_LEN];

	cfg_of(GROUP "count = 3", &c);
	cr_assert_eq(c.groups[0].count, 3);
	scenario_cfg_free(&c);
	err_is(GROUP "count = 0", F
	       ":2: 'count' in [group.sensors] must be between 1 and 10000000 (got '0')");

	src = load("[scenario]\nname = ${ a , b }\n[output]\ndir = r/{name}/{name}\n"
		   "[link]\nlatency = ${ 1 ms .. 2 ms step 1 ms }\n" GROUP);
	cr_assert_eq(scenario_n_points(src), 4);
	cr_assert_str_eq(scenario_param_value(src, 1, 1), "2ms");
	cr_assert_eq(scenario_point_cfg(src, 3, &c, err, sizeof(err)), 0);
	cr_assert_str_eq(c.name, "b");
	cr_assert_str_eq(c.output.dir, "r/b/b");
	cr_assert_str_eq(c.output.pcap_dir, "pcap/b");
	cr_assert_eq(c.up.latency, SIM_MS(2));
	scenario_cfg_free(&c);
	scenario_src_del(src);
}

Test(scenario_errors, more_strings)
{
	char text[512];

	err_is(GROUP "topic = a/{ID}\n",
	       F ":2: bad topic 'a/{ID}' for 'topic' in [group.sensors] (the only "
		 "placeholder is {id})");
	err_is(GROUP "topic = $SYS/x\n",
	       F ":2: bad topic '$SYS/x' for 'topic' in [group.sensors] (no wildcards "
		 "'+' '#', not starting with '$')");
	err_is(GROUP "path = /a b\n",
	       F ":2: bad path '/a b' for 'path' in [group.sensors] (starts with '/', no "
		 "spaces, '?' or '#')");
	err_is("[output]\ndir = a\tb\n" GROUP,
	       F ":2: bad directory 'a?b' for 'dir' in [output]");
	err_is("[scenario]\nname = "
	       "0123456789012345678901234567890123456789012345678901234567890123\n" GROUP,
	       F ":2: bad name "
		 "'0123456789012345678901234567890123456789012345678901234567890123' in "
		 "[scenario]: too long (max 63 bytes)");
	snprintf(text, sizeof(text),
		 "[scenario]\nname = %060d\n[output]\npcap_dir = "
		 "{name}/{name}/{name}/{name}/{name}\n" GROUP,
		 0);
	err_is(text, F ":4: 'pcap_dir' in [output] is too long once {name} is replaced "
		       "(max 255 bytes)");
	snprintf(text, sizeof(text), GROUP "topic = %0130d\n", 0);
	err_is(text, F ":2: 'topic' in [group.sensors] is too long (max 127 bytes)");
}

/* ------------------------------------------------------------------ */

static char *write_temp(const char *text, size_t len)
{
	char *path = strdup("/tmp/coapsim-test-XXXXXX.ini");
	int fd = mkstemps(path, 4);

	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, text, len), (ssize_t)len);
	close(fd);
	return path;
}

Test(scenario_file, load_from_disk)
{
	static const char text[] = "[link]\nloss = ${1%, 2%}\n" GROUP;
	char *path = write_temp(text, strlen(text));
	const char *base = strrchr(path, '/') + 1;
	struct scenario_src *src = NULL;
	struct scenario_cfg c;
	char err[SCN_ERR_LEN], name[64];

	cr_assert_eq(scenario_load(&src, path, NULL, 0, err, sizeof(err)), 0, "%s", err);
	cr_assert_str_eq(scenario_text(src), text);
	cr_assert_eq(scenario_n_points(src), 2);
	cr_assert_eq(scenario_point_cfg(src, 1, &c, err, sizeof(err)), 0);
	snprintf(name, sizeof(name), "%.*s", (int)(strlen(base) - 4), base);
	cr_assert_str_eq(c.name, name);
	cr_assert_str_eq(c.file, path);
	scenario_cfg_free(&c);
	scenario_src_del(src);
	unlink(path);
	free(path);
}

Test(scenario_file, errors_name_the_file)
{
	static const char text[] = "[link]\n\nloss = 5x\n" GROUP;
	static const char nul[] = "[link]\nloss = 5%\n\0\n" GROUP;
	char *path = write_temp(text, strlen(text));
	char *p2 = write_temp(nul, sizeof(nul) - 1);
	struct scenario_src *src = NULL;
	char err[SCN_ERR_LEN], want[SCN_ERR_LEN];

	cr_assert_eq(scenario_load(&src, path, NULL, 0, err, sizeof(err)), SIM_ERR_INVAL);
	snprintf(want, sizeof(want),
		 "%s:3: bad loss '5x' for 'loss' in [link]: expected a probability (5%% "
		 "or 0.05) or gilbert(p=, r=, loss_good=, loss_bad=)",
		 path);
	cr_assert_str_eq(err, want);
	cr_assert_eq(scenario_load(&src, p2, NULL, 0, err, sizeof(err)), SIM_ERR_INVAL);
	snprintf(want, sizeof(want), "%s:3: NUL byte in the file", p2);
	cr_assert_str_eq(err, want);
	unlink(path);
	unlink(p2);
	free(path);
	free(p2);
}

Test(scenario_file, missing)
{
	struct scenario_src *src = (void *)1;
	char err[SCN_ERR_LEN];

	cr_assert_eq(scenario_load(&src, "scenarios/nope.ini", NULL, 0, err, sizeof(err)),
		     SIM_ERR_IO);
	cr_assert_null(src);
	cr_assert_str_eq(err,
			 "scenarios/nope.ini: cannot open: No such file or directory");
	cr_assert_eq(scenario_load(&src, "/tmp", NULL, 0, err, sizeof(err)), SIM_ERR_IO);
	cr_assert_str_eq(err, "/tmp: cannot read: Is a directory");
}

/* ------------------------------------------------------------------ */

/* Several runs parse and compile at once: nothing is shared. */
static void *parse_many(void *arg)
{
	const char *sets[] = {"link.loss=${1%, 2%, 3%}", "link.los=1%"};
	struct scenario_src *src;
	struct scenario_cfg c;
	char err[SCN_ERR_LEN];
	long bad = 0;
	size_t p;
	int k;

	(void)arg;
	for (k = 0; k < 50; k++) {
		if (scenario_load_string(&src, F, "[link]\njitter = ${1ms, 2ms}\n" GROUP,
					 sets, 1, err, sizeof(err))) {
			bad++;
			continue;
		}
		bad += scenario_n_points(src) != 6;
		for (p = 0; p < 6; p++) {
			bad += scenario_point_cfg(src, p, &c, err, sizeof(err)) != 0;
			/* The --set sweep comes after the file's: it varies fastest. */
			bad += fabs(c.up.loss.p - 0.01 * (double)(1 + p % 3)) > 1e-12;
			bad += c.up.jitter.a != (p < 3 ? 1e6 : 2e6);
			scenario_cfg_free(&c);
		}
		scenario_src_del(src);
		bad += scenario_load_string(&src, F, GROUP, sets + 1, 1, err,
					    sizeof(err)) != SIM_ERR_INVAL;
		bad += strcmp(err, "--set link.los=1%: unknown key 'los' in [link] (did "
				   "you mean 'loss'?)") != 0;
	}
	return (void *)bad;
}

Test(scenario_threads, concurrent_loads)
{
	pthread_t t[8];
	void *bad;
	int i;

	for (i = 0; i < 8; i++)
		cr_assert_eq(pthread_create(&t[i], NULL, parse_many, NULL), 0);
	for (i = 0; i < 8; i++) {
		cr_assert_eq(pthread_join(t[i], &bad), 0);
		cr_assert_null(bad, "thread %d saw %ld failures", i, (long)bad);
	}
}

/* backend = ns3 with [ns3]; what ns-3 does not model is refused at its line. */
/* Linux's tcp_syn_retries and tcp_retries2, the defaults, at both ends of
 * their ranges, and from --set. */
Test(scenario_parse, tcp_retries)
{
	struct scenario_cfg c;
	static const char *const sets[] = {"tcp.data_retries=1"};

	cfg_of("[tcp]\nsyn_retries = 10\ndata_retries = 30\n" GROUP, &c);
	cr_assert_eq(c.tcp.syn_retries, 10);
	cr_assert_eq(c.tcp.data_retries, 30);
	scenario_cfg_free(&c);
	cfg_at("[tcp]\nsyn_retries = 1\n" GROUP, sets, 1, 0, &c);
	cr_assert_eq(c.tcp.syn_retries, 1);
	cr_assert_eq(c.tcp.data_retries, 1);
	scenario_cfg_free(&c);
	static const char *const bad[] = {"tcp.syn_retries=0"};
	err_sets(GROUP, bad, 1,
		 "--set tcp.syn_retries=0: 'syn_retries' in [tcp] must be between 1 and "
		 "10 (got '0')");
}

Test(scenario_parse, ns3_section)
{
	struct scenario_src *src;
	struct scenario_cfg c;
	char err[SCN_ERR_LEN];
	const char *ok = "[scenario]\nduration = 1min\nbackend = ns3\n"
			 "[link]\nloss = 1%\n[group.s]\ncount = 2\n[ns3]\ndevice = csma\n";

	cr_assert_eq(scenario_load_string(&src, "n.ini", ok, NULL, 0, err, sizeof(err)), 0,
		     "%s", err);
	cr_assert_eq(scenario_point_cfg(src, 0, &c, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(c.backend, BACKEND_NS3);
	cr_assert_eq(c.ns3.device, NS3_CSMA);
	scenario_cfg_free(&c);
	scenario_src_del(src);

	static const struct {
		const char *text, *where, *what;
	} bad[] = {
	    {"[scenario]\nduration = 1min\nbackend = ns3\n[link]\nrate = 1Mbps\n"
	     "[group.s]\ncount = 2\n[ns3]\ndevice = lrwpan\n",
	     "b.ini:5:", "rate"},
	    {"[scenario]\nduration = 1min\nbackend = ns3\n[link.up]\nrate = 1Mbps\n"
	     "[group.s]\ncount = 2\n[ns3]\ndevice = csma\n",
	     "b.ini:5:", "rate"},
	    {"[scenario]\nduration = 1min\nbackend = ns3\n[link.up]\nlatency = 5ms\n"
	     "[group.s]\ncount = 2\n",
	     "b.ini:5:", "latency"},
	    {"[scenario]\nduration = 1min\nbackend = ns3\n[link]\nduplicate = 1%\n"
	     "[group.s]\ncount = 2\n",
	     "b.ini:5:", "duplicate"},
	    {"[scenario]\nduration = 1min\nbackend = ns3\n[group.s]\ncount = 2\n"
	     "multicast = yes\ntraffic = once\nmethod = GET\nconfirmable = no\n",
	     "b.ini:6:", "multicast"},
	    {"[scenario]\nduration = 1min\n[group.s]\ncount = 2\n[ns3]\ndevice = wifi\n",
	     "b.ini:6:", "device"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int rc = scenario_load_string(&src, "b.ini", bad[i].text, NULL, 0, err,
					      sizeof(err));
		cr_assert_eq(rc, SIM_ERR_INVAL, "case %zu loaded", i);
		cr_assert(strstr(err, bad[i].where) && strstr(err, bad[i].what), "case %zu: %s",
			  i, err);
	}
}
