#!/usr/bin/env bash
# End-to-end test of the block exporter: `linera net up --with-block-exporter` (4 validators
# x 2 shards x 1 proxy on RocksDB, one linera-exporter per validator), every process real,
# talking gRPC on loopback.
#
# Usage: tests/e2e/test_exporter.sh BIN_DIR   (linera, linera-server, linera-proxy,
#        linera-exporter). KEEP_NET=1 keeps the network directory; E2E_HOLD=1 keeps the
#        network running after a failure (see lib.sh). EXPORTER_BLOCKS (default 200) sets
#        how many blocks are made while validator 3 is down.
#
# Steps: a. the exporters serve (gRPC health, /health, /metrics that promtool accepts), the
# shards' NewBlock notifications reach them, and a block every validator already has from
# the client is not sent again; b. only validator 0's exporter left running, validator 3
# stopped, EXPORTER_BLOCKS blocks on several chains (benchmark: transfers between chains,
# blocks accepting them, chains opened), validator 3 restarted and NO client command run:
# within CATCHUP_BOUND_S validator 3 has every chain at the same height and tip as the
# other three; c. the same with validator 0's exporter SIGKILLed while it exports and
# restarted: nothing lost, and the restarted exporter sends only what validator 3 still
# lacked (at most one certificate in flight more); d. the command line (help, version,
# refusals); then a clean stop with no sanitizer report in the logs.
set -uo pipefail
# shellcheck source=tests/e2e/lib.sh
source "$(dirname "$0")/lib.sh"
e2e_init "${1:-}"
[ -x "$E2E_BIN/linera-exporter" ] || { echo "no linera-exporter in $E2E_BIN" >&2; exit 2; }

BLOCKS=${EXPORTER_BLOCKS:-200}
# Measured on the shared 2-core machine with the sanitizer build: 200-270 blocks catch up in
# 8-16 s, most of it the exporter's backoff (at most 30 s) before it retries the validator
# (docs/OPERATIONS.md); the bound leaves room for a loaded machine.
CATCHUP_BOUND_S=90

section() { printf '# --- %s (%d s)\n' "$*" "$((SECONDS - E2E_START))"; }

tips() { "$PY" "$E2E_LIB_DIR/chain_tips.py" "$@"; }
# The chains of the wallet (every chain the test made blocks on).
wallet_chains() {
    linera wallet show --json | "$PY" -c \
        'import json,sys; print(" ".join(c["chain_id"] for c in json.load(sys.stdin)["chains"]))'
}
all_addrs() {
    local v out=
    for ((v = 0; v < $(n_validators); v++)); do out+="${out:+,}$(validator_addr "$v")"; done
    echo "$out"
}
toml_value() { # FILE KEY: an integer key of an exporter TOML
    sed -nE "s/^$2 = ([0-9]+)$/\\1/p" "$1" | head -1
}
exporter_toml() { echo "$NET_DIR/exporter_$1_0.toml"; }
exporter_service() { echo "127.0.0.1:$(awk '/^\[service_config\]/ { s = 1 } s && /^port = / { print $3; exit }' "$(exporter_toml "$1")")"; }
exporter_metrics() { echo "127.0.0.1:$(toml_value "$(exporter_toml "$1")" metrics_port)"; }
# metric V NAME [DESTINATION]: the value of one series of exporter V (0 if absent).
metric() {
    local body
    body=$(curl -s --max-time 5 "http://$(exporter_metrics "$1")/metrics") || { echo 0; return; }
    awk -v name="$2" -v dest="${3:-}" '
        $1 == name || (dest != "" && index($1, name "{destination=\"" dest "\"") == 1) { v = $2 }
        END { print (v == "" ? 0 : v) }' <<<"$body"
}
exported_to() { metric "$1" linera_exporter_blocks_exported_total "grpc:$(validator_addr "$2")"; }
stop_validator() { # V: SIGTERM to its shards and proxy
    local name
    for name in $(proc_names "^validator_$1_(shard|proxy)_"); do proc_kill "$name" TERM; done
}
start_validator() {
    local name
    for name in $(proc_names "^validator_$1_(shard|proxy)_"); do proc_restart "$name"; done
    wait_healthy $(proc_names "^validator_$1_(shard|proxy)_")
}
# Makes at least N blocks with the benchmark (transfers between 6 chains; each block also
# accepts the chain's incoming transfers), counted on validator 0.
make_blocks() {
    local n=$1 start now chains
    chains=$(wallet_chains)
    # shellcheck disable=SC2086
    start=$(tips --sum "$(validator_addr 0)" $chains)
    now=$start
    while [ $((now - start)) -lt "$n" ]; do
        linera benchmark --chains 6 --duration 4s --json >/dev/null ||
            fail "linera benchmark makes blocks" "exit 0"
        chains=$(wallet_chains)
        # shellcheck disable=SC2086
        now=$(tips --sum "$(validator_addr 0)" $chains)
    done
    e2e_log "made $((now - start)) blocks on $(wc -w <<<"$chains") chains" >&2
    echo $((now - start))
}
# Waits until every validator has every chain at the same height and tip; prints the time.
wait_caught_up() {
    local bound=$1 t0=$SECONDS chains
    chains=$(wallet_chains)
    # shellcheck disable=SC2086
    until tips --same "$(all_addrs)" $chains 2>/dev/null; do
        if [ $((SECONDS - t0)) -ge "$bound" ]; then
            # shellcheck disable=SC2086
            fail "validator 3 catches up within $bound s" "same height and tip everywhere" \
                "$(tips "$(all_addrs)" $chains | cut -c1-200)"
        fi
        sleep 0.2
    done
    echo $((SECONDS - t0))
}

# =========================================================================================
section "a. exporters serve and hear of new blocks"
net_up --validators 4 --shards 2 --proxies 1 --with-block-exporter
for v in 0 1 2 3; do
    n=$("$PY" -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["internal_network"]["block_exporters"]))' \
        "$NET_DIR/server_$v.json")
    assert_eq "server_$v.json lists its block exporter" 1 "$n"
    health_ok "$(exporter_service "$v")" || fail "exporter $v answers its gRPC health check"
    code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "http://$(exporter_metrics "$v")/health")
    assert_eq "exporter $v: /health" 200 "$code"
done
ok "every validator lists and runs its exporter"
curl -s --max-time 5 "http://$(exporter_metrics 0)/metrics" >"$NET_DIR/exporter-metrics.txt"
if out=$(promtool check metrics <"$NET_DIR/exporter-metrics.txt" 2>&1); then
    ok "the exporter's /metrics passes promtool check metrics"
else
    fail "the exporter's /metrics passes promtool check metrics" "no finding" "$out"
fi
read -r -a CH <<<"$(wallet_chains)"
linera transfer 1 --from "${CH[1]}" --to "${CH[2]}" >/dev/null
deadline=$((SECONDS + 30))
until [ "$(metric 0 linera_exporter_notifications_total)" -ge 1 ]; do
    [ "$SECONDS" -ge "$deadline" ] && fail "exporter 0 is notified of the new block" ">= 1" \
        "$(metric 0 linera_exporter_notifications_total)"
    sleep 0.2
done
ok "the shards' NewBlock notification reached exporter 0"
# A block every validator gets from the client: the exporter asks and sends nothing. (Its
# view is checked after a restart, so that it cannot race the client's own delivery.)
proc_kill validator_0_exporter_0 TERM
linera transfer 1 --from "${CH[1]}" --to "${CH[2]}" >/dev/null
deadline=$((SECONDS + 30))
until tips --same "$(all_addrs)" "${CH[1]}" 2>/dev/null; do
    [ "$SECONDS" -ge "$deadline" ] && fail "every validator gets the block from the client"
    sleep 0.1
done
proc_restart validator_0_exporter_0
for v in 1 2 3; do
    deadline=$((SECONDS + 30))
    until [ "$(metric 0 linera_exporter_queries_total "grpc:$(validator_addr "$v")")" -ge 1 ]; do
        [ "$SECONDS" -ge "$deadline" ] && fail "exporter 0 asks validator $v where the chain stands"
        sleep 0.1
    done
done
ok "after a restart exporter 0 asked validators 1-3 where the chain stands"
for v in 1 2 3; do
    assert_eq "exporter 0 sent validator $v nothing it had" 0 "$(exported_to 0 "$v")"
done

# =========================================================================================
section "b. validator 3 down for $BLOCKS blocks, then back: only the exporter catches it up"
for v in 1 2 3; do proc_kill "validator_${v}_exporter_0" TERM; done
stop_validator 3
made=$(make_blocks "$BLOCKS") || exit 1
[ "$made" -ge "$BLOCKS" ] || fail "made $BLOCKS blocks" ">= $BLOCKS" "$made"
ok "made $made blocks while validator 3 was down"
chains=$(wallet_chains)
# shellcheck disable=SC2086
behind=$(tips "$(all_addrs)" $chains | awk '{ split($2, a, ":"); split($5, b, ":"); if (a[1] != b[1]) n++ } END { print n + 0 }')
[ "$behind" -ge 3 ] || fail "validator 3 is behind on several chains" ">= 3" "$behind"
ok "validator 3 is behind on $behind chains"
start_validator 3
took=$(wait_caught_up "$CATCHUP_BOUND_S") || exit 1
ok "validator 3 caught up on every chain (same height and tip) in $took s, no client involved"
sent=$(exported_to 0 3)
[ "$sent" -ge "$made" ] || fail "exporter 0 sent validator 3 its missing blocks" ">= $made" "$sent"
ok "exporter 0 sent validator 3 $sent certificates"
assert_eq "no certificate was refused" 0 "$(metric 0 linera_exporter_errors_total "grpc:$(validator_addr 3)\",error=\"refused")"
e2e_log "catch-up of $made blocks took $took s"

# =========================================================================================
section "c. the exporter SIGKILLed in the middle of an export, then restarted"
stop_validator 3
made=$(make_blocks $((BLOCKS / 2))) || exit 1
# shellcheck disable=SC2086
total=$(tips --sum "$(validator_addr 0)" $(wallet_chains))
before=$(exported_to 0 3)
start_validator 3
deadline=$((SECONDS + 60))
until [ "$(exported_to 0 3)" -ge $((before + 3)) ]; do
    [ "$SECONDS" -ge "$deadline" ] && fail "exporter 0 starts exporting to validator 3"
    sleep 0.05
done
proc_kill validator_0_exporter_0 KILL
chains=$(wallet_chains)
# The last certificate sent may still be in validator 3's hands: wait until it is stable.
# shellcheck disable=SC2086
h1=$(tips --sum "$(validator_addr 3)" $chains)
while sleep 0.5; do
    # shellcheck disable=SC2086
    h2=$(tips --sum "$(validator_addr 3)" $chains)
    [ "$h1" = "$h2" ] && break
    h1=$h2
done
[ "$h1" -lt "$total" ] || fail "the exporter was killed before it was done" "< $total" "$h1"
ok "killed mid-export: validator 3 at $h1 of $total blocks"
proc_restart validator_0_exporter_0
until health_ok "$(exporter_service 0)" 2>/dev/null; do
    proc_alive validator_0_exporter_0 || fail "exporter 0 restarts" "running" \
        "$(tail -5 "$NET_DIR/logs/validator_0_exporter_0.log")"
    sleep 0.2
done
took=$(wait_caught_up "$CATCHUP_BOUND_S") || exit 1
ok "after the restart validator 3 caught up again in $took s: nothing lost"
resent=$(exported_to 0 3)
needed=$((total - h1))
[ "$resent" -le $((needed + 1)) ] ||
    fail "the restarted exporter re-sends at most what was in flight" "<= $needed + 1" "$resent"
[ "$resent" -ge "$needed" ] || fail "the restarted exporter sent what was missing" ">= $needed" "$resent"
ok "the restarted exporter sent $resent certificates for the $needed validator 3 lacked"

# =========================================================================================
section "d. command line"
"$E2E_BIN/linera-exporter" --version | grep -q '^linera-exporter ' || fail "--version"
"$E2E_BIN/linera-exporter" run --help | grep -q -- '--config-path' || fail "run --help"
ok "linera-exporter --version and run --help"
printf 'id = 0\n[service_config]\nhost = "127.0.0.1"\nport = 1\n[[destination_config.destinations]]\nkind = "Indexer"\nendpoint = "x"\nport = 1\n' \
    >"$NET_DIR/indexer.toml"
out=$("$E2E_BIN/linera-exporter" run --config-path "$NET_DIR/indexer.toml" \
    --storage "rocksdb:$NET_DIR/validator_0" 2>&1) && rc=0 || rc=$?
assert_eq "an Indexer destination is refused (usage error)" 2 "$rc"
grep -q "Indexer destinations are not supported" <<<"$out" || fail "the refusal says why" "" "$out"
out=$("$E2E_BIN/linera-exporter" run --config-path "$(exporter_toml 0)" --storage memory: 2>&1) &&
    rc=0 || rc=$?
assert_eq "memory storage is refused" 2 "$rc"
out=$("$E2E_BIN/linera-exporter" run --storage "rocksdb:$NET_DIR/validator_0" 2>&1) && rc=0 || rc=$?
assert_eq "run without --config-path is a usage error" 2 "$rc"

# =========================================================================================
section "stop"
net_stop_checked

printf '# total time %d s\n' "$((SECONDS - E2E_START))"
printf '%d passed, %d failed\n' "$PASSED" "$FAILED"
