/* The parameters of the channel's links: one direction of an endpoint's
 * link and the shared bottleneck.  The scenario fills them; the channel
 * (net.c) and the backends read them.  Knows nothing of the scenario. */
#ifndef COAPSIM_LINK_H
#define COAPSIM_LINK_H

#include <stdbool.h>
#include <stdint.h>

#include "../core/dist.h"
#include "../core/options.h"
#include "../core/sim.h"

enum loss_kind { LOSS_BERNOULLI, LOSS_GILBERT };
struct loss_cfg {
	enum loss_kind kind;
	double p;        /* Bernoulli loss probability */
	double ge_p;     /* Gilbert-Elliott: P(good -> bad) per packet */
	double ge_r;     /* P(bad -> good) per packet */
	double loss_good; /* loss probability in the good state */
	double loss_bad;  /* loss probability in the bad state */
};

struct link_cfg {
	sim_time latency;   /* one-way propagation */
	struct dist jitter; /* added to latency per packet (ns) */
	struct loss_cfg loss;
	uint64_t rate_bps; /* 0 = unlimited */
	uint32_t queue;    /* packets waiting before drop-tail (>= 1) */
	uint32_t mtu;      /* bytes, >= 1280 for IPv6 */
	double duplicate;  /* probability a delivered packet arrives twice */
};

struct bottleneck_cfg {
	bool present;
	uint64_t rate_bps;
	uint32_t queue;
	sim_time latency;
};

#endif
