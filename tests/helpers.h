/* Shared by the tests that run the coapsim binary. */
#ifndef COAPSIM_TEST_HELPERS_H
#define COAPSIM_TEST_HELPERS_H

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <jansson.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

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

/* A loopback UDP port nothing listens on now (the kernel's pick for
 * port 0), for a server a test starts. */
static inline int test_free_udp_port(void)
{
	int fd = socket(AF_INET, SOCK_DGRAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(a);
	cr_assert(fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
		  getsockname(fd, (struct sockaddr *)&a, &len) == 0);
	close(fd);
	return ntohs(a.sin_port);
}

/* Drop what depends on the machine or the invocation, everywhere in a
 * summary: wall time, events per second, the command line. */
static inline void test_strip_timing(json_t *j)
{
	if (json_is_object(j)) {
		json_object_del(j, "wall_s");
		json_object_del(j, "events_per_s");
		json_object_del(j, "command");
		const char *k;
		json_t *v;
		json_object_foreach(j, k, v)
			test_strip_timing(v);
	} else if (json_is_array(j)) {
		size_t i;
		json_t *v;
		json_array_foreach(j, i, v)
			test_strip_timing(v);
	}
}

/* The first line a shell command prints, as a number (a count from
 * wc -l, say); a command that prints nothing fails the test. */
static inline long __attribute__((format(printf, 1, 2))) test_sh_num(const char *fmt, ...)
{
	char cmd[4096], out[64] = "";
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	FILE *p = popen(cmd, "r");
	cr_assert_not_null(p);
	cr_assert_not_null(fgets(out, sizeof(out), p), "no output from: %s", cmd);
	pclose(p);
	return strtol(out, NULL, 10);
}

/* Lines tshark prints for `file` read with its options `opts` (e.g.
 * "-o dtls.psk:HEX", or "") and display filter `filter`. */
static inline long test_tshark_count(const char *file, const char *opts, const char *filter)
{
	return test_sh_num("tshark -r '%s' %s -Y '%s' 2>/dev/null | wc -l", file, opts, filter);
}

#endif
