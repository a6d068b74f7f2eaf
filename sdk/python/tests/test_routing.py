"""Partition-aware routing against the real cluster: requests reach the
key's replica without a forwarding hop, a stale topology falls back to the
endpoints and is refreshed, and reads follow the node of a recent write."""

from __future__ import annotations

import asyncio
import dataclasses
import time
import uuid

import pytest

import concord
from cluster import Cluster
from concord._routing import Node, Topology

BATCH = 30
HOPS = ("concord_forwarded_writes_total", "concord_remote_reads_total")


@pytest.fixture(scope="module")
def ns1(cluster: Cluster) -> str:
    """A namespace with one replica per key, so that most keys live on
    another node than any one endpoint."""
    return cluster.create_namespace("py-route", n=1, r=1, w=1)


def hops(cluster: Cluster) -> list[float]:
    return [sum(v) for v in zip(*(cluster.metric(m) for m in HOPS))]


def batch(c: concord.Client, prefix: str) -> None:
    for i in range(BATCH):
        k = f"{prefix}/{i}"
        c.put(k, "v")
        assert c.get(k).values == [b"v"]
        c.delete(k, context=c.get(k))


def test_without_routing_one_endpoint_forwards(cluster: Cluster, ns1: str) -> None:
    # The control: the counters do grow when requests go to one node.
    before = hops(cluster)
    with concord.Client(cluster.endpoints[:1], token=cluster.token, namespace=ns1) as c:
        batch(c, f"py/{uuid.uuid4().hex}")
    after = hops(cluster)
    assert after[0] > before[0], (before, after)


@pytest.mark.parametrize("endpoint", [0, 1, 2])
def test_routed_requests_take_no_hop(cluster: Cluster, ns1: str, endpoint: int) -> None:
    with concord.Client(cluster.endpoints[endpoint : endpoint + 1], token=cluster.token, namespace=ns1, routing=True) as c:
        c.get("warm-up")  # fetches the topology
        t = c._router.topology(ns1)
        assert t is not None and len(t.nodes) == 3 and t.n == 1 and t.partitions == len(t.lists)
        assert {n.url for n in t.nodes} == set(cluster.endpoints)
        before = hops(cluster)
        batch(c, f"py/{uuid.uuid4().hex}")
        assert hops(cluster) == before


def test_async_routed_requests_take_no_hop(cluster: Cluster, ns1: str) -> None:
    async def main() -> None:
        async with concord.AsyncClient(cluster.endpoints[:1], token=cluster.token, namespace=ns1, routing=True) as c:
            await c.get("warm-up")
            before = hops(cluster)
            for i in range(BATCH):
                k = f"py/{uuid.uuid4().hex}/{i}"
                await c.put(k, "v")
                assert (await c.get(k)).values == [b"v"]
            assert hops(cluster) == before

    asyncio.run(main())


def _corrupt(t: Topology) -> Topology:
    # Every node at an address where nothing listens.
    nodes = tuple(dataclasses.replace(n, url=f"http://127.0.0.1:{i + 1}") for i, n in enumerate(t.nodes))
    return dataclasses.replace(t, nodes=nodes)


def test_a_stale_topology_falls_back_and_refreshes(cluster: Cluster, ns1: str) -> None:
    with concord.Client(cluster.endpoints, token=cluster.token, namespace=ns1, routing=True) as c:
        c.get("warm-up")
        good = c._router.topology(ns1)
        assert good is not None
        c._router.refreshed(ns1, _corrupt(good), time.monotonic())
        assert c._router.topology(ns1) != good

        key = f"py/{uuid.uuid4().hex}"
        c.put(key, "v")  # the wrong node refuses the connection: an endpoint takes it
        assert c._router.topology(ns1) != good  # noticed, refreshed before the next request
        assert c.get(key).values == [b"v"]
        assert c._router.topology(ns1) == good

        # Routed again: no hops.
        before = hops(cluster)
        batch(c, f"py/{uuid.uuid4().hex}")
        assert hops(cluster) == before


def test_async_stale_topology_falls_back_and_refreshes(cluster: Cluster, ns1: str) -> None:
    async def main() -> None:
        async with concord.AsyncClient(cluster.endpoints, token=cluster.token, namespace=ns1, routing=True) as c:
            await c.get("warm-up")
            good = c._router.topology(ns1)
            assert good is not None
            c._router.refreshed(ns1, _corrupt(good), time.monotonic())
            key = f"py/{uuid.uuid4().hex}"
            await c.put(key, "v")
            assert (await c.get(key)).values == [b"v"]
            assert c._router.topology(ns1) == good

    asyncio.run(main())


def test_a_dead_endpoint_falls_back_to_the_next(cluster: Cluster, key: str) -> None:
    with concord.Client(["http://127.0.0.1:1", *cluster.endpoints], token=cluster.token) as c:
        c.put(key, "v")
        assert c.get(key).values == [b"v"]
        assert sorted(c.list_keys(key)) == [key.encode()]
    with concord.Client(["http://127.0.0.1:1", "http://127.0.0.1:2"], token=cluster.token) as c:
        with pytest.raises(concord.UnavailableError) as e:
            c.get(key)
        assert e.value.code is concord.Code.UNAVAILABLE


def test_reads_follow_the_coordinator_of_a_recent_write(cluster: Cluster, key: str) -> None:
    with concord.Client(cluster.endpoints, token=cluster.token, routing=True) as c:
        c.get(key)
        t = c._router.topology("default")
        assert t is not None
        first = t.replicas(key.encode())[0]
        # A write coordinated by another node than the key's first replica,
        # as after a failover: reads go to that node for a while.
        other = next(n for n in t.nodes if n.id != first.id)
        c._router.wrote("default", key.encode(), other.url, other.id, time.monotonic())
        assert c._router.targets("default", key.encode(), time.monotonic())[0] == other.url
        c.put(key, "v")  # sent to other (a replica with n=3), which coordinates it
        assert c._router.targets("default", key.encode(), time.monotonic())[0] == other.url
        assert c.get(key).coordinator == other.id


def test_topology_urls_take_the_endpoint_scheme() -> None:
    from concord._gen.concord.kv.v1 import kv_pb2

    res = kv_pb2.GetTopologyResponse(
        ring_epoch=7, placement_name="ns", partitions=2, n=1,
        nodes=[kv_pb2.TopologyNode(id="a", api_addr="h1:1"), kv_pb2.TopologyNode(id="b", api_addr="h2:2")],
        preference_lists=[kv_pb2.PreferenceList(nodes=[0]), kv_pb2.PreferenceList(nodes=[1])],
    )
    t = Topology.of(res, "https")
    assert t.nodes == (Node("a", "https://h1:1"), Node("b", "https://h2:2")) and t.epoch == 7
    bad = kv_pb2.GetTopologyResponse(partitions=2, nodes=res.nodes, preference_lists=[kv_pb2.PreferenceList(nodes=[5])])
    with pytest.raises(ValueError):
        Topology.of(bad, "http")
    three = kv_pb2.GetTopologyResponse(partitions=3, nodes=res.nodes, preference_lists=[kv_pb2.PreferenceList()] * 3)
    with pytest.raises(ValueError):
        Topology.of(three, "http")
