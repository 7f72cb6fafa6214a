/* CoAP's part of a run: the client, server and multicast cores wired to
 * the backend's datagrams, their timers, and what they count.  Knows no
 * backend and nothing of MQTT. */
#include <stdio.h>

#include "world_impl.h"

void world_client_env(struct world *w, struct endpoint *ep,
		       struct coap_client_env *env)
{
	*env = (struct coap_client_env){
		.p = &w->cp, .req = &w->tmpl[ep->group], .cb = &w->cli_cb,
		.ud = w, .rng = &ep->rng_coap, .id = fleet_id(w, ep),
		.cc = w->cfg->coap.congestion == COAP_CC_COCOA ? &rare(w, ep)->cc : NULL,
	};
}

void world_server_env(struct world *w, struct endpoint *ep,
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
	if (w->sec && world_sec_on(w, ep)) {
		world_sec_send(w, ep, NET_UP, buf, len, &meta, retx);
		return;
	}
	radio_frame(w, ep, len, true);
	send_dgram(w, ep_slot(w, ep), NET_UP, buf, len, &meta);
}

static void cli_done(void *ud, struct coap_client *c, const struct coap_exch *x,
		     enum coap_result r, const struct coap_msg *resp, sim_time now)
{
	struct world *w = ud;
	struct endpoint *ep = sim_container_of(c, struct endpoint, cli);
	struct group_acc *a = &w->acc[ep->group];
	const char *outcome = "sent";

	if (r == COAP_RES_COMPLETED)
		w->completed_all++;
	if (!counted(w, x->first_tx))
		return;
	if (resp && resp->code >> 5 >= 4)
		a->m.server_errors++; /* 4.xx, 5.xx */
	/* A real server's side is not ours to watch: that it answered (a
	 * response, an error code, a reset) says it had the message; the
	 * delivery latency stays unknown. */
	if (w->bo->remote_server && r != COAP_RES_TIMEOUT && r != COAP_RES_SENT)
		a->m.delivered++;
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
	world_log_exchange(w, ep, x, outcome, now);
}

static void srv_send(void *ud, struct coap_srv_session *s, const uint8_t *buf,
		     size_t len)
{
	struct world *w = ud;
	struct endpoint *ep = sim_container_of(s, struct endpoint, srv);

	if (w->sec && world_sec_on(w, ep))
		world_sec_send(w, ep, NET_DOWN, buf, len, NULL, false);
	else
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
	} else if (!world_dlv_first(ep, tok)) {
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

/* The server answered a duplicate CON again from its memory (RFC 7252
 * §4.5): the dedup_answers metric. */
static void srv_dedup_answer(void *ud, struct coap_srv_session *s, sim_time now)
{
	struct world *w = ud;
	struct endpoint *ep = sim_container_of(s, struct endpoint, srv);

	(void)now;
	if (w->cur_meta && w->cur_meta->counted)
		w->acc[ep->srv_group].m.dedup_answers++;
}

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
	g->sent_at = now_of(w);
	g->reached = 0;
	g->counted = counted(w, now_of(w));
	if (g->counted) {
		m->messages++;
		m->transmissions++;
		m->mc_expected += g->count;
	}
	struct net_meta meta = {.first_tx = now_of(w), .counted = g->counted,
				.mcast = (uint8_t)(g->group + 1)};
	if (len > 0 && w->bo->send_multicast(w->be, g->first, g->count, buf, (size_t)len,
					     &meta) < 0)
		w->err = SIM_ERR_NOMEM;
	sim_time gap = SIM_TIME_NEVER;
	if (gc->traffic == TRAFFIC_PERIODIC)
		gap = gc->interval;
	else if (gc->traffic == TRAFFIC_POISSON)
		gap = (sim_time)sim_rng_exp(&g->rng, (double)gc->interval) + 1;
	if (gap != SIM_TIME_NEVER && now_of(w) + gap < w->cfg->duration)
		rearm(w, t, now_of(w) + gap);
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

/* ---- the operations of a unicast CoAP group (requests or Observe) ---- */

static void coap_app(struct world *w, struct endpoint *ep)
{
	struct sim_timer *t = &ep->app_t;
	struct coap_client_env env;
	sim_time now = now_of(w);

	world_client_env(w, ep, &env);
	if (w->cfg->groups[ep->group].traffic == TRAFFIC_OBSERVE) {
		/* Register once; cancel when the scenario ends. */
		if (now < w->cfg->duration) {
			coap_client_observe(&ep->cli, &env, now);
			rearm(w, t, w->cfg->duration);
		} else {
			coap_client_cancel_observe(&ep->cli, &env, now);
		}
		rearm_client(w, ep);
		return;
	}
	coap_client_request(&ep->cli, &env, now);
	rearm_client(w, ep);

	sim_time gap = world_next_gap(w, ep);
	if (gap != SIM_TIME_NEVER && now + gap < w->cfg->duration)
		rearm_as(w, t, now + gap, HINT_CLIENT_SEND);
}

static void coap_client(struct world *w, struct endpoint *ep)
{
	struct coap_client_env env;

	world_client_env(w, ep, &env);
	coap_client_expire(&ep->cli, &env, now_of(w));
	rearm_client(w, ep);
	if (!ep->cli.n_active)
		world_sec_idle(w, ep);
}

static void coap_server(struct world *w, struct endpoint *ep)
{
	struct coap_srv_env env;

	world_server_env(w, ep, &env);
	coap_srv_session_expire(&ep->srv, &env, now_of(w));
	rearm_server(w, ep, &env);
}

static void server_in(struct world *w, struct endpoint *ep, const uint8_t *buf, size_t len)
{
	struct coap_srv_env env;
	world_server_env(w, ep, &env);
	coap_srv_session_recv(&ep->srv, &env, now_of(w), buf, len);
	rearm_server(w, ep, &env);
}

static void client_in(struct world *w, struct endpoint *ep, const uint8_t *buf, size_t len)
{
	struct coap_client_env env;
	world_client_env(w, ep, &env);
	coap_client_recv(&ep->cli, &env, now_of(w), buf, len);
	rearm_client(w, ep);
}

void world_coap_server_in(struct world *w, struct endpoint *ep, const uint8_t *buf, size_t len)
{
	server_in(w, ep, buf, len);
}

void world_coap_client_in(struct world *w, struct endpoint *ep, const uint8_t *buf, size_t len)
{
	client_in(w, ep, buf, len);
}

static void coap_deliver(struct world *w, struct endpoint *ep, enum net_dir dir,
			 const uint8_t *buf, size_t len, const struct net_meta *meta)
{
	(void)meta;
	if (w->sec && world_sec_on(w, ep))
		world_sec_deliver(w, ep, dir, buf, len);
	else if (dir == NET_UP)
		server_in(w, ep, buf, len);
	else
		client_in(w, ep, buf, len);
}

/* Each exchange still open and counted is a failure, "unfinished". */
static void coap_unfinished(struct world *w, struct endpoint *ep, sim_time at)
{
	struct group_acc *a = &w->acc[ep->group];
	for (uint32_t k = 0; k < w->cp.nstart; k++) {
		const struct coap_exch *x = &ep->cli.ex[k];
		if (x->state == COAP_EXCH_FREE || !counted(w, x->first_tx))
			continue;
		a->m.failed++;
		world_log_exchange(w, ep, x, "unfinished", at);
	}
}

static int coap_init(struct world *w, struct endpoint *ep, uint64_t seed)
{
	(void)w;
	(void)ep;
	(void)seed;
	return 0;
}

const struct world_proto world_proto_coap = {
	.name = "coap", .app_hint = HINT_CLIENT_SEND, .init = coap_init,
	.app = coap_app, .client = coap_client, .server = coap_server,
	.deliver = coap_deliver, .unfinished = coap_unfinished,
};

/* ---- the operations of a multicast group's members ---- */

/* A member's application timer: its response's Leisure is over. */
static void mc_app(struct world *w, struct endpoint *ep)
{
	struct coap_mc_member_env me;
	member_env(w, ep, &me);
	coap_mc_member_expire(&rare(w, ep)->mc, &me, now_of(w));
	rearm(w, &ep->app_t, coap_mc_member_expiry(&rare(w, ep)->mc));
}

static void mc_deliver(struct world *w, struct endpoint *ep, enum net_dir dir,
		       const uint8_t *buf, size_t len, const struct net_meta *meta)
{
	if (dir == NET_UP && meta->kind == META_MC_RESPONSE)
		mc_response(w, ep, buf, len);
	else if (dir == NET_DOWN && meta->mcast)
		mc_member_recv(w, ep, buf, len, meta);
}

static int mc_init(struct world *w, struct endpoint *ep, uint64_t seed)
{
	(void)seed;
	coap_mc_member_init(&rare(w, ep)->mc, &ep->rng_coap);
	return 0;
}

const struct world_proto world_proto_multicast = {
	.name = "coap-multicast", .app_hint = 0, .passive = true, .init = mc_init,
	.app = mc_app, .client = coap_client, .server = coap_server,
	.deliver = mc_deliver, .unfinished = coap_unfinished,
};

/* ---- a real server ---- */

/* One CON GET of the first group's resource to the target before the load
 * (backends with a probe): an answer (ACK or RST with its Message ID) says
 * a CoAP server is there.  Returns 0, or SIM_ERR_IO with the reason in the
 * run's error line. */
int world_coap_probe(struct world *w)
{
	const struct scenario_cfg *cfg = w->cfg;
	char path[COAP_MAX_PATH];
	uint8_t req[COAP_MAX_PATH + 64], rep[SIM_MAX_DATAGRAM];
	const uint8_t token[4] = {0xc0, 0xa9, 0x51, 0x4d};
	const uint16_t mid = 0x5eed;
	struct coap_msg m;

	snprintf(path, sizeof(path), "%s", cfg->groups[0].path);
	char *id = strstr(path, "{id}");
	if (id)
		memmove(id, "0", 2); /* endpoint 0's resource */
	coap_msg_init(&m, COAP_CON, COAP_GET, mid, token, sizeof(token));
	for (char *seg = path + 1, *next; *seg; seg = next) {
		next = seg + strcspn(seg, "/");
		if (*next)
			*next++ = 0;
		if (*seg && coap_msg_add_opt(&m, COAP_OPT_URI_PATH, seg, (uint16_t)strlen(seg)) < 0)
			break;
	}
	int len = coap_encode(&m, req, sizeof(req));
	int n = len < 0 ? len
			: w->bo->probe(w->be, req, (size_t)len, rep, sizeof(rep), SIM_S(3));
	struct coap_msg a;
	if (n >= 0 && coap_parse(&a, rep, (size_t)n) == 0 && a.mid == mid &&
	    (a.type == COAP_ACK || a.type == COAP_RST))
		return 0;
	if (w->opts->err)
		snprintf(w->opts->err, w->opts->errlen,
			 "live target coap://%s%s%s:%u: a CON GET %s %s",
			 strchr(w->target_host, ':') ? "[" : "", w->target_host,
			 strchr(w->target_host, ':') ? "]" : "", w->target_port,
			 cfg->groups[0].path,
			 n == SIM_ERR_NOTFOUND ? "was refused (nothing listens there)"
			 : n >= 0	       ? "got a datagram that is not its answer"
					       : "got no answer within 3 s");
	return SIM_ERR_IO;
}

/* ---- setup ---- */

void world_coap_setup(struct world *w)
{
	w->cli_cb = (struct coap_client_cb){cli_send, cli_done, cli_notified};
	w->srv_cb = (struct coap_srv_session_cb){srv_send, srv_request, srv_notify,
						 srv_unobserved, srv_dedup_answer};
	w->mc_cb = (struct coap_mc_member_cb){mc_member_send};
}

/* Group g's requester next to the server; its members are the group's
 * endpoints, from identity `first` on. */
int world_mc_group_init(struct world *w, size_t g, uint32_t first, uint64_t seed)
{
	const struct scenario_cfg *cfg = w->cfg;
	const struct group_cfg *gc = &cfg->groups[g];
	struct mc_group *mg = &w->mc[g];
	mg->first = first;
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
		uint32_t s = (uint32_t)net_ip_bytes(4 + 4 + 1 + gc->payload, cfg->up.mtu);
		mg->leisure = coap_leisure_lower_bound(s, gc->count, (double)rate / 8);
	}
	sim_time st = (sim_time)sim_rng_dist(&mg->rng, &gc->start);
	if (st < cfg->duration && sim_timer_arm(w->eng, &mg->t, st) < 0)
		return SIM_ERR_NOMEM;
	return 0;
}
