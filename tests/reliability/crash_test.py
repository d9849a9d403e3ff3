#!/usr/bin/python3
"""Crash test: SIGKILL a real `ecsimage serve` under mixed write load.

Each round starts the server on the same database, runs workers doing
CreateImage, CopyImage, CancelCopyImage, DeleteImage (Force or not),
ModifyImageSharePermission, ModifyImageAttribute, RunInstances,
DeleteInstance, ImportImage, ExportImage and CancelTask, and SIGKILLs the
server at a random moment (seeded; the seed is logged). After each kill, on
a copy of the files the crash left:

  * PRAGMA integrity_check = ok, foreign_key_check empty;
  * every acknowledged mutation is present (each ack is logged to
    acks.log before the kill), states the definite answers imply hold, and a
    call whose answer was lost (UNAVAILABLE at the kill) shows either its
    before- or after-state;
  * contract invariants (no running copy, share or active task on a
    tombstone; a live instance references a tombstone only after a Force
    delete; counters equal recounts; copy destinations mirror their phase);
  * after restart: every task that was running at the kill moves (or ends)
    and never goes backwards; acked images are (or are not) listed by
    DescribeImages as their state says; lost CreateImage calls retried with
    their ClientToken yield exactly one image;
  * at the end, without load, every task reaches a terminal state.

Usage: crash_test.py --build-dir BUILD [--rounds 20] [--seed S] [--long]
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

UNKNOWN_CODES = ("UNAVAILABLE", "DEADLINE_EXCEEDED", "CANCELLED", "UNKNOWN")
# Definite refusals the random workload runs into by design.
EXPECTED_CODES = ("NOT_FOUND", "FAILED_PRECONDITION", "ALREADY_EXISTS",
                  "RESOURCE_EXHAUSTED", "INVALID_ARGUMENT")
PHASE_ORDER = {"QUEUED": 0, "PREPARING": 1, "TRANSFERRING": 2,
               "REGISTERING": 3, "SUCCEEDED": 4, "FAILED": 4,
               "CANCELLING": 3, "CANCELLED": 4}
WORK_REGIONS = ["cn-hangzhou", "cn-shanghai", "cn-beijing"]
MAX_RUNNING_COPIES = 5  # the server's --max-running-copies below


class Book:
    """What the clients know: acknowledged and lost mutations.

    expect[key] is the set of states the database may show for key: an ack
    makes it one state, a lost answer adds the new state to the old ones,
    a definite refusal leaves it alone. Each key is touched by one worker
    at a time, so the order of its calls is the order of their answers.
    """

    def __init__(self, ack_log):
        self.mu = threading.Lock()
        self.expect = {}
        self.force_deleted = set()
        self.acked = 0
        self.lost = 0
        self.codes = {}
        self.internal = []
        self.lost_creates = []  # (worker, request) to retry with the token
        self.ack_log = open(ack_log, "a")
        self.images = {}  # image id -> (region, owner worker)

    def note(self, line):
        self.ack_log.write(line + "\n")
        self.ack_log.flush()

    def ack(self, what, changes):
        with self.mu:
            self.acked += 1
            for key, state in changes:
                self.expect[key] = {state}
            self.note("ACK %s %s" % (what, " ".join(
                "%s=%s" % ("/".join(k), v) for k, v in changes)))

    # The state of a key nobody has acknowledged a change of yet.
    INITIAL = {"img": "live", "share": "no", "inst": "live", "desc": "",
               "cancel": "no", "task": "exists"}

    def lost_call(self, what, changes):
        with self.mu:
            self.lost += 1
            for key, state in changes:
                self.expect.setdefault(key, {self.INITIAL[key[0]]}).add(state)
            self.note("LOST %s %s" % (what, " ".join(
                "%s=%s" % ("/".join(k), v) for k, v in changes)))

    def count(self, code):
        with self.mu:
            self.codes[code] = self.codes.get(code, 0) + 1


class Worker(threading.Thread):
    """Mutates its own images (account A); worker 0 is account B and
    starts instances from images shared to it."""

    def __init__(self, idx, address, token, book, rng, stop, state,
                 other_account, shared):
        super().__init__(daemon=True)
        self.idx, self.address, self.token = idx, address, token
        self.book, self.rng, self.stop = book, rng, stop
        self.st = state  # persists across rounds
        self.other = other_account
        self.shared = shared  # image ids shared to B (dict id -> region)
        self.calls = 0

    def run(self):
        s = rl.stubs()
        import grpc
        ch = rl.channel(self.address)
        self.img = s.pbg.ImageServiceStub(ch)
        self.ins = s.pbg.InstanceServiceStub(ch)
        try:
            while not self.stop.is_set():
                try:
                    if not self.step():
                        break
                except grpc.RpcError as e:  # unexpected escape
                    self.book.note("worker %d escaped %s" % (self.idx, e))
                    break
        finally:
            ch.close()

    # One call; returns the response, or None after recording the outcome.
    def call(self, fn, req, what, changes, on_lost=None):
        import grpc
        self.calls += 1
        self.last_code = "OK"
        try:
            resp = fn(req, metadata=rl.auth(self.token), timeout=10)
        except grpc.RpcError as e:
            code, ecs, _ = rl.ecs_error(e)
            self.last_code = code
            self.book.count(code + ("/" + ecs if ecs else ""))
            if code in UNKNOWN_CODES:
                self.book.lost_call(what, changes)
                if on_lost:
                    on_lost()
                self.lost_seen = True
            elif code not in EXPECTED_CODES:
                self.book.internal.append((what, code, ecs, e.details()))
            else:
                self.book.note("REFUSED %s %s %s %s" % (what, code, ecs, " ".join(
                    "/".join(k) for k, _ in changes)))
            return None
        self.book.count("OK")
        return resp

    def step(self):
        self.lost_seen = False
        if self.idx == 0:
            self.step_b()
        else:
            self.step_a()
        # After a lost answer the server is gone: stop until the next round.
        return not self.lost_seen

    def pick(self, items):
        items = list(items)
        return self.rng.choice(items) if items else None

    def step_b(self):
        s = rl.stubs()
        r = self.rng.random()
        live = [i for i, st in self.st["instances"].items() if st == "live"]
        if r < 0.5 and self.shared:
            img_id, region = self.pick(self.shared.items())
            req = s.pb.RunInstancesRequest(region_id=region, image_id=img_id,
                                           amount=1,
                                           client_token=uuid.uuid4().hex)
            resp = self.call(self.ins.RunInstances, req, "B.RunInstances", [])
            if resp is not None:
                for iid in resp.instance_id_sets:
                    self.st["instances"][iid] = "live"
                self.book.ack("B.RunInstances %s" % img_id,
                              [(("inst", i), "live")
                               for i in resp.instance_id_sets])
        elif live:
            iid = self.pick(live)
            req = s.pb.DeleteInstanceRequest(instance_id=iid)
            ch = [(("inst", iid), "released")]
            if self.call(self.ins.DeleteInstance, req, "B.DeleteInstance",
                         ch) is not None:
                self.st["instances"][iid] = "released"
                self.book.ack("B.DeleteInstance", ch)
            elif self.last_code == "NOT_FOUND":
                # An earlier, lost DeleteInstance took effect.
                self.st["instances"][iid] = "released"
        else:
            req = s.pb.DescribeImagesRequest(region_id="cn-hangzhou",
                                             image_owner_alias="others")
            self.call(self.img.DescribeImages, req, "B.DescribeImages", [])

    def step_a(self):
        s = rl.stubs()
        st = self.st
        live = [i for i, v in st["images"].items() if v["live"]]
        ops = ["create"] * 4 + ["copy"] * 3 + ["cancel"] * 2 + \
            ["delete"] * 3 + ["share"] * 3 + ["run"] * 2 + ["delinst"] * 2 + \
            ["modify", "import", "export", "canceltask", "describe"]
        op = self.rng.choice(ops)
        if op == "create" or not live:
            n = st["next"]
            st["next"] += 1
            region = self.rng.choice(WORK_REGIONS)
            req = s.pb.CreateImageRequest(
                region_id=region, image_name="w%d-%d" % (self.idx, n),
                size=self.rng.randint(1, 3), client_token=uuid.uuid4().hex)
            resp = self.call(
                self.img.CreateImage, req, "CreateImage", [],
                on_lost=lambda: self.book.lost_creates.append(
                    (self.idx, req)))
            if resp is not None:
                self.add_image(resp.image_id, region, copy=False)
                self.book.ack("CreateImage " + resp.image_id,
                              [(("img", resp.image_id), "live")])
            return
        img_id = self.pick(live)
        info = st["images"][img_id]
        region = info["region"]
        if op == "copy" and not info["copy"]:
            dest = self.rng.choice([r for r in WORK_REGIONS if r != region])
            enc = self.rng.random() < 0.15
            req = s.pb.CopyImageRequest(
                region_id=region, image_id=img_id, destination_region_id=dest,
                destination_image_name="c%d-%d" % (self.idx, st["next"]),
                encrypted=enc, client_token=uuid.uuid4().hex)
            st["next"] += 1
            resp = self.call(self.img.CopyImage, req, "CopyImage", [])
            if resp is not None:
                self.add_image(resp.image_id, dest, copy=True)
                self.book.ack("CopyImage %s->%s" % (img_id, resp.image_id),
                              [(("img", resp.image_id), "live")])
        elif op == "cancel":
            copies = [i for i in live if st["images"][i]["copy"]]
            dest = self.pick(copies)
            if dest is None:
                return
            r = st["images"][dest]["region"]
            req = s.pb.CancelCopyImageRequest(region_id=r, image_id=dest)
            # A cancelled copy ends as a tombstone by itself, later.
            ch = [(("cancel", dest), "yes")]
            if self.call(self.img.CancelCopyImage, req, "CancelCopyImage",
                         ch + [(("img", dest), "tomb")]) is not None:
                self.book.ack("CancelCopyImage " + dest, ch)
                with self.book.mu:
                    self.book.expect[("img", dest)] = {"live", "tomb"}
                st["images"][dest]["live"] = False
        elif op == "delete":
            force = self.rng.random() < 0.5
            if force:
                with self.book.mu:
                    self.book.force_deleted.add(img_id)
            req = s.pb.DeleteImageRequest(region_id=region, image_id=img_id,
                                          force=force)
            ch = [(("img", img_id), "tomb")]
            if self.call(self.img.DeleteImage, req, "DeleteImage", ch) \
                    is not None:
                info["live"] = False
                self.shared.pop(img_id, None)
                self.book.ack("DeleteImage %s force=%s" % (img_id, force), ch)
        elif op == "share":
            key = ("share", img_id, self.other)
            adding = not info.get("shared", False)
            if adding:
                req = s.pb.ModifyImageSharePermissionRequest(
                    region_id=region, image_id=img_id, add_account=[self.other])
            else:
                req = s.pb.ModifyImageSharePermissionRequest(
                    region_id=region, image_id=img_id,
                    remove_account=[self.other])
            ch = [(key, "yes" if adding else "no")]
            if self.call(self.img.ModifyImageSharePermission, req,
                         "ModifyImageSharePermission", ch) is not None:
                info["shared"] = adding
                if adding:
                    self.shared[img_id] = region
                else:
                    self.shared.pop(img_id, None)
                self.book.ack("Share %s add=%s" % (img_id, adding), ch)
        elif op == "run":
            req = s.pb.RunInstancesRequest(region_id=region, image_id=img_id,
                                           amount=self.rng.randint(1, 3),
                                           client_token=uuid.uuid4().hex)
            resp = self.call(self.ins.RunInstances, req, "RunInstances", [])
            if resp is not None:
                for iid in resp.instance_id_sets:
                    st["instances"][iid] = "live"
                self.book.ack("RunInstances %s" % img_id,
                              [(("inst", i), "live")
                               for i in resp.instance_id_sets])
        elif op == "delinst":
            iid = self.pick([i for i, v in st["instances"].items()
                             if v == "live"])
            if iid is None:
                return
            req = s.pb.DeleteInstanceRequest(instance_id=iid)
            ch = [(("inst", iid), "released")]
            if self.call(self.ins.DeleteInstance, req, "DeleteInstance", ch) \
                    is not None:
                st["instances"][iid] = "released"
                self.book.ack("DeleteInstance " + iid, ch)
            elif self.last_code == "NOT_FOUND":
                st["instances"][iid] = "released"
        elif op == "modify":
            desc = "d%d-%d" % (self.idx, st["next"])
            st["next"] += 1
            req = s.pb.ModifyImageAttributeRequest(
                region_id=region, image_id=img_id, description=desc)
            ch = [(("desc", img_id), desc)]
            if self.call(self.img.ModifyImageAttribute, req,
                         "ModifyImageAttribute", ch) is not None:
                self.book.ack("ModifyImageAttribute " + img_id, ch)
        elif op == "import":
            n = st["next"]
            st["next"] += 1
            req = s.pb.ImportImageRequest(
                region_id=region, image_name="imp%d-%d" % (self.idx, n),
                oss_bucket="bucket", oss_object="obj/%d.qcow2" % n,
                size=self.rng.randint(1, 2), client_token=uuid.uuid4().hex)
            resp = self.call(self.img.ImportImage, req, "ImportImage", [])
            if resp is not None:
                self.add_image(resp.image_id, region, copy=False)
                st["tasks"][resp.task_id] = (region, resp.image_id)
                self.book.ack("ImportImage %s %s" % (resp.image_id,
                                                     resp.task_id),
                              [(("img", resp.image_id), "live"),
                               (("task", resp.task_id), "exists")])
        elif op == "export":
            req = s.pb.ExportImageRequest(
                region_id=region, image_id=img_id, oss_bucket="bucket",
                oss_prefix="exp/", client_token=uuid.uuid4().hex)
            resp = self.call(self.img.ExportImage, req, "ExportImage", [])
            if resp is not None:
                st["tasks"][resp.task_id] = (region, None)
                self.book.ack("ExportImage %s" % resp.task_id,
                              [(("task", resp.task_id), "exists")])
        elif op == "canceltask":
            tid = self.pick(st["tasks"].keys())
            if tid is None:
                return
            task_region, imported = st["tasks"][tid]
            req = s.pb.CancelTaskRequest(region_id=task_region, task_id=tid)
            ch = [(("task", tid), "cancelled")]
            if imported:
                # Cancelling an import tombstones its image (api.md §3).
                ch.append((("img", imported), "tomb"))
            if self.call(self.img.CancelTask, req, "CancelTask", ch) \
                    is not None:
                del st["tasks"][tid]
                if imported and imported in st["images"]:
                    st["images"][imported]["live"] = False
                self.book.ack("CancelTask " + tid, ch)
        else:
            req = s.pb.DescribeImagesRequest(region_id=region,
                                             status=rl.ALL_STATUSES,
                                             page_size=50)
            self.call(self.img.DescribeImages, req, "DescribeImages", [])

    def add_image(self, img_id, region, copy):
        self.st["images"][img_id] = {"region": region, "live": True,
                                     "copy": copy}
        with self.book.mu:
            self.book.images[img_id] = (region, self.idx)


def verify_db(db, book):
    """Checks a post-crash copy of the database against the book."""
    problems = []
    con = sqlite3.connect(db)
    try:
        checked = 0
        with book.mu:
            expect = {k: set(v) for k, v in book.expect.items()}
        for key, states in expect.items():
            kind = key[0]
            if kind == "img":
                row = con.execute(
                    "SELECT deleted_at_ms IS NOT NULL FROM images "
                    "WHERE image_id = ?", (key[1],)).fetchone()
                got = None if row is None else ("tomb" if row[0] else "live")
            elif kind == "share":
                row = con.execute(
                    "SELECT 1 FROM shares sh JOIN images i "
                    "ON i.id = sh.image_rowid WHERE i.image_id = ? "
                    "AND sh.account_id = ?", key[1:]).fetchone()
                got = "yes" if row else "no"
            elif kind == "inst":
                row = con.execute(
                    "SELECT released_at_ms IS NOT NULL FROM instances "
                    "WHERE instance_id = ?", (key[1],)).fetchone()
                got = None if row is None else (
                    "released" if row[0] else "live")
            elif kind == "desc":
                row = con.execute("SELECT description FROM images "
                                  "WHERE image_id = ?", (key[1],)).fetchone()
                got = row[0] if row else None
            elif kind == "cancel":
                row = con.execute(
                    "SELECT c.phase FROM copy_tasks c JOIN images d "
                    "ON d.id = c.dest_image_rowid WHERE d.image_id = ?",
                    (key[1],)).fetchone()
                got = "yes" if row and row[0] in (
                    "CANCELLING", "CANCELLED") else "no"
            elif kind == "task":
                row = con.execute("SELECT status FROM io_tasks "
                                  "WHERE task_id = ?", (key[1],)).fetchone()
                got = None if row is None else (
                    "cancelled" if row[0] == "Cancelled" else "exists")
            else:
                continue
            checked += 1
            if got not in states:
                problems.append("%s: database shows %r, acks allow %s" % (
                    "/".join(key), got, sorted(states)))
    finally:
        con.close()
    return checked, problems


def active_tasks(db):
    """{key: (phase/status, progress)} of every non-terminal task."""
    con = sqlite3.connect("file:%s?mode=ro" % db, uri=True, timeout=10)
    try:
        out = {}
        for rid, phase, prog in con.execute(
                "SELECT id, phase, progress FROM copy_tasks WHERE phase NOT IN "
                "('SUCCEEDED','FAILED','CANCELLED')"):
            out[("copy", rid)] = (phase, prog)
        for tid, status, prog in con.execute(
                "SELECT task_id, status, progress FROM io_tasks "
                "WHERE status IN ('Waiting','Processing')"):
            out[("io", tid)] = (status, prog)
        for iid, prog in con.execute(
                "SELECT image_id, progress FROM images WHERE status = "
                "'Creating' AND is_copied = 0 AND deleted_at_ms IS NULL AND "
                "creating_remaining_ms > 0"):
            out[("create", iid)] = ("Creating", prog)
        return out
    finally:
        con.close()


def task_state(con, key):
    kind, k = key
    if kind == "copy":
        r = con.execute("SELECT phase, progress FROM copy_tasks WHERE id = ?",
                        (k,)).fetchone()
        return (r[0], r[1]) if r else None
    if kind == "io":
        r = con.execute("SELECT status, progress FROM io_tasks "
                        "WHERE task_id = ?", (k,)).fetchone()
        return (r[0], r[1]) if r else None
    r = con.execute("SELECT status, progress, deleted_at_ms FROM images "
                    "WHERE image_id = ?", (k,)).fetchone()
    return ("Deleted" if r[2] else r[0], r[1]) if r else None


def wait_tasks_move(db, before, timeout):
    """Waits until every task of `before` has ended or moved; returns the
    ones that did not and those that went backwards."""
    deadline = time.time() + timeout
    backwards = []
    while True:
        con = sqlite3.connect("file:%s?mode=ro" % db, uri=True, timeout=10)
        stuck = {}
        try:
            for key, (phase, prog) in before.items():
                now = task_state(con, key)
                if now is None:
                    backwards.append((key, (phase, prog), "row vanished"))
                    continue
                if key[0] == "copy":
                    if PHASE_ORDER.get(now[0], 9) < PHASE_ORDER[phase] or (
                            now[0] == phase and now[1] < prog):
                        backwards.append((key, (phase, prog), now))
                elif now[0] == phase and now[1] < prog:
                    backwards.append((key, (phase, prog), now))
                if now == (phase, prog):
                    stuck[key] = now
            # A QUEUED copy legitimately waits while its account's copies
            # into its region fill every running slot (contract section 3);
            # those running copies are checked to move like any task.
            full = {(acc, region) for acc, region, running in con.execute(
                "SELECT account_id, dest_region_id, count(*) FROM copy_tasks "
                "WHERE phase IN ('PREPARING','TRANSFERRING','REGISTERING') "
                "GROUP BY 1, 2") if running >= MAX_RUNNING_COPIES}
            for key in [k for k, v in stuck.items()
                        if k[0] == "copy" and v[0] == "QUEUED"]:
                pair = con.execute(
                    "SELECT account_id, dest_region_id FROM copy_tasks "
                    "WHERE id = ?", (key[1],)).fetchone()
                if pair in full:
                    del stuck[key]
        finally:
            con.close()
        if backwards or not stuck or time.time() > deadline:
            return stuck, backwards
        time.sleep(0.2)


def verify_api(address, token_a, book, sample, rng):
    """DescribeImages agrees with the certain image states; returns (n, problems)."""
    import grpc
    s = rl.stubs()
    with book.mu:
        certain = [(k[1], next(iter(v))) for k, v in book.expect.items()
                   if k[0] == "img" and len(v) == 1]
        owner_b = {i for i, (_, w) in book.images.items() if w == 0}
    certain = [c for c in certain if c[0] not in owner_b]
    rng.shuffle(certain)
    problems = []
    with rl.channel(address) as ch:
        stub = s.pbg.ImageServiceStub(ch)
        for img_id, state in certain[:sample]:
            region = book.images[img_id][0]
            try:
                r = stub.DescribeImages(s.pb.DescribeImagesRequest(
                    region_id=region, image_id=img_id,
                    status=rl.ALL_STATUSES), metadata=rl.auth(token_a),
                    timeout=10)
            except grpc.RpcError as e:
                problems.append("DescribeImages %s: %s" % (img_id,
                                                           rl.ecs_error(e)))
                continue
            listed = [i.image_id for i in r.images]
            if (state == "live") != (listed == [img_id]):
                problems.append("DescribeImages %s: state %s, listed %s" % (
                    img_id, state, listed))
    return min(sample, len(certain)), problems


def retry_lost_creates(address, token_a, book, workers_state, db):
    """Retries lost CreateImage calls with their ClientToken: each must
    answer OK and leave exactly one image of its name."""
    import grpc
    s = rl.stubs()
    problems = []
    done = 0
    with rl.channel(address) as ch:
        stub = s.pbg.ImageServiceStub(ch)
        for widx, req in book.lost_creates:
            try:
                resp = stub.CreateImage(req, metadata=rl.auth(token_a),
                                        timeout=10)
            except grpc.RpcError as e:
                problems.append("retry CreateImage %s: %s" % (
                    req.image_name, rl.ecs_error(e)))
                continue
            done += 1
            workers_state[widx]["images"][resp.image_id] = {
                "region": req.region_id, "live": True, "copy": False}
            with book.mu:
                book.images[resp.image_id] = (req.region_id, widx)
            book.ack("retry CreateImage " + resp.image_id,
                     [(("img", resp.image_id), "live")])
            con = sqlite3.connect("file:%s?mode=ro" % db, uri=True, timeout=10)
            try:
                n = con.execute("SELECT count(*) FROM images WHERE name = ? "
                                "AND region_id = ?", (req.image_name,
                                                      req.region_id)
                                ).fetchone()[0]
            finally:
                con.close()
            if n != 1:
                problems.append("CreateImage %s retried with its token: %d "
                                "images" % (req.image_name, n))
    book.lost_creates.clear()
    return done, problems


def startup_phase(binary, work, rng, n, failures):
    """SIGKILL while `serve` creates, migrates and seeds a new database,
    then start again: it must come up, healthy, on an intact database."""
    for i in range(n):
        d = os.path.join(work, "startup%d" % i)
        os.makedirs(d, exist_ok=True)
        db = os.path.join(d, "s.db")
        srv = rl.Server(binary, db, os.path.join(d, "server.log"))
        delay = rng.uniform(0.0, 0.25)
        import subprocess
        srv.proc = subprocess.Popen(
            [binary, "serve", "--db", db, "--listen", "127.0.0.1:0",
             "--log-calls=false"], stdout=subprocess.DEVNULL,
            stderr=open(srv.log_path, "ab"))
        time.sleep(delay)
        srv.kill()
        try:
            srv.start()
            rl.wait_health(srv.address)
            acc, tok = rl.create_account(binary, db, "after-startup-kill")
            s = rl.stubs()
            with rl.channel(srv.address) as ch:
                s.pbg.ImageServiceStub(ch).CreateImage(
                    s.pb.CreateImageRequest(region_id="cn-hangzhou",
                                            image_name="first", size=1),
                    metadata=rl.auth(tok), timeout=10)
            if srv.term() != 0:
                failures.append("startup kill %d: SIGTERM exit not 0" % i)
            # api.md §6: a new database gets a demo account whose token is
            # kept beside it; a crash during that first start must not lose
            # it for good.
            if not os.path.exists(db + ".token"):
                failures.append(
                    "startup kill %d after %.3fs: no demo token file %s.token "
                    "after restart (DemoTokenSurvivesCrashAtFirstStart)" % (
                        i, delay, db))
            ic, fk = rl.integrity(db)
            if ic != ["ok"] or fk:
                failures.append("startup kill %d: integrity %s" % (i, ic))
            con = sqlite3.connect(db)
            regions = con.execute("SELECT count(*) FROM regions").fetchone()[0]
            system = con.execute("SELECT count(*) FROM images WHERE is_system"
                                 ).fetchone()[0]
            con.close()
            if regions < 5 or system == 0:
                failures.append("startup kill %d after %.3fs: %d regions, %d "
                                "system images after restart" % (
                                    i, delay, regions, system))
        except Exception as e:  # noqa: BLE001 - report any way it broke
            failures.append("startup kill %d after %.3fs: restart failed: %s"
                            "\n%s" % (i, delay, e, srv.log_tail(10)))
            srv.kill()
    return n


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawTextHelpFormatter)
    rl.add_common_args(ap)
    ap.add_argument("--rounds", type=int, default=None)
    ap.add_argument("--long", action="store_true",
                    help="200 rounds (unless --rounds)")
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--workers", type=int, default=4)
    ap.add_argument("--startup-kills", type=int, default=8,
                    help="SIGKILLs while a new database is being created")
    ap.add_argument("--min-load-ms", type=int, default=150)
    ap.add_argument("--max-load-ms", type=int, default=1500)
    args = ap.parse_args()
    rounds = args.rounds or (200 if args.long else 20)
    seed = args.seed if args.seed is not None else int(time.time() * 1000) % (
        2 ** 31)
    rng = random.Random(seed)
    binary, work, keep = rl.setup(args, "crash")
    rl.log("crash_test seed=%d rounds=%d workdir=%s" % (seed, rounds, work))
    rl.stubs()
    # Kept apart so that a startup defect does not stop the kill rounds.
    startup_failures = []
    startup_kills = startup_phase(binary, work, rng, args.startup_kills,
                                  startup_failures)
    failures = []
    db = os.path.join(work, "crash.db")
    server = rl.Server(binary, db, os.path.join(work, "server.log"), extra=[
        "--transfer-rate-mib", "2048", "--create-ms-per-gib", "300",
        "--tick-ms", "50", "--image-quota", "1000000",
        "--max-running-copies", str(MAX_RUNNING_COPIES)])
    server.start()
    acc_a, tok_a = rl.create_account(binary, db, "crash-a")
    acc_b, tok_b = rl.create_account(binary, db, "crash-b")
    book = Book(os.path.join(work, "acks.log"))
    wstate = [{"images": {}, "instances": {}, "tasks": {}, "next": 0}
              for _ in range(args.workers + 1)]
    shared = {}
    verified = 0
    api_checked = 0
    retried = 0
    moved_checked = 0
    kill_during_start = 0
    terms = 0
    start_t = time.time()
    peak_rss = 0
    before_tasks = {}
    for rnd in range(rounds):
        if not server.alive():
            server.start()
        rl.wait_health(server.address)
        # Recovery checks of the previous kill.
        if rnd > 0:
            stuck, backwards = wait_tasks_move(db, before_tasks, timeout=25)
            moved_checked += len(before_tasks)
            if stuck:
                failures.append("round %d: tasks did not move after restart: "
                                "%s" % (rnd, list(stuck.items())[:5]))
            if backwards:
                failures.append("round %d: tasks went backwards: %s" % (
                    rnd, backwards[:5]))
            n, probs = retry_lost_creates(server.address, tok_a, book, wstate,
                                          db)
            retried += n
            failures += ["round %d: %s" % (rnd, p) for p in probs]
            n, probs = verify_api(server.address, tok_a, book, 40, rng)
            api_checked += n
            failures += ["round %d: %s" % (rnd, p) for p in probs]
        try:
            peak_rss = max(peak_rss, server.proc_status().get("VmHWM", 0))
        except OSError:
            pass
        stop = threading.Event()
        workers = [Worker(i, server.address, tok_b if i == 0 else tok_a, book,
                          random.Random(rng.random()), stop, wstate[i], acc_b,
                          shared) for i in range(args.workers + 1)]
        for w in workers:
            w.start()
        # One round in ten kills right after a restart (recovery under load
        # begins); the others after a random stretch of load.
        if rng.random() < 0.1:
            delay = rng.uniform(0.0, 0.1)
            kill_during_start += 1
        else:
            delay = rng.uniform(args.min_load_ms, args.max_load_ms) / 1000.0
        time.sleep(delay)
        # One round in five stops with SIGTERM under load instead: in-flight
        # calls finish, the exit code is 0, and the same checks follow.
        graceful = rnd % 5 == 4
        if graceful:
            t0 = time.time()
            code = server.term(timeout=60)
            terms += 1
            if code != 0:
                failures.append("round %d: SIGTERM under load: exit %s "
                                "after %.1fs" % (rnd, code, time.time() - t0))
        else:
            server.kill()
        book.note("%s round %d after %.3fs" % (
            "TERM" if graceful else "KILL", rnd, delay))
        stop.set()
        for w in workers:
            w.join(timeout=30)
            if w.is_alive():
                failures.append("round %d: worker %d hung" % (rnd, w.idx))
        snap = rl.snapshot_db(db, os.path.join(work, "snap"))
        ic, fk = rl.integrity(snap)
        if ic != ["ok"] or fk:
            failures.append("round %d: integrity_check %s fk %s" % (
                rnd, ic[:5], fk[:5]))
        n, probs = verify_db(snap, book)
        verified += n
        failures += ["round %d: %s" % (rnd, p) for p in probs]
        with book.mu:
            forced = set(book.force_deleted)
        for what, rows in rl.invariant_violations(snap, forced).items():
            failures.append("round %d: invariant: %s: %s" % (rnd, what, rows))
        before_tasks = active_tasks(snap)
        if book.internal:
            failures += ["round %d: unexpected error %s" % (rnd, x)
                         for x in book.internal]
            book.internal.clear()
        rl.log("round %d/%d: kill after %.3fs, %d acked so far, %d lost, "
               "%d keys verified, %d tasks running at kill" % (
                   rnd + 1, rounds, delay, book.acked, book.lost, n,
                   len(before_tasks)))
        if failures:
            break

    # Final: restart without load; every task must end.
    drained = False
    drain_s = None
    if not failures:
        # The last start lets ten times as many copies run per account and
        # region: the queues the rounds left drain in minutes, not tens of
        # minutes (--long), and a restart under a new limit is checked too.
        server.extra[server.extra.index("--max-running-copies") + 1] = str(
            10 * MAX_RUNNING_COPIES)
        server.start()
        rl.wait_health(server.address)
        # The wait scales with the queues: it fails when nothing has moved
        # for 30 s (or after an hour in all).
        drain_t0 = time.time()
        last_change, last = time.time(), None
        while time.time() - last_change < 30 and time.time() - drain_t0 < 3600:
            left = active_tasks(db)
            if not left:
                drained = True
                break
            if left != last:
                last_change, last = time.time(), left
            time.sleep(0.5)
        drain_s = round(time.time() - drain_t0, 1)
        if not drained:
            failures.append("tasks still not terminal %.0fs after the last "
                            "restart (nothing moved for 30s): %s" % (
                                drain_s, list(active_tasks(db).items())[:5]))
        n, probs = verify_api(server.address, tok_a, book, 200, rng)
        api_checked += n
        failures += probs
        code = server.term()
        if code != 0:
            failures.append("SIGTERM exit code %s" % code)
        ic, fk = rl.integrity(db)
        if ic != ["ok"] or fk:
            failures.append("final integrity_check %s fk %s" % (ic[:5], fk))
        for what, rows in rl.invariant_violations(db, book.force_deleted
                                                  ).items():
            failures.append("final invariant: %s: %s" % (what, rows))
    else:
        server.kill()

    figures = dict(seed=seed, rounds=rounds, acked=book.acked,
                   lost_answers=book.lost, keys_verified=verified,
                   api_checked=api_checked, lost_creates_retried=retried,
                   tasks_checked_after_restart=moved_checked,
                   kills_right_after_start=kill_during_start,
                   sigterm_rounds=terms, startup_kills=startup_kills,
                   peak_rss_kib=peak_rss, drained=drained, drain_s=drain_s,
                   seconds=round(time.time() - start_t, 1),
                   codes=dict(sorted(book.codes.items())))
    rl.write_figures(args, "crash_test", figures)
    failures = startup_failures + failures
    if failures:
        for f in failures[:40]:
            rl.log("FAIL", f)
        rl.log("crash_test FAILED (seed %d); files kept in %s" % (seed, work))
        return 1
    rl.log("crash_test passed (seed %d)" % seed)
    if not keep:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
