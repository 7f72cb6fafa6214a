/* Text for the SIM_ERR_* codes, and the SIM_CHECKS failure report.
 * Knows nothing of any module. */
#include "sim.h"

#include <stdio.h>
#include <stdlib.h>

const char *sim_strerror(int err)
{
	switch (err) {
	case SIM_OK: return "success";
	case SIM_ERR_NOMEM: return "out of memory";
	case SIM_ERR_INVAL: return "invalid argument";
	case SIM_ERR_MALFORMED: return "malformed message";
	case SIM_ERR_NOSPACE: return "buffer too small";
	case SIM_ERR_IO: return "I/O error";
	case SIM_ERR_NOTFOUND: return "not found";
	case SIM_ERR_BUSY: return "resource busy";
	case SIM_ERR_UNSUPPORTED: return "unsupported";
	case SIM_ERR_STOPPED: return "stopped";
	default: return "unknown error";
	}
}

#ifdef SIM_CHECKS
void sim_check_failed(const char *what, const char *file, int line)
{
	fprintf(stderr, "coapsim: internal check failed at %s:%d: %s\n", file, line, what);
	abort();
}
#endif
