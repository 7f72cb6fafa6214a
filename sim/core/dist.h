/* A distribution of values (times in ns, for the time-valued keys): what
 * a scenario says and what a random stream draws from.  Shared by the
 * scenario parser and the cores; knows nothing of either. */
#ifndef COAPSIM_DIST_H
#define COAPSIM_DIST_H

/* A distribution.  For time-valued keys a and b are nanoseconds. */
enum dist_kind {
	SIM_DIST_NONE,    /* always 0 ("none") */
	SIM_DIST_CONST,   /* a ("const(x)" or a bare value "x") */
	SIM_DIST_UNIFORM, /* uniform(a, b), a <= b */
	SIM_DIST_NORMAL,  /* normal(mean a, sd b), b >= 0; draws clamped at 0 */
	SIM_DIST_EXP,     /* exp(mean a), a > 0 */
	SIM_DIST_PARETO,  /* pareto(shape a, scale b), a > 0, b > 0: scale * U^(-1/shape) */
};
struct dist {
	enum dist_kind kind;
	double a, b;
};

#endif
