/* The seam between a run (sim/run/) and the world it runs in.  A backend
 * gives a run four things: a clock and timers (a struct sim_engine, whose
 * timers it may run on its own scheduler), datagrams between each endpoint
 * and the server, streams (MQTT's TCP: a client end and a broker end per
 * endpoint), and a capture tap.  What arrives comes back through struct
 * backend_cb, always on the run's thread, at sim_engine_now().
 *
 * Implementations: native (backend_native.c: the modelled channel, net.c,
 * and TCP model, tcp.c, on the engine's own queue) and ns-3 (sim/ns3/:
 * ns-3's devices, sockets and scheduler).  A live backend (real time, real
 * sockets, packets arriving from outside) fits the same ops: its run()
 * waits on its sockets until the engine's next timer.
 *
 * Endpoints are named by their storage slot (see backend_setup.slot_of);
 * a backend that draws random numbers per endpoint keys them by identity.
 * Knows nothing of the scenario schema, CoAP or MQTT. */
#ifndef COAPSIM_BACKEND_H
#define COAPSIM_BACKEND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "../core/hw.h"
#include "../core/sim.h"
#include "../engine/engine.h"
#include "../net/net.h"
#include "../tcp/tcp.h"
#include "backend_kind.h"

#ifdef __cplusplus
extern "C" {
#endif

/* One end of a stream, in the run's storage (the native backend keeps its
 * TCP model's state in it; others only read ep and broker). */
struct backend_stream {
	struct tcp_conn tcp;
	uint32_t ep;    /* the endpoint's slot */
	uint8_t broker; /* the broker's end, else the client's */
	uint16_t port;  /* the broker's port: 1883, 8883 for TLS; 0: 1883 */
	uint16_t conns; /* connections this client end opened: its next local
			 * port is a new one, as a kernel's connect() picks */
};

/* What a backend reports.  deliver is required; the stream calls are
 * required when the run opens streams; the taps are optional. */
struct backend_cb {
	/* A datagram arrived at the server (NET_UP) or at endpoint ep. */
	void (*deliver)(void *ud, uint32_t ep, enum net_dir dir, const uint8_t *buf,
			size_t len, const struct net_meta *meta);
	/* A stream segment left one end (arrived = false; dir NET_UP from the
	 * client's end) or arrived: for accounting, before it goes. */
	void (*segment)(void *ud, uint32_t ep, enum net_dir dir, bool arrived,
			const uint8_t *seg, size_t len, const struct tcp_seg_info *info);
	/* In-order bytes arrived at one end. */
	void (*data)(void *ud, uint32_t ep, bool broker, const uint8_t *buf, size_t len);
	/* That end's connection was established, closed, reset or failed. */
	void (*event)(void *ud, uint32_t ep, bool broker, enum tcp_event ev);
	/* A stream end's state may have changed (its expiry among it): after
	 * the calls above that one arrival or event caused. */
	void (*changed)(void *ud, uint32_t ep);
	/* The capture tap: a datagram or segment handed to the channel, or
	 * arriving; id numbers packets in the order they were sent. */
	void (*tap_send)(void *ud, uint32_t ep, enum net_dir dir, uint32_t id,
			 const uint8_t *buf, size_t len, const struct net_meta *meta,
			 sim_time now);
	void (*tap_recv)(void *ud, uint32_t ep, enum net_dir dir, uint32_t id,
			 const uint8_t *buf, size_t len, const struct net_meta *meta,
			 sim_time now);
	/* Optional, real-time backends: timers due at one instant fired this
	 * late (the generator's lag), once per instant. */
	void (*lag)(void *ud, sim_time late);
	void *ud;
};

/* What a backend running in real time says about itself (backend_ops.
 * gen_stats): its sockets, and how late its timers fired (the generator's
 * lag: a run is trustworthy only while that stays small). */
struct backend_gen_stats {
	uint64_t sent, received; /* datagrams through the sockets */
	uint64_t refused;        /* ICMP port unreachable from the target */
	uint64_t send_failed;    /* a socket's buffer was full: dropped */
	uint64_t lag_count;      /* timers fired */
	double lag_sum_ns;
	sim_time lag_max_ns, lag_p50_ns, lag_p99_ns;
};

/* What a run tells its backend when it opens it. */
struct backend_setup {
	uint32_t n_ep;
	const uint32_t *slot_of;  /* endpoint i is stored at slot_of[i]; NULL: at i */
	uint64_t seed;
	const struct link_cfg *up, *down;
	const struct bottleneck_cfg *bottleneck;
	const struct tcp_params *tcp;
	double timers_per_s;      /* an estimate, for sizing the engine */
	const struct scenario_cfg *cfg; /* the whole scenario, for backends that
					 * build their own world from it (ns-3) */
	const struct backend_cb *cb;
	void *engine_ud;          /* sim_engine_ud() of the run's engine */
	/* A real server (backends with remote_server): where it is, and
	 * whether it may be beyond loopback. */
	struct {
		const char *host;
		uint16_t port;
		bool allow_remote;
		const char *source; /* ADDRESS[/PREFIX] to bind to, or "" */
		bool netns;         /* tun: the target in a namespace of the run's */
		const char *server; /* a command that starts the target, or "" */
	} target;
	char *err;                /* open's one-line reason when it fails, or NULL */
	size_t errlen;
};

struct backend;

struct backend_ops {
	const char *name;
	/* Whether the backend serves endpoints stored in any order
	 * (backend_setup.slot_of): the run then stores them as it likes. */
	bool any_placement;
	/* Whether runs on this backend must take turns in a process (ns-3
	 * has one simulator per process). */
	bool one_at_a_time;
	/* Whether the server is a real one outside the run: the run then sees
	 * only what comes back (no server side to count deliveries at). */
	bool remote_server;
	int (*open)(struct backend **out, const struct backend_setup *s);
	void (*close)(struct backend *b); /* harmless on NULL */
	struct sim_engine *(*engine)(struct backend *b);

	/* Run until nothing is pending, the next event is after `until`, or
	 * sim_engine_stop(); returns events run.  pending: timers armed and
	 * packets in flight. */
	uint64_t (*run)(struct backend *b, sim_time until);
	uint64_t (*pending)(const struct backend *b);
	int (*error)(const struct backend *b); /* 0 or SIM_ERR_NOMEM */
	const struct net_stats *(*stats)(const struct backend *b);

	/* Datagrams.  Return 0, SIM_ERR_INVAL (too long, or multicast where
	 * the backend has none) or SIM_ERR_NOMEM. */
	int (*send)(struct backend *b, uint32_t ep, enum net_dir dir, const uint8_t *buf,
		    size_t len, const struct net_meta *meta);
	int (*send_multicast)(struct backend *b, uint32_t first, uint32_t count,
			      const uint8_t *buf, size_t len, const struct net_meta *meta);

	/* Streams.  open: the client's end connects, the broker's listens
	 * (buf: its send buffer, rng: its initial sequence numbers).  send
	 * returns false when the bytes were not taken (no connection, a full
	 * send buffer), as a socket refuses them.  expiry: when expire() is
	 * due for the end (SIM_TIME_NEVER: the backend keeps its own timers). */
	int (*stream_open)(struct backend *b, struct backend_stream *s, uint8_t *buf,
			   uint32_t cap, struct sim_rng *rng);
	bool (*stream_send)(struct backend *b, struct backend_stream *s, const uint8_t *buf,
			    size_t len);
	void (*stream_close)(struct backend *b, struct backend_stream *s);
	void (*stream_abort)(struct backend *b, struct backend_stream *s);
	sim_time (*stream_expiry)(const struct backend *b, const struct backend_stream *s);
	void (*stream_expire)(struct backend *b, struct backend_stream *s);

	/* Optional (remote_server backends).  probe: send one datagram to the
	 * target from a socket of its own and wait up to timeout for one back:
	 * its length, SIM_ERR_NOTFOUND (refused: nothing listens) or
	 * SIM_ERR_IO (no answer).  gen_stats: see struct backend_gen_stats. */
	int (*probe)(struct backend *b, const uint8_t *req, size_t len, uint8_t *reply,
		     size_t cap, sim_time timeout);
	const struct backend_gen_stats *(*gen_stats)(struct backend *b);
	/* Optional (remote_server backends with streams): open a TCP
	 * connection to the target and reset it: 0 (it answered),
	 * SIM_ERR_NOTFOUND (refused) or SIM_ERR_IO (no answer in timeout). */
	int (*probe_stream)(struct backend *b, sim_time timeout);
	/* Optional: the real addresses of endpoint ep's socket and of the
	 * target (sockaddr_in or _in6), for captures.  0 or SIM_ERR_INVAL. */
	int (*addrs)(struct backend *b, uint32_t ep, struct sockaddr_storage *local,
		     struct sockaddr_storage *target);
};

/* Every backend has these first: the run reads its ops, and may prefetch
 * its per-endpoint state (hot: n_ep items of hot_stride bytes, by slot;
 * NULL when there is none) where an endpoint's work begins. */
struct backend {
	const struct backend_ops *ops;
	const char *hot;
	size_t hot_stride;
	const uint32_t *hot_id; /* read with it, when not NULL */
};

/* The backend of that kind; NULL when this coapsim was built without it. */
const struct backend_ops *backend_lookup(enum backend_kind kind);
/* Its name, and what to do when it is missing (for messages). */
const char *backend_name(enum backend_kind kind);
const char *backend_missing_hint(enum backend_kind kind);

/* Start fetching endpoint ep's state in the backend: a speed hint only. */
static inline void backend_prefetch(const struct backend *b, uint32_t ep)
{
	if (b->hot)
		SIM_PREFETCH(b->hot + (size_t)ep * b->hot_stride);
	if (b->hot_id)
		SIM_PREFETCH(&b->hot_id[ep]);
}

extern const struct backend_ops backend_native_ops, backend_live_ops, backend_tun_ops;
/* sim/ns3/ns3.cc's, or NULL (sim/ns3/ns3_absent.c) without ns-3. */
extern const struct backend_ops *const backend_ns3;

#ifdef __cplusplus
}
#endif

#endif
