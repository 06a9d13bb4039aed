#!/usr/bin/env bash
# Stages what a GPU check needs into devkit/ (ignored by git) for a lent GPU
# machine that has nvcc but none of this project's other dependencies:
# the CPU-side programs built here without oneDNN/PostgreSQL/Redis and
# linked --as-needed (so they need only libc, libm, libcrypto, cmocka), those
# libraries, ONNX Runtime (xz-compressed; bench/ort.sh installs it) and the
# models and golden tensors the tests read. scripts/gpu_check.sh, run there,
# builds the plugin from src/nn/cuda and runs the checks.
#   scripts/gpu_kit.sh            then carry devkit/ to the GPU machine
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${FA_DATA_DIR:-../shared/data}
B=build-gpukit
cmake -S . -B $B -G Ninja -DCMAKE_BUILD_TYPE=Release -DFA_WITH_ONEDNN=OFF -DFA_WITH_POSTGRES=OFF \
  -DFA_WITH_REDIS=OFF -DFA_WITH_CUDA=OFF "-DCMAKE_EXE_LINKER_FLAGS=-Wl,--as-needed" >/dev/null
ninja -C $B test_nn_cuda test_nn_golden bench_nn >/dev/null
rm -rf devkit && mkdir -p devkit/bin devkit/lib devkit/data/models devkit/data/golden
cp $B/test_nn_cuda $B/test_nn_golden $B/bench_nn devkit/bin/
for lib in libcmocka.so.0 libcrypto.so.3; do
  cp -L "$(ldconfig -p | awk -v l=$lib '$1 == l {print $NF; exit}')" devkit/lib/$lib
done
ORT=build-bench-deps/node_modules/onnxruntime-node/bin/napi-v6/linux/x64/libonnxruntime.so.1
if [ -f $ORT ]; then xz -T2 -6 -c $ORT > devkit/lib/libonnxruntime.so.1.xz; fi
cp -r $DATA/models/fastestdet $DATA/models/nanodet-m devkit/data/models/
mkdir -p devkit/data/models/yolo-fastest-1.1
cp $DATA/models/yolo-fastest-1.1/yolo-fastest-1.1.cfg $DATA/models/yolo-fastest-1.1/yolo-fastest-1.1.weights \
  devkit/data/models/yolo-fastest-1.1/
cp $DATA/golden/* devkit/data/golden/
cp scripts/gpu_check.sh devkit/
chmod -R u+w devkit
grep -qx '/devkit/' .git/info/exclude 2>/dev/null || echo '/devkit/' >> .git/info/exclude
du -sh devkit
