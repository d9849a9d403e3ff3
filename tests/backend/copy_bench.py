#!/usr/bin/python3
"""Throughput of a filesystem-backend CopyImage beside `cp` (data-plane.md §4).

Imports a SIZE file of random bytes, then in one run on the same disk:
`cp --reflink=never` of the stored image + `sync`, and CopyImage of it to
another region through the public API (from the call until DescribeImages
shows Available: the copy is fsynced and verified by then). Page cache:
warm for both (the file was just written). CPU: the server's user+system
time during the copy, per GiB (SHA-256 of every chunk is most of it).

Run: /usr/bin/python3 tests/backend/copy_bench.py [--size-mib 1024]
"""

import argparse
import os
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "reliability"))
import rel_lib  # noqa: E402
from backend_e2e_test import Api, start, SRC, DST  # noqa: E402
from rel_lib import check, log  # noqa: E402


def cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main():
    parser = argparse.ArgumentParser()
    rel_lib.add_common_args(parser)
    parser.add_argument("--size-mib", type=int, default=1024)
    args = parser.parse_args()
    binary, work, keep = rel_lib.setup(args, "copy_bench")
    for d in ("data", "oss/inbox", "oss/outbox"):
        os.makedirs(os.path.join(work, d), exist_ok=True)
    src = os.path.join(work, "oss", "inbox", "bench.raw")
    with open(src, "wb") as f:
        for _ in range(args.size_mib):
            f.write(os.urandom(1 << 20))
    gib = args.size_mib / 1024.0
    srv = start(binary, work)
    try:
        _, token = rel_lib.create_account(
            binary, os.path.join(work, "db.sqlite"), "bench")
        api = Api(srv.address, token)
        image_id, task_id = api.import_image("inbox", "bench.raw")
        check(api.wait_task(SRC, task_id, timeout=900) == "Finished", "import")
        stored = os.path.join(work, "data", SRC, image_id + ".img")

        t = time.time()
        subprocess.run(["cp", "--reflink=never", stored,
                        os.path.join(work, "cp.copy")], check=True)
        subprocess.run(["sync"], check=True)
        cp_s = time.time() - t
        os.remove(os.path.join(work, "cp.copy"))

        cpu0 = cpu_seconds(srv.pid)
        t = time.time()
        dest = api.copy(image_id)
        check(api.wait_image(DST, dest, "Available", timeout=900) ==
              "Available", "copy")
        copy_s = time.time() - t
        cpu = cpu_seconds(srv.pid) - cpu0
    finally:
        srv.term()
    figures = {
        "size_mib": args.size_mib,
        "page_cache": "warm",
        "cp_sync_s": round(cp_s, 2),
        "cp_sync_mib_s": round(args.size_mib / cp_s, 1),
        "copy_image_s": round(copy_s, 2),
        "copy_image_mib_s": round(args.size_mib / copy_s, 1),
        "ratio_vs_cp": round(cp_s / copy_s, 2),
        "server_cpu_s_per_gib": round(cpu / gib, 2),
    }
    rel_lib.write_figures(args, "copy_bench", figures)
    if not keep:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    try:
        main()
    except rel_lib.Failure as e:
        log("FAIL", e)
        sys.exit(1)
