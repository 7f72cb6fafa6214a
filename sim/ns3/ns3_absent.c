/* The ns-3 backend when coapsim is built without ns-3 (see ns3.h). */
#include "ns3.h"

bool ns3_available(void)
{
	return false;
}

int ns3_attach(struct ns3_run **out, struct sim_engine *e, struct net *n,
	       const struct scenario_cfg *cfg, uint64_t seed)
{
	(void)e;
	(void)n;
	(void)cfg;
	(void)seed;
	*out = NULL;
	return SIM_ERR_UNSUPPORTED;
}

void ns3_detach(struct ns3_run *r)
{
	(void)r;
}
