// Judging what a step's call returned against what the case expects. It
// knows the suite's terms and the SDK's types, nothing of the network.

import {
  AlreadyExistsError,
  ConcordError,
  ConflictError,
  InvalidArgumentError,
  LimitError,
  NotFoundError,
  PermissionDeniedError,
  QuorumError,
  UnauthenticatedError,
  type Context,
  type KVObject,
} from "../src/index.js";
import { bytesOf, type ByteSpec, type Expect, type Step, type WantError } from "./suite.js";

/** What one step's call returned. */
export interface Outcome {
  obj?: KVObject; // get
  context?: Context; // put, delete
  values?: Uint8Array[]; // put with return_siblings
  keys?: Uint8Array[]; // list, run prefix stripped
  err?: unknown;
}

/** Whether err is the TypeScript SDK's spelling of the suite's kind. */
export function kindMatches(kind: string, err: unknown): boolean {
  switch (kind) {
    case "already_exists":
      return err instanceof AlreadyExistsError;
    case "conflict":
      return err instanceof ConflictError;
    case "limit":
      return err instanceof LimitError;
    case "quorum":
      return err instanceof QuorumError;
    case "not_found":
      return err instanceof NotFoundError;
    case "unauthenticated":
      return err instanceof UnauthenticatedError;
    case "permission_denied":
      return err instanceof PermissionDeniedError;
    case "invalid":
      return err instanceof InvalidArgumentError;
  }
  return false;
}

/** The key's current object a failed conditional write carries. */
export function currentOf(err: unknown): KVObject | undefined {
  if (err instanceof ConflictError) return err.current;
  if (err instanceof AlreadyExistsError) return err.current;
  return undefined;
}

/** Problems with what a step returned; empty is a pass. */
export function check(st: Step, out: Outcome): string[] {
  if (st.error !== undefined) return checkError(st.error, out.err);
  if (out.err !== undefined) return [`want success, got ${describeError(out.err)}`];
  return checkExpect(st.op, st.expect!, out);
}

function checkExpect(op: string, e: Expect, out: Outcome): string[] {
  const problems: string[] = [];
  const obj = out.obj;
  if (op === "get" && obj === undefined) return ["get returned no object"];
  if (e.found !== undefined && obj!.found !== e.found) problems.push(`found: want ${e.found}, got ${obj!.found}`);
  if (e.values !== undefined) {
    const got = op === "get" ? obj!.values() : out.values;
    if (got === undefined) problems.push("values: the put returned no siblings");
    else problems.push(...sameMultiset("values", e.values.map(bytesOf), got));
  }
  if (e.siblings !== undefined && obj!.siblings.length !== e.siblings) {
    problems.push(`siblings: want ${e.siblings}, got ${obj!.siblings.length} (${showAll(obj!.values())})`);
  }
  if (e.resolved_by !== undefined && obj!.resolvedBy !== e.resolved_by) {
    problems.push(`resolved_by: want ${JSON.stringify(e.resolved_by)}, got ${JSON.stringify(obj!.resolvedBy)}`);
  }
  if (e.context !== undefined) {
    const ctx = op === "get" ? obj!.context : out.context;
    const nonEmpty = ctx !== undefined && !ctx.empty;
    if (nonEmpty !== e.context) problems.push(`context: want non-empty ${e.context}, got ${nonEmpty}`);
  }
  const keys = out.keys ?? [];
  if (e.keys !== undefined) {
    const want = e.keys.map(bytesOf);
    if (want.length !== keys.length || want.some((w, i) => !equal(w, keys[i]!))) {
      problems.push(`keys: want ${showAll(want)}, got ${showAll(keys)}`);
    }
  }
  if (e.key_set !== undefined) problems.push(...sameMultiset("key_set", e.key_set.map(bytesOf), keys));
  if (e.key_count !== undefined && keys.length !== e.key_count) problems.push(`key_count: want ${e.key_count}, got ${keys.length}`);
  return problems;
}

function checkError(want: WantError, err: unknown): string[] {
  if (err === undefined) return [`want error ${JSON.stringify(want)}, got success`];
  const problems: string[] = [];
  const code = err instanceof ConcordError ? err.code : "not a ConcordError";
  if (want.code !== undefined && code !== want.code) problems.push(`code: want ${want.code}, got ${code}`);
  if (want.kind !== undefined && !kindMatches(want.kind, err)) problems.push(`kind: want ${want.kind}, the SDK threw ${nameOf(err)}`);
  if (want.limit !== undefined) {
    if (!(err instanceof LimitError)) problems.push(`limit: want a LimitError naming ${want.limit}, got ${nameOf(err)}`);
    else if (err.limit !== want.limit) problems.push(`limit: want ${want.limit}, got ${err.limit}`);
  }
  const cur = currentOf(err);
  if (want.has_current !== undefined && (cur !== undefined) !== want.has_current) {
    problems.push(`has_current: want ${want.has_current}, got ${cur !== undefined}`);
  }
  if (want.values !== undefined) {
    if (cur === undefined) problems.push("values: the error carries no current object");
    else problems.push(...sameMultiset("current values", want.values.map(bytesOf), cur.values()));
  }
  if (problems.length > 0) problems.push(`(the error: ${describeError(err)})`);
  return problems;
}

function sameMultiset(what: string, want: Uint8Array[], got: Uint8Array[]): string[] {
  const key = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
  const a = want.map(key).sort();
  const b = got.map(key).sort();
  if (a.length === b.length && a.every((x, i) => x === b[i])) return [];
  return [`${what}: want ${showAll(want)}, got ${showAll(got)}`];
}

function equal(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/** A byte string for a failure message: its text when printable UTF-8, else hex. */
export function show(b: Uint8Array): string {
  if (b.length > 64) return `${b.length} bytes`;
  try {
    const s = new TextDecoder("utf-8", { fatal: true }).decode(b);
    if (!/[\u0000-\u001f\u007f]/.test(s)) return JSON.stringify(s);
  } catch {
    // not UTF-8: hex below
  }
  return `0x${Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("")}`;
}

function showAll(list: Uint8Array[]): string {
  return `[${list.map(show).join(", ")}]`;
}

function nameOf(err: unknown): string {
  return err instanceof Error ? err.constructor.name : typeof err;
}

export function describeError(err: unknown): string {
  if (err instanceof ConcordError) return `${err.code} ${err.constructor.name}: ${err.message}`;
  return err instanceof Error ? `${err.constructor.name}: ${err.message}` : String(err);
}

export type { ByteSpec };
