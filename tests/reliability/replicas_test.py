#!/usr/bin/python3
"""Several `ecsimage serve` replicas on one PostgreSQL database
(scale-out.md §7), against a throwaway server of scripts/pg_server.sh.

Phases, each a failure if any check fails:
  start     three replicas started at once on an empty database: each
            migration step and the seeding happen once, all three serve;
  races     the contract's races with the two sides on different replicas
            (DeleteImage vs RunInstances, two CreateImage with one name, the
            quota edge), many rounds released together, every outcome seen;
  load      writes over all three replicas, one SIGKILLed and restarted
            mid-load; every acknowledged write is then present, and the
            longest gap a retrying client saw is measured;
  takeover  copies running on the replica that holds their leases, which is
            SIGKILLed: another replica finishes them, no phase moved twice,
            and the takeover time is measured against two lease terms;
  pg_crash  PostgreSQL stopped with -m immediate under load: calls answer
            UNAVAILABLE and readiness goes NOT_SERVING while liveness stays
            SERVING; after the restart readiness is SERVING again without
            restarting ecsimage, and nothing acknowledged is lost;
  dump_restore  pg_dump of the database, pg_restore into a new one, and a
            server on the copy sees the same images as the original.

usage: /usr/bin/python3 tests/reliability/replicas_test.py --binary BIN
       [--rounds N] [--seconds S] [--figures FILE]
"""

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import rel_lib as rl  # noqa: E402

PG_SERVER = os.path.join(rl.REPO, "scripts", "pg_server.sh")
LEASE_SECONDS = 2
# Live images per account and region: the quota race fills a fresh account
# to one below it; the other phases spread their images over the regions.
QUOTA = 300
# A copy of a 40 GiB image at this rate transfers for 10 s.
RATE_MIB = 4096


class Pg:
    """The throwaway server and one database on it."""

    def __init__(self, work):
        # Directly under the temp root: the server runs as an unprivileged
        # user, who cannot enter a 0700 work dir of root's (mkdtemp).
        self.dir = tempfile.mkdtemp(prefix="ecsimage-pg-")
        out = subprocess.run([PG_SERVER, "start", self.dir], check=True,
                             capture_output=True, text=True, timeout=300)
        self.server_uri = out.stdout.strip().splitlines()[-1]
        self.db = "ecsimage_replicas"
        self.psql_server("CREATE DATABASE %s" % self.db)
        self.uri = self.server_uri.replace("/postgres?", "/%s?" % self.db)

    def psql_server(self, sql):
        return self._psql(self.server_uri, sql)

    def query(self, sql):
        return self._psql(self.uri, sql)

    @staticmethod
    def _psql(uri, sql):
        out = subprocess.run(["psql", uri, "-X", "-At", "-v", "ON_ERROR_STOP=1",
                              "-c", sql], check=True, capture_output=True,
                             text=True, timeout=60)
        return [line for line in out.stdout.splitlines() if line]

    def kill(self):
        subprocess.run([PG_SERVER, "kill", self.dir], check=True, timeout=120,
                       capture_output=True)

    def restart(self):
        subprocess.run([PG_SERVER, "restart", self.dir], check=True,
                       timeout=120, capture_output=True)

    def stop(self):
        subprocess.run([PG_SERVER, "stop", self.dir], timeout=120,
                       capture_output=True)


def health(address, service, timeout=2.0):
    import grpc
    s = rl.stubs()
    with rl.channel(address) as ch:
        stub = s.health_pb2_grpc.HealthStub(ch)
        try:
            r = stub.Check(s.health_pb2.HealthCheckRequest(service=service),
                           timeout=timeout)
            return s.health_pb2.HealthCheckResponse.ServingStatus.Name(
                r.status)
        except grpc.RpcError as e:
            return e.code().name


def wait_for(what, fn, timeout):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if fn():
            return time.time()
        time.sleep(0.05)
    raise rl.Failure("timed out (%ds) waiting for %s" % (timeout, what))


class Replicas:
    def __init__(self, binary, pg, work, n=3):
        self.binary, self.pg, self.work = binary, pg, work
        self.servers = []
        for i in range(n):
            self.servers.append(rl.Server(
                binary, pg.uri, os.path.join(work, "replica%d.log" % i),
                extra=["--replica-id", "r%d" % i,
                       "--task-lease-seconds", str(LEASE_SECONDS),
                       "--transfer-rate-mib", str(RATE_MIB),
                       "--image-quota", str(QUOTA)]))

    def start_all_at_once(self):
        errors = []

        def run(s):
            try:
                s.start()
            except Exception as e:  # noqa: BLE001
                errors.append(e)
        threads = [threading.Thread(target=run, args=(s,))
                   for s in self.servers]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        if errors:
            raise errors[0]

    def addresses(self):
        return [s.address for s in self.servers]

    def stop(self):
        for s in self.servers:
            s.kill()


class Client:
    """A stub set on one replica."""

    def __init__(self, address, token):
        s = rl.stubs()
        self.ch = rl.channel(address)
        self.img = s.pbg.ImageServiceStub(self.ch)
        self.ins = s.pbg.InstanceServiceStub(self.ch)
        self.md = rl.auth(token)

    def call(self, fn, req, timeout=10):
        """(response, None) or (None, (grpc code, ECS code))."""
        import grpc
        try:
            return fn(req, metadata=self.md, timeout=timeout), None
        except grpc.RpcError as e:
            code, ecs, _ = rl.ecs_error(e)
            return None, (code, ecs)


def create_image(client, name, token=None, region="cn-hangzhou"):
    s = rl.stubs()
    return client.call(client.img.CreateImage, s.pb.CreateImageRequest(
        region_id=region, image_name=name,
        client_token=token or uuid.uuid4().hex))


# How many images one load writer keeps alive (6 writers, 3+ regions: far
# below the per-region image quota of 1000).
LIVE_PER_WRITER = 20


def region_of(i):
    return rl.REGIONS[i % len(rl.REGIONS)]


def phase_start(reps, failures):
    pg = reps.pg
    reps.start_all_at_once()
    # Every step is DDL that fails when applied twice (CREATE TABLE, ADD
    # COLUMN), and the seed inserts keyed rows: three replicas up, the
    # schema at the latest version and one copy of the seed prove each ran
    # once.
    version = pg.query("SELECT version FROM schema_meta")
    regions = pg.query("SELECT count(*) FROM regions")
    system = pg.query("SELECT count(*) FROM images WHERE is_system = 1")
    per_region = pg.query("SELECT count(*) FROM images WHERE is_system = 1 "
                          "GROUP BY region_id, image_id HAVING count(*) > 1")
    rl.log("start: schema", version, "regions", regions, "system images",
           system)
    if version != ["6"]:
        failures.append("schema version after start: %s" % version)
    if regions != ["5"] or per_region:
        failures.append("seed applied more than once: regions %s, %s"
                        % (regions, per_region))
    for addr in reps.addresses():
        for service in ("", "liveness"):
            st = health(addr, service)
            if st != "SERVING":
                failures.append("%s health %r: %s" % (addr, service, st))
    return reps


def race_rounds(rounds, fn_a, fn_b):
    """Runs fn_a and fn_b together (a barrier) `rounds` times; returns the
    list of (a_result, b_result)."""
    out = []
    for i in range(rounds):
        barrier = threading.Barrier(2)
        res = [None, None]

        def run(k, fn):
            barrier.wait()
            res[k] = fn(i)
        ta = threading.Thread(target=run, args=(0, fn_a))
        tb = threading.Thread(target=run, args=(1, fn_b))
        ta.start()
        tb.start()
        ta.join()
        tb.join()
        out.append(tuple(res))
    return out


def phase_races(reps, token, rounds, failures):
    s = rl.stubs()
    a_addr, b_addr, c_addr = reps.addresses()
    a, b = Client(a_addr, token), Client(b_addr, token)

    # DeleteImage on replica A against RunInstances on replica B.
    images = []
    for i in range(rounds):
        resp, err = create_image(a, "race-del-%d" % i, region=region_of(i))
        if err:
            failures.append("setup CreateImage: %s" % (err,))
            return
        images.append(resp.image_id)
    # The images must be Available: CreateImage's work at the default rate.
    wait_for("images Available", lambda: pg_count(
        reps.pg, "SELECT count(*) FROM images WHERE image_id IN (%s) AND "
        "status = 'Available'" % ",".join("'%s'" % x for x in images))
        == len(images), 120)

    def delete(i):
        _, err = a.call(a.img.DeleteImage, s.pb.DeleteImageRequest(
            region_id=region_of(i), image_id=images[i]))
        return "OK" if err is None else err[1]

    def run(i):
        _, err = b.call(b.ins.RunInstances, s.pb.RunInstancesRequest(
            region_id=region_of(i), image_id=images[i], amount=1,
            client_token=uuid.uuid4().hex))
        return "OK" if err is None else err[1]
    outcomes = {}
    for d, r in race_rounds(rounds, delete, run):
        outcomes[(d, r)] = outcomes.get((d, r), 0) + 1
    rl.log("race DeleteImage/RunInstances:", outcomes)
    # Both OK would be an instance on a deleted image: the race lost.
    allowed = {("OK", "InvalidImageId.NotFound"),
               ("ImageUsingByInstance", "OK")}
    for k in outcomes:
        if k not in allowed:
            failures.append("DeleteImage/RunInstances outcome %s" % (k,))
    # Both orders must have happened: a race test whose sides never
    # overlapped in both ways proves nothing.
    if not any(k[0] == "ImageUsingByInstance" for k in outcomes):
        failures.append("RunInstances never won the race: %s" % outcomes)
    if not any(k == ("OK", "InvalidImageId.NotFound") for k in outcomes):
        failures.append("DeleteImage never won the race: %s" % outcomes)

    # Two CreateImage with one name, on two replicas.
    def create_on(client):
        def fn(i):
            _, err = create_image(client, "race-name-%d" % i,
                                  region=region_of(i))
            return "OK" if err is None else err[1]
        return fn
    names = {}
    for x, y in race_rounds(rounds, create_on(a), create_on(b)):
        names[(x, y)] = names.get((x, y), 0) + 1
    rl.log("race CreateImage/CreateImage same name:", names)
    allowed = {("OK", "InvalidImageName.Duplicated"),
               ("InvalidImageName.Duplicated", "OK")}
    for k in names:
        if k not in allowed:
            failures.append("same-name CreateImage outcome %s" % (k,))
    if len(names) < 2:
        failures.append("same-name race did not show both winners: %s"
                        % names)

    # The quota edge: a fresh account one image below the quota; two
    # creates on two replicas; exactly one succeeds.
    quota = {}
    for i in range(max(4, rounds // 5)):
        acct, tok = rl.create_account(reps.binary, reps.pg.uri,
                                      "quota%d" % i)
        qa, qb = Client(a_addr, tok), Client(c_addr, tok)
        for k in range(QUOTA - 1):
            _, err = create_image(qa, "q-%d" % k)
            if err:
                failures.append("quota setup: %s" % (err,))
                return

        def qcreate(client, tag):
            def fn(_):
                _, err = create_image(client, "edge-" + tag)
                return "OK" if err is None else err[1]
            return fn
        (x, y), = race_rounds(1, qcreate(qa, "a"), qcreate(qb, "b"))
        quota[(x, y)] = quota.get((x, y), 0) + 1
        for c in (qa, qb):
            c.ch.close()
    rl.log("race quota edge:", quota)
    for k in quota:
        if sorted(k) != ["OK", "QuotaExceed.Image"]:
            failures.append("quota edge outcome %s" % (k,))
    a.ch.close()
    b.ch.close()


def pg_count(pg, sql):
    try:
        return int(pg.query(sql)[0])
    except (subprocess.SubprocessError, IndexError, ValueError):
        return -1


class Load:
    """Writers spread over every replica, each write carrying a ClientToken
    and retried on UNAVAILABLE (as the project's clients do); every
    acknowledged image id is recorded."""

    def __init__(self, addresses, token, threads=6):
        self.addresses, self.token = addresses, token
        self.stop = threading.Event()
        self.acked = []
        self.regions = []
        self.deleted = []
        self.unexpected = []
        self.max_gap = 0.0
        self.calls = 0
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self.run, args=(i,))
                        for i in range(threads)]
        self.prefix = uuid.uuid4().hex[:8]

    def start(self):
        for t in self.threads:
            t.start()

    def finish(self):
        self.stop.set()
        for t in self.threads:
            t.join()

    def run(self, idx):
        s = rl.stubs()
        tag = "%s-%d" % (self.prefix, idx)
        clients = [Client(addr, self.token) for addr in self.addresses]
        n = 0
        live = []  # (image id, region) this writer created and not deleted
        delete_retried = False
        while not self.stop.is_set():
            n += 1
            token = uuid.uuid4().hex
            name = "load-%s-%d" % (tag, n)
            started = time.time()
            attempt = 0
            resp, err = None, ("STOPPED", "")
            while not self.stop.is_set():
                c = clients[(idx + n + attempt) % len(clients)]
                resp, err = create_image(c, name, token,
                                         region=region_of(idx + n))
                with self.lock:
                    self.calls += 1
                if err is None:
                    gap = time.time() - started
                    with self.lock:
                        self.acked.append(resp.image_id)
                        self.regions.append(region_of(idx + n))
                        self.max_gap = max(self.max_gap, gap)
                    break
                if err[0] not in ("UNAVAILABLE", "DEADLINE_EXCEEDED"):
                    with self.lock:
                        self.unexpected.append(err)
                    break
                attempt += 1
                time.sleep(0.02)
            if err is None:
                live.append((resp.image_id, region_of(idx + n)))
            # Each writer keeps at most LIVE_PER_WRITER images alive, deleting
            # its oldest: the load runs for as long as asked on a machine of
            # any speed without meeting the per-region image quota.
            while len(live) > LIVE_PER_WRITER and not self.stop.is_set():
                victim, region = live[0]
                c = clients[n % len(clients)]
                _, err = c.call(c.img.DeleteImage, s.pb.DeleteImageRequest(
                    region_id=region, image_id=victim))
                with self.lock:
                    self.calls += 1
                # A retry after UNAVAILABLE may find the first attempt done.
                done = err is None or (delete_retried and
                                       err[0] == "NOT_FOUND")
                if done:
                    live.pop(0)
                    delete_retried = False
                    with self.lock:
                        self.deleted.append(victim)
                elif err[0] in ("UNAVAILABLE", "DEADLINE_EXCEEDED"):
                    delete_retried = True
                    time.sleep(0.02)  # retried on the next pass
                else:
                    delete_retried = False
                    live.pop(0)
                    with self.lock:
                        self.unexpected.append(("DeleteImage",) + tuple(err))
        for c in clients:
            c.ch.close()


def verify_acked(pg, load, failures):
    acked = set(load.acked)
    live = set(pg.query(
        "SELECT image_id FROM images WHERE image_id LIKE 'm-%' AND "
        "deleted_at_ms IS NULL"))
    tomb = set(pg.query(
        "SELECT image_id FROM images WHERE image_id LIKE 'm-%' AND "
        "deleted_at_ms IS NOT NULL"))
    missing = [i for i in acked if i not in live and i not in tomb]
    deleted_alive = [i for i in load.deleted if i in live]
    if missing:
        failures.append("%d acknowledged creates missing, e.g. %s"
                        % (len(missing), missing[:3]))
    if deleted_alive:
        failures.append("%d acknowledged deletes undone, e.g. %s"
                        % (len(deleted_alive), deleted_alive[:3]))
    if load.unexpected:
        failures.append("unexpected errors under load: %s"
                        % load.unexpected[:5])
    return len(acked), len(load.deleted)


def phase_load(reps, token, seconds, failures, figures):
    load = Load(reps.addresses(), token)
    load.start()
    time.sleep(seconds / 3)
    victim = reps.servers[1]
    rl.log("load: SIGKILL replica 1 after %d calls" % load.calls)
    victim.kill()
    time.sleep(seconds / 3)
    victim.start()
    rl.log("load: replica 1 restarted on port", victim.port)
    # The clients keep the old address list; point slot 1 at the new port
    # for the last third by restarting the load with the new addresses.
    load.finish()
    load2 = Load(reps.addresses(), token)
    load2.start()
    time.sleep(seconds / 3)
    load2.finish()
    for extra in (load2,):
        load.acked += extra.acked
        load.deleted += extra.deleted
        load.unexpected += extra.unexpected
        load.calls += extra.calls
    n_acked, n_deleted = verify_acked(reps.pg, load, failures)
    rl.log("load: %d calls, %d creates and %d deletes acknowledged, longest "
           "gap a retrying client saw %.3f s" % (load.calls, n_acked,
                                                 n_deleted, load.max_gap))
    figures.update(load_calls=load.calls, load_acked_creates=n_acked,
                   load_acked_deletes=n_deleted,
                   load_max_retry_gap_s=round(load.max_gap, 3))


def phase_takeover(reps, token, failures, figures):
    s = rl.stubs()
    pg = reps.pg
    c = Client(reps.servers[0].address, token)
    resp, err = create_image(c, "takeover-src")
    if err:
        failures.append("takeover setup: %s" % (err,))
        return
    src = resp.image_id
    wait_for("source Available", lambda: pg_count(
        pg, "SELECT count(*) FROM images WHERE image_id = '%s' AND status = "
        "'Available'" % src) == 1, 120)
    dests = []
    for i in range(4):
        r, err = c.call(c.img.CopyImage, s.pb.CopyImageRequest(
            region_id="cn-hangzhou", image_id=src,
            destination_region_id="cn-shanghai",
            destination_image_name="takeover-%d" % i,
            client_token=uuid.uuid4().hex))
        if err:
            failures.append("CopyImage: %s" % (err,))
            return
        dests.append(r.image_id)
    ids = ",".join("'%s'" % d for d in dests)
    owner_sql = ("SELECT c.lease_owner FROM copy_tasks c JOIN images d ON "
                 "d.id = c.dest_image_rowid WHERE d.image_id IN (%s) AND "
                 "c.phase = 'TRANSFERRING'" % ids)
    wait_for("a copy transferring", lambda: pg.query(owner_sql), 60)
    owners = pg.query(owner_sql)
    holder = max(set(owners), key=owners.count)
    idx = int(holder[1:])
    rl.log("takeover: copies transferring under", owners, "; SIGKILL", holder)
    killed_at = time.time()
    reps.servers[idx].kill()
    taken_sql = ("SELECT count(*) FROM copy_tasks c JOIN images d ON "
                 "d.id = c.dest_image_rowid WHERE d.image_id IN (%s) AND "
                 "(c.lease_owner <> '%s' OR c.phase IN ('SUCCEEDED', "
                 "'FAILED', 'CANCELLED'))" % (ids, holder))
    taken_at = wait_for("takeover", lambda: pg_count(pg, taken_sql)
                        == len(dests), 10 * LEASE_SECONDS + 30)
    takeover_s = taken_at - killed_at
    wait_for("copies done", lambda: pg_count(
        pg, "SELECT count(*) FROM copy_tasks c JOIN images d ON d.id = "
        "c.dest_image_rowid WHERE d.image_id IN (%s) AND c.phase = "
        "'SUCCEEDED'" % ids) == len(dests), 180)
    moves = pg.query("SELECT c.phase_moves FROM copy_tasks c JOIN images d "
                     "ON d.id = c.dest_image_rowid WHERE d.image_id IN (%s)"
                     % ids)
    rl.log("takeover: %.2f s after the kill (lease %d s); phase moves %s"
           % (takeover_s, LEASE_SECONDS, moves))
    if any(m != "4" for m in moves):
        failures.append("a copy's phase moved other than 4 times: %s" % moves)
    figures.update(takeover_s=round(takeover_s, 2),
                   lease_seconds=LEASE_SECONDS)
    reps.servers[idx].start()
    c.ch.close()


def phase_pg_crash(reps, token, failures, figures):
    pg = reps.pg
    addr = reps.servers[0].address
    load = Load(reps.addresses(), token, threads=3)
    load.start()
    time.sleep(2)
    rl.log("pg_crash: pg_ctl stop -m immediate")
    pg.kill()
    down_at = time.time()
    wait_for("readiness NOT_SERVING", lambda: health(addr, "") ==
             "NOT_SERVING", 15)
    if health(addr, "liveness") != "SERVING":
        failures.append("liveness left SERVING during the outage")
    c = Client(addr, token)
    _, err = create_image(c, "during-outage")
    if err is None or err[0] != "UNAVAILABLE" or err[1] != "ServiceUnavailable":
        failures.append("a write during the outage answered %s" % (err,))
    time.sleep(1)
    pg.restart()
    up_at = time.time()
    ready_at = wait_for("readiness SERVING again", lambda: all(
        health(a, "") == "SERVING" for a in reps.addresses()), 60)
    time.sleep(2)
    load.finish()
    n_acked, _ = verify_acked(pg, load, failures)
    for s in reps.servers:
        if not s.alive():
            failures.append("a replica exited during the outage")
    rl.log("pg_crash: down %.1f s, ready again %.2f s after the restart; "
           "%d creates acknowledged, all present" % (up_at - down_at,
                                                     ready_at - up_at,
                                                     n_acked))
    figures.update(pg_ready_after_restart_s=round(ready_at - up_at, 2))
    c.ch.close()


def pg_bin(name):
    path = os.path.join("/usr/lib/postgresql/15/bin", name)
    return path if os.access(path, os.X_OK) else name


def describe_count(address, token):
    s = rl.stubs()
    c = Client(address, token)
    resp, err = c.call(c.img.DescribeImages, s.pb.DescribeImagesRequest(
        region_id="cn-hangzhou", status=rl.ALL_STATUSES,
        image_owner_alias="self", page_size=1))
    c.ch.close()
    if err:
        raise rl.Failure("DescribeImages: %s" % (err,))
    return resp.total_count


def phase_dump_restore(reps, binary, token, work, failures):
    pg = reps.pg
    dump = os.path.join(work, "ecsimage.dump")
    subprocess.run([pg_bin("pg_dump"), "--format=custom", "--file=" + dump,
                    pg.uri], check=True, timeout=120)
    pg.psql_server("CREATE DATABASE ecsimage_restored")
    restored = pg.server_uri.replace("/postgres?", "/ecsimage_restored?")
    subprocess.run([pg_bin("pg_restore"), "--no-owner", "--dbname=" + restored,
                    dump], check=True, timeout=120)
    before = describe_count(reps.servers[0].address, token)
    srv = rl.Server(binary, restored, os.path.join(work, "restored.log"),
                    extra=["--replica-id", "restored"])
    srv.start()
    try:
        after = describe_count(srv.address, token)
    finally:
        srv.kill()
    rl.log("dump_restore: %d images before, %d on the restored copy"
           % (before, after))
    if before != after or before == 0:
        failures.append("restored copy shows %d images, original %d"
                        % (after, before))


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    rl.add_common_args(p)
    p.add_argument("--rounds", type=int, default=30)
    p.add_argument("--seconds", type=float, default=12)
    args = p.parse_args()
    binary, work, keep = rl.setup(args, "replicas")
    if not shutil.which("psql"):
        print("replicas_test: psql missing (apt-get install -y "
              "postgresql-client-15)", file=sys.stderr)
        return 1
    failures = []
    figures = {}
    pg = Pg(work)
    reps = None
    try:
        # Made before starting, so that `finally` stops whatever started.
        reps = Replicas(binary, pg, work)
        reps = phase_start(reps, failures)
        def account(name):
            return rl.create_account(binary, pg.uri, name)[1]
        phase_races(reps, account("races"), args.rounds, failures)
        load_token = account("load")
        phase_load(reps, load_token, args.seconds, failures, figures)
        phase_takeover(reps, account("takeover"), failures, figures)
        phase_pg_crash(reps, account("outage"), failures, figures)
        phase_dump_restore(reps, binary, load_token, work, failures)
    except rl.Failure as e:
        failures.append(str(e))
    finally:
        if reps is not None:
            if failures:
                for s in reps.servers:
                    rl.log("log of", s.log_path, "\n" + s.log_tail(15))
            reps.stop()
        pg.stop()
    rl.write_figures(args, "replicas", figures)
    for f in failures:
        print("FAIL -", f)
    print("%d passed, %d failed" % (0 if failures else 1, 1 if failures
                                    else 0))
    if not failures and not keep:
        shutil.rmtree(work, ignore_errors=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
