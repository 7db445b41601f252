#!/usr/bin/python3
"""Opens N idle gRPC connections to HOST:PORT (each sends the HTTP/2 client preface and an
empty SETTINGS frame, then makes no call) and waits until the server has closed them all
(it closes connections without calls after its idle timeout), for at most WAIT seconds.

Usage: connection_flood.py HOST PORT N WAIT
Prints "open N" once all are open, then "closed K of N after S s"; exits 1 unless the
server closed every one of them."""
import selectors
import socket
import sys
import time

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + b"\x00\x00\x00\x04\x00\x00\x00\x00\x00"


def main():
    host, port, n, wait = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
    sel = selectors.DefaultSelector()
    for i in range(n):
        try:
            s = socket.create_connection((host, port), timeout=10)
            s.sendall(PREFACE)
        except OSError as e:
            print("connection %d of %d failed: %s" % (i + 1, n, e), flush=True)
            return 1
        s.setblocking(False)
        sel.register(s, selectors.EVENT_READ)
    print("open %d" % n, flush=True)
    start, left = time.time(), n
    while left and time.time() - start < wait:
        for key, _ in sel.select(0.5):
            try:
                data = key.fileobj.recv(65536)
            except BlockingIOError:
                continue
            except OSError:
                data = b""
            if not data:  # EOF: the server closed it
                sel.unregister(key.fileobj)
                key.fileobj.close()
                left -= 1
    print("closed %d of %d after %.1f s" % (n - left, n, time.time() - start), flush=True)
    return 0 if left == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
