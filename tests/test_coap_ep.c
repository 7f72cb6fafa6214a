/* CoAP endpoints driven by hand: bytes and times in, bytes and deadlines out. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../sim/coap/coap_ep.h"

#define MAXD 64
struct sent {
	uint8_t buf[256];
	size_t len;
	bool retx;
	bool has_x;
};
struct fake {
	struct sent d[MAXD];
	int n;
	int done_n;
	enum coap_result last_r;
	struct coap_exch last_x;
	sim_time last_now;
	int requests;
	int dedup_answers;
};

static void f_cli_send(void *ud, struct coap_client *c, const uint8_t *buf,
		       size_t len, const struct coap_exch *x, bool retx)
{
	struct fake *f = ud;
	(void)c;
	cr_assert_lt(f->n, MAXD);
	cr_assert_leq(len, sizeof(f->d[0].buf));
	memcpy(f->d[f->n].buf, buf, len);
	f->d[f->n].len = len;
	f->d[f->n].retx = retx;
	f->d[f->n].has_x = x != NULL;
	f->n++;
}

static void f_cli_done(void *ud, struct coap_client *c, const struct coap_exch *x,
		       enum coap_result r, const struct coap_msg *resp, sim_time now)
{
	struct fake *f = ud;
	(void)c;
	(void)resp;
	f->done_n++;
	f->last_r = r;
	f->last_x = *x;
	f->last_now = now;
}

static void f_srv_send(void *ud, struct coap_srv_session *s, const uint8_t *buf,
		       size_t len)
{
	struct fake *f = ud;
	(void)s;
	cr_assert_lt(f->n, MAXD);
	if (len > sizeof(f->d[0].buf))
		len = sizeof(f->d[0].buf);
	memcpy(f->d[f->n].buf, buf, len);
	f->d[f->n].len = len;
	f->n++;
}

static void f_srv_request(void *ud, struct coap_srv_session *s,
			  const struct coap_msg *req, sim_time now)
{
	struct fake *f = ud;
	(void)s;
	(void)req;
	(void)now;
	f->requests++;
}

static void f_srv_dedup_answer(void *ud, struct coap_srv_session *s, sim_time now)
{
	struct fake *f = ud;
	(void)s;
	(void)now;
	f->dedup_answers++;
}

static const struct coap_client_cb cli_cb = {f_cli_send, f_cli_done, NULL};
static const struct coap_srv_session_cb srv_cb = {f_srv_send, f_srv_request, NULL, NULL,
							 f_srv_dedup_answer};

struct cli_fix {
	struct fake f;
	struct coap_params p;
	struct coap_req_tmpl req;
	struct sim_rng rng;
	struct coap_client_env env;
	struct coap_exch slots[COAP_MAX_NSTART];
	struct coap_client c;
};

static void cli_setup(struct cli_fix *x, uint8_t type, uint32_t nstart)
{
	memset(x, 0, sizeof(*x));
	x->p = (struct coap_params){.ack_timeout = SIM_S(2), .ack_random_factor = 1.5,
				    .max_retransmit = 4, .nstart = nstart};
	coap_params_derive(&x->p);
	x->req = (struct coap_req_tmpl){.type = type, .code = COAP_POST,
					.path = "/sensors/{id}", .payload = 16};
	sim_rng_init(&x->rng, 42, 7, RNG_COAP);
	x->env = (struct coap_client_env){.p = &x->p, .req = &x->req, .cb = &cli_cb,
					  .ud = &x->f, .rng = &x->rng, .id = 7};
	coap_client_init(&x->c, x->slots, &x->env);
}

static uint16_t mid_of(const struct sent *s)
{
	return (uint16_t)(s->buf[2] << 8 | s->buf[3]);
}

Test(coap_params, rfc7252_derived_times)
{
	/* §4.8.2 with the default parameters: MAX_TRANSMIT_SPAN 45 s,
	 * MAX_TRANSMIT_WAIT 93 s, EXCHANGE_LIFETIME 247 s, NON_LIFETIME 145 s. */
	struct coap_params p = {.ack_timeout = SIM_S(2), .ack_random_factor = 1.5,
				.max_retransmit = 4, .nstart = 1};
	coap_params_derive(&p);
	cr_assert_eq(p.max_transmit_span, SIM_S(45));
	cr_assert_eq(p.max_transmit_wait, SIM_S(93));
	cr_assert_eq(p.exchange_lifetime, SIM_S(247));
	cr_assert_eq(p.non_lifetime, SIM_S(145));
}

Test(coap_client, request_bytes)
{
	struct cli_fix x;
	cli_setup(&x, COAP_CON, 1);
	coap_client_request(&x.c, &x.env, 0);
	cr_assert_eq(x.f.n, 1);
	const uint8_t *b = x.f.d[0].buf;
	/* 35 bytes: 4 header + 4 token + 1+7 "sensors" + 1+1 "7" + 1 marker + 16 */
	cr_assert_eq(x.f.d[0].len, 35);
	cr_assert_eq(b[0], 0x44); /* Ver 1, T=CON (0), TKL 4 */
	cr_assert_eq(b[1], 0x02); /* 0.02 POST */
	cr_assert_eq(b[8], 0xb7); /* delta 11 (Uri-Path), length 7 */
	cr_assert_arr_eq(b + 9, "sensors", 7);
	cr_assert_eq(b[16], 0x01); /* delta 0 (Uri-Path again), length 1 */
	cr_assert_eq(b[17], '7');
	cr_assert_eq(b[18], 0xff); /* payload marker */
	for (int i = 19; i < 35; i++)
		cr_assert_eq(b[i], 0);
	cr_assert_eq(x.f.d[0].retx, false);
}

Test(coap_client, retransmission_schedule_and_give_up)
{
	struct cli_fix x;
	cli_setup(&x, COAP_CON, 1);
	coap_client_request(&x.c, &x.env, 0);
	sim_time t0 = coap_client_expiry(&x.c, 1);
	/* §4.2: initial timeout in [ACK_TIMEOUT, ACK_TIMEOUT * ACK_RANDOM_FACTOR] */
	cr_assert_geq(t0, SIM_S(2));
	cr_assert_leq(t0, SIM_S(3));
	/* Retransmissions at t0, 3t0, 7t0, 15t0; give up at 31t0. */
	const sim_time at[4] = {t0, 3 * t0, 7 * t0, 15 * t0};
	for (int k = 0; k < 4; k++) {
		cr_assert_eq(coap_client_expiry(&x.c, 1), at[k]);
		coap_client_expire(&x.c, &x.env, at[k] - 1); /* too early: nothing */
		cr_assert_eq(x.f.n, k + 1);
		coap_client_expire(&x.c, &x.env, at[k]);
		cr_assert_eq(x.f.n, k + 2);
		cr_assert(x.f.d[k + 1].retx);
		cr_assert_eq(x.f.d[k + 1].len, x.f.d[0].len);
		cr_assert_arr_eq(x.f.d[k + 1].buf, x.f.d[0].buf, x.f.d[0].len,
				 "a retransmission repeats the message (same MID)");
	}
	cr_assert_eq(coap_client_expiry(&x.c, 1), 31 * t0);
	cr_assert_eq(x.f.done_n, 0);
	coap_client_expire(&x.c, &x.env, 31 * t0);
	cr_assert_eq(x.f.done_n, 1);
	cr_assert_eq(x.f.last_r, COAP_RES_TIMEOUT);
	cr_assert_eq(x.f.last_x.tx, 5); /* 1 + MAX_RETRANSMIT */
	cr_assert_eq(x.f.n, 5);
	cr_assert_eq(coap_client_expiry(&x.c, 1), SIM_TIME_NEVER);
}

/* Build an ACK answering sent datagram i: piggybacked 2.04 or empty. */
static size_t make_ack(const struct sent *s, uint8_t code, uint8_t *out)
{
	out[0] = (uint8_t)(0x60 | (code ? 4 : 0)); /* Ver 1, T=ACK, TKL */
	out[1] = code;
	out[2] = s->buf[2];
	out[3] = s->buf[3];
	if (!code)
		return 4;
	memcpy(out + 4, s->buf + 4, 4); /* the request's token */
	return 8;
}

Test(coap_client, piggybacked_ack_completes)
{
	struct cli_fix x;
	uint8_t ack[16];
	cli_setup(&x, COAP_CON, 1);
	coap_client_request(&x.c, &x.env, SIM_MS(5));
	size_t n = make_ack(&x.f.d[0], COAP_CHANGED, ack);
	coap_client_recv(&x.c, &x.env, SIM_MS(205), ack, n);
	cr_assert_eq(x.f.done_n, 1);
	cr_assert_eq(x.f.last_r, COAP_RES_COMPLETED);
	cr_assert_eq(x.f.last_now - x.f.last_x.first_tx, SIM_MS(200));
	cr_assert_eq(coap_client_expiry(&x.c, 1), SIM_TIME_NEVER);
	/* A duplicate ACK later changes nothing. */
	coap_client_recv(&x.c, &x.env, SIM_MS(300), ack, n);
	cr_assert_eq(x.f.done_n, 1);
	cr_assert_eq(x.f.n, 1);
}

Test(coap_client, ack_with_wrong_token_is_not_a_response)
{
	struct cli_fix x;
	uint8_t ack[16];
	cli_setup(&x, COAP_CON, 1);
	coap_client_request(&x.c, &x.env, 0);
	size_t n = make_ack(&x.f.d[0], COAP_CHANGED, ack);
	ack[7] ^= 0xff;
	coap_client_recv(&x.c, &x.env, SIM_MS(10), ack, n);
	cr_assert_eq(x.f.done_n, 0);
}

Test(coap_client, separate_response)
{
	struct cli_fix x;
	uint8_t ack[16], resp[16];
	cli_setup(&x, COAP_CON, 1);
	coap_client_request(&x.c, &x.env, 0);
	size_t n = make_ack(&x.f.d[0], 0, ack);
	coap_client_recv(&x.c, &x.env, SIM_MS(100), ack, n);
	cr_assert_eq(x.f.done_n, 0);
	/* No retransmission after the empty ACK. */
	cr_assert_gt(coap_client_expiry(&x.c, 1), SIM_S(100));
	/* CON 2.04, MID 0x1234, same token. */
	resp[0] = 0x44; resp[1] = COAP_CHANGED; resp[2] = 0x12; resp[3] = 0x34;
	memcpy(resp + 4, x.f.d[0].buf + 4, 4);
	coap_client_recv(&x.c, &x.env, SIM_S(5), resp, 8);
	cr_assert_eq(x.f.done_n, 1);
	cr_assert_eq(x.f.last_r, COAP_RES_COMPLETED);
	cr_assert_eq(x.f.n, 2);
	/* The client ACKs it: empty ACK with the response's MID. */
	const uint8_t want[4] = {0x60, 0x00, 0x12, 0x34};
	cr_assert_eq(x.f.d[1].len, 4);
	cr_assert_arr_eq(x.f.d[1].buf, want, 4);
	/* A retransmitted separate response is ACKed again, not reset. */
	coap_client_recv(&x.c, &x.env, SIM_S(8), resp, 8);
	cr_assert_eq(x.f.n, 3);
	cr_assert_arr_eq(x.f.d[2].buf, want, 4);
	cr_assert_eq(x.f.done_n, 1);
}

Test(coap_client, rst_fails_exchange)
{
	struct cli_fix x;
	cli_setup(&x, COAP_CON, 1);
	coap_client_request(&x.c, &x.env, 0);
	uint8_t rst[4] = {0x70, 0x00, x.f.d[0].buf[2], x.f.d[0].buf[3]};
	coap_client_recv(&x.c, &x.env, SIM_MS(50), rst, 4);
	cr_assert_eq(x.f.done_n, 1);
	cr_assert_eq(x.f.last_r, COAP_RES_RESET);
}

Test(coap_client, nstart_one_queues_the_second_message)
{
	struct cli_fix x;
	uint8_t ack[16];
	cli_setup(&x, COAP_CON, 1);
	coap_client_request(&x.c, &x.env, 0);
	coap_client_request(&x.c, &x.env, SIM_MS(1));
	cr_assert_eq(x.f.n, 1, "NSTART=1: one outstanding interaction");
	cr_assert_eq(x.c.backlog, 1);
	size_t n = make_ack(&x.f.d[0], COAP_CHANGED, ack);
	coap_client_recv(&x.c, &x.env, SIM_MS(200), ack, n);
	cr_assert_eq(x.f.n, 2);
	cr_assert_eq(mid_of(&x.f.d[1]), (uint16_t)(mid_of(&x.f.d[0]) + 1));
	cr_assert_neq(memcmp(x.f.d[1].buf + 4, x.f.d[0].buf + 4, 4), 0,
		      "a new token for the new request");
}

Test(coap_client, nstart_two_sends_both)
{
	struct cli_fix x;
	cli_setup(&x, COAP_CON, 2);
	coap_client_request(&x.c, &x.env, 0);
	coap_client_request(&x.c, &x.env, 0);
	coap_client_request(&x.c, &x.env, 0);
	cr_assert_eq(x.f.n, 2);
	cr_assert_eq(x.c.backlog, 1);
}

Test(coap_client, non_request_is_sent_once)
{
	struct cli_fix x;
	cli_setup(&x, COAP_NON, 1);
	coap_client_request(&x.c, &x.env, 0);
	coap_client_request(&x.c, &x.env, SIM_MS(1));
	cr_assert_eq(x.f.n, 2);
	cr_assert_eq(x.f.d[0].buf[0], 0x54); /* Ver 1, T=NON (1), TKL 4 */
	cr_assert_eq(coap_client_expiry(&x.c, 1), SIM_TIME_NEVER);
	cr_assert_eq(x.f.last_r, COAP_RES_SENT);
}

Test(coap_client, malformed_con_gets_rst_and_garbage_is_ignored)
{
	struct cli_fix x;
	cli_setup(&x, COAP_CON, 1);
	/* CON, TKL 0, 2.05, MID 0xbeef, then option nibble 15 (format error) */
	const uint8_t bad[] = {0x40, 0x45, 0xbe, 0xef, 0xf1, 0x00};
	coap_client_recv(&x.c, &x.env, 0, bad, sizeof(bad));
	cr_assert_eq(x.f.n, 1);
	const uint8_t rst[4] = {0x70, 0x00, 0xbe, 0xef};
	cr_assert_arr_eq(x.f.d[0].buf, rst, 4);
	/* NON with the same error: silently ignored (§4.3). */
	const uint8_t bad_non[] = {0x50, 0x45, 0xbe, 0xef, 0xf1, 0x00};
	coap_client_recv(&x.c, &x.env, 0, bad_non, sizeof(bad_non));
	cr_assert_eq(x.f.n, 1);
	/* Random bytes never crash and never complete anything. */
	struct sim_rng r;
	sim_rng_init(&r, 1, 2, RNG_APP);
	uint8_t junk[64];
	for (int i = 0; i < 20000; i++) {
		size_t len = sim_rng_u64(&r) % sizeof(junk);
		for (size_t k = 0; k < len; k++)
			junk[k] = (uint8_t)sim_rng_u64(&r);
		x.f.n = 0;
		coap_client_recv(&x.c, &x.env, 0, junk, len);
	}
	cr_assert_eq(x.f.done_n, 0);
}

/* ---- server ---- */

struct srv_fix {
	struct fake f;
	struct coap_params p;
	struct sim_rng rng;
	struct dist proc;
	struct coap_srv_env env;
	struct coap_pending slots[COAP_MAX_NSTART];
	struct coap_observer obs;
	struct coap_srv_session s;
};

static void srv_setup(struct srv_fix *x, double proc_ns, sim_time separate_after)
{
	memset(x, 0, sizeof(*x));
	x->p = (struct coap_params){.ack_timeout = SIM_S(2), .ack_random_factor = 1.5,
				    .max_retransmit = 4, .nstart = 1};
	coap_params_derive(&x->p);
	sim_rng_init(&x->rng, 42, 7, RNG_SERVER);
	x->proc = (struct dist){.kind = proc_ns > 0 ? SIM_DIST_CONST : SIM_DIST_NONE, .a = proc_ns};
	x->env = (struct coap_srv_env){.p = &x->p, .cb = &srv_cb, .ud = &x->f,
				       .rng = &x->rng, .processing = &x->proc,
				       .separate_after = separate_after, .obs = &x->obs};
	coap_srv_session_init(&x->s, x->slots, &x->env);
}

/* CON POST, MID 0x0102, token 0xa1a2a3a4, Uri-Path "s", payload "hi". */
static const uint8_t con_post[] = {0x44, 0x02, 0x01, 0x02, 0xa1, 0xa2, 0xa3, 0xa4,
				   0xb1, 's', 0xff, 'h', 'i'};

Test(coap_server, piggybacked_response_and_duplicate)
{
	struct srv_fix x;
	srv_setup(&x, 0, SIM_S(1));
	coap_srv_session_recv(&x.s, &x.env, SIM_MS(100), con_post, sizeof(con_post));
	cr_assert_eq(x.f.requests, 1);
	cr_assert_eq(x.f.n, 1);
	/* ACK, TKL 4, 2.04 Changed, same MID, same token, nothing else. */
	const uint8_t want[] = {0x64, 0x44, 0x01, 0x02, 0xa1, 0xa2, 0xa3, 0xa4};
	cr_assert_eq(x.f.d[0].len, sizeof(want));
	cr_assert_arr_eq(x.f.d[0].buf, want, sizeof(want));
	/* §4.5: a duplicate within EXCHANGE_LIFETIME gets the same response and
	 * is not handed to the application again. */
	coap_srv_session_recv(&x.s, &x.env, SIM_S(3), con_post, sizeof(con_post));
	cr_assert_eq(x.f.requests, 1);
	cr_assert_eq(x.f.n, 2);
	cr_assert_arr_eq(x.f.d[1].buf, want, sizeof(want));
	cr_assert_eq(x.f.dedup_answers, 1, "an answer from the duplicate memory");
	/* After EXCHANGE_LIFETIME (247 s) the MID is new again. */
	coap_srv_session_recv(&x.s, &x.env, SIM_MS(100) + SIM_S(248), con_post,
			      sizeof(con_post));
	cr_assert_eq(x.f.requests, 2);
	cr_assert_eq(x.f.dedup_answers, 1, "a new request is no dedup answer");
}

Test(coap_server, separate_response_after_empty_ack)
{
	struct srv_fix x;
	srv_setup(&x, 3e9, SIM_S(1)); /* 3 s of processing, separate after 1 s */
	coap_srv_session_recv(&x.s, &x.env, 0, con_post, sizeof(con_post));
	cr_assert_eq(x.f.n, 0);
	/* A duplicate while the response may still be piggybacked: nothing
	 * goes out, so it is no dedup answer. */
	coap_srv_session_recv(&x.s, &x.env, SIM_MS(500), con_post, sizeof(con_post));
	cr_assert_eq(x.f.n, 0);
	cr_assert_eq(x.f.dedup_answers, 0);
	cr_assert_eq(coap_srv_session_expiry(&x.s, &x.env), SIM_S(1));
	coap_srv_session_expire(&x.s, &x.env, SIM_S(1));
	const uint8_t empty_ack[] = {0x60, 0x00, 0x01, 0x02};
	cr_assert_eq(x.f.n, 1);
	cr_assert_arr_eq(x.f.d[0].buf, empty_ack, 4);
	/* A duplicate request now is answered with the empty ACK again. */
	coap_srv_session_recv(&x.s, &x.env, SIM_S(2), con_post, sizeof(con_post));
	cr_assert_eq(x.f.n, 2);
	cr_assert_arr_eq(x.f.d[1].buf, empty_ack, 4);
	cr_assert_eq(x.f.dedup_answers, 1);
	cr_assert_eq(x.f.requests, 1);
	cr_assert_eq(coap_srv_session_expiry(&x.s, &x.env), SIM_S(3));
	coap_srv_session_expire(&x.s, &x.env, SIM_S(3));
	cr_assert_eq(x.f.n, 3);
	const uint8_t *r = x.f.d[2].buf;
	cr_assert_eq(r[0], 0x44); /* CON, TKL 4 */
	cr_assert_eq(r[1], COAP_CHANGED);
	cr_assert_arr_eq(r + 4, con_post + 4, 4);
	/* Retransmitted until ACKed. */
	sim_time t = coap_srv_session_expiry(&x.s, &x.env);
	cr_assert_geq(t, SIM_S(3) + SIM_S(2));
	cr_assert_leq(t, SIM_S(3) + SIM_S(3));
	coap_srv_session_expire(&x.s, &x.env, t);
	cr_assert_eq(x.f.n, 4);
	cr_assert_arr_eq(x.f.d[3].buf, x.f.d[2].buf, x.f.d[2].len);
	uint8_t ack[4] = {0x60, 0x00, r[2], r[3]};
	coap_srv_session_recv(&x.s, &x.env, t + SIM_MS(1), ack, 4);
	cr_assert_eq(coap_srv_session_expiry(&x.s, &x.env), SIM_TIME_NEVER);
}

Test(coap_server, unknown_critical_option_is_4_02)
{
	struct srv_fix x;
	srv_setup(&x, 0, SIM_S(1));
	/* CON GET MID 5, no token, option 9 (critical, unassigned), len 0 */
	const uint8_t req[] = {0x40, 0x01, 0x00, 0x05, 0x90};
	coap_srv_session_recv(&x.s, &x.env, 0, req, sizeof(req));
	cr_assert_eq(x.f.n, 1);
	cr_assert_eq(x.f.d[0].buf[1], COAP_BAD_OPTION);
	cr_assert_eq(x.f.requests, 0);
}

Test(coap_server, ping_gets_rst)
{
	struct srv_fix x;
	srv_setup(&x, 0, SIM_S(1));
	const uint8_t ping[] = {0x40, 0x00, 0x12, 0x34};
	coap_srv_session_recv(&x.s, &x.env, 0, ping, sizeof(ping));
	const uint8_t rst[] = {0x70, 0x00, 0x12, 0x34};
	cr_assert_eq(x.f.n, 1);
	cr_assert_arr_eq(x.f.d[0].buf, rst, 4);
}

Test(coap_server, non_request_gets_non_response)
{
	struct srv_fix x;
	srv_setup(&x, 0, SIM_S(1));
	uint8_t req[sizeof(con_post)];
	memcpy(req, con_post, sizeof(req));
	req[0] = 0x54; /* NON */
	coap_srv_session_recv(&x.s, &x.env, 0, req, sizeof(req));
	cr_assert_eq(x.f.n, 1);
	cr_assert_eq(x.f.d[0].buf[0], 0x54);
	cr_assert_eq(x.f.d[0].buf[1], COAP_CHANGED);
	cr_assert_arr_eq(x.f.d[0].buf + 4, req + 4, 4);
	/* Duplicate NON: dropped silently, not delivered twice. */
	coap_srv_session_recv(&x.s, &x.env, SIM_S(1), req, sizeof(req));
	cr_assert_eq(x.f.n, 1);
	cr_assert_eq(x.f.requests, 1);
	cr_assert_eq(x.f.dedup_answers, 0);
}

Test(coap_server, random_bytes_never_crash)
{
	struct srv_fix x;
	srv_setup(&x, 0, SIM_S(1));
	struct sim_rng r;
	sim_rng_init(&r, 9, 9, RNG_APP);
	uint8_t junk[64];
	for (int i = 0; i < 20000; i++) {
		size_t len = sim_rng_u64(&r) % sizeof(junk);
		for (size_t k = 0; k < len; k++)
			junk[k] = (uint8_t)sim_rng_u64(&r);
		x.f.n = 0;
		coap_srv_session_recv(&x.s, &x.env, (sim_time)i, junk, len);
		cr_assert_leq(x.f.n, 1);
	}
}

/* ---- Observe on the server (RFC 7641) ---- */

static int unobserved_timeouts;
static void f_unobserved(void *ud, struct coap_srv_session *s, bool timed_out,
			 sim_time now)
{
	(void)ud;
	(void)s;
	(void)now;
	unobserved_timeouts += timed_out;
}

static uint32_t observe_of(const struct sent *d)
{
	struct coap_msg m;
	uint32_t v = UINT32_MAX;
	cr_assert_eq(coap_parse(&m, d->buf, d->len), 0);
	const struct coap_option *o = coap_msg_find(&m, COAP_OPT_OBSERVE, NULL);
	if (o)
		coap_opt_uint(o, &v);
	return v;
}

Test(coap_server, con_notifications_replace_and_time_out)
{
	static const struct coap_srv_session_cb cb = {f_srv_send, f_srv_request, NULL,
						      f_unobserved, f_srv_dedup_answer};
	struct srv_fix x;
	srv_setup(&x, 0, SIM_S(1));
	x.env.cb = &cb;
	x.env.notify_interval = SIM_S(10);
	x.env.notify_con = true;
	x.env.notify_con_interval = SIM_S(86400);
	x.env.notify_until = SIM_S(100000);
	unobserved_timeouts = 0;
	/* CON GET /s with Observe = 0 (option 6, zero length), token 0xa1a2a3a4 */
	const uint8_t reg[] = {0x44, 0x01, 0x00, 0x07, 0xa1, 0xa2, 0xa3, 0xa4,
			       0x60, 0x51, 's'};
	coap_srv_session_recv(&x.s, &x.env, 0, reg, sizeof(reg));
	cr_assert_eq(x.f.n, 1);
	uint32_t seq0 = observe_of(&x.f.d[0]);
	cr_assert_neq(seq0, UINT32_MAX, "the registration response carries Observe");
	cr_assert_eq(coap_srv_session_expiry(&x.s, &x.env), SIM_S(10));
	coap_srv_session_expire(&x.s, &x.env, SIM_S(10));
	cr_assert_eq(x.f.n, 2);
	cr_assert_eq(x.f.d[1].buf[0] >> 4 & 3, COAP_CON);
	cr_assert_eq(observe_of(&x.f.d[1]), seq0 + 1);
	/* Not acknowledged: retransmitted after [2 s, 3 s]. */
	sim_time t = coap_srv_session_expiry(&x.s, &x.env);
	cr_assert(t >= SIM_S(12) && t <= SIM_S(13));
	coap_srv_session_expire(&x.s, &x.env, t);
	cr_assert_eq(x.f.n, 3);
	cr_assert_eq(observe_of(&x.f.d[2]), seq0 + 1);
	/* Retransmissions due before 20 s still carry the old state. */
	while ((t = coap_srv_session_expiry(&x.s, &x.env)) < SIM_S(20)) {
		coap_srv_session_expire(&x.s, &x.env, t);
		cr_assert_eq(observe_of(&x.f.d[x.f.n - 1]), seq0 + 1);
	}
	/* At 20 s the resource changes again while the CON is in flight: the
	 * newer state replaces it and goes out with the next retransmission. */
	int before = x.f.n;
	coap_srv_session_expire(&x.s, &x.env, SIM_S(20));
	cr_assert_eq(x.f.n, before, "nothing new goes out while one CON is in flight");
	t = coap_srv_session_expiry(&x.s, &x.env);
	coap_srv_session_expire(&x.s, &x.env, t);
	cr_assert_eq(observe_of(&x.f.d[x.f.n - 1]), seq0 + 2);
	/* Keep ignoring it: after MAX_RETRANSMIT retransmissions the observer
	 * is removed (§4.5). */
	for (int i = 0; i < 40 && !unobserved_timeouts; i++) {
		t = coap_srv_session_expiry(&x.s, &x.env);
		x.f.n = 0;
		coap_srv_session_expire(&x.s, &x.env, t);
	}
	cr_assert_eq(unobserved_timeouts, 1);
	cr_assert_eq(coap_srv_session_expiry(&x.s, &x.env), SIM_TIME_NEVER);
}

Test(coap_server, rst_to_a_notification_deregisters)
{
	static const struct coap_srv_session_cb cb = {f_srv_send, f_srv_request, NULL,
						      f_unobserved, f_srv_dedup_answer};
	struct srv_fix x;
	srv_setup(&x, 0, SIM_S(1));
	x.env.cb = &cb;
	x.env.notify_interval = SIM_S(10);
	x.env.notify_con = false;
	x.env.notify_con_interval = SIM_S(86400);
	x.env.notify_until = SIM_S(100000);
	const uint8_t reg[] = {0x44, 0x01, 0x00, 0x07, 0xa1, 0xa2, 0xa3, 0xa4,
			       0x60, 0x51, 's'};
	coap_srv_session_recv(&x.s, &x.env, 0, reg, sizeof(reg));
	coap_srv_session_expire(&x.s, &x.env, SIM_S(10));
	cr_assert_eq(x.f.n, 2);
	cr_assert_eq(x.f.d[1].buf[0] >> 4 & 3, COAP_NON);
	uint8_t rst[4] = {0x70, 0x00, x.f.d[1].buf[2], x.f.d[1].buf[3]};
	coap_srv_session_recv(&x.s, &x.env, SIM_S(11), rst, 4);
	cr_assert_eq(coap_srv_session_expiry(&x.s, &x.env), SIM_TIME_NEVER, "no observer left");
}

/* RFC 7252 §5.8: GET and DELETE carry no body; POST and PUT carry the
 * scenario's payload.  A DELETE of /sensors/7 is 4 header + 4 token +
 * 8 + 2 Uri-Path bytes = 18, with no payload marker. */
Test(coap_client, only_post_and_put_carry_a_body)
{
	static const struct {
		uint8_t code;
		size_t len;
	} want[] = {{COAP_GET, 18}, {COAP_DELETE, 18}, {COAP_POST, 35}, {COAP_PUT, 35}};
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		struct cli_fix x;
		cli_setup(&x, COAP_CON, 1);
		x.req.code = want[i].code;
		coap_client_request(&x.c, &x.env, 0);
		cr_assert_eq(x.f.n, 1);
		cr_assert_eq(x.f.d[0].len, want[i].len, "code %u: %zu bytes, want %zu",
			     want[i].code, x.f.d[0].len, want[i].len);
		cr_assert_eq(x.f.d[0].buf[1], want[i].code);
	}
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

/* §4.2: the initial timeout is uniform on [ACK_TIMEOUT, ACK_TIMEOUT x
 * ACK_RANDOM_FACTOR] = [2 s, 3 s].  4,000 first transmissions: every
 * draw in range, the mean within 4 standard errors of 2.5 s (sd of a
 * uniform of width 1 s is 1/sqrt(12) s), and the Kolmogorov-Smirnov
 * distance to the uniform CDF under 1.63/sqrt(n) (the 1% critical value). */
Test(coap_client, initial_timeout_is_uniform_over_the_random_factor)
{
	enum { N = 4000 };
	static double u[N];
	struct cli_fix x;
	cli_setup(&x, COAP_CON, 1);
	double sum = 0;
	for (int i = 0; i < N; i++) {
		struct sim_rng keep = x.rng;
		cli_setup(&x, COAP_CON, 1);
		x.rng = keep; /* one stream, so each draw is fresh */
		coap_client_request(&x.c, &x.env, 0);
		sim_time t = coap_client_expiry(&x.c, 1);
		cr_assert_geq(t, SIM_S(2));
		cr_assert_leq(t, SIM_S(3));
		u[i] = (double)(t - SIM_S(2)) / (double)SIM_S(1);
		sum += u[i] + 2;
	}
	double mean = sum / N, se = 1 / sqrt(12.0) / sqrt((double)N);
	cr_assert_lt(fabs(mean - 2.5), 4 * se, "mean %g s", mean);
	qsort(u, N, sizeof(u[0]), cmp_double);
	double d = 0;
	for (int i = 0; i < N; i++) {
		double lo = u[i] - (double)i / N, hi = (double)(i + 1) / N - u[i];
		d = fmax(d, fmax(lo, hi));
	}
	cr_assert_lt(d, 1.63 / sqrt((double)N), "KS distance %g", d);
}
