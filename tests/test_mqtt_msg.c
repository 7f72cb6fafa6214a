/* MQTT 3.1.1 codec: spec bytes by hand, format errors, and real mosquitto
 * traffic (tests/vectors) round-tripped and counted against tshark. */
#include <criterion/criterion.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../sim/mqtt/mqtt_msg.h"

static void round_trip(const uint8_t *b, size_t n, struct mqtt_msg *m)
{
	uint8_t out[512];
	cr_assert_eq(mqtt_parse(m, b, n), 0);
	cr_assert_eq(mqtt_encode(m, out, sizeof(out)), (int)n);
	cr_assert_arr_eq(out, b, n);
}

Test(mqtt_msg, connect_by_hand)
{
	const uint8_t b[] = {
		0x10, 16,             /* CONNECT, Remaining Length 6+1+1+2+6 = 16 */
		0x00, 0x04, 'M', 'Q', 'T', 'T', /* protocol name (§3.1.2.1) */
		0x04,                 /* level 4 = 3.1.1 */
		0x02,                 /* flags: clean session */
		0x00, 0x3c,           /* keep alive 60 s */
		0x00, 0x04, 's', '-', '4', '2', /* client id "s-42" */
	};
	struct mqtt_msg m;
	round_trip(b, sizeof(b), &m);
	cr_assert_eq(m.type, MQTT_CONNECT);
	cr_assert_eq(m.keepalive, 60);
	cr_assert_eq(m.cflags, MQTT_CF_CLEAN);
	cr_assert_eq(m.client_id.len, 4);
}

Test(mqtt_msg, publish_qos1_and_acks)
{
	const uint8_t pub[] = {
		0x32, 9,           /* PUBLISH, QoS 1 (flags 0010), RL 9 */
		0x00, 0x03, 'a', '/', 'b', /* topic "a/b" */
		0x00, 0x07,        /* packet id 7 */
		'h', 'i',          /* payload */
	};
	struct mqtt_msg m;
	round_trip(pub, sizeof(pub), &m);
	cr_assert_eq(mqtt_qos(&m), 1);
	cr_assert_eq(m.packet_id, 7);
	cr_assert_eq(m.payload_len, 2);
	const uint8_t puback[] = {0x40, 0x02, 0x00, 0x07};
	round_trip(puback, 4, &m);
	const uint8_t pubrel[] = {0x62, 0x02, 0x00, 0x07}; /* flags 0010 */
	round_trip(pubrel, 4, &m);
	const uint8_t ping[] = {0xc0, 0x00}, disc[] = {0xe0, 0x00};
	round_trip(ping, 2, &m);
	round_trip(disc, 2, &m);
}

Test(mqtt_msg, remaining_length_boundaries)
{
	/* §2.2.3: 127 in one byte, 128 in two, 16383/16384, 2097151/2097152 */
	static uint8_t payload[2100000], out[2100100];
	const uint32_t edges[] = {127, 128, 16383, 16384, 2097151, 2097152};
	const int want[] = {1, 2, 2, 3, 3, 4};
	for (int i = 0; i < 6; i++) {
		struct mqtt_msg m = {.type = MQTT_PUBLISH};
		m.topic = (struct mqtt_str){(const uint8_t *)"t", 1};
		m.payload = payload;
		m.payload_len = edges[i] - 3; /* 2 + 1 topic bytes */
		int n = mqtt_encode(&m, out, sizeof(out));
		cr_assert_eq(n, (int)(1 + want[i] + edges[i]), "RL %u", edges[i]);
		cr_assert_eq(mqtt_varint_len(edges[i]), want[i]);
		cr_assert_eq(mqtt_frame(out, (size_t)n), n);
		cr_assert_eq(mqtt_frame(out, (size_t)n - 1), 0, "incomplete");
		struct mqtt_msg p;
		cr_assert_eq(mqtt_parse(&p, out, (size_t)n), 0);
		cr_assert_eq(p.payload_len, m.payload_len);
	}
	const uint8_t five[] = {0x30, 0xff, 0xff, 0xff, 0xff, 0x7f};
	cr_assert_eq(mqtt_frame(five, sizeof(five)), SIM_ERR_MALFORMED);
}

static void bad(const uint8_t *b, size_t n, const char *why)
{
	struct mqtt_msg m;
	cr_assert_eq(mqtt_parse(&m, b, n), SIM_ERR_MALFORMED, "%s", why);
}

Test(mqtt_msg, format_errors)
{
	const uint8_t t0[] = {0x00, 0x00}, t15[] = {0xf0, 0x00};
	bad(t0, 2, "type 0 is reserved");
	bad(t15, 2, "type 15 is reserved");
	const uint8_t q3[] = {0x36, 0x05, 0x00, 0x01, 'a', 0x00, 0x01};
	bad(q3, sizeof(q3), "QoS 3");
	const uint8_t dup0[] = {0x38, 0x03, 0x00, 0x01, 'a'};
	bad(dup0, sizeof(dup0), "DUP on QoS 0");
	const uint8_t wild[] = {0x30, 0x03, 0x00, 0x01, '#'};
	bad(wild, sizeof(wild), "wildcard in a PUBLISH topic");
	const uint8_t pid0[] = {0x32, 0x05, 0x00, 0x01, 'a', 0x00, 0x00};
	bad(pid0, sizeof(pid0), "packet id 0");
	const uint8_t relflags[] = {0x60, 0x02, 0x00, 0x01};
	bad(relflags, 4, "PUBREL flags must be 0010");
	const uint8_t subflags[] = {0x80, 0x06, 0x00, 0x01, 0x00, 0x01, 'a', 0x00};
	bad(subflags, sizeof(subflags), "SUBSCRIBE flags must be 0010");
	const uint8_t subempty[] = {0x82, 0x02, 0x00, 0x01};
	bad(subempty, sizeof(subempty), "SUBSCRIBE with no filter");
	const uint8_t subq[] = {0x82, 0x06, 0x00, 0x01, 0x00, 0x01, 'a', 0x03};
	bad(subq, sizeof(subq), "requested QoS 3");
	const uint8_t level3[] = {0x10, 0x0c, 0x00, 0x04, 'M', 'Q', 'T', 'T', 0x03, 0x02,
				  0x00, 0x3c, 0x00, 0x00};
	bad(level3, sizeof(level3), "protocol level 3");
	const uint8_t reserved[] = {0x10, 0x0c, 0x00, 0x04, 'M', 'Q', 'T', 'T', 0x04, 0x03,
				    0x00, 0x3c, 0x00, 0x00};
	bad(reserved, sizeof(reserved), "reserved CONNECT flag");
	const uint8_t pass_no_user[] = {0x10, 0x0e, 0x00, 0x04, 'M', 'Q', 'T', 'T', 0x04,
					0x42, 0x00, 0x3c, 0x00, 0x00, 0x00, 0x00};
	bad(pass_no_user, sizeof(pass_no_user), "password without user name");
	const uint8_t short_ack[] = {0x40, 0x01, 0x00};
	bad(short_ack, 3, "PUBACK of 1 byte");
	const uint8_t long_ping[] = {0xc0, 0x01, 0x00};
	bad(long_ping, 3, "PINGREQ with a body");
	const uint8_t overrun[] = {0x30, 0x03, 0x00, 0x05, 'a'};
	bad(overrun, sizeof(overrun), "topic longer than the packet");
	const uint8_t suback[] = {0x90, 0x03, 0x00, 0x01, 0x03};
	bad(suback, sizeof(suback), "SUBACK code 3");
	const uint8_t nul[] = {0x30, 0x03, 0x00, 0x01, 0x00};
	bad(nul, sizeof(nul), "U+0000 in a topic");
	const uint8_t mismatch[] = {0x30, 0x05, 0x00, 0x01, 'a'};
	bad(mismatch, sizeof(mismatch), "Remaining Length past the end");
}

/* The mosquitto capture: reassemble both directions of every TCP
 * connection, split into packets, parse, re-encode. */
struct stream {
	uint16_t sport, dport;
	uint32_t next_seq;
	int have_seq;
	uint8_t buf[16384];
	size_t len;
};

Test(mqtt_msg, mosquitto_vectors)
{
	char errbuf[PCAP_ERRBUF_SIZE];
	pcap_t *pc = pcap_open_offline("tests/vectors/mqtt-mosquitto.pcap", errbuf);
	cr_assert_not_null(pc, "%s", errbuf);
	static struct stream st[32];
	int n_st = 0, counts[16] = {0}, total = 0;
	struct pcap_pkthdr *h;
	const u_char *d;

	while (pcap_next_ex(pc, &h, &d) == 1) {
		const u_char *ip = d + 14;
		if (ip[0] >> 4 != 4 || ip[9] != 6)
			continue;
		size_t iplen = (size_t)(ip[2] << 8 | ip[3]), ihl = (ip[0] & 15) * 4u;
		const u_char *tcp = ip + ihl;
		uint16_t sport = (uint16_t)(tcp[0] << 8 | tcp[1]);
		uint16_t dport = (uint16_t)(tcp[2] << 8 | tcp[3]);
		uint32_t seq = (uint32_t)tcp[4] << 24 | tcp[5] << 16 | tcp[6] << 8 | tcp[7];
		size_t thl = (tcp[12] >> 4) * 4u, plen = iplen - ihl - thl;
		if (sport != 1883 && dport != 1883)
			continue;
		int k;
		for (k = 0; k < n_st && !(st[k].sport == sport && st[k].dport == dport); k++)
			;
		if (k == n_st) {
			cr_assert_lt(n_st, 32);
			st[n_st++] = (struct stream){.sport = sport, .dport = dport};
		}
		struct stream *s = &st[k];
		if (!plen)
			continue;
		if (s->have_seq && seq != s->next_seq)
			continue; /* a retransmission: already have these bytes */
		s->have_seq = 1;
		s->next_seq = seq + (uint32_t)plen;
		cr_assert_leq(s->len + plen, sizeof(s->buf));
		memcpy(s->buf + s->len, tcp + thl, plen);
		s->len += plen;
		/* split off every complete packet */
		int n;
		while ((n = mqtt_frame(s->buf, s->len)) > 0) {
			struct mqtt_msg m;
			uint8_t out[16384];
			cr_assert_eq(mqtt_parse(&m, s->buf, (size_t)n), 0, "packet %d", total + 1);
			cr_assert_eq(mqtt_encode(&m, out, sizeof(out)), n);
			cr_assert_arr_eq(out, s->buf, (size_t)n, "packet %d re-encoded", total + 1);
			counts[m.type]++;
			total++;
			memmove(s->buf, s->buf + n, s->len - (size_t)n);
			s->len -= (size_t)n;
		}
		cr_assert_geq(n, 0);
	}
	pcap_close(pc);
	/* tshark's count of each message type in the same capture */
	FILE *p = popen("tshark -r tests/vectors/mqtt-mosquitto.pcap -Y mqtt -T fields "
			"-e mqtt.msgtype 2>/dev/null | tr ',' '\\n'", "r");
	cr_assert_not_null(p);
	int ts[16] = {0}, ts_total = 0, t;
	while (fscanf(p, "%d", &t) == 1) {
		cr_assert(t > 0 && t < 16);
		ts[t]++;
		ts_total++;
	}
	pclose(p);
	cr_assert_eq(total, ts_total);
	for (int i = 1; i < 15; i++)
		cr_assert_eq(counts[i], ts[i], "type %d: %d here, %d in tshark", i, counts[i], ts[i]);
	cr_assert_gt(counts[MQTT_PUBREL], 0, "QoS 2 flow present");
	cr_assert_gt(counts[MQTT_SUBSCRIBE], 0);
}
