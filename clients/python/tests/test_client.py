"""Tests of the installed ecsimage_client against a scripted in-process gRPC
server on 127.0.0.1 (the real server's story is examples/story.py).

    python -m unittest discover -s clients/python/tests -v

They check what a real server cannot be made to do on demand: UNAVAILABLE
retried by the service config with the same ClientToken on every attempt, the
deadline per call, every error family and detail decoded, TLS with a CA file.
"""

import os
import re
import subprocess
import tempfile
import threading
import time
import unittest
from concurrent import futures

import grpc

import ecsimage_client as ec
from ecsimage_client import _errors

UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
RID = "473469C7-AA6F-4DC5-B3DB-A3DC0DE3C83E"


def status_bin(code, message, *details):
    st = _errors.Status(code=code, message=message)
    for d in details:
        a = st.details.add()
        a.type_url = "type.googleapis.com/" + d.DESCRIPTOR.full_name
        a.value = d.SerializeToString()
    return st.SerializeToString()


def ecs_error(ecs_code, http, *more):
    reason = re.sub(r"[^A-Za-z0-9]+", "_",
                    re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", ecs_code)).upper()
    info = _errors.ErrorInfo(reason=reason, domain="ecsimage",
        metadata={"code": ecs_code, "httpStatus": str(http), "requestId": RID})
    return (info, _errors.RequestInfo(request_id=RID)) + more


class Script(ec.pb_grpc.ImageServiceServicer):
    """Answers each call from a list of planned outcomes and records requests."""

    def __init__(self):
        self.plan = []  # (grpc code, message, details) or "ok" or ("sleep", s)
        self.requests = []
        self.metadata = []
        self.lock = threading.Lock()

    def _answer(self, request, context, response):
        with self.lock:
            self.requests.append(request)
            self.metadata.append(dict(context.invocation_metadata()))
            step = self.plan.pop(0) if self.plan else "ok"
        if isinstance(step, tuple) and step[0] == "sleep":
            time.sleep(step[1])
            step = "ok"
        if step != "ok":
            code, message, details = step
            md = [("x-acs-request-id", RID)]
            if details:
                md.append(("grpc-status-details-bin",
                           status_bin(code.value[0], message, *details)))
            context.set_trailing_metadata(md)
            context.abort(code, message)
        return response

    def CreateImage(self, request, context):
        return self._answer(request, context, ec.pb.CreateImageResponse(
            request_id=RID, image_id="m-" + "a" * 20))

    def CopyImage(self, request, context):
        return self._answer(request, context, ec.pb.CopyImageResponse(
            request_id=RID, image_id="m-" + "b" * 20))

    def DeleteImage(self, request, context):
        return self._answer(request, context, ec.pb.DeleteImageResponse(request_id=RID))

    def DescribeRegions(self, request, context):
        return self._answer(request, context, ec.pb.DescribeRegionsResponse(
            request_id=RID, regions=[ec.pb.Region(region_id="cn-hangzhou")]))


def start(servicer, creds=None):
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    ec.pb_grpc.add_ImageServiceServicer_to_server(servicer, server)
    if creds is None:
        port = server.add_insecure_port("127.0.0.1:0")
    else:
        port = server.add_secure_port("127.0.0.1:0", creds)
    server.start()
    return server, "127.0.0.1:%d" % port


class ClientTest(unittest.TestCase):
    def setUp(self):
        self.s = Script()
        self.server, target = start(self.s)
        self.c = ec.Client(target, "tok-1", timeout=5)

    def tearDown(self):
        self.c.close()
        self.server.stop(0)

    def unavailable(self):
        return (grpc.StatusCode.UNAVAILABLE,
                "The request has failed due to a temporary failure of the server.",
                ecs_error("ServiceUnavailable", 503))

    def test_results_are_ecs_named_dicts_and_the_token_is_sent(self):
        r = self.c.describe_regions()
        self.assertEqual(r["RequestId"], RID)
        # Every field of the message, defaults included, under its ECS name.
        region = ec.pb.Region.DESCRIPTOR
        self.assertEqual(set(r["Regions"][0]), {f.json_name for f in region.fields})
        self.assertEqual(r["Regions"][0]["RegionId"], "cn-hangzhou")
        self.assertEqual(self.s.metadata[0]["authorization"], "Bearer tok-1")

    def test_create_retries_unavailable_with_one_client_token(self):
        self.s.plan = [self.unavailable(), self.unavailable(), "ok"]
        r = self.c.create_image(RegionId="cn-hangzhou", ImageName="web")
        self.assertEqual(r["ImageId"], "m-" + "a" * 20)
        self.assertEqual(len(self.s.requests), 3)
        tokens = {q.client_token for q in self.s.requests}
        self.assertEqual(len(tokens), 1, tokens)
        self.assertRegex(tokens.pop(), UUID)

    def test_each_call_gets_a_fresh_token(self):
        self.c.create_image(RegionId="cn-hangzhou", ImageName="a")
        self.c.copy_image(RegionId="cn-hangzhou", ImageId="m-x",
                          DestinationRegionId="cn-shanghai")
        t1, t2 = (q.client_token for q in self.s.requests)
        self.assertRegex(t1, UUID)
        self.assertRegex(t2, UUID)
        self.assertNotEqual(t1, t2)

    def test_a_given_client_token_is_kept(self):
        self.s.plan = [self.unavailable(), "ok"]
        self.c.create_image(RegionId="cn-hangzhou", ImageName="a", ClientToken="mine-1")
        self.assertEqual([q.client_token for q in self.s.requests], ["mine-1", "mine-1"])

    def test_delete_retries_unavailable(self):
        self.s.plan = [self.unavailable(), "ok"]
        r = self.c.delete_image(RegionId="cn-hangzhou", ImageId="m-x")
        self.assertEqual(r["RequestId"], RID)
        self.assertEqual(len(self.s.requests), 2)

    def test_unavailable_gives_up_after_max_attempts(self):
        self.s.plan = [self.unavailable()] * 10
        with self.assertRaises(ec.UnavailableError) as cm:
            self.c.delete_image(RegionId="cn-hangzhou", ImageId="m-x")
        self.assertEqual(len(self.s.requests), ec.RETRY_POLICY["maxAttempts"])
        self.assertEqual(cm.exception.code, "ServiceUnavailable")
        self.assertEqual(cm.exception.http_status, 503)

    def test_retry_false_makes_one_attempt(self):
        c = ec.Client(self.c.target, "tok", retry=False)
        self.s.plan = [self.unavailable(), "ok"]
        with self.assertRaises(ec.UnavailableError):
            c.delete_image(RegionId="cn-hangzhou", ImageId="m-x")
        self.assertEqual(len(self.s.requests), 1)
        c.close()

    def test_other_errors_are_not_retried(self):
        self.s.plan = [(grpc.StatusCode.INTERNAL, "The request processing has failed due to some unknown error.",
                        ecs_error("InternalError", 500)), "ok"]
        with self.assertRaises(ec.InternalError):
            self.c.delete_image(RegionId="cn-hangzhou", ImageId="m-x")
        self.assertEqual(len(self.s.requests), 1)

    def test_deadline_per_call(self):
        self.s.plan = [("sleep", 1.5)]
        t = time.monotonic()
        with self.assertRaises(ec.DeadlineExceededError) as cm:
            self.c.delete_image(RegionId="cn-hangzhou", ImageId="m-x", timeout=0.2)
        self.assertLess(time.monotonic() - t, 1.2)
        self.assertEqual(cm.exception.code, "DEADLINE_EXCEEDED")
        self.assertIsInstance(cm.exception, ec.UnavailableError)

    def test_precondition_error_decoded(self):
        pf = _errors.PreconditionFailure()
        v = pf.violations.add()
        v.type, v.subject = "ImageUsingByInstance", "instance/i-abc"
        self.s.plan = [(grpc.StatusCode.FAILED_PRECONDITION,
                        "The specified image has been used to create instances.",
                        ecs_error("ImageUsingByInstance", 403, pf))]
        with self.assertRaises(ec.PreconditionError) as cm:
            self.c.delete_image(RegionId="cn-hangzhou", ImageId="m-x")
        e = cm.exception
        self.assertEqual((e.code, e.http_status, e.request_id, e.grpc_code, e.reason),
                         ("ImageUsingByInstance", 403, RID,
                          grpc.StatusCode.FAILED_PRECONDITION, "IMAGE_USING_BY_INSTANCE"))
        self.assertEqual(e.message, "The specified image has been used to create instances.")
        self.assertEqual(e.trailer_request_id, RID)
        self.assertEqual(e.precondition_failure.violations[0].subject, "instance/i-abc")
        self.assertIs(e.detail, e.precondition_failure)
        self.assertEqual(len(e.details), 3)

    def test_families(self):
        cases = [
            (grpc.StatusCode.NOT_FOUND, "InvalidImageId.NotFound", 404, ec.NotFoundError),
            (grpc.StatusCode.INVALID_ARGUMENT, "MissingParameter", 400, ec.InvalidParameterError),
            (grpc.StatusCode.ALREADY_EXISTS, "InvalidImageName.Duplicated", 400, ec.ConflictError),
            (grpc.StatusCode.RESOURCE_EXHAUSTED, "QuotaExceed.Image", 400, ec.QuotaError),
            (grpc.StatusCode.RESOURCE_EXHAUSTED, "Throttling", 400, ec.ThrottlingError),
        ]
        for code, ecs_code, http, cls in cases:
            with self.subTest(ecs_code):
                self.s.plan = [(code, "m", ecs_error(ecs_code, http))]
                with self.assertRaises(cls) as cm:
                    self.c.delete_image(RegionId="cn-hangzhou", ImageId="m-x")
                self.assertEqual((cm.exception.code, cm.exception.http_status), (ecs_code, http))
                self.assertIsInstance(cm.exception, ec.EcsError)
                if ecs_code == "QuotaExceed.Image":
                    self.assertNotIsInstance(cm.exception, ec.ThrottlingError)

    def test_retry_info_and_unknown_details(self):
        ri = _errors.RetryInfo()
        ri.retry_delay.seconds, ri.retry_delay.nanos = 1, 500000000
        self.s.plan = [(grpc.StatusCode.FAILED_PRECONDITION, "m",
                        ecs_error("OperationDenied.ImageCopying", 403, ri,
                                  ec.pb.Region(region_id="x")))]
        with self.assertRaises(ec.PreconditionError) as cm:
            self.c.delete_image(RegionId="cn-hangzhou", ImageId="m-x")
        self.assertEqual(cm.exception.retry_delay_seconds, 1.5)
        unknown = [d for d in cm.exception.details if isinstance(d, ec.UnknownDetail)]
        self.assertEqual([u.type_url for u in unknown],
                         ["type.googleapis.com/ecs.image.v1.Region"])

    def test_no_details_and_unknown_parameter(self):
        self.s.plan = [(grpc.StatusCode.UNAUTHENTICATED, "missing token", None)]
        with self.assertRaises(ec.AuthenticationError) as cm:
            self.c.describe_regions()
        self.assertEqual((cm.exception.code, cm.exception.http_status),
                         ("UNAUTHENTICATED", None))
        self.assertEqual(cm.exception.request_id, RID)  # from the trailer
        with self.assertRaises(TypeError):
            self.c.delete_image(RegionID="cn-hangzhou")  # type: ignore[call-arg]

    def test_no_google_rpc_module_is_installed(self):
        import importlib.util
        here = os.path.dirname(ec.__file__)
        for name in ("google.rpc", "ecs"):
            spec = importlib.util.find_spec(name.split(".")[0])
            if spec is not None and spec.origin:
                self.assertFalse(spec.origin.startswith(os.path.dirname(here)), spec)
        self.assertIsNot(_errors.Status.DESCRIPTOR.file.pool,
                         __import__("google.protobuf.descriptor_pool",
                                    fromlist=["x"]).Default())


class ImportTest(unittest.TestCase):
    def test_import_runs_no_protoc_and_writes_nothing(self):
        import sys
        pkg = os.path.dirname(ec.__file__)

        def listing():
            return sorted(os.path.relpath(os.path.join(d, f), pkg)
                          for d, _, fs in os.walk(pkg) for f in fs
                          if "__pycache__" not in d)
        before = listing()
        # No PATH (so no protoc, no grpc_python_plugin) and no bytecode writes.
        r = subprocess.run([sys.executable, "-B", "-c",
                            "import ecsimage_client as e; print(e.Client.delete_image.__name__)"],
                           env={"PATH": "/nonexistent"}, capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout.strip(), "delete_image")
        self.assertEqual(listing(), before)
        self.assertIn(os.path.join("_gen", "image_service_pb2.py"), before)


class TlsTest(unittest.TestCase):
    def test_tls_with_a_ca_bundle(self):
        with tempfile.TemporaryDirectory() as d:
            key, crt = os.path.join(d, "k.pem"), os.path.join(d, "c.pem")
            subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
                            "-keyout", key, "-out", crt, "-days", "1", "-subj", "/CN=localhost",
                            "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
                           check=True, capture_output=True)
            with open(key, "rb") as f:
                k = f.read()
            with open(crt, "rb") as f:
                c = f.read()
            s = Script()
            server, target = start(s, grpc.ssl_server_credentials([(k, c)]))
            try:
                with ec.Client(target, "t", tls=crt) as client:
                    self.assertEqual(client.describe_regions()["RequestId"], RID)
                with ec.Client(target, "t", tls=None, timeout=2, retry=False) as plain:
                    with self.assertRaises(ec.UnavailableError):
                        plain.describe_regions()
            finally:
                server.stop(0)


if __name__ == "__main__":
    unittest.main()
