/* The live backend's udp transport: the run's endpoints talk to a real
 * server over real UDP sockets, one per endpoint (its own source port: the
 * server sees distinct peers), in real time (CLOCK_MONOTONIC), with the scenario's channel
 * emulated in the generator by the same model the simulator runs (net.c):
 * an endpoint's datagram goes through the modelled uplink (queue, rate,
 * latency, jitter, loss, duplication, bottleneck) before it reaches its
 * socket, and what the server sends back through the modelled downlink
 * after it leaves the socket.  No netem, no privileges.
 *
 * Time and the generator's lag: live_rt.c, shared with the tun transport
 * (backend_tun.c).
 *
 * Knows nothing of CoAP, MQTT or the scenario schema. */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "backend.h"
#include "live_rt.h"
#include "tundev.h"

#define LIVE_BATCH 32
#define LIVE_FD_SPARE 64 /* files the process keeps for captures, results, ... */

struct live {
	struct backend base; /* first: a struct backend * is a struct live * */
	struct sim_engine *eng;
	struct net net;
	struct net_cb ncb;
	const struct backend_cb *cb;
	uint32_t n_ep;
	int *fd;   /* per slot */
	int ep_fd; /* epoll */
	struct sockaddr_storage target;
	socklen_t target_len;
	/* Source addresses: n_src hosts from src_base + src_first on (none:
	 * the kernel picks). */
	uint8_t src_base[16];
	uint64_t src_first, n_src;
	struct live_rt rt;
	pid_t server; /* the target's command, or -1 */
	int err;
};

static struct live *live_of(struct backend *b)
{
	return (struct live *)(void *)b;
}

static const struct live *clive_of(const struct backend *b)
{
	return (const struct live *)(const void *)b;
}

/* ---- the target ---- */

static bool is_loopback(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *a = (const struct sockaddr_in *)(const void *)sa;
		return (ntohl(a->sin_addr.s_addr) >> 24) == 127;
	}
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)(const void *)sa;
		if (IN6_IS_ADDR_LOOPBACK(&a->sin6_addr))
			return true;
		return IN6_IS_ADDR_V4MAPPED(&a->sin6_addr) && a->sin6_addr.s6_addr[12] == 127;
	}
	return false;
}

static int resolve(const char *host, uint16_t port, bool allow_remote,
			 struct sockaddr_storage *out, socklen_t *out_len, char *err,
			 size_t errlen)
{
	struct addrinfo hints = {.ai_socktype = SOCK_DGRAM}, *ai = NULL;
	char p[8];
	snprintf(p, sizeof(p), "%u", port);
	int rc = getaddrinfo(host, p, &hints, &ai);
	if (rc != 0 || !ai) {
		snprintf(err, errlen, "live target '%s': %s", host,
			 rc ? gai_strerror(rc) : "no address");
		return SIM_ERR_INVAL;
	}
	memcpy(out, ai->ai_addr, ai->ai_addrlen);
	*out_len = ai->ai_addrlen;
	freeaddrinfo(ai);
	if (!allow_remote && !is_loopback((const struct sockaddr *)out)) {
		snprintf(err, errlen,
			 "live target '%s' is not on loopback: a load generator reaches "
			 "another host only with --allow-remote",
			 host);
		return SIM_ERR_INVAL;
	}
	return 0;
}

/* ---- the channel's callbacks ---- */

/* Arrived at the end of the emulated uplink: onto the endpoint's socket;
 * at the end of the downlink: to the run. */
static void on_deliver(void *ud, struct net *net, uint32_t ep, enum net_dir dir,
		       const uint8_t *buf, size_t len, const struct net_meta *meta,
		       bool duplicate)
{
	struct live *l = ud;
	(void)net;
	(void)duplicate;
	if (dir == NET_DOWN) {
		l->cb->deliver(l->cb->ud, ep, dir, buf, len, meta);
		return;
	}
	ssize_t n = send(l->fd[ep], buf, len, MSG_DONTWAIT | MSG_NOSIGNAL);
	if (n >= 0)
		l->rt.st.sent++;
	else if (errno == ECONNREFUSED)
		l->rt.st.refused++; /* an earlier datagram's ICMP port unreachable */
	else
		l->rt.st.send_failed++; /* the socket's buffer is full: dropped */
}

static void on_tap_send(void *ud, uint32_t ep, enum net_dir dir, uint32_t id,
			const uint8_t *buf, size_t len, const struct net_meta *meta,
			sim_time now)
{
	struct live *l = ud;
	l->cb->tap_send(l->cb->ud, ep, dir, id, buf, len, meta, now);
}

static void on_tap_recv(void *ud, uint32_t ep, enum net_dir dir, uint32_t id,
			const uint8_t *buf, size_t len, const struct net_meta *meta,
			sim_time now)
{
	struct live *l = ud;
	l->cb->tap_recv(l->cb->ud, ep, dir, id, buf, len, meta, now);
}

/* ---- sockets ---- */

/* Raise the open-file limit as far as allowed; refuse a fleet that needs
 * more than that. */
static int fd_limit(uint32_t n_ep, char *err, size_t errlen)
{
	struct rlimit r;
	if (getrlimit(RLIMIT_NOFILE, &r) != 0)
		return 0;
	rlim_t need = (rlim_t)n_ep + LIVE_FD_SPARE;
	if (r.rlim_cur < need) {
		/* Past the hard limit if the process may (root: up to
		 * fs.nr_open), else up to it. */
		struct rlimit want = {need, r.rlim_max > need ? r.rlim_max : need};
		if (setrlimit(RLIMIT_NOFILE, &want) != 0 && r.rlim_cur < r.rlim_max) {
			r.rlim_cur = r.rlim_max < need ? r.rlim_max : need;
			setrlimit(RLIMIT_NOFILE, &r);
		}
		getrlimit(RLIMIT_NOFILE, &r);
	}
	if (r.rlim_cur >= need)
		return 0;
	snprintf(err, errlen,
		 "live: %u endpoints need %llu open files (a socket each); this process "
		 "may open %llu (raise it with ulimit -n, as root up to "
		 "/proc/sys/fs/nr_open)",
		 n_ep, (unsigned long long)need, (unsigned long long)r.rlim_cur);
	return SIM_ERR_BUSY;
}

/* ADDRESS[/PREFIX] of the target's family: the hosts to bind to in turn
 * (IPv4 without its network and broadcast addresses, IPv6 without the
 * subnet's zero address, when the prefix has room for them). */
static int parse_source(struct live *l, const char *src, char *err, size_t errlen)
{
	char a[64];
	const char *slash = strchr(src, '/');
	size_t al = slash ? (size_t)(slash - src) : strlen(src);
	bool v6 = l->target.ss_family == AF_INET6;
	int len = v6 ? 16 : 4;
	snprintf(a, sizeof(a), "%.*s", (int)al, src);
	if (inet_pton(v6 ? AF_INET6 : AF_INET, a, l->src_base) != 1) {
		snprintf(err, errlen, "live: source '%s' is not an %s address like the target's",
			 src, v6 ? "IPv6" : "IPv4");
		return SIM_ERR_INVAL;
	}
	int host_bits = slash ? len * 8 - atoi(slash + 1) : 0;
	/* Clear the host bits (at most 24: the last three bytes). */
	for (int b = 0; b < host_bits; b++)
		l->src_base[len - 1 - b / 8] &= (uint8_t)~(1u << (b % 8));
	l->n_src = (uint64_t)1 << host_bits;
	l->src_first = 0;
	if (host_bits >= 2 && !v6) {
		l->src_first = 1;
		l->n_src -= 2;
	} else if (host_bits >= 1 && v6) {
		l->src_first = 1;
		l->n_src -= 1;
	}
	return 0;
}

/* The k-th source host as a socket address (port 0: the kernel's pick). */
static void source_addr(const struct live *l, uint64_t k, struct sockaddr_storage *sa,
			socklen_t *len)
{
	uint64_t h = l->src_first + k % l->n_src;
	uint8_t b[16];
	bool v6 = l->target.ss_family == AF_INET6;
	int n = v6 ? 16 : 4;
	memcpy(b, l->src_base, 16);
	for (int i = 0; i < 3; i++)
		b[n - 1 - i] |= (uint8_t)(h >> (8 * i));
	memset(sa, 0, sizeof(*sa));
	if (v6) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)(void *)sa;
		s6->sin6_family = AF_INET6;
		memcpy(&s6->sin6_addr, b, 16);
		*len = sizeof(*s6);
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)(void *)sa;
		s4->sin_family = AF_INET;
		memcpy(&s4->sin_addr, b, 4);
		*len = sizeof(*s4);
	}
}

static int open_socket(const struct live *l, uint32_t ep, char *err, size_t errlen)
{
	int fd = socket(l->target.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	struct sockaddr_storage src;
	socklen_t slen;
	if (fd >= 0 && l->n_src) {
		source_addr(l, ep, &src, &slen);
		if (bind(fd, (const struct sockaddr *)&src, slen) != 0) {
			snprintf(err, errlen, "live: cannot bind an endpoint's socket to its "
				 "source address: %s", strerror(errno));
			close(fd);
			return -1;
		}
	}
	if (fd < 0 || connect(fd, (const struct sockaddr *)&l->target, l->target_len) != 0) {
		snprintf(err, errlen, "live: cannot open an endpoint's socket: %s%s",
			 strerror(errno),
			 errno == EADDRNOTAVAIL || errno == EADDRINUSE
				 ? " (out of source ports: give [live] source several addresses, "
				   "e.g. 127.0.0.0/24)"
				 : "");
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

/* Datagrams waiting on endpoint ep's socket, into the emulated downlink. */
static void drain_socket(struct live *l, uint32_t ep)
{
	static _Thread_local uint8_t bufs[LIVE_BATCH][SIM_MAX_DATAGRAM];
	struct mmsghdr m[LIVE_BATCH];
	struct iovec iov[LIVE_BATCH];
	for (;;) {
		for (int i = 0; i < LIVE_BATCH; i++) {
			iov[i] = (struct iovec){bufs[i], sizeof(bufs[i])};
			m[i] = (struct mmsghdr){.msg_hdr = {.msg_iov = &iov[i], .msg_iovlen = 1}};
		}
		int n = recvmmsg(l->fd[ep], m, LIVE_BATCH, MSG_DONTWAIT, NULL);
		if (n < 0) {
			if (errno == ECONNREFUSED) {
				l->rt.st.refused++;
				continue; /* the error is reported once; read on */
			}
			return; /* EAGAIN: nothing more */
		}
		live_rt_arrived(&l->rt, l->eng);
		for (int i = 0; i < n; i++) {
			l->rt.st.received++;
			if (net_send(&l->net, ep, NET_DOWN, bufs[i], m[i].msg_len, NULL) < 0)
				l->err = SIM_ERR_NOMEM;
		}
		if (n < LIVE_BATCH)
			return;
	}
}

/* ---- the ops ---- */

static int live_open(struct backend **out, const struct backend_setup *s)
{
	static char err[256];
	struct live *l = calloc(1, sizeof(*l));
	*out = NULL;
	if (!l)
		return SIM_ERR_NOMEM;
	l->base = (struct backend){&backend_live_ops, NULL, 0, NULL};
	l->cb = s->cb;
	l->n_ep = s->n_ep;
	l->ep_fd = -1;
	l->server = -1;
	err[0] = 0;
	int rc = resolve(s->target.host, s->target.port, s->target.allow_remote,
				      &l->target, &l->target_len, err, sizeof(err));
	if (rc == 0 && s->target.source && s->target.source[0])
		rc = parse_source(l, s->target.source, err, sizeof(err));
	if (rc == 0)
		rc = fd_limit(s->n_ep, err, sizeof(err));
	l->ncb = (struct net_cb){
		.deliver = on_deliver,
		.on_send = s->cb->tap_send ? on_tap_send : NULL,
		.on_recv = s->cb->tap_recv ? on_tap_recv : NULL,
	};
	if (rc == 0) {
		l->eng = sim_engine_new(3 * (size_t)s->n_ep + 64, s->engine_ud);
		l->fd = malloc(sizeof(*l->fd) * (s->n_ep ? s->n_ep : 1));
		l->ep_fd = epoll_create1(EPOLL_CLOEXEC);
		rc = !l->eng || !l->fd || l->ep_fd < 0 ||
				     net_init(&l->net, l->eng, s->n_ep, s->up, s->down,
					      s->bottleneck, s->seed, s->slot_of, &l->ncb, l) < 0
			     ? SIM_ERR_NOMEM
			     : 0;
	}
	uint32_t opened = 0;
	for (; rc == 0 && opened < s->n_ep; opened++) {
		int fd = open_socket(l, opened, err, sizeof(err));
		struct epoll_event ev = {.events = EPOLLIN, .data.u32 = opened};
		if (fd < 0 || epoll_ctl(l->ep_fd, EPOLL_CTL_ADD, fd, &ev) != 0) {
			if (fd >= 0)
				close(fd);
			rc = SIM_ERR_BUSY;
			break;
		}
		l->fd[opened] = fd;
	}
	if (rc == 0 && s->target.server && s->target.server[0] &&
	    (l->server = tundev_spawn(NULL, s->target.server, true)) < 0) {
		snprintf(err, sizeof(err), "live: cannot start the server: %s", strerror(errno));
		rc = SIM_ERR_IO;
	}
	if (rc < 0) {
		while (opened)
			close(l->fd[--opened]);
		if (l->ep_fd >= 0)
			close(l->ep_fd);
		if (l->eng)
			net_free(&l->net);
		sim_engine_delete(l->eng);
		free(l->fd);
		free(l);
		if (s->err && err[0])
			snprintf(s->err, s->errlen, "%s", err);
		return rc;
	}
	*out = &l->base;
	return 0;
}

static void live_close(struct backend *b)
{
	if (!b)
		return;
	struct live *l = live_of(b);
	tundev_stop(l->server, 2000);
	for (uint32_t i = 0; i < l->n_ep; i++)
		close(l->fd[i]);
	close(l->ep_fd);
	free(l->fd);
	net_free(&l->net);
	sim_engine_delete(l->eng);
	free(l);
}

static struct sim_engine *live_engine(struct backend *b)
{
	return live_of(b)->eng;
}

static void ready(void *ud, uint32_t ep)
{
	drain_socket(ud, ep);
}

static uint64_t live_run(struct backend *b, sim_time until)
{
	struct live *l = live_of(b);
	return live_rt_run(&l->rt, l->eng, l->cb, l->ep_fd, until, ready, l, &l->err);
}

static uint64_t live_pending(const struct backend *b)
{
	return sim_engine_pending(clive_of(b)->eng);
}

static int live_error(const struct backend *b)
{
	return clive_of(b)->err;
}

static const struct net_stats *live_stats(const struct backend *b)
{
	return &clive_of(b)->net.st;
}

static int live_send(struct backend *b, uint32_t ep, enum net_dir dir, const uint8_t *buf,
		     size_t len, const struct net_meta *meta)
{
	return net_send(&live_of(b)->net, ep, dir, buf, len, meta);
}

static int live_send_multicast(struct backend *b, uint32_t first, uint32_t count,
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

/* Streams (MQTT) need the tun transport, not built yet: the scenario check
 * refuses MQTT groups on live, so none of these is reached. */
static int live_stream_open(struct backend *b, struct backend_stream *s, uint8_t *buf,
			    uint32_t cap, struct sim_rng *rng)
{
	(void)b;
	(void)s;
	(void)buf;
	(void)cap;
	(void)rng;
	return SIM_ERR_UNSUPPORTED;
}

static bool live_stream_send(struct backend *b, struct backend_stream *s, const uint8_t *buf,
			     size_t len)
{
	(void)b;
	(void)s;
	(void)buf;
	(void)len;
	return false;
}

static void live_stream_end(struct backend *b, struct backend_stream *s)
{
	(void)b;
	(void)s;
}

static sim_time live_stream_expiry(const struct backend *b, const struct backend_stream *s)
{
	(void)b;
	(void)s;
	return SIM_TIME_NEVER;
}

/* One request from a socket of its own, resent every 250 ms until an
 * answer or the timeout (10 s when the run started the server itself: it
 * may still be binding). */
static int live_probe(struct backend *b, const uint8_t *req, size_t len, uint8_t *reply,
		      size_t cap, sim_time timeout)
{
	struct live *l = live_of(b);
	if (l->server > 0 && timeout < SIM_S(10))
		timeout = SIM_S(10);
	int fd = socket(l->target.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return SIM_ERR_IO;
	struct timeval tv = {0, 250000};
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	ssize_t n = -1;
	int e = EAGAIN;
	if (connect(fd, (const struct sockaddr *)&l->target, l->target_len) == 0)
		for (sim_time spent = 0; spent < timeout && n < 0; spent += SIM_MS(250)) {
			if (send(fd, req, len, 0) == (ssize_t)len)
				n = recv(fd, reply, cap, 0);
			e = n < 0 ? errno : 0;
			if (n < 0 && e == ECONNREFUSED && l->server <= 0)
				break; /* nothing listens, and nothing is starting */
			if (n < 0 && e != EAGAIN && e != EWOULDBLOCK)
				usleep(250000); /* refused at once: wait out the round */
		}
	close(fd);
	if (n >= 0)
		return (int)n;
	return e == ECONNREFUSED ? SIM_ERR_NOTFOUND : SIM_ERR_IO;
}

static const struct backend_gen_stats *live_gen_stats(struct backend *b)
{
	return live_rt_stats(&live_of(b)->rt);
}

static int live_addrs(struct backend *b, uint32_t ep, struct sockaddr_storage *local,
		      struct sockaddr_storage *target)
{
	struct live *l = live_of(b);
	socklen_t len = sizeof(*local);
	if (ep >= l->n_ep || getsockname(l->fd[ep], (struct sockaddr *)local, &len) != 0)
		return SIM_ERR_INVAL;
	memcpy(target, &l->target, sizeof(*target));
	return 0;
}

const struct backend_ops backend_live_ops = {
	.name = "live",
	.any_placement = true,
	.one_at_a_time = true, /* real time and a socket per endpoint: runs take turns */
	.remote_server = true,
	.open = live_open,
	.close = live_close,
	.engine = live_engine,
	.run = live_run,
	.pending = live_pending,
	.error = live_error,
	.stats = live_stats,
	.send = live_send,
	.send_multicast = live_send_multicast,
	.stream_open = live_stream_open,
	.stream_send = live_stream_send,
	.stream_close = live_stream_end,
	.stream_abort = live_stream_end,
	.stream_expiry = live_stream_expiry,
	.stream_expire = live_stream_end,
	.probe = live_probe,
	.gen_stats = live_gen_stats,
	.addrs = live_addrs,
};
