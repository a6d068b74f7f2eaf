"""list_keys: every page, prefixes, limits; sync and async."""

from __future__ import annotations

import asyncio

import pytest

import concord
from cluster import Cluster
from concord import _calls
from concord._gen.concord.kv.v1 import kv_pb2

N = 25


@pytest.fixture
def listed(client: concord.Client, key: str) -> list[bytes]:
    keys = [f"{key}/list/k{i:02d}".encode() for i in range(N)]
    for k in keys:
        client.put(k, "v")
    client.put(f"{key}/other", "v")
    return keys


@pytest.mark.parametrize("page_size", [None, 1, 4, 10, 25, 26, 10000])
def test_every_key_once_whatever_the_page_size(client: concord.Client, key: str, listed: list[bytes], page_size: int | None) -> None:
    got = list(client.list_keys(f"{key}/list/", page_size=page_size))
    assert len(got) == N and sorted(got) == listed


def test_prefix_and_limit(client: concord.Client, key: str, listed: list[bytes]) -> None:
    assert sorted(client.list_keys(f"{key}/list/k1")) == listed[10:20]
    assert len(list(client.list_keys(key))) == N + 1
    assert list(client.list_keys(f"{key}/none")) == []
    for page_size, limit in [(None, 7), (5, 10), (4, 7), (10, 25), (3, 100)]:
        got = list(client.list_keys(f"{key}/list/", page_size=page_size, limit=limit))
        assert len(got) == min(limit, N) and len(set(got)) == len(got) and set(got) <= set(listed)


def test_a_deleted_key_is_not_listed(client: concord.Client, key: str) -> None:
    client.put(f"{key}/a", "v")
    ctx = client.put(f"{key}/b", "v")
    client.delete(f"{key}/b", context=ctx)
    assert list(client.list_keys(key)) == [f"{key}/a".encode()]


def test_stopping_early_closes_the_stream(client: concord.Client, key: str, listed: list[bytes]) -> None:
    it = client.list_keys(f"{key}/list/", page_size=2)
    first = next(it)
    it.close()
    assert first in listed
    # The client still works.
    assert len(list(client.list_keys(f"{key}/list/", page_size=2))) == N


def test_async_listing(cluster: Cluster, key: str, listed: list[bytes]) -> None:
    async def main() -> list[bytes]:
        async with concord.AsyncClient(cluster.endpoints, token=cluster.token) as c:
            return [k async for k in c.list_keys(f"{key}/list/", page_size=4)]

    assert sorted(asyncio.run(main())) == listed


def test_listing_resumes_after_the_last_page() -> None:
    s = _calls.settings("http://n1", token=None, namespace="ns", timeout=None, connect_timeout=1, tls_ca_cert=None)
    listing = _calls.Listing(s, "p/", 10, 25, None)
    first = listing.request()
    assert (first.namespace, first.prefix, first.page_size, first.page_token, first.limit) == ("ns", b"p/", 10, b"", 25)
    assert listing.page(kv_pb2.ListKeysResponse(keys=[b"p/%d" % i for i in range(10)], next_page_token=b"t1")) == [
        b"p/%d" % i for i in range(10)
    ]
    # After a broken stream the next request resumes after the page, for the keys left.
    again = listing.request()
    assert (again.page_token, again.limit) == (b"t1", 15)
    assert not listing.complete()
    listing.page(kv_pb2.ListKeysResponse(keys=[b"x"] * 15, next_page_token=b"t2"))
    assert listing.complete()
