/* Every metric of a run, one row each, in the order of runs.csv and
 * summary.json: the counters of struct run_metrics, their totals over groups,
 * the JSON/CSV fields, coapsim check's baseline directions and the docs'
 * table (coapsim metrics --markdown) are all generated from these rows.
 * It knows the metrics only: nothing of the protocols or the world that
 * counts them, nor of the files they are written to. */
#ifndef COAPSIM_METRICS_TABLE_H
#define COAPSIM_METRICS_TABLE_H

/* The rows, in output order.  Each consumer defines the five row kinds:
 *
 * COUNT(name, field, nul, better, cmp, doc)
 *	uint64_t field of struct run_metrics; the run's total is the sum over
 *	its groups (run_metrics_add).
 * CHAN(name, field, nul, better, cmp, doc)
 *	uint64_t field counted for the whole run (channel, engine): the total
 *	is set once, a group has it only when it is the run's only group.
 * REAL(name, value, nul, combine, better, cmp, doc)
 *	a real computed from the other fields of `m` (const struct
 *	run_metrics *): value is the expression, combine says for the docs how
 *	a total comes about.
 * LAT(name, field, nul, better, cmp, doc)
 *	struct lat_summary field, written as name.p50 ... name.max (ms); the
 *	total is the summary of every group's samples.
 *
 * nul: when the metric does not apply (null), a METRIC_NULLS id.
 * better: HIGHER, LOWER or NEUTRAL (no direction: a count of load).
 * cmp: which values `coapsim check` compares with a baseline: BASELINE or NO
 *	for one value, a mask of METRIC_STAT_* for a LAT row.
 * doc: one line for the docs' table (Markdown, no '|'). */
#define RUN_METRICS(COUNT, CHAN, REAL, LAT)                                                   \
	COUNT("messages", messages, NEVER, NEUTRAL, NO,                                       \
	      "application messages first transmitted (CoAP requests, MQTT PUBLISHes); a "    \
	      "message still waiting behind NSTART or for a connection is not one yet")       \
	COUNT("delivered", delivered, UNKNOWN_DELIVERY, NEUTRAL, NO,                          \
	      "of those, received by the server (broker) at least once; each message counts " \
	      "once however many copies arrive, so `delivered <= messages`")                  \
	COUNT("completed", completed, UNCONFIRMED, NEUTRAL, NO,                               \
	      "of those, confirmed to the sender (ACK with response, or separate response; "  \
	      "PUBACK/PUBCOMP)")                                                              \
	COUNT("failed", failed, NEVER, LOWER, BASELINE,                                       \
	      "given up (retransmissions exhausted, RST), or still open at the drain bound")  \
	REAL("delivery_ratio", metric_ratio((double)m->delivered, (double)m->messages),      \
	     NO_MESSAGES_OR_UNKNOWN_DELIVERY, "ratio of the totals", HIGHER, BASELINE,        \
	     "delivered / messages")                                                          \
	REAL("success_ratio", metric_ratio((double)m->completed, (double)m->messages),       \
	     NO_MESSAGES_OR_UNCONFIRMED, "ratio of the totals", HIGHER, BASELINE,             \
	     "completed / messages")                                                          \
	COUNT("transmissions", transmissions, NEVER, NEUTRAL, NO,                             \
	      "requests put on the wire (CoAP CON/NON; MQTT: TCP segments of PUBLISHes)")     \
	COUNT("retransmissions", retransmissions, NEVER, LOWER, NO,                           \
	      "transmissions that repeated one")                                              \
	REAL("retransmissions_per_message",                                                   \
	     metric_ratio((double)m->retransmissions, (double)m->messages), NO_MESSAGES,      \
	     "ratio of the totals", LOWER, BASELINE, "retransmissions / messages")            \
	COUNT("spurious_retransmissions", spurious, REMOTE, LOWER, NO,                        \
	      "retransmissions of a request the server already had")                          \
	COUNT("dedup_answers", dedup_answers, REMOTE, LOWER, NO,                              \
	      "duplicate CON requests the CoAP server answered again from its memory of "     \
	      "them (RFC 7252 §4.5)")                                                         \
	COUNT("server_errors", server_errors, NEVER, LOWER, NO,                               \
	      "CoAP responses with a 4.xx or 5.xx code (the server refused or failed)")       \
	LAT("latency_ms", latency, NO_COMPLETED, LOWER,                                       \
	    METRIC_STAT_P50 | METRIC_STAT_P90 | METRIC_STAT_P99 | METRIC_STAT_MEAN,           \
	    "first transmission to confirmation")                                             \
	LAT("delivery_latency_ms", delivery_latency, NO_DELIVERED, LOWER,                     \
	    METRIC_STAT_P50 | METRIC_STAT_P99,                                                \
	    "first transmission to first receipt by the server application")                  \
	CHAN("packets_sent", packets_sent, SHARED_CHANNEL, NEUTRAL, NO,                       \
	     "every datagram on the channel, both directions")                                \
	CHAN("packets_lost", packets_lost, SHARED_CHANNEL, LOWER, NO,                         \
	     "of those, lost on the channel")                                                 \
	CHAN("bytes_sent", bytes_sent, SHARED_CHANNEL, NEUTRAL, NO,                           \
	     "bytes of those datagrams, IPv6/UDP headers and fragment headers included")      \
	REAL("bytes_per_message", metric_ratio((double)m->bytes_sent, (double)m->delivered), \
	     SHARED_CHANNEL_OR_NONE_DELIVERED, "ratio of the totals", LOWER, BASELINE,        \
	     "bytes_sent / delivered")                                                        \
	REAL("energy_mj.total", m->energy.total, NO_ENERGY, "sum over endpoints", NEUTRAL,   \
	     NO, "endpoint radio energy, mJ")                                                 \
	REAL("energy_mj.per_message", metric_ratio(m->energy.total, (double)m->delivered),   \
	     NO_ENERGY_OR_NONE_DELIVERED, "ratio of the totals", LOWER, BASELINE,             \
	     "energy_mj.total / delivered")                                                   \
	REAL("energy_mj.per_node_mean", m->energy.per_node_mean, NO_ENERGY,                  \
	     "mean over endpoints", LOWER, NO, "energy of the mean endpoint")                 \
	REAL("energy_mj.per_node_max", m->energy.per_node_max, NO_ENERGY,                    \
	     "max over endpoints", LOWER, NO, "energy of the endpoint that spent most")       \
	REAL("lifetime_days", m->energy.lifetime_days, NO_LIFETIME,                          \
	     "from the mean steady-state power over endpoints", HIGHER, BASELINE,             \
	     "mean endpoint battery lifetime in the traffic's steady state: "                 \
	     "`energy.battery` divided by the mean power between `warmup` and `duration`")   \
	COUNT("notifications_sent", notifications_sent, NO_OBSERVE_OR_REMOTE, NEUTRAL, NO,    \
	      "Observe notifications the server sent (first transmissions)")                  \
	COUNT("notifications_received", notifications_received, NO_OBSERVE, NEUTRAL, NO,      \
	      "notifications the observers received")                                         \
	COUNT("notifications_fresh", notifications_fresh, NO_OBSERVE, NEUTRAL, NO,            \
	      "of those, newer than any before (RFC 7641 §3.4)")                              \
	COUNT("notifications_stale", notifications_stale, NO_OBSERVE, LOWER, NO,              \
	      "of those, older than one already received")                                    \
	COUNT("observers_lost", observers_lost, NO_OBSERVE, LOWER, NO,                        \
	      "observers the server removed because a CON notification timed out")            \
	COUNT("multicast_responses", mc_responses, NO_MULTICAST, NEUTRAL, NO,                 \
	      "distinct member responses to multicast requests")                              \
	REAL("multicast_response_ratio",                                                      \
	     metric_ratio((double)m->mc_responses, (double)m->mc_expected),                   \
	     NO_MULTICAST_REQUESTS, "ratio of the totals", HIGHER, NO,                        \
	     "multicast_responses / (requests x members)")                                    \
	COUNT("connections", connections, NO_MQTT, NEUTRAL, NO,                               \
	      "MQTT: TCP connections set up")                                                 \
	COUNT("keepalive_bytes", keepalive_bytes, NO_MQTT, NEUTRAL, NO,                       \
	      "MQTT: bytes of PINGREQ and PINGRESP, IPv6 and TCP headers included")           \
	COUNT("tcp_retransmissions", tcp_retransmissions, NO_MQTT, LOWER, NO,                 \
	      "MQTT: TCP segments sent again, both ends")                                     \
	COUNT("forwarded", forwarded, NO_MQTT, NEUTRAL, NO,                                   \
	      "MQTT: PUBLISHes the broker passed to the subscriber")                          \
	COUNT("reconnects", reconnects, NO_MQTT, LOWER, NO,                                   \
	      "MQTT: connections after the first")                                            \
	COUNT("handshakes", handshakes, NO_SECURITY, NEUTRAL, NO,                             \
	      "DTLS/TLS: handshakes the clients began")                                       \
	COUNT("handshake_failures", handshake_failures, NO_SECURITY, LOWER, NO,               \
	      "DTLS/TLS: of those, given up (DTLS: no answer within `[dtls] timeout_max`; "   \
	      "a fatal alert such as a wrong key)")                                           \
	LAT("handshake_ms", handshake, NO_HANDSHAKE, LOWER,                                   \
	    METRIC_STAT_P50 | METRIC_STAT_P90 | METRIC_STAT_P99,                              \
	    "DTLS/TLS: the client's first ClientHello to its handshake done (TLS: after "     \
	    "TCP's)")                                                                         \
	COUNT("handshake_bytes", handshake_bytes, NO_SECURITY, NEUTRAL, NO,                   \
	      "DTLS/TLS: bytes of the handshake's records both ways (DTLS: flights sent "     \
	      "again included; TLS: each once, TCP resends them); the headers under them "    \
	      "are in bytes_sent")                                                            \
	COUNT("security_overhead_bytes", security_overhead_bytes, NO_SECURITY, NEUTRAL, NO,   \
	      "DTLS/TLS: record headers, explicit nonces and tags of application data (29 "   \
	      "bytes a record with AES-128-CCM-8, 21 for TLS)")                               \
	REAL("security_share",                                                                \
	     metric_ratio((double)(m->handshake_bytes + m->security_overhead_bytes),          \
			  (double)m->bytes_sent),                                             \
	     NO_SECURITY_OR_SHARED_CHANNEL, "ratio of the totals", LOWER, NO,                 \
	     "(handshake_bytes + security_overhead_bytes) / bytes_sent")                      \
	CHAN("queue_drops", queue_drops, SHARED_CHANNEL, LOWER, NO,                           \
	     "datagrams dropped by a full queue")                                             \
	CHAN("duplicates", duplicates, SHARED_CHANNEL, NEUTRAL, NO,                           \
	     "extra copies the channel delivered")                                            \
	CHAN("events", events, SHARED_CHANNEL, NEUTRAL, NO, "simulator events executed")      \
	CHAN("port_unreachable", port_unreachable, NO_LAG, LOWER, NO,                         \
	     "live runs: ICMP port unreachable from the target (nothing listened)")          \
	LAT("generator_lag_ms", generator_lag, NO_LAG, LOWER, 0,                              \
	    "live runs: how late the generator's timers fired; latencies count from the "    \
	    "intended send time, so lag shows in them too")                                  \
	REAL("wall_s", m->wall_s, SHARED_CHANNEL, "whole run", NEUTRAL, NO,                  \
	     "wall-clock time of the run, s")                                                 \
	REAL("events_per_s", metric_ratio((double)m->events, m->wall_s), NO_WALL_TIME,       \
	     "whole run", NEUTRAL, NO, "events / wall_s: simulator speed")

/* State of a group kept beside its metrics: FLAG(field, doc) is ORed over
 * groups, TALLY(field, doc) summed; neither is written itself. */
#define RUN_METRICS_STATE(FLAG, TALLY)                                                        \
	FLAG(confirmable, "some messages expect confirmation: completed applies")             \
	FLAG(observe, "some group observes: the notification counts apply")                   \
	FLAG(multicast, "some group is a multicast group")                                    \
	FLAG(mqtt, "some group speaks MQTT")                                                  \
	FLAG(remote, "the server is a real one (backend = live)")                             \
	FLAG(secure, "some group runs over DTLS or TLS")                                      \
	TALLY(mc_expected, "multicast requests x members")

/* When a metric is null: X(id, condition on m and channel_known, doc).
 * channel_known is false for a group of a run with several groups: the
 * channel and the engine are shared, so only the run has those counts. */
#define METRIC_NULLS(X)                                                                       \
	X(NEVER, false, "never")                                                              \
	X(UNCONFIRMED, !m->confirmable,                                                       \
	  "no message expects confirmation (CoAP NON, MQTT QoS 0)")                           \
	X(NO_MESSAGES, !m->messages, "no messages")                                           \
	X(UNKNOWN_DELIVERY, m->remote && !m->confirmable,                                     \
	  "a real server and no message expects confirmation: arrivals are not ours to see")  \
	X(NO_MESSAGES_OR_UNKNOWN_DELIVERY, !m->messages || (m->remote && !m->confirmable),    \
	  "no messages; a real server and no message expects confirmation")                   \
	X(REMOTE, m->remote, "a real server (backend = live): its memory is not ours to see") \
	X(NO_MESSAGES_OR_UNCONFIRMED, !m->messages || !m->confirmable,                        \
	  "no messages, or none expects confirmation")                                        \
	X(NO_COMPLETED, !m->latency.count, "no message completed")                            \
	X(NO_DELIVERED, !m->delivery_latency.count, "no message delivered")                   \
	X(SHARED_CHANNEL, !channel_known, "a group of a run with several")                    \
	X(SHARED_CHANNEL_OR_NONE_DELIVERED, !channel_known || !m->delivered,                  \
	  "a group of a run with several; no message delivered")                              \
	X(NO_ENERGY, !m->energy.valid, "no endpoints")                                        \
	X(NO_ENERGY_OR_NONE_DELIVERED, !m->energy.valid || !m->delivered,                     \
	  "no endpoints; no message delivered")                                               \
	X(NO_LIFETIME, !m->energy.valid || m->energy.lifetime_days <= 0,                      \
	  "no endpoints; no energy spent from `warmup` to `duration`")                        \
	X(NO_OBSERVE, !m->observe, "no group observes")                                       \
	X(NO_OBSERVE_OR_REMOTE, !m->observe || m->remote,                                     \
	  "no group observes; a real server (its sends are not ours to see)")                 \
	X(NO_MULTICAST, !m->multicast, "no multicast group")                                  \
	X(NO_MULTICAST_REQUESTS, !m->multicast || !m->mc_expected,                            \
	  "no multicast group; no multicast request")                                         \
	X(NO_MQTT, !m->mqtt, "no group speaks MQTT")                                          \
	X(NO_SECURITY, !m->secure, "no group runs over DTLS or TLS")                          \
	X(NO_HANDSHAKE, !m->handshake.count, "no handshake completed")                        \
	X(NO_SECURITY_OR_SHARED_CHANNEL, !m->secure || !channel_known,                        \
	  "no group runs over DTLS or TLS; a group of a run with several")                    \
	X(NO_LAG, !m->generator_lag.count, "not a live run (no real-time generator)")        \
	X(NO_WALL_TIME, !channel_known || m->wall_s <= 0,                                     \
	  "a group of a run with several; no wall time measured")

/* The values of a LAT row, in output order: X(id, member of struct
 * lat_summary, arg), arg passed through. */
#define METRIC_LAT_STATS(X, arg)                                                              \
	X(P50, p50, arg) X(P90, p90, arg) X(P99, p99, arg) X(P999, p999, arg)                 \
	X(MEAN, mean, arg) X(MAX, max, arg)

#endif
