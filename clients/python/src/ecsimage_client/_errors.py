"""EcsError and its families, decoded from grpc-status-details-bin.

The google.rpc messages are decoded through this package's own descriptor
pool (built from ``_gen.rpc_descriptors``), so no ``google.rpc`` module is
installed and nothing clashes with googleapis-common-protos where it exists.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Type

import grpc
from google.protobuf import descriptor_pool, message_factory
from google.protobuf.message import Message

from ._gen import rpc_descriptors

_POOL = descriptor_pool.DescriptorPool()
for _serialized in rpc_descriptors.FILES:
    _POOL.AddSerializedFile(_serialized)


def _message_class(full_name: str) -> Type[Message]:
    desc = _POOL.FindMessageTypeByName(full_name)
    get = getattr(message_factory, "GetMessageClass", None)
    if get is not None:  # protobuf >= 4.22
        return get(desc)
    return message_factory.MessageFactory(_POOL).GetPrototype(desc)


Status = _message_class("google.rpc.Status")
ErrorInfo = _message_class("google.rpc.ErrorInfo")
RequestInfo = _message_class("google.rpc.RequestInfo")
BadRequest = _message_class("google.rpc.BadRequest")
ResourceInfo = _message_class("google.rpc.ResourceInfo")
PreconditionFailure = _message_class("google.rpc.PreconditionFailure")
RetryInfo = _message_class("google.rpc.RetryInfo")
QuotaFailure = _message_class("google.rpc.QuotaFailure")
DebugInfo = _message_class("google.rpc.DebugInfo")
Help = _message_class("google.rpc.Help")
LocalizedMessage = _message_class("google.rpc.LocalizedMessage")

_DETAIL_TYPES: Dict[str, Type[Message]] = {
    cls.DESCRIPTOR.full_name: cls
    for cls in (ErrorInfo, RequestInfo, BadRequest, ResourceInfo,
                PreconditionFailure, RetryInfo, QuotaFailure, DebugInfo, Help,
                LocalizedMessage)
}


class UnknownDetail:
    """A detail whose type this package does not know: its type URL and bytes."""

    def __init__(self, type_url: str, value: bytes) -> None:
        self.type_url = type_url
        self.value = value

    def __repr__(self) -> str:
        return "UnknownDetail(%r)" % self.type_url


def decode_status(raw: bytes) -> tuple[int, str, List[Any]]:
    """Decodes grpc-status-details-bin: (code, message, details in order).

    Known details become google.rpc messages of the private pool; unknown
    ones stay as UnknownDetail.
    """
    st = Status.FromString(raw)
    details: List[Any] = []
    for any_msg in st.details:
        name = any_msg.type_url.rsplit("/", 1)[-1]
        cls = _DETAIL_TYPES.get(name)
        if cls is None:
            details.append(UnknownDetail(any_msg.type_url, any_msg.value))
        else:
            details.append(cls.FromString(any_msg.value))
    return st.code, st.message, details


class EcsError(Exception):
    """A failed ecsimage call. Every failure of a Client method raises one.

    Attributes:
      code: ECS error code, e.g. ``"InvalidImageId.NotFound"``; for an error
        without ErrorInfo (a missing token, the client's own deadline) the
        gRPC code's name, e.g. ``"UNAUTHENTICATED"``.
      message: the ECS message (google.rpc.Status.message).
      http_status: the ECS HTTP status (int), or None without ErrorInfo.
      request_id: the RequestId (ErrorInfo, RequestInfo or the
        x-acs-request-id trailer), or None.
      grpc_code: the grpc.StatusCode.
      trailer_request_id: the x-acs-request-id trailer.
      reason, domain, metadata: from google.rpc.ErrorInfo.
      error_info, request_info, bad_request, resource_info,
      precondition_failure, retry_info: the decoded details, or None.
      detail: the kind-specific detail (BadRequest, ResourceInfo or
        PreconditionFailure), or None.
      details: every decoded detail, in the order sent.
    """

    def __init__(self, grpc_code: grpc.StatusCode, message: str,
                 details: Optional[List[Any]] = None,
                 trailer_request_id: Optional[str] = None) -> None:
        self.grpc_code = grpc_code
        self.message = message
        self.trailer_request_id = trailer_request_id
        self.details: List[Any] = list(details or ())
        first: Dict[str, Any] = {}
        for d in self.details:
            if isinstance(d, Message):
                first.setdefault(d.DESCRIPTOR.full_name, d)
        self.error_info: Optional[Any] = first.get("google.rpc.ErrorInfo")
        self.request_info: Optional[Any] = first.get("google.rpc.RequestInfo")
        self.bad_request: Optional[Any] = first.get("google.rpc.BadRequest")
        self.resource_info: Optional[Any] = first.get("google.rpc.ResourceInfo")
        self.precondition_failure: Optional[Any] = first.get(
            "google.rpc.PreconditionFailure")
        self.retry_info: Optional[Any] = first.get("google.rpc.RetryInfo")
        self.detail: Optional[Any] = (self.bad_request or self.resource_info or
                                      self.precondition_failure)
        info = self.error_info
        self.metadata: Dict[str, str] = dict(info.metadata) if info else {}
        self.reason: Optional[str] = info.reason if info else None
        self.domain: Optional[str] = info.domain if info else None
        self.code: str = self.metadata.get("code") or grpc_code.name
        hs = self.metadata.get("httpStatus", "")
        self.http_status: Optional[int] = int(hs) if hs.isdigit() else None
        self.request_id: Optional[str] = (
            self.metadata.get("requestId") or
            (self.request_info.request_id if self.request_info else None) or
            trailer_request_id)
        super().__init__("%s (%s, HTTP %s, RequestId %s): %s" % (
            self.code, grpc_code.name, self.http_status, self.request_id,
            message))

    @property
    def retry_delay_seconds(self) -> Optional[float]:
        """RetryInfo's delay in seconds, or None."""
        if not self.retry_info:
            return None
        d = self.retry_info.retry_delay
        return d.seconds + d.nanos / 1e9

    @classmethod
    def from_rpc_error(cls, err: grpc.RpcError) -> "EcsError":
        """The EcsError subclass for a grpc.RpcError (a grpc.Call)."""
        code = err.code()  # type: ignore[attr-defined]
        trailers = dict(err.trailing_metadata() or ())  # type: ignore[attr-defined]
        message = err.details() or ""  # type: ignore[attr-defined]
        details: List[Any] = []
        raw = trailers.get("grpc-status-details-bin")
        if raw:
            _, st_message, details = decode_status(raw)
            message = st_message or message
        rid = trailers.get("x-acs-request-id")
        return error_class(code, details)(code, message, details,
                                          rid if isinstance(rid, str) else None)


class InvalidParameterError(EcsError):
    """INVALID_ARGUMENT (HTTP 400): MissingParameter, InvalidParameter,
    InvalidImageName.Malformed, IdempotentParameterMismatch, ..."""


class NotFoundError(EcsError):
    """NOT_FOUND (HTTP 404): InvalidImageId.NotFound, InvalidRegionId.NotFound, ..."""


class PreconditionError(EcsError):
    """FAILED_PRECONDITION (HTTP 403 or 400): ImageUsingByInstance,
    ImageUseShared, OperationDenied.ImageCopying, IncorrectImageStatus, ..."""


class ConflictError(EcsError):
    """ALREADY_EXISTS / ABORTED: InvalidImageName.Duplicated, ..."""


class QuotaError(EcsError):
    """RESOURCE_EXHAUSTED: QuotaExceed.Image, QuotaExceed.ShareImageUser, Throttling."""


class ThrottlingError(QuotaError):
    """RESOURCE_EXHAUSTED with the ECS code Throttling."""


class UnavailableError(EcsError):
    """UNAVAILABLE (ServiceUnavailable, or no connection): already retried by
    the client's service config before it is raised."""


class DeadlineExceededError(UnavailableError):
    """DEADLINE_EXCEEDED: the call's deadline passed (the client's own, or the
    server's ServiceUnavailable when a request waited too long)."""


class AuthenticationError(EcsError):
    """UNAUTHENTICATED: a missing, unknown or revoked token."""


class PermissionDeniedError(EcsError):
    """PERMISSION_DENIED."""


class InternalError(EcsError):
    """INTERNAL (InternalError, HTTP 500) and UNKNOWN."""


_FAMILIES: Dict[grpc.StatusCode, Type[EcsError]] = {
    grpc.StatusCode.INVALID_ARGUMENT: InvalidParameterError,
    grpc.StatusCode.OUT_OF_RANGE: InvalidParameterError,
    grpc.StatusCode.NOT_FOUND: NotFoundError,
    grpc.StatusCode.FAILED_PRECONDITION: PreconditionError,
    grpc.StatusCode.ALREADY_EXISTS: ConflictError,
    grpc.StatusCode.ABORTED: ConflictError,
    grpc.StatusCode.RESOURCE_EXHAUSTED: QuotaError,
    grpc.StatusCode.UNAVAILABLE: UnavailableError,
    grpc.StatusCode.DEADLINE_EXCEEDED: DeadlineExceededError,
    grpc.StatusCode.UNAUTHENTICATED: AuthenticationError,
    grpc.StatusCode.PERMISSION_DENIED: PermissionDeniedError,
    grpc.StatusCode.INTERNAL: InternalError,
    grpc.StatusCode.UNKNOWN: InternalError,
}


def error_class(code: grpc.StatusCode, details: List[Any]) -> Type[EcsError]:
    """The family for a gRPC code (ThrottlingError for the Throttling code)."""
    cls = _FAMILIES.get(code, EcsError)
    if cls is QuotaError:
        for d in details:
            if isinstance(d, Message) and d.DESCRIPTOR.full_name == "google.rpc.ErrorInfo" \
                    and d.metadata.get("code") == "Throttling":
                return ThrottlingError
    return cls
