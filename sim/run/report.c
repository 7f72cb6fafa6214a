#include "report.h"

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>

#include "../core/fsutil.h"
#include "../core/sim.h"
#include "../core/version.h"

/* Where the gnuplot scripts are: $COAPSIM_ANALYSIS, next to the binary
 * (build/coapsim -> analysis/), or the current folder.  Returns the folder
 * that holds analysis/ (scripts load "analysis/common.gp"). */
static int find_root(char *root, size_t len)
{
	const char *env = getenv("COAPSIM_ANALYSIS");
	char exe[PATH_MAX], probe[PATH_MAX + 32];
	struct stat st;

	if (env && *env) {
		snprintf(root, len, "%s/..", env);
		return 0;
	}
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n > 0) {
		exe[n] = 0;
		char *d = dirname(exe);
		snprintf(probe, sizeof(probe), "%s/../analysis/common.gp", d);
		if (stat(probe, &st) == 0) {
			snprintf(root, len, "%s/..", d);
			return 0;
		}
	}
	if (stat("analysis/common.gp", &st) == 0) {
		snprintf(root, len, ".");
		return 0;
	}
	return SIM_ERR_NOTFOUND;
}

static const char *const scripts[] = {"sweep", "latency_cdf", "energy_hist", "timeseries"};

static const char *const plots[][2] = {
	{"delivery_ratio", "Delivery and success ratio"},
	{"retransmissions", "Retransmissions per message"},
	{"latency", "Latency percentiles"},
	{"latency_cdf", "Latency CDF"},
	{"energy_per_message", "Energy per delivered message"},
	{"bytes_per_message", "Bytes per delivered message"},
	{"energy_histogram", "Energy per endpoint"},
	{"timeseries", "Messages in flight and queue drops"},
};

/* Run every script, all at once, each its own gnuplot process (a sweep
 * of four one-second runs took 0.56-0.62 s in all with the scripts one
 * after another, 0.37-0.43 s with them side by side on two cores);
 * returns how many failed (0 when all drew). */
static int draw(const char *dir, const char *xlabel)
{
	char root[PATH_MAX + 8], absdir[PATH_MAX], cmd[6 * PATH_MAX], plotdir[PATH_MAX + 8];
	pid_t pid[SIM_ARRAY_LEN(scripts)];
	int failed = 0;

	if (find_root(root, sizeof(root)) < 0 || !realpath(dir, absdir))
		return (int)SIM_ARRAY_LEN(scripts);
	snprintf(plotdir, sizeof(plotdir), "%s/plots", absdir);
	mkdir(plotdir, 0777);
	for (size_t i = 0; i < SIM_ARRAY_LEN(scripts); i++) {
		snprintf(cmd, sizeof(cmd),
			 "cd '%s' && exec gnuplot -e \"datadir='%s/data'; outdir='%s'; "
			 "xlabel='%s'\" analysis/%s.gp >/dev/null 2>'%s/plots/.%s.log'",
			 root, absdir, plotdir, xlabel, scripts[i], absdir, scripts[i]);
		char *argv[] = {"sh", "-c", cmd, NULL};
		if (posix_spawn(&pid[i], "/bin/sh", NULL, NULL, argv, environ) != 0)
			pid[i] = -1;
	}
	for (size_t i = 0; i < SIM_ARRAY_LEN(scripts); i++) {
		int st;
		pid_t r;
		if (pid[i] < 0) {
			failed++;
			continue;
		}
		while ((r = waitpid(pid[i], &st, 0)) < 0 && errno == EINTR)
			;
		if (r < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
			failed++;
	}
	return failed;
}

/* Embed a PNG as a data URI (base64, RFC 4648), a block of 3 KiB in and
 * 4 KiB out at a time (a character at a time, the four plots took 13
 * million instructions). */
static int embed_png(FILE *out, const char *path)
{
	static const char b64[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	FILE *in = fopen(path, "rb");
	unsigned char buf[3072];
	char enc[4096];
	size_t n;

	if (!in)
		return -1;
	fputs("data:image/png;base64,", out);
	/* fread fills the block but at the end of the file, so only the
	 * last group of three may be short. */
	while ((n = fread(buf, 1, sizeof(buf), in)) > 0) {
		size_t k = 0;
		for (size_t i = 0; i < n; i += 3) {
			size_t m = n - i < 3 ? n - i : 3;
			unsigned v = (unsigned)buf[i] << 16 | (m > 1 ? buf[i + 1] << 8 : 0) |
				     (m > 2 ? buf[i + 2] : 0);
			enc[k++] = b64[v >> 18 & 63];
			enc[k++] = b64[v >> 12 & 63];
			enc[k++] = m > 1 ? b64[v >> 6 & 63] : '=';
			enc[k++] = m > 2 ? b64[v & 63] : '=';
		}
		fwrite(enc, 1, k, out);
	}
	fclose(in);
	return 0;
}

static void cell(FILE *f, json_t *metrics, const char *a, const char *b, const char *fmt)
{
	json_t *m = json_object_get(metrics, a);
	if (b)
		m = json_object_get(m, b);
	json_t *mean = json_object_get(m, "mean"), *ci = json_object_get(m, "ci95");
	fputs("<td>", f);
	if (json_is_number(mean)) {
		fprintf(f, fmt, json_number_value(mean));
		if (json_is_number(ci)) {
			fputs(" &plusmn; ", f);
			fprintf(f, fmt, json_number_value(ci));
		}
	} else {
		fputs("&ndash;", f);
	}
	fputs("</td>", f);
}

/* ---- the tutorial's CoAP-vs-MQTT table, measured ---- */

static double pmetric(json_t *pt, const char *a, const char *b)
{
	json_t *m = json_object_get(json_object_get(pt, "metrics"), a);
	if (b)
		m = json_object_get(m, b);
	json_t *v = json_object_get(m, "mean");
	return json_is_number(v) ? json_number_value(v) : NAN;
}

/* The point with this protocol at this value of the other parameters. */
static json_t *find_point(json_t *points, const char *proto_key, const char *proto,
			  json_t *like)
{
	size_t i;
	json_t *pt;
	json_array_foreach(points, i, pt) {
		json_t *params = json_object_get(pt, "params");
		const char *k;
		json_t *v;
		bool same = true;
		json_object_foreach(params, k, v) {
			const char *want = strcmp(k, proto_key)
						   ? json_string_value(json_object_get(like, k))
						   : proto;
			if (!want || strcmp(want, json_string_value(v)))
				same = false;
		}
		if (same)
			return pt;
	}
	return NULL;
}

static void claim_row(FILE *f, const char *feature, const char *tut_mqtt,
		      const char *tut_coap, const char *measured, const char *verdict)
{
	fprintf(f, "<tr><td>%s</td><td>%s</td><td>%s</td><td style=\"text-align:left\">%s</td>"
		   "<td style=\"text-align:left\">%s</td></tr>\n",
		feature, tut_mqtt, tut_coap, measured, verdict);
}

/* When the sweep runs both protocols, compare them point by point. */
static void claims(FILE *f, json_t *j)
{
	json_t *points = json_object_get(j, "points"), *p0 = json_array_get(points, 0);
	const char *proto_key = NULL, *k;
	json_t *v;

	json_object_foreach(json_object_get(p0, "params"), k, v)
		if (strstr(k, ".protocol"))
			proto_key = k;
	if (!proto_key)
		return;
	/* one "case" per combination of the other parameters, with both protocols */
	char rel[2048] = "", pow_[2048] = "", lat[2048] = "", cap[2048] = "";
	int n_cases = 0, mqtt_more_reliable = 0, coap_less_energy = 0, coap_lower_p50 = 0,
	    coap_lower_p99 = 0, coap_fewer_bytes = 0;
	size_t i;
	json_t *pt;
	json_array_foreach(points, i, pt) {
		json_t *params = json_object_get(pt, "params");
		if (strcmp(json_string_value(json_object_get(params, proto_key)), "coap"))
			continue;
		json_t *mq = find_point(points, proto_key, "mqtt", params);
		if (!mq)
			continue;
		char where[256] = "";
		size_t wl = 0;
		json_object_foreach(params, k, v)
			if (strcmp(k, proto_key) && wl < sizeof(where) - 1)
				wl += (size_t)snprintf(where + wl, sizeof(where) - wl, "%s%s",
						       wl ? " " : "", json_string_value(v));
		double cd = pmetric(pt, "delivery_ratio", NULL), md = pmetric(mq, "delivery_ratio", NULL);
		double ce = pmetric(pt, "energy_mj", "per_message"), me = pmetric(mq, "energy_mj", "per_message");
		double c50 = pmetric(pt, "latency_ms", "p50"), m50 = pmetric(mq, "latency_ms", "p50");
		double c99 = pmetric(pt, "latency_ms", "p99"), m99 = pmetric(mq, "latency_ms", "p99");
		double cb = pmetric(pt, "bytes_per_message", NULL), mb = pmetric(mq, "bytes_per_message", NULL);
		n_cases++;
		mqtt_more_reliable += md >= cd;
		coap_less_energy += ce < me;
		coap_lower_p50 += c50 <= m50;
		coap_lower_p99 += c99 < m99;
		coap_fewer_bytes += cb < mb;
		size_t n;
		n = strlen(rel);
		snprintf(rel + n, sizeof(rel) - n, "%s: delivered CoAP %.4f, MQTT %.4f<br>", where, cd, md);
		n = strlen(pow_);
		snprintf(pow_ + n, sizeof(pow_) - n, "%s: %.2f vs %.2f mJ per message<br>", where, ce, me);
		n = strlen(lat);
		snprintf(lat + n, sizeof(lat) - n, "%s: p50 %.0f vs %.0f ms, p99 %.0f vs %.0f ms<br>",
			 where, c50, m50, c99, m99);
		n = strlen(cap);
		snprintf(cap + n, sizeof(cap) - n, "%s: %.0f vs %.0f bytes per message<br>", where, cb, mb);
	}
	if (!n_cases)
		return;
	char vr[256], vp[256], vl[512], vc[256];
	snprintf(vr, sizeof(vr), "%s: MQTT delivered at least as much in %d of %d cases "
		 "(TCP retransmits without a limit; CoAP gives up after MAX_RETRANSMIT).",
		 mqtt_more_reliable == n_cases ? "Holds" : "Partly", mqtt_more_reliable, n_cases);
	snprintf(vp, sizeof(vp), "%s: CoAP spent less radio energy per message in %d of %d "
		 "cases (no connection, no TCP ACKs or keepalive).",
		 coap_less_energy == n_cases ? "Holds" : "Partly", coap_less_energy, n_cases);
	snprintf(vl, sizeof(vl), "Median: the same or lower for CoAP in %d of %d cases. "
		 "Tail (p99): lower for CoAP in %d of %d cases%s",
		 coap_lower_p50, n_cases, coap_lower_p99, n_cases,
		 coap_lower_p99 && coap_lower_p99 < n_cases
			 ? ": the claim flips with the loss rate (TCP's learned RTO beats CoAP's "
			   "fixed first timeout on a good link; its backoff loses on a bad one)."
			 : ".");
	snprintf(vc, sizeof(vc), "On the shared channel CoAP needs fewer bytes per message in %d "
		 "of %d cases, so the same link carries more CoAP devices; the broker also keeps "
		 "a TCP connection per MQTT client.", coap_fewer_bytes, n_cases);
	fputs("<h2>Claims, measured</h2>\n<p>The table from the tutorial this project grew "
	      "from, row by row, against this run (CoAP value first, then MQTT).</p>\n"
	      "<table><tr><th>feature</th><th>tutorial: MQTT</th><th>tutorial: CoAP</th>"
	      "<th>measured here</th><th>verdict</th></tr>\n", f);
	claim_row(f, "Reliability", "High", "Medium", rel, vr);
	claim_row(f, "Power usage", "Higher", "Lower", pow_, vp);
	claim_row(f, "Latency", "Medium", "Low", lat, vl);
	claim_row(f, "Scalability", "High", "Medium", cap, vc);
	claim_row(f, "Multicast", "Limited", "Supported", "not in this scenario",
		  "CoAP has group requests (scenarios/multicast.ini measures one request "
		  "reaching 300 members and their answers); MQTT's broker sends one copy per "
		  "subscriber. Not a like-for-like measurement here.");
	claim_row(f, "QoS levels", "3 levels", "basic", "&ndash;",
		  "Definitions, not measurements: MQTT QoS 0/1/2; CoAP NON/CON.");
	fputs("</table>\n", f);
}

int report_build(const char *dir, char *err, size_t errlen)
{
	char path[PATH_MAX + 64], tmp[PATH_MAX + 64];
	json_error_t je;
	json_t *j;

	/* data/report.json is summary.json without the runs: small. */
	snprintf(path, sizeof(path), "%s/data/report.json", dir);
	j = json_load_file(path, 0, &je);
	if (!j) {
		snprintf(path, sizeof(path), "%s/summary.json", dir);
		j = json_load_file(path, 0, &je);
	}
	if (!j) {
		snprintf(err, errlen, "%s: %s", path, je.text);
		return SIM_ERR_IO;
	}
	const char *xlabel = json_string_value(json_object_get(j, "xlabel"));
	int failed = draw(dir, xlabel ? xlabel : "point");

	snprintf(tmp, sizeof(tmp), "%s/.report.html.tmp", dir);
	FILE *f = fopen(tmp, "w");
	if (!f) {
		snprintf(err, errlen, "%s: cannot write: %s", tmp, strerror(errno));
		json_decref(j);
		return SIM_ERR_IO;
	}
	const char *name = json_string_value(json_object_get(j, "scenario"));
	fputs("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n<title>coapsim: ", f);
	fs_put_markup(f, name ? name : "");
	fputs("</title>\n<style>\nbody{font-family:sans-serif;max-width:1000px;margin:2em auto;"
	      "padding:0 1em;color:#222}\ntable{border-collapse:collapse;font-size:14px}\n"
	      "td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}\n"
	      "th{background:#f3f3f3}\ntd:first-child,th:first-child,td:nth-child(2){text-align:left}\n"
	      "img{max-width:100%;border:1px solid #eee;margin:0.5em 0}\n"
	      "pre{background:#f7f7f7;padding:1em;overflow-x:auto;font-size:13px}\n"
	      ".meta{color:#666;font-size:14px}\n</style></head><body>\n", f);
	fputs("<h1>coapsim report: ", f);
	fs_put_markup(f, name ? name : "");
	fputs("</h1>\n<p class=\"meta\">coapsim ", f);
	fs_put_markup(f, json_string_value(json_object_get(j, "version")) ?: "");
	fputs(" &middot; <code>", f);
	fs_put_markup(f, json_string_value(json_object_get(j, "command")) ?: "");
	fputs("</code></p>\n", f);

	/* The summary table: one row per point, mean ± 95% CI. */
	fputs("<h2>Summary</h2>\n<table><tr><th>point</th><th>parameters</th><th>runs</th>"
	      "<th>messages</th><th>delivery ratio</th><th>success ratio</th>"
	      "<th>retransmissions / msg</th><th>latency p50 (ms)</th>"
	      "<th>latency p99 (ms)</th><th>energy / msg (mJ)</th><th>lifetime (days)</th></tr>\n",
	      f);
	size_t i;
	json_t *pt;
	json_array_foreach(json_object_get(j, "points"), i, pt) {
		json_t *m = json_object_get(pt, "metrics"), *params = json_object_get(pt, "params");
		const char *k;
		json_t *v;
		fprintf(f, "<tr><td>%zu</td><td>", i);
		json_object_foreach(params, k, v) {
			fs_put_markup(f, k);
			fputs("=", f);
			fs_put_markup(f, json_string_value(v) ?: "");
			fputs(" ", f);
		}
		fprintf(f, "</td><td>%lld</td>",
			(long long)json_integer_value(json_object_get(pt, "replications")));
		cell(f, m, "messages", NULL, "%.0f");
		cell(f, m, "delivery_ratio", NULL, "%.5f");
		cell(f, m, "success_ratio", NULL, "%.5f");
		cell(f, m, "retransmissions_per_message", NULL, "%.4f");
		cell(f, m, "latency_ms", "p50", "%.1f");
		cell(f, m, "latency_ms", "p99", "%.1f");
		cell(f, m, "energy_mj", "per_message", "%.3f");
		cell(f, m, "lifetime_days", NULL, "%.0f");
		fputs("</tr>\n", f);
	}
	fputs("</table>\n<p class=\"meta\">&plusmn; is the half-width of the 95% confidence "
	      "interval (Student t) over the replications of a point. Every metric of every "
	      "run is in <code>summary.json</code> and <code>runs.csv</code>.</p>\n", f);

	claims(f, j);
	fputs("<h2>Plots</h2>\n", f);
	if (failed)
		fprintf(f, "<p>%d of %zu plot scripts could not run (is gnuplot installed? "
			"see plots/.*.log); <code>coapsim plot DIR</code> draws them again.</p>\n",
			failed, SIM_ARRAY_LEN(scripts));
	for (i = 0; i < SIM_ARRAY_LEN(plots); i++) {
		snprintf(path, sizeof(path), "%s/plots/%s.png", dir, plots[i][0]);
		struct stat st;
		if (stat(path, &st) != 0)
			continue;
		fprintf(f, "<h3>%s</h3>\n<img alt=\"%s\" src=\"", plots[i][1], plots[i][1]);
		embed_png(f, path);
		fputs("\">\n", f);
	}
	fputs("<h2>Scenario</h2>\n<pre>", f);
	fs_put_markup(f, json_string_value(json_object_get(j, "scenario_text")) ?: "");
	fputs("</pre>\n</body></html>\n", f);
	json_decref(j);
	if (ferror(f) | (fclose(f) != 0)) {
		snprintf(err, errlen, "%s: cannot write: %s", tmp, strerror(errno));
		remove(tmp);
		return SIM_ERR_IO;
	}
	snprintf(path, sizeof(path), "%s/report.html", dir);
	return fs_commit(tmp, path, err, errlen);
}
