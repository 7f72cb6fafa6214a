#!/bin/sh
# Rewrites the generated key tables of docs/scenario.md, each between
# "<!-- keys:begin [SECTION] -->" and "<!-- keys:end -->", from
# `coapsim keys --markdown` ($COAPSIM, default build/coapsim); the prose
# around them stays.  A section the doc has no place for is reported and
# nothing is written: add its two marker lines where it belongs, then rerun.
# tests/test_keys.c fails while the doc and the binary differ; make keys-doc
# runs this.
set -eu
bin=${COAPSIM:-build/coapsim}
doc=${1:-docs/scenario.md}
gen=$(mktemp)
out=$(mktemp)
trap 'rm -f "$gen" "$out"' EXIT
"$bin" keys --markdown >"$gen"
awk -v gen="$gen" '
BEGIN {
	while ((getline l < gen) > 0) {
		if (l ~ /^<!-- keys:begin /) { cur = l; order[++n] = l }
		blk[cur] = blk[cur] l "\n"
	}
}
/^<!-- keys:begin / {
	if ($0 in blk) { printf "%s", blk[$0]; done[$0] = 1 }
	else { print "keys_doc: no such section: " $0 > "/dev/stderr"; bad = 1 }
	skip = 1
	next
}
skip && /^<!-- keys:end -->$/ { skip = 0; next }
skip { next }
{ print }
END {
	for (i = 1; i <= n; i++)
		if (!(order[i] in done)) {
			print "keys_doc: no place in the doc for " order[i] > "/dev/stderr"
			bad = 1
		}
	exit bad
}' "$doc" >"$out"
cat "$out" >"$doc"
