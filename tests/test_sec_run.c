/* CoAP over DTLS in whole runs (`security = dtls`): the handshake's flights,
 * times and bytes read back from the captures by tshark, records decrypted
 * with the key, a wrong key, and handshake failure at 30% loss against the
 * probability worked out by hand. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "helpers.h"

#define PSK_OPT "-o dtls.psk:636f617073696d2d70736b" /* the default key, "coapsim-psk" */

/* Run the scenario text `ini` (written to DIR/s.ini) into DIR/out; its
 * summary. */
static json_t *run_text(const char *dir, const char *ini)
{
	char path[512], cmd[2048];
	json_error_t je;
	snprintf(path, sizeof(path), "%s/s.ini", dir);
	FILE *f = fopen(path, "w");
	cr_assert_not_null(f);
	fputs(ini, f);
	fclose(f);
	snprintf(cmd, sizeof(cmd), "%s run %s --quiet --jobs 1 --out %s/out", test_bin(), path,
		 dir);
	cr_assert_eq(system(cmd), 0, "%s", cmd);
	snprintf(path, sizeof(path), "%s/out/summary.json", dir);
	json_t *j = json_load_file(path, 0, &je);
	cr_assert_not_null(j, "%s", je.text);
	return j;
}

/* The test's scratch folders (each test runs in a process of its own),
 * removed when it ends, whether it passed or not (the suites' .fini). */
static char scratch_dirs[4][32];
static int n_scratch;

static const char *scratch(void)
{
	cr_assert_lt(n_scratch, 4);
	char *d = scratch_dirs[n_scratch++];
	strcpy(d, "/tmp/coapsim-sec-XXXXXX");
	cr_assert_not_null(mkdtemp(d));
	return d;
}

static void scratch_rm(void)
{
	for (int k = 0; k < n_scratch; k++) {
		char cmd[64];
		snprintf(cmd, sizeof(cmd), "rm -rf %s", scratch_dirs[k]);
		if (system(cmd) != 0)
			cr_log_warn("%s failed", cmd);
	}
	n_scratch = 0;
}

TestSuite(dtls_run, .fini = scratch_rm);
TestSuite(tls_run, .fini = scratch_rm);

static json_t *metrics(json_t *j)
{
	return json_object_get(json_array_get(json_object_get(j, "runs"), 0), "metrics");
}

static double num(json_t *j, const char *name)
{
	return json_number_value(json_object_get(metrics(j), name));
}

static double stat(json_t *j, const char *name, const char *s)
{
	return json_number_value(json_object_get(json_object_get(metrics(j), name), s));
}

/* tshark's fields of every packet passing `filter`, one line each. */
static char *tshark_fields(const char *file, const char *filter, const char *fields)
{
	char cmd[2048];
	snprintf(cmd, sizeof(cmd), "tshark -r '%s' " PSK_OPT " -Y '%s' -T fields %s 2>/dev/null",
		 file, filter, fields);
	FILE *p = popen(cmd, "r");
	cr_assert_not_null(p);
	size_t cap = 1 << 20, n = 0;
	char *out = calloc(1, cap);
	cr_assert_not_null(out);
	while (n + 1 < cap && fgets(out + n, (int)(cap - n), p))
		n += strlen(out + n);
	pclose(p);
	return out;
}

static const char *lossless =
	"[scenario]\nduration = 10s\nseed = 7\n"
	"[link]\nlatency = 50ms\njitter = none\nloss = 0%%\n"
	"[group.s]\ncount = 1\nsecurity = dtls\ntraffic = once\nstart = const(1s)\n"
	"payload = %d\n%s"
	"[output]\npcap = yes\n";

/* RFC 6347's handshake with a cookie and a PSK suite, over a lossless link
 * of 50 ms each way: six flights, one datagram each, in this order; done at
 * the client after 6 x 50 ms; every application record 29 bytes longer than
 * the CoAP message it carries (RFC 6655: 13 header, 8 nonce, 8 tag), which
 * is the same message as in the run without DTLS. */
Test(dtls_run, handshake_flights_bytes_and_records, .timeout = 120)
{
	const char *dir = scratch(), *plain = scratch();
	char ini[1024], f[512];
	snprintf(ini, sizeof(ini), lossless, 40, "");
	json_t *j = run_text(dir, ini);
	snprintf(ini, sizeof(ini), lossless, 40, "");
	char *sec = strstr(ini, "security = dtls\n");
	memmove(sec, sec + 16, strlen(sec + 16) + 1);
	json_t *jp = run_text(plain, ini);

	snprintf(f, sizeof(f), "%s/out/pcap/p0-r0.pcap", dir);
	/* Handshake message types, and 20 for each ChangeCipherSpec record. */
	char *types = tshark_fields(f, "dtls", "-e dtls.handshake.type -e dtls.record.content_type");
	const char *want = "1\t22\n"      /* ClientHello */
			   "3\t22\n"      /* HelloVerifyRequest */
			   "1\t22\n"      /* ClientHello with the cookie */
			   "2,14\t22,22\n" /* ServerHello, ServerHelloDone */
			   "16,20\t22,20,22\n" /* ClientKeyExchange, CCS, Finished */
			   "20\t20,22\n"  /* CCS, Finished */
			   "\t23\n"       /* the request */
			   "\t23\n";      /* the response */
	cr_assert_str_eq(types, want);
	free(types);
	cr_assert_eq(test_tshark_count(f, PSK_OPT, "_ws.malformed || _ws.expert.severity == error"),
		     0);
	cr_assert_eq(test_tshark_count(f, PSK_OPT, "coap && udp.port == 5684"), 2,
		     "both records decrypt to CoAP");

	/* Times: 6 one-way trips; the message waited for them. */
	cr_assert_eq(num(j, "handshakes"), 1);
	cr_assert_eq(num(j, "handshake_failures"), 0);
	cr_assert_float_eq(stat(j, "handshake_ms", "max"), 300.0, 1e-6);
	cr_assert_float_eq(stat(j, "latency_ms", "max"), 400.0, 1e-6);
	cr_assert_float_eq(stat(jp, "latency_ms", "max"), 100.0, 1e-6);

	/* Bytes: the handshake's datagrams (their records), as tshark sums
	 * them; two records of overhead. */
	char *hs = tshark_fields(f, "dtls.record.content_type != 23", "-e udp.length");
	long sum = 0, n_hs = 0;
	for (char *s = hs; *s; s = strchr(s, '\n') + 1, n_hs++)
		sum += strtol(s, NULL, 10) - 8;
	free(hs);
	cr_assert_eq((long)num(j, "handshake_bytes"), sum);
	cr_assert_eq(num(j, "security_overhead_bytes"), 2 * 29);

	/* Each record against the plain run's datagram in the same place. */
	char fp[512];
	snprintf(fp, sizeof(fp), "%s/out/pcap/p0-r0.pcap", plain);
	char *a = tshark_fields(f, "dtls.record.content_type == 23", "-e udp.length");
	char *b = tshark_fields(fp, "coap", "-e udp.length");
	long ra[2], rb[2];
	cr_assert_eq(sscanf(a, "%ld\n%ld", &ra[0], &ra[1]), 2, "%s", a);
	cr_assert_eq(sscanf(b, "%ld\n%ld", &rb[0], &rb[1]), 2, "%s", b);
	cr_assert_eq(ra[0], rb[0] + 29);
	cr_assert_eq(ra[1], rb[1] + 29);
	free(a);
	free(b);
	cr_assert_eq(num(j, "bytes_sent"), num(jp, "bytes_sent") + 2 * 29 + sum + n_hs * 48);
	json_decref(j);
	json_decref(jp);
}

/* The server's key differs: the server cannot verify the client's
 * Finished, answers with a fatal bad_record_mac alert, and every handshake
 * fails; no message completes. */
Test(dtls_run, wrong_key_fails_every_handshake, .timeout = 120)
{
	const char *dir = scratch();
	char ini[1024], f[512];
	snprintf(ini, sizeof(ini), lossless, 16, "[security]\nserver_psk = 00112233\n");
	json_t *j = run_text(dir, ini);
	cr_assert_gt(num(j, "handshakes"), 1, "CoAP's retransmissions try again");
	cr_assert_eq(num(j, "handshake_failures"), num(j, "handshakes"));
	cr_assert_eq(num(j, "completed"), 0);
	cr_assert_eq(num(j, "failed"), 1);
	snprintf(f, sizeof(f), "%s/out/pcap/p0-r0.pcap", dir);
	cr_assert_eq(test_tshark_count(f, "", "dtls.alert_message.desc == 20"),
		     (long)num(j, "handshakes"));
	json_decref(j);
}

/* At 30% loss each way, with the timer's first timeout also its last
 * (timeout_initial = timeout_max: mbedTLS gives up instead of doubling), a
 * handshake completes only if all six datagrams arrive: 0.7^6 = 0.1176.
 * CoAP does not retransmit (max_retransmit = 0), so each message starts
 * one handshake.  Over 3,000 the failed fraction is 0.8824 +- 0.0059 (one
 * standard deviation); 4 of them allowed. */
Test(dtls_run, failures_at_30_percent_loss_by_hand, .timeout = 300)
{
	const char *dir = scratch();
	json_t *j = run_text(dir, "[scenario]\nduration = 20s\nseed = 11\n"
				  "[link]\nlatency = 50ms\njitter = none\nloss = 30%\n"
				  "[group.s]\ncount = 3000\nsecurity = dtls\ntraffic = once\n"
				  "start = uniform(0, 10s)\n"
				  "[coap]\nmax_retransmit = 0\n"
				  "[dtls]\ntimeout_initial = 1s\ntimeout_max = 1s\n");
	double n = num(j, "handshakes"), failed = num(j, "handshake_failures");
	cr_assert_eq(n, 3000);
	double p = 1 - pow(0.7, 6), sd = sqrt(p * (1 - p) / n);
	cr_assert(fabs(failed / n - p) < 4 * sd, "failed %.4f, expected %.4f +- %.4f", failed / n,
		  p, 4 * sd);
	json_decref(j);
}

/* With the library's own timer (1 s, doubling): a client's ClientHellos
 * follow one another after the HelloVerifyRequest's round trip (100 ms)
 * or after 1, 2, 4 ... s of silence, as the capture of every sent packet
 * (lost ones too) shows. */
Test(dtls_run, retransmissions_on_the_library_timer, .timeout = 300)
{
	const char *dir = scratch();
	char f[512];
	json_decref(run_text(dir, "[scenario]\nduration = 20s\nseed = 3\n"
				  "[link]\nlatency = 50ms\njitter = none\nloss = 30%\n"
				  "[group.s]\ncount = 200\nsecurity = dtls\ntraffic = once\n"
				  "start = uniform(0, 10s)\n[output]\npcap = yes\n"));
	snprintf(f, sizeof(f), "%s/out/pcap/p0-r0.pcap", dir);
	char *ch = tshark_fields(f, "dtls.handshake.type == 1", "-e ipv6.src -e frame.time_epoch");
	char src[200][64];
	double last[200];
	int n_src = 0, seen[6] = {0}; /* 100 ms, 1, 2, 4, 8 s, other */
	for (char *s = ch; *s; s = strchr(s, '\n') + 1) {
		char a[64];
		double t;
		cr_assert_eq(sscanf(s, "%63s %lf", a, &t), 2);
		int k = 0;
		while (k < n_src && strcmp(src[k], a))
			k++;
		if (k == n_src) {
			cr_assert_lt(n_src, 200);
			snprintf(src[n_src++], sizeof(src[0]), "%s", a);
		} else {
			double g = t - last[k];
			int c = fabs(g - 0.1) < 1e-6 ? 0 : fabs(g - 1) < 1e-6 ? 1 : fabs(g - 2) < 1e-6 ? 2
				: fabs(g - 4) < 1e-6 ? 3 : fabs(g - 8) < 1e-6 ? 4 : 5;
			/* A new handshake (CoAP retransmitted after a failure) may
			 * start at any time; a gap within one is the timer's. */
			seen[c]++;
		}
		last[k] = t;
	}
	free(ch);
	cr_assert_gt(seen[0], 0);
	cr_assert_gt(seen[1], 0, "first retransmission after 1 s");
	cr_assert_gt(seen[2], 0, "second after 2 s");
	cr_assert_gt(seen[3], 0, "third after 4 s");
	cr_assert_lt(seen[5], seen[1] / 4 + 1, "gaps off the timer: %d", seen[5]);
}

/* A sensor that keeps its session pays one handshake; one that forgets
 * it when no exchange is open pays one a message: five messages, 2 s
 * apart on a lossless 50 ms link, each 300 ms of handshake + 100 ms. */
Test(dtls_run, per_message_handshakes, .timeout = 120)
{
	const char *fmt = "[scenario]\nduration = 10s\nseed = 7\n"
			  "[link]\nlatency = 50ms\njitter = none\nloss = 0%%\n"
			  "[group.s]\ncount = 1\nsecurity = dtls\ntraffic = periodic(2s)\n"
			  "start = const(1s)\n[security]\nhandshake = %s\n";
	char ini[512];
	for (int per_msg = 0; per_msg < 2; per_msg++) {
		const char *dir = scratch();
		snprintf(ini, sizeof(ini), fmt, per_msg ? "per-message" : "per-boot");
		json_t *j = run_text(dir, ini);
		cr_assert_eq(num(j, "messages"), 5);
		cr_assert_eq(num(j, "completed"), 5);
		cr_assert_eq(num(j, "handshakes"), per_msg ? 5 : 1);
		cr_assert_float_eq(stat(j, "latency_ms", "max"), 400.0, 1e-6);
		cr_assert_float_eq(stat(j, "latency_ms", "mean"), per_msg ? 400.0 : 160.0, 1e-6);
		json_decref(j);
	}
}

/* resumption = yes (RFC 5077): after the first, full handshake each
 * wake-up offers the last session's ticket and the handshake is the
 * abbreviated one, four one-way trips (ClientHello, HelloVerifyRequest,
 * ClientHello, ServerHello + ChangeCipherSpec + Finished, then the
 * client's ChangeCipherSpec + Finished): 200 ms against 300.  A ticket
 * older than session_lifetime is refused: full handshakes again. */
Test(dtls_run, resumption_by_ticket, .timeout = 120)
{
	const char *fmt = "[scenario]\nduration = 10s\nseed = 7\n"
			  "[link]\nlatency = 50ms\njitter = none\nloss = 0%%\n"
			  "[group.s]\ncount = 1\nsecurity = dtls\ntraffic = periodic(2s)\n"
			  "start = const(1s)\n[security]\nhandshake = per-message\n"
			  "resumption = yes\nsession_lifetime = %s\n[output]\npcap = yes\n";
	char ini[512], f[512];
	for (int expire = 0; expire < 2; expire++) {
		const char *dir = scratch();
		snprintf(ini, sizeof(ini), fmt, expire ? "1s" : "24h");
		json_t *j = run_text(dir, ini);
		cr_assert_eq(num(j, "completed"), 5);
		cr_assert_eq(num(j, "handshakes"), 5);
		cr_assert_float_eq(stat(j, "handshake_ms", "max"), 300.0, 1e-6);
		/* (300 + 4 x 200) / 5, or five full ones */
		cr_assert_float_eq(stat(j, "handshake_ms", "mean"), expire ? 300.0 : 220.0, 1e-6);
		cr_assert_float_eq(stat(j, "latency_ms", "mean"), expire ? 400.0 : 320.0, 1e-6);
		snprintf(f, sizeof(f), "%s/out/pcap/p0-r0.pcap", dir);
		/* Abbreviated: the server's Finished right after its ServerHello,
		 * no ClientKeyExchange. */
		cr_assert_eq(test_tshark_count(f, PSK_OPT, "dtls.handshake.type == 16"),
			     expire ? 5 : 1);
		cr_assert_eq(test_tshark_count(f, PSK_OPT,
					       "dtls.handshake.type == 2 && dtls.record.content_type "
					       "== 20"),
			     expire ? 0 : 4);
		json_decref(j);
	}
}

/* tshark's sum of a field over the packets passing a filter (TLS), and
 * in *n how many values (a packet may hold several records). */
static long tls_sum_n(const char *file, const char *filter, const char *field, long *n)
{
	char *out = tshark_fields(file, filter, field);
	long sum = 0;
	*n = 0;
	for (char *s = out; *s;) {
		char *e;
		long v = strtol(s, &e, 10);
		sum += v;
		*n += e != s;
		s = e;
		while (*s == ',' || *s == '\n' || *s == '\t')
			s++;
		if (e == s && !*s)
			break;
	}
	free(out);
	return sum;
}

static long tls_sum(const char *file, const char *filter, const char *field)
{
	long n;
	return tls_sum_n(file, filter, field, &n);
}

#define TLS_OPT "-o tls.psk:636f617073696d2d70736b"

/* MQTT over TLS 1.2 (security = tls), PSK, a lossless 50 ms link: the
 * handshake is two round trips after TCP's (200 ms), so the first
 * PUBLISH, published at the start, is acknowledged after TCP 100 + TLS
 * 200 + CONNECT 100 + PUBLISH 100 = 500 ms (300 in plaintext); every
 * application record carries 21 bytes more than its MQTT packet (5 of
 * header, 8 of nonce, 8 of tag); tshark decrypts them to MQTT on 8883 and
 * its sums of the records agree with the counters.  (These TLS tests run
 * the rfc6298 profile, whose round trips are exact: the linux one adds
 * its broker's 100 us read and Nagle.) */
Test(tls_run, mqtt_over_tls_handshake_records_capture, .timeout = 120)
{
	const char *fmt = "[scenario]\nduration = 10s\nseed = 7\n"
			  "[link]\nlatency = 50ms\njitter = none\nloss = 0%%\n"
			  "[group.s]\ncount = 1\nprotocol = mqtt\nqos = 1\nsecurity = %s\n"
			  "traffic = periodic(2s)\nstart = const(1s)\n[tcp]\nprofile = rfc6298\n"
			  "[output]\npcap = yes\n";
	const char *dir = scratch(), *plain = scratch();
	char ini[512], f[512];
	snprintf(ini, sizeof(ini), fmt, "tls");
	json_t *j = run_text(dir, ini);
	snprintf(ini, sizeof(ini), fmt, "none");
	json_t *jp = run_text(plain, ini);
	cr_assert_eq(num(j, "completed"), 5);
	cr_assert_eq(num(j, "handshakes"), 1);
	cr_assert_eq(num(j, "handshake_failures"), 0);
	cr_assert_float_eq(stat(j, "handshake_ms", "max"), 200.0, 1e-6);
	cr_assert_float_eq(stat(j, "latency_ms", "max"), 500.0, 1e-6);
	cr_assert_float_eq(stat(jp, "latency_ms", "max"), 300.0, 1e-6);

	snprintf(f, sizeof(f), "%s/out/pcap/p0-r0.pcap", dir);
	cr_assert_eq(test_tshark_count(f, TLS_OPT, "_ws.malformed || _ws.expert.severity == error"), 0);
	cr_assert_eq(test_tshark_count(f, TLS_OPT, "mqtt.msgtype == 3 && tcp.port == 8883"), 5,
		     "five PUBLISHes decrypted");
	cr_assert_eq(test_tshark_count(f, TLS_OPT, "mqtt.msgtype == 1"), 1, "one CONNECT");
	/* Records: header 5 + length, as tshark reads them.  A flight's
	 * records share a segment; each application record has its own. */
	long n_app, n_hs;
	long app = tls_sum_n(f, "tls.record.content_type == 23", "-e tls.record.length", &n_app);
	long hs = tls_sum_n(f, "tls.record.content_type != 23", "-e tls.record.length", &n_hs);
	hs += 5 * n_hs;
	cr_assert_eq(test_tshark_count(f, TLS_OPT, "tls.record.content_type != 23"), 4,
		     "four flights, one segment each");
	cr_assert_eq(num(j, "security_overhead_bytes"), 21 * n_app);
	cr_assert_eq((long)num(j, "handshake_bytes"), hs);
	/* The plain run's MQTT bytes, each packet 21 bytes longer here. */
	snprintf(f, sizeof(f), "%s/out/pcap/p0-r0.pcap", plain);
	long plain_mqtt = tls_sum(f, "tcp.len > 0", "-e tcp.len");
	cr_assert_eq(app + 5 * n_app, plain_mqtt + 21 * n_app);
	json_decref(j);
	json_decref(jp);
}

/* The broker's key differs: it cannot verify the client's Finished and
 * sends a fatal alert; the client reconnects and fails again; nothing is
 * delivered. */
Test(tls_run, wrong_key_fails_every_tls_handshake, .timeout = 120)
{
	const char *dir = scratch();
	char f[512];
	json_t *j = run_text(dir, "[scenario]\nduration = 20s\nseed = 7\n"
				  "[link]\nlatency = 50ms\njitter = none\nloss = 0%\n"
				  "[group.s]\ncount = 1\nprotocol = mqtt\nqos = 1\nsecurity = tls\n"
				  "traffic = periodic(5s)\nstart = const(1s)\n"
				  "[security]\nserver_psk = 00112233\n[output]\npcap = yes\n");
	cr_assert_gt(num(j, "handshakes"), 1, "the client reconnects");
	cr_assert_eq(num(j, "handshake_failures"), num(j, "handshakes"));
	cr_assert_eq(num(j, "delivered"), 0);
	cr_assert_eq(num(j, "completed"), 0);
	snprintf(f, sizeof(f), "%s/out/pcap/p0-r0.pcap", dir);
	cr_assert_eq(test_tshark_count(f, "", "tls.alert_message.level == 2"),
		     (long)num(j, "handshakes"));
	json_decref(j);
}

/* handshake = per-message for MQTT over TLS: the client disconnects once
 * its message is acknowledged and connects again for the next, so every
 * message pays TCP, TLS and CONNECT: five connections, five handshakes,
 * each message 500 ms (see above). */
Test(tls_run, per_message_connections, .timeout = 120)
{
	const char *dir = scratch();
	json_t *j = run_text(dir, "[scenario]\nduration = 10s\nseed = 7\n"
				  "[link]\nlatency = 50ms\njitter = none\nloss = 0%\n"
				  "[group.s]\ncount = 1\nprotocol = mqtt\nqos = 1\nsecurity = tls\n"
				  "traffic = periodic(2s)\nstart = const(1s)\n"
				  "[security]\nhandshake = per-message\n[tcp]\nprofile = rfc6298\n");
	cr_assert_eq(num(j, "completed"), 5);
	cr_assert_eq(num(j, "connections"), 5);
	cr_assert_eq(num(j, "handshakes"), 5);
	cr_assert_float_eq(stat(j, "latency_ms", "mean"), 500.0, 1e-6);
	json_decref(j);
}

/* suite = ecdhe-ecdsa-ccm8: the server sends its certificate and signed
 * ECDHE share (handshake types 11 and 12), the client verifies it and the
 * handshake takes as many trips as with PSK (DTLS 300 ms, TLS 200 ms at
 * 50 ms one way); with `keylog` tshark decrypts every record from the NSS
 * key log alone (no PSK to give it). */
Test(tls_run, ecdhe_ecdsa_and_the_key_log, .timeout = 120)
{
	const char *fmt = "[scenario]\nduration = 10s\nseed = 7\n"
			  "[link]\nlatency = 50ms\njitter = none\nloss = 0%%\n"
			  "[group.s]\ncount = 1\nprotocol = %s\nqos = 1\nsecurity = on\n"
			  "traffic = periodic(2s)\nstart = const(1s)\n"
			  "[security]\nsuite = ecdhe-ecdsa-ccm8\n[output]\npcap = yes\nkeylog = yes\n";
	for (int mqtt = 0; mqtt < 2; mqtt++) {
		const char *dir = scratch();
		char ini[512], f[512], opt[600];
		snprintf(ini, sizeof(ini), fmt, mqtt ? "mqtt" : "coap");
		json_t *j = run_text(dir, ini);
		cr_assert_eq(num(j, "completed"), 5);
		cr_assert_eq(num(j, "handshakes"), 1);
		cr_assert_float_eq(stat(j, "handshake_ms", "max"), mqtt ? 200.0 : 300.0, 1e-6);
		snprintf(f, sizeof(f), "%s/out/pcap/p0-r0.pcap", dir);
		snprintf(opt, sizeof(opt), "-o tls.keylog_file:%s/out/pcap/p0-r0.keys", dir);
		const char *hs = mqtt ? "tls.handshake.type" : "dtls.handshake.type";
		char flt[128];
		/* one flight: a datagram, or TCP segments (MSS 536) */
		snprintf(flt, sizeof(flt), "%s == 11", hs);
		cr_assert_eq(test_tshark_count(f, "", flt), 1, "one Certificate");
		snprintf(flt, sizeof(flt), "%s == 12", hs);
		cr_assert_eq(test_tshark_count(f, "", flt), 1, "one ServerKeyExchange");
		cr_assert_eq(test_tshark_count(f, opt, mqtt ? "mqtt.msgtype == 3" : "coap.code == 2"),
			     5, "every message decrypted with the key log");
		cr_assert_eq(test_tshark_count(f, opt, "_ws.malformed || _ws.expert.severity == error"),
			     0);
		json_decref(j);
	}
}

/* resumption = yes for MQTT over TLS: each new connection offers the last
 * session's ticket; the abbreviated handshake is one round trip (100 ms
 * at 50 ms one way) against two: mean (200 + 4 x 100) / 5 = 120 ms, and
 * the messages (500 + 4 x 400) / 5 = 420 ms. */
Test(tls_run, resumption_on_reconnect, .timeout = 120)
{
	const char *dir = scratch();
	json_t *j = run_text(dir, "[scenario]\nduration = 10s\nseed = 7\n"
				  "[link]\nlatency = 50ms\njitter = none\nloss = 0%\n"
				  "[group.s]\ncount = 1\nprotocol = mqtt\nqos = 1\nsecurity = tls\n"
				  "traffic = periodic(2s)\nstart = const(1s)\n"
				  "[security]\nhandshake = per-message\nresumption = yes\n"
				  "[tcp]\nprofile = rfc6298\n");
	cr_assert_eq(num(j, "completed"), 5);
	cr_assert_eq(num(j, "handshakes"), 5);
	cr_assert_float_eq(stat(j, "handshake_ms", "mean"), 120.0, 1e-6);
	cr_assert_float_eq(stat(j, "latency_ms", "mean"), 420.0, 1e-6);
	json_decref(j);
}
