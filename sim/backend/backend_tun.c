/* The live backend's tun transport: the run's endpoints reach a real
 * server through one TUN device, each from the address it has in the
 * simulator (2001:db8:1::/48 + identity + 1), with no socket of its own.
 * coapsim builds and parses the IPv6, UDP and TCP headers itself: CoAP
 * datagrams go out as UDP, MQTT's streams run on the project's TCP model
 * (tcp.c) talking to the broker's kernel TCP.  The scenario's channel is
 * emulated both ways by net.c, as on the udp transport.  The target's
 * address is given to the device, on this host or in a network namespace
 * the run makes (and removes), where its `server` command runs too.
 * Needs root or CAP_NET_ADMIN.  Knows nothing of CoAP, MQTT or the
 * scenario schema. */
#include <errno.h>
#include <arpa/inet.h>
#include <linux/if.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "backend.h"
#include "live_rt.h"
#include "tundev.h"

#define IP6_HDR 40
#define UDP_HDR 8
#define TUN_READS 256          /* packets read per wake-up, before timers run */
#define PROBE_ID 0xfffffffeu   /* the probe's address: 2001:db8:1::ffff:ffff */
#define PROBE_PORT 40000
#define TUN_QUEUE 20000        /* the device's queue towards us, packets */
#define SPAWN_WAIT SIM_S(10)   /* a server the run started has this long to answer */

/* What the broker's kernel sent on an endpoint's connections: the
 * current one and the one before, whose last segments (a FIN sent again,
 * say) may still come after the new one's SYN-ACK.  Each is judged on its
 * own sequence space, as Wireshark judges each stream. */
struct peer_conn {
	uint32_t seq_end; /* past the highest sequence number it sent */
	uint16_t lport;   /* the endpoint's port of that connection */
	uint8_t seen;     /* seq_end is set */
};
struct peer {
	struct peer_conn c[2]; /* [0] the current connection, [1] the last */
};

struct tun {
	struct backend base; /* first: a struct backend * is a struct tun * */
	struct sim_engine *eng;
	struct net net;
	struct net_cb ncb;
	struct tcp_params tcpp;
	struct tcp_cb tcb;
	const struct backend_cb *cb;
	uint32_t n_ep;
	const uint32_t *slot_of; /* identity -> slot; NULL: the same */
	int fd, ep_fd;
	uint8_t target[16];
	uint16_t port;
	char ns[64];             /* the namespace made for the target, or "" */
	char dev[IFNAMSIZ];
	pid_t server;            /* the target's command, or -1 */
	struct backend_stream **ends; /* the client's end by slot, once streams open */
	struct peer *peer;       /* by slot, once streams open */
	struct live_rt rt;
	int err;
	uint8_t pkt[IP6_HDR + UDP_HDR + 65536];
};

static struct tun *tun_of(struct backend *b)
{
	return (struct tun *)(void *)b;
}

static const struct tun *ctun_of(const struct backend *b)
{
	return (const struct tun *)(const void *)b;
}

static struct tcp_env env_of(struct tun *t)
{
	return (struct tcp_env){&t->tcpp, &t->tcb, t};
}

static void put16(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static uint32_t get16(const uint8_t *p)
{
	return (uint32_t)p[0] << 8 | p[1];
}

static uint32_t get32(const uint8_t *p)
{
	return get16(p) << 16 | get16(p + 2);
}

/* ---- addresses and headers ---- */

/* Endpoint identity id's address, as the simulator's captures give it. */
static void ep_addr(uint32_t id, uint8_t a[16])
{
	memset(a, 0, 16);
	a[0] = 0x20;
	a[1] = 0x01;
	a[2] = 0x0d;
	a[3] = 0xb8;
	a[5] = 1;
	uint32_t v = id + 1;
	a[12] = (uint8_t)(v >> 24);
	a[13] = (uint8_t)(v >> 16);
	a[14] = (uint8_t)(v >> 8);
	a[15] = (uint8_t)v;
}

/* The identity whose address a is, or UINT32_MAX (not an endpoint's). */
static uint32_t id_of_addr(const uint8_t a[16])
{
	static const uint8_t pre[12] = {0x20, 0x01, 0x0d, 0xb8, 0, 1};
	if (memcmp(a, pre, 12))
		return UINT32_MAX;
	uint32_t v = get32(a + 12);
	return v ? v - 1 : UINT32_MAX;
}

/* The Internet checksum (RFC 1071) of an IPv6 pseudo-header (RFC 8200
 * §8.1) and an upper-layer packet whose checksum field is 0. */
static uint16_t l4_checksum(const uint8_t *src, const uint8_t *dst, uint8_t proto,
			    const uint8_t *l4, size_t len)
{
	uint64_t s = proto + (uint64_t)len;
	for (int i = 0; i < 16; i += 2)
		s += get16(src + i) + get16(dst + i);
	for (size_t i = 0; i + 1 < len; i += 2)
		s += get16(l4 + i);
	if (len & 1)
		s += (uint32_t)l4[len - 1] << 8;
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)~s;
}

/* One packet from identity id to the target: IPv6 header, then the
 * upper-layer bytes (a UDP payload behind a header made here, or a whole
 * TCP segment), checksum filled in, into the device. */
static int emit(struct tun *t, uint32_t id, uint8_t proto, const uint8_t *l4, size_t len,
		uint16_t sport)
{
	uint8_t *p = t->pkt, *u = p + IP6_HDR;
	size_t ulen = proto == 17 ? UDP_HDR + len : len;
	if (ulen > 65535)
		return SIM_ERR_INVAL;
	p[0] = 0x60;
	p[1] = p[2] = p[3] = 0;
	put16(p + 4, (uint32_t)ulen);
	p[6] = proto;
	p[7] = 64;
	ep_addr(id, p + 8);
	memcpy(p + 24, t->target, 16);
	if (proto == 17) {
		put16(u, sport);
		put16(u + 2, t->port);
		put16(u + 4, (uint32_t)ulen);
		put16(u + 6, 0);
		memcpy(u + UDP_HDR, l4, len);
		uint16_t ck = l4_checksum(p + 8, p + 24, 17, u, ulen);
		put16(u + 6, ck ? ck : 0xffff);
	} else {
		memcpy(u, l4, len);
		if (proto == 6) {
			put16(u + 16, 0);
			put16(u + 16, l4_checksum(p + 8, p + 24, 6, u, ulen));
		}
	}
	ssize_t n = write(t->fd, p, IP6_HDR + ulen);
	if (n == (ssize_t)(IP6_HDR + ulen)) {
		t->rt.st.sent++;
		return 0;
	}
	t->rt.st.send_failed++;
	return SIM_ERR_IO;
}

static uint32_t id_at_slot(const struct tun *t, uint32_t slot)
{
	return t->net.id_at ? t->net.id_at[slot] : slot;
}

/* ---- the channel's callbacks ---- */

/* Out of the emulated uplink: into the device; out of the downlink: to
 * the run (a datagram) or to the endpoint's TCP end (a segment). */
static void on_deliver(void *ud, struct net *net, uint32_t ep, enum net_dir dir,
		       const uint8_t *buf, size_t len, const struct net_meta *meta,
		       bool duplicate)
{
	struct tun *t = ud;
	(void)net;
	(void)duplicate;
	if (dir == NET_UP) {
		emit(t, id_at_slot(t, ep), meta->tcp ? 6 : 17, buf, len, t->port);
		return;
	}
	if (!meta->tcp) {
		t->cb->deliver(t->cb->ud, ep, dir, buf, len, meta);
		return;
	}
	struct backend_stream *s = t->ends ? t->ends[ep] : NULL;
	if (!s)
		return;
	struct tcp_env te = env_of(t);
	t->cb->segment(t->cb->ud, ep, dir, true, buf, len, NULL);
	tcp_conn_recv(&s->tcp, &te, sim_engine_now(t->eng), buf, len);
	t->cb->changed(t->cb->ud, ep);
}

static void on_tap_send(void *ud, uint32_t ep, enum net_dir dir, uint32_t id,
			const uint8_t *buf, size_t len, const struct net_meta *meta,
			sim_time now)
{
	struct tun *t = ud;
	t->cb->tap_send(t->cb->ud, ep, dir, id, buf, len, meta, now);
}

static void on_tap_recv(void *ud, uint32_t ep, enum net_dir dir, uint32_t id,
			const uint8_t *buf, size_t len, const struct net_meta *meta,
			sim_time now)
{
	struct tun *t = ud;
	t->cb->tap_recv(t->cb->ud, ep, dir, id, buf, len, meta, now);
}

/* ---- the TCP model's callbacks (client ends only) ---- */

static struct backend_stream *stream_of(struct tcp_conn *c)
{
	return sim_container_of(c, struct backend_stream, tcp);
}

static void tcp_send_cb(void *ud, struct tcp_conn *c, const uint8_t *seg, size_t len,
			const struct tcp_seg_info *info)
{
	struct tun *t = ud;
	struct backend_stream *s = stream_of(c);
	struct net_meta meta = {.tcp = 1};
	t->cb->segment(t->cb->ud, s->ep, NET_UP, false, seg, len, info);
	if (net_send(&t->net, s->ep, NET_UP, seg, len, &meta) < 0)
		t->err = SIM_ERR_NOMEM;
}

static void tcp_data_cb(void *ud, struct tcp_conn *c, const uint8_t *buf, size_t len)
{
	struct tun *t = ud;
	t->cb->data(t->cb->ud, stream_of(c)->ep, false, buf, len);
}

static void tcp_event_cb(void *ud, struct tcp_conn *c, enum tcp_event ev, sim_time now)
{
	struct tun *t = ud;
	(void)now;
	t->cb->event(t->cb->ud, stream_of(c)->ep, false, ev);
}

/* ---- what comes out of the device ---- */

/* A packet the kernel routed to the endpoints: which endpoint, and its
 * upper-layer bytes.  Returns the identity (PROBE_ID for the probe's) or
 * UINT32_MAX for anything else (router solicitations, other sources). */
static uint32_t parse(const struct tun *t, const uint8_t *p, size_t n, uint8_t *proto,
		      const uint8_t **l4, size_t *l4len)
{
	if (n < IP6_HDR || p[0] >> 4 != 6)
		return UINT32_MAX;
	size_t plen = get16(p + 4);
	if (IP6_HDR + plen > n)
		return UINT32_MAX;
	uint32_t id = id_of_addr(p + 24);
	if (id == UINT32_MAX || (id >= t->n_ep && id != PROBE_ID))
		return UINT32_MAX;
	*proto = p[6];
	*l4 = p + IP6_HDR;
	*l4len = plen;
	/* ICMPv6 errors come from whatever address the kernel picks. */
	if (*proto != 58 && memcmp(p + 8, t->target, 16))
		return UINT32_MAX;
	return id;
}

/* ICMPv6 destination unreachable, port unreachable (RFC 4443 §3.1). */
static bool port_unreachable(uint8_t proto, const uint8_t *l4, size_t len)
{
	return proto == 58 && len >= 8 && l4[0] == 1 && l4[1] == 4;
}

static bool seq_lt(uint32_t a, uint32_t b)
{
	return (int32_t)(a - b) < 0;
}

/* A segment left the broker's kernel: reported as sent from the broker's
 * end, a retransmission when it repeats sequence space it sent before (as
 * Wireshark's TCP analysis calls one). */
static void broker_sent(struct tun *t, uint32_t slot, const uint8_t *seg, size_t len)
{
	size_t hl = (size_t)(seg[12] >> 4) * 4;
	if (hl < TCP_HDR || hl > len)
		return;
	struct peer *p = &t->peer[slot];
	uint16_t dport = get16(seg + 2);
	uint8_t fl = seg[13];
	uint32_t seq = get32(seg + 4), n = (uint32_t)(len - hl);
	uint32_t end = seq + n + !!(fl & TCP_SYN) + !!(fl & TCP_FIN);
	struct tcp_seg_info info = {.data_len = n, .flags = fl};
	struct peer_conn *pe = p->c[0].lport == dport ? &p->c[0]
			       : p->c[1].lport == dport ? &p->c[1]
							: NULL;
	if (pe) { /* else older still: a stream Wireshark has seen end */
		info.retx = pe->seen && end != seq && seq_lt(seq, pe->seq_end);
		if (!pe->seen || seq_lt(pe->seq_end, end))
			pe->seq_end = end;
		pe->seen = 1;
	}
	t->cb->segment(t->cb->ud, slot, NET_DOWN, false, seg, len, &info);
}

static void drain(struct tun *t)
{
	static _Thread_local uint8_t buf[IP6_HDR + 65536];
	for (int k = 0; k < TUN_READS; k++) {
		ssize_t n = read(t->fd, buf, sizeof(buf));
		if (n <= 0)
			return;
		uint8_t proto;
		const uint8_t *l4;
		size_t len;
		uint32_t id = parse(t, buf, (size_t)n, &proto, &l4, &len);
		if (id == UINT32_MAX || id == PROBE_ID)
			continue;
		uint32_t slot = t->slot_of ? t->slot_of[id] : id;
		live_rt_arrived(&t->rt, t->eng);
		if (port_unreachable(proto, l4, len)) {
			t->rt.st.refused++;
			continue;
		}
		struct net_meta meta = {.tcp = proto == 6};
		if (proto == 17 && len >= UDP_HDR && get16(l4) == t->port) {
			t->rt.st.received++;
			if (net_send(&t->net, slot, NET_DOWN, l4 + UDP_HDR, len - UDP_HDR, NULL) < 0)
				t->err = SIM_ERR_NOMEM;
		} else if (proto == 6 && len >= TCP_HDR && t->ends && t->ends[slot]) {
			t->rt.st.received++;
			broker_sent(t, slot, l4, len);
			if (net_send(&t->net, slot, NET_DOWN, l4, len, &meta) < 0)
				t->err = SIM_ERR_NOMEM;
		}
	}
}

/* ---- the device and the target ---- */

static int setup_device(struct tun *t, const struct backend_setup *s, char *err,
			size_t errlen)
{
	const char *ns = NULL;
	if (inet_pton(AF_INET6, s->target.host, t->target) != 1) {
		snprintf(err, errlen, "live: tun needs an IPv6 target address, not '%s'",
			 s->target.host);
		return SIM_ERR_INVAL;
	}
	t->port = s->target.port;
	if (s->target.netns) {
		snprintf(t->ns, sizeof(t->ns), "coapsim-%d-t", (int)getpid());
		if (tundev_netns_add(t->ns, err, errlen) < 0) {
			t->ns[0] = 0;
			return SIM_ERR_IO;
		}
		ns = t->ns;
	}
	t->fd = tundev_open(ns, "cst%d", t->dev, err, errlen);
	if (t->fd < 0)
		return SIM_ERR_IO;
	/* The target's address on the device (no duplicate detection: it is
	 * usable at once), the endpoints' prefix through it, and a queue deep
	 * enough for a burst of answers. */
	if (tundev_ip(ns, "link set %s up", t->dev) < 0 ||
	    tundev_ip(ns, "-6 addr add %s/128 dev %s nodad", s->target.host, t->dev) < 0 ||
	    tundev_ip(ns, "-6 route add 2001:db8:1::/48 dev %s", t->dev) < 0 ||
	    tundev_ip(ns, "link set %s txqueuelen %d", t->dev, TUN_QUEUE) < 0) {
		snprintf(err, errlen,
			 "live: cannot give TUN device %s the address %s and a route to "
			 "2001:db8:1::/48 (is IPv6 enabled? is the address taken?)",
			 t->dev, s->target.host);
		return SIM_ERR_IO;
	}
	if (s->target.server && s->target.server[0]) {
		t->server = tundev_spawn(ns, s->target.server, true);
		if (t->server < 0) {
			snprintf(err, errlen, "live: cannot start the server: %s", strerror(errno));
			return SIM_ERR_IO;
		}
	}
	return 0;
}

static void tun_close(struct backend *b)
{
	if (!b)
		return;
	struct tun *t = tun_of(b);
	tundev_stop(t->server, 2000);
	if (t->fd >= 0)
		close(t->fd);
	if (t->ns[0])
		tundev_netns_del(t->ns);
	if (t->ep_fd >= 0)
		close(t->ep_fd);
	if (t->eng)
		net_free(&t->net);
	sim_engine_delete(t->eng);
	free(t->ends);
	free(t->peer);
	free(t);
}

static int tun_open(struct backend **out, const struct backend_setup *s)
{
	static char err[300];
	struct tun *t = calloc(1, sizeof(*t));
	*out = NULL;
	if (!t)
		return SIM_ERR_NOMEM;
	t->base = (struct backend){&backend_tun_ops, NULL, 0, NULL};
	t->cb = s->cb;
	t->n_ep = s->n_ep;
	t->slot_of = s->slot_of;
	t->fd = t->ep_fd = -1;
	t->server = -1;
	t->tcpp = *s->tcp;
	t->tcb = (struct tcp_cb){tcp_send_cb, tcp_data_cb, tcp_event_cb};
	t->ncb = (struct net_cb){
		.deliver = on_deliver,
		.on_send = s->cb->tap_send ? on_tap_send : NULL,
		.on_recv = s->cb->tap_recv ? on_tap_recv : NULL,
	};
	err[0] = 0;
	int rc = SIM_ERR_NOMEM;
	if (s->n_ep >= PROBE_ID) {
		snprintf(err, sizeof(err), "live: tun carries at most %u endpoints", PROBE_ID - 1);
		rc = SIM_ERR_INVAL;
		goto fail;
	}
	t->eng = sim_engine_new(3 * (size_t)s->n_ep + 64, s->engine_ud);
	if (!t->eng || net_init(&t->net, t->eng, s->n_ep, s->up, s->down, s->bottleneck,
				s->seed, s->slot_of, &t->ncb, t) < 0) {
		sim_engine_delete(t->eng);
		t->eng = NULL;
		goto fail;
	}
	t->ep_fd = epoll_create1(EPOLL_CLOEXEC);
	if (t->ep_fd < 0)
		goto fail;
	if ((rc = setup_device(t, s, err, sizeof(err))) < 0)
		goto fail;
	struct epoll_event ev = {.events = EPOLLIN, .data.u32 = 0};
	if (epoll_ctl(t->ep_fd, EPOLL_CTL_ADD, t->fd, &ev) != 0) {
		rc = SIM_ERR_IO;
		goto fail;
	}
	*out = &t->base;
	return 0;
fail:
	tun_close(&t->base);
	if (s->err && err[0])
		snprintf(s->err, s->errlen, "%s", err);
	return rc;
}

static struct sim_engine *tun_engine(struct backend *b)
{
	return tun_of(b)->eng;
}

static void ready(void *ud, uint32_t tag)
{
	(void)tag;
	drain(ud);
}

static uint64_t tun_run(struct backend *b, sim_time until)
{
	struct tun *t = tun_of(b);
	return live_rt_run(&t->rt, t->eng, t->cb, t->ep_fd, until, ready, t, &t->err);
}

static uint64_t tun_pending(const struct backend *b)
{
	return sim_engine_pending(ctun_of(b)->eng);
}

static int tun_error(const struct backend *b)
{
	return ctun_of(b)->err;
}

static const struct net_stats *tun_stats(const struct backend *b)
{
	return &ctun_of(b)->net.st;
}

static int tun_send(struct backend *b, uint32_t ep, enum net_dir dir, const uint8_t *buf,
		    size_t len, const struct net_meta *meta)
{
	return net_send(&tun_of(b)->net, ep, dir, buf, len, meta);
}

static int tun_send_multicast(struct backend *b, uint32_t first, uint32_t count,
			      const uint8_t *buf, size_t len, const struct net_meta *meta)
{
	(void)b;
	(void)first;
	(void)count;
	(void)buf;
	(void)len;
	(void)meta;
	return SIM_ERR_INVAL; /* the scenario check refuses multicast on live */
}

/* ---- streams: the client's end is the TCP model, the broker's is the
 * target's kernel ---- */

static int tun_stream_open(struct backend *b, struct backend_stream *s, uint8_t *buf,
			   uint32_t cap, struct sim_rng *rng)
{
	struct tun *t = tun_of(b);
	if (s->broker)
		return 0; /* the real broker's: not ours */
	if (!t->ends && (!(t->ends = calloc(t->n_ep ? t->n_ep : 1, sizeof(*t->ends))) ||
			 !(t->peer = calloc(t->n_ep ? t->n_ep : 1, sizeof(*t->peer)))))
		return SIM_ERR_NOMEM;
	if (t->ends[s->ep] == s)
		tcp_conn_free(&s->tcp); /* a reconnection: what the last one held */
	t->ends[s->ep] = s;
	/* A new local port for each connection of an endpoint: the broker's
	 * kernel may still hold the last one's (TIME_WAIT). */
	uint16_t lport = (uint16_t)(49152 + s->conns++ % 16384);
	struct peer *p = &t->peer[s->ep];
	p->c[1] = p->c[0];
	p->c[0] = (struct peer_conn){.lport = lport};
	struct tcp_env te = env_of(t);
	tcp_conn_init(&s->tcp, &t->tcpp, lport, t->port, buf, cap, rng);
	tcp_conn_set_nodelay(&s->tcp, t->tcpp.client_nodelay);
	tcp_conn_connect(&s->tcp, &te, sim_engine_now(t->eng));
	return 0;
}

static bool tun_stream_send(struct backend *b, struct backend_stream *s, const uint8_t *buf,
			    size_t len)
{
	struct tun *t = tun_of(b);
	struct tcp_env te = env_of(t);
	return !s->broker && tcp_conn_send(&s->tcp, &te, sim_engine_now(t->eng), buf, len) >= 0;
}

static void tun_stream_close(struct backend *b, struct backend_stream *s)
{
	struct tun *t = tun_of(b);
	struct tcp_env te = env_of(t);
	if (!s->broker)
		tcp_conn_close(&s->tcp, &te, sim_engine_now(t->eng));
}

static void tun_stream_abort(struct backend *b, struct backend_stream *s)
{
	struct tun *t = tun_of(b);
	struct tcp_env te = env_of(t);
	if (!s->broker)
		tcp_conn_abort(&s->tcp, &te, sim_engine_now(t->eng));
}

static sim_time tun_stream_expiry(const struct backend *b, const struct backend_stream *s)
{
	(void)b;
	return s->broker ? SIM_TIME_NEVER : tcp_conn_expiry(&s->tcp);
}

static void tun_stream_expire(struct backend *b, struct backend_stream *s)
{
	struct tun *t = tun_of(b);
	struct tcp_env te = env_of(t);
	if (!s->broker)
		tcp_conn_expire(&s->tcp, &te, sim_engine_now(t->eng));
}

/* ---- the probes: from an address of their own, before the load ---- */

/* Wait up to ms for the next packet to the probe's address. */
static int probe_wait(struct tun *t, int ms, uint8_t *proto, const uint8_t **l4,
		      size_t *len)
{
	static _Thread_local uint8_t buf[IP6_HDR + 65536];
	struct pollfd pf = {t->fd, POLLIN, 0};
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		clock_gettime(CLOCK_MONOTONIC, &t1);
		int left = ms - (int)((t1.tv_sec - t0.tv_sec) * 1000 +
				      (t1.tv_nsec - t0.tv_nsec) / 1000000);
		if (left <= 0 || poll(&pf, 1, left) <= 0)
			return -1;
		ssize_t n;
		while ((n = read(t->fd, buf, sizeof(buf))) > 0)
			if (parse(t, buf, (size_t)n, proto, l4, len) == PROBE_ID)
				return 0;
	}
}

/* Attempts every 250 ms until an answer or the deadline (longer when the
 * run started the server itself: it may still be starting).  send(t)
 * sends one attempt; judge says what a packet to the probe means: 1 an
 * answer, 0 refused, -1 not ours. */
static int probe_loop(struct tun *t, sim_time timeout, void (*send)(struct tun *, void *),
		      int (*judge)(struct tun *, void *, uint8_t, const uint8_t *, size_t),
		      void *ctx)
{
	if (t->server > 0 && timeout < SPAWN_WAIT)
		timeout = SPAWN_WAIT;
	int rounds = (int)(timeout / SIM_MS(250)), refused = 0;
	for (int r = 0; r < rounds; r++) {
		send(t, ctx);
		uint8_t proto;
		const uint8_t *l4;
		size_t len;
		while (probe_wait(t, 250, &proto, &l4, &len) == 0) {
			int v = judge(t, ctx, proto, l4, len);
			if (v > 0)
				return 0;
			if (v == 0) {
				refused = 1;
				if (t->server <= 0)
					return SIM_ERR_NOTFOUND;
			}
		}
	}
	return refused ? SIM_ERR_NOTFOUND : SIM_ERR_IO;
}

struct dgram_probe {
	const uint8_t *req;
	size_t len;
	uint8_t *reply;
	size_t cap;
	int got;
};

static void dgram_send(struct tun *t, void *ctx)
{
	struct dgram_probe *d = ctx;
	emit(t, PROBE_ID, 17, d->req, d->len, PROBE_PORT);
}

static int dgram_judge(struct tun *t, void *ctx, uint8_t proto, const uint8_t *l4,
		       size_t len)
{
	struct dgram_probe *d = ctx;
	if (port_unreachable(proto, l4, len))
		return 0;
	if (proto != 17 || len < UDP_HDR || get16(l4) != t->port || get16(l4 + 2) != PROBE_PORT)
		return -1;
	size_t n = len - UDP_HDR < d->cap ? len - UDP_HDR : d->cap;
	memcpy(d->reply, l4 + UDP_HDR, n);
	d->got = (int)n;
	return 1;
}

static int tun_probe(struct backend *b, const uint8_t *req, size_t len, uint8_t *reply,
		     size_t cap, sim_time timeout)
{
	struct dgram_probe d = {req, len, reply, cap, -1};
	int rc = probe_loop(tun_of(b), timeout, dgram_send, dgram_judge, &d);
	return rc < 0 ? rc : d.got;
}

#define PROBE_ISS 0x0c0a951du

static void syn_segment(struct tun *t, uint8_t flags, uint32_t seq)
{
	uint8_t seg[TCP_SYN_HDR] = {0};
	put16(seg, PROBE_PORT);
	put16(seg + 2, t->port);
	put16(seg + 4, seq >> 16);
	put16(seg + 6, seq);
	seg[12] = (flags & TCP_SYN ? TCP_SYN_HDR : TCP_HDR) / 4 << 4;
	seg[13] = flags;
	put16(seg + 14, 65535);
	seg[20] = 2; /* MSS option */
	seg[21] = 4;
	put16(seg + 22, 1220);
	emit(t, PROBE_ID, 6, seg, flags & TCP_SYN ? TCP_SYN_HDR : TCP_HDR, 0);
}

static void syn_send(struct tun *t, void *ctx)
{
	(void)ctx;
	syn_segment(t, TCP_SYN, PROBE_ISS);
}

static int syn_judge(struct tun *t, void *ctx, uint8_t proto, const uint8_t *l4, size_t len)
{
	(void)ctx;
	if (port_unreachable(proto, l4, len))
		return 0;
	if (proto != 6 || len < TCP_HDR || get16(l4) != t->port || get16(l4 + 2) != PROBE_PORT)
		return -1;
	uint8_t fl = l4[13];
	if (fl & TCP_RST)
		return 0;
	if ((fl & (TCP_SYN | TCP_ACK)) != (TCP_SYN | TCP_ACK) || get32(l4 + 8) != PROBE_ISS + 1)
		return -1;
	syn_segment(t, TCP_RST, PROBE_ISS + 1); /* the broker forgets it */
	return 1;
}

static int tun_probe_stream(struct backend *b, sim_time timeout)
{
	return probe_loop(tun_of(b), timeout, syn_send, syn_judge, NULL);
}

static const struct backend_gen_stats *tun_gen_stats(struct backend *b)
{
	return live_rt_stats(&tun_of(b)->rt);
}

const struct backend_ops backend_tun_ops = {
	.name = "live",
	.any_placement = true,
	.one_at_a_time = true, /* real time, a device and its addresses */
	.remote_server = true,
	.open = tun_open,
	.close = tun_close,
	.engine = tun_engine,
	.run = tun_run,
	.pending = tun_pending,
	.error = tun_error,
	.stats = tun_stats,
	.send = tun_send,
	.send_multicast = tun_send_multicast,
	.stream_open = tun_stream_open,
	.stream_send = tun_stream_send,
	.stream_close = tun_stream_close,
	.stream_abort = tun_stream_abort,
	.stream_expiry = tun_stream_expiry,
	.stream_expire = tun_stream_expire,
	.probe = tun_probe,
	.gen_stats = tun_gen_stats,
	.probe_stream = tun_probe_stream,
};
