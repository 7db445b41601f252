#!/usr/bin/env bash
# Installs the Debian packages the build and the tests need, if any is missing.
set -euo pipefail

PACKAGES=(build-essential cmake pkg-config libsodium-dev librocksdb-dev libjansson-dev
          libcriterion-dev clang-format valgrind libgrpc-dev protobuf-compiler
          protobuf-c-compiler libprotobuf-c-dev protobuf-compiler-grpc python3-grpcio
          python3-grpc-tools python3-protobuf libmicrohttpd-dev prometheus curl procps)

missing=()
for p in "${PACKAGES[@]}"; do
    dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
    exit 0
fi
echo "installing missing packages: ${missing[*]}"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    SUDO="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get -o DPkg::Lock::Timeout=600 update -qq
$SUDO apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
