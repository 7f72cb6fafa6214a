/* The ns-3 backend when coapsim is built without ns-3 (see ns3.h). */
#include "ns3.h"

bool ns3_available(void)
{
	return false;
}

int ns3_attach(struct ns3_run **out, struct sim_engine *e, struct net *n,
	       const struct scenario_cfg *cfg, uint64_t seed, const struct ns3_tcp_cb *tcb)
{
	(void)tcb;
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

/* Never reached: nothing is attached without ns-3. */
int ns3_tcp_connect(struct ns3_run *r, uint32_t ep)
{
	(void)r;
	(void)ep;
	return SIM_ERR_UNSUPPORTED;
}

int ns3_tcp_send(struct ns3_run *r, uint32_t ep, bool broker, const uint8_t *buf,
		 size_t len)
{
	(void)r;
	(void)ep;
	(void)broker;
	(void)buf;
	(void)len;
	return SIM_ERR_UNSUPPORTED;
}

void ns3_tcp_close(struct ns3_run *r, uint32_t ep, bool broker)
{
	(void)r;
	(void)ep;
	(void)broker;
}

void ns3_tcp_abort(struct ns3_run *r, uint32_t ep, bool broker)
{
	(void)r;
	(void)ep;
	(void)broker;
}
