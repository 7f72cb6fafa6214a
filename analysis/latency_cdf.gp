# Latency CDF of the first 12 points (replication 0): cdf-pN.csv (q, ms, label).
load "analysis/common.gp"
files = system("ls -v ".datadir."/cdf-p*.csv 2>/dev/null | head -12")
title_of(f) = system("sed -n '2p' ".f." | cut -d, -f3")
set xlabel "latency from first transmission to confirmation (ms, log scale)"
set ylabel "fraction of completed messages"
set logscale x
set yrange [0:1]
set key bottom right
set title "Latency CDF"
do for [fmt in "png svg"] {
  eval (fmt eq "png" ? png("latency_cdf") : svg("latency_cdf"))
  plot for [f in files] f using ($2 > 0 ? $2 : 0.001):1 skip 1 with lines lw 2 title title_of(f)
}
