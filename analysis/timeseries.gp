# One run over time, replication 0 of every point: series-pN.csv (t s,
# exchanges in flight, queue drops and completions in the sampling
# interval) -> timeseries-pN: in flight above, rates per second below.
load "analysis/common.gp"
load datadir."/plot-layout.gp"
# PNG only: one figure per point adds up (160 points: 320 figures); the
# sweep-wide figures also come as SVG.
do for [p=1:npts] {
  if (t_has[p]) {
    f = datadir.sprintf("/series-p%d.csv", p - 1)
    dt = t_dt[p]
    do for [fmt in "png"] {
      reset
      load "analysis/common.gp"
      eval term(fmt, sprintf("timeseries-p%d", p - 1), 900, 600)
      set multiplot layout 2,1 title sprintf("Over time, p%d: %s (replication 0, sampled every %g s)", p - 1, ptlab[p], dt)
      set lmargin 12
      set rmargin 3
      set xrange [0:t_end[p]]
      unset key
      set ylabel "exchanges awaiting an answer"
      set xlabel ""
      set yrange [0:*]
      if (t_fl[p]) {
        plot f using 1:2 skip 1 with steps lw 1.5 lc rgb "#1f77b4" notitle
      } else {
        # only CoAP client exchanges are counted: all 0 means not counted
        set yrange [0:1]
        set label 1 "none counted (the count covers CoAP client exchanges only)" at graph 0.5, 0.5 center
        plot NaN notitle
        unset label 1
        set autoscale y
      }
      set key tmargin right horizontal
      set ylabel "per second"
      set xlabel "simulated time (s)"
      plot f using 1:($3 / dt) skip 1 with steps lw 1.5 lc rgb "#d62728" title "queue drops", \
           f using 1:($4 / dt) skip 1 with steps lw 1.5 lc rgb "#2ca02c" title "completed"
      unset multiplot
    }
  }
}
