#!/usr/bin/env bash
# The command-line surface without a running network: `linera-server generate` from
# validator TOML files, key file permissions, committee and genesis creation, storage
# initialisation and check-existence exit codes, --help and --version everywhere, and
# one-line errors with non-zero exit codes.
# Usage: test_cli.sh BIN_DIR
set -uo pipefail
BIN=$(cd "${1:?usage: $0 BIN_DIR}" && pwd)
DIR=$(mktemp -d "${TMPDIR:-/tmp}/e2e-cli.XXXXXX")
trap 'rm -rf "$DIR"' EXIT
PASSED=0
ok() { PASSED=$((PASSED + 1)); echo "ok - $*"; }
fail() { echo "not ok - $1" >&2; [ $# -ge 2 ] && echo "  seen: $2" >&2; echo "$PASSED passed, 1 failed"; exit 1; }
expect_exit() { # DESCRIPTION CODE CMD... (stderr captured in $ERR)
    local what=$1 code=$2 rc
    shift 2
    "$@" >"$DIR/out" 2>"$DIR/err" && rc=0 || rc=$?
    ERR=$(cat "$DIR/err")
    [ "$rc" -eq "$code" ] || fail "$what (exit $code)" "exit $rc: $ERR $(head -c 300 "$DIR/out")"
    ok "$what"
}
cd "$DIR" || exit 1

# --help and --version on every binary and command.
for b in linera linera-server linera-proxy; do
    expect_exit "$b --help" 0 "$BIN/$b" --help
    expect_exit "$b --version" 0 "$BIN/$b" --version
    grep -q "$b 0\." "$DIR/out" || fail "$b --version prints a version" "$(cat "$DIR/out")"
done
for c in keygen wallet create-genesis-config storage transfer query-balance sync process-inbox \
    open-chain close-chain change-ownership query-validators net benchmark; do
    expect_exit "linera $c --help" 0 "$BIN/linera" "$c" --help
done
expect_exit "linera-server run --help" 0 "$BIN/linera-server" run --help
expect_exit "linera-server generate --help" 0 "$BIN/linera-server" generate --help

# Usage errors: one line on stderr, exit 2.
expect_exit "unknown command is a usage error" 2 "$BIN/linera" frobnicate
[ "$(wc -l <<<"$ERR")" -eq 1 ] && [[ $ERR == error:* ]] || fail "one-line error" "$ERR"
ok "errors are one line starting with 'error:'"
expect_exit "a malformed amount is a usage error" 2 "$BIN/linera" --wallet "$DIR/none.json" \
    transfer 1.0000000000000000001 --from a --to b
expect_exit "a missing wallet is an error" 1 "$BIN/linera" --wallet "$DIR/none.json" query-balance

# linera-server generate from validator TOML files.
for v in 1 2; do
    cat >"$DIR/validator_$v.toml" <<EOF
server_config_path = "server_$v.json"
host = "127.0.0.1"
port = 1910$v
[external_protocol]
Grpc = "ClearText"
[internal_protocol]
Grpc = "ClearText"
[[proxies]]
host = "127.0.0.1"
public_port = 1910$v
private_port = 2010$v
metrics_port = 2110$v
[[shards]]
host = "127.0.0.1"
port = 1920$v
metrics_port = 2120$v
EOF
done
expect_exit "linera-server generate" 0 "$BIN/linera-server" generate \
    --validators validator_1.toml validator_2.toml --committee committee.json
[ "$(wc -l <"$DIR/out")" -eq 2 ] || fail "generate prints one public key per validator" "$(cat "$DIR/out")"
ok "generate prints one public key per validator"
for v in 1 2; do
    [ "$(stat -c %a "server_$v.json")" = 600 ] || fail "server_$v.json has mode 0600" "$(stat -c %a "server_$v.json")"
done
ok "server configs are written with mode 0600"
grep -q '"network_address": "grpc:127.0.0.1:19101"' committee.json ||
    fail "committee.json lists the validators' addresses" "$(cat committee.json)"
ok "committee.json lists the validators"
SECRET=$(/usr/bin/python3 -c 'import json; print(json.load(open("server_1.json"))["validator_secret"])')

# Genesis, wallet and storage.
export LINERA_WALLET="$DIR/wallet.json" LINERA_KEYSTORE="$DIR/keystore.json"
expect_exit "create-genesis-config" 0 "$BIN/linera" create-genesis-config 2 \
    --committee committee.json --genesis genesis.json --initial-funding 12.5
[ "$(stat -c %a keystore.json)" = 600 ] || fail "keystore has mode 0600"
ok "keystore is written with mode 0600"
expect_exit "wallet show --json" 0 "$BIN/linera" wallet show --json
[ "$(/usr/bin/python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["chains"]))' "$DIR/out")" = 3 ] ||
    fail "the wallet tracks the admin chain and 2 chains" "$(cat "$DIR/out")"
ok "the wallet tracks the admin chain and 2 chains"
expect_exit "storage check-existence before initialize" 1 "$BIN/linera" storage check-existence \
    --storage "rocksdb:$DIR/db"
expect_exit "storage initialize" 0 "$BIN/linera" storage initialize --storage "rocksdb:$DIR/db" \
    --genesis genesis.json
expect_exit "storage check-existence after initialize" 0 "$BIN/linera" storage check-existence \
    --storage "rocksdb:$DIR/db"
expect_exit "storage initialize again with the same genesis" 0 "$BIN/linera" storage initialize \
    --storage "rocksdb:$DIR/db" --genesis genesis.json

# A server config readable by others is refused, without printing the secret.
chmod 644 server_1.json
expect_exit "linera-server refuses a server.json readable by others" 1 timeout 10 \
    "$BIN/linera-server" run --storage "rocksdb:$DIR/db" --server server_1.json --shard 0
[[ $ERR == *"readable by other users"* ]] || fail "the refusal says why" "$ERR"
[[ $ERR != *"$SECRET"* ]] || fail "the refusal does not print the secret key"
ok "the refusal says why and does not print the secret key"
expect_exit "linera-proxy refuses it too" 1 timeout 10 "$BIN/linera-proxy" server_1.json
chmod 600 server_1.json
expect_exit "a shard index out of range is refused" 2 timeout 10 "$BIN/linera-server" run \
    --storage "rocksdb:$DIR/db" --server server_1.json --shard 5

echo "$PASSED passed, 0 failed"
