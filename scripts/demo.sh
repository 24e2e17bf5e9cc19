#!/usr/bin/env bash
# Quick start 1: installs missing packages, builds the release preset's
# quickstart example and runs it: a broker in build/evlog-data (inside the
# ignored build tree; set EVLOG_DATA_DIR to use another directory), 200000
# orders produced and read back. Run it again to see the first run's records
# survive. Then runs scripts/evlog-bench.sh (about 2 minutes): evlog against
# RocksDB, SQLite and librdkafka's mock cluster, ending with one table; set
# EVLOG_DEMO_SKIP_BENCH=1 to skip it. Usage: ./scripts/demo.sh [record-count]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

scripts/install-deps.sh
cmake --preset release
cmake --build --preset release --target evlog_quickstart
echo
build/release/examples/evlog_quickstart "${EVLOG_DATA_DIR:-build/evlog-data}" "$@"
if [[ "${EVLOG_DEMO_SKIP_BENCH:-0}" != 1 ]]; then
  echo
  scripts/evlog-bench.sh
fi
