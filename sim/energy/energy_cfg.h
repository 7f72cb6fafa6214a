/* The parameters of the radio energy model (currents, voltage, bit rate,
 * battery, what listening draws).  The scenario fills them; energy.c reads
 * them.  Knows nothing of the scenario. */
#ifndef COAPSIM_ENERGY_CFG_H
#define COAPSIM_ENERGY_CFG_H

#include <stdint.h>

/* What a radio draws while it is awake waiting for a frame: a receiver
 * that listens (rx, the default: a real radio waiting for an answer is
 * receiving) or the idle current of a radio that is merely on. */
enum energy_listen { ENERGY_LISTEN_RX, ENERGY_LISTEN_IDLE };
struct energy_cfg {
	char radio[32]; /* preset name: cc2420 | cc2538 | nrf52840 */
	double voltage_v;
	double tx_ma, rx_ma, idle_ma, sleep_ma;
	uint8_t listen; /* enum energy_listen */
	uint64_t bitrate_bps;
	double battery_mah;
};

#endif
