/* CoAP message codec (RFC 7252 §3), pure functions over caller buffers.
 *
 * coap_parse() fills a caller-owned struct whose pointers point into the
 * parsed buffer (no copies, no allocation); coap_encode() writes into a caller
 * buffer.  Encoding is canonical (options sorted, shortest delta/length
 * forms), so parse + encode of any well-formed message gives back its bytes. */
#ifndef COAPSIM_COAP_MSG_H
#define COAPSIM_COAP_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "../core/options.h"
#include "../core/sim.h"

enum coap_type { COAP_CON = 0, COAP_NON = 1, COAP_ACK = 2, COAP_RST = 3 };

/* Code = class << 5 | detail. */
#define COAP_CODE(c, d) ((uint8_t)(((c) << 5) | (d)))
#define COAP_CODE_CLASS(code) ((code) >> 5)
#define COAP_CODE_DETAIL(code) ((code) & 0x1f)
enum coap_code {
	COAP_EMPTY = 0,
	COAP_GET = 1, COAP_POST = 2, COAP_PUT = 3, COAP_DELETE = 4,
	COAP_CREATED = COAP_CODE(2, 1), COAP_DELETED = COAP_CODE(2, 2),
	COAP_VALID = COAP_CODE(2, 3), COAP_CHANGED = COAP_CODE(2, 4),
	COAP_CONTENT = COAP_CODE(2, 5), COAP_CONTINUE = COAP_CODE(2, 31),
	COAP_BAD_REQUEST = COAP_CODE(4, 0), COAP_BAD_OPTION = COAP_CODE(4, 2),
	COAP_NOT_FOUND = COAP_CODE(4, 4), COAP_METHOD_NOT_ALLOWED = COAP_CODE(4, 5),
	COAP_REQUEST_INCOMPLETE = COAP_CODE(4, 8),
	COAP_REQUEST_TOO_LARGE = COAP_CODE(4, 13),
	COAP_INTERNAL_ERROR = COAP_CODE(5, 0),
};

enum coap_option_num {
	COAP_OPT_IF_MATCH = 1, COAP_OPT_URI_HOST = 3, COAP_OPT_ETAG = 4,
	COAP_OPT_IF_NONE_MATCH = 5, COAP_OPT_OBSERVE = 6, COAP_OPT_URI_PORT = 7,
	COAP_OPT_LOCATION_PATH = 8, COAP_OPT_URI_PATH = 11,
	COAP_OPT_CONTENT_FORMAT = 12, COAP_OPT_MAX_AGE = 14,
	COAP_OPT_URI_QUERY = 15, COAP_OPT_ACCEPT = 17,
	COAP_OPT_LOCATION_QUERY = 20, COAP_OPT_BLOCK2 = 23, COAP_OPT_BLOCK1 = 27,
	COAP_OPT_SIZE2 = 28, COAP_OPT_PROXY_URI = 35, COAP_OPT_PROXY_SCHEME = 39,
	COAP_OPT_SIZE1 = 60,
};

#define COAP_HDR_LEN 4
#define COAP_MAX_TOKEN 8
#define COAP_PAYLOAD_MARKER 0xff

struct coap_option {
	uint16_t num;         /* absolute option number */
	uint16_t len;         /* value length, 0..65535+269 is clipped to 65535 */
	const uint8_t *value; /* points into the parsed buffer (or caller data) */
};

struct coap_msg {
	uint8_t type;  /* enum coap_type */
	uint8_t code;  /* enum coap_code or any class.detail */
	uint16_t mid;  /* Message ID */
	uint8_t tkl;   /* token length 0..8 */
	uint8_t token[COAP_MAX_TOKEN];
	uint8_t n_opt; /* options in opt[], sorted by num (stable for repeats) */
	struct coap_option opt[COAP_MAX_OPTIONS];
	const uint8_t *payload; /* NULL when payload_len == 0 */
	size_t payload_len;
};

/* Parse one datagram.  Returns 0, or SIM_ERR_MALFORMED for every message
 * format error of RFC 7252 §3 (version != 1, TKL 9..15, truncated header,
 * token, option or extension, option delta or length nibble 15 outside the
 * payload marker, a payload marker followed by nothing, an Empty message
 * (code 0.00) with a token or any bytes after the Message ID), or
 * SIM_ERR_NOSPACE when the message carries more than COAP_MAX_OPTIONS
 * options.  On error *m is unspecified. */
int coap_parse(struct coap_msg *m, const uint8_t *buf, size_t len);

/* Encode *m into buf[0..cap).  Options must be sorted by num (as
 * coap_msg_add_opt keeps them).  Returns the length written, SIM_ERR_NOSPACE
 * when cap is too small, SIM_ERR_INVAL for tkl > 8 or unsorted options. */
int coap_encode(const struct coap_msg *m, uint8_t *buf, size_t cap);

/* Size coap_encode() would need, or SIM_ERR_INVAL. */
int coap_encoded_len(const struct coap_msg *m);

/* The three helpers below run several times per message, so they are
 * defined here, where the compiler can inline them. */

/* Start a message: zero options, no payload. */
static inline void coap_msg_init(struct coap_msg *m, uint8_t type, uint8_t code,
				 uint16_t mid, const uint8_t *token, uint8_t tkl)
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

/* Insert an option keeping opt[] sorted (after existing ones of the same
 * number).  The value is not copied: it must outlive the message.
 * Returns 0 or SIM_ERR_NOSPACE when opt[] is full. */
static inline int coap_msg_add_opt(struct coap_msg *m, uint16_t num,
				   const void *value, uint16_t len)
{
	int i;

	if (m->n_opt == COAP_MAX_OPTIONS)
		return SIM_ERR_NOSPACE;
	/* After every option with a number <= num: stable for repeats. */
	for (i = m->n_opt; i > 0 && m->opt[i - 1].num > num; i--)
		m->opt[i] = m->opt[i - 1];
	m->opt[i].num = num;
	m->opt[i].len = len;
	m->opt[i].value = (const uint8_t *)value;
	m->n_opt++;
	return 0;
}

/* Add an unsigned-integer option (RFC 7252 §3.2 uint: shortest big-endian
 * form, 0 is zero bytes).  The encoded bytes are stored in *scratch (4
 * bytes, caller-owned, must outlive the message). */
int coap_msg_add_uint(struct coap_msg *m, uint16_t num, uint32_t v,
		      uint8_t scratch[4]);

/* First option with this number, or NULL.  Next one of the same number:
 * pass the previous result as `after` (NULL to start). */
static inline const struct coap_option *
coap_msg_find(const struct coap_msg *m, uint16_t num,
	      const struct coap_option *after)
{
	const struct coap_option *o = after ? after + 1 : m->opt;
	const struct coap_option *end = m->opt + m->n_opt;

	for (; o < end; o++)
		if (o->num == num)
			return o;
	return NULL;
}

/* Decode a uint option value of 0..4 bytes.  Returns 0 or SIM_ERR_MALFORMED
 * when longer than 4 bytes. */
int coap_opt_uint(const struct coap_option *o, uint32_t *v);

/* Critical options are odd-numbered (§5.4.6). */
static inline bool coap_opt_is_critical(uint16_t num) { return num & 1; }

/* Block1/Block2 value (RFC 7959 §2.2): NUM, More flag, SZX (0..6). */
struct coap_block { uint32_t num; bool more; uint8_t szx; };
int coap_block_decode(const struct coap_option *o, struct coap_block *b);
uint32_t coap_block_encode(const struct coap_block *b); /* as a uint value */
static inline uint32_t coap_block_size(uint8_t szx) { return 16u << szx; }

/* "2.05" style text for a code, into buf (>= 5 bytes). */
const char *coap_code_str(uint8_t code, char buf[8]);

#endif
