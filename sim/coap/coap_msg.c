/* The CoAP message codec of RFC 7252 §3 (and the Block options of RFC
 * 7959): parse and encode, nothing else.  Knows no endpoint state. */
#include "coap_msg.h"

#include <stdio.h>
#include <string.h>

/* An option delta or length nibble of 13 or 14 is followed by 1 or 2
 * extension bytes (§3.1); 15 is reserved outside the payload marker.
 * Called only for nibbles >= 13: replaces *v by the value it stands for. */
static inline int read_ext(uint32_t *v, const uint8_t **p, const uint8_t *end)
{
	if (*v == 13) {
		if (end - *p < 1)
			return SIM_ERR_MALFORMED;
		*v = 13u + (*p)[0];
		*p += 1;
		return 0;
	}
	if (*v == 14) {
		if (end - *p < 2)
			return SIM_ERR_MALFORMED;
		*v = 269u + ((uint32_t)(*p)[0] << 8 | (*p)[1]);
		*p += 2;
		return 0;
	}
	return SIM_ERR_MALFORMED;
}

int coap_parse(struct coap_msg *m, const uint8_t *buf, size_t len)
{
	const uint8_t *p = buf, *end = buf + len;
	uint32_t num = 0;
	uint8_t tkl, n = 0;

	if (len < COAP_HDR_LEN || (buf[0] >> 6) != 1)
		return SIM_ERR_MALFORMED;
	tkl = buf[0] & 0x0f;
	m->type = (buf[0] >> 4) & 3;
	m->tkl = tkl;
	m->code = buf[1];
	m->mid = (uint16_t)(buf[2] << 8 | buf[3]);
	m->n_opt = 0;
	m->payload = NULL;
	m->payload_len = 0;
	if (tkl > COAP_MAX_TOKEN)
		return SIM_ERR_MALFORMED;
	/* §4.1: an Empty message is the 4-byte header and nothing else. */
	if (buf[1] == COAP_EMPTY && (tkl || len != COAP_HDR_LEN))
		return SIM_ERR_MALFORMED;
	p += COAP_HDR_LEN;
	if ((size_t)(end - p) < tkl)
		return SIM_ERR_MALFORMED;
	memcpy(m->token, p, tkl);
	p += tkl;

	while (p < end) {
		uint8_t b = *p++;
		uint32_t delta = b >> 4, olen = b & 0x0f;
		if (b == COAP_PAYLOAD_MARKER) {
			if (p == end)
				return SIM_ERR_MALFORMED; /* marker, no payload */
			m->payload = p;
			m->payload_len = (size_t)(end - p);
			break;
		}
		if ((delta >= 13 && read_ext(&delta, &p, end) < 0) ||
		    (olen >= 13 && read_ext(&olen, &p, end) < 0))
			return SIM_ERR_MALFORMED;
		num += delta;
		if (num > UINT16_MAX || (size_t)(end - p) < olen)
			return SIM_ERR_MALFORMED;
		if (n == COAP_MAX_OPTIONS)
			return SIM_ERR_NOSPACE;
		m->opt[n].num = (uint16_t)num;
		m->opt[n].len = (uint16_t)olen;
		m->opt[n].value = p;
		m->n_opt = ++n;
		p += olen;
	}
	return 0;
}

/* Bytes an option header takes for a delta or length value. */
static size_t ext_len(uint32_t v)
{
	return v < 13 ? 0 : v < 269 ? 1 : 2;
}

static uint8_t nibble(uint32_t v)
{
	return v < 13 ? (uint8_t)v : v < 269 ? 13 : 14;
}

static uint8_t *put_ext(uint8_t *p, uint32_t v)
{
	if (v >= 269) {
		v -= 269;
		*p++ = (uint8_t)(v >> 8);
		*p++ = (uint8_t)v;
	} else if (v >= 13) {
		*p++ = (uint8_t)(v - 13);
	}
	return p;
}

/* The bytes m encodes to (exact), or an upper bound that skips the option
 * header arithmetic (every header at its longest, 1 + 2 + 2 bytes, and a
 * payload marker).  SIM_ERR_INVAL for a token or option count out of
 * range, or options out of order. */
static inline int64_t measure(const struct coap_msg *m, bool exact)
{
	uint64_t n = COAP_HDR_LEN + m->tkl;
	uint16_t prev = 0;

	if (m->tkl > COAP_MAX_TOKEN || m->n_opt > COAP_MAX_OPTIONS)
		return SIM_ERR_INVAL;
	for (int i = 0; i < m->n_opt; i++) {
		const struct coap_option *o = &m->opt[i];
		if (o->num < prev)
			return SIM_ERR_INVAL;
		n += exact ? 1u + ext_len((uint32_t)(o->num - prev)) + ext_len(o->len) + o->len
			   : 5u + o->len;
		prev = o->num;
	}
	if (m->payload_len || !exact)
		n += 1 + (uint64_t)m->payload_len;
	return (int64_t)n;
}

int coap_encoded_len(const struct coap_msg *m)
{
	int64_t n = measure(m, true);

	if (n > INT32_MAX)
		return SIM_ERR_INVAL;
	return (int)n;
}

int coap_encode(const struct coap_msg *m, uint8_t *buf, size_t cap)
{
	int64_t bound = measure(m, false);
	uint16_t prev = 0;
	uint8_t *p = buf;

	if (bound < 0)
		return (int)bound;
	/* The exact size is needed only when the bound does not fit. */
	if ((uint64_t)bound > cap || bound > INT32_MAX) {
		int need = coap_encoded_len(m);
		if (need < 0)
			return need;
		if ((size_t)need > cap)
			return SIM_ERR_NOSPACE;
	}
	*p++ = (uint8_t)(1 << 6 | (m->type & 3) << 4 | m->tkl);
	*p++ = m->code;
	*p++ = (uint8_t)(m->mid >> 8);
	*p++ = (uint8_t)m->mid;
	memcpy(p, m->token, m->tkl);
	p += m->tkl;
	for (int i = 0; i < m->n_opt; i++) {
		const struct coap_option *o = &m->opt[i];
		uint32_t delta = (uint32_t)(o->num - prev);
		if (delta < 13 && o->len < 13) {
			/* The usual case: both fit their nibbles. */
			*p++ = (uint8_t)(delta << 4 | o->len);
		} else {
			*p++ = (uint8_t)(nibble(delta) << 4 | nibble(o->len));
			p = put_ext(p, delta);
			p = put_ext(p, o->len);
		}
		if (o->len)
			memcpy(p, o->value, o->len);
		p += o->len;
		prev = o->num;
	}
	if (m->payload_len) {
		*p++ = COAP_PAYLOAD_MARKER;
		memcpy(p, m->payload, m->payload_len);
		p += m->payload_len;
	}
	return (int)(p - buf);
}

int coap_msg_add_uint(struct coap_msg *m, uint16_t num, uint32_t v,
		      uint8_t scratch[4])
{
	uint16_t n = 0;
	for (int shift = 24; shift >= 0; shift -= 8)
		if (n || (v >> shift) & 0xff)
			scratch[n++] = (uint8_t)(v >> shift);
	return coap_msg_add_opt(m, num, scratch, n);
}

int coap_opt_uint(const struct coap_option *o, uint32_t *v)
{
	if (o->len > 4)
		return SIM_ERR_MALFORMED;
	*v = 0;
	for (uint16_t i = 0; i < o->len; i++)
		*v = *v << 8 | o->value[i];
	return 0;
}

int coap_block_decode(const struct coap_option *o, struct coap_block *b)
{
	uint32_t v;
	if (o->len > 3 || coap_opt_uint(o, &v) < 0)
		return SIM_ERR_MALFORMED;
	b->szx = v & 7;
	b->more = (v >> 3) & 1;
	b->num = v >> 4;
	return b->szx == 7 ? SIM_ERR_MALFORMED : 0;
}

uint32_t coap_block_encode(const struct coap_block *b)
{
	return b->num << 4 | (uint32_t)b->more << 3 | b->szx;
}

const char *coap_code_str(uint8_t code, char buf[8])
{
	snprintf(buf, 8, "%u.%02u", COAP_CODE_CLASS(code), COAP_CODE_DETAIL(code));
	return buf;
}
