#!/usr/bin/python3
"""Hostile bytes on the listening port: garbage, truncated and malformed
HTTP/2, a half-sent gRPC message, idle connections held open, a burst of
stream resets. After each case the server must, within 5 s, answer Health
SERVING and a real authenticated call OK (a transient refusal while the
thread pool drains is retried and its duration reported), and be alive; at
the end SIGTERM exits 0.

Garbage is drawn from a seeded generator; the seed is logged.

Usage: hostile_http2_test.py --build-dir BUILD [--seed S]
"""

import argparse
import os
import random
import shutil
import socket
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import rel_lib as rl  # noqa: E402

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
DATA, HEADERS, RST_STREAM, SETTINGS, PING, GOAWAY, WINDOW_UPDATE = (
    0, 1, 3, 4, 6, 7, 8)
END_STREAM, END_HEADERS = 0x1, 0x4


def frame(ftype, flags, stream, payload):
    n = len(payload)
    return struct.pack(">BHBBI", (n >> 16) & 0xFF, n & 0xFFFF, ftype, flags,
                       stream & 0x7FFFFFFF) + payload


def hpack_literal(name, value):
    """Literal header field without indexing, new name, no Huffman."""
    def s(b):
        assert len(b) < 127
        return bytes([len(b)]) + b
    return b"\x00" + s(name) + s(value)


def grpc_headers(path, token=None):
    h = [(b":method", b"POST"), (b":scheme", b"http"), (b":path", path),
         (b":authority", b"localhost"), (b"content-type", b"application/grpc"),
         (b"te", b"trailers")]
    if token:
        h.append((b"authorization", b"Bearer " + token.encode()))
    return b"".join(hpack_literal(k, v) for k, v in h)


def send(port, data, linger=0.2, read=True):
    """Connects, sends, reads what comes back for `linger` seconds."""
    got = b""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sk:
        try:
            sk.sendall(data)
        except OSError:
            return got
        if read:
            sk.settimeout(linger)
            end = time.time() + linger
            while time.time() < end:
                try:
                    b = sk.recv(65536)
                except (socket.timeout, OSError):
                    break
                if not b:
                    break
                got += b
    return got


def cases(rng):
    """(name, function(port)) of every hostile case."""
    settings = frame(SETTINGS, 0, 0, b"")
    path = b"/ecs.image.v1.ImageService/DescribeRegions"
    out = []
    for i in range(20):
        n = rng.randint(1, 4096)
        blob = bytes(rng.getrandbits(8) for _ in range(n))
        out.append(("random garbage #%d (%d bytes)" % (i, n),
                    lambda p, b=blob: send(p, b)))
    for cut in (1, 10, len(PREFACE) - 1):
        out.append(("preface cut at %d" % cut,
                    lambda p, c=cut: send(p, PREFACE[:c])))
    out.append(("preface + truncated SETTINGS",
                lambda p: send(p, PREFACE + frame(SETTINGS, 0, 0,
                                                  b"\x00\x03")[:7])))
    out.append(("SETTINGS with bad length",
                lambda p: send(p, PREFACE + frame(SETTINGS, 0, 0, b"\x01"))))
    out.append(("frame header claiming 16 MiB",
                lambda p: send(p, PREFACE + settings +
                               b"\xff\xff\xff\x00\x00\x00\x00\x00\x01" +
                               b"x" * 100)))
    out.append(("HEADERS with invalid HPACK",
                lambda p: send(p, PREFACE + settings + frame(
                    HEADERS, END_HEADERS, 1, b"\xff\xff\xff\xff\xff\x7f"))))
    out.append(("HEADERS on stream 0",
                lambda p: send(p, PREFACE + settings + frame(
                    HEADERS, END_HEADERS, 0, grpc_headers(path)))))
    out.append(("DATA on an idle stream",
                lambda p: send(p, PREFACE + settings + frame(
                    DATA, END_STREAM, 7, b"\x00\x00\x00\x00\x00"))))
    out.append(("WINDOW_UPDATE overflow",
                lambda p: send(p, PREFACE + settings + frame(
                    WINDOW_UPDATE, 0, 0, struct.pack(">I", 0x7FFFFFFF)) +
                    frame(WINDOW_UPDATE, 0, 0, struct.pack(">I", 0x7FFFFFFF)))))
    out.append(("gRPC message claiming 4 GiB, cut after 10 bytes",
                lambda p: send(p, PREFACE + settings + frame(
                    HEADERS, END_HEADERS, 1, grpc_headers(path)) + frame(
                    DATA, 0, 1, b"\x00\xff\xff\xff\xff" + b"z" * 10))))
    out.append(("gRPC frame with compressed flag and garbage",
                lambda p: send(p, PREFACE + settings + frame(
                    HEADERS, END_HEADERS, 1, grpc_headers(path)) + frame(
                    DATA, END_STREAM, 1, b"\x01\x00\x00\x00\x05hello"))))
    out.append(("PING flood (500)",
                lambda p: send(p, PREFACE + settings + b"".join(
                    frame(PING, 0, 0, struct.pack(">Q", i))
                    for i in range(500)))))
    out.append(("HTTP/1.1 request",
                lambda p: send(p, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")))
    out.append(("TLS ClientHello",
                lambda p: send(p, bytes.fromhex(
                    "160301002a0100002603035a5a5a5a5a5a5a5a5a5a5a5a5a5a5a"
                    "5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a000002002f0100"))))
    out.append(("GOAWAY then HEADERS",
                lambda p: send(p, PREFACE + settings + frame(
                    GOAWAY, 0, 0, struct.pack(">II", 0, 0)) + frame(
                    HEADERS, END_HEADERS | END_STREAM, 1,
                    grpc_headers(path)))))

    def rapid_reset(p, n=2000):
        data = [PREFACE, settings]
        for i in range(n):
            sid = 2 * i + 1
            data.append(frame(HEADERS, END_HEADERS, sid, grpc_headers(path)))
            data.append(frame(RST_STREAM, 0, sid, struct.pack(">I", 8)))
        send(p, b"".join(data), linger=1.0)
    out.append(("HEADERS+RST_STREAM burst (2000 streams)", rapid_reset))

    def idle_conns(p, n=200):
        socks = []
        try:
            for _ in range(n):
                sk = socket.create_connection(("127.0.0.1", p), timeout=5)
                sk.sendall(PREFACE[:5])
                socks.append(sk)
            # The check below runs while they are all still open.
            return socks
        except OSError:
            for sk in socks:
                sk.close()
            raise
    out.append(("200 idle half-open connections", idle_conns))
    return out


RECOVER_S = 5.0


def serves_again(server, tok, limit):
    """(ok, last answer, seconds until Health and DescribeRegions both
    answered OK)."""
    import grpc
    s = rl.stubs()
    t0 = time.time()
    last = None
    while True:
        hs = rl.health_status(server.address, timeout=5)
        if hs == "SERVING":
            with rl.channel(server.address) as ch:
                try:
                    s.pbg.ImageServiceStub(ch).DescribeRegions(
                        s.pb.DescribeRegionsRequest(),
                        metadata=rl.auth(tok), timeout=5)
                    return True, "SERVING", time.time() - t0
                except grpc.RpcError as e:
                    last = "DescribeRegions %s" % (rl.ecs_error(e),)
        else:
            last = "Health %s" % hs
        if time.time() - t0 > limit or not server.alive():
            return False, last, time.time() - t0
        time.sleep(0.05)


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawTextHelpFormatter)
    rl.add_common_args(ap)
    ap.add_argument("--seed", type=int, default=None)
    args = ap.parse_args()
    seed = args.seed if args.seed is not None else int(time.time()) % 100000
    rng = random.Random(seed)
    binary, work, keep = rl.setup(args, "hostile")
    rl.log("hostile_http2_test seed=%d" % seed)
    rl.stubs()
    db = os.path.join(work, "hostile.db")
    server = rl.Server(binary, db, os.path.join(work, "server.log"))
    failures = []
    n_cases = 0
    held = []
    worst_recovery = 0.0
    slow = []
    try:
        server.start()
        _, tok = rl.create_account(binary, db, "hostile")
        rss0 = server.proc_status()["VmRSS"]
        for name, fn in cases(rng):
            n_cases += 1
            t0 = time.time()
            try:
                r = fn(server.port)
                if isinstance(r, list):
                    held += r
            except OSError as e:
                rl.log("case %s: client side error %s (ignored)" % (name, e))
            # The server must serve again within RECOVER_S: Health SERVING
            # and a real call OK. A refusal (e.g. RESOURCE_EXHAUSTED while
            # the thread pool drains) is retried and its duration recorded.
            ok, hs, waited = serves_again(server, tok, RECOVER_S)
            worst_recovery = max(worst_recovery, waited)
            if waited > 0.5:
                slow.append((name, round(waited, 2)))
            if not server.alive():
                failures.append("%s: server died (exit %s)" % (
                    name, server.proc.returncode))
                break
            if not ok:
                failures.append("%s: afterwards %s" % (name, hs))
            rl.log("case %-48s ok=%s %.2fs (serving again after %.2fs)" % (
                name, ok, time.time() - t0, waited))
        for sk in held:
            sk.close()
        st = server.proc_status()
        figures = dict(seed=seed, cases=n_cases, rss_start_kib=rss0,
                       rss_end_kib=st["VmRSS"], threads_end=st["Threads"],
                       worst_recovery_s=round(worst_recovery, 2),
                       slow_recoveries=slow)
        code = server.term()
        if code != 0:
            failures.append("SIGTERM exit code %s" % code)
    except rl.Failure as e:
        failures.append(str(e))
        figures = dict(seed=seed, cases=n_cases)
    finally:
        server.kill()
    rl.write_figures(args, "hostile_http2_test", figures)
    for f in failures:
        rl.log("FAIL", f)
    if failures:
        rl.log("hostile_http2_test FAILED (seed %d); files in %s" % (seed,
                                                                    work))
        return 1
    rl.log("hostile_http2_test passed")
    if not keep:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
