/* TUN devices, network namespaces and the programs run in them, for the
 * live backend's tun transport and for coapsim link.  Plumbing through
 * ip(8) and /dev/net/tun (root or CAP_NET_ADMIN); knows nothing of what
 * crosses the devices. */
#ifndef COAPSIM_TUNDEV_H
#define COAPSIM_TUNDEV_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* Create network namespace ns with its loopback up.  0, or -1 with a
 * one-line reason in err. */
int tundev_netns_add(const char *ns, char *err, size_t errlen);
/* Stop what still runs in ns and delete it (harmless when it is gone). */
void tundev_netns_del(const char *ns);

/* A TUN device (IFF_TUN, no packet information) named after the pattern
 * `name` ("cst%d": the kernel numbers it), made in namespace ns (NULL:
 * this process's), still down.  Its descriptor (non-blocking, close-on-exec:
 * the device goes when it closes) and its name in out (IFNAMSIZ bytes),
 * or -1 with a one-line reason in err. */
int tundev_open(const char *ns, const char *name, char *out, char *err, size_t errlen);

/* `ip ARGS` in namespace ns (NULL: here), ARGS from fmt; 0 when it
 * succeeded.  Its output goes to /dev/null. */
int tundev_ip(const char *ns, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* `sh -c cmd` in namespace ns (NULL: here), in a process group of its own,
 * its output to /dev/null when quiet; its pid, or -1. */
pid_t tundev_spawn(const char *ns, const char *cmd, bool quiet);
/* SIGTERM to that process group, then SIGKILL after grace_ms; reaps it. */
void tundev_stop(pid_t pid, int grace_ms);

#endif
