#!/usr/bin/env python3
"""One call from a program that installed ecsimage-client, type-checked:

    ECSIMAGE_TARGET=127.0.0.1:50051 ECSIMAGE_TOKEN=<token> python3 hello.py
    python3 -m mypy --strict hello.py      # the package ships py.typed

scripts/clients_test.sh runs mypy --strict on it against the installed wheel
and runs it against the test server, from a directory outside the repository.
"""

import os
import sys
import time

from ecsimage_client import Client, EcsError, NotFoundError
from ecsimage_client.types import CreateImageResponseDict


def main() -> int:
    target = os.environ.get("ECSIMAGE_TARGET", "127.0.0.1:50051")
    with Client(target, os.environ.get("ECSIMAGE_TOKEN"), timeout=5.0) as ecs:
        created: CreateImageResponseDict = ecs.create_image(
            RegionId="cn-hangzhou", ImageName="hello-py-%d" % time.time_ns())
        image_id: str = created["ImageId"]
        print("# CreateImage -> %s (RequestId %s)" % (image_id, created["RequestId"]))
        ecs.delete_image(RegionId="cn-hangzhou", ImageId=image_id, timeout=2.0)
        print("ok - hello.py: CreateImage then DeleteImage")
        try:
            ecs.delete_image(RegionId="cn-hangzhou", ImageId="m-" + "0" * 20)
        except NotFoundError as e:
            status: "int | None" = e.http_status
            print("ok - hello.py: %s (HTTP %s, RequestId %s) as NotFoundError"
                  % (e.code, status, e.request_id))
            return 0
        except EcsError as e:
            print("FAIL - hello.py: %s" % e)
            return 1
        print("FAIL - hello.py: DeleteImage of an id that never existed succeeded")
        return 1


if __name__ == "__main__":
    sys.exit(main())
