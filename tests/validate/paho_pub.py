#!/usr/bin/python3
# make validate (b), the real publisher: paho-mqtt 1.6 (Debian's
# python3-paho-mqtt) publishing N 16-byte QoS 1 messages, one every
# --interval seconds, to a broker (mosquitto across coapsim link), as
# coapsim's MQTT client does: client id "s-0", topic "sensors/0", clean
# session, keepalive 60 s, paho's default 20 messages in flight.  A message's
# latency is from the moment publish() is called (the application's publish,
# so time spent waiting for an in-flight slot counts) to on_publish (its
# PUBACK).  Ends by itself: it gives up on the connection after
# --connect-timeout and on the acknowledgements --drain seconds after the
# last publish.  Writes one latency (ms) a line for the acknowledged
# messages to --out, "mid publish_epoch_s latency_ms" a line to --trace (to
# check against the capture), and prints the counts.
import argparse
import socket
import sys
import threading
import time

import paho.mqtt.client as mqtt


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--host", default="10.213.0.2")
    ap.add_argument("--port", type=int, default=1883)
    ap.add_argument("-n", type=int, default=1000, help="messages")
    ap.add_argument("--interval", type=float, default=0.5, help="seconds between publishes")
    ap.add_argument("--payload", type=int, default=16, help="bytes a message")
    ap.add_argument("--nodelay", action="store_true", help="TCP_NODELAY on the client socket")
    ap.add_argument("--connect-timeout", type=float, default=60.0)
    ap.add_argument("--drain", type=float, default=180.0,
                    help="seconds after the last publish to wait for PUBACKs")
    ap.add_argument("--out", required=True, help="latencies (ms), one a line")
    ap.add_argument("--trace", help="mid, publish time (epoch s), latency (ms)")
    a = ap.parse_args()

    pub = {}  # mid -> (monotonic, epoch) when publish() was called
    ack = {}  # mid -> monotonic when on_publish fired (PUBACK)
    connected = threading.Event()
    state = {"connects": 0, "disconnects": 0}

    def on_socket_open(client, userdata, sock):
        # Before CONNECT goes out: the whole connection has TCP_NODELAY.
        if a.nodelay:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def on_connect(client, userdata, flags, rc):
        if rc == 0:
            state["connects"] += 1
            connected.set()

    def on_disconnect(client, userdata, rc):
        state["disconnects"] += 1

    def on_publish(client, userdata, mid):
        # May run before publish() has returned its mid: kept apart from pub.
        ack.setdefault(mid, time.monotonic())

    c = mqtt.Client(client_id="s-0", clean_session=True, protocol=mqtt.MQTTv311)
    c.max_inflight_messages_set(20)
    c.on_socket_open = on_socket_open
    c.on_connect = on_connect
    c.on_disconnect = on_disconnect
    c.on_publish = on_publish
    # connect_async + loop_start: paho retries a connection whose SYN or
    # CONNECT is lost (loop_forever with retry_first_connection).
    c.connect_async(a.host, a.port, keepalive=60)
    c.loop_start()
    if not connected.wait(a.connect_timeout):
        print("paho_pub: no connection within %gs" % a.connect_timeout, file=sys.stderr)
        c.loop_stop()
        return 2

    payload = bytes(a.payload)
    t0 = time.monotonic()
    for i in range(a.n):
        due = t0 + i * a.interval
        while True:
            d = due - time.monotonic()
            if d <= 0:
                break
            time.sleep(d)
        tm, te = time.monotonic(), time.time()
        info = c.publish("sensors/0", payload, qos=1)
        pub[info.mid] = (tm, te)
    deadline = time.monotonic() + a.drain
    while time.monotonic() < deadline and any(m not in ack for m in pub):
        time.sleep(0.05)

    done = [(m, pub[m], (ack[m] - pub[m][0]) * 1000.0) for m in sorted(pub) if m in ack]
    with open(a.out, "w") as f:
        for _, _, lat in done:
            f.write("%.3f\n" % lat)
    if a.trace:
        with open(a.trace, "w") as f:
            for m, (_, te), lat in done:
                f.write("%d %.6f %.3f\n" % (m, te, lat))
    c.disconnect()
    t = time.monotonic() + 5
    while time.monotonic() < t and c._thread is not None and c._thread.is_alive():
        time.sleep(0.05)
    print("paho_pub: %d published, %d acknowledged, %d connections, %d disconnections%s"
          % (len(pub), len(done), state["connects"], state["disconnects"],
             ", TCP_NODELAY" if a.nodelay else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
