/* A TCP model, sans-I/O, for MQTT to run over.
 *
 * One tcp_conn is one end of a connection.  Like the CoAP core it reads no
 * clock and owns no timer: every call takes `now`, segments go out through
 * a callback, and tcp_conn_expiry() says when tcp_conn_expire() is due.
 * Segments are real TCP headers (RFC 9293) plus payload; the checksum field
 * is left 0 for the capture writer, which knows the addresses.
 *
 * Two profiles (tcp_params.profile).  TCP_PROFILE_RFC6298 is the textbook
 * model described next.  TCP_PROFILE_LINUX changes what Linux does
 * differently, as a Linux broker and a Linux or lwIP client do: the RTO is
 * SRTT + max(4 RTTVAR, 200 ms) (Linux's floor is on the variance term, not
 * RFC 6298's 1 s on the whole timeout), the initial window is 10 segments
 * (RFC 6928), Nagle's algorithm holds a small segment while an earlier
 * small one is unacknowledged (RFC 896 as Linux does it, Minshall's
 * variant) unless the end has TCP_NODELAY (tcp_conn_set_nodelay), and
 * ACKs follow Linux's receiver: at once (before the application's answer)
 * for the first 16 segments, for more than a full segment, and for a
 * small segment the application reads at once unless the end is in
 * "pingpong" mode (it answered the last data within the delayed-ACK
 * timeout, so its answer will carry the ACK); else after the timeout,
 * 40 ms at first, doubled each time it fires outside pingpong (at most
 * the RTO, bounded by SRTT and 200 ms), which also ends pingpong.
 * Its SYN offers what Linux's does (MSS, SACK permitted, timestamps,
 * window scale; 40 header bytes) and, when the peer agrees:
 *  - timestamps (RFC 7323): 12 option bytes on every segment; every ACK
 *    of new data gives an RTT sample, retransmitted data included, fed to
 *    Linux's estimator (tcp_rtt_estimator: RTTVAR decays at most once a
 *    round trip and never below 200 ms), and a sample ends the backoff;
 *  - SACK (RFC 2018): the receiver keeps out-of-order data and reports up
 *    to 3 blocks; the sender keeps a scoreboard, enters recovery at the
 *    third duplicate ACK or a reordering window (min RTT / 4, RACK's
 *    RFC 8985 §6.2) after the first SACK, repairs the holes under the
 *    pipe (RFC 6675), sends a hole again when data sent after its
 *    retransmission is acknowledged a round trip later (RACK's lost
 *    retransmission), and after a timeout resends only what was not
 *    SACKed.
 * and a tail loss probe (RFC 8985 §7, Linux's tcp_schedule_loss_probe):
 * with data in flight and nothing SACKed, the RTO timer is preceded by a
 * probe at 2 SRTT (+ 200 ms with one segment out, + 2 ms else), never
 * later than the RTO would fire, which sends new data (Nagle or not) or
 * else the last segment again, and restarts the RTO from then; the hole
 * it reveals is repaired by SACK recovery.
 * Not in it: D-SACK, PRR, CUBIC; the congestion window counts bytes where
 * Linux counts segments.
 *
 * What it models: the three-way handshake with an MSS option, sequence
 * numbers with wraparound, MSS segmentation, cumulative ACKs with optional
 * delayed ACK (RFC 1122: at most one full segment unacknowledged), RFC 6298
 * RTO (SRTT/RTTVAR, Karn's rule, exponential backoff between rto_min and
 * rto_max), fast retransmit on the third duplicate ACK with NewReno
 * recovery (RFC 6582), slow start and congestion avoidance (RFC 5681,
 * initial window RFC 3390), FIN teardown, RST, and failure after a retry
 * limit.  Simplifications: the receiver keeps no out-of-order segments (it
 * answers them with a duplicate ACK and drops them; after a timeout the
 * sender goes back to the first unacknowledged byte), no TIME_WAIT, no
 * options besides MSS. */
#ifndef COAPSIM_TCP_H
#define COAPSIM_TCP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../core/sim.h"
#include "../engine/rng.h"

#define TCP_HDR 20
#define TCP_SYN_HDR 24       /* with the MSS option */
#define TCP_LINUX_SYN_HDR 40 /* MSS, SACK permitted, timestamps, NOP, window scale */
#define TCP_TS_OPT 12        /* NOP, NOP, timestamps */
#define TCP_SACK_BLOCKS 3    /* blocks an ACK carries beside timestamps */
#define TCP_SACK_RANGES 8    /* ranges a scoreboard or a receiver keeps */
#define TCP_FIN 0x01
#define TCP_SYN 0x02
#define TCP_RST 0x04
#define TCP_PSH 0x08
#define TCP_ACK 0x10

enum tcp_profile { TCP_PROFILE_RFC6298, TCP_PROFILE_LINUX };

/* Linux's constants (include/net/tcp.h) the linux profile uses. */
#define TCP_LINUX_INIT_CWND 10            /* segments */
#define TCP_LINUX_RTO_MIN SIM_MS(200)     /* floor of the RTO's variance term */
#define TCP_LINUX_DELACK_MIN SIM_MS(40)   /* delayed ACK */
#define TCP_LINUX_MAX_QUICKACKS 16        /* ACKs sent at once on a new connection */
#define TCP_LINUX_DELACK_MAX SIM_MS(200)  /* longest delay of a pushed segment's ACK */
#define TCP_LINUX_TIMEOUT_MIN SIM_MS(8)   /* 2 jiffies at HZ=250: added to RACK's wait */
#define TCP_LINUX_SYN_LINEAR 4            /* SYN timeouts without backoff (Linux 6.5+) */

struct tcp_params {
	uint8_t profile;       /* enum tcp_profile */
	sim_time rto_initial, rto_min, rto_max; /* rto_min: rfc6298 only */
	uint32_t mss;
	sim_time delayed_ack;  /* 0: rfc6298 acknowledges every segment at once,
				* linux delays TCP_LINUX_DELACK_MIN */
	uint32_t syn_retries;  /* give up a connect after this many (Linux: 6) */
	uint32_t data_retries; /* give up after this many timeouts (Linux: 15) */
	uint16_t rcv_wnd;      /* advertised window, bytes */
	/* TCP_NODELAY of the client's and the broker's ends (linux profile):
	 * whoever opens an end applies it (tcp_conn_set_nodelay). */
	bool client_nodelay, broker_nodelay;
};

enum tcp_state { TCP_CLOSED, TCP_LISTEN, TCP_SYN_SENT, TCP_SYN_RCVD, TCP_ESTABLISHED,
		 TCP_FIN_WAIT, TCP_CLOSING };

enum tcp_event { TCP_EV_ESTABLISHED, TCP_EV_CLOSED, TCP_EV_RESET, TCP_EV_FAILED };

/* What a segment carries, for the caller's accounting. */
struct tcp_seg_info {
	uint32_t data_off; /* stream offset of the first payload byte */
	uint32_t data_len;
	bool retx;         /* repeats bytes (or a SYN/FIN) sent before */
	uint8_t flags;
};

struct tcp_conn;
struct tcp_cb {
	/* Required: put a segment on the wire. */
	void (*send)(void *ud, struct tcp_conn *c, const uint8_t *seg, size_t len,
		     const struct tcp_seg_info *info);
	/* Required: in-order application bytes arrived. */
	void (*data)(void *ud, struct tcp_conn *c, const uint8_t *buf, size_t len);
	/* Optional: state changes. */
	void (*event)(void *ud, struct tcp_conn *c, enum tcp_event ev, sim_time now);
};

struct tcp_env {
	const struct tcp_params *p;
	const struct tcp_cb *cb;
	void *ud;
};

struct tcp_stats {
	uint64_t segments, data_segments, retx_segments, pure_acks, bytes;
};

struct tcp_ooo; /* out-of-order data a receiver keeps (SACK) */

/* Data segments whose send time a connection keeps (RACK): enough for a
 * window of small messages; an older hole falls back to the reordering
 * window from the first SACK. */
#define TCP_TX_SEEN 8

/* linux: segments in flight a connection tracks, and so the most its
 * packet-counted congestion window opens to. */
#define TCP_SEGS 64

struct tcp_conn {
	uint8_t state;
	uint8_t dupacks, in_recovery, timing, retries, ack_pending, fin_queued, fin_acked;
	uint16_t lport, rport;
	uint32_t iss, snd_una, snd_nxt, snd_max, recover, timed_seq;
	uint32_t fin_seq;  /* sequence number of our FIN, once sent */
	uint8_t fin_out;   /* our FIN has been sent */
	uint32_t rcv_nxt, peer_wnd, peer_mss, cwnd, ssthresh;
	uint32_t acked_to;  /* rcv_nxt as last acknowledged */
	sim_time srtt, rttvar, rto, timed_at, rto_at, ack_at;
	uint8_t have_rtt;
	uint8_t nodelay;   /* linux: TCP_NODELAY, no Nagle */
	uint8_t quickack;  /* linux: ACKs still to send at once */
	uint8_t pingpong;  /* linux: interactive, answers carry the ACKs */
	uint8_t pushed;    /* linux: small segments unacknowledged (1, 2: two) */
	sim_time ato, lrcvtime; /* linux: delayed-ACK timeout, last data in */
	uint32_t snd_sml;  /* linux: end of the last small segment sent (Minshall) */
	/* linux: what both SYNs agreed (RFC 7323, RFC 2018, window scale) */
	uint8_t ts_ok, sack_ok, ws_ok, peer_ws;
	uint32_t ts_off;    /* TSval = milliseconds of `now` + ts_off */
	uint32_t ts_recent; /* the peer's TSval to echo */
	sim_time mdev, mdev_max, min_rtt; /* Linux's estimator (tcp_rtt_estimator) */
	uint32_t rtt_seq;
	/* the sender's SACK scoreboard: disjoint ranges above snd_una, ascending */
	uint8_t n_sacked;
	uint32_t sack_lo[TCP_SACK_RANGES], sack_hi[TCP_SACK_RANGES];
	uint32_t high_rxt;  /* RFC 6675 HighRxt: holes below it were sent again */
	uint32_t rxt_high;  /* snd_max when the last hole was sent again */
	sim_time rxt_at, rack_at; /* that time; RACK's reordering timer */
	/* linux: when the last TCP_TX_SEEN data segments left (start, end,
	 * time; a resend is a new entry), for RACK's loss test by send time */
	uint32_t tx_lo[TCP_TX_SEEN], tx_hi[TCP_TX_SEEN];
	sim_time tx_at[TCP_TX_SEEN];
	uint8_t tx_next;
	/* linux: the congestion window counts packets, as Linux's snd_cwnd
	 * does.  The data from snd_una on as it was sent: segment i is
	 * [seg[i], seg[i + 1]) (the last one to snd_max); a resend over
	 * several is one again.  cwnd, ssthresh and the congestion-avoidance
	 * count in packets; whether the window held data back since
	 * usage_seq, and the most packets out (tcp_cwnd_validate); PRR's
	 * counts in recovery (RFC 6937); what the ACK at hand delivered. */
	uint32_t seg[TCP_SEGS];
	/* and when each was first sent, in microseconds (modulo 2^32, bit 0
	 * clear), bit 0 set once it was sent again: Linux's RTT sample is
	 * taken from the oldest segment an ACK covers that was sent once */
	uint32_t seg_us[TCP_SEGS];
	uint8_t n_seg, pk_limited, prr_on, newsack;
	uint32_t pk_cwnd, pk_ssthresh, pk_cnt, pk_max_out, pk_usage_seq;
	uint32_t prr_delivered, prr_out, prr_prior, pk_newly;
	struct tcp_ooo *ooo; /* receiver, while holes exist (malloc'd) */
	/* linux: tail loss probe (RFC 8985 §7) */
	sim_time tlp_at;
	uint32_t tlp_high;  /* snd_nxt when the probe went, while it is out */
	uint8_t tlp_out;
	uint8_t in_loss;    /* after a timeout, until snd_una passes loss_high */
	uint32_t loss_high;
	uint32_t last_seg;  /* first byte of the last new segment sent */
	uint8_t *buf;      /* bytes from snd_una on: in flight, then unsent */
	uint32_t cap, len; /* buffer size, bytes held */
	uint32_t stream0;  /* stream offset of snd_una */
	struct tcp_stats st;
};

/* Set up an end with a caller-owned send buffer of cap bytes. The initial
 * sequence number comes from rng. */
void tcp_conn_init(struct tcp_conn *c, const struct tcp_params *p, uint16_t lport,
		   uint16_t rport, uint8_t *buf, uint32_t cap, struct sim_rng *rng);

/* Active open (SYN) or passive (wait for one). */
void tcp_conn_connect(struct tcp_conn *c, const struct tcp_env *env, sim_time now);
void tcp_conn_listen(struct tcp_conn *c);

/* Queue application bytes.  Returns len, or SIM_ERR_NOSPACE when the send
 * buffer cannot take them all (nothing is queued then), SIM_ERR_INVAL when
 * the connection is not open. */
int tcp_conn_send(struct tcp_conn *c, const struct tcp_env *env, sim_time now,
		  const uint8_t *data, size_t len);

/* A segment from the peer.  Malformed ones are ignored. */
void tcp_conn_recv(struct tcp_conn *c, const struct tcp_env *env, sim_time now,
		   const uint8_t *seg, size_t len);

/* Close after the queued bytes (FIN), or abort at once (RST). */
void tcp_conn_close(struct tcp_conn *c, const struct tcp_env *env, sim_time now);
void tcp_conn_abort(struct tcp_conn *c, const struct tcp_env *env, sim_time now);

sim_time tcp_conn_expiry(const struct tcp_conn *c);
void tcp_conn_expire(struct tcp_conn *c, const struct tcp_env *env, sim_time now);

/* TCP_NODELAY (linux profile): small segments go out at once. */
static inline void tcp_conn_set_nodelay(struct tcp_conn *c, bool on) { c->nodelay = on; }

/* Free what an end holds beyond the caller's buffer (out-of-order data).
 * Closing does it too; call it for ends still open when a run ends. */
void tcp_conn_free(struct tcp_conn *c);

/* TCP header bytes of a data segment or pure ACK on an established
 * connection (without SACK blocks). */
static inline size_t tcp_conn_hdr(const struct tcp_conn *c)
{
	return TCP_HDR + (c->ts_ok ? TCP_TS_OPT : 0);
}

/* Bytes queued but not yet acknowledged. */
static inline uint32_t tcp_conn_unacked(const struct tcp_conn *c) { return c->len; }

#endif
