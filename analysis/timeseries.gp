# One run over time (point 0, replication 0): series-p0.csv
# (t s, exchanges in flight, queue drops in the interval, completed in the interval).
load "analysis/common.gp"
f = datadir."/series-p0.csv"
set xlabel "simulated time (s)"
set ylabel "exchanges awaiting an answer"
set y2label "per sampling interval"
set y2tics
set ytics nomirror
set title "Messages in flight and queue drops (point 0, replication 0)"
do for [fmt in "png svg"] {
  eval (fmt eq "png" ? png("timeseries") : svg("timeseries"))
  plot f using 1:2 skip 1 with lines ls 1 title "in flight", \
       f using 1:3 skip 1 axes x1y2 with impulses ls 2 title "queue drops", \
       f using 1:4 skip 1 axes x1y2 with lines ls 3 title "completed"
}
