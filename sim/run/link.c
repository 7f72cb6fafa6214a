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

static int sh(const char *fmt, const char *a, const char *b)
{
	char cmd[512];
	snprintf(cmd, sizeof(cmd), fmt, a, b);
	int st = system(cmd);
	return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -1;
}

/* Namespace `ns` with lo and a TUN device addressed `addr`/24, up; the
 * TUN's descriptor (opened inside the namespace, used from outside). */
static int make_side(const char *ns, const char *addr, char *err, size_t errlen)
{
	char path[128];
	if (sh("ip netns add %s%s", ns, "") < 0) {
		snprintf(err, errlen, "link: cannot create network namespace %s (root needed)", ns);
		return -1;
	}
	snprintf(path, sizeof(path), "/var/run/netns/%s", ns);
	int here = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	int there = open(path, O_RDONLY | O_CLOEXEC);
	int fd = -1;
	if (here >= 0 && there >= 0 && setns(there, CLONE_NEWNET) == 0) {
		fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
		struct ifreq ifr = {.ifr_flags = IFF_TUN | IFF_NO_PI};
		snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), LINK_DEV);
		if (fd >= 0 && ioctl(fd, TUNSETIFF, &ifr) != 0) {
			close(fd);
			fd = -1;
		}
		if (setns(here, CLONE_NEWNET) != 0) {
			if (fd >= 0)
				close(fd);
			fd = -1;
		}
	}
	if (here >= 0)
		close(here);
	if (there >= 0)
		close(there);
	if (fd < 0 ||
	    sh("ip netns exec %s ip link set lo up && ip netns exec %s ip link set " LINK_DEV
	       " up",
	       ns, ns) < 0 ||
	    sh("ip netns exec %s ip addr add %s/24 dev " LINK_DEV, ns, addr) < 0) {
		snprintf(err, errlen, "link: cannot set up a TUN device in %s: %s", ns,
			 strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

/* `sh -c cmd` inside namespace ns. */
static pid_t spawn(const char *ns, const char *cmd)
{
	pid_t pid = fork();
	if (pid == 0) {
		execlp("ip", "ip", "netns", "exec", ns, "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	return pid;
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
	srv = spawn(ns[NET_DOWN], server_cmd);
	usleep(300000); /* let the server bind */
	cli = spawn(ns[NET_UP], client_cmd);
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
		struct timespec ts = {0, (long)(wake - now)};
		struct epoll_event got[2];
		int n = epoll_pwait2(ep, got, 2, &ts, NULL);
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
			}
		}
	}
	res->sent = k.net.st.packets_sent;
	res->lost = k.net.st.packets_lost;
	res->delivered[NET_UP] = k.packets[NET_UP];
	res->delivered[NET_DOWN] = k.packets[NET_DOWN];
out:
	if (cli > 0) {
		kill(cli, SIGTERM);
		waitpid(cli, NULL, 0);
		res->client_status = -1;
	}
	if (srv > 0) {
		kill(srv, SIGTERM);
		waitpid(srv, NULL, 0);
	}
	/* ip netns exec's children of the server are in its namespace:
	 * deleting it after they are gone. */
	for (int d = 0; d < 2; d++) {
		if (k.tun[d] >= 0)
			close(k.tun[d]);
		sh("ip netns pids %s 2>/dev/null | xargs -r kill 2>/dev/null; ip netns del %s "
		   "2>/dev/null",
		   ns[d], ns[d]);
	}
	if (ep >= 0)
		close(ep);
	if (net_ok)
		net_free(&k.net);
	sim_engine_delete(k.eng);
	return rc;
}
