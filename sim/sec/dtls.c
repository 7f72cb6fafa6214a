/* dtls.h by mbedTLS 2.28 (Debian's libmbedtls-dev).  Knows no engine or
 * CoAP.  Determinism: the library's random numbers come from a CTR-DRBG
 * seeded from the run's seed, its clock (the Hello randoms' first four
 * bytes are time(), RFC 5246 7.4.1.2) is the simulated one while it runs,
 * and the server's cookie (RFC 6347 4.2.1) is made here from the seed and
 * the ClientHello, so a seed gives the same bytes on every run. */
#include "dtls.h"

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/error.h>
#include <mbedtls/ssl.h>
#include <mbedtls/ssl_ticket.h>
#include <mbedtls/x509_crt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct dtls_peer {
	mbedtls_ssl_context ssl;
	mbedtls_ssl_config conf;
	mbedtls_ctr_drbg_context drbg;
	const struct dtls_cb *cb;
	void *ud;
	bool server, established, failed;
	sim_time now, int_at, fin_at; /* the library's timer: intermediate, final */
	const uint8_t *in;           /* the datagram being read */
	size_t in_len;
	bool stream;                 /* TLS: the bytes received, not yet read */
	uint8_t *sin;
	size_t sin_len, sin_off, sin_cap;
	uint8_t *sout;               /* TLS: the records of this call, sent at its end */
	size_t sout_len, sout_cap;
	uint64_t ent;                /* the DRBG's entropy: splitmix64 of the seed */
	uint64_t cookie_key;
	int suites[2];
	bool resumed;
	unsigned char resume_id[32]; /* client: the id of the session offered */
	size_t resume_id_len;
	struct dtls_stats st;
};

struct dtls_tickets {
	mbedtls_ssl_ticket_context ctx;
	mbedtls_ctr_drbg_context drbg;
	uint64_t ent;
};

struct dtls_session {
	mbedtls_ssl_session s;
};

struct dtls_cert {
	mbedtls_pk_context pk;
	mbedtls_x509_crt crt;
	mbedtls_ctr_drbg_context drbg;
	uint64_t ent;
};

/* ---- the simulated clock for the library's time() ----
 *
 * mbedTLS calls libc's time() (MBEDTLS_HAVE_TIME without a platform
 * hook in Debian's build).  This definition interposes it for the process:
 * while a dtls call runs on this thread it answers the simulated time in
 * seconds, else the real time. */
static _Thread_local const sim_time *sim_clock;

time_t time(time_t *t)
{
	time_t v;
	if (sim_clock) {
		v = (time_t)(*sim_clock / SIM_S(1));
	} else {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		v = ts.tv_sec;
	}
	if (t)
		*t = v;
	return v;
}

static int entropy(void *ctx, unsigned char *out, size_t len)
{
	uint64_t *s = ctx;
	for (size_t i = 0; i < len; i++) {
		uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
		z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
		z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
		out[i] = (unsigned char)(z ^ (z >> 31));
	}
	return 0;
}

static int bio_send(void *ctx, const unsigned char *buf, size_t len)
{
	struct dtls_peer *d = ctx;
	d->st.datagrams++;
	d->st.bytes += len;
	if (!d->established) {
		d->st.handshake_datagrams++;
		d->st.handshake_bytes += len;
	}
	if (d->stream) {
		/* A flight's records leave in one write at the end of the call,
		 * as OpenSSL's buffered BIO sends them (mbedTLS flushes each
		 * message: over TCP with Nagle each would wait a round trip). */
		if (d->sout_len + len > d->sout_cap) {
			size_t cap = (d->sout_len + len) * 2;
			uint8_t *p = realloc(d->sout, cap);
			if (!p)
				return MBEDTLS_ERR_SSL_ALLOC_FAILED;
			d->sout = p;
			d->sout_cap = cap;
		}
		memcpy(d->sout + d->sout_len, buf, len);
		d->sout_len += len;
		return (int)len;
	}
	d->cb->send(d->ud, buf, len);
	return (int)len;
}

/* TLS: what this call wrote, to the transport in one piece. */
static void flush(struct dtls_peer *d)
{
	if (d->stream && d->sout_len) {
		size_t n = d->sout_len;
		d->sout_len = 0;
		d->cb->send(d->ud, d->sout, n);
	}
}

static int bio_recv(void *ctx, unsigned char *buf, size_t len)
{
	struct dtls_peer *d = ctx;
	if (d->stream) {
		size_t n = d->sin_len - d->sin_off;
		if (!n)
			return MBEDTLS_ERR_SSL_WANT_READ;
		n = n < len ? n : len;
		memcpy(buf, d->sin + d->sin_off, n);
		d->sin_off += n;
		return (int)n;
	}
	if (!d->in)
		return MBEDTLS_ERR_SSL_WANT_READ;
	size_t n = d->in_len < len ? d->in_len : len;
	memcpy(buf, d->in, n);
	d->in = NULL;
	return (int)n;
}

static void set_timer(void *ctx, uint32_t int_ms, uint32_t fin_ms)
{
	struct dtls_peer *d = ctx;
	if (!fin_ms) {
		d->int_at = d->fin_at = SIM_TIME_NEVER;
		return;
	}
	d->int_at = d->now + SIM_MS(int_ms);
	d->fin_at = d->now + SIM_MS(fin_ms);
}

static int get_timer(void *ctx)
{
	const struct dtls_peer *d = ctx;
	if (d->fin_at == SIM_TIME_NEVER)
		return -1;
	if (d->now >= d->fin_at)
		return 2;
	return d->now >= d->int_at ? 1 : 0;
}

/* The NSS key log line of a session (what Wireshark's tls.keylog_file
 * reads): CLIENT_RANDOM, the client's random, the master secret. */
static int export_keys(void *p, const unsigned char *ms, const unsigned char *kb, size_t maclen,
		       size_t keylen, size_t ivlen, const unsigned char client_random[32],
		       const unsigned char server_random[32], mbedtls_tls_prf_types prf)
{
	FILE *f = p;
	(void)kb;
	(void)maclen;
	(void)keylen;
	(void)ivlen;
	(void)server_random;
	(void)prf;
	fputs("CLIENT_RANDOM ", f);
	for (int i = 0; i < 32; i++)
		fprintf(f, "%02x", client_random[i]);
	fputc(' ', f);
	for (int i = 0; i < 48; i++)
		fprintf(f, "%02x", ms[i]);
	fputc('\n', f);
	return 0;
}

/* The server's cookie: a function of the seed and the client's transport
 * id, so a client sending its ClientHello again gets the same one. */
static int cookie_write(void *ctx, unsigned char **p, unsigned char *end,
			const unsigned char *cli_id, size_t cli_id_len)
{
	const struct dtls_peer *d = ctx;
	if (end - *p < 16)
		return MBEDTLS_ERR_SSL_BUFFER_TOO_SMALL;
	uint64_t h = 0xcbf29ce484222325ull ^ d->cookie_key;
	for (size_t i = 0; i < cli_id_len; i++)
		h = (h ^ cli_id[i]) * 0x100000001b3ull;
	for (int i = 0; i < 16; i++, h = h * 0x100000001b3ull + 0x9e37)
		*(*p)++ = (unsigned char)(h >> 56);
	return 0;
}

static int cookie_check(void *ctx, const unsigned char *cookie, size_t len,
			const unsigned char *cli_id, size_t cli_id_len)
{
	unsigned char want[16], *p = want;
	if (len != 16 || cookie_write(ctx, &p, want + 16, cli_id, cli_id_len))
		return -1;
	return memcmp(want, cookie, 16) ? -1 : 0;
}

struct dtls_peer *dtls_new(const struct dtls_params *p, const struct dtls_cb *cb, void *ud,
			   char *err, size_t errlen)
{
	struct dtls_peer *d = calloc(1, sizeof(*d));
	if (!d) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	d->cb = cb;
	d->ud = ud;
	d->server = p->server;
	d->stream = p->stream;
	d->ent = p->seed ^ (p->server ? 0x5e7e7ull : 0xc1e47ull);
	d->cookie_key = p->seed;
	d->int_at = d->fin_at = d->st.handshake_done = SIM_TIME_NEVER;
	mbedtls_ssl_init(&d->ssl);
	mbedtls_ssl_config_init(&d->conf);
	mbedtls_ctr_drbg_init(&d->drbg);
	int rc = mbedtls_ctr_drbg_seed(&d->drbg, entropy, &d->ent, NULL, 0);
	if (!rc)
		rc = mbedtls_ssl_config_defaults(&d->conf,
						 p->server ? MBEDTLS_SSL_IS_SERVER : MBEDTLS_SSL_IS_CLIENT,
						 p->stream ? MBEDTLS_SSL_TRANSPORT_STREAM
							   : MBEDTLS_SSL_TRANSPORT_DATAGRAM,
						 MBEDTLS_SSL_PRESET_DEFAULT);
	if (!rc) {
		mbedtls_ssl_conf_rng(&d->conf, mbedtls_ctr_drbg_random, &d->drbg);
		bool ecdsa = p->suite == DTLS_SUITE_ECDHE_ECDSA_CCM8;
		d->suites[0] = ecdsa ? MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8
				     : MBEDTLS_TLS_PSK_WITH_AES_128_CCM_8;
		mbedtls_ssl_conf_ciphersuites(&d->conf, d->suites);
		mbedtls_ssl_conf_handshake_timeout(&d->conf, (uint32_t)(p->timeout_min / SIM_MS(1)),
						   (uint32_t)(p->timeout_max / SIM_MS(1)));
		if (ecdsa && !p->cert) {
			rc = MBEDTLS_ERR_SSL_BAD_INPUT_DATA;
		} else if (ecdsa && p->server) {
			rc = mbedtls_ssl_conf_own_cert(&d->conf, (mbedtls_x509_crt *)&p->cert->crt,
						       (mbedtls_pk_context *)&p->cert->pk);
		} else if (ecdsa) {
			/* the client verifies the chain: its one certificate */
			mbedtls_ssl_conf_ca_chain(&d->conf, (mbedtls_x509_crt *)&p->cert->crt, NULL);
			mbedtls_ssl_conf_authmode(&d->conf, MBEDTLS_SSL_VERIFY_REQUIRED);
		} else {
			rc = mbedtls_ssl_conf_psk(&d->conf, p->psk, p->psk_len,
						  (const unsigned char *)p->identity,
						  strlen(p->identity));
		}
		if (!p->server && p->keylog)
			mbedtls_ssl_conf_export_keys_ext_cb(&d->conf, export_keys, p->keylog);
	}
	if (!rc && p->server && !p->stream)
		mbedtls_ssl_conf_dtls_cookies(&d->conf, cookie_write, cookie_check, d);
	if (!rc && p->server && p->tickets)
		mbedtls_ssl_conf_session_tickets_cb(&d->conf, mbedtls_ssl_ticket_write,
						    mbedtls_ssl_ticket_parse, &p->tickets->ctx);
	if (!rc)
		rc = mbedtls_ssl_setup(&d->ssl, &d->conf);
	if (!rc && p->server && !p->stream)
		rc = mbedtls_ssl_set_client_transport_id(&d->ssl, (const unsigned char *)"peer", 4);
	if (!rc && !p->server && p->resume) {
		rc = mbedtls_ssl_set_session(&d->ssl, &p->resume->s);
		d->resume_id_len = p->resume->s.id_len;
		memcpy(d->resume_id, p->resume->s.id, d->resume_id_len);
	}
	if (rc) {
		char why[128];
		mbedtls_strerror(rc, why, sizeof(why));
		snprintf(err, errlen, "mbedTLS: %s", why);
		dtls_free(d);
		return NULL;
	}
	mbedtls_ssl_set_timer_cb(&d->ssl, d, set_timer, get_timer);
	mbedtls_ssl_set_bio(&d->ssl, d, bio_send, bio_recv, NULL);
	return d;
}

void dtls_free(struct dtls_peer *d)
{
	if (!d)
		return;
	mbedtls_ssl_free(&d->ssl);
	mbedtls_ssl_config_free(&d->conf);
	mbedtls_ctr_drbg_free(&d->drbg);
	free(d->sin);
	free(d->sout);
	free(d);
}

/* Drive the library at `now`: the handshake, then whatever data came. */
static void step(struct dtls_peer *d, sim_time now)
{
	d->now = now;
	sim_clock = &d->now;
	while (!d->established && !d->failed) {
		int rc = mbedtls_ssl_handshake(&d->ssl);
		if (rc == 0) {
			d->established = true;
			d->st.handshake_done = now;
			/* Resumed: the server echoed the offered session's id
			 * (RFC 5077 3.4), the session it accepted. */
			d->resumed = d->resume_id_len && d->ssl.session &&
				     d->ssl.session->id_len == d->resume_id_len &&
				     !memcmp(d->ssl.session->id, d->resume_id, d->resume_id_len);
		} else if (rc == MBEDTLS_ERR_SSL_HELLO_VERIFY_REQUIRED) {
			/* the cookie went out: start again, for the ClientHello with it */
			mbedtls_ssl_session_reset(&d->ssl);
			mbedtls_ssl_set_client_transport_id(&d->ssl, (const unsigned char *)"peer", 4);
		} else if (rc == MBEDTLS_ERR_SSL_WANT_READ || rc == MBEDTLS_ERR_SSL_WANT_WRITE) {
			break; /* a flight is out: wait for the peer or the timer */
		} else {
			/* MBEDTLS_ERR_SSL_TIMEOUT: past timeout_max; or a fatal alert */
			d->failed = true;
		}
	}
	if (d->established) {
		unsigned char buf[2048];
		for (;;) {
			int n = mbedtls_ssl_read(&d->ssl, buf, sizeof(buf));
			if (n <= 0)
				break;
			d->cb->data(d->ud, buf, (size_t)n);
		}
	}
	flush(d);
	sim_clock = NULL;
}

void dtls_start(struct dtls_peer *d, sim_time now)
{
	step(d, now);
}

void dtls_recv(struct dtls_peer *d, sim_time now, const uint8_t *buf, size_t len)
{
	if (d->stream) {
		if (!len)
			return; /* nothing new to read */
		/* append; what a previous read left (part of a record) first */
		if (d->sin_off) {
			memmove(d->sin, d->sin + d->sin_off, d->sin_len - d->sin_off);
			d->sin_len -= d->sin_off;
			d->sin_off = 0;
		}
		if (d->sin_len + len > d->sin_cap) {
			size_t cap = (d->sin_len + len) * 2;
			uint8_t *p = realloc(d->sin, cap);
			if (!p) {
				d->failed = true;
				return;
			}
			d->sin = p;
			d->sin_cap = cap;
		}
		memcpy(d->sin + d->sin_len, buf, len);
		d->sin_len += len;
		step(d, now);
		return;
	}
	d->in = buf;
	d->in_len = len;
	step(d, now);
	d->in = NULL;
}

int dtls_write(struct dtls_peer *d, sim_time now, const uint8_t *buf, size_t len)
{
	if (!d->established)
		return SIM_ERR_INVAL;
	d->now = now;
	sim_clock = &d->now;
	uint64_t b0 = d->st.bytes;
	int n = mbedtls_ssl_write(&d->ssl, buf, len);
	flush(d);
	sim_clock = NULL;
	if (n < 0 || (size_t)n != len)
		return SIM_ERR_INVAL;
	d->st.app_records++;
	d->st.overhead_bytes += d->st.bytes - b0 - len;
	return 0;
}

sim_time dtls_expiry(const struct dtls_peer *d)
{
	if (d->established || d->failed)
		return SIM_TIME_NEVER;
	return d->fin_at;
}

void dtls_expire(struct dtls_peer *d, sim_time now)
{
	if (now >= d->fin_at)
		step(d, now); /* the library retransmits its last flight */
}

struct dtls_cert *dtls_cert_new(uint64_t seed, char *err, size_t errlen)
{
	struct dtls_cert *c = calloc(1, sizeof(*c));
	if (!c) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	c->ent = seed ^ 0xce27ull;
	mbedtls_pk_init(&c->pk);
	mbedtls_x509_crt_init(&c->crt);
	mbedtls_ctr_drbg_init(&c->drbg);
	mbedtls_x509write_cert w;
	mbedtls_x509write_crt_init(&w);
	mbedtls_mpi serial;
	mbedtls_mpi_init(&serial);
	unsigned char der[1024];
	int rc = mbedtls_ctr_drbg_seed(&c->drbg, entropy, &c->ent, NULL, 0);
	if (!rc)
		rc = mbedtls_pk_setup(&c->pk, mbedtls_pk_info_from_type(MBEDTLS_PK_ECKEY));
	if (!rc)
		rc = mbedtls_ecp_gen_key(MBEDTLS_ECP_DP_SECP256R1, mbedtls_pk_ec(c->pk),
					 mbedtls_ctr_drbg_random, &c->drbg);
	if (!rc)
		rc = mbedtls_mpi_lset(&serial, 1);
	if (!rc) {
		mbedtls_x509write_crt_set_md_alg(&w, MBEDTLS_MD_SHA256);
		mbedtls_x509write_crt_set_subject_key(&w, &c->pk);
		mbedtls_x509write_crt_set_issuer_key(&w, &c->pk);
		rc = mbedtls_x509write_crt_set_subject_name(&w, "CN=coapsim server");
	}
	if (!rc)
		rc = mbedtls_x509write_crt_set_issuer_name(&w, "CN=coapsim server");
	if (!rc)
		rc = mbedtls_x509write_crt_set_serial(&w, &serial);
	/* valid over the whole simulated clock (its seconds count from 1970) */
	if (!rc)
		rc = mbedtls_x509write_crt_set_validity(&w, "19700101000000", "20991231235959");
	if (!rc)
		rc = mbedtls_x509write_crt_set_basic_constraints(&w, 1, -1);
	int n = rc ? rc
		   : mbedtls_x509write_crt_der(&w, der, sizeof(der), mbedtls_ctr_drbg_random,
					       &c->drbg);
	rc = n < 0 ? n : mbedtls_x509_crt_parse_der(&c->crt, der + sizeof(der) - n, (size_t)n);
	mbedtls_x509write_crt_free(&w);
	mbedtls_mpi_free(&serial);
	if (rc) {
		char why[128];
		mbedtls_strerror(rc, why, sizeof(why));
		snprintf(err, errlen, "mbedTLS: %s", why);
		dtls_cert_free(c);
		return NULL;
	}
	return c;
}

void dtls_cert_free(struct dtls_cert *c)
{
	if (!c)
		return;
	mbedtls_pk_free(&c->pk);
	mbedtls_x509_crt_free(&c->crt);
	mbedtls_ctr_drbg_free(&c->drbg);
	free(c);
}

struct dtls_tickets *dtls_tickets_new(uint64_t seed, sim_time lifetime, char *err,
				      size_t errlen)
{
	struct dtls_tickets *t = calloc(1, sizeof(*t));
	if (!t) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	t->ent = seed ^ 0x71c4e75ull;
	mbedtls_ssl_ticket_init(&t->ctx);
	mbedtls_ctr_drbg_init(&t->drbg);
	/* The key's generation time is read from the clock: the simulated
	 * one, at its start. */
	sim_time zero = 0;
	sim_clock = &zero;
	int rc = mbedtls_ctr_drbg_seed(&t->drbg, entropy, &t->ent, NULL, 0);
	if (!rc)
		rc = mbedtls_ssl_ticket_setup(&t->ctx, mbedtls_ctr_drbg_random, &t->drbg,
					      MBEDTLS_CIPHER_AES_128_GCM,
					      (uint32_t)(lifetime / SIM_S(1)));
	sim_clock = NULL;
	if (rc) {
		char why[128];
		mbedtls_strerror(rc, why, sizeof(why));
		snprintf(err, errlen, "mbedTLS: %s", why);
		dtls_tickets_free(t);
		return NULL;
	}
	return t;
}

void dtls_tickets_free(struct dtls_tickets *t)
{
	if (!t)
		return;
	mbedtls_ssl_ticket_free(&t->ctx);
	mbedtls_ctr_drbg_free(&t->drbg);
	free(t);
}

struct dtls_session *dtls_session_save(const struct dtls_peer *d)
{
	struct dtls_session *s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	mbedtls_ssl_session_init(&s->s);
	if (!d->established || mbedtls_ssl_get_session(&d->ssl, &s->s)) {
		dtls_session_free(s);
		return NULL;
	}
	return s;
}

void dtls_session_free(struct dtls_session *s)
{
	if (!s)
		return;
	mbedtls_ssl_session_free(&s->s);
	free(s);
}

bool dtls_resumed(const struct dtls_peer *d) { return d->resumed; }

size_t dtls_peer_bytes(void)
{
	/* Each record buffer is its content length plus a record's header,
	 * IV, MAC and padding (MBEDTLS_SSL_PAYLOAD_OVERHEAD, at most ~350
	 * bytes); the transform (keys, cipher contexts) under 2 KB. */
	return sizeof(struct dtls_peer) + MBEDTLS_SSL_IN_CONTENT_LEN + MBEDTLS_SSL_OUT_CONTENT_LEN +
	       2 * 512 + sizeof(mbedtls_ssl_session) + 2048;
}

bool dtls_established(const struct dtls_peer *d) { return d->established; }
bool dtls_failed(const struct dtls_peer *d) { return d->failed; }
const struct dtls_stats *dtls_stats(const struct dtls_peer *d) { return &d->st; }
