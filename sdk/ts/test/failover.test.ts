// Failover between endpoints against in-memory Connect servers: a node
// that did not answer is skipped, an answer is final, and a listing
// resumes after its last page.

import assert from "node:assert/strict";
import { test } from "node:test";

import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, createRouterTransport, type ServiceImpl, type Transport } from "@connectrpc/connect";

import { Client } from "../src/client.js";
import { KVService, PutResponseSchema, QuorumFailureSchema } from "../src/gen/concord/kv/v1/kv_pb.js";
import { ConcordError, createClient, QuorumError } from "../src/index.js";

const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array) => new TextDecoder().decode(b);

/** A client of in-memory nodes: base URL -> the node's KV service (partial). */
function clientOf(nodes: Record<string, Partial<ServiceImpl<typeof KVService>>>): Client {
  const transports = new Map<string, Transport>();
  for (const [base, impl] of Object.entries(nodes)) {
    transports.set(base, createRouterTransport(({ service }) => service(KVService, impl)));
  }
  return new Client({ endpoints: Object.keys(nodes), timeoutMs: 5000 }, (base) => {
    const t = transports.get(base);
    if (t === undefined) throw new Error(`no node at ${base}`);
    return t;
  });
}

const down = () => {
  throw new ConnectError("connection refused", Code.Unavailable);
};

test("a node that does not answer is skipped, and the next call starts at the one that did", async () => {
  const calls: string[] = [];
  const put = (name: string) => () => {
    calls.push(name);
    return create(PutResponseSchema, { context: enc("ctx"), coordinator: name });
  };
  const c = clientOf({
    "http://a": { put: () => (calls.push("a"), down()) },
    "http://b": { put: put("b") },
    "http://c": { put: put("c") },
  });
  assert.equal((await c.put("k", "v")).coordinator, "b");
  assert.equal((await c.put("k", "v")).coordinator, "b");
  assert.deepEqual(calls, ["a", "b", "b"]);
});

test("an answer is final: a quorum failure is not sent to another node", async () => {
  let asked = 0;
  const c = clientOf({
    "http://a": {
      put: () => {
        throw new ConnectError("too few", Code.Unavailable, undefined, [
          { desc: QuorumFailureSchema, value: create(QuorumFailureSchema, { acks: 1, required: 2 }) },
        ]);
      },
    },
    "http://b": { put: () => (asked++, create(PutResponseSchema)) },
  });
  const err = await c.put("k", "v").catch((e: unknown) => e);
  assert.ok(err instanceof QuorumError, String(err));
  assert.deepEqual([err.acks, err.required], [1, 2]);
  assert.equal(asked, 0);
});

test("when every node is down the last error is thrown", async () => {
  const c = clientOf({ "http://a": { get: down }, "http://b": { get: down } });
  await assert.rejects(c.get("k"), (e: unknown) => e instanceof ConcordError && e.code === "unavailable");
});

test("a listing resumes after its last page at the next node, with the rest of its limit", async () => {
  const seen: { token: string; limit: number }[] = [];
  const c = clientOf({
    "http://a": {
      async *listKeys(req) {
        seen.push({ token: dec(req.pageToken), limit: req.limit });
        yield { keys: [enc("k1"), enc("k2")], nextPageToken: enc("after-k2") };
        down();
      },
    },
    "http://b": {
      async *listKeys(req) {
        seen.push({ token: dec(req.pageToken), limit: req.limit });
        yield { keys: [enc("k3")], nextPageToken: new Uint8Array(0) };
      },
    },
  });
  const keys: string[] = [];
  for await (const k of c.listKeys("k", { limit: 5 })) keys.push(dec(k));
  assert.deepEqual(keys, ["k1", "k2", "k3"]);
  assert.deepEqual(seen, [
    { token: "", limit: 5 },
    { token: "after-k2", limit: 3 },
  ]);
});

test("a listing that broke after its final page is not started over", async () => {
  let second = 0;
  const c = clientOf({
    "http://a": {
      async *listKeys() {
        yield { keys: [enc("k1")], nextPageToken: new Uint8Array(0) };
        down();
      },
    },
    "http://b": {
      async *listKeys() {
        second++;
        yield { keys: [enc("k1")] };
      },
    },
  });
  const keys: string[] = [];
  const listing = (async () => {
    for await (const k of c.listKeys()) keys.push(dec(k));
  })();
  await assert.rejects(listing, (e: unknown) => e instanceof ConcordError && e.code === "unavailable");
  assert.deepEqual(keys, ["k1"]);
  assert.equal(second, 0);
});

test("a ready transport gets the credential with every call; its own options stay its own", async () => {
  const seen: (string | null)[] = [];
  const transport = createRouterTransport(({ service }) =>
    service(KVService, {
      get: (_req, ctx) => {
        seen.push(ctx.requestHeader.get("authorization"));
        return { found: false };
      },
    }),
  );
  const kv = createClient({ transport, token: "cct_x_y" });
  assert.equal((await kv.get("k")).found, false);
  assert.deepEqual(seen, ["Bearer cct_x_y"]);
  assert.throws(() => createClient({ transport, routing: true }), TypeError);
  assert.throws(() => createClient({ transport, json: true }), TypeError);
  assert.throws(() => createClient({ transport, endpoints: "http://a" }), TypeError);
});
