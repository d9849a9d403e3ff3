"""A small Python client for the ecsimage gRPC API.

Calls take and return ECS parameter names, the way the ECS documentation
spells them::

    from ecsimage_client import Client, EcsError

    with Client("127.0.0.1:50051", token) as ecs:
        image_id = ecs.create_image(RegionId="cn-hangzhou",
                                    ImageName="web-base")["ImageId"]
        try:
            ecs.delete_image(RegionId="cn-hangzhou", ImageId=image_id)
        except EcsError as e:
            print(e.code, e.http_status, e.request_id, e.detail)

Every failed call raises one exception type, EcsError, carrying the ECS code
(``InvalidImageId.NotFound``), the ECS message, the HTTP status, the
RequestId, the gRPC status code and the decoded google.rpc details
(ErrorInfo, RequestInfo, and BadRequest / ResourceInfo / PreconditionFailure /
RetryInfo as the error's kind requires).

The protobuf and gRPC modules are generated on first use into ``gen/`` beside
this file by Debian's ``protoc`` and ``grpc_python_plugin`` (nothing generated
is committed); run it with Debian's ``/usr/bin/python3`` (python3-grpcio,
python3-protobuf).
"""

import importlib
import os
import re
import subprocess
import sys

_HERE = os.path.dirname(os.path.abspath(__file__))
_REPO = os.path.dirname(os.path.dirname(_HERE))
PROTO_ROOT = os.environ.get("ECSIMAGE_PROTO_DIR", os.path.join(_REPO, "proto"))
GOOGLEAPIS_ROOT = os.environ.get(
    "ECSIMAGE_GOOGLEAPIS_DIR",
    "/usr/share/gocode/src/github.com/gogo/googleapis")
GEN_DIR = os.environ.get("ECSIMAGE_PY_GEN_DIR", os.path.join(_HERE, "gen"))

_API_PROTO = "ecs/image/v1/image_service.proto"
_RPC_PROTOS = ("google/rpc/status.proto", "google/rpc/error_details.proto")


def generate_stubs(gen_dir=GEN_DIR, force=False):
    """Runs protoc + grpc_python_plugin into gen_dir (if stale or forced)."""
    sources = [os.path.join(PROTO_ROOT, _API_PROTO)] + [
        os.path.join(GOOGLEAPIS_ROOT, p) for p in _RPC_PROTOS]
    stamp = os.path.join(gen_dir, ".stamp")
    if not force and os.path.exists(stamp):
        newest = max(os.path.getmtime(s) for s in sources)
        if os.path.getmtime(stamp) >= newest:
            return gen_dir
    for s in sources:
        if not os.path.exists(s):
            raise RuntimeError(
                "%s missing: apt-get install protobuf-compiler "
                "protobuf-compiler-grpc golang-github-gogo-googleapis-dev" % s)
    os.makedirs(gen_dir, exist_ok=True)
    plugin = _which("grpc_python_plugin")
    base = ["protoc", "-I" + PROTO_ROOT, "-I" + GOOGLEAPIS_ROOT,
            "--python_out=" + gen_dir]
    subprocess.run(base + ["--grpc_out=" + gen_dir,
                           "--plugin=protoc-gen-grpc=" + plugin, _API_PROTO],
                   check=True)
    subprocess.run(base + list(_RPC_PROTOS), check=True)
    with open(stamp, "w") as f:
        f.write("generated\n")
    return gen_dir


def _which(name):
    for d in os.environ.get("PATH", "").split(os.pathsep) + ["/usr/bin"]:
        p = os.path.join(d, name)
        if os.access(p, os.X_OK):
            return p
    raise RuntimeError("%s not found: apt-get install protobuf-compiler-grpc"
                       % name)


generate_stubs()
if GEN_DIR not in sys.path:
    sys.path.insert(0, GEN_DIR)

import grpc  # noqa: E402
from google.protobuf import json_format  # noqa: E402
from google.rpc import error_details_pb2, status_pb2  # noqa: E402

pb = importlib.import_module("ecs.image.v1.image_service_pb2")
pb_grpc = importlib.import_module("ecs.image.v1.image_service_pb2_grpc")

# google.rpc detail types a server may attach, by their Any type URL suffix.
_DETAIL_TYPES = {
    cls.DESCRIPTOR.full_name: cls
    for cls in (error_details_pb2.ErrorInfo, error_details_pb2.RequestInfo,
                error_details_pb2.BadRequest, error_details_pb2.ResourceInfo,
                error_details_pb2.PreconditionFailure,
                error_details_pb2.RetryInfo, error_details_pb2.QuotaFailure,
                error_details_pb2.DebugInfo, error_details_pb2.Help,
                error_details_pb2.LocalizedMessage)
}


class EcsError(Exception):
    """A failed ecsimage call.

    Attributes:
      code: ECS error code, e.g. "InvalidImageId.NotFound" (for errors without
        ErrorInfo, such as a missing token, the gRPC code name).
      message: the ECS message (google.rpc.Status.message).
      http_status: the ECS HTTP status (int) or None.
      request_id: the RequestId or None.
      trailer_request_id: the x-acs-request-id trailer (same RequestId).
      grpc_code: grpc.StatusCode.
      reason, domain, metadata: from google.rpc.ErrorInfo.
      error_info, request_info, bad_request, resource_info,
      precondition_failure, retry_info: the decoded details (or None).
      detail: the type-specific detail: BadRequest, ResourceInfo or
        PreconditionFailure (or None).
      details: every decoded detail message, in the order sent.
    """

    def __init__(self, grpc_code, message, details=(), trailer_request_id=None):
        self.grpc_code = grpc_code
        self.message = message
        self.trailer_request_id = trailer_request_id
        self.details = list(details)
        by_type = {}
        for d in self.details:
            by_type.setdefault(type(d), d)
        E = error_details_pb2
        self.error_info = by_type.get(E.ErrorInfo)
        self.request_info = by_type.get(E.RequestInfo)
        self.bad_request = by_type.get(E.BadRequest)
        self.resource_info = by_type.get(E.ResourceInfo)
        self.precondition_failure = by_type.get(E.PreconditionFailure)
        self.retry_info = by_type.get(E.RetryInfo)
        self.detail = (self.bad_request or self.resource_info or
                       self.precondition_failure)
        info = self.error_info
        self.metadata = dict(info.metadata) if info else {}
        self.reason = info.reason if info else None
        self.domain = info.domain if info else None
        self.code = self.metadata.get("code") or grpc_code.name
        hs = self.metadata.get("httpStatus")
        self.http_status = int(hs) if hs and hs.isdigit() else None
        self.request_id = (
            self.metadata.get("requestId") or
            (self.request_info.request_id if self.request_info else None) or
            trailer_request_id)
        super().__init__("%s (%s, HTTP %s, RequestId %s): %s" % (
            self.code, grpc_code.name, self.http_status, self.request_id,
            message))

    @property
    def retry_delay_seconds(self):
        if not self.retry_info:
            return None
        d = self.retry_info.retry_delay
        return d.seconds + d.nanos / 1e9

    @classmethod
    def from_rpc_error(cls, err):
        """Builds an EcsError from a grpc.RpcError (a grpc.Call)."""
        trailers = dict(err.trailing_metadata() or ())
        raw = trailers.get("grpc-status-details-bin")
        message = err.details() or ""
        details = []
        if raw:
            st = status_pb2.Status.FromString(raw)
            message = st.message or message
            for any_msg in st.details:
                name = any_msg.type_url.rsplit("/", 1)[-1]
                cls_ = _DETAIL_TYPES.get(name)
                if cls_ is None:
                    details.append(any_msg)  # unknown: kept as Any
                    continue
                m = cls_()
                any_msg.Unpack(m)
                details.append(m)
        return cls(err.code(), message, details,
                   trailers.get("x-acs-request-id"))


def _snake(name):
    return re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", name).lower()


class Client:
    """One connection to ecsimage, authenticated by one account's token.

    Each RPC of ImageService, InstanceService and SimulationControl is a
    method named in snake_case (DeleteImage -> delete_image) that takes the
    ECS parameter names as keyword arguments and returns the response as a
    dict keyed by ECS names (every field, defaults included). Failures raise
    EcsError.
    """

    def __init__(self, target, token=None, timeout=10.0, channel=None):
        self.target = target
        self.token = token
        self.timeout = timeout
        self._channel = channel or grpc.insecure_channel(target)
        self._stubs = {}
        for service in pb.DESCRIPTOR.services_by_name.values():
            stub = getattr(pb_grpc, service.name + "Stub")(self._channel)
            for method in service.methods:
                self._stubs[method.name] = (getattr(stub, method.name), method)

    def __getattr__(self, attr):
        for name, (call, method) in self._stubs.items():
            if _snake(name) == attr:
                return lambda _c=call, _m=method, **kw: self._invoke(_c, _m, kw)
        raise AttributeError(attr)

    def __dir__(self):
        return sorted(set(super().__dir__()) |
                      {_snake(n) for n in self._stubs})

    def call(self, rpc_name, **params):
        """Calls an RPC by its proto name, e.g. call("DeleteImage", ...)."""
        call, method = self._stubs[rpc_name]
        return self._invoke(call, method, params)

    def _invoke(self, call, method, params):
        request_cls = pb_message_class(method.input_type)
        request = json_format.ParseDict(params, request_cls())
        metadata = []
        if self.token is not None:
            metadata.append(("authorization", "Bearer " + self.token))
        try:
            response = call(request, metadata=metadata, timeout=self.timeout)
        except grpc.RpcError as err:
            raise EcsError.from_rpc_error(err) from None
        return json_format.MessageToDict(
            response, including_default_value_fields=True,
            preserving_proto_field_name=False)

    def close(self):
        self._channel.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def pb_message_class(descriptor):
    return getattr(pb, descriptor.name)
