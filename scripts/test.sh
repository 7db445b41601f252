#!/usr/bin/env bash
# Runs the whole test suite: installs missing Debian packages, builds with ASan+UBSan and
# -Werror, runs every test under CTest, fails on any sanitizer report (Criterion runs each
# test in a child process whose leak reports do not change the exit code), then checks
# formatting.
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/deps.sh
BUILD=${BUILD_DIR:-build-asan}
cmake -S . -B "$BUILD" -DMC_SANITIZE=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$BUILD" -j"$(nproc)"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
LOG="$BUILD/test-output.log"
status=0
(cd "$BUILD" && ctest -V -j1) >"$LOG" 2>&1 || status=$?
grep -E '^\[====\] Synthesis|Test +#|tests passed|tests failed' "$LOG" || true
if grep -qE 'ERROR: (LeakSanitizer|AddressSanitizer)|runtime error:' "$LOG"; then
    echo "sanitizer reports found:"
    grep -nE -A20 'ERROR: (LeakSanitizer|AddressSanitizer)|runtime error:' "$LOG" | head -80
    status=1
fi
if [ "$status" -ne 0 ]; then
    echo "FAILED: see $LOG"
    tail -50 "$LOG"
    exit "$status"
fi
./scripts/valgrind.sh
./scripts/check-format.sh
echo "all tests passed"
