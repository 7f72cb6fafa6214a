/* Shared by the tests that run the coapsim binary. */
#ifndef COAPSIM_TEST_HELPERS_H
#define COAPSIM_TEST_HELPERS_H

#include <criterion/criterion.h>
#include <limits.h>
#include <stdlib.h>

/* The binary under test, as an absolute path ($COAPSIM or build/coapsim):
 * commands may run inside a temporary folder. */
static inline const char *test_bin(void)
{
	static char path[PATH_MAX];
	const char *b = getenv("COAPSIM");
	if (!realpath(b ? b : "build/coapsim", path))
		cr_assert_fail("coapsim binary not found");
	return path;
}

#endif
