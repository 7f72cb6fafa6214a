/* MQTT client and broker session back to back, bytes passed by hand. */
#include <criterion/criterion.h>
#include <string.h>

#include "../sim/mqtt/mqtt_ep.h"

Test(mqtt_topic, wildcards)
{
	cr_assert(mqtt_topic_match("sensors/#", "sensors/t1"));
	cr_assert(mqtt_topic_match("sensors/#", "sensors/a/b"));
	cr_assert(mqtt_topic_match("sensors/#", "sensors"), "§4.7.1.2: the parent too");
	cr_assert(mqtt_topic_match("sensors/+", "sensors/t1"));
	cr_assert_not(mqtt_topic_match("sensors/+", "sensors/a/b"));
	cr_assert(mqtt_topic_match("+/+", "a/b"));
	cr_assert(mqtt_topic_match("a/+/c", "a/b/c"));
	cr_assert_not(mqtt_topic_match("a/+/c", "a/b/d"));
	cr_assert(mqtt_topic_match("#", "a/b/c"));
	cr_assert_not(mqtt_topic_match("#", "$SYS/load"), "§4.7.2");
	cr_assert(mqtt_topic_match("a/b", "a/b"));
	cr_assert_not(mqtt_topic_match("a/b", "a/bc"));
	cr_assert(mqtt_topic_match("+", ""), "an empty level is a level");
}

struct pair {
	struct mqtt_client c;
	struct mqtt_inflight inf[MQTT_MAX_INFLIGHT];
	struct mqtt_session s;
	uint8_t srx[1024];
	struct mqtt_client_params p;
	struct mqtt_client_env ce;
	struct mqtt_session_env se;
	uint8_t to_broker[8192], to_client[8192];
	size_t nb, nc;
	size_t bytes_up, bytes_down;
	uint8_t last_up[256];
	size_t last_up_len;
	int connects, drops_c, drops_s, completed, sent0;
	int published, first_pub;
	uint8_t last_flags;
	bool link_up;
	sim_time now;
};

static void c_write(void *ud, struct mqtt_client *c, const uint8_t *b, size_t n)
{
	struct pair *x = ud;
	(void)c;
	memcpy(x->last_up, b, n < 256 ? n : 256);
	x->last_up_len = n;
	x->bytes_up += n;
	if (!x->link_up)
		return;
	memcpy(x->to_broker + x->nb, b, n);
	x->nb += n;
}
static void c_connect(void *ud, struct mqtt_client *c) { (void)c; ((struct pair *)ud)->connects++; }
static void c_drop(void *ud, struct mqtt_client *c) { (void)c; ((struct pair *)ud)->drops_c++; }
static void c_done(void *ud, struct mqtt_client *c, const struct mqtt_inflight *m,
		   enum mqtt_result r, sim_time now)
{
	struct pair *x = ud;
	(void)c; (void)m; (void)now;
	if (r == MQTT_RES_COMPLETED)
		x->completed++;
	else
		x->sent0++;
}
static void s_write(void *ud, struct mqtt_session *s, const uint8_t *b, size_t n)
{
	struct pair *x = ud;
	(void)s;
	x->bytes_down += n;
	if (!x->link_up)
		return;
	memcpy(x->to_client + x->nc, b, n);
	x->nc += n;
}
static void s_drop(void *ud, struct mqtt_session *s) { (void)s; ((struct pair *)ud)->drops_s++; }
static void s_publish(void *ud, struct mqtt_session *s, const struct mqtt_msg *m, bool first,
		      sim_time now)
{
	struct pair *x = ud;
	(void)s; (void)now;
	x->published++;
	x->first_pub += first;
	x->last_flags = m->flags;
}

static const struct mqtt_client_cb ccb = {c_write, c_connect, c_drop, c_done};
static const struct mqtt_session_cb scb = {s_write, s_drop, s_publish};

static void setup(struct pair *x, uint8_t qos, bool clean)
{
	memset(x, 0, sizeof(*x));
	x->p = (struct mqtt_client_params){.keepalive_s = 60, .clean_session = clean,
					   .inflight = 4, .qos = qos, .payload = 16,
					   .reconnect_min = SIM_S(1), .reconnect_max = SIM_S(60)};
	x->ce = (struct mqtt_client_env){&x->p, &ccb, x, "s-1", "sensors/1"};
	x->se = (struct mqtt_session_env){&scb, x};
	x->link_up = true;
	mqtt_client_init(&x->c, x->inf, MQTT_MAX_INFLIGHT);
	mqtt_session_init(&x->s, x->srx, sizeof(x->srx));
}

/* Deliver everything in flight, both ways, until quiet. */
static void pump(struct pair *x)
{
	while (x->nb || x->nc) {
		uint8_t b[8192];
		size_t n = x->nb;
		memcpy(b, x->to_broker, n);
		x->nb = 0;
		if (n)
			mqtt_session_data(&x->s, &x->se, x->now, b, n);
		n = x->nc;
		memcpy(b, x->to_client, n);
		x->nc = 0;
		if (n)
			mqtt_client_data(&x->c, &x->ce, x->now, b, n);
	}
}

static void connect_pair(struct pair *x)
{
	mqtt_client_start(&x->c, &x->ce, 0);
	cr_assert_eq(x->connects, 1);
	mqtt_client_up(&x->c, &x->ce, 0);
	/* CONNECT: RL 15 = 6 ("MQTT") + 1 level + 1 flags + 2 keepalive + 5 ("s-1") */
	const uint8_t want[] = {0x10, 15, 0, 4, 'M', 'Q', 'T', 'T', 4,
				x->p.clean_session ? 0x02 : 0x00, 0, 60, 0, 3, 's', '-', '1'};
	cr_assert_eq(x->last_up_len, sizeof(want));
	cr_assert_arr_eq(x->last_up, want, sizeof(want));
	pump(x);
	cr_assert_eq(x->c.state, MQTT_CLI_CONNECTED);
	cr_assert_eq(x->bytes_down, 4, "CONNACK is 4 bytes");
}

Test(mqtt_ep, qos0_1_2_byte_counts)
{
	/* PUBLISH "sensors/1" with 16 bytes: 2 fixed header + 2+9 topic +
	 * (2 packet id if QoS > 0) + 16 = 29 (QoS 0) or 31; acks 4 bytes each. */
	for (uint8_t q = 0; q <= 2; q++) {
		struct pair x;
		setup(&x, q, true);
		connect_pair(&x);
		size_t up0 = x.bytes_up, down0 = x.bytes_down;
		mqtt_client_publish(&x.c, &x.ce, 0);
		pump(&x);
		size_t up = x.bytes_up - up0, down = x.bytes_down - down0;
		cr_assert_eq(x.published, 1);
		if (q == 0) {
			cr_assert_eq(up, 29);
			cr_assert_eq(down, 0);
			cr_assert_eq(x.sent0, 1);
		} else if (q == 1) {
			cr_assert_eq(up, 31);
			cr_assert_eq(down, 4, "PUBACK");
			cr_assert_eq(x.completed, 1);
		} else {
			cr_assert_eq(up, 31 + 4, "PUBLISH + PUBREL");
			cr_assert_eq(down, 4 + 4, "PUBREC + PUBCOMP");
			cr_assert_eq(x.completed, 1);
			cr_assert_eq(x.s.n_qos2, 0, "PUBREL released the id");
		}
	}
}

Test(mqtt_ep, keepalive_ping_and_loss)
{
	struct pair x;
	setup(&x, 1, true);
	connect_pair(&x);
	/* idle for the keepalive: PINGREQ (2 bytes), PINGRESP (2 bytes) */
	cr_assert_eq(mqtt_client_expiry(&x.c, &x.p), SIM_S(60));
	size_t up0 = x.bytes_up;
	x.now = SIM_S(60);
	mqtt_client_expire(&x.c, &x.ce, x.now);
	cr_assert_eq(x.bytes_up - up0, 2);
	pump(&x);
	cr_assert_eq(x.c.ping_out, 0);
	/* now the link dies: no PINGRESP within another keepalive */
	x.link_up = false;
	x.now = SIM_S(120);
	mqtt_client_expire(&x.c, &x.ce, x.now);
	cr_assert(x.c.ping_out);
	cr_assert_eq(mqtt_client_expiry(&x.c, &x.p), SIM_S(180));
	x.now = SIM_S(180);
	mqtt_client_expire(&x.c, &x.ce, x.now);
	cr_assert_eq(x.drops_c, 1);
	cr_assert_eq(x.c.state, MQTT_CLI_BACKOFF);
	/* reconnect backoff: 1 s, then 2 s, 4 s ... */
	cr_assert_eq(mqtt_client_expiry(&x.c, &x.p), SIM_S(181));
	mqtt_client_expire(&x.c, &x.ce, SIM_S(181));
	cr_assert_eq(x.connects, 2);
	mqtt_client_down(&x.c, &x.ce, SIM_S(182)); /* the connection fails */
	cr_assert_eq(mqtt_client_expiry(&x.c, &x.p), SIM_S(184));
	/* the broker gives up 1.5 x 60 s after the last packet it got (120 s) */
	cr_assert_eq(mqtt_session_expiry(&x.s), SIM_S(60) + SIM_S(90));
	mqtt_session_expire(&x.s, &x.se, SIM_S(150));
	cr_assert_eq(x.drops_s, 1);
}

Test(mqtt_ep, persistent_session_resends_with_dup)
{
	struct pair x;
	setup(&x, 1, false);
	connect_pair(&x);
	x.link_up = false; /* the PUBLISH is lost with the connection */
	mqtt_client_publish(&x.c, &x.ce, 0);
	mqtt_client_down(&x.c, &x.ce, SIM_S(1));
	cr_assert_eq(x.c.n_used, 1, "clean_session = no keeps it in flight");
	x.link_up = true;
	mqtt_session_init(&x.s, x.srx, sizeof(x.srx));
	mqtt_client_expire(&x.c, &x.ce, SIM_S(2));
	mqtt_client_up(&x.c, &x.ce, SIM_S(2));
	pump(&x);
	cr_assert_eq(x.published, 1);
	cr_assert_eq(x.last_flags, 0x0a, "QoS 1 with DUP (§3.3.1.1)");
	cr_assert_eq(x.completed, 1);
	cr_assert_eq(x.c.reconnects, 1);
}

/* paho keeps its unacknowledged messages across a reconnection with a
 * clean session too (_messages_reconnect_reset_out) and publishes them
 * again after the CONNACK, DUP set; the broker, which forgot the session
 * (§3.1.2.4), takes each as new.  QoS 1 and QoS 2 alike. */
Test(mqtt_ep, clean_session_resends_inflight_as_paho_does)
{
	for (int qos = 1; qos <= 2; qos++) {
		struct pair x;
		setup(&x, qos, true);
		connect_pair(&x);
		x.link_up = false;
		mqtt_client_publish(&x.c, &x.ce, 0);
		mqtt_client_down(&x.c, &x.ce, SIM_S(1));
		cr_assert_eq(x.c.n_used, 1, "QoS %d: kept in flight", qos);
		x.link_up = true;
		mqtt_session_init(&x.s, x.srx, sizeof(x.srx));
		mqtt_client_expire(&x.c, &x.ce, SIM_S(2));
		mqtt_client_up(&x.c, &x.ce, SIM_S(2));
		pump(&x);
		cr_assert_eq(x.published, 1, "QoS %d", qos);
		cr_assert_eq(x.last_flags, qos == 1 ? 0x0a : 0x0c, "QoS %d with DUP (§3.3.1.1)", qos);
		cr_assert_eq(x.completed, 1, "QoS %d", qos);
	}
}

Test(mqtt_ep, qos2_duplicate_is_not_delivered_twice)
{
	struct pair x;
	setup(&x, 2, false);
	connect_pair(&x);
	x.link_up = true;
	mqtt_client_publish(&x.c, &x.ce, 0);
	/* deliver the PUBLISH, lose the PUBREC */
	uint8_t b[256];
	size_t n = x.nb;
	memcpy(b, x.to_broker, n);
	x.nb = 0;
	mqtt_session_data(&x.s, &x.se, 0, b, n);
	x.nc = 0;
	mqtt_client_down(&x.c, &x.ce, SIM_S(1));
	mqtt_client_expire(&x.c, &x.ce, SIM_S(2));
	mqtt_client_up(&x.c, &x.ce, SIM_S(2));
	x.s.connected = 0; /* the broker sees a new connection, same session */
	pump(&x);
	cr_assert_eq(x.published, 2);
	cr_assert_eq(x.first_pub, 1, "the resent PUBLISH is known (§4.3.3)");
	cr_assert_eq(x.completed, 1);
}

Test(mqtt_ep, garbage_drops_the_connection)
{
	struct pair x;
	setup(&x, 1, true);
	connect_pair(&x);
	const uint8_t junk[] = {0xf0, 0x00}; /* reserved type 15 */
	mqtt_session_data(&x.s, &x.se, 0, junk, sizeof(junk));
	cr_assert_eq(x.drops_s, 1);
	mqtt_client_data(&x.c, &x.ce, 0, junk, sizeof(junk));
	cr_assert_eq(x.drops_c, 1);
}
