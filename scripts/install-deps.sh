#!/usr/bin/env bash
# Installs the Debian packages evlog needs that are not installed yet.
#
#   scripts/install-deps.sh                 # build, test and benchmark deps
#   scripts/install-deps.sh clang libclang-rt-14-dev   # ...plus these
#
# Checks each package with dpkg-query first and calls apt-get (update, then
# install --no-install-recommends) only when something is missing. Works as
# root, or through sudo otherwise. Non-interactive, so it runs in CI.
set -euo pipefail

packages=(g++ cmake ninja-build pkg-config libabsl-dev libxxhash-dev libzstd-dev catch2 libbenchmark-dev "$@")

if ! command -v dpkg-query >/dev/null 2>&1; then
  echo "install-deps: no dpkg here (not Debian/Ubuntu); install the equivalents of: ${packages[*]}" >&2
  exit 0
fi

missing=()
for p in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  if [[ "$status" != "install ok installed" ]]; then
    missing+=("$p")
  fi
done

if [[ ${#missing[@]} -eq 0 ]]; then
  echo "install-deps: all ${#packages[@]} packages already installed"
  exit 0
fi

if [[ $(id -u) -eq 0 ]]; then
  as_root=()
elif command -v sudo >/dev/null 2>&1; then
  as_root=(sudo)
else
  echo "install-deps: missing ${missing[*]}, and not root and no sudo to install them" >&2
  exit 1
fi

echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
"${as_root[@]}" apt-get update -q
"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive \
  apt-get install -y -q --no-install-recommends "${missing[@]}"
