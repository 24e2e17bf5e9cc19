#!/usr/bin/env bash
# Quick start 2: installs missing packages, then configures, builds and runs
# the whole test suite through ctest (cmake --workflow --preset default).
#
#   ./scripts/test.sh
#   EVLOG_PRESET=asan ./scripts/test.sh    # any workflow preset (see CMakePresets.json)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

scripts/install-deps.sh
cmake --workflow --preset "${EVLOG_PRESET:-default}"
