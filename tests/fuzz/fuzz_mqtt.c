/* libFuzzer target: MQTT framing, parsing and canonical re-encoding. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../sim/mqtt/mqtt_msg.h"

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
	return 0;
}
