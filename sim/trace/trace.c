#include "trace.h"

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
/* Small enough to stay in the L2 cache with the other file's (4 MiB
 * buffers missed it on every record: 100k endpoints x 20 min with
 * captures took 4.4-5.8 s with 4 MiB, 3.1-3.8 s with 256 KiB, 2.7-3.4 s
 * with 64 KiB), large enough for the largest record. */
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

struct trace {
	pcap_t *pd;
	struct pcap_out out[2]; /* 0 = tx, 1 = rx */
	char dir[1024];
	char run_id[64];
	uint32_t mtu[2];
	uint64_t max_bytes;
	uint16_t port;
	int err;
	char errmsg[1536];
	uint8_t srv_addr[16]; /* trace_addr(UINT32_MAX) */
	uint8_t dgram[UDP_HDR + SIM_MAX_DATAGRAM];
	uint8_t pkt[IP6_HDR + FRAG_HDR + UDP_HDR + SIM_MAX_DATAGRAM];
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
	trace_addr(UINT32_MAX, t->srv_addr);
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
static uint64_t sum_add(uint64_t s, const uint8_t *p, size_t n)
{
	uint64_t w;

	for (; n >= 8; p += 8, n -= 8) {
		memcpy(&w, p, 8);
		s += w;
		s += s < w; /* end-around carry */
	}
	if (n) {
		w = 0;
		memcpy(&w, p, n);
		s += w;
		s += s < w;
	}
	return s;
}

/* The checksum field's value (big-endian order) for sum s. */
static uint16_t sum_fold(uint64_t s)
{
	s = (s & 0xffffffffu) + (s >> 32);
	s = (s & 0xffffffffu) + (s >> 32);
	s = (s & 0xffff) + (s >> 16);
	s = (s & 0xffff) + (s >> 16);
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	s = (s & 0xff) << 8 | s >> 8;
#endif
	return (uint16_t)~s;
}

/* Sum of the IPv6 pseudo-header (RFC 8200 §8.1): addresses, upper-layer
 * length, three zero bytes and the next header. */
static uint64_t pseudo_sum(const uint8_t src[16], const uint8_t dst[16], uint32_t len,
			   uint8_t next)
{
	uint8_t tail[8] = {(uint8_t)(len >> 24), (uint8_t)(len >> 16), (uint8_t)(len >> 8),
			   (uint8_t)len, 0, 0, 0, next};
	return sum_add(sum_add(sum_add(0, src, 16), dst, 16), tail, 8);
}

static void put16(uint8_t *p, uint32_t v) { p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v; }

/* The UDP datagram (header + payload) with the RFC 8200 §8.1 checksum, at u. */
static size_t build_udp(struct trace *t, uint8_t *u, const uint8_t src[16],
			const uint8_t dst[16], const uint8_t *payload, size_t len)
{
	size_t ulen = UDP_HDR + len;

	put16(u, t->port);
	put16(u + 2, t->port);
	put16(u + 4, (uint32_t)ulen);
	put16(u + 6, 0);
	memcpy(u + UDP_HDR, payload, len);
	uint16_t ck = sum_fold(sum_add(pseudo_sum(src, dst, (uint32_t)ulen, 17), u, ulen));
	put16(u + 6, ck ? ck : 0xffff); /* a zero checksum is sent as all ones */
	return ulen;
}

static void ip6_header(uint8_t *h, uint32_t payload_len, uint8_t next,
		       const uint8_t src[16], const uint8_t dst[16])
{
	h[0] = 0x60; h[1] = 0; h[2] = 0; h[3] = 0; /* version 6, TC 0, flow 0 */
	put16(h + 4, payload_len);
	h[6] = next;
	h[7] = 64; /* hop limit */
	memcpy(h + 8, src, 16);
	memcpy(h + 24, dst, 16);
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

static void record(struct trace *t, int which, uint32_t ep, enum trace_dir dir,
		   uint32_t pkt_id, uint32_t mcast, const uint8_t *payload, size_t len,
		   sim_time now)
{
	uint8_t a_ep[16];
	const uint8_t *src, *dst, *a_srv = t ? t->srv_addr : NULL;

	if (!t || t->err)
		return;
	if (len > SIM_MAX_DATAGRAM)
		len = SIM_MAX_DATAGRAM;
	if (mcast && mcast != TRACE_TCP)
		trace_mcast_addr(mcast - 1, a_ep);
	else
		trace_addr(ep, a_ep);
	src = dir == TRACE_UP ? a_ep : a_srv;
	dst = dir == TRACE_UP ? a_srv : a_ep;
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
	free(t);
	return rc;
}
