#!/usr/bin/env bash
# Runs the whole test suite: installs dependencies, builds with ASan+UBSan and -Werror,
# runs every test under CTest, then checks formatting.
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/deps.sh
BUILD=${BUILD_DIR:-build-asan}
cmake -S . -B "$BUILD" -DMC_SANITIZE=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$BUILD" -j"$(nproc)"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
(cd "$BUILD" && ctest --output-on-failure -j1)
./scripts/check-format.sh
