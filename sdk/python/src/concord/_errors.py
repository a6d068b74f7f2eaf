"""The SDK's typed errors: one ConcordError base carrying the Connect code.

The server's answer decides the type (see docs/api.md, "Errors"): a detail
message first (QuorumFailure, ContextConflict, LimitExceeded), then the code.
The Connect error the runtime raised stays reachable as ``__cause__``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from connectrpc.code import Code

if TYPE_CHECKING:
    from collections.abc import Sequence

    from ._object import Object, Sibling

__all__ = [
    "AlreadyExistsError",
    "Code",
    "ConcordError",
    "ConflictError",
    "InvalidArgumentError",
    "LimitError",
    "NamespaceNotFoundError",
    "PermissionDeniedError",
    "QuorumError",
    "SiblingsError",
    "UnauthenticatedError",
    "UnavailableError",
]


class ConcordError(Exception):
    """Any error of a concord call.

    ``code`` is the Connect code of the server's answer (``code.value`` is
    its lower snake case name, e.g. ``"invalid_argument"``), or None for an
    error the client raised itself (SiblingsError).
    """

    def __init__(self, code: Code | None, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message

    def __str__(self) -> str:
        return f"concord: {self.message}" if self.code is None else f"concord: {self.code.value}: {self.message}"


class QuorumError(ConcordError):
    """Fewer replicas than required answered in time (UNAVAILABLE).

    A failed write may still be present on some replicas; a Get, and a Put
    with the context of the same read, are safe to retry.
    """

    def __init__(self, code: Code, message: str, *, acks: int, required: int) -> None:
        super().__init__(code, message)
        self.acks = acks
        self.required = required


class ConflictError(ConcordError):
    """A put with ``if_context_current`` found the key changed (FAILED_PRECONDITION).

    ``current`` is the key as the coordinator holds it now: merge with it and
    write back with ``context=err.current``, without another read.
    """

    def __init__(self, code: Code, message: str, *, current: Object) -> None:
        super().__init__(code, message)
        self.current = current


class AlreadyExistsError(ConcordError):
    """A put with ``if_absent`` met a live value (ALREADY_EXISTS).

    ``current`` is the key's current object when the server sent it.
    """

    def __init__(self, code: Code, message: str, *, current: Object | None = None) -> None:
        super().__init__(code, message)
        self.current = current


class LimitError(ConcordError):
    """The request passed a namespace limit: a size (INVALID_ARGUMENT), the
    sibling limit, a quota or a request rate (RESOURCE_EXHAUSTED).

    ``retry_after_ms`` is the wait before the node takes the request again,
    for a rate limit or quota; 0 when waiting does not lift the limit. A
    size limit's LimitError is an InvalidArgumentError too.
    """

    def __init__(self, code: Code, message: str, *, limit: str, max: int, actual: int, retry_after_ms: int) -> None:
        super().__init__(code, message)
        self.limit = limit
        self.max = max
        self.actual = actual
        self.retry_after_ms = retry_after_ms


class NamespaceNotFoundError(ConcordError):
    """The namespace does not exist, or the token is for another one (NOT_FOUND)."""


class UnauthenticatedError(ConcordError):
    """No credential, or one the cluster does not know (UNAUTHENTICATED)."""


class PermissionDeniedError(ConcordError):
    """The token's scopes do not allow the call (PERMISSION_DENIED)."""


class InvalidArgumentError(ConcordError):
    """A bad request: the message names the field (INVALID_ARGUMENT)."""


class _InvalidLimitError(LimitError, InvalidArgumentError):
    """A LimitError of an INVALID_ARGUMENT answer (a size limit)."""


def limit_error(code: Code, message: str, *, limit: str, max: int, actual: int, retry_after_ms: int) -> LimitError:
    cls = _InvalidLimitError if code == Code.INVALID_ARGUMENT else LimitError
    return cls(code, message, limit=limit, max=max, actual=actual, retry_after_ms=retry_after_ms)


class UnavailableError(ConcordError):
    """No node answered, or the node cannot serve now (UNAVAILABLE); retry."""


class SiblingsError(ConcordError):
    """The object has several siblings and one value was asked for.

    ``siblings`` are all of them: merge them and write the result back with
    the object's context. Raised by the client, so ``code`` is None.
    """

    def __init__(self, key: bytes, siblings: Sequence[Sibling]) -> None:
        super().__init__(None, f"key {key[:64]!r} has {len(siblings)} siblings; merge them (obj.siblings) and write back")
        self.key = key
        self.siblings = tuple(siblings)


#: The error type of an answer without a detail, by its code.
BY_CODE: dict[Code, type[ConcordError]] = {
    Code.NOT_FOUND: NamespaceNotFoundError,
    Code.UNAUTHENTICATED: UnauthenticatedError,
    Code.PERMISSION_DENIED: PermissionDeniedError,
    Code.INVALID_ARGUMENT: InvalidArgumentError,
    Code.UNAVAILABLE: UnavailableError,
    Code.ALREADY_EXISTS: AlreadyExistsError,
}
