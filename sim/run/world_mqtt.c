/* MQTT's part of a run: the client and the broker's session over the
 * backend's streams (TCP), their timers, and what they count.  Knows no
 * backend and nothing of CoAP. */
#include <stdio.h>

#include "../sec/dtls.h"
#include "world_impl.h"

/* A PINGREQ and its PINGRESP on the wire: IPv6, TCP with the timestamps
 * the linux profile agrees with any Linux peer, 2 MQTT bytes each. */
static uint64_t ping_bytes(const struct world *w, bool tls)
{
	size_t tcp = TCP_HDR + (w->tcpp.profile == TCP_PROFILE_LINUX ? TCP_TS_OPT : 0);
	return 2 * (NET_IPV6_HDR + tcp + 2 + (tls ? TLS_CCM8_OVERHEAD : 0));
}

void world_mq_sizes(const struct scenario_cfg *cfg, struct mq_sizes *z)
{
	uint32_t max_pub = 0, min_pub = UINT32_MAX;
	for (size_t g = 0; g < cfg->n_groups; g++) {
		const struct group_cfg *gc = &cfg->groups[g];
		if (gc->protocol != PROTO_MQTT)
			continue;
		/* topic as built: {id} becomes 1 to 10 digits, at most 127 bytes */
		size_t t = strlen(gc->topic), ids = 0;
		for (const char *c = strstr(gc->topic, "{id}"); c; c = strstr(c + 4, "{id}"))
			ids++;
		uint32_t lo = (uint32_t)(t - 3 * ids), hi = (uint32_t)(t + 6 * ids);
		hi = hi > 127 ? 127 : hi;
		lo = lo > MQ_TOPIC_CUT ? MQ_TOPIC_CUT : lo; /* as mq_init() cuts it */
		uint32_t big = mqtt_publish_size(hi, gc->qos, gc->payload);
		uint32_t small = mqtt_publish_size(lo < hi ? lo : hi, gc->qos, gc->payload);
		max_pub = big > max_pub ? big : max_pub;
		min_pub = small < min_pub ? small : min_pub;
	}
	z->inf = (uint8_t)cfg->mqtt.inflight;
	bool tls = false;
	for (size_t g = 0; g < cfg->n_groups; g++)
		tls |= cfg->groups[g].security == SECURITY_TLS;
	/* TLS: a record's overhead a write, and the handshake's flights */
	uint32_t c = z->inf * (max_pub + (tls ? TLS_CCM8_OVERHEAD : 0)) + 128 + (tls ? 2048 : 0);
	z->cbuf = c > 2048 ? c : 2048;
	z->bbuf = tls ? 4096 : 2048;
	z->srx = max_pub > MQTT_RX_BUF ? max_pub : MQTT_RX_BUF;
	uint32_t need = z->cbuf / (min_pub ? min_pub : 1) + 1;
	for (z->pubs = 16; z->pubs < need; z->pubs *= 2)
		;
	z->per_node = (size_t)z->cbuf + z->bbuf + z->srx + (size_t)z->pubs * sizeof(struct mq_pub) +
		      (size_t)z->inf * sizeof(struct mqtt_inflight);
	z->per_node = (z->per_node + 63) & ~(size_t)63;
}

static struct endpoint *ep_of_node(struct world *w, struct mqtt_node *n)
{
	return &w->ep[n->ep];
}

static void mq_env(struct world *w, struct mqtt_node *n, struct mqtt_client_env *env)
{
	const struct group_cfg *g = &w->cfg->groups[ep_of_node(w, n)->group];
	*env = (struct mqtt_client_env){&w->mqp[ep_of_node(w, n)->group], &w->mq_cb, w,
					n->client_id, n->topic};
	(void)g;
}

static int mq_pending(const struct mqtt_node *n);

/* ---- security = tls: the TLS ends between MQTT and TCP ---- */

static _Thread_local struct world *tls_world; /* the run whose peer is being driven */
static _Thread_local const struct dtls_peer *tls_busy; /* the peer the library is in */

/* An end's connection is over: its TLS end goes, unless the library is
 * inside it (a close that the bytes it delivered caused); then after. */
static void tls_end(struct mqtt_node *n, bool broker)
{
	struct dtls_peer **pp = broker ? &n->tb : &n->tc;
	if (*pp && *pp == tls_busy) {
		n->tls_dead |= broker ? 2 : 1;
		return;
	}
	/* resumption: an established client's session, for its next connection
	 * (the run's server issues tickets only then) */
	if (!broker && *pp && dtls_established(*pp) && tls_world && tls_world->tickets) {
		dtls_session_free(n->saved);
		n->saved = dtls_session_save(*pp);
	}
	dtls_free(*pp);
	*pp = NULL;
}

/* The library returned from d: free what ended meanwhile.  True if gone. */
static bool tls_reap(struct mqtt_node *n, bool broker)
{
	tls_busy = NULL;
	uint8_t bit = broker ? 2 : 1;
	if (!(n->tls_dead & bit))
		return false;
	n->tls_dead &= (uint8_t)~bit;
	tls_end(n, broker);
	return true;
}

static bool tls_of(const struct world *w, const struct mqtt_node *n)
{
	return w->cfg->groups[w->ep[n->ep].group].security == SECURITY_TLS;
}

void world_mq_tls_free(struct mqtt_node *n)
{
	dtls_free(n->tc);
	dtls_free(n->tb);
	n->tc = n->tb = NULL;
	dtls_session_free(n->saved);
	n->saved = NULL;
}

static void client_plain_in(struct world *w, struct mqtt_node *n, const uint8_t *buf,
			    size_t len);
static void broker_plain_in(struct world *w, struct mqtt_node *n, const uint8_t *buf,
			    size_t len);
static bool stream_send(struct world *w, struct mqtt_node *n, bool broker,
			const uint8_t *buf, size_t len);

/* A TLS end's bytes for its TCP end.  A record the stream refuses cannot
 * be taken back (the peer would find a gap in the record sequence): the
 * connection is then given up. */
static void tls_out(struct mqtt_node *n, bool broker, const uint8_t *buf, size_t len)
{
	struct world *w = tls_world;
	struct dtls_peer *d = broker ? n->tb : n->tc;
	struct run_metrics *m = &w->acc[w->ep[n->ep].group].m;
	/* the library counts a handshake's records (a flight may end it) */
	uint64_t h = d ? dtls_stats(d)->handshake_bytes : 0;
	if (n->hs_counted && h > n->hs_seen[broker])
		m->handshake_bytes += h - n->hs_seen[broker];
	n->hs_seen[broker] = (uint32_t)h;
	if (!stream_send(w, n, broker, buf, len))
		n->tls_broken = 1;
	else if (!broker)
		n->wrote += (uint32_t)len;
}

static void tls_client_out(void *ud, const uint8_t *buf, size_t len) { tls_out(ud, false, buf, len); }
static void tls_broker_out(void *ud, const uint8_t *buf, size_t len) { tls_out(ud, true, buf, len); }
static _Thread_local size_t tls_plain_in; /* bytes the client's end gave MQTT */

static void tls_client_in(void *ud, const uint8_t *buf, size_t len)
{
	tls_plain_in += len;
	client_plain_in(tls_world, ud, buf, len);
}
static void tls_broker_in(void *ud, const uint8_t *buf, size_t len)
{
	broker_plain_in(tls_world, ud, buf, len);
}

static const struct dtls_cb tls_client_cb = {tls_client_out, tls_client_in},
			    tls_broker_cb = {tls_broker_out, tls_broker_in};

static struct dtls_peer *tls_new(struct world *w, struct mqtt_node *n, bool broker)
{
	struct dtls_peer *d = world_sec_peer(w, broker, true, n->saved, &n->rng,
					     broker ? &tls_broker_cb : &tls_client_cb, n);
	n->hs_seen[broker] = 0;
	return d;
}

/* MQTT bytes as one record of an established end; its overhead counted.
 * Returns false if the end cannot take them. */
static bool tls_write(struct world *w, struct mqtt_node *n, bool broker, const uint8_t *buf,
		      size_t len)
{
	struct dtls_peer *d = broker ? n->tb : n->tc;
	if (!d || !dtls_established(d))
		return false;
	uint64_t o = dtls_stats(d)->overhead_bytes;
	tls_world = w;
	if (dtls_write(d, now_of(w), buf, len) < 0)
		return false;
	if (counted(w, now_of(w)))
		w->acc[w->ep[n->ep].group].m.security_overhead_bytes +=
			dtls_stats(d)->overhead_bytes - o;
	return true;
}

/* The client's TCP connection is up: its handshake begins; MQTT's
 * CONNECT waits for it. */
static void tls_client_start(struct world *w, struct mqtt_node *n)
{
	dtls_free(n->tc);
	tls_world = w;
	n->tls_broken = 0;
	if (!(n->tc = tls_new(w, n, false)))
		return;
	n->hs_start = now_of(w);
	n->hs_counted = counted(w, n->hs_start);
	if (n->hs_counted)
		w->acc[w->ep[n->ep].group].m.handshakes++;
	dtls_start(n->tc, now_of(w));
}

/* The connection is given up: a handshake that failed, a record the
 * stream refused.  The client reconnects as after any lost connection. */
static void tls_give_up(struct world *w, struct mqtt_node *n)
{
	struct mqtt_client_env env;
	mq_env(w, n, &env);
	world_mq_tls_free(n);
	n->tls_broken = 0;
	n->hs_start = SIM_TIME_NEVER;
	n->quiet_close = 1;
	w->bo->stream_abort(w->be, &n->cs);
	if (n->mc.state != MQTT_CLI_IDLE && n->mc.state != MQTT_CLI_BACKOFF)
		mqtt_client_down(&n->mc, &env, now_of(w));
}

/* After the client's TLS end ran. */
static void tls_client_after(struct world *w, struct mqtt_node *n)
{
	struct run_metrics *m = &w->acc[w->ep[n->ep].group].m;
	if (n->tc && dtls_failed(n->tc)) {
		if (n->hs_counted && n->hs_start != SIM_TIME_NEVER)
			m->handshake_failures++;
		tls_give_up(w, n);
	} else if (n->tc && dtls_established(n->tc) && n->hs_start != SIM_TIME_NEVER) {
		if (n->hs_counted &&
		    hist_add(&w->acc[w->ep[n->ep].group].hs, now_of(w) - n->hs_start) < 0)
			w->err = SIM_ERR_NOMEM;
		n->hs_start = SIM_TIME_NEVER;
		struct mqtt_client_env env;
		mq_env(w, n, &env);
		mqtt_client_up(&n->mc, &env, now_of(w));
	} else if (n->tls_broken) {
		tls_give_up(w, n);
	}
}

/* ---- MQTT's TCP ends, through the backend ---- */

static struct backend_stream *end_of(struct mqtt_node *n, bool broker)
{
	return broker ? &n->bs : &n->cs;
}

static sim_time stream_expiry(const struct world *w, const struct mqtt_node *n, bool broker)
{
	return w->bo->stream_expiry(w->be, broker ? &n->bs : &n->cs);
}

/* Returns false when the bytes were not taken (no connection, or the
 * send buffer is full): they are lost, as a socket would refuse them. */
static bool stream_send(struct world *w, struct mqtt_node *n, bool broker, const uint8_t *buf,
			size_t len)
{
	return w->bo->stream_send(w->be, end_of(n, broker), buf, len);
}

static void stream_close(struct world *w, struct mqtt_node *n, bool broker)
{
	w->bo->stream_close(w->be, end_of(n, broker));
}

static void stream_abort(struct world *w, struct mqtt_node *n, bool broker)
{
	w->bo->stream_abort(w->be, end_of(n, broker));
}

static void rearm_mqtt(struct world *w, struct mqtt_node *n)
{
	struct endpoint *ep = ep_of_node(w, n);
	const struct mqtt_client_params *p = &w->mqp[ep->group];
	sim_time c = stream_expiry(w, n, false), m = mqtt_client_expiry(&n->mc, p);
	if (n->ending && !mq_pending(n) && n->mc.state == MQTT_CLI_BACKOFF)
		m = SIM_TIME_NEVER; /* nothing left to send: no reconnecting */
	rearm(w, &ep->cli_t, c < m ? c : m);
	sim_time b = stream_expiry(w, n, true), k = mqtt_session_expiry(&n->ms);
	if (n->rdq_at < k)
		k = n->rdq_at;
	rearm(w, &ep->srv_t, b < k ? b : k);
	bool awaiting = n->mc.state == MQTT_CLI_CONNECT_SENT || n->mc.ping_out ||
			n->mc.state == MQTT_CLI_TCP_WAIT;
	uint8_t open = mqtt_client_in_flight(&n->mc); /* awaiting their acknowledgement */
	awaiting |= open > 0;
	if (open != ep->awaiting)
		in_flight_add(w, (int)open - ep->awaiting);
	ep->awaiting = open;
	energy_listen(&ep->radio, awaiting, now_of(w));
}

static int mq_pending(const struct mqtt_node *n)
{
	return (int)n->mc.backlog + mqtt_client_in_flight(&n->mc);
}

/* The scenario is over and nothing is left, or (a sensor that
 * handshakes per message) its message is done: DISCONNECT and FIN; the
 * next publish connects again. */
static void mq_maybe_finish(struct world *w, struct mqtt_node *n)
{
	if (!(n->ending || n->sleeping) || mq_pending(n) || n->mc.state != MQTT_CLI_CONNECTED)
		return;
	n->sleeping = 0;
	const uint8_t disc[2] = {0xe0, 0x00};
	n->mc.state = MQTT_CLI_IDLE;
	if (n->tc)
		tls_write(w, n, false, disc, sizeof(disc));
	else
		stream_send(w, n, false, disc, sizeof(disc));
	stream_close(w, n, false);
}

static void tcp_out(struct world *w, struct mqtt_node *n, enum net_dir dir,
		    const uint8_t *seg, size_t len, bool retx)
{
	struct endpoint *ep = ep_of_node(w, n);
	(void)seg;
	if (retx && counted(w, now_of(w)))
		w->acc[ep->group].m.tcp_retransmissions++;
	if (dir == NET_UP)
		radio_frame(w, ep, len - NET_UDP_HDR, true);
}

/* A segment left the client's end: MQTT's transmissions are the TCP
 * segments carrying PUBLISH bytes.  The records are in stream order: find
 * the first that ends past the segment's start, and count the segment once
 * if it overlaps. */
static void client_segment(struct world *w, struct mqtt_node *n, const struct tcp_seg_info *info)
{
	struct run_metrics *m = &w->acc[ep_of_node(w, n)->group].m;
	uint32_t mask = w->mq.pubs - 1;
	uint32_t lo = n->n_pubs > w->mq.pubs ? n->n_pubs - w->mq.pubs : 0, hi = n->n_pubs;
	while (info->data_len && lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		if (n->pubs[mid & mask].end <= info->data_off)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (info->data_len && lo < n->n_pubs) {
		const struct mq_pub *r = &n->pubs[lo & mask];
		if (r->off < info->data_off + info->data_len && r->counted) {
			m->transmissions++;
			m->retransmissions += info->retx;
		}
	}
}

static void broker_listen(struct world *w, struct mqtt_node *n)
{
	tls_world = w;
	mqtt_session_init(&n->ms, n->srx, w->mq.srx);
	n->rdq_len = 0; /* unread, gone with the connection */
	n->rdq_at = SIM_TIME_NEVER;
	tls_end(n, true); /* TLS: a new connection, a new session */
	if (w->bo->remote_server)
		return; /* a real broker: its end is not ours */
	if (w->bo->stream_open(w->be, &n->bs, n->bbuf, w->mq.bbuf, &n->rng) < 0)
		w->err = SIM_ERR_NOMEM;
}

static void client_event(struct world *w, struct mqtt_node *n, enum tcp_event ev)
{
	struct mqtt_client_env env;
	sim_time now = now_of(w);

	tls_world = w;
	mq_env(w, n, &env);
	if (ev == TCP_EV_ESTABLISHED) {
		struct run_metrics *m = &w->acc[ep_of_node(w, n)->group].m;
		m->reconnects += n->mc.connects > 0; /* this client had one before */
		m->connections++;
		if (tls_of(w, n)) {
			tls_client_start(w, n);
			tls_client_after(w, n);
			return;
		}
		mqtt_client_up(&n->mc, &env, now);
		return;
	}
	tls_end(n, false); /* the connection is over, and its TLS session */
	n->hs_start = SIM_TIME_NEVER;
	if (n->quiet_close) { /* we dropped it ourselves */
		n->quiet_close = 0;
		return;
	}
	if (n->mc.state != MQTT_CLI_IDLE && n->mc.state != MQTT_CLI_BACKOFF)
		mqtt_client_down(&n->mc, &env, now);
}

static void be_segment(void *ud, uint32_t ep, enum net_dir dir, bool arrived,
		       const uint8_t *seg, size_t len, const struct tcp_seg_info *info)
{
	struct world *w = ud;
	struct mqtt_node *n = w->ep[ep].mq;

	if (arrived) {
		if (dir == NET_DOWN)
			radio_frame(w, &w->ep[ep], len - NET_UDP_HDR, false);
		return;
	}
	if (dir == NET_UP)
		client_segment(w, n, info);
	tcp_out(w, n, dir, seg, len, info->retx);
}

/* The broker application reads what its TCP took in a little later: a
 * kernel processes every segment that arrives together (softirq) before
 * the broker runs.  It matters with Nagle: a client sends a PUBLISH and,
 * tens of microseconds later, the ACK of the broker's last PUBACK; the
 * ACK releases only the PUBACKs already written, and the PUBLISH's own
 * PUBACK, written after, waits a round trip behind them.  On make
 * validate's captures (mosquitto 2.0.11, Linux 6.x) the released segment
 * held that PUBACK only when the two arrivals were more than about
 * 100 us apart (6 of 45 cases); answering at once, the model put it in
 * every time (35 of 35) and cut the chains of held PUBACKs short.  The
 * linux profile's broker reads 100 us after the first unread bytes came;
 * rfc6298's, the textbook's, at once.  A simulated broker only. */
#define MQTT_BROKER_READ SIM_US(100)

static void broker_read(struct world *w, struct mqtt_node *n)
{
	struct mqtt_session_env env = {&w->ms_cb, w};
	uint32_t len = n->rdq_len;
	n->rdq_len = 0;
	n->rdq_at = SIM_TIME_NEVER;
	mqtt_session_data(&n->ms, &env, now_of(w), n->rdq, len);
}

static void broker_plain_in(struct world *w, struct mqtt_node *n, const uint8_t *buf, size_t len)
{
	if (!w->broker_read) {
		struct mqtt_session_env env = {&w->ms_cb, w};
		mqtt_session_data(&n->ms, &env, now_of(w), buf, len);
		return;
	}
	if (n->rdq_len + len > n->rdq_cap) {
		uint32_t cap = (uint32_t)(n->rdq_len + len) * 2;
		uint8_t *q = realloc(n->rdq, cap);
		if (!q) {
			w->err = SIM_ERR_NOMEM;
			return;
		}
		n->rdq = q;
		n->rdq_cap = cap;
	}
	memcpy(n->rdq + n->rdq_len, buf, len);
	n->rdq_len += (uint32_t)len;
	if (n->rdq_at == SIM_TIME_NEVER) {
		n->rdq_at = now_of(w) + w->broker_read;
		rearm_mqtt(w, n);
	}
}

static void be_data(void *ud, uint32_t ep, bool broker, const uint8_t *buf, size_t len)
{
	struct world *w = ud;
	struct mqtt_node *n = w->ep[ep].mq;

	if (tls_of(w, n)) {
		tls_world = w;
		if (broker) {
			if (!n->tb && !(n->tb = tls_new(w, n, true)))
				return;
			tls_busy = n->tb;
			dtls_recv(n->tb, now_of(w), buf, len);
			if (tls_reap(n, true))
				return;
			if (dtls_failed(n->tb) || n->tls_broken) {
				n->tls_broken = 0;
				stream_abort(w, n, true); /* an alert went out first */
			}
		} else if (n->tc) {
			/* A real broker's records are counted as they arrive:
			 * before the handshake is done, its flights; after, what
			 * is not MQTT (a record split over reads evens out). */
			struct run_metrics *m = &w->acc[ep_of_node(w, n)->group].m;
			bool remote = w->bo->remote_server && n->hs_counted;
			bool hs = !dtls_established(n->tc);
			tls_plain_in = 0;
			tls_busy = n->tc;
			dtls_recv(n->tc, now_of(w), buf, len);
			if (remote && hs)
				m->handshake_bytes += len - tls_plain_in;
			else if (remote)
				m->security_overhead_bytes += len - tls_plain_in;
			if (tls_reap(n, false))
				return;
			tls_client_after(w, n);
			mq_maybe_finish(w, n);
		}
		return;
	}
	if (broker)
		broker_plain_in(w, n, buf, len);
	else
		client_plain_in(w, n, buf, len);
}

static void client_plain_in(struct world *w, struct mqtt_node *n, const uint8_t *buf, size_t len)
{
	struct mqtt_client_env env;
	mq_env(w, n, &env);
	uint8_t pinging = n->mc.ping_out;
	mqtt_client_data(&n->mc, &env, now_of(w), buf, len);
	/* A real broker's PINGRESP: counted where it arrives (the simulated
	 * broker's where it writes it, ms_write). */
	if (w->bo->remote_server && pinging && !n->mc.ping_out &&
	    n->mc.state == MQTT_CLI_CONNECTED)
		w->acc[ep_of_node(w, n)->group].m.keepalive_bytes += ping_bytes(w, false);
	if (!n->tc)
		mq_maybe_finish(w, n); /* TLS: be_data does, after the library returned */
}

static void be_event(void *ud, uint32_t ep, bool broker, enum tcp_event ev)
{
	struct world *w = ud;
	struct mqtt_node *n = w->ep[ep].mq;

	if (!broker)
		client_event(w, n, ev);
	else if (ev != TCP_EV_ESTABLISHED)
		broker_listen(w, n); /* ready for the client's next connection */
}

static void be_changed(void *ud, uint32_t ep)
{
	struct world *w = ud;
	rearm_mqtt(w, w->ep[ep].mq);
}

static void mq_write(void *ud, struct mqtt_client *c, const uint8_t *buf, size_t len)
{
	struct world *w = ud;
	struct mqtt_node *n = sim_container_of(c, struct mqtt_node, mc);

	sim_time now = now_of(w), first = now;
	bool publish = len && buf[0] >> 4 == MQTT_PUBLISH;
	if (publish) {
		struct mqtt_msg m;
		bool ok = mqtt_parse(&m, buf, len) == 0;
		if (ok && m.packet_id)
			for (int i = 0; i < c->n_inf; i++)
				if (c->inf[i].state != MQTT_INF_FREE && c->inf[i].pid == m.packet_id) {
					first = c->inf[i].first_tx;
					break;
				}
		/* A message is counted at its first transmission, as CoAP's
		 * are (messages still waiting for a connection are not), even
		 * when the socket refuses it below. */
		if (ok && counted(w, first) && !mqtt_dup(&m) && first == now)
			w->acc[ep_of_node(w, n)->group].m.messages++;
	}
	/* Record a PUBLISH before the stream takes it: segments may leave
	 * while it does (client_segment counts them against the record), and
	 * take the record back when the stream refuses the bytes, so that the
	 * records stay aligned with the bytes the broker will read. */
	if (publish) {
		struct mq_pub *r = &n->pubs[n->n_pubs++ & (w->mq.pubs - 1)];
		r->off = n->wrote;
		/* TLS: one record, its overhead around the bytes */
		r->end = n->wrote + (uint32_t)len + (n->tc ? TLS_CCM8_OVERHEAD : 0);
		r->published = c->writing_published;
		r->counted = counted(w, first);
	}
	if (tls_of(w, n)) {
		/* the library sends the record (tls_out counts the bytes) */
		if (!tls_write(w, n, false, buf, len) || n->tls_broken) {
			n->n_pubs -= publish;
			n->tls_broken = 1; /* be_data or the next event gives it up */
		}
		return;
	}
	if (!stream_send(w, n, false, buf, len)) {
		n->n_pubs -= publish;
		return;
	}
	n->wrote += (uint32_t)len;
}

static void mq_connect(void *ud, struct mqtt_client *c)
{
	struct world *w = ud;
	struct mqtt_node *n = sim_container_of(c, struct mqtt_node, mc);

	n->wrote = 0;
	n->n_pubs = n->rd_pubs = 0;
	if (w->bo->stream_open(w->be, &n->cs, n->cbuf, w->mq.cbuf, &n->rng) < 0)
		w->err = SIM_ERR_NOMEM;
}

static void mq_drop(void *ud, struct mqtt_client *c)
{
	struct world *w = ud;
	struct mqtt_node *n = sim_container_of(c, struct mqtt_node, mc);
	n->quiet_close = 1;
	stream_abort(w, n, false);
}

static void mq_done(void *ud, struct mqtt_client *c, const struct mqtt_inflight *f,
		    enum mqtt_result r, sim_time now)
{
	struct world *w = ud;
	struct mqtt_node *n = sim_container_of(c, struct mqtt_node, mc);
	struct group_acc *a = &w->acc[ep_of_node(w, n)->group];

	if (r == MQTT_RES_COMPLETED && tls_of(w, n) &&
	    w->cfg->security.handshake == HANDSHAKE_PER_MESSAGE)
		n->sleeping = 1; /* closed once nothing is left (mq_maybe_finish) */
	if (!counted(w, f->first_tx))
		return;
	const char *outcome = r == MQTT_RES_COMPLETED ? "completed" : "sent";
	/* Latency counts from the application's publish: a message that
	 * waited for a connection or an in-flight slot waited in it. */
	world_log_message(w, ep_of_node(w, n), f->first_tx, outcome,
			  r == MQTT_RES_COMPLETED ? now - f->published : SIM_TIME_NEVER, f->tx,
			  -1, now);
	if (r == MQTT_RES_COMPLETED) {
		a->m.completed++;
		/* A real broker acknowledged it (PUBACK, PUBREC): it arrived,
		 * when is not ours to see. */
		if (w->bo->remote_server)
			a->m.delivered++;
		if (hist_add(&a->lat, now - f->published) < 0)
			w->err = SIM_ERR_NOMEM;
	}
}

static void ms_write(void *ud, struct mqtt_session *s, const uint8_t *buf, size_t len)
{
	struct world *w = ud;
	struct mqtt_node *n = sim_container_of(s, struct mqtt_node, ms);
	bool tls = tls_of(w, n);
	if (len && buf[0] >> 4 == MQTT_PINGRESP)
		w->acc[ep_of_node(w, n)->group].m.keepalive_bytes += ping_bytes(w, tls);
	if (!tls) {
		stream_send(w, n, true, buf, len);
	} else {
		tls_write(w, n, true, buf, len);
	}
}

static void ms_drop(void *ud, struct mqtt_session *s)
{
	struct world *w = ud;
	struct mqtt_node *n = sim_container_of(s, struct mqtt_node, ms);
	if (s->connected)
		stream_abort(w, n, true); /* a protocol error, a timeout */
	else
		stream_close(w, n, true); /* after DISCONNECT */
}

static void ms_publish(void *ud, struct mqtt_session *s, const struct mqtt_msg *m,
		       bool first, sim_time now)
{
	struct world *w = ud;
	struct mqtt_node *n = sim_container_of(s, struct mqtt_node, ms);
	struct group_acc *a = &w->acc[ep_of_node(w, n)->group];

	/* TCP delivers in order: the i-th PUBLISH of a connection is the
	 * client's i-th PUBLISH write on it. */
	if (n->rd_pubs >= n->n_pubs)
		return;
	struct mq_pub *r = &n->pubs[n->rd_pubs++ & (w->mq.pubs - 1)];
	/* A message counts once however many copies arrive: QoS 1 resends
	 * (at least once), and QoS 2 resends after a reconnection reach a
	 * broker session that starts afresh on each connection.  Packet ids
	 * are sequential per client, so the window of delivered tokens
	 * serves. */
	if (mqtt_qos(m) > 0)
		first = world_dlv_first16(ep_of_node(w, n), m->packet_id);
	if (!first || !r->counted)
		return;
	/* The backend subscriber next to the broker gets what its filter
	 * matches (§4.7), once per message. */
	const char *filter = w->cfg->broker.subscriber;
	if (*filter && mqtt_topic_match(filter, n->topic))
		a->m.forwarded++;
	a->m.delivered++;
	if (hist_add(&a->dlat, now - r->published) < 0)
		w->err = SIM_ERR_NOMEM;
}

const struct backend_cb world_stream_cb = {
	.segment = be_segment, .data = be_data, .event = be_event, .changed = be_changed,
};

/* ---- the operations of an MQTT group ---- */

static void mq_client(struct world *w, struct endpoint *ep)
{
	struct mqtt_node *n = ep->mq;
	struct mqtt_client_env env;
	sim_time now = now_of(w);

	mq_env(w, n, &env);
	if (stream_expiry(w, n, false) <= now)
		w->bo->stream_expire(w->be, &n->cs);
	if (mqtt_client_expiry(&n->mc, env.p) <= now)
		mqtt_client_expire(&n->mc, &env, now); /* PINGs are counted at PINGRESP */
	mq_maybe_finish(w, n);
	rearm_mqtt(w, n);
}

static void mq_server(struct world *w, struct endpoint *ep)
{
	struct mqtt_node *n = ep->mq;
	struct mqtt_session_env se = {&w->ms_cb, w};
	sim_time now = now_of(w);

	if (stream_expiry(w, n, true) <= now)
		w->bo->stream_expire(w->be, &n->bs);
	if (n->rdq_at <= now)
		broker_read(w, n);
	if (mqtt_session_expiry(&n->ms) <= now)
		mqtt_session_expire(&n->ms, &se, now);
	rearm_mqtt(w, n);
}

static void mq_app(struct world *w, struct endpoint *ep)
{
	struct mqtt_node *n = ep->mq;
	struct mqtt_client_env env;
	sim_time now = now_of(w);

	mq_env(w, n, &env);
	if (now >= w->cfg->duration) {
		n->ending = 1; /* no new messages; close when the last one ends */
		mq_maybe_finish(w, n);
		rearm_mqtt(w, n);
		return;
	}
	if (n->mc.state == MQTT_CLI_IDLE)
		mqtt_client_start(&n->mc, &env, now);
	mqtt_client_publish(&n->mc, &env, now);
	if (n->mc.nomem)
		w->err = SIM_ERR_NOMEM;
	rearm_mqtt(w, n);
	sim_time gap = world_next_gap(w, ep);
	rearm(w, &ep->app_t, gap != SIM_TIME_NEVER && now + gap < w->cfg->duration
				     ? now + gap
				     : w->cfg->duration);
}

/* MQTT's bytes come by the streams, never as datagrams. */
static void mq_deliver(struct world *w, struct endpoint *ep, enum net_dir dir,
		       const uint8_t *buf, size_t len, const struct net_meta *meta)
{
	(void)w;
	(void)ep;
	(void)dir;
	(void)buf;
	(void)len;
	(void)meta;
}

/* Each PUBLISH awaiting its acknowledgement and counted is a failure; the
 * backlog was never sent: not messages. */
static void mq_unfinished(struct world *w, struct endpoint *ep, sim_time at)
{
	const struct mqtt_client *c = &ep->mq->mc;
	for (int k = 0; k < c->n_inf; k++)
		if (c->inf[k].state != MQTT_INF_FREE && counted(w, c->inf[k].first_tx)) {
			w->acc[ep->group].m.failed++;
			world_log_message(w, ep, c->inf[k].first_tx, "unfinished",
					  SIM_TIME_NEVER, c->inf[k].tx, -1, at);
		}
}

/* The endpoint's node: the next one, from the end (as identities rise). */
static int mq_init(struct world *w, struct endpoint *ep, uint64_t seed)
{
	const struct group_cfg *gc = &w->cfg->groups[ep->group];
	uint32_t s = ep_slot(w, ep), i = fleet_id(w, ep);
	struct mqtt_node *mn = &w->mq_nodes[--w->mq_next];
	ep->mq = mn;
	mn->ep = s;
	uint16_t port = gc->security == SECURITY_TLS ? 8883 : 1883;
	mn->cs = (struct backend_stream){.ep = s, .broker = 0, .port = port};
	mn->bs = (struct backend_stream){.ep = s, .broker = 1, .port = port};
	mn->hs_start = SIM_TIME_NEVER;
	mn->rdq_at = SIM_TIME_NEVER;
	/* its own kind: RNG_COAP is the CoAP client's stream of the same
	 * endpoint (the first ISN was its first draw, correlated with nothing
	 * it should be) */
	sim_rng_init(&mn->rng, seed, i, RNG_TCP);
	snprintf(mn->client_id, sizeof(mn->client_id), "s-%u", i);
	char topic[120];
	size_t tl = 0;
	for (const char *c = gc->topic; *c && tl < MQ_TOPIC_CUT; c++) {
		if (!strncmp(c, "{id}", 4)) {
			tl += (size_t)snprintf(topic + tl, sizeof(topic) - tl, "%u", i);
			c += 3;
		} else {
			topic[tl++] = *c;
		}
	}
	topic[tl] = 0;
	snprintf(mn->topic, sizeof(mn->topic), "%s", topic);
	mqtt_client_init(&mn->mc, mn->inf, w->mq.inf);
	broker_listen(w, mn);
	return w->err;
}

/* ---- a real broker ---- */

/* A TCP connection to the target before the load (backends with
 * probe_stream): a SYN-ACK says something listens.  Returns 0, or
 * SIM_ERR_IO with the reason in the run's error line. */
int world_mqtt_probe(struct world *w)
{
	int rc = w->bo->probe_stream(w->be, SIM_S(3));
	if (rc == 0)
		return 0;
	if (w->opts->err)
		snprintf(w->opts->err, w->opts->errlen,
			 "live target %s://%s%s%s:%u: a TCP connection %s",
			 w->cfg->live.secure ? "mqtts" : "mqtt",
			 strchr(w->target_host, ':') ? "[" : "", w->target_host,
			 strchr(w->target_host, ':') ? "]" : "", w->target_port,
			 rc == SIM_ERR_NOTFOUND ? "was refused (nothing listens there)"
						: "got no answer within 3 s");
	return SIM_ERR_IO;
}

const struct world_proto world_proto_mqtt = {
	.name = "mqtt", .app_hint = 0, .init = mq_init,
	.app = mq_app, .client = mq_client, .server = mq_server,
	.deliver = mq_deliver, .unfinished = mq_unfinished,
};

void world_mqtt_setup(struct world *w)
{
	w->broker_read = w->cfg->tcp.profile == TCP_CFG_LINUX && !w->bo->remote_server
				 ? MQTT_BROKER_READ
				 : 0;
	w->mq_cb = (struct mqtt_client_cb){mq_write, mq_connect, mq_drop, mq_done};
	w->ms_cb = (struct mqtt_session_cb){ms_write, ms_drop, ms_publish};
}
