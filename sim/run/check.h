/* coapsim check: run scenarios and judge their [expect] sections, like a
 * test suite.  One test case per expectation per sweep point, printed as
 * PASS/FAIL lines (or TAP), optionally as JUnit XML, and optionally
 * compared with an earlier summary.json (--baseline). */
#ifndef COAPSIM_CHECK_H
#define COAPSIM_CHECK_H

#include <stdbool.h>

#include "../scenario/scenario.h"
#include "runner.h"

struct check_opts {
	const char *junit;    /* JUnit XML file, or NULL */
	bool tap;             /* TAP on stdout instead of PASS/FAIL lines */
	const char *baseline; /* earlier summary.json, or NULL */
};

struct check_suite;

/* Returns a new suite, or NULL when out of memory. */
struct check_suite *check_suite_new(const struct check_opts *o);
void check_suite_del(struct check_suite *s);

/* Validate the expectations of a loaded scenario (metric names, groups):
 * COAPSIM_EXIT_OK, or COAPSIM_EXIT_USAGE with a FILE:LINE message on stderr. */
int check_validate(const struct scenario_src *src);

/* Run one scenario and record its test cases.  Returns COAPSIM_EXIT_OK (whatever
 * the verdicts), COAPSIM_EXIT_USAGE or COAPSIM_EXIT_RUN. */
int check_scenario(struct check_suite *s, const struct scenario_src *src,
		   const struct runner_opts *ro);

/* Print the totals, write JUnit / TAP plan.  Returns COAPSIM_EXIT_OK when every
 * case passed, COAPSIM_EXIT_EXPECT when one failed, COAPSIM_EXIT_RUN when the JUnit file
 * cannot be written. */
int check_finish(struct check_suite *s);

/* Welch's t statistic and its degrees of freedom for two samples; returns
 * false when either sample has fewer than 2 values or both variances are 0. */
bool welch_t(const double *a, size_t na, const double *b, size_t nb, double *t,
	     double *df);

#endif
