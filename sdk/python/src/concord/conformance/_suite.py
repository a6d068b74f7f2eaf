"""Reading and checking a cases file: a mistake in it fails the run before
any call is made."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

#: The largest fill: the largest max_value_bytes a namespace may have, plus one.
MAX_FILL = 16 * 1024 * 1024 + 1

CODES = {
    "invalid_argument", "not_found", "already_exists", "failed_precondition",
    "resource_exhausted", "unauthenticated", "permission_denied", "unavailable",
}
KINDS = {"already_exists", "conflict", "limit", "quorum", "not_found", "unauthenticated", "permission_denied", "invalid"}

#: Each step field and the ops it belongs to.
STEP_FIELDS = {
    "key": "put get delete", "raw_key": "put get delete", "value": "put", "prefix": "list",
    "context": "put delete", "r": "get", "w": "put delete", "dw": "put",
    "if_absent": "put", "if_context_current": "put", "force": "delete", "overwrite": "put",
    "page_size": "list", "limit": "list",
}
COMMON_FIELDS = {"op", "namespace", "token", "save", "expect", "error"}
EXPECT_FIELDS = {
    "found": "get", "values": "get", "siblings": "get", "resolved_by": "get",
    "keys": "list", "key_set": "list", "key_count": "list", "context": "get put delete",
}
ERROR_FIELDS = {"code", "kind", "limit", "has_current", "values"}


class SuiteError(Exception):
    """The cases file is not valid."""


def to_bytes(spec: Any) -> bytes:
    """A byte string of the file: exactly one of utf8, hex, fill."""
    if not isinstance(spec, dict) or len(spec) != 1:
        raise SuiteError(f"byte string {spec!r}: want exactly one of utf8, hex, fill")
    (kind, v), = spec.items()
    if kind == "utf8" and isinstance(v, str):
        return v.encode("utf-8")
    if kind == "hex" and isinstance(v, str):
        try:
            return bytes.fromhex(v)
        except ValueError as e:
            raise SuiteError(f"hex {v!r}: {e}") from None
    if kind == "fill" and isinstance(v, dict) and set(v) == {"byte", "count"}:
        one, count = v["byte"], v["count"]
        if not isinstance(one, str) or len(one) != 2 or not isinstance(count, int) or not 0 <= count <= MAX_FILL:
            raise SuiteError(f"fill {v!r}: want two hex digits and a count of 0 to {MAX_FILL}")
        return bytes.fromhex(one) * count
    raise SuiteError(f"byte string {spec!r}: want exactly one of utf8, hex, fill")


def load(path: str | Path) -> dict[str, Any]:
    try:
        doc: dict[str, Any] = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise SuiteError(f"{path}: {e}") from None
    try:
        _validate(doc)
    except SuiteError as e:
        raise SuiteError(f"{path}: {e}") from None
    return doc


def _validate(doc: Any) -> None:
    if not isinstance(doc, dict) or doc.get("version") != 1:
        raise SuiteError("want a version 1 file")
    if set(doc) - {"version", "namespaces", "cases"}:
        raise SuiteError(f"unknown fields {sorted(set(doc) - {'version', 'namespaces', 'cases'})}")
    declared = [ns.get("name") for ns in doc.get("namespaces", [])]
    if not all(declared) or len(set(declared)) != len(declared):
        raise SuiteError("a namespace is unnamed or declared twice")
    cases = doc.get("cases") or []
    if not cases:
        raise SuiteError("no cases")
    names: set[str] = set()
    for i, case in enumerate(cases):
        name = case.get("name")
        if not name or name in names:
            raise SuiteError(f"case {i} {name!r}: empty or repeated name")
        names.add(name)
        if set(case) - {"name", "namespace", "steps"}:
            raise SuiteError(f"case {name!r}: unknown fields {sorted(set(case) - {'name', 'namespace', 'steps'})}")
        if case.get("namespace") not in declared:
            raise SuiteError(f"case {name!r}: namespace {case.get('namespace')!r} is not declared")
        if not case.get("steps"):
            raise SuiteError(f"case {name!r}: no steps")
        saved: set[str] = set()
        for j, st in enumerate(case["steps"]):
            try:
                _validate_step(st, saved)
            except SuiteError as e:
                raise SuiteError(f"case {name!r} step {j + 1}: {e}") from None


def _validate_step(st: dict[str, Any], saved: set[str]) -> None:
    op = st.get("op")
    if op not in ("put", "get", "delete", "list"):
        raise SuiteError(f"op {op!r}: want put, get, delete or list")
    for f in st:
        if f in COMMON_FIELDS:
            continue
        if f not in STEP_FIELDS:
            raise SuiteError(f"unknown field {f!r}")
        if op not in STEP_FIELDS[f].split():
            raise SuiteError(f"{f} is not a field of {op}")
    if op != "list" and "key" not in st:
        raise SuiteError("key is required")
    if op == "put" and "value" not in st:
        raise SuiteError("value is required")
    for f in ("key", "value", "prefix"):
        if f in st:
            to_bytes(st[f])
    if "context" in st and st["context"] not in saved:
        raise SuiteError(f"context {st['context']!r}: no earlier step saved it")
    if st.get("token") not in (None, "none", "bad"):
        raise SuiteError(f"token {st['token']!r}: want none or bad")
    if ("expect" in st) == ("error" in st):
        raise SuiteError("want exactly one of expect and error")
    if "expect" in st:
        for f, v in st["expect"].items():
            if f not in EXPECT_FIELDS or op not in EXPECT_FIELDS[f].split():
                raise SuiteError(f"expect.{f} does not apply to {op}")
            if f in ("values", "keys", "key_set"):
                [to_bytes(b) for b in v]
    else:
        err = st["error"]
        if set(err) - ERROR_FIELDS:
            raise SuiteError(f"unknown error fields {sorted(set(err) - ERROR_FIELDS)}")
        if err.get("code") and err["code"] not in CODES:
            raise SuiteError(f"error.code {err['code']!r} is not one of the suite's codes")
        if err.get("kind") and err["kind"] not in KINDS:
            raise SuiteError(f"error.kind {err['kind']!r} is not one of the suite's kinds")
        if not err.get("code") and not err.get("kind"):
            raise SuiteError("error needs a code or a kind")
        [to_bytes(b) for b in err.get("values", [])]
        if "save" in st and not err.get("has_current"):
            raise SuiteError("a failed step saves only the current object of a conflict: set has_current")
    if "save" in st:
        saved.add(st["save"])
