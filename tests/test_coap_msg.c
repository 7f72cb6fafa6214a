/* The CoAP codec (RFC 7252 §3): hand-written wire bytes, every format error,
 * and the real libcoap traffic in tests/vectors checked against tshark. */
#include <criterion/criterion.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../sim/coap/coap_msg.h"

Test(coap_msg, parse_get_with_token_and_path)
{
	const uint8_t b[] = {
		0x42,             /* Ver 1, T=CON, TKL 2 */
		0x01,             /* 0.01 GET */
		0x12, 0x34,       /* MID 0x1234 */
		0xab, 0xcd,       /* token */
		0xbb, 't', 'e', 'm', 'p', 'e', 'r', 'a', 't', 'u', 'r', 'e',
		                  /* delta 11 Uri-Path, length 11 */
		0x11, 0x00,       /* delta 1 (12 Content-Format), length 1: 0 */
		0xff, 'h', 'i',   /* payload */
	};
	struct coap_msg m;
	cr_assert_eq(coap_parse(&m, b, sizeof(b)), 0);
	cr_assert_eq(m.type, COAP_CON);
	cr_assert_eq(m.code, COAP_GET);
	cr_assert_eq(m.mid, 0x1234);
	cr_assert_eq(m.tkl, 2);
	cr_assert_eq(m.token[0], 0xab);
	cr_assert_eq(m.n_opt, 2);
	cr_assert_eq(m.opt[0].num, COAP_OPT_URI_PATH);
	cr_assert_eq(m.opt[0].len, 11);
	cr_assert_arr_eq(m.opt[0].value, "temperature", 11);
	cr_assert_eq(m.opt[1].num, COAP_OPT_CONTENT_FORMAT);
	cr_assert_eq(m.payload_len, 2);
	uint8_t out[64];
	cr_assert_eq(coap_encode(&m, out, sizeof(out)), (int)sizeof(b));
	cr_assert_arr_eq(out, b, sizeof(b));
	cr_assert_eq(coap_encode(&m, out, sizeof(b) - 1), SIM_ERR_NOSPACE);
}

Test(coap_msg, extended_delta_and_length)
{
	uint8_t v300[300];
	memset(v300, 'x', sizeof(v300));
	struct coap_msg m;
	coap_msg_init(&m, COAP_NON, COAP_POST, 7, NULL, 0);
	/* Option 60 (Size1): delta 60 -> nibble 13, ext 60-13 = 47 */
	uint8_t s[4];
	cr_assert_eq(coap_msg_add_uint(&m, COAP_OPT_SIZE1, 0x0400, s), 0);
	/* Option 400 (unassigned, even): delta 340 -> nibble 14, ext 340-269 = 71;
	 * length 300 -> nibble 14, ext 300-269 = 31 */
	cr_assert_eq(coap_msg_add_opt(&m, 400, v300, 300), 0);
	uint8_t out[512];
	int n = coap_encode(&m, out, sizeof(out));
	cr_assert_eq(n, 4 + 1 + 1 + 2 + 1 + 2 + 2 + 300);
	cr_assert_eq(out[4], 0xd2);   /* delta 13 (ext), length 2 */
	cr_assert_eq(out[5], 47);     /* 60 - 13 */
	cr_assert_eq(out[6], 0x04);   /* 0x0400, shortest uint form */
	cr_assert_eq(out[7], 0x00);
	cr_assert_eq(out[8], 0xee);   /* delta 14 (2-byte ext), length 14 */
	cr_assert_eq(out[9], 0x00);   /* 340 - 269 = 71 = 0x0047 */
	cr_assert_eq(out[10], 71);
	cr_assert_eq(out[11], 0x00);  /* 300 - 269 = 31 */
	cr_assert_eq(out[12], 31);
	struct coap_msg p;
	cr_assert_eq(coap_parse(&p, out, (size_t)n), 0);
	cr_assert_eq(p.opt[0].num, 60);
	cr_assert_eq(p.opt[1].num, 400);
	cr_assert_eq(p.opt[1].len, 300);
}

Test(coap_msg, uint_options_are_shortest)
{
	struct coap_msg m;
	uint8_t s0[4], s1[4], s2[4];
	coap_msg_init(&m, COAP_CON, COAP_GET, 1, NULL, 0);
	coap_msg_add_uint(&m, COAP_OPT_OBSERVE, 0, s0);       /* zero bytes */
	coap_msg_add_uint(&m, COAP_OPT_MAX_AGE, 60, s1);      /* one byte */
	coap_msg_add_uint(&m, COAP_OPT_SIZE2, 0x10000, s2);   /* three bytes */
	cr_assert_eq(m.opt[0].len, 0);
	cr_assert_eq(m.opt[1].len, 1);
	cr_assert_eq(m.opt[2].len, 3);
	uint32_t v;
	cr_assert_eq(coap_opt_uint(&m.opt[2], &v), 0);
	cr_assert_eq(v, 0x10000);
}

Test(coap_msg, options_kept_sorted_and_stable)
{
	struct coap_msg m;
	coap_msg_init(&m, COAP_CON, COAP_GET, 1, NULL, 0);
	coap_msg_add_opt(&m, COAP_OPT_URI_QUERY, "q", 1);
	coap_msg_add_opt(&m, COAP_OPT_URI_PATH, "a", 1);
	coap_msg_add_opt(&m, COAP_OPT_URI_PATH, "b", 1);
	cr_assert_eq(m.opt[0].num, 11);
	cr_assert_eq(m.opt[0].value[0], 'a');
	cr_assert_eq(m.opt[1].value[0], 'b');
	cr_assert_eq(m.opt[2].num, 15);
	const struct coap_option *o = coap_msg_find(&m, COAP_OPT_URI_PATH, NULL);
	cr_assert_eq(o->value[0], 'a');
	o = coap_msg_find(&m, COAP_OPT_URI_PATH, o);
	cr_assert_eq(o->value[0], 'b');
	cr_assert_null(coap_msg_find(&m, COAP_OPT_URI_PATH, o));
}

static void malformed(const uint8_t *b, size_t n, const char *why)
{
	struct coap_msg m;
	cr_assert_eq(coap_parse(&m, b, n), SIM_ERR_MALFORMED, "%s", why);
}

Test(coap_msg, format_errors)
{
	const uint8_t short_hdr[] = {0x40, 0x01, 0x00};
	malformed(short_hdr, 3, "header shorter than 4 bytes");
	const uint8_t ver2[] = {0x80, 0x01, 0x00, 0x01};
	malformed(ver2, 4, "version 2");
	const uint8_t tkl9[] = {0x49, 0x01, 0x00, 0x01, 1, 2, 3, 4, 5, 6, 7, 8, 9};
	malformed(tkl9, sizeof(tkl9), "TKL 9 is reserved");
	const uint8_t tok_short[] = {0x44, 0x01, 0x00, 0x01, 0xaa, 0xbb};
	malformed(tok_short, sizeof(tok_short), "token truncated");
	const uint8_t delta15[] = {0x40, 0x01, 0x00, 0x01, 0xf1, 0x00};
	malformed(delta15, sizeof(delta15), "delta nibble 15 outside the marker");
	const uint8_t len15[] = {0x40, 0x01, 0x00, 0x01, 0xbf};
	malformed(len15, sizeof(len15), "length nibble 15");
	const uint8_t marker_only[] = {0x40, 0x01, 0x00, 0x01, 0xff};
	malformed(marker_only, sizeof(marker_only), "payload marker, no payload");
	const uint8_t empty_tok[] = {0x41, 0x00, 0x00, 0x01, 0xaa};
	malformed(empty_tok, sizeof(empty_tok), "Empty message with a token");
	const uint8_t empty_bytes[] = {0x60, 0x00, 0x00, 0x01, 0xff, 0x00};
	malformed(empty_bytes, sizeof(empty_bytes), "Empty message with bytes");
	const uint8_t ext_short[] = {0x40, 0x01, 0x00, 0x01, 0xd0};
	malformed(ext_short, sizeof(ext_short), "1-byte delta extension missing");
	const uint8_t ext2_short[] = {0x40, 0x01, 0x00, 0x01, 0xe0, 0x01};
	malformed(ext2_short, sizeof(ext2_short), "2-byte delta extension cut");
	const uint8_t val_short[] = {0x40, 0x01, 0x00, 0x01, 0xb4, 'a', 'b'};
	malformed(val_short, sizeof(val_short), "option value cut");
	/* delta 65535 twice: option number beyond 65535 */
	const uint8_t overflow[] = {0x40, 0x01, 0x00, 0x01, 0xe0, 0xfe, 0xf2,
				    0xe0, 0xfe, 0xf2};
	malformed(overflow, sizeof(overflow), "option number overflow");

	/* More options than COAP_MAX_OPTIONS: not an error of the message,
	 * but more than this decoder keeps. */
	uint8_t many[4 + COAP_MAX_OPTIONS + 1] = {0x40, 0x01, 0x00, 0x01};
	for (int i = 0; i <= COAP_MAX_OPTIONS; i++)
		many[4 + i] = 0x00; /* delta 0, length 0: option 0 repeated */
	struct coap_msg m;
	cr_assert_eq(coap_parse(&m, many, sizeof(many)), SIM_ERR_NOSPACE);
}

Test(coap_msg, empty_ack_and_rst)
{
	const uint8_t ack[] = {0x60, 0x00, 0xbe, 0xef};
	struct coap_msg m;
	cr_assert_eq(coap_parse(&m, ack, 4), 0);
	cr_assert_eq(m.type, COAP_ACK);
	cr_assert_eq(m.code, COAP_EMPTY);
	cr_assert_eq(m.mid, 0xbeef);
}

Test(coap_msg, block_option)
{
	/* RFC 7959 §2.2: NUM 5, M 1, SZX 2 (64 bytes) = 0x5a */
	const uint8_t v1[] = {0x5a};
	struct coap_option o = {COAP_OPT_BLOCK2, 1, v1};
	struct coap_block b;
	cr_assert_eq(coap_block_decode(&o, &b), 0);
	cr_assert_eq(b.num, 5);
	cr_assert(b.more);
	cr_assert_eq(b.szx, 2);
	cr_assert_eq(coap_block_size(b.szx), 64);
	cr_assert_eq(coap_block_encode(&b), 0x5a);
	/* NUM 1000 needs two bytes: 1000 << 4 | 0 << 3 | 6 = 0x3e86 */
	const uint8_t v2[] = {0x3e, 0x86};
	o.len = 2;
	o.value = v2;
	cr_assert_eq(coap_block_decode(&o, &b), 0);
	cr_assert_eq(b.num, 1000);
	cr_assert_not(b.more);
	cr_assert_eq(coap_block_size(b.szx), 1024);
	const uint8_t v7[] = {0x07};
	o.len = 1;
	o.value = v7;
	cr_assert_eq(coap_block_decode(&o, &b), SIM_ERR_MALFORMED, "SZX 7 is reserved");
	const uint8_t v4[] = {1, 2, 3, 4};
	o.len = 4;
	o.value = v4;
	cr_assert_eq(coap_block_decode(&o, &b), SIM_ERR_MALFORMED, "at most 3 bytes");
}

/* ---- the libcoap vectors, compared packet by packet with tshark ---- */

struct tshark_row {
	int type, code, mid;
	char token[40];
	char block_num[16], block_more[16];
	char observe[16];
	char payload_len[16];
	char block_len[16];
};

static int load_tshark(struct tshark_row *rows, int max)
{
	FILE *p = popen("tshark -r tests/vectors/coap-libcoap.pcap -Y coap -T fields "
			"-E separator=/t -E occurrence=f -e coap.type -e coap.code "
			"-e coap.mid -e coap.token -e coap.opt.block_number "
			"-e coap.opt.block_mflag -e coap.opt.observe "
			"-e coap.payload_length -e coap.block_length 2>/dev/null",
			"r");
	char line[512];
	int n = 0;
	cr_assert_not_null(p);
	while (n < max && fgets(line, sizeof(line), p)) {
		struct tshark_row *r = &rows[n++];
		char *f[9] = {0}, *rest = line, *tok;
		int k = 0;
		line[strcspn(line, "\n")] = 0;
		while ((tok = strsep(&rest, "\t")) && k < 9)
			f[k++] = tok;
		cr_assert_eq(k, 9, "tshark row: %s", line);
		r->type = atoi(f[0]);
		r->code = atoi(f[1]);
		r->mid = atoi(f[2]);
		snprintf(r->token, sizeof(r->token), "%s", f[3]);
		snprintf(r->block_num, sizeof(r->block_num), "%s", f[4]);
		snprintf(r->block_more, sizeof(r->block_more), "%s", f[5]);
		snprintf(r->observe, sizeof(r->observe), "%s", f[6]);
		snprintf(r->payload_len, sizeof(r->payload_len), "%s", f[7]);
		snprintf(r->block_len, sizeof(r->block_len), "%s", f[8]);
	}
	pclose(p);
	return n;
}

Test(coap_msg, libcoap_vectors_round_trip_and_match_tshark)
{
	char errbuf[PCAP_ERRBUF_SIZE];
	pcap_t *pc = pcap_open_offline("tests/vectors/coap-libcoap.pcap", errbuf);
	cr_assert_not_null(pc, "%s", errbuf);
	cr_assert_eq(pcap_datalink(pc), DLT_EN10MB);

	struct tshark_row rows[64];
	int n_rows = load_tshark(rows, 64);
	struct pcap_pkthdr *h;
	const u_char *d;
	int n = 0, blocks = 0, observes = 0;

	while (pcap_next_ex(pc, &h, &d) == 1) {
		/* Ethernet (14) + IPv4 (IHL * 4) + UDP (8) */
		cr_assert_geq(h->caplen, 14 + 20 + 8);
		const u_char *ip = d + 14;
		cr_assert_eq(ip[0] >> 4, 4);
		cr_assert_eq(ip[9], 17, "UDP");
		const u_char *udp = ip + (ip[0] & 0x0f) * 4;
		size_t ulen = (size_t)(udp[4] << 8 | udp[5]);
		cr_assert(((udp[0] << 8 | udp[1]) == 5683) || ((udp[2] << 8 | udp[3]) == 5683));
		const uint8_t *coap = udp + 8;
		size_t len = ulen - 8;

		struct coap_msg m;
		cr_assert_eq(coap_parse(&m, coap, len), 0, "packet %d", n + 1);
		uint8_t out[2048];
		int e = coap_encode(&m, out, sizeof(out));
		cr_assert_eq(e, (int)len, "packet %d: re-encoded length", n + 1);
		cr_assert_arr_eq(out, coap, len, "packet %d: re-encoded bytes", n + 1);

		/* The same fields as Wireshark's CoAP dissector reads them. */
		cr_assert_lt(n, n_rows);
		struct tshark_row *r = &rows[n];
		cr_assert_eq(m.type, r->type, "packet %d type", n + 1);
		cr_assert_eq(m.code, r->code, "packet %d code", n + 1);
		cr_assert_eq(m.mid, r->mid, "packet %d mid", n + 1);
		char tok[40] = "";
		for (int i = 0; i < m.tkl; i++)
			snprintf(tok + 2 * i, 3, "%02x", m.token[i]);
		cr_assert_str_eq(tok, r->token, "packet %d token", n + 1);
		char pl[24] = "";
		if (m.payload_len)
			snprintf(pl, sizeof(pl), "%zu", m.payload_len);
		const struct coap_option *o = coap_msg_find(&m, COAP_OPT_BLOCK2, NULL);
		/* tshark reports a block's own payload as block_length */
		cr_assert_str_eq(pl, o && m.payload_len ? r->block_len : r->payload_len,
				 "packet %d payload", n + 1);
		if (o) {
			struct coap_block b;
			char num[16];
			cr_assert_eq(coap_block_decode(o, &b), 0);
			snprintf(num, sizeof(num), "%u", b.num);
			cr_assert_str_eq(num, r->block_num, "packet %d block", n + 1);
			cr_assert_eq(b.more, atoi(r->block_more), "packet %d M", n + 1);
			cr_assert_eq(b.szx, 0, "16-byte blocks in this capture");
			blocks++;
		} else {
			cr_assert_str_eq(r->block_num, "");
		}
		o = coap_msg_find(&m, COAP_OPT_OBSERVE, NULL);
		if (o) {
			uint32_t v;
			char s[16];
			cr_assert_eq(coap_opt_uint(o, &v), 0);
			snprintf(s, sizeof(s), "%u", v);
			cr_assert_str_eq(s, r->observe, "packet %d observe", n + 1);
			observes++;
		}
		n++;
	}
	pcap_close(pc);
	cr_assert_eq(n, 44, "the vectors README lists 44 CoAP packets");
	cr_assert_eq(n, n_rows);
	cr_assert_eq(blocks, 18, "9 Block2 requests and 9 responses");
	cr_assert_geq(observes, 5, "registration and 4 notifications");
}
