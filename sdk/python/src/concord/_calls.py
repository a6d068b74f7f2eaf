"""What the sync and async clients share: settings, building each call, and
the bookkeeping of its tries. The clients only add the IO (a plain or an
awaited call of the generated stub), so the two cannot drift apart."""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from connectrpc.code import Code
from connectrpc.errors import ConnectError

from . import _codec
from ._errors import ConcordError, UnavailableError
from ._gen.concord.kv.v1 import kv_pb2
from ._routing import Router, Topology

if TYPE_CHECKING:
    from collections.abc import Sequence

    from ._codec import Bytes, ContextLike

#: update's default bound on writes that meet a concurrent change.
UPDATE_ATTEMPTS = 16


@dataclass(frozen=True)
class Settings:
    endpoints: tuple[str, ...]
    namespace: str
    headers: dict[str, str]
    timeout_ms: int | None
    connect_timeout: float
    tls_ca_cert: bytes | None


def settings(
    endpoints: str | Sequence[str],
    *,
    token: str | None,
    namespace: str,
    timeout: float | None,
    connect_timeout: float,
    tls_ca_cert: bytes | None,
) -> Settings:
    eps = endpoints.split(",") if isinstance(endpoints, str) else list(endpoints)
    eps = [e.strip().rstrip("/") for e in eps if e.strip()]
    if not eps:
        raise ValueError("concord: no endpoint given")
    for e in eps:
        u = urlsplit(e)
        if u.scheme not in ("http", "https") or not u.netloc:
            raise ValueError(f"concord: endpoint {e!r} is not an http:// or https:// URL")
    if len({urlsplit(e).scheme for e in eps}) > 1:
        raise ValueError("concord: mix of http:// and https:// endpoints")
    if not namespace:
        raise ValueError("concord: empty namespace")
    headers = {"authorization": f"Bearer {token}"} if token else {}
    timeout_ms = None if timeout is None else max(1, int(timeout * 1000))
    return Settings(tuple(eps), namespace, headers, timeout_ms, connect_timeout, tls_ca_cert)


@dataclass(frozen=True)
class Call:
    """One unary request: the stub method, its message, and how to route it."""

    method: str
    request: Any
    namespace: str
    #: The key, for routing; None for a call that any node answers alike.
    key: bytes | None
    #: Whether the request may be sent again after a connection broke while
    #: it was under way: reads only. A write that may have landed is not
    #: (a second one would add a sibling, or an update would apply twice);
    #: one that never left (connection refused) is always sent again.
    replay: bool


def get_call(s: Settings, key: Bytes, r: int | None, namespace: str | None) -> Call:
    k, ns = _codec.to_bytes("key", key), namespace or s.namespace
    return Call("get", kv_pb2.GetRequest(namespace=ns, key=k, r=_codec.quorum("r", r)), ns, k, True)


def put_call(
    s: Settings,
    key: Bytes,
    value: Bytes,
    *,
    context: ContextLike,
    w: int | None,
    dw: int | None,
    if_absent: bool,
    if_context_current: bool,
    overwrite: bool = False,
    namespace: str | None,
) -> Call:
    k, ns = _codec.to_bytes("key", key), namespace or s.namespace
    req = kv_pb2.PutRequest(
        namespace=ns, key=k, value=_codec.to_bytes("value", value), context=_codec.context_bytes(context),
        w=_codec.quorum("w", w), dw=_codec.quorum("dw", dw),
        if_absent=if_absent, if_context_current=if_context_current, overwrite=overwrite,
    )
    return Call("put", req, ns, k, False)


def delete_call(s: Settings, key: Bytes, *, context: ContextLike, w: int | None, force: bool, namespace: str | None) -> Call:
    k, ns = _codec.to_bytes("key", key), namespace or s.namespace
    req = kv_pb2.DeleteRequest(namespace=ns, key=k, context=_codec.context_bytes(context), w=_codec.quorum("w", w), force=force)
    return Call("delete", req, ns, k, False)


def topology_call(namespace: str) -> Call:
    return Call("get_topology", kv_pb2.GetTopologyRequest(namespace=namespace), namespace, None, True)


def unanswered(err: ConnectError) -> bool:
    """Whether the node did not answer (the runtime raised for a transport
    failure), as opposed to an answer of the node's."""
    cause = err.__cause__
    if cause is None or isinstance(cause, ConnectError):
        return False
    return isinstance(cause, ConnectionError) or err.code == Code.UNAVAILABLE


class Tries:
    """The URLs one call goes to, and what each outcome means.

    A node's answer is final, success or error, except that a read answered
    UNAVAILABLE (the node could not gather its quorum) is tried on the next
    URL: another coordinator may. A node that did not answer is reported to
    the router and the next URL is tried, unless the request may have
    reached it and is not safe to send again.
    """

    def __init__(self, router: Router, call: Call, now: float) -> None:
        self._router = router
        self._call = call
        self.urls = router.targets(call.namespace, call.key, now)
        self._last: ConnectError | None = None

    def failed(self, url: str, err: ConnectError, now: float) -> None:
        """Records a failed try; raises the call's error when it is final."""
        if not unanswered(err):
            self._router.answered(url)
            if self._call.replay and err.code == Code.UNAVAILABLE:
                self._last = err
                return
            raise _codec.error_of(err, self._call.key)
        self._router.unreachable(url, now)
        self._last = err
        if not self._call.replay and not isinstance(err.__cause__, ConnectionError):
            raise _codec.error_of(err, self._call.key)

    def done(self, url: str, res: Any, now: float) -> Any:
        self._router.answered(url)
        if self._call.key is not None and self._call.method in ("put", "delete"):
            self._router.wrote(self._call.namespace, self._call.key, url, res.coordinator, now)
        return res

    def exhausted(self) -> ConcordError:
        """The error when no URL answered."""
        if self._last is None:
            return UnavailableError(Code.UNAVAILABLE, "no endpoint to call")
        err = UnavailableError(Code.UNAVAILABLE, f"no node answered ({len(self.urls)} tried): {self._last.message}")
        err.__cause__ = self._last
        return err


def topology_of(router: Router, res: kv_pb2.GetTopologyResponse) -> Topology | None:
    try:
        return Topology.of(res, router.scheme)
    except ValueError:
        return None


class Listing:
    """A ListKeys read to the end across pages, resumable after a broken
    stream: it knows the last page token and how many keys are left."""

    def __init__(self, s: Settings, prefix: Bytes, page_size: int | None, limit: int | None, namespace: str | None) -> None:
        self.namespace = namespace or s.namespace
        self._prefix = _codec.to_bytes("prefix", prefix)
        self._page_size = _codec.quorum("page_size", page_size)
        self._limit = _codec.quorum("limit", limit)
        self._token = b""
        self.listed = 0

    def request(self) -> kv_pb2.ListKeysRequest:
        left = self._limit - self.listed if self._limit else 0
        return kv_pb2.ListKeysRequest(
            namespace=self.namespace, prefix=self._prefix, page_size=self._page_size, page_token=self._token, limit=left
        )

    def page(self, res: kv_pb2.ListKeysResponse) -> list[bytes]:
        """The keys of a received page; the listing resumes after it."""
        keys = [bytes(k) for k in res.keys]
        self.listed += len(keys)
        self._token = bytes(res.next_page_token)
        return keys

    def complete(self) -> bool:
        return bool(self._limit) and self.listed >= self._limit


def check_attempts(n: int) -> None:
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"concord: max_attempts must be an int of at least 1, got {n!r}")


def backoff_s(attempt: int) -> float:
    """The pause before update's next write after a conflict: jittered, growing, at most 50 ms."""
    return random.uniform(0, min(0.05, 0.002 * 2**attempt))  # noqa: S311 (jitter, not crypto)

