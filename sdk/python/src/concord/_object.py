"""What reads return: an Object of Siblings and its opaque Context."""

from __future__ import annotations

import base64
import binascii
import json as _json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ._errors import SiblingsError

__all__ = ["Context", "Object", "Sibling"]


class Context:
    """The opaque causal context of a key, as a read or write returned it.

    It names exactly the versions the caller has seen. Never build or change
    one: pass back what concord gave you (the server refuses an altered one,
    or one of another key). ``str(ctx)`` is a URL-safe text form, and
    ``Context.parse(text)`` gives the same context back, for keeping one in a
    form field, a cookie or a job queue. Immutable and hashable.
    """

    __slots__ = ("_raw",)

    def __init__(self, raw: bytes = b"") -> None:
        self._raw = bytes(raw)

    @classmethod
    def parse(cls, text: str) -> Context:
        """The context whose string form is ``text``.

        Raises ValueError when ``text`` is not the string form of a context.
        """
        try:
            return cls(base64.b64decode(text + "=" * (-len(text) % 4), altchars=b"-_", validate=True))
        except (binascii.Error, ValueError) as e:
            raise ValueError(f"not a concord context: {text[:32]!r}") from e

    def __bytes__(self) -> bytes:
        return self._raw

    def __str__(self) -> str:
        return base64.urlsafe_b64encode(self._raw).rstrip(b"=").decode("ascii")

    def __repr__(self) -> str:
        s = str(self)
        return f"Context({s[:16]}{'...' if len(s) > 16 else ''})"

    def __bool__(self) -> bool:
        return bool(self._raw)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Context) and other._raw == self._raw

    def __hash__(self) -> int:
        return hash(self._raw)


@dataclass(frozen=True)
class Sibling:
    """One concurrent version of a key's value."""

    value: bytes
    #: The coordinator's wall clock when the version was written (UTC). It is
    #: informational, never causal.
    written_at: datetime

    def text(self, encoding: str = "utf-8") -> str:
        """The value decoded as text."""
        return self.value.decode(encoding)

    def json(self) -> Any:
        """The value parsed as JSON."""
        return _json.loads(self.value)


@dataclass(frozen=True)
class Object:
    """A key as a read found it: its live siblings and their context.

    More than one sibling means concurrent writes nobody merged yet. The
    sibling policy: ``value``, ``text()`` and ``json()`` return the one value,
    or None when the key has none, and raise :class:`SiblingsError` (carrying
    every sibling) when there are several; concord never picks one silently.
    Merge them from ``siblings`` and write the result back with
    ``put(key, merged, context=obj)``, or use ``update``.
    """

    key: bytes
    #: False for a key never written or deleted.
    found: bool
    #: The live versions, oldest first.
    siblings: tuple[Sibling, ...]
    #: Names exactly the versions this read saw; pass the object (or this)
    #: to put or delete.
    context: Context
    #: The namespace resolver that merged the siblings on the server, if any.
    resolved_by: str = ""
    #: Replicas that answered.
    replies: int = 0
    #: ID of the node that coordinated the read.
    coordinator: str = field(default="", repr=False)

    @property
    def values(self) -> list[bytes]:
        """Every sibling's value, oldest first."""
        return [s.value for s in self.siblings]

    @property
    def value(self) -> bytes | None:
        """The value; None for a missing key; SiblingsError when there are several."""
        one = self._one()
        return None if one is None else one.value

    def text(self, encoding: str = "utf-8") -> str | None:
        """The value decoded as text, under the same policy as ``value``."""
        one = self._one()
        return None if one is None else one.text(encoding)

    def json(self) -> Any:
        """The value parsed as JSON, under the same policy as ``value``."""
        one = self._one()
        return None if one is None else one.json()

    def _one(self) -> Sibling | None:
        if len(self.siblings) > 1:
            raise SiblingsError(self.key, self.siblings)
        return self.siblings[0] if self.siblings else None
