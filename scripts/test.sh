#!/usr/bin/env bash
# Builds FootAnalytics and runs the whole test suite under ctest.
#   scripts/test.sh              release-with-debug-info build in build/
#   scripts/test.sh --sanitize   AddressSanitizer + UndefinedBehaviorSanitizer build in build-asan/
#   scripts/test.sh --clang      the same suite built with clang in build-clang/
#   scripts/test.sh --tsan       ThreadSanitizer build (clang) in build-tsan/, for the concurrent code
# Extra arguments after -- go to ctest (e.g. -- -R ingest).
# The sanitizer builds leave out the CUDA plugin (FA_WITH_CUDA=OFF): it runs inside the uninstrumented
# CUDA runtime and driver; the plugin's host side (lowering, loading) is still checked there.
set -euo pipefail
cd "$(dirname "$0")/.."

build=build
cmake_args=()
cc=${CC:-gcc}
while [ $# -gt 0 ]; do
  case "$1" in
    # Debug keeps assertions; -O1 (not -O0) because the inference kernels and the
    # transcodes would otherwise take minutes under ASan.
    --sanitize) build=build-asan
                cmake_args+=(-DFA_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug "-DCMAKE_C_FLAGS_DEBUG=-g -O1" -DFA_BENCH=OFF
                             -DFA_WITH_CUDA=OFF) ;;
    --clang) build=build-clang; cc=clang ;;
    --tsan) build=build-tsan; cc=clang
            cmake_args+=(-DCMAKE_C_FLAGS=-fsanitize=thread -DCMAKE_EXE_LINKER_FLAGS=-fsanitize=thread
                         -DCMAKE_BUILD_TYPE=RelWithDebInfo -DFA_BENCH=OFF -DFA_WITH_CUDA=OFF) ;;
    --) shift; break ;;
    -h|--help) sed -n '2,7p' "$0"; exit 0 ;;
    *) echo "test.sh: unknown option $1" >&2; exit 1 ;;
  esac
  shift
done

export FA_DATA_DIR=${FA_DATA_DIR:-$(cd .. && pwd)/shared/data}
if [ ! -d "$FA_DATA_DIR" ]; then
  echo "test.sh: data directory $FA_DATA_DIR not found (set FA_DATA_DIR)" >&2
  exit 1
fi
# Leaks are errors; UBSan stops at the first report.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
# FFmpeg's uninstrumented libraries: see tests/tsan.supp.
export TSAN_OPTIONS=${TSAN_OPTIONS:-halt_on_error=1:second_deadlock_stack=1:suppressions=$PWD/tests/tsan.supp}
if [ "$build" = build-tsan ]; then
  # oneDNN runs its parallel regions on libgomp, which is not instrumented: ThreadSanitizer cannot
  # see its barriers and reports false races inside them. One OpenMP thread keeps oneDNN serial;
  # our own threads (servers, caches, the kernels' parallel-for) are still checked.
  export OMP_NUM_THREADS=1
fi

CC=$cc cmake -S . -B "$build" -G Ninja "${cmake_args[@]}" >/dev/null
ninja -C "$build"
ctest --test-dir "$build" --output-on-failure -j"$(nproc)" "$@"
