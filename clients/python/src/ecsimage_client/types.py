"""The request and result types, generated from the protos at build time:
``<Message>Params`` (request keyword arguments, all optional) and
``<Message>Dict`` (results, every field), keyed by the ECS names::

    from ecsimage_client.types import DescribeImagesResponseDict, ImageDict
"""

from ._gen.api import *  # noqa: F401,F403
