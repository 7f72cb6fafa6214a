/* The ns-3 backend: a run's timers and datagrams carried by ns-3 3.37.
 *
 * ns3_attach() builds, in ns-3, one node per endpoint and one access node
 * per endpoint joined by the scenario's link ([ns3] device = p2p, csma or
 * lrwpan, 802.15.4 with 6LoWPAN), with UDP/IPv6 sockets on both; the scenario's loss becomes an
 * ns-3 error model on the receiving device, its rate and queue the devices'
 * data rate and drop-tail queue, its latency the channel delay.  A
 * [bottleneck] becomes one point-to-point link between a gateway node and
 * the server node that every datagram crosses.  Then it points the engine's
 * timers (struct sim_sched) and the channel's sends (struct net_ext) at ns-3:
 * the protocol cores above run unchanged, and sim_engine_run() runs
 * ns-3's Simulator.
 *
 * ns-3's simulator is one per process: a run on ns-3 holds a process-wide
 * lock from ns3_attach() to ns3_detach(), so runs on several threads take
 * turns.  This header includes nothing from ns-3; sim/ns3/ns3.cc is the
 * only file that does. */
#ifndef COAPSIM_NS3_H
#define COAPSIM_NS3_H

#include <stdbool.h>
#include <stdint.h>

#include "../engine/engine.h"
#include "../net/net.h"
#include "../scenario/scenario.h"
#include "../tcp/tcp.h"

#ifdef __cplusplus
extern "C" {
#endif

struct ns3_run;

/* MQTT's TCP on ns-3: ns-3's own TCP sockets, the client's end on the
 * endpoint node, the broker's on the access node (port 1883).  What comes
 * back, all required:
 *   segment: a TCP segment (header + payload, checksum 0) left (arrived =
 *            false) or arrived; dir NET_UP from the client's end; info as
 *            our TCP model gives it, offsets from the start of the stream;
 *   data:    in-order bytes arrived at one end;
 *   event:   that end's connection was established, closed, reset or
 *            failed (as enum tcp_event). */
struct ns3_tcp_cb {
	void (*segment)(void *ud, uint32_t ep, enum net_dir dir, bool arrived,
			const uint8_t *seg, size_t len, const struct tcp_seg_info *info);
	void (*data)(void *ud, uint32_t ep, bool broker, const uint8_t *buf, size_t len);
	void (*event)(void *ud, uint32_t ep, bool broker, enum tcp_event ev);
	void *ud;
};

/* Whether this coapsim was built with the ns-3 backend. */
bool ns3_available(void);

/* The command that installs what the backend needs (for messages). */
#define NS3_INSTALL_HINT "apt-get install libns3-dev libgsl-dev, then rebuild coapsim"

/* Build the topology for cfg (n->n_ep endpoints) and attach e and n to it.
 * e and n must be initialised and stay put until ns3_detach().  Returns 0,
 * SIM_ERR_UNSUPPORTED (not built with ns-3) or SIM_ERR_NOMEM. */
int ns3_attach(struct ns3_run **out, struct sim_engine *e, struct net *n,
	       const struct scenario_cfg *cfg, uint64_t seed, const struct ns3_tcp_cb *tcb);

/* Open endpoint ep's client connection to the broker (a new socket; the
 * previous one, if any, must be closed or aborted).  Returns 0 or
 * SIM_ERR_NOMEM. */
int ns3_tcp_connect(struct ns3_run *r, uint32_t ep);

/* Queue bytes on one end.  Returns 0, or SIM_ERR_BUSY when that end has
 * no connection or its send buffer is full. */
int ns3_tcp_send(struct ns3_run *r, uint32_t ep, bool broker, const uint8_t *buf,
		 size_t len);

/* Close one end after what is queued (FIN).  The event comes later. */
void ns3_tcp_close(struct ns3_run *r, uint32_t ep, bool broker);

/* Drop one end at once: no more callbacks from it, and TCP_EV_CLOSED now,
 * as our TCP model does.  ns-3's sockets cannot send a RST on demand: the
 * peer sees a FIN. */
void ns3_tcp_abort(struct ns3_run *r, uint32_t ep, bool broker);

/* Tear the ns-3 world down, detach e and n (they go back to native) and
 * release the lock.  Harmless on NULL. */
void ns3_detach(struct ns3_run *r);

#ifdef __cplusplus
}
#endif

#endif
