#!/usr/bin/python3
"""What `serve --backend=filesystem`'s start-up check of the images' data
costs (data-plane.md §1; docs/operations.md, "Start-up check"), measured on
the real binary from outside.

Makes a SQLite database with N finished custom images (rows written with
Python's sqlite3 into a database `ecsimage migrate` made, so the schema's
triggers keep the counters), a data root with each image's `.meta`, then
starts `serve --backend=filesystem` and reads the milliseconds the check
logged; then, where the machine lets it (root: /proc/sys/vm/drop_caches),
drops the page cache and starts it again (cold); then removes one `.meta` and
times the refusal (exit 1). Prints one JSON line per size.

Run: /usr/bin/python3 bench/data_presence_bench.py [--build-dir B]
     [--sizes 10000,100000] [--workdir DIR]
"""

import argparse
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time

REGIONS = ("cn-hangzhou", "cn-shanghai")


def make_db(binary, work, n):
    db = os.path.join(work, "db.sqlite")
    subprocess.run([binary, "migrate", "--db", db, "--create-if-missing=true"],
                   check=True, capture_output=True)
    # migrate seeded the regions; the images belong to one account.
    account = json.loads(subprocess.run(
        [binary, "account", "create", "--db", db, "--name", "bench"],
        check=True, capture_output=True, text=True).stdout)["account_id"]
    con = sqlite3.connect(db)
    with con:
        con.executemany(
            "INSERT INTO images (image_id, region_id, owner_account_id, "
            "is_system, name, description, status, progress, size_gib, "
            "architecture, os_type, platform, is_copied, is_public, "
            "created_at_ms, creating_remaining_ms) VALUES (?, ?, ?, 0, ?, "
            "'', ?, 100, 40, 'x86_64', 'linux', 'Ubuntu', 0, 0, 1, 0)",
            (("m-%020d" % i, REGIONS[i % 2], account, "img-%d" % i,
              "Deprecated" if i % 10 == 0 else "Available")
             for i in range(n)))
    con.close()
    return db


def make_data_root(work, n):
    root = os.path.join(work, "data")
    for region in REGIONS:
        os.makedirs(os.path.join(root, region), exist_ok=True)
    for i in range(n):
        base = os.path.join(root, REGIONS[i % 2], "m-%020d" % i)
        with open(base + ".meta", "w") as f:
            f.write("format=RAW\nsize=0\ndigest=\n")
        # The data file beside it (empty here): two entries per image in the
        # region directory, as in a real data root.
        open(base + ".img", "w").close()
    os.makedirs(os.path.join(work, "oss"), exist_ok=True)
    return root


def serve(binary, work, db, root, timeout=600):
    """Starts serve; returns (exit code or None if it served, log lines)."""
    log = os.path.join(work, "serve.log")
    cmd = [binary, "serve", "--db", db, "--listen", "127.0.0.1:0",
           "--backend=filesystem", "--data-root", root,
           "--oss-root", os.path.join(work, "oss"),
           "--shutdown-grace-seconds", "0", "--integrity-check=off"]
    t0 = time.time()
    with open(log, "w") as logf:
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=logf)
    while time.time() - t0 < timeout:
        if proc.poll() is not None:
            break
        with open(log) as f:
            if '"started"' in f.read():
                break
        time.sleep(0.01)
    wall = time.time() - t0
    code = proc.poll()
    if code is None:
        proc.terminate()
        proc.wait()
    with open(log) as f:
        lines = [json.loads(x) for x in f if x.startswith("{")]
    return code, wall, lines


def drop_caches():
    """True when the page cache (and dentries, inodes) could be dropped."""
    try:
        os.sync()
        with open("/proc/sys/vm/drop_caches", "w") as f:
            f.write("3\n")
        return True
    except OSError:
        return False


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--build-dir", default="build")
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--workdir", default="")
    args = parser.parse_args()
    binary = os.path.join(args.build_dir, "service", "ecsimage")
    for n in [int(s) for s in args.sizes.split(",")]:
        work = args.workdir or tempfile.mkdtemp(prefix="ecsimage_presence_")
        shutil.rmtree(work, ignore_errors=True)
        os.makedirs(work)
        db = make_db(binary, work, n)
        root = make_data_root(work, n)
        code, wall, lines = serve(binary, work, db, root)
        found = [x for x in lines
                 if x.get("msg") == "every finished image has its data"]
        if code is not None or not found:
            print("serve did not start: %s" % lines[-3:], file=sys.stderr)
            sys.exit(1)
        cold = {}
        if drop_caches():
            code_c, wall_c, lines_c = serve(binary, work, db, root)
            found_c = [x for x in lines_c
                       if x.get("msg") == "every finished image has its data"]
            if code_c is not None or not found_c:
                print("cold serve did not start: %s" % lines_c[-3:],
                      file=sys.stderr)
                sys.exit(1)
            cold = {"coldCheckMs": found_c[0]["ms"],
                    "coldStartToServingS": round(wall_c, 2)}
        # The last image's data gone: refused.
        os.remove(os.path.join(root, REGIONS[(n - 1) % 2],
                               "m-%020d.meta" % (n - 1)))
        t0 = time.time()
        code2, wall2, lines2 = serve(binary, work, db, root)
        refused = [x for x in lines2 if x.get("msg") == "images without data"]
        if code2 != 1 or not refused:
            print("not refused: %s" % lines2[-3:], file=sys.stderr)
            sys.exit(1)
        print(json.dumps({
            "bench": "data_presence", "images": found[0]["images"],
            "checkMs": found[0]["ms"],
            "usPerImage": round(1000.0 * found[0]["ms"] / max(1, n), 2),
            "startToServingS": round(wall, 2),
            "refusalExitS": round(wall2, 2), **cold}))
        if not args.workdir:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
