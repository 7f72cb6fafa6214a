/* CoCoA RTO estimation, draft-ietf-core-cocoa-03 §4 and Appendix B.
 * Section numbers below are the draft's. */
#include "cocoa.h"

#include <string.h>

_Static_assert(sizeof(struct cocoa) <= 64, "struct cocoa is kept per endpoint");

#define K_STRONG 4u /* RFC 6298 */
#define K_WEAK 1u   /* §4.2.1 */

void cocoa_init(struct cocoa *c)
{
	memset(c, 0, sizeof(*c));
	/* §4.1: the initial RTO estimate is 2 s, and also the initial value of
	 * E_weak and E_strong (§4.2.1). */
	c->rto = COCOA_RTO_INIT;
	c->rto_strong = COCOA_RTO_INIT;
	c->rto_weak = COCOA_RTO_INIT;
}

static sim_time clamp_rto(sim_time rto)
{
	if (rto < COCOA_RTO_MIN)
		return COCOA_RTO_MIN;
	if (rto > COCOA_RTO_MAX)
		return COCOA_RTO_MAX;
	return rto;
}

/* §4.3 and Appendix B.2, applied cumulatively as §4.3 allows: each step
 * happens when a timer would have fired (updated + 16 or 4 x RTO) and
 * restarts the clock there, so reading the RTO often or rarely gives the same
 * result.  B.2's pseudocode compares with '>'; the text says "left without
 * further update for 16 times its current value", read here as '>='. */
static void age(struct cocoa *c, sim_time now)
{
	c->rto = clamp_rto(c->rto);
	while (now >= c->updated) {
		sim_time idle = now - c->updated;

		if (c->rto < SIM_S(1) && idle >= 16 * c->rto) {
			c->updated += 16 * c->rto;
			c->rto *= 2;
		} else if (c->rto > SIM_S(3) && idle >= 4 * c->rto) {
			c->updated += 4 * c->rto;
			c->rto = SIM_S(1) + c->rto / 2;
		} else {
			break;
		}
	}
}

sim_time cocoa_rto(struct cocoa *c, sim_time now)
{
	age(c, now);
	return c->rto;
}

sim_time cocoa_initial_rto(struct cocoa *c, sim_time now, uint32_t outstanding)
{
	/* §4.1: "If only the initial RTO estimate is available, the RTO
	 * estimate for each of up to NSTART exchanges started in parallel is
	 * set to 2 s times the number of parallel exchanges". */
	if (!c->have_strong && !c->have_weak) {
		uint64_t n = outstanding ? outstanding : 1;

		if (n > COCOA_RTO_MAX / COCOA_RTO_INIT)
			return COCOA_RTO_MAX;
		return COCOA_RTO_INIT * n;
	}
	return cocoa_rto(c, now);
}

uint8_t cocoa_vbf(sim_time rto)
{
	if (rto < SIM_S(1))
		return 30;
	if (rto > SIM_S(3))
		return 15;
	return 20;
}

sim_time cocoa_initial_timeout(struct cocoa *c, sim_time now, uint32_t outstanding,
			       double random_factor, struct sim_rng *rng, uint8_t *vbf)
{
	sim_time rto = cocoa_initial_rto(c, now, outstanding);
	double u = sim_rng_unit(rng);
	double extra = random_factor > 1.0 ? (random_factor - 1.0) * u : 0.0;

	/* §4.2.1: the VBF is that of the exchange's initial RTO estimate (as in
	 * the draft authors' Californium implementation), and timeouts are
	 * dithered between 1 x RTO and ACK_RANDOM_FACTOR x RTO. */
	if (vbf)
		*vbf = cocoa_vbf(rto);
	return rto + (sim_time)((double)rto * extra);
}

/* One RFC 6298 §2 step in microseconds: the first sample R sets SRTT = R,
 * RTTVAR = R / 2 (§2.2); later ones RTTVAR = 3/4 RTTVAR + 1/4 |SRTT - R|,
 * then SRTT = 7/8 SRTT + 1/8 R (§2.3, alpha 1/8, beta 1/4; Appendix B.1).
 * Returns E = SRTT + max(G, K * RTTVAR) in ns, at most COCOA_RTO_MAX. */
static sim_time estimate(uint32_t *srtt, uint32_t *rttvar, uint8_t *have,
			 uint32_t r, uint32_t k)
{
	uint64_t var;

	if (!*have) {
		*srtt = r;
		*rttvar = r / 2;
		*have = 1;
	} else {
		uint32_t d = *srtt > r ? *srtt - r : r - *srtt;

		*rttvar = (uint32_t)((3ull * *rttvar + d) / 4);
		*srtt = (uint32_t)((7ull * *srtt + r) / 8);
	}
	var = (uint64_t)k * *rttvar;
	if (var < COCOA_CLOCK_G_US)
		var = COCOA_CLOCK_G_US;
	return clamp_rto(SIM_US(*srtt + var));
}

bool cocoa_on_response(struct cocoa *c, sim_time now, sim_time rtt,
		       unsigned transmissions)
{
	uint32_t r;

	/* §4.2: a strong sample when the first transmission was answered, a
	 * weak one when "only the first two retransmissions" were needed;
	 * "Responses obtained after the third retransmission are not used". */
	if (transmissions < 1 || transmissions > 3)
		return false;
	if (rtt > COCOA_RTO_MAX)
		rtt = COCOA_RTO_MAX;
	r = (uint32_t)(rtt / 1000);
	/* The RTO the sample is blended with is the one a timer-driven aging
	 * would have left by now. */
	age(c, now);
	if (transmissions == 1) {
		c->rto_strong = estimate(&c->srtt_strong, &c->rttvar_strong,
					 &c->have_strong, r, K_STRONG);
		/* §4.2 (2), w_strong = 0.5 */
		c->rto = (c->rto_strong + c->rto) / 2;
	} else {
		c->rto_weak = estimate(&c->srtt_weak, &c->rttvar_weak,
				       &c->have_weak, r, K_WEAK);
		/* §4.2 (1), w_weak = 0.25 */
		c->rto = (c->rto_weak + 3 * c->rto) / 4;
	}
	c->rto = clamp_rto(c->rto);
	c->updated = now;
	return true;
}
