/* The inside of one run (world.c and its parts): the endpoint layout,
 * struct world, the per-protocol operations table and the small helpers
 * every part uses.  Only sim/run/world*.c include this; the rest of
 * coapsim sees world.h.  Knows no backend: that is behind struct backend. */
#ifndef COAPSIM_WORLD_IMPL_H
#define COAPSIM_WORLD_IMPL_H

#include <stdlib.h>
#include <string.h>

#include "../backend/backend.h"
#include "../coap/coap_ep.h"
#include "../coap/cocoa.h"
#include "../core/hw.h"
#include "../energy/energy.h"
#include "../engine/engine.h"
#include "../engine/rng.h"
#include "../mqtt/mqtt_ep.h"
#include "../net/net.h"
#include "../tcp/tcp.h"
#include "world.h"

struct world;
struct endpoint;

/* What a protocol does with an endpoint of its groups: one table per
 * protocol (world_coap.c, world_mqtt.c), chosen per group at build.  The
 * three timers are the endpoint's own (app_t, cli_t, srv_t); datagrams
 * arrive by the backend's deliver (the server's side when dir is NET_UP). */
struct world_proto {
	const char *name;
	uint8_t app_hint; /* the hint class the application timer is armed with */
	bool passive;     /* its endpoints only answer: no application timer at start */
	/* Set up the endpoint (its common part is done; its identity is
	 * ep->id).  Returns 0 or SIM_ERR_NOMEM. */
	int (*init)(struct world *w, struct endpoint *ep, uint64_t seed);
	void (*app)(struct world *w, struct endpoint *ep);
	void (*client)(struct world *w, struct endpoint *ep);
	void (*server)(struct world *w, struct endpoint *ep);
	void (*deliver)(struct world *w, struct endpoint *ep, enum net_dir dir,
			const uint8_t *buf, size_t len, const struct net_meta *meta);
	/* The drain bound came with the endpoint's exchanges still open. */
	void (*unfinished)(struct world *w, struct endpoint *ep, sim_time at);
};

extern const struct world_proto world_proto_coap, world_proto_multicast, world_proto_mqtt;

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
	uint32_t id;               /* who it is (address, {id}, random streams): see world_place() */
	/* Server side, three lines: every request the server receives. */
	SIM_LINE_ALIGNED struct sim_timer srv_t; /* server session expiry */
	struct coap_srv_session srv;
	uint32_t dlv_top;          /* requests the server has had: see world_dlv_first() */
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

/* mq_init() stops copying a topic's template at this many bytes (an {id}
 * may then add up to 10 digits): the shortest topic a node can have. */
#define MQ_TOPIC_CUT 100

/* One PUBLISH write of the current connection. */
struct mq_pub {
	uint32_t off, end;
	sim_time published; /* the application's publish */
	uint8_t counted;
};

/* An MQTT endpoint: the client and its TCP end, the broker's session and
 * TCP end for it, and the PUBLISH writes of the current connection (for
 * attributing TCP segments and broker receipts to messages).  Its buffers
 * are sized per run by world_mq_sizes(). */
struct mqtt_node {
	struct backend_stream cs, bs; /* the client's end, the broker's */
	struct mqtt_inflight *inf;    /* the client's in-flight slots (mq.inf) */
	struct mqtt_client mc;
	struct mqtt_session ms;
	struct sim_rng rng;
	struct mq_pub *pubs;      /* a ring of w->mq.pubs records */
	uint32_t n_pubs, rd_pubs; /* written, matched at the broker */
	uint32_t wrote;           /* client stream bytes this connection */
	uint8_t ending, quiet_close;
	uint8_t sleeping; /* TLS, a handshake per message: disconnect when idle */
	uint32_t ep;
	char client_id[24], topic[128];
	uint8_t *cbuf, *bbuf, *srx; /* TCP send buffers; the broker's reassembly */
	/* security = tls: the client's and the broker's TLS ends (sim/sec),
	 * one pair a connection, and the client's handshake under way */
	struct dtls_peer *tc, *tb;
	sim_time hs_start;
	uint8_t hs_counted, tls_broken;
	uint8_t tls_dead; /* bit 0: tc, bit 1: tb ended while the library ran */
	uint32_t hs_seen[2]; /* handshake bytes of tc, tb already counted */
	struct dtls_session *saved; /* resumption: the client's last session */
	/* linux profile: bytes the broker's TCP has taken in and the broker
	 * application has not read yet (world_mqtt.c, MQTT_BROKER_READ) */
	uint8_t *rdq;
	uint32_t rdq_len, rdq_cap;
	sim_time rdq_at;
};

/* Sizes of every MQTT node's buffers in a run.  The broker must take the
 * largest PUBLISH whole (else it drops the connection, and the client
 * resends it forever); the client's send buffer holds every PUBLISH that
 * may be unacknowledged at once (all resent on a reconnection) with
 * CONNECT, PUBRELs, PINGREQ and DISCONNECT; and the ring of PUBLISH
 * records has one for every PUBLISH that send buffer can hold. */
struct mq_sizes {
	uint32_t cbuf, bbuf, srx, pubs; /* pubs: a power of two */
	uint8_t inf;                    /* in-flight slots */
	size_t per_node;
};


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



struct group_acc {
	struct run_metrics m;
	struct hist lat, dlat, hs; /* hs: DTLS handshake times */
};

struct ep_sec; /* world_sec.c: an endpoint's DTLS associations */
struct dtls_tickets;
struct dtls_peer;
struct dtls_cert;
struct dtls_session;

struct world {
	struct sim_engine *eng; /* the backend's */
	const struct world_proto *proto[SIM_MAX_GROUPS];
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
	uint32_t n_mq, mq_next; /* nodes; the next to hand out is mq_next - 1 */
	struct mq_sizes mq;
	sim_time broker_read; /* when the broker reads after its TCP took bytes in */
	struct backend_cb be_cb;
	/* A real server's address (remote_server backends): [live] target,
	 * or the simulator's server address when a namespace holds it. */
	char target_host[128];
	uint16_t target_port;
	struct endpoint *ep;
	struct ep_rare *rare; /* multicast, observe or CoCoA runs only, else NULL */
	struct ep_sec *sec;   /* runs with a `security = dtls` group only, else NULL */
	struct dtls_tickets *tickets; /* the server's, with [security] resumption */
	struct dtls_cert *cert;       /* the server's, with suite = ecdhe-ecdsa-ccm8 */
	uint32_t n_ep;
	uint32_t *slot_of; /* where endpoint i is stored; NULL: at i */
	/* A slice of a fleet split over MPI ranks (run_opts.id_first): group
	 * g's endpoint i is the whole fleet's i + id_shift[g], of n_fleet. */
	uint32_t id_shift[SIM_MAX_GROUPS];
	uint32_t n_fleet;
	struct coap_exch *exch;
	struct coap_pending *pend;
	bool pend_used; /* the server takes time to answer: pending responses */
	struct group_acc acc[SIM_MAX_GROUPS];
	struct hist lag;                 /* the generator's lag (real-time backends) */
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

/* ---- helpers every part uses ---- */

static inline struct world *world_of(struct sim_engine *e)
{
	return sim_engine_ud(e);
}

static inline sim_time now_of(const struct world *w)
{
	return sim_engine_now(w->eng);
}

/* A datagram to the backend; running out of memory ends the run. */
static inline void send_dgram(struct world *w, uint32_t slot, enum net_dir dir, const uint8_t *buf,
		       size_t len, const struct net_meta *meta)
{
	if (w->bo->send(w->be, slot, dir, buf, len, meta) < 0)
		w->err = SIM_ERR_NOMEM;
}

/* Where an endpoint is stored: what the channel, the engine's hints and
 * the exchange slots index by.  Who it is is ep->id. */
static inline uint32_t ep_slot(const struct world *w, const struct endpoint *ep)
{
	SIM_CHECK(ep >= w->ep && ep < w->ep + w->n_ep, "an endpoint outside the fleet");
	return (uint32_t)(ep - w->ep);
}

static inline struct ep_rare *rare(const struct world *w, const struct endpoint *ep)
{
	return &w->rare[ep_slot(w, ep)];
}

static inline uint32_t slot_of(const struct world *w, uint32_t id)
{
	SIM_CHECK(id < w->n_ep, "an identity past the fleet");
	return w->slot_of ? w->slot_of[id] : id;
}

/* Who an endpoint is in the whole fleet (its random streams, {id}, client
 * id, exchanges rows): its identity, unless the run is a slice. */
static inline uint32_t fleet_id(const struct world *w, const struct endpoint *ep)
{
	return ep->id + w->id_shift[ep->group];
}

/* The endpoint whose identity is id, once the fleet is built. */
static inline struct endpoint *ep_by_id(const struct world *w, uint32_t id)
{
	struct endpoint *ep = &w->ep[slot_of(w, id)];
	SIM_CHECK(ep->id == id, "an endpoint stored where its identity does not say");
	return ep;
}

/* Arm t for `when` (cancel it for NEVER), with hint class cls. */
static inline void rearm_as(struct world *w, struct sim_timer *t, sim_time when, uint8_t cls)
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

static inline void rearm(struct world *w, struct sim_timer *t, sim_time when)
{
	rearm_as(w, t, when, 0);
}

/* The in-flight count changes by d now; its time integral (for Little's
 * law: the mean in flight is the integral over the run's length) is kept
 * exactly, not from the sampled series. */
static inline void in_flight_add(struct world *w, int d)
{
	w->in_flight_area += (double)w->in_flight * (double)(now_of(w) - w->in_flight_at);
	w->in_flight_at = now_of(w);
	w->in_flight = (uint32_t)((int)w->in_flight + d);
}

/* The integral of the in-flight count up to `at` (>= the last change), s. */
static inline double in_flight_s(const struct world *w, sim_time at)
{
	return (w->in_flight_area + (double)w->in_flight * (double)(at - w->in_flight_at)) / 1e9;
}

/* The endpoint's radio sends or receives one datagram (all its fragments). */
static inline void radio_frame(struct world *w, struct endpoint *ep, size_t len, bool tx)
{
	const struct link_cfg *l = tx ? &w->cfg->up : &w->cfg->down;
	sim_time t = energy_airtime(net_ip_bytes(len, l->mtu), net_frag_count(len, l->mtu),
				    w->cfg->energy.bitrate_bps);
	if (tx)
		ep->radio.tx += t;
	else
		ep->radio.rx += t;
}

static inline bool counted(const struct world *w, sim_time first_tx)
{
	return first_tx >= w->cfg->warmup;
}

/* ---- across the parts ---- */

/* world_coap.c */
void world_coap_setup(struct world *w);
int world_mc_group_init(struct world *w, size_t g, uint32_t first, uint64_t seed);
void world_client_env(struct world *w, struct endpoint *ep, struct coap_client_env *env);
int world_coap_probe(struct world *w);
void world_server_env(struct world *w, struct endpoint *ep, struct coap_srv_env *env);

/* world_coap.c: a CoAP datagram, decrypted, for the endpoint's client
 * (from the server) or for the server (from the client). */
void world_coap_client_in(struct world *w, struct endpoint *ep, const uint8_t *buf, size_t len);
void world_coap_server_in(struct world *w, struct endpoint *ep, const uint8_t *buf, size_t len);

/* world_sec.c: DTLS under CoAP groups with security = dtls */
int world_sec_init(struct world *w, uint64_t seed);
void world_sec_free(struct world *w);
bool world_sec_on(const struct world *w, const struct endpoint *ep);
void world_sec_send(struct world *w, struct endpoint *ep, enum net_dir dir, const uint8_t *buf,
		    size_t len, const struct net_meta *meta, bool retx);
void world_sec_deliver(struct world *w, struct endpoint *ep, enum net_dir dir,
		       const uint8_t *buf, size_t len);
void world_sec_idle(struct world *w, struct endpoint *ep);
double world_sec_bytes_per_endpoint(void);
/* A DTLS (stream: TLS) end from [security], the run's tickets, certificate
 * and key log; its random numbers from rng.  NULL (w->err set) when the
 * library cannot make one.  world_mqtt.c's TLS uses it too. */
struct dtls_cb;
struct dtls_session;
struct dtls_peer *world_sec_peer(struct world *w, bool server, bool stream,
				 const struct dtls_session *resume, struct sim_rng *rng,
				 const struct dtls_cb *cb, void *ud);
int world_sec_probe(struct world *w);

/* world_mqtt.c */
void world_mqtt_setup(struct world *w);
int world_mqtt_probe(struct world *w);
void world_mq_sizes(const struct scenario_cfg *cfg, struct mq_sizes *z);
void world_mq_tls_free(struct mqtt_node *n);
extern const struct backend_cb world_stream_cb; /* segment, data, event, changed */

/* world_layout.c: where endpoints are stored, and what to fetch ahead */
int world_place(struct world *w, uint64_t seed);
void world_prefetch(void *ud, uint32_t slot, uint8_t cls, const struct sim_timer *t);

/* world_acct.c: counting */
bool world_dlv_first(struct endpoint *ep, uint32_t tok);
bool world_dlv_first16(struct endpoint *ep, uint16_t pid);
void world_log_message(struct world *w, const struct endpoint *ep, sim_time first_tx,
		       const char *outcome, sim_time latency, unsigned tx, double rto_ms,
		       sim_time now);
void world_log_exchange(struct world *w, struct endpoint *ep, const struct coap_exch *x,
			const char *outcome, sim_time now);
void world_steady_snapshot(struct world *w, int row);
void world_collect(struct world *w, struct run_result *res, double wall);

/* world.c */
sim_time world_next_gap(struct world *w, struct endpoint *ep);

#endif
