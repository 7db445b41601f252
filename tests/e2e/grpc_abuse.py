#!/usr/bin/python3
"""Sends malformed traffic to one gRPC endpoint of a validator (a proxy's public port or a
shard's port) and checks that it is rejected with the fitting status and that the endpoint
keeps serving.

Usage: grpc_abuse.py [--shard] ADDR CHAIN

  ADDR   host:port of the endpoint
  CHAIN  a chain id (hex) the endpoint answers for (any chain for a proxy; one of the
         shard's own chains for a shard), used for the well-formed requests
  --shard  also abuse the internal rpc.v1.ValidatorWorker service

Requests are sent with raw generic calls (request_serializer=None: the bytes go on the wire
as they are). Every check prints "ok - ..." on success; the first failure prints
"not ok - ..." with what was expected and what was seen and exits 1.
"""
import argparse
import os
import random
import socket
import sys
import time

import grpc

TIMEOUT_S = 15
MAX_MESSAGE = 16 * 1024 * 1024
HEALTH_SERVING = b"\x08\x01"

NODE_METHODS = ["HandleBlockProposal", "HandleValidatedCertificate",
                "HandleConfirmedCertificate", "HandleTimeoutCertificate",
                "HandleChainInfoQuery", "DownloadCertificates"]


def uleb(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def pb_bytes_field(number, payload):
    """A protobuf length-delimited field."""
    return uleb((number << 3) | 2) + uleb(len(payload)) + payload


def request(chain, payload):
    """{ChainId chain_id = 1 {bytes bytes = 1}; bytes <payload> = 2}: the shape of every
    unary request of the API (BlockProposal, Certificate, ChainInfoQuery, ...)."""
    return pb_bytes_field(1, pb_bytes_field(1, chain)) + pb_bytes_field(2, payload)


class Abuser:
    def __init__(self, addr, label):
        self.addr = addr
        self.label = label
        self.passed = 0
        opts = [("grpc.max_send_message_length", 64 << 20),
                ("grpc.max_receive_message_length", 64 << 20),
                ("grpc.enable_retries", 0)]
        self.channel = grpc.insecure_channel(addr, options=opts)

    def ok(self, what):
        self.passed += 1
        print("ok - %s: %s" % (self.label, what), flush=True)

    def not_ok(self, what, expected, seen):
        print("not ok - %s: %s\n  expected: %s\n  seen:     %s" % (self.label, what, expected,
                                                                 seen), flush=True)
        sys.exit(1)

    def call(self, method, data):
        f = self.channel.unary_unary(method, request_serializer=None,
                                     response_deserializer=None)
        try:
            return grpc.StatusCode.OK, f(data, timeout=TIMEOUT_S)
        except grpc.RpcError as e:
            return e.code(), e.details()

    def expect_status(self, what, method, data, expected):
        code, detail = self.call(method, data)
        if code not in expected:
            self.not_ok(what, "status " + " or ".join(c.name for c in expected),
                        "%s %r" % (code.name, detail if code != grpc.StatusCode.OK
                                   else detail[:40]))
        self.ok("%s -> %s (%s)" % (what, code.name, str(detail)[:90]))

    def health(self, when):
        code, resp = self.call("/grpc.health.v1.Health/Check", b"")
        if code != grpc.StatusCode.OK or resp != HEALTH_SERVING:
            self.not_ok("health check %s" % when, "OK %r (SERVING)" % HEALTH_SERVING,
                        "%s %r" % (code.name, resp))
        self.ok("health check %s -> SERVING" % when)

    def normal_query(self, chain, when):
        code, resp = self.call("/rpc.v1.ValidatorNode/HandleChainInfoQuery",
                               request(chain, chain + bytes(6)))
        # NodeResponse {bytes response = 1}: 0x0a, ULEB length, then the canonical
        # mc_node_response: kind tag 0 (INFO) then the chain id.
        ok = False
        if code == grpc.StatusCode.OK and resp[:1] == b"\x0a":
            pos = 1
            while pos < len(resp) and resp[pos] & 0x80:
                pos += 1
            body = resp[pos + 1:]
            ok = body[:1] == b"\x00" and body[1:33] == chain
        if not ok:
            self.not_ok("chain info query %s" % when,
                        "OK, a NodeResponse of kind INFO (0) about chain %s" % chain.hex(),
                        "%s %r" % (code.name, resp[:48] if isinstance(resp, bytes) else resp))
        self.ok("chain info query %s -> INFO about the queried chain" % when)

    def raw_tcp(self, what, data, rng):
        """Writes non-HTTP/2 bytes on a fresh TCP connection; the server must close it (or
        answer with an HTTP/2 GOAWAY and close) rather than hang or crash."""
        host, port = self.addr.rsplit(":", 1)
        s = socket.create_connection((host, int(port)), timeout=TIMEOUT_S)
        closed = False
        received = b""
        try:
            s.sendall(data)
            deadline = time.time() + TIMEOUT_S
            while time.time() < deadline:
                try:
                    chunk = s.recv(4096)
                except (ConnectionResetError, BrokenPipeError):
                    closed = True
                    break
                except socket.timeout:
                    break
                if not chunk:
                    closed = True
                    break
                received += chunk
        except (ConnectionResetError, BrokenPipeError):
            closed = True
        finally:
            s.close()
        if not closed:
            self.not_ok(what, "the server closes the connection", "still open after %d s "
                        "(received %r)" % (TIMEOUT_S, received[:40]))
        self.ok("%s -> connection closed by the server (%d bytes received first)" %
                (what, len(received)))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--shard", action="store_true")
    ap.add_argument("--label", default=None)
    ap.add_argument("addr")
    ap.add_argument("chain")
    args = ap.parse_args()
    chain = bytes.fromhex(args.chain)
    a = Abuser(args.addr, args.label or args.addr)
    rng = random.Random(20240517)
    IA = grpc.StatusCode.INVALID_ARGUMENT
    query = "/rpc.v1.ValidatorNode/HandleChainInfoQuery"

    a.health("before")
    a.normal_query(chain, "before")

    # 1. Garbage bytes: not a protobuf message (an 11-byte varint tag overflows 64 bits).
    garbage = b"\xff" * 11 + bytes(rng.getrandbits(8) for _ in range(500))
    a.expect_status("garbage bytes as a ChainInfoQuery", query, garbage, [IA])
    # ... and as each request of the public service.
    for m in NODE_METHODS:
        a.expect_status("garbage bytes to ValidatorNode/%s" % m, "/rpc.v1.ValidatorNode/" + m,
                        garbage, [IA])
    # 2. Well-formed protobuf, random canonical payload, for every method.
    junk = bytes(rng.getrandbits(8) for _ in range(300))
    for m in NODE_METHODS:
        a.expect_status("random canonical payload to ValidatorNode/%s" % m,
                        "/rpc.v1.ValidatorNode/" + m, request(chain, b"\xfe" + junk), [IA])
    # 3. Truncated valid messages: the protobuf cut in the middle of a field, and a
    #    well-formed protobuf whose canonical query is cut short.
    valid = request(chain, chain + bytes(6))
    a.expect_status("protobuf truncated inside the payload field (%d of %d bytes)" %
                    (len(valid) - 3, len(valid)), query, valid[:-3], [IA])
    a.expect_status("protobuf truncated inside the chain id field", query, valid[:20], [IA])
    a.expect_status("canonical ChainInfoQuery truncated to 34 bytes", query,
                    request(chain, chain + bytes(2)), [IA])
    a.expect_status("empty request (no chain id)", query, b"", [IA])
    a.expect_status("chain id of 31 bytes", query, request(chain[:31], chain + bytes(6)), [IA])
    a.expect_status("routing chain id differs from the payload's", query,
                    request(bytes(32), chain + bytes(6)) if chain != bytes(32) else
                    request(b"\x01" * 32, chain + bytes(6)), [IA])
    # 4. Oversized: a well-formed request of more than 16 MiB.
    big = request(chain, chain + bytes(6) + bytes(MAX_MESSAGE + 1024))
    a.expect_status("oversized request (%d bytes > 16 MiB)" % len(big), query, big,
                    [grpc.StatusCode.RESOURCE_EXHAUSTED])
    # 5. Unknown method.
    a.expect_status("unknown method", "/rpc.v1.ValidatorNode/NoSuchMethod", valid,
                    [grpc.StatusCode.UNIMPLEMENTED])
    if args.shard:
        for m in NODE_METHODS + ["HandleCrossChainRequest"]:
            a.expect_status("garbage bytes to ValidatorWorker/%s" % m,
                            "/rpc.v1.ValidatorWorker/" + m, garbage, [IA])
        # Cross-chain requests come only from the validator's own shards (a MAC of its
        # internal key): anything else is refused before the payload is even decoded.
        a.expect_status("cross-chain request without the validator's MAC",
                        "/rpc.v1.ValidatorWorker/HandleCrossChainRequest",
                        request(chain, b"\x07" + junk), [grpc.StatusCode.UNAUTHENTICATED])
        a.expect_status("cross-chain request with a made-up MAC",
                        "/rpc.v1.ValidatorWorker/HandleCrossChainRequest",
                        request(chain, b"\x01" + chain + chain + b"\x00") +
                        pb_bytes_field(3, bytes(32)), [grpc.StatusCode.UNAUTHENTICATED])

    # 6. Raw TCP: bytes that are not HTTP/2 at all, then the HTTP/2 preface followed by
    #    garbage frames.
    a.raw_tcp("raw TCP: random non-HTTP/2 bytes",
              bytes(rng.getrandbits(8) for _ in range(4096)), rng)
    a.raw_tcp("raw TCP: an HTTP/1.1 request", b"GET / HTTP/1.1\r\nHost: x\r\n\r\n" * 4, rng)
    a.raw_tcp("raw TCP: HTTP/2 preface then garbage frames",
              b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + b"\xff" * 9 +
              bytes(rng.getrandbits(8) for _ in range(2048)), rng)

    # Still serving, and still answering correctly, after all that.
    a.health("after the abuse")
    a.normal_query(chain, "after the abuse")
    a.channel.close()


if __name__ == "__main__":
    main()
