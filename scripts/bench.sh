#!/usr/bin/env bash
# Builds the release preset and runs every benchmark, writing one JSON file
# per benchmark executable to build/release/bench-results/ (the figures in
# BENCHMARKS.md come from these). Extra arguments go to each benchmark, e.g.
#   ./scripts/bench.sh --benchmark_filter=BM_Pwrite --benchmark_repetitions=5
# The comparisons with RocksDB, SQLite and librdkafka (bench/peers/) are
# scripts/evlog-bench.sh.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

scripts/install-deps.sh
cmake --preset release
cmake --build --preset release
out=build/release/bench-results
mkdir -p "$out"
for exe in build/release/bench/evlog_*_bench; do
  name=$(basename "$exe")
  echo "== $name"
  "$exe" --benchmark_out="$out/$name.json" --benchmark_out_format=json "$@"
done
echo "results: $out/"
