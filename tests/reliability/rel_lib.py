"""Shared helpers of the reliability tests (run with /usr/bin/python3).

Stubs are generated at test time from the repository's proto (and the
Debian-shipped google/rpc and grpc/health protos) with protoc and
grpc_python_plugin, so nothing generated is committed.

The server is a real `ecsimage serve` subprocess; its stderr goes to a log
file, and the JSON start line gives the chosen port.
"""

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
GOOGLEAPIS = "/usr/share/gocode/src/github.com/gogo/googleapis"
GRPC_PROTO = "/usr/share/grpc-proto"

REGIONS = ["cn-hangzhou", "cn-shanghai", "cn-beijing", "cn-shenzhen",
           "ap-southeast-1"]
ALL_STATUSES = "Waiting,Creating,Available,UnAvailable,CreateFailed,Deprecated"
TERMINAL_PHASES = ("SUCCEEDED", "FAILED", "CANCELLED")


def log(*args):
    print(time.strftime("%H:%M:%S"), *args, flush=True)


class Failure(Exception):
    pass


def check(cond, what):
    if not cond:
        raise Failure(what)


_stubs = None


def stubs():
    """Generates and imports the Python stubs once per process."""
    global _stubs
    if _stubs is not None:
        return _stubs
    out = tempfile.mkdtemp(prefix="ecsimage_pystubs_")
    plugin = shutil.which("grpc_python_plugin") or "/usr/bin/grpc_python_plugin"
    # health.proto goes under another directory: a generated "grpc"
    # package would be shadowed by grpcio's. The wire names (package
    # grpc.health.v1) do not change.
    health_root = os.path.join(out, "src")
    os.makedirs(os.path.join(health_root, "relhealth"))
    shutil.copyfile(os.path.join(GRPC_PROTO, "grpc/health/v1/health.proto"),
                    os.path.join(health_root, "relhealth", "health.proto"))
    jobs = [
        (os.path.join(REPO, "proto"), "ecs/image/v1/image_service.proto", True),
        (GOOGLEAPIS, "google/rpc/status.proto", False),
        (GOOGLEAPIS, "google/rpc/error_details.proto", False),
        (health_root, "relhealth/health.proto", True),
    ]
    for root, rel, with_grpc in jobs:
        cmd = ["protoc", "-I" + root, "-I/usr/include", "-I" + GOOGLEAPIS,
               "--python_out=" + out]
        if with_grpc:
            cmd += ["--grpc_python_out=" + out,
                    "--plugin=protoc-gen-grpc_python=" + plugin]
        cmd.append(os.path.join(root, rel))
        subprocess.run(cmd, check=True)
    sys.path.insert(0, out)
    from ecs.image.v1 import image_service_pb2 as pb
    from ecs.image.v1 import image_service_pb2_grpc as pbg
    from google.rpc import status_pb2, error_details_pb2
    from relhealth import health_pb2, health_pb2_grpc

    class S:
        pass
    s = S()
    s.pb, s.pbg = pb, pbg
    s.status_pb2, s.error_details_pb2 = status_pb2, error_details_pb2
    s.health_pb2, s.health_pb2_grpc = health_pb2, health_pb2_grpc
    _stubs = s
    return s


def ecs_error(err):
    """(grpc code name, ECS code, httpStatus) of a grpc.RpcError."""
    s = stubs()
    code = err.code().name if hasattr(err, "code") else "UNKNOWN"
    ecs, http = "", ""
    try:
        trailers = err.trailing_metadata() or ()
    except Exception:  # noqa: BLE001 - some errors carry no call
        trailers = ()
    for k, v in trailers:
        if k == "grpc-status-details-bin":
            st = s.status_pb2.Status()
            st.ParseFromString(v)
            for d in st.details:
                if d.Is(s.error_details_pb2.ErrorInfo.DESCRIPTOR):
                    info = s.error_details_pb2.ErrorInfo()
                    d.Unpack(info)
                    ecs = info.metadata.get("code", "")
                    http = info.metadata.get("httpStatus", "")
    return code, ecs, http


def find_binary(build_dir):
    for p in (os.path.join(build_dir, "service", "ecsimage"),
              os.path.join(build_dir, "ecsimage")):
        if os.access(p, os.X_OK):
            return p
    raise Failure("no ecsimage binary under " + build_dir)


def create_account(binary, db, name):
    out = subprocess.run([binary, "account", "create", "--db", db,
                          "--name", name], check=True, capture_output=True,
                         text=True, timeout=60)
    for line in out.stdout.splitlines():
        line = line.strip()
        if line.startswith("{"):
            j = json.loads(line)
            return j["account_id"], j["token"]
    raise Failure("account create printed no JSON: " + out.stdout)


class Server:
    """One `ecsimage serve` subprocess on 127.0.0.1:0."""

    def __init__(self, binary, db, log_path, extra=(), preexec=None):
        self.binary, self.db, self.log_path = binary, db, log_path
        self.extra = list(extra)
        self.preexec = preexec
        self.proc = None
        self.port = None

    def start(self, timeout=60):
        logf = open(self.log_path, "ab")
        start_offset = logf.tell()
        cmd = [self.binary, "serve", "--db", self.db,
               "--listen", "127.0.0.1:0", "--log-calls=false",
               "--shutdown-grace-seconds", "0"] + self.extra
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL,
                                     stderr=logf, preexec_fn=self.preexec)
        logf.close()
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise Failure("server exited %s at start; log %s:\n%s" % (
                    self.proc.returncode, self.log_path, self.log_tail()))
            with open(self.log_path, "rb") as f:
                f.seek(start_offset)
                for line in f.read().decode(errors="replace").splitlines():
                    if line.startswith("{") and '"started"' in line:
                        self.port = json.loads(line)["port"]
                        return self
            time.sleep(0.02)
        raise Failure("server did not start in %ds" % timeout)

    @property
    def address(self):
        return "127.0.0.1:%d" % self.port

    @property
    def pid(self):
        return self.proc.pid

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def kill(self):
        if self.alive():
            self.proc.send_signal(signal.SIGKILL)
        if self.proc is not None:
            self.proc.wait()

    def term(self, timeout=30):
        """SIGTERM; returns the exit code (None if it hung and was killed)."""
        if not self.alive():
            return self.proc.returncode
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            return None

    def log_tail(self, n=30):
        try:
            with open(self.log_path, "rb") as f:
                lines = f.read().decode(errors="replace").splitlines()
            return "\n".join(lines[-n:])
        except OSError:
            return ""

    def proc_status(self):
        """{VmRSS kB, Threads} of the live process."""
        out = {}
        with open("/proc/%d/status" % self.pid) as f:
            for line in f:
                k, _, v = line.partition(":")
                if k in ("VmRSS", "VmHWM", "Threads"):
                    out[k] = int(v.split()[0])
        return out


def channel(address):
    import grpc
    return grpc.insecure_channel(address, options=[
        ("grpc.enable_retries", 0),
        ("grpc.max_receive_message_length", 64 * 1024 * 1024),
        ("grpc.max_send_message_length", 64 * 1024 * 1024)])


def auth(token):
    return (("authorization", "Bearer " + token),)


def health_status(address, timeout=5.0):
    """'SERVING' / 'NOT_SERVING' or the grpc error code name."""
    import grpc
    s = stubs()
    with channel(address) as ch:
        stub = s.health_pb2_grpc.HealthStub(ch)
        try:
            r = stub.Check(s.health_pb2.HealthCheckRequest(service=""),
                           timeout=timeout)
            return s.health_pb2.HealthCheckResponse.ServingStatus.Name(r.status)
        except grpc.RpcError as e:
            return e.code().name


def wait_health(address, timeout=20.0):
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        last = health_status(address, timeout=2.0)
        if last == "SERVING":
            return
        time.sleep(0.05)
    raise Failure("Health not SERVING after %.0fs: %s" % (timeout, last))


def snapshot_db(db, dest_dir):
    """Copies the database and its WAL (as a crash left them) to dest_dir and
    returns the copy's path; the -shm file is rebuilt by SQLite."""
    os.makedirs(dest_dir, exist_ok=True)
    dst = os.path.join(dest_dir, os.path.basename(db))
    for suffix in ("", "-wal"):
        for p in (dst + suffix, dst + "-shm"):
            if os.path.exists(p):
                os.unlink(p)
    for suffix in ("", "-wal"):
        if os.path.exists(db + suffix):
            shutil.copyfile(db + suffix, dst + suffix)
    return dst


def integrity(db_path):
    """PRAGMA integrity_check and foreign_key_check of a database file."""
    con = sqlite3.connect(db_path)
    try:
        ic = [r[0] for r in con.execute("PRAGMA integrity_check")]
        fk = con.execute("PRAGMA foreign_key_check").fetchall()
    finally:
        con.close()
    return ic, fk


# Contract invariants that must hold in every committed state (api.md
# sections 3-4), as SQL returning offending rows.
INVARIANT_QUERIES = {
    "running copy references a tombstoned image": """
        SELECT c.id, c.phase, s.image_id, d.image_id FROM copy_tasks c
        JOIN images s ON s.id = c.source_image_rowid
        JOIN images d ON d.id = c.dest_image_rowid
        WHERE c.phase NOT IN ('SUCCEEDED','FAILED','CANCELLED')
          AND (s.deleted_at_ms IS NOT NULL OR d.deleted_at_ms IS NOT NULL)""",
    "share on a tombstoned image": """
        SELECT i.image_id, sh.account_id FROM shares sh
        JOIN images i ON i.id = sh.image_rowid
        WHERE i.deleted_at_ms IS NOT NULL""",
    "active import/export on a tombstoned image": """
        SELECT t.task_id, t.action, t.status, i.image_id FROM io_tasks t
        JOIN images i ON i.id = t.image_rowid
        WHERE t.status IN ('Waiting','Processing')
          AND i.deleted_at_ms IS NOT NULL""",
    "copy destination status does not mirror its phase": """
        SELECT c.id, c.phase, d.status, d.deleted_at_ms FROM copy_tasks c
        JOIN images d ON d.id = c.dest_image_rowid
        WHERE NOT (
          (c.phase = 'QUEUED' AND d.status = 'Waiting'
             AND d.deleted_at_ms IS NULL) OR
          (c.phase IN ('PREPARING','TRANSFERRING','REGISTERING')
             AND d.status = 'Creating' AND d.deleted_at_ms IS NULL) OR
          (c.phase = 'SUCCEEDED' AND d.status IN ('Available','Deprecated')) OR
          (c.phase = 'SUCCEEDED' AND d.deleted_at_ms IS NOT NULL) OR
          (c.phase = 'FAILED' AND d.status = 'CreateFailed') OR
          (c.phase = 'CANCELLING' AND d.status = 'UnAvailable'
             AND d.deleted_at_ms IS NULL) OR
          (c.phase = 'CANCELLED' AND d.deleted_at_ms IS NOT NULL))""",
    "live image counter differs from a recount": """
        SELECT k.owner_key, k.region_id, k.status, k.live_count, r.n
        FROM image_counts k LEFT JOIN (
          SELECT coalesce(owner_account_id,'') o, region_id, status, count(*) n
          FROM images WHERE deleted_at_ms IS NULL GROUP BY 1,2,3) r
        ON r.o = k.owner_key AND r.region_id = k.region_id
           AND r.status = k.status
        WHERE k.live_count <> coalesce(r.n, 0)
        UNION ALL
        SELECT r.o, r.region_id, r.status, NULL, r.n FROM (
          SELECT coalesce(owner_account_id,'') o, region_id, status, count(*) n
          FROM images WHERE deleted_at_ms IS NULL GROUP BY 1,2,3) r
        WHERE NOT EXISTS (SELECT 1 FROM image_counts k
          WHERE k.owner_key = r.o AND k.region_id = r.region_id
            AND k.status = r.status)""",
    "visible image counter differs from a recount": """
        WITH r(k, region_id, status, n) AS (
          SELECT 'shared:' || s.account_id, i.region_id, i.status, count(*)
          FROM shares s JOIN images i ON i.id = s.image_rowid
          WHERE i.deleted_at_ms IS NULL AND i.is_public = 0
            AND i.owner_account_id IS NOT NULL
            AND i.owner_account_id <> s.account_id
          GROUP BY 1, 2, 3
          UNION ALL
          SELECT 'public', region_id, status, count(*) FROM images
          WHERE deleted_at_ms IS NULL AND is_public = 1
            AND owner_account_id IS NOT NULL GROUP BY 1, 2, 3
          UNION ALL
          SELECT 'public:' || owner_account_id, region_id, status, count(*)
          FROM images WHERE deleted_at_ms IS NULL AND is_public = 1
            AND owner_account_id IS NOT NULL GROUP BY 1, 2, 3)
        SELECT k.viewer_key, k.region_id, k.status, k.live_count, r.n
        FROM visible_counts k LEFT JOIN r ON r.k = k.viewer_key
          AND r.region_id = k.region_id AND r.status = k.status
        WHERE k.live_count <> coalesce(r.n, 0)
        UNION ALL
        SELECT r.k, r.region_id, r.status, NULL, r.n FROM r
        WHERE NOT EXISTS (SELECT 1 FROM visible_counts k
          WHERE k.viewer_key = r.k AND k.region_id = r.region_id
            AND k.status = r.status)""",
    "live instance counter differs from a recount": """
        SELECT i.image_id, i.live_instance_count,
          (SELECT count(*) FROM instances n WHERE n.image_rowid = i.id
             AND n.released_at_ms IS NULL) AS real
        FROM images i WHERE i.live_instance_count <> (
          SELECT count(*) FROM instances n WHERE n.image_rowid = i.id
            AND n.released_at_ms IS NULL)""",
    "progress out of range": """
        SELECT 'copy', id, progress FROM copy_tasks
          WHERE progress NOT BETWEEN 0 AND 100
        UNION ALL SELECT 'image', id, progress FROM images
          WHERE progress NOT BETWEEN 0 AND 100""",
}


def invariant_violations(db_path, force_deleted=()):
    """{description: [rows]} of every broken invariant. An instance may keep
    referencing a tombstoned image only if that image was the target of a
    Force=true DeleteImage (`force_deleted`: image ids)."""
    con = sqlite3.connect(db_path)
    out = {}
    try:
        for what, sql in INVARIANT_QUERIES.items():
            rows = con.execute(sql).fetchall()
            if rows:
                out[what] = rows[:10]
        rows = con.execute("""
            SELECT n.instance_id, i.image_id FROM instances n
            JOIN images i ON i.id = n.image_rowid
            WHERE n.released_at_ms IS NULL
              AND i.deleted_at_ms IS NOT NULL""").fetchall()
        bad = [r for r in rows if r[1] not in force_deleted]
        if bad:
            out["live instance references an image deleted without Force"] = (
                bad[:10])
    finally:
        con.close()
    return out


def file_sizes(db):
    return {s: (os.path.getsize(db + s) if os.path.exists(db + s) else 0)
            for s in ("", "-wal")}


def add_common_args(parser):
    parser.add_argument("--build-dir", default=os.environ.get(
        "ECSIMAGE_BUILD_DIR", os.path.join(REPO, "build")))
    parser.add_argument("--binary", default=None,
                        help="ecsimage binary (default BUILD_DIR/service/ecsimage)")
    parser.add_argument("--workdir", default=None,
                        help="keep files here (default: a temp dir, removed "
                             "on success)")
    parser.add_argument("--figures", default=None,
                        help="append one JSON line of figures to this file")


def setup(args, name):
    binary = args.binary or find_binary(args.build_dir)
    if args.workdir:
        os.makedirs(args.workdir, exist_ok=True)
        work, keep = args.workdir, True
    else:
        work, keep = tempfile.mkdtemp(prefix="ecsimage_%s_" % name), False
    return os.path.abspath(binary), work, keep


def write_figures(args, name, figures):
    line = json.dumps(dict(test=name, **figures), sort_keys=True)
    log("FIGURES", line)
    if args.figures:
        with open(args.figures, "a") as f:
            f.write(line + "\n")
