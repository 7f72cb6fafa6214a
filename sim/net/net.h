/* The channel: every endpoint's link to the server (up and down), and an
 * optional bottleneck next to the server shared by all traffic.
 *
 * A datagram handed to net_send() goes, as IPv6 packets (fragments when it
 * exceeds the MTU), through a FIFO drop-tail queue and serialisation at the
 * link rate, then propagation latency + jitter (so reordering follows from
 * jitter), Bernoulli or Gilbert-Elliott loss per packet (a datagram is lost
 * when any fragment is), and at the receiver a possible duplicate.  Upstream
 * the order is endpoint link -> bottleneck -> server; downstream the reverse.
 * Packets live in a pool: nothing is allocated per packet once the pool has
 * grown to the run's peak.
 *
 * Packets carry a small metadata block (like ns-3 packet tags) that is not
 * on the wire: the harness uses it to attribute deliveries to messages. */
#ifndef COAPSIM_NET_H
#define COAPSIM_NET_H

#include <stdbool.h>
#include <stdint.h>

#include "../core/hw.h"
#include "../core/sim.h"
#include "../engine/engine.h"
#include "../engine/rng.h"
#include "link.h"

enum net_dir { NET_UP = 0, NET_DOWN = 1 };

#define NET_IPV6_HDR 40
#define NET_UDP_HDR 8
#define NET_FRAG_HDR 8
#define NET_PKT_INLINE 96

/* Not on the wire: who the datagram is for, in harness terms. */
struct net_meta {
	sim_time first_tx; /* first transmission of the message it belongs to */
	uint8_t counted;   /* the message counts in statistics (after warmup) */
	uint8_t kind;      /* harness-defined */
	uint8_t mcast;     /* 0, or 1 + the multicast group a request went to */
	uint8_t tcp;       /* the bytes are a TCP segment, not a UDP payload */
};

/* One direction of one link. */
struct net_link {
	sim_time busy_until; /* serialisation of the queue ends */
	uint32_t qlen;       /* packets queued or being serialised */
	uint8_t ge_bad;      /* Gilbert-Elliott state */
};

/* One direction of an endpoint's link: its queue and where its random
 * stream is.  The stream's key (the run's seed) and its id (the
 * endpoint's identity and the direction) are the same for every draw, so
 * they are not stored: see side_rng() in net.c. */
struct net_side {
	struct net_link link;
	uint64_t ctr, spare; /* struct sim_rng's */
};

/* Everything the channel keeps about one endpoint, both directions, in
 * one cache line: a request and its answer touch the one line. */
struct net_ep {
	SIM_LINE_ALIGNED struct net_side d[2]; /* NET_UP, NET_DOWN */
};

/* Packet timers are armed with hint class NET_HINT(dir): the hint of a
 * packet says which way it is going (so which end receives it). */
#define NET_HINT(dir) ((uint8_t)(1 + (dir)))

struct net_pkt;
struct net;

struct net_cb {
	/* Required: a datagram arrived (dir says at which end). */
	void (*deliver)(void *ud, struct net *n, uint32_t ep, enum net_dir dir,
			const uint8_t *buf, size_t len, const struct net_meta *meta,
			bool duplicate);
	/* Optional: a datagram was handed to the channel / arrived (trace). */
	void (*on_send)(void *ud, uint32_t ep, enum net_dir dir, uint32_t pkt_id,
			const uint8_t *buf, size_t len, const struct net_meta *meta,
			sim_time now);
	void (*on_recv)(void *ud, uint32_t ep, enum net_dir dir, uint32_t pkt_id,
			const uint8_t *buf, size_t len, const struct net_meta *meta,
			sim_time now);
};

struct net_stats {
	uint64_t packets_sent;  /* datagrams handed to the channel */
	uint64_t packets_lost;  /* of those, never delivered */
	uint64_t bytes_sent;    /* IP bytes of every packet (fragments) sent */
	uint64_t queue_drops;   /* datagrams dropped by a full queue */
	uint64_t duplicates;    /* extra copies delivered */
	uint64_t fragments;     /* IP packets of fragmented datagrams */
	uint64_t in_flight_max; /* most datagrams in the channel at once */
	uint64_t mcast_copies;  /* member copies of multicast datagrams */
	uint64_t mcast_lost;    /* of those, lost on the members' links */
};

struct net {
	struct sim_engine *eng;
	const struct link_cfg *cfg[2];   /* NET_UP, NET_DOWN */
	const struct bottleneck_cfg *bn_cfg;
	uint32_t n_ep;
	uint8_t hops;                    /* 2 with a bottleneck, else 1 */
	struct net_ep *eps;              /* per endpoint: both directions */
	uint32_t *id_at;                 /* who is stored at each slot; NULL: the slot's own */
	uint64_t seed;
	struct net_link bn[2];
	const struct net_cb *cb;
	void *ud;
	struct net_stats st;
	uint64_t in_flight;
	/* packet pool */
	struct net_pkt *free_small, *free_big;
	void **blocks;
	size_t n_blocks, cap_blocks;
};

/* Set up for n endpoints.  Endpoint i's state is at index slot_of[i]
 * (NULL: at i), the index every other call takes; its random streams are
 * keyed by i.  cfg pointers must outlive the net.  Returns 0 or
 * SIM_ERR_NOMEM.  Whether there is a bottleneck (bn->present) is read
 * here, once; the links' and the bottleneck's settings as packets move. */
int net_init(struct net *n, struct sim_engine *eng, uint32_t n_ep,
	     const struct link_cfg *up, const struct link_cfg *down,
	     const struct bottleneck_cfg *bn, uint64_t seed,
	     const uint32_t *slot_of, const struct net_cb *cb, void *ud);
void net_free(struct net *n);

/* Send a UDP payload of len bytes between endpoint ep and the server.
 * Returns 0, SIM_ERR_INVAL (len > SIM_MAX_DATAGRAM) or SIM_ERR_NOMEM. */
int net_send(struct net *n, uint32_t ep, enum net_dir dir, const uint8_t *buf,
	     size_t len, const struct net_meta *meta);

/* Send one datagram from the server to the multicast group made of
 * endpoints [first, first + count): it crosses the bottleneck once, then a
 * copy goes down each member's link (RFC 7252 §8 over IP multicast).  It
 * counts as one packet sent; the copies are counted in mcast_copies.
 * Returns 0, SIM_ERR_INVAL or SIM_ERR_NOMEM. */
int net_send_multicast(struct net *n, uint32_t first, uint32_t count,
		       const uint8_t *buf, size_t len, const struct net_meta *meta);

/* Start fetching endpoint ep's channel state (both directions share a
 * line): call it where an endpoint's work begins, so its cache miss
 * overlaps the rest of that work. */
static inline void net_prefetch(const struct net *n, uint32_t ep, enum net_dir dir)
{
	SIM_PREFETCH(&n->eps[ep].d[dir]);
	if (n->id_at) /* read with the line, to key the draws */
		SIM_PREFETCH(&n->id_at[ep]);
}

/* IP packets and IP bytes a UDP payload of len bytes becomes at this MTU. */
uint32_t net_frag_count(size_t udp_payload, uint32_t mtu);
uint64_t net_ip_bytes(size_t udp_payload, uint32_t mtu);

#endif
