#!/bin/sh
# Golden outputs: digests of every result a run writes, for every example
# scenario and two fleets, against tests/golden/*.sha256.  A change to them
# is a deliberate change of results, made with `make golden` and explained
# in its commit.  Timing columns (wall_s, events_per_s) are left out; the
# report, plots and JSON (which hold the command line and version) too.
#   tests/golden.sh check   compare (make test)
#   tests/golden.sh update  rewrite the digests (make golden)
set -eu
mode=${1:-check}
BIN=${COAPSIM:-build/coapsim}
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d /tmp/coapsim-golden-XXXXXX)
trap 'rm -rf "$work"' EXIT INT TERM
status=0
for ini in "$root"/scenarios/*.ini "$root"/tests/golden/fleets/*.ini; do
	name=$(basename "$ini" .ini)
	out="$work/$name"
	timeout -k 5 600 "$BIN" run "$ini" --quiet --out "$out" \
		--set output.pcap=yes --set output.exchanges=yes >/dev/null
	sums="$work/$name.sha256"
	(
		cd "$out"
		# runs.csv without the timing columns, found by name
		awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) if ($i != "wall_s" && $i != "events_per_s") keep[i] = 1 }
			{ s = ""; for (i = 1; i <= NF; i++) if (i in keep) s = s (s == "" ? "" : ",") $i; print s }' \
			runs.csv | sha256sum | sed 's|-$|runs.csv (timing columns out)|'
		find exchanges.csv data pcap -type f \( -name '*.csv' -o -name '*.pcap' \) \
			! -name 'plot-*' | LC_ALL=C sort | xargs sha256sum
	) > "$sums"
	golden="$root/tests/golden/$name.sha256"
	if [ "$mode" = update ]; then
		cp "$sums" "$golden"
	elif ! cmp -s "$sums" "$golden"; then
		echo "golden: $name differs from tests/golden/$name.sha256:" >&2
		diff "$golden" "$sums" >&2 || true
		status=1
	fi
done
[ "$mode" = update ] && echo "golden: digests rewritten in tests/golden/" >&2
[ $status = 0 ] && [ "$mode" = check ] && echo "golden: every digest matches" >&2
exit $status
