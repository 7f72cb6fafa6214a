# Metrics of every sweep point with their 95% confidence intervals, against
# the first swept parameter.  data: points.csv (one row per point).
load "analysis/common.gp"
f = datadir."/points.csv"
set xlabel xlabel
# One line per series (the values of the other swept parameters, column 18),
# e.g. one per protocol when the sweep is loss x protocol.
series = system("tail -n +2 ".f." | awk -F, '{print $18}' | awk '!seen[$0]++'")
# The rows of one series, in point order, so each draws as a connected line.
rows(s) = sprintf("< awk -F, 'NR > 1 && $18 == \"%s\"' %s", s, f)
# columns: point,x,label, then mean,ci pairs in this order:
#   4 delivery_ratio, 6 success_ratio, 8 retransmissions_per_message,
#   10 energy_mj.per_message, 12 bytes_per_message, 14 latency p50, 16 p99
do for [fmt in "png svg"] {
  eval (fmt eq "png" ? png("delivery_ratio") : svg("delivery_ratio"))
  set ylabel "delivery ratio (delivered / messages)"
  set title "Delivery ratio (mean, 95% CI over replications)"
  plot for [i=1:words(series)] rows(word(series, i)) using 2:4:5 \
         with yerrorlines ls i title "delivery ".word(series, i), \
       for [i=1:words(series)] rows(word(series, i)) using 2:6:7 \
         with yerrorlines ls i dt 2 title "success ".word(series, i)
  eval (fmt eq "png" ? png("retransmissions") : svg("retransmissions"))
  set ylabel "retransmissions per message"
  set title "Retransmissions per message (mean, 95% CI)"
  plot for [i=1:words(series)] rows(word(series, i)) using 2:8:9 \
         with yerrorlines ls i title word(series, i)
  eval (fmt eq "png" ? png("energy_per_message") : svg("energy_per_message"))
  set ylabel "energy per delivered message (mJ)"
  set title "Radio energy per delivered message (mean, 95% CI)"
  plot for [i=1:words(series)] rows(word(series, i)) using 2:10:11 \
         with yerrorlines ls i title word(series, i)
  eval (fmt eq "png" ? png("bytes_per_message") : svg("bytes_per_message"))
  set ylabel "bytes on the air per delivered message (B)"
  set title "Bytes on the channel per delivered message (mean, 95% CI)"
  plot for [i=1:words(series)] rows(word(series, i)) using 2:12:13 \
         with yerrorlines ls i title word(series, i)
  eval (fmt eq "png" ? png("latency") : svg("latency"))
  set ylabel "latency (ms)"
  set logscale y
  set title "Latency to confirmation (mean of p50 and p99, 95% CI)"
  plot for [i=1:words(series)] rows(word(series, i)) using 2:14:15 \
         with yerrorlines ls i title "p50 ".word(series, i), \
       for [i=1:words(series)] rows(word(series, i)) using 2:16:17 \
         with yerrorlines ls i dt 2 title "p99 ".word(series, i)
  unset logscale y
}
