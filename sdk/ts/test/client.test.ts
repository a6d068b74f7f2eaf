// The client against a real 3-node `concord dev` cluster.

import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { after, before, test } from "node:test";

import type { Interceptor } from "@connectrpc/connect";

import {
  AlreadyExistsError,
  ConcordError,
  ConflictError,
  Context,
  createClient,
  InvalidArgumentError,
  LimitError,
  NotFoundError,
  PermissionDeniedError,
  SiblingsError,
  UnauthenticatedError,
  type Client,
  type ClientOptions,
  type Sibling,
} from "../src/index.js";
import { createClient as createBrowserClient } from "../src/browser.js";
import { createNamespace, createToken, startCluster, type Cluster } from "./harness.js";

let cluster: Cluster;
let kv: Client;

const client = (o: Partial<ClientOptions> = {}) => createClient({ endpoints: cluster.endpoints[0]!, token: cluster.token, ...o });
const text = (b: Uint8Array) => new TextDecoder().decode(b);

before(async () => {
  cluster = await startCluster(3);
  kv = client();
  await createNamespace(cluster, { name: "small", settings: { n: 3, limits: { maxValueBytes: 1024, maxSiblings: 2 } } });
  await createNamespace(cluster, { name: "slow", settings: { n: 3, limits: { writesPerSecond: 1 } } });
  await createNamespace(cluster, { name: "union", settings: { n: 3 }, resolver: { builtin: "set-union", mode: "on_read" } });
  await createNamespace(cluster, { name: "listing", settings: { n: 3 } });
});

after(async () => {
  await cluster?.stop();
});

test("put, get and the context round trip", async () => {
  const w = await kv.put("rt/hello", "world");
  assert.ok(!w.context.empty);
  assert.notEqual(w.coordinator, "");
  const obj = await kv.get("rt/hello");
  assert.equal(obj.found, true);
  assert.equal(obj.value?.text(), "world");
  assert.equal(obj.siblings.length, 1);
  assert.ok(obj.siblings[0]!.writtenAt.getTime() > Date.now() - 60_000);
  assert.equal(obj.resolvedBy, "");
  assert.ok(obj.replies >= 1);
  // The string form goes through JSON (a browser form, a URL) and back.
  const carried = Context.parse(JSON.parse(JSON.stringify({ c: obj.context })).c as string);
  await kv.put("rt/hello", "again", { context: carried });
  const next = await kv.get("rt/hello");
  assert.deepEqual(next.values().map(text), ["again"], "the write replaced what the read saw: no sibling");
  // A put's result carries a context too.
  const w2 = await kv.put("rt/hello", "third", { context: next, returnSiblings: true });
  assert.deepEqual(w2.siblings?.map((s) => s.text()), ["third"]);
  await kv.put("rt/hello", "fourth", { context: w2 });
  assert.equal((await kv.get("rt/hello")).value?.text(), "fourth");
});

test("a missing key is an object with found false and a context, not an error", async () => {
  const obj = await kv.get("rt/never-written");
  assert.equal(obj.found, false);
  assert.equal(obj.value, undefined);
  assert.deepEqual(obj.siblings, []);
  assert.ok(!obj.context.empty);
});

test("concurrent blind writes are siblings; value throws, resolve merges, the write back replaces them", async () => {
  await kv.put("sib/k", "a");
  await kv.put("sib/k", "b");
  const obj = await kv.get("sib/k");
  assert.equal(obj.siblings.length, 2);
  assert.throws(
    () => obj.value,
    (e: unknown) => e instanceof SiblingsError && e instanceof ConcordError && e.siblings.length === 2,
  );
  const merged = obj.resolve((s: readonly Sibling[]) => s.map((x) => x.text()).sort().join(","));
  assert.equal(merged?.text(), "a,b");
  await kv.put("sib/k", merged!.bytes, { context: obj });
  assert.equal((await kv.get("sib/k")).value?.text(), "a,b");
  // The client-wide policy: a merge instead of the error.
  await kv.put("sib/k", "c");
  const lenient = client({ merge: (s) => String(s.length) });
  assert.equal((await lenient.get("sib/k")).value?.text(), "2");
});

test("a namespace resolver merges on the server: resolvedBy names it", async () => {
  await kv.put("u", JSON.stringify(["x"]), { namespace: "union" });
  await kv.put("u", JSON.stringify(["y"]), { namespace: "union" });
  const obj = await kv.get("u", { namespace: "union" });
  assert.equal(obj.siblings.length, 1);
  assert.equal(obj.resolvedBy, "set-union");
  assert.deepEqual(obj.value?.json(), ["x", "y"]);
});

test("delete: with a context, without one (refused), forced", async () => {
  await kv.put("del/a", "1");
  const obj = await kv.get("del/a");
  const d = await kv.delete("del/a", { context: obj });
  assert.ok(!d.context.empty);
  assert.equal((await kv.get("del/a")).found, false);
  await kv.put("del/b", "1");
  await assert.rejects(kv.delete("del/b"), InvalidArgumentError);
  await kv.delete("del/b", { force: true });
  assert.equal((await kv.get("del/b")).found, false);
});

test("overwrite: replaces the siblings a blind put leaves; refused with a context", async () => {
  await kv.put("over/k", "a");
  await kv.put("over/k", "b");
  assert.equal((await kv.get("over/k")).siblings.length, 2);
  await kv.put("over/k", "c", { overwrite: true });
  const obj = await kv.get("over/k");
  assert.deepEqual(obj.siblings.map((s) => s.text()), ["c"]);
  await assert.rejects(kv.put("over/k", "d", { overwrite: true, context: obj }), InvalidArgumentError);
});

test("conditional writes: ifAbsent and ifContextCurrent carry the current object", async () => {
  await kv.put("cond/a", "first", { ifAbsent: true });
  const err = await kv.put("cond/a", "second", { ifAbsent: true }).catch((e: unknown) => e);
  assert.ok(err instanceof AlreadyExistsError, String(err));
  assert.equal(err.code, "already_exists");
  assert.equal(err.current?.value?.text(), "first");

  const stale = await kv.get("cond/a");
  await kv.put("cond/a", "other", { context: stale });
  const conflict = await kv.put("cond/a", "mine", { context: stale, ifContextCurrent: true }).catch((e: unknown) => e);
  assert.ok(conflict instanceof ConflictError, String(conflict));
  assert.equal(conflict.code, "failed_precondition");
  assert.equal(conflict.current.value?.text(), "other");
  // Merge with the current object and write again, no read needed.
  await kv.put("cond/a", "mine", { context: conflict.current, ifContextCurrent: true });
  assert.equal((await kv.get("cond/a")).value?.text(), "mine");
});

test("typed errors: limits", async () => {
  const big = await kv.put("lim/v", new Uint8Array(2000), { namespace: "small" }).catch((e: unknown) => e);
  assert.ok(big instanceof LimitError, String(big));
  assert.deepEqual([big.code, big.limit, big.max, big.actual], ["invalid_argument", "max_value_bytes", 1024, 2000]);
  assert.ok(big instanceof InvalidArgumentError, "a size limit is an invalid argument too");

  await kv.put("lim/s", "1", { namespace: "small" });
  await kv.put("lim/s", "2", { namespace: "small" });
  const sib = await kv.put("lim/s", "3", { namespace: "small" }).catch((e: unknown) => e);
  assert.ok(sib instanceof LimitError, String(sib));
  assert.deepEqual([sib.code, sib.limit, sib.max], ["resource_exhausted", "max_siblings", 2]);
  assert.ok(!(sib instanceof InvalidArgumentError));

  // writes_per_second 1 over 3 nodes: one write a second on the node called.
  let rate: unknown;
  for (let i = 0; i < 5 && rate === undefined; i++) {
    await kv.put(`lim/r${i}`, "x", { namespace: "slow" }).catch((e: unknown) => (rate = e));
  }
  assert.ok(rate instanceof LimitError, String(rate));
  assert.equal(rate.code, "resource_exhausted");
  assert.equal(rate.limit, "writes_per_second");
  assert.ok(rate.retryAfterMs > 0, `retryAfterMs ${rate.retryAfterMs}`);
});

test("typed errors: namespace, credentials, arguments", async () => {
  await assert.rejects(kv.get("k", { namespace: "no-such-namespace" }), NotFoundError);
  await assert.rejects(client({ token: undefined }).get("k"), (e: unknown) => e instanceof UnauthenticatedError && e.code === "unauthenticated");
  await assert.rejects(client({ token: `cct_0000000000000000_${"0".repeat(64)}` }).get("k"), UnauthenticatedError);
  const reader = client({ token: await createToken(cluster, "default", ["read"]) });
  await reader.get("k");
  await assert.rejects(reader.put("k", "v"), (e: unknown) => e instanceof PermissionDeniedError && e.code === "permission_denied");
  await assert.rejects(kv.put("", "v"), InvalidArgumentError);
  await assert.rejects(kv.put("k", "v", { context: Context.parse("AAAAAAAA") }), InvalidArgumentError, "a context concord did not issue");
  const other = await kv.get("another key");
  await assert.rejects(kv.put("k", "v", { context: other }), InvalidArgumentError, "a context of another key");
  await assert.rejects(kv.get("k", { r: 9 }), InvalidArgumentError, "r above n");
});

test("binary and Unicode keys and values round-trip and list back byte for byte", async () => {
  const keys = [
    new Uint8Array([0x62, 0x2f, 0x00, 0xff, 0x80, 0x00]),
    new TextEncoder().encode("b/ключ/🔑/é"),
    new Uint8Array([0x62, 0x2f, 0xc3, 0x28]), // not valid UTF-8
  ];
  const value = Uint8Array.from({ length: 256 }, (_, i) => i);
  for (const k of keys) await kv.put(k, value);
  for (const k of keys) assert.deepEqual((await kv.get(k)).value?.bytes, value);
  assert.equal((await kv.get("b/ключ/🔑/é")).found, true, "a string key is its UTF-8 bytes");
  const listed: Uint8Array[] = [];
  for await (const k of kv.listKeys("b/")) listed.push(k);
  const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");
  assert.deepEqual(listed.map(hex).sort(), keys.map(hex).sort());
});

test("listKeys pages through everything, honours limit, and stops when the loop does", async () => {
  const ns = "listing";
  const want = Array.from({ length: 25 }, (_, i) => `p/${String(i).padStart(2, "0")}`);
  await Promise.all(want.map((k) => kv.put(k, "v", { namespace: ns })));
  await kv.put("q/other", "v", { namespace: ns });

  // Count the streamed pages with an interceptor.
  let pages = 0;
  const counting: Interceptor = (next) => async (req) => {
    const res = await next(req);
    if (!res.stream) return res;
    const inner = res.message;
    return {
      ...res,
      message: (async function* () {
        for await (const m of inner) {
          pages++;
          yield m;
        }
      })(),
    };
  };
  const lister = client({ interceptors: [counting], namespace: ns });
  const got: string[] = [];
  for await (const k of lister.listKeys("p/", { pageSize: 4 })) got.push(text(k));
  assert.deepEqual([...got].sort(), want);
  assert.equal(new Set(got).size, 25, "each key once");
  assert.ok(pages >= 7, `25 keys in pages of 4 came in ${pages} messages`);

  const limited: string[] = [];
  for await (const k of lister.listKeys("p/", { pageSize: 3, limit: 10 })) limited.push(text(k));
  assert.equal(limited.length, 10);

  let seen = 0;
  for await (const _ of lister.listKeys("p/", { pageSize: 2 })) {
    if (++seen === 3) break;
  }
  assert.equal(seen, 3);

  const all: string[] = [];
  for await (const k of lister.listKeys()) all.push(text(k));
  assert.equal(all.length, 26);
  for await (const _ of lister.listKeys("none/")) assert.fail("nothing has this prefix");

  const late = async () => {
    for await (const _ of lister.listKeys("p/", { pageSize: 1, timeoutMs: 1 })) await new Promise((r) => setTimeout(r, 5));
  };
  await assert.rejects(late(), (e: unknown) => e instanceof ConcordError && e.code === "deadline_exceeded");
  const canceled = async () => {
    for await (const _ of lister.listKeys("p/", { signal: AbortSignal.abort() })) assert.fail("canceled before it began");
  };
  await assert.rejects(canceled(), (e: unknown) => e instanceof ConcordError && e.code === "canceled");
});

test("update under 8 concurrent writers loses no increment", async () => {
  const writers = 8;
  const each = 5;
  let calls = 0;
  const increment = async () => {
    for (let i = 0; i < each; i++) {
      await kv.update("counter", (siblings) => {
        calls++;
        assert.ok(siblings.length <= 1, `the coordinator's check let concurrent writes through: ${siblings.length} siblings`);
        return String(Number(siblings[0]?.text() ?? "0") + 1);
      });
    }
  };
  await Promise.all(Array.from({ length: writers }, increment));
  const obj = await kv.get("counter");
  assert.equal(obj.value?.text(), String(writers * each));
  assert.ok(calls > writers * each, `the writers raced (${calls} calls of fn): the retry path ran`);
});

test("update gives up after maxAttempts with the last ConflictError", async () => {
  await kv.put("contended", "0");
  let calls = 0;
  const err = await kv
    .update(
      "contended",
      async (siblings) => {
        calls++;
        await kv.put("contended", `interloper ${calls}`, { context: (await kv.get("contended")).context });
        return String(siblings.length);
      },
      { maxAttempts: 3 },
    )
    .catch((e: unknown) => e);
  assert.ok(err instanceof ConflictError, String(err));
  assert.equal(calls, 3);
});

test("a dead endpoint is skipped for the next one", async () => {
  const c = createClient({ endpoints: ["http://127.0.0.1:1", cluster.endpoints[1]!], token: cluster.token });
  await c.put("failover", "ok");
  assert.equal((await c.get("failover")).value?.text(), "ok");
  const none = createClient({ endpoints: ["http://127.0.0.1:1"], token: cluster.token });
  await assert.rejects(none.get("failover"), (e: unknown) => e instanceof ConcordError && e.code === "unavailable");
});

test("HTTP/2 cleartext and JSON work too", async () => {
  const h2 = client({ httpVersion: "2", json: true });
  await h2.put("h2", "yes");
  assert.equal((await h2.get("h2")).value?.text(), "yes");
});

test("the browser entry (fetch transport) speaks the same API", async () => {
  const web = createBrowserClient({ endpoints: cluster.endpoints, token: cluster.token, routing: true });
  await web.put("web/k", "from fetch");
  const obj = await web.get("web/k");
  assert.equal(obj.value?.text(), "from fetch");
  await web.put("web/k", "again", { context: obj, ifContextCurrent: true });
  await assert.rejects(web.put("web/k", "stale", { context: obj, ifContextCurrent: true }), ConflictError);
  const keys: string[] = [];
  for await (const k of web.listKeys("web/")) keys.push(text(k));
  assert.deepEqual(keys, ["web/k"]);
});

test("the README's ten-line example runs (against the built package)", () => {
  const sdkDir = fileURLToPath(new URL("..", import.meta.url));
  const readme = readFileSync(join(sdkDir, "README.md"), "utf8");
  const code = /## Ten lines\s+```ts\n([\s\S]*?)```/.exec(readme)?.[1];
  assert.ok(code !== undefined, "no example in the README");
  assert.ok(code.trim().split("\n").length <= 10, "ten lines at most");
  // Inside the package, so that its name resolves to dist (package exports).
  const dir = mkdtempSync(join(sdkDir, ".readme-"));
  try {
    writeFileSync(join(dir, "example.ts"), code);
    const run = spawnSync(process.execPath, ["--import", "tsx", join(dir, "example.ts")], {
      env: { ...process.env, CONCORD_ENDPOINT: cluster.endpoints[0], CONCORD_TOKEN: cluster.token },
      encoding: "utf8",
      timeout: 60_000,
    });
    assert.equal(run.status, 0, run.stderr);
    assert.deepEqual(run.stdout.trim().split("\n"), ["greeting", "hello, world"]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("options are checked", () => {
  assert.throws(() => createClient({}), TypeError);
  assert.throws(() => createClient({ endpoints: "ftp://x" }), TypeError);
  assert.throws(() => createClient({ endpoints: "not a url" }), TypeError);
});
