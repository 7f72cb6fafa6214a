/* MQTT 3.1.1 endpoints, sans-I/O: the client (CONNECT, PUBLISH QoS 0-2,
 * keepalive, reconnect) and the broker's session for it.  Knows no TCP,
 * socket, engine or scenario: bytes in, bytes out (see mqtt_ep.h). */
#include "mqtt_ep.h"

#include <stdlib.h>
#include <string.h>

bool mqtt_topic_match(const char *f, const char *t)
{
	/* §4.7.1: '#' matches the parent level and everything below it,
	 * '+' exactly one level; topics starting with '$' are not matched
	 * by a leading wildcard (§4.7.2). */
	if (t[0] == '$' && (f[0] == '+' || f[0] == '#'))
		return false;
	for (;;) {
		if (f[0] == '#' && !f[1])
			return true;
		if (f[0] == '+') {
			while (*t && *t != '/')
				t++;
			f++;
		} else {
			while (*f && *f != '/' && *f == *t) {
				f++;
				t++;
			}
			if ((*f && *f != '/') || (*t && *t != '/'))
				return false;
		}
		if (!*f && !*t)
			return true;
		if (*f == '/' && *t == '/') {
			f++;
			t++;
			continue;
		}
		/* "a/#" also matches "a" (§4.7.1.2) */
		return !*t && f[0] == '/' && f[1] == '#' && !f[2];
	}
}

/* Append stream bytes to a reassembly buffer and hand over each complete
 * packet (parsed in place, before the buffer moves).  Returns 1 when all
 * bytes were taken, 0 when `each` asked to stop, -1 when the stream is
 * broken: a malformed packet, or one larger than the buffer (§4.8: the
 * connection is then closed). */
typedef bool (*each_fn)(void *self, const void *env, const struct mqtt_msg *m,
			sim_time now);

static int split(uint8_t *rx, uint32_t *rx_len, size_t cap, const uint8_t *buf,
		 size_t len, each_fn each, void *self, const void *env, sim_time now)
{
	while (len) {
		size_t room = cap - *rx_len, n = len < room ? len : room;
		memcpy(rx + *rx_len, buf, n);
		*rx_len = (uint32_t)(*rx_len + n);
		buf += n;
		len -= n;
		int k;
		while ((k = mqtt_frame(rx, *rx_len)) > 0) {
			struct mqtt_msg m;
			if (mqtt_parse(&m, rx, (size_t)k) < 0)
				return -1;
			bool go_on = each(self, env, &m, now);
			/* The callback may have closed the connection and reset
			 * this buffer for the next one: nothing more to read. */
			if (*rx_len < (size_t)k)
				return 0;
			memmove(rx, rx + k, *rx_len - (size_t)k);
			*rx_len = (uint32_t)(*rx_len - (uint32_t)k);
			if (!go_on)
				return 0;
		}
		if (k < 0 || (k == 0 && *rx_len == cap))
			return -1;
	}
	return 1;
}

/* ---------------------------------------------------------------- client */

static const uint8_t zeros[65536];

void mqtt_client_init(struct mqtt_client *c, struct mqtt_inflight *inf, uint8_t n_inf)
{
	*c = (struct mqtt_client){.next_pid = 1, .reconnect_at = SIM_TIME_NEVER,
				  .ping_at = SIM_TIME_NEVER, .inf = inf, .n_inf = n_inf};
	memset(inf, 0, sizeof(*inf) * n_inf);
}

void mqtt_client_free(struct mqtt_client *c)
{
	free(c->pubq);
	c->pubq = NULL;
	c->pubq_cap = 0;
}

/* The backlog's publish times: a FIFO ring, doubled when full. */
static bool pubq_push(struct mqtt_client *c, sim_time t)
{
	if (c->backlog == c->pubq_cap) {
		uint32_t cap = c->pubq_cap ? 2 * c->pubq_cap : 8;
		sim_time *q = malloc(sizeof(*q) * cap);
		if (!q)
			return false;
		for (uint32_t i = 0; i < c->backlog; i++)
			q[i] = c->pubq[(c->pubq_head + i) % c->pubq_cap];
		free(c->pubq);
		c->pubq = q;
		c->pubq_cap = cap;
		c->pubq_head = 0;
	}
	c->pubq[(c->pubq_head + c->backlog) % c->pubq_cap] = t;
	return true;
}

static sim_time pubq_pop(struct mqtt_client *c)
{
	sim_time t = c->pubq[c->pubq_head];
	c->pubq_head = (c->pubq_head + 1) % c->pubq_cap;
	return t;
}

static void put(struct mqtt_client *c, const struct mqtt_client_env *env,
		const struct mqtt_msg *m, sim_time now)
{
	uint8_t buf[70000];
	int n = mqtt_encode(m, buf, sizeof(buf));
	if (n <= 0)
		return;
	/* paho 1.6.1's _last_msg_out: set when it connects and when it pings,
	 * and nowhere else in practice (_packet_write returns from its
	 * empty-queue branch before the line that would set it). */
	if (m->type == MQTT_CONNECT || m->type == MQTT_PINGREQ)
		c->last_tx = now;
	env->cb->write(env->ud, c, buf, (size_t)n);
}

static void send_publish(struct mqtt_client *c, const struct mqtt_client_env *env,
			 struct mqtt_inflight *f, bool dup, sim_time now)
{
	uint8_t q = env->p->qos;
	if (f) {
		c->writing_published = f->published;
		f->tx += f->tx < UINT8_MAX;
	}
	struct mqtt_msg m = {.type = MQTT_PUBLISH,
			     .flags = (uint8_t)((dup && q ? 8 : 0) | q << 1)};
	m.topic = (struct mqtt_str){(const uint8_t *)env->topic, (uint16_t)strlen(env->topic)};
	m.packet_id = f ? f->pid : 0;
	m.payload = zeros;
	m.payload_len = env->p->payload;
	put(c, env, &m, now);
}

static void send_ack(struct mqtt_client *c, const struct mqtt_client_env *env,
		     uint8_t type, uint16_t pid, sim_time now)
{
	struct mqtt_msg m = {.type = type, .packet_id = pid};
	put(c, env, &m, now);
}

/* A free slot while fewer than `inflight` are taken (§4.3: the window is
 * the client's choice), else NULL. */
static struct mqtt_inflight *free_slot(struct mqtt_client *c, uint8_t inflight)
{
	if (c->n_used >= inflight)
		return NULL;
	for (int i = 0; i < c->n_inf; i++)
		if (c->inf[i].state == MQTT_INF_FREE)
			return &c->inf[i];
	return NULL;
}

static void release(struct mqtt_client *c, struct mqtt_inflight *f)
{
	f->state = MQTT_INF_FREE;
	c->n_used--;
}

/* Send one message now (connected, a slot free for QoS > 0), published
 * by the application at `published`. */
static void start_message(struct mqtt_client *c, const struct mqtt_client_env *env,
			  sim_time published, sim_time now)
{
	struct mqtt_inflight f = {.published = published, .first_tx = now,
				  .msg_no = c->next_msg++, .tx = 1};

	if (env->p->qos == 0) {
		c->writing_published = published;
		send_publish(c, env, NULL, false, now);
		env->cb->done(env->ud, c, &f, MQTT_RES_SENT, now);
		return;
	}
	struct mqtt_inflight *s = free_slot(c, env->p->inflight);
	f.pid = c->next_pid++;
	if (!c->next_pid)
		c->next_pid = 1; /* §2.3.1: never 0 */
	f.state = env->p->qos == 1 ? MQTT_INF_WAIT_PUBACK : MQTT_INF_WAIT_PUBREC;
	f.tx = 0; /* send_publish counts it */
	*s = f;
	c->n_used++;
	send_publish(c, env, s, false, now);
}

static bool can_start(struct mqtt_client *c, const struct mqtt_client_env *env)
{
	if (c->state != MQTT_CLI_CONNECTED)
		return false;
	return env->p->qos == 0 || free_slot(c, env->p->inflight) != NULL;
}

static void flush(struct mqtt_client *c, const struct mqtt_client_env *env, sim_time now)
{
	while (c->backlog && can_start(c, env)) {
		sim_time published = pubq_pop(c);
		c->backlog--;
		start_message(c, env, published, now);
	}
}

void mqtt_client_publish(struct mqtt_client *c, const struct mqtt_client_env *env,
			 sim_time now)
{
	if (!c->backlog && can_start(c, env))
		start_message(c, env, now, now);
	else if (pubq_push(c, now))
		c->backlog++;
	else
		c->nomem = 1;
}

void mqtt_client_start(struct mqtt_client *c, const struct mqtt_client_env *env,
		       sim_time now)
{
	(void)now;
	c->state = MQTT_CLI_TCP_WAIT;
	env->cb->connect(env->ud, c);
}

void mqtt_client_up(struct mqtt_client *c, const struct mqtt_client_env *env, sim_time now)
{
	struct mqtt_msg m = {.type = MQTT_CONNECT, .level = 4,
			     .cflags = env->p->clean_session ? MQTT_CF_CLEAN : 0,
			     .keepalive = env->p->keepalive_s};
	m.client_id = (struct mqtt_str){(const uint8_t *)env->client_id,
					(uint16_t)strlen(env->client_id)};
	c->rx_len = 0;
	c->ping_out = 0;
	c->last_rx = now;
	c->state = MQTT_CLI_CONNECT_SENT;
	c->connects++;
	put(c, env, &m, now);
}

void mqtt_client_down(struct mqtt_client *c, const struct mqtt_client_env *env,
		      sim_time now)
{
	const struct mqtt_client_params *p = env->p;

	/* The unacknowledged messages stay: they are resent after the
	 * CONNACK (§4.4), with a clean session too, as paho does (its
	 * _messages_reconnect_reset_out keeps them whatever clean_session
	 * says; only the broker forgets its side, §3.1.2.4). */
	sim_time wait = p->reconnect_min << (c->backoff < 20 ? c->backoff : 20);
	if (wait > p->reconnect_max)
		wait = p->reconnect_max;
	c->backoff++;
	c->state = MQTT_CLI_BACKOFF;
	c->reconnect_at = now + wait;
	c->ping_out = 0;
}

static void lose_connection(struct mqtt_client *c, const struct mqtt_client_env *env,
			    sim_time now)
{
	env->cb->drop(env->ud, c);
	mqtt_client_down(c, env, now);
}

static struct mqtt_inflight *by_pid(struct mqtt_client *c, uint16_t pid, uint8_t state)
{
	for (int i = 0; i < c->n_inf; i++)
		if (c->inf[i].state == state && c->inf[i].pid == pid)
			return &c->inf[i];
	return NULL;
}

static void on_packet(struct mqtt_client *c, const struct mqtt_client_env *env,
		      const struct mqtt_msg *m, sim_time now)
{
	struct mqtt_inflight *f;

	switch (m->type) {
	case MQTT_CONNACK:
		if (c->state != MQTT_CLI_CONNECT_SENT || m->return_code) {
			lose_connection(c, env, now);
			return;
		}
		c->state = MQTT_CLI_CONNECTED;
		c->backoff = 0;
		if (c->connects > 1)
			c->reconnects++;
		/* §4.4: resend what is unacknowledged, PUBLISH with DUP; a
		 * QoS 2 message the broker may have forgotten (a clean
		 * session) starts over with its PUBLISH, as paho's does. */
		for (int i = 0; i < c->n_inf; i++) {
			f = &c->inf[i];
			if (f->state == MQTT_INF_WAIT_PUBCOMP && env->p->clean_session)
				f->state = MQTT_INF_WAIT_PUBREC;
			if (f->state == MQTT_INF_WAIT_PUBACK || f->state == MQTT_INF_WAIT_PUBREC)
				send_publish(c, env, f, true, now);
			else if (f->state == MQTT_INF_WAIT_PUBCOMP)
				send_ack(c, env, MQTT_PUBREL, f->pid, now);
		}
		flush(c, env, now);
		return;
	case MQTT_PUBACK:
	case MQTT_PUBCOMP:
		f = by_pid(c, m->packet_id,
			   m->type == MQTT_PUBACK ? MQTT_INF_WAIT_PUBACK : MQTT_INF_WAIT_PUBCOMP);
		if (f) {
			struct mqtt_inflight done = *f;
			release(c, f);
			env->cb->done(env->ud, c, &done, MQTT_RES_COMPLETED, now);
			flush(c, env, now);
		}
		return;
	case MQTT_PUBREC:
		f = by_pid(c, m->packet_id, MQTT_INF_WAIT_PUBREC);
		if (f)
			f->state = MQTT_INF_WAIT_PUBCOMP;
		if (f || by_pid(c, m->packet_id, MQTT_INF_WAIT_PUBCOMP))
			send_ack(c, env, MQTT_PUBREL, m->packet_id, now);
		return;
	case MQTT_PINGRESP:
		c->ping_out = 0;
		return;
	default:
		return; /* SUBACK, UNSUBACK, PUBLISH to a publisher: nothing to do */
	}
}

static bool client_each(void *self, const void *env, const struct mqtt_msg *m,
			sim_time now)
{
	struct mqtt_client *c = self;
	on_packet(c, env, m, now);
	return c->state == MQTT_CLI_CONNECTED || c->state == MQTT_CLI_CONNECT_SENT;
}

void mqtt_client_data(struct mqtt_client *c, const struct mqtt_client_env *env,
		      sim_time now, const uint8_t *buf, size_t len)
{
	c->last_rx = now;
	if (split(c->rx, &c->rx_len, sizeof(c->rx), buf, len, client_each, c, env, now) < 0)
		lose_connection(c, env, now);
}

sim_time mqtt_client_expiry(const struct mqtt_client *c, const struct mqtt_client_params *p)
{
	if (c->state == MQTT_CLI_BACKOFF)
		return c->reconnect_at;
	if (c->state != MQTT_CLI_CONNECTED || !p->keepalive_s)
		return SIM_TIME_NEVER;
	/* As paho 1.6 does (_check_keepalive): a PINGREQ a keepalive after
	 * the last one (or the CONNECT), whatever was sent since (§3.1.2.10
	 * allows more pings than it needs), and a keepalive after the last
	 * packet received.  A publisher pings every keepalive while it
	 * publishes, as make validate's paho captures show (60.5 s apart at
	 * keepalive 60 s; paho checks in its loop, not at the instant).  No
	 * PINGRESP within another keepalive means the connection is gone. */
	sim_time quiet = c->last_tx < c->last_rx ? c->last_tx : c->last_rx;
	return c->ping_out ? c->ping_at + SIM_S(p->keepalive_s) : quiet + SIM_S(p->keepalive_s);
}

void mqtt_client_expire(struct mqtt_client *c, const struct mqtt_client_env *env,
			sim_time now)
{
	sim_time t = mqtt_client_expiry(c, env->p);

	if (t > now)
		return;
	if (c->state == MQTT_CLI_BACKOFF) {
		c->state = MQTT_CLI_TCP_WAIT;
		c->reconnect_at = SIM_TIME_NEVER;
		env->cb->connect(env->ud, c);
		return;
	}
	if (c->ping_out) {
		lose_connection(c, env, now);
		return;
	}
	struct mqtt_msg m = {.type = MQTT_PINGREQ};
	c->ping_out = 1;
	c->ping_at = now;
	put(c, env, &m, now);
}

/* ---------------------------------------------------------------- broker */

void mqtt_session_init(struct mqtt_session *s, uint8_t *rx, uint32_t rx_cap)
{
	*s = (struct mqtt_session){.rx = rx, .rx_cap = rx_cap};
}

static void reply(struct mqtt_session *s, const struct mqtt_session_env *env,
		  const struct mqtt_msg *m)
{
	uint8_t buf[64];
	int n = mqtt_encode(m, buf, sizeof(buf));
	if (n > 0)
		env->cb->write(env->ud, s, buf, (size_t)n);
}

static void session_packet(struct mqtt_session *s, const struct mqtt_session_env *env,
			   const struct mqtt_msg *m, sim_time now)
{
	struct mqtt_msg r = {0};

	if (!s->connected && m->type != MQTT_CONNECT) {
		env->cb->drop(env->ud, s); /* §3.1: CONNECT must come first */
		return;
	}
	switch (m->type) {
	case MQTT_CONNECT:
		if (s->connected) {
			env->cb->drop(env->ud, s); /* §3.1.0-2: a second CONNECT */
			return;
		}
		s->connected = 1;
		s->keepalive_s = m->keepalive;
		r.type = MQTT_CONNACK;
		reply(s, env, &r);
		return;
	case MQTT_PUBLISH: {
		uint8_t q = mqtt_qos(m);
		bool first = true;
		if (q == 2) {
			for (int i = 0; i < s->n_qos2; i++)
				if (s->qos2[i] == m->packet_id)
					first = false;
			if (first && s->n_qos2 < MQTT_MAX_INFLIGHT)
				s->qos2[s->n_qos2++] = m->packet_id;
		}
		env->cb->publish(env->ud, s, m, first, now);
		if (q) {
			r.type = q == 1 ? MQTT_PUBACK : MQTT_PUBREC;
			r.packet_id = m->packet_id;
			reply(s, env, &r);
		}
		return;
	}
	case MQTT_PUBREL:
		for (int i = 0; i < s->n_qos2; i++)
			if (s->qos2[i] == m->packet_id)
				s->qos2[i] = s->qos2[--s->n_qos2];
		r.type = MQTT_PUBCOMP;
		r.packet_id = m->packet_id;
		reply(s, env, &r);
		return;
	case MQTT_SUBSCRIBE:
		r.type = MQTT_SUBACK;
		r.packet_id = m->packet_id;
		r.n = m->n;
		memcpy(r.qos, m->qos, m->n); /* grant what was asked */
		reply(s, env, &r);
		return;
	case MQTT_UNSUBSCRIBE:
		r.type = MQTT_UNSUBACK;
		r.packet_id = m->packet_id;
		reply(s, env, &r);
		return;
	case MQTT_PINGREQ:
		r.type = MQTT_PINGRESP;
		reply(s, env, &r);
		return;
	case MQTT_DISCONNECT:
		s->connected = 0;
		env->cb->drop(env->ud, s);
		return;
	default:
		env->cb->drop(env->ud, s); /* a packet only a broker sends */
		return;
	}
}

static bool session_each(void *self, const void *env, const struct mqtt_msg *m,
			 sim_time now)
{
	session_packet(self, env, m, now);
	return true;
}

void mqtt_session_data(struct mqtt_session *s, const struct mqtt_session_env *env,
		       sim_time now, const uint8_t *buf, size_t len)
{
	s->last_rx = now;
	if (split(s->rx, &s->rx_len, s->rx_cap, buf, len, session_each, s, env, now) < 0)
		env->cb->drop(env->ud, s);
}

sim_time mqtt_session_expiry(const struct mqtt_session *s)
{
	if (!s->connected || !s->keepalive_s)
		return SIM_TIME_NEVER;
	return s->last_rx + SIM_MS(1500) * s->keepalive_s;
}

void mqtt_session_expire(struct mqtt_session *s, const struct mqtt_session_env *env,
			 sim_time now)
{
	if (mqtt_session_expiry(s) <= now) {
		s->connected = 0;
		env->cb->drop(env->ud, s);
	}
}
