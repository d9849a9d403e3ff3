#!/usr/bin/env python3
"""The ecsimage story in Python: create an image, copy it, watch the copy go
Waiting -> Creating, cancel it, delete (a repeated delete is OK), and meet
every ECS error of CancelCopyImage and DeleteImage (MissingParameter,
InvalidRegionId.NotFound, InvalidImageId.NotFound, ImageCreatedNotFromCopy,
IncorrectImageStatus in each phase, CancelNotSupported, ImageIsImporting,
OperationDenied.ImageCopying, ImageIsExporting, ImageIsPublic, ImageUseShared,
ImageUsingByInstance), each decoded from grpc-status-details-bin.

Needs a server started with --simulation-control (the story drives the copy
with SimulationControl.AdvanceTask) and two accounts:

  ECSIMAGE_TARGET=127.0.0.1:50051 ECSIMAGE_TOKEN=<token of A> \\
  ECSIMAGE_TOKEN2=<token of B> ECSIMAGE_ACCOUNT2=<account id of B> \\
  python3 story.py

It imports the installed package (pip install ecsimage-client, or the wheel
`pip wheel --no-build-isolation --no-deps clients/python` builds);
scripts/clients_test.sh runs it from a virtual environment outside the
repository.

Prints one line per check ("ok - ..." or "FAIL - ...") and exits non-zero if
any check failed.
"""

import os
import re
import secrets
import sys

import ecsimage_client
from ecsimage_client import Client, EcsError

# The EcsError subclass each gRPC code must raise.
FAMILY = {
    "NOT_FOUND": ecsimage_client.NotFoundError,
    "FAILED_PRECONDITION": ecsimage_client.PreconditionError,
    "INVALID_ARGUMENT": ecsimage_client.InvalidParameterError,
    "UNAUTHENTICATED": ecsimage_client.AuthenticationError,
}

REQUEST_ID = re.compile(
    r"^[0-9A-F]{8}-[0-9A-F]{4}-4[0-9A-F]{3}-[89AB][0-9A-F]{3}-[0-9A-F]{12}$")
IMAGE_ID = re.compile(r"^m-[a-z0-9]{20}$")
INSTANCE_ID = re.compile(r"^i-[a-z0-9]{20}$")
SRC_REGION, DST_REGION = "cn-hangzhou", "cn-shanghai"
ALL_STATUSES = "Waiting,Creating,Available,UnAvailable,CreateFailed,Deprecated"


class Story:
    def __init__(self):
        self.passed = 0
        self.failed = 0

    def check(self, desc, cond, info=""):
        if cond:
            self.passed += 1
            print("ok - " + desc)
        else:
            self.failed += 1
            print("FAIL - %s %s" % (desc, info))
        return cond

    def say(self, text):
        print("# " + text)

    def expect_error(self, desc, fn, code, grpc_code, http_status=None,
                     detail=None):
        """Calls fn, expects EcsError with that ECS code; returns it."""
        try:
            fn()
        except EcsError as e:
            self.say("%s -> %s" % (desc, e))
            ok = ((code is None or e.code == code) and
                  e.grpc_code.name == grpc_code and
                  (http_status is None or e.http_status == http_status))
            self.check("%s: %s / %s / HTTP %s" % (desc, code or "*", grpc_code,
                                                   http_status), ok,
                       "got %s / %s / HTTP %s" % (e.code, e.grpc_code.name,
                                                  e.http_status))
            family = FAMILY[grpc_code]
            self.check("%s: raised as %s" % (desc, family.__name__),
                       isinstance(e, family), type(e).__name__)
            if code is not None:  # an ECS error: full details expected
                self.check(desc + ": RequestId in details and trailer",
                           bool(e.request_id and REQUEST_ID.match(e.request_id))
                           and e.request_id == e.trailer_request_id,
                           "%r vs trailer %r" % (e.request_id,
                                                 e.trailer_request_id))
                self.check(desc + ": ErrorInfo reason is UPPER_SNAKE",
                           e.reason == upper_snake(code), repr(e.reason))
            if detail is not None:
                self.check(desc + ": " + detail.__name__ + " detail",
                           detail(e), repr(e.details))
            return e
        except Exception as e:  # noqa: BLE001
            self.check(desc, False, "unexpected %r" % e)
            return None
        self.check(desc, False, "call succeeded, expected %s" % (code or grpc_code))
        return None


def upper_snake(code):
    s = re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", code)
    return re.sub(r"[^A-Za-z0-9]+", "_", s).upper()


def precondition(subject_prefix):
    def ok(e):
        pf = e.precondition_failure
        return bool(pf and pf.violations and
                    pf.violations[0].type == e.code and
                    pf.violations[0].subject.startswith(subject_prefix))
    ok.__name__ = "PreconditionFailure"
    return ok


def resource_info(e):
    return bool(e.resource_info and e.resource_info.resource_name)


resource_info.__name__ = "ResourceInfo"


def bad_request(field):
    def ok(e):
        br = e.bad_request
        return bool(br and br.field_violations and
                    br.field_violations[0].field == field)
    ok.__name__ = "BadRequest"
    return ok


def run(target, token, token2, account2):
    s = Story()
    a = Client(target, token)
    b = Client(target, token2)
    suffix = secrets.token_hex(4)

    def describe(region, image_id, status=ALL_STATUSES):
        return a.describe_images(RegionId=region, ImageId=image_id,
                                 Status=status)

    regions = a.describe_regions()
    s.check("DescribeRegions lists cn-hangzhou and cn-shanghai",
            {SRC_REGION, DST_REGION} <=
            {r["RegionId"] for r in regions["Regions"]})

    # 1. Create an image; with --simulation-control it stays Creating until
    #    driven to Available.
    created = a.create_image(RegionId=SRC_REGION, ImageName="story-py-" + suffix,
                             Description="python story", Size=20)
    src = created["ImageId"]
    s.say("CreateImage -> %s (RequestId %s)" % (src, created["RequestId"]))
    s.check("CreateImage returns an m- ImageId", bool(IMAGE_ID.match(src)), src)
    s.check("CreateImage returns a RequestId",
            bool(REQUEST_ID.match(created["RequestId"])), created["RequestId"])
    moved = a.advance_task(RegionId=SRC_REGION, ImageId=src, Phase="Available")
    s.check("AdvanceTask makes the image Available",
            moved["Status"] == "Available", moved)

    # 2. Copy it to another region: Waiting (QUEUED), then Creating.
    copied = a.copy_image(RegionId=SRC_REGION, ImageId=src,
                          DestinationRegionId=DST_REGION,
                          DestinationImageName="story-py-copy-" + suffix)
    cp = copied["ImageId"]
    s.say("CopyImage -> %s" % cp)
    s.check("CopyImage returns an m- ImageId", bool(IMAGE_ID.match(cp)), cp)
    img = describe(DST_REGION, cp, "Waiting,Creating")["Images"]
    s.check("the copy is Waiting (QUEUED, 0%)",
            len(img) == 1 and img[0]["Status"] == "Waiting" and
            img[0]["CopyPhase"] == "QUEUED" and img[0]["Progress"] == "0%" and
            img[0]["IsCopied"], img)

    s.expect_error("DeleteImage of the copy's source",
                   lambda: a.delete_image(RegionId=SRC_REGION, ImageId=src),
                   "OperationDenied.ImageCopying", "FAILED_PRECONDITION", 403,
                   precondition(""))

    a.advance_task(RegionId=DST_REGION, ImageId=cp, Phase="PREPARING")
    img = describe(DST_REGION, cp, "Waiting,Creating")["Images"]
    s.check("PREPARING: the copy is Creating 0%",
            len(img) == 1 and img[0]["Status"] == "Creating" and
            img[0]["Progress"] == "0%", img)
    moved = a.advance_task(RegionId=DST_REGION, ImageId=cp,
                           Phase="TRANSFERRING", Progress=40)
    img = describe(DST_REGION, cp, "Waiting,Creating")["Images"]
    s.check("TRANSFERRING: the copy is Creating 40%",
            len(img) == 1 and img[0]["Status"] == "Creating" and
            img[0]["Progress"] == "40%" and img[0]["CopyPhase"] == "TRANSFERRING",
            img)

    # 3. Cancel it: CANCELLING (UnAvailable), then CANCELLED (a tombstone).
    cancelled = a.cancel_copy_image(RegionId=DST_REGION, ImageId=cp)
    s.check("CancelCopyImage succeeds with a RequestId",
            bool(REQUEST_ID.match(cancelled["RequestId"])), cancelled)
    img = describe(DST_REGION, cp)["Images"]
    s.check("the cancelled copy is UnAvailable (CANCELLING)",
            len(img) == 1 and img[0]["Status"] == "UnAvailable" and
            img[0]["CopyPhase"] == "CANCELLING", img)
    e = s.expect_error("CancelCopyImage while CANCELLING",
                       lambda: a.cancel_copy_image(RegionId=DST_REGION, ImageId=cp),
                       "IncorrectImageStatus", "FAILED_PRECONDITION", 400,
                       precondition(""))
    if e is not None:
        s.check("CANCELLING: its message", e.message ==
                "The specified image is not coping.", repr(e.message))
    moved = a.advance_task(RegionId=DST_REGION, ImageId=cp, Phase="CANCELLED")
    s.check("CANCELLED: the copy is a tombstone",
            moved["Phase"] == "CANCELLED" and moved["Status"] == "", moved)
    s.check("a tombstone is never described",
            describe(DST_REGION, cp)["TotalCount"] == 0)

    # 4. Deleting a tombstone is OK, again and again.
    for n in (1, 2):
        r = a.delete_image(RegionId=DST_REGION, ImageId=cp)
        s.check("DeleteImage of the tombstone #%d is OK" % n,
                bool(REQUEST_ID.match(r["RequestId"])), r)
    s.expect_error("CancelCopyImage of the cancelled copy",
                   lambda: a.cancel_copy_image(RegionId=DST_REGION, ImageId=cp),
                   "InvalidImageId.NotFound", "NOT_FOUND", 404)

    # 5. Blockers of DeleteImage: shares, then instances.
    run_ = a.run_instances(RegionId=SRC_REGION, ImageId=src, Amount=1)
    inst = run_["InstanceIdSets"]
    s.check("RunInstances returns an i- InstanceId",
            len(inst) == 1 and bool(INSTANCE_ID.match(inst[0])), inst)
    a.modify_image_share_permission(RegionId=SRC_REGION, ImageId=src,
                                    AddAccount=[account2])
    s.expect_error("DeleteImage of a shared image",
                   lambda: a.delete_image(RegionId=SRC_REGION, ImageId=src),
                   "ImageUseShared", "FAILED_PRECONDITION", 403,
                   precondition(""))
    shared = b.describe_images(RegionId=SRC_REGION, ImageId=src)["Images"]
    s.check("B sees the shared image as others",
            len(shared) == 1 and shared[0]["ImageOwnerAlias"] == "others",
            shared)
    s.expect_error("B deleting A's shared image",
                   lambda: b.delete_image(RegionId=SRC_REGION, ImageId=src),
                   "InvalidImageId.NotFound", "NOT_FOUND", 404, resource_info)
    a.modify_image_share_permission(RegionId=SRC_REGION, ImageId=src,
                                    RemoveAccount=[account2])
    e = s.expect_error("DeleteImage of an image instances use",
                       lambda: a.delete_image(RegionId=SRC_REGION, ImageId=src),
                       "ImageUsingByInstance", "FAILED_PRECONDITION", 403,
                       precondition("instance/"))
    if e is not None and e.precondition_failure:
        s.check("ImageUsingByInstance names the instance",
                e.precondition_failure.violations[0].subject ==
                "instance/" + inst[0], e.precondition_failure)
    r = a.delete_image(RegionId=SRC_REGION, ImageId=src, Force=True)
    s.check("DeleteImage Force=true succeeds", "RequestId" in r, r)
    r = a.delete_image(RegionId=SRC_REGION, ImageId=src)
    s.check("a repeated DeleteImage is OK", "RequestId" in r, r)
    s.check("the deleted image is not described",
            describe(SRC_REGION, src)["TotalCount"] == 0)

    # 6. Ids that never existed; missing and broken tokens.
    s.expect_error("DeleteImage of an id that never existed",
                   lambda: a.delete_image(RegionId=SRC_REGION,
                                          ImageId="m-" + "0" * 20),
                   "InvalidImageId.NotFound", "NOT_FOUND", 404, resource_info)
    s.expect_error("a call without a token",
                   lambda: Client(target, None).describe_regions(),
                   None, "UNAUTHENTICATED")
    s.expect_error("a call with a broken token",
                   lambda: Client(target, "not-a-token").describe_regions(),
                   None, "UNAUTHENTICATED")
    more_errors(s, a, suffix)
    a.close()
    b.close()
    return s


def more_errors(s, a, suffix):
    """The rest of the headline pair's errors: missing parameters, unknown
    regions, copies that are not cancellable (by phase, by encryption), and
    the import, export and publication that block DeleteImage."""
    for rpc, fn in (("DeleteImage", a.delete_image),
                    ("CancelCopyImage", a.cancel_copy_image)):
        s.expect_error(rpc + " without ImageId",
                       lambda fn=fn: fn(RegionId=SRC_REGION),
                       "MissingParameter", "INVALID_ARGUMENT", 400,
                       bad_request("ImageId"))
        s.expect_error(rpc + " in a region that does not exist",
                       lambda fn=fn: fn(RegionId="cn-nowhere",
                                        ImageId="m-" + "0" * 20),
                       "InvalidRegionId.NotFound", "NOT_FOUND", 404,
                       resource_info)

    base = a.create_image(RegionId=SRC_REGION, ImageName="story-py-base-" + suffix,
                          Size=20)["ImageId"]
    a.advance_task(RegionId=SRC_REGION, ImageId=base, Phase="Available")
    s.expect_error("CancelCopyImage of an image that is not a copy",
                   lambda: a.cancel_copy_image(RegionId=SRC_REGION, ImageId=base),
                   "ImageCreatedNotFromCopy", "FAILED_PRECONDITION", 400,
                   precondition(""))

    def copy(name, **kw):
        return a.copy_image(RegionId=SRC_REGION, ImageId=base,
                            DestinationRegionId=DST_REGION,
                            DestinationImageName=name + suffix, **kw)["ImageId"]

    def not_cancellable(desc, image, message):
        e = s.expect_error(desc, lambda: a.cancel_copy_image(
            RegionId=DST_REGION, ImageId=image), "IncorrectImageStatus",
            "FAILED_PRECONDITION", 400, precondition(""))
        if e is not None:
            s.check(desc + ": its message", e.message == message, repr(e.message))

    c = copy("story-py-phases-")
    for phase, message in (("PREPARING", "The specified snapshot is not coping."),
                           ("REGISTERING", "The image is copied finished."),
                           ("SUCCEEDED", "The image has completed copy.")):
        a.advance_task(RegionId=DST_REGION, ImageId=c, Phase=phase)
        not_cancellable("CancelCopyImage in " + phase, c, message)
    f = copy("story-py-failed-")
    a.advance_task(RegionId=DST_REGION, ImageId=f, Phase="PREPARING")
    a.fail_task(RegionId=DST_REGION, ImageId=f)
    not_cancellable("CancelCopyImage of a FAILED copy", f,
                    "The Image copy has been failed.")
    enc = copy("story-py-encrypted-", Encrypted=True)
    s.expect_error("CancelCopyImage of an encrypted copy",
                   lambda: a.cancel_copy_image(RegionId=DST_REGION, ImageId=enc),
                   "CancelNotSupported", "FAILED_PRECONDITION", 400,
                   precondition(""))
    a.advance_task(RegionId=DST_REGION, ImageId=enc, Phase="PREPARING")
    a.fail_task(RegionId=DST_REGION, ImageId=enc)

    imp = a.import_image(RegionId=SRC_REGION, ImageName="story-py-import-" + suffix,
                         OSSBucket="my-bucket", OSSObject="story.qcow2", Size=20)
    s.expect_error("DeleteImage of an importing image",
                   lambda: a.delete_image(RegionId=SRC_REGION, ImageId=imp["ImageId"]),
                   "ImageIsImporting", "FAILED_PRECONDITION", 403, precondition(""))
    a.cancel_task(RegionId=SRC_REGION, TaskId=imp["TaskId"])

    exp = a.export_image(RegionId=SRC_REGION, ImageId=base, OSSBucket="my-bucket",
                         OSSPrefix="exports/")
    e = s.expect_error("DeleteImage of an exporting image",
                       lambda: a.delete_image(RegionId=SRC_REGION, ImageId=base),
                       "ImageIsExporting", "FAILED_PRECONDITION", 403,
                       precondition(""))
    if e is not None:
        s.check("ImageIsExporting carries RetryInfo",
                e.retry_info is not None, repr(e.details))
    a.advance_task(RegionId=SRC_REGION, TaskId=exp["TaskId"], Phase="Finished")

    a.modify_image_share_permission(RegionId=SRC_REGION, ImageId=base, IsPublic=True)
    s.expect_error("DeleteImage of a public image",
                   lambda: a.delete_image(RegionId=SRC_REGION, ImageId=base),
                   "ImageIsPublic", "FAILED_PRECONDITION", 403, precondition(""))
    a.modify_image_share_permission(RegionId=SRC_REGION, ImageId=base, IsPublic=False)
    r = a.delete_image(RegionId=SRC_REGION, ImageId=base)
    s.check("DeleteImage once nothing blocks it", bool(REQUEST_ID.match(r["RequestId"])), r)


def main():
    env = os.environ
    missing = [k for k in ("ECSIMAGE_TARGET", "ECSIMAGE_TOKEN",
                           "ECSIMAGE_TOKEN2", "ECSIMAGE_ACCOUNT2")
               if not env.get(k)]
    if missing:
        sys.exit("set " + ", ".join(missing) + " (see the docstring)")
    try:
        s = run(env["ECSIMAGE_TARGET"], env["ECSIMAGE_TOKEN"],
                env["ECSIMAGE_TOKEN2"], env["ECSIMAGE_ACCOUNT2"])
    except EcsError as e:
        print("FAIL - unexpected error: %s" % e)
        print("python: 0 passed, 1 failed")
        return 1
    print("# ecsimage_client %s from %s" % (ecsimage_client.__version__,
                                           os.path.dirname(ecsimage_client.__file__)))
    print("python: %d passed, %d failed" % (s.passed, s.failed))
    return 1 if s.failed else 0


if __name__ == "__main__":
    sys.exit(main())
