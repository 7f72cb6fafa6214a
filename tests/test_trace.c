/* Captures as Wireshark sees them: runs of the real binary read back with
 * tshark (Debian tshark), the dissectors of an independent implementation. */
#include <arpa/inet.h>
#include <criterion/criterion.h>

#include "helpers.h"
#include <stdbool.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "../sim/backend/backend.h"
#include "../sim/trace/trace.h"

#define bin test_bin

static char dir[64];

static void mk(void)
{
	strcpy(dir, "/tmp/coapsim-trace-XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
}

static void rm(void)
{
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	cr_assert_eq(system(cmd), 0);
}

/* tshark -r FILE -Y FILTER, counting frames; checksums verified. */
static long count(const char *file, const char *filter)
{
	return test_sh_num("tshark -o udp.check_checksum:TRUE -r '%s' -Y '%s' 2>/dev/null | wc -l",
		      file, filter);
}

static json_t *metrics(const char *out)
{
	char path[256];
	json_error_t je;
	snprintf(path, sizeof(path), "%s/summary.json", out);
	json_t *j = json_load_file(path, 0, &je);
	cr_assert_not_null(j, "%s", je.text);
	json_t *m = json_object_get(json_array_get(json_object_get(j, "runs"), 0), "metrics");
	json_incref(m);
	json_decref(j);
	return m;
}

static long metric(json_t *m, const char *name)
{
	json_t *v = json_object_get(m, name);
	cr_assert(json_is_integer(v), "metric %s", name);
	return (long)json_integer_value(v);
}

static int run_scenario(const char *ini, const char *extra)
{
	char path[256], cmd[1024];
	snprintf(path, sizeof(path), "%s/s.ini", dir);
	FILE *f = fopen(path, "w");
	cr_assert_not_null(f);
	fputs(ini, f);
	fclose(f);
	snprintf(cmd, sizeof(cmd), "%s run %s --quiet --jobs 1 --out %s/out %s 2>%s/err",
		 bin(), path, dir, extra, dir);
	int st = system(cmd);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* Loss, jitter (reordering), duplication, and 1500-byte payloads over a
 * 1280-byte MTU (two fragments each). */
static const char lossy[] =
	"[scenario]\nduration = 3min\nseed = 5\n"
	"[link]\nlatency = 100ms\njitter = uniform(0, 80ms)\nloss = 10%\n"
	"duplicate = 5%\nrate = 250kbps\nmtu = 1280\n"
	"[group.s]\ncount = 100\ntraffic = periodic(30s)\nstart = uniform(0, 30s)\n"
	"payload = ${16, 1500}\n";

Test(trace, tshark_agrees_with_the_metrics, .timeout = 300)
{
	char tx[256], rx[256];
	mk();
	cr_assert_eq(run_scenario(lossy, ""), 0);
	for (int point = 0; point < 2; point++) {
		char out[128], sub[160];
		snprintf(out, sizeof(out), "%s/out", dir);
		snprintf(tx, sizeof(tx), "%s/pcap/p%d-r0.pcap", out, point);
		snprintf(rx, sizeof(rx), "%s/pcap/p%d-r0.rx.pcap", out, point);
		/* metrics of this point's run */
		json_error_t je;
		snprintf(sub, sizeof(sub), "%s/summary.json", out);
		json_t *j = json_load_file(sub, 0, &je);
		json_t *m = json_object_get(json_array_get(json_object_get(j, "runs"), point),
					    "metrics");
		long sent = metric(m, "packets_sent"), lost = metric(m, "packets_lost");
		long dups = metric(m, "duplicates"), retx = metric(m, "retransmissions");
		cr_assert_gt(lost, 0);
		cr_assert_gt(dups, 0);
		cr_assert_gt(retx, 0);

		cr_assert_eq(count(tx, "_ws.malformed"), 0, "malformed in %s", tx);
		cr_assert_eq(count(rx, "_ws.malformed"), 0, "malformed in %s", rx);
		cr_assert_eq(count(tx, "_ws.expert.severity == error"), 0, "errors in %s", tx);
		cr_assert_eq(count(tx, "udp.checksum.status == \"Bad\""), 0);
		/* Every datagram's checksum was verified, not skipped. */
		cr_assert_eq(count(tx, "udp.checksum.status == \"Good\""), sent);
		/* The capture is the source of truth for the channel metrics. */
		cr_assert_eq(count(tx, "coap"), sent, "CoAP packets in %s", tx);
		cr_assert_eq(count(rx, "coap"), sent - lost + dups, "CoAP packets in %s", rx);
		/* Wireshark's own retransmission analysis. */
		cr_assert_eq(count(tx, "coap.retransmitted && coap.type == 0"), retx);
		if (point == 1) {
			/* 1500-byte payloads: two fragments, reassembled by Wireshark. */
			cr_assert_gt(count(tx, "ipv6.fragment"), 0);
			cr_assert_eq(count(tx, "ipv6.fraghdr.offset == 0 && ipv6.fraghdr.more == 1"),
				     count(tx, "udp.length > 1400"));
			cr_assert_eq(count(tx, "coap && ipv6.reassembled_in"), 0);
		}
		/* Addresses from 2001:db8::/32, port 5683 both ways, ns timestamps. */
		cr_assert_eq(count(tx, "coap && !(ipv6.src == 2001:db8::/32 && "
				       "ipv6.dst == 2001:db8::/32)"), 0);
		cr_assert_eq(count(tx, "udp && !(udp.srcport == 5683 && udp.dstport == 5683)"), 0);
		cr_assert_eq(test_sh_num("tshark -r '%s' -c 1 -T fields -e frame.time_epoch 2>/dev/null"
				    " | grep -c '\\.[0-9]\\{9\\}'", tx), 1);
		json_decref(j);
	}
	rm();
}

/* The ns-3 backend writes the same captures: loss, a rate-limited shared
 * bottleneck with a short queue, and 1500-byte payloads fragmented over a
 * 1280-byte MTU, all carried by ns-3. */
Test(trace, ns3_captures_agree_with_the_metrics, .timeout = 300)
{
	char tx[256], rx[256];
	if (!backend_lookup(BACKEND_NS3))
		cr_skip_test("coapsim was built without ns-3");
	mk();
	cr_assert_eq(run_scenario("[scenario]\nduration = 3min\nseed = 5\nbackend = ns3\n"
				  "[link]\nlatency = 100ms\nloss = 10%\nrate = 250kbps\nmtu = 1280\n"
				  "[bottleneck]\nrate = 100kbps\nqueue = 8\nlatency = 10ms\n"
				  "[group.s]\ncount = 100\ntraffic = periodic(30s)\n"
				  "start = uniform(0, 5s)\npayload = 1500\n", ""), 0);
	snprintf(tx, sizeof(tx), "%s/out/pcap/p0-r0.pcap", dir);
	snprintf(rx, sizeof(rx), "%s/out/pcap/p0-r0.rx.pcap", dir);
	char out[128];
	snprintf(out, sizeof(out), "%s/out", dir);
	json_t *m = metrics(out);
	long sent = metric(m, "packets_sent"), lost = metric(m, "packets_lost");
	long retx = metric(m, "retransmissions");
	cr_assert_gt(lost, 0);
	cr_assert_gt(metric(m, "queue_drops"), 0, "the bottleneck queue overflows");
	cr_assert_gt(retx, 0);
	cr_assert_eq(count(tx, "_ws.malformed"), 0);
	cr_assert_eq(count(rx, "_ws.malformed"), 0);
	cr_assert_eq(count(tx, "udp.checksum.status == \"Good\""), sent);
	cr_assert_eq(count(tx, "coap"), sent);
	cr_assert_eq(count(rx, "coap"), sent - lost);
	cr_assert_eq(count(tx, "coap.retransmitted && coap.type == 0"), retx);
	cr_assert_eq(count(tx, "ipv6.fraghdr.offset == 0 && ipv6.fraghdr.more == 1"),
		     count(tx, "udp.length > 1400"));
	json_decref(m);
	rm();
}

/* MQTT over ns-3's own TCP sockets: QoS 1 through 10% loss both ways
 * delivers every message, and Wireshark agrees with the metrics. */
Test(trace, ns3_mqtt_captures_agree_with_the_metrics, .timeout = 300)
{
	char tx[256], rx[256], out[128];
	if (!backend_lookup(BACKEND_NS3))
		cr_skip_test("coapsim was built without ns-3");
	mk();
	cr_assert_eq(run_scenario("[scenario]\nduration = 10min\nseed = 5\nbackend = ns3\n"
				  "[link]\nlatency = 100ms\nloss = 10%\n"
				  "[group.s]\ncount = 50\nprotocol = mqtt\nqos = 1\n"
				  "traffic = periodic(60s)\nstart = uniform(0, 60s)\n", ""), 0);
	snprintf(out, sizeof(out), "%s/out", dir);
	snprintf(tx, sizeof(tx), "%s/pcap/p0-r0.pcap", out);
	snprintf(rx, sizeof(rx), "%s/pcap/p0-r0.rx.pcap", out);
	json_t *m = metrics(out);
	long msgs = metric(m, "messages"), sent = metric(m, "packets_sent");
	long lost = metric(m, "packets_lost");
	cr_assert_eq(msgs, 500);
	cr_assert_eq(metric(m, "delivered"), msgs);
	cr_assert_eq(metric(m, "completed"), msgs);
	cr_assert_eq(metric(m, "failed"), 0);
	cr_assert_gt(lost, 0);
	cr_assert_eq(count(tx, "_ws.malformed"), 0);
	cr_assert_eq(count(rx, "_ws.malformed"), 0);
	cr_assert_eq(test_sh_num("tshark -o tcp.check_checksum:TRUE -r '%s' -Y "
			    "'tcp.checksum.status == \"Good\"' 2>/dev/null | wc -l", tx), sent);
	cr_assert_eq(count(tx, "tcp"), sent);
	cr_assert_eq(count(rx, "tcp"), sent - lost);
	/* Wireshark dissects each PUBLISH once (not in retransmissions). */
	cr_assert_eq(count(tx, "mqtt.msgtype == 3"), msgs);
	cr_assert_eq(count(tx, "tcp.analysis.retransmission || tcp.analysis.fast_retransmission"),
		     metric(m, "tcp_retransmissions"));
	json_decref(m);
	rm();
}

Test(trace, endpoint_addresses)
{
	uint8_t a[16];
	/* endpoint 0 -> 2001:db8:1::1, endpoint 0x12345 -> 2001:db8:1::1:2346 */
	const uint8_t e0[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
	const uint8_t e1[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 0,
				0, 0, 0, 0, 0, 0x01, 0x23, 0x46};
	const uint8_t srv[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
	trace_addr(0, a);
	cr_assert_arr_eq(a, e0, 16);
	trace_addr(0x12345, a);
	cr_assert_arr_eq(a, e1, 16);
	trace_addr(UINT32_MAX, a);
	cr_assert_arr_eq(a, srv, 16);
}

Test(trace, one_packet_bytes)
{
	struct trace *t;
	char err[256], path[256];
	mk();
	struct trace_cfg c = {.dir = dir, .run_id = "x", .mtu_up = 1280,
			      .mtu_down = 1280, .port = 5683};
	cr_assert_eq(trace_open(&t, &c, err, sizeof(err)), 0, "%s", err);
	/* CoAP ping: CON, 0.00, MID 0x0001 */
	const uint8_t ping[4] = {0x40, 0x00, 0x00, 0x01};
	trace_tx(t, 0, TRACE_UP, 0, 0, ping, 4, 1500000001ull);
	cr_assert_eq(trace_close(t, err, sizeof(err)), 0);
	snprintf(path, sizeof(path), "%s/x.pcap", dir);
	FILE *f = fopen(path, "rb");
	uint8_t b[256];
	size_t n = fread(b, 1, sizeof(b), f);
	fclose(f);
	/* 24-byte file header + 16-byte record header + 40 IPv6 + 8 UDP + 4 */
	cr_assert_eq(n, 24 + 16 + 52);
	cr_assert_eq(b[0], 0x4d); /* a1b23c4d little-endian: nanosecond pcap */
	cr_assert_eq(b[20], 101); /* LINKTYPE_RAW */
	const uint8_t *r = b + 24;
	cr_assert_eq(r[0] | r[1] << 8 | r[2] << 16 | (uint32_t)r[3] << 24, 1); /* 1 s */
	cr_assert_eq(r[4] | r[5] << 8 | r[6] << 16 | (uint32_t)r[7] << 24, 500000001);
	const uint8_t *ip = b + 40;
	cr_assert_eq(ip[0], 0x60);               /* version 6 */
	cr_assert_eq(ip[4] << 8 | ip[5], 12);    /* payload length: UDP 8 + 4 */
	cr_assert_eq(ip[6], 17);                 /* next header UDP */
	cr_assert_eq(ip[7], 64);                 /* hop limit */
	const uint8_t *u = ip + 40;
	cr_assert_eq(u[0] << 8 | u[1], 5683);
	cr_assert_eq(u[2] << 8 | u[3], 5683);
	cr_assert_eq(u[4] << 8 | u[5], 12);
	/* Checksum by hand (RFC 1071 over the pseudo-header and datagram):
	 * src 2001:0db8:0001:0000:0000:0000:0000:0001 -> 0x2001+0x0db8+0x0001+0x0001
	 * dst 2001:0db8::1                           -> 0x2001+0x0db8+0x0001
	 * length 12 (0x000c), next header 17 (0x0011)
	 * UDP 0x1633 0x1633 0x000c, data 0x4000 0x0001
	 * sum = 0x2001*2 + 0x0db8*2 + 0x0001*3 + 0x000c*2 + 0x0011
	 *     + 0x1633*2 + 0x4000 + 0x0001
	 *     = 0x4002 + 0x1b70 + 0x3 + 0x18 + 0x11 + 0x2c66 + 0x4000 + 0x1
	 *     = 0xc805, no carry -> checksum ~0xc805 = 0x37fa */
	cr_assert_eq(u[6] << 8 | u[7], 0x37fa);
	cr_assert_eq(count(path, "udp.checksum.status == \"Good\" && coap.code == 0"), 1);
	rm();
}

/* The checksum sums eight bytes a step and loads the last 0-7 in pieces:
 * every payload length from 0 to 17 (each tail length twice), both
 * directions and endpoint numbers whose address words carry into the
 * high bits, each checked by tshark's own UDP checksum. */
Test(trace, checksums_for_every_tail_length, .timeout = 60)
{
	struct trace *t;
	char err[256], path[256];
	uint8_t payload[17];
	mk();
	struct trace_cfg c = {.dir = dir, .run_id = "x", .mtu_up = 1280,
			      .mtu_down = 1280, .port = 5683};
	cr_assert_eq(trace_open(&t, &c, err, sizeof(err)), 0, "%s", err);
	for (size_t i = 0; i < sizeof(payload); i++)
		payload[i] = (uint8_t)(0xff - 13 * i); /* sums with carries */
	for (size_t len = 0; len <= sizeof(payload); len++) {
		trace_tx(t, 0xfffffffeu - (uint32_t)len, TRACE_UP, 0, 0, payload, len,
			 (sim_time)len * 1000);
		trace_tx(t, 0x00ff00ffu + (uint32_t)len, TRACE_DOWN, 0, 0, payload, len,
			 (sim_time)len * 1000 + 1);
	}
	cr_assert_eq(trace_close(t, err, sizeof(err)), 0);
	snprintf(path, sizeof(path), "%s/x.pcap", dir);
	cr_assert_eq(count(path, "udp"), 36);
	cr_assert_eq(count(path, "udp.checksum.status == \"Good\""), 36);
	rm();
}

/* Endpoints are stored in the order they first send (an optimisation
 * of the world's memory), but an endpoint stays who it is: in the
 * capture, every request's source address and the {id} in its Uri-Path
 * name the same endpoint, and every row of exchanges.csv is a first
 * transmission from that endpoint's address at that time. */
Test(trace, endpoint_identity_in_captures_and_exchanges, .timeout = 120)
{
	static const char fleet[] =
		"[scenario]\nduration = 1min\nseed = 11\n"
		"[link]\nlatency = 100ms\njitter = uniform(0, 20ms)\nloss = 5%\n"
		"[group.s]\ncount = 400\ntraffic = periodic(20s)\n"
		"start = uniform(0, 20s)\npath = /d/{id}\n"
		"[output]\npcap = yes\nexchanges = yes\n";
	enum { MAX_TX = 8192 };
	static struct { uint32_t ep; double t; } first[MAX_TX];
	size_t n_first = 0, n_req = 0, n_rows = 0;
	char cmd[512], line[512];

	mk();
	cr_assert_eq(run_scenario(fleet, ""), 0);
	snprintf(cmd, sizeof(cmd),
		 "tshark -r %s/out/pcap/p0-r0.pcap -Y 'coap.type == 0 && coap.code == 2' "
		 "-T fields -E separator='|' -E aggregator=, -e frame.time_epoch "
		 "-e ipv6.src -e coap.opt.uri_path -e coap.retransmitted 2>/dev/null", dir);
	FILE *p = popen(cmd, "r");
	cr_assert_not_null(p);
	while (fgets(line, sizeof(line), p)) {
		char *t = strtok(line, "|"), *src = strtok(NULL, "|"), *path = strtok(NULL, "|\n");
		char *retx = strtok(NULL, "|\n");
		cr_assert(t && src && path, "tshark line: %s", line);
		uint8_t a[16];
		cr_assert_eq(inet_pton(AF_INET6, src, a), 1, "%s", src);
		uint32_t ep = ((uint32_t)a[12] << 24 | (uint32_t)a[13] << 16 |
			       (uint32_t)a[14] << 8 | a[15]) - 1;
		const char *id = strrchr(path, ','); /* one field per option */
		cr_assert_not_null(id, "%s", path);
		cr_assert_eq(strtoul(id + 1, NULL, 10), ep, "%s from %s", path, src);
		n_req++;
		if (!retx) {
			cr_assert_lt(n_first, MAX_TX);
			first[n_first].ep = ep;
			first[n_first++].t = strtod(t, NULL);
		}
	}
	pclose(p);
	/* 400 endpoints, a message every 20 s for a minute. */
	cr_assert_eq(n_first, 1200);
	cr_assert_gt(n_req, n_first);

	snprintf(cmd, sizeof(cmd), "%s/out/exchanges.csv", dir);
	FILE *f = fopen(cmd, "r");
	cr_assert_not_null(f);
	cr_assert_not_null(fgets(line, sizeof(line), f)); /* header */
	while (fgets(line, sizeof(line), f)) {
		uint32_t ep;
		double t;
		cr_assert_eq(sscanf(line, "%*[^,],%u,%*[^,],%lf", &ep, &t), 2, "%s", line);
		bool found = false;
		for (size_t i = 0; i < n_first && !found; i++)
			found = first[i].ep == ep && first[i].t > t - 1e-9 && first[i].t < t + 1e-9;
		cr_assert(found, "no first transmission for row %s", line);
		n_rows++;
	}
	fclose(f);
	cr_assert_eq(n_rows, n_first);

	/* The server side names the endpoint too: requests as the server
	 * received them, and the answers it sent back (to the address whose
	 * request carried the token). */
	for (int file = 0; file < 2; file++) {
		const char *pc = file ? "p0-r0.rx.pcap" : "p0-r0.pcap";
		snprintf(cmd, sizeof(cmd),
			 "tshark -r %s/out/pcap/%s -Y 'coap.type == 0 && coap.code == 2' "
			 "-T fields -E aggregator=, -e ipv6.src -e coap.opt.uri_path 2>/dev/null"
			 " | sed 's/2001:db8:1:://; s/\\t.*,/ /' | sort -u > %s/req", dir, pc, dir);
		cr_assert_eq(system(cmd), 0);
		/* Address suffix (hex of id + 1) against the path's id. */
		cr_assert_eq(test_sh_num("awk '{ if ($1 != sprintf(\"%%x\", $2 + 1)) bad++ } END "
				    "{ print bad + 0 }' %s/req", dir), 0, "%s", pc);
		cr_assert_gt(test_sh_num("wc -l < %s/req", dir), 390, "%s", pc);
	}
	snprintf(cmd, sizeof(cmd),
		 "cd %s && tshark -r out/pcap/p0-r0.pcap -Y 'coap.type == 0 && coap.code == 2'"
		 " -T fields -e ipv6.src -e coap.token 2>/dev/null | sort -u > rq && "
		 "tshark -r out/pcap/p0-r0.pcap -Y 'coap.type == 2 && coap.code == 68'"
		 " -T fields -e ipv6.dst -e coap.token 2>/dev/null | sort -u > ack", dir);
	cr_assert_eq(system(cmd), 0);
	cr_assert_gt(test_sh_num("wc -l < %s/ack", dir), 1000);
	cr_assert_eq(test_sh_num("comm -13 %s/rq %s/ack | wc -l", dir, dir), 0);
	rm();
}

Test(trace, rotation_keeps_every_file_under_the_limit, .timeout = 120)
{
	mk();
	cr_assert_eq(run_scenario(lossy, "--set output.pcap_max=20kB --set link.loss=0 "
					 "--set link.duplicate=0"),
		     0);
	char out[128];
	snprintf(out, sizeof(out), "%s/out", dir);
	json_t *m = metrics(out);
	long sent = metric(m, "packets_sent");
	json_decref(m);
	/* Receive-side files are p0-r0.rx[.N].pcap; the filter looks for the
	 * dots, as the random folder name may itself contain "rx". */
	long files = test_sh_num("ls %s/pcap/p0-r0*.pcap | grep -v '[.]rx[.]' | wc -l", out);
	cr_assert_gt(files, 2);
	cr_assert_eq(test_sh_num("find %s/pcap -name '*.pcap' -size +20000c | wc -l", out), 0);
	cr_assert_eq(test_sh_num("cat $(ls %s/pcap/p0-r0*.pcap | grep -v '[.]rx[.]') >/dev/null; "
			    "for f in $(ls %s/pcap/p0-r0*.pcap | grep -v '[.]rx[.]'); do "
			    "tshark -r $f -Y coap 2>/dev/null; done | wc -l", out, out),
		     sent);
	rm();
}

/* A capture folder that cannot be made (a file where its parent should
 * be): exit 3, one line naming it, and no results published. */
Test(trace, unwritable_capture_folder_is_exit_3)
{
	char blocker[128], path[256], cmd[1024];
	mk();
	snprintf(blocker, sizeof(blocker), "%s/blocker", dir);
	FILE *f = fopen(blocker, "w");
	fclose(f);
	snprintf(path, sizeof(path), "%s/s.ini", dir);
	f = fopen(path, "w");
	cr_assert_not_null(f);
	fputs(lossy, f);
	fclose(f);
	snprintf(cmd, sizeof(cmd),
		 "%s run %s --quiet --jobs 1 --set output.dir=%s/out --set output.pcap_dir=%s/sub "
		 "2>%s/err",
		 bin(), path, dir, blocker, dir);
	int st = system(cmd);
	cr_assert(WIFEXITED(st));
	cr_assert_eq(WEXITSTATUS(st), 3);
	cr_assert_eq(test_sh_num("wc -l < %s/err", dir), 1);
	cr_assert_eq(test_sh_num("grep -c blocker %s/err", dir), 1);
	struct stat sb;
	snprintf(path, sizeof(path), "%s/out/summary.json", dir);
	cr_assert_neq(stat(path, &sb), 0, "no summary after a failed run");
	rm();
}

Test(trace, full_disk_is_exit_3)
{
	/* /dev/full fails every write with ENOSPC: a capture there fails at
	 * the first flush. */
	struct trace *t;
	char err[512];
	mk();
	char link[160];
	snprintf(link, sizeof(link), "%s/full", dir);
	mkdir(link, 0777);
	char target[200];
	snprintf(target, sizeof(target), "%s/x.pcap", link);
	cr_assert_eq(symlink("/dev/full", target), 0);
	struct trace_cfg c = {.dir = link, .run_id = "x", .mtu_up = 1280,
			      .mtu_down = 1280, .port = 5683};
	if (trace_open(&t, &c, err, sizeof(err)) == 0) {
		const uint8_t ping[4] = {0x40, 0x00, 0x00, 0x01};
		for (int i = 0; i < 30000; i++) /* 2 MB: fails at a flush or at close */
			trace_tx(t, 0, TRACE_UP, 0, 0, ping, 4, (sim_time)i);
		cr_assert_eq(trace_close(t, err, sizeof(err)), SIM_ERR_IO);
	}
	cr_assert_not_null(strstr(err, "No space left on device"), "%s", err);
	rm();
}
