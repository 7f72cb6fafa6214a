/* Shared by the tests that run the coapsim binary. */
#ifndef COAPSIM_TEST_HELPERS_H
#define COAPSIM_TEST_HELPERS_H

#include <criterion/criterion.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>

/* The binary under test, as an absolute path ($COAPSIM or build/coapsim):
 * commands may run inside a temporary folder. */
static inline const char *test_bin_path(void)
{
	static char path[PATH_MAX];
	const char *b = getenv("COAPSIM");
	if (!realpath(b ? b : "build/coapsim", path))
		cr_assert_fail("coapsim binary not found");
	return path;
}

/* The command that runs it: under timeout(1), so that a run a test
 * started never outlives it (Criterion kills a test that times out, not
 * the processes it started): TERM after 10 minutes, KILL 5 s later. */
static inline const char *test_bin(void)
{
	static char cmd[PATH_MAX + 32];
	snprintf(cmd, sizeof(cmd), "timeout -k 5 600 %s", test_bin_path());
	return cmd;
}

#endif
