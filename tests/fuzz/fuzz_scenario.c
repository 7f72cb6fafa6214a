/* libFuzzer target for the scenario parser.
 *
 * The input is a scenario file.  Its comment lines starting with "#!set "
 * are also passed as --set overrides (at most 4), so the fuzzer reaches the
 * override code too.  On success every point (at most 64) is compiled; on
 * failure the message must be one line naming the file. */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../sim/scenario/scenario.h"

#define MAX_POINTS 64
#define MAX_SETS 4

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static size_t find_sets(char *text, char **sets)
{
	char *p = text, *eol;
	size_t n = 0, len;

	while (*p && n < MAX_SETS) {
		eol = strchr(p, '\n');
		len = eol ? (size_t)(eol - p) : strlen(p);
		if (len > 6 && !strncmp(p, "#!set ", 6)) {
			sets[n] = strndup(p + 6, len - 6);
			if (!sets[n])
				abort();
			n++;
		}
		if (!eol)
			break;
		p = eol + 1;
	}
	return n;
}

static void check_err(const char *err, size_t errlen)
{
	size_t n = strnlen(err, errlen);

	assert(n > 0 && n < errlen);
	assert(!memchr(err, '\n', n));
	assert(!memchr(err, '\r', n));
	assert(!strncmp(err, "fuzz.ini", 8) || !strncmp(err, "--set ", 6));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct scenario_src *src = NULL;
	struct scenario_cfg cfg, copy;
	char err[SCN_ERR_LEN];
	char *text, *sets[MAX_SETS];
	size_t n_sets, n, p, i, k;
	int rc;

	text = malloc(size + 1);
	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	n_sets = find_sets(text, sets);
	err[0] = '\0';
	rc = scenario_load_string(&src, "fuzz.ini", text, (const char *const *)sets,
				  n_sets, err, sizeof(err));
	if (rc) {
		assert(rc == SIM_ERR_INVAL || rc == SIM_ERR_NOMEM);
		assert(!src);
		check_err(err, sizeof(err));
	} else {
		assert(!strcmp(scenario_text(src), text));
		n = scenario_n_points(src);
		assert(n >= 1 && n <= SIM_MAX_SWEEP_POINTS);
		for (p = 0; p < n && p < MAX_POINTS; p++) {
			rc = scenario_point_cfg(src, p, &cfg, err, sizeof(err));
			assert(rc == 0);
			assert(cfg.n_groups >= 1 && cfg.n_groups <= SIM_MAX_GROUPS);
			assert(cfg.replications >= 1);
			assert(cfg.warmup < cfg.duration);
			assert(cfg.up.mtu >= 1280 && cfg.down.queue >= 1);
			assert(cfg.coap.nstart >= 1 &&
			       cfg.coap.nstart <= COAP_MAX_NSTART);
			assert(cfg.name[0] && cfg.output.dir[0]);
			for (i = 0; i < cfg.n_groups; i++) {
				assert(cfg.groups[i].count >= 1);
				assert(cfg.groups[i].qos <= 2);
			}
			for (k = 0; k < scenario_n_params(src); k++) {
				assert(scenario_param_key(src, k));
				assert(scenario_param_value(src, p, k));
			}
			assert(scenario_cfg_copy(&copy, &cfg) == 0);
			assert(copy.n_expect == cfg.n_expect);
			scenario_cfg_free(&copy);
			scenario_cfg_free(&cfg);
		}
		scenario_src_del(src);
	}
	for (i = 0; i < n_sets; i++)
		free(sets[i]);
	free(text);
	return 0;
}
