#!/bin/sh
# make validate: coapsim's models against the real stacks, over coapsim link
# (two network namespaces joined by the seeded emulated link; root).  Real
# time, bounded: about 20 minutes with the defaults, every client ends by
# itself (-B 50), every link run by timeout(1).
#   (a) libcoap's coap-client-notls against coap-server-notls: VALIDATE_N
#       CON GETs (default 2,000, in parallel batches of VALIDATE_BATCH) at
#       10% and 30% loss each way, 100 ms each way, latencies read from a
#       capture on the client's side; then the same scenario simulated; one
#       table, real against simulated, with the ratio.
#   VALIDATE_LOSSES (default "10% 30%") chooses the loss rates.
# (b), paho against mosquitto, is tests/validate/mqtt.sh.
set -eu
cd "$(dirname "$0")/../.."
BIN=${COAPSIM:-build/coapsim}
N=${VALIDATE_N:-2000}
BATCH=${VALIDATE_BATCH:-200}
[ "$(id -u)" = 0 ] || { echo "validate: needs root (namespaces, TUN devices)"; exit 1; }
command -v coap-client-notls >/dev/null || { echo "validate: needs libcoap3-bin"; exit 1; }
for t in dumpcap tshark; do
	command -v $t >/dev/null || { echo "validate: needs $t (tshark)"; exit 1; }
done
OUT=$(mktemp -d /tmp/coapsim-validate-XXXXXX)
trap 'rm -rf "$OUT"' EXIT

# p-th percentile of the numbers in a file (nearest rank)
pct() { sort -g "$1" | awk -v p="$2" '{ v[NR] = $1 } END { k = int(p * NR + 0.999999); if (k < 1) k = 1; print v[k] }'; }

printf '%-6s %-10s %9s %9s %9s %9s %9s\n' loss side success tx/req p50_ms p90_ms p99_ms
for loss in ${VALIDATE_LOSSES:-10% 30%}; do
	d="$OUT/$loss"
	mkdir -p "$d"
	printf '[scenario]\nduration = 1min\nseed = 3\n[link]\nlatency = 100ms\nloss = %s\n[group.s]\ncount = 1\n' \
		"$loss" > "$d/link.ini"
	from=0 b=0
	while [ $((b * BATCH)) -lt "$N" ]; do
		b=$((b + 1))
		# dumpcap on the client's side of the link: latencies come from
		# the wire, as coapsim's do, not from the client processes (whose
		# start and exit, 200 at once on two cores, cost up to 0.2 s).
		log=$(timeout 200 "$BIN" link "$d/link.ini" --set scenario.seed=$b \
			--server 'coap-server-notls -A 10.213.0.2' \
			--client "timeout --foreground 150 dumpcap -q -i csl0 -w $d/$b.pcapng 2>$d/$b.dumpcap.log & p=\$!; \
i=0; while [ ! -s $d/$b.pcapng ] && [ \$i -lt 50 ]; do sleep 0.1; i=\$((i + 1)); done; sleep 0.5; \
(for i in \$(seq $BATCH); do coap-client-notls -B 50 -m get coap://10.213.0.2/time > $d/$b-\$i.out 2>/dev/null & done; wait); \
sleep 1; kill \$p; wait \$p" 2>&1 | tail -1)
		k=$(echo "$log" | sed -n 's/.*(\([0-9]*\) from the client.*/\1/p')
		from=$((from + ${k:-0}))
	done
	n=$((b * BATCH))
	ok=0
	for f in "$d"/*.out; do
		if [ -s "$f" ]; then ok=$((ok + 1)); fi
	done
	[ "$ok" -gt 0 ] || { echo "validate: no GET answered at $loss: the link or the server did not come up"; exit 1; }
	# A request's latency: from its first CON on the wire to the first
	# response (code 2.xx or above) that reaches the client, per client port
	# and token (every client is a process with a port of its own); and the
	# CONs it took.
	: > "$d/answers"
	for f in "$d"/*.pcapng; do
		tshark -r "$f" -Y coap -T fields -E separator=, -e frame.time_epoch -e ip.src \
			-e udp.srcport -e udp.dstport -e coap.code -e coap.token 2>/dev/null |
			awk -F, '$2 != "10.213.0.2" && $5 > 0 && $5 < 32 { k = $3 "/" $6; n[k]++; if (!(k in t)) t[k] = $1 }
				 $2 == "10.213.0.2" && $5 >= 64 { k = $4 "/" $6
				   if ((k in t) && !(k in seen)) { seen[k] = 1; printf "%.3f %d\n", ($1 - t[k]) * 1000, n[k] } }' >> "$d/answers"
	done
	cut -d' ' -f1 "$d/answers" > "$d/lat"
	seen=$(wc -l < "$d/lat")
	[ "$seen" = "$ok" ] || echo "validate: $ok GETs answered at $loss, $seen answers found in the captures"
	real_s=$(awk -v a=$ok -v n=$n 'BEGIN { printf "%.4f", a / n }')
	real_t=$(awk -v a=$from -v n=$n 'BEGIN { printf "%.3f", a / n }')
	r50=$(pct "$d/lat" 0.5) r90=$(pct "$d/lat" 0.9) r99=$(pct "$d/lat" 0.99)
	printf '%-6s %-10s %9s %9s %9.1f %9.1f %9.1f\n' "$loss" libcoap "$real_s" "$real_t" "$r50" "$r90" "$r99"
	# The same in coapsim: n endpoints, one CON GET each (libcoap's client
	# uses RFC 7252's defaults: ACK_TIMEOUT 2 s, ACK_RANDOM_FACTOR 1.5,
	# MAX_RETRANSMIT 4).
	"$BIN" run scenarios/quickstart.ini --quiet --out "$d/sim" --set scenario.duration=2s \
		--set group.sensors.count=$n --set group.sensors.traffic=once \
		--set 'group.sensors.start=uniform(0,1s)' --set group.sensors.method=GET \
		--set group.sensors.confirmable=yes --set link.latency=100ms --set link.jitter=none \
		--set link.loss=$loss --set output.pcap=no --set output.exchanges=yes >/dev/null
	awk -F, -v loss="$loss" -v rs="$real_s" -v rt="$real_t" -v r50="$r50" -v r90="$r90" -v r99="$r99" '
		NR == 1 { for (i = 1; i <= NF; i++) c[$i] = i; next }
		{ s = $c["success_ratio"]; t = $c["transmissions"] / $c["messages"]
		  a = $c["latency_ms.p50"]; b = $c["latency_ms.p90"]; d = $c["latency_ms.p99"]
		  printf "%-6s %-10s %9.4f %9.3f %9.1f %9.1f %9.1f\n", loss, "coapsim", s, t, a, b, d
		  printf "%-6s %-10s %9.3f %9.3f %9.2f %9.2f %9.2f\n", loss, "ratio", s / rs, t / rt, a / r50, b / r90, d / r99 }' \
		"$d/sim/runs.csv"
	# The answers per backoff plateau (the try that was answered): the
	# percentiles above sit on a cliff between plateaus where a share is
	# near 0.5 or 0.9 (at 30% loss, 0.51 of the answers come at the first
	# try), so the shares are the finer check: a two-proportion z per try,
	# |z| < 1.96 within sampling error at 95%.
	awk -F, -v loss="$loss" '
		FNR == 1 { f++ }
		f == 1 { split($0, a, " "); r[a[2] > 5 ? 5 : a[2]]++; nr++; next }
		f == 2 && FNR > 1 && $5 == "completed" { s[$7 > 5 ? 5 : $7]++; ns++ }
		END { printf "%-6s %-10s", loss, "try 1..5"
		      for (k = 1; k <= 5; k++) printf " %5.3f/%5.3f", r[k] / nr, s[k] / ns
		      zmax = 0
		      for (k = 1; k <= 5; k++) { p = (r[k] + s[k]) / (nr + ns)
			  if (p > 0 && p < 1) { z = (r[k] / nr - s[k] / ns) / sqrt(p * (1 - p) * (1 / nr + 1 / ns))
			  if (z < 0) z = -z; if (z > zmax) zmax = z } }
		      printf "  max |z| %.2f\n", zmax }' "$d/answers" "$d/sim/exchanges.csv"
done
echo "(latencies on both sides: first transmission of the CON to the response's arrival at the client;"
echo " try 1..5: share of the answers that came at each try, libcoap/coapsim)"
