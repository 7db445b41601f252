#!/usr/bin/env bash
# End-to-end test of a local network: 4 validators x 2 shards x 2 proxies on RocksDB, every
# shard and proxy a separate process (`linera net up`), driven by the `linera` client and by
# an independent Python gRPC client.
#
# Usage: tests/e2e/test_network.sh BIN_DIR    (BIN_DIR holds linera, linera-server and
#        linera-proxy). KEEP_NET=1 keeps the network directory (logs, storage).
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
linera wallet show --json | grep -q "\"$C3\"" || fail "the new chain is in the wallet"
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
read -r -a V1_SHARDS <<<"$(shard_addrs 1)"
# Which shard of validator 1 owns each chain (a shard answers only for its own chains).
declare -A OWNER=()
for c in "$C1" "$C2" "$C3"; do
    OWNER[$c]=$(pyclient shard-of "$c" "${V1_SHARDS[@]}") || fail "find the shard of $(short "$c")"
done
e2e_log "validator 1 shards: chain 1 on shard ${OWNER[$C1]}, chain 2 on shard ${OWNER[$C2]}, new chain on shard ${OWNER[$C3]}"
bal1=983.5
bal2=1010
# Kill first the shard of chain 1, then the other one.
order=("${OWNER[$C1]}")
for ((s = 0; s < ${#V1_SHARDS[@]}; s++)); do [ "$s" = "${OWNER[$C1]}" ] || order+=("$s"); done
for s in "${order[@]}"; do
    name=validator_1_shard_$s
    dead_chain=$C1
    [ "${OWNER[$C1]}" = "$s" ] || dead_chain=$C2
    [ "${OWNER[$dead_chain]}" = "$s" ] || dead_chain=
    proc_kill "$name" KILL
    if [ -n "$dead_chain" ]; then
        assert_validator_down "validator 1 does not answer for chain $(short "$dead_chain") with $name dead" \
            "$dead_chain" 1
    fi
    transfer 2 "$C1" "$C2"
    transfer 1 "$C2" "$C1"
    process_inbox "$C1"
    process_inbox "$C2"
    ok "transfers both ways between chain 1 and chain 2 confirmed with $name dead"
    proc_restart "$name"
    wait_healthy "$name"
    ok "$name restarted with its command line and healthy"
    wait_validator_answers 1 "$C1" "$C2" "$C3"
    sync_chain "$C1"
    sync_chain "$C2"
    sync_chain "$C3"
    assert_heights "after sync, validator 1 reports chain 1 at the others' height" "$C1" same
    assert_heights "after sync, validator 1 reports chain 2 at the others' height" "$C2" same
    assert_heights "after sync, validator 1 reports the new chain at the others' height" "$C3" same
    bal1=$("$PY" -c "from decimal import Decimal as D; print(D('$bal1') - 2 + 1)")
    bal2=$("$PY" -c "from decimal import Decimal as D; print(D('$bal2') + 2 - 1)")
    assert_balance "$C1" "$bal1" "chain 1"
    assert_balance "$C2" "$bal2" "chain 2"
    assert_validator_state "validator 1's own state of chain 1 after the restart of $name" 1 \
        "$C1" "$bal1" "$(height_of "$C1")"
    assert_validator_state "validator 1's own state of chain 2 after the restart of $name" 1 \
        "$C2" "$bal2" "$(height_of "$C2")"
done

# =========================================================================================
section "e. validator 3 stopped (SIGTERM on all its processes), then restarted"
mapfile -t V3 < <(proc_names '^validator_3_')
for name in "${V3[@]}"; do kill -TERM "$(proc_pid "$name")" || fail "SIGTERM $name"; done
for name in "${V3[@]}"; do
    wait_gone "$(proc_pid "$name")" 20 || fail "$name exits on SIGTERM" "gone within 20 s" "still running"
done
ok "validator 3's ${#V3[@]} processes exited on SIGTERM"
transfer 3 "$C1" "$C2"
transfer 0.5 "$C3" "$C2"
transfer 0.5 "$C2" "$C1"
process_inbox "$C1"
process_inbox "$C2"
ok "transfers confirmed by the other three validators with validator 3 down"
assert_validator_down "validator 3 does not answer while stopped" "$C1" 3
bal1=$("$PY" -c "from decimal import Decimal as D; print(D('$bal1') - 3 + D('0.5'))")
bal2=$("$PY" -c "from decimal import Decimal as D; print(D('$bal2') + 3 + D('0.5') - D('0.5'))")
bal3=6
assert_balance "$C1" "$bal1" "chain 1"
assert_balance "$C2" "$bal2" "chain 2"
assert_balance "$C3" "$bal3" "the new chain"
for name in "${V3[@]}"; do [[ $name == *_shard_* ]] && proc_restart "$name"; done
for name in "${V3[@]}"; do [[ $name == *_proxy_* ]] && proc_restart "$name"; done
wait_healthy "${V3[@]}"
ok "validator 3's processes restarted with their command lines and healthy"
wait_validator_answers 3 "$C1" "$C2" "$C3" "$ADMIN"
for c in "$C1" "$C2" "$C3" "$ADMIN"; do sync_chain "$c"; done
ok "linera sync of every chain"
assert_heights "after sync, validator 3 reports chain 1 at the others' height" "$C1" same
assert_heights "after sync, validator 3 reports chain 2 at the others' height" "$C2" same
assert_heights "after sync, validator 3 reports the new chain at the others' height" "$C3" same
assert_validator_state "validator 3's own state of chain 1" 3 "$C1" "$bal1" "$(height_of "$C1")"
assert_validator_state "validator 3's own state of chain 2" 3 "$C2" "$bal2" "$(height_of "$C2")"
assert_validator_state "validator 3's own state of the new chain" 3 "$C3" "$bal3" "$(height_of "$C3")"

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
transfer 1 "$C1" "$C2"
process_inbox "$C2"
bal1=$("$PY" -c "from decimal import Decimal as D; print(D('$bal1') - 1)")
bal2=$("$PY" -c "from decimal import Decimal as D; print(D('$bal2') + 1)")
assert_balance "$C1" "$bal1" "chain 1"
assert_balance "$C2" "$bal2" "chain 2"
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
    assert_eq "Python client: validator $v has chain 1 at height $H1 with balance $bal1" \
        "$H1 $bal1" "$(tail -1 <<<"$got")"
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
