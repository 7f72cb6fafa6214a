# Metrics of every sweep point with their 95% confidence intervals against
# the x key, one line per value of the by keys (coapsim run/plot --x --by).
# data: plot-sweep.csv (one block per line: x, then mean, low, high of each
# metric); layout: plot-layout.gp (both written by report.c).
load "analysis/common.gp"
load datadir."/plot-layout.gp"
f = datadir."/plot-sweep.csv"
do for [g=1:nfig] {
 if (fhas[g]) {
  do for [fmt in "png svg"] {
    reset
    load "analysis/common.gp"
    eval term(fmt, fname[g], s_w, s_h)
    set multiplot title ftitle[g]."\n".fsub[g]
    if (!bars) { set bars 0 }
    c1 = 2 + 3 * fm1[g]
    c2 = 2 + 3 * fm2[g]
    with = xcat ? "yerrorbars" : "yerrorlines"
    psz = xcat ? 1.6 : 1
    do for [p=1:s_n] {
      set origin s_ox[p], s_oy[p]
      set size s_sx[p], s_sy[p]
      set lmargin 12
      set rmargin 3
      set tmargin 2.5
      set bmargin 3.5
      set title ptitle[p]
      set xlabel (s_xl[p] ? xlabel : "")
      set ylabel (s_yl[p] ? fylabel[g] : "")
      set xrange [xmin:xmax]
      if (logx) { set logscale x } else { unset logscale x }
      if (nxt > 0) {
        set xtics ()
        do for [i=1:nxt] { set xtics add (xt_lab[i] xt_pos[i]) }
      }
      if (flog[g]) {
        # tics at 1, 2, 5 x 10^k over up to three decades, else at 10^k
        set logscale y
        set ytics ()
        e0 = floor(log10(fymin[g]))
        e1 = ceil(log10(fymax[g]))
        do for [e=e0:e1] {
          do for [m in "1 2 5"] {
            v = m * 10.0**e
            if (v >= fymin[g] && v <= fymax[g] && (m == 1 || e1 - e0 <= 3)) {
              set ytics add (sprintf("%g", v) v)
            }
          }
        }
      } else {
        unset logscale y
        set ytics autofreq
      }
      set yrange [fymin[g]:fymax[g]]
      unset key
      if (phas[(g - 1) * s_n + p]) {
        # filled symbols and solid lines: the first metric; open and dashed:
        # the second, drawn first so a filled symbol shows inside its ring
        # where the two coincide (delivery = success, p50 = p99)
        one = "for [i=%d:%d] f index (i-1) using 1:%d:%d:%d with %s lc rgb lcol[i] pt %s ps (%s * psz * (0.5 + llw[i] / 3)) lw llw[i] dt %d notitle"
        cmd = "plot ".sprintf(one, pfirst[p], plast[p], c1, c1 + 1, c1 + 2, with, "lpt[i]", "0.7", 1)
        if (fm2[g] >= 0) {
          cmd = "plot ".sprintf(one, pfirst[p], plast[p], c2, c2 + 1, c2 + 2, with, "(lpt[i] - 1)", "1.1", 2).", ". \
                sprintf(one, pfirst[p], plast[p], c1, c1 + 1, c1 + 2, with, "lpt[i]", "0.7", 1)
        }
        eval cmd
      } else {
        set label 1 "does not apply here" at graph 0.5, 0.5 center
        plot NaN notitle
        unset label 1
      }
    }
    eval legend_strip(s_legh, s_legrows, legtitle)
    style = xcat ? "points" : "linespoints"
    s1 = xcat ? " (filled)" : " (solid)"
    s2 = xcat ? " (open)" : " (dashed)"
    cmd = sprintf("plot for [i=1:%d] NaN with %s lc rgb legc[i] pt legp[i] ps (0.5 + leglw[i] / 3) lw leglw[i] title legt[i]", nleg, style)
    if (nleg == 0) { cmd = "plot" }
    if (fm2[g] >= 0) {
      cmd = cmd.(nleg ? ", " : " ").sprintf("NaN with %s lc rgb '#444444' pt 7 lw 2 dt 1 title fn1[g].s1, NaN with %s lc rgb '#444444' pt 6 lw 2 dt 2 title fn2[g].s2", style, style)
    }
    if (nleg > 0 || fm2[g] >= 0) { eval cmd }
    unset multiplot
  }
 }
}
