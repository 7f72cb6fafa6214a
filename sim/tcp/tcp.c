/* The TCP model, sans-I/O (see tcp.h for what it models).  Knows no
 * clock, engine, channel or MQTT. */
#include "tcp.h"

#include <stdlib.h>
#include <string.h>

#define CLOCK_G SIM_MS(1) /* RFC 6298 clock granularity */
#define OOO_RING 65536u   /* covers the whole advertised window */

/* A receiver's out-of-order data (linux profile, SACK): byte s is kept at
 * ring[s % OOO_RING]; the ranges are disjoint, the most recently extended
 * first, as RFC 2018 §4 orders the blocks an ACK reports. */
struct tcp_ooo {
	uint8_t n;
	uint32_t lo[TCP_SACK_RANGES], hi[TCP_SACK_RANGES];
	uint8_t ring[OOO_RING];
};

/* Options of a received segment. */
struct tcp_opts {
	uint32_t mss, tsval, tsecr;
	uint8_t sack_perm, ts, ws, ws_shift, nsack;
	uint32_t slo[4], shi[4];
};

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

static bool linux_of(const struct tcp_env *env) { return env->p->profile == TCP_PROFILE_LINUX; }

/* When a timer armed at now for delay fires.  linux: Linux counts in
 * jiffies (CONFIG_HZ=250 as Debian builds it: 4 ms), rounds a delay up to
 * whole jiffies, and its timer wheel (kernel/time/timer.c, calc_index)
 * fires a timer at the first boundary of its level's granularity after
 * the expiry: 1 jiffy for up to 63 jiffies ahead, 8 up to 503, 64 up to
 * 4,031, 512 up to 32,255, 4,096 beyond.  So a 40 ms delayed ACK fires
 * 40-44 ms later, a 1.6 s RTO up to 36 ms late, a 25.6 s one up to 2 s
 * late; the real backoff chains land on that grid.  rfc6298: on time. */
static sim_time timer_at(const struct tcp_env *env, sim_time now, sim_time delay)
{
	if (!linux_of(env))
		return now + delay;
	const sim_time jiffy = SIM_MS(4);
	uint64_t d = (delay + jiffy - 1) / jiffy, x = now / jiffy + d;
	unsigned shift = d < 63 ? 0 : d < 504 ? 3 : d < 4032 ? 6 : d < 32256 ? 9 : 12;
	return (sim_time)(((x >> shift) + 1) << shift) * jiffy;
}

/* RFC 7323's clock: milliseconds, from a random offset per connection. */
static uint32_t ts_now(const struct tcp_conn *c, sim_time now)
{
	return (uint32_t)(now / SIM_MS(1)) + c->ts_off;
}

/* Options we understand; a malformed list ends the parse (what was read
 * stays). */
static void parse_opts(const uint8_t *o, size_t n, struct tcp_opts *op)
{
	*op = (struct tcp_opts){0};
	for (size_t i = 0; i < n;) {
		uint8_t kind = o[i];
		if (kind == 0)
			break;
		if (kind == 1) {
			i++;
			continue;
		}
		if (i + 1 >= n || o[i + 1] < 2 || i + o[i + 1] > n)
			break;
		uint8_t l = o[i + 1];
		const uint8_t *v = o + i + 2;
		if (kind == 2 && l == 4) {
			op->mss = get16(v);
		} else if (kind == 3 && l == 3) {
			op->ws = 1;
			op->ws_shift = v[0] > 14 ? 14 : v[0]; /* RFC 7323 §2.3 */
		} else if (kind == 4 && l == 2) {
			op->sack_perm = 1;
		} else if (kind == 5 && l >= 10 && (l - 2) % 8 == 0) {
			for (size_t k = 0; k < (size_t)(l - 2) / 8 && op->nsack < 4; k++, op->nsack++) {
				op->slo[op->nsack] = get32(v + 8 * k);
				op->shi[op->nsack] = get32(v + 8 * k + 4);
			}
		} else if (kind == 8 && l == 10) {
			op->ts = 1;
			op->tsval = get32(v);
			op->tsecr = get32(v + 4);
		}
		i += l;
	}
}

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
	c->rack_at = c->tlp_at = SIM_TIME_NEVER;
	c->min_rtt = SIM_TIME_NEVER;
	if (p->profile == TCP_PROFILE_LINUX) {
		c->cwnd = TCP_LINUX_INIT_CWND * p->mss; /* RFC 6928, Linux's TCP_INIT_CWND */
		c->pk_cwnd = TCP_LINUX_INIT_CWND;
		c->pk_ssthresh = 0x7fffffff;
		c->ts_off = (uint32_t)sim_rng_u64(rng);
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

/* The options after the fixed header; returns their length.  A SYN
 * carries MSS and, in the linux profile, Linux's layout: SACK permitted
 * and timestamps, NOP and window scale (shift 0: our windows are not
 * scaled); a SYN-ACK only what the peer offered.  Later segments carry
 * timestamps and, on ACKs while data is held out of order, SACK blocks. */
static size_t put_opts(const struct tcp_conn *c, const struct tcp_env *env, sim_time now,
		       uint8_t flags, uint8_t *o)
{
	size_t k = 0;
	bool lx = linux_of(env);
	if (flags & TCP_SYN) {
		o[k++] = 2, o[k++] = 4;
		put16(o + k, env->p->mss);
		k += 2;
		if (!lx)
			return k;
		bool ack = flags & TCP_ACK, sack = !ack || c->sack_ok, ts = !ack || c->ts_ok;
		if (ts) {
			o[k++] = sack ? 4 : 1, o[k++] = sack ? 2 : 1;
			o[k++] = 8, o[k++] = 10;
			put32(o + k, ts_now(c, now));
			put32(o + k + 4, ack ? c->ts_recent : 0);
			k += 8;
		} else if (sack) {
			o[k++] = 1, o[k++] = 1, o[k++] = 4, o[k++] = 2;
		}
		if (!ack || c->ws_ok)
			o[k++] = 1, o[k++] = 3, o[k++] = 3, o[k++] = 0;
		return k;
	}
	if (c->ts_ok) {
		o[k++] = 1, o[k++] = 1, o[k++] = 8, o[k++] = 10;
		put32(o + k, ts_now(c, now));
		put32(o + k + 4, c->ts_recent);
		k += 8;
	}
	if (c->ooo && c->ooo->n && (flags & TCP_ACK) && !(flags & TCP_RST)) {
		uint32_t nb = c->ooo->n < (c->ts_ok ? TCP_SACK_BLOCKS : 4)
				      ? c->ooo->n : (c->ts_ok ? TCP_SACK_BLOCKS : 4);
		o[k++] = 1, o[k++] = 1, o[k++] = 5, o[k++] = (uint8_t)(2 + 8 * nb);
		for (uint32_t b = 0; b < nb; b++, k += 8) {
			put32(o + k, c->ooo->lo[b]);
			put32(o + k + 4, c->ooo->hi[b]);
		}
	}
	return k;
}

static void seg_sent(struct tcp_conn *c, uint32_t s, uint32_t n, sim_time now);

/* One segment: header, options and payload. */
static void emit(struct tcp_conn *c, const struct tcp_env *env, sim_time now, uint32_t seq,
		 uint8_t flags, const uint8_t *data, uint32_t n, bool retx)
{
	uint8_t seg[60 + 65536];
	size_t hl = TCP_HDR + put_opts(c, env, now, flags, seg + TCP_HDR);

	put16(seg, c->lport);
	put16(seg + 2, c->rport);
	put32(seg + 4, seq);
	put32(seg + 8, flags & TCP_ACK ? c->rcv_nxt : 0);
	seg[12] = (uint8_t)(hl / 4) << 4;
	seg[13] = flags;
	put16(seg + 14, env->p->rcv_wnd);
	put16(seg + 16, 0); /* checksum: the capture writer fills it */
	put16(seg + 18, 0);
	if (n)
		memcpy(seg + hl, data, n);
	struct tcp_seg_info info = {
		.data_off = n ? c->stream0 + (seq - c->snd_una) : 0,
		.data_len = n, .retx = retx, .flags = flags,
	};
	c->st.segments++;
	c->st.bytes += hl + n;
	if (n && linux_of(env)) {
		seg_sent(c, seq, n, now);
		if (c->prr_on)
			c->prr_out++;
	}
	if (n) {
		c->tx_lo[c->tx_next] = seq;
		c->tx_hi[c->tx_next] = seq + n;
		c->tx_at[c->tx_next] = now;
		c->tx_next = (uint8_t)((c->tx_next + 1) % TCP_TX_SEEN);
		c->st.data_segments++;
		if (retx)
			c->st.retx_segments++;
	} else if (flags == TCP_ACK) {
		c->st.pure_acks++;
	}
	if (flags & TCP_ACK) {
		if (c->acked_to != c->rcv_nxt && c->quickack && !--c->quickack)
			c->ato = TCP_LINUX_DELACK_MIN; /* leaving quick ACKs deflates it */
		c->ack_pending = 0;
		c->pushed = 0;
		c->ack_at = SIM_TIME_NEVER;
		c->acked_to = c->rcv_nxt;
	}
	/* An answer within the delayed-ACK timeout of the last data in:
	 * interactive (tcp_event_data_sent; Linux 6.x's threshold is 1). */
	if (n && c->ato && now - c->lrcvtime < c->ato)
		c->pingpong = 1;
	env->cb->send(env->ud, c, seg, hl + n, &info);
}

static uint32_t in_flight(const struct tcp_conn *c) { return c->snd_nxt - c->snd_una; }

void tcp_conn_free(struct tcp_conn *c)
{
	free(c->ooo);
	c->ooo = NULL;
}

/* ---- the sender's SACK scoreboard (linux profile) ---- */

/* Bytes of the scoreboard's ranges inside [a, b). */
static uint32_t sacked_in(const struct tcp_conn *c, uint32_t a, uint32_t b)
{
	uint32_t k = 0;
	for (uint32_t i = 0; i < c->n_sacked; i++) {
		uint32_t lo = seq_lt(c->sack_lo[i], a) ? a : c->sack_lo[i];
		uint32_t hi = seq_lt(b, c->sack_hi[i]) ? b : c->sack_hi[i];
		if (seq_lt(lo, hi))
			k += hi - lo;
	}
	return k;
}

static uint32_t high_sacked(const struct tcp_conn *c)
{
	return c->n_sacked ? c->sack_hi[c->n_sacked - 1] : c->snd_una;
}

/* RFC 6675's pipe: what is in flight, less what was SACKed and, in
 * recovery, the holes below the highest SACK not yet sent again. */
static uint32_t pipe(const struct tcp_conn *c)
{
	uint32_t fl = in_flight(c);
	if (!c->n_sacked)
		return fl;
	fl -= sacked_in(c, c->snd_una, c->snd_nxt);
	if (c->in_recovery) {
		uint32_t from = seq_lt(c->high_rxt, c->snd_una) ? c->snd_una : c->high_rxt;
		uint32_t hs = high_sacked(c);
		if (seq_lt(from, hs) && seq_leq(hs, c->snd_nxt)) {
			uint32_t lost = hs - from - sacked_in(c, from, hs);
			fl = fl > lost ? fl - lost : 0;
		}
	}
	return fl;
}

/* ---- linux: the congestion window in packets ----
 *
 * Linux counts snd_cwnd, ssthresh and what is in flight in packets
 * (tcp_packets_in_flight), not bytes.  It matters for small messages:
 * after a timeout one packet may be out, about two while an
 * application-limited flow recovers, however small they are; a byte
 * window of 1,460 would let 47 PUBLISHes of 31 bytes go (make validate's
 * captures and `ss -tin` in the namespaces: the real ends hold 10% of the
 * PUBLISHes and 13-14% of the PUBACKs behind it even with TCP_NODELAY). */

static uint32_t seg_end(const struct tcp_conn *c, uint32_t i)
{
	return i + 1 < c->n_seg ? c->seg[i + 1] : c->snd_max;
}

/* Segments meeting [a, b), less those wholly SACKed when skip_sacked. */
static uint32_t segs_in(const struct tcp_conn *c, uint32_t a, uint32_t b, bool skip_sacked)
{
	uint32_t k = 0;
	for (uint32_t i = 0; i < c->n_seg; i++) {
		uint32_t lo = c->seg[i], hi = seg_end(c, i);
		if (!seq_lt(lo, hi) || !seq_lt(lo, b) || !seq_lt(a, hi))
			continue;
		if (skip_sacked && sacked_in(c, lo, hi) == hi - lo)
			continue;
		k++;
	}
	return k;
}

/* RFC 6675's pipe in packets (tcp_packets_in_flight). */
static uint32_t pk_pipe(const struct tcp_conn *c)
{
	uint32_t fl = segs_in(c, c->snd_una, c->snd_nxt, true);
	if (c->in_recovery && c->n_sacked) {
		uint32_t from = seq_lt(c->high_rxt, c->snd_una) ? c->snd_una : c->high_rxt;
		uint32_t hs = high_sacked(c);
		if (seq_lt(from, hs) && seq_leq(hs, c->snd_nxt)) {
			uint32_t lost = segs_in(c, from, hs, true);
			fl = fl > lost ? fl - lost : 0;
		}
	}
	return fl;
}

/* Segments wholly delivered: below ack, or SACKed. */
static uint32_t segs_delivered(const struct tcp_conn *c, uint32_t ack)
{
	uint32_t k = 0;
	for (uint32_t i = 0; i < c->n_seg; i++) {
		uint32_t lo = c->seg[i], hi = seg_end(c, i);
		if (seq_lt(lo, hi) && (seq_leq(hi, ack) || sacked_in(c, lo, hi) == hi - lo))
			k++;
	}
	return k;
}

static uint32_t us_of(sim_time t)
{
	return (uint32_t)(t / SIM_US(1)) & ~1u;
}

/* A data segment [s, s + n) went out at now: new data starts a segment;
 * a resend over several makes them one (Linux collapses them), marked as
 * sent again. */
static void seg_sent(struct tcp_conn *c, uint32_t s, uint32_t n, sim_time now)
{
	uint32_t e = s + n, k = 0;
	bool resend = seq_lt(s, c->snd_max);
	for (uint32_t i = 0; i < c->n_seg; i++) {
		if (seq_lt(s, c->seg[i]) && seq_lt(c->seg[i], e))
			continue;
		c->seg_us[k] = c->seg_us[i];
		c->seg[k++] = c->seg[i];
	}
	c->n_seg = (uint8_t)k;
	if (resend) {
		for (uint32_t i = c->n_seg; i-- > 0;)
			if (seq_leq(c->seg[i], s)) { /* the one it starts in */
				c->seg_us[i] |= 1;
				break;
			}
	} else if (c->n_seg < TCP_SEGS) {
		c->seg_us[c->n_seg] = us_of(now);
		c->seg[c->n_seg++] = s;
	}
}

/* What a cumulative ACK's segments say of the round trip, as Linux's
 * tcp_clean_rtx_queue reads them: from the oldest and the newest
 * segment acknowledged, unless one of them was sent again (Karn). */
struct seg_rtt {
	uint32_t first_us, last_us;
	bool any, resent;
	bool split; /* the ACK ends inside a segment (it is trimmed) */
};

/* The cumulative ACK moved to ack: the segments it covers go.  Returns
 * how many. */
static uint32_t seg_acked(struct tcp_conn *c, uint32_t ack, struct seg_rtt *rt)
{
	uint32_t k = 0, gone = 0;
	for (uint32_t i = 0; i < c->n_seg; i++) {
		uint32_t hi = seg_end(c, i);
		if (seq_leq(hi, ack) && seq_lt(c->seg[i], hi)) {
			if (c->seg_us[i] & 1) {
				rt->resent = true;
			} else if (sacked_in(c, c->seg[i], hi) != hi - c->seg[i]) {
				/* (one SACKed before told its time then) */
				if (!rt->any)
					rt->first_us = c->seg_us[i];
				rt->last_us = c->seg_us[i];
				rt->any = true;
			}
			gone++;
			continue;
		}
		if (seq_lt(c->seg[i], ack) && seq_lt(ack, hi))
			rt->split = true;
		c->seg_us[k] = c->seg_us[i];
		c->seg[k++] = seq_lt(c->seg[i], ack) ? ack : c->seg[i];
	}
	c->n_seg = (uint8_t)k;
	return gone;
}

/* Linux's tcp_cwnd_validate, after sending: whether the window held data
 * back, and the most packets out, over a round trip (cwnd_usage_seq). */
static void pk_validate(struct tcp_conn *c, bool limited)
{
	uint32_t out = segs_in(c, c->snd_una, c->snd_max, false);
	if (!seq_lt(c->snd_una, c->pk_usage_seq) || limited ||
	    (!c->pk_limited && out > c->pk_max_out)) {
		c->pk_limited = limited;
		c->pk_max_out = out;
		c->pk_usage_seq = c->snd_nxt;
	}
}

/* tcp_is_cwnd_limited: an application-limited flow's window does not
 * grow past twice what it used. */
static bool pk_may_grow(const struct tcp_conn *c)
{
	if (c->pk_cwnd < c->pk_ssthresh)
		return c->pk_cwnd < 2 * c->pk_max_out;
	return c->pk_limited;
}

/* CUBIC's multiplicative decrease (beta 717/1024), at least 2 packets. */
static uint32_t pk_ssthresh_of(const struct tcp_conn *c)
{
	uint32_t t = (uint32_t)((uint64_t)c->pk_cwnd * 717 / 1024);
	return t < 2 ? 2 : t;
}

/* Linux's tcp_cwnd_reduction (PRR, RFC 6937), on an ACK in recovery that
 * delivered `newly` packets: the window becomes what is in flight plus
 * what PRR lets go; at least one packet at the start of recovery. */
static void pk_prr(struct tcp_conn *c, uint32_t newly, bool una_advanced)
{
	if (!c->prr_on || !newly || !c->prr_prior)
		return;
	uint32_t infl = pk_pipe(c);
	int64_t delta = (int64_t)c->pk_ssthresh - infl, sndcnt;
	c->prr_delivered += newly;
	if (delta < 0) {
		uint64_t d = (uint64_t)c->pk_ssthresh * c->prr_delivered + c->prr_prior - 1;
		sndcnt = (int64_t)(d / c->prr_prior) - c->prr_out;
	} else if (una_advanced) {
		int64_t m = (int64_t)c->prr_delivered - c->prr_out;
		sndcnt = (m > (int64_t)newly ? m : (int64_t)newly) + 1;
		if (sndcnt > delta)
			sndcnt = delta;
	} else {
		sndcnt = (int64_t)newly < delta ? (int64_t)newly : delta;
	}
	if (sndcnt < (c->prr_out ? 0 : 1))
		sndcnt = c->prr_out ? 0 : 1;
	c->pk_cwnd = infl + (uint32_t)sndcnt;
}

/* Add a block [lo, hi); returns whether it told something new. */
static bool sb_add(struct tcp_conn *c, uint32_t lo, uint32_t hi)
{
	if (!seq_lt(c->snd_una, hi) || !seq_lt(lo, hi) || seq_lt(c->snd_max, hi))
		return false;
	if (seq_lt(lo, c->snd_una))
		lo = c->snd_una;
	if (sacked_in(c, lo, hi) == hi - lo)
		return false;
	uint32_t i = 0, n = c->n_sacked;
	while (i < n && seq_lt(c->sack_hi[i], lo))
		i++;
	/* ranges i.. that touch [lo, hi) merge into it */
	uint32_t j = i;
	while (j < n && seq_leq(c->sack_lo[j], hi)) {
		if (seq_lt(c->sack_lo[j], lo))
			lo = c->sack_lo[j];
		if (seq_lt(hi, c->sack_hi[j]))
			hi = c->sack_hi[j];
		j++;
	}
	if (j == i && n == TCP_SACK_RANGES) {
		if (i == n)
			return false; /* full: the highest block is left out */
		n--;          /* full: drop the highest range to keep order */
	}
	memmove(c->sack_lo + i + 1, c->sack_lo + j, (n - j) * sizeof(uint32_t));
	memmove(c->sack_hi + i + 1, c->sack_hi + j, (n - j) * sizeof(uint32_t));
	c->sack_lo[i] = lo;
	c->sack_hi[i] = hi;
	c->n_sacked = (uint8_t)(n - (j - i) + 1);
	return true;
}

/* Forget what the cumulative ACK now covers. */
static void sb_trim(struct tcp_conn *c)
{
	uint32_t k = 0;
	for (uint32_t i = 0; i < c->n_sacked; i++) {
		if (seq_leq(c->sack_hi[i], c->snd_una))
			continue;
		c->sack_lo[k] = seq_lt(c->sack_lo[i], c->snd_una) ? c->snd_una : c->sack_lo[i];
		c->sack_hi[k++] = c->sack_hi[i];
	}
	c->n_sacked = (uint8_t)k;
}

/* The first byte at or after s that is not SACKed; *end: where the next
 * SACKed range begins (or 0xffffffff past snd_una + 2^31). */
static uint32_t unsacked_from(const struct tcp_conn *c, uint32_t s, uint32_t *end)
{
	for (uint32_t i = 0; i < c->n_sacked; i++) {
		if (seq_lt(s, c->sack_lo[i])) {
			*end = c->sack_lo[i];
			return s;
		}
		if (seq_lt(s, c->sack_hi[i]))
			s = c->sack_hi[i];
	}
	*end = s + 0x7fffffff;
	return s;
}

/* When byte s was last sent (0: not among the segments kept). */
static sim_time sent_at(const struct tcp_conn *c, uint32_t s)
{
	sim_time t = 0;
	for (int k = 0; k < TCP_TX_SEEN; k++)
		if (c->tx_at[k] > t && seq_leq(c->tx_lo[k], s) && seq_lt(s, c->tx_hi[k]))
			t = c->tx_at[k];
	return t;
}

/* RACK's reordering window (RFC 8985 §6.2, Linux tcp_rack_reo_wnd): a
 * quarter of the minimum RTT, at most SRTT. */
static sim_time reo_wnd(const struct tcp_conn *c)
{
	if (!c->have_rtt)
		return 0;
	return c->min_rtt / 4 < c->srtt ? c->min_rtt / 4 : c->srtt;
}

static void push(struct tcp_conn *c, const struct tcp_env *env, sim_time now);

/* In SACK recovery: send the holes below the highest SACK again while the
 * pipe has room, then new data (RFC 6675 §5 NextSeg rules 1 and 2). */
static void sack_xmit(struct tcp_conn *c, const struct tcp_env *env, sim_time now)
{
	uint32_t mss = min32(env->p->mss, c->peer_mss), hs = high_sacked(c);
	while (linux_of(env) ? pk_pipe(c) < c->pk_cwnd : pipe(c) < c->cwnd) {
		uint32_t end, s = seq_lt(c->high_rxt, c->snd_una) ? c->snd_una : c->high_rxt;
		s = unsacked_from(c, s, &end);
		if (!seq_lt(s, hs))
			break;
		uint32_t off = s - c->snd_una;
		if (off >= c->len)
			break;
		uint32_t n = min32(min32(mss, end - s), c->len - off);
		emit(c, env, now, s, TCP_ACK | TCP_PSH, c->buf + off, n, true);
		/* the head sent again restarts the RTO (Linux's
		 * tcp_xmit_retransmit_queue): its ACK is a round trip away */
		if (s == c->snd_una)
			c->rto_at = timer_at(env, now, c->rto);
		c->high_rxt = s + n;
		c->rxt_at = now;
		c->rxt_high = c->snd_max;
	}
	if (c->rto_at == SIM_TIME_NEVER)
		c->rto_at = timer_at(env, now, c->rto);
	push(c, env, now);
}

static void sack_recovery(struct tcp_conn *c, const struct tcp_env *env, sim_time now)
{
	uint32_t mss = env->p->mss;
	c->ssthresh = max32(pipe(c) / 2, 2 * mss);
	c->cwnd = c->ssthresh;
	c->recover = c->snd_max;
	c->in_recovery = 1;
	if (linux_of(env) && !c->in_loss) {
		/* tcp_init_cwnd_reduction: PRR from the window before */
		c->prr_prior = c->pk_cwnd;
		c->pk_ssthresh = pk_ssthresh_of(c);
		c->prr_delivered = c->prr_out = 0;
		c->prr_on = 1;
		pk_prr(c, c->pk_newly ? c->pk_newly : 1, false);
		c->pk_newly = 0;
	}
	c->high_rxt = c->snd_una;
	c->timing = 0;
	c->rack_at = c->tlp_at = SIM_TIME_NEVER;
	sack_xmit(c, env, now);
}

/* Linux keeps one transmit timer (icsk_pending): while the tail loss
 * probe is armed it is the probe's, and there is no RTO beside it (here:
 * tlp_at set, rto_at never); what the RTO becomes is decided when the
 * probe's timer fires or is rearmed.  The helpers below are Linux's
 * tcp_rearm_rto, tcp_schedule_loss_probe and tcp_send_loss_probe. */

/* How long until the head segment's RTO, counted from when it was last
 * sent (tcp_rto_delta_us): not positive once that time has passed.  A
 * head no longer among the send times kept counts from now. */
static int64_t head_rto_left(const struct tcp_conn *c, sim_time now)
{
	sim_time t = sent_at(c, c->snd_una);
	return (int64_t)(t ? t : now) + (int64_t)c->rto - (int64_t)now;
}

/* tcp_rearm_rto: the RTO, a full one from now, or, when it replaces an
 * armed probe, from when the head was sent (at least a jiffy on). */
static void lx_rearm_rto(struct tcp_conn *c, const struct tcp_env *env, sim_time now)
{
	sim_time d = c->rto;
	if (c->tlp_at != SIM_TIME_NEVER) {
		int64_t left = head_rto_left(c, now);
		d = left > 0 ? (sim_time)left : 1;
	}
	c->tlp_at = SIM_TIME_NEVER;
	c->rto_at = in_flight(c) ? timer_at(env, now, d) : SIM_TIME_NEVER;
}

/* tcp_schedule_loss_probe: in the open state (no recovery, nothing
 * SACKed) with data in flight, the probe timeout is 2 SRTT plus the 200 ms
 * a lone segment's delayed ACK may take (2 ms with more out), cut to when
 * the RTO would fire if that is sooner: a full RTO from now after an ACK
 * (advancing), else the head's RTO, and only while that is still ahead:
 * new data sent after the head's RTO time has passed (the timer had been
 * armed later, by an ACK) gets the whole probe timeout.  Whether a probe
 * is already out is not asked here but when the timer fires.  Returns
 * whether the probe's timer is armed (it replaces the RTO). */
static bool tlp_schedule(struct tcp_conn *c, const struct tcp_env *env, sim_time now,
			 bool advancing)
{
	if (!linux_of(env) || !c->sack_ok || c->in_recovery || c->in_loss || c->n_sacked ||
	    !in_flight(c) || !c->have_rtt || c->state != TCP_ESTABLISHED)
		return false;
	sim_time pto = 2 * c->srtt + (c->snd_una == c->last_seg ? TCP_LINUX_RTO_MIN : SIM_MS(2));
	int64_t cap = advancing ? (int64_t)c->rto : head_rto_left(c, now);
	if (cap > 0 && (sim_time)cap < pto)
		pto = (sim_time)cap;
	c->tlp_at = timer_at(env, now, pto);
	c->rto_at = SIM_TIME_NEVER;
	return true;
}

/* The probe's timer fires (tcp_send_loss_probe): with a probe already
 * out, or nothing to send, the RTO takes the timer back, counted from
 * the head's send time.  Else one new segment if the windows allow
 * (Nagle or not), else the last segment again; then a full RTO from now. */
static void tlp_fire(struct tcp_conn *c, const struct tcp_env *env, sim_time now)
{
	if (c->tlp_out) {
		lx_rearm_rto(c, env, now);
		return;
	}
	uint32_t off = c->snd_nxt - c->snd_una, mss = min32(env->p->mss, c->peer_mss);
	/* (the probe is not held by the congestion window: tcp_write_xmit's
	 * push_one) */
	if (off < c->len && in_flight(c) < c->peer_wnd) {
		uint32_t n = min32(mss, c->len - off);
		emit(c, env, now, c->snd_nxt, TCP_ACK | TCP_PSH, c->buf + off, n, false);
		c->last_seg = c->snd_nxt;
		c->snd_nxt += n;
		if (seq_lt(c->snd_max, c->snd_nxt))
			c->snd_max = c->snd_nxt;
	} else {
		uint32_t from = seq_lt(c->last_seg, c->snd_una) ? c->snd_una : c->last_seg;
		uint32_t n = min32(min32(mss, c->snd_nxt - from), c->len - (from - c->snd_una));
		if (!n || from - c->snd_una >= c->len) {
			lx_rearm_rto(c, env, now);
			return;
		}
		emit(c, env, now, from, TCP_ACK | TCP_PSH, c->buf + (from - c->snd_una), n, true);
	}
	c->tlp_out = 1;
	c->tlp_high = c->snd_nxt;
	c->tlp_at = SIM_TIME_NEVER;
	c->rto_at = timer_at(env, now, c->rto);
}

/* ---- sending ---- */

/* Send what the windows allow: new or gone-back-to bytes, then the FIN.
 * Going back after a timeout skips what the peer SACKed. */
static void push(struct tcp_conn *c, const struct tcp_env *env, sim_time now)
{
	if (c->state != TCP_ESTABLISHED && c->state != TCP_FIN_WAIT &&
	    c->state != TCP_CLOSING)
		return;
	bool sent = false, sent_new = false, held = false, lx = linux_of(env);
	uint32_t prior_out = in_flight(c);
	for (;;) {
		uint32_t end = c->snd_nxt + 0x7fffffff;
		if (c->n_sacked && seq_lt(c->snd_nxt, c->snd_max)) {
			c->snd_nxt = unsacked_from(c, c->snd_nxt, &end);
			if (seq_lt(c->snd_max, c->snd_nxt))
				c->snd_nxt = c->snd_max;
		}
		uint32_t off = c->snd_nxt - c->snd_una;
		uint32_t wnd = lx ? c->peer_wnd : min32(c->cwnd, c->peer_wnd), fl = pipe(c);
		if (off < c->len) {
			if (fl >= wnd)
				break;
			if (lx && pk_pipe(c) >= c->pk_cwnd) {
				held = true;
				break;
			}
			uint32_t full = min32(env->p->mss, c->peer_mss);
			uint32_t n = min32(full, c->len - off);
			n = min32(n, wnd - fl);
			n = min32(n, end - c->snd_nxt);
			bool retx = seq_lt(c->snd_nxt, c->snd_max);
			/* Linux resends what it sent (the retransmit queue's
			 * segments), never new bytes with them */
			if (lx && retx)
				n = min32(n, c->snd_max - c->snd_nxt);
			/* Nagle (linux): the last queued bytes, less than a
			 * segment, wait while a small segment is unacknowledged. */
			bool small = n < full && n == c->len - off;
			if (linux_of(env) && small && !retx && !c->nodelay &&
			    seq_lt(c->snd_una, c->snd_sml))
				break;
			if (small && !retx)
				c->snd_sml = c->snd_nxt + n;
			if (!c->timing && !retx) {
				c->timing = 1;
				c->timed_seq = c->snd_nxt + n;
				c->timed_at = now;
			}
			emit(c, env, now, c->snd_nxt, TCP_ACK | TCP_PSH, c->buf + off, n, retx);
			if (!retx)
				c->last_seg = c->snd_nxt;
			c->snd_nxt += n;
		} else if (c->fin_queued && off == c->len) {
			bool retx = seq_lt(c->snd_nxt, c->snd_max);
			emit(c, env, now, c->snd_nxt, TCP_FIN | TCP_ACK, NULL, 0, retx);
			c->fin_seq = c->snd_nxt;
			c->fin_out = 1;
			c->snd_nxt++;
		} else {
			break;
		}
		bool fresh = seq_lt(c->snd_max, c->snd_nxt);
		if (fresh)
			c->snd_max = c->snd_nxt;
		if (lx && fresh) {
			/* tcp_event_new_data_sent: the first packet out, or one
			 * sent while the probe is armed, rearms the RTO */
			if (prior_out == 0 || c->tlp_at != SIM_TIME_NEVER ||
			    c->rto_at == SIM_TIME_NEVER)
				lx_rearm_rto(c, env, now);
			sent_new = true;
		} else if (c->rto_at == SIM_TIME_NEVER && c->tlp_at == SIM_TIME_NEVER) {
			c->rto_at = timer_at(env, now, c->rto);
		}
		prior_out = in_flight(c);
		sent = true;
	}
	if (lx && (sent || held))
		pk_validate(c, held || pk_pipe(c) >= c->pk_cwnd);
	/* tcp_write_xmit: new data sent, the probe is scheduled again */
	if (sent_new)
		tlp_schedule(c, env, now, false);
}

void tcp_conn_connect(struct tcp_conn *c, const struct tcp_env *env, sim_time now)
{
	c->state = TCP_SYN_SENT;
	c->timing = 1;
	c->timed_seq = c->iss + 1;
	c->timed_at = now;
	emit(c, env, now, c->iss, TCP_SYN, NULL, 0, false);
	c->snd_nxt = c->snd_max = c->iss + 1;
	c->rto_at = timer_at(env, now, c->rto);
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

/* ---- round-trip time ---- */

/* Linux's tcp_rtt_estimator and tcp_set_rto.  mdev is Linux's mdev_us (4
 * times the mean deviation); RTTVAR follows its largest value over a round
 * trip (mdev_max), decays a quarter of the way down once per round trip
 * and never goes below TCP_RTO_MIN; the RTO is SRTT + RTTVAR. */
static void linux_rtt(struct tcp_conn *c, sim_time r, sim_time ca)
{
	int64_t m = (int64_t)r;
	if (ca < c->min_rtt) /* the newest segment's round trip (ca_rtt_us) */
		c->min_rtt = ca;
	if (!c->have_rtt) {
		c->srtt = r;
		c->mdev = 2 * r;
		c->rttvar = c->mdev > TCP_LINUX_RTO_MIN ? c->mdev : TCP_LINUX_RTO_MIN;
		c->mdev_max = c->rttvar;
		c->rtt_seq = c->snd_nxt;
		c->have_rtt = 1;
	} else {
		m -= (int64_t)c->srtt;
		c->srtt = (sim_time)((int64_t)c->srtt + m / 8);
		if (m < 0) {
			m = -m - (int64_t)(c->mdev / 4);
			if (m > 0)
				m /= 8;
		} else {
			m -= (int64_t)(c->mdev / 4);
		}
		c->mdev = (sim_time)((int64_t)c->mdev + m);
		if (c->mdev > c->mdev_max) {
			c->mdev_max = c->mdev;
			if (c->mdev_max > c->rttvar)
				c->rttvar = c->mdev_max;
		}
		if (seq_lt(c->rtt_seq, c->snd_una)) {
			if (c->mdev_max < c->rttvar)
				c->rttvar -= (c->rttvar - c->mdev_max) / 4;
			c->rtt_seq = c->snd_nxt;
			c->mdev_max = TCP_LINUX_RTO_MIN;
		}
	}
	c->rto = c->srtt + c->rttvar;
}

/* RFC 6298 §2 (rfc6298), Linux's estimator (linux). */
static void rtt_sample(struct tcp_conn *c, const struct tcp_params *p, sim_time r)
{
	if (p->profile == TCP_PROFILE_LINUX) {
		linux_rtt(c, r, r);
	} else {
		if (!c->have_rtt) {
			c->srtt = r;
			c->rttvar = r / 2;
			c->have_rtt = 1;
		} else {
			sim_time d = c->srtt > r ? c->srtt - r : r - c->srtt;
			c->rttvar = (3 * c->rttvar + d) / 4;
			c->srtt = (7 * c->srtt + r) / 8;
		}
		sim_time k = 4 * c->rttvar > CLOCK_G ? 4 * c->rttvar : CLOCK_G;
		c->rto = c->srtt + k;
		if (c->rto < p->rto_min)
			c->rto = p->rto_min;
	}
	if (c->rto > p->rto_max)
		c->rto = p->rto_max;
}

/* The RTT an echoed timestamp gives (RFC 7323 §4), or 0 without one. */
static sim_time ts_rtt(const struct tcp_conn *c, const struct tcp_opts *op, sim_time now)
{
	if (!c->ts_ok || !op->ts || !op->tsecr)
		return 0;
	uint32_t d = ts_now(c, now) - op->tsecr;
	return d < 0x80000000u ? (sim_time)(d ? d : 1) * SIM_MS(1) : 0;
}

static void closed(struct tcp_conn *c, const struct tcp_env *env, enum tcp_event ev,
		   sim_time now)
{
	c->state = TCP_CLOSED;
	c->rto_at = c->ack_at = c->rack_at = c->tlp_at = SIM_TIME_NEVER;
	tcp_conn_free(c);
	event(c, env, ev, now);
}

/* ---- acknowledgements ---- */

/* An ACK for new data (RFC 5681 growth, RFC 6582 recovery; with SACK,
 * RFC 6675's). */
static void new_ack(struct tcp_conn *c, const struct tcp_env *env, sim_time now,
		    uint32_t ack, sim_time ts_sample)
{
	const struct tcp_params *p = env->p;
	uint32_t acked = ack - c->snd_una, mss = p->mss;
	uint32_t data = min32(acked, c->len);
	struct seg_rtt rt = {0};
	/* linux: an ACK that ends inside a segment and acknowledges none
	 * whole (part of a resend that merged several) is no RTT sample and
	 * leaves the timer and its backoff as they are: tcp_clean_rtx_queue
	 * stops at a one-packet skb it only partly covers, so the ACK has
	 * no FLAG_ACKED, hence no tcp_ack_update_rtt, no tcp_set_xmit_timer. */
	uint32_t acked_pk = linux_of(env) ? seg_acked(c, ack, &rt) : 0;
	bool partial = rt.split && !acked_pk;

	memmove(c->buf, c->buf + data, c->len - data);
	c->len -= data;
	c->stream0 += data;
	c->snd_una = ack;
	if (seq_lt(c->snd_nxt, c->snd_una))
		c->snd_nxt = c->snd_una;
	/* linux: every ACK of new data is a sample (tcp_ack_update_rtt): from
	 * the oldest segment it covers, sent once (the segment's own time: a
	 * lost ACK makes it long, as on Linux, where the echoed timestamp
	 * would give the newest one's), else, when it covers data sent again,
	 * from the timestamp.  rfc6298: the timestamp's, else one timed
	 * segment a round trip (Karn). */
	if (partial) {
		/* no sample (above) */
	} else if (rt.any && !rt.resent) {
		uint32_t u = us_of(now);
		linux_rtt(c, (sim_time)(u - rt.first_us) * SIM_US(1),
			  (sim_time)(u - rt.last_us) * SIM_US(1));
		if (c->rto > p->rto_max)
			c->rto = p->rto_max;
		c->timing = 0;
	} else if (ts_sample) {
		rtt_sample(c, p, ts_sample);
		c->timing = 0;
	} else if (c->timing && seq_leq(c->timed_seq, ack)) {
		rtt_sample(c, p, now - c->timed_at);
		c->timing = 0;
	}
	c->retries = 0;
	c->dupacks = 0;
	sb_trim(c);
	if (linux_of(env)) {
		if (c->in_recovery && seq_leq(c->recover, ack)) {
			c->pk_cwnd = c->pk_ssthresh; /* tcp_end_cwnd_reduction */
			c->prr_on = 0;
		} else if (c->in_recovery) {
			pk_prr(c, c->pk_newly, true);
		} else if (pk_may_grow(c)) {
			/* slow start, then one a window (Reno's pace: CUBIC's
			 * curve is not modelled) */
			if (c->pk_cwnd < c->pk_ssthresh) {
				c->pk_cwnd += acked_pk;
				if (c->pk_cwnd > c->pk_ssthresh)
					c->pk_cwnd = c->pk_ssthresh;
			} else if ((c->pk_cnt += acked_pk) >= c->pk_cwnd) {
				c->pk_cnt = 0;
				c->pk_cwnd++;
			}
			if (c->pk_cwnd > TCP_SEGS)
				c->pk_cwnd = TCP_SEGS;
		}
		c->pk_newly = 0;
	}
	if (c->sack_ok) {
		if (c->in_recovery && seq_leq(c->recover, ack)) {
			c->cwnd = c->ssthresh;
			c->in_recovery = 0;
		} else if (c->in_recovery) {
			sack_xmit(c, env, now);
		} else if (c->cwnd < c->ssthresh) {
			c->cwnd += min32(acked, mss);
		} else {
			c->cwnd += max32(1, mss * mss / c->cwnd);
		}
		if (!c->n_sacked)
			c->rack_at = SIM_TIME_NEVER;
	} else if (c->in_recovery) {
		if (seq_leq(c->recover, ack)) {
			c->cwnd = c->ssthresh; /* full ACK: leave recovery */
			c->in_recovery = 0;
		} else {
			/* partial ACK: the next hole, at once */
			emit(c, env, now, c->snd_una, TCP_ACK | TCP_PSH, c->buf,
			     min32(mss, c->len), true);
			c->cwnd = c->cwnd > acked ? c->cwnd - acked + mss : mss;
		}
	} else if (c->cwnd < c->ssthresh) {
		c->cwnd += min32(acked, mss);
	} else {
		c->cwnd += max32(1, mss * mss / c->cwnd);
	}
	if (c->tlp_out && seq_lt(c->tlp_high, ack + 1))
		c->tlp_out = 0; /* the probe's episode is over (tcp_process_tlp_ack) */
	if (c->in_loss && seq_leq(c->loss_high, ack))
		c->in_loss = 0; /* Linux leaves CA_Loss: probes again */
	/* tcp_set_xmit_timer: the probe if it may go, else the RTO */
	if (partial)
		return;
	if (!linux_of(env))
		c->rto_at = in_flight(c) ? timer_at(env, now, c->rto) : SIM_TIME_NEVER;
	else if (!tlp_schedule(c, env, now, true))
		lx_rearm_rto(c, env, now);
}

/* The first SACK of a hole, before DupThresh: RACK (RFC 8985 §6.2, Linux
 * tcp_rack_detect_loss) takes the hole as lost once it was sent longer
 * ago than the SACKed data's round trip and the reordering window, i.e. at
 * sent(hole) + (now - sent(SACKed)) + reo_wnd: at once when the SACKed
 * data left a reordering window after the hole (a tail loss probe's new
 * data, say).  Without both send times, or while retransmissions are not
 * yet provable: the window from now. */
static void rack_arm(struct tcp_conn *c, const struct tcp_env *env, sim_time now, sim_time proof)
{
	sim_time hole = sent_at(c, c->snd_una), sacked = sent_at(c, high_sacked(c) - 1);
	/* tcp_rack_advance: SACKed data that was sent again less than the
	 * minimum RTT ago may have been the first copy that arrived (a tail
	 * loss probe's resend): it proves nothing; the RTO decides. */
	if (sacked && now - sacked < c->min_rtt) {
		uint32_t b = high_sacked(c) - 1;
		int sends = 0;
		for (int k = 0; k < TCP_TX_SEEN; k++)
			sends += c->tx_at[k] && seq_leq(c->tx_lo[k], b) && seq_lt(b, c->tx_hi[k]);
		if (sends >= 2)
			return;
	}
	if ((c->rxt_at && proof > now) || !hole || !sacked) {
		sim_time from = c->rxt_at && proof > now ? proof : now;
		c->rack_at = timer_at(env, now, from - now + reo_wnd(c) + TCP_LINUX_TIMEOUT_MIN);
		return;
	}
	sim_time lost = hole + (now - sacked) + reo_wnd(c);
	if (lost <= now)
		sack_recovery(c, env, now);
	else /* tcp_rack_mark_lost: the wait, plus TCP_TIMEOUT_MIN */
		c->rack_at = timer_at(env, now, lost - now + TCP_LINUX_TIMEOUT_MIN);
}

static void dup_ack(struct tcp_conn *c, const struct tcp_env *env, sim_time now)
{
	uint32_t mss = env->p->mss;

	if (c->sack_ok) {
		/* Recovery at the third duplicate (RFC 6675 DupThresh) or when
		 * RACK's reordering window has passed since the first.  A SACK
		 * that comes less than a round trip after holes were sent again
		 * cannot tell those retransmissions lost (RACK compares send
		 * times): it waits until it could. */
		sim_time proof = c->rxt_at + c->min_rtt;
		if (c->n_sacked && c->tlp_at != SIM_TIME_NEVER)
			lx_rearm_rto(c, env, now); /* not the open state: no probe */
		if (c->in_recovery) {
			if (linux_of(env))
				pk_prr(c, c->pk_newly, false);
			c->pk_newly = 0;
			sack_xmit(c, env, now);
		} else if (++c->dupacks >= 3 && (c->rxt_at == 0 || now >= proof)) {
			sack_recovery(c, env, now);
		} else if (c->rack_at == SIM_TIME_NEVER && c->n_sacked && c->newsack) {
			/* RACK advances only on newly SACKed data */
			rack_arm(c, env, now, proof);
		}
		return;
	}
	if (++c->dupacks == 3 && !c->in_recovery) {
		/* fast retransmit */
		c->ssthresh = max32(in_flight(c) / 2, 2 * mss);
		c->recover = c->snd_max;
		c->in_recovery = 1;
		c->timing = 0;
		emit(c, env, now, c->snd_una, TCP_ACK | TCP_PSH, c->buf, min32(mss, c->len), true);
		c->cwnd = c->ssthresh + 3 * mss;
	} else if (c->in_recovery && c->dupacks > 3) {
		c->cwnd += mss;
	}
}

/* RACK's lost retransmission (RFC 8985 §6.2): data first sent after a
 * hole went out again has been SACKed, a round trip after that
 * retransmission, and the hole is still open: send the holes again. */
static void rack_lost_rxt(struct tcp_conn *c, uint32_t block_hi, sim_time now)
{
	if (c->in_recovery && seq_lt(c->snd_una, c->high_rxt) &&
	    seq_lt(c->rxt_high, block_hi) && now - c->rxt_at >= c->min_rtt)
		c->high_rxt = c->snd_una;
}

/* Our SYN is acknowledged: the handshake gives an RTT sample unless the
 * SYN had to be sent again (Karn), or from its timestamp. */
static void establish(struct tcp_conn *c, const struct tcp_env *env, sim_time now,
		      sim_time ts_sample)
{
	if (ts_sample)
		rtt_sample(c, env->p, ts_sample);
	else if (c->timing && !c->retries)
		rtt_sample(c, env->p, now - c->timed_at);
	c->timing = 0;
	c->snd_una = c->iss + 1;
	c->retries = 0;
	c->state = TCP_ESTABLISHED;
	c->rto_at = SIM_TIME_NEVER;
	event(c, env, TCP_EV_ESTABLISHED, now);
}

/* In-order data of n bytes arrived, rcv_nxt already past it (linux).
 * Linux's tcp_event_data_recv adapts the delayed-ACK timeout (ato) to the
 * arrival gaps; __tcp_ack_snd_check acknowledges at once in quick-ACK
 * mode or for more than a full segment, and tcp_cleanup_rbuf when the
 * application reads a small ("pushed") segment, unless the end is in
 * pingpong mode and only one such segment waits.  Returns whether to
 * acknowledge now; else the timer is set (tcp_send_delayed_ack). */
static bool linux_ack_now(struct tcp_conn *c, const struct tcp_env *env, sim_time now,
			  uint32_t n)
{
	sim_time min = env->p->delayed_ack ? env->p->delayed_ack : TCP_LINUX_DELACK_MIN;
	uint32_t full = min32(env->p->mss, c->peer_mss);
	if (!c->ato) {
		c->quickack = TCP_LINUX_MAX_QUICKACKS; /* the first data */
		c->ato = min;
	} else {
		sim_time m = now - c->lrcvtime;
		if (m <= min / 2) {
			c->ato = c->ato / 2 + min / 2;
		} else if (m < c->ato) {
			c->ato = c->ato / 2 + m;
			if (c->ato > c->rto)
				c->ato = c->rto;
		} else if (m > c->rto) {
			c->quickack = TCP_LINUX_MAX_QUICKACKS; /* a long gap */
		}
	}
	c->lrcvtime = now;
	if (n < full)
		c->pushed |= c->pushed & 1 ? 3 : 1;
	if ((c->quickack && !c->pingpong) || c->rcv_nxt - c->acked_to > full ||
	    (c->pushed & 2) || ((c->pushed & 1) && !c->pingpong))
		return true;
	sim_time ato = c->ato;
	if (ato > min) {
		sim_time max = c->pingpong || c->pushed ? TCP_LINUX_DELACK_MAX : SIM_MS(500);
		sim_time rtt = c->srtt > min ? c->srtt : min;
		if (c->have_rtt && rtt < max)
			max = rtt;
		ato = ato < max ? ato : max;
	}
	if (c->ack_at == SIM_TIME_NEVER || now + ato < c->ack_at)
		c->ack_at = timer_at(env, now, ato);
	return false;
}

/* ---- the receiver's out-of-order data (SACK) ---- */

/* Keep [seq, seq + n) beyond a hole.  Returns false when it cannot be kept
 * (beyond the ring, too many ranges, no memory): it is dropped, as
 * without SACK, and never reported, so nothing SACKed is forgotten. */
static bool ooo_keep(struct tcp_conn *c, uint32_t seq, const uint8_t *data, uint32_t n)
{
	if (seq + n - c->rcv_nxt > OOO_RING)
		return false;
	if (!c->ooo && !(c->ooo = calloc(1, sizeof(*c->ooo))))
		return false;
	struct tcp_ooo *o = c->ooo;
	uint32_t lo = seq, hi = seq + n, k = 0;
	uint32_t keep_lo[TCP_SACK_RANGES], keep_hi[TCP_SACK_RANGES];
	for (uint32_t i = 0; i < o->n; i++) {
		if (seq_lt(hi, o->lo[i]) || seq_lt(o->hi[i], lo)) {
			keep_lo[k] = o->lo[i];
			keep_hi[k++] = o->hi[i];
		} else {
			lo = seq_lt(o->lo[i], lo) ? o->lo[i] : lo;
			hi = seq_lt(hi, o->hi[i]) ? o->hi[i] : hi;
		}
	}
	if (k == TCP_SACK_RANGES)
		return false;
	for (uint32_t i = 0; i < n; i++)
		o->ring[(seq + i) % OOO_RING] = data[i];
	o->lo[0] = lo;
	o->hi[0] = hi;
	memcpy(o->lo + 1, keep_lo, k * sizeof(uint32_t));
	memcpy(o->hi + 1, keep_hi, k * sizeof(uint32_t));
	o->n = (uint8_t)(k + 1);
	return true;
}

/* In-order data [seq, seq + n) arrived: it and the kept ranges it joins
 * go to the application, rcv_nxt and the ranges updated first, so that
 * an answer written from the callback acknowledges all of it, as Linux's
 * does (its out-of-order queue is merged before the application reads).
 * Returns false when the application closed the connection meanwhile. */
static bool deliver(struct tcp_conn *c, const struct tcp_env *env, sim_time now,
		    uint32_t seq, const uint8_t *data, uint32_t n)
{
	uint32_t from = seq + n, to = from;
	for (uint32_t i = 0; c->ooo && i < c->ooo->n;) {
		struct tcp_ooo *o = c->ooo;
		if (seq_lt(to, o->lo[i])) {
			i++;
			continue;
		}
		if (seq_lt(to, o->hi[i]))
			to = o->hi[i];
		o->n--;
		memmove(o->lo + i, o->lo + i + 1, (o->n - i) * sizeof(uint32_t));
		memmove(o->hi + i, o->hi + i + 1, (o->n - i) * sizeof(uint32_t));
		i = 0; /* another range may continue it now */
	}
	bool filled = c->ooo != NULL;
	c->rcv_nxt = to;
	/* Linux acknowledges in its receive path, before the application
	 * reads and answers; a filled hole at once (RFC 5681 §4.2).  What
	 * the arriving ACK let go is sent first (tcp_data_snd_check runs
	 * before __tcp_ack_snd_check) and carries the ACK: then no pure
	 * ACK follows. */
	if (linux_of(env)) {
		bool at_once = linux_ack_now(c, env, now, n) || filled;
		push(c, env, now);
		if (at_once && c->acked_to != c->rcv_nxt)
			emit(c, env, now, c->snd_nxt, TCP_ACK, NULL, 0, false);
	}
	/* Emptied, the ranges go now (no SACK blocks in an answer), their
	 * bytes after the callbacks; else closing frees them. */
	struct tcp_ooo *o = c->ooo, *detached = o && !o->n ? o : NULL;
	if (detached)
		c->ooo = NULL;
	env->cb->data(env->ud, c, data, n);
	while (c->state != TCP_CLOSED && seq_lt(from, to)) {
		uint32_t at = from % OOO_RING, len = min32(to - from, OOO_RING - at);
		env->cb->data(env->ud, c, o->ring + at, len);
		from += len;
	}
	free(detached);
	return c->state != TCP_CLOSED;
}

/* ---- receiving ---- */

/* linux: what the peer's SYN or SYN-ACK offered is what both use (we
 * offer everything). */
static void agree(struct tcp_conn *c, const struct tcp_opts *op)
{
	c->ts_ok = op->ts;
	c->ts_recent = op->tsval;
	c->sack_ok = op->sack_perm;
	c->ws_ok = op->ws;
	c->peer_ws = op->ws ? op->ws_shift : 0;
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
	struct tcp_opts op;

	if (dport != c->lport || (c->state != TCP_LISTEN && sport != c->rport))
		return;
	if (flags & TCP_RST) {
		if (c->state != TCP_CLOSED && c->state != TCP_LISTEN)
			closed(c, env, TCP_EV_RESET, now);
		return;
	}
	parse_opts(seg + TCP_HDR, hl - TCP_HDR, &op);
	uint32_t mss_opt = flags & TCP_SYN ? op.mss : 0;
	bool lx = linux_of(env);

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
		if (lx)
			agree(c, &op);
		c->state = TCP_SYN_RCVD;
		c->timing = 1;
		c->timed_seq = c->iss + 1;
		c->timed_at = now;
		emit(c, env, now, c->iss, TCP_SYN | TCP_ACK, NULL, 0, false);
		c->snd_nxt = c->snd_max = c->iss + 1;
		c->rto_at = timer_at(env, now, c->rto);
		return;
	case TCP_SYN_SENT:
		if ((flags & TCP_ACK) && ack != c->iss + 1) {
			/* RFC 9293 §3.10.7.3: an unacceptable ACK (the peer's
			 * challenge ACK from a connection it still thinks open
			 * on these ports) is answered by a reset, which frees
			 * the peer's end for our next SYN. */
			emit(c, env, now, ack, TCP_RST, NULL, 0, false);
			return;
		}
		if ((flags & (TCP_SYN | TCP_ACK)) != (TCP_SYN | TCP_ACK))
			return;
		c->rcv_nxt = seq + 1;
		c->peer_mss = mss_opt ? mss_opt : 536;
		c->peer_wnd = get16(seg + 14);
		if (lx)
			agree(c, &op);
		establish(c, env, now, ts_rtt(c, &op, now)); /* the application may send at once */
		push(c, env, now);
		if (c->acked_to != c->rcv_nxt) /* else a data segment carried the ACK */
			emit(c, env, now, c->snd_nxt, TCP_ACK, NULL, 0, false);
		return;
	case TCP_SYN_RCVD:
		if ((flags & TCP_SYN) && !(flags & TCP_ACK)) {
			/* our SYN-ACK was lost: the peer tries again */
			emit(c, env, now, c->iss, TCP_SYN | TCP_ACK, NULL, 0, true);
			return;
		}
		if (!(flags & TCP_ACK) || ack != c->iss + 1)
			return;
		establish(c, env, now, ts_rtt(c, &op, now));
		break; /* the ACK may carry data */
	default:
		break;
	}

	if (flags & TCP_SYN) {
		/* a retransmitted SYN-ACK: our ACK was lost */
		emit(c, env, now, c->snd_nxt, TCP_ACK, NULL, 0, false);
		return;
	}
	/* RFC 7323 §4.3: echo the TSval of the segment that began at the
	 * last ACK we sent (the earliest one a delayed ACK answers). */
	if (c->ts_ok && op.ts && seq_leq(seq, c->acked_to) &&
	    (int32_t)(op.tsval - c->ts_recent) >= 0)
		c->ts_recent = op.tsval;
	if (flags & TCP_ACK) {
		c->peer_wnd = get16(seg + 14) << (c->ws_ok ? c->peer_ws : 0);
		bool sacked = false, fresh = seq_lt(c->snd_una, ack) && seq_leq(ack, c->snd_max);
		uint32_t d0 = linux_of(env) ? segs_delivered(c, c->snd_una) : 0;
		for (uint32_t i = 0; c->sack_ok && i < op.nsack; i++) {
			if (sb_add(c, op.slo[i], op.shi[i])) {
				sacked = true;
				rack_lost_rxt(c, op.shi[i], now);
			}
		}
		if (linux_of(env)) {
			/* packets this ACK delivered, for PRR */
			uint32_t d1 = segs_delivered(c, fresh ? ack : c->snd_una);
			c->pk_newly = d1 > d0 ? d1 - d0 : 0;
		}
		c->newsack = sacked;
		if (seq_lt(c->snd_una, ack) && seq_leq(ack, c->snd_max))
			new_ack(c, env, now, ack, ts_rtt(c, &op, now));
		else if (ack == c->snd_una && in_flight(c) &&
			 (sacked || (!n && !(flags & TCP_FIN))))
			dup_ack(c, env, now);
		if (c->state == TCP_CLOSED)
			return;
	}
	if (n && c->sack_ok && seq_lt(seq, c->rcv_nxt) && seq_lt(c->rcv_nxt, seq + n)) {
		/* partly new (a retransmission after a lost ACK): the new part */
		data += c->rcv_nxt - seq;
		n -= c->rcv_nxt - seq;
		seq = c->rcv_nxt;
	}
	if (n) {
		if (seq == c->rcv_nxt) {
			if (!deliver(c, env, now, seq, data, n))
				return; /* the application aborted */
			/* RFC 1122 §4.2.3.2: delay at most one full segment; an
			 * answer the application already sent carried the ACK
			 * (linux: decided in deliver). */
			if (c->acked_to == c->rcv_nxt || lx)
				;
			else if (!env->p->delayed_ack || ++c->ack_pending >= 2)
				emit(c, env, now, c->snd_nxt, TCP_ACK, NULL, 0, false);
			else if (c->ack_at == SIM_TIME_NEVER)
				c->ack_at = now + env->p->delayed_ack;
		} else {
			/* out of order or repeated: kept (SACK) or dropped, and a
			 * duplicate ACK at once */
			if (c->sack_ok && seq_lt(c->rcv_nxt, seq))
				ooo_keep(c, seq, data, n);
			/* linux: data the ACK let go goes first and carries
			 * the SACK blocks (as in deliver) */
			uint64_t sent = c->st.segments;
			if (lx)
				push(c, env, now);
			if (c->st.segments == sent)
				emit(c, env, now, c->snd_nxt, TCP_ACK, NULL, 0, false);
		}
	}
	/* A FIN counts once every byte before it has arrived. */
	if ((flags & TCP_FIN) && seq + n == c->rcv_nxt) {
		c->rcv_nxt++;
		emit(c, env, now, c->snd_nxt, TCP_ACK, NULL, 0, false);
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
		emit(c, env, now, c->snd_nxt, TCP_RST | TCP_ACK, NULL, 0, false);
	closed(c, env, TCP_EV_CLOSED, now);
}

sim_time tcp_conn_expiry(const struct tcp_conn *c)
{
	sim_time t = c->rto_at < c->ack_at ? c->rto_at : c->ack_at;
	t = c->tlp_at < t ? c->tlp_at : t;
	return c->rack_at < t ? c->rack_at : t;
}

void tcp_conn_expire(struct tcp_conn *c, const struct tcp_env *env, sim_time now)
{
	const struct tcp_params *p = env->p;

	if (c->ack_at <= now) {
		/* Linux's delayed-ACK timer: outside pingpong it inflates the
		 * timeout, in pingpong it ends it (tcp_delack_timer_handler). */
		if (c->pingpong) {
			c->pingpong = 0;
			c->ato = env->p->delayed_ack ? env->p->delayed_ack : TCP_LINUX_DELACK_MIN;
		} else if (c->ato) {
			c->ato = 2 * c->ato < c->rto ? 2 * c->ato : c->rto;
		}
		emit(c, env, now, c->snd_nxt, TCP_ACK, NULL, 0, false);
	}
	if (c->rack_at <= now) {
		c->rack_at = SIM_TIME_NEVER;
		if (c->n_sacked && !c->in_recovery && c->state != TCP_CLOSED)
			sack_recovery(c, env, now);
	}
	if (c->tlp_at <= now) {
		tlp_fire(c, env, now); /* restarts the RTO: it does not fire now */
		return;
	}
	if (c->rto_at > now)
		return;
	c->tlp_at = SIM_TIME_NEVER;
	c->tlp_out = 0;
	c->in_loss = 1; /* Linux's CA_Loss: no probe until all sent is acknowledged */
	c->loss_high = c->snd_max;
	uint32_t limit = c->state == TCP_SYN_SENT || c->state == TCP_SYN_RCVD
				 ? p->syn_retries : p->data_retries;
	/* linux (6.5 on): an active open's first TCP_LINUX_SYN_LINEAR
	 * timeouts keep the RTO (tcp_syn_linear_timeouts: SYNs at 0, 1, 2,
	 * 3, 4, 5, 7, 11 s...), and they come on top of tcp_syn_retries
	 * (tcp_write_timeout's max_retransmits) */
	bool linear = linux_of(env) && c->state == TCP_SYN_SENT;
	if (linear)
		limit += TCP_LINUX_SYN_LINEAR;
	if (++c->retries > limit) {
		closed(c, env, TCP_EV_FAILED, now);
		return;
	}
	/* RFC 6298 §5.5-5.6: back off, retransmit the earliest segment */
	if (!linear || c->retries > TCP_LINUX_SYN_LINEAR)
		c->rto = c->rto * 2 > p->rto_max ? p->rto_max : c->rto * 2;
	c->timing = 0; /* Karn: no sample from what is retransmitted */
	c->rto_at = timer_at(env, now, c->rto);
	if (c->state == TCP_SYN_SENT) {
		emit(c, env, now, c->iss, TCP_SYN, NULL, 0, true);
		return;
	}
	if (c->state == TCP_SYN_RCVD) {
		emit(c, env, now, c->iss, TCP_SYN | TCP_ACK, NULL, 0, true);
		return;
	}
	/* RFC 5681 §3.1: after a timeout, one segment, slow start again */
	c->ssthresh = max32(pipe(c) / 2, 2 * p->mss);
	c->cwnd = p->mss;
	if (linux_of(env)) {
		/* tcp_enter_loss: ssthresh kept when already reducing */
		if (c->retries == 1 && !c->in_recovery)
			c->pk_ssthresh = pk_ssthresh_of(c);
		c->pk_cwnd = 1;
		c->pk_cnt = 0;
		c->prr_on = 0;
	}
	c->in_recovery = 0;
	c->dupacks = 0;
	c->rack_at = SIM_TIME_NEVER;
	/* Go back to the first unacknowledged byte: the rfc6298 receiver kept
	 * nothing after the hole; with SACK what was SACKed is skipped, unless
	 * timeouts repeat (a receiver may have dropped what it SACKed). */
	if (c->retries > 1)
		c->n_sacked = 0;
	c->snd_nxt = c->snd_una;
	c->rxt_at = now;
	c->rto_at = SIM_TIME_NEVER;
	push(c, env, now);
	if (c->rto_at == SIM_TIME_NEVER)
		c->rto_at = timer_at(env, now, c->rto);
}
