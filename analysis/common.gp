# Shared look for every coapsim plot.  Scripts are called as
#   gnuplot -e "datadir='D'; outdir='O'; xlabel='X'" analysis/NAME.gp
set datafile separator ","
set key outside right top box opaque
set grid lc rgb "#dddddd"
set border lc rgb "#555555"
set style line 1 lc rgb "#1f77b4" lw 2 pt 7 ps 0.8
set style line 2 lc rgb "#d62728" lw 2 pt 5 ps 0.8
set style line 3 lc rgb "#2ca02c" lw 2 pt 9 ps 0.8
set style line 4 lc rgb "#9467bd" lw 2 pt 11 ps 0.8
# out(name) sets the terminal and output for one format.
png(name) = sprintf("set terminal pngcairo size 900,540 font 'Sans,11'; set output '%s/%s.png'", outdir, name)
svg(name) = sprintf("set terminal svg size 900,540 dynamic font 'Sans,11'; set output '%s/%s.svg'", outdir, name)
