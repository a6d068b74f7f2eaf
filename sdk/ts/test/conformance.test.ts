// The conformance runner (npm run conformance) against a real cluster: the
// local sample passes, and a runner that cannot pass says so with its exit
// code. The suite's own cases.json is run by sdk/conformance/run (for every
// SDK), not here.

import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { after, before, test } from "node:test";

import type { Suite } from "../conformance/suite.js";
import { createNamespace, startCluster, type Cluster, type NamespaceSpec } from "./harness.js";

const sdkDir = fileURLToPath(new URL("..", import.meta.url));
const samplePath = join(sdkDir, "conformance", "sample.json");

let cluster: Cluster;
let scratch: string;

before(async () => {
  cluster = await startCluster(3);
  scratch = mkdtempSync(join(tmpdir(), "concord-ts-conf-"));
  const suite = JSON.parse(readFileSync(samplePath, "utf8")) as Suite;
  for (const ns of suite.namespaces) await createNamespace(cluster, ns as NamespaceSpec);
});

after(async () => {
  await cluster?.stop();
  if (scratch) rmSync(scratch, { recursive: true, force: true });
});

/** Runs `npm run conformance` (bounded) with the given environment. */
function runner(env: Record<string, string>, args: string[] = []): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve, reject) => {
    const { CONCORD_ENDPOINTS: _e, CONCORD_TOKEN: _t, CONCORD_CONFORMANCE: _c, CONCORD_RUN_ID: _r, ...base } = process.env;
    const child = spawn("npm", ["run", "--silent", "conformance", "--", ...args], {
      cwd: sdkDir,
      env: { ...base, ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    child.stderr.on("data", (d: Buffer) => (out += d.toString()));
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`the runner did not finish in 5 minutes:\n${out}`));
    }, 300_000);
    child.on("exit", (code) => {
      clearTimeout(timer);
      resolve({ code, out });
    });
  });
}

const clusterEnv = (file: string, runId: string) => ({
  CONCORD_ENDPOINTS: cluster.endpoints.join(","),
  CONCORD_TOKEN: cluster.token,
  CONCORD_CONFORMANCE: file,
  CONCORD_RUN_ID: runId,
});

test("without CONCORD_ENDPOINTS the runner fails", async () => {
  const { code, out } = await runner({ CONCORD_CONFORMANCE: samplePath });
  assert.equal(code, 2, out);
  assert.match(out, /CONCORD_ENDPOINTS is not set/);
});

test("the local sample passes, one line per case", async () => {
  const { code, out } = await runner(clusterEnv(samplePath, `sample-${Date.now()}`));
  assert.equal(code, 0, out);
  const cases = (JSON.parse(readFileSync(samplePath, "utf8")) as Suite).cases.length;
  assert.equal(out.match(/^ok {4}/gm)?.length, cases, out);
  assert.match(out, new RegExp(`^ts: ${cases} passed, 0 failed$`, "m"));
});

test("--run picks cases by name", async () => {
  const { code, out } = await runner(clusterEnv(samplePath, `only-${Date.now()}`), ["--run", "listing"]);
  assert.equal(code, 0, out);
  assert.match(out, /^ts: 1 passed, 0 failed$/m);
});

test("a case whose expectation does not hold fails the run and says where", async () => {
  const suite = JSON.parse(readFileSync(samplePath, "utf8")) as Suite;
  const wrong = suite.cases[0]!;
  wrong.steps[1]!.expect!.values = [{ utf8: "not what was written" }];
  const file = join(scratch, "wrong.json");
  writeFileSync(file, JSON.stringify({ ...suite, cases: [wrong] }));
  const { code, out } = await runner(clusterEnv(file, `wrong-${Date.now()}`));
  assert.equal(code, 1, out);
  assert.match(out, /^FAIL {2} 0 put then get: step 2 \(get\): values: want \["not what was written"\], got \["hello"\]/m);
  assert.match(out, /^ts: 0 passed, 1 failed$/m);
});

test("a file with a field the format does not have is refused before any call", async () => {
  const suite = JSON.parse(readFileSync(samplePath, "utf8")) as Suite;
  (suite.cases[0]!.steps[0] as unknown as Record<string, unknown>).ttl = 5;
  const file = join(scratch, "unknown.json");
  writeFileSync(file, JSON.stringify(suite));
  const { code, out } = await runner(clusterEnv(file, `unknown-${Date.now()}`));
  assert.equal(code, 2, out);
  assert.match(out, /unknown field ttl/);
});
