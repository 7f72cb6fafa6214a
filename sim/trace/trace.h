/* Packet capture of a run: two pcap files written with libpcap, nanosecond
 * timestamps in simulated time, LINKTYPE_RAW (bare IPv6 packets).
 *
 *   DIR/RUN.pcap     every packet each simulated host sends, including those
 *                    the channel then drops
 *   DIR/RUN.rx.pcap  what arrived (after loss, duplication, reordering)
 *
 * The caller hands over UDP payloads; the writer builds the IPv6 + UDP
 * headers (correct lengths and checksums) and, when the datagram exceeds the
 * MTU of its direction, IPv6 fragments (RFC 8200 §4.5) that Wireshark
 * reassembles.  Addresses: endpoint i is 2001:db8:1::/48 + (i + 1)
 * (2001:db8:1::1 for endpoint 0), the server 2001:db8::1; port 5683 on
 * both sides for CoAP, 5684 for a DTLS record (first byte a content type,
 * 20-25, where CoAP's first byte is 0x40-0x7f) (a live run's captures carry the real sockets'
 * addresses instead: trace_use_real).  With a size limit, files rotate: RUN.pcap, then
 * RUN.1.pcap, RUN.2.pcap ... none growing past the limit. */
#ifndef COAPSIM_TRACE_H
#define COAPSIM_TRACE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "../core/sim.h"

struct trace;

enum trace_dir { TRACE_UP = 0, TRACE_DOWN = 1 }; /* same values as net_dir */
#define TRACE_TCP UINT32_MAX

struct trace_cfg {
	const char *dir;     /* folder, created if missing (with parents) */
	const char *run_id;  /* "p0-r0" */
	uint32_t mtu_up, mtu_down;
	uint64_t max_bytes;  /* per file before rotation; 0 = no limit */
	uint16_t port;       /* UDP port on both ends, 5683 for CoAP */
	bool dtls;           /* some datagrams are DTLS records: those on 5684 */
	const uint8_t *server; /* the server's IPv6 address (16 bytes); NULL:
				* 2001:db8::1 */
};

/* Open both files.  Returns 0, SIM_ERR_NOMEM, or SIM_ERR_IO with a one-line
 * reason in err (e.g. "pcap/x: cannot create: Permission denied"). */
int trace_open(struct trace **out, const struct trace_cfg *cfg, char *err,
	       size_t errlen);

/* One datagram between endpoint ep and the server: sent (tx) or received (rx).
 * pkt_id is the channel's number for the datagram (the same in tx and rx); it
 * becomes the Fragment header's Identification when the datagram is split.
 * mcast is 0, or 1 + k for a request to multicast group k: its destination
 * is then the group's address (trace_mcast_addr) instead of endpoint ep's,
 * or TRACE_TCP: the bytes are a whole TCP segment (ports inside), written
 * behind an IPv6 header with its checksum filled in.
 * Errors are remembered and reported by trace_close (a write that failed
 * stops further writes). */
void trace_tx(struct trace *t, uint32_t ep, enum trace_dir dir, uint32_t pkt_id,
	      uint32_t mcast, const uint8_t *udp_payload, size_t len, sim_time now);
void trace_rx(struct trace *t, uint32_t ep, enum trace_dir dir, uint32_t pkt_id,
	      uint32_t mcast, const uint8_t *udp_payload, size_t len, sim_time now);

/* A live run: records carry the real sockets' addresses and ports instead
 * of the simulated ones (IPv4 or IPv6 as the server's address is), and
 * datagrams are not fragmented (loopback carries them whole).  server is
 * the target; each endpoint's own address comes by trace_real_endpoint.
 * Returns 0 or SIM_ERR_NOMEM. */
int trace_use_real(struct trace *t, uint32_t n_ep, const struct sockaddr *server);
void trace_real_endpoint(struct trace *t, uint32_t ep, const struct sockaddr *local);

/* Flush and close.  Returns 0 or SIM_ERR_IO (with the reason in err) when
 * any write failed (disk full, ...).  Frees t in every case. */
int trace_close(struct trace *t, char *err, size_t errlen);

/* The address of endpoint ep (or the server for ep == UINT32_MAX), 16 bytes. */
void trace_addr(uint32_t ep, uint8_t out[16]);

/* Multicast group k: ff05::fd for k = 0, ff05::1:fd, ff05::2:fd ...
 * (site-local scope, "All CoAP Nodes" low bits, RFC 7252 §12.8). */
void trace_mcast_addr(uint32_t k, uint8_t out[16]);

#endif
