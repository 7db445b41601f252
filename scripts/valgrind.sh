#!/usr/bin/env bash
# Runs a set of unit tests under valgrind (memcheck) on a build without sanitizers: no
# invalid access, no uninitialised use, no definite or indirect leak. Criterion runs each
# test in a child process, hence --trace-children.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${VALGRIND_BUILD_DIR:-build-valgrind}
# Not test_durability: its crash test ends a child process with _exit on purpose, leaving
# what a crash leaves. Not the gRPC tests: Debian's gRPC keeps process-wide state that
# valgrind reports as possibly lost (c-dependencies.md).
TESTS=(test_codec test_types test_amount test_protocol test_consensus test_genesis test_config
       test_storage_uri)
cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$BUILD" -j"$(nproc)" --target "${TESTS[@]}" >/dev/null
status=0
for t in "${TESTS[@]}"; do
    log="$BUILD/valgrind-$t.log"
    if valgrind --quiet --error-exitcode=99 --leak-check=full \
        --errors-for-leak-kinds=definite,indirect --trace-children=yes \
        "$BUILD/$t" --jobs=1 >"$log" 2>&1; then
        echo "valgrind clean: $t"
    else
        echo "valgrind FAILED: $t (see $log)"
        tail -40 "$log"
        status=1
    fi
done
exit $status
