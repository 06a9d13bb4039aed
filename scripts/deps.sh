#!/usr/bin/env bash
# Installs every Debian package that building, testing and benchmarking FootAnalytics needs.
# Idempotent and non-interactive; run as root on Debian 12 (bookworm).
set -euo pipefail

packages=(
  # toolchain
  build-essential cmake ninja-build pkg-config clang llvm libclang-rt-14-dev
  # libraries linked by the core build
  libsqlite3-dev libzstd-dev libexpat1-dev zlib1g-dev libbrotli-dev
  # tests
  libcmocka-dev sqlite3
  # optional backends, auto-detected by CMake (issues 4 and later use them)
  libpq-dev libhiredis-dev
  # HTTP/2 (nghttp2) and TLS with ALPN (OpenSSL) for `serve`
  libnghttp2-dev libssl-dev openssl
  # inference: oneDNN kernels (optional backend, auto-detected)
  libdnnl-dev
  # video: FFmpeg 5.1 libraries (decode, filter graph, x264/AAC encode, HLS/DASH muxers) and ffprobe
  libavformat-dev libavcodec-dev libavfilter-dev libswscale-dev libavutil-dev libswresample-dev ffmpeg
  # playback test: a real browser (driven by playwright-core from tests/e2e/web)
  chromium
  # servers the integration tests start on loopback
  redis-server
  # benchmarks
  hyperfine wrk nginx-light nghttp2-client
)

if [ "$(id -u)" -ne 0 ]; then
  echo "deps.sh: must run as root (it calls apt-get)" >&2
  exit 1
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "deps.sh: all ${#packages[@]} packages already installed"
else
  echo "deps.sh: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

# Node.js runs the browser playback test's driver; a machine that has none gets Debian's.
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  echo "deps.sh: installing nodejs npm"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q --no-install-recommends nodejs npm
fi
# The players and the browser driver, pinned by tests/e2e/web/package-lock.json.
web="$(dirname "$0")/../tests/e2e/web"
if [ ! -d "$web/node_modules/playwright-core" ] || [ "$web/package-lock.json" -nt "$web/node_modules" ]; then
  echo "deps.sh: npm ci in tests/e2e/web"
  (cd "$web" && npm ci --no-audit --no-fund --loglevel=error)
fi
