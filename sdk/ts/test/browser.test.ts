// The browser entry in a real browser: headless Chromium (Debian's
// chromium, driven by playwright-core) opens a page served from one
// loopback origin that calls a `concord dev` cluster on another origin.
// With the page's origin allowed (--cors-origin) every call works; without
// it the browser refuses the same call. Every wait is bounded and every
// process started here is stopped.

import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { fileURLToPath } from "node:url";
import { after, before, test } from "node:test";

import { build } from "esbuild";
import { chromium, type Browser } from "playwright-core";

import { createClient } from "../src/index.js";
import { startCluster, type Cluster } from "./harness.js";

const CHROMIUM = "/usr/bin/chromium";
const LAUNCH_TIMEOUT_MS = 60_000;
const PAGE_TIMEOUT_MS = 60_000; // loading the page and every call it makes
const CLOSE_TIMEOUT_MS = 15_000;
const TEST_TIMEOUT_MS = 300_000; // a whole test, cluster start and stop included

/** A tiny HTTP server of the test page on 127.0.0.1: its own origin. */
interface PageServer {
  origin: string;
  close(): Promise<void>;
}

const html = `<!doctype html>
<html><head><meta charset="utf-8"><title>concord sdk in a browser</title></head>
<body><pre id="result"></pre><script type="module" src="/page.js"></script></body></html>`;

async function servePage(script: string): Promise<PageServer> {
  const server: Server = createServer((req, res) => {
    const path = new URL(req.url ?? "/", "http://127.0.0.1").pathname;
    if (path === "/") {
      res.writeHead(200, { "Content-Type": "text/html; charset=utf-8", "Cache-Control": "no-store" });
      res.end(html);
    } else if (path === "/page.js") {
      res.writeHead(200, { "Content-Type": "text/javascript; charset=utf-8", "Cache-Control": "no-store" });
      res.end(script);
    } else {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", resolve);
  });
  const { port } = server.address() as AddressInfo;
  return {
    origin: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Resolves p, or rejects after ms. */
function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} took more than ${ms} ms`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

interface PageRun {
  report: { ok: boolean; result?: Record<string, unknown>; error?: Record<string, unknown> };
  /** The browser console's messages (CORS refusals are logged there). */
  console: string[];
  /** The Access-Control-Allow-Origin of each answer from the cluster. */
  allowOrigin: (string | undefined)[];
  /** Requests that got no answer (a CORS refusal is one). */
  failed: string[];
}

let browser: Browser | undefined;
let page: PageServer | undefined; // the origin the cluster allows
let other: PageServer | undefined; // an origin it does not

/** Opens the test page of server in a fresh browser context and waits (bounded) for its report. */
async function runPage(server: PageServer, c: Cluster, mode: "full" | "one"): Promise<PageRun> {
  assert.ok(browser !== undefined);
  const q = new URLSearchParams({ token: c.token, run: `${mode}-${Date.now().toString(36)}`, mode });
  for (const e of c.endpoints) q.append("endpoint", e);
  const ctx = await within(browser.newContext(), CLOSE_TIMEOUT_MS, "opening a browser context");
  try {
    const tab = await ctx.newPage();
    tab.setDefaultTimeout(PAGE_TIMEOUT_MS);
    const consoleLines: string[] = [];
    const allowOrigin: (string | undefined)[] = [];
    const failed: string[] = [];
    tab.on("console", (m) => consoleLines.push(`${m.type()}: ${m.text()}`));
    tab.on("pageerror", (e) => consoleLines.push(`pageerror: ${e.message}`));
    tab.on("requestfailed", (r) => failed.push(`${r.url()}: ${r.failure()?.errorText}`));
    tab.on("response", (r) => {
      if (c.endpoints.some((e) => r.url().startsWith(e))) allowOrigin.push(r.headers()["access-control-allow-origin"]);
    });
    await tab.goto(`${server.origin}/?${q}`, { timeout: PAGE_TIMEOUT_MS });
    try {
      await tab.waitForSelector("body[data-done]", { state: "attached", timeout: PAGE_TIMEOUT_MS });
    } catch (e) {
      throw new Error(`the page did not finish: ${e instanceof Error ? e.message : e}\nconsole:\n${consoleLines.join("\n")}`);
    }
    const json = await tab.textContent("#result", { timeout: PAGE_TIMEOUT_MS });
    return { report: JSON.parse(json ?? "null") as PageRun["report"], console: consoleLines, allowOrigin, failed };
  } finally {
    await within(ctx.close(), CLOSE_TIMEOUT_MS, "closing the browser context").catch(() => {});
  }
}

/** The page's call was refused by the browser: fetch failed without an answer (not a server error). */
function assertRefused(run: PageRun, origin: string): void {
  const why = JSON.stringify(run, null, 2);
  assert.equal(run.report.ok, false, `the call succeeded from an origin the cluster does not allow:\n${why}`);
  const err = run.report.error!;
  assert.equal(err.concordError, true, why);
  // connect-web: fetch rejects with a TypeError, which is Code.Unknown.
  assert.ok(err.code === "unknown" || err.code === "unavailable", why);
  assert.equal(err.rootCause, "TypeError", why);
  assert.ok(
    run.console.some((l) => l.includes("CORS") && l.includes(origin)),
    `Chromium logged no CORS refusal for ${origin}:\n${why}`,
  );
}

before(async () => {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`${CHROMIUM} is missing: run .ci/install-tools (it installs Debian's chromium package)`);
  }
  // Bundle the page script from the browser entry (as an app would).
  const res = await build({
    entryPoints: [fileURLToPath(new URL("./browser-page.ts", import.meta.url))],
    bundle: true,
    write: false,
    platform: "browser",
    format: "esm",
    target: "es2022",
    keepNames: true,
    logLevel: "silent",
  });
  const script = res.outputFiles[0]!.text;
  page = await servePage(script);
  other = await servePage(script);
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    // Playwright gives the browser a fresh temporary profile (user data
    // directory) and removes it on close.
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
    timeout: LAUNCH_TIMEOUT_MS,
  });
}, { timeout: TEST_TIMEOUT_MS });

after(async () => {
  if (browser !== undefined) await within(browser.close(), CLOSE_TIMEOUT_MS, "closing Chromium").catch(() => {});
  await page?.close();
  await other?.close();
}, { timeout: TEST_TIMEOUT_MS });

test("in Chromium, a page on an allowed origin puts, gets, merges, updates, lists and gets typed errors", { timeout: TEST_TIMEOUT_MS }, async () => {
  const c = await startCluster(3, ["--cors-origin", page!.origin]);
  try {
    const run = await runPage(page!, c, "full");
    const why = JSON.stringify(run, null, 2);
    assert.equal(run.report.ok, true, why);
    const r = run.report.result!;
    assert.equal(r.putContext, true, why);
    assert.notEqual(r.putCoordinator ?? "", "", why);
    assert.equal(r.found, true, why);
    assert.deepEqual(r.siblings, ["apple", "pear"], why);
    assert.equal(r.hasSiblings, true, why);
    assert.equal(r.contextEmpty, false, why);
    assert.equal(r.valueThrew, true, `obj.value with siblings throws a SiblingsError:\n${why}`);
    assert.deepEqual(r.afterContextPut, ["apple,pear"], `the put with the read's context replaced both siblings:\n${why}`);
    assert.equal(r.afterObjectPut, "apple,pear,plum", why);
    assert.equal(r.counter, "3", why);
    assert.deepEqual(r.bin, [0, 1, 2, 254, 255], why);
    const keys = ["bin", "cart", "counter", "greeting", ...[0, 1, 2, 3, 4, 5].map((i) => `routed/${i}`)];
    assert.deepEqual(r.listed, keys.sort(), `listKeys (a server stream) pages through the run's keys:\n${why}`);
    assert.deepEqual(r.routed, ["v0", "v1", "v2", "v3", "v4", "v5"], why);
    const nf = r.unknownNamespace as Record<string, unknown>;
    assert.equal(nf.notFoundError, true, `an unknown namespace is a NotFoundError:\n${why}`);
    assert.equal(nf.concordError, true, why);
    assert.equal(nf.name, "NotFoundError", why);
    assert.equal(nf.code, "not_found", why);
    // The answers were cross-origin ones the server allowed for this page.
    assert.ok(run.allowOrigin.length > 0, why);
    assert.ok(run.allowOrigin.every((o) => o === page!.origin), why);
    assert.deepEqual(run.failed, [], `no request failed (routing calls every node, each must allow the page):\n${why}`);

    // The same cluster refuses a page of another origin (another port).
    assertRefused(await runPage(other!, c, "one"), other!.origin);
  } finally {
    await c.stop();
  }
});

test("in Chromium, a cluster started without --cors-origin for the page's origin refuses the same call", { timeout: TEST_TIMEOUT_MS }, async () => {
  const c = await startCluster(1);
  try {
    // From Node (no CORS) the cluster answers: the refusal is the browser's.
    assert.equal((await createClient({ endpoints: c.endpoints, token: c.token, timeoutMs: 10_000 }).get("b/probe")).found, false);
    assertRefused(await runPage(page!, c, "one"), page!.origin);
  } finally {
    await c.stop();
  }
});
