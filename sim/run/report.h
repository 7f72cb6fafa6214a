/* Plots and report.html of a results folder.
 *
 * The runner leaves DIR/summary.json and the CSV files in DIR/data;
 * report_build() draws PNG and SVG plots into DIR/plots with the gnuplot scripts in analysis/ and
 * writes DIR/report.html: one self-contained page (plots embedded as data
 * URIs) with the summary table, the scenario text, the coapsim version and
 * the command line.  `coapsim plot DIR` calls it again. */
#ifndef COAPSIM_REPORT_H
#define COAPSIM_REPORT_H

#include <stddef.h>

/* Returns 0, SIM_ERR_IO (with a one-line reason in err) when DIR has no
 * usable summary.json or report.html cannot be written.  Missing gnuplot is
 * not an error: the report says the plots could not be drawn. */
int report_build(const char *dir, char *err, size_t errlen);

/* The plots' axes (--x KEY, --by KEY[,KEY...]; NULL: the defaults, the
 * numeric swept key with the most values along x and the others making
 * the lines).  Kept for report_build, which records them in
 * DIR/data/plot-axes.json so a later `coapsim plot DIR` keeps them. */
void report_set_axes(const char *x, const char *by);

/* Are they swept keys (keys[0..n))?  0, or SIM_ERR_INVAL with the
 * reason in err. */
int report_check_axes(const char *const *keys, size_t n, char *err, size_t errlen);

#endif
