/* The ns-3 backend when coapsim is built without ns-3: there is none, and
 * backend_lookup(BACKEND_NS3) says so (see ns3.h). */
#include "../backend/backend.h"

const struct backend_ops *const backend_ns3 = NULL;
