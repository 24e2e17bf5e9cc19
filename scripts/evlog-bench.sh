#!/usr/bin/env bash
# "How much faster than what I use now?" in one command: installs the peers'
# Debian packages (RocksDB, SQLite, librdkafka, gnuplot) when missing, builds
# the release preset's peer benchmarks (bench/peers/), runs the short suite
# (about 2 minutes on the reference 2-vCPU VM), writes the JSON and PNG
# charts to build/release/bench-results/peers/, and ends with one table:
# evlog vs each peer, records/s and MB/s of both, and the ratio.
#
#   ./scripts/evlog-bench.sh
#   ./scripts/evlog-bench.sh --benchmark_repetitions=3   # extra arguments go to every benchmark
#
# Environment: EVLOG_BENCH_MIN_TIME (seconds per benchmark row, default
# 0.2); EVLOG_BENCH_PLOTS (where the PNGs go, default the results directory;
# BENCHMARKS.md embeds copies in docs/bench/).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

scripts/install-deps.sh librocksdb-dev libsqlite3-dev librdkafka-dev gnuplot-nox
cmake --preset release >/dev/null
build=build/release
out=$build/bench-results/peers
plots=${EVLOG_BENCH_PLOTS:-$out}

# Only the peers whose package CMake found have a target. (The target list
# is read whole first: `grep -q` in a pipe would close it early, and with
# pipefail the SIGPIPE would drop peers at random.)
build_targets=$(cmake --build "$build" --target help)
peers=()
for peer in rocksdb sqlite rdkafka; do
  if grep -q "^evlog_peer_${peer}_bench:" <<<"$build_targets"; then
    peers+=("$peer")
  fi
done
if [[ ${#peers[@]} -eq 0 ]]; then
  echo "evlog-bench: no peer benchmark could be configured (see cmake's messages)" >&2
  exit 1
fi
targets=()
for peer in "${peers[@]}"; do targets+=("evlog_peer_${peer}_bench"); done
cmake --build --preset release --target "${targets[@]}"

mkdir -p "$out" "$plots"
rm -f "$out"/*.json
start=$SECONDS
for peer in "${peers[@]}"; do
  echo "evlog-bench: running evlog_peer_${peer}_bench (log: $out/$peer.log)"
  "$build/bench/peers/evlog_peer_${peer}_bench" \
    --benchmark_min_time="${EVLOG_BENCH_MIN_TIME:-0.2}" \
    --benchmark_out="$out/$peer.json" --benchmark_out_format=json "$@" >"$out/$peer.log" 2>&1 || {
    echo "evlog-bench: evlog_peer_${peer}_bench failed; the end of $out/$peer.log:" >&2
    tail -n 20 "$out/$peer.log" >&2
    exit 1
  }
done
echo "evlog-bench: the suite took $((SECONDS - start)) s"

table=$(python3 scripts/peer_bench_table.py --dat "$out/dat" "$out"/*.json)
if command -v gnuplot >/dev/null 2>&1; then
  # The charts are a bonus: a gnuplot failure must not hide the table.
  if gnuplot -e "dat='$out/dat'; out='$plots'" scripts/plot_peers.gp; then
    echo "evlog-bench: charts in $plots/peers_{append,read_clients,latency}.png"
  else
    echo "evlog-bench: gnuplot could not draw the charts (the table follows)" >&2
  fi
fi
echo "evlog-bench: results in $out/ (JSON per peer; scripts/peer_bench_table.py --all for every row)"
echo
echo "evlog vs the stores and brokers a C++ user would otherwise pick (same workload, same run;"
echo "ratio = evlog records/s / peer records/s; BENCHMARKS.md says what each side syncs):"
echo
echo "$table"
