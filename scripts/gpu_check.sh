#!/usr/bin/env bash
# Runs on a GPU machine, from the repository root, after scripts/gpu_kit.sh
# staged devkit/: builds the CUDA plugin (src/nn/cuda, standalone CMake
# project; plain nvcc if CMake fails), then the GPU tests (nn.cuda:
# GPU vs CPU in fp32 and fp16, batch 3 vs 1; nn.golden: the GPU vs ONNX
# Runtime's outputs) and bench_nn (ours on CPU and GPU, ORT on the CPU, same
# run). Writes everything to stdout.
set -u
cd "$(dirname "$0")/.."
K=$PWD/devkit
ARCH=${CUDA_ARCH:-90}
echo "== machine"; nvidia-smi -L; nvcc --version | tail -2; nproc
echo "== plugin"
if ! { cmake -S src/nn/cuda -B /tmp/fa-cuda -DCMAKE_BUILD_TYPE=Release -DCMAKE_CUDA_ARCHITECTURES=$ARCH \
         >/tmp/fa-cuda.log 2>&1 && cmake --build /tmp/fa-cuda -j "$(nproc)" >>/tmp/fa-cuda.log 2>&1; }; then
  cat /tmp/fa-cuda.log
  echo "cmake failed; plain nvcc:"
  mkdir -p /tmp/fa-cuda
  nvcc -O3 -std=c++17 -arch=sm_$ARCH -shared -Xcompiler -fPIC -Isrc -o /tmp/fa-cuda/libfa_nn_cuda.so \
    src/nn/cuda/fa_nn_cuda.cu || exit 1
fi
cp /tmp/fa-cuda/libfa_nn_cuda.so "$K/bin/"
ls -la "$K/bin/libfa_nn_cuda.so"
[ -f "$K/lib/libonnxruntime.so.1.xz" ] && xz -dc "$K/lib/libonnxruntime.so.1.xz" > "$K/lib/libonnxruntime.so.1"
export LD_LIBRARY_PATH=$K/lib FA_DATA_DIR=$K/data FA_ORT_LIB=$K/lib/libonnxruntime.so.1
rc=0
echo "== nn.cuda"; "$K/bin/test_nn_cuda" || rc=1
echo "== nn.golden"; "$K/bin/test_nn_golden" || rc=1
echo "== bench_nn"; timeout "${BENCH_TIMEOUT:-240}" "$K/bin/bench_nn" -t 1 -s "${BENCH_SECONDS:-1}" || rc=1
exit $rc
