/* The channel model: per-endpoint links, the shared bottleneck, queues,
 * rate, latency, jitter, loss, duplication, fragments, multicast (see
 * net.h).  Knows no protocol, no backend and no scenario schema. */
#include "net.h"

#include "../core/mem.h"

#include <stdlib.h>
#include <string.h>

/* Where a packet is on its route.  A route is two hops: upstream the
 * endpoint's link then the bottleneck, downstream the reverse. */
enum stage { ST_ENQUEUE, ST_DEPART, ST_DELIVER, ST_DELIVER_DUP };

/* A datagram in flight, laid out so that firing its timer reads line 0
 * and a small datagram's bytes are in line 1 (the engine fetches both a
 * bucket ahead). */
struct net_pkt {
	SIM_LINE_ALIGNED struct sim_timer t;
	struct net *n;
	union {
		struct net_meta meta;
		struct net_pkt *next_free; /* while in the pool */
	};
	uint32_t ep;
	uint32_t len;
	uint32_t id;
	uint32_t mc_count; /* multicast: members from ep on, before fan-out */
	uint16_t nfrag;
	uint8_t dir;
	uint8_t stage;
	uint8_t hop; /* 0 or 1 */
	uint8_t big; /* the bytes follow the struct, not in inl[] */
	uint8_t inl[NET_PKT_INLINE];
};

static inline uint8_t *pkt_data(struct net_pkt *p)
{
	return p->big ? (uint8_t *)(p + 1) : p->inl;
}

#define POOL_BLOCK 1024

uint32_t net_frag_count(size_t udp_payload, uint32_t mtu)
{
	size_t ip_payload = NET_UDP_HDR + udp_payload;
	if (NET_IPV6_HDR + ip_payload <= mtu)
		return 1;
	/* RFC 8200 §4.5: every fragment but the last carries a multiple of
	 * 8 bytes of the fragmentable part, after IPv6 + Fragment headers. */
	size_t per = ((mtu - NET_IPV6_HDR - NET_FRAG_HDR) / 8) * 8;
	return (uint32_t)((ip_payload + per - 1) / per);
}

uint64_t net_ip_bytes(size_t udp_payload, uint32_t mtu)
{
	uint32_t nf = net_frag_count(udp_payload, mtu);
	uint64_t hdr = nf == 1 ? NET_IPV6_HDR : (uint64_t)nf * (NET_IPV6_HDR + NET_FRAG_HDR);
	return hdr + NET_UDP_HDR + udp_payload;
}

static void pkt_fire(struct sim_engine *e, struct sim_timer *t);

static int pool_grow(struct net *n, bool big)
{
	size_t count = big ? 16 : POOL_BLOCK;
	/* rounded up so every packet in the block starts a cache line */
	size_t each = (sizeof(struct net_pkt) + (big ? SIM_MAX_DATAGRAM : 0) + 63) & ~(size_t)63;
	char *blk;

	if (n->n_blocks == n->cap_blocks) {
		size_t nc = n->cap_blocks ? n->cap_blocks * 2 : 16;
		void **nb = realloc(n->blocks, nc * sizeof(*nb));
		if (!nb)
			return SIM_ERR_NOMEM;
		n->blocks = nb;
		n->cap_blocks = nc;
	}
	blk = aligned_alloc(64, count * each);
	if (!blk)
		return SIM_ERR_NOMEM;
	n->blocks[n->n_blocks++] = blk;
	for (size_t i = 0; i < count; i++) {
		struct net_pkt *p = (struct net_pkt *)(void *)(blk + i * each);
		p->big = big;
		p->n = n;
		sim_timer_init(&p->t, pkt_fire);
		struct net_pkt **head = big ? &n->free_big : &n->free_small;
		p->next_free = *head;
		*head = p;
	}
	return 0;
}

static struct net_pkt *pkt_get(struct net *n, size_t len)
{
	bool big = len > NET_PKT_INLINE;
	struct net_pkt **head = big ? &n->free_big : &n->free_small;

	if (!*head && pool_grow(n, big) < 0)
		return NULL;
	struct net_pkt *p = *head;
	*head = p->next_free;
	return p;
}

static void pkt_put(struct net *n, struct net_pkt *p)
{
	struct net_pkt **head = p->big ? &n->free_big : &n->free_small;
	p->next_free = *head;
	*head = p;
	n->in_flight--;
}

int net_init(struct net *n, struct sim_engine *eng, uint32_t n_ep,
	     const struct link_cfg *up, const struct link_cfg *down,
	     const struct bottleneck_cfg *bn, uint64_t seed,
	     const uint32_t *slot_of, const struct net_cb *cb, void *ud)
{
	*n = (struct net){0};
	n->eng = eng;
	n->cfg[NET_UP] = up;
	n->cfg[NET_DOWN] = down;
	n->bn_cfg = bn;
	n->hops = bn && bn->present ? 2 : 1;
	n->n_ep = n_ep;
	n->cb = cb;
	n->ud = ud;
	n->eps = sim_calloc_big(n_ep ? n_ep : 1, sizeof(*n->eps));
	if (!n->eps) {
		net_free(n);
		return SIM_ERR_NOMEM;
	}
	/* An endpoint's channel draws are its own, wherever it is stored:
	 * its streams are keyed by who is stored at a slot. */
	n->seed = seed;
	if (slot_of) {
		n->id_at = malloc(sizeof(*n->id_at) * (n_ep ? n_ep : 1));
		if (!n->id_at) {
			net_free(n);
			return SIM_ERR_NOMEM;
		}
		for (uint32_t i = 0; i < n_ep; i++)
			n->id_at[slot_of[i]] = i;
	}
#ifdef SIM_CHECKS
	/* The link streams are the channel's: taken here, viewed at each draw. */
	for (uint32_t i = 0; i < n_ep; i++) {
		struct sim_rng r;
		sim_rng_init(&r, seed, i, RNG_LINK_UP);
		sim_rng_init(&r, seed, i, RNG_LINK_DOWN);
	}
#endif
	return 0;
}

/* The random stream of one direction of the endpoint stored at slot ep,
 * as a struct sim_rng to draw from; side_save() puts its position back. */
static struct sim_rng side_rng(const struct net *n, uint32_t ep, enum net_dir dir)
{
	const struct net_side *s = &n->eps[ep].d[dir];
	struct sim_rng r;

	sim_rng_view(&r, n->seed, n->id_at ? n->id_at[ep] : ep,
		     dir == NET_UP ? RNG_LINK_UP : RNG_LINK_DOWN);
	r.ctr = s->ctr;
	r.spare = s->spare;
	return r;
}

static void side_save(struct net *n, uint32_t ep, enum net_dir dir, const struct sim_rng *r)
{
	struct net_side *s = &n->eps[ep].d[dir];
	s->ctr = r->ctr;
	s->spare = r->spare;
}

void net_free(struct net *n)
{
	for (size_t i = 0; i < n->n_blocks; i++)
		free(n->blocks[i]);
	free(n->blocks);
	sim_free_big(n->eps, n->n_ep ? n->n_ep : 1, sizeof(*n->eps));
	free(n->id_at);
	*n = (struct net){0};
}

static int n_hops(const struct net *n)
{
	return n->hops;
}

/* The hop a packet is on: its endpoint's link, or the bottleneck (hop 1
 * upstream, hop 0 downstream, when there is one). */
static bool hop_is_ep(const struct net *n, const struct net_pkt *p)
{
	if (n_hops(n) == 1)
		return true;
	return (p->dir == NET_UP) == (p->hop == 0);
}

/* Per-packet loss on an endpoint link: Bernoulli, or Gilbert-Elliott with
 * the state moving once per packet before the packet is judged. */
static bool lose_one(const struct loss_cfg *l, struct net_link *lk,
		     struct sim_rng *r)
{
	if (l->kind == LOSS_BERNOULLI)
		return sim_rng_bernoulli(r, l->p);
	if (lk->ge_bad) {
		if (sim_rng_bernoulli(r, l->ge_r))
			lk->ge_bad = 0;
	} else if (sim_rng_bernoulli(r, l->ge_p)) {
		lk->ge_bad = 1;
	}
	return sim_rng_bernoulli(r, lk->ge_bad ? l->loss_bad : l->loss_good);
}

static void drop(struct net *n, struct net_pkt *p)
{
	if (p->meta.mcast && !p->mc_count)
		n->st.mcast_lost++; /* a member's copy */
	else
		n->st.packets_lost++;
	pkt_put(n, p);
}

static void enqueue(struct net *n, struct net_pkt *p);

/* Replace a multicast datagram by one copy per member, each entering that
 * member's link at `at`.  The original is freed. */
static void fan_out(struct net *n, struct net_pkt *p, sim_time at)
{
	for (uint32_t i = 0; i < p->mc_count; i++) {
		struct net_pkt *c = pkt_get(n, p->len);
		if (!c)
			break;
		n->in_flight++;
		memcpy(pkt_data(c), pkt_data(p), p->len);
		c->len = p->len;
		c->id = p->id;
		c->ep = p->ep + i;
		c->t.owner = c->ep;
		c->dir = NET_DOWN;
		c->hop = (uint8_t)(n_hops(n) - 1);
		c->nfrag = p->nfrag;
		c->meta = p->meta;
		c->mc_count = 0;
		c->stage = ST_ENQUEUE;
		n->st.mcast_copies++;
		if (at <= sim_engine_now(n->eng))
			enqueue(n, c);
		else if (sim_timer_arm_as(n->eng, &c->t, at, NET_HINT(NET_DOWN)) < 0)
			drop(n, c);
	}
	pkt_put(n, p);
}

static void arm(struct net *n, struct net_pkt *p, sim_time when)
{
	/* The heap only grows on arm; on failure we drop the packet rather
	 * than lose track of it (an entry sim_timer_arm_soon writes later
	 * stops the run instead, with the engine's error set). */
	if (sim_timer_arm_soon(n->eng, &p->t, when, NET_HINT(p->dir)) < 0)
		drop(n, p);
}

/* The packet reaches the input of its current hop. */
static void enqueue(struct net *n, struct net_pkt *p)
{
	sim_time now = sim_engine_now(n->eng);
	bool ep = hop_is_ep(n, p);
	struct net_link *lk = ep ? &n->eps[p->ep].d[p->dir].link : &n->bn[p->dir];
	uint64_t rate = ep ? n->cfg[p->dir]->rate_bps : n->bn_cfg->rate_bps;
	uint32_t queue = ep ? n->cfg[p->dir]->queue : n->bn_cfg->queue;

	p->stage = ST_DEPART;
	if (rate == 0) {
		pkt_fire(n->eng, &p->t);
		return;
	}
	/* Drop-tail: the whole datagram (all its fragments) must fit. */
	if (lk->qlen + p->nfrag > queue) {
		n->st.queue_drops++;
		drop(n, p);
		return;
	}
	size_t l4 = p->meta.tcp && p->len >= NET_UDP_HDR ? p->len - NET_UDP_HDR : p->len;
	uint64_t bits = net_ip_bytes(l4, n->cfg[p->dir]->mtu) * 8;
	sim_time start = lk->busy_until > now ? lk->busy_until : now;
	lk->busy_until = start + (sim_time)((bits * 1000000000ull + rate - 1) / rate);
	lk->qlen += p->nfrag;
	arm(n, p, lk->busy_until);
}

static void depart(struct net *n, struct net_pkt *p)
{
	sim_time now = sim_engine_now(n->eng);
	bool ep = hop_is_ep(n, p);
	const struct link_cfg *c = n->cfg[p->dir];
	sim_time delay;

	if (ep) {
		struct net_link *lk = &n->eps[p->ep].d[p->dir].link;
		struct sim_rng r = side_rng(n, p->ep, p->dir);
		if (c->rate_bps)
			lk->qlen -= p->nfrag;
		bool lost = false;
		for (uint16_t i = 0; i < p->nfrag; i++)
			lost |= lose_one(&c->loss, lk, &r);
		if (lost) {
			side_save(n, p->ep, p->dir, &r);
			drop(n, p);
			return;
		}
		delay = c->latency + (sim_time)sim_rng_dist(&r, &c->jitter);
		side_save(n, p->ep, p->dir, &r);
	} else {
		if (n->bn_cfg->rate_bps)
			n->bn[p->dir].qlen -= p->nfrag;
		delay = n->bn_cfg->latency;
	}
	if (p->mc_count) {
		fan_out(n, p, now + delay); /* leaving the bottleneck */
		return;
	}
	if (p->hop + 1 < n_hops(n)) {
		p->hop++;
		p->stage = ST_ENQUEUE;
	} else {
		p->stage = ST_DELIVER;
	}
	arm(n, p, now + delay);
}

static void deliver(struct net *n, struct net_pkt *p, bool dup)
{
	sim_time now = sim_engine_now(n->eng);
	const struct link_cfg *c = n->cfg[p->dir];

	if (n->cb->on_recv)
		n->cb->on_recv(n->ud, p->ep, p->dir, p->id, pkt_data(p), p->len, &p->meta,
			       now);
	n->cb->deliver(n->ud, n, p->ep, p->dir, pkt_data(p), p->len, &p->meta, dup);
	/* A duplicate probability of 0 draws nothing (sim_rng_bernoulli). */
	if (!dup && c->duplicate > 0) {
		struct sim_rng r = side_rng(n, p->ep, p->dir);
		bool twice = sim_rng_bernoulli(&r, c->duplicate);
		/* The copy trails the original by one more jitter draw. */
		sim_time after = twice ? (sim_time)sim_rng_dist(&r, &c->jitter) : 0;
		side_save(n, p->ep, p->dir, &r);
		if (twice) {
			n->st.duplicates++;
			p->stage = ST_DELIVER_DUP;
			arm(n, p, now + after);
			return;
		}
	}
	pkt_put(n, p);
}

static void pkt_fire(struct sim_engine *e, struct sim_timer *t)
{
	struct net_pkt *p = sim_container_of(t, struct net_pkt, t);
	struct net *n = p->n;

	(void)e;
	switch (p->stage) {
	case ST_ENQUEUE: enqueue(n, p); break;
	case ST_DEPART: depart(n, p); break;
	case ST_DELIVER: deliver(n, p, false); break;
	case ST_DELIVER_DUP: deliver(n, p, true); break;
	}
}

static int send_common(struct net *n, uint32_t ep, enum net_dir dir,
		       const uint8_t *buf, size_t len, const struct net_meta *meta,
		       uint32_t mc_count)
{
	if (len > SIM_MAX_DATAGRAM || ep >= n->n_ep)
		return SIM_ERR_INVAL;
	struct net_pkt *p = pkt_get(n, len);
	if (!p)
		return SIM_ERR_NOMEM;

	uint32_t mtu = n->cfg[dir]->mtu;
	/* A TCP segment carries its own header where UDP would have 8 bytes. */
	size_t l4 = meta && meta->tcp && len >= NET_UDP_HDR ? len - NET_UDP_HDR : len;
	memcpy(pkt_data(p), buf, len);
	p->len = (uint32_t)len;
	p->ep = ep;
	p->t.owner = ep;
	p->dir = (uint8_t)dir;
	p->hop = 0;
	p->nfrag = (uint16_t)net_frag_count(l4, mtu);
	p->meta = meta ? *meta : (struct net_meta){0};
	p->mc_count = mc_count;
	p->id = (uint32_t)n->st.packets_sent++;
	n->st.bytes_sent += net_ip_bytes(l4, mtu);
	if (p->nfrag > 1)
		n->st.fragments += p->nfrag;
	if (++n->in_flight > n->st.in_flight_max)
		n->st.in_flight_max = n->in_flight;
	if (n->cb->on_send)
		n->cb->on_send(n->ud, ep, dir, p->id, buf, len, &p->meta, sim_engine_now(n->eng));
	if (mc_count && n_hops(n) == 1)
		fan_out(n, p, sim_engine_now(n->eng)); /* no bottleneck: straight to the members */
	else
		enqueue(n, p);
	return 0;
}

int net_send(struct net *n, uint32_t ep, enum net_dir dir, const uint8_t *buf,
	     size_t len, const struct net_meta *meta)
{
	return send_common(n, ep, dir, buf, len, meta, 0);
}

int net_send_multicast(struct net *n, uint32_t first, uint32_t count,
		       const uint8_t *buf, size_t len, const struct net_meta *meta)
{
	if (!count || first >= n->n_ep || count > n->n_ep - first)
		return SIM_ERR_INVAL;
	struct net_meta m = meta ? *meta : (struct net_meta){0};
	if (!m.mcast)
		m.mcast = 1;
	return send_common(n, first, NET_DOWN, buf, len, &m, count);
}
