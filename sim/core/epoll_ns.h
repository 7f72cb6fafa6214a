/* Waiting on an epoll set with a nanosecond timeout: epoll_pwait2 (Linux
 * 5.11), or epoll_wait rounded up to the next millisecond where the kernel,
 * or valgrind, lacks it (ENOSYS: the loops would otherwise spin).  Knows
 * nothing of what the descriptors are. */
#ifndef COAPSIM_EPOLL_NS_H
#define COAPSIM_EPOLL_NS_H

#include <errno.h>
#include <stdbool.h>
#include <sys/epoll.h>
#include <time.h>

#include "sim.h"

static inline int sim_epoll_wait(int epfd, struct epoll_event *ev, int n, sim_time timeout)
{
	static bool no_pwait2;
	if (!no_pwait2) {
		struct timespec ts = {(time_t)(timeout / 1000000000u),
				      (long)(timeout % 1000000000u)};
		int k = epoll_pwait2(epfd, ev, n, &ts, NULL);
		if (k >= 0 || errno != ENOSYS)
			return k;
		no_pwait2 = true;
	}
	sim_time ms = (timeout + 999999) / 1000000;
	return epoll_wait(epfd, ev, n, ms > 60000 ? 60000 : (int)ms);
}

#endif
