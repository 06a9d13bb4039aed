#!/bin/sh
# ort.sh - installs ONNX Runtime for bench_nn (issue 5): the npm package
# onnxruntime-node bundles libonnxruntime.so.1 with its C API, which
# bench_nn loads with dlopen at run time (nothing in the build needs it).
# ONNXRUNTIME_NODE_INSTALL=skip skips the package's post-install download
# (a CUDA add-on, which fails here and is not needed for the CPU library).
# Idempotent: does nothing when the library is already there. Installs into
# build-bench-deps/ under the repository root (ignored by git: build*/).
# Prints the library's path; bench_nn finds it there by default, or via
# FA_ORT_LIB=PATH.
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
dir="$root/build-bench-deps"
lib="$dir/node_modules/onnxruntime-node/bin/napi-v6/linux/x64/libonnxruntime.so.1"
version=1.30.0
if [ ! -f "$lib" ]; then
    mkdir -p "$dir"
    cd "$dir"
    ONNXRUNTIME_NODE_INSTALL=skip npm install --no-audit --no-fund --no-save "onnxruntime-node@$version" >&2
fi
[ -f "$lib" ] || { echo "ort.sh: $lib missing after npm install" >&2; exit 1; }
echo "$lib"
