"""Python client for concord, a Dynamo-style key-value store.

:class:`Client` (threads) and :class:`AsyncClient` (asyncio) talk Connect to
any node of a cluster, or with ``routing=True`` straight to the replicas of
each key. A read returns an :class:`Object`: the key's siblings (concurrent
versions) and an opaque :class:`Context`. Pass the object back on the next
write so that it replaces what the read saw; ``update`` does that
read-merge-write loop. Errors are :class:`ConcordError` subclasses.

    import concord

    with concord.Client("http://127.0.0.1:7700", token=TOKEN) as c:
        c.put("greeting", "hello")
        obj = c.get("greeting")
        c.put("greeting", obj.text() + ", world", context=obj)

The two clients mirror each other line for line; what they share (building
requests, routing, errors) lives in pure modules (_calls, _codec,
_routing) so that only the awaits differ.
"""

from ._async_client import AsyncClient
from ._client import Client
from ._errors import (
    AlreadyExistsError,
    Code,
    ConcordError,
    ConflictError,
    InvalidArgumentError,
    LimitError,
    NamespaceNotFoundError,
    PermissionDeniedError,
    QuorumError,
    SiblingsError,
    UnauthenticatedError,
    UnavailableError,
)
from ._object import Context, Object, Sibling

__all__ = [
    "AlreadyExistsError",
    "AsyncClient",
    "Client",
    "Code",
    "ConcordError",
    "ConflictError",
    "Context",
    "InvalidArgumentError",
    "LimitError",
    "NamespaceNotFoundError",
    "Object",
    "PermissionDeniedError",
    "QuorumError",
    "SiblingsError",
    "Sibling",
    "UnauthenticatedError",
    "UnavailableError",
]
