/* libFuzzer target: whatever bytes reach a DTLS or TLS end (sim/sec), as a
 * server's first datagrams, as the answers a client that began its
 * handshake gets, and as a TLS stream split anywhere.  Nothing may crash
 * or leak; the ends may fail. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../sim/sec/dtls.h"

static void out(void *ud, const uint8_t *b, size_t n)
{
	(void)ud;
	(void)b;
	(void)n;
}

static void in(void *ud, const uint8_t *b, size_t n)
{
	(void)ud;
	if (n && !b)
		abort();
}

static const struct dtls_cb cb = {out, in};

static struct dtls_peer *peer(bool server, bool stream)
{
	static const uint8_t psk[] = "coapsim-psk";
	struct dtls_params p = {
		.server = server, .stream = stream, .psk = psk, .psk_len = sizeof(psk) - 1,
		.identity = "coapsim", .timeout_min = SIM_S(1), .timeout_max = SIM_S(4),
		.seed = 7,
	};
	char err[160];
	struct dtls_peer *d = dtls_new(&p, &cb, NULL, err, sizeof(err));
	if (!d)
		abort();
	return d;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The input as chunks: a length byte, then that many bytes. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dtls_peer *srv = peer(true, false), *cli = peer(false, false);
	struct dtls_peer *tls = peer(true, true);
	dtls_start(cli, 0);
	sim_time now = 0;
	for (size_t i = 0; i < size;) {
		size_t n = data[i++];
		if (n > size - i)
			n = size - i;
		now += SIM_MS(10);
		dtls_recv(srv, now, data + i, n);
		dtls_recv(cli, now, data + i, n);
		dtls_recv(tls, now, data + i, n);
		if (dtls_expiry(cli) <= now)
			dtls_expire(cli, now);
		i += n;
	}
	dtls_expire(cli, SIM_S(100));
	dtls_free(srv);
	dtls_free(cli);
	dtls_free(tls);
	return 0;
}
