/* coapsim command line: run, check, validate, plot, keys, metrics, --help,
 * --version.
 * Parses arguments and prints; what a key or a run is stays in sim/scenario
 * and sim/run. */
#include <dirent.h>
#include <errno.h>
#include <sys/stat.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../cluster/cluster.h"
#include "../core/version.h"
#include "../run/check.h"
#include "../run/report.h"
#include "../run/runner.h"
#include "../run/link.h"
#include "../run/serve.h"
#include "../scenario/scenario.h"

static const char usage_main[] =
	"usage: coapsim COMMAND [options]\n"
	"\n"
	"A discrete-event simulator and load-testing harness for CoAP fleets\n"
	"on lossy, high-latency networks, with MQTT over TCP as a baseline.\n"
	"\n"
	"commands:\n"
	"  run SCENARIO [options]   run every point of the scenario's sweep, each\n"
	"                           `replications` times; print a summary table and\n"
	"                           write summary.json, runs.csv and captures\n"
	"  check SCENARIO|DIR ...   run scenarios (a DIR means every *.ini in it) and\n"
	"                           judge their [expect] sections; exit 1 if one fails\n"
	"  validate SCENARIO        parse only: print the run matrix or the errors\n"
	"  plot RESULTS_DIR         redraw the plots and report.html of a results folder\n"
	"                           (--x KEY, --by KEY: the plots' axes)\n"
	"  serve SCENARIO [options] a CoAP server on a real socket from coapsim's own\n"
	"                           server core (--listen coap://HOST:PORT, --for T)\n"
	"  link SCENARIO --server CMD --client CMD\n"
	"                           the scenario's link between two real programs\n"
	"                           (namespaces joined by TUN devices; root)\n"
	"  keys [--markdown]        every scenario key: default, values, meaning\n"
	"  metrics [--markdown]     the metrics a run writes, one name a line, or the\n"
	"                           docs' table of them\n"
	"\n"
	"  coapsim COMMAND --help   options of a command\n"
	"  coapsim --version        version\n"
	"\n"
	"exit status: 0 success, 1 an expectation failed (check), 2 bad usage or\n"
	"an invalid scenario, 3 a run could not complete (I/O error, out of\n"
	"memory, backend missing)\n";

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
	"  --backend native|ns3|live\n"
	"                       overrides scenario.backend (live: load the real server\n"
	"                       of live.target through the emulated links)\n"
	"  --allow-remote       a live run may load a target beyond loopback\n"
	"  --quiet              no progress bar, no table\n"
	"  --resume             after a sweep was killed: keep the runs it completed\n"
	"                       (recorded beside the results folder), run the rest\n"
	"  --mpi                spread the runs over an MPI job's ranks (implied when\n"
	"                       started by mpirun or srun); rank 0 writes the results\n"
	"  --max-memory SIZE    refuse a run estimated to need more memory (default:\n"
	"                       what the machine has available), e.g. 8GB\n"
	"  --max-disk SIZE      refuse results estimated to need more disk (default:\n"
	"                       the free space where they go)\n"
	"  --x KEY              the swept key along the plots' x axis (default: the\n"
	"                       numeric one with the most values); KEY in full\n"
	"                       (coap.ack_timeout) or its last part (ack_timeout)\n"
	"  --by KEY[,KEY...]    swept keys whose values make the plots' lines (default:\n"
	"                       every other swept key; any not named join them)\n";

static const char usage_check[] =
	"usage: coapsim check SCENARIO|DIR ... [options]\n"
	"\n"
	"Runs each scenario (a DIR means every *.ini in it, in name order) and\n"
	"prints one PASS/FAIL line per [expect] entry and sweep point.  With\n"
	"replications, `metric = >= X` holds when the lower end of the 95%\n"
	"confidence interval (Student t) is >= X, `<=` uses the upper end, and\n"
	"`==` needs the interval to contain X; a single run is compared as is.\n"
	"\n"
	"  --junit FILE         also write JUnit XML (one testcase per expectation)\n"
	"  --tap                print TAP instead of PASS/FAIL lines\n"
	"  --baseline FILE      compare with an earlier summary.json: a metric fails\n"
	"                       when it got worse, the change is significant (Welch's\n"
	"                       t-test, 95%) and larger than [expect] tolerance (1%)\n"
	"  and every option of `coapsim run` (--set, --seed, --replications, --jobs,\n"
	"  --out DIR: results of each scenario go to DIR/NAME, --no-pcap, --quiet)\n"
	"\n"
	"exit status: 0 all expectations hold, 1 one failed, 2 bad usage or an\n"
	"invalid scenario, 3 a run could not complete\n";

static const char usage_validate[] =
	"usage: coapsim validate SCENARIO [--set KEY=VALUE]... [--jobs N]\n"
	"                        [--max-memory SIZE] [--max-disk SIZE]\n"
	"\n"
	"Parse the scenario (its [expect] as `check` does), print one line per\n"
	"point of the run matrix and the estimate of memory, disk and events that\n"
	"`run` checks before it starts, or the first error as FILE:LINE: message\n"
	"(exit 2), also when the run would not fit.\n";

static const char usage_keys[] =
	"usage: coapsim keys [--markdown]\n"
	"\n"
	"Print every scenario key as section.key = default (values it takes), then\n"
	"what it does; --set takes the same section.key.  --markdown prints the key\n"
	"tables of docs/scenario.md instead, each between a <!-- keys:begin [SECTION] -->\n"
	"and a <!-- keys:end --> line.\n";

static int bad_usage(const char *cmd, const char *fmt, const char *arg)
{
	fprintf(stderr, "coapsim%s%s: ", cmd ? " " : "", cmd ? cmd : "");
	fprintf(stderr, fmt, arg);
	fprintf(stderr, " (see 'coapsim %s--help')\n", cmd ? "run " : "");
	return COAPSIM_EXIT_USAGE;
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
	const char **paths; /* check: every positional argument */
	size_t n_paths;
	struct check_opts co;
	const char **sets;
	size_t n_sets;
	const char *backend;
	const char *plot_x, *plot_by; /* --x, --by */
	struct runner_opts ro;
	bool mpi; /* --mpi: join an MPI job even if no launcher is seen */
};

/* Options shared by run and validate; validate rejects the run-only ones. */
static int parse_opts(const char *cmd, int argc, char **argv, struct cli *c,
		      bool run_opts)
{
	bool is_check = !strcmp(cmd, "check");
	uint64_t v;

	c->sets = calloc((size_t)argc + 1, sizeof(*c->sets));
	c->paths = calloc((size_t)argc + 1, sizeof(*c->paths));
	if (!c->sets || !c->paths)
		return COAPSIM_EXIT_RUN;
	for (int i = 0; i < argc; i++) {
		const char *a = argv[i];
		const char *val = i + 1 < argc ? argv[i + 1] : NULL;
		bool takes = true;

		if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
			fputs(is_check ? usage_check : run_opts ? usage_run : usage_validate,
			      stdout);
			exit(COAPSIM_EXIT_OK);
		} else if (is_check && !strcmp(a, "--junit")) {
			if (!val || !*val)
				return bad_usage(cmd, "%s needs a file", a);
			c->co.junit = val;
		} else if (is_check && !strcmp(a, "--baseline")) {
			if (!val || !*val)
				return bad_usage(cmd, "%s needs a summary.json", a);
			c->co.baseline = val;
		} else if (is_check && !strcmp(a, "--tap")) {
			c->co.tap = true;
			takes = false;
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
		} else if (!strcmp(a, "--max-memory") || !strcmp(a, "--max-disk")) {
			if (!val || scenario_parse_size(val, &v) < 0 || v == 0)
				return bad_usage(cmd, "--max-memory and --max-disk need a size "
						 "(e.g. 8GB), not '%s'", val ? val : "");
			*(a[6] == 'm' ? &c->ro.max_memory : &c->ro.max_disk) = v;
		} else if (!strcmp(a, "--jobs")) {
			if (parse_u64(val, &v) < 0 || v < 1 || v > 1024)
				return bad_usage(cmd, "--jobs needs an integer 1..1024, not '%s'",
						 val ? val : "");
			c->ro.jobs = (unsigned)v;
		} else if (run_opts && !strcmp(a, "--out")) {
			if (!val || !*val)
				return bad_usage(cmd, "%s needs a folder", a);
			c->ro.out_dir = val;
		} else if (run_opts && !strcmp(a, "--backend")) {
			if (!val || (strcmp(val, "native") && strcmp(val, "ns3") &&
				     strcmp(val, "live")))
				return bad_usage(cmd, "--backend is native, ns3 or live, not '%s'",
						 val ? val : "");
			c->backend = val;
		} else if (run_opts && !is_check && (!strcmp(a, "--x") || !strcmp(a, "--by"))) {
			if (!val || !*val)
				return bad_usage(cmd, "%s needs a swept KEY", a);
			*(a[2] == 'x' ? &c->plot_x : &c->plot_by) = val;
		} else if (run_opts && !strcmp(a, "--no-pcap")) {
			c->ro.no_pcap = true;
			takes = false;
		} else if (run_opts && !strcmp(a, "--allow-remote")) {
			c->ro.allow_remote = true;
			takes = false;
		} else if (run_opts && !strcmp(a, "--quiet")) {
			c->ro.quiet = true;
			takes = false;
		} else if (run_opts && !is_check && !strcmp(a, "--resume")) {
			c->ro.resume = true;
			takes = false;
		} else if (run_opts && !is_check && !strcmp(a, "--mpi")) {
			c->mpi = true;
			takes = false;
		} else if (a[0] == '-' && a[1]) {
			return bad_usage(cmd, "unknown option '%s'", a);
		} else {
			if (c->scenario && !is_check)
				return bad_usage(cmd, "one scenario at a time, '%s' is extra", a);
			if (!c->scenario)
				c->scenario = a;
			c->paths[c->n_paths++] = a;
			takes = false;
		}
		if (takes)
			i++;
	}
	if (!c->scenario)
		return bad_usage(cmd, "%s", is_check ? "needs a SCENARIO file or folder"
						      : "needs a SCENARIO file");
	return COAPSIM_EXIT_OK;
}

static int load_path(struct cli *c, const char *path, struct scenario_src **src)
{
	char err[SCN_ERR_LEN];
	char backend_set[64];
	size_t n = c->n_sets;

	if (c->backend) {
		snprintf(backend_set, sizeof(backend_set), "scenario.backend=%s", c->backend);
		c->sets[n++] = backend_set;
	}
	int rc = scenario_load(src, path, c->sets, n, err, sizeof(err));
	if (rc < 0) {
		fprintf(stderr, "%s\n", err);
		return COAPSIM_EXIT_USAGE;
	}
	return COAPSIM_EXIT_OK;
}

static int load(struct cli *c, struct scenario_src **src)
{
	return load_path(c, c->scenario, src);
}

static int cmd_validate(int argc, char **argv)
{
	struct cli c = {0};
	struct scenario_src *src;
	int rc = parse_opts("validate", argc, argv, &c, false);

	if (rc == COAPSIM_EXIT_OK)
		rc = load(&c, &src);
	/* [expect] exactly as check judges it (metric and group names). */
	if (rc == COAPSIM_EXIT_OK && (rc = check_validate(src)) != COAPSIM_EXIT_OK)
		scenario_src_del(src);
	if (rc == COAPSIM_EXIT_OK) {
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
		if (!c.ro.jobs) {
			long nc = sysconf(_SC_NPROCESSORS_ONLN);
			c.ro.jobs = nc > 0 ? (unsigned)nc : 1;
		}
		rc = runner_preflight(src, &c.ro, true, err, sizeof(err));
		if (rc != COAPSIM_EXIT_OK)
			fprintf(stderr, "%s\n", err);
		scenario_src_del(src);
	}
	free(c.sets);
	free(c.paths);
	return rc;
}

/* --x and --by name swept keys: known before the first run. */
static int check_axes(const struct cli *c, const struct scenario_src *src)
{
	size_t n = scenario_n_params(src);
	const char *keys[n + 1];
	char err[1024];

	for (size_t i = 0; i < n; i++)
		keys[i] = scenario_param_key(src, i);
	report_set_axes(c->plot_x, c->plot_by);
	if (report_check_axes(keys, n, err, sizeof(err)) < 0) {
		fprintf(stderr, "coapsim run: %s\n", err);
		return COAPSIM_EXIT_USAGE;
	}
	return COAPSIM_EXIT_OK;
}

static int cmd_run(int argc, char **argv, const char *cmdline)
{
	struct cli c = {0};
	struct scenario_src *src;
	int rc = parse_opts("run", argc, argv, &c, true);

	if (rc == COAPSIM_EXIT_OK)
		rc = load(&c, &src);
	if (rc == COAPSIM_EXIT_OK) {
		if (!c.ro.jobs) {
			long n = sysconf(_SC_NPROCESSORS_ONLN);
			c.ro.jobs = n > 0 ? (unsigned)n : 1;
		}
		c.ro.command_line = cmdline;
		rc = check_axes(&c, src);
		/* Under mpirun or srun (or --mpi) the runs spread over the job's
		 * ranks: rank 0 writes the results, the others only run. */
		bool mpi = rc == COAPSIM_EXIT_OK && (c.mpi || cluster_launched());
		if (mpi) {
			char err[256];
			if (cluster_init(NULL, NULL, err, sizeof(err)) < 0) {
				fprintf(stderr, "coapsim: MPI: %s\n", err);
				rc = COAPSIM_EXIT_RUN;
			} else if (cluster_rank() > 0) {
				c.ro.quiet = true;
			}
		}
		if (rc == COAPSIM_EXIT_OK)
			rc = runner_run(src, &c.ro, NULL, NULL);
		if (mpi)
			cluster_finalize();
		scenario_src_del(src);
	}
	free(c.sets);
	free(c.paths);
	return rc;
}

static int by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The scenario files a check argument names: the file, or a folder's *.ini. */
static int expand_path(const char *p, char ***files, size_t *n, size_t *cap)
{
	struct stat st;
	size_t first = *n;

	if (stat(p, &st) == 0 && S_ISDIR(st.st_mode)) {
		DIR *d = opendir(p);
		struct dirent *e;
		if (!d) {
			fprintf(stderr, "%s: cannot read: %s\n", p, strerror(errno));
			return COAPSIM_EXIT_USAGE;
		}
		while ((e = readdir(d))) {
			size_t len = strlen(e->d_name);
			if (len < 5 || strcmp(e->d_name + len - 4, ".ini"))
				continue;
			if (*n == *cap) {
				*cap = *cap ? 2 * *cap : 16;
				char **nf = realloc(*files, *cap * sizeof(*nf));
				if (!nf) {
					closedir(d);
					return COAPSIM_EXIT_RUN;
				}
				*files = nf;
			}
			if (asprintf(&(*files)[*n], "%s/%s", p, e->d_name) < 0) {
				closedir(d);
				return COAPSIM_EXIT_RUN;
			}
			(*n)++;
		}
		closedir(d);
		qsort(*files + first, *n - first, sizeof(**files), by_name);
		if (*n == first) {
			fprintf(stderr, "%s: no *.ini scenario in this folder\n", p);
			return COAPSIM_EXIT_USAGE;
		}
		return COAPSIM_EXIT_OK;
	}
	if (*n == *cap) {
		*cap = *cap ? 2 * *cap : 16;
		char **nf = realloc(*files, *cap * sizeof(*nf));
		if (!nf)
			return COAPSIM_EXIT_RUN;
		*files = nf;
	}
	(*files)[*n] = strdup(p);
	if (!(*files)[*n])
		return COAPSIM_EXIT_RUN;
	(*n)++;
	return COAPSIM_EXIT_OK;
}

static int cmd_check(int argc, char **argv, const char *cmdline)
{
	struct cli c = {0};
	char **files = NULL;
	size_t n = 0, cap = 0;
	int rc = parse_opts("check", argc, argv, &c, true);

	for (size_t i = 0; rc == COAPSIM_EXIT_OK && i < c.n_paths; i++)
		rc = expand_path(c.paths[i], &files, &n, &cap);
	/* Every scenario must be valid before the first one runs. */
	struct scenario_src **srcs = rc == COAPSIM_EXIT_OK ? calloc(n + 1, sizeof(*srcs)) : NULL;
	if (rc == COAPSIM_EXIT_OK && !srcs)
		rc = COAPSIM_EXIT_RUN;
	for (size_t i = 0; rc == COAPSIM_EXIT_OK && i < n; i++) {
		rc = load_path(&c, files[i], &srcs[i]);
		if (rc == COAPSIM_EXIT_OK)
			rc = check_validate(srcs[i]);
	}
	struct check_suite *suite = rc == COAPSIM_EXIT_OK ? check_suite_new(&c.co) : NULL;
	if (rc == COAPSIM_EXIT_OK && !suite)
		rc = COAPSIM_EXIT_RUN;
	if (rc == COAPSIM_EXIT_OK) {
		if (!c.ro.jobs) {
			long nc = sysconf(_SC_NPROCESSORS_ONLN);
			c.ro.jobs = nc > 0 ? (unsigned)nc : 1;
		}
		c.ro.command_line = cmdline;
		c.ro.no_table = true;
		const char *out = c.ro.out_dir;
		for (size_t i = 0; rc == COAPSIM_EXIT_OK && i < n; i++) {
			char dir[4096];
			struct scenario_cfg cfg;
			char err[SCN_ERR_LEN];
			if (out) {
				/* --out DIR: one folder per scenario under it. */
				if (scenario_point_cfg(srcs[i], 0, &cfg, err, sizeof(err)) < 0) {
					rc = COAPSIM_EXIT_RUN;
					break;
				}
				snprintf(dir, sizeof(dir), "%s/%s", out, cfg.name);
				scenario_cfg_free(&cfg);
				c.ro.out_dir = dir;
			}
			rc = check_scenario(suite, srcs[i], &c.ro);
		}
		if (rc == COAPSIM_EXIT_OK)
			rc = check_finish(suite);
	}
	check_suite_del(suite);
	for (size_t i = 0; srcs && i < n; i++)
		scenario_src_del(srcs[i]);
	free(srcs);
	for (size_t i = 0; i < n; i++)
		free(files[i]);
	free(files);
	free(c.sets);
	free(c.paths);
	return rc;
}

static const char usage_plot[] =
	"usage: coapsim plot RESULTS_DIR [--x KEY] [--by KEY[,KEY...]]\n"
	"\n"
	"Redraw plots/*.png, plots/*.svg and report.html from RESULTS_DIR/summary.json\n"
	"and RESULTS_DIR/data.  --x and --by choose the plots' axes as for\n"
	"`coapsim run`; the choice is kept (data/plot-axes.json) for later redraws.\n";

static int cmd_plot(int argc, char **argv)
{
	const char *dir = NULL, *x = NULL, *by = NULL;
	char err[1024];

	for (int i = 0; i < argc; i++) {
		const char *a = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
		if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
			fputs(usage_plot, stdout);
			return COAPSIM_EXIT_OK;
		} else if (!strcmp(a, "--x") || !strcmp(a, "--by")) {
			if (!val || !*val) {
				fprintf(stderr, "coapsim plot: %s needs a swept KEY\n", a);
				return COAPSIM_EXIT_USAGE;
			}
			*(a[2] == 'x' ? &x : &by) = val;
			i++;
		} else if (a[0] == '-' || dir) {
			fputs(usage_plot, stderr);
			return COAPSIM_EXIT_USAGE;
		} else {
			dir = a;
		}
	}
	if (!dir) {
		fputs(usage_plot, stderr);
		return COAPSIM_EXIT_USAGE;
	}
	report_set_axes(x, by);
	int rc = report_build(dir, err, sizeof(err));
	if (rc < 0) {
		fprintf(stderr, "coapsim plot: %s\n", err);
		return rc == SIM_ERR_INVAL ? COAPSIM_EXIT_USAGE : COAPSIM_EXIT_RUN;
	}
	printf("report: %s/report.html\n", dir);
	return COAPSIM_EXIT_OK;
}

/* A Markdown table cell: '|' escaped, or with `backticks` dropped as
 * plain text. */
static void put_text(const char *s, bool markdown)
{
	for (; *s; s++) {
		if (markdown && *s == '|')
			fputs("\\|", stdout);
		else if (markdown || *s != '`')
			putchar(*s);
	}
}

static int cmd_keys(int argc, char **argv)
{
	bool markdown = false;
	struct scenario_keyinfo k;
	const char *section = NULL;

	for (int i = 0; i < argc; i++) {
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			fputs(usage_keys, stdout);
			return COAPSIM_EXIT_OK;
		} else if (!strcmp(argv[i], "--markdown")) {
			markdown = true;
		} else {
			fprintf(stderr, "coapsim keys: unknown argument '%s' (see 'coapsim "
				"keys --help')\n", argv[i]);
			return COAPSIM_EXIT_USAGE;
		}
	}
	for (size_t i = 0; scenario_key_info(i, &k); i++) {
		bool first = !section || strcmp(section, k.section);
		if (markdown) {
			if (first && section)
				puts("<!-- keys:end -->");
			if (first)
				printf("<!-- keys:begin [%s] -->\n"
				       "| key | default | values | meaning |\n"
				       "|---|---|---|---|\n", k.section);
			printf("| `%s` | ", k.key);
			if (*k.def)
				printf("`%s` ", k.def);
			fputs("| ", stdout);
			put_text(k.range, true);
			fputs(*k.range ? " | " : "| ", stdout);
			put_text(k.help, true);
			puts(" |");
		} else {
			if (first && section)
				putchar('\n');
			printf("%s.%s", k.section, k.key);
			if (*k.def)
				printf(" = %s", k.def);
			if (*k.range)
				printf("  (%s)", k.range);
			fputs("\n    ", stdout);
			put_text(k.help, false);
			putchar('\n');
		}
		section = k.section;
	}
	if (markdown && section)
		puts("<!-- keys:end -->");
	return COAPSIM_EXIT_OK;
}

/* The scenario of `serve` and `link` (its first point), from the
 * arguments left once their own options are taken out: SCENARIO and
 * --set.  Frees args.  Returns an exit status; on success *src and *cfg
 * are the caller's to free. */
static int load_first_point(const char *cmd, int n, char **args, struct scenario_src **src,
			    struct scenario_cfg *cfg)
{
	struct cli c = {0};
	char err[SCN_ERR_LEN];
	int rc = parse_opts(cmd, n, args, &c, false);
	if (rc == COAPSIM_EXIT_OK)
		rc = load(&c, src);
	free(args);
	free(c.sets);
	free(c.paths);
	if (rc != COAPSIM_EXIT_OK)
		return rc;
	if (scenario_point_cfg(*src, 0, cfg, err, sizeof(err)) < 0) {
		fprintf(stderr, "%s\n", err);
		scenario_src_del(*src);
		return COAPSIM_EXIT_USAGE;
	}
	return COAPSIM_EXIT_OK;
}

static const char usage_serve[] =
	"usage: coapsim serve SCENARIO [--listen coap://HOST:PORT] [--for DURATION]\n"
	"                     [--set KEY=VALUE ...]\n"
	"\n"
	"A CoAP server on a real UDP socket, from coapsim's own server core: one\n"
	"session per peer (deduplication, [server] processing and separate_after,\n"
	"Observe when the first group observes, Block2 for its payload).  The\n"
	"reference target for --backend live.  Default --listen coap://[::1]:5683;\n"
	"runs until SIGINT or SIGTERM, or for DURATION (e.g. 60s).\n";

static int cmd_serve(int argc, char **argv)
{
	char host[128] = "::1", err[SCN_ERR_LEN];
	uint16_t port = 5683;
	sim_time run_for = 0;
	char **rest = calloc((size_t)argc + 1, sizeof(*rest));
	int n = 0;
	if (!rest)
		return COAPSIM_EXIT_RUN;
	for (int i = 0; i < argc; i++) {
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			fputs(usage_serve, stdout);
			free(rest);
			return COAPSIM_EXIT_OK;
		}
		bool listen = !strcmp(argv[i], "--listen"), dur = !strcmp(argv[i], "--for");
		if (!listen && !dur) {
			rest[n++] = argv[i];
			continue;
		}
		const char *v = i + 1 < argc ? argv[++i] : "";
		if ((listen && scenario_parse_coap_uri(v, host, sizeof(host), &port) < 0) ||
		    (dur && (scenario_parse_time(v, &run_for) < 0 || !run_for))) {
			fprintf(stderr, "coapsim serve: bad %s '%s' (%s)\n", argv[i - 1], v,
				listen ? "coap://HOST[:PORT]" : "a duration such as 60s");
			free(rest);
			return COAPSIM_EXIT_USAGE;
		}
	}
	struct scenario_src *src = NULL;
	struct scenario_cfg cfg;
	int rc = load_first_point("serve", n, rest, &src, &cfg);
	if (rc != COAPSIM_EXIT_OK)
		return rc;
	int sr = serve_run(&cfg, host, port, run_for, stderr, err, sizeof(err));
	if (sr < 0)
		fprintf(stderr, "coapsim: %s\n", err);
	scenario_cfg_free(&cfg);
	scenario_src_del(src);
	return sr == SIM_ERR_INVAL ? COAPSIM_EXIT_USAGE : sr < 0 ? COAPSIM_EXIT_RUN : COAPSIM_EXIT_OK;
}

static const char usage_link[] =
	"usage: coapsim link SCENARIO --server CMD --client CMD [--for DURATION]\n"
	"                    [--set KEY=VALUE ...]\n"
	"\n"
	"The scenario's [link] (and [bottleneck]) between two real programs: the\n"
	"server command runs in a network namespace at 10.213.0.2, the client\n"
	"command in another at 10.213.0.1, joined by TUN devices through the\n"
	"same seeded channel model the simulator runs.  Ends when the client\n"
	"exits (its status is link's), or after DURATION.  Needs root.\n";

static int cmd_link(int argc, char **argv)
{
	const char *server = NULL, *client = NULL;
	sim_time run_for = 0;
	char err[SCN_ERR_LEN] = "";
	char **rest = calloc((size_t)argc + 1, sizeof(*rest));
	int n = 0;
	if (!rest)
		return COAPSIM_EXIT_RUN;
	for (int i = 0; i < argc; i++) {
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			fputs(usage_link, stdout);
			free(rest);
			return COAPSIM_EXIT_OK;
		}
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!strcmp(argv[i], "--server") && v) {
			server = v;
			i++;
		} else if (!strcmp(argv[i], "--client") && v) {
			client = v;
			i++;
		} else if (!strcmp(argv[i], "--for") && v) {
			if (scenario_parse_time(v, &run_for) < 0 || !run_for) {
				fprintf(stderr, "coapsim link: bad --for '%s' (a duration)\n", v);
				free(rest);
				return COAPSIM_EXIT_USAGE;
			}
			i++;
		} else {
			rest[n++] = argv[i];
		}
	}
	if (!server || !client) {
		fputs(usage_link, stderr);
		free(rest);
		return COAPSIM_EXIT_USAGE;
	}
	struct scenario_src *src = NULL;
	struct scenario_cfg cfg;
	int rc = load_first_point("link", n, rest, &src, &cfg);
	if (rc != COAPSIM_EXIT_OK)
		return rc;
	struct link_result res;
	int lr = link_run(&cfg.up, &cfg.down, &cfg.bottleneck, cfg.seed, server, client,
			  run_for, &res, err, sizeof(err));
	if (lr < 0)
		fprintf(stderr, "coapsim: %s\n", err);
	else
		fprintf(stderr,
			"coapsim link: %" PRIu64 " packets into the link (%" PRIu64
			" from the client, %" PRIu64 " from the server), %" PRIu64
			" lost; %" PRIu64 " out to the server, %" PRIu64 " to the client\n",
			res.sent, res.from[0], res.from[1], res.lost, res.delivered[0],
			res.delivered[1]);
	scenario_cfg_free(&cfg);
	scenario_src_del(src);
	if (lr < 0)
		return COAPSIM_EXIT_RUN;
	return res.client_status < 0 ? COAPSIM_EXIT_RUN : res.client_status;
}

static const char usage_metrics[] =
	"usage: coapsim metrics [--markdown]\n"
	"\n"
	"The metrics of runs.csv and summary.json, one name a line in their order;\n"
	"--markdown: the table of them in docs/metrics.md (name, type, how a run's total\n"
	"comes from its groups, when it is null, which direction is better, meaning).\n";

static int cmd_metrics(int argc, char **argv)
{
	bool markdown = false;

	for (int i = 0; i < argc; i++) {
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			fputs(usage_metrics, stdout);
			return COAPSIM_EXIT_OK;
		} else if (!strcmp(argv[i], "--markdown")) {
			markdown = true;
		} else {
			fputs(usage_metrics, stderr);
			return COAPSIM_EXIT_USAGE;
		}
	}
	if (markdown) {
		metric_table_markdown(stdout);
	} else {
		struct run_metrics m = {0};
		struct metric_field f[METRIC_FIELDS_MAX];
		size_t n = metric_fields(&m, true, f);
		for (size_t i = 0; i < n; i++)
			puts(f[i].name);
	}
	return fflush(stdout) == 0 && !ferror(stdout) ? COAPSIM_EXIT_OK : COAPSIM_EXIT_RUN;
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
		return COAPSIM_EXIT_USAGE;
	}
	const char *cmd = argv[1];
	if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h") || !strcmp(cmd, "help")) {
		fputs(usage_main, stdout);
		return COAPSIM_EXIT_OK;
	}
	if (!strcmp(cmd, "--version")) {
		printf("coapsim %s\n", COAPSIM_VERSION);
		return COAPSIM_EXIT_OK;
	}
	if (!strcmp(cmd, "run"))
		return cmd_run(argc - 2, argv + 2, cmdline);
	if (!strcmp(cmd, "check"))
		return cmd_check(argc - 2, argv + 2, cmdline);
	if (!strcmp(cmd, "plot"))
		return cmd_plot(argc - 2, argv + 2);
	if (!strcmp(cmd, "validate"))
		return cmd_validate(argc - 2, argv + 2);
	if (!strcmp(cmd, "keys"))
		return cmd_keys(argc - 2, argv + 2);
	if (!strcmp(cmd, "metrics"))
		return cmd_metrics(argc - 2, argv + 2);
	if (!strcmp(cmd, "serve"))
		return cmd_serve(argc - 2, argv + 2);
	if (!strcmp(cmd, "link"))
		return cmd_link(argc - 2, argv + 2);
	fprintf(stderr, "coapsim: unknown command '%s' (see 'coapsim --help')\n", cmd);
	return COAPSIM_EXIT_USAGE;
}
