#!/usr/bin/env bash
# Quick start 1: installs missing packages, builds the release preset's demo
# and runs it. Usage: ./scripts/demo.sh
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

scripts/install-deps.sh
cmake --preset release
cmake --build --preset release --target evlog_demo
echo
build/release/examples/evlog_demo
