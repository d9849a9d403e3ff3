#!/usr/bin/python3
"""The database integrity check off the serving path (issue 14, part 3).

A SQLite file is given a few hundred images through the API, stopped, and
copied. The copy stays healthy; the original gets 64 bytes of garbage over
the b-tree header of its last page (the serving path does not read it).

- healthy copy, default flags: SERVING, then one "integrity check ok" line,
  ecsimage_db_integrity_checks_total{result="ok"} 1, corrupt 0, writes work;
- corrupt file, default flags (--integrity-check=background): the server
  starts (nothing on its way to SERVING reads the bad page), then the
  background check finds the corruption:
  Health NOT_SERVING, one error log line, ecsimage_db_integrity_corrupt 1,
  CreateImage refused UNAVAILABLE/ServiceUnavailable, SIGTERM exits 0;
- corrupt file, --integrity-check=startup: serve refuses to start;
- `ecsimage backup` of the corrupt file is refused and writes no file.

usage: /usr/bin/python3 tests/reliability/integrity_test.py --binary BIN
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import rel_lib as rl  # noqa: E402
import replicas_test as rt  # noqa: E402

IMAGES = 300


def start_line(server):
    with open(server.log_path) as f:
        lines = [json.loads(l) for l in f if l.startswith("{")]
    started = [l for l in lines if l.get("msg") == "started"]
    return started[-1]


def log_lines(server, msg_prefix):
    with open(server.log_path) as f:
        lines = [json.loads(l) for l in f if l.startswith("{")]
    return [l for l in lines if l.get("msg", "").startswith(msg_prefix)]


def metrics(port):
    with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port,
                                timeout=5) as r:
        text = r.read().decode()
    out = {}
    for line in text.splitlines():
        if line.startswith("ecsimage_db_integrity"):
            name, _, value = line.rpartition(" ")
            out[name] = float(value)
    return out


def wait_for(what, fn, timeout=60.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        got = fn()
        if got:
            return got
        time.sleep(0.05)
    raise rl.Failure("timed out waiting for " + what)


def serve(binary, db, work, name, extra=()):
    return rl.Server(binary, db, os.path.join(work, name + ".log"),
                     extra=["--metrics-listen", "127.0.0.1:0"] +
                     list(extra)).start()


def corrupt_last_page(path):
    size = os.path.getsize(path)
    rl.check(size > 8 * 4096, "database is larger than 8 pages (%d)" % size)
    with open(path, "r+b") as f:
        f.seek(size - 4096)
        f.write(b"\xa5" * 64)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    rl.add_common_args(p)
    args = p.parse_args()
    binary, work, keep = rl.setup(args, "integrity")
    db = os.path.join(work, "integrity.db")
    healthy = os.path.join(work, "healthy.db")
    failures = []
    figures = {}
    servers = []
    try:
        srv = serve(binary, db, work, "fill")
        servers.append(srv)
        _, token = rl.create_account(binary, db, "integrity")
        c = rt.Client(srv.address, token)
        for i in range(IMAGES):
            _, err = rt.create_image(c, "fill-%d" % i)
            rl.check(err is None, "CreateImage fill-%d: %s" % (i, err))
        c.ch.close()
        rl.check(srv.term() == 0, "fill server exits 0 on SIGTERM")
        rl.check(not os.path.exists(db + "-wal"),
                 "the last connection checkpointed the WAL")
        shutil.copyfile(db, healthy)
        corrupt_last_page(db)

        # Healthy: the check runs after SERVING and finds nothing.
        srv = serve(binary, healthy, work, "healthy")
        servers.append(srv)
        mport = start_line(srv)["metricsPort"]
        rl.wait_health(srv.address)
        ok = wait_for("integrity ok line",
                      lambda: log_lines(srv, "database integrity check ok"))
        m = metrics(mport)
        rl.check(m.get('ecsimage_db_integrity_checks_total{result="ok"}') ==
                 1 and m.get("ecsimage_db_integrity_corrupt") == 0,
                 "healthy: checks_total{ok} 1 and corrupt 0: %s" % m)
        figures["healthy_check_s"] = round(ok[0]["seconds"], 3)
        c = rt.Client(srv.address, token)
        _, err = rt.create_image(c, "after-check")
        rl.check(err is None, "healthy: a write after the check: %s" % err)
        c.ch.close()
        rl.check(rl.health_status(srv.address) == "SERVING",
                 "healthy: still SERVING")
        rl.check(srv.term() == 0, "healthy: SIGTERM exits 0")
        rl.log("ok - healthy database: SERVING, check ok in %.3f s"
               % ok[0]["seconds"])

        # Corrupt, background check (the default).
        srv = serve(binary, db, work, "corrupt")
        servers.append(srv)
        mport = start_line(srv)["metricsPort"]
        t0 = time.time()
        wait_for("Health NOT_SERVING",
                 lambda: rl.health_status(srv.address) == "NOT_SERVING",
                 timeout=30)
        figures["corrupt_not_serving_after_s"] = round(time.time() - t0, 3)
        bad = log_lines(srv, "database integrity check found corruption")
        rl.check(len(bad) == 1 and bad[0]["level"] == "error" and
                 "corrupt" in bad[0].get("error", "") + bad[0]["msg"],
                 "corrupt: one error line says why: %s" % bad)
        m = metrics(mport)
        rl.check(m.get("ecsimage_db_integrity_corrupt") == 1 and
                 m.get('ecsimage_db_integrity_checks_total{result="corrupt"}')
                 == 1, "corrupt: metrics say so: %s" % m)
        c = rt.Client(srv.address, token)
        _, err = rt.create_image(c, "refused")
        rl.check(err == ("UNAVAILABLE", "ServiceUnavailable"),
                 "corrupt: CreateImage refused UNAVAILABLE/ServiceUnavailable,"
                 " got %s" % (err,))
        c.ch.close()
        rl.check(srv.term() == 0, "corrupt: SIGTERM exits 0")
        rl.log("ok - corrupt database: NOT_SERVING %.2f s after start, "
               "writes refused, log line and metric"
               % figures["corrupt_not_serving_after_s"])

        # Corrupt, checked before serving.
        out = subprocess.run([binary, "serve", "--db", db, "--listen",
                              "127.0.0.1:0", "--integrity-check=startup"],
                             capture_output=True, text=True, timeout=60)
        rl.check(out.returncode != 0 and "corrupt" in out.stderr,
                 "startup check: serve refuses (rc %d): %s"
                 % (out.returncode, out.stderr[-300:]))
        rl.log("ok - --integrity-check=startup refuses the corrupt file")

        # Backup of the corrupt file.
        backup = os.path.join(work, "backup.db")
        out = subprocess.run([binary, "backup", "--db", db, "--to", backup],
                             capture_output=True, text=True, timeout=60)
        rl.check(out.returncode != 0 and "corrupt" in out.stderr and
                 not os.path.exists(backup) and
                 not os.path.exists(backup + ".partial"),
                 "backup of a corrupt file refused, nothing written (rc %d): %s"
                 % (out.returncode, out.stderr[-300:]))
        rl.log("ok - backup refuses the corrupt file")
    except rl.Failure as e:
        failures.append(str(e))
    finally:
        for srv in servers:
            srv.kill()
    rl.write_figures(args, "integrity", figures)
    for f in failures:
        print("FAIL -", f)
        for srv in servers[-1:]:
            print(srv.log_tail())
    print("%d passed, %d failed" % (0 if failures else 1, len(failures)))
    if not failures and not keep:
        shutil.rmtree(work, ignore_errors=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
