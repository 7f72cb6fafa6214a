/* Philox streams (Random123), the distributions drawn from them, and the
 * registry check of streams taken (SIM_CHECKS).  Knows nothing of owners. */
#include "rng.h"

#include "../core/sim.h"

#include <math.h>
#include <stdbool.h>
#include <stdlib.h>

#include <Random123/philox.h>

void sim_rng_view(struct sim_rng *r, uint64_t seed, uint64_t owner,
		  enum sim_rng_kind kind)
{
	r->seed = seed;
	r->id = (owner << 8) | (uint64_t)kind;
	r->ctr = 0;
	r->spare = 0;
}

const char *sim_rng_kind_name(enum sim_rng_kind kind)
{
	switch (kind) {
#define SIM_RNG_KIND_NAME(id, v, name, what) \
	case id:                              \
		return name;
		SIM_RNG_KINDS(SIM_RNG_KIND_NAME)
#undef SIM_RNG_KIND_NAME
	}
	return "?";
}

#ifdef SIM_CHECKS
/* This thread's streams taken since sim_rng_claims_begin(): an open-
 * addressing set of stream ids (never 0: kinds start at 1). */
static _Thread_local struct {
	uint64_t *v;
	size_t cap, n;
} claims;

static bool claim(uint64_t id)
{
	if (2 * (claims.n + 1) > claims.cap) {
		size_t cap = claims.cap ? 2 * claims.cap : 1024;
		uint64_t *v = calloc(cap, sizeof(*v));
		if (!v)
			return true; /* out of memory: no check, no harm */
		for (size_t i = 0; i < claims.cap; i++)
			if (claims.v[i])
				for (size_t j = claims.v[i] * 0x9e3779b97f4a7c15ull % cap;;
				     j = (j + 1) % cap)
					if (!v[j]) {
						v[j] = claims.v[i];
						break;
					}
		free(claims.v);
		claims.v = v;
		claims.cap = cap;
	}
	for (size_t j = id * 0x9e3779b97f4a7c15ull % claims.cap;; j = (j + 1) % claims.cap) {
		if (claims.v[j] == id)
			return false;
		if (!claims.v[j]) {
			claims.v[j] = id;
			claims.n++;
			return true;
		}
	}
}

int sim_rng_claims_begin(void)
{
	sim_rng_claims_end();
	claims.cap = 1024;
	claims.v = calloc(claims.cap, sizeof(*claims.v));
	return claims.v ? 0 : SIM_ERR_NOMEM;
}

void sim_rng_claims_end(void)
{
	free(claims.v);
	claims.v = NULL;
	claims.cap = claims.n = 0;
}
#else
int sim_rng_claims_begin(void)
{
	return 0;
}

void sim_rng_claims_end(void)
{
}
#endif

void sim_rng_init(struct sim_rng *r, uint64_t seed, uint64_t owner,
		  enum sim_rng_kind kind)
{
	sim_rng_view(r, seed, owner, kind);
#ifdef SIM_CHECKS
	if (claims.v)
		SIM_CHECK(claim(r->id), "a random stream (owner, kind) is taken twice");
#endif
}

/* A stream is the words of Philox2x64-10 blocks (counter: block number,
 * owner id; key: seed) in order, both words of each block (a block is
 * costly, so its second word is kept for the next draw). */
uint64_t sim_rng_block(struct sim_rng *r)
{
	uint64_t n = r->ctr++;
	philox2x64_ctr_t c = {{n >> 1, r->id}};
	philox2x64_key_t k = {{r->seed}};
	philox2x64_ctr_t w = philox2x64(c, k);
	r->spare = w.v[1];
	return w.v[0];
}

double sim_rng_exp(struct sim_rng *r, double mean)
{
	/* 1 - u is in (0, 1], so the log is finite. */
	return -mean * log(1.0 - sim_rng_unit(r));
}

double sim_rng_dist_slow(struct sim_rng *r, const struct dist *d)
{
	double v = 0.0;

	switch (d->kind) {
	case SIM_DIST_NONE:
		return 0.0;
	case SIM_DIST_CONST:
		v = d->a;
		break;
	case SIM_DIST_UNIFORM:
		v = d->a + (d->b - d->a) * sim_rng_unit(r);
		break;
	case SIM_DIST_NORMAL: {
		/* Box-Muller on two words. */
		double u1 = 1.0 - sim_rng_unit(r), u2 = sim_rng_unit(r);
		v = d->a + d->b * sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2);
		break;
	}
	case SIM_DIST_EXP:
		v = sim_rng_exp(r, d->a);
		break;
	case SIM_DIST_PARETO:
		v = d->b * pow(1.0 - sim_rng_unit(r), -1.0 / d->a);
		break;
	}
	return v < 0.0 ? 0.0 : v;
}
