# Latency CDF of replication 0 of each point: cdf-pN.csv (q, ms, label).
# plot-layout.gp (report.c) says which files go in which panel: every point
# in one plot when there are few, else a panel per value of the x key (at
# most nine) with a line per line of the sweep plots, coloured as there.
load "analysis/common.gp"
load datadir."/plot-layout.gp"
if (c_n > 0) {
  do for [fmt in "png svg"] {
    reset
    load "analysis/common.gp"
    eval term(fmt, "latency_cdf", c_w, c_h)
    sub = c_sub eq "" ? "" : "\n".c_sub
    set multiplot title "Latency from first transmission to confirmation: CDF, replication 0".sub
    do for [p=1:c_n] {
      set origin c_ox[p], c_oy[p]
      set size c_sx[p], c_sy[p]
      set lmargin 10
      set rmargin 5
      set tmargin 2.5
      set bmargin 3.5
      set title c_ptitle[p]
      set xlabel (c_xl[p] ? "latency (ms, log scale)" : "")
      set ylabel (c_yl[p] ? "fraction confirmed" : "")
      set logscale x
      set xrange [c_xmin:c_xmax]
      set yrange [0:1]
      unset key
      if (c_last[p] >= c_first[p]) {
        plot for [i=c_first[p]:c_last[p]] datadir."/".c_file[i] using ($2 > 0 ? $2 : NaN):1 skip 1 \
             with lines lw c_lw[i] lc rgb c_col[i] notitle
      } else {
        set label 1 "no confirmed message" at graph 0.5, 0.5 center
        plot NaN notitle
        unset label 1
      }
    }
    if (c_nleg > 0) {
      eval legend_strip(c_legh, c_legrows, c_legtitle)
      plot for [i=1:c_nleg] NaN with lines lw 2 lc rgb c_legc[i] title c_legt[i]
    }
    unset multiplot
  }
}
