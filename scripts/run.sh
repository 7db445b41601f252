#!/usr/bin/env bash
# The main job: builds everything (installing missing Debian packages), then runs a local
# network of 4 validators x 2 shards on RocksDB, makes a transfer between two chains and
# prints every validator's balances.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/deps.sh
cmake -S . -B build-release -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build-release -j"$(nproc)" --target local-net-demo >/dev/null
exec ./build-release/local-net-demo "$@"
