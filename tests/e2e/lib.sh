# shellcheck shell=bash
# Helpers of the end-to-end tests: a `linera net up` network in the background, its
# processes (kill, restart), assertions, retries and a cleanup that leaves nothing behind.
#
# Source it from a bash script, then call e2e_init BIN_DIR. Settings (environment):
#   KEEP_NET=1      keep the network directory (logs, storage) after the run
#   E2E_VERBOSE=1   echo every linera command
#   E2E_HOLD=1      on a failure, keep the network running until the test is interrupted
#                   (Ctrl-C or SIGTERM), to inspect it with the exported LINERA_* settings
#
# Variables set: E2E_BIN (binaries), E2E_ROOT (repository), NET_DIR, NET_PID, LINERA_WALLET,
# LINERA_KEYSTORE, LINERA_STORAGE, PASSED, FAILED.

E2E_LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
E2E_ROOT=$(cd "$E2E_LIB_DIR/../.." && pwd)
PY=/usr/bin/python3
PASSED=0
FAILED=0
NET_PID=
NET_DIR=
E2E_START=$SECONDS
declare -A CUR_PID=()   # process name -> current pid
declare -A CMDLINE=()   # process name -> its command line (one string, no quoting needed)
RESTARTED_PIDS=()       # pids of the processes we started ourselves

e2e_log() { printf '# %s %s\n' "$(date -u +%T.%3N)" "$*"; }

# ---- results ----

ok() {
    PASSED=$((PASSED + 1))
    printf 'ok - %s\n' "$*"
}

# Prints the failure (and what was expected and seen, if given), then exits: the EXIT trap
# cleans up.
fail() {
    FAILED=$((FAILED + 1))
    printf 'not ok - %s\n' "$1" >&2
    [ $# -ge 2 ] && printf '  expected: %s\n' "$2" >&2
    [ $# -ge 3 ] && printf '  seen:     %s\n' "$3" >&2
    printf '%d passed, %d failed\n' "$PASSED" "$FAILED"
    if [ "${E2E_HOLD:-}" = 1 ] && [ -n "$NET_DIR" ]; then
        printf '# E2E_HOLD=1: network kept running; interrupt to stop. Client settings:\n' >&2
        printf 'export LINERA_WALLET=%q LINERA_KEYSTORE=%q LINERA_STORAGE=%q\n' \
            "${LINERA_WALLET:-}" "${LINERA_KEYSTORE:-}" "${LINERA_STORAGE:-}" >&2
        sleep 3600 &
        wait $! || true
    fi
    exit 1
}

assert_eq() { # DESCRIPTION EXPECTED SEEN
    if [ "$2" == "$3" ]; then ok "$1"; else fail "$1" "'$2'" "'$3'"; fi
}

# Runs a command that must succeed; its stdout is printed on our stdout (capture it).
must() {
    local out err rc
    err=$(mktemp)
    [ -n "${E2E_VERBOSE:-}" ] && printf '+ %s\n' "$*" >&2
    out=$("$@" 2>"$err") && rc=0 || rc=$?
    if [ "$rc" -ne 0 ]; then
        printf 'command failed (exit %d): %s\n' "$rc" "$*" >&2
        sed 's/^/  stderr: /' "$err" >&2
        [ -n "$out" ] && printf '  stdout: %s\n' "$out" >&2
        rm -f "$err"
        return "$rc"
    fi
    rm -f "$err"
    printf '%s' "$out"
    [ -n "$out" ] && printf '\n'
    return 0
}

# retry N CMD...: runs CMD up to N times (1 s apart) until it succeeds; for commands that
# may need a second try right after a fault. Each failed attempt is reported on stderr.
retry() {
    local n=$1 i out rc
    shift
    for ((i = 1; i <= n; i++)); do
        out=$(must "$@") && rc=0 || rc=$?
        if [ "$rc" -eq 0 ]; then
            [ -n "$out" ] && printf '%s\n' "$out"
            return 0
        fi
        [ "$i" -lt "$n" ] && printf '# attempt %d/%d failed (exit %d), retrying: %s\n' \
            "$i" "$n" "$rc" "$*" >&2 && sleep 1
    done
    return "$rc"
}

# check DESCRIPTION CMD...: CMD must succeed.
check() {
    local what=$1 out
    shift
    out=$(must "$@" 2>&1) || fail "$what" "command succeeds: $*" "$out"
    ok "$what"
}

linera() { must "$E2E_BIN/linera" "$@"; }

# ---- the network ----

# e2e_init BIN_DIR: checks the binaries and installs the cleanup trap.
e2e_init() {
    E2E_BIN=$(cd "${1:?usage: $0 BIN_DIR}" && pwd) || exit 2
    for b in linera linera-server linera-proxy; do
        [ -x "$E2E_BIN/$b" ] || { echo "no $b in $E2E_BIN" >&2; exit 2; }
    done
    [ -x "$PY" ] || { echo "$PY not found" >&2; exit 2; }
    "$PY" -c 'import grpc, grpc_tools' 2>/dev/null ||
        { echo "$PY cannot import grpc and grpc_tools (scripts/deps.sh)" >&2; exit 2; }
    trap e2e_cleanup EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
}

# net_up ARGS...: starts `linera net up ARGS --path DIR` in the background with a fresh DIR,
# waits (120 s at most) for its three export lines and evaluates them.
net_up() {
    local base=${TMPDIR:-$E2E_BIN}
    NET_DIR=$(mktemp -d "$base/e2e-net.XXXXXX") || fail "mktemp in $base"
    case $NET_DIR in *[[:space:]]*) fail "network directory without spaces" "" "$NET_DIR" ;; esac
    e2e_log "network directory: $NET_DIR"
    : >"$NET_DIR/net-up.out"
    "$E2E_BIN/linera" net up "$@" --path "$NET_DIR" >"$NET_DIR/net-up.out" \
        2>"$NET_DIR/net-up.err" &
    NET_PID=$!
    local deadline=$((SECONDS + 120)) n
    while n=$(grep -c '^export LINERA_' "$NET_DIR/net-up.out" 2>/dev/null); [ "${n:-0}" -lt 3 ]; do
        if ! kill -0 "$NET_PID" 2>/dev/null; then
            wait "$NET_PID"
            local rc=$?
            NET_PID=
            fail "linera net up starts" "three export lines" \
                "exit $rc: $(tail -20 "$NET_DIR/net-up.err")"
        fi
        [ "$SECONDS" -ge "$deadline" ] &&
            fail "linera net up starts within 120 s" "three export lines" \
                "$(cat "$NET_DIR/net-up.out") $(tail -5 "$NET_DIR/net-up.err")"
        sleep 0.2
    done
    eval "$(grep '^export LINERA_' "$NET_DIR/net-up.out")"
    local name pid rest
    while read -r name pid rest; do
        CUR_PID[$name]=$pid
        CMDLINE[$name]=$rest
    done <"$NET_DIR/processes.txt"
    e2e_log "network up in $((SECONDS - E2E_START)) s: ${#CUR_PID[@]} processes"
}

# Names of the processes, in the order of processes.txt, matching a pattern.
proc_names() { awk -v re="${1:-.}" '$1 ~ re { print $1 }' "$NET_DIR/processes.txt"; }
proc_pid() { echo "${CUR_PID[$1]:?unknown process $1}"; }
proc_cmd() { echo "${CMDLINE[$1]:?unknown process $1}"; }
# A pid runs (a zombie does not: net up reaps its children only when it stops).
pid_alive() {
    local state
    state=$(awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null) || return 1
    [ -n "$state" ] && [ "$state" != Z ] && [ "$state" != X ]
}
proc_alive() { pid_alive "${CUR_PID[$1]}"; }

# Waits until pid is gone (N seconds at most); returns 1 if it is still there.
wait_gone() {
    local pid=$1 deadline=$((SECONDS + ${2:-15}))
    while pid_alive "$pid"; do
        [ "$SECONDS" -ge "$deadline" ] && return 1
        sleep 0.1
    done
    return 0
}

# proc_kill NAME [SIGNAL]: sends SIGNAL (default KILL) and waits until the process is gone.
proc_kill() {
    local name=$1 sig=${2:-KILL} pid
    pid=$(proc_pid "$name")
    kill -s "$sig" "$pid" 2>/dev/null || fail "kill -$sig $name (pid $pid)" "a live process"
    wait_gone "$pid" 20 || fail "$name (pid $pid) exits after SIG$sig" "gone within 20 s" \
        "still running"
    e2e_log "$name (pid $pid) stopped with SIG$sig"
}

# proc_restart NAME: re-runs the process's exact command line in the background, appending
# to its log; the new pid is remembered (killed at the end).
proc_restart() {
    local name=$1 log cmd
    log="$NET_DIR/logs/$name.log"
    cmd=$(proc_cmd "$name")
    printf '=== restarted by the e2e test at %s ===\n' "$(date +%T)" >>"$log"
    # shellcheck disable=SC2086 # the registry's command line is space-separated words
    $cmd >>"$log" 2>&1 </dev/null &
    CUR_PID[$name]=$!
    RESTARTED_PIDS+=("$!")
    echo "$name $! $cmd" >>"$NET_DIR/restarted.txt"
    e2e_log "$name restarted (pid $!)"
}

# Health port of a process: a shard's internal port, a proxy's private port.
proc_health_addr() {
    local name=$1 v kind i
    v=$(sed -E 's/^validator_([0-9]+)_.*/\1/' <<<"$name")
    kind=$(sed -E 's/^validator_[0-9]+_(shard|proxy)_[0-9]+$/\1/' <<<"$name")
    i=${name##*_}
    "$PY" - "$NET_DIR/server_$v.json" "$kind" "$i" <<'EOF'
import json, sys
c = json.load(open(sys.argv[1]))["internal_network"]
i = int(sys.argv[3])
print("127.0.0.1:%d" % (c["shards"][i]["port"] if sys.argv[2] == "shard"
                        else c["proxies"][i]["private_port"]))
EOF
}

# health_ok ADDR...: each answers grpc.health.v1.Health/Check with SERVING.
health_ok() {
    "$PY" - "$@" <<'EOF'
import sys, grpc
for addr in sys.argv[1:]:
    with grpc.insecure_channel(addr) as ch:
        f = ch.unary_unary("/grpc.health.v1.Health/Check", request_serializer=None,
                           response_deserializer=None)
        try:
            r = f(b"", timeout=2)
        except grpc.RpcError as e:
            sys.exit("%s: %s" % (addr, e.code()))
        if r != b"\x08\x01":
            sys.exit("%s: %r" % (addr, r))
EOF
}

# wait_healthy NAME...: waits (60 s at most) until every named process answers its health
# check; fails if one of them exits.
wait_healthy() {
    local name addr deadline=$((SECONDS + 60))
    for name in "$@"; do
        addr=$(proc_health_addr "$name")
        until health_ok "$addr" 2>/dev/null; do
            proc_alive "$name" || fail "$name stays up after its restart" "running" \
                "exited: $(tail -5 "$NET_DIR/logs/$name.log")"
            [ "$SECONDS" -ge "$deadline" ] && fail "$name healthy within 60 s" "SERVING" \
                "$(health_ok "$addr" 2>&1)"
            sleep 0.2
        done
    done
}

# The public address (host:port) of validator V, and its shard addresses.
validator_addr() {
    "$PY" -c 'import json,sys; print("127.0.0.1:%d" % json.load(open(sys.argv[1]))["validator"]["network"]["port"])' \
        "$NET_DIR/server_$1.json"
}
shard_addrs() {
    "$PY" -c 'import json,sys; print(" ".join("127.0.0.1:%d" % s["port"] for s in json.load(open(sys.argv[1]))["internal_network"]["shards"]))' \
        "$NET_DIR/server_$1.json"
}
n_validators() { ls "$NET_DIR"/server_*.json | wc -l; }

# net_stop_checked: SIGTERM to `linera net up` (which stops what it started) and to the
# processes the test restarted; checks that net up exits 0, that nothing of the network is
# left and that no log holds a sanitizer report.
net_stop_checked() {
    local rc pid reports
    kill -TERM "$NET_PID"
    wait "$NET_PID"
    rc=$?
    NET_PID=
    assert_eq "linera net up exits 0 on SIGTERM" 0 "$rc"
    for pid in "${RESTARTED_PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null; done
    for pid in "${RESTARTED_PIDS[@]}"; do
        wait_gone "$pid" 15 || fail "restarted process $pid exits on SIGTERM" "gone within 15 s" \
            "running"
    done
    assert_eq "no process of the network is left" "" "$(pids_of_net_dir)"
    reports=$(grep -lE 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:' "$NET_DIR"/logs/*.log)
    assert_eq "no sanitizer report in the logs" "" "$reports"
}

# ---- cleanup ----

# Processes whose command line mentions NET_DIR (by pid, never by name), but not us.
pids_of_net_dir() {
    local p c
    [ -n "$NET_DIR" ] || return 0
    for p in /proc/[0-9]*; do
        p=${p#/proc/}
        [ "$p" = "$$" ] || [ "$p" = "$BASHPID" ] && continue
        c=$({ tr '\0' ' ' <"/proc/$p/cmdline"; } 2>/dev/null) || continue
        [[ $c == *"$NET_DIR/"* ]] && echo "$p"
    done
    return 0
}

e2e_cleanup() {
    local rc=$? pid left
    trap - EXIT INT TERM
    if [ -n "$NET_PID" ] && kill -0 "$NET_PID" 2>/dev/null; then
        kill -TERM "$NET_PID" 2>/dev/null
        wait "$NET_PID" 2>/dev/null # net up SIGKILLs what did not stop within 10 s
    fi
    for pid in "${RESTARTED_PIDS[@]}"; do
        kill -TERM "$pid" 2>/dev/null
    done
    for pid in "${RESTARTED_PIDS[@]}"; do
        wait_gone "$pid" 10 || kill -KILL "$pid" 2>/dev/null
    done
    left=$(pids_of_net_dir)
    if [ -n "$left" ]; then
        echo "# cleanup: killing leftover processes: $left" >&2
        # shellcheck disable=SC2086
        kill -KILL $left 2>/dev/null
        sleep 0.5
    fi
    if [ -n "$NET_DIR" ] && [ -d "$NET_DIR" ]; then
        if [ "$rc" -ne 0 ]; then
            echo "# failure: the last lines of the server logs (KEEP_NET=1 keeps $NET_DIR):" >&2
            for f in "$NET_DIR"/logs/*.log; do
                echo "## $(basename "$f")" >&2
                tail -n 4 "$f" >&2
            done
            tail -n 5 "$NET_DIR/net-up.err" >&2
        fi
        if [ "${KEEP_NET:-}" = 1 ]; then
            echo "# KEEP_NET=1: kept $NET_DIR" >&2
        else
            rm -rf "$NET_DIR"
        fi
    fi
    exit "$rc"
}
