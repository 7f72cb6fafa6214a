/* Invariants over a few hundred random valid scenarios, built from the key
 * table: groups, protocols, traffic, links with rate limits, bottleneck,
 * loss models, CoAP parameters, block sizes, Observe, multicast, MQTT QoS,
 * DTLS and TLS (security = on).
 * Whatever the scenario, a run must end and its numbers must be possible:
 * delivered <= messages, completed + failed = messages where confirmation
 * applies, ratios in [0, 1], no latency below the round trip, ordered
 * percentiles, energy at least the sleep floor, Little's law on the
 * in-flight series, and the same results for the same seed.
 *
 * The generator reaches on purpose the cases that broke these once: a
 * 1 bps link (copies of one message outliving the server's duplicate
 * memory), NSTART 8 with a message every 10 ms, retransmissions at 10%
 * loss (the in-flight count that never went down). */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../sim/run/world.h"
#include "../sim/scenario/scenario.h"

#define N_SCENARIOS 300

/* splitmix64: the generator's own stream, independent of the simulator's. */
static uint64_t next(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static unsigned pick(uint64_t *s, unsigned n) { return (unsigned)(next(s) % n); }
static double unit(uint64_t *s) { return (double)(next(s) >> 11) / 9007199254740992.0; }
static bool chance(uint64_t *s, double p) { return unit(s) < p; }

#define PUT(...) (len += (size_t)snprintf(buf + len, cap - len, __VA_ARGS__))

struct shape {
	bool coap_only, cocoa, warmup;
	unsigned max_retransmit;
	double latency_ms, bn_latency_ms; /* one way, each */
};

/* One random scenario into buf. */
static void generate(uint64_t *s, unsigned k, char *buf, size_t cap, struct shape *sh)
{
	static const char *const rates[] = {"0", "0", "0", "250kbps", "20kbps", "1kbps",
					    "10bps", "1bps"};
	static const char *const methods[] = {"GET", "POST", "PUT", "DELETE"};
	static const char *const intervals[] = {"10ms", "500ms", "2s", "7s", "30s", "60s"};
	size_t len = 0;
	unsigned dur = 5 + pick(s, 60);

	memset(sh, 0, sizeof(*sh));
	sh->coap_only = true;
	sh->warmup = chance(s, 0.2);
	PUT("[scenario]\nduration = %us\nseed = %u\n", dur, k + 1);
	if (sh->warmup)
		PUT("warmup = %us\n", dur / 4);
	sh->latency_ms = pick(s, 4) ? (double)pick(s, 300) : 0;
	PUT("[link]\nlatency = %gms\n", sh->latency_ms);
	if (chance(s, 0.4))
		PUT("jitter = uniform(0, %ums)\n", 1 + pick(s, 50));
	if (chance(s, 0.2)) {
		unsigned gp = 1 + pick(s, 10), gr = 10 + pick(s, 60);
		PUT("loss = gilbert(p=%u%%, r=%u%%)\n", gp, gr);
	} else {
		PUT("loss = %u%%\n", chance(s, 0.3) ? 0 : pick(s, 45));
	}
	/* One draw per statement: the order of a call's arguments is the
	 * compiler's, and gcc and clang would build different scenarios. */
	const char *rate = rates[pick(s, 8)];
	unsigned queue = 1 + pick(s, 64);
	PUT("rate = %s\nqueue = %u\n", rate, queue);
	if (chance(s, 0.1))
		PUT("duplicate = %u%%\n", 1 + pick(s, 20));
	if (chance(s, 0.2)) {
		sh->bn_latency_ms = (double)pick(s, 50);
		const char *bn_rate = chance(s, 0.5) ? "100kbps" : "5kbps";
		unsigned bn_queue = 1 + pick(s, 100);
		PUT("[bottleneck]\nrate = %s\nqueue = %u\nlatency = %gms\n", bn_rate, bn_queue,
		    sh->bn_latency_ms);
	}
	unsigned n_groups = 1 + pick(s, 3);
	for (unsigned g = 0; g < n_groups; g++) {
		bool mqtt = chance(s, 0.3), multicast = !mqtt && chance(s, 0.08);
		bool observe = !mqtt && !multicast && chance(s, 0.12);
		const char *iv = intervals[pick(s, 6)];
		PUT("[group.g%u]\ncount = %u\nprotocol = %s\n", g, 1 + pick(s, 12),
		    mqtt ? "mqtt" : "coap");
		if (observe)
			PUT("traffic = observe(%s)\n", pick(s, 2) ? "1s" : "5s");
		else if (chance(s, 0.15))
			PUT("traffic = once\n");
		else
			PUT("traffic = %s(%s)\n", chance(s, 0.5) ? "periodic" : "poisson", iv);
		PUT("payload = %u\n", chance(s, 0.2) ? pick(s, 1500) : pick(s, 64));
		if (!multicast && chance(s, 0.15)) /* DTLS or TLS */
			PUT("security = on\n");
		sh->coap_only &= !mqtt;
		if (mqtt) {
			PUT("qos = %u\n", pick(s, 3));
			continue;
		}
		const char *method = methods[pick(s, 4)];
		const char *con = chance(s, 0.75) ? "yes" : "no";
		PUT("method = %s\nconfirmable = %s\n", method, con);
		if (chance(s, 0.2))
			PUT("block_size = %u\n", 16u << pick(s, 7));
		if (multicast)
			PUT("multicast = yes\n");
	}
	sh->max_retransmit = pick(s, 7);
	sh->cocoa = chance(s, 0.2);
	unsigned ack_ms = 300 + pick(s, 3000);
	double arf = 1 + unit(s) * 2;
	unsigned nstart = chance(s, 0.7) ? 1 : 1 + pick(s, 8);
	PUT("[coap]\nack_timeout = %ums\nack_random_factor = %g\nmax_retransmit = %u\n"
	    "nstart = %u\ncongestion = %s\n",
	    ack_ms, arf, sh->max_retransmit, nstart, sh->cocoa ? "cocoa" : "default");
	if (chance(s, 0.2))
		PUT("[server]\nprocessing = uniform(0, %ums)\n", 1 + pick(s, 3000));
	const char *ka = pick(s, 2) ? "60s" : "10s", *clean = pick(s, 2) ? "yes" : "no";
	PUT("[mqtt]\nkeepalive = %s\nclean_session = %s\n", ka, clean);
	unsigned mss = 100 + pick(s, 1360);
	const char *dack = pick(s, 2) ? "0" : "40ms";
	PUT("[tcp]\nmss = %u\ndelayed_ack = %s\n", mss, dack);
	PUT("[energy]\nradio = %s\n[output]\npcap = no\n",
	    pick(s, 2) ? "cc2420" : "nrf52840");
}

static void ordered(const struct lat_summary *l, double floor_ms, const char *text)
{
	if (!l->count)
		return;
	/* Quantiles are bucket midpoints (1/1024 relative): allow that much. */
	cr_assert_geq(l->p50, floor_ms * (1 - 1.0 / 512) - 1e-3, "p50 %g below the round trip %g\n%s",
		      l->p50, floor_ms, text);
	cr_assert(l->p50 <= l->p90 && l->p90 <= l->p99 && l->p99 <= l->p999 &&
			  l->p999 <= l->max * (1 + 1e-9),
		  "percentiles out of order %g %g %g %g %g\n%s", l->p50, l->p90, l->p99,
		  l->p999, l->max, text);
}

static void check_metrics(const struct run_metrics *m, const char *what, const char *text)
{
	cr_assert_leq(m->delivered, m->messages, "%s: delivered %llu > messages %llu\n%s", what,
		      (unsigned long long)m->delivered, (unsigned long long)m->messages, text);
	cr_assert_leq(m->completed, m->messages, "%s: completed > messages\n%s", what, text);
	cr_assert_leq(m->retransmissions, m->transmissions, "%s: retx > tx\n%s", what, text);
	cr_assert_leq(m->notifications_fresh + m->notifications_stale,
		      m->notifications_received, "%s: notifications\n%s", what, text);
	if (m->mc_expected)
		cr_assert_leq(m->mc_responses, m->mc_expected, "%s: mc responses\n%s", what, text);
}

/* Sum of (end - first transmission) over exchanges.csv rows. */
static double exchange_seconds(FILE *f, size_t *rows)
{
	char line[512];
	double sum = 0;
	*rows = 0;
	rewind(f);
	while (fgets(line, sizeof(line), f)) {
		char *field[10];
		size_t n = 0;
		for (char *p = line; n < 10 && p; n++) {
			field[n] = p;
			p = strchr(p, ',');
			if (p)
				*p++ = 0;
		}
		cr_assert_eq(n, 9, "exchanges row with %zu fields", n);
		double first = strtod(field[3], NULL), end = strtod(field[8], NULL);
		cr_assert_geq(end, first - 1e-9);
		sum += end - first;
		(*rows)++;
	}
	return sum;
}

static void run_one(unsigned k)
{
	char text[4096], err[SCN_ERR_LEN];
	struct shape sh;
	uint64_t s = 0x5eed0000ull + k;
	struct scenario_src *src;
	struct scenario_cfg cfg;
	struct run_result res, again;

	generate(&s, k, text, sizeof(text), &sh);
	cr_assert_eq(scenario_load_string(&src, "random.ini", text, NULL, 0, err, sizeof(err)),
		     0, "%s\n%s", err, text);
	cr_assert_eq(scenario_point_cfg(src, 0, &cfg, err, sizeof(err)), 0, "%s", err);
	FILE *ex = tmpfile();
	struct run_opts o = {.exchanges = ex, .run_id = "t"};
	cr_assert_eq(world_run(&cfg, cfg.seed, &o, &res), 0, "run failed\n%s", text);

	const struct run_metrics *t = &res.total;
	check_metrics(t, "total", text);
	cr_assert_leq(t->packets_lost, t->packets_sent, "lost > sent\n%s", text);
	double rtt_ms = 2 * (sh.latency_ms + sh.bn_latency_ms);
	ordered(&t->latency, rtt_ms, text);
	ordered(&t->delivery_latency, rtt_ms / 2, text);
	for (size_t g = 0; g < res.n_groups; g++) {
		const struct run_metrics *m = &res.groups[g];
		check_metrics(m, cfg.groups[g].name, text);
		ordered(&m->latency, rtt_ms, text);
		/* Every confirmable message ends, completed or failed, once
		 * the run has drained (or at the drain bound). */
		if (m->confirmable && !m->multicast && !sh.warmup)
			cr_assert_eq(m->completed + m->failed, m->messages,
				     "%s: completed %llu + failed %llu != messages %llu\n%s",
				     cfg.groups[g].name, (unsigned long long)m->completed,
				     (unsigned long long)m->failed,
				     (unsigned long long)m->messages, text);
	}
	/* Energy: every endpoint draws at least the sleep current for the
	 * whole duration. */
	uint64_t n_ep = 0;
	for (size_t g = 0; g < cfg.n_groups; g++)
		n_ep += cfg.groups[g].count;
	double floor_mj = (double)n_ep * cfg.energy.sleep_ma * cfg.energy.voltage_v *
			  sim_time_to_s(cfg.duration);
	cr_assert_geq(t->energy.total, floor_mj * (1 - 1e-9), "energy below sleep\n%s", text);
	cr_assert_gt(t->energy.lifetime_days, 0, "%s", text);

	/* Little's law: the in-flight count, integrated over the run (kept
	 * exactly by the run; the sampled series aliases with periodic
	 * traffic), equals the time exchanges spent open by exchanges.csv
	 * (end - first transmission), the mean in flight times the run's
	 * length either way. */
	if (sh.coap_only && !sh.warmup) {
		size_t rows;
		double w_s = exchange_seconds(ex, &rows);
		double l_s = res.n_series ? res.series[res.n_series - 1].in_flight_s : 0;
		cr_assert_leq(fabs(l_s - w_s), 1e-6 * w_s + 1e-6,
			      "Little's law: in-flight integrates to %.9g s, exchanges took %.9g s "
			      "(%zu rows)\n%s",
			      l_s, w_s, rows, text);
		if (res.n_series)
			cr_assert_eq(res.series[res.n_series - 1].in_flight, 0,
				     "in flight after the run\n%s", text);
	}
	fclose(ex);

	/* The same seed gives the same results. */
	if (k % 4 == 0) {
		cr_assert_eq(world_run(&cfg, cfg.seed, NULL, &again), 0);
		cr_assert_eq(again.total.messages, t->messages, "%s", text);
		cr_assert_eq(again.total.delivered, t->delivered, "%s", text);
		cr_assert_eq(again.total.completed, t->completed, "%s", text);
		cr_assert_eq(again.total.transmissions, t->transmissions, "%s", text);
		cr_assert_eq(again.total.bytes_sent, t->bytes_sent, "%s", text);
		cr_assert_eq(again.total.events, t->events, "%s", text);
		cr_assert(again.total.energy.total == t->energy.total, "%s", text);
		cr_assert(again.total.latency.max == t->latency.max, "%s", text);
		run_result_free(&again);
	}
	run_result_free(&res);
	scenario_cfg_free(&cfg);
	scenario_src_del(src);
}

/* Split in four so Criterion can run them side by side. */
#define BATCH(n)                                                                   \
	Test(invariants, random_scenarios_##n, .timeout = 120)                     \
	{                                                                          \
		for (unsigned k = (n) * N_SCENARIOS / 4; k < ((n) + 1) * N_SCENARIOS / 4; \
		     k++)                                                          \
			run_one(k);                                                \
	}
BATCH(0)
BATCH(1)
BATCH(2)
BATCH(3)

/* The generator reaches the cases it is meant to: over the scenarios
 * above, some have a 1 bps link, NSTART above 1 with a 10 ms period,
 * MQTT, multicast, Observe, block-wise, CoCoA and DTLS or TLS. */
Test(invariants, generator_covers_the_hard_cases)
{
	int slow = 0, fast_nstart = 0, mqtt = 0, mc = 0, obs = 0, blk = 0, cocoa = 0, sec = 0;
	for (unsigned k = 0; k < N_SCENARIOS; k++) {
		char text[4096];
		struct shape sh;
		uint64_t s = 0x5eed0000ull + k;
		generate(&s, k, text, sizeof(text), &sh);
		slow += strstr(text, "rate = 1bps") != NULL;
		fast_nstart += strstr(text, "(10ms)") && !strstr(text, "nstart = 1\n");
		mqtt += strstr(text, "protocol = mqtt") != NULL;
		mc += strstr(text, "multicast = yes") != NULL;
		obs += strstr(text, "observe(") != NULL;
		blk += strstr(text, "block_size") != NULL;
		cocoa += sh.cocoa;
		sec += strstr(text, "security = on") != NULL;
	}
	cr_assert(slow >= 5 && fast_nstart >= 3 && mqtt >= 20 && mc >= 5 && obs >= 10 &&
			  blk >= 10 && cocoa >= 10 && sec >= 20,
		  "slow %d, nstart+10ms %d, mqtt %d, multicast %d, observe %d, block %d, "
		  "cocoa %d, secured %d",
		  slow, fast_nstart, mqtt, mc, obs, blk, cocoa, sec);
}

/* Time-series memory is bounded by the samples, not by simulated time:
 * one message with ACK_TIMEOUT 1 h, ACK_RANDOM_FACTOR 100 and 10
 * retransmissions, all lost, is retransmitted for up to 1 h x 100 x
 * (2^11 - 1) = 23 years; the run ends, fails the message, and keeps at
 * most RUN_SERIES_MAX samples (one a second would have been 7e8). */
Test(invariants, a_long_drain_keeps_the_series_bounded, .timeout = 60)
{
	const char *text = "[scenario]\nduration = 10s\n[link]\nloss = 100%\n"
			   "[coap]\nack_timeout = 1h\nack_random_factor = 100\nmax_retransmit = 10\n"
			   "[group.s]\ncount = 1\ntraffic = once\nstart = const(1s)\n"
			   "[output]\npcap = no\n";
	struct scenario_src *src;
	struct scenario_cfg cfg;
	struct run_result res;
	char err[SCN_ERR_LEN];
	cr_assert_eq(scenario_load_string(&src, "long.ini", text, NULL, 0, err, sizeof(err)), 0,
		     "%s", err);
	cr_assert_eq(scenario_point_cfg(src, 0, &cfg, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(world_run(&cfg, 1, NULL, &res), 0);
	cr_assert_eq(res.total.messages, 1);
	cr_assert_eq(res.total.failed, 1);
	cr_assert_eq(res.total.transmissions, 11);
	cr_assert_leq(res.n_series, RUN_SERIES_MAX);
	cr_assert_gt(res.series[res.n_series - 1].t_s, 3600.0 * 100 * 1023,
		     "the series reaches the last retransmission");
	run_result_free(&res);
	scenario_cfg_free(&cfg);
	scenario_src_del(src);
}
