/* coapsim link: the scenario's channel between two real programs.  Two
 * network namespaces, each with a TUN device; what one side's kernel sends
 * through its TUN crosses the modelled link (net.c: latency, jitter, loss,
 * rate, queue, duplication; up from the client, down from the server) in
 * real time and comes out of the other side's TUN.  For kernels without
 * netem, and for seeded, repeatable links.  Needs root (namespaces, TUN).
 * Knows nothing of what the programs speak. */
#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../backend/tundev.h"
#include "../core/epoll_ns.h"
#include "../engine/engine.h"
#include "../net/net.h"
#include "link.h"

#define LINK_DEV "csl0"
#define LINK_CLIENT_ADDR "10.213.0.1"
#define LINK_SERVER_ADDR "10.213.0.2"

struct linker {
	struct sim_engine *eng;
	struct net net;
	struct net_cb cb;
	int tun[2]; /* NET_UP: the client's side, NET_DOWN: the server's */
	struct timespec t0;
	uint64_t packets[2];
};

static sim_time real_now(const struct linker *k)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (sim_time)((t.tv_sec - k->t0.tv_sec) * 1000000000ll + (t.tv_nsec - k->t0.tv_nsec));
}

/* Across the link: out of the other side's TUN. */
static void on_deliver(void *ud, struct net *n, uint32_t ep, enum net_dir dir,
		       const uint8_t *buf, size_t len, const struct net_meta *meta, bool dup)
{
	struct linker *k = ud;
	(void)n;
	(void)ep;
	(void)meta;
	(void)dup;
	if (write(k->tun[dir == NET_UP ? NET_DOWN : NET_UP], buf, len) == (ssize_t)len)
		k->packets[dir]++;
}

/* Namespace `ns` with lo and a TUN device addressed `addr`/24, up; the
 * TUN's descriptor (made inside the namespace, used from outside). */
static int make_side(const char *ns, const char *addr, char *err, size_t errlen)
{
	char dev[IFNAMSIZ];
	char why[200];
	if (tundev_netns_add(ns, why, sizeof(why)) < 0) {
		snprintf(err, errlen, "link: %s", why);
		return -1;
	}
	int fd = tundev_open(ns, LINK_DEV, dev, why, sizeof(why));
	if (fd < 0) {
		snprintf(err, errlen, "link: %s", why);
		return -1;
	}
	/* IPv4 only, before the device is up: no router solicitations or MLD
	 * reports (IPv6's own chatter) on the link, so what crosses it is what
	 * the programs send. */
	char cmd[200];
	snprintf(cmd, sizeof(cmd),
		 "ip netns exec %s sysctl -qw net.ipv6.conf.%s.disable_ipv6=1 >/dev/null 2>&1", ns,
		 dev);
	if (system(cmd) != 0 || tundev_ip(ns, "addr add %s/24 dev %s", addr, dev) < 0 ||
	    tundev_ip(ns, "link set %s up", dev) < 0) {
		snprintf(err, errlen, "link: cannot address the TUN device in %s", ns);
		close(fd);
		return -1;
	}
	return fd;
}

int link_run(const struct link_cfg *up, const struct link_cfg *down,
	     const struct bottleneck_cfg *bn, uint64_t seed, const char *server_cmd,
	     const char *client_cmd, sim_time run_for, struct link_result *res, char *err,
	     size_t errlen)
{
	struct linker k = {.tun = {-1, -1}};
	bool net_ok = false;
	char ns[2][64];
	snprintf(ns[NET_UP], sizeof(ns[0]), "coapsim-%d-c", (int)getpid());
	snprintf(ns[NET_DOWN], sizeof(ns[0]), "coapsim-%d-s", (int)getpid());
	int rc = 0;
	pid_t srv = -1, cli = -1;

	*res = (struct link_result){0};
	k.tun[NET_UP] = make_side(ns[NET_UP], LINK_CLIENT_ADDR, err, errlen);
	if (k.tun[NET_UP] >= 0)
		k.tun[NET_DOWN] = make_side(ns[NET_DOWN], LINK_SERVER_ADDR, err, errlen);
	k.cb = (struct net_cb){.deliver = on_deliver};
	k.eng = sim_engine_new(1024, &k);
	int ep = epoll_create1(EPOLL_CLOEXEC);
	if (k.tun[NET_UP] >= 0 && k.tun[NET_DOWN] >= 0 && k.eng && ep >= 0)
		net_ok = net_init(&k.net, k.eng, 1, up, down, bn, seed, NULL, &k.cb, &k) == 0;
	if (!net_ok) {
		if (!err[0])
			snprintf(err, errlen, "link: out of memory");
		rc = SIM_ERR_IO;
		goto out;
	}
	for (int d = 0; d < 2; d++) {
		struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (uint32_t)d};
		epoll_ctl(ep, EPOLL_CTL_ADD, k.tun[d], &ev);
	}
	clock_gettime(CLOCK_MONOTONIC, &k.t0);
	srv = tundev_spawn(ns[NET_DOWN], server_cmd, false);
	usleep(300000); /* let the server bind */
	cli = tundev_spawn(ns[NET_UP], client_cmd, false);
	for (;;) {
		sim_time now = real_now(&k), next;
		while ((next = sim_engine_next(k.eng)) <= now)
			sim_engine_run(k.eng, next);
		int st;
		if (waitpid(cli, &st, WNOHANG) == cli) {
			res->client_status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
			cli = -1;
			break;
		}
		if (run_for && now >= run_for)
			break;
		sim_time wake = now + SIM_MS(20);
		if (next < wake)
			wake = next;
		struct epoll_event got[2];
		int n = sim_epoll_wait(ep, got, 2, wake - now);
		for (int i = 0; i < n; i++) {
			enum net_dir d = (enum net_dir)got[i].data.u32;
			uint8_t buf[SIM_MAX_DATAGRAM];
			ssize_t len;
			while ((len = read(k.tun[d], buf, sizeof(buf))) > 0) {
				sim_time t = real_now(&k);
				if (t > sim_engine_now(k.eng))
					sim_engine_set_now(k.eng, t);
				/* A whole IP packet: the model counts it as a
				 * datagram's payload (its own headers on top). */
				struct net_meta meta = {.tcp = 1};
				net_send(&k.net, 0, d, buf, (size_t)len, &meta);
				res->from[d]++;
			}
		}
	}
	res->sent = k.net.st.packets_sent;
	res->lost = k.net.st.packets_lost;
	res->delivered[NET_UP] = k.packets[NET_UP];
	res->delivered[NET_DOWN] = k.packets[NET_DOWN];
out:
	if (cli > 0) {
		tundev_stop(cli, 1000);
		res->client_status = -1;
	}
	tundev_stop(srv, 1000);
	for (int d = 0; d < 2; d++) {
		if (k.tun[d] >= 0)
			close(k.tun[d]);
		tundev_netns_del(ns[d]);
	}
	if (ep >= 0)
		close(ep);
	if (net_ok)
		net_free(&k.net);
	sim_engine_delete(k.eng);
	return rc;
}
