// What a read returns: the object of a key, its siblings and its context.

import type { Timestamp } from "@bufbuild/protobuf/wkt";

import { equalBytes, fromBase64Url, toBase64Url, utf8, type Bytes, toBytes } from "./bytes.js";
import { SiblingsError } from "./errors.js";
import type { Sibling as PbSibling } from "./gen/concord/kv/v1/kv_pb.js";

// The bytes of a context to send, not copied (kept out of the public type).
let rawOf: (c: Context) => Uint8Array;

/**
 * The opaque causal context of a key, as a read or write returned it: it
 * names exactly the versions that call saw. Pass it back (or the object that
 * carries it) with `opts.context`; never build one. Its string form
 * (`toString()`, base64url) survives a trip through a form, a URL or JSON;
 * `Context.parse` turns it back.
 */
export class Context {
  readonly #bytes: Uint8Array;

  private constructor(bytes: Uint8Array) {
    this.#bytes = bytes;
  }

  /** Wraps context bytes a concord call returned (e.g. stored as binary). */
  static fromBytes(bytes: Uint8Array): Context {
    return new Context(Uint8Array.from(bytes));
  }

  /** Reads the string form of a context (base64url; standard base64 is accepted too). */
  static parse(s: string): Context {
    return new Context(fromBase64Url(s));
  }

  /** A copy of the context's bytes. */
  get bytes(): Uint8Array {
    return Uint8Array.from(this.#bytes);
  }

  /** True for no context at all (a blind write). */
  get empty(): boolean {
    return this.#bytes.length === 0;
  }

  equals(other: Context): boolean {
    return equalBytes(this.#bytes, other.#bytes);
  }

  /** The base64url form, for `Context.parse`. */
  toString(): string {
    return toBase64Url(this.#bytes);
  }

  toJSON(): string {
    return this.toString();
  }

  static {
    rawOf = (c) => c.#bytes;
  }
}


/** Anything that carries a context: a read's object, a write's result, a conflict's current object. */
export type ContextLike = Context | { readonly context: Context };

/** The bytes of a context or of what carries one; empty for none. */
export function contextBytes(c: ContextLike | undefined): Uint8Array {
  if (c === undefined) return new Uint8Array(0);
  return rawOf(c instanceof Context ? c : c.context);
}

/** One concurrent version of a key's value. */
export class Sibling {
  /** The value's bytes. */
  readonly bytes: Uint8Array;
  /** The coordinator's clock when the version was written (informational, never for causality). */
  readonly writtenAt: Date;

  constructor(bytes: Uint8Array, writtenAt: Date) {
    this.bytes = bytes;
    this.writtenAt = writtenAt;
  }

  /** The value as UTF-8 text. */
  text(): string {
    return utf8(this.bytes);
  }

  /** The value parsed as JSON. */
  json<T = unknown>(): T {
    return JSON.parse(this.text()) as T;
  }
}

/**
 * A merge of siblings: given all of them (two or more), returns the one
 * value that replaces them.
 */
export type Merge = (siblings: readonly Sibling[]) => Bytes;

function dateOf(ts: Timestamp | undefined): Date {
  if (ts === undefined) return new Date(0);
  return new Date(Number(ts.seconds) * 1000 + Math.floor(ts.nanos / 1e6));
}

/** @internal The live siblings of a response (tombstones are left out). */
export function siblingsOf(list: readonly PbSibling[]): Sibling[] {
  return list.filter((s) => !s.tombstone).map((s) => new Sibling(s.value, dateOf(s.writtenAt)));
}

/**
 * The object of a key as a read saw it: its live siblings (more than one
 * means concurrent writes nobody merged yet), the context naming them, and
 * what the server did.
 *
 * Sibling policy: `value` is the one live version; with siblings it throws a
 * {@link SiblingsError} carrying all of them, unless the client was given a
 * `merge` — concord never picks one silently. `siblings` and `resolve(fn)`
 * are there to handle them.
 */
export class KVObject {
  /** The namespace the key was read in. */
  readonly namespace: string;
  /** The key's bytes. */
  readonly key: Uint8Array;
  /** True when the key has a live value (false for a key never written or deleted). */
  readonly found: boolean;
  /** The live versions, oldest first. */
  readonly siblings: readonly Sibling[];
  /** The causal context of this read: pass the object (or this) as `opts.context` to a write. */
  readonly context: Context;
  /** The name of the namespace resolver that merged the siblings on the server; "" for none. */
  readonly resolvedBy: string;
  /** How many replicas answered. */
  readonly replies: number;
  /** The ID of the node that coordinated the read ("" when unknown). */
  readonly coordinator: string;
  readonly #merge: Merge | undefined;

  /** @internal */
  constructor(init: {
    namespace: string;
    key: Uint8Array;
    siblings: Sibling[];
    context: Uint8Array;
    resolvedBy?: string;
    replies?: number;
    coordinator?: string;
    merge?: Merge | undefined;
  }) {
    this.namespace = init.namespace;
    this.key = init.key;
    this.siblings = Object.freeze(init.siblings);
    this.found = init.siblings.length > 0;
    this.context = Context.fromBytes(init.context);
    this.resolvedBy = init.resolvedBy ?? "";
    this.replies = init.replies ?? 0;
    this.coordinator = init.coordinator ?? "";
    this.#merge = init.merge;
  }

  /** True when the key has more than one live version. */
  get hasSiblings(): boolean {
    return this.siblings.length > 1;
  }

  /**
   * The one live version, or undefined when the key has none. With
   * siblings it throws a {@link SiblingsError} (or, if the client has a
   * `merge`, returns its result).
   */
  get value(): Sibling | undefined {
    if (this.siblings.length <= 1) return this.siblings[0];
    if (this.#merge !== undefined) return this.resolve(this.#merge);
    throw new SiblingsError(this.siblings);
  }

  /**
   * The one live version, or fn's merge of the siblings when there are
   * several (undefined when there is none). Write the merge back with
   * `put(key, merged.bytes, { context: obj })` to replace exactly them.
   */
  resolve(fn: Merge): Sibling | undefined {
    if (this.siblings.length <= 1) return this.siblings[0];
    const latest = Math.max(...this.siblings.map((s) => s.writtenAt.getTime()));
    return new Sibling(toBytes(fn(this.siblings)), new Date(latest));
  }

  /** The bytes of every live version. */
  values(): Uint8Array[] {
    return this.siblings.map((s) => s.bytes);
  }
}
