/* The MQTT 3.1.1 packet codec and topic matching.  Knows no session state. */
#include "mqtt_msg.h"

#include <string.h>

struct rd {
	const uint8_t *p, *end;
	int bad;
};

static uint8_t u8(struct rd *r)
{
	if (r->p >= r->end) {
		r->bad = 1;
		return 0;
	}
	return *r->p++;
}

static uint16_t u16(struct rd *r)
{
	uint16_t hi = u8(r);
	return (uint16_t)(hi << 8 | u8(r));
}

/* §1.5.3 UTF-8 string / §1.5 binary: two-byte length, then the bytes. */
static struct mqtt_str field(struct rd *r, bool text)
{
	struct mqtt_str s = {0};
	s.len = u16(r);
	if (r->bad || (size_t)(r->end - r->p) < s.len) {
		r->bad = 1;
		return s;
	}
	s.p = r->p;
	r->p += s.len;
	if (text && memchr(s.p, 0, s.len))
		r->bad = 1; /* §1.5.3: U+0000 is not allowed */
	return s;
}

int mqtt_frame(const uint8_t *buf, size_t len)
{
	uint32_t v = 0;

	for (size_t i = 1; i <= 4; i++) {
		if (i >= len)
			return 0;
		v |= (uint32_t)(buf[i] & 0x7f) << (7 * (i - 1));
		if (!(buf[i] & 0x80)) {
			uint64_t total = 1 + i + (uint64_t)v;
			return total <= len ? (int)total : 0;
		}
	}
	return SIM_ERR_MALFORMED;
}

int mqtt_varint_len(uint32_t v)
{
	return v < 128 ? 1 : v < 16384 ? 2 : v < 2097152 ? 3 : 4;
}

static bool has_wildcard(struct mqtt_str s)
{
	return memchr(s.p, '+', s.len) || memchr(s.p, '#', s.len);
}

int mqtt_parse(struct mqtt_msg *m, const uint8_t *buf, size_t len)
{
	int total = mqtt_frame(buf, len);

	if (total <= 0 || (size_t)total != len)
		return SIM_ERR_MALFORMED;
	memset(m, 0, sizeof(*m));
	m->type = buf[0] >> 4;
	m->flags = buf[0] & 0x0f;
	/* Skip the Remaining Length as sent (mqtt_frame checked it). */
	size_t hdr = 1;
	while (buf[hdr] & 0x80)
		hdr++;
	hdr++;
	struct rd r = {buf + hdr, buf + len, 0};
	size_t rem = len - hdr;

	switch (m->type) {
	case MQTT_CONNECT: {
		struct mqtt_str proto = field(&r, true);
		m->level = u8(&r);
		m->cflags = u8(&r);
		m->keepalive = u16(&r);
		if (r.bad || m->flags || proto.len != 4 || memcmp(proto.p, "MQTT", 4) ||
		    m->level != 4 || (m->cflags & 1))
			return SIM_ERR_MALFORMED;
		uint8_t wq = (m->cflags >> 3) & 3;
		if (wq == 3 || (!(m->cflags & MQTT_CF_WILL) &&
				(wq || (m->cflags & MQTT_CF_WILL_RETAIN))) ||
		    ((m->cflags & MQTT_CF_PASSWORD) && !(m->cflags & MQTT_CF_USER)))
			return SIM_ERR_MALFORMED; /* §3.1.2.5 - §3.1.2.9 */
		m->client_id = field(&r, true);
		if (m->cflags & MQTT_CF_WILL) {
			m->will_topic = field(&r, true);
			m->will_msg = field(&r, false);
		}
		if (m->cflags & MQTT_CF_USER)
			m->user = field(&r, true);
		if (m->cflags & MQTT_CF_PASSWORD)
			m->password = field(&r, false);
		break;
	}
	case MQTT_CONNACK:
		m->session_present = u8(&r);
		m->return_code = u8(&r);
		if (m->flags || rem != 2 || (m->session_present & 0xfe) || m->return_code > 5)
			return SIM_ERR_MALFORMED;
		break;
	case MQTT_PUBLISH: {
		uint8_t q = (m->flags >> 1) & 3;
		if (q == 3 || (q == 0 && (m->flags & 8)))
			return SIM_ERR_MALFORMED; /* §3.3.1.1, §3.3.1.2 */
		m->topic = field(&r, true);
		if (r.bad || has_wildcard(m->topic))
			return SIM_ERR_MALFORMED; /* §3.3.2.1 */
		if (q) {
			m->packet_id = u16(&r);
			if (!m->packet_id)
				return SIM_ERR_MALFORMED;
		}
		m->payload = r.p;
		m->payload_len = (size_t)(r.end - r.p);
		r.p = r.end;
		break;
	}
	case MQTT_PUBACK: case MQTT_PUBREC: case MQTT_PUBREL: case MQTT_PUBCOMP:
	case MQTT_UNSUBACK:
		m->packet_id = u16(&r);
		if (rem != 2 || m->flags != (m->type == MQTT_PUBREL ? 2 : 0) || !m->packet_id)
			return SIM_ERR_MALFORMED;
		break;
	case MQTT_SUBSCRIBE:
	case MQTT_UNSUBSCRIBE:
		m->packet_id = u16(&r);
		if (m->flags != 2 || !m->packet_id)
			return SIM_ERR_MALFORMED; /* §3.8.1, §3.10.1 */
		while (!r.bad && r.p < r.end) {
			if (m->n == MQTT_MAX_TOPICS)
				return SIM_ERR_NOSPACE;
			m->filters[m->n] = field(&r, true);
			if (m->type == MQTT_SUBSCRIBE) {
				m->qos[m->n] = u8(&r);
				if (m->qos[m->n] > 2)
					return SIM_ERR_MALFORMED; /* §3.8.3.1 */
			}
			if (!m->filters[m->n].len)
				return SIM_ERR_MALFORMED;
			m->n++;
		}
		if (!m->n)
			return SIM_ERR_MALFORMED; /* §3.8.3-3, §3.10.3-2 */
		break;
	case MQTT_SUBACK:
		m->packet_id = u16(&r);
		if (m->flags || !m->packet_id)
			return SIM_ERR_MALFORMED;
		while (!r.bad && r.p < r.end) {
			if (m->n == MQTT_MAX_TOPICS)
				return SIM_ERR_NOSPACE;
			uint8_t c = u8(&r);
			if (c > 2 && c != 0x80)
				return SIM_ERR_MALFORMED; /* §3.9.3 */
			m->qos[m->n++] = c;
		}
		if (!m->n)
			return SIM_ERR_MALFORMED;
		break;
	case MQTT_PINGREQ: case MQTT_PINGRESP: case MQTT_DISCONNECT:
		if (m->flags || rem)
			return SIM_ERR_MALFORMED;
		break;
	default:
		return SIM_ERR_MALFORMED; /* 0 and 15 are reserved */
	}
	if (r.bad || r.p != r.end)
		return SIM_ERR_MALFORMED; /* the Remaining Length must add up */
	return 0;
}

struct wr {
	uint8_t *p, *end;
	int bad;
};

static void w8(struct wr *w, uint8_t v)
{
	if (w->p >= w->end)
		w->bad = 1;
	else
		*w->p++ = v;
}

static void w16(struct wr *w, uint16_t v)
{
	w8(w, (uint8_t)(v >> 8));
	w8(w, (uint8_t)v);
}

static void wbytes(struct wr *w, const uint8_t *p, size_t n)
{
	if ((size_t)(w->end - w->p) < n) {
		w->bad = 1;
		return;
	}
	if (n)
		memcpy(w->p, p, n);
	w->p += n;
}

static void wstr(struct wr *w, struct mqtt_str s)
{
	w16(w, s.len);
	wbytes(w, s.p, s.len);
}

/* The variable header and payload, into w. */
static void body(struct wr *w, const struct mqtt_msg *m)
{
	switch (m->type) {
	case MQTT_CONNECT:
		wstr(w, (struct mqtt_str){(const uint8_t *)"MQTT", 4});
		w8(w, m->level ? m->level : 4);
		w8(w, m->cflags);
		w16(w, m->keepalive);
		wstr(w, m->client_id);
		if (m->cflags & MQTT_CF_WILL) {
			wstr(w, m->will_topic);
			wstr(w, m->will_msg);
		}
		if (m->cflags & MQTT_CF_USER)
			wstr(w, m->user);
		if (m->cflags & MQTT_CF_PASSWORD)
			wstr(w, m->password);
		break;
	case MQTT_CONNACK:
		w8(w, m->session_present);
		w8(w, m->return_code);
		break;
	case MQTT_PUBLISH:
		wstr(w, m->topic);
		if (mqtt_qos(m))
			w16(w, m->packet_id);
		wbytes(w, m->payload, m->payload_len);
		break;
	case MQTT_PUBACK: case MQTT_PUBREC: case MQTT_PUBREL: case MQTT_PUBCOMP:
	case MQTT_UNSUBACK:
		w16(w, m->packet_id);
		break;
	case MQTT_SUBSCRIBE:
	case MQTT_UNSUBSCRIBE:
		w16(w, m->packet_id);
		for (int i = 0; i < m->n; i++) {
			wstr(w, m->filters[i]);
			if (m->type == MQTT_SUBSCRIBE)
				w8(w, m->qos[i]);
		}
		break;
	case MQTT_SUBACK:
		w16(w, m->packet_id);
		for (int i = 0; i < m->n; i++)
			w8(w, m->qos[i]);
		break;
	default:
		break;
	}
}

int mqtt_encode(const struct mqtt_msg *m, uint8_t *buf, size_t cap)
{
	uint8_t flags = m->flags;

	if (m->type < MQTT_CONNECT || m->type > MQTT_DISCONNECT)
		return SIM_ERR_INVAL;
	if (m->type == MQTT_PUBREL || m->type == MQTT_SUBSCRIBE || m->type == MQTT_UNSUBSCRIBE)
		flags = 2;
	else if (m->type != MQTT_PUBLISH)
		flags = 0;
	if (cap < 5)
		return SIM_ERR_NOSPACE;
	/* Write the body after room for the longest fixed header (5 bytes),
	 * then move it next to the real one. */
	struct wr count = {buf + 5, buf + cap, 0};
	uint8_t *start = buf;
	body(&count, m);
	if (count.bad)
		return SIM_ERR_NOSPACE;
	size_t rem = (size_t)(count.p - (buf + 5));
	if (rem > MQTT_MAX_REMAINING)
		return SIM_ERR_INVAL;
	int vl = mqtt_varint_len((uint32_t)rem);
	start[0] = (uint8_t)(m->type << 4 | flags);
	uint32_t v = (uint32_t)rem;
	for (int i = 0; i < vl; i++) {
		uint8_t b = v & 0x7f;
		v >>= 7;
		start[1 + i] = (uint8_t)(b | (i + 1 < vl ? 0x80 : 0));
	}
	memmove(start + 1 + vl, buf + 5, rem);
	return (int)(1 + (size_t)vl + rem);
}
