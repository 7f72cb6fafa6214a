#include "cocoa.h"

void cocoa_init(struct cocoa *c)
{
	*c = (struct cocoa){.rto = COCOA_RTO_INIT};
}

uint8_t cocoa_vbf(sim_time rto)
{
	if (rto < SIM_S(1))
		return 30;
	if (rto > SIM_S(3))
		return 15;
	return 20;
}

sim_time cocoa_rto(struct cocoa *c, sim_time now)
{
	for (;;) {
		if (c->rto < SIM_S(1) && now >= c->updated + 16 * c->rto) {
			c->updated += 16 * c->rto;
			c->rto *= 2;
		} else if (c->rto > SIM_S(3) && now >= c->updated + 4 * c->rto) {
			c->updated += 4 * c->rto;
			c->rto = (COCOA_RTO_INIT + c->rto) / 2;
		} else {
			return c->rto;
		}
	}
}

sim_time cocoa_initial_timeout(struct cocoa *c, sim_time now, uint32_t outstanding,
			       double random_factor, struct sim_rng *rng, uint8_t *vbf)
{
	sim_time rto;

	if (!c->have_strong && !c->have_weak)
		rto = COCOA_RTO_INIT * (outstanding ? outstanding : 1);
	else
		rto = cocoa_rto(c, now);
	*vbf = cocoa_vbf(rto);
	return (sim_time)((double)rto * (1.0 + (random_factor - 1.0) * sim_rng_unit(rng)));
}

/* RFC 6298 §2: first sample R: SRTT = R, RTTVAR = R/2; then
 * RTTVAR = 3/4 RTTVAR + 1/4 |SRTT - R|, SRTT = 7/8 SRTT + 1/8 R;
 * RTO = SRTT + K * RTTVAR. */
static sim_time estimate(sim_time *srtt, sim_time *rttvar, uint8_t *have, sim_time r,
			 unsigned k)
{
	if (!*have) {
		*srtt = r;
		*rttvar = r / 2;
		*have = 1;
	} else {
		sim_time d = *srtt > r ? *srtt - r : r - *srtt;
		*rttvar = (3 * *rttvar + d) / 4;
		*srtt = (7 * *srtt + r) / 8;
	}
	return *srtt + k * *rttvar;
}

bool cocoa_on_response(struct cocoa *c, sim_time now, sim_time rtt,
		       unsigned transmissions)
{
	if (transmissions == 1) {
		c->rto_strong = estimate(&c->srtt_strong, &c->rttvar_strong,
					 &c->have_strong, rtt, 4);
		c->rto = (c->rto_strong + c->rto) / 2;
	} else if (transmissions <= 3) {
		c->rto_weak = estimate(&c->srtt_weak, &c->rttvar_weak, &c->have_weak,
				       rtt, 1);
		c->rto = (c->rto_weak + 3 * c->rto) / 4;
	} else {
		return false;
	}
	c->updated = now;
	return true;
}
