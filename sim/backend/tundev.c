/* TUN devices, network namespaces and the programs run in them, through
 * ip(8) and /dev/net/tun.  Knows nothing of what crosses the devices. */
#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tundev.h"

int tundev_ip(const char *ns, const char *fmt, ...)
{
	char args[400], cmd[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(args, sizeof(args), fmt, ap);
	va_end(ap);
	if (ns)
		snprintf(cmd, sizeof(cmd), "ip -n %s %s >/dev/null 2>&1", ns, args);
	else
		snprintf(cmd, sizeof(cmd), "ip %s >/dev/null 2>&1", args);
	int st = system(cmd);
	return st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -1;
}

int tundev_netns_add(const char *ns, char *err, size_t errlen)
{
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "ip netns add %s >/dev/null 2>&1", ns);
	int st = system(cmd);
	if (st == -1 || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		snprintf(err, errlen,
			 "cannot create network namespace %s (root or CAP_SYS_ADMIN needed, "
			 "and ip(8) from iproute2)",
			 ns);
		return -1;
	}
	if (tundev_ip(ns, "link set lo up") < 0) {
		tundev_netns_del(ns);
		snprintf(err, errlen, "cannot bring up loopback in namespace %s", ns);
		return -1;
	}
	return 0;
}

void tundev_netns_del(const char *ns)
{
	char cmd[256];
	/* ip netns exec's children are in the namespace: gone first. */
	snprintf(cmd, sizeof(cmd),
		 "ip netns pids %s 2>/dev/null | xargs -r kill -9 2>/dev/null; "
		 "ip netns del %s 2>/dev/null",
		 ns, ns);
	if (system(cmd) == -1)
		return;
}

/* The device is made from inside the namespace so that it lives there;
 * its descriptor works from anywhere. */
int tundev_open(const char *ns, const char *name, char *out, char *err, size_t errlen)
{
	int here = -1, there = -1, fd = -1;
	if (ns) {
		char path[128];
		snprintf(path, sizeof(path), "/var/run/netns/%s", ns);
		here = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
		there = open(path, O_RDONLY | O_CLOEXEC);
		if (here < 0 || there < 0 || setns(there, CLONE_NEWNET) != 0) {
			snprintf(err, errlen, "cannot enter network namespace %s: %s", ns,
				 strerror(errno));
			goto out;
		}
	}
	fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
	struct ifreq ifr = {.ifr_flags = IFF_TUN | IFF_NO_PI};
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	if (fd < 0 || ioctl(fd, TUNSETIFF, &ifr) != 0) {
		snprintf(err, errlen,
			 "cannot create a TUN device: %s (root or CAP_NET_ADMIN needed, and "
			 "/dev/net/tun)",
			 strerror(errno));
		if (fd >= 0)
			close(fd);
		fd = -1;
	}
	if (ns && setns(here, CLONE_NEWNET) != 0) {
		snprintf(err, errlen, "cannot return from network namespace %s", ns);
		if (fd >= 0)
			close(fd);
		fd = -1;
	}
	if (fd >= 0)
		snprintf(out, IFNAMSIZ, "%s", ifr.ifr_name);
out:
	if (here >= 0)
		close(here);
	if (there >= 0)
		close(there);
	return fd;
}

pid_t tundev_spawn(const char *ns, const char *cmd, bool quiet)
{
	/* The command's own children (sh -c's) come back to us when it exits
	 * first, so that tundev_stop can reap the whole group. */
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	pid_t pid = fork();
	if (pid == 0) {
		setpgid(0, 0);
		int null = quiet ? open("/dev/null", O_WRONLY) : -1;
		if (null >= 0) {
			dup2(null, 1);
			dup2(null, 2);
		}
		if (ns)
			execlp("ip", "ip", "netns", "exec", ns, "sh", "-c", cmd, (char *)NULL);
		else
			execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	if (pid > 0)
		setpgid(pid, pid); /* also here: no race with the child's */
	return pid;
}

void tundev_stop(pid_t pid, int grace_ms)
{
	if (pid <= 0)
		return;
	kill(-pid, SIGTERM);
	/* Every process of the group is ours to reap (a subreaper): done
	 * when none is left. */
	for (int waited = 0; waited < grace_ms; waited += 10) {
		pid_t r;
		while ((r = waitpid(-pid, NULL, WNOHANG)) > 0)
			;
		if (r < 0 && errno == ECHILD)
			return;
		nanosleep(&(struct timespec){0, 10000000}, NULL);
	}
	kill(-pid, SIGKILL);
	while (waitpid(-pid, NULL, 0) > 0)
		;
}
