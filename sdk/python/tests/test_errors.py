"""Typed errors, from the real cluster and from crafted answers."""

from __future__ import annotations

import pytest
from connectrpc.code import Code
from connectrpc.errors import ConnectError

import concord
from cluster import Cluster, until
from concord import _codec
from concord._gen.concord.admin.v1 import admin_pb2
from concord._gen.concord.kv.v1 import kv_pb2

BAD_TOKEN = "cct_0000000000000000_" + "0" * 64


def test_namespace_not_found(client: concord.Client, key: str) -> None:
    with pytest.raises(concord.NamespaceNotFoundError) as e:
        client.get(key, namespace="py-no-such-namespace")
    assert e.value.code is Code.NOT_FOUND and e.value.code.value == "not_found"
    assert isinstance(e.value.__cause__, ConnectError)
    with pytest.raises(concord.NamespaceNotFoundError):
        list(client.list_keys(namespace="py-no-such-namespace"))


@pytest.mark.parametrize("token", [None, BAD_TOKEN], ids=["none", "unknown"])
def test_unauthenticated(cluster: Cluster, key: str, token: str | None) -> None:
    with concord.Client(cluster.endpoints, token=token) as c:
        for call in (lambda: c.get(key), lambda: c.put(key, "v"), lambda: list(c.list_keys())):
            with pytest.raises(concord.UnauthenticatedError) as e:
                call()
            assert e.value.code is Code.UNAUTHENTICATED


def test_permission_denied_for_a_read_token_writing(cluster: Cluster, key: str) -> None:
    ns = cluster.create_namespace("py-perm", n=3)
    read = cluster.create_token(ns, admin_pb2.TOKEN_SCOPE_READ)
    with concord.Client(cluster.endpoints, token=read, namespace=ns) as c:
        assert not c.get(key).found
        with pytest.raises(concord.PermissionDeniedError) as e:
            c.put(key, "v")
        assert e.value.code is Code.PERMISSION_DENIED


@pytest.mark.parametrize(
    "call",
    [
        lambda c, k: c.get(b""),
        lambda c, k: c.get(k, r=4),
        lambda c, k: c.put(k, "v", w=4),
        lambda c, k: c.delete(k),
        lambda c, k: c.put(k + "-other", "v", context=c.put(k, "v")),
    ],
    ids=["empty-key", "r-over-n", "w-over-n", "delete-without-context", "context-of-another-key"],
)
def test_invalid_argument(client: concord.Client, key: str, call) -> None:  # noqa: ANN001
    with pytest.raises(concord.InvalidArgumentError) as e:
        call(client, key)
    assert e.value.code is Code.INVALID_ARGUMENT and not isinstance(e.value, concord.LimitError)


def test_size_limits(cluster: Cluster, key: str) -> None:
    ns = cluster.create_namespace("py-small", n=3, limits=admin_pb2.Limits(max_value_bytes=16))
    with concord.Client(cluster.endpoints, token=cluster.token, namespace=ns) as c:
        c.put(key, b"x" * 16)
        with pytest.raises(concord.LimitError) as e:
            c.put(key, b"x" * 17)
        assert (e.value.limit, e.value.max, e.value.actual, e.value.retry_after_ms) == ("max_value_bytes", 16, 17, 0)
        assert e.value.code is Code.INVALID_ARGUMENT
        # A size limit is a bad argument too.
        assert isinstance(e.value, concord.InvalidArgumentError)

        with pytest.raises(concord.LimitError) as k:
            c.get(b"k" * 1025)
        assert k.value.limit == "max_key_bytes"
        with pytest.raises(concord.LimitError) as p:
            list(c.list_keys(page_size=10001))
        assert p.value.limit == "page_size"


def test_rate_limit_says_when_to_retry(cluster: Cluster, key: str) -> None:
    ns = cluster.create_namespace("py-rate", n=3, limits=admin_pb2.Limits(writes_per_second=1))
    with concord.Client(cluster.endpoints[:1], token=cluster.token, namespace=ns) as c:
        def refused() -> concord.LimitError:
            for i in range(5):  # the bucket holds one second's share, at least one
                try:
                    c.put(f"{key}/{i}", "v")
                except concord.LimitError as e:
                    return e
            raise AssertionError("five quick writes all passed a limit of one per second")

        e = refused()
        assert e.code is Code.RESOURCE_EXHAUSTED and not isinstance(e, concord.InvalidArgumentError)
        assert e.limit == "writes_per_second" and e.max == 1 and e.retry_after_ms > 0
        until("a write after the wait", lambda: c.put(key, "v"), timeout=10, every=max(0.05, e.retry_after_ms / 1000))


def _connect_error(code: Code, *details: object) -> ConnectError:
    from protobuf.wkt import Any

    anys = [Any(type_url=f"type.googleapis.com/{m.DESCRIPTOR.full_name}", value=m.SerializeToString()) for m in details]
    return ConnectError(code, "the message", anys)


@pytest.mark.parametrize(
    ("err", "typ", "fields"),
    [
        (_connect_error(Code.UNAVAILABLE, kv_pb2.QuorumFailure(acks=1, required=2)), concord.QuorumError,
         {"acks": 1, "required": 2}),
        (_connect_error(Code.RESOURCE_EXHAUSTED, kv_pb2.LimitExceeded(limit="max_siblings", max=100, actual=101)),
         concord.LimitError, {"limit": "max_siblings", "max": 100, "actual": 101, "retry_after_ms": 0}),
        (_connect_error(Code.FAILED_PRECONDITION, kv_pb2.ContextConflict(
            siblings=[kv_pb2.Sibling(value=b"a"), kv_pb2.Sibling(value=b"dead", tombstone=True)], context=b"c")),
         concord.ConflictError, {}),
        (_connect_error(Code.ALREADY_EXISTS), concord.AlreadyExistsError, {"current": None}),
        (_connect_error(Code.UNAVAILABLE), concord.UnavailableError, {}),
        (_connect_error(Code.INTERNAL), concord.ConcordError, {}),
    ],
    ids=["quorum", "siblings-limit", "conflict", "exists-without-detail", "unavailable", "internal"],
)
def test_error_mapping(err: ConnectError, typ: type, fields: dict) -> None:
    got = _codec.error_of(err, b"k")
    assert type(got) is typ and got.code is err.code and got.message == "the message" and got.__cause__ is err
    for name, want in fields.items():
        assert getattr(got, name) == want
    if typ is concord.ConflictError:
        assert got.current.values == [b"a"] and bytes(got.current.context) == b"c" and got.current.key == b"k"
    assert str(got).startswith(f"concord: {err.code.value}: ")
