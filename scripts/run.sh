#!/usr/bin/env bash
# The main job: builds everything (installing missing Debian packages), starts a local
# network (4 validators x 2 shards x 1 proxy on RocksDB, real processes on loopback ports),
# makes a transfer between two chains, prints both balances and the endpoints, and leaves
# the network running until Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/deps.sh
BUILD=${BUILD_DIR:-build-release}
cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$BUILD" -j"$(nproc)" --target linera linera-server linera-proxy >/dev/null
BIN=$(cd "$BUILD" && pwd)
NET_DIR=${NET_DIR:-$(mktemp -d /tmp/linera-net-XXXXXX)}
OUT="$NET_DIR/net-up.out"

"$BIN/linera" net up --validators 4 --shards 2 --proxies 1 --storage rocksdb --path "$NET_DIR" "$@" \
    >"$OUT" 2>"$NET_DIR/net-up.err" &
NET_PID=$!
trap 'kill -TERM $NET_PID 2>/dev/null; wait $NET_PID 2>/dev/null || true' EXIT
trap 'echo; echo "stopping the network..."; exit 0' INT TERM

for _ in $(seq 1 240); do
    if [ "$(grep -c '^export ' "$OUT" 2>/dev/null)" -ge 3 ]; then break; fi
    if ! kill -0 $NET_PID 2>/dev/null; then
        echo "error: the network failed to start:"; cat "$NET_DIR/net-up.err"; exit 1
    fi
    sleep 0.5
done
eval "$(grep '^export ' "$OUT")"
cat "$OUT"

LINERA="$BIN/linera"
CHAINS=($("$LINERA" wallet show --json | /usr/bin/python3 -c \
    'import json,sys; print(" ".join(c["chain_id"] for c in json.load(sys.stdin)["chains"]))'))
FROM=${CHAINS[1]}
TO=${CHAINS[2]}
echo
echo "transferring 2.5 from chain ${FROM:0:16}... to chain ${TO:0:16}..."
"$LINERA" transfer 2.5 --from "$FROM" --to "$TO"
"$LINERA" process-inbox "$TO"
echo "balance of ${FROM:0:16}...: $("$LINERA" query-balance "$FROM")"
echo "balance of ${TO:0:16}...: $("$LINERA" query-balance "$TO")"
echo
echo "validators:"
"$LINERA" query-validators "$FROM"
echo
echo "The network keeps running. In another shell, run the 'export' lines above and use"
echo "  $LINERA wallet show | transfer | query-balance | open-chain ... (--help for more)"
echo "Press Ctrl-C to stop it."
wait $NET_PID
