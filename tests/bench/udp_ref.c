/* The loopback ceiling the live backend is measured against (make bench):
 * N connected UDP client sockets and one echo socket in one thread on one
 * core, each client keeping one 30-byte datagram in flight; the echo side
 * answers with recvmmsg/sendmmsg, the clients read with epoll + recvmmsg.
 * Prints round trips per second.  Knows nothing of coapsim.
 *   udp_ref SOCKETS SECONDS */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BATCH 64

static double now_s(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 1000;
	double secs = argc > 2 ? atof(argv[2]) : 5;
	struct rlimit r;
	getrlimit(RLIMIT_NOFILE, &r);
	r.rlim_cur = r.rlim_max;
	setrlimit(RLIMIT_NOFILE, &r);

	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t alen = sizeof(a);
	int srv = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
	if (srv < 0 || bind(srv, (struct sockaddr *)&a, sizeof(a)) != 0 ||
	    getsockname(srv, (struct sockaddr *)&a, &alen) != 0) {
		perror("udp_ref: echo socket");
		return 1;
	}
	int ep = epoll_create1(0);
	int *fd = calloc((size_t)n, sizeof(*fd));
	struct epoll_event ev = {.events = EPOLLIN};
	for (int i = 0; i < n; i++) {
		fd[i] = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
		if (fd[i] < 0 || connect(fd[i], (struct sockaddr *)&a, sizeof(a)) != 0) {
			perror("udp_ref: client socket");
			return 1;
		}
		ev.data.u32 = (uint32_t)i;
		epoll_ctl(ep, EPOLL_CTL_ADD, fd[i], &ev);
	}
	ev.data.u32 = UINT32_MAX;
	epoll_ctl(ep, EPOLL_CTL_ADD, srv, &ev);

	static uint8_t bufs[BATCH][64];
	static struct sockaddr_in from[BATCH];
	struct mmsghdr m[BATCH];
	struct iovec iov[BATCH];
	uint8_t msg[30] = {0x40, 0x01};
	for (int i = 0; i < n; i++)
		send(fd[i], msg, sizeof(msg), 0);
	uint64_t trips = 0;
	double t0 = now_s(), end = t0 + secs;
	struct epoll_event got[BATCH];
	while (now_s() < end) {
		int k = epoll_wait(ep, got, BATCH, 100);
		for (int e = 0; e < k; e++) {
			uint32_t id = got[e].data.u32;
			int s = id == UINT32_MAX ? srv : fd[id];
			for (;;) {
				for (int i = 0; i < BATCH; i++) {
					iov[i] = (struct iovec){bufs[i], sizeof(bufs[i])};
					m[i] = (struct mmsghdr){.msg_hdr = {
						.msg_name = id == UINT32_MAX ? &from[i] : NULL,
						.msg_namelen = sizeof(from[i]),
						.msg_iov = &iov[i], .msg_iovlen = 1}};
				}
				int got_n = recvmmsg(s, m, BATCH, MSG_DONTWAIT, NULL);
				if (got_n <= 0)
					break;
				if (id == UINT32_MAX) {
					for (int i = 0; i < got_n; i++)
						iov[i].iov_len = m[i].msg_len;
					sendmmsg(srv, m, (unsigned)got_n, 0);
				} else {
					trips += (uint64_t)got_n;
					for (int i = 0; i < got_n; i++)
						send(s, msg, sizeof(msg), 0);
				}
				if (got_n < BATCH)
					break;
			}
		}
	}
	printf("%.0f\n", (double)trips / (now_s() - t0));
	return 0;
}
