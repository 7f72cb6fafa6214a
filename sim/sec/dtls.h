/* DTLS 1.2 on the simulator's clock, by a real library (mbedTLS): the
 * bytes, flights and retransmissions are the library's own.  With
 * `stream` it is TLS 1.2 over a byte stream (TCP) instead: records may
 * arrive split or joined, and the transport retransmits, not the library.  Sans-I/O like
 * the protocol cores: every call takes `now`, datagrams leave through a
 * callback, dtls_expiry() says when the library's retransmission timer
 * (RFC 6347 4.2.4) is due.  Knows no engine, channel or CoAP; the library
 * stays behind this interface (wolfSSL or tinydtls could replace it). */
#ifndef COAPSIM_DTLS_H
#define COAPSIM_DTLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "../core/sim.h"

/* A protected record's overhead with AES-128-CCM-8 (RFC 6655): 13 bytes of
 * DTLS record header, 8 of explicit nonce, 8 of tag. */
#define DTLS_CCM8_OVERHEAD 29
/* TLS's: a 5-byte record header, 8 of nonce, 8 of tag. */
#define TLS_CCM8_OVERHEAD 21

struct dtls_tickets; /* a server's ticket keys (RFC 5077): resumption without
		      * state per client */
struct dtls_session; /* a client's saved session: its ticket and master secret */
struct dtls_cert;    /* a server's P-256 ECDSA key and self-signed certificate */

enum dtls_suite {
	DTLS_SUITE_PSK_CCM8,         /* TLS_PSK_WITH_AES_128_CCM_8 (RFC 7925's) */
	DTLS_SUITE_ECDHE_ECDSA_CCM8, /* TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8 */
};

struct dtls_params {
	bool server;
	bool stream;                       /* TLS over a stream, not DTLS */
	struct dtls_tickets *tickets;      /* server: issue and accept tickets; NULL none */
	const struct dtls_session *resume; /* client: offer this session; NULL none */
	enum dtls_suite suite;
	const struct dtls_cert *cert; /* ECDHE-ECDSA: the server's; the client trusts it */
	FILE *keylog;                 /* client: NSS key log lines (CLIENT_RANDOM); NULL */
	const uint8_t *psk;      /* TLS_PSK_WITH_AES_128_CCM_8 (RFC 7925's default) */
	size_t psk_len;
	const char *identity;
	sim_time timeout_min, timeout_max; /* the handshake's retransmission timer */
	uint64_t seed;           /* the library's random numbers: per seed, one run */
};

struct dtls_cb {
	/* Required: a datagram (one or more records) for the peer. */
	void (*send)(void *ud, const uint8_t *buf, size_t len);
	/* Required: application data arrived. */
	void (*data)(void *ud, const uint8_t *buf, size_t len);
};

struct dtls_stats {
	uint64_t datagrams, bytes;             /* sent: handshake and records */
	uint64_t handshake_datagrams, handshake_bytes;
	uint64_t app_records, overhead_bytes;  /* headers, nonces, tags of app data */
	sim_time handshake_done;               /* or SIM_TIME_NEVER */
};

struct dtls_peer;

/* NULL with the reason in err: no memory, or the library refused. */
struct dtls_peer *dtls_new(const struct dtls_params *p, const struct dtls_cb *cb, void *ud,
			   char *err, size_t errlen);
void dtls_free(struct dtls_peer *d);

/* Client: the first ClientHello. */
void dtls_start(struct dtls_peer *d, sim_time now);
/* A datagram from the peer. */
void dtls_recv(struct dtls_peer *d, sim_time now, const uint8_t *buf, size_t len);
/* Application data, once established: 0, or SIM_ERR_INVAL. */
int dtls_write(struct dtls_peer *d, sim_time now, const uint8_t *buf, size_t len);

sim_time dtls_expiry(const struct dtls_peer *d);
void dtls_expire(struct dtls_peer *d, sim_time now);

/* A server key and certificate from the seed (the same every run). */
struct dtls_cert *dtls_cert_new(uint64_t seed, char *err, size_t errlen);
void dtls_cert_free(struct dtls_cert *c);

/* Ticket keys for a run's server, from the seed; tickets older than
 * lifetime are refused (a full handshake then).  NULL with the reason. */
struct dtls_tickets *dtls_tickets_new(uint64_t seed, sim_time lifetime, char *err,
				      size_t errlen);
void dtls_tickets_free(struct dtls_tickets *t);

/* An established client's session, to resume later (NULL: no memory);
 * dtls_session_free(NULL) does nothing. */
struct dtls_session *dtls_session_save(const struct dtls_peer *d);
void dtls_session_free(struct dtls_session *s);
/* The last handshake was abbreviated (a session resumed). */
bool dtls_resumed(const struct dtls_peer *d);

/* Memory a peer holds once its handshake is over: its context, the
 * library's record buffers, session and keys (for refusing runs that
 * would not fit, before they start). */
size_t dtls_peer_bytes(void);

bool dtls_established(const struct dtls_peer *d);
bool dtls_failed(const struct dtls_peer *d);
const struct dtls_stats *dtls_stats(const struct dtls_peer *d);

#endif
