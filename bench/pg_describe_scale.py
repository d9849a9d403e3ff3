#!/usr/bin/python3
"""DescribeImages on PostgreSQL at scale, from outside the process.

One PostgreSQL database gets two accounts through `ecsimage account create`:
"big" with --images images in one region (2 % CreateFailed, the rest
Available) and "small" with 1,000. The rows are bulk-inserted with the
triggers off and the counters recounted as `ecsimage db copy` does (a
million CreateImage calls would take hours); then `ecsimage serve` on the
database answers DescribeImages (page of 100, own images, default status)
for each account from a separate client process, and the p50/p90 of each
and their ratio are printed as one JSON line. The scale-out target:
p50 for the big account <= 1.25 x p50 for the small one.

    /usr/bin/python3 bench/pg_describe_scale.py --binary build/service/ecsimage \
        [--images 1000000] [--calls 100] [--pg-uri URI]

Without --pg-uri it starts a throwaway server with scripts/pg_server.sh.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(REPO, "tests", "reliability"))
import rel_lib as rl  # noqa: E402

REGION = "cn-hangzhou"


def psql(uri, sql):
    subprocess.run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", uri],
                   input=sql, text=True, check=True, capture_output=True)


def account(binary, uri, name):
    out = subprocess.run([binary, "account", "create", "--db", uri, "--name",
                          name], check=True, capture_output=True, text=True)
    for line in out.stdout.splitlines():
        if line.startswith("{"):
            return json.loads(line)
    raise SystemExit("account create printed no JSON")


def bulk_insert(uri, owner, prefix, n, failed_every):
    psql(uri, """
SET session_replication_role = replica;
INSERT INTO images (image_id, region_id, owner_account_id, is_system, name,
  description, status, progress, size_gib, architecture, os_type, platform,
  is_copied, is_public, created_at_ms, creating_remaining_ms)
SELECT 'm-%(prefix)s' || lpad(g::text, %(width)d, '0'), '%(region)s',
  '%(owner)s', 0, '%(prefix)s' || g, '',
  CASE WHEN %(failed_every)d > 0 AND g %% %(failed_every)d = 0
       THEN 'CreateFailed' ELSE 'Available' END,
  100, 40, 'x86_64', 'linux', 'Ubuntu', 0, 0, g, 0
FROM generate_series(1, %(n)d) g;
""" % dict(prefix=prefix, width=20 - len(prefix), region=REGION, owner=owner,
           failed_every=failed_every, n=n))


def recount(uri):
    psql(uri, """
DELETE FROM image_counts;
INSERT INTO image_counts (owner_key, region_id, status, live_count)
SELECT coalesce(owner_account_id, ''), region_id, status, count(*)
FROM images WHERE deleted_at_ms IS NULL GROUP BY 1, 2, 3;
VACUUM ANALYZE;
""")


def measure(address, tokens, calls):
    """p50/p90 per token, the calls of the tokens interleaved so that a
    change of the machine's load falls on both alike."""
    s = rl.stubs()
    ch = rl.channel(address)
    stub = s.pbg.ImageServiceStub(ch)
    lat = {t: [] for t in tokens}
    totals = {}
    for i in range(calls + 10):
        for token in tokens:
            t = time.perf_counter()
            resp = stub.DescribeImages(s.pb.DescribeImagesRequest(
                region_id=REGION, page_size=100, image_owner_alias="self"),
                metadata=rl.auth(token), timeout=60)
            if i >= 10:  # the first calls prepare statements per connection
                lat[token].append((time.perf_counter() - t) * 1000)
            totals[token] = resp.total_count
            if len(resp.images) != min(100, resp.total_count):
                raise SystemExit("page of %d, TotalCount %d"
                                 % (len(resp.images), resp.total_count))
    ch.close()
    out = {}
    for token, l in lat.items():
        l.sort()
        out[token] = (totals[token], l[len(l) // 2], l[int(len(l) * 0.9)])
    return out


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--binary", required=True)
    p.add_argument("--images", type=int, default=1000000)
    p.add_argument("--calls", type=int, default=100)
    p.add_argument("--pg-uri", default="")
    p.add_argument("--keep-db", action="store_true",
                   help="leave the database (its URI is printed) to inspect")
    args = p.parse_args()
    binary = os.path.abspath(args.binary)
    pg_dir = None
    server_uri = args.pg_uri
    if not server_uri:
        pg_dir = tempfile.mkdtemp(prefix="ecsimage-pgbench-", dir="/tmp")
        os.rmdir(pg_dir)
        server_uri = subprocess.run(
            [os.path.join(REPO, "scripts", "pg_server.sh"), "start", pg_dir],
            check=True, capture_output=True, text=True).stdout.strip()
    db = "ecsimage_describe_%d" % os.getpid()
    psql(server_uri, "CREATE DATABASE %s" % db)
    uri = server_uri.replace("postgresql:///postgres", "postgresql:///" + db)
    srv = None
    try:
        t0 = time.time()
        subprocess.run([binary, "migrate", "--db", uri], check=True,
                       capture_output=True)
        big = account(binary, uri, "big")
        small = account(binary, uri, "small")
        log = tempfile.NamedTemporaryFile(prefix="pgbench-serve-",
                                          suffix=".log", delete=False).name
        srv = rl.Server(binary, uri, log).start()  # seeds the regions
        bulk_insert(uri, big["account_id"], "big", args.images, 50)
        bulk_insert(uri, small["account_id"], "small", 1000, 0)
        recount(uri)
        load_s = time.time() - t0
        figures = {"test": "pg_describe_scale", "images": args.images,
                   "load_s": round(load_s, 1)}
        got = measure(srv.address, [small["token"], big["token"]],
                      args.calls)
        for name, acct in (("small", small), ("big", big)):
            total, p50, p90 = got[acct["token"]]
            figures.update({name + "_total": total,
                            name + "_p50_ms": round(p50, 2),
                            name + "_p90_ms": round(p90, 2)})
        figures["p50_ratio_big_to_small"] = round(
            figures["big_p50_ms"] / figures["small_p50_ms"], 2)
        figures["target_met"] = figures["p50_ratio_big_to_small"] <= 1.25
        print(json.dumps(figures, sort_keys=True))
        return 0
    finally:
        if srv is not None:
            srv.term()
        if args.keep_db and pg_dir is None:
            print("kept", uri)
        else:
            psql(server_uri, "DROP DATABASE IF EXISTS %s" % db)
        if pg_dir is not None:
            subprocess.run([os.path.join(REPO, "scripts", "pg_server.sh"),
                            "stop", pg_dir], capture_output=True)


if __name__ == "__main__":
    sys.exit(main())
