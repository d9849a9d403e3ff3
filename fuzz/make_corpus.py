#!/usr/bin/python3
"""Writes the seed corpus of image_domain_fuzzer (fuzz/corpus/image_domain).

Each file is a sequence of records
  [rpc selector][caller 0-2][time step s][len lo][len hi][request bytes]
in the fuzzer's input format. Ids are the fuzzer's sequential ones:
images m-00000000000000000001..., instances/tasks share the counter;
accounts alice/bob/carol are 1000000000000001..3.

Usage: fuzz/make_corpus.py [OUT_DIR]
"""

import hashlib
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "tests", "reliability"))
import rel_lib as rl  # noqa: E402

RPCS = ["CancelCopyImage", "DeleteImage", "CreateImage", "CopyImage",
        "DescribeImages", "ModifyImageAttribute",
        "ModifyImageSharePermission", "DescribeImageSharePermission",
        "ImportImage", "ExportImage", "DescribeTasks", "CancelTask",
        "DescribeRegions", "RunInstances", "DeleteInstance",
        "DescribeInstances", "AdvanceTask", "FailTask"]
ALICE, BOB, CAROL = "1000000000000001", "1000000000000002", "1000000000000003"
SYS = "ubuntu_22_04_x64_20G_alibase_20240101.vhd"


def mid(n, p="m-"):
    return "%s%020d" % (p, n)


def rec(rpc, req, who=0, step=0):
    body = req.SerializeToString()
    return bytes([RPCS.index(rpc), who, step, len(body) & 0xFF,
                  len(body) >> 8]) + body


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "corpus", "image_domain")
    os.makedirs(out, exist_ok=True)
    pb = rl.stubs().pb
    hz, sh = "cn-hangzhou", "cn-shanghai"
    seqs = []
    # Every RPC once with an empty and a minimal request.
    empty = {r: getattr(pb, r + "Request", None) for r in RPCS}
    empty["AdvanceTask"] = pb.AdvanceTaskRequest
    empty["FailTask"] = pb.FailTaskRequest
    for r in RPCS:
        seqs.append([rec(r, empty[r]())])
    seqs.append([rec("DescribeImages", pb.DescribeImagesRequest(
        region_id=hz, status="Available", page_size=100))])
    # Create, wait, copy, drive, cancel, delete.
    seqs.append([
        rec("CreateImage", pb.CreateImageRequest(region_id=hz,
                                                 image_name="img-a", size=1)),
        rec("DescribeImages", pb.DescribeImagesRequest(
            region_id=hz, image_id=mid(1), status="Creating,Available"),
            step=5),
        rec("CopyImage", pb.CopyImageRequest(
            region_id=hz, image_id=mid(1), destination_region_id=sh,
            destination_image_name="copy-a")),
        rec("AdvanceTask", pb.AdvanceTaskRequest(
            region_id=sh, image_id=mid(3), phase="TRANSFERRING", progress=40)),
        rec("CancelCopyImage", pb.CancelCopyImageRequest(region_id=sh,
                                                         image_id=mid(3))),
        rec("DeleteImage", pb.DeleteImageRequest(region_id=hz,
                                                 image_id=mid(1))),
        rec("DeleteImage", pb.DeleteImageRequest(region_id=hz,
                                                 image_id=mid(1)), step=30),
    ])
    # Sharing, a shared image used by bob, the delete blockers, Force.
    seqs.append([
        rec("CreateImage", pb.CreateImageRequest(region_id=hz,
                                                 image_name="shared",
                                                 size=1,
                                                 client_token="tok-1")),
        rec("ModifyImageSharePermission", pb.ModifyImageSharePermissionRequest(
            region_id=hz, image_id=mid(1), add_account=[BOB, CAROL]), step=5),
        rec("DescribeImageSharePermission",
            pb.DescribeImageSharePermissionRequest(region_id=hz,
                                                   image_id=mid(1))),
        rec("RunInstances", pb.RunInstancesRequest(region_id=hz,
                                                   image_id=mid(1), amount=2),
            who=1),
        rec("DeleteImage", pb.DeleteImageRequest(region_id=hz,
                                                 image_id=mid(1))),
        rec("ModifyImageSharePermission", pb.ModifyImageSharePermissionRequest(
            region_id=hz, image_id=mid(1), remove_account=[BOB, CAROL])),
        rec("DeleteImage", pb.DeleteImageRequest(region_id=hz,
                                                 image_id=mid(1), force=True)),
        rec("DeleteInstance", pb.DeleteInstanceRequest(
            instance_id=mid(3, "i-")), who=1),
    ])
    # Public image, deprecate, modify.
    seqs.append([
        rec("CreateImage", pb.CreateImageRequest(
            region_id=hz, image_name="pub", size=2, architecture="arm64",
            os_type="linux", platform="Ubuntu",
            disk_device_mapping=[pb.DiskDeviceMapping(size=10,
                                                      device="/dev/xvdb",
                                                      type="data")])),
        rec("ModifyImageSharePermission", pb.ModifyImageSharePermissionRequest(
            region_id=hz, image_id=mid(1), is_public=True), step=5),
        rec("ModifyImageAttribute", pb.ModifyImageAttributeRequest(
            region_id=hz, image_id=mid(1), image_name="pub2",
            description="a description", status="Deprecated")),
        rec("DescribeImages", pb.DescribeImagesRequest(
            region_id=hz, image_owner_alias="others", usage="none"), who=2),
    ])
    # Import, export, tasks.
    seqs.append([
        rec("ImportImage", pb.ImportImageRequest(
            region_id=hz, image_name="imp", oss_bucket="bucket",
            oss_object="a/b.qcow2", size=5)),
        rec("DescribeTasks", pb.DescribeTasksRequest(
            region_id=hz, task_action="ImportImage")),
        rec("CancelTask", pb.CancelTaskRequest(region_id=hz,
                                               task_id=mid(2, "t-"))),
        rec("CreateImage", pb.CreateImageRequest(region_id=hz,
                                                 image_name="exp", size=1)),
        rec("ExportImage", pb.ExportImageRequest(
            region_id=hz, image_id=mid(4), oss_bucket="bucket",
            oss_prefix="x/"), step=5),
        rec("FailTask", pb.FailTaskRequest(region_id=hz,
                                           task_id=mid(6, "t-"))),
        rec("DescribeTasks", pb.DescribeTasksRequest(region_id=hz,
                                                     task_ids=mid(6, "t-"))),
    ])
    # Instances from a system image.
    seqs.append([
        rec("RunInstances", pb.RunInstancesRequest(
            region_id=hz, image_id=SYS, amount=3, client_token="run-1")),
        rec("RunInstances", pb.RunInstancesRequest(
            region_id=hz, image_id=SYS, amount=3, client_token="run-1")),
        rec("DescribeInstances", pb.DescribeInstancesRequest(
            region_id=hz, image_id=SYS)),
        rec("DeleteInstance", pb.DeleteInstanceRequest(
            instance_id=mid(1, "i-"))),
        rec("DeleteImage", pb.DeleteImageRequest(region_id=hz,
                                                 image_id=SYS)),
        rec("CopyImage", pb.CopyImageRequest(
            region_id=hz, image_id=SYS, destination_region_id=sh)),
    ])
    # Encrypted copy in the same region, driven to the end, then FailTask.
    seqs.append([
        rec("CreateImage", pb.CreateImageRequest(region_id=hz,
                                                 image_name="enc", size=1)),
        rec("CopyImage", pb.CopyImageRequest(
            region_id=hz, image_id=mid(1), destination_region_id=hz,
            destination_image_name="enc-copy", encrypted=True,
            kms_key_id="key-1"), step=5),
        rec("CancelCopyImage", pb.CancelCopyImageRequest(region_id=hz,
                                                         image_id=mid(3))),
        rec("AdvanceTask", pb.AdvanceTaskRequest(region_id=hz,
                                                 image_id=mid(3),
                                                 phase="SUCCEEDED")),
        rec("FailTask", pb.FailTaskRequest(region_id=hz, image_id=mid(3))),
        rec("DescribeImages", pb.DescribeImagesRequest(
            region_id=hz, status="Waiting,Creating,Available,CreateFailed",
            is_copied=True), step=200),
    ])
    for seq in seqs:
        data = b"".join(seq)
        name = hashlib.sha1(data).hexdigest()
        with open(os.path.join(out, name), "wb") as f:
            f.write(data)
    print("wrote %d seeds to %s" % (len(seqs), out))


if __name__ == "__main__":
    main()
