#!/bin/sh
# make validate (b): coapsim's MQTT/TCP model against the real stacks, over
# coapsim link (two network namespaces joined by the seeded emulated link;
# root).  A paho-mqtt publisher (tests/validate/paho_pub.py, Debian's
# python3-paho-mqtt) sends VALIDATE_MQTT_N (default 1,000) 16-byte QoS 1
# PUBLISHes, one every 500 ms, to mosquitto, for each point (one-way delay:
# loss each way) of VALIDATE_MQTT_POINTS (default the six of 100 and 200
# ms with 5, 10 and 20%) and each of TCP_NODELAY off and on (paho's socket
# and mosquitto's set_tcp_nodelay); dumpcap captures both ends.  Then the
# same scenario simulated in coapsim with [tcp] profile = linux and
# rfc6298 (VALIDATE_MQTT_REPS replications, default 100; each percentile
# the median over them), at the loss the real link realized in each
# direction (below), and one table, real against simulated, with the
# ratios.
# The real runs go in parallel (VALIDATE_MQTT_JOBS at once, default 12:
# coapsim link instances do not collide, each has its own namespaces, and
# they mostly sleep): about 10 minutes with the defaults.  Every
# process is bounded by timeout(1) and the publisher ends by itself
# (VALIDATE_MQTT_DRAIN seconds, default 180, after its last publish);
# namespaces and servers are removed on exit (VALIDATE_MQTT_KEEP=1 keeps
# the captures and logs; VALIDATE_MQTT_REAL=DIR compares the simulation
# with the real runs kept in DIR instead of running them again).
set -eu
cd "$(dirname "$0")/../.."
BIN=${COAPSIM:-build/coapsim}
N=${VALIDATE_MQTT_N:-1000}
POINTS=${VALIDATE_MQTT_POINTS:-100ms:5% 100ms:10% 100ms:20% 200ms:5% 200ms:10% 200ms:20%}
REPS=${VALIDATE_MQTT_REPS:-100}
DRAIN=${VALIDATE_MQTT_DRAIN:-180}
JOBS=${VALIDATE_MQTT_JOBS:-12}
SEED=${VALIDATE_MQTT_SEED:-1} # the links': SEED * 100 + 1, + 2, ... run by run
PY=${VALIDATE_PYTHON:-/usr/bin/python3}
# Congestion control of both real ends, set in their namespaces: Debian's
# kernel default (cubic), whatever this host's own default is (a host
# that runs bbr would otherwise be what the model is compared against).
CC=${VALIDATE_MQTT_CC:-cubic}
CLI=10.213.0.1 SRV=10.213.0.2
[ "$(id -u)" = 0 ] || { echo "validate: needs root (namespaces, TUN devices)"; exit 1; }
for t in mosquitto dumpcap tshark; do
	command -v $t >/dev/null || { echo "validate: needs $t (mosquitto, tshark)"; exit 1; }
done
"$PY" -c 'import paho.mqtt.client' 2>/dev/null || { echo "validate: needs python3-paho-mqtt"; exit 1; }
REAL=${VALIDATE_MQTT_REAL:-}
if [ -n "$REAL" ]; then
	# kept runs: one directory per point and nodelay, as this script names them
	for pt in $POINTS; do
		for nd in no yes; do
			r="$REAL/$(echo "$pt" | tr ':%' '_p')-$nd"
			[ -s "$r/link.log" ] || { echo "validate: VALIDATE_MQTT_REAL=$REAL: no kept run $r (VALIDATE_MQTT_KEEP=1 keeps them)"; exit 2; }
		done
	done
	OUT=$(cd "$REAL" && pwd)
	VALIDATE_MQTT_KEEP=1
else
	OUT=$(mktemp -d /tmp/coapsim-validate-mqtt-XXXXXX)
fi
ROOT=$(pwd)
BIN=$(cd "$(dirname "$BIN")" && pwd)/$(basename "$BIN")

# On exit: stop what is still running, remove any namespace a link that
# was killed left behind (coapsim-PID-c/-s, PID from link.pid), the files.
cleanup() {
	for f in "$OUT"/*/link.pid; do
		[ -z "$REAL" ] || break # kept runs: their processes are long gone
		[ -f "$f" ] || continue
		p=$(cat "$f")
		case $(ps -o args= -p "$p" 2>/dev/null) in *" link "*) kill "$p" 2>/dev/null || true ;; esac
		for ns in "coapsim-$p-c" "coapsim-$p-s"; do
			if ip netns list | grep -q "^$ns\( \|$\)"; then
				ip netns pids "$ns" 2>/dev/null | xargs -r kill -9 2>/dev/null || true
				ip netns del "$ns" 2>/dev/null || true
			fi
		done
	done
	[ -z "$ALLOWED0" ] || sysctl -qw net.ipv4.tcp_allowed_congestion_control="$ALLOWED0"
	if [ -n "${VALIDATE_MQTT_KEEP:-}" ]; then echo "validate mqtt: files kept in $OUT"; else rm -rf "$OUT"; fi
}
ALLOWED0=
trap cleanup EXIT
# A namespace may only take as its default an algorithm the host allows
# unprivileged sockets to pick: add $CC to that list for the run (the
# host's own default is not touched), and put the list back on exit.
allowed=$(sysctl -n net.ipv4.tcp_allowed_congestion_control)
case " $allowed " in
*" $CC "*) ;;
*)
	ALLOWED0=$allowed
	sysctl -qw net.ipv4.tcp_allowed_congestion_control="$allowed $CC" ||
		{ echo "validate: cannot allow congestion control $CC"; exit 1; }
	;;
esac
trap 'exit 130' INT TERM

# median of the numbers in a file (the mean of the middle two when even)
med() { sort -g "$1" | awk '{ v[NR] = $1 } END { print (NR ? (v[int((NR + 1) / 2)] + v[int(NR / 2) + 1]) / 2 : "nan") }'; }
# p-th percentile of the numbers in a file (nearest rank)
pct() { sort -g "$1" | awk -v p="$2" '{ v[NR] = $1 } END { k = int(p * NR + 0.999999); if (k < 1) k = 1; print (NR ? v[k] : "nan") }'; }

T_PUB=$(awk -v n="$N" 'BEGIN { print int(n * 0.5) + 1 }')
T_PY=$((T_PUB + DRAIN + 60 + 20))  # publishing, drain, connection, exit
T_LINK=$((T_PY + 60))

# One real run in $1: link delay $2, loss $3, nodelay $4 (no|yes), link
# seed $5.  Each run has its own seed: runs at one loss rate with one seed
# would share one loss sequence (the n-th packet's fate), and a rare run
# of losses in it (8 in a row at 20% is in ~0.4% of sequences of 2,000)
# would then stall every one of them.
real_run() {
	d=$1
	mkdir -p "$d"
	printf '[scenario]\nduration = 1min\nseed = %s\n[link]\nlatency = %s\njitter = none\nloss = %s\n[group.s]\ncount = 1\n' \
		"$5" "$2" "$3" > "$d/link.ini"
	nd=false pflag=
	[ "$4" = yes ] && nd=true pflag=--nodelay
	printf 'listener 1883\nallow_anonymous true\npersistence false\nset_tcp_nodelay %s\n' $nd > "$d/mosquitto.conf"
	# --foreground: link's SIGTERM to the command's process group reaches
	# dumpcap and mosquitto themselves (dumpcap then closes its file).
	srv="sysctl -qw net.ipv4.tcp_congestion_control=$CC || exit 1; \
timeout --foreground $T_LINK dumpcap -q -i csl0 -w $d/s.pcapng 2>$d/s.dumpcap.log & \
exec timeout --foreground $T_LINK mosquitto -c $d/mosquitto.conf 2>$d/mosquitto.log"
	cli="sysctl -qw net.ipv4.tcp_congestion_control=$CC || exit 1; \
timeout --foreground $T_LINK dumpcap -q -i csl0 -w $d/c.pcapng 2>$d/c.dumpcap.log & p=\$!; \
i=0; while [ ! -s $d/c.pcapng ] && [ \$i -lt 50 ]; do sleep 0.1; i=\$((i + 1)); done; sleep 0.5; \
timeout --foreground $T_PY $PY $ROOT/tests/validate/paho_pub.py -n $N --drain $DRAIN $pflag \
--out $d/lat --trace $d/trace > $d/paho.log 2>&1; r=\$?; sleep 2; kill \$p; wait \$p; exit \$r"
	timeout "$T_LINK" sh -c 'echo $$ > "$1"; shift; exec "$@"' sh "$d/link.pid" \
		"$BIN" link "$d/link.ini" --server "$srv" --client "$cli" > "$d/link.log" 2>&1 || true
}

# Real runs, JOBS at once.
i=0
start=$(date +%s)
for pt in $POINTS; do
	for nd in no yes; do
		[ -z "$REAL" ] || continue
		i=$((i + 1))
		real_run "$OUT/$(echo "$pt" | tr ':%' '_p')-$nd" "${pt%%:*}" "${pt#*:}" $nd $((SEED * 100 + i)) &
		if [ $((i % JOBS)) = 0 ]; then wait; fi
	done
done
wait
if [ -n "$REAL" ]; then
	echo "validate mqtt: the real runs kept in $OUT"
else
	echo "validate mqtt: real runs took $(($(date +%s) - start)) s ($N messages each, congestion control $CC)"
fi

# Real figures of run dir $1: acked p50 p90 p99 retx/msg bytes/msg.
# Bytes: each side's capture holds every packet that side sent (before the
# link lost any), so a packet is counted from its sender's capture.  Counted
# per packet: TCP header with its options (Linux's timestamps and SACK
# blocks, which the linux profile has too) and payload, plus a 40-byte IPv6 header
# in place of the real link's 20-byte IPv4 one, because coapsim's
# bytes_sent counts IPv6/TCP packets (metrics_table.h: IPv6 headers
# included); no link-layer framing on either side.  Retransmissions:
# segments sent again, both directions, as coapsim's tcp_retransmissions:
# in the sender's own capture, the frames Wireshark's analysis flags as a
# retransmission (plain, fast or spurious) or out-of-order.  At the sender
# an out-of-order segment is a retransmission too: Wireshark calls one
# "out-of-order" when it follows the sender's previous segment within an
# RTT (Linux's SACK-driven early retransmits do), and a sender sends
# nothing else below its highest sequence number (the count equals that
# of segments starting below the highest sequence number sent before;
# tcp.analysis.retransmission alone misses about a third).  Per message:
# over the N messages published.
real_row() {
	d=$1
	acked=0
	[ -f "$d/lat" ] && acked=$(wc -l < "$d/lat")
	bytes=0 retx=0
	for side in "c $CLI" "s $SRV"; do
		set -- $side
		b=$(tshark -r "$d/$1.pcapng" -Y "tcp && ip.src == $2" -T fields -e ip.len -e ip.hdr_len 2>/dev/null |
			awk '{ s += $1 - $2 + 40 } END { print s + 0 }')
		r=$(tshark -r "$d/$1.pcapng" -Y "ip.src == $2 && (tcp.analysis.retransmission || \
tcp.analysis.fast_retransmission || tcp.analysis.spurious_retransmission || \
tcp.analysis.out_of_order)" -T fields -e frame.number 2>/dev/null | wc -l)
		bytes=$((bytes + b)) retx=$((retx + r))
	done
	if [ "$acked" -gt 0 ]; then
		p50=$(pct "$d/lat" 0.5) p90=$(pct "$d/lat" 0.9) p99=$(pct "$d/lat" 0.99)
	else
		p50=nan p90=nan p99=nan
	fi
	awk -v a="$acked" -v n="$N" -v r="$retx" -v b="$bytes" -v x="$p50 $p90 $p99" \
		'BEGIN { printf "%.4f %s %.4f %.1f\n", a / n, x, r / n, b / n }'
}

# The check of the real latencies against the client's capture.  TCP hands
# a PUBACK to paho only when every byte before it has come, so the check
# takes the PUBACKs that came in order (the stream's next bytes when they
# reached the client's TUN: no hole before them), and for each compares
# paho's latency with that arrival minus paho's publish time (epoch, from
# --trace; the same clock as the capture's): the difference is paho's own
# delay in reading the socket.  Also the wire's round trip: the PUBLISH's
# first sending to that PUBACK.
real_check() {
	d=$1
	[ -s "$d/trace" ] || { echo "no acknowledged message"; return; }
	tshark -r "$d/c.pcapng" -Y 'tcp.len > 0' -T fields -e ip.src -e frame.time_epoch \
		-e tcp.seq -e tcp.len -e mqtt.msgtype -e mqtt.msgid 2>/dev/null |
		awk -v srv=$SRV -v tr="$d/trace" -v dd="$d/chk.d" -v ww="$d/chk.w" '
		BEGIN { FS = "\t"; nxt = 1
			while ((getline l < tr) > 0) { split(l, f, " "); pt[f[1]] = f[2]; pl[f[1]] = f[3] } }
		{ nt = split($5, t, ","); split($6, id, ",")
		  if ($1 != srv) {
			for (i = 1; i <= nt; i++) if (t[i] == 3 && !(id[i] in p)) p[id[i]] = $2
			next }
		  inord = $3 <= nxt
		  if ($3 + $4 > nxt) { if (inord) nxt = $3 + $4; else ooo[$3] = $3 + $4 }
		  for (moved = inord; moved;) {
			moved = 0
			for (q in ooo) if (q + 0 <= nxt) { if (ooo[q] > nxt) nxt = ooo[q]; delete ooo[q]; moved = 1 } }
		  if (!inord) next
		  for (i = 1; i <= nt; i++) if (t[i] == 4 && !(id[i] in a)) a[id[i]] = $2 }
		END { printf "" > dd; printf "" > ww
			for (m in a) if (m in pt) {
				print pl[m] - (a[m] - pt[m]) * 1000 > dd
				if (m in p) print (a[m] - p[m]) * 1000 > ww } }'
	k=$(wc -l < "$d/chk.d") n=$(wc -l < "$d/trace")
	if [ "$k" = 0 ]; then echo "no in-order PUBACK of the trace in the capture"; return; fi
	sort -g "$d/chk.d" | awk -v k="$k" -v n="$n" -v w50="$(pct "$d/chk.w" 0.5)" -v wmin="$(pct "$d/chk.w" 0)" '
		{ v[NR] = $1; a = $1 < 0 ? -$1 : $1; if (a > mx) mx = a }
		END { printf "%d of %d acked checked (PUBACK in order); paho - capture median %.2f ms, max |.| %.2f ms; wire PUBLISH->PUBACK min %.1f median %.1f ms\n",
			k, n, v[int((k + 1) / 2)], mx, wmin, w50 }'
}

# The loss the real link realized in run dir $1, each direction, in %
# (coapsim link's count: "N packets into the link (C from the client, S
# from the server), L lost; A out to the server, B to the client"), or
# the nominal $2 twice when the link did not report.  One run's realized
# loss is a draw: at 20% over ~2,500 packets its standard deviation is
# 0.8 points, and 1 point more loss moves this model's p50/p90/p99 at
# 100 ms/20% by 17-21% (docs/testing.md).  So the simulation is asked what
# the real stacks met, and the replications draw their own losses at
# that rate.
real_loss() {
	set -- $(tail -1 "$1/link.log" 2>/dev/null | sed -n 's/.*(\([0-9]*\) from the client, \([0-9]*\) from the server), [0-9]* lost; \([0-9]*\) out to the server, \([0-9]*\) to the client.*/\1 \2 \3 \4/p') "$2"
	if [ $# = 5 ] && [ "$1" -gt 0 ] && [ "$2" -gt 0 ]; then
		awk -v c="$1" -v s="$2" -v a="$3" -v b="$4" 'BEGIN { printf "%.3f%% %.3f%%\n", 100 * (1 - a / c), 100 * (1 - b / s) }'
	else
		echo "${5:-$1} ${5:-$1}"
	fi
}

# Simulated: $1 delay, $2 loss up, $3 nodelay, $4 profile, $5 dir, $6 loss
# down; prints acked p50 p90 p99 retx/msg bytes/msg over REPS
# replications (bytes as coapsim counts them, IPv6/TCP, see above).  Each percentile is the
# median over the replications of that replication's percentile: a real
# run is one run of 1,000 messages, and so is a replication.  (Pooled over
# the replications, a percentile is another statistic: at 20% loss a
# few replications with a long stall, which real runs have too, set the
# pooled p90/p99.)
sim_row() {
	dur=$(awk -v n="$N" 'BEGIN { print n * 500 }')
	printf '[scenario]\nduration = %sms\nseed = 1\nreplications = %s\n[link]\nlatency = %s\njitter = none\n' \
		"$dur" "$REPS" "$1" > "$5.ini"
	printf '[link.up]\nloss = %s\n[link.down]\nloss = %s\n' "$2" "$6" >> "$5.ini"
	printf '[group.pub]\ncount = 1\nprotocol = mqtt\ntraffic = periodic(500ms)\nstart = 0s\npayload = 16\nqos = 1\ntopic = sensors/{id}\n' >> "$5.ini"
	printf '[mqtt]\nkeepalive = 60s\nclean_session = yes\ninflight = 20\nnodelay = %s\n[broker]\nnodelay = %s\n' "$3" "$3" >> "$5.ini"
	# mss: the real link's (a 1,500-byte TUN MTU); other [tcp] keys default.
	printf '[tcp]\nprofile = %s\nmss = 1460\n[output]\npcap = no\nexchanges = yes\n' "$4" >> "$5.ini"
	timeout 600 "$BIN" run "$5.ini" --quiet --out "$5" >/dev/null
	awk -F, 'NR > 1 && $5 == "completed" { print $6 }' "$5/exchanges.csv" > "$5.lat"
	for q in p50 p90 p99; do
		awk -F, -v k="latency_ms.$q" 'NR == 1 { for (i = 1; i <= NF; i++) c[$i] = i; next }
			{ print $c[k] }' "$5/runs.csv" > "$5.$q"
	done
	p="$(med "$5.p50") $(med "$5.p90") $(med "$5.p99")"
	awk -F, -v x="$p" -v a="$(wc -l < "$5.lat")" '
		NR == 1 { for (i = 1; i <= NF; i++) c[$i] = i; next }
		{ m += $c["messages"]; r += $c["tcp_retransmissions"]; b += $c["bytes_sent"] }
		END { printf "%.4f %s %.4f %.1f\n", a / m, x, r / m, b / m }' "$5/runs.csv"
}

: > "$OUT/ratios"
printf '\n%-10s %-4s %-16s %7s %9s %9s %9s %8s %9s %6s\n' point nd side acked p50_ms p90_ms p99_ms retx/msg bytes/msg lat_r
for pt in $POINTS; do
	for nd in no yes; do
		d="$OUT/$(echo "$pt" | tr ':%' '_p')-$nd"
		set -- $(real_row "$d")
		real="$*"
		printf '%-10s %-4s %-16s %7.4f %9.1f %9.1f %9.1f %8.3f %9.1f\n' "$pt" $nd paho-mosquitto "$@"
		set -- $(real_loss "$d" "${pt#*:}")
		lup=$1 ldn=$2
		printf '%-10s %-4s %-16s loss the link realized: %s to the broker, %s back\n' "$pt" $nd "" $lup $ldn
		for prof in linux rfc6298; do
			set -- $(sim_row "${pt%%:*}" $lup $nd $prof "$d/sim-$prof" $ldn)
			printf '%-10s %-4s %-16s %7.4f %9.1f %9.1f %9.1f %8.3f %9.1f\n' "$pt" $nd coapsim-$prof "$@"
			echo "$real $*" | awk -v pt="$pt" -v nd=$nd -v s="sim/real-$prof" -v prof=$prof '
				function q(a, b) { return b > 0 ? a / b : 0 }
				{ r1 = q($8, $2); r2 = q($9, $3); r3 = q($10, $4); m = (r1 + r2 + r3) / 3
				  printf "%-10s %-4s %-16s %7.3f %9.2f %9.2f %9.2f %8.2f %9.2f %6.2f\n",
					pt, nd, s, q($7, $1), r1, r2, r3, q($11, $5), q($12, $6), m
				  print prof, nd, m >> "'"$OUT"'/ratios" }'
		done
	done
done
# A real run that acknowledged nothing measured nothing: fail (CI runs the
# short version for this).
empty=0
for pt in $POINTS; do
	for nd in no yes; do
		d="$OUT/$(echo "$pt" | tr ':%' '_p')-$nd"
		[ -s "$d/lat" ] || { echo "validate mqtt: $pt nodelay=$nd: no real message acknowledged (see $d/link.log)"; empty=1; }
	done
done
# The issue's measure: the mean over the points of each row's mean of
# the p50/p90/p99 ratios, for Nagle on (nd no) and TCP_NODELAY (nd yes).
awk '{ k = $1 " nd=" $2; s[k] += $3; n[k]++ } END { printf "\nmean latency ratio sim/real over p50/p90/p99 and the points:"
	for (k in s) printf " %s %.2f;", k, s[k] / n[k]; print "" }' "$OUT/ratios"

echo
echo "checks (real latencies against the client's capture; the link's own count):"
for pt in $POINTS; do
	for nd in no yes; do
		d="$OUT/$(echo "$pt" | tr ':%' '_p')-$nd"
		printf '%-10s %-4s %s\n' "$pt" $nd "$(real_check "$d")"
		printf '%-15s %s | %s\n' "" "$(tail -1 "$d/paho.log" 2>/dev/null)" "$(tail -1 "$d/link.log")"
	done
done
[ "$empty" = 0 ] || { VALIDATE_MQTT_KEEP=1; exit 1; }
