/* coapsim serve: the project's own CoAP server core (coap_ep.c's server
 * session: deduplication, processing delay, separate responses, Observe,
 * Block2) behind one real UDP socket, in real time.  A reference target for
 * live runs, and a way to measure the harness itself.  One session per peer
 * (address and port), as the simulator keeps one per endpoint.  Knows
 * nothing of backends or of the simulated channel. */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "../coap/coap_ep.h"
#include "../core/epoll_ns.h"
#include "../engine/engine.h"
#include "../engine/rng.h"
#include "serve.h"

#define BATCH 32
#define CHUNK 4096 /* peers are allocated this many at a time, never moved */

struct peer {
	struct sim_timer t; /* the session's expiry */
	struct coap_srv_session srv;
	struct coap_observer obs;
	struct sim_rng rng;
	struct coap_pending *pend;
	struct sockaddr_storage addr;
	socklen_t alen;
	struct server *sv;
	uint8_t group; /* the resource: the group its first request named */
};

struct server {
	const struct scenario_cfg *cfg;
	struct sim_engine *eng;
	struct coap_params cp;
	struct coap_srv_session_cb cb;
	int fd;
	struct timespec t0;
	struct peer **chunks;
	size_t n_chunks, n_peers;
	struct peer **table; /* open addressing by address */
	size_t cap;
	uint64_t requests, datagrams;
	int err;
};

static _Atomic int serve_stop;

static void on_signal(int sig)
{
	atomic_store(&serve_stop, sig);
}

static sim_time real_now(const struct server *sv)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (sim_time)((t.tv_sec - sv->t0.tv_sec) * 1000000000ll + (t.tv_nsec - sv->t0.tv_nsec));
}

/* Whether request path `path` names resource `pattern`, where each {id}
 * stands for one path segment. */
static bool path_matches(const char *pattern, const char *path)
{
	while (*pattern) {
		if (!strncmp(pattern, "{id}", 4)) {
			pattern += 4;
			path += strcspn(path, "/");
		} else if (*pattern++ != *path++) {
			return false;
		}
	}
	return !*path;
}

/* The group whose path a request names; the first when none does. */
static uint8_t group_of_request(const struct scenario_cfg *cfg, const uint8_t *buf,
				size_t len)
{
	struct coap_msg m;
	char path[COAP_MAX_PATH + 2] = "";
	size_t pl = 0;
	if (coap_parse(&m, buf, len) != 0)
		return 0;
	for (int i = 0; i < m.n_opt; i++) {
		const struct coap_option *o = &m.opt[i];
		if (o->num != COAP_OPT_URI_PATH || pl + 1 + o->len >= sizeof(path))
			continue;
		path[pl++] = '/';
		memcpy(path + pl, o->value, o->len);
		pl += o->len;
		path[pl] = 0;
	}
	for (size_t g = 0; g < cfg->n_groups; g++)
		if (path_matches(cfg->groups[g].path, path))
			return (uint8_t)g;
	return 0;
}

/* The resource of the group the peer's first request named says what it
 * answers (as the simulated server takes it from the asking endpoint's
 * group). */
static void env_of(struct server *sv, struct peer *p, struct coap_srv_env *env)
{
	const struct scenario_cfg *cfg = sv->cfg;
	const struct group_cfg *g = &cfg->groups[p->group];
	bool observe = g->traffic == TRAFFIC_OBSERVE;
	*env = (struct coap_srv_env){
		.p = &sv->cp, .cb = &sv->cb, .ud = sv, .rng = &p->rng,
		.processing = &cfg->server.processing,
		.separate_after = cfg->server.separate_after,
		.get_payload = g->payload,
		.max_body = cfg->server.max_body,
		.notify_interval = observe ? g->interval : 0,
		.notify_con = g->confirmable,
		.notify_con_interval = cfg->coap.notify_con_interval,
		.notify_until = SIM_TIME_NEVER,
		.obs = observe ? &p->obs : NULL,
	};
}

static void rearm(struct server *sv, struct peer *p, const struct coap_srv_env *env)
{
	sim_time when = coap_srv_session_expiry(&p->srv, env);
	if (when == SIM_TIME_NEVER)
		sim_timer_cancel(sv->eng, &p->t);
	else if ((!sim_timer_armed(&p->t) || p->t.when != when) &&
		 sim_timer_arm(sv->eng, &p->t, when) < 0)
		sv->err = SIM_ERR_NOMEM;
}

static void peer_fire(struct sim_engine *e, struct sim_timer *t)
{
	struct peer *p = sim_container_of(t, struct peer, t);
	struct server *sv = p->sv;
	struct coap_srv_env env;
	env_of(sv, p, &env);
	coap_srv_session_expire(&p->srv, &env, sim_engine_now(e));
	rearm(sv, p, &env);
}

static void on_send(void *ud, struct coap_srv_session *s, const uint8_t *buf, size_t len)
{
	struct server *sv = ud;
	struct peer *p = sim_container_of(s, struct peer, srv);
	sendto(sv->fd, buf, len, MSG_DONTWAIT | MSG_NOSIGNAL, (const struct sockaddr *)&p->addr,
	       p->alen);
}

static void on_request(void *ud, struct coap_srv_session *s, const struct coap_msg *req,
		       sim_time now)
{
	struct server *sv = ud;
	(void)s;
	(void)req;
	(void)now;
	sv->requests++;
}

static uint64_t addr_hash(const struct sockaddr_storage *a, socklen_t len)
{
	uint64_t h = 1469598103934665603ull;
	const uint8_t *b = (const uint8_t *)a;
	for (socklen_t i = 0; i < len; i++)
		h = (h ^ b[i]) * 1099511628211ull;
	return h;
}

static bool grow(struct server *sv)
{
	size_t cap = sv->cap ? 2 * sv->cap : 8192;
	struct peer **t = calloc(cap, sizeof(*t));
	if (!t)
		return false;
	for (size_t i = 0; i < sv->cap; i++) {
		struct peer *p = sv->table[i];
		if (!p)
			continue;
		size_t j = addr_hash(&p->addr, p->alen) & (cap - 1);
		while (t[j])
			j = (j + 1) & (cap - 1);
		t[j] = p;
	}
	free(sv->table);
	sv->table = t;
	sv->cap = cap;
	return true;
}

/* The peer's session, made at its first datagram (buf: which resource). */
static struct peer *peer_of(struct server *sv, const struct sockaddr_storage *a, socklen_t len,
			    const uint8_t *buf, size_t blen)
{
	if (2 * (sv->n_peers + 1) > sv->cap && !grow(sv))
		return NULL;
	size_t j = addr_hash(a, len) & (sv->cap - 1);
	for (; sv->table[j]; j = (j + 1) & (sv->cap - 1))
		if (sv->table[j]->alen == len && !memcmp(&sv->table[j]->addr, a, len))
			return sv->table[j];
	if (sv->n_peers % CHUNK == 0) {
		struct peer **c = realloc(sv->chunks, (sv->n_chunks + 1) * sizeof(*c));
		if (!c)
			return NULL;
		sv->chunks = c;
		if (!(sv->chunks[sv->n_chunks] = calloc(CHUNK, sizeof(struct peer))))
			return NULL;
		sv->n_chunks++;
	}
	struct peer *p = &sv->chunks[sv->n_peers / CHUNK][sv->n_peers % CHUNK];
	p->pend = calloc(sv->cp.nstart, sizeof(*p->pend));
	if (!p->pend)
		return NULL;
	sv->n_peers++;
	memcpy(&p->addr, a, len);
	p->alen = len;
	p->sv = sv;
	p->group = group_of_request(sv->cfg, buf, blen);
	sim_timer_init(&p->t, peer_fire);
	sim_rng_init(&p->rng, sv->cfg->seed, sv->n_peers - 1, RNG_SERVER);
	struct coap_srv_env env;
	env_of(sv, p, &env);
	coap_srv_session_init(&p->srv, p->pend, &env);
	sv->table[j] = p;
	return p;
}

static void read_socket(struct server *sv)
{
	static uint8_t bufs[BATCH][SIM_MAX_DATAGRAM];
	struct sockaddr_storage from[BATCH];
	struct mmsghdr m[BATCH];
	struct iovec iov[BATCH];
	for (;;) {
		for (int i = 0; i < BATCH; i++) {
			iov[i] = (struct iovec){bufs[i], sizeof(bufs[i])};
			m[i] = (struct mmsghdr){.msg_hdr = {.msg_name = &from[i],
							   .msg_namelen = sizeof(from[i]),
							   .msg_iov = &iov[i], .msg_iovlen = 1}};
		}
		int n = recvmmsg(sv->fd, m, BATCH, MSG_DONTWAIT, NULL);
		if (n <= 0)
			return;
		sim_time now = real_now(sv);
		if (now > sim_engine_now(sv->eng))
			sim_engine_set_now(sv->eng, now);
		for (int i = 0; i < n; i++) {
			struct peer *p = peer_of(sv, &from[i], m[i].msg_hdr.msg_namelen, bufs[i],
						 m[i].msg_len);
			if (!p) {
				sv->err = SIM_ERR_NOMEM;
				return;
			}
			struct coap_srv_env env;
			env_of(sv, p, &env);
			sv->datagrams++;
			coap_srv_session_recv(&p->srv, &env, sim_engine_now(sv->eng), bufs[i],
					      m[i].msg_len);
			rearm(sv, p, &env);
		}
		if (n < BATCH)
			return;
	}
}

static int open_listener(struct server *sv, const char *host, uint16_t port, char *err,
			 size_t errlen)
{
	struct addrinfo hints = {.ai_socktype = SOCK_DGRAM, .ai_flags = AI_PASSIVE}, *ai = NULL;
	char ps[8];
	snprintf(ps, sizeof(ps), "%u", port);
	int rc = getaddrinfo(host, ps, &hints, &ai);
	if (rc != 0) {
		snprintf(err, errlen, "serve: %s: %s", host, gai_strerror(rc));
		return SIM_ERR_INVAL;
	}
	sv->fd = socket(ai->ai_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (sv->fd < 0 || bind(sv->fd, ai->ai_addr, ai->ai_addrlen) != 0) {
		snprintf(err, errlen, "serve: cannot listen on %s port %u: %s", host, port,
			 strerror(errno));
		freeaddrinfo(ai);
		return SIM_ERR_IO;
	}
	freeaddrinfo(ai);
	return 0;
}

int serve_run(const struct scenario_cfg *cfg, const char *host, uint16_t port,
	      sim_time run_for, FILE *log, char *err, size_t errlen)
{
	struct server sv = {.cfg = cfg, .fd = -1};
	int rc = open_listener(&sv, host, port, err, errlen);
	int ep = epoll_create1(EPOLL_CLOEXEC);
	struct epoll_event ev = {.events = EPOLLIN};
	sv.eng = sim_engine_new(1024, &sv);
	if (rc == 0 && (ep < 0 || !sv.eng || epoll_ctl(ep, EPOLL_CTL_ADD, sv.fd, &ev) != 0)) {
		snprintf(err, errlen, "serve: %s", strerror(errno ? errno : ENOMEM));
		rc = SIM_ERR_IO;
	}
	sv.cp = (struct coap_params){
		.ack_timeout = cfg->coap.ack_timeout,
		.ack_random_factor = cfg->coap.ack_random_factor,
		.max_retransmit = cfg->coap.max_retransmit,
		.nstart = cfg->coap.nstart,
	};
	coap_params_derive(&sv.cp);
	sv.cb = (struct coap_srv_session_cb){.send = on_send, .request = on_request};
	struct sigaction sa = {.sa_handler = on_signal}, old_int, old_term;
	sigemptyset(&sa.sa_mask);
	atomic_store(&serve_stop, 0);
	sigaction(SIGINT, &sa, &old_int);
	sigaction(SIGTERM, &sa, &old_term);
	clock_gettime(CLOCK_MONOTONIC, &sv.t0);
	if (rc == 0 && log) {
		fprintf(log, "coapsim serve: listening on %s%s%s port %u\n",
			strchr(host, ':') ? "[" : "", host, strchr(host, ':') ? "]" : "", port);
		fflush(log);
	}
	while (rc == 0 && !sv.err && !atomic_load(&serve_stop)) {
		sim_time now = real_now(&sv), next;
		if (run_for && now >= run_for)
			break;
		while ((next = sim_engine_next(sv.eng)) <= now)
			sim_engine_run(sv.eng, next);
		/* Wake for the next timer, and at least ten times a second to
		 * see a signal or the end. */
		sim_time wake = now + SIM_MS(100);
		if (next < wake)
			wake = next;
		struct epoll_event got;
		if (sim_epoll_wait(ep, &got, 1, wake - now) > 0)
			read_socket(&sv);
	}
	sigaction(SIGINT, &old_int, NULL);
	sigaction(SIGTERM, &old_term, NULL);
	if (rc == 0 && log)
		fprintf(log, "coapsim serve: %llu requests from %zu peers\n",
			(unsigned long long)sv.requests, sv.n_peers);
	if (rc == 0 && sv.err) {
		snprintf(err, errlen, "serve: %s", sim_strerror(sv.err));
		rc = sv.err;
	}
	sim_engine_delete(sv.eng); /* first: its entries point into the peers */
	for (size_t i = 0; i < sv.n_peers; i++)
		free(sv.chunks[i / CHUNK][i % CHUNK].pend);
	for (size_t c = 0; c < sv.n_chunks; c++)
		free(sv.chunks[c]);
	free(sv.chunks);
	free(sv.table);
	if (ep >= 0)
		close(ep);
	if (sv.fd >= 0)
		close(sv.fd);
	return rc;
}
