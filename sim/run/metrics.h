/* Per-run statistics: counters and latency histograms.
 *
 * Latencies go into a log-linear histogram (HdrHistogram-style) with 1 us
 * resolution below 2.048 ms and 1/1024 relative resolution above, so
 * percentiles are within 0.1% at any scale and memory stays fixed however
 * many messages a run has. Mean and max are exact. */
#ifndef COAPSIM_METRICS_H
#define COAPSIM_METRICS_H

#include <stdbool.h>
#include <stdint.h>

#include "../core/sim.h"

#define HIST_SUB_BITS 10
#define HIST_SUB (1u << HIST_SUB_BITS)
#define HIST_BUCKETS (HIST_SUB * 2 + HIST_SUB * 40)

struct hist {
	uint64_t count;
	double sum_ns;
	sim_time max;
	uint64_t *b; /* HIST_BUCKETS counters, or NULL when never used */
};

/* Returns 0 or SIM_ERR_NOMEM. */
int hist_add(struct hist *h, sim_time v);
void hist_free(struct hist *h);
/* Add every sample of src to dst (for totals over groups). */
int hist_merge(struct hist *dst, const struct hist *src);
/* Value at quantile q in [0,1], ns (bucket midpoint, clipped to max). */
sim_time hist_quantile(const struct hist *h, double q);
/* The same for n quantiles in ascending order, in one pass. */
void hist_quantiles(const struct hist *h, size_t n, const double *q, sim_time *out);

/* Latency summary in milliseconds; valid only when count > 0. */
struct lat_summary {
	uint64_t count;
	double p50, p90, p99, p999, mean, max;
};
void hist_summary(const struct hist *h, struct lat_summary *s);

/* The fixed metrics of one run (or one group of a run). */
struct run_metrics {
	uint64_t messages, delivered, completed, failed;
	uint64_t transmissions, retransmissions;
	uint64_t spurious; /* requests the server already had (duplicates) */
	uint64_t packets_sent, packets_lost, bytes_sent;
	uint64_t queue_drops, duplicates;
	bool confirmable; /* some messages expect confirmation: completed applies */
	bool observe;     /* some group observes: the notification counts apply */
	uint64_t notifications_sent, notifications_received;
	uint64_t notifications_fresh, notifications_stale, observers_lost;
	bool multicast;   /* some group is a multicast group */
	bool mqtt;        /* some group speaks MQTT */
	uint64_t connections, keepalive_bytes; /* MQTT: TCP connections set up; PING bytes */
	uint64_t tcp_retransmissions; /* every TCP segment sent again, both ends */
	uint64_t forwarded; /* PUBLISHes the broker passed to the subscriber */
	uint64_t reconnects; /* MQTT connections after the first */
	uint64_t mc_responses, mc_expected; /* distinct member responses; requests x members */
	struct lat_summary latency, delivery_latency;
	struct {
		bool valid;
		double total, per_node_mean, per_node_max; /* mJ */
		double lifetime_days;
	} energy;
	uint64_t events;
	double wall_s;
};

#endif
