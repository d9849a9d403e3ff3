#!/usr/bin/python3
"""Overload and abuse against a real `ecsimage serve`.

  concurrency  --max-concurrent-calls 4; an outside connection holds the
               database's write lock so write calls pile up; calls past the
               bound must get RESOURCE_EXHAUSTED / ECS Throttling with
               ErrorInfo quickly; once the lock goes, the server serves
               normally. Also records whether Health answered meanwhile.
  deadline     write calls whose deadline passes while the write lock is
               held elsewhere answer DEADLINE_EXCEEDED and never commit later.
  throttling   --rate-limit-per-account: a burst from one account gets
               RESOURCE_EXHAUSTED / ECS Throttling / 400 past its budget,
               another account is unaffected, the budget refills.
  oversized    requests past the message limit, huge metadata, huge fields
               and repeated fields are refused without storing anything.
  sustained    mixed load for --seconds; VmRSS and thread count sampled each
               second must stay flat (figures reported).
  badtokens    a flood of calls with missing, malformed and unknown tokens
               while an outside connection holds the write lock: all
               UNAUTHENTICATED, none slowed by the lock (no write
               transaction), database and WAL sizes unchanged.

Usage: overload_test.py --build-dir BUILD [--seconds 30] [--only NAME,...]
"""

import argparse
import os
import random
import shutil
import sqlite3
import sys
import threading
import time
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import rel_lib as rl  # noqa: E402


class WriteLock:
    """Holds SQLite's write lock on `db` from this process."""

    def __init__(self, db):
        self.con = sqlite3.connect(db, timeout=30, isolation_level=None)

    def __enter__(self):
        self.con.execute("BEGIN IMMEDIATE")
        return self

    def __exit__(self, *exc):
        self.con.execute("ROLLBACK")
        self.con.close()


def parallel(n, fn):
    """Runs fn(i) on n threads released together; returns their results."""
    barrier = threading.Barrier(n)
    out = [None] * n

    def run(i):
        barrier.wait()
        out[i] = fn(i)
    ts = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return out


def timed(call):
    import grpc
    t0 = time.time()
    try:
        call()
        return ("OK", "", ""), time.time() - t0
    except grpc.RpcError as e:
        return rl.ecs_error(e), time.time() - t0


def test_concurrency(binary, work, failures, figures):
    s = rl.stubs()
    db = os.path.join(work, "conc.db")
    # The server's own bound (--max-concurrent-calls) sits well below the
    # thread quota, so every refusal comes from the handler with ECS
    # details, not from gRPC's bare thread-pool refusal.
    max_threads = 64
    max_calls = 4
    server = rl.Server(binary, db, os.path.join(work, "conc.log"), extra=[
        "--max-threads", str(max_threads),
        "--max-concurrent-calls", str(max_calls)])
    server.start()
    try:
        _, tok = rl.create_account(binary, db, "conc")
        chans = [rl.channel(server.address) for _ in range(8)]
        n = 40
        health = {}

        def call(i):
            stub = s.pbg.ImageServiceStub(chans[i % len(chans)])
            return timed(lambda: stub.CreateImage(s.pb.CreateImageRequest(
                region_id="cn-hangzhou", image_name="conc-%d" % i, size=1),
                metadata=rl.auth(tok), timeout=30))

        with WriteLock(db):
            def probe():
                time.sleep(1.0)
                health["during"] = rl.health_status(server.address, 3)
            pt = threading.Thread(target=probe)
            pt.start()
            results = []
            rt = threading.Thread(target=lambda: results.extend(
                parallel(n, call)))
            rt.start()
            time.sleep(2.5)
        rt.join()
        pt.join()
        codes = {}
        bare = 0  # refusals without an ECS ErrorInfo
        for (code, ecs, _), dt in results:
            codes[code] = codes.get(code, 0) + 1
            if code != "OK" and not ecs:
                bare += 1
        exhausted = [dt for (c, _, _), dt in results
                     if c == "RESOURCE_EXHAUSTED"]
        throttled = sum(1 for (c, e, h), _ in results
                        if (c, e, h) == ("RESOURCE_EXHAUSTED", "Throttling",
                                         "400"))
        figures["concurrency"] = dict(
            max_threads=max_threads, max_concurrent_calls=max_calls,
            calls=n, codes=codes, throttled_with_details=throttled,
            exhausted_max_latency_s=round(max(exhausted), 3)
            if exhausted else None,
            health_while_saturated=health.get("during"),
            refusals_without_error_info=bare)
        rl.log("concurrency:", figures["concurrency"])
        if not exhausted:
            failures.append("concurrency: no RESOURCE_EXHAUSTED past "
                            "--max-concurrent-calls %d with %d calls waiting"
                            % (max_calls, n))
        elif max(exhausted) > 1.0:
            failures.append("concurrency: RESOURCE_EXHAUSTED took %.2fs" %
                            max(exhausted))
        # api.md §4: every failed call carries ErrorInfo with the ECS code,
        # "always". gRPC's own thread-pool refusal carries none.
        if bare:
            failures.append(
                "concurrency: %d of %d refusals carry no ECS ErrorInfo "
                "(OverloadRefusalCarriesEcsErrorInfo)" % (bare, n - codes.get(
                    "OK", 0)))
        bad = set(codes) - {"OK", "RESOURCE_EXHAUSTED", "UNAVAILABLE"}
        if bad:
            failures.append("concurrency: unexpected codes %s" % codes)
        # Normal service afterwards.
        (code, ecs, _), _ = call(1000)
        if code != "OK":
            failures.append("concurrency: after saturation %s %s" % (code,
                                                                     ecs))
        if rl.health_status(server.address) != "SERVING":
            failures.append("concurrency: Health after saturation not "
                            "SERVING")
        for c in chans:
            c.close()
        if server.term() != 0:
            failures.append("concurrency: SIGTERM exit code not 0")
    finally:
        server.kill()


def test_deadline(binary, work, failures, figures):
    """Writes whose callers gave up (deadline) while the database was locked
    must not commit later (api.md §5: a lost reply has no second effect,
    and an abandoned call none at all)."""
    s = rl.stubs()
    db = os.path.join(work, "dl.db")
    server = rl.Server(binary, db, os.path.join(work, "dl.log"))
    server.start()
    try:
        _, tok = rl.create_account(binary, db, "dl")
        n = 6
        with rl.channel(server.address) as ch:
            stub = s.pbg.ImageServiceStub(ch)
            with WriteLock(db):
                res = parallel(n, lambda i: timed(lambda: stub.CreateImage(
                    s.pb.CreateImageRequest(region_id="cn-hangzhou",
                                            image_name="late-%d" % i, size=1),
                    metadata=rl.auth(tok), timeout=0.5)))
                time.sleep(1.0)
            time.sleep(1.5)  # the writer gets the lock back
            (code, _, _), _ = timed(lambda: stub.DescribeRegions(
                s.pb.DescribeRegionsRequest(), metadata=rl.auth(tok),
                timeout=10))
        con = sqlite3.connect(db)
        stored = con.execute("SELECT count(*) FROM images WHERE name LIKE "
                             "'late-%'").fetchone()[0]
        con.close()
        codes = {}
        for (c, _, _), _ in res:
            codes[c] = codes.get(c, 0) + 1
        figures["deadline"] = dict(calls=n, codes=codes, stored_later=stored)
        rl.log("deadline:", figures["deadline"])
        if codes.get("DEADLINE_EXCEEDED", 0) != n:
            failures.append("deadline: codes %s" % codes)
        if stored:
            failures.append("deadline: %d writes whose callers gave up were "
                            "committed later (AbandonedWriteNeverCommits)" %
                            stored)
        if code != "OK" or server.term() != 0:
            failures.append("deadline: server unhealthy afterwards")
    finally:
        server.kill()


def test_throttling(binary, work, failures, figures):
    s = rl.stubs()
    db = os.path.join(work, "thr.db")
    rate = 5
    server = rl.Server(binary, db, os.path.join(work, "thr.log"), extra=[
        "--rate-limit-per-account", str(rate)])
    server.start()
    try:
        _, tok_a = rl.create_account(binary, db, "thr-a")
        _, tok_b = rl.create_account(binary, db, "thr-b")
        with rl.channel(server.address) as ch:
            stub = s.pbg.ImageServiceStub(ch)

            def one(tok):
                return timed(lambda: stub.DescribeRegions(
                    s.pb.DescribeRegionsRequest(), metadata=rl.auth(tok),
                    timeout=10))[0]
            t0 = time.time()
            res = [one(tok_a) for _ in range(40)]
            elapsed = time.time() - t0
            ok = sum(1 for r in res if r[0] == "OK")
            thr = [r for r in res if r[0] != "OK"]
            b = one(tok_b)
            time.sleep(1.2)
            after = one(tok_a)
        figures["throttling"] = dict(rate_per_s=rate, burst_calls=40,
                                     burst_s=round(elapsed, 2), ok=ok,
                                     throttled=len(thr))
        rl.log("throttling:", figures["throttling"])
        if not thr:
            failures.append("throttling: 40 calls in %.2fs at %d/s: none "
                            "throttled" % (elapsed, rate))
        if ok > rate + rate * elapsed + 1:
            failures.append("throttling: %d calls passed in %.2fs at %d/s" %
                            (ok, elapsed, rate))
        for r in thr:
            if r != ("RESOURCE_EXHAUSTED", "Throttling", "400"):
                failures.append("throttling: refused as %s" % (r,))
                break
        if b[0] != "OK":
            failures.append("throttling: other account refused: %s" % (b,))
        if after[0] != "OK":
            failures.append("throttling: budget did not refill: %s" % (after,))
        if server.term() != 0:
            failures.append("throttling: SIGTERM exit code not 0")
    finally:
        server.kill()


def test_oversized(binary, work, failures, figures):
    import grpc
    s = rl.stubs()
    db = os.path.join(work, "big.db")
    server = rl.Server(binary, db, os.path.join(work, "big.log"))
    server.start()
    try:
        _, tok = rl.create_account(binary, db, "big")
        md = rl.auth(tok)
        cases = []
        with rl.channel(server.address) as ch:
            img = s.pbg.ImageServiceStub(ch)
            ins = s.pbg.InstanceServiceStub(ch)
            checks = [
                ("5 MiB request (limit 4 MiB)", lambda: img.CreateImage(
                    s.pb.CreateImageRequest(region_id="cn-hangzhou",
                                            image_name="big",
                                            description="d" * (5 << 20)),
                    metadata=md, timeout=20), ("RESOURCE_EXHAUSTED",)),
                ("64 KiB authorization header", lambda: img.DescribeRegions(
                    s.pb.DescribeRegionsRequest(),
                    metadata=(("authorization", "Bearer " + "t" * 65536),),
                    timeout=20), ("RESOURCE_EXHAUSTED", "INTERNAL",
                                  "UNAUTHENTICATED", "UNAVAILABLE")),
                ("1 MiB ImageName", lambda: img.CreateImage(
                    s.pb.CreateImageRequest(region_id="cn-hangzhou",
                                            image_name="n" * (1 << 20)),
                    metadata=md, timeout=20), ("INVALID_ARGUMENT",)),
                ("3 MiB Description", lambda: img.CreateImage(
                    s.pb.CreateImageRequest(region_id="cn-hangzhou",
                                            image_name="okname",
                                            description="d" * (3 << 20)),
                    metadata=md, timeout=20), ("INVALID_ARGUMENT",)),
                ("100k AddAccount entries", lambda:
                    img.ModifyImageSharePermission(
                        s.pb.ModifyImageSharePermissionRequest(
                            region_id="cn-hangzhou", image_id="m-" + "a" * 20,
                            add_account=["%016d" % i
                                         for i in range(100000)]),
                        metadata=md, timeout=20),
                    ("INVALID_ARGUMENT", "NOT_FOUND")),
                ("10k DiskDeviceMapping entries", lambda: img.CreateImage(
                    s.pb.CreateImageRequest(
                        region_id="cn-hangzhou", image_name="disks",
                        disk_device_mapping=[s.pb.DiskDeviceMapping(
                            size=1, device="/dev/xvd%d" % i, type="data")
                            for i in range(10000)]),
                    metadata=md, timeout=20), ("INVALID_ARGUMENT",)),
                ("PageSize 2^31-1", lambda: img.DescribeImages(
                    s.pb.DescribeImagesRequest(region_id="cn-hangzhou",
                                               page_size=2 ** 31 - 1),
                    metadata=md, timeout=20), ("INVALID_ARGUMENT",)),
                ("PageNumber 2^31-1", lambda: img.DescribeImages(
                    s.pb.DescribeImagesRequest(region_id="cn-hangzhou",
                                               page_number=2 ** 31 - 1),
                    metadata=md, timeout=20), ("INVALID_ARGUMENT", "OK")),
                ("Amount 10^6", lambda: ins.RunInstances(
                    s.pb.RunInstancesRequest(
                        region_id="cn-hangzhou",
                        image_id="ubuntu_22_04_x64_20G_alibase_20240101.vhd",
                        amount=1000000), metadata=md, timeout=20),
                    ("INVALID_ARGUMENT",)),
                ("1 MiB ClientToken", lambda: img.CreateImage(
                    s.pb.CreateImageRequest(region_id="cn-hangzhou",
                                            image_name="tok",
                                            client_token="c" * (1 << 20)),
                    metadata=md, timeout=20), ("INVALID_ARGUMENT",)),
            ]
            for name, call, allowed in checks:
                # A fresh connection per case: a refused oversized message
                # may end the previous one (the lambdas read img/ins late).
                fresh = rl.channel(server.address)
                img = s.pbg.ImageServiceStub(fresh)
                ins = s.pbg.InstanceServiceStub(fresh)
                (code, ecs, _), dt = timed(call)
                fresh.close()
                cases.append((name, code, ecs, round(dt, 3)))
                if code not in allowed:
                    failures.append("oversized: %s -> %s %s (want %s)" % (
                        name, code, ecs, allowed))
                if dt > 5:
                    failures.append("oversized: %s took %.1fs" % (name, dt))
                if not server.alive():
                    failures.append("oversized: server died on %s" % name)
                    return
            img = s.pbg.ImageServiceStub(ch)
            try:
                img.DescribeRegions(s.pb.DescribeRegionsRequest(),
                                    metadata=md, timeout=10)
            except grpc.RpcError as e:
                failures.append("oversized: afterwards %s" % (
                    rl.ecs_error(e),))
        if server.term() != 0:
            failures.append("oversized: SIGTERM exit code not 0")
        con = sqlite3.connect(db)
        n = con.execute("SELECT count(*) FROM images WHERE NOT is_system"
                        ).fetchone()[0]
        con.close()
        if n != 0:
            failures.append("oversized: %d images stored by refused calls" %
                            n)
        figures["oversized"] = cases
        for c in cases:
            rl.log("oversized: %-32s %s %s %.3fs" % c)
    finally:
        server.kill()


def test_sustained(binary, work, failures, figures, seconds):
    import grpc
    s = rl.stubs()
    db = os.path.join(work, "sus.db")
    server = rl.Server(binary, db, os.path.join(work, "sus.log"), extra=[
        "--transfer-rate-mib", "4096", "--create-ms-per-gib", "50",
        "--tick-ms", "100", "--image-quota", "1000000"])
    server.start()
    try:
        _, tok = rl.create_account(binary, db, "sus")
        stop = threading.Event()
        counts = {}
        samples_err = {}
        mu = threading.Lock()

        def worker(i):
            rng = random.Random(i)
            mine = []
            insts = []
            with rl.channel(server.address) as ch:
                img = s.pbg.ImageServiceStub(ch)
                ins = s.pbg.InstanceServiceStub(ch)
                md = rl.auth(tok)
                n = 0
                while not stop.is_set():
                    n += 1
                    op = rng.random()
                    try:
                        if op < 0.25 or not mine:
                            r = img.CreateImage(s.pb.CreateImageRequest(
                                region_id="cn-hangzhou",
                                image_name="s%d-%d" % (i, n), size=1,
                                client_token=uuid.uuid4().hex),
                                metadata=md, timeout=10)
                            mine.append(r.image_id)
                        elif op < 0.45:
                            img.DescribeImages(s.pb.DescribeImagesRequest(
                                region_id="cn-hangzhou",
                                status=rl.ALL_STATUSES, page_size=50),
                                metadata=md, timeout=10)
                        elif op < 0.6:
                            r = ins.RunInstances(s.pb.RunInstancesRequest(
                                region_id="cn-hangzhou",
                                image_id=rng.choice(mine), amount=1),
                                metadata=md, timeout=10)
                            insts += list(r.instance_id_sets)
                        elif op < 0.75 and insts:
                            ins.DeleteInstance(s.pb.DeleteInstanceRequest(
                                instance_id=insts.pop()), metadata=md,
                                timeout=10)
                        elif op < 0.9:
                            victim = mine.pop(rng.randrange(len(mine)))
                            img.DeleteImage(s.pb.DeleteImageRequest(
                                region_id="cn-hangzhou", image_id=victim,
                                force=True), metadata=md, timeout=10)
                        else:
                            img.DescribeRegions(s.pb.DescribeRegionsRequest(),
                                                metadata=md, timeout=10)
                        code = "OK"
                    except grpc.RpcError as e:
                        code = e.code().name
                        if code not in ("FAILED_PRECONDITION", "NOT_FOUND"):
                            with mu:
                                samples_err.setdefault(
                                    "%s %s: %s" % (code, rl.ecs_error(e)[1],
                                                   e.details()), 0)
                                samples_err["%s %s: %s" % (
                                    code, rl.ecs_error(e)[1], e.details())] += 1
                    with mu:
                        counts[code] = counts.get(code, 0) + 1

        ts = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
        for t in ts:
            t.start()
        samples = []
        t0 = time.time()
        while time.time() - t0 < seconds:
            time.sleep(1)
            st = server.proc_status()
            samples.append((st["VmRSS"], st["Threads"]))
        stop.set()
        for t in ts:
            t.join()
        calls = sum(counts.values())
        third = max(1, len(samples) // 3)
        early = sorted(x[0] for x in samples[third:2 * third])
        late = sorted(x[0] for x in samples[-third:])
        early_med, late_med = early[len(early) // 2], late[len(late) // 2]
        threads = [x[1] for x in samples]
        figures["sustained"] = dict(
            seconds=seconds, calls=calls,
            calls_per_s=round(calls / seconds, 1), codes=counts,
            rss_kib_first=samples[0][0], rss_kib_mid_median=early_med,
            rss_kib_last_median=late_med, rss_kib_max=max(
                x[0] for x in samples),
            threads_min=min(threads), threads_max=max(threads),
            errors=samples_err,
            db_bytes=sum(rl.file_sizes(db).values()))
        rl.log("sustained:", figures["sustained"])
        if set(counts) - {"OK", "FAILED_PRECONDITION", "NOT_FOUND"}:
            failures.append("sustained: unexpected codes %s %s "
                            "(SustainedLoadBelowThreadBoundIsNeverRefused)" %
                            (counts, samples_err))
        # Flat: the last third may exceed the middle third by at most 25%
        # plus 16 MiB (SQLite's page cache grows with the database).
        if late_med > early_med * 1.25 + 16 * 1024:
            failures.append("sustained: RSS grew from %d to %d KiB" % (
                early_med, late_med))
        if max(threads) > 64 + 16:
            failures.append("sustained: %d threads" % max(threads))
        if server.term() != 0:
            failures.append("sustained: SIGTERM exit code not 0")
    finally:
        server.kill()


def test_badtokens(binary, work, failures, figures, n_calls=2000):
    s = rl.stubs()
    db = os.path.join(work, "tok.db")
    server = rl.Server(binary, db, os.path.join(work, "tok.log"))
    server.start()
    try:
        acc, tok = rl.create_account(binary, db, "tok")
        # Let start-up writes settle, then freeze the files.
        time.sleep(0.5)
        bad_tokens = [None, "", "Bearer", "Basic abc", "Bearer " + "x" * 600,
                      "Bearer a b c", "bearer " + tok[:-1] + ("B" if tok[-1] == "A" else "A"),
                      "Bearer " + uuid.uuid4().hex]

        with WriteLock(db):
            before = rl.file_sizes(db)
            mtimes = {k: os.path.getmtime(db + k) for k in ("", "-wal")
                      if os.path.exists(db + k)}

            def flood(i):
                rng = random.Random(i)
                out = {}
                worst = 0.0
                with rl.channel(server.address) as ch:
                    img = s.pbg.ImageServiceStub(ch)
                    for j in range(n_calls // 8):
                        t = rng.choice(bad_tokens)
                        if t is not None and t.startswith("Bearer ") and \
                                len(t) < 100 and rng.random() < 0.5:
                            t = "Bearer " + uuid.uuid4().hex
                        md = () if t is None else (("authorization", t),)
                        call = rng.choice([
                            lambda: img.CreateImage(s.pb.CreateImageRequest(
                                region_id="cn-hangzhou", image_name="x%d" % j,
                                client_token=uuid.uuid4().hex), metadata=md,
                                timeout=10),
                            lambda: img.DeleteImage(s.pb.DeleteImageRequest(
                                region_id="cn-hangzhou",
                                image_id="m-" + "b" * 20, force=True),
                                metadata=md, timeout=10),
                            lambda: img.DescribeImages(
                                s.pb.DescribeImagesRequest(
                                    region_id="cn-hangzhou"),
                                metadata=md, timeout=10)])
                        (code, _, _), dt = timed(call)
                        out[code] = out.get(code, 0) + 1
                        worst = max(worst, dt)
                return out, worst
            t0 = time.time()
            res = parallel(8, flood)
            elapsed = time.time() - t0
            after = rl.file_sizes(db)
            mtimes_after = {k: os.path.getmtime(db + k) for k in ("", "-wal")
                            if os.path.exists(db + k)}
        codes = {}
        for out, _ in res:
            for k, v in out.items():
                codes[k] = codes.get(k, 0) + v
        worst = max(w for _, w in res)
        figures["badtokens"] = dict(calls=sum(codes.values()), codes=codes,
                                    seconds=round(elapsed, 2),
                                    worst_latency_s=round(worst, 3),
                                    db_bytes_before=before,
                                    db_bytes_after=after)
        rl.log("badtokens:", figures["badtokens"])
        if set(codes) != {"UNAUTHENTICATED"}:
            failures.append("badtokens: codes %s" % codes)
        if worst > 2.0:
            failures.append("badtokens: a call waited %.2fs behind the write "
                            "lock" % worst)
        if before != after or mtimes != mtimes_after:
            failures.append("badtokens: database files changed %s -> %s" % (
                before, after))
        if server.term() != 0:
            failures.append("badtokens: SIGTERM exit code not 0")
    finally:
        server.kill()


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawTextHelpFormatter)
    rl.add_common_args(ap)
    ap.add_argument("--seconds", type=int, default=30,
                    help="length of the sustained run")
    ap.add_argument("--only", default="",
                    help="comma list of concurrency,deadline,throttling,"
                         "oversized,"
                         "sustained,badtokens")
    args = ap.parse_args()
    binary, work, keep = rl.setup(args, "overload")
    rl.stubs()
    only = set(filter(None, args.only.split(",")))
    failures, figures = [], {}
    tests = [("concurrency", lambda: test_concurrency(binary, work, failures,
                                                      figures)),
             ("deadline", lambda: test_deadline(binary, work, failures,
                                                figures)),
             ("throttling", lambda: test_throttling(binary, work, failures,
                                                    figures)),
             ("oversized", lambda: test_oversized(binary, work, failures,
                                                  figures)),
             ("badtokens", lambda: test_badtokens(binary, work, failures,
                                                  figures)),
             ("sustained", lambda: test_sustained(binary, work, failures,
                                                  figures, args.seconds))]
    for name, fn in tests:
        if only and name not in only:
            continue
        rl.log("== overload/%s" % name)
        try:
            fn()
        except rl.Failure as e:
            failures.append("%s: %s" % (name, e))
    rl.write_figures(args, "overload_test", figures)
    for f in failures:
        rl.log("FAIL", f)
    if failures:
        rl.log("overload_test FAILED; files in %s" % work)
        return 1
    rl.log("overload_test passed")
    if not keep:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
