/* DTLS under the CoAP groups with `security = dtls` (RFC 7252 §9.1): each
 * endpoint's client and the server's session for it are dtls.c peers, and
 * the backend carries their records.  The CoAP cores do not know it is
 * there: their datagrams come here instead of to the backend.  Knows no
 * backend, nothing of MQTT, and of DTLS only sim/sec/dtls.h. */
#include <stdio.h>

#include "../core/mem.h"
#include "../sec/dtls.h"
#include "world_impl.h"

/* One endpoint's security associations, in w->sec (same index as w->ep). */
struct ep_sec {
	struct sim_timer t;      /* the earlier of both peers' timers */
	struct dtls_peer *cli, *srv;
	sim_time hs_start;       /* the client's handshake under way began; or NEVER */
	uint8_t hs_counted;      /* it began after warmup */
	/* CoAP datagrams the client sent before the handshake completed, in
	 * order: each a struct held header, then its bytes. */
	uint8_t *held;
	uint32_t held_len, held_cap;
	struct sim_rng rng;      /* seeds each new peer's random numbers */
	struct dtls_session *saved; /* resumption: the client's last session */
};

struct held {
	struct net_meta meta;
	uint32_t len;
};

static struct endpoint *ep_of(struct world *w, struct ep_sec *s)
{
	return &w->ep[s - w->sec];
}

static struct ep_sec *sec_of(struct world *w, struct endpoint *ep)
{
	return &w->sec[ep_slot(w, ep)];
}

bool world_sec_on(const struct world *w, const struct endpoint *ep)
{
	return w->sec && w->cfg->groups[ep->group].security == SECURITY_DTLS;
}

/* ---- the peers' callbacks ---- */

static _Thread_local const struct net_meta *send_meta; /* of the CoAP datagram being written */
static _Thread_local struct world *cur_world;          /* the run whose peer is being driven */

static void send_side(struct world *w, struct ep_sec *s, enum net_dir dir, const uint8_t *buf,
		      size_t len)
{
	struct endpoint *ep = ep_of(w, s);
	struct net_meta meta = send_meta ? *send_meta : (struct net_meta){0};
	if (!send_meta && s->hs_counted) /* a handshake datagram: its records */
		w->acc[ep->group].m.handshake_bytes += len;
	if (dir == NET_UP)
		radio_frame(w, ep, len, true);
	send_dgram(w, (uint32_t)(s - w->sec), dir, buf, len, &meta);
}

static void cli_out(void *ud, const uint8_t *buf, size_t len)
{
	send_side(cur_world, ud, NET_UP, buf, len);
}

static void srv_out(void *ud, const uint8_t *buf, size_t len)
{
	send_side(cur_world, ud, NET_DOWN, buf, len);
}

static _Thread_local size_t plain_in; /* bytes the record being read carried */

static void cli_in(void *ud, const uint8_t *buf, size_t len)
{
	struct world *w = cur_world;
	plain_in += len;
	struct endpoint *ep = ep_of(w, ud);
	world_coap_client_in(w, ep, buf, len);
}

static void srv_in(void *ud, const uint8_t *buf, size_t len)
{
	struct world *w = cur_world;
	struct endpoint *ep = ep_of(w, ud);
	world_coap_server_in(w, ep, buf, len);
}

static const struct dtls_cb cli_cb = {cli_out, cli_in}, srv_cb = {srv_out, srv_in};

/* ---- the associations ---- */

static void rearm_sec(struct world *w, struct ep_sec *s)
{
	sim_time a = s->cli ? dtls_expiry(s->cli) : SIM_TIME_NEVER;
	sim_time b = s->srv ? dtls_expiry(s->srv) : SIM_TIME_NEVER;
	rearm(w, &s->t, a < b ? a : b);
}

struct dtls_peer *world_sec_peer(struct world *w, bool server, bool stream,
				 const struct dtls_session *resume, struct sim_rng *rng,
				 const struct dtls_cb *cb, void *ud)
{
	const struct security_cfg *sc = &w->cfg->security;
	bool own = server && sc->server_psk_len;
	struct dtls_params p = {
		.server = server, .stream = stream,
		.tickets = server ? w->tickets : NULL,
		.resume = server ? NULL : resume,
		.suite = (enum dtls_suite)sc->suite, .cert = w->cert,
		.keylog = server || !w->opts ? NULL : w->opts->keylog,
		.psk = own ? sc->server_psk : sc->psk,
		.psk_len = own ? sc->server_psk_len : sc->psk_len,
		.identity = sc->psk_identity,
		.timeout_min = sc->timeout_initial,
		.timeout_max = sc->timeout_max,
		.seed = sim_rng_u64(rng),
	};
	char err[160];
	struct dtls_peer *d = dtls_new(&p, cb, ud, err, sizeof(err));
	if (!d)
		w->err = SIM_ERR_NOMEM;
	return d;
}

/* Each association its own random stream: the run's seed, the endpoint,
 * and how many handshakes it has begun. */
static struct dtls_peer *new_peer(struct world *w, struct ep_sec *s, bool server)
{
	return world_sec_peer(w, server, false, s->saved, &s->rng, server ? &srv_cb : &cli_cb, s);
}

/* Drop the client's association; what it held is lost with it.  With
 * resumption an established one's session is kept to offer next time. */
static void forget_client(struct world *w, struct ep_sec *s)
{
	if (w->tickets && s->cli && dtls_established(s->cli)) {
		dtls_session_free(s->saved);
		s->saved = dtls_session_save(s->cli);
	}
	dtls_free(s->cli);
	s->cli = NULL;
	s->held_len = 0;
	s->hs_start = SIM_TIME_NEVER;
}

/* Application data over an established peer, its record overhead
 * counted for messages after warmup. */
static void write_app(struct world *w, struct endpoint *ep, struct dtls_peer *d,
		      const uint8_t *buf, size_t len, const struct net_meta *meta)
{
	const struct net_meta none = {.counted = counted(w, now_of(w))};
	uint64_t o = dtls_stats(d)->overhead_bytes;
	send_meta = meta ? meta : &none;
	dtls_write(d, now_of(w), buf, len);
	send_meta = NULL;
	if (meta ? meta->counted : none.counted)
		w->acc[ep->group].m.security_overhead_bytes += dtls_stats(d)->overhead_bytes - o;
}

/* After the client's peer ran: a handshake that completed lets the held
 * datagrams go, one that failed drops them (CoAP's retransmissions start
 * a new one). */
static void client_after(struct world *w, struct ep_sec *s)
{
	struct endpoint *ep = ep_of(w, s);
	struct run_metrics *m = &w->acc[ep->group].m;
	if (s->cli && s->hs_start != SIM_TIME_NEVER && dtls_established(s->cli)) {
		if (s->hs_counted &&
		    hist_add(&w->acc[ep->group].hs, now_of(w) - s->hs_start) < 0)
			w->err = SIM_ERR_NOMEM;
		s->hs_start = SIM_TIME_NEVER;
		for (uint32_t off = 0; off < s->held_len && s->cli;) {
			struct held h;
			memcpy(&h, s->held + off, sizeof(h));
			write_app(w, ep, s->cli, s->held + off + sizeof(h), h.len, &h.meta);
			off += (uint32_t)sizeof(h) + h.len;
		}
		s->held_len = 0;
	} else if (s->cli && dtls_failed(s->cli)) {
		if (s->hs_counted)
			m->handshake_failures++;
		forget_client(w, s);
	}
}

static void hold(struct world *w, struct ep_sec *s, const uint8_t *buf, size_t len,
		 const struct net_meta *meta)
{
	size_t need = s->held_len + sizeof(struct held) + len;
	if (need > s->held_cap) {
		size_t cap = need * 2;
		uint8_t *p = realloc(s->held, cap);
		if (!p) {
			w->err = SIM_ERR_NOMEM;
			return;
		}
		s->held = p;
		s->held_cap = (uint32_t)cap;
	}
	struct held h = {.meta = meta ? *meta : (struct net_meta){0}, .len = (uint32_t)len};
	memcpy(s->held + s->held_len, &h, sizeof(h));
	memcpy(s->held + s->held_len + sizeof(h), buf, len);
	s->held_len = (uint32_t)need;
}

void world_sec_send(struct world *w, struct endpoint *ep, enum net_dir dir,
		    const uint8_t *buf, size_t len, const struct net_meta *meta, bool retx)
{
	struct ep_sec *s = sec_of(w, ep);
	sim_time now = now_of(w);
	cur_world = w;
	if (dir == NET_DOWN) {
		/* The server answers over the association the request came on. */
		if (s->srv && dtls_established(s->srv))
			write_app(w, ep, s->srv, buf, len, meta);
		rearm_sec(w, s);
		return;
	}
	if (s->cli && dtls_established(s->cli)) {
		write_app(w, ep, s->cli, buf, len, meta);
		return;
	}
	if (!s->cli) {
		/* No association: a handshake first, this datagram waits. */
		if (!(s->cli = new_peer(w, s, false)))
			return;
		s->hs_start = now;
		s->hs_counted = counted(w, now);
		if (s->hs_counted)
			w->acc[ep->group].m.handshakes++;
		hold(w, s, buf, len, meta);
		dtls_start(s->cli, now);
		client_after(w, s);
	} else if (!retx) {
		/* A CoAP retransmission of what is held would only repeat it. */
		hold(w, s, buf, len, meta);
	}
	rearm_sec(w, s);
}

/* Is this datagram a ClientHello of epoch 0 (RFC 6347 §4.2.8: a client
 * that lost its association starts a new one)?  Record: type 22, version,
 * epoch 0; handshake header at 13: msg_type 1. */
static bool client_hello(const uint8_t *b, size_t len)
{
	return len > 13 && b[0] == 22 && b[3] == 0 && b[4] == 0 && b[13] == 1;
}

void world_sec_deliver(struct world *w, struct endpoint *ep, enum net_dir dir,
		       const uint8_t *buf, size_t len)
{
	struct ep_sec *s = sec_of(w, ep);
	sim_time now = now_of(w);
	cur_world = w;
	if (dir == NET_UP) {
		if (s->srv && (dtls_established(s->srv) || dtls_failed(s->srv)) &&
		    client_hello(buf, len)) {
			dtls_free(s->srv);
			s->srv = NULL;
		}
		if (!s->srv && !(s->srv = new_peer(w, s, true)))
			return;
		dtls_recv(s->srv, now, buf, len);
	} else if (s->cli) {
		/* A real server's datagrams are counted as they arrive: its
		 * handshake flights, and its records' overhead. */
		bool remote = w->bo->remote_server && len && s->hs_counted;
		struct run_metrics *m = &w->acc[ep->group].m;
		if (remote && buf[0] != 23)
			m->handshake_bytes += len;
		plain_in = 0;
		dtls_recv(s->cli, now, buf, len);
		if (remote && buf[0] == 23 && plain_in)
			m->security_overhead_bytes += len - plain_in;
		client_after(w, s);
		if (!ep->cli.n_active)
			world_sec_idle(w, ep); /* after the library returned */
	}
	rearm_sec(w, s);
}

/* The client has no exchange open: with a handshake per message it
 * forgets its association (the sensor sleeps). */
void world_sec_idle(struct world *w, struct endpoint *ep)
{
	if (world_sec_on(w, ep) && w->cfg->security.handshake == HANDSHAKE_PER_MESSAGE) {
		struct ep_sec *s = sec_of(w, ep);
		if (s->cli && dtls_established(s->cli)) {
			forget_client(w, s);
			rearm_sec(w, s);
		}
	}
}

static void sec_fire(struct sim_engine *e, struct sim_timer *t)
{
	struct world *w = world_of(e);
	struct ep_sec *s = sim_container_of(t, struct ep_sec, t);
	sim_time now = now_of(w);
	cur_world = w;
	if (s->cli && dtls_expiry(s->cli) <= now) {
		dtls_expire(s->cli, now);
		client_after(w, s);
	}
	if (s->srv && dtls_expiry(s->srv) <= now)
		dtls_expire(s->srv, now);
	rearm_sec(w, s);
}

int world_sec_init(struct world *w, uint64_t seed)
{
	bool any = false, secure = false;
	for (size_t g = 0; g < w->cfg->n_groups; g++) {
		any |= w->cfg->groups[g].security == SECURITY_DTLS;
		secure |= w->cfg->groups[g].security != SECURITY_NONE;
	}
	if (secure && w->cfg->security.suite == SUITE_ECDHE_ECDSA_CCM8) {
		char err[160];
		if (!(w->cert = dtls_cert_new(seed, err, sizeof(err))))
			return SIM_ERR_NOMEM;
	}
	if (secure && w->cfg->security.resumption) {
		char err[160];
		w->tickets = dtls_tickets_new(seed, w->cfg->security.session_lifetime, err,
					      sizeof(err));
		if (!w->tickets)
			return SIM_ERR_NOMEM;
	}
	if (!any)
		return 0;
	if (!(w->sec = sim_calloc_big(w->n_ep ? w->n_ep : 1, sizeof(*w->sec))))
		return SIM_ERR_NOMEM;
	for (uint32_t i = 0; i < w->n_ep; i++) {
		struct ep_sec *s = &w->sec[i];
		sim_timer_init(&s->t, sec_fire);
		s->hs_start = SIM_TIME_NEVER;
		if (w->cfg->groups[w->ep[i].group].security == SECURITY_DTLS)
			sim_rng_init(&s->rng, seed, fleet_id(w, &w->ep[i]), RNG_DTLS);
	}
	return 0;
}

void world_sec_free(struct world *w)
{
	dtls_cert_free(w->cert);
	w->cert = NULL;
	dtls_tickets_free(w->tickets);
	w->tickets = NULL;
	if (!w->sec)
		return;
	for (uint32_t i = 0; i < w->n_ep; i++) {
		dtls_free(w->sec[i].cli);
		dtls_free(w->sec[i].srv);
		free(w->sec[i].held);
		dtls_session_free(w->sec[i].saved);
	}
	sim_free_big(w->sec, w->n_ep ? w->n_ep : 1, sizeof(*w->sec));
	w->sec = NULL;
}

/* ---- a real server ---- */

struct probe_out {
	uint8_t buf[SIM_MAX_DATAGRAM];
	size_t len;
};

static void probe_send(void *ud, const uint8_t *buf, size_t len)
{
	struct probe_out *o = ud;
	if (!o->len && len <= sizeof(o->buf)) {
		memcpy(o->buf, buf, len);
		o->len = len;
	}
}

static void probe_data(void *ud, const uint8_t *buf, size_t len)
{
	(void)ud;
	(void)buf;
	(void)len;
}

/* One ClientHello to a coaps:// target before the load: a
 * HelloVerifyRequest (3) or ServerHello (2) back says a DTLS server is
 * there.  Returns 0, or SIM_ERR_IO with the reason in the run's error. */
int world_sec_probe(struct world *w)
{
	const struct security_cfg *sc = &w->cfg->security;
	static const struct dtls_cb cb = {probe_send, probe_data};
	struct dtls_params p = {
		.psk = sc->psk, .psk_len = sc->psk_len, .identity = sc->psk_identity,
		.timeout_min = sc->timeout_initial, .timeout_max = sc->timeout_max,
		.seed = w->cfg->seed,
	};
	struct probe_out *o = calloc(1, sizeof(*o));
	uint8_t rep[SIM_MAX_DATAGRAM];
	char err[160] = "";
	int n = SIM_ERR_NOMEM;
	struct dtls_peer *d = o ? dtls_new(&p, &cb, o, err, sizeof(err)) : NULL;
	if (d) {
		dtls_start(d, 0);
		n = o->len ? w->bo->probe(w->be, o->buf, o->len, rep, sizeof(rep), SIM_S(3))
			   : SIM_ERR_INVAL;
	}
	dtls_free(d);
	free(o);
	if (n > 13 && rep[0] == 22 && (rep[13] == 2 || rep[13] == 3))
		return 0;
	if (w->opts->err)
		snprintf(w->opts->err, w->opts->errlen,
			 "live target coaps://%s%s%s:%u: a DTLS ClientHello %s",
			 strchr(w->target_host, ':') ? "[" : "", w->target_host,
			 strchr(w->target_host, ':') ? "]" : "", w->target_port,
			 n == SIM_ERR_NOTFOUND ? "was refused (nothing listens there)"
			 : n >= 0	       ? "got a datagram that is not a DTLS handshake"
			 : n == SIM_ERR_IO     ? "got no answer within 3 s"
						: err);
	return SIM_ERR_IO;
}

/* What a secured endpoint costs in memory: both peers (the library's
 * contexts and its record buffers) and the held datagrams. */
double world_sec_bytes_per_endpoint(void)
{
	return sizeof(struct ep_sec) + 2.0 * (double)dtls_peer_bytes() + 256;
}
