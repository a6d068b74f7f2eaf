"""The Router on its own: pure, the clock passed in."""

from __future__ import annotations

import pytest

from concord._placement import partition_of
from concord._routing import Node, Router, Topology

EPS = ("http://e1:1", "http://e2:2")
NODES = (Node("a", "http://a:1"), Node("b", "http://b:1"), Node("c", "http://c:1"))


def topology(epoch: int = 1) -> Topology:
    # 4 partitions, n=2: partition p's list starts at node p % 3.
    lists = tuple((p % 3, (p + 1) % 3) for p in range(4))
    return Topology(epoch, "ns-store", 4, 2, NODES, lists)


def routed(**kw: float) -> Router:
    r = Router(EPS, routing=True, **kw)
    assert r.claim_refresh("ns", 0.0)
    r.refreshed("ns", topology(), 0.0)
    return r


def test_without_routing_the_endpoints_in_order() -> None:
    r = Router(EPS, routing=False)
    assert not r.claim_refresh("ns", 0.0)
    assert r.targets("ns", b"k", 0.0) == list(EPS)
    r.answered(EPS[1])  # the endpoint that answered last comes first
    assert r.targets("ns", b"k", 0.0) == [EPS[1], EPS[0]]


@pytest.mark.parametrize("key", [b"k", b"", b"\x00\xff", "ключ".encode()])
def test_a_key_goes_to_its_preference_list_then_the_endpoints(key: bytes) -> None:
    r = routed()
    p = partition_of("ns-store", key, 4)
    first, second = NODES[p % 3], NODES[(p + 1) % 3]
    assert r.targets("ns", key, 1.0) == [first.url, second.url, *EPS]
    assert r.targets("ns", None, 1.0) == list(EPS)  # calls without a key
    assert r.targets("other-ns", key, 1.0) == list(EPS)  # no topology yet


def test_one_refresh_at_a_time_and_when_due() -> None:
    r = Router(EPS, routing=True, refresh_s=30)
    assert r.claim_refresh("ns", 0.0)
    assert not r.claim_refresh("ns", 0.5)  # claimed
    r.refreshed("ns", topology(), 1.0)
    assert not r.claim_refresh("ns", 2.0)  # fresh
    assert r.claim_refresh("ns", 31.0)  # due
    r.refreshed("ns", None, 31.5, retry_s=1.0)  # failed: keep the old one
    assert r.topology("ns") == topology()
    assert not r.claim_refresh("ns", 32.0)
    assert r.claim_refresh("ns", 32.6)
    # A claim whose owner vanished expires.
    assert not r.claim_refresh("ns", 40.0)
    assert r.claim_refresh("ns", 32.6 + 31)


def test_routed_callers_wait_for_the_first_topology_only() -> None:
    r = Router(EPS, routing=True, refresh_s=30)
    assert not r.first_fetch_pending("ns", 0.0)  # nobody fetching
    assert r.claim_refresh("ns", 0.0)
    assert r.first_fetch_pending("ns", 0.1)  # others wait for it
    r.refreshed("ns", None, 0.2, retry_s=1.0)  # failed: they go by the endpoints
    assert not r.first_fetch_pending("ns", 0.3)
    assert r.claim_refresh("ns", 1.5)
    r.refreshed("ns", topology(), 1.6)
    assert r.claim_refresh("ns", 40.0)  # a later refresh: nobody waits for it
    assert not r.first_fetch_pending("ns", 40.1)
    assert not Router(EPS, routing=False).first_fetch_pending("ns", 0.0)


def test_an_unreachable_node_goes_last_and_every_topology_is_refreshed() -> None:
    r = routed(avoid_s=5)
    key = next(k for k in (b"%d" % i for i in range(100)) if r.targets("ns", k, 1.0)[0] == NODES[0].url)
    r.unreachable(NODES[0].url, 1.0)
    assert r.targets("ns", key, 2.0)[-1] == NODES[0].url
    assert r.claim_refresh("ns", 2.0)
    r.refreshed("ns", topology(2), 2.0)
    assert r.targets("ns", key, 5.9)[-1] == NODES[0].url  # still avoided
    assert r.targets("ns", key, 6.1)[0] == NODES[0].url  # forgiven
    r.unreachable(NODES[0].url, 7.0)
    r.answered(NODES[0].url)  # it answered again
    assert r.targets("ns", key, 7.5)[0] == NODES[0].url


def test_read_your_writes_window() -> None:
    r = routed(ryw_s=5)
    key = b"k"
    first = r.targets("ns", key, 1.0)[0]
    other = next(n for n in NODES if n.url != first)
    r.wrote("ns", key, other.url, other.id, 1.0)
    assert r.targets("ns", key, 2.0)[0] == other.url
    assert r.targets("ns", key, 6.5)[0] == first  # the window passed
    r.wrote("ns", key, first, "not-in-the-topology", 7.0)
    assert r.targets("ns", key, 7.5)[0] == first


def test_a_forwarded_write_means_the_ring_moved() -> None:
    r = routed()
    key = b"k"
    first = next(n for n in NODES if n.url == r.targets("ns", key, 1.0)[0])
    r.wrote("ns", key, first.url, first.id, 1.0)
    assert not r.claim_refresh("ns", 1.5)  # it coordinated: nothing moved
    other = next(n for n in NODES if n.id != first.id)
    r.wrote("ns", key, first.url, other.id, 2.0)  # the first replica forwarded
    assert r.claim_refresh("ns", 2.5)


def test_read_your_writes_memory_is_bounded() -> None:
    r = routed(ryw_max=3)
    for i in range(10):
        r.wrote("ns", b"%d" % i, NODES[0].url, NODES[0].id, 1.0)
    assert len(r._written) == 3


def test_needs_an_endpoint() -> None:
    with pytest.raises(ValueError):
        Router((), routing=True)


def test_a_read_answered_unavailable_tries_the_next_node_and_a_write_does_not() -> None:
    from connectrpc.code import Code
    from connectrpc.errors import ConnectError

    from concord import ConcordError
    from concord._calls import Tries, get_call, put_call, settings

    s = settings(list(EPS), token=None, namespace="ns", timeout=None, connect_timeout=1.0, tls_ca_cert=None)
    r = Router(EPS, routing=False)
    read = Tries(r, get_call(s, b"k", None, None), 0.0)
    read.failed(EPS[0], ConnectError(Code.UNAVAILABLE, "read quorum not reached"), 0.0)  # goes on
    with pytest.raises(ConcordError):
        read.failed(EPS[1], ConnectError(Code.INVALID_ARGUMENT, "bad key"), 0.0)  # an answer is final
    write = Tries(r, put_call(s, b"k", b"v", context=None, w=None, dw=None, if_absent=False, if_context_current=False, namespace=None), 0.0)
    with pytest.raises(ConcordError):
        write.failed(EPS[0], ConnectError(Code.UNAVAILABLE, "write quorum not reached"), 0.0)
