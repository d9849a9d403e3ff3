#!/usr/bin/python3
"""End-to-end test of --backend=filesystem through the public gRPC API.

With the real `ecsimage serve` binary: ImportImage of RAW and QCOW2 files
(1 byte .. 2 GiB sparse; --long adds 8 GiB), CopyImage to another region,
ExportImage of the copy, and the exported object's SHA-256 equals the
original's. Then: SIGKILL during a copy resumes from its checkpoint and ends
with the right checksum; CancelCopyImage mid-copy leaves no file; hostile
buckets and keys (.., absolute, symlink, FIFO, a QCOW2 with a backing file,
VHD) are refused at call time with their ECS codes, without touching
anything outside the bucket; an object removed after the call fails the
task with a FailureCode.

Run: /usr/bin/python3 tests/backend/backend_e2e_test.py [--build-dir B]
"""

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "reliability"))
import rel_lib  # noqa: E402
from rel_lib import check, log  # noqa: E402

SRC, DST = "cn-hangzhou", "cn-shanghai"
MIB = 1 << 20
GIB = 1 << 30


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while True:
            b = f.read(8 * MIB)
            if not b:
                return h.hexdigest()
            h.update(b)


def sparse_raw(path, size, seed):
    """`size` bytes, mostly holes, with random 1 MiB islands."""
    with open(path, "wb") as f:
        f.truncate(size)
        rnd = hashlib.sha256(seed.encode()).digest()
        for i, off in enumerate((0, size // 3, size // 2, size - 1)):
            if off >= size:
                continue
            n = min(MIB, size - off)
            f.seek(off)
            f.write((rnd * (n // 32 + 1))[:n] if i % 2 == 0 else os.urandom(n))


class Api:
    def __init__(self, address, token):
        import grpc  # noqa: F401
        self.s = rel_lib.stubs()
        self.ch = rel_lib.channel(address)
        self.stub = self.s.pbg.ImageServiceStub(self.ch)
        self.md = rel_lib.auth(token)

    def call(self, name, **kw):
        req = getattr(self.s.pb, name + "Request")(**kw)
        return getattr(self.stub, name)(req, metadata=self.md, timeout=30)

    def task(self, region, task_id):
        r = self.call("DescribeTasks", region_id=region, task_ids=task_id)
        return r.task_set[0]

    def wait_task(self, region, task_id, timeout=300):
        deadline = time.time() + timeout
        while time.time() < deadline:
            t = self.task(region, task_id)
            if t.task_status in ("Finished", "Failed", "Cancelled"):
                return t.task_status
            time.sleep(0.1)
        raise rel_lib.Failure("task %s did not end" % task_id)

    def image(self, region, image_id):
        r = self.call("DescribeImages", region_id=region, image_id=image_id,
                      status=rel_lib.ALL_STATUSES)
        return r.images[0] if r.images else None

    def wait_image(self, region, image_id, want, timeout=300):
        deadline = time.time() + timeout
        while time.time() < deadline:
            im = self.image(region, image_id)
            status = im.status if im else None
            if status == want or (status in ("CreateFailed",) and want != status):
                return status
            time.sleep(0.1)
        raise rel_lib.Failure("image %s not %s" % (image_id, want))

    def import_image(self, bucket, key):
        r = self.call("ImportImage", region_id=SRC, oss_bucket=bucket,
                      oss_object=key)
        return r.image_id, r.task_id

    def copy(self, image_id):
        return self.call("CopyImage", region_id=SRC, image_id=image_id,
                         destination_region_id=DST).image_id

    def export(self, region, image_id, bucket, prefix="", image_format=""):
        return self.call("ExportImage", region_id=region, image_id=image_id,
                         oss_bucket=bucket, oss_prefix=prefix,
                         image_format=image_format).task_id


def start(binary, work, extra=()):
    srv = rel_lib.Server(binary, os.path.join(work, "db.sqlite"),
                         os.path.join(work, "server.log"),
                         ["--backend=filesystem",
                          "--data-root", os.path.join(work, "data"),
                          "--oss-root", os.path.join(work, "oss"),
                          "--tick-ms", "50"] + list(extra))
    return srv.start()


def round_trip(api, work, name, fmt_ext):
    src = os.path.join(work, "oss", "inbox", name)
    want = sha256_file(src)
    image_id, task_id = api.import_image("inbox", name)
    check(api.wait_task(SRC, task_id) == "Finished",
          "import of %s finished: %s" % (name, api.task(SRC, task_id)))
    dest = api.copy(image_id)
    check(api.wait_image(DST, dest, "Available") == "Available",
          "copy of %s Available" % name)
    # In the stored format: the bytes as stored (raw is the default).
    t = api.export(DST, dest, "outbox", image_format=fmt_ext)
    check(api.wait_task(DST, t) == "Finished", "export of %s" % name)
    src_digest = api.image(SRC, image_id).image_digest
    check(len(src_digest) == 64, "ImageDigest shown to the owner")
    check(api.image(DST, dest).image_digest == src_digest,
          "the copy has the source's ImageDigest")
    out = os.path.join(work, "oss", "outbox", "%s_system.%s" % (dest, fmt_ext))
    got = sha256_file(out)
    check(got == want, "%s: exported sha256 %s != original %s" % (name, got, want))
    log("round trip ok", name, os.path.getsize(src), "bytes", want[:16])
    return image_id, dest, out


def export_formats(api, work, qemu, raw_dest, qcow2_dest):
    """ExportImage's ImageFormat: a format other than the stored one is
    converted (and verified) by qemu-img; the disk is the original's."""
    original = os.path.join(work, "oss", "inbox", "small.raw")
    outbox = os.path.join(work, "oss", "outbox")
    for dest, fmt, ext in ((raw_dest, "qcow2", "qcow2"),
                           (qcow2_dest, "RAW", "raw")):
        t = api.export(DST, dest, "outbox", prefix="conv-", image_format=fmt)
        check(api.wait_task(DST, t) == "Finished",
              "export of %s as %s: %s" % (dest, fmt, api.task(DST, t)))
        out = os.path.join(outbox, "conv-%s_system.%s" % (dest, ext))
        info = subprocess.run([qemu, "info", "--output=json", out],
                              capture_output=True, text=True, check=True)
        check('"format": "%s"' % ext in info.stdout,
              "%s is %s: %s" % (out, ext, info.stdout))
        # A RAW of 20 MiB + 12345 bytes becomes whole sectors in QCOW2: the
        # disks compare equal, the tail being zeros.
        same = subprocess.run([qemu, "compare", "-f", "raw", "-F", ext,
                               original, out], capture_output=True, text=True)
        check(same.returncode == 0,
              "%s holds the original disk: %s" % (out, same.stdout))
        log("export as", fmt, "ok", os.path.getsize(out), "bytes")
    try:
        api.export(DST, raw_dest, "outbox", image_format="vhd")
        raise rel_lib.Failure("ImageFormat vhd accepted")
    except rel_lib.Failure:
        raise
    except Exception as e:  # noqa: BLE001 - a grpc.RpcError
        got = rel_lib.ecs_error(e)
        check(got == ("INVALID_ARGUMENT", "InvalidParameter", "400"),
              "ImageFormat vhd refused: %s" % (got,))


def named_parameters(err):
    """The parameters an ECS error names: ErrorInfo's metadata "parameter"
    and BadRequest's field violations."""
    s = rel_lib.stubs()
    out = set()
    for k, v in (err.trailing_metadata() or ()):
        if k != "grpc-status-details-bin":
            continue
        st = s.status_pb2.Status()
        st.ParseFromString(v)
        for d in st.details:
            if d.Is(s.error_details_pb2.BadRequest.DESCRIPTOR):
                br = s.error_details_pb2.BadRequest()
                d.Unpack(br)
                out.update(fv.field for fv in br.field_violations)
            if d.Is(s.error_details_pb2.ErrorInfo.DESCRIPTOR):
                info = s.error_details_pb2.ErrorInfo()
                d.Unpack(info)
                if "parameter" in info.metadata:
                    out.add(info.metadata["parameter"])
    return out


def mapped_import(api, work, qemu):
    """ECS's shape, DiskDeviceMapping.N.*: its Format must be the content's
    (refused at the call otherwise, naming the mapping); data disks
    (N >= 2) are imported, copied and exported byte for byte, one object
    per disk (<image>_system, <image>_data1, ...)."""
    def mapping(obj, fmt, size=30):
        return api.s.pb.ImportDiskDeviceMapping(
            oss_bucket="inbox", oss_object=obj, format=fmt,
            disk_image_size=size)
    data2 = "small.qcow2" if qemu else "small.raw"
    for maps, want, param in (
            ([mapping("small.raw", "qcow2")],
             ("INVALID_ARGUMENT", "InvalidImageFormat.Mismatch", "400"),
             "DiskDeviceMapping.1.Format"),
            ([mapping("small.raw", "raw"), mapping("one.raw", "qcow2")],
             ("INVALID_ARGUMENT", "InvalidImageFormat.Mismatch", "400"),
             "DiskDeviceMapping.2.Format"),
            ([mapping("small.raw", "raw"), mapping("missing.raw", "")],
             ("INVALID_ARGUMENT", "InvalidOSSObject.NotFound", "400"),
             "DiskDeviceMapping.2.OSSObject"),
            ([mapping("one.raw", "raw")] * 18,
             ("INVALID_ARGUMENT", "InvalidParameter", "400"),
             "DiskDeviceMapping")):
        try:
            api.call("ImportImage", region_id=SRC, disk_device_mapping=maps)
            raise rel_lib.Failure("mapped import accepted: %s" % (want,))
        except rel_lib.Failure:
            raise
        except Exception as e:  # noqa: BLE001 - a grpc.RpcError
            got = rel_lib.ecs_error(e)
            check(got == want, "mapped import refused %s, got %s" % (want, got))
            check(param in named_parameters(e),
                  "the refusal names %s: %s" % (param, named_parameters(e)))
    r = api.call("ImportImage", region_id=SRC,
                 disk_device_mapping=[mapping("small.raw", "RAW"),
                                      mapping("one.raw", "", 5),
                                      mapping(data2, "", 7)])
    check(api.wait_task(SRC, r.task_id) == "Finished",
          "mapped import: %s" % api.task(SRC, r.task_id))
    image = api.image(SRC, r.image_id)
    check(image.size == 30, "DiskImageSize kept")
    disks = [(d.device, d.type, d.size) for d in image.disk_device_mappings]
    check(disks == [("/dev/xvda", "system", 30), ("/dev/xvdb", "data", 5),
                    ("/dev/xvdc", "data", 7)],
          "three disks described: %s" % (disks,))
    dest = api.copy(r.image_id)
    check(api.wait_image(DST, dest, "Available") == "Available",
          "copy of a three-disk image Available")
    check(api.image(DST, dest).image_digest == image.image_digest,
          "the copy has the source's ImageDigest")
    ext = "qcow2" if qemu else "raw"
    t = api.export(DST, dest, "outbox", prefix="disks-", image_format=ext)
    check(api.wait_task(DST, t) == "Finished",
          "export of three disks: %s" % api.task(DST, t))
    inbox = os.path.join(work, "oss", "inbox")
    outbox = os.path.join(work, "oss", "outbox")
    for suffix, original in (("system", "small.raw"), ("data1", "one.raw"),
                             ("data2", data2)):
        out = os.path.join(outbox, "disks-%s_%s.%s" % (dest, suffix, ext))
        if qemu:
            same = subprocess.run(
                [qemu, "compare", "-f", original.rsplit(".", 1)[1], "-F",
                 ext, os.path.join(inbox, original), out],
                capture_output=True, text=True)
            check(same.returncode == 0,
                  "%s holds %s: %s" % (out, original, same.stdout))
    t = api.export(DST, dest, "outbox", prefix="same-")
    check(api.wait_task(DST, t) == "Finished", "RAW export of three disks")
    for suffix, original in (("system", "small.raw"), ("data1", "one.raw")):
        out = os.path.join(outbox, "same-%s_%s.raw" % (dest, suffix))
        check(sha256_file(out) == sha256_file(os.path.join(inbox, original)),
              "%s: the exported sha256 is the original's" % out)
    check(not os.path.exists(os.path.join(outbox, "same-%s_data3.raw" % dest)),
          "one object per disk")
    api.call("DeleteImage", region_id=DST, image_id=dest)
    if qemu:
        # A disk larger than its DiskImageSize: the mapping (and, for the
        # system disk, the image) grows to its virtual size.
        r = api.call("ImportImage", region_id=SRC,
                     disk_device_mapping=[mapping("grow.qcow2", "", 1),
                                          mapping("grow.qcow2", "", 2)])
        check(api.wait_task(SRC, r.task_id) == "Finished",
              "import of a 3 GiB qcow2: %s" % api.task(SRC, r.task_id))
        image = api.image(SRC, r.image_id)
        sizes = [d.size for d in image.disk_device_mappings]
        check((image.size, sizes) == (3, [3, 3]),
              "sizes grew to the virtual size: %s %s" % (image.size, sizes))
    check(not data_files(work, DST, dest),
          "DeleteImage frees every disk: %s" % data_files(work, DST, dest))
    log("DiskDeviceMapping.1-3 import, copy, export, delete ok; refusals "
        "name their mapping")


def resumed_lines(work):
    with open(os.path.join(work, "server.log"), errors="replace") as f:
        return sum(1 for line in f if '"backend work resumed"' in line)


def wait_ckpt(paths, timeout=60):
    """Waits until one of paths() is a non-empty checkpoint file."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        for p in paths():
            if p.endswith(".ckpt") and os.path.exists(p) and \
                    os.path.getsize(p) > 0:
                return
        time.sleep(0.05)
    raise rel_lib.Failure("no checkpoint appeared")


def data_files(work, region, image_id):
    d = os.path.join(work, "data", region)
    if not os.path.isdir(d):
        return []
    return [n for n in os.listdir(d) if image_id in n]


def main():
    parser = argparse.ArgumentParser()
    rel_lib.add_common_args(parser)
    parser.add_argument("--long", action="store_true",
                        help="also an 8 GiB sparse image")
    args = parser.parse_args()
    binary, work, keep = rel_lib.setup(args, "backend_e2e")
    for d in ("data", "oss/inbox", "oss/outbox", "oss/evil", "outside"):
        os.makedirs(os.path.join(work, d), exist_ok=True)
    inb = os.path.join(work, "oss", "inbox")
    figures = {}

    # Fixtures.
    with open(os.path.join(inb, "one.raw"), "wb") as f:
        f.write(b"\x7f")
    with open(os.path.join(inb, "small.raw"), "wb") as f:
        f.write(os.urandom(20 * MIB + 12345))
    sparse_raw(os.path.join(inb, "big.raw"), 2 * GIB, "big")
    if args.long:
        sparse_raw(os.path.join(inb, "huge.raw"), 8 * GIB, "huge")
    qemu = shutil.which("qemu-img")
    if qemu:
        subprocess.run([qemu, "convert", "-f", "raw", "-O", "qcow2",
                        os.path.join(inb, "small.raw"),
                        os.path.join(inb, "small.qcow2")], check=True)
        # 3 GiB of virtual disk in a few hundred KiB.
        subprocess.run([qemu, "create", "-q", "-f", "qcow2",
                        os.path.join(inb, "grow.qcow2"), "3G"], check=True)
        subprocess.run([qemu, "create", "-q", "-f", "qcow2", "-b",
                        os.path.join(inb, "small.qcow2"), "-F", "qcow2",
                        os.path.join(inb, "backed.qcow2")], check=True)
    open(os.path.join(inb, "empty.raw"), "wb").close()
    with open(os.path.join(inb, "disk.vhd"), "wb") as f:
        f.write(b"\0" * 1024 + b"conectix" + b"\0" * 504)
    with open(os.path.join(inb, "cancel.raw"), "wb") as f:
        f.write(os.urandom(96 * MIB))
    with open(os.path.join(work, "outside", "secret"), "wb") as f:
        f.write(b"secret")
    os.symlink(os.path.join(work, "outside", "secret"),
               os.path.join(inb, "link.raw"))
    os.mkfifo(os.path.join(inb, "fifo.raw"))

    # The background data check off: the copy below finds the lost data.
    srv = start(binary, work, ["--backend-data-check-per-tick", "0"])
    try:
        _, token = rel_lib.create_account(
            binary, os.path.join(work, "db.sqlite"), "e2e")
        api = Api(srv.address, token)
        # Round trips.
        t0 = time.time()
        round_trip(api, work, "one.raw", "raw")
        _, small_dest, _ = round_trip(api, work, "small.raw", "raw")
        _, big_dest, _ = round_trip(api, work, "big.raw", "raw")
        figures["round_trip_2gib_sparse_s"] = round(time.time() - t0, 2)
        if args.long:
            round_trip(api, work, "huge.raw", "raw")
        if qemu:
            _, qcow2_dest, _ = round_trip(api, work, "small.qcow2", "qcow2")
            export_formats(api, work, qemu, small_dest, qcow2_dest)
        else:
            log("SKIP qcow2 round trip: no qemu-img (scripts/install_deps.sh)")
        mapped_import(api, work, qemu)

        # Hostile input: each import is refused at call time with its ECS
        # code (docs/operations.md); no image or task is made, nothing
        # outside the bucket is read.
        o_malformed = "InvalidOSSObject.Malformed"
        hostile = [("inbox", "../outside/secret", o_malformed),
                   ("inbox", "/etc/passwd", o_malformed),
                   ("inbox", "a//b", o_malformed),
                   ("inbox", "x" * 1024, o_malformed),
                   ("inbox", "link.raw", "InvalidOSSObject.NotFound"),
                   ("inbox", "fifo.raw", "InvalidOSSObject.NotFound"),
                   ("inbox", "missing.raw", "InvalidOSSObject.NotFound"),
                   ("inbox", "disk.vhd", "InvalidImageFormat.NotSupported"),
                   ("inbox", "empty.raw", "InvalidImageFormat.Corrupt"),
                   ("no-such-bucket", "x", "InvalidOSSBucket.NotFound"),
                   ("Bad_Bucket", "x", "InvalidOSSBucket.NotFound")]
        if qemu:
            hostile.append(("inbox", "backed.qcow2",
                            "InvalidImageFormat.BackingFile"))
        before = api.call("DescribeImages", region_id=SRC,
                          status=rel_lib.ALL_STATUSES).total_count
        for bucket, key, want in hostile:
            try:
                api.import_image(bucket, key)
                raise rel_lib.Failure("hostile import %s/%s accepted" %
                                      (bucket, key[:40]))
            except rel_lib.Failure:
                raise
            except Exception as e:  # noqa: BLE001 - a grpc.RpcError
                code, ecs, http = rel_lib.ecs_error(e)
                check((code, ecs, http) == ("INVALID_ARGUMENT", want, "400"),
                      "hostile import %s/%s refused with %s, got %s" %
                      (bucket, key[:40], want, (code, ecs, http)))
        check(api.call("DescribeImages", region_id=SRC,
                       status=rel_lib.ALL_STATUSES).total_count == before,
              "a refused import made no image")
        log("hostile imports refused at call time:", len(hostile))
        # Export: a bucket that is not there, a prefix that names no key.
        for bucket, prefix, want in [
                ("no-such-bucket", "", "InvalidOSSBucket.NotFound"),
                ("outbox", "../", "InvalidOSSPrefix.Malformed"),
                ("outbox", "nodir/", "InvalidOSSPrefix.Malformed")]:
            try:
                api.export(DST, big_dest, bucket, prefix)
                raise rel_lib.Failure("export %s/%s accepted" % (bucket, prefix))
            except rel_lib.Failure:
                raise
            except Exception as e:  # noqa: BLE001 - a grpc.RpcError
                got = rel_lib.ecs_error(e)
                check(got == ("INVALID_ARGUMENT", want, "400"),
                      "export %s/%s refused with %s, got %s" %
                      (bucket, prefix, want, got))
        log("bad export targets refused at call time: 3")

        # The object changes after the call: the task still fails, with the
        # reason as FailureCode.
        late = os.path.join(inb, "late.raw")
        with open(late, "wb") as f:
            f.write(b"\x01" * 4096)
        image_id, task_id = api.import_image("inbox", "late.raw")
        os.remove(late)
        status = api.wait_task(SRC, task_id, timeout=60)
        task = api.task(SRC, task_id)
        if status == "Failed":
            check(task.failure_code == "OSSObjectNotFound",
                  "late removal: FailureCode OSSObjectNotFound: %s" % task)
            check(api.image(SRC, image_id).status == "CreateFailed",
                  "late removal: image CreateFailed")
            check(not [n for n in data_files(work, SRC, image_id)
                       if not n.endswith(".failure")],
                  "late removal left data")
            log("object removed after the call: task Failed/OSSObjectNotFound")
        else:  # the import read it before it was removed
            log("object removed after the call: import had already finished")

        # A live image whose data went missing: the copy from it fails with
        # ImageDataMissing, and the image itself turns UnAvailable with that
        # FailureCode (never a copy of nothing).
        lost, lost_task = api.import_image("inbox", "one.raw")
        check(api.wait_task(SRC, lost_task) == "Finished", "import to lose")
        for n in (lost + ".meta", lost + ".img"):
            os.remove(os.path.join(work, "data", SRC, n))
        lost_copy = api.copy(lost)
        check(api.wait_image(DST, lost_copy, "CreateFailed") == "CreateFailed",
              "copy of an image without data CreateFailed")
        check(api.image(DST, lost_copy).failure_code == "ImageDataMissing",
              "the copy's FailureCode: %s" % api.image(DST, lost_copy))
        im = api.image(SRC, lost)
        check((im.status, im.failure_code) ==
              ("UnAvailable", "ImageDataMissing"),
              "image without data UnAvailable/ImageDataMissing: %s" % im)
        api.call("DeleteImage", region_id=SRC, image_id=lost)
        check(api.image(SRC, lost) is None, "the UnAvailable image deleted")
        check(not data_files(work, SRC, lost), "its failure record removed")
        log("missing data: copy CreateFailed, source UnAvailable, deletable")

        # DeleteImage frees the bytes.
        check(data_files(work, DST, big_dest), "copy has data")
        api.call("DeleteImage", region_id=DST, image_id=big_dest)
        check(not data_files(work, DST, big_dest), "DeleteImage freed data")
    finally:
        srv.term()

    # Another database on the same data root refuses to start; the marker
    # holds the first database's own id (kept in it), not a file name.
    with open(os.path.join(work, "data", ".ecsimage-data-root")) as f:
        marker = f.read().strip()
    check(marker.startswith("db-") and len(marker) == 35,
          "the data root's marker is a database id: %r" % marker)
    other = rel_lib.Server(binary, os.path.join(work, "other.sqlite"),
                           os.path.join(work, "other.log"),
                           ["--backend=filesystem",
                            "--data-root", os.path.join(work, "data"),
                            "--oss-root", os.path.join(work, "oss")])
    try:
        other.start(timeout=30)
        other.term()
        raise rel_lib.Failure("another database started on the data root")
    except rel_lib.Failure as e:
        check("belongs to database \\\"%s\\\"" % marker in str(e),
              "refused with the owner's id: %s" % str(e)[-400:])
    log("another database on the data root refused:", marker)

    # Cancel mid-copy and SIGKILL mid-copy, under a bandwidth cap.
    srv = start(binary, work, ["--backend-bandwidth-mib", "24"])
    try:
        api = Api(srv.address, token)
        # The background data check (on by default) finds a finished image
        # whose data went missing with no task reading it.
        gone, gone_task = api.import_image("inbox", "one.raw")
        check(api.wait_task(SRC, gone_task) == "Finished", "import to lose")
        os.remove(os.path.join(work, "data", SRC, gone + ".meta"))
        check(api.wait_image(SRC, gone, "UnAvailable", timeout=60) ==
              "UnAvailable", "the background check turned it UnAvailable")
        im = api.image(SRC, gone)
        check(im.failure_code == "ImageDataMissing" and
              "background data check" in im.failure_message,
              "its FailureCode says why: %s" % im)
        api.call("DeleteImage", region_id=SRC, image_id=gone)
        log("background data check: a lost image turned UnAvailable")
        image_id, task_id = api.import_image("inbox", "cancel.raw")
        check(api.wait_task(SRC, task_id) == "Finished", "import cancel.raw")
        resumed_src = image_id
        dest = api.copy(image_id)
        deadline = time.time() + 60
        while time.time() < deadline:
            im = api.image(DST, dest)
            if im and im.progress not in ("", "0%", "1%"):
                break
            time.sleep(0.05)
        api.call("CancelCopyImage", region_id=DST, image_id=dest)
        deadline = time.time() + 60
        while time.time() < deadline and api.image(DST, dest) is not None:
            time.sleep(0.1)
        check(api.image(DST, dest) is None, "cancelled copy gone")
        time.sleep(0.3)
        check(not data_files(work, DST, dest),
              "cancelled copy left files: %s" % data_files(work, DST, dest))
        log("cancel mid-copy left no file")

        # RemainTime from the measured rate against the real remaining time.
        dest = api.copy(image_id)
        remain, t_s = None, None
        deadline = time.time() + 60
        while time.time() < deadline:
            im = api.image(DST, dest)
            pct = int((im.progress if im else "0%").rstrip("%") or 0)
            if im and im.copy_phase == "TRANSFERRING" and pct >= 25:
                remain, t_s = im.remain_time, time.time()
                break
            time.sleep(0.05)
        check(remain is not None, "sampled RemainTime mid-copy")
        check(api.wait_image(DST, dest, "Available") == "Available", "copy")
        real = time.time() - t_s
        figures.update(remain_time_s=remain, remain_real_s=round(real, 2),
                       remain_error_s=round(remain - real, 2))
        check(0 < remain <= 2 * real + 2,
              "RemainTime %ss vs real %.2fs" % (remain, real))
        log("RemainTime %ss at %s, real %.2fs" % (remain, im.progress, real))

        # SIGKILL after the first checkpoint.
        dest = api.copy(image_id)
        ckpt_seen = False
        deadline = time.time() + 60
        while time.time() < deadline and not ckpt_seen:
            for n in data_files(work, DST, dest):
                p = os.path.join(work, "data", DST, n)
                if n.endswith(".ckpt") and os.path.getsize(p) > 0:
                    ckpt_seen = True
            time.sleep(0.05)
        check(ckpt_seen, "a checkpoint was written before the kill")
        srv.kill()
        log("SIGKILL during copy; files:", data_files(work, DST, dest))
    finally:
        srv.kill()
    resumed_before = resumed_lines(work)
    srv = start(binary, work)
    try:
        api = Api(srv.address, token)
        check(api.wait_image(DST, dest, "Available") == "Available",
              "copy resumed after SIGKILL")
        t = api.export(DST, dest, "outbox")
        check(api.wait_task(DST, t) == "Finished", "export after resume")
        out = os.path.join(work, "oss", "outbox", dest + "_system.raw")
        check(sha256_file(out) == sha256_file(os.path.join(inb, "cancel.raw")),
              "resumed copy has the right checksum")
        check(not [n for n in data_files(work, DST, dest) if n.startswith(".")],
              "no temporary file after the resumed copy")
        check(resumed_lines(work) > resumed_before,
              "the copy resumed from its checkpoint, not from the start")
        log("SIGKILL mid-copy resumed with the right checksum")
    finally:
        srv.term()

    # SIGKILL during an import and during an export (both running, each
    # past its first checkpoint, neither done: 96 MiB at 16 MiB/s).
    srv = start(binary, work, ["--backend-bandwidth-mib", "16"])
    try:
        api = Api(srv.address, token)
        t = api.export(SRC, resumed_src, "outbox", "kill-")
        image_id, task_id = api.import_image("inbox", "cancel.raw")
        wait_ckpt(lambda: [os.path.join(work, "data", SRC, n)
                           for n in data_files(work, SRC, image_id)])
        wait_ckpt(lambda: [os.path.join(work, "data", SRC, n)
                           for n in os.listdir(os.path.join(work, "data", SRC))
                           if n == ".export-%s.ckpt" % t])
        check(api.task(SRC, t).task_status == "Processing" and
              api.task(SRC, task_id).task_status == "Processing",
              "import and export still running at the kill")
        # The importing image's RemainTime comes from the measured rate: at
        # most the whole 96 MiB at 16 MiB/s (6 s) plus rounding, never 0.
        im = api.image(SRC, image_id)
        check(im.status == "Creating" and 0 < im.remain_time <= 7,
              "importing image RemainTime %s (%s)" % (im.remain_time,
                                                      im.progress))
        figures["import_remain_time_s"] = im.remain_time
        srv.kill()
    finally:
        srv.kill()
    before = resumed_lines(work)
    srv = start(binary, work)
    try:
        api = Api(srv.address, token)
        check(api.wait_task(SRC, task_id) == "Finished", "import resumed")
        check(api.wait_task(SRC, t) == "Finished", "export resumed")
        want = sha256_file(os.path.join(inb, "cancel.raw"))
        out = os.path.join(work, "oss", "outbox",
                           "kill-%s_system.raw" % resumed_src)
        check(sha256_file(out) == want, "resumed export has the right bytes")
        e = api.export(SRC, image_id, "outbox", "imp-")
        check(api.wait_task(SRC, e) == "Finished", "export of resumed import")
        check(sha256_file(os.path.join(work, "oss", "outbox",
                                       "imp-%s_system.raw" % image_id)) == want,
              "resumed import has the right bytes")
        check(resumed_lines(work) >= before + 2,
              "import and export resumed from their checkpoints")
        check(not [n for n in os.listdir(os.path.join(work, "oss", "outbox"))
                   if n.startswith(".")], "no temporary object left")
        log("SIGKILL mid-import and mid-export resumed with the right checksum")
    finally:
        srv.term()

    # A full destination: cn-beijing on a 16 MiB tmpfs (root only).
    full = os.path.join(work, "data", "cn-beijing")
    os.makedirs(full, exist_ok=True)
    mounted = os.geteuid() == 0 and subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", full],
        capture_output=True).returncode == 0
    if not mounted:
        log("SKIP full destination: cannot mount a tmpfs (not root?)")
    else:
        srv = start(binary, work)
        try:
            api = Api(srv.address, token)
            dest = api.call("CopyImage", region_id=SRC, image_id=resumed_src,
                            destination_region_id="cn-beijing").image_id
            status = api.wait_image("cn-beijing", dest, "CreateFailed")
            check(status == "CreateFailed", "copy to a full disk failed")
            im = api.image("cn-beijing", dest)
            check(im.failure_code == "DiskFull", "FailureCode DiskFull: %s" % im)
            left = [n for n in os.listdir(full) if not n.endswith(".failure")
                    and not n.startswith(".ecsimage")]
            check(not left, "the failed copy freed its space: %s" % left)
            check(os.path.exists(os.path.join(work, "data", SRC,
                                              resumed_src + ".img")),
                  "the source is untouched")
            log("full destination: copy CreateFailed/DiskFull, space freed")
        finally:
            srv.term()
            subprocess.run(["umount", full])

    # The pause hook before REGISTERING: a copy with every byte written,
    # verified and in place stays TRANSFERRING at 99% while the file exists.
    # CancelCopyImage there removes the finished data; lifting the pause
    # lets another copy through REGISTERING to Available.
    pause = os.path.join(work, "pause-before-registering")
    open(pause, "w").close()
    srv = start(binary, work,
                ["--backend-test-pause-before-registering", pause])
    try:
        api = Api(srv.address, token)

        def paused_copy():
            dest = api.copy(resumed_src)
            meta = os.path.join(work, "data", DST, dest + ".meta")
            deadline = time.time() + 60
            while time.time() < deadline and not os.path.exists(meta):
                time.sleep(0.05)
            check(os.path.exists(meta), "paused copy wrote its data")
            while time.time() < deadline and \
                    api.image(DST, dest).progress != "99%":
                time.sleep(0.05)  # the engine's next tick records it
            for _ in range(10):  # held over ~10 engine ticks (50 ms each)
                time.sleep(0.05)
                im = api.image(DST, dest)
                check((im.copy_phase, im.progress) == ("TRANSFERRING", "99%"),
                      "paused before REGISTERING: %s %s" %
                      (im.copy_phase, im.progress))
            return dest

        dest = paused_copy()
        api.call("CancelCopyImage", region_id=DST, image_id=dest)
        deadline = time.time() + 60
        while time.time() < deadline and api.image(DST, dest) is not None:
            time.sleep(0.05)
        check(api.image(DST, dest) is None, "cancelled paused copy gone")
        check(not data_files(work, DST, dest),
              "cancel at the pause left files: %s" % data_files(work, DST, dest))
        dest = paused_copy()
        os.remove(pause)
        check(api.wait_image(DST, dest, "Available") == "Available",
              "the pause lifted: REGISTERING, then Available")
        check(api.image(DST, dest).image_digest ==
              api.image(SRC, resumed_src).image_digest,
              "the copy has the source's digest")
        log("pause before REGISTERING: cancel there left no file; lifted, "
            "the copy became Available")
    finally:
        srv.term()

    # The orphan collector: old files no live image or task owns go, after
    # two lease terms (1 s leases here); owned and unknown files stay.
    region = os.path.join(work, "data", SRC)
    orphans = ["m-orphan00000000000000.img", "m-orphan00000000000000.meta",
               ".m-orphan00000000000000.e7.part",
               ".%s.e9.part" % resumed_src,  # its image is Available: done
               ".export-t-nosuchtask0000000000.ckpt"]
    stay = ["notes.txt", resumed_src + ".img", resumed_src + ".meta"]
    old = time.time() - 3600
    for n in orphans + ["notes.txt"]:
        with open(os.path.join(region, n), "wb") as f:
            f.write(b"x")
    for n in orphans + stay:
        os.utime(os.path.join(region, n), (old, old))
    # Nobody's, but changed "now" (dated ahead, so never two terms old while
    # the test runs).
    young = ".m-orphan11111111111111.e1.part"
    with open(os.path.join(region, young), "wb") as f:
        f.write(b"x")
    os.utime(os.path.join(region, young), (time.time() + 3600,) * 2)
    srv = start(binary, work, ["--task-lease-seconds", "1"])
    try:
        deadline = time.time() + 30
        while time.time() < deadline and any(
                os.path.exists(os.path.join(region, n)) for n in orphans):
            time.sleep(0.1)
        left = [n for n in orphans if os.path.exists(os.path.join(region, n))]
        check(not left, "orphans removed: left %s" % left)
        check(all(os.path.exists(os.path.join(region, n)) for n in stay),
              "owned and unknown files stay")
        check(os.path.exists(os.path.join(region, young)),
              "a young file stays (grace period)")
        api = Api(srv.address, token)
        check(api.image(SRC, resumed_src).status == "Available",
              "the owning image is untouched")
        log("orphan collector removed", len(orphans), "files, kept the rest")
    finally:
        srv.term()

    # --simulation-control drives the simulated backend only.
    r = subprocess.run([binary, "serve", "--db", os.path.join(work, "x.db"),
                        "--backend=filesystem", "--simulation-control",
                        "--data-root", os.path.join(work, "data"),
                        "--oss-root", os.path.join(work, "oss")],
                       capture_output=True, text=True, timeout=30)
    check(r.returncode == 2 and "simulation-control" in r.stderr,
          "--simulation-control with filesystem refused: %s" % r.stderr)

    # A database whose finished images have no data under --data-root (a
    # new, empty one here) is refused at start: data is never invented.
    os.makedirs(os.path.join(work, "data-empty"))
    r = subprocess.run([binary, "serve", "--db", os.path.join(work, "db.sqlite"),
                        "--listen", "127.0.0.1:0", "--backend=filesystem",
                        "--data-root", os.path.join(work, "data-empty"),
                        "--oss-root", os.path.join(work, "oss")],
                       capture_output=True, text=True, timeout=60)
    check(r.returncode == 1 and "have no data under --data-root" in r.stderr,
          "a database without its data refused: %s" % r.stderr[-2000:])
    log("start refused on a data root without the images' data")

    rel_lib.write_figures(args, "backend_e2e", figures)
    if not keep:
        shutil.rmtree(work, ignore_errors=True)
    log("PASS backend_e2e")


if __name__ == "__main__":
    try:
        main()
    except rel_lib.Failure as e:
        log("FAIL", e)
        sys.exit(1)
