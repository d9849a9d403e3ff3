"""Client: one channel to ecsimage, authenticated as one account."""

from __future__ import annotations

import inspect
import json
import uuid
from typing import Any, Dict, Mapping, Optional, Sequence, Tuple, Union

import grpc
from google.protobuf import json_format

from ._errors import EcsError
from ._gen import api, image_service_pb2 as pb, image_service_pb2_grpc as pb_grpc

#: RPCs whose empty ClientToken the client fills with a fresh UUID before the
#: first attempt; every retry of the call sends the same token, so a retried
#: create never creates twice (api.md section 5).
CLIENT_TOKEN_RPCS = frozenset(
    {"CreateImage", "CopyImage", "ImportImage", "ExportImage", "RunInstances"})

#: Retry policy: UNAVAILABLE is retried for every method, by gRPC itself.
#: A retried cancel or delete may answer the state the first attempt left.
RETRY_POLICY: Dict[str, Any] = {
    "maxAttempts": 5,
    "initialBackoff": "0.2s",
    "maxBackoff": "5s",
    "backoffMultiplier": 2,
    "retryableStatusCodes": ["UNAVAILABLE"],
}


def service_config(retry: bool = True) -> str:
    """The gRPC service config (JSON) the client's channel uses."""
    names = [{"service": s.full_name} for s in pb.DESCRIPTOR.services_by_name.values()]
    method: Dict[str, Any] = {"name": names}
    if retry:
        method["retryPolicy"] = RETRY_POLICY
    return json.dumps({"methodConfig": [method]})


_TO_DICT_DEFAULTS = (
    {"always_print_fields_with_no_presence": True}
    if "always_print_fields_with_no_presence"
    in inspect.signature(json_format.MessageToDict).parameters
    else {"including_default_value_fields": True})


class Client(api.Methods):
    """One connection to ecsimage, authenticated by one account's token.

    Each RPC of ImageService, InstanceService and SimulationControl is a
    method named in snake_case (``DeleteImage`` -> ``delete_image``) taking
    the ECS parameter names as keyword arguments (``RegionId=``) plus an
    optional ``timeout`` (seconds, this call's deadline) and returning the
    response as a dict keyed by ECS names, every field included. Every
    failure raises an :class:`EcsError` subclass.

    Args:
      target: ``host:port``.
      token: the account's token, sent as ``authorization: Bearer <token>``;
        None sends none (the server answers UNAUTHENTICATED).
      tls: None for plaintext, True for TLS with the system's CA
        certificates, or the path of a PEM CA bundle.
      timeout: the default deadline of each call, in seconds.
      retry: False turns the UNAVAILABLE retries off.
      options: extra gRPC channel options.
    """

    def __init__(self, target: str, token: Optional[str] = None, *,
                 tls: Union[None, bool, str] = None, timeout: float = 10.0,
                 retry: bool = True,
                 options: Sequence[Tuple[str, Any]] = ()) -> None:
        self.target = target
        self.token = token
        self.timeout = timeout
        opts = [("grpc.service_config", service_config(retry)),
                ("grpc.enable_retries", 1 if retry else 0)] + list(options)
        if tls is None or tls is False:
            self._channel = grpc.insecure_channel(target, options=opts)
        else:
            roots = None
            if isinstance(tls, str):
                with open(tls, "rb") as f:
                    roots = f.read()
            self._channel = grpc.secure_channel(
                target, grpc.ssl_channel_credentials(root_certificates=roots),
                options=opts)
        self._calls: Dict[Tuple[str, str], Any] = {}
        for service in pb.DESCRIPTOR.services_by_name.values():
            stub = getattr(pb_grpc, service.name + "Stub")(self._channel)
            for method in service.methods:
                self._calls[(service.full_name, method.name)] = (
                    getattr(stub, method.name),
                    getattr(pb, method.input_type.name))

    def call(self, rpc: str, params: Optional[Mapping[str, Any]] = None, *,
             timeout: Optional[float] = None) -> Dict[str, Any]:
        """Calls an RPC by its proto name: ``call("DeleteImage", {...})``."""
        for (service, name) in self._calls:
            if name == rpc:
                return self._invoke(service, rpc, dict(params or {}), timeout)
        raise AttributeError("no RPC named %r" % rpc)

    def _invoke(self, service: str, rpc: str, params: Dict[str, Any],
                timeout: Optional[float]) -> Any:
        call, request_cls = self._calls[(service, rpc)]
        params = {k: v for k, v in params.items() if v is not None}
        if rpc in CLIENT_TOKEN_RPCS and not params.get("ClientToken"):
            params["ClientToken"] = str(uuid.uuid4())
        request = json_format.ParseDict(params, request_cls())
        metadata = []
        if self.token is not None:
            metadata.append(("authorization", "Bearer " + self.token))
        try:
            response = call(request, metadata=metadata,
                            timeout=self.timeout if timeout is None else timeout)
        except grpc.RpcError as err:
            raise EcsError.from_rpc_error(err) from None
        return json_format.MessageToDict(response, **_TO_DICT_DEFAULTS)

    def close(self) -> None:
        self._channel.close()

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
