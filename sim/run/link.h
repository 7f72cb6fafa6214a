/* coapsim link: a scenario's channel between two real programs, each in a
 * network namespace of its own joined by TUN devices (see link.c).  The
 * client side is 10.213.0.1, the server side 10.213.0.2.  Knows nothing of
 * the programs. */
#ifndef COAPSIM_LINK_H_RUN
#define COAPSIM_LINK_H_RUN

#include "../net/link.h"

struct link_result {
	int client_status;      /* the client command's exit status; -1: stopped */
	uint64_t sent, lost;    /* IP packets into the link, and lost on it */
	uint64_t from[2];       /* into the link from the client (0), the server (1) */
	uint64_t delivered[2];  /* out of the link: to the server (0), the client (1) */
};

/* Run server_cmd in the server's namespace, then client_cmd in the
 * client's, the link between them, until the client exits (or run_for,
 * when not 0); then stop the server and remove both namespaces.  Returns
 * 0 or SIM_ERR_IO with one line in err (no root, no TUN). */
int link_run(const struct link_cfg *up, const struct link_cfg *down,
	     const struct bottleneck_cfg *bn, uint64_t seed, const char *server_cmd,
	     const char *client_cmd, sim_time run_for, struct link_result *res, char *err,
	     size_t errlen);

#endif
