/* libFuzzer target: the CoAP decoder, the canonical re-encoding, and both
 * endpoints fed the same bytes.  Any crash, sanitizer report or failed
 * round trip is a bug. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../sim/coap/coap_ep.h"
#include "../../sim/coap/coap_msg.h"

static void no_send_c(void *ud, struct coap_client *c, const uint8_t *buf,
		      size_t len, const struct coap_exch *x, bool retx)
{
	(void)ud; (void)c; (void)x; (void)retx;
	struct coap_msg m;
	if (coap_parse(&m, buf, len) < 0) /* what we send must parse */
		abort();
}

static void no_done(void *ud, struct coap_client *c, const struct coap_exch *x,
		    enum coap_result r, const struct coap_msg *resp, sim_time now)
{
	(void)ud; (void)c; (void)x; (void)r; (void)resp; (void)now;
}

static void no_send_s(void *ud, struct coap_srv_session *s, const uint8_t *buf,
		      size_t len)
{
	(void)ud; (void)s;
	struct coap_msg m;
	if (coap_parse(&m, buf, len) < 0)
		abort();
}

static void no_send_m(void *ud, struct coap_mc_member *m, const uint8_t *buf,
		      size_t len)
{
	(void)ud; (void)m;
	struct coap_msg r;
	if (coap_parse(&r, buf, len) < 0)
		abort();
}

static void no_req(void *ud, struct coap_srv_session *s, const struct coap_msg *r,
		   sim_time now)
{
	(void)ud; (void)s; (void)r; (void)now;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t out[SIM_MAX_DATAGRAM];
	struct coap_msg m, m2;

	if (coap_parse(&m, data, size) == 0) {
		int n = coap_encode(&m, out, sizeof(out));
		if (n < 0 || (size_t)n != size || memcmp(out, data, size) != 0)
			abort(); /* parse + encode must give the same bytes back */
		if (coap_parse(&m2, out, (size_t)n) != 0 || m2.n_opt != m.n_opt ||
		    m2.code != m.code || m2.mid != m.mid || m2.payload_len != m.payload_len)
			abort();
		for (int i = 0; i < m.n_opt; i++) {
			struct coap_block b;
			uint32_t v;
			if (coap_block_decode(&m.opt[i], &b) == 0 &&
			    coap_block_encode(&b) >> 24)
				abort();
			(void)coap_opt_uint(&m.opt[i], &v);
		}
	}

	/* Both endpoints take any bytes, in any state, without failing. */
	struct coap_params p = {.ack_timeout = SIM_S(2), .ack_random_factor = 1.5,
				.max_retransmit = 4, .nstart = 1};
	coap_params_derive(&p);
	struct sim_rng rng;
	sim_rng_init(&rng, 1, 1, RNG_COAP);
	/* Block1 (40 bytes in 16-byte blocks) so block state is exercised. */
	struct coap_req_tmpl req = {.type = COAP_CON, .code = COAP_POST,
				    .path = "/s/{id}", .payload = 40, .block_size = 16};
	struct coap_client_cb ccb = {no_send_c, no_done, NULL};
	struct cocoa cc;
	cocoa_init(&cc);
	struct coap_client_env ce = {.p = &p, .req = &req, .cb = &ccb, .rng = &rng,
				     .id = 3, .cc = size & 1 ? &cc : NULL};
	struct coap_exch ex[1];
	struct coap_client c;
	coap_client_init(&c, ex, &ce);
	coap_client_request(&c, &ce, 0);
	coap_client_observe(&c, &ce, 0);
	coap_client_recv(&c, &ce, 1, data, size);
	coap_client_expire(&c, &ce, SIM_S(1000));
	coap_client_recv(&c, &ce, SIM_S(1001), data, size);

	/* A multicast member takes anything without answering badly. */
	struct coap_mc_member_cb mcb = {no_send_m};
	struct coap_mc_member_env me = {.cb = &mcb, .rng = &rng, .leisure = SIM_S(1),
					.payload = 4};
	struct coap_mc_member mm;
	coap_mc_member_init(&mm, &rng);
	coap_mc_member_recv(&mm, &me, 0, data, size);
	coap_mc_member_expire(&mm, &me, SIM_S(2));
	(void)coap_mc_response_token(data, size);

	struct dist proc = {SIM_DIST_CONST, 2e9, 0};
	struct coap_observer ob = {0};
	struct coap_srv_session_cb scb = {no_send_s, no_req, NULL, NULL, NULL};
	struct coap_srv_env se = {.p = &p, .cb = &scb, .rng = &rng, .processing = &proc,
				  .separate_after = SIM_S(1), .get_payload = 40,
				  .max_body = 64, .notify_interval = SIM_S(10),
				  .notify_con = true, .notify_con_interval = SIM_S(60),
				  .notify_until = SIM_S(100), .obs = &ob};
	struct coap_pending pd[1];
	struct coap_srv_session s;
	coap_srv_session_init(&s, pd, &se);
	coap_srv_session_recv(&s, &se, 0, data, size);
	coap_srv_session_recv(&s, &se, 1, data, size);
	coap_srv_session_expire(&s, &se, SIM_S(1));
	coap_srv_session_expire(&s, &se, SIM_S(3));
	coap_srv_session_recv(&s, &se, SIM_S(4), data, size);
	for (int i = 0; i < 8; i++) {
		sim_time t = coap_srv_session_expiry(&s, &se);
		if (t == SIM_TIME_NEVER)
			break;
		coap_srv_session_expire(&s, &se, t);
	}
	return 0;
}
