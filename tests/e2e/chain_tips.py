#!/usr/bin/python3
"""Where each validator stands on each chain: HandleChainInfoQuery over gRPC, decoded with
python_client.py's NodeResponse reader (independent of the C code).

Usage:
  chain_tips.py ADDR[,ADDR...] CHAIN [CHAIN...]
      One line per chain: "<chain> <height>:<tip> <height>:<tip> ..." in ADDR order (tip "-"
      for a chain without blocks, "?" for a validator that did not answer).
  chain_tips.py --sum ADDR CHAIN [CHAIN...]
      The sum of ADDR's heights over the chains (one number).
  chain_tips.py --same ADDR[,ADDR...] CHAIN [CHAIN...]
      Exit 0 if every ADDR has every CHAIN at the same height and tip, else 1 (first
      difference on stderr).

The request is encoded by hand (rpc.v1.ChainInfoQuery{chain_id: ChainId{bytes}, query}),
so no stubs are generated: this runs in a tight polling loop.
"""
import os
import sys

import grpc

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from python_client import parse_node_response  # noqa: E402

METHOD = "/rpc.v1.ValidatorNode/HandleChainInfoQuery"


def field(number, payload):
    """A length-delimited protobuf field (wire type 2); payloads here are < 128 bytes."""
    return bytes([number << 3 | 2, len(payload)]) + payload


def query_bytes(chain):
    # canonical mc_chain_info_query: chain id, option<owner> None, three false bools,
    # option<(height, round)> None, option<bundle position> None.
    return field(1, field(1, chain)) + field(2, chain + bytes(6))


def tips(addr, chains):
    out = []
    with grpc.insecure_channel(addr, options=[("grpc.enable_retries", 0)]) as ch:
        call = ch.unary_unary(METHOD, request_serializer=None, response_deserializer=None)
        for c in chains:
            try:
                resp = call(query_bytes(bytes.fromhex(c)), timeout=5)
            except grpc.RpcError:
                out.append("?")
                continue
            # NodeResponse{bytes response = 1}
            if len(resp) < 2 or resp[0] != 0x0A:
                out.append("?")
                continue
            n, pos, shift = 0, 1, 0
            while True:
                b = resp[pos]
                pos += 1
                n |= (b & 0x7F) << shift
                shift += 7
                if not b & 0x80:
                    break
            r = parse_node_response(resp[pos:pos + n])
            if r.get("kind") != "INFO":
                out.append("0:-" if r.get("error_code") == 3 else "?")
                continue
            out.append("%d:%s" % (r["height"], r.get("block_hash", "-")))
    return out


def main():
    args = sys.argv[1:]
    mode = None
    if args and args[0] in ("--sum", "--same"):
        mode = args.pop(0)
    if len(args) < 2:
        sys.exit(__doc__)
    addrs, chains = args[0].split(","), args[1:]
    rows = [tips(a, chains) for a in addrs]
    if mode == "--sum":
        print(sum(int(t.split(":")[0]) for t in rows[0] if t != "?"))
        return
    if mode == "--same":
        for i, c in enumerate(chains):
            seen = [r[i] for r in rows]
            if "?" in seen or len(set(seen)) != 1:
                sys.exit("chain %s: %s" % (c[:8], " ".join(seen)))
        return
    for i, c in enumerate(chains):
        print(c, " ".join(r[i] for r in rows))


if __name__ == "__main__":
    main()
