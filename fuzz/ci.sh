#!/usr/bin/env bash
# Fuzz the record decoder the way CI does: build the libFuzzer targets with
# clang, replay the committed corpus, then fuzz for a bounded time.
#
#   fuzz/ci.sh                    # 60 s per target
#   FUZZ_SECONDS=600 fuzz/ci.sh   # longer
#
# Exits non-zero when a fuzzer finds a crash (the reproducer is kept under
# the printed artifact directory) or the build fails.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${EVLOG_FUZZ_BUILD_DIR:-$root/build/fuzz}"
seconds="${FUZZ_SECONDS:-60}"

# clang and its fuzzer runtime (Debian: clang + libclang-rt-14-dev).
missing=()
command -v clang++ >/dev/null 2>&1 || missing+=(clang)
compgen -G "/usr/lib/llvm-*/lib/clang/*/lib/linux/libclang_rt.fuzzer-x86_64.a" >/dev/null ||
  missing+=(libclang-rt-14-dev)
command -v ninja >/dev/null 2>&1 || missing+=(ninja-build)
if ((${#missing[@]})); then
  sudo=""
  [[ "$(id -u)" -ne 0 ]] && sudo="sudo"
  echo "fuzz/ci.sh: installing ${missing[*]}"
  $sudo apt-get update
  $sudo apt-get install -y --no-install-recommends "${missing[@]}"
fi

cmake -S "$root" -B "$build" -G Ninja \
  -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DEVLOG_BUILD_FUZZERS=ON -DEVLOG_BUILD_TESTS=OFF -DEVLOG_BUILD_BENCHMARKS=OFF \
  -DEVLOG_BUILD_EXAMPLES=OFF -DEVLOG_INSTALL=OFF >/dev/null

status=0
for source in "$root"/fuzz/*_fuzzer.cc; do
  name="$(basename "$source" .cc)"    # record_batch_fuzzer
  corpus="$root/fuzz/corpus/${name%_fuzzer}"
  target="evlog_$name"
  cmake --build "$build" --target "$target"
  bin="$build/fuzz/$target"

  echo "== $target: replaying $corpus"
  "$bin" -runs=0 "$corpus"

  work="$(mktemp -d "${TMPDIR:-/tmp}/evlog-fuzz-$name.XXXXXX")"
  echo "== $target: fuzzing for ${seconds}s (new inputs and artifacts in $work)"
  # The first directory receives new inputs; the committed corpus is only read.
  if ! "$bin" -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 \
      -artifact_prefix="$work/" -print_final_stats=1 "$work" "$corpus"; then
    echo "fuzz/ci.sh: $target failed; reproducer in $work" >&2
    status=1
  fi
done
exit "$status"
