"""Python client for the ecsimage gRPC API (Alibaba Cloud ECS image lifecycle).

    from ecsimage_client import Client, EcsError, NotFoundError

    with Client("127.0.0.1:50051", token) as ecs:
        image_id = ecs.create_image(RegionId="cn-hangzhou",
                                    ImageName="web-base")["ImageId"]
        try:
            ecs.delete_image(RegionId="cn-hangzhou", ImageId=image_id,
                             timeout=5)
        except NotFoundError:
            pass
        except EcsError as e:
            print(e.code, e.http_status, e.request_id, e.detail)

See README.md for TLS, errors, retries and deadlines.
"""

from importlib import metadata as _metadata

from ._client import CLIENT_TOKEN_RPCS, RETRY_POLICY, Client, service_config
from ._errors import (AuthenticationError, ConflictError, DeadlineExceededError,
                      EcsError, InternalError, InvalidParameterError,
                      NotFoundError, PermissionDeniedError, PreconditionError,
                      QuotaError, ThrottlingError, UnavailableError,
                      UnknownDetail, decode_status)
from ._gen import image_service_pb2 as pb
from ._gen import image_service_pb2_grpc as pb_grpc

try:
    __version__ = _metadata.version("ecsimage-client")
except _metadata.PackageNotFoundError:  # pragma: no cover - not installed
    __version__ = "unknown"

__all__ = [
    "Client", "EcsError", "InvalidParameterError", "NotFoundError",
    "PreconditionError", "ConflictError", "QuotaError", "ThrottlingError",
    "UnavailableError", "DeadlineExceededError", "AuthenticationError",
    "PermissionDeniedError", "InternalError", "UnknownDetail", "decode_status",
    "CLIENT_TOKEN_RPCS", "RETRY_POLICY", "service_config", "pb", "pb_grpc",
]
