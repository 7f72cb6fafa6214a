/* The backends a scenario can name ([scenario] backend): the scenario
 * schema and the backend registry (backend.c) share this, nothing more. */
#ifndef COAPSIM_BACKEND_KIND_H
#define COAPSIM_BACKEND_KIND_H

enum backend_kind {
	BACKEND_NATIVE,
	BACKEND_NS3,
	BACKEND_LIVE,     /* [live] transport = udp */
	BACKEND_LIVE_TUN, /* [live] transport = tun: a run picks it, a scenario names live */
};

#endif
