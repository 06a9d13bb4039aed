#!/usr/bin/env bash
# Builds the libFuzzer targets (clang, ASan + UBSan) and runs each for a bounded
# time on a scratch copy of its seed corpus (fuzz/corpus/<name>/); the repository
# corpus is only read. Any crash fails the run; keep the crash input under
# fuzz/corpus/<name>/ as a regression seed once fixed.
#   scripts/fuzz.sh [--seconds N] [target...]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=20
while [ $# -gt 0 ]; do
  case "$1" in
    --seconds) seconds=$2; shift 2 ;;
    -h|--help) sed -n '2,7p' "$0"; exit 0 ;;
    *) break ;;
  esac
done
build=build-fuzz
CC=clang cmake -S . -B "$build" -G Ninja -DFA_FUZZ=ON -DFA_TESTS=OFF -DFA_BENCH=OFF \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo -DFA_WITH_CUDA=OFF >/dev/null
ninja -C "$build"
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  for f in fuzz/fuzz_*.c; do t=$(basename "$f" .c); targets+=("${t#fuzz_}"); done
fi
for t in "${targets[@]}"; do
  work="$build/corpus/$t"
  rm -rf "$work"; mkdir -p "$work" "$build/artifacts/$t"
  [ -d "fuzz/corpus/$t" ] && cp -r "fuzz/corpus/$t/." "$work/"
  echo "fuzz_$t: ${seconds}s"
  "$build/fuzz_$t" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
    -artifact_prefix="$build/artifacts/$t/" -print_final_stats=1 "$work" 2>"$build/fuzz_$t.log" \
    || { tail -40 "$build/fuzz_$t.log"; echo "fuzz_$t: FAILED (artifacts in $build/artifacts/$t)"; exit 1; }
  grep -E "stat::number_of_executed_units|Done" "$build/fuzz_$t.log" | tail -2
done
echo "fuzz: ${#targets[@]} targets ran ${seconds}s each, no crash"
