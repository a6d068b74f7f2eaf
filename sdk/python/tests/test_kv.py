"""Reads and writes against the real cluster, sync and async."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone

import pytest

import concord
from cluster import Cluster


def test_put_get_round_trip(client: concord.Client, key: str) -> None:
    ctx = client.put(key, "hello")
    assert isinstance(ctx, concord.Context) and ctx

    obj = client.get(key)
    assert obj.found and obj.key == key.encode()
    assert obj.value == b"hello" and obj.text() == "hello" and obj.values == [b"hello"]
    assert obj.resolved_by == "" and obj.replies >= 2
    (s,) = obj.siblings
    assert s.value == b"hello" and s.text() == "hello"
    assert s.written_at.tzinfo is not None
    assert abs(datetime.now(timezone.utc) - s.written_at) < timedelta(minutes=5)


def test_json_values(client: concord.Client, key: str) -> None:
    client.put(key, '{"items": [1, 2]}')
    obj = client.get(key)
    assert obj.json() == {"items": [1, 2]} and obj.siblings[0].json() == {"items": [1, 2]}


def test_missing_key_is_not_an_error(client: concord.Client, key: str) -> None:
    obj = client.get(key)
    assert not obj.found and obj.siblings == () and obj.context
    assert obj.value is None and obj.text() is None and obj.json() is None


def test_blind_puts_make_siblings_and_value_refuses_to_pick(client: concord.Client, key: str) -> None:
    client.put(key, "apple")
    client.put(key, "pear")
    obj = client.get(key)
    assert sorted(obj.values) == [b"apple", b"pear"]
    for one in (lambda: obj.value, obj.text, obj.json):
        with pytest.raises(concord.SiblingsError) as e:
            one()
        assert sorted(s.value for s in e.value.siblings) == [b"apple", b"pear"]
        assert e.value.code is None and isinstance(e.value, concord.ConcordError)

    # Writing the merge with the object's context replaces both siblings.
    client.put(key, b",".join(sorted(obj.values)), context=obj)
    assert client.get(key).value == b"apple,pear"


def test_context_round_trips_through_its_string_form(client: concord.Client, key: str) -> None:
    client.put(key, "v1")
    text = str(client.get(key).context)
    assert isinstance(text, str) and concord.Context.parse(text) == client.get(key).context

    # The string form works as the context of a write, and so does the parsed one.
    ctx = client.put(key, "v2", context=text)
    assert client.get(key).values == [b"v2"]
    client.put(key, "v3", context=concord.Context.parse(str(ctx)))
    assert client.get(key).values == [b"v3"]


def test_stale_context_keeps_the_newer_write(client: concord.Client, key: str) -> None:
    c1 = client.put(key, "v1")
    client.put(key, "v2", context=c1)
    client.put(key, "v3", context=c1)
    assert sorted(client.get(key).values) == [b"v2", b"v3"]


def test_overwrite_replaces_the_siblings(client: concord.Client, key: str) -> None:
    client.put(key, "a")
    client.put(key, "b")
    assert sorted(client.get(key).values) == [b"a", b"b"]
    client.put(key, "c", overwrite=True)
    obj = client.get(key)
    assert obj.values == [b"c"]
    with pytest.raises(concord.InvalidArgumentError):
        client.put(key, "d", overwrite=True, context=obj)


def test_delete_with_context_and_forced(client: concord.Client, key: str) -> None:
    client.put(key, "doomed")
    tomb = client.delete(key, context=client.get(key))
    assert tomb
    obj = client.get(key)
    assert not obj.found and obj.context

    # A put with the tombstone's context has no sibling of the deleted value.
    client.put(key, "new", context=obj)
    assert client.get(key).values == [b"new"]

    with pytest.raises(concord.InvalidArgumentError):
        client.delete(key)  # neither context nor force
    client.delete(key, force=True)
    assert not client.get(key).found


@pytest.mark.parametrize(
    "k",
    [b"\x00", b"\xff\xfe\x00\x01", bytes(range(256)), "ключ/キー/🔑", "é", "e\u0301"],
    ids=["nul", "binary", "all-bytes", "unicode", "nfc", "nfd"],
)
def test_binary_and_unicode_keys(client: concord.Client, key: str, k: str | bytes) -> None:
    full = key.encode() + "/".encode() + (k.encode() if isinstance(k, str) else k)
    client.put(full, "värde ✓ 🎉".encode())
    assert client.get(full).text() == "värde ✓ 🎉"
    # The str and bytes spellings of a key are the same key.
    if isinstance(k, str):
        assert client.get(f"{key}/{k}").found
    assert list(client.list_keys(key.encode() + b"/")) == [full]


def test_nfc_and_nfd_keys_differ(client: concord.Client, key: str) -> None:
    client.put(f"{key}/é", "nfc")
    assert not client.get(f"{key}/e\u0301").found


def test_keys_and_values_must_be_str_or_bytes(client: concord.Client) -> None:
    with pytest.raises(TypeError):
        client.put(1, "v")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        client.put("k", 1)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        client.put("k", "v", context=b"raw")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        client.get("k", r=-1)


def test_per_call_quorums(client: concord.Client, key: str) -> None:
    client.put(key, "everywhere", w=3, dw=1)
    assert client.get(key, r=3).replies == 3
    assert client.get(key, r=1).values == [b"everywhere"]


def test_if_absent_and_if_context_current(client: concord.Client, key: str) -> None:
    client.put(key, "first", if_absent=True)
    with pytest.raises(concord.AlreadyExistsError) as e:
        client.put(key, "second", if_absent=True)
    assert e.value.code is concord.Code.ALREADY_EXISTS
    assert e.value.current is not None and e.value.current.values == [b"first"]

    stale = client.get(key)
    client.put(key, "v2", context=stale)
    with pytest.raises(concord.ConflictError) as c:
        client.put(key, "v3", context=stale, if_context_current=True)
    assert c.value.code is concord.Code.FAILED_PRECONDITION
    assert c.value.current.values == [b"v2"] and c.value.current.key == key.encode()
    # The conflict's current object is the context of the retry.
    client.put(key, "v3", context=c.value.current, if_context_current=True)
    assert client.get(key).values == [b"v3"]


def test_namespace_per_client_and_per_call(cluster: Cluster, key: str) -> None:
    ns = cluster.create_namespace("py-ns", n=3)
    with concord.Client(cluster.endpoints, token=cluster.token, namespace=ns) as c:
        c.put(key, "in ns")
        assert c.get(key).found
        assert not c.get(key, namespace="default").found
        c.put(key, "in default", namespace="default")
        assert c.get(key, namespace="default").values == [b"in default"]
        assert c.get(key).values == [b"in ns"]


def test_async_round_trip(cluster: Cluster, key: str) -> None:
    async def main() -> None:
        async with concord.AsyncClient(cluster.endpoints, token=cluster.token) as c:
            ctx = await c.put(key, "apple")
            await c.put(key, "pear")
            obj = await c.get(key)
            assert sorted(obj.values) == [b"apple", b"pear"]
            with pytest.raises(concord.SiblingsError):
                obj.value
            await c.put(key, "both", context=obj)
            assert (await c.get(key)).value == b"both"
            with pytest.raises(concord.ConflictError) as e:
                await c.put(key, "late", context=ctx, if_context_current=True)
            assert e.value.current.values == [b"both"]
            await c.delete(key, context=e.value.current)
            assert not (await c.get(key)).found
            assert [k async for k in c.list_keys(key)] == []

    asyncio.run(main())
