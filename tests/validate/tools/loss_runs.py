#!/usr/bin/env python3
# Loss runs on the emulated link of kept real runs (make validate part (b)
# with VALIDATE_MQTT_KEEP=1): which packets each side sent arrived at the
# other, and runs of consecutive losses against the geometric count an
# independent loss at the link's nominal rate gives.  Reads captures only;
# knows nothing of coapsim's model.
#   tests/validate/tools/loss_runs.py DIR/100ms_20p-no [DIR/... ...]
import collections
import subprocess
import sys

CLIENT, BROKER = "10.213.0.1", "10.213.0.2"


def packets(pcap, src):
    """TCP packets from src, as (seq, len, ack, TSval, flags) in order."""
    out = subprocess.run(
        ["tshark", "-r", pcap, "-Y", "ip.src == %s && tcp" % src, "-T", "fields",
         "-e", "tcp.seq_raw", "-e", "tcp.len", "-e", "tcp.ack_raw",
         "-e", "tcp.options.timestamp.tsval", "-e", "tcp.flags"],
        capture_output=True, text=True, check=True).stdout
    return [tuple(line.split("\t")) for line in out.splitlines()]


def nominal_loss(run):
    with open(run + "/link.ini") as f:
        return float(f.read().split("loss = ")[1].split("%")[0]) / 100


runs = {d: collections.Counter() for d in ("up", "down")}
expect = {d: collections.Counter() for d in ("up", "down")}
total = {d: [0, 0] for d in ("up", "down")}
for run in sys.argv[1:]:
    p = nominal_loss(run)
    for way, src, here, there in (("up", CLIENT, "c", "s"), ("down", BROKER, "s", "c")):
        sent = packets("%s/%s.pcapng" % (run, here), src)
        got = collections.Counter(packets("%s/%s.pcapng" % (run, there), src))
        k = 0
        for pkt in sent:
            total[way][0] += 1
            if got[pkt]:
                got[pkt] -= 1
                if k:
                    runs[way][k] += 1
                k = 0
            else:
                total[way][1] += 1
                k += 1
        if k:
            runs[way][k] += 1
        for j in range(1, 11):  # runs of exactly j among n draws
            expect[way][j] += len(sent) * (1 - p) ** 2 * p ** j
for way in ("up", "down"):
    n, lost = total[way]
    print("%s: %d packets, %d lost (%.2f%%); runs of k losses, seen (expected):" %
          (way, n, lost, 100 * lost / max(n, 1)))
    print("  " + " ".join("%d:%d(%.2f)" % (j, runs[way][j], expect[way][j]) for j in range(1, 11)))
