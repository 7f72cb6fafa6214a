#!/bin/sh
# coapsim benchmarks: exchanges per wall second and peak memory.
# Not a test: numbers depend on the machine.  Figures go in the README.
#   BENCH_QUICK=1 tests/bench/run.sh   smaller cases for a quick look
#   BENCH_LIVE_ONLY=1 tests/bench/run.sh   the live harness only
set -eu
cd "$(dirname "$0")/../.."
BIN=${COAPSIM:-build/coapsim}
OUT=$(mktemp -d /tmp/coapsim-bench-XXXXXX)
trap 'rm -rf "$OUT"' EXIT
TIME=/usr/bin/time
[ -x "$TIME" ] || { echo "bench needs GNU time (apt-get install time)"; exit 1; }

# run NAME ARGS...: one run, prints a table row.
run() {
	name=$1; shift
	$TIME -f '%M %e' -o "$OUT/time" $BIN run tests/bench/fleet.ini --quiet --jobs 1 \
		--out "$OUT/$name" "$@"
	set -- $(cat "$OUT/time")
	rss_kb=$1; elapsed=$2
	# messages, wall_s and events from the run's own summary
	awk -v name="$name" -v rss="$rss_kb" -v el="$elapsed" -F, '
		NR == 1 { for (i = 1; i <= NF; i++) col[$i] = i; next }
		{ m = $col["messages"]; w = $col["wall_s"]; e = $col["events"];
		  printf "%-28s %10d msgs %8.2f s %12.0f exch/s %12.0f events/s %8.1f MB peak\n",
			name, m, w, m / w, e / w, rss / 1024 }' "$OUT/$name/runs.csv"
}

# The load-testing harness (--backend live) on loopback.
live_bench() {
	echo "== the load-testing harness (--backend live) on loopback"
	# The ceiling: a plain recvmmsg/sendmmsg echo loop over as many sockets,
	# both ends on one core (tests/bench/udp_ref.c).
	N=${BENCH_LIVE_ENDPOINTS:-10000}
	cc -O2 -o "$OUT/udp_ref" tests/bench/udp_ref.c
	ref=$("$OUT/udp_ref" "$N" 5)
	echo "raw loopback echo, $N sockets, one core: $ref round trips/s"
	# live against a server: N endpoints, one CON GET a second each, 10 s, no
	# emulated loss or latency; the generator's CPU gives its capacity.
	live() {
		name=$1; port=$2
		$TIME -f '%U %S %M' -o "$OUT/time" $BIN run scenarios/live/temperature.ini --quiet \
			--out "$OUT/live-$name" --set live.target=coap://127.0.0.1:$port \
			--set group.sensors.path=/time --set group.sensors.count=$N \
			--set scenario.duration=10s --set 'group.sensors.traffic=periodic(1s)' \
			--set 'group.sensors.start=uniform(0,1s)' --set link.loss=0 \
			--set link.latency=0 --set link.jitter=none --set live.source=127.0.0.0/24
		set -- $(cat "$OUT/time")
		awk -v name="$name" -v u="$1" -v s="$2" -v rss="$3" -v ref="$ref" -F, '
			NR == 1 { for (i = 1; i <= NF; i++) col[$i] = i; next }
			{ m = $col["completed"]; w = $col["wall_s"]; cpu = u + s
			  printf "%-22s %8.0f req/s, %5.1f us CPU/request (capacity %6.0f req/s a core, %.0f%% of raw), lag p99 %.3f ms, %.1f MB\n",
				name, m / w, cpu / m * 1e6, m / cpu, 100 * m / cpu / ref,
				$col["generator_lag_ms.p99"], rss / 1024 }' "$OUT/live-$name/runs.csv"
	}
	$BIN serve scenarios/live/temperature.ini --listen coap://127.0.0.1:25690 --for 60s 2>/dev/null &
	sp=$!
	sleep 0.5
	live "coapsim serve" 25690
	kill $sp 2>/dev/null; wait $sp 2>/dev/null || true
	if command -v coap-server-notls >/dev/null; then
		coap-server-notls -A 127.0.0.1 -p 25691 &
		sp=$!
		sleep 0.5
		live "libcoap coap-server" 25691
		kill $sp 2>/dev/null; wait $sp 2>/dev/null || true
	fi
}

# The tun transport (root): one TUN device on this host holding fd00::1,
# coapsim serve listening on [::], every endpoint its simulator address.
tun_bench() {
	if [ "$(id -u)" != 0 ] || ! ip tuntap add dev cstbench mode tun 2>/dev/null; then
		echo "(tun transport: needs root and a TUN device: skipped)"
		return
	fi
	ip tuntap del dev cstbench mode tun
	echo "== the tun transport against coapsim serve (one TUN device, no sockets per endpoint)"
	$BIN serve scenarios/live/temperature.ini --listen 'coap://[::]:25692' --for 400s \
		2>/dev/null &
	sp=$!
	sleep 0.5
	# tun NAME COUNT RATE_S DURATION: COUNT endpoints, a GET every RATE_S
	# each, starts spread over the first period, no emulated loss.
	tun() {
		name=$1; count=$2; every=$3; dur=$4
		$TIME -f '%U %S %M' -o "$OUT/time" $BIN run scenarios/live/temperature.ini --quiet \
			--out "$OUT/tun" --set live.transport=tun --set 'live.target=coap://[fd00::1]:25692' \
			--set group.sensors.path=/time --set group.sensors.count=$count \
			--set scenario.duration=$dur --set "group.sensors.traffic=periodic($every)" \
			--set "group.sensors.start=uniform(0,$every)" --set link.loss=0 \
			--set link.latency=0 --set link.jitter=none
		set -- $(cat "$OUT/time")
		awk -v name="$name" -v u="$1" -v s="$2" -v rss="$3" -F, '
			NR == 1 { for (i = 1; i <= NF; i++) col[$i] = i; next }
			{ m = $col["completed"]; w = $col["wall_s"]; cpu = u + s
			  printf "%-26s %8d of %8d completed, %7.0f req/s, %5.1f us CPU/request, lag p99 %.3f ms, max %.1f ms, %.1f MB peak\n",
				name, m, $col["messages"], m / w, cpu / m * 1e6, $col["generator_lag_ms.p99"],
				$col["generator_lag_ms.max"], rss / 1024 }' "$OUT/tun/runs.csv"
		rm -rf "$OUT/tun"
	}
	tun "10k endpoints x 1/s" 10000 1s 10s
	tun "${BENCH_TUN_RATE:-50000} req/s" ${BENCH_TUN_RATE:-50000} 1s 10s
	tun "1M endpoints, 1 GET each" ${BENCH_TUN_ENDPOINTS:-1000000} 100s 100s
	kill $sp 2>/dev/null; wait $sp 2>/dev/null || true
}

if [ "${BENCH_LIVE_ONLY:-0}" = 1 ]; then
	live_bench
	tun_bench
	exit 0
fi
if [ "${BENCH_QUICK:-0}" = 1 ]; then
	run "10k endpoints, 10 min" --set group.sensors.count=10000 --set scenario.duration=10min
	exit 0
fi

echo "== native vs ns-3 backend, same scenario (1k endpoints, 1 h, no jitter, captures off)"
if $BIN run tests/bench/fleet.ini --quiet --out "$OUT/probe" --backend ns3 \
	--set group.sensors.count=1 --set scenario.duration=1s --set link.jitter=none 2>/dev/null; then
	run "native, 1k endpoints" --set group.sensors.count=1000 \
		--set link.jitter=none
	cp "$OUT/native, 1k endpoints/runs.csv" "$OUT/native.csv"
	run "ns-3 p2p, 1k endpoints" --set group.sensors.count=1000 \
		--set link.jitter=none --backend ns3
	awk -F, 'FNR == 1 { for (i = 1; i <= NF; i++) col[$i] = i; next }
		FILENAME ~ /native/ { nat = $col["messages"] / $col["wall_s"]; next }
		{ ns = $col["messages"] / $col["wall_s"] }
		END { printf "native is %.0fx the ns-3 backend in exchanges per wall second\n", nat / ns }' \
		"$OUT/native.csv" "$OUT/ns-3 p2p, 1k endpoints/runs.csv"
else
	echo "(coapsim built without ns-3: skipped)"
fi

echo "== scale (captures off, one core)"
run "1k endpoints, 10 min"   --set group.sensors.count=1000    --set scenario.duration=10min
run "10k endpoints, 10 min"  --set group.sensors.count=10000   --set scenario.duration=10min
run "100k endpoints, 10 min" --set group.sensors.count=100000  --set scenario.duration=10min
run "1M endpoints, 10 min"   --set group.sensors.count=1000000 --set scenario.duration=10min
echo "== 100k endpoints, 1 simulated hour"
run "100k x 1h, no pcap"     --set group.sensors.count=100000
run "100k x 1h, pcap"        --set group.sensors.count=100000 --set output.pcap=yes
echo "== MQTT QoS 1 over TCP (same fleet, one broker)"
run "10k MQTT clients, 10 min" --set group.sensors.count=10000 --set scenario.duration=10min \
	--set group.sensors.protocol=mqtt --set group.sensors.qos=1
run "10k CoAP clients, 10 min" --set group.sensors.count=10000 --set scenario.duration=10min
echo "== a sweep on both cores (6 replications x 100k endpoints x 20 min, captures off)"
# The whole command's wall time (report and plots included), --jobs 1
# against --jobs 2; the two must give the same results.
sweep() {
	$TIME -f '%e' -o "$OUT/time" $BIN run tests/bench/fleet.ini --quiet --jobs $1 \
		--out "$OUT/sweep$1" --replications 6 --set group.sensors.count=100000 \
		--set scenario.duration=20min
	cat "$OUT/time"
}
# runs.csv without the timing columns (wall_s, events_per_s: the last two)
untimed() { cut -d, -f1-$(($(head -1 "$1" | tr ',' '\n' | wc -l) - 2)) "$1"; }
# Twice, alternating: on a shared machine one pair can mislead.
for pair in 1 2; do
	j1=$(sweep 1); j2=$(sweep 2)
	if [ "$(untimed "$OUT/sweep1/runs.csv")" = "$(untimed "$OUT/sweep2/runs.csv")" ]; then
		same="identical results"
	else
		same="RESULTS DIFFER"
	fi
	awk -v a="$j1" -v b="$j2" -v same="$same" 'BEGIN {
		printf "--jobs 1: %.2f s, --jobs 2: %.2f s: %.2fx (%s)\n", a, b, a / b, same }'
	rm -rf "$OUT/sweep1" "$OUT/sweep2"
done
if command -v mpirun >/dev/null && ldd "$BIN" | grep -q libmpi; then
	echo "== the same sweep over MPI: 2 ranks x --jobs 1 against 1 process x --jobs 1"
	MPIRUN="mpirun --allow-run-as-root --oversubscribe"
	mpisweep() {
		$TIME -f '%e' -o "$OUT/time" $MPIRUN -n 2 $BIN run tests/bench/fleet.ini --quiet \
			--jobs 1 --out "$OUT/mpi" --replications 6 --set group.sensors.count=100000 \
			--set scenario.duration=20min
		cat "$OUT/time"
	}
	for pair in 1 2; do
		j1=$(sweep 1); m2=$(mpisweep)
		[ "$(untimed "$OUT/sweep1/runs.csv")" = "$(untimed "$OUT/mpi/runs.csv")" ] &&
			same="identical results" || same="RESULTS DIFFER"
		awk -v a="$j1" -v b="$m2" -v same="$same" 'BEGIN {
			printf "1 process: %.2f s, 2 ranks: %.2f s: %.2fx (%s)\n", a, b, a / b, same }'
		rm -rf "$OUT/sweep1" "$OUT/mpi"
	done
	echo "== MPI coordination: 8,000 runs of one endpoint sending once"
	$MPIRUN -n 2 $BIN run tests/bench/fleet.ini --jobs 1 --out "$OUT/tiny" --replications 8000 \
		--set group.sensors.count=1 --set group.sensors.traffic=once \
		--set scenario.duration=10s 2>&1 >/dev/null | grep 'MPI:'
	rm -rf "$OUT/tiny"
fi
echo "== memory per idle endpoint (endpoints that never send)"
idle() {
	$TIME -f '%M' -o "$OUT/time" $BIN run tests/bench/fleet.ini --quiet --jobs 1 \
		--out "$OUT/idle" --set group.sensors.count=$1 --set scenario.duration=1s \
		--set 'group.sensors.start=const(2s)'
	cat "$OUT/time"
}
a=$(idle 1); b=$(idle 1000000)
awk -v a="$a" -v b="$b" 'BEGIN { printf "1M idle endpoints: %.1f MB peak, %.0f bytes per endpoint\n",
	b / 1024, (b - a) * 1024 / 1e6 }'

live_bench
tun_bench
