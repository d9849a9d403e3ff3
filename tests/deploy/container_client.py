#!/usr/bin/python3
"""A small gRPC client for scripts/container_check.sh.

Runs on Debian's python3-grpcio and python3-protobuf (/usr/bin/python3);
message classes come from protoc --python_out into --gen (the check
generates them from proto/ and /usr/share/grpc-proto). Every subcommand
prints one line and exits non-zero when what it checks does not hold.
"""

import argparse
import json
import os
import subprocess
import sys
import threading
import time
import urllib.request

import grpc

HEALTH = "/grpc.health.v1.Health/Check"
IMAGES = "/ecs.image.v1.ImageService/"
REGION = "cn-hangzhou"


def load_stubs(gen):
    sys.path.insert(0, gen)
    global health_pb2, api_pb2, status_pb2, error_details_pb2
    # health.proto and google/rpc/*.proto are compiled from copies under
    # checkhealth/ and checkrpc/: "grpc" and "google" are taken by grpcio
    # and protobuf themselves. Wire names do not depend on the file path.
    from checkhealth import health_pb2  # noqa: E402
    from ecs.image.v1 import image_service_pb2 as api_pb2  # noqa: E402
    from checkrpc import status_pb2, error_details_pb2  # noqa: E402


def unary(channel, method, response_cls):
    return channel.unary_unary(
        method,
        request_serializer=lambda m: m.SerializeToString(),
        response_deserializer=response_cls.FromString)


def health_status(addr, timeout=2.0):
    """SERVING / NOT_SERVING / ... or the gRPC code name when the call fails."""
    with grpc.insecure_channel(addr) as channel:
        check = unary(channel, HEALTH, health_pb2.HealthCheckResponse)
        try:
            reply = check(health_pb2.HealthCheckRequest(service=""),
                          timeout=timeout)
        except grpc.RpcError as e:
            return e.code().name
        return health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status)


def wait_health(addr, want, timeout):
    deadline = time.monotonic() + timeout
    seen = None
    while time.monotonic() < deadline:
        seen = health_status(addr)
        if seen == want:
            return True, seen
        time.sleep(0.2)
    return False, seen


def auth(token):
    return (("authorization", "Bearer " + token),)


def ecs_reason(err):
    """The ErrorInfo reason from grpc-status-details-bin, or ''."""
    for key, value in (err.trailing_metadata() or ()):
        if key == "grpc-status-details-bin":
            status = status_pb2.Status.FromString(value)
            for any_detail in status.details:
                info = error_details_pb2.ErrorInfo()
                if any_detail.Unpack(info):
                    return info.reason
    return ""


def describe_status(channel, token, image_id):
    describe = unary(channel, IMAGES + "DescribeImages",
                     api_pb2.DescribeImagesResponse)
    reply = describe(api_pb2.DescribeImagesRequest(
        region_id=REGION, image_id=image_id,
        status="Waiting,Creating,Available,UnAvailable,CreateFailed,Deprecated"),
        metadata=auth(token), timeout=10)
    for image in reply.images:
        if image.image_id == image_id:
            return image.status
    return "absent"


def cmd_health(a):
    ok, seen = wait_health(a.addr, a.want, a.timeout)
    print(f"health {seen} (want {a.want})")
    return 0 if ok else 1


def cmd_create(a):
    """CreateImage, then wait until it is Available; prints the ImageId."""
    with grpc.insecure_channel(a.addr) as channel:
        create = unary(channel, IMAGES + "CreateImage",
                       api_pb2.CreateImageResponse)
        reply = create(api_pb2.CreateImageRequest(
            region_id=REGION, image_name=a.name, size=1,
            description="container check"), metadata=auth(a.token), timeout=10)
        deadline = time.monotonic() + a.timeout
        status = None
        while time.monotonic() < deadline:
            status = describe_status(channel, a.token, reply.image_id)
            if status == "Available":
                print(reply.image_id)
                return 0
            time.sleep(0.2)
    print(f"image {reply.image_id} still {status}", file=sys.stderr)
    return 1


def cmd_status(a):
    with grpc.insecure_channel(a.addr) as channel:
        status = describe_status(channel, a.token, a.image)
    print(status)
    return 0 if a.want is None or status == a.want else 1


def cmd_delete(a):
    with grpc.insecure_channel(a.addr) as channel:
        delete = unary(channel, IMAGES + "DeleteImage",
                       api_pb2.DeleteImageResponse)
        try:
            reply = delete(api_pb2.DeleteImageRequest(
                region_id=REGION, image_id=a.image), metadata=auth(a.token),
                timeout=10)
            got = "OK"
            detail = reply.request_id
        except grpc.RpcError as e:
            got = e.code().name
            detail = ecs_reason(e)
    print(f"DeleteImage {a.image}: {got} {detail}")
    ok = got == a.expect and (a.reason is None or detail == a.reason)
    return 0 if ok else 1


def cmd_shutdown(a):
    """SIGTERM with a DeleteImage in flight.

    Opens the call (headers sent, request message held back), sends SIGTERM
    to the container, waits until Health says NOT_SERVING, then lets the
    request go: the call must finish OK although the signal came first.
    """
    release = threading.Event()
    opened = threading.Event()

    def request():
        opened.set()
        release.wait(60)
        yield api_pb2.DeleteImageRequest(region_id=REGION, image_id=a.image)

    with grpc.insecure_channel(a.addr) as channel:
        # Same wire format as a unary call; the stream form lets the
        # request body arrive after SIGTERM.
        call = channel.stream_unary(
            IMAGES + "DeleteImage",
            request_serializer=lambda m: m.SerializeToString(),
            response_deserializer=api_pb2.DeleteImageResponse.FromString)
        grpc.channel_ready_future(channel).result(timeout=10)
        future = call.future(request(), metadata=auth(a.token), timeout=60)
        opened.wait(10)
        time.sleep(0.5)  # let the headers reach the server
        t0 = time.monotonic()
        subprocess.run(a.signal_cmd, shell=True, check=True)
        ok, seen = wait_health(a.addr, "NOT_SERVING", 30)
        t_not_serving = time.monotonic() - t0
        release.set()
        try:
            future.result(timeout=30)
            got = "OK"
        except grpc.RpcError as e:
            got = e.code().name
    print(json.dumps({"not_serving": ok, "health_seen": seen,
                      "not_serving_after_s": round(t_not_serving, 2),
                      "inflight_delete": got}))
    return 0 if ok and got == "OK" else 1


def scrape(url):
    with urllib.request.urlopen(url, timeout=5) as r:
        return r.read().decode()


def series_value(text, name, labels):
    """Sum of samples of `name` whose labels include `labels`."""
    total = 0.0
    for line in text.splitlines():
        if line.startswith("#") or not line.startswith(name):
            continue
        head, _, value = line.rpartition(" ")
        if not head.startswith(name + "{") and head != name:
            continue
        if all(f'{k}="{v}"' in head for k, v in labels.items()):
            total += float(value)
    return total


def cmd_metric(a):
    """Prints the value of a counter, or 'absent' if /metrics is not served."""
    try:
        text = scrape(a.url)
    except OSError as e:
        print(f"absent ({e})")
        return 2
    labels = dict(kv.split("=", 1) for kv in a.label)
    print(int(series_value(text, a.name, labels)))
    return 0


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--gen", required=True)
    p.add_argument("--addr")
    p.add_argument("--token")
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("health")
    s.add_argument("--want", default="SERVING")
    s.add_argument("--timeout", type=float, default=60)
    s = sub.add_parser("create")
    s.add_argument("--name", required=True)
    s.add_argument("--timeout", type=float, default=60)
    s = sub.add_parser("status")
    s.add_argument("--image", required=True)
    s.add_argument("--want")
    s = sub.add_parser("delete")
    s.add_argument("--image", required=True)
    s.add_argument("--expect", default="OK")
    s.add_argument("--reason")
    s = sub.add_parser("shutdown")
    s.add_argument("--image", required=True)
    s.add_argument("--signal-cmd", required=True)
    s = sub.add_parser("metric")
    s.add_argument("--url", required=True)
    s.add_argument("--name", required=True)
    s.add_argument("--label", action="append", default=[])
    a = p.parse_args()
    load_stubs(a.gen)
    return {"health": cmd_health, "create": cmd_create, "status": cmd_status,
            "delete": cmd_delete, "shutdown": cmd_shutdown,
            "metric": cmd_metric}[a.cmd](a)


if __name__ == "__main__":
    sys.exit(main())
