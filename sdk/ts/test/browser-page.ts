// The script of the page that browser.test.ts opens in Chromium: bundled
// with esbuild from the browser entry, it calls the cluster named in the
// page's query (endpoint, token, run, mode) and writes what happened as JSON
// into #result, then sets data-done on <body> for the test to read.
//   mode=full: put, get with siblings and a context, put with the context,
//              update, listKeys, binary values, routing, a typed error
//   mode=one:  a single get (for the case where the cluster refuses the origin)

import { ConcordError, Context, createClient, NotFoundError, SiblingsError } from "../src/browser.js";

const params = new URLSearchParams(location.search);
const endpoints = params.getAll("endpoint");
const token = params.get("token") ?? undefined;
const run = params.get("run") ?? "run";
const mode = params.get("mode") ?? "full";

const text = (b: Uint8Array) => new TextDecoder().decode(b);

/** What a thrown value was, in JSON. */
function describe(e: unknown): Record<string, unknown> {
  if (!(e instanceof Error)) return { thrown: String(e) };
  const cause = e.cause instanceof Error ? e.cause : undefined;
  const root = cause?.cause instanceof Error ? cause.cause : undefined;
  return {
    name: e.name,
    message: e.message,
    concordError: e instanceof ConcordError,
    notFoundError: e instanceof NotFoundError,
    code: e instanceof ConcordError ? e.code : undefined,
    cause: cause?.name,
    rootCause: root?.name,
    rootMessage: root?.message,
  };
}

async function full(): Promise<Record<string, unknown>> {
  const kv = createClient({ endpoints, token, timeoutMs: 10_000 });
  const k = (s: string) => `b/${run}/${s}`;
  const out: Record<string, unknown> = {};

  const w = await kv.put(k("greeting"), "hello");
  out.putContext = !w.context.empty;
  out.putCoordinator = w.coordinator;

  // Two blind writes: siblings, and a read that sees both.
  await kv.put(k("cart"), "apple");
  await kv.put(k("cart"), "pear");
  const obj = await kv.get(k("cart"));
  out.found = obj.found;
  out.siblings = obj.siblings.map((s) => s.text()).sort();
  out.hasSiblings = obj.hasSiblings;
  out.contextEmpty = obj.context.empty;
  try {
    void obj.value;
    out.valueThrew = false;
  } catch (e) {
    out.valueThrew = e instanceof SiblingsError;
  }
  // The context through its string form (a form field, a URL) and back.
  const carried = Context.parse(JSON.parse(JSON.stringify({ c: obj.context })).c as string);
  await kv.put(k("cart"), "apple,pear", { context: carried });
  const merged = await kv.get(k("cart"));
  out.afterContextPut = merged.values().map(text);
  // The object itself as the context.
  await kv.put(k("cart"), "apple,pear,plum", { context: merged });
  out.afterObjectPut = (await kv.get(k("cart"))).value?.text();

  for (let i = 0; i < 3; i++) await kv.update(k("counter"), (sibs) => String(Number(sibs[0]?.text() ?? "0") + 1));
  out.counter = (await kv.get(k("counter"))).value?.text();

  const bytes = new Uint8Array([0, 1, 2, 254, 255]);
  await kv.put(k("bin"), bytes);
  out.bin = Array.from((await kv.get(k("bin"))).value?.bytes ?? []);

  // Routing: the client computes each key's node and calls it directly.
  const routed = createClient({ endpoints, token, timeoutMs: 10_000, routing: true });
  for (let i = 0; i < 6; i++) await routed.put(k(`routed/${i}`), `v${i}`);
  const back: string[] = [];
  for (let i = 0; i < 6; i++) back.push((await routed.get(k(`routed/${i}`))).value?.text() ?? "");
  out.routed = back;

  const listed: string[] = [];
  for await (const key of kv.listKeys(k(""), { pageSize: 2 })) listed.push(text(key).slice(k("").length));
  out.listed = listed.sort();

  try {
    await kv.get(k("x"), { namespace: "no-such-namespace" });
    out.unknownNamespace = { thrown: false };
  } catch (e) {
    out.unknownNamespace = describe(e);
  }
  return out;
}

async function one(): Promise<Record<string, unknown>> {
  const kv = createClient({ endpoints, token, timeoutMs: 10_000 });
  const obj = await kv.get(`b/${run}/probe`);
  return { found: obj.found };
}

async function main(): Promise<void> {
  let report: Record<string, unknown>;
  try {
    report = { ok: true, result: mode === "one" ? await one() : await full() };
  } catch (e) {
    report = { ok: false, error: describe(e) };
  }
  document.getElementById("result")!.textContent = JSON.stringify(report);
  document.body.dataset.done = "1";
}

void main();
