/* Plots and report.html: every plot is a real PNG/SVG, and the report is
 * self-contained (it references no file, only embedded images). */
#include <criterion/criterion.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "helpers.h"

#define bin test_bin

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	cr_assert_not_null(f, "%s", path);
	fseek(f, 0, SEEK_END);
	long n = ftell(f);
	rewind(f);
	char *b = malloc((size_t)n + 1);
	cr_assert_eq(fread(b, 1, (size_t)n, f), (size_t)n);
	b[n] = 0;
	fclose(f);
	*len = (size_t)n;
	return b;
}

Test(report, plots_are_valid_and_report_is_self_contained, .timeout = 120)
{
	char dir[] = "/tmp/coapsim-report-XXXXXX", cmd[8192], path[512];
	cr_assert_not_null(mkdtemp(dir));
	snprintf(cmd, sizeof(cmd),
		 "%s run scenarios/quickstart.ini --quiet --no-pcap --out %s "
		 "--set 'link.loss=${0%%, 20%%}' --replications 2 "
		 "--set group.sensors.count=200", bin(), dir);
	cr_assert_eq(system(cmd), 0);

	static const char *const names[] = {
		"delivery_ratio", "retransmissions", "latency", "latency_cdf",
		"energy_per_message", "bytes_per_message", "energy_histogram", "timeseries"};
	size_t len, n_png = 0;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		snprintf(path, sizeof(path), "%s/plots/%s.png", dir, names[i]);
		char *b = slurp(path, &len);
		/* PNG signature (RFC 2083 §3.1) and an IHDR chunk first */
		cr_assert(len > 100 && !memcmp(b, "\x89PNG\r\n\x1a\n", 8) &&
			  !memcmp(b + 12, "IHDR", 4), "%s is not a PNG", path);
		free(b);
		n_png++;
		snprintf(path, sizeof(path), "%s/plots/%s.svg", dir, names[i]);
		b = slurp(path, &len);
		cr_assert_not_null(strstr(b, "<svg"), "%s is not SVG", path);
		cr_assert_not_null(strstr(b, "</svg>"), "%s is cut short", path);
		free(b);
	}
	snprintf(path, sizeof(path), "%s/report.html", dir);
	char *html = slurp(path, &len);
	size_t imgs = 0;
	for (char *p = html; (p = strstr(p, "src=\"")); p += 5) {
		cr_assert(!strncmp(p + 5, "data:image/png;base64,", 22),
			  "the report references an outside file: %.60s", p);
		imgs++;
	}
	cr_assert_eq(imgs, n_png, "every plot is in the report");
	cr_assert_eq(strstr(html, "href=\""), NULL, "no links out");
	cr_assert_not_null(strstr(html, "link.loss=20%"), "the summary table");
	cr_assert_not_null(strstr(html, "[group.sensors]"), "the scenario text");
	cr_assert_not_null(strstr(html, "--replications 2"), "the command line");
	free(html);

	/* coapsim plot draws it all again. */
	snprintf(cmd, sizeof(cmd), "rm %s/report.html %s/plots/*.png && %s plot %s >/dev/null",
		 dir, dir, bin(), dir);
	cr_assert_eq(system(cmd), 0);
	snprintf(path, sizeof(path), "%s/plots/latency_cdf.png", dir);
	free(slurp(path, &len));
	snprintf(path, sizeof(path), "%s/report.html", dir);
	free(slurp(path, &len));
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	cr_assert_eq(system(cmd), 0);
}

Test(report, claims_section_measures_the_table, .timeout = 120)
{
	char dir[] = "/tmp/coapsim-claims-XXXXXX", cmd[8192], path[512];
	size_t len;
	cr_assert_not_null(mkdtemp(dir));
	snprintf(cmd, sizeof(cmd), "%s run scenarios/seed-claims.ini --quiet --out %s "
		 "--replications 1 --set group.sensors.count=100", bin(), dir);
	cr_assert_eq(system(cmd), 0);
	snprintf(path, sizeof(path), "%s/report.html", dir);
	char *html = slurp(path, &len);
	cr_assert_not_null(strstr(html, "Claims, measured"));
	static const char *const rows[] = {">Reliability<", ">Power usage<", ">Latency<",
					   ">Scalability<", ">Multicast<"};
	for (int i = 0; i < 5; i++)
		cr_assert_not_null(strstr(html, rows[i]), "%s", rows[i]);
	/* the numbers behind each verdict: both loss rates appear */
	cr_assert_not_null(strstr(html, "1%: delivered CoAP"));
	cr_assert_not_null(strstr(html, "25%: delivered CoAP"));
	free(html);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	cr_assert_eq(system(cmd), 0);
}
