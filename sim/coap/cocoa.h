/* CoCoA: CoAP Simple Congestion Control/Advanced (draft-ietf-core-cocoa-03),
 * the RTO state a client keeps about one destination.  Sans-I/O: every call
 * takes `now`; nothing here reads a clock or keeps a timer.
 *
 * Two RFC 6298-style estimators: the strong one learns from exchanges that
 * needed no retransmission (K = 4), the weak one from exchanges that needed
 * one or two, measured from the first transmission (K = 1).  The overall
 * RTO moves half-way towards a new strong estimate and a quarter of the way
 * towards a new weak one.  Each exchange starts at the overall RTO,
 * randomised up to ACK_RANDOM_FACTOR, and backs off by a variable factor
 * (3 below 1 s, 2 up to 3 s, 1.5 above).  An RTO left unchanged for long
 * ages back towards 2 s.  All times in nanoseconds. */
#ifndef COAPSIM_COCOA_H
#define COAPSIM_COCOA_H

#include <stdbool.h>
#include <stdint.h>

#include "../core/sim.h"
#include "../engine/rng.h"

#define COCOA_RTO_INIT SIM_S(2)

struct cocoa {
	sim_time rto;        /* overall RTO */
	sim_time rto_strong, srtt_strong, rttvar_strong;
	sim_time rto_weak, srtt_weak, rttvar_weak;
	sim_time updated;    /* last change of rto (measurement or aging) */
	uint8_t have_strong, have_weak;
};

void cocoa_init(struct cocoa *c);

/* The overall RTO at `now`, after aging (§4.4 of the draft, applied lazily):
 * below 1 s and unchanged for 16 x RTO it doubles; above 3 s and unchanged
 * for 4 x RTO it moves half-way to 2 s.  Repeats as often as it is due. */
sim_time cocoa_rto(struct cocoa *c, sim_time now);

/* Initial timeout of a new exchange: before any measurement the blind RTO
 * of 2 s times the number of exchanges outstanding to this destination
 * counting the new one (NSTART > 1); after, the overall RTO.  Randomised in
 * [RTO, RTO * random_factor].  *vbf gets the backoff factor x 10 (30, 20
 * or 15) chosen from the RTO the exchange started with. */
sim_time cocoa_initial_timeout(struct cocoa *c, sim_time now, uint32_t outstanding,
			       double random_factor, struct sim_rng *rng, uint8_t *vbf);

/* Next timeout after a retransmission: prev x vbf / 10. */
static inline sim_time cocoa_backoff(sim_time prev, uint8_t vbf)
{
	return prev / 10 * vbf;
}

/* The variable backoff factor x 10 for an RTO. */
uint8_t cocoa_vbf(sim_time rto);

/* An exchange was answered: rtt from the first transmission, after
 * `transmissions` transmissions.  1 feeds the strong estimator, 2 or 3 the
 * weak one; more are not used (too ambiguous).  Returns true when the
 * overall RTO changed. */
bool cocoa_on_response(struct cocoa *c, sim_time now, sim_time rtt,
		       unsigned transmissions);

#endif
