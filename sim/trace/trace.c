/* The pcap writer: IPv6/UDP/TCP records of what was sent and received,
 * rotated by size.  Knows no protocol logic. */
#include "trace.h"

#include <arpa/inet.h>
#include <endian.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pcap/pcap.h>

#include "../core/fsutil.h"
#include "../core/options.h"

#define IP6_HDR 40
#define UDP_HDR 8
#define FRAG_HDR 8
#define PCAP_FILE_HDR 24
#define PCAP_REC_HDR 16
#define SNAPLEN 65535
/* Small enough to stay in the L2 cache with the other file's (larger
 * buffers missed it on every record; the measurements are in
 * docs/performance.md), large enough for the largest record. */
#define VBUF_SIZE (128u << 10)
_Static_assert(VBUF_SIZE >= PCAP_REC_HDR + IP6_HDR + UDP_HDR + SIM_MAX_DATAGRAM,
	       "the largest record fits the buffer");

/* libpcap writes each file's header; records go through our own buffer
 * (pcap_dump() makes two locked stdio calls per packet, which came to a
 * tenth of a capture run) in the same layout: the record header in host
 * byte order, then the bytes. */
struct pcap_rec {
	uint32_t sec, nsec, caplen, len;
};

struct pcap_out {
	FILE *fp;
	pcap_dumper_t *d;
	char *vbuf;      /* VBUF_SIZE bytes of records not yet written */
	size_t vlen;
	uint64_t bytes;  /* written to the current file */
	unsigned index;  /* rotation number, 0 for the first file */
	uint64_t packets;
};

/* An IPv6 address as two 64-bit words in memory order: the words the
 * checksum adds and the header stores, with no byte-wise round trip
 * through the stack (a word loaded from bytes just stored one at a time
 * waits for them: store-to-load forwarding fails). */
struct a6 {
	uint64_t w[2];
};

static struct a6 a6_of(const uint8_t b[16])
{
	struct a6 a;
	memcpy(a.w, b, 16);
	return a;
}

/* Endpoint ep's address: the 2001:db8:1::/48 word, then ep + 1 in the
 * low 32 bits of the second, big-endian (trace_addr). */
static struct a6 a6_endpoint(uint64_t prefix, uint32_t ep)
{
	return (struct a6){{prefix, htobe64((uint64_t)ep + 1)}};
}

struct trace {
	pcap_t *pd;
	struct pcap_out out[2]; /* 0 = tx, 1 = rx */
	char dir[1024];
	char run_id[64];
	uint32_t mtu[2];
	uint64_t max_bytes;
	uint16_t port;
	bool dtls;
	int err;
	char errmsg[1536];
	struct a6 srv;        /* trace_addr(UINT32_MAX) */
	uint64_t ep_prefix;   /* the first word of every endpoint's address */
	uint8_t dgram[UDP_HDR + SIM_MAX_DATAGRAM];
	uint8_t pkt[IP6_HDR + FRAG_HDR + UDP_HDR + SIM_MAX_DATAGRAM];
	/* Real addresses (trace_use_real): the family, the server's address
	 * and port, and each endpoint's (by identity); NULL: the simulated. */
	struct real {
		int family;
		uint8_t srv[16];
		uint16_t srv_port;
		uint8_t (*addr)[16];
		uint16_t *port;
		uint32_t n;
	} *real;
};

void trace_addr(uint32_t ep, uint8_t a[16])
{
	memset(a, 0, 16);
	a[0] = 0x20; a[1] = 0x01; a[2] = 0x0d; a[3] = 0xb8;
	if (ep == UINT32_MAX) { /* the server: 2001:db8::1 */
		a[15] = 1;
		return;
	}
	/* endpoint i: 2001:db8:1::/48 with i + 1 in the low 32 bits */
	uint64_t v = (uint64_t)ep + 1;
	a[5] = 1;
	a[12] = (uint8_t)(v >> 24); a[13] = (uint8_t)(v >> 16);
	a[14] = (uint8_t)(v >> 8); a[15] = (uint8_t)v;
}

void trace_mcast_addr(uint32_t k, uint8_t a[16])
{
	memset(a, 0, 16);
	a[0] = 0xff;
	a[1] = 0x05;
	a[12] = (uint8_t)(k >> 8);
	a[13] = (uint8_t)k;
	a[15] = 0xfd;
}

static void file_path(const struct trace *t, int which, unsigned index, char *buf,
		      size_t len)
{
	const char *rx = which ? ".rx" : "";
	if (index)
		snprintf(buf, len, "%s/%s%s.%u.pcap", t->dir, t->run_id, rx, index);
	else
		snprintf(buf, len, "%s/%s%s.pcap", t->dir, t->run_id, rx);
}

static int fail(struct trace *t, const char *path, int e)
{
	if (!t->err) {
		t->err = SIM_ERR_IO;
		snprintf(t->errmsg, sizeof(t->errmsg), "%s: cannot write: %s", path,
			 strerror(e));
	}
	return SIM_ERR_IO;
}

static void flush_out(struct pcap_out *o)
{
	if (o->vlen && fwrite(o->vbuf, 1, o->vlen, o->fp) != o->vlen && !ferror(o->fp))
		errno = EIO;
	o->vlen = 0;
}

static int close_out(struct trace *t, int which)
{
	struct pcap_out *o = &t->out[which];
	int rc = 0;

	if (!o->d)
		return 0;
	flush_out(o);
	pcap_dump_flush(o->d);
	if (ferror(o->fp)) {
		char path[1200];
		file_path(t, which, o->index, path, sizeof(path));
		rc = fail(t, path, errno ? errno : EIO);
	}
	/* pcap_dump_close() fcloses the stream; check what fclose saw. */
	errno = 0;
	pcap_dump_close(o->d);
	if (errno && !rc && (errno == ENOSPC || errno == EIO || errno == EDQUOT)) {
		char path[1200];
		file_path(t, which, o->index, path, sizeof(path));
		rc = fail(t, path, errno);
	}
	free(o->vbuf);
	o->d = NULL;
	o->fp = NULL;
	o->vbuf = NULL;
	return rc;
}

static int open_out(struct trace *t, int which, unsigned index)
{
	struct pcap_out *o = &t->out[which];
	char path[1200];

	file_path(t, which, index, path, sizeof(path));
	o->fp = fopen(path, "wb");
	if (!o->fp)
		return fail(t, path, errno);
	o->vbuf = malloc(VBUF_SIZE);
	o->vlen = 0;
	o->d = o->vbuf ? pcap_dump_fopen(t->pd, o->fp) : NULL;
	if (!o->d) {
		if (!t->err) {
			t->err = SIM_ERR_IO;
			snprintf(t->errmsg, sizeof(t->errmsg), "%s: %s", path,
				 o->vbuf ? pcap_geterr(t->pd) : "out of memory");
		}
		fclose(o->fp);
		free(o->vbuf);
		o->fp = NULL;
		o->vbuf = NULL;
		return SIM_ERR_IO;
	}
	o->index = index;
	o->bytes = PCAP_FILE_HDR;
	return 0;
}

int trace_open(struct trace **out, const struct trace_cfg *cfg, char *err,
	       size_t errlen)
{
	struct trace *t = calloc(1, sizeof(*t));

	*out = NULL;
	if (!t) {
		snprintf(err, errlen, "out of memory for a capture");
		return SIM_ERR_NOMEM;
	}
	snprintf(t->dir, sizeof(t->dir), "%s", cfg->dir);
	snprintf(t->run_id, sizeof(t->run_id), "%s", cfg->run_id);
	t->mtu[TRACE_UP] = cfg->mtu_up;
	t->mtu[TRACE_DOWN] = cfg->mtu_down;
	t->max_bytes = cfg->max_bytes;
	t->port = cfg->port;
	t->dtls = cfg->dtls && cfg->port == 5683;
	uint8_t a[16];
	trace_addr(UINT32_MAX, a);
	t->srv = a6_of(cfg->server ? cfg->server : a);
	trace_addr(0, a);
	t->ep_prefix = a6_of(a).w[0];
	if (fs_mkdir_p(cfg->dir, err, errlen) < 0) {
		free(t);
		return SIM_ERR_IO;
	}
	t->pd = pcap_open_dead_with_tstamp_precision(DLT_RAW, SNAPLEN,
						     PCAP_TSTAMP_PRECISION_NANO);
	if (!t->pd || open_out(t, 0, 0) < 0 || open_out(t, 1, 0) < 0) {
		snprintf(err, errlen, "%s", t->err ? t->errmsg : "pcap: cannot open");
		trace_close(t, NULL, 0);
		return SIM_ERR_IO;
	}
	*out = t;
	return 0;
}

/* RFC 1071 one's-complement sums, eight bytes a step in the machine's
 * own byte order: §2(B), the sum of byte-swapped words is the byte-swapped
 * sum, so it is swapped once at the end.  Every region summed starts at an
 * even offset of the checksummed bytes and only the last may be odd (its
 * last byte padded with a zero, as §8.1 of RFC 8200 says). */
static inline uint64_t sum_word(uint64_t s, uint64_t w)
{
	s += w;
	return s + (s < w); /* end-around carry */
}

/* The n < 8 bytes at p as a word in memory order, zero-padded, loaded in
 * pieces of 4, 2 and 1 bytes that end at p + n (never past it), each
 * shifted to where its bytes sit in the word. */
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
#define PIECE_SHIFT(o, size) (8 * (8 - (o) - (size)))
#else
#define PIECE_SHIFT(o, size) (8 * (o))
#endif
static inline uint64_t tail_word(const uint8_t *p, size_t n)
{
	uint64_t w = 0;
	size_t o = 0;

	if (n & 4) {
		uint32_t x;
		memcpy(&x, p, 4);
		w = (uint64_t)x << PIECE_SHIFT(0, 4);
		o = 4;
	}
	if (n & 2) {
		uint16_t x;
		memcpy(&x, p + o, 2);
		w |= (uint64_t)x << PIECE_SHIFT(o, 2);
		o += 2;
	}
	if (n & 1)
		w |= (uint64_t)p[o] << PIECE_SHIFT(o, 1);
	return w;
}

static uint64_t sum_add(uint64_t s, const uint8_t *p, size_t n)
{
	uint64_t w;

	for (; n >= 8; p += 8, n -= 8) {
		memcpy(&w, p, 8);
		s = sum_word(s, w);
	}
	return n ? sum_word(s, tail_word(p, n)) : s;
}

/* The checksum field's value (big-endian order) for sum s. */
static uint16_t sum_fold(uint64_t s)
{
	s = (s & 0xffffffffu) + (s >> 32);
	s = (s & 0xffffffffu) + (s >> 32);
	s = (s & 0xffff) + (s >> 16);
	s = (s & 0xffff) + (s >> 16);
	return (uint16_t)~be16toh((uint16_t)s);
}

/* Sum of the IPv6 pseudo-header (RFC 8200 §8.1): addresses, then the
 * upper-layer length (32 bits), three zero bytes and the next header. */
static uint64_t pseudo_sum(const struct a6 *src, const struct a6 *dst, uint32_t len,
			   uint8_t next)
{
	uint64_t s = sum_word(sum_word(src->w[0], src->w[1]), dst->w[0]);
	s = sum_word(s, dst->w[1]);
	return sum_word(s, htobe64((uint64_t)len << 32 | next));
}

static void put16(uint8_t *p, uint32_t v) { p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v; }

static void put64(uint8_t *p, uint64_t memory_order)
{
	memcpy(p, &memory_order, 8);
}

/* The UDP datagram (header + payload) with the RFC 8200 §8.1 checksum, at
 * u.  The payload is summed where it comes from, not where it was just
 * copied. */
static size_t build_udp(struct trace *t, uint8_t *u, const struct a6 *src,
			const struct a6 *dst, const uint8_t *payload, size_t len)
{
	uint32_t ulen = (uint32_t)(UDP_HDR + len);
	/* DTLS records go on CoAP's secure port (RFC 7252 §12.8). */
	uint64_t port = t->dtls && len && payload[0] >= 20 && payload[0] <= 25 ? 5684 : t->port;
	uint64_t hdr = port << 48 | port << 32 |
		       (uint64_t)ulen << 16; /* checksum 0 while summing */
	uint64_t s = sum_word(pseudo_sum(src, dst, ulen, 17), htobe64(hdr));
	uint16_t ck = sum_fold(sum_add(s, payload, len));

	memcpy(u + UDP_HDR, payload, len);
	/* a zero checksum is sent as all ones */
	put64(u, htobe64(hdr | (ck ? ck : 0xffff)));
	return ulen;
}

static void ip6_header(uint8_t *h, uint32_t payload_len, uint8_t next,
		       const struct a6 *src, const struct a6 *dst)
{
	/* version 6, traffic class 0, flow 0, payload length, next header,
	 * hop limit 64 */
	put64(h, htobe64(0x60ull << 56 | (uint64_t)payload_len << 16 |
			 (uint64_t)next << 8 | 64));
	put64(h + 8, src->w[0]);
	put64(h + 16, src->w[1]);
	put64(h + 24, dst->w[0]);
	put64(h + 32, dst->w[1]);
}

/* Room for one record of len bytes in file `which`'s buffer, its record
 * header written: the caller builds the packet there.  NULL when nothing
 * is written (an earlier error, no file, or a failed rotation or flush). */
static uint8_t *rec_begin(struct trace *t, int which, size_t len, sim_time now)
{
	struct pcap_out *o = &t->out[which];
	struct pcap_rec h;

	if (t->err || !o->d)
		return NULL;
	if (t->max_bytes && o->bytes > PCAP_FILE_HDR &&
	    o->bytes + PCAP_REC_HDR + len > t->max_bytes) {
		unsigned next = o->index + 1;
		if (close_out(t, which) < 0 || open_out(t, which, next) < 0)
			return NULL;
	}
	h.sec = (uint32_t)(now / 1000000000ull);
	h.nsec = (uint32_t)(now % 1000000000ull); /* a nanosecond-resolution file */
	h.caplen = h.len = (uint32_t)len;
	if (o->vlen + sizeof(h) + len > VBUF_SIZE) {
		/* The stream is only written here and at close: a write error
		 * shows first here. */
		flush_out(o);
		if (ferror(o->fp)) {
			char path[1200];
			file_path(t, which, o->index, path, sizeof(path));
			fail(t, path, errno ? errno : EIO);
			return NULL;
		}
	}
	uint8_t *rec = (uint8_t *)o->vbuf + o->vlen;
	memcpy(rec, &h, sizeof(h));
	o->vlen += sizeof(h) + len; /* fits: see VBUF_SIZE */
	o->bytes += PCAP_REC_HDR + len;
	o->packets++;
	return rec + sizeof(h);
}

static void write_pkt(struct trace *t, int which, const uint8_t *pkt, size_t len,
		      sim_time now)
{
	uint8_t *p = rec_begin(t, which, len, now);
	if (p)
		memcpy(p, pkt, len);
}

/* The 16-bit one's complement sum of an IPv4 header (RFC 791). */
static uint16_t ip4_checksum(const uint8_t *h)
{
	uint32_t s = 0;
	for (int i = 0; i < 20; i += 2)
		s += (uint32_t)h[i] << 8 | h[i + 1];
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)~s;
}

/* A datagram between endpoint ep and the server as the real sockets sent
 * it: their addresses and ports, IPv4 or IPv6 (on loopback nothing is
 * fragmented), checksums filled in. */
static void record_real(struct trace *t, int which, uint32_t ep, enum trace_dir dir,
			const uint8_t *payload, size_t len, sim_time now)
{
	const struct real *r = t->real;
	if (ep >= r->n)
		return;
	bool v6 = r->family == AF_INET6;
	size_t ip = v6 ? IP6_HDR : 20, alen = v6 ? 16 : 4;
	const uint8_t *src = dir == TRACE_UP ? r->addr[ep] : r->srv;
	const uint8_t *dst = dir == TRACE_UP ? r->srv : r->addr[ep];
	uint16_t sport = dir == TRACE_UP ? r->port[ep] : r->srv_port;
	uint16_t dport = dir == TRACE_UP ? r->srv_port : r->port[ep];
	uint32_t ulen = (uint32_t)(UDP_HDR + len);
	uint8_t *p = rec_begin(t, which, ip + ulen, now);
	if (!p)
		return;
	uint8_t *u = p + ip;
	put16(u, sport);
	put16(u + 2, dport);
	put16(u + 4, ulen);
	u[6] = u[7] = 0;
	memcpy(u + UDP_HDR, payload, len);
	/* The pseudo-header: addresses, protocol 17, UDP length. */
	uint64_t sum = 0;
	for (size_t i = 0; i < alen; i += 2)
		sum += (uint32_t)src[i] << 8 | src[i + 1];
	for (size_t i = 0; i < alen; i += 2)
		sum += (uint32_t)dst[i] << 8 | dst[i + 1];
	sum += 17 + ulen;
	for (size_t i = 0; i < ulen; i += 2)
		sum += (uint32_t)u[i] << 8 | (i + 1 < ulen ? u[i + 1] : 0);
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	uint16_t ck = (uint16_t)~sum;
	put16(u + 6, ck ? ck : 0xffff);
	if (v6) {
		struct a6 a = a6_of(src), b = a6_of(dst);
		ip6_header(p, ulen, 17, &a, &b);
		return;
	}
	memset(p, 0, 20);
	p[0] = 0x45;
	put16(p + 2, (uint32_t)(20 + ulen));
	p[6] = 0x40; /* don't fragment */
	p[8] = 64;
	p[9] = 17;
	memcpy(p + 12, src, 4);
	memcpy(p + 16, dst, 4);
	put16(p + 10, ip4_checksum(p));
}

int trace_use_real(struct trace *t, uint32_t n_ep, const struct sockaddr *server)
{
	if (!t)
		return 0;
	struct real *r = calloc(1, sizeof(*r));
	if (!r || !(r->addr = calloc(n_ep ? n_ep : 1, sizeof(*r->addr))) ||
	    !(r->port = calloc(n_ep ? n_ep : 1, sizeof(*r->port)))) {
		if (r)
			free(r->addr);
		free(r);
		return SIM_ERR_NOMEM;
	}
	r->n = n_ep;
	r->family = server->sa_family;
	if (r->family == AF_INET6) {
		const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)(const void *)server;
		memcpy(r->srv, &a->sin6_addr, 16);
		r->srv_port = ntohs(a->sin6_port);
	} else {
		const struct sockaddr_in *a = (const struct sockaddr_in *)(const void *)server;
		memcpy(r->srv, &a->sin_addr, 4);
		r->srv_port = ntohs(a->sin_port);
	}
	t->real = r;
	return 0;
}

void trace_real_endpoint(struct trace *t, uint32_t ep, const struct sockaddr *local)
{
	if (!t || !t->real || ep >= t->real->n)
		return;
	struct real *r = t->real;
	if (local->sa_family == AF_INET6) {
		const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)(const void *)local;
		memcpy(r->addr[ep], &a->sin6_addr, 16);
		r->port[ep] = ntohs(a->sin6_port);
	} else {
		const struct sockaddr_in *a = (const struct sockaddr_in *)(const void *)local;
		memcpy(r->addr[ep], &a->sin_addr, 4);
		r->port[ep] = ntohs(a->sin_port);
	}
}

static void record(struct trace *t, int which, uint32_t ep, enum trace_dir dir,
		   uint32_t pkt_id, uint32_t mcast, const uint8_t *payload, size_t len,
		   sim_time now)
{
	struct a6 a_ep;
	const struct a6 *src, *dst;

	if (!t || t->err)
		return;
	if (len > SIM_MAX_DATAGRAM)
		len = SIM_MAX_DATAGRAM;
	if (t->real) {
		record_real(t, which, ep, dir, payload, len, now);
		return;
	}
	if (mcast && mcast != TRACE_TCP) {
		uint8_t b[16];
		trace_mcast_addr(mcast - 1, b);
		a_ep = a6_of(b);
	} else {
		a_ep = a6_endpoint(t->ep_prefix, ep);
	}
	src = dir == TRACE_UP ? &a_ep : &t->srv;
	dst = dir == TRACE_UP ? &t->srv : &a_ep;
	if (mcast == TRACE_TCP) {
		/* A TCP segment: checksum over the pseudo-header (RFC 8200 §8.1,
		 * next header 6) and the segment with its checksum field 0. */
		uint8_t *seg = t->pkt + IP6_HDR;
		memcpy(seg, payload, len);
		seg[16] = seg[17] = 0;
		put16(seg + 16, sum_fold(sum_add(pseudo_sum(src, dst, (uint32_t)len, 6), seg, len)));
		ip6_header(t->pkt, (uint32_t)len, 6, src, dst);
		write_pkt(t, which, t->pkt, IP6_HDR + len, now);
		return;
	}
	uint32_t mtu = t->mtu[dir];
	if (IP6_HDR + UDP_HDR + len <= mtu) {
		/* The common case: built where the file's buffer keeps it. */
		uint8_t *p = rec_begin(t, which, IP6_HDR + UDP_HDR + len, now);
		if (!p)
			return;
		size_t ulen = build_udp(t, p + IP6_HDR, src, dst, payload, len);
		ip6_header(p, (uint32_t)ulen, 17, src, dst);
		return;
	}
	size_t ulen = build_udp(t, t->dgram, src, dst, payload, len);
	/* RFC 8200 §4.5: fragments of at most `per` bytes of the datagram,
	 * a multiple of 8 except the last, behind a Fragment header. */
	size_t per = ((mtu - IP6_HDR - FRAG_HDR) / 8) * 8;
	for (size_t off = 0; off < ulen; off += per) {
		size_t n = ulen - off < per ? ulen - off : per;
		bool more = off + n < ulen;
		uint8_t *f = t->pkt + IP6_HDR;
		ip6_header(t->pkt, (uint32_t)(FRAG_HDR + n), 44, src, dst);
		f[0] = 17; /* next header: UDP */
		f[1] = 0;
		put16(f + 2, (uint32_t)((off / 8) << 3 | (more ? 1 : 0)));
		f[4] = (uint8_t)(pkt_id >> 24); f[5] = (uint8_t)(pkt_id >> 16);
		f[6] = (uint8_t)(pkt_id >> 8); f[7] = (uint8_t)pkt_id;
		memcpy(f + FRAG_HDR, t->dgram + off, n);
		write_pkt(t, which, t->pkt, IP6_HDR + FRAG_HDR + n, now);
	}
}

void trace_tx(struct trace *t, uint32_t ep, enum trace_dir dir, uint32_t pkt_id,
	      uint32_t mcast, const uint8_t *udp_payload, size_t len, sim_time now)
{
	record(t, 0, ep, dir, pkt_id, mcast, udp_payload, len, now);
}

void trace_rx(struct trace *t, uint32_t ep, enum trace_dir dir, uint32_t pkt_id,
	      uint32_t mcast, const uint8_t *udp_payload, size_t len, sim_time now)
{
	record(t, 1, ep, dir, pkt_id, mcast, udp_payload, len, now);
}

int trace_close(struct trace *t, char *err, size_t errlen)
{
	int rc;

	if (!t)
		return 0;
	close_out(t, 0);
	close_out(t, 1);
	if (t->pd)
		pcap_close(t->pd);
	rc = t->err;
	if (rc && err && errlen)
		snprintf(err, errlen, "%s", t->errmsg);
	if (t->real) {
		free(t->real->addr);
		free(t->real->port);
		free(t->real);
	}
	free(t);
	return rc;
}
