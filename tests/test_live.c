/* The live backend against a real CoAP server: libcoap 4.3.1's
 * coap-server-notls (Debian libcoap3-bin) on a free loopback port, started
 * and stopped by each test, the channel emulated in coapsim.  Expected
 * values come from the RFC's closed forms and from libcoap itself (it
 * answers every request); each run is bounded by timeout(1). */
#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <netinet/in.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "helpers.h"

#define SERVER "coap-server-notls"

static int leftover_namespaces(void);
static void rm_dir(const char *dir);

static bool have_server(void)
{
	return system("command -v " SERVER " >/dev/null 2>&1") == 0;
}

/* libcoap's server (or, ours, coapsim serve) on 127.0.0.1:port, for at
 * most 10 minutes. */
static pid_t start_any_server(int port, bool ours)
{
	char p[16], uri[64];
	snprintf(p, sizeof(p), "%d", port);
	snprintf(uri, sizeof(uri), "coap://127.0.0.1:%d", port);
	const char *bin = ours ? test_bin_path() : NULL;
	pid_t pid = fork();
	cr_assert(pid >= 0);
	if (pid == 0) {
		if (ours)
			execlp("timeout", "timeout", "600", bin, "serve",
			       "scenarios/live/temperature.ini", "--listen", uri, (char *)NULL);
		else
			execlp("timeout", "timeout", "600", SERVER, "-A", "127.0.0.1", "-p", p,
			       (char *)NULL);
		_exit(127);
	}
	usleep(300000); /* let it bind */
	return pid;
}

static pid_t start_server(int port)
{
	return start_any_server(port, false);
}

static void stop_server(pid_t pid)
{
	kill(pid, SIGTERM);
	waitpid(pid, NULL, 0);
}

static json_t *total_of(json_t *sum)
{
	json_t *run = json_array_get(json_object_get(sum, "runs"), 0);
	cr_assert_not_null(run, "summary.json has no run");
	return json_object_get(run, "metrics");
}

static double num(json_t *metrics, const char *name)
{
	json_t *v = json_object_get(metrics, name);
	cr_assert(json_is_number(v), "metric %s is not a number", name);
	return json_number_value(v);
}

/* Run the live scenario against the port with extra --set arguments; the
 * results' summary.json. */
static json_t *run_live(const char *dir, int port, const char *sets)
{
	char cmd[4096];
	snprintf(cmd, sizeof(cmd),
		 "%s run scenarios/live/temperature.ini --quiet --out %s "
		 "--set live.target=coap://127.0.0.1:%d --set group.sensors.path=/time %s",
		 test_bin(), dir, port, sets);
	cr_assert_eq(system(cmd), 0, "%s", cmd);
	char path[512];
	snprintf(path, sizeof(path), "%s/summary.json", dir);
	json_error_t je;
	json_t *j = json_load_file(path, 0, &je);
	cr_assert_not_null(j, "%s: %s", path, je.text);
	return j;
}

/* A fresh libcoap server, one live run against it with these --set
 * arguments, the server stopped and the results removed: summary.json. */
static json_t *against_libcoap(const char *sets)
{
	if (!have_server())
		cr_skip_test(SERVER " is not installed (Debian libcoap3-bin)");
	char dir[] = "/tmp/coapsim-live-XXXXXX", out[512], rm[600];
	cr_assert_not_null(mkdtemp(dir));
	int port = test_free_udp_port();
	pid_t srv = start_server(port);
	snprintf(out, sizeof(out), "%s/res", dir);
	json_t *sum = run_live(out, port, sets);
	stop_server(srv);
	snprintf(rm, sizeof(rm), "rm -rf %s", dir);
	cr_assert_eq(system(rm), 0);
	return sum;
}

Test(live, every_exchange_completes_on_a_clean_link, .timeout = 120)
{
	json_t *sum = against_libcoap("--set link.loss=0 --set link.jitter=none --set link.latency=5ms "
			       "--set group.sensors.count=100 --set scenario.duration=4s "
			       "--set 'group.sensors.traffic=periodic(2s)' --set 'group.sensors.start=uniform(0,2s)'");
	json_t *m = total_of(sum);
	/* 100 endpoints, a message every 2 s over 4 s: 2 each. */
	cr_assert_eq(num(m, "messages"), 200);
	cr_assert_eq(num(m, "completed"), 200);
	cr_assert_eq(num(m, "delivered"), 200);
	cr_assert_eq(num(m, "retransmissions"), 0);
	cr_assert_eq(num(m, "server_errors"), 0);
	/* No latency below the emulated round trip (2 x 5 ms). */
	json_t *lat = json_object_get(m, "latency_ms");
	cr_assert_geq(json_number_value(json_object_get(lat, "p50")), 10.0);
	/* The generator reports its own lag, and it is small here. */
	json_t *lag = json_object_get(m, "generator_lag_ms");
	cr_assert(json_is_number(json_object_get(lag, "max")), "no generator lag");
	json_decref(sum);
}

/* RFC 7252 §4.2 with independent loss p each way: a try succeeds when the
 * request and its answer both get through, q = (1-p)^2; an exchange has
 * MAX_RETRANSMIT + 1 = 5 tries.  P(success) = 1 - (1-q)^5; transmissions
 * per message E[T] = (1 - (1-q)^5) / q, with Var[T] from the same
 * truncated geometric distribution.  libcoap answers every request (and
 * every duplicate from its cache), so the closed forms hold whatever the
 * timing.  At least min_n messages; both within 4 standard errors. */
static void check_closed_forms(double n, double succ, double tx, double p)
{
	double q = (1 - p) * (1 - p), f5 = pow(1 - q, 5);
	double ps = 1 - f5;
	double et = 0, et2 = 0; /* E[T], E[T^2] over T in 1..5 */
	for (int k = 1; k <= 5; k++) {
		double pk = k < 5 ? pow(1 - q, k - 1) * q : pow(1 - q, 4);
		et += k * pk;
		et2 += (double)k * k * pk;
	}
	cr_assert_float_eq(et, (1 - f5) / q, 1e-12);
	double se_s = sqrt(ps * (1 - ps) / n), se_t = sqrt((et2 - et * et) / n);
	cr_assert(fabs(succ - ps) <= 4 * se_s + 1e-9, "success %.5f, closed form %.5f (4 SE %.5f)",
		  succ, ps, 4 * se_s);
	cr_assert(fabs(tx - et) <= 4 * se_t, "tx/msg %.4f, closed form %.4f (4 SE %.4f)", tx, et,
		  4 * se_t);
}

static void assert_closed_forms(json_t *m, double p, double min_n)
{
	double n = num(m, "messages");
	cr_assert_geq(n, min_n);
	check_closed_forms(n, num(m, "success_ratio"), num(m, "transmissions") / n, p);
}

Test(live, closed_forms_hold_at_20_percent_loss_each_way, .timeout = 240)
{
	json_t *sum = against_libcoap("--set link.loss=20% --set link.jitter=none --set link.latency=5ms "
			       "--set group.sensors.count=500 --set scenario.duration=8s "
			       "--set 'group.sensors.traffic=periodic(2s)' --set 'group.sensors.start=uniform(0,2s)' "
			       "--set coap.ack_timeout=500ms");
	assert_closed_forms(total_of(sum), 0.2, 2000);
	json_decref(sum);
}

/* DTLS against libcoap's OpenSSL build (`-k KEY`: PSK; DTLS on the UDP
 * port + 1): every endpoint handshakes once and keeps its session, every
 * message completes over it, and the server's flights are counted as they
 * arrive.  With another key every handshake fails (the server's alert). */
static json_t *against_coaps(int port, const char *sets, long *hs_frame_bytes)
{
	char dir[] = "/tmp/coapsim-live-XXXXXX", cmd[4096], path[600];
	cr_assert_not_null(mkdtemp(dir));
	snprintf(cmd, sizeof(cmd),
		 "%s run scenarios/live/temperature.ini --quiet --out %s/res "
		 "--set live.target=coaps://127.0.0.1:%d --set group.sensors.path=/time "
		 "--set group.sensors.security=dtls --set link.loss=0 --set link.jitter=none "
		 "--set link.latency=5ms --set group.sensors.count=20 --set scenario.duration=4s "
		 "--set 'group.sensors.traffic=periodic(2s)' "
		 "--set 'group.sensors.start=uniform(0,2s)' --set output.pcap=yes %s",
		 test_bin(), dir, port + 1, sets);
	cr_assert_eq(system(cmd), 0, "%s", cmd);
	snprintf(path, sizeof(path), "%s/res/summary.json", dir);
	json_error_t je;
	json_t *j = json_load_file(path, 0, &je);
	cr_assert_not_null(j, "%s: %s", path, je.text);
	/* The handshake's datagrams both ways (their records), as tshark
	 * reads the capture. */
	snprintf(cmd, sizeof(cmd),
		 "tshark -r %s/res/pcap/p0-r0.pcap -d udp.port==%d,dtls "
		 "-Y 'dtls.record.content_type != 23' -T fields -e udp.length 2>/dev/null | "
		 "awk '{ s += $1 - 8 } END { print s + 0 }'",
		 dir, port + 1);
	FILE *p = popen(cmd, "r");
	cr_assert_not_null(p);
	cr_assert_eq(fscanf(p, "%ld", hs_frame_bytes), 1);
	pclose(p);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	cr_assert_eq(system(cmd), 0);
	return j;
}

Test(live, dtls_psk_against_libcoap_openssl, .timeout = 120)
{
	if (system("command -v coap-server-openssl >/dev/null 2>&1") != 0)
		cr_skip_test("coap-server-openssl is not installed (Debian libcoap3-bin)");
	int port = test_free_udp_port();
	char p[16];
	snprintf(p, sizeof(p), "%d", port);
	pid_t srv = fork();
	cr_assert(srv >= 0);
	if (srv == 0) {
		execlp("timeout", "timeout", "120", "coap-server-openssl", "-A", "127.0.0.1", "-p", p,
		       "-k", "coapsim-psk", (char *)NULL);
		_exit(127);
	}
	usleep(300000);
	long hs_bytes;
	json_t *sum = against_coaps(port, "", &hs_bytes);
	json_t *m = total_of(sum);
	/* 20 endpoints, a message every 2 s over 4 s: 2 each, one handshake. */
	cr_assert_eq(num(m, "messages"), 40);
	cr_assert_eq(num(m, "completed"), 40);
	cr_assert_eq(num(m, "handshakes"), 20);
	cr_assert_eq(num(m, "handshake_failures"), 0);
	/* Both directions' flights, as in the capture. */
	cr_assert_eq(num(m, "handshake_bytes"), hs_bytes);
	/* 29 bytes a record with CCM-8, requests and responses. */
	cr_assert_eq(num(m, "security_overhead_bytes"), 80 * 29);
	json_decref(sum);
	/* OpenSSL drops the Finished it cannot decrypt (RFC 6347 4.1.2.7): the
	 * client gives up on its timer, here after 1 + 2 s. */
	sum = against_coaps(port, "--set security.psk=00112233 --set dtls.timeout_max=2s "
				  "--set coap.max_retransmit=0",
			   &hs_bytes);
	m = total_of(sum);
	cr_assert_gt(num(m, "handshakes"), 0);
	cr_assert_eq(num(m, "handshake_failures"), num(m, "handshakes"));
	cr_assert_eq(num(m, "completed"), 0);
	json_decref(sum);
	stop_server(srv);
}

/* Nothing listens at the target: the probe says so, exit 3, at once. */
Test(live, no_server_is_exit_3_from_the_probe, .timeout = 30)
{
	char cmd[4096];
	snprintf(cmd, sizeof(cmd),
		 "%s run scenarios/live/temperature.ini --quiet --out /tmp/coapsim-live-none-%d "
		 "--set live.target=coap://127.0.0.1:%d 2>/tmp/coapsim-live-none-%d.err",
		 test_bin(), getpid(), test_free_udp_port(), getpid());
	int st = system(cmd);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 3, "exit %d", WEXITSTATUS(st));
	char path[128], line[512] = "";
	snprintf(path, sizeof(path), "/tmp/coapsim-live-none-%d.err", getpid());
	FILE *f = fopen(path, "r");
	cr_assert_not_null(f);
	cr_assert_not_null(fgets(line, sizeof(line), f));
	fclose(f);
	unlink(path);
	cr_assert_not_null(strstr(line, "coap://127.0.0.1:"), "%s", line);
	cr_assert_not_null(strstr(line, "refused"), "%s", line);
}

/* A load generator never reaches another host by accident. */
Test(live, a_remote_target_needs_allow_remote, .timeout = 30)
{
	char cmd[4096];
	snprintf(cmd, sizeof(cmd),
		 "%s run scenarios/live/temperature.ini --quiet --out /tmp/coapsim-live-remote-%d "
		 "--set live.target=coap://192.0.2.1:5683 2>/dev/null",
		 test_bin(), getpid());
	int st = system(cmd);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 3, "exit %d", WEXITSTATUS(st));
}

/* The server dies mid-run: the run still ends by itself, the exchanges it
 * left open fail (completed + failed = messages), and the kernel's ICMP
 * port unreachable answers are counted. */
Test(live, the_server_killed_midway_ends_in_counted_failures, .timeout = 120)
{
	if (!have_server())
		cr_skip_test(SERVER " is not installed (Debian libcoap3-bin)");
	char dir[] = "/tmp/coapsim-live-XXXXXX", out[512], rm[600];
	cr_assert_not_null(mkdtemp(dir));
	int port = test_free_udp_port();
	pid_t srv = start_server(port);
	pid_t killer = fork();
	cr_assert(killer >= 0);
	if (killer == 0) {
		sleep(3);
		kill(srv, SIGTERM);
		_exit(0);
	}
	snprintf(out, sizeof(out), "%s/res", dir);
	json_t *sum = run_live(out, port,
			       "--set link.loss=0 --set link.jitter=none --set link.latency=5ms "
			       "--set group.sensors.count=50 --set scenario.duration=6s "
			       "--set 'group.sensors.traffic=periodic(2s)' "
			       "--set 'group.sensors.start=uniform(0,2s)' --set coap.ack_timeout=100ms");
	waitpid(killer, NULL, 0);
	waitpid(srv, NULL, 0);
	json_t *m = total_of(sum);
	double n = num(m, "messages"), ok = num(m, "completed"), bad = num(m, "failed");
	cr_assert_eq(n, 150); /* 50 endpoints, 6 s, one every 2 s */
	cr_assert_gt(ok, 0);
	cr_assert_gt(bad, 0);
	cr_assert_eq(ok + bad, n);
	cr_assert_gt(num(m, "port_unreachable"), 0);
	json_decref(sum);
	snprintf(rm, sizeof(rm), "rm -rf %s", dir);
	cr_assert_eq(system(rm), 0);
}

/* coapsim serve, the project's own server core on a real socket, as the
 * target: on a clean link every exchange completes and the server answers
 * with the scenario's payload (no 4.xx: it serves any path). */
Test(live, every_exchange_completes_against_coapsim_serve, .timeout = 120)
{
	char dir[] = "/tmp/coapsim-live-XXXXXX", out[512], rm[600];
	cr_assert_not_null(mkdtemp(dir));
	int port = test_free_udp_port();
	pid_t srv = start_any_server(port, true);
	snprintf(out, sizeof(out), "%s/res", dir);
	json_t *sum = run_live(out, port,
			       "--set link.loss=0 --set link.jitter=none --set link.latency=5ms "
			       "--set group.sensors.count=100 --set scenario.duration=4s "
			       "--set 'group.sensors.traffic=periodic(2s)' "
			       "--set 'group.sensors.start=uniform(0,2s)'");
	stop_server(srv);
	json_t *m = total_of(sum);
	cr_assert_eq(num(m, "messages"), 200);
	cr_assert_eq(num(m, "completed"), 200);
	cr_assert_eq(num(m, "retransmissions"), 0);
	cr_assert_eq(num(m, "server_errors"), 0);
	json_decref(sum);
	snprintf(rm, sizeof(rm), "rm -rf %s", dir);
	cr_assert_eq(system(rm), 0);
}

/* Captures of a live run carry the real sockets' 5-tuple: tshark reads
 * every record as CoAP between 127.0.0.1 ports (the server's, and one
 * source port per endpoint), with good IPv4 and UDP checksums. */
Test(live, captures_carry_the_real_addresses, .timeout = 120)
{
	if (!have_server())
		cr_skip_test(SERVER " is not installed (Debian libcoap3-bin)");
	char dir[] = "/tmp/coapsim-live-XXXXXX", out[512], cmd[2048], line[256];
	cr_assert_not_null(mkdtemp(dir));
	int port = test_free_udp_port();
	pid_t srv = start_server(port);
	snprintf(out, sizeof(out), "%s/res", dir);
	json_t *sum = run_live(out, port,
			       "--set link.loss=0 --set link.latency=5ms --set link.jitter=none "
			       "--set group.sensors.count=5 --set scenario.duration=2s "
			       "--set 'group.sensors.traffic=periodic(1s)' "
			       "--set 'group.sensors.start=uniform(0,1s)' --set output.pcap=yes");
	stop_server(srv);
	json_decref(sum);
	/* per record: source, destination, ports, checksum statuses, CoAP type */
	snprintf(cmd, sizeof(cmd),
		 "tshark -r %s/pcap/p0-r0.rx.pcap -o udp.check_checksum:TRUE -o "
		 "ip.check_checksum:TRUE -d udp.port==%d,coap -T fields -e ip.src -e ip.dst "
		 "-e udp.srcport -e udp.dstport -e ip.checksum.status -e udp.checksum.status "
		 "-e coap.type 2>/dev/null",
		 out, port);
	FILE *f = popen(cmd, "r");
	cr_assert_not_null(f);
	int n = 0, to_server = 0, ports[16], n_ports = 0;
	while (fgets(line, sizeof(line), f)) {
		char src[64], dst[64];
		int sp, dp, ipck, udpck, type;
		cr_assert_eq(sscanf(line, "%63s %63s %d %d %d %d %d", src, dst, &sp, &dp, &ipck,
				    &udpck, &type),
			     7, "record %d: %s", n, line);
		cr_assert_str_eq(src, "127.0.0.1");
		cr_assert_str_eq(dst, "127.0.0.1");
		cr_assert_eq(ipck, 1, "IPv4 checksum not good: %s", line);
		cr_assert_eq(udpck, 1, "UDP checksum not good: %s", line);
		int client = dp == port ? sp : dp;
		cr_assert(sp == port || dp == port, "neither port is the server's: %s", line);
		to_server += dp == port;
		bool seen = false;
		for (int k = 0; k < n_ports; k++)
			seen |= ports[k] == client;
		if (!seen && n_ports < 16)
			ports[n_ports++] = client;
		n++;
	}
	pclose(f);
	/* 5 endpoints, 2 messages each, every request and answer received. */
	cr_assert_eq(n, 20, "%d records", n);
	cr_assert_eq(to_server, 10);
	cr_assert_eq(n_ports, 5, "%d client ports", n_ports);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	cr_assert_eq(system(cmd), 0);
}

/* A live run says where it stands once a second (not with --quiet). */
Test(live, a_progress_line_every_second, .timeout = 60)
{
	if (!have_server())
		cr_skip_test(SERVER " is not installed (Debian libcoap3-bin)");
	char dir[] = "/tmp/coapsim-live-XXXXXX", cmd[4096], line[512];
	cr_assert_not_null(mkdtemp(dir));
	int port = test_free_udp_port();
	pid_t srv = start_server(port);
	snprintf(cmd, sizeof(cmd),
		 "%s run scenarios/live/temperature.ini --out %s/res "
		 "--set live.target=coap://127.0.0.1:%d --set group.sensors.path=/time "
		 "--set link.loss=0 --set link.latency=5ms --set group.sensors.count=20 "
		 "--set scenario.duration=4s --set 'group.sensors.traffic=periodic(1s)' "
		 "--set 'group.sensors.start=uniform(0,1s)' 2>&1 >/dev/null",
		 test_bin(), dir, port);
	FILE *f = popen(cmd, "r");
	cr_assert_not_null(f);
	int lines = 0;
	while (fgets(line, sizeof(line), f))
		lines += strncmp(line, "live p0-r0: ", 12) == 0 && strstr(line, "requests/s") &&
			 strstr(line, "lag p99");
	cr_assert_eq(pclose(f), 0);
	stop_server(srv);
	/* 4 s of traffic: a line for each second before its end. */
	cr_assert_geq(lines, 3, "%d progress lines", lines);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	cr_assert_eq(system(cmd), 0);
}

/* coapsim link: libcoap's client and server in two namespaces joined by
 * the emulated link (root, TUN devices); a clean 50 ms link carries the
 * GET and its piggybacked answer, one packet each way and nothing else
 * (no IPv6 chatter), the client exits 0 with the server's /time in its
 * output. */
Test(link, a_real_client_and_server_across_the_link, .timeout = 60)
{
	if (!have_server())
		cr_skip_test(SERVER " is not installed (Debian libcoap3-bin)");
	if (geteuid() != 0 || access("/dev/net/tun", R_OK | W_OK) != 0 ||
	    system("command -v ip >/dev/null 2>&1") != 0)
		cr_skip_test("coapsim link needs root, /dev/net/tun and ip(8)");
	char cmd[4096], line[512], all[4096] = "";
	snprintf(cmd, sizeof(cmd),
		 "printf '[scenario]\\nduration = 1min\\n[link]\\nlatency = 50ms\\n"
		 "[group.s]\\ncount = 1\\n' > /tmp/coapsim-link-%d.ini && "
		 "%s link /tmp/coapsim-link-%d.ini --server 'coap-server-notls -A 10.213.0.2' "
		 "--client 'coap-client-notls -m get coap://10.213.0.2/time' 2>&1; "
		 "echo status=$?; rm -f /tmp/coapsim-link-%d.ini",
		 getpid(), test_bin(), getpid(), getpid());
	FILE *f = popen(cmd, "r");
	cr_assert_not_null(f);
	while (fgets(line, sizeof(line), f))
		strncat(all, line, sizeof(all) - strlen(all) - 1);
	pclose(f);
	cr_assert_not_null(strstr(all, "status=0"), "%s", all);
	cr_assert_not_null(strstr(all, "2 packets into the link (1 from the client, 1 from the "
				       "server), 0 lost; 1 out to the server, 1 to the client"),
			   "%s", all);
	cr_assert_eq(leftover_namespaces(), 0, "a namespace was left behind");
}

/* ---- the tun transport (root: a TUN device and a namespace per run) ---- */

/* Whether this machine lets us make a TUN device and a namespace. */
static void need_tun(void)
{
	if (geteuid() != 0 || access("/dev/net/tun", R_OK | W_OK) != 0 ||
	    system("command -v ip >/dev/null 2>&1") != 0)
		cr_skip_test("the tun transport needs root, /dev/net/tun and ip(8)");
	char cmd[160];
	snprintf(cmd, sizeof(cmd),
		 "ip tuntap add dev cstprobe%d mode tun 2>/dev/null && "
		 "ip tuntap del dev cstprobe%d mode tun",
		 getpid() % 10000, getpid() % 10000);
	if (system(cmd) != 0)
		cr_skip_test("this machine cannot create a TUN device");
}

/* A tun run of scenario text `ini` (the [scenario] backend and the [live]
 * transport come here) in a fresh folder, whose name goes to dir; the run's
 * exit status, and its summary.json in *sum when it wrote one. */
static int run_tun(const char *ini, char dir[64], json_t **sum)
{
	snprintf(dir, 64, "/tmp/coapsim-tun-XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
	char path[160], cmd[1024];
	snprintf(path, sizeof(path), "%s/t.ini", dir);
	FILE *f = fopen(path, "w");
	cr_assert_not_null(f);
	fprintf(f, "[scenario]\nseed = 7\nbackend = live\n%s", ini);
	fclose(f);
	snprintf(cmd, sizeof(cmd), "timeout 240 %s run %s --quiet --out %s/res 2>%s/err",
		 test_bin(), path, dir, dir);
	int st = system(cmd);
	snprintf(path, sizeof(path), "%s/res/summary.json", dir);
	*sum = json_load_file(path, 0, NULL);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void rm_dir(const char *dir)
{
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	cr_assert_eq(system(cmd), 0);
}

/* Packets in a capture that match a display filter (checksums checked). */
static long tshark_count(const char *file, const char *filter)
{
	return test_tshark_count(file, "-o udp.check_checksum:TRUE -o tcp.check_checksum:TRUE",
				 filter);
}

/* Namespaces a coapsim run or link made (coapsim-PID-t, -c, -s) whose
 * process is gone: they should not exist (those of runs still going, other
 * tests', may). */
static int leftover_namespaces(void)
{
	FILE *p = popen("ip netns list 2>/dev/null | grep -o '^coapsim-[0-9]*-[cst]'", "r");
	char line[128];
	int n = 0;
	cr_assert_not_null(p);
	while (fgets(line, sizeof(line), p)) {
		pid_t pid = (pid_t)atoi(line + strlen("coapsim-"));
		if (pid > 0 && kill(pid, 0) != 0 && errno == ESRCH)
			n++;
	}
	pclose(p);
	return n;
}

/* libcoap's server in a namespace the run makes, at the simulator's
 * server address; 20% loss each way: RFC 7252's closed forms (as on the
 * udp transport), and the captures are the device's packets: the
 * endpoints' simulator addresses, every checksum good. */
Test(live_tun, coap_against_libcoap_in_a_namespace, .timeout = 240)
{
	if (!have_server())
		cr_skip_test(SERVER " is not installed (Debian libcoap3-bin)");
	need_tun();
	char dir[64];
	json_t *sum;
	int rc = run_tun("duration = 10s\n"
			 "[live]\ntransport = tun\nnetns = yes\n"
			 "server = coap-server-notls -A 2001:db8::1\n"
			 "[coap]\nack_timeout = 500ms\n"
			 "[link]\nlatency = 5ms\nloss = 20%\n"
			 "[group.s]\ncount = 200\ntraffic = periodic(1s)\nstart = uniform(0, 1s)\n"
			 "method = GET\npath = /time\n[output]\npcap = yes\nexchanges = yes\n",
			 dir, &sum);
	cr_assert_eq(rc, 0, "exit %d (see %s/err)", rc, dir);
	cr_assert_not_null(sum);
	json_t *m = total_of(sum);
	assert_closed_forms(m, 0.2, 2000);
	/* Latency plateaus: an exchange answered at its k-th retransmission
	 * took (2^k - 1) x its initial timeout (rto_ms) + the 10 ms round
	 * trip: never less (1 ms for rounding), and on this shared 2-core
	 * machine at most 50 ms more (a busy scheduler; measured alone: 0.7
	 * ms), far less than the 500 ms between plateaus. */
	char cmd[512], out[64] = "";
	snprintf(cmd, sizeof(cmd),
		 "awk -F, 'NR > 1 && $5 == \"completed\" { n++; d = $6 - ((2 ^ ($7 - 1) - 1) * $8 "
		 "+ 10); if (d < -1 || d > 50) off++ } END { print n + 0, off + 0 }' "
		 "%s/res/exchanges.csv",
		 dir);
	FILE *pp = popen(cmd, "r");
	cr_assert_not_null(pp);
	cr_assert_not_null(fgets(out, sizeof(out), pp));
	pclose(pp);
	int rows = 0, off = -1;
	cr_assert_eq(sscanf(out, "%d %d", &rows, &off), 2);
	cr_assert_eq(rows, (int)num(m, "completed"));
	cr_assert_eq(off, 0, "%d of %d answers off their plateau", off, rows);
	/* The simulated run of the same scenario (the simulator's server in
	 * libcoap's place): the same within 4 SE of the difference. */
	snprintf(cmd, sizeof(cmd), "%s run %s/t.ini --quiet --backend native --out %s/native",
		 test_bin(), dir, dir);
	cr_assert_eq(system(cmd), 0, "%s", cmd);
	char npath[128];
	snprintf(npath, sizeof(npath), "%s/native/summary.json", dir);
	json_t *nsum = json_load_file(npath, 0, NULL);
	cr_assert_not_null(nsum);
	json_t *nm = total_of(nsum);
	double n = num(m, "messages"), ps = num(m, "success_ratio");
	double se = sqrt(2 * ps * (1 - ps) / n) + 1e-9;
	cr_assert(fabs(num(nm, "success_ratio") - ps) <= 4 * se, "native %.4f, live %.4f",
		  num(nm, "success_ratio"), ps);
	double tx = num(m, "transmissions") / n, ntx = num(nm, "transmissions") / num(nm, "messages");
	/* Var[T] is under 1.5 at any loss (T in 1..5, E[T] < 2 here). */
	cr_assert(fabs(ntx - tx) <= 4 * sqrt(2 * 1.5 / n), "tx/msg native %.4f, live %.4f", ntx,
		  tx);
	json_decref(nsum);
	/* Losses are the channel's: every exchange ends, none left open. */
	cr_assert_eq(num(m, "completed") + num(m, "failed"), num(m, "messages"));
	char f[128];
	snprintf(f, sizeof(f), "%s/res/pcap/p0-r0.pcap", dir);
	long all = tshark_count(f, "udp");
	cr_assert_eq(all, (long)num(m, "packets_sent"));
	cr_assert_eq(tshark_count(f, "udp.checksum.status == \"Good\""), all);
	cr_assert_eq(tshark_count(f, "_ws.malformed"), 0);
	/* Requests from 2001:db8:1::/48 to the server, answers back. */
	cr_assert_eq(tshark_count(f, "coap.code == 1 && ipv6.dst == 2001:db8::1 && "
				     "ipv6.src >= 2001:db8:1:: && ipv6.src <= 2001:db8:1::ffff"),
		     (long)num(m, "transmissions"));
	json_decref(sum);
	rm_dir(dir);
	cr_assert_eq(leftover_namespaces(), 0, "a run's namespace was left behind");
}

/* mosquitto 2.0 in a namespace the run makes, MQTT on coapsim's TCP model
 * against its kernel's TCP, 10% loss each way, QoS 0, 1 and 2 with
 * persistent sessions: every QoS 1 and 2 message acknowledged (so
 * delivered); QoS 0's delivery is the broker's secret (null), its clients
 * ping and are answered; tshark reads
 * every segment, each checksum good, none malformed, and its TCP analysis
 * finds exactly tcp_retransmissions (ours and the broker's kernel's). */
Test(live_tun, mqtt_against_mosquitto_at_10_percent_loss, .timeout = 300)
{
	if (system("command -v mosquitto >/dev/null 2>&1") != 0)
		cr_skip_test("mosquitto is not installed (Debian mosquitto)");
	need_tun();
	char dir[64], ini[1024];
	json_t *sum;
	snprintf(ini, sizeof(ini),
		 "duration = 10s\n"
		 "[live]\ntransport = tun\nnetns = yes\n"
		 "server = printf 'listener 1883\\nallow_anonymous true\\n' > /tmp/cs-mq-%d.conf "
		 "&& exec mosquitto -c /tmp/cs-mq-%d.conf\n"
		 "[mqtt]\nclean_session = no\nkeepalive = 5s\n"
		 "[link]\nlatency = 20ms\nloss = 10%%\n"
		 "[group.s]\ncount = 40\nprotocol = mqtt\nqos = ${0, 1, 2}\n"
		 "traffic = periodic(1s)\nstart = uniform(0, 1s)\n[output]\npcap = yes\n",
		 getpid(), getpid());
	int rc = run_tun(ini, dir, &sum);
	char conf[64];
	snprintf(conf, sizeof(conf), "/tmp/cs-mq-%d.conf", getpid());
	unlink(conf);
	cr_assert_eq(rc, 0, "exit %d (see %s/err)", rc, dir);
	cr_assert_not_null(sum);
	json_t *runs = json_object_get(sum, "runs");
	cr_assert_eq(json_array_size(runs), 3);
	for (size_t q = 0; q < 3; q++) {
		json_t *m = json_object_get(json_array_get(runs, q), "metrics");
		double n = num(m, "messages");
		cr_assert_geq(n, 300, "QoS %zu: %g messages", q, n);
		if (q == 0) {
			cr_assert(json_is_null(json_object_get(m, "delivery_ratio")),
				  "QoS 0 on a real broker: delivery is unknown");
			/* nothing comes back to a QoS 0 publisher: it pings every
			 * 5 s, and mosquitto answers */
			cr_assert_gt(num(m, "keepalive_bytes"), 0);
		} else {
			cr_assert_eq(num(m, "completed"), n, "QoS %zu", q);
			cr_assert_eq(num(m, "delivery_ratio"), 1.0, "QoS %zu", q);
		}
		char f[128];
		snprintf(f, sizeof(f), "%s/res/pcap/p%zu-r0.pcap", dir, q);
		long segs = tshark_count(f, "tcp");
		cr_assert_eq(segs, (long)num(m, "packets_sent"), "QoS %zu", q);
		cr_assert_eq(tshark_count(f, "tcp.checksum.status == \"Good\""), segs);
		cr_assert_eq(tshark_count(f, "_ws.malformed"), 0, "%s", f);
		/* (the linux profile's RACK resends a hole within Wireshark's
		 * first RTT of the newest segment: "out of order" to it; on
		 * this link nothing else arrives out of order) */
		cr_assert_eq(tshark_count(f, "tcp.analysis.retransmission || "
					     "tcp.analysis.fast_retransmission || "
					     "tcp.analysis.out_of_order"),
			     (long)num(m, "tcp_retransmissions"), "%s", f);
		cr_assert_gt(num(m, "tcp_retransmissions"), 0, "10%% loss and no retransmission");
		/* Every PUBLISH of the run (first copies and repeats) decoded,
		 * counted as MQTT packets: Nagle puts several in a segment. */
		char cmd[512], out[64] = "";
		snprintf(cmd, sizeof(cmd),
			 "tshark -r '%s' -Y 'mqtt.msgtype == 3 && ipv6.dst == 2001:db8::1' "
			 "-T fields -e mqtt.msgtype 2>/dev/null | tr ',' '\\n' | grep -c '^3$'",
			 f);
		FILE *p = popen(cmd, "r");
		cr_assert_not_null(p);
		cr_assert_not_null(fgets(out, sizeof(out), p));
		pclose(p);
		cr_assert_geq(strtol(out, NULL, 10), (long)n, "%s", cmd);
	}
	json_decref(sum);
	rm_dir(dir);
	cr_assert_eq(leftover_namespaces(), 0, "a run's namespace was left behind");
}

/* No broker (nothing starts in the namespace): the probe's SYN is
 * refused, exit 3 with a line naming the target, within 10 s. */
/* MQTT over TLS 1.2 (PSK, AES-128-CCM-8) against mosquitto's OpenSSL in a
 * namespace (`psk_file`, and `ciphers` naming the suite, which OpenSSL's
 * default list leaves out): every message completes over one session a
 * client; the broker's flights are counted as they arrive, so the
 * handshake bytes are those tshark finds in the capture's handshake
 * records, and the application records' overhead is 21 bytes each. */
Test(live_tun, mqtt_over_tls_against_mosquitto, .timeout = 300)
{
	if (system("command -v mosquitto >/dev/null 2>&1") != 0)
		cr_skip_test("mosquitto is not installed (Debian mosquitto)");
	need_tun();
	char dir[64], ini[1400], psk[64], conf[64];
	snprintf(psk, sizeof(psk), "/tmp/cs-psk-%d.txt", getpid());
	snprintf(conf, sizeof(conf), "/tmp/cs-mqs-%d.conf", getpid());
	FILE *pf = fopen(psk, "w");
	cr_assert_not_null(pf);
	fputs("coapsim:636f617073696d2d70736b\n", pf);
	fclose(pf);
	json_t *sum;
	snprintf(ini, sizeof(ini),
		 "duration = 4s\n"
		 "[live]\ntransport = tun\nnetns = yes\ntarget = mqtts://[2001:db8::1]\n"
		 "server = printf 'listener 8883\\nallow_anonymous true\\npsk_hint coapsim\\n"
		 "psk_file %s\\nuse_identity_as_username true\\nciphers PSK-AES128-CCM8\\n' "
		 "> %s && exec mosquitto -c %s\n"
		 "[link]\nlatency = 20ms\nloss = 0%%\n"
		 "[group.s]\ncount = 5\nprotocol = mqtt\nsecurity = tls\nqos = 1\n"
		 "traffic = periodic(1s)\nstart = uniform(0, 1s)\n[output]\npcap = yes\n",
		 psk, conf, conf);
	int rc = run_tun(ini, dir, &sum);
	unlink(conf);
	unlink(psk);
	cr_assert_eq(rc, 0, "exit %d (see %s/err)", rc, dir);
	cr_assert_not_null(sum);
	json_t *m = json_object_get(json_array_get(json_object_get(sum, "runs"), 0), "metrics");
	double n = num(m, "messages");
	cr_assert_geq(n, 15);
	cr_assert_eq(num(m, "completed"), n);
	cr_assert_eq(num(m, "handshakes"), 5);
	cr_assert_eq(num(m, "connections"), 5);
	cr_assert_eq(num(m, "handshake_failures"), 0);
	char f[128];
	snprintf(f, sizeof(f), "%s/res/pcap/p0-r0.pcap", dir);
	const char *psk_opt = "-o tls.psk:636f617073696d2d70736b";
	cr_assert_eq((long)num(m, "handshake_bytes"),
		     test_sh_num("tshark -r %s %s -Y 'tls.record.content_type == 22' -T fields "
				 "-e tcp.len 2>/dev/null | awk '{ s += $1 } END { print s + 0 }'",
				 f, psk_opt));
	cr_assert_eq(test_tshark_count(f, psk_opt, "mqtt.msgtype == 3"), (long)n,
		     "every PUBLISH decrypted");
	json_decref(sum);
	rm_dir(dir);
	cr_assert_eq(leftover_namespaces(), 0, "a run's namespace was left behind");
}

Test(live_tun, no_broker_is_exit_3_from_the_probe, .timeout = 60)
{
	need_tun();
	char dir[64], path[128], line[512] = "";
	json_t *sum;
	int rc = run_tun("duration = 5s\n[live]\ntransport = tun\nnetns = yes\n"
			 "[group.s]\ncount = 2\nprotocol = mqtt\n",
			 dir, &sum);
	cr_assert_eq(rc, 3);
	snprintf(path, sizeof(path), "%s/err", dir);
	FILE *f = fopen(path, "r");
	cr_assert_not_null(f);
	cr_assert_not_null(fgets(line, sizeof(line), f));
	fclose(f);
	cr_assert_not_null(strstr(line, "mqtt://[2001:db8::1]:1883"), "%s", line);
	cr_assert_not_null(strstr(line, "refused"), "%s", line);
	rm_dir(dir);
	cr_assert_eq(leftover_namespaces(), 0, "a run's namespace was left behind");
}

/* What the tun transport refuses, at the line that says it. */
Test(live_tun, bad_tun_scenarios_are_refused_at_their_line)
{
	static const struct {
		const char *ini, *want;
	} bad[] = {
	    {"[live]\ntarget = coap://[::1]\n[group.s]\nprotocol = mqtt\n", ":7: group 's'"},
	    {"[live]\ntarget = mqtt://[::1]\ntransport = tun\n[group.s]\nprotocol = mqtt\n",
	     ":5: with transport = tun"},
	    {"[live]\ntarget = coap://[::1]\nnetns = yes\n[group.s]\n", ":6: 'netns = yes'"},
	    {"[live]\ntransport = tun\nnetns = yes\ntarget = mqtt://[2001:db8::1]\n"
	     "[group.s]\nprotocol = coap\n",
	     "a live run has one target"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char dir[64];
		json_t *sum;
		int rc = run_tun(bad[i].ini, dir, &sum);
		char path[128], line[512] = "";
		snprintf(path, sizeof(path), "%s/err", dir);
		FILE *f = fopen(path, "r");
		cr_assert_not_null(f);
		cr_assert_not_null(fgets(line, sizeof(line), f));
		fclose(f);
		cr_assert_eq(rc, 2, "case %zu: exit %d: %s", i, rc, line);
		cr_assert_not_null(strstr(line, bad[i].want), "case %zu: %s", i, line);
		rm_dir(dir);
	}
}

/* Against coapsim serve, resources by path from one scenario: 20 RFC 7641
 * observers of /obs notified every second and 20 GETs a second of /big, a
 * 300-byte body in 64-byte RFC 7959 blocks.  Observers register in
 * [0.1, 0.5] s and deregister at 5 s, so each gets notifications at +1..+4 s:
 * 80 (the fifth, after 5.1 s, finds it gone); every /big transfer is
 * ceil(300 / 64) = 5 block exchanges, the last block (#4) a 2.05 with
 * 300 - 4 x 64 = 44 bytes. */
Test(live, observe_and_block2_against_coapsim_serve, .timeout = 120)
{
	char dir[] = "/tmp/coapsim-live-XXXXXX", path[128], cmd[1024];
	cr_assert_not_null(mkdtemp(dir));
	int port = test_free_udp_port();
	snprintf(path, sizeof(path), "%s/t.ini", dir);
	FILE *f = fopen(path, "w");
	cr_assert_not_null(f);
	fprintf(f, "[scenario]\nduration = 5s\nseed = 3\nbackend = live\n"
		   "[live]\ntarget = coap://127.0.0.1:%d\n[link]\nlatency = 5ms\n"
		   "[group.obs]\ncount = 20\ntraffic = observe(1s)\npath = /obs\nmethod = GET\n"
		   "start = uniform(100ms, 500ms)\n"
		   "[group.big]\ncount = 20\ntraffic = periodic(1s)\nmethod = GET\npath = /big\n"
		   "payload = 300\nblock_size = 64\nstart = uniform(0, 1s)\n"
		   "[output]\npcap = yes\n",
		   port);
	fclose(f);
	pid_t srv = fork();
	cr_assert(srv >= 0);
	if (srv == 0) {
		char uri[64];
		snprintf(uri, sizeof(uri), "coap://127.0.0.1:%d", port);
		execlp("timeout", "timeout", "100", test_bin_path(), "serve", path, "--listen", uri,
		       (char *)NULL);
		_exit(127);
	}
	usleep(300000);
	snprintf(cmd, sizeof(cmd), "timeout 100 %s run %s --quiet --out %s/res", test_bin(), path,
		 dir);
	int st = system(cmd);
	stop_server(srv);
	cr_assert_eq(st, 0, "%s", cmd);
	snprintf(path, sizeof(path), "%s/res/summary.json", dir);
	json_t *sum = json_load_file(path, 0, NULL);
	cr_assert_not_null(sum);
	json_t *groups = json_object_get(json_array_get(json_object_get(sum, "runs"), 0), "groups");
	json_t *obs = json_object_get(groups, "obs"), *big = json_object_get(groups, "big");
	cr_assert_eq(num(obs, "messages"), 40, "a registration and a deregistration each");
	cr_assert_eq(num(obs, "completed"), 40);
	cr_assert_eq(num(obs, "notifications_received"), 80);
	cr_assert_eq(num(big, "messages"), 100);
	cr_assert_eq(num(big, "completed"), 100);
	cr_assert_eq(num(big, "transmissions"), 500, "5 blocks a transfer");
	/* UDP 8, CoAP header 4, token 4, Block2 3 (delta 23: one extended
	 * byte; value 0x42: block 4, no more, SZX 2), marker 1, 44 bytes. */
	char pcap[160];
	snprintf(pcap, sizeof(pcap), "%s/res/pcap/p0-r0.pcap", dir);
	long last = test_sh_num("tshark -r %s -d udp.port==%d,coap -Y 'coap.code == 69 && "
				"coap.opt.block_number == 4 && coap.opt.block_mflag == 0 && "
				"udp.length == %d' 2>/dev/null | wc -l",
				pcap, port, 8 + 4 + 4 + 3 + 1 + 44);
	cr_assert_eq(last, 100, "last blocks: %ld", last);
	json_decref(sum);
	rm_dir(dir);
}

/* coapsim link at 30% loss each way between 200 libcoap clients (in
 * parallel, one GET each) and libcoap's server: success and transmissions
 * per request within 4 SE of RFC 7252's closed forms.  libcoap's client
 * retransmits after 2-3 s, doubling, so its fifth and last try leaves by
 * 45 s and its answer is back by 45.1 s: -B 50 ends every client after
 * all its tries.  A client's packets on the link are its tries (the
 * answers are piggybacked; nothing else crosses: see the test above). */
Test(link, closed_forms_between_libcoap_client_and_server_at_30_percent_loss,
     .timeout = 180)
{
	if (!have_server())
		cr_skip_test(SERVER " is not installed (Debian libcoap3-bin)");
	if (geteuid() != 0 || access("/dev/net/tun", R_OK | W_OK) != 0 ||
	    system("command -v ip >/dev/null 2>&1") != 0)
		cr_skip_test("coapsim link needs root, /dev/net/tun and ip(8)");
	const int n = 200;
	char dir[] = "/tmp/coapsim-link-XXXXXX", cmd[4096], line[512], all[4096] = "";
	cr_assert_not_null(mkdtemp(dir));
	snprintf(cmd, sizeof(cmd),
		 "printf '[scenario]\\nduration = 1min\\nseed = 11\\n[link]\\nlatency = 50ms\\n"
		 "loss = 30%%%%\\n[group.s]\\ncount = 1\\n' > %s/l.ini && "
		 "timeout 150 %s link %s/l.ini --server 'coap-server-notls -A 10.213.0.2' "
		 "--client 'for i in $(seq %d); do coap-client-notls -B 50 -m get "
		 "coap://10.213.0.2/time > %s/$i.out 2>/dev/null & done; wait' 2>&1",
		 dir, test_bin(), dir, n, dir);
	FILE *f = popen(cmd, "r");
	cr_assert_not_null(f);
	while (fgets(line, sizeof(line), f))
		strncat(all, line, sizeof(all) - strlen(all) - 1);
	pclose(f);
	unsigned long long into, from_client;
	const char *s = strstr(all, "coapsim link: ");
	cr_assert(s && sscanf(s, "coapsim link: %llu packets into the link (%llu from the client",
			      &into, &from_client) == 2,
		  "%s", all);
	int answered = 0;
	for (int i = 1; i <= n; i++) {
		char path[128];
		snprintf(path, sizeof(path), "%s/%d.out", dir, i);
		FILE *o = fopen(path, "r");
		if (o && fgets(line, sizeof(line), o) && strlen(line) > 1)
			answered++;
		if (o)
			fclose(o);
	}
	check_closed_forms(n, (double)answered / n, (double)from_client / n, 0.3);
	rm_dir(dir);
	cr_assert_eq(leftover_namespaces(), 0, "a namespace was left behind");
}
