/* libFuzzer target: MQTT framing, parsing and canonical re-encoding. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../sim/mqtt/mqtt_ep.h"
#include "../../sim/mqtt/mqtt_msg.h"

static void w_c(void *ud, struct mqtt_client *c, const uint8_t *b, size_t n)
{
	struct mqtt_msg m;
	(void)ud; (void)c;
	if (mqtt_parse(&m, b, n) != 0)
		abort(); /* what the client writes must parse */
}
static void w_s(void *ud, struct mqtt_session *s, const uint8_t *b, size_t n)
{
	struct mqtt_msg m;
	(void)ud; (void)s;
	if (mqtt_parse(&m, b, n) != 0)
		abort();
}
static void nop_c(void *ud, struct mqtt_client *c) { (void)ud; (void)c; }
/* Like the simulator: a dropped connection's session starts over at once. */
static void nop_s(void *ud, struct mqtt_session *s)
{
	(void)ud;
	mqtt_session_init(s, s->rx, s->rx_cap);
}
static void done(void *ud, struct mqtt_client *c, const struct mqtt_inflight *m,
		 enum mqtt_result r, sim_time now)
{
	(void)ud; (void)c; (void)m; (void)r; (void)now;
}
static void pub(void *ud, struct mqtt_session *s, const struct mqtt_msg *m, bool first,
		sim_time now)
{
	(void)ud; (void)s; (void)m; (void)first; (void)now;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t out[1 << 17];
	struct mqtt_msg m, m2;
	int n = mqtt_frame(data, size);

	if (n > 0 && mqtt_parse(&m, data, (size_t)n) == 0) {
		int e = mqtt_encode(&m, out, sizeof(out));
		if (e < 0)
			abort();
		/* canonical re-encoding parses to the same packet */
		if (mqtt_parse(&m2, out, (size_t)e) != 0 || m2.type != m.type ||
		    m2.packet_id != m.packet_id || m2.payload_len != m.payload_len ||
		    m2.n != m.n)
			abort();
		/* and is byte-identical when the input's length was shortest */
		if ((data[1] & 0x80) == 0 && (e != n || memcmp(out, data, (size_t)n)))
			abort();
	}
	(void)mqtt_parse(&m, data, size);

	/* Both state machines take any bytes from the stream. */
	static const struct mqtt_client_cb ccb = {w_c, nop_c, nop_c, done};
	static const struct mqtt_session_cb scb = {w_s, nop_s, pub};
	struct mqtt_client_params p = {.keepalive_s = 60, .inflight = 20, .qos = (uint8_t)(size % 3),
				       .payload = 8, .reconnect_min = SIM_S(1),
				       .reconnect_max = SIM_S(60)};
	struct mqtt_client_env ce = {&p, &ccb, NULL, "c", "t/1"};
	struct mqtt_session_env se = {&scb, NULL};
	static struct mqtt_client c;
	static struct mqtt_inflight inf[MQTT_MAX_INFLIGHT];
	static struct mqtt_session s;
	mqtt_client_init(&c, inf, MQTT_MAX_INFLIGHT);
	mqtt_client_start(&c, &ce, 0);
	mqtt_client_up(&c, &ce, 0);
	mqtt_client_publish(&c, &ce, 0);
	mqtt_client_data(&c, &ce, 1, data, size);
	mqtt_client_expire(&c, &ce, SIM_S(500));
	mqtt_client_free(&c);
	static uint8_t srx[1024];
	mqtt_session_init(&s, srx, sizeof(srx));
	mqtt_session_data(&s, &se, 0, data, size);
	mqtt_session_expire(&s, &se, SIM_S(1000));
	return 0;
}
