"""The asyncio client: the sync client's API with awaits (see _client.py)."""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any

from connectrpc.errors import ConnectError
from pyqwest import Client as HTTPClient, HTTPTransport

from . import _calls, _codec
from ._errors import ConcordError, ConflictError
from ._gen.concord.kv.v1.kv_connect import KVServiceClient
from ._object import Context, Object
from ._routing import FIRST_TOPOLOGY_POLL_S, FIRST_TOPOLOGY_WAIT_S, Router

if TYPE_CHECKING:
    from types import TracebackType

    from ._codec import Bytes, ContextLike

__all__ = ["AsyncClient"]


class AsyncClient:
    """An asyncio client of a concord cluster: the API of :class:`Client`,
    with coroutines, and ``list_keys`` an async iterator. Use it from one
    event loop; ``async with`` or ``await client.close()`` closes it.

    ``endpoints`` are the API URLs of some nodes (a list, or one string,
    comma-separated): ``"http://127.0.0.1:7700"``. Requests go to the first
    that answers. With ``routing=True`` each key's request goes straight to
    a node of the key's preference list (learnt with GetTopology), which
    saves the hop a node makes for a key it holds no replica of; the
    endpoints remain the fallback.

    Options (defaults in brackets): ``token``, the bearer credential, a
    namespace token or the admin credential [none]; ``namespace`` of the
    calls that name none ["default"]; ``timeout`` of each try of a call, in
    seconds [30; listing has none]; ``connect_timeout`` [5]; ``tls_ca_cert``,
    PEM CA certificates that signed the nodes' certificates for https://
    endpoints [the system's]; ``topology_refresh`` in seconds [30].
    """

    def __init__(
        self,
        endpoints: str | Sequence[str],
        *,
        token: str | None = None,
        namespace: str = "default",
        routing: bool = False,
        timeout: float | None = 30.0,
        connect_timeout: float = 5.0,
        tls_ca_cert: bytes | None = None,
        topology_refresh: float = 30.0,
    ) -> None:
        self._s = _calls.settings(
            endpoints, token=token, namespace=namespace, timeout=timeout,
            connect_timeout=connect_timeout, tls_ca_cert=tls_ca_cert,
        )
        self._router = Router(self._s.endpoints, routing=routing, refresh_s=topology_refresh)
        self._transport = HTTPTransport(
            connect_timeout=connect_timeout, tls_ca_cert=tls_ca_cert, tls_include_system_certs=tls_ca_cert is None
        )
        self._http = HTTPClient(self._transport)
        self._stubs: dict[str, KVServiceClient] = {}

    # -- the API --------------------------------------------------------------

    async def get(self, key: Bytes, *, r: int | None = None, namespace: str | None = None) -> Object:
        """Reads a key. A missing key is an Object with ``found`` False, not an
        error. ``r``: replies to wait for [the namespace's r]."""
        call = _calls.get_call(self._s, key, r, namespace)
        return _codec.object_of(call.request.key, await self._unary(call))

    async def put(
        self,
        key: Bytes,
        value: Bytes,
        *,
        context: ContextLike = None,
        w: int | None = None,
        dw: int | None = None,
        if_absent: bool = False,
        if_context_current: bool = False,
        overwrite: bool = False,
        namespace: str | None = None,
    ) -> Context:
        """Writes a value and returns the key's new context.

        With ``context`` (the Object of a read, or a Context) the value
        replaces exactly the versions it names; without, it becomes a sibling
        of whatever the key holds. ``if_absent``: raise AlreadyExistsError
        when the key has a live value. ``if_context_current``: raise
        ConflictError (with the current object) when the key changed since
        the context was read. ``overwrite`` (without ``context``): replace
        every version the coordinating node holds instead of adding a
        sibling; versions written concurrently through other nodes that it
        has not seen yet stay as siblings. ``w``/``dw``: acknowledgements to
        wait for [the namespace's].
        """
        call = _calls.put_call(
            self._s, key, value, context=context, w=w, dw=dw,
            if_absent=if_absent, if_context_current=if_context_current, overwrite=overwrite, namespace=namespace,
        )
        return Context((await self._unary(call)).context)

    async def delete(
        self,
        key: Bytes,
        *,
        context: ContextLike = None,
        w: int | None = None,
        force: bool = False,
        namespace: str | None = None,
    ) -> Context:
        """Deletes what ``context`` names (a causal tombstone) and returns the
        tombstone's context. Without a context it needs ``force``: it then
        removes every version the coordinating node holds."""
        call = _calls.delete_call(self._s, key, context=context, w=w, force=force, namespace=namespace)
        return Context((await self._unary(call)).context)

    async def update(
        self,
        key: Bytes,
        fn: Callable[[Object], Bytes | Awaitable[Bytes]],
        *,
        r: int | None = None,
        w: int | None = None,
        dw: int | None = None,
        namespace: str | None = None,
        max_attempts: int = _calls.UPDATE_ATTEMPTS,
    ) -> Context:
        """Reads the key, writes ``fn(obj)`` with the read's context, and
        returns the new context.

        The write is conditional (``if_context_current``): when the key
        changed in between, ``fn`` runs again on the current object the
        conflict carries, at most ``max_attempts`` writes in all; then the
        last ConflictError is raised. ``fn`` may be a coroutine function; it
        may run more than once, so keep it free of side effects. It must
        merge siblings itself (``obj.value`` raises SiblingsError when there
        are several).
        """
        _calls.check_attempts(max_attempts)
        obj = await self.get(key, r=r, namespace=namespace)
        for attempt in range(max_attempts - 1):
            try:
                return await self.put(
                    key, await _value(fn(obj)), context=obj, w=w, dw=dw, if_context_current=True, namespace=namespace
                )
            except ConflictError as e:
                obj = e.current
                await asyncio.sleep(_calls.backoff_s(attempt))
        return await self.put(
            key, await _value(fn(obj)), context=obj, w=w, dw=dw, if_context_current=True, namespace=namespace
        )

    async def list_keys(
        self,
        prefix: Bytes = b"",
        *,
        page_size: int | None = None,
        limit: int | None = None,
        namespace: str | None = None,
    ) -> AsyncIterator[bytes]:
        """The live keys with ``prefix``, each once, in partition order.

        Reads every page (``page_size`` keys per message, [1000]) until the
        end or ``limit`` keys. A stream that breaks resumes after its last
        page at the next endpoint. Listing reads every key of the namespace:
        it is for tooling, not for a request path.
        """
        listing = _calls.Listing(self._s, prefix, page_size, limit, namespace)
        tries = _calls.Tries(self._router, _calls.Call("list_keys", None, listing.namespace, None, True), time.monotonic())
        for url in tries.urls:
            stream = self._stub(url).list_keys(listing.request(), headers=self._s.headers)
            try:
                async for res in stream:
                    tries.done(url, res, time.monotonic())
                    for key in listing.page(res):
                        yield key
                    if listing.complete():
                        return
                return
            except ConnectError as e:
                tries.failed(url, e, time.monotonic())
            finally:
                await stream.aclose()  # type: ignore[attr-defined]
        raise tries.exhausted()

    async def close(self) -> None:
        """Closes the client's connections."""
        await self._transport.aclose()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    # -- the machinery ----------------------------------------------------------

    def _stub(self, url: str) -> KVServiceClient:
        stub = self._stubs.get(url)
        if stub is None:
            stub = self._stubs.setdefault(
                url, KVServiceClient(url, http_client=self._http, send_compression=None, timeout_ms=self._s.timeout_ms)
            )
        return stub

    async def _unary(self, call: _calls.Call) -> Any:
        if call.key is not None:
            await self._refresh(call.namespace)
        tries = _calls.Tries(self._router, call, time.monotonic())
        for url in tries.urls:
            try:
                res = await getattr(self._stub(url), call.method)(call.request, headers=self._s.headers)
            except ConnectError as e:
                tries.failed(url, e, time.monotonic())
                continue
            return tries.done(url, res, time.monotonic())
        raise tries.exhausted()

    async def _refresh(self, namespace: str) -> None:
        """Fetches the namespace's topology when routing needs it. A failure
        leaves the routing as it was: the request reports its own errors."""
        if not self._router.claim_refresh(namespace, time.monotonic()):
            deadline = time.monotonic() + FIRST_TOPOLOGY_WAIT_S
            while self._router.first_fetch_pending(namespace, time.monotonic()) and time.monotonic() < deadline:
                await asyncio.sleep(FIRST_TOPOLOGY_POLL_S)
            return
        topology = None
        try:
            topology = _calls.topology_of(self._router, await self._unary(_calls.topology_call(namespace)))
        except ConcordError:
            pass
        finally:
            self._router.refreshed(namespace, topology, time.monotonic())


async def _value(v: Bytes | Awaitable[Bytes]) -> Bytes:
    return await v if inspect.isawaitable(v) else v
