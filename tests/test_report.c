/* Plots and report.html: every plot is a real PNG/SVG, and the report is
 * self-contained (it references no file, only embedded images). */
#include <criterion/criterion.h>
#include <dirent.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
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

static bool exists(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (f)
		fclose(f);
	return f != NULL;
}

/* The text between the first `from` and the next `to` (a fresh string). */
static char *section(const char *text, const char *from, const char *to)
{
	const char *a = strstr(text, from);
	cr_assert_not_null(a, "no '%s'", from);
	const char *b = strstr(a, to);
	cr_assert_not_null(b, "no '%s' after '%s'", to, from);
	return strndup(a, (size_t)(b - a));
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

	/* the sweep figures, PNG and SVG; each point's own, PNG */
	static const char *const names[] = {
		"delivery_ratio", "retransmissions", "latency", "latency_cdf",
		"energy_per_message", "bytes_per_message", "energy_histogram-p0",
		"energy_histogram-p1", "timeseries-p0", "timeseries-p1"};
	size_t len, n_png = 0;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		snprintf(path, sizeof(path), "%s/plots/%s.png", dir, names[i]);
		char *b = slurp(path, &len);
		/* PNG signature (RFC 2083 §3.1) and an IHDR chunk first */
		cr_assert(len > 100 && !memcmp(b, "\x89PNG\r\n\x1a\n", 8) &&
			  !memcmp(b + 12, "IHDR", 4), "%s is not a PNG", path);
		free(b);
		n_png++;
		if (strchr(names[i], '-'))
			continue;
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
	/* the numbers behind each verdict: both loss rates appear, no nan */
	char *claims = section(html, "Claims, measured", "</table>");
	cr_assert_not_null(strstr(claims, "1%: CoAP "));
	cr_assert_not_null(strstr(claims, "25%: CoAP "));
	cr_assert_null(strstr(claims, "nan"));
	free(claims);
	free(html);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	cr_assert_eq(system(cmd), 0);
}

/* Keys and values are drawn as written (gnuplot's enhanced text would turn
 * ack_timeout into ack + subscript t + imeout), axes carry the unit the
 * values use, --x/--by choose the axes and are kept, and every point of a
 * two-key sweep has its own time series and energy histogram. */
Test(report, literal_labels_units_axes_and_every_point, .timeout = 120)
{
	char dir[] = "/tmp/coapsim-axes-XXXXXX", cmd[8192], path[512];
	size_t len;
	cr_assert_not_null(mkdtemp(dir));
	snprintf(cmd, sizeof(cmd),
		 "%s run scenarios/quickstart.ini --quiet --no-pcap --out %s "
		 "--set group.sensors.count=100 --set scenario.duration=2min "
		 "--set 'link.loss=${0%%, 5%%}' --set 'coap.ack_timeout=${1s, 2s}'",
		 bin(), dir);
	cr_assert_eq(system(cmd), 0);
	/* 2 x 2 points: p0..p3, each with its files and figures */
	static const char *const per_point[] = {"data/series-p%d.csv", "data/energy-p%d.csv",
						"plots/timeseries-p%d.png",
						"plots/energy_histogram-p%d.png"};
	for (int p = 0; p < 4; p++)
		for (int i = 0; i < 4; i++) {
			char rel[64];
			snprintf(rel, sizeof(rel), per_point[i], p);
			snprintf(path, sizeof(path), "%s/%s", dir, rel);
			cr_assert(exists(path), "%s is missing", path);
		}

	/* default axes: the numeric key with the most values along x (a tie:
	 * the first, link.loss, in %), the other one making the lines */
	snprintf(path, sizeof(path), "%s/plots/delivery_ratio.svg", dir);
	char *svg = slurp(path, &len);
	cr_assert_not_null(strstr(svg, "<text>link.loss (%)</text>"), "x label with its unit");
	cr_assert_not_null(strstr(svg, "<text>coap.ack_timeout</text>"), "legend title as written");
	cr_assert_not_null(strstr(svg, "<text>1s</text>"), "legend entry as written");
	free(svg);
	snprintf(path, sizeof(path), "%s/data/plot-layout.gp", dir);
	char *layout = slurp(path, &len);
	cr_assert_not_null(strstr(layout, "xlabel = 'link.loss (%)'"));
	free(layout);

	/* --x/--by: ack_timeout along x, in s as its values are written */
	snprintf(cmd, sizeof(cmd), "%s plot %s --x ack_timeout --by link.loss >/dev/null", bin(),
		 dir);
	cr_assert_eq(system(cmd), 0);
	snprintf(path, sizeof(path), "%s/plots/latency.svg", dir);
	svg = slurp(path, &len);
	cr_assert_not_null(strstr(svg, "<text>coap.ack_timeout (s)</text>"));
	cr_assert_not_null(strstr(svg, "<text>link.loss</text>"));
	free(svg);
	/* kept for a later redraw without flags */
	snprintf(cmd, sizeof(cmd), "%s plot %s >/dev/null", bin(), dir);
	cr_assert_eq(system(cmd), 0);
	snprintf(path, sizeof(path), "%s/report.html", dir);
	char *html = slurp(path, &len);
	cr_assert_not_null(strstr(html, "x axis: <code>coap.ack_timeout</code>"));
	free(html);
	/* a key that is not swept is bad usage, and leaves the report alone */
	snprintf(cmd, sizeof(cmd), "%s plot %s --x group.sensors.count 2>/dev/null", bin(), dir);
	int st = system(cmd);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 2);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	cr_assert_eq(system(cmd), 0);
}

/* A text key is drawn as categories, by name. */
Test(report, text_key_is_categories, .timeout = 120)
{
	char dir[] = "/tmp/coapsim-text-XXXXXX", cmd[8192], path[512];
	size_t len;
	cr_assert_not_null(mkdtemp(dir));
	snprintf(cmd, sizeof(cmd),
		 "%s run scenarios/quickstart.ini --quiet --no-pcap --out %s "
		 "--set group.sensors.count=50 --set scenario.duration=1min "
		 "--set 'group.sensors.method=${GET, POST, PUT}'", bin(), dir);
	cr_assert_eq(system(cmd), 0);
	snprintf(path, sizeof(path), "%s/plots/retransmissions.svg", dir);
	char *svg = slurp(path, &len);
	static const char *const want[] = {"<text>GET</text>", "<text>POST</text>",
					   "<text>PUT</text>", "<text>group.sensors.method</text>"};
	for (int i = 0; i < 4; i++)
		cr_assert_not_null(strstr(svg, want[i]), "%s", want[i]);
	free(svg);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	cr_assert_eq(system(cmd), 0);
}

/* Write a results folder by hand: data/report.json with these points. */
static void fake_results(const char *dir, const char *points)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/data", dir);
	cr_assert_eq(mkdir(path, 0777), 0);
	snprintf(path, sizeof(path), "%s/data/report.json", dir);
	FILE *f = fopen(path, "w");
	cr_assert_not_null(f);
	fprintf(f, "{\"scenario\": \"hand\", \"version\": \"t\", \"command\": \"t\", "
		   "\"scenario_text\": \"\", \"points\": [%s]}\n", points);
	fclose(f);
}

#define PT(i, loss, proto, reps, d, dci, e, eci, p50, p50ci, p99, p99ci)                  \
	"{\"point\": " #i ", \"params\": {\"link.loss\": \"" loss "\", "                    \
	"\"group.sensors.protocol\": \"" proto "\"}, \"replications\": " #reps ", "         \
	"\"metrics\": {\"delivery_ratio\": {\"mean\": " #d ", \"ci95\": " #dci "}, "          \
	"\"energy_mj\": {\"per_message\": {\"mean\": " #e ", \"ci95\": " #eci "}}, "          \
	"\"latency_ms\": {\"p50\": {\"mean\": " #p50 ", \"ci95\": " #p50ci "}, "              \
	"\"p99\": {\"mean\": " #p99 ", \"ci95\": " #p99ci "}}}}"

/* Verdicts follow from the numbers shown.  Three replications each, so
 * t(0.975, 2) = 4.303 and se = ci95 / 4.303:
 *   1%: delivery 0.90 +- 0.01 vs 0.95 +- 0.01: se 0.002324 each, Welch
 *       t = 0.05 / sqrt(2) / 0.002324 = 15.2 on df = 4 (> 2.776): MQTT more;
 *   5%: 0.90 +- 0.05 vs 0.91 +- 0.05: se 0.01162, t = 0.01 / 0.01643 = 0.61
 *       (< 2.776): no significant difference;
 *   energy 5.0 +- 0 against 5.0 +- 0 at both: tied;
 *   latency null (NON, QoS 0): does not apply, and no "nan" anywhere. */
Test(report, claims_count_wins_ties_and_insignificant_differences, .timeout = 60)
{
	char dir[] = "/tmp/coapsim-verdict-XXXXXX", cmd[8192], path[512];
	size_t len;
	cr_assert_not_null(mkdtemp(dir));
	fake_results(dir, PT(0, "1%", "coap", 3, 0.90, 0.01, 5.0, 0.0, null, null, null, null) ", "
			  PT(1, "1%", "mqtt", 3, 0.95, 0.01, 5.0, 0.0, null, null, null, null) ", "
			  PT(2, "5%", "coap", 3, 0.90, 0.05, 5.0, 0.0, null, null, null, null) ", "
			  PT(3, "5%", "mqtt", 3, 0.91, 0.05, 5.0, 0.0, null, null, null, null));
	snprintf(cmd, sizeof(cmd), "%s plot %s >/dev/null", bin(), dir);
	cr_assert_eq(system(cmd), 0);
	snprintf(path, sizeof(path), "%s/report.html", dir);
	char *html = slurp(path, &len);
	char *claims = section(html, "Claims, measured", "</table>");
	cr_assert_not_null(strstr(claims, "1%: CoAP 0.90000 &plusmn; 0.01000, MQTT 0.95000 "
					  "&plusmn; 0.01000: MQTT delivered more"));
	cr_assert_not_null(strstr(claims, "5%: CoAP 0.90000 &plusmn; 0.05000, MQTT 0.91000 "
					  "&plusmn; 0.05000: no significant difference"));
	cr_assert_not_null(strstr(claims, "Holds in part: MQTT delivered more in 1 of 2 cases, "
					  "CoAP delivered more in 0, no significant difference in 1."));
	/* the explanation of "Holds" is not given for "Holds in part" */
	cr_assert_null(strstr(claims, "retransmits"));
	cr_assert_not_null(strstr(claims, "No difference measured: CoAP spent less energy in 0 "
					  "of 2 cases, MQTT spent less energy in 0, tied in 2."));
	cr_assert_not_null(strstr(claims, "Does not apply"));
	cr_assert_null(strstr(claims, "nan"));
	cr_assert_null(strstr(claims, "Holds:"));
	free(claims);
	free(html);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	cr_assert_eq(system(cmd), 0);
}

/* With one replication only exactly equal values tie: 0.95 against 0.95
 * is a tie, 0.95 against 0.96 is MQTT ahead (no test, no interval). */
Test(report, claims_one_replication_exact_tie, .timeout = 60)
{
	char dir[] = "/tmp/coapsim-tie-XXXXXX", cmd[8192], path[512];
	size_t len;
	cr_assert_not_null(mkdtemp(dir));
	fake_results(dir, PT(0, "1%", "coap", 1, 0.95, null, 4.0, null, 300, null, 900, null) ", "
			  PT(1, "1%", "mqtt", 1, 0.95, null, 8.0, null, 300, null, 800, null) ", "
			  PT(2, "5%", "coap", 1, 0.95, null, 4.0, null, 310, null, 2000, null) ", "
			  PT(3, "5%", "mqtt", 1, 0.96, null, 8.0, null, 320, null, 1500, null));
	snprintf(cmd, sizeof(cmd), "%s plot %s >/dev/null", bin(), dir);
	cr_assert_eq(system(cmd), 0);
	snprintf(path, sizeof(path), "%s/report.html", dir);
	char *html = slurp(path, &len);
	char *claims = section(html, "Claims, measured", "</table>");
	cr_assert_not_null(strstr(claims, "1%: CoAP 0.95000, MQTT 0.95000: tie"));
	cr_assert_not_null(strstr(claims, "5%: CoAP 0.95000, MQTT 0.96000: MQTT delivered more"));
	cr_assert_not_null(strstr(claims, "Holds in part: MQTT delivered more in 1 of 2 cases, "
					  "CoAP delivered more in 0, tied in 1."));
	cr_assert_not_null(strstr(claims, "Median (p50): Holds in part: CoAP lower in 1 of 2 "
					  "cases, MQTT lower in 0, tied in 1."));
	/* p99: MQTT lower at both; no flip, so no flip explanation */
	cr_assert_not_null(strstr(claims, "Tail (p99): Does not hold: CoAP lower in 0 of 2 "
					  "cases, MQTT lower in 2."));
	cr_assert_null(strstr(claims, "flips"));
	cr_assert_not_null(strstr(claims, "Holds: CoAP spent less energy in 2 of 2 cases"));
	cr_assert_null(strstr(claims, "nan"));
	free(claims);
	free(html);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	cr_assert_eq(system(cmd), 0);
}

/* On the log latency axis a bar is cut at the axis, never below 0.  The
 * axis: p50 424.6 and p99 4448 +- 4431 (low end 17 ms): the range counts
 * each bar down to a third of its mean (1482.7 for p99), so the lowest is
 * p50's 424.6, / 1.15 = 369.2, rounded down to 1, 1.5, 2, 3, 5, 7 x 10^k:
 * 300.  The p99 bar's low end is written as 300. */
Test(report, log_axis_bars_stay_positive, .timeout = 60)
{
	char dir[] = "/tmp/coapsim-logbar-XXXXXX", cmd[8192], path[512];
	size_t len;
	cr_assert_not_null(mkdtemp(dir));
	fake_results(dir, PT(0, "1%", "coap", 3, 1.0, 0.0, 4.0, 0.1, 424.6, 0.4, 4448, 4431) ", "
			  PT(1, "5%", "coap", 3, 1.0, 0.0, 4.0, 0.1, 425.0, 0.4, 5000, 100));
	snprintf(cmd, sizeof(cmd), "%s plot %s >/dev/null", bin(), dir);
	cr_assert_eq(system(cmd), 0);
	snprintf(path, sizeof(path), "%s/data/plot-sweep.csv", dir);
	char *csv = slurp(path, &len);
	/* the 1% row: x, then mean, low, high of 7 metrics; p99 is the 7th */
	char *row = strstr(csv, "\n1,");
	cr_assert_not_null(row);
	double v[22];
	int n = sscanf(row + 1, "%lf,%lf,%lf,%lf,%lf,%lf,%lf,%lf,%lf,%lf,%lf,%lf,%lf,%lf,%lf,%lf,"
			  "%lf,%lf,%lf,%lf,%lf,%lf", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6],
		       &v[7], &v[8], &v[9], &v[10], &v[11], &v[12], &v[13], &v[14], &v[15], &v[16],
		       &v[17], &v[18], &v[19], &v[20], &v[21]);
	cr_assert_eq(n, 22, "%.80s", row);
	cr_assert_float_eq(v[19], 4448, 1e-9);
	cr_assert_float_eq(v[20], 300, 1e-9, "p99 low end %g", v[20]);
	cr_assert_float_eq(v[21], 8879, 1e-9);
	free(csv);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	cr_assert_eq(system(cmd), 0);
}
