/* coapsim command line: run, validate, --help, --version. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../core/version.h"
#include "../run/runner.h"
#include "../scenario/scenario.h"

static const char usage_main[] =
	"usage: coapsim COMMAND [options]\n"
	"\n"
	"A discrete-event simulator and load-testing harness for CoAP fleets\n"
	"on lossy, high-latency networks.\n"
	"\n"
	"commands:\n"
	"  run SCENARIO [options]   run every point of the scenario's sweep, each\n"
	"                           `replications` times; print a summary table and\n"
	"                           write summary.json, runs.csv and captures\n"
	"  validate SCENARIO        parse only: print the run matrix or the errors\n"
	"\n"
	"  coapsim COMMAND --help   options of a command\n"
	"  coapsim --version        version\n"
	"\n"
	"exit status: 0 success, 2 bad usage or invalid scenario, 3 a run could\n"
	"not complete (I/O error, out of memory, backend missing)\n";

static const char usage_run[] =
	"usage: coapsim run SCENARIO [options]\n"
	"\n"
	"  --set KEY=VALUE      override one scenario key (repeatable), e.g.\n"
	"                       link.loss=20%  group.sensors.count=5000\n"
	"                       coap.max_retransmit=6  link.loss=${0%..30% step 10%}\n"
	"  --seed N             base seed (overrides scenario.seed)\n"
	"  --replications N     overrides scenario.replications\n"
	"  --jobs N             runs executed in parallel (default: number of cores);\n"
	"                       results do not depend on N\n"
	"  --out DIR            results go to DIR, captures to DIR/pcap\n"
	"  --no-pcap            no captures\n"
	"  --backend native|ns3 overrides scenario.backend\n"
	"  --quiet              no progress bar, no table\n";

static const char usage_validate[] =
	"usage: coapsim validate SCENARIO [--set KEY=VALUE]...\n"
	"\n"
	"Parse the scenario and print one line per point of the run matrix,\n"
	"or the first error as FILE:LINE: message (exit 2).\n";

static int bad_usage(const char *cmd, const char *fmt, const char *arg)
{
	fprintf(stderr, "coapsim%s%s: ", cmd ? " " : "", cmd ? cmd : "");
	fprintf(stderr, fmt, arg);
	fprintf(stderr, " (see 'coapsim %s--help')\n", cmd ? "run " : "");
	return EXIT_USAGE;
}

static int parse_u64(const char *s, uint64_t *out)
{
	char *end;
	if (!s || !*s || *s == '-')
		return -1;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || *end)
		return -1;
	*out = v;
	return 0;
}

struct cli {
	const char *scenario;
	const char **sets;
	size_t n_sets;
	const char *backend;
	struct runner_opts ro;
};

/* Options shared by run and validate; validate rejects the run-only ones. */
static int parse_opts(const char *cmd, int argc, char **argv, struct cli *c,
		      bool run_opts)
{
	uint64_t v;

	c->sets = calloc((size_t)argc, sizeof(*c->sets));
	if (!c->sets)
		return EXIT_RUN;
	for (int i = 0; i < argc; i++) {
		const char *a = argv[i];
		const char *val = i + 1 < argc ? argv[i + 1] : NULL;
		bool takes = true;

		if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
			fputs(run_opts ? usage_run : usage_validate, stdout);
			exit(EXIT_OK);
		} else if (!strcmp(a, "--set")) {
			if (!val)
				return bad_usage(cmd, "%s needs KEY=VALUE", a);
			c->sets[c->n_sets++] = val;
		} else if (run_opts && !strcmp(a, "--seed")) {
			if (parse_u64(val, &c->ro.seed) < 0)
				return bad_usage(cmd, "--seed needs a non-negative integer, not '%s'",
						 val ? val : "");
			c->ro.have_seed = true;
		} else if (run_opts && !strcmp(a, "--replications")) {
			if (parse_u64(val, &v) < 0 || v < 1 || v > 100000)
				return bad_usage(cmd, "--replications needs an integer 1..100000, not '%s'",
						 val ? val : "");
			c->ro.replications = (uint32_t)v;
		} else if (run_opts && !strcmp(a, "--jobs")) {
			if (parse_u64(val, &v) < 0 || v < 1 || v > 1024)
				return bad_usage(cmd, "--jobs needs an integer 1..1024, not '%s'",
						 val ? val : "");
			c->ro.jobs = (unsigned)v;
		} else if (run_opts && !strcmp(a, "--out")) {
			if (!val || !*val)
				return bad_usage(cmd, "%s needs a folder", a);
			c->ro.out_dir = val;
		} else if (run_opts && !strcmp(a, "--backend")) {
			if (!val || (strcmp(val, "native") && strcmp(val, "ns3")))
				return bad_usage(cmd, "--backend is native or ns3, not '%s'",
						 val ? val : "");
			c->backend = val;
		} else if (run_opts && !strcmp(a, "--no-pcap")) {
			c->ro.no_pcap = true;
			takes = false;
		} else if (run_opts && !strcmp(a, "--quiet")) {
			c->ro.quiet = true;
			takes = false;
		} else if (a[0] == '-' && a[1]) {
			return bad_usage(cmd, "unknown option '%s'", a);
		} else {
			if (c->scenario)
				return bad_usage(cmd, "one scenario at a time, '%s' is extra", a);
			c->scenario = a;
			takes = false;
		}
		if (takes)
			i++;
	}
	if (!c->scenario)
		return bad_usage(cmd, "%s", "needs a SCENARIO file");
	return EXIT_OK;
}

static int load(struct cli *c, struct scenario_src **src)
{
	char err[SCN_ERR_LEN];
	char backend_set[64];
	size_t n = c->n_sets;

	if (c->backend) {
		snprintf(backend_set, sizeof(backend_set), "scenario.backend=%s", c->backend);
		c->sets[n++] = backend_set;
	}
	int rc = scenario_load(src, c->scenario, c->sets, n, err, sizeof(err));
	if (rc < 0) {
		fprintf(stderr, "%s\n", err);
		return EXIT_USAGE;
	}
	return EXIT_OK;
}

static int cmd_validate(int argc, char **argv)
{
	struct cli c = {0};
	struct scenario_src *src;
	int rc = parse_opts("validate", argc, argv, &c, false);

	if (rc == EXIT_OK)
		rc = load(&c, &src);
	if (rc == EXIT_OK) {
		struct scenario_cfg cfg;
		char err[SCN_ERR_LEN];
		size_t np = scenario_n_params(src), pts = scenario_n_points(src);
		if (scenario_point_cfg(src, 0, &cfg, err, sizeof(err)) == 0) {
			uint64_t eps = 0;
			for (size_t g = 0; g < cfg.n_groups; g++)
				eps += cfg.groups[g].count;
			printf("%s: %zu point%s x %u replication%s, %" PRIu64
			       " endpoints, %.0f s simulated\n",
			       cfg.name, pts, pts == 1 ? "" : "s", cfg.replications,
			       cfg.replications == 1 ? "" : "s", eps,
			       sim_time_to_s(cfg.duration));
			scenario_cfg_free(&cfg);
		}
		for (size_t p = 0; p < pts; p++) {
			printf("p%zu", p);
			for (size_t i = 0; i < np; i++)
				printf(" %s=%s", scenario_param_key(src, i),
				       scenario_param_value(src, p, i));
			putchar('\n');
		}
		scenario_src_del(src);
	}
	free(c.sets);
	return rc;
}

static int cmd_run(int argc, char **argv, const char *cmdline)
{
	struct cli c = {0};
	struct scenario_src *src;
	int rc = parse_opts("run", argc, argv, &c, true);

	if (rc == EXIT_OK)
		rc = load(&c, &src);
	if (rc == EXIT_OK) {
		if (!c.ro.jobs) {
			long n = sysconf(_SC_NPROCESSORS_ONLN);
			c.ro.jobs = n > 0 ? (unsigned)n : 1;
		}
		c.ro.command_line = cmdline;
		rc = runner_run(src, &c.ro);
		scenario_src_del(src);
	}
	free(c.sets);
	return rc;
}

int main(int argc, char **argv)
{
	char cmdline[4096];
	size_t len = 0;

	cmdline[0] = 0;
	for (int i = 0; i < argc && len < sizeof(cmdline) - 1; i++)
		len += (size_t)snprintf(cmdline + len, sizeof(cmdline) - len, "%s%s",
					i ? " " : "", i ? argv[i] : "coapsim");
	if (argc < 2) {
		fputs(usage_main, stderr);
		return EXIT_USAGE;
	}
	const char *cmd = argv[1];
	if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h") || !strcmp(cmd, "help")) {
		fputs(usage_main, stdout);
		return EXIT_OK;
	}
	if (!strcmp(cmd, "--version")) {
		printf("coapsim %s\n", COAPSIM_VERSION);
		return EXIT_OK;
	}
	if (!strcmp(cmd, "run"))
		return cmd_run(argc - 2, argv + 2, cmdline);
	if (!strcmp(cmd, "validate"))
		return cmd_validate(argc - 2, argv + 2);
	fprintf(stderr, "coapsim: unknown command '%s' (see 'coapsim --help')\n", cmd);
	return EXIT_USAGE;
}
