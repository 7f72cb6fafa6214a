#include "world.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../backend/backend.h"
#include "../coap/coap_ep.h"
#include "../core/hw.h"
#include "../core/mem.h"
#include "../engine/engine.h"
#include "../energy/energy.h"
#include "../engine/rng.h"
#include "../mqtt/mqtt_ep.h"
#include "../net/net.h"
#include "../tcp/tcp.h"
#include "../trace/trace.h"

const char *const world_exchanges_header =
	"run,endpoint,group,first_tx_s,outcome,latency_ms,transmissions,rto_ms,end_s";

/* One virtual device and the server's state about it, laid out by who
 * touches what, so an event fetches only its own cache lines (at 100,000
 * endpoints and more every endpoint is out of cache when its turn comes,
 * and the lines fetched per exchange set the pace). */
struct endpoint {
	/* Client side, three lines: the application and client timers and
	 * every datagram the endpoint receives. */
	SIM_LINE_ALIGNED struct sim_timer app_t; /* next application message */
	struct sim_timer cli_t;    /* client expiry */
	struct coap_client cli;
	struct sim_rng rng_coap;
	struct energy_ledger radio;
	struct mqtt_node *mq;      /* protocol = mqtt: its client, broker side, TCP */
	uint8_t group;
	uint8_t always_on;         /* observes or is a multicast member: listens */
	uint8_t awaiting;          /* its exchanges in w->in_flight (n_active when last armed) */
	uint32_t id;               /* who it is (address, {id}, random streams): see place() */
	/* Server side, three lines: every request the server receives. */
	SIM_LINE_ALIGNED struct sim_timer srv_t; /* server session expiry */
	struct coap_srv_session srv;
	uint32_t dlv_top;          /* requests the server has had: see dlv_first() */
	uint32_t dlv_seen : 24;
	uint32_t srv_group : 8;    /* = group, read on this side's lines */
	/* Cold, one line: periodic traffic draws only at the start, and
	 * the server draws only when its processing time is random. */
	SIM_LINE_ALIGNED struct sim_rng rng_app;
	struct sim_rng rng_srv;
};

/* What only some scenarios need, in w->rare (same index as w->ep), which
 * is allocated only for them: 144 bytes an endpoint that a plain fleet
 * would carry, zeroed and paged in, for nothing, and the observer would
 * make the server's side of every endpoint a line longer. */
struct ep_rare {
	struct coap_observer obs;  /* observe groups: the server's observer */
	struct coap_mc_member mc;  /* multicast groups: the member role */
	struct cocoa cc;           /* coap.congestion = cocoa: RTO state */
	uint32_t mc_answered;      /* multicast: requests (token + 1) answered */
	uint8_t dereg_delivered;   /* observe: the cancellation reached the server */
};

/* Hint classes: what a timer will touch when it fires.  Packets come
 * with the channel's NET_HINT(direction of travel). */
enum {
	HINT_SERVER = NET_HINT(NET_UP),        /* a request reaches the server */
	HINT_CLIENT_RECV = NET_HINT(NET_DOWN), /* an answer reaches the client */
	HINT_CLIENT_SEND = 3,                  /* the application sends */
	HINT_TIMER = 4, /* the retransmission timer: mostly cancelled, and buried */
};

/* A multicast group: its members and the requester next to the server. */
struct mc_group {
	struct sim_timer t;
	struct coap_mc_requester req;
	struct sim_rng rng;
	uint32_t first, count;
	uint32_t token;       /* of the latest request */
	sim_time sent_at;
	uint8_t reached;      /* the latest request reached a member */
	uint8_t counted;
	sim_time leisure;
	uint8_t group;
};

enum { META_MC_RESPONSE = 1 };

/* build() stops copying a topic's template at this many bytes (an {id}
 * may then add up to 10 digits): the shortest topic a node can have. */
#define MQ_TOPIC_CUT 100

/* One PUBLISH write of the current connection. */
struct mq_pub {
	uint32_t off, end;
	sim_time first_tx;
	uint8_t counted;
};

/* An MQTT endpoint: the client and its TCP end, the broker's session and
 * TCP end for it, and the PUBLISH writes of the current connection (for
 * attributing TCP segments and broker receipts to messages).  Its buffers
 * are sized per run by mq_sizes(). */
struct mqtt_node {
	struct backend_stream cs, bs; /* the client's end, the broker's */
	struct mqtt_client mc;
	struct mqtt_session ms;
	struct sim_rng rng;
	struct mq_pub *pubs;      /* a ring of w->mq.pubs records */
	uint32_t n_pubs, rd_pubs; /* written, matched at the broker */
	uint32_t wrote;           /* client stream bytes this connection */
	uint8_t ending, quiet_close;
	uint32_t ep;
	char client_id[24], topic[128];
	uint8_t *cbuf, *bbuf, *srx; /* TCP send buffers; the broker's reassembly */
};

/* Sizes of every MQTT node's buffers in a run.  The broker must take the
 * largest PUBLISH whole (else it drops the connection, and the client
 * resends it forever); the client's send buffer holds every PUBLISH that
 * may be unacknowledged at once (all resent on a reconnection) with
 * CONNECT, PUBRELs, PINGREQ and DISCONNECT; and the ring of PUBLISH
 * records has one for every PUBLISH that send buffer can hold. */
struct mq_sizes {
	uint32_t cbuf, bbuf, srx, pubs; /* pubs: a power of two */
	size_t per_node;
};

static void mq_sizes(const struct scenario_cfg *cfg, struct mq_sizes *z)
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
		lo = lo > MQ_TOPIC_CUT ? MQ_TOPIC_CUT : lo; /* as build() cuts it */
		uint32_t big = mqtt_publish_size(hi, gc->qos, gc->payload);
		uint32_t small = mqtt_publish_size(lo < hi ? lo : hi, gc->qos, gc->payload);
		max_pub = big > max_pub ? big : max_pub;
		min_pub = small < min_pub ? small : min_pub;
	}
	uint32_t c = MQTT_MAX_INFLIGHT * max_pub + 128;
	z->cbuf = c > 2048 ? c : 2048;
	z->bbuf = 2048;
	z->srx = max_pub > MQTT_RX_BUF ? max_pub : MQTT_RX_BUF;
	uint32_t need = z->cbuf / (min_pub ? min_pub : 1) + 1;
	for (z->pubs = 16; z->pubs < need; z->pubs *= 2)
		;
	z->per_node = (size_t)z->cbuf + z->bbuf + z->srx + (size_t)z->pubs * sizeof(struct mq_pub);
	z->per_node = (z->per_node + 63) & ~(size_t)63;
}

/* Which messages of an endpoint have reached the server, so that each
 * counts as delivered once however many copies arrive: a retransmission
 * can outlive the server's duplicate memory (a queue behind a slow link,
 * more messages in flight than it remembers).  Tokens (MQTT: packet ids)
 * are sequential per client; dlv_top is the highest delivered, bit k of
 * dlv_seen says dlv_top - k was delivered too (bit 0 set once any was).
 * A copy more than 23 messages older than the top is taken as delivered
 * before: the count errs low, never high.  Kept in the endpoint's server
 * lines, which receiving a request reads anyway. */
#define DLV_BITS 24

/* Count token tok as delivered; false when it was already. */
static bool dlv_first(struct endpoint *ep, uint32_t tok)
{
	int32_t ahead = (int32_t)(tok - ep->dlv_top);
	uint32_t seen = ep->dlv_seen;
	if (!seen || ahead > 0) {
		seen = !seen || ahead >= DLV_BITS ? 1 : seen << ahead | 1;
		ep->dlv_seen = seen & ((1u << DLV_BITS) - 1);
		ep->dlv_top = tok;
		return true;
	}
	if (ahead <= -DLV_BITS || seen >> -ahead & 1)
		return false;
	ep->dlv_seen = seen | 1u << -ahead;
	return true;
}

/* The same for MQTT packet ids (16 bits). */
static bool dlv_first16(struct endpoint *ep, uint16_t pid)
{
	int16_t ahead = (int16_t)(pid - (uint16_t)ep->dlv_top);
	return dlv_first(ep, ep->dlv_top + (uint32_t)(int32_t)ahead);
}

struct group_acc {
	struct run_metrics m;
	struct hist lat, dlat;
};

struct world {
	struct sim_engine *eng; /* the backend's */
	struct backend *be;
	const struct backend_ops *bo;
	const struct scenario_cfg *cfg;
	const struct run_opts *opts;
	struct coap_params cp;
	struct coap_req_tmpl tmpl[SIM_MAX_GROUPS];
	struct coap_client_cb cli_cb;
	struct coap_srv_session_cb srv_cb;
	struct coap_mc_member_cb mc_cb;
	struct mc_group mc[SIM_MAX_GROUPS];
	struct tcp_params tcpp;
	struct mqtt_client_params mqp[SIM_MAX_GROUPS];
	struct mqtt_client_cb mq_cb;
	struct mqtt_session_cb ms_cb;
	struct mqtt_node *mq_nodes;
	uint8_t *mq_bufs;     /* every node's buffers, mq.per_node bytes each */
	uint32_t n_mq;
	struct mq_sizes mq;
	struct backend_cb be_cb;
	struct endpoint *ep;
	struct ep_rare *rare; /* multicast, observe or CoCoA runs only, else NULL */
	uint32_t n_ep;
	uint32_t *slot_of; /* where endpoint i is stored; NULL: at i */
	struct coap_exch *exch;
	struct coap_pending *pend;
	bool pend_used; /* the server takes time to answer: pending responses */
	struct group_acc acc[SIM_MAX_GROUPS];
	const struct net_meta *cur_meta; /* of the datagram being delivered */
	int err;
	uint32_t in_flight;              /* exchanges awaiting an answer */
	double in_flight_area;           /* its integral over time up to in_flight_at, ns */
	sim_time in_flight_at;
	uint64_t completed_all;
	/* Energy per group spent by the start and by the end of the traffic
	 * (warmup and duration): the steady state lifetime is reckoned from. */
	double steady_mj[2][SIM_MAX_GROUPS];
	struct run_sample *series;
	size_t n_series, cap_series;
};

void run_result_free(struct run_result *r)
{
	free(r->series);
	r->series = NULL;
	r->n_series = 0;
}

static struct world *world_of(struct sim_engine *e)
{
	return sim_engine_ud(e);
}

static sim_time now_of(const struct world *w)
{
	return sim_engine_now(w->eng);
}

/* A datagram to the backend; running out of memory ends the run. */
static void send_dgram(struct world *w, uint32_t slot, enum net_dir dir, const uint8_t *buf,
		       size_t len, const struct net_meta *meta)
{
	if (w->bo->send(w->be, slot, dir, buf, len, meta) < 0)
		w->err = SIM_ERR_NOMEM;
}

/* Where an endpoint is stored: what the channel, the engine's hints and
 * the exchange slots index by.  Who it is is ep->id. */
static uint32_t ep_slot(const struct world *w, const struct endpoint *ep)
{
	return (uint32_t)(ep - w->ep);
}

static struct ep_rare *rare(const struct world *w, const struct endpoint *ep)
{
	return &w->rare[ep_slot(w, ep)];
}

static uint32_t slot_of(const struct world *w, uint32_t id)
{
	return w->slot_of ? w->slot_of[id] : id;
}

static void client_env(struct world *w, struct endpoint *ep,
		       struct coap_client_env *env)
{
	*env = (struct coap_client_env){
		.p = &w->cp, .req = &w->tmpl[ep->group], .cb = &w->cli_cb,
		.ud = w, .rng = &ep->rng_coap, .id = ep->id,
		.cc = w->cfg->coap.congestion == COAP_CC_COCOA ? &rare(w, ep)->cc : NULL,
	};
}

static void server_env(struct world *w, struct endpoint *ep,
		       struct coap_srv_env *env)
{
	const struct group_cfg *g = &w->cfg->groups[ep->srv_group];
	bool observe = g->traffic == TRAFFIC_OBSERVE;
	*env = (struct coap_srv_env){
		.p = &w->cp, .cb = &w->srv_cb, .ud = w, .rng = &ep->rng_srv,
		.processing = &w->cfg->server.processing,
		.separate_after = w->cfg->server.separate_after,
		.get_payload = g->method == COAP_GET || observe ? g->payload : 0,
		.max_body = w->cfg->server.max_body,
		.notify_interval = observe ? g->interval : 0,
		.notify_con = g->confirmable,
		.notify_con_interval = w->cfg->coap.notify_con_interval,
		.notify_until = w->cfg->duration,
		.obs = observe ? &rare(w, ep)->obs : NULL,
	};
}

/* Arm t for `when` (cancel it for NEVER), with hint class cls. */
static void rearm_as(struct world *w, struct sim_timer *t, sim_time when, uint8_t cls)
{
	if (when == SIM_TIME_NEVER) {
		sim_timer_cancel(w->eng, t);
		return;
	}
	if (sim_timer_armed(t) && t->when == when)
		return;
	if (sim_timer_arm_as(w->eng, t, when, cls) < 0)
		w->err = SIM_ERR_NOMEM;
}

static void rearm(struct world *w, struct sim_timer *t, sim_time when)
{
	rearm_as(w, t, when, 0);
}

/* The in-flight count changes by d now; its time integral (for Little's
 * law: the mean in flight is the integral over the run's length) is kept
 * exactly, not from the sampled series. */
static void in_flight_add(struct world *w, int d)
{
	w->in_flight_area += (double)w->in_flight * (double)(now_of(w) - w->in_flight_at);
	w->in_flight_at = now_of(w);
	w->in_flight = (uint32_t)((int)w->in_flight + d);
}

/* The integral of the in-flight count up to `at` (>= the last change), s. */
static double in_flight_s(const struct world *w, sim_time at)
{
	return (w->in_flight_area + (double)w->in_flight * (double)(at - w->in_flight_at)) / 1e9;
}

static void rearm_client(struct world *w, struct endpoint *ep)
{
	sim_time exp = coap_client_expiry(&ep->cli, w->cp.nstart);
	/* Exchanges awaiting an answer, for the time series.  Counted from
	 * the client's own count, not from the timer: a timer that has just
	 * fired is no longer armed, though its exchange may still be open. */
	if (ep->cli.n_active != ep->awaiting)
		in_flight_add(w, (int)ep->cli.n_active - ep->awaiting);
	ep->awaiting = (uint8_t)ep->cli.n_active;
	/* Mostly cancelled by the answer before it fires: hinting it
	 * fetches only its own line (a retransmission pays its misses). */
	rearm_as(w, &ep->cli_t, exp, HINT_TIMER);
	/* The radio stays awake while an answer is awaited. */
	energy_listen(&ep->radio, ep->always_on || ep->cli.n_active > 0, now_of(w));
}

static void rearm_server(struct world *w, struct endpoint *ep,
			 const struct coap_srv_env *env)
{
	rearm_as(w, &ep->srv_t, coap_srv_session_expiry(&ep->srv, env), HINT_SERVER);
}

/* The endpoint's radio sends or receives one datagram (all its fragments). */
static void radio_frame(struct world *w, struct endpoint *ep, size_t len, bool tx)
{
	const struct link_cfg *l = tx ? &w->cfg->up : &w->cfg->down;
	sim_time t = energy_airtime(net_ip_bytes(len, l->mtu), net_frag_count(len, l->mtu),
				    w->cfg->energy.bitrate_bps);
	if (tx)
		ep->radio.tx += t;
	else
		ep->radio.rx += t;
}

static bool counted(const struct world *w, sim_time first_tx)
{
	return first_tx >= w->cfg->warmup;
}

/* ---- CoAP callbacks ---- */

static void cli_send(void *ud, struct coap_client *c, const uint8_t *buf,
		     size_t len, const struct coap_exch *x, bool retx)
{
	struct world *w = ud;
	struct endpoint *ep = sim_container_of(c, struct endpoint, cli);
	struct net_meta meta = {0};

	if (x) {
		struct run_metrics *m = &w->acc[ep->group].m;
		meta.first_tx = x->first_tx;
		meta.counted = counted(w, x->first_tx);
		if (meta.counted) {
			m->transmissions++;
			if (retx) {
				m->retransmissions++;
				/* Spurious: the server already has this message. */
				if (coap_srv_session_seen(&ep->srv, x->mid, now_of(w)))
					m->spurious++;
			} else if (x->blk == 0) { /* a block transfer is one message */
				m->messages++;
			}
		}
	}
	radio_frame(w, ep, len, true);
	send_dgram(w, ep_slot(w, ep), NET_UP, buf, len, &meta);
}

static void log_exchange(struct world *w, struct endpoint *ep,
			 const struct coap_exch *x, const char *outcome,
			 sim_time now)
{
	FILE *f = w->opts ? w->opts->exchanges : NULL;
	if (!f)
		return;
	char lat[32] = "";
	if (!strcmp(outcome, "completed"))
		snprintf(lat, sizeof(lat), "%.6f", sim_time_to_ms(now - x->first_tx));
	if (fprintf(f, "%s,%" PRIu32 ",%s,%.9f,%s,%s,%u,%.3f,%.9f\n", w->opts->run_id,
		    ep->id, w->cfg->groups[ep->group].name,
		    sim_time_to_s(x->first_tx), outcome, lat, x->total_tx,
		    x->rto0_us / 1000.0, sim_time_to_s(now)) < 0)
		w->err = SIM_ERR_IO;
}

static void cli_done(void *ud, struct coap_client *c, const struct coap_exch *x,
		     enum coap_result r, const struct coap_msg *resp, sim_time now)
{
	struct world *w = ud;
	struct endpoint *ep = sim_container_of(c, struct endpoint, cli);
	struct group_acc *a = &w->acc[ep->group];
	const char *outcome = "sent";

	(void)resp;
	if (r == COAP_RES_COMPLETED)
		w->completed_all++;
	if (!counted(w, x->first_tx))
		return;
	switch (r) {
	case COAP_RES_COMPLETED:
		a->m.completed++;
		if (hist_add(&a->lat, now - x->first_tx) < 0)
			w->err = SIM_ERR_NOMEM;
		outcome = "completed";
		break;
	case COAP_RES_TIMEOUT:
		a->m.failed++;
		outcome = "timeout";
		break;
	case COAP_RES_RESET:
		a->m.failed++;
		outcome = "reset";
		break;
	case COAP_RES_ERROR:
		a->m.failed++;
		outcome = "error";
		break;
	case COAP_RES_SENT:
		break;
	}
	log_exchange(w, ep, x, outcome, now);
}

static void srv_send(void *ud, struct coap_srv_session *s, const uint8_t *buf,
		     size_t len)
{
	struct world *w = ud;
	struct endpoint *ep = sim_container_of(s, struct endpoint, srv);

	send_dgram(w, ep_slot(w, ep), NET_DOWN, buf, len, NULL);
}

static void srv_request(void *ud, struct coap_srv_session *s,
			const struct coap_msg *req, sim_time now)
{
	struct world *w = ud;
	struct endpoint *ep = sim_container_of(s, struct endpoint, srv);
	const struct net_meta *meta = w->cur_meta;
	struct group_acc *a = &w->acc[ep->srv_group];

	if (!meta || !meta->counted)
		return;
	uint32_t tok = req->tkl == 4 ? (uint32_t)req->token[0] << 24 |
					       (uint32_t)req->token[1] << 16 |
					       (uint32_t)req->token[2] << 8 | req->token[3]
				     : 0;
	const struct coap_option *obs = w->rare ? coap_msg_find(req, COAP_OPT_OBSERVE, NULL) : NULL;
	uint32_t v = 0;
	if (obs && coap_opt_uint(obs, &v) == 0 && v == 1) {
		/* A cancellation reuses its registration's token. */
		if (rare(w, ep)->dereg_delivered)
			return;
		rare(w, ep)->dereg_delivered = 1;
	} else if (!dlv_first(ep, tok)) {
		return;
	}
	a->m.delivered++;
	if (hist_add(&a->dlat, now - meta->first_tx) < 0)
		w->err = SIM_ERR_NOMEM;
}

static void cli_notified(void *ud, struct coap_client *c, uint32_t seq, bool fresh,
			 bool con, sim_time now)
{
	struct world *w = ud;
	struct endpoint *ep = sim_container_of(c, struct endpoint, cli);
	struct run_metrics *m = &w->acc[ep->group].m;

	(void)seq;
	(void)con;
	if (!counted(w, now))
		return;
	m->notifications_received++;
	if (fresh)
		m->notifications_fresh++;
	else
		m->notifications_stale++;
}

static void srv_notify(void *ud, struct coap_srv_session *s, uint32_t seq, bool con,
		       sim_time now)
{
	struct world *w = ud;
	struct endpoint *ep = sim_container_of(s, struct endpoint, srv);

	(void)seq;
	(void)con;
	if (counted(w, now))
		w->acc[ep->srv_group].m.notifications_sent++;
}

static void srv_unobserved(void *ud, struct coap_srv_session *s, bool timed_out,
			   sim_time now)
{
	struct world *w = ud;
	struct endpoint *ep = sim_container_of(s, struct endpoint, srv);

	(void)now;
	if (timed_out)
		w->acc[ep->srv_group].m.observers_lost++;
}

/* ---- multicast ---- */

static struct mc_group *mc_of(struct world *w, const struct endpoint *ep)
{
	return &w->mc[ep->group];
}

static void member_env(struct world *w, struct endpoint *ep,
		       struct coap_mc_member_env *env)
{
	*env = (struct coap_mc_member_env){
		.cb = &w->mc_cb, .ud = w, .rng = &ep->rng_coap,
		.leisure = mc_of(w, ep)->leisure,
		.payload = w->cfg->groups[ep->group].payload,
	};
}

static void mc_member_send(void *ud, struct coap_mc_member *m, const uint8_t *buf,
			   size_t len)
{
	struct world *w = ud;
	struct ep_rare *r = sim_container_of(m, struct ep_rare, mc);
	struct endpoint *ep = &w->ep[r - w->rare];
	struct net_meta meta = {.kind = META_MC_RESPONSE};

	radio_frame(w, ep, len, true);
	send_dgram(w, ep_slot(w, ep), NET_UP, buf, len, &meta);
}

static void mc_fire(struct sim_engine *e, struct sim_timer *t)
{
	struct world *w = world_of(e);
	struct mc_group *g = sim_container_of(t, struct mc_group, t);
	const struct group_cfg *gc = &w->cfg->groups[g->group];
	struct run_metrics *m = &w->acc[g->group].m;
	uint8_t buf[256];
	char path[COAP_MAX_PATH];

	/* The group's resource: the path without the per-endpoint part. */
	snprintf(path, sizeof(path), "%s", gc->path);
	char *id = strstr(path, "{id}");
	if (id)
		*id = 0;
	int len = coap_mc_request(&g->req, path, buf, sizeof(buf), &g->token);
	g->sent_at = sim_engine_now(e);
	g->reached = 0;
	g->counted = counted(w, sim_engine_now(e));
	if (g->counted) {
		m->messages++;
		m->transmissions++;
		m->mc_expected += g->count;
	}
	struct net_meta meta = {.first_tx = sim_engine_now(e), .counted = g->counted,
				.mcast = (uint8_t)(g->group + 1)};
	if (len > 0 && w->bo->send_multicast(w->be, g->first, g->count, buf, (size_t)len,
					     &meta) < 0)
		w->err = SIM_ERR_NOMEM;
	sim_time gap = SIM_TIME_NEVER;
	if (gc->traffic == TRAFFIC_PERIODIC)
		gap = gc->interval;
	else if (gc->traffic == TRAFFIC_POISSON)
		gap = (sim_time)sim_rng_exp(&g->rng, (double)gc->interval) + 1;
	if (gap != SIM_TIME_NEVER && sim_engine_now(e) + gap < w->cfg->duration)
		rearm(w, t, sim_engine_now(e) + gap);
}

/* A member heard the group request. */
static void mc_member_recv(struct world *w, struct endpoint *ep, const uint8_t *buf,
			   size_t len, const struct net_meta *meta)
{
	struct mc_group *g = mc_of(w, ep);
	struct coap_mc_member_env env;

	if (meta->counted && !g->reached) {
		struct group_acc *a = &w->acc[ep->group];
		g->reached = 1;
		a->m.delivered++;
		if (hist_add(&a->dlat, now_of(w) - meta->first_tx) < 0)
			w->err = SIM_ERR_NOMEM;
	}
	member_env(w, ep, &env);
	coap_mc_member_recv(&rare(w, ep)->mc, &env, now_of(w), buf, len);
	rearm(w, &ep->app_t, coap_mc_member_expiry(&rare(w, ep)->mc));
}

/* The requester got a member's response: matched by token. */
static void mc_response(struct world *w, struct endpoint *ep, const uint8_t *buf,
			size_t len)
{
	struct mc_group *g = mc_of(w, ep);
	int64_t tok = coap_mc_response_token(buf, len);

	if (tok < 0 || (uint32_t)tok + 1 <= rare(w, ep)->mc_answered)
		return; /* not ours, or a duplicate of an answer we have */
	rare(w, ep)->mc_answered = (uint32_t)tok + 1;
	if (g->counted && (uint32_t)tok == g->token)
		w->acc[ep->group].m.mc_responses++;
}

static sim_time next_gap(struct world *w, struct endpoint *ep);

/* ---- MQTT over TCP ---- */

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
static bool stream_send(struct world *w, struct mqtt_node *n, bool broker,
			const uint8_t *buf, size_t len)
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
	rearm(w, &ep->srv_t, b < k ? b : k);
	bool awaiting = n->mc.state == MQTT_CLI_CONNECT_SENT || n->mc.ping_out ||
			n->mc.state == MQTT_CLI_TCP_WAIT;
	uint8_t open = 0; /* PUBLISHes awaiting their acknowledgement */
	for (int i = 0; i < MQTT_MAX_INFLIGHT; i++)
		open += n->mc.inf[i].state != MQTT_INF_FREE;
	awaiting |= open > 0;
	if (open != ep->awaiting)
		in_flight_add(w, (int)open - ep->awaiting);
	ep->awaiting = open;
	energy_listen(&ep->radio, awaiting, now_of(w));
}

static int mq_pending(const struct mqtt_node *n)
{
	int k = (int)n->mc.backlog;
	for (int i = 0; i < MQTT_MAX_INFLIGHT; i++)
		k += n->mc.inf[i].state != MQTT_INF_FREE;
	return k;
}

/* The scenario is over and nothing is left: DISCONNECT and FIN. */
static void mq_maybe_finish(struct world *w, struct mqtt_node *n)
{
	if (!n->ending || mq_pending(n) || n->mc.state != MQTT_CLI_CONNECTED)
		return;
	const uint8_t disc[2] = {0xe0, 0x00};
	n->mc.state = MQTT_CLI_IDLE;
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
	if (w->bo->stream_open(w->be, &n->bs, n->bbuf, w->mq.bbuf, &n->rng) < 0)
		w->err = SIM_ERR_NOMEM;
	mqtt_session_init(&n->ms, n->srx, w->mq.srx);
}

static void client_event(struct world *w, struct mqtt_node *n, enum tcp_event ev)
{
	struct mqtt_client_env env;
	sim_time now = now_of(w);

	mq_env(w, n, &env);
	if (ev == TCP_EV_ESTABLISHED) {
		struct run_metrics *m = &w->acc[ep_of_node(w, n)->group].m;
		m->reconnects += n->mc.connects > 0; /* this client had one before */
		m->connections++;
		mqtt_client_up(&n->mc, &env, now);
		return;
	}
	if (n->quiet_close) { /* we dropped it ourselves */
		n->quiet_close = 0;
		return;
	}
	if (n->mc.state != MQTT_CLI_IDLE && n->mc.state != MQTT_CLI_BACKOFF)
		mqtt_client_down(&n->mc, &env, now);
}

/* ---- the backend's stream callbacks ---- */

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

static void be_data(void *ud, uint32_t ep, bool broker, const uint8_t *buf, size_t len)
{
	struct world *w = ud;
	struct mqtt_node *n = w->ep[ep].mq;

	if (broker) {
		struct mqtt_session_env env = {&w->ms_cb, w};
		mqtt_session_data(&n->ms, &env, now_of(w), buf, len);
		return;
	}
	struct mqtt_client_env env;
	mq_env(w, n, &env);
	mqtt_client_data(&n->mc, &env, now_of(w), buf, len);
	mq_maybe_finish(w, n);
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
			for (int i = 0; i < MQTT_MAX_INFLIGHT; i++)
				if (c->inf[i].state != MQTT_INF_FREE && c->inf[i].pid == m.packet_id)
					first = c->inf[i].first_tx;
		/* A message is counted at its first transmission, as CoAP's
		 * are (messages still waiting for a connection are not), even
		 * when the socket refuses it below. */
		if (ok && counted(w, first) && !mqtt_dup(&m) && first == now)
			w->acc[ep_of_node(w, n)->group].m.messages++;
	}
	/* Record a PUBLISH only once the stream has taken it, so that the
	 * records stay aligned with the bytes the broker will read. */
	if (!stream_send(w, n, false, buf, len))
		return;
	if (publish) {
		struct mq_pub *r = &n->pubs[n->n_pubs++ & (w->mq.pubs - 1)];
		r->off = n->wrote;
		r->end = n->wrote + (uint32_t)len;
		r->first_tx = first;
		r->counted = counted(w, first);
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

	if (!counted(w, f->first_tx))
		return;
	if (r == MQTT_RES_COMPLETED) {
		a->m.completed++;
		if (hist_add(&a->lat, now - f->first_tx) < 0)
			w->err = SIM_ERR_NOMEM;
	} else if (r == MQTT_RES_LOST) {
		a->m.failed++;
	}
}

static void ms_write(void *ud, struct mqtt_session *s, const uint8_t *buf, size_t len)
{
	struct world *w = ud;
	struct mqtt_node *n = sim_container_of(s, struct mqtt_node, ms);
	if (len && buf[0] >> 4 == MQTT_PINGRESP)
		w->acc[ep_of_node(w, n)->group].m.keepalive_bytes += 2 * (NET_IPV6_HDR + TCP_HDR + 2);
	stream_send(w, n, true, buf, len);
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
		first = dlv_first16(ep_of_node(w, n), m->packet_id);
	if (!first || !r->counted)
		return;
	/* The backend subscriber next to the broker gets what its filter
	 * matches (§4.7), once per message. */
	const char *filter = w->cfg->broker.subscriber;
	if (*filter && mqtt_topic_match(filter, n->topic))
		a->m.forwarded++;
	a->m.delivered++;
	if (hist_add(&a->dlat, now - r->first_tx) < 0)
		w->err = SIM_ERR_NOMEM;
}

static void mq_client_fire(struct world *w, struct endpoint *ep)
{
	struct mqtt_node *n = ep->mq;
	struct mqtt_client_env env;
	sim_time now = now_of(w);

	mq_env(w, n, &env);
	if (stream_expiry(w, n, false) <= now)
		w->bo->stream_expire(w->be, &n->cs);
	if (mqtt_client_expiry(&n->mc, env.p) <= now) {
		if (n->mc.ping_out == 0 && n->mc.state == MQTT_CLI_CONNECTED)
			w->acc[ep->group].m.keepalive_bytes += 0; /* counted at PINGRESP */
		mqtt_client_expire(&n->mc, &env, now);
	}
	mq_maybe_finish(w, n);
	rearm_mqtt(w, n);
}

static void mq_broker_fire(struct world *w, struct endpoint *ep)
{
	struct mqtt_node *n = ep->mq;
	struct mqtt_session_env se = {&w->ms_cb, w};
	sim_time now = now_of(w);

	if (stream_expiry(w, n, true) <= now)
		w->bo->stream_expire(w->be, &n->bs);
	if (mqtt_session_expiry(&n->ms) <= now)
		mqtt_session_expire(&n->ms, &se, now);
	rearm_mqtt(w, n);
}

static void mq_app_fire(struct world *w, struct endpoint *ep, struct sim_timer *t)
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
	rearm_mqtt(w, n);
	sim_time gap = next_gap(w, ep);
	rearm(w, t, gap != SIM_TIME_NEVER && now + gap < w->cfg->duration ? now + gap
									   : w->cfg->duration);
}

/* ---- channel callbacks ---- */

static void be_deliver(void *ud, uint32_t i, enum net_dir dir, const uint8_t *buf,
		       size_t len, const struct net_meta *meta)
{
	struct world *w = ud;
	struct endpoint *ep = &w->ep[i];

	if (dir == NET_DOWN)
		radio_frame(w, ep, len, false);
	w->cur_meta = meta;
	if (dir == NET_UP && meta->kind == META_MC_RESPONSE) {
		mc_response(w, ep, buf, len);
	} else if (dir == NET_DOWN && meta->mcast) {
		mc_member_recv(w, ep, buf, len, meta);
	} else if (dir == NET_UP) {
		struct coap_srv_env env;
		server_env(w, ep, &env);
		coap_srv_session_recv(&ep->srv, &env, now_of(w), buf, len);
		rearm_server(w, ep, &env);
	} else {
		struct coap_client_env env;
		client_env(w, ep, &env);
		coap_client_recv(&ep->cli, &env, now_of(w), buf, len);
		rearm_client(w, ep);
	}
	w->cur_meta = NULL;
}

static void be_tap_send(void *ud, uint32_t ep, enum net_dir dir, uint32_t id,
			const uint8_t *buf, size_t len, const struct net_meta *meta,
			sim_time now)
{
	struct world *w = ud;
	trace_tx(w->opts->trace, w->ep[ep].id, (enum trace_dir)dir, id, meta->tcp ? TRACE_TCP : meta->mcast,
		 buf, len, now);
}

static void be_tap_recv(void *ud, uint32_t ep, enum net_dir dir, uint32_t id,
			const uint8_t *buf, size_t len, const struct net_meta *meta,
			sim_time now)
{
	struct world *w = ud;
	trace_rx(w->opts->trace, w->ep[ep].id, (enum trace_dir)dir, id, meta->tcp ? TRACE_TCP : meta->mcast,
		 buf, len, now);
}

/* ---- timers ---- */

/* Start fetching `bytes` from p, a line at a time. */
static void prefetch_lines(const void *p, size_t bytes)
{
	for (size_t off = 0; off < bytes; off += 64)
		SIM_PREFETCH((const char *)p + off);
}

#define CLIENT_BYTES offsetof(struct endpoint, srv_t)
#define SERVER_BYTES (offsetof(struct endpoint, rng_app) - CLIENT_BYTES)

/* The engine's hint, some sixteen events before one of the timers or
 * packets of the endpoint stored at i fires: fetch the lines that event
 * will touch, so the misses of coming events overlap instead of coming
 * one per event.  The exchange slot and the server's pending entry looked at
 * are the first ones (NSTART is 1 unless a scenario raises it). */
static void prefetch_endpoint(void *ud, uint32_t i, uint8_t cls,
			      const struct sim_timer *t)
{
	const struct world *w = ud;
	const char *ep = (const char *)&w->ep[i];
	size_t x = (size_t)i * w->cp.nstart;
	switch (cls) {
	case HINT_TIMER:
		/* The retransmission timer.  Cancelled ones are mostly buried
		 * in level 1 (engine.c) and never hinted, so one that is
		 * hinted mostly fires: it sends, as the application does. */
	case HINT_CLIENT_SEND:
		/* The application timer: its line is the client's first. */
		backend_prefetch(w->be, i);
		prefetch_lines(ep, CLIENT_BYTES);
		SIM_PREFETCH(&w->exch[x]);
		return;
	case HINT_CLIENT_RECV:
		/* A packet: its bytes follow its timer's line. */
		SIM_PREFETCH((const char *)t + 64);
		prefetch_lines(ep, CLIENT_BYTES);
		SIM_PREFETCH(&w->exch[x]);
		return;
	case HINT_SERVER:
		/* A packet (its bytes follow) or the session's timer. */
		SIM_PREFETCH((const char *)t + 64);
		prefetch_lines(ep + CLIENT_BYTES, SERVER_BYTES);
		if (w->pend_used)
			SIM_PREFETCH(&w->pend[x]);
		backend_prefetch(w->be, i);
		return;
	default: /* a timer armed without a class: everything hot */
		SIM_PREFETCH((const char *)t + 64);
		prefetch_lines(ep, CLIENT_BYTES + SERVER_BYTES);
		SIM_PREFETCH(&w->exch[x]);
		if (w->pend_used)
			SIM_PREFETCH(&w->pend[x]);
		backend_prefetch(w->be, i);
	}
}

/* Timers armed a simulated second, roughly, for sizing the engine's
 * buckets: a CoAP exchange arms about five (the next message, the
 * retransmission timer, two packets and change). */
static double expected_timers_per_s(const struct scenario_cfg *cfg)
{
	double msgs = 0;
	for (size_t g = 0; g < cfg->n_groups; g++) {
		const struct group_cfg *gc = &cfg->groups[g];
		if (gc->interval > 0 && gc->traffic != TRAFFIC_ONCE)
			msgs += (double)gc->count * 1e9 / (double)gc->interval;
	}
	return 5 * msgs;
}

static sim_time next_gap(struct world *w, struct endpoint *ep)
{
	const struct group_cfg *g = &w->cfg->groups[ep->group];

	switch (g->traffic) {
	case TRAFFIC_PERIODIC:
		return g->interval;
	case TRAFFIC_POISSON:
		return (sim_time)sim_rng_exp(&ep->rng_app, (double)g->interval) + 1;
	case TRAFFIC_ONCE:
	case TRAFFIC_OBSERVE:
		break;
	}
	return SIM_TIME_NEVER;
}

static void app_fire(struct sim_engine *e, struct sim_timer *t)
{
	struct world *w = world_of(e);
	struct endpoint *ep = sim_container_of(t, struct endpoint, app_t);
	struct coap_client_env env;

	if (ep->mq) {
		mq_app_fire(w, ep, t);
		return;
	}
	if (w->cfg->groups[ep->group].multicast) {
		/* A member's timer: its response's Leisure is over. */
		struct coap_mc_member_env me;
		member_env(w, ep, &me);
		coap_mc_member_expire(&rare(w, ep)->mc, &me, sim_engine_now(e));
		rearm(w, t, coap_mc_member_expiry(&rare(w, ep)->mc));
		return;
	}
	client_env(w, ep, &env);
	if (w->cfg->groups[ep->group].traffic == TRAFFIC_OBSERVE) {
		/* Register once; cancel when the scenario ends. */
		if (sim_engine_now(e) < w->cfg->duration) {
			coap_client_observe(&ep->cli, &env, sim_engine_now(e));
			rearm(w, t, w->cfg->duration);
		} else {
			coap_client_cancel_observe(&ep->cli, &env, sim_engine_now(e));
		}
		rearm_client(w, ep);
		return;
	}
	coap_client_request(&ep->cli, &env, sim_engine_now(e));
	rearm_client(w, ep);

	sim_time gap = next_gap(w, ep);
	if (gap != SIM_TIME_NEVER && sim_engine_now(e) + gap < w->cfg->duration)
		rearm_as(w, t, sim_engine_now(e) + gap, HINT_CLIENT_SEND);
}

static void cli_fire(struct sim_engine *e, struct sim_timer *t)
{
	struct world *w = world_of(e);
	struct endpoint *ep = sim_container_of(t, struct endpoint, cli_t);
	struct coap_client_env env;

	if (ep->mq) {
		mq_client_fire(w, ep);
		return;
	}
	client_env(w, ep, &env);
	coap_client_expire(&ep->cli, &env, sim_engine_now(e));
	rearm_client(w, ep);
}

static void srv_fire(struct sim_engine *e, struct sim_timer *t)
{
	struct world *w = world_of(e);
	struct endpoint *ep = sim_container_of(t, struct endpoint, srv_t);
	struct coap_srv_env env;

	if (ep->mq) {
		mq_broker_fire(w, ep);
		return;
	}
	server_env(w, ep, &env);
	coap_srv_session_expire(&ep->srv, &env, sim_engine_now(e));
	rearm_server(w, ep, &env);
}

/* Every endpoint's energy so far, per group, at warmup (row 0) or at
 * duration (row 1), after the events of that instant.  In the order of
 * identity: sums of doubles depend on their order. */
static void steady_snapshot(struct world *w, int row)
{
	const struct scenario_cfg *cfg = w->cfg;
	sim_time at = row ? cfg->duration : cfg->warmup;
	for (uint32_t i = 0; i < w->n_ep; i++) {
		const struct endpoint *ep = &w->ep[slot_of(w, i)];
		w->steady_mj[row][ep->group] += energy_mj(&ep->radio, at, &cfg->energy);
	}
}

/* ---- setup and results ---- */

/* Where each endpoint is stored.  Events run in time order, and the
 * endpoints of a periodic group send in the same order every period, so
 * a CoAP group stored in the order of its endpoints' first messages (each
 * group in its own range) turns the event loop's walk over endpoint,
 * exchange and channel state from random into nearly sequential, which
 * the memory system serves much faster at a million endpoints.  Only
 * storage moves: endpoint i keeps its identity (address, {id}, random
 * streams, rows in exchanges.csv) and its timers are armed in the order
 * of i as before, so results do not change.  Multicast groups (the
 * channel delivers a group request to a range of slots in order), MQTT
 * groups and the ns-3 backend stay in identity order.  The order is a
 * counting sort on the first send time, quantised to one slot per
 * endpoint: ties and near-ties keep identity order. */
/* qsort_r order of endpoint numbers by key, then number (as the insertion
 * sort below leaves them). */
static int by_key(const void *a, const void *b, void *keys)
{
	const sim_time *key = keys;
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	if (key[x] != key[y])
		return key[x] < key[y] ? -1 : 1;
	return x < y ? -1 : x > y;
}

static int place(struct world *w, uint64_t seed)
{
	const struct scenario_cfg *cfg = w->cfg;
	uint32_t first = 0;

	if (!w->bo->any_placement)
		return 0;
	for (size_t g = 0; g < cfg->n_groups; first += cfg->groups[g++].count) {
		const struct group_cfg *gc = &cfg->groups[g];
		uint32_t count = gc->count;
		if (gc->multicast || gc->protocol != PROTO_COAP || count < 2)
			continue;
		if (!w->slot_of) {
			w->slot_of = malloc(sizeof(*w->slot_of) * w->n_ep);
			if (!w->slot_of)
				return SIM_ERR_NOMEM;
			for (uint32_t i = 0; i < w->n_ep; i++)
				w->slot_of[i] = i;
		}
		sim_time *key = malloc(sizeof(*key) * count);
		uint32_t *q = malloc(sizeof(*q) * count);
		uint32_t *order = malloc(sizeof(*order) * count);
		uint32_t *at = calloc((size_t)count + 1, sizeof(*at));
		if (!key || !q || !order || !at) {
			free(key);
			free(q);
			free(order);
			free(at);
			return SIM_ERR_NOMEM;
		}
		sim_time lo = SIM_TIME_NEVER, hi = 0;
		for (uint32_t k = 0; k < count; k++) {
			/* The first draw of the endpoint's application stream,
			 * as build() draws it below. */
			struct sim_rng r;
			sim_rng_init(&r, seed, first + k, RNG_APP);
			sim_time st = (sim_time)sim_rng_dist(&r, &gc->start);
			key[k] = st < cfg->duration ? st : cfg->duration;
			lo = key[k] < lo ? key[k] : lo;
			hi = key[k] > hi ? key[k] : hi;
		}
		/* Counting sort into count ranges of time, then insertion
		 * sort inside each (a handful of endpoints). */
		double scale = (double)count / ((double)(hi - lo) + 1);
		for (uint32_t k = 0; k < count; k++) {
			uint64_t b = (uint64_t)((double)(key[k] - lo) * scale);
			q[k] = b < count ? (uint32_t)b : count - 1;
			at[q[k] + 1]++;
		}
		for (uint32_t b = 0; b < count; b++)
			at[b + 1] += at[b];
		for (uint32_t k = 0; k < count; k++)
			order[at[q[k]]++] = k; /* at[b] ends as where range b ends */
		for (uint32_t b = 0, from = 0; b < count; from = at[b++]) {
			if (at[b] - from > 16) {
				/* A heavy-tailed start (pareto, say) can crowd
				 * most endpoints into a few ranges. */
				qsort_r(order + from, at[b] - from, sizeof(*order), by_key, key);
				continue;
			}
			for (uint32_t j = from + 1; j < at[b]; j++) {
				uint32_t k = order[j], m = j;
				for (; m > from && key[order[m - 1]] > key[k]; m--)
					order[m] = order[m - 1];
				order[m] = k;
			}
		}
		for (uint32_t j = 0; j < count; j++)
			w->slot_of[first + order[j]] = first + j;
		free(q);
		free(order);
		free(key);
		free(at);
	}
	return 0;
}

static int build(struct world *w, uint64_t seed)
{
	const struct scenario_cfg *cfg = w->cfg;
	uint64_t n = 0;

	for (size_t g = 0; g < cfg->n_groups; g++)
		n += cfg->groups[g].count;
	if (n > UINT32_MAX - 1)
		return SIM_ERR_INVAL;
	w->n_ep = (uint32_t)n;

	w->cp = (struct coap_params){
		.ack_timeout = cfg->coap.ack_timeout,
		.ack_random_factor = cfg->coap.ack_random_factor,
		.max_retransmit = cfg->coap.max_retransmit,
		.nstart = cfg->coap.nstart,
	};
	coap_params_derive(&w->cp);
	for (size_t g = 0; g < cfg->n_groups; g++) {
		const struct group_cfg *gc = &cfg->groups[g];
		w->tmpl[g] = (struct coap_req_tmpl){
			.type = gc->confirmable ? COAP_CON : COAP_NON,
			.code = gc->method, .path = gc->path,
			.payload = gc->payload, .block_size = gc->block_size,
		};
		coap_req_tmpl_prepare(&w->tmpl[g]);
		w->acc[g].m.confirmable = gc->confirmable || gc->traffic == TRAFFIC_OBSERVE;
		w->acc[g].m.observe = gc->traffic == TRAFFIC_OBSERVE;
		w->acc[g].m.multicast = gc->multicast;
		if (gc->multicast)
			w->acc[g].m.confirmable = false;
	}
	w->cli_cb = (struct coap_client_cb){cli_send, cli_done, cli_notified};
	w->srv_cb = (struct coap_srv_session_cb){srv_send, srv_request, srv_notify,
						 srv_unobserved};
	w->mc_cb = (struct coap_mc_member_cb){mc_member_send};
	w->mq_cb = (struct mqtt_client_cb){mq_write, mq_connect, mq_drop, mq_done};
	w->ms_cb = (struct mqtt_session_cb){ms_write, ms_drop, ms_publish};
	w->tcpp = (struct tcp_params){
		.rto_initial = cfg->tcp.rto_initial, .rto_min = cfg->tcp.rto_min,
		.rto_max = cfg->tcp.rto_max, .mss = cfg->tcp.mss,
		.delayed_ack = cfg->tcp.delayed_ack, .syn_retries = 6, .data_retries = 15,
		.rcv_wnd = 65535,
	};
	uint32_t n_mq = 0;
	for (size_t g = 0; g < cfg->n_groups; g++) {
		const struct group_cfg *gc = &cfg->groups[g];
		w->mqp[g] = (struct mqtt_client_params){
			.keepalive_s = (uint16_t)(cfg->mqtt.keepalive / SIM_S(1)),
			.clean_session = cfg->mqtt.clean_session, .qos = gc->qos,
			.payload = gc->payload, .reconnect_min = SIM_S(1),
			.reconnect_max = SIM_S(60),
		};
		if (gc->protocol == PROTO_MQTT) {
			n_mq += gc->count;
			w->acc[g].m.mqtt = true;
			w->acc[g].m.confirmable = gc->qos > 0;
		}
	}
	mq_sizes(cfg, &w->mq);
	w->n_mq = n_mq;
	if (n_mq && (!(w->mq_nodes = calloc(n_mq, sizeof(*w->mq_nodes))) ||
		     !(w->mq_bufs = sim_calloc_big(n_mq, w->mq.per_node))))
		return SIM_ERR_NOMEM;
	for (uint32_t k = 0; k < n_mq; k++) {
		uint8_t *b = w->mq_bufs + k * w->mq.per_node;
		struct mqtt_node *mn = &w->mq_nodes[k];
		/* the records first: the block is 64-byte aligned */
		mn->pubs = (struct mq_pub *)(void *)b;
		mn->cbuf = b + (size_t)w->mq.pubs * sizeof(struct mq_pub);
		mn->bbuf = mn->cbuf + w->mq.cbuf;
		mn->srx = mn->bbuf + w->mq.bbuf;
	}
	bool tap = w->opts && w->opts->trace;
	w->be_cb = (struct backend_cb){
		.deliver = be_deliver, .segment = be_segment, .data = be_data,
		.event = be_event, .changed = be_changed,
		.tap_send = tap ? be_tap_send : NULL, .tap_recv = tap ? be_tap_recv : NULL,
		.ud = w,
	};

	int rc = place(w, seed);
	if (rc < 0)
		return rc;
	const struct backend_setup bs = {
		.n_ep = w->n_ep, .slot_of = w->slot_of, .seed = seed,
		.up = &cfg->up, .down = &cfg->down, .bottleneck = &cfg->bottleneck,
		.tcp = &w->tcpp, .timers_per_s = expected_timers_per_s(cfg), .cfg = cfg,
		.cb = &w->be_cb, .engine_ud = w,
	};
	rc = w->bo->open(&w->be, &bs);
	if (rc < 0)
		return rc;
	w->eng = w->bo->engine(w->be);
	sim_engine_set_hint(w->eng, prefetch_endpoint, w);
	w->ep = sim_calloc_big(w->n_ep ? w->n_ep : 1, sizeof(*w->ep));
	w->exch = sim_calloc_big((size_t)w->n_ep * w->cp.nstart + 1, sizeof(*w->exch));
	w->pend = sim_calloc_big((size_t)w->n_ep * w->cp.nstart + 1, sizeof(*w->pend));
	if (!w->ep || !w->exch || !w->pend)
		return SIM_ERR_NOMEM;
	/* Without processing time every answer goes out at once and the
	 * pending slots are never touched (nor paged in). */
	w->pend_used = cfg->server.processing.kind != SIM_DIST_NONE;
	bool rare_used = cfg->coap.congestion == COAP_CC_COCOA;
	for (size_t g = 0; g < cfg->n_groups; g++)
		rare_used |= cfg->groups[g].multicast ||
			     cfg->groups[g].traffic == TRAFFIC_OBSERVE;
	if (rare_used && !(w->rare = sim_calloc_big(w->n_ep ? w->n_ep : 1, sizeof(*w->rare))))
		return SIM_ERR_NOMEM;

	uint32_t i = 0;
	for (size_t g = 0; g < cfg->n_groups; g++) {
		const struct group_cfg *gc = &cfg->groups[g];
		if (gc->multicast) {
			struct mc_group *mg = &w->mc[g];
			mg->first = i;
			mg->count = gc->count;
			mg->group = (uint8_t)g;
			sim_timer_init(&mg->t, mc_fire);
			sim_rng_init(&mg->rng, seed, SIM_RNG_OWNER_SHARED - 1 - g, RNG_APP);
			mg->req.next_token = (uint32_t)sim_rng_u64(&mg->rng);
			mg->req.next_mid = (uint16_t)sim_rng_u64(&mg->rng);
			mg->leisure = cfg->coap.default_leisure;
			if (!mg->leisure) {
				/* §8.2 lower bound: response size x group size / rate
				 * of the narrowest shared link. */
				uint64_t rate = cfg->bottleneck.present ? cfg->bottleneck.rate_bps
									: cfg->up.rate_bps;
				uint32_t s = (uint32_t)net_ip_bytes(4 + 4 + 1 + gc->payload,
								    cfg->up.mtu);
				mg->leisure = coap_leisure_lower_bound(s, gc->count,
								       (double)rate / 8);
			}
			sim_time st = (sim_time)sim_rng_dist(&mg->rng, &gc->start);
			if (st < cfg->duration && sim_timer_arm(w->eng, &mg->t, st) < 0)
				return SIM_ERR_NOMEM;
		}
		for (uint32_t k = 0; k < cfg->groups[g].count; k++, i++) {
			uint32_t s = slot_of(w, i);
			struct endpoint *ep = &w->ep[s];
			struct coap_client_env ce;
			struct coap_srv_env se;

			ep->id = i;
			ep->group = ep->srv_group = (uint8_t)g;
			ep->always_on = gc->multicast || gc->traffic == TRAFFIC_OBSERVE;
			energy_listen(&ep->radio, ep->always_on, 0);
			sim_timer_init(&ep->app_t, app_fire);
			sim_timer_init(&ep->cli_t, cli_fire);
			sim_timer_init(&ep->srv_t, srv_fire);
			ep->app_t.owner = ep->cli_t.owner = ep->srv_t.owner = s;
			sim_rng_init(&ep->rng_app, seed, i, RNG_APP);
			sim_rng_init(&ep->rng_coap, seed, i, RNG_COAP);
			sim_rng_init(&ep->rng_srv, seed, i, RNG_SERVER);
			if (w->rare)
				cocoa_init(&rare(w, ep)->cc);
			client_env(w, ep, &ce);
			coap_client_init(&ep->cli, &w->exch[(size_t)s * w->cp.nstart], &ce);
			server_env(w, ep, &se);
			coap_srv_session_init(&ep->srv, &w->pend[(size_t)s * w->cp.nstart], &se);
			if (gc->multicast) {
				coap_mc_member_init(&rare(w, ep)->mc, &ep->rng_coap);
				continue; /* members answer; they send nothing of their own */
			}
			if (gc->protocol == PROTO_MQTT) {
				struct mqtt_node *mn = &w->mq_nodes[--n_mq];
				ep->mq = mn;
				mn->ep = s;
				mn->cs = (struct backend_stream){.ep = s, .broker = 0};
				mn->bs = (struct backend_stream){.ep = s, .broker = 1};
				/* its own kind: RNG_COAP is the CoAP client's stream
				 * of the same endpoint (the first ISN was its first
				 * draw, correlated with nothing it should be) */
				sim_rng_init(&mn->rng, seed, i, RNG_TCP);
				snprintf(mn->client_id, sizeof(mn->client_id), "s-%u", i);
				char topic[120];
				size_t tl = 0;
				for (const char *c = gc->topic; *c && tl < MQ_TOPIC_CUT; c++) {
					if (!strncmp(c, "{id}", 4)) {
						tl += (size_t)snprintf(topic + tl, sizeof(topic) - tl,
								       "%u", i);
						c += 3;
					} else {
						topic[tl++] = *c;
					}
				}
				topic[tl] = 0;
				snprintf(mn->topic, sizeof(mn->topic), "%s", topic);
				mqtt_client_init(&mn->mc);
				broker_listen(w, mn);
			}

			sim_time start = (sim_time)sim_rng_dist(&ep->rng_app,
								&cfg->groups[g].start);
			uint8_t cls = ep->mq || gc->multicast ? 0 : HINT_CLIENT_SEND;
			if (start < cfg->duration &&
			    sim_timer_arm_as(w->eng, &ep->app_t, start, cls) < 0)
				return SIM_ERR_NOMEM;
		}
	}
	return 0;
}

static void finish_metrics(struct run_metrics *m, const struct hist *lat,
			   const struct hist *dlat)
{
	hist_summary(lat, &m->latency);
	hist_summary(dlat, &m->delivery_latency);
}

/* Per-group channel counters: every packet belongs to one endpoint. */
struct chan_count { uint64_t sent, recv, bytes; };

/* Energy of every endpoint over the run: traffic stops at duration, so the
 * period is the duration, or longer if exchanges ran on after it. */
static void collect_energy(struct world *w, struct run_result *res)
{
	const struct scenario_cfg *cfg = w->cfg;
	sim_time period = now_of(w) > cfg->duration ? now_of(w) : cfg->duration;
	double node_sum[SIM_MAX_GROUPS] = {0}, all_sum = 0, all_max = 0;

	/* In the order of identity: sums of doubles depend on their order. */
	for (uint32_t i = 0; i < w->n_ep; i++) {
		if (w->slot_of && i + 16 < w->n_ep)
			SIM_PREFETCH(&w->ep[w->slot_of[i + 16]].radio);
		struct endpoint *ep = &w->ep[slot_of(w, i)];
		double e = energy_mj(&ep->radio, period, &cfg->energy);
		struct run_metrics *g = &res->groups[ep->group];
		node_sum[ep->group] += e;
		if (e > g->energy.per_node_max)
			g->energy.per_node_max = e;
		if (e > all_max)
			all_max = e;
		all_sum += e;
	}
	/* Lifetime from the traffic's steady state: the energy spent between
	 * warmup and duration over that window, not over the drain after it
	 * (when the fleet only finishes what it started). */
	sim_time window = cfg->duration - cfg->warmup;
	double steady_all = 0;
	for (size_t g = 0; g < cfg->n_groups; g++) {
		struct run_metrics *m = &res->groups[g];
		double steady = w->steady_mj[1][g] - w->steady_mj[0][g];
		steady_all += steady;
		m->energy.valid = true;
		m->energy.total = node_sum[g];
		m->energy.per_node_mean = node_sum[g] / cfg->groups[g].count;
		m->energy.lifetime_days =
			energy_lifetime_days(steady / cfg->groups[g].count, window, &cfg->energy);
	}
	/* Histogram of energy per endpoint. */
	double lo = 0, hi = all_max;
	res->ehist_min = lo;
	res->ehist_max = hi;
	for (uint32_t i = 0; i < w->n_ep && hi > lo; i++) {
		double e = energy_mj(&w->ep[i].radio, period, &cfg->energy);
		int b = (int)((e - lo) / (hi - lo) * RUN_EHIST_BINS);
		res->ehist[b >= RUN_EHIST_BINS ? RUN_EHIST_BINS - 1 : b]++;
	}
	struct run_metrics *t = &res->total;
	t->energy.valid = w->n_ep > 0;
	t->energy.total = all_sum;
	t->energy.per_node_mean = w->n_ep ? all_sum / w->n_ep : 0;
	t->energy.per_node_max = all_max;
	t->energy.lifetime_days =
		energy_lifetime_days(w->n_ep ? steady_all / w->n_ep : 0, window, &cfg->energy);
}

static void collect(struct world *w, struct run_result *res, double wall)
{
	const struct scenario_cfg *cfg = w->cfg;
	struct hist lat = {0}, dlat = {0};
	struct run_metrics *t = &res->total;

	*res = (struct run_result){0};
	res->n_groups = cfg->n_groups;
	for (size_t g = 0; g < cfg->n_groups; g++) {
		struct group_acc *a = &w->acc[g];
		struct run_metrics *m = &res->groups[g];
		*m = a->m;
		finish_metrics(m, &a->lat, &a->dlat);
		if (hist_merge(&lat, &a->lat) < 0 || hist_merge(&dlat, &a->dlat) < 0)
			w->err = SIM_ERR_NOMEM;
		t->messages += m->messages;
		t->delivered += m->delivered;
		t->completed += m->completed;
		t->failed += m->failed;
		t->transmissions += m->transmissions;
		t->retransmissions += m->retransmissions;
		t->spurious += m->spurious;
		t->confirmable |= m->confirmable;
		t->observe |= m->observe;
		t->notifications_sent += m->notifications_sent;
		t->notifications_received += m->notifications_received;
		t->notifications_fresh += m->notifications_fresh;
		t->notifications_stale += m->notifications_stale;
		t->observers_lost += m->observers_lost;
		t->multicast |= m->multicast;
		t->mqtt |= m->mqtt;
		t->connections += m->connections;
		t->keepalive_bytes += m->keepalive_bytes;
		t->tcp_retransmissions += m->tcp_retransmissions;
		t->forwarded += m->forwarded;
		t->reconnects += m->reconnects;
		t->mc_responses += m->mc_responses;
		t->mc_expected += m->mc_expected;
	}
	finish_metrics(t, &lat, &dlat);
	double q[RUN_CDF_POINTS];
	sim_time v[RUN_CDF_POINTS];
	for (int i = 0; i < RUN_CDF_POINTS; i++)
		q[i] = (double)i / (RUN_CDF_POINTS - 1);
	hist_quantiles(&lat, RUN_CDF_POINTS, q, v);
	for (int i = 0; i < RUN_CDF_POINTS; i++)
		res->cdf_ms[i] = sim_time_to_ms(v[i]);
	collect_energy(w, res);
	hist_free(&lat);
	hist_free(&dlat);
	const struct net_stats *st = w->bo->stats(w->be);
	t->packets_sent = st->packets_sent;
	t->packets_lost = st->packets_lost;
	t->bytes_sent = st->bytes_sent;
	t->queue_drops = st->queue_drops;
	t->duplicates = st->duplicates;
	t->events = sim_engine_events(w->eng);
	t->wall_s = wall;
	if (cfg->n_groups == 1) {
		struct run_metrics *m = &res->groups[0];
		m->packets_sent = t->packets_sent;
		m->packets_lost = t->packets_lost;
		m->bytes_sent = t->bytes_sent;
		m->queue_drops = t->queue_drops;
		m->duplicates = t->duplicates;
	}
}

static void teardown(struct world *w)
{
	/* First: nothing of the backend (ns-3's world, the engine's lazy
	 * entries) may outlive the timers and streams it points at. */
	if (w->be)
		w->bo->close(w->be);
	for (size_t g = 0; g < SIM_MAX_GROUPS; g++) {
		hist_free(&w->acc[g].lat);
		hist_free(&w->acc[g].dlat);
	}
	free(w->series);
	free(w->mq_nodes);
	sim_free_big(w->mq_bufs, w->n_mq, w->mq.per_node);
	size_t n_ep = w->n_ep ? w->n_ep : 1, n_x = (size_t)w->n_ep * w->cp.nstart + 1;
	sim_free_big(w->ep, n_ep, sizeof(*w->ep));
	free(w->slot_of);
	sim_free_big(w->exch, n_x, sizeof(*w->exch));
	sim_free_big(w->pend, n_x, sizeof(*w->pend));
	sim_free_big(w->rare, n_ep, sizeof(*w->rare));
}

/* How long exchanges may run on after duration.  CoAP: EXCHANGE_LIFETIME
 * (§4.8.2), by when the RFC has every exchange over, its last answer
 * included.  MQTT: the time TCP takes to give up on a connection's data
 * (its data_retries timeouts, doubling from rto_initial up to rto_max),
 * then one reconnection (the longest backoff, and the SYN's retries):
 * every message left has had a whole connection's worth of tries and one
 * more.  Observe groups also wait a notification interval, the longest
 * server processing draw is not bounded, so neither is waited for. */
static sim_time drain_bound(const struct world *w)
{
	const struct scenario_cfg *cfg = w->cfg;
	sim_time bound = w->cp.exchange_lifetime;
	bool mqtt = false;
	for (size_t g = 0; g < cfg->n_groups; g++)
		mqtt |= cfg->groups[g].protocol == PROTO_MQTT;
	if (mqtt) {
		sim_time span = 0, rto = w->tcpp.rto_initial;
		for (uint32_t k = 0; k <= w->tcpp.data_retries + w->tcpp.syn_retries + 1; k++) {
			span += rto;
			rto = rto * 2 < w->tcpp.rto_max ? rto * 2 : w->tcpp.rto_max;
		}
		span += w->mqp[0].reconnect_max + 3 * cfg->mqtt.keepalive / 2;
		bound = span > bound ? span : bound;
	}
	return bound;
}

/* The drain bound came with exchanges still open: each one counted is a
 * failure ("unfinished" in exchanges.csv), so that completed + failed =
 * messages holds for every run. */
static void close_unfinished(struct world *w, sim_time at)
{
	for (uint32_t i = 0; i < w->n_ep; i++) {
		struct endpoint *ep = &w->ep[slot_of(w, i)];
		struct group_acc *a = &w->acc[ep->group];
		if (ep->mq) {
			const struct mqtt_client *c = &ep->mq->mc;
			for (int k = 0; k < MQTT_MAX_INFLIGHT; k++)
				if (c->inf[k].state != MQTT_INF_FREE && counted(w, c->inf[k].first_tx))
					a->m.failed++;
			continue; /* the backlog was never sent: not messages */
		}
		for (uint32_t k = 0; k < w->cp.nstart; k++) {
			const struct coap_exch *x = &ep->cli.ex[k];
			if (x->state == COAP_EXCH_FREE || !counted(w, x->first_tx))
				continue;
			a->m.failed++;
			log_exchange(w, ep, x, "unfinished", at);
		}
	}
}

void world_estimate(const struct scenario_cfg *cfg, struct run_estimate *e)
{
	struct mq_sizes mq;
	double best_mem = -1, best_msg = -1;
	mq_sizes(cfg, &mq);
	*e = (struct run_estimate){0};
	/* The process, the run's histograms (two of 43,008 buckets per group
	 * and the totals) and its time series. */
	e->memory = 16e6 + (double)(cfg->n_groups + 1) * 2 * HIST_BUCKETS * 8 +
		    RUN_SERIES_MAX * sizeof(struct run_sample);
	double t = sim_time_to_s(cfg->duration);
	for (size_t g = 0; g < cfg->n_groups; g++) {
		const struct group_cfg *gc = &cfg->groups[g];
		bool mqtt = gc->protocol == PROTO_MQTT;
		/* Per endpoint: its own lines, exchange and pending slots, the
		 * delivery window, channel state, three wheel entries, and the
		 * packets its links may hold (queue, at most, each way). */
		double per = sizeof(struct endpoint) +
			     (double)cfg->coap.nstart * (sizeof(struct coap_exch) +
							 sizeof(struct coap_pending)) +
			     sizeof(struct net_ep) + 4 + 3 * 16;
		if (gc->multicast || gc->traffic == TRAFFIC_OBSERVE ||
		    cfg->coap.congestion == COAP_CC_COCOA)
			per += sizeof(struct ep_rare);
		/* In the channel at once: half a message's packets per open
		 * exchange on average, no more than the queues hold. */
		double per_msg_pkts = mqtt ? 4 : 2;
		double queued = cfg->up.queue + cfg->down.queue;
		if (queued > per_msg_pkts * cfg->coap.nstart / 2)
			queued = per_msg_pkts * cfg->coap.nstart / 2;
		per += queued * (160.0 + gc->payload);
		if (mqtt)
			per += sizeof(struct mqtt_node) + (double)mq.per_node;
		double mem = per * gc->count;
		e->memory += mem;
		/* Messages: one per interval over the duration (Observe: the
		 * notifications, registration and cancellation). */
		double n = gc->traffic == TRAFFIC_ONCE || !gc->interval
				   ? 1
				   : t / sim_time_to_s(gc->interval) +
					     (gc->traffic == TRAFFIC_OBSERVE ? 2 : 1);
		n *= gc->count;
		e->messages += n;
		/* Transmissions a message takes on this link (CoAP: request and
		 * answer both through, at most MAX_RETRANSMIT + 1 tries). */
		const struct loss_cfg *l = &cfg->up.loss;
		double p = l->kind == LOSS_BERNOULLI
				   ? l->p
				   : (l->ge_r * l->loss_good + l->ge_p * l->loss_bad) /
					     (l->ge_p + l->ge_r > 0 ? l->ge_p + l->ge_r : 1);
		double q = (1 - p) * (1 - p), tries = q > 0 ? 1 / q : 1e9;
		if (tries > cfg->coap.max_retransmit + 1.0)
			tries = cfg->coap.max_retransmit + 1.0;
		double pkts = n * per_msg_pkts * tries;
		e->events += pkts * 2.5;
		/* pcap, a record as sent and one as received: a 16-byte record
		 * header, IPv6 and UDP or TCP, the message's own bytes (about 30
		 * bytes of header and options). */
		e->capture_bytes += 2 * (pkts * (16 + 40 + (mqtt ? 20 : 8) + 30) +
					 n * tries * gc->payload);
		e->exchanges_bytes += n * 90;
		if (mem > best_mem) {
			best_mem = mem;
			e->mem_group = (int)g;
		}
		if (n > best_msg) {
			best_msg = n;
			e->msg_group = (int)g;
		}
	}
	if (!cfg->output.pcap)
		e->capture_bytes = 0;
	if (!cfg->output.exchanges)
		e->exchanges_bytes = 0;
}

int world_run(const struct scenario_cfg *cfg, uint64_t seed,
	      const struct run_opts *opts, struct run_result *res)
{
	static const struct run_opts no_opts;
	struct world *w = calloc(1, sizeof(*w));
	struct timespec t0, t1;
	int rc;

	if (!w)
		return SIM_ERR_NOMEM;
	w->cfg = cfg;
	w->opts = opts ? opts : &no_opts;
	w->bo = backend_lookup(cfg->backend);
	if (!w->bo) {
		free(w);
		return SIM_ERR_UNSUPPORTED;
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	rc = build(w, seed);
	if (rc == 0) {
		/* Traffic stops at duration; then every exchange runs to its end.
		 * Progress is published every simulated second. */
		sim_time step = SIM_S(1);
		if (cfg->duration / step > 3600)
			step = cfg->duration / 3600;
		sim_time stop = cfg->duration + drain_bound(w);
		w->series = malloc(RUN_SERIES_MAX * sizeof(*w->series));
		if (!w->series)
			w->err = SIM_ERR_NOMEM;
		/* The steady state's marks: energy read at warmup and duration
		 * (with no warmup, nothing is spent before it starts). */
		sim_time mark[2] = {cfg->warmup, cfg->duration};
		int marks = cfg->warmup ? 0 : 1;
		/* One call of the engine per step (a mark or the bound cut a
		 * step short): a single call site, which the compiler inlines. */
		sim_time until = step;
		while ((w->bo->pending(w->be) || marks < 2) && !w->err) {
			bool at_mark = marks < 2 && mark[marks] <= until;
			sim_time to = at_mark ? mark[marks] : until < stop ? until : stop;
			w->bo->run(w->be, to);
			if (w->bo->error(w->be))
				w->err = w->bo->error(w->be);
			if (w->opts->stop && atomic_load_explicit(w->opts->stop, memory_order_relaxed))
				w->err = SIM_ERR_STOPPED;
			if (at_mark) {
				steady_snapshot(w, marks++);
				continue;
			}
			if (to == stop) {
				/* The drain bound: what is still open ends here,
				 * and the series says so in a last sample. */
				if (w->bo->pending(w->be)) {
					close_unfinished(w, stop);
					w->in_flight_area += (double)w->in_flight *
							     (double)(stop - w->in_flight_at);
					w->in_flight_at = stop;
					w->in_flight = 0;
				}
				w->series[w->n_series++] = (struct run_sample){
					sim_time_to_s(stop), stop, w->in_flight,
					w->bo->stats(w->be)->queue_drops, w->completed_all,
					in_flight_s(w, stop)};
				break;
			}
			if (w->n_series == RUN_SERIES_MAX - 1) {
				/* Memory bounded by the samples, not by simulated
				 * time: keep every other sample at twice the step.
				 * The counters are cumulative, so nothing is lost. */
				for (size_t k = 0; k < RUN_SERIES_MAX / 2 - 1; k++)
					w->series[k] = w->series[2 * k + 1];
				w->n_series = RUN_SERIES_MAX / 2 - 1;
				step *= 2;
				until = w->series[w->n_series - 1].t_ns + step;
				continue;
			}
			w->series[w->n_series++] = (struct run_sample){
				sim_time_to_s(until), until, w->in_flight, w->bo->stats(w->be)->queue_drops,
				w->completed_all, in_flight_s(w, until)};
			if (w->opts->progress_ns)
				atomic_store_explicit(w->opts->progress_ns,
						      until < cfg->duration ? until : cfg->duration,
						      memory_order_relaxed);
			until += step;
		}
		/* The last events fell after a mark, inside a step: close the
		 * series with that step's sample. */
		if (!w->err && w->n_series < RUN_SERIES_MAX &&
		    (!w->n_series || w->series[w->n_series - 1].t_ns < now_of(w)))
			w->series[w->n_series++] = (struct run_sample){
				sim_time_to_s(until), until, w->in_flight, w->bo->stats(w->be)->queue_drops,
				w->completed_all, in_flight_s(w, until)};
		clock_gettime(CLOCK_MONOTONIC, &t1);
		rc = w->err;
		collect(w, res, (double)(t1.tv_sec - t0.tv_sec) +
					(double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
		if (!rc)
			rc = w->err;
		res->series = w->series;
		res->n_series = w->n_series;
		w->series = NULL;
	}
	teardown(w);
	free(w);
	return rc;
}
