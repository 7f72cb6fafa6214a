/* coapsim serve: a CoAP server over a real UDP socket from the project's
 * own server core, configured by a scenario ([server], [coap] and the
 * first group's resource).  Knows nothing of backends. */
#ifndef COAPSIM_SERVE_H
#define COAPSIM_SERVE_H

#include <stdio.h>

#include "../scenario/scenario.h"

/* Serve on host:port until SIGINT or SIGTERM, or for run_for (0: no
 * limit).  Says where it listens and, at the end, what it served, on log
 * (or nothing when NULL).  Returns 0, or a SIM_ERR_* with one line in err. */
int serve_run(const struct scenario_cfg *cfg, const char *host, uint16_t port,
	      sim_time run_for, FILE *log, char *err, size_t errlen);

#endif
