/* Scenario files: reading (libinih), --set overrides, sweep expansion and
 * compilation of each point of the run matrix into a struct scenario_cfg.
 *
 * Loading keeps the raw (section, key, value, origin) entries.  A value
 * holding "${...}" is a sweep; its expansions are stored as complete values.
 * A point is compiled by applying every entry's value at that point over
 * the defaults; scenario_load compiles every point once so that no invalid
 * value survives to a run. */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <ini.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "scenario.h"
#include "units.h"

#define MAX_FILE_SIZE (16u << 20)
#define GROUP_NAME_MAX 32   /* [group.NAME] */
#define MAX_COUNT 10000000u /* endpoints per group */
#define MAX_REPLICATIONS 1000000u
#define MAX_QUEUE 1000000u    /* packets */
#define MAX_PAYLOAD 65000u    /* leaves room for headers in SIM_MAX_DATAGRAM */
#define MAX_KEEPALIVE 65535.0 /* seconds, MQTT's 16-bit field */
#define TOPIC_LEN (sizeof(((struct group_cfg *)0)->topic))
#define ID_PLACEHOLDER "{id}"
#define NAME_PLACEHOLDER "{name}"

enum sec_id {
	SEC_SCENARIO,
	SEC_LINK,
	SEC_LINK_UP,
	SEC_LINK_DOWN,
	SEC_BOTTLENECK,
	SEC_GROUP,
	SEC_SERVER,
	SEC_BROKER,
	SEC_COAP,
	SEC_MQTT,
	SEC_TCP,
	SEC_SECURITY,
	SEC_DTLS,
	SEC_ENERGY,
	SEC_OUTPUT,
	SEC_NS3,
	SEC_LIVE,
	SEC_EXPECT,
	SEC_COUNT
};

/* Where a value comes from: a file line (set < 0) or a --set (set >= 0). */
struct loc {
	int line; /* 0: the file as a whole */
	int set;
};

struct entry {
	enum sec_id sec;
	int group;     /* index in src->groups for SEC_GROUP, else -1 */
	char *section; /* as written: "link.up", "group.sensors" */
	char *key;
	char *value; /* raw, may hold ${...} */
	struct loc at;
	int sweep; /* index in src->sweeps, or -1 */
};

struct sweep {
	size_t entry;
	char *key; /* "link.loss" */
	size_t n;
	char **vals;   /* complete values, prefix and suffix included */
	size_t stride; /* points between two successive values */
};

struct group_def {
	char name[GROUP_NAME_MAX + 1];
	int line;
};

struct scenario_src {
	char *path;
	char *text;
	char *defname; /* file name without directory and .ini */
	char **sets;
	size_t n_sets;
	struct entry *ents;
	size_t n_ents, cap_ents;
	struct group_def groups[SIM_MAX_GROUPS];
	size_t n_groups;
	bool bottleneck; /* a [bottleneck] header was seen */
	struct sweep *sweeps;
	size_t n_sweeps;
	size_t n_points;
	size_t n_expect; /* entries in [expect] */
};

/* ------------------------------------------------------------------ */
/* Messages */

static void sanitize(char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			*s = '?';
}

static int verr(const struct scenario_src *src, struct loc at, char *err, size_t errlen,
		const char *fmt, va_list ap)
{
	size_t n;
	int k;

	if (!err || !errlen)
		return SIM_ERR_INVAL;
	if (at.set >= 0 && (size_t)at.set < src->n_sets)
		k = snprintf(err, errlen, "--set %s: ", src->sets[at.set]);
	else if (at.line > 0)
		k = snprintf(err, errlen, "%s:%d: ", src->path, at.line);
	else
		k = snprintf(err, errlen, "%s: ", src->path);
	n = k < 0 ? 0 : (size_t)k;
	if (n < errlen)
		vsnprintf(err + n, errlen - n, fmt, ap);
	sanitize(err);
	return SIM_ERR_INVAL;
}

static int fail(const struct scenario_src *src, struct loc at, char *err, size_t errlen,
		const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static int fail(const struct scenario_src *src, struct loc at, char *err, size_t errlen,
		const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	verr(src, at, err, errlen, fmt, ap);
	va_end(ap);
	return SIM_ERR_INVAL;
}

static int nomem(const struct scenario_src *src, char *err, size_t errlen)
{
	struct loc at = {0, -1};

	fail(src, at, err, errlen, "out of memory");
	return SIM_ERR_NOMEM;
}

/* " (did you mean 'x'?)" or "" into buf. */
static const char *did_you_mean(char *buf, size_t len, const char *word,
				const char *const *cands, size_t n)
{
	const char *s = scenario_suggest(word, cands, n);

	if (s)
		snprintf(buf, len, " (did you mean '%s'?)", s);
	else
		buf[0] = '\0';
	return buf;
}

/* ------------------------------------------------------------------ */
/* Compile context and key tables */

struct cc {
	const struct scenario_src *src;
	size_t point;
	struct scenario_cfg *cfg;
	const struct entry *e; /* entry being applied */
	const char *val;       /* its value at this point */
	bool start_set[SIM_MAX_GROUPS];
	char *err;
	size_t errlen;
};

struct keydef;
typedef int (*set_fn)(struct cc *c, const struct keydef *kd, void *obj);

/* One key: the single description of it.  Its default is the text a user
 * would write, run through its own set function before the file's values
 * (so the default and the parser cannot disagree); NULL when the value
 * comes from another key or is derived in finish(), which the help then
 * says. */
struct keydef {
	const char *name;
	set_fn set;
	size_t off, size;  /* field in the section's struct */
	double min, max;   /* accepted range, in the field's unit */
	const char *range; /* the range in words, for messages */
	const void *aux;   /* unit set, enum values */
	const char *def;   /* default, as written in a file; NULL: see help */
	const char *help;  /* one line of Markdown */
};

struct enumval {
	const char *name;
	int value;
};

static int cc_fail(struct cc *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int cc_fail(struct cc *c, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	verr(c->src, c->e->at, c->err, c->errlen, fmt, ap);
	va_end(ap);
	return SIM_ERR_INVAL;
}

static int bad_unit(struct cc *c, const struct scenario_unitset *us)
{
	if (us->help)
		return cc_fail(c, "bad %s '%s' for '%s' in [%s] (units: %s)", us->what,
			       c->val, c->e->key, c->e->section, us->help);
	return cc_fail(c, "bad %s '%s' for '%s' in [%s]", us->what, c->val, c->e->key,
		       c->e->section);
}

static int out_of_range(struct cc *c, const struct keydef *kd)
{
	return cc_fail(c, "'%s' in [%s] must be %s (got '%s')", c->e->key, c->e->section,
		       kd->range ? kd->range : "in range", c->val);
}

static void *field(void *obj, const struct keydef *kd)
{
	return (char *)obj + kd->off;
}

static void put_uint(void *p, size_t size, uint64_t v)
{
	uint8_t u8 = (uint8_t)v;
	uint16_t u16 = (uint16_t)v;
	uint32_t u32 = (uint32_t)v;

	switch (size) {
	case 1: memcpy(p, &u8, 1); break;
	case 2: memcpy(p, &u16, 2); break;
	case 4: memcpy(p, &u32, 4); break;
	default: memcpy(p, &v, 8); break;
	}
}

static int set_time(struct cc *c, const struct keydef *kd, void *obj)
{
	sim_time t;

	double ns;
	/* One rule for every time: a well-formed time past SCN_TIME_MAX is out
	 * of range (said as such), not a bad unit. */
	if (scenario_parse_time(c->val, &t)) {
		if (scenario_scaled(c->val, &scenario_time_units, &ns) == 0 && ns > SCN_TIME_MAX)
			return cc_fail(c, "'%s' in [%s] must be at most %.0fh (got '%s')",
				       c->e->key, c->e->section, floor(SCN_TIME_MAX / 3600e9), c->val);
		return bad_unit(c, &scenario_time_units);
	}
	if ((double)t < kd->min || (double)t > kd->max)
		return out_of_range(c, kd);
	memcpy(field(obj, kd), &t, sizeof(t));
	return 0;
}

static int set_rate(struct cc *c, const struct keydef *kd, void *obj)
{
	uint64_t v;

	if (scenario_parse_rate(c->val, &v))
		return bad_unit(c, &scenario_rate_units);
	if ((double)v < kd->min || (double)v > kd->max)
		return out_of_range(c, kd);
	put_uint(field(obj, kd), kd->size, v);
	return 0;
}

static int set_size(struct cc *c, const struct keydef *kd, void *obj)
{
	uint64_t v;

	if (scenario_parse_size(c->val, &v))
		return bad_unit(c, &scenario_size_units);
	if ((double)v < kd->min || (double)v > kd->max)
		return out_of_range(c, kd);
	put_uint(field(obj, kd), kd->size, v);
	return 0;
}

static int set_uint(struct cc *c, const struct keydef *kd, void *obj)
{
	long long v;

	if (scenario_parse_int(c->val, &v))
		return cc_fail(c, "bad integer '%s' for '%s' in [%s]", c->val, c->e->key,
			       c->e->section);
	if ((double)v < kd->min || (double)v > kd->max)
		return out_of_range(c, kd);
	put_uint(field(obj, kd), kd->size, (uint64_t)v);
	return 0;
}

static int set_u64(struct cc *c, const struct keydef *kd, void *obj)
{
	uint64_t v;

	if (scenario_parse_u64(c->val, &v))
		return cc_fail(
		    c, "bad integer '%s' for '%s' in [%s] (0 to 18446744073709551615)",
		    c->val, c->e->key, c->e->section);
	put_uint(field(obj, kd), kd->size, v);
	return 0;
}

static int set_prob(struct cc *c, const struct keydef *kd, void *obj)
{
	double v;

	if (scenario_parse_prob(c->val, &v))
		return cc_fail(c,
			       "bad probability '%s' for '%s' in [%s] (a fraction in [0, "
			       "1] or a percentage like 5%%)",
			       c->val, c->e->key, c->e->section);
	memcpy(field(obj, kd), &v, sizeof(v));
	return 0;
}

static int set_real(struct cc *c, const struct keydef *kd, void *obj)
{
	const struct scenario_unitset *us = kd->aux;
	double v;

	if (scenario_scaled(c->val, us, &v))
		return bad_unit(c, us);
	if (!(v >= kd->min && v <= kd->max))
		return out_of_range(c, kd);
	v += 0.0;
	memcpy(field(obj, kd), &v, sizeof(v));
	return 0;
}

static int set_bool(struct cc *c, const struct keydef *kd, void *obj)
{
	bool v;

	if (scenario_parse_bool(c->val, &v))
		return cc_fail(
		    c,
		    "bad boolean '%s' for '%s' in [%s] (yes/no, true/false, on/off, 1/0)",
		    c->val, c->e->key, c->e->section);
	memcpy(field(obj, kd), &v, sizeof(v));
	return 0;
}

static int set_enum(struct cc *c, const struct keydef *kd, void *obj)
{
	const struct enumval *ev;
	const char *cands[16];
	char list[128], dym[96];
	size_t n = 0, used = 0;

	for (ev = kd->aux; ev->name; ev++) {
		if (!strcasecmp(c->val, ev->name)) {
			put_uint(field(obj, kd), kd->size, (uint64_t)ev->value);
			return 0;
		}
		if (n < SIM_ARRAY_LEN(cands))
			cands[n++] = ev->name;
		used += (size_t)snprintf(list + used, sizeof(list) - used, "%s%s",
					 used ? " | " : "", ev->name);
		if (used >= sizeof(list))
			used = sizeof(list) - 1;
	}
	if (!used)
		list[0] = '\0';
	return cc_fail(c, "bad value '%s' for '%s' in [%s] (%s)%s", c->val, c->e->key,
		       c->e->section, list,
		       did_you_mean(dym, sizeof(dym), c->val, cands, n));
}

static int set_dist(struct cc *c, const struct keydef *kd, void *obj)
{
	struct dist d;
	char why[160];

	if (scenario_dist(c->val, &d, why, sizeof(why)))
		return cc_fail(c, "bad distribution '%s' for '%s' in [%s]: %s", c->val,
			       c->e->key, c->e->section, why);
	memcpy(field(obj, kd), &d, sizeof(d));
	return 0;
}

static int set_start(struct cc *c, const struct keydef *kd, void *obj)
{
	int rc = set_dist(c, kd, obj);

	if (!rc && c->e->group >= 0)
		c->start_set[c->e->group] = true;
	return rc;
}

static int set_loss(struct cc *c, const struct keydef *kd, void *obj)
{
	struct loss_cfg l;
	char why[160];

	if (scenario_loss(c->val, &l, why, sizeof(why)))
		return cc_fail(c, "bad loss '%s' for '%s' in [%s]: %s", c->val, c->e->key,
			       c->e->section, why);
	memcpy(field(obj, kd), &l, sizeof(l));
	return 0;
}

static int set_traffic(struct cc *c, const struct keydef *kd, void *obj)
{
	struct group_cfg *g = obj;
	char why[160];

	(void)kd;
	if (scenario_traffic(c->val, &g->traffic, &g->interval, why, sizeof(why)))
		return cc_fail(c, "bad traffic '%s' for '%s' in [%s]: %s", c->val,
			       c->e->key, c->e->section, why);
	return 0;
}

static bool has_ctrl(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return true;
	return false;
}

/* Only "{id}" may appear in braces. */
static bool placeholders_ok(const char *s, const char *ph)
{
	size_t n = strlen(ph);

	for (; *s; s++) {
		if (*s == '{') {
			if (strncmp(s, ph, n))
				return false;
			s += n - 1;
		} else if (*s == '}') {
			return false;
		}
	}
	return true;
}

static int set_path(struct cc *c, const struct keydef *kd, void *obj)
{
	const char *s = c->val;

	if (s[0] != '/' || has_ctrl(s) || strpbrk(s, " ?#"))
		return cc_fail(c,
			       "bad path '%s' for '%s' in [%s] (starts with '/', no "
			       "spaces, '?' or '#')",
			       s, c->e->key, c->e->section);
	if (!placeholders_ok(s, ID_PLACEHOLDER))
		return cc_fail(
		    c, "bad path '%s' for '%s' in [%s] (the only placeholder is {id})", s,
		    c->e->key, c->e->section);
	if (strlen(s) >= kd->size)
		return cc_fail(c, "'%s' in [%s] is too long (max %zu bytes)", c->e->key,
			       c->e->section, kd->size - 1);
	memcpy(field(obj, kd), s, strlen(s) + 1);
	return 0;
}

static int set_topic(struct cc *c, const struct keydef *kd, void *obj)
{
	const char *s = c->val;

	if (!*s || has_ctrl(s) || strpbrk(s, "+#") || s[0] == '$')
		return cc_fail(c,
			       "bad topic '%s' for '%s' in [%s] (no wildcards '+' '#', "
			       "not starting with '$')",
			       s, c->e->key, c->e->section);
	if (!placeholders_ok(s, ID_PLACEHOLDER))
		return cc_fail(
		    c, "bad topic '%s' for '%s' in [%s] (the only placeholder is {id})",
		    s, c->e->key, c->e->section);
	if (strlen(s) >= kd->size)
		return cc_fail(c, "'%s' in [%s] is too long (max %zu bytes)", c->e->key,
			       c->e->section, kd->size - 1);
	memcpy(field(obj, kd), s, strlen(s) + 1);
	return 0;
}

/* An MQTT topic filter (§4.7.1): '+' fills a whole level, '#' only as the
 * whole last level. */
static int set_filter(struct cc *c, const struct keydef *kd, void *obj)
{
	const char *s = c->val;
	bool ok = *s && !has_ctrl(s) && strlen(s) < kd->size;

	for (const char *p = s; ok && *p; p++) {
		bool start = p == s || p[-1] == '/', end = !p[1] || p[1] == '/';
		if (*p == '+')
			ok = start && end;
		else if (*p == '#')
			ok = start && !p[1];
	}
	if (!ok)
		return cc_fail(c,
			       "bad topic filter '%s' for '%s' in [%s] ('+' for one whole "
			       "level, '#' only as the last level)",
			       s, c->e->key, c->e->section);
	memcpy(field(obj, kd), s, strlen(s) + 1);
	return 0;
}

/* A PSK in hex (RFC 4279 keys are opaque bytes); its length goes in the
 * uint32_t right after the array. */
_Static_assert(offsetof(struct security_cfg, psk_len) ==
			   offsetof(struct security_cfg, psk) + SCN_PSK_MAX &&
		       offsetof(struct security_cfg, server_psk_len) ==
			   offsetof(struct security_cfg, server_psk) + SCN_PSK_MAX,
	       "a key's length follows its bytes");
static int set_psk(struct cc *c, const struct keydef *kd, void *obj)
{
	const char *s = c->val;
	size_t n = strlen(s);
	uint8_t key[SCN_PSK_MAX];
	bool ok = n && n % 2 == 0 && n / 2 <= SCN_PSK_MAX;

	for (size_t i = 0; ok && i < n / 2; i++) {
		unsigned v = 0;
		ok = isxdigit((unsigned char)s[2 * i]) && isxdigit((unsigned char)s[2 * i + 1]) &&
		     sscanf(s + 2 * i, "%2x", &v) == 1;
		key[i] = (uint8_t)v;
	}
	if (!ok)
		return cc_fail(c,
			       "bad key '%s' for '%s' in [%s] (hex digits, two a byte, 1 to %d "
			       "bytes)",
			       s, c->e->key, c->e->section, SCN_PSK_MAX);
	uint32_t len = (uint32_t)(n / 2);
	memcpy(field(obj, kd), key, len);
	memcpy((char *)field(obj, kd) + SCN_PSK_MAX, &len, sizeof(len));
	return 0;
}

static int set_identity(struct cc *c, const struct keydef *kd, void *obj)
{
	if (!*c->val || has_ctrl(c->val) || strlen(c->val) >= kd->size)
		return cc_fail(c, "bad identity '%s' in [%s] (1 to %zu printable bytes)", c->val,
			       c->e->section, kd->size - 1);
	memcpy(field(obj, kd), c->val, strlen(c->val) + 1);
	return 0;
}

/* {name} is the only placeholder (subst_name); any other {...} is refused
 * rather than left in a folder's name.  A brace that closes nothing stays. */
static int set_dir(struct cc *c, const struct keydef *kd, void *obj)
{
	const char *s = c->val;

	if (has_ctrl(s))
		return cc_fail(c, "bad directory '%s' for '%s' in [%s]", s, c->e->key,
			       c->e->section);
	for (const char *p = strchr(s, '{'); p; p = strchr(p + 1, '{')) {
		size_t n = strcspn(p + 1, "{}") + 2; /* "{...}" */
		if (p[n - 1] == '}' && strncmp(p, NAME_PLACEHOLDER, n))
			return cc_fail(c,
				       "unknown placeholder '%.*s' in '%s' in [%s] "
				       "(placeholders: " NAME_PLACEHOLDER ")",
				       (int)n, p, c->e->key, c->e->section);
	}
	if (strlen(s) >= kd->size)
		return cc_fail(c, "'%s' in [%s] is too long (max %zu bytes)", c->e->key,
			       c->e->section, kd->size - 1);
	memcpy(field(obj, kd), s, strlen(s) + 1);
	return 0;
}

/* A scenario name: used in directory names, so no '/', '\', control
 * characters, "." or "..". */
static const char *name_problem(const char *s)
{
	if (!*s)
		return "empty";
	if (strlen(s) >= SCN_NAME_LEN)
		return "too long (max 63 bytes)";
	if (has_ctrl(s) || strpbrk(s, "/\\"))
		return "no '/', '\\' or control characters";
	if (!strcmp(s, ".") || !strcmp(s, ".."))
		return "not '.' or '..'";
	return NULL;
}

static int set_name(struct cc *c, const struct keydef *kd, void *obj)
{
	const char *why = name_problem(c->val);

	if (why)
		return cc_fail(c, "bad name '%s' in [%s]: %s", c->val, c->e->section,
			       why);
	memcpy(field(obj, kd), c->val, strlen(c->val) + 1);
	return 0;
}

struct radio_preset {
	const char *name;
	double volt, tx, rx, idle, sleep; /* V, mA */
	uint64_t bitrate;
};

static const struct radio_preset presets[] = {
    /* TI CC2420 datasheet (SWRS041), typical at 3 V: TX at 0 dBm 17.4 mA,
     * RX 18.8 mA, idle (oscillator on) 426 uA, power-down 20 uA. */
    {"cc2420", 3.0, 17.4, 18.8, 0.426, 0.02, 250000},
    /* TI CC2538 datasheet (SWRS096), typical at 3 V, CPU idle: TX at
     * 0 dBm 24 mA, RX 20 mA, power mode 1 0.6 mA, power mode 2 1.3 uA. */
    {"cc2538", 3.0, 24.0, 20.0, 0.6, 0.0013, 250000},
    /* Nordic nRF52840 Product Specification (v1.x), 3 V with DC/DC:
     * TX at 0 dBm 4.8 mA, RX 4.6 mA, idle with the 64 MHz crystal running
     * about 0.25 mA, System ON with RAM retention and RTC 3.16 uA.  The
     * 802.15.4 radio mode runs at 250 kbps. */
    {"nrf52840", 3.0, 4.8, 4.6, 0.25, 0.00316, 250000},
};

static void apply_preset(struct energy_cfg *en, const struct radio_preset *p)
{
	snprintf(en->radio, sizeof(en->radio), "%s", p->name);
	en->voltage_v = p->volt;
	en->tx_ma = p->tx;
	en->rx_ma = p->rx;
	en->idle_ma = p->idle;
	en->sleep_ma = p->sleep;
	en->bitrate_bps = p->bitrate;
}

static int set_radio(struct cc *c, const struct keydef *kd, void *obj)
{
	const char *cands[SIM_ARRAY_LEN(presets)];
	char dym[96];
	size_t i;

	(void)kd;
	for (i = 0; i < SIM_ARRAY_LEN(presets); i++) {
		if (!strcasecmp(c->val, presets[i].name)) {
			apply_preset(obj, &presets[i]);
			return 0;
		}
		cands[i] = presets[i].name;
	}
	return cc_fail(
	    c, "unknown radio '%s' in [%s] (presets: cc2420 cc2538 nrf52840)%s", c->val,
	    c->e->section,
	    did_you_mean(dym, sizeof(dym), c->val, cands, SIM_ARRAY_LEN(cands)));
}

/* [coap] preset: named starting points for the RFC 7252 §4.8 transmission
 * parameters; keys written in [coap] override them.  MAX_TRANSMIT_WAIT in
 * the comments is ACK_TIMEOUT * (2^(MAX_RETRANSMIT+1) - 1) * RANDOM_FACTOR. */
struct coap_preset {
	const char *name;
	sim_time ack_timeout;
	double random_factor;
	uint32_t max_retransmit, nstart;
};

static const struct coap_preset coap_presets[] = {
    /* RFC 7252 §4.8 defaults: 2 s, 1.5, 4, 1 (MAX_TRANSMIT_WAIT 93 s). */
    {"rfc7252", SIM_S(2), 1.5, 4, 1},
    /* Geostationary satellite: ~550 ms propagation RTT, plus link-layer
     * retransmission and queueing, gives RTTs up to ~2 s.  ACK_TIMEOUT 6 s
     * keeps the first timeout above three worst-case RTTs so it is not
     * spurious (§4.8.1 lets ACK_TIMEOUT follow known RTTs); one more
     * retransmission than the default rides out loss bursts
     * (MAX_TRANSMIT_WAIT 567 s). */
    {"lossy-satellite", SIM_S(6), 1.5, 5, 1},
    /* Wired or Wi-Fi LAN, RTT well under 10 ms: ACK_TIMEOUT 500 ms still
     * leaves 50x headroom and recovers a loss 4x sooner than the default
     * (MAX_TRANSMIT_WAIT 23.25 s). */
    {"low-latency-lan", SIM_MS(500), 1.5, 4, 1},
};

static int set_coap_preset(struct cc *c, const struct keydef *kd, void *obj)
{
	const char *cands[SIM_ARRAY_LEN(coap_presets)];
	struct coap_cfg *cc = obj;
	char dym[96];

	(void)kd;
	for (size_t i = 0; i < SIM_ARRAY_LEN(coap_presets); i++) {
		const struct coap_preset *p = &coap_presets[i];
		if (!strcmp(c->val, p->name)) {
			snprintf(cc->preset, sizeof(cc->preset), "%s", p->name);
			cc->ack_timeout = p->ack_timeout;
			cc->ack_random_factor = p->random_factor;
			cc->max_retransmit = p->max_retransmit;
			cc->nstart = p->nstart;
			return 0;
		}
		cands[i] = p->name;
	}
	return cc_fail(c,
		       "unknown preset '%s' in [%s] (presets: rfc7252 lossy-satellite "
		       "low-latency-lan)%s",
		       c->val, c->e->section,
		       did_you_mean(dym, sizeof(dym), c->val, cands, SIM_ARRAY_LEN(cands)));
}

/* RFC 7959 §2.2: block sizes are 2^(SZX+4), 16 to 1024 bytes; 0 = off. */
static int set_block_size(struct cc *c, const struct keydef *kd, void *obj)
{
	uint64_t v;

	if (scenario_parse_size(c->val, &v) || (v && (v < 16 || v > 1024 || (v & (v - 1)))))
		return cc_fail(c,
			       "bad block size '%s' for '%s' in [%s] (16, 32, 64, 128, 256, "
			       "512 or 1024 bytes, or 0 for none)",
			       c->val, c->e->key, c->e->section);
	uint32_t b = (uint32_t)v;
	memcpy(field(obj, kd), &b, sizeof(b));
	return 0;
}

/* [expect] tolerance: a fraction or a percentage. */
static int set_tolerance(struct cc *c, const struct keydef *kd, void *obj)
{
	double v;

	if (scenario_parse_prob(c->val, &v))
		return cc_fail(c,
			       "bad tolerance '%s' in [expect] (a fraction or a "
			       "percentage like 5%%)",
			       c->val);
	memcpy(field(obj, kd), &v, sizeof(v));
	return 0;
}

static const struct enumval backend_vals[] = {
    {"native", BACKEND_NATIVE},
    {"ns3", BACKEND_NS3},
    {"live", BACKEND_LIVE},
    {NULL, 0},
};
static const struct enumval ns3_device_vals[] = {
    {"p2p", NS3_P2P},
    {"csma", NS3_CSMA},
    {"lrwpan", NS3_LRWPAN},
    {NULL, 0},
};
static const struct enumval protocol_vals[] = {
    {"coap", PROTO_COAP},
    {"mqtt", PROTO_MQTT},
    {NULL, 0},
};
static const struct enumval method_vals[] = {
    {"GET", 1}, {"POST", 2}, {"PUT", 3}, {"DELETE", 4}, {NULL, 0},
};
static const struct enumval listen_vals[] = {
    {"rx", ENERGY_LISTEN_RX},
    {"idle", ENERGY_LISTEN_IDLE},
    {NULL, 0},
};

static const struct enumval security_vals[] = {
    {"none", SECURITY_NONE},
    {"dtls", SECURITY_DTLS},
    {"tls", SECURITY_TLS},
    {"on", SECURITY_ON},
    {NULL, 0},
};
static const struct enumval suite_vals[] = {
    {"psk-ccm8", SUITE_PSK_CCM8},
    {"ecdhe-ecdsa-ccm8", SUITE_ECDHE_ECDSA_CCM8},
    {NULL, 0},
};
static const struct enumval handshake_vals[] = {
    {"per-boot", HANDSHAKE_PER_BOOT},
    {"per-message", HANDSHAKE_PER_MESSAGE},
    {NULL, 0},
};

static const struct enumval congestion_vals[] = {
    {"default", COAP_CC_DEFAULT},
    {"cocoa", COAP_CC_COCOA},
    {NULL, 0},
};

#define F(type, member) offsetof(struct type, member), sizeof(((struct type *)0)->member)
#define ANY 0, 0, NULL
#define STR(x) #x
#define XSTR(x) STR(x)
#define TMAX SCN_TIME_MAX

/* The key tables: every key of every section, with its default (the text a
 * user would write) and one line of help; `coapsim keys` prints them
 * (scenario_key_info).  A new key is one line here plus its field and its
 * use. */

static const struct keydef scenario_keys[] = {
    {"name", set_name, F(scenario_cfg, name), ANY, NULL, NULL,
     "used in `output.dir` / `output.pcap_dir` as `{name}`; default: the file name "
     "without `.ini`"},
    {"duration", set_time, F(scenario_cfg, duration), 1, TMAX, "greater than 0", NULL,
     "60s",
     "traffic stops here; exchanges under way then run to their end, at most until the "
     "drain bound (README, \"Reading the results\"). Any time is at most 277,777 h (1e18 "
     "ns)"},
    {"warmup", set_time, F(scenario_cfg, warmup), 0, TMAX, NULL, NULL, "0s",
     "statistics ignore messages first sent before this"},
    {"seed", set_u64, F(scenario_cfg, seed), ANY, NULL, "1", "base seed of replication 0"},
    {"replications", set_uint, F(scenario_cfg, replications), 1, MAX_REPLICATIONS,
     "between 1 and 1000000", NULL, "1", "runs per point"},
    {"backend", set_enum, F(scenario_cfg, backend), ANY, backend_vals, "native",
     "coapsim's own engine; ns-3 3.37 (see [ns3]; exit 3 with the install command "
     "when coapsim was built without it); or `live`: a real server (see [live])"},
};

static const struct keydef link_keys[] = {
    {"latency", set_time, F(link_cfg, latency), 0, TMAX, NULL, NULL, "0",
     "one-way propagation delay"},
    {"jitter", set_dist, F(link_cfg, jitter), ANY, NULL, "none",
     "a distribution added per packet; packets overtake each other when it exceeds "
     "their spacing"},
    {"loss", set_loss, F(link_cfg, loss), ANY, NULL, "0",
     "Bernoulli probability per IP packet, or `gilbert(p=1%, r=25%, loss_good=0%, "
     "loss_bad=100%)`: the Gilbert-Elliott state moves once per packet (good to bad "
     "with p, bad to good with r), then the packet is lost with the state's "
     "probability"},
    {"rate", set_rate, F(link_cfg, rate_bps), 0, SCN_RATE_MAX, NULL, NULL, "0",
     "serialisation rate, `0` unlimited; packets wait in a FIFO"},
    {"queue", set_uint, F(link_cfg, queue), 1, MAX_QUEUE, "between 1 and 1000000", NULL,
     "64",
     "packets the link holds (waiting or being serialised); a datagram that does not "
     "fit whole is dropped (drop-tail)"},
    {"mtu", set_size, F(link_cfg, mtu), 1280, SIM_MAX_DATAGRAM, "between 1280 and 65535",
     NULL, "1280",
     "IPv6 MTU; larger datagrams become fragments (RFC 8200), each serialised and "
     "judged for loss on its own; the datagram is lost if any fragment is; it holds its "
     "queue slots until its last fragment has left"},
    {"duplicate", set_prob, F(link_cfg, duplicate), ANY, NULL, "0",
     "probability that a delivered datagram arrives twice (the copy one more jitter "
     "draw later)"},
};

static const struct keydef bottleneck_keys[] = {
    {"rate", set_rate, F(bottleneck_cfg, rate_bps), 0, SCN_RATE_MAX, NULL, NULL, "0",
     "serialisation rate, `0` unlimited"},
    {"queue", set_uint, F(bottleneck_cfg, queue), 1, MAX_QUEUE, "between 1 and 1000000",
     NULL, "64", "packets, drop-tail"},
    {"latency", set_time, F(bottleneck_cfg, latency), 0, TMAX, NULL, NULL, "0",
     "propagation delay"},
};

static const struct keydef group_keys[] = {
    {"count", set_uint, F(group_cfg, count), 1, MAX_COUNT, "between 1 and 10000000",
     NULL, "1", "endpoints"},
    {"protocol", set_enum, F(group_cfg, protocol), ANY, protocol_vals, "coap",
     "CoAP, or MQTT 3.1.1 over TCP through the broker"},
    {"traffic", set_traffic, 0, 0, ANY, NULL, "periodic(60s)",
     "`periodic(interval)`, `poisson(mean interval)`, `once`, or `observe(interval)`: "
     "register once as an RFC 7641 observer of `path`; the server notifies every "
     "interval until the scenario ends, then the client deregisters (GET with Observe "
     "= 1)"},
    {"start", set_start, F(group_cfg, start), ANY, NULL, NULL,
     "when the first message goes out (a distribution); default: `uniform(0, "
     "interval)`, `uniform(0, 60s)` for `once`"},
    {"payload", set_size, F(group_cfg, payload), 0, MAX_PAYLOAD, "at most 65000 bytes",
     NULL, "16", "request body (POST, PUT), or response body (GET, notifications)"},
    {"method", set_enum, F(group_cfg, method), ANY, method_vals, "POST",
     "CoAP request method"},
    {"confirmable", set_bool, F(group_cfg, confirmable), ANY, NULL, "yes",
     "CON or NON requests; for observe groups, CON or NON notifications"},
    {"path", set_path, F(group_cfg, path), ANY, NULL, "/sensors/{id}",
     "Uri-Path; `{id}` is the endpoint's number, counted over all groups in file "
     "order"},
    {"qos", set_uint, F(group_cfg, qos), 0, 2, "0, 1 or 2", NULL, "1",
     "MQTT QoS of every PUBLISH"},
    {"topic", set_topic, F(group_cfg, topic), ANY, NULL, "sensors/{id}",
     "MQTT topic of every PUBLISH; `{id}` as in `path`"},
    {"block_size", set_block_size, F(group_cfg, block_size), ANY, NULL, "0",
     "RFC 7959 block size (16..1024, `0` off): POST/PUT bodies larger than it go as "
     "Block1, GET responses come back as Block2; a transfer is one message for every "
     "statistic"},
    {"security", set_enum, F(group_cfg, security), ANY, security_vals, "none",
     "`dtls`: CoAP over DTLS 1.2 (CoAP unicast groups), `tls`: MQTT over TLS 1.2 "
     "(MQTT groups, port 8883); both TLS_PSK_WITH_AES_128_CCM_8 (RFC 7252 §9.1, RFC "
     "7925) by mbedTLS; keys in [security] and [dtls]; `on`: whichever the group's "
     "protocol takes (for a sweep over `protocol`)"},
    {"multicast", set_bool, F(group_cfg, multicast), ANY, NULL, "no",
     "the group is a multicast group (RFC 7252 §8): a requester next to the server "
     "sends one NON GET to `ff05::fd` (group k: `ff05::k:fd`) per `traffic`; each "
     "member answers after a random Leisure; members send nothing else"},
};

static const struct keydef server_keys[] = {
    {"processing", set_dist, F(server_cfg, processing), ANY, NULL, "const(0)",
     "delay before a response is ready (a distribution)"},
    {"separate_after", set_time, F(server_cfg, separate_after), 0, TMAX, NULL, NULL, "1s",
     "a CON request whose processing takes longer gets an empty ACK at this point and "
     "a separate CON response later (RFC 7252 §5.2.2)"},
    {"max_body", set_size, F(server_cfg, max_body), 1, 1e9, "between 1 B and 1GB", NULL,
     "64KiB",
     "largest Block1 body; larger gets 4.13 with Size1; a block out of order gets "
     "4.08"},
};

static const struct keydef broker_keys[] = {
    {"subscriber", set_filter, F(broker_cfg, subscriber), ANY, NULL, NULL,
     "topic filter of a backend subscriber next to the broker (`sensors/#`; "
     "`forwarded` counts what it gets); default: none"},
    {"nodelay", set_bool, F(broker_cfg, nodelay), ANY, NULL, "no",
     "TCP_NODELAY on the broker's end (`[tcp] profile = linux`): `no` lets Nagle's "
     "algorithm hold small segments, as mosquitto does by default (`set_tcp_nodelay "
     "false`)"},
};

static const struct keydef coap_keys[] = {
    {"preset", set_coap_preset, 0, 0, ANY, NULL, NULL,
     "`rfc7252` (2 s, 1.5, 4, 1), `lossy-satellite` (6 s, 1.5, 5, 1), "
     "`low-latency-lan` (500 ms, 1.5, 4, 1): ACK_TIMEOUT, ACK_RANDOM_FACTOR, "
     "MAX_RETRANSMIT, NSTART; keys in the section override it. Reasons for each in "
     "`sim/scenario/scenario.c`; default: none"},
    {"ack_timeout", set_time, F(coap_cfg, ack_timeout), 1, 3600e9,
     "greater than 0 and at most 1h", NULL, "2s",
     "the initial timeout is drawn once per message from [ACK_TIMEOUT, ACK_TIMEOUT x "
     "ACK_RANDOM_FACTOR] and doubles per retransmission"},
    {"ack_random_factor", set_real, F(coap_cfg, ack_random_factor), 1.0, 100.0,
     "between 1 and 100", &scenario_plain_units, "1.5", "ACK_RANDOM_FACTOR"},
    {"max_retransmit", set_uint, F(coap_cfg, max_retransmit), 0, 20, "between 0 and 20",
     NULL, "4", "MAX_RETRANSMIT: retransmissions of a CON message before it times out"},
    {"nstart", set_uint, F(coap_cfg, nstart), 1, COAP_MAX_NSTART,
     "between 1 and " XSTR(COAP_MAX_NSTART), NULL, "1",
     "outstanding CON exchanges per endpoint; more messages wait. NON requests do not "
     "hold a slot"},
    {"default_leisure", set_time, F(coap_cfg, default_leisure), 0, TMAX, NULL, NULL,
     "5s",
     "multicast members answer after a uniform draw in [0, leisure]; `0` uses the §8.2 "
     "lower bound: response size x group size / rate of the bottleneck (or of the "
     "uplink without one)"},
    {"congestion", set_enum, F(coap_cfg, congestion), ANY, congestion_vals, "default",
     "`default` (RFC 7252 timers) or `cocoa`: per-endpoint CoCoA RTO (strong estimator "
     "K=4 from exchanges without retransmission, weak K=1 from those with one or two, "
     "overall RTO moved 1/2 and 1/4 towards them; backoff x3 below 1 s, x2 up to 3 s, "
     "x1.5 above; aging to 2 s; blind RTO 2 s x outstanding exchanges)"},
    {"notify_con_interval", set_time, F(coap_cfg, notify_con_interval), 1, TMAX,
     "greater than 0", NULL, "24h",
     "observe: a CON notification at least this often (RFC 7641 §4.5)"},
};

static const struct keydef mqtt_keys[] = {
    {"keepalive", set_time, F(mqtt_cfg, keepalive), 0, MAX_KEEPALIVE * 1e9,
     "at most 65535s", NULL, "60s",
     "PINGREQ after this long without sending or without receiving (as paho 1.6 "
     "does: a QoS 0 publisher pings while it publishes); no PINGRESP within another keepalive "
     "drops the connection; the broker drops a client silent for 1.5 x keepalive; `0` "
     "disables. Whole seconds"},
    {"clean_session", set_bool, F(mqtt_cfg, clean_session), ANY, NULL, "yes",
     "`yes`: each connection starts a new session at the broker; `no`: the broker keeps it. "
     "Either way the client resends its unacknowledged PUBLISHes (DUP) after a "
     "reconnection, as paho does; with `no` a QoS 2 message past PUBREC resends PUBREL"},
    {"inflight", set_uint, F(mqtt_cfg, inflight), 1, 64, "between 1 and 64", NULL, "20",
     "unacknowledged QoS 1/2 PUBLISHes a client may have; more wait in its backlog "
     "(their latency counts from the publish). 20 is paho's `max_inflight_messages` "
     "and mosquitto's `max_inflight_messages`"},
    {"nodelay", set_bool, F(mqtt_cfg, nodelay), ANY, NULL, "no",
     "TCP_NODELAY on the client's end (`[tcp] profile = linux`): `no` lets Nagle's "
     "algorithm hold small segments, as paho does (it never sets TCP_NODELAY)"},
};

static const struct enumval tcp_profile_vals[] = {
    {"linux", TCP_CFG_LINUX},
    {"rfc6298", TCP_CFG_RFC6298},
    {NULL, 0},
};

static const struct keydef tcp_keys[] = {
    {"profile", set_enum, F(tcp_cfg, profile), ANY, tcp_profile_vals, "linux",
     "`linux`: what the usual MQTT baseline runs on, a Linux broker and a paho client "
     "on Linux: Linux's RTO estimator (RTTVAR never below 200 ms), timestamps, SACK "
     "with RACK and PRR, a window counted in packets (10 at first), tail loss probe, "
     "Nagle's algorithm unless `nodelay`, Linux's quick/delayed ACKs, a broker that "
     "reads as mosquitto does (checked against them by `make validate`: "
     "docs/models.md); `rfc6298`: the textbook model (RTO floor `rto_min`, RFC 3390 "
     "window, no Nagle, `delayed_ack`)"},
    {"rto_initial", set_time, F(tcp_cfg, rto_initial), 1, TMAX, "greater than 0", NULL,
     "1s", "RFC 6298 initial retransmission timeout"},
    {"rto_min", set_time, F(tcp_cfg, rto_min), 1, TMAX, "greater than 0", NULL, "1s",
     "`rfc6298`: lower bound of the retransmission timeout (`linux` floors its "
     "variance term at 200 ms instead)"},
    {"rto_max", set_time, F(tcp_cfg, rto_max), 1, TMAX, "greater than 0", NULL, "60s",
     "upper bound of the retransmission timeout, which doubles per timeout"},
    {"mss", set_size, F(tcp_cfg, mss), 1, SIM_MAX_DATAGRAM, "between 1 and 65535", NULL,
     "536", "segment size"},
    {"delayed_ack", set_time, F(tcp_cfg, delayed_ack), 0, TMAX, NULL, NULL, "0",
     "`rfc6298`: `0` acknowledges every segment at once, else at most this delay and "
     "every second segment at once; `linux`: the delay after the quick ACKs (`0`: "
     "Linux's 40 ms)"},
    {"syn_retries", set_uint, F(tcp_cfg, syn_retries), 1, 10, "between 1 and 10", NULL,
     "6", "SYN retransmissions before a connect fails (Linux `tcp_syn_retries`; `linux` "
     "adds its 4 SYN timeouts without backoff)"},
    {"data_retries", set_uint, F(tcp_cfg, data_retries), 1, 30, "between 1 and 30", NULL,
     "15",
     "retransmissions of data before the connection fails (Linux `tcp_retries2`)"},
};

static const struct keydef security_keys[] = {
    {"psk_identity", set_identity, F(security_cfg, psk_identity), ANY, NULL, "coapsim",
     "the PSK identity the clients send (RFC 4279)"},
    {"psk", set_psk, F(security_cfg, psk), ANY, NULL, "636f617073696d2d70736b",
     "the pre-shared key, in hex, 1 to 64 bytes (the default is the ASCII `coapsim-psk`, "
     "as `coap-server-openssl -k coapsim-psk` takes it)"},
    {"server_psk", set_psk, F(security_cfg, server_psk), ANY, NULL, NULL,
     "the server's key when it is not `psk` (a misconfigured fleet: every handshake "
     "fails); default: `psk`"},
    {"handshake", set_enum, F(security_cfg, handshake), ANY, handshake_vals, "per-boot",
     "`per-boot`: a client handshakes once and keeps its session (again only after a "
     "failed one); `per-message`: every message starts a new session (a sensor that "
     "forgets its session while it sleeps)"},
    {"suite", set_enum, F(security_cfg, suite), ANY, suite_vals, "psk-ccm8",
     "`psk-ccm8`: TLS_PSK_WITH_AES_128_CCM_8 (RFC 7925's mandatory suite); "
     "`ecdhe-ecdsa-ccm8`: TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8, the server holding a P-256 "
     "certificate the clients verify (made from the seed), the heavier handshake; "
     "decrypt its captures with `[output] keylog`"},
    {"resumption", set_bool, F(security_cfg, resumption), ANY, NULL, "no",
     "`yes`: a client that starts again (DTLS: a new session; TLS: a new connection) "
     "offers its last session's ticket (RFC 5077) and the handshake is the abbreviated "
     "one, no key exchange; the server keeps no state for it"},
    {"session_lifetime", set_time, F(security_cfg, session_lifetime), SIM_S(1), TMAX,
     "at least 1 s", NULL, "24h",
     "the server accepts a ticket this long after its session began; an older one gets "
     "a full handshake"},
};

static const struct keydef dtls_keys[] = {
    {"timeout_initial", set_time, F(security_cfg, timeout_initial), 1, TMAX,
     "greater than 0", NULL, "1s",
     "the handshake's first retransmission timeout (RFC 6347 §4.2.4.1; RFC 7925 "
     "suggests 9 s for constrained networks)"},
    {"timeout_max", set_time, F(security_cfg, timeout_max), 1, TMAX, "greater than 0",
     NULL, "60s",
     "the timeout doubles up to this; a flight still unanswered after it fails the "
     "handshake (mbedTLS)"},
};

static const struct keydef energy_keys[] = {
    {"radio", set_radio, 0, 0, ANY, NULL, "cc2420",
     "preset: `cc2420` (TI SWRS041: 3 V, TX 17.4 mA, RX 18.8 mA, idle 0.426 mA, sleep "
     "0.02 mA), `cc2538` (TI SWRS096: TX 24 mA, RX 20 mA, 0.6 mA, 1.3 uA), `nrf52840` "
     "(Nordic product specification, approximate: TX 4.8 mA, RX 4.6 mA, 0.25 mA, 3.16 "
     "uA), all at 250 kbit/s; the keys below override it"},
    {"voltage", set_real, F(energy_cfg, voltage_v), 1e-9, 1000,
     "greater than 0 and at most 1000V", &scenario_volt_units, NULL,
     "supply voltage; default: the preset's"},
    {"tx", set_real, F(energy_cfg, tx_ma), 0, 1e6, "between 0 and 1000A",
     &scenario_current_units, NULL, "current while transmitting; default: the preset's"},
    {"rx", set_real, F(energy_cfg, rx_ma), 0, 1e6, "between 0 and 1000A",
     &scenario_current_units, NULL, "current while receiving; default: the preset's"},
    {"idle", set_real, F(energy_cfg, idle_ma), 0, 1e6, "between 0 and 1000A",
     &scenario_current_units, NULL, "current while idle; default: the preset's"},
    {"sleep", set_real, F(energy_cfg, sleep_ma), 0, 1e6, "between 0 and 1000A",
     &scenario_current_units, NULL, "current while asleep; default: the preset's"},
    {"bitrate", set_rate, F(energy_cfg, bitrate_bps), 1, SCN_RATE_MAX, "greater than 0",
     NULL, NULL,
     "airtime of frames (IPv6 packet + 17 bytes of 802.15.4 framing); default: the "
     "preset's"},
    {"battery", set_real, F(energy_cfg, battery_mah), 1e-9, 1e12, "greater than 0",
     &scenario_charge_units, "2400mAh",
     "for `lifetime_days` (over the steady state, `warmup` to `duration`)"},
    {"listen", set_enum, F(energy_cfg, listen), ANY, listen_vals, "rx",
     "current while the radio is awake waiting for a frame: `rx` (a receiver "
     "listening, the receive current) or `idle` (the idle current)"},
};

static const struct keydef output_keys[] = {
    {"pcap", set_bool, F(output_cfg, pcap), ANY, NULL, "yes", "write captures"},
    {"dir", set_dir, F(output_cfg, dir), ANY, NULL, "results/{name}",
     "results folder (`--out` replaces it); `{name}` is the only placeholder, any "
     "other `{...}` is an error"},
    {"pcap_dir", set_dir, F(output_cfg, pcap_dir), ANY, NULL, "pcap/{name}",
     "capture folder (`--out DIR` makes it `DIR/pcap`); placeholders as for `dir`"},
    {"exchanges", set_bool, F(output_cfg, exchanges), ANY, NULL, "no",
     "`exchanges.csv`: one row per message (endpoint, group, first transmission, "
     "outcome: `completed`, `timeout`, `reset`, `error`, `sent` for NON and QoS 0, "
     "`lost` for an MQTT message its clean session lost, `unfinished` at the drain "
     "bound; latency (MQTT: from the application's publish), transmissions (MQTT: "
     "PUBLISHes, DUP resends included), CoAP's initial timeout `rto_ms`: the "
     "per-exchange RTO trace, and `end_s`: when it ended)"},
    {"keylog", set_bool, F(output_cfg, keylog), ANY, NULL, "no",
     "with `pcap`: `RUN.keys` beside each capture, an NSS key log (CLIENT_RANDOM lines) "
     "of every DTLS/TLS session, for `tshark -o tls.keylog_file:...`"},
    {"pcap_max", set_size, F(output_cfg, pcap_max), 0, SCN_SIZE_MAX, NULL, NULL, "0",
     "rotate a capture file before it grows past this size; `0` never"},
};

static const struct keydef ns3_keys[] = {
    {"device", set_enum, F(ns3_cfg, device), ANY, ns3_device_vals, "p2p",
     "`p2p`: a PointToPointNetDevice pair (rate per direction); `csma`: a two-node "
     "CSMA segment (one rate: `rate` must be the same up and down); `lrwpan`: an IEEE "
     "802.15.4 pair (LrWpanNetDevice, own 2.4 GHz channel, no MAC ACKs) with 6LoWPAN, "
     "`rate` unset and `mtu` 1280; the latency is the radio's propagation delay and "
     "the loss takes whole 802.15.4 frames"},
};

static const struct enumval live_transport_vals[] = {
    {"udp", LIVE_UDP},
    {"tun", LIVE_TUN},
    {NULL, 0},
};

int scenario_parse_coap_uri(const char *s, char *host, size_t hostlen, uint16_t *port)
{
	return scenario_parse_uri(s, "coap", 5683, host, hostlen, port);
}

int scenario_parse_uri(const char *s, const char *scheme, uint16_t def_port, char *host,
		       size_t hostlen, uint16_t *port)
{
	const char *h, *end;
	size_t sl = strlen(scheme);
	if (strncmp(s, scheme, sl) || strncmp(s + sl, "://", 3))
		return SIM_ERR_INVAL;
	h = s + sl + 3;
	if (*h == '[') {
		h++;
		end = strchr(h, ']');
		if (!end)
			return SIM_ERR_INVAL;
	} else {
		end = h + strcspn(h, ":/");
	}
	size_t hl = (size_t)(end - h);
	if (!hl || hl >= hostlen)
		return SIM_ERR_INVAL;
	const char *p = end + (*end == ']');
	unsigned long v = def_port;
	if (*p == ':') {
		char *e;
		v = strtoul(p + 1, &e, 10);
		if (e == p + 1 || v == 0 || v > 65535)
			return SIM_ERR_INVAL;
		p = e;
	}
	if (*p && strcmp(p, "/"))
		return SIM_ERR_INVAL;
	memcpy(host, h, hl);
	host[hl] = 0;
	*port = (uint16_t)v;
	return 0;
}

static int set_target(struct cc *c, const struct keydef *kd, void *obj)
{
	struct live_cfg *l = obj;
	(void)kd;
	bool mqtts = !strncmp(c->val, "mqtts://", 8);
	l->mqtt = mqtts || !strncmp(c->val, "mqtt://", 7);
	l->coaps = !strncmp(c->val, "coaps://", 8);
	l->secure = l->coaps || mqtts;
	const char *scheme = mqtts ? "mqtts" : l->mqtt ? "mqtt" : l->coaps ? "coaps" : "coap";
	uint16_t port = mqtts ? 8883 : l->mqtt ? 1883 : l->coaps ? 5684 : 5683;
	if (scenario_parse_uri(c->val, scheme, port, l->host, sizeof(l->host), &l->port) == 0)
		return 0;
	return cc_fail(c,
		       "bad target '%s' in [live] (coap://HOST[:PORT], coaps://HOST[:PORT] for "
		       "DTLS, mqtt://HOST[:PORT], or mqtts://HOST[:PORT] for TLS, an IPv6 "
		       "address in brackets: coap://[::1]:5683)",
		       c->val);
}

/* ADDRESS or ADDRESS/PREFIX, IPv4 or IPv6 (the prefix leaves at least one
 * host bit, and at most 24: 16 million addresses). */
static int set_source(struct cc *c, const struct keydef *kd, void *obj)
{
	struct live_cfg *l = obj;
	char a[64];
	uint8_t bin[16];
	const char *v = c->val, *slash = strchr(v, '/');
	size_t al = slash ? (size_t)(slash - v) : strlen(v);
	(void)kd;
	if (al >= sizeof(a) || strlen(v) >= sizeof(l->source))
		goto bad;
	memcpy(a, v, al);
	a[al] = 0;
	bool v6 = strchr(a, ':') != NULL;
	if (inet_pton(v6 ? AF_INET6 : AF_INET, a, bin) != 1)
		goto bad;
	if (slash) {
		char *e;
		long bits = strtol(slash + 1, &e, 10), max = v6 ? 128 : 32;
		if (e == slash + 1 || *e || bits < max - 24 || bits >= max)
			goto bad;
	}
	memcpy(l->source, v, strlen(v) + 1);
	return 0;
bad:
	return cc_fail(c,
		       "bad source '%s' in [live] (an address or ADDRESS/PREFIX with 1 to "
		       "24 host bits, e.g. 127.0.0.0/24)",
		       v);
}

/* A shell command: one line, no control characters. */
static int set_command(struct cc *c, const struct keydef *kd, void *obj)
{
	const char *s = c->val;
	if (!*s || has_ctrl(s) || strlen(s) >= kd->size)
		return cc_fail(c, "bad command for '%s' in [%s] (one line, under %zu characters)",
			       c->e->key, c->e->section, kd->size);
	memcpy(field(obj, kd), s, strlen(s) + 1);
	return 0;
}

static const struct keydef live_keys[] = {
    {"target", set_target, 0, 0, ANY, NULL, NULL,
     "the server a live run loads: `coap://HOST[:PORT]` (port 5683 by default) for "
     "CoAP groups, `mqtt://HOST[:PORT]` (1883) for MQTT groups; `backend = live` "
     "needs it, except with `netns = yes` (then `[2001:db8::1]`, the simulator's "
     "server address); only loopback unless the run is given `--allow-remote`"},
    {"transport", set_enum, F(live_cfg, transport), ANY, live_transport_vals, "udp",
     "`udp`: a UDP socket per endpoint (its own source port), no privileges, CoAP "
     "only; `tun`: one TUN device, each endpoint its simulator address "
     "(2001:db8:1::/48), packets built and parsed by coapsim, CoAP and MQTT (over the "
     "TCP model), root or CAP_NET_ADMIN"},
    {"netns", set_bool, F(live_cfg, netns), ANY, NULL, "no",
     "`tun`: put the target (its address, and the `server` command) in a network "
     "namespace coapsim makes and removes; `no`: the target address is given to the "
     "TUN device on this host (a documentation or unique-local IPv6 address)"},
    {"server", set_command, F(live_cfg, server), ANY, NULL, NULL,
     "a shell command that starts the target (in the namespace with `netns = yes`), "
     "stopped when the run ends; no default: the target is already running"},
    {"ramp", set_time, F(live_cfg, ramp), 0, TMAX, "0 or more", NULL, "0s",
     "the endpoints begin in turn over this long (endpoint i at its `start` plus "
     "ramp x i / count); applied on every backend, so a simulated run compares"},
    {"source", set_source, 0, 0, ANY, NULL, NULL,
     "the address (or `ADDRESS/PREFIX`: its hosts in turn) the endpoints' sockets "
     "bind to; a source address has some 28,000 ephemeral ports, so a fleet past that "
     "needs several (`127.0.0.0/24`); no default: the kernel picks"},
    {"lag_limit", set_time, F(live_cfg, lag_limit), 0, 60e9, "between 0 and 60 s", NULL,
     "10ms",
     "a run whose generator lag p99 (how late its timers fired) passed this is "
     "flagged as not trustworthy"},
};

/* [expect]: every other key is a metric (apply_expect). */
static const struct keydef expect_keys[] = {
    {"tolerance", set_tolerance, F(scenario_cfg, baseline_tolerance), ANY, NULL, "1%",
     "the relative change `coapsim check --baseline` ignores"},
};

struct secdef {
	const char *name;
	const struct keydef *keys;
	size_t n_keys;
};

#define SEC(name, keys)                                                                  \
	{                                                                                \
		name, keys, SIM_ARRAY_LEN(keys)                                          \
	}

static const struct secdef secs[SEC_COUNT] = {
    [SEC_SCENARIO] = SEC("scenario", scenario_keys),
    [SEC_LINK] = SEC("link", link_keys),
    [SEC_LINK_UP] = SEC("link.up", link_keys),
    [SEC_LINK_DOWN] = SEC("link.down", link_keys),
    [SEC_BOTTLENECK] = SEC("bottleneck", bottleneck_keys),
    [SEC_GROUP] = SEC("group", group_keys),
    [SEC_SERVER] = SEC("server", server_keys),
    [SEC_BROKER] = SEC("broker", broker_keys),
    [SEC_COAP] = SEC("coap", coap_keys),
    [SEC_MQTT] = SEC("mqtt", mqtt_keys),
    [SEC_TCP] = SEC("tcp", tcp_keys),
    [SEC_SECURITY] = SEC("security", security_keys),
    [SEC_DTLS] = SEC("dtls", dtls_keys),
    [SEC_ENERGY] = SEC("energy", energy_keys),
    [SEC_OUTPUT] = SEC("output", output_keys),
    [SEC_NS3] = SEC("ns3", ns3_keys),
    [SEC_LIVE] = SEC("live", live_keys),
    [SEC_EXPECT] = SEC("expect", expect_keys),
};

static const struct keydef *find_key(enum sec_id sec, const char *key)
{
	size_t i;

	for (i = 0; i < secs[sec].n_keys; i++)
		if (!strcmp(secs[sec].keys[i].name, key))
			return &secs[sec].keys[i];
	return NULL;
}

/* ------------------------------------------------------------------ */
/* Sections, keys and entries */

static bool valid_group_name(const char *s)
{
	size_t n = strlen(s), i;

	if (!n || n > GROUP_NAME_MAX)
		return false;
	if (!isalpha((unsigned char)s[0]) && s[0] != '_')
		return false;
	for (i = 1; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '_' && s[i] != '-')
			return false;
	return true;
}

/* Metric names: segments of letters, digits, '_' and '-' joined by dots. */
static bool valid_metric(const char *s)
{
	size_t n = strlen(s), i;

	if (!n || n >= sizeof(((struct expect_cfg *)0)->metric))
		return false;
	if (s[0] == '.' || s[n - 1] == '.')
		return false;
	for (i = 0; i < n; i++) {
		if (s[i] == '.') {
			if (s[i + 1] == '.')
				return false;
		} else if (!isalnum((unsigned char)s[i]) && s[i] != '_' && s[i] != '-') {
			return false;
		}
	}
	return true;
}

static int find_group(const struct scenario_src *src, const char *name)
{
	size_t i;

	for (i = 0; i < src->n_groups; i++)
		if (!strcmp(src->groups[i].name, name))
			return (int)i;
	return -1;
}

/* Resolve a section name.  New groups are added when `line` > 0 (a header
 * in the file); a --set may only name existing ones. */
static int resolve_section(struct scenario_src *src, const char *name, struct loc at,
			   enum sec_id *sec, int *group, char *err, size_t errlen)
{
	const char *cands[SEC_COUNT + 1];
	char alt[80], dym[120];
	const char *gname, *dot;
	size_t i, n = 0;
	int g;

	*group = -1;
	for (i = 0; i < SEC_COUNT; i++) {
		if (i != SEC_GROUP && !strcmp(name, secs[i].name)) {
			*sec = (enum sec_id)i;
			return 0;
		}
	}
	if (!strcmp(name, "group"))
		return fail(src, at, err, errlen, "[group] needs a name: [group.NAME]");
	if (!strncmp(name, "group.", 6)) {
		gname = name + 6;
		if (!valid_group_name(gname))
			return fail(src, at, err, errlen,
				    "bad group name '%s' (a letter or '_', then letters, "
				    "digits, '_' or '-', at most %d)",
				    gname, GROUP_NAME_MAX);
		*sec = SEC_GROUP;
		g = find_group(src, gname);
		if (g >= 0) {
			*group = g;
			return 0;
		}
		if (at.set >= 0) {
			const char *gc[SIM_MAX_GROUPS];

			for (i = 0; i < src->n_groups; i++)
				gc[i] = src->groups[i].name;
			return fail(
			    src, at, err, errlen,
			    "unknown group '%s': the file has no [group.%s]%s", gname,
			    gname,
			    did_you_mean(dym, sizeof(dym), gname, gc, src->n_groups));
		}
		if (src->n_groups == SIM_MAX_GROUPS)
			return fail(src, at, err, errlen, "too many groups (at most %d)",
				    SIM_MAX_GROUPS);
		snprintf(src->groups[src->n_groups].name, sizeof(src->groups[0].name),
			 "%s", gname);
		src->groups[src->n_groups].line = at.line;
		*group = (int)src->n_groups++;
		return 0;
	}
	for (i = 0; i < SEC_COUNT; i++)
		if (i != SEC_GROUP)
			cands[n++] = secs[i].name;
	dot = strchr(name, '.');
	if (dot && strlen(dot + 1) < 64) {
		snprintf(alt, sizeof(alt), "group.%s", dot + 1);
		cands[n++] = alt;
	}
	return fail(src, at, err, errlen, "unknown section [%s]%s", name,
		    did_you_mean(dym, sizeof(dym), name, cands, n));
}

static int check_key(const struct scenario_src *src, enum sec_id sec, const char *section,
		     const char *key, struct loc at, char *err, size_t errlen)
{
	const char *cands[16];
	char dym[96];
	size_t i;

	if (!*key)
		return fail(src, at, err, errlen, "missing key before '='");
	if (sec == SEC_EXPECT) {
		if (!valid_metric(key))
			return fail(src, at, err, errlen,
				    "bad metric name '%s' in [expect] (letters, digits, "
				    "'_', '-' and dots; write 'metric = OP VALUE')",
				    key);
		return 0;
	}
	if (find_key(sec, key))
		return 0;
	for (i = 0; i < secs[sec].n_keys && i < SIM_ARRAY_LEN(cands); i++)
		cands[i] = secs[sec].keys[i].name;
	return fail(src, at, err, errlen, "unknown key '%s' in [%s]%s", key, section,
		    did_you_mean(dym, sizeof(dym), key, cands, i));
}

static struct entry *find_entry(const struct scenario_src *src, enum sec_id sec,
				int group, const char *key)
{
	size_t i;

	for (i = 0; i < src->n_ents; i++) {
		struct entry *e = &src->ents[i];

		if (e->sec == sec && e->group == group && !strcmp(e->key, key))
			return e;
	}
	return NULL;
}

static void where(char *buf, size_t len, const struct scenario_src *src, struct loc at)
{
	if (at.set >= 0)
		snprintf(buf, len, "by --set %s", src->sets[at.set]);
	else
		snprintf(buf, len, "on line %d", at.line);
}

/* Add a file entry, or override / add one from a --set. */
static int add_entry(struct scenario_src *src, enum sec_id sec, int group,
		     const char *section, const char *key, const char *value,
		     struct loc at, char *err, size_t errlen)
{
	struct entry *e, *ne;
	char first[128];
	char *v;
	int rc;

	rc = check_key(src, sec, section, key, at, err, errlen);
	if (rc)
		return rc;
	if (!*value)
		return fail(src, at, err, errlen, "missing value for '%s' in [%s]", key,
			    section);
	/* [expect] may bound one metric twice (a range: >= a and <= b). */
	if (sec == SEC_EXPECT && at.set < 0 && strcmp(key, "tolerance"))
		e = NULL;
	else
		e = find_entry(src, sec, group, key);
	if (e && at.set < 0) {
		where(first, sizeof(first), src, e->at);
		return fail(src, at, err, errlen,
			    "duplicate key '%s' in [%s] (first set %s)", key, section,
			    first);
	}
	if (e) {
		v = strdup(value);
		if (!v)
			return nomem(src, err, errlen);
		free(e->value);
		e->value = v;
		e->at = at;
		return 0;
	}
	if (src->n_ents == src->cap_ents) {
		size_t cap = src->cap_ents ? src->cap_ents * 2 : 32;

		ne = realloc(src->ents, cap * sizeof(*ne));
		if (!ne)
			return nomem(src, err, errlen);
		src->ents = ne;
		src->cap_ents = cap;
	}
	e = &src->ents[src->n_ents];
	memset(e, 0, sizeof(*e));
	e->section = strdup(section);
	e->key = strdup(key);
	e->value = strdup(value);
	if (!e->section || !e->key || !e->value) {
		free(e->section);
		free(e->key);
		free(e->value);
		return nomem(src, err, errlen);
	}
	e->sec = sec;
	e->group = group;
	e->at = at;
	e->sweep = -1;
	src->n_ents++;
	if (sec == SEC_EXPECT)
		src->n_expect++;
	return 0;
}

/* ------------------------------------------------------------------ */
/* Reading the file with inih */

struct pstate {
	struct scenario_src *src;
	const char *p, *end;
	int line;
	bool in_section;
	enum sec_id sec;
	int group;
	char section[256];
	int rc;
	char *err;
	size_t errlen;
};

static int ps_fail(struct pstate *ps, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int ps_fail(struct pstate *ps, const char *fmt, ...)
{
	struct loc at = {ps->line, -1};
	va_list ap;

	va_start(ap, fmt);
	verr(ps->src, at, ps->err, ps->errlen, fmt, ap);
	va_end(ap);
	ps->rc = SIM_ERR_INVAL;
	return SIM_ERR_INVAL;
}

/* Length of s[0..len) before an inline comment: ';' after white space,
 * as inih has it. */
static size_t strip_comment(const char *s, size_t len)
{
	size_t i;

	for (i = 1; i < len; i++)
		if (s[i] == ';' && isspace((unsigned char)s[i - 1]))
			return i;
	return len;
}

static int section_header(struct pstate *ps, char *s)
{
	struct loc at = {ps->line, -1};
	char *rb = strchr(s, ']'), *name;
	size_t n;
	int rc;

	if (!rb)
		return ps_fail(ps, "missing ']' in section header");
	if (rb[1])
		return ps_fail(ps, "unexpected text after ']'");
	*rb = '\0';
	name = s + 1;
	while (isspace((unsigned char)*name))
		name++;
	n = strlen(name);
	while (n && isspace((unsigned char)name[n - 1]))
		name[--n] = '\0';
	if (!n)
		return ps_fail(ps, "empty section name");
	rc =
	    resolve_section(ps->src, name, at, &ps->sec, &ps->group, ps->err, ps->errlen);
	if (rc) {
		ps->rc = rc;
		return rc;
	}
	if (ps->sec == SEC_BOTTLENECK)
		ps->src->bottleneck = true;
	snprintf(ps->section, sizeof(ps->section), "%s", name);
	ps->in_section = true;
	*rb = ']';
	/* inih's own copy is cut at 50 bytes; the handler uses ours. */
	return 0;
}

/* inih reader: one source line per call, so inih's line numbers and ours
 * agree.  Lines are stripped of surrounding white space (so inih never sees
 * a continuation line) and of comments, then checked here so that every
 * syntax error gets a message. */
static char *reader(char *str, int num, void *stream)
{
	struct pstate *ps = stream;
	const char *s, *eol;
	size_t len;

	if (ps->rc || ps->p >= ps->end)
		return NULL;
	s = ps->p;
	eol = memchr(s, '\n', (size_t)(ps->end - s));
	if (!eol)
		eol = ps->end;
	ps->p = eol < ps->end ? eol + 1 : eol;
	ps->line++;
	len = (size_t)(eol - s);
	if (ps->line == 1 && len >= 3 && !memcmp(s, "\xEF\xBB\xBF", 3)) {
		s += 3;
		len -= 3;
	}
	while (len && isspace((unsigned char)*s)) {
		s++;
		len--;
	}
	if (len && (*s == ';' || *s == '#'))
		len = 0;
	len = strip_comment(s, len);
	while (len && isspace((unsigned char)s[len - 1]))
		len--;
	if (num < 4 || len > (size_t)num - 3) {
		ps_fail(ps, "line too long (%zu characters, at most %d)", len,
			num < 4 ? 0 : num - 3);
		return NULL;
	}
	memcpy(str, s, len);
	str[len] = '\0';
	if (!len)
		return str;
	if (str[0] == '[') {
		if (section_header(ps, str))
			return NULL;
		return str;
	}
	if (!strpbrk(str, "=:")) {
		ps_fail(ps, "expected 'key = value' or '[section]'");
		return NULL;
	}
	return str;
}

static int handler(void *user, const char *section, const char *name, const char *value)
{
	struct pstate *ps = user;
	struct loc at = {ps->line, -1};
	int rc;

	(void)section;
	if (ps->rc)
		return 0;
	if (!ps->in_section) {
		ps_fail(ps, "key '%s' outside any section", name);
		return 0;
	}
	rc = add_entry(ps->src, ps->sec, ps->group, ps->section, name, value, at, ps->err,
		       ps->errlen);
	if (rc) {
		ps->rc = rc;
		return 0;
	}
	return 1;
}

/* ------------------------------------------------------------------ */
/* --set */

static char *trimmed_dup(const char *s, size_t n)
{
	char *r;

	while (n && isspace((unsigned char)*s)) {
		s++;
		n--;
	}
	while (n && isspace((unsigned char)s[n - 1]))
		n--;
	r = malloc(n + 1);
	if (r) {
		memcpy(r, s, n);
		r[n] = '\0';
	}
	return r;
}

static int apply_set(struct scenario_src *src, size_t si, char *err, size_t errlen)
{
	struct loc at = {0, (int)si};
	const char *s = src->sets[si], *eq = strchr(s, '=');
	char *key = NULL, *val = NULL, *dot;
	const char *section, *name;
	enum sec_id sec;
	int group, rc;

	if (!eq)
		return fail(src, at, err, errlen, "expected KEY=VALUE");
	key = trimmed_dup(s, (size_t)(eq - s));
	val = trimmed_dup(eq + 1, strlen(eq + 1));
	if (!key || !val) {
		rc = nomem(src, err, errlen);
		goto out;
	}
	if (!strncmp(key, "expect.", 7)) {
		key[6] = '\0';
		name = key + 7;
	} else {
		dot = strrchr(key, '.');
		if (!dot) {
			rc = fail(src, at, err, errlen,
				  "KEY must be section.key (e.g. link.loss)");
			goto out;
		}
		*dot = '\0';
		name = dot + 1;
	}
	section = key;
	rc = resolve_section(src, section, at, &sec, &group, err, errlen);
	if (rc)
		goto out;
	if (sec == SEC_BOTTLENECK)
		src->bottleneck = true;
	rc = add_entry(src, sec, group, section, name, val, at, err, errlen);
out:
	free(key);
	free(val);
	return rc;
}

/* ------------------------------------------------------------------ */
/* Sweeps */

static void free_sweep(struct sweep *sw)
{
	size_t i;

	for (i = 0; i < sw->n; i++)
		free(sw->vals[i]);
	free(sw->vals);
	free(sw->key);
}

/* Append prefix + item[0..n) + suffix to sw->vals. */
static int push_val(struct sweep *sw, size_t *cap, const char *pre, size_t npre,
		    const char *item, size_t n, const char *suf)
{
	size_t nsuf = strlen(suf);
	char **nv, *v;

	if (sw->n == *cap) {
		size_t c = *cap ? *cap * 2 : 8;

		nv = realloc(sw->vals, c * sizeof(*nv));
		if (!nv)
			return SIM_ERR_NOMEM;
		sw->vals = nv;
		*cap = c;
	}
	v = malloc(npre + n + nsuf + 1);
	if (!v)
		return SIM_ERR_NOMEM;
	memcpy(v, pre, npre);
	memcpy(v + npre, item, n);
	memcpy(v + npre + n, suf, nsuf + 1);
	sw->vals[sw->n++] = v;
	return 0;
}

/* A range bound: number and unit suffix (trimmed) of s[0..n). */
static int range_part(const char *s, size_t n, double *v, char *unit, size_t ulen)
{
	char buf[128];
	const char *end;
	size_t k;

	while (n && isspace((unsigned char)*s)) {
		s++;
		n--;
	}
	while (n && isspace((unsigned char)s[n - 1]))
		n--;
	if (!n || n >= sizeof(buf))
		return SIM_ERR_INVAL;
	memcpy(buf, s, n);
	buf[n] = '\0';
	if (scenario_number(buf, v, &end))
		return SIM_ERR_INVAL;
	while (isspace((unsigned char)*end))
		end++;
	k = strlen(end);
	if (k >= ulen)
		return SIM_ERR_INVAL;
	memcpy(unit, end, k + 1);
	return 0;
}

static int expand_range(const struct scenario_src *src, const struct entry *e,
			struct sweep *sw, size_t *cap, const char *pre, size_t npre,
			const char *body, size_t nbody, const char *suf, char *err,
			size_t errlen)
{
	const char *dd = NULL, *st = NULL, *p;
	char u1[32], u2[32], u3[32], num[64];
	double from, to, step, span, v;
	size_t n, i;
	int k;

	for (p = body; p + 1 < body + nbody; p++) {
		if (p[0] == '.' && p[1] == '.') {
			dd = p;
			break;
		}
	}
	for (p = dd + 2; p + 4 <= body + nbody; p++) {
		if (!strncmp(p, "step", 4) && isspace((unsigned char)p[-1]) &&
		    (p + 4 == body + nbody || isspace((unsigned char)p[4]))) {
			st = p;
			break;
		}
	}
	if (!st)
		return fail(src, e->at, err, errlen,
			    "range for '%s' in [%s] needs a step: ${FROM..TO step STEP}",
			    e->key, e->section);
	if (range_part(body, (size_t)(dd - body), &from, u1, sizeof(u1)) ||
	    range_part(dd + 2, (size_t)(st - dd - 2), &to, u2, sizeof(u2)) ||
	    range_part(st + 4, (size_t)(body + nbody - st - 4), &step, u3, sizeof(u3)))
		return fail(src, e->at, err, errlen,
			    "bad range '${%.*s}' for '%s' in [%s] (expected ${FROM..TO "
			    "step STEP} with numbers)",
			    (int)nbody, body, e->key, e->section);
	if (strcmp(u1, u2) || strcmp(u1, u3))
		return fail(src, e->at, err, errlen,
			    "range for '%s' in [%s] mixes units ('%s', '%s', '%s'): "
			    "write FROM, TO and STEP with the same unit",
			    e->key, e->section, u1, u2, u3);
	if (!(step > 0))
		return fail(src, e->at, err, errlen,
			    "range for '%s' in [%s] needs a step > 0", e->key,
			    e->section);
	if (from > to)
		return fail(src, e->at, err, errlen,
			    "range for '%s' in [%s] goes down (FROM > TO)", e->key,
			    e->section);
	span = (to - from) / step;
	if (!(span < SIM_MAX_SWEEP_POINTS))
		return fail(src, e->at, err, errlen,
			    "range for '%s' in [%s] has more than %d values", e->key,
			    e->section, SIM_MAX_SWEEP_POINTS);
	/* Count with a tolerance for decimal steps (0.1 * 3 > 0.3). */
	n = (size_t)floor(span + 1e-9) + 1;
	for (i = 0; i < n; i++) {
		v = from + (double)i * step;
		if (v > to)
			v = to;
		v += 0.0; /* no "-0" */
		k = snprintf(num, sizeof(num), "%.15g%s", v, u1);
		if (k < 0 || (size_t)k >= sizeof(num))
			return fail(src, e->at, err, errlen, "range too wide");
		if (push_val(sw, cap, pre, npre, num, strlen(num), suf))
			return nomem(src, err, errlen);
	}
	return 0;
}

static int expand_list(const struct scenario_src *src, const struct entry *e,
		       struct sweep *sw, size_t *cap, const char *pre, size_t npre,
		       const char *body, size_t nbody, const char *suf, char *err,
		       size_t errlen)
{
	const char *p = body, *end = body + nbody, *q, *a, *b;
	int depth = 0;

	for (;;) {
		for (q = p; q < end; q++) {
			if (*q == '(' || *q == '{')
				depth++;
			else if ((*q == ')' || *q == '}') && depth > 0)
				depth--;
			else if (*q == ',' && !depth)
				break;
		}
		a = p;
		b = q;
		while (a < b && isspace((unsigned char)*a))
			a++;
		while (b > a && isspace((unsigned char)b[-1]))
			b--;
		if (a == b)
			return fail(src, e->at, err, errlen,
				    "empty value in the sweep for '%s' in [%s]", e->key,
				    e->section);
		if (push_val(sw, cap, pre, npre, a, (size_t)(b - a), suf))
			return nomem(src, err, errlen);
		if (sw->n > SIM_MAX_SWEEP_POINTS)
			return fail(src, e->at, err, errlen,
				    "sweep for '%s' in [%s] has more than %d values",
				    e->key, e->section, SIM_MAX_SWEEP_POINTS);
		if (q == end)
			return 0;
		p = q + 1;
	}
}

static bool is_range(const char *body, size_t n)
{
	bool dots = false;
	int depth = 0;
	size_t i;

	for (i = 0; i < n; i++) {
		if (body[i] == '(' || body[i] == '{')
			depth++;
		else if ((body[i] == ')' || body[i] == '}') && depth > 0)
			depth--;
		else if (body[i] == ',' && !depth)
			return false;
		else if (body[i] == '.' && i + 1 < n && body[i + 1] == '.')
			dots = true;
	}
	return dots;
}

/* Parse the ${...} of entry ei, if any, into a new sweep. */
static int parse_sweep(struct scenario_src *src, size_t ei, char *err, size_t errlen)
{
	struct entry *e = &src->ents[ei];
	const char *v = e->value, *open = strstr(v, "${"), *p, *close = NULL;
	const char *body;
	struct sweep sw, *nsw;
	size_t cap = 0, nbody;
	int depth = 0, rc;

	if (!open)
		return 0;
	for (p = open + 2; *p; p++) {
		if (p[0] == '$' && p[1] == '{')
			break;
		if (*p == '{') {
			depth++;
		} else if (*p == '}') {
			if (!depth) {
				close = p;
				break;
			}
			depth--;
		}
	}
	if (*p == '$')
		return fail(src, e->at, err, errlen,
			    "nested ${...} in the value of '%s' in [%s]", e->key,
			    e->section);
	if (!close)
		return fail(src, e->at, err, errlen,
			    "unbalanced '${' in the value of '%s' in [%s]", e->key,
			    e->section);
	if (strstr(close + 1, "${"))
		return fail(src, e->at, err, errlen,
			    "more than one ${...} in the value of '%s' in [%s]", e->key,
			    e->section);
	/* The runs' seeds and their number are the whole sweep's (run r of
	 * every point has seed + r): a sweep of either would be silently
	 * ignored, so it is refused. */
	if (!strcmp(e->section, "scenario") &&
	    (!strcmp(e->key, "seed") || !strcmp(e->key, "replications")))
		return fail(src, e->at, err, errlen,
			    "'%s' in [scenario] cannot be swept: every point runs replications "
			    "with seeds seed, seed + 1, ... (set replications instead)",
			    e->key);
	body = open + 2;
	nbody = (size_t)(close - body);
	while (nbody && isspace((unsigned char)*body)) {
		body++;
		nbody--;
	}
	while (nbody && isspace((unsigned char)body[nbody - 1]))
		nbody--;
	if (!nbody)
		return fail(src, e->at, err, errlen, "empty sweep '${}' for '%s' in [%s]",
			    e->key, e->section);
	memset(&sw, 0, sizeof(sw));
	sw.entry = ei;
	sw.key = malloc(strlen(e->section) + strlen(e->key) + 2);
	if (!sw.key)
		return nomem(src, err, errlen);
	sprintf(sw.key, "%s.%s", e->section, e->key);
	if (is_range(body, nbody))
		rc = expand_range(src, e, &sw, &cap, v, (size_t)(open - v), body, nbody,
				  close + 1, err, errlen);
	else
		rc = expand_list(src, e, &sw, &cap, v, (size_t)(open - v), body, nbody,
				 close + 1, err, errlen);
	if (!rc) {
		nsw = realloc(src->sweeps, (src->n_sweeps + 1) * sizeof(*nsw));
		if (!nsw)
			rc = nomem(src, err, errlen);
		else
			src->sweeps = nsw;
	}
	if (rc) {
		free_sweep(&sw);
		return rc;
	}
	e->sweep = (int)src->n_sweeps;
	src->sweeps[src->n_sweeps++] = sw;
	return 0;
}

/* Sweeps in order: the file's in file order, then the --set ones. */
static int build_sweeps(struct scenario_src *src, char *err, size_t errlen)
{
	size_t i, si, total = 1;
	int rc;

	for (i = 0; i < src->n_ents; i++) {
		if (src->ents[i].at.set >= 0)
			continue;
		rc = parse_sweep(src, i, err, errlen);
		if (rc)
			return rc;
	}
	for (si = 0; si < src->n_sets; si++) {
		for (i = 0; i < src->n_ents; i++) {
			if (src->ents[i].at.set != (int)si)
				continue;
			rc = parse_sweep(src, i, err, errlen);
			if (rc)
				return rc;
		}
	}
	for (i = 0; i < src->n_sweeps; i++) {
		struct sweep *sw = &src->sweeps[i];

		if (total > SIM_MAX_SWEEP_POINTS / sw->n)
			return fail(src, src->ents[sw->entry].at, err, errlen,
				    "the sweeps make more than %d points",
				    SIM_MAX_SWEEP_POINTS);
		total *= sw->n;
	}
	src->n_points = total;
	for (i = src->n_sweeps; i-- > 0;) {
		src->sweeps[i].stride =
		    i + 1 < src->n_sweeps
			? src->sweeps[i + 1].stride * src->sweeps[i + 1].n
			: 1;
	}
	return 0;
}

static size_t sweep_index(const struct sweep *sw, size_t point)
{
	return (point / sw->stride) % sw->n;
}

static const char *entry_value(const struct scenario_src *src, const struct entry *e,
			       size_t point)
{
	const struct sweep *sw;

	if (e->sweep < 0)
		return e->value;
	sw = &src->sweeps[e->sweep];
	return sw->vals[sweep_index(sw, point)];
}

/* ------------------------------------------------------------------ */
/* Compiling one point */

static void *section_obj(struct scenario_cfg *cfg, enum sec_id sec, int group)
{
	switch (sec) {
	case SEC_SCENARIO: return cfg;
	case SEC_LINK_UP: return &cfg->up;
	case SEC_LINK_DOWN: return &cfg->down;
	case SEC_BOTTLENECK: return &cfg->bottleneck;
	case SEC_GROUP: return &cfg->groups[group];
	case SEC_SERVER: return &cfg->server;
	case SEC_BROKER: return &cfg->broker;
	case SEC_COAP: return &cfg->coap;
	case SEC_MQTT: return &cfg->mqtt;
	case SEC_TCP: return &cfg->tcp;
	case SEC_SECURITY: return &cfg->security;
	case SEC_DTLS: return &cfg->security;
	case SEC_ENERGY: return &cfg->energy;
	case SEC_OUTPUT: return &cfg->output;
	case SEC_NS3: return &cfg->ns3;
	case SEC_LIVE: return &cfg->live;
	case SEC_EXPECT: return cfg;
	default: return NULL;
	}
}

static bool contains(const char *s, const char *w)
{
	return strstr(s, w) != NULL;
}

/* "OP VALUE" of an [expect] entry. */
static int apply_expect(struct cc *c)
{
	static const struct {
		const char *op;
		enum expect_op v;
	} ops[] = {
	    {"<=", EXPECT_LE}, {">=", EXPECT_GE}, {"==", EXPECT_EQ},
	    {"<", EXPECT_LT},  {">", EXPECT_GT},
	};
	struct expect_cfg *x = &c->cfg->expect[c->cfg->n_expect];
	const char *s = c->val, *num, *end;
	const struct scenario_unit *u;
	double v;
	size_t i, n;

	memset(x, 0, sizeof(*x));
	for (i = 0; i < SIM_ARRAY_LEN(ops); i++)
		if (!strncmp(s, ops[i].op, strlen(ops[i].op)))
			break;
	if (i == SIM_ARRAY_LEN(ops))
		return cc_fail(c,
			       "bad expectation '%s' for '%s' in [expect] (write OP "
			       "VALUE with OP one of < <= > >= ==)",
			       s, c->e->key);
	x->op = ops[i].v;
	num = s + strlen(ops[i].op);
	while (isspace((unsigned char)*num))
		num++;
	n = strlen(num);
	if (!n)
		return cc_fail(c, "missing value after '%s' for '%s' in [expect]",
			       ops[i].op, c->e->key);
	if (n >= sizeof(x->text))
		return cc_fail(c, "value for '%s' in [expect] is too long", c->e->key);
	if (scenario_number(num, &v, &end))
		goto bad;
	while (isspace((unsigned char)*end))
		end++;
	if (*end == '%' && !end[1]) {
		v /= 100.0;
	} else if (*end) {
		for (u = scenario_time_units.units; u->suffix; u++)
			if (!strcmp(end, u->suffix))
				break;
		if (!u->suffix)
			goto bad;
		/* A time: in ms for *_ms metrics, else in seconds. */
		v *= u->factor / (contains(c->e->key, "_ms") ? 1e6 : 1e9);
		if (!isfinite(v))
			goto bad;
	}
	snprintf(x->metric, sizeof(x->metric), "%s", c->e->key);
	memcpy(x->text, num, n + 1);
	x->value = v + 0.0;
	x->line = c->e->at.line;
	c->cfg->n_expect++;
	return 0;
bad:
	return cc_fail(
	    c, "bad value '%s' for '%s' in [expect] (a number, a percentage or a time)",
	    num, c->e->key);
}

static int apply_entry(struct cc *c)
{
	const struct entry *e = c->e;
	const struct keydef *kd;
	int rc;

	kd = find_key(e->sec, e->key);
	if (e->sec == SEC_EXPECT && !kd) /* a metric */
		return apply_expect(c);
	if (!kd) /* checked at load */
		return cc_fail(c, "unknown key '%s' in [%s]", e->key, e->section);
	if (e->sec == SEC_LINK) {
		rc = kd->set(c, kd, &c->cfg->up);
		return rc ? rc : kd->set(c, kd, &c->cfg->down);
	}
	return kd->set(c, kd, section_obj(c->cfg, e->sec, e->group));
}

/* Order of application: the energy and CoAP presets first (other keys
 * override them),
 * then everything, then [link.up] / [link.down] over [link]. */
static int pass_of(const struct entry *e)
{
	if (e->sec == SEC_ENERGY && !strcmp(e->key, "radio"))
		return 0;
	if (e->sec == SEC_COAP && !strcmp(e->key, "preset"))
		return 0;
	if (e->sec == SEC_LINK_UP || e->sec == SEC_LINK_DOWN)
		return 2;
	return 1;
}

static int at_fail(struct cc *c, const struct entry *e, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int at_fail(struct cc *c, const struct entry *e, const char *fmt, ...)
{
	struct loc file = {0, -1};
	va_list ap;

	va_start(ap, fmt);
	verr(c->src, e ? e->at : file, c->err, c->errlen, fmt, ap);
	va_end(ap);
	return SIM_ERR_INVAL;
}

/* Replace every {name} in buf (size len). */
static int subst_name(char *buf, size_t len, const char *name)
{
	char out[SCN_PATH_LEN * 2];
	size_t o = 0, nn = strlen(name), pl = strlen(NAME_PLACEHOLDER);
	const char *p;

	for (p = buf; *p;) {
		if (!strncmp(p, NAME_PLACEHOLDER, pl)) {
			if (o + nn >= sizeof(out))
				return SIM_ERR_NOSPACE;
			memcpy(out + o, name, nn);
			o += nn;
			p += pl;
		} else {
			if (o + 1 >= sizeof(out))
				return SIM_ERR_NOSPACE;
			out[o++] = *p++;
		}
	}
	out[o] = '\0';
	if (o >= len)
		return SIM_ERR_NOSPACE;
	memcpy(buf, out, o + 1);
	return 0;
}

static size_t count_str(const char *s, const char *w)
{
	size_t n = 0;

	while ((s = strstr(s, w))) {
		n++;
		s += strlen(w);
	}
	return n;
}

static size_t digits(uint64_t v)
{
	size_t n = 1;

	while (v >= 10) {
		v /= 10;
		n++;
	}
	return n;
}

/* The entry that set a link key: [link.up] or [link.down] over [link]. */
static const struct entry *link_entry(const struct scenario_src *src, const char *key)
{
	const struct entry *e = find_entry(src, SEC_LINK_UP, -1, key);

	if (!e)
		e = find_entry(src, SEC_LINK_DOWN, -1, key);
	return e ? e : find_entry(src, SEC_LINK, -1, key);
}

/* What the ns-3 backend does not model: refused where it is written, so a
 * cross-check never compares two different scenarios. */
/* What a live run cannot do: it needs its target (but with a namespace of
 * its own, the simulator's server address serves), one target speaks one
 * protocol, udp carries CoAP only, a TUN device owns the target's address
 * (so only addresses no one else may hold), and no multicast. */
static int live_unsupported(struct cc *c)
{
	const struct scenario_src *src = c->src;
	const struct scenario_cfg *cfg = c->cfg;
	const struct live_cfg *l = &cfg->live;
	const struct entry *be = find_entry(src, SEC_SCENARIO, -1, "backend");
	bool tun = l->transport == LIVE_TUN;

	if (!l->host[0] && !(tun && l->netns))
		return at_fail(c, be,
			       "backend = live needs the server: set 'target' in [live] "
			       "(e.g. --set live.target=coap://[::1]:5683)");
	if (l->netns && !tun)
		return at_fail(c, find_entry(src, SEC_LIVE, -1, "netns"),
			       "'netns = yes' in [live] needs 'transport = tun'");
	if (tun && l->host[0]) {
		uint8_t a[16];
		bool ok = inet_pton(AF_INET6, l->host, a) == 1 &&
			  ((a[0] == 0x20 && a[1] == 0x01 && a[2] == 0x0d && a[3] == 0xb8) ||
			   (a[0] & 0xfe) == 0xfc);
		if (!ok)
			return at_fail(c, find_entry(src, SEC_LIVE, -1, "target"),
				       "with transport = tun the target is an address coapsim gives "
				       "its TUN device: an IPv6 documentation (2001:db8::/32) or "
				       "unique-local (fc00::/7) address, e.g. [2001:db8::1]");
		if (a[2] == 0x0d && a[4] == 0 && a[5] == 1)
			return at_fail(c, find_entry(src, SEC_LIVE, -1, "target"),
				       "the target may not be in 2001:db8:1::/48: the endpoints' "
				       "addresses");
	}
	for (size_t i = 0; i < cfg->n_groups; i++) {
		const struct group_cfg *g = &cfg->groups[i];
		const struct entry *pe = find_entry(src, SEC_GROUP, (int)i, "protocol");
		bool mq = g->protocol == PROTO_MQTT;
		if (mq && !tun)
			return at_fail(c, pe,
				       "group '%s': MQTT on backend = live needs 'transport = tun' "
				       "in [live] (udp carries CoAP only)",
				       g->name);
		if (l->host[0] && mq != l->mqtt)
			return at_fail(c, pe ? pe : find_entry(src, SEC_LIVE, -1, "target"),
				       "group '%s' speaks %s but the live target is %s://: a live "
				       "run has one target, so all its groups speak its protocol",
				       g->name, mq ? "MQTT" : "CoAP", l->mqtt ? "mqtt" : "coap");
		if (mq != (cfg->groups[0].protocol == PROTO_MQTT))
			return at_fail(c, pe,
				       "group '%s': a live run has one target, so all its groups "
				       "speak one protocol",
				       g->name);
		if (g->multicast)
			return at_fail(c, find_entry(src, SEC_GROUP, (int)i, "multicast"),
				       "group '%s': multicast is not supported with backend = "
				       "live",
				       g->name);
		bool sec = g->security == SECURITY_DTLS || g->security == SECURITY_TLS ||
			   g->security == SECURITY_ON;
		if (l->host[0] && sec != l->secure)
			return at_fail(c, find_entry(src, SEC_LIVE, -1, "target"),
				       "group '%s' has security = %s but the live target is %s://: "
				       "coaps:// or mqtts:// for DTLS or TLS, coap:// or mqtt:// "
				       "without",
				       g->name, security_vals[g->security].name,
				       l->mqtt ? (l->secure ? "mqtts" : "mqtt")
					       : (l->coaps ? "coaps" : "coap"));
	}
	return 0;
}

static int ns3_unsupported(struct cc *c)
{
	const struct scenario_src *src = c->src;
	const struct scenario_cfg *cfg = c->cfg;
	const struct entry *be = find_entry(src, SEC_SCENARIO, -1, "backend");

	if (cfg->up.jitter.kind != SIM_DIST_NONE || cfg->down.jitter.kind != SIM_DIST_NONE)
		return at_fail(c, link_entry(src, "jitter"),
			       "'jitter' is not supported with backend = ns3 (its "
			       "channels have a fixed delay); use 'none'");
	if (cfg->up.duplicate > 0 || cfg->down.duplicate > 0)
		return at_fail(c, link_entry(src, "duplicate"),
			       "'duplicate' is not supported with backend = ns3; use 0");
	if (cfg->up.latency != cfg->down.latency)
		return at_fail(c, link_entry(src, "latency"),
			       "backend = ns3 needs the same 'latency' up and down (one "
			       "ns-3 channel carries both directions)");
	if (cfg->ns3.device == NS3_LRWPAN && (cfg->up.rate_bps || cfg->down.rate_bps))
		return at_fail(c, link_entry(src, "rate"),
			       "ns3 device 'lrwpan' sends at the radio's own 250 kbit/s; "
			       "leave 'rate' unset");
	if (cfg->ns3.device == NS3_LRWPAN && (cfg->up.mtu != 1280 || cfg->down.mtu != 1280))
		return at_fail(c, link_entry(src, "mtu"),
			       "ns3 device 'lrwpan' has 6LoWPAN's IPv6 MTU of 1280 (RFC "
			       "4944); leave 'mtu' at 1280");
	if (cfg->ns3.device == NS3_CSMA && cfg->up.rate_bps != cfg->down.rate_bps)
		return at_fail(c, link_entry(src, "rate"),
			       "ns3 device 'csma' needs the same 'rate' up and down (one "
			       "shared medium)");
	for (size_t i = 0; i < cfg->n_groups; i++) {
		const struct group_cfg *g = &cfg->groups[i];
		const struct entry *e = find_entry(src, SEC_GROUP, (int)i, "multicast");

		if (g->multicast)
			return at_fail(c, e ? e : be,
				       "multicast groups are not supported with backend = ns3");
	}
	return 0;
}

static int finish(struct cc *c)
{
	const struct scenario_src *src = c->src;
	struct scenario_cfg *cfg = c->cfg;
	const struct entry *e;
	const char *why;
	size_t i, len, n_id;

	if (!cfg->name[0]) {
		why = name_problem(src->defname);
		if (why)
			return at_fail(c, NULL,
				       "cannot use the file name '%s' as the scenario "
				       "name (%s): set 'name' in [scenario]",
				       src->defname, why);
		snprintf(cfg->name, sizeof(cfg->name), "%s", src->defname);
	}
	if (subst_name(cfg->output.dir, sizeof(cfg->output.dir), cfg->name))
		return at_fail(c, find_entry(src, SEC_OUTPUT, -1, "dir"),
			       "'dir' in [output] is too long once {name} is replaced "
			       "(max %d bytes)",
			       SCN_PATH_LEN - 1);
	if (subst_name(cfg->output.pcap_dir, sizeof(cfg->output.pcap_dir), cfg->name))
		return at_fail(c, find_entry(src, SEC_OUTPUT, -1, "pcap_dir"),
			       "'pcap_dir' in [output] is too long once {name} is "
			       "replaced (max %d bytes)",
			       SCN_PATH_LEN - 1);
	if (!cfg->output.dir[0] || !cfg->output.pcap_dir[0])
		return at_fail(c,
			       find_entry(src, SEC_OUTPUT, -1,
					  cfg->output.dir[0] ? "pcap_dir" : "dir"),
			       "empty directory in [output]");
	if (cfg->warmup >= cfg->duration) {
		e = find_entry(src, SEC_SCENARIO, -1, "warmup");
		return at_fail(
		    c, e ? e : find_entry(src, SEC_SCENARIO, -1, "duration"),
		    "'warmup' (%gs) must be shorter than 'duration' (%gs) in [scenario]",
		    sim_time_to_s(cfg->warmup), sim_time_to_s(cfg->duration));
	}
	/* The whole retransmission schedule of a message (MAX_TRANSMIT_WAIT,
	 * §4.8.2) and the drain after the traffic must fit simulated time. */
	double wait = (double)cfg->coap.ack_timeout * cfg->coap.ack_random_factor *
		      (double)((2ull << cfg->coap.max_retransmit) - 1);
	if (wait + (double)cfg->duration + 300e9 > SCN_TIME_MAX) {
		e = find_entry(src, SEC_COAP, -1, "max_retransmit");
		if (!e)
			e = find_entry(src, SEC_COAP, -1, "ack_timeout");
		return at_fail(c, e ? e : find_entry(src, SEC_SCENARIO, -1, "duration"),
			       "the retransmission schedule (ack_timeout x ack_random_factor x "
			       "(2^(max_retransmit+1) - 1) = %.3gs) plus 'duration' exceeds the "
			       "%.0fh coapsim can simulate",
			       wait / 1e9, floor(SCN_TIME_MAX / 3600e9));
	}
	if (cfg->tcp.rto_min > cfg->tcp.rto_max) {
		e = find_entry(src, SEC_TCP, -1, "rto_min");
		return at_fail(c, e ? e : find_entry(src, SEC_TCP, -1, "rto_max"),
			       "'rto_min' (%gs) must not exceed 'rto_max' (%gs) in [tcp]",
			       sim_time_to_s(cfg->tcp.rto_min),
			       sim_time_to_s(cfg->tcp.rto_max));
	}
	for (size_t k = 0; k < cfg->n_groups; k++) {
		struct group_cfg *g = &cfg->groups[k];
		if (g->security == SECURITY_ON)
			g->security = g->protocol == PROTO_MQTT ? SECURITY_TLS : SECURITY_DTLS;
		if (g->security == SECURITY_DTLS && (g->protocol != PROTO_COAP || g->multicast))
			return at_fail(c, find_entry(src, SEC_GROUP, (int)k, "security"),
				       "group '%s': security = dtls is for CoAP unicast groups "
				       "(DTLS does not protect multicast, RFC 7252 §9.1; MQTT takes "
				       "tls)",
				       g->name);
		if (g->security == SECURITY_TLS && g->protocol != PROTO_MQTT)
			return at_fail(c, find_entry(src, SEC_GROUP, (int)k, "security"),
				       "group '%s': security = tls is for MQTT groups (CoAP takes "
				       "dtls)",
				       g->name);
		if (g->security == SECURITY_TLS && cfg->backend == BACKEND_NS3)
			return at_fail(c, find_entry(src, SEC_GROUP, (int)k, "security"),
				       "group '%s': security = tls does not run on backend = ns3 "
				       "yet",
				       g->name);
	}
	if (cfg->security.timeout_initial > cfg->security.timeout_max) {
		e = find_entry(src, SEC_DTLS, -1, "timeout_initial");
		return at_fail(c, e ? e : find_entry(src, SEC_DTLS, -1, "timeout_max"),
			       "'timeout_initial' (%gs) must not exceed 'timeout_max' (%gs) in "
			       "[dtls]",
			       sim_time_to_s(cfg->security.timeout_initial),
			       sim_time_to_s(cfg->security.timeout_max));
	}
	if (cfg->mqtt.keepalive % SIM_S(1)) {
		e = find_entry(src, SEC_MQTT, -1, "keepalive");
		return at_fail(c, e, "'keepalive' in [mqtt] must be whole seconds");
	}
	if (cfg->backend == BACKEND_NS3 && ns3_unsupported(c))
		return SIM_ERR_INVAL;
	if (cfg->backend == BACKEND_LIVE && live_unsupported(c))
		return SIM_ERR_INVAL;
	for (i = 0; i < cfg->n_groups; i++) {
		struct group_cfg *g = &cfg->groups[i];
		size_t grow = digits(g->count) > 4 ? digits(g->count) - 4 : 0;

		if (!c->start_set[i]) {
			g->start.kind = SIM_DIST_UNIFORM;
			g->start.a = 0;
			g->start.b = (double)(g->interval ? g->interval : SIM_S(60));
		}
		/* Paths and topics must fit with the largest {id}. */
		n_id = count_str(g->path, ID_PLACEHOLDER);
		len = strlen(g->path) + n_id * grow;
		if (len >= sizeof(g->path)) {
			e = find_entry(src, SEC_GROUP, (int)i, "path");
			return at_fail(
			    c, e ? e : find_entry(src, SEC_GROUP, (int)i, "count"),
			    "'path' in [group.%s] is too long with %u endpoints (max %zu "
			    "bytes once {id} is replaced)",
			    g->name, g->count, sizeof(g->path) - 1);
		}
		n_id = count_str(g->topic, ID_PLACEHOLDER);
		len = strlen(g->topic) + n_id * grow;
		if (len >= sizeof(g->topic)) {
			e = find_entry(src, SEC_GROUP, (int)i, "topic");
			return at_fail(
			    c, e ? e : find_entry(src, SEC_GROUP, (int)i, "count"),
			    "'topic' in [group.%s] is too long with %u endpoints (max "
			    "%zu bytes once {id} is replaced)",
			    g->name, g->count, sizeof(g->topic) - 1);
		}
	}
	return 0;
}

/* The defaults: what finish() does not derive, through each key's own set
 * function from its table's default text, the presets first as for the
 * file's entries; [link] sets both directions, each group gets the group
 * keys'.  An error here is a bad default in a table. */
static int defaults(struct cc *c)
{
	const struct scenario_src *src = c->src;
	struct scenario_cfg *cfg = c->cfg;
	size_t i, k;
	int pass, rc;

	memset(cfg, 0, sizeof(*cfg));
	snprintf(cfg->file, sizeof(cfg->file), "%s", src->path);
	cfg->bottleneck.present = src->bottleneck;
	cfg->n_groups = src->n_groups;
	for (i = 0; i < src->n_groups; i++)
		snprintf(cfg->groups[i].name, sizeof(cfg->groups[i].name), "%s",
			 src->groups[i].name);
	for (pass = 0; pass < 2; pass++) {
		for (int sec = 0; sec < SEC_COUNT; sec++) {
			size_t n = sec == SEC_GROUP ? src->n_groups : 1;

			if (sec == SEC_LINK_UP || sec == SEC_LINK_DOWN)
				continue; /* [link] sets both */
			for (i = 0; i < n; i++) {
				for (k = 0; k < secs[sec].n_keys; k++) {
					const struct keydef *kd = &secs[sec].keys[k];
					/* The entry a file line would make; the
					 * set functions only read it. */
					struct entry e = {
					    .sec = (enum sec_id)sec,
					    .group = sec == SEC_GROUP ? (int)i : -1,
					    .section = (char *)secs[sec].name,
					    .key = (char *)kd->name,
					    .value = (char *)kd->def,
					    .at = {0, -1},
					    .sweep = -1,
					};

					if (!kd->def || pass_of(&e) != pass)
						continue;
					c->e = &e;
					c->val = kd->def;
					rc = apply_entry(c);
					c->e = NULL;
					if (rc)
						return rc;
				}
			}
		}
	}
	return 0;
}

static int compile(const struct scenario_src *src, size_t point, struct scenario_cfg *cfg,
		   char *err, size_t errlen)
{
	struct cc c;
	size_t i;
	int pass, rc;

	memset(&c, 0, sizeof(c));
	c.src = src;
	c.point = point;
	c.cfg = cfg;
	c.err = err;
	c.errlen = errlen;
	rc = defaults(&c);
	if (rc)
		goto fail;
	if (src->n_expect) {
		cfg->expect = calloc(src->n_expect, sizeof(*cfg->expect));
		if (!cfg->expect)
			return nomem(src, err, errlen);
	}
	for (pass = 0; pass < 3; pass++) {
		for (i = 0; i < src->n_ents; i++) {
			if (pass_of(&src->ents[i]) != pass)
				continue;
			c.e = &src->ents[i];
			c.val = entry_value(src, c.e, point);
			rc = apply_entry(&c);
			if (rc)
				goto fail;
		}
	}
	rc = finish(&c);
	if (rc)
		goto fail;
	return 0;
fail:
	scenario_cfg_free(cfg);
	return rc;
}

/* ------------------------------------------------------------------ */
/* Public API */

void scenario_src_del(struct scenario_src *src)
{
	size_t i;

	if (!src)
		return;
	for (i = 0; i < src->n_ents; i++) {
		free(src->ents[i].section);
		free(src->ents[i].key);
		free(src->ents[i].value);
	}
	free(src->ents);
	for (i = 0; i < src->n_sweeps; i++)
		free_sweep(&src->sweeps[i]);
	free(src->sweeps);
	for (i = 0; i < src->n_sets; i++)
		free(src->sets[i]);
	free(src->sets);
	free(src->defname);
	free(src->text);
	free(src->path);
	free(src);
}

static char *default_name(const char *path)
{
	const char *base = strrchr(path, '/');
	size_t n;
	char *r;

	base = base ? base + 1 : path;
	n = strlen(base);
	if (n > 4 && !strcmp(base + n - 4, ".ini"))
		n -= 4;
	r = malloc(n + 1);
	if (r) {
		memcpy(r, base, n);
		r[n] = '\0';
	}
	return r;
}

/* Takes ownership of text. */
static int load(struct scenario_src **out, const char *path, char *text,
		const char *const *sets, size_t n_sets, char *err, size_t errlen)
{
	struct scenario_src *src;
	struct scenario_cfg cfg;
	struct pstate ps;
	struct loc file = {0, -1};
	size_t i;
	int rc;

	*out = NULL;
	if (err && errlen)
		err[0] = '\0';
	src = calloc(1, sizeof(*src));
	if (!src) {
		free(text);
		if (err && errlen)
			snprintf(err, errlen, "%s: out of memory", path);
		return SIM_ERR_NOMEM;
	}
	src->text = text;
	src->path = strdup(path);
	src->defname = default_name(path);
	if (n_sets)
		src->sets = calloc(n_sets, sizeof(*src->sets));
	if (!src->path || !src->defname || (n_sets && !src->sets)) {
		if (err && errlen)
			snprintf(err, errlen, "%s: out of memory", path);
		rc = SIM_ERR_NOMEM;
		goto fail;
	}
	for (i = 0; i < n_sets; i++) {
		src->sets[i] = strdup(sets[i] ? sets[i] : "");
		if (!src->sets[i]) {
			rc = nomem(src, err, errlen);
			goto fail;
		}
		src->n_sets++;
	}
	if (strlen(path) >= SCN_PATH_LEN) {
		rc = fail(src, file, err, errlen, "path too long (at most %d bytes)",
			  SCN_PATH_LEN - 1);
		goto fail;
	}

	memset(&ps, 0, sizeof(ps));
	ps.src = src;
	ps.p = text;
	ps.end = text + strlen(text);
	ps.err = err;
	ps.errlen = errlen;
	/* Debian's libinih sizes its line buffer at run time (ini_max_line,
	 * on the heap with ini_use_stack off): make it fit the longest line,
	 * so a long Uri-Path or sweep is not cut at 200 bytes. */
	size_t longest = 0;
	for (const char *q = text, *nl; q < ps.end; q = nl + 1) {
		nl = memchr(q, '\n', (size_t)(ps.end - q));
		if (!nl)
			nl = ps.end;
		if ((size_t)(nl - q) > longest)
			longest = (size_t)(nl - q);
	}
	if (longest > INT_MAX - 3) {
		rc = fail(src, file, err, errlen, "line too long");
		goto fail;
	}
	ini_use_stack = false;
	ini_allow_realloc = false;
	ini_initial_alloc = ini_max_line = longest + 3 < 200 ? 200 : (int)longest + 3;
	rc = ini_parse_stream(reader, &ps, handler, &ps);
	if (ps.rc) {
		rc = ps.rc;
		goto fail;
	}
	if (rc) {
		struct loc at = {rc > 0 ? rc : 0, -1};

		rc = rc == -2 ? nomem(src, err, errlen)
			      : fail(src, at, err, errlen, "syntax error");
		goto fail;
	}
	if (!src->n_groups) {
		rc = fail(src, file, err, errlen,
			  "no [group.NAME] section: a scenario needs at least one group "
			  "of endpoints");
		goto fail;
	}
	for (i = 0; i < src->n_sets; i++) {
		rc = apply_set(src, i, err, errlen);
		if (rc)
			goto fail;
	}
	rc = build_sweeps(src, err, errlen);
	if (rc)
		goto fail;
	for (i = 0; i < src->n_points; i++) {
		rc = compile(src, i, &cfg, err, errlen);
		if (rc)
			goto fail;
		scenario_cfg_free(&cfg);
	}
	*out = src;
	return 0;
fail:
	scenario_src_del(src);
	return rc;
}

int scenario_load_string(struct scenario_src **out, const char *path, const char *text,
			 const char *const *sets, size_t n_sets, char *err, size_t errlen)
{
	char *copy = strdup(text);

	if (!copy) {
		*out = NULL;
		if (err && errlen)
			snprintf(err, errlen, "%s: out of memory", path);
		return SIM_ERR_NOMEM;
	}
	return load(out, path, copy, sets, n_sets, err, errlen);
}

static int io_err(const char *path, const char *what, int e, char *err, size_t errlen)
{
	char buf[128];

	if (err && errlen) {
		snprintf(err, errlen, "%s: %s: %s", path, what,
			 strerror_r(e, buf, sizeof(buf)));
		sanitize(err);
	}
	return SIM_ERR_IO;
}

int scenario_load(struct scenario_src **out, const char *path, const char *const *sets,
		  size_t n_sets, char *err, size_t errlen)
{
	FILE *f;
	char *buf = NULL, *nb, *nul;
	size_t len = 0, cap = 0, k;
	int e;

	*out = NULL;
	f = fopen(path, "rb");
	if (!f)
		return io_err(path, "cannot open", errno, err, errlen);
	for (;;) {
		if (cap - len < 4096) {
			cap = cap ? cap * 2 : 8192;
			nb = realloc(buf, cap + 1);
			if (!nb) {
				free(buf);
				fclose(f);
				if (err && errlen)
					snprintf(err, errlen, "%s: out of memory", path);
				return SIM_ERR_NOMEM;
			}
			buf = nb;
		}
		k = fread(buf + len, 1, cap - len, f);
		len += k;
		if (k == 0)
			break;
		if (len > MAX_FILE_SIZE)
			break;
	}
	if (ferror(f)) {
		e = errno;
		free(buf);
		fclose(f);
		return io_err(path, "cannot read", e, err, errlen);
	}
	fclose(f);
	buf[len] = '\0';
	if (len > MAX_FILE_SIZE) {
		free(buf);
		if (err && errlen) {
			snprintf(err, errlen, "%s: file too large (over %u bytes)", path,
				 MAX_FILE_SIZE);
			sanitize(err);
		}
		return SIM_ERR_INVAL;
	}
	nul = memchr(buf, '\0', len);
	if (nul) {
		int line = 1;
		char *p;

		for (p = buf; p < nul; p++)
			line += *p == '\n';
		free(buf);
		if (err && errlen) {
			snprintf(err, errlen, "%s:%d: NUL byte in the file", path, line);
			sanitize(err);
		}
		return SIM_ERR_INVAL;
	}
	return load(out, path, buf, sets, n_sets, err, errlen);
}

size_t scenario_n_points(const struct scenario_src *src)
{
	return src->n_points;
}

size_t scenario_n_params(const struct scenario_src *src)
{
	return src->n_sweeps;
}

const char *scenario_param_key(const struct scenario_src *src, size_t i)
{
	return i < src->n_sweeps ? src->sweeps[i].key : NULL;
}

const char *scenario_param_value(const struct scenario_src *src, size_t point, size_t i)
{
	const struct sweep *sw;

	if (i >= src->n_sweeps || point >= src->n_points)
		return NULL;
	sw = &src->sweeps[i];
	return sw->vals[sweep_index(sw, point)];
}

int scenario_point_cfg(const struct scenario_src *src, size_t point,
		       struct scenario_cfg *cfg, char *err, size_t errlen)
{
	struct loc file = {0, -1};

	memset(cfg, 0, sizeof(*cfg));
	if (point >= src->n_points)
		return fail(src, file, err, errlen, "point %zu out of range (%zu points)",
			    point, src->n_points);
	return compile(src, point, cfg, err, errlen);
}

void scenario_cfg_free(struct scenario_cfg *cfg)
{
	if (!cfg)
		return;
	free(cfg->expect);
	cfg->expect = NULL;
	cfg->n_expect = 0;
}

int scenario_cfg_copy(struct scenario_cfg *dst, const struct scenario_cfg *src)
{
	struct expect_cfg *x = NULL;

	if (src->n_expect) {
		x = malloc(src->n_expect * sizeof(*x));
		if (!x)
			return SIM_ERR_NOMEM;
		memcpy(x, src->expect, src->n_expect * sizeof(*x));
	}
	*dst = *src;
	dst->expect = x;
	return 0;
}

const char *scenario_text(const struct scenario_src *src)
{
	return src->text;
}

int scenario_key_error(const struct scenario_src *src, const char *section,
		       const char *key, char *err, size_t errlen, const char *fmt, ...)
{
	struct loc at = {0, -1};
	va_list ap;
	for (size_t i = 0; i < src->n_ents; i++)
		if (!strcmp(src->ents[i].section, section) && !strcmp(src->ents[i].key, key))
			at = src->ents[i].at;
	va_start(ap, fmt);
	verr(src, at, err, errlen, fmt, ap);
	va_end(ap);
	return SIM_ERR_INVAL;
}

bool scenario_key_info(size_t i, struct scenario_keyinfo *out)
{
	for (int sec = 0; sec < SEC_COUNT; sec++) {
		if (sec == SEC_LINK_UP || sec == SEC_LINK_DOWN)
			continue; /* [link]'s keys */
		if (i >= secs[sec].n_keys) {
			i -= secs[sec].n_keys;
			continue;
		}
		const struct keydef *kd = &secs[sec].keys[i];
		memset(out, 0, sizeof(*out));
		out->section = sec == SEC_GROUP ? "group.NAME" : secs[sec].name;
		out->key = kd->name;
		out->def = kd->def ? kd->def : "";
		out->help = kd->help;
		out->range = kd->range ? kd->range : "";
		if (kd->set == set_enum) {
			size_t used = 0;
			for (const struct enumval *ev = kd->aux; ev->name; ev++) {
				int k = snprintf(out->buf + used, sizeof(out->buf) - used,
						 "%s%s", used ? " | " : "", ev->name);
				if (k < 0 || (size_t)k >= sizeof(out->buf) - used)
					break;
				used += (size_t)k;
			}
			out->range = out->buf;
		}
		return true;
	}
	return false;
}

char *scenario_effective_text(const struct scenario_src *src)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	if (!f)
		return NULL;
	fprintf(f, "; %s as run%s\n", src->path ? src->path : "scenario",
		src->n_sets ? ", with its --set overrides in place" : "");
	/* Each section once, in the order it first appears, its keys in
	 * file order; an override replaces its key where it stood. */
	for (size_t i = 0; i < src->n_ents; i++) {
		const struct entry *e = &src->ents[i];
		size_t j;
		for (j = 0; j < i && strcmp(src->ents[j].section, e->section); j++)
			;
		if (j < i)
			continue; /* section already written */
		fprintf(f, "\n[%s]\n", e->section);
		for (size_t k = i; k < src->n_ents; k++) {
			const struct entry *x = &src->ents[k];
			if (strcmp(x->section, e->section))
				continue;
			fprintf(f, "%s = %s", x->key, x->value);
			if (x->at.set >= 0)
				fprintf(f, "    ; --set %s", src->sets[x->at.set]);
			fputc('\n', f);
		}
	}
	if (fclose(f) != 0) {
		free(buf);
		return NULL;
	}
	return buf;
}
