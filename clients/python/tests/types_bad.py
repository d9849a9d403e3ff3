"""Must NOT type-check: scripts/clients_test.sh runs `mypy --strict` on it
against the installed wheel and expects exactly these three errors, so the
type hints are real: a misspelt ECS name, an RPC that does not exist and a
wrong field type are caught before running."""

from ecsimage_client import Client

c = Client("127.0.0.1:1", "t")
c.delete_image(RegionID="cn-hangzhou")  # no parameter RegionID [call-arg]
c.delete_images(RegionId="cn-hangzhou")  # no such method [attr-defined]
n: int = c.create_image(RegionId="cn-hangzhou")["ImageId"]  # str [assignment]
