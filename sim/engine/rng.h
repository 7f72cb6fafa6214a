/* Deterministic, local randomness: Random123 Philox2x64-10, a counter-based
 * generator.  Each stream is keyed by (run seed, stream id) and advanced by
 * its own counter, so an endpoint's draws never depend on how many draws any
 * other endpoint made or in what order events ran. */
#ifndef COAPSIM_RNG_H
#define COAPSIM_RNG_H

#include <stdint.h>

#include "../core/dist.h"

struct sim_rng {
	uint64_t seed;  /* Philox key */
	uint64_t id;    /* second counter word: who owns the stream */
	uint64_t ctr;   /* 64-bit words drawn so far; block ctr / 2 is next */
	uint64_t spare; /* the second word of the latest block, when ctr is odd */
};

/* The registry of stream kinds.  Stream ids: (owner << 8) | kind.  Owner
 * is an endpoint's identity (never its storage slot), or counts down from
 * SIM_RNG_OWNER_SHARED for streams of shared things (a multicast group's
 * requester).  Two users of one (owner, kind) would draw the same numbers:
 * a new user of randomness gets a new kind here. */
#define SIM_RNG_KINDS(X)                                                        \
	X(RNG_APP, 1, "app", "traffic generation: start, intervals")            \
	X(RNG_COAP, 2, "coap", "CoAP client: initial timeout, MID, token")     \
	X(RNG_LINK_UP, 3, "link-up", "endpoint -> server channel")             \
	X(RNG_LINK_DOWN, 4, "link-down", "server -> endpoint channel")         \
	X(RNG_SERVER, 5, "server", "server processing and its retransmissions") \
	X(RNG_TCP, 6, "tcp", "an MQTT endpoint's TCP ends: initial sequence numbers")                 \
	X(RNG_DTLS, 7, "dtls", "a secured endpoint's DTLS peers: the library's random numbers")

enum sim_rng_kind {
#define SIM_RNG_KIND_ENUM(id, v, name, what) id = v,
	SIM_RNG_KINDS(SIM_RNG_KIND_ENUM)
#undef SIM_RNG_KIND_ENUM
};
#define SIM_RNG_OWNER_SHARED 0xffffffffull

/* The kind's name ("app", ...), or "?". */
const char *sim_rng_kind_name(enum sim_rng_kind kind);

/* Take stream (owner, kind) of the run keyed by seed: its owner's own.
 * With SIM_CHECKS, between sim_rng_claims_begin() and _end() on this
 * thread, taking one twice is a failed check. */
void sim_rng_init(struct sim_rng *r, uint64_t seed, uint64_t owner,
		  enum sim_rng_kind kind);

/* The same stream without taking it, for code that re-derives a stream
 * another part owns: the channel rebuilding a link's stream at each draw
 * from its saved counter, placement replaying an endpoint's first draw. */
void sim_rng_view(struct sim_rng *r, uint64_t seed, uint64_t owner,
		  enum sim_rng_kind kind);

/* Bracket a run's setup (SIM_CHECKS: start and drop this thread's record
 * of streams taken; otherwise nothing).  Returns 0 or SIM_ERR_NOMEM. */
int sim_rng_claims_begin(void);
void sim_rng_claims_end(void);

/* The next block, when r->ctr is even: its first word (the second is
 * kept as the spare). */
uint64_t sim_rng_block(struct sim_rng *r);

/* 64 uniformly random bits.  Every other word is the spare of the block
 * before: inline, so half the draws cost a few instructions. */
static inline uint64_t sim_rng_u64(struct sim_rng *r)
{
	if (r->ctr & 1) {
		r->ctr++;
		return r->spare;
	}
	return sim_rng_block(r);
}

/* Uniform in [0, 1) with 53 bits. */
static inline double sim_rng_unit(struct sim_rng *r)
{
	return (double)(sim_rng_u64(r) >> 11) * 0x1.0p-53;
}

/* True with probability p (p <= 0 never, p >= 1 always, without a draw
 * for those two so adding a zero-probability feature changes no draw). */
static inline int sim_rng_bernoulli(struct sim_rng *r, double p)
{
	if (p <= 0.0)
		return 0;
	if (p >= 1.0)
		return 1;
	return sim_rng_unit(r) < p;
}

/* A draw from a distribution (scenario units: ns for time), never
 * negative.  None and uniform (a link's jitter, a server without
 * processing time: every packet) inline, the rest out of line. */
double sim_rng_dist_slow(struct sim_rng *r, const struct dist *d);
static inline double sim_rng_dist(struct sim_rng *r, const struct dist *d)
{
	if (d->kind == SIM_DIST_NONE)
		return 0.0;
	if (d->kind == SIM_DIST_UNIFORM) {
		double v = d->a + (d->b - d->a) * sim_rng_unit(r);
		return v < 0.0 ? 0.0 : v;
	}
	return sim_rng_dist_slow(r, d);
}

/* Exponential with this mean. */
double sim_rng_exp(struct sim_rng *r, double mean);

#endif
