"""Where a request goes: the configured endpoints, or with routing on the
key's preference list (the Dynamo paper's client-driven coordination).

Pure and deterministic: no IO and no clock. The clients pass ``now`` (a
monotonic time in seconds) and report what happened; the Router answers
with the URLs to try, in order. It is safe to share between threads.

With routing on, a key's request goes first to the node that coordinated a
recent write of that key (read-your-writes), then to the replicas in
preference-list order, then to the configured endpoints. A URL that did not
answer is tried last for ``avoid_s`` seconds, and every topology is
refreshed before the next request. A topology older than ``refresh_s`` is
refreshed too (GetTopology tells the ring epoch, which changes with every
membership change), and so is one whose first replica forwarded a write.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from ._placement import partition_of

if TYPE_CHECKING:
    from collections.abc import Sequence

    from ._gen.concord.kv.v1 import kv_pb2


@dataclass(frozen=True)
class Node:
    id: str
    url: str
    zone: str = ""


@dataclass(frozen=True)
class Topology:
    """A namespace's placement, as GetTopology returned it."""

    epoch: int
    placement_name: str
    partitions: int
    n: int
    nodes: tuple[Node, ...]
    #: One per partition: indices into nodes, in preference order.
    lists: tuple[tuple[int, ...], ...]

    @classmethod
    def of(cls, res: kv_pb2.GetTopologyResponse, scheme: str) -> Topology:
        """The topology of an answer; node URLs take the configured endpoints' scheme.

        Raises ValueError for an answer that does not hold together.
        """
        nodes = tuple(Node(id=n.id, url=f"{scheme}://{n.api_addr}", zone=n.zone) for n in res.nodes)
        lists = tuple(tuple(pl.nodes) for pl in res.preference_lists)
        if len(lists) != res.partitions or any(i >= len(nodes) for pl in lists for i in pl):
            raise ValueError("concord: GetTopology answered an inconsistent topology")
        partition_of(res.placement_name, b"", res.partitions)  # a power of two, or ValueError
        return cls(res.ring_epoch, res.placement_name, res.partitions, res.n, nodes, lists)

    def replicas(self, key: bytes) -> tuple[Node, ...]:
        """The key's preference list."""
        p = partition_of(self.placement_name, key, self.partitions)
        return tuple(self.nodes[i] for i in self.lists[p])

    def node(self, node_id: str) -> Node | None:
        return next((n for n in self.nodes if n.id == node_id), None)


@dataclass
class _Entry:
    topology: Topology | None = None
    fetched: float = 0.0
    stale: bool = True
    # A refresh in flight (claimed by one caller) until this time.
    claimed_until: float = 0.0
    # After a failed refresh, no other before this time.
    retry_at: float = 0.0


def scheme_of(endpoints: Sequence[str]) -> str:
    return urlsplit(endpoints[0]).scheme or "http"


# How long a routed call waits for another caller's fetch of the first
# topology of its namespace before it goes by the endpoints.
FIRST_TOPOLOGY_WAIT_S = 2.0
# How often it looks.
FIRST_TOPOLOGY_POLL_S = 0.002


class Router:
    """Chooses the URLs of each request and keeps the topologies."""

    def __init__(
        self,
        endpoints: Sequence[str],
        *,
        routing: bool,
        refresh_s: float = 30.0,
        avoid_s: float = 5.0,
        ryw_s: float = 5.0,
        ryw_max: int = 4096,
    ) -> None:
        if not endpoints:
            raise ValueError("concord: at least one endpoint")
        self.endpoints = tuple(endpoints)
        self.routing = routing
        self.scheme = scheme_of(endpoints)
        self._refresh_s = refresh_s
        self._avoid_s = avoid_s
        self._ryw_s = ryw_s
        self._ryw_max = ryw_max
        self._lock = threading.Lock()
        self._entries: dict[str, _Entry] = {}
        self._avoid: dict[str, float] = {}  # URL -> until
        self._first = 0  # the endpoint that answered last
        self._written: OrderedDict[tuple[str, bytes], tuple[str, float]] = OrderedDict()

    # -- topologies ---------------------------------------------------------

    def topology(self, namespace: str) -> Topology | None:
        with self._lock:
            e = self._entries.get(namespace)
            return e.topology if e else None

    def claim_refresh(self, namespace: str, now: float, *, timeout_s: float = 30.0) -> bool:
        """Whether the caller should fetch the namespace's topology now.

        True for one caller at a time (until it reports with ``refreshed`` or
        ``timeout_s`` passes): others keep routing by what they have.
        """
        if not self.routing:
            return False
        with self._lock:
            e = self._entries.setdefault(namespace, _Entry())
            due = e.stale or now - e.fetched >= self._refresh_s
            if not due or now < e.claimed_until or now < e.retry_at:
                return False
            e.claimed_until = now + timeout_s
            return True

    def first_fetch_pending(self, namespace: str, now: float) -> bool:
        """Whether another caller is fetching the namespace's first topology.

        Routed callers wait for it (up to ``FIRST_TOPOLOGY_WAIT_S``) rather
        than send by the endpoints: a node the endpoints pick may be another
        replica than the first of the key's list, and two nodes coordinating
        conditional writes of one key at once can both apply them (siblings).
        """
        if not self.routing:
            return False
        with self._lock:
            e = self._entries.get(namespace)
            return e is not None and e.topology is None and now < e.claimed_until

    def refreshed(self, namespace: str, topology: Topology | None, now: float, *, retry_s: float = 1.0) -> None:
        """Reports a fetch: the topology, or None when it failed (then the
        namespace is routed by the old one, or the endpoints, for ``retry_s``)."""
        with self._lock:
            e = self._entries.setdefault(namespace, _Entry())
            e.claimed_until = 0.0
            if topology is None:
                e.retry_at = now + retry_s
                return
            e.topology, e.fetched, e.stale, e.retry_at = topology, now, False, 0.0

    # -- choosing targets ---------------------------------------------------

    def targets(self, namespace: str, key: bytes | None, now: float) -> list[str]:
        """The URLs to try for a request, in order, each once.

        Without a key (listing, GetTopology) or routing, the endpoints,
        starting with the one that answered last.
        """
        with self._lock:
            urls: list[str] = []
            e = self._entries.get(namespace)
            if self.routing and key is not None and e is not None and e.topology is not None:
                t = e.topology
                w = self._written.get((namespace, key))
                if w is not None and w[1] > now and (n := t.node(w[0])) is not None:
                    urls.append(n.url)
                urls.extend(n.url for n in t.replicas(key))
            k = len(self.endpoints)
            urls.extend(self.endpoints[(self._first + i) % k] for i in range(k))
            urls = list(dict.fromkeys(urls))
            # Ones that failed lately go last, in their order.
            ok = [u for u in urls if self._avoid.get(u, 0.0) <= now]
            return ok + [u for u in urls if u not in ok]

    # -- what happened ------------------------------------------------------

    def answered(self, url: str) -> None:
        """A node answered (with success or an error of its own)."""
        with self._lock:
            self._avoid.pop(url, None)
            if url in self.endpoints:
                self._first = self.endpoints.index(url)

    def unreachable(self, url: str, now: float) -> None:
        """A node did not answer: try it last for a while and refresh every
        topology (a node failed, or the ring changed)."""
        with self._lock:
            self._avoid[url] = now + self._avoid_s
            for e in self._entries.values():
                e.stale = True

    def wrote(self, namespace: str, key: bytes, url: str, coordinator: str, now: float) -> None:
        """A write of key sent to url was coordinated by coordinator (a node
        ID): reads of the key go there for a while (read-your-writes). When
        url was a replica of the key and still another node coordinated, the
        ring moved: the topology is refreshed."""
        if not self.routing or not coordinator:
            return
        with self._lock:
            self._written[(namespace, key)] = (coordinator, now + self._ryw_s)
            self._written.move_to_end((namespace, key))
            while len(self._written) > self._ryw_max:
                self._written.popitem(last=False)
            e = self._entries.get(namespace)
            if e is None or e.topology is None:
                return
            sent = next((n for n in e.topology.replicas(key) if n.url == url), None)
            if sent is not None and sent.id != coordinator:
                e.stale = True
