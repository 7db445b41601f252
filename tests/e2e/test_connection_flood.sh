#!/usr/bin/env bash
# A flood of idle connections to a proxy's public port (connection_flood.py): the proxy
# keeps serving, closes them after its idle timeout (--max-connection-idle-ms) and gives the
# memory back. Prints the proxy's RSS before, at the peak and after (docs/PERFORMANCE.md
# records a Release build's figures); with a build without sanitizers it also checks that
# the RSS comes back down (a sanitizer's allocator keeps freed memory in quarantine).
# Usage: test_connection_flood.sh BIN_DIR   (FLOOD_CONNECTIONS, default 2000)
set -uo pipefail
. "$(dirname "$0")/lib.sh"
e2e_init "${1:-}"
N=${FLOOD_CONNECTIONS:-2000}
IDLE_MS=2000
ulimit -n $((N + 1024)) 2>/dev/null || true

net_up --validators 1 --shards 1 --proxies 1 --storage memory
PROXY=validator_0_proxy_0
read -r _ A _ < <(linera wallet show --json | "$PY" -c \
    'import json,sys; print(" ".join(c["chain_id"] for c in json.load(sys.stdin)["chains"]))')

# The proxy again, with a short idle timeout.
proc_kill "$PROXY" TERM
CMDLINE[$PROXY]="${CMDLINE[$PROXY]} --max-connection-idle-ms $IDLE_MS"
proc_restart "$PROXY"
wait_healthy "$PROXY"
PORT=$("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["validator"]["network"]["port"])' \
    "$NET_DIR/server_0.json")
rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$(proc_pid "$PROXY")/status"; }
max_rss=0
track() { local r; r=$(rss_kb); [ "${r:-0}" -gt "$max_rss" ] && max_rss=$r; }

BASE=$(rss_kb)
"$PY" "$E2E_LIB_DIR/connection_flood.py" 127.0.0.1 "$PORT" "$N" 60 >"$NET_DIR/flood.out" 2>&1 &
FLOOD=$!
until grep -q '^open\|failed' "$NET_DIR/flood.out" || ! kill -0 "$FLOOD" 2>/dev/null; do
    track
    sleep 0.1
done
track
grep -q '^open' "$NET_DIR/flood.out" || fail "$N connections open" "open $N" "$(cat "$NET_DIR/flood.out")"
ok "$N idle connections open"
linera query-balance "$A" >/dev/null || fail "the proxy serves during the flood"
ok "the proxy serves during the flood"
while kill -0 "$FLOOD" 2>/dev/null; do
    track
    sleep 0.2
done
wait "$FLOOD" || fail "the proxy closes idle connections after ${IDLE_MS} ms" \
    "closed $N of $N" "$(tail -1 "$NET_DIR/flood.out")"
ok "the proxy closed every idle connection ($(tail -1 "$NET_DIR/flood.out"))"
# Freed memory goes back every MC_MEMORY_TRIM_INTERVAL_MS (10 s).
sleep_until=$((SECONDS + 12))
while [ "$SECONDS" -lt "$sleep_until" ]; do sleep 1; done
AFTER=$(rss_kb)
e2e_log "proxy RSS with $N idle connections: ${BASE} kB before, ${max_rss} kB at the peak, ${AFTER} kB 12 s after they closed"
if ldd "$E2E_BIN/linera-proxy" | grep -q libasan; then
    e2e_log "sanitizer build: RSS figures not checked"
else
    [ "$AFTER" -lt $((BASE + (max_rss - BASE) / 2)) ] ||
        fail "the proxy gives back most of the flood's memory" "under half the peak growth" \
            "${BASE} -> ${max_rss} -> ${AFTER} kB"
    ok "the proxy gave back most of the flood's memory (${BASE} -> ${max_rss} -> ${AFTER} kB)"
fi
linera query-balance "$A" >/dev/null || fail "the proxy serves after the flood"
ok "the proxy serves after the flood"
printf '%d passed, %d failed\n' "$PASSED" "$FAILED"
