#!/usr/bin/env bash
# Observability and lifecycle of a running local network (real processes):
#  - the /metrics exposition of a shard and a proxy passes `promtool check metrics` (the only
#    findings allowed are the two naming lints on the reference's counter names, see
#    src/metrics/metrics.h);
#  - a real Prometheus server scrapes every process, and its query API shows request counts
#    that grew after a transfer;
#  - a proxy's /health turns 503 when its shards are stopped and 200 when they return;
#  - SIGTERM to shards during a load of transfers loses no acknowledged transfer.
# Usage: test_observability.sh BIN_DIR
set -uo pipefail
. "$(dirname "$0")/lib.sh"
e2e_init "${1:-}"
command -v promtool >/dev/null || fail "promtool is installed (scripts/deps.sh installs prometheus)"
command -v prometheus >/dev/null || fail "prometheus is installed (scripts/deps.sh)"

net_up --validators 4 --shards 2 --proxies 1 --storage rocksdb
PROM_PID=

metrics_port() { # VALIDATOR shard|proxy INDEX
    "$PY" - "$NET_DIR/server_$1.json" "$2" "$3" <<'EOF'
import json, sys
n = json.load(open(sys.argv[1]))["internal_network"]
print((n["shards"] if sys.argv[2] == "shard" else n["proxies"])[int(sys.argv[3])]["metrics_port"])
EOF
}

http_code() { curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$1"; }

# promtool must exit 0, or 3 with only the allowed naming lints on linera_ counters.
promtool_ok() { # WHAT FILE
    local out rc bad
    out=$(promtool check metrics <"$2" 2>&1) && rc=0 || rc=$?
    if [ "$rc" -eq 3 ]; then
        bad=$(grep -v -E '^linera_[a-z_]+ (counter metrics should have "_total" suffix|non-histogram and non-summary metrics should not have "_count" suffix)$' <<<"$out" || true)
        [ -z "$bad" ] && rc=0 || out=$bad
    fi
    [ "$rc" -eq 0 ] || fail "$1 passes promtool check metrics" "exit 0" "exit $rc: $out"
    ok "$1 passes promtool check metrics"
}

CHAINS=$(linera wallet show --json | "$PY" -c 'import json,sys; print(" ".join(c["chain_id"] for c in json.load(sys.stdin)["chains"]))') ||
    fail "wallet show"
read -r _ A B _ <<<"$CHAINS"

# ---- 1. promtool on a shard and a proxy ----
linera transfer 1 --from "$A" --to "$B" >/dev/null || fail "a first transfer"
SHARD_MP=$(metrics_port 0 shard 0)
PROXY_MP=$(metrics_port 0 proxy 0)
curl -sf --max-time 5 "http://127.0.0.1:$SHARD_MP/metrics" >"$NET_DIR/shard.prom" ||
    fail "GET /metrics on shard 0 of validator 0"
curl -sf --max-time 5 "http://127.0.0.1:$PROXY_MP/metrics" >"$NET_DIR/proxy.prom" ||
    fail "GET /metrics on proxy 0 of validator 0"
grep -q '^linera_server_request_count{' "$NET_DIR/shard.prom" ||
    fail "shard exposes linera_server_request_count"
grep -q '^linera_proxy_request_latency_bucket{' "$NET_DIR/proxy.prom" ||
    fail "proxy exposes linera_proxy_request_latency"
grep -q '^process_resident_memory_bytes ' "$NET_DIR/shard.prom" ||
    fail "shard exposes process metrics"
promtool_ok "shard exposition" "$NET_DIR/shard.prom"
promtool_ok "proxy exposition" "$NET_DIR/proxy.prom"

# ---- 2. a real Prometheus server ----
PROM_PORT=$("$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
{
    echo "global: {scrape_interval: 1s, scrape_timeout: 1s}"
    echo "scrape_configs:"
    echo "  - job_name: linera"
    echo "    static_configs:"
    echo "      - targets:"
    for f in "$NET_DIR"/server_*.json; do
        "$PY" - "$f" <<'EOF'
import json, sys
n = json.load(open(sys.argv[1]))["internal_network"]
for e in n["shards"] + n["proxies"]:
    print("          - 127.0.0.1:%d" % e["metrics_port"])
EOF
    done
} >"$NET_DIR/prometheus.yml"
promtool check config "$NET_DIR/prometheus.yml" >/dev/null 2>&1 || fail "prometheus config is valid"
prometheus --config.file="$NET_DIR/prometheus.yml" --storage.tsdb.path="$NET_DIR/prom-data" \
    --web.listen-address="127.0.0.1:$PROM_PORT" >"$NET_DIR/logs/prometheus.log" 2>&1 &
PROM_PID=$!
RESTARTED_PIDS+=("$PROM_PID")

prom_query() { # PROMQL -> the value of the first series, or empty
    curl -s --max-time 5 "http://127.0.0.1:$PROM_PORT/api/v1/query" --data-urlencode "query=$1" |
        "$PY" -c 'import json,sys
try:
    r = json.load(sys.stdin)["data"]["result"]
    print(r[0]["value"][1] if r else "")
except Exception:
    print("")'
}

wait_for() { # DESCRIPTION SECONDS COMMAND... : until COMMAND succeeds
    local what=$1 deadline=$((SECONDS + $2))
    shift 2
    until "$@"; do
        [ "$SECONDS" -ge "$deadline" ] && fail "$what"
        sleep 0.5
    done
}

targets_up() {
    local up
    up=$(prom_query 'count(up == 1)')
    [ "${up:-0}" = "$(grep -c '127.0.0.1' "$NET_DIR/prometheus.yml")" ]
}
wait_for "Prometheus scrapes every shard and proxy" 60 targets_up
ok "Prometheus scrapes every shard and proxy"

total_requests() { prom_query 'sum(linera_server_request_count)'; }
proxy_requests() { prom_query 'sum(linera_proxy_request_count)'; }
BEFORE=$(total_requests)
PBEFORE=$(proxy_requests)
[ -n "$BEFORE" ] || fail "Prometheus returns linera_server_request_count"
for amount in 1 2 3; do
    linera transfer "$amount" --from "$A" --to "$B" >/dev/null || fail "transfer $amount"
done
grew() {
    local now pnow
    now=$(total_requests)
    pnow=$(proxy_requests)
    "$PY" -c 'import sys; sys.exit(0 if float(sys.argv[1]) > float(sys.argv[2]) and float(sys.argv[3]) > float(sys.argv[4]) else 1)' \
        "${now:-0}" "$BEFORE" "${pnow:-0}" "${PBEFORE:-0}"
}
wait_for "request counts in Prometheus grow after transfers (before: $BEFORE)" 30 grew
ok "Prometheus shows request counts that grew after transfers ($BEFORE -> $(total_requests))"

# ---- 3. /health of a proxy follows its shards ----
PROXY_HEALTH="http://127.0.0.1:$(metrics_port 2 proxy 0)/health"
assert_eq "proxy /health is 200 with its shards up" 200 "$(http_code "$PROXY_HEALTH")"
for s in $(proc_names '^validator_2_shard_'); do proc_kill "$s" TERM; done
health_is() { [ "$(http_code "$PROXY_HEALTH")" = "$1" ]; }
wait_for "proxy /health turns 503 when its shards stop" 20 health_is 503
ok "proxy /health is 503 while its shards are stopped"
for s in $(proc_names '^validator_2_shard_'); do proc_restart "$s"; done
wait_healthy $(proc_names '^validator_2_shard_')
wait_for "proxy /health returns to 200 when its shards are back" 30 health_is 200
ok "proxy /health is back to 200 with its shards"

# ---- 4. SIGTERM during load loses no acknowledged transfer ----
bal() { linera query-balance "$1"; }
linera process-inbox "$B" >/dev/null || fail "process-inbox before the load"
A0=$(bal "$A") && B0=$(bal "$B") || fail "balances before the load"
ACKS="$NET_DIR/acks.txt"
: >"$ACKS"
(
    for i in $(seq 1 25); do
        if "$E2E_BIN/linera" transfer 0.1 --from "$A" --to "$B" >/dev/null 2>>"$NET_DIR/load.err"; then
            echo ok >>"$ACKS"
        fi
    done
) &
LOAD=$!
acks() { wc -l <"$ACKS"; }
# Progress of the load: N more acknowledged transfers, or the load is over.
acked_more() { [ "$(acks)" -ge "$1" ] || ! kill -0 "$LOAD" 2>/dev/null; }
wait_for "the load is under way" 60 acked_more 1
for s in $(proc_names '^validator_1_shard_'); do proc_kill "$s" TERM; done
# Transfers go on without validator 1 (3 of 4 are a quorum) before it comes back.
wait_for "transfers go on while validator 1 is down" 60 acked_more $(($(acks) + 1))
for s in $(proc_names '^validator_1_shard_'); do proc_restart "$s"; done
wait "$LOAD"
N=$(wc -l <"$ACKS")
[ "$N" -gt 0 ] || fail "some transfers are acknowledged during the load" ">0" "$N: $(tail -3 "$NET_DIR/load.err")"
wait_healthy $(proc_names '^validator_1_shard_')
retry 3 "$E2E_BIN/linera" process-inbox "$B" >/dev/null || fail "process-inbox after the load"
EXPECT_A=$("$PY" -c 'from decimal import Decimal as D; import sys; print(D(sys.argv[1]) - D(sys.argv[2]) * D("0.1"))' "$A0" "$N")
EXPECT_B=$("$PY" -c 'from decimal import Decimal as D; import sys; print(D(sys.argv[1]) + D(sys.argv[2]) * D("0.1"))' "$B0" "$N")
norm() { "$PY" -c 'from decimal import Decimal as D; import sys; print(D(sys.argv[1]).normalize())' "$1"; }
assert_eq "every acknowledged transfer left chain A ($N acks)" "$(norm "$EXPECT_A")" "$(norm "$(bal "$A")")"
assert_eq "every acknowledged transfer reached chain B" "$(norm "$EXPECT_B")" "$(norm "$(bal "$B")")"
# The restarted validator holds the same blocks as the others once synced (its proxy may
# need a moment to reconnect to the restarted shards).
same_heights() {
    "$E2E_BIN/linera" sync "$A" >/dev/null 2>&1
    heights=$(linera query-validators "$A" --json | "$PY" -c 'import json,sys; v=json.load(sys.stdin); print(" ".join(str(x["height"]) if x["answers"] else "down" for x in v))')
    [ "$(tr ' ' '\n' <<<"$heights" | sort -u | wc -l)" = 1 ]
}
wait_for "all validators at the same height of chain A after the restart" 30 same_heights
ok "all validators at the same height of chain A after the restart ($heights)"

printf '%d passed, %d failed\n' "$PASSED" "$FAILED"
