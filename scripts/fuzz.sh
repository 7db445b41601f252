#!/usr/bin/env bash
# Coverage-guided fuzzing with libFuzzer (tests/fuzz, docs/TESTING.md).
#
#   scripts/fuzz.sh                  CI mode: replay the committed corpus of every target, then
#                                    fuzz each for FUZZ_SECONDS (default 12) under ASan+UBSan
#   FUZZ_LONG=1 scripts/fuzz.sh      long mode: FUZZ_RUNS (default 10^7) executions per target
#   scripts/fuzz.sh --seeds          regenerate the seed corpus from the sample world
#   scripts/fuzz.sh fuzz_worker ...  only the named targets
#
# The fuzz build is its own CMake build (build-fuzz, clang, -DMC_FUZZ=ON): the gcc build is
# not touched. Inputs found while fuzzing go to build-fuzz/fuzz-corpus/<target> (kept
# between local runs); a crash, leak, timeout or sanitizer report fails the run and leaves
# its reproducer in build-fuzz/fuzz-artifacts/<target>/. To keep it as a regression input:
# copy it to tests/fuzz/corpus/<target>/regress-<what>, fix the bug, rerun.
set -euo pipefail
cd "$(dirname "$0")/.."

BUILD=${FUZZ_BUILD_DIR:-build-fuzz}
SECONDS_PER_TARGET=${FUZZ_SECONDS:-12}
RUNS=${FUZZ_RUNS:-10000000}
PARALLEL=${FUZZ_PARALLEL:-2}
CLANG=clang-14

# ---- tools: clang and its libFuzzer runtime (Debian) ----
need=()
for p in "$CLANG" libclang-rt-14-dev; do
    dpkg -s "$p" >/dev/null 2>&1 || need+=("$p")
done
if [ ${#need[@]} -gt 0 ]; then
    echo "fuzz: installing ${need[*]}"
    SUDO=""
    [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get -o DPkg::Lock::Timeout=600 update -qq
    $SUDO apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

# ---- build ----
mode=fuzz
targets=()
for a in "$@"; do
    case "$a" in
    --seeds) mode=seeds ;;
    *) targets+=("$a") ;;
    esac
done
if [ ${#targets[@]} -eq 0 ]; then
    for f in tests/fuzz/fuzz_*.c; do
        targets+=("$(basename "$f" .c)")
    done
fi
mkdir -p "$BUILD"
CC=$CLANG cmake -S . -B "$BUILD" -DMC_FUZZ=ON -DMC_SANITIZE=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_C_FLAGS=-fsanitize=fuzzer-no-link >"$BUILD/cmake.log" 2>&1 ||
    { cat "$BUILD/cmake.log"; exit 1; }
cmake --build "$BUILD" -j"$(nproc)" --target "${targets[@]}" >"$BUILD/build.log" 2>&1 ||
    { tail -50 "$BUILD/build.log"; exit 1; }

# Loaders read and save files: a tmpfs keeps fsync from dominating the run.
if [ -z "${TMPDIR:-}" ] && [ -d /dev/shm ] && [ -w /dev/shm ]; then export TMPDIR=/dev/shm; fi
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

mkdir -p "$BUILD/fuzz-logs"
rm -f "$BUILD"/fuzz-logs/*.rc
if [ "$mode" = seeds ]; then
    for t in "${targets[@]}"; do
        dir="tests/fuzz/corpus/${t#fuzz_}"
        rm -rf "$dir" && mkdir -p "$dir"
        MC_FUZZ_WRITE_SEEDS="$PWD/$dir" "$BUILD/$t"
        echo "fuzz: $t: $(ls "$dir" | wc -l) seeds, $(du -sk "$dir" | cut -f1) KiB"
    done
    exit 0
fi

# ---- replay + fuzz, PARALLEL targets at a time ----
run_target() {
    local t=$1 corpus="tests/fuzz/corpus/${1#fuzz_}" work="$BUILD/fuzz-corpus/$1"
    local art="$BUILD/fuzz-artifacts/$1/" log="$BUILD/fuzz-logs/$1.log"
    mkdir -p "$work" "$art"
    local limit=(-max_total_time="$SECONDS_PER_TARGET")
    [ "${FUZZ_LONG:-0}" = 1 ] && limit=(-runs="$RUNS")
    {
        # Every committed input (seeds and regressions) must pass as it is...
        "$BUILD/$t" -runs=0 -rss_limit_mb=2048 -timeout=20 -artifact_prefix="$art" "$corpus" &&
            # ...then fuzz from the committed corpus plus what earlier local runs found.
            "$BUILD/$t" "${limit[@]}" -rss_limit_mb=2048 -timeout=20 -max_len=65536 \
                -print_final_stats=1 -artifact_prefix="$art" "$work" "$corpus"
    } >"$log" 2>&1
}

start=$(date +%s)
for t in "${targets[@]}"; do
    while [ "$(jobs -rp | wc -l)" -ge "$PARALLEL" ]; do sleep 0.2; done
    # The status goes to a file: bash forgets the status of a job `jobs` reported as done.
    (rc=0; run_target "$t" || rc=$?; echo "$rc" >"$BUILD/fuzz-logs/$t.rc") &
done
wait
failed=()
for t in "${targets[@]}"; do
    [ "$(cat "$BUILD/fuzz-logs/$t.rc" 2>/dev/null)" = 0 ] || failed+=("$t")
done

total=0
for t in "${targets[@]}"; do
    log="$BUILD/fuzz-logs/$t.log"
    execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | tail -1 | grep -o '[0-9]*$' || echo 0)
    cov=$(grep -oE 'cov: [0-9]+' "$log" | tail -1 | grep -oE '[0-9]+' || echo 0)
    n=$(ls "tests/fuzz/corpus/${t#fuzz_}" | wc -l)
    total=$((total + ${execs:-0}))
    printf 'fuzz: %-20s %10s executions, coverage %6s, %4s committed inputs\n' "$t" "${execs:-0}" "${cov:-0}" "$n"
done
echo "fuzz: ${#targets[@]} targets, $total executions in $(( $(date +%s) - start )) s"
if [ ${#failed[@]} -gt 0 ]; then
    for t in "${failed[@]}"; do
        echo "fuzz: FAILED: $t (log $BUILD/fuzz-logs/$t.log, reproducers in $BUILD/fuzz-artifacts/$t/)"
        grep -E 'INVARIANT VIOLATED|ERROR: (Address|Leak|libFuzzer)|runtime error|SUMMARY|Test unit written' \
            "$BUILD/fuzz-logs/$t.log" | head -20
    done
    exit 1
fi
echo "fuzz: no failure"
