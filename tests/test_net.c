/* The channel model against hand computations and closed forms. */
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "../sim/net/net.h"

#define MAXREC 400000
struct rec {
	sim_time t;
	uint32_t ep;
	uint32_t seq; /* first 4 payload bytes */
	bool dup;
};
static struct rec got[MAXREC];
static size_t n_got;

static void on_deliver(void *ud, struct net *n, uint32_t ep, enum net_dir dir,
		       const uint8_t *buf, size_t len, const struct net_meta *meta,
		       bool duplicate)
{
	(void)ud; (void)dir; (void)meta;
	uint32_t seq = 0;
	if (len >= 4)
		memcpy(&seq, buf, 4);
	if (n_got < MAXREC)
		got[n_got++] = (struct rec){sim_engine_now(n->eng), ep, seq, duplicate};
}

static const struct net_cb cb = {.deliver = on_deliver};

struct fix {
	struct sim_engine *e;
	struct net n;
	struct link_cfg up, down;
	struct bottleneck_cfg bn;
};

/* A net of n_ep endpoints; bn, when not NULL, is the bottleneck (whether
 * there is one is read at net_init, the links' settings as packets move). */
static void setup_bn(struct fix *f, uint32_t n_ep, const struct bottleneck_cfg *bn)
{
	memset(f, 0, sizeof(*f));
	f->up = (struct link_cfg){.queue = 64, .mtu = 1280};
	f->down = f->up;
	if (bn)
		f->bn = *bn;
	n_got = 0;
	cr_assert_not_null(f->e = sim_engine_new(16, NULL));
	cr_assert_eq(net_init(&f->n, f->e, n_ep, &f->up, &f->down, &f->bn, 7, NULL, &cb, NULL), 0);
}

static void setup(struct fix *f, uint32_t n_ep)
{
	setup_bn(f, n_ep, NULL);
}

static void teardown_fix(struct fix *f)
{
	net_free(&f->n);
	sim_engine_delete(f->e);
}

static uint8_t payload[4000];

Test(net, fragments_by_rfc8200)
{
	/* MTU 1280: 1280 - 40 (IPv6) - 8 (Fragment header) = 1232, a multiple
	 * of 8, carried per fragment.  3000 bytes + 8 UDP = 3008 -> 3
	 * fragments; bytes = 3008 + 3 x 48 headers = 3152. */
	cr_assert_eq(net_frag_count(3000, 1280), 3);
	cr_assert_eq(net_ip_bytes(3000, 1280), 3152);
	/* 1232 bytes of UDP payload fit exactly: 40 + 8 + 1232 = 1280 */
	cr_assert_eq(net_frag_count(1232, 1280), 1);
	cr_assert_eq(net_ip_bytes(1232, 1280), 1280);
	cr_assert_eq(net_frag_count(1233, 1280), 2);
}

Test(net, latency_and_serialisation)
{
	struct fix f;
	setup(&f, 1);
	f.up.latency = SIM_MS(10);
	f.up.rate_bps = 250000;
	/* 100-byte payload: 148 IP bytes = 1184 bits = 4.736 ms at 250 kbps */
	net_send(&f.n, 0, NET_UP, payload, 100, NULL);
	net_send(&f.n, 0, NET_UP, payload, 100, NULL);
	sim_engine_run(f.e, SIM_TIME_NEVER);
	cr_assert_eq(n_got, 2);
	cr_assert_eq(got[0].t, SIM_US(4736) + SIM_MS(10));
	cr_assert_eq(got[1].t, 2 * SIM_US(4736) + SIM_MS(10));
	cr_assert_eq(f.n.st.bytes_sent, 2 * 148);
	teardown_fix(&f);
}

Test(net, drop_tail)
{
	struct fix f;
	setup(&f, 1);
	f.up.rate_bps = 1000;
	f.up.queue = 2;
	for (int i = 0; i < 3; i++)
		net_send(&f.n, 0, NET_UP, payload, 100, NULL);
	sim_engine_run(f.e, SIM_TIME_NEVER);
	cr_assert_eq(n_got, 2);
	cr_assert_eq(f.n.st.queue_drops, 1);
	cr_assert_eq(f.n.st.packets_lost, 1);
	cr_assert_eq(f.n.st.packets_sent, 3);
	teardown_fix(&f);
}

Test(net, shared_bottleneck_serialises_everyone)
{
	struct fix f;
	setup_bn(&f, 2, &(struct bottleneck_cfg){.present = true, .rate_bps = 100000, .queue = 10});
	/* 148 IP bytes = 1184 bits = 11.84 ms at 100 kbps, one after the other */
	net_send(&f.n, 0, NET_UP, payload, 100, NULL);
	net_send(&f.n, 1, NET_UP, payload, 100, NULL);
	sim_engine_run(f.e, SIM_TIME_NEVER);
	cr_assert_eq(n_got, 2);
	cr_assert_eq(got[0].t, SIM_US(11840));
	cr_assert_eq(got[1].t, SIM_US(23680));
	cr_assert_eq(got[0].ep, 0);
	cr_assert_eq(got[1].ep, 1);
	teardown_fix(&f);
}

static double loss_fraction(struct fix *f, size_t n, size_t len)
{
	for (size_t i = 0; i < n; i++) {
		net_send(&f->n, 0, NET_UP, payload, len, NULL);
		sim_engine_run(f->e, SIM_TIME_NEVER);
	}
	return (double)f->n.st.packets_lost / (double)n;
}

Test(net, bernoulli_loss_per_fragment)
{
	struct fix f;
	setup(&f, 1);
	f.up.loss = (struct loss_cfg){.kind = LOSS_BERNOULLI, .p = 0.1};
	/* 3 fragments, each lost with 0.1: 1 - 0.9^3 = 0.271 */
	double n = 100000, p = 1 - pow(0.9, 3);
	double got_p = loss_fraction(&f, (size_t)n, 3000);
	cr_assert_leq(fabs(got_p - p), 4 * sqrt(p * (1 - p) / n), "%f vs %f", got_p, p);
	teardown_fix(&f);
}

Test(net, gilbert_elliott_rate_and_bursts)
{
	struct fix f;
	setup(&f, 1);
	/* p = 5%, r = 25%: stationary P(bad) = p / (p + r) = 1/6; with
	 * loss_bad = 1 and loss_good = 0 that is the loss rate, and losses come
	 * in bursts of mean length 1/r = 4.  Consecutive packets are correlated
	 * (lag-1 correlation 1 - p - r = 0.7), which inflates the variance of
	 * the mean by (1 + 0.7) / (1 - 0.7). */
	f.up.loss = (struct loss_cfg){.kind = LOSS_GILBERT, .ge_p = 0.05, .ge_r = 0.25,
				      .loss_good = 0, .loss_bad = 1};
	size_t n = 200000;
	uint64_t bursts = 0, prev_lost = 0, in_burst = 0;
	for (size_t i = 0; i < n; i++) {
		net_send(&f.n, 0, NET_UP, payload, 10, NULL);
		sim_engine_run(f.e, SIM_TIME_NEVER);
		uint64_t lost = f.n.st.packets_lost - prev_lost;
		prev_lost = f.n.st.packets_lost;
		if (lost && !in_burst)
			bursts++;
		in_burst = lost;
	}
	double pi = 1.0 / 6, rate = (double)f.n.st.packets_lost / (double)n;
	double se = sqrt(pi * (1 - pi) / (double)n * 1.7 / 0.3);
	cr_assert_leq(fabs(rate - pi), 4 * se, "loss %f vs %f", rate, pi);
	double mean_burst = (double)f.n.st.packets_lost / (double)bursts;
	cr_assert_float_eq(mean_burst, 4.0, 0.15, "mean burst %f", mean_burst);
	teardown_fix(&f);
}

Test(net, duplication_and_jitter_reordering)
{
	struct fix f;
	setup(&f, 1);
	f.down.duplicate = 0.3;
	f.down.latency = SIM_MS(50);
	f.down.jitter = (struct dist){.kind = SIM_DIST_UNIFORM, .a = 0, .b = 20e6};
	size_t n = 20000;
	/* one packet every ms: 20 ms of jitter lets later ones overtake */
	for (size_t i = 0; i < n; i++) {
		uint8_t p[20] = {0};
		uint32_t seq = (uint32_t)i;
		memcpy(p, &seq, 4);
		sim_engine_run(f.e, SIM_MS(i));
		sim_engine_set_now(f.e, SIM_MS(i));
		net_send(&f.n, 0, NET_DOWN, p, sizeof(p), NULL);
	}
	sim_engine_run(f.e, SIM_TIME_NEVER);
	size_t dups = 0, reordered = 0;
	uint32_t highest = 0;
	for (size_t i = 0; i < n_got; i++) {
		dups += got[i].dup;
		if (!got[i].dup && got[i].seq < highest)
			reordered++; /* overtaken by a later packet */
		if (got[i].seq > highest)
			highest = got[i].seq;
	}
	cr_assert_eq(n_got - dups, n, "every packet arrives exactly once (no loss)");
	cr_assert_eq(dups, f.n.st.duplicates);
	double pd = (double)dups / (double)n;
	cr_assert_leq(fabs(pd - 0.3), 4 * sqrt(0.3 * 0.7 / (double)n), "dup %f", pd);
	/* Jitter of up to 20 ms against a 1 ms spacing reorders many. */
	cr_assert_gt(reordered, n / 10, "reordered %zu", reordered);
	cr_assert_geq(got[0].t, SIM_MS(50));
	teardown_fix(&f);
}

Test(net, same_seed_same_channel)
{
	sim_time a[200], b[200];
	for (int run = 0; run < 2; run++) {
		struct fix f;
		setup(&f, 3);
		f.up.loss = (struct loss_cfg){.kind = LOSS_BERNOULLI, .p = 0.3};
		f.up.jitter = (struct dist){.kind = SIM_DIST_EXP, .a = 5e6};
		for (int i = 0; i < 200; i++)
			net_send(&f.n, (uint32_t)(i % 3), NET_UP, payload, 50, NULL);
		sim_engine_run(f.e, SIM_TIME_NEVER);
		for (size_t i = 0; i < 200; i++)
			(run ? b : a)[i] = i < n_got ? got[i].t : 0;
		teardown_fix(&f);
	}
	cr_assert_arr_eq(a, b, sizeof(a));
}
