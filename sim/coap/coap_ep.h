/* CoAP endpoints, sans-I/O (RFC 7252 §4 message layer, §5 request/response).
 *
 * Neither the client nor the server reads a clock, owns a socket or keeps a
 * timer: every call takes `now` (and the datagram, if any), sends through the
 * env's callbacks, and afterwards *_expiry() says when the next call to
 * *_expire() is due.  The caller (a backend) arms its own timer for that.
 *
 * One coap_client is one device's request side.  One coap_srv_session is the
 * server's state about one peer (duplicate detection, pending separate
 * responses); the server application is the env's `request` callback. */
#ifndef COAPSIM_COAP_EP_H
#define COAPSIM_COAP_EP_H

#include <stdbool.h>
#include <stdint.h>

#include "../core/options.h"
#include "../core/sim.h"
#include "../engine/rng.h"
#include "coap_msg.h"

#ifndef COAP_DEDUP_SLOTS
#define COAP_DEDUP_SLOTS 8 /* recent request MIDs a server remembers per peer */
#endif

/* RFC 7252 §4.8 transmission parameters and the §4.8.2 derived times. */
struct coap_params {
	sim_time ack_timeout;
	double ack_random_factor;
	uint32_t max_retransmit;
	uint32_t nstart;
	sim_time max_transmit_span;  /* ACK_TIMEOUT*(2^MAX_RETRANSMIT-1)*RF */
	sim_time max_transmit_wait;  /* ACK_TIMEOUT*(2^(MAX_RETRANSMIT+1)-1)*RF */
	sim_time exchange_lifetime;  /* MAX_TRANSMIT_SPAN + 2*MAX_LATENCY + PROCESSING_DELAY */
	sim_time non_lifetime;       /* MAX_TRANSMIT_SPAN + MAX_LATENCY */
};

/* Fill the derived fields from the four base parameters (MAX_LATENCY 100 s,
 * PROCESSING_DELAY = ACK_TIMEOUT as in §4.8.2). */
void coap_params_derive(struct coap_params *p);

/* What a client sends for each application message. */
struct coap_req_tmpl {
	uint8_t type;  /* COAP_CON or COAP_NON */
	uint8_t code;  /* COAP_GET .. COAP_DELETE */
	const char *path; /* "/sensors/{id}": {id} becomes the endpoint id */
	uint32_t payload; /* request payload bytes (not for GET) */
};

enum coap_exch_state { EXCH_FREE, EXCH_WAIT_ACK, EXCH_WAIT_SEPARATE };

/* One outstanding request of a client. */
struct coap_exch {
	sim_time deadline; /* next retransmission or give-up; NEVER when none */
	sim_time first_tx;
	sim_time timeout;  /* current retransmission timeout */
	uint32_t token;    /* 4-byte token value */
	uint16_t mid;
	uint8_t state;     /* enum coap_exch_state */
	uint8_t tx;        /* transmissions so far */
};

enum coap_result {
	COAP_RES_COMPLETED,  /* ACK with response, or separate response */
	COAP_RES_TIMEOUT,    /* MAX_RETRANSMIT exhausted or separate never came */
	COAP_RES_RESET,      /* peer answered RST */
	COAP_RES_SENT,       /* NON request handed to the network (no outcome) */
};

struct coap_client;
struct coap_client_cb {
	/* Required: put a datagram on the wire.  x is the exchange a request
	 * belongs to (NULL for ACK/RST); retx says it repeats an earlier one. */
	void (*send)(void *ud, struct coap_client *c, const uint8_t *buf,
		     size_t len, const struct coap_exch *x, bool retx);
	/* Required: an exchange ended (x is valid only during the call). */
	void (*done)(void *ud, struct coap_client *c, const struct coap_exch *x,
		     enum coap_result r, const struct coap_msg *resp, sim_time now);
};

struct coap_client_env {
	const struct coap_params *p;
	const struct coap_req_tmpl *req;
	const struct coap_client_cb *cb;
	void *ud;
	struct sim_rng *rng;
	uint32_t id; /* the endpoint's number, for {id} */
};

struct coap_client {
	struct coap_exch *ex; /* nstart slots, caller-owned */
	uint32_t backlog;     /* messages waiting for an NSTART slot */
	uint32_t next_token;
	uint16_t next_mid;
	uint8_t n_active;
	uint8_t have_last_con;
	uint16_t last_con_mid; /* last separate response acknowledged */
};

/* slots: p->nstart exchanges owned by the caller.  Draws the initial MID and
 * token from env->rng (§4.4: MIDs should start randomised). */
void coap_client_init(struct coap_client *c, struct coap_exch *slots,
		      const struct coap_client_env *env);

/* The application has a message.  It goes out now if fewer than NSTART
 * exchanges are outstanding, else it waits in the backlog. */
void coap_client_request(struct coap_client *c, const struct coap_client_env *env,
			 sim_time now);

/* A datagram from the server. Malformed input is dropped (or RST for a
 * readable CON header); it never fails. */
void coap_client_recv(struct coap_client *c, const struct coap_client_env *env,
		      sim_time now, const uint8_t *buf, size_t len);

/* Handle every deadline <= now. */
void coap_client_expire(struct coap_client *c, const struct coap_client_env *env,
			sim_time now);

/* Next deadline, or SIM_TIME_NEVER. */
sim_time coap_client_expiry(const struct coap_client *c, uint32_t nstart);

/* ---- server side ---- */

enum coap_dedup_state { DEDUP_FREE, DEDUP_PROCESSING, DEDUP_PIGGYBACKED,
			DEDUP_SEPARATE };

struct coap_dedup {
	sim_time expiry;
	uint16_t mid;
	uint8_t state;   /* enum coap_dedup_state */
	uint8_t code;    /* response code for DEDUP_PIGGYBACKED */
	uint8_t acked;   /* an empty ACK went out (separate response) */
	uint8_t type;    /* request type */
};

enum coap_pend_state { PEND_FREE, PEND_PROCESSING, PEND_SEPARATE_WAIT_ACK };

struct coap_pending {
	sim_time deadline;  /* response ready, empty ACK due, or retransmit */
	sim_time ready_at;  /* when processing ends */
	sim_time timeout;
	uint8_t token[COAP_MAX_TOKEN];
	uint8_t tkl;
	uint8_t state;      /* enum coap_pend_state */
	uint8_t req_type;
	uint8_t code;       /* response code */
	uint8_t tx;
	uint8_t acked;      /* empty ACK sent */
	uint8_t dedup;      /* index into dedup[] */
	uint16_t req_mid;
	uint16_t resp_mid;
};

struct coap_srv_session {
	struct coap_dedup dedup[COAP_DEDUP_SLOTS];
	struct coap_pending *pend; /* nstart slots, caller-owned */
	uint16_t next_mid;
	uint8_t dedup_next;
	uint8_t n_pend; /* pend[] slots in use */
};

struct coap_srv_session_cb {
	/* Required: put a datagram on the wire towards this peer. */
	void (*send)(void *ud, struct coap_srv_session *s, const uint8_t *buf,
		     size_t len);
	/* Required: the application receives a new (not duplicate) request. */
	void (*request)(void *ud, struct coap_srv_session *s,
			const struct coap_msg *req, sim_time now);
};

struct coap_srv_env {
	const struct coap_params *p;
	const struct coap_srv_session_cb *cb;
	void *ud;
	struct sim_rng *rng;        /* processing delay and timeout draws */
	const struct dist *processing; /* ns */
	sim_time separate_after;
	uint32_t get_payload;       /* response payload to a GET, bytes */
};

void coap_srv_session_init(struct coap_srv_session *s, struct coap_pending *slots,
			   const struct coap_srv_env *env);
void coap_srv_session_recv(struct coap_srv_session *s,
			   const struct coap_srv_env *env, sim_time now,
			   const uint8_t *buf, size_t len);
void coap_srv_session_expire(struct coap_srv_session *s,
			     const struct coap_srv_env *env, sim_time now);
sim_time coap_srv_session_expiry(const struct coap_srv_session *s, uint32_t nstart);

#endif
