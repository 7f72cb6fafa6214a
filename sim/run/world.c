/* One run: build the endpoints from the scenario, open the backend, run
 * until the traffic and its drain are over, collect the results, tear
 * down.  The protocols' parts are in world_coap.c and world_mqtt.c (one
 * struct world_proto each), the layout in world_layout.c, the counting in
 * world_acct.c.  Knows no backend: it asks backend_lookup() for one. */
#include <stdio.h>
#include <time.h>

#include "../core/mem.h"
#include "../trace/trace.h"
#include "world_impl.h"

const char *const world_exchanges_header =
	"run,endpoint,group,first_tx_s,outcome,latency_ms,transmissions,rto_ms,end_s";

/* ---- the backend's datagrams and taps ---- */

static void be_deliver(void *ud, uint32_t i, enum net_dir dir, const uint8_t *buf,
		       size_t len, const struct net_meta *meta)
{
	struct world *w = ud;
	struct endpoint *ep = &w->ep[i];

	if (dir == NET_DOWN)
		radio_frame(w, ep, len, false);
	w->cur_meta = meta;
	/* The group from the lines of the side that receives. */
	w->proto[dir == NET_UP ? ep->srv_group : ep->group]->deliver(w, ep, dir, buf, len, meta);
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

static void be_lag(void *ud, sim_time late)
{
	struct world *w = ud;
	if (hist_add(&w->lag, late) < 0)
		w->err = SIM_ERR_NOMEM;
}

/* ---- timers ---- */

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

sim_time world_next_gap(struct world *w, struct endpoint *ep)
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
	w->proto[ep->group]->app(w, ep);
}

static void cli_fire(struct sim_engine *e, struct sim_timer *t)
{
	struct world *w = world_of(e);
	struct endpoint *ep = sim_container_of(t, struct endpoint, cli_t);
	w->proto[ep->group]->client(w, ep);
}

static void srv_fire(struct sim_engine *e, struct sim_timer *t)
{
	struct world *w = world_of(e);
	struct endpoint *ep = sim_container_of(t, struct endpoint, srv_t);
	w->proto[ep->srv_group]->server(w, ep);
}

/* A second of a run in real time: where it stands, for the progress line. */
static void tick(struct world *w, sim_time at)
{
	struct run_tick t = {.t_s = sim_time_to_s(at)};
	struct hist lat = {0};
	for (size_t g = 0; g < w->cfg->n_groups; g++) {
		t.messages += w->acc[g].m.messages;
		t.completed += w->acc[g].m.completed;
		t.failed += w->acc[g].m.failed;
		if (hist_merge(&lat, &w->acc[g].lat) < 0)
			w->err = SIM_ERR_NOMEM;
	}
	t.p99_ms = lat.count ? sim_time_to_ms(hist_quantile(&lat, 0.99)) : 0;
	t.lag_p99_ms = w->lag.count ? sim_time_to_ms(hist_quantile(&w->lag, 0.99)) : 0;
	t.lat = &lat;
	t.lag = &w->lag;
	w->opts->tick(w->opts->tick_ud, &t);
	hist_free(&lat);
}

/* ---- setup and teardown ---- */

/* Each endpoint's socket address in the captures, by identity. */
static int real_addresses(struct world *w)
{
	struct sockaddr_storage local, target;
	for (uint32_t i = 0; i < w->n_ep; i++) {
		if (w->bo->addrs(w->be, slot_of(w, i), &local, &target) < 0)
			return SIM_ERR_IO;
		if (i == 0 && trace_use_real(w->opts->trace, w->n_ep,
					     (const struct sockaddr *)&target) < 0)
			return SIM_ERR_NOMEM;
		trace_real_endpoint(w->opts->trace, i, (const struct sockaddr *)&local);
	}
	return 0;
}

static int build_fleet(struct world *w, uint64_t seed)
{
	const struct scenario_cfg *cfg = w->cfg;
	uint64_t n = 0;

	for (size_t g = 0; g < cfg->n_groups; g++)
		n += cfg->groups[g].count;
	if (n > UINT32_MAX - 1)
		return SIM_ERR_INVAL;
	w->n_ep = w->n_fleet = (uint32_t)n;
	if (w->opts->id_first) {
		w->n_fleet = w->opts->n_fleet;
		for (size_t g = 0, first = 0; g < cfg->n_groups; first += cfg->groups[g++].count)
			w->id_shift[g] = w->opts->id_first[g] - (uint32_t)first;
	}

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
		w->acc[g].m.secure = gc->security != SECURITY_NONE;
		w->acc[g].m.multicast = gc->multicast;
		w->acc[g].m.remote = w->bo->remote_server;
		if (gc->multicast)
			w->acc[g].m.confirmable = false;
	}
	world_coap_setup(w);
	world_mqtt_setup(w);
	w->tcpp = (struct tcp_params){
		.rto_initial = cfg->tcp.rto_initial, .rto_min = cfg->tcp.rto_min,
		.rto_max = cfg->tcp.rto_max, .mss = cfg->tcp.mss,
		.delayed_ack = cfg->tcp.delayed_ack, .syn_retries = cfg->tcp.syn_retries, .data_retries = cfg->tcp.data_retries,
		.rcv_wnd = 65535,
		.profile = cfg->tcp.profile == TCP_CFG_LINUX ? TCP_PROFILE_LINUX : TCP_PROFILE_RFC6298,
		.client_nodelay = cfg->mqtt.nodelay, .broker_nodelay = cfg->broker.nodelay,
	};
	uint32_t n_mq = 0;
	for (size_t g = 0; g < cfg->n_groups; g++) {
		const struct group_cfg *gc = &cfg->groups[g];
		w->mqp[g] = (struct mqtt_client_params){
			.keepalive_s = (uint16_t)(cfg->mqtt.keepalive / SIM_S(1)),
			.inflight = (uint8_t)cfg->mqtt.inflight,
			.clean_session = cfg->mqtt.clean_session, .qos = gc->qos,
			.payload = gc->payload, .reconnect_min = SIM_S(1),
			.reconnect_max = SIM_S(60),
		};
		/* A multicast group's members answer; they send nothing of
		 * their own, whatever the protocol. */
		w->proto[g] = gc->multicast		  ? &world_proto_multicast
			      : gc->protocol == PROTO_MQTT ? &world_proto_mqtt
							   : &world_proto_coap;
		if (w->proto[g] == &world_proto_mqtt) {
			n_mq += gc->count;
			w->acc[g].m.mqtt = true;
			w->acc[g].m.confirmable = gc->qos > 0;
		}
	}
	world_mq_sizes(cfg, &w->mq);
	w->n_mq = w->mq_next = n_mq;
	if (n_mq && (!(w->mq_nodes = calloc(n_mq, sizeof(*w->mq_nodes))) ||
		     !(w->mq_bufs = sim_calloc_big(n_mq, w->mq.per_node))))
		return SIM_ERR_NOMEM;
	for (uint32_t k = 0; k < n_mq; k++) {
		uint8_t *b = w->mq_bufs + k * w->mq.per_node;
		struct mqtt_node *mn = &w->mq_nodes[k];
		/* the records and the in-flight slots first: the block is
		 * 64-byte aligned, both are multiples of 8 bytes */
		mn->pubs = (struct mq_pub *)(void *)b;
		mn->inf = (struct mqtt_inflight *)(void *)(mn->pubs + w->mq.pubs);
		mn->cbuf = (uint8_t *)(mn->inf + w->mq.inf);
		mn->bbuf = mn->cbuf + w->mq.cbuf;
		mn->srx = mn->bbuf + w->mq.bbuf;
	}
	bool tap = w->opts && w->opts->trace;
	w->be_cb = world_stream_cb;
	w->be_cb.deliver = be_deliver;
	w->be_cb.tap_send = tap ? be_tap_send : NULL;
	w->be_cb.tap_recv = tap ? be_tap_recv : NULL;
	w->be_cb.lag = be_lag;
	w->be_cb.ud = w;

	int rc = world_place(w, seed);
	if (rc < 0)
		return rc;
	/* A namespace of the run's own holds the simulator's server address. */
	bool mq_target = cfg->n_groups && cfg->groups[0].protocol == PROTO_MQTT;
	snprintf(w->target_host, sizeof(w->target_host), "%s",
		 cfg->live.host[0] ? cfg->live.host : "2001:db8::1");
	w->target_port = cfg->live.host[0] ? cfg->live.port : mq_target ? 1883 : 5683;
	const struct backend_setup bs = {
		.n_ep = w->n_ep, .slot_of = w->slot_of, .seed = seed,
		.up = &cfg->up, .down = &cfg->down, .bottleneck = &cfg->bottleneck,
		.tcp = &w->tcpp, .timers_per_s = expected_timers_per_s(cfg), .cfg = cfg,
		.cb = &w->be_cb, .engine_ud = w,
		.target = {w->target_host, w->target_port, cfg->live.allow_remote,
			   cfg->live.source, cfg->live.netns, cfg->live.server},
		.err = w->opts->err, .errlen = w->opts->errlen,
	};
	rc = w->bo->open(&w->be, &bs);
	if (rc < 0)
		return rc;
	/* A real server: is it there?  Before any load. */
	if (w->bo->probe && !mq_target &&
	    (rc = cfg->live.coaps ? world_sec_probe(w) : world_coap_probe(w)) < 0)
		return rc;
	if (w->bo->probe_stream && mq_target && (rc = world_mqtt_probe(w)) < 0)
		return rc;
	/* Real sockets: the captures carry their addresses. */
	if (w->bo->addrs && w->opts->trace && (rc = real_addresses(w)) < 0)
		return rc;
	w->eng = w->bo->engine(w->be);
	sim_engine_set_hint(w->eng, world_prefetch, w);
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
		if (gc->multicast && world_mc_group_init(w, g, i, seed) < 0)
			return SIM_ERR_NOMEM;
		for (uint32_t k = 0; k < cfg->groups[g].count; k++, i++) {
			uint32_t s = slot_of(w, i);
			struct endpoint *ep = &w->ep[s];
			struct coap_client_env ce;
			struct coap_srv_env se;

			ep->id = i;
			ep->group = ep->srv_group = (uint8_t)g;
			uint32_t who = fleet_id(w, ep);
			ep->always_on = gc->multicast || gc->traffic == TRAFFIC_OBSERVE;
			energy_listen(&ep->radio, ep->always_on, 0);
			sim_timer_init(&ep->app_t, app_fire);
			sim_timer_init(&ep->cli_t, cli_fire);
			sim_timer_init(&ep->srv_t, srv_fire);
			ep->app_t.owner = ep->cli_t.owner = ep->srv_t.owner = s;
			sim_rng_init(&ep->rng_app, seed, who, RNG_APP);
			sim_rng_init(&ep->rng_coap, seed, who, RNG_COAP);
			sim_rng_init(&ep->rng_srv, seed, who, RNG_SERVER);
			if (w->rare)
				cocoa_init(&rare(w, ep)->cc);
			world_client_env(w, ep, &ce);
			coap_client_init(&ep->cli, &w->exch[(size_t)s * w->cp.nstart], &ce);
			world_server_env(w, ep, &se);
			coap_srv_session_init(&ep->srv, &w->pend[(size_t)s * w->cp.nstart], &se);
			rc = w->proto[g]->init(w, ep, seed);
			if (rc < 0)
				return rc;
			if (w->proto[g]->passive)
				continue;

			sim_time start = (sim_time)sim_rng_dist(&ep->rng_app,
								&cfg->groups[g].start);
			/* [live] ramp: the fleet begins in turn, by identity. */
			if (cfg->live.ramp)
				start += (sim_time)((unsigned __int128)cfg->live.ramp * who /
						    w->n_fleet);
			if (start < cfg->duration &&
			    sim_timer_arm_as(w->eng, &ep->app_t, start, w->proto[g]->app_hint) < 0)
				return SIM_ERR_NOMEM;
		}
	}
	return world_sec_init(w, seed);
}

/* Setup, with the random streams it takes recorded (SIM_CHECKS): no two
 * parts may take the same one. */
static int build(struct world *w, uint64_t seed)
{
	int rc = sim_rng_claims_begin();
	if (rc == 0)
		rc = build_fleet(w, seed);
	sim_rng_claims_end();
	return rc;
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
		hist_free(&w->acc[g].hs);
	}
	world_sec_free(w);
	hist_free(&w->lag);
	free(w->series);
	for (uint32_t k = 0; w->mq_nodes && k < w->n_mq; k++) {
		mqtt_client_free(&w->mq_nodes[k].mc);
		world_mq_tls_free(&w->mq_nodes[k]);
		free(w->mq_nodes[k].rdq);
		tcp_conn_free(&w->mq_nodes[k].cs.tcp); /* data held out of order */
		tcp_conn_free(&w->mq_nodes[k].bs.tcp);
	}
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
 * messages holds for every run.  In the order of identity. */
static void close_unfinished(struct world *w, sim_time at)
{
	for (uint32_t i = 0; i < w->n_ep; i++) {
		struct endpoint *ep = ep_by_id(w, i);
		w->proto[ep->group]->unfinished(w, ep, at);
	}
}

void world_estimate(const struct scenario_cfg *cfg, struct run_estimate *e)
{
	struct mq_sizes mq;
	double best_mem = -1, best_msg = -1;
	world_mq_sizes(cfg, &mq);
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
		if (gc->security != SECURITY_NONE)
			per += world_sec_bytes_per_endpoint();
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
	w->bo = backend_lookup(cfg->backend == BACKEND_LIVE && cfg->live.transport == LIVE_TUN
				       ? BACKEND_LIVE_TUN
				       : cfg->backend);
	if (!w->bo) {
		free(w);
		return SIM_ERR_UNSUPPORTED;
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	rc = build(w, seed);
	if (w->opts->ready)
		rc = w->opts->ready(w->opts->ready_ud, rc);
	if (rc == 0) {
		/* Traffic stops at duration; then every exchange runs to its end.
		 * Progress is published every simulated second. */
		sim_time step = SIM_S(1);
		if (cfg->duration / step > 3600)
			step = cfg->duration / 3600;
		sim_time stop = cfg->duration + drain_bound(w);
		/* zeroed: the samples' padding travels (MPI, the resume journal) */
		w->series = calloc(RUN_SERIES_MAX, sizeof(*w->series));
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
				world_steady_snapshot(w, marks++);
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
			if (w->opts->tick && w->bo->gen_stats)
				tick(w, until);
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
		world_collect(w, res, (double)(t1.tv_sec - t0.tv_sec) +
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
