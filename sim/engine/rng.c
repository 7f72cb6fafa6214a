#include "rng.h"

#include <math.h>

#include <Random123/philox.h>

void sim_rng_init(struct sim_rng *r, uint64_t seed, uint64_t owner,
		  enum sim_rng_kind kind)
{
	r->seed = seed;
	r->id = (owner << 8) | (uint64_t)kind;
	r->ctr = 0;
	r->spare = 0;
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
