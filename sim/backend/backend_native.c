/* The native backend: coapsim's own channel model (net.c) and TCP model
 * (tcp.c) on the engine's own queue, all in simulated time.  It passes
 * what arrives to the run's struct backend_cb and keeps nothing of its own
 * beyond the channel.  Knows nothing of the scenario, CoAP or MQTT. */
#include <stdlib.h>

#include "backend.h"

struct native {
	struct backend base; /* first: a struct backend * is a struct native * */
	struct sim_engine *eng;
	struct net net;
	struct net_cb ncb;
	struct tcp_params tcpp;
	struct tcp_cb tcb;
	const struct backend_cb *cb;
	/* Stream ends by slot (2 ep: the client's, 2 ep + 1: the broker's),
	 * allocated when the first stream opens. */
	struct backend_stream **ends;
	int err;
};

static struct native *native_of(struct backend *b)
{
	return (struct native *)(void *)b;
}

static const struct native *cnative_of(const struct backend *b)
{
	return (const struct native *)(const void *)b;
}

static struct tcp_env env_of(struct native *n)
{
	return (struct tcp_env){&n->tcpp, &n->tcb, n};
}

/* ---- the channel's callbacks, to the run's ---- */

static void on_deliver(void *ud, struct net *net, uint32_t ep, enum net_dir dir,
		       const uint8_t *buf, size_t len, const struct net_meta *meta,
		       bool duplicate)
{
	struct native *n = ud;
	(void)net;
	(void)duplicate;
	if (!meta->tcp) {
		n->cb->deliver(n->cb->ud, ep, dir, buf, len, meta);
		return;
	}
	/* A segment: to the broker's end going up, the client's going down. */
	struct backend_stream *s = n->ends ? n->ends[2 * (size_t)ep + (dir == NET_UP)] : NULL;
	if (!s)
		return;
	struct tcp_env te = env_of(n);
	n->cb->segment(n->cb->ud, ep, dir, true, buf, len, NULL);
	if (s->broker && len >= 14 && (buf[13] & (TCP_SYN | TCP_ACK)) == TCP_SYN &&
	    s->tcp.state != TCP_LISTEN && (uint16_t)(buf[0] << 8 | buf[1]) != s->tcp.rport) {
		/* A client's new connection (a new port) while the broker's end
		 * still holds its last one: the broker's listener accepts it and
		 * the broker (mosquitto, on the CONNECT of the same client id)
		 * drops the old one, here at once and silently.  The run opens
		 * the broker's next end, which takes this SYN. */
		n->cb->event(n->cb->ud, ep, true, TCP_EV_RESET);
		s = n->ends[2 * (size_t)ep + 1];
	}
	tcp_conn_recv(&s->tcp, &te, sim_engine_now(n->eng), buf, len);
	n->cb->changed(n->cb->ud, ep);
}

static void on_tap_send(void *ud, uint32_t ep, enum net_dir dir, uint32_t id,
			const uint8_t *buf, size_t len, const struct net_meta *meta,
			sim_time now)
{
	struct native *n = ud;
	n->cb->tap_send(n->cb->ud, ep, dir, id, buf, len, meta, now);
}

static void on_tap_recv(void *ud, uint32_t ep, enum net_dir dir, uint32_t id,
			const uint8_t *buf, size_t len, const struct net_meta *meta,
			sim_time now)
{
	struct native *n = ud;
	n->cb->tap_recv(n->cb->ud, ep, dir, id, buf, len, meta, now);
}

/* ---- the TCP model's callbacks ---- */

static struct backend_stream *stream_of(struct tcp_conn *c)
{
	return sim_container_of(c, struct backend_stream, tcp);
}

static void tcp_send_cb(void *ud, struct tcp_conn *c, const uint8_t *seg, size_t len,
			const struct tcp_seg_info *info)
{
	struct native *n = ud;
	struct backend_stream *s = stream_of(c);
	enum net_dir dir = s->broker ? NET_DOWN : NET_UP;
	struct net_meta meta = {.tcp = 1};
	n->cb->segment(n->cb->ud, s->ep, dir, false, seg, len, info);
	if (net_send(&n->net, s->ep, dir, seg, len, &meta) < 0)
		n->err = SIM_ERR_NOMEM;
}

static void tcp_data_cb(void *ud, struct tcp_conn *c, const uint8_t *buf, size_t len)
{
	struct native *n = ud;
	struct backend_stream *s = stream_of(c);
	n->cb->data(n->cb->ud, s->ep, s->broker, buf, len);
}

static void tcp_event_cb(void *ud, struct tcp_conn *c, enum tcp_event ev, sim_time now)
{
	struct native *n = ud;
	struct backend_stream *s = stream_of(c);
	(void)now;
	n->cb->event(n->cb->ud, s->ep, s->broker, ev);
}

/* ---- the ops ---- */

static int native_open(struct backend **out, const struct backend_setup *s)
{
	struct native *n = calloc(1, sizeof(*n));
	*out = NULL;
	if (!n)
		return SIM_ERR_NOMEM;
	n->base = (struct backend){&backend_native_ops, NULL, 0, NULL};
	n->cb = s->cb;
	n->tcpp = *s->tcp;
	n->tcb = (struct tcp_cb){tcp_send_cb, tcp_data_cb, tcp_event_cb};
	n->ncb = (struct net_cb){
		.deliver = on_deliver,
		.on_send = s->cb->tap_send ? on_tap_send : NULL,
		.on_recv = s->cb->tap_recv ? on_tap_recv : NULL,
	};
	n->eng = sim_engine_new(3 * (size_t)s->n_ep + 64, s->engine_ud);
	if (!n->eng || net_init(&n->net, n->eng, s->n_ep, s->up, s->down, s->bottleneck,
				s->seed, s->slot_of, &n->ncb, n) < 0) {
		sim_engine_delete(n->eng);
		free(n);
		return SIM_ERR_NOMEM;
	}
	sim_engine_expect(n->eng, s->timers_per_s);
	/* The channel's per-endpoint line, for the run's prefetches. */
	n->base.hot = (const char *)n->net.eps;
	n->base.hot_stride = sizeof(*n->net.eps);
	n->base.hot_id = n->net.id_at;
	*out = &n->base;
	return 0;
}

static void native_close(struct backend *b)
{
	if (!b)
		return;
	struct native *n = native_of(b);
	free(n->ends);
	net_free(&n->net);
	sim_engine_delete(n->eng);
	free(n);
}

static struct sim_engine *native_engine(struct backend *b)
{
	return native_of(b)->eng;
}

static uint64_t native_run(struct backend *b, sim_time until)
{
	return sim_engine_run(native_of(b)->eng, until);
}

static uint64_t native_pending(const struct backend *b)
{
	return sim_engine_pending(cnative_of(b)->eng);
}

static int native_error(const struct backend *b)
{
	const struct native *n = cnative_of(b);
	return n->err ? n->err : sim_engine_error(n->eng);
}

static const struct net_stats *native_stats(const struct backend *b)
{
	return &cnative_of(b)->net.st;
}

static int native_send(struct backend *b, uint32_t ep, enum net_dir dir, const uint8_t *buf,
		       size_t len, const struct net_meta *meta)
{
	return net_send(&native_of(b)->net, ep, dir, buf, len, meta);
}

static int native_send_multicast(struct backend *b, uint32_t first, uint32_t count,
				 const uint8_t *buf, size_t len, const struct net_meta *meta)
{
	return net_send_multicast(&native_of(b)->net, first, count, buf, len, meta);
}

static int native_stream_open(struct backend *b, struct backend_stream *s, uint8_t *buf,
			      uint32_t cap, struct sim_rng *rng)
{
	struct native *n = native_of(b);
	if (!n->ends && !(n->ends = calloc(2 * (size_t)n->net.n_ep, sizeof(*n->ends))))
		return SIM_ERR_NOMEM;
	if (n->ends[2 * (size_t)s->ep + s->broker] == s)
		tcp_conn_free(&s->tcp); /* a reconnection: what the last one held */
	n->ends[2 * (size_t)s->ep + s->broker] = s;
	if (s->broker) {
		tcp_conn_init(&s->tcp, &n->tcpp, s->port ? s->port : 1883, 0, buf, cap, rng);
		tcp_conn_set_nodelay(&s->tcp, n->tcpp.broker_nodelay);
		tcp_conn_listen(&s->tcp);
		return 0;
	}
	/* A new local port for each connection, as Linux's connect() takes:
	 * a reconnection on the last one's four-tuple would read, to
	 * Wireshark, as that connection's retransmissions. */
	struct tcp_env te = env_of(n);
	uint16_t lport = (uint16_t)(49152 + (s->ep + s->conns++) % 16384);
	tcp_conn_init(&s->tcp, &n->tcpp, lport, s->port ? s->port : 1883, buf, cap, rng);
	tcp_conn_set_nodelay(&s->tcp, n->tcpp.client_nodelay);
	tcp_conn_connect(&s->tcp, &te, sim_engine_now(n->eng));
	return 0;
}

static bool native_stream_send(struct backend *b, struct backend_stream *s,
			       const uint8_t *buf, size_t len)
{
	struct native *n = native_of(b);
	struct tcp_env te = env_of(n);
	return tcp_conn_send(&s->tcp, &te, sim_engine_now(n->eng), buf, len) >= 0;
}

static void native_stream_close(struct backend *b, struct backend_stream *s)
{
	struct native *n = native_of(b);
	struct tcp_env te = env_of(n);
	tcp_conn_close(&s->tcp, &te, sim_engine_now(n->eng));
}

static void native_stream_abort(struct backend *b, struct backend_stream *s)
{
	struct native *n = native_of(b);
	struct tcp_env te = env_of(n);
	tcp_conn_abort(&s->tcp, &te, sim_engine_now(n->eng));
}

static sim_time native_stream_expiry(const struct backend *b, const struct backend_stream *s)
{
	(void)b;
	return tcp_conn_expiry(&s->tcp);
}

static void native_stream_expire(struct backend *b, struct backend_stream *s)
{
	struct native *n = native_of(b);
	struct tcp_env te = env_of(n);
	tcp_conn_expire(&s->tcp, &te, sim_engine_now(n->eng));
}

const struct backend_ops backend_native_ops = {
	.name = "native",
	.any_placement = true,
	.one_at_a_time = false,
	.open = native_open,
	.close = native_close,
	.engine = native_engine,
	.run = native_run,
	.pending = native_pending,
	.error = native_error,
	.stats = native_stats,
	.send = native_send,
	.send_multicast = native_send_multicast,
	.stream_open = native_stream_open,
	.stream_send = native_stream_send,
	.stream_close = native_stream_close,
	.stream_abort = native_stream_abort,
	.stream_expiry = native_stream_expiry,
	.stream_expire = native_stream_expire,
};
