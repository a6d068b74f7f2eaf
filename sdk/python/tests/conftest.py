"""Fixtures: one `concord dev` cluster (3 nodes) for the whole session,
built from this repository, and clients of it."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

import concord
from cluster import Cluster, DevCluster, build


@pytest.fixture(scope="session")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    work = tmp_path_factory.mktemp("concord")
    dev = DevCluster(build(work), work)
    try:
        yield dev.cluster
    finally:
        dev.stop()


@pytest.fixture
def client(cluster: Cluster) -> Iterator[concord.Client]:
    with concord.Client(cluster.endpoints, token=cluster.token) as c:
        yield c


@pytest.fixture
def key() -> str:
    """A key no other test uses."""
    return f"py/{uuid.uuid4().hex}"
