// The TypeScript SDK's runner of the SDK conformance suite
// (sdk/conformance/README.md): every case of the cases file runs through
// the SDK's public API against a live cluster; one line per case, a
// closing "ts: N passed, N failed", and a non-zero exit when a case
// failed, none ran, or the cluster is not given.
//
//   CONCORD_ENDPOINTS=... CONCORD_TOKEN=... npm run conformance [-- --run TEXT]
//
// suite.ts reads and checks the file, this file makes the calls, check.ts
// judges what they returned.

import { fileURLToPath } from "node:url";

import { createClient, type Client, type ContextLike, type KVObject } from "../src/index.js";
import { check, currentOf, describeError, type Outcome } from "./check.js";
import { bytesOf, loadSuite, type Step, type Suite } from "./suite.js";

/** Well formed, unknown to every cluster. */
const BAD_TOKEN = `cct_0000000000000000_${"0".repeat(64)}`;
/** Bounds one call. */
const STEP_TIMEOUT_MS = 15_000;
/** No case lists more keys than this. */
const MAX_LISTED = 100_000;

interface Config {
  endpoints: string[];
  token: string;
  runId: string;
  only: string;
}

/** Clients by endpoint and credential ("" sends none). */
function clients(): (endpoint: string, token: string) => Client {
  const made = new Map<string, Client>();
  return (endpoint, token) => {
    const k = `${endpoint}\u0000${token}`;
    let c = made.get(k);
    if (c === undefined) {
      c = createClient({ endpoints: endpoint, token: token === "" ? undefined : token, timeoutMs: STEP_TIMEOUT_MS });
      made.set(k, c);
    }
    return c;
  };
}

const concat = (a: Uint8Array, b: Uint8Array) => {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
};

/** Runs one step through the SDK; never throws (a failure is the outcome's err). */
async function runStep(
  client: Client,
  ns: string,
  prefix: Uint8Array,
  st: Step,
  saved: Map<string, ContextLike>,
): Promise<Outcome> {
  const context = st.context === undefined ? undefined : saved.get(st.context);
  const key = st.key === undefined ? new Uint8Array(0) : st.raw_key ? bytesOf(st.key) : concat(prefix, bytesOf(st.key));
  try {
    switch (st.op) {
      case "get":
        return { obj: await client.get(key, { namespace: ns, r: st.r }) };
      case "put": {
        const w = await client.put(key, bytesOf(st.value!), {
          namespace: ns,
          context,
          w: st.w,
          dw: st.dw,
          ifAbsent: st.if_absent,
          ifContextCurrent: st.if_context_current,
          overwrite: st.overwrite,
          returnSiblings: st.expect?.values !== undefined,
        });
        return { context: w.context, values: w.siblings?.map((s) => s.bytes) };
      }
      case "delete": {
        const w = await client.delete(key, { namespace: ns, context, w: st.w, force: st.force });
        return { context: w.context };
      }
      case "list": {
        const full = st.prefix === undefined ? prefix : concat(prefix, bytesOf(st.prefix));
        const keys: Uint8Array[] = [];
        for await (const k of client.listKeys(full, { namespace: ns, pageSize: st.page_size, limit: st.limit, timeoutMs: STEP_TIMEOUT_MS })) {
          if (k.length < full.length || !full.every((b, i) => k[i] === b)) {
            return { err: new Error(`listed key outside the prefix: ${Array.from(k).join(",")}`) };
          }
          keys.push(k.subarray(prefix.length));
          if (keys.length > MAX_LISTED) return { err: new Error(`the listing went on past ${MAX_LISTED} keys`) };
        }
        return { keys };
      }
    }
  } catch (err) {
    return { err };
  }
}

/** Runs the cases whose name contains cfg.only; prints a line per case; returns the counts. */
export async function runAll(suite: Suite, cfg: Config, print: (line: string) => void): Promise<{ passed: number; failed: number }> {
  const clientFor = clients();
  let passed = 0;
  let failed = 0;
  for (const [i, c] of suite.cases.entries()) {
    if (!c.name.includes(cfg.only)) continue;
    const started = Date.now();
    const prefix = new TextEncoder().encode(`${cfg.runId}/${i}/`);
    const saved = new Map<string, ContextLike>();
    let failure: string | undefined;
    for (const [j, st] of c.steps.entries()) {
      // Step j of case i goes to endpoint (i + j) mod count: consecutive
      // steps reach different nodes, and any node must give the same answer.
      const endpoint = cfg.endpoints[(i + j) % cfg.endpoints.length]!;
      const token = st.token === "none" ? "" : st.token === "bad" ? BAD_TOKEN : cfg.token;
      const out = await runStep(clientFor(endpoint, token), st.namespace ?? c.namespace, prefix, st, saved);
      const problems = check(st, out);
      if (problems.length > 0) {
        failure = `step ${j + 1} (${st.op}): ${problems.join("; ")}`;
        break;
      }
      if (st.save !== undefined) {
        const keep: ContextLike | KVObject | undefined = out.obj ?? currentOf(out.err) ?? out.context;
        if (keep === undefined) {
          failure = `step ${j + 1} (${st.op}): nothing to save under ${st.save}`;
          break;
        }
        saved.set(st.save, keep);
      }
    }
    const num = String(i).padStart(2);
    if (failure === undefined) {
      passed++;
      print(`ok    ${num} ${c.name} (${((Date.now() - started) / 1000).toFixed(2)}s)`);
    } else {
      failed++;
      print(`FAIL  ${num} ${c.name}: ${failure}`);
    }
  }
  return { passed, failed };
}

/** The command; returns the exit code. */
export async function main(args: string[], env: NodeJS.ProcessEnv, print: (line: string) => void, warn: (line: string) => void): Promise<number> {
  let only = "";
  for (let i = 0; i < args.length; i++) {
    if (args[i] === "--run" && i + 1 < args.length) only = args[++i]!;
    else {
      warn(`conformance: unknown argument ${args[i]} (use --run TEXT)`);
      return 2;
    }
  }
  const endpoints = (env.CONCORD_ENDPOINTS ?? "")
    .split(",")
    .map((e) => e.trim())
    .filter((e) => e !== "");
  if (endpoints.length === 0) {
    warn("conformance: CONCORD_ENDPOINTS is not set (comma-separated API endpoints of a cluster); sdk/conformance/run starts one and sets it");
    return 2;
  }
  const path = env.CONCORD_CONFORMANCE || fileURLToPath(new URL("../../conformance/cases.json", import.meta.url));
  let suite: Suite;
  try {
    suite = loadSuite(path);
  } catch (e) {
    warn(`conformance: ${path}: ${(e as Error).message}`);
    return 2;
  }
  const cfg = { endpoints, token: env.CONCORD_TOKEN ?? "", runId: env.CONCORD_RUN_ID || `ts-${Date.now()}`, only };
  let counts;
  try {
    counts = await runAll(suite, cfg, print);
  } catch (e) {
    warn(`conformance: ${describeError(e)}`);
    return 1;
  }
  print(`ts: ${counts.passed} passed, ${counts.failed} failed`);
  return counts.failed > 0 || counts.passed === 0 ? 1 : 0;
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  process.exitCode = await main(
    process.argv.slice(2),
    process.env,
    (l) => console.log(l),
    (l) => console.error(l),
  );
}
