/* Scenario files: INI (libinih) with units, distributions and ${...} sweeps.
 *
 * Two stages.  scenario_load() reads the file and the --set overrides into
 * raw (section, key, value, line) entries and expands the sweeps into a run
 * matrix of points; it then compiles every point, so any invalid value is
 * reported before a single run starts.  scenario_point_cfg() gives the typed
 * configuration of one point.
 *
 * Every error is one line "FILE:LINE: message" (or "--set KEY=VALUE: message"
 * for an override, "FILE: message" when there is no line) written to the
 * caller's err buffer. */
#ifndef COAPSIM_SCENARIO_H
#define COAPSIM_SCENARIO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../backend/backend_kind.h"
#include "../core/dist.h"
#include "../core/options.h"
#include "../core/sim.h"
#include "../energy/energy_cfg.h"
#include "../net/link.h"

#define SCN_ERR_LEN 512
#define SCN_NAME_LEN 64
#define SCN_PATH_LEN 256

enum protocol { PROTO_COAP, PROTO_MQTT };
enum traffic_kind {
	TRAFFIC_PERIODIC,
	TRAFFIC_POISSON,
	TRAFFIC_ONCE,
	TRAFFIC_OBSERVE, /* observe(interval): register once, the server notifies */
};

struct group_cfg {
	char name[SCN_NAME_LEN];
	uint32_t count;
	enum protocol protocol;
	enum traffic_kind traffic;
	sim_time interval;    /* periodic interval or poisson mean; 0 for once */
	struct dist start;    /* first message time (ns) */
	uint32_t payload;     /* application bytes per message */
	uint8_t method;       /* CoAP method code 1..4 (GET POST PUT DELETE) */
	bool confirmable;
	char path[COAP_MAX_PATH]; /* may contain {id} */
	uint8_t qos;              /* 0..2 */
	char topic[128];          /* may contain {id} */
	uint32_t block_size;      /* RFC 7959 block size 16..1024; 0 = no blocks */
	bool multicast;           /* the group is a multicast group (RFC 7252 §8) */
	uint8_t security;         /* enum security_kind */
};

/* [group] security: CoAP over DTLS 1.2 (RFC 7252 §9.1, port 5684), MQTT
 * over TLS 1.2 (port 8883). */
enum security_kind { SECURITY_NONE, SECURITY_DTLS, SECURITY_TLS, SECURITY_ON };
/* When a secured client handshakes: once and keeps the session, or for
 * every message (a sensor that forgets its session when it sleeps). */
enum handshake_mode { HANDSHAKE_PER_BOOT, HANDSHAKE_PER_MESSAGE };
#define SCN_PSK_MAX 64
/* Cipher suites, in sim/sec's order (enum dtls_suite). */
enum security_suite { SUITE_PSK_CCM8, SUITE_ECDHE_ECDSA_CCM8 };
struct security_cfg {
	char psk_identity[64];
	uint8_t psk[SCN_PSK_MAX];        /* the clients' key */
	uint32_t psk_len;
	uint8_t server_psk[SCN_PSK_MAX]; /* the server's; server_psk_len 0: psk */
	uint32_t server_psk_len;
	enum handshake_mode handshake;
	bool resumption;         /* clients resume sessions by ticket (RFC 5077) */
	enum security_suite suite;
	sim_time session_lifetime; /* the server accepts a ticket this long */
	sim_time timeout_initial, timeout_max; /* [dtls]: RFC 6347 4.2.4's timer */
};

enum coap_congestion { COAP_CC_DEFAULT, COAP_CC_COCOA };
struct coap_cfg {
	char preset[24];          /* [coap] preset, "" when none */
	sim_time ack_timeout;
	double ack_random_factor; /* >= 1 */
	uint32_t max_retransmit;  /* 0..20 */
	uint32_t nstart;          /* 1..COAP_MAX_NSTART */
	sim_time default_leisure;
	enum coap_congestion congestion;
	sim_time notify_con_interval; /* RFC 7641 §4.5: a CON notification at least this often */
};

struct server_cfg {
	struct dist processing; /* ns */
	sim_time separate_after;
	uint32_t max_body;      /* largest Block1 request body; more is 4.13 */
};

struct broker_cfg {
	char subscriber[128]; /* topic filter of the backend subscriber, "" = none */
	bool nodelay;         /* TCP_NODELAY on the broker's end (linux profile) */
};

struct mqtt_cfg {
	sim_time keepalive;
	bool clean_session;
	uint32_t inflight; /* unacknowledged QoS 1/2 PUBLISHes per client */
	bool nodelay;      /* TCP_NODELAY on the client's end (linux profile) */
};

enum tcp_profile_cfg { TCP_CFG_RFC6298, TCP_CFG_LINUX }; /* as tcp.h's enum */
struct tcp_cfg {
	enum tcp_profile_cfg profile;
	sim_time rto_initial, rto_min, rto_max;
	uint32_t mss;
	sim_time delayed_ack; /* 0 = off */
	uint32_t syn_retries;  /* SYN retransmissions before a connect fails */
	uint32_t data_retries; /* data retransmissions before a connection fails */
};

struct output_cfg {
	bool pcap;
	char dir[SCN_PATH_LEN];      /* {name} already substituted */
	char pcap_dir[SCN_PATH_LEN]; /* {name} already substituted */
	bool exchanges;
	bool keylog;                 /* NSS key log of every TLS/DTLS session */
	uint64_t pcap_max; /* bytes per capture file before rotation; 0 = none */
};

enum expect_op { EXPECT_LT, EXPECT_LE, EXPECT_GT, EXPECT_GE, EXPECT_EQ };
struct expect_cfg {
	char metric[96];  /* e.g. "latency_ms.p99", "group.sensors.delivery_ratio" */
	enum expect_op op;
	double value;     /* converted: time to ms for *_ms metrics, % to fraction */
	char text[64];    /* the value as written, for messages */
	int line;
};


/* [ns3]: how the ns-3 backend lays out each endpoint's link. */
enum ns3_device {
	NS3_P2P,    /* PointToPointNetDevice pair */
	NS3_CSMA,   /* a two-node CSMA segment */
	NS3_LRWPAN, /* IEEE 802.15.4 (LR-WPAN) with 6LoWPAN */
};
struct ns3_cfg {
	enum ns3_device device;
};

/* [live]: the real server a live run loads (backend = live). */
enum live_transport { LIVE_UDP, LIVE_TUN };
struct live_cfg {
	char host[128];         /* from target = coap|mqtt://HOST[:PORT]; "" when unset */
	uint16_t port;
	bool mqtt;              /* the target is a broker (mqtt://) */
	bool coaps;             /* the target speaks CoAP over DTLS (coaps://) */
	bool secure;            /* coaps:// or mqtts:// (TLS) */
	enum live_transport transport;
	bool netns;             /* tun: the target in a namespace coapsim makes */
	char server[256];       /* a command that starts the target; "" none */
	sim_time ramp;          /* the endpoints begin over this long, in turn */
	sim_time lag_limit;     /* a run whose generator lag p99 passed it is flagged */
	char source[64];        /* ADDRESS[/PREFIX] the endpoints' sockets bind to; "" any */
	bool allow_remote;      /* --allow-remote: the target may be beyond loopback */
};

struct scenario_cfg {
	char name[SCN_NAME_LEN];
	char file[SCN_PATH_LEN]; /* the scenario file as given */
	sim_time duration;
	sim_time warmup;
	uint64_t seed;
	uint32_t replications; /* >= 1 */
	enum backend_kind backend;

	struct link_cfg up, down; /* [link] merged with [link.up] / [link.down] */
	struct bottleneck_cfg bottleneck;

	size_t n_groups;
	struct group_cfg groups[SIM_MAX_GROUPS];

	struct server_cfg server;
	struct broker_cfg broker;
	struct coap_cfg coap;
	struct mqtt_cfg mqtt;
	struct tcp_cfg tcp;
	struct security_cfg security;
	struct energy_cfg energy;
	struct output_cfg output;
	struct ns3_cfg ns3;
	struct live_cfg live;

	size_t n_expect;
	struct expect_cfg *expect; /* heap, owned; freed by scenario_cfg_free */
	/* [expect] tolerance: a baseline comparison fails only on a change
	 * larger than this fraction of the baseline value (default 1%). */
	double baseline_tolerance;
};

/* The parsed file plus overrides and the expanded run matrix (opaque). */
struct scenario_src;

/* Read and validate a scenario file.  sets[] are "section.key=value" strings
 * from --set, applied over the file (they may hold sweeps).  On success
 * *out is a new source (free with scenario_src_del) and 0 is returned; on
 * failure a one-line message is in err and the return is SIM_ERR_IO (file
 * missing or unreadable) or SIM_ERR_INVAL (anything else). */
int scenario_load(struct scenario_src **out, const char *path,
		  const char *const *sets, size_t n_sets, char *err, size_t errlen);

/* Same from a string; `path` is only used in messages and for the default
 * name.  For tests and the fuzzer. */
int scenario_load_string(struct scenario_src **out, const char *path,
			 const char *text, const char *const *sets, size_t n_sets,
			 char *err, size_t errlen);

void scenario_src_del(struct scenario_src *src);

/* Number of points in the run matrix (cross product of sweeps, >= 1).
 * Points are numbered with the first sweep in file order varying slowest,
 * --set sweeps after the file's. */
size_t scenario_n_points(const struct scenario_src *src);

/* Swept parameters of one point: n = scenario_n_params(), the same keys at
 * every point ("link.loss", "group.sensors.protocol"), each with this
 * point's value as written ("5%").  Pointers stay valid while src lives. */
size_t scenario_n_params(const struct scenario_src *src);
const char *scenario_param_key(const struct scenario_src *src, size_t i);
const char *scenario_param_value(const struct scenario_src *src, size_t point,
				 size_t i);

/* Typed configuration of one point (already validated by scenario_load, so
 * this only fails on SIM_ERR_NOMEM).  Free with scenario_cfg_free. */
int scenario_point_cfg(const struct scenario_src *src, size_t point,
		       struct scenario_cfg *cfg, char *err, size_t errlen);
void scenario_cfg_free(struct scenario_cfg *cfg);

/* Deep copy (the expect array). */
int scenario_cfg_copy(struct scenario_cfg *dst, const struct scenario_cfg *src);

/* The scenario text as read (for reports); NUL-terminated. */
const char *scenario_text(const struct scenario_src *src);
/* A one-line error at the place that sets [section] key (file:line, or
 * the --set; the file alone when the key is left at its default).
 * Returns SIM_ERR_INVAL. */
int scenario_key_error(const struct scenario_src *src, const char *section,
		       const char *key, char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 6, 7)));
/* The scenario as it runs: every key of the file with each --set in its
 * place (marked), one section at a time, as INI that loads back to the
 * same run matrix.  Heap; the caller frees it.  NULL when out of memory. */
char *scenario_effective_text(const struct scenario_src *src);

/* The keys, for `coapsim keys` and the tables of docs/scenario.md: the
 * i-th of every section's keys in table order ([link.up] and [link.down]
 * have [link]'s, listed once under "link").  False past the last one. */
struct scenario_keyinfo {
	const char *section; /* "scenario", "link", "group.NAME", ... */
	const char *key;
	const char *def;     /* as written in a file; "" when derived (see help) */
	const char *range;   /* accepted values in words; "" when any of its kind */
	const char *help;    /* one line of Markdown */
	char buf[128];       /* holds range when made of an enum's values */
};
bool scenario_key_info(size_t i, struct scenario_keyinfo *out);

/* Unit parsers, exposed for tests and --set.  Return 0 or SIM_ERR_INVAL. */
/* coap://HOST[:PORT] (an IPv6 HOST in brackets; port 5683 by default).
 * Returns 0 or SIM_ERR_INVAL. */
int scenario_parse_coap_uri(const char *s, char *host, size_t hostlen, uint16_t *port);
/* SCHEME://HOST[:PORT] the same way, def_port when none is given. */
int scenario_parse_uri(const char *s, const char *scheme, uint16_t def_port, char *host,
		       size_t hostlen, uint16_t *port);
int scenario_parse_time(const char *s, sim_time *out);      /* ns us ms s min h; bare = s */
int scenario_parse_rate(const char *s, uint64_t *out_bps);  /* bps kbps Mbps */
int scenario_parse_size(const char *s, uint64_t *out_bytes);/* B kB MB GB; bare = B */
int scenario_parse_prob(const char *s, double *out);        /* "5%" or "0.05", in [0,1] */
int scenario_parse_dist(const char *s, struct dist *out);   /* time distributions */

#endif
