#!/usr/bin/env bash
# End-to-end liveness (issue 7): real processes (`linera net up`, 4 validators x 1 shard x 1
# proxy on RocksDB) are left in states that used to stop a chain for good, and the `linera`
# client must get it going again.
#
# Usage: tests/e2e/test_liveness.sh BIN_DIR    (KEEP_NET=1, E2E_HOLD=1: see lib.sh)
#
# Steps: a. a transfer to a chain no validator knows is refused, unless
# --allow-unknown-recipient; b. an inbox flood of 10,001 one-atto credits (each its own
# bundle): a transfer from the flooded chain succeeds, process-inbox empties the inbox in
# blocks with a progress line each, and another transfer succeeds; c. with two validators'
# proxies down, a fresh client's query-balance fails (no quorum of answers) and prints the
# balance with a warning under --allow-stale; d. split rounds: transfers that cannot reach
# a quorum leave validators 0 and 1 in MultiLeader(0) and validators 2 and 3 in
# SingleLeader(0), each pair with its own proposal and no timeout certificate anywhere;
# once every process is back, one `linera transfer` recovers the chain within the bound of
# docs/PROTOCOL.md section 6 (the round's 10 s plus round trips).
set -uo pipefail
# shellcheck source=tests/e2e/lib.sh
source "$(dirname "$0")/lib.sh"
e2e_init "${1:-}"

PROTO="$E2E_ROOT/proto/rpc.proto"
section() { printf '# --- %s (%d s)\n' "$*" "$((SECONDS - E2E_START))"; }
short() { echo "${1:0:8}"; }

wallet_chain() {
    linera wallet show --json | "$PY" -c \
        'import json,sys; print(json.load(sys.stdin)["chains"][int(sys.argv[1])]["chain_id"])' "$1"
}

# round_at V CHAIN: validator V's consensus round for CHAIN ("multi-leader 0", ...).
round_at() {
    must "$PY" "$E2E_LIB_DIR/python_client.py" --proto "$PROTO" info "$(validator_addr "$1")" "$2" |
        "$PY" -c 'import json,sys; print(json.load(sys.stdin)["round"])'
}

# expect_failure DESCRIPTION PATTERN CMD...: CMD must exit 1 with PATTERN on stderr.
expect_failure() {
    local what=$1 pattern=$2 out rc
    shift 2
    out=$("$@" 2>&1) && rc=0 || rc=$?
    [ "$rc" -eq 1 ] || fail "$what" "exit 1" "exit $rc: $out"
    grep -q -- "$pattern" <<<"$out" || fail "$what" "an error mentioning '$pattern'" "$out"
    ok "$what"
}

kill_proxy() { proc_kill "validator_$1_proxy_0" KILL; }
restart_proxy() {
    proc_restart "validator_$1_proxy_0"
    wait_healthy "validator_$1_proxy_0"
}

# =========================================================================================
section "start: 4 validators x 1 shard x 1 proxy, rocksdb"
net_up --validators 4 --shards 1 --proxies 1 --storage rocksdb --other-initial-chains 2 \
    --initial-amount 1000
C1=$(wallet_chain 1) && C2=$(wallet_chain 2) || fail "the wallet lists two chains"
ok "chain 1 $(short "$C1"), chain 2 $(short "$C2")"

# =========================================================================================
section "a. unknown recipients"
NOBODY=0000000000000000000000000000000000000000000000000000000000000000
expect_failure "a transfer to a chain no validator knows is refused" "no validator knows" \
    "$E2E_BIN/linera" transfer 1 --from "$C1" --to "$NOBODY"
check "with --allow-unknown-recipient it is sent" \
    "$E2E_BIN/linera" transfer 1 --from "$C1" --to "$NOBODY" --allow-unknown-recipient
assert_eq "chain 1 paid it" 999 "$(linera query-balance "$C1")"

# =========================================================================================
section "b. an inbox flood of 10,001 credits"
t0=$SECONDS
out=$("$E2E_BIN/linera" transfer 0.000000000000000001 --from "$C1" --to "$C2" --repeat 10001 2>&1) ||
    fail "10,001 transfers of 1 atto from chain 1 to chain 2" "exit 0" "$out"
ok "10,001 transfers of 1 atto sent in $((SECONDS - t0)) s"
pending=$(retry 3 "$E2E_BIN/linera" sync "$C2" --json | "$PY" -c \
    'import json,sys; print(json.load(sys.stdin)["pending_messages"])') ||
    fail "sync chain 2"
assert_eq "chain 2 has 10,001 pending incoming bundles" 10001 "$pending"
check "a transfer from the flooded chain succeeds" "$E2E_BIN/linera" transfer 0.5 --from "$C2" --to "$C1"
err=$(mktemp)
"$E2E_BIN/linera" process-inbox "$C2" 2>"$err" >/dev/null ||
    fail "process-inbox on the flooded chain" "exit 0" "$(cat "$err")"
lines=$(grep -c '^processed [0-9]* incoming bundles, [0-9]* pending$' "$err")
last=$(grep '^processed' "$err" | tail -1)
rm -f "$err"
[ "$lines" -ge 9 ] || fail "process-inbox prints a progress line per block" ">= 9 lines" "$lines"
assert_eq "process-inbox took every remaining bundle" "processed 9001 incoming bundles, 0 pending" "$last"
pending=$(linera sync "$C2" --json | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["pending_messages"])')
assert_eq "chain 2's inbox is empty" 0 "$pending"
assert_eq "chain 2 holds every credit" "999.500000000000010001" "$(linera query-balance "$C2")"
check "and transfers again" "$E2E_BIN/linera" transfer 0.5 --from "$C2" --to "$C1"
ok "flood handled in $((SECONDS - t0)) s"

# =========================================================================================
section "c. stale answers: two validators unreachable"
kill_proxy 2
kill_proxy 3
expect_failure "a fresh client's query-balance fails without a quorum" "quorum" \
    env LINERA_STORAGE= "$E2E_BIN/linera" query-balance "$C1"
err=$(mktemp)
bal=$(LINERA_STORAGE='' "$E2E_BIN/linera" query-balance "$C1" --allow-stale 2>"$err") ||
    fail "query-balance --allow-stale" "exit 0" "$(cat "$err")"
grep -q '^warning: .*quorum' "$err" || fail "--allow-stale warns on stderr" "a warning" "$(cat "$err")"
rm -f "$err"
ok "with --allow-stale it prints $bal and a warning"
expect_failure "sync fails without a quorum" "quorum" "$E2E_BIN/linera" sync "$C1"

# =========================================================================================
section "d. split rounds after a loss of quorum"
height_at() {
    must "$PY" "$E2E_LIB_DIR/python_client.py" --proto "$PROTO" info "$(validator_addr "$1")" "$2" |
        "$PY" -c 'import json,sys; print(json.load(sys.stdin)["height"])'
}
H=$(height_at 0 "$C1") || fail "validator 0 reports chain 1's height"
# Validators 2 and 3 are down: validators 0 and 1 vote for block A in MultiLeader(0).
expect_failure "a transfer without a quorum fails" "not confirmed" \
    "$E2E_BIN/linera" transfer 1 --from "$C1" --to "$C2"
restart_proxy 2
restart_proxy 3
kill_proxy 0
kill_proxy 1
# Now only 2 and 3 answer: each failed transfer sees the previous one's proposal and moves
# to the next multi-leader round, and after the last one (4) to SingleLeader(0).
for k in 1 2 3 4 5 6; do
    expect_failure "failed transfer $k with validators 0 and 1 down" "not confirmed" \
        "$E2E_BIN/linera" transfer 1 --from "$C1" --to "$C2"
done
restart_proxy 0
restart_proxy 1
for v in 0 1; do assert_eq "validator $v is in MultiLeader(0)" "multi-leader 0" "$(round_at "$v" "$C1")"; done
for v in 2 3; do assert_eq "validator $v is in SingleLeader(0)" "single-leader 0" "$(round_at "$v" "$C1")"; done
t0=$SECONDS
check "one transfer recovers the chain" "$E2E_BIN/linera" transfer 1 --from "$C1" --to "$C2"
took=$((SECONDS - t0))
[ "$took" -le 60 ] || fail "the recovery stays within the bound" "at most 10 s + slack (60 s)" "$took s"
ok "recovered in $took s (SingleLeader(0) lasts 10 s)"
for v in 0 1 2 3; do
    h=$(height_at "$v" "$C1")
    [ "$h" -gt "$H" ] || fail "validator $v confirmed a block at the split height $H" "height > $H" "$h"
done
ok "every validator is past the split height $H"
check "and the next transfer is quick" "$E2E_BIN/linera" transfer 1 --from "$C1" --to "$C2"

printf '%d passed, %d failed\n' "$PASSED" "$FAILED"
