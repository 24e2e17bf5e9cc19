#!/usr/bin/env bash
# Quick start 1: installs missing packages, builds the release preset's
# quickstart example and runs it: a broker in build/evlog-data (inside the
# ignored build tree; set EVLOG_DATA_DIR to use another directory), 200000
# orders produced and read back. Run it again to see the first run's records
# survive. Usage: ./scripts/demo.sh [record-count]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

scripts/install-deps.sh
cmake --preset release
cmake --build --preset release --target evlog_quickstart
echo
build/release/examples/evlog_quickstart "${EVLOG_DATA_DIR:-build/evlog-data}" "$@"
