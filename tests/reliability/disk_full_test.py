#!/usr/bin/python3
"""Disk-full test: the database lives on a filesystem that fills up.

Mode "tmpfs" (root with mount rights): a size-limited tmpfs holds the
database; a ballast file fills it. Mode "fsize" (anywhere else): the
server's RLIMIT_FSIZE is lowered with prlimit(2) to the current file sizes
(writes past it fail with EFBIG, SIGXFSZ ignored) and raised again later.

Checks, while full: every kind of write answers UNAVAILABLE with ECS code
ServiceUnavailable / httpStatus 503, promptly (no hang); reads
(DescribeImages, DescribeRegions, Health) keep working; the process stays
up. After space returns: the same writes succeed, a CreateImage retried
with its ClientToken yields exactly one image, writes that failed and were
not retried left nothing behind, integrity_check is ok, and SIGTERM exits 0.

Usage: disk_full_test.py --build-dir BUILD [--mode tmpfs|fsize|auto]
"""

import argparse
import os
import resource
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import rel_lib as rl  # noqa: E402


def try_mount(mnt, size):
    os.makedirs(mnt, exist_ok=True)
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=%s" % size,
                        "tmpfs", mnt], capture_output=True, text=True)
    return r.returncode == 0


def fill(path):
    """Writes a ballast file until the filesystem is full; returns bytes."""
    n = 0
    chunk = b"\0" * 4096
    with open(path, "wb", buffering=0) as f:
        while True:
            try:
                n += f.write(chunk)
            except OSError:
                break
    return n


class Fsize:
    """Lowers/raises the file-size limit of a running process."""

    def __init__(self, pid):
        self.pid = pid

    def full(self, db):
        # Current sizes: the WAL may still reuse its frames, so the limit is
        # what stops growth; the test writes until it bites.
        limit = max(rl.file_sizes(db).values())
        resource.prlimit(self.pid, resource.RLIMIT_FSIZE,
                         (limit, resource.RLIM_INFINITY))

    def free(self):
        resource.prlimit(self.pid, resource.RLIMIT_FSIZE,
                         (resource.RLIM_INFINITY, resource.RLIM_INFINITY))


def ignore_sigxfsz():
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawTextHelpFormatter)
    rl.add_common_args(ap)
    ap.add_argument("--mode", default="auto", choices=["auto", "tmpfs",
                                                       "fsize"])
    args = ap.parse_args()
    binary, work, keep = rl.setup(args, "diskfull")
    import grpc
    s = rl.stubs()
    mode = args.mode
    mnt = os.path.join(work, "mnt")
    mounted = False
    if mode in ("auto", "tmpfs"):
        mounted = try_mount(mnt, "16m")
        if not mounted and mode == "tmpfs":
            rl.log("cannot mount tmpfs (need root with CAP_SYS_ADMIN)")
            return 1
        mode = "tmpfs" if mounted else "fsize"
    if not mounted:
        os.makedirs(mnt, exist_ok=True)
    rl.log("disk_full_test mode=%s dir=%s" % (mode, mnt))
    db = os.path.join(mnt, "full.db")
    ballast = os.path.join(mnt, "ballast")
    server = rl.Server(binary, db, os.path.join(work, "server.log"),
                       extra=["--tick-ms", "100"], preexec=ignore_sigxfsz)
    failures = []
    figures = {"mode": mode}
    try:
        server.start()
        acc_a, tok = rl.create_account(binary, db, "full-a")
        acc_b, _ = rl.create_account(binary, db, "full-b")
        md = rl.auth(tok)
        ch = rl.channel(server.address)
        img = s.pbg.ImageServiceStub(ch)
        ins = s.pbg.InstanceServiceStub(ch)
        # Something to delete, share and start instances from, made before
        # the disk fills; wait for it to be Available.
        base = img.CreateImage(s.pb.CreateImageRequest(
            region_id="cn-hangzhou", image_name="base", size=1),
            metadata=md, timeout=10).image_id
        victim = img.CreateImage(s.pb.CreateImageRequest(
            region_id="cn-hangzhou", image_name="victim", size=1),
            metadata=md, timeout=10).image_id
        deadline = time.time() + 30
        while time.time() < deadline:
            r = img.DescribeImages(s.pb.DescribeImagesRequest(
                region_id="cn-hangzhou", status="Available",
                image_owner_alias="self"), metadata=md, timeout=10)
            if {base, victim} <= {i.image_id for i in r.images}:
                break
            time.sleep(0.1)

        # Fill the disk, then write until the database feels it.
        if mode == "tmpfs":
            figures["ballast_bytes"] = fill(ballast)
        else:
            limiter = Fsize(server.pid)
            limiter.full(db)
        acked_fill = []
        first_fail = None
        for i in range(5000):
            try:
                r = img.CreateImage(s.pb.CreateImageRequest(
                    region_id="cn-shanghai", image_name="fill-%d" % i,
                    description="x" * 200, size=1), metadata=md, timeout=30)
                acked_fill.append(r.image_id)
            except grpc.RpcError as e:
                first_fail = rl.ecs_error(e)
                break
        figures["writes_acked_while_filling"] = len(acked_fill)
        rl.log("filled: %d writes acked before the first failure %s" % (
            len(acked_fill), first_fail))
        if first_fail is None or first_fail[0] != "UNAVAILABLE":
            failures.append("no UNAVAILABLE after filling the disk: %s" % (
                first_fail,))

        # While full: each kind of write fails 503, promptly.
        token = uuid.uuid4().hex
        create_req = s.pb.CreateImageRequest(region_id="cn-hangzhou",
                                             image_name="retried", size=1,
                                             client_token=token)
        writes = [
            ("CreateImage", img.CreateImage, create_req),
            ("CreateImage(ghost)", img.CreateImage, s.pb.CreateImageRequest(
                region_id="cn-hangzhou", image_name="ghost", size=1)),
            ("DeleteImage", img.DeleteImage, s.pb.DeleteImageRequest(
                region_id="cn-hangzhou", image_id=victim)),
            ("ModifyImageSharePermission", img.ModifyImageSharePermission,
             s.pb.ModifyImageSharePermissionRequest(
                 region_id="cn-hangzhou", image_id=base,
                 add_account=[acc_b])),
            ("ModifyImageAttribute", img.ModifyImageAttribute,
             s.pb.ModifyImageAttributeRequest(
                 region_id="cn-hangzhou", image_id=base,
                 description="changed-while-full")),
            ("CopyImage", img.CopyImage, s.pb.CopyImageRequest(
                region_id="cn-hangzhou", image_id=base,
                destination_region_id="cn-beijing",
                destination_image_name="copy-while-full")),
            ("RunInstances", ins.RunInstances, s.pb.RunInstancesRequest(
                region_id="cn-hangzhou", image_id=base, amount=2)),
        ]
        faults = 0
        slowest = 0.0
        for rnd in range(3):  # repeated: the server must stay consistent
            for name, fn, req in writes:
                t0 = time.time()
                try:
                    fn(req, metadata=md, timeout=30)
                    failures.append("%s succeeded on a full disk" % name)
                except grpc.RpcError as e:
                    code, ecs, http = rl.ecs_error(e)
                    faults += 1
                    if (code, ecs, http) != ("UNAVAILABLE",
                                             "ServiceUnavailable", "503"):
                        failures.append("%s on a full disk: %s %s %s (%s)" % (
                            name, code, ecs, http, e.details()))
                    if "SQL" in e.details() or "sqlite" in e.details().lower():
                        failures.append("%s leaks internals: %s" % (
                            name, e.details()))
                slowest = max(slowest, time.time() - t0)
            # Reads keep working.
            for name, call in [
                ("DescribeImages", lambda: img.DescribeImages(
                    s.pb.DescribeImagesRequest(region_id="cn-hangzhou"),
                    metadata=md, timeout=10)),
                ("DescribeRegions", lambda: img.DescribeRegions(
                    s.pb.DescribeRegionsRequest(), metadata=md, timeout=10)),
                ("DescribeInstances", lambda: ins.DescribeInstances(
                    s.pb.DescribeInstancesRequest(region_id="cn-hangzhou"),
                    metadata=md, timeout=10)),
            ]:
                try:
                    call()
                except grpc.RpcError as e:
                    failures.append("%s on a full disk: %s" % (
                        name, rl.ecs_error(e)))
            hs = rl.health_status(server.address)
            if hs != "SERVING":
                failures.append("Health on a full disk: %s" % hs)
            if not server.alive():
                failures.append("server exited on a full disk")
                break
        figures["faults_answered_503"] = faults
        figures["slowest_failed_write_s"] = round(slowest, 2)
        if slowest > 15:
            failures.append("a failed write took %.1fs" % slowest)
        # The failed writes changed nothing visible.
        r = img.DescribeImages(s.pb.DescribeImagesRequest(
            region_id="cn-hangzhou", image_id=victim, status=rl.ALL_STATUSES),
            metadata=md, timeout=10)
        if [i.image_id for i in r.images] != [victim]:
            failures.append("failed DeleteImage took effect")

        # Space returns.
        if mode == "tmpfs":
            os.unlink(ballast)
        else:
            limiter.free()
        results = {}
        for name, fn, req in writes:
            if name == "CreateImage(ghost)":
                continue
            try:
                results[name] = fn(req, metadata=md, timeout=30)
            except grpc.RpcError as e:
                failures.append("%s after space returned: %s" % (
                    name, rl.ecs_error(e)))
        # A few fresh writes too.
        for i in range(5):
            try:
                img.CreateImage(s.pb.CreateImageRequest(
                    region_id="cn-shanghai", image_name="after-%d" % i,
                    size=1), metadata=md, timeout=30)
            except grpc.RpcError as e:
                failures.append("CreateImage after space returned: %s" % (
                    rl.ecs_error(e),))
        code = server.term()
        if code != 0:
            failures.append("SIGTERM exit code %s; log:\n%s" % (
                code, server.log_tail()))
        ic, fk = rl.integrity(db)
        if ic != ["ok"] or fk:
            failures.append("integrity_check %s fk %s" % (ic[:5], fk[:5]))
        con = sqlite3.connect(db)
        try:
            n = con.execute("SELECT count(*) FROM images WHERE name = "
                            "'retried'").fetchone()[0]
            if n != 1:
                failures.append("CreateImage retried with its token after "
                                "503: %d images" % n)
            n = con.execute("SELECT count(*) FROM images WHERE name = "
                            "'ghost'").fetchone()[0]
            if n != 0:
                failures.append("CreateImage answered 503 left %d rows" % n)
            for iid in acked_fill:
                if con.execute("SELECT count(*) FROM images WHERE image_id "
                               "= ?", (iid,)).fetchone()[0] != 1:
                    failures.append("acked image %s missing" % iid)
            n = con.execute("SELECT count(*) FROM instances").fetchone()[0]
            if n != 2:
                failures.append("RunInstances(2) after 503 + retry: %d "
                                "instances" % n)
        finally:
            con.close()
        for what, rows in rl.invariant_violations(db).items():
            failures.append("invariant: %s: %s" % (what, rows))
        # Restart on the same file.
        server.start()
        rl.wait_health(server.address)
        code = server.term()
        if code != 0:
            failures.append("restart + SIGTERM exit code %s" % code)
    except rl.Failure as e:
        failures.append(str(e))
    finally:
        server.kill()
        if mounted:
            subprocess.run(["umount", "-l", mnt])
    rl.write_figures(args, "disk_full_test", figures)
    for f in failures:
        rl.log("FAIL", f)
    if failures:
        rl.log("disk_full_test FAILED; files in %s" % work)
        return 1
    rl.log("disk_full_test passed")
    if not keep:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
