/* The ns-3 backend: a run's timers, datagrams and MQTT's TCP carried by
 * ns-3 3.37, behind the backend seam (sim/backend/backend.h:
 * backend_ns3).
 *
 * Opening it builds, in ns-3, one node per endpoint and one access node per
 * endpoint joined by the scenario's link ([ns3] device = p2p, csma or
 * lrwpan, 802.15.4 with 6LoWPAN), with UDP/IPv6 sockets on both; the
 * scenario's loss becomes an ns-3 error model on the receiving device, its
 * rate and queue the devices' data rate and drop-tail queue, its latency the
 * channel delay.  A [bottleneck] becomes one point-to-point link between a
 * gateway node and the server node that every datagram crosses.  MQTT's TCP
 * runs on ns-3's own TCP sockets: the client's end on the endpoint node,
 * the broker's on the access node (port 1883).  The engine's timers run on
 * ns-3's scheduler (struct sim_sched): the protocol cores above run
 * unchanged.
 *
 * ns-3's simulator is one per process: an open ns-3 backend holds a
 * process-wide lock until it is closed, so runs on several threads take
 * turns.  This header includes nothing from ns-3; sim/ns3/ns3.cc is the
 * only file that does. */
#ifndef COAPSIM_NS3_H
#define COAPSIM_NS3_H

/* The command that installs what the backend needs (for messages). */
#define NS3_INSTALL_HINT "apt-get install libns3-dev libgsl-dev, then rebuild coapsim"

#endif
