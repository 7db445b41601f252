#!/usr/bin/env bash
# Runs the whole test suite: installs missing Debian packages, builds with ASan+UBSan and
# -Werror, runs every test under CTest, fails on any sanitizer report (Criterion runs each
# test in a child process whose leak reports do not change the exit code), then runs the
# valgrind set and checks formatting. Every stage runs even when an earlier one failed;
# the end lists what failed and the exit status is non-zero if anything did.
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/deps.sh
BUILD=${BUILD_DIR:-build-asan}
cmake -S . -B "$BUILD" -DMC_SANITIZE=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$BUILD" -j"$(nproc)"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
# One more seed of the property test each run (test_property_seed_ci), printed so that a
# failure can be repeated with MC_TEST_SEED=...; the fixed seeds run as well.
export MC_CI_SEED=${MC_CI_SEED:-$(printf '0x%04x%04x' "$RANDOM" "$RANDOM")}
echo "property test seed of this run: MC_CI_SEED=$MC_CI_SEED"
LOG="$BUILD/test-output.log"
failed=()

tests_status=0
(cd "$BUILD" && ctest -V -j1) >"$LOG" 2>&1 || tests_status=$?
# ctest -V prefixes every line of a test's output with "<test number>: ".
grep -E '^([0-9]+: )?\[====\] Synthesis|Test +#|tests passed|tests failed|^[0-9]+: # SKIP' "$LOG" ||
    true
if [ "$tests_status" -ne 0 ]; then
    failed+=("tests (exit $tests_status)")
    echo "FAILED tests: see $LOG; its last lines:"
    tail -50 "$LOG"
fi
if grep -qE 'ERROR: (LeakSanitizer|AddressSanitizer)|runtime error:' "$LOG"; then
    echo "sanitizer reports found:"
    grep -nE -A20 'ERROR: (LeakSanitizer|AddressSanitizer)|runtime error:' "$LOG" | head -80
    failed+=("sanitizer reports")
fi

./scripts/valgrind.sh || failed+=("valgrind")
./scripts/check-format.sh || failed+=("format check")

if [ "${#failed[@]}" -ne 0 ]; then
    printf 'FAILED: %s\n' "${failed[@]}"
    exit 1
fi
echo "all tests passed"
