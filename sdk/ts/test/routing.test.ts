// Partition-aware routing against a real cluster: with routing on, no node
// forwards a write or serves a read of a key it holds no replica of.

import assert from "node:assert/strict";
import { after, before, test } from "node:test";

import type { Interceptor } from "@connectrpc/connect";

import type { GetTopologyResponse } from "../src/gen/concord/kv/v1/kv_pb.js";
import { createClient, type ClientOptions } from "../src/index.js";
import { clusterMetric, createNamespace, startCluster, type Cluster } from "./harness.js";

let cluster: Cluster;

const FORWARDED = "concord_forwarded_writes_total";
const REMOTE = "concord_remote_reads_total";
// One replica per key: every request that reaches another node than the
// key's is forwarded (a write) or served remotely (a read), and counted.
const NS = "one";

before(async () => {
  cluster = await startCluster(3);
  await createNamespace(cluster, { name: NS, settings: { n: 1, r: 1, w: 1 } });
});

after(async () => {
  await cluster?.stop();
});

/** An interceptor that records the host and method of every call. */
function recorder() {
  const calls: { host: string; method: string }[] = [];
  const interceptor: Interceptor = (next) => (req) => {
    calls.push({ host: new URL(req.url).host, method: req.method.name });
    return next(req);
  };
  return { calls, interceptor };
}

/** Puts and gets count keys, checking every value; returns the counters' increase. */
async function batch(o: Partial<ClientOptions>, prefix: string, count = 40) {
  const kv = createClient({ endpoints: cluster.endpoints[0]!, token: cluster.token, namespace: NS, ...o });
  const before = [await clusterMetric(cluster, FORWARDED), await clusterMetric(cluster, REMOTE)];
  for (let i = 0; i < count; i++) await kv.put(`${prefix}/${i}`, `v${i}`);
  for (let i = 0; i < count; i++) assert.equal((await kv.get(`${prefix}/${i}`)).value?.text(), `v${i}`);
  return {
    kv,
    forwarded: (await clusterMetric(cluster, FORWARDED)) - before[0]!,
    remote: (await clusterMetric(cluster, REMOTE)) - before[1]!,
  };
}

const hostOf = (url: string) => new URL(url).host;

test("without routing, requests to one node are forwarded (the counters can move)", async () => {
  const { forwarded, remote } = await batch({}, "plain");
  assert.ok(forwarded > 0, `forwarded writes ${forwarded}`);
  assert.ok(remote > 0, `remote reads ${remote}`);
});

test("with routing, every put and get goes to the key's replica: no forwarded write, no remote read", async () => {
  const rec = recorder();
  const { forwarded, remote } = await batch({ routing: true, interceptors: [rec.interceptor] }, "routed");
  assert.equal(forwarded, 0);
  assert.equal(remote, 0);
  const hosts = new Set(rec.calls.filter((c) => c.method !== "GetTopology").map((c) => c.host));
  assert.equal(hosts.size, 3, `the keys' replicas are spread over the nodes, the calls went to ${[...hosts].join(", ")}`);
  assert.equal(rec.calls.filter((c) => c.method === "GetTopology").length, 1, "one topology fetch");
});

test("read-your-writes: a get right after a put goes to the put's coordinator", async () => {
  const rec = recorder();
  const kv = createClient({ endpoints: cluster.endpoints, token: cluster.token, routing: true, interceptors: [rec.interceptor] });
  const topology = await kv.topology();
  for (let i = 0; i < 10; i++) {
    const w = await kv.put(`ryw/${i}`, "x");
    rec.calls.length = 0;
    assert.equal((await kv.get(`ryw/${i}`)).value?.text(), "x");
    const node = topology.nodes.find((n) => n.id === w.coordinator);
    assert.ok(node !== undefined, `coordinator ${w.coordinator} is in the topology`);
    assert.equal(rec.calls[0]?.host, node.apiAddr);
  }
});

test("a stale topology naming a dead node: calls fall back to the endpoints and the topology is fetched again", async () => {
  const rec = recorder();
  let fetched = 0;
  let dead = "";
  // The first topology the client sees has one node's address replaced by a
  // port nothing listens on.
  const stale: Interceptor = (next) => async (req) => {
    const res = await next(req);
    if (req.method.name === "GetTopology" && !res.stream && fetched++ === 0) {
      const msg = res.message as GetTopologyResponse;
      dead = msg.nodes[0]!.apiAddr;
      msg.nodes[0]!.apiAddr = "127.0.0.1:1";
    }
    return res;
  };
  const { kv } = await batch({ routing: true, interceptors: [stale, rec.interceptor] }, "stale", 30);
  assert.ok(fetched >= 2, `the topology was fetched ${fetched} times`);
  assert.ok(rec.calls.some((c) => c.host === "127.0.0.1:1"), "the stale address was tried");
  // Now the client has the real topology: a second round reaches every
  // replica directly, the once-dead node included.
  rec.calls.length = 0;
  const f0 = await clusterMetric(cluster, FORWARDED);
  const r0 = await clusterMetric(cluster, REMOTE);
  for (let i = 0; i < 30; i++) {
    await kv.put(`stale/${i}`, `w${i}`, { context: await kv.get(`stale/${i}`) });
  }
  assert.ok(!rec.calls.some((c) => c.host === "127.0.0.1:1"), "the dead address is gone");
  assert.ok(rec.calls.some((c) => c.host === dead), `the node at ${dead} is used again`);
  assert.equal((await clusterMetric(cluster, FORWARDED)) - f0, 0);
  assert.equal((await clusterMetric(cluster, REMOTE)) - r0, 0);
});

// Last: it changes the ring.
test("a ring change (a node leaves, a new epoch) is picked up", async () => {
  const rec = recorder();
  const kv = createClient({
    endpoints: cluster.endpoints[0]!,
    token: cluster.token,
    namespace: NS,
    routing: { refreshMs: 200 },
    interceptors: [rec.interceptor],
  });
  const before = await kv.topology();
  const leaving = hostOf(cluster.endpoints[2]!);
  const node = before.nodes.find((n) => n.apiAddr === leaving);
  assert.ok(node !== undefined);
  await cluster.admin.stageLeave({ node: node.id });
  await cluster.admin.commitChanges({});
  // Wait (bounded) for the partitions to move.
  const signal = AbortSignal.timeout(60_000);
  for await (const m of cluster.admin.watchHandoff({ follow: false }, { signal })) {
    if (m.complete) break;
  }
  await new Promise((r) => setTimeout(r, 300)); // past refreshMs
  rec.calls.length = 0;
  const f0 = await clusterMetric(cluster, FORWARDED);
  const r0 = await clusterMetric(cluster, REMOTE);
  for (let i = 0; i < 30; i++) await kv.put(`ring/${i}`, "x");
  for (let i = 0; i < 30; i++) assert.equal((await kv.get(`ring/${i}`)).value?.text(), "x");
  const afterTopology = await kv.topology();
  assert.ok(afterTopology.epoch > before.epoch, `epoch ${before.epoch} -> ${afterTopology.epoch}`);
  assert.ok(!afterTopology.nodes.some((n) => n.id === node.id), "the node left the topology");
  assert.ok(!rec.calls.some((c) => c.host === leaving && c.method !== "GetTopology"), "no call went to the node that left");
  assert.equal((await clusterMetric(cluster, FORWARDED)) - f0, 0);
  assert.equal((await clusterMetric(cluster, REMOTE)) - r0, 0);
  // Keys written before the change are still there.
  assert.equal((await kv.get("routed/7")).value?.text(), "v7");
});
