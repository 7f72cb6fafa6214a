/* MQTT 3.1.1 client and broker session, sans-I/O over a byte stream.
 *
 * Like the CoAP core they read no clock and own no connection: bytes to
 * send go out through `write`, a (re)connection is asked for through
 * `connect`, and the caller feeds in what the stream delivers and when it
 * comes up or goes down.  *_expiry() says when *_expire() is due.  They are
 * meant to run over the TCP model in sim/tcp (not wired into runs yet). */
#ifndef COAPSIM_MQTT_EP_H
#define COAPSIM_MQTT_EP_H

#include <stdbool.h>
#include <stdint.h>

#include "../core/sim.h"
#include "mqtt_msg.h"

/* The most unacknowledged QoS 1/2 PUBLISHes a client may have ([mqtt]
 * inflight, at most this; paho and mosquitto default to 20), and the QoS 2
 * ids a broker session remembers. */
#define MQTT_MAX_INFLIGHT 64
#define MQTT_RX_BUF 1024    /* the client's reassembly (the broker sends acks) */

/* Bytes of a PUBLISH: fixed header (type, remaining length), topic,
 * packet identifier (QoS > 0), payload. */
static inline uint32_t mqtt_publish_size(uint32_t topic_len, uint8_t qos, uint32_t payload)
{
	uint32_t rl = 2 + topic_len + (qos ? 2 : 0) + payload;
	return 1 + (rl < 128 ? 1 : rl < 16384 ? 2 : rl < 2097152 ? 3 : 4) + rl;
}

/* Does a topic name match a filter (§4.7: '+' one level, '#' the rest)? */
bool mqtt_topic_match(const char *filter, const char *topic);

enum mqtt_client_state { MQTT_CLI_IDLE, MQTT_CLI_TCP_WAIT, MQTT_CLI_CONNECT_SENT, MQTT_CLI_CONNECTED,
			 MQTT_CLI_BACKOFF };
enum mqtt_flight { MQTT_INF_FREE, MQTT_INF_WAIT_PUBACK, MQTT_INF_WAIT_PUBREC, MQTT_INF_WAIT_PUBCOMP };
enum mqtt_result { MQTT_RES_COMPLETED, MQTT_RES_SENT };

struct mqtt_inflight {
	sim_time published; /* when the application published it */
	sim_time first_tx;  /* its first PUBLISH (later when it waited) */
	uint32_t msg_no;
	uint16_t pid;
	uint8_t state; /* enum mqtt_flight */
	uint8_t tx;    /* PUBLISHes sent (the first and DUP resends) */
};

struct mqtt_client_params {
	uint16_t keepalive_s;   /* 0 = no keepalive */
	uint8_t inflight;       /* unacknowledged QoS 1/2 PUBLISHes, 1..the client's slots */
	bool clean_session;
	uint8_t qos;
	uint32_t payload;
	sim_time reconnect_min, reconnect_max; /* backoff doubles from min to max */
};

struct mqtt_client;
struct mqtt_client_cb {
	/* Required: bytes into the connection. */
	void (*write)(void *ud, struct mqtt_client *c, const uint8_t *buf, size_t len);
	/* Required: open a new connection; the caller answers with
	 * mqtt_client_up() or mqtt_client_down(). */
	void (*connect)(void *ud, struct mqtt_client *c);
	/* Required: drop the connection (keepalive lost, protocol error). */
	void (*drop)(void *ud, struct mqtt_client *c);
	/* Required: a message ended (completed by PUBACK/PUBCOMP, or lost with
	 * its session, or just sent for QoS 0). */
	void (*done)(void *ud, struct mqtt_client *c, const struct mqtt_inflight *m,
		     enum mqtt_result r, sim_time now);
};

struct mqtt_client_env {
	const struct mqtt_client_params *p;
	const struct mqtt_client_cb *cb;
	void *ud;
	const char *client_id, *topic; /* as sent */
};

struct mqtt_client {
	uint8_t state;
	uint8_t ping_out;
	uint8_t backoff;
	uint8_t n_inf;      /* slots in inf[] */
	uint8_t n_used;     /* of them, taken: PUBLISHes awaiting their acknowledgement */
	uint8_t nomem;      /* the backlog could not grow: a message was dropped */
	uint16_t next_pid;
	uint32_t rx_len;
	uint32_t backlog, next_msg;
	uint32_t connects, reconnects;
	sim_time last_tx, last_rx, ping_at, reconnect_at;
	/* The PUBLISH being written: when its message was published (for the
	 * caller's write callback). */
	sim_time writing_published;
	struct mqtt_inflight *inf; /* the caller's: n_inf slots */
	/* Publish times of the backlog, oldest at head (a ring the client
	 * grows; mqtt_client_free releases it). */
	sim_time *pubq;
	uint32_t pubq_cap, pubq_head;
	uint8_t rx[MQTT_RX_BUF];
};

/* inf: n_inf slots of the caller's (at least the largest `inflight` the
 * client will be given, at most MQTT_MAX_INFLIGHT). */
void mqtt_client_init(struct mqtt_client *c, struct mqtt_inflight *inf, uint8_t n_inf);
void mqtt_client_free(struct mqtt_client *c);
/* PUBLISHes awaiting their acknowledgement. */
static inline uint8_t mqtt_client_in_flight(const struct mqtt_client *c) { return c->n_used; }
/* Start: ask for the first connection. */
void mqtt_client_start(struct mqtt_client *c, const struct mqtt_client_env *env,
		       sim_time now);
/* The connection is up (send CONNECT) / went down or could not open. */
void mqtt_client_up(struct mqtt_client *c, const struct mqtt_client_env *env, sim_time now);
void mqtt_client_down(struct mqtt_client *c, const struct mqtt_client_env *env,
		      sim_time now);
/* Bytes from the broker. */
void mqtt_client_data(struct mqtt_client *c, const struct mqtt_client_env *env,
		      sim_time now, const uint8_t *buf, size_t len);
/* The application has a message to publish. */
void mqtt_client_publish(struct mqtt_client *c, const struct mqtt_client_env *env,
			 sim_time now);
sim_time mqtt_client_expiry(const struct mqtt_client *c, const struct mqtt_client_params *p);
void mqtt_client_expire(struct mqtt_client *c, const struct mqtt_client_env *env,
			sim_time now);

/* ---- broker side of one connection ---- */

struct mqtt_session;
struct mqtt_session_cb {
	void (*write)(void *ud, struct mqtt_session *s, const uint8_t *buf, size_t len);
	/* Close the connection (DISCONNECT, keepalive expired, bad packet). */
	void (*drop)(void *ud, struct mqtt_session *s);
	/* A PUBLISH arrived; `first` is false for a QoS 2 duplicate the broker
	 * already has (§4.3.3). */
	void (*publish)(void *ud, struct mqtt_session *s, const struct mqtt_msg *m,
			bool first, sim_time now);
};

struct mqtt_session_env {
	const struct mqtt_session_cb *cb;
	void *ud;
};

struct mqtt_session {
	uint8_t connected;
	uint8_t n_qos2;
	uint16_t keepalive_s;
	uint32_t rx_len, rx_cap;
	uint16_t qos2[MQTT_MAX_INFLIGHT]; /* QoS 2 ids received, PUBREL pending */
	sim_time last_rx;
	uint8_t *rx; /* caller's: rx_cap bytes, the largest packet it accepts */
};

void mqtt_session_init(struct mqtt_session *s, uint8_t *rx, uint32_t rx_cap);
void mqtt_session_data(struct mqtt_session *s, const struct mqtt_session_env *env,
		       sim_time now, const uint8_t *buf, size_t len);
/* §3.1.2.10: no packet for 1.5 x keepalive closes the connection. */
sim_time mqtt_session_expiry(const struct mqtt_session *s);
void mqtt_session_expire(struct mqtt_session *s, const struct mqtt_session_env *env,
			 sim_time now);

#endif
