// The routing state machine with a fake topology source and clock.

import assert from "node:assert/strict";
import { test } from "node:test";

import { partitionOf } from "../src/placement.js";
import { baseUrlOf, preferenceList, Router, type Topology } from "../src/routing.js";

const nodes = [
  { id: "a", apiAddr: "127.0.0.1:7700", zone: "" },
  { id: "b", apiAddr: "127.0.0.1:7701", zone: "" },
  { id: "c", apiAddr: "127.0.0.1:7702", zone: "" },
];

function topology(epoch: number, partitions = 8): Topology {
  return {
    epoch,
    placementName: "ns",
    partitions,
    n: 2,
    nodes,
    preferenceLists: Array.from({ length: partitions }, (_, p) => [p % 3, (p + 1) % 3]),
  };
}

/** A Router over a scripted list of topologies (or errors), with a hand-moved clock. */
function harness(script: (Topology | Error)[], opts = {}) {
  let now = 1_000_000;
  let fetches = 0;
  const router = new Router(
    async () => {
      const next = script[Math.min(fetches++, script.length - 1)]!;
      if (next instanceof Error) throw next;
      return next;
    },
    "http:",
    { refreshMs: 1000, readYourWritesMs: 500, downMs: 2000, ...opts },
    () => now,
  );
  return {
    router,
    fetches: () => fetches,
    advance: (ms: number) => {
      now += ms;
    },
  };
}

const key = new TextEncoder().encode("some key");
const primaryOf = (t: Topology) => nodes[t.preferenceLists[partitionOf("ns", key, t.partitions)]![0]!]!;

test("preferenceList follows the key's partition", () => {
  const t = topology(1);
  const p = partitionOf("ns", key, 8);
  assert.deepEqual(
    preferenceList(t, key).map((n) => n.id),
    [nodes[p % 3]!.id, nodes[(p + 1) % 3]!.id],
  );
  assert.deepEqual(preferenceList({ ...t, preferenceLists: [] }, key), [], "unusable topology");
});

test("baseUrlOf dials only addresses a client can reach", () => {
  assert.equal(baseUrlOf("http:", "127.0.0.1:7700"), "http://127.0.0.1:7700");
  assert.equal(baseUrlOf("https:", "[::1]:7700"), "https://[::1]:7700");
  for (const bad of ["", "0.0.0.0:7700", "[::]:7700", ":7700", "host"]) assert.equal(baseUrlOf("http:", bad), undefined, bad);
});

test("the first node of the preference list is the target; a failed one is skipped for downMs", async () => {
  const t = topology(5);
  const h = harness([t]);
  const first = `http://${primaryOf(t).apiAddr}`;
  assert.equal(await h.router.target("ns", key, false), first);
  h.router.nodeFailed("ns", first);
  const second = await h.router.target("ns", key, false);
  assert.notEqual(second, first);
  assert.equal(h.fetches(), 2, "a failure fetches the topology again");
  h.advance(2001);
  assert.equal(await h.router.target("ns", key, false), first, "back after downMs");
});

test("the topology is fetched again after refreshMs; an older epoch does not replace a newer one", async () => {
  const h = harness([topology(5), topology(4), topology(7, 16)]);
  assert.equal((await h.router.topology("ns"))?.epoch, 5);
  assert.equal((await h.router.topology("ns"))?.epoch, 5);
  assert.equal(h.fetches(), 1, "cached within refreshMs");
  h.advance(1000);
  assert.equal((await h.router.topology("ns"))?.epoch, 5, "a lagging node's older epoch is ignored");
  h.advance(1000);
  const t = await h.router.topology("ns");
  assert.deepEqual([t?.epoch, t?.partitions], [7, 16], "a newer epoch replaces it");
  assert.equal(h.fetches(), 3);
});

test("concurrent calls share one fetch; a failed fetch backs off and keeps the last topology", async () => {
  const h = harness([topology(1), new Error("down"), topology(2)]);
  const all = await Promise.all(Array.from({ length: 10 }, () => h.router.topology("ns")));
  assert.ok(all.every((t) => t?.epoch === 1));
  assert.equal(h.fetches(), 1);
  h.advance(1000);
  assert.equal((await h.router.topology("ns"))?.epoch, 1, "the fetch failed: the last one is kept");
  assert.equal((await h.router.topology("ns"))?.epoch, 1);
  assert.equal(h.fetches(), 2, "no new fetch while backing off");
  h.advance(1000);
  assert.equal((await h.router.topology("ns"))?.epoch, 2);
});

test("no topology at all: no target (the client uses its endpoints)", async () => {
  const h = harness([new Error("down")]);
  assert.equal(await h.router.target("ns", key, true), undefined);
});

test("read-your-writes: a read soon after a write goes to the write's coordinator", async () => {
  const t = topology(1);
  const h = harness([t]);
  const primary = primaryOf(t);
  const other = nodes.find((n) => n.id !== primary.id)!;
  h.router.wrote("ns", key, other.id);
  assert.equal(await h.router.target("ns", key, true), `http://${other.apiAddr}`, "the read");
  assert.equal(await h.router.target("ns", key, false), `http://${primary.apiAddr}`, "writes still go to the primary");
  h.advance(501);
  assert.equal(await h.router.target("ns", key, true), `http://${primary.apiAddr}`, "after the window");
  h.router.wrote("ns", key, "not-in-topology");
  assert.equal(await h.router.target("ns", key, true), `http://${primary.apiAddr}`, "an unknown coordinator is ignored");
});
