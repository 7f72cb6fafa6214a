/* The radio energy model: airtime and listening per endpoint, mJ and
 * battery lifetime (see energy.h).  Knows no protocol and no scenario. */
#include "energy.h"

sim_time energy_airtime(uint64_t ip_bytes, uint32_t frames, uint64_t bitrate_bps)
{
	uint64_t bits = (ip_bytes + (uint64_t)frames * ENERGY_FRAME_OVERHEAD) * 8;
	return (sim_time)(bits * 1000000000ull / bitrate_bps);
}

void energy_listen(struct energy_ledger *l, bool on, sim_time now)
{
	if (on == (bool)l->listening)
		return;
	if (on)
		l->listen_since = now;
	else
		l->listen += now - l->listen_since;
	l->listening = on;
}

double energy_mj(const struct energy_ledger *l, sim_time period,
		 const struct energy_cfg *c)
{
	sim_time listen = l->listen;
	if (l->listening && period > l->listen_since)
		listen += period - l->listen_since;
	sim_time busy = l->tx + l->rx;
	sim_time idle = listen > busy ? listen - busy : 0;
	sim_time awake = busy + idle;
	sim_time sleep = period > awake ? period - awake : 0;
	/* mA x s x V = mJ */
	double listen_ma = c->listen == ENERGY_LISTEN_IDLE ? c->idle_ma : c->rx_ma;
	double mas = c->tx_ma * sim_time_to_s(l->tx) + c->rx_ma * sim_time_to_s(l->rx) +
		     listen_ma * sim_time_to_s(idle) + c->sleep_ma * sim_time_to_s(sleep);
	return mas * c->voltage_v;
}

double energy_lifetime_days(double node_mj, sim_time period, const struct energy_cfg *c)
{
	double secs = sim_time_to_s(period);
	if (node_mj <= 0 || secs <= 0)
		return 0;
	double mean_ma = node_mj / c->voltage_v / secs;
	return c->battery_mah / mean_ma / 24.0;
}
