"""update: read, apply, write with the context, retry on conflict."""

from __future__ import annotations

import asyncio
import threading

import pytest

import concord
from cluster import Cluster

WRITERS, INCREMENTS = 8, 10


def increment(obj: concord.Object) -> str:
    return str(int(obj.text() or 0) + 1)


@pytest.mark.parametrize("routing", [False, True], ids=["endpoints", "routing"])
def test_concurrent_threads_lose_no_increment(cluster: Cluster, key: str, routing: bool) -> None:
    errors: list[BaseException] = []
    with concord.Client(cluster.endpoints, token=cluster.token, routing=routing) as c:
        def writer() -> None:
            try:
                for _ in range(INCREMENTS):
                    c.update(key, increment, max_attempts=64)
            except BaseException as e:  # noqa: BLE001 (reported below)
                errors.append(e)

        threads = [threading.Thread(target=writer) for _ in range(WRITERS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
        assert not any(t.is_alive() for t in threads), "a writer hung"
        assert errors == []
        obj = c.get(key, r=3)
        assert obj.values == [str(WRITERS * INCREMENTS).encode()]


def test_concurrent_tasks_lose_no_increment(cluster: Cluster, key: str) -> None:
    async def main() -> concord.Object:
        async with concord.AsyncClient(cluster.endpoints, token=cluster.token) as c:
            async def writer() -> None:
                for _ in range(INCREMENTS):
                    await c.update(key, increment, max_attempts=64)

            await asyncio.wait_for(asyncio.gather(*(writer() for _ in range(WRITERS))), timeout=120)
            return await c.get(key, r=3)

    assert asyncio.run(main()).values == [str(WRITERS * INCREMENTS).encode()]


def test_async_update_takes_a_coroutine_function(cluster: Cluster, key: str) -> None:
    async def main() -> bytes | None:
        async with concord.AsyncClient(cluster.endpoints, token=cluster.token) as c:
            async def fn(obj: concord.Object) -> str:
                await asyncio.sleep(0)
                return (obj.text() or "") + "x"

            await c.update(key, fn)
            await c.update(key, fn)
            return (await c.get(key)).value

    assert asyncio.run(main()) == b"xx"


def test_update_gives_up_after_max_attempts(client: concord.Client, key: str) -> None:
    # fn changes the key behind update's back on every try, so every write
    # of update conflicts.
    calls = 0

    def meddle(obj: concord.Object) -> str:
        nonlocal calls
        calls += 1
        client.put(key, f"meddled {calls}", context=obj)
        return "mine"

    with pytest.raises(concord.ConflictError):
        client.update(key, meddle, max_attempts=3)
    assert calls == 3
    assert client.get(key).values == [b"meddled 3"]


def test_update_leaves_merging_siblings_to_fn(client: concord.Client, key: str) -> None:
    client.put(key, "a")
    client.put(key, "b")
    with pytest.raises(concord.SiblingsError):
        client.update(key, increment)
    client.update(key, lambda obj: b"+".join(sorted(obj.values)))
    assert client.get(key).values == [b"a+b"]


def test_update_rejects_bad_max_attempts(client: concord.Client, key: str) -> None:
    with pytest.raises(ValueError):
        client.update(key, increment, max_attempts=0)
