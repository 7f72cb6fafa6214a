#include "coap_msg.h"

#include <stdio.h>
#include <string.h>

/* Read an option delta or length: the 4-bit nibble plus its extension. */
static int read_ext(uint8_t nib, const uint8_t **p, const uint8_t *end,
		    uint32_t *out)
{
	if (nib < 13) {
		*out = nib;
		return 0;
	}
	if (nib == 13) {
		if (end - *p < 1)
			return SIM_ERR_MALFORMED;
		*out = 13u + (*p)[0];
		*p += 1;
		return 0;
	}
	if (nib == 14) {
		if (end - *p < 2)
			return SIM_ERR_MALFORMED;
		*out = 269u + ((uint32_t)(*p)[0] << 8 | (*p)[1]);
		*p += 2;
		return 0;
	}
	return SIM_ERR_MALFORMED; /* 15 is reserved outside the payload marker */
}

int coap_parse(struct coap_msg *m, const uint8_t *buf, size_t len)
{
	const uint8_t *p = buf, *end = buf + len;
	uint32_t num = 0;

	if (len < COAP_HDR_LEN || (buf[0] >> 6) != 1)
		return SIM_ERR_MALFORMED;
	m->type = (buf[0] >> 4) & 3;
	m->tkl = buf[0] & 0x0f;
	m->code = buf[1];
	m->mid = (uint16_t)(buf[2] << 8 | buf[3]);
	m->n_opt = 0;
	m->payload = NULL;
	m->payload_len = 0;
	if (m->tkl > COAP_MAX_TOKEN)
		return SIM_ERR_MALFORMED;
	/* §4.1: an Empty message is the 4-byte header and nothing else. */
	if (m->code == COAP_EMPTY && (m->tkl || len != COAP_HDR_LEN))
		return SIM_ERR_MALFORMED;
	p += COAP_HDR_LEN;
	if ((size_t)(end - p) < m->tkl)
		return SIM_ERR_MALFORMED;
	memcpy(m->token, p, m->tkl);
	p += m->tkl;

	while (p < end) {
		uint8_t b = *p++;
		uint32_t delta, olen;
		if (b == COAP_PAYLOAD_MARKER) {
			if (p == end)
				return SIM_ERR_MALFORMED; /* marker, no payload */
			m->payload = p;
			m->payload_len = (size_t)(end - p);
			break;
		}
		if (read_ext(b >> 4, &p, end, &delta) < 0 ||
		    read_ext(b & 0x0f, &p, end, &olen) < 0)
			return SIM_ERR_MALFORMED;
		num += delta;
		if (num > UINT16_MAX || (size_t)(end - p) < olen)
			return SIM_ERR_MALFORMED;
		if (m->n_opt == COAP_MAX_OPTIONS)
			return SIM_ERR_NOSPACE;
		m->opt[m->n_opt++] = (struct coap_option){
			.num = (uint16_t)num, .len = (uint16_t)olen, .value = p};
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

int coap_encoded_len(const struct coap_msg *m)
{
	size_t n = COAP_HDR_LEN + m->tkl;
	uint16_t prev = 0;

	if (m->tkl > COAP_MAX_TOKEN || m->n_opt > COAP_MAX_OPTIONS)
		return SIM_ERR_INVAL;
	for (int i = 0; i < m->n_opt; i++) {
		const struct coap_option *o = &m->opt[i];
		if (o->num < prev)
			return SIM_ERR_INVAL;
		n += 1 + ext_len((uint32_t)(o->num - prev)) + ext_len(o->len) + o->len;
		prev = o->num;
	}
	if (m->payload_len)
		n += 1 + m->payload_len;
	if (n > INT32_MAX)
		return SIM_ERR_INVAL;
	return (int)n;
}

int coap_encode(const struct coap_msg *m, uint8_t *buf, size_t cap)
{
	int need = coap_encoded_len(m);
	uint16_t prev = 0;
	uint8_t *p = buf;

	if (need < 0)
		return need;
	if ((size_t)need > cap)
		return SIM_ERR_NOSPACE;
	*p++ = (uint8_t)(1 << 6 | (m->type & 3) << 4 | m->tkl);
	*p++ = m->code;
	*p++ = (uint8_t)(m->mid >> 8);
	*p++ = (uint8_t)m->mid;
	memcpy(p, m->token, m->tkl);
	p += m->tkl;
	for (int i = 0; i < m->n_opt; i++) {
		const struct coap_option *o = &m->opt[i];
		uint32_t delta = (uint32_t)(o->num - prev);
		*p++ = (uint8_t)(nibble(delta) << 4 | nibble(o->len));
		p = put_ext(p, delta);
		p = put_ext(p, o->len);
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

void coap_msg_init(struct coap_msg *m, uint8_t type, uint8_t code, uint16_t mid,
		   const uint8_t *token, uint8_t tkl)
{
	m->type = type;
	m->code = code;
	m->mid = mid;
	m->tkl = tkl > COAP_MAX_TOKEN ? COAP_MAX_TOKEN : tkl;
	if (m->tkl)
		memcpy(m->token, token, m->tkl);
	m->n_opt = 0;
	m->payload = NULL;
	m->payload_len = 0;
}

int coap_msg_add_opt(struct coap_msg *m, uint16_t num, const void *value,
		     uint16_t len)
{
	int i;

	if (m->n_opt == COAP_MAX_OPTIONS)
		return SIM_ERR_NOSPACE;
	/* After every option with a number <= num: stable for repeats. */
	for (i = m->n_opt; i > 0 && m->opt[i - 1].num > num; i--)
		m->opt[i] = m->opt[i - 1];
	m->opt[i] = (struct coap_option){.num = num, .len = len, .value = value};
	m->n_opt++;
	return 0;
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

const struct coap_option *coap_msg_find(const struct coap_msg *m, uint16_t num,
					const struct coap_option *after)
{
	int i = after ? (int)(after - m->opt) + 1 : 0;
	for (; i < m->n_opt; i++)
		if (m->opt[i].num == num)
			return &m->opt[i];
	return NULL;
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
