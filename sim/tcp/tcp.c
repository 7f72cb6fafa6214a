/* The TCP model, sans-I/O (see tcp.h for what it models).  Knows no
 * clock, engine, channel or MQTT. */
#include "tcp.h"

#include <string.h>

#define CLOCK_G SIM_MS(1) /* RFC 6298 clock granularity */

static bool seq_lt(uint32_t a, uint32_t b) { return (int32_t)(a - b) < 0; }
static bool seq_leq(uint32_t a, uint32_t b) { return (int32_t)(a - b) <= 0; }
static uint32_t min32(uint32_t a, uint32_t b) { return a < b ? a : b; }
static uint32_t max32(uint32_t a, uint32_t b) { return a > b ? a : b; }

static void put16(uint8_t *p, uint32_t v) { p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v; }
static void put32(uint8_t *p, uint32_t v)
{
	put16(p, v >> 16);
	put16(p + 2, v);
}
static uint32_t get16(const uint8_t *p) { return (uint32_t)p[0] << 8 | p[1]; }
static uint32_t get32(const uint8_t *p) { return get16(p) << 16 | get16(p + 2); }

void tcp_conn_init(struct tcp_conn *c, const struct tcp_params *p, uint16_t lport,
		   uint16_t rport, uint8_t *buf, uint32_t cap, struct sim_rng *rng)
{
	*c = (struct tcp_conn){.lport = lport, .rport = rport, .buf = buf, .cap = cap};
	c->iss = (uint32_t)sim_rng_u64(rng);
	c->snd_una = c->snd_nxt = c->snd_max = c->iss;
	c->rto = p->rto_initial;
	c->rto_at = c->ack_at = SIM_TIME_NEVER;
	c->peer_mss = 536;
	c->peer_wnd = 65535;
	c->snd_sml = c->iss;
	if (p->profile == TCP_PROFILE_LINUX) {
		c->cwnd = TCP_LINUX_INIT_CWND * p->mss; /* RFC 6928, Linux's TCP_INIT_CWND */
		c->quickack = TCP_LINUX_MAX_QUICKACKS;
	} else {
		c->cwnd = min32(4 * p->mss, max32(2 * p->mss, 4380)); /* RFC 3390 */
	}
	c->ssthresh = 0xffffffff;
}

static void event(struct tcp_conn *c, const struct tcp_env *env, enum tcp_event ev,
		  sim_time now)
{
	if (env->cb->event)
		env->cb->event(env->ud, c, ev, now);
}

/* One segment: header (+ MSS option on SYN) and payload. */
static void emit(struct tcp_conn *c, const struct tcp_env *env, uint32_t seq,
		 uint8_t flags, const uint8_t *data, uint32_t n, bool retx)
{
	uint8_t seg[TCP_SYN_HDR + 65536];
	size_t hl = flags & TCP_SYN ? TCP_SYN_HDR : TCP_HDR;

	put16(seg, c->lport);
	put16(seg + 2, c->rport);
	put32(seg + 4, seq);
	put32(seg + 8, flags & TCP_ACK ? c->rcv_nxt : 0);
	seg[12] = (uint8_t)(hl / 4) << 4;
	seg[13] = flags;
	put16(seg + 14, env->p->rcv_wnd);
	put16(seg + 16, 0); /* checksum: the capture writer fills it */
	put16(seg + 18, 0);
	if (flags & TCP_SYN) {
		seg[20] = 2; /* MSS option */
		seg[21] = 4;
		put16(seg + 22, env->p->mss);
	}
	if (n)
		memcpy(seg + hl, data, n);
	struct tcp_seg_info info = {
		.data_off = n ? c->stream0 + (seq - c->snd_una) : 0,
		.data_len = n, .retx = retx, .flags = flags,
	};
	c->st.segments++;
	c->st.bytes += hl + n;
	if (n) {
		c->st.data_segments++;
		if (retx)
			c->st.retx_segments++;
	} else if (flags == TCP_ACK) {
		c->st.pure_acks++;
	}
	if (flags & TCP_ACK) {
		c->ack_pending = 0;
		c->ack_at = SIM_TIME_NEVER;
		c->acked_to = c->rcv_nxt;
	}
	env->cb->send(env->ud, c, seg, hl + n, &info);
}

static uint32_t in_flight(const struct tcp_conn *c) { return c->snd_nxt - c->snd_una; }


/* Send what the windows allow: new or gone-back-to bytes, then the FIN. */
static void push(struct tcp_conn *c, const struct tcp_env *env, sim_time now)
{
	if (c->state != TCP_ESTABLISHED && c->state != TCP_FIN_WAIT &&
	    c->state != TCP_CLOSING)
		return;
	for (;;) {
		uint32_t off = c->snd_nxt - c->snd_una;
		uint32_t wnd = min32(c->cwnd, c->peer_wnd);
		if (off < c->len) {
			if (in_flight(c) >= wnd)
				break;
			uint32_t full = min32(env->p->mss, c->peer_mss);
			uint32_t n = min32(full, c->len - off);
			n = min32(n, wnd - in_flight(c));
			bool retx = seq_lt(c->snd_nxt, c->snd_max);
			/* Nagle (linux): the last queued bytes, less than a
			 * segment, wait while a small segment is unacknowledged. */
			bool small = n < full && n == c->len - off;
			if (env->p->profile == TCP_PROFILE_LINUX && small && !retx &&
			    !c->nodelay && seq_lt(c->snd_una, c->snd_sml))
				break;
			if (small && !retx)
				c->snd_sml = c->snd_nxt + n;
			if (!c->timing && !retx) {
				c->timing = 1;
				c->timed_seq = c->snd_nxt + n;
				c->timed_at = now;
			}
			emit(c, env, c->snd_nxt, TCP_ACK | TCP_PSH, c->buf + off, n, retx);
			c->snd_nxt += n;
		} else if (c->fin_queued && off == c->len) {
			bool retx = seq_lt(c->snd_nxt, c->snd_max);
			emit(c, env, c->snd_nxt, TCP_FIN | TCP_ACK, NULL, 0, retx);
			c->fin_seq = c->snd_nxt;
			c->fin_out = 1;
			c->snd_nxt++;
		} else {
			break;
		}
		if (seq_lt(c->snd_max, c->snd_nxt))
			c->snd_max = c->snd_nxt;
		if (c->rto_at == SIM_TIME_NEVER)
			c->rto_at = now + c->rto;
	}
}

void tcp_conn_connect(struct tcp_conn *c, const struct tcp_env *env, sim_time now)
{
	c->state = TCP_SYN_SENT;
	c->timing = 1;
	c->timed_seq = c->iss + 1;
	c->timed_at = now;
	emit(c, env, c->iss, TCP_SYN, NULL, 0, false);
	c->snd_nxt = c->snd_max = c->iss + 1;
	c->rto_at = now + c->rto;
}

void tcp_conn_listen(struct tcp_conn *c)
{
	c->state = TCP_LISTEN;
}

int tcp_conn_send(struct tcp_conn *c, const struct tcp_env *env, sim_time now,
		  const uint8_t *data, size_t len)
{
	if (c->state == TCP_CLOSED || c->state == TCP_LISTEN || c->fin_queued)
		return SIM_ERR_INVAL;
	if (len > c->cap - c->len)
		return SIM_ERR_NOSPACE;
	memcpy(c->buf + c->len, data, len);
	c->len += (uint32_t)len;
	push(c, env, now);
	return (int)len;
}

/* RFC 6298 §2. */
static void rtt_sample(struct tcp_conn *c, const struct tcp_params *p, sim_time r)
{
	if (!c->have_rtt) {
		c->srtt = r;
		c->rttvar = r / 2;
		c->have_rtt = 1;
	} else {
		sim_time d = c->srtt > r ? c->srtt - r : r - c->srtt;
		c->rttvar = (3 * c->rttvar + d) / 4;
		c->srtt = (7 * c->srtt + r) / 8;
	}
	if (p->profile == TCP_PROFILE_LINUX) {
		/* tcp_set_rto(): SRTT + max(4 RTTVAR, TCP_RTO_MIN) */
		sim_time k = 4 * c->rttvar;
		c->rto = c->srtt + (k > TCP_LINUX_RTO_MIN ? k : TCP_LINUX_RTO_MIN);
	} else {
		sim_time k = 4 * c->rttvar > CLOCK_G ? 4 * c->rttvar : CLOCK_G;
		c->rto = c->srtt + k;
		if (c->rto < p->rto_min)
			c->rto = p->rto_min;
	}
	if (c->rto > p->rto_max)
		c->rto = p->rto_max;
}

static void closed(struct tcp_conn *c, const struct tcp_env *env, enum tcp_event ev,
		   sim_time now)
{
	c->state = TCP_CLOSED;
	c->rto_at = c->ack_at = SIM_TIME_NEVER;
	event(c, env, ev, now);
}

/* An ACK for new data (RFC 5681 growth, RFC 6582 recovery). */
static void new_ack(struct tcp_conn *c, const struct tcp_env *env, sim_time now,
		    uint32_t ack)
{
	const struct tcp_params *p = env->p;
	uint32_t acked = ack - c->snd_una, mss = p->mss;
	uint32_t data = min32(acked, c->len);

	if (c->timing && seq_leq(c->timed_seq, ack)) {
		rtt_sample(c, p, now - c->timed_at);
		c->timing = 0;
	}
	memmove(c->buf, c->buf + data, c->len - data);
	c->len -= data;
	c->stream0 += data;
	c->snd_una = ack;
	if (seq_lt(c->snd_nxt, c->snd_una))
		c->snd_nxt = c->snd_una;
	c->retries = 0;
	c->dupacks = 0;
	if (c->in_recovery) {
		if (seq_leq(c->recover, ack)) {
			c->cwnd = c->ssthresh; /* full ACK: leave recovery */
			c->in_recovery = 0;
		} else {
			/* partial ACK: the next hole, at once */
			emit(c, env, c->snd_una, TCP_ACK | TCP_PSH, c->buf,
			     min32(mss, c->len), true);
			c->cwnd = c->cwnd > acked ? c->cwnd - acked + mss : mss;
		}
	} else if (c->cwnd < c->ssthresh) {
		c->cwnd += min32(acked, mss);
	} else {
		c->cwnd += max32(1, mss * mss / c->cwnd);
	}
	c->rto_at = in_flight(c) ? now + c->rto : SIM_TIME_NEVER;
}

static void dup_ack(struct tcp_conn *c, const struct tcp_env *env)
{
	uint32_t mss = env->p->mss;

	if (++c->dupacks == 3 && !c->in_recovery) {
		/* fast retransmit */
		c->ssthresh = max32(in_flight(c) / 2, 2 * mss);
		c->recover = c->snd_max;
		c->in_recovery = 1;
		c->timing = 0;
		emit(c, env, c->snd_una, TCP_ACK | TCP_PSH, c->buf, min32(mss, c->len), true);
		c->cwnd = c->ssthresh + 3 * mss;
	} else if (c->in_recovery && c->dupacks > 3) {
		c->cwnd += mss;
	}
}

/* Our SYN is acknowledged: the handshake gives an RTT sample unless the
 * SYN had to be sent again (Karn). */
static void establish(struct tcp_conn *c, const struct tcp_env *env, sim_time now)
{
	if (c->timing && !c->retries)
		rtt_sample(c, env->p, now - c->timed_at);
	c->timing = 0;
	c->snd_una = c->iss + 1;
	c->retries = 0;
	c->state = TCP_ESTABLISHED;
	c->rto_at = SIM_TIME_NEVER;
	event(c, env, TCP_EV_ESTABLISHED, now);
}

/* In-order data arrived (linux): at once while quick ACKs remain or when
 * more than a full segment is unacknowledged (__tcp_ack_snd_check), else
 * after the delayed-ACK timer. */
static void linux_ack(struct tcp_conn *c, const struct tcp_env *env, sim_time now)
{
	if (c->quickack || c->rcv_nxt - c->acked_to > env->p->mss) {
		c->quickack -= c->quickack > 0;
		emit(c, env, c->snd_nxt, TCP_ACK, NULL, 0, false);
	} else if (c->ack_at == SIM_TIME_NEVER) {
		c->ack_at = now + (env->p->delayed_ack ? env->p->delayed_ack : TCP_LINUX_DELACK_MIN);
	}
}

void tcp_conn_recv(struct tcp_conn *c, const struct tcp_env *env, sim_time now,
		   const uint8_t *seg, size_t len)
{
	if (len < TCP_HDR)
		return;
	size_t hl = (size_t)(seg[12] >> 4) * 4;
	if (hl < TCP_HDR || hl > len)
		return;
	uint16_t sport = (uint16_t)get16(seg), dport = (uint16_t)get16(seg + 2);
	uint32_t seq = get32(seg + 4), ack = get32(seg + 8);
	uint8_t flags = seg[13];
	const uint8_t *data = seg + hl;
	uint32_t n = (uint32_t)(len - hl);

	if (dport != c->lport || (c->state != TCP_LISTEN && sport != c->rport))
		return;
	if (flags & TCP_RST) {
		if (c->state != TCP_CLOSED && c->state != TCP_LISTEN)
			closed(c, env, TCP_EV_RESET, now);
		return;
	}
	uint32_t mss_opt = 0;
	if ((flags & TCP_SYN) && hl >= TCP_SYN_HDR && seg[20] == 2 && seg[21] == 4)
		mss_opt = get16(seg + 22);

	switch (c->state) {
	case TCP_CLOSED:
		return;
	case TCP_LISTEN:
		if ((flags & (TCP_SYN | TCP_ACK)) != TCP_SYN)
			return;
		c->rport = sport;
		c->rcv_nxt = seq + 1;
		c->peer_mss = mss_opt ? mss_opt : 536;
		c->peer_wnd = get16(seg + 14);
		c->state = TCP_SYN_RCVD;
		c->timing = 1;
		c->timed_seq = c->iss + 1;
		c->timed_at = now;
		emit(c, env, c->iss, TCP_SYN | TCP_ACK, NULL, 0, false);
		c->snd_nxt = c->snd_max = c->iss + 1;
		c->rto_at = now + c->rto;
		return;
	case TCP_SYN_SENT:
		if ((flags & (TCP_SYN | TCP_ACK)) != (TCP_SYN | TCP_ACK) || ack != c->iss + 1)
			return;
		c->rcv_nxt = seq + 1;
		c->peer_mss = mss_opt ? mss_opt : 536;
		c->peer_wnd = get16(seg + 14);
		establish(c, env, now); /* the application may send at once */
		push(c, env, now);
		if (c->acked_to != c->rcv_nxt) /* else a data segment carried the ACK */
			emit(c, env, c->snd_nxt, TCP_ACK, NULL, 0, false);
		return;
	case TCP_SYN_RCVD:
		if ((flags & TCP_SYN) && !(flags & TCP_ACK)) {
			/* our SYN-ACK was lost: the peer tries again */
			emit(c, env, c->iss, TCP_SYN | TCP_ACK, NULL, 0, true);
			return;
		}
		if (!(flags & TCP_ACK) || ack != c->iss + 1)
			return;
		establish(c, env, now);
		break; /* the ACK may carry data */
	default:
		break;
	}

	if (flags & TCP_SYN) {
		/* a retransmitted SYN-ACK: our ACK was lost */
		emit(c, env, c->snd_nxt, TCP_ACK, NULL, 0, false);
		return;
	}
	if (flags & TCP_ACK) {
		c->peer_wnd = get16(seg + 14);
		if (seq_lt(c->snd_una, ack) && seq_leq(ack, c->snd_max))
			new_ack(c, env, now, ack);
		else if (ack == c->snd_una && !n && !(flags & TCP_FIN) && in_flight(c))
			dup_ack(c, env);
	}
	if (n) {
		if (seq == c->rcv_nxt) {
			c->rcv_nxt += n;
			env->cb->data(env->ud, c, data, n);
			if (c->state == TCP_CLOSED)
				return; /* the application aborted */
			/* RFC 1122 §4.2.3.2: delay at most one full segment; an
			 * answer the application already sent carried the ACK. */
			if (c->acked_to == c->rcv_nxt)
				;
			else if (env->p->profile == TCP_PROFILE_LINUX)
				linux_ack(c, env, now);
			else if (!env->p->delayed_ack || ++c->ack_pending >= 2)
				emit(c, env, c->snd_nxt, TCP_ACK, NULL, 0, false);
			else if (c->ack_at == SIM_TIME_NEVER)
				c->ack_at = now + env->p->delayed_ack;
		} else {
			/* out of order or repeated: a duplicate ACK, at once */
			emit(c, env, c->snd_nxt, TCP_ACK, NULL, 0, false);
		}
	}
	/* A FIN counts once every byte before it has arrived. */
	if ((flags & TCP_FIN) && seq + n == c->rcv_nxt) {
		c->rcv_nxt++;
		emit(c, env, c->snd_nxt, TCP_ACK, NULL, 0, false);
		if (c->state == TCP_FIN_WAIT && c->fin_acked) {
			closed(c, env, TCP_EV_CLOSED, now);
			return;
		}
		/* the peer closed: close our side too */
		c->fin_queued = 1;
		c->state = TCP_CLOSING;
	}
	if (c->fin_out && seq_lt(c->fin_seq, c->snd_una)) {
		c->fin_acked = 1;
		if (c->state == TCP_CLOSING) {
			closed(c, env, TCP_EV_CLOSED, now);
			return;
		}
	}
	push(c, env, now);
}

void tcp_conn_close(struct tcp_conn *c, const struct tcp_env *env, sim_time now)
{
	if (c->state == TCP_ESTABLISHED) {
		c->fin_queued = 1;
		c->state = TCP_FIN_WAIT;
		push(c, env, now);
	} else if (c->state != TCP_CLOSED) {
		closed(c, env, TCP_EV_CLOSED, now);
	}
}

void tcp_conn_abort(struct tcp_conn *c, const struct tcp_env *env, sim_time now)
{
	if (c->state != TCP_CLOSED && c->state != TCP_LISTEN)
		emit(c, env, c->snd_nxt, TCP_RST | TCP_ACK, NULL, 0, false);
	closed(c, env, TCP_EV_CLOSED, now);
}

sim_time tcp_conn_expiry(const struct tcp_conn *c)
{
	return c->rto_at < c->ack_at ? c->rto_at : c->ack_at;
}

void tcp_conn_expire(struct tcp_conn *c, const struct tcp_env *env, sim_time now)
{
	const struct tcp_params *p = env->p;

	if (c->ack_at <= now)
		emit(c, env, c->snd_nxt, TCP_ACK, NULL, 0, false);
	if (c->rto_at > now)
		return;
	uint32_t limit = c->state == TCP_SYN_SENT || c->state == TCP_SYN_RCVD
				 ? p->syn_retries : p->data_retries;
	if (++c->retries > limit) {
		closed(c, env, TCP_EV_FAILED, now);
		return;
	}
	/* RFC 6298 §5.5-5.6: back off, retransmit the earliest segment */
	c->rto = c->rto * 2 > p->rto_max ? p->rto_max : c->rto * 2;
	c->timing = 0; /* Karn: no sample from what is retransmitted */
	c->rto_at = now + c->rto;
	if (c->state == TCP_SYN_SENT) {
		emit(c, env, c->iss, TCP_SYN, NULL, 0, true);
		return;
	}
	if (c->state == TCP_SYN_RCVD) {
		emit(c, env, c->iss, TCP_SYN | TCP_ACK, NULL, 0, true);
		return;
	}
	/* RFC 5681 §3.1: after a timeout, one segment, slow start again */
	c->ssthresh = max32(in_flight(c) / 2, 2 * p->mss);
	c->cwnd = p->mss;
	c->in_recovery = 0;
	c->dupacks = 0;
	c->snd_nxt = c->snd_una; /* go back: the receiver kept nothing after the hole */
	c->rto_at = SIM_TIME_NEVER;
	push(c, env, now);
	if (c->rto_at == SIM_TIME_NEVER)
		c->rto_at = now + c->rto;
}
