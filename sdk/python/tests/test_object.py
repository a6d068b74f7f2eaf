"""Contexts, objects and the sibling policy, without a cluster."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

import concord
from concord import _calls

T = datetime(2026, 1, 2, tzinfo=timezone.utc)


def obj(*values: bytes) -> concord.Object:
    return concord.Object(
        key=b"k", found=bool(values), siblings=tuple(concord.Sibling(v, T) for v in values), context=concord.Context(b"\x01\x02")
    )


@pytest.mark.parametrize("raw", [b"", b"\x00", b"\xff" * 3, bytes(range(256))])
def test_context_string_round_trip(raw: bytes) -> None:
    c = concord.Context(raw)
    s = str(c)
    assert s.isascii() and "=" not in s and "/" not in s and "+" not in s
    assert concord.Context.parse(s) == c and bytes(concord.Context.parse(s)) == raw
    assert hash(concord.Context.parse(s)) == hash(c)
    assert bool(c) == bool(raw)


@pytest.mark.parametrize("bad", ["!!", "a", "ab=c"])
def test_context_parse_refuses_other_text(bad: str) -> None:
    with pytest.raises(ValueError):
        concord.Context.parse(bad)


def test_context_equality_and_repr() -> None:
    assert concord.Context(b"a") != concord.Context(b"b") and concord.Context(b"a") != b"a"
    assert repr(concord.Context(b"x" * 40)).endswith("...)")


def test_one_value() -> None:
    o = obj(b'{"a": 1}')
    assert o.value == b'{"a": 1}' and o.text() == '{"a": 1}' and o.json() == {"a": 1} and o.values == [b'{"a": 1}']


def test_no_value() -> None:
    o = obj()
    assert o.value is None and o.text() is None and o.json() is None and o.values == []


def test_several_values_are_never_picked() -> None:
    o = obj(b"1", b"2")
    for ask in (lambda: o.value, o.text, o.json):
        with pytest.raises(concord.SiblingsError) as e:
            ask()
        assert [s.value for s in e.value.siblings] == [b"1", b"2"] and e.value.key == b"k"
    assert o.values == [b"1", b"2"]


def test_context_arguments() -> None:
    from concord import _codec

    assert _codec.context_bytes(obj(b"v")) == b"\x01\x02"
    assert _codec.context_bytes(concord.Context(b"\x03")) == b"\x03"
    assert _codec.context_bytes(str(concord.Context(b"\x04"))) == b"\x04"
    assert _codec.context_bytes(None) == b""


@pytest.mark.parametrize(
    "endpoints",
    ["", ",", "127.0.0.1:7700", "ftp://h:1", ["http://a:1", "https://b:2"]],
)
def test_bad_endpoints(endpoints: str | list[str]) -> None:
    with pytest.raises(ValueError):
        concord.Client(endpoints)


def test_endpoint_forms() -> None:
    s = _calls.settings("http://a:1/, http://b:2", token="t", namespace="ns", timeout=1.5, connect_timeout=1, tls_ca_cert=None)
    assert s.endpoints == ("http://a:1", "http://b:2") and s.headers == {"authorization": "Bearer t"} and s.timeout_ms == 1500
