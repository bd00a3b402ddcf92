#!/usr/bin/env bash
# Installs what is missing (Debian 12, as root) and builds exportwatch.
#   scripts/setup.sh          configure and build into ./build
# Environment: BUILD_DIR (default build), BUILD_TYPE (default RelWithDebInfo),
# EW_SANITIZE=ON for an ASan/UBSan build.
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGES=(build-essential cmake ninja-build pkg-config
  librdkafka-dev libjemalloc-dev libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  librocksdb-dev libabsl-dev libsimdjson-dev libgtest-dev libgmock-dev libbenchmark-dev libicu-dev
  openssl)
missing=()
for p in "${PACKAGES[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi

BUILD_DIR=${BUILD_DIR:-build}
cmake -S . -B "$BUILD_DIR" -G Ninja \
  -DCMAKE_BUILD_TYPE="${BUILD_TYPE:-RelWithDebInfo}" \
  -DEW_SANITIZE="${EW_SANITIZE:-OFF}" >/dev/null
ninja -C "$BUILD_DIR" -j"$(nproc)"
