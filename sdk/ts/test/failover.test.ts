// Failover between endpoints against in-memory Connect servers: a node
// that did not answer is skipped, an answer is final, and a listing
// resumes after its last page. Then over real HTTP (the Node transport):
// a write goes to the next endpoint only when it provably did not land.

import assert from "node:assert/strict";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { after, test } from "node:test";

import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, createRouterTransport, type ServiceImpl, type Transport } from "@connectrpc/connect";
import { connectNodeAdapter } from "@connectrpc/connect-node";

import { Client } from "../src/client.js";
import { GetResponseSchema, KVService, PutResponseSchema, QuorumFailureSchema } from "../src/gen/concord/kv/v1/kv_pb.js";
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

// --- Over real HTTP --------------------------------------------------------

interface HttpNode {
  url: string;
  /** Requests that reached this server. */
  hits: number;
}

const servers: ReturnType<typeof createServer>[] = [];
after(async () => {
  for (const srv of servers) {
    srv.closeAllConnections();
    await new Promise((resolve) => srv.close(resolve));
  }
});

/** An HTTP server on a free loopback port, counting the requests it gets. */
async function serve(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<HttpNode> {
  const node: HttpNode = { url: "", hits: 0 };
  const srv = createServer((req, res) => {
    node.hits++;
    handler(req, res);
  });
  servers.push(srv);
  await new Promise<void>((resolve) => srv.listen(0, "127.0.0.1", resolve));
  node.url = `http://127.0.0.1:${(srv.address() as AddressInfo).port}`;
  return node;
}

/** A node answering like concord: put and get succeed, or throw what `fail` gives. */
const concordNode = (fail?: () => never) =>
  serve(
    connectNodeAdapter({
      routes: ({ service }) =>
        service(KVService, {
          put: () => (fail?.(), create(PutResponseSchema, { context: enc("ctx"), coordinator: "node" })),
          get: () => (fail?.(), create(GetResponseSchema, { found: false })),
        }),
    }),
  );

/** A proxy in front of a node that timed out: 504 with an HTML page, no Connect error body. */
const gatewayTimeout = () =>
  serve((req, res) => {
    req.resume();
    res.writeHead(504, { "content-type": "text/html" });
    res.end("<html><body><h1>504 Gateway Time-out</h1></body></html>");
  });

/** A server that takes the request and drops the connection without answering. */
const dropsConnection = () =>
  serve((req) => {
    req.on("end", () => req.socket.destroy());
    req.resume();
  });

/** A loopback URL whose port nothing listens on. */
async function closedPort(): Promise<string> {
  const srv = createServer();
  await new Promise<void>((resolve) => srv.listen(0, "127.0.0.1", resolve));
  const { port } = srv.address() as AddressInfo;
  await new Promise((resolve) => srv.close(resolve));
  return `http://127.0.0.1:${port}`;
}

const httpClient = (...endpoints: string[]) => createClient({ endpoints, timeoutMs: 5000 });

test("a proxy's 504 (text/html) on a put is not sent to the next endpoint; on a get it is", async () => {
  const proxy = await gatewayTimeout();
  const next = await concordNode();
  const err = await httpClient(proxy.url, next.url)
    .put("k", "v")
    .catch((e: unknown) => e);
  assert.ok(err instanceof ConcordError && err.code === "unavailable", String(err));
  assert.deepEqual([proxy.hits, next.hits], [1, 0], "the put may have reached a node behind the proxy");

  const obj = await httpClient(proxy.url, next.url).get("k");
  assert.equal(obj.found, false);
  assert.deepEqual([proxy.hits, next.hits], [2, 1]);
});

test("a refused connection (a closed port) on a put goes to the next endpoint", async () => {
  const next = await concordNode();
  const w = await httpClient(await closedPort(), next.url).put("k", "v");
  assert.equal(w.coordinator, "node");
  assert.equal(next.hits, 1);
});

test("a connection dropped after the request was sent: a put is not resent, a get is", async () => {
  const drops = await dropsConnection();
  const next = await concordNode();
  await assert.rejects(httpClient(drops.url, next.url).put("k", "v"), (e: unknown) => e instanceof ConcordError);
  assert.deepEqual([drops.hits, next.hits], [1, 0]);
  assert.equal((await httpClient(drops.url, next.url).get("k")).found, false);
  assert.deepEqual([drops.hits, next.hits], [2, 1]);
});

test("a concord node's unavailable without a QuorumFailure on a put goes to the next endpoint", async () => {
  const refuses = await concordNode(() => {
    throw new ConnectError("the node cannot serve this request right now; retry, or use another node", Code.Unavailable);
  });
  const next = await concordNode();
  const w = await httpClient(refuses.url, next.url).put("k", "v");
  assert.equal(w.coordinator, "node");
  assert.deepEqual([refuses.hits, next.hits], [1, 1]);
});

test("a concord node's unavailable with a QuorumFailure on a put is final; on a get it is not", async () => {
  const quorum = await concordNode(() => {
    throw new ConnectError("too few", Code.Unavailable, undefined, [
      { desc: QuorumFailureSchema, value: create(QuorumFailureSchema, { acks: 1, required: 2 }) },
    ]);
  });
  const next = await concordNode();
  const err = await httpClient(quorum.url, next.url)
    .put("k", "v")
    .catch((e: unknown) => e);
  assert.ok(err instanceof QuorumError, String(err));
  assert.deepEqual([quorum.hits, next.hits], [1, 0]);
  assert.equal((await httpClient(quorum.url, next.url).get("k")).found, false);
  assert.deepEqual([quorum.hits, next.hits], [2, 1]);
});
