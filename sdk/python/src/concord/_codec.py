"""Between the SDK's types and the wire: arguments to requests, answers to
Objects, Connect errors to typed errors. Pure: no IO."""

from __future__ import annotations

from datetime import timezone
from typing import TYPE_CHECKING, Union

from connectrpc.code import Code

from ._errors import BY_CODE, AlreadyExistsError, ConcordError, ConflictError, QuorumError, limit_error
from ._gen.concord.kv.v1 import kv_pb2
from ._object import Context, Object, Sibling

if TYPE_CHECKING:
    from collections.abc import Iterable

    from connectrpc.errors import ConnectError

#: A key, value or prefix: text (sent as UTF-8) or bytes.
Bytes = Union[str, bytes, bytearray, memoryview]
#: What a write takes as its context: a read's Object, a Context, or a
#: Context's string form.
ContextLike = Union[Object, Context, str, None]


def to_bytes(what: str, b: Bytes) -> bytes:
    """The bytes of a key, value or prefix; str is encoded as UTF-8."""
    if isinstance(b, str):
        return b.encode("utf-8")
    if isinstance(b, (bytes, bytearray, memoryview)):
        return bytes(b)
    raise TypeError(f"concord: {what} must be str or bytes, not {type(b).__name__}")


def context_bytes(ctx: ContextLike) -> bytes:
    """The wire form of a write's context argument."""
    if ctx is None:
        return b""
    if isinstance(ctx, Object):
        return bytes(ctx.context)
    if isinstance(ctx, Context):
        return bytes(ctx)
    if isinstance(ctx, str):
        return bytes(Context.parse(ctx))
    raise TypeError(f"concord: context must be an Object, a Context or its string form, not {type(ctx).__name__}")


def quorum(what: str, n: int | None) -> int:
    """A per-call r, w or dw: None or 0 is the namespace's default."""
    if n is None:
        return 0
    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        raise ValueError(f"concord: {what} must be a non-negative int, got {n!r}")
    return n


def siblings(msgs: Iterable[kv_pb2.Sibling]) -> tuple[Sibling, ...]:
    """The live siblings of an answer (tombstones left out)."""
    return tuple(
        Sibling(value=bytes(s.value), written_at=s.written_at.ToDatetime(tzinfo=timezone.utc))
        for s in msgs
        if not s.tombstone
    )


def object_of(key: bytes, res: kv_pb2.GetResponse) -> Object:
    return Object(
        key=key,
        found=res.found,
        siblings=siblings(res.siblings),
        context=Context(res.context),
        resolved_by=res.resolved_by,
        replies=res.replies,
        coordinator=res.coordinator,
    )


def error_of(err: ConnectError, key: bytes | None) -> ConcordError:
    """The typed error of a Connect error; the Connect error becomes its cause."""
    out = _typed(err, key)
    out.__cause__ = err
    return out


def _typed(err: ConnectError, key: bytes | None) -> ConcordError:
    code, msg = err.code, err.message
    for d in err.details:
        if d.type_name == "concord.kv.v1.QuorumFailure":
            q = kv_pb2.QuorumFailure.FromString(d.message_bytes)
            return QuorumError(code, msg, acks=q.acks, required=q.required)
        if d.type_name == "concord.kv.v1.ContextConflict":
            c = kv_pb2.ContextConflict.FromString(d.message_bytes)
            sibs = siblings(c.siblings)
            current = Object(key=key or b"", found=bool(sibs), siblings=sibs, context=Context(c.context))
            if code == Code.ALREADY_EXISTS:
                return AlreadyExistsError(code, msg, current=current)
            return ConflictError(code, msg, current=current)
        if d.type_name == "concord.kv.v1.LimitExceeded":
            le = kv_pb2.LimitExceeded.FromString(d.message_bytes)
            return limit_error(code, msg, limit=le.limit, max=le.max, actual=le.actual, retry_after_ms=le.retry_after_ms)
    return BY_CODE.get(code, ConcordError)(code, msg)
