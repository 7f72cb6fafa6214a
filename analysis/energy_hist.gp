# Energy per endpoint over the run, point 0 replication 0: energy-p0.csv
# (bin centre mJ, endpoints).
load "analysis/common.gp"
f = datadir."/energy-p0.csv"
set xlabel "radio energy per endpoint over the run (mJ)"
set ylabel "endpoints"
set style fill solid 0.6 border -1
set boxwidth 0.9 relative
set title "Energy per endpoint (point 0, replication 0)"
do for [fmt in "png svg"] {
  eval (fmt eq "png" ? png("energy_histogram") : svg("energy_histogram"))
  plot f using 1:2 skip 1 with boxes ls 3 title "endpoints"
}
