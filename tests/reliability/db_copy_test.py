#!/usr/bin/python3
"""`ecsimage db copy` from SQLite into PostgreSQL (scale-out.md §5).

A server on a SQLite file is given every kind of state through the API —
two accounts (one with a rotated token), images in several states and a
tombstone, a copy in flight, an export task, shares, an instance, a
ClientToken — and stopped. `db copy` moves the file into a fresh
PostgreSQL database; a server on the URI must then answer exactly as the
SQLite one did: the same DescribeImages pages, the same share list, the
same instance, the same ClientToken replay, tokens that work (and the
revoked one that does not), and the copy in flight goes on to SUCCEEDED.
A second `db copy` into the now non-empty database is refused, writing
nothing.

usage: /usr/bin/python3 tests/reliability/db_copy_test.py --binary BIN
"""

import argparse
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import time
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import rel_lib as rl  # noqa: E402
import replicas_test as rt  # noqa: E402


DATABASE_ID = "db-0123456789abcdef0123456789abcdef"


def run(binary, *args):
    return subprocess.run([binary] + list(args), capture_output=True,
                          text=True, timeout=300)


def snapshot(address, token, s):
    """What a client sees: every image of every region, the share list of
    the shared image, the instances."""
    c = rt.Client(address, token)
    seen = {}
    for region in rl.REGIONS:
        for alias in ("self", "others"):
            resp, err = c.call(c.img.DescribeImages, s.pb.DescribeImagesRequest(
                region_id=region, status=rl.ALL_STATUSES,
                image_owner_alias=alias, page_size=100))
            if err:
                raise rl.Failure("DescribeImages %s: %s" % (region, err))
            seen[(region, alias)] = sorted(
                (i.image_id, i.image_name, i.status, i.is_copied,
                 i.image_owner_alias) for i in resp.images)
    c.ch.close()
    return seen


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    rl.add_common_args(p)
    args = p.parse_args()
    binary, work, keep = rl.setup(args, "db_copy")
    s = rl.stubs()
    failures = []
    pg = rt.Pg(work)
    try:
        db = os.path.join(work, "source.db")
        # The server creates the file; accounts come from the CLI after.
        srv = rl.Server(binary, db, os.path.join(work, "sqlite.log"),
                        extra=["--create-if-missing=true",
                               "--simulation-control",
                               "--token-file", os.path.join(work, "t")])
        srv.start()
        a_id, a_tok = rl.create_account(binary, db, "alice")
        b_id, b_tok = rl.create_account(binary, db, "bob")
        out = run(binary, "account", "token", "create", "--db", db,
                  "--account", a_id)
        a_tok2 = json.loads(out.stdout.strip().splitlines()[-1])["token"]
        a = rt.Client(srv.address, a_tok)
        sim = s.pbg.SimulationControlStub(a.ch)

        def ok(resp_err, what):
            resp, err = resp_err
            if err:
                raise rl.Failure("%s: %s" % (what, err))
            return resp
        token = uuid.uuid4().hex
        src = ok(rt.create_image(a, "source", token), "CreateImage").image_id
        ok(a.call(sim.AdvanceTask, s.pb.AdvanceTaskRequest(
            region_id="cn-hangzhou", image_id=src, phase="Available")),
            "AdvanceTask")
        gone = ok(rt.create_image(a, "gone"), "CreateImage").image_id
        ok(a.call(a.img.DeleteImage, s.pb.DeleteImageRequest(
            region_id="cn-hangzhou", image_id=gone)), "DeleteImage")
        copy = ok(a.call(a.img.CopyImage, s.pb.CopyImageRequest(
            region_id="cn-hangzhou", image_id=src,
            destination_region_id="cn-shanghai",
            destination_image_name="in-flight",
            client_token=uuid.uuid4().hex)), "CopyImage").image_id
        ok(a.call(sim.AdvanceTask, s.pb.AdvanceTaskRequest(
            region_id="cn-shanghai", image_id=copy, phase="TRANSFERRING")),
            "AdvanceTask TRANSFERRING")
        task = ok(a.call(a.img.ExportImage, s.pb.ExportImageRequest(
            region_id="cn-hangzhou", image_id=src, oss_bucket="bucket",
            oss_prefix="exports/", client_token=uuid.uuid4().hex)),
            "ExportImage").task_id
        ok(a.call(a.img.ModifyImageSharePermission,
                  s.pb.ModifyImageSharePermissionRequest(
                      region_id="cn-hangzhou", image_id=src,
                      add_account=[b_id])), "share")
        b = rt.Client(srv.address, b_tok)
        inst = ok(b.call(b.ins.RunInstances, s.pb.RunInstancesRequest(
            region_id="cn-hangzhou", image_id=src, amount=1,
            client_token=uuid.uuid4().hex)), "RunInstances")
        before_a = snapshot(srv.address, a_tok, s)
        before_b = snapshot(srv.address, b_tok, s)
        for c in (a, b):
            c.ch.close()
        if srv.term() != 0:
            failures.append("the SQLite server did not stop cleanly")
        # The rotated-away token: revoke the second, it must stay revoked.
        listed = run(binary, "account", "token", "list", "--db", db,
                     "--account", a_id)
        tids = [json.loads(line)["token_id"]
                for line in listed.stdout.splitlines() if line.startswith("{")]
        if len(tids) == 2:
            run(binary, "account", "token", "revoke", "--db", db,
                "--account", a_id, "--token-id", tids[-1])

        # The database's identity (the filesystem backend's data-root
        # marker names it) moves with the rows.
        con = sqlite3.connect(db)
        con.execute("INSERT INTO replica_settings (name, value, "
                    "confirmed_at_ms) VALUES ('database_id', ?, 7)",
                    (DATABASE_ID,))
        con.commit()
        con.close()

        started = time.time()
        out = run(binary, "db", "copy", "--from", db, "--to", pg.uri)
        copy_s = time.time() - started
        rl.log("db copy:", out.stdout.strip() or out.stderr.strip())
        if out.returncode != 0:
            raise rl.Failure("db copy failed: " + out.stderr)
        if pg.query("SELECT value FROM replica_settings "
                    "WHERE name = 'database_id'") != [DATABASE_ID]:
            failures.append("db copy did not carry the database_id")
        again = run(binary, "db", "copy", "--from", db, "--to", pg.uri)
        if again.returncode == 0 or "not empty" not in again.stderr:
            failures.append("a second db copy was not refused: %s"
                            % again.stderr)

        srv2 = rl.Server(binary, pg.uri, os.path.join(work, "pg.log"),
                         extra=["--simulation-control"])
        srv2.start()
        try:
            if snapshot(srv2.address, a_tok, s) != before_a:
                failures.append("alice sees other images after the copy")
            if snapshot(srv2.address, b_tok, s) != before_b:
                failures.append("bob sees other images after the copy")
            a = rt.Client(srv2.address, a_tok)
            replay = ok(rt.create_image(a, "source", token), "replay")
            if replay.image_id != src:
                failures.append("ClientToken replay gave %s, not %s"
                                % (replay.image_id, src))
            sim = s.pbg.SimulationControlStub(a.ch)
            ok(a.call(sim.AdvanceTask, s.pb.AdvanceTaskRequest(
                region_id="cn-shanghai", image_id=copy, phase="SUCCEEDED")),
                "the copy in flight goes on")
            _, err = a.call(a.img.DeleteImage, s.pb.DeleteImageRequest(
                region_id="cn-hangzhou", image_id=src))
            if err is None or err[1] != "ImageIsExporting":
                failures.append("exporting source deleted after copy: %s"
                                % (err,))
            ok(a.call(sim.AdvanceTask, s.pb.AdvanceTaskRequest(
                region_id="cn-hangzhou", task_id=task, phase="Finished")),
                "the export in flight goes on")
            _, err = a.call(a.img.DeleteImage, s.pb.DeleteImageRequest(
                region_id="cn-hangzhou", image_id=src))
            if err is None or err[1] != "ImageUseShared":
                failures.append("shared source deleted after copy: %s"
                                % (err,))
            shares = ok(a.call(a.img.DescribeImageSharePermission,
                               s.pb.DescribeImageSharePermissionRequest(
                                   region_id="cn-hangzhou", image_id=src)),
                        "DescribeImageSharePermission")
            if [x.aliyun_id for x in shares.accounts] != [b_id]:
                failures.append("shares after copy: %s" % shares.accounts)
            b = rt.Client(srv2.address, b_tok)
            got = ok(b.call(b.ins.DescribeInstances,
                            s.pb.DescribeInstancesRequest(
                                region_id="cn-hangzhou")),
                     "DescribeInstances")
            if sorted(i.instance_id for i in got.instances) != sorted(
                    inst.instance_id_sets):
                failures.append("instances after copy differ")
            revoked = rt.Client(srv2.address, a_tok2)
            _, err = rt.create_image(revoked, "x")
            if len(tids) == 2 and (err is None or err[0] !=
                                   "UNAUTHENTICATED"):
                failures.append("the revoked token works after the copy")
            for c in (a, b, revoked):
                c.ch.close()
        finally:
            srv2.kill()
        rl.write_figures(args, "db_copy", {"copy_s": round(copy_s, 2)})
    except (rl.Failure, subprocess.SubprocessError, KeyError,
            ValueError) as e:
        failures.append(str(e))
    finally:
        pg.stop()
    for f in failures:
        print("FAIL -", f)
    print("%d passed, %d failed" % (0 if failures else 1,
                                    1 if failures else 0))
    if not failures and not keep:
        shutil.rmtree(work, ignore_errors=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
