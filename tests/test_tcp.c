/* The TCP model: two ends back to back over a delay line that can drop
 * chosen segments; time driven by hand. */
#include <criterion/criterion.h>
#include <string.h>

#include "../sim/tcp/tcp.h"

#define MAXQ 4096
struct wire {
	sim_time at;
	uint64_t order; /* FIFO among segments due at the same time */
	int to; /* 0 = client, 1 = server */
	size_t len;
	uint8_t seg[1600];
};

struct net2 {
	struct tcp_conn c[2];
	uint8_t buf[2][65536];
	struct tcp_params p;
	struct tcp_env env;
	struct wire q[MAXQ];
	size_t nq;
	sim_time now, delay;
	int sent;            /* segments put on the wire so far */
	int drop[64];        /* wire indices (1-based order of sending) to drop */
	int n_drop;
	bool drop_all_from_client_data;
	uint8_t rx[65536];
	size_t rx_len;
	bool echo; /* the server answers each arrival with 4 bytes at once */
	int events[4];
	struct tcp_seg_info info[MAXQ];
	sim_time sent_at[MAXQ]; /* when each segment was put on the wire */
	int from[MAXQ];         /* 0: the client's, 1: the server's */
	uint8_t first_seg[3][64]; /* handshake bytes */
	size_t first_len[3];
};

static void w_send(void *ud, struct tcp_conn *c, const uint8_t *seg, size_t len,
		   const struct tcp_seg_info *info)
{
	struct net2 *n = ud;
	int from = c == &n->c[0] ? 0 : 1;
	int idx = ++n->sent;
	if (idx <= 3) {
		memcpy(n->first_seg[idx - 1], seg, len < 64 ? len : 64);
		n->first_len[idx - 1] = len;
	}
	if (idx < MAXQ) {
		n->info[idx] = *info;
		n->sent_at[idx] = n->now;
		n->from[idx] = from;
	}
	for (int i = 0; i < n->n_drop; i++)
		if (n->drop[i] == idx)
			return;
	if (n->drop_all_from_client_data && from == 0 && info->data_len)
		return;
	cr_assert_lt(n->nq, MAXQ);
	cr_assert_leq(len, sizeof(n->q[0].seg));
	struct wire *w = &n->q[n->nq++];
	w->at = n->now + n->delay;
	w->order = (uint64_t)idx;
	w->to = 1 - from;
	w->len = len;
	memcpy(w->seg, seg, len);
}

static void w_data(void *ud, struct tcp_conn *c, const uint8_t *buf, size_t len)
{
	struct net2 *n = ud;
	if (c == &n->c[1]) {
		memcpy(n->rx + n->rx_len, buf, len);
		n->rx_len += len;
		if (n->echo)
			tcp_conn_send(c, &n->env, n->now, (const uint8_t *)"pong", 4);
	}
}

static void w_event(void *ud, struct tcp_conn *c, enum tcp_event ev, sim_time now)
{
	struct net2 *n = ud;
	(void)c;
	(void)now;
	n->events[ev]++;
}

static const struct tcp_cb cbs = {w_send, w_data, w_event};

static void setup(struct net2 *n, sim_time delay, sim_time delayed_ack)
{
	struct sim_rng r;
	memset(n, 0, sizeof(*n));
	n->p = (struct tcp_params){.rto_initial = SIM_S(1), .rto_min = SIM_MS(200),
				   .rto_max = SIM_S(60), .mss = 536, .delayed_ack = delayed_ack,
				   .syn_retries = 6, .data_retries = 8, .rcv_wnd = 65535};
	n->env = (struct tcp_env){&n->p, &cbs, n};
	n->delay = delay;
	sim_rng_init(&r, 1, 1, RNG_APP);
	tcp_conn_init(&n->c[0], &n->p, 40000, 1883, n->buf[0], sizeof(n->buf[0]), &r);
	tcp_conn_init(&n->c[1], &n->p, 1883, 0, n->buf[1], sizeof(n->buf[1]), &r);
	tcp_conn_listen(&n->c[1]);
}

/* Run until nothing is pending or `until`. */
static void run(struct net2 *n, sim_time until)
{
	for (;;) {
		sim_time t = SIM_TIME_NEVER;
		int kind = -1;
		size_t qi = 0;
		for (size_t i = 0; i < n->nq; i++)
			if (n->q[i].at < t || (kind == 2 && n->q[i].at == t &&
					       n->q[i].order < n->q[qi].order)) {
				t = n->q[i].at;
				kind = 2;
				qi = i;
			}
		for (int k = 0; k < 2; k++)
			if (tcp_conn_expiry(&n->c[k]) < t) {
				t = tcp_conn_expiry(&n->c[k]);
				kind = k;
			}
		if (kind < 0 || t > until)
			return;
		n->now = t;
		if (kind == 2) {
			struct wire w = n->q[qi];
			n->q[qi] = n->q[--n->nq];
			tcp_conn_recv(&n->c[w.to], &n->env, t, w.seg, w.len);
		} else {
			tcp_conn_expire(&n->c[kind], &n->env, t);
		}
	}
}

Test(tcp, handshake_bytes)
{
	struct net2 n;
	setup(&n, SIM_MS(50), 0);
	tcp_conn_connect(&n.c[0], &n.env, 0);
	run(&n, SIM_S(10));
	cr_assert_eq(n.c[0].state, TCP_ESTABLISHED);
	cr_assert_eq(n.c[1].state, TCP_ESTABLISHED);
	cr_assert_eq(n.events[TCP_EV_ESTABLISHED], 2);
	/* SYN: 24 bytes, data offset 6, flags SYN, MSS option 2,4,536 */
	const uint8_t *syn = n.first_seg[0];
	cr_assert_eq(n.first_len[0], 24);
	cr_assert_eq(syn[0] << 8 | syn[1], 40000);
	cr_assert_eq(syn[2] << 8 | syn[3], 1883);
	cr_assert_eq(syn[12], 6 << 4);
	cr_assert_eq(syn[13], TCP_SYN);
	const uint8_t mss[4] = {2, 4, 536 >> 8, 536 & 0xff};
	cr_assert_arr_eq(syn + 20, mss, 4);
	/* SYN-ACK acknowledges ISS + 1; the ACK acknowledges the server's */
	const uint8_t *sa = n.first_seg[1], *a = n.first_seg[2];
	cr_assert_eq(sa[13], TCP_SYN | TCP_ACK);
	uint32_t iss_c = (uint32_t)syn[4] << 24 | syn[5] << 16 | syn[6] << 8 | syn[7];
	uint32_t ack_sa = (uint32_t)sa[8] << 24 | sa[9] << 16 | sa[10] << 8 | sa[11];
	cr_assert_eq(ack_sa, iss_c + 1);
	cr_assert_eq(a[13], TCP_ACK);
	cr_assert_eq(n.first_len[2], 20);
	/* RTT of the handshake 100 ms: SRTT 100, RTTVAR 50, RTO = 100 + 4 x 50 */
	cr_assert_eq(n.c[0].rto, SIM_MS(300));
}

Test(tcp, bulk_transfer_segments_and_acks)
{
	struct net2 n;
	static uint8_t data[10000];
	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)(i * 7);
	setup(&n, SIM_MS(10), 0);
	tcp_conn_connect(&n.c[0], &n.env, 0);
	run(&n, SIM_S(1));
	int before = n.sent;
	cr_assert_eq(tcp_conn_send(&n.c[0], &n.env, n.now, data, sizeof(data)), 10000);
	run(&n, SIM_S(30));
	cr_assert_eq(n.rx_len, 10000);
	cr_assert_arr_eq(n.rx, data, 10000);
	/* ceil(10000 / 536) = 19 data segments, none retransmitted, and with no
	 * delayed ACK one pure ACK each */
	cr_assert_eq(n.c[0].st.data_segments, 19, "data segs %llu retx %llu rx %zu", (unsigned long long)n.c[0].st.data_segments, (unsigned long long)n.c[0].st.retx_segments, n.rx_len);
	cr_assert_eq(n.c[0].st.retx_segments, 0);
	cr_assert_eq(n.sent - before, 19 + 19);
	cr_assert_eq(tcp_conn_unacked(&n.c[0]), 0);
	/* bytes on the wire by the client: 19 headers + the data */
	cr_assert_eq(n.c[0].st.bytes, 24 + 20 + 19 * 20 + 10000);
}

Test(tcp, delayed_ack_halves_the_acks)
{
	struct net2 n;
	static uint8_t data[536 * 8];
	setup(&n, SIM_MS(10), SIM_MS(200));
	tcp_conn_connect(&n.c[0], &n.env, 0);
	run(&n, SIM_S(1));
	uint64_t acks0 = n.c[1].st.pure_acks;
	tcp_conn_send(&n.c[0], &n.env, n.now, data, sizeof(data));
	run(&n, SIM_S(30));
	/* 8 full segments: an ACK for every second one (RFC 1122) */
	cr_assert_eq(n.c[1].st.pure_acks - acks0, 4, "acks %llu", (unsigned long long)(n.c[1].st.pure_acks - acks0));
	cr_assert_eq(n.rx_len, sizeof(data));
}

Test(tcp, rto_backoff_and_failure)
{
	struct net2 n;
	static uint8_t data[100];
	setup(&n, SIM_MS(10), 0);
	tcp_conn_connect(&n.c[0], &n.env, 0);
	run(&n, SIM_S(1));
	/* after the handshake (RTT 20 ms) RTO = max(200 ms, 20 + 4 x 10) */
	cr_assert_eq(n.c[0].rto, SIM_MS(200));
	n.drop_all_from_client_data = true;
	sim_time t0 = n.now;
	tcp_conn_send(&n.c[0], &n.env, t0, data, sizeof(data));
	/* first timeout at t0 + 200 ms; then 400, 800, ... (RFC 6298 §5.5) */
	sim_time expect = t0 + SIM_MS(200), rto = SIM_MS(200);
	for (int k = 0; k < 8; k++) {
		cr_assert_eq(tcp_conn_expiry(&n.c[0]), expect, "timeout %d", k);
		run(&n, expect);
		rto *= 2;
		expect += rto;
	}
	cr_assert_eq(n.c[0].st.retx_segments, 8);
	cr_assert_eq(n.events[TCP_EV_FAILED], 0);
	run(&n, SIM_TIME_NEVER - 1);
	cr_assert_eq(n.events[TCP_EV_FAILED], 1, "gives up after data_retries = 8");
	cr_assert_eq(n.c[0].state, TCP_CLOSED);
}

Test(tcp, karn_no_sample_from_a_retransmission)
{
	struct net2 n;
	static uint8_t data[100];
	setup(&n, SIM_MS(10), 0);
	tcp_conn_connect(&n.c[0], &n.env, 0);
	run(&n, SIM_S(1));
	sim_time srtt = n.c[0].srtt;
	n.drop[n.n_drop++] = n.sent + 1; /* the first data segment */
	tcp_conn_send(&n.c[0], &n.env, n.now, data, sizeof(data));
	run(&n, SIM_S(30));
	cr_assert_eq(n.rx_len, 100);
	cr_assert_eq(n.c[0].st.retx_segments, 1);
	/* the ACK of the retransmission gave no RTT sample */
	cr_assert_eq(n.c[0].srtt, srtt);
	/* and the backed-off RTO stays until a fresh sample */
	cr_assert_eq(n.c[0].rto, SIM_MS(400));
}

Test(tcp, fast_retransmit_on_three_dupacks)
{
	struct net2 n;
	static uint8_t data[536 * 6];
	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)i;
	setup(&n, SIM_MS(50), 0);
	n.p.rto_min = SIM_S(1); /* keep the timer out of the way */
	tcp_conn_connect(&n.c[0], &n.env, 0);
	run(&n, SIM_S(1));
	/* RFC 3390: IW = min(4 x 536, max(2 x 536, 4380)) = 2144; slow start
	 * adds one MSS per acknowledged segment: 4 of them -> 4288 */
	cr_assert_eq(n.c[0].cwnd, 2144);
	tcp_conn_send(&n.c[0], &n.env, n.now, data, 536 * 4);
	run(&n, SIM_S(5));
	cr_assert_eq(n.c[0].cwnd, 4288, "cwnd %u", n.c[0].cwnd);
	/* six segments at once; the second is lost */
	n.drop[n.n_drop++] = n.sent + 2;
	sim_time t0 = n.now;
	tcp_conn_send(&n.c[0], &n.env, t0, data, sizeof(data));
	run(&n, t0 + SIM_MS(150));
	/* segments 3..6 each draw a duplicate ACK: the third triggers the
	 * retransmission one RTT after sending, long before the RTO */
	cr_assert_eq(n.c[0].st.retx_segments, 1);
	run(&n, SIM_S(30));
	cr_assert_eq(n.rx_len, 536 * 4 + sizeof(data));
	cr_assert_arr_eq(n.rx + 536 * 4, data, sizeof(data));
	/* RFC 6582: ssthresh = FlightSize / 2 when the third duplicate ACK
	 * arrives; segment 1 was acknowledged by then, so 5 x 536 / 2 = 1340 */
	cr_assert_eq(n.c[0].ssthresh, 5 * 536 / 2);
}

/* RFC 5681 §3.2: the third duplicate ACK, not the second or the fourth,
 * triggers the fast retransmit.  k segments sent at once with the second
 * lost draw k - 2 duplicate ACKs, one RTT (100 ms) later: 4 segments draw
 * 2 (nothing is resent before the 1 s RTO), 5 draw 3 (resent at once). */
static int retx_within_an_rtt(int k)
{
	struct net2 n;
	static uint8_t data[536 * 8];
	setup(&n, SIM_MS(50), 0);
	n.p.rto_min = SIM_S(1); /* keep the timer out of the way */
	tcp_conn_connect(&n.c[0], &n.env, 0);
	run(&n, SIM_S(1));
	tcp_conn_send(&n.c[0], &n.env, n.now, data, 536 * 4);
	run(&n, SIM_S(5)); /* cwnd 4288: 8 segments fit at once */
	n.drop[n.n_drop++] = n.sent + 2;
	sim_time t0 = n.now;
	tcp_conn_send(&n.c[0], &n.env, t0, data, 536 * (size_t)k);
	run(&n, t0 + SIM_MS(150));
	int retx = (int)n.c[0].st.retx_segments;
	run(&n, SIM_S(30));
	cr_assert_eq(n.rx_len, 536 * 4 + 536 * (size_t)k, "everything arrives in the end");
	return retx;
}

Test(tcp, fast_retransmit_threshold_is_three_duplicate_acks)
{
	cr_assert_eq(retx_within_an_rtt(4), 0, "two duplicate ACKs resent something");
	cr_assert_eq(retx_within_an_rtt(5), 1, "three duplicate ACKs did not resend");
}

Test(tcp, fin_closes_both_sides)
{
	struct net2 n;
	static uint8_t data[10];
	setup(&n, SIM_MS(10), 0);
	tcp_conn_connect(&n.c[0], &n.env, 0);
	run(&n, SIM_S(1));
	tcp_conn_send(&n.c[0], &n.env, n.now, data, sizeof(data));
	tcp_conn_close(&n.c[0], &n.env, n.now);
	run(&n, SIM_S(10));
	cr_assert_eq(n.rx_len, 10);
	cr_assert_eq(n.c[0].state, TCP_CLOSED, "states %d %d", n.c[0].state, n.c[1].state);
	cr_assert_eq(n.c[1].state, TCP_CLOSED);
	cr_assert_eq(n.events[TCP_EV_CLOSED], 2);
}

Test(tcp, rst_and_garbage)
{
	struct net2 n;
	setup(&n, SIM_MS(10), 0);
	tcp_conn_connect(&n.c[0], &n.env, 0);
	run(&n, SIM_S(1));
	struct sim_rng r;
	sim_rng_init(&r, 5, 5, RNG_APP);
	uint8_t junk[80];
	for (int i = 0; i < 20000; i++) {
		size_t len = sim_rng_u64(&r) % sizeof(junk);
		for (size_t k = 0; k < len; k++)
			junk[k] = (uint8_t)sim_rng_u64(&r);
		tcp_conn_recv(&n.c[1], &n.env, n.now, junk, len);
	}
	cr_assert_eq(n.c[1].state, TCP_ESTABLISHED, "random bytes on the wrong ports");
	tcp_conn_abort(&n.c[0], &n.env, n.now);
	run(&n, SIM_S(2));
	cr_assert_eq(n.c[1].state, TCP_CLOSED);
	cr_assert_eq(n.events[TCP_EV_RESET], 1);
}

/* ---- the linux profile: each of Linux's constants pinned ---- */

static void setup_linux(struct net2 *n, sim_time delay, bool nodelay)
{
	setup(n, delay, 0);
	n->p.profile = TCP_PROFILE_LINUX;
	struct sim_rng r;
	sim_rng_init(&r, 1, 1, RNG_APP);
	tcp_conn_init(&n->c[0], &n->p, 40000, 1883, n->buf[0], sizeof(n->buf[0]), &r);
	tcp_conn_init(&n->c[1], &n->p, 1883, 0, n->buf[1], sizeof(n->buf[1]), &r);
	tcp_conn_set_nodelay(&n->c[0], nodelay);
	tcp_conn_listen(&n->c[1]);
	tcp_conn_connect(&n->c[0], &n->env, 0);
	run(n, SIM_S(1));
}

static int data_segments_from(const struct net2 *n, int from, int after)
{
	int k = 0;
	for (int i = after + 1; i <= n->sent && i < MAXQ; i++)
		k += n->from[i] == from && n->info[i].data_len > 0;
	return k;
}

/* RFC 6928 / Linux's TCP_INIT_CWND: the first flight is 10 segments, not 9
 * or 11 (the rfc6298 profile's RFC 3390 window: 4 of 536 bytes). */
Test(tcp, linux_initial_window_is_ten_segments)
{
	static uint8_t data[536 * 12];
	struct net2 n;
	setup_linux(&n, SIM_MS(50), true);
	int before = n.sent;
	tcp_conn_send(&n.c[0], &n.env, n.now, data, sizeof(data));
	cr_assert_eq(data_segments_from(&n, 0, before), 10);
	setup(&n, SIM_MS(50), 0);
	tcp_conn_connect(&n.c[0], &n.env, 0);
	run(&n, SIM_S(1));
	before = n.sent;
	tcp_conn_send(&n.c[0], &n.env, n.now, data, sizeof(data));
	cr_assert_eq(data_segments_from(&n, 0, before), 4);
}

/* Linux's RTO (tcp_set_rto): SRTT + max(4 RTTVAR, 200 ms).  A 20 ms round
 * trip: after the handshake's sample SRTT = 20 ms, RTTVAR = 10 ms, so the
 * RTO is 20 + max(40, 200) = 220 ms (RFC 6298 with a 200 ms floor on the
 * whole timeout would say 200; with its 1 s floor, 1 s).  A 200 ms round
 * trip: 200 + max(400, 200) = 600 ms.  A lost segment is resent one RTO
 * after it was sent, on Linux's timer wheel (HZ=250, a jiffy is 4 ms):
 * sent at 2 s (jiffy 500), 220 ms is 55 jiffies, under 63, so the timer
 * fires the jiffy after its expiry, 556: 224 ms; 600 ms is 150 jiffies,
 * 8-jiffy granularity, so at the first multiple of 8 after 650: 656,
 * 624 ms. */
static sim_time linux_rto_after(sim_time one_way)
{
	static uint8_t data[100];
	struct net2 n;
	setup_linux(&n, one_way, true);
	n.drop[n.n_drop++] = n.sent + 1;
	sim_time t0 = n.now = SIM_S(2);
	tcp_conn_send(&n.c[0], &n.env, t0, data, sizeof(data));
	run(&n, t0 + SIM_S(5));
	for (int i = 1; i <= n.sent; i++)
		if (n.from[i] == 0 && n.info[i].retx && n.info[i].data_len)
			return n.sent_at[i] - t0;
	return SIM_TIME_NEVER;
}

Test(tcp, linux_rto_floors_the_variance_term_at_200ms)
{
	cr_assert_eq(linux_rto_after(SIM_MS(10)), SIM_MS(224));
	cr_assert_eq(linux_rto_after(SIM_MS(100)), SIM_MS(624));
}

/* Nagle's algorithm (RFC 896, Minshall's variant as Linux runs it): a
 * small write goes out at once; the next small writes wait while it is
 * unacknowledged and leave together, one segment, when its ACK comes back
 * a round trip (100 ms) later.  With TCP_NODELAY each leaves at once. */
Test(tcp, linux_nagle_holds_small_segments_behind_an_unacknowledged_one)
{
	const uint8_t msg[10] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
	for (int nodelay = 0; nodelay < 2; nodelay++) {
		struct net2 n;
		setup_linux(&n, SIM_MS(50), nodelay);
		int before = n.sent;
		sim_time t0 = n.now;
		for (int k = 0; k < 3; k++) {
			n.now = t0 + SIM_MS(k);
			tcp_conn_send(&n.c[0], &n.env, n.now, msg, sizeof(msg));
		}
		cr_assert_eq(data_segments_from(&n, 0, before), nodelay ? 3 : 1);
		run(&n, t0 + SIM_S(2));
		cr_assert_eq(data_segments_from(&n, 0, before), nodelay ? 3 : 2);
		if (!nodelay) {
			int second = 0;
			for (int i = before + 1; i <= n.sent; i++)
				if (n.from[i] == 0 && n.info[i].data_len && !second++)
					continue;
				else if (n.from[i] == 0 && n.info[i].data_len) {
					cr_assert_eq(n.info[i].data_len, 20, "the held writes leave together");
					cr_assert_eq(n.sent_at[i], t0 + SIM_MS(100), "when the ACK came");
				}
		}
		cr_assert_eq(n.rx_len, 30);
	}
}

/* Linux's receiver (6.x, tcp_pingpong_thresh 1).  An application that
 * reads a small pushed segment and does not answer gets it acknowledged
 * at once (tcp_cleanup_rbuf), after the 16 quick ACKs too: one 10-byte
 * segment every 200 ms, 50 ms each way, each ACK leaves as it arrives. */
Test(tcp, linux_acks_small_segments_at_once_outside_pingpong)
{
	const uint8_t msg[10] = {0};
	struct net2 n;
	setup_linux(&n, SIM_MS(50), true);
	for (int k = 0; k < 20; k++) {
		int before = n.sent;
		sim_time t = n.now = SIM_S(2) + (sim_time)k * SIM_MS(200);
		tcp_conn_send(&n.c[0], &n.env, t, msg, sizeof(msg));
		run(&n, t + SIM_MS(199));
		sim_time ack_at = SIM_TIME_NEVER;
		for (int i = before + 1; i <= n.sent; i++)
			if (n.from[i] == 1 && n.info[i].flags == TCP_ACK && ack_at == SIM_TIME_NEVER)
				ack_at = n.sent_at[i];
		cr_assert_eq(ack_at, t + SIM_MS(50), "segment %d", k + 1);
	}
}

/* An end that answers within the delayed-ACK timeout is interactive
 * ("pingpong"): its answers carry the ACKs, no pure ACK goes first (but
 * for the very first segment, quick-ACKed before the application read
 * it).  When it then does not answer, the ACK waits the 40 ms timeout,
 * whose firing ends pingpong: the next unanswered segment is ACKed at
 * once again.  (The timeout is 10 jiffies of 4 ms on the timer wheel:
 * the sixth segment arrives at 3.050 s, in jiffy 762, so the ACK leaves
 * the jiffy after 772, at 3.092 s: 42 ms.) */
Test(tcp, linux_pingpong_lets_answers_carry_the_acks)
{
	const uint8_t msg[10] = {0};
	struct net2 n;
	setup_linux(&n, SIM_MS(50), true);
	for (int k = 0; k < 7; k++) {
		n.echo = k < 5;
		int before = n.sent;
		sim_time t = n.now = SIM_S(2) + (sim_time)k * SIM_MS(200);
		tcp_conn_send(&n.c[0], &n.env, t, msg, sizeof(msg));
		run(&n, t + SIM_MS(199));
		int pure = 0, answers = 0;
		sim_time ack_at = SIM_TIME_NEVER;
		for (int i = before + 1; i <= n.sent; i++) {
			if (n.from[i] != 1)
				continue;
			answers += n.info[i].data_len > 0;
			if (n.info[i].flags == TCP_ACK && !pure++)
				ack_at = n.sent_at[i];
		}
		cr_assert_eq(answers, k < 5, "segment %d", k + 1);
		if (k == 0)
			cr_assert_eq(ack_at, t + SIM_MS(50), "the first: a quick ACK");
		else if (k < 5)
			cr_assert_eq(pure, 0, "segment %d: the answer carries the ACK", k + 1);
		else
			cr_assert_eq(ack_at, t + SIM_MS(50) + (k == 5 ? SIM_MS(42) : 0), "segment %d",
				     k + 1);
	}
}

/* The client's segments put on the wire at `at` after segment `after`:
 * each must carry 10 bytes and an ACK.  Returns how many. */
static int client_held_bytes_sent_at(const struct net2 *n, int after, sim_time at)
{
	int k = 0;
	for (int i = after + 1; i <= n->sent; i++) {
		if (n->from[i] != 0 || n->sent_at[i] != at)
			continue;
		k++;
		cr_assert_eq(n->info[i].data_len, 10, "segment %d: the held bytes", k);
		cr_assert(n->info[i].flags & TCP_ACK);
	}
	return k;
}

/* What an arriving segment's ACK lets go leaves before the ACK of the
 * data it brought (tcp_rcv_established runs tcp_data_snd_check, then
 * __tcp_ack_snd_check; tcp_cleanup_rbuf only when the application reads)
 * and carries that ACK: no pure ACK goes first.  Five echoed rounds put
 * the server in pingpong, so its answer carries its ACK; then the client
 * writes 10 bytes at t and 10 more at t + 1 ms, which Nagle holds.  The
 * answer to the first arrives at t + 100 ms and acknowledges it: the
 * client sends one segment then, the held 10 bytes (outside pingpong a
 * pure ACK of the answer would otherwise go first). */
Test(tcp, linux_data_the_ack_releases_carries_the_ack)
{
	const uint8_t msg[10] = {0};
	struct net2 n;
	setup_linux(&n, SIM_MS(50), false);
	n.echo = true;
	sim_time t = 0;
	for (int k = 0; k < 6; k++) {
		t = n.now = SIM_S(2) + (sim_time)k * SIM_MS(200);
		tcp_conn_send(&n.c[0], &n.env, t, msg, sizeof(msg));
		if (k == 5) {
			n.now = t + SIM_MS(1);
			tcp_conn_send(&n.c[0], &n.env, n.now, msg, sizeof(msg));
		}
		if (k < 5)
			run(&n, t + SIM_MS(199));
	}
	int before = n.sent;
	run(&n, t + SIM_MS(100));
	int at = client_held_bytes_sent_at(&n, before, t + SIM_MS(100));
	cr_assert_eq(at, 1, "one segment at t + 100 ms, not %d", at);
}

/* The same for data out of order: the released segment carries the SACK
 * block, no duplicate ACK goes first.  The client writes 10 bytes at t
 * and 10 held ones at t + 1 ms; the server (TCP_NODELAY) writes 4 bytes
 * at t + 10 ms, lost, and 4 more at t + 60 ms, which acknowledge the
 * client's first (its pure ACK at t + 50 ms is lost too) and arrive at
 * t + 110 ms beyond the hole. */
Test(tcp, linux_data_the_ack_releases_carries_the_sack)
{
	const uint8_t msg[10] = {0};
	struct net2 n;
	setup_linux(&n, SIM_MS(50), false);
	tcp_conn_set_nodelay(&n.c[1], true);
	sim_time t = n.now = SIM_S(2);
	int base = n.sent;
	n.drop[n.n_drop++] = base + 2; /* the server's first 4 bytes */
	n.drop[n.n_drop++] = base + 3; /* its pure ACK of the client's 10 */
	tcp_conn_send(&n.c[0], &n.env, t, msg, sizeof(msg));
	n.now = t + SIM_MS(1);
	tcp_conn_send(&n.c[0], &n.env, n.now, msg, sizeof(msg));
	run(&n, t + SIM_MS(10));
	tcp_conn_send(&n.c[1], &n.env, n.now = t + SIM_MS(10), msg, 4);
	run(&n, t + SIM_MS(60));
	tcp_conn_send(&n.c[1], &n.env, n.now = t + SIM_MS(60), msg, 4);
	cr_assert_eq(n.sent, base + 4);
	cr_assert_eq(n.info[base + 3].flags, TCP_ACK, "the lost pure ACK");
	run(&n, t + SIM_MS(110));
	int at = client_held_bytes_sent_at(&n, base + 4, t + SIM_MS(110));
	cr_assert_eq(at, 1, "one segment at t + 110 ms, not %d", at);
	/* the server's data beyond the hole is still kept at the client */
	tcp_conn_free(&n.c[0]);
	tcp_conn_free(&n.c[1]);
}

/* An ACK that ends inside a segment, acknowledging none whole, takes no
 * RTT sample and leaves the retransmission timer and its backoff alone
 * (tcp_clean_rtx_queue stops at a one-packet skb it only partly covers:
 * no FLAG_ACKED, so neither tcp_ack_update_rtt nor tcp_set_xmit_timer).
 * The client (TCP_NODELAY, RTO 300 ms after the 100 ms handshake) sends
 * 10 bytes at t, which arrive, and 10 at t + 1 ms, lost, as are the
 * server's ACK, the tail loss probe and the timeout's resend of both as
 * one 20-byte segment.  The server's 4 bytes at t + 700 ms acknowledge
 * the first 10 only: the client's RTO (600 ms, backed off) and the
 * timer's expiry stay what they were. */
Test(tcp, linux_ack_inside_a_merged_resend_keeps_the_backoff)
{
	const uint8_t msg[10] = {0};
	struct net2 n;
	setup_linux(&n, SIM_MS(50), true);
	int base = n.sent;
	for (int k = 2; k <= 5; k++)
		n.drop[n.n_drop++] = base + k;
	sim_time t = n.now = SIM_S(2);
	tcp_conn_send(&n.c[0], &n.env, t, msg, sizeof(msg));
	n.now = t + SIM_MS(1);
	tcp_conn_send(&n.c[0], &n.env, n.now, msg, sizeof(msg));
	run(&n, t + SIM_MS(700));
	cr_assert_eq(n.sent, base + 5);
	cr_assert_eq(n.from[base + 3], 1, "the server's ACK");
	cr_assert(n.from[base + 5] == 0 && n.info[base + 5].retx &&
		  n.info[base + 5].data_len == 20, "the timeout resends both as one");
	cr_assert_eq(n.c[0].rto, SIM_MS(600));
	tcp_conn_send(&n.c[1], &n.env, n.now = t + SIM_MS(700), msg, 4);
	sim_time rto = n.c[0].rto, at = tcp_conn_expiry(&n.c[0]);
	run(&n, t + SIM_MS(751));
	cr_assert_eq(n.c[1].rcv_nxt, n.c[0].iss + 1 + 10, "the server holds the first 10");
	cr_assert_eq(n.c[0].snd_una, n.c[0].iss + 1 + 10, "the client saw them acknowledged");
	cr_assert_eq(n.c[0].rto, rto);
	cr_assert_eq(tcp_conn_expiry(&n.c[0]), at);
}

/* ---- the linux profile: options, SACK, timestamps, RACK ---- */

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Linux's SYN options, in its order (tcp_options_write): MSS, SACK
 * permitted with timestamps, NOP and window scale: 20 bytes, a 40-byte
 * header.  The SYN-ACK echoes the SYN's TSval; every later segment
 * carries NOP, NOP, timestamps (RFC 7323 §3): 32 bytes of header. */
Test(tcp, linux_syn_options_and_timestamps_on_every_segment)
{
	struct net2 n;
	setup_linux(&n, SIM_MS(50), true);
	const uint8_t *syn = n.first_seg[0], *sa = n.first_seg[1], *a = n.first_seg[2];
	cr_assert_eq(n.first_len[0], 40);
	cr_assert_eq(syn[12], 10 << 4);
	const uint8_t head[8] = {2, 4, 536 >> 8, 536 & 0xff, 4, 2, 8, 10};
	cr_assert_arr_eq(syn + 20, head, 8);
	cr_assert_eq(be32(syn + 32), 0, "no TSecr on a SYN");
	const uint8_t ws[4] = {1, 3, 3, 0};
	cr_assert_arr_eq(syn + 36, ws, 4);
	cr_assert_eq(n.first_len[1], 40);
	cr_assert_eq(be32(sa + 32), be32(syn + 28), "the SYN-ACK echoes the SYN's TSval");
	cr_assert_eq(n.first_len[2], 32);
	const uint8_t ts[4] = {1, 1, 8, 10};
	cr_assert_arr_eq(a + 20, ts, 4);
	cr_assert_eq(be32(a + 28), be32(sa + 28), "the ACK echoes the SYN-ACK's TSval");
	/* TSval is a millisecond clock: 100 ms after the SYN, 100 more */
	cr_assert_eq(be32(a + 24) - be32(syn + 28), 100);
	cr_assert(n.c[0].ts_ok && n.c[1].ts_ok && n.c[0].sack_ok && n.c[1].sack_ok);
	cr_assert_eq(tcp_conn_hdr(&n.c[0]), 32);
	/* the rfc6298 profile: MSS only, 20-byte headers after the SYN */
	setup(&n, SIM_MS(50), 0);
	tcp_conn_connect(&n.c[0], &n.env, 0);
	run(&n, SIM_S(1));
	cr_assert_eq(n.first_len[0], 24);
	cr_assert_eq(n.first_len[2], 20);
	cr_assert_eq(tcp_conn_hdr(&n.c[0]), 20);
}

/* SACK (RFC 2018, RFC 6675): five full segments, the first lost.  The
 * receiver keeps segments 2-5 and answers each with a duplicate ACK whose
 * first block covers what it holds: [s+536, s+1072) after the second
 * (12 + 4 + 8 option bytes: a 44-byte header).  At the third duplicate
 * (100 ms after the flight, 50 ms each way) the sender sends the hole
 * again, once, and nothing else: 150 ms after the flight every byte has
 * arrived.  Without SACK the receiver drops 2-5 and all five go again. */
Test(tcp, linux_sack_repairs_only_the_hole)
{
	static uint8_t data[536 * 5];
	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)(i * 13);
	struct net2 n;
	setup_linux(&n, SIM_MS(50), true);
	int before = n.sent;
	n.drop[n.n_drop++] = before + 1;
	sim_time t0 = n.now;
	uint32_t s = n.c[0].snd_nxt;
	tcp_conn_send(&n.c[0], &n.env, t0, data, sizeof(data));
	run(&n, t0 + SIM_MS(150));
	cr_assert_eq(n.rx_len, sizeof(data));
	cr_assert_arr_eq(n.rx, data, sizeof(data));
	cr_assert_eq(n.c[0].st.retx_segments, 1);
	int dup = 0;
	for (int i = before + 1; i <= n.sent; i++) {
		if (n.from[i] != 1 || n.info[i].data_len)
			continue;
		if (dup++ == 0)
			cr_assert_eq(n.sent_at[i], t0 + SIM_MS(50));
	}
	for (int i = before + 1; i <= n.sent; i++)
		if (n.from[i] == 0 && n.info[i].retx) {
			cr_assert_eq(n.sent_at[i], t0 + SIM_MS(100), "at the third duplicate");
			cr_assert_eq(n.info[i].data_off, 0);
		}
	/* the first duplicate ACK's block, read off the wire: run again and
	 * stop when it is queued */
	setup_linux(&n, SIM_MS(50), true);
	before = n.sent;
	n.drop[n.n_drop++] = before + 1;
	t0 = n.now;
	s = n.c[0].snd_nxt;
	tcp_conn_send(&n.c[0], &n.env, t0, data, sizeof(data));
	run(&n, t0 + SIM_MS(50));
	const struct wire *w = NULL;
	for (size_t i = 0; i < n.nq; i++)
		if (n.q[i].to == 0 && (!w || n.q[i].order < w->order))
			w = &n.q[i];
	cr_assert_not_null(w);
	cr_assert_eq(w->len, 44);
	cr_assert_eq(w->seg[32], 1);
	cr_assert_eq(w->seg[34], 5);
	cr_assert_eq(w->seg[35], 10);
	cr_assert_eq(be32(w->seg + 8), s, "cumulative ACK at the hole");
	cr_assert_eq(be32(w->seg + 36), s + 536);
	cr_assert_eq(be32(w->seg + 40), s + 1072);
	run(&n, t0 + SIM_S(2));
	cr_assert_eq(n.rx_len, sizeof(data));
}

/* RACK's reordering window (RFC 8985 §6.2): two segments, the first lost.
 * One duplicate ACK cannot reach the threshold of three; the hole is sent
 * again a quarter of the minimum RTT (100 ms) after the SACK arrived,
 * plus Linux's TCP_TIMEOUT_MIN (2 jiffies): 33 ms, 9 jiffies of 4 ms.  The
 * flight leaves at 2 s, the SACK arrives at 2.1 s (jiffy 525), the timer
 * fires the jiffy after 534: t0 + 140 ms, not at the RTO (300 ms). */
Test(tcp, linux_rack_resends_a_hole_after_a_quarter_rtt)
{
	static uint8_t data[536 * 2];
	struct net2 n;
	setup_linux(&n, SIM_MS(50), true);
	int before = n.sent;
	n.drop[n.n_drop++] = before + 1;
	sim_time t0 = n.now = SIM_S(2);
	tcp_conn_send(&n.c[0], &n.env, t0, data, sizeof(data));
	run(&n, t0 + SIM_S(2));
	cr_assert_eq(n.rx_len, sizeof(data));
	int k = 0;
	for (int i = before + 1; i <= n.sent; i++)
		if (n.from[i] == 0 && n.info[i].retx) {
			k++;
			cr_assert_eq(n.sent_at[i], t0 + SIM_MS(140));
		}
	cr_assert_eq(k, 1);
}

/* RACK judges a hole by when it was sent (RFC 8985 §6.2, Linux
 * tcp_rack_detect_loss), and the head sent again restarts the RTO (Linux
 * tcp_xmit_retransmit_queue).  Segment A leaves at t0 and is lost; B
 * leaves 150 ms later.  B's SACK arrives at t0 + 250 ms (50 ms each way):
 * A was sent 250 ms before, longer ago than B's round trip (100 ms) plus
 * the reordering window (25 ms), so A is lost at once: resent at t0 +
 * 250 ms, not a window later.  Its ACK comes at t0 + 350 ms, after the RTO
 * armed at t0 (SRTT 100 + the 200 ms floor: t0 + 300 ms) would have fired:
 * restarted at the resend, it does not, and A goes again only once. */
Test(tcp, linux_rack_times_a_hole_from_its_send_and_restarts_the_rto)
{
	static uint8_t data[536 * 2];
	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)(i * 7);
	struct net2 n;
	setup_linux(&n, SIM_MS(50), true);
	int before = n.sent;
	n.drop[n.n_drop++] = before + 1;
	sim_time t0 = n.now;
	tcp_conn_send(&n.c[0], &n.env, t0, data, 536);
	run(&n, t0 + SIM_MS(150));
	n.now = t0 + SIM_MS(150);
	tcp_conn_send(&n.c[0], &n.env, n.now, data + 536, 536);
	run(&n, t0 + SIM_S(2));
	cr_assert_eq(n.rx_len, sizeof(data));
	cr_assert_arr_eq(n.rx, data, sizeof(data));
	int k = 0;
	for (int i = before + 1; i <= n.sent; i++)
		if (n.from[i] == 0 && n.info[i].retx) {
			k++;
			cr_assert_eq(n.info[i].data_off, 0, "A, the hole");
			cr_assert_eq(n.sent_at[i], t0 + SIM_MS(250), "at the SACK, not %.1f ms",
				     (double)(n.sent_at[i] - t0) / 1e6);
		}
	cr_assert_eq(k, 1, "A resent %d times", k);
}

/* Linux's congestion window counts packets (snd_cwnd), not bytes: with
 * TCP_NODELAY, twenty 10-byte writes at once on an open connection put
 * the initial window's 10 segments on the wire (a byte window of 10 x 536
 * would let all twenty go); the other ten writes wait and leave as one
 * segment of 100 bytes when the first ACK opens the window, a round trip
 * (100 ms) later. */
Test(tcp, linux_window_counts_packets)
{
	static uint8_t data[10];
	struct net2 n;
	setup_linux(&n, SIM_MS(50), true);
	int before = n.sent;
	sim_time t0 = n.now;
	for (int k = 0; k < 20; k++) {
		memset(data, k, sizeof(data));
		tcp_conn_send(&n.c[0], &n.env, t0, data, sizeof(data));
	}
	cr_assert_eq(data_segments_from(&n, 0, before), 10, "the initial window: 10 packets");
	run(&n, t0 + SIM_S(1));
	cr_assert_eq(n.rx_len, 200);
	cr_assert_eq(data_segments_from(&n, 0, before), 11);
	int rest = 0;
	for (int i = before + 1; i <= n.sent; i++)
		if (n.from[i] == 0 && n.info[i].data_len == 100) {
			rest++;
			cr_assert_eq(n.sent_at[i], t0 + SIM_MS(100), "the rest, at the first ACK");
		}
	cr_assert_eq(rest, 1, "the ten waiting writes in one segment");
}

/* Timestamps end Karn's ambiguity (RFC 7323 §4): the ACK of a
 * retransmission echoes the retransmission's TSval, a 100 ms sample that
 * ends the backoff.  Linux's estimator then gives SRTT 100 ms and RTTVAR
 * at its 200 ms floor: the next lost segment is resent 300 ms after it
 * left, not 600 ms as the rfc6298 profile (no sample, doubled RTO).  (On
 * Linux's timer wheel 300 ms is 75 jiffies of 4 ms: sent at 6 s, jiffy
 * 1,500, it fires at the first multiple of 8 after 1,575: 304 ms.) */
Test(tcp, linux_timestamps_end_the_backoff)
{
	static uint8_t data[100];
	for (int linux = 0; linux < 2; linux++) {
		struct net2 n;
		if (linux) {
			setup_linux(&n, SIM_MS(50), true);
		} else {
			setup(&n, SIM_MS(50), 0);
			n.p.rto_min = SIM_MS(300);
			tcp_conn_connect(&n.c[0], &n.env, 0);
			run(&n, SIM_S(1));
		}
		cr_assert_eq(n.c[0].rto, SIM_MS(300));
		n.drop[n.n_drop++] = n.sent + 1;
		tcp_conn_send(&n.c[0], &n.env, n.now, data, sizeof(data));
		run(&n, n.now + SIM_S(2));
		cr_assert_eq(tcp_conn_unacked(&n.c[0]), 0);
		n.drop[n.n_drop++] = n.sent + 1;
		cr_assert_lt(n.now, SIM_S(6));
		sim_time t1 = n.now = SIM_S(6);
		int before = n.sent;
		tcp_conn_send(&n.c[0], &n.env, t1, data, sizeof(data));
		run(&n, t1 + SIM_S(3));
		sim_time at = 0;
		for (int i = before + 1; i <= n.sent; i++)
			if (n.from[i] == 0 && n.info[i].retx && !at)
				at = n.sent_at[i] - t1;
		cr_assert_eq(at, linux ? SIM_MS(304) : SIM_MS(600), "profile %d", linux);
	}
}

/* Linux's RTT sample (tcp_clean_rtx_queue, tcp_ack_update_rtt) runs from
 * the oldest segment an ACK covers, when none of them was sent again; the
 * echoed timestamp serves only for data sent again.  50 ms each way, the
 * handshake's sample 100 ms (SRTT 100, RTO 300).  Segment A at t0, its
 * ACK lost; B at t0 + 150 ms; B's ACK, covering both, at t0 + 250 ms.
 * Linux's sample is 250 ms: SRTT 100 + 150 / 8 = 118.75 ms, mdev 200 +
 * 150 - 200 / 4 = 300 ms, which lifts RTTVAR to 300: RTO 418.75 ms.  The
 * echoed timestamp (B's: A's ACK was sent) would say 100 ms: SRTT 100,
 * RTO 300. */
Test(tcp, linux_rtt_runs_from_the_oldest_segment_acked)
{
	static uint8_t data[10];
	struct net2 n;
	setup_linux(&n, SIM_MS(50), true);
	cr_assert_eq(n.c[0].srtt, SIM_MS(100));
	cr_assert_eq(n.c[0].rto, SIM_MS(300));
	int before = n.sent;
	n.drop[n.n_drop++] = before + 2; /* A's ACK */
	sim_time t0 = n.now;
	tcp_conn_send(&n.c[0], &n.env, t0, data, sizeof(data));
	run(&n, t0 + SIM_MS(150));
	cr_assert_eq(tcp_conn_unacked(&n.c[0]), 10);
	n.now = t0 + SIM_MS(150);
	tcp_conn_send(&n.c[0], &n.env, n.now, data, sizeof(data));
	run(&n, t0 + SIM_MS(260));
	cr_assert_eq(tcp_conn_unacked(&n.c[0]), 0);
	for (int i = before + 1; i <= n.sent; i++)
		cr_assert(!n.info[i].retx, "nothing sent again");
	cr_assert_eq(n.c[0].srtt, SIM_US(118750));
	cr_assert_eq(n.c[0].rto, SIM_US(418750));
}

/* Linux 6.5 on (tcp_syn_linear_timeouts = 4, as on the machine the
 * validation ran): an active open's first four timeouts do not back off,
 * and count on top of tcp_syn_retries (6).  Every SYN lost: SYNs at 0,
 * 1, 2, 3, 4, 5, 7, 11, 19, 35 and 67 s, then the connect fails at the
 * eleventh timeout.  On the wheel a 1 s or 2 s timer (250, 500 jiffies)
 * fires up to 8 jiffies (32 ms) late, a 4 s one up to 64 (256 ms).  The
 * rfc6298 profile backs off from the first: 1, 2, 4 s. */
Test(tcp, linux_first_four_syn_timeouts_are_linear)
{
	for (int lx = 0; lx < 2; lx++) {
		struct net2 n;
		setup(&n, SIM_MS(50), 0);
		n.p.profile = lx ? TCP_PROFILE_LINUX : TCP_PROFILE_RFC6298;
		for (int k = 1; k <= 12; k++)
			n.drop[n.n_drop++] = k;
		tcp_conn_connect(&n.c[0], &n.env, 0);
		run(&n, SIM_S(400));
		cr_assert_eq(n.events[TCP_EV_FAILED], 1);
		cr_assert_eq(n.sent, lx ? 11 : 7, "SYNs sent");
		static const int linux_s[] = {1, 1, 1, 1, 1, 2, 4}, rfc_s[] = {1, 2, 4};
		const int *want = lx ? linux_s : rfc_s;
		for (int i = 0; i < (lx ? 7 : 3); i++) {
			sim_time gap = n.sent_at[i + 2] - n.sent_at[i + 1];
			sim_time late = lx ? (want[i] < 4 ? SIM_MS(32) : SIM_MS(256)) : 0;
			cr_assert(gap >= SIM_S(want[i]) && gap <= SIM_S(want[i]) + late,
				  "%s SYN %d: %lld ms after the one before", lx ? "linux" : "rfc6298",
				  i + 2, (long long)(gap / SIM_MS(1)));
		}
	}
}

/* A half-open connection (RFC 9293 §3.10.7.3): the client restarts and
 * sends a SYN on the same ports; the server, still established, answers
 * with an ACK; the client, in SYN-SENT, answers that unacceptable ACK
 * with a reset carrying its acknowledgement number, which closes the
 * server's stale end; the client's next SYN, a second later, opens a new
 * connection.  Without the reset both wait forever. */
Test(tcp, half_open_connection_is_reset_by_the_next_syn)
{
	struct net2 n;
	setup(&n, SIM_MS(50), 0);
	tcp_conn_connect(&n.c[0], &n.env, 0);
	run(&n, SIM_S(1));
	cr_assert_eq(n.c[1].state, TCP_ESTABLISHED);
	struct sim_rng r;
	sim_rng_init(&r, 2, 1, RNG_APP);
	tcp_conn_init(&n.c[0], &n.p, 40000, 1883, n.buf[0], sizeof(n.buf[0]), &r);
	tcp_conn_connect(&n.c[0], &n.env, n.now);
	run(&n, n.now + SIM_MS(500));
	cr_assert_eq(n.events[TCP_EV_RESET], 1, "the stale end is reset");
	cr_assert_eq(n.c[1].state, TCP_CLOSED);
	tcp_conn_listen(&n.c[1]);
	run(&n, n.now + SIM_S(2));
	cr_assert_eq(n.c[0].state, TCP_ESTABLISHED);
	cr_assert_eq(n.c[1].state, TCP_ESTABLISHED);
}

/* Tail loss probe (RFC 8985 §7, Linux's tcp_schedule_loss_probe): three
 * full segments, the last two lost.  The first one's ACK (100 ms, the
 * round trip) arms the probe at 2 SRTT + 2 ms (two segments still out),
 * before the RTO (300 ms): at 302 ms the last segment goes again, not the
 * first hole at the RTO (400 ms); the probe's SACK then repairs the hole
 * and every byte arrives.  (On the timer wheel: the flight leaves at 2 s,
 * the ACK comes in jiffy 525; 202 ms is 51 jiffies, so the probe leaves
 * the jiffy after 576: t0 + 308 ms.) */
Test(tcp, linux_tail_loss_probe_resends_the_last_segment_first)
{
	static uint8_t data[536 * 3];
	struct net2 n;
	setup_linux(&n, SIM_MS(50), true);
	int before = n.sent;
	n.drop[n.n_drop++] = before + 2;
	n.drop[n.n_drop++] = before + 3;
	sim_time t0 = n.now = SIM_S(2);
	tcp_conn_send(&n.c[0], &n.env, t0, data, sizeof(data));
	run(&n, t0 + SIM_S(3));
	cr_assert_eq(n.rx_len, sizeof(data));
	for (int i = before + 1; i <= n.sent; i++)
		if (n.from[i] == 0 && n.info[i].retx) {
			cr_assert_eq(n.sent_at[i], t0 + SIM_MS(308), "the probe");
			cr_assert_eq(n.info[i].data_off, 2 * 536, "the last segment");
			break;
		}
}

/* New data sent after the head's RTO time, while the probe armed by an
 * ACK is still waiting (Linux's tcp_schedule_loss_probe: rto_delta is not
 * positive, so the cap does not apply): the probe is armed a whole 2 SRTT
 * + 2 ms after that send, and the RTO armed by the ACK is gone (one timer,
 * icsk_pending).  A at 0 and B at 20 ms; A's ACK (100 ms) arms the probe
 * at min(2 SRTT + 200 ms, RTO) = 300 ms, on the wheel 432 ms; B's ACK is
 * lost, so B's RTO time is 320 ms.  C at 350 ms: the probe goes to 350 +
 * 202 ms, on the wheel 556 ms, after C's ACK (450 ms), so nothing is
 * sent again, and that ACK's RTT sample is B's 430 ms (sent once): SRTT
 * 100 + 330 / 8 ms.  Keeping the ACK's timer instead resends C at 432. */
Test(tcp, linux_new_data_after_the_heads_rto_time_gets_a_whole_probe_timeout)
{
	static uint8_t data[100];
	struct net2 n;
	setup_linux(&n, SIM_MS(50), true);
	int before = n.sent;
	n.drop[n.n_drop++] = before + 4; /* A, B, A's ACK, B's ACK */
	sim_time t0 = n.now = SIM_S(2);
	tcp_conn_send(&n.c[0], &n.env, t0, data, sizeof(data));
	run(&n, t0 + SIM_MS(20));
	n.now = t0 + SIM_MS(20);
	tcp_conn_send(&n.c[0], &n.env, n.now, data, sizeof(data));
	run(&n, t0 + SIM_MS(350));
	cr_assert_eq(n.c[0].srtt, SIM_MS(100));
	cr_assert_eq(n.c[0].rto, SIM_MS(300));
	cr_assert_eq(n.c[0].tlp_at, t0 + SIM_MS(432), "the probe A's ACK armed");
	n.now = t0 + SIM_MS(350);
	tcp_conn_send(&n.c[0], &n.env, n.now, data, sizeof(data));
	cr_assert_eq(n.c[0].tlp_at, t0 + SIM_MS(556), "C's send rearms it: 2 SRTT + 2 ms");
	cr_assert_eq(n.c[0].rto_at, SIM_TIME_NEVER, "one timer: the probe's");
	run(&n, t0 + SIM_S(3));
	cr_assert_eq(n.rx_len, 3 * sizeof(data));
	for (int i = before + 1; i <= n.sent; i++)
		cr_assert(!(n.from[i] == 0 && n.info[i].retx), "segment %d sent again", i);
	cr_assert_eq(n.c[0].srtt, SIM_US(141250), "B's round trip, 430 ms");
}

/* No probe in the loss state (Linux's CA_Loss).  A 100-byte write, lost,
 * is probed at its RTO time (300 ms: the lone segment's 2 SRTT + 200 ms
 * is later), lost again, then timed out an RTO later (lost again: the RTO
 * doubles to 600 ms).  After a timeout Linux's window is one packet, and
 * the resent head is out: a second write just after waits.  No probe goes
 * 2 SRTT + 2 ms later; the RTO, 600 ms on, resends the head.  On the
 * timer wheel (4 ms jiffies; 300 ms is 75, 600 ms 150, both on the
 * 8-jiffy level): written at 2 s (jiffy 500), the probe at jiffy 576
 * (t0 + 304 ms), the timeout at 656 (624 ms), the next send at 808
 * (1,232 ms). */
Test(tcp, linux_no_loss_probe_after_a_timeout)
{
	static uint8_t data[100];
	struct net2 n;
	setup_linux(&n, SIM_MS(50), true);
	int before = n.sent;
	for (int k = 1; k <= 4; k++)
		n.drop[n.n_drop++] = before + k;
	sim_time t0 = n.now = SIM_S(2);
	tcp_conn_send(&n.c[0], &n.env, t0, data, sizeof(data));
	run(&n, t0 + SIM_MS(625));
	cr_assert_eq(n.sent, before + 3, "the write, its probe, its timeout");
	cr_assert_eq(n.sent_at[before + 2], t0 + SIM_MS(304));
	cr_assert_eq(n.sent_at[before + 3], t0 + SIM_MS(624));
	n.now = t0 + SIM_MS(625);
	tcp_conn_send(&n.c[0], &n.env, n.now, data, sizeof(data));
	cr_assert_eq(n.sent, before + 3, "the second write waits: a window of one packet");
	run(&n, t0 + SIM_S(5));
	cr_assert_eq(n.rx_len, 2 * sizeof(data));
	cr_assert_eq(n.sent_at[before + 4], t0 + SIM_MS(1232), "the next send: the RTO");
	cr_assert_eq(n.info[before + 4].data_off, 0, "the head");
}
