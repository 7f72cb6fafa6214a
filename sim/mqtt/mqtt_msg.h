/* MQTT 3.1.1 control packets (OASIS standard, 2014), pure functions over
 * caller buffers, in the style of the CoAP codec: mqtt_parse() fills a
 * caller-owned struct whose pointers point into the parsed buffer,
 * mqtt_encode() writes into a caller buffer.  Encoding is canonical
 * (shortest Remaining Length), so parse + encode of a packet from a
 * conforming peer gives back its bytes. */
#ifndef COAPSIM_MQTT_MSG_H
#define COAPSIM_MQTT_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../core/sim.h"

enum mqtt_type {
	MQTT_CONNECT = 1, MQTT_CONNACK, MQTT_PUBLISH, MQTT_PUBACK, MQTT_PUBREC,
	MQTT_PUBREL, MQTT_PUBCOMP, MQTT_SUBSCRIBE, MQTT_SUBACK, MQTT_UNSUBSCRIBE,
	MQTT_UNSUBACK, MQTT_PINGREQ, MQTT_PINGRESP, MQTT_DISCONNECT,
};

#define MQTT_MAX_REMAINING 268435455u /* §2.2.3: four bytes of varint */
#ifndef MQTT_MAX_TOPICS
#define MQTT_MAX_TOPICS 8 /* topic filters kept per SUBSCRIBE/UNSUBSCRIBE */
#endif

/* CONNECT flags (§3.1.2.3) */
#define MQTT_CF_CLEAN 0x02
#define MQTT_CF_WILL 0x04
#define MQTT_CF_WILL_RETAIN 0x20
#define MQTT_CF_PASSWORD 0x40
#define MQTT_CF_USER 0x80

/* A length-prefixed field (UTF-8 string or binary data), into the buffer. */
struct mqtt_str {
	const uint8_t *p;
	uint16_t len;
};

struct mqtt_msg {
	uint8_t type;  /* enum mqtt_type */
	uint8_t flags; /* low nibble of the fixed header */
	/* CONNECT */
	uint8_t level, cflags;
	uint16_t keepalive; /* seconds */
	struct mqtt_str client_id, will_topic, will_msg, user, password;
	/* CONNACK */
	uint8_t session_present, return_code;
	/* PUBLISH (dup, qos, retain are in flags) */
	struct mqtt_str topic;
	/* PUBLISH with QoS > 0, PUBACK..PUBCOMP, (UN)SUBSCRIBE, (UN)SUBACK */
	uint16_t packet_id;
	const uint8_t *payload;
	size_t payload_len;
	/* SUBSCRIBE / UNSUBSCRIBE: filters (and requested QoS); SUBACK codes */
	uint8_t n;
	struct mqtt_str filters[MQTT_MAX_TOPICS];
	uint8_t qos[MQTT_MAX_TOPICS];
};

static inline uint8_t mqtt_qos(const struct mqtt_msg *m) { return (m->flags >> 1) & 3; }
static inline bool mqtt_dup(const struct mqtt_msg *m) { return m->flags & 8; }
static inline bool mqtt_retain(const struct mqtt_msg *m) { return m->flags & 1; }

/* How long the first packet in a byte stream is: its total length, 0 when
 * more bytes are needed, or SIM_ERR_MALFORMED (a Remaining Length of more
 * than four bytes).  For splitting a TCP stream. */
int mqtt_frame(const uint8_t *buf, size_t len);

/* Parse exactly one packet of len bytes.  Returns 0, SIM_ERR_MALFORMED for
 * every format error (reserved types, wrong fixed-header flags, lengths that
 * do not add up, QoS 3, DUP on QoS 0, wildcards in a PUBLISH topic, packet
 * identifier 0, a CONNECT that is not protocol "MQTT" level 4, reserved
 * CONNECT flag, inconsistent Will or password flags, empty SUBSCRIBE or
 * UNSUBSCRIBE, bad requested QoS or SUBACK code, U+0000 in a string), or
 * SIM_ERR_NOSPACE for more than MQTT_MAX_TOPICS filters. */
int mqtt_parse(struct mqtt_msg *m, const uint8_t *buf, size_t len);

/* Encode; returns the length or SIM_ERR_NOSPACE / SIM_ERR_INVAL. */
int mqtt_encode(const struct mqtt_msg *m, uint8_t *buf, size_t cap);

/* Bytes of the Remaining Length varint for a value (1..4). */
int mqtt_varint_len(uint32_t v);

#endif
