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
#include "cocoa.h"

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

/* A request's path, cut once into what each request is built from: runs
 * of the template copied as they are, {id}, and the end of a segment. */
enum coap_piece_kind { COAP_PIECE_TEXT, COAP_PIECE_ID, COAP_PIECE_END };
struct coap_path_piece {
	uint8_t kind; /* enum coap_piece_kind */
	uint8_t off, len; /* COAP_PIECE_TEXT: bytes of path */
};
#define COAP_MAX_PIECES (COAP_MAX_PATH + 1)

/* What a client sends for each application message. */
struct coap_req_tmpl {
	uint8_t type;  /* COAP_CON or COAP_NON */
	uint8_t code;  /* COAP_GET .. COAP_DELETE */
	const char *path; /* "/sensors/{id}": {id} becomes the endpoint id;
			   * its first COAP_MAX_PATH - 1 bytes are used */
	uint32_t payload; /* request payload bytes (not for GET) */
	uint32_t block_size; /* RFC 7959: Block1 for larger POST/PUT bodies,
			      * Block2 for GET; 0 = no block-wise transfer */
	/* Filled by coap_req_tmpl_prepare() (0 pieces: not prepared, and
	 * each request cuts the path itself). */
	uint8_t n_piece;
	struct coap_path_piece piece[COAP_MAX_PIECES];
};

/* Cut t->path into pieces; call again whenever t->path changes. */
void coap_req_tmpl_prepare(struct coap_req_tmpl *t);

enum coap_exch_state { COAP_EXCH_FREE, COAP_EXCH_WAIT_ACK, COAP_EXCH_WAIT_SEPARATE };

/* What an exchange is for. */
enum coap_exch_kind {
	COAP_KIND_REQUEST,   /* an application message (maybe block by block) */
	COAP_KIND_OBS_REG,   /* GET with Observe = 0 (RFC 7641 §3.1) */
	COAP_KIND_OBS_DEREG, /* GET with Observe = 1 (RFC 7641 §3.6) */
};

/* One outstanding request of a client (a cache line each: a run keeps one
 * per endpoint and touches it once per message). */
struct coap_exch {
	SIM_LINE_ALIGNED sim_time deadline; /* next retransmission or give-up; NEVER when none */
	sim_time first_tx;
	sim_time timeout;  /* current retransmission timeout */
	sim_time tx0;      /* first transmission of the current block */
	uint32_t token;    /* 4-byte token value */
	uint32_t blk;      /* block number being transferred (Block1/Block2) */
	uint32_t rto0_us;  /* initial timeout of the latest block, us (RTO trace) */
	uint16_t mid;
	uint16_t total_tx; /* transmissions of every block of the message */
	uint8_t state;     /* enum coap_exch_state */
	uint8_t tx;        /* transmissions of the current block */
	uint8_t kind;      /* enum coap_exch_kind */
	uint8_t vbf;       /* CoCoA backoff factor x 10 */
};

enum coap_result {
	COAP_RES_COMPLETED,  /* ACK with response, or separate response */
	COAP_RES_TIMEOUT,    /* MAX_RETRANSMIT exhausted or separate never came */
	COAP_RES_RESET,      /* peer answered RST */
	COAP_RES_SENT,       /* NON request handed to the network (no outcome) */
	COAP_RES_ERROR,      /* confirmed with an error code (4.xx, 5.xx) */
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
	/* Optional: an Observe notification arrived; fresh per RFC 7641 §3.4. */
	void (*notified)(void *ud, struct coap_client *c, uint32_t seq, bool fresh,
			 bool con, sim_time now);
};

struct coap_client_env {
	const struct coap_params *p;
	const struct coap_req_tmpl *req;
	const struct coap_client_cb *cb;
	void *ud;
	struct sim_rng *rng;
	uint32_t id; /* the endpoint's number, for {id} */
	struct cocoa *cc; /* CoCoA state for the server, or NULL: RFC 7252 timers */
};

struct coap_client {
	struct coap_exch *ex; /* nstart slots, caller-owned */
	uint32_t backlog;     /* messages waiting for an NSTART slot */
	uint32_t next_token;
	uint16_t next_mid;
	uint8_t n_active;
	uint8_t have_last_con;
	uint16_t last_con_mid; /* last separate response acknowledged */
	uint8_t obs_active;    /* registered as an observer */
	uint32_t obs_token;
	uint32_t obs_seq;      /* Observe value of the freshest notification */
	sim_time obs_time;     /* when it arrived */
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

/* RFC 7641: register as an observer of the endpoint's resource (a GET with
 * Observe = 0), or cancel the registration (GET with Observe = 1 and the
 * registration's token).  Both are requests subject to NSTART. */
void coap_client_observe(struct coap_client *c, const struct coap_client_env *env,
			 sim_time now);
void coap_client_cancel_observe(struct coap_client *c,
				const struct coap_client_env *env, sim_time now);

/* ---- server side ---- */

enum coap_dedup_state { COAP_DEDUP_FREE, COAP_DEDUP_PROCESSING, COAP_DEDUP_PIGGYBACKED,
			COAP_DEDUP_SEPARATE };

struct coap_dedup {
	sim_time expiry;
	uint16_t mid;
	uint8_t state;   /* enum coap_dedup_state */
	uint8_t code;    /* response code for COAP_DEDUP_PIGGYBACKED */
	uint8_t acked;   /* an empty ACK went out (separate response) */
	uint8_t type;    /* request type */
};

enum coap_pend_state { COAP_PEND_FREE, COAP_PEND_PROCESSING, COAP_PEND_SEPARATE_WAIT_ACK };

/* Options and payload a response carries beyond type, code and token. */
struct coap_resp_extra {
	uint32_t payload;  /* payload bytes */
	uint32_t blk_val;  /* Block1/Block2 value when blk_opt != 0 */
	uint32_t size_val; /* Size1/Size2 value when size_opt != 0 */
	uint32_t obs;      /* Observe value when has_obs */
	uint8_t blk_opt;
	uint8_t size_opt;
	uint8_t has_obs;
};

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
	struct coap_resp_extra extra;
};

/* The server's state about one observer (RFC 7641 §4). */
struct coap_observer {
	sim_time next_notify; /* next state change to notify */
	sim_time deadline;    /* CON notification retransmission */
	sim_time timeout;
	sim_time last_con;    /* last CON notification sent */
	uint32_t seq;         /* Observe value of the latest notification */
	uint8_t token[COAP_MAX_TOKEN];
	uint8_t tkl;
	uint8_t in_flight;    /* a CON notification awaits its ACK */
	uint8_t tx;
	uint16_t mid;
};

struct coap_srv_session {
	struct coap_pending *pend; /* nstart slots, caller-owned */
	uint16_t next_mid;
	uint8_t dedup_next;
	uint8_t n_pend; /* pend[] slots in use */
	uint8_t b1_active;
	uint8_t obs_active;   /* an observer is registered (its state: env->obs) */
	uint32_t b1_next;     /* Block1: next block number expected */
	struct coap_dedup dedup[COAP_DEDUP_SLOTS];
};

struct coap_srv_session_cb {
	/* Required: put a datagram on the wire towards this peer. */
	void (*send)(void *ud, struct coap_srv_session *s, const uint8_t *buf,
		     size_t len);
	/* Required: the application receives a new (not duplicate) request;
	 * for a Block1 transfer, when its last block arrives. */
	void (*request)(void *ud, struct coap_srv_session *s,
			const struct coap_msg *req, sim_time now);
	/* Optional: a notification went out (first transmission only). */
	void (*notify)(void *ud, struct coap_srv_session *s, uint32_t seq, bool con,
		       sim_time now);
	/* Optional: an observer was removed (deregistered, RST, timed out). */
	void (*unobserved)(void *ud, struct coap_srv_session *s, bool timed_out,
			   sim_time now);
	/* Optional: a duplicate CON request was answered again from the
	 * duplicate-detection memory (§4.5: its ACK, with the response or
	 * empty, went out once more).  Not called for a duplicate NON, nor
	 * for one that arrives while its piggybacked response is pending. */
	void (*dedup_answer)(void *ud, struct coap_srv_session *s, sim_time now);
};

struct coap_srv_env {
	const struct coap_params *p;
	const struct coap_srv_session_cb *cb;
	void *ud;
	struct sim_rng *rng;        /* processing delay and timeout draws */
	const struct dist *processing; /* ns */
	sim_time separate_after;
	uint32_t get_payload;       /* response payload to a GET, bytes */
	uint32_t max_body;          /* largest Block1 body; more gets 4.13 */
	sim_time notify_interval;   /* Observe: the resource changes this often */
	bool notify_con;            /* notifications are CON (else NON) */
	sim_time notify_con_interval; /* a CON notification at least this often */
	sim_time notify_until;      /* the resource stops changing here */
	/* The observer's state, kept by the caller apart from the session
	 * (most peers never observe, and a request then reads 3 lines of
	 * session, not 4); NULL: this peer's requests do not register. */
	struct coap_observer *obs;
};

/* slots: p->nstart zeroed slots (a zeroed slot is free), caller-owned.
 * The session reads them only while it holds a response back (the server
 * takes processing time), so a server that answers at once never touches
 * them, and a million peers' slots are never paged in. */
void coap_srv_session_init(struct coap_srv_session *s, struct coap_pending *slots,
			   const struct coap_srv_env *env);
void coap_srv_session_recv(struct coap_srv_session *s,
			   const struct coap_srv_env *env, sim_time now,
			   const uint8_t *buf, size_t len);
void coap_srv_session_expire(struct coap_srv_session *s,
			     const struct coap_srv_env *env, sim_time now);
sim_time coap_srv_session_expiry(const struct coap_srv_session *s,
				 const struct coap_srv_env *env);

/* Has this session already received a request with this Message ID (within
 * its duplicate-detection window)?  For measuring spurious retransmissions. */
bool coap_srv_session_seen(const struct coap_srv_session *s, uint16_t mid, sim_time now);

/* ---- group communication (RFC 7252 §8) ---- */

/* A member of a multicast group: answers a NON GET sent to the group after
 * a random Leisure (§8.2), never with RST or ACK (§8.1). */
struct coap_mc_member {
	sim_time deadline; /* the pending response goes out then */
	uint16_t next_mid;
	uint16_t mid;
	uint8_t token[COAP_MAX_TOKEN];
	uint8_t tkl;
	uint8_t pending;
};

struct coap_mc_member;
struct coap_mc_member_cb {
	/* Required: a unicast response to the requester. */
	void (*send)(void *ud, struct coap_mc_member *m, const uint8_t *buf, size_t len);
};

struct coap_mc_member_env {
	const struct coap_mc_member_cb *cb;
	void *ud;
	struct sim_rng *rng;
	sim_time leisure;  /* responses are spread uniformly over [0, leisure] */
	uint32_t payload;  /* response payload bytes */
};

void coap_mc_member_init(struct coap_mc_member *m, struct sim_rng *rng);
void coap_mc_member_recv(struct coap_mc_member *m, const struct coap_mc_member_env *env,
			 sim_time now, const uint8_t *buf, size_t len);
void coap_mc_member_expire(struct coap_mc_member *m,
			   const struct coap_mc_member_env *env, sim_time now);
static inline sim_time coap_mc_member_expiry(const struct coap_mc_member *m)
{
	return m->pending ? m->deadline : SIM_TIME_NEVER;
}

/* §8.2: the lower bound on Leisure for a group of g members each sending a
 * response of s bytes over a bottleneck of rate bytes per second. */
sim_time coap_leisure_lower_bound(uint32_t s, uint32_t g, double rate_bytes_s);

/* The requester of multicast requests (next to the server). */
struct coap_mc_requester {
	uint32_t next_token;
	uint16_t next_mid;
};

/* Encode the next NON GET to the group into buf.  Returns its length or a
 * negative error; *token is the token responses will carry. */
int coap_mc_request(struct coap_mc_requester *r, const char *path, uint8_t *buf,
		    size_t cap, uint32_t *token);

/* The token of a response to one of our requests, or -1 for anything else
 * (malformed input is ignored: §8.1, no RST towards a group). */
int64_t coap_mc_response_token(const uint8_t *buf, size_t len);

#endif
