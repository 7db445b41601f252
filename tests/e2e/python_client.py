#!/usr/bin/python3
"""An independent gRPC client of the validator API, written only from proto/rpc.proto and
docs/PROTOCOL.md (no code shared with the C implementation).

The Python stubs are generated from proto/rpc.proto at each run with
`/usr/bin/python3 -m grpc_tools.protoc` into a temporary directory. The health check
(grpc.health.v1, whose proto is not in the repository) is called generically with raw bytes.

Usage:
  python_client.py --proto proto/rpc.proto check ADDR CHAIN [CHAIN...]
      Health/Check on ADDR must answer SERVING (b'\\x08\\x01'); HandleChainInfoQuery for each
      CHAIN must answer a NodeResponse of kind INFO about that very chain. Prints one JSON
      line per chain: {"address", "chain_id", "kind", "height", "balance", "active"}.
  python_client.py --proto proto/rpc.proto info ADDR CHAIN
      Just the JSON line for one chain, with its consensus round at that validator too
      (exit 1 if the answer is not an INFO about CHAIN).
  python_client.py --proto proto/rpc.proto shard-of CHAIN ADDR [ADDR...]
      Prints the index of the first ADDR (shard endpoints) that answers an INFO for CHAIN
      (a shard answers INVALID_ARGUMENT for chains of other shards).

ADDR is host:port (a proxy's public port or a shard's port). Exit status: 0 on success, 1 on
a failed check (reason on stderr), 2 on a usage or set-up error.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile

import grpc

RPC_TIMEOUT_S = 10
HEALTH_SERVING = b"\x08\x01"  # HealthCheckResponse{status: SERVING}
KIND_NAMES = {0: "INFO", 1: "CERTIFICATES", 2: "EMPTY", 3: "ERROR"}
ATTOS = 10**18


def fail(msg, code=1):
    print("python_client: " + msg, file=sys.stderr)
    sys.exit(code)


def generate_stubs(proto_path):
    """Runs grpc_tools.protoc on proto_path into a new temporary directory, imports rpc_pb2
    and rpc_pb2_grpc from it and returns (rpc_pb2, rpc_pb2_grpc, tmpdir)."""
    proto_path = os.path.abspath(proto_path)
    if not os.path.isfile(proto_path):
        fail("no proto file at %s" % proto_path, 2)
    out = tempfile.mkdtemp(prefix="e2e-pyproto-")
    cmd = [sys.executable, "-m", "grpc_tools.protoc", "-I" + os.path.dirname(proto_path),
           "--python_out=" + out, "--grpc_python_out=" + out, os.path.basename(proto_path)]
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        shutil.rmtree(out, ignore_errors=True)
        fail("protoc failed (%s): %s" % (" ".join(cmd), r.stderr.strip()), 2)
    sys.path.insert(0, out)
    import rpc_pb2  # noqa: E402  (generated just now)
    import rpc_pb2_grpc  # noqa: E402
    return rpc_pb2, rpc_pb2_grpc, out


def read_uleb(data, pos):
    value, shift = 0, 0
    while True:
        if pos >= len(data):
            raise ValueError("truncated ULEB128")
        b = data[pos]
        pos += 1
        value |= (b & 0x7F) << shift
        if not b & 0x80:
            return value, pos
        shift += 7
        if shift > 28:
            raise ValueError("ULEB128 longer than 32 bits")


def format_amount(attos):
    whole, frac = divmod(attos, ATTOS)
    if frac == 0:
        return str(whole)
    return "%d.%s" % (whole, ("%018d" % frac).rstrip("0"))


class Reader:
    """Reads canonical bytes (docs/PROTOCOL.md section 1) front to back."""

    def __init__(self, data, pos=0):
        self.data, self.pos = data, pos

    def take(self, n):
        if self.pos + n > len(self.data):
            raise ValueError("ChainInfo truncated at byte %d (need %d more)" % (self.pos, n))
        chunk = self.data[self.pos:self.pos + n]
        self.pos += n
        return chunk

    def uleb(self):
        value, self.pos = read_uleb(self.data, self.pos)
        return value

    def u(self, n):
        return int.from_bytes(self.take(n), "little")

    def some(self):
        return self.take(1) == b"\x01"


ROUND_NAMES = {0: "fast", 1: "multi-leader", 2: "single-leader", 3: "validator"}


def skip_ownership(r):
    """Ownership: super owners, weighted owners, multi-leader rounds, open flag, timeouts."""
    def owner():
        if r.uleb() == 1:
            r.take(32)

    for _ in range(r.uleb()):
        owner()
    for _ in range(r.uleb()):
        owner()
        r.take(8)
    r.take(4 + 1)
    if r.some():
        r.take(8)
    r.take(16)


def read_round(r):
    """A Round, formatted like the C code: "fast", "multi-leader 3", "single-leader 0"."""
    tag = r.uleb()
    if tag not in ROUND_NAMES:
        raise ValueError("unknown round tag %d" % tag)
    return "fast" if tag == 0 else "%s %d" % (ROUND_NAMES[tag], r.u(4))


def parse_node_response(data):
    """Decodes the start of a canonical NodeResponse (docs/PROTOCOL.md): the kind tag and,
    for INFO, the leading fields of ChainInfo up to current_round."""
    kind, pos = read_uleb(data, 0)
    out = {"kind": KIND_NAMES.get(kind, "UNKNOWN(%d)" % kind)}
    if kind == 3:  # Error: code (ULEB), message (string)
        code, p = read_uleb(data, pos)
        n, p = read_uleb(data, p)
        out["error_code"] = code
        out["error"] = data[p:p + n].decode("utf-8", "replace")
        return out
    if kind != 0:
        return out
    r = Reader(data, pos)
    out["chain_id"] = r.take(32).hex()
    out["epoch"] = r.u(4)
    out["active"] = r.some()
    out["closed"] = r.some()
    out["height"] = r.u(8)  # next_block_height
    if r.some():
        out["block_hash"] = r.take(32).hex()
    out["timestamp"] = r.u(8)
    r.take(32)  # state_hash
    out["balance"] = format_amount(r.u(16))
    if r.some():  # requested_owner_balance
        r.take(16)
    skip_ownership(r)
    out["round"] = read_round(r)
    return out


def channel(addr):
    return grpc.insecure_channel(addr, options=[("grpc.enable_retries", 0)])


def health(addr):
    with channel(addr) as ch:
        check = ch.unary_unary("/grpc.health.v1.Health/Check", request_serializer=None,
                               response_deserializer=None)
        try:
            resp = check(b"", timeout=RPC_TIMEOUT_S)
        except grpc.RpcError as e:
            fail("%s: Health/Check failed: %s %s" % (addr, e.code(), e.details()))
    if resp != HEALTH_SERVING:
        fail("%s: Health/Check answered %r, expected %r (SERVING)" % (addr, resp,
                                                                        HEALTH_SERVING))


def chain_info_query(pb2, pb2_grpc, addr, chain_hex):
    """HandleChainInfoQuery through the generated stub. Returns (status, parsed response)."""
    chain = bytes.fromhex(chain_hex)
    if len(chain) != 32:
        fail("chain id %s is not 32 bytes" % chain_hex, 2)
    # canonical mc_chain_info_query: chain id, option<owner> None, three false bools,
    # option<(height, round)> None, option<bundle position> None.
    req = pb2.ChainInfoQuery(chain_id=pb2.ChainId(bytes=chain), query=chain + bytes(6))
    with channel(addr) as ch:
        stub = pb2_grpc.ValidatorNodeStub(ch)
        try:
            resp = stub.HandleChainInfoQuery(req, timeout=RPC_TIMEOUT_S)
        except grpc.RpcError as e:
            return e.code(), e.details()
    try:
        return grpc.StatusCode.OK, parse_node_response(resp.response)
    except ValueError as e:
        fail("%s: undecodable NodeResponse for %s: %s (%s)" % (addr, chain_hex, e,
                                                               resp.response[:64].hex()))


def info_or_fail(pb2, pb2_grpc, addr, chain_hex):
    code, r = chain_info_query(pb2, pb2_grpc, addr, chain_hex)
    if code != grpc.StatusCode.OK:
        fail("%s: HandleChainInfoQuery(%s) failed: %s %s" % (addr, chain_hex, code, r))
    if r["kind"] != "INFO":
        fail("%s: HandleChainInfoQuery(%s): expected a response of kind INFO, got %s" %
             (addr, chain_hex, r))
    if r["chain_id"] != chain_hex.lower():
        fail("%s: HandleChainInfoQuery(%s): the answer is about chain %s" %
             (addr, chain_hex, r["chain_id"]))
    r["address"] = addr
    return r


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--proto", required=True, help="path of proto/rpc.proto")
    sub = ap.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("check")
    c.add_argument("addr")
    c.add_argument("chains", nargs="+")
    i = sub.add_parser("info")
    i.add_argument("addr")
    i.add_argument("chain")
    s = sub.add_parser("shard-of")
    s.add_argument("chain")
    s.add_argument("addrs", nargs="+")
    args = ap.parse_args()

    pb2, pb2_grpc, tmp = generate_stubs(args.proto)
    try:
        if args.cmd == "check":
            health(args.addr)
            for chain in args.chains:
                r = info_or_fail(pb2, pb2_grpc, args.addr, chain)
                print(json.dumps({k: r[k] for k in ("address", "chain_id", "kind", "height",
                                                    "balance", "active")}))
        elif args.cmd == "info":
            r = info_or_fail(pb2, pb2_grpc, args.addr, args.chain)
            print(json.dumps({k: r[k] for k in ("address", "chain_id", "kind", "height",
                                                "balance", "active", "round")}))
        else:
            seen = []
            for n, addr in enumerate(args.addrs):
                code, r = chain_info_query(pb2, pb2_grpc, addr, args.chain)
                if code == grpc.StatusCode.OK and r.get("kind") == "INFO":
                    print(n)
                    return
                seen.append("%s: %s %s" % (addr, code, r))
            fail("no shard answers for chain %s: %s" % (args.chain, "; ".join(seen)))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
