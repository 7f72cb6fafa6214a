/* CoAP endpoints, sans-I/O: the client (CON/NON, retransmission, NSTART,
 * Observe, block-wise) and the server session (dedup, separate responses,
 * notifications).  Knows no clock, socket, engine or scenario: see coap_ep.h. */
#include "coap_ep.h"

#include <stdio.h>
#include <string.h>

/* §4.8.2: MAX_LATENCY is 100 s; PROCESSING_DELAY is taken as ACK_TIMEOUT. */
#define MAX_LATENCY SIM_S(100)

void coap_params_derive(struct coap_params *p)
{
	double at = (double)p->ack_timeout, rf = p->ack_random_factor;
	double span = at * (double)((1ull << p->max_retransmit) - 1) * rf;
	double wait = at * (double)((2ull << p->max_retransmit) - 1) * rf;

	p->max_transmit_span = (sim_time)span;
	p->max_transmit_wait = (sim_time)wait;
	p->exchange_lifetime = p->max_transmit_span + 2 * MAX_LATENCY + p->ack_timeout;
	p->non_lifetime = p->max_transmit_span + MAX_LATENCY;
}

/* The initial timeout, drawn once per message from
 * [ACK_TIMEOUT, ACK_TIMEOUT * ACK_RANDOM_FACTOR] (§4.2). */
static sim_time initial_timeout(const struct coap_params *p, struct sim_rng *rng)
{
	double f = 1.0 + (p->ack_random_factor - 1.0) * sim_rng_unit(rng);
	return (sim_time)((double)p->ack_timeout * f);
}

static void put_be32(uint8_t *b, uint32_t v)
{
	b[0] = v >> 24; b[1] = v >> 16; b[2] = v >> 8; b[3] = v;
}

/* Four bytes, big-endian (one load and a byte swap). */
static inline uint32_t be32(const uint8_t *b)
{
	return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

static uint32_t get_be32(const uint8_t *b, uint8_t len)
{
	uint32_t v = 0;
	for (uint8_t i = 0; i < len; i++)
		v = v << 8 | b[i];
	return v;
}

/* Payload bytes: the content does not matter to the model, only the size. */
static const uint8_t zeros[SIM_MAX_DATAGRAM];

/* The 4-byte header (§3) of a message with tkl token bytes, as
 * coap_encode() writes it. */
static inline void put_header(uint8_t *b, uint8_t type, uint8_t code,
			      uint16_t mid, uint8_t tkl)
{
	b[0] = (uint8_t)(1 << 6 | (type & 3) << 4 | tkl);
	b[1] = code;
	b[2] = (uint8_t)(mid >> 8);
	b[3] = (uint8_t)mid;
}

/* Encode something small that has no exchange (ACK, RST): the header
 * alone, what coap_encode() makes of an Empty message. */
static int encode_empty(uint8_t *buf, size_t cap, uint8_t type, uint16_t mid)
{
	if (cap < COAP_HDR_LEN)
		return SIM_ERR_NOSPACE;
	put_header(buf, type, COAP_EMPTY, mid, 0);
	return COAP_HDR_LEN;
}

/* A message we cannot parse: §4.2/§4.3 say reject a CON (RST) and silently
 * ignore anything else.  We can only answer when the header is readable. */
static int reject_malformed(const uint8_t *buf, size_t len, uint8_t *out,
			    size_t cap)
{
	if (len < COAP_HDR_LEN || (buf[0] >> 6) != 1 || ((buf[0] >> 4) & 3) != COAP_CON)
		return 0;
	return encode_empty(out, cap, COAP_RST, (uint16_t)(buf[2] << 8 | buf[3]));
}

/* ---------------------------------------------------------------- client */

void coap_client_init(struct coap_client *c, struct coap_exch *slots,
		      const struct coap_client_env *env)
{
	uint64_t r = sim_rng_u64(env->rng);

	*c = (struct coap_client){0};
	c->ex = slots;
	for (uint32_t i = 0; i < env->p->nstart; i++)
		slots[i] = (struct coap_exch){.deadline = SIM_TIME_NEVER};
	c->next_mid = (uint16_t)r;
	c->next_token = (uint32_t)(r >> 32);
}

/* One Uri-Path option per segment of path (the options point into it). */
static void add_uri_path(struct coap_msg *m, const char *path)
{
	const char *seg = path;

	for (const char *s = path;; s++) {
		if (*s && *s != '/')
			continue;
		/* A '/' or the end closes the segment; empty ones are skipped. */
		if (s > seg)
			coap_msg_add_opt(m, COAP_OPT_URI_PATH, seg, (uint16_t)(s - seg));
		if (!*s)
			return;
		seg = s + 1;
	}
}

static uint8_t szx_of(uint32_t block_size)
{
	uint8_t szx = 0;
	while ((16u << szx) < block_size && szx < 6)
		szx++;
	return szx;
}

/* Does this request move its body block by block (RFC 7959 Block1)? */
/* Only POST and PUT carry a body (RFC 7252 §5.8: GET and DELETE have
 * none to send). */
static bool has_body(const struct coap_req_tmpl *t)
{
	return t->code == COAP_POST || t->code == COAP_PUT;
}

static bool uses_block1(const struct coap_req_tmpl *t)
{
	return has_body(t) && t->block_size && t->payload > t->block_size;
}

/* v in decimal at p (no terminator); returns the digits written.  On
 * every request's path, so neither snprintf's generality nor a digit at a
 * time: the digits are counted, then written from the last back, two a
 * step from a table. */
static size_t put_dec(char *p, uint32_t v)
{
	static const char pairs[201] = "00010203040506070809101112131415161718192021222324"
				       "25262728293031323334353637383940414243444546474849"
				       "50515253545556575859606162636465666768697071727374"
				       "75767778798081828384858687888990919293949596979899";
	size_t n = 1 + (v >= 10) + (v >= 100) + (v >= 1000) + (v >= 10000) +
		   (v >= 100000) + (v >= 1000000) + (v >= 10000000) +
		   (v >= 100000000) + (v >= 1000000000);
	char *q = p + n;

	for (; v >= 100; v /= 100) {
		q -= 2;
		memcpy(q, pairs + 2 * (v % 100), 2);
	}
	if (v >= 10)
		memcpy(q - 2, pairs + 2 * v, 2);
	else
		q[-1] = (char)('0' + v);
	return n;
}

void coap_req_tmpl_prepare(struct coap_req_tmpl *t)
{
	const char *p = t->path ? t->path : "";
	uint8_t n = 0, text = 0;

	/* A segment ends at each '/' and at the end; "{id}" is a piece of
	 * its own; the bytes between are runs of text.  The path is at most
	 * COAP_MAX_PATH - 1 bytes, so there are at most COAP_MAX_PATH
	 * pieces before the last end. */
	for (uint8_t i = 0;; i++) {
		bool end = !p[i] || p[i] == '/' || i >= COAP_MAX_PATH - 1;
		bool id = !end && p[i] == '{' && p[i + 1] == 'i' && p[i + 2] == 'd' &&
			  p[i + 3] == '}';
		if (!end && !id)
			continue;
		if (i > text)
			t->piece[n++] = (struct coap_path_piece){COAP_PIECE_TEXT, text,
								 (uint8_t)(i - text)};
		if (id) {
			t->piece[n++] = (struct coap_path_piece){COAP_PIECE_ID, 0, 0};
			i += 3;
			text = (uint8_t)(i + 1);
			continue;
		}
		t->piece[n++] = (struct coap_path_piece){COAP_PIECE_END, 0, 0};
		if (!p[i] || i >= COAP_MAX_PATH - 1)
			break;
		text = (uint8_t)(i + 1);
	}
	t->n_piece = n;
}

static void send_request(struct coap_client *c, const struct coap_client_env *env,
			 struct coap_exch *x, bool retx)
{
	const struct coap_req_tmpl *t = env->req;
	struct coap_req_tmpl cut;
	uint8_t tok[4], obs[4], b1[4], sz1[4], b2[4], buf[SIM_MAX_DATAGRAM];
	/* Each 4-byte {id} becomes at most 10 digits. */
	char path[COAP_MAX_PATH * 5 / 2], *d = path, *seg = path;
	struct coap_msg m;
	uint8_t code = x->kind == COAP_KIND_REQUEST ? t->code : COAP_GET;

	if (!t->n_piece) {
		cut = *t;
		coap_req_tmpl_prepare(&cut);
		t = &cut;
	}
	put_be32(tok, x->token);
	coap_msg_init(&m, x->kind == COAP_KIND_REQUEST ? t->type : COAP_CON, code, x->mid,
		      tok, sizeof(tok));

	/* The path with {id} replaced goes into path[] piece by piece, and
	 * each non-empty segment becomes a Uri-Path option (pointing into
	 * path[]) at its end. */
	for (uint8_t i = 0; i < t->n_piece; i++) {
		const struct coap_path_piece *pc = &t->piece[i];
		if (pc->kind == COAP_PIECE_TEXT) {
			memcpy(d, t->path + pc->off, pc->len);
			d += pc->len;
		} else if (pc->kind == COAP_PIECE_ID) {
			d += put_dec(d, env->id);
		} else {
			if (d > seg)
				coap_msg_add_opt(&m, COAP_OPT_URI_PATH, seg,
						 (uint16_t)(d - seg));
			seg = d;
		}
	}
	if (x->kind != COAP_KIND_REQUEST) {
		coap_msg_add_uint(&m, COAP_OPT_OBSERVE, x->kind == COAP_KIND_OBS_REG ? 0 : 1, obs);
	} else if (uses_block1(t)) {
		/* RFC 7959 §2.5: block NUM of SZX bytes, M while more follow;
		 * Size1 (§4) announces the whole body in the first block. */
		uint32_t bs = t->block_size, off = x->blk * bs;
		uint32_t chunk = t->payload - off < bs ? t->payload - off : bs;
		struct coap_block b = {x->blk, off + chunk < t->payload, szx_of(bs)};
		coap_msg_add_uint(&m, COAP_OPT_BLOCK1, coap_block_encode(&b), b1);
		if (x->blk == 0)
			coap_msg_add_uint(&m, COAP_OPT_SIZE1, t->payload, sz1);
		m.payload = zeros;
		m.payload_len = chunk;
	} else if (code == COAP_GET && t->block_size) {
		/* §2.4: ask for block NUM; the server's M says if more follow. */
		struct coap_block b = {x->blk, false, szx_of(t->block_size)};
		coap_msg_add_uint(&m, COAP_OPT_BLOCK2, coap_block_encode(&b), b2);
	} else if (has_body(t) && t->payload) {
		m.payload = zeros;
		m.payload_len = t->payload;
	}
	int len = coap_encode(&m, buf, sizeof(buf));
	if (len > 0)
		env->cb->send(env->ud, c, buf, (size_t)len, x, retx);
}

/* Put the current block (or message) on the wire for the first time. */
static void transmit_first(struct coap_client *c, const struct coap_client_env *env,
			   struct coap_exch *x, sim_time now)
{
	x->mid = c->next_mid++;
	x->tx = 1;
	x->total_tx++;
	x->state = COAP_EXCH_WAIT_ACK;
	x->tx0 = now;
	if (env->cc)
		x->timeout = cocoa_initial_timeout(env->cc, now, c->n_active,
						   env->p->ack_random_factor, env->rng,
						   &x->vbf);
	else
		x->timeout = initial_timeout(env->p, env->rng);
	x->rto0_us = (uint32_t)(x->timeout / 1000);
	x->deadline = now + x->timeout;
	send_request(c, env, x, false);
}

static struct coap_exch *free_slot(struct coap_client *c, uint32_t nstart)
{
	for (uint32_t i = 0; i < nstart; i++)
		if (c->ex[i].state == COAP_EXCH_FREE)
			return &c->ex[i];
	return NULL;
}

static void start_exchange(struct coap_client *c, const struct coap_client_env *env,
			   sim_time now, uint8_t kind)
{
	struct coap_exch *x = free_slot(c, env->p->nstart);

	if (!x)
		return;
	*x = (struct coap_exch){.first_tx = now, .kind = kind};
	x->token = kind == COAP_KIND_OBS_DEREG ? c->obs_token : c->next_token++;
	if (kind != COAP_KIND_REQUEST || env->req->type == COAP_CON) {
		c->n_active++;
		transmit_first(c, env, x, now);
	} else {
		/* A NON request is fire-and-forget: it does not hold an NSTART
		 * slot once sent, and its (NON) response is not awaited. */
		x->mid = c->next_mid++;
		x->tx = 1;
		x->total_tx = 1;
		send_request(c, env, x, false);
		x->state = COAP_EXCH_FREE;
		x->deadline = SIM_TIME_NEVER;
		env->cb->done(env->ud, c, x, COAP_RES_SENT, NULL, now);
	}
}

/* The backlog holds application messages; observe requests go first. */
void coap_client_request(struct coap_client *c, const struct coap_client_env *env,
			 sim_time now)
{
	if (c->n_active < env->p->nstart && c->backlog == 0)
		start_exchange(c, env, now, COAP_KIND_REQUEST);
	else
		c->backlog++;
}

void coap_client_observe(struct coap_client *c, const struct coap_client_env *env,
			 sim_time now)
{
	if (c->n_active < env->p->nstart)
		start_exchange(c, env, now, COAP_KIND_OBS_REG);
}

void coap_client_cancel_observe(struct coap_client *c,
				const struct coap_client_env *env, sim_time now)
{
	if (!c->obs_active)
		return;
	c->obs_active = 0;
	if (c->n_active < env->p->nstart)
		start_exchange(c, env, now, COAP_KIND_OBS_DEREG);
}

static void finish(struct coap_client *c, const struct coap_client_env *env,
		   struct coap_exch *x, enum coap_result r,
		   const struct coap_msg *resp, sim_time now)
{
	struct coap_exch copy = *x;

	x->state = COAP_EXCH_FREE;
	x->deadline = SIM_TIME_NEVER;
	c->n_active--;
	env->cb->done(env->ud, c, &copy, r, resp, now);
	while (c->backlog && c->n_active < env->p->nstart) {
		c->backlog--;
		start_exchange(c, env, now, COAP_KIND_REQUEST);
	}
}

/* A response to exchange x arrived (piggybacked or separate): go on with
 * the next block, or end the exchange. */
static void on_response(struct coap_client *c, const struct coap_client_env *env,
			struct coap_exch *x, const struct coap_msg *m, sim_time now)
{
	const struct coap_req_tmpl *t = env->req;
	const struct coap_option *o;
	struct coap_block b;

	if (m->code == COAP_CONTINUE && x->kind == COAP_KIND_REQUEST && uses_block1(t)) {
		/* §2.3: 2.31 Continue asks for the next block. */
		if ((x->blk + 1) * t->block_size < t->payload) {
			x->blk++;
			transmit_first(c, env, x, now);
			return;
		}
	}
	if (x->kind == COAP_KIND_REQUEST && t->code == COAP_GET && t->block_size &&
	    COAP_CODE_CLASS(m->code) == 2 &&
	    (o = coap_msg_find(m, COAP_OPT_BLOCK2, NULL)) &&
	    coap_block_decode(o, &b) == 0 && b.num == x->blk && b.more) {
		x->blk++;
		transmit_first(c, env, x, now);
		return;
	}
	if (x->kind == COAP_KIND_OBS_REG && COAP_CODE_CLASS(m->code) == 2 &&
	    (o = coap_msg_find(m, COAP_OPT_OBSERVE, NULL))) {
		uint32_t seq = 0;
		coap_opt_uint(o, &seq);
		c->obs_active = 1;
		c->obs_token = x->token;
		c->obs_seq = seq;
		c->obs_time = now;
	}
	finish(c, env, x, COAP_CODE_CLASS(m->code) == 2 ? COAP_RES_COMPLETED
							: COAP_RES_ERROR,
	       m, now);
}

static struct coap_exch *by_mid(struct coap_client *c, uint32_t nstart,
				uint16_t mid)
{
	for (uint32_t i = 0; i < nstart; i++)
		if (c->ex[i].state != COAP_EXCH_FREE && c->ex[i].mid == mid)
			return &c->ex[i];
	return NULL;
}

static struct coap_exch *by_token(struct coap_client *c, uint32_t nstart,
				  const struct coap_msg *m)
{
	if (m->tkl != 4)
		return NULL;
	/* Our tokens are 4 bytes, big-endian (put_be32). */
	uint32_t tok = be32(m->token);
	for (uint32_t i = 0; i < nstart; i++)
		if (c->ex[i].state != COAP_EXCH_FREE && c->ex[i].token == tok)
			return &c->ex[i];
	return NULL;
}

/* by_token(c, nstart, m) == x, for an active x, without the search: m
 * carries x's token and no active exchange before x holds the same one. */
static inline bool token_of(const struct coap_client *c,
			    const struct coap_exch *x, const struct coap_msg *m)
{
	if (m->tkl != 4 || be32(m->token) != x->token)
		return false; /* our tokens are 4 bytes, big-endian (put_be32) */
	for (const struct coap_exch *y = c->ex; y < x; y++)
		if (y->state != COAP_EXCH_FREE && y->token == x->token)
			return false;
	return true;
}

static void client_send_empty(struct coap_client *c,
			      const struct coap_client_env *env, uint8_t type,
			      uint16_t mid)
{
	uint8_t buf[COAP_HDR_LEN];
	if (encode_empty(buf, sizeof(buf), type, mid) > 0)
		env->cb->send(env->ud, c, buf, sizeof(buf), NULL, false);
}

/* RFC 7641 §3.4: is notification V2 (received now) newer than V1 (at T1)? */
static bool fresher(uint32_t v1, sim_time t1, uint32_t v2, sim_time now)
{
	const uint32_t half = 1u << 23;
	return (v1 < v2 && v2 - v1 < half) || (v1 > v2 && v1 - v2 > half) ||
	       now > t1 + SIM_S(128);
}

/* A notification (a response with Observe) outside any exchange. */
static void on_notification(struct coap_client *c, const struct coap_client_env *env,
			    const struct coap_msg *m, const struct coap_option *o,
			    sim_time now)
{
	uint32_t seq = 0;

	if (!c->obs_active || m->tkl != 4 || get_be32(m->token, 4) != c->obs_token) {
		/* §3.6: reject what we no longer want; that deregisters us. */
		if (m->type == COAP_CON)
			client_send_empty(c, env, COAP_RST, m->mid);
		return;
	}
	if (m->type == COAP_CON)
		client_send_empty(c, env, COAP_ACK, m->mid);
	coap_opt_uint(o, &seq);
	bool fresh = fresher(c->obs_seq, c->obs_time, seq, now);
	if (fresh) {
		c->obs_seq = seq;
		c->obs_time = now;
	}
	if (env->cb->notified)
		env->cb->notified(env->ud, c, seq, fresh, m->type == COAP_CON, now);
}

void coap_client_recv(struct coap_client *c, const struct coap_client_env *env,
		      sim_time now, const uint8_t *buf, size_t len)
{
	uint32_t nstart = env->p->nstart;
	const struct coap_option *obs;
	struct coap_exch *x;
	struct coap_msg m;

	if (coap_parse(&m, buf, len) < 0) {
		uint8_t rst[COAP_HDR_LEN];
		if (reject_malformed(buf, len, rst, sizeof(rst)) > 0)
			env->cb->send(env->ud, c, rst, sizeof(rst), NULL, false);
		return;
	}

	switch (m.type) {
	case COAP_ACK:
		x = by_mid(c, nstart, m.mid);
		if (!x || x->state != COAP_EXCH_WAIT_ACK)
			return; /* late or duplicate ACK */
		if (env->cc) /* CoCoA learns from every ACK, empty or not */
			cocoa_on_response(env->cc, now, now - x->tx0, x->tx);
		if (m.code == COAP_EMPTY) {
			/* §5.2.2: the response will come separately. */
			x->state = COAP_EXCH_WAIT_SEPARATE;
			x->deadline = now + env->p->exchange_lifetime;
			return;
		}
		if (COAP_CODE_CLASS(m.code) < 2 || !token_of(c, x, &m))
			return; /* an ACK must carry the request's token */
		on_response(c, env, x, &m, now);
		return;
	case COAP_RST:
		x = by_mid(c, nstart, m.mid);
		if (x)
			finish(c, env, x, COAP_RES_RESET, NULL, now);
		return;
	case COAP_CON:
	case COAP_NON:
		if (COAP_CODE_CLASS(m.code) < 2) {
			/* Requests and pings: this endpoint is no server. */
			if (m.type == COAP_CON)
				client_send_empty(c, env, COAP_RST, m.mid);
			return;
		}
		x = by_token(c, nstart, &m);
		obs = coap_msg_find(&m, COAP_OPT_OBSERVE, NULL);
		if (obs && !(x && x->kind == COAP_KIND_OBS_REG && x->state == COAP_EXCH_WAIT_SEPARATE)) {
			on_notification(c, env, &m, obs, now);
			return;
		}
		if (m.type == COAP_CON) {
			if (x || (c->have_last_con && c->last_con_mid == m.mid)) {
				client_send_empty(c, env, COAP_ACK, m.mid);
				c->have_last_con = 1;
				c->last_con_mid = m.mid;
			} else {
				client_send_empty(c, env, COAP_RST, m.mid);
			}
		}
		if (x)
			on_response(c, env, x, &m, now);
		return;
	}
}

void coap_client_expire(struct coap_client *c, const struct coap_client_env *env,
			sim_time now)
{
	const struct coap_params *p = env->p;

	for (uint32_t i = 0; i < p->nstart; i++) {
		struct coap_exch *x = &c->ex[i];
		if (x->state == COAP_EXCH_FREE || x->deadline > now)
			continue;
		if (x->state == COAP_EXCH_WAIT_ACK && x->tx <= p->max_retransmit) {
			x->tx++;
			x->total_tx++;
			x->timeout = env->cc ? cocoa_backoff(x->timeout, x->vbf)
					     : x->timeout * 2;
			x->deadline = now + x->timeout;
			send_request(c, env, x, true);
		} else {
			finish(c, env, x, COAP_RES_TIMEOUT, NULL, now);
		}
	}
}

sim_time coap_client_expiry(const struct coap_client *c, uint32_t nstart)
{
	sim_time t = SIM_TIME_NEVER;

	if (!c->n_active)
		return t;
	for (uint32_t i = 0; i < nstart; i++)
		if (c->ex[i].state != COAP_EXCH_FREE && c->ex[i].deadline < t)
			t = c->ex[i].deadline;
	return t;
}

/* ---------------------------------------------------------------- server */

void coap_srv_session_init(struct coap_srv_session *s, struct coap_pending *slots,
			   const struct coap_srv_env *env)
{
	*s = (struct coap_srv_session){0};
	s->pend = slots; /* zeroed: free, and read only once n_pend > 0 */
	s->next_mid = (uint16_t)sim_rng_u64(env->rng);
}

static uint8_t response_code(uint8_t method)
{
	switch (method) {
	case COAP_GET: return COAP_CONTENT;
	case COAP_POST: return COAP_CHANGED;
	case COAP_PUT: return COAP_CHANGED;
	case COAP_DELETE: return COAP_DELETED;
	default: return COAP_METHOD_NOT_ALLOWED;
	}
}

/* A response with options or a payload, through the codec. */
static void srv_send_encoded(struct coap_srv_session *s,
			     const struct coap_srv_env *env, uint8_t type,
			     uint8_t code, uint16_t mid, const uint8_t *token,
			     uint8_t tkl, const struct coap_resp_extra *ex)
{
	uint8_t buf[SIM_MAX_DATAGRAM], ob[4], bb[4], sb[4];
	struct coap_msg m;

	coap_msg_init(&m, type, code, mid, token, tkl);
	if (ex->has_obs)
		coap_msg_add_uint(&m, COAP_OPT_OBSERVE, ex->obs, ob);
	if (ex->blk_opt)
		coap_msg_add_uint(&m, ex->blk_opt, ex->blk_val, bb);
	if (ex->size_opt)
		coap_msg_add_uint(&m, ex->size_opt, ex->size_val, sb);
	if (ex->payload) {
		m.payload = zeros;
		m.payload_len = ex->payload;
	}
	int len = coap_encode(&m, buf, sizeof(buf));
	if (len > 0)
		env->cb->send(env->ud, s, buf, (size_t)len);
}

/* token is a whole COAP_MAX_TOKEN array (a message's, a pending request's
 * or the observer's), of which the first tkl bytes are the token. */
static inline void srv_send_response(struct coap_srv_session *s,
				     const struct coap_srv_env *env, uint8_t type,
				     uint8_t code, uint16_t mid,
				     const uint8_t token[COAP_MAX_TOKEN],
				     uint8_t tkl, const struct coap_resp_extra *ex)
{
	uint8_t hb[COAP_HDR_LEN + COAP_MAX_TOKEN];

	if (ex && (ex->has_obs | ex->blk_opt | ex->size_opt | (ex->payload != 0))) {
		srv_send_encoded(s, env, type, code, mid, token, tkl, ex);
		return;
	}
	/* No options, no payload (a 2.04 to a POST, an error code): the
	 * header and the token are the whole message, as coap_encode()
	 * would write it. */
	if (tkl > COAP_MAX_TOKEN)
		tkl = COAP_MAX_TOKEN; /* as coap_msg_init() clips it */
	put_header(hb, type, code, mid, tkl);
	memcpy(hb + COAP_HDR_LEN, token, COAP_MAX_TOKEN);
	env->cb->send(env->ud, s, hb, (size_t)COAP_HDR_LEN + tkl);
}

#define OPT_BIT(num) (1ull << (num))

/* Critical (odd) option numbers the server recognises (§5.4.1); all are
 * below 64. */
#define KNOWN_CRITICAL                                                        \
	(OPT_BIT(COAP_OPT_IF_MATCH) | OPT_BIT(COAP_OPT_URI_HOST) |             \
	 OPT_BIT(COAP_OPT_IF_NONE_MATCH) | OPT_BIT(COAP_OPT_URI_PORT) |        \
	 OPT_BIT(COAP_OPT_URI_PATH) | OPT_BIT(COAP_OPT_URI_QUERY) |            \
	 OPT_BIT(COAP_OPT_ACCEPT) | OPT_BIT(COAP_OPT_BLOCK2) |                 \
	 OPT_BIT(COAP_OPT_BLOCK1))
#define ODD_BELOW_64 0xaaaaaaaaaaaaaaaaull

/* The options the server acts upon (the elective ones too). */
#define LOOKED_AT                                                             \
	(OPT_BIT(COAP_OPT_OBSERVE) | OPT_BIT(COAP_OPT_BLOCK1) |               \
	 OPT_BIT(COAP_OPT_BLOCK2) | OPT_BIT(COAP_OPT_SIZE1))

/* The options of a request the server looks at, from one pass over them
 * (each the first of its number, as coap_msg_find() gives it, or NULL). */
struct req_opts {
	const struct coap_option *observe, *block1, *block2, *size1;
	bool unknown_critical; /* §5.4.1: answer 4.02 */
};

static inline const struct coap_option *
find_if_seen(const struct coap_msg *m, uint64_t seen, uint16_t num)
{
	return seen & OPT_BIT(num) ? coap_msg_find(m, num, NULL) : NULL;
}

/* Which option numbers below 64 occur is a bit set; a critical option
 * number from 64 up is unknown to us in any case.  opt[] is sorted by
 * number (coap_parse), so the options from 64 up are the last ones. */
static void scan_request_opts(const struct coap_msg *m, struct req_opts *ro)
{
	const struct coap_option *o = m->opt, *end = m->opt + m->n_opt;
	uint64_t seen = 0;
	bool high_critical = false;

	for (; o < end && o->num < 64; o++)
		seen |= OPT_BIT(o->num);
	for (; o < end; o++)
		if (coap_opt_is_critical(o->num))
			high_critical = true;
	*ro = (struct req_opts){
		.unknown_critical = high_critical ||
				    (seen & ODD_BELOW_64 & ~KNOWN_CRITICAL) != 0,
	};
	if (!(seen & LOOKED_AT))
		return; /* the usual request: Uri-Path options only */
	ro->observe = find_if_seen(m, seen, COAP_OPT_OBSERVE);
	ro->block1 = find_if_seen(m, seen, COAP_OPT_BLOCK1);
	ro->block2 = find_if_seen(m, seen, COAP_OPT_BLOCK2);
	ro->size1 = find_if_seen(m, seen, COAP_OPT_SIZE1);
}

/* What a response with this code to this request carries (RFC 7959 block
 * options echoed or served, Size1/Size2, the GET representation).  A pure
 * function of the request, so a duplicate gets the same answer. */
static inline void response_extra(const struct coap_srv_env *env,
				  const struct req_opts *ro, uint8_t code,
				  struct coap_resp_extra *ex)
{
	const struct coap_option *o;
	struct coap_block b;

	*ex = (struct coap_resp_extra){0};
	if (code == COAP_REQUEST_TOO_LARGE) {
		ex->size_opt = COAP_OPT_SIZE1; /* §2.9.3: the largest we take */
		ex->size_val = env->max_body;
		return;
	}
	if ((o = ro->block1) && coap_block_decode(o, &b) == 0 &&
	    COAP_CODE_CLASS(code) == 2) {
		b.more = code == COAP_CONTINUE && b.more;
		ex->blk_opt = COAP_OPT_BLOCK1;
		ex->blk_val = coap_block_encode(&b);
	}
	if (code != COAP_CONTENT)
		return;
	ex->payload = env->get_payload;
	if ((o = ro->block2) && coap_block_decode(o, &b) == 0) {
		uint32_t bs = coap_block_size(b.szx), off = b.num * bs;
		uint32_t total = env->get_payload;
		ex->payload = off < total ? (total - off < bs ? total - off : bs) : 0;
		b.more = off + bs < total;
		ex->blk_opt = COAP_OPT_BLOCK2;
		ex->blk_val = coap_block_encode(&b);
		if (b.num == 0) {
			ex->size_opt = COAP_OPT_SIZE2;
			ex->size_val = total;
		}
	}
}

static void srv_send_empty(struct coap_srv_session *s,
			   const struct coap_srv_env *env, uint8_t type,
			   uint16_t mid)
{
	uint8_t buf[COAP_HDR_LEN];
	if (encode_empty(buf, sizeof(buf), type, mid) > 0)
		env->cb->send(env->ud, s, buf, sizeof(buf));
}

/* Almost every request is new, so every slot is looked at: the MID test,
 * which fails for nearly all of them, comes first, and the loop is
 * unrolled. */
static struct coap_dedup *dedup_find(struct coap_srv_session *s, uint16_t mid,
				     sim_time now)
{
#pragma GCC unroll 16
	for (int i = 0; i < COAP_DEDUP_SLOTS; i++) {
		struct coap_dedup *d = &s->dedup[i];
		if (d->mid == mid && d->state != COAP_DEDUP_FREE && d->expiry > now)
			return d;
	}
	return NULL;
}

bool coap_srv_session_seen(const struct coap_srv_session *s, uint16_t mid, sim_time now)
{
#pragma GCC unroll 16
	for (int i = 0; i < COAP_DEDUP_SLOTS; i++) {
		const struct coap_dedup *d = &s->dedup[i];
		if (d->mid == mid && d->state != COAP_DEDUP_FREE && d->expiry > now)
			return true;
	}
	return false;
}

/* The oldest slot is reused: the table is a ring in arrival order. */
static uint8_t dedup_add(struct coap_srv_session *s, const struct coap_params *p,
			 uint16_t mid, uint8_t type, sim_time now)
{
	uint8_t i = s->dedup_next;

	s->dedup_next = (uint8_t)((i + 1) % COAP_DEDUP_SLOTS);
	s->dedup[i] = (struct coap_dedup){
		.mid = mid, .type = type, .state = COAP_DEDUP_PROCESSING,
		.expiry = now + (type == COAP_CON ? p->exchange_lifetime
						  : p->non_lifetime),
	};
	return i;
}

/* Answer a duplicate request from what the table remembers (§4.5). */
static void answer_duplicate(struct coap_srv_session *s,
			     const struct coap_srv_env *env, struct coap_dedup *d,
			     const struct coap_msg *m, const struct req_opts *ro,
			     sim_time now)
{
	struct coap_resp_extra ex;

	if (m->type != COAP_CON)
		return; /* a duplicate NON is silently dropped */
	switch (d->state) {
	case COAP_DEDUP_PIGGYBACKED:
		response_extra(env, ro, d->code, &ex);
		if (s->obs_active && ro->observe &&
		    env->obs->tkl == m->tkl && !memcmp(env->obs->token, m->token, m->tkl)) {
			ex.has_obs = 1; /* a repeated registration is still one */
			ex.obs = env->obs->seq;
		}
		srv_send_response(s, env, COAP_ACK, d->code, m->mid, m->token, m->tkl, &ex);
		break;
	case COAP_DEDUP_SEPARATE:
		srv_send_empty(s, env, COAP_ACK, m->mid);
		break;
	case COAP_DEDUP_PROCESSING:
		if (!d->acked)
			return; /* the piggybacked response is on its way */
		srv_send_empty(s, env, COAP_ACK, m->mid);
		break;
	}
	if (env->cb->dedup_answer)
		env->cb->dedup_answer(env->ud, s, now);
}

static void pend_release(struct coap_srv_session *s, struct coap_pending *pd)
{
	pd->state = COAP_PEND_FREE;
	pd->deadline = SIM_TIME_NEVER;
	s->n_pend--;
}

/* Send the response of a pending request whose processing just ended. */
static void respond(struct coap_srv_session *s, const struct coap_srv_env *env,
		    struct coap_pending *pd, sim_time now)
{
	struct coap_dedup *d = &s->dedup[pd->dedup];
	bool dedup_valid = d->state == COAP_DEDUP_PROCESSING && d->mid == pd->req_mid;

	if (pd->req_type == COAP_CON && !pd->acked) {
		srv_send_response(s, env, COAP_ACK, pd->code, pd->req_mid,
				  pd->token, pd->tkl, &pd->extra);
		if (dedup_valid) {
			d->state = COAP_DEDUP_PIGGYBACKED;
			d->code = pd->code;
		}
		pend_release(s, pd);
		return;
	}
	pd->resp_mid = s->next_mid++;
	if (dedup_valid)
		d->state = COAP_DEDUP_SEPARATE;
	if (pd->req_type == COAP_NON) {
		srv_send_response(s, env, COAP_NON, pd->code, pd->resp_mid,
				  pd->token, pd->tkl, &pd->extra);
		pend_release(s, pd);
		return;
	}
	/* A separate response is itself confirmable and retransmitted. */
	pd->state = COAP_PEND_SEPARATE_WAIT_ACK;
	pd->tx = 1;
	pd->timeout = initial_timeout(env->p, env->rng);
	pd->deadline = now + pd->timeout;
	srv_send_response(s, env, COAP_CON, pd->code, pd->resp_mid, pd->token,
			  pd->tkl, &pd->extra);
}

static void unobserve(struct coap_srv_session *s, const struct coap_srv_env *env,
		      bool timed_out, sim_time now)
{
	if (!s->obs_active)
		return;
	s->obs_active = 0;
	env->obs->in_flight = 0;
	if (env->cb->unobserved)
		env->cb->unobserved(env->ud, s, timed_out, now);
}

/* RFC 7959 Block1 on the server: blocks must come in order (else 4.08) and
 * the body must fit max_body (else 4.13).  Returns the response code, and
 * whether the application gets the request now (the last block). */
static uint8_t block1_code(struct coap_srv_session *s, const struct coap_srv_env *env,
			   const struct coap_msg *m, const struct req_opts *ro,
			   uint8_t final_code, bool *deliver)
{
	const struct coap_option *o = ro->block1, *sz;
	struct coap_block b;
	uint32_t size1 = 0;

	*deliver = true;
	if (!o)
		return final_code;
	if (coap_block_decode(o, &b) < 0)
		return COAP_BAD_OPTION;
	uint32_t bs = coap_block_size(b.szx);
	if ((sz = ro->size1))
		coap_opt_uint(sz, &size1);
	if (size1 > env->max_body || (uint64_t)(b.num + 1) * bs > env->max_body + bs ||
	    (uint64_t)b.num * bs + m->payload_len > env->max_body) {
		s->b1_active = 0;
		return COAP_REQUEST_TOO_LARGE;
	}
	if (b.num == 0) {
		s->b1_active = 1;
		s->b1_next = 0;
	}
	if (!s->b1_active || b.num != s->b1_next) {
		s->b1_active = 0;
		return COAP_REQUEST_INCOMPLETE; /* §2.9.2 */
	}
	if (b.more) {
		s->b1_next++;
		*deliver = false;
		return COAP_CONTINUE;
	}
	s->b1_active = 0;
	return final_code;
}

static void handle_request(struct coap_srv_session *s,
			   const struct coap_srv_env *env, const struct coap_msg *m,
			   sim_time now)
{
	struct coap_dedup *d = dedup_find(s, m->mid, now);
	struct req_opts ro;
	struct coap_resp_extra ex;
	bool deliver = true;
	uint8_t code;

	scan_request_opts(m, &ro);
	const struct coap_option *obs_opt = ro.observe, *b2 = ro.block2;
	if (d) {
		answer_duplicate(s, env, d, m, &ro, now);
		return;
	}
	uint8_t di = dedup_add(s, env->p, m->mid, m->type, now);
	d = &s->dedup[di];
	if (ro.unknown_critical) {
		code = COAP_BAD_OPTION;
		deliver = false;
	} else {
		code = block1_code(s, env, m, &ro, response_code(m->code), &deliver);
		if (COAP_CODE_CLASS(code) == 4)
			deliver = false;
		if (b2 && m->code == COAP_GET) {
			struct coap_block b;
			if (coap_block_decode(b2, &b) < 0 ||
			    (uint64_t)b.num * coap_block_size(b.szx) >= env->get_payload + (b.num == 0)) {
				code = COAP_BAD_REQUEST;
				deliver = false;
			} else if (b.num > 0) {
				deliver = false; /* the application saw block 0 */
			}
		}
	}
	if (deliver)
		env->cb->request(env->ud, s, m, now);
	response_extra(env, &ro, code, &ex);

	/* RFC 7641 §3.1 / §3.6: register or cancel an observer. */
	if (obs_opt && m->code == COAP_GET && code == COAP_CONTENT) {
		uint32_t v = 0;
		coap_opt_uint(obs_opt, &v);
		if (v == 0 && env->notify_interval && env->obs) {
			struct coap_observer *o = env->obs;
			s->obs_active = 1;
			o->in_flight = 0;
			o->tkl = m->tkl;
			memcpy(o->token, m->token, m->tkl);
			o->seq = (o->seq + 1) & 0xffffff;
			o->next_notify = now + env->notify_interval;
			if (o->next_notify >= env->notify_until)
				o->next_notify = SIM_TIME_NEVER;
			o->last_con = now;
			ex.has_obs = 1;
			ex.obs = o->seq;
		} else if (v == 1 && s->obs_active && env->obs->tkl == m->tkl &&
			   !memcmp(env->obs->token, m->token, m->tkl)) {
			unobserve(s, env, false, now);
		}
	}

	sim_time delay = (sim_time)sim_rng_dist(env->rng, env->processing);
	if (delay == 0) {
		uint8_t type = m->type == COAP_CON ? COAP_ACK : COAP_NON;
		uint16_t mid = m->type == COAP_CON ? m->mid : s->next_mid++;
		srv_send_response(s, env, type, code, mid, m->token, m->tkl, &ex);
		d->state = COAP_DEDUP_PIGGYBACKED;
		d->code = code;
		return;
	}

	struct coap_pending *pd = NULL;
	for (uint32_t i = 0; i < env->p->nstart; i++) {
		if (s->pend[i].state == COAP_PEND_FREE) {
			pd = &s->pend[i];
			break;
		}
	}
	if (!pd) {
		/* More concurrent requests than NSTART allows this peer. */
		uint8_t type = m->type == COAP_CON ? COAP_ACK : COAP_NON;
		uint16_t mid = m->type == COAP_CON ? m->mid : s->next_mid++;
		srv_send_response(s, env, type, COAP_CODE(5, 3), mid, m->token, m->tkl,
				  NULL);
		d->state = COAP_DEDUP_PIGGYBACKED;
		d->code = COAP_CODE(5, 3);
		return;
	}
	*pd = (struct coap_pending){
		.state = COAP_PEND_PROCESSING, .ready_at = now + delay,
		.req_type = m->type, .code = code, .tkl = m->tkl,
		.dedup = di, .req_mid = m->mid, .extra = ex,
	};
	memcpy(pd->token, m->token, m->tkl);
	s->n_pend++;
	/* §5.2.2: a CON request that will take long gets an empty ACK first. */
	if (m->type == COAP_CON && delay > env->separate_after)
		pd->deadline = now + env->separate_after;
	else
		pd->deadline = pd->ready_at;
}

void coap_srv_session_recv(struct coap_srv_session *s,
			   const struct coap_srv_env *env, sim_time now,
			   const uint8_t *buf, size_t len)
{
	struct coap_msg m;

	if (coap_parse(&m, buf, len) < 0) {
		uint8_t rst[COAP_HDR_LEN];
		if (reject_malformed(buf, len, rst, sizeof(rst)) > 0)
			env->cb->send(env->ud, s, rst, sizeof(rst));
		return;
	}
	if (m.type == COAP_ACK || m.type == COAP_RST) {
		/* The peer confirms (or rejects) a separate response... */
		for (uint32_t i = 0; s->n_pend && i < env->p->nstart; i++) {
			struct coap_pending *pd = &s->pend[i];
			if (pd->state == COAP_PEND_SEPARATE_WAIT_ACK && pd->resp_mid == m.mid)
				pend_release(s, pd);
		}
		/* ...or a CON notification; an RST cancels the observation
		 * (RFC 7641 §3.6), whatever notification it answers. */
		if (s->obs_active && m.type == COAP_RST)
			unobserve(s, env, false, now);
		else if (s->obs_active && env->obs->in_flight && m.mid == env->obs->mid)
			env->obs->in_flight = 0;
		return;
	}
	if (m.code == COAP_EMPTY) {
		if (m.type == COAP_CON) /* CoAP ping (§4.3) */
			srv_send_empty(s, env, COAP_RST, m.mid);
		return;
	}
	if (COAP_CODE_CLASS(m.code) != 0) {
		/* A response sent to the server: nothing asked for it. */
		if (m.type == COAP_CON)
			srv_send_empty(s, env, COAP_RST, m.mid);
		return;
	}
	handle_request(s, env, &m, now);
}

static void send_notification(struct coap_srv_session *s,
			      const struct coap_srv_env *env, uint8_t type)
{
	const struct coap_observer *o = env->obs;
	struct coap_resp_extra ex = {.payload = env->get_payload, .has_obs = 1,
				     .obs = o->seq};
	srv_send_response(s, env, type, COAP_CONTENT, o->mid, o->token, o->tkl, &ex);
}

/* RFC 7641 §4.5: the resource changed: notify, as CON when the group says
 * so or when no CON went out for notify_con_interval.  A change while a CON
 * notification is still unacknowledged replaces it: the newer state goes
 * out at the next retransmission, keeping its counter and timeout (§4.5.2). */
static void observe_expire(struct coap_srv_session *s, const struct coap_srv_env *env,
			   sim_time now)
{
	struct coap_observer *o = env->obs;

	if (o->in_flight && o->deadline <= now) {
		if (o->tx > env->p->max_retransmit) {
			unobserve(s, env, true, now); /* §4.5: the client is gone */
			return;
		}
		o->tx++;
		o->timeout *= 2;
		o->deadline = now + o->timeout;
		o->mid = s->next_mid++; /* the content may be newer: a new message */
		send_notification(s, env, COAP_CON);
	}
	if (!s->obs_active || o->next_notify > now)
		return;
	o->seq = (o->seq + 1) & 0xffffff;
	o->next_notify += env->notify_interval;
	if (o->next_notify >= env->notify_until)
		o->next_notify = SIM_TIME_NEVER; /* the scenario is over */
	bool con = env->notify_con || now >= o->last_con + env->notify_con_interval;
	if (env->cb->notify)
		env->cb->notify(env->ud, s, o->seq, con || o->in_flight, now);
	if (o->in_flight)
		return; /* goes out with the next retransmission */
	o->mid = s->next_mid++;
	if (con) {
		o->in_flight = 1;
		o->tx = 1;
		o->timeout = initial_timeout(env->p, env->rng);
		o->deadline = now + o->timeout;
		o->last_con = now;
	}
	send_notification(s, env, con ? COAP_CON : COAP_NON);
}

void coap_srv_session_expire(struct coap_srv_session *s,
			     const struct coap_srv_env *env, sim_time now)
{
	const struct coap_params *p = env->p;

	for (uint32_t i = 0; s->n_pend && i < p->nstart; i++) {
		struct coap_pending *pd = &s->pend[i];
		if (pd->state == COAP_PEND_FREE || pd->deadline > now)
			continue;
		if (pd->state == COAP_PEND_PROCESSING) {
			if (now >= pd->ready_at) {
				respond(s, env, pd, now);
			} else {
				/* separate_after passed: empty ACK now. */
				srv_send_empty(s, env, COAP_ACK, pd->req_mid);
				pd->acked = 1;
				struct coap_dedup *d = &s->dedup[pd->dedup];
				if (d->mid == pd->req_mid)
					d->acked = 1;
				pd->deadline = pd->ready_at;
			}
		} else if (pd->tx <= p->max_retransmit) {
			pd->tx++;
			pd->timeout *= 2;
			pd->deadline = now + pd->timeout;
			srv_send_response(s, env, COAP_CON, pd->code, pd->resp_mid,
					  pd->token, pd->tkl, &pd->extra);
		} else {
			pend_release(s, pd);
		}
	}
	if (s->obs_active)
		observe_expire(s, env, now);
}

sim_time coap_srv_session_expiry(const struct coap_srv_session *s,
				 const struct coap_srv_env *env)
{
	sim_time t = SIM_TIME_NEVER;

	if (s->obs_active) {
		t = env->obs->next_notify;
		if (env->obs->in_flight && env->obs->deadline < t)
			t = env->obs->deadline;
	}
	if (!s->n_pend)
		return t;
	for (uint32_t i = 0; i < env->p->nstart; i++)
		if (s->pend[i].state != COAP_PEND_FREE && s->pend[i].deadline < t)
			t = s->pend[i].deadline;
	return t;
}

/* ------------------------------------------------------ group communication */

void coap_mc_member_init(struct coap_mc_member *m, struct sim_rng *rng)
{
	*m = (struct coap_mc_member){.deadline = SIM_TIME_NEVER};
	m->next_mid = (uint16_t)sim_rng_u64(rng);
}

void coap_mc_member_recv(struct coap_mc_member *m, const struct coap_mc_member_env *env,
			 sim_time now, const uint8_t *buf, size_t len)
{
	struct coap_msg req;

	/* §8.1: a multicast request is NON; a member never answers one with
	 * RST, malformed or not. */
	if (coap_parse(&req, buf, len) < 0 || req.type != COAP_NON || req.code != COAP_GET)
		return;
	if (m->pending)
		return; /* still waiting to answer the previous one */
	m->pending = 1;
	m->tkl = req.tkl;
	memcpy(m->token, req.token, req.tkl);
	m->deadline = now + (sim_time)((double)env->leisure * sim_rng_unit(env->rng));
}

void coap_mc_member_expire(struct coap_mc_member *m,
			   const struct coap_mc_member_env *env, sim_time now)
{
	uint8_t buf[SIM_MAX_DATAGRAM];
	struct coap_msg r;

	if (!m->pending || m->deadline > now)
		return;
	m->pending = 0;
	m->deadline = SIM_TIME_NEVER;
	coap_msg_init(&r, COAP_NON, COAP_CONTENT, m->next_mid++, m->token, m->tkl);
	if (env->payload) {
		r.payload = zeros;
		r.payload_len = env->payload;
	}
	int n = coap_encode(&r, buf, sizeof(buf));
	if (n > 0)
		env->cb->send(env->ud, m, buf, (size_t)n);
}

sim_time coap_leisure_lower_bound(uint32_t s, uint32_t g, double rate_bytes_s)
{
	if (rate_bytes_s <= 0)
		return 0; /* no bottleneck: no implosion to spread out */
	return (sim_time)((double)s * (double)g / rate_bytes_s * 1e9);
}

int coap_mc_request(struct coap_mc_requester *r, const char *path, uint8_t *buf,
		    size_t cap, uint32_t *token)
{
	uint8_t tok[4];
	struct coap_msg m;
	char p[COAP_MAX_PATH];

	*token = r->next_token++;
	put_be32(tok, *token);
	coap_msg_init(&m, COAP_NON, COAP_GET, r->next_mid++, tok, sizeof(tok));
	snprintf(p, sizeof(p), "%s", path);
	add_uri_path(&m, p);
	return coap_encode(&m, buf, cap);
}

int64_t coap_mc_response_token(const uint8_t *buf, size_t len)
{
	struct coap_msg m;

	if (coap_parse(&m, buf, len) < 0 || COAP_CODE_CLASS(m.code) < 2 || m.tkl != 4)
		return -1;
	return (int64_t)get_be32(m.token, 4);
}
