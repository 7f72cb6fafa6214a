/* The radio energy model: every endpoint's radio is transmitting, receiving,
 * listening (idle but awake) or asleep.  Transmit and receive times are the
 * airtime of every frame at energy.bitrate, link-layer overhead included;
 * an endpoint listens while it waits for an answer (an ACK, a response, a
 * notification it observes, a multicast request it may get) and sleeps
 * otherwise.  Energy = sum of time x current x voltage. */
#ifndef COAPSIM_ENERGY_H
#define COAPSIM_ENERGY_H

#include <stdbool.h>
#include <stdint.h>

#include "../core/sim.h"
#include "energy_cfg.h"

/* IEEE 802.15.4 framing added to each IP packet: PHY preamble 4, SFD 1,
 * length 1; MAC frame control 2, sequence 1, PAN id 2, short destination 2
 * and source 2 addresses, FCS 2: 17 bytes. */
#define ENERGY_FRAME_OVERHEAD 17

/* What one endpoint's radio did. */
struct energy_ledger {
	sim_time tx, rx;        /* airtime sent and received */
	sim_time listen;        /* awake waiting, closed intervals */
	sim_time listen_since;  /* start of the open interval */
	uint8_t listening;
};

/* Airtime of `frames` frames carrying ip_bytes in all. */
sim_time energy_airtime(uint64_t ip_bytes, uint32_t frames, uint64_t bitrate_bps);

/* Switch listening on or off at `now` (no-op when unchanged). */
void energy_listen(struct energy_ledger *l, bool on, sim_time now);

/* Energy in millijoules over a period of `period` (the run), closing an
 * open listening interval at `period`.  Listening is the awake time not
 * spent sending or receiving, billed at the receive current or the idle
 * current (energy.listen); sleep is the rest. */
double energy_mj(const struct energy_ledger *l, sim_time period,
		 const struct energy_cfg *c);

/* Battery lifetime in days at a mean of node_mj per node spent over
 * `period`: the battery divided by that mean power. */
double energy_lifetime_days(double node_mj, sim_time period, const struct energy_cfg *c);

#endif
