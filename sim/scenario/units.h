/* Scenario value parsers shared inside sim/scenario (not a public API).
 *
 * Numbers are parsed strictly: decimal only (no hex, inf or nan), the whole
 * text must be consumed, overflow and underflow are errors.  Every parser
 * returns 0 or SIM_ERR_INVAL and leaves *out alone on error. */
#ifndef COAPSIM_SCENARIO_UNITS_H
#define COAPSIM_SCENARIO_UNITS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "scenario.h"

#define SCN_TIME_MAX 1e18 /* ns, about 31.7 years: sums of two stay < 2^63 */
#define SCN_RATE_MAX 1e15 /* bps */
#define SCN_SIZE_MAX 1e15 /* bytes */

struct scenario_unit {
	const char *suffix;
	double factor;
};

/* A family of units.  `units` ends with a NULL suffix. */
struct scenario_unitset {
	const struct scenario_unit *units;
	double bare;	  /* factor of a number without a unit */
	const char *what; /* "time", for messages */
	const char *help; /* "ns us ms s min h", or NULL when unitless */
};

extern const struct scenario_unitset scenario_time_units, scenario_rate_units, scenario_size_units,
    scenario_volt_units, scenario_current_units, scenario_charge_units, scenario_byterate_units,
    scenario_plain_units;

/* A number at the start of s; *end points past it. */
int scenario_number(const char *s, double *out, const char **end);
/* A number with an optional unit of us, in the unit set's base. */
int scenario_scaled(const char *s, const struct scenario_unitset *us, double *out);
int scenario_parse_int(const char *s, long long *out); /* [+-]digits */
int scenario_parse_u64(const char *s, uint64_t *out);  /* digits */
int scenario_parse_bool(const char *s, bool *out);

/* Like the public parsers, with a reason in why on error. */
int scenario_dist(const char *s, struct dist *out, char *why, size_t whylen);
int scenario_loss(const char *s, struct loss_cfg *out, char *why, size_t whylen);
int scenario_traffic(const char *s, enum traffic_kind *kind, sim_time *interval, char *why,
		size_t whylen);

/* Levenshtein distance (SIZE_MAX for words over 64 bytes), and the closest
 * of cands[0..n) when close enough to suggest, else NULL. */
size_t scenario_distance(const char *a, const char *b);
const char *scenario_suggest(const char *word, const char *const *cands, size_t n);

#endif
