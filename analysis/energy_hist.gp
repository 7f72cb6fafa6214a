# Energy per endpoint over the run, replication 0 of every point:
# energy-pN.csv (bin centre mJ, endpoints) -> energy_histogram-pN.
# plot-layout.gp (report.c) has each point's label and x range: from 0
# when the data starts near it, else from just before the first endpoint.
load "analysis/common.gp"
load datadir."/plot-layout.gp"
# PNG only: one figure per point adds up (160 points: 320 figures); the
# sweep-wide figures also come as SVG.
do for [p=1:npts] {
  if (e_has[p]) {
    f = datadir.sprintf("/energy-p%d.csv", p - 1)
    do for [fmt in "png"] {
      reset
      load "analysis/common.gp"
      eval term(fmt, sprintf("energy_histogram-p%d", p - 1), 900, 480)
      set title sprintf("Energy per endpoint, p%d: %s (replication 0)", p - 1, ptlab[p])
      set xlabel sprintf("radio energy per endpoint over the run (mJ; bins of %.3g mJ)", e_w[p])
      set ylabel "endpoints"
      set xrange [e_xmin[p]:e_xmax[p]]
      set yrange [0:*]
      set style fill solid 0.6 border -1
      set boxwidth e_w[p] absolute
      unset key
      plot f using 1:($2 > 0 ? $2 : NaN) skip 1 with boxes lc rgb "#2ca02c" notitle
    }
  }
}
