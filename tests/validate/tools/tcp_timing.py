#!/usr/bin/env python3
# One TCP sender's timing, read from captures the same way for a real run
# and for coapsim: how long its new data waits for the ACK that covers it,
# and the RTT samples Linux's tcp_ack_update_rtt would take (from the oldest
# segment a cumulative ACK covers, sent once; else the echoed timestamp)
# with the RTO Linux's estimator (tcp_rtt_estimator, tcp_set_rto) makes of
# them, and how much of the time that RTO was above 600 ms.  Knows the
# captures, not the model.
#   real (make validate, VALIDATE_MQTT_KEEP=1), the client's side:
#     tcp_timing.py RUN/c.pcapng 10.213.0.1 RUN/c.pcapng 10.213.0.2
#   coapsim (output.pcap = yes), the client's side:
#     tcp_timing.py OUT/pcap/p0-r0.pcap 2001:db8:1::1 OUT/pcap/p0-r0.rx.pcap 2001:db8::1
# SENDS holds what the sender sent, ARRIVALS what reached it from PEER.
import subprocess
import sys

M = 1 << 32
RTO_MIN = 0.2  # Linux's TCP_RTO_MIN, the floor of RTTVAR
RTO_HIGH = 0.6  # an RTO past the next PUBLISH's ACK at 100 ms (500 ms + a round trip)


def before(a, b):
    return ((a - b) % M) >= M // 2


def segments(pcap, src):
    """(time, seq, len, ack, TSval, TSecr) of src's non-SYN segments."""
    run = subprocess.run(
        ["tshark", "-r", pcap, "-T", "fields", "-e", "frame.time_epoch", "-e", "ip.src",
         "-e", "ipv6.src", "-e", "tcp.seq_raw", "-e", "tcp.len", "-e", "tcp.ack_raw",
         "-e", "tcp.flags.syn", "-e", "tcp.options.timestamp.tsval",
         "-e", "tcp.options.timestamp.tsecr"],
        capture_output=True, text=True)
    if run.returncode != 0:
        why = (run.stderr.strip().splitlines() or ["tshark failed"])[-1]
        print("tcp_timing.py: %s: cannot read: %s" % (pcap, why), file=sys.stderr)
        sys.exit(2)
    out = run.stdout
    segs = []
    for line in out.splitlines():
        f = line.split("\t")
        if (f[1] or f[2]) != src or f[6] in ("1", "True") or not f[3]:
            continue
        segs.append((float(f[0]), int(f[3]), int(f[4]), int(f[5] or 0),
                     int(f[7] or 0), int(f[8] or 0)))
    return segs


def quantiles(v, qs):
    v = sorted(v)
    return [v[min(len(v) - 1, int(q * len(v)))] for q in qs] if v else [float("nan")] * len(qs)


def main(sends_pcap, sender, arrivals_pcap, peer):
    sent = segments(sends_pcap, sender)
    acks = segments(arrivals_pcap, peer)
    events = sorted([(s[0], 0, s) for s in sent] + [(a[0], 1, a) for a in acks])
    segs = {}        # start -> [end, first sent, sent again]
    ts_sent = {}     # TSval -> when
    una = high = None
    waits, samples, rtos, rto_at = [], [], [], []
    pending = []     # (end, first sent) of new data waiting for its ACK
    srtt = mdev = mdev_max = rttvar = 0.0
    rtt_seq = None
    for t, kind, (_, seq, n, ack, tsval, tsecr) in events:
        if kind == 0:
            if not n:
                continue
            end = (seq + n) % M
            ts_sent[tsval] = t
            if una is None:
                una = high = seq
            if before(seq, high):  # a resend: what it covers was sent again
                for start, s in segs.items():
                    if not before(start, seq) and before(start, end):
                        s[2] = True
                segs.setdefault(seq, [end, t, True])
            else:
                segs[seq] = [end, t, False]
                pending.append((end, t))
                high = end
            continue
        if una is None or not before(una, ack) or before(high, ack):
            continue
        while pending and not before(ack, pending[0][0]):
            waits.append(t - pending.pop(0)[1])
        covered = sorted((s for s in segs if not before(ack, segs[s][0])),
                         key=lambda s: (s - una) % M)
        r = None
        if covered and not any(segs[s][2] for s in covered):
            r = t - segs[covered[0]][1]
        elif tsecr in ts_sent:
            r = t - ts_sent[tsecr]
        for s in covered:
            del segs[s]
        una = ack
        if r is None or not covered:
            continue
        samples.append(r)
        if not srtt:
            srtt, mdev = r, 2 * r
            rttvar = mdev_max = max(mdev, RTO_MIN)
            rtt_seq = high
        else:
            m = r - srtt
            srtt += m / 8
            if m < 0:  # a smaller RTT: mdev moves at 1/32 (tcp_rtt_estimator)
                m = -m - mdev / 4
                if m > 0:
                    m /= 8
            else:
                m -= mdev / 4
            mdev += m
            if mdev > mdev_max:
                mdev_max = mdev
                rttvar = max(rttvar, mdev_max)
            if before(rtt_seq, una):
                if mdev_max < rttvar:
                    rttvar -= (rttvar - mdev_max) / 4
                rtt_seq, mdev_max = high, RTO_MIN
        rtos.append(srtt + rttvar)
        rto_at.append(t)
    qs = (0.5, 0.75, 0.9, 0.99)
    print("ACK wait of new data (s), n=%d: p50 %.3f p75 %.3f p90 %.3f p99 %.3f; over 1 s %.3f, over 4 s %.3f"
          % ((len(waits), *quantiles(waits, qs), sum(w > 1 for w in waits) / max(1, len(waits)),
              sum(w > 4 for w in waits) / max(1, len(waits)))))
    print("RTT samples (s), n=%d: p50 %.3f p75 %.3f p90 %.3f p99 %.3f"
          % (len(samples), *quantiles(samples, qs)))
    print("RTO after each sample (s): p50 %.3f p75 %.3f p90 %.3f p99 %.3f, mean %.3f"
          % (*quantiles(rtos, qs), sum(rtos) / max(1, len(rtos))))
    # over time rather than per sample: how long the RTO stayed high (a
    # lost ACK's long sample holds RTTVAR up; the first 100 s left out)
    span = over = 0.0
    for k in range(len(rtos) - 1):
        if rto_at and rto_at[k] - rto_at[0] >= 100:
            d = rto_at[k + 1] - rto_at[k]
            span += d
            over += d if rtos[k] > RTO_HIGH else 0
    print("RTO above %.1f s, share of the time after the first 100 s: %.3f"
          % (RTO_HIGH, over / span if span else float("nan")))


if __name__ == "__main__":
    if len(sys.argv) != 5:
        print("usage: tcp_timing.py SENDS SENDER ARRIVALS PEER", file=sys.stderr)
        sys.exit(2)
    main(*sys.argv[1:])
