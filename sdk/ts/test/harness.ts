// The test cluster: a `concord dev` process the tests start and stop, and
// the admin calls they need to set it up. Every wait here is bounded.

import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

import { createClient as createConnectClient, type Client as ConnectClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";

import { fromJson, type JsonObject } from "@bufbuild/protobuf";

import { AdminService, NamespaceSettingsSchema, ResolverMode, TokenScope } from "../src/gen/concord/admin/v1/admin_pb.js";

export const repoRoot = fileURLToPath(new URL("../../../", import.meta.url));

export interface DevNode {
  /** API base URL, e.g. http://127.0.0.1:41234. */
  api: string;
  /** The admin listener's base URL (/metrics). */
  admin: string;
}

export interface Cluster {
  nodes: DevNode[];
  endpoints: string[];
  token: string;
  admin: ConnectClient<typeof AdminService>;
  stop(): Promise<void>;
}

/**
 * The concord binary: $CONCORD_BIN (npm test builds it once, see run.mjs),
 * else built here into a temporary directory.
 */
function concordBinary(): string {
  const fromEnv = process.env.CONCORD_BIN;
  if (fromEnv) return fromEnv;
  const dir = mkdtempSync(join(tmpdir(), "concord-ts-"));
  const bin = join(dir, "concord");
  const r = spawnSync("go", ["build", "-o", bin, "./cmd/concord"], { cwd: repoRoot, stdio: "inherit", timeout: 600_000 });
  if (r.status !== 0) throw new Error(`go build ./cmd/concord failed (${r.status ?? r.signal})`);
  process.on("exit", () => rmSync(dir, { recursive: true, force: true }));
  return bin;
}

const START_TIMEOUT_MS = 90_000; // concord dev forms its cluster within a minute
const STOP_TIMEOUT_MS = 20_000;

/**
 * Starts `concord dev` with the given number of nodes on free loopback
 * ports; devArgs are more flags of `concord dev` (e.g. --cors-origin).
 */
export async function startCluster(nodes = 3, devArgs: string[] = []): Promise<Cluster> {
  const bin = concordBinary();
  const child = spawn(bin, ["dev", "--api-addr", "127.0.0.1:0", "--nodes", String(nodes), ...devArgs], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  const kill = () => child.kill("SIGKILL");
  process.on("exit", kill);
  let out = "";
  let err = "";
  child.stderr!.on("data", (d: Buffer) => {
    err = (err + d.toString()).slice(-20_000);
  });
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`concord dev did not start in ${START_TIMEOUT_MS} ms:\n${out}\n${err}`)), START_TIMEOUT_MS);
      child.stdout!.on("data", (d: Buffer) => {
        out += d.toString();
        if (out.includes("Stop with Ctrl-C.")) {
          clearTimeout(timer);
          resolve();
        }
      });
      child.on("exit", (code) => {
        clearTimeout(timer);
        reject(new Error(`concord dev exited (${code}):\n${out}\n${err}`));
      });
    });
  } catch (e) {
    kill();
    throw e;
  }
  const devNodes = [...out.matchAll(/node \d+\s+(http:\/\/\S+)\s+\(gossip \S+, admin (http:\/\/[^)\s]+)\)/g)].map((m) => ({
    api: m[1]!,
    admin: m[2]!,
  }));
  const token = /export CONCORD_TOKEN=(\S+)/.exec(out)?.[1];
  if (devNodes.length !== nodes || token === undefined) {
    kill();
    throw new Error(`cannot read concord dev's output:\n${out}`);
  }
  const admin = createConnectClient(
    AdminService,
    createConnectTransport({
      baseUrl: devNodes[0]!.api,
      httpVersion: "1.1",
      interceptors: [
        (next) => (req) => {
          req.header.set("Authorization", `Bearer ${token}`);
          return next(req);
        },
      ],
    }),
  );
  return {
    nodes: devNodes,
    endpoints: devNodes.map((n) => n.api),
    token,
    admin,
    stop: () => stopProcess(child, kill),
  };
}

function stopProcess(child: ChildProcess, kill: () => void): Promise<void> {
  process.off("exit", kill);
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
    }, STOP_TIMEOUT_MS);
    child.on("exit", () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill("SIGINT"); // like Ctrl-C: the nodes close and the data directory goes
  });
}

/** Settings of a namespace to create (the admin API's NamespaceSettings, plus a built-in resolver). */
export interface NamespaceSpec {
  name: string;
  /** NamespaceSettings in the Protobuf JSON form, e.g. {"n": 1, "limits": {"maxSiblings": 2}}. */
  settings?: JsonObject;
  resolver?: { builtin: string; mode?: string; write_deadline_ms?: number; read_deadline_ms?: number };
}

const MODES: Record<string, ResolverMode> = {
  client: ResolverMode.CLIENT,
  on_read: ResolverMode.ON_READ,
  on_write: ResolverMode.ON_WRITE,
};

/** Creates a namespace (and its resolver), then waits until every node serves it. */
export async function createNamespace(c: Cluster, spec: NamespaceSpec): Promise<void> {
  await c.admin.createNamespace({ name: spec.name, settings: fromJson(NamespaceSettingsSchema, spec.settings ?? {}) });
  if (spec.resolver !== undefined) {
    await c.admin.uploadResolver({
      namespace: spec.name,
      source: { case: "builtin", value: spec.resolver.builtin },
      mode: MODES[spec.resolver.mode ?? "on_write"] ?? ResolverMode.ON_WRITE,
      writeDeadlineMs: spec.resolver.write_deadline_ms ?? 0,
      readDeadlineMs: spec.resolver.read_deadline_ms ?? 0,
    });
  }
  await waitForNamespace(c, spec.name, spec.resolver?.builtin);
}

/**
 * Waits (bounded) until every node knows the namespace and, when given, its
 * resolver: gossip has carried them.
 */
async function waitForNamespace(c: Cluster, name: string, resolver: string | undefined): Promise<void> {
  const deadline = Date.now() + 20_000;
  for (const node of c.nodes) {
    for (;;) {
      const res = await fetch(`${node.api}/concord.admin.v1.AdminService/GetNamespace`, {
        method: "POST",
        headers: { "Content-Type": "application/json", Authorization: `Bearer ${c.token}` },
        body: JSON.stringify({ name }),
      });
      const body = await res.text();
      if (res.ok && (resolver === undefined || (JSON.parse(body) as { namespace?: { resolver?: { name?: string } } }).namespace?.resolver?.name === resolver)) break;
      if (Date.now() > deadline) throw new Error(`namespace ${name} did not reach ${node.api}: ${res.status} ${body}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

/** Creates a token of the namespace with the given scopes; returns the bearer credential. */
export async function createToken(c: Cluster, namespace: string, scopes: ("read" | "write" | "admin")[]): Promise<string> {
  const map = { read: TokenScope.READ, write: TokenScope.WRITE, admin: TokenScope.ADMIN };
  const res = await c.admin.createToken({ namespace, scopes: scopes.map((s) => map[s]), description: "sdk/ts tests" });
  return res.secret;
}

/** A counter of a node's /metrics (0 when absent). */
export async function metric(node: DevNode, name: string): Promise<number> {
  const text = await (await fetch(`${node.admin}/metrics`)).text();
  let sum = 0;
  for (const line of text.split("\n")) {
    if (line.startsWith(`${name} `) || line.startsWith(`${name}{`)) sum += Number(line.slice(line.lastIndexOf(" ") + 1));
  }
  return sum;
}

/** The counter summed over every node. */
export async function clusterMetric(c: Cluster, name: string): Promise<number> {
  const values = await Promise.all(c.nodes.map((n) => metric(n, name)));
  return values.reduce((a, b) => a + b, 0);
}
