/* Which backends this coapsim has: the one place that maps a scenario's
 * backend kind to its implementation.  Knows nothing of what they do. */
#include "backend.h"
#include "../ns3/ns3.h"

const struct backend_ops *backend_lookup(enum backend_kind kind)
{
	switch (kind) {
	case BACKEND_NATIVE:
		return &backend_native_ops;
	case BACKEND_NS3:
		return backend_ns3; /* NULL when built without ns-3 */
	case BACKEND_LIVE:
		return &backend_live_ops;
	case BACKEND_LIVE_TUN:
		return &backend_tun_ops;
	}
	return NULL;
}

const char *backend_name(enum backend_kind kind)
{
	return kind == BACKEND_NS3				   ? "ns3"
	       : kind == BACKEND_LIVE || kind == BACKEND_LIVE_TUN ? "live"
								   : "native";
}

const char *backend_missing_hint(enum backend_kind kind)
{
	return kind == BACKEND_NS3 ? "install it with: " NS3_INSTALL_HINT : "";
}
