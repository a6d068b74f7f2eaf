"""Judging what a step returned against what it expects. The only place
that judges; it knows nothing of the network."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import concord

from ._suite import to_bytes

#: Each kind of the suite, in this SDK's spelling.
KINDS: dict[str, type[concord.ConcordError]] = {
    "already_exists": concord.AlreadyExistsError,
    "conflict": concord.ConflictError,
    "limit": concord.LimitError,
    "quorum": concord.QuorumError,
    "not_found": concord.NamespaceNotFoundError,
    "unauthenticated": concord.UnauthenticatedError,
    "permission_denied": concord.PermissionDeniedError,
    "invalid": concord.InvalidArgumentError,
}


@dataclass
class Outcome:
    """What one step's call returned."""

    obj: concord.Object | None = None  # get
    ctx: concord.Context | None = None  # put, delete
    keys: list[bytes] = field(default_factory=list)  # list, run prefix stripped
    err: BaseException | None = None


def current(err: BaseException | None) -> concord.Object | None:
    """The key's current object a conflict carries, or None."""
    if isinstance(err, (concord.ConflictError, concord.AlreadyExistsError)):
        return err.current
    return None


def check(op: str, st: dict[str, Any], out: Outcome) -> list[str]:
    """The problems of a step's outcome; none is a pass."""
    if "error" in st:
        return _check_error(st["error"], out.err)
    if out.err is not None:
        return [f"want success, got {_describe(out.err)}"]
    return _check_expect(op, st["expect"], out)


def _check_expect(op: str, e: dict[str, Any], out: Outcome) -> list[str]:
    problems: list[str] = []
    obj = out.obj
    if op == "get" and obj is None:
        return ["get returned no object"]
    if "found" in e and obj is not None and obj.found != e["found"]:
        problems.append(f"found: want {e['found']}, got {obj.found}")
    if "values" in e and obj is not None:
        problems += _same("values", [to_bytes(b) for b in e["values"]], obj.values)
    if "siblings" in e and obj is not None and len(obj.siblings) != e["siblings"]:
        problems.append(f"siblings: want {e['siblings']}, got {len(obj.siblings)} ({_show_all(obj.values)})")
    if "resolved_by" in e and obj is not None and obj.resolved_by != e["resolved_by"]:
        problems.append(f"resolved_by: want {e['resolved_by']!r}, got {obj.resolved_by!r}")
    if "context" in e:
        ctx = obj.context if obj is not None else out.ctx
        if bool(ctx) != e["context"]:
            problems.append(f"context: want non-empty {e['context']}, got {len(bytes(ctx or b''))} bytes")
    if "keys" in e:
        want = [to_bytes(b) for b in e["keys"]]
        if want != out.keys:
            problems.append(f"keys: want {_show_all(want)}, got {_show_all(out.keys)}")
    if "key_set" in e:
        problems += _same("key_set", [to_bytes(b) for b in e["key_set"]], out.keys)
    if "key_count" in e and len(out.keys) != e["key_count"]:
        problems.append(f"key_count: want {e['key_count']}, got {len(out.keys)}")
    return problems


def _check_error(want: dict[str, Any], err: BaseException | None) -> list[str]:
    if err is None:
        return [f"want error {'/'.join(str(v) for k, v in want.items() if k in ('code', 'kind', 'limit'))}, got success"]
    problems: list[str] = []
    code = err.code.value if isinstance(err, concord.ConcordError) and err.code else None
    if want.get("code") and code != want["code"]:
        problems.append(f"code: want {want['code']}, got {code}")
    if want.get("kind") and not isinstance(err, KINDS[want["kind"]]):
        problems.append(f"kind: want {want['kind']}, the SDK raised {type(err).__name__}")
    if want.get("limit"):
        if not isinstance(err, concord.LimitError):
            problems.append(f"limit: want a LimitError naming {want['limit']}, got none")
        elif err.limit != want["limit"]:
            problems.append(f"limit: want {want['limit']}, got {err.limit}")
    cur = current(err)
    if "has_current" in want and (cur is not None) != want["has_current"]:
        problems.append(f"has_current: want {want['has_current']}, got {cur is not None}")
    if "values" in want:
        if cur is None:
            problems.append("values: the error carries no current object")
        else:
            problems += _same("current values", [to_bytes(b) for b in want["values"]], cur.values)
    if problems:
        problems[-1] += f" (the error: {_describe(err)})"
    return problems


def _same(what: str, want: list[bytes], got: list[bytes]) -> list[str]:
    """Byte strings compared as multisets (order ignored)."""
    if Counter(want) == Counter(got):
        return []
    return [f"{what}: want {_show_all(sorted(want))}, got {_show_all(sorted(got))}"]


def _describe(err: BaseException) -> str:
    return f"{type(err).__name__}: {err}"


def show(b: bytes) -> str:
    """A byte string, short: as text when printable UTF-8, else hex."""
    if len(b) > 48:
        return f"<{len(b)} bytes: {show(b[:16])}…>"
    try:
        s = b.decode("utf-8")
    except UnicodeDecodeError:
        return f"hex:{b.hex()}"
    return repr(s) if s.isprintable() else f"hex:{b.hex()}"


def _show_all(bs: list[bytes]) -> str:
    return "[" + " ".join(show(b) for b in bs) + "]"
