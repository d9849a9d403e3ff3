#!/usr/bin/python3
"""Throughput of a filesystem-backend CopyImage beside `cp` (data-plane.md §4).

Imports a SIZE file of random bytes, then in one run on the same disk, twice
(the stored image's page cache first dropped, "cold", then filled, "warm"):
`cp --reflink=never` of the stored image + `sync`, and CopyImage of it to
another region through the public API (from the call until DescribeImages
shows Available: the copy is fsynced and verified by then). Before each of
the four timed runs the page cache of the stored image is put in the stated
state again. CPU: the server's user and system time during the copy, per GiB
(user time is nearly all SHA-256 of every chunk).

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
    """(user, system) CPU seconds of `pid`."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    tck = os.sysconf("SC_CLK_TCK")
    return int(fields[11]) / tck, int(fields[12]) / tck


def set_cache(path, warm):
    """Drops `path` from the page cache, or reads it all into it."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fdatasync(fd)
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        if warm:
            while os.read(fd, 1 << 20):
                pass
    finally:
        os.close(fd)


def cached_fraction(path):
    """Share of `path`'s pages in the page cache (mincore), 0..1."""
    import mmap
    import ctypes
    size = os.path.getsize(path)
    if size == 0:
        return 1.0
    libc = ctypes.CDLL(None, use_errno=True)
    with open(path, "rb") as f:
        m = mmap.mmap(f.fileno(), size, access=mmap.ACCESS_COPY)
        try:
            pages = (size + mmap.PAGESIZE - 1) // mmap.PAGESIZE
            vec = (ctypes.c_ubyte * pages)()
            start = ctypes.c_char.from_buffer(m)
            rc = libc.mincore(ctypes.c_void_p(ctypes.addressof(start)),
                              ctypes.c_size_t(size), vec)
            del start
            if rc != 0:
                return -1.0
            return sum(v & 1 for v in vec) / pages
        finally:
            m.close()


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
        figures = {"size_mib": args.size_mib}
        for state in ("cold", "warm"):
            set_cache(stored, state == "warm")
            cached = cached_fraction(stored)
            t = time.time()
            subprocess.run(["cp", "--reflink=never", stored,
                            os.path.join(work, "cp.copy")], check=True)
            subprocess.run(["sync"], check=True)
            cp_s = time.time() - t
            os.remove(os.path.join(work, "cp.copy"))

            set_cache(stored, state == "warm")
            cached_copy = cached_fraction(stored)
            user0, sys0 = cpu_seconds(srv.pid)
            t = time.time()
            dest = api.copy(image_id)
            check(api.wait_image(DST, dest, "Available", timeout=900) ==
                  "Available", "copy")
            copy_s = time.time() - t
            user1, sys1 = cpu_seconds(srv.pid)
            api.call("DeleteImage", region_id=DST, image_id=dest)
            figures.update({
                state + "_cached_before_cp": round(cached, 2),
                state + "_cached_before_copy": round(cached_copy, 2),
                state + "_cp_sync_s": round(cp_s, 2),
                state + "_cp_sync_mib_s": round(args.size_mib / cp_s, 1),
                state + "_copy_image_s": round(copy_s, 2),
                state + "_copy_image_mib_s": round(args.size_mib / copy_s, 1),
                state + "_ratio_vs_cp": round(cp_s / copy_s, 2),
                state + "_server_user_s_per_gib": round((user1 - user0) / gib,
                                                        2),
                state + "_server_sys_s_per_gib": round((sys1 - sys0) / gib, 2),
            })
            log(state, "cp+sync %.2fs, CopyImage %.2fs, ratio %.2f" %
                (cp_s, copy_s, cp_s / copy_s))
    finally:
        srv.term()
    rel_lib.write_figures(args, "copy_bench", figures)
    if not keep:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    try:
        main()
    except rel_lib.Failure as e:
        log("FAIL", e)
        sys.exit(1)
