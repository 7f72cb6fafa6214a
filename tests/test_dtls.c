/* DTLS 1.2 by mbedTLS on the simulated clock (sim/sec): a client and a
 * server back to back over a delay line that can drop chosen datagrams. */
#include <criterion/criterion.h>
#include <string.h>

#include "../sim/sec/dtls.h"

#define MAXQ 256
struct dg {
	sim_time at;
	int to;
	size_t len;
	uint8_t b[2048];
};
struct pair;
struct side {
	struct pair *w;
	int me;
};
struct pair {
	struct dtls_peer *p[2]; /* 0 client, 1 server */
	struct side sides[2];
	struct dg q[MAXQ];
	size_t nq;
	sim_time now, delay;
	int sent, drop[8], n_drop;
	int from[MAXQ];
	size_t len[MAXQ];
	uint8_t head[MAXQ][32]; /* each datagram's first bytes */
	sim_time at[MAXQ];
	uint8_t rx[2][256];
	size_t rx_len[2];
};
static void on_send(void *ud, const uint8_t *buf, size_t len)
{
	struct side *s = ud;
	struct pair *w = s->w;
	int i = w->sent++;
	cr_assert_lt(i, MAXQ);
	w->from[i] = s->me;
	w->len[i] = len;
	w->at[i] = w->now;
	memcpy(w->head[i], buf, len < 32 ? len : 32);
	for (int k = 0; k < w->n_drop; k++)
		if (w->drop[k] == i)
			return;
	struct dg *d = &w->q[w->nq++];
	d->at = w->now + w->delay;
	d->to = 1 - s->me;
	d->len = len;
	memcpy(d->b, buf, len);
}

static void on_data(void *ud, const uint8_t *buf, size_t len)
{
	struct side *s = ud;
	memcpy(s->w->rx[s->me] + s->w->rx_len[s->me], buf, len);
	s->w->rx_len[s->me] += len;
}

static const struct dtls_cb cbs = {on_send, on_data};
static const uint8_t psk[16] = "0123456789abcdef";

static void setup(struct pair *w, sim_time delay, uint64_t seed)
{
	memset(w, 0, sizeof(*w));
	w->delay = delay;
	char err[128];
	for (int k = 0; k < 2; k++) {
		w->sides[k] = (struct side){w, k};
		struct dtls_params p = {.server = k == 1, .psk = psk, .psk_len = sizeof(psk),
					.identity = "coapsim", .timeout_min = SIM_S(1),
					.timeout_max = SIM_S(60), .seed = seed};
		w->p[k] = dtls_new(&p, &cbs, &w->sides[k], err, sizeof(err));
		cr_assert_not_null(w->p[k], "%s", err);
	}
}

static void run(struct pair *w, sim_time until)
{
	for (;;) {
		sim_time t = SIM_TIME_NEVER;
		int kind = -1;
		size_t qi = 0;
		for (size_t i = 0; i < w->nq; i++)
			if (w->q[i].at < t) {
				t = w->q[i].at;
				kind = 2;
				qi = i;
			}
		for (int k = 0; k < 2; k++)
			if (dtls_expiry(w->p[k]) < t) {
				t = dtls_expiry(w->p[k]);
				kind = k;
			}
		if (kind < 0 || t > until)
			return;
		w->now = t;
		if (kind == 2) {
			struct dg d = w->q[qi];
			w->q[qi] = w->q[--w->nq];
			dtls_recv(w->p[d.to], t, d.b, d.len);
		} else {
			dtls_expire(w->p[kind], t);
		}
	}
}

static void teardown(struct pair *w)
{
	dtls_free(w->p[0]);
	dtls_free(w->p[1]);
}

/* The first handshake message of a datagram (record type 22 =
 * handshake; the DTLS handshake header follows the 13-byte record
 * header), or the record type shifted (CCS 20 -> 120) when not one. */
static int first_msg(const struct pair *w, int i)
{
	const uint8_t *h = w->head[i];
	return h[0] == 22 ? h[13] : 100 + h[0];
}

/* RFC 6347's full handshake with a cookie, PSK (RFC 4279), 50 ms each way:
 * ClientHello (1); HelloVerifyRequest (3); ClientHello with the cookie;
 * ServerHello (2) and ServerHelloDone (14), one flight; ClientKeyExchange
 * (16), ChangeCipherSpec (record type 20), Finished (encrypted); the
 * server's ChangeCipherSpec and Finished.  Six flights, three round
 * trips: established at 300 ms at the client after the server's last
 * flight... the client sends its last flight at 200 ms, the server is done
 * at 250 ms and the client at 300 ms.  Then an application record is the
 * plaintext plus 29 bytes (13 header + 8 explicit nonce + 8 CCM-8 tag). */
Test(dtls, psk_handshake_flights_and_record_overhead)
{
	static struct pair w;
	setup(&w, SIM_MS(50), 1);
	dtls_start(w.p[0], 0);
	run(&w, SIM_S(5));
	cr_assert(dtls_established(w.p[0]) && dtls_established(w.p[1]));
	cr_assert_eq(dtls_stats(w.p[1])->handshake_done, SIM_MS(250));
	cr_assert_eq(dtls_stats(w.p[0])->handshake_done, SIM_MS(300));
	int flights[6] = {-1, -1, -1, -1, -1, -1}, nf = 0, last = -1;
	for (int i = 0; i < w.sent; i++) {
		if (w.from[i] != last && nf < 6)
			flights[nf++] = i;
		last = w.from[i];
	}
	cr_assert_eq(nf, 6, "six flights");
	cr_assert_eq(first_msg(&w, flights[0]), 1, "ClientHello");
	cr_assert_eq(first_msg(&w, flights[1]), 3, "HelloVerifyRequest");
	cr_assert_eq(first_msg(&w, flights[2]), 1, "ClientHello with the cookie");
	cr_assert_eq(first_msg(&w, flights[3]), 2, "ServerHello");
	cr_assert_eq(first_msg(&w, flights[4]), 16, "ClientKeyExchange");
	cr_assert_eq(first_msg(&w, flights[5]), 120, "ChangeCipherSpec");
	const struct dtls_stats *c = dtls_stats(w.p[0]), *s = dtls_stats(w.p[1]);
	cr_log_info("handshake: client %llu B in %llu datagrams, server %llu B in %llu",
		    (unsigned long long)c->handshake_bytes, (unsigned long long)c->handshake_datagrams,
		    (unsigned long long)s->handshake_bytes, (unsigned long long)s->handshake_datagrams);
	uint64_t before = c->bytes;
	cr_assert_eq(dtls_write(w.p[0], w.now, (const uint8_t *)"0123456789abcdef", 16), 0);
	cr_assert_eq(c->bytes - before, 16 + DTLS_CCM8_OVERHEAD);
	cr_assert_eq(c->overhead_bytes, DTLS_CCM8_OVERHEAD);
	run(&w, w.now + SIM_S(1));
	cr_assert_eq(w.rx_len[1], 16);
	cr_assert_arr_eq(w.rx[1], "0123456789abcdef", 16);
	teardown(&w);
}

/* The retransmission timer (RFC 6347 4.2.4) runs on the simulated clock:
 * the first ClientHello lost, the library sends it again after
 * timeout_min (1 s), then the handshake takes its three round trips. */
Test(dtls, lost_client_hello_is_resent_after_the_initial_timeout)
{
	static struct pair w;
	setup(&w, SIM_MS(50), 1);
	w.drop[w.n_drop++] = 0;
	dtls_start(w.p[0], 0);
	run(&w, SIM_S(10));
	cr_assert(dtls_established(w.p[0]));
	cr_assert_eq(w.from[1], 0);
	cr_assert_eq(w.at[1], SIM_S(1), "the ClientHello again after 1 s");
	cr_assert_eq(dtls_stats(w.p[0])->handshake_done, SIM_S(1) + SIM_MS(300));
	teardown(&w);
}

/* A seed gives the same bytes: two handshakes with seed 7 send the same
 * datagrams; seed 8 does not (its randoms differ); the library's clock is
 * the simulated one. */
Test(dtls, the_bytes_depend_only_on_the_seed)
{
	static struct pair a, b, c;
	setup(&a, SIM_MS(50), 7);
	setup(&b, SIM_MS(50), 7);
	dtls_start(a.p[0], 0);
	run(&a, SIM_S(5));
	dtls_start(b.p[0], 0);
	run(&b, SIM_S(5));
	cr_assert_eq(a.sent, b.sent);
	for (int i = 0; i < a.sent; i++) {
		cr_assert_eq(a.len[i], b.len[i]);
		cr_assert_arr_eq(a.head[i], b.head[i], a.len[i] < 32 ? a.len[i] : 32);
	}
	/* The ClientHello's random begins with the time (RFC 5246 7.4.1.2):
	 * the simulated one, 0 s, not the wall clock (record header 13 bytes,
	 * handshake header 12, version 2). */
	const uint8_t zero[4] = {0};
	cr_assert_arr_eq(a.head[0] + 27, zero, 4, "gmt_unix_time is simulated");
	setup(&c, SIM_MS(50), 8);
	dtls_start(c.p[0], 0);
	run(&c, SIM_S(5));
	cr_assert(memcmp(a.head[0], c.head[0], 32) != 0 || a.len[0] != c.len[0]);
	teardown(&a);
	teardown(&b);
	teardown(&c);
}
