// Reading and checking a conformance file (sdk/conformance/README.md): a
// mistake in it fails the run before any call is made.

import { readFileSync } from "node:fs";

/** A byte string: exactly one of utf8, hex or fill. */
export type ByteSpec = { utf8: string } | { hex: string } | { fill: { byte: string; count: number } };

export interface Expect {
  found?: boolean;
  values?: ByteSpec[];
  siblings?: number;
  resolved_by?: string;
  keys?: ByteSpec[];
  key_set?: ByteSpec[];
  key_count?: number;
  context?: boolean;
}

export interface WantError {
  code?: string;
  kind?: string;
  limit?: string;
  has_current?: boolean;
  values?: ByteSpec[];
}

export interface Step {
  op: "put" | "get" | "delete" | "list";
  namespace?: string;
  key?: ByteSpec;
  raw_key?: boolean;
  value?: ByteSpec;
  prefix?: ByteSpec;
  context?: string;
  r?: number;
  w?: number;
  dw?: number;
  if_absent?: boolean;
  if_context_current?: boolean;
  force?: boolean;
  overwrite?: boolean;
  page_size?: number;
  limit?: number;
  token?: "none" | "bad";
  save?: string;
  expect?: Expect;
  error?: WantError;
}

export interface Case {
  name: string;
  namespace: string;
  steps: Step[];
}

export interface Suite {
  version: number;
  namespaces: { name: string; settings?: Record<string, unknown>; resolver?: Record<string, unknown> }[];
  cases: Case[];
}

/** The ops each step field applies to. */
const STEP_FIELDS: Record<string, string[]> = {
  op: ["put", "get", "delete", "list"],
  namespace: ["put", "get", "delete", "list"],
  token: ["put", "get", "delete", "list"],
  save: ["put", "get", "delete", "list"],
  expect: ["put", "get", "delete", "list"],
  error: ["put", "get", "delete", "list"],
  key: ["put", "get", "delete"],
  raw_key: ["put", "get", "delete"],
  value: ["put"],
  prefix: ["list"],
  context: ["put", "delete"],
  r: ["get"],
  w: ["put", "delete"],
  dw: ["put"],
  if_absent: ["put"],
  if_context_current: ["put"],
  force: ["delete"],
  overwrite: ["put"],
  page_size: ["list"],
  limit: ["list"],
};

const EXPECT_FIELDS: Record<string, string[]> = {
  found: ["get"],
  values: ["get", "put"],
  siblings: ["get"],
  resolved_by: ["get"],
  keys: ["list"],
  key_set: ["list"],
  key_count: ["list"],
  context: ["get", "put", "delete"],
};

const ERROR_FIELDS = ["code", "kind", "limit", "has_current", "values"];

export const CODES = new Set([
  "invalid_argument",
  "not_found",
  "already_exists",
  "failed_precondition",
  "resource_exhausted",
  "unauthenticated",
  "permission_denied",
  "unavailable",
]);

export const KINDS = new Set(["already_exists", "conflict", "limit", "quorum", "not_found", "unauthenticated", "permission_denied", "invalid"]);

/** The largest fill: one over the largest max_value_bytes a namespace may have (16 MiB). */
const MAX_FILL = 16 * 1024 * 1024 + 1;

export function bytesOf(b: ByteSpec): Uint8Array {
  const keys = Object.keys(b);
  if (keys.length !== 1) throw new Error(`a byte string needs exactly one of utf8, hex, fill: ${JSON.stringify(b)}`);
  if ("utf8" in b) {
    if (typeof b.utf8 !== "string") throw new Error("utf8: want a string");
    return new TextEncoder().encode(b.utf8);
  }
  if ("hex" in b) {
    if (typeof b.hex !== "string" || !/^([0-9a-fA-F]{2})*$/.test(b.hex)) throw new Error(`hex ${JSON.stringify(b.hex)}: want pairs of hex digits`);
    return Uint8Array.from(b.hex.match(/../g) ?? [], (h) => parseInt(h, 16));
  }
  if ("fill" in b) {
    const { byte, count } = b.fill;
    if (typeof byte !== "string" || !/^[0-9a-fA-F]{2}$/.test(byte)) throw new Error(`fill byte ${JSON.stringify(byte)}: want two hex digits`);
    if (!Number.isInteger(count) || count < 0 || count > MAX_FILL) throw new Error(`fill count ${count}: want 0 to ${MAX_FILL}`);
    return new Uint8Array(count).fill(parseInt(byte, 16));
  }
  throw new Error(`unknown byte string ${JSON.stringify(b)}`);
}

function onlyFields(o: object, allowed: string[], what: string): void {
  for (const k of Object.keys(o)) if (!allowed.includes(k)) throw new Error(`${what}: unknown field ${k}`);
}

function validateStep(st: Step, saved: Set<string>): void {
  if (!STEP_FIELDS.op!.includes(st.op)) throw new Error(`op ${JSON.stringify(st.op)}: want put, get, delete or list`);
  for (const [k, v] of Object.entries(st)) {
    const ops = STEP_FIELDS[k];
    if (ops === undefined) throw new Error(`unknown field ${k}`);
    if (v !== undefined && v !== false && !ops.includes(st.op)) throw new Error(`${k} is not a field of ${st.op}`);
  }
  if (st.op !== "list" && st.key === undefined) throw new Error("key is required");
  if (st.op === "put" && st.value === undefined) throw new Error("value is required");
  for (const b of [st.key, st.value, st.prefix]) if (b !== undefined) bytesOf(b);
  if (st.context !== undefined && !saved.has(st.context)) throw new Error(`context ${JSON.stringify(st.context)}: no earlier step saved it`);
  if (st.token !== undefined && st.token !== "none" && st.token !== "bad") throw new Error(`token ${JSON.stringify(st.token)}: want none or bad`);
  if ((st.expect === undefined) === (st.error === undefined)) throw new Error("want exactly one of expect and error");
  if (st.expect !== undefined) {
    for (const k of Object.keys(st.expect)) {
      const ops = EXPECT_FIELDS[k];
      if (ops === undefined) throw new Error(`expect: unknown field ${k}`);
      if (!ops.includes(st.op)) throw new Error(`expect.${k} does not apply to ${st.op}`);
    }
    for (const l of [st.expect.values, st.expect.keys, st.expect.key_set]) l?.forEach(bytesOf);
  }
  if (st.error !== undefined) {
    const e = st.error;
    onlyFields(e, ERROR_FIELDS, "error");
    if (e.code !== undefined && !CODES.has(e.code)) throw new Error(`error.code ${JSON.stringify(e.code)} is not one of the suite's codes`);
    if (e.kind !== undefined && !KINDS.has(e.kind)) throw new Error(`error.kind ${JSON.stringify(e.kind)} is not one of the suite's kinds`);
    if (e.code === undefined && e.kind === undefined) throw new Error("error needs a code or a kind");
    e.values?.forEach(bytesOf);
    if (st.save !== undefined && e.has_current !== true) throw new Error("a failed step saves only the current object of a conflict: set has_current");
  }
  if (st.save !== undefined) saved.add(st.save);
}

/** Reads and checks a conformance file. */
export function loadSuite(path: string): Suite {
  const s = JSON.parse(readFileSync(path, "utf8")) as Suite;
  onlyFields(s, ["version", "namespaces", "cases"], "file");
  if (s.version !== 1) throw new Error(`version ${s.version}: this runner reads version 1`);
  const declared = new Set<string>();
  for (const ns of s.namespaces ?? []) {
    onlyFields(ns, ["name", "settings", "resolver"], `namespace ${ns.name}`);
    if (!ns.name || declared.has(ns.name)) throw new Error(`namespace ${JSON.stringify(ns.name)}: empty or declared twice`);
    declared.add(ns.name);
  }
  if (!Array.isArray(s.cases) || s.cases.length === 0) throw new Error("no cases");
  const names = new Set<string>();
  s.cases.forEach((c, i) => {
    onlyFields(c, ["name", "namespace", "steps"], `case ${i}`);
    if (!c.name || names.has(c.name)) throw new Error(`case ${i} ${JSON.stringify(c.name)}: empty or repeated name`);
    names.add(c.name);
    if (!declared.has(c.namespace)) throw new Error(`case ${JSON.stringify(c.name)}: namespace ${JSON.stringify(c.namespace)} is not declared`);
    if (!Array.isArray(c.steps) || c.steps.length === 0) throw new Error(`case ${JSON.stringify(c.name)}: no steps`);
    const saved = new Set<string>();
    c.steps.forEach((st, j) => {
      try {
        validateStep(st, saved);
      } catch (e) {
        throw new Error(`case ${JSON.stringify(c.name)} step ${j + 1}: ${(e as Error).message}`);
      }
    });
  });
  return s;
}
