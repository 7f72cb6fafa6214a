/* CoCoA: CoAP Simple Congestion Control/Advanced (draft-ietf-core-cocoa-03),
 * the RTO state an initiator keeps about one destination endpoint.
 *
 * Sans-I/O and without global state: every call takes `now` (and an rng
 * where it draws); nothing here reads a clock or keeps a timer.
 *
 * Two RFC 6298 estimators (§4.2): the strong one (K = 4) learns from
 * exchanges answered without retransmission, the weak one (K = 1) from
 * exchanges answered after one or two retransmissions, timed from the first
 * transmission.  The overall RTO moves half-way towards a new E_strong and a
 * quarter of the way towards a new E_weak.  An exchange starts at the overall
 * RTO (the blind 2 s x parallel exchanges before any measurement, §4.1),
 * dithered up to ACK_RANDOM_FACTOR, and backs off by a factor chosen from
 * that RTO: 3 below 1 s, 2 up to 3 s, 1.5 above (§4.2.1), never beyond 32 s.
 * An RTO left alone for long ages towards 2 s (§4.3), applied lazily when
 * it is next read.
 *
 * Times are nanoseconds (sim_time); the RFC 6298 variables are kept in
 * microseconds to keep the state small (56 bytes, one per endpoint). */
#ifndef COAPSIM_COCOA_H
#define COAPSIM_COCOA_H

#include <stdbool.h>
#include <stdint.h>

#include "../core/sim.h"
#include "../engine/rng.h"

#define COCOA_RTO_INIT SIM_S(2)     /* §4.1 blind estimate, §4.2.1 E_x init */
#define COCOA_RTO_MAX SIM_S(60)     /* RFC 6298 (2.5): a cap of >= 60 s */
#define COCOA_BACKOFF_MAX SIM_S(32) /* §4.2.1: backoff truncated at 32 s */

/* RFC 6298 clock granularity G in RTO = SRTT + max(G, K * RTTVAR); also the
 * smallest RTO the estimator produces. */
#ifndef COCOA_CLOCK_G_US
#define COCOA_CLOCK_G_US 1000u
#endif
#define COCOA_RTO_MIN SIM_US(COCOA_CLOCK_G_US)

struct cocoa {
	sim_time rto;        /* overall RTO, before aging to the present */
	sim_time rto_strong; /* E_strong (2 s until the first strong sample) */
	sim_time rto_weak;   /* E_weak (2 s until the first weak sample) */
	sim_time updated;    /* last change of rto (measurement or aging) */
	uint32_t srtt_strong, rttvar_strong; /* us */
	uint32_t srtt_weak, rttvar_weak;     /* us */
	uint8_t have_strong, have_weak;      /* a sample has arrived */
};

/* Fresh state: no measurement, every RTO 2 s. */
void cocoa_init(struct cocoa *c);

/* The overall RTO at `now` after aging (§4.3), which is stored: below 1 s
 * and unchanged for 16 x RTO it doubles; above 3 s and unchanged for
 * 4 x RTO it becomes 1 s + RTO / 2; repeated as often as due by `now`. */
sim_time cocoa_rto(struct cocoa *c, sim_time now);

/* E_strong and E_weak, for a trace (2 s before their first sample). */
static inline sim_time cocoa_rto_strong(const struct cocoa *c)
{
	return c->rto_strong;
}

static inline sim_time cocoa_rto_weak(const struct cocoa *c)
{
	return c->rto_weak;
}

/* The undithered RTO a new exchange starts from: before any measurement
 * 2 s x `outstanding` (exchanges to this destination counting the new one,
 * at least 1; §4.1), else cocoa_rto().  At most COCOA_RTO_MAX. */
sim_time cocoa_initial_rto(struct cocoa *c, sim_time now, uint32_t outstanding);

/* Initial timeout of a new exchange: cocoa_initial_rto() times a uniform
 * factor in [1, random_factor] (one draw from rng, always).  *vbf (if not
 * NULL) gets the exchange's backoff factor x 10 chosen from the undithered
 * RTO, for cocoa_backoff(). */
sim_time cocoa_initial_timeout(struct cocoa *c, sim_time now, uint32_t outstanding,
			       double random_factor, struct sim_rng *rng, uint8_t *vbf);

/* The variable backoff factor x 10 for an RTO (§4.2.1, App. B.3): 30 below
 * 1 s, 20 from 1 s to 3 s inclusive, 15 above 3 s. */
uint8_t cocoa_vbf(sim_time rto);

/* Timeout after the next retransmission: prev x vbf / 10, truncated at
 * COCOA_BACKOFF_MAX (a longer prev is kept, never shortened). */
static inline sim_time cocoa_backoff(sim_time prev, uint8_t vbf)
{
	sim_time next = prev > SIM_TIME_NEVER / 255 ? SIM_TIME_NEVER
						   : prev * vbf / 10;

	if (next > COCOA_BACKOFF_MAX)
		next = prev > COCOA_BACKOFF_MAX ? prev : COCOA_BACKOFF_MAX;
	return next;
}

/* An exchange was acknowledged after `transmissions` transmissions; rtt is
 * timed from its first transmission.  1 updates the strong estimator, 2 or
 * 3 the weak one, then the overall RTO; anything else is ignored (§4.2).
 * Returns whether the sample was used. */
bool cocoa_on_response(struct cocoa *c, sim_time now, sim_time rtt,
		       unsigned transmissions);

#endif
