/* Compile-time limits.  Run-time parameters belong in scenario files. */
#ifndef COAPSIM_OPTIONS_H
#define COAPSIM_OPTIONS_H

#ifndef COAP_MAX_OPTIONS
#define COAP_MAX_OPTIONS 16 /* options kept by coap_parse(); more is an error */
#endif
#ifndef COAP_MAX_PATH
#define COAP_MAX_PATH 64 /* longest Uri-Path an endpoint sends, bytes */
#endif
#ifndef COAP_MAX_NSTART
#define COAP_MAX_NSTART 8 /* largest [coap] nstart accepted */
#endif
#ifndef SIM_MAX_DATAGRAM
#define SIM_MAX_DATAGRAM 65535 /* largest UDP payload the channel carries */
#endif
#ifndef SIM_MAX_GROUPS
#define SIM_MAX_GROUPS 16
#endif
#ifndef SIM_MAX_SWEEP_POINTS
#define SIM_MAX_SWEEP_POINTS 100000
#endif

#endif
