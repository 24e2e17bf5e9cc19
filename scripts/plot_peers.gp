# Charts of the peer benchmarks (bench/peers/), from the data files that
# scripts/peer_bench_table.py --dat DIR writes:
#
#   gnuplot -e "dat='DIR'; out='docs/bench'" scripts/plot_peers.gp
#
# Writes out/peers_append.png (append records/s by batch size and record
# size, evlog vs RocksDB and SQLite, without and with fdatasync),
# out/peers_read_clients.png (read-back, and produce/consume through the
# clients vs librdkafka's mock cluster) and out/peers_latency.png
# (percentiles of a one-record append). gnuplot 5 (Debian: gnuplot-nox).
if (!exists("dat")) dat = "build/release/bench-results/peers/dat"
if (!exists("out")) out = "docs/bench"

set terminal pngcairo size 1400,900 font "DejaVu Sans,10" noenhanced
set encoding utf8
set grid ytics mytics lc rgb "#dddddd"
set key top left box opaque

evlog_color = "#1f77b4"
peer_color = "#d62728"

# --- Append throughput by batch size ---------------------------------------------
set output out."/peers_append.png"
set multiplot layout 2,2 title "Append: records/s by records per batch (log scales; higher is better)"
set logscale xy
set format y "%.0s%c"
set xlabel "records per batch (evlog RecordBatch / RocksDB WriteBatch / SQLite transaction)"
set ylabel "records/s"
set xrange [0.7:1500]
do for [peer in "rocksdb sqlite"] {
  name = (peer eq "rocksdb") ? "RocksDB" : "SQLite"
  do for [value in "100 1024"] {
    set title sprintf("evlog vs %s, %s-byte values, 8-byte keys", name, value)
    file = sprintf("%s/append_%s_%s.dat", dat, peer, value)
    plot file using 1:2 with linespoints lw 2 pt 7 lc rgb evlog_color title "evlog, no sync", \
         file using 1:3 with linespoints lw 2 pt 7 lc rgb peer_color title name.", no sync", \
         file using 1:4 with linespoints lw 2 pt 5 dt 2 lc rgb evlog_color title "evlog, fdatasync per batch", \
         file using 1:5 with linespoints lw 2 pt 5 dt 2 lc rgb peer_color title name.", sync per batch"
  }
}
unset multiplot
unset logscale
unset xrange
unset xlabel

# --- Read-back and the clients -----------------------------------------------------
set output out."/peers_read_clients.png"
set title "Read all back (vs RocksDB, SQLite) and produce / consume through the clients (vs librdkafka on its mock cluster): records/s (log scale)"
set bmargin 5
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set boxwidth 0.9
set logscale y
set format y "%.0s%c"
set ylabel "records/s"
set xtics rotate by 0 font ",9"
set key top right
plot dat."/clients.dat" using 2:xtic(1) lc rgb evlog_color title "evlog", \
     "" using 3 lc rgb peer_color title "peer"
unset logscale

# --- Latency of a one-record append ---------------------------------------------------
set output out."/peers_latency.png"
set multiplot layout 2,1 title "Latency of one Append of one record: p50 / p99 / p99.9 in microseconds (log scale; lower is better)"
set logscale y
set format y "%g"
set ylabel "microseconds"
set key top left
set xtics font ",9"
do for [sync in "0 1"] {
  set title (sync eq "0") ? "no sync (page cache)" : "fdatasync / fsync per append"
  file = sprintf("%s/latency_sync%s.dat", dat, sync)
  plot file using 2:xtic(1) lc rgb "#9ecae1" title "p50", \
       "" using 3 lc rgb "#3182bd" title "p99", \
       "" using 4 lc rgb "#08519c" title "p99.9"
}
unset multiplot
