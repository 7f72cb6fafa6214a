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

static uint32_t get_be32(const uint8_t *b, uint8_t len)
{
	uint32_t v = 0;
	for (uint8_t i = 0; i < len; i++)
		v = v << 8 | b[i];
	return v;
}

/* Payload bytes: the content does not matter to the model, only the size. */
static const uint8_t zeros[SIM_MAX_DATAGRAM];

/* Encode and send something small that has no exchange (ACK, RST). */
static int encode_empty(uint8_t *buf, size_t cap, uint8_t type, uint16_t mid)
{
	struct coap_msg m;
	coap_msg_init(&m, type, COAP_EMPTY, mid, NULL, 0);
	return coap_encode(&m, buf, cap);
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

static void send_request(struct coap_client *c, const struct coap_client_env *env,
			 struct coap_exch *x, bool retx)
{
	const struct coap_req_tmpl *t = env->req;
	uint8_t tok[4], buf[SIM_MAX_DATAGRAM];
	char path[COAP_MAX_PATH + 16];
	struct coap_msg m;
	size_t n = 0;

	/* Uri-Path segments with {id} replaced. */
	for (const char *s = t->path; *s && n < sizeof(path) - 12; s++) {
		if (s[0] == '{' && !strncmp(s, "{id}", 4)) {
			n += (size_t)snprintf(path + n, sizeof(path) - n, "%u", env->id);
			s += 3;
		} else {
			path[n++] = *s;
		}
	}
	path[n] = 0;

	put_be32(tok, x->token);
	coap_msg_init(&m, t->type, t->code, x->mid, tok, sizeof(tok));
	for (char *seg = path; *seg;) {
		char *end;
		if (*seg == '/') {
			seg++;
			continue;
		}
		end = strchr(seg, '/');
		if (!end)
			end = seg + strlen(seg);
		coap_msg_add_opt(&m, COAP_OPT_URI_PATH, seg, (uint16_t)(end - seg));
		seg = end;
	}
	if (t->code != COAP_GET && t->payload) {
		m.payload = zeros;
		m.payload_len = t->payload;
	}
	int len = coap_encode(&m, buf, sizeof(buf));
	if (len > 0)
		env->cb->send(env->ud, c, buf, (size_t)len, x, retx);
}

static void start_exchange(struct coap_client *c, const struct coap_client_env *env,
			   sim_time now)
{
	const struct coap_params *p = env->p;
	struct coap_exch *x = NULL;

	for (uint32_t i = 0; i < p->nstart; i++) {
		if (c->ex[i].state == EXCH_FREE) {
			x = &c->ex[i];
			break;
		}
	}
	if (!x)
		return;
	x->mid = c->next_mid++;
	x->token = c->next_token++;
	x->first_tx = now;
	x->tx = 1;
	if (env->req->type == COAP_CON) {
		x->state = EXCH_WAIT_ACK;
		x->timeout = initial_timeout(p, env->rng);
		x->deadline = now + x->timeout;
		c->n_active++;
		send_request(c, env, x, false);
	} else {
		/* A NON request is fire-and-forget: it does not hold an NSTART
		 * slot once sent, and its (NON) response is not awaited. */
		x->state = EXCH_FREE;
		x->deadline = SIM_TIME_NEVER;
		send_request(c, env, x, false);
		env->cb->done(env->ud, c, x, COAP_RES_SENT, NULL, now);
	}
}

void coap_client_request(struct coap_client *c, const struct coap_client_env *env,
			 sim_time now)
{
	if (c->n_active < env->p->nstart && c->backlog == 0)
		start_exchange(c, env, now);
	else
		c->backlog++;
}

static void finish(struct coap_client *c, const struct coap_client_env *env,
		   struct coap_exch *x, enum coap_result r,
		   const struct coap_msg *resp, sim_time now)
{
	struct coap_exch copy = *x;

	x->state = EXCH_FREE;
	x->deadline = SIM_TIME_NEVER;
	c->n_active--;
	env->cb->done(env->ud, c, &copy, r, resp, now);
	while (c->backlog && c->n_active < env->p->nstart) {
		c->backlog--;
		start_exchange(c, env, now);
	}
}

static struct coap_exch *by_mid(struct coap_client *c, uint32_t nstart,
				uint16_t mid)
{
	for (uint32_t i = 0; i < nstart; i++)
		if (c->ex[i].state != EXCH_FREE && c->ex[i].mid == mid)
			return &c->ex[i];
	return NULL;
}

static struct coap_exch *by_token(struct coap_client *c, uint32_t nstart,
				  const struct coap_msg *m)
{
	if (m->tkl != 4)
		return NULL;
	uint32_t tok = get_be32(m->token, 4);
	for (uint32_t i = 0; i < nstart; i++)
		if (c->ex[i].state != EXCH_FREE && c->ex[i].token == tok)
			return &c->ex[i];
	return NULL;
}

static void client_send_empty(struct coap_client *c,
			      const struct coap_client_env *env, uint8_t type,
			      uint16_t mid)
{
	uint8_t buf[COAP_HDR_LEN];
	if (encode_empty(buf, sizeof(buf), type, mid) > 0)
		env->cb->send(env->ud, c, buf, sizeof(buf), NULL, false);
}

void coap_client_recv(struct coap_client *c, const struct coap_client_env *env,
		      sim_time now, const uint8_t *buf, size_t len)
{
	uint32_t nstart = env->p->nstart;
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
		if (!x || x->state != EXCH_WAIT_ACK)
			return; /* late or duplicate ACK */
		if (m.code == COAP_EMPTY) {
			/* §5.2.2: the response will come separately. */
			x->state = EXCH_WAIT_SEPARATE;
			x->deadline = now + env->p->exchange_lifetime;
			return;
		}
		if (COAP_CODE_CLASS(m.code) < 2 || by_token(c, nstart, &m) != x)
			return; /* an ACK must carry the request's token */
		finish(c, env, x, COAP_RES_COMPLETED, &m, now);
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
			finish(c, env, x, COAP_RES_COMPLETED, &m, now);
		return;
	}
}

void coap_client_expire(struct coap_client *c, const struct coap_client_env *env,
			sim_time now)
{
	const struct coap_params *p = env->p;

	for (uint32_t i = 0; i < p->nstart; i++) {
		struct coap_exch *x = &c->ex[i];
		if (x->state == EXCH_FREE || x->deadline > now)
			continue;
		if (x->state == EXCH_WAIT_ACK && x->tx <= p->max_retransmit) {
			x->tx++;
			x->timeout *= 2;
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
		if (c->ex[i].state != EXCH_FREE && c->ex[i].deadline < t)
			t = c->ex[i].deadline;
	return t;
}

/* ---------------------------------------------------------------- server */

void coap_srv_session_init(struct coap_srv_session *s, struct coap_pending *slots,
			   const struct coap_srv_env *env)
{
	*s = (struct coap_srv_session){0};
	s->pend = slots;
	for (uint32_t i = 0; i < env->p->nstart; i++)
		slots[i] = (struct coap_pending){.deadline = SIM_TIME_NEVER};
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

static void srv_send_response(struct coap_srv_session *s,
			      const struct coap_srv_env *env, uint8_t type,
			      uint8_t code, uint16_t mid, const uint8_t *token,
			      uint8_t tkl)
{
	uint8_t buf[SIM_MAX_DATAGRAM];
	struct coap_msg m;

	coap_msg_init(&m, type, code, mid, token, tkl);
	if (code == COAP_CONTENT && env->get_payload) {
		m.payload = zeros;
		m.payload_len = env->get_payload;
	}
	int len = coap_encode(&m, buf, sizeof(buf));
	if (len > 0)
		env->cb->send(env->ud, s, buf, (size_t)len);
}

static void srv_send_empty(struct coap_srv_session *s,
			   const struct coap_srv_env *env, uint8_t type,
			   uint16_t mid)
{
	uint8_t buf[COAP_HDR_LEN];
	if (encode_empty(buf, sizeof(buf), type, mid) > 0)
		env->cb->send(env->ud, s, buf, sizeof(buf));
}

static struct coap_dedup *dedup_find(struct coap_srv_session *s, uint16_t mid,
				     sim_time now)
{
	for (int i = 0; i < COAP_DEDUP_SLOTS; i++) {
		struct coap_dedup *d = &s->dedup[i];
		if (d->state != DEDUP_FREE && d->mid == mid && d->expiry > now)
			return d;
	}
	return NULL;
}

/* The oldest slot is reused: the table is a ring in arrival order. */
static uint8_t dedup_add(struct coap_srv_session *s, const struct coap_params *p,
			 uint16_t mid, uint8_t type, sim_time now)
{
	uint8_t i = s->dedup_next;

	s->dedup_next = (uint8_t)((i + 1) % COAP_DEDUP_SLOTS);
	s->dedup[i] = (struct coap_dedup){
		.mid = mid, .type = type, .state = DEDUP_PROCESSING,
		.expiry = now + (type == COAP_CON ? p->exchange_lifetime
						  : p->non_lifetime),
	};
	return i;
}

/* §5.4.1: an unrecognised critical option in a request is 4.02. */
static bool has_unknown_critical(const struct coap_msg *m)
{
	for (int i = 0; i < m->n_opt; i++) {
		uint16_t n = m->opt[i].num;
		if (!coap_opt_is_critical(n))
			continue;
		switch (n) {
		case COAP_OPT_IF_MATCH: case COAP_OPT_URI_HOST:
		case COAP_OPT_IF_NONE_MATCH: case COAP_OPT_URI_PORT:
		case COAP_OPT_URI_PATH: case COAP_OPT_URI_QUERY:
		case COAP_OPT_ACCEPT: case COAP_OPT_BLOCK2: case COAP_OPT_BLOCK1:
			continue;
		default:
			return true;
		}
	}
	return false;
}

/* Answer a duplicate request from what the table remembers (§4.5). */
static void answer_duplicate(struct coap_srv_session *s,
			     const struct coap_srv_env *env, struct coap_dedup *d,
			     const struct coap_msg *m)
{
	if (m->type != COAP_CON)
		return; /* a duplicate NON is silently dropped */
	switch (d->state) {
	case DEDUP_PIGGYBACKED:
		srv_send_response(s, env, COAP_ACK, d->code, m->mid, m->token, m->tkl);
		break;
	case DEDUP_SEPARATE:
		srv_send_empty(s, env, COAP_ACK, m->mid);
		break;
	case DEDUP_PROCESSING:
		if (d->acked)
			srv_send_empty(s, env, COAP_ACK, m->mid);
		break; /* else the piggybacked response is on its way */
	}
}

static void pend_release(struct coap_srv_session *s, struct coap_pending *pd)
{
	pd->state = PEND_FREE;
	pd->deadline = SIM_TIME_NEVER;
	s->n_pend--;
}

/* Send the response of a pending request whose processing just ended. */
static void respond(struct coap_srv_session *s, const struct coap_srv_env *env,
		    struct coap_pending *pd, sim_time now)
{
	struct coap_dedup *d = &s->dedup[pd->dedup];
	bool dedup_valid = d->state == DEDUP_PROCESSING && d->mid == pd->req_mid;

	if (pd->req_type == COAP_CON && !pd->acked) {
		srv_send_response(s, env, COAP_ACK, pd->code, pd->req_mid,
				  pd->token, pd->tkl);
		if (dedup_valid) {
			d->state = DEDUP_PIGGYBACKED;
			d->code = pd->code;
		}
		pend_release(s, pd);
		return;
	}
	pd->resp_mid = s->next_mid++;
	if (dedup_valid)
		d->state = DEDUP_SEPARATE;
	if (pd->req_type == COAP_NON) {
		srv_send_response(s, env, COAP_NON, pd->code, pd->resp_mid,
				  pd->token, pd->tkl);
		pend_release(s, pd);
		return;
	}
	/* A separate response is itself confirmable and retransmitted. */
	pd->state = PEND_SEPARATE_WAIT_ACK;
	pd->tx = 1;
	pd->timeout = initial_timeout(env->p, env->rng);
	pd->deadline = now + pd->timeout;
	srv_send_response(s, env, COAP_CON, pd->code, pd->resp_mid, pd->token,
			  pd->tkl);
}

static void handle_request(struct coap_srv_session *s,
			   const struct coap_srv_env *env, const struct coap_msg *m,
			   sim_time now)
{
	struct coap_dedup *d = dedup_find(s, m->mid, now);
	uint8_t code;

	if (d) {
		answer_duplicate(s, env, d, m);
		return;
	}
	uint8_t di = dedup_add(s, env->p, m->mid, m->type, now);
	d = &s->dedup[di];
	if (has_unknown_critical(m)) {
		code = COAP_BAD_OPTION;
	} else {
		code = response_code(m->code);
		env->cb->request(env->ud, s, m, now);
	}

	sim_time delay = (sim_time)sim_rng_dist(env->rng, env->processing);
	if (delay == 0) {
		uint8_t type = m->type == COAP_CON ? COAP_ACK : COAP_NON;
		uint16_t mid = m->type == COAP_CON ? m->mid : s->next_mid++;
		srv_send_response(s, env, type, code, mid, m->token, m->tkl);
		d->state = DEDUP_PIGGYBACKED;
		d->code = code;
		return;
	}

	struct coap_pending *pd = NULL;
	for (uint32_t i = 0; i < env->p->nstart; i++) {
		if (s->pend[i].state == PEND_FREE) {
			pd = &s->pend[i];
			break;
		}
	}
	if (!pd) {
		/* More concurrent requests than NSTART allows this peer. */
		uint8_t type = m->type == COAP_CON ? COAP_ACK : COAP_NON;
		uint16_t mid = m->type == COAP_CON ? m->mid : s->next_mid++;
		srv_send_response(s, env, type, COAP_CODE(5, 3), mid, m->token, m->tkl);
		d->state = DEDUP_PIGGYBACKED;
		d->code = COAP_CODE(5, 3);
		return;
	}
	*pd = (struct coap_pending){
		.state = PEND_PROCESSING, .ready_at = now + delay,
		.req_type = m->type, .code = code, .tkl = m->tkl,
		.dedup = di, .req_mid = m->mid,
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
		/* The peer confirms (or rejects) one of our separate responses. */
		for (uint32_t i = 0; i < env->p->nstart; i++) {
			struct coap_pending *pd = &s->pend[i];
			if (pd->state == PEND_SEPARATE_WAIT_ACK && pd->resp_mid == m.mid)
				pend_release(s, pd);
		}
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

void coap_srv_session_expire(struct coap_srv_session *s,
			     const struct coap_srv_env *env, sim_time now)
{
	const struct coap_params *p = env->p;

	for (uint32_t i = 0; i < p->nstart; i++) {
		struct coap_pending *pd = &s->pend[i];
		if (pd->state == PEND_FREE || pd->deadline > now)
			continue;
		if (pd->state == PEND_PROCESSING) {
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
					  pd->token, pd->tkl);
		} else {
			pend_release(s, pd);
		}
	}
}

sim_time coap_srv_session_expiry(const struct coap_srv_session *s, uint32_t nstart)
{
	sim_time t = SIM_TIME_NEVER;

	if (!s->n_pend)
		return t;
	for (uint32_t i = 0; i < nstart; i++)
		if (s->pend[i].state != PEND_FREE && s->pend[i].deadline < t)
			t = s->pend[i].deadline;
	return t;
}
