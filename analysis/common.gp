# Shared look for every coapsim plot.  Scripts are called as
#   gnuplot -e "datadir='D'; outdir='O'" analysis/NAME.gp
# and load D/plot-layout.gp, which report.c writes for the results folder:
# titles, axes, colours, panels.  Its texts come from the results (keys such
# as coap.ack_timeout, values such as 5%), so every text is drawn as written:
# the terminals are noenhanced (no _ subscripts, no ^ superscripts).
set datafile separator ","
set grid lc rgb "#dddddd"
set border 3 lc rgb "#555555"
set tics nomirror
set key noenhanced
# term(fmt, name, w, h): the terminal and output of one format of a figure.
term(fmt, name, w, h) = fmt eq "png" \
  ? sprintf("set terminal pngcairo size %d,%d font 'Sans,11' noenhanced; set output '%s/%s.png'", w, h, outdir, name) \
  : sprintf("set terminal svg size %d,%d dynamic font 'Sans,11' noenhanced; set output '%s/%s.svg'", w, h, outdir, name)
# A legend on its own, below the panels of a figure (origin 0,0; height h):
# the caller plots NaN once per entry.
legend_strip(h, rows, title) = sprintf("set origin 0,0; set size 1,%g; unset border; unset tics; unset grid; unset xlabel; unset ylabel; unset title; unset logscale; set lmargin 0; set rmargin 0; set tmargin 0; set bmargin 0; set xrange [0:1]; set yrange [0:1]; set key center center horizontal maxrows %d samplen 3 spacing 1.2 width 1 title '%s'", h, rows, title)
