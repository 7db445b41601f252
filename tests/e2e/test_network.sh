#!/usr/bin/env bash
# End-to-end test of a local network: 4 validators x 2 shards x 2 proxies on RocksDB, every
# shard and proxy a separate process (`linera net up`), driven by the `linera` client and by
# an independent Python gRPC client.
#
# Usage: tests/e2e/test_network.sh BIN_DIR    (BIN_DIR holds linera, linera-server and
#        linera-proxy). KEEP_NET=1 keeps the network directory (logs, storage); E2E_HOLD=1
#        keeps the network running after a failure (see lib.sh).
#
# Steps: a. transfers both ways, exact balances; b. open-chain and a transfer to the new
# chain; c. one proxy of validator 0 SIGKILLed (its twin serves the shared port); d. each
# shard of validator 1 SIGKILLed in turn, transfers continue, restart, `linera sync` brings
# it to the others' height with exact balances; e. all of validator 3 stopped (SIGTERM),
# transfers continue, restart, sync; f. malformed gRPC and raw TCP traffic to a proxy and a
# shard (grpc_abuse.py); g. an independent Python client with stubs generated from
# proto/rpc.proto (python_client.py); then a clean stop with no sanitizer report in the logs.
#
# Each check prints "ok - ..."; the first failure prints "not ok - ..." with what was
# expected and seen, and the script exits 1. The last line is "N passed, 0 failed".
set -uo pipefail
# shellcheck source=tests/e2e/lib.sh
source "$(dirname "$0")/lib.sh"
e2e_init "${1:-}"

PROTO="$E2E_ROOT/proto/rpc.proto"
pyclient() { must "$PY" "$E2E_LIB_DIR/python_client.py" --proto "$PROTO" "$@"; }

section() { printf '# --- %s (%d s)\n' "$*" "$((SECONDS - E2E_START))"; }

# ---- helpers over the client's JSON ----

# wallet_chain N: the chain id of the wallet's N-th chain.
wallet_chain() {
    linera wallet show --json | "$PY" -c \
        'import json,sys; print(json.load(sys.stdin)["chains"][int(sys.argv[1])]["chain_id"])' "$1"
}

# validator_heights CHAIN: one line per validator, in validator order (server_<v>.json):
# "<v> <answers> <height>", from `linera query-validators CHAIN --json`.
validator_heights() {
    local json
    json=$(linera query-validators "$1" --json) || return 1
    "$PY" - "$NET_DIR" "$json" <<'EOF'
import glob, json, os, sys
net, seen = sys.argv[1], json.loads(sys.argv[2])
by_addr = {v["address"]: v for v in seen}
n = len(glob.glob(os.path.join(net, "server_*.json")))
for i in range(n):
    port = json.load(open(os.path.join(net, "server_%d.json" % i)))["validator"]["network"]["port"]
    v = by_addr.get("grpc:127.0.0.1:%d" % port)
    if v is None:
        print(i, "missing", -1)
    else:
        print(i, "true" if v["answers"] else "false", v["height"])
EOF
}

# assert_heights DESCRIPTION CHAIN EXPECTED: every validator answers and reports EXPECTED as
# its next block height for CHAIN (EXPECTED "same": all report the same height).
assert_heights() {
    local what=$1 chain=$2 want=$3 lines v answers h first= bad=
    lines=$(validator_heights "$chain") || fail "$what" "query-validators succeeds" "$lines"
    while read -r v answers h; do
        [ -z "$first" ] && first=$h
        if [ "$answers" != true ]; then bad=1; fi
        if [ "$want" = same ]; then [ "$h" = "$first" ] || bad=1; else [ "$h" = "$want" ] || bad=1; fi
    done <<<"$lines"
    [ -z "$bad" ] || fail "$what" "every validator answers, height $want" \
        "$(tr '\n' ';' <<<"$lines" | sed 's/;/; /g') (validator answers height)"
    ok "$what (height ${want/same/$first} on all $(wc -l <<<"$lines") validators)"
}

# assert_synced DESCRIPTION CHAIN: right after `linera sync CHAIN` succeeded, every validator
# answers with the same height. On a mismatch, before failing, waits 6 s (longer than the
# cross-chain retry backoff) and syncs again, to tell in the report whether the first sync
# left a validator behind although it exited 0.
assert_synced() {
    local what=$1 chain=$2 lines later
    lines=$(validator_heights "$chain") || fail "$what" "query-validators succeeds" "$lines"
    if [ "$(awk '{ print $2, $3 }' <<<"$lines" | sort -u | wc -l)" -eq 1 ] &&
        [ "$(awk 'NR == 1 { print $2 }' <<<"$lines")" = true ]; then
        ok "$what (height $(awk 'NR == 1 { print $3 }' <<<"$lines") on all validators)"
        return
    fi
    sleep 6
    "$E2E_BIN/linera" sync "$chain" >/dev/null 2>&1
    later=$(validator_heights "$chain" | tr '\n' ';')
    fail "$what" "every validator answers with the same height after 'linera sync' (exit 0)" \
        "$(tr '\n' ';' <<<"$lines") (validator answers height); diagnosis: another sync 6 s later gives $later"
}

# height_of CHAIN: the height the validators agree on (fails if they do not).
height_of() {
    validator_heights "$1" | awk 'NR == 1 { h = $3 } $3 != h || $2 != "true" { exit 1 }
        END { print h }'
}

# assert_validator_down DESCRIPTION CHAIN V: validator V does not answer for CHAIN.
assert_validator_down() {
    local lines a
    lines=$(validator_heights "$2") || fail "$1" "query-validators succeeds" "$lines"
    a=$(awk -v v="$3" '$1 == v { print $2 }' <<<"$lines")
    assert_eq "$1" false "$a"
}

# wait_validator_answers V CHAIN...: waits (20 s at most) until validator V answers chain info
# queries for every CHAIN through its public port. After a shard restart the proxies reach it
# again only when their channel's reconnect backoff (at most 5 s) expires.
wait_validator_answers() {
    local v=$1 c a t0=$SECONDS deadline=$((SECONDS + 20))
    shift
    for c in "$@"; do
        while :; do
            a=$(validator_heights "$c" | awk -v v="$v" '$1 == v { print $2 }')
            [ "$a" = true ] && break
            [ "$SECONDS" -ge "$deadline" ] &&
                fail "validator $v answers for $(short "$c") within 20 s of its restart" true "$a"
            sleep 0.25
        done
    done
    e2e_log "validator $v answers again for every chain after $((SECONDS - t0)) s"
}

assert_balance() { # CHAIN EXPECTED [LABEL]
    local b
    b=$(retry 2 "$E2E_BIN/linera" query-balance "$1") || fail "query-balance ${3:-$1}"
    assert_eq "balance of ${3:-$1} is $2 (query-balance)" "$2" "$b"
}

# assert_validator_state DESCRIPTION V CHAIN BALANCE HEIGHT: validator V's own state of CHAIN
# (HandleChainInfoQuery on its public port, by the Python client) has that balance and height.
assert_validator_state() {
    local out b h
    out=$(pyclient info "$(validator_addr "$2")" "$3") || fail "$1" "an INFO answer" "$out"
    b=$("$PY" -c 'import json,sys; print(json.loads(sys.argv[1])["balance"])' "$out")
    h=$("$PY" -c 'import json,sys; print(json.loads(sys.argv[1])["height"])' "$out")
    assert_eq "$1" "balance $4 at height $5" "balance $b at height $h"
}

transfer() { # AMOUNT FROM TO
    retry 2 "$E2E_BIN/linera" transfer "$1" --from "$2" --to "$3" >/dev/null ||
        fail "transfer $1 from $(short "$2") to $(short "$3")"
}
process_inbox() { retry 2 "$E2E_BIN/linera" process-inbox "$1" >/dev/null || fail "process-inbox $(short "$1")"; }
sync_chain() { retry 2 "$E2E_BIN/linera" sync "$1" >/dev/null || fail "sync $(short "$1")"; }
short() { echo "${1:0:8}"; }
# calc EXPR: exact decimal arithmetic on amounts, printed like query-balance (1000, 12.5).
calc() { "$PY" -c 'from decimal import Decimal as D; import sys; print("{:f}".format(eval(sys.argv[1], {"D": D}).normalize()))' "$1"; }

# =========================================================================================
section "start: 4 validators x 2 shards x 2 proxies, rocksdb"
net_up --validators 4 --shards 2 --proxies 2 --storage rocksdb --other-initial-chains 2 \
    --initial-amount 1000
assert_eq "processes.txt lists 16 processes" 16 "$(wc -l <"$NET_DIR/processes.txt")"
ADMIN=$(wallet_chain 0) && C1=$(wallet_chain 1) && C2=$(wallet_chain 2) ||
    fail "wallet show --json lists the admin chain and two other chains"
ok "wallet: admin chain $(short "$ADMIN"), chain 1 $(short "$C1"), chain 2 $(short "$C2")"
NV=$(n_validators)
all_public=()
for ((v = 0; v < NV; v++)); do all_public+=("$(validator_addr "$v")"); done
health_ok "${all_public[@]}" || fail "every validator's public port answers the health check"
ok "every validator's public port answers the health check"

# =========================================================================================
section "a. transfers in both directions"
assert_balance "$C1" 1000 "chain 1"
assert_balance "$C2" 1000 "chain 2"
transfer 10 "$C1" "$C2"
transfer 2.5 "$C1" "$C2"
transfer 4 "$C2" "$C1"
process_inbox "$C2"
process_inbox "$C1"
ok "transfers of 10 and 2.5 from chain 1 to chain 2 and of 4 back, inboxes processed"
assert_balance "$C1" 991.5 "chain 1"
assert_balance "$C2" 1008.5 "chain 2"
assert_heights "every validator has chain 1's 3 blocks" "$C1" 3
assert_heights "every validator agrees on chain 2's height" "$C2" same

# =========================================================================================
section "b. open-chain and a transfer to the new chain"
C3=$(retry 2 "$E2E_BIN/linera" open-chain --from "$C1" --initial-balance 5) ||
    fail "open-chain --from chain 1 --initial-balance 5"
[[ $C3 =~ ^[0-9a-f]{64}$ ]] || fail "open-chain prints the new chain id" "64 hex digits" "$C3"
ok "open-chain --from chain 1 --initial-balance 5 printed $(short "$C3")"
wallet=$(linera wallet show --json) && [[ $wallet == *"\"$C3\""* ]] ||
    fail "the new chain is in the wallet" "$C3 in wallet show --json" "$wallet"
ok "the new chain is in the wallet"
transfer 1.5 "$C2" "$C3"
process_inbox "$C3"
assert_balance "$C3" 6.5 "the new chain"
assert_balance "$C1" 986.5 "chain 1"
assert_balance "$C2" 1007 "chain 2"
assert_heights "every validator agrees on the new chain's height" "$C3" same

# =========================================================================================
section "c. one proxy of validator 0 killed (SIGKILL)"
H1=$(height_of "$C1") || fail "validators agree on chain 1's height before the fault"
proc_kill validator_0_proxy_0 KILL
proc_alive validator_0_proxy_1 || fail "validator_0_proxy_1 still runs"
health_ok "$(validator_addr 0)" ||
    fail "validator 0's public port still answers (validator_0_proxy_1, SO_REUSEPORT)"
ok "validator 0's public port still answers the health check through validator_0_proxy_1"
for i in 1 2 3; do transfer 1 "$C1" "$C2"; done
ok "3 transfers from chain 1 confirmed with validator_0_proxy_0 dead"
assert_heights "validator 0 (and every other) reports chain 1's new height" "$C1" $((H1 + 3))
process_inbox "$C2"
assert_balance "$C1" 983.5 "chain 1"
assert_balance "$C2" 1010 "chain 2"

# =========================================================================================
section "d. validator 1's shards killed (SIGKILL) in turn, then restarted"
# Expected balances from here on (every inbox is processed before a balance is checked).
declare -A BAL=([$C1]=983.5 [$C2]=1010 [$C3]=6.5)
# move AMOUNT FROM TO: a transfer, then both inboxes processed.
move() {
    transfer "$1" "$2" "$3"
    BAL[$2]=$(calc "D('${BAL[$2]}') - D('$1')")
    BAL[$3]=$(calc "D('${BAL[$3]}') + D('$1')")
}
read -r -a V1_SHARDS <<<"$(shard_addrs 1)"
shard_of() { pyclient shard-of "$1" "${V1_SHARDS[@]}" || fail "find validator 1's shard of $(short "$1")"; }
# Two chains on different shards, so that each outage cuts a cross-shard exchange: chain 1
# and the first of chain 2, the new chain, or (if both share chain 1's shard) chains opened
# from chain 2 until one lands on the other shard.
X=$C1
SX=$(shard_of "$X")
Y=
for c in "$C2" "$C3"; do
    if [ "$(shard_of "$c")" != "$SX" ]; then Y=$c; break; fi
done
for ((i = 0; i < 10 && ${#Y} == 0; i++)); do
    c=$(retry 2 "$E2E_BIN/linera" open-chain --from "$C2" --initial-balance 10) ||
        fail "open-chain --from chain 2"
    BAL[$C2]=$(calc "D('${BAL[$C2]}') - 10")
    BAL[$c]=10
    [ "$(shard_of "$c")" != "$SX" ] && Y=$c
done
[ -n "$Y" ] || fail "a chain on the other shard of validator 1 within 10 open-chain"
SY=$(shard_of "$Y")
e2e_log "validator 1: chain X=$(short "$X") on shard $SX, chain Y=$(short "$Y") on shard $SY"
for s in "$SX" "$SY"; do
    name=validator_1_shard_$s
    [ "$s" = "$SX" ] && dead=$X || dead=$Y
    proc_kill "$name" KILL
    assert_validator_down "validator 1 does not answer for $(short "$dead") with $name dead" \
        "$dead" 1
    move 2 "$X" "$Y"
    move 1 "$Y" "$X"
    process_inbox "$X"
    process_inbox "$Y"
    ok "transfers X -> Y and Y -> X confirmed with $name dead"
    proc_restart "$name"
    wait_healthy "$name"
    ok "$name restarted with its command line and healthy"
    wait_validator_answers 1 "$X" "$Y"
    sync_chain "$X"
    sync_chain "$Y"
    assert_synced "after sync, validator 1 reports X at the others' height" "$X"
    assert_synced "after sync, validator 1 reports Y at the others' height" "$Y"
    for c in "$X" "$Y"; do
        assert_balance "$c" "${BAL[$c]}" "$(short "$c")"
        assert_validator_state "validator 1's own state of $(short "$c") after the restart of $name" \
            1 "$c" "${BAL[$c]}" "$(height_of "$c")"
    done
done

# =========================================================================================
section "e. validator 3 stopped (SIGTERM on all its processes), then restarted"
mapfile -t V3 < <(proc_names '^validator_3_')
for name in "${V3[@]}"; do kill -TERM "$(proc_pid "$name")" || fail "SIGTERM $name"; done
for name in "${V3[@]}"; do
    wait_gone "$(proc_pid "$name")" 20 || fail "$name exits on SIGTERM" "gone within 20 s" "still running"
done
ok "validator 3's ${#V3[@]} processes exited on SIGTERM"
move 3 "$C1" "$C2"
move 0.5 "$C3" "$C2"
move 0.5 "$C2" "$C1"
process_inbox "$C1"
process_inbox "$C2"
ok "transfers confirmed by the other three validators with validator 3 down"
assert_validator_down "validator 3 does not answer while stopped" "$C1" 3
for c in "$C1" "$C2" "$C3"; do assert_balance "$c" "${BAL[$c]}" "$(short "$c")"; done
for name in "${V3[@]}"; do [[ $name == *_shard_* ]] && proc_restart "$name"; done
for name in "${V3[@]}"; do [[ $name == *_proxy_* ]] && proc_restart "$name"; done
wait_healthy "${V3[@]}"
ok "validator 3's processes restarted with their command lines and healthy"
wait_validator_answers 3 "$C1" "$C2" "$C3"
for c in "$C1" "$C2" "$C3"; do sync_chain "$c"; done
ok "linera sync of chain 1, chain 2 and the new chain"
for c in "$C1" "$C2" "$C3"; do
    assert_synced "after sync, validator 3 reports $(short "$c") at the others' height" "$c"
done
for c in "$C1" "$C2" "$C3"; do
    assert_validator_state "validator 3's own state of $(short "$c")" 3 "$c" "${BAL[$c]}" \
        "$(height_of "$c")"
done

# =========================================================================================
section "f. robustness: malformed traffic to a proxy and a shard of validator 2"
read -r -a V2_SHARDS <<<"$(shard_addrs 2)"
s=$(pyclient shard-of "$C1" "${V2_SHARDS[@]}") || fail "find validator 2's shard of chain 1"
run_py_checks() { # runs a Python script printing "ok - ..." lines; counts them
    local out rc line
    out=$("$PY" "$@" 2>&1) && rc=0 || rc=$?
    while IFS= read -r line; do
        case $line in
        "ok - "*) ok "${line#ok - }" ;;
        *) printf '%s\n' "$line" ;;
        esac
    done <<<"$out"
    [ "$rc" -eq 0 ] || fail "$(basename "$2") $3" "exit 0" "exit $rc"
}
run_py_checks "$E2E_LIB_DIR/grpc_abuse.py" --label "validator 2 proxy (public port)" \
    "$(validator_addr 2)" "$C1"
run_py_checks "$E2E_LIB_DIR/grpc_abuse.py" --shard --label "validator_2_shard_$s" \
    "${V2_SHARDS[$s]}" "$C1"
for name in $(proc_names '^validator_2_'); do
    proc_alive "$name" || fail "$name still runs after the abuse" "running" \
        "$(tail -5 "$NET_DIR/logs/$name.log")"
done
ok "all processes of validator 2 still run"
wait_healthy $(proc_names '^validator_2_')
ok "all processes of validator 2 answer their health check"
move 1 "$C1" "$C2"
process_inbox "$C2"
assert_balance "$C1" "${BAL[$C1]}" "chain 1"
assert_balance "$C2" "${BAL[$C2]}" "chain 2"
assert_heights "every validator reports chain 1's height after the abuse" "$C1" same

# =========================================================================================
section "g. independent Python client (stubs generated from proto/rpc.proto)"
H1=$(height_of "$C1") || fail "validators agree on chain 1's height"
for ((v = 0; v < NV; v++)); do
    out=$(pyclient check "$(validator_addr "$v")" "$ADMIN" "$C1" "$C2" "$C3") ||
        fail "Python client: validator $v health check and chain info queries" "" "$out"
    ok "Python client: validator $v answers Health/Check SERVING and INFO for the 4 chains"
    got=$("$PY" -c '
import json, sys
rows = [json.loads(l) for l in sys.argv[1].splitlines()]
print(" ".join("%s:%s:%s" % (r["chain_id"][:8], r["kind"], r["active"]) for r in rows))
print(rows[1]["height"], rows[1]["balance"])' "$out")
    assert_eq "Python client: validator $v returns each queried chain id, active" \
        "$(short "$ADMIN"):INFO:True $(short "$C1"):INFO:True $(short "$C2"):INFO:True $(short "$C3"):INFO:True" \
        "$(head -1 <<<"$got")"
    assert_eq "Python client: validator $v has chain 1 at height $H1 with balance ${BAL[$C1]}" \
        "$H1 ${BAL[$C1]}" "$(tail -1 <<<"$got")"
done

# =========================================================================================
section "stop"
kill -TERM "$NET_PID"
wait "$NET_PID"
rc=$?
NET_PID=
assert_eq "linera net up exits 0 on SIGTERM" 0 "$rc"
for pid in "${RESTARTED_PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null; done
for pid in "${RESTARTED_PIDS[@]}"; do
    wait_gone "$pid" 15 || fail "restarted process $pid exits on SIGTERM" "gone within 15 s" "running"
done
left=$(pids_of_net_dir)
assert_eq "no process of the network is left" "" "$left"
reports=$(grep -lE 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:' "$NET_DIR"/logs/*.log)
assert_eq "no sanitizer report in the server logs" "" "$reports"

printf '# total time %d s\n' "$((SECONDS - E2E_START))"
printf '%d passed, %d failed\n' "$PASSED" "$FAILED"
