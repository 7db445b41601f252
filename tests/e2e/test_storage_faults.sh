#!/usr/bin/env bash
# A shard process (linera-server) whose storage is on a disk of its own that fills up or
# turns read-only: it must log the error, answer UNAVAILABLE, report 503 on /health and
# NOT_SERVING on gRPC health while the fault lasts, recover by itself when it is gone (no
# restart, nothing lost), and, started on a full or read-only disk, keep retrying with
# backoff instead of aborting.
#
# The disk is a tmpfs mounted over the validator's storage directory, which needs root
# (CAP_SYS_ADMIN): without it the test says so and exits 0 (CI runs as root).
# Usage: test_storage_faults.sh BIN_DIR
set -uo pipefail
. "$(dirname "$0")/lib.sh"
e2e_init "${1:-}"

if [ "$(id -u)" -ne 0 ]; then
    echo "# SKIP: test_storage_faults.sh needs root to mount a tmpfs (CI runs as root)"
    exit 0
fi

# The shard's free-space reserve (MC_STORAGE_MIN_FREE_BYTES, src/base/limits.h) plus room.
RESERVE_MB=64
# RocksDB preallocates its WAL (about 70 MB at the default 64 MiB memtable).
DISK_MB=$((RESERVE_MB + 160))
DISK=
trap 'rc=$?; [ -n "$DISK" ] && umount -l "$DISK" 2>/dev/null; (exit $rc); e2e_cleanup' EXIT

net_up --validators 1 --shards 1 --proxies 1 --storage rocksdb
SHARD=validator_0_shard_0
DISK="$NET_DIR/validator_0"

metrics_port() { # shard|proxy INDEX
    "$PY" - "$NET_DIR/server_0.json" "$1" "$2" <<'EOF'
import json, sys
n = json.load(open(sys.argv[1]))["internal_network"]
print((n["shards"] if sys.argv[2] == "shard" else n["proxies"])[int(sys.argv[3])]["metrics_port"])
EOF
}
HEALTH="http://127.0.0.1:$(metrics_port shard 0)/health"
SHARD_ADDR=$(proc_health_addr "$SHARD")
health_code() { curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$HEALTH"; }
health_body() { curl -s --max-time 5 "$HEALTH"; }
wait_for() { # DESCRIPTION SECONDS COMMAND...: until COMMAND succeeds
    local what=$1 deadline=$((SECONDS + $2))
    shift 2
    until "$@"; do
        [ "$SECONDS" -ge "$deadline" ] && fail "$what"
        sleep 0.2
    done
}
code_is() { [ "$(health_code)" = "$1" ]; }
grpc_not_serving() { ! health_ok "$SHARD_ADDR" 2>/dev/null; }
fill() { # leaves KB kilobytes free on the disk
    local free_kb
    free_kb=$(df -k --output=avail "$DISK" | tail -1)
    [ "$free_kb" -gt "$1" ] || return 0
    fallocate -l "$(((free_kb - $1) * 1024))" "$DISK/filler" || dd if=/dev/zero \
        of="$DISK/filler" bs=1k count=$((free_kb - $1)) status=none
}
unfill() { rm -f "$DISK/filler"; }
shard_log() { cat "$NET_DIR/logs/$SHARD.log"; }

read -r _ A B _ < <(linera wallet show --json | "$PY" -c \
    'import json,sys; print(" ".join(c["chain_id"] for c in json.load(sys.stdin)["chains"]))')
[ -n "$B" ] || fail "two chains in the wallet"

# ---- the shard's storage moves onto a tmpfs of its own ----
proc_kill "$SHARD" TERM
cp -a "$DISK" "$NET_DIR/storage-copy" || fail "copy the shard's storage"
mount -t tmpfs -o "size=${DISK_MB}m" tmpfs "$DISK" || fail "mount a tmpfs over $DISK"
cp -a "$NET_DIR/storage-copy/." "$DISK/" || fail "copy the storage onto the tmpfs"
proc_restart "$SHARD"
wait_healthy "$SHARD"
linera transfer 1 --from "$A" --to "$B" >/dev/null || fail "a transfer with storage on the tmpfs"
ok "the shard serves from its tmpfs"

# ---- the disk fills up while the shard runs ----
fill $((RESERVE_MB * 1024 / 2))
if "$E2E_BIN/linera" transfer 2 --from "$A" --to "$B" >"$NET_DIR/full.out" 2>&1; then
    fail "a transfer fails while the validator's disk is full" "exit 1" "exit 0"
fi
ok "a transfer fails while the validator's disk is full: $(tail -1 "$NET_DIR/full.out")"
assert_eq "/health is 503 while the disk is full" 503 "$(health_code)"
grep -q "storage" <<<"$(health_body)" || fail "/health names the storage" "storage: ..." "$(health_body)"
ok "/health says why: $(health_body)"
wait_for "gRPC health is NOT_SERVING while the disk is full" 10 grpc_not_serving
ok "gRPC health is NOT_SERVING while the disk is full"
grep -q "ERROR shard: storage failing" <<<"$(shard_log)" ||
    fail "the storage error is logged at ERROR" "ERROR shard: storage failing" "$(tail -3 "$NET_DIR/logs/$SHARD.log")"
ok "the storage error is logged at ERROR"

unfill
wait_for "/health returns to 200 once space is back (no restart)" 30 code_is 200
proc_alive "$SHARD" || fail "the shard was not restarted" "running" "exited"
ok "/health returns to 200 by itself once space is back"
wait_healthy "$SHARD"
ok "gRPC health is SERVING again"
linera transfer 2 --from "$A" --to "$B" >/dev/null || fail "a transfer after the recovery"
linera process-inbox "$B" >/dev/null || fail "process-inbox after the recovery"
assert_eq "nothing was lost: B got 1 + 2" 1003 "$(linera query-balance "$B")"

# ---- started on a full disk: retries, never aborts ----
proc_kill "$SHARD" TERM
fill 0
proc_restart "$SHARD"
wait_for "a shard started on a full disk reports 503 on /health" 30 code_is 503
grep -q "storage" <<<"$(health_body)" || fail "/health names the storage" "storage: ..." "$(health_body)"
wait_for "it retries with backoff" 30 grep -q "storage not ready" "$NET_DIR/logs/$SHARD.log"
proc_alive "$SHARD" || fail "a shard started on a full disk keeps running" "running" \
    "exited: $(tail -3 "$NET_DIR/logs/$SHARD.log")"
ok "started on a full disk, the shard retries (/health: $(health_body))"
unfill
wait_healthy "$SHARD"
ok "once space is back it serves"

# ---- started on a read-only disk: the same ----
proc_kill "$SHARD" TERM
mount -o remount,ro "$DISK" || fail "remount the tmpfs read-only"
proc_restart "$SHARD"
wait_for "a shard started on a read-only disk reports 503 on /health" 30 code_is 503
proc_alive "$SHARD" || fail "a shard started on a read-only disk keeps running" "running" \
    "exited: $(tail -3 "$NET_DIR/logs/$SHARD.log")"
ok "started on a read-only disk, the shard retries (/health: $(health_body))"
mount -o remount,rw "$DISK" || fail "remount the tmpfs read-write"
wait_healthy "$SHARD"
linera transfer 3 --from "$A" --to "$B" >/dev/null || fail "a transfer after the read-only disk"
ok "once the disk is writable again it serves"

grep -q "AddressSanitizer\|runtime error\|Assertion" "$NET_DIR/logs/$SHARD.log" &&
    fail "no sanitizer report or assertion in the shard's log" "none" \
        "$(grep -m3 "AddressSanitizer\|runtime error\|Assertion" "$NET_DIR/logs/$SHARD.log")"
printf '%d passed, %d failed\n' "$PASSED" "$FAILED"
